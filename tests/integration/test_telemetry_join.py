"""The Telemetry API half of each record: leakwatch subscribes, receives the platform's events
late (after the thaw, or during SHUTDOWN for the last invocation) and joins them by request id."""
import socket
import unittest

from lwtest import LeakwatchCase, invocation_records, shutdown_records


class TelemetryJoinTest(LeakwatchCase):

    def test_every_invocation_gets_the_platform_report(self):
        n = 6
        results, report, lines = self.run_function("steady", [{}] * n)
        recs = invocation_records(lines)
        self.assertEqual([r["RequestId"] for r in recs], [r["request_id"] for r in results])
        for rec, res in zip(recs, results):
            self.assertNotIn("telemetry", rec.get("Incomplete", []), rec)
            self.assertEqual(rec["Status"], "success")
            # the figures are Lambda's own, as the platform.report carried them
            self.assertAlmostEqual(rec["DurationMilliseconds"], res["duration_ms"], places=2)
            self.assertEqual(rec["BilledDurationMilliseconds"], res["billed_duration_ms"])
            self.assertEqual(rec["LambdaMaxMemoryUsedMegabytes"], res["max_memory_used_mb"])
            self.assertAlmostEqual(rec["RuntimeDurationMilliseconds"], res["runtime_duration_ms"],
                                   places=2)
        # only the cold start has an init duration, and it is the platform's
        self.assertAlmostEqual(recs[0]["InitDurationMilliseconds"], results[0]["init_duration_ms"],
                               places=2)
        for rec in recs[1:]:
            self.assertNotIn("InitDurationMilliseconds", rec)
        received = sum(r["TelemetryEventsReceived"] for r in recs + shutdown_records(lines))
        self.assertGreaterEqual(received, 3 * n)  # start, runtimeDone, report per invocation

    def test_a_timed_out_invocation_says_timeout(self):
        with self.emulator("steady", timeout_s=1.0) as emu:
            first = emu.invoke({})
            timed_out = emu.invoke({"sleep_ms": 3000})
            after = emu.invoke({})
            emu.shutdown("spindown")
            lines = emu.log_lines
        self.assertEqual(timed_out["status"], "timeout")
        recs = {r["RequestId"]: r for r in invocation_records(lines)}
        self.assertEqual(recs[first["request_id"]]["Status"], "success")
        rec = recs[timed_out["request_id"]]
        self.assertEqual(rec["Status"], "timeout")
        self.assertNotIn("telemetry", rec.get("Incomplete", []))
        # The timeout resets the environment: SHUTDOWN says why, and the next invocation is a
        # cold start in a new environment with its own id.
        reasons = [s["ShutdownReason"] for s in shutdown_records(lines)]
        self.assertEqual(reasons, ["timeout", "spindown"])
        nxt = recs[after["request_id"]]
        self.assertTrue(nxt["ColdStart"])
        self.assertEqual(nxt["Sequence"], 1)
        self.assertNotEqual(nxt["EnvironmentId"], rec["EnvironmentId"])

    def test_a_taken_port_falls_back_to_a_free_one(self):
        blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            blocker.bind(("0.0.0.0", 4279))  # leakwatch's default port
        except OSError:
            self.skipTest("port 4279 is in use on this machine")
        blocker.listen(1)
        try:
            results, report, lines = self.run_function("steady", [{}] * 3)
        finally:
            blocker.close()
        log = self.leakwatch_log(lines)
        self.assertTrue(any("4279" in line and "WARN" in line for line in log), log)
        recs = invocation_records(lines)
        self.assertEqual(len(recs), 3)
        for rec in recs:
            self.assertEqual(rec["Status"], "success")
            self.assertIn("DurationMilliseconds", rec)

    def test_without_telemetry_records_carry_proc_figures_alone(self):
        results, report, lines = self.run_function("leak", [{"bytes": 65536}] * 4,
                                                   env={"LEAKWATCH_TELEMETRY": "off"})
        recs = invocation_records(lines)
        self.assertEqual(len(recs), 4)
        for rec in recs:
            self.assertNotIn("Status", rec)
            self.assertNotIn("DurationMilliseconds", rec)
            self.assertNotIn("telemetry", rec.get("Incomplete", []))
        self.assertIn("FunctionAnonEndBytes", recs[0])
        self.assertEqual(report["telemetry"].get("leakwatch", {}).get("delivered_events", 0), 0)


if __name__ == "__main__":
    unittest.main()
