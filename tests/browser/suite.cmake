# The report's HTML page in a real browser (label `report`): tests/browser/test_report_page.py
# makes the page from a real capture and has Debian's headless Chromium load it. Skipped (exit
# 77) with the reason where Chromium is missing or cannot run. LW_NESTED keeps the nested builds
# from registering it again.
if(NOT LW_NESTED)
    add_test(NAME report.browser
             COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/browser/test_report_page.py
                     $<TARGET_FILE:leakwatch> ${CMAKE_SOURCE_DIR})
    set_tests_properties(report.browser PROPERTIES LABELS report TIMEOUT 600 SKIP_RETURN_CODE 77
        ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
