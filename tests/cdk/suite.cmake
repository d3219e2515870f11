# The CDK construct's suite (label `cdk`): the tests of layer/cdk against stacks synthesized
# offline, run by tests/cdk/run-tests in a copy under <build>/cdk (npm ci from the committed
# lockfile, served by the npm cache once it holds the packages; tsc; node --test). Skipped (exit
# 77) where Node.js 18 or later and npm are missing. LW_NESTED keeps the nested builds from
# registering it again.
if(NOT LW_NESTED)
    add_test(NAME cdk.construct
             COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cdk/run-tests ${CMAKE_SOURCE_DIR}/layer/cdk
                     ${CMAKE_BINARY_DIR}/cdk)
    set_tests_properties(cdk.construct PROPERTIES LABELS cdk TIMEOUT 900 SKIP_RETURN_CODE 77
        ENVIRONMENT "LW_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endif()
