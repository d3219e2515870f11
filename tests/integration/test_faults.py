"""Faults, each a test: the real leakwatch in the emulator with one thing going wrong at a time.

In every case the function must be unaffected (its invocations succeed or fail exactly as they
would without leakwatch, with their responses intact) and leakwatch must say what happened: a log
line naming the problem, a health counter in the EMF line, an Incomplete marker.

The faults and where each is tested:

| fault                                   | test                                                  |
| --------------------------------------- | ----------------------------------------------------- |
| the telemetry port already taken        | test_telemetry_join: test_a_taken_port_falls_back_to_a_free_one |
| the subscription refused                | FaultTest.test_subscription_refused                   |
| telemetry batches malformed             | FaultTest.test_malformed_telemetry_batches            |
| telemetry batches oversized             | FaultTest.test_oversized_telemetry_batch              |
| telemetry batches duplicated            | FaultTest.test_duplicated_telemetry_batches           |
| telemetry batches out of order          | FaultTest.test_telemetry_out_of_order                 |
| the function process exiting            | FaultTest.test_function_exits_mid_invocation (the     |
|                                         | crash knob itself: test_sample_functions)             |
| the function OOM-killed                 | FaultTest.test_function_oom_killed                    |
| the function replaced (exec)            | FaultTest.test_function_replaced_by_exec              |
| clear_refs not writable                 | FaultTest.test_clear_refs_not_writable (the configured |
|                                         | sampler: test_extension test_sampler_fallback_...)    |
| /proc files unreadable                  | FaultTest.test_proc_unreadable                        |
| stdout a full pipe                      | FaultTest.test_stdout_full_pipe                       |
| stdout a closed pipe                    | FaultTest.test_stdout_closed_pipe                     |
| SIGTERM at any moment                   | SigtermTest (init, mid-invocation, frozen, shutdown)  |
| SHUTDOWN with almost no time left       | FaultTest.test_shutdown_with_almost_no_time           |

How /proc is made unreadable while the tests run as root (where permission bits do not stop a
read): leakwatch is started through a wrapper in a private mount namespace (unshare -m), so the
machine's /proc is never touched. For clear_refs, /proc is bind-mounted read-only there: the
kernel refuses the write (EROFS), as on a hardened read-only /proc. For unreadable files, a fresh
procfs with hidepid=2 is mounted there and leakwatch runs as an unprivileged user: the kernel
itself hides every other user's /proc/PID entries, the function's included. Both are the kernel's
own refusals, not a shim; the tests are skipped where namespaces cannot be created.
"""
import json
import os
import shutil
import signal
import stat
import subprocess
import time
import unittest

import lwtest
from lwtest import MIB, LeakwatchCase, invocation_records, process, shutdown_records

HERE = os.path.dirname(os.path.abspath(__file__))

UNPRIVILEGED_UID = 65534  # nobody


def health_total(lines, name):
    """The sum of a health counter over every line (each line carries the increase)."""
    return sum(r.get(name, 0) for r in invocation_records(lines) + shutdown_records(lines))


def can_unshare():
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("setpriv")):
        return False
    try:
        return subprocess.run(["unshare", "-m", "true"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class FaultCase(LeakwatchCase):

    def assert_unaffected(self, results, n, status="success"):
        """Every invocation ended as asked, with the function's own answer."""
        self.assertEqual(len(results), n)
        for r in results:
            self.assertEqual(r["status"], status, r)
            if status == "success":
                body = json.loads(r["response"])
                self.assertEqual(body["request_id"], r["request_id"])

    def assert_joined(self, lines, results):
        """One record per invocation, each joined with its own platform report."""
        recs = invocation_records(lines)
        self.assertEqual([r["RequestId"] for r in recs], [r["request_id"] for r in results])
        for rec, res in zip(recs, results):
            self.assertNotIn("telemetry", rec.get("Incomplete", []), rec)
            self.assertEqual(rec["Status"], res["status"])
            self.assertAlmostEqual(rec["DurationMilliseconds"], res["duration_ms"], places=2)
            self.assertEqual(rec["BilledDurationMilliseconds"], res["billed_duration_ms"])
        return recs

    def wrap_extension(self, script):
        """Start leakwatch through a shell wrapper (the daemon moves to bin/leakwatch); the
        wrapper execs, so leakwatch keeps the pid the emulator started."""
        real = os.path.join(self.tmp, "bin", "leakwatch")
        os.makedirs(os.path.dirname(real), exist_ok=True)
        shutil.move(os.path.join(self.opt, "extensions", "leakwatch"), real)
        wrapper = os.path.join(self.opt, "extensions", "leakwatch")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexport LEAKWATCH_EXTENSIONS_DIR=\"$(dirname \"$0\")\"\n"
                    + script.replace("LEAKWATCH", real) + "\n")
        os.chmod(wrapper, 0o755)
        return real


class FaultTest(FaultCase):

    # ---- the Telemetry API ------------------------------------------------------------------

    def test_subscription_refused(self):
        for status in (500, 202):
            with self.subTest(status=status):
                n = 3
                results, report, lines = self.run_function(
                    "leak", [{"bytes": 65536}] * n, refuse_subscriptions=status)
                self.assert_unaffected(results, n)
                log = self.leakwatch_log(lines)
                refused = [x for x in log if "subscription refused" in x]
                self.assertEqual(len(refused), 1, log)
                self.assertIn("WARN", refused[0])
                self.assertIn(f"HTTP {status}", refused[0])
                recs = invocation_records(lines)
                self.assertEqual(len(recs), n)
                for rec in recs:
                    # /proc figures alone, and no record waits for a report that cannot come
                    self.assertNotIn("Status", rec)
                    self.assertNotIn("telemetry", rec.get("Incomplete", []))
                self.assertIn("FunctionAnonEndBytes", recs[1])
                self.assertEqual(report["telemetry"].get("leakwatch", {}).get("delivered_events", 0), 0)
                os.remove(self.log_file)

    def test_malformed_telemetry_batches(self):
        n = 4
        results, report, lines = self.run_function("steady", [{}] * n, telemetry_fault="malformed")
        self.assert_unaffected(results, n)
        self.assert_joined(lines, results)
        posts = report["telemetry"]["leakwatch"]["fault_posts"]
        # The listener answers every body (none hangs the sender) and refuses what is not JSON;
        # only a post in flight when leakwatch exits at SHUTDOWN may go unanswered.
        self.assertLessEqual(posts.get("none", 0), 1, posts)
        bad = health_total(lines, "TelemetryEventsUnparseable")
        self.assertGreaterEqual(bad, len(lwtest_malformed()) - 1, posts)

    def test_oversized_telemetry_batch(self):
        n = 3
        results, report, lines = self.run_function("steady", [{}] * n, telemetry_fault="oversized")
        self.assert_unaffected(results, n)
        self.assert_joined(lines, results)
        posts = report["telemetry"]["leakwatch"]["fault_posts"]
        self.assertGreater(posts.get("413", 0), 0, posts)
        self.assertEqual(health_total(lines, "TelemetryRequestsRejected"), posts["413"])

    def test_duplicated_telemetry_batches(self):
        n = 6
        results, report, lines = self.run_function("steady", [{}] * n, telemetry_fault="duplicate")
        self.assert_unaffected(results, n)
        self.assert_joined(lines, results)  # each exactly once, in order
        # A duplicate of an event whose record is already out is counted, not re-emitted: as a
        # repeat (the record had it), not as a late delivery.
        self.assertGreater(health_total(lines, "TelemetryEventsRejected"), 0)
        self.assertEqual(health_total(lines, "TelemetryEventsLate"), 0)

    def test_telemetry_out_of_order(self):
        # Batches spanning several invocations, each delivered in reverse: a report arrives
        # before the start and runtimeDone of its own invocation.
        n = 8
        env = {"LEAKWATCH_TELEMETRY_TIMEOUT_MS": "200", "LEAKWATCH_REPORT_WAIT_INVOCATIONS": "10"}
        results, report, lines = self.run_function("steady", [{"sleep_ms": 20}] * n, env=env,
                                                   telemetry_fault="reverse")
        self.assert_unaffected(results, n)
        recs = self.assert_joined(lines, results)
        for rec, res in zip(recs, results):
            self.assertAlmostEqual(rec["RuntimeDurationMilliseconds"], res["runtime_duration_ms"],
                                   places=2)
        self.assertLess(report["telemetry"]["leakwatch"]["delivered_batches"], 3 * n)

    # ---- the function's process -------------------------------------------------------------

    def test_function_exits_mid_invocation(self):
        with self.emulator("leak") as emu:
            ok = emu.invoke({"bytes": 65536})
            crashed = emu.invoke({"bytes": 65536, "crash": 3})
            after = emu.invoke({"bytes": 65536})
            emu.shutdown("spindown")
            lines = emu.log_lines
        self.assertEqual((crashed["status"], crashed["error_type"]), ("error", "Runtime.ExitError"))
        self.assert_unaffected([ok, after], 2)
        recs = {r["RequestId"]: r for r in invocation_records(lines)}
        rec = recs[crashed["request_id"]]
        self.assertEqual(rec["Status"], "error")
        self.assertEqual(rec["ErrorType"], "Runtime.ExitError")
        # The runtime is gone when SHUTDOWN comes: no end reading, and it says so.
        self.assertIn("end-reading", rec["Incomplete"])
        self.assertEqual([s["ShutdownReason"] for s in shutdown_records(lines)], ["failure", "spindown"])
        self.assertTrue(recs[after["request_id"]]["ColdStart"])

    def test_function_oom_killed(self):
        with self.emulator("leak", memory_mb=64) as emu:
            results = [emu.invoke({"bytes": 8 * MIB}) for _ in range(10)]
            emu.shutdown("spindown")
            lines = emu.log_lines
        oom = [r for r in results if r["error_type"] == "Runtime.OutOfMemory"]
        self.assertGreaterEqual(len(oom), 1)
        first = results.index(oom[0])
        self.assert_unaffected(results[:first], first)
        recs = {r["RequestId"]: r for r in invocation_records(lines)}
        self.assertEqual(set(recs), {r["request_id"] for r in results})
        rec = recs[oom[0]["request_id"]]
        self.assertIn("end-reading", rec["Incomplete"])
        # The platform's report of the killed invocation joins the record, or, when it came
        # after the part of SHUTDOWN leakwatch waits for it (at most a second: once in a CI run
        # on a loaded machine), the record says its telemetry is missing: never a guessed error.
        if "telemetry" in rec["Incomplete"]:
            self.assertNotIn("ErrorType", rec)
        else:
            self.assertEqual(rec.get("ErrorType"), "Runtime.OutOfMemory", rec)
        # Until the kill, the leak was seen growing.
        before = recs[results[first - 1]["request_id"]]
        self.assertGreater(before["FunctionAnonEndBytes"], (first - 1) * 8 * MIB)

    def test_function_replaced_by_exec(self):
        with self.emulator("leak") as emu:
            results = [emu.invoke({"bytes": 4 * MIB, "delay_ms": 50})]
            results.append(emu.invoke({"bytes": 4 * MIB, "delay_ms": 50, "exec": 1}))
            results += [emu.invoke({"bytes": 4 * MIB, "delay_ms": 50}) for _ in range(2)]
            emu.shutdown("spindown")
            lines = emu.log_lines
        self.assert_unaffected(results, 4)
        pids = {json.loads(r["response"])["pid"] for r in results}
        self.assertEqual(len(pids), 1)  # the same process, a new image
        self.assertTrue(json.loads(results[1]["response"])["exec"])
        recs = self.assert_joined(lines, results)
        for rec in recs:
            self.assertEqual([p["Pid"] for p in process(rec, "runtime")], list(pids))
        # The exec dropped what the old image held: the record shows it, as it is.
        replaced = recs[1]
        self.assertLess(replaced["FunctionAnonEndBytes"], replaced["FunctionAnonStartBytes"])
        self.assertEqual(replaced["PeakMethod"], "hwm")
        self.assertGreater(recs[2]["FunctionAnonEndBytes"] - recs[2]["FunctionAnonStartBytes"],
                           4 * MIB - MIB)

    # ---- /proc ------------------------------------------------------------------------------

    @unittest.skipUnless(can_unshare(), "needs root and mount namespaces")
    @unittest.skipIf(lwtest.LAYER_ZIP, "wraps the bare daemon")
    def test_clear_refs_not_writable(self):
        self.wrap_extension("exec unshare -m --propagation private sh -c "
                            "'mount --bind /proc /proc && mount -o remount,bind,ro /proc && "
                            "exec LEAKWATCH'")
        n = 4
        spike = 8 * MIB
        results, report, lines = self.run_function(
            "spike", [{"bytes": spike, "hold_ms": 100, "delay_ms": 50}] * n,
            env={"LEAKWATCH_SAMPLER_INTERVAL_MS": "5"})
        self.assert_unaffected(results, n)
        log = self.leakwatch_log(lines)
        self.assertEqual(len([x for x in log if "refused clear_refs" in x]), 1, log)
        recs = invocation_records(lines)
        self.assertEqual(len(recs), n)
        # The first peak is unknown (the method changed in its middle); later ones are sampled.
        for rec in recs[1:-1]:
            self.assertEqual(rec["PeakMethod"], "sampled")
            self.assertGreaterEqual(rec["FunctionRssPeakBytes"], rec["FunctionRssStartBytes"] + spike // 2)

    @unittest.skipUnless(can_unshare(), "needs root and mount namespaces")
    @unittest.skipIf(lwtest.LAYER_ZIP, "wraps the bare daemon")
    def test_proc_unreadable(self):
        # leakwatch must be able to run its binary as the unprivileged user
        for d in (self.tmp, os.path.join(self.tmp, "bin")):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, os.stat(d).st_mode | stat.S_IXOTH | stat.S_IROTH)
        self.wrap_extension(
            "exec unshare -m --propagation private sh -c "
            "'mount -t proc -o hidepid=2 proc /proc && "
            f"exec setpriv --reuid={UNPRIVILEGED_UID} --regid={UNPRIVILEGED_UID} "
            "--clear-groups LEAKWATCH'")
        n = 3
        results, report, lines = self.run_function("leak", [{"bytes": 65536}] * n)
        self.assert_unaffected(results, n)
        log = self.leakwatch_log(lines)
        recs = invocation_records(lines)
        self.assertEqual(len(recs), n, log)
        for rec in recs:
            self.assertIn("processes", rec.get("Incomplete", []), rec)
            self.assertEqual(process(rec, "runtime"), [])
            self.assertEqual(rec["Status"], "success")  # the platform half is still there
        self.assertTrue(any("WARN" in x and "/proc" in x for x in log), log)

    # ---- stdout -----------------------------------------------------------------------------

    def run_with_stdout(self, mode, n):
        results, report, lines = self.run_function("steady", [{}] * n, extension_stdout=mode)
        self.assert_unaffected(results, n)
        ext = report["extensions"]["leakwatch"]["shutdown"]
        self.assertEqual((ext["killed"], ext["exit_code"]), (False, 0), "\n".join(self.leakwatch_log(lines)))
        self.assertEqual(invocation_records(lines), [])  # stdout was never read
        return self.leakwatch_log(lines)

    def test_stdout_full_pipe(self):
        log = self.run_with_stdout("stall", 12)  # one page of pipe: full after a few lines
        hits = [x for x in log if "stdout" in x and "WARN" in x]
        self.assertEqual(len(hits), 1, log)
        self.assertIn("EMF", hits[0])

    def test_stdout_closed_pipe(self):
        log = self.run_with_stdout("close", 4)
        hits = [x for x in log if "stdout" in x and "WARN" in x]
        self.assertEqual(len(hits), 1, log)

    # ---- SHUTDOWN ---------------------------------------------------------------------------

    def test_shutdown_with_almost_no_time(self):
        # 150 ms in all: 45 ms for the runtime, SHUTDOWN reaches leakwatch with about 100 ms
        # left, which is its own safety margin: it must write what it has and exit at once.
        n = 4
        results, report, lines = self.run_function("leak", [{"bytes": 65536}] * n,
                                                   shutdown_budget_ms=150)
        self.assert_unaffected(results, n)
        ext = report["extensions"]["leakwatch"]["shutdown"]
        self.assertEqual((ext["in_time"], ext["killed"], ext["exit_code"]), (True, False, 0))
        recs = invocation_records(lines)
        self.assertEqual([r["RequestId"] for r in recs], [r["request_id"] for r in results])
        self.assertIn("end-reading", recs[-1]["Incomplete"])
        self.assertEqual(len(shutdown_records(lines)), 1)


def lwtest_malformed():
    from lambda_emulator import MALFORMED_TELEMETRY_BODIES
    return MALFORMED_TELEMETRY_BODIES


@unittest.skipIf(lwtest.LAYER_ZIP, "the layer's launcher drops LD_PRELOAD")
class LateReadingTest(FaultCase):
    """leakwatch held up in the middle of a boundary reading (an LD_PRELOAD shim makes each
    pread sleep 80 ms while a flag file exists) until the invocation is over: the start and
    peak of that invocation are not exact, and its record must say so; the others not."""

    def test_a_start_reading_after_the_invocation_is_marked(self):
        shim = os.path.join(self.tmp, "slow_status_read.so")
        r = subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", shim,
                            os.path.join(HERE, "slow_status_read.c"), "-ldl"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        flag = os.path.join(self.tmp, "slow")
        self.wrap_extension(f"LW_SLOW_READ_FLAG={flag} LD_PRELOAD={shim} exec LEAKWATCH")
        with self.emulator("steady") as emu:
            emu.init()
            results = [emu.invoke({})]
            open(flag, "w").close()
            results.append(emu.invoke({}))  # its start reading is held up...
            os.unlink(flag)
            time.sleep(0.2)  # ...through the freeze after it
            results += [emu.invoke({}) for _ in range(2)]
            emu.shutdown("spindown")
            lines = emu.log_lines
        self.assert_unaffected(results, 4)
        recs = invocation_records(lines)
        self.assertEqual([r["RequestId"] for r in recs], [r["request_id"] for r in results])
        late = [r["Sequence"] for r in recs if "start-reading" in r.get("Incomplete", [])]
        self.assertEqual(late, [2], [(r["Sequence"], r.get("Incomplete")) for r in recs])


class SigtermTest(FaultCase):
    """SIGTERM is not how Lambda ends an extension (it sends SHUTDOWN, then SIGKILL), so one that
    arrives comes from elsewhere: leakwatch must note it and go on. Dying would fail the
    invocation (Extension.Crash) and reset the environment."""

    def sigterm_at(self, when, delay_s=0.0, payload=None):
        n = 4
        with self.emulator("steady") as emu:
            emu.init()
            emu.schedule_signal("leakwatch", signal.SIGTERM, when, delay_s)
            results = [emu.invoke(payload or {}) for _ in range(n)]
            emu.shutdown("spindown")
            lines = emu.log_lines
            report = emu.report()
        self.assertEqual(len(report["signals"]), 1)
        self.assert_unaffected(results, n)
        log = self.leakwatch_log(lines)
        self.assertTrue(any("SIGTERM" in x for x in log), log)
        self.assertEqual(len(invocation_records(lines)), n)
        ext = report["extensions"]["leakwatch"]["shutdown"]
        self.assertEqual((ext["killed"], ext["exit_code"]), (False, 0))
        return lines

    def test_sigterm_mid_invocation(self):
        self.sigterm_at("invoke", 0.05, {"sleep_ms": 200})

    def test_sigterm_while_frozen(self):
        self.sigterm_at("frozen")

    def test_sigterm_at_shutdown(self):
        self.sigterm_at("shutdown")

    def test_sigterm_during_init(self):
        n = 2
        with self.emulator("steady") as emu:
            emu.schedule_signal("leakwatch", signal.SIGTERM, "init")
            results = [emu.invoke({}) for _ in range(n)]
            emu.shutdown("spindown")
            lines = emu.log_lines
        self.assert_unaffected(results, n)
        self.assertTrue(any("SIGTERM" in x for x in self.leakwatch_log(lines)))
        self.assertEqual(len(invocation_records(lines)), n)


if __name__ == "__main__":
    unittest.main()
