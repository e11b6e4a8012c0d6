"""The response cache through the real gateway in front of the real origin (RFC 9111, with
Cache-Status from RFC 9211): coalesced misses, per-identity entries, the Authorization and
Set-Cookie rules, invalidation by unsafe methods, conditional requests both ways, stale
responses (stale-if-error, stale-while-revalidate), HEAD, Vary, request directives, query
normalization, the admin purge API, metrics and the access log, refused requests, and
max_object.

How a check tells a hit from a miss: the origin's /stats counters (`requests`, and
`db_queries`, one per /api/data request, 304s included), read before and after, plus the exact
Cache-Status field. Keys are unique per test (the origin's database is shared by a class), and
values are written to the origin directly, so that bulwark sees no unsafe request it did not
get from the test.

Ages are whole seconds in bulwark, so a `ttl=` (lifetime minus age) is checked within a small
range, written `ttl=*` in the expected field. Tests that need an entry to be stale use
`max-age=1` (or 3) and sleep just past it."""

import json
import os
import re
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

from harness import (GatewayTestCase, RawClient, concurrent_requests,
                     gateway_config, http_request, metric, ok_response, request_bytes,
                     wait_until)
from tokens import claims, hs_token, write_random_secret

ISS = "https://main.test"
FORWARD_SUB = {"sub": "X-User-Id"}
ONE_MIB = 1 << 20


def cc(value):
    """The origin's `cc` query parameter: the Cache-Control its response carries."""
    return "cc=" + urllib.parse.quote(value, safe="")


def early_in_second(latest=0.4):
    """Waits, when needed, until just after the start of a second. bulwark counts ages in
    whole seconds: a few requests made right after this share one second, so an entry
    stored or freshened by the first is still of age 0 for the next."""
    fraction = time.time() % 1.0
    if fraction > latest:
        time.sleep(1.0 - fraction + 0.02)


class Reply:
    """One response: status, headers (http.client's HTTPMessage) and body bytes."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Reply %d %r %r>" % (self.status, dict(self.headers), self.body[:200])


class CacheTestBase(GatewayTestCase):
    gw = None
    origin_server = None

    # -- requests --------------------------------------------------------------------------

    def fetch(self, host, path, headers=None, method="GET", body=None, gw=None):
        fields = {"Host": host}
        fields.update(headers or {})
        status, response_headers, data = (gw or self.gw).request(method, path, body=body,
                                                                 headers=fields)
        return Reply(status, response_headers, data)

    def put_origin(self, key, value, origin=None):
        """Writes a value straight to the origin (bulwark sees nothing)."""
        status, _, body = http_request((origin or self.origin_server).port, "PUT",
                                       "/api/data/" + key, body=value)
        self.assertEqual(status, 200, body)

    def new_key(self, value=None, origin=None):
        """A key of this test alone, stored at the origin with `value` (default: the key)."""
        key = "%s-%s" % (self._testMethodName[5:25], uuid.uuid4().hex[:8])
        self.put_origin(key, value if value is not None else key, origin)
        return key

    def stats(self, origin=None):
        return (origin or self.origin_server).stats()

    # -- assertions ------------------------------------------------------------------------

    def assertCacheStatus(self, reply, expected, ttl=None):
        """The one Cache-Status field equals `expected`. With `ttl=(low, high)`, its ttl
        parameter must lie in that range and `expected` writes it `ttl=*`."""
        values = reply.headers.get_all("Cache-Status") or []
        self.assertEqual(len(values), 1, reply)
        actual = values[0]
        if ttl is not None:
            m = re.search(r"; ttl=(-?\d+)", actual)
            self.assertIsNotNone(m, reply)
            self.assertTrue(ttl[0] <= int(m.group(1)) <= ttl[1],
                            "ttl %s not in %r: %r" % (m.group(1), ttl, reply))
            actual = actual[:m.start()] + "; ttl=*" + actual[m.end():]
        self.assertEqual(actual, expected, reply)

    def assertHit(self, reply, body, ttl=(58, 60), age=(0, 2), extra=""):
        """A response from the store. bulwark inserts an entry once its last bytes went to
        the client: a request sent right after a miss may still find the miss's flight
        running and wait for its end, which makes it a `collapsed` hit (still no upstream
        request, which the callers check with the origin's counters)."""
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.body, body)
        value = reply.headers.get("Cache-Status") or ""
        if not extra and value.endswith("; collapsed"):
            extra = "; collapsed"
        self.assertCacheStatus(reply, "bulwark; hit; ttl=*" + extra, ttl=ttl)
        self.assertAge(reply, age)

    def assertForwarded(self, reply, status, fwd="miss", stored=False, body=None):
        self.assertEqual(reply.status, status, reply)
        if body is not None:
            self.assertEqual(reply.body, body)
        self.assertCacheStatus(reply, "bulwark; fwd=%s; fwd-status=%d%s" %
                               (fwd, status, "; stored" if stored else ""))
        self.assertIsNone(reply.headers.get("Age"), reply)

    def assertAge(self, reply, age):
        values = reply.headers.get_all("Age") or []
        self.assertEqual(len(values), 1, reply)
        self.assertTrue(age[0] <= int(values[0]) <= age[1], "Age %s not in %r: %r" %
                        (values[0], age, reply))

    def assertOriginDelta(self, before, requests, db_queries=None, origin=None):
        after = self.stats(origin)
        self.assertEqual(after["requests"] - before["requests"], requests, (before, after))
        if db_queries is not None:
            self.assertEqual(after["db_queries"] - before["db_queries"], db_queries,
                             (before, after))

    def assertMetricDeltas(self, before, expected, gw=None):
        """`expected`: {(name, labels-tuple): delta}; every other cache counter is not
        checked."""
        after = (gw or self.gw).metrics()
        for (name, labels), delta in expected.items():
            labels = dict(labels)
            self.assertEqual(metric(after, name, **labels) - metric(before, name, **labels),
                             delta, "%s%r" % (name, labels))

    def store(self, host, path, body, headers=None):
        """A miss that is stored, then a hit: once the hit is answered the entry is in the
        store (a request that cannot wait for the miss's flight, like HEAD or only-if-cached,
        may otherwise come before the entry is inserted). Returns the miss's reply."""
        reply = self.fetch(host, path, headers)
        self.assertForwarded(reply, 200, stored=True, body=body)
        self.assertHit(self.fetch(host, path, headers), body)
        return reply

    def data_body(self, key, value=None):
        return json.dumps({"key": key, "value": value if value is not None else key},
                          separators=(",", ":")).encode()


def route(name, host, **extra):
    r = {"name": name, "match": {"host": host, "path_prefix": "/api/"}, "upstream": "origin"}
    r.update(extra)
    return r


class CacheRoutesTest(CacheTestBase):
    """One origin and one gateway; each route takes its own Host, so the routes' entries
    never meet (the host is part of the key)."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="bulwark-cache-")
        cls.addClassCleanup(cls._tmp.cleanup)
        cls.secret, secret_file = write_random_secret(cls._tmp.name)
        cls.origin_server = cls.start_origin()
        config = gateway_config(
            {"origin": [cls.origin_server.address]},
            [
                route("shared", "shared.test", cache="shared"),
                route("ident", "ident.test",
                      auth={"mode": "required", "forward_claims": FORWARD_SUB},
                      cache={"scope": "per_identity"}),
                route("optident", "optident.test",
                      auth={"mode": "optional", "forward_claims": FORWARD_SUB},
                      cache={"scope": "per_identity"}),
                route("authshared", "authshared.test",
                      auth={"mode": "required", "forward_claims": FORWARD_SUB},
                      cache="shared"),
                route("query", "query.test",
                      cache={"sort_query": True, "ignore_query": ["utm_source"]}),
                route("limited", "limited.test", limits=["one_per_key"], cache="shared"),
            ])
        config["auth"] = {"issuers": {"main": {
            "issuer": ISS, "audiences": ["api"],
            "keys": [{"alg": "HS256", "secret_file": secret_file}]}},
            "failed_attempts": "off"}
        config["limits"] = {"one_per_key": {"rate": "1/m", "key": "header:X-Key"}}
        config["cache"] = {"memory": "4MiB", "max_object": "64KiB"}
        cls.gw = cls.start_gateway(config)

    def bearer(self, sub):
        return {"Authorization": "Bearer " + hs_token(self.secret, claims(ISS, sub=sub))}

    # -- per identity (2) ------------------------------------------------------------------

    def private_body(self, user):
        return json.dumps({"user": user, "message": "private to this user"},
                          separators=(",", ":")).encode()

    def test_per_identity_entries_are_never_shared(self):
        # /api/private is one URL for every test: identities of this test alone keep its
        # entries apart.
        alice, bob = "alice-" + uuid.uuid4().hex[:6], "bob-" + uuid.uuid4().hex[:6]
        before = self.stats()
        first = self.fetch("ident.test", "/api/private", self.bearer(alice))
        self.assertForwarded(first, 200, stored=True, body=self.private_body(alice))
        self.assertEqual(first.headers.get("Cache-Control"), "private, max-age=60")
        self.assertOriginDelta(before, requests=1)

        second = self.fetch("ident.test", "/api/private", self.bearer(alice))
        self.assertHit(second, self.private_body(alice))
        self.assertOriginDelta(before, requests=1)

        # Bob: a miss, bob's own body, and stored for bob.
        third = self.fetch("ident.test", "/api/private", self.bearer(bob))
        self.assertForwarded(third, 200, stored=True, body=self.private_body(bob))
        self.assertOriginDelta(before, requests=2)
        self.assertHit(self.fetch("ident.test", "/api/private", self.bearer(bob)),
                       self.private_body(bob))
        self.assertHit(self.fetch("ident.test", "/api/private", self.bearer(alice)),
                       self.private_body(alice))
        self.assertOriginDelta(before, requests=2)

    def test_anonymous_callers_of_an_optional_route_use_shared_entries_without_private(self):
        alice = "alice-" + uuid.uuid4().hex[:6]
        before = self.stats()
        stored = self.fetch("optident.test", "/api/private", self.bearer(alice))
        self.assertForwarded(stored, 200, stored=True, body=self.private_body(alice))
        self.assertHit(self.fetch("optident.test", "/api/private", self.bearer(alice)),
                       self.private_body(alice))
        self.assertOriginDelta(before, requests=1)
        # No token: no identity, so the shared entries, where `private` is never stored.
        for i in range(2):
            anonymous = self.fetch("optident.test", "/api/private")
            self.assertForwarded(anonymous, 200, stored=False, body=self.private_body(None))
            self.assertOriginDelta(before, requests=2 + i)

    def test_shared_scope_never_stores_a_private_response(self):
        alice = "alice-" + uuid.uuid4().hex[:6]
        before = self.stats()
        for i in range(2):
            reply = self.fetch("authshared.test", "/api/private", self.bearer(alice))
            self.assertForwarded(reply, 200, stored=False, body=self.private_body(alice))
            self.assertOriginDelta(before, requests=i + 1)

    # -- Authorization on a shared route (3) -------------------------------------------------

    def test_authorized_responses_are_stored_only_when_the_response_allows_it(self):
        key = self.new_key()
        body = self.data_body(key)
        token = self.bearer("alice")
        path = "/api/data/%s?%s" % (key, cc("max-age=60"))
        before = self.stats()
        for i in range(2):  # RFC 9111 §3.5: neither public, s-maxage nor must-revalidate
            self.assertForwarded(self.fetch("authshared.test", path, token), 200, body=body)
            self.assertOriginDelta(before, requests=i + 1, db_queries=i + 1)
        for allowing in ("public, max-age=60", "s-maxage=60", "max-age=60, must-revalidate"):
            with self.subTest(allowing):
                path = "/api/data/%s?%s" % (key, cc(allowing))
                before = self.stats()
                self.assertForwarded(self.fetch("authshared.test", path, token), 200,
                                     stored=True, body=body)
                # Another caller is served the shared entry: the response allowed it.
                self.assertHit(self.fetch("authshared.test", path, self.bearer("bob")), body)
                self.assertOriginDelta(before, requests=1, db_queries=1)

    # -- Set-Cookie (4) ------------------------------------------------------------------

    def test_a_response_with_set_cookie_is_never_stored(self):
        before = self.stats()
        for i in range(2):
            reply = self.fetch("shared.test", "/api/cookie")
            self.assertForwarded(reply, 200, stored=False, body=b'{"cookie":"session"}')
            self.assertEqual(reply.headers.get("Set-Cookie"), "session=abc")
            self.assertEqual(reply.headers.get("Cache-Control"), "public, max-age=60")
            self.assertOriginDelta(before, requests=i + 1)

    # -- invalidation (5) ----------------------------------------------------------------

    def test_successful_unsafe_methods_invalidate_the_url(self):
        for method in ("POST", "PUT", "DELETE"):
            with self.subTest(method):
                key = self.new_key("old")
                path = "/api/data/" + key
                self.store("shared.test", path, self.data_body(key, "old"))
                metrics = self.gw.metrics()
                before = self.stats()
                body = None if method == "DELETE" else b"new"
                reply = self.fetch("shared.test", path, method=method, body=body)
                expected_status = 204 if method == "DELETE" else 200
                self.assertEqual(reply.status, expected_status, reply)
                self.assertCacheStatus(reply, "bulwark; fwd=method; fwd-status=%d" %
                                       expected_status)
                self.assertOriginDelta(before, requests=1, db_queries=1)
                self.assertMetricDeltas(metrics, {
                    ("bulwark_cache_invalidated_total", ()): 1,
                    ("bulwark_cache_requests_total", (("result", "bypass"),)): 1})
                after = self.fetch("shared.test", path)
                if method == "DELETE":
                    self.assertEqual(after.status, 404, after)
                    self.assertEqual(after.json(), {"error": "not_found"})
                else:
                    self.assertForwarded(after, 200, stored=True,
                                         body=self.data_body(key, "new"))
                self.assertOriginDelta(before, requests=2, db_queries=2)

    def test_failed_unsafe_requests_do_not_invalidate(self):
        key = self.new_key()
        path = "/api/data/" + key
        body = self.data_body(key)
        self.store("shared.test", path, body)
        # 413 from the origin: a body over its 1 MiB limit.
        before = self.stats()
        reply = self.fetch("shared.test", path, method="POST", body=b"x" * (ONE_MIB + 1))
        self.assertEqual(reply.status, 413, reply)
        self.assertCacheStatus(reply, "bulwark; fwd=method; fwd-status=413")
        self.assertHit(self.fetch("shared.test", path), body)
        self.assertOriginDelta(before, requests=1, db_queries=0)
        # 405 from the origin: /api/public/ takes GET and HEAD only.
        public = "/api/public/" + key
        public_body = json.dumps({"path": public, "public": True},
                                 separators=(",", ":")).encode()
        self.store("shared.test", public, public_body)
        reply = self.fetch("shared.test", public, method="POST", body=b"x")
        self.assertEqual(reply.status, 405, reply)
        self.assertEqual(reply.headers.get("Allow"), "GET, HEAD")
        self.assertHit(self.fetch("shared.test", public), public_body)

    def test_location_of_a_successful_post_is_invalidated(self):
        key = self.new_key("old")
        path = "/api/data/" + key
        self.store("shared.test", path, self.data_body(key, "old"))
        metrics = self.gw.metrics()
        # The POST's own URL (with ?via=form) is not stored; its Location is the stored one.
        reply = self.fetch("shared.test", path + "?via=form", method="POST", body=b"new")
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.headers.get("Location"), path)
        self.assertMetricDeltas(metrics, {("bulwark_cache_invalidated_total", ()): 1})
        self.assertForwarded(self.fetch("shared.test", path), 200, stored=True,
                             body=self.data_body(key, "new"))

    def test_an_unsafe_request_invalidates_on_its_own_host_only(self):
        key = self.new_key()
        path = "/api/data/" + key
        self.store("shared.test", path, self.data_body(key))
        self.store("query.test", path, self.data_body(key))
        reply = self.fetch("query.test", path, method="PUT", body=key.encode())
        self.assertEqual(reply.status, 200, reply)
        self.assertHit(self.fetch("shared.test", path), self.data_body(key))
        self.assertForwarded(self.fetch("query.test", path), 200, stored=True,
                             body=self.data_body(key))

    # -- conditional requests (6) ---------------------------------------------------------

    def test_client_conditionals_are_answered_from_the_store(self):
        key = self.new_key()
        path = "/api/data/" + key
        body = self.data_body(key)
        first = self.store("shared.test", path, body)
        etag, modified = first.headers.get("ETag"), first.headers.get("Last-Modified")
        self.assertTrue(etag and modified, first)
        before = self.stats()
        with RawClient(self.gw.port) as client:
            for conditional in ([("If-None-Match", etag)], [("If-None-Match", "W/" + etag)],
                                [("If-None-Match", '"other", ' + etag)],
                                [("If-Modified-Since", modified)]):
                with self.subTest(conditional):
                    response = client.request(request_bytes(
                        "GET", path, conditional, host="shared.test"))
                    self.assertEqual(response.status, 304, response)
                    self.assertEqual(response.body, b"")
                    self.assertEqual(response.header("ETag"), etag)
                    self.assertEqual(response.header("Cache-Control"), "public, max-age=60")
                    self.assertEqual(response.header("Last-Modified"), modified)
                    self.assertIsNotNone(response.header("Date"))
                    self.assertIsNone(response.header("Content-Type"), response)
                    self.assertIsNone(response.header("Content-Length"), response)
                    self.assertEqual(len(response.header_all("Cache-Status")), 1)
                    self.assertRegex(response.header("Cache-Status"),
                                     r"^bulwark; hit; ttl=(58|59|60)$")
            # The connection is still in step: no body followed the 304s.
            for conditional in ([("If-None-Match", '"other"')],
                                # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)
                                [("If-None-Match", '"other"'), ("If-Modified-Since", modified)],
                                [("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")]):
                with self.subTest(conditional):
                    response = client.request(request_bytes(
                        "GET", path, conditional, host="shared.test"))
                    self.assertEqual(response.status, 200, response)
                    self.assertEqual(response.body, body)
                    self.assertRegex(response.header("Cache-Status"),
                                     r"^bulwark; hit; ttl=(58|59|60)$")
        self.assertOriginDelta(before, requests=0, db_queries=0)

    def test_a_stale_entry_is_revalidated_with_its_etag_and_freshened(self):
        key = self.new_key()
        path = "/api/data/%s?%s" % (key, cc("max-age=1"))
        body = self.data_body(key)
        first = self.fetch("shared.test", path)
        self.assertForwarded(first, 200, stored=True, body=body)
        time.sleep(1.05)  # stale now: its age is at least 1
        early_in_second()
        before = self.stats()
        metrics = self.gw.metrics()
        revalidated = self.fetch("shared.test", path)
        # The origin got If-None-Match and answered 304 (after its database query).
        self.assertOriginDelta(before, requests=1, db_queries=1)
        self.assertEqual(revalidated.status, 200, revalidated)
        self.assertEqual(revalidated.body, body)
        self.assertEqual(revalidated.headers.get("ETag"), first.headers.get("ETag"))
        self.assertCacheStatus(revalidated, "bulwark; fwd=stale; fwd-status=304; ttl=1")
        self.assertAge(revalidated, (0, 0))
        self.assertMetricDeltas(metrics, {
            ("bulwark_cache_requests_total", (("result", "revalidated"),)): 1})
        # Freshened: a hit again, within the same second.
        self.assertHit(self.fetch("shared.test", path), body, ttl=(1, 1), age=(0, 0))
        self.assertOriginDelta(before, requests=1, db_queries=1)

    def test_a_client_conditional_on_a_stale_entry_gets_304_after_revalidation(self):
        key = self.new_key()
        path = "/api/data/%s?%s" % (key, cc("max-age=1"))
        first = self.fetch("shared.test", path)
        self.assertForwarded(first, 200, stored=True, body=self.data_body(key))
        time.sleep(1.05)
        before = self.stats()
        with RawClient(self.gw.port) as client:
            response = client.request(request_bytes(
                "GET", path, [("If-None-Match", first.headers.get("ETag"))],
                host="shared.test"))
        self.assertEqual(response.status, 304, response)
        self.assertEqual(response.body, b"")
        self.assertRegex(response.header("Cache-Status"),
                         r"^bulwark; fwd=stale; fwd-status=304; ttl=(0|1)$")
        self.assertOriginDelta(before, requests=1, db_queries=1)

    # -- HEAD (9) ------------------------------------------------------------------------

    def test_head_is_answered_from_the_get_entry(self):
        key = self.new_key()
        path = "/api/data/" + key
        body = self.data_body(key)
        self.store("shared.test", path, body)
        before = self.stats()
        with RawClient(self.gw.port) as client:
            response = client.request(request_bytes("HEAD", path, host="shared.test"),
                                      head_request=True)
            self.assertEqual(response.status, 200, response)
            self.assertEqual(response.header("Content-Length"), str(len(body)))
            self.assertEqual(response.header("Content-Type"), "application/json")
            self.assertRegex(response.header("Cache-Status"), r"^bulwark; hit; ttl=(58|59|60)$")
            self.assertIsNotNone(response.header("Age"))
            # No body was sent: the next response on the connection parses cleanly.
            follow = client.request(request_bytes("GET", path, host="shared.test"))
            self.assertEqual(follow.status, 200)
            self.assertEqual(follow.body, body)
        self.assertOriginDelta(before, requests=0, db_queries=0)

    def test_head_on_a_miss_is_forwarded_and_not_stored(self):
        key = self.new_key()
        path = "/api/data/" + key
        before = self.stats()
        with RawClient(self.gw.port) as client:
            response = client.request(request_bytes("HEAD", path, host="shared.test"),
                                      head_request=True)
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.header("Content-Length"), str(len(self.data_body(key))))
        self.assertEqual(response.header("Cache-Status"), "bulwark; fwd=miss; fwd-status=200")
        self.assertOriginDelta(before, requests=1, db_queries=1)
        self.assertForwarded(self.fetch("shared.test", path), 200, stored=True,
                             body=self.data_body(key))

    # -- Vary (10) -------------------------------------------------------------------------

    def test_vary_keeps_one_entry_per_value(self):
        key = self.new_key()
        path = "/api/data/%s?vary=Accept-Language" % key

        def body(language):
            return json.dumps({"key": key, "value": key, "vary": {"accept-language": language}},
                              separators=(",", ":")).encode()

        before = self.stats()
        for i, language in enumerate(("fr", "de")):
            reply = self.fetch("shared.test", path, {"Accept-Language": language})
            self.assertForwarded(reply, 200, stored=True, body=body(language))
            self.assertEqual(reply.headers.get("Vary"), "Accept-Language")
            self.assertOriginDelta(before, requests=i + 1, db_queries=i + 1)
        for language in ("fr", "de", "fr"):
            self.assertHit(self.fetch("shared.test", path, {"Accept-Language": language}),
                           body(language))
        # No Accept-Language: a value of its own (absent), never a stored language's.
        self.assertForwarded(self.fetch("shared.test", path), 200, stored=True, body=body(None))
        self.assertHit(self.fetch("shared.test", path), body(None))
        self.assertOriginDelta(before, requests=3, db_queries=3)

    # -- request directives (11) -----------------------------------------------------------

    def test_request_no_cache_goes_upstream(self):
        key = self.new_key()
        path = "/api/data/" + key
        body = self.data_body(key)
        self.store("shared.test", path, body)
        for directive in ({"Cache-Control": "no-cache"}, {"Pragma": "no-cache"}):
            with self.subTest(directive):
                before = self.stats()
                reply = self.fetch("shared.test", path, directive)
                self.assertEqual(reply.status, 200, reply)
                self.assertEqual(reply.body, body)
                # Validated with the stored ETag: the origin answered 304.
                self.assertCacheStatus(reply, "bulwark; fwd=request; fwd-status=304; ttl=*",
                                       ttl=(59, 60))
                self.assertOriginDelta(before, requests=1, db_queries=1)
        # Pragma counts only without Cache-Control (RFC 9111 §5.4).
        self.assertHit(self.fetch("shared.test", path,
                                  {"Pragma": "no-cache", "Cache-Control": "max-stale"}), body)

    def test_request_no_store_is_not_stored(self):
        key = self.new_key()
        path = "/api/data/" + key
        body = self.data_body(key)
        before = self.stats()
        reply = self.fetch("shared.test", path, {"Cache-Control": "no-store"})
        self.assertForwarded(reply, 200, stored=False, body=body)
        self.assertForwarded(self.fetch("shared.test", path), 200, stored=True, body=body)
        self.assertOriginDelta(before, requests=2, db_queries=2)

    def test_only_if_cached(self):
        key = self.new_key()
        path = "/api/data/" + key
        before = self.stats()
        reply = self.fetch("shared.test", path, {"Cache-Control": "only-if-cached"})
        self.assertEqual(reply.status, 504, reply)
        self.assertEqual(reply.headers.get("Content-Type"), "application/json")
        payload = reply.json()
        self.assertEqual(sorted(payload), ["detail", "error"])
        self.assertEqual(payload["error"], "gateway_timeout")
        self.assertIn("only-if-cached", payload["detail"])
        self.assertCacheStatus(reply, "bulwark; fwd=miss; detail=only-if-cached")
        self.assertOriginDelta(before, requests=0, db_queries=0)
        # Once stored, it answers.
        self.store("shared.test", path, self.data_body(key))
        self.assertHit(self.fetch("shared.test", path, {"Cache-Control": "only-if-cached"}),
                       self.data_body(key))
        self.assertOriginDelta(before, requests=1, db_queries=1)

    def test_max_stale_accepts_a_stale_entry(self):
        key = self.new_key()
        path = "/api/data/%s?%s" % (key, cc("max-age=1"))
        body = self.data_body(key)
        self.assertForwarded(self.fetch("shared.test", path), 200, stored=True, body=body)
        time.sleep(1.05)
        before = self.stats()
        for value in ("max-stale", "max-stale=30"):
            with self.subTest(value):
                reply = self.fetch("shared.test", path, {"Cache-Control": value})
                self.assertHit(reply, body, ttl=(-2, 0), age=(1, 3), extra="; detail=stale")
        self.assertOriginDelta(before, requests=0, db_queries=0)
        # Without it, the stale entry is validated.
        reply = self.fetch("shared.test", path)
        self.assertCacheStatus(reply, "bulwark; fwd=stale; fwd-status=304; ttl=*", ttl=(0, 1))
        self.assertOriginDelta(before, requests=1, db_queries=1)

    def test_min_fresh_refusing_a_fresh_entry_is_fwd_request(self):
        # RFC 9211 §2.2: "request" when a fresh response was selected but the request's
        # directives did not allow its use; "stale" is for a stale one.
        key = self.new_key()
        path = "/api/data/" + key
        self.store("shared.test", path, self.data_body(key))
        reply = self.fetch("shared.test", path, {"Cache-Control": "min-fresh=120"})
        self.assertCacheStatus(reply, "bulwark; fwd=request; fwd-status=304; ttl=*",
                               ttl=(59, 60))

    def test_range_and_origin_preconditions_bypass_the_cache(self):
        key = self.new_key()
        path = "/api/data/" + key
        body = self.data_body(key)
        self.store("shared.test", path, body)
        for field in ({"Range": "bytes=0-3"}, {"If-Match": "*"},
                      {"If-Unmodified-Since": "Thu, 01 Jan 2099 00:00:00 GMT"}):
            with self.subTest(field):
                before = self.stats()
                reply = self.fetch("shared.test", path, field)
                self.assertForwarded(reply, 200, fwd="request", stored=False, body=body)
                self.assertOriginDelta(before, requests=1, db_queries=1)
        self.assertHit(self.fetch("shared.test", path), body)

    # -- query normalization (12) ------------------------------------------------------------

    def test_sorted_query_without_ignored_parameters_shares_an_entry(self):
        key = self.new_key()
        body = self.data_body(key)
        base = "/api/data/" + key
        before = self.stats()
        self.assertForwarded(self.fetch("query.test", base + "?b=2&a=1&utm_source=x"), 200,
                             stored=True, body=body)
        for query in ("?a=1&b=2", "?utm_source=y&b=2&a=1", "?a=1&&b=2"):
            with self.subTest(query):
                self.assertHit(self.fetch("query.test", base + query), body)
        self.assertOriginDelta(before, requests=1, db_queries=1)
        # Other values are other entries; and without the options the order counts.
        self.assertForwarded(self.fetch("query.test", base + "?a=1&b=3"), 200, stored=True,
                             body=body)
        self.assertForwarded(self.fetch("shared.test", base + "?b=2&a=1"), 200, stored=True,
                             body=body)
        self.assertForwarded(self.fetch("shared.test", base + "?a=1&b=2"), 200, stored=True,
                             body=body)
        self.assertOriginDelta(before, requests=4, db_queries=4)

    # -- purge (13) --------------------------------------------------------------------------

    def purge(self, payload, method="POST"):
        body = payload if isinstance(payload, (bytes, str)) or payload is None \
            else json.dumps(payload)
        status, headers, data = self.gw.admin("/cache/purge", method=method, body=body,
                                              headers={"Content-Type": "application/json"})
        return Reply(status, headers, data)

    def test_purge_by_url_and_by_prefix(self):
        prefix = "/api/data/%s-" % uuid.uuid4().hex[:8]
        keys = [prefix[len("/api/data/"):] + str(i) for i in range(3)]
        for key in keys:
            self.put_origin(key, key)
            self.store("shared.test", "/api/data/" + key, self.data_body(key))
        self.store("shared.test", "/api/data/%s?x=1" % keys[2], self.data_body(keys[2]))
        metrics = self.gw.metrics()
        reply = self.purge({"url": "/api/data/" + keys[0]})
        self.assertEqual((reply.status, reply.json()), (200, {"purged": 1}))
        self.assertEqual(self.purge({"url": "/api/data/" + keys[0]}).json(), {"purged": 0})
        self.assertEqual(metric(self.gw.metrics(), "bulwark_cache_entries"),
                         metric(metrics, "bulwark_cache_entries") - 1)
        self.store("shared.test", "/api/data/" + keys[0], self.data_body(keys[0]))
        # Another host's entries are left alone.
        self.assertEqual(self.purge({"url": "/api/data/" + keys[1], "host": "other.test"})
                         .json(), {"purged": 0})
        self.assertHit(self.fetch("shared.test", "/api/data/" + keys[1]),
                       self.data_body(keys[1]))
        # A prefix: every URL under it, queries included.
        self.assertEqual(self.purge({"prefix": prefix, "host": "shared.test"}).json(),
                         {"purged": 4})
        for key in keys:
            self.assertForwarded(self.fetch("shared.test", "/api/data/" + key), 200,
                                 stored=True, body=self.data_body(key))

    def test_purge_of_a_url_uses_the_routes_query_key(self):
        key = self.new_key()
        base = "/api/data/" + key
        self.store("query.test", base + "?b=2&a=1", self.data_body(key))
        reply = self.purge({"url": base + "?utm_source=mail&a=1&b=2", "host": "Query.Test"})
        self.assertEqual((reply.status, reply.json()), (200, {"purged": 1}))
        self.assertForwarded(self.fetch("query.test", base + "?a=1&b=2"), 200, stored=True,
                             body=self.data_body(key))

    def test_purge_refuses_bad_requests(self):
        for payload in (b"not json", [], {}, {"url": "/a", "prefix": "/b"}, {"url": 3},
                        {"url": "no-slash"}, {"prefix": "/a", "color": "red"},
                        {"url": "/a", "host": "bad host!"}):
            with self.subTest(payload):
                reply = self.purge(payload)
                self.assertEqual(reply.status, 400, reply)
                self.assertEqual(reply.headers.get("Content-Type"), "application/json")
                body = reply.json()
                self.assertEqual(body["error"], "bad_request")
                self.assertIsInstance(body["detail"], str)
                self.assertTrue(body["detail"])
        reply = self.purge(None, method="GET")
        self.assertEqual(reply.status, 405, reply)
        self.assertEqual(reply.headers.get("Allow"), "POST")
        self.assertEqual(reply.json()["error"], "method_not_allowed")

    # -- metrics and access log (14) -----------------------------------------------------

    def test_metrics_and_access_log_of_a_miss_then_a_hit(self):
        key = self.new_key()
        path = "/api/data/" + key
        body = self.data_body(key)
        before = self.gw.metrics()
        tag = uuid.uuid4().hex[:10]
        self.assertForwarded(self.fetch("shared.test", path, {"X-Request-Id": tag + "-1"}), 200,
                             stored=True, body=body)
        # Stored (and its flight over) before the hit, so that the hit is not a collapsed one.
        self.assertTrue(wait_until(lambda: metric(self.gw.metrics(), "bulwark_cache_stored_total")
                                   > metric(before, "bulwark_cache_stored_total")))
        hit = self.fetch("shared.test", path, {"X-Request-Id": tag + "-2"})
        self.assertHit(hit, body)
        self.assertFalse(hit.headers.get("Cache-Status").endswith("collapsed"))
        after = self.gw.metrics()
        self.assertMetricDeltas(before, {
            ("bulwark_cache_requests_total", (("result", "miss"),)): 1,
            ("bulwark_cache_requests_total", (("result", "hit"),)): 1,
            ("bulwark_cache_requests_total", (("result", "stale"),)): 0,
            ("bulwark_cache_requests_total", (("result", "bypass"),)): 0,
            ("bulwark_cache_requests_total", (("result", "revalidated"),)): 0,
            ("bulwark_cache_coalesced_total", ()): 0,
            ("bulwark_cache_stored_total", ()): 1,
            ("bulwark_cache_invalidated_total", ()): 0,
            ("bulwark_cache_entries", ()): 1,
            ("bulwark_cache_evictions_total", ()): 0,
        })
        grown = metric(after, "bulwark_cache_bytes") - metric(before, "bulwark_cache_bytes")
        self.assertTrue(len(body) < grown < len(body) + 2048, grown)
        self.assertEqual(metric(after, "bulwark_cache_budget_bytes"), 4 * ONE_MIB)
        # Each worker writes its own lines: the file's order is not the requests' order.
        records = sorted(self.gw.access_records(
            count=2, predicate=lambda r: str(r.get("request_id")).startswith(tag)),
            key=lambda r: r["request_id"])
        self.assertEqual([(r["request_id"], r["cache"], r["status"], r["route"])
                          for r in records],
                         [(tag + "-1", "miss", 200, "shared"), (tag + "-2", "hit", 200, "shared")])
        self.assertIsNotNone(records[0]["upstream"])
        self.assertIsNone(records[1]["upstream"])

    # -- refused requests (15) -----------------------------------------------------------

    def test_refused_requests_are_never_answered_or_stored(self):
        key = self.new_key()
        path = "/api/data/" + key
        before, metrics = self.stats(), self.gw.metrics()
        reply = self.fetch("ident.test", path)
        self.assertEqual(reply.status, 401, reply)
        self.assertEqual(reply.json()["error"], "missing_token")
        self.assertCacheStatus(reply, "bulwark; detail=refused")
        self.assertIsNone(reply.headers.get("Age"))
        self.assertOriginDelta(before, requests=0)
        self.assertMetricDeltas(metrics, {("bulwark_cache_stored_total", ()): 0,
                                          ("bulwark_cache_entries", ()): 0})
        # A rate limit refuses even what the store holds (the cache runs after limits).
        limited = {"X-Key": uuid.uuid4().hex}
        self.assertForwarded(self.fetch("limited.test", path, limited), 200, stored=True,
                             body=self.data_body(key))
        reply = self.fetch("limited.test", path, limited)
        self.assertEqual(reply.status, 429, reply)
        self.assertCacheStatus(reply, "bulwark; detail=refused")
        self.assertOriginDelta(before, requests=1)

    # -- max_object (16) -----------------------------------------------------------------

    def big(self, size):
        return bytes((ord("a") + i % 26) for i in range(size))

    def test_a_body_over_max_object_is_relayed_whole_and_not_stored(self):
        path = "/api/big?bytes=100000&%s&k=%s" % (cc("public, max-age=60"), uuid.uuid4().hex)
        before, metrics = self.stats(), self.gw.metrics()
        for i in range(2):
            reply = self.fetch("shared.test", path)
            self.assertForwarded(reply, 200, stored=False)
            self.assertEqual(reply.body, self.big(100000))
            self.assertOriginDelta(before, requests=i + 1)
        self.assertMetricDeltas(metrics, {("bulwark_cache_stored_total", ()): 0})
        # A small one of the same endpoint is stored.
        small = "/api/big?bytes=1000&%s&k=%s" % (cc("public, max-age=60"), uuid.uuid4().hex)
        self.assertForwarded(self.fetch("shared.test", small), 200, stored=True,
                             body=self.big(1000))
        self.assertHit(self.fetch("shared.test", small), self.big(1000))

    def test_a_chunked_body_over_max_object_is_not_reported_stored(self):
        path = "/api/chunked?n=2&size=40000&%s&k=%s" % (cc("public, max-age=60"),
                                                          uuid.uuid4().hex)
        before = self.stats()
        for i in range(2):
            reply = self.fetch("shared.test", path)
            self.assertEqual(reply.body, self.big(80000))
            self.assertOriginDelta(before, requests=i + 1)  # never stored
            self.assertForwarded(reply, 200, stored=False)

    def test_an_entry_over_max_object_with_a_smaller_body_is_not_reported_stored(self):
        # max_object counts the entry (body, fields, key, bookkeeping), not the body alone.
        path = "/api/big?bytes=65536&%s&k=%s" % (cc("public, max-age=60"), uuid.uuid4().hex)
        before = self.stats()
        for i in range(2):
            reply = self.fetch("shared.test", path)
            self.assertEqual(reply.body, self.big(65536))
            self.assertOriginDelta(before, requests=i + 1)  # never stored
            self.assertForwarded(reply, 200, stored=False)


class DelayedOriginTest(CacheTestBase):
    """An origin whose every database query takes 300 ms, so that concurrent requests
    overlap: coalesced misses and stale-while-revalidate."""

    @classmethod
    def setUpClass(cls):
        cls.origin_server = cls.start_origin(extra_args=["--query-delay-ms", "300"])
        config = gateway_config({"origin": [cls.origin_server.address]},
                                [route("shared", "shared.test", cache="shared")])
        cls.gw = cls.start_gateway(config)

    def concurrent_gets(self, path, count):
        return concurrent_requests(self.gw.port,
                                   request_bytes("GET", path, host="shared.test"), count)

    def test_concurrent_misses_send_one_request_upstream(self):
        key = self.new_key()
        body = self.data_body(key)
        before, metrics = self.stats(), self.gw.metrics()
        responses = self.concurrent_gets("/api/data/" + key, 100)
        self.assertOriginDelta(before, requests=1, db_queries=1)
        self.assertEqual([r.status for r in responses], [200] * 100)
        self.assertEqual({r.body for r in responses}, {body})
        statuses = [r.header("Cache-Status") for r in responses]
        leaders = [s for s in statuses if s == "bulwark; fwd=miss; fwd-status=200; stored"]
        followers = [s for s in statuses
                     if re.fullmatch(r"bulwark; hit; ttl=(58|59|60); collapsed", s)]
        self.assertEqual((len(leaders), len(followers)), (1, 99), statuses)
        for r in responses:
            if r.header("Cache-Status").endswith("collapsed"):
                self.assertIn(r.header("Age"), ("0", "1", "2"))
        self.assertMetricDeltas(metrics, {
            ("bulwark_cache_coalesced_total", ()): 99,
            ("bulwark_cache_requests_total", (("result", "hit"),)): 99,
            ("bulwark_cache_requests_total", (("result", "miss"),)): 1,
            ("bulwark_cache_stored_total", ()): 1})

    def test_concurrent_requests_for_a_stale_entry_revalidate_once(self):
        key = self.new_key()
        path = "/api/data/%s?%s" % (key, cc("max-age=3"))
        body = self.data_body(key)
        self.assertForwarded(self.fetch("shared.test", path), 200, stored=True, body=body)
        time.sleep(3.05)
        before, metrics = self.stats(), self.gw.metrics()
        responses = self.concurrent_gets(path, 10)
        self.assertOriginDelta(before, requests=1, db_queries=1)
        self.assertEqual({(r.status, r.body) for r in responses}, {(200, body)})
        statuses = sorted(r.header("Cache-Status") for r in responses)
        validated = [s for s in statuses
                     if re.fullmatch(r"bulwark; fwd=stale; fwd-status=304; ttl=(2|3)", s)]
        followers = [s for s in statuses
                     if re.fullmatch(r"bulwark; hit; ttl=(1|2|3); collapsed", s)]
        self.assertEqual((len(validated), len(followers)), (1, 9), statuses)
        self.assertMetricDeltas(metrics, {
            ("bulwark_cache_coalesced_total", ()): 9,
            ("bulwark_cache_requests_total", (("result", "revalidated"),)): 1})

    def test_stale_while_revalidate_refreshes_once_in_the_background(self):
        key = self.new_key()
        # max-age=3: whole-second ages (a 300 ms exchange may count as 1 s) leave the
        # freshened entry fresh for the check at the end.
        path = "/api/data/%s?%s" % (key, cc("max-age=3, stale-while-revalidate=30"))
        body = self.data_body(key)
        self.assertForwarded(self.fetch("shared.test", path), 200, stored=True, body=body)
        time.sleep(3.05)  # stale now, within stale-while-revalidate
        before, metrics = self.stats(), self.gw.metrics()
        responses = self.concurrent_gets(path, 20)
        for r in responses:
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, body)
            self.assertRegex(r.header("Cache-Status"), r"^bulwark; hit; ttl=(-3|-2|-1|0); "
                                                       r"detail=stale$")
        # One background validation (If-None-Match; the origin answers 304).
        self.assertTrue(wait_until(lambda: metric(
            self.gw.metrics(), "bulwark_cache_background_refreshes_total", outcome="ok") -
            metric(metrics, "bulwark_cache_background_refreshes_total", outcome="ok") >= 1,
            timeout=5))
        time.sleep(0.4)  # a second refresh, if one had been started, would show by now
        self.assertOriginDelta(before, requests=1, db_queries=1)
        self.assertMetricDeltas(metrics, {
            ("bulwark_cache_background_refreshes_total", (("outcome", "ok"),)): 1,
            ("bulwark_cache_background_refreshes_total", (("outcome", "failed"),)): 0,
            ("bulwark_cache_requests_total", (("result", "stale"),)): 20})
        # Freshened: a fresh hit, with no request upstream.
        self.assertHit(self.fetch("shared.test", path), body, ttl=(1, 3), age=(0, 2))
        self.assertOriginDelta(before, requests=1, db_queries=1)


class UpstreamDownTest(CacheTestBase):
    """stale-if-error, and upstream errors: each test has its own upstream (it stops the
    origin) and gateway."""

    def test_stale_if_error_when_the_origin_is_unreachable(self):
        self.origin_server = self.origin()
        self.gw = self.gateway(gateway_config({"origin": [self.origin_server.address]},
                                              [route("shared", "shared.test", cache="shared")]))
        key = self.new_key()
        body = self.data_body(key)
        tolerant = "/api/data/%s?%s" % (key, cc("max-age=1, stale-if-error=60"))
        strict = "/api/data/%s?%s" % (key, cc("max-age=1"))
        fresh = "/api/data/%s?%s" % (key, cc("max-age=60"))
        for path in (tolerant, strict, fresh):
            self.assertForwarded(self.fetch("shared.test", path), 200, stored=True, body=body)
        time.sleep(1.05)
        self.origin_server.stop()  # by PID
        metrics = self.gw.metrics()

        reply = self.fetch("shared.test", tolerant)
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.body, body)
        self.assertCacheStatus(reply, "bulwark; fwd=stale; ttl=*; detail=stale-if-error",
                               ttl=(-2, 0))
        self.assertAge(reply, (1, 3))

        reply = self.fetch("shared.test", strict)
        self.assertEqual(reply.status, 502, reply)
        self.assertEqual(reply.headers.get("Content-Type"), "application/json")
        self.assertEqual(reply.json()["error"], "bad_gateway")
        self.assertCacheStatus(reply, "bulwark; fwd=stale; detail=upstream-failed")

        self.assertHit(self.fetch("shared.test", fresh), body, ttl=(55, 59), age=(1, 5))
        self.assertMetricDeltas(metrics, {
            ("bulwark_cache_requests_total", (("result", "stale_on_error"),)): 1,
            ("bulwark_cache_requests_total", (("result", "hit"),)): 1})

    def test_stale_if_error_on_a_5xx_and_unsafe_requests_that_fail(self):
        answers = []  # (status, cache-control, extra fields) the fake answers with, in order
        lock = threading.Lock()

        def handler(conn):
            while conn.read_request() is not None:
                with lock:
                    status, control, extra = answers.pop(0)
                conn.send(ok_response(b"body-%d" % status, status=status,
                                      extra_headers=[("Cache-Control", control),
                                                     ("ETag", '"v1"')] + extra))

        fake = self.fake(handler)
        self.gw = self.gateway(gateway_config({"origin": [fake.address]},
                                              [route("shared", "shared.test", cache="shared")]))
        answers += [(200, "max-age=1, stale-if-error=60", []), (503, "no-store", []),
                    (200, "max-age=60", []), (500, "no-store", []),
                    (502, "no-store", [("Location", "/api/b")])]
        self.assertForwarded(self.fetch("shared.test", "/api/a"), 200, stored=True,
                             body=b"body-200")
        time.sleep(1.05)
        reply = self.fetch("shared.test", "/api/a")
        self.assertEqual((reply.status, reply.body), (200, b"body-200"))
        self.assertCacheStatus(reply, "bulwark; fwd=stale; fwd-status=503; ttl=*; "
                                      "detail=stale-if-error", ttl=(-2, 0))
        self.assertAge(reply, (1, 3))
        # A POST answered with an error invalidates nothing (RFC 9111 §4.4).
        self.assertForwarded(self.fetch("shared.test", "/api/b"), 200, stored=True,
                             body=b"body-200")
        for status in (500, 502):
            reply = self.fetch("shared.test", "/api/b", method="POST", body=b"x")
            self.assertEqual(reply.status, status, reply)
            self.assertHit(self.fetch("shared.test", "/api/b"), b"body-200")
        self.assertEqual(fake.request_count(), 5)


if __name__ == "__main__":
    unittest.main()
