"""One whole emulator session of the real daemon under valgrind memcheck: register, telemetry
subscription, a few dozen invocations of the leak function with OTLP export to the test receiver,
freezes long enough for the exporter's timers to fire across them, and SHUTDOWN. Valgrind must
find no memory error and no definite or indirect leak, and the daemon must end inside the
SHUTDOWN deadline with its own status.

leakwatch ends with _exit (threads may be blocked on a frozen peer), so at exit its objects are
still reachable from its globals and thread stacks: "still reachable" is expected, and anything
"definitely" or "indirectly lost" is a pointer leakwatch dropped during the session."""
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import lwtest  # noqa: E402
from lwtest import LeakwatchCase, invocation_records, shutdown_records  # noqa: E402

sys.path.insert(0, os.path.join(lwtest.SOURCE_DIR, "tests", "otlp"))
from otlp_receiver import OtlpReceiver  # noqa: E402

VALGRIND = shutil.which("valgrind")
ERROR_EXIT = 97  # valgrind's status when it found an error or a definite/indirect leak
INVOCATIONS = 36
# After these invocations the test waits with the environment frozen, longer than the exporter's
# batch interval, so its timers are due the moment the environment thaws.
LONG_FREEZES_AFTER = (12, 24)
FREEZE_S = 1.5
# Descriptors open at exit: the standard three, the listener, the HTTP connections, the /proc
# files of the processes it watches. A descriptor lost per invocation or per export would exceed
# this after INVOCATIONS invocations.
MAX_OPEN_FDS_AT_EXIT = 24


class MemcheckTest(LeakwatchCase):

    def setUp(self):
        if VALGRIND is None:
            self.fail("valgrind is not installed (tests/install-deps installs it)")
        super().setUp()
        self.vg_logs = os.path.join(self.tmp, "memcheck")
        os.makedirs(self.vg_logs)
        # The daemon under valgrind replaces the installed copy: a launcher that execs valgrind
        # in the process the emulator started, with the real binary from the build.
        subprocess.run(
            ["sh", os.path.join(HERE, "make-launcher"),
             os.path.join(self.opt, "extensions", "leakwatch"), "--",
             VALGRIND, "--tool=memcheck", "--leak-check=full",
             "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite,indirect",
             "--error-exitcode=%d" % ERROR_EXIT, "--track-fds=yes", "--num-callers=30",
             "--log-file=" + os.path.join(self.vg_logs, "memcheck.%p.log"),
             os.path.abspath(lwtest.EXTENSION_BIN)],
            check=True)

    def test_a_whole_session_has_no_errors_and_no_leaks(self):
        with OtlpReceiver(mode="ok") as rx:
            env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rx.base_url, "LEAKWATCH_EXPORT": "both"}
            # Valgrind runs the daemon some 20-50 times slower: a longer function timeout keeps
            # a slow boundary reading from turning an invocation into a timeout.
            with self.emulator("leak", env=env, timeout_s=30.0) as emu:
                results = []
                for i in range(INVOCATIONS):
                    if i in LONG_FREEZES_AFTER:
                        time.sleep(FREEZE_S)
                    results.append(emu.invoke({"bytes": 65536}))
                emu.shutdown("spindown")
                lines = emu.log_lines
                report = emu.report()
            accepted = rx.accepted()

        # The session did what it is meant to exercise.
        self.assertEqual([r["status"] for r in results], ["success"] * INVOCATIONS)
        recs = invocation_records(lines)
        self.assertEqual([r["RequestId"] for r in recs], [r["request_id"] for r in results])
        self.assertTrue(any("DurationMilliseconds" in r for r in recs),
                        "no record was joined with its platform report")
        self.assertEqual(len(shutdown_records(lines)), 1)
        self.assertTrue(accepted, "the receiver accepted no OTLP request")

        ext = report["extensions"]["leakwatch"]["shutdown"]
        logs = [os.path.join(self.vg_logs, f) for f in sorted(os.listdir(self.vg_logs))]
        self.assertEqual(len(logs), 1, logs)  # the daemon runs no other program
        with open(logs[0]) as f:
            log = f.read()
        summary = log[log.find("HEAP SUMMARY"):]
        self.assertFalse(ext["killed"], "killed at the SHUTDOWN deadline:\n" + summary)
        self.assertTrue(ext["in_time"], ext)
        self.assertEqual(ext["exit_code"], 0, "valgrind exit status\n" + summary)

        # The log says the same as the status, in the words valgrind uses.
        self.assertRegex(log, r"ERROR SUMMARY: 0 errors from 0 contexts", summary)
        m = re.search(r"definitely lost: ([\d,]+) bytes in ([\d,]+) blocks", log)
        if m is None:  # nothing allocated is left at all
            self.assertIn("All heap blocks were freed -- no leaks are possible", log)
        else:
            self.assertEqual(m.group(1), "0", summary)
            m = re.search(r"indirectly lost: ([\d,]+) bytes", log)
            self.assertIsNotNone(m, summary)
            self.assertEqual(m.group(1), "0", summary)
        m = re.search(r"FILE DESCRIPTORS: (\d+) open", log)
        self.assertIsNotNone(m, "valgrind wrote no descriptor summary")
        self.assertLessEqual(int(m.group(1)), MAX_OPEN_FDS_AT_EXIT, summary)


if __name__ == "__main__":
    unittest.main()
