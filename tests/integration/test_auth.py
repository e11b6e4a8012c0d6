"""JWT authentication through the real gateway in front of the real origin: 401 / 403 / 200
paths with their exact challenges and JSON bodies, claims forwarded and spoofed copies
stripped, token sources (bearer, cookie, header), the failure log line and metrics, the
verified-token cache, and the failed-attempts guard (per client, behind trusted proxies too).
The upstream's view comes from the origin's /api/echo, which returns the headers it got."""

import json
import os
import tempfile
import time
import unittest

from harness import GatewayTestCase, gateway_config, metric
from tokens import b64url, claims, generate_keys, hs_token, random_secret, segment, signed_token

MAIN_ISS = "https://main.test"
ES_ISS = "https://es.test"
OTHER_ISS = "https://other.test"


def auth_header(token):
    return {"Authorization": "Bearer " + token}


class AuthKeys:
    """Secrets and key pairs in a temporary folder, named by absolute path in configs."""

    def __init__(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="bulwark-auth-")
        self.dir = self._tmp.name
        self.main_secret = random_secret()
        self.other_secret = random_secret()
        self.main_secret_file = self._write("main.secret", self.main_secret + "\n")
        self.other_secret_file = self._write("other.secret", self.other_secret)
        self.es_dir = generate_keys("ES256", os.path.join(self.dir, "es"), kid="es1")
        self.es_private = os.path.join(self.es_dir, "private.pem")
        self.es_public = os.path.join(self.es_dir, "public.pem")

    def _write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def cleanup(self):
        self._tmp.cleanup()

    def issuers(self):
        return {
            "main": {"issuer": MAIN_ISS, "audiences": ["api"], "max_lifetime": "15m",
                     "keys": [{"alg": "HS256", "secret_file": self.main_secret_file}]},
            "es": {"issuer": ES_ISS, "audiences": ["api"],
                   "keys": [{"alg": "ES256", "kid": "es1", "pem_file": self.es_public}]},
            "other": {"issuer": OTHER_ISS,
                      "keys": [{"alg": "HS256", "secret_file": self.other_secret_file}]},
        }

    def main_token(self, **kw):
        return hs_token(self.main_secret, claims(MAIN_ISS, **kw))


def echo_headers(body):
    return json.loads(body)["headers"]


class AuthTestBase(GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.keys = AuthKeys()
        cls.addClassCleanup(cls.keys.cleanup)
        cls.origin_server = cls.start_origin()

    def assertAuthError(self, response, status, error, challenge=None):
        code, headers, body = response
        self.assertEqual(code, status, body)
        self.assertEqual(headers.get("Content-Type"), "application/json")
        self.assertEqual(headers.get("Cache-Control"), "no-store")
        payload = json.loads(body)
        self.assertEqual(payload["error"], error, payload)
        self.assertIsInstance(payload["detail"], str)
        self.assertTrue(payload["detail"])
        if challenge is not None:
            self.assertEqual(headers.get("WWW-Authenticate"), challenge)
        return payload


class AuthRoutesTest(AuthTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        config = gateway_config(
            {"origin": [cls.origin_server.address]},
            [
                {"name": "public", "match": {"path_prefix": "/api/echo/public"},
                 "upstream": "origin"},
                {"name": "optional", "match": {"path_prefix": "/api/echo/optional"},
                 "upstream": "origin",
                 "auth": {"mode": "optional", "forward_claims": {"sub": "X-User-Id"}}},
                {"name": "admin", "match": {"path_prefix": "/api/echo/admin"},
                 "upstream": "origin",
                 "auth": {"issuers": ["main"],
                          "require": {"scopes": ["admin"],
                                      "claims": {"tenant": {"equals": "acme"}}}}},
                {"name": "cookie", "match": {"path_prefix": "/api/echo/cookie"},
                 "upstream": "origin",
                 "auth": {"token": {"cookie": "session"}, "forward_token": False,
                          "forward_claims": {"sub": "X-User-Id"}}},
                {"name": "header", "match": {"path_prefix": "/api/echo/header"},
                 "upstream": "origin",
                 "auth": {"token": {"header": "X-Api-Token"}, "forward_token": False}},
                {"name": "api", "match": {"path_prefix": "/api/"}, "upstream": "origin",
                 "auth": {"mode": "required", "issuers": ["main", "es"],
                          "forward_claims": {"sub": "X-User-Id", "scope": "X-User-Scopes",
                                             "aud": "X-User-Aud"}}},
            ])
        config["auth"] = {"issuers": cls.keys.issuers(), "failed_attempts": "off"}
        cls.gw = cls.start_gateway(config)

    def get(self, path, headers=None):
        return self.gw.request("GET", path, headers=headers)

    # -- 401 without a token ------------------------------------------------------------------

    def test_no_token_is_401_with_a_bare_bearer_challenge(self):
        before = self.origin_server.stats()["requests"]
        self.assertAuthError(self.get("/api/echo/x"), 401, "missing_token", "Bearer")
        self.assertEqual(self.origin_server.stats()["requests"], before + 0)

    def test_other_scheme_counts_as_no_bearer_token(self):
        self.assertAuthError(self.get("/api/echo/x", {"Authorization": "Basic YTpi"}), 401,
                             "missing_token", "Bearer")

    def test_two_authorization_fields_are_400(self):
        with self.gw.raw() as client:
            token = self.keys.main_token()
            client.send(("GET /api/echo/x HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                         "Authorization: Bearer %s\r\n\r\n" % (token, token)).encode())
            response = client.read_response()
        self.assertEqual(response.status, 400)
        self.assertEqual(response.json()["error"], "invalid_request")
        self.assertEqual(response.header("WWW-Authenticate"),
                         'Bearer error="invalid_request", '
                         'error_description="the token header is sent more than once"')

    # -- 401 with a bad token -----------------------------------------------------------------

    def assertInvalidToken(self, token, description, path="/api/echo/x"):
        payload = self.assertAuthError(
            self.get(path, auth_header(token)), 401, "invalid_token",
            'Bearer error="invalid_token", error_description="%s"' % description)
        self.assertEqual(payload["detail"], description)

    def test_expired_token(self):
        self.assertInvalidToken(self.keys.main_token(ttl=-120), "the token has expired")

    def test_bad_signature(self):
        token = self.keys.main_token()
        head, body, sig = token.split(".")
        flipped = head + "." + body + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
        self.assertInvalidToken(flipped, "the token's signature is invalid")

    def test_alg_none_in_every_case(self):
        for alg in ("none", "None", "NONE"):
            with self.subTest(alg=alg):
                token = segment({"alg": alg}) + "." + segment(claims(MAIN_ISS)) + "." + b64url(b"x")
                self.assertInvalidToken(token, "the token's algorithm is not accepted")

    def test_unsecured_token_with_empty_signature(self):
        token = segment({"alg": "none"}) + "." + segment(claims(MAIN_ISS)) + "."
        self.assertInvalidToken(token, "the token's algorithm is not accepted")

    def test_empty_signature_of_a_signed_alg(self):
        token = segment({"alg": "HS256"}) + "." + segment(claims(MAIN_ISS)) + "."
        self.assertInvalidToken(token, "the token is not a well-formed JWS compact token")

    def test_jwe_five_segments(self):
        token = ".".join([segment({"alg": "RSA-OAEP", "enc": "A256GCM"}), "a", "b", "c", "d"])
        self.assertInvalidToken(token, "encrypted tokens (JWE) are not accepted")

    def test_token_over_8_kib(self):
        token = self.keys.main_token(pad="x" * 9000)
        self.assertInvalidToken(token, "the token is larger than 8192 bytes")

    def test_wrong_audience(self):
        self.assertInvalidToken(self.keys.main_token(aud="billing"),
                                "the token's audience is not accepted here")

    def test_lifetime_over_max_lifetime(self):
        self.assertInvalidToken(self.keys.main_token(ttl=3600),
                                "the token's lifetime is longer than allowed")

    def test_issuer_not_accepted_by_the_route(self):
        token = hs_token(self.keys.other_secret, claims(OTHER_ISS))
        self.assertInvalidToken(token, "the token's issuer is not accepted here")

    def test_token_of_one_issuer_signed_with_another_issuers_secret(self):
        token = hs_token(self.keys.other_secret, claims(MAIN_ISS))
        self.assertInvalidToken(token, "the token's signature is invalid")

    def test_algorithm_confusion_hs256_keyed_with_the_es_public_pem(self):
        with open(self.keys.es_public) as f:
            pem = f.read()
        token = hs_token(pem, claims(ES_ISS), header={"alg": "HS256", "kid": "es1"})
        self.assertInvalidToken(token, "the token's algorithm does not match its key")

    def test_malformed_bearer_value(self):
        self.assertInvalidToken("not a token", "the token is not a well-formed JWS compact token")

    def test_claim_with_wrong_type(self):
        token = hs_token(self.keys.main_secret, claims(MAIN_ISS, exp="tomorrow"))
        self.assertInvalidToken(token, "a claim of the token has an invalid value")

    # -- 200 and forwarding -------------------------------------------------------------------

    def test_valid_token_reaches_the_upstream_with_claims_forwarded(self):
        token = self.keys.main_token(sub="alice", scope="read write")
        status, headers, body = self.get("/api/echo/x", auth_header(token))
        self.assertEqual(status, 200, body)
        seen = echo_headers(body)
        self.assertEqual(seen["x-user-id"], "alice")
        self.assertEqual(seen["x-user-scopes"], "read write")
        self.assertEqual(seen["x-user-aud"], "api")
        self.assertEqual(seen["authorization"], "Bearer " + token)

    def test_es256_token_of_the_second_issuer(self):
        token = signed_token(self.keys.es_private, "ES256", ES_ISS, sub="bob", kid="es1")
        status, _, body = self.get("/api/echo/x", auth_header(token))
        self.assertEqual(status, 200, body)
        self.assertEqual(echo_headers(body)["x-user-id"], "bob")

    def test_spoofed_claim_headers_are_replaced(self):
        token = self.keys.main_token(sub="alice")
        headers = dict(auth_header(token))
        headers["X-User-Id"] = "admin"
        headers["x-user-scopes"] = "everything"
        status, _, body = self.get("/api/echo/x", headers)
        self.assertEqual(status, 200, body)
        seen = echo_headers(body)
        self.assertEqual(seen["x-user-id"], "alice")
        self.assertNotIn("x-user-scopes", seen)  # the token has no scope claim

    def test_spoofed_claim_headers_are_stripped_on_routes_without_auth(self):
        status, _, body = self.get("/api/echo/public", {"X-User-Id": "admin",
                                                        "X-User-Scopes": "all"})
        self.assertEqual(status, 200, body)
        seen = echo_headers(body)
        self.assertNotIn("x-user-id", seen)
        self.assertNotIn("x-user-scopes", seen)

    def test_optional_route_without_token_passes_anonymous(self):
        status, _, body = self.get("/api/echo/optional", {"X-User-Id": "admin"})
        self.assertEqual(status, 200, body)
        self.assertNotIn("x-user-id", echo_headers(body))

    def test_optional_route_with_a_bad_token_is_401(self):
        self.assertInvalidToken(self.keys.main_token(ttl=-100), "the token has expired",
                                path="/api/echo/optional")

    def test_optional_route_with_a_good_token_forwards(self):
        status, _, body = self.get("/api/echo/optional", auth_header(self.keys.main_token()))
        self.assertEqual(status, 200, body)
        self.assertEqual(echo_headers(body)["x-user-id"], "alice")

    def test_connection_header_cannot_remove_claim_headers(self):
        token = self.keys.main_token(sub="alice", scope="read")
        headers = dict(auth_header(token), Connection="X-User-Id, X-User-Scopes")
        status, _, body = self.get("/api/echo/x", headers)
        self.assertEqual(status, 200, body)
        seen = echo_headers(body)
        self.assertEqual(seen["x-user-id"], "alice")
        self.assertEqual(seen["x-user-scopes"], "read")

    def test_bearer_with_a_tab_is_a_refused_attempt_not_another_scheme(self):
        forged = hs_token("z" * 40, claims(MAIN_ISS, sub="root"))
        status, _, body = self.get("/api/echo/optional", {"Authorization": "Bearer\t" + forged})
        self.assertEqual(status, 401, body)

    def test_unverified_bearer_never_reaches_the_upstream(self):
        forged = hs_token("z" * 40, claims(MAIN_ISS, sub="root"))
        # The cookie route verifies the cookie; an Authorization next to it is not forwarded.
        token = self.keys.main_token(sub="carol")
        status, _, body = self.get("/api/echo/cookie", {"Cookie": "session=" + token,
                                                        "Authorization": "Bearer " + forged})
        self.assertEqual(status, 200, body)
        self.assertNotIn("authorization", echo_headers(body))

    def test_other_schemes_pass_through_optional_routes(self):
        status, _, body = self.get("/api/echo/optional", {"Authorization": "Basic YTpi"})
        self.assertEqual(status, 200, body)
        self.assertEqual(echo_headers(body)["authorization"], "Basic YTpi")

    # -- 403 ------------------------------------------------------------------------------------

    def test_missing_scope_is_403_insufficient_scope(self):
        token = self.keys.main_token(scope="read", tenant="acme")
        self.assertAuthError(
            self.get("/api/echo/admin", auth_header(token)), 403, "insufficient_scope",
            'Bearer error="insufficient_scope", '
            'error_description="the token lacks the scope \'admin\'", scope="admin"')

    def test_claim_condition_not_met_is_403(self):
        token = self.keys.main_token(scope="admin", tenant="globex")
        payload = self.assertAuthError(self.get("/api/echo/admin", auth_header(token)), 403,
                                       "insufficient_scope")
        self.assertNotIn("globex", payload["detail"])

    def test_scope_and_claim_met_is_200(self):
        token = self.keys.main_token(scope="read admin", tenant="acme")
        status, _, body = self.get("/api/echo/admin", auth_header(token))
        self.assertEqual(status, 200, body)

    def test_admin_route_refuses_the_es_issuer(self):
        token = signed_token(self.keys.es_private, "ES256", ES_ISS, kid="es1", scope="admin")
        self.assertInvalidToken(token, "the token's issuer is not accepted here",
                                path="/api/echo/admin")

    # -- token sources --------------------------------------------------------------------------

    def test_cookie_token_is_used_and_not_forwarded(self):
        token = self.keys.main_token(sub="carol")
        status, _, body = self.get("/api/echo/cookie",
                                   {"Cookie": "theme=dark; session=%s; lang=en" % token})
        self.assertEqual(status, 200, body)
        seen = echo_headers(body)
        self.assertEqual(seen["x-user-id"], "carol")
        self.assertEqual(seen["cookie"], "theme=dark; lang=en")

    def test_cookie_route_ignores_the_authorization_header(self):
        self.assertAuthError(self.get("/api/echo/cookie", auth_header(self.keys.main_token())),
                             401, "missing_token", "Bearer")

    def test_header_token_is_used_and_dropped(self):
        token = self.keys.main_token()
        status, _, body = self.get("/api/echo/header", {"X-Api-Token": token})
        self.assertEqual(status, 200, body)
        self.assertNotIn("x-api-token", echo_headers(body))

    # -- log line, metrics, access log, cache -----------------------------------------------------

    def test_failure_log_line_names_the_reason_and_never_the_token(self):
        token = hs_token(self.keys.main_secret, claims(MAIN_ISS, ttl=-300),
                         header={"alg": "HS256", "kid": "k-log-test"})
        status, headers, _ = self.get("/api/echo/x", dict(auth_header(token),
                                                          **{"X-Request-Id": "log-line-test-1"}))
        self.assertEqual(status, 401)
        line = self.wait_for_log_line("log-line-test-1")
        record = json.loads(line)
        self.assertEqual(record["event"], "auth_failure")
        self.assertEqual(record["reason"], "expired")
        self.assertEqual(record["client_ip"], "127.0.0.1")
        self.assertEqual(record["route"], "api")
        self.assertEqual(record["alg"], "HS256")
        self.assertEqual(record["kid"], "k-log-test")
        self.assertEqual(record["iss"], MAIN_ISS)
        self.assertNotIn(token.split(".")[2], self.gw.stderr())
        self.assertNotIn(token.split(".")[1], self.gw.stderr())

    def wait_for_log_line(self, request_id, timeout=3.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.gw.stderr().splitlines():
                if line.startswith("{") and '"%s"' % request_id in line:
                    return line
            time.sleep(0.05)
        self.fail("no log line for %s in:\n%s" % (request_id, self.gw.stderr()[-3000:]))

    def test_failures_are_counted_by_reason(self):
        def count(reason):
            return metric(self.gw.metrics(), "bulwark_auth_failures_total", reason=reason)
        before = count("bad_signature")
        token = hs_token("x" * 40, claims(MAIN_ISS))
        for _ in range(3):
            self.assertEqual(self.get("/api/echo/x", auth_header(token))[0], 401)
        self.assertEqual(count("bad_signature"), before + 3)

    def test_repeated_token_is_served_from_the_verified_token_cache(self):
        token = self.keys.main_token(sub="cache-user")
        def values():
            m = self.gw.metrics()
            return (metric(m, "bulwark_auth_token_cache_hits_total"),
                    metric(m, "bulwark_auth_token_cache_misses_total"))
        hits, misses = values()
        for _ in range(4):
            self.assertEqual(self.get("/api/echo/x", auth_header(token))[0], 200)
        new_hits, new_misses = values()
        self.assertEqual(new_misses - misses, 1)
        self.assertEqual(new_hits - hits, 3)

    def test_access_log_records_the_auth_outcome(self):
        token = self.keys.main_token()
        ids = {"acc-auth-ok": auth_header(token), "acc-auth-none": {}}
        for request_id, headers in ids.items():
            self.get("/api/echo/x", dict(headers, **{"X-Request-Id": request_id}))
        records = self.gw.access_records(
            count=2, predicate=lambda r: r.get("request_id") in ids)
        by_id = {r["request_id"]: r for r in records}
        self.assertIn(by_id["acc-auth-ok"]["auth"], ("ok", "ok_cached"))
        self.assertEqual(by_id["acc-auth-none"]["auth"], "missing_token")
        self.assertEqual(by_id["acc-auth-none"]["status"], 401)

    def test_keep_alive_survives_a_401(self):
        with self.gw.raw() as client:
            first = client.request(b"GET /api/echo/x HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(first.status, 401)
            token = self.keys.main_token()
            second = client.request(("GET /api/echo/x HTTP/1.1\r\nHost: t\r\n"
                                     "Authorization: Bearer %s\r\n\r\n" % token).encode())
            self.assertEqual(second.status, 200)

    def test_preflight_shaped_options_with_a_body_needs_a_token(self):
        before = self.origin_server.stats()["requests"]
        status, _, _ = self.gw.request("OPTIONS", "/api/echo/x", body=b'{"delete":true}', headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "DELETE",
            "X-HTTP-Method-Override": "DELETE"})
        self.assertEqual(status, 401)
        self.assertEqual(self.origin_server.stats()["requests"], before)

    def test_plain_options_still_needs_a_token(self):
        status, _, _ = self.gw.request("OPTIONS", "/api/echo/x")
        self.assertEqual(status, 401)


class FailedAttemptsGuardTest(AuthTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        config = gateway_config(
            {"origin": [cls.origin_server.address]},
            [
                {"name": "public", "match": {"path_prefix": "/api/public/"},
                 "upstream": "origin"},
                {"name": "api", "match": {"path_prefix": "/api/"}, "upstream": "origin",
                 "auth": "required"},
            ],
            server={"trusted_proxies": ["127.0.0.2/32"]})
        config["auth"] = {"issuers": {"main": cls.keys.issuers()["main"]},
                          "failed_attempts": {"limit": "3/m", "cooldown": "30s"}}
        cls.gw = cls.start_gateway(config)

    def send(self, client_ip, token=None):
        # The gateway trusts 127.0.0.2 as a proxy: X-Forwarded-For then names the client.
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.gw.port, timeout=10,
                                          source_address=("127.0.0.2", 0))
        try:
            headers = {"X-Forwarded-For": client_ip}
            if token:
                headers.update(auth_header(token))
            conn.request("GET", "/api/echo/x", headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()

    def bad_token(self):
        return hs_token("y" * 40, claims(MAIN_ISS))

    def test_limit_then_429_for_the_cooldown_even_with_a_good_token(self):
        client = "198.51.100.7"
        for _ in range(4):  # 3 per minute allowed; the 4th failure starts the cooldown
            self.assertEqual(self.send(client, self.bad_token())[0], 401)
        response = self.send(client, self.keys.main_token())
        payload = self.assertAuthError(response, 429, "too_many_failed_attempts")
        retry_after = int(response[1].get("Retry-After"))
        self.assertTrue(25 <= retry_after <= 30, retry_after)
        self.assertIn("retry in", payload["detail"])
        self.assertIn('"event":"auth_client_blocked"', self.gw.stderr())
        self.assertIn('"client_ip":"198.51.100.7"', self.gw.stderr())
        metrics = self.gw.metrics()
        self.assertGreaterEqual(metric(metrics, "bulwark_auth_blocked_total"), 1)

    def test_other_clients_are_not_blocked(self):
        for _ in range(4):
            self.send("198.51.100.20", self.bad_token())
        status, _, body = self.send("198.51.100.21", self.keys.main_token())
        self.assertEqual(status, 200, body)

    def test_missing_tokens_do_not_count(self):
        for _ in range(8):
            self.assertEqual(self.send("198.51.100.30")[0], 401)
        status, _, body = self.send("198.51.100.30", self.keys.main_token())
        self.assertEqual(status, 200, body)

    def test_blocked_client_can_still_use_routes_without_auth(self):
        client = "198.51.100.40"
        for _ in range(4):
            self.send(client, self.bad_token())
        self.assertEqual(self.send(client, self.keys.main_token())[0], 429)
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.gw.port, timeout=10,
                                          source_address=("127.0.0.2", 0))
        conn.request("GET", "/api/public/hello", headers={"X-Forwarded-For": client})
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()

    def test_entries_with_ports_are_clients_of_their_own(self):
        for _ in range(4):
            self.send("198.51.100.50:1111", self.bad_token())
        self.assertEqual(self.send("198.51.100.50:2222", self.keys.main_token())[0], 429)
        self.assertEqual(self.send("198.51.100.51:1111", self.keys.main_token())[0], 200)

    def test_trusted_proxy_without_a_usable_entry_is_never_blocked(self):
        # The client is unknown: blocking the proxy would block all of its clients.
        for _ in range(6):
            self.assertEqual(self.send("unknown", self.bad_token())[0], 401)
        self.assertEqual(self.send("unknown", self.keys.main_token())[0], 200)
        self.assertEqual(self.send("198.51.100.52", self.keys.main_token())[0], 200)

    def test_untrusted_peer_cannot_choose_its_client_address(self):
        # From 127.0.0.1 (not trusted), X-Forwarded-For is ignored: the peer is the client.
        for i in range(4):
            self.gw.request("GET", "/api/echo/x", headers=dict(
                auth_header(self.bad_token()), **{"X-Forwarded-For": "203.0.113.%d" % i}))
        status, _, _ = self.gw.request("GET", "/api/echo/x",
                                       headers=auth_header(self.keys.main_token()))
        self.assertEqual(status, 429)


if __name__ == "__main__":
    unittest.main()
