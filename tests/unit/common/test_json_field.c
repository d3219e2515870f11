#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <leakwatch/json_field.h>

static void test_fields(void **state)
{
    (void)state;
    cJSON *o = cJSON_Parse("{\"s\":\"ab\\u20ac\",\"n\":1.5,\"i\":42,\"neg\":-1,\"frac\":2.5,"
                           "\"big\":1e300,\"ns\":\"5\",\"max\":9007199254740992,"
                           "\"over\":9007199254740994}");
    assert_non_null(o);
    char buf[8];
    assert_true(lw_json_string(o, "s", buf, sizeof(buf)));
    assert_string_equal(buf, "ab\xe2\x82\xac");
    char small[5]; /* "ab" and half a euro would fit: cut before it */
    assert_true(lw_json_string(o, "s", small, sizeof(small)));
    assert_string_equal(small, "ab");
    memcpy(buf, "junk", 5);
    assert_false(lw_json_string(o, "n", buf, sizeof(buf)));
    assert_string_equal(buf, "");
    assert_false(lw_json_string(o, "missing", buf, sizeof(buf)));

    double d = -7;
    assert_true(lw_json_number(o, "n", &d));
    assert_true(d == 1.5);
    d = -7;
    assert_false(lw_json_number(o, "ns", &d));
    assert_false(lw_json_number(o, "missing", &d));
    assert_true(d == -7);

    uint64_t u = 99;
    assert_int_equal(lw_json_count(o, "i", &u), 1);
    assert_int_equal(u, 42);
    assert_int_equal(lw_json_count(o, "max", &u), 1);
    assert_int_equal(u, 9007199254740992ull);
    u = 99;
    assert_int_equal(lw_json_count(o, "missing", &u), 0);
    assert_int_equal(lw_json_count(o, "neg", &u), -1);
    assert_int_equal(lw_json_count(o, "frac", &u), -1);
    assert_int_equal(lw_json_count(o, "big", &u), -1);
    assert_int_equal(lw_json_count(o, "over", &u), -1);
    assert_int_equal(lw_json_count(o, "ns", &u), -1);
    assert_int_equal(u, 99);
    cJSON_Delete(o);
}

/* One pass finds what one lookup per name finds: the first member of each name. */
static void test_members_as_lookups(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{\"a\":1,\"b\":\"x\",\"a\":2,\"ab\":3,\"\":4,\"c\":null}",
        "{\"b\":[1],\"b\":\"second\",\"B\":5}",
        "{}",
        "[1,2]",
        "\"text\"",
    };
    static const char *const names[] = {"a", "b", "ab", "", "c", "B", "missing"};
    enum { N = sizeof(names) / sizeof(names[0]) };
    for (size_t d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
        cJSON *o = cJSON_Parse(docs[d]);
        assert_non_null(o);
        const cJSON *found[N];
        lw_json_members(o, names, N, found);
        for (size_t k = 0; k < N; k++) {
            const cJSON *want =
                cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, names[k]) : NULL;
            assert_ptr_equal(found[k], want);
        }
        cJSON_Delete(o);
    }
    /* the first "a" is 1, the first "b" an array: a later string does not count */
    cJSON *o = cJSON_Parse(docs[1]);
    const cJSON *found[N];
    lw_json_members(o, names, N, found);
    char buf[16];
    assert_false(lw_json_item_string(found[1], buf, sizeof(buf)));
    assert_string_equal(buf, "");
    double v = 0;
    assert_true(lw_json_item_number(found[5], &v));
    assert_true(v == 5);
    assert_null(found[0]);
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_members_as_lookups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
