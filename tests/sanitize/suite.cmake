# The unit tests once more, built with AddressSanitizer + UndefinedBehaviorSanitizer, and once
# with ThreadSanitizer for the threaded modules. Each is a separate build tree under this one;
# LW_NESTED keeps the nested builds from registering these suites again.
if(NOT LW_NESTED)
    foreach(kind asan tsan)
        if(kind STREQUAL "asan")
            set(flags -DLW_SANITIZE=ON)
            set(select "")
        else()
            # ThreadSanitizer for the modules with threads; the pure modules' long synthetic
            # series gain nothing from it and run 10-20 times slower.
            set(flags -DLW_TSAN=ON)
            set(select "-R 'exporter|telemetry_listener|http|snapshot|sampler|pipeline'")
        endif()
        set(dir ${CMAKE_BINARY_DIR}/sanitize-${kind})
        add_test(NAME sanitize.${kind}
            COMMAND ${CMAKE_COMMAND} -E env
                ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
                TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
                sh -c "( ${CMAKE_COMMAND} -S ${CMAKE_SOURCE_DIR} -B ${dir} -DLW_NESTED=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo ${flags} -DCMAKE_C_COMPILER=${CMAKE_C_COMPILER} && ${CMAKE_COMMAND} --build ${dir} -j2 ) >${dir}.log 2>&1 || { tail -50 ${dir}.log; exit 1; }; ctest --test-dir ${dir} -L unit ${select} --output-on-failure")
        set_tests_properties(sanitize.${kind} PROPERTIES LABELS sanitize TIMEOUT 1200)
    endforeach()
endif()
