#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <leakwatch/hosts.h>

#define NAME "sandbox.localdomain"

struct hosts_case {
    const char *what;
    const char *text;
    enum lw_err err;
    int family;
    const char *addr; /* the address text found */
};

static const struct hosts_case cases[] = {
    {"a Lambda-like file", "127.0.0.1\tlocalhost\n169.254.100.1 sandbox.localdomain sandbox\n",
     LW_OK, AF_INET, "169.254.100.1"},
    {"an alias among others", "127.0.0.2 a b sandbox.localdomain c\n", LW_OK, AF_INET, "127.0.0.2"},
    {"names compare without case", "127.0.0.3 Sandbox.LocalDomain\n", LW_OK, AF_INET, "127.0.0.3"},
    {"the first IPv4 entry wins", "127.0.0.4 sandbox.localdomain\n127.0.0.5 sandbox.localdomain\n",
     LW_OK, AF_INET, "127.0.0.4"},
    {"IPv4 before an earlier IPv6 entry",
     "::1 sandbox.localdomain\n127.0.0.6 sandbox.localdomain\n", LW_OK, AF_INET, "127.0.0.6"},
    {"IPv6 when there is nothing else", "::1 localhost\n::1 sandbox.localdomain\n", LW_OK, AF_INET6,
     "::1"},
    {"CRLF line ends", "127.0.0.7 sandbox.localdomain\r\n", LW_OK, AF_INET, "127.0.0.7"},
    {"no final newline", "127.0.0.8 sandbox.localdomain", LW_OK, AF_INET, "127.0.0.8"},
    {"a commented-out entry", "#127.0.0.9 sandbox.localdomain\n", LW_ERR_NOT_FOUND, 0, ""},
    {"a comment after the address", "127.0.0.10 # sandbox.localdomain\n", LW_ERR_NOT_FOUND, 0, ""},
    {"a comment glued to the name", "127.0.0.11 sandbox.localdomain#x\n", LW_OK, AF_INET,
     "127.0.0.11"},
    {"a longer name is another name", "127.0.0.12 sandbox.localdomain.example\n", LW_ERR_NOT_FOUND,
     0, ""},
    {"the name as the address", "sandbox.localdomain 127.0.0.13\n", LW_ERR_NOT_FOUND, 0, ""},
    {"a bad address is skipped", "300.0.0.1 sandbox.localdomain\n127.0.0.14 sandbox.localdomain\n",
     LW_OK, AF_INET, "127.0.0.14"},
    {"a zone is not an address", "fe80::1%eth0 sandbox.localdomain\n", LW_ERR_NOT_FOUND, 0, ""},
    {"a wildcard is reported as it is", "0.0.0.0 sandbox.localdomain\n", LW_OK, AF_INET, "0.0.0.0"},
    {"not named at all", "127.0.0.1 localhost\n127.0.0.1 runsc\n", LW_ERR_NOT_FOUND, 0, ""},
    {"empty", "", LW_ERR_NOT_FOUND, 0, ""},
};

static void test_lookup_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct hosts_case *c = &cases[i];
        struct lw_hosts_addr a;
        print_message("%s\n", c->what);
        /* an exact-size copy: nothing may read past the end */
        size_t len = strlen(c->text);
        char *buf = malloc(len + 1);
        assert_non_null(buf);
        memcpy(buf, c->text, len);
        assert_int_equal(lw_hosts_lookup(buf, len, NAME, &a), c->err);
        assert_int_equal(a.family, c->family);
        assert_string_equal(a.text, c->addr);
        free(buf);
    }
}

/* A file read short (any prefix) never finds an address the whole file would not give, except
 * one whose line was cut inside the address itself. */
static void test_every_prefix(void **state)
{
    (void)state;
    const char *text = "127.0.0.1 localhost\n::1 sandbox.localdomain\n"
                       "169.254.100.1 sandbox.localdomain\n";
    size_t len = strlen(text);
    for (size_t n = 0; n <= len; n++) {
        struct lw_hosts_addr a;
        enum lw_err err = lw_hosts_lookup(text, n, NAME, &a);
        if (err == LW_OK)
            assert_true(strcmp(a.text, "::1") == 0 || strcmp(a.text, "169.254.100.1") == 0);
        else
            assert_int_equal(err, LW_ERR_NOT_FOUND);
    }
}

static void test_bytes_and_wildcards(void **state)
{
    (void)state;
    struct lw_hosts_addr a;
    assert_int_equal(lw_hosts_lookup("169.254.100.1 sandbox.localdomain\n", 34, NAME, &a), LW_OK);
    assert_memory_equal(a.bytes, "\xa9\xfe\x64\x01", 4);
    assert_false(lw_hosts_addr_is_wildcard(&a));
    assert_int_equal(lw_hosts_lookup("0.0.0.0 sandbox.localdomain\n", 28, NAME, &a), LW_OK);
    assert_true(lw_hosts_addr_is_wildcard(&a));
    assert_int_equal(lw_hosts_lookup(":: sandbox.localdomain\n", 23, NAME, &a), LW_OK);
    assert_int_equal(a.family, AF_INET6);
    assert_true(lw_hosts_addr_is_wildcard(&a));
    /* a NUL in the file ends its line for the C library too */
    assert_int_equal(lw_hosts_lookup("127.0.0.1\0 sandbox.localdomain\n", 32, NAME, &a),
                     LW_ERR_NOT_FOUND);
    assert_int_equal(lw_hosts_lookup("127.0.0.1 sandbox.localdomain\n", 30, "", &a),
                     LW_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_table),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_bytes_and_wildcards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
