"""The Lambda-grade sandbox: each environment in its own cgroups, with Lambda's CPU share, the
kernel's memory limit and the freezer. Skipped, with the reason, where the machine does not allow
cgroups (not root, no writable cgroup v1 cpu/memory/freezer)."""
import json
import os
import unittest

import sandbox
from emutest import EmulatorCase

WHY = sandbox.unavailable_reason()


def in_cgroup(pid, path):
    with open(os.path.join(path, "cgroup.procs")) as f:
        return str(pid) in f.read().split()


@unittest.skipIf(WHY is not None, "no cgroup sandbox here: %s" % WHY)
class SandboxTest(EmulatorCase):

    def test_cpu_share_follows_the_memory_size(self):
        self.install("ext")
        with self.emulator({}, memory_mb=256, sandbox=True) as emu:
            emu.invoke({})
            box = emu.env.sandbox
            with open(box.paths["cpu"] + "/cpu.cfs_quota_us") as f:
                quota = int(f.read())
            with open(box.paths["cpu"] + "/cpu.cfs_period_us") as f:
                period = int(f.read())
            # 256 MB of 1,769 MB per vCPU, over the sandbox's period
            self.assertEqual(period, sandbox.CPU_PERIOD_US)
            self.assertEqual(quota, sandbox.CPU_PERIOD_US * 256 // 1769)
            # every process of the environment is in it: the runtime, the extension, children
            for pid in emu.env.live_pids():
                self.assertTrue(in_cgroup(pid, box.paths["cpu"]), pid)
            before = box.cpu_stat()
            emu.invoke({"spin_ms": 300})
            after = box.cpu_stat()
        # a runtime that wants a whole CPU for 300 ms is held to its share
        self.assertGreater(after["nr_throttled"], before["nr_throttled"])

    def test_a_tiny_function_gets_a_longer_period_not_a_refused_quota(self):
        box = sandbox.Sandbox("lw-emu-test-%d" % os.getpid(), 12)
        try:
            self.assertGreaterEqual(box.quota_us, sandbox.MIN_QUOTA_US)
            self.assertEqual(box.quota_us, box.period_us * 12 // 1769)
        finally:
            box.remove()
        self.assertEqual(box.paths, {})

    def test_the_kernel_kills_an_environment_over_its_memory(self):
        self.install("probe-ext")
        with self.emulator({"probe-ext": {"telemetry": {"types": ["platform"]}}}, memory_mb=128,
                           sandbox=True) as emu:
            results = []
            for _ in range(12):
                results.append(emu.invoke({"alloc_mb": 24}))
                if results[-1]["status"] != "success":
                    break
            after = emu.invoke({})
            envs = emu.report()["environments"]
        oom = results[-1]
        self.assertEqual((oom["status"], oom["error_type"]), ("error", "Runtime.OutOfMemory"))
        self.assertGreater(len(results), 1)
        # reset: the next invocation is a cold start in a new environment
        self.assertTrue(after["cold_start"])
        self.assertEqual(after["environment"], oom["environment"] + 1)
        self.assertEqual(envs[0]["shutdown_reason"], "failure")

    def test_the_whole_environment_is_frozen_at_once(self):
        self.install("ext")
        with self.emulator({}, memory_mb=256, sandbox=True, env={"RT_CHILD": "1"}) as emu:
            emu.invoke({})
            box = emu.env.sandbox
            self.assertTrue(box.frozen())
            pids = box.pids()
            # the runtime, its child and the extension: every one of them is in the frozen group
            self.assertGreaterEqual(len(pids), 3)
            self.assertEqual(pids, emu.env.live_pids())
            r = emu.invoke({})
            self.assertEqual(r["status"], "success")
            self.assertTrue(emu.env.sandbox.frozen())
            path = box.paths["freezer"]
        self.assertFalse(os.path.exists(path), "the cgroups are removed with the environment")


if __name__ == "__main__":
    unittest.main()
