#!/usr/bin/env python3
"""snapfn: a Python runtime for SnapStart, with the restore hook and a lazy page-in.

At init it maps PAGEIN_BYTES (default 32 MiB) of anonymous memory and leaves it untouched, as
the pages of a restored snapshot are: they come back from the snapshot only when first used.
When AWS_LAMBDA_INITIALIZATION_TYPE is snap-start it ends its init in the Runtime API's
restore/next (the restore hook), as SnapStart runtimes do, and continues when the environment is
restored. Each of the first PAGEIN_INVOCATIONS invocations (default 10) after that touches its
share of the mapping: the function's memory grows for a while after the restore, then stops,
without any leak. The event may add a real leak: {"bytes": N} retains N bytes per invocation.

Speaks the Runtime API (2018-06-01) with the standard library only.
"""

import json
import mmap
import os
import sys

from runtime_api import logger, request

RETAINED = []

log = logger("snapfn")


def env_int(name, default):
    value = os.environ.get(name, "")
    if value == "":
        return default
    if not (value.isascii() and value.isdigit()):
        log("%s=%r is not a whole number" % (name, value))
        sys.exit(1)
    return int(value)


def main():
    api = os.environ.get("AWS_LAMBDA_RUNTIME_API", "")
    if not api:
        log("AWS_LAMBDA_RUNTIME_API is not set")
        sys.exit(1)
    pagein_bytes = env_int("PAGEIN_BYTES", 32 << 20)
    pagein_invocations = max(1, env_int("PAGEIN_INVOCATIONS", 10))
    # private and anonymous, as a heap is (mmap(-1) alone is shared: RssShmem, not RssAnon)
    region = mmap.mmap(-1, max(pagein_bytes, mmap.PAGESIZE),
                       flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    touched = 0
    restored = False
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
        status, _, _ = request(api, "GET", "/2018-06-01/runtime/restore/next")
        if status != 200:
            log("restore/next answered %d" % status)
            sys.exit(1)
        restored = True
    served = 0
    step = -(-pagein_bytes // pagein_invocations) if pagein_bytes else 0
    while True:
        status, resp, payload = request(api, "GET", "/2018-06-01/runtime/invocation/next")
        request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id", "")
        if status != 200 or not request_id:
            log("invocation/next answered %d" % status)
            sys.exit(1)
        served += 1
        end = min(pagein_bytes, touched + step)
        for off in range(touched, end, mmap.PAGESIZE):
            region[off] = 1
        touched = end
        try:
            event = json.loads(payload) if payload.strip() else {}
        except ValueError:
            event = {}
        leak = event.get("bytes", 0) if isinstance(event, dict) else 0
        if isinstance(leak, int) and 0 < leak <= 1 << 30:
            RETAINED.append(bytes([served % 255 + 1]) * leak)
        body = json.dumps({"served": served, "restored": restored, "paged_in_bytes": touched,
                           "retained_bytes": sum(len(b) for b in RETAINED),
                           "request_id": request_id})
        request(api, "POST", "/2018-06-01/runtime/invocation/%s/response" % request_id,
                body.encode(), {"Content-Type": "application/json"})


if __name__ == "__main__":
    main()
