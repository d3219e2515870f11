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
    assert_int_equal(lw_identity_on_init_start(&id, "2026/01/05/[$LATEST]abc"),
                     LW_IDENTITY_CHANGED);
    assert_string_equal(id.env_id, "2026/01/05/[$LATEST]abc");
    assert_true(id.from_platform);
    assert_false(id.restored);
    assert_int_equal(id.since_ms, 1000);
}

/* An instanceId is 1 to LW_INSTANCE_ID_MAX bytes of 0x21-0x7e, or refused (and that refusal
 * does not use up the one initStart). */
static void test_instance_ids_leakwatch_takes(void **state)
{
    (void)state;
    char longest[LW_INSTANCE_ID_MAX + 2];
    memset(longest, 'a', sizeof(longest));
    longest[LW_INSTANCE_ID_MAX] = '\0';
    assert_true(lw_identity_instance_id_ok(longest));
    assert_true(lw_identity_instance_id_ok("2025/01/29/[$LATEST]0123abcd~!"));
    assert_true(lw_identity_instance_id_ok("!"));
    longest[LW_INSTANCE_ID_MAX] = 'a';
    longest[LW_INSTANCE_ID_MAX + 1] = '\0';
    static const char *const refused[] = {
        "", "a b", "a\tb", "a\nb", "\x1b]8;;http://x\x1b\\", "a\x7f", "caf\xc3\xa9", "a\x9b"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        assert_false(lw_identity_instance_id_ok(refused[i]));
    assert_false(lw_identity_instance_id_ok(longest));

    struct lw_identity id;
    lw_identity_init(&id, "0123456789abcdef", 1000);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        assert_int_equal(lw_identity_on_init_start(&id, refused[i]), LW_IDENTITY_REFUSED);
    assert_int_equal(lw_identity_on_init_start(&id, longest), LW_IDENTITY_REFUSED);
    assert_string_equal(id.env_id, "0123456789abcdef");
    assert_int_equal(lw_identity_on_init_start(&id, "real"), LW_IDENTITY_CHANGED);

    id.restorable = true;
    assert_int_equal(lw_identity_on_restore(&id, "a\x1b[2Jb", "own", 2000), LW_IDENTITY_REFUSED);
    assert_int_equal(lw_identity_on_restore(&id, "", "own", 2000), LW_IDENTITY_REFUSED);
    assert_string_equal(id.env_id, "real");
    assert_int_equal(id.restores, 0);
}

/* One init per environment: the first initStart wins, with or without an instanceId. */
static void test_init_start_counts_once(void **state)
{
    (void)state;
    struct lw_identity id;
    lw_identity_init(&id, "0123456789abcdef", 1000);
    assert_int_equal(lw_identity_on_init_start(&id, "first"), LW_IDENTITY_CHANGED);
    assert_int_equal(lw_identity_on_init_start(&id, "second"), LW_IDENTITY_REFUSED);
    assert_int_equal(lw_identity_on_init_start(&id, "first"), LW_IDENTITY_REFUSED);
    assert_int_equal(lw_identity_on_init_start(&id, NULL), LW_IDENTITY_REFUSED);
    assert_string_equal(id.env_id, "first");

    /* an older schema's initStart has no instanceId: it is the one, and names nothing */
    lw_identity_init(&id, "0123456789abcdef", 1000);
    assert_int_equal(lw_identity_on_init_start(&id, NULL), LW_IDENTITY_KEPT);
    assert_int_equal(lw_identity_on_init_start(&id, "forged"), LW_IDENTITY_REFUSED);
    assert_string_equal(id.env_id, "0123456789abcdef");
    assert_false(id.from_platform);
}

static void test_restore_renews_everything(void **state)
{
    (void)state;
    struct lw_identity id;
    lw_identity_init(&id, "snapshot-id", 1000);
    id.restorable = true;
    assert_int_equal(lw_identity_on_init_start(&id, "init-instance"), LW_IDENTITY_CHANGED);
    assert_int_equal(lw_identity_on_restore(&id, "restored-instance", "unused", 5000000),
                     LW_IDENTITY_CHANGED);
    assert_string_equal(id.env_id, "restored-instance");
    assert_true(id.restored);
    assert_true(id.from_platform);
    assert_int_equal(id.restores, 1);
    assert_int_equal(id.since_ms, 5000000);
    /* a late initStart does not take a restored environment's identity back */
    assert_int_equal(lw_identity_on_init_start(&id, "init-instance"), LW_IDENTITY_REFUSED);
    assert_string_equal(id.env_id, "restored-instance");

    /* without an instanceId: the fresh own id */
    lw_identity_init(&id, "snapshot-id", 1000);
    id.restorable = true;
    assert_int_equal(lw_identity_on_restore(&id, NULL, "fresh-own", 6000000), LW_IDENTITY_CHANGED);
    assert_string_equal(id.env_id, "fresh-own");
    assert_false(id.from_platform);
    assert_int_equal(id.restores, 1);
}

/* A restore happens once, and only on SnapStart: a restoreStart mid-life, or a second one (a
 * replayed batch, a forgery), renames nothing. */
static void test_restore_only_once_and_only_on_snapstart(void **state)
{
    (void)state;
    struct lw_identity id;
    lw_identity_init(&id, "own", 1000);
    assert_int_equal(lw_identity_on_restore(&id, "forged", "x", 2000), LW_IDENTITY_REFUSED);
    assert_int_equal(lw_identity_on_restore(&id, NULL, "x", 2000), LW_IDENTITY_REFUSED);
    assert_string_equal(id.env_id, "own");
    assert_false(id.restored);

    lw_identity_init(&id, "own", 1000);
    id.restorable = true;
    assert_int_equal(lw_identity_on_restore(&id, "restored", "x", 2000), LW_IDENTITY_CHANGED);
    assert_int_equal(lw_identity_on_restore(&id, "forged", "y", 3000), LW_IDENTITY_REFUSED);
    assert_int_equal(lw_identity_on_restore(&id, "restored", "y", 3000), LW_IDENTITY_REFUSED);
    assert_int_equal(lw_identity_on_restore(&id, NULL, "y", 3000), LW_IDENTITY_REFUSED);
    assert_string_equal(id.env_id, "restored");
    assert_int_equal(id.restores, 1);
    assert_int_equal(id.since_ms, 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_id),
        cmocka_unit_test(test_platform_id_replaces_the_own_one),
        cmocka_unit_test(test_instance_ids_leakwatch_takes),
        cmocka_unit_test(test_init_start_counts_once),
        cmocka_unit_test(test_restore_renews_everything),
        cmocka_unit_test(test_restore_only_once_and_only_on_snapstart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
