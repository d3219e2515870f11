"""The emulator's fault injection: refused subscriptions, altered telemetry batches, an extension's
stdout never read, a small SHUTDOWN budget, a signal at a chosen moment."""
import signal
import unittest

from emutest import EmulatorCase


class FaultInjectionTest(EmulatorCase):

    def test_refused_subscription(self):
        self.install("probe-ext")
        with self.emulator({"probe-ext": {"telemetry": {"types": ["platform"]}}},
                           refuse_subscriptions=500) as emu:
            self.assertEqual(emu.invoke({})["status"], "success")
        sub = self.kind("probe-ext", "subscribe")
        self.assertEqual(sub[0]["status"], 500)
        self.assertIn("ServiceException", str(sub[0]["body"]))
        self.assertEqual(self.kind("probe-ext", "batch"), [])

    def test_duplicated_and_reversed_batches(self):
        tel = {"types": ["platform"], "buffering": {"timeoutMs": 25}}
        for fault in ("duplicate", "reverse"):
            with self.subTest(fault=fault):
                self.setUp()
                self.install("probe-ext")
                with self.emulator({"probe-ext": {"telemetry": tel}}, telemetry_fault=fault) as emu:
                    emu.invoke({})
                    emu.invoke({})
                    stats = emu.report()["telemetry"]["probe-ext"]
                batches = [b["events"] for b in self.kind("probe-ext", "batch")]
                self.assertGreater(stats["fault_posts"]["200"], 0)
                # (a post may go unanswered on a loaded machine: the fixture listener is Python)
                if fault == "duplicate":
                    # each batch posted twice in a row (a copy lost to an unanswered post aside)
                    self.assertTrue(any(a == b for a, b in zip(batches, batches[1:])), batches)
                    self.assertTrue(all(batches.count(b) <= 2 for b in batches), batches)
                else:
                    # every batch newest first, and some batch has more than one moment
                    times = [[e["time"] for e in b] for b in batches]
                    for t in times:
                        self.assertEqual(t, sorted(t, reverse=True))
                    self.assertTrue(any(len(set(t)) > 1 for t in times), times)
                self.tearDown()

    def test_malformed_and_oversized_bodies_are_posted_once_each(self):
        self.install("probe-ext")
        with self.emulator({"probe-ext": {"telemetry": {"types": ["platform"]}}},
                           telemetry_fault="malformed") as emu:
            emu.invoke({})
            stats = emu.report()["telemetry"]["probe-ext"]
        got = self.kind("probe-ext", "batch") + self.kind("probe-ext", "batch_refused")
        import lambda_emulator
        n_bad = len(lambda_emulator.MALFORMED_TELEMETRY_BODIES)
        self.assertEqual(stats["failed_posts"], 0)  # no retries
        self.assertGreaterEqual(len(got), 1)
        self.assertGreaterEqual(sum(stats["fault_posts"].values()), n_bad + 1)

    def test_stdout_never_read_or_closed(self):
        # The fixture extension prints with blocking writes and no EPIPE handling: a stdout
        # nobody reads stalls it (the invocation times out), a closed one kills it.
        for mode, lines_out, expected in (("stall", 400, "timeout"), ("close", 1, "failure")):
            with self.subTest(mode=mode):
                self.setUp()
                self.install("probe-ext")
                with self.emulator({"probe-ext": {"print": lines_out}}, extension_stdout=mode,
                                   timeout_s=1.0) as emu:
                    self.assertEqual(emu.invoke({})["status"], expected)
                    lines = emu.log_lines
                self.assertFalse([x for x in lines if x.startswith("ext-line")], lines)
                self.tearDown()

    def test_small_shutdown_budget(self):
        self.install("probe-ext")
        with self.emulator(shutdown_budget_ms=150) as emu:
            emu.invoke({})
            emu.shutdown()
        ev = [r["event"] for r in self.kind("probe-ext", "event")
              if r.get("event") and r["event"].get("eventType") == "SHUTDOWN"]
        self.assertEqual(len(ev), 1)
        # the deadline is at most the budget away from the moment it was recorded
        shut = [r for r in self.kind("probe-ext", "event")
                if r.get("event") and r["event"].get("eventType") == "SHUTDOWN"][0]
        self.assertLessEqual(ev[0]["deadlineMs"] - shut["t"] * 1000, 150)

    def test_signal_at_a_chosen_moment(self):
        self.install("probe-ext")
        with self.emulator() as emu:
            emu.init()
            emu.schedule_signal("probe-ext", signal.SIGKILL, "invoke")
            # the runtime still works when the signal lands, whenever the extension is scheduled
            res = emu.invoke({"sleep_ms": 300})
            report = emu.report()
        self.assertEqual((res["status"], res["error_type"]), ("failure", "Extension.Crash"))
        self.assertEqual(len(report["signals"]), 1)
        self.assertEqual(report["signals"][0]["when"], "invoke")
        self.assertTrue(report["signals"][0]["sent"])
        with self.assertRaises(Exception):
            emu.schedule_signal("probe-ext", signal.SIGTERM, "whenever")


if __name__ == "__main__":
    unittest.main()
