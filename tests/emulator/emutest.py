"""Shared scaffolding for the emulator's own tests: a temporary /opt with the fixture extension
installed under chosen names, probe files, and functions to read what the fixtures recorded."""
import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lambda_emulator import Emulator  # noqa: E402

FIXTURES = os.path.join(HERE, "fixtures")
RUNTIME = os.path.join(FIXTURES, "runtime.py")
EXTENSION = os.path.join(FIXTURES, "extension.py")


class EmulatorCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lambda-emulator-test-")
        self.opt = os.path.join(self.tmp, "opt")
        self.probe_dir = os.path.join(self.tmp, "probe")
        os.makedirs(os.path.join(self.opt, "extensions"))
        os.makedirs(self.probe_dir)
        self.log_file = os.path.join(self.tmp, "log")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def install(self, name):
        """Install the fixture extension as OPT/extensions/<name> (its name is the file name)."""
        os.symlink(EXTENSION, os.path.join(self.opt, "extensions", name))

    def emulator(self, config=None, env=None, **kw):
        full_env = {"EXT_CONFIG": json.dumps(config or {}), "EXT_PROBE_DIR": self.probe_dir,
                    "RT_PROBE_FILE": os.path.join(self.probe_dir, "runtime.jsonl")}
        full_env.update(env or {})
        kw.setdefault("memory_mb", 256)
        kw.setdefault("timeout_s", 5.0)
        kw.setdefault("log_file", self.log_file)
        # The emulator's own tests check the APIs and phases, not CPU shares: its Python fixtures
        # run without the cgroup sandbox, which test_sandbox tests on its own.
        kw.setdefault("sandbox", False)
        return Emulator(opt_dir=self.opt, function_cmd=[RUNTIME], env=full_env, **kw)

    def records(self, name):
        path = os.path.join(self.probe_dir, name + ".jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f]

    def kind(self, name, kind):
        return [r for r in self.records(name) if r["kind"] == kind]

    def probes(self, name):
        return {r["what"]: (r["status"], r["body"]) for r in self.kind(name, "probe")}

    def events_received(self, name):
        """Telemetry events the extension received, each with the time its batch arrived."""
        out = []
        for b in self.kind(name, "batch"):
            for e in b["events"]:
                out.append((b["t"], e))
        return out
