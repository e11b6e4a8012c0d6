"""Upstream failures: refused and timed-out connects (502), no answer in time (504), garbage or
an early close (502), a close mid-response, stale pooled connections and retries (never for
a non-idempotent request), round robin and failover across targets, and the error metrics."""

import socket
import time
import unittest

from harness import (GatewayTestCase, PortReservation, RawClient, gateway_config, metric,
                     ok_response, request_bytes)

# -- fake upstream behaviours ------------------------------------------------------------------


def silent(conn):
    """Reads the request and never answers."""
    conn.read_request()
    conn.hold()


def garbage(conn):
    if conn.read_request() is not None:
        conn.send(b"this is not http at all\r\n\r\n")


def close_before_response(conn):
    conn.read_request()


def close_mid_response(conn):
    request = conn.read_request()
    if request is None:
        return
    if "/chunked" in request[0].split("\r\n", 1)[0]:
        conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"a\r\n0123456789\r\n")
    else:
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 100)
    time.sleep(0.05)


def close_when_idle(conn):
    """Answers with keep-alive, then closes the connection once it sits idle for 50 ms."""
    while True:
        request = conn.read_request(timeout=0.05 if conn.requests else 10)
        if request is None:
            return
        conn.send(ok_response("idle-closer %d" % conn.index))


def close_on_second_request(conn):
    """Answers the first request of each connection; reads the second and closes without a
    byte, as an upstream does when its keep-alive timer fires just as a request arrives."""
    if conn.read_request() is None:
        return
    conn.send(ok_response("first on connection %d" % conn.index))
    conn.read_request()


def blackhole_listener():
    """A listener whose accept queue is full (backlog 0, never accepts, one connection
    queued): further SYNs are dropped, so connects time out. Returns (listener, filler, ok)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    port = listener.getsockname()[1]
    ok = False
    for _ in range(4):
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.settimeout(0.3)
        try:
            probe.connect(("127.0.0.1", port))
            fillers.append(probe)
        except (socket.timeout, OSError):
            probe.close()
            ok = True
            break
    return listener, fillers, ok


class UpstreamErrorsTest(GatewayTestCase):

    @classmethod
    def setUpClass(cls):
        cls.closed_port = PortReservation(reuseport=False)  # bound, never listening: refused
        cls.addClassCleanup(cls.closed_port.release)
        cls.listener, cls.fillers, cls.blackhole_ok = blackhole_listener()
        cls.addClassCleanup(cls.listener.close)
        for f in cls.fillers:
            cls.addClassCleanup(f.close)

        cls.origin1 = cls.start_origin()
        cls.origin2 = cls.start_origin()
        cls.fakes = {
            "silent": cls.start_fake(silent),
            "garbage": cls.start_fake(garbage),
            "closer": cls.start_fake(close_before_response),
            "midclose": cls.start_fake(close_mid_response),
            "idlecloser": cls.start_fake(close_when_idle),
            "racer": cls.start_fake(close_on_second_request),
        }
        closed = "127.0.0.1:%d" % cls.closed_port.port
        upstreams = {
            "refused": {"targets": [closed], "connect_timeout": "500ms"},
            "blackhole": {"targets": ["127.0.0.1:%d" % cls.listener.getsockname()[1]],
                          "connect_timeout": "300ms"},
            "pair": [cls.origin1.address, cls.origin2.address],
            "failover": {"targets": [closed, cls.origin1.address], "connect_timeout": "500ms"},
        }
        for name, fake in cls.fakes.items():
            upstreams[name] = {"targets": [fake.address], "timeout": "500ms"}
        # Fakes answer any path: routed by path prefix. Origins serve /api/...: routed by host.
        routes = [{"name": name, "match": {"host": name + ".test"}, "upstream": name}
                  for name in ("pair", "failover")]
        routes += [{"name": name, "match": {"path_prefix": "/%s/" % name}, "upstream": name}
                   for name in upstreams if name not in ("pair", "failover")]
        cls.gw = cls.start_gateway(gateway_config(upstreams, routes, workers=1))

    def errors(self, upstream, kind):
        return metric(self.gw.metrics(), "bulwark_upstream_errors_total",
                      upstream=upstream, kind=kind)

    def get(self, path, client=None, method="GET", body=None, host="example.test"):
        headers = []
        if body is not None:
            headers.append(("Content-Length", str(len(body))))
        client = client or RawClient(self.gw.port, timeout=5)
        client.send(request_bytes(method, path, headers, body=body or b"", host=host))
        resp = client.read_response()
        return resp, client

    def assert_error_and_close(self, path, status, error):
        resp, client = self.get(path)
        with client:
            body = self.assertJsonError(resp, status, error)
            self.assertIn("detail", body)
            self.assertRegex(resp.header("X-Request-Id", ""), r"^[0-9a-f]{32}$")
            self.assertClosesAfter(client, resp)
        return resp

    def assert_still_works(self):
        resp, client = self.get("/api/echo", host="pair.test")
        with client:
            self.assertEqual(resp.status, 200, resp)

    # -- connect failures ----------------------------------------------------------------------

    def test_502_when_upstream_port_closed(self):
        before = self.errors("refused", "connect")
        self.assert_error_and_close("/refused/x", 502, "bad_gateway")
        self.assertEqual(self.errors("refused", "connect"), before + 1)
        self.assert_still_works()

    def test_502_when_connect_times_out(self):
        if not self.blackhole_ok:
            self.skipTest("a loopback connect timeout could not be produced here (the kernel "
                          "accepted every connection to a full backlog-0 listener)")
        before = self.errors("blackhole", "connect")
        start = time.monotonic()
        self.assert_error_and_close("/blackhole/x", 502, "bad_gateway")
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, 0.25)
        self.assertLess(elapsed, 2.0)
        self.assertEqual(self.errors("blackhole", "connect"), before + 1)
        self.assert_still_works()

    def test_failover_to_next_target_when_one_refuses(self):
        before = self.origin1.stats()["requests"]
        for i in range(4):
            resp, client = self.get("/api/echo?i=%d" % i, host="failover.test")
            with client:
                self.assertEqual(resp.status, 200, resp)
        self.assertEqual(self.origin1.stats()["requests"], before + 4)

    # -- answers that never come or make no sense ----------------------------------------------

    def test_504_when_upstream_never_answers(self):
        before = self.errors("silent", "timeout")
        start = time.monotonic()
        self.assert_error_and_close("/silent/x", 504, "gateway_timeout")
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, 0.45)
        self.assertLess(elapsed, 2.0)
        self.assertEqual(self.errors("silent", "timeout"), before + 1)
        self.assert_still_works()

    def test_502_when_upstream_sends_garbage(self):
        before = self.errors("garbage", "bad_response")
        self.assert_error_and_close("/garbage/x", 502, "bad_gateway")
        self.assertEqual(self.errors("garbage", "bad_response"), before + 1)
        self.assert_still_works()

    def test_502_when_upstream_closes_before_response(self):
        fake = self.fakes["closer"]
        before_requests = fake.request_count()
        before = sum(self.errors("closer", k) for k in ("reset", "bad_response"))
        self.assert_error_and_close("/closer/x", 502, "bad_gateway")
        # A fresh connection that failed is not retried.
        self.assertEqual(fake.request_count(), before_requests + 1)
        self.assertEqual(sum(self.errors("closer", k) for k in ("reset", "bad_response")),
                         before + 1)
        self.assert_still_works()

    def read_truncated(self, path):
        """Sends GET `path` to an upstream that closes mid-response; returns what the client
        got before bulwark closed the connection (failing if it hangs)."""
        with RawClient(self.gw.port, timeout=5) as client:
            client.send(request_bytes("GET", path))
            start = time.monotonic()
            data, closed = client.read_until_close(timeout=3)
            self.assertTrue(closed, "the client connection hung after the upstream closed "
                                    "mid-response; got %r" % data[:200])
            self.assertLess(time.monotonic() - start, 2.0)
        return data

    def test_upstream_close_mid_response_closes_client(self):
        before = self.errors("midclose", "reset") + self.errors("midclose", "timeout")
        data = self.read_truncated("/midclose/x")
        # The head and the 100 bytes that came are relayed; then the close shows the client
        # (Content-Length: 1000) that the body is incomplete.
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
        self.assertIn(b"Content-Length: 1000", data)
        self.assertEqual(data.split(b"\r\n\r\n", 1)[1], b"x" * 100)
        self.assertEqual(self.errors("midclose", "reset") + self.errors("midclose", "timeout"),
                         before + 1)
        self.assert_still_works()

    def test_upstream_close_mid_chunked_response_closes_client(self):
        data = self.read_truncated("/midclose/chunked")
        if data.startswith(b"HTTP/1.1 200"):
            # Relayed as far as it came: no last-chunk may be invented, or the truncated body
            # would look complete.
            self.assertNotIn(b"\r\n0\r\n\r\n", data)
        elif data:
            # Nothing was relayed yet: a 502 is the other correct answer.
            self.assertTrue(data.startswith(b"HTTP/1.1 502"), data[:200])
        self.assert_still_works()

    # -- pooled connections and retries --------------------------------------------------------

    def test_idle_pooled_connection_closed_by_upstream_is_not_used(self):
        # Each request comes after the upstream closed the pooled connection of the one
        # before: bulwark must notice and use a new connection, for GET and POST alike.
        fake = self.fakes["idlecloser"]
        before = fake.request_count()
        with RawClient(self.gw.port, timeout=5) as client:
            for method, path, body in (("GET", "/idlecloser/a", None),
                                       ("GET", "/idlecloser/b", None),
                                       ("POST", "/idlecloser/c", b"once"),
                                       ("POST", "/idlecloser/d", b"twice")):
                resp, _ = self.get(path, client=client, method=method, body=body)
                self.assertEqual(resp.status, 200, resp)
                time.sleep(0.2)  # the upstream closes its side of the pooled connection
        self.assertEqual(fake.request_count() - before, 4)
        posts = [r for r in fake.requests[before:] if r.startswith(b"POST")]
        self.assertEqual(len(posts), 2, posts)

    def test_stale_pooled_connection_get_is_retried(self):
        fake = self.fakes["racer"]
        before = fake.request_count()
        with RawClient(self.gw.port, timeout=5) as client:
            resp, _ = self.get("/racer/first", client=client)
            self.assertEqual(resp.status, 200, resp)
            resp, _ = self.get("/racer/second", client=client)
            self.assertEqual(resp.status, 200, resp)
            self.assertStaysOpen(client, resp, 0.1)
        seconds = [r for r in fake.requests[before:] if r.startswith(b"GET /racer/second ")]
        self.assertEqual(len(seconds), 2, "expected one lost attempt and one retry")

    def test_stale_pooled_connection_post_is_not_retried(self):
        fake = self.fakes["racer"]
        before = fake.request_count()
        with RawClient(self.gw.port, timeout=5) as client:
            resp, _ = self.get("/racer/warm", client=client)
            self.assertEqual(resp.status, 200, resp)
            resp, _ = self.get("/racer/order", client=client, method="POST", body=b"pay 100")
            self.assertJsonError(resp, 502, "bad_gateway")
            self.assertClosesAfter(client, resp)
        posts = [r for r in fake.requests[before:] if r.startswith(b"POST /racer/order ")]
        self.assertEqual(len(posts), 1, "a POST was sent %d times" % len(posts))

    def test_stale_pooled_connection_bodyless_post_is_not_retried(self):
        fake = self.fakes["racer"]
        before = fake.request_count()
        with RawClient(self.gw.port, timeout=5) as client:
            resp, _ = self.get("/racer/warm2", client=client)
            self.assertEqual(resp.status, 200, resp)
            resp, _ = self.get("/racer/bodyless", client=client, method="POST")
            self.assertJsonError(resp, 502, "bad_gateway")
        posts = [r for r in fake.requests[before:] if r.startswith(b"POST /racer/bodyless ")]
        self.assertEqual(len(posts), 1, "a POST was sent %d times" % len(posts))

    def test_post_to_silent_upstream_sent_once(self):
        fake = self.fakes["silent"]
        before = fake.request_count()
        resp, client = self.get("/silent/pay", method="POST", body=b"x")
        with client:
            self.assertJsonError(resp, 504, "gateway_timeout")
        time.sleep(0.1)
        posts = [r for r in fake.requests[before:] if r.startswith(b"POST /silent/pay ")]
        self.assertEqual(len(posts), 1)

    # -- several targets -----------------------------------------------------------------------

    def test_round_robin_across_two_origins(self):
        before1 = self.origin1.stats()["requests"]
        before2 = self.origin2.stats()["requests"]
        for i in range(10):
            resp, client = self.get("/api/echo?i=%d" % i, host="pair.test")
            with client:
                self.assertEqual(resp.status, 200, resp)
        grew1 = self.origin1.stats()["requests"] - before1
        grew2 = self.origin2.stats()["requests"] - before2
        self.assertEqual(grew1 + grew2, 10)
        self.assertGreaterEqual(grew1, 4, (grew1, grew2))
        self.assertGreaterEqual(grew2, 4, (grew1, grew2))


if __name__ == "__main__":
    unittest.main()
