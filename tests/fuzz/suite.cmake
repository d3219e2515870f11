# The fuzz run. Every tests/fuzz/fuzz_<target>.c is a libFuzzer target: one nested build with
# clang (fuzz.build) compiles the libraries with coverage instrumentation and ASan+UBSan and
# links each target against them (tests/fuzz/targets.cmake), so a target links whatever modules
# it calls and no list of modules is kept by hand. Each target then runs for a bounded time as
# its own test (fuzz.<target>) on the seeds its source names in a "fuzz-seeds:" comment, so that
# `ctest -j2` runs two at once. Any crash, leak, sanitizer report or broken contract fails it.
#
# Budget: the build takes about a minute, then 12 s per target.
# For longer local runs: cmake -DLW_FUZZ_SECONDS=600 (or any figure).
set(LW_FUZZ_SECONDS 12 CACHE STRING "Seconds each fuzz target runs under ctest")
if(NOT LW_NESTED)
    find_program(LW_FUZZ_CC NAMES clang-14 clang)
    if(NOT LW_FUZZ_CC)
        message(WARNING "fuzz: no clang; the fuzz targets are not built or run")
        return()
    endif()
    set(dir ${CMAKE_BINARY_DIR}/fuzz)
    add_test(NAME fuzz.build
        COMMAND sh -c "( ${CMAKE_COMMAND} -S ${CMAKE_SOURCE_DIR} -B ${dir} -DLW_NESTED=ON -DLW_FUZZ=ON -DLW_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=${LW_FUZZ_CC} && ${CMAKE_COMMAND} --build ${dir} -j2 ) >${dir}.log 2>&1 || { tail -50 ${dir}.log; exit 1; }")
    set_tests_properties(fuzz.build PROPERTIES LABELS fuzz TIMEOUT 1200
        FIXTURES_SETUP fuzz RESOURCE_LOCK sanitize_build)
    file(GLOB targets CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
    foreach(src ${targets})
        get_filename_component(target ${src} NAME_WE)
        string(REGEX REPLACE "^fuzz_" "" name ${target})
        file(STRINGS ${src} seed_line REGEX "fuzz-seeds:" LIMIT_COUNT 1)
        string(REGEX REPLACE ".*fuzz-seeds:[ ]*([^*]*[^ *]).*" "\\1" seed_dirs "${seed_line}")
        separate_arguments(seed_dirs)
        if(NOT seed_dirs)
            message(FATAL_ERROR "${src} names no seeds (a \"fuzz-seeds: <dir> ...\" comment)")
        endif()
        set(seed_paths)
        foreach(d ${seed_dirs})
            list(APPEND seed_paths ${CMAKE_SOURCE_DIR}/${d})
        endforeach()
        add_test(NAME fuzz.${name}
                 COMMAND sh ${CMAKE_SOURCE_DIR}/tests/fuzz/run-fuzz ${dir}/${target}
                         ${dir}/runs/${target} ${LW_FUZZ_SECONDS} ${seed_paths})
        # a stuck input is caught by -timeout=10 long before this
        math(EXPR timeout "${LW_FUZZ_SECONDS} * 2 + 120")
        set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz TIMEOUT ${timeout}
            FIXTURES_REQUIRED fuzz)
    endforeach()
endif()
