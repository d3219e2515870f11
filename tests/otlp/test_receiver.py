"""The test receiver's own decoder, and the real exporter (libcurl) against every receiver mode."""
import json
import os
import subprocess
import tempfile
import unittest

from otlp_receiver import OtlpReceiver, decode_request

SEND = os.environ.get("LW_OTLP_SEND", "")
N = 5


def send(url, count=N, flush_ms=5000, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": url, "AWS_LAMBDA_FUNCTION_NAME": "fn",
                "AWS_REGION": "eu-west-1", "OTEL_EXPORTER_OTLP_HEADERS": "api-key=s3cr3t"})
    env.update(extra_env or {})
    out = subprocess.run([SEND, str(count), str(flush_ms)], env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    assert "s3cr3t" not in out.stderr, "a header value was logged"
    return json.loads(out.stdout)


@unittest.skipUnless(SEND, "LW_OTLP_SEND not set")
class ReceiverTest(unittest.TestCase):
    def check_values(self, rx, count):
        points = rx.points()
        start = sorted(points["leakwatch.function.rss.start"])
        self.assertEqual(len(start), count)
        for i, (t, v) in enumerate(start, 1):
            self.assertEqual(t, (1700000000000 + i * 1000 + 100) * 1000000)
            self.assertEqual(v, 1000000 + i)
        self.assertEqual(sorted(v for _, v in points["leakwatch.memory.headroom"]),
                         sorted(134217728 - (4000000 + i) for i in range(1, count + 1)))

    def test_decoder_reads_the_encoder(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "req.bin")
            env = dict(os.environ, AWS_LAMBDA_FUNCTION_NAME="fn", OTEL_SERVICE_NAME="svc")
            subprocess.run([SEND, "--write", path], env=env, check=True)
            with open(path, "rb") as f:
                res = decode_request(f.read())
        self.assertEqual(len(res), 1)
        self.assertEqual(res[0]["resource"]["service.name"], "svc")
        self.assertEqual(res[0]["resource"]["faas.instance"], "env-test")
        self.assertEqual(res[0]["scopes"][0]["name"], "leakwatch")
        metrics = {m["name"]: m for m in res[0]["scopes"][0]["metrics"]}
        self.assertEqual(metrics["leakwatch.function.rss.peak"]["unit"], "By")
        self.assertEqual(metrics["leakwatch.function.rss.peak"]["type"], "gauge")
        self.assertEqual([p["value"] for p in metrics["leakwatch.function.rss.peak"]["points"]],
                         [3000001.0, 3000002.0])

    def test_ok_delivers_everything(self):
        with OtlpReceiver("ok") as rx:
            counters = send(rx.url)
            self.assertEqual(counters, {"dropped": 0, "failed": 0, "rejected": 0})
            self.check_values(rx, N)
            req = rx.requests[0]
            self.assertEqual(req["headers"]["content-type"], "application/x-protobuf")
            self.assertEqual(req["headers"]["api-key"], "s3cr3t")
            res = req["resources"][0]["resource"]
            self.assertEqual(res["faas.name"], "fn")
            self.assertEqual(res["cloud.region"], "eu-west-1")
            self.assertNotIn("req-1", json.dumps(rx.snapshot()))

    def test_gzip(self):
        with OtlpReceiver("ok") as rx:
            counters = send(rx.url, extra_env={"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"})
            self.assertEqual(counters["dropped"], 0)
            self.assertEqual(rx.requests[0]["headers"]["content-encoding"], "gzip")
            self.check_values(rx, N)

    def test_503_with_retry_after_then_ok(self):
        with OtlpReceiver("unavailable", retry_after="1", fail_count=1) as rx:
            counters = send(rx.url)
            self.assertEqual(counters, {"dropped": 0, "failed": 0, "rejected": 0})
            self.assertEqual(rx.answers[0], "unavailable")
            self.check_values(rx, N)

    def test_400_drops_and_counts(self):
        with OtlpReceiver("bad-request") as rx:
            counters = send(rx.url)
            self.assertEqual(counters["dropped"], N)
            self.assertEqual(counters["failed"], len(rx.requests))

    def test_partial_success_counts_rejected_points(self):
        with OtlpReceiver("partial", rejected=3) as rx:
            counters = send(rx.url)
            self.assertEqual(counters["dropped"], 0)
            self.assertEqual(counters["rejected"], 3 * len(rx.requests))

    def test_garbage_answer_is_harmless(self):
        with OtlpReceiver("garbage") as rx:
            counters = send(rx.url)
            self.assertEqual(counters, {"dropped": 0, "failed": 0, "rejected": 0})

    def test_hanging_receiver_times_out_and_counts(self):
        with OtlpReceiver("hang") as rx:
            counters = send(rx.url, extra_env={"OTEL_EXPORTER_OTLP_TIMEOUT": "300"})
            self.assertEqual(counters["dropped"], N)
            self.assertGreaterEqual(len(rx.requests), 1)

    def test_receiver_down_counts(self):
        rx = OtlpReceiver("ok")
        url = rx.url
        rx.stop()  # the port is closed: connections are refused
        counters = send(url, flush_ms=1500, extra_env={"OTEL_EXPORTER_OTLP_TIMEOUT": "500"})
        self.assertEqual(counters["dropped"], N)


if __name__ == "__main__":
    unittest.main()
