"""The libcurl the layer ships: Debian's curl source package, configured for what OTLP/HTTP needs
and nothing more, linked with Debian's static mbedTLS into one file, libcurl.so.4.

Why not Debian's libcurl4: it is built for every protocol and feature, and its closure is about
30 libraries (Kerberos, LDAP, RTMP, SSH, GnuTLS and OpenSSL, nettle, gmp, p11-kit, libidn2,
libpsl, brotli, zstd, nghttp2...), 15 MiB of the layer's 20. OTLP/HTTP needs HTTP/1.1, TLS
with one library, proxies (HTTPS_PROXY, NO_PROXY), the headers API (Retry-After) and zlib (to
decode a compressed answer; leakwatch compresses request bodies itself). The measurements
behind the choice of mbedTLS are in docs/performance.md ("Layer size and cold start").

The recipe, for one architecture:

1. Source: `apt-get source --download-only curl=<version>`, where <version> is the installed
   libcurl4-openssl-dev (the headers the daemon is compiled against, so the ABI and Debian's
   security patches are the same). It needs a deb-src entry (tests/install-deps adds one); once
   downloaded, the files stay in the cache. `dpkg-source -x` checks them against the .dsc.
2. Patches: Debian's series without its last two, 90_gnutls and 99_nss, exactly as Debian
   builds its OpenSSL flavour (those two only rename the library for the other flavours).
   Every file then gets the same time stamp, so make never tries to rerun the autotools.
3. configure with only HTTP, proxies, IPv6, the threaded resolver, zlib and mbedTLS; everything
   else disabled; Debian's hardening flags, -Os; `make -C lib`, nothing else (no tool, no docs,
   no tests).
4. Link: libcurl's own objects (internal symbols already hidden) with Debian's libmbedtls.a,
   libmbedx509.a and libmbedcrypto.a into libcurl.so.4, exporting the curl_* functions only;
   stripped. It needs libz.so.1 and libc.so.6, which the daemon loads anyway. The same objects
   also go into libcurl.a, which the layer's static daemon links with the same mbedTLS archives
   (LW_STATIC, docs/layer.md); libcurl.so.4 serves a dynamically linked daemon.

The result is cached under a key of everything that goes into it (source version, arguments,
compiler, the -dev packages' versions): a second build with the same inputs does not compile
again. Same inputs, same bytes: file prefixes are mapped and the link has no time stamps.
"""

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time

import layerlib as L

# Bumped when the recipe changes in a way the key below does not see.
RECIPE = 2

# Debian's OpenSSL flavour leaves out the last two patches of the series (debian/rules).
FLAVOUR_PATCHES = ["90_gnutls.patch", "99_nss.patch"]

CONFIGURE_ARGS = [
    "--enable-shared", "--disable-static", "--disable-dependency-tracking",
    "--enable-symbol-hiding", "--disable-manual", "--disable-libcurl-option",
    # Protocols: HTTP and HTTPS only.
    "--enable-http", "--disable-ftp", "--disable-file", "--disable-ldap", "--disable-ldaps",
    "--disable-rtsp", "--disable-dict", "--disable-telnet", "--disable-tftp", "--disable-pop3",
    "--disable-imap", "--disable-smb", "--disable-smtp", "--disable-gopher", "--disable-mqtt",
    "--disable-websockets",
    # Kept: proxies from HTTPS_PROXY/NO_PROXY (Basic authentication to them), IPv6, DNS in a
    # thread (the exporter's timeouts hold during a lookup), the headers API (Retry-After).
    "--enable-proxy", "--enable-http-auth", "--enable-ipv6", "--enable-threaded-resolver",
    "--enable-headers-api",
    # Features OTLP export never uses. The error texts stay (not --disable-verbose): without
    # them a refused connection and a failed certificate check both read "Error" in the log.
    "--disable-crypto-auth", "--disable-ntlm", "--disable-ntlm-wb",
    "--disable-tls-srp", "--disable-unix-sockets", "--disable-cookies", "--disable-doh",
    "--disable-mime", "--disable-netrc", "--disable-progress-meter", "--disable-dateparse",
    "--disable-get-easy-options", "--disable-alt-svc", "--disable-hsts",
    # Libraries: zlib and mbedTLS, nothing else.
    "--with-zlib", "--with-mbedtls",
    "--without-brotli", "--without-zstd", "--without-libpsl", "--without-libgsasl",
    "--without-libssh2", "--without-libssh", "--without-wolfssh", "--without-librtmp",
    "--without-libidn2", "--without-nghttp2", "--without-ngtcp2", "--without-nghttp3",
    "--without-quiche", "--without-msh3", "--without-hyper", "--without-gssapi",
    "--without-zsh-functions-dir", "--without-fish-functions-dir",
    # leakwatch passes the bundle it finds (src/daemon/export/http.c); this is only libcurl's
    # default. No CA directory: mbedTLS would parse every file in it at each TLS setup.
    "--with-ca-bundle=/etc/ssl/certs/ca-certificates.crt", "--without-ca-path",
]

# Debian's hardening (dpkg-buildflags, hardening=+all), -Os instead of -O2 (a few requests a
# minute), one section per function so that the link can drop what is never called.
CFLAGS = ["-Os", "-fstack-protector-strong", "-Wformat", "-Werror=format-security",
          "-ffunction-sections", "-fdata-sections"]
CPPFLAGS = ["-D_FORTIFY_SOURCE=2"]
LDFLAGS = ["-Wl,-z,relro", "-Wl,-z,now"]

MBEDTLS_ARCHIVES = ["libmbedtls.a", "libmbedx509.a", "libmbedcrypto.a"]
# Debian packages whose versions go into the cache key (the static archives, the headers).
KEY_PACKAGES = ["libmbedtls-dev", "zlib1g-dev", "libc6-dev"]

SONAME = "libcurl.so.4"
ARCHIVE = "libcurl.a"
FIXED_MTIME = 1577836800  # 2020-01-01, as the zip entries


class Built:
    def __init__(self, arch, lib_dir, licenses, seconds, cached):
        self.lib_dir = lib_dir  # holds libcurl.so.4 and libcurl.a
        # libcurl.a and what it needs, in link order (zlib and libc come with the daemon's own)
        self.static_libs = [os.path.join(lib_dir, ARCHIVE)] + mbedtls_archives(arch)
        self.licenses = licenses  # {file name in licenses/: source path}
        self.seconds = seconds
        self.cached = cached


def _check(cmd, what, log=None, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if log is not None:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"$ {' '.join(cmd)}\n{r.stdout}\n")
    if r.returncode != 0:
        raise L.LayerError(f"{what} failed ({' '.join(cmd[:3])} ...):\n{r.stdout[-4000:]}")
    return r.stdout


def package_version(pkg):
    r = L.run(["dpkg-query", "-W", "-f=${Version}", pkg])
    if r.returncode != 0 or not r.stdout.strip():
        raise L.LayerError(f"{pkg} is not installed (tests/install-deps installs it)")
    return r.stdout.strip()


def mbedtls_archives(arch):
    """Debian's static mbedTLS archives for arch, in link order."""
    archives = [os.path.join(f"/usr/lib/{arch.triplet}", a) for a in MBEDTLS_ARCHIVES]
    for a in archives:
        if not os.path.isfile(a):
            raise L.LayerError(f"{a} missing (libmbedtls-dev:{arch.deb_arch}, "
                               "tests/install-deps installs it)")
    return archives


def curl_version(arch):
    """The Debian version of curl the daemon is compiled against (libcurl4-openssl-dev)."""
    return package_version(f"libcurl4-openssl-dev:{arch.deb_arch}")


def fetch_source(cache, version):
    """Debian's curl source package, downloaded once, unpacked and patched: the source tree."""
    return fetch_debian_source(os.path.join(cache, "src"), "curl", version, FLAVOUR_PATCHES)


def fetch_debian_source(src_dir, package, version, skip=()):
    """Debian's source package package=version, downloaded once into src_dir, unpacked and
    patched with its series, less the patches in skip (which must end the series): the source
    tree. Earlier versions in src_dir are removed."""
    upstream = version.split(":", 1)[-1]
    tree = os.path.join(src_dir, f"{package}-{upstream}")
    stamp = os.path.join(tree, ".leakwatch-patched")
    if os.path.isfile(stamp):
        return tree
    os.makedirs(src_dir, exist_ok=True)
    dsc = os.path.join(src_dir, f"{package}_{upstream}.dsc")
    if not os.path.isfile(dsc):
        L.say(f"download Debian's source package {package}={version}")
        r = L.run(["apt-get", "source", "--download-only", f"{package}={version}"], cwd=src_dir)
        if r.returncode != 0 or not os.path.isfile(dsc):
            raise L.LayerError(
                f"apt-get source {package}={version} failed: {r.stderr.strip()[-800:]}\n"
                "It needs a deb-src entry for Debian (tests/install-deps adds one) and the "
                "installed -dev package to be the archive's current version.")
    shutil.rmtree(tree, ignore_errors=True)
    # Checks the tarballs against the .dsc (which apt checked against the signed index).
    _check(["dpkg-source", "--skip-patches", "-x", dsc, tree], "dpkg-source -x")
    series_file = os.path.join(tree, "debian", "patches", "series")
    series = []
    if os.path.isfile(series_file):
        with open(series_file, encoding="utf-8") as f:
            series = [ln.split()[0] for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    skip = list(skip)
    if skip and series[-len(skip):] != skip:
        raise L.LayerError(f"Debian's patch series of {package} {version} no longer ends with "
                           f"{skip}: check the recipe in layer/curlbuild.py")
    applied = series[:len(series) - len(skip)]
    for name in applied:
        _check(["patch", "-p1", "-s", "--no-backup-if-mismatch", "-i",
                os.path.join("debian", "patches", name)], f"patch {name}", cwd=tree)
    for dirpath, dirnames, files in os.walk(tree):
        for name in dirnames + files:
            os.utime(os.path.join(dirpath, name), (FIXED_MTIME, FIXED_MTIME),
                     follow_symlinks=False)
    with open(stamp, "w", encoding="utf-8") as f:
        f.write(f"{version}\n{' '.join(applied)}\n")
    keep = {os.path.basename(dsc), os.path.basename(tree)} | set(_dsc_files(dsc))
    for name in set(os.listdir(src_dir)) - keep:  # earlier versions' files and trees
        path = os.path.join(src_dir, name)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    return tree


def _dsc_files(dsc):
    """The file names a .dsc lists (its Files: field)."""
    names, inside = [], False
    with open(dsc, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                inside = False
            elif not line[0].isspace():
                inside = line.startswith("Files:")
            elif inside:
                names.append(line.split()[-1])
    return names


def _cache_key(arch, version, tree):
    with open(os.path.join(tree, "debian", "changelog"), "rb") as f:
        changelog = hashlib.sha256(f.read()).hexdigest()
    facts = {
        "recipe": RECIPE, "curl": version, "changelog": changelog, "arch": arch.name,
        "configure": CONFIGURE_ARGS, "cflags": CFLAGS, "cppflags": CPPFLAGS, "ldflags": LDFLAGS,
        "cc": L.run([arch.cc, "--version"]).stdout.splitlines()[:1],
        "packages": {p: package_version(f"{p}:{arch.deb_arch}") for p in KEY_PACKAGES},
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16], facts


def _licenses(tree):
    """The copyright files of what libcurl.so.4 is made of: curl's from its source package,
    mbedTLS's from the -dev package that holds the static archives."""
    return {"curl.copyright": os.path.join(tree, "debian", "copyright"),
            "libmbedtls-dev.copyright": "/usr/share/doc/libmbedtls-dev/copyright"}


def build(arch, cache, jobs):
    """libcurl.so.4 for arch, from the cache when the same inputs built it before."""
    cache = os.path.abspath(cache)
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".lock"), "w") as lock:
        # One build at a time per cache: the layer tests may run next to a layer build.
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(arch, cache, jobs)


def _build_locked(arch, cache, jobs):
    version = curl_version(arch)
    tree = fetch_source(cache, version)
    key, facts = _cache_key(arch, version, tree)
    out_dir = os.path.join(cache, f"libcurl-{arch.name}-{key}")
    lib = os.path.join(out_dir, SONAME)
    archive = os.path.join(out_dir, ARCHIVE)
    if all(os.path.isfile(p) for p in (os.path.join(out_dir, "facts.json"), lib, archive)):
        return Built(arch, out_dir, _licenses(tree), 0.0, True)

    t0 = time.monotonic()
    for stale in os.listdir(cache):  # one build per architecture is kept
        if stale.startswith(f"libcurl-{arch.name}-") or stale == f"build-{arch.name}":
            shutil.rmtree(os.path.join(cache, stale), ignore_errors=True)
    work = os.path.join(cache, f"build-{arch.name}")
    os.makedirs(work)
    log = os.path.join(cache, f"build-{arch.name}.log")
    with open(log, "w", encoding="utf-8") as f:
        f.write(json.dumps(facts, indent=1, sort_keys=True) + "\n")

    build_triplet = L.run(["cc", "-dumpmachine"]).stdout.strip()
    prefix_maps = [f"-ffile-prefix-map={tree}=curl", f"-ffile-prefix-map={work}=build"]
    env = dict(os.environ, CC=arch.cc, LC_ALL="C",
               CFLAGS=" ".join(CFLAGS + prefix_maps), CPPFLAGS=" ".join(CPPFLAGS),
               LDFLAGS=" ".join(LDFLAGS), PKG_CONFIG="pkg-config",
               PKG_CONFIG_LIBDIR=f"/usr/lib/{arch.triplet}/pkgconfig:/usr/share/pkgconfig",
               PKG_CONFIG_PATH="")
    L.say(f"[{arch.name}] configure libcurl {version} (HTTP, mbedTLS)")
    t_conf = time.monotonic()
    _check([os.path.join(tree, "configure"), f"--host={arch.triplet}",
            f"--build={build_triplet}", *CONFIGURE_ARGS], "libcurl configure", log,
           cwd=work, env=env)
    t_make = time.monotonic()
    L.say(f"[{arch.name}] build libcurl")
    _check(["make", "-C", "lib", f"-j{jobs}", "libcurl.la"], "libcurl make", log, cwd=work,
           env=env)
    t_link = time.monotonic()

    objects = sorted(os.path.join(dp, n) for dp, _, files in os.walk(os.path.join(work, "lib"))
                     for n in files if n.endswith(".o") and os.path.basename(dp) == ".libs")
    archives = mbedtls_archives(arch)
    script = os.path.join(work, "libcurl.map")
    with open(script, "w", encoding="utf-8") as f:
        f.write("{\n  global: curl_*;\n  local: *;\n};\n")
    os.makedirs(out_dir)
    tmp = lib + ".tmp"
    _check([arch.cc, "-shared", "-o", tmp, f"-Wl,-soname,{SONAME}", *objects, *archives,
            "-lz", "-pthread", f"-Wl,--version-script={script}", "-Wl,--gc-sections",
            "-Wl,--as-needed", "-Wl,--no-undefined", "-Wl,-z,noexecstack", *LDFLAGS],
           "libcurl link", log)
    _check([arch.strip, "--strip-all", tmp], "libcurl strip", log)
    os.replace(tmp, lib)
    # The same objects for a static link; ar's deterministic mode (no dates, owners or modes).
    # ar keeps one member per file name: two objects of one name would lose one.
    if len({os.path.basename(o) for o in objects}) != len(objects):
        raise L.LayerError("libcurl objects with the same file name: libcurl.a would lose one")
    _check([arch.cc.replace("gcc", "ar"), "rcsD", archive + ".tmp", *objects], "libcurl.a", log)
    os.replace(archive + ".tmp", archive)
    done = time.monotonic()
    facts["seconds"] = {"configure": round(t_make - t_conf, 1), "make": round(t_link - t_make, 1),
                        "link": round(done - t_link, 1)}
    with open(os.path.join(out_dir, "facts.json"), "w", encoding="utf-8") as f:
        json.dump(facts, f, indent=1, sort_keys=True)
    shutil.rmtree(work, ignore_errors=True)
    L.say(f"[{arch.name}] libcurl built in {done - t0:.0f} s (configure {t_make - t_conf:.0f} s, "
          f"make {t_link - t_make:.0f} s, link {done - t_link:.0f} s)")
    return Built(arch, out_dir, _licenses(tree), done - t0, False)
