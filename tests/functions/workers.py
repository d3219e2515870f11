#!/usr/bin/env python3
"""workers: a Python runtime that serves concurrent invocations from worker processes.

Lambda Managed Instances run one execution environment with many invocations in flight at
once, and the Python runtime serves them with one worker process per concurrent request. This
function does the same: the process the platform starts (the runtime's main process) forks
AWS_LAMBDA_MAX_CONCURRENCY workers (default 1; WORKERS overrides it), each of which loops on the
Runtime API's invocation/next on its own connection, and then only waits for them.

Knobs, from the event payload (see README.md):
  leak_worker   the worker (1..N) that retains `bytes` per invocation it serves; 0 (default):
                none. Worker numbers are fixed at the fork; every worker knows its own.
  bytes         bytes retained per invocation by the leaking worker (default 1 MiB)
  garbage       bytes allocated and freed by every worker per invocation (default 64 KiB)
  sleep_ms      how long each invocation takes (default 20)
The response says which worker served the invocation: {"worker": k, "pid": ..., ...}.

Speaks the Runtime API (2018-06-01) with the standard library only.
"""

import json
import os
import signal
import sys

from runtime_api import logger, request
import time

MAX_BYTES = 1 << 34
MAX_SLEEP_MS = 900000

log = logger("workers")


def knob(event, key, default, maximum):
    value = event.get(key, default) if isinstance(event, dict) else default
    if type(value) is not int or value < 0 or value > maximum:
        raise ValueError('"%s" must be an integer in [0, %d]' % (key, maximum))
    return value


def serve(api, worker):
    """One worker: invocation/next, work, response, forever."""
    retained = []
    served = 0
    while True:
        status, resp, payload = request(api, "GET", "/2018-06-01/runtime/invocation/next")
        request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id", "")
        if status != 200 or not request_id:
            log("worker %d: invocation/next answered %d" % (worker, status))
            os._exit(1)
        base = "/2018-06-01/runtime/invocation/%s" % request_id
        try:
            event = json.loads(payload) if payload.strip() else {}
            leak_worker = knob(event, "leak_worker", 0, 1 << 16)
            leak_bytes = knob(event, "bytes", 1 << 20, MAX_BYTES)
            garbage = knob(event, "garbage", 64 << 10, MAX_BYTES)
            sleep_ms = knob(event, "sleep_ms", 20, MAX_SLEEP_MS)
        except ValueError as e:
            body = json.dumps({"errorMessage": str(e), "errorType": "InvalidEvent"})
            request(api, "POST", base + "/error", body.encode(),
                    {"Lambda-Runtime-Function-Error-Type": "InvalidEvent"})
            continue
        served += 1
        scratch = bytearray(garbage)  # touched, then freed when the name is rebound
        for i in range(0, len(scratch), 4096):
            scratch[i] = 1
        del scratch
        if leak_worker == worker:
            retained.append(bytes([served % 255 + 1]) * leak_bytes)
        time.sleep(sleep_ms / 1000.0)
        body = json.dumps({"worker": worker, "pid": os.getpid(), "served": served,
                           "retained_bytes": sum(len(b) for b in retained),
                           "request_id": request_id})
        status, _, _ = request(api, "POST", base + "/response", body.encode(),
                               {"Content-Type": "application/json"})
        if status != 202:
            log("worker %d: response answered %d" % (worker, status))


def main():
    api = os.environ.get("AWS_LAMBDA_RUNTIME_API", "")
    if not api:
        log("AWS_LAMBDA_RUNTIME_API is not set")
        sys.exit(1)
    n = os.environ.get("WORKERS") or os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY") or "1"
    if not (n.isascii() and n.isdigit()) or not 1 <= int(n) <= 256:
        log("the worker count %r is not an integer in [1, 256]" % n)
        sys.exit(1)
    pids = []
    for worker in range(1, int(n) + 1):
        pid = os.fork()
        if pid == 0:
            try:
                serve(api, worker)
            finally:
                os._exit(1)
        pids.append(pid)

    def stop(signum, frame):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    # The runtime lives as long as its workers: one that dies takes the environment with it.
    pid, status = os.wait()
    log("worker pid %d exited (status %d)" % (pid, status))
    stop(signal.SIGTERM, None)


if __name__ == "__main__":
    main()
