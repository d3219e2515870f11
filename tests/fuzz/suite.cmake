# The fuzz run: each libFuzzer target is built with clang and ASan+UBSan by tests/fuzz/run-fuzz,
# independent of the compiler and options of the main build, and run for a bounded time as its
# own test (fuzz.<target>), so that `ctest -j2` runs two at once.
#
# Budget: about 3 CPU-minutes for the suite: 8 targets x 12 s of fuzzing plus about 100 s of
# clang builds in all (the ASan+UBSan builds of report, OTLP and HTTP code take 10-25 s each).
# For longer local runs: cmake -DLW_FUZZ_SECONDS=600 (or any figure), or run tests/fuzz/run-fuzz.
set(LW_FUZZ_SECONDS 12 CACHE STRING "Seconds each fuzz target runs under ctest")
set(LW_FUZZ_TARGETS
    telemetry_http
    telemetry_events
    procfs
    config
    otlp_config
    report
    responses
    http_wire)
foreach(target ${LW_FUZZ_TARGETS})
    add_test(NAME fuzz.${target}
             COMMAND sh ${CMAKE_SOURCE_DIR}/tests/fuzz/run-fuzz ${CMAKE_SOURCE_DIR}
                     ${CMAKE_BINARY_DIR}/fuzz ${LW_FUZZ_SECONDS} fuzz_${target})
    # room for the build and a slow machine; a stuck input is caught by -timeout=10 before this
    math(EXPR timeout "${LW_FUZZ_SECONDS} * 2 + 300")
    set_tests_properties(fuzz.${target} PROPERTIES LABELS fuzz TIMEOUT ${timeout})
endforeach()
