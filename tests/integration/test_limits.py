"""server.limits: header size (431), body size (413), header timeout (408), idle timeout,
max_connections (503 overloaded)."""

import select
import time
import unittest

from harness import GatewayTestCase, RawClient, gateway_config, request_bytes


def routes():
    return [
        {"name": "api", "match": {"path_prefix": "/api/"}, "upstream": "origin"},
        {"name": "stats", "match": {"path": "/stats", "methods": ["GET"]}, "upstream": "origin"},
    ]


class LimitsTest(GatewayTestCase):

    @classmethod
    def setUpClass(cls):
        cls.origin_server = cls.start_origin()
        cls.gw = cls.start_gateway(gateway_config(
            {"origin": [cls.origin_server.address]}, routes(), workers=2,
            limits={"max_header_bytes": "4KiB", "max_body_bytes": "1KiB",
                    "header_timeout": "1s", "idle_timeout": "1s"}))

    def origin_requests(self):
        return self.origin_server.stats()["requests"]

    def assert_still_works(self):
        with RawClient(self.gw.port) as client:
            resp = client.request(request_bytes("GET", "/api/echo?still=works"))
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(resp.json()["query"], "still=works")

    # -- header size ---------------------------------------------------------------------------

    def test_head_within_limit_passes(self):
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("GET", "/api/echo", [("X-Big", "a" * 3000)]))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["headers"]["x-big"], "a" * 3000)

    def test_431_for_head_over_max_header_bytes(self):
        before = self.origin_requests()
        client = self.raw_client(self.gw)
        client.send(request_bytes("GET", "/api/echo", [("X-Big", "a" * 5000)]))
        resp = client.read_response()
        self.assertJsonError(resp, 431, "request_header_fields_too_large")
        self.assertClosesAfter(client, resp)
        self.assertEqual(self.origin_requests(), before, "the upstream saw the request")
        self.assert_still_works()

    def test_431_for_many_small_headers(self):
        client = self.raw_client(self.gw)
        headers = [("X-H%d" % i, "v" * 40) for i in range(120)]  # ~6 KB
        client.send(request_bytes("GET", "/api/echo", headers))
        resp = client.read_response()
        self.assertJsonError(resp, 431, "request_header_fields_too_large")
        self.assertClosesAfter(client, resp)

    def test_431_for_head_without_end(self):
        # No blank line ever comes: the limit still applies to what has been buffered.
        client = self.raw_client(self.gw)
        client.send(b"GET /api/echo HTTP/1.1\r\nHost: x\r\nX-Endless: " + b"b" * 6000)
        resp = client.read_response()
        self.assertJsonError(resp, 431, "request_header_fields_too_large")
        self.assertClosesAfter(client, resp)

    # -- body size -----------------------------------------------------------------------------

    def test_body_within_limit_passes(self):
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("POST", "/api/echo", [("Content-Length", "1024")],
                                            body=b"x" * 1024))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["body_bytes"], 1024)

    def test_413_for_content_length_over_max_body_bytes(self):
        before = self.origin_requests()
        client = self.raw_client(self.gw)
        client.send(request_bytes("POST", "/api/echo", [("Content-Length", "2000")]))
        resp = client.read_response()
        self.assertJsonError(resp, 413, "payload_too_large")
        self.assertClosesAfter(client, resp)
        self.assertEqual(self.origin_requests(), before, "the upstream saw the request")
        self.assert_still_works()

    def test_413_for_chunked_body_growing_over_max_body_bytes(self):
        client = self.raw_client(self.gw)
        piece = b"y" * 512
        body = b"".join(b"200\r\n" + piece + b"\r\n" for _ in range(3)) + b"0\r\n\r\n"
        client.send(request_bytes("POST", "/api/echo", [("Transfer-Encoding", "chunked")]) +
                    body)
        resp = client.read_response()
        self.assertJsonError(resp, 413, "payload_too_large")
        self.assertClosesAfter(client, resp)
        self.assert_still_works()

    # -- time limits ---------------------------------------------------------------------------

    def trickle(self, client, lines, interval):
        """Sends one line every `interval` seconds until the server answers or closes."""
        for line in lines:
            if not client.try_send(line):
                return
            readable, _, _ = select.select([client.sock], [], [], interval)
            if readable:
                return

    def test_408_when_head_trickles_slower_than_header_timeout(self):
        client = self.raw_client(self.gw, timeout=5)
        start = time.monotonic()
        client.send(b"GET /api/echo HTTP/1.1\r\nHost: x\r\n")
        self.trickle(client, [b"X-Trickle-%d: v\r\n" % i for i in range(20)], 0.2)
        resp = client.read_response(timeout=3)
        elapsed = time.monotonic() - start
        self.assertJsonError(resp, 408, "request_timeout")
        self.assertClosesAfter(client, resp)
        self.assertGreaterEqual(elapsed, 0.8)
        self.assertLess(elapsed, 2.5)
        self.assert_still_works()

    def test_408_for_partial_head_on_keep_alive_connection(self):
        client = self.raw_client(self.gw, timeout=5)
        resp = client.request(request_bytes("GET", "/api/echo?first"))
        self.assertEqual(resp.status, 200, resp)
        client.send(b"GET /api/echo?second HTTP/1.1\r\nHost: x\r\n")  # never finished
        start = time.monotonic()
        resp = client.read_response(timeout=3)
        self.assertJsonError(resp, 408, "request_timeout")
        self.assertClosesAfter(client, resp)
        self.assertLess(time.monotonic() - start, 2.5)

    def test_silent_connection_closed_after_header_timeout(self):
        # Nothing was ever sent: a 408 is allowed but not required; the close is.
        client = self.raw_client(self.gw, timeout=5)
        start = time.monotonic()
        client.is_closed(timeout=3)
        self.assertTrue(client.eof, "a silent connection was kept open")
        self.assertGreaterEqual(time.monotonic() - start, 0.8)
        if client.buf:
            client.eof = False  # parse what came before the close
            resp = client.read_response(timeout=1)
            self.assertJsonError(resp, 408, "request_timeout")
            self.assertTrue(resp.has_token("Connection", "close"), resp)

    def test_idle_keep_alive_connection_closed_after_idle_timeout(self):
        client = self.raw_client(self.gw, timeout=5)
        resp = client.request(request_bytes("GET", "/api/echo"))
        self.assertEqual(resp.status, 200, resp)
        self.assertFalse(resp.has_token("Connection", "close"))
        start = time.monotonic()
        self.assertTrue(client.is_closed(timeout=3), "the idle connection was kept open")
        elapsed = time.monotonic() - start
        self.assertEqual(client.buf, b"", "bytes were sent on an idle connection")
        self.assertGreaterEqual(elapsed, 0.8)
        self.assertLess(elapsed, 2.5)

    def test_active_keep_alive_connection_outlives_idle_timeout(self):
        # Requests 0.5 s apart: each resets the idle clock, so 2 s of use is fine.
        client = self.raw_client(self.gw, timeout=5)
        for i in range(4):
            resp = client.request(request_bytes("GET", "/api/echo?i=%d" % i))
            self.assertEqual(resp.status, 200, resp)
            time.sleep(0.5)
        resp = client.request(request_bytes("GET", "/api/echo?last"))
        self.assertEqual(resp.status, 200, resp)


class MaxConnectionsTest(GatewayTestCase):

    @classmethod
    def setUpClass(cls):
        cls.origin_server = cls.start_origin()
        cls.gw = cls.start_gateway(gateway_config(
            {"origin": [cls.origin_server.address]}, routes(), workers=2,
            limits={"max_connections": 3, "idle_timeout": "10s", "header_timeout": "5s"}))

    def test_503_overloaded_over_max_connections(self):
        held = []
        for i in range(3):
            client = self.raw_client(self.gw)
            resp = client.request(request_bytes("GET", "/api/echo?held=%d" % i))
            self.assertEqual(resp.status, 200, resp)
            held.append(client)

        fourth = self.raw_client(self.gw)
        fourth.try_send(request_bytes("GET", "/api/echo?fourth"))
        resp = fourth.read_response()
        body = self.assertJsonError(resp, 503, "overloaded")
        self.assertIn("detail", body)
        self.assertTrue(resp.has_token("Connection", "close"), resp)
        self.assertTrue(fourth.is_closed(2))

        # The held connections are unaffected.
        resp = held[0].request(request_bytes("GET", "/api/echo?still"))
        self.assertEqual(resp.status, 200, resp)

        # Once one closes, a new connection is served.
        held.pop().close()
        deadline = time.monotonic() + 3
        while True:
            with RawClient(self.gw.port) as fresh:
                fresh.try_send(request_bytes("GET", "/api/echo?fresh"))
                resp = fresh.read_response()
            if resp.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["query"], "fresh")


if __name__ == "__main__":
    unittest.main()
