# Formatting is mechanical: every C file of the project must be as clang-format leaves it.
find_program(LW_CLANG_FORMAT NAMES clang-format clang-format-14)
if(LW_CLANG_FORMAT AND NOT LW_NESTED)
    file(GLOB_RECURSE LW_FORMATTED CONFIGURE_DEPENDS
        ${CMAKE_SOURCE_DIR}/src/*.c ${CMAKE_SOURCE_DIR}/src/*.h ${CMAKE_SOURCE_DIR}/include/*.h
        ${CMAKE_SOURCE_DIR}/extension/*.c
        ${CMAKE_SOURCE_DIR}/tests/unit/*.c ${CMAKE_SOURCE_DIR}/tests/unit/*.h
        ${CMAKE_SOURCE_DIR}/tests/fuzz/*.c ${CMAKE_SOURCE_DIR}/layer/*.c)
    add_test(NAME format.clang_format
             COMMAND ${LW_CLANG_FORMAT} --dry-run -Werror ${LW_FORMATTED}
             WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties(format.clang_format PROPERTIES LABELS format TIMEOUT 120)
endif()
