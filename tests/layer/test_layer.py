"""Tests of the layer tooling: the launcher, build-layer's library closure and its static layout,
check-layer's checks.

Standard library only. Runs from tests/layer (ctest), needs a C compiler with static glibc
(libc6-dev); the arm64 cases also need aarch64-linux-gnu-gcc and qemu-aarch64 and are skipped
without them.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile

SOURCE_DIR = os.environ.get("LW_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
LAYER_DIR = os.path.join(SOURCE_DIR, "layer")
sys.path.insert(0, LAYER_DIR)
import layerlib as L  # noqa: E402

HOST = L.ARCHES["x86_64"]
ARM = L.ARCHES["arm64"]
HAVE_ARM = shutil.which(ARM.cc) is not None and shutil.which(ARM.qemu or "true") is not None
VERSION = L.project_version()
# libcurl from Debian's source package is built once into this cache and reused by every layer
# the tests build (ctest passes the suite's cache, filled by layer.build.*).
CACHE = os.environ.get("LW_LAYER_CACHE") or os.path.join(tempfile.gettempdir(), "lw-layer-cache")
LIBCURL = os.environ.get("LW_LAYER_LIBCURL", "source")
# What the bundled libcurl reports and the copyright file it brings, per --libcurl.
CURL_VERSION_RE = {"source": r"^libcurl/\S+ mbedTLS/2", "debian": r"^libcurl/\S+ OpenSSL/3"}
CURL_COPYRIGHT = {"source": "curl.copyright", "debian": "libcurl4.copyright"}

# A stand-in daemon: prints what it was started with, and where its C library and loader came
# from, as one JSON object.
PROBE_C = r"""
#include <stdio.h>
#include <string.h>
extern char **environ;
int main(int argc, char **argv)
{
    printf("{\"argv\":[");
    for (int i = 0; i < argc; i++)
        printf("%s\"%s\"", i ? "," : "", argv[i]);
    printf("],\"env\":[");
    for (char **e = environ; *e; e++)
        printf("%s\"%s\"", e == environ ? "" : ",", *e);
    printf("],\"maps\":[");
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    int first = 1;
    while (f && fgets(line, sizeof(line), f)) {
        char *p = strchr(line, '/');
        if (!p || !strstr(p, ".so"))
            continue;
        p[strcspn(p, "\n")] = 0;
        printf("%s\"%s\"", first ? "" : ",", p);
        first = 0;
    }
    printf("]}\n");
    return 0;
}
"""

# A stand-in daemon with the real daemon's dependencies: the whole libcurl closure.
CURL_PROBE_C = r"""
#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
int main(void)
{
    if (curl_global_init(CURL_GLOBAL_ALL) != 0)
        return 2;
    CURL *c = curl_easy_init();
    if (c == NULL)
        return 3;
    printf("%s cjson/%s protobuf-c/%s\n", curl_version(), cJSON_Version(), protobuf_c_version());
    curl_easy_cleanup(c);
    curl_global_cleanup();
    return 0;
}
"""


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=600, **kw)


def compile_c(cc, src_text, out, *flags):
    src = out + ".c"
    with open(src, "w", encoding="utf-8") as f:
        f.write(src_text)
    r = run([cc, "-O2", "-o", out, src, *flags])
    if r.returncode != 0:
        raise AssertionError(f"{cc} failed: {r.stderr}")
    return out


def build_layer(tmp, arch, binary, libcurl=LIBCURL):
    r = run([sys.executable, os.path.join(LAYER_DIR, "build-layer"), "--arch", arch.name,
             "--binary", binary, "--out", os.path.join(tmp, "dist"), "--build-root", tmp,
             "--cache", CACHE, "--libcurl", libcurl])
    if r.returncode != 0:
        raise AssertionError(f"build-layer failed: {r.stdout}{r.stderr}")
    return os.path.join(tmp, "dist", f"leakwatch-{VERSION}-{arch.name}.zip"), r.stdout


def check_layer(zip_path, *extra):
    return run([sys.executable, os.path.join(LAYER_DIR, "check-layer"), zip_path,
                "--lifecycle", "skip", *extra])


def unpack(zip_path, root):
    L.unpack(zip_path, root)


def rewrite_zip(src, dst, drop=(), add=(), modes=None):
    """Copies zip src to dst without the entries in drop, with (name, bytes) entries of add and
    with {name: mode} changed."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for zi in zin.infolist():
            if zi.filename in drop:
                continue
            data = zin.read(zi)
            if modes and zi.filename in modes:
                zi.external_attr = (0o100000 | modes[zi.filename]) << 16
            zout.writestr(zi, data)
        for name, data in add:
            zi = zipfile.ZipInfo(name)
            zi.external_attr = 0o100755 << 16
            zout.writestr(zi, data)


class BrokenLayerMixin:
    def broken(self, **kw):
        """check-layer's output for self.zip changed as rewrite_zip(**kw) says; it must fail."""
        dst = os.path.join(self.tmp, f"broken-{self._testMethodName}.zip")
        rewrite_zip(self.zip, dst, **kw)
        r = check_layer(dst)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        kept = [ln.split("kept", 1)[1].strip() for ln in r.stdout.splitlines()
                if ln.strip().startswith("kept")]
        for d in kept:
            shutil.rmtree(d, ignore_errors=True)
        return r.stdout


class LauncherTest(unittest.TestCase):
    """The packaged launcher starts the daemon through the bundled loader, as documented."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lw-launcher-test-")
        probe = compile_c("cc", PROBE_C, os.path.join(cls.tmp, "probe"))
        cls.zip, _ = build_layer(cls.tmp, HOST, probe)
        cls.opt = os.path.join(cls.tmp, "opt")
        unpack(cls.zip, cls.opt)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def start(self, args=(), env=None):
        return run([os.path.join(self.opt, L.EXTENSION_PATH), *args],
                   env={} if env is None else env)

    def test_daemon_gets_args_argv0_and_environment(self):
        env = {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "LD_LIBRARY_PATH": "/usr/lib64:/opt/lib",
               "LD_PRELOAD": "/opt/lib/libnothere.so", "LD_AUDIT": "/opt/lib/libaudit.so",
               "LEAKWATCH_EXTENSIONS_DIR": "/somewhere/else", "EMPTY": ""}
        r = self.start(["one", "two words", "--three"], env)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["argv"], ["leakwatch", "one", "two words", "--three"])
        got = dict(e.split("=", 1) for e in out["env"])
        self.assertEqual(got, {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
                               "LD_LIBRARY_PATH": "/usr/lib64:/opt/lib", "EMPTY": "",
                               "LEAKWATCH_EXTENSIONS_DIR": os.path.join(self.opt, "extensions")})
        self.assertEqual(r.stderr, "")

    def test_every_library_and_the_loader_come_from_the_layer(self):
        # LD_LIBRARY_PATH names the machine's own libc first: it must not be used.
        r = self.start([], {"LD_LIBRARY_PATH": "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu"})
        self.assertEqual(r.returncode, 0, r.stderr)
        maps = set(json.loads(r.stdout)["maps"])
        self.assertTrue(any(m.endswith("/libc.so.6") for m in maps), maps)
        self.assertTrue(any(m.endswith("/" + HOST.loader) for m in maps), maps)
        lib = os.path.join(self.opt, L.LIB_DIR) + "/"
        self.assertEqual([m for m in maps if not m.startswith(lib)], [])

    def test_missing_daemon_is_one_line_and_status_127(self):
        daemon = os.path.join(self.opt, L.BIN_PATH)
        os.rename(daemon, daemon + ".away")
        try:
            r = self.start()
        finally:
            os.rename(daemon + ".away", daemon)
        self.assertEqual(r.returncode, 127)
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        self.assertIn("leakwatch: daemon not readable: " + daemon, r.stderr)
        self.assertEqual(r.stdout, "")

    def test_started_through_a_symlink_still_finds_the_layer(self):
        link = os.path.join(self.tmp, "elsewhere-leakwatch")
        os.symlink(os.path.join(self.opt, L.EXTENSION_PATH), link)
        r = run([link], env={})
        self.assertEqual(r.returncode, 0, r.stderr)
        got = dict(e.split("=", 1) for e in json.loads(r.stdout)["env"])
        self.assertEqual(got["LEAKWATCH_EXTENSIONS_DIR"], os.path.join(self.opt, "extensions"))


@unittest.skipUnless(LIBCURL == "source", "a static daemon's layer needs --libcurl source")
class StaticLayerTest(unittest.TestCase):
    """A static daemon is packaged as extensions/leakwatch itself: no launcher, no loader, no
    library; check-layer accepts it and rejects a broken one."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lw-static-test-")
        cls.probe = compile_c("cc", PROBE_C, os.path.join(cls.tmp, "probe"), "-static-pie")
        cls.zip, cls.build_out = build_layer(cls.tmp, HOST, cls.probe)
        cls.opt = os.path.join(cls.tmp, "opt")
        unpack(cls.zip, cls.opt)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    broken = BrokenLayerMixin.broken

    def test_the_daemon_is_the_extension_and_nothing_is_bundled(self):
        with zipfile.ZipFile(self.zip) as z:
            names = set(z.namelist())
        self.assertIn(L.EXTENSION_PATH, names)
        self.assertFalse([n for n in names if n.startswith((L.BIN_PATH, L.LIB_DIR))], names)
        for lic in ("curl", "libmbedtls-dev", "cjson", "libc6-dev", "libprotobuf-c-dev",
                    "zlib1g-dev"):
            self.assertIn(f"{L.LICENSE_DIR}/{lic}.copyright", names)
        self.assertIn("no library bundled", self.build_out)

    def test_runs_with_no_environment_and_maps_no_library(self):
        ext = os.path.join(self.opt, L.EXTENSION_PATH)
        r = run([ext, "one"], env={})
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["argv"], [ext, "one"])
        self.assertEqual(out["env"], [])
        self.assertEqual(out["maps"], [])

    def test_check_layer_passes(self):
        r = check_layer(self.zip)
        self.assertEqual(r.returncode, 77, r.stdout + r.stderr)  # lifecycle skipped
        self.assertNotIn("FAIL", r.stdout)
        self.assertIn("the daemon is extensions/leakwatch itself", r.stdout)

    def test_unstripped_daemon_is_rejected(self):
        unstripped = compile_c("cc", PROBE_C, os.path.join(self.tmp, "probe-g"), "-g",
                               "-static-pie")
        with open(unstripped, "rb") as f:
            data = f.read()
        out = self.broken(drop=[L.EXTENSION_PATH], add=[(L.EXTENSION_PATH, data)])
        self.assertIn("not stripped", out)

    def test_a_bundled_library_is_rejected(self):
        out = self.broken(add=[(L.LIB_DIR + "/libc.so.6", b"\x7fELF")])
        self.assertIn("leakwatch/lib in the layer of a static daemon", out)

    def test_dynamic_extension_without_its_daemon_is_rejected(self):
        dynamic = compile_c("cc", PROBE_C, os.path.join(self.tmp, "probe-dyn"))
        r = run(["strip", "-o", dynamic + ".s", dynamic])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(dynamic + ".s", "rb") as f:
            data = f.read()
        out = self.broken(drop=[L.EXTENSION_PATH], add=[(L.EXTENSION_PATH, data)])
        self.assertIn("extensions/leakwatch is not static", out)


class CheckLayerTest(unittest.TestCase):
    """check-layer accepts a good layer and rejects each kind of broken one."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lw-check-test-")
        probe = compile_c("cc", PROBE_C, os.path.join(cls.tmp, "probe"))
        cls.zip, cls.build_out = build_layer(cls.tmp, HOST, probe)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    broken = BrokenLayerMixin.broken

    def test_good_layer_passes(self):
        r = check_layer(self.zip)
        self.assertEqual(r.returncode, 77, r.stdout + r.stderr)  # lifecycle skipped
        self.assertNotIn("FAIL", r.stdout)
        self.assertIn("inside the layer", r.stdout)

    def test_build_prints_sizes(self):
        self.assertRegex(self.build_out, r"zip size\s+\d+ bytes")
        self.assertRegex(self.build_out, r"unpacked size\s+\d+ bytes")

    def test_layer_is_reproducible(self):
        probe = os.path.join(self.tmp, "probe")
        other = tempfile.mkdtemp(prefix="lw-check-test-again-")
        try:
            again, _ = build_layer(other, HOST, probe)
            with open(self.zip, "rb") as a, open(again, "rb") as b:
                self.assertEqual(a.read(), b.read())
        finally:
            shutil.rmtree(other, ignore_errors=True)

    def test_library_in_opt_lib_is_rejected(self):
        out = self.broken(add=[("lib/libcurl.so.4", b"\x7fELF")])
        self.assertIn("top level must be exactly", out)

    def test_second_file_in_extensions_is_rejected(self):
        out = self.broken(add=[("extensions/helper", b"#!/bin/sh\n")])
        self.assertIn("extensions/ must hold only leakwatch", out)

    def test_script_launcher_is_rejected(self):
        out = self.broken(drop=[L.EXTENSION_PATH],
                          add=[(L.EXTENSION_PATH, b"#!/bin/sh\nexec /opt/leakwatch/bin/x\n")])
        self.assertIn("FAIL", out)

    def test_launcher_without_exec_bit_is_rejected(self):
        out = self.broken(modes={L.EXTENSION_PATH: 0o644})
        self.assertIn("not executable", out)

    def test_missing_libc_is_rejected(self):
        out = self.broken(drop=[L.LIB_DIR + "/libc.so.6"])
        self.assertIn("needs libc.so.6", out)

    def test_unstripped_daemon_is_rejected(self):
        unstripped = compile_c("cc", PROBE_C, os.path.join(self.tmp, "probe-g"), "-g")
        with open(unstripped, "rb") as f:
            data = f.read()
        out = self.broken(drop=[L.BIN_PATH], add=[(L.BIN_PATH, data)])
        self.assertIn("not stripped", out)


class ClosureTest(unittest.TestCase):
    """A daemon with the real dependencies (libcurl, cJSON, protobuf-c) is packaged with its whole
    library closure, passes check-layer and runs from the layer without any machine library."""

    def closure(self, arch, cc_flags, libcurl=LIBCURL):
        tmp = tempfile.mkdtemp(prefix=f"lw-closure-{arch.name}-")
        self.addCleanup(shutil.rmtree, tmp, True)
        probe = compile_c(arch.cc, CURL_PROBE_C, os.path.join(tmp, "curl-probe"), *cc_flags,
                          "-lcurl", "-lcjson", "-lprotobuf-c")
        zip_path, out = build_layer(tmp, arch, probe, libcurl)
        self.assertIn("libcurl.so.4", out)
        r = check_layer(zip_path)
        self.assertEqual(r.returncode, 77, r.stdout + r.stderr)
        self.assertNotIn("FAIL", r.stdout)
        opt = os.path.join(tmp, "opt")
        unpack(zip_path, opt)
        with zipfile.ZipFile(zip_path) as z:
            names = z.namelist()
        self.assertIn(f"{L.LICENSE_DIR}/{CURL_COPYRIGHT[libcurl]}", names)
        self.assertFalse([n for n in names if n.startswith("lib/") or n.startswith("bin/")])
        return opt

    def test_x86_64(self):
        opt = self.closure(HOST, [])
        r = run([os.path.join(opt, L.EXTENSION_PATH)], env={})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, CURL_VERSION_RE[LIBCURL])

    def test_x86_64_with_debians_libcurl(self):
        # The fallback, --libcurl debian: Debian's libcurl4 and its whole closure.
        opt = self.closure(HOST, [], "debian")
        r = run([os.path.join(opt, L.EXTENSION_PATH)], env={})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, CURL_VERSION_RE["debian"])
        self.assertIn("libgssapi_krb5.so.2", os.listdir(os.path.join(opt, L.LIB_DIR)))

    @unittest.skipUnless(HAVE_ARM, "no arm64 cross compiler or qemu-aarch64")
    def test_arm64_under_qemu(self):
        opt = self.closure(ARM, ["-I/usr/include/aarch64-linux-gnu", "-L/usr/lib/aarch64-linux-gnu"])
        r = run(L.loader_command(ARM, opt, "--argv0", "leakwatch",
                                 os.path.join(opt, L.BIN_PATH)), env={})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, CURL_VERSION_RE[LIBCURL])


if __name__ == "__main__":
    unittest.main()
