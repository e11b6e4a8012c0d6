"""Path normalization and routing through the real gateway: dot segments, duplicate slashes,
percent-encoding, refused forms (400), case, 404/405, host matching and absolute-form targets.

The upstream is a fake that answers every request with the request line and Host it received,
so each case checks both the route chosen (from the access log, found by request id) and
exactly what the upstream saw."""

import json
import os
import unittest

from harness import GatewayTestCase, RawClient, gateway_config, ok_response


def reporting_upstream(conn):
    while True:
        request = conn.read_request()
        if request is None:
            return
        head, _ = request
        lines = head.split("\r\n")
        host = [l.split(":", 1)[1].strip() for l in lines[1:] if l.lower().startswith("host:")]
        body = json.dumps({"line": lines[0], "target": lines[0].split(" ")[1],
                           "host": host[0] if host else None})
        if not conn.send(ok_response(body, extra_headers=[("Content-Type", "application/json")])):
            return


ROUTES = [
    {"name": "host-exact", "match": {"host": "a.example.com", "path_prefix": "/h/"},
     "upstream": "fake"},
    {"name": "host-wild", "match": {"host": "*.example.com", "path_prefix": "/h/"},
     "upstream": "fake"},
    {"name": "host-any", "match": {"path_prefix": "/h/"}, "upstream": "fake"},
    {"name": "public", "match": {"path": "/public", "methods": ["GET", "HEAD"]},
     "upstream": "fake"},
    {"name": "admin-only", "match": {"path_prefix": "/admin"}, "upstream": "fake"},
    {"name": "api", "match": {"path_prefix": "/api/"}, "upstream": "fake"},
    {"name": "writes", "match": {"path": "/write", "methods": ["POST", "PUT"]},
     "upstream": "fake"},
]

# (case name, request-target, expected route, request-target the upstream sees)
ROUTED = [
    ("plain", "/api/x", "api", "/api/x"),
    ("dotdot_to_admin", "/api/../admin", "admin-only", "/admin"),
    ("dotdot_to_admin_sub", "/api/../admin/users", "admin-only", "/admin/users"),
    ("dot_segment", "/api/./x", "api", "/api/x"),
    ("leading_double_slash", "//api/x", "api", "/api/x"),
    ("inner_double_slash", "/api//x///y", "api", "/api/x/y"),
    ("encoded_dotdot", "/api/%2e%2e/admin", "admin-only", "/admin"),
    ("encoded_dotdot_upper", "/api/%2E%2E/admin", "admin-only", "/admin"),
    ("half_encoded_dotdot", "/api/.%2e/admin", "admin-only", "/admin"),
    ("encoded_dot", "/api/%2e/x", "api", "/api/x"),
    ("trailing_dotdot", "/api/x/..", "api", "/api/"),
    ("tilde_decoded", "/api/%7euser", "api", "/api/~user"),
    ("unreserved_decoded", "/api/%41%62%63-%5f", "api", "/api/Abc-_"),
    ("reserved_kept_uppercased", "/api/caf%c3%a9/%3a", "api", "/api/caf%C3%A9/%3A"),
    ("sub_delims_kept", "/api/a:b@c!$&'()*+,=", "api", "/api/a:b@c!$&'()*+,="),
    ("query_not_normalized", "/api/x?next=/api/../admin", "api", "/api/x?next=/api/../admin"),
    ("admin_exact", "/admin", "admin-only", "/admin"),
    ("public_exact", "/public", "public", "/public"),
]

REFUSED = [
    ("upper_case_prefix", "/API/x", 404, "not_found"),
    ("prefix_is_segment_aware", "/adminx", 404, "not_found"),
    ("exact_path_no_trailing_slash", "/public/", 404, "not_found"),
    ("path_param_semicolon", "/api;x=y", 400, "bad_request"),
    ("path_param_in_segment", "/api/x;jsessionid=1", 400, "bad_request"),
    ("encoded_slash", "/api/a%2Fb", 400, "bad_request"),
    ("encoded_slash_lower", "/api%2fadmin", 400, "bad_request"),
    ("encoded_backslash", "/api/a%5Cb", 400, "bad_request"),
    ("raw_backslash", "/api/a\\b", 400, "bad_request"),
    ("backslash_dotdot", "/api/..\\admin", 400, "bad_request"),
    ("encoded_nul", "/api/a%00b", 400, "bad_request"),
    ("bad_escape", "/api/%zz", 400, "bad_request"),
    ("short_escape", "/api/%4", 400, "bad_request"),
    ("lone_percent", "/api/%", 400, "bad_request"),
    ("escape_in_query_bad", "/api/x?a=%zz", 400, "bad_request"),
    ("escapes_root", "/../api/x", 400, "bad_request"),
    ("escapes_root_from_api", "/api/../../admin", 400, "bad_request"),
    ("fragment", "/api/x#frag", 400, "bad_request"),
    ("non_ascii_raw", "/api/caf\xc3\xa9", 400, "bad_request"),
    ("asterisk_form", "*", 400, "bad_request"),
    ("userinfo_in_absolute_form", "http://user@a.example.com/h/x", 400, "bad_request"),
    ("unknown_scheme", "ftp://a.example.com/h/x", 400, "bad_request"),
]


class PathsTest(GatewayTestCase):

    @classmethod
    def setUpClass(cls):
        cls.upstream = cls.start_fake(reporting_upstream)
        cls.gw = cls.start_gateway(gateway_config({"fake": [cls.upstream.address]}, ROUTES,
                                                  workers=2))

    def send(self, target, method="GET", host="example.test", extra=b"", client=None):
        """Sends one request with a unique X-Request-Id; returns (response, request id)."""
        request_id = "paths-" + os.urandom(8).hex()
        data = ("%s %s HTTP/1.1\r\n" % (method, target)).encode("latin-1")
        if host is not None:
            data += ("Host: %s\r\n" % host).encode("latin-1")
        data += b"X-Request-Id: " + request_id.encode() + b"\r\n" + extra + b"\r\n"
        client = client or RawClient(self.gw.port, timeout=3)
        client.send(data)
        resp = client.read_response(head_request=(method == "HEAD"))
        return resp, request_id, client

    def route_of(self, request_id):
        records = self.gw.access_records(1, predicate=lambda r: r["request_id"] == request_id)
        self.assertEqual(len(records), 1, "no access log record for %s" % request_id)
        return records[0]["route"]

    def check_routed(self, target, route, seen, host="example.test", seen_host=None):
        resp, request_id, client = self.send(target, host=host)
        with client:
            self.assertEqual(resp.status, 200, resp)
            got = resp.json()
            self.assertEqual(got["target"], seen, resp)
            if seen_host is not None:
                self.assertEqual(got["host"], seen_host)
            self.assertEqual(resp.header("X-Request-Id"), request_id)
            self.assertEqual(self.route_of(request_id), route)
            self.assertTrue(client.stays_open(0.1))

    def check_refused(self, target, status, error):
        before = self.upstream.request_count()
        resp, request_id, client = self.send(target)
        with client:
            self.assertJsonError(resp, status, error)
            if status == 400:
                self.assertTrue(resp.has_token("Connection", "close"), resp)
                self.assertTrue(client.is_closed(2), "the connection was left open")
            else:  # 404 on a request without a body: the connection stays usable
                self.assertStaysOpen(client, resp, 0.1)
        self.assertEqual(self.upstream.request_count(), before, "the upstream saw the request")
        self.assertAlive(self.gw)
        self.assertIsNone(self.route_of(request_id))
        # Nothing else broke.
        self.check_routed("/api/after", "api", "/api/after")

    # -- specific cases ------------------------------------------------------------------------

    def test_query_string_forwarded_raw(self):
        target = "/api/x?q=%2f%2E..&a=/b/../c&sp=a+b&e=%41"
        resp, request_id, client = self.send(target)
        with client:
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(resp.json()["target"], target)
        self.assertEqual(self.route_of(request_id), "api")

    def test_empty_query_kept(self):
        resp, _, client = self.send("/api/x?")
        with client:
            self.assertEqual(resp.json()["target"], "/api/x?")

    def test_405_with_allow_when_only_method_differs(self):
        before = self.upstream.request_count()
        resp, request_id, client = self.send("/public", method="POST")
        with client:
            self.assertJsonError(resp, 405, "method_not_allowed")
            self.assertEqual(resp.header("Allow"), "GET, HEAD")
            self.assertStaysOpen(client, resp, 0.1)
            # HEAD is allowed on that route.
            resp, _, _ = self.send("/public", method="HEAD", client=client)
            self.assertEqual(resp.status, 200, resp)
        self.assertEqual(self.upstream.request_count(), before + 1)
        self.assertIsNone(self.route_of(request_id))

    def test_405_allow_lists_methods_of_matching_routes(self):
        resp, _, client = self.send("/write", method="GET")
        with client:
            self.assertJsonError(resp, 405, "method_not_allowed")
            self.assertEqual(resp.header("Allow"), "POST, PUT")

    def test_405_with_unread_body_closes(self):
        resp, _, client = self.send("/public", method="POST",
                                    extra=b"Content-Length: 3\r\n")
        with client:
            client.try_send(b"abc")
            self.assertJsonError(resp, 405, "method_not_allowed")
            self.assertEqual(resp.header("Allow"), "GET, HEAD")
            self.assertClosesAfter(client, resp)

    def test_404_has_json_and_request_id(self):
        resp, request_id, client = self.send("/nowhere")
        with client:
            body = self.assertJsonError(resp, 404, "not_found")
            self.assertIn("detail", body)
            self.assertEqual(resp.header("X-Request-Id"), request_id)

    # -- hosts ---------------------------------------------------------------------------------

    def test_host_exact(self):
        self.check_routed("/h/x", "host-exact", "/h/x", host="a.example.com")

    def test_host_exact_case_and_port_insensitive(self):
        self.check_routed("/h/x", "host-exact", "/h/x", host="A.Example.COM:8080",
                          seen_host="A.Example.COM:8080")

    def test_host_trailing_dot(self):
        self.check_routed("/h/x", "host-exact", "/h/x", host="a.example.com.")

    def test_host_wildcard(self):
        self.check_routed("/h/x", "host-wild", "/h/x", host="b.example.com")
        self.check_routed("/h/x", "host-wild", "/h/x", host="deep.b.example.com")

    def test_wildcard_needs_a_label(self):
        self.check_routed("/h/x", "host-any", "/h/x", host="example.com")

    def test_wildcard_is_a_suffix_on_label_boundary(self):
        self.check_routed("/h/x", "host-any", "/h/x", host="badexample.com")

    def test_other_host(self):
        self.check_routed("/h/x", "host-any", "/h/x", host="other.test")

    def test_http10_without_host_matches_hostless_routes(self):
        with RawClient(self.gw.port) as client:
            client.send(b"GET /h/x HTTP/1.0\r\n\r\n")
            resp = client.read_response()
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(resp.json()["target"], "/h/x")

    # -- absolute-form -------------------------------------------------------------------------

    def test_absolute_form_routes_by_authority(self):
        self.check_routed("http://a.example.com/h/x", "host-exact", "/h/x",
                          host="ignored.test", seen_host="a.example.com")

    def test_absolute_form_wildcard_with_query(self):
        self.check_routed("http://b.example.com/h/y?q=1", "host-wild", "/h/y?q=1",
                          host="a.example.com", seen_host="b.example.com")

    def test_absolute_form_api(self):
        self.check_routed("http://example.com/api/x", "api", "/api/x", host="example.com")

    def test_absolute_form_is_normalized(self):
        self.check_routed("http://example.com/api/../admin", "admin-only", "/admin",
                          host="example.com")

    def test_absolute_form_empty_path(self):
        resp, _, client = self.send("http://example.com")
        with client:
            self.assertJsonError(resp, 404, "not_found")


def _routed_test(target, route, seen):
    def test(self):
        self.check_routed(target, route, seen)
    test.__doc__ = "%s → route %s, upstream sees %s" % (target, route, seen)
    return test


def _refused_test(target, status, error):
    def test(self):
        self.check_refused(target, status, error)
    test.__doc__ = "%r → %d %s" % (target, status, error)
    return test


for _name, _target, _route, _seen in ROUTED:
    setattr(PathsTest, "test_routed_" + _name, _routed_test(_target, _route, _seen))
for _name, _target, _status, _error in REFUSED:
    setattr(PathsTest, "test_refused_" + _name, _refused_test(_target, _status, _error))


if __name__ == "__main__":
    unittest.main()
