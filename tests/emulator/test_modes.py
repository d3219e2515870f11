"""The emulator's platform modes: Lambda Managed Instances and SnapStart, as AWS's own emulator
code and the Telemetry API reference describe them."""
import json
import os
import sys
import unittest

from emutest import EmulatorCase

HERE = os.path.dirname(os.path.abspath(__file__))
WORKERS = os.path.join(HERE, "..", "functions", "workers.py")
SNAPFN = os.path.join(HERE, "..", "functions", "snapfn.py")


class ManagedInstancesTest(EmulatorCase):

    def lmi(self, config, **kw):
        emu = self.emulator(config, mode="managed-instances", max_concurrency=4, memory_mb=2048, **kw)
        emu.function_cmd = [sys.executable, WORKERS]
        return emu

    def test_registration_allows_shutdown_only(self):
        self.install("ext-b")
        cfg = {"ext-b": {"events": ["SHUTDOWN"], "telemetry": {"schema": "2025-01-29"}}}
        with self.lmi(cfg) as emu:
            r = emu.invoke({"sleep_ms": 1})
        self.assertEqual(r["status"], "success")
        self.assertEqual(self.kind("ext-b", "register")[0]["status"], 200)
        # no INVOKE; SHUTDOWN at the end
        events = [e["event"]["eventType"] for e in self.kind("ext-b", "event")]
        self.assertEqual(events, ["SHUTDOWN"])

    def test_an_extension_that_insists_on_invoke_fails_the_init(self):
        self.install("ext-a")
        cfg = {"ext-a": {"events": ["INVOKE", "SHUTDOWN"]}}
        with self.lmi(cfg, init_timeout_s=1.5) as emu:
            r = emu.invoke({"sleep_ms": 1})
        refused = self.kind("ext-a", "register")[0]
        self.assertEqual(refused["status"], 403)
        self.assertEqual(refused["body"]["errorType"], "Extension.InvalidEventType")
        # it never registered, so the runtime never started: the init fails
        self.assertEqual((r["status"], r["error_type"]), ("timeout", "Sandbox.Timedout"))

    def test_only_the_new_schema_is_accepted(self):
        self.install("old")
        self.install("new")
        cfg = {"old": {"events": ["SHUTDOWN"], "telemetry": {"schema": "2022-12-13"}},
               "new": {"events": ["SHUTDOWN"], "telemetry": {"schema": "2025-01-29"}}}
        with self.lmi(cfg) as emu:
            emu.invoke({})
        old = self.kind("old", "subscribe")[0]
        self.assertEqual(old["status"], 400)
        self.assertEqual(old["body"]["errorType"], "ValidationError")
        self.assertEqual(self.kind("new", "subscribe")[0]["status"], 200)

    def test_concurrent_invocations_and_their_telemetry(self):
        self.install("tel")
        cfg = {"tel": {"events": ["SHUTDOWN"], "telemetry": {"schema": "2025-01-29"}}}
        with self.lmi(cfg) as emu:
            results = emu.run_load([{"sleep_ms": 200}] * 8, concurrency=4)
            env = emu.env
            self.assertIsNone(env.frozen_pids or None)  # never frozen
            self.assertTrue(env.thawed.is_set())
        self.assertEqual([r["status"] for r in results], ["success"] * 8)
        workers = {json.loads(r["response"])["worker"] for r in results}
        self.assertEqual(workers, {1, 2, 3, 4})
        # four at a time: 8 invocations of 200 ms end in about 400 ms, not 1600
        starts = sorted(e["time"] for _, e in self.events_received("tel") if e["type"] == "platform.start")
        self.assertEqual(len(starts), 8)
        events = [e for _, e in self.events_received("tel")]
        types = {e["type"] for e in events}
        self.assertNotIn("platform.runtimeDone", types)
        reports = [e["record"] for e in events if e["type"] == "platform.report"]
        self.assertEqual(len(reports), 8)
        for rep in reports:
            self.assertEqual(set(rep["metrics"]), {"durationMs"})
            self.assertGreaterEqual(rep["metrics"]["durationMs"], 200)
            self.assertEqual([s["name"] for s in rep["spans"]], ["responseLatency", "responseDuration"])
        init = [e["record"] for e in events if e["type"] == "platform.initStart"][0]
        self.assertEqual(init["initializationType"], "lambda-managed-instances")
        self.assertEqual(init["instanceMaxMemory"], 2048 * 1024 * 1024)
        self.assertTrue(init["instanceId"])
        # AWS_LAMBDA_MAX_CONCURRENCY goes to the runtime only
        ext_env = self.kind("tel", "start")[0]["env"]
        self.assertEqual(ext_env["AWS_LAMBDA_INITIALIZATION_TYPE"], "lambda-managed-instances")
        self.assertNotIn("AWS_LAMBDA_MAX_CONCURRENCY", ext_env)

    def test_a_timeout_does_not_end_the_environment(self):
        with self.lmi({}, timeout_s=0.3) as emu:
            first = emu.invoke({"sleep_ms": 1000})
            second = emu.invoke({"sleep_ms": 1})
            envs = {first["environment"], second["environment"]}
        self.assertEqual(first["status"], "timeout")
        self.assertEqual(second["status"], "success")
        self.assertEqual(len(envs), 1)


class SnapStartTest(EmulatorCase):

    def test_init_snapshot_restore(self):
        self.install("tel")
        cfg = {"tel": {"telemetry": {"schema": "2025-01-29"}}}
        with self.emulator(cfg, mode="snapstart") as emu:
            emu.function_cmd = [sys.executable, SNAPFN]
            first = emu.invoke({})
            emu.invoke({})
            emu.shutdown()
        self.assertTrue(json.loads(first["response"])["restored"])
        events = [e for _, e in self.events_received("tel")]
        types = [e["type"] for e in events]
        order = [t for t in types if t in ("platform.initStart", "platform.initRuntimeDone",
                                           "platform.restoreStart", "platform.restoreRuntimeDone",
                                           "platform.restoreReport", "platform.start")]
        self.assertEqual(order[:6], ["platform.initStart", "platform.initRuntimeDone",
                                     "platform.restoreStart", "platform.restoreRuntimeDone",
                                     "platform.restoreReport", "platform.start"])
        init = [e["record"] for e in events if e["type"] == "platform.initStart"][0]
        restore = [e["record"] for e in events if e["type"] == "platform.restoreStart"][0]
        self.assertEqual(init["initializationType"], "snap-start")
        self.assertNotEqual(restore["instanceId"], init["instanceId"])
        reports = [e["record"] for e in events if e["type"] == "platform.report"]
        self.assertIn("restoreDurationMs", reports[0]["metrics"])
        self.assertNotIn("restoreDurationMs", reports[1]["metrics"])

    def restored_twice(self, **kw):
        """Two environments restored from one snapshot, one invocation each: the telemetry
        records of their initStart and restoreStart events, in order."""
        self.install("tel")
        cfg = {"tel": {"telemetry": {"schema": "2025-01-29"}}}
        with self.emulator(cfg, mode="snapstart", **kw) as emu:
            emu.function_cmd = [sys.executable, SNAPFN]
            for _ in range(2):
                self.assertEqual(emu.invoke({})["status"], "success")
                emu.shutdown()
        events = [e for _, e in self.events_received("tel")]
        inits = [e["record"] for e in events if e["type"] == "platform.initStart"]
        restores = [e["record"] for e in events if e["type"] == "platform.restoreStart"]
        self.assertEqual((len(inits), len(restores)), (2, 2))
        return inits, restores

    def test_every_restore_shares_the_one_init(self):
        # Lambda runs init once, before the snapshot: every environment restored from it saw
        # that initStart; only restoreStart tells them apart
        inits, restores = self.restored_twice()
        self.assertEqual(inits[0]["instanceId"], inits[1]["instanceId"])
        ids = {r["instanceId"] for r in restores}
        self.assertEqual(len(ids), 2)
        self.assertNotIn(inits[0]["instanceId"], ids)

    def test_a_restore_without_its_instance_id(self):
        inits, restores = self.restored_twice(restore_instance_id=False)
        self.assertEqual(inits[0]["instanceId"], inits[1]["instanceId"])
        for r in restores:
            self.assertNotIn("instanceId", r)
            self.assertEqual(r["functionName"], "emulated-function")


if __name__ == "__main__":
    unittest.main()
