"""Who is who in the sandbox: every common shape of extension is classified as an extension and
named by its file, whatever its command line looks like; the runtime is the function whether it
starts helper children or execs; and a total is reported only from a complete reading (a partly
gone function gives no invented drop, and the record says it is incomplete)."""
import json
import os
import shutil
import tempfile
import unittest

import lwtest
import shapes
from lwtest import MIB, LeakwatchCase, invocation_records, json_lines, process, shutdown_records

FUNCTION_ROLES = ("runtime", "runtime-child")


def by_extension(record, name):
    """The processes reported under extension name: its own and its children's."""
    return [p for p in process(record, "extension")
            if p["Name"] == name or p["Name"].startswith(name + "/")]


def incomplete_count(lines):
    """RecordsIncomplete over every line that carries it (each line has the increase)."""
    return sum(obj.get("RecordsIncomplete", 0) for obj in json_lines(lines, "LeakwatchRecord"))


class ClassificationCase(LeakwatchCase):

    def setUp(self):
        super().setUp()
        self.agent = shapes.compile_agent(self.tmp)
        if self.agent is None:
            self.skipTest("no C compiler for the binary extension shapes")
        self.probe = os.path.join(self.tmp, "probe")
        os.makedirs(self.probe)

    def install(self, names):
        env = shapes.install(self.opt, self.agent, names)
        env["EXT_PROBE_DIR"] = self.probe
        return env

    def check_function_and_extensions(self, rec, names):
        """Each shape's memory is under its own name; the function's total is the runtime and
        its children only; nothing is left unplaced."""
        self.assertEqual(process(rec, "unknown"), [])
        self.assertEqual(len(process(rec, "runtime")), 1, rec["Processes"])
        for name in names:
            mine = by_extension(rec, name)
            self.assertTrue(mine, f"{name} not reported as an extension: {rec['Processes']}")
            held = sum(p["AnonEndBytes"] for p in mine)
            self.assertGreaterEqual(held, shapes.HOLD_BYTES[name], name)
        fn = [p for p in rec["Processes"] if p["Role"] in FUNCTION_ROLES]
        self.assertEqual(rec["FunctionRssEndBytes"], sum(p["RssEndBytes"] for p in fn))
        self.assertEqual(rec["FunctionAnonEndBytes"], sum(p["AnonEndBytes"] for p in fn))
        # the smallest shape holds more than the whole function does here
        self.assertLess(rec["FunctionAnonEndBytes"], min(shapes.HOLD_BYTES.values()))
        ext = process(rec, "extension")
        self.assertEqual(rec["ExtensionsRssBytes"], sum(p["RssEndBytes"] for p in ext))
        self.assertEqual(rec["EnvironmentRssBytes"], sum(p["RssEndBytes"] for p in rec["Processes"]))


class ExtensionShapesTest(ClassificationCase):

    def test_every_shape_is_an_extension_named_by_its_file(self):
        names = [n for n in shapes.SHAPES if n != "node-ext" or shapes.have_node()]
        env = self.install(names)
        with self.emulator("leak", env=env, memory_mb=1024) as emu:
            for _ in range(3):
                self.assertEqual(emu.invoke({"bytes": 4096})["status"], "success")
            runtime_pid = emu.env.runtime.pid
            emu.shutdown("spindown")
            lines = emu.log_lines
        recs = invocation_records(lines)
        self.assertEqual(len(recs), 3)
        for rec in recs[:2]:
            self.assertNotIn("Incomplete", rec)
            self.check_function_and_extensions(rec, names)
            self.assertEqual(process(rec, "runtime")[0]["Pid"], runtime_pid)
        # exactly one entry under each file's own name: the process started from it
        rec = recs[1]
        for name in names:
            self.assertEqual(len([p for p in by_extension(rec, name) if p["Name"] == name]), 1)
        # the script that runs its program as a child: both are that extension
        self.assertEqual({p["Name"] for p in by_extension(rec, "sh-ext")},
                         {"sh-ext", "sh-ext/agent"})

    @unittest.skipUnless(shapes.have_node(), "node is not installed")
    def test_an_interpreter_given_options_through_env_dash_s(self):
        env = self.install(["node-ext"])
        results, report, lines = self.run_function("leak", [{"bytes": 4096}] * 3, env=env,
                                                   memory_mb=512)
        self.check_function_and_extensions(invocation_records(lines)[1], ["node-ext"])

    def test_a_vendor_program_exec_ed_by_a_script_started_before_leakwatch(self):
        # a-vendor starts before leakwatch (lexical order): it cannot be the runtime, which
        # starts only once every extension has registered; the folder's one unclaimed file
        # names it
        env = self.install(["a-vendor", "pyu-ext"])
        results, report, lines = self.run_function("leak", [{"bytes": 4096}] * 3, env=env,
                                                   memory_mb=512)
        rec = invocation_records(lines)[1]
        self.check_function_and_extensions(rec, ["a-vendor", "pyu-ext"])
        self.assertEqual([p["Name"] for p in by_extension(rec, "a-vendor")], ["a-vendor"])

    def test_two_exec_ed_programs_are_extensions_named_by_their_process(self):
        # two vendor programs and two unclaimed files: both are extensions for certain (one
        # started before leakwatch, one before the runtime), but which file is whose cannot be
        # told, so neither is given a file's name
        env = self.install(["a-vendor", "vendor-ext"])
        results, report, lines = self.run_function("leak", [{"bytes": 4096}] * 3, env=env,
                                                   memory_mb=512)
        rec = invocation_records(lines)[1]
        self.assertEqual(process(rec, "unknown"), [])
        self.assertEqual(len(process(rec, "runtime")), 1)
        agents = [p for p in process(rec, "extension") if p["Name"] == "agent"]
        self.assertEqual(len(agents), 2, rec["Processes"])
        self.assertGreaterEqual(sum(p["AnonEndBytes"] for p in agents),
                                shapes.HOLD_BYTES["a-vendor"] + shapes.HOLD_BYTES["vendor-ext"])


class RuntimeShapesTest(ClassificationCase):

    def test_a_runtime_with_a_helper_child_and_one_that_execs(self):
        # the bootstrap is a shell script that execs the runtime program, which starts a helper
        # child and, in the third invocation, execs itself again (same pid, fresh image)
        bootstrap = os.path.join(self.tmp, "bootstrap")
        with open(bootstrap, "w") as f:
            f.write(f'#!/bin/sh\nexec "{lwtest.function("leak")[0]}" "$@"\n')
        os.chmod(bootstrap, 0o755)
        env = self.install(["pyu-ext", "vendor-ext"])
        # delay_ms: the handler's work (starting and ending children included) begins 100 ms
        # into the invocation, clear of the boundary reading of the invocation before
        payloads = [{"bytes": 4096, "children": 1, "child_bytes": 3 * MIB, "delay_ms": 100}] * 2 + \
            [{"bytes": 4096, "exec": 1, "delay_ms": 100}] + [{"bytes": 4096, "delay_ms": 100}] * 2
        with lwtest.Emulator(opt_dir=self.opt, function_cmd=[bootstrap], memory_mb=512,
                             timeout_s=10.0, env=env, log_file=self.log_file) as emu:
            for p in payloads:
                self.assertEqual(emu.invoke(p)["status"], "success")
            runtime_pid = emu.env.runtime.pid
            emu.shutdown("spindown")
            lines = emu.log_lines
        recs = invocation_records(lines)
        self.assertEqual(len(recs), len(payloads))
        for rec in recs[:-1]:
            runtime = process(rec, "runtime")
            self.assertEqual([p["Pid"] for p in runtime], [runtime_pid], rec["Processes"])
            self.assertEqual(process(rec, "unknown"), [])
            self.assertEqual([p["Name"] for p in by_extension(rec, "vendor-ext")], ["vendor-ext"])
        helper = process(recs[1], "runtime-child")
        self.assertEqual(len(helper), 1, recs[1]["Processes"])
        self.assertGreaterEqual(helper[0]["AnonEndBytes"], 3 * MIB)
        self.check_function_and_extensions(recs[1], ["pyu-ext", "vendor-ext"])
        # after the exec (invocation 3 ended its helper: see the partial-reading test), the
        # same pid is still the runtime, with a complete record again
        self.check_function_and_extensions(recs[3], ["pyu-ext", "vendor-ext"])
        self.assertNotIn("Incomplete", recs[3])


class PartialReadingTest(ClassificationCase):

    def test_a_partly_gone_function_at_shutdown_invents_no_drop(self):
        # As filed: a Python extension run by "/usr/bin/python3 -u" next to a runtime with a
        # helper child. At SHUTDOWN the runtime has died of SIGTERM while the helper, still
        # finishing its work (child_linger_ms), is alive and read: what is left is not the
        # function's total, and the record says its end reading is missing. The helper lingers
        # 1.5 s after its parent died, far past leakwatch's last reading (taken as SHUTDOWN
        # arrives, 300 ms at most after the SIGTERM); the emulator kills it with the sandbox.
        env = self.install(["pyu-ext"])
        # The extension stays a second after SHUTDOWN, as one flushing its data would, so that
        # it is there for leakwatch's last reading: exiting at once, it was gone before that
        # reading under a loaded machine's scheduling, and the record rightly said so.
        config = json.loads(env["EXT_CONFIG"])
        config["pyu-ext"]["exit_delay_ms"] = 1000
        env["EXT_CONFIG"] = json.dumps(config)
        # delay_ms: the handler starts 100 ms into the invocation, as a real runtime does after
        # dispatching, so its allocation is not in the boundary reading itself
        payloads = [{"bytes": MIB, "children": 1, "child_bytes": 2 * MIB, "delay_ms": 100,
                     "child_linger_ms": 1500}] * 4
        results, report, lines = self.run_function("leak", payloads, env=env, memory_mb=512)
        recs = invocation_records(lines)
        self.assertEqual(len(recs), 4)
        helper_pid = process(recs[0], "runtime-child")[0]["Pid"]
        last = recs[-1]
        self.assertEqual(last["Incomplete"], ["end-reading"])
        for metric in ("FunctionGrowthBytes", "FunctionRssEndBytes", "FunctionAnonEndBytes",
                       "FunctionRssPeakBytes", "EnvironmentRssBytes", "HeadroomBytes"):
            self.assertNotIn(metric, last)
        self.assertIn("FunctionRssStartBytes", last)
        # the runtime is listed without an end reading, the helper that outlived it with one:
        # the survivor's memory is in the list, not passed off as the function's total
        runtime = process(last, "runtime")
        self.assertEqual(len(runtime), 1, last["Processes"])
        self.assertNotIn("RssEndBytes", runtime[0])
        helper = process(last, "runtime-child")
        self.assertEqual([p["Pid"] for p in helper], [helper_pid], last["Processes"])
        self.assertGreaterEqual(helper[0]["AnonEndBytes"], 2 * MIB)
        # the per-process list stands: the extension read at the end, under its own name
        self.assertTrue(any("RssEndBytes" in p for p in by_extension(last, "pyu-ext")))
        # the complete records before it: the leaked MiB, never a drop
        for rec in recs[1:3]:
            self.assertNotIn("Incomplete", rec)
            self.assertGreater(rec["FunctionGrowthBytes"], 0)
        self.assertEqual(incomplete_count(lines), 1)

    def test_a_process_that_ends_during_an_invocation_leaves_the_totals_out(self):
        # two helper children live after invocation 1; invocation 2 ends them: the function's
        # processes of the start were not all read at the end, so its total (and the
        # environment's) is left out, with the reason; each process keeps its own figures
        env = self.install(["pyu-ext"])
        payloads = [{"bytes": 4096, "children": 2, "child_bytes": 4 * MIB, "delay_ms": 100},
                    {"bytes": 4096, "children": 0, "delay_ms": 100},
                    {"bytes": 4096, "delay_ms": 100}, {"bytes": 4096, "delay_ms": 100}]
        results, report, lines = self.run_function("leak", payloads, env=env, memory_mb=512)
        recs = invocation_records(lines)
        self.assertEqual(len(recs), 4)
        self.assertNotIn("Incomplete", recs[0])
        ended = recs[1]
        self.assertEqual(ended["Incomplete"], ["partial-end-reading"])
        for metric in ("FunctionGrowthBytes", "FunctionRssEndBytes", "FunctionRssPeakBytes",
                       "EnvironmentRssBytes", "HeadroomBytes", "MemoryUtilizationPercent"):
            self.assertNotIn(metric, ended)
        self.assertIn("FunctionRssStartBytes", ended)
        self.assertIn("ExtensionsRssBytes", ended)  # every extension process was read
        children = process(ended, "runtime-child")
        self.assertEqual(len(children), 2)
        for c in children:
            self.assertGreaterEqual(c["AnonStartBytes"], 4 * MIB)
            self.assertNotIn("RssEndBytes", c)
        runtime = process(ended, "runtime")[0]
        self.assertIn("RssEndBytes", runtime)
        # the next invocation starts from what is there: complete again
        self.assertNotIn("Incomplete", recs[2])
        self.assertIn("FunctionGrowthBytes", recs[2])
        # RecordsIncomplete counts every incomplete record, whatever it lacks
        self.assertEqual(incomplete_count(lines),
                         sum(1 for r in recs if "Incomplete" in r))
        self.assertEqual(shutdown_records(lines)[0]["ShutdownReason"], "spindown")


if __name__ == "__main__":
    unittest.main()
