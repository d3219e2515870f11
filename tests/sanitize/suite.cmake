# The checked runs (label `sanitize`):
#   sanitize.<kind>.build        a nested build tree with ASan+UBSan (asan) or TSan (tsan)
#   sanitize.<kind>.unit         the unit tests in that tree
#   sanitize.<kind>.integration  the integration tests against that tree's daemon (run-checked:
#                                any sanitizer report the daemon writes fails the test)
#   sanitize.memcheck            one full emulator session of the daemon under valgrind memcheck
# LW_NESTED keeps the nested builds from registering these suites again.
if(NOT LW_NESTED)
    # The integration tests that start leakwatch (test_sample_functions checks the sample
    # functions alone). Every one of them runs the listener thread (telemetry is on by default),
    # test_extension the sampler thread and test_otlp_export the exporter thread, so TSan gets the
    # same set as ASan; test_hostile drives the listener and the ledger through every refusal.
    # The sample functions they drive are this (uninstrumented) tree's: they are the ground truth
    # of the memory figures, which a sanitizer's shadow memory would change.
    set(LW_CHECKED_INTEGRATION test_extension test_otlp_export test_telemetry_join test_hostile)
    # ASan+UBSan is built with clang: with gcc, UBSan is a second runtime beside ASan's that
    # ignores log_path and writes its reports to stderr only, where run-checked cannot see them.
    find_program(LW_SANITIZE_CC NAMES clang-14 clang)
    if(LW_SANITIZE_CC)
        set(asan_cc ${LW_SANITIZE_CC})
    else()
        message(WARNING "sanitize: no clang; the ASan+UBSan build uses ${CMAKE_C_COMPILER}, whose UBSan reports from the daemon reach only its stderr")
        set(asan_cc ${CMAKE_C_COMPILER})
    endif()
    foreach(kind asan tsan)
        if(kind STREQUAL "asan")
            set(flags -DLW_SANITIZE=ON)
            set(cc ${asan_cc})
            set(select "")
        else()
            # ThreadSanitizer for the modules with threads; the pure modules' long synthetic
            # series gain nothing from it and run 10-20 times slower.
            set(flags -DLW_TSAN=ON)
            set(cc ${CMAKE_C_COMPILER})
            set(select -R "exporter|telemetry_listener|http|snapshot|sampler|pipeline")
        endif()
        set(dir ${CMAKE_BINARY_DIR}/sanitize-${kind})
        add_test(NAME sanitize.${kind}.build
            COMMAND sh -c "( ${CMAKE_COMMAND} -S ${CMAKE_SOURCE_DIR} -B ${dir} -DLW_NESTED=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo ${flags} -DCMAKE_C_COMPILER=${cc} && ${CMAKE_COMMAND} --build ${dir} -j2 ) >${dir}.log 2>&1 || { tail -50 ${dir}.log; exit 1; }")
        # Both nested builds compile at -j2: one at a time keeps a 2-CPU machine responsive for
        # the timing-sensitive tests that run beside them.
        set_tests_properties(sanitize.${kind}.build PROPERTIES LABELS sanitize TIMEOUT 1200
            FIXTURES_SETUP sanitize_${kind} RESOURCE_LOCK sanitize_build)

        add_test(NAME sanitize.${kind}.unit
            COMMAND ${CMAKE_COMMAND} -E env
                ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
                TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
                ctest --test-dir ${dir} -L unit ${select} --output-on-failure)
        set_tests_properties(sanitize.${kind}.unit PROPERTIES LABELS sanitize TIMEOUT 1200
            FIXTURES_REQUIRED sanitize_${kind})

        add_test(NAME sanitize.${kind}.integration
            COMMAND sh ${CMAKE_SOURCE_DIR}/tests/sanitize/run-checked ${kind} ${dir}/leakwatch
                    ${dir}/checked --
                    ${Python3_EXECUTABLE} -m unittest -v ${LW_CHECKED_INTEGRATION}
            WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/integration)
        set_tests_properties(sanitize.${kind}.integration PROPERTIES LABELS sanitize TIMEOUT 900
            FIXTURES_REQUIRED sanitize_${kind}
            ENVIRONMENT "LW_SOURCE_DIR=${CMAKE_SOURCE_DIR};LW_BUILD_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1;LW_EMULATOR_SANDBOX=off")
    endforeach()

    # valgrind memcheck on the ordinary build's daemon (tests/install-deps installs valgrind;
    # without it the test fails and says so rather than passing unseen).
    add_test(NAME sanitize.memcheck
             COMMAND ${Python3_EXECUTABLE} -m unittest -v test_memcheck
             WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/sanitize)
    set_tests_properties(sanitize.memcheck PROPERTIES LABELS sanitize TIMEOUT 600
        ENVIRONMENT "${LW_PY_ENV}")
endif()
