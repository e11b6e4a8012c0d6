"""Request smuggling: ambiguous or malformed framing is refused (400, 501 for an unknown
transfer coding, 505 for an unsupported version) with Connection: close, the connection is
closed, and the upstream receives nothing at all."""

import json
import time
import unittest

from harness import GatewayTestCase, RawClient, gateway_config, ok_response, request_bytes


def answering_upstream(conn):
    """Answers every complete request with its request line, on a keep-alive connection."""
    while True:
        request = conn.read_request()
        if request is None:
            return
        head, body = request
        line = head.split("\r\n", 1)[0]
        if not conn.send(ok_response(json.dumps({"line": line, "body": len(body)}))):
            return


def head(*lines):
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# (name, bytes, expected status, expected "error")
BAD = 400, "bad_request"
NOT_IMPLEMENTED = 501, "not_implemented"
BAD_VERSION = 505, "http_version_not_supported"

PAYLOADS = [
    ("cl_and_te",
     head("POST /api/x HTTP/1.1", "Host: h", "Content-Length: 5",
          "Transfer-Encoding: chunked") + b"0\r\n\r\n", BAD),
    ("te_and_cl",
     head("POST /api/x HTTP/1.1", "Host: h", "Transfer-Encoding: chunked",
          "Content-Length: 0") + b"0\r\n\r\n", BAD),
    ("two_different_cl",
     head("POST /api/x HTTP/1.1", "Host: h", "Content-Length: 5", "Content-Length: 6")
     + b"hello!", BAD),
    ("two_equal_cl",
     head("POST /api/x HTTP/1.1", "Host: h", "Content-Length: 5", "Content-Length: 5")
     + b"hello", BAD),
    ("cl_list",
     head("POST /api/x HTTP/1.1", "Host: h", "Content-Length: 5, 5") + b"hello", BAD),
    ("cl_plus_sign",
     head("POST /api/x HTTP/1.1", "Host: h", "Content-Length: +5") + b"hello", BAD),
    ("cl_negative",
     head("POST /api/x HTTP/1.1", "Host: h", "Content-Length: -1"), BAD),
    ("cl_hex",
     head("POST /api/x HTTP/1.1", "Host: h", "Content-Length: 0x5") + b"hello", BAD),
    ("te_xchunked",
     head("POST /api/x HTTP/1.1", "Host: h", "Transfer-Encoding: xchunked")
     + b"5\r\nhello\r\n0\r\n\r\n", NOT_IMPLEMENTED),
    ("te_chunked_identity",
     head("POST /api/x HTTP/1.1", "Host: h", "Transfer-Encoding: chunked, identity")
     + b"5\r\nhello\r\n0\r\n\r\n", BAD),
    ("te_identity",
     head("POST /api/x HTTP/1.1", "Host: h", "Transfer-Encoding: identity") + b"hello",
     NOT_IMPLEMENTED),
    ("te_chunked_twice",
     head("POST /api/x HTTP/1.1", "Host: h", "Transfer-Encoding: chunked",
          "Transfer-Encoding: chunked") + b"0\r\n\r\n", BAD),
    ("te_empty_element",
     head("POST /api/x HTTP/1.1", "Host: h", "Transfer-Encoding: ,chunked") + b"0\r\n\r\n",
     BAD),
    ("te_on_http10",
     head("POST /api/x HTTP/1.0", "Host: h", "Transfer-Encoding: chunked")
     + b"5\r\nhello\r\n0\r\n\r\n", BAD),
    ("obs_fold",
     head("GET /api/x HTTP/1.1", "Host: h", "X-Folded: a", " b"), BAD),
    ("obs_fold_tab",
     head("GET /api/x HTTP/1.1", "Host: h", "X-Folded: a", "\tTransfer-Encoding: chunked"), BAD),
    ("bare_lf",
     b"GET /api/x HTTP/1.1\nHost: h\n\n", BAD),
    ("bare_lf_in_one_line",
     b"GET /api/x HTTP/1.1\r\nHost: h\nX-A: b\r\n\r\n", BAD),
    ("bare_cr",
     b"GET /api/x HTTP/1.1\r\nHost: h\rX-A: b\r\n\r\n", BAD),
    ("space_before_colon",
     head("POST /api/x HTTP/1.1", "Host: h", "Content-Length : 5") + b"hello", BAD),
    ("tab_before_colon",
     head("GET /api/x HTTP/1.1", "Host: h", "Transfer-Encoding\t: chunked") + b"0\r\n\r\n", BAD),
    ("nul_in_value",
     head("GET /api/x HTTP/1.1", "Host: h", "X-A: a\x00b"), BAD),
    ("nul_in_name",
     head("GET /api/x HTTP/1.1", "Host: h", "X-\x00A: b"), BAD),
    ("ctl_in_value",
     head("GET /api/x HTTP/1.1", "Host: h", "X-A: a\x01b"), BAD),
    ("bad_chunk_size",
     head("POST /api/x HTTP/1.1", "Host: h", "Transfer-Encoding: chunked")
     + b"zz\r\nhello\r\n0\r\n\r\n", BAD),
    ("chunk_size_overflow",
     head("POST /api/x HTTP/1.1", "Host: h", "Transfer-Encoding: chunked")
     + b"10000000000000000\r\nhello\r\n0\r\n\r\n", BAD),
    ("chunk_size_negative",
     head("POST /api/x HTTP/1.1", "Host: h", "Transfer-Encoding: chunked")
     + b"-5\r\nhello\r\n0\r\n\r\n", BAD),
    ("missing_host",
     head("GET /api/x HTTP/1.1", "X-A: b"), BAD),
    ("two_hosts",
     head("GET /api/x HTTP/1.1", "Host: h", "Host: other"), BAD),
    ("two_equal_hosts",
     head("GET /api/x HTTP/1.1", "Host: h", "Host: h"), BAD),
    ("invalid_host",
     head("GET /api/x HTTP/1.1", "Host: a b"), BAD),
    ("http2_request_line",
     head("GET /api/x HTTP/2.0", "Host: h"), BAD_VERSION),
    ("header_name_with_space",
     head("GET /api/x HTTP/1.1", "Host: h", "X Bad: v"), BAD),
    ("header_name_with_paren",
     head("GET /api/x HTTP/1.1", "Host: h", "X(Bad): v"), BAD),
    ("header_without_colon",
     head("GET /api/x HTTP/1.1", "Host: h", "NoColonHere"), BAD),
    ("request_line_extra_space",
     head("GET  /api/x HTTP/1.1", "Host: h"), BAD),
]


class SmugglingTest(GatewayTestCase):

    @classmethod
    def setUpClass(cls):
        cls.upstream = cls.start_fake(answering_upstream)
        cls.gw = cls.start_gateway(gateway_config(
            {"fake": [cls.upstream.address]},
            [{"name": "api", "match": {"path_prefix": "/api/"}, "upstream": "fake"}],
            workers=2, limits={"header_timeout": "2s", "idle_timeout": "2s"}))

    def check_refused(self, name, payload, expected):
        status, error = expected
        before = len(self.upstream.raw)
        with RawClient(self.gw.port, timeout=3) as client:
            client.send(payload)
            resp = client.read_response()
            self.assertJsonError(resp, status, error)
            self.assertTrue(resp.has_token("Connection", "close"), resp)
            self.assertTrue(client.is_closed(2), "%s: the connection was left open" % name)
        time.sleep(0.05)  # anything sent upstream before the answer has arrived by now
        self.assertEqual(self.upstream.raw[before:], b"",
                         "%s: the upstream received bytes" % name)
        self.assertAlive(self.gw)
        # A valid request on a new connection still works.
        with RawClient(self.gw.port, timeout=3) as client:
            resp = client.request(request_bytes("GET", "/api/after-" + name))
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(resp.json()["line"], "GET /api/after-%s HTTP/1.1" % name)

    def test_valid_baseline(self):
        with RawClient(self.gw.port) as client:
            resp = client.request(head("POST /api/x HTTP/1.1", "Host: h", "Content-Length: 5")
                                  + b"hello")
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(resp.json(), {"line": "POST /api/x HTTP/1.1", "body": 5})
            resp = client.request(head("POST /api/y HTTP/1.1", "Host: h",
                                       "Transfer-Encoding: chunked") + b"5\r\nhello\r\n0\r\n\r\n")
            self.assertEqual(resp.json(), {"line": "POST /api/y HTTP/1.1", "body": 5})

    def test_higher_minor_version_is_served_as_http11(self):
        # RFC 9112 §2.3: HTTP/1.2 is processed as HTTP/1.1 (keep-alive by default).
        with RawClient(self.gw.port) as client:
            resp = client.request(head("GET /api/minor HTTP/1.2", "Host: h"))
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(resp.json()["line"], "GET /api/minor HTTP/1.1")
            self.assertTrue(client.stays_open(0.3))

    def test_smuggled_request_in_body_is_not_a_second_request(self):
        # A Content-Length body that looks like a request stays body.
        inner = b"GET /api/smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
        with RawClient(self.gw.port) as client:
            resp = client.request(head("POST /api/outer HTTP/1.1", "Host: h",
                                       "Content-Length: %d" % len(inner)) + inner)
            self.assertEqual(resp.json(), {"line": "POST /api/outer HTTP/1.1",
                                           "body": len(inner)})
            self.assertTrue(client.stays_open(0.3))
        self.assertNotIn(b"/api/smuggled HTTP/1.1\r\nHost: h\r\n\r\nGET",
                         self.upstream.raw)


def _make_test(name, payload, expected):
    def test(self):
        self.check_refused(name, payload, expected)
    test.__doc__ = "%s → %d %s" % (name, expected[0], expected[1])
    return test


for _name, _payload, _expected in PAYLOADS:
    setattr(SmugglingTest, "test_refused_" + _name, _make_test(_name, _payload, _expected))


if __name__ == "__main__":
    unittest.main()
