"""A local AWS Lambda execution environment for running and testing external extensions.

It plays the Lambda service for one function: it starts every executable of OPT/extensions and the
runtime bootstrap as its direct children (as Lambda's init does), serves the Runtime API, the
Extensions API and the Telemetry API on one loopback port, runs the init / invoke / shutdown phases
in Lambda's order, freezes every process of the environment (SIGSTOP) between invocations, delivers
telemetry in batches per subscription, accounts memory as an environment high-water mark and kills
the runtime when it exceeds the configured memory size.

Python 3.11 standard library only. The command-line front end is the `lambda-emulator` script next to
this file; the README beside it documents both the CLI and this module's API.
"""

from __future__ import annotations

import collections
import datetime
import fcntl
import json
import math
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sandbox as _sandbox

__all__ = ["Emulator", "EmulatorError", "summarize"]

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024

# Limits documented for Lambda (see the project's interface reference).
INIT_TIMEOUT_S = 10.0
SHUTDOWN_BUDGET_MS = 2000  # with at least one external extension
RUNTIME_SHUTDOWN_MS = 300  # part of the budget reserved for the runtime's graceful exit
MAX_EXTENSIONS = 10
MAX_RESPONSE_BYTES = 6 * MIB + 100
MAX_REQUEST_BYTES = 6 * MIB + 100

TELEMETRY_SCHEMAS = ("2022-07-01", "2022-12-13", "2025-01-29")
TELEMETRY_TYPES = ("platform", "function", "extension")
BUFFERING_LIMITS = {  # name: (min, max, default)
    "maxItems": (1000, 10000, 10000),
    "maxBytes": (262144, 1048576, 262144),
    "timeoutMs": (25, 30000, 1000),
}
# Delivery retries: how often a batch is tried and the backoff between tries (thawed time).
DELIVERY_ATTEMPTS = 5
DELIVERY_BACKOFF_S = (0.1, 0.2, 0.4, 0.8)
DELIVERY_TIMEOUT_S = 2.0

MEMORY_POLL_S = 0.001  # RSS poll period while the environment is thawed
TREE_SCAN_S = 0.02  # how often the process tree is re-scanned for new descendants

# Fault injection (Emulator(telemetry_fault=...)): each takes the encoded events of one batch and
# returns the bodies to POST in its place, in order. With a fault set every body is POSTed once,
# without retries, and the listener's answers are counted in the report.
MALFORMED_TELEMETRY_BODIES = (
    b"this is not JSON",
    b'[{"time":"2024-01-01T00:00:00.000Z","type":"platform.report","record":{"requestId":',
    b'{"time":"2024-01-01T00:00:00.000Z","type":"platform.start","record":{}}',
    b'[1,"two",null,[],{}]',
    b'[{"time":5,"type":7,"record":"x"}]',
    b'[{"time":"2024-01-01T00:00:00.000Z","type":"platform.report",'
    b'"record":{"requestId":42,"status":[],"metrics":"none"}}]',
    b'[{"time":"2024-01-01T00:00:00.000Z","type":"platform.report",'
    b'"record":{"requestId":"\xff\xfe","metrics":{"durationMs":-1e309}}}]',
    b"[" * 10000,
)
OVERSIZED_TELEMETRY_BYTES = 8 * MIB  # beyond any listener's bound: 2 x maxBytes (1 MiB) + headers


def _batch_body(events):
    return b"[" + b",".join(events) + b"]"


def _oversized_body():
    line = _encode_event("function", "x" * 1000)
    return _batch_body([line] * (OVERSIZED_TELEMETRY_BYTES // (len(line) + 1) + 1))


TELEMETRY_FAULTS = {
    # every batch twice
    "duplicate": lambda events: [_batch_body(events)] * 2,
    # the events of every batch in reverse order
    "reverse": lambda events: [_batch_body(events[::-1])],
    # each malformed body of MALFORMED_TELEMETRY_BODIES, then the batch
    "malformed": lambda events: list(MALFORMED_TELEMETRY_BODIES) + [_batch_body(events)],
    # a valid batch of OVERSIZED_TELEMETRY_BYTES of log records, then the batch
    "oversized": lambda events: [_oversized_body(), _batch_body(events)],
}
EXTENSION_STDOUT_MODES = ("read", "stall", "close")
# Platform modes. "managed-instances" plays Lambda Managed Instances as AWS's own emulator code
# does (internal/lambda-managed-instances): extensions may register only for SHUTDOWN (INVOKE
# gets 403 Extension.InvalidEventType and the extension may register again) and the Telemetry
# API accepts only schema 2025-01-29 (400 ValidationError otherwise).
# "snapstart" plays SnapStart: each environment is initialised, snapshotted (frozen) and restored,
# with platform.restoreStart / restoreRuntimeDone / restoreReport and the Runtime API's
# restore/next hook; every environment shares the one init's platform.initStart (the snapshot's
# instanceId); see _SnapStartEnvironment.
MODES = ("on-demand", "managed-instances", "snapstart")
INITIALIZATION_TYPES = {"on-demand": "on-demand", "managed-instances": "lambda-managed-instances",
                        "snapstart": "snap-start"}
MANAGED_INSTANCES_SCHEMA = "2025-01-29"
# AWS's Runtime Interface Emulator (aws-lambda-runtime-interface-emulator, Emulator(rie=True)):
# its Telemetry API is a stub that answers every subscription 202 Telemetry.NotSupported, and
# when the emulator itself is stopped (SIGTERM or SIGINT, e.g. `docker stop`) it resets the
# sandbox with this reason, which extensions receive as the SHUTDOWN event's shutdownReason.
RIE_SHUTDOWN_REASON = "SandboxTerminated"
SIGNAL_MOMENTS = ("init", "invoke", "next", "frozen", "shutdown")

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class EmulatorError(Exception):
    """A misuse of the emulator itself (bad options, bad layout), not a function failure."""


class ApiError(Exception):
    def __init__(self, status, error_type, message):
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


# --------------------------------------------------------------------------------------------
# small utilities


def _iso(ts=None):
    dt = datetime.datetime.fromtimestamp(ts if ts is not None else time.time(), datetime.timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _percentile(values, q):
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100.0 * len(ordered)) - 1))
    return ordered[rank]


def _round(v):
    return None if v is None else round(v, 3)


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _proc_stat(pid):
    """(state, ppid, utime+stime ticks) from /proc/PID/stat, or None when the process is gone."""
    raw = _read(f"/proc/{pid}/stat")
    if raw is None:
        return None
    end = raw.rfind(b")")
    fields = raw[end + 2:].split()
    try:
        return fields[0].decode(), int(fields[1]), int(fields[11]) + int(fields[12])
    except (IndexError, ValueError):
        return None


def _proc_rss_bytes(pid):
    raw = _read(f"/proc/{pid}/statm")
    if raw is None:
        return 0
    parts = raw.split()
    return int(parts[1]) * PAGE_BYTES if len(parts) > 1 else 0


def _proc_hwm_bytes(pid):
    raw = _read(f"/proc/{pid}/status")
    if raw is None:
        return 0
    for line in raw.splitlines():
        if line.startswith(b"VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _descendants(roots):
    """Every live process below (and including) the given pids, found by one scan of /proc."""
    children = collections.defaultdict(list)
    try:
        names = os.listdir("/proc")
    except OSError:
        names = []
    for name in names:
        if not name.isdigit():
            continue
        st = _proc_stat(int(name))
        if st is not None:
            children[st[1]].append(int(name))
    found = set()
    todo = [p for p in roots if os.path.exists(f"/proc/{p}")]
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo.extend(children.get(pid, ()))
    return found


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


# --------------------------------------------------------------------------------------------
# log output: the function's CloudWatch log stream


class _LogSink:
    """Writes whole lines, one at a time, to the emulator's log output and keeps them for tests."""

    def __init__(self, path, keep_lines=500000):
        self._lock = threading.Lock()
        if path is None or path == "-":
            self._out = sys.stdout.buffer
            self._owned = False
        else:
            self._out = open(path, "ab")
            self._owned = True
        self.lines = []
        self._keep = keep_lines
        self.lines_not_kept = 0

    def write(self, line):
        if isinstance(line, str):
            raw = line.encode("utf-8", "replace")
        else:
            raw, line = line, line.decode("utf-8", "replace")
        with self._lock:
            self._out.write(raw + b"\n")
            self._out.flush()
            if len(self.lines) < self._keep:
                self.lines.append(line)
            else:
                self.lines_not_kept += 1

    def close(self):
        with self._lock:
            if self._owned:
                self._out.close()


# --------------------------------------------------------------------------------------------
# processes


class _Proc:
    """One direct child of the emulator: the runtime or an external extension."""

    def __init__(self, emu, env, role, name, argv, proc_env, cwd):
        self.env = env
        self.role = role  # "runtime" | "extension"
        self.name = name
        self.spawn_mono = time.monotonic()
        sandbox = getattr(env, "sandbox", None)
        self.popen = subprocess.Popen(
            argv, env=proc_env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, close_fds=True, start_new_session=True,
            preexec_fn=sandbox.join if sandbox is not None else None)
        self.pid = self.popen.pid
        self.exit_code = None  # exit status, or -signal
        self.exit_mono = None
        self.cpu_time_ms = 0.0
        self.peak_rss_bytes = 0
        self.killed = False
        self._emu = emu
        streams = [self.popen.stderr]
        self.stdout_mode = emu.extension_stdout if role == "extension" else "read"
        if self.stdout_mode == "read":
            streams.append(self.popen.stdout)
        elif self.stdout_mode == "stall":
            # Never read: the pipe shrinks to one page so that it fills after a few lines.
            try:
                fcntl.fcntl(self.popen.stdout.fileno(), fcntl.F_SETPIPE_SZ, PAGE_BYTES)
            except OSError:
                pass
        else:  # "close": every write to stdout fails with EPIPE (or SIGPIPE)
            self.popen.stdout.close()
        self._readers = [threading.Thread(target=self._read_lines, args=(st,), daemon=True)
                         for st in streams]
        for t in self._readers:
            t.start()
        self._reaper = threading.Thread(target=self._reap, daemon=True)
        self._reaper.start()

    @property
    def alive(self):
        return self.exit_code is None

    def _read_lines(self, stream):
        # Each line is written once, whole, to the log stream and becomes one telemetry record.
        for raw in iter(stream.readline, b""):
            line = raw[:-1] if raw.endswith(b"\n") else raw
            self.env.on_output(self, line)
        stream.close()

    def _reap(self):
        while True:
            try:
                _, status, usage = os.wait4(self.pid, 0)
                break
            except InterruptedError:
                continue
            except ChildProcessError:
                status, usage = 0, None
                break
        code = os.waitstatus_to_exitcode(status)
        self.popen.returncode = code
        if self.stdout_mode == "stall":
            self.popen.stdout.close()
        if usage is not None:
            self.cpu_time_ms = (usage.ru_utime + usage.ru_stime) * 1000.0
            # ru_maxrss is not used for the peak: it also counts the high-water mark of the
            # forked copy of this emulator that existed before exec, so it reports the
            # emulator's size rather than the extension's. VmHWM samples do not.
        with self._emu.cond:
            self.exit_code = code
            self.exit_mono = time.monotonic()
            self._emu.cond.notify_all()

    def sample(self):
        """Refresh CPU time and peak RSS while the process lives (wait4 gives the final values)."""
        st = _proc_stat(self.pid)
        if st is not None and self.alive:
            self.cpu_time_ms = max(self.cpu_time_ms, st[2] * 1000.0 / CLOCK_TICKS)
            self.peak_rss_bytes = max(self.peak_rss_bytes, _proc_hwm_bytes(self.pid))

    def join(self, timeout):
        self._reaper.join(timeout)
        for t in self._readers:
            t.join(timeout)


# --------------------------------------------------------------------------------------------
# registrations and invocations


class _Extension:
    def __init__(self, name, external, events, proc):
        self.id = str(uuid.uuid4())
        self.name = name
        self.external = external
        self.events = events
        self.proc = proc
        self.queue = collections.deque()
        self.ready = False  # blocked in event/next, done with what it was given
        self.first_next_mono = None
        self.last_next_mono = None
        self.errored = None  # error type after init/error or exit/error
        self.subscription = None


class _Invocation:
    def __init__(self, env, seq, payload, timeout_s, emu):
        self.request_id = str(uuid.uuid4())
        self.env = env
        self.seq = seq
        self.payload = payload
        self.start_mono = time.monotonic()
        self.start_wall = time.time()
        self.deadline_ms = int(self.start_wall * 1000 + timeout_s * 1000)
        self.deadline_mono = self.start_mono + timeout_s
        t = int(self.start_wall)
        self.trace = "Root=1-%08x-%s;Parent=%s;Sampled=0" % (t, uuid.uuid4().hex[:24], uuid.uuid4().hex[:16])
        self.span_id = uuid.uuid4().hex[:16]
        self.delivered_mono = None
        self.answered = False
        self.response_mono = None
        self.response = None
        self.status = None
        self.error_type = None
        self.produced_bytes = 0

    def answer(self, body, error_type):
        """The runtime's response (error_type None) or error, now."""
        self.answered = True
        self.response_mono = time.monotonic()
        self.response = body
        self.produced_bytes = len(body or b"")
        if error_type is not None:
            self.status, self.error_type = "error", error_type
        else:
            self.status = "success"


# --------------------------------------------------------------------------------------------
# telemetry delivery


def _http_post(host, port, path, body, thawed, closed, timeout_s):
    """POST body; return the HTTP status or None on failure. Time while the environment is frozen
    does not count against timeout_s: the listener cannot answer then, and on Lambda neither side
    notices the freeze."""
    try:
        sock = socket.create_connection((host, port), timeout=0.5)
    except OSError:
        return None
    try:
        sock.setblocking(False)
        head = (f"POST {path} HTTP/1.1\r\nHost: sandbox.localdomain:{port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n").encode()
        out = memoryview(head + body)
        got = b""
        spent = 0.0
        while True:
            if closed():
                return None
            want_write = len(out) > 0
            t0 = time.monotonic()
            r, w, _ = select.select([sock], [sock] if want_write else [], [], 0.02)
            if thawed():
                spent += time.monotonic() - t0
            if spent > timeout_s:
                return None
            if w and want_write:
                try:
                    n = sock.send(out)
                    out = out[n:]
                except BlockingIOError:
                    pass
                except OSError:
                    # The listener may answer (413) and close before the body is all sent:
                    # stop sending and read what it said.
                    out = out[:0]
                    try:
                        got += sock.recv(65536)
                    except OSError:
                        pass
                    if b"\r\n" not in got:
                        return None
                    break
            if r:
                try:
                    chunk = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    return None
                if not chunk:
                    break
                got += chunk
                if b"\r\n" in got:
                    break
        first = got.split(b"\r\n", 1)[0].split()
        if len(first) >= 2 and first[1].isdigit():
            return int(first[1])
        return None
    finally:
        sock.close()


class _Subscription:
    """One extension's Telemetry API subscription: a bounded queue and a delivery thread."""

    def __init__(self, emu, env, ext, types, buffering, host, port, path):
        self.emu = emu
        self.env = env
        self.ext = ext
        self.types = set(types)
        self.max_items = buffering["maxItems"]
        self.max_bytes = buffering["maxBytes"]
        self.timeout_ms = buffering["timeoutMs"]
        self.host = host
        self.port = port
        self.path = path
        self.queue_cap_bytes = emu.telemetry_queue_max_bytes
        self.cond = threading.Condition()
        self.queue = collections.deque()  # (enqueued_mono, encoded bytes)
        self.queued_bytes = 0
        self.drop_records = 0
        self.drop_bytes = 0
        self.closed = False
        self.stats = emu._telemetry_stats(ext.name)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def wants(self, event_type):
        cat = "platform" if event_type.startswith("platform.") else event_type
        return cat in self.types

    def offer(self, encoded, is_log=True):
        with self.cond:
            if self.closed:
                return
            # Log records (function, extension) are dropped first; platform events are few per
            # invocation and get a larger bound so that a slow consumer still sees every report.
            cap = self.queue_cap_bytes if is_log else 4 * self.queue_cap_bytes
            if self.queued_bytes + len(encoded) > cap:
                # Lambda bounds what it buffers for a slow consumer, drops, and says so later.
                self.drop_records += 1
                self.drop_bytes += len(encoded)
                self.stats["dropped_events"] += 1
                return
            self._note_drops()
            self._append(encoded)

    def _note_drops(self):
        """Once there is room again, tell the subscriber what was dropped (caller holds cond)."""
        if not self.drop_records:
            return
        if "platform" in self.types:
            note = _encode_event("platform.logsDropped", {
                "reason": "Consumer seems to have fallen behind as it has not acknowledged "
                          "receipt of logs.",
                "droppedRecords": self.drop_records, "droppedBytes": self.drop_bytes})
            self._append(note)
        self.drop_records = 0
        self.drop_bytes = 0

    def _append(self, encoded):
        self.queue.append((time.monotonic(), encoded))
        self.queued_bytes += len(encoded)
        self.cond.notify_all()

    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self.thread.join(DELIVERY_TIMEOUT_S + 1)
        with self.cond:
            self.stats["dropped_events"] += len(self.queue)
            self.queue.clear()
            self.queued_bytes = 0

    def _take_batch(self):
        batch, size = [], 2
        while self.queue and len(batch) < self.max_items:
            enc = self.queue[0][1]
            if batch and size + len(enc) + 1 > self.max_bytes:
                break
            self.queue.popleft()
            self.queued_bytes -= len(enc)
            batch.append(enc)
            size += len(enc) + 1
        return batch

    def _due(self):
        if not self.queue:
            return False
        if len(self.queue) >= self.max_items or self.queued_bytes >= self.max_bytes:
            return True
        return (time.monotonic() - self.queue[0][0]) * 1000.0 >= self.timeout_ms

    def _run(self):
        env = self.env
        while True:
            with self.cond:
                while not self.closed and not self._due():
                    if self.queue:
                        left = self.timeout_ms / 1000.0 - (time.monotonic() - self.queue[0][0])
                        self.cond.wait(max(0.001, left))
                    else:
                        self.cond.wait(0.1)
                if self.closed:
                    return
            # Deliveries only happen while the environment is thawed.
            while not env.thawed.is_set():
                if self.closed:
                    return
                env.thawed.wait(0.05)
            with self.cond:
                batch = self._take_batch()
            if batch:
                self._deliver(batch)
                with self.cond:
                    if self.queued_bytes < self.queue_cap_bytes // 2:
                        self._note_drops()

    def _deliver(self, batch):
        fault = self.emu.telemetry_fault
        if fault is not None:
            self._deliver_faulted(fault(list(batch)), len(batch))
            return
        body = b"[" + b",".join(batch) + b"]"
        for attempt in range(DELIVERY_ATTEMPTS):
            status = _http_post(self.host, self.port, self.path, body, self.env.thawed.is_set,
                                lambda: self.closed, DELIVERY_TIMEOUT_S)
            if status is not None and 200 <= status < 300:
                self.stats["delivered_events"] += len(batch)
                self.stats["delivered_batches"] += 1
                return
            self.stats["failed_posts"] += 1
            if self.closed or attempt == DELIVERY_ATTEMPTS - 1:
                break
            waited = 0.0
            while waited < DELIVERY_BACKOFF_S[attempt] and not self.closed:
                if self.env.thawed.is_set():
                    waited += 0.01
                time.sleep(0.01)
        self.stats["dropped_events"] += len(batch)


    def _deliver_faulted(self, bodies, n_events):
        """POST each body once, no retries; count the answers by status."""
        ok = False
        for body in bodies:
            status = _http_post(self.host, self.port, self.path, body, self.env.thawed.is_set,
                                lambda: self.closed, DELIVERY_TIMEOUT_S)
            key = str(status) if status is not None else "none"
            with self.emu.lock:
                answers = self.stats.setdefault("fault_posts", {})
                answers[key] = answers.get(key, 0) + 1
            ok = ok or (status is not None and 200 <= status < 300)
            if self.closed:
                break
        if ok:
            self.stats["delivered_events"] += n_events
            self.stats["delivered_batches"] += 1
        else:
            self.stats["dropped_events"] += n_events


def _encode_event(event_type, record, ts=None):
    return json.dumps({"time": _iso(ts), "type": event_type, "record": record},
                      separators=(",", ":")).encode()


def _validate_subscription(body):
    """Validate a Telemetry API subscription body; return (types, buffering, host, port, path)."""

    def bad(msg):
        raise ApiError(400, "ValidationError", msg)

    try:
        req = json.loads(body or b"")
    except ValueError:
        bad("request body is not valid JSON")
    if not isinstance(req, dict):
        bad("request body must be a JSON object")
    if req.get("schemaVersion") not in TELEMETRY_SCHEMAS:
        bad("schemaVersion must be one of " + ", ".join(TELEMETRY_SCHEMAS))
    types = req.get("types")
    if not isinstance(types, list) or not types:
        bad("types should not be empty")
    for t in types:
        if t not in TELEMETRY_TYPES:
            bad(f"types: unknown type {t!r}")
    buffering = {}
    raw_buf = req.get("buffering", {})
    if raw_buf is None:
        raw_buf = {}
    if not isinstance(raw_buf, dict):
        bad("buffering must be an object")
    for key, (lo, hi, default) in BUFFERING_LIMITS.items():
        v = raw_buf.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int):
            bad(f"buffering.{key} must be an integer")
        if v < lo or v > hi:
            bad(f"buffering.{key} must be between {lo} and {hi}")
        buffering[key] = v
    dest = req.get("destination")
    if not isinstance(dest, dict):
        bad("destination is required")
    if dest.get("protocol") not in ("HTTP", "TCP"):
        bad("destination.protocol must be HTTP or TCP")
    if dest.get("protocol") == "TCP":
        bad("destination.protocol TCP is not supported by this emulator")
    uri = dest.get("URI")
    if not isinstance(uri, str):
        bad("destination.URI is required")
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme != "http":
        bad("URI scheme must be http")
    if parsed.hostname not in ("sandbox.localdomain", "sandbox"):
        bad("URI host must be sandbox.localdomain")
    try:
        port = parsed.port
    except ValueError:
        bad("URI port is invalid")
    if port is None:
        bad("URI port is not provided")
    if port == 9001:
        bad("URI port 9001 is reserved")
    path = parsed.path or "/"
    if parsed.query:
        path += "?" + parsed.query
    return types, buffering, "127.0.0.1", port, path


# --------------------------------------------------------------------------------------------
# one execution environment


class _Environment:
    def __init__(self, emu, env_id):
        self.emu = emu
        self.id = env_id
        self.cond = emu.cond
        self.phase = "init"  # init | idle | invoke | shutdown | dead
        self.created_mono = time.monotonic()
        self.created_wall = time.time()
        self.thawed = threading.Event()
        self.thawed.set()
        self.extensions = {}  # id -> _Extension
        self.procs = []  # every direct child, runtime last
        self.ext_procs = {}  # file name -> _Proc
        self.runtime = None
        self.rt_queue = collections.deque()
        self.rt_current = None
        self.rt_ready = False
        self.rt_started = False
        self.rt_init_done = False
        self.init_error = None  # (status, error_type)
        self.registration_open = True
        self.subscriptions_open = True
        self.subscriptions = []
        self.backlog = []  # (type, encoded) produced during init, replayed to new subscribers
        self.invocations = 0
        self.init_duration_ms = None
        self.hwm_bytes = 0  # environment high-water mark, never goes down
        self.oom = False
        self.frozen_pids = set()
        self.known_pids = set()
        self.shutdown_reason = None
        self.lifetime_s = None
        self.log_stream = "%s/[%s]%s" % (time.strftime("%Y/%m/%d", time.gmtime()),
                                         emu.function_version, uuid.uuid4().hex)
        self.instance_id = self.log_stream
        self.runtime_shutdown_ms = RUNTIME_SHUTDOWN_MS
        self._monitor_stop = False
        self._monitor = threading.Thread(target=self._watch_memory, daemon=True)
        self.sandbox = (_sandbox.Sandbox("lw-emu-%d-%d-%s" % (os.getpid(), env_id, uuid.uuid4().hex[:6]),
                                         emu.memory_mb)
                        if emu.sandbox else None)
        self.oom_kills_seen = 0

    # ---- events and output ------------------------------------------------------------------

    def emit(self, event_type, record):
        encoded = _encode_event(event_type, record)
        with self.cond:
            if self.phase == "init":
                self.backlog.append((event_type, encoded))
            for sub in self.subscriptions:
                if sub.wants(event_type):
                    sub.offer(encoded, not event_type.startswith("platform."))

    def on_output(self, proc, line):
        self.emu.log.write(line)
        text = line.decode("utf-8", "replace")
        self.emit("function" if proc.role == "runtime" else "extension", text)

    def platform_log(self, line):
        """A line Lambda itself writes to the log stream (START, END, REPORT, ...)."""
        self.emu.log.write(line)

    # ---- processes --------------------------------------------------------------------------

    def live_pids(self):
        roots = [p.pid for p in self.procs if p.alive]
        return _descendants(roots)

    def _spawn(self, role, name, argv, proc_env):
        proc = _Proc(self.emu, self, role, name, argv, proc_env, self.emu.task_root)
        self.procs.append(proc)
        return proc

    def _watch_memory(self):
        """Poll the RSS of every process of the environment while it is thawed.

        The environment's usage at one instant is the sum of VmRSS over all its processes (runtime,
        its children, extensions); the high-water mark is the largest sum seen. Polling can miss a
        spike shorter than the poll period, so at the end of each invocation the sum of every
        process's VmHWM is folded in as well (see _fold_hwm)."""
        pids = set()
        last_scan = 0.0
        last_sample = 0.0
        limit = self.emu.memory_mb * MIB
        while not self._monitor_stop:
            if not self.thawed.is_set():
                self.thawed.wait(0.05)
                last_scan = 0.0
                continue
            now = time.monotonic()
            if now - last_scan >= TREE_SCAN_S:
                pids = self.live_pids()
                self.known_pids |= pids
                last_scan = now
            total = 0
            for pid in pids:
                total += _proc_rss_bytes(pid)
            if total > self.hwm_bytes:
                self.hwm_bytes = total
            if now - last_sample >= 0.05:
                for p in self.procs:
                    if p.role == "extension":
                        p.sample()
                last_sample = now
            if self.sandbox is not None:
                if not self.oom and self.sandbox.oom_kills() > self.oom_kills_seen:
                    # The kernel's OOM killer ended a process of the environment.
                    with self.cond:
                        self.oom = True
                        if self.runtime is not None:
                            for pid in _descendants([self.runtime.pid]):
                                _kill(pid, signal.SIGKILL)
                        self.cond.notify_all()
            elif total > limit and not self.oom and self.phase in ("init", "invoke"):
                # The cgroup limit is hit: Lambda's OOM kill ends the runtime.
                with self.cond:
                    self.oom = True
                    if self.runtime is not None:
                        for pid in _descendants([self.runtime.pid]):
                            _kill(pid, signal.SIGKILL)
                    self.cond.notify_all()
            time.sleep(MEMORY_POLL_S)

    def _fold_hwm(self):
        total = 0
        for pid in self.live_pids():
            total += _proc_hwm_bytes(pid)
        self.hwm_bytes = max(self.hwm_bytes, total)

    def freeze(self):
        """Freeze the whole environment at once (the freezer cgroup), or, without the sandbox,
        SIGSTOP every process, descendants included, and wait until the kernel reports each one
        stopped, so that callers can rely on state T afterwards."""
        self.thawed.clear()
        if self.sandbox is not None:
            self.frozen_pids = self.sandbox.pids()
            self.sandbox.freeze()
            return
        stopped = set()
        for _ in range(10):
            new = self.live_pids() - stopped
            if not new:
                break
            for pid in new:
                _kill(pid, signal.SIGSTOP)
            stopped |= new
        deadline = time.monotonic() + 0.5
        for pid in stopped:
            while time.monotonic() < deadline:
                st = _proc_stat(pid)
                if st is None or st[0] in ("T", "t", "Z", "X"):
                    break
                time.sleep(0.0005)
        self.frozen_pids = stopped

    def thaw(self):
        if self.sandbox is not None:
            self.sandbox.thaw()
            self.frozen_pids = set()
            self.thawed.set()
            return
        for pid in self.frozen_pids | self.live_pids():
            _kill(pid, signal.SIGCONT)
        self.frozen_pids = set()
        self.thawed.set()

    # ---- environment variables -------------------------------------------------------------

    def _base_env(self):
        emu = self.emu
        return {
            "AWS_LAMBDA_RUNTIME_API": emu.runtime_api,
            "AWS_LAMBDA_FUNCTION_NAME": emu.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": emu.function_version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(emu.memory_mb),
            "AWS_REGION": emu.region,
            "AWS_DEFAULT_REGION": emu.region,
            "AWS_LAMBDA_INITIALIZATION_TYPE": INITIALIZATION_TYPES[emu.mode],
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            # The sandbox's /tmp: private to this emulator, kept across a reset, emptied when
            # the sandbox is recycled (see Emulator.tmp_dir).
            "TMPDIR": emu.tmp_dir,
            "PATH": "/usr/local/bin:/usr/bin/:/bin:" + os.path.join(emu.opt_dir, "bin"),
            "LD_LIBRARY_PATH": ":".join([
                "/lib64", "/usr/lib64", emu.runtime_dir, os.path.join(emu.runtime_dir, "lib"),
                emu.task_root, os.path.join(emu.task_root, "lib"), os.path.join(emu.opt_dir, "lib")]),
        }

    def runtime_env(self):
        env = self._base_env()
        env.update({
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/" + self.emu.function_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
            "LAMBDA_TASK_ROOT": self.emu.task_root,
            "LAMBDA_RUNTIME_DIR": self.emu.runtime_dir,
            "_HANDLER": self.emu.handler,
            "AWS_EXECUTION_ENV": self.emu.execution_env,
        })
        if self.emu.mode == "managed-instances":
            # Given to the runtime only (rapidcore/env/environment.go in AWS's emulator).
            env["AWS_LAMBDA_MAX_CONCURRENCY"] = str(self.emu.max_concurrency)
        env.update(self.emu.extra_env)
        return env

    def extension_env(self):
        env = self._base_env()
        # Lambda strips every variable starting with "_" from what extensions see.
        env.update({k: v for k, v in self.emu.extra_env.items() if not k.startswith("_")})
        seed_file = getattr(self, "seed_file", None)
        if seed_file is not None:
            env["LD_PRELOAD"] = self.emu.snapshot_random_lib
            env["LW_EMU_SEED_FILE"] = seed_file
        return env

    def runtime_argv(self, env):
        """The runtime's command. Lambda's managed runtimes honour AWS_LAMBDA_EXEC_WRAPPER: their
        bootstrap is started as `WRAPPER <original argv...>` (the wrapper then usually execs
        "$@"). The OS-only runtimes (provided.*) run the function's own bootstrap and ignore it."""
        wrapper = env.get("AWS_LAMBDA_EXEC_WRAPPER", "")
        managed = not (self.emu.execution_env or "").startswith("AWS_Lambda_provided")
        if wrapper and managed:
            return [wrapper] + self.emu.function_cmd
        return self.emu.function_cmd

    # ---- init -------------------------------------------------------------------------------

    def run_init(self):
        """Run the init phase. Returns None on success or (status, error_type)."""
        emu = self.emu
        self._monitor.start()
        t0 = time.monotonic()
        deadline = t0 + emu.init_timeout_s
        self.platform_log(f"INIT_START Runtime Version: {emu.runtime_version}\t"
                          f"Runtime Version ARN: arn:aws:lambda:{emu.region}::runtime:emulator")
        self.emit("platform.initStart", {"initializationType": INITIALIZATION_TYPES[emu.mode], "phase": "init",
                                         "runtimeVersion": emu.runtime_version,
                                         "functionName": emu.function_name,
                                         "functionVersion": emu.function_version,
                                         # schema 2025-01-29: the platform's identity of the
                                         # environment (the log stream name) and its memory
                                         "instanceId": self.instance_id,
                                         "instanceMaxMemory": emu.memory_mb * MIB})
        ext_env = self.extension_env()
        with self.cond:
            for name in emu.extension_files():
                path = os.path.join(emu.opt_dir, "extensions", name)
                if not os.access(path, os.X_OK):
                    self.init_error = ("error", "Extension.LaunchError")
                    break
                try:
                    self.ext_procs[name] = self._spawn("extension", name, [path], ext_env)
                except OSError:
                    self.init_error = ("error", "Extension.LaunchError")
                    break

            def registered_all():
                names = {e.name for e in self.extensions.values() if e.external}
                return all(n in names for n in self.ext_procs)

            while self.init_error is None and not registered_all():
                err = self._init_failure(deadline)
                if err:
                    self.init_error = err
                    break
                self.cond.wait(0.01)
            if self.init_error is None:
                # The runtime starts only once every external extension has registered.
                try:
                    rt_env = self.runtime_env()
                    self.runtime = self._spawn("runtime", "runtime", self.runtime_argv(rt_env),
                                               rt_env)
                    self.rt_started = True
                except OSError:
                    self.init_error = ("error", "Runtime.InvalidEntrypoint")
            while self.init_error is None and not (
                    self.rt_ready and all(e.ready for e in self.extensions.values())):
                err = self._init_failure(deadline)
                if err:
                    self.init_error = err
                    break
                self.cond.wait(0.01)
            self.registration_open = False
            self.subscriptions_open = False
            self.backlog = []
            self.init_duration_ms = (time.monotonic() - t0) * 1000.0
        status = "success" if self.init_error is None else self.init_error[0]
        done = {"initializationType": INITIALIZATION_TYPES[emu.mode], "phase": "init", "status": status}
        if self.init_error is not None:
            done["errorType"] = self.init_error[1]
            if not self.rt_init_done:
                self.emit("platform.initRuntimeDone", done)
        self.emit("platform.initReport", dict(done, metrics={"durationMs": round(self.init_duration_ms, 3)}))
        if self.init_error is not None:
            return self.init_error
        with self.cond:
            self.phase = "idle"
        self._fold_hwm()
        self.freeze()
        return None

    def _oom_killed(self):
        """True once the kernel's OOM killer has ended a process of this environment. Asked
        again where the runtime is found dead: the memory monitor polls, and a runtime the
        kernel killed can be seen dead before the monitor's next look."""
        if not self.oom and self.sandbox is not None and \
                self.sandbox.oom_kills() > self.oom_kills_seen:
            self.oom = True
        return self.oom

    def _init_failure(self, deadline):
        if self.init_error is not None:
            return self.init_error
        if self._oom_killed():
            return ("error", "Runtime.OutOfMemory")
        for name, p in self.ext_procs.items():
            if not p.alive:
                return ("error", "Extension.Crash")
        if self.runtime is not None and not self.runtime.alive:
            return ("error", "Runtime.ExitError")
        if time.monotonic() >= deadline:
            return ("timeout", "Sandbox.Timedout")
        return None

    # ---- invoke -----------------------------------------------------------------------------

    def run_invoke(self, inv, cold):
        """Run one invocation. Returns the reset reason (None when the environment survives)."""
        emu = self.emu
        self.thaw()
        with self.cond:
            self.phase = "invoke"
            self.invocations += 1
            inv.start_mono = time.monotonic()
            inv.start_wall = time.time()
            inv.deadline_mono = inv.start_mono + emu.timeout_s
            inv.deadline_ms = int(inv.start_wall * 1000 + emu.timeout_s * 1000)
        self.platform_log(f"START RequestId: {inv.request_id} Version: {emu.function_version}")
        self.emit("platform.start", {"requestId": inv.request_id, "version": emu.function_version,
                                     "tracing": {"spanId": inv.span_id, "type": "X-Amzn-Trace-Id",
                                                 "value": inv.trace}})
        event = {"eventType": "INVOKE", "deadlineMs": inv.deadline_ms, "requestId": inv.request_id,
                 "invokedFunctionArn": emu.function_arn,
                 "tracing": {"type": "X-Amzn-Trace-Id", "value": inv.trace}}
        reset = None
        with self.cond:
            invoke_exts = [e for e in self.extensions.values() if "INVOKE" in e.events]
            for e in invoke_exts:
                e.queue.append(event)
                e.ready = False
            self.cond.notify_all()
            # Lambda releases the extensions waiting in event/next first and the runtime after
            # them (the RIE's doInvoke: every agent.Release() before runtime.Release()). Here
            # the runtime's event waits until each waiting extension's handler has taken its
            # own, bounded so that an extension that is not in event/next delays nothing.
            release_by = time.monotonic() + 0.005
            while any(e.queue for e in invoke_exts) and time.monotonic() < release_by:
                self.cond.wait(0.0005)
            self.rt_queue.append(inv)
            self.rt_ready = False
            self.cond.notify_all()
        emu._fire_signals("invoke", self)
        with self.cond:
            while True:
                if self.oom:
                    inv.status, inv.error_type, reset = "error", "Runtime.OutOfMemory", "failure"
                    break
                if self.runtime is None or not self.runtime.alive:
                    inv.status, inv.error_type, reset = "error", (
                        "Runtime.OutOfMemory" if self._oom_killed() else "Runtime.ExitError"), \
                        "failure"
                    break
                crashed = [e for e in self.extensions.values()
                           if e.proc is not None and not e.proc.alive]
                if crashed:
                    inv.status, inv.error_type, reset = "failure", "Extension.Crash", "failure"
                    break
                # The invoke phase ends when the runtime has answered and called next again and
                # every extension given the INVOKE has called next again.
                if inv.answered and self.rt_ready and all(e.ready for e in invoke_exts):
                    break
                if time.monotonic() >= inv.deadline_mono:
                    inv.status, inv.error_type, reset = "timeout", "Sandbox.Timedout", "timeout"
                    break
                self.cond.wait(min(0.01, max(0.0005, inv.deadline_mono - time.monotonic())))
            end_mono = time.monotonic()
            post = {}
            if inv.answered:
                for e in invoke_exts:
                    if e.ready and e.last_next_mono is not None:
                        post[e.name] = max(0.0, (e.last_next_mono - inv.response_mono) * 1000.0)
            answered = inv.answered
            if not answered:
                inv.answered = True  # a late response is refused from now on
        if not answered:
            rec = {"requestId": inv.request_id, "status": inv.status, "errorType": inv.error_type,
                   "metrics": {"durationMs": round((end_mono - inv.start_mono) * 1000.0, 3),
                               "producedBytes": 0}}
            self.emit("platform.runtimeDone", rec)
        if reset is None:
            self._fold_hwm()
        duration_ms = (end_mono - inv.start_mono) * 1000.0
        runtime_ms = ((inv.response_mono - inv.start_mono) * 1000.0
                      if answered and inv.response_mono else duration_ms)
        init_ms = self.init_duration_ms if cold else None
        max_used_mb = int(math.ceil(self.hwm_bytes / MIB))
        if reset is None:
            # Clear the thawed flag before producing the report: platform.report for this
            # invocation then reaches subscribers only at the next thaw, as on Lambda.
            self.thawed.clear()
        if inv.status == "timeout":
            self.platform_log("%s %s Task timed out after %.2f seconds"
                              % (_iso(), inv.request_id, emu.timeout_s))
        self.platform_log(f"END RequestId: {inv.request_id}")
        billed = int(math.ceil(duration_ms + (init_ms or 0.0)))
        line = (f"REPORT RequestId: {inv.request_id}\tDuration: {duration_ms:.2f} ms\t"
                f"Billed Duration: {billed} ms\tMemory Size: {emu.memory_mb} MB\t"
                f"Max Memory Used: {max_used_mb} MB\t")
        if init_ms is not None:
            line += f"Init Duration: {init_ms:.2f} ms\t"
        if inv.status not in ("success", None):
            line += f"Status: {inv.status}\t"
            if inv.error_type:
                line += f"Error Type: {inv.error_type}\t"
        self.platform_log(line)
        metrics = {"durationMs": round(duration_ms, 3), "billedDurationMs": billed,
                   "memorySizeMB": emu.memory_mb, "maxMemoryUsedMB": max_used_mb}
        if init_ms is not None and self.emu.report_init_duration:
            metrics["initDurationMs"] = round(init_ms, 3)
        report = {"requestId": inv.request_id, "status": inv.status or "success", "metrics": metrics,
                  "tracing": {"spanId": inv.span_id, "type": "X-Amzn-Trace-Id", "value": inv.trace}}
        if inv.error_type:
            report["errorType"] = inv.error_type
        if answered and inv.response_mono is not None:
            overhead = max(0.0, (end_mono - inv.response_mono) * 1000.0)
            report["spans"] = [{"name": "extensionOverhead",
                                "start": _iso(inv.start_wall + (inv.response_mono - inv.start_mono)),
                                "durationMs": round(overhead, 3)}]
        self.emit("platform.report", report)
        inv.status = inv.status or "success"
        result = {
            "request_id": inv.request_id, "environment": self.id, "seq": inv.seq, "cold_start": cold,
            "status": inv.status, "error_type": inv.error_type,
            "duration_ms": round(duration_ms, 3), "runtime_duration_ms": round(runtime_ms, 3),
            "post_runtime_ms": post, "billed_duration_ms": billed,
            "max_memory_used_mb": max_used_mb, "env_peak_bytes": self.hwm_bytes,
            "init_duration_ms": round(init_ms, 3) if init_ms is not None else None,
            "response": inv.response,
        }
        if reset is None:
            with self.cond:
                self.phase = "idle"
            self.freeze()
            emu._fire_signals("frozen", self)
        return result, reset

    # ---- shutdown ---------------------------------------------------------------------------

    def shutdown(self, reason):
        """Lambda's shutdown: SIGTERM to the runtime, then SHUTDOWN to the extensions registered
        for it with a deadline inside the 2 s budget; whatever is still alive then is killed."""
        emu = self.emu
        self.thaw()
        if reason == "failure" and self.sandbox is not None:
            # The dying runtime's kernel work (reclaim at the memory limit, the OOM kill, the
            # teardown of its memory) ran past the CPU quota; see Sandbox.forgive_cpu_debt.
            self.sandbox.forgive_cpu_debt()
        t0 = time.monotonic()
        with self.cond:
            self.phase = "shutdown"
            self.cond.notify_all()
            externals = [e for e in self.extensions.values() if e.external]
        budget_ms = emu.shutdown_budget_ms if externals else 0
        deadline_mono = t0 + budget_ms / 1000.0
        if self.runtime is not None and self.runtime.alive:
            if budget_ms:
                # The runtime's share: 300 ms of the 2 s budget (600 ms on Managed Instances), at
                # most 30 % of a smaller one.
                runtime_ms = min(self.runtime_shutdown_ms, 0.3 * budget_ms)
                _kill(self.runtime.pid, signal.SIGTERM)
                self._wait_exit([self.runtime], t0 + runtime_ms / 1000.0)
            if self.runtime.alive:
                for pid in _descendants([self.runtime.pid]):
                    _kill(pid, signal.SIGKILL)
                self.runtime.killed = True
        deadline_ms = int(time.time() * 1000 + (deadline_mono - time.monotonic()) * 1000)
        event = {"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": deadline_ms}
        waiting = []
        with self.cond:
            for e in self.extensions.values():
                if e.proc is None or not e.proc.alive:
                    continue
                if "SHUTDOWN" in e.events and e.errored is None:
                    e.queue.append(event)
                    e.ready = False
                    waiting.append(e.proc)
            self.cond.notify_all()
        emu._fire_signals("shutdown", self)
        for name, p in self.ext_procs.items():
            if p.alive and p not in waiting:
                _kill(p.pid, signal.SIGKILL)
                p.killed = True
        self._wait_exit(waiting, deadline_mono)
        for p in self.procs:
            if p.alive:
                for pid in _descendants([p.pid]):
                    _kill(pid, signal.SIGKILL)
                p.killed = True
        # Orphaned descendants (reparented away from the tree) that the monitor saw.
        for pid in self.known_pids:
            st = _proc_stat(pid)
            if st is not None and st[0] not in ("Z", "X") and pid != os.getpid():
                if self._belongs(pid):
                    _kill(pid, signal.SIGKILL)
        for p in self.procs:
            p.join(2.0)
        if self.sandbox is not None:
            self.sandbox.remove()
        self._monitor_stop = True
        with self.cond:
            self.phase = "dead"
            self.shutdown_reason = reason
            self.lifetime_s = time.monotonic() - self.created_mono
            self.cond.notify_all()
            subs = list(self.subscriptions)
        for s in subs:
            s.close()
        for name, p in self.ext_procs.items():
            emu._record_extension_exit(name, p, reason, deadline_mono)
        emu._record_environment(self)

    def _belongs(self, pid):
        # A process we saw in the environment's tree still carries the session of one of our
        # children (each child leads its own session).
        try:
            sid = os.getsid(pid)
        except OSError:
            return False
        return any(sid == p.pid for p in self.procs)

    def _wait_exit(self, procs, deadline_mono):
        with self.cond:
            while any(p.alive for p in procs) and time.monotonic() < deadline_mono:
                self.cond.wait(min(0.01, max(0.0005, deadline_mono - time.monotonic())))


# --------------------------------------------------------------------------------------------
# SnapStart


SNAPSHOT_SEED = "5eed5eed5eed5eed"  # what every environment's init draws from getrandom()


class _SnapStartEnvironment(_Environment):
    """A SnapStart environment: init, snapshot, restore, then invocations as on-demand.

    Init runs as Lambda runs it for SnapStart (initializationType snap-start); the runtime ends
    it by calling /runtime/restore/next (or /invocation/next, when it has no restore hook). The
    snapshot freezes every process. The restore is a new environment in Lambda's eyes: a new
    log stream (the instanceId of platform.restoreStart), the runtime's restore/next answered,
    platform.restoreRuntimeDone once the runtime asks for its first invocation, then
    platform.restoreReport, and the first platform.report carries restoreDurationMs.
    Extensions get no event for the restore: only the telemetry tells them.

    Lambda runs that init once, when the version is published, and restores every environment
    from its snapshot: each restored environment's processes saw the same platform.initStart,
    with the same instanceId. The emulator cannot copy processes and runs the init again in each
    environment, but tells it as the one init it stands for: the snapshot's instanceId (the
    first environment's init log stream) in every environment's initStart. Only restoreStart
    tells environments apart, with an instanceId of their own unless the emulator's
    restore_instance_id is False (the schema makes it optional)."""

    def __init__(self, emu, env_id):
        super().__init__(emu, env_id)
        with emu.cond:
            if emu.snapshot_instance_id is None:
                emu.snapshot_instance_id = self.instance_id
            self.log_stream = self.instance_id = emu.snapshot_instance_id
        self.restore_waiting = False  # the runtime is blocked in restore/next
        self.restore_released = False
        self.restored_runtime = False  # the runtime asked for work after the restore
        self.restore_duration_ms = None
        self.first_report_pending = True
        self.seed_file = None
        if emu.snapshot_random_lib:
            fd, self.seed_file = tempfile.mkstemp(prefix="lw-emu-seed-")
            os.write(fd, SNAPSHOT_SEED.encode())
            os.close(fd)

    def run_init(self):
        err = super().run_init()
        if err is not None:
            self._drop_seed()
            return err
        # The snapshot: everything is frozen (super() did it); from here on getrandom() is the
        # kernel's again, as it would be in a restored microVM.
        self._drop_seed()
        return self._restore()

    def _drop_seed(self):
        if self.seed_file is not None:
            try:
                os.unlink(self.seed_file)
            except OSError:
                pass

    def _restore(self):
        emu = self.emu
        t0 = time.monotonic()
        self.log_stream = "%s/[%s]%s" % (time.strftime("%Y/%m/%d", time.gmtime()),
                                         emu.function_version, uuid.uuid4().hex)
        self.instance_id = self.log_stream
        self.platform_log(f"RESTORE_START Runtime Version: {emu.runtime_version}\t"
                          f"Runtime Version ARN: arn:aws:lambda:{emu.region}::runtime:emulator")
        restore = {"runtimeVersion": emu.runtime_version,
                   "runtimeVersionArn": f"arn:aws:lambda:{emu.region}::runtime:emulator",
                   "functionName": emu.function_name,
                   "functionVersion": emu.function_version,
                   "instanceId": self.instance_id,
                   "instanceMaxMemory": emu.memory_mb * MIB}
        if not emu.restore_instance_id:
            del restore["instanceId"]
        self.emit("platform.restoreStart", restore)
        self.thaw()
        with self.cond:
            self.restore_released = True
            self.cond.notify_all()
            deadline = time.monotonic() + emu.init_timeout_s
            # The restore is over when the runtime, its restore hooks run, asks for work; a
            # runtime without a restore hook has been waiting in invocation/next since init.
            while not (self.restored_runtime or self.rt_hookless):
                if self.runtime is None or not self.runtime.alive:
                    return ("error", "Runtime.ExitError")
                if time.monotonic() >= deadline:
                    return ("timeout", "Sandbox.Timedout")
                self.cond.wait(0.01)
        self.restore_duration_ms = (time.monotonic() - t0) * 1000.0
        self.emit("platform.restoreRuntimeDone", {"status": "success"})
        self.emit("platform.restoreReport", {"status": "success",
                                             "metrics": {"durationMs": round(self.restore_duration_ms, 3)}})
        self.platform_log(f"RESTORE_REPORT Restore Duration: {self.restore_duration_ms:.2f} ms")
        with self.cond:
            self.phase = "idle"
        self._fold_hwm()
        self.freeze()
        return None

    rt_hookless = False  # set when the runtime asked for work without calling restore/next

    def emit(self, event_type, record):
        if event_type == "platform.report" and self.first_report_pending and \
                self.restore_duration_ms is not None:
            self.first_report_pending = False
            record.setdefault("metrics", {})["restoreDurationMs"] = round(self.restore_duration_ms, 3)
        super().emit(event_type, record)

    def shutdown(self, reason):
        self._drop_seed()
        super().shutdown(reason)


# --------------------------------------------------------------------------------------------
# Lambda Managed Instances


LMI_RUNTIME_SHUTDOWN_MS = 600  # the runtime's share of the 2 s SHUTDOWN budget on LMI


class _LmiEnvironment(_Environment):
    """An environment of Lambda Managed Instances, as AWS's own emulator code plays it
    (internal/lambda-managed-instances): never frozen, up to max_concurrency invocations in
    flight at once, each taken by whichever runtime worker calls /invocation/next first; no
    INVOKE events for extensions; per request only platform.start and a platform.report whose
    metrics are durationMs alone (no runtimeDone, no memory figures), in no guaranteed order
    across requests. A timed-out invocation does not reset the environment (its code keeps
    running); an out-of-memory kill or a runtime crash ends it."""

    def __init__(self, emu, env_id):
        super().__init__(emu, env_id)
        self.inflight = {}  # request id -> _Invocation given to a worker, not answered yet
        self.runtime_shutdown_ms = LMI_RUNTIME_SHUTDOWN_MS
        self.failed = None  # (status, error type) once the environment cannot go on

    def freeze(self):
        """Never frozen."""

    def run_init(self):
        err = super().run_init()
        # super() froze nothing (freeze is a no-op); the environment stays "thawed" and running.
        self.thaw()
        with self.cond:
            if err is None:
                self.phase = "invoke"
        return err

    def run_invoke(self, inv, cold):
        """One invocation among possibly many in flight. Returns (result, reset)."""
        emu = self.emu
        with self.cond:
            if self.failed is not None:
                status, error_type = self.failed
                self.platform_log(f"START RequestId: {inv.request_id} Version: {emu.function_version}")
                inv.status, inv.error_type = status, error_type
                return self._result(inv, cold, 0.0), None
            self.invocations += 1
            inv.start_mono = time.monotonic()
            inv.start_wall = time.time()
            inv.deadline_mono = inv.start_mono + emu.timeout_s
            inv.deadline_ms = int(inv.start_wall * 1000 + emu.timeout_s * 1000)
        self.platform_log(f"START RequestId: {inv.request_id} Version: {emu.function_version}")
        self.emit("platform.start", {"requestId": inv.request_id, "version": emu.function_version,
                                     "functionArn": emu.function_arn,
                                     "tracing": {"spanId": inv.span_id, "type": "X-Amzn-Trace-Id",
                                                 "value": inv.trace}})
        reset = None
        with self.cond:
            self.rt_queue.append(inv)
            self.cond.notify_all()
            while True:
                if inv.answered:
                    break
                if self.oom:
                    inv.status, inv.error_type = "error", "Runtime.OutOfMemory"
                    self.failed = (inv.status, inv.error_type)
                    reset = "failure"
                    break
                if self.runtime is None or not self.runtime.alive:
                    inv.status, inv.error_type = "error", (
                        "Runtime.OutOfMemory" if self._oom_killed() else "Runtime.ExitError")
                    self.failed = (inv.status, inv.error_type)
                    reset = "failure"
                    break
                if time.monotonic() >= inv.deadline_mono:
                    # The caller gets a timeout; the code that runs it keeps running.
                    inv.status, inv.error_type = "timeout", "Sandbox.Timedout"
                    break
                self.cond.wait(min(0.01, max(0.0005, inv.deadline_mono - time.monotonic())))
            if not inv.answered:
                inv.answered = True  # a late response is refused from now on
                if inv in self.rt_queue:
                    self.rt_queue.remove(inv)
            self.inflight.pop(inv.request_id, None)
            end_mono = time.monotonic()
        duration_ms = (end_mono - inv.start_mono) * 1000.0
        if inv.status == "timeout":
            self.platform_log("%s %s Task timed out after %.2f seconds"
                              % (_iso(), inv.request_id, emu.timeout_s))
        self.platform_log(f"END RequestId: {inv.request_id}")
        line = f"REPORT RequestId: {inv.request_id}\tDuration: {duration_ms:.2f} ms\t"
        if inv.status not in ("success", None):
            line += f"Status: {inv.status}\t"
            if inv.error_type:
                line += f"Error Type: {inv.error_type}\t"
        self.platform_log(line)
        report = {"requestId": inv.request_id, "status": inv.status or "success",
                  "metrics": {"durationMs": round(duration_ms, 3)},
                  "tracing": {"spanId": inv.span_id, "type": "X-Amzn-Trace-Id", "value": inv.trace}}
        if inv.response_mono is not None:
            latency = (inv.response_mono - inv.start_mono) * 1000.0
            report["spans"] = [{"name": "responseLatency", "start": _iso(inv.start_wall),
                                "durationMs": round(latency, 3)},
                               {"name": "responseDuration",
                                "start": _iso(inv.start_wall + latency / 1000.0), "durationMs": 0.0}]
        if inv.error_type:
            report["errorType"] = inv.error_type
        self.emit("platform.report", report)
        inv.status = inv.status or "success"
        return self._result(inv, cold, duration_ms), reset

    def _result(self, inv, cold, duration_ms):
        runtime_ms = ((inv.response_mono - inv.start_mono) * 1000.0
                      if inv.response_mono is not None else duration_ms)
        return {
            "request_id": inv.request_id, "environment": self.id, "seq": inv.seq, "cold_start": cold,
            "status": inv.status, "error_type": inv.error_type,
            "duration_ms": round(duration_ms, 3), "runtime_duration_ms": round(runtime_ms, 3),
            "post_runtime_ms": {}, "billed_duration_ms": None, "max_memory_used_mb": None,
            "env_peak_bytes": self.hwm_bytes,
            "init_duration_ms": round(self.init_duration_ms, 3) if cold else None,
            "response": inv.response,
        }

    # Runtime API, called by the emulator's HTTP front in this mode

    def rt_next(self):
        """A worker asks for work: the oldest queued invocation (blocks until one comes)."""
        with self.cond:
            self.rt_ready = True
            first = not self.rt_init_done
            self.rt_init_done = True
            self.cond.notify_all()
        if first:
            self.emit("platform.initRuntimeDone", {"initializationType": INITIALIZATION_TYPES[self.emu.mode],
                                                   "phase": "init", "status": "success"})
        with self.cond:
            while not self.rt_queue:
                if self.phase in ("dead", "shutdown"):
                    raise _Gone()
                self.cond.wait(0.5)
            inv = self.rt_queue.popleft()
            self.inflight[inv.request_id] = inv
            inv.delivered_mono = time.monotonic()
        return inv

    def rt_answer(self, request_id, body, error_type):
        with self.cond:
            inv = self.inflight.get(request_id)
            if inv is None or inv.answered:
                raise ApiError(400, "InvalidRequestID", f"Invalid request ID: {request_id}")
            inv.answer(body, error_type)
            self.inflight.pop(request_id, None)
            self.cond.notify_all()


# --------------------------------------------------------------------------------------------
# the HTTP front: Runtime API, Extensions API, Telemetry API on one port


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lambda-emulator"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 - silence the default access log
        pass

    def setup(self):
        super().setup()
        # Lambda's API server answers at once. http.server writes the head and the body in two
        # sends; without TCP_NODELAY, Nagle's algorithm holds the body back until the client's
        # delayed ACK (40 ms on Linux), which would be charged to every keep-alive client.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        self.server.emulator._serve(self, "GET")

    def do_POST(self):
        self.server.emulator._serve(self, "POST")

    def do_PUT(self):
        self.server.emulator._serve(self, "PUT")

    def read_body(self, cap):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size_line = self.rfile.readline(1024)
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise ApiError(400, "InvalidRequestFormat", "bad chunked encoding")
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                out += self.rfile.read(size)
                self.rfile.readline(1024)
                if len(out) > cap:
                    self.close_connection = True
                    raise ApiError(413, "RequestEntityTooLarge", "request body too large")
            return bytes(out)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise ApiError(400, "InvalidRequestFormat", "bad Content-Length")
        if n > cap:
            self.close_connection = True
            raise ApiError(413, "RequestEntityTooLarge", "request body too large")
        return self.rfile.read(n)

    def reply(self, status, body=b"", headers=None, content_type="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        # A client that went away (killed, frozen then reset) is normal here; anything else is a bug.
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            super().handle_error(request, client_address)


# --------------------------------------------------------------------------------------------
# the public object


class Emulator:
    _said_no_sandbox = False
    """A local Lambda service for one function. Use as a context manager:

        with Emulator(opt_dir="layer", function_cmd=["./bootstrap"], memory_mb=128) as emu:
            result = emu.invoke({"bytes": 1024})
            ...
        report = emu.report()

    invoke() runs one whole invocation (cold-starting an environment when there is none) and
    returns the invocation's result dict; shutdown() ends the current environment; close() (or
    leaving the with block) shuts down with reason "spindown" and stops the server.
    """

    def __init__(self, opt_dir, function_cmd, memory_mb=128, timeout_s=3.0, env=None, log_file=None,
                 function_name="emulated-function", function_version="$LATEST", region="us-east-1",
                 account_id="123456789012", handler="function.handler", task_root=None,
                 runtime_dir=None, execution_env="AWS_Lambda_provided.al2023",
                 runtime_version="provided:al2023.emulator", init_timeout_s=INIT_TIMEOUT_S,
                 recycle_after_invocations=None, recycle_after_s=None,
                 telemetry_queue_max_bytes=4 * MIB, port=0, refuse_subscriptions=None,
                 telemetry_fault=None, extension_stdout="read",
                 shutdown_budget_ms=SHUTDOWN_BUDGET_MS, mode="on-demand",
                 refuse_invoke_registration=False, max_concurrency=1, telemetry_schemas=None,
                 snapshot_random_lib=None, sandbox="auto", rie=False,
                 sandbox_address="127.0.0.1", report_init_duration=True,
                 restore_instance_id=True):
        if isinstance(function_cmd, str):
            function_cmd = [function_cmd]
        if not function_cmd:
            raise EmulatorError("function_cmd is empty")
        if memory_mb < 1:
            raise EmulatorError("memory_mb must be positive")
        self.opt_dir = os.path.abspath(opt_dir) if opt_dir else os.path.abspath(os.devnull + "-opt")
        self.function_cmd = list(function_cmd)
        if os.sep in self.function_cmd[0]:
            # The runtime starts in the task root; a relative bootstrap path means the caller's cwd.
            self.function_cmd[0] = os.path.abspath(self.function_cmd[0])
        self.memory_mb = int(memory_mb)
        self.timeout_s = float(timeout_s)
        self.extra_env = dict(env or {})
        self.function_name = function_name
        self.function_version = function_version
        self.region = region
        self.account_id = account_id
        self.handler = handler
        first = self.function_cmd[0]
        default_root = os.path.dirname(os.path.abspath(first)) if os.sep in first else os.getcwd()
        self.task_root = os.path.abspath(task_root or default_root)
        self.runtime_dir = os.path.abspath(runtime_dir or self.task_root)
        self.execution_env = execution_env
        self.runtime_version = runtime_version
        self.init_timeout_s = float(init_timeout_s)
        self.recycle_after_invocations = recycle_after_invocations
        self.recycle_after_s = recycle_after_s
        self.telemetry_queue_max_bytes = int(telemetry_queue_max_bytes)
        # Fault injection (README: "Faults"): all off by default.
        if refuse_subscriptions is not None and not 200 <= int(refuse_subscriptions) <= 599:
            raise EmulatorError("refuse_subscriptions must be an HTTP status")
        # rie: the behaviours of AWS's Runtime Interface Emulator (RIE_SHUTDOWN_REASON above)
        self.rie = bool(rie)
        if self.rie and refuse_subscriptions is None:
            refuse_subscriptions = 202
        self.refuse_subscriptions = refuse_subscriptions
        if isinstance(telemetry_fault, str):
            if telemetry_fault not in TELEMETRY_FAULTS:
                raise EmulatorError("telemetry_fault must be one of " + ", ".join(TELEMETRY_FAULTS))
            telemetry_fault = TELEMETRY_FAULTS[telemetry_fault]
        self.telemetry_fault = telemetry_fault
        if extension_stdout not in EXTENSION_STDOUT_MODES:
            raise EmulatorError("extension_stdout must be one of " + ", ".join(EXTENSION_STDOUT_MODES))
        self.extension_stdout = extension_stdout
        if shutdown_budget_ms < 0:
            raise EmulatorError("shutdown_budget_ms must not be negative")
        self.shutdown_budget_ms = shutdown_budget_ms
        if mode not in MODES:
            raise EmulatorError("mode must be one of " + ", ".join(MODES))
        self.mode = mode
        # INVOKE refused at register in any mode: a platform that allows only SHUTDOWN without
        # saying so in AWS_LAMBDA_INITIALIZATION_TYPE.
        self.refuse_invoke_registration = bool(refuse_invoke_registration) or mode == "managed-instances"
        if int(max_concurrency) < 1:
            raise EmulatorError("max_concurrency must be positive")
        self.max_concurrency = int(max_concurrency)
        # The Telemetry API schemas this platform accepts (a platform from before 2025-01-29
        # refuses it with a 400, as any unknown schema).
        if telemetry_schemas is None:
            telemetry_schemas = ((MANAGED_INSTANCES_SCHEMA,) if mode == "managed-instances"
                                 else TELEMETRY_SCHEMAS)
        if not set(telemetry_schemas) <= set(TELEMETRY_SCHEMAS):
            raise EmulatorError("telemetry_schemas must be among " + ", ".join(TELEMETRY_SCHEMAS))
        self.telemetry_schemas = tuple(telemetry_schemas)
        # SnapStart: every environment restored from one snapshot shares what the extensions had
        # in memory at the snapshot. The emulator cannot copy processes, so it initialises each
        # environment anew and makes their init state the same where it matters: with this
        # LD_PRELOAD library (tests/emulator/fixtures/seeded_random.c), getrandom() returns the
        # same bytes in every environment until the snapshot, and the kernel's afterwards.
        self.snapshot_random_lib = snapshot_random_lib
        # SnapStart: the instanceId of the one init every environment is restored from (set by
        # the first environment), and whether platform.restoreStart carries the restored
        # environment's own instanceId (False: left out, as the schema allows).
        self.snapshot_instance_id = None
        self.restore_instance_id = bool(restore_instance_id)
        # The Lambda-grade sandbox (sandbox.py): cgroups for CPU share, memory limit and freezing.
        # "auto" uses it where the machine allows and says once when it does not; True requires
        # it; False keeps the fallback (no CPU share, the memory limit by polling, SIGSTOP).
        if sandbox not in ("auto", True, False):
            raise EmulatorError('sandbox must be "auto", True or False')
        why = _sandbox.unavailable_reason() if sandbox else "off"
        if sandbox is True and why is not None:
            raise EmulatorError("the sandbox is not available here: " + why)
        self.sandbox = why is None
        self.sandbox_unavailable = why
        if sandbox == "auto" and why is not None and not Emulator._said_no_sandbox:
            Emulator._said_no_sandbox = True
            sys.stderr.write("lambda-emulator: no cgroup sandbox (%s): no CPU share, the memory "
                             "limit by polling, SIGSTOP for freezing\n" % why)
        self._signals = []  # pending schedule_signal() entries
        self._signals_sent = []
        self._subscribed_schemas = []  # schemaVersion of every accepted subscription
        self._subscribed_uris = []  # destination URI of every accepted subscription
        # Where telemetry for sandbox.localdomain goes: 127.0.0.1 as AWS's RIE, or the address a
        # test gave the name in an extension's own /etc/hosts.
        self.sandbox_address = sandbox_address
        # False: the cold start's platform.report carries no initDurationMs, as where the init
        # ran long before the invocation (provisioned concurrency, SnapStart): platform.initReport
        # is then the only source of the init duration.
        self.report_init_duration = bool(report_init_duration)
        self.function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self._drive = threading.Lock()
        self.log = _LogSink(log_file)
        self.env = None
        self._next_env_id = 1
        self._seq = 0
        self._invocations = []
        self._environments = []
        self._ext_stats = {}
        self._tel_stats = {}
        # The sandbox's /tmp (given as TMPDIR to the runtime and the extensions). Lambda keeps
        # /tmp when it resets an environment after a failed invocation (the next environment of
        # the sandbox finds what the last one left) and a new sandbox starts with an empty one;
        # so here it is emptied when an environment ends for any other reason than a reset.
        self.tmp_dir = tempfile.mkdtemp(prefix="lw-emu-tmp-")
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.emulator = self
        self.port = self._server.server_address[1]
        self.runtime_api = f"127.0.0.1:{self.port}"
        self._server_thread = threading.Thread(target=self._server.serve_forever,
                                               kwargs={"poll_interval": 0.05}, daemon=True)
        self._server_thread.start()
        self._closed = False

    # ---- context manager --------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        if self._closed:
            return
        self.shutdown()
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self.log.close()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    # ---- driving ----------------------------------------------------------------------------

    def extension_files(self):
        d = os.path.join(self.opt_dir, "extensions")
        try:
            names = sorted(os.listdir(d))
        except OSError:
            return []
        return [n for n in names if os.path.isfile(os.path.join(d, n))]

    @property
    def log_lines(self):
        """Every line written to the log stream so far (function, extensions, Lambda's own)."""
        return list(self.log.lines)

    def init(self):
        """Create an environment and run its init phase now (invoke() does it when needed).
        Returns None on success or (status, error_type) when init failed."""
        with self._drive:
            if self.env is not None:
                return None
            return self._init_env()

    def _init_env(self):
        with self.cond:
            cls = {"managed-instances": _LmiEnvironment,
                   "snapstart": _SnapStartEnvironment}.get(self.mode, _Environment)
            env = cls(self, self._next_env_id)
            self._next_env_id += 1
            self.env = env
        err = env.run_init()
        if err is not None:
            env.init_failed = err
        return err

    @staticmethod
    def _body(payload, raw=False):
        if isinstance(payload, (bytes, bytearray)):
            return bytes(payload)
        if isinstance(payload, str) and raw:
            return payload.encode()
        return json.dumps(payload if payload is not None else {}).encode()

    def invoke(self, payload=None, raw=False):
        """Run one invocation and return its result dict (see the README for the keys).
        payload: any JSON-serialisable value, or bytes/str sent as-is."""
        if self.mode == "managed-instances":
            return self.run_load([payload], concurrency=1, raw=raw)[0]
        with self._drive:
            if self._closed:
                raise EmulatorError("emulator is closed")
            body = self._body(payload, raw)
            env = self.env
            if env is not None and self.recycle_after_s is not None and \
                    time.monotonic() - env.created_mono >= self.recycle_after_s:
                self._shutdown_env("spindown")
                env = None
            cold = env is None
            init_err = None
            if cold:
                init_err = self._init_env()
                env = self.env
            self._seq += 1
            inv = _Invocation(env, self._seq, body, self.timeout_s, self)
            if init_err is not None:
                result = self._failed_init_result(env, inv, init_err)
                reset = "failure"
            else:
                result, reset = env.run_invoke(inv, cold)
            self._invocations.append(result)
            if reset is not None:
                self._shutdown_env(reset, reset=True)
            elif self.recycle_after_invocations is not None and \
                    env.invocations >= self.recycle_after_invocations:
                self._shutdown_env("spindown")
            return dict(result)

    def run_load(self, payloads, concurrency=None, raw=False):
        """Managed Instances: run one invocation per payload (an iterable, consumed lazily),
        with up to `concurrency` in flight at once (default: max_concurrency), in the current
        environment (made when there is none). Returns the results in completion order. When
        the environment fails (out of memory, runtime crash) the remaining payloads are not
        sent, and the environment is shut down with reason "failure"."""
        if self.mode != "managed-instances":
            raise EmulatorError("run_load() is for mode managed-instances; use invoke()")
        concurrency = int(concurrency or self.max_concurrency)
        it = iter(payloads)
        results = []
        with self._drive:
            if self._closed:
                raise EmulatorError("emulator is closed")
            cold = self.env is None
            if cold:
                err = self._init_env()
                if err is not None:
                    self._seq += 1
                    env = self.env
                    inv = _Invocation(env, self._seq, b"{}", self.timeout_s, self)
                    result = self._failed_init_result(env, inv, err)
                    self._invocations.append(result)
                    self._shutdown_env("failure", reset=True)
                    return [dict(result)]
            env = self.env
        state = {"cold": cold, "reset": None}
        take = threading.Lock()

        def worker():
            while True:
                with take:
                    if state["reset"] is not None:
                        return
                    try:
                        payload = next(it)
                    except StopIteration:
                        return
                    with self.lock:
                        self._seq += 1
                        seq = self._seq
                    first, state["cold"] = state["cold"], False
                inv = _Invocation(env, seq, self._body(payload, raw), self.timeout_s, self)
                result, reset = env.run_invoke(inv, first)
                with self.lock:
                    self._invocations.append(result)
                    results.append(dict(result))
                if reset is not None:
                    with take:
                        state["reset"] = reset

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if state["reset"] is not None:
            with self._drive:
                if self.env is env:
                    self._shutdown_env(state["reset"], reset=True)
        return results

    def schedule_signal(self, name, signum, when, delay_s=0.0):
        """Send signal signum to extension `name` once, delay_s after the next moment `when`:
        "init" (it has just registered), "invoke" (the INVOKE has been handed to the extensions
        and the runtime), "next" (this extension has just called event/next again during an
        invocation), "frozen" (the environment has just been frozen after an invocation:
        the signal is delivered at the thaw) or "shutdown" (SHUTDOWN has been handed to the
        extensions). What was sent is listed in report()["signals"]."""
        if when not in SIGNAL_MOMENTS:
            raise EmulatorError("when must be one of " + ", ".join(SIGNAL_MOMENTS))
        with self.lock:
            self._signals.append({"extension": name, "signal": int(signum), "when": when,
                                  "delay_s": float(delay_s)})

    def _fire_signals(self, when, env, only=None):
        def hit(s):
            return s["when"] == when and (only is None or s["extension"] == only)

        with self.lock:
            due = [s for s in self._signals if hit(s)]
            self._signals = [s for s in self._signals if not hit(s)]
        for s in due:
            proc = env.ext_procs.get(s["extension"])
            if proc is None:
                continue

            def send(s=s, proc=proc):
                sent = proc.alive
                if sent:
                    _kill(proc.pid, s["signal"])
                with self.lock:
                    self._signals_sent.append(dict(s, pid=proc.pid, sent=sent))

            if s["delay_s"] > 0:
                t = threading.Timer(s["delay_s"], send)
                t.daemon = True
                t.start()
            else:
                send()

    def _failed_init_result(self, env, inv, err):
        status, error_type = err
        self.log.write(f"START RequestId: {inv.request_id} Version: {self.function_version}")
        self.log.write(f"END RequestId: {inv.request_id}")
        self.log.write(f"REPORT RequestId: {inv.request_id}\tDuration: 0.00 ms\tBilled Duration: 0 ms\t"
                       f"Memory Size: {self.memory_mb} MB\tMax Memory Used: "
                       f"{int(math.ceil(env.hwm_bytes / MIB))} MB\tInit Duration: "
                       f"{env.init_duration_ms:.2f} ms\tStatus: {status}\tError Type: {error_type}\t")
        return {"request_id": inv.request_id, "environment": env.id, "seq": inv.seq, "cold_start": True,
                "status": status, "error_type": error_type, "duration_ms": 0.0,
                "runtime_duration_ms": 0.0, "post_runtime_ms": {}, "billed_duration_ms": 0,
                "max_memory_used_mb": int(math.ceil(env.hwm_bytes / MIB)),
                "env_peak_bytes": env.hwm_bytes, "init_duration_ms": round(env.init_duration_ms, 3),
                "response": None}

    def shutdown(self, reason=None):
        """End the current environment (if any) with the given SHUTDOWN reason (default:
        "spindown", or the RIE's "SandboxTerminated" with rie=True)."""
        if reason is None:
            reason = RIE_SHUTDOWN_REASON if self.rie else "spindown"
        with self._drive:
            self._shutdown_env(reason)

    def _shutdown_env(self, reason, reset=False):
        """End the environment. reset: after a failed invocation, in the same sandbox (its /tmp
        stays for the next environment); otherwise the sandbox goes as well."""
        env = self.env
        if env is None:
            return
        env.shutdown(reason)
        with self.cond:
            self.env = None
        if not reset:
            self.clear_tmp()

    def clear_tmp(self):
        """Empty the sandbox's /tmp, as a new sandbox starts."""
        for name in os.listdir(self.tmp_dir):
            path = os.path.join(self.tmp_dir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass

    # ---- bookkeeping ------------------------------------------------------------------------

    def _telemetry_stats(self, name):
        with self.lock:
            return self._tel_stats.setdefault(name, {"delivered_events": 0, "dropped_events": 0,
                                                     "failed_posts": 0, "delivered_batches": 0})

    def _ext_entry(self, name):
        return self._ext_stats.setdefault(name, {
            "init_durations_ms": [], "post_runtime_samples": [], "cpu_time_ms": 0.0,
            "peak_rss_bytes": 0, "shutdowns": []})

    def _record_extension_exit(self, name, proc, reason, deadline_mono):
        with self.lock:
            entry = self._ext_entry(name)
            entry["cpu_time_ms"] += proc.cpu_time_ms
            entry["peak_rss_bytes"] = max(entry["peak_rss_bytes"], proc.peak_rss_bytes)
            in_time = (not proc.killed and proc.exit_mono is not None
                       and proc.exit_mono <= deadline_mono + 0.005)
            entry["shutdowns"].append({"reason": reason, "in_time": bool(in_time),
                                       "killed": proc.killed, "exit_code": proc.exit_code})

    def _record_environment(self, env):
        with self.lock:
            for e in env.extensions.values():
                if e.external and e.first_next_mono is not None and e.proc is not None:
                    self._ext_entry(e.name)["init_durations_ms"].append(
                        round((e.first_next_mono - e.proc.spawn_mono) * 1000.0, 3))
            self._environments.append({
                "id": env.id, "invocations": env.invocations, "shutdown_reason": env.shutdown_reason,
                "lifetime_s": round(env.lifetime_s, 3), "init_duration_ms":
                    round(env.init_duration_ms, 3) if env.init_duration_ms is not None else None,
                "init_error": getattr(env, "init_failed", None) and env.init_failed[1],
                "max_memory_used_mb": int(math.ceil(env.hwm_bytes / MIB)),
                "peak_bytes": env.hwm_bytes})

    def report(self):
        """The measurements so far, in the layout of --report (see the README)."""
        with self.lock:
            exts = {}
            names = set(self._ext_stats)
            live = {}
            if self.env is not None:
                for name, p in self.env.ext_procs.items():
                    names.add(name)
                    p.sample()
                    live[name] = p
            for inv in self._invocations:
                names.update(inv["post_runtime_ms"])
            for name in sorted(names):
                entry = self._ext_entry(name)
                inits = list(entry["init_durations_ms"])
                if self.env is not None:
                    for e in self.env.extensions.values():
                        if e.name == name and e.first_next_mono is not None and e.proc is not None:
                            inits.append(round((e.first_next_mono - e.proc.spawn_mono) * 1000.0, 3))
                samples = [inv["post_runtime_ms"][name] for inv in self._invocations
                           if name in inv["post_runtime_ms"]]
                cpu = entry["cpu_time_ms"] + (live[name].cpu_time_ms if name in live else 0.0)
                peak = max(entry["peak_rss_bytes"], live[name].peak_rss_bytes if name in live else 0)
                shutdowns = entry["shutdowns"]
                exts[name] = {
                    "init_duration_ms": inits[0] if inits else None,
                    "init_durations_ms": inits,
                    "post_runtime_ms": {
                        "p50": _round(_percentile(samples, 50)), "p99": _round(_percentile(samples, 99)),
                        "max": _round(max(samples)) if samples else None,
                        "samples": [round(s, 3) for s in samples]},
                    "cpu_time_ms": round(cpu, 3),
                    "peak_rss_bytes": peak,
                    "shutdown": ({k: shutdowns[-1][k] for k in ("in_time", "killed", "exit_code")}
                                 if shutdowns else None),
                    "shutdowns": list(shutdowns),
                }
            invocations = []
            for inv in self._invocations:
                invocations.append({k: v for k, v in inv.items() if k != "response"})
            return {
                "function": {"name": self.function_name, "memory_mb": self.memory_mb,
                             "timeout_s": self.timeout_s},
                "extensions": exts,
                "invocations": invocations,
                "environments": list(self._environments),
                "telemetry": {k: dict(v) for k, v in self._tel_stats.items()},
                "signals": [dict(s) for s in self._signals_sent],
                "subscribed_schemas": list(self._subscribed_schemas),
                "subscribed_uris": list(self._subscribed_uris),
            }

    # ---- HTTP dispatch ----------------------------------------------------------------------

    def _serve(self, h, method):
        path = urllib.parse.urlsplit(h.path).path
        try:
            if path.startswith("/2018-06-01/runtime/"):
                self._runtime_api(h, method, path)
            elif path.startswith("/2020-01-01/extension/"):
                self._extension_api(h, method, path)
            elif path == "/2022-07-01/telemetry":
                if method != "PUT":
                    raise ApiError(405, "MethodNotAllowed", "use PUT")
                self._telemetry_subscribe(h)
            elif path == "/2020-08-15/logs":
                h.read_body(MAX_REQUEST_BYTES)
                h.reply(202, {"errorMessage": "Logs API is not supported by this emulator; use the "
                                              "Telemetry API", "errorType": "Logs.NotSupported"})
            else:
                raise ApiError(404, "NotFound", f"no route for {method} {path}")
        except ApiError as e:
            h.reply(e.status, {"errorMessage": e.message, "errorType": e.error_type})
        except _Gone:
            # The environment went away under a blocked request (its process is being killed).
            h.close_connection = True

    # Extensions API -------------------------------------------------------------------------

    def _ext_by_header(self, h, env):
        ident = h.headers.get("Lambda-Extension-Identifier")
        if not ident:
            raise ApiError(403, "Extension.MissingExtensionIdentifier", "Missing Lambda-Extension-Identifier header")
        if not UUID_RE.match(ident):
            raise ApiError(403, "Extension.InvalidExtensionIdentifier", "Invalid Lambda-Extension-Identifier")
        ext = env.extensions.get(ident) if env is not None else None
        if ext is None:
            raise ApiError(403, "Extension.UnknownExtensionIdentifier", f"Unknown extension {ident}")
        return ext

    def _extension_api(self, h, method, path):
        op = path[len("/2020-01-01/extension/"):]
        routes = {"register": "POST", "event/next": "GET", "init/error": "POST", "exit/error": "POST"}
        if op not in routes:
            raise ApiError(404, "NotFound", f"no route for {method} {path}")
        if routes[op] != method:
            raise ApiError(405, "MethodNotAllowed", f"use {routes[op]}")
        body = h.read_body(MAX_REQUEST_BYTES)
        if op == "register":
            self._register(h, body)
        elif op == "event/next":
            self._ext_next(h)
        else:
            self._ext_error(h, op, body)

    def _register(self, h, body):
        name = h.headers.get("Lambda-Extension-Name", "")
        if not name:
            raise ApiError(403, "Extension.InvalidExtensionName", "Empty extension name")
        features = [f.strip() for f in h.headers.get("Lambda-Extension-Accept-Feature", "").split(",")]
        try:
            req = json.loads(body)
        except ValueError as e:
            raise ApiError(403, "InvalidRequestFormat", str(e))
        if not isinstance(req, dict):
            raise ApiError(403, "InvalidRequestFormat", "body must be a JSON object")
        if req.get("configurationKeys"):
            raise ApiError(403, "InvalidRequestFormat",
                           "configurationKeys are deprecated; use environment variables instead")
        events = req.get("events") or []
        if not isinstance(events, list):
            raise ApiError(403, "InvalidRequestFormat", "events must be an array")
        with self.cond:
            env = self.env
            if env is None or not env.registration_open:
                raise ApiError(403, "Extension.RegistrationClosed", "Extension registration closed already")
            external = name in env.ext_procs
            for ev in events:
                if ev not in ("INVOKE", "SHUTDOWN"):
                    raise ApiError(403, "Extension.InvalidEventType", f"{ev}: invalid event type")
                if ev == "INVOKE" and external and self.refuse_invoke_registration:
                    # The extension stays unregistered and may register again.
                    raise ApiError(403, "Extension.InvalidEventType", "INVOKE: ErrorInvalidEventType")
                if ev == "SHUTDOWN" and not external:
                    # A name that matches no file in /opt/extensions is an internal extension, and
                    # internal extensions cannot receive SHUTDOWN.
                    raise ApiError(403, "Extension.InvalidEventType",
                                   f"{ev}: event is not supported for internal extensions")
            for other in env.extensions.values():
                if other.name == name:
                    raise ApiError(403, "Extension.InvalidExtensionState",
                                   f"State transition from Registered to Registered failed for "
                                   f"extension {name}. Error: extension already registered")
            if len(env.extensions) >= MAX_EXTENSIONS:
                raise ApiError(403, "Extension.TooManyExtensions",
                               f"Extension limit ({MAX_EXTENSIONS}) reached")
            ext = _Extension(name, external, set(events), env.ext_procs.get(name))
            env.extensions[ext.id] = ext
            self.cond.notify_all()
        self._fire_signals("init", env)
        resp = {"functionName": self.function_name, "functionVersion": self.function_version,
                "handler": self.handler}
        if "accountId" in features:
            resp["accountId"] = self.account_id
        h.reply(200, resp, {"Lambda-Extension-Identifier": ext.id})

    def _ext_next(self, h):
        with self.cond:
            env = self.env
            ext = self._ext_by_header(h, env)
            if ext.errored is not None:
                raise ApiError(403, "Extension.InvalidExtensionState",
                               f"State transition failed for extension {ext.name}: it reported "
                               f"{ext.errored}")
            now = time.monotonic()
            in_invocation = ext.ready is False and env.phase == "invoke"
            ext.ready = True
            ext.last_next_mono = now
            first = ext.first_next_mono is None
            if first:
                ext.first_next_mono = now
            self.cond.notify_all()
        if in_invocation:
            self._fire_signals("next", env, ext.name)
        if first:
            events = ", ".join(e for e in ("INVOKE", "SHUTDOWN") if e in ext.events)
            env.platform_log(f"EXTENSION\tName: {ext.name}\tState: Ready\tEvents: [{events}]")
            env.emit("platform.extension", {"name": ext.name, "state": "Ready",
                                            "events": [e for e in ("INVOKE", "SHUTDOWN") if e in ext.events]})
        with self.cond:
            while not ext.queue:
                if env.phase == "dead":
                    raise _Gone()
                self.cond.wait(0.5)
            event = ext.queue.popleft()
        h.reply(200, event, {"Lambda-Extension-Event-Identifier": str(uuid.uuid4())})

    def _ext_error(self, h, op, body):
        with self.cond:
            env = self.env
            ext = self._ext_by_header(h, env)
            error_type = h.headers.get("Lambda-Extension-Function-Error-Type")
            if not error_type:
                raise ApiError(403, "Extension.MissingHeader", "Missing Lambda-Extension-Function-Error-Type header")
            if op == "init/error" and env.phase != "init":
                raise ApiError(403, "Extension.InvalidExtensionState",
                               f"State transition failed for extension {ext.name}: init/error "
                               f"outside the init phase")
            if ext.errored is not None:
                raise ApiError(403, "Extension.InvalidExtensionState",
                               f"extension {ext.name} already reported {ext.errored}")
            ext.errored = error_type
            if op == "init/error" and env.init_error is None:
                env.init_error = ("error", error_type)
            self.cond.notify_all()
        h.reply(202, {"status": "OK"})

    # Telemetry API --------------------------------------------------------------------------

    def _telemetry_subscribe(self, h):
        body = h.read_body(MAX_REQUEST_BYTES)
        with self.cond:
            env = self.env
            ext = self._ext_by_header(h, env)
        types, buffering, host, port, path = _validate_subscription(body)
        schema = json.loads(body).get("schemaVersion")
        if schema not in self.telemetry_schemas:
            raise ApiError(400, "ValidationError",
                           f"schemaVersion {schema} is not supported; use one of "
                           + ", ".join(self.telemetry_schemas))
        if self.refuse_subscriptions is not None:
            status = int(self.refuse_subscriptions)
            if status == 202:  # what AWS's Runtime Interface Emulator answers
                h.reply(202, {"errorMessage": "Telemetry API is not supported",
                              "errorType": "Telemetry.NotSupported"})
                return
            raise ApiError(status, "ServiceException" if status >= 500 else "Telemetry.Refused",
                           "subscription refused (emulator fault injection)")
        with self.cond:
            if not env.subscriptions_open or env.phase != "init":
                raise ApiError(403, "Telemetry.SubscriptionClosed",
                               "Telemetry API subscription is closed: subscribe during init")
            if ext.subscription is not None:
                env.subscriptions.remove(ext.subscription)
                old = ext.subscription
            else:
                old = None
            sub = _Subscription(self, env, ext, types, buffering, self.sandbox_address, port,
                                path)
            self._subscribed_schemas.append(schema)
            self._subscribed_uris.append(json.loads(body)["destination"]["URI"])
            ext.subscription = sub
            env.subscriptions.append(sub)
            for event_type, encoded in env.backlog:
                if sub.wants(event_type):
                    sub.offer(encoded, not event_type.startswith("platform."))
        if old is not None:
            threading.Thread(target=old.close, daemon=True).start()
        env.emit("platform.telemetrySubscription", {"name": ext.name, "state": "Subscribed",
                                                    "types": types})
        h.reply(200, "OK", content_type="text/plain")

    # Runtime API ----------------------------------------------------------------------------

    def _runtime_api(self, h, method, path):
        op = path[len("/2018-06-01/runtime/"):]
        if op == "invocation/next":
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", "use GET")
            h.read_body(MAX_REQUEST_BYTES)
            return self._rt_next(h)
        if op == "init/error":
            if method != "POST":
                raise ApiError(405, "MethodNotAllowed", "use POST")
            body = h.read_body(MAX_REQUEST_BYTES)
            return self._rt_init_error(h, body)
        if op == "restore/next":
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", "use GET")
            h.read_body(MAX_REQUEST_BYTES)
            return self._rt_restore_next(h)
        m = re.fullmatch(r"invocation/([^/]+)/(response|error)", op)
        if m is None:
            raise ApiError(404, "NotFound", f"no route for {method} {path}")
        if method != "POST":
            raise ApiError(405, "MethodNotAllowed", "use POST")
        try:
            body = h.read_body(MAX_RESPONSE_BYTES)
        except ApiError as e:
            if e.status == 413 and m.group(2) == "response":
                # The caller gets an error instead of the oversized response.
                try:
                    self._rt_answer(m.group(1), None, "Function.ResponseSizeTooLarge")
                except ApiError:
                    pass
            raise
        return self._rt_answer_http(h, m.group(1), m.group(2), body)

    def _rt_next(self, h):
        emit_init_done = False
        if isinstance(self.env, _LmiEnvironment):
            return self._rt_deliver(h, self.env.rt_next())
        with self.cond:
            env = self.env
            if env is None or env.runtime is None:
                raise ApiError(500, "Runtime.Unknown", "no execution environment")
            if isinstance(env, _SnapStartEnvironment):
                if env.restore_released:
                    env.restored_runtime = True
                elif not env.rt_init_done:
                    env.rt_hookless = True
            cur = env.rt_current
            if cur is not None and not cur.answered:
                raise ApiError(403, "InvalidStateTransition",
                               "State transition from Invoke to Ready failed for runtime: the "
                               "invocation has not been answered")
            env.rt_current = None
            env.rt_ready = True
            if not env.rt_init_done:
                env.rt_init_done = True
                emit_init_done = True
            self.cond.notify_all()
        if emit_init_done:
            env.emit("platform.initRuntimeDone", {"initializationType": INITIALIZATION_TYPES[self.mode], "phase": "init",
                                                  "status": "success"})
        with self.cond:
            while not env.rt_queue:
                if env.phase in ("dead", "shutdown"):
                    raise _Gone()
                self.cond.wait(0.5)
            inv = env.rt_queue.popleft()
            env.rt_current = inv
            env.rt_ready = False
            inv.delivered_mono = time.monotonic()
        self._rt_deliver(h, inv)

    def _rt_deliver(self, h, inv):
        h.reply(200, inv.payload, {"Lambda-Runtime-Aws-Request-Id": inv.request_id,
                                   "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
                                   "Lambda-Runtime-Invoked-Function-Arn": self.function_arn,
                                   "Lambda-Runtime-Trace-Id": inv.trace})

    def _rt_restore_next(self, h):
        """SnapStart: the runtime's init is done and it waits for the restore (its restore
        hooks run when this returns)."""
        with self.cond:
            env = self.env
            if not isinstance(env, _SnapStartEnvironment) or env.rt_init_done:
                raise ApiError(403, "InvalidStateTransition",
                               "State transition to RestoreNext failed for runtime")
            env.rt_ready = True
            env.rt_init_done = True
            env.restore_waiting = True
            self.cond.notify_all()
        env.emit("platform.initRuntimeDone", {"initializationType": INITIALIZATION_TYPES[self.mode],
                                              "phase": "init", "status": "success"})
        with self.cond:
            while not env.restore_released:
                if env.phase in ("dead", "shutdown"):
                    raise _Gone()
                self.cond.wait(0.5)
            env.restore_waiting = False
            self.cond.notify_all()
        h.reply(200, b"", content_type="application/json")

    def _rt_init_error(self, h, body):
        with self.cond:
            env = self.env
            if env is None or env.phase != "init" or env.rt_init_done:
                raise ApiError(403, "InvalidStateTransition",
                               "State transition from Ready to InitError failed for runtime")
            error_type = h.headers.get("Lambda-Runtime-Function-Error-Type") or "Runtime.Unknown"
            env.init_error = ("error", error_type)
            env.rt_init_done = True
            self.cond.notify_all()
        env.emit("platform.initRuntimeDone", {"initializationType": INITIALIZATION_TYPES[self.mode], "phase": "init",
                                              "status": "error", "errorType": error_type})
        h.reply(202, {"status": "OK"})

    def _rt_answer_http(self, h, request_id, kind, body):
        error_type = None
        if kind == "error":
            error_type = h.headers.get("Lambda-Runtime-Function-Error-Type")
            if not error_type:
                try:
                    error_type = json.loads(body).get("errorType")
                except (ValueError, AttributeError):
                    error_type = None
            error_type = error_type or "Runtime.UnknownReason"
        self._rt_answer(request_id, body, error_type)
        h.reply(202, {"status": "OK"})

    def _rt_answer(self, request_id, body, error_type):
        if isinstance(self.env, _LmiEnvironment):
            return self.env.rt_answer(request_id, body, error_type)
        with self.cond:
            env = self.env
            cur = env.rt_current if env is not None else None
            if cur is None or cur.answered:
                raise ApiError(403, "InvalidStateTransition",
                               "State transition from Ready to InvocationResponse failed for runtime: "
                               "no invocation in progress")
            if request_id != cur.request_id:
                raise ApiError(400, "InvalidRequestID", f"Invalid request ID: {request_id}")
            cur.answer(body, error_type)
            self.cond.notify_all()
        dur = (cur.response_mono - cur.start_mono) * 1000.0
        rec = {"requestId": cur.request_id, "status": cur.status,
               "metrics": {"durationMs": round(dur, 3), "producedBytes": cur.produced_bytes},
               "spans": [{"name": "responseLatency", "start": _iso(cur.start_wall),
                          "durationMs": round(dur, 3)},
                         {"name": "responseDuration", "start": _iso(), "durationMs": 0.0}],
               "tracing": {"spanId": cur.span_id, "type": "X-Amzn-Trace-Id", "value": cur.trace}}
        if cur.error_type:
            rec["errorType"] = cur.error_type
        env.emit("platform.runtimeDone", rec)


class _Gone(Exception):
    pass


# --------------------------------------------------------------------------------------------
# summary


def summarize(report):
    """A short human-readable summary of a report dict (what the CLI prints on stderr)."""
    out = []
    invs = report["invocations"]
    by_status = collections.Counter(i["status"] for i in invs)
    out.append("invocations: %d (%s); environments: %d" % (
        len(invs), ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())) or "none",
        len(report["environments"])))
    for env in report["environments"]:
        out.append("  environment %d: %d invocations, %.1f s, shutdown %s, max memory %d MB" % (
            env["id"], env["invocations"], env["lifetime_s"], env["shutdown_reason"],
            env["max_memory_used_mb"]))
    for name, e in report["extensions"].items():
        pr = e["post_runtime_ms"]
        sd = e["shutdown"] or {}
        fmt = lambda v: "-" if v is None else "%.2f" % v  # noqa: E731
        out.append("  extension %s: init %s ms, post-runtime p50 %s p99 %s max %s ms, cpu %.1f ms, "
                   "peak rss %.1f MB, shutdown %s" % (
                       name, fmt(e["init_duration_ms"]), fmt(pr["p50"]), fmt(pr["p99"]),
                       fmt(pr["max"]), e["cpu_time_ms"], e["peak_rss_bytes"] / MIB,
                       "in time" if sd.get("in_time") else
                       ("killed" if sd.get("killed") else "n/a")))
    for name, t in report["telemetry"].items():
        out.append("  telemetry %s: delivered %d, dropped %d, failed posts %d" % (
            name, t["delivered_events"], t["dropped_events"], t["failed_posts"]))
    return "\n".join(out)
