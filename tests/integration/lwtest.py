"""Shared scaffolding for the integration tests: the real leakwatch binary installed as
OPT/extensions/leakwatch in a temporary /opt, the sample functions, the local Lambda emulator,
and readers for the lines leakwatch writes to the log stream."""
import json
import os
import shutil
import sys
import tempfile
import unittest

SOURCE_DIR = os.environ.get("LW_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("LW_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
EXTENSION_BIN = os.environ.get("LW_EXTENSION_BIN") or os.path.join(BUILD_DIR, "leakwatch")
# When set, the tests install this packaged layer (unzipped as Lambda unzips it at /opt)
# instead of the bare binary: the same tests then prove the shipped artifact.
LAYER_ZIP = os.environ.get("LW_LAYER_ZIP")
# With a layer of another architecture, qemu cannot follow a foreign execve without binfmt_misc:
# - the static daemon (the default layer) is started by a script that runs it through qemu-user,
#   LW_LAYER_QEMU naming the emulator (layerlib.write_qemu_starter);
# - a launcher layer gets a launcher for this machine that starts the layer's own loader through
#   qemu-user (LW_LAYER_LAUNCHER).
LAYER_QEMU = os.environ.get("LW_LAYER_QEMU")
LAYER_LAUNCHER = os.environ.get("LW_LAYER_LAUNCHER")
# Appended, not prepended: the emulator's folder has test modules of the same names as this
# folder's (test_modes, test_faults), and a test here that imports its sibling must get the sibling.
sys.path.append(os.path.join(SOURCE_DIR, "tests", "emulator"))
sys.path.append(os.path.join(SOURCE_DIR, "layer"))
from lambda_emulator import Emulator  # noqa: E402
import layerlib  # noqa: E402
from layerlib import unpack as unpack_layer  # noqa: E402

# The emulator's cgroup sandbox ("auto": where the machine allows it). The sanitizer runs turn it
# off: an instrumented daemon runs 5-20 times slower, so Lambda's CPU share would test the
# instrumentation's speed, not leakwatch.
SANDBOX = {"off": False, "on": True}.get(os.environ.get("LW_EMULATOR_SANDBOX", ""), "auto")

MIB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")
EMULATOR_FIXTURES = os.path.join(SOURCE_DIR, "tests", "emulator", "fixtures")


def function(name):
    """The command of a sample function (tests/functions)."""
    if name.endswith(".py"):
        return [sys.executable, os.path.join(SOURCE_DIR, "tests", "functions", name)]
    return [os.path.join(BUILD_DIR, "functions", name)]



def json_lines(lines, key):
    """Objects among the log lines that carry key (parsed from each line's first '{')."""
    out = []
    for line in lines:
        i = line.find("{")
        if i < 0 or key not in line:
            continue
        try:
            obj = json.loads(line[i:])
        except ValueError:
            continue
        if isinstance(obj, dict) and key in obj:
            out.append(obj)
    return out


def invocation_records(lines):
    return [r for r in json_lines(lines, "LeakwatchRecord") if r["LeakwatchRecord"] == "invocation"]


def shutdown_records(lines):
    return [r for r in json_lines(lines, "LeakwatchRecord") if r["LeakwatchRecord"] == "shutdown"]


def alerts(lines):
    return json_lines(lines, "LeakwatchAlert")


def process(record, role):
    """The process entries of one role in a record."""
    return [p for p in record.get("Processes", []) if p["Role"] == role]


class LeakwatchCase(unittest.TestCase):
    """Each test gets a fresh /opt with leakwatch installed the way a layer installs it: a real
    file named leakwatch in extensions/ (a symlink would make /proc/self/exe point elsewhere)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="leakwatch-it-")
        self.opt = os.path.join(self.tmp, "opt")
        os.makedirs(os.path.join(self.opt, "extensions"))
        if LAYER_ZIP:
            unpack_layer(LAYER_ZIP, self.opt)
            ext = os.path.join(self.opt, "extensions", "leakwatch")
            if LAYER_QEMU and layerlib.is_static_layout(self.opt):
                daemon = os.path.join(self.tmp, "leakwatch-foreign")
                shutil.move(ext, daemon)
                layerlib.write_qemu_starter(LAYER_QEMU, daemon, os.path.dirname(ext), ext)
            elif LAYER_LAUNCHER:
                shutil.copy2(LAYER_LAUNCHER, ext)
        else:
            shutil.copy2(EXTENSION_BIN, os.path.join(self.opt, "extensions", "leakwatch"))
        self.log_file = os.path.join(self.tmp, "log")

    def tearDown(self):
        if os.environ.get("LW_KEEP_TMP"):
            print("kept", self.tmp)
            return
        shutil.rmtree(self.tmp, ignore_errors=True)

    def add_extension(self, name, path):
        """Another vendor's extension next to leakwatch."""
        os.symlink(path, os.path.join(self.opt, "extensions", name))

    def emulator(self, fn, env=None, memory_mb=256, timeout_s=10.0, **kw):
        kw.setdefault("sandbox", SANDBOX)
        return Emulator(opt_dir=self.opt, function_cmd=function(fn), memory_mb=memory_mb,
                        timeout_s=timeout_s, env=env or {}, log_file=self.log_file, **kw)

    def run_function(self, fn, payloads, env=None, memory_mb=256, **kw):
        """Runs one invocation per payload, then SHUTDOWN; returns (results, report, lines)."""
        with self.emulator(fn, env=env, memory_mb=memory_mb, **kw) as emu:
            results = [emu.invoke(p) for p in payloads]
            emu.shutdown("spindown")
            lines = emu.log_lines
            report = emu.report()
        return results, report, lines

    def leakwatch_log(self, lines):
        return [line for line in lines if line.startswith("[leakwatch]")]
