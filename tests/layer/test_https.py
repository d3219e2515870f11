"""The built layer's libcurl: what it links, and a real HTTPS POST through it.

Runs against the zip that build-layer made for the suite (LW_LAYER_ZIP), unpacked as Lambda
unpacks it.

The default layer's daemon is static, with libcurl linked in (LW_STATIC): there
- the daemon needs no library and the layer bundles none;
- tests/layer/curl_probe.c, built with CURL_PROBE_LINKED and linked statically with the same
  libcurl.a, mbedTLS and zlib archives (from the layer cache, LW_LAYER_CACHE), POSTs as below.

A layer with a launcher (--libcurl debian) runs everything with the layer's own loader and
library path, without /etc/ld.so.cache (layerlib.loader_command), so nothing of the machine's
libcurl can stand in:

- the closure of leakwatch/lib/libcurl.so.4, as the bundled loader resolves it (`ld.so --list`,
  what `ldd` prints), is libz, libc and the loader, all from the layer; and no library of
  Debian's libcurl4 closure (Kerberos, LDAP, SSH, RTMP, SASL, GnuTLS, OpenSSL...) is in lib/;
- tests/layer/curl_probe.c loads libcurl.so.4 with dlopen as the daemon does, and POSTs twice
  to the OTLP test receiver behind TLS (tests/layer/tlsfixture.py): with a bundle holding the
  run's CA both requests arrive; with the machine's bundle alone the handshake is refused and
  nothing arrives (the certificate is checked).

LW_LAYER_LIBCURL=debian (the layer built with --libcurl debian) skips the closure checks, which
hold for the slim libcurl only; the HTTPS cases run for both. For an arm64 zip the probe is
cross-compiled and everything runs under qemu-aarch64.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("LW_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_DIR, "layer"))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "otlp"))
sys.path.insert(0, HERE)
import curlbuild  # noqa: E402
import layerlib as L  # noqa: E402
import tlsfixture  # noqa: E402
from otlp_receiver import OtlpReceiver  # noqa: E402

ZIP = os.environ.get("LW_LAYER_ZIP")
CACHE = os.environ.get("LW_LAYER_CACHE")
LIBCURL = os.environ.get("LW_LAYER_LIBCURL", "source")

# Sonames (prefixes) of Debian's libcurl4 closure that OTLP export does not need.
UNWANTED = ("libgssapi", "libkrb5", "libk5crypto", "libkrb5support", "libcom_err", "libkeyutils",
            "libldap", "liblber", "libsasl2", "librtmp", "libssh", "libgnutls", "libnettle",
            "libhogweed", "libgmp", "libp11-kit", "libtasn1", "libidn2", "libunistring",
            "libpsl", "libbrotli", "libzstd", "libnghttp2", "libssl", "libcrypto", "libffi")


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=300, **kw)


@unittest.skipUnless(ZIP, "LW_LAYER_ZIP not set (ctest sets it to the suite's layer zip)")
class BundledLibcurlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lw-https-")
        cls.root = os.path.join(cls.tmp, "opt")
        L.unpack(ZIP, cls.root)
        machine = L.elf_info(os.path.join(cls.root, L.EXTENSION_PATH)).machine
        cls.arch = next(a for a in L.ARCHES.values() if a.elf_machine == machine)
        cls.lib = os.path.join(cls.root, L.LIB_DIR)
        cls.static = L.is_static_layout(cls.root)
        flags = []
        if cls.arch.qemu:
            flags = [f"-I/usr/include/{cls.arch.triplet}"]
        if cls.static:
            if not CACHE:
                raise unittest.SkipTest("LW_LAYER_CACHE not set: the static layer's libcurl.a")
            curl = curlbuild.build(cls.arch, CACHE, os.cpu_count() or 2)  # the cached build
            flags += ["-DCURL_PROBE_LINKED", "-static-pie"]
            libs = [*curl.static_libs, f"/usr/lib/{cls.arch.triplet}/libz.a", "-pthread"]
        else:
            libs = []
        cls.probe = os.path.join(cls.tmp, "curl_probe")
        r = run([cls.arch.cc, "-std=c11", "-D_GNU_SOURCE", "-O2", *flags, "-o", cls.probe,
                 os.path.join(HERE, "curl_probe.c"), *libs])
        if r.returncode != 0:
            raise AssertionError(f"curl_probe build failed: {r.stderr}")
        cls.certs = tlsfixture.Certificates(os.path.join(cls.tmp, "tls"))
        cls.bundle = cls.certs.bundle_with_system_cas(os.path.join(cls.tmp, "tls", "bundle.pem"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def post(self, rx, ca_file):
        if self.static:
            cmd = ([self.arch.qemu] if self.arch.qemu else []) + [self.probe, rx.url, ca_file]
        else:
            cmd = L.loader_command(self.arch, self.root, self.probe, rx.url, ca_file)
        return run(cmd, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})

    def test_static_daemon_bundles_no_library(self):
        if not self.static:
            self.skipTest("a layer with a launcher bundles its libraries")
        self.assertFalse(os.path.exists(self.lib))
        info = L.elf_info(os.path.join(self.root, L.EXTENSION_PATH))
        self.assertIsNone(info.interpreter)
        self.assertEqual(info.needed, [])
        with open(os.path.join(self.root, L.EXTENSION_PATH), "rb") as f:
            data = f.read()
        self.assertIn(b"mbedTLS/%u.%u.%u", data)  # libcurl's TLS backend, linked in
        self.assertNotIn(b"OpenSSL/", data)

    def test_libcurl_closure_is_libz_and_libc(self):
        if LIBCURL != "source" or self.static:
            self.skipTest("only a launcher layer with the slim libcurl.so.4 bundles that closure")
        r = run(L.loader_command(self.arch, self.root, "--list",
                                 os.path.join(self.lib, "libcurl.so.4")))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        resolved = {}
        for line in r.stdout.splitlines():
            m = re.match(r"\s*(\S+) => (\S+) \(0x", line)
            if m:
                resolved[m.group(1)] = m.group(2)
        # aarch64 code also names the loader (__tls_get_addr); x86_64 code does not.
        expected = {"libz.so.1", "libc.so.6"}
        self.assertEqual(set(resolved) - {self.arch.loader}, expected, r.stdout)
        for name, path in resolved.items():
            self.assertEqual(os.path.dirname(os.path.realpath(path)),
                             os.path.realpath(self.lib), f"{name} resolved outside the layer")
        needed = L.elf_info(os.path.join(self.lib, "libcurl.so.4")).needed
        self.assertEqual(set(needed) - {self.arch.loader}, expected)

    def test_no_library_of_debians_libcurl_closure(self):
        if LIBCURL != "source":
            self.skipTest(f"layer built with --libcurl {LIBCURL}: Debian's closure is expected")
        bundled = sorted(os.listdir(self.lib)) if os.path.isdir(self.lib) else []
        self.assertEqual([n for n in bundled if n.startswith(UNWANTED)], [], bundled)
        with open(os.path.join(self.root, "leakwatch", "licenses", "curl.copyright"),
                  encoding="utf-8") as f:
            self.assertIn("curl", f.read())

    def test_https_post_through_the_bundled_libcurl(self):
        with self.certs.serve(OtlpReceiver()) as rx:
            r = self.post(rx, self.bundle)
            got = len(rx.requests)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn('"status":[200,200]', r.stdout)
        if LIBCURL == "source":
            self.assertRegex(r.stdout, r'"version":"libcurl/[0-9.]+ mbedTLS/[0-9.]+ zlib/')
        self.assertEqual(got, 2)

    def test_untrusted_certificate_is_refused(self):
        # The machine's bundle (what the daemon picks) does not hold the run's CA.
        system = tlsfixture.system_bundle()
        if system is None:
            self.skipTest("no system CA bundle on this machine")
        with self.certs.serve(OtlpReceiver()) as rx:
            r = self.post(rx, system)
            got = len(rx.requests)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stderr, r"(?i)certificate|verif")
        self.assertEqual(got, 0)


if __name__ == "__main__":
    unittest.main()
