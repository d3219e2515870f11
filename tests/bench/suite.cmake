# The floor of the extension comparison in bench-compare: an external extension that only
# registers and calls event/next (tests/bench/do_nothing_extension.c). Built with the tests, run
# only by the benchmarks.
add_executable(do_nothing_extension ${CMAKE_SOURCE_DIR}/tests/bench/do_nothing_extension.c)
target_compile_definitions(do_nothing_extension PRIVATE _GNU_SOURCE)
set_target_properties(do_nothing_extension PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench-tools)
# The work leakwatch cannot do without and nothing else (tests/bench/floor_extension.c): the
# "required work" row of bench-cost.
add_executable(floor_extension ${CMAKE_SOURCE_DIR}/tests/bench/floor_extension.c)
target_compile_definitions(floor_extension PRIVATE _GNU_SOURCE)
set_target_properties(floor_extension PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench-tools)
# How exact the kernel's VmHWM is, without leakwatch (tests/bench/hwm_probe.c).
add_executable(hwm_probe ${CMAKE_SOURCE_DIR}/tests/bench/hwm_probe.c)
set_target_properties(hwm_probe PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench-tools)

# The short soak (label `soak`): a few thousand invocations of one environment in the emulator,
# judged by tests/bench/soak --check: records emitted = invocations, threads and descriptors
# constant, leakwatch's RSS flat after the warm-up (allowance and why: tests/bench/README.md).
# No timing is asserted. The full run (100,000 invocations) is the same script without --check
# limits on its length: tests/bench/soak.
if(NOT LW_NESTED)
    add_test(NAME bench.soak_short
             COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/bench/soak
                     --invocations 3000 --warmup 200 --samples 60 --pause-every 100
                     --pause-ms 50 --rss-allowance-bytes 65536 --check
                     --out ${CMAKE_BINARY_DIR}/bench/soak-short)
    set_tests_properties(bench.soak_short PROPERTIES LABELS soak TIMEOUT 900
        ENVIRONMENT "LW_SOURCE_DIR=${CMAKE_SOURCE_DIR};LW_BUILD_DIR=${CMAKE_BINARY_DIR};LW_EXTENSION_BIN=$<TARGET_FILE:leakwatch>;PYTHONDONTWRITEBYTECODE=1")
endif()
