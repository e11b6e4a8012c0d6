"""Hardening against hostile peers (review fixes in src/server/connection.cpp and
src/proxy/message_head.cpp):

* framing fields (Content-Length, Transfer-Encoding) and Host are written from what the
  parser understood, so a Connection list naming them cannot smuggle a body as a request,
  on requests as on responses;
* OPTIONS (Max-Forwards: 0) and TRACE answered by bulwark keep the connection only without a
  request body;
* read buffers are bounded: an endless chunk extension or trailer section is a 400, not a
  wait for the idle timeout;
* at most a few 1xx responses from an upstream; invalid upstream status codes and transfer
  codings are a 502; 204 never carries Content-Length; duplicate Content-Length collapses;
* no 100 Continue to an HTTP/1.0 client; header names with '_' are dropped; Date is added
  when the upstream sent none; HTTP/1.0 keep-alive on bulwark's own errors; pipelining past
  a 404;
* drain closes connections that have not sent a byte.

Each case also checks that a normal request still works afterwards."""

import email.utils
import json
import re
import select
import signal
import socket
import time
import unittest
from datetime import datetime, timezone

from harness import (GatewayTestCase, RawClient, gateway_config, ok_response, parse_message,
                     request_bytes)

IMF_FIXDATE = (r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|"
               r"Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")
ALL_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"


def head_fields(head_text, name):
    """The values of every `name` field in a raw head (case-insensitive)."""
    return [m.group(1).strip() for m in
            re.finditer(r"(?im)^%s:[ \t]*([^\r\n]*)\r?$" % re.escape(name), head_text)]


def recording_upstream(conn):
    """Answers every complete request with what it received: the request line, the head and
    the body (latin-1), on a keep-alive connection."""
    while True:
        request = conn.read_request()
        if request is None:
            return
        head, body = request
        reply = json.dumps({"line": head.split("\r\n", 1)[0], "head": head,
                            "body": body.decode("latin-1")})
        if not conn.send(ok_response(reply, extra_headers=[("Content-Type",
                                                            "application/json")])):
            return


UPSTREAM_DATE = "Tue, 15 Nov 1994 08:12:31 GMT"

# Responses of the scripted upstream, by request path: (bytes, keep the connection).
SCRIPTED = {
    "/resp/plain": (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDate: " + UPSTREAM_DATE.encode() +
                    b"\r\n\r\nplain", True),
    "/resp/connection-content-length":
        (b"HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 5\r\n\r\nhello",
         True),
    "/resp/gzip-chunked":
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
         False),
    "/resp/status-099": (b"HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n", False),
    # A 204 has no body whatever its Content-Length says: nothing follows the head.
    "/resp/204-with-length": (b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", True),
    "/resp/duplicate-length":
        (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", True),
    "/resp/no-date": (b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nno-date", True),
    "/resp/with-date": (b"HTTP/1.1 200 OK\r\nDate: " + UPSTREAM_DATE.encode() +
                        b"\r\nContent-Length: 9\r\n\r\nwith-date", True),
}
EARLY_HINT = b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n"


def scripted_upstream(conn):
    """Answers by path from SCRIPTED; /resp/early-hints gets 103 responses until bulwark
    stops reading (bounded, so a broken gateway cannot make this thread spin forever)."""
    while True:
        request = conn.read_request()
        if request is None:
            return
        path = request[0].split("\r\n", 1)[0].split(" ")[1].split("?")[0]
        if path == "/resp/early-hints":
            for _ in range(20000):
                if not conn.send(EARLY_HINT):
                    return
            conn.wait_closed(timeout=5)
            return
        data, keep = SCRIPTED.get(path, (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
                                         True))
        if not conn.send(data) or not keep:
            return


class HardeningTest(GatewayTestCase):

    @classmethod
    def setUpClass(cls):
        cls.origin_server = cls.start_origin()
        cls.recorder = cls.start_fake(recording_upstream)
        cls.scripted = cls.start_fake(scripted_upstream)
        cls.gw = cls.start_gateway(gateway_config(
            {"origin": [cls.origin_server.address],
             "rec": {"targets": [cls.recorder.address], "timeout": "3s"},
             "scripted": {"targets": [cls.scripted.address], "timeout": "3s"}},
            [{"name": "notfound", "match": {"host": "nf.test", "path_prefix": "/"},
              "upstream": "origin"},
             {"name": "echo", "match": {"path_prefix": "/api/echo"}, "upstream": "origin"},
             {"name": "api", "match": {"path_prefix": "/api/"}, "upstream": "rec"},
             {"name": "scripted", "match": {"path_prefix": "/resp/"}, "upstream": "scripted"}],
            workers=2, limits={"header_timeout": "5s", "idle_timeout": "5s"}))

    # -- helpers -------------------------------------------------------------------------------

    def assert_still_works(self):
        """bulwark is alive and proxies a normal request on a new connection."""
        self.assertAlive(self.gw)
        with RawClient(self.gw.port, timeout=3) as client:
            resp = client.request(request_bytes("GET", "/api/echo?still=works"))
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(resp.json()["query"], "still=works")
            self.assertStaysOpen(client, resp, 0.05)

    def recorded_since(self, before_raw, settle=0.15):
        """The bytes the recording upstream got since `before_raw`, once nothing more comes."""
        time.sleep(settle)
        with self.recorder.lock:
            return self.recorder.raw[before_raw:]

    def assert_one_request_received(self, delta):
        """`delta` is exactly one whole request: returns (head, body)."""
        parsed = parse_message(delta)
        self.assertIsNotNone(parsed, "the upstream got no whole request: %r" % delta[:500])
        head, body, used = parsed
        self.assertEqual(delta[used:], b"",
                         "the upstream got bytes after the request (a second request?):\n%r"
                         % delta[used:][:500])
        return head, body

    def read_until_readable(self, client, pieces, interval=0.02):
        """Sends `pieces` one by one until the server answers or closes (send fails)."""
        sent = 0
        for piece in pieces:
            if not client.try_send(piece):
                break
            sent += len(piece)
            readable, _, _ = select.select([client.sock], [], [], interval)
            if readable:
                break
        return sent

    # -- 1. Connection naming a framing field or Host --------------------------------------------

    def test_connection_content_length_cannot_smuggle_body_as_request(self):
        inner = b"GET /internal/admin HTTP/1.1\r\nHost: a\r\n\r\n"
        n = len(inner)
        before = len(self.recorder.raw)
        before_count = self.recorder.request_count()
        client = self.raw_client(self.gw)
        resp = client.request(b"POST /api/x HTTP/1.1\r\nHost: a\r\nConnection: content-length\r\n"
                              b"Content-Length: %d\r\n\r\n" % n + inner)
        self.assertEqual(resp.status, 200, resp)
        echo = resp.json()
        self.assertEqual(echo["line"], "POST /api/x HTTP/1.1")
        self.assertEqual(echo["body"], inner.decode())
        self.assertEqual(head_fields(echo["head"], "Content-Length"), [str(n)], echo["head"])
        # The same connection serves the next request (no response was left over).
        resp = client.request(request_bytes("GET", "/api/after-smuggle", host="a"))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["line"], "GET /api/after-smuggle HTTP/1.1")
        self.assertStaysOpen(client, resp, 0.05)

        # The upstream got exactly two requests, the POST (its body intact) and the GET.
        delta = self.recorded_since(before)
        received = []
        while delta:
            parsed = parse_message(delta)
            self.assertIsNotNone(parsed, "unparsable bytes at the upstream: %r" % delta[:300])
            received.append(parsed[:2])
            delta = delta[parsed[2]:]
        lines = [h.split("\r\n", 1)[0] for h, _ in received]
        self.assertEqual(lines, ["POST /api/x HTTP/1.1", "GET /api/after-smuggle HTTP/1.1"])
        head, body = received[0]
        self.assertEqual(head_fields(head, "Content-Length"), [str(n)], head)
        self.assertEqual(head_fields(head, "Transfer-Encoding"), [], head)
        self.assertEqual(body, inner)
        self.assertEqual(self.recorder.request_count() - before_count, 2)
        self.assert_still_works()

    def test_connection_transfer_encoding_cannot_smuggle_body_as_request(self):
        inner = b"GET /internal/admin HTTP/1.1\r\nHost: a\r\n\r\n"
        framed = b"%x\r\n" % len(inner) + inner + b"\r\n0\r\n\r\n"
        before = len(self.recorder.raw)
        client = self.raw_client(self.gw)
        resp = client.request(b"POST /api/te HTTP/1.1\r\nHost: a\r\n"
                              b"Connection: transfer-encoding\r\n"
                              b"Transfer-Encoding: chunked\r\n\r\n" + framed)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["body"], inner.decode())
        head, body = self.assert_one_request_received(self.recorded_since(before))
        self.assertTrue(head.startswith("POST /api/te HTTP/1.1\r\n"), head)
        self.assertEqual(head_fields(head, "Transfer-Encoding"), ["chunked"], head)
        self.assertEqual(head_fields(head, "Content-Length"), [], head)
        self.assertEqual(body, inner)
        resp = client.request(request_bytes("GET", "/api/after-te", host="a"))
        self.assertEqual(resp.json()["line"], "GET /api/after-te HTTP/1.1")
        self.assert_still_works()

    def test_connection_host_cannot_remove_host(self):
        before = len(self.recorder.raw)
        client = self.raw_client(self.gw)
        resp = client.request(b"GET /api/x-host HTTP/1.1\r\nHost: a\r\nConnection: host\r\n\r\n")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(head_fields(resp.json()["head"], "Host"), ["a"], resp.json()["head"])
        head, body = self.assert_one_request_received(self.recorded_since(before))
        self.assertTrue(head.startswith("GET /api/x-host HTTP/1.1\r\n"), head)
        self.assertEqual(head_fields(head, "Host"), ["a"], head)
        self.assertEqual(body, b"")
        self.assertStaysOpen(client, resp, 0.05)
        self.assert_still_works()

    # -- 2. OPTIONS / TRACE answered by bulwark, with a body ------------------------------------

    SMUGGLED = b"GET /api/smuggled HTTP/1.1\r\nHost: a\r\n\r\n"

    def check_answered_then_closed(self, request, status, error=None):
        before = len(self.recorder.raw)
        client = self.raw_client(self.gw)
        client.send(request)
        resp = client.read_response(timeout=3)
        self.assertEqual(resp.status, status, resp)
        if error is not None:
            self.assertJsonError(resp, status, error)
        self.assertIsNotNone(resp.header("Allow"), resp)
        self.assertEqual(resp.header("Allow"), ALL_METHODS, resp)
        # Closed, and nothing else (no answer to the smuggled request) before the close.
        self.assertTrue(resp.has_token("Connection", "close"), resp)
        data, closed = client.read_until_close(timeout=2)
        self.assertTrue(closed, "the connection was left open")
        self.assertEqual(data, b"", "a second response followed: %r" % data[:300])
        self.assertEqual(self.recorded_since(before, settle=0.1), b"",
                         "the upstream received bytes")
        self.assert_still_works()
        return resp

    def test_options_max_forwards_zero_with_body_answers_then_closes(self):
        resp = self.check_answered_then_closed(
            b"OPTIONS /api/x HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n"
            b"Content-Length: %d\r\n\r\n" % len(self.SMUGGLED) + self.SMUGGLED, 200)
        self.assertEqual(resp.header("Content-Length"), "0", resp)

    def test_options_max_forwards_zero_with_chunked_body_answers_then_closes(self):
        framed = b"%x\r\n" % len(self.SMUGGLED) + self.SMUGGLED + b"\r\n0\r\n\r\n"
        self.check_answered_then_closed(
            b"OPTIONS /api/x HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + framed + self.SMUGGLED, 200)

    def test_options_max_forwards_zero_without_body_keeps_connection(self):
        client = self.raw_client(self.gw)
        resp = client.request(b"OPTIONS /api/x HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n\r\n")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.header("Allow"), ALL_METHODS, resp)
        self.assertStaysOpen(client, resp, 0.1)
        resp = client.request(request_bytes("GET", "/api/echo?after-options"))
        self.assertEqual(resp.json()["query"], "after-options")

    def test_trace_with_body_refused_then_closes(self):
        self.check_answered_then_closed(
            b"TRACE /api/x HTTP/1.1\r\nHost: a\r\n"
            b"Content-Length: %d\r\n\r\n" % len(self.SMUGGLED) + self.SMUGGLED,
            405, "method_not_allowed")

    # -- 3. and 4. upstream response framing ---------------------------------------------------

    def test_upstream_connection_content_length_keeps_framing(self):
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("GET", "/resp/connection-content-length"))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.header_all("Content-Length"), ["5"], resp)
        self.assertIsNone(resp.header("Transfer-Encoding"), resp)
        self.assertEqual(resp.body, b"hello")
        self.assertNotIn("content-length", resp.header("Connection", "").lower(), resp)
        # Framing held: the next response on the same client connection parses cleanly.
        resp = client.request(request_bytes("GET", "/resp/plain"))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body, b"plain")
        self.assertStaysOpen(client, resp, 0.05)
        self.assert_still_works()

    def check_bad_gateway(self, path, max_seconds=1.0):
        client = self.raw_client(self.gw)
        start = time.monotonic()
        resp = client.request(request_bytes("GET", path), timeout=4)
        elapsed = time.monotonic() - start
        body = self.assertJsonError(resp, 502, "bad_gateway")
        self.assertIn("detail", body)
        self.assertClosesAfter(client, resp)
        self.assertLess(elapsed, max_seconds, "the 502 took %.2fs" % elapsed)
        self.assert_still_works()
        return body

    def test_upstream_transfer_coding_other_than_chunked_is_502(self):
        self.check_bad_gateway("/resp/gzip-chunked")

    def test_upstream_status_below_100_is_502(self):
        self.check_bad_gateway("/resp/status-099")

    def test_upstream_204_with_content_length_relayed_without_it(self):
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("GET", "/resp/204-with-length"))
        self.assertEqual(resp.status, 204, resp)
        self.assertEqual(resp.header_all("Content-Length"), [], resp)
        self.assertIsNone(resp.header("Transfer-Encoding"), resp)
        resp = client.request(request_bytes("GET", "/resp/plain"))
        self.assertEqual(resp.body, b"plain", resp)
        self.assertStaysOpen(client, resp, 0.05)
        self.assert_still_works()

    def test_upstream_duplicate_equal_content_length_collapsed(self):
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("GET", "/resp/duplicate-length"))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.header_all("Content-Length"), ["3"], resp)
        self.assertEqual(resp.raw_head.lower().count(b"content-length"), 1, resp.raw_head)
        self.assertEqual(resp.body, b"abc")
        resp = client.request(request_bytes("GET", "/resp/plain"))
        self.assertEqual(resp.body, b"plain", resp)
        self.assert_still_works()

    # -- 5. unbounded chunk framing lines and trailers ------------------------------------------

    def check_oversized_framing(self, path, prefix, filler):
        before_count = self.recorder.request_count()
        client = self.raw_client(self.gw, timeout=5)
        start = time.monotonic()
        client.send(b"POST %s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                    % path.encode() + prefix)
        pieces = [filler[i:i + 16384] for i in range(0, len(filler), 16384)]
        self.read_until_readable(client, pieces)
        try:
            resp = client.read_response(timeout=4)
        except (socket.timeout, ConnectionError) as e:
            self.fail("no answer %.1fs after the oversized framing (idle_timeout is 5s): %s"
                      % (time.monotonic() - start, e))
        elapsed = time.monotonic() - start
        self.assertJsonError(resp, 400, "bad_request")
        self.assertTrue(resp.has_token("Connection", "close"), resp)
        self.assertTrue(client.is_closed(2), "the connection was left open")
        self.assertLess(elapsed, 2.0, "the 400 took %.2fs (idle_timeout is 5s)" % elapsed)
        time.sleep(0.05)
        self.assertEqual(self.recorder.request_count(), before_count,
                         "the upstream received a whole request")
        self.assert_still_works()

    def test_endless_chunk_extension_is_400(self):
        self.check_oversized_framing("/api/chunk-ext", b"1;ext=", b"a" * (300 * 1024))

    def test_endless_trailer_section_is_400(self):
        trailer = b"".join(b"X-Trailer-%05d: %s\r\n" % (i, b"t" * 40)
                           for i in range(300 * 1024 // 60))
        self.check_oversized_framing("/api/trailer", b"5\r\nhello\r\n0\r\n", trailer)

    # -- 6. endless 1xx ------------------------------------------------------------------------

    def test_endless_early_hints_is_502(self):
        body = self.check_bad_gateway("/resp/early-hints")
        self.assertIn("1xx", body["detail"])

    # -- 7. Expect: 100-continue from HTTP/1.0 ------------------------------------------------

    def test_no_100_continue_to_http10_client(self):
        body = b"ten bytes!"
        client = self.raw_client(self.gw)
        client.send(b"POST /api/echo HTTP/1.0\r\nHost: a\r\nExpect: 100-continue\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body))
        readable, _, _ = select.select([client.sock], [], [], 0.2)
        if readable:
            self.fail("bulwark answered before the body: %r" % client.sock.recv(300))
        client.send(body)
        data, closed = client.read_until_close(timeout=3)
        self.assertTrue(closed, "HTTP/1.0 without keep-alive must close")
        self.assertNotIn(b"100 Continue", data)
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:300])
        client.buf, client.eof = data, False
        resp = client.read_response(timeout=1)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["body_bytes"], len(body))
        self.assertNotIn("expect", resp.json()["headers"])
        self.assert_still_works()

    # -- 8. header names with underscores ------------------------------------------------------

    def test_underscore_header_names_dropped(self):
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("GET", "/api/echo", [
            ("X_Forwarded_For", "6.6.6.6"),
            ("X_Real_IP", "6.6.6.6"),
            ("Some_Header", "v"),
            ("Some-Header", "dash"),
        ]))
        self.assertEqual(resp.status, 200, resp)
        headers = resp.json()["headers"]
        for name in ("x_forwarded_for", "x_real_ip", "some_header"):
            self.assertNotIn(name, headers, headers)
        self.assertNotIn("6.6.6.6", json.dumps(headers))
        self.assertEqual(headers.get("some-header"), "dash", headers)
        self.assertEqual(headers.get("x-forwarded-for"), "127.0.0.1", headers)
        self.assertStaysOpen(client, resp, 0.05)
        self.assert_still_works()

    # -- 10. Date on proxied responses ---------------------------------------------------------

    def test_date_added_when_upstream_sends_none(self):
        client = self.raw_client(self.gw)
        resp = client.request(request_bytes("GET", "/resp/no-date"))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body, b"no-date")
        dates = resp.header_all("Date")
        self.assertEqual(len(dates), 1, resp)
        self.assertRegex(dates[0], IMF_FIXDATE)
        sent = email.utils.parsedate_to_datetime(dates[0])
        self.assertLess(abs((datetime.now(timezone.utc) - sent).total_seconds()), 60, dates[0])
        resp = client.request(request_bytes("GET", "/resp/with-date"))
        self.assertEqual(resp.body, b"with-date")
        self.assertEqual(resp.header_all("Date"), [UPSTREAM_DATE], resp)
        self.assert_still_works()

    # -- 11. HTTP/1.0 keep-alive on bulwark's own errors ----------------------------------------

    def test_http10_keep_alive_kept_on_404(self):
        client = self.raw_client(self.gw)
        resp = client.request(b"GET /nowhere HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        self.assertJsonError(resp, 404, "not_found")
        self.assertTrue(resp.has_token("Connection", "keep-alive"), resp)
        self.assertFalse(resp.has_token("Connection", "close"), resp)
        self.assertTrue(client.stays_open(0.1), "the connection was closed")
        resp = client.request(b"GET /api/echo?second HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["query"], "second")
        self.assertTrue(resp.has_token("Connection", "keep-alive"), resp)

    # -- 12. pipelining past a 404 -------------------------------------------------------------

    def test_pipelined_after_upstream_404(self):
        client = self.raw_client(self.gw)
        client.send(request_bytes("GET", "/api/x", host="nf.test") +
                    request_bytes("GET", "/api/echo?second", host="nf.test"))
        first = client.read_response(timeout=3)
        self.assertEqual(first.status, 404, first)
        second = client.read_response(timeout=3)
        self.assertEqual(second.status, 200, second)
        self.assertEqual(second.json()["query"], "second")
        self.assertStaysOpen(client, second, 0.05)

    def test_pipelined_after_own_404(self):
        client = self.raw_client(self.gw)
        client.send(request_bytes("GET", "/nowhere/x") +
                    request_bytes("GET", "/api/echo?second") +
                    request_bytes("GET", "/nowhere/y"))
        first = client.read_response(timeout=3)
        self.assertJsonError(first, 404, "not_found")
        second = client.read_response(timeout=3)
        self.assertEqual(second.status, 200, second)
        self.assertEqual(second.json()["query"], "second")
        third = client.read_response(timeout=3)
        self.assertJsonError(third, 404, "not_found")
        self.assertStaysOpen(client, third, 0.05)


# -- 9. drain ----------------------------------------------------------------------------------


class DrainTest(GatewayTestCase):

    def test_sigterm_closes_connection_that_sent_nothing(self):
        upstream = self.fake(recording_upstream)
        gw = self.gateway(gateway_config(
            {"rec": [upstream.address]},
            [{"name": "api", "match": {"path_prefix": "/api/"}, "upstream": "rec"}],
            workers=2, limits={"header_timeout": "5s"}, server={"drain_timeout": "10s"}))
        with RawClient(gw.port, timeout=3) as client:
            self.assertEqual(client.request(request_bytes("GET", "/api/ok")).status, 200)
        silent = self.raw_client(gw, timeout=5)
        time.sleep(0.2)  # accepted by a worker, waiting for a first byte
        sent = time.monotonic()
        gw.process.send_signal(signal.SIGTERM)
        self.assertTrue(silent.is_closed(timeout=4), "the silent connection was kept open")
        closed_after = time.monotonic() - sent
        code = gw.process.wait(timeout=12)
        exited_after = time.monotonic() - sent
        self.assertEqual(code, 0, gw.process.describe())
        self.assertLess(closed_after, 1.5, "the silent connection closed after %.2fs"
                        % closed_after)
        self.assertLess(exited_after, 2.0, "bulwark exited %.2fs after SIGTERM" % exited_after)
        if silent.buf:  # an answer is allowed only as a refusal that closes
            silent.eof = False
            resp = silent.read_response(timeout=1)
            self.assertIn(resp.status, (408, 503), resp)
            self.assertTrue(resp.has_token("Connection", "close"), resp)


if __name__ == "__main__":
    unittest.main()
