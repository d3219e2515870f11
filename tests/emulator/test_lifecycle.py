"""Lifecycle, event bodies, environment variables, log stream, freeze and measurements."""
import os
import time
import unittest

from emutest import RUNTIME, EmulatorCase

TELEMETRY = {"types": ["platform", "function", "extension"],
             "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25}}


def proc_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        raw = f.read()
    return raw[raw.rfind(")") + 2:].split()[0]


class LifecycleTest(EmulatorCase):
    def test_phases_events_logs_and_report(self):
        self.install("probe-ext")
        os.environ["LW_EMULATOR_CANARY"] = "leak"
        self.addCleanup(os.environ.pop, "LW_EMULATOR_CANARY", None)
        cfg = {"probe-ext": {"telemetry": TELEMETRY, "print": 2, "work_ms": 30}}
        results, before = [], []
        with self.emulator(cfg, env={"CUSTOM_VAR": "yes", "_PRIVATE": "runtime-only"},
                           function_name="fn-under-test", memory_mb=200, timeout_s=4.0) as emu:
            for i in range(3):
                before.append(time.time())
                results.append(emu.invoke({"print": 3}))
            before.append(time.time())
            emu.shutdown("spindown")
            report = emu.report()
            lines = emu.log_lines

        # results
        self.assertEqual([r["status"] for r in results], ["success"] * 3)
        self.assertEqual([r["cold_start"] for r in results], [True, False, False])
        self.assertEqual({r["environment"] for r in results}, {1})
        self.assertEqual([r["seq"] for r in results], [1, 2, 3])
        mem = [r["max_memory_used_mb"] for r in results]
        self.assertEqual(mem, sorted(mem), "maxMemoryUsedMB is a high-water mark")
        self.assertGreater(results[0]["env_peak_bytes"], 0)

        # environment of the runtime and of the extension
        rt_env = self.kind("runtime", "start")[0]["env"]
        ext_env = self.kind("probe-ext", "start")[0]["env"]
        expected_rt = {"AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
                       "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_REGION", "AWS_DEFAULT_REGION",
                       "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
                       "AWS_LAMBDA_INITIALIZATION_TYPE", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
                       "_HANDLER", "AWS_EXECUTION_ENV", "TZ", "LANG", "PATH", "LD_LIBRARY_PATH",
                       "TMPDIR", "CUSTOM_VAR", "_PRIVATE", "EXT_CONFIG", "EXT_PROBE_DIR", "RT_PROBE_FILE"}
        # Python itself sets LC_CTYPE when LANG names a locale the machine lacks (PEP 538).
        self.assertEqual(set(rt_env) - {"LC_CTYPE"}, expected_rt)
        self.assertEqual(rt_env["AWS_LAMBDA_FUNCTION_NAME"], "fn-under-test")
        self.assertEqual(rt_env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "200")
        self.assertIn(os.path.join(self.opt, "lib"), rt_env["LD_LIBRARY_PATH"].split(":"))
        self.assertIn(os.path.join(self.opt, "bin"), rt_env["PATH"].split(":"))
        for hidden in ("AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "_HANDLER",
                       "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "AWS_EXECUTION_ENV", "_PRIVATE",
                       "LW_EMULATOR_CANARY"):
            self.assertNotIn(hidden, ext_env)
        self.assertNotIn("LW_EMULATOR_CANARY", rt_env)
        self.assertEqual(ext_env["CUSTOM_VAR"], "yes")
        # the sandbox's /tmp, one for the runtime and the extensions
        self.assertEqual(ext_env["TMPDIR"], rt_env["TMPDIR"])
        self.assertEqual(ext_env["AWS_LAMBDA_RUNTIME_API"], rt_env["AWS_LAMBDA_RUNTIME_API"])

        # register response
        reg = self.kind("probe-ext", "register")[0]
        self.assertEqual(reg["status"], 200)
        self.assertEqual(reg["body"], {"functionName": "fn-under-test", "functionVersion": "$LATEST",
                                       "handler": "function.handler", "accountId": "123456789012"})
        self.assertRegex(reg["headers"]["Lambda-Extension-Identifier"], r"^[0-9a-f-]{36}$")
        self.assertEqual(self.kind("probe-ext", "subscribe")[0]["status"], 200)

        # events: INVOKE x3 with the same request ids as the runtime saw, then SHUTDOWN
        events = [r["event"] for r in self.kind("probe-ext", "event")]
        self.assertEqual([e["eventType"] for e in events], ["INVOKE"] * 3 + ["SHUTDOWN"])
        rt_invokes = self.kind("runtime", "invoke")
        for ev, res, rt in zip(events, results, rt_invokes):
            self.assertEqual(ev["requestId"], res["request_id"])
            self.assertEqual(rt["request_id"], res["request_id"])
            self.assertEqual(ev["invokedFunctionArn"],
                             "arn:aws:lambda:us-east-1:123456789012:function:fn-under-test")
            self.assertEqual(ev["tracing"]["type"], "X-Amzn-Trace-Id")
            self.assertEqual(rt["headers"]["Lambda-Runtime-Trace-Id"], ev["tracing"]["value"])
            self.assertEqual(int(rt["headers"]["Lambda-Runtime-Deadline-Ms"]), ev["deadlineMs"])
            self.assertAlmostEqual(ev["deadlineMs"] / 1000.0, rt["t"] + 4.0, delta=1.0)
            self.assertEqual(rt["event"], {"print": 3})
        shutdown = events[3]
        self.assertEqual(shutdown["shutdownReason"], "spindown")
        self.assertLessEqual(shutdown["deadlineMs"] / 1000.0, before[3] + 2.5)
        self.assertEqual(len(self.kind("runtime", "sigterm")), 1, "runtime gets SIGTERM first")
        self.assertLess(self.kind("runtime", "sigterm")[0]["t"],
                        [r for r in self.kind("probe-ext", "event")][3]["t"])

        # the log stream: each captured line exactly once, Lambda's own lines in order
        for res in results:
            rid = res["request_id"]
            self.assertEqual(lines.count(f"START RequestId: {rid} Version: $LATEST"), 1)
            self.assertEqual(lines.count(f"END RequestId: {rid}"), 1)
            reports = [ln for ln in lines if ln.startswith(f"REPORT RequestId: {rid}\t")]
            self.assertEqual(len(reports), 1)
            self.assertIn("Memory Size: 200 MB", reports[0])
            self.assertEqual("Init Duration:" in reports[0], res["cold_start"])
        self.assertEqual(lines.count("EXTENSION\tName: probe-ext\tState: Ready\tEvents: [INVOKE, SHUTDOWN]"), 1)
        fn_lines = [ln for ln in lines if ln.startswith("fn-line")]
        self.assertEqual(len(fn_lines), 9)
        self.assertEqual(len([ln for ln in lines if ln.startswith("ext-line probe-ext")]), 6)
        with open(self.log_file) as f:
            self.assertEqual(f.read().splitlines(), lines)

        # telemetry: every platform type, report one thaw late, function and extension records
        got = self.events_received("probe-ext")
        types = [e["type"] for _, e in got]
        for t in ("platform.initStart", "platform.initRuntimeDone", "platform.initReport",
                  "platform.extension", "platform.telemetrySubscription", "platform.start",
                  "platform.runtimeDone", "platform.report", "function", "extension"):
            self.assertIn(t, types)
        self.assertEqual(types.count("platform.report"), 3)
        self.assertEqual(types.count("function"), 9)
        self.assertEqual(types.count("extension"), 6)
        for i, res in enumerate(results):
            (t_rep, rep), = [(t, e) for t, e in got if e["type"] == "platform.report"
                             and e["record"]["requestId"] == res["request_id"]]
            # produced after every extension called next, so delivered only after the next thaw
            self.assertGreater(t_rep, before[i + 1])
            m = rep["record"]["metrics"]
            self.assertEqual(m["memorySizeMB"], 200)
            self.assertEqual(m["maxMemoryUsedMB"], res["max_memory_used_mb"])
            self.assertEqual("initDurationMs" in m, i == 0)
            self.assertGreaterEqual(m["billedDurationMs"], m["durationMs"])
            self.assertEqual(rep["record"]["status"], "success")
            self.assertEqual(rep["record"]["spans"][0]["name"], "extensionOverhead")
            (_, done), = [(t, e) for t, e in got if e["type"] == "platform.runtimeDone"
                          and e["record"]["requestId"] == res["request_id"]]
            self.assertEqual(done["record"]["status"], "success")
            self.assertLessEqual(done["record"]["metrics"]["durationMs"], m["durationMs"])
        ext_ready = [e for _, e in got if e["type"] == "platform.extension"][0]["record"]
        self.assertEqual(ext_ready, {"name": "probe-ext", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]})
        batches = self.kind("probe-ext", "batch")
        self.assertTrue(all(b["content_type"] == "application/json" for b in batches))

        # measurements
        ext = report["extensions"]["probe-ext"]
        self.assertGreater(ext["init_duration_ms"], 0)
        self.assertEqual(len(ext["post_runtime_ms"]["samples"]), 3)
        self.assertGreater(ext["cpu_time_ms"], 0)
        self.assertGreater(ext["peak_rss_bytes"], 1 << 20)
        self.assertEqual(ext["shutdown"], {"in_time": True, "killed": False, "exit_code": 0})
        self.assertEqual(report["environments"][0]["shutdown_reason"], "spindown")
        self.assertEqual(report["environments"][0]["invocations"], 3)
        self.assertEqual(report["telemetry"]["probe-ext"]["dropped_events"], 0)
        self.assertEqual(report["telemetry"]["probe-ext"]["failed_posts"], 0)
        self.assertEqual(len(report["invocations"]), 3)

    def test_post_runtime_duration_counts_extension_work(self):
        self.install("slow-ext")
        with self.emulator({"slow-ext": {"work_ms": 150}}) as emu:
            res = emu.invoke({})
        self.assertGreaterEqual(res["post_runtime_ms"]["slow-ext"], 100.0)
        self.assertGreaterEqual(res["duration_ms"], res["runtime_duration_ms"] + 100.0)
        self.assertGreaterEqual(emu.report()["extensions"]["slow-ext"]["post_runtime_ms"]["max"], 100.0)

    def test_processes_are_stopped_between_invocations(self):
        self.install("probe-ext")
        with self.emulator({"probe-ext": {}}, env={"RT_CHILD": "1"}) as emu:
            self.assertIsNone(emu.init())
            start = self.kind("runtime", "start")[0]
            ext_pid = self.kind("probe-ext", "start")[0]["pid"]
            pids = [start["pid"], start["child"], ext_pid]
            self.assertEqual([proc_state(p) for p in pids], ["T"] * 3, "frozen after init")
            res = emu.invoke({})
            self.assertEqual(res["status"], "success")
            self.assertFalse(res["cold_start"], "init() already created the environment")
            self.assertEqual([proc_state(p) for p in pids], ["T"] * 3, "frozen after the invocation")
            res = emu.invoke({})
            self.assertEqual(res["status"], "success")
            self.assertEqual([proc_state(p) for p in pids], ["T"] * 3)
        for p in pids:
            self.assertFalse(os.path.exists(f"/proc/{p}") and proc_state(p) != "Z")

    def test_function_error_keeps_environment(self):
        with self.emulator() as emu:
            bad = emu.invoke({"error": "Function.Broken"})
            good = emu.invoke({})
        self.assertEqual((bad["status"], bad["error_type"]), ("error", "Function.Broken"))
        self.assertEqual(good["status"], "success")
        self.assertFalse(good["cold_start"])
        self.assertEqual(good["environment"], bad["environment"])

    def test_recycle_after_invocations(self):
        with self.emulator(recycle_after_invocations=2) as emu:
            res = [emu.invoke({}) for _ in range(3)]
        self.assertEqual([r["cold_start"] for r in res], [True, False, True])
        self.assertEqual([r["environment"] for r in res], [1, 1, 2])
        self.assertEqual([e["shutdown_reason"] for e in emu.report()["environments"]],
                         ["spindown", "spindown"])


if __name__ == "__main__":
    unittest.main()


class ExecWrapperTest(EmulatorCase):
    """AWS_LAMBDA_EXEC_WRAPPER: a managed runtime starts its bootstrap as WRAPPER <argv...>."""

    def wrapper(self):
        path = os.path.join(self.tmp, "wrapper")
        with open(path, "w") as f:
            f.write('#!/bin/sh\nWRAPPED_ARGV="$*"\nexport WRAPPED_ARGV\nexec "$@"\n')
        os.chmod(path, 0o755)
        return path

    def start_env(self):
        starts = self.kind("runtime", "start")
        self.assertEqual(len(starts), 1)
        return starts[0]["env"]

    def test_a_managed_runtime_is_started_through_the_wrapper(self):
        wrapper = self.wrapper()
        with self.emulator(env={"AWS_LAMBDA_EXEC_WRAPPER": wrapper},
                           execution_env="AWS_Lambda_python3.12") as emu:
            self.assertEqual(emu.invoke({})["status"], "success")
        env = self.start_env()
        self.assertEqual(env.get("WRAPPED_ARGV"), RUNTIME)

    def test_an_os_only_runtime_ignores_it(self):
        wrapper = self.wrapper()
        with self.emulator(env={"AWS_LAMBDA_EXEC_WRAPPER": wrapper}) as emu:
            self.assertEqual(emu.invoke({})["status"], "success")
        self.assertNotIn("WRAPPED_ARGV", self.start_env())

    def test_a_wrapper_that_cannot_start_fails_the_init(self):
        with self.emulator(env={"AWS_LAMBDA_EXEC_WRAPPER": os.path.join(self.tmp, "missing")},
                           execution_env="AWS_Lambda_nodejs20.x") as emu:
            r = emu.invoke({})
        self.assertEqual(r["error_type"], "Runtime.InvalidEntrypoint")
