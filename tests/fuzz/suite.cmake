# The fuzz run: libFuzzer targets built with clang and ASan+UBSan by tests/fuzz/run-fuzz,
# independent of the compiler and options of the main build, each run for a bounded time.
set(LW_FUZZ_SECONDS 60 CACHE STRING "Seconds each fuzz target runs under ctest")
add_test(NAME fuzz.telemetry
         COMMAND sh ${CMAKE_SOURCE_DIR}/tests/fuzz/run-fuzz ${CMAKE_SOURCE_DIR}
                 ${CMAKE_BINARY_DIR}/fuzz ${LW_FUZZ_SECONDS})
set_tests_properties(fuzz.telemetry PROPERTIES LABELS fuzz TIMEOUT 600)
