#!/usr/bin/env python3
"""pyleak: a Python custom runtime with a real leak.

Every invocation appends a record to the module-level list RETAINED and never removes it: a
payload blob of `bytes` bytes (filled with a non-zero byte so every page is resident) and
`objects` small tuples, as a request log or an unbounded cache keeps them in real functions.

Speaks the Lambda Runtime API (2018-06-01) with the standard library only. Knobs come from the
event payload with defaults from the environment (see README.md): bytes (PYLEAK_BYTES, 1 MiB),
objects (PYLEAK_OBJECTS, 1000) and the common knobs sleep_ms, fail, crash, children, child_bytes
(SLEEP_MS, FAIL, CRASH, CHILDREN, CHILD_BYTES).
"""

import http.client
import json
import os
import subprocess
import sys
import time

MAX_BYTES = 1 << 40
MAX_SLEEP_MS = 900000
MAX_CHILDREN = 64
MAX_OBJECTS = 1 << 24

# The leak: records appended here live as long as the process.
RETAINED = []
RETAINED_BYTES = 0

# A child started by `children`: holds `bytes` resident until its stdin (the lifeline) closes.
CHILD_CODE = (
    "import sys\n"
    "held = b'\\xa5' * int(sys.argv[1])\n"
    "sys.stdout.write('1'); sys.stdout.flush()\n"
    "sys.stdin.buffer.read()\n"
)


class InvalidKnob(Exception):
    pass


class Runtime:
    def __init__(self):
        api = os.environ.get("AWS_LAMBDA_RUNTIME_API", "")
        if not api:
            log("AWS_LAMBDA_RUNTIME_API is not set")
            sys.exit(1)
        self.api = api
        self.children = []  # [(Popen, bytes)]

    def request(self, method, path, body=None, headers=None):
        """One request on a fresh connection; returns (status, headers, body)."""
        conn = http.client.HTTPConnection(self.api)  # no timeout: next is a long poll
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp, resp.read()
        finally:
            conn.close()

    def post_error(self, path, error_type, message):
        body = json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": []})
        status, _, _ = self.request(
            "POST", path, body.encode(),
            {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error_type})
        if status != 202:
            log("POST %s answered %d" % (path, status))

    def init_error(self, error_type, message):
        log("init error %s: %s" % (error_type, message))
        try:
            self.post_error("/2018-06-01/runtime/init/error", error_type, message)
        finally:
            sys.exit(1)

    def set_children(self, target, child_bytes):
        """Converges the number of live children on target; new ones hold child_bytes each."""
        self.children = [(p, b) for (p, b) in self.children if p.poll() is None]
        while len(self.children) < target:
            p = subprocess.Popen([sys.executable, "-c", CHILD_CODE, str(child_bytes)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
            if p.stdout.read(1) != b"1":
                p.stdin.close()
                p.wait()
                raise RuntimeError("the child holding %d bytes did not start" % child_bytes)
            p.stdout.close()
            self.children.append((p, child_bytes))
        while len(self.children) > target:
            p, _ = self.children.pop()
            p.stdin.close()
            p.wait()


def log(message):
    sys.stderr.write("[pyleak] %s\n" % message)
    sys.stderr.flush()


def env_int(name, default, maximum):
    value = os.environ.get(name, "")
    if value == "":
        return default
    if not (value.isascii() and value.isdigit()) or int(value) > maximum:
        raise InvalidKnob("environment variable %s is not an integer in [0, %d]" % (name, maximum))
    return int(value)


def knob(event, key, default, maximum):
    value = event.get(key) if isinstance(event, dict) else None
    if value is None:
        return default
    if value is True:
        value = 1
    elif value is False:
        value = 0
    if type(value) is not int or value < 0 or value > maximum:
        raise InvalidKnob('"%s" must be an integer in [0, %d]' % (key, maximum))
    return value


def main():
    global RETAINED_BYTES
    rt = Runtime()
    try:
        defaults = {
            "bytes": env_int("PYLEAK_BYTES", 1 << 20, MAX_BYTES),
            "objects": env_int("PYLEAK_OBJECTS", 1000, MAX_OBJECTS),
            "sleep_ms": env_int("SLEEP_MS", 0, MAX_SLEEP_MS),
            "fail": env_int("FAIL", 0, 1),
            "crash": env_int("CRASH", 0, 255),
            "children": env_int("CHILDREN", 0, MAX_CHILDREN),
            "child_bytes": env_int("CHILD_BYTES", 1 << 20, MAX_BYTES),
        }
    except InvalidKnob as e:
        rt.init_error("Runtime.InvalidConfiguration", str(e))
    maxima = {"bytes": MAX_BYTES, "objects": MAX_OBJECTS, "sleep_ms": MAX_SLEEP_MS, "fail": 1,
              "crash": 255, "children": MAX_CHILDREN, "child_bytes": MAX_BYTES}
    invocation = 0
    while True:
        status, resp, payload = rt.request("GET", "/2018-06-01/runtime/invocation/next")
        request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id", "")
        if status != 200 or not request_id:
            log("invocation/next answered %d" % status)
            sys.exit(1)
        deadline_ms = int(resp.getheader("Lambda-Runtime-Deadline-Ms", "0") or 0)
        invocation += 1
        base = "/2018-06-01/runtime/invocation/%s" % request_id
        try:
            try:
                event = json.loads(payload) if payload.strip() else None
            except ValueError:
                raise InvalidKnob("the event payload is not valid JSON")
            k = {key: knob(event, key, defaults[key], maxima[key]) for key in defaults}
        except InvalidKnob as e:
            rt.post_error(base + "/error", "InvalidEvent", str(e))
            continue

        # The leak itself.
        fill = bytes([invocation % 255 + 1])
        RETAINED.append({
            "request_id": request_id,
            "blob": fill * k["bytes"],
            "objects": [(invocation, i, "item-%d-%d" % (invocation, i)) for i in range(k["objects"])],
        })
        RETAINED_BYTES += k["bytes"]

        try:
            rt.set_children(k["children"], k["child_bytes"])
        except (OSError, RuntimeError) as e:
            rt.post_error(base + "/error", "ChildStartFailed", str(e))
            continue
        time.sleep(k["sleep_ms"] / 1000.0)
        log("invocation=%d request_id=%s allocated_bytes=%d retained_bytes=%d children=%d"
            % (invocation, request_id, k["bytes"], RETAINED_BYTES, len(rt.children)))
        if k["crash"]:
            log("crashing on request: exit status %d" % k["crash"])
            os._exit(k["crash"])
        if k["fail"]:
            rt.post_error(base + "/error", "Function.RequestedFailure",
                          "failure requested by the event (pyleak)")
            continue
        body = json.dumps({
            "function": "pyleak", "invocation": invocation, "request_id": request_id,
            "allocated_bytes": k["bytes"], "freed_bytes": 0, "retained_bytes": RETAINED_BYTES,
            "retained_objects": sum(len(r["objects"]) for r in RETAINED),
            "children": len(rt.children),
            "children_bytes": sum(b for _, b in rt.children),
            "slept_ms": k["sleep_ms"], "deadline_ms": deadline_ms, "pid": os.getpid(),
        })
        status, _, _ = rt.request("POST", base + "/response", body.encode(),
                                  {"Content-Type": "application/json"})
        if status != 202:
            log("POST %s/response answered %d" % (base, status))


if __name__ == "__main__":
    main()
