"""The platform modes: Lambda Managed Instances, SnapStart, and platforms that refuse what
leakwatch asks for at init.

On Managed Instances extensions may register only for SHUTDOWN and the Telemetry API accepts only
schema 2025-01-29. Whatever the platform refuses, leakwatch must never fail the function's init:
it falls back, says so in one line, and runs on to SHUTDOWN.
"""
import json
import os
import time
import unittest

import lwtest
from lwtest import (LeakwatchCase, alerts, invocation_records, json_lines, process,
                    shutdown_records)


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


def interval_records(lines):
    return [r for r in json_lines(lines, "LeakwatchRecord") if r["LeakwatchRecord"] == "interval"]


class ManagedInstancesLoad(RefusalCase):
    """A multi-worker function under load on Managed Instances."""

    WORKERS = 4
    INTERVAL_MS = 500

    def run_load(self, seconds, payload, env=None):
        env = dict(env or {})
        env.setdefault("LEAKWATCH_INTERVAL_MS", str(self.INTERVAL_MS))
        with self.emulator("workers.py", env=env, memory_mb=2048, mode="managed-instances",
                           max_concurrency=self.WORKERS) as emu:
            t0 = time.monotonic()

            def payloads():
                while time.monotonic() - t0 < seconds:
                    yield payload

            results = emu.run_load(payloads())
            emu.shutdown("spindown")
            lines = emu.log_lines
            report = emu.report()
        return results, report, lines


class ManagedInstancesCollectionTest(ManagedInstancesLoad):
    """Readings on a timer, one record per interval, every worker its own process."""

    def test_interval_records_name_every_worker_and_count_the_requests(self):
        results, report, lines = self.run_load(6, {"sleep_ms": 20})
        self.assertTrue(all(r["status"] == "success" for r in results))
        served_by = {json.loads(r["response"])["pid"] for r in results}
        self.assertEqual(len(served_by), self.WORKERS)
        recs = interval_records(lines)
        self.assertGreaterEqual(len(recs), 6000 // self.INTERVAL_MS - 2)
        self.assertEqual(invocation_records(lines), [])
        self.assertEqual([r["Sequence"] for r in recs], list(range(1, len(recs) + 1)))
        # every worker process is in the records, as a process of the function
        middle = recs[len(recs) // 2]
        pids = {p["Pid"] for p in process(middle, "runtime-child")}
        self.assertEqual(pids, served_by)
        self.assertEqual(middle["FunctionProcesses"], self.WORKERS + 1)
        for r in recs:
            self.assertNotIn("RequestId", r)
            self.assertNotIn("GrowthPerInvocationBytes", r)
            self.assertNotIn("ProjectedInvocationsToOom", r)
        # every request reported is counted once, in some interval
        self.assertEqual(sum(r.get("Requests", 0) for r in recs), len(results))
        self.assertEqual(sum(r.get("RequestErrors", 0) for r in recs), 0)
        durations = [r["RequestDurationMaxMilliseconds"] for r in recs if r.get("Requests")]
        self.assertTrue(all(d >= 20 for d in durations), durations)
        # the platform's identity of the environment names it
        self.assertTrue(all(r["EnvironmentId"] == report["environments"][0].get("instance_id",
                                                                                 r["EnvironmentId"])
                            for r in recs))
        self.assertIn("[$LATEST]", recs[0]["EnvironmentId"])
        shutdown = report["extensions"]["leakwatch"]["shutdown"]
        self.assertTrue(shutdown["in_time"] and shutdown["exit_code"] == 0)

    def test_a_leak_in_one_worker_of_four_is_flagged_and_named(self):
        results, _, lines = self.run_load(25, {"sleep_ms": 20, "leak_worker": 3,
                                               "bytes": 256 * 1024})
        leaker = {json.loads(r["response"])["pid"] for r in results
                  if json.loads(r["response"])["worker"] == 3}
        self.assertEqual(len(leaker), 1)
        leaker = leaker.pop()
        found = alerts(lines)
        self.assertEqual(len(found), 1, found)
        self.assertIn(found[0]["To"], ("leak", "leak-critical"))
        self.assertEqual(found[0]["Culprit"], "python3")
        # of the four workers of that name, the one that leaks
        self.assertEqual(found[0]["CulpritPid"], leaker)
        self.assertIn("pid %d of 4" % leaker, found[0]["Reason"])
        # a record whose end reading is missing (the last one, when the runtime is already gone
        # at SHUTDOWN) carries no projection, nor does one where the leak only stands (its window
        # alone proves no leak, e.g. fewer requests reached the leaking worker): the complete
        # records of a leak assessment do
        flagged = [r for r in interval_records(lines)
                   if r.get("Verdict") in ("leak", "leak-critical") and not r.get("Incomplete")
                   and not r.get("VerdictReason", "").startswith("the leak stands")]
        self.assertTrue(flagged)
        self.assertGreater(flagged[-1]["GrowthPerHourBytes"], 0)
        self.assertIn("ProjectedMinutesToOom", flagged[-1])


# snapfn's lazy page-in after a restore: long enough that the trend engine's default warm-up
# (5) would flag it, short enough that after the restore warm-up (20) too few readings grow
PAGEIN_BYTES = 72 << 20
PAGEIN_INVOCATIONS = 45


class SnapStartTest(LeakwatchCase):
    """Environments restored from one snapshot: each its own identity, no warm-up alarm.

    The emulator tells every environment the one init's platform.initStart, with the snapshot's
    instanceId, as Lambda does: only the restore can tell the environments apart, so a leakwatch
    that kept the identity it had at init would put both environments under one id."""

    def restore(self, environments, invocations, env=None, **kw):
        """environments restored one after the other from one snapshot of snapfn (72 MiB paged
        in over the first 45 invocations after each restore); returns the log lines, the
        snapshot's instanceId and each restore's own (None where restoreStart has none)."""
        lib = os.path.join(lwtest.BUILD_DIR, "emulator", "libseeded_random.so")
        fn_env = {"PAGEIN_BYTES": str(PAGEIN_BYTES), "PAGEIN_INVOCATIONS": str(PAGEIN_INVOCATIONS)}
        fn_env.update(env or {})
        restored_ids = []
        with self.emulator("snapfn.py", env=fn_env, memory_mb=512, mode="snapstart",
                           snapshot_random_lib=lib, **kw) as emu:
            for _ in range(environments):
                results = [emu.invoke({}) for _ in range(invocations)]
                self.assertTrue(all(r["status"] == "success" for r in results))
                self.assertTrue(json.loads(results[-1]["response"])["restored"])
                restored_ids.append(emu.env.instance_id if emu.restore_instance_id else None)
                emu.shutdown("spindown")
            lines = emu.log_lines
            snapshot_id = emu.snapshot_instance_id
        return lines, snapshot_id, restored_ids

    def check_identities(self, lines, snapshot_id, invocations):
        """Two environments, each its own id (neither the one leakwatch drew at init nor the
        init's instanceId, both shared by the snapshot), each record restored; the ids."""
        log = self.leakwatch_log(lines)
        # both environments drew the same id at init: the state the snapshot shares
        init_ids = [l.split("environment ")[1].split(",")[0] for l in log if "ready:" in l]
        self.assertEqual(len(init_ids), 2)
        self.assertEqual(init_ids[0], init_ids[1])
        recs = invocation_records(lines)
        ids = sorted({r["EnvironmentId"] for r in recs})
        self.assertEqual(len(ids), 2, ids)
        self.assertNotIn(init_ids[0], ids)
        self.assertNotIn(snapshot_id, ids)
        for env_id in ids:
            mine = [r for r in recs if r["EnvironmentId"] == env_id]
            self.assertEqual([r["Sequence"] for r in mine], list(range(1, invocations + 1)))
            self.assertTrue(all(r["Restored"] is True for r in mine))
            self.assertTrue(all(r["ColdStart"] is False for r in mine))
        shutdowns = shutdown_records(lines)
        self.assertEqual(sorted(s["EnvironmentId"] for s in shutdowns), ids)
        return ids

    def test_restored_environments_get_their_own_identity(self):
        lines, snapshot_id, restored_ids = self.restore(2, 60)
        ids = self.check_identities(lines, snapshot_id, 60)
        # the platform's own identity of each restored environment
        self.assertEqual(ids, sorted(restored_ids))
        # memory grew for 45 invocations as the snapshot's pages came back: no alert
        self.assertEqual(alerts(lines), [])
        recs = invocation_records(lines)
        self.assertFalse([r for r in recs if r.get("Verdict") in ("leak", "leak-critical")])

    def test_restores_without_an_instance_id_get_an_id_of_their_own(self):
        # restoreStart may come without instanceId: leakwatch makes an id of its own at the
        # restore, from randomness the snapshot does not share
        lines, snapshot_id, _ = self.restore(2, 3, restore_instance_id=False)
        self.check_identities(lines, snapshot_id, 3)

    def test_without_the_restore_warm_up_the_page_in_alerts(self):
        # The run of the identity test with the restore warm-up off: the page-in's growth is
        # taken for a leak before it ends (measured: flagged at invocation 39 of 45; with the
        # default warm-up of 20 its last 25 readings stay "warming"). The default's silence
        # there is the warm-up's doing.
        lines, _, _ = self.restore(1, 60, env={"LEAKWATCH_RESTORE_WARMUP_INVOCATIONS": "0"})
        recs = invocation_records(lines)
        self.assertEqual(len(recs), 60)
        self.assertTrue(all(r["Restored"] is True for r in recs))
        flagged = [a for a in alerts(lines) if a["To"] in ("leak", "leak-critical")]
        self.assertTrue(flagged, alerts(lines))
        self.assertLessEqual(flagged[0]["Sequence"], PAGEIN_INVOCATIONS)


if __name__ == "__main__":
    unittest.main()
