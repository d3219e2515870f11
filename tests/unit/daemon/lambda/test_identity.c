#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <leakwatch/identity.h>

static void test_own_id(void **state)
{
    (void)state;
    char a[LW_ENV_ID_MAX], b[LW_ENV_ID_MAX];
    lw_identity_new_env_id(a, sizeof(a));
    lw_identity_new_env_id(b, sizeof(b));
    assert_int_equal(strlen(a), 16);
    assert_int_equal(strspn(a, "0123456789abcdef"), 16);
    assert_string_not_equal(a, b);
    assert_int_not_equal(lw_identity_random_u64(), lw_identity_random_u64());
}

static void test_platform_id_replaces_the_own_one(void **state)
{
    (void)state;
    struct lw_identity id;
    lw_identity_init(&id, "0123456789abcdef", 1000);
    assert_string_equal(id.env_id, "0123456789abcdef");
    assert_false(id.from_platform);
    assert_false(lw_identity_on_init_start(&id, ""));
    assert_false(lw_identity_on_init_start(&id, NULL));
    assert_string_equal(id.env_id, "0123456789abcdef");
    assert_true(lw_identity_on_init_start(&id, "2026/01/05/[$LATEST]abc"));
    assert_string_equal(id.env_id, "2026/01/05/[$LATEST]abc");
    assert_true(id.from_platform);
    assert_false(id.restored);
    assert_int_equal(id.since_ms, 1000);
    assert_false(lw_identity_on_init_start(&id, "2026/01/05/[$LATEST]abc")); /* no change */
}

static void test_restore_renews_everything(void **state)
{
    (void)state;
    struct lw_identity id;
    lw_identity_init(&id, "snapshot-id", 1000);
    lw_identity_on_init_start(&id, "init-instance");
    lw_identity_on_restore(&id, "restored-instance", "unused", 5000000);
    assert_string_equal(id.env_id, "restored-instance");
    assert_true(id.restored);
    assert_true(id.from_platform);
    assert_int_equal(id.restores, 1);
    assert_int_equal(id.since_ms, 5000000);
    /* without an instanceId: the fresh own id */
    lw_identity_on_restore(&id, "", "fresh-own", 6000000);
    assert_string_equal(id.env_id, "fresh-own");
    assert_false(id.from_platform);
    assert_int_equal(id.restores, 2);
    /* a late initStart does not take a restored environment's identity back */
    assert_false(lw_identity_on_init_start(&id, "init-instance"));
    assert_string_equal(id.env_id, "fresh-own");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_id),
        cmocka_unit_test(test_platform_id_replaces_the_own_one),
        cmocka_unit_test(test_restore_renews_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
