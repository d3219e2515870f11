/*
 * The address a hosts file (hosts(5), /etc/hosts) gives a name: where the telemetry listener
 * binds. Pure: the caller reads the file (bounded) and passes its bytes; nothing here allocates
 * or resolves through DNS.
 *
 * Why a file and not the resolver: Lambda delivers telemetry to http://sandbox.localdomain:PORT,
 * and the listener must accept on that address and no other (a wildcard bind would take
 * connections from every network the machine is on, outside Lambda too). getaddrinfo() would
 * fall through to DNS for a name the file lacks: that could block init on a VPC resolver, and a
 * VPC's own DNS may answer with an address elsewhere; the C library has no call that reads only
 * the file, and none that reads given bytes (to test and fuzz). The hosts file is local, instant
 * and what the platform's own lookup reads first.
 * Where the file does not name it (AWS's RIE in a container, a laptop, CI), the caller falls back
 * to 127.0.0.1: local emulators deliver there.
 *
 * The format: one entry per line, an IPv4 or IPv6 address then one or more names separated by
 * blanks; "#" starts a comment anywhere in a line; names compare without case. Lines that do not
 * parse are skipped, as the C library skips them.
 */
#ifndef LEAKWATCH_HOSTS_H
#define LEAKWATCH_HOSTS_H

#include <stdbool.h>
#include <stddef.h>

#include <leakwatch/err.h>

#define LW_HOSTS_ADDR_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

struct lw_hosts_addr {
    int family;                        /* AF_INET or AF_INET6 */
    unsigned char bytes[16];           /* network order; 4 bytes for AF_INET */
    char text[LW_HOSTS_ADDR_TEXT_MAX]; /* the address as the file wrote it */
};

/*
 * The address of name in text[0..len): the first IPv4 entry that lists it, else the first IPv6
 * one. LW_OK and *out filled; LW_ERR_NOT_FOUND when no entry names it (out is then zeroed).
 */
enum lw_err lw_hosts_lookup(const char *text, size_t len, const char *name,
                            struct lw_hosts_addr *out);

/* Whether the address is a wildcard (0.0.0.0 or ::): binding it would listen everywhere. */
bool lw_hosts_addr_is_wildcard(const struct lw_hosts_addr *addr);

#endif
