/*
 * The state file an environment leaves for the next one, and the death it tells: the encoding
 * round trip, the two-slot framing against every cut and every flipped byte, what is kept from
 * records and verdicts, and how each end is classified.
 */
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <leakwatch/state.h>

#define MIB (1024ull * 1024ull)

static struct lw_state sample(void)
{
    struct lw_state s;
    memset(&s, 0, sizeof(s));
    snprintf(s.function_name, sizeof(s.function_name), "orders-api");
    snprintf(s.function_version, sizeof(s.function_version), "$LATEST");
    snprintf(s.env_id, sizeof(s.env_id), "2026/12/04/[$LATEST]0123abcd\"\\\n");
    lw_state_on_invoke(&s, "8d6f0c1e-2b4a-4c1d-9e7f-0a1b2c3d4e5f");
    s.started_ms = 1764800000000ull;
    s.memory_limit_bytes = 256 * MIB;
    s.last_seq = 41;
    s.boundary_ms = s.started_ms + 41 * 1000;
    s.have_readings = true;
    s.fn_rss_bytes = 200 * MIB;
    s.env_rss_bytes = 230 * MIB;
    s.env_rss_max_bytes = 240 * MIB;
    s.verdict = LW_VERDICT_LEAK_CRITICAL;
    s.verdict_seq = 40;
    s.flagged = true;
    s.flagged_seq = 20;
    s.flagged_ms = s.started_ms + 20 * 1000;
    s.have_projection = true;
    s.projection_seq = 40;
    s.projection_ms = s.started_ms + 40 * 1000;
    s.projected_oom_seq = 43.25;
    s.projected_oom_ms = (double)s.started_ms + 43250.5;
    s.flag_projected_oom_seq = 50.5;
    return s;
}

/* The sample, ended by a failure that Lambda reported as out of memory. */
static struct lw_state ended_sample(void)
{
    struct lw_state s = sample();
    s.ended = true;
    s.ended_ms = s.boundary_ms + 900;
    snprintf(s.shutdown_reason, sizeof(s.shutdown_reason), "failure");
    s.have_last_report = true;
    s.last_report_seq = 42;
    snprintf(s.last_status, sizeof(s.last_status), "error");
    snprintf(s.last_error_type, sizeof(s.last_error_type), "Runtime.OutOfMemory");
    s.last_max_memory_used_mb = 256;
    s.last_memory_size_mb = 256;
    return s;
}

static void assert_same(const struct lw_state *a, const struct lw_state *b)
{
    assert_string_equal(a->function_name, b->function_name);
    assert_string_equal(a->function_version, b->function_version);
    assert_string_equal(a->env_id, b->env_id);
    assert_int_equal(a->started_ms, b->started_ms);
    assert_int_equal(a->restored, b->restored);
    assert_int_equal(a->memory_limit_bytes, b->memory_limit_bytes);
    assert_int_equal(a->last_seq, b->last_seq);
    assert_int_equal(a->boundary_ms, b->boundary_ms);
    assert_int_equal(a->have_readings, b->have_readings);
    assert_int_equal(a->fn_rss_bytes, b->fn_rss_bytes);
    assert_int_equal(a->env_rss_bytes, b->env_rss_bytes);
    assert_int_equal(a->env_rss_max_bytes, b->env_rss_max_bytes);
    assert_int_equal(a->intervals, b->intervals);
    assert_string_equal(a->open_request_id, b->open_request_id);
    assert_int_equal(a->open_closed, b->open_closed);
    assert_int_equal(a->verdict, b->verdict);
    assert_int_equal(a->verdict_seq, b->verdict_seq);
    assert_int_equal(a->flagged, b->flagged);
    assert_int_equal(a->flagged_seq, b->flagged_seq);
    assert_int_equal(a->flagged_ms, b->flagged_ms);
    assert_int_equal(a->have_projection, b->have_projection);
    assert_int_equal(a->projection_seq, b->projection_seq);
    assert_int_equal(a->projection_ms, b->projection_ms);
    assert_true(a->projected_oom_seq == b->projected_oom_seq);
    assert_true(a->projected_oom_ms == b->projected_oom_ms);
    assert_true(a->flag_projected_oom_seq == b->flag_projected_oom_seq);
    assert_int_equal(a->ended, b->ended);
    assert_int_equal(a->ended_ms, b->ended_ms);
    assert_string_equal(a->shutdown_reason, b->shutdown_reason);
    assert_int_equal(a->have_last_report, b->have_last_report);
    assert_int_equal(a->last_report_seq, b->last_report_seq);
    assert_string_equal(a->last_status, b->last_status);
    assert_string_equal(a->last_error_type, b->last_error_type);
    assert_int_equal(a->last_max_memory_used_mb, b->last_max_memory_used_mb);
    assert_int_equal(a->last_memory_size_mb, b->last_memory_size_mb);
}

/* ---- encoding ------------------------------------------------------------------------------- */

static void test_encode_decode_round_trip(void **state)
{
    (void)state;
    struct lw_state s = ended_sample();
    s.restored = true;
    char buf[LW_STATE_SLOT_BYTES];
    size_t len = 0;
    assert_int_equal(lw_state_encode(&s, buf, sizeof(buf), &len), LW_OK);
    assert_int_equal(strlen(buf), len);
    assert_null(memchr(buf, '\n', len)); /* the escaped newline of the id stays escaped */
    struct lw_state back;
    assert_int_equal(lw_state_decode(buf, len, &back), LW_OK);
    assert_same(&s, &back);
}

static void test_encode_too_small_is_refused(void **state)
{
    (void)state;
    struct lw_state s = sample();
    char buf[64];
    size_t len = 7;
    assert_int_equal(lw_state_encode(&s, buf, sizeof(buf), &len), LW_ERR_TOO_LARGE);
    assert_string_equal(buf, "");
}

/* States whose encoding is pinned: every kind of member, strings that need each kind of escape. */
static struct lw_state pinned_state(int which)
{
    struct lw_state s;
    memset(&s, 0, sizeof(s));
    if (which == 0)
        return s; /* all zero, every string empty */
    if (which == 1)
        return ended_sample();
    if (which == 3) {
        /* what a function's environment writes: runs of plain names, doubles that are not
         * finite or a negative zero */
        s = (struct lw_state){
            .started_ms = 1768480000123ull,
            .memory_limit_bytes = 512 * MIB,
            .last_seq = 1234,
            .boundary_ms = 1768481234567ull,
            .have_readings = true,
            .fn_rss_bytes = 93847552,
            .env_rss_bytes = 142606336,
            .env_rss_max_bytes = 150994944,
            .verdict = LW_VERDICT_STEADY,
            .verdict_seq = 1233,
            .projected_oom_seq = NAN,
            .projected_oom_ms = INFINITY,
            .flag_projected_oom_seq = -0.0,
            .have_last_report = true,
            .last_report_seq = 1233,
            .last_max_memory_used_mb = 143,
            .last_memory_size_mb = 512,
        };
        snprintf(s.function_name, sizeof(s.function_name), "my-function");
        snprintf(s.function_version, sizeof(s.function_version), "$LATEST");
        snprintf(s.env_id, sizeof(s.env_id),
                 "2026/01/15/[$LATEST]5f1c2a9be0d34b7e8a6c1d2f3e4b5a69");
        lw_state_on_invoke(&s, "3f2b9c1e-7a4d-4e8b-9c0f-1a2b3c4d5e6f");
        snprintf(s.last_status, sizeof(s.last_status), "success");
        return s;
    }
    /* every control character, DEL, quote, backslash, valid UTF-8 of each length and bytes
     * that are not UTF-8 (a stray continuation, overlong, a surrogate, beyond U+10FFFF, cut) */
    char *p = s.function_name;
    for (int c = 1; c < 0x20; c++)
        *p++ = (char)c;
    snprintf(p, sizeof(s.function_name) - 31,
             "\x7f\"q\"\\b\\ \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \x80\xff\xc0\xaf\xed\xa0\x80"
             "\xf4\x90\x80\x80 end\xe2\x82");
    snprintf(s.function_version, sizeof(s.function_version), "v\"1\\");
    snprintf(s.env_id, sizeof(s.env_id), "2026/12/04/[$LATEST]\tab\xc3");
    lw_state_on_invoke(&s, "r\xc3\xa9q-\x01-\"id\"");
    snprintf(s.shutdown_reason, sizeof(s.shutdown_reason), "timeout");
    snprintf(s.last_status, sizeof(s.last_status), "timeout");
    snprintf(s.last_error_type, sizeof(s.last_error_type), "Sandbox.Timedout\x7f");
    s.started_ms = UINT64_MAX;
    s.restored = true;
    s.memory_limit_bytes = UINT64_MAX - 1;
    s.last_seq = 10;
    s.boundary_ms = 9;
    s.have_readings = true;
    s.fn_rss_bytes = 100;
    s.env_rss_bytes = 999;
    s.env_rss_max_bytes = 1000;
    s.intervals = true;
    s.open_closed = true;
    s.verdict = LW_VERDICT_LEAK;
    s.verdict_seq = 18446744073709551615ull;
    s.flagged = true;
    s.flagged_seq = 1;
    s.flagged_ms = 12345678901234567890ull;
    s.have_projection = true;
    s.projection_seq = 2;
    s.projection_ms = 3;
    s.projected_oom_seq = 0.1;
    s.projected_oom_ms = -1e300;
    s.flag_projected_oom_seq = 4.9e-324;
    s.ended = true;
    s.ended_ms = 7;
    s.have_last_report = true;
    s.last_report_seq = 10;
    s.last_max_memory_used_mb = 4096;
    s.last_memory_size_mb = 10240;
    return s;
}

/* What lw_state_encode() and lw_state_frame() wrote for pinned_state(i) before they were made
 * faster, copied from their output then: the file must not change by a byte. */
static const struct {
    const char *payload;
    const char *header; /* lw_state_frame(generation 0x0102030405060708 + i) */
} pinned[] = {
    {
        /* payload */
        "{\"v\":1,\"fn\":\"\",\"ver\":\"\",\"env\":\"\",\"start\":0,\"restored\":0,\"limi"
        "t\":0,\"seq\":0,\"at\":0,\"readings\":0,\"fn_rss\":0,\"env_rss\":0,\"env_rss_max"
        "\":0,\"intervals\":0,\"rid\":\"\",\"rid_closed\":0,\"verdict\":0,\"verdict_seq\""
        ":0,\"flagged\":0,\"flagged_seq\":0,\"flagged_at\":0,\"proj\":0,\"proj_seq\":0,\""
        "proj_at\":0,\"oom_seq\":0,\"oom_at\":0,\"flag_oom_seq\":0,\"ended\":0,\"ended_at"
        "\":0,\"reason\":\"\",\"report\":0,\"report_seq\":0,\"status\":\"\",\"error\":\"\""
        ",\"max_used_mb\":0,\"size_mb\":0}",
        /* header */
        "LWST\001\000\000\000\010\007\006\005\004\003\002\001\254\001\000\000v\273\252\234",
    },
    {
        /* payload */
        "{\"v\":1,\"fn\":\"orders-api\",\"ver\":\"$LATEST\",\"env\":\"2026/12/04/[$LATEST"
        "]0123abcd\\\"\\\\\\u000a\",\"start\":1764800000000,\"restored\":0,\"limit\":2684"
        "35456,\"seq\":41,\"at\":1764800041000,\"readings\":1,\"fn_rss\":209715200,\"env_"
        "rss\":241172480,\"env_rss_max\":251658240,\"intervals\":0,\"rid\":\"8d6f0c1e-2b4"
        "a-4c1d-9e7f-0a1b2c3d4e5f\",\"rid_closed\":0,\"verdict\":4,\"verdict_seq\":40,\"f"
        "lagged\":1,\"flagged_seq\":20,\"flagged_at\":1764800020000,\"proj\":1,\"proj_seq"
        "\":40,\"proj_at\":1764800040000,\"oom_seq\":43.25,\"oom_at\":1764800043250.5,\"f"
        "lag_oom_seq\":50.5,\"ended\":1,\"ended_at\":1764800041900,\"reason\":\"failure\""
        ",\"report\":1,\"report_seq\":42,\"status\":\"error\",\"error\":\"Runtime.OutOfMe"
        "mory\",\"max_used_mb\":256,\"size_mb\":256}",
        /* header */
        "LWST\001\000\000\000\011\007\006\005\004\003\002\001\240\002\000\000b3\025\332",
    },
    {
        /* payload */
        "{\"v\":1,\"fn\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\u000"
        "9\\u000a\\u000b\\u000c\\u000d\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\"
        "u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\u00"
        "7f\\\"q\\\"\\\\b\\\\ \303\251\342\202\254\360\237\230\200 \\ufffd\\ufffd\\ufffd\\"
        "ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd end\\ufffd\\ufffd\",\"ver"
        "\":\"v\\\"1\\\\\",\"env\":\"2026/12/04/[$LATEST]\\u0009ab\\ufffd\",\"start\":184"
        "46744073709551615,\"restored\":1,\"limit\":18446744073709551614,\"seq\":10,\"at\""
        ":9,\"readings\":1,\"fn_rss\":100,\"env_rss\":999,\"env_rss_max\":1000,\"interval"
        "s\":1,\"rid\":\"r\303\251q-\\u0001-\\\"id\\\"\",\"rid_closed\":1,\"verdict\":3,\""
        "verdict_seq\":18446744073709551615,\"flagged\":1,\"flagged_seq\":1,\"flagged_at\""
        ":12345678901234567890,\"proj\":1,\"proj_seq\":2,\"proj_at\":3,\"oom_seq\":0.1000"
        "0000000000001,\"oom_at\":-1.0000000000000001e+300,\"flag_oom_seq\":4.94065645841"
        "24654e-324,\"ended\":1,\"ended_at\":7,\"reason\":\"timeout\",\"report\":1,\"repo"
        "rt_seq\":10,\"status\":\"timeout\",\"error\":\"Sandbox.Timedout\\u007f\",\"max_u"
        "sed_mb\":4096,\"size_mb\":10240}",
        /* header */
        "LWST\001\000\000\000\012\007\006\005\004\003\002\001\314\003\000\000\225\314\012"
        "\364",
    },
    {
        /* payload */
        "{\"v\":1,\"fn\":\"my-function\",\"ver\":\"$LATEST\",\"env\":\"2026/01/15/[$LATES"
        "T]5f1c2a9be0d34b7e8a6c1d2f3e4b5a69\",\"start\":1768480000123,\"restored\":0,\"li"
        "mit\":536870912,\"seq\":1234,\"at\":1768481234567,\"readings\":1,\"fn_rss\":9384"
        "7552,\"env_rss\":142606336,\"env_rss_max\":150994944,\"intervals\":0,\"rid\":\"3"
        "f2b9c1e-7a4d-4e8b-9c0f-1a2b3c4d5e6f\",\"rid_closed\":0,\"verdict\":1,\"verdict_s"
        "eq\":1233,\"flagged\":0,\"flagged_seq\":0,\"flagged_at\":0,\"proj\":0,\"proj_seq"
        "\":0,\"proj_at\":0,\"oom_seq\":0,\"oom_at\":0,\"flag_oom_seq\":0,\"ended\":0,\"e"
        "nded_at\":0,\"reason\":\"\",\"report\":1,\"report_seq\":1233,\"status\":\"succes"
        "s\",\"error\":\"\",\"max_used_mb\":143,\"size_mb\":512}",
        /* header */
        "LWST\001\000\000\000\013\007\006\005\004\003\002\001a\002\000\000\241&\217;",
    },
};

#define PINNED_COUNT (sizeof(pinned) / sizeof(pinned[0]))
#define UNWRITTEN 0xa5

/* Whether buf[from..to) is all as it was filled: nothing was written there. */
static bool unwritten(const char *buf, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if ((unsigned char)buf[i] != UNWRITTEN)
            return false;
    return true;
}

static void test_encode_bytes_as_before(void **state)
{
    (void)state;
    for (size_t i = 0; i < PINNED_COUNT; i++) {
        print_message("state %zu\n", i);
        struct lw_state s = pinned_state((int)i);
        size_t want = strlen(pinned[i].payload);
        char buf[LW_STATE_SLOT_BYTES];
        memset(buf, UNWRITTEN, sizeof(buf));
        size_t len = 0;
        assert_int_equal(lw_state_encode(&s, buf, sizeof(buf), &len), LW_OK);
        assert_int_equal(len, want);
        assert_memory_equal(buf, pinned[i].payload, want + 1); /* its NUL too */
        assert_true(unwritten(buf, want + 1, sizeof(buf)));
        /* too small at every size: refused, empty, *len untouched, nothing written past cap */
        for (size_t cap = 0; cap <= want; cap++) {
            memset(buf, UNWRITTEN, sizeof(buf));
            len = 7;
            assert_int_equal(lw_state_encode(&s, buf, cap, &len), LW_ERR_TOO_LARGE);
            assert_int_equal(len, 7);
            if (cap > 0)
                assert_int_equal(buf[0], '\0');
            assert_true(unwritten(buf, cap, sizeof(buf)));
        }
        /* and just big enough */
        memset(buf, UNWRITTEN, sizeof(buf));
        assert_int_equal(lw_state_encode(&s, buf, want + 1, &len), LW_OK);
        assert_int_equal(len, want);
        assert_memory_equal(buf, pinned[i].payload, want + 1);
    }
}

static void test_decode_refuses_other_shapes(void **state)
{
    (void)state;
    struct lw_state s = sample();
    char buf[LW_STATE_SLOT_BYTES];
    size_t len = 0;
    assert_int_equal(lw_state_encode(&s, buf, sizeof(buf), &len), LW_OK);
    struct lw_state back;
    /* another format version */
    char other[LW_STATE_SLOT_BYTES];
    snprintf(other, sizeof(other), "{\"v\":2%s", buf + strlen("{\"v\":1"));
    assert_int_equal(lw_state_decode(other, strlen(other), &back), LW_ERR_INVALID);
    /* a member missing */
    char *at = strstr(buf, "\"seq\":");
    assert_non_null(at);
    memcpy(at, "\"sex\":", 6);
    assert_int_equal(lw_state_decode(buf, len, &back), LW_ERR_INVALID);
    /* the open request's id came later: a file without it is read, one with a bad one is not */
    assert_int_equal(lw_state_encode(&s, buf, sizeof(buf), &len), LW_OK);
    at = strstr(buf, "\"rid\":");
    assert_non_null(at);
    memcpy(at, "\"rix\":", 6);
    assert_int_equal(lw_state_decode(buf, len, &back), LW_OK);
    assert_string_equal(back.open_request_id, "");
    assert_string_equal(back.env_id, s.env_id);
    assert_int_equal(lw_state_encode(&s, buf, sizeof(buf), &len), LW_OK);
    at = strstr(buf, "\"rid\":\"");
    assert_non_null(at);
    char edited_rid[LW_STATE_SLOT_BYTES];
    const char *rest = strchr(at + 7, '"') + 1;
    snprintf(edited_rid, sizeof(edited_rid), "%.*s\"rid\":7%s", (int)(at - buf), buf, rest);
    assert_int_equal(lw_state_decode(edited_rid, strlen(edited_rid), &back), LW_ERR_INVALID);
    assert_int_equal(lw_state_encode(&s, buf, sizeof(buf), &len), LW_OK);
    /* a verdict out of range, a negative count, a flag of 2 */
    const char *bad[] = {"\"verdict\":99", "\"seq\":-1", "\"ended\":2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(lw_state_encode(&s, buf, sizeof(buf), &len), LW_OK);
        const char *key_end = strchr(bad[i], ':');
        size_t key_len = (size_t)(key_end - bad[i]) + 1;
        char key[32];
        memcpy(key, bad[i], key_len);
        key[key_len] = '\0';
        char *p = strstr(buf, key);
        assert_non_null(p);
        char *value_end = p + key_len;
        while (*value_end != ',' && *value_end != '}')
            value_end++;
        char edited[LW_STATE_SLOT_BYTES];
        snprintf(edited, sizeof(edited), "%.*s%s%s", (int)(p - buf), buf, bad[i], value_end);
        assert_int_equal(lw_state_decode(edited, strlen(edited), &back), LW_ERR_INVALID);
    }
    assert_int_equal(lw_state_decode("[1,2]", 5, &back), LW_ERR_INVALID);
    assert_int_equal(lw_state_decode("", 0, &back), LW_ERR_INVALID);
}

/* ---- framing -------------------------------------------------------------------------------- */

static void frame(const struct lw_state *s, uint64_t gen, unsigned char slot[LW_STATE_SLOT_BYTES])
{
    char payload[LW_STATE_SLOT_BYTES];
    size_t len = 0;
    assert_int_equal(lw_state_encode(s, payload, sizeof(payload), &len), LW_OK);
    assert_int_equal(lw_state_frame(gen, payload, len, slot), LW_OK);
}

/* The slot around each pinned payload: the same header (CRC included) and zero padding, over
 * whatever the buffer held. */
static void test_frame_bytes_as_before(void **state)
{
    (void)state;
    for (size_t i = 0; i < PINNED_COUNT; i++) {
        size_t len = strlen(pinned[i].payload);
        unsigned char slot[LW_STATE_SLOT_BYTES];
        memset(slot, UNWRITTEN, sizeof(slot));
        assert_int_equal(lw_state_frame(0x0102030405060708ull + i, pinned[i].payload, len, slot),
                         LW_OK);
        assert_memory_equal(slot, pinned[i].header, 24);
        assert_memory_equal(slot + 24, pinned[i].payload, len);
        for (size_t at = 24 + len; at < sizeof(slot); at++)
            assert_int_equal(slot[at], 0);
    }
}

static void test_unframe_takes_the_newest_valid_slot(void **state)
{
    (void)state;
    unsigned char file[LW_STATE_FILE_BYTES];
    struct lw_state older = sample(), newer = sample();
    newer.last_seq = 42;
    frame(&older, 7, file);                       /* slot 0: generation 7 */
    frame(&newer, 8, file + LW_STATE_SLOT_BYTES); /* slot 1: generation 8 */
    struct lw_state out;
    uint64_t gen = 0;
    assert_int_equal(lw_state_unframe(file, sizeof(file), &gen, &out, NULL), LW_OK);
    assert_int_equal(gen, 8);
    assert_int_equal(out.last_seq, 42);
    /* the same with the slots the other way round */
    frame(&newer, 8, file);
    frame(&older, 7, file + LW_STATE_SLOT_BYTES);
    assert_int_equal(lw_state_unframe(file, sizeof(file), &gen, &out, NULL), LW_OK);
    assert_int_equal(gen, 8);
    assert_int_equal(out.last_seq, 42);
}

/* A write cut anywhere (the file holds a prefix of its new content over the old) never yields a
 * state that was not written: either the old one or the new one. */
static void test_every_cut_write_yields_old_or_new(void **state)
{
    (void)state;
    struct lw_state older = sample(), newer = sample();
    newer.last_seq = 99;
    unsigned char before[LW_STATE_FILE_BYTES], after[LW_STATE_FILE_BYTES];
    memset(before, 0, sizeof(before));
    frame(&older, 1, before + LW_STATE_SLOT_BYTES); /* generation 1 in slot 1 */
    memcpy(after, before, sizeof(after));
    frame(&newer, 2, after);                              /* generation 2 goes to slot 0 */
    size_t whole = 24 + strlen((const char *)after + 24); /* header and payload */
    size_t olds = 0, news = 0;
    for (size_t cut = 0; cut <= LW_STATE_SLOT_BYTES; cut++) {
        unsigned char file[LW_STATE_FILE_BYTES];
        memcpy(file, before, sizeof(file));
        memcpy(file, after, cut);
        struct lw_state out;
        uint64_t gen = 0;
        assert_int_equal(lw_state_unframe(file, sizeof(file), &gen, &out, NULL), LW_OK);
        if (gen == 1) {
            assert_int_equal(out.last_seq, 41);
            olds++;
        } else {
            assert_int_equal(gen, 2);
            assert_int_equal(out.last_seq, 99);
            assert_true(cut >= whole); /* the new state only once all of it is there */
            news++;
        }
    }
    assert_int_equal(olds, whole);
    assert_int_equal(news, LW_STATE_SLOT_BYTES + 1 - whole);
}

static void test_truncated_and_corrupt_files(void **state)
{
    (void)state;
    unsigned char file[LW_STATE_FILE_BYTES];
    memset(file, 0, sizeof(file));
    struct lw_state s = sample(), out;
    uint64_t gen;
    const char *why = NULL;
    /* empty, all zero: nothing there */
    assert_int_equal(lw_state_unframe(file, 0, &gen, &out, &why), LW_ERR_NOT_FOUND);
    assert_int_equal(lw_state_unframe(file, sizeof(file), &gen, &out, &why), LW_ERR_NOT_FOUND);
    frame(&s, 1, file);
    size_t payload_end = 24 + strlen((const char *)file + 24);
    /* every truncation of a one-slot file is refused, and said */
    for (size_t n = 1; n < payload_end; n++) {
        why = NULL;
        enum lw_err err = lw_state_unframe(file, n, &gen, &out, &why);
        assert_int_not_equal(err, LW_OK);
        assert_non_null(why);
    }
    /* every single flipped byte in the header and payload is refused (CRC, magic, length) */
    for (size_t i = 0; i < payload_end; i++) {
        unsigned char copy[LW_STATE_FILE_BYTES];
        memcpy(copy, file, sizeof(copy));
        copy[i] ^= 0x20;
        why = NULL;
        assert_int_not_equal(lw_state_unframe(copy, sizeof(copy), &gen, &out, &why), LW_OK);
        assert_non_null(why);
    }
    /* and the file as written is fine */
    assert_int_equal(lw_state_unframe(file, sizeof(file), &gen, &out, NULL), LW_OK);
    /* a slot that does not fit its payload */
    char big[LW_STATE_SLOT_BYTES];
    memset(big, 'x', sizeof(big));
    assert_int_equal(lw_state_frame(1, big, sizeof(big), file), LW_ERR_TOO_LARGE);
}

/* ---- the file ------------------------------------------------------------------------------- */

static void test_writer_and_take(void **state)
{
    (void)state;
    char dir[] = "/tmp/lw-state-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, LW_STATE_FILE_NAME);
    struct lw_state_writer w;
    assert_true(lw_state_writer_open(&w, path));
    struct lw_state s = sample();
    for (uint64_t i = 1; i <= 5; i++) {
        s.last_seq = i;
        lw_state_writer_write(&w, &s);
    }
    assert_int_equal(w.write_errors, 0);
    lw_state_writer_close(&w);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, LW_STATE_FILE_BYTES); /* bounded: two slots, however many writes */
    assert_int_equal(st.st_mode & 0777, 0600);
    struct lw_state out;
    const char *why = NULL;
    assert_int_equal(lw_state_file_take(path, &out, &why), LW_OK);
    assert_int_equal(out.last_seq, 5);
    /* taken once: the next start finds none */
    assert_int_equal(lw_state_file_take(path, &out, &why), LW_ERR_NOT_FOUND);

    /* a symbolic link planted where the file goes is not followed, either way */
    char target[300];
    snprintf(target, sizeof(target), "%s/target", dir);
    int fd = open(target, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "keep", 4), 4);
    close(fd);
    assert_int_equal(symlink(target, path), 0);
    assert_false(lw_state_writer_open(&w, path));
    assert_int_equal(lw_state_file_take(path, &out, &why), LW_ERR_INVALID);
    assert_string_equal(why, "a symbolic link");
    assert_int_equal(lstat(path, &st), -1); /* the link is gone, its target untouched */
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_size, 4);
    unlink(target);

    /* a FIFO would block a reader: refused without reading */
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(lw_state_file_take(path, &out, &why), LW_ERR_INVALID);
    assert_string_equal(why, "not a regular file");
    assert_int_equal(access(path, F_OK), -1);

    /* garbage of any size */
    fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_int_equal(write(fd, "LWST garbage", 12), 12);
    close(fd);
    assert_int_equal(lw_state_file_take(path, &out, &why), LW_ERR_INVALID);
    assert_non_null(why);
    assert_int_equal(access(path, F_OK), -1); /* removed all the same */
    rmdir(dir);
}

/* ---- keeping it ----------------------------------------------------------------------------- */

static struct lw_record rec; /* large: not on the stack */

static void test_on_record_keeps_complete_readings_only(void **state)
{
    (void)state;
    struct lw_state s;
    memset(&s, 0, sizeof(s));
    memset(&rec, 0, sizeof(rec));
    rec.seq = 3;
    rec.end_time_ms = 5000;
    rec.memory_limit_bytes = 128 * MIB;
    rec.have_end = true;
    rec.fn_end.rss_bytes = 60 * MIB;
    rec.fn_peak_bytes = 70 * MIB;
    rec.env_end.rss_bytes = 80 * MIB;
    lw_state_on_record(&s, &rec);
    assert_int_equal(s.last_seq, 3);
    assert_int_equal(s.boundary_ms, 5000);
    assert_true(s.have_readings);
    assert_int_equal(s.fn_rss_bytes, 60 * MIB);
    assert_int_equal(s.env_rss_bytes, 80 * MIB);
    assert_int_equal(s.env_rss_max_bytes, 80 * MIB);
    assert_int_equal(s.memory_limit_bytes, 128 * MIB);
    /* the next record lost a process of the environment total: its total is not taken */
    rec.seq = 4;
    rec.env_end.rss_bytes = 10 * MIB;
    rec.partial_totals = LW_TOTAL_ENVIRONMENT;
    lw_state_on_record(&s, &rec);
    assert_int_equal(s.last_seq, 4);
    assert_int_equal(s.env_rss_bytes, 80 * MIB);
    /* no end reading at all (the runtime was gone): the last good readings stay */
    rec.seq = 5;
    rec.have_end = false;
    rec.partial_totals = 0;
    rec.fn_end.rss_bytes = 0;
    lw_state_on_record(&s, &rec);
    assert_int_equal(s.last_seq, 5);
    assert_int_equal(s.fn_rss_bytes, 60 * MIB);
}

static void test_on_verdict_keeps_first_flag_and_latest_projection(void **state)
{
    (void)state;
    struct lw_state s;
    memset(&s, 0, sizeof(s));
    memset(&rec, 0, sizeof(rec));
    struct lw_verdict v;
    memset(&v, 0, sizeof(v));
    v.kind = LW_VERDICT_STEADY;
    rec.seq = 10;
    rec.end_time_ms = 10000;
    lw_state_on_verdict(&s, &rec, &v);
    assert_false(s.flagged);
    assert_false(s.have_projection);

    v.kind = LW_VERDICT_LEAK;
    v.have_projection = true;
    v.projected_invocations_to_oom = 30;
    v.projected_minutes_to_oom = 2;
    rec.seq = 11;
    rec.end_time_ms = 11000;
    lw_state_on_verdict(&s, &rec, &v);
    assert_true(s.flagged);
    assert_int_equal(s.flagged_seq, 11);
    assert_int_equal(s.flagged_ms, 11000);
    assert_true(s.projected_oom_seq == 41.0);
    assert_true(s.flag_projected_oom_seq == 41.0);
    assert_true(s.projected_oom_ms == 11000.0 + 120000.0);

    v.kind = LW_VERDICT_LEAK_CRITICAL;
    v.projected_invocations_to_oom = 5.5;
    rec.seq = 30;
    rec.end_time_ms = 30000;
    snprintf(rec.platform.status, sizeof(rec.platform.status), "success");
    rec.platform.have_report = true;
    rec.platform.max_memory_used_mb = 200;
    rec.platform.memory_size_mb = 256;
    lw_state_on_verdict(&s, &rec, &v);
    assert_int_equal(s.flagged_seq, 11); /* the first flag stays */
    assert_int_equal(s.projection_seq, 30);
    assert_true(s.projected_oom_seq == 35.5);
    assert_true(s.flag_projected_oom_seq == 41.0); /* the flag's projection stays */
    assert_true(s.have_last_report);
    assert_int_equal(s.last_report_seq, 30);
    assert_string_equal(s.last_status, "success");
    assert_int_equal(s.last_max_memory_used_mb, 200);

    /* a leak that stands without figures of its own keeps the projection it stood on */
    v.have_projection = false;
    v.projected_invocations_to_oom = 0;
    rec.seq = 31;
    lw_state_on_verdict(&s, &rec, &v);
    assert_true(s.have_projection);
    assert_int_equal(s.projection_seq, 30);
    assert_true(s.projected_oom_seq == 35.5);

    /* the leak verdict withdrawn: no projection stands */
    v.kind = LW_VERDICT_WARMING;
    v.have_projection = false;
    rec.seq = 32;
    lw_state_on_verdict(&s, &rec, &v);
    assert_false(s.have_projection);
    assert_true(s.flagged);

    /* an interval with a request that ran out of memory */
    memset(&rec, 0, sizeof(rec));
    rec.kind = LW_RECORD_INTERVAL;
    rec.seq = 7;
    rec.interval.requests = 4;
    rec.interval.errors = 1;
    rec.interval.out_of_memory = 1;
    lw_state_on_verdict(&s, &rec, &v);
    assert_int_equal(s.last_report_seq, 7);
    assert_string_equal(s.last_status, "error");
    assert_string_equal(s.last_error_type, "Runtime.OutOfMemory");
}

/* ---- the death ------------------------------------------------------------------------------ */

/* The state of an environment that ran out of memory in invocation 42 and whose SHUTDOWN came. */
static struct lw_state oom_state(const char *status, const char *error, uint64_t max_used_mb)
{
    struct lw_state s = sample();
    s.last_seq = 42; /* the SHUTDOWN boundary closed the invocation it died in */
    s.ended = true;
    s.ended_ms = s.started_ms + 42500;
    snprintf(s.shutdown_reason, sizeof(s.shutdown_reason), "failure");
    s.have_last_report = true;
    s.last_report_seq = 42;
    snprintf(s.last_status, sizeof(s.last_status), "%s", status);
    snprintf(s.last_error_type, sizeof(s.last_error_type), "%s", error);
    s.last_max_memory_used_mb = max_used_mb;
    s.last_memory_size_mb = 256;
    return s;
}

static void test_death_out_of_memory_predicted(void **state)
{
    (void)state;
    struct lw_state s = oom_state("error", "Runtime.OutOfMemory", 256);
    struct lw_death d;
    lw_death_assess(&s, &d);
    assert_int_equal(d.cause, LW_DEATH_OUT_OF_MEMORY);
    assert_string_equal(lw_death_cause_name(d.cause), "Runtime.OutOfMemory");
    assert_int_equal(d.oom_forms, LW_OOM_ERROR_TYPE | LW_OOM_ERROR_AT_LIMIT);
    assert_int_equal(d.invocations, 42);
    assert_true(fabs(d.age_seconds - 42.5) < 1e-9);
    assert_true(d.predicted);
    assert_true(d.lead_invocations == 22.0); /* flagged at 20, died in 42 */
    assert_true(fabs(d.lead_minutes - 22.5 / 60.0) < 1e-9);
    assert_true(d.have_error);
    assert_true(d.projected_seq == 50.5); /* what was said when flagged */
    assert_true(fabs(d.error_percent - 100.0 * 8.5 / 42.0) < 1e-9);
    assert_true(d.last_projected_seq == 43.25);
}

static void test_death_forms(void **state)
{
    (void)state;
    struct lw_death d;
    /* the error type alone, memory far from the limit (a runtime's own heap limit) */
    struct lw_state s = oom_state("error", "Runtime.OutOfMemory", 100);
    lw_death_assess(&s, &d);
    assert_int_equal(d.oom_forms, LW_OOM_ERROR_TYPE);
    /* an error at the limit without the error type */
    s = oom_state("error", "Runtime.ExitError", 256);
    lw_death_assess(&s, &d);
    assert_int_equal(d.cause, LW_DEATH_OUT_OF_MEMORY);
    assert_true(d.oom_forms & LW_OOM_ERROR_AT_LIMIT);
    /* a timeout at the limit: out of memory, not a timeout */
    s = oom_state("timeout", "Sandbox.Timedout", 256);
    snprintf(s.shutdown_reason, sizeof(s.shutdown_reason), "timeout");
    lw_death_assess(&s, &d);
    assert_int_equal(d.cause, LW_DEATH_OUT_OF_MEMORY);
    assert_int_equal(d.oom_forms, LW_OOM_TIMEOUT_AT_LIMIT);
    /* a plain timeout */
    s = oom_state("timeout", "Sandbox.Timedout", 120);
    snprintf(s.shutdown_reason, sizeof(s.shutdown_reason), "timeout");
    lw_death_assess(&s, &d);
    assert_int_equal(d.cause, LW_DEATH_TIMEOUT);
    assert_int_equal(d.oom_forms, 0);
    assert_false(d.predicted);
    /* a crash: an error far from the limit */
    s = oom_state("error", "Runtime.ExitError", 100);
    s.env_rss_max_bytes = 100 * MIB;
    lw_death_assess(&s, &d);
    assert_int_equal(d.cause, LW_DEATH_CRASH);
    /* a clean spindown */
    s = oom_state("success", "", 100);
    snprintf(s.shutdown_reason, sizeof(s.shutdown_reason), "spindown");
    lw_death_assess(&s, &d);
    assert_int_equal(d.cause, LW_DEATH_SHUTDOWN);
    /* killed: no SHUTDOWN; the last reading near the limit makes it out of memory */
    s = sample();
    s.env_rss_max_bytes = 250 * MIB;
    lw_death_assess(&s, &d);
    assert_int_equal(d.cause, LW_DEATH_OUT_OF_MEMORY);
    assert_int_equal(d.oom_forms, LW_OOM_KILLED_AT_LIMIT);
    assert_int_equal(d.invocations, 42); /* the one opened at the last boundary */
    assert_true(d.predicted);
    /* and far from it: killed, cause unknown */
    s.env_rss_max_bytes = 100 * MIB;
    lw_death_assess(&s, &d);
    assert_int_equal(d.cause, LW_DEATH_KILLED);
    /* a report of an earlier invocation says nothing of the death */
    s = oom_state("error", "Runtime.OutOfMemory", 256);
    s.last_report_seq = 41;
    s.env_rss_max_bytes = 100 * MIB;
    lw_death_assess(&s, &d);
    assert_int_equal(d.cause, LW_DEATH_CRASH);
    for (uint32_t f = 1; f <= LW_OOM_FORM_LAST; f <<= 1)
        assert_non_null(lw_oom_form_name(f));
    assert_null(lw_oom_form_name(3));
}

/* The invocation a state says the environment died in, and how many of its records never went
 * out. */
static void assert_died_in(const struct lw_state *s, uint64_t invocation, uint64_t unwritten)
{
    struct lw_death d;
    lw_death_assess(s, &d);
    assert_int_equal(d.invocations, invocation);
    assert_int_equal(d.unwritten_records, unwritten);
}

static void test_death_unwritten_records(void **state)
{
    (void)state;
    memset(&rec, 0, sizeof(rec));
    /* a SHUTDOWN that closed the fatal invocation and wrote every record */
    struct lw_state s = oom_state("error", "Runtime.OutOfMemory", 256);
    s.verdict_seq = 42;
    assert_died_in(&s, 42, 0);
    /* a SHUTDOWN cut short before the last two went out */
    s.verdict_seq = 40;
    assert_died_in(&s, 42, 2);

    /* killed in invocation 43, opened after 42 was closed and written: that one is lost */
    s = sample();
    s.last_seq = 42;
    s.verdict_seq = 42;
    lw_state_on_invoke(&s, "req-43");
    assert_died_in(&s, 43, 1);

    /* killed after its SHUTDOWN boundary closed invocation 43, before it said it ended: it died
     * in 43, not in one after it, and 43 was written or not as the verdict says */
    snprintf(rec.request_id, sizeof(rec.request_id), "req-43");
    rec.seq = 43;
    rec.end_time_ms = s.boundary_ms + 500;
    lw_state_on_record(&s, &rec);
    assert_true(s.open_closed);
    assert_died_in(&s, 43, 1);
    s.verdict_seq = 43;
    assert_died_in(&s, 43, 0);

    /* a record of another request (intervals have none) leaves the open one open */
    lw_state_on_invoke(&s, "req-44");
    snprintf(rec.request_id, sizeof(rec.request_id), "req-43");
    lw_state_on_record(&s, &rec);
    assert_false(s.open_closed);
}

static void test_death_not_predicted(void **state)
{
    (void)state;
    struct lw_death d;
    /* never flagged: one huge allocation */
    struct lw_state s = oom_state("error", "Runtime.OutOfMemory", 256);
    s.flagged = false;
    s.have_projection = false;
    s.verdict = LW_VERDICT_STEADY;
    lw_death_assess(&s, &d);
    assert_int_equal(d.cause, LW_DEATH_OUT_OF_MEMORY);
    assert_false(d.predicted);
    assert_false(d.have_error);
    /* flagged once, but the verdict had been withdrawn */
    s = oom_state("error", "Runtime.OutOfMemory", 256);
    s.verdict = LW_VERDICT_WARMING;
    s.have_projection = false;
    lw_death_assess(&s, &d);
    assert_false(d.predicted);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_decode_round_trip),
        cmocka_unit_test(test_encode_too_small_is_refused),
        cmocka_unit_test(test_encode_bytes_as_before),
        cmocka_unit_test(test_decode_refuses_other_shapes),
        cmocka_unit_test(test_frame_bytes_as_before),
        cmocka_unit_test(test_unframe_takes_the_newest_valid_slot),
        cmocka_unit_test(test_every_cut_write_yields_old_or_new),
        cmocka_unit_test(test_truncated_and_corrupt_files),
        cmocka_unit_test(test_writer_and_take),
        cmocka_unit_test(test_on_record_keeps_complete_readings_only),
        cmocka_unit_test(test_on_verdict_keeps_first_flag_and_latest_projection),
        cmocka_unit_test(test_death_out_of_memory_predicted),
        cmocka_unit_test(test_death_forms),
        cmocka_unit_test(test_death_unwritten_records),
        cmocka_unit_test(test_death_not_predicted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
