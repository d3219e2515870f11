"""The sample functions of tests/functions against a minimal in-test Runtime API.

Each function is started as Lambda starts a custom runtime (AWS_LAMBDA_RUNTIME_API pointing at a
server on a free loopback port), invoked a few times, and its answers are checked against what
/proc says about its memory: these functions are the ground truth of the leakwatch tests, so
their own behaviour must be exact.
"""

import http.server
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

BUILD_DIR = os.environ.get("LW_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SOURCE_DIR = os.environ.get("LW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1 << 20
WAIT_S = 60  # a bound against hangs, never a timing assertion
# VmHWM is kept from the kernel's approximate RSS (per-CPU counters folded in batches of
# max(32, 2 * CPUs) pages, for the file, anon and shmem counters), so it may read below the truth
# by up to this much; VmRSS and RssAnon in /proc/PID/status are exact sums on current kernels.
CPUS = os.cpu_count() or 1
HWM_SLACK = 3 * CPUS * max(32, 2 * CPUS) * PAGE


class FakeRuntimeApi:
    """The runtime half of the Lambda service: one event at a time, answers recorded."""

    def __init__(self):
        self.events = queue.Queue()  # (request_id, payload bytes) or None to release a poller
        self.results = queue.Queue()  # (kind, request_id, headers, body)
        self.pending = None
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body=b"", headers=None):
                try:
                    self.send_response(status)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the function is gone (crash tests, shutdown)

            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self.reply(404)
                item = api.events.get()
                if item is None:
                    return self.reply(500, b'{"errorType":"ServerShutdown"}')
                request_id, payload = item
                api.pending = request_id
                deadline_ms = int(time.time() * 1000) + 900000
                self.reply(200, payload, {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn":
                        "arn:aws:lambda:us-east-1:123456789012:function:sample",
                })

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                parts = self.path.split("/")
                if self.path == "/2018-06-01/runtime/init/error":
                    kind, request_id = "init-error", None
                elif (len(parts) == 6 and parts[1:4] == ["2018-06-01", "runtime", "invocation"]
                      and parts[5] in ("response", "error")):
                    kind, request_id = parts[5], parts[4]
                    if request_id != api.pending:
                        return self.reply(400, b'{"errorType":"InvalidRequestID"}')
                    api.pending = None
                else:
                    return self.reply(404)
                api.results.put((kind, request_id, dict(self.headers), body))
                self.reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.address = "127.0.0.1:%d" % self.server.server_address[1]

    def send(self, payload):
        if not isinstance(payload, (bytes, str)):
            payload = json.dumps(payload)
        if isinstance(payload, str):
            payload = payload.encode()
        request_id = str(uuid.uuid4())
        self.events.put((request_id, payload))
        return request_id

    def result(self):
        return self.results.get(timeout=WAIT_S)

    def close(self):
        self.events.put(None)
        self.server.shutdown()
        self.server.server_close()


def status_bytes(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def child_pids(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(p) for p in f.read().split()]


class SampleFunctionTest(unittest.TestCase):
    def start(self, name, env=None):
        """Starts a function the way Lambda starts a custom runtime; returns its process."""
        if name.endswith(".py"):
            argv = [sys.executable, os.path.join(SOURCE_DIR, "tests", "functions", name)]
        else:
            argv = [os.path.join(BUILD_DIR, "functions", name)]
        self.api = FakeRuntimeApi()
        self.addCleanup(self.api.close)
        full_env = {"AWS_LAMBDA_RUNTIME_API": self.api.address, "PATH": "/usr/bin:/bin"}
        full_env.update(env or {})
        log = tempfile.TemporaryFile()
        self.addCleanup(log.close)
        self.proc = subprocess.Popen(argv, env=full_env, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log)
        self.log = log

        def stop():
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
        self.addCleanup(stop)
        return self.proc

    def function_log(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def invoke(self, payload="{}"):
        request_id = self.api.send(payload)
        kind, rid, headers, body = self.api.result()
        self.assertEqual(rid, request_id)
        return kind, headers, json.loads(body)

    def invoke_ok(self, payload="{}"):
        kind, _, body = self.invoke(payload)
        self.assertEqual(kind, "response", "%s\n%s" % (body, self.function_log()))
        return body

    def anon(self):
        return status_bytes(self.proc.pid, "RssAnon")


class TestLeak(SampleFunctionTest):
    def test_rss_anon_grows_by_the_configured_bytes_per_invocation(self):
        self.start("leak", {"LEAK_BYTES": str(MIB)})
        self.invoke_ok()  # first touches of the runtime's own buffers
        before = self.anon()
        for k in range(2, 7):
            body = self.invoke_ok()
            self.assertEqual(body["function"], "leak")
            self.assertEqual(body["invocation"], k)
            self.assertEqual(body["allocated_bytes"], MIB)
            self.assertEqual(body["retained_bytes"], k * MIB)
            self.assertEqual(body["pid"], self.proc.pid)
            after = self.anon()
            self.assertGreaterEqual(after - before, MIB)
            self.assertLessEqual(after - before, MIB + 2 * PAGE)
            before = after

    def test_payload_overrides_the_environment_and_small_sizes_add_up(self):
        self.start("leak", {"LEAK_BYTES": str(64 * MIB)})
        self.invoke_ok({"bytes": 0})
        before = self.anon()
        for _ in range(8):
            body = self.invoke_ok({"bytes": 100000, "nested": {"bytes": 999999999}})
            self.assertEqual(body["allocated_bytes"], 100000)
        growth = self.anon() - before
        self.assertGreaterEqual(growth, 8 * 100000 - PAGE)
        self.assertLessEqual(growth, 8 * 100000 + 4 * PAGE)
        self.assertEqual(body["retained_bytes"], 800000)

    def test_large_payload_is_read_whole(self):
        self.start("leak")
        filler = "x" * (3 * MIB)
        body = self.invoke_ok('{"filler":"%s","bytes":4096}' % filler)
        self.assertEqual(body["allocated_bytes"], 4096)


class TestSpike(SampleFunctionTest):
    def test_peak_rises_and_memory_returns(self):
        size = 32 * MIB
        self.start("spike", {"SPIKE_BYTES": str(size)})
        self.invoke_ok({"bytes": 0})
        for _ in range(2):
            before_anon = self.anon()
            before_rss = status_bytes(self.proc.pid, "VmRSS")
            reset = True
            try:
                with open("/proc/%d/clear_refs" % self.proc.pid, "w") as f:
                    f.write("5")
            except OSError:
                reset = False
            body = self.invoke_ok()
            self.assertEqual(body["allocated_bytes"], size)
            self.assertEqual(body["freed_bytes"], size)
            self.assertEqual(body["retained_bytes"], 0)
            hwm = status_bytes(self.proc.pid, "VmHWM")
            self.assertGreaterEqual(hwm - (before_rss if reset else 0), size - HWM_SLACK)
            self.assertLessEqual(abs(self.anon() - before_anon), 4 * PAGE)


class TestSawtooth(SampleFunctionTest):
    def test_grows_by_steps_and_releases_every_period(self):
        step = 2 * MIB
        self.start("sawtooth", {"SAWTOOTH_STEP_BYTES": str(step), "SAWTOOTH_PERIOD": "4"})
        self.invoke_ok({"bytes": 0, "every": 1})
        base = self.anon()
        for k, held_steps in enumerate([1, 2, 3, 0, 1, 2, 3, 0], start=1):
            body = self.invoke_ok()
            self.assertEqual(body["retained_bytes"], held_steps * step)
            self.assertEqual(body["freed_bytes"], 4 * step if held_steps == 0 else 0)
            self.assertLessEqual(abs(self.anon() - base - held_steps * step), 4 * PAGE,
                                 "invocation %d" % k)


class TestPlateau(SampleFunctionTest):
    def test_grows_for_n_invocations_then_flat(self):
        self.start("plateau", {"PLATEAU_STEP_BYTES": str(MIB), "PLATEAU_INVOCATIONS": "3"})
        base = None
        for k in range(1, 8):
            body = self.invoke_ok({"bytes": 0} if k == 1 else {})
            if k == 1:
                base = self.anon()
                continue
            grown = min(k - 1, 2)  # the first invocation grew by 0 bytes
            self.assertEqual(body["retained_bytes"], grown * MIB)
            self.assertEqual(body["allocated_bytes"], MIB if k <= 3 else 0)
            growth = self.anon() - base
            self.assertGreaterEqual(growth, grown * MIB)
            self.assertLessEqual(growth, grown * MIB + 4 * PAGE)


class TestSteady(SampleFunctionTest):
    def test_memory_does_not_move(self):
        self.start("steady")
        self.invoke_ok()
        before = self.anon()
        for _ in range(20):
            body = self.invoke_ok()
            self.assertEqual(body["allocated_bytes"], 0)
            self.assertEqual(body["retained_bytes"], 0)
        self.assertLessEqual(abs(self.anon() - before), 2 * PAGE)


class TestPyleak(SampleFunctionTest):
    def test_grows_by_at_least_the_retained_bytes(self):
        self.start("pyleak.py", {"PYLEAK_BYTES": str(2 * MIB), "PYLEAK_OBJECTS": "100"})
        self.invoke_ok()
        self.invoke_ok()
        before = self.anon()
        for k in range(3, 8):
            body = self.invoke_ok()
            self.assertEqual(body["invocation"], k)
            self.assertEqual(body["retained_bytes"], k * 2 * MIB)
            self.assertEqual(body["retained_objects"], k * 100)
        self.assertGreaterEqual(self.anon() - before, 5 * 2 * MIB)

    def test_common_knobs(self):
        self.start("pyleak.py", {"PYLEAK_BYTES": "0"})
        kind, headers, body = self.invoke({"fail": True})
        self.assertEqual(kind, "error")
        self.assertEqual(body["errorType"], "Function.RequestedFailure")
        kind, _, body = self.invoke({"bytes": -1})
        self.assertEqual((kind, body["errorType"]), ("error", "InvalidEvent"))
        body = self.invoke_ok({"children": 1, "child_bytes": 4 * MIB, "sleep_ms": 5})
        self.assertEqual((body["children"], body["children_bytes"], body["slept_ms"]),
                         (1, 4 * MIB, 5))
        (child,) = child_pids(self.proc.pid)
        self.assertGreaterEqual(status_bytes(child, "RssAnon"), 4 * MIB)
        self.invoke_ok({"children": 0})
        self.assertEqual(child_pids(self.proc.pid), [])
        self.api.send({"crash": 7})
        self.assertEqual(self.proc.wait(timeout=WAIT_S), 7)


class TestCommonKnobs(SampleFunctionTest):
    def test_fail_answers_error_after_doing_the_work(self):
        self.start("leak", {"LEAK_BYTES": "4096"})
        kind, headers, body = self.invoke({"fail": 1})
        self.assertEqual(kind, "error")
        self.assertEqual(body["errorType"], "Function.RequestedFailure")
        self.assertEqual(headers["Lambda-Runtime-Function-Error-Type"], "Function.RequestedFailure")
        self.assertEqual(body["stackTrace"], [])
        self.assertEqual(self.invoke_ok()["retained_bytes"], 2 * 4096)

    def test_invalid_knobs_are_refused_without_side_effects(self):
        self.start("leak", {"LEAK_BYTES": "4096"})
        for payload in ['{"bytes":-1}', '{"bytes":1.5}', '{"bytes":"10"}', '{"bytes":1',
                        '{"fail":2}', '{"children":65}', '{"bytes":1}x', '{"bytes":99999999999999}']:
            kind, _, body = self.invoke(payload)
            self.assertEqual((kind, body["errorType"]), ("error", "InvalidEvent"), payload)
        # Not an object, empty, or null members: the defaults apply.
        for payload in ['"hello"', "", "null", "[1,2]", '{"bytes":null}', ' { } ']:
            self.assertEqual(self.invoke_ok(payload)["allocated_bytes"], 4096, payload)
        self.assertEqual(self.invoke_ok()["retained_bytes"], 7 * 4096)

    def test_crash_exits_mid_invocation(self):
        self.start("steady", {"CRASH": "0"})
        self.invoke_ok()
        self.api.send({"crash": 3})
        self.assertEqual(self.proc.wait(timeout=WAIT_S), 3)
        self.assertTrue(self.api.results.empty())

    def test_sleep_is_reported(self):
        self.start("steady", {"SLEEP_MS": "20"})
        self.assertEqual(self.invoke_ok()["slept_ms"], 20)
        self.assertEqual(self.invoke_ok({"sleep_ms": 0})["slept_ms"], 0)

    def test_children_hold_their_memory_in_their_own_processes(self):
        self.start("leak", {"LEAK_BYTES": "0", "CHILD_BYTES": str(8 * MIB)})
        body = self.invoke_ok({"children": 2})
        self.assertEqual((body["children"], body["children_bytes"]), (2, 16 * MIB))
        kids = child_pids(self.proc.pid)
        self.assertEqual(len(kids), 2)
        for kid in kids:
            self.assertGreaterEqual(status_bytes(kid, "RssAnon"), 8 * MIB)
            self.assertLessEqual(status_bytes(kid, "RssAnon"), 8 * MIB + 64 * PAGE)
        # The parent does not hold the children's memory.
        self.assertLess(self.anon(), 8 * MIB)
        body = self.invoke_ok({"children": 3, "child_bytes": MIB})
        self.assertEqual((body["children"], body["children_bytes"]), (3, 17 * MIB))
        self.assertEqual(child_pids(self.proc.pid)[:2], kids)
        body = self.invoke_ok({"children": 0})
        self.assertEqual((body["children"], body["children_bytes"]), (0, 0))
        self.assertEqual(child_pids(self.proc.pid), [])
        # Children end with their parent.
        self.invoke_ok({"children": 1})
        (kid,) = child_pids(self.proc.pid)
        self.proc.kill()
        self.proc.wait()
        for _ in range(WAIT_S * 100):
            if not os.path.exists("/proc/%d" % kid):
                break
            with open("/proc/%d/stat" % kid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.01)
        else:
            self.fail("child %d outlived its parent" % kid)

    def test_survives_freeze_and_thaw_at_any_time(self):
        self.start("leak", {"LEAK_BYTES": "4096"})
        self.invoke_ok()
        # Frozen inside the long poll, as between invocations on Lambda.
        for _ in range(20):
            os.kill(self.proc.pid, signal.SIGSTOP)
            os.kill(self.proc.pid, signal.SIGCONT)
        os.kill(self.proc.pid, signal.SIGSTOP)
        request_id = self.api.send({"sleep_ms": 200})
        time.sleep(0.05)
        os.kill(self.proc.pid, signal.SIGCONT)
        # Stopped and continued while sleeping and while talking to the API.
        stopper_done = threading.Event()

        def stopper():
            while not stopper_done.is_set():
                os.kill(self.proc.pid, signal.SIGSTOP)
                time.sleep(0.002)
                os.kill(self.proc.pid, signal.SIGCONT)
                time.sleep(0.002)
        t = threading.Thread(target=stopper)
        t.start()
        try:
            kind, rid, _, body = self.api.result()
            self.assertEqual((kind, rid), ("response", request_id))
            self.assertEqual(json.loads(body)["slept_ms"], 200)
            for k in range(3, 13):
                self.assertEqual(self.invoke_ok()["invocation"], k)
        finally:
            stopper_done.set()
            t.join()
            os.kill(self.proc.pid, signal.SIGCONT)
        self.assertEqual(self.invoke_ok()["retained_bytes"], 13 * 4096)

    def test_bad_environment_is_an_init_error(self):
        for name, env in [("leak", {"LEAK_BYTES": "lots"}), ("sawtooth", {"SAWTOOTH_PERIOD": "0"}),
                          ("steady", {"CHILDREN": "-1"}), ("pyleak.py", {"PYLEAK_BYTES": "1e6"})]:
            with self.subTest(name=name):
                self.start(name, env)
                kind, rid, headers, body = self.api.result()
                self.assertEqual(kind, "init-error")
                self.assertEqual(json.loads(body)["errorType"], "Runtime.InvalidConfiguration")
                self.assertEqual(headers["Lambda-Runtime-Function-Error-Type"],
                                 "Runtime.InvalidConfiguration")
                self.assertEqual(self.proc.wait(timeout=WAIT_S), 1)


if __name__ == "__main__":
    unittest.main()
