"""Lambda Managed Instances under five minutes of steady load: not one alert.

Its own file so that the test runner can run it beside the rest of the suite: it is long, and
mostly waits.
"""
import os
import unittest

from lwtest import alerts
from test_modes import ManagedInstancesLoad, interval_records


class ManagedInstancesSteadyTest(ManagedInstancesLoad):
    """Five minutes of load on four workers that keep nothing: not one alert."""

    def test_a_steady_multi_worker_function_never_alerts(self):
        if os.environ.get("LW_QUICK"):
            self.skipTest("LW_QUICK: the five-minute run is skipped")
        results, _, lines = self.run_load(305, {"sleep_ms": 20, "garbage": 256 * 1024})
        self.assertTrue(all(r["status"] == "success" for r in results))
        recs = interval_records(lines)
        self.assertGreaterEqual(len(recs), 300000 // self.INTERVAL_MS - 10)
        self.assertEqual(alerts(lines), [])
        self.assertFalse([r for r in recs if r.get("Verdict") in ("leak", "leak-critical")])


if __name__ == "__main__":
    unittest.main()
