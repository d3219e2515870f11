"""A certificate authority made for one test run, and the OTLP test receiver behind TLS.

The server certificate names `localhost` (a DNS name: mbedTLS 2.28, which the layer's libcurl
uses, does not match IP addresses in subjectAltName), so clients reach the receiver at
https://localhost:PORT. Keys are ECDSA P-256. Needs the `openssl` command (package openssl,
which ca-certificates depends on).
"""

import os
import ssl
import subprocess

# The bundles the daemon looks for (src/daemon/export/http.c), in its order.
SYSTEM_BUNDLES = (
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
)


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {r.stderr.strip()}")


def system_bundle():
    """The CA bundle the daemon would pick on this machine, or None."""
    return next((p for p in SYSTEM_BUNDLES if os.access(p, os.R_OK)), None)


class Certificates:
    def __init__(self, directory):
        os.makedirs(directory, exist_ok=True)
        self.dir = directory
        self.ca = os.path.join(directory, "ca.pem")
        self.cert = os.path.join(directory, "server.pem")
        self.key = os.path.join(directory, "server.key")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                 "-subj", "/CN=leakwatch test CA", cwd=directory)
        _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr",
                 "-subj", "/CN=localhost", cwd=directory)
        with open(os.path.join(directory, "server.ext"), "w", encoding="utf-8") as f:
            f.write("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n"
                    "extendedKeyUsage=serverAuth\n")
        _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", "server.pem", "-days", "2",
                 "-extfile", "server.ext", cwd=directory)

    def bundle_with_system_cas(self, path):
        """The machine's CA bundle with this run's CA appended: a client given it parses a
        full-size bundle, as on Lambda."""
        parts = []
        system = system_bundle()
        if system is not None:
            with open(system, encoding="utf-8", errors="replace") as f:
                parts.append(f.read().rstrip("\n") + "\n")
        with open(self.ca, encoding="utf-8") as f:
            parts.append(f.read())
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(parts))
        return path

    def serve(self, receiver):
        """Puts TLS in front of an OtlpReceiver that has not been started yet."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert, self.key)
        receiver.httpd.socket = ctx.wrap_socket(receiver.httpd.socket, server_side=True)
        receiver.base_url = f"https://localhost:{receiver.port}"
        receiver.url = receiver.base_url + "/v1/metrics"
        return receiver
