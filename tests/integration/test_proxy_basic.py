"""The proxy's everyday behaviour: methods and bodies, framing conversions, keep-alive,
pipelining, hop-by-hop and forwarded headers, request ids, Expect: 100-continue, HTTP/1.0."""

import hashlib
import json
import os
import unittest

from harness import (GatewayTestCase, chunked, gateway_config, http_request, metric,
                     request_bytes)

WORKERS = 2


def pattern(n):
    """The origin's streamed body: byte i is 'a' + i % 26."""
    unit = bytes(range(ord("a"), ord("a") + 26))
    return (unit * (n // 26 + 1))[:n]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def routes():
    return [
        {"name": "api", "match": {"path_prefix": "/api/"}, "upstream": "origin"},
        {"name": "stats", "match": {"path": "/stats", "methods": ["GET"]}, "upstream": "origin"},
    ]


class ProxyBasicTest(GatewayTestCase):

    @classmethod
    def setUpClass(cls):
        cls.origin_server = cls.start_origin()
        cls.gw = cls.start_gateway(
            gateway_config({"origin": [cls.origin_server.address]}, routes(), workers=WORKERS))

    def echo(self, method="GET", path="/api/echo", body=None, headers=None):
        status, resp_headers, data = self.gw.request(method, path, body=body, headers=headers)
        self.assertEqual(status, 200, data)
        return json.loads(data), resp_headers

    # -- methods and bodies ------------------------------------------------------------------

    def test_get_reaches_origin(self):
        echo, headers = self.echo("GET", "/api/echo/some/where?a=1&b=2")
        self.assertEqual(echo["method"], "GET")
        self.assertEqual(echo["path"], "/api/echo/some/where")
        self.assertEqual(echo["query"], "a=1&b=2")
        self.assertEqual(echo["body_bytes"], 0)

    def test_post_body_relayed_intact(self):
        body = os.urandom(300 * 1024)
        echo, _ = self.echo("POST", "/api/echo", body=body,
                            headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(echo["method"], "POST")
        self.assertEqual(echo["body_bytes"], len(body))
        self.assertEqual(echo["body_sha256"], sha256(body))
        self.assertEqual(echo["headers"]["content-length"], str(len(body)))

    def test_put_body_relayed_intact(self):
        body = b"put-body-" + os.urandom(1000).hex().encode()
        echo, _ = self.echo("PUT", "/api/echo", body=body)
        self.assertEqual(echo["method"], "PUT")
        self.assertEqual(echo["body_sha256"], sha256(body))

    def test_put_then_get_data(self):
        key = "k-" + os.urandom(4).hex()
        value = "value with spaces and \u00e9 " + os.urandom(8).hex()
        status, _, data = self.gw.request("PUT", "/api/data/" + key, body=value.encode("utf-8"))
        self.assertEqual(status, 200, data)
        self.assertEqual(json.loads(data), {"key": key, "stored": True})
        status, headers, data = self.gw.request("GET", "/api/data/" + key)
        self.assertEqual(status, 200, data)
        self.assertEqual(json.loads(data), {"key": key, "value": value})
        self.assertIsNotNone(headers.get("ETag"))
        status, _, data = self.gw.request("DELETE", "/api/data/" + key)
        self.assertEqual(status, 204, data)
        status, _, data = self.gw.request("GET", "/api/data/" + key)
        self.assertEqual(status, 404, data)

    def test_chunked_request_body_relayed_intact(self):
        body = os.urandom(50000)
        client = self.raw_client(self.gw)
        client.send(request_bytes("POST", "/api/echo",
                                  [("Transfer-Encoding", "chunked"),
                                   ("Content-Type", "application/octet-stream")]) +
                    chunked(body, size=4093))
        resp = client.read_response()
        self.assertEqual(resp.status, 200, resp)
        echo = resp.json()
        self.assertEqual(echo["body_bytes"], len(body))
        self.assertEqual(echo["body_sha256"], sha256(body))
        self.assertNotIn("content-length", echo["headers"])
        self.assertIn("chunked", echo["headers"].get("transfer-encoding", ""))
        # The connection is still usable afterwards.
        resp = client.request(request_bytes("GET", "/api/echo?after=1"))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["query"], "after=1")

    def test_chunked_request_body_with_extensions_and_trailer(self):
        body = b"hello, chunked world"
        framed = (b"5;ext=1\r\nhello\r\n" + b"%x\r\n" % (len(body) - 5) + body[5:] + b"\r\n"
                  b"0\r\nX-Trailer: t\r\n\r\n")
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("POST", "/api/echo",
                                            [("Transfer-Encoding", "chunked")]) + framed)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["body_sha256"], sha256(body))

    # -- responses -----------------------------------------------------------------------------

    def test_chunked_upstream_response_relayed_intact(self):
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("GET", "/api/chunked?n=37&size=1001"))
        self.assertEqual(resp.status, 200, resp)
        self.assertTrue(resp.chunked, resp)
        self.assertIsNone(resp.header("Content-Length"))
        self.assertEqual(resp.body, pattern(37 * 1001))
        # Then the same connection serves another request.
        resp = client.request(request_bytes("GET", "/api/chunked?n=2&size=3&delay_ms=20"))
        self.assertEqual(resp.body, pattern(6))

    def test_large_response_streamed_intact(self):
        size = 5_000_000
        client = self.raw_client(self.gw, timeout=20)
        resp = client.request(request_bytes("GET", "/api/big?bytes=%d" % size))
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.header("Content-Length"), str(size))
        self.assertEqual(len(resp.body), size)
        self.assertEqual(sha256(resp.body), sha256(pattern(size)))
        self.assertStaysOpen(client, resp)

    def test_head(self):
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("HEAD", "/api/big?bytes=1234"), head_request=True)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.header("Content-Length"), "1234")
        self.assertIsNotNone(resp.header("X-Request-Id"))
        # No body bytes follow the head: the next response on the connection parses cleanly.
        resp = client.request(request_bytes("GET", "/api/echo?next=1"))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["method"], "GET")
        # HEAD on a chunked resource: no body, not even a last-chunk.
        resp = client.request(request_bytes("HEAD", "/api/chunked"), head_request=True)
        self.assertEqual(resp.status, 200, resp)
        resp = client.request(request_bytes("GET", "/api/echo?next=2"))
        self.assertEqual(resp.json()["query"], "next=2")

    # -- keep-alive and pipelining -------------------------------------------------------------

    def test_keep_alive_reuse_to_upstream(self):
        before_conns = self.origin_server.stats()["connections"]  # counts its own connection
        before_reuses = metric(self.gw.metrics(), "bulwark_upstream_reuses_total")
        n = 20
        for i in range(n):
            status, _, data = self.gw.request("GET", "/api/echo?i=%d" % i)
            self.assertEqual(status, 200, data)
        after_conns = self.origin_server.stats()["connections"]
        opened_by_gateway = after_conns - before_conns - 1
        self.assertLessEqual(opened_by_gateway, WORKERS,
                             "bulwark opened %d upstream connections for %d sequential requests"
                             % (opened_by_gateway, n))
        after_reuses = metric(self.gw.metrics(), "bulwark_upstream_reuses_total")
        self.assertGreaterEqual(after_reuses - before_reuses, n - WORKERS)

    def test_keep_alive_on_one_client_connection(self):
        client = self.raw_client(self.gw)
        for i in range(5):
            resp = client.request(request_bytes("GET", "/api/echo?n=%d" % i))
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(resp.json()["query"], "n=%d" % i)
            self.assertFalse(resp.has_token("Connection", "close"))
        self.assertStaysOpen(client)

    def test_pipelined_requests_answered_in_order(self):
        client = self.raw_client(self.gw)
        client.send(request_bytes("GET", "/api/slow?ms=150") +
                    request_bytes("POST", "/api/echo/second", body=b"abc",
                                  headers=[("Content-Length", "3")]) +
                    request_bytes("GET", "/api/echo/third") +
                    request_bytes("HEAD", "/api/echo/fourth") +
                    request_bytes("GET", "/api/chunked?n=2&size=4"))
        first = client.read_response()
        self.assertEqual(first.status, 200, first)
        self.assertEqual(first.json(), {"slept_ms": 150})
        second = client.read_response()
        self.assertEqual(second.json()["path"], "/api/echo/second")
        self.assertEqual(second.json()["body_sha256"], sha256(b"abc"))
        third = client.read_response()
        self.assertEqual(third.json()["path"], "/api/echo/third")
        fourth = client.read_response(head_request=True)
        self.assertEqual(fourth.status, 200)
        fifth = client.read_response()
        self.assertEqual(fifth.body, pattern(8))
        self.assertStaysOpen(client, fifth)

    # -- headers -------------------------------------------------------------------------------

    def test_hop_by_hop_headers_not_forwarded(self):
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("GET", "/api/echo", [
            ("Connection", "keep-alive, X-Foo"),
            ("X-Foo", "must-not-pass"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Upgrade", "websocket"),
            ("Proxy-Connection", "keep-alive"),
            ("Trailer", "X-Checksum"),
            ("X-Kept", "yes"),
        ]))
        self.assertEqual(resp.status, 200, resp)
        headers = resp.json()["headers"]
        for name in ("x-foo", "keep-alive", "te", "upgrade", "proxy-connection", "trailer"):
            self.assertNotIn(name, headers, headers)
        self.assertNotIn("x-foo", headers.get("connection", "").lower())
        self.assertEqual(headers.get("x-kept"), "yes")
        self.assertStaysOpen(client, resp)

    def test_hop_by_hop_headers_in_response_not_relayed(self):
        # The origin sends "Connection: close" when asked to: that is the upstream's
        # connection, not the client's, which stays open.
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("GET", "/api/echo", [("X-Origin-Close", "1")]))
        self.assertEqual(resp.status, 200, resp)
        self.assertStaysOpen(client, resp)
        resp = client.request(request_bytes("GET", "/api/echo?again=1"))
        self.assertEqual(resp.status, 200, resp)

    def test_forwarded_headers_set(self):
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("GET", "/api/echo", host="api.example.com:8443"))
        self.assertEqual(resp.status, 200, resp)
        headers = resp.json()["headers"]
        self.assertEqual(headers.get("x-forwarded-for"), "127.0.0.1")
        self.assertEqual(headers.get("x-forwarded-proto"), "http")
        self.assertEqual(headers.get("x-forwarded-host"), "api.example.com:8443")
        self.assertEqual(headers.get("host"), "api.example.com:8443")

    def test_via_added_to_forwarded_request(self):
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("GET", "/api/echo", [("Via", "1.0 fred")]))
        self.assertEqual(resp.status, 200, resp)
        # RFC 9110 §7.6.3: the gateway extends the client's Via list.
        self.assertEqual(resp.json()["headers"].get("via"), "1.0 fred, 1.1 bulwark")

    def test_trace_is_refused_and_not_forwarded(self):
        before = self.origin_server.stats()["requests"]
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("TRACE", "/api/echo", [("Cookie", "secret=1")]))
        self.assertJsonError(resp, 405, "method_not_allowed")
        self.assertIn("GET", resp.header("Allow"))
        self.assertNotIn(b"secret", resp.body)
        self.assertEqual(self.origin_server.stats()["requests"], before)
        # The connection stays usable.
        self.assertEqual(client.request(request_bytes("GET", "/api/echo")).status, 200)

    def test_options_with_max_forwards_zero_is_answered_by_bulwark(self):
        before = self.origin_server.stats()["requests"]
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("OPTIONS", "/api/echo", [("Max-Forwards", "0")]))
        self.assertEqual(resp.status, 200, resp)
        # The api route takes any method: Allow lists the common ones.
        self.assertEqual(resp.header("Allow"), "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
        self.assertEqual(resp.header("Content-Length"), "0")
        self.assertEqual(self.origin_server.stats()["requests"], before)

    def test_options_max_forwards_decremented(self):
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("OPTIONS", "/api/echo", [("Max-Forwards", "5")]))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["headers"].get("max-forwards"), "4")

    def test_own_error_responses_carry_date(self):
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("GET", "/nowhere"))
        self.assertJsonError(resp, 404, "not_found")
        self.assertRegex(resp.header("Date") or "",
                         r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|"
                         r"Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")

    def test_untrusted_forwarded_headers_replaced(self):
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("GET", "/api/echo", [
            ("X-Forwarded-For", "203.0.113.9"),
            ("X-Forwarded-For", "198.51.100.7"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "evil.example"),
            ("X-Real-IP", "203.0.113.9"),
            ("Forwarded", "for=203.0.113.9"),
        ], host="good.example"))
        self.assertEqual(resp.status, 200, resp)
        headers = resp.json()["headers"]
        self.assertEqual(headers.get("x-forwarded-for"), "127.0.0.1")
        self.assertEqual(headers.get("x-forwarded-proto"), "http")
        self.assertEqual(headers.get("x-forwarded-host"), "good.example")
        self.assertNotIn("x-real-ip", headers)
        self.assertNotIn("forwarded", headers)

    # -- request ids ---------------------------------------------------------------------------

    def check_request_id(self, sent, expect_kept):
        headers = [("X-Request-Id", sent)] if sent is not None else []
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("GET", "/api/echo", headers))
        self.assertEqual(resp.status, 200, resp)
        returned = resp.header("X-Request-Id")
        forwarded = resp.json()["headers"].get("x-request-id")
        self.assertEqual(len(resp.header_all("X-Request-Id")), 1, resp)
        if expect_kept:
            self.assertEqual(returned, sent)
        else:
            self.assertRegex(returned, r"^[0-9a-f]{32}$")
            self.assertNotEqual(returned, sent)
        self.assertEqual(forwarded, returned)
        return returned

    def test_request_id_kept_when_valid(self):
        self.check_request_id("req-123_abc.DEF:9", expect_kept=True)

    def test_request_id_generated_when_absent(self):
        a = self.check_request_id(None, expect_kept=False)
        b = self.check_request_id(None, expect_kept=False)
        self.assertNotEqual(a, b)

    def test_request_id_replaced_when_invalid(self):
        self.check_request_id("has spaces in it", expect_kept=False)
        self.check_request_id("x" * 200, expect_kept=False)
        self.check_request_id("semi;colon", expect_kept=False)

    # -- Expect: 100-continue and HTTP/1.0 -----------------------------------------------------

    def test_expect_100_continue(self):
        body = b"the body after 100"
        client = self.raw_client(self.gw)
        client.send(request_bytes("POST", "/api/echo", [("Content-Length", str(len(body))),
                                                        ("Expect", "100-continue")]))
        interim = client.read_response(skip_interim=False, timeout=3)
        self.assertEqual(interim.status, 100, interim)
        client.send(body)
        final = client.read_response()
        self.assertEqual(final.status, 200, final)
        echo = final.json()
        self.assertEqual(echo["body_sha256"], sha256(body))
        self.assertNotIn("expect", echo["headers"])
        self.assertStaysOpen(client, final)

    def test_http10_client_gets_no_chunked_encoding(self):
        client = self.raw_client(self.gw)
        client.send(b"GET /api/chunked?n=3&size=10 HTTP/1.0\r\n\r\n")
        resp = client.read_response()
        self.assertEqual(resp.status, 200, resp)
        self.assertIsNone(resp.header("Transfer-Encoding"), resp)
        self.assertEqual(resp.body, pattern(30))
        self.assertTrue(client.is_closed(2), "an HTTP/1.0 response without length must close")

    def test_http10_content_length_response(self):
        client = self.raw_client(self.gw)
        client.send(b"GET /api/echo HTTP/1.0\r\n\r\n")
        resp = client.read_response()
        self.assertEqual(resp.status, 200, resp)
        self.assertIsNone(resp.header("Transfer-Encoding"), resp)
        self.assertIsNotNone(resp.header("Content-Length"), resp)
        self.assertEqual(resp.json()["method"], "GET")
        self.assertTrue(client.is_closed(2), "HTTP/1.0 without keep-alive must close")

    def test_http10_keep_alive(self):
        client = self.raw_client(self.gw)
        resp = client.request(b"GET /api/echo?one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        self.assertEqual(resp.status, 200, resp)
        self.assertIsNone(resp.header("Transfer-Encoding"), resp)
        self.assertTrue(resp.has_token("Connection", "keep-alive"), resp)
        resp = client.request(b"GET /api/echo?two HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        self.assertEqual(resp.json()["query"], "two")


class TrustedProxyTest(GatewayTestCase):
    """With server.trusted_proxies covering the client, X-Forwarded-* are extended."""

    @classmethod
    def setUpClass(cls):
        cls.origin_server = cls.start_origin()
        cls.gw = cls.start_gateway(gateway_config(
            {"origin": [cls.origin_server.address]}, routes(), workers=1,
            server={"trusted_proxies": ["127.0.0.0/8"]}))

    def test_x_forwarded_for_appended(self):
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("GET", "/api/echo", [
            ("X-Forwarded-For", "203.0.113.9"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "public.example"),
        ], host="internal.example"))
        self.assertEqual(resp.status, 200, resp)
        headers = resp.json()["headers"]
        self.assertEqual(headers.get("x-forwarded-for"), "203.0.113.9, 127.0.0.1")
        self.assertEqual(headers.get("x-forwarded-proto"), "https")
        self.assertEqual(headers.get("x-forwarded-host"), "public.example")

    def test_two_x_forwarded_for_fields_joined(self):
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("GET", "/api/echo", [
            ("X-Forwarded-For", "203.0.113.9"),
            ("X-Forwarded-For", "198.51.100.7"),
        ]))
        headers = resp.json()["headers"]
        self.assertEqual(headers.get("x-forwarded-for"), "203.0.113.9, 198.51.100.7, 127.0.0.1")

    def test_without_incoming_header(self):
        status, _, data = http_request(self.gw.port, "GET", "/api/echo")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(data)["headers"].get("x-forwarded-for"), "127.0.0.1")


if __name__ == "__main__":
    unittest.main()
