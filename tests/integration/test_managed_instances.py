"""Lambda Managed Instances and other platforms that refuse what leakwatch asks for at init.

On Managed Instances extensions may register only for SHUTDOWN and the Telemetry API accepts only
schema 2025-01-29. Whatever the platform refuses, leakwatch must never fail the function's init:
it falls back, says so in one line, and runs on to SHUTDOWN.
"""
import unittest

from lwtest import LeakwatchCase, shutdown_records


class RefusalCase(LeakwatchCase):

    def run_and_check(self, n=4, **kw):
        results, report, lines = self.run_function("steady", [{}] * n, **kw)
        self.assertEqual([r["status"] for r in results], ["success"] * n)
        self.assertTrue(all(e["init_error"] is None for e in report["environments"]))
        self.assertEqual(len(report["environments"]), 1, "init failed and was retried")
        shutdown = report["extensions"]["leakwatch"]["shutdown"]
        self.assertEqual(shutdown["exit_code"], 0, self.leakwatch_log(lines))
        self.assertTrue(shutdown["in_time"])
        log = self.leakwatch_log(lines)
        self.assertFalse([l for l in log if "register failed" in l], log)
        return results, report, lines, log


class ManagedInstancesInitTest(RefusalCase):

    def test_registers_for_shutdown_only_and_subscribes_with_the_new_schema(self):
        _, report, lines, log = self.run_and_check(mode="managed-instances")
        # Told by AWS_LAMBDA_INITIALIZATION_TYPE: no refused attempt at all.
        self.assertFalse([l for l in log if "refused registration" in l], log)
        self.assertEqual(report["subscribed_schemas"], ["2025-01-29"])
        self.assertTrue([l for l in log if "managed-instances mode" in l], log)
        self.assertEqual(len(shutdown_records(lines)), 1)


class RefusedInvokeTest(RefusalCase):

    def test_invoke_refused_without_warning_falls_back_to_shutdown_only(self):
        _, _, _, log = self.run_and_check(refuse_invoke_registration=True)
        said = [l for l in log if "refused registration for INVOKE and SHUTDOWN" in l]
        self.assertEqual(len(said), 1, log)
        self.assertIn("SHUTDOWN only", said[0])


class OldSchemaTest(RefusalCase):

    def test_a_platform_without_the_new_schema_gets_the_older_one(self):
        _, report, _, log = self.run_and_check(telemetry_schemas=("2022-12-13",))
        self.assertEqual(report["subscribed_schemas"], ["2022-12-13"])
        self.assertEqual(len([l for l in log if "schema 2025-01-29 refused" in l]), 1, log)

    def test_the_new_schema_where_accepted(self):
        _, report, _, _ = self.run_and_check()
        self.assertEqual(report["subscribed_schemas"], ["2025-01-29"])


if __name__ == "__main__":
    unittest.main()
