"""Runtime insight (docs/runtime-insight.md) in the emulator with the real leakwatch: a Node.js
function started as Lambda's managed runtime starts it, through AWS_LAMBDA_EXEC_WRAPPER naming
leakwatch's wrapper. The heap after garbage collections decides leak versus heap sizing, and the
reason names the part that grows; a broken probe leaves the function untouched and leakwatch on
resident memory, said once. Skipped with the reason when node is missing."""
import json
import os
import shutil
import subprocess
import sys
import unittest

from lwtest import MIB, SOURCE_DIR, Emulator, LeakwatchCase, alerts, invocation_records
from layerlib import PROBE_FILES, WRAPPER_PATH  # noqa: E402  (lwtest puts layer/ on the path)

NODEFN = os.path.join(SOURCE_DIR, "tests", "functions", "nodefn.js")
NODE_ENV = "AWS_Lambda_nodejs20.x"


def node_cmd(memory_mb):
    new_space = memory_mb // 10
    return ["node", "--max-semi-space-size=%d" % (new_space // 2),
            "--max-old-space-size=%d" % (memory_mb - new_space), NODEFN]


def need_node():
    if not shutil.which("node"):
        raise unittest.SkipTest("node is not installed (tests/install-deps installs nodejs)")


def leaky(verdict):
    return verdict in ("leak", "leak-critical")


class InsightCase(LeakwatchCase):
    def setUp(self):
        super().setUp()
        need_node()
        self.install_probes()

    def install_probes(self):
        """The layer's runtime-insight files, where the layer puts them (layer/layerlib.py)."""
        for rel, (src, mode) in PROBE_FILES.items():
            dst = os.path.join(self.opt, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(os.path.join(SOURCE_DIR, src), dst)
            os.chmod(dst, mode)
        self.wrapper = os.path.join(self.opt, WRAPPER_PATH)

    def run_node(self, payloads, memory_mb=512, before=None, log_level="info", wrapper=True):
        """Runs nodefn through the wrapper (or without), one invocation per payload, then
        SHUTDOWN. before(emu) runs before the environment starts (the sandbox's /tmp is there)."""
        env = {"LEAKWATCH_LOG_LEVEL": log_level}
        if wrapper:
            env["AWS_LAMBDA_EXEC_WRAPPER"] = self.wrapper
        with Emulator(opt_dir=self.opt, function_cmd=node_cmd(memory_mb), memory_mb=memory_mb,
                      timeout_s=20.0, env=env, log_file=self.log_file,
                      execution_env=NODE_ENV) as emu:
            if before:
                before(emu)
            results = [emu.invoke(p) for p in payloads]
            emu.shutdown("spindown")
            lines = emu.log_lines
        self.assertEqual([r["status"] for r in results], ["success"] * len(payloads))
        return results, lines

    def heap_series(self, records):
        return [(r["Sequence"], r["HeapAfterGcBytes"]) for r in records
                if "HeapAfterGcBytes" in r]

    def trace(self, records):
        for r in [r for r in records if leaky(r.get("Verdict"))][:2] + records[-2:]:
            print("   ", r["Sequence"], r.get("Verdict"), r.get("HeapAfterGcBytes"),
                  r.get("ExternalMemoryBytes"), r.get("FunctionAnonEndBytes"),
                  r.get("VerdictReason"))


class RuntimeInsight(InsightCase):
    def test_garbage_only_is_never_a_leak(self):
        """Garbage only: the collector sizes its heap, the heap after collections is flat."""
        n = 70
        _, lines = self.run_node([{"garbage_bytes": 8 * MIB}] * n)
        records = invocation_records(lines)
        self.trace(records)
        self.assertGreaterEqual(len(records), n - 1)
        heap = self.heap_series(records)
        self.assertGreaterEqual(len(heap), n // 2, "the probe reported")
        tail = [b for _, b in heap[len(heap) // 3:]]
        self.assertLess(max(tail) - min(tail), 4 * MIB, "heap after GC flat")
        self.assertTrue(all(r.get("HeapLimitBytes", 0) > 100 * MIB for r in records
                            if "HeapAfterGcBytes" in r))
        self.assertEqual([r["Sequence"] for r in records if leaky(r.get("Verdict"))], [])
        self.assertEqual([a for a in alerts(lines) if leaky(a.get("To"))], [])

    def test_heap_leak_names_the_v8_heap(self):
        n = 100
        _, lines = self.run_node([{"bytes": MIB, "garbage_bytes": MIB}] * n)
        records = invocation_records(lines)
        self.trace(records)
        heap = self.heap_series(records)
        self.assertGreaterEqual(len(heap), n // 2)
        # the figure changes at major collections only: compare the readings where it changed
        changes = [(s, b) for i, (s, b) in enumerate(heap) if i == 0 or b != heap[i - 1][1]]
        self.assertGreaterEqual(len(changes), 3, changes)
        (s0, b0), (s1, b1) = changes[1], changes[-1]
        self.assertGreater(b1 - b0, (s1 - s0) * MIB * 0.8, "heap after GC grows")
        flagged = [r for r in records if leaky(r.get("Verdict"))]
        self.assertTrue(flagged, [r.get("VerdictReason") for r in records[-5:]])
        self.assertIn("V8 heap grows", flagged[-1]["VerdictReason"])
        self.assertNotIn("external memory", flagged[-1]["VerdictReason"])

    def test_buffer_leak_names_external_memory(self):
        n = 100
        _, lines = self.run_node([{"buffer_bytes": MIB, "garbage_bytes": MIB}] * n)
        records = invocation_records(lines)
        self.trace(records)
        ext = [(r["Sequence"], r["ExternalMemoryBytes"]) for r in records
               if "ExternalMemoryBytes" in r]
        self.assertGreaterEqual(len(ext), n // 2)
        (s0, e0), (s1, e1) = ext[len(ext) // 3], ext[-1]
        self.assertGreater(e1 - e0, (s1 - s0) * MIB * 0.8, "external memory grows")
        flagged = [r for r in records if leaky(r.get("Verdict"))]
        self.assertTrue(flagged, [r.get("VerdictReason") for r in records[-5:]])
        self.assertIn("external memory", flagged[-1]["VerdictReason"])
        self.assertNotIn("V8 heap grows", flagged[-1]["VerdictReason"])

    def test_the_probe_writes_after_full_collections_only(self):
        """The probe learns of full collections from a watched object V8 clears only in full
        collections: scavenges alone never count, a full collection followed by a turn of the
        event loop counts once, and the heap it reports then is what survived."""
        script = r"""
const fs = require('fs'), perf = require('perf_hooks');
const file = `${process.env.LEAKWATCH_PROBE_DIR}/${process.pid}.probe`;
const read = () => Object.fromEntries(fs.readFileSync(file, 'latin1').replace(/\0+$/, '')
    .trim().split('\n').map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));
const seen = { major: 0, minor: 0 };  // V8's own count, to compare with
new perf.PerformanceObserver((list) => {
    for (const e of list.getEntries())
        seen[e.detail.kind === perf.constants.NODE_PERFORMANCE_GC_MAJOR ? 'major' : 'minor']++;
}).observe({ entryTypes: ['gc'] });
const turn = () => new Promise((resolve) => setTimeout(resolve, 2));
(async () => {
    for (let i = 0; i < 150; i++) {  // short-lived garbage: scavenges
        const o = [];
        for (let k = 0; k < 5000; k++) o.push({ k, s: 'x' + k });
        await turn();
    }
    await turn();
    const scavenged = { probe: read(), seen: { ...seen } };
    global.kept = new Array(4 * 1024 * 1024).fill(0.5);  // 32 MiB that survive
    for (let i = 0; i < 3; i++) {
        global.gc();
        await turn();
        await turn();
    }
    process.stdout.write(JSON.stringify({ scavenged, full: { probe: read(), seen } }));
})();
"""
        probe_dir = os.path.join(self.tmp, "probes")
        os.mkdir(probe_dir)
        out = subprocess.run(
            ["node", "--expose-gc", "--require",
             os.path.join(self.opt, "leakwatch", "probe", "node.js"), "-e", script],
            env=dict(os.environ, LEAKWATCH_PROBE_DIR=probe_dir), capture_output=True,
            text=True, timeout=60, check=True)
        got = json.loads(out.stdout)
        before, after = got["scavenged"], got["full"]
        self.assertGreater(before["seen"]["minor"], 10, "the garbage made scavenges")
        self.assertEqual(int(before["probe"]["gc_major"]), before["seen"]["major"],
                         "scavenges are not counted as full collections")
        # each gc() had its turns of the event loop: counted; full collections with no turn
        # between them (V8's own, say, right before a gc()) count once
        majors = int(after["probe"]["gc_major"])
        self.assertGreaterEqual(majors - int(before["probe"]["gc_major"]), 3)
        self.assertLessEqual(majors, after["seen"]["major"])
        self.assertGreater(int(after["probe"]["heap_after_major"]), 32 * MIB)
        self.assertGreater(int(after["probe"]["updates"]), int(before["probe"]["updates"]))

    def check_fallback(self, lines, results_expected, said):
        """The function ran; no heap figures; one log line about the probe; RSS decides."""
        records = invocation_records(lines)
        self.assertGreaterEqual(len(records), results_expected - 1)
        self.assertEqual([r["Sequence"] for r in records if "HeapAfterGcBytes" in r], [])
        probe_lines = [line for line in self.leakwatch_log(lines) if "runtime probe" in line]
        self.assertEqual(len(probe_lines), 1, probe_lines)
        self.assertIn(said, probe_lines[0])
        self.assertIn("resident memory alone", probe_lines[0])

    def test_missing_hook_falls_back_to_rss(self):
        os.remove(os.path.join(self.opt, "leakwatch", "probe", "node.js"))
        n = 12
        results, lines = self.run_node([{"bytes": MIB}] * n)
        self.assertEqual(json.loads(results[-1]["response"])["retained_bytes"], n * MIB)
        self.check_fallback(lines, n, "node.js probe missing")

    def test_unwritable_probe_folder_falls_back_to_rss(self):
        def block(emu):
            # where the probes' folder would be: a file, so that nothing can be made there
            with open(os.path.join(emu.tmp_dir, "leakwatch-probes"), "w") as f:
                f.write("not a folder\n")
        n = 12
        results, lines = self.run_node([{"bytes": MIB}] * n, before=block)
        self.assertEqual(json.loads(results[-1]["response"])["retained_bytes"], n * MIB)
        self.check_fallback(lines, n, "cannot write")

    def test_without_the_wrapper_says_what_it_would_give(self):
        """Node.js has no figures of its own without the wrapper: said once, at info level, with
        the setting that gives them; nothing is said when the wrapper runs."""
        for wrapper, want in ((False, 1), (True, 0)):
            _, lines = self.run_node([{"bytes": MIB}] * 3, wrapper=wrapper)
            said = [line for line in lines if "without leakwatch's wrapper" in line]
            self.assertEqual(len(said), want, said)
            if want:
                self.assertIn("AWS_LAMBDA_EXEC_WRAPPER=/opt/leakwatch/wrapper", said[0])
                self.assertIn("INFO", said[0])

    def test_probe_that_never_reports_falls_back_to_rss(self):
        """The hook loads but the probe cannot write its file (a read-only folder made by
        someone else): the wrapper sets it up, no report comes, leakwatch says so once."""
        with open(os.path.join(self.opt, "leakwatch", "probe", "node.js"), "w") as f:
            f.write("'use strict';\n// a probe that reports nothing\n")
        n = 12
        results, lines = self.run_node([{"bytes": MIB}] * n)
        self.assertEqual(json.loads(results[-1]["response"])["retained_bytes"], n * MIB)
        self.check_fallback(lines, n, "no report")


if __name__ == "__main__":
    unittest.main()


JAVA_CLASSES = os.path.join(os.environ.get("LW_BUILD_DIR", ""), "functions", "java")


def need_java():
    if not shutil.which("java") or not os.path.exists(os.path.join(JAVA_CLASSES, "JavaFn.class")):
        raise unittest.SkipTest("java or JavaFn.class missing")


# Lambda's Java runtimes give the heap 85% of the memory size: with the rest of the JVM that
# does not fit 512 MB, so a heap leak is judged over one window. -Xmx400m fits, and heap sizing
# is what it shows (a leak inside it is judged over four: docs/runtime-insight.md).
LAMBDA_HEAP_512 = "-XX:MaxHeapSize=445644k"


def run_java(case, payloads, env, heap="-Xmx400m", flags=("-XX:+UseSerialGC",), memory_mb=512):
    """JavaFn, one invocation per payload, then SHUTDOWN: the log lines."""
    cmd = ["java", heap, "-XX:MaxRAM=%dm" % memory_mb] + list(flags) + [
        "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", JAVA_CLASSES, "JavaFn"]
    with Emulator(opt_dir=case.opt, function_cmd=cmd, memory_mb=memory_mb, timeout_s=20.0,
                  env=env, log_file=case.log_file, execution_env="AWS_Lambda_java21") as emu:
        results = [emu.invoke(p) for p in payloads]
        emu.shutdown("spindown")
        lines = emu.log_lines
    case.assertEqual([r["status"] for r in results], ["success"] * len(payloads))
    return lines


class JvmInsight(InsightCase):
    def setUp(self):
        super().setUp()
        need_java()

    def run_java(self, payloads, heap="-Xmx400m"):
        env = {"AWS_LAMBDA_EXEC_WRAPPER": self.wrapper, "LEAKWATCH_LOG_LEVEL": "info"}
        return run_java(self, payloads, env, heap)

    def test_jvm_leak_names_the_jvm_heap(self):
        n = 100
        lines = self.run_java([{"bytes": MIB, "garbage_bytes": MIB}] * n, LAMBDA_HEAP_512)
        records = invocation_records(lines)
        self.trace(records)
        heap = self.heap_series(records)
        changes = [(s, b) for i, (s, b) in enumerate(heap) if i == 0 or b != heap[i - 1][1]]
        self.assertGreaterEqual(len(changes), 3, changes)
        (s0, b0), (s1, b1) = changes[1], changes[-1]
        self.assertGreater(b1 - b0, (s1 - s0) * MIB * 0.8, "heap after full GC grows")
        # the ceiling from the GC log's header, to the MiB: 445644 KiB as HotSpot aligned it,
        # less the largest survivor space a young collection has shown yet (Serial keeps one
        # empty): it only comes down as the young generation grows, to at most a thirtieth of
        # the heap below (a tenth of the young generation, a third of the heap)
        limits = [r["HeapLimitBytes"] for r in records if "HeapLimitBytes" in r]
        self.assertTrue(limits)
        self.assertEqual(limits, sorted(limits, reverse=True))
        self.assertLess(limits[-1], 436 * MIB)
        self.assertGreaterEqual(limits[-1], 436 * MIB * (1 - 1 / 30))
        flagged = [r for r in records if leaky(r.get("Verdict"))]
        self.assertTrue(flagged, [r.get("VerdictReason") for r in records[-5:]])
        self.assertIn("JVM heap grows", flagged[-1]["VerdictReason"])

    def test_jvm_heap_sizing_is_not_a_leak(self):
        """Short-lived garbage only: the JVM grows its heap toward -Xmx400m as it likes; the
        heap after collections stays flat. (Garbage kept for 40 invocations is another story:
        the retained heap then really grows for 40 invocations, and is flagged until it stops:
        docs/runtime-insight.md.)"""
        n = 120
        lines = self.run_java([{"garbage_bytes": 8 * MIB, "delay_ms": 5}] * n)
        records = invocation_records(lines)
        self.trace(records)
        self.assertGreaterEqual(len(records), n - 1)
        self.assertTrue(self.heap_series(records), "the GC log was read")
        self.assertEqual([r["Sequence"] for r in records if leaky(r.get("Verdict"))], [])
        self.assertEqual([a for a in alerts(lines) if leaky(a.get("To"))], [])


class JvmPerfData(InsightCase):
    """No wrapper: the JVM's own performance-data file (/tmp/hsperfdata_<user>/<pid>, on by
    default) gives the heap's figures, found through the JVM's mapping of it."""

    def setUp(self):
        super().setUp()
        need_java()

    def run_plain_java(self, payloads, heap="-Xmx400m", flags=("-XX:+UseSerialGC",)):
        return run_java(self, payloads, {"LEAKWATCH_LOG_LEVEL": "info"}, heap, flags)

    def test_jvm_leak_from_its_performance_data(self):
        n = 100
        lines = self.run_plain_java([{"bytes": MIB, "garbage_bytes": MIB}] * n, LAMBDA_HEAP_512)
        records = invocation_records(lines)
        self.trace(records)
        self.assertTrue(any("from its performance data" in line for line in lines))
        heap = self.heap_series(records)
        changes = [(s, b) for i, (s, b) in enumerate(heap) if i == 0 or b != heap[i - 1][1]]
        self.assertGreaterEqual(len(changes), 3, changes)
        (s0, b0), (s1, b1) = changes[1], changes[-1]
        self.assertGreater(b1 - b0, (s1 - s0) * MIB * 0.8, "heap after collections grows")
        # both generations' maximum capacity, 445644 KiB as HotSpot aligned them, less the
        # survivor space Serial keeps empty: a tenth of the young generation (SurvivorRatio 8),
        # which is a third of the heap (NewRatio 2)
        limits = {r["HeapLimitBytes"] for r in records if "HeapLimitBytes" in r}
        self.assertEqual(len(limits), 1, limits)
        self.assertAlmostEqual(limits.pop() / (445644 * 1024), 1 - 1 / 30, delta=0.005)
        self.assertEqual({r.get("ProbeReportsRejected", 0) for r in records}, {0})
        flagged = [r for r in records if leaky(r.get("Verdict"))]
        self.assertTrue(flagged, [r.get("VerdictReason") for r in records[-5:]])
        self.assertIn("JVM heap grows", flagged[-1]["VerdictReason"])

    def test_jvm_without_performance_data_falls_back_to_rss(self):
        lines = self.run_plain_java([{"bytes": MIB}] * 12,
                                    flags=("-XX:+UseSerialGC", "-XX:-UsePerfData"))
        records = invocation_records(lines)
        self.assertEqual(self.heap_series(records), [])
        said = [line for line in lines if "keeps no performance data" in line]
        self.assertEqual(len(said), 1, said)

    def test_g1_is_not_read(self):
        """G1 lays its figures out otherwise (each generation may take the whole heap): refused,
        said once, counted, and the records go on from resident memory."""
        lines = self.run_plain_java([{"bytes": MIB}] * 12, flags=("-XX:+UseG1GC",))
        records = invocation_records(lines)
        self.assertEqual(self.heap_series(records), [])
        said = [line for line in lines if "Serial or Parallel" in line]
        self.assertEqual(len(said), 1, said)
        self.assertGreaterEqual(max(r.get("ProbeReportsRejected", 0) for r in records), 1)


PYLEAK = os.path.join(SOURCE_DIR, "tests", "functions", "pyleak.py")


def pyleak_blob_line():
    """The line of pyleak.py that allocates the leaked blob: what tracemalloc must name."""
    with open(PYLEAK) as f:
        for number, line in enumerate(f, 1):
            if '"blob": fill * k["bytes"]' in line:
                return number
    raise AssertionError("pyleak.py has no blob line")


class PythonInsight(InsightCase):
    def setUp(self):
        LeakwatchCase.setUp(self)  # no node needed
        self.install_probes()

    def test_tracemalloc_names_the_leaking_line_in_the_alert(self):
        """A Python leak with LEAKWATCH_PYTHON_TRACEMALLOC=1: leakwatch asks the probe for
        snapshots (a baseline at the 8th invocation, then at every power of two) and the alert
        of the leak names the file:line that allocates what is kept."""
        n = 100
        env = {"AWS_LAMBDA_EXEC_WRAPPER": self.wrapper, "LEAKWATCH_LOG_LEVEL": "info",
               "LEAKWATCH_PYTHON_TRACEMALLOC": "1"}
        with Emulator(opt_dir=self.opt, function_cmd=[sys.executable, PYLEAK], memory_mb=1024,
                      timeout_s=20.0, env=env, log_file=self.log_file,
                      execution_env="AWS_Lambda_python3.11") as emu:
            results = [emu.invoke({"bytes": 2 * MIB, "objects": 100})
                       for _ in range(n)]
            emu.shutdown("spindown")
            lines = emu.log_lines
        self.assertEqual([r["status"] for r in results], ["success"] * n)
        records = invocation_records(lines)
        self.trace(records)
        want = "pyleak.py:%d" % pyleak_blob_line()
        with_sites = [r for r in records if r.get("AllocationSites")]
        self.assertTrue(with_sites, "no record carries allocation sites")
        # the probe answers the request of the 16th boundary (its 8th was the baseline)
        self.assertGreater(with_sites[0]["Sequence"], 16)
        top = with_sites[-1]["AllocationSites"][0]
        self.assertTrue(top["Site"].endswith(want), (top, want))
        self.assertGreater(top["GrowthBytes"], 16 * MIB)
        into_leak = [a for a in alerts(lines) if leaky(a.get("To"))]
        self.assertEqual(len(into_leak), 1, (into_leak, [(r["Sequence"], r.get("Verdict"),
                                                         r.get("VerdictReason"))
                                                        for r in records[28:90:4]]))
        sites = into_leak[0].get("AllocationSites")
        self.assertTrue(sites, into_leak[0])
        self.assertTrue(sites[0]["Site"].endswith(want), (sites, want))

    def test_a_forked_worker_reports_in_its_own_file(self):
        """A worker forked by the runtime (multiprocessing's fork, a process per request on
        Managed Instances) gets its own probe file at its first collection, named by its pid and
        saying so, and leaves the parent's alone."""
        probe_dir = os.path.join(self.opt, "probe-out")
        os.mkdir(probe_dir)
        script = ("import gc, os, sys\n"
                  "gc.collect()\n"
                  "pid = os.fork()\n"
                  "if pid == 0:\n"
                  "    gc.collect()\n"
                  "    os._exit(0)\n"
                  "os.waitpid(pid, 0)\n"
                  "print(pid)\n")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(LEAKWATCH_PROBE_DIR=probe_dir,
                   PYTHONPATH=os.path.dirname(os.path.join(
                       self.opt, "leakwatch/probe/python/sitecustomize.py")))
        out = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                             capture_output=True, text=True)
        child = int(out.stdout.split()[-1])
        files = sorted(os.listdir(probe_dir))
        self.assertEqual(len(files), 2, files)
        self.assertIn("%d.probe" % child, files)
        for name in files:
            with open(os.path.join(probe_dir, name), "rb") as f:
                text = f.read().rstrip(b"\0").decode()
            self.assertIn("\npid %s\n" % name.split(".")[0], text)
            self.assertIn("\nruntime python\n", text)
