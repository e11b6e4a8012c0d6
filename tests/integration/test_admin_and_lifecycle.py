"""The admin listener (/healthz, /readyz, /metrics), the access log, reload on SIGHUP (good and
bad files), graceful shutdown on SIGTERM, and the CLI (check, --version, --help)."""

import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

from harness import (BULWARK_BIN, GatewayTestCase, RawClient, gateway_config,
                     metric, port_open, request_bytes, wait_until, yaml_dump)


def api_routes():
    return [{"name": "api", "match": {"path_prefix": "/api/"}, "upstream": "origin"}]


def wait_for(predicate, timeout=5.0):
    return wait_until(predicate, timeout=timeout, interval=0.02)


class AdminTest(GatewayTestCase):

    @classmethod
    def setUpClass(cls):
        cls.origin_server = cls.start_origin()
        cls.gw = cls.start_gateway(gateway_config({"origin": [cls.origin_server.address]},
                                                  api_routes(), workers=2))

    def test_healthz(self):
        status, headers, body = self.gw.admin("/healthz")
        self.assertEqual(status, 200)
        self.assertIn("application/json", headers.get("Content-Type"))
        self.assertEqual(json.loads(body), {"status": "ok"})

    def test_readyz(self):
        status, headers, body = self.gw.admin("/readyz")
        self.assertEqual(status, 200)
        self.assertIn("application/json", headers.get("Content-Type"))
        self.assertEqual(json.loads(body), {"ready": True})

    def test_unknown_admin_path_404_json(self):
        status, headers, body = self.gw.admin("/nope")
        self.assertEqual(status, 404)
        self.assertIn("application/json", headers.get("Content-Type"))
        self.assertEqual(json.loads(body)["error"], "not_found")

    def test_admin_endpoints_are_read_only(self):
        status, headers, body = self.gw.admin("/healthz", method="POST")
        self.assertEqual(status, 405)
        self.assertEqual(json.loads(body)["error"], "method_not_allowed")
        self.assertIn("GET", headers.get("Allow", ""))

    def test_admin_is_not_on_the_gateway_port(self):
        status, _, body = self.gw.request("GET", "/healthz")
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body)["error"], "not_found")

    def metrics_when(self, ready, timeout=3.0):
        """The metrics once `ready(metrics)` holds, or as they are after `timeout`."""
        return wait_until(lambda: m if ready(m := self.gw.metrics()) else None,
                          timeout=timeout) or self.gw.metrics()

    def test_metrics_after_traffic(self):
        for _ in range(3):
            status, _, _ = self.gw.request("GET", "/api/echo")
            self.assertEqual(status, 200)
        status, _, _ = self.gw.request("GET", "/nowhere")
        self.assertEqual(status, 404)
        held = [RawClient(self.gw.port) for _ in range(2)]
        try:
            for client in held:
                self.assertEqual(client.request(request_bytes("GET", "/api/echo")).status, 200)
            status, headers, body = self.gw.admin("/metrics")
            self.assertEqual(status, 200)
            self.assertTrue(headers.get("Content-Type", "").startswith("text/plain"),
                            headers.get("Content-Type"))
            text = body.decode()
            # A request is counted just after its response is written: the client can read
            # the response before the worker counts it.
            m = self.metrics_when(
                lambda m: metric(m, "bulwark_requests_total", route="api", status="2xx") >= 5)
            self.assertIn("# TYPE bulwark_requests_total counter", text)
            self.assertGreaterEqual(
                metric(m, "bulwark_requests_total", route="api", status="2xx"), 5)
            self.assertGreaterEqual(
                metric(m, "bulwark_requests_total", route="", status="4xx"), 1)
            self.assertIn("# TYPE bulwark_request_duration_seconds histogram", text)
            count = metric(m, "bulwark_request_duration_seconds_count", route="api")
            self.assertGreaterEqual(count, 5)
            self.assertEqual(
                metric(m, "bulwark_request_duration_seconds_bucket", route="api", le="+Inf"),
                count)
            self.assertGreater(metric(m, "bulwark_request_duration_seconds_sum", route="api"), 0)
            # Buckets are cumulative.
            buckets = sorted(
                (float(re.search(r'le="([^"]+)"', k).group(1).replace("+Inf", "inf")), v)
                for k, v in m.items()
                if k.startswith("bulwark_request_duration_seconds_bucket{")
                and 'route="api"' in k)
            self.assertGreater(len(buckets), 3)
            values = [v for _, v in buckets]
            self.assertEqual(values, sorted(values))
            self.assertIn("# TYPE bulwark_open_connections gauge", text)
            self.assertGreaterEqual(metric(m, "bulwark_open_connections"), 2)
            self.assertIn("bulwark_upstream_errors_total", text)
        finally:
            for client in held:
                client.close()
        # The gauge goes back down once the connections close.
        self.assertTrue(wait_for(
            lambda: metric(self.gw.metrics(), "bulwark_open_connections") == 0, timeout=3))


class AccessLogTest(GatewayTestCase):

    @classmethod
    def setUpClass(cls):
        cls.origin_server = cls.start_origin()
        cls.gw = cls.start_gateway(gateway_config({"origin": [cls.origin_server.address]},
                                                  api_routes(), workers=2))

    FIELDS = ["time", "request_id", "client_ip", "method", "path", "route", "status", "bytes",
              "duration_us", "upstream_us", "auth", "limit", "cache"]

    def record(self, request_id):
        records = self.gw.access_records(
            1, predicate=lambda r: r.get("request_id") == request_id)
        self.assertEqual(len(records), 1, "expected one line for %s, got %r" %
                         (request_id, records))
        return records[0]

    def test_one_json_line_per_request(self):
        ids = ["log-%s-%d" % (os.urandom(4).hex(), i) for i in range(3)]
        with RawClient(self.gw.port) as client:
            for i, request_id in enumerate(ids):
                resp = client.request(request_bytes(
                    "POST", "/api//echo/./x?i=%d" % i, [("X-Request-Id", request_id),
                                                        ("Content-Length", "5")], body=b"hello"))
                self.assertEqual(resp.status, 200)
                sent_bytes = len(resp.body)
        for request_id in ids:
            r = self.record(request_id)
            for field in self.FIELDS:
                self.assertIn(field, r)
            self.assertRegex(r["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
            self.assertEqual(r["client_ip"], "127.0.0.1")
            self.assertEqual(r["method"], "POST")
            self.assertEqual(r["path"], "/api/echo/x")
            self.assertEqual(r["route"], "api")
            self.assertEqual(r["status"], 200)
            self.assertIsInstance(r["bytes"], int)
            self.assertIsInstance(r["duration_us"], int)
            self.assertIsInstance(r["upstream_us"], int)
            self.assertGreaterEqual(r["duration_us"], r["upstream_us"])
            self.assertIsNone(r["auth"])
            self.assertIsNone(r["limit"])
            self.assertIsNone(r["cache"])
        self.assertEqual(self.record(ids[-1])["bytes"], sent_bytes)
        # Every line is a JSON object on its own line.
        with open(self.gw.access_log_path) as f:
            for line in f:
                self.assertIsInstance(json.loads(line), dict)

    def test_unrouted_request_logged(self):
        request_id = "log-404-" + os.urandom(4).hex()
        with RawClient(self.gw.port) as client:
            resp = client.request(request_bytes("GET", "/missing",
                                                [("X-Request-Id", request_id)]))
            self.assertEqual(resp.status, 404)
        r = self.record(request_id)
        self.assertEqual(r["status"], 404)
        self.assertIsNone(r["route"])
        self.assertIsNone(r["upstream_us"])
        self.assertEqual(r["path"], "/missing")
        self.assertEqual(r["bytes"], len(resp.body))

    def test_generated_request_id_logged(self):
        with RawClient(self.gw.port) as client:
            resp = client.request(request_bytes("GET", "/api/echo?gen"))
        request_id = resp.header("X-Request-Id")
        self.assertRegex(request_id, r"^[0-9a-f]{32}$")
        self.assertEqual(self.record(request_id)["path"], "/api/echo")

    def test_hostile_values_cannot_break_the_line(self):
        request_id = "log-hostile-" + os.urandom(4).hex()
        with RawClient(self.gw.port) as client:
            resp = client.request(request_bytes('GET', '/api/echo/%22quoted%22',
                                                [("X-Request-Id", request_id)]))
            self.assertEqual(resp.status, 200)
        self.assertEqual(self.record(request_id)["path"], "/api/echo/%22quoted%22")


class ReloadTest(GatewayTestCase):
    """Each test starts its own gateway: reload changes it."""

    def setUp(self):
        super().setUp()
        self.origin_server = self.origin()
        self.gw = self.gateway(gateway_config({"origin": [self.origin_server.address]},
                                              api_routes(), workers=1))

    def wait_for_log(self, pattern, timeout=5):
        found = wait_for(lambda: re.search(pattern, self.gw.stderr()), timeout=timeout)
        self.assertTrue(found, "no %r in stderr:\n%s" % (pattern, self.gw.stderr()))

    def test_sighup_with_good_config_applies_and_keeps_connections(self):
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("GET", "/stats"))
        self.assertJsonError(resp, 404, "not_found")
        resp = client.request(request_bytes("GET", "/api/echo?before"))
        self.assertEqual(resp.status, 200)

        cfg = json.loads(json.dumps(self.gw.config))
        cfg["routes"].append({"name": "stats", "match": {"path": "/stats"}, "upstream": "origin"})
        self.gw.write_config(cfg)
        self.gw.process.send_signal(signal.SIGHUP)
        self.wait_for_log(r"reloaded")

        # A new connection sees the new route (once the worker has switched).
        def new_route_served():
            with RawClient(self.gw.port) as fresh:
                return fresh.request(request_bytes("GET", "/stats")).status == 200
        self.assertTrue(wait_for(new_route_served, timeout=3))

        # The keep-alive connection opened before the reload is still open, and its next
        # request starts after the switch, so it is served by the new config.
        resp = client.request(request_bytes("GET", "/stats"))
        self.assertEqual(resp.status, 200, resp)
        self.assertIn("requests", resp.json())
        resp = client.request(request_bytes("GET", "/api/echo?after"))
        self.assertEqual(resp.status, 200)
        self.assertAlive(self.gw)

    def test_sighup_with_bad_config_keeps_old_config(self):
        client = self.raw_client(self.gw)
        self.assertEqual(client.request(request_bytes("GET", "/api/echo")).status, 200)

        cfg = json.loads(json.dumps(self.gw.config))
        cfg["routes"].append({"name": "stats", "match": {"path": "/stats"}, "upstream": "origin"})
        text = yaml_dump(cfg)
        bad_line = text.count("\n") + 1
        text += "bogus_key: 1\n"
        self.gw.write_config(text)
        self.gw.process.send_signal(signal.SIGHUP)
        self.wait_for_log(r"refused")
        self.wait_for_log(re.escape(self.gw.config_path) + r":%d:.*bogus_key" % bad_line)

        self.assertAlive(self.gw)
        # The old config keeps serving, on the old connection and on new ones.
        resp = client.request(request_bytes("GET", "/api/echo?still"))
        self.assertEqual(resp.status, 200)
        with RawClient(self.gw.port) as fresh:
            self.assertEqual(fresh.request(request_bytes("GET", "/api/echo")).status, 200)
            resp = fresh.request(request_bytes("GET", "/stats"))
            self.assertJsonError(resp, 404, "not_found")

    def test_sighup_with_broken_yaml_keeps_old_config(self):
        self.gw.write_config("server: [unclosed\n")
        self.gw.process.send_signal(signal.SIGHUP)
        self.wait_for_log(re.escape(self.gw.config_path) + r":\d+:")
        self.assertAlive(self.gw)
        status, _, _ = self.gw.request("GET", "/api/echo")
        self.assertEqual(status, 200)


class ShutdownTest(GatewayTestCase):

    def start(self, drain_timeout):
        origin = self.origin()
        return self.gateway(gateway_config({"origin": [origin.address]}, api_routes(),
                                           workers=2, server={"drain_timeout": drain_timeout}))

    def test_sigterm_drains_in_flight_request(self):
        gw = self.start("5s")
        idle = self.raw_client(gw)
        self.assertEqual(idle.request(request_bytes("GET", "/api/echo")).status, 200)

        busy = self.raw_client(gw, timeout=10)
        busy.send(request_bytes("GET", "/api/slow?ms=1500"))
        time.sleep(0.3)  # the request is at the upstream now
        sent = time.monotonic()
        gw.process.send_signal(signal.SIGTERM)

        # New connections are refused soon after.
        self.assertTrue(wait_for(lambda: not port_open(gw.port), timeout=2),
                        "the listener still accepts connections after SIGTERM")
        # An idle keep-alive connection is closed.
        self.assertTrue(idle.is_closed(timeout=2), "an idle connection was kept during drain")

        # The in-flight request completes, and its connection closes after it.
        resp = busy.read_response(timeout=5)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json(), {"slept_ms": 1500})
        self.assertTrue(resp.has_token("Connection", "close"), resp)
        self.assertTrue(busy.is_closed(timeout=2))

        code = gw.process.wait(timeout=6)
        elapsed = time.monotonic() - sent
        self.assertEqual(code, 0, gw.process.describe())
        self.assertLess(elapsed, 5.0)
        self.assertGreaterEqual(elapsed, 1.0)

    def test_sigterm_exits_at_drain_timeout(self):
        gw = self.start("500ms")
        busy = self.raw_client(gw, timeout=10)
        busy.send(request_bytes("GET", "/api/slow?ms=5000"))
        time.sleep(0.3)
        sent = time.monotonic()
        gw.process.send_signal(signal.SIGTERM)
        code = gw.process.wait(timeout=5)
        elapsed = time.monotonic() - sent
        self.assertLess(elapsed, 2.5, "drain_timeout 500ms was not honoured")
        self.assertEqual(code, 0, gw.process.describe())
        data, closed = busy.read_until_close(timeout=2)
        self.assertTrue(closed)

    def test_sigterm_when_idle_exits_promptly(self):
        gw = self.start("5s")
        status, _, _ = gw.request("GET", "/api/echo")
        self.assertEqual(status, 200)
        sent = time.monotonic()
        gw.process.send_signal(signal.SIGTERM)
        code = gw.process.wait(timeout=6)
        self.assertEqual(code, 0, gw.process.describe())
        self.assertLess(time.monotonic() - sent, 1.5)


class CliTest(GatewayTestCase):

    def run_cli(self, *args, timeout=10):
        return subprocess.run([BULWARK_BIN] + list(args), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def write(self, text):
        tmp = tempfile.TemporaryDirectory(prefix="bulwark-cli-")
        self.addCleanup(tmp.cleanup)
        path = os.path.join(tmp.name, "config.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    GOOD = yaml_dump(gateway_config({"origin": ["127.0.0.1:1"]}, api_routes(),
                                    listen="127.0.0.1:18999", admin="127.0.0.1:18998"))

    def test_check_good_file(self):
        path = self.write(self.GOOD)
        result = self.run_cli("check", path)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("OK", result.stdout)

    def test_check_bad_file_reports_file_and_lines(self):
        path = self.write(
            "server:\n"                       # 1
            "  listen: 127.0.0.1:18999\n"     # 2
            "  listn: 127.0.0.1:1\n"          # 3  unknown key
            "upstreams:\n"                    # 4
            "  origin:\n"                     # 5
            "    targets: [127.0.0.1:1]\n"    # 6
            "    timeout: 10parsecs\n"        # 7  bad duration
            "routes:\n"                       # 8
            "  - name: api\n"                 # 9
            "    match: {path_prefix: /api/}\n"  # 10
            "    upstream: orign\n")          # 11 unknown upstream
        result = self.run_cli("check", path)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertNotIn("OK", result.stdout)
        for line, word in ((3, "listn"), (7, "timeout"), (11, "orign")):
            self.assertRegex(result.stderr, re.escape(path) + r":%d:.*%s" % (line, word))
        self.assertIn("did you mean", result.stderr)

    def test_check_missing_file(self):
        result = self.run_cli("check", "/nonexistent/bulwark.yaml")
        self.assertEqual(result.returncode, 1)
        self.assertIn("/nonexistent/bulwark.yaml", result.stderr)

    def test_serve_with_bad_file_exits_1(self):
        path = self.write(self.GOOD + "bogus: 1\n")
        result = self.run_cli("serve", "--config", path)
        self.assertEqual(result.returncode, 1)
        self.assertRegex(result.stderr, re.escape(path) + r":\d+:.*bogus")

    def test_version(self):
        result = self.run_cli("--version")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout + result.stderr, r"bulwark \d+\.\d+")

    def test_help(self):
        result = self.run_cli("--help")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("serve", result.stdout)
        self.assertIn("check", result.stdout)

    def test_no_subcommand_is_a_usage_error(self):
        result = self.run_cli()
        self.assertNotEqual(result.returncode, 0)


if __name__ == "__main__":
    unittest.main()
