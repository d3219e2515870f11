"""Telemetry batches, buffering limits, retries and drops; the command line."""
import json
import os
import subprocess
import sys
import unittest

from emutest import EmulatorCase, HERE, RUNTIME


class TelemetryTest(EmulatorCase):
    def test_batches_honour_max_items_and_max_bytes(self):
        self.install("probe-ext")
        tel = {"types": ["function"], "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 300}}
        with self.emulator({"probe-ext": {"telemetry": tel}}) as emu:
            emu.invoke({"print": 2500, "line_bytes": 40})   # item-bound batches
            emu.invoke({"print": 1200, "line_bytes": 600})  # byte-bound batches
            emu.invoke({})  # the rest is overdue at this thaw
        batches = self.kind("probe-ext", "batch")
        for b in batches:
            self.assertLessEqual(len(b["events"]), 1000)
            self.assertLessEqual(b["bytes"], 262144)
        self.assertTrue(any(len(b["events"]) == 1000 for b in batches), "a full batch by items")
        big = [b for b in batches if b["events"] and len(b["events"][0]["record"]) > 500]
        self.assertTrue(any(b["bytes"] > 200000 for b in big), "a full batch by bytes")
        records = [e["record"] for b in batches for e in b["events"]]
        self.assertTrue(all(isinstance(r, str) for r in records))
        expected = ["fn-line %06d " % i for i in range(2500)] + ["fn-line %06d " % i for i in range(1200)]
        self.assertEqual([r[:15] for r in records], expected, "each line once, in order")
        self.assertEqual(emu.report()["telemetry"]["probe-ext"]["delivered_events"], 3700)

    def test_failed_deliveries_are_retried(self):
        self.install("probe-ext")
        tel = {"types": ["platform"], "fail_first": 2}
        with self.emulator({"probe-ext": {"telemetry": tel}}) as emu:
            res = emu.invoke({})
        stats = emu.report()["telemetry"]["probe-ext"]
        self.assertEqual(len(self.kind("probe-ext", "batch_refused")), 2)
        self.assertEqual(stats["failed_posts"], 2)
        self.assertEqual(stats["dropped_events"], 0)
        types = [e["type"] for _, e in self.events_received("probe-ext")]
        self.assertEqual(types[0], "platform.initStart", "the refused batch came again")
        self.assertIn("platform.report", types)
        self.assertEqual(res["status"], "success")

    def test_slow_consumer_drops_and_is_told(self):
        self.install("probe-ext")
        tel = {"types": ["platform", "function"], "slow_ms": 300, "slow_batches": 2,
               "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25}}
        with self.emulator({"probe-ext": {"telemetry": tel}}, telemetry_queue_max_bytes=64 * 1024) as emu:
            emu.invoke({"print": 3000, "line_bytes": 100})
            emu.invoke({})
        stats = emu.report()["telemetry"]["probe-ext"]
        self.assertGreater(stats["dropped_events"], 0)
        dropped = [e["record"] for _, e in self.events_received("probe-ext")
                   if e["type"] == "platform.logsDropped"]
        self.assertTrue(dropped)
        self.assertEqual(sum(d["droppedRecords"] for d in dropped), stats["dropped_events"])
        self.assertGreater(dropped[0]["droppedBytes"], 0)
        functions = [e for _, e in self.events_received("probe-ext") if e["type"] == "function"]
        self.assertEqual(len(functions) + stats["dropped_events"], 3000, "only log records dropped")
        self.assertEqual(len([e for _, e in self.events_received("probe-ext")
                              if e["type"] == "platform.report"]), 2)

    def test_subscription_replays_init_events(self):
        self.install("probe-ext")
        with self.emulator({"probe-ext": {"telemetry": {"types": ["platform"]}}}) as emu:
            emu.invoke({})
        types = [e["type"] for _, e in self.events_received("probe-ext")]
        self.assertLess(types.index("platform.initStart"), types.index("platform.telemetrySubscription"))
        sub = [e["record"] for _, e in self.events_received("probe-ext")
               if e["type"] == "platform.telemetrySubscription"][0]
        self.assertEqual(sub, {"name": "probe-ext", "state": "Subscribed", "types": ["platform"]})


class CommandLineTest(EmulatorCase):
    def test_cli_runs_invocations_and_writes_report(self):
        self.install("probe-ext")
        report = os.path.join(self.tmp, "report.json")
        cmd = [sys.executable, os.path.join(HERE, "lambda-emulator"), "--opt", self.opt,
               "--function", RUNTIME, "--memory-mb", "256", "--invocations", "4", "--rate", "50",
               "--payload", '{"print": 1}', "--env", "EXT_PROBE_DIR=" + self.probe_dir,
               "--env", "EXT_CONFIG={}", "--recycle-after-invocations", "3",
               "--log-file", self.log_file, "--report", report]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("invocations: 4 (success 4)", proc.stderr)
        with open(report) as f:
            data = json.load(f)
        self.assertEqual(set(data) >= {"extensions", "invocations", "environments", "telemetry"}, True)
        self.assertEqual(len(data["invocations"]), 4)
        self.assertEqual([i["cold_start"] for i in data["invocations"]], [True, False, False, True])
        for key in ("request_id", "environment", "seq", "cold_start", "status", "error_type",
                    "duration_ms", "runtime_duration_ms", "max_memory_used_mb", "env_peak_bytes"):
            self.assertIn(key, data["invocations"][0])
        ext = data["extensions"]["probe-ext"]
        for key in ("init_duration_ms", "post_runtime_ms", "cpu_time_ms", "peak_rss_bytes", "shutdown"):
            self.assertIn(key, ext)
        self.assertEqual(set(ext["post_runtime_ms"]), {"p50", "p99", "max", "samples"})
        self.assertEqual(len(ext["post_runtime_ms"]["samples"]), 4)
        self.assertEqual([e["shutdown_reason"] for e in data["environments"]], ["spindown", "spindown"])
        with open(self.log_file) as f:
            lines = f.read().splitlines()
        self.assertEqual(len([ln for ln in lines if ln.startswith("fn-line")]), 4)
        self.assertEqual(len([ln for ln in lines if ln.startswith("REPORT RequestId:")]), 4)

    def test_cli_rejects_bad_env(self):
        proc = subprocess.run([sys.executable, os.path.join(HERE, "lambda-emulator"), "--function",
                               RUNTIME, "--env", "NOEQUALS"], capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 2)


if __name__ == "__main__":
    unittest.main()
