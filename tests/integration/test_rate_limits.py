"""Rate limits through the real gateway in front of the real origin: a per-IP limit with its
RateLimit / RateLimit-Policy fields and 429s, a per-user limit after authentication, two limits
on one route where a rejected request consumes nothing, Retry-After honoured, X-Forwarded-For
ignored from an untrusted peer and honoured from a trusted one, shadow mode, the missing-key
policies, the legacy X-RateLimit-* fields, metrics and the log line."""

import http.client
import json
import os
import tempfile
import time
import unittest

from harness import GatewayTestCase, gateway_config, metric
from tokens import claims, hs_token, write_random_secret

ISS = "https://main.test"


def route(name, prefix, limits, **extra):
    r = {"name": name, "match": {"path_prefix": prefix}, "upstream": "origin", "limits": limits}
    r.update(extra)
    return r


class RateLimitTest(GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="bulwark-rl-")
        cls.addClassCleanup(cls._tmp.cleanup)
        cls.secret, secret_file = write_random_secret(cls._tmp.name)
        cls.origin_server = cls.start_origin()
        config = gateway_config(
            {"origin": [cls.origin_server.address]},
            [
                route("per_ip", "/api/echo/ip", ["three_per_minute"]),
                route("user", "/api/echo/user", ["two_per_user"], auth="required"),
                route("pair", "/api/echo/pair", ["five_per_ip", "two_per_key"]),
                route("fast", "/api/echo/fast", ["one_per_second"]),
                route("shadow", "/api/echo/shadow", ["shadow_one"]),
                route("reject", "/api/echo/reject", ["key_or_reject"]),
                route("skip", "/api/echo/skip", ["key_or_skip"]),
                route("fallback", "/api/echo/fallback", ["key_or_ip"]),
                route("legacy", "/api/echo/legacy", ["three_per_minute_l"],
                      limit_headers="legacy"),
                route("proxied", "/api/echo/proxied", ["two_per_client"]),
            ],
            server={"trusted_proxies": ["127.0.0.2/32"]})
        config["auth"] = {"issuers": {"main": {
            "issuer": ISS, "audiences": ["api"],
            "keys": [{"alg": "HS256", "secret_file": secret_file}]}}}
        config["limits"] = {
            "three_per_minute": {"rate": "3/m", "key": "client_ip"},
            "three_per_minute_l": {"rate": "3/m", "key": "client_ip"},
            "two_per_user": {"rate": "2/m", "key": "claim:sub"},
            "five_per_ip": {"rate": "5/m", "key": "client_ip"},
            "two_per_key": {"rate": "2/m", "key": "header:X-Key"},
            "one_per_second": {"rate": "1/s", "key": "client_ip"},
            "shadow_one": {"rate": "1/m", "key": "client_ip", "mode": "shadow"},
            "key_or_reject": {"rate": "100/m", "key": "header:X-Key", "missing": "reject"},
            "key_or_skip": {"rate": "1/m", "key": "header:X-Key", "missing": "skip"},
            "key_or_ip": {"rate": "1/m", "key": "header:X-Key", "missing": "client_ip"},
            "two_per_client": {"rate": "2/m", "key": "client_ip"},
        }
        cls.gw = cls.start_gateway(config)

    def get(self, path, headers=None):
        return self.gw.request("GET", path, headers=headers)

    def assertRateLimited(self, response, limit_name):
        status, headers, body = response
        self.assertEqual(status, 429, body)
        payload = json.loads(body)
        self.assertEqual(payload["error"], "rate_limited")
        self.assertIn(limit_name, payload["detail"])
        self.assertEqual(headers.get("Content-Type"), "application/json")
        return int(headers.get("Retry-After"))

    def test_per_ip_limit_with_ratelimit_fields(self):
        seen = []
        for _ in range(3):
            status, headers, body = self.get("/api/echo/ip")
            self.assertEqual(status, 200, body)
            self.assertEqual(headers.get("RateLimit-Policy"), '"three_per_minute";q=3;w=60')
            seen.append(headers.get("RateLimit"))
        # 3/m: one request every 20 s; the allowance is whole again 20 s after each one.
        self.assertEqual(seen, ['"three_per_minute";r=2;t=20', '"three_per_minute";r=1;t=40',
                                '"three_per_minute";r=0;t=60'])
        response = self.get("/api/echo/ip")
        retry_after = self.assertRateLimited(response, "three_per_minute")
        self.assertTrue(19 <= retry_after <= 20, retry_after)
        self.assertEqual(response[1].get("RateLimit"),
                         '"three_per_minute";r=0;t=%d' % retry_after)
        line = [l for l in self.gw.stderr().splitlines()
                if '"event":"rate_limited"' in l and '"three_per_minute"' in l]
        self.assertTrue(line, self.gw.stderr()[-2000:])
        record = json.loads(line[0])
        self.assertEqual(record["route"], "per_ip")
        self.assertEqual(record["client_ip"], "127.0.0.1")

    def test_per_user_limit_after_authentication(self):
        alice = hs_token(self.secret, claims(ISS, sub="alice"))
        bob = hs_token(self.secret, claims(ISS, sub="bob"))
        for _ in range(2):
            self.assertEqual(self.get("/api/echo/user", {"Authorization": "Bearer " + alice})[0],
                             200)
        self.assertRateLimited(self.get("/api/echo/user", {"Authorization": "Bearer " + alice}),
                               "two_per_user")
        self.assertEqual(self.get("/api/echo/user", {"Authorization": "Bearer " + bob})[0], 200)
        # A new token for alice is still alice.
        alice2 = hs_token(self.secret, claims(ISS, sub="alice", ttl=200))
        self.assertRateLimited(self.get("/api/echo/user", {"Authorization": "Bearer " + alice2}),
                               "two_per_user")
        # Unauthenticated requests are refused by auth, not counted.
        self.assertEqual(self.get("/api/echo/user")[0], 401)

    def test_two_limits_and_a_rejected_request_consumes_nothing(self):
        # five_per_ip (client) and two_per_key (X-Key) both apply.
        for _ in range(2):
            self.assertEqual(self.get("/api/echo/pair", {"X-Key": "k1"})[0], 200)
        for _ in range(3):  # refused by two_per_key: must not use five_per_ip's allowance
            self.assertRateLimited(self.get("/api/echo/pair", {"X-Key": "k1"}), "two_per_key")
        for _ in range(2):
            self.assertEqual(self.get("/api/echo/pair", {"X-Key": "k2"})[0], 200)
        self.assertEqual(self.get("/api/echo/pair", {"X-Key": "k3"})[0], 200)  # 5th for the IP
        self.assertRateLimited(self.get("/api/echo/pair", {"X-Key": "k4"}), "five_per_ip")

    def test_retry_after_is_honoured(self):
        time.sleep(1.05)  # whatever other tests left of this limit has come back
        self.assertEqual(self.get("/api/echo/fast")[0], 200)
        retry_after = self.assertRateLimited(self.get("/api/echo/fast"), "one_per_second")
        self.assertEqual(retry_after, 1)
        time.sleep(retry_after + 0.05)
        self.assertEqual(self.get("/api/echo/fast")[0], 200)

    def test_shadow_mode_rejects_nothing_and_counts(self):
        before = metric(self.gw.metrics(), "bulwark_limit_requests_total", limit="shadow_one",
                        verdict="shadow_rejected")
        for _ in range(4):
            self.assertEqual(self.get("/api/echo/shadow")[0], 200)
        after = metric(self.gw.metrics(), "bulwark_limit_requests_total", limit="shadow_one",
                       verdict="shadow_rejected")
        self.assertEqual(after - before, 3)
        self.assertIn('"event":"rate_limited_shadow"', self.gw.stderr())

    def test_missing_key_reject(self):
        status, _, body = self.get("/api/echo/reject")
        self.assertEqual(status, 429, body)
        self.assertEqual(json.loads(body)["error"], "rate_limited")
        self.assertEqual(self.get("/api/echo/reject", {"X-Key": "a"})[0], 200)

    def test_missing_key_skip(self):
        for _ in range(3):
            self.assertEqual(self.get("/api/echo/skip")[0], 200)
        self.assertEqual(self.get("/api/echo/skip", {"X-Key": "a"})[0], 200)
        self.assertRateLimited(self.get("/api/echo/skip", {"X-Key": "a"}), "key_or_skip")

    def test_missing_key_falls_back_to_the_client_address(self):
        self.assertEqual(self.get("/api/echo/fallback")[0], 200)
        self.assertRateLimited(self.get("/api/echo/fallback"), "key_or_ip")
        # A request with the key is counted by the key, apart from the address.
        self.assertEqual(self.get("/api/echo/fallback", {"X-Key": "z"})[0], 200)

    def test_legacy_fields(self):
        status, headers, _ = self.get("/api/echo/legacy")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("X-RateLimit-Limit"), "3")
        self.assertEqual(headers.get("X-RateLimit-Remaining"), "2")
        self.assertEqual(headers.get("X-RateLimit-Reset"), "20")
        self.assertIsNone(headers.get("RateLimit"))

    def send_from(self, source, xff, header="X-Forwarded-For"):
        conn = http.client.HTTPConnection("127.0.0.1", self.gw.port, timeout=10,
                                          source_address=(source, 0))
        try:
            conn.request("GET", "/api/echo/proxied", headers={header: xff})
            return conn.getresponse().status
        finally:
            conn.close()

    def test_forwarded_for_ignored_from_untrusted_and_honoured_from_trusted_peers(self):
        # From 127.0.0.3 (untrusted): every spoofed X-Forwarded-For is the same client.
        statuses = [self.send_from("127.0.0.3", "203.0.113.%d" % i) for i in range(3)]
        self.assertEqual(statuses, [200, 200, 429])
        # From 127.0.0.2 (trusted): each X-Forwarded-For client has its own allowance.
        statuses = [self.send_from("127.0.0.2", "198.51.100.%d" % (i % 2)) for i in range(4)]
        self.assertEqual(statuses, [200, 200, 200, 200])
        self.assertEqual(self.send_from("127.0.0.2", "198.51.100.0"), 429)

    def test_forwarded_header_from_a_trusted_peer(self):
        statuses = [self.send_from("127.0.0.2", 'for="[2001:db8::%d]:443";proto=https' % (i % 2),
                                   header="Forwarded") for i in range(4)]
        self.assertEqual(statuses, [200, 200, 200, 200])
        self.assertEqual(self.send_from("127.0.0.2", "for=[2001:db8::1]", header="Forwarded"),
                         429)

    def test_metrics_count_allowed_and_rejected(self):
        m = self.gw.metrics()
        self.assertGreaterEqual(metric(m, "bulwark_limit_requests_total",
                                       limit="three_per_minute", verdict="allowed"), 0)
        name = "one_per_second"
        allowed = metric(m, "bulwark_limit_requests_total", limit=name, verdict="allowed")
        rejected = metric(m, "bulwark_limit_requests_total", limit=name, verdict="rejected")
        time.sleep(1.05)
        self.get("/api/echo/fast")
        self.get("/api/echo/fast")
        m = self.gw.metrics()
        self.assertEqual(metric(m, "bulwark_limit_requests_total", limit=name,
                                verdict="allowed"), allowed + 1)
        self.assertEqual(metric(m, "bulwark_limit_requests_total", limit=name,
                                verdict="rejected"), rejected + 1)

    def test_access_log_records_the_limit_outcome(self):
        self.get("/api/echo/reject", {"X-Key": "acc", "X-Request-Id": "rl-acc-1"})
        records = self.gw.access_records(count=1,
                                         predicate=lambda r: r.get("request_id") == "rl-acc-1")
        self.assertEqual(records[0]["limit"], "ok")


if __name__ == "__main__":
    unittest.main()
