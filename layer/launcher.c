/*
 * /opt/extensions/leakwatch of a layer whose daemon is linked dynamically (build-layer
 * --libcurl debian): the file Lambda executes to start the extension. The default layer needs
 * no launcher: its daemon is one static program, and is /opt/extensions/leakwatch itself.
 *
 * The daemon is built on Debian, against a newer C library than Amazon Linux 2 (glibc 2.26) or
 * AL2023 (2.34) has, and it must never pick up the function's libraries either (LD_LIBRARY_PATH
 * ends in /opt/lib, which every layer may fill). So the layer carries the daemon with every
 * library it needs, the C library and its dynamic loader included, in its private folder:
 *
 *   /opt/extensions/leakwatch          this launcher (static: it needs nothing from the image)
 *   /opt/leakwatch/bin/leakwatch       the daemon
 *   /opt/leakwatch/lib/ld-linux-*.so.* the loader the daemon is started through
 *   /opt/leakwatch/lib/lib*.so.*       libc, libcurl and the rest
 *
 * This program only computes those paths from its own location and replaces itself with
 *
 *   <lib>/ld-linux-*.so.* --inhibit-cache --library-path <lib> --argv0 leakwatch
 *                          <bin>/leakwatch <original arguments...>
 *
 * --library-path replaces LD_LIBRARY_PATH for the daemon's own lookups, --inhibit-cache keeps
 * the image's /etc/ld.so.cache (which lists the image's own libc) out of every lookup, also of
 * later dlopen() calls. It is a C program rather than a shell script because the OS-only base
 * images promise no /bin/sh.
 *
 * The environment is passed on unchanged except for:
 *   - LEAKWATCH_EXTENSIONS_DIR=<the directory of this file> is added: under the loader,
 *     /proc/self/exe of the daemon names the loader, so the daemon cannot find it by itself.
 *   - LD_PRELOAD and LD_AUDIT are removed: the loader honours them even when started
 *     explicitly, and whatever they name was built for the image's C library, not ours.
 *
 * Any failure prints one line on stderr and exits with 127, which Lambda reports as an
 * extension launch failure together with that line in the function's log.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(LW_LAUNCHER_LOADER)
#define LOADER_NAME LW_LAUNCHER_LOADER
#elif defined(__x86_64__)
#define LOADER_NAME "ld-linux-x86-64.so.2"
#elif defined(__aarch64__)
#define LOADER_NAME "ld-linux-aarch64.so.1"
#else
#error "leakwatch layers exist for x86_64 and arm64 only"
#endif

/* Folders relative to the layer root (the parent of extensions/). */
#define PRIVATE_LIB_DIR "/leakwatch/lib"
#define DAEMON_PATH "/leakwatch/bin/leakwatch"
#define EXTENSIONS_DIR_VAR "LEAKWATCH_EXTENSIONS_DIR"

/* Arguments this launcher puts before the caller's own (loader, options, daemon). */
#define FIXED_ARGC 7

/*
 * Under an emulator (tests only): when built with -DLW_LAUNCHER_EMULATOR='"/usr/bin/qemu-aarch64"'
 * and -DLW_LAUNCHER_LOADER='"ld-linux-aarch64.so.1"' for this machine, the foreign loader is
 * started through that program, because a foreign-architecture execve() needs
 * binfmt_misc, a root-only kernel setting. Never defined for a layer build.
 */
#ifdef LW_LAUNCHER_EMULATOR
#define EMULATOR_ARGC 1
#else
#define EMULATOR_ARGC 0
#endif

static void write_all(const char *s)
{
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

/* One line on stderr: "leakwatch: <what>[ <path>][: <strerror(err)>]". Never returns. */
static void fail(const char *what, const char *path, int err)
{
    write_all("leakwatch: ");
    write_all(what);
    if (path != NULL) {
        write_all(" ");
        write_all(path);
    }
    if (err != 0) {
        write_all(": ");
        write_all(strerror(err));
    }
    write_all("\n");
    _exit(127);
}

/* dst = a + b, or fail: every path has the hard cap PATH_MAX. */
static void join(char *dst, const char *a, size_t a_len, const char *b)
{
    size_t b_len = strlen(b);
    if (a_len + b_len + 1 > PATH_MAX)
        fail("path too long:", b, 0);
    memcpy(dst, a, a_len);
    memcpy(dst + a_len, b, b_len + 1);
}

/* True when env entry e is NAME=... for the given name. */
static int is_var(const char *e, const char *name)
{
    size_t n = strlen(name);
    return strncmp(e, name, n) == 0 && e[n] == '=';
}

int main(int argc, char **argv)
{
    static char self[PATH_MAX];
    static char loader[PATH_MAX];
    static char lib_dir[PATH_MAX];
    static char daemon[PATH_MAX];
    static char dir_var[sizeof(EXTENSIONS_DIR_VAR) + PATH_MAX];
    extern char **environ;

    /*
     * Our own location. /proc/self/exe is exact even when Lambda starts us by a relative name;
     * argv[0] is the fallback only when it is absolute (procfs missing in some test sandboxes).
     */
    ssize_t self_len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (self_len < 0) {
        int err = errno;
        if (argc < 1 || argv[0] == NULL || argv[0][0] != '/')
            fail("cannot find own path: readlink /proc/self/exe", NULL, err);
        self_len = (ssize_t)strlen(argv[0]);
        if ((size_t)self_len >= sizeof(self))
            fail("own path too long:", argv[0], 0);
        memcpy(self, argv[0], (size_t)self_len);
    }
    self[self_len] = '\0';

    /* <root>/extensions/leakwatch: cut the file name, then the extensions folder. */
    char *slash = strrchr(self, '/');
    if (slash == NULL || slash == self)
        fail("unexpected own path:", self, 0);
    *slash = '\0';
    char *parent = strrchr(self, '/');
    if (parent == NULL)
        fail("unexpected own path:", self, 0);
    size_t root_len = (size_t)(parent - self);

    join(lib_dir, self, root_len, PRIVATE_LIB_DIR);
    join(loader, lib_dir, strlen(lib_dir), "/" LOADER_NAME);
    join(daemon, self, root_len, DAEMON_PATH);
    join(dir_var, EXTENSIONS_DIR_VAR "=", sizeof(EXTENSIONS_DIR_VAR), self);

    /* Clear messages for a broken layer, rather than the loader's generic ones. */
    if (access(loader, X_OK) != 0)
        fail("bundled loader not usable:", loader, errno);
    if (access(daemon, R_OK) != 0)
        fail("daemon not readable:", daemon, errno);

    /* The new environment: every entry but the dropped ones, plus ours. */
    size_t env_count = 0;
    for (char **e = environ; e != NULL && *e != NULL; e++)
        env_count++;
    char **env = calloc(env_count + 2, sizeof(*env));
    if (env == NULL)
        fail("out of memory", NULL, ENOMEM);
    size_t env_used = 0;
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        if (is_var(*e, EXTENSIONS_DIR_VAR) || is_var(*e, "LD_PRELOAD") || is_var(*e, "LD_AUDIT"))
            continue;
        env[env_used++] = *e;
    }
    env[env_used++] = dir_var;
    env[env_used] = NULL;

    size_t user_argc = argc > 1 ? (size_t)argc - 1 : 0;
    if (user_argc > (size_t)INT_MAX - FIXED_ARGC - EMULATOR_ARGC - 1)
        fail("too many arguments", NULL, 0);
    char **args = calloc(EMULATOR_ARGC + FIXED_ARGC + user_argc + 1, sizeof(*args));
    if (args == NULL)
        fail("out of memory", NULL, ENOMEM);
    size_t n = 0;
#ifdef LW_LAUNCHER_EMULATOR
    args[n++] = (char *)LW_LAUNCHER_EMULATOR;
#endif
    args[n++] = loader;
    args[n++] = (char *)"--inhibit-cache";
    args[n++] = (char *)"--library-path";
    args[n++] = lib_dir;
    args[n++] = (char *)"--argv0";
    args[n++] = (char *)"leakwatch";
    args[n++] = daemon;
    for (size_t i = 0; i < user_argc; i++)
        args[n++] = argv[i + 1];
    args[n] = NULL;

    execve(args[0], args, env);
    fail("cannot start", args[0], errno);
    return 127;
}
