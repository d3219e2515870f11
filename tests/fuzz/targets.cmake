# Included by the nested fuzz build (LW_FUZZ=ON, clang): one libFuzzer executable per
# tests/fuzz/fuzz_<target>.c, linked against the libraries, which CMakeLists.txt compiles with
# -fsanitize=fuzzer-no-link,address,undefined in this build.
file(GLOB LW_FUZZ_TARGET_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
foreach(src ${LW_FUZZ_TARGET_SOURCES})
    get_filename_component(target ${src} NAME_WE)
    add_executable(${target} ${src})
    target_compile_options(${target} PRIVATE ${LW_WARNINGS} -Wno-missing-prototypes)
    target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/tests/fuzz)
    target_link_libraries(${target} PRIVATE lw_daemon lw_report)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
endforeach()
