#!/usr/bin/env python3
"""baseline_extension: a telemetry-forwarding Lambda extension written the way the common ones are.

The comparison point of tests/bench/bench-compare. It does what most observability extensions
written in Python or Node.js do, in the shape of AWS's published Telemetry API examples:

  - registers for INVOKE and SHUTDOWN (Extensions API 2020-01-01), the name being its file name;
  - starts an HTTP listener (http.server, one thread per connection) and subscribes it to the
    Telemetry API (2022-07-01) for the `platform`, `function` and `extension` streams;
  - the listener queues every batch it receives; at each event (INVOKE or SHUTDOWN) the main
    loop posts what is queued, as one JSON array, to an HTTP endpoint (urllib), then asks for
    the next event. At SHUTDOWN it waits briefly for the last batch and posts it before exiting.

Configuration (environment):
  BASELINE_SINK_URL      where batches are posted (required; the benchmark runs a local sink,
                         tests/bench/sink.py)
  BASELINE_LISTENER_PORT the listener's port (default 4243, as in AWS's examples)

Python 3 standard library only. It prints nothing per event: its own log lines would come back
to it through the `extension` stream.
"""

import http.client
import json
import os
import queue
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = os.path.basename(sys.argv[0])
RUNTIME_API = os.environ["AWS_LAMBDA_RUNTIME_API"]
SINK_URL = os.environ.get("BASELINE_SINK_URL", "")
LISTENER_PORT = int(os.environ.get("BASELINE_LISTENER_PORT", "4243"))
BATCHES = queue.Queue()


def api(method, path, body=None, headers=None):
    """One request to the Extensions or Telemetry API; (status, headers, parsed body)."""
    host, port = RUNTIME_API.split(":")
    conn = http.client.HTTPConnection(host, int(port))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data.decode("utf-8", "replace")  # the subscription answers plain "OK"
        return resp.status, dict(resp.getheaders()), parsed
    finally:
        conn.close()


class Listener(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            BATCHES.put(json.loads(body))
        except ValueError:
            pass
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def dispatch():
    """Posts every queued event to the sink as one JSON array; returns the number posted."""
    events = []
    while True:
        try:
            events.extend(BATCHES.get_nowait())
        except queue.Empty:
            break
    if not events or not SINK_URL:
        return len(events)
    req = urllib.request.Request(SINK_URL, data=json.dumps(events).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            resp.read()
    except OSError as e:
        print("[%s] dispatch failed: %s" % (NAME, e), file=sys.stderr, flush=True)
    return len(events)


def main():
    ext = "/2020-01-01/extension"
    st, headers, body = api("POST", ext + "/register",
                            json.dumps({"events": ["INVOKE", "SHUTDOWN"]}),
                            {"Lambda-Extension-Name": NAME, "Content-Type": "application/json"})
    if st != 200:
        print("[%s] register failed: %s %s" % (NAME, st, body), file=sys.stderr, flush=True)
        return 1
    ident = headers["Lambda-Extension-Identifier"]
    idh = {"Lambda-Extension-Identifier": ident}

    server = ThreadingHTTPServer(("127.0.0.1", LISTENER_PORT), Listener)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sub = {"schemaVersion": "2022-12-13", "types": ["platform", "function", "extension"],
           "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
           "destination": {"protocol": "HTTP",
                           "URI": "http://sandbox.localdomain:%d/" % LISTENER_PORT}}
    st, _, body = api("PUT", "/2022-07-01/telemetry", json.dumps(sub),
                      dict(idh, **{"Content-Type": "application/json"}))
    if st not in (200, 202):  # 202: a local test environment without telemetry
        print("[%s] subscribe failed: %s %s" % (NAME, st, body), file=sys.stderr, flush=True)
        return 1

    while True:
        st, _, event = api("GET", ext + "/event/next", None, idh)
        if st != 200:
            print("[%s] event/next failed: %s" % (NAME, st), file=sys.stderr, flush=True)
            return 1
        if event.get("eventType") == "SHUTDOWN":
            # the last platform.report arrives after SHUTDOWN; wait for it as the examples do
            time.sleep(0.3)
            dispatch()
            return 0
        dispatch()


if __name__ == "__main__":
    sys.exit(main())
