"""API errors, out of memory, timeouts, init errors and an extension that ignores SHUTDOWN."""
import os
import time
import unittest

from emutest import EmulatorCase


class ApiErrorTest(EmulatorCase):
    def test_extension_and_telemetry_api_errors(self):
        self.install("probe-ext")
        cfg = {"probe-ext": {"probes": True, "telemetry": {"types": ["platform"]}}}
        with self.emulator(cfg) as emu:
            res = emu.invoke({"probe": True})
        self.assertEqual(res["status"], "success")
        p = self.probes("probe-ext")
        expect = {
            "register_no_name": (403, "Extension.InvalidExtensionName"),
            "register_bad_event": (403, "Extension.InvalidEventType"),
            # a name matching no file is an internal extension, which cannot get SHUTDOWN
            "register_name_mismatch_shutdown": (403, "Extension.InvalidEventType"),
            "register_bad_json": (403, "InvalidRequestFormat"),
            "next_no_id": (403, "Extension.MissingExtensionIdentifier"),
            "next_bad_id": (403, "Extension.InvalidExtensionIdentifier"),
            "next_unknown_id": (403, "Extension.UnknownExtensionIdentifier"),
            "register_twice": (403, "Extension.InvalidExtensionState"),
            "init_error_no_type": (403, "Extension.MissingHeader"),
            "sub_max_items_low": (400, "ValidationError"),
            "sub_timeout_type": (400, "ValidationError"),
            "sub_max_bytes_high": (400, "ValidationError"),
            "sub_types_empty": (400, "ValidationError"),
            "sub_types_bogus": (400, "ValidationError"),
            "sub_bad_host": (400, "ValidationError"),
            "sub_no_port": (400, "ValidationError"),
            "sub_bad_schema": (400, "ValidationError"),
            "sub_no_id": (403, "Extension.MissingExtensionIdentifier"),
            "subscribe_after_init": (403, "Telemetry.SubscriptionClosed"),
            "register_after_init": (403, "Extension.RegistrationClosed"),
            "init_error_after_init": (403, "Extension.InvalidExtensionState"),
        }
        for what, (status, error_type) in expect.items():
            self.assertIn(what, p)
            got_status, body = p[what]
            self.assertEqual((got_status, body["errorType"]), (status, error_type), what)
            self.assertIsInstance(body["errorMessage"], str)
        # the probes did not disturb the real registration
        self.assertEqual(self.kind("probe-ext", "register")[0]["status"], 200)
        self.assertEqual(self.kind("probe-ext", "subscribe")[0]["status"], 200)

    def test_runtime_api_errors(self):
        with self.emulator() as emu:
            res = emu.invoke({"probe": True})
        self.assertEqual(res["status"], "success")
        probes = {}
        for r in self.kind("runtime", "probes"):
            probes.update(r["probes"])
        self.assertEqual(probes["wrong_id"][0], 400)
        self.assertEqual(probes["wrong_id"][1]["errorType"], "InvalidRequestID")
        self.assertEqual(probes["next_unanswered"][0], 403)
        self.assertEqual(probes["next_unanswered"][1]["errorType"], "InvalidStateTransition")
        self.assertEqual(probes["init_error_late"][0], 403)
        self.assertEqual(probes["answer_twice"][0], 403)
        self.assertEqual(probes["answer_twice"][1]["errorType"], "InvalidStateTransition")
        self.assertEqual(probes["unknown_route"][0], 404)

    def test_name_not_matching_the_file_blocks_init(self):
        # Registering under another name leaves the file's extension unregistered: init cannot
        # finish and fails at its time limit; the invocation reports it.
        self.install("real-name")
        cfg = {"real-name": {"register_name": "other-name", "events": ["INVOKE"]}}
        with self.emulator(cfg, init_timeout_s=1.0) as emu:
            res = emu.invoke({})
        self.assertEqual(self.kind("real-name", "register")[0]["status"], 200)
        self.assertEqual(res["status"], "timeout")
        self.assertEqual(self.kind("runtime", "start"), [], "runtime starts only after every extension registered")
        self.assertEqual(emu.report()["environments"][0]["shutdown_reason"], "failure")


class FailureTest(EmulatorCase):
    def test_out_of_memory_kills_runtime_and_cold_starts(self):
        self.install("probe-ext")
        with self.emulator({"probe-ext": {"telemetry": {"types": ["platform"]}}}, memory_mb=128) as emu:
            results = []
            for _ in range(12):
                results.append(emu.invoke({"alloc_mb": 24}))
                if results[-1]["status"] != "success":
                    break
            after = emu.invoke({})
        oom = results[-1]
        self.assertEqual((oom["status"], oom["error_type"]), ("error", "Runtime.OutOfMemory"))
        self.assertGreater(len(results), 1, "the leak needs a few invocations to reach the limit")
        mem = [r["max_memory_used_mb"] for r in results]
        self.assertEqual(mem, sorted(mem))
        self.assertGreater(oom["env_peak_bytes"], 128 << 20)
        self.assertTrue(after["cold_start"])
        self.assertEqual(after["status"], "success")
        self.assertEqual(after["environment"], oom["environment"] + 1)
        self.assertLess(after["max_memory_used_mb"], oom["max_memory_used_mb"])
        envs = emu.report()["environments"]
        self.assertEqual(envs[0]["shutdown_reason"], "failure")
        shutdowns = [r["event"] for r in self.kind("probe-ext", "event") if r["event"]["eventType"] == "SHUTDOWN"]
        self.assertEqual(shutdowns[0]["shutdownReason"], "failure")
        rep = [e for _, e in self.events_received("probe-ext") if e["type"] == "platform.report"
               and e["record"]["requestId"] == oom["request_id"]]
        self.assertEqual(len(rep), 1)
        self.assertEqual(rep[0]["record"]["status"], "error")
        self.assertEqual(rep[0]["record"]["errorType"], "Runtime.OutOfMemory")
        line = [ln for ln in emu.log_lines if ln.startswith("REPORT RequestId: " + oom["request_id"])][0]
        self.assertIn("Error Type: Runtime.OutOfMemory", line)

    def test_timeout_resets_environment(self):
        self.install("probe-ext")
        with self.emulator({"probe-ext": {}}, timeout_s=0.5) as emu:
            slow = emu.invoke({"sleep_ms": 3000})
            after = emu.invoke({})
        self.assertEqual((slow["status"], slow["error_type"]), ("timeout", "Sandbox.Timedout"))
        self.assertLess(slow["duration_ms"], 2500)
        self.assertTrue(after["cold_start"])
        self.assertEqual(after["status"], "success")
        shutdowns = [r["event"] for r in self.kind("probe-ext", "event") if r["event"]["eventType"] == "SHUTDOWN"]
        self.assertEqual(shutdowns[0]["shutdownReason"], "timeout")
        self.assertEqual(emu.report()["environments"][0]["shutdown_reason"], "timeout")
        self.assertTrue(any("Task timed out after 0.50 seconds" in ln and slow["request_id"] in ln
                            for ln in emu.log_lines))
        self.assertEqual(len([r for r in self.kind("runtime", "answered")
                              if r["request_id"] == slow["request_id"]]), 0)

    def test_runtime_crash_is_a_failure(self):
        with self.emulator() as emu:
            crash = emu.invoke({"exit": 3})
            after = emu.invoke({})
        self.assertEqual((crash["status"], crash["error_type"]), ("error", "Runtime.ExitError"))
        self.assertTrue(after["cold_start"])

    def test_shutdown_deadline_ignored_is_killed(self):
        self.install("a-good-ext")
        self.install("b-stubborn-ext")
        cfg = {"a-good-ext": {}, "b-stubborn-ext": {"ignore_shutdown": True}}
        with self.emulator(cfg) as emu:
            emu.invoke({})
            t0 = time.monotonic()
            emu.shutdown("spindown")
            took = time.monotonic() - t0
        exts = emu.report()["extensions"]
        self.assertEqual(exts["b-stubborn-ext"]["shutdown"]["killed"], True)
        self.assertEqual(exts["b-stubborn-ext"]["shutdown"]["in_time"], False)
        self.assertEqual(exts["b-stubborn-ext"]["shutdown"]["exit_code"], -9)
        self.assertEqual(exts["a-good-ext"]["shutdown"], {"in_time": True, "killed": False, "exit_code": 0})
        self.assertGreaterEqual(took, 1.5, "the stubborn extension holds shutdown until its deadline")
        pid = self.kind("b-stubborn-ext", "start")[0]["pid"]
        self.assertFalse(os.path.exists(f"/proc/{pid}"))

    def test_extension_init_error_fails_the_invocation(self):
        self.install("probe-ext")
        with self.emulator({"probe-ext": {"init_error": "Extension.ConfigInvalid"}}) as emu:
            res = emu.invoke({})
        # The extension's own record of the 202 may never be written: the failed init kills it
        # right after the answer, as Lambda does. The emulator's side is checked instead.
        self.assertEqual((res["status"], res["error_type"]), ("error", "Extension.ConfigInvalid"))
        env = emu.report()["environments"][0]
        self.assertEqual(env["init_error"], "Extension.ConfigInvalid")
        self.assertEqual(env["shutdown_reason"], "failure")

    def test_runtime_init_error(self):
        with self.emulator(env={"RT_INIT_ERROR": "Runtime.ImportModuleError"}) as emu:
            res = emu.invoke({})
        self.assertEqual((res["status"], res["error_type"]), ("error", "Runtime.ImportModuleError"))


if __name__ == "__main__":
    unittest.main()
