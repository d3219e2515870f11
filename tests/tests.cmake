# The whole test suite is registered with ctest: unit tests (CMocka), the emulator's own tests,
# the integration tests of the real daemon in the emulator, the fuzz run and the sanitizer run.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)

# --- unit tests: tests/unit/<folder of src>/test_<module>.c, one executable each ------------------
file(GLOB_RECURSE LW_UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/test_*.c)
foreach(src ${LW_UNIT_TESTS})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src})
    target_compile_options(${name} PRIVATE ${LW_WARNINGS} -Wno-missing-prototypes)
    # a test sees the private headers of the folder it mirrors, and the shared test helpers
    file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR}/tests/unit ${src})
    get_filename_component(rel_dir ${rel} DIRECTORY)
    target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/src/${rel_dir}
                                               ${CMAKE_SOURCE_DIR}/tests/unit)
    target_compile_definitions(${name} PRIVATE
        LW_FIXTURES_DIR="${CMAKE_SOURCE_DIR}/tests/fixtures")
    target_link_libraries(${name} PRIVATE lw_daemon lw_report PkgConfig::CMOCKA)
    add_test(NAME unit.${name} COMMAND ${name})
    # sanitizer builds (nested) run the same tests several times slower
    if(LW_NESTED)
        set_tests_properties(unit.${name} PROPERTIES LABELS unit TIMEOUT 900)
    else()
        set_tests_properties(unit.${name} PROPERTIES LABELS unit TIMEOUT 120)
    endif()
endforeach()

# --- sample functions: tests/functions/<name>.c -> build/functions/<name> ------------------------
file(GLOB LW_SAMPLE_FUNCTIONS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/functions/*.c)
foreach(src ${LW_SAMPLE_FUNCTIONS})
    get_filename_component(name ${src} NAME_WE)
    add_executable(fn_${name} ${src})
    set_target_properties(fn_${name} PROPERTIES OUTPUT_NAME ${name}
        RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/functions)
    target_compile_options(fn_${name} PRIVATE -Wall -Wextra)
endforeach()

# --- Java sample functions: tests/functions/*.java -> build/functions/java/*.class, only when a
# JDK is found (the cases that need them skip with a reason otherwise) ----------------------------
find_package(Java 11 COMPONENTS Development QUIET)
if(Java_JAVAC_EXECUTABLE)
    file(GLOB LW_JAVA_FUNCTIONS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/functions/*.java)
    set(LW_JAVA_OUT ${CMAKE_BINARY_DIR}/functions/java)
    set(LW_JAVA_STAMP ${LW_JAVA_OUT}/.built)
    add_custom_command(OUTPUT ${LW_JAVA_STAMP}
        COMMAND ${CMAKE_COMMAND} -E make_directory ${LW_JAVA_OUT}
        COMMAND ${Java_JAVAC_EXECUTABLE} -Xlint:all -Werror -d ${LW_JAVA_OUT} ${LW_JAVA_FUNCTIONS}
        COMMAND ${CMAKE_COMMAND} -E touch ${LW_JAVA_STAMP}
        DEPENDS ${LW_JAVA_FUNCTIONS}
        COMMENT "Compiling the Java sample functions")
    add_custom_target(fn_java ALL DEPENDS ${LW_JAVA_STAMP})
else()
    message(STATUS "No JDK found: the Java sample functions are not built (tests/install-deps "
                   "installs one)")
endif()

# --- Python tests (standard library only): emulator and integration -----------------------------
set(LW_PY_ENV
    LW_SOURCE_DIR=${CMAKE_SOURCE_DIR}
    LW_BUILD_DIR=${CMAKE_BINARY_DIR}
    LW_EXTENSION_BIN=$<TARGET_FILE:leakwatch>
    PYTHONDONTWRITEBYTECODE=1)
foreach(kind emulator integration)
    file(GLOB tests CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/${kind}/test_*.py)
    foreach(py ${tests})
        get_filename_component(name ${py} NAME_WE)
        add_test(NAME ${kind}.${name}
                 COMMAND ${Python3_EXECUTABLE} -m unittest -v ${name}
                 WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/${kind})
        set_tests_properties(${kind}.${name} PROPERTIES LABELS ${kind} TIMEOUT 900
            ENVIRONMENT "${LW_PY_ENV}")
    endforeach()
endforeach()

# --- other suites (fuzz, sanitizers, layer) register themselves in tests/<suite>/suite.cmake ------
file(GLOB LW_SUITES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/*/suite.cmake)
foreach(suite ${LW_SUITES})
    include(${suite})
endforeach()

# --- the emulator's LD_PRELOAD library for SnapStart (shared init state across restores) --------
add_library(lw_seeded_random SHARED ${CMAKE_SOURCE_DIR}/tests/emulator/fixtures/seeded_random.c)
set_target_properties(lw_seeded_random PROPERTIES OUTPUT_NAME seeded_random
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/emulator)
