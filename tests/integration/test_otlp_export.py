"""OTLP export of the real leakwatch binary in the emulator, to the local OTLP receiver
(tests/otlp): every decoded request is checked against the EMF lines of the same invocations
(same values, nothing missing, nothing extra), and a collector that is down, throttling,
refusing or hanging costs the function nothing while the drop counters tell the truth."""
import collections
import os
import re
import socket
import statistics
import sys
import time
import unittest

import lwtest
from lwtest import MIB, LeakwatchCase, invocation_records, shutdown_records

sys.path.insert(0, os.path.join(lwtest.SOURCE_DIR, "tests", "otlp"))
from otlp_receiver import OtlpReceiver  # noqa: E402

MEMORY_MB = 256
SECRET = "k3y-9f2c71d0e4b8-do-not-log"
# leakwatch's post-runtime time per invocation is its boundary reading and one event/next: 0 ms
# when it is back in event/next before the runtime answers, as it nearly always is. A main thread
# that waited on the collector would wait a timeout (700 ms or more in these tests) or a backoff
# on most invocations: the median must stay under the first bound, and no single invocation may
# reach the second. (One invocation in a few hundred was seen at ~55 ms without any cause in
# leakwatch on a loaded 2-core machine: scheduling, not the collector.)
POST_RUNTIME_MEDIAN_BOUND_MS = 50.0
POST_RUNTIME_MAX_BOUND_MS = 500.0
LEAK = {"bytes": MIB, "delay_ms": 20}


def metric_table():
    """[(emf_name, otlp_name, ucum_unit)] read from include/leakwatch/metrics.h, the one table
    both encoders use, so this test follows it when metrics are added."""
    with open(os.path.join(lwtest.SOURCE_DIR, "include", "leakwatch", "metrics.h")) as f:
        text = f.read().replace("\\\n", " ")  # join the macro's continued lines
    s = r"\s*"
    row = r"X\(" + s + r"\w+" + s + r',\s*"(\w+)",\s*"[^"]*",\s*"([\w.]+)",\s*"([^"]*)"' + s + r"\)"
    rows = re.findall(row, text)
    if len(rows) != len(re.findall(r"X\([A-Z_]+,", text)) or len(rows) < 20:
        raise AssertionError("metric table not found in metrics.h: %d rows" % len(rows))
    return rows


def health_names():
    """The EMF names of the health counters, in order (src/common/health.c)."""
    with open(os.path.join(lwtest.SOURCE_DIR, "src", "common", "health.c")) as f:
        names = re.findall(r'\[LW_H_\w+\]\s*=\s*"(\w+)"', f.read())
    if len(names) < 10:
        raise AssertionError("health counter names not found in health.c")
    return names


def snake(camel):
    return re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower()


METRICS = metric_table()
HEALTH = health_names()
OTLP_OF = {emf: otlp for emf, otlp, _ in METRICS}
UCUM_OF = {otlp: ucum for _, otlp, ucum in METRICS}
# the figures of interval records (Managed Instances), which invocation records never carry
INTERVAL_ONLY = {"leakwatch.interval." + n for n in (
    "duration", "requests", "request_errors", "request_timeouts", "request_duration_mean",
    "request_duration_max")}
# the runtime's own figures, only with the exec wrapper's probe (docs/runtime-insight.md)
RUNTIME_ONLY = {"leakwatch.runtime.heap.after_gc", "leakwatch.runtime.heap.limit",
                "leakwatch.runtime.external_memory"}
HEALTH_OTLP = {"leakwatch.health." + snake(n): n for n in HEALTH}


class TimedReceiver(OtlpReceiver):
    """The receiver, noting when each request arrived (monotonic seconds) in its "t" key."""

    def answer_for(self, record):
        record["t"] = time.monotonic()
        return super().answer_for(record)


def closed_port():
    """A loopback port nothing listens on: bound, then closed."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request_metrics(req):
    """[metric dict] of one decoded request (one resource, one scope expected)."""
    out = []
    for rm in req["resources"]:
        for scope in rm["scopes"]:
            out.extend(scope["metrics"])
    return out


def record_times(req):
    """The set of record timestamps (ns) one request carries: every record has a memory limit."""
    for m in request_metrics(req):
        if m["name"] == OTLP_OF["MemoryLimitBytes"]:
            return [p["time_unix_nano"] for p in m["points"]]
    return []


def emf_sum(lines, name):
    """The sum of one health counter's increases over every leakwatch line (records and the
    shutdown line): the counter's final value as CloudWatch sees it."""
    recs = invocation_records(lines) + shutdown_records(lines)
    return sum(r.get(name, 0) for r in recs)


class OtlpExportTest(LeakwatchCase):

    def otlp_env(self, rx_url, **extra):
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rx_url, "LEAKWATCH_EXPORT": "both"}
        env.update(extra)
        return env

    def run_leak(self, env, n=6, between_s=0.0):
        """n invocations of leak, optionally with the environment frozen between_s between them
        (wall time passes for the exporter's timers as it does on Lambda)."""
        with self.emulator("leak", env=env, memory_mb=MEMORY_MB) as emu:
            results = []
            for i in range(n):
                if i and between_s:
                    time.sleep(between_s)
                results.append(emu.invoke(LEAK))
            emu.shutdown("spindown")
            lines = emu.log_lines
            report = emu.report()
        self.assertTrue(all(r["status"] == "success" for r in results), results)
        return results, report, lines

    # --- checks shared by every test ---------------------------------------------------------

    def assert_every_record(self, results, lines):
        recs = invocation_records(lines)
        self.assertEqual([r["RequestId"] for r in recs], [r["request_id"] for r in results])
        return recs

    def assert_not_delayed(self, results, report):
        post = [r["post_runtime_ms"]["leakwatch"] for r in results]
        msg = "post-runtime ms per invocation: %s" % post
        self.assertLess(statistics.median(post), POST_RUNTIME_MEDIAN_BOUND_MS, msg)
        self.assertLess(max(post), POST_RUNTIME_MAX_BOUND_MS, msg)
        self.assertTrue(report["extensions"]["leakwatch"]["shutdown"]["in_time"],
                        report["extensions"]["leakwatch"]["shutdown"])
        self.assertEqual(report["extensions"]["leakwatch"]["shutdown"]["exit_code"], 0)
        return post

    def assert_values_match(self, recs, rx, every_metric=False):
        """Every accepted point is the EMF figure of a record with the same timestamp, and every
        EMF figure of the metric table arrived once: grouped by (timestamp, metric), the multisets
        of values are equal. (Two records can share a timestamp: the record cut short at SHUTDOWN
        is stamped with its start, which is the previous record's end.)"""
        emf = collections.defaultdict(list)
        for r in recs:
            t = r["_aws"]["Timestamp"] * 1000000
            self.assertEqual(r["_aws"]["Timestamp"], r.get("EndTimeMs", r["StartTimeMs"]))
            for emf_name, otlp_name, _ in METRICS:
                if emf_name in r:
                    emf[(t, otlp_name)].append(r[emf_name])
        otlp = collections.defaultdict(list)
        for req in rx.accepted():
            for m in request_metrics(req):
                if m["name"].startswith("leakwatch.health."):
                    continue
                self.assertIn(m["name"], UCUM_OF, "metric not in the table: %s" % m["name"])
                self.assertEqual(m["type"], "gauge", m["name"])
                self.assertEqual(m["unit"], UCUM_OF[m["name"]], m["name"])
                for p in m["points"]:
                    self.assertEqual(p["attributes"], {}, m["name"])
                    otlp[(p["time_unix_nano"], m["name"])].append(p["value"])
        self.assertEqual(set(otlp), set(emf))
        for key in emf:
            self.assertEqual(sorted(otlp[key]), sorted(emf[key]), key)
        names = {k[1] for k in emf}
        self.assertIn(OTLP_OF["FunctionRssPeakBytes"], names)
        self.assertIn(OTLP_OF["DurationMilliseconds"], names)  # joined from the platform
        if every_metric:  # the leak engine's projections included; not interval records' own
            self.assertEqual(names, set(UCUM_OF) - INTERVAL_ONLY - RUNTIME_ONLY)

    def assert_health_sums(self, rx, lines):
        """Every accepted request carries every health counter as a cumulative monotonic sum,
        never decreasing, and never above what the EMF lines add up to in the end."""
        last = {}
        for req in rx.accepted():
            sums = {m["name"]: m for m in request_metrics(req) if m["type"] == "sum"}
            self.assertEqual(set(sums), set(HEALTH_OTLP))
            for name, m in sums.items():
                self.assertEqual(m["unit"], "1")
                self.assertTrue(m["monotonic"])
                self.assertEqual(m["temporality"], 2)  # cumulative
                self.assertEqual(len(m["points"]), 1)
                v = m["points"][0]["value"]
                self.assertGreaterEqual(v, last.get(name, 0), name)
                last[name] = v
        for name, v in last.items():
            self.assertLessEqual(v, emf_sum(lines, HEALTH_OTLP[name]), name)

    def delivered_records(self, rx):
        return sum(len(record_times(req)) for req in rx.accepted())

    def assert_drops_are_the_truth(self, lines, rx, n):
        """What the EMF lines say was dropped is exactly what the receiver did not accept."""
        delivered = self.delivered_records(rx)
        self.assertEqual(emf_sum(lines, "OtlpRecordsDropped"), n - delivered,
                         "delivered %d of %d" % (delivered, n))
        return delivered

    # --- values ------------------------------------------------------------------------------

    def test_otlp_carries_the_emf_figures_of_the_same_invocations(self):
        # Without a warm-up, 30 invocations of a steady leak give the trend engine enough
        # points for its projections (a leak verdict needs 24 readings of sustained growth and
        # 3 consistent assessments): every metric of the table is compared.
        n = 30
        with OtlpReceiver(mode="ok") as rx:
            env = self.otlp_env(rx.base_url, OTEL_EXPORTER_OTLP_HEADERS="api-key=" + SECRET,
                                LEAKWATCH_LOG_LEVEL="debug", LEAKWATCH_WARMUP_INVOCATIONS="0")
            results, report, lines = self.run_leak(env, n)
        recs = self.assert_every_record(results, lines)
        self.assert_not_delayed(results, report)
        self.assertTrue(rx.requests)
        self.assertEqual(rx.answers, ["ok"] * len(rx.requests))
        for req in rx.requests:
            self.assertNotIn("error", req)
            self.assertEqual(req["path"], "/v1/metrics")
            self.assertEqual(req["headers"]["content-type"], "application/x-protobuf")
            self.assertNotIn("content-encoding", req["headers"])
            # the API key reached the collector
            self.assertEqual(req["headers"]["api-key"], SECRET)
        self.assert_values_match(recs, rx, every_metric=True)
        self.assert_health_sums(rx, lines)
        self.assert_drops_are_the_truth(lines, rx, n)
        self.assertEqual(self.delivered_records(rx), n)
        self.assertEqual(emf_sum(lines, "OtlpExportsFailed"), 0)

        # The resource: Lambda's semantic conventions, one environment, no request id anywhere.
        env_ids = {r["EnvironmentId"] for r in recs}
        self.assertEqual(len(env_ids), 1)
        for req in rx.requests:
            self.assertEqual(len(req["resources"]), 1)
            rm = req["resources"][0]
            self.assertEqual(rm["dropped_attributes"], 0)
            res = rm["resource"]
            self.assertEqual(res["cloud.provider"], "aws")
            self.assertEqual(res["cloud.platform"], "aws_lambda")
            self.assertEqual(res["cloud.region"], "us-east-1")
            self.assertEqual(res["faas.name"], "emulated-function")
            self.assertEqual(res["faas.version"], "$LATEST")
            self.assertEqual(res["faas.instance"], next(iter(env_ids)))
            self.assertEqual(res["faas.max_memory"], recs[0]["MemoryLimitBytes"])
            self.assertEqual(res["faas.max_memory"], MEMORY_MB * MIB)
            # without OTEL_SERVICE_NAME or a service.name attribute: the function's name
            self.assertEqual(res["service.name"], "emulated-function")
            self.assertEqual([s["name"] for s in rm["scopes"]], ["leakwatch"])
            self.assertEqual(rm["scopes"][0]["version"], recs[0]["LeakwatchVersion"])
            raw = req["raw"]
            for r in results:
                self.assertNotIn(r["request_id"].encode(), raw)

        # The key is never logged, not even at debug level, though the header name may be.
        log = self.leakwatch_log(lines)
        self.assertTrue(any("api-key" in line for line in log), log)
        for line in lines:
            self.assertNotIn(SECRET, line)

    def test_gzip_and_the_service_name_rules(self):
        n = 4
        with OtlpReceiver(mode="ok") as rx:
            env = self.otlp_env(rx.base_url, OTEL_EXPORTER_OTLP_COMPRESSION="gzip",
                                OTEL_SERVICE_NAME="checkout",
                                OTEL_RESOURCE_ATTRIBUTES="service.name=ignored,"
                                "deployment.environment=staging,team=pay%20ments")
            results, report, lines = self.run_leak(env, n)
        recs = self.assert_every_record(results, lines)
        self.assertTrue(rx.requests)
        for req in rx.requests:
            self.assertEqual(req["headers"]["content-encoding"], "gzip")
            self.assertNotIn("error", req)
            self.assertLess(req["body_bytes"], len(req["raw"]))  # it was compressed
            res = req["resources"][0]["resource"]
            self.assertEqual(res["service.name"], "checkout")  # OTEL_SERVICE_NAME wins
            self.assertEqual(res["deployment.environment"], "staging")
            self.assertEqual(res["team"], "pay ments")
            self.assertEqual(res["faas.name"], "emulated-function")
        self.assert_values_match(recs, rx)
        self.assertEqual(self.delivered_records(rx), n)
        self.assert_drops_are_the_truth(lines, rx, n)

    def test_service_name_from_resource_attributes(self):
        # Without OTEL_SERVICE_NAME, service.name from OTEL_RESOURCE_ATTRIBUTES wins over the
        # function's name.
        with OtlpReceiver(mode="ok") as rx:
            env = self.otlp_env(rx.base_url, OTEL_RESOURCE_ATTRIBUTES="service.name=billing")
            results, report, lines = self.run_leak(env, 2)
        self.assertTrue(rx.requests)
        for req in rx.requests:
            self.assertEqual(req["resources"][0]["resource"]["service.name"], "billing")

    # --- faults ------------------------------------------------------------------------------

    def baseline_post_runtime(self):
        """Post-runtime times of the same invocations without OTLP."""
        results, report, lines = self.run_leak({"LEAKWATCH_EXPORT": "emf"}, 4)
        return [r["post_runtime_ms"]["leakwatch"] for r in results]

    def test_collector_down(self):
        n = 6
        # Connections are refused at once and retried with backoff until the export timeout
        # (1 s here) gives the batch up; the environment stays frozen 0.4 s between invocations
        # so that happens during the run, not only at SHUTDOWN.
        env = self.otlp_env("http://127.0.0.1:%d" % closed_port(),
                            OTEL_EXPORTER_OTLP_TIMEOUT="1000")
        results, report, lines = self.run_leak(env, n, between_s=0.4)
        recs = self.assert_every_record(results, lines)
        self.assert_not_delayed(results, report)
        # Nothing could be delivered: every record is counted as dropped, whether its request
        # ran out of time, was in flight or still queued at the SHUTDOWN deadline.
        self.assertEqual(emf_sum(lines, "OtlpRecordsDropped"), n)
        # Some were given up during the run already and said so on the line that followed.
        self.assertGreater(sum(r.get("OtlpRecordsDropped", 0) for r in recs), 0)
        self.assertGreaterEqual(emf_sum(lines, "OtlpExportsFailed"), 2)
        warnings = [line for line in self.leakwatch_log(lines) if "OTLP export failed" in line]
        self.assertEqual(len(warnings), 1, warnings)  # not one line per failed request

    def test_unavailable_with_retry_after_then_everything_delivered(self):
        n = 6
        with TimedReceiver(mode="unavailable", retry_after="1", fail_count=2) as rx:
            # The environment stays frozen 0.6 s between invocations: the Retry-After wait
            # passes as wall time, as it does between invocations on Lambda.
            results, report, lines = self.run_leak(self.otlp_env(rx.base_url), n, between_s=0.6)
        recs = self.assert_every_record(results, lines)
        self.assert_not_delayed(results, report)
        self.assertEqual(rx.answers[:3], ["unavailable", "unavailable", "ok"])
        # The same batch was sent again, twice, each time no sooner than Retry-After said.
        first = record_times(rx.requests[0])
        self.assertTrue(first)
        self.assertEqual(record_times(rx.requests[1]), first)
        self.assertEqual(record_times(rx.requests[2]), first)
        for a, b in zip(rx.requests, rx.requests[1:3]):
            self.assertGreaterEqual(b["t"] - a["t"], 1.0)
        self.assertEqual(self.delivered_records(rx), n)
        self.assert_values_match(recs, rx)
        self.assert_drops_are_the_truth(lines, rx, n)
        self.assertEqual(emf_sum(lines, "OtlpExportsFailed"), 0)

    def test_bad_request_is_never_retried(self):
        n = 6
        with OtlpReceiver(mode="bad-request") as rx:
            results, report, lines = self.run_leak(self.otlp_env(rx.base_url), n)
        self.assert_every_record(results, lines)
        self.assert_not_delayed(results, report)
        self.assertTrue(rx.requests)
        # One request per batch: no record was sent twice, and every record was sent once.
        sent = [t for req in rx.requests for t in record_times(req)]
        self.assertEqual(len(sent), n)
        self.assertEqual(len(set(sent)) + self.shared_timestamps(invocation_records(lines)), n)
        self.assertEqual(rx.accepted(), [])
        self.assertEqual(emf_sum(lines, "OtlpRecordsDropped"), n)
        self.assertEqual(emf_sum(lines, "OtlpExportsFailed"), len(rx.requests))

    def shared_timestamps(self, recs):
        """How many records share their EMF timestamp with an earlier one."""
        ts = [r["_aws"]["Timestamp"] for r in recs]
        return len(ts) - len(set(ts))

    def test_hanging_collector(self):
        n = 6
        with OtlpReceiver(mode="hang") as rx:
            # A short export timeout: requests time out during the run (and are retried inside
            # it), and the one in flight at SHUTDOWN is cut off by the flush deadline.
            env = self.otlp_env(rx.base_url, OTEL_EXPORTER_OTLP_TIMEOUT="700")
            # Long enough for a drop to reach an invocation line even where loading libcurl
            # takes a second (a sanitizer build on a loaded machine).
            results, report, lines = self.run_leak(env, n, between_s=0.7)
        recs = self.assert_every_record(results, lines)
        self.assert_not_delayed(results, report)
        self.assertEqual(rx.accepted(), [])
        self.assertEqual(emf_sum(lines, "OtlpRecordsDropped"), n)
        self.assertGreater(sum(r.get("OtlpRecordsDropped", 0) for r in recs), 0)
        # Each attempt takes the whole timeout, so each is one failed export; an attempt cut
        # off at SHUTDOWN may not have reached the receiver: a bound, not an equality.
        self.assertGreaterEqual(len(rx.requests), 2)
        self.assertGreaterEqual(emf_sum(lines, "OtlpExportsFailed"), len(rx.requests))

    def test_hanging_collector_with_the_default_timeout(self):
        """The default export timeout (10 s) is longer than the whole SHUTDOWN budget: the first
        request hangs until the end, everything else waits in the queue, and the flush gives up
        on time with every record counted."""
        n = 4
        baseline = self.baseline_post_runtime()
        with OtlpReceiver(mode="hang") as rx:
            results, report, lines = self.run_leak(self.otlp_env(rx.base_url), n)
        self.assert_every_record(results, lines)
        post = self.assert_not_delayed(results, report)
        # Not slower than without OTLP at all (a generous margin: this is not a benchmark).
        self.assertLess(statistics.median(post), statistics.median(baseline) + 10.0,
                        "post-runtime ms with a hanging collector %s, without OTLP %s"
                        % (post, baseline))
        self.assertEqual(len(rx.requests), 1)
        self.assertEqual(emf_sum(lines, "OtlpRecordsDropped"), n)
        # The request given up at the deadline counts as one failed export.
        self.assertEqual(emf_sum(lines, "OtlpExportsFailed"), 1)

    def test_otlp_alone_writes_no_emf(self):
        n = 3
        with OtlpReceiver(mode="ok") as rx:
            env = self.otlp_env(rx.base_url, LEAKWATCH_EXPORT="otlp")
            results, report, lines = self.run_leak(env, n)
        self.assertEqual(invocation_records(lines), [])
        self.assertEqual(shutdown_records(lines), [])
        self.assertEqual(self.delivered_records(rx), n)
        self.assert_not_delayed(results, report)


if __name__ == "__main__":
    unittest.main()
