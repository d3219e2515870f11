#include <leakwatch/hosts.h>

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* The next blank-separated word of line[*pos..end); false at the end of the line. */
static bool next_word(const char *line, size_t end, size_t *pos, const char **word,
                      size_t *word_len)
{
    size_t i = *pos;
    while (i < end && is_blank(line[i]))
        i++;
    if (i == end)
        return false;
    size_t start = i;
    while (i < end && !is_blank(line[i]))
        i++;
    *word = line + start;
    *word_len = i - start;
    *pos = i;
    return true;
}

/* An address word as inet_pton reads it: a copy with its NUL, within the longest address. */
static bool parse_addr(const char *word, size_t len, struct lw_hosts_addr *out)
{
    if (len == 0 || len >= sizeof(out->text))
        return false;
    char text[LW_HOSTS_ADDR_TEXT_MAX];
    memcpy(text, word, len);
    text[len] = '\0';
    struct lw_hosts_addr a;
    memset(&a, 0, sizeof(a));
    if (inet_pton(AF_INET, text, a.bytes) == 1)
        a.family = AF_INET;
    else if (inet_pton(AF_INET6, text, a.bytes) == 1)
        a.family = AF_INET6;
    else
        return false;
    memcpy(a.text, text, len + 1);
    *out = a;
    return true;
}

/* Whether the line text[0..end) (comment already cut) gives name an address; sets *out. */
static bool line_names(const char *line, size_t end, const char *name, size_t name_len,
                       struct lw_hosts_addr *out)
{
    size_t pos = 0;
    const char *word;
    size_t word_len;
    if (!next_word(line, end, &pos, &word, &word_len) || !parse_addr(word, word_len, out))
        return false;
    while (next_word(line, end, &pos, &word, &word_len)) {
        if (word_len == name_len && strncasecmp(word, name, name_len) == 0)
            return true;
    }
    return false;
}

enum lw_err lw_hosts_lookup(const char *text, size_t len, const char *name,
                            struct lw_hosts_addr *out)
{
    struct lw_hosts_addr v6;
    bool have_v6 = false;
    size_t name_len = strlen(name);
    memset(out, 0, sizeof(*out));
    memset(&v6, 0, sizeof(v6));
    if (name_len == 0)
        return LW_ERR_NOT_FOUND;
    size_t pos = 0;
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t line_len = nl != NULL ? (size_t)(nl - line) : len - pos;
        pos += line_len + 1;
        /* A NUL ends what the C library would read of the line, and so does a comment. */
        const char *nul = memchr(line, '\0', line_len);
        if (nul != NULL)
            line_len = (size_t)(nul - line);
        const char *hash = memchr(line, '#', line_len);
        if (hash != NULL)
            line_len = (size_t)(hash - line);
        struct lw_hosts_addr a;
        if (!line_names(line, line_len, name, name_len, &a))
            continue;
        if (a.family == AF_INET) {
            *out = a;
            return LW_OK;
        }
        if (!have_v6) {
            v6 = a;
            have_v6 = true;
        }
    }
    if (!have_v6)
        return LW_ERR_NOT_FOUND;
    *out = v6;
    return LW_OK;
}

bool lw_hosts_addr_is_wildcard(const struct lw_hosts_addr *addr)
{
    static const unsigned char zero[16];
    size_t n = addr->family == AF_INET ? 4 : 16;
    return memcmp(addr->bytes, zero, n) == 0;
}
