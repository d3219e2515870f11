#!/usr/bin/env python3
"""A test OTLP/HTTP metrics receiver (Python standard library only).

It decodes every POST to /v1/metrics as an ExportMetricsServiceRequest with a small protobuf wire
decoder written from opentelemetry-proto's field numbers (independent of leakwatch's .proto),
keeps the decoded requests, and answers according to its mode:

  ok           200 + empty ExportMetricsServiceResponse
  unavailable  503 + Retry-After (for the first `fail_count` requests, then ok; all when None)
  throttled    429 + Retry-After, same counting
  bad-request  400 + a google.rpc.Status-like body
  partial      200 + partial_success{rejected_data_points, error_message}
  hang         reads the request and never answers (until stop())
  garbage      200 + bytes that are not a protobuf message

See README.md for the Python API and the command line.
"""

import argparse
import gzip
import http.server
import json
import struct
import sys
import threading
import urllib.parse

MODES = ("ok", "unavailable", "throttled", "bad-request", "partial", "hang", "garbage")


class DecodeError(ValueError):
    pass


# --- protobuf wire format -------------------------------------------------------------------------

def read_varint(buf, pos):
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("varint too long")


def fields(buf):
    """Yields (field_number, wire_type, value): int for varint, bytes for fixed and length-delimited."""
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise DecodeError("field number 0")
        if wire == 0:
            value, pos = read_varint(buf, pos)
        elif wire == 1:
            if pos + 8 > len(buf):
                raise DecodeError("truncated fixed64")
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = read_varint(buf, pos)
            if pos + length > len(buf):
                raise DecodeError("truncated length-delimited field")
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            if pos + 4 > len(buf):
                raise DecodeError("truncated fixed32")
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise DecodeError("unsupported wire type %d" % wire)
        yield number, wire, value


def _expect(wire, want, what):
    if wire != want:
        raise DecodeError("%s: wire type %d, expected %d" % (what, wire, want))


def _signed64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


# --- OTLP messages (opentelemetry-proto field numbers) ---------------------------------------------

def decode_any_value(buf):
    for n, w, v in fields(buf):
        if n == 1:
            _expect(w, 2, "AnyValue.string_value")
            return v.decode("utf-8")
        if n == 2:
            _expect(w, 0, "AnyValue.bool_value")
            return bool(v)
        if n == 3:
            _expect(w, 0, "AnyValue.int_value")
            return _signed64(v)
        if n == 4:
            _expect(w, 1, "AnyValue.double_value")
            return struct.unpack("<d", v)[0]
    return None


def decode_attributes(kvs):
    out = {}
    for buf in kvs:
        key, value = None, None
        for n, w, v in fields(buf):
            if n == 1:
                _expect(w, 2, "KeyValue.key")
                key = v.decode("utf-8")
            elif n == 2:
                _expect(w, 2, "KeyValue.value")
                value = decode_any_value(v)
        if key is None:
            raise DecodeError("KeyValue without a key")
        out[key] = value
    return out


def decode_number_data_point(buf):
    p = {"attributes": {}, "start_time_unix_nano": 0, "time_unix_nano": 0, "value": None}
    kvs = []
    for n, w, v in fields(buf):
        if n == 7:
            _expect(w, 2, "NumberDataPoint.attributes")
            kvs.append(v)
        elif n == 2:
            _expect(w, 1, "NumberDataPoint.start_time_unix_nano")
            p["start_time_unix_nano"] = struct.unpack("<Q", v)[0]
        elif n == 3:
            _expect(w, 1, "NumberDataPoint.time_unix_nano")
            p["time_unix_nano"] = struct.unpack("<Q", v)[0]
        elif n == 4:
            _expect(w, 1, "NumberDataPoint.as_double")
            p["value"] = struct.unpack("<d", v)[0]
        elif n == 6:
            _expect(w, 1, "NumberDataPoint.as_int")
            p["value"] = struct.unpack("<q", v)[0]
        elif n == 8:
            p["flags"] = v
    p["attributes"] = decode_attributes(kvs)
    return p


def decode_metric(buf):
    m = {"name": "", "description": "", "unit": "", "type": None, "points": []}
    for n, w, v in fields(buf):
        if n == 1:
            _expect(w, 2, "Metric.name")
            m["name"] = v.decode("utf-8")
        elif n == 2:
            m["description"] = v.decode("utf-8")
        elif n == 3:
            _expect(w, 2, "Metric.unit")
            m["unit"] = v.decode("utf-8")
        elif n in (5, 7):
            _expect(w, 2, "Metric.data")
            m["type"] = "gauge" if n == 5 else "sum"
            if n == 7:
                m["temporality"] = 0
                m["monotonic"] = False
            for dn, dw, dv in fields(v):
                if dn == 1:
                    _expect(dw, 2, "data_points")
                    m["points"].append(decode_number_data_point(dv))
                elif n == 7 and dn == 2:
                    m["temporality"] = dv
                elif n == 7 and dn == 3:
                    m["monotonic"] = bool(dv)
        elif n in (9, 10, 11):
            m["type"] = {9: "histogram", 10: "exponential_histogram", 11: "summary"}[n]
    return m


def decode_request(body):
    """ExportMetricsServiceRequest bytes -> list of resource dicts:
    {"resource": {attr: value}, "scopes": [{"name", "version", "metrics": [metric dicts]}]}."""
    resources = []
    for n, w, v in fields(body):
        if n != 1:
            continue
        _expect(w, 2, "ExportMetricsServiceRequest.resource_metrics")
        rm = {"resource": {}, "dropped_attributes": 0, "scopes": []}
        for rn, rw, rv in fields(v):
            if rn == 1:
                _expect(rw, 2, "ResourceMetrics.resource")
                kvs = []
                for an, aw, av in fields(rv):
                    if an == 1:
                        kvs.append(av)
                    elif an == 2:
                        rm["dropped_attributes"] = av
                rm["resource"] = decode_attributes(kvs)
            elif rn == 2:
                _expect(rw, 2, "ResourceMetrics.scope_metrics")
                scope = {"name": "", "version": "", "metrics": []}
                for sn, sw, sv in fields(rv):
                    if sn == 1:
                        for qn, qw, qv in fields(sv):
                            if qn == 1:
                                scope["name"] = qv.decode("utf-8")
                            elif qn == 2:
                                scope["version"] = qv.decode("utf-8")
                    elif sn == 2:
                        _expect(sw, 2, "ScopeMetrics.metrics")
                        scope["metrics"].append(decode_metric(sv))
                rm["scopes"].append(scope)
        resources.append(rm)
    return resources


def encode_varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_partial_success(rejected, message):
    inner = b"\x08" + encode_varint(rejected)
    msg = message.encode("utf-8")
    inner += b"\x12" + encode_varint(len(msg)) + msg
    return b"\x0a" + encode_varint(len(inner)) + inner


def points_by_metric(requests):
    """{metric name: [(time_unix_nano, value), ...]} over every decoded request."""
    out = {}
    for req in requests:
        for rm in req["resources"]:
            for scope in rm["scopes"]:
                for m in scope["metrics"]:
                    out.setdefault(m["name"], []).extend(
                        (p["time_unix_nano"], p["value"]) for p in m["points"])
    return out


# --- the server -----------------------------------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: tests read .requests instead
        pass

    def _reply(self, status, body=b"", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        rx = self.server.receiver
        url = urllib.parse.urlparse(self.path)
        if url.path == "/control":
            q = urllib.parse.parse_qs(url.query)
            rx.configure(mode=q.get("mode", [None])[0],
                         retry_after=q.get("retry_after", [None])[0],
                         fail_count=int(q["fail_count"][0]) if "fail_count" in q else None,
                         rejected=int(q["rejected"][0]) if "rejected" in q else None)
            body = b"ok\n"
        elif url.path == "/requests":
            body = json.dumps(rx.snapshot()).encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        rx = self.server.receiver
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        record = {"path": self.path,
                  "headers": {k.lower(): v for k, v in self.headers.items()},
                  "body_bytes": len(raw)}
        try:
            body = raw
            if self.headers.get("Content-Encoding", "").lower() == "gzip":
                body = gzip.decompress(raw)
            record["resources"] = decode_request(body)
            record["raw"] = body
        except (DecodeError, OSError, EOFError, UnicodeDecodeError) as e:
            record["error"] = str(e)
            record["resources"] = []
        mode, retry_after, rejected = rx.answer_for(record)
        if self.path != "/v1/metrics":
            self._reply(404)
        elif "error" in record:
            self._reply(400, b"undecodable request")
        elif mode == "ok":
            self._reply(200)
        elif mode in ("unavailable", "throttled"):
            self._reply(503 if mode == "unavailable" else 429, b"",
                        [("Retry-After", retry_after)] if retry_after is not None else [])
        elif mode == "bad-request":
            self._reply(400, b"\x08\x03\x12\x0bbad request")
        elif mode == "partial":
            self._reply(200, encode_partial_success(rejected, "points rejected by test receiver"))
        elif mode == "garbage":
            self._reply(200, b"\xff\xff\xff\xff not protobuf")
        elif mode == "hang":
            rx.hang_released.wait()
            self.close_connection = True


class OtlpReceiver:
    """In-process receiver. `with OtlpReceiver(mode="ok") as rx: ... rx.url ... rx.requests`."""

    def __init__(self, mode="ok", retry_after=None, fail_count=None, rejected=1, port=0):
        if mode not in MODES:
            raise ValueError("unknown mode %r" % mode)
        self.lock = threading.Lock()
        self.mode = mode
        self.retry_after = retry_after
        self.fail_count = fail_count
        self.rejected = rejected
        self.requests = []        # decoded requests, in arrival order (answered or not)
        self.answers = []         # (mode) per request
        self.hang_released = threading.Event()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.receiver = self
        self.port = self.httpd.server_address[1]
        self.base_url = "http://127.0.0.1:%d" % self.port
        self.url = self.base_url + "/v1/metrics"
        self.thread = None

    def configure(self, mode=None, retry_after=None, fail_count=None, rejected=None):
        with self.lock:
            if mode is not None:
                if mode not in MODES:
                    raise ValueError("unknown mode %r" % mode)
                self.mode = mode
            if retry_after is not None:
                self.retry_after = retry_after
            self.fail_count = fail_count
            if rejected is not None:
                self.rejected = rejected

    def answer_for(self, record):
        with self.lock:
            self.requests.append(record)
            mode = self.mode
            if mode in ("unavailable", "throttled") and self.fail_count is not None:
                if self.fail_count <= 0:
                    mode = "ok"
                else:
                    self.fail_count -= 1
            self.answers.append(mode)
            return mode, self.retry_after, self.rejected

    def snapshot(self):
        with self.lock:
            return [{k: v for k, v in r.items() if k != "raw"} for r in self.requests]

    def accepted(self):
        """The decoded requests answered with 200 (ok, partial, garbage): what was delivered."""
        with self.lock:
            return [r for r, a in zip(self.requests, self.answers)
                    if a in ("ok", "partial", "garbage") and "error" not in r]

    def points(self):
        """{metric name: [(time_unix_nano, value), ...]} over the accepted requests."""
        return points_by_metric(self.accepted())

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.hang_released.set()
        if self.thread is not None:
            self.httpd.shutdown()
            self.thread = None
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    ap.add_argument("--mode", choices=MODES, default="ok")
    ap.add_argument("--retry-after", default=None, help="Retry-After value for 503/429")
    ap.add_argument("--fail-count", type=int, default=None,
                    help="answer 503/429 this many times, then 200")
    ap.add_argument("--rejected", type=int, default=1, help="rejected points in partial mode")
    ap.add_argument("--decode", metavar="FILE",
                    help="decode one ExportMetricsServiceRequest file, print JSON, exit")
    args = ap.parse_args(argv)
    if args.decode:
        with open(args.decode, "rb") as f:
            json.dump(decode_request(f.read()), sys.stdout, indent=1)
        print()
        return 0
    rx = OtlpReceiver(args.mode, args.retry_after, args.fail_count, args.rejected, args.port)
    print("listening on %s" % rx.base_url, flush=True)
    seen = 0
    rx.start()
    try:
        while True:
            threading.Event().wait(0.2)
            with rx.lock:
                new = rx.requests[seen:]
                seen = len(rx.requests)
            for r in new:
                print(json.dumps({k: v for k, v in r.items() if k != "raw"}), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        rx.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
