"""Keys from a JWKS URL: a local HTTP server (in this process, on a free loopback port) plays the
identity provider. /readyz says why bulwark is not ready until a first key set arrives; tokens
verify once it has; when the provider rotates its key, tokens with the new kid verify without a
restart (an unknown kid triggers an early refetch) and tokens of the retired key stop verifying;
a failing provider leaves the last good set in use."""

import http.server
import json
import os
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (LOOPBACK, GatewayTestCase, free_port, gateway_config, http_request, metric,
                     wait_until)
from tokens import generate_keys, signed_token

ISS = "https://idp.test"


class FakeIdentityProvider:
    """Serves `document` at /jwks.json with `status`; counts the requests."""

    def __init__(self, tls_cert=None, tls_key=None):
        self.document = b""
        self.status = 503
        self.cache_control = None
        self.requests = 0
        self.lock = threading.Lock()
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with provider.lock:
                    provider.requests += 1
                    status, body, cc = provider.status, provider.document, provider.cache_control
                if self.path != "/jwks.json":
                    status, body = 404, b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if cc:
                    self.send_header("Cache-Control", cc)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer((LOOPBACK, self.port), Handler)
        self.scheme = "http"
        if tls_cert:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls_cert, tls_key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "%s://%s:%d/jwks.json" % (self.scheme, LOOPBACK, self.port)

    def publish(self, *jwks_files, status=200, cache_control=None):
        keys = []
        for path in jwks_files:
            with open(path) as f:
                keys += json.load(f)["keys"]
        with self.lock:
            self.document = json.dumps({"keys": keys}).encode()
            self.status = status
            self.cache_control = cache_control

    def publish_document(self, document, status=200):
        with self.lock:
            self.document = json.dumps(document).encode()
            self.status = status

    def fail(self, status=500):
        with self.lock:
            self.status = status

    def count(self):
        with self.lock:
            return self.requests

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class JwksRotationTest(GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="bulwark-jwks-")
        cls.addClassCleanup(cls._tmp.cleanup)
        cls.key_a = generate_keys("ES256", os.path.join(cls._tmp.name, "a"), kid="key-a")
        cls.key_b = generate_keys("ES256", os.path.join(cls._tmp.name, "b"), kid="key-b")
        cls.idp = FakeIdentityProvider()
        cls.addClassCleanup(cls.idp.stop)
        cls.origin_server = cls.start_origin()

    def token(self, key_dir, kid, sub="alice"):
        return signed_token(os.path.join(key_dir, "private.pem"), "ES256", ISS, sub=sub, kid=kid)

    def start(self, refresh="1m", refetch="1s"):
        config = gateway_config(
            {"origin": [self.origin_server.address]},
            [{"name": "api", "match": {"path_prefix": "/api/"}, "upstream": "origin",
              "auth": {"forward_claims": {"sub": "X-User-Id"}}}])
        config["auth"] = {"issuers": {"idp": {
            "issuer": ISS, "audiences": ["api"],
            "keys": [{"jwks_url": self.idp.url, "refresh": refresh,
                      "unknown_kid_refetch": refetch, "fetch_timeout": "2s"}]}}}
        return self.gateway(config)

    def call(self, gw, token):
        return gw.request("GET", "/api/echo/x", headers={"Authorization": "Bearer " + token})[0]

    def readyz(self, gw):
        status, _, body = gw.admin("/readyz")
        return status, json.loads(body)

    def test_not_ready_until_the_first_key_set_then_rotation_without_restart(self):
        self.idp.fail(503)
        gw = self.start()
        # The provider answers 503: bulwark serves but says why it is not ready.
        def failed_fetch_reported():
            status, body = self.readyz(gw)
            return status == 503 and any(
                self.idp.url in r and "503" in r for r in body.get("reasons", []))
        self.assertTrue(wait_until(failed_fetch_reported, timeout=5), self.readyz(gw))
        token_a = self.token(self.key_a, "key-a")
        self.assertEqual(self.call(gw, token_a), 401)

        # The provider recovers: ready, and tokens verify.
        self.idp.publish(os.path.join(self.key_a, "jwks.json"))
        self.assertTrue(wait_until(lambda: self.readyz(gw)[0] == 200, timeout=10),
                        self.readyz(gw))
        self.assertEqual(self.call(gw, token_a), 200)

        # Rotation: the provider now publishes key B only.
        self.idp.publish(os.path.join(self.key_b, "jwks.json"))
        token_b = self.token(self.key_b, "key-b", sub="bob")
        # The unknown kid makes bulwark refetch early (not waiting for the 1m refresh).
        # Unknown kids do not count as failed attempts (the guard is on by default).
        self.assertTrue(wait_until(lambda: self.call(gw, token_b) == 200, timeout=10))
        # Key A is gone from the set: its tokens, even one verified (and cached) before, fail.
        self.assertEqual(self.call(gw, token_a), 401)
        status, _, body = gw.request("GET", "/api/echo/x",
                                     headers={"Authorization": "Bearer " + token_b})
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["headers"]["x-user-id"], "bob")

    def test_failed_refresh_keeps_the_last_good_set(self):
        self.idp.publish(os.path.join(self.key_a, "jwks.json"))
        gw = self.start(refresh="1s")
        self.assertTrue(wait_until(lambda: self.readyz(gw)[0] == 200, timeout=10))
        token_a = self.token(self.key_a, "key-a")
        self.assertEqual(self.call(gw, token_a), 200)
        before = self.idp.count()
        self.idp.fail(500)
        # Refreshes keep failing (each one seen by the provider) ...
        self.assertTrue(wait_until(lambda: self.idp.count() >= before + 2, timeout=10))
        # ... and the keys fetched before still verify; readiness holds.
        self.assertEqual(self.call(gw, self.token(self.key_a, "key-a", sub="carol")), 200)
        self.assertEqual(self.readyz(gw)[0], 200)

    def test_symmetric_keys_are_never_taken_from_a_url(self):
        from tokens import b64url, claims, hs_token
        secret = os.urandom(32)
        self.idp.publish_document({"keys": [
            {"kty": "oct", "alg": "HS256", "kid": "leaked", "k": b64url(secret)}]})
        gw = self.start()
        def refused_reported():
            status, body = self.readyz(gw)
            return status == 503 and any("symmetric" in r for r in body.get("reasons", []))
        self.assertTrue(wait_until(refused_reported, timeout=5), self.readyz(gw))
        forged = hs_token(secret, claims(ISS, sub="root"), header={"alg": "HS256", "kid": "leaked"})
        self.assertEqual(self.call(gw, forged), 401)

    def test_unknown_kid_refetches_are_rate_limited(self):
        self.idp.publish(os.path.join(self.key_a, "jwks.json"))
        gw = self.start(refresh="10m", refetch="30s")
        self.assertTrue(wait_until(lambda: self.readyz(gw)[0] == 200, timeout=10))
        token_b = self.token(self.key_b, "key-b")
        before = self.idp.count()
        for _ in range(20):
            self.assertEqual(self.call(gw, token_b), 401)
        time.sleep(0.5)
        # One early refetch at most for the burst of unknown kids.
        self.assertLessEqual(self.idp.count() - before, 1)


def make_tls_files(folder):
    """A CA and a server certificate for 127.0.0.1 it signed (openssl CLI), and a second,
    self-signed CA that signed nothing here."""
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)
    p = lambda name: os.path.join(folder, name)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "2", "-subj", "/CN=test CA")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", p("server.key"), "-out", p("server.csr"), "-subj", "/CN=127.0.0.1")
    with open(p("ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
            "-CAcreateserial", "-out", p("server.pem"), "-days", "2", "-extfile", p("ext.cnf"))
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", p("other.key"), "-out", p("other-ca.pem"), "-days", "2",
            "-subj", "/CN=other CA")
    return p("ca.pem"), p("other-ca.pem"), p("server.pem"), p("server.key")


class JwksOverHttpsTest(GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="bulwark-jwks-tls-")
        cls.addClassCleanup(cls._tmp.cleanup)
        cls.ca, cls.other_ca, cert, key = make_tls_files(cls._tmp.name)
        cls.key_a = generate_keys("ES256", os.path.join(cls._tmp.name, "a"), kid="key-a")
        cls.idp = FakeIdentityProvider(tls_cert=cert, tls_key=key)
        cls.addClassCleanup(cls.idp.stop)
        cls.idp.publish(os.path.join(cls.key_a, "jwks.json"))
        cls.origin_server = cls.start_origin()

    def start(self, ca_file):
        config = gateway_config(
            {"origin": [self.origin_server.address]},
            [{"name": "api", "match": {"path_prefix": "/api/"}, "upstream": "origin",
              "auth": "required"}])
        config["auth"] = {"issuers": {"idp": {
            "issuer": ISS, "keys": [{"jwks_url": self.idp.url, "ca_file": ca_file}]}}}
        return self.gateway(config)

    def test_https_with_the_providers_ca_verifies_tokens(self):
        gw = self.start(self.ca)
        self.assertTrue(wait_until(lambda: gw.admin("/readyz")[0] == 200, timeout=10),
                        gw.admin("/readyz"))
        token = signed_token(os.path.join(self.key_a, "private.pem"), "ES256", ISS, kid="key-a")
        status, _, body = gw.request("GET", "/api/echo/x",
                                     headers={"Authorization": "Bearer " + token})
        self.assertEqual(status, 200, body)

    def test_https_with_another_ca_is_refused_and_not_ready(self):
        gw = self.start(self.other_ca)
        def tls_failure_reported():
            status, _, body = gw.admin("/readyz")
            reasons = json.loads(body).get("reasons", [])
            return status == 503 and any("certificate verify failed" in r for r in reasons)
        self.assertTrue(wait_until(tls_failure_reported, timeout=10), gw.admin("/readyz"))
        token = signed_token(os.path.join(self.key_a, "private.pem"), "ES256", ISS, kid="key-a")
        status, _, _ = gw.request("GET", "/api/echo/x",
                                  headers={"Authorization": "Bearer " + token})
        self.assertEqual(status, 401)


if __name__ == "__main__":
    unittest.main()
