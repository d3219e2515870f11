"""The Runtime API (2018-06-01) for the Python sample functions: one request on a fresh
connection, as plain as the standard library makes it. invocation/next is a long poll, so there
is no timeout."""

import http.client
import sys


def request(api, method, path, body=None, headers=None):
    """Returns (status, response, body bytes)."""
    conn = http.client.HTTPConnection(api)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp, resp.read()
    finally:
        conn.close()


def logger(name):
    def log(message):
        sys.stderr.write("[%s] %s\n" % (name, message))
        sys.stderr.flush()
    return log
