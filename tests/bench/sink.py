#!/usr/bin/env python3
"""sink: the HTTP endpoint the baseline extension posts its batches to, in the benchmark.

Listens on 127.0.0.1 (a free port unless --port), prints `port N` on stdout once it listens,
answers every POST with 200, and counts what it received. On SIGTERM or SIGINT it prints one
JSON line with the counts and exits:

  {"posts": 120, "bytes": 480000, "events": 960, "bad_json": 0}

Python 3 standard library only. It runs as its own process so that its CPU is not the
extension's nor the emulator's.
"""

import argparse
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTS = {"posts": 0, "bytes": 0, "events": 0, "bad_json": 0}
LOCK = threading.Lock()


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            n = len(json.loads(body))
            bad = 0
        except (ValueError, TypeError):
            n, bad = 0, 1
        with LOCK:
            COUNTS["posts"] += 1
            COUNTS["bytes"] += len(body)
            COUNTS["events"] += n
            COUNTS["bad_json"] += bad
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Sink)
    server.daemon_threads = True
    done = threading.Event()

    def stop(signum, frame):
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                     daemon=True).start()
    print("port %d" % server.server_address[1], flush=True)
    done.wait()
    server.shutdown()
    with LOCK:
        print(json.dumps(COUNTS), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
