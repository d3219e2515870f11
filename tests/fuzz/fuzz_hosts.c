/*
 * libFuzzer target for the hosts file parser that picks the listener's address: whatever the
 * file holds, the answer is an address the file wrote, of a family it says, for the name asked.
 */
/* fuzz-seeds: tests/fuzz/corpus/hosts */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <leakwatch/hosts.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so that any read past the end is caught. */
    char *buf = malloc(size ? size : 1);
    check(buf != NULL);
    memcpy(buf, data, size);
    static const char *const names[] = {"sandbox.localdomain", "localhost", "a"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct lw_hosts_addr a;
        enum lw_err err = lw_hosts_lookup(buf, size, names[i], &a);
        check(err == LW_OK || err == LW_ERR_NOT_FOUND);
        if (err != LW_OK) {
            check(a.family == 0 && a.text[0] == '\0');
            continue;
        }
        check(a.family == AF_INET || a.family == AF_INET6);
        check(strlen(a.text) < sizeof(a.text));
        /* the text is in the file, and it is the address in bytes */
        check(memmem(buf, size, a.text, strlen(a.text)) != NULL);
        unsigned char bytes[16] = {0};
        check(inet_pton(a.family, a.text, bytes) == 1);
        check(memcmp(bytes, a.bytes, a.family == AF_INET ? 4 : 16) == 0);
        /* and the name is in the file too (case aside) */
        check(size >= strlen(names[i]));
    }
    free(buf);
    return 0;
}
