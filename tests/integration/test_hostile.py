"""Hostile neighbours, each a test: the real leakwatch in the emulator next to code that tries to
forge or silence its figures, as a function running attacker-controlled input or another
vendor's extension can (tests/functions/hostile.py, as the function or as an extension).

What leakwatch must hold to in every case: the function is unaffected, every record carries
Lambda's own figures exactly (never a forged one), nothing real is pushed out, SHUTDOWN keeps
its deadline, the listener cannot be reached from anywhere but the sandbox's address, and no
secret appears in a log line.

| attack (docs/security.md)                          | test                                        |
| -------------------------------------------------- | ------------------------------------------- |
| forged platform.report / runtimeDone, own id       | test_forged_reports_change_no_figure        |
| the same, from another extension                   | test_an_extension_forging_reports           |
| forged platform.start, own and made-up ids         | test_forged_starts_change_no_figure         |
| forged platform.logsDropped                        | test_forged_logs_dropped_change_no_counter  |
| forged platform.initReport                         | test_a_forged_init_report_changes_no_figure |
| a flood of made-up request ids                     | test_a_flood_of_made_up_ids_evicts_nothing  |
| a pipeliner that never reads                       | test_a_stalling_pipeliner_costs_nothing     |
| the listener reachable from other addresses        | test_the_listener_is_reachable_only_on_the_sandbox_address, ListenerAddressTest |
| a guessable subscription path                      | test_the_subscription_path_is_unguessable   |
| OTLP credentials in the log                        | test_otlp_secrets_never_reach_a_log_line    |

The tests above never get past the secret path: every forged POST is a 404. KnownPathTest gives
the hostile function the real subscription URI (as code that can read leakwatch's memory, or a
SnapStart environment that shares the path, would have it), so that what stands behind the path
is tried end to end: the ledger's plausibility filter (TelemetryEventsRejected) and the
listener's back-pressure on a connection that proved itself.

| attack, on the real path                           | test                                        |
| -------------------------------------------------- | ------------------------------------------- |
| forged platform.report / runtimeDone, real ids     | test_forged_reports_for_real_ids_change_no_figure |
| forged reports for made-up ids                     | test_reports_for_made_up_ids_change_no_figure |
| forged platform.logsDropped                        | test_a_forged_logs_dropped_is_refused       |
| forged platform.initReport                         | test_a_forged_init_report_is_refused        |
| a flood of made-up request ids                     | test_a_flood_of_made_up_ids_evicts_nothing_real |
| a pipeliner that never reads                       | test_a_stalling_pipeliner_that_knows_the_path_costs_nothing |
"""
import json
import os
import re
import socket
import sys
import unittest
import urllib.parse

import lwtest
from lwtest import LeakwatchCase, invocation_records, shutdown_records

# lwtest puts tests/emulator first on the path, which has a test_faults of its own
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_faults import can_unshare, health_total  # noqa: E402

HOSTILE = os.path.join(lwtest.SOURCE_DIR, "tests", "functions", "hostile.py")


def listener_port(report):
    """leakwatch's listener port, from the URI it subscribed."""
    uris = report["subscribed_uris"]
    return urllib.parse.urlsplit(uris[0]).port


def other_local_addresses():
    """Addresses of this machine other than 127.0.0.1 that a peer could connect to."""
    addrs = ["127.0.0.2"]
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: only the route is looked up
        addrs.append(probe.getsockname()[0])
    except OSError:
        pass
    finally:
        probe.close()
    return [a for a in addrs if a != "127.0.0.1"]


def hold_port(addrs):
    """A port bound (not listening) on every one of addrs, and the sockets that hold it: a
    connection there is refused, and no other test's leakwatch can take that port on them."""
    for _ in range(50):
        socks = []
        try:
            for addr in addrs:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind((addr, socks[0].getsockname()[1] if len(socks) > 1 else 0))
            return socks[0].getsockname()[1], socks
        except OSError:
            for s in socks:
                s.close()
    raise RuntimeError("no port free on every one of " + ", ".join(addrs))


def refused(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect((addr, port))
        return False
    except ConnectionRefusedError:
        return True
    finally:
        s.close()


class HostileCase(LeakwatchCase):

    def assert_lambdas_figures(self, lines, results):
        """One record per invocation, each with the platform's own figures, none forged."""
        recs = invocation_records(lines)
        self.assertEqual([r["RequestId"] for r in recs], [r["request_id"] for r in results])
        for rec, res in zip(recs, results):
            self.assertNotIn("telemetry", rec.get("Incomplete", []), rec)
            self.assertEqual(rec["Status"], res["status"], rec)
            self.assertNotIn("ErrorType", rec)
            self.assertAlmostEqual(rec["DurationMilliseconds"], res["duration_ms"], places=2)
            self.assertEqual(rec["BilledDurationMilliseconds"], res["billed_duration_ms"])
            self.assertEqual(rec["LambdaMaxMemoryUsedMegabytes"], res["max_memory_used_mb"])
            self.assertAlmostEqual(rec["RuntimeDurationMilliseconds"], res["runtime_duration_ms"],
                                   places=2)
        return recs

    def attacked(self, results, report, attack):
        """Each invocation found leakwatch's port and the attack reached it."""
        port = listener_port(report)
        for res in results:
            answer = json.loads(res["response"])
            self.assertEqual(answer["attack"], attack)
            self.assertIn(port, answer["ports"], answer)
            if attack == "pipeline":
                self.assertGreater(answer["pipelined"][str(port)], 0, answer)
            else:
                # not a single POST got in: the path is not one it can guess
                self.assertEqual(answer["posts"][str(port)], [404, 404, 404], answer)
        return port

    def known_uri(self, emu):
        """Runs init and returns the URI leakwatch subscribed (its secret path included)."""
        self.assertIsNone(emu.init())
        self.init_ms = emu.env.init_duration_ms  # the platform's, before any invocation
        uris = emu.report()["subscribed_uris"]
        self.assertEqual(len(uris), 1, uris)
        return uris[0]

    def run_pipeliner(self, known=False):
        """Two invocations each leave a connection on which a thread pipelines requests for as
        long as the listener takes them and never reads an answer (on the real path when
        known); the next invocation runs four seconds while it goes on, two more follow. Checks
        that Lambda's deliveries and SHUTDOWN did not notice; returns (results, lines, report)."""
        with self.emulator("hostile.py") as emu:
            event = {"uri": self.known_uri(emu)} if known else {}
            results = [emu.invoke(dict(event, attack="pipeline")) for _ in range(2)]
            results.append(emu.invoke({"attack": "none", "sleep_ms": 4000}))
            results += [emu.invoke({"attack": "none"}) for _ in range(2)]
            emu.shutdown("spindown")
            lines = emu.log_lines
            report = emu.report()
        self.assertEqual([r["status"] for r in results], ["success"] * 5)
        port = str(listener_port(report))
        for res in results[:2]:
            answer = json.loads(res["response"])
            self.assertGreater(answer["pipelined"][port], 0, answer)
            self.assertTrue(answer["closed"][port], answer)  # shut out, not waited for
        telemetry = report["telemetry"]["leakwatch"]
        # what leakwatch said, and the last records, if a delivery failed: a fresh-clone CI run
        # saw one batch of two events (the last invocation's runtimeDone and report, by their
        # count) fail once, at shutdown, on a loaded machine
        said = self.leakwatch_log(lines)[-20:] + [
            {k: r.get(k) for k in ("Sequence", "Incomplete", "Status")}
            for r in invocation_records(lines)[-2:]]
        self.assertEqual((telemetry["failed_posts"], telemetry["dropped_events"]), (0, 0), said)
        self.assert_lambdas_figures(lines, results)
        ext = report["extensions"]["leakwatch"]["shutdown"]
        self.assertEqual((ext["in_time"], ext["killed"], ext["exit_code"]), (True, False, 0),
                         self.leakwatch_log(lines))
        self.assertEqual(len(shutdown_records(lines)), 1)
        return results, lines, report

    def run_hostile(self, attack, n, **kw):
        results, report, lines = self.run_function("hostile.py", [{"attack": attack}] * n, **kw)
        self.assertEqual([r["status"] for r in results], ["success"] * n, results)
        return results, report, lines


class ForgedTelemetryTest(HostileCase):

    def test_forged_reports_change_no_figure(self):
        n = 5
        results, report, lines = self.run_hostile("forge-report", n)
        self.assert_lambdas_figures(lines, results)
        self.attacked(results, report, "forge-report")
        self.assertEqual(health_total(lines, "TelemetryRequestsRejected"), 3 * n)
        self.assertEqual(health_total(lines, "TelemetryEventsLate"), 0)

    def test_forged_starts_change_no_figure(self):
        n = 4
        results, report, lines = self.run_hostile("forge-start", n)
        self.assert_lambdas_figures(lines, results)
        # nothing was pushed out of the join table to make room for the made-up ids
        self.assertEqual(health_total(lines, "LedgerEvicted"), 0)
        self.attacked(results, report, "forge-start")

    def test_forged_logs_dropped_change_no_counter(self):
        n = 3
        results, report, lines = self.run_hostile("forge-dropped", n)
        self.assertEqual(health_total(lines, "TelemetryEventsDropped"), 0)
        self.assert_lambdas_figures(lines, results)
        self.attacked(results, report, "forge-dropped")

    def test_a_forged_init_report_changes_no_figure(self):
        # Where the report carries no initDurationMs (provisioned concurrency, SnapStart), the
        # cold start's init duration is platform.initReport's.
        n = 2
        results, report, lines = self.run_hostile("forge-init", n, report_init_duration=False)
        recs = invocation_records(lines)
        self.assertTrue(recs[0]["ColdStart"])
        self.assertAlmostEqual(recs[0]["InitDurationMilliseconds"], results[0]["init_duration_ms"],
                               places=2)
        self.assertNotIn("InitDurationMilliseconds", recs[1])
        self.assert_lambdas_figures(lines, results)
        self.attacked(results, report, "forge-init")

    def test_a_flood_of_made_up_ids_evicts_nothing(self):
        n = 5
        results, report, lines = self.run_hostile("flood-ids", n)
        self.assert_lambdas_figures(lines, results)
        self.assertEqual(health_total(lines, "LedgerEvicted"), 0)
        self.attacked(results, report, "flood-ids")

    def test_an_extension_forging_reports(self):
        self.add_extension("hostile", HOSTILE)
        n = 4
        results, report, lines = self.run_function("steady", [{}] * n,
                                                   env={"HOSTILE_ATTACK": "forge-report"})
        self.assertEqual([r["status"] for r in results], ["success"] * n)
        self.assert_lambdas_figures(lines, results)
        said = [x for x in lines if x.startswith("[hostile] forge-report (extension)")]
        self.assertEqual(len(said), n, lines[-40:])
        port = listener_port(report)
        for line in said:
            self.assertIn(str(port), line)
            self.assertNotIn("200", line.split("posts", 1)[1])


class StallTest(HostileCase):

    def test_a_stalling_pipeliner_costs_nothing(self):
        # Two invocations each leave a connection on which a thread pipelines requests for as
        # long as the listener takes them and never reads an answer; the next invocation runs
        # four seconds while it goes on. Lambda's deliveries and SHUTDOWN must not notice.
        results, lines, report = self.run_pipeliner()
        self.attacked(results[:2], report, "pipeline")


class ListenerAddressTest(HostileCase):

    def test_the_listener_is_reachable_only_on_the_sandbox_address(self):
        # The port leakwatch is given is held on the other addresses (bound, not listening), so
        # that no other test's listener can answer there.
        others = other_local_addresses()
        port, held = hold_port(others)
        try:
            with self.emulator("steady", env={"LEAKWATCH_TELEMETRY_PORT": str(port)}) as emu:
                results = [emu.invoke({}) for _ in range(2)]
                port = listener_port(emu.report())
                reach = {addr: not refused(addr, port) for addr in others}
                results.append(emu.invoke({}))
                emu.shutdown("spindown")
                lines = emu.log_lines
        finally:
            for s in held:
                s.close()
        self.assertEqual(reach, {addr: False for addr in others})
        self.assert_lambdas_figures(lines, results)  # delivered on 127.0.0.1
        log = self.leakwatch_log(lines)
        self.assertTrue([x for x in log if f"telemetry listener on 127.0.0.1:{port}" in x], log)

    @unittest.skipUnless(can_unshare(), "needs root and mount namespaces")
    @unittest.skipIf(lwtest.LAYER_ZIP, "wraps the bare daemon")
    def test_the_listener_binds_what_etc_hosts_says(self):
        # In leakwatch's own mount namespace /etc/hosts names the sandbox 127.0.0.2; the
        # emulator delivers there, and nothing listens on 127.0.0.1.
        hosts = os.path.join(self.tmp, "hosts")
        with open(hosts, "w") as f:
            f.write("127.0.0.1 localhost\n127.0.0.2 sandbox.localdomain sandbox\n")
        real = os.path.join(self.tmp, "bin", "leakwatch")
        os.makedirs(os.path.dirname(real))
        os.replace(os.path.join(self.opt, "extensions", "leakwatch"), real)
        wrapper = os.path.join(self.opt, "extensions", "leakwatch")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexport LEAKWATCH_EXTENSIONS_DIR=\"$(dirname \"$0\")\"\n"
                    f"exec unshare -m --propagation private sh -c "
                    f"'mount --bind {hosts} /etc/hosts && exec {real}'\n")
        os.chmod(wrapper, 0o755)
        port, held = hold_port(["127.0.0.1"])
        try:
            with self.emulator("steady", sandbox_address="127.0.0.2",
                               env={"LEAKWATCH_TELEMETRY_PORT": str(port)}) as emu:
                results = [emu.invoke({}) for _ in range(2)]
                port = listener_port(emu.report())
                loopback_refused = refused("127.0.0.1", port)
                results.append(emu.invoke({}))
                emu.shutdown("spindown")
                lines = emu.log_lines
        finally:
            held[0].close()
        self.assertTrue(loopback_refused)
        self.assert_lambdas_figures(lines, results)  # delivered on 127.0.0.2
        log = self.leakwatch_log(lines)
        said = f"telemetry listener on 127.0.0.2:{port} (sandbox.localdomain in /etc/hosts)"
        self.assertTrue([x for x in log if said in x], log)


class SecretsTest(HostileCase):

    def test_the_subscription_path_is_unguessable(self):
        paths = []
        for _ in range(2):
            _, report, _ = self.run_function("steady", [{}])
            uri = urllib.parse.urlsplit(report["subscribed_uris"][0])
            self.assertEqual(uri.hostname, "sandbox.localdomain")
            paths.append(uri.path)
            os.remove(self.log_file)
        for path in paths:
            self.assertRegex(path, r"^/[0-9a-f]{32}$")
        self.assertNotEqual(paths[0], paths[1])

    def test_otlp_secrets_never_reach_a_log_line(self):
        # A collector that does not answer (TEST-NET-2) reached with a password, an API key in
        # the query and one in a header; then an endpoint refused for its scheme, which is said
        # in a warning.
        runs = [
            ({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT":
              "http://me:hunter2@198.51.100.1:4318/v1/metrics?api_key=SECRET1",
              "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=SECRET3"},
             "OTLP export to http://<redacted>@198.51.100.1:4318/v1/metrics?<redacted> "),
            ({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "ftp://me:p@ss@h/x?api_key=SECRET2",
              "OTEL_EXPORTER_OTLP_ENDPOINT": "http://me:hunter2@198.51.100.1:4318",
              "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=SECRET3"},
             "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=ftp://<redacted>@h/x?<redacted> is not"),
        ]
        for env, said in runs:
            env.update({"OTEL_EXPORTER_OTLP_TIMEOUT": "500", "LEAKWATCH_LOG_LEVEL": "debug"})
            results, _, lines = self.run_function("steady", [{}] * 2, env=env)
            self.assertEqual([r["status"] for r in results], ["success"] * 2)
            leaked = [x for x in lines if re.search(r"hunter2|p@ss|SECRET[123]", x)]
            self.assertEqual(leaked, [])
            log = self.leakwatch_log(lines)
            self.assertTrue([x for x in log if said in x], log)
            # the key goes to another machine in the clear: said once
            plain = [x for x in log if "over plain HTTP" in x]
            self.assertEqual(len(plain), 1, log)
            self.assertIn("x-api-key", plain[0])
            os.remove(self.log_file)



class KnownPathTest(HostileCase):
    """The attacker knows the subscription URI: every forged batch is taken (HTTP 200), and
    what leakwatch holds to is the plausibility filter and the listener's own limits."""

    def run_known(self, attack, n, event=None, **kw):
        with self.emulator("hostile.py", **kw) as emu:
            uri = self.known_uri(emu)
            results = [emu.invoke(dict(event or {}, attack=attack, uri=uri)) for _ in range(n)]
            emu.shutdown("spindown")
            lines = emu.log_lines
        self.assertEqual([r["status"] for r in results], ["success"] * n, results)
        answers = [json.loads(r["response"]) for r in results]
        for answer in answers:
            self.assertEqual(answer["attack"], attack)
            self.assertEqual(answer["known"], 200, answer)  # past the path
        return results, answers, lines

    def test_forged_reports_for_real_ids_change_no_figure(self):
        # Each invocation forges an error, 99999 ms and 4242 MB for every request id it served
        # before the previous one: ids leakwatch knows, whose real report is in. The first
        # report wins; each forged event is refused, not taken for a late delivery.
        n = 5
        results, answers, lines = self.run_known("forge-report", n, {"delay_ms": 100})
        self.assertEqual([a["events"] for a in answers], [0, 0, 2, 4, 6])
        self.assert_lambdas_figures(lines, results)
        self.assertEqual(health_total(lines, "TelemetryEventsRejected"), 12)
        self.assertEqual(health_total(lines, "TelemetryEventsLate"), 0)

    def test_reports_for_made_up_ids_change_no_figure(self):
        n = 4
        results, answers, lines = self.run_known("forge-unknown", n)
        self.assert_lambdas_figures(lines, results)
        # each made-up id's runtimeDone and report, judged after the next INVOKE or at SHUTDOWN
        self.assertEqual(health_total(lines, "TelemetryEventsRejected"), 2 * n)
        self.assertEqual(health_total(lines, "LedgerEvicted"), 0)

    def test_a_forged_logs_dropped_is_refused(self):
        # 999,999,999,999 records is beyond what the platform can have produced (the ledger's
        # allowance: a few dozen at init, eight per invocation).
        n = 3
        results, _, lines = self.run_known("forge-dropped", n)
        self.assertEqual(health_total(lines, "TelemetryEventsDropped"), 0)
        self.assertEqual(health_total(lines, "TelemetryEventsRejected"), n)
        self.assert_lambdas_figures(lines, results)

    def test_a_forged_init_report_is_refused(self):
        # The report carries no initDurationMs here, so the cold start's init duration is the
        # platform.initReport's: the first one, which the platform delivered while the function
        # waited, before the forged 4242 ms went out and before the cold start's record did.
        n = 2
        results, _, lines = self.run_known("forge-init", n, {"delay_ms": 300},
                                           report_init_duration=False)
        recs = invocation_records(lines)
        self.assertTrue(recs[0]["ColdStart"])
        self.assertAlmostEqual(recs[0]["InitDurationMilliseconds"], self.init_ms, places=2)
        self.assertNotIn("InitDurationMilliseconds", recs[1])
        self.assertEqual(health_total(lines, "TelemetryEventsRejected"), n)
        self.assert_lambdas_figures(lines, results)

    def test_a_flood_of_made_up_ids_evicts_nothing_real(self):
        # 64 made-up ids (a start and a report each) per invocation, while the invocation's own
        # id waits for its events: they push out only one another.
        n = 5
        results, _, lines = self.run_known("flood-ids", n)
        self.assert_lambdas_figures(lines, results)
        self.assertEqual(health_total(lines, "LedgerEvicted"), 0)
        self.assertEqual(health_total(lines, "TelemetryEventsRejected"), 128 * n)

    def test_a_stalling_pipeliner_that_knows_the_path_costs_nothing(self):
        # As test_a_stalling_pipeliner_costs_nothing, on the real path: the connection proves
        # itself, and what holds is the listener's back-pressure (no request parsed while an
        # answer is pending, answers written without waiting, a peer that does not read them
        # closed, at most 1,000 requests a connection), not the 404.
        self.run_pipeliner(known=True)


if __name__ == "__main__":
    unittest.main()
