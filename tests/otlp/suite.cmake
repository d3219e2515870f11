# The OTLP test receiver and the real exporter + libcurl transport against it over loopback.
add_executable(otlp_send ${CMAKE_SOURCE_DIR}/tests/otlp/otlp_send.c)
target_compile_options(otlp_send PRIVATE ${LW_WARNINGS})
target_link_libraries(otlp_send PRIVATE lw_daemon)

add_test(NAME otlp.receiver
         COMMAND ${Python3_EXECUTABLE} -m unittest -v test_receiver
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/otlp)
set_tests_properties(otlp.receiver PROPERTIES LABELS otlp TIMEOUT 300
    ENVIRONMENT "LW_OTLP_SEND=$<TARGET_FILE:otlp_send>;LW_SOURCE_DIR=${CMAKE_SOURCE_DIR};PYTHONDONTWRITEBYTECODE=1")
