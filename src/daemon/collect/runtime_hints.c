/*
 * The runtime's heap ceiling from its command line and environment (runtime_hints.h). Every
 * value is parsed the way the runtime itself would take it, and one it would reject is ignored:
 * a ceiling leakwatch made up would excuse a leak.
 */
#include <leakwatch/runtime_hints.h>

#include <leakwatch/text.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define TOKEN_MAX 128 /* an option longer than this is no heap setting */
#define MIB (1024ull * 1024ull)
#define JVM_DEFAULT_PERMILLE 250     /* -XX:MaxRAMPercentage's default, 25 */
#define LAMBDA_JAVA_PERMILLE 850     /* Lambda's Java runtime: -XX:MaxHeapSize 85% of memory */
#define LAMBDA_NODE_PERMILLE 1050    /* Lambda's Node.js runtime: 90% old space + 3 x 5% */
#define LAMBDA_NODE_OLD_PERMILLE 900 /* of which the old space */
#define DOTNET_DEFAULT_PERMILLE 750  /* .NET GC: 75% of a container's memory limit */
#define V8_SEMI_SPACE_DEFAULT_MIB 16 /* V8's default maximum semi-space on 64-bit */
#define V8_YOUNG_SEMI_SPACES 3       /* young generation: two semi-spaces and the new large space */

/* The setting being decided, with what it came from. */
struct setting {
    bool set;
    uint64_t value;
    enum lw_heap_source source;
    char origin[32];
};

struct jvm {
    struct setting max_heap; /* bytes */
    struct setting max_ram;  /* bytes */
    struct setting ram_pct;  /* permille */
};

struct node {
    struct setting old_mib;
    struct setting semi_mib;
    bool after_script; /* the command line's arguments after the script are the script's */
    bool want_old;     /* the previous token was the flag of a two-token "--flag value" */
    bool want_semi;
};

static void put(struct setting *s, uint64_t value, enum lw_heap_source source, const char *origin,
                size_t origin_len)
{
    s->set = true;
    s->value = value;
    s->source = source;
    size_t n = lw_text_utf8_cut(origin, origin_len, sizeof(s->origin) - 1);
    memcpy(s->origin, origin, n);
    s->origin[n] = '\0';
    /* the origin goes into a reason sentence and a log line: printable ASCII only */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s->origin[i] < 0x20 || (unsigned char)s->origin[i] > 0x7e)
            s->origin[i] = '?';
}

/* A JVM size: digits and an optional k, m, g or t (either case); bytes without. Must be > 0. */
static bool parse_jvm_size(const char *s, size_t n, uint64_t *out)
{
    uint64_t mult = 1;
    if (n > 0) {
        switch (s[n - 1]) {
        case 'k':
        case 'K':
            mult = 1024ull;
            break;
        case 'm':
        case 'M':
            mult = MIB;
            break;
        case 'g':
        case 'G':
            mult = 1024ull * MIB;
            break;
        case 't':
        case 'T':
            mult = 1024ull * 1024ull * MIB;
            break;
        default:
            break;
        }
        if (mult > 1)
            n--;
    }
    uint64_t v;
    if (!lw_text_parse_u64(s, n, &v) || v == 0 || v > UINT64_MAX / mult)
        return false;
    *out = v * mult;
    return true;
}

/* A percentage as the JVM takes MaxRAMPercentage (a double in [0, 100]), in permille, > 0. */
static bool parse_percent_permille(const char *s, size_t n, uint64_t *out)
{
    const char *dot = memchr(s, '.', n);
    size_t int_len = dot ? (size_t)(dot - s) : n;
    uint64_t whole;
    if (!lw_text_parse_u64(s, int_len, &whole) || whole > 100)
        return false;
    uint64_t tenths = 0;
    if (dot) {
        size_t frac_len = n - int_len - 1;
        if (frac_len == 0)
            return false;
        for (size_t i = 0; i < frac_len; i++)
            if (dot[1 + i] < '0' || dot[1 + i] > '9')
                return false;
        tenths = (uint64_t)(dot[1] - '0');
    }
    uint64_t permille = whole * 10 + tenths;
    if (permille == 0 || permille > 1000)
        return false;
    *out = permille;
    return true;
}

/* A .NET configuration number: hexadecimal, with or without 0x. */
static bool parse_hex(const char *s, size_t n, uint64_t *out)
{
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        n -= 2;
    }
    return lw_text_parse_hex_u64(s, n, out);
}

static bool has_prefix(const char *s, size_t n, const char *prefix, size_t *plen)
{
    size_t p = strlen(prefix);
    if (n < p || memcmp(s, prefix, p) != 0)
        return false;
    *plen = p;
    return true;
}

static void jvm_token(struct jvm *j, const char *t, size_t n, enum lw_heap_source src)
{
    size_t p;
    uint64_t v;
    if ((has_prefix(t, n, "-Xmx", &p) || has_prefix(t, n, "-XX:MaxHeapSize=", &p)) &&
        parse_jvm_size(t + p, n - p, &v))
        put(&j->max_heap, v, src, t, n);
    else if (has_prefix(t, n, "-XX:MaxRAMPercentage=", &p) &&
             parse_percent_permille(t + p, n - p, &v))
        put(&j->ram_pct, v, src, t, n);
    else if (has_prefix(t, n, "-XX:MaxRAM=", &p) && parse_jvm_size(t + p, n - p, &v))
        put(&j->max_ram, v, src, t, n);
}

/* V8 takes its flags with '-' or '_' between words, and "--flag=value" or "--flag value". */
static bool v8_flag(const char *t, size_t n, const char *dashed, size_t *value_at, bool *two)
{
    size_t p = strlen(dashed);
    if (n < p)
        return false;
    for (size_t i = 0; i < p; i++) {
        char c = t[i] == '_' && i >= 2 ? '-' : t[i];
        if (c != dashed[i])
            return false;
    }
    if (n == p) {
        *two = true;
        return true;
    }
    if (t[p] != '=')
        return false;
    *two = false;
    *value_at = p + 1;
    return true;
}

static void node_token(struct node *nd, const char *t, size_t n, enum lw_heap_source src,
                       bool cmdline)
{
    uint64_t v;
    if (nd->want_old || nd->want_semi) {
        struct setting *s = nd->want_old ? &nd->old_mib : &nd->semi_mib;
        const char *flag = nd->want_old ? "--max-old-space-size" : "--max-semi-space-size";
        nd->want_old = nd->want_semi = false;
        if (lw_text_parse_u64(t, n, &v) && v > 0 && v <= UINT64_MAX / MIB)
            put(s, v, src, flag, strlen(flag));
        return;
    }
    if (cmdline && (n == 0 || t[0] != '-' || (n == 2 && t[1] == '-'))) {
        nd->after_script = true; /* the script, or "--": what follows is the script's */
        return;
    }
    size_t at = 0;
    bool two = false;
    struct setting *s = NULL;
    if (v8_flag(t, n, "--max-old-space-size", &at, &two)) {
        s = &nd->old_mib;
        nd->want_old = two;
    } else if (v8_flag(t, n, "--max-semi-space-size", &at, &two)) {
        s = &nd->semi_mib;
        nd->want_semi = two;
    }
    if (s && !two && lw_text_parse_u64(t + at, n - at, &v) && v > 0 && v <= UINT64_MAX / MIB)
        put(s, v, src, t, n);
}

/* The value of NAME in environ: the first complete "NAME=value" string. */
static bool env_get(const char *env, size_t len, const char *name, const char **val, size_t *vlen)
{
    size_t nlen = strlen(name);
    const char *p = env, *end = env + len;
    while (p < end) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        if (nul == NULL)
            return false; /* cut off by the read: never a value */
        size_t slen = (size_t)(nul - p);
        if (slen > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
            *val = p + nlen + 1;
            *vlen = slen - nlen - 1;
            return true;
        }
        p = nul + 1;
    }
    return false;
}

enum target { T_JVM, T_NODE };

/*
 * Splits an option string (JAVA_TOOL_OPTIONS, NODE_OPTIONS) at ASCII white space; a quoted
 * part ("..." or '...') is taken without its quotes, as both runtimes do. A token longer than
 * TOKEN_MAX is skipped whole.
 */
static void each_option(const char *s, size_t n, enum target tg, void *state,
                        enum lw_heap_source src)
{
    char tok[TOKEN_MAX];
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
            i++;
        if (i >= n)
            break;
        size_t tl = 0;
        bool too_long = false;
        char quote = 0;
        for (; i < n; i++) {
            char c = s[i];
            if (quote) {
                if (c == quote) {
                    quote = 0;
                    continue;
                }
            } else if (c == '"' || c == '\'') {
                quote = c;
                continue;
            } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                break;
            }
            if (tl < sizeof(tok))
                tok[tl++] = c;
            else
                too_long = true;
        }
        if (too_long)
            continue;
        if (tg == T_JVM)
            jvm_token(state, tok, tl, src);
        else
            node_token(state, tok, tl, src, false);
    }
}

/* The runtime from argv[0]'s base name. */
static enum lw_runtime_kind kind_of_argv0(const char *a, size_t n)
{
    const char *slash = NULL;
    for (size_t i = 0; i < n; i++)
        if (a[i] == '/')
            slash = a + i;
    if (slash) {
        n -= (size_t)(slash + 1 - a);
        a = slash + 1;
    }
    if ((n == 4 && memcmp(a, "node", 4) == 0) || (n == 6 && memcmp(a, "nodejs", 6) == 0))
        return LW_RUNTIME_NODE;
    if (n == 4 && memcmp(a, "java", 4) == 0)
        return LW_RUNTIME_JVM;
    if (n == 6 && memcmp(a, "dotnet", 6) == 0)
        return LW_RUNTIME_DOTNET;
    if (n >= 6 && memcmp(a, "python", 6) == 0)
        return LW_RUNTIME_PYTHON;
    return LW_RUNTIME_UNKNOWN;
}

/* The runtime from AWS_EXECUTION_ENV ("AWS_Lambda_nodejs20.x", "AWS_Lambda_java21", ...). */
static enum lw_runtime_kind kind_of_execution_env(const char *v, size_t n, bool *lambda)
{
    static const struct {
        const char *prefix;
        enum lw_runtime_kind kind;
    } map[] = {{"AWS_Lambda_nodejs", LW_RUNTIME_NODE},
               {"AWS_Lambda_java", LW_RUNTIME_JVM},
               {"AWS_Lambda_dotnet", LW_RUNTIME_DOTNET},
               {"AWS_Lambda_python", LW_RUNTIME_PYTHON}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        size_t p;
        if (has_prefix(v, n, map[i].prefix, &p)) {
            *lambda = true;
            return map[i].kind;
        }
    }
    return LW_RUNTIME_UNKNOWN;
}

static void from_setting(struct lw_runtime_hint *out, const struct setting *s, uint64_t bytes,
                         uint32_t permille)
{
    out->source = s->source;
    out->heap_max_bytes = bytes;
    out->heap_max_permille = permille;
    memcpy(out->origin, s->origin, sizeof(out->origin));
}

static void set_default(struct lw_runtime_hint *out, uint32_t permille, const char *origin)
{
    out->source = LW_HEAP_DEFAULT;
    out->heap_max_bytes = 0;
    out->heap_max_permille = permille;
    snprintf(out->origin, sizeof(out->origin), "%s", origin);
}

static void decide_jvm(const char *cmd, size_t cmd_len, const char *env, size_t env_len,
                       bool lambda, struct lw_runtime_hint *out)
{
    struct jvm j;
    memset(&j, 0, sizeof(j));
    /* The JVM's order: JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS (the launcher), the command line,
     * _JAVA_OPTIONS; a later setting of the same option wins. */
    const char *v;
    size_t vn;
    if (env_get(env, env_len, "JAVA_TOOL_OPTIONS", &v, &vn))
        each_option(v, vn, T_JVM, &j, LW_HEAP_ENVIRON);
    if (env_get(env, env_len, "JDK_JAVA_OPTIONS", &v, &vn))
        each_option(v, vn, T_JVM, &j, LW_HEAP_ENVIRON);
    const char *p = cmd, *end = cmd + cmd_len;
    bool first = true;
    while (p < end) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        if (nul == NULL)
            break;
        if (!first)
            jvm_token(&j, p, (size_t)(nul - p), LW_HEAP_CMDLINE);
        first = false;
        p = nul + 1;
    }
    if (env_get(env, env_len, "_JAVA_OPTIONS", &v, &vn))
        each_option(v, vn, T_JVM, &j, LW_HEAP_ENVIRON);

    if (j.max_heap.set) {
        from_setting(out, &j.max_heap, j.max_heap.value, 0);
    } else if (j.max_ram.set) {
        uint64_t pct = j.ram_pct.set ? j.ram_pct.value : JVM_DEFAULT_PERMILLE;
        from_setting(out, &j.max_ram, j.max_ram.value / 1000 * pct, 0);
    } else if (j.ram_pct.set) {
        from_setting(out, &j.ram_pct, 0, (uint32_t)j.ram_pct.value);
    } else if (lambda) {
        set_default(out, LAMBDA_JAVA_PERMILLE, "Lambda's 85% heap");
    } else {
        set_default(out, JVM_DEFAULT_PERMILLE, "MaxRAMPercentage 25");
    }
}

static void decide_node(const char *cmd, size_t cmd_len, const char *env, size_t env_len,
                        bool lambda, struct lw_runtime_hint *out)
{
    struct node nd;
    memset(&nd, 0, sizeof(nd));
    const char *v;
    size_t vn;
    /* NODE_OPTIONS is read first: the command line's flags override it */
    if (env_get(env, env_len, "NODE_OPTIONS", &v, &vn))
        each_option(v, vn, T_NODE, &nd, LW_HEAP_ENVIRON);
    nd.want_old = nd.want_semi = false;
    const char *p = cmd, *end = cmd + cmd_len;
    bool first = true;
    while (p < end && !nd.after_script) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        if (nul == NULL)
            break;
        if (!first)
            node_token(&nd, p, (size_t)(nul - p), LW_HEAP_CMDLINE, true);
        first = false;
        p = nul + 1;
    }
    if (nd.old_mib.set) {
        uint64_t semi = nd.semi_mib.set ? nd.semi_mib.value : V8_SEMI_SPACE_DEFAULT_MIB;
        uint64_t mib = nd.old_mib.value + V8_YOUNG_SEMI_SPACES * semi;
        if (mib >= nd.old_mib.value && mib <= UINT64_MAX / MIB) {
            from_setting(out, &nd.old_mib, mib * MIB, 0);
            out->old_space_bytes = nd.old_mib.value * MIB;
        }
    } else if (lambda) {
        set_default(out, LAMBDA_NODE_PERMILLE, "Lambda's 90% old space");
        out->old_space_permille = LAMBDA_NODE_OLD_PERMILLE;
    }
}

static void decide_dotnet(const char *env, size_t env_len, struct lw_runtime_hint *out)
{
    static const char *const limits[] = {"DOTNET_GCHeapHardLimit", "COMPlus_GCHeapHardLimit"};
    static const char *const pcts[] = {"DOTNET_GCHeapHardLimitPercent",
                                       "COMPlus_GCHeapHardLimitPercent"};
    const char *v;
    size_t vn;
    uint64_t x;
    struct setting s;
    for (size_t i = 0; i < 2; i++) {
        if (env_get(env, env_len, limits[i], &v, &vn) && parse_hex(v, vn, &x) && x > 0) {
            memset(&s, 0, sizeof(s));
            put(&s, x, LW_HEAP_ENVIRON, limits[i], strlen(limits[i]));
            from_setting(out, &s, x, 0);
            return;
        }
    }
    for (size_t i = 0; i < 2; i++) {
        if (env_get(env, env_len, pcts[i], &v, &vn) && parse_hex(v, vn, &x) && x > 0 && x <= 100) {
            memset(&s, 0, sizeof(s));
            put(&s, x, LW_HEAP_ENVIRON, pcts[i], strlen(pcts[i]));
            from_setting(out, &s, 0, (uint32_t)(x * 10));
            return;
        }
    }
    set_default(out, DOTNET_DEFAULT_PERMILLE, "GC default 75%");
}

/* LEAKWATCH_PROBE as leakwatch's exec wrapper sets it: the runtime's name, or "off: <why>". */
static void note_probe(const char *v, size_t n, struct lw_runtime_hint *out)
{
    static const struct {
        const char *name;
        enum lw_probe_kind kind;
    } kinds[] = {{"node", LW_PROBE_NODE}, {"python", LW_PROBE_PYTHON}, {"jvm", LW_PROBE_JVM}};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (n == strlen(kinds[i].name) && memcmp(v, kinds[i].name, n) == 0) {
            out->probe = kinds[i].kind;
            return;
        }
    }
    out->probe = LW_PROBE_OFF;
    size_t skip;
    const char *why = v;
    if (has_prefix(v, n, "off: ", &skip)) {
        why += skip;
        n -= skip;
    } else {
        why = "LEAKWATCH_PROBE not understood";
        n = strlen(why);
    }
    if (n > sizeof(out->probe_note) - 1)
        n = sizeof(out->probe_note) - 1;
    /* it goes into a log line: printable ASCII only */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)why[i];
        out->probe_note[i] = c >= 0x20 && c <= 0x7e ? (char)c : '?';
    }
    out->probe_note[n] = '\0';
}

void lw_runtime_hints_parse(const char *cmdline, size_t cmdline_len, const char *environ,
                            size_t environ_len, struct lw_runtime_hint *out)
{
    memset(out, 0, sizeof(*out));
    /* NULL is taken as empty (and never offset: NULL + 0 is undefined in C) */
    if (cmdline == NULL) {
        cmdline = "";
        cmdline_len = 0;
    }
    if (environ == NULL) {
        environ = "";
        environ_len = 0;
    }
    const char *nul = cmdline_len ? memchr(cmdline, '\0', cmdline_len) : NULL;
    if (nul != NULL)
        out->kind = kind_of_argv0(cmdline, (size_t)(nul - cmdline));
    bool lambda = false;
    const char *v;
    size_t vn;
    if (env_get(environ, environ_len, "AWS_EXECUTION_ENV", &v, &vn)) {
        enum lw_runtime_kind k = kind_of_execution_env(v, vn, &lambda);
        if (out->kind == LW_RUNTIME_UNKNOWN)
            out->kind = k;
        else if (k != out->kind)
            lambda = false; /* a custom runtime: Lambda's defaults are not its own */
    }
    switch (out->kind) {
    case LW_RUNTIME_JVM:
        decide_jvm(cmdline, cmdline_len, environ, environ_len, lambda, out);
        break;
    case LW_RUNTIME_NODE:
        decide_node(cmdline, cmdline_len, environ, environ_len, lambda, out);
        break;
    case LW_RUNTIME_DOTNET:
        decide_dotnet(environ, environ_len, out);
        break;
    case LW_RUNTIME_PYTHON:
    case LW_RUNTIME_UNKNOWN:
    case LW_RUNTIME_KIND_COUNT:
        break;
    }
    if (env_get(environ, environ_len, "LEAKWATCH_PROBE", &v, &vn))
        note_probe(v, vn, out);
}

uint64_t lw_runtime_hint_heap_bytes(const struct lw_runtime_hint *h, uint64_t memory_limit_bytes)
{
    if (h->source == LW_HEAP_UNKNOWN)
        return 0;
    if (h->heap_max_bytes)
        return h->heap_max_bytes;
    if (h->heap_max_permille == 0 || memory_limit_bytes == 0)
        return 0;
    return memory_limit_bytes / 1000 * h->heap_max_permille;
}

uint64_t lw_runtime_hint_old_space_bytes(const struct lw_runtime_hint *h,
                                         uint64_t memory_limit_bytes)
{
    if (h->old_space_bytes)
        return h->old_space_bytes;
    if (h->old_space_permille == 0 || memory_limit_bytes == 0)
        return 0;
    return memory_limit_bytes / 1000 * h->old_space_permille;
}

const char *lw_runtime_kind_name(enum lw_runtime_kind kind)
{
    switch (kind) {
    case LW_RUNTIME_NODE:
        return "node";
    case LW_RUNTIME_JVM:
        return "jvm";
    case LW_RUNTIME_DOTNET:
        return "dotnet";
    case LW_RUNTIME_PYTHON:
        return "python";
    case LW_RUNTIME_UNKNOWN:
    case LW_RUNTIME_KIND_COUNT:
        break;
    }
    return "unknown";
}

const char *lw_heap_source_name(enum lw_heap_source source)
{
    switch (source) {
    case LW_HEAP_CMDLINE:
        return "command line";
    case LW_HEAP_ENVIRON:
        return "environment";
    case LW_HEAP_DEFAULT:
        return "default";
    case LW_HEAP_UNKNOWN:
        break;
    }
    return "unknown";
}
