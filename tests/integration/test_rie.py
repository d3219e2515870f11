"""leakwatch in an environment that behaves as AWS's Runtime Interface Emulator where it differs
from Lambda: the Telemetry API is a stub (every subscription answered 202
Telemetry.NotSupported) and the environment ends with SHUTDOWN "SandboxTerminated". leakwatch
goes on from /proc alone, exits 0 inside the deadline, and keeps the reason as received next to
its own category of it."""
import unittest

from lwtest import MIB, LeakwatchCase, invocation_records, json_lines, shutdown_records


class RieTest(LeakwatchCase):

    def test_stubbed_telemetry_and_sandbox_terminated(self):
        n = 12
        with self.emulator("leak", rie=True) as emu:
            results = [emu.invoke({"bytes": MIB, "delay_ms": 50}) for _ in range(n)]
            emu.shutdown()  # the RIE's own reason when it is stopped
            lines = emu.log_lines
            report = emu.report()
        self.assertTrue(all(r["status"] == "success" for r in results))
        self.assertEqual(report["environments"][0]["shutdown_reason"], "SandboxTerminated")
        ext = report["extensions"]["leakwatch"]["shutdown"]
        self.assertEqual((ext["in_time"], ext["killed"], ext["exit_code"]), (True, False, 0))

        recs = invocation_records(lines)
        self.assertEqual(len(recs), n)
        # no platform report is coming, and no record waits for one or says it is missing
        for r in recs[:-1]:
            self.assertNotIn("Incomplete", r)
            self.assertNotIn("DurationMilliseconds", r)
        self.assertEqual(recs[-1]["Incomplete"], ["end-reading"])
        # the leak is measured from /proc: 1 MiB per invocation (the page-rounding of the
        # allocator aside)
        anon = [r["FunctionAnonEndBytes"] for r in recs if "FunctionAnonEndBytes" in r]
        per_invocation = (anon[-1] - anon[0]) / (len(anon) - 1)
        self.assertLess(abs(per_invocation - MIB) / MIB, 0.01, per_invocation)

        down = shutdown_records(lines)
        self.assertEqual(len(down), 1)
        self.assertEqual(down[0]["ShutdownReason"], "SandboxTerminated")
        self.assertEqual(down[0]["ShutdownCategory"], "failure")
        self.assertEqual(down[0]["EnvironmentInvocations"], n)
        # the one incomplete record is counted
        self.assertEqual(sum(o.get("RecordsIncomplete", 0)
                             for o in json_lines(lines, "LeakwatchRecord")), 1)
        log = self.leakwatch_log(lines)
        self.assertFalse([line for line in log if "ERROR" in line], log)

    def test_lambda_reasons_keep_their_word(self):
        # on Lambda the reason and the category are the same word
        results, report, lines = self.run_function("steady", [{}] * 2)
        down = shutdown_records(lines)[0]
        self.assertEqual((down["ShutdownReason"], down["ShutdownCategory"]),
                         ("spindown", "spindown"))


if __name__ == "__main__":
    unittest.main()
