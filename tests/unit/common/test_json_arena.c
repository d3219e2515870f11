/*
 * The cJSON arena: documents parsed and built inside a scope come from the arena and are the same
 * documents; what does not fit goes to malloc and is freed there; outside a scope, and on other
 * threads, cJSON uses malloc as before.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <leakwatch/json_arena.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char DOC[] = "{\"time\":\"2022-10-12T00:00:00.000Z\",\"type\":\"platform.report\","
                          "\"record\":{\"requestId\":\"6f7f0961\",\"metrics\":{\"durationMs\":"
                          "101.51,\"maxMemoryUsedMB\":77},\"status\":\"success\"}}";

/* The document's values as read back; the test compares them, not pointers. */
static void check_doc(const cJSON *root)
{
    assert_non_null(root);
    const cJSON *rec = cJSON_GetObjectItemCaseSensitive(root, "record");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(rec, "requestId")->valuestring,
                        "6f7f0961");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(rec, "metrics");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(m, "maxMemoryUsedMB")->valueint, 77);
    assert_true(cJSON_GetObjectItemCaseSensitive(m, "durationMs")->valuedouble == 101.51);
}

/* DOC parsed (in the current scope, if any) and checked. */
static cJSON *parsed_doc(void)
{
    cJSON *root = cJSON_ParseWithLength(DOC, sizeof(DOC) - 1);
    check_doc(root);
    return root;
}

static void test_scope_allocates_from_arena(void **state)
{
    (void)state;
    struct lw_json_arena a;
    assert_true(lw_json_arena_init(&a, 16 * 1024));
    lw_json_arena_enter(&a);
    cJSON *root = parsed_doc();
    size_t used = a.used;
    assert_true(used > 0);
    assert_int_equal(a.fallback_bytes, 0);
    /* deleting inside the scope hands nothing to free() and takes nothing back */
    cJSON_Delete(root);
    assert_int_equal(a.used, used);
    lw_json_arena_leave(&a);
    assert_int_equal(a.used, 0);
    assert_int_equal(a.high, used);

    /* the next scope starts from the beginning of the buffer: the same document fits again */
    lw_json_arena_enter(&a);
    root = parsed_doc();
    assert_int_equal(a.used, used);
    cJSON_Delete(root);
    lw_json_arena_leave(&a);
    lw_json_arena_clean_up(&a);
}

static void test_outside_scope_uses_malloc(void **state)
{
    (void)state;
    struct lw_json_arena a;
    assert_true(lw_json_arena_init(&a, 16 * 1024));
    cJSON *root = parsed_doc();
    assert_int_equal(a.used, 0);
    assert_int_equal(a.high, 0);
    cJSON_Delete(root);

    /* a tree made before a scope and deleted after it: never the arena's, freed by free() */
    root = cJSON_ParseWithLength(DOC, sizeof(DOC) - 1);
    lw_json_arena_enter(&a);
    cJSON *other = cJSON_CreateObject();
    assert_true(a.used > 0);
    cJSON_Delete(other);
    lw_json_arena_leave(&a);
    check_doc(root);
    cJSON_Delete(root);
    lw_json_arena_clean_up(&a);
}

/* Built inside a small arena, a large document overflows to malloc and comes out whole. */
static void test_overflow_falls_back_to_malloc(void **state)
{
    (void)state;
    struct lw_json_arena a;
    assert_true(lw_json_arena_init(&a, 512));
    lw_json_arena_enter(&a);
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "values");
    for (int i = 0; i < 200; i++) {
        char key[32];
        snprintf(key, sizeof(key), "process-%d", i);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "Name", key);
        cJSON_AddNumberToObject(o, "Bytes", (double)i * 4096);
        cJSON_AddItemToArray(arr, o);
    }
    assert_true(a.fallback_bytes > 0);
    assert_true(a.used <= a.cap);
    char *buf = malloc(64 * 1024);
    assert_true(cJSON_PrintPreallocated(root, buf, 64 * 1024, 0));
    cJSON_Delete(root); /* arena nodes and malloc'd ones, each to its own place */
    lw_json_arena_leave(&a);

    cJSON *back = cJSON_Parse(buf); /* outside the scope: malloc */
    assert_non_null(back);
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(back, "values");
    assert_int_equal(cJSON_GetArraySize(values), 200);
    const cJSON *last = cJSON_GetArrayItem(values, 199);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(last, "Name")->valuestring, "process-199");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(last, "Bytes")->valuedouble, 199.0 * 4096);
    cJSON_Delete(back);
    free(buf);
    lw_json_arena_clean_up(&a);
}

/* An arena without a buffer serves nothing: cJSON works as without one. */
static void test_empty_arena(void **state)
{
    (void)state;
    struct lw_json_arena a;
    assert_false(lw_json_arena_init(&a, 0));
    lw_json_arena_enter(&a);
    cJSON *root = parsed_doc();
    assert_int_equal(a.used, 0);
    assert_true(a.fallback_bytes > 0);
    cJSON_Delete(root);
    lw_json_arena_leave(&a);
    lw_json_arena_clean_up(&a);
}

/* lw_json_delete leaves a tree that is all the arena's to the scope's end, and deletes one that
 * is not: made outside the scope, or in a scope that spilled to malloc (LeakSanitizer, in the
 * sanitizer builds, reports what it would fail to free). */
static void test_delete_skips_only_arena_trees(void **state)
{
    (void)state;
    struct lw_json_arena a;
    assert_true(lw_json_arena_init(&a, 16 * 1024));
    lw_json_arena_enter(&a);
    cJSON *root = parsed_doc();
    assert_false(a.spilled);
    lw_json_delete(root);
    assert_int_equal(a.walks_skipped, 1);
    lw_json_delete(NULL);
    assert_int_equal(a.walks_skipped, 1);
    /* a tree from before the scope is not the arena's */
    lw_json_arena_leave(&a);
    cJSON *outside = cJSON_ParseWithLength(DOC, sizeof(DOC) - 1);
    lw_json_arena_enter(&a);
    lw_json_delete(outside);
    assert_int_equal(a.walks_skipped, 1);
    lw_json_arena_leave(&a);
    /* outside any scope: deleted */
    outside = cJSON_ParseWithLength(DOC, sizeof(DOC) - 1);
    lw_json_delete(outside);
    assert_int_equal(a.walks_skipped, 1);
    lw_json_arena_clean_up(&a);

    /* a scope that spilled: its root is the arena's, some of its nodes are malloc's */
    assert_true(lw_json_arena_init(&a, 256));
    lw_json_arena_enter(&a);
    root = parsed_doc();
    assert_true(a.spilled);
    assert_true(a.used > 0);
    lw_json_delete(root);
    assert_int_equal(a.walks_skipped, 0);
    lw_json_arena_leave(&a);
    /* the next scope starts unspilled */
    lw_json_arena_enter(&a);
    assert_false(a.spilled);
    lw_json_arena_leave(&a);
    lw_json_arena_clean_up(&a);
}

static void *other_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++) {
        cJSON *root = cJSON_ParseWithLength(DOC, sizeof(DOC) - 1);
        check_doc(root);
        cJSON_Delete(root);
    }
    return NULL;
}

/* A scope is the entering thread's alone: another thread's cJSON meanwhile uses malloc. */
static void test_scope_is_per_thread(void **state)
{
    (void)state;
    struct lw_json_arena a;
    assert_true(lw_json_arena_init(&a, 16 * 1024));
    lw_json_arena_enter(&a);
    cJSON *root = cJSON_ParseWithLength(DOC, sizeof(DOC) - 1);
    size_t used = a.used;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(a.used, used);
    check_doc(root);
    cJSON_Delete(root);
    lw_json_arena_leave(&a);
    lw_json_arena_clean_up(&a);
}

int main(void)
{
    lw_json_arena_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scope_allocates_from_arena),
        cmocka_unit_test(test_outside_scope_uses_malloc),
        cmocka_unit_test(test_overflow_falls_back_to_malloc),
        cmocka_unit_test(test_empty_arena),
        cmocka_unit_test(test_delete_skips_only_arena_trees),
        cmocka_unit_test(test_scope_is_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
