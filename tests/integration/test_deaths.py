"""Deaths told across a reset: an environment that dies (out of memory, a timeout) leaves its state
file in the sandbox's /tmp, and the next environment's leakwatch writes one "death" line saying
how it ended, how old it was and whether leakwatch had predicted it. Run under the emulator's
sandbox where the machine allows it: the memory limit is the kernel's, and the OOM kill real."""
import json
import os
import struct
import unittest
import zlib

from lwtest import MIB, LeakwatchCase, invocation_records, json_lines

STATE_FILE = "leakwatch-state"


def death_records(lines):
    return [r for r in json_lines(lines, "LeakwatchRecord") if r["LeakwatchRecord"] == "death"]


def state_slot(payload, generation=1, version=1):
    """One slot of the state file as leakwatch frames it (include/leakwatch/state.h): magic,
    format version, generation, payload length, CRC-32 over the header (CRC field zero) and the
    payload, zero-padded to 2048 bytes."""
    head = b"LWST" + struct.pack("<IQI", version, generation, len(payload))
    crc = zlib.crc32(head + b"\0\0\0\0" + payload)
    slot = head + struct.pack("<I", crc) + payload
    return slot + b"\0" * (2048 - len(slot))


def state_payload(function_name, **over):
    s = {"v": 1, "fn": function_name, "ver": "$LATEST", "env": "old-env", "start": 1, "restored": 0,
         "limit": 128 * MIB, "seq": 3, "at": 2, "readings": 1, "fn_rss": MIB, "env_rss": MIB,
         "env_rss_max": MIB, "intervals": 0, "verdict": 1, "verdict_seq": 3, "flagged": 0,
         "flagged_seq": 0, "flagged_at": 0, "proj": 0, "proj_seq": 0, "proj_at": 0, "oom_seq": 0,
         "oom_at": 0, "flag_oom_seq": 0, "ended": 1, "ended_at": 3, "reason": "failure", "report": 1,
         "report_seq": 3, "status": "error", "error": "Runtime.ExitError", "max_used_mb": 10,
         "size_mb": 128}
    s.update(over)
    return json.dumps(s, separators=(",", ":")).encode()


class DeathTest(LeakwatchCase):

    def killed_in_its_shutdown(self):
        """Whether the emulator had to kill leakwatch in the dead environment's SHUTDOWN. On a
        loaded machine leakwatch, stalled like every process of a cgroup at its memory limit,
        can miss that deadline after an OOM kill; it then tells the death from what it wrote
        before: no SHUTDOWN seen ("killed" unless its last reading was at the limit), and the
        environment taken to have died in the record after the last one it closed."""
        shutdowns = getattr(self, "shutdowns", None)
        return bool(shutdowns) and bool(shutdowns[0].get("killed"))

    def died_in(self, d, expected):
        """The invocation the death line says it died in: `expected`; for intervals, which have
        no request id to tell the last one closed from one opened after it, or one more when
        leakwatch was killed in its SHUTDOWN after closing the fatal interval."""
        n = d["DeadEnvironmentInvocations"]
        if self.killed_in_its_shutdown() and d["Intervals"]:
            self.assertIn(n, (expected, expected + 1), getattr(self, "context", ""))
        else:
            self.assertEqual(n, expected, getattr(self, "context", ""))
        return n

    def run_until_oom(self, fn, payloads, memory_mb, after=2, env=None):
        """Invokes with each payload until one dies of out-of-memory, then `after` more (in the
        next environment of the sandbox), then SHUTDOWN. Returns (results, index of the death,
        lines)."""
        with self.emulator(fn, memory_mb=memory_mb, env=env) as emu:
            results, died = [], None
            for p in payloads:
                results.append(emu.invoke(p))
                if results[-1]["error_type"] == "Runtime.OutOfMemory":
                    died = len(results) - 1
                    break
            self.assertIsNotNone(died, "the function never ran out of memory")
            results += [emu.invoke({"bytes": 0}) for _ in range(after)]
            emu.shutdown("spindown")
            lines = emu.log_lines
            report = emu.report()
            self.environments = report["environments"]
            exts = report.get("extensions")
            self.shutdowns = [sh for e in (exts.values() if isinstance(exts, dict) else [])
                              for sh in e.get("shutdowns") or []]
            # what to look at when a death is told otherwise than expected
            self.context = "leakwatch said: %s; its shutdowns: %s" % (
                self.leakwatch_log(lines)[-8:],
                [e.get("shutdowns") for e in report.get("extensions", {}).values()]
                if isinstance(report.get("extensions"), dict) else report.get("extensions"))
        return results, died, lines

    def test_a_leak_killed_by_the_memory_limit_was_predicted(self):
        # 2 MiB a call into a 128 MB limit: about 55 invocations to live.
        results, died, lines = self.run_until_oom(
            "leak", [{"bytes": 2 * MIB}] * 200, memory_mb=128)
        self.assertTrue(results[died + 1]["cold_start"])  # a new environment, same sandbox
        deaths = death_records(lines)
        self.assertEqual(len(deaths), 1, deaths)
        d = deaths[0]
        self.assertEqual(d["Cause"], "Runtime.OutOfMemory", self.context)
        # Lambda's report of the fatal invocation names Runtime.OutOfMemory ("error-type"), but it
        # may reach leakwatch after its SHUTDOWN budget for it has run out on a loaded machine:
        # the kill at the limit, seen by leakwatch's own last reading, is then the form it knows.
        self.assertTrue(set(d["OomForms"]) & {"error-type", "killed-at-limit"}, self.context)
        self.assertTrue(set(d["OomForms"]) <= {"error-type", "error-at-limit", "killed-at-limit"},
                        d["OomForms"])
        self.assertEqual(d["OutOfMemoryDeaths"], 1)
        n = self.died_in(d, died + 1)
        # the invocation it died in, by its request id, and every record of it written
        self.assertEqual(d["LastRequestId"], results[died]["request_id"])
        if not self.killed_in_its_shutdown():
            self.assertEqual(d["DeadEnvironmentUnwrittenRecords"], 0, self.context)
        # its age: the emulator's own count of the dead environment's life, from its creation
        # to the end of its SHUTDOWN (leakwatch starts a little later and ends a little earlier)
        dead = self.environments[0]
        self.assertEqual(dead["invocations"], died + 1)
        self.assertEqual(dead["shutdown_reason"], "failure")
        self.assertLessEqual(d["DeadEnvironmentLifetimeSeconds"], dead["lifetime_s"])
        if self.shutdowns and self.shutdowns[0]["in_time"]:
            self.assertGreater(d["DeadEnvironmentLifetimeSeconds"], dead["lifetime_s"] - 1.0,
                               "%s; emulator: %s; %s" % (d, dead, self.context))
        else:
            # Killed in its SHUTDOWN (a machine thrashing at the limit can stall it past the
            # deadline): what it knew last is the boundary before the fatal invocation.
            self.assertGreaterEqual(d["DeadEnvironmentEndTimeMs"], d["DeadEnvironmentStartTimeMs"])
            self.assertGreater(d["DeadEnvironmentLifetimeSeconds"], 0)
        # predicted, with a lead, and how close the projection came
        self.assertTrue(d["Predicted"], d)
        self.assertEqual(d["OutOfMemoryPredicted"], 1)
        self.assertGreater(d["LeadInvocations"], 0)
        self.assertGreater(d["OutOfMemoryLeadSeconds"], 0)
        self.assertEqual(d["ActualOomSequence"], n)
        # what the projection said when the leak was flagged, against the invocation it died in
        self.assertAlmostEqual(d["ProjectionErrorPercent"],
                               100.0 * abs(d["ProjectedOomSequence"] - n) / n,
                               # both figures are rounded to a tenth
                               delta=0.05 + 100.0 * 0.05 / n + 1e-9, msg=str(d))
        self.assertLess(d["ProjectionErrorPercent"], 25.0)
        # the leak verdict was standing at the invocation the lead is counted from
        recs = invocation_records(lines)
        dead_env = [r for r in recs if r["EnvironmentId"] == d["DeadEnvironmentId"]]
        flagged = [r for r in dead_env if r.get("Verdict") in ("leak", "leak-critical")]
        self.assertTrue(flagged)
        self.assertEqual(flagged[0]["Sequence"], n - d["LeadInvocations"])
        # it comes first in the next environment, before its first record
        new_env = [r for r in json_lines(lines, "LeakwatchRecord")
                   if r.get("EnvironmentId") == d["EnvironmentId"]]
        self.assertEqual(new_env[0]["LeakwatchRecord"], "death")
        self.assertNotEqual(d["EnvironmentId"], d["DeadEnvironmentId"])

    def test_one_huge_allocation_was_not_predicted(self):
        # Steady for 20 invocations, then one allocation larger than the whole limit.
        payloads = [{"bytes": 0}] * 20 + [{"bytes": 512 * MIB}]
        results, died, lines = self.run_until_oom("leak", payloads, memory_mb=128)
        self.assertEqual(died, 20)
        deaths = death_records(lines)
        self.assertEqual(len(deaths), 1, deaths)
        d = deaths[0]
        if self.killed_in_its_shutdown():
            self.assertIn(d["Cause"], ("Runtime.OutOfMemory", "killed"), self.context)
        else:
            self.assertEqual(d["Cause"], "Runtime.OutOfMemory", self.context)
        self.assertFalse(d.get("Predicted", False))
        self.assertEqual(d.get("OutOfMemoryPredicted", 0), 0)
        self.assertNotIn("OutOfMemoryLeadSeconds", d)
        self.assertNotIn("LeadInvocations", d)
        self.died_in(d, 21)
        self.assertEqual(d["LastRequestId"], results[20]["request_id"])
        self.assertNotIn(d["LastVerdict"], ("leak", "leak-critical"))

    def test_a_timeout_is_a_timeout_death(self):
        with self.emulator("leak", memory_mb=128, timeout_s=1.0) as emu:
            results = [emu.invoke({"bytes": 0}) for _ in range(3)]
            results.append(emu.invoke({"bytes": 0, "delay_ms": 3000}))
            results.append(emu.invoke({"bytes": 0}))
            emu.shutdown("spindown")
            lines = emu.log_lines
        self.assertEqual(results[3]["status"], "timeout")
        deaths = death_records(lines)
        self.assertEqual(len(deaths), 1, deaths)
        d = deaths[0]
        self.assertEqual(d["Cause"], "timeout")
        self.assertEqual(d["OutOfMemoryDeaths"], 0)
        self.assertNotIn("OutOfMemoryPredicted", d)
        self.assertEqual(d["DeadEnvironmentInvocations"], 4)
        self.assertEqual(d["ShutdownReason"], "timeout")

    def test_managed_instances_a_leaking_worker_killed_is_told_in_intervals(self):
        # Many requests at once, never frozen, a record per interval: worker 2 of 4 leaks until
        # the environment's memory runs out; the runtime is killed and the environment reset.
        payload = {"leak_worker": 2, "bytes": MIB, "sleep_ms": 20}
        with self.emulator("workers.py", memory_mb=256, mode="managed-instances",
                           max_concurrency=4, env={"LEAKWATCH_INTERVAL_MS": "250"}) as emu:
            results = emu.run_load(payload for _ in range(20000))
            died = [r for r in results if r["error_type"] == "Runtime.OutOfMemory"]
            self.assertTrue(died, "the environment never ran out of memory")
            after = emu.run_load([{"sleep_ms": 1}] * 4)
            emu.shutdown("spindown")
            lines = emu.log_lines
            exts = emu.report().get("extensions")
            self.shutdowns = [sh for e in (exts.values() if isinstance(exts, dict) else [])
                              for sh in e.get("shutdowns") or []]
            self.context = "its shutdowns: %s" % self.shutdowns
        self.assertTrue(all(r["status"] == "success" for r in after))
        deaths = death_records(lines)
        self.assertEqual(len(deaths), 1, deaths)
        d = deaths[0]
        self.assertEqual(d["Cause"], "Runtime.OutOfMemory")
        self.assertTrue(d["Intervals"])
        intervals = [r for r in json_lines(lines, "LeakwatchRecord")
                     if r["LeakwatchRecord"] == "interval"
                     and r["EnvironmentId"] == d["DeadEnvironmentId"]]
        # counted in intervals: the dead environment's last interval is the one it died in
        self.died_in(d, intervals[-1]["Sequence"])
        self.assertTrue(d["Predicted"], d)
        self.assertGreater(d["LeadInvocations"], 0)

    def test_a_recycled_sandbox_tells_no_death(self):
        # A spindown takes the sandbox and its /tmp: the next environment starts clean.
        with self.emulator("leak", memory_mb=128, recycle_after_invocations=3) as emu:
            for _ in range(6):
                emu.invoke({"bytes": 0})
            emu.shutdown("spindown")
            lines = emu.log_lines
        self.assertEqual(death_records(lines), [])
        self.assertEqual(len(invocation_records(lines)), 6)

    def plant_and_run(self, content):
        """Puts content where the state file goes, runs three invocations, returns the lines."""
        with self.emulator("leak", memory_mb=128) as emu:
            path = os.path.join(emu.tmp_dir, STATE_FILE)
            with open(path, "wb") as f:
                f.write(content)
            results = [emu.invoke({"bytes": 0}) for _ in range(3)]
            emu.shutdown("spindown")
            lines = emu.log_lines
        self.assertTrue(all(r["status"] == "success" for r in results))
        self.assertEqual(len(invocation_records(lines)), 3)
        return lines

    def assert_ignored_once(self, lines, why):
        said = [line for line in self.leakwatch_log(lines) if "state file ignored" in line]
        self.assertEqual(len(said), 1, said)
        self.assertIn(why, said[0])
        self.assertEqual(death_records(lines), [])

    def test_a_corrupt_state_file_is_ignored_with_one_line(self):
        slot = bytearray(state_slot(state_payload("emulated-function")))
        slot[40] ^= 0x01  # one bit of the payload
        self.assert_ignored_once(self.plant_and_run(bytes(slot)), "checksum")

    def test_a_truncated_state_file_is_ignored_with_one_line(self):
        slot = state_slot(state_payload("emulated-function"))
        self.assert_ignored_once(self.plant_and_run(slot[:100]), "cut short")

    def test_a_foreign_state_file_is_ignored_with_one_line(self):
        lines = self.plant_and_run(state_slot(state_payload("someone-else")))
        self.assert_ignored_once(lines, "another function")
        self.assertFalse(any("someone-else" in line for line in lines))

    def test_garbage_of_another_program_is_ignored_with_one_line(self):
        self.assert_ignored_once(self.plant_and_run(os.urandom(3000) + b"\n"),
                                 "not a leakwatch state file")

    def test_a_planted_state_file_of_this_function_is_told(self):
        # The file as the previous environment would have left it: one death line, as written.
        lines = self.plant_and_run(state_slot(state_payload("emulated-function")))
        deaths = death_records(lines)
        self.assertEqual(len(deaths), 1)
        self.assertEqual(deaths[0]["Cause"], "crash")
        self.assertEqual(deaths[0]["DeadEnvironmentId"], "old-env")


if __name__ == "__main__":
    unittest.main()
