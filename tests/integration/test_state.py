"""Shared state on Redis (config `state:`) with real processes: one redis-server, three bulwark
instances and the example origin. Global rate limits (after auth on a claim, before auth on
the client address), token revocation through the admin API, the fail_open and fail_closed
policies while Redis is killed and started again on its port, a "Redis" that answers garbage
or closes mid-reply, the config checks of the `state` section, and the shared cache.

Each class has its own Redis, so that killing it touches no other class; tests of a class use
subjects, client addresses (X-Forwarded-For from a trusted loopback peer) and URLs of their
own, so that they do not count against each other."""

import json
import os
import random
import signal
import re
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

from harness import (BULWARK_BIN, GatewayTestCase, RawClient, Redis, gateway_config,
                     http_request, metric, request_bytes, wait_until)
from tokens import claims, hs_token, write_random_secret

# Another instance's cache event reaches an instance within its poll interval (250 ms) and
# one command timeout (200 ms here): the bound docs/operations.md states, with a margin.
CACHE_EVENT_BOUND = 0.75

ISS = "https://main.test"
N = 6  # the global limits' allowance: 6 a minute, burst 6 (one back every 10 s)
REQUEST_BOUND = 2.0  # seconds any request may take while Redis is away
REDIS_UNAVAILABLE = "shared state: Redis unavailable"
REDIS_BACK = "shared state: Redis answers again"
LIMITS_503 = ("shared state unavailable: this route's rate limits cannot be checked "
              "(state.on_failure: fail_closed)")
REVOCATIONS_503 = ("shared state unavailable: token revocations cannot be checked "
                   "(state.on_failure: fail_closed)")
REVOKED_DETAIL = "the token has been revoked"


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def bearer(token):
    return {"Authorization": "Bearer " + token}


def route(name, prefix, host=None, **extra):
    match = {"path_prefix": prefix}
    if host:
        match["host"] = host
    return dict({"name": name, "match": match, "upstream": "origin"}, **extra)


USER_ROUTE = route("user", "/api/echo/user", auth="required", limits=["per_user"])
PER_USER = {"per_user": {"rate": "%d/m" % N, "burst": N, "key": "claim:sub"}}


def state_section(port, on_failure="fail_open"):
    return {"redis": "redis://127.0.0.1:%d/0?command_timeout=200ms&connect_timeout=300ms" % port,
            "on_failure": on_failure}


def log_lines(gw, text):
    """stderr lines of every process of `gw` (a restarted one's too) that contain `text`."""
    out = []
    for process in gw._processes:
        out.extend(line for line in process.stderr().splitlines() if text in line)
    return out


def security_events(gw, event, request_id=None):
    out = []
    for line in gw.stderr().splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("event") == event and (request_id is None or
                                             record.get("request_id") == request_id):
            out.append(record)
    return out


def readyz(gw):
    status, _, body = gw.admin("/readyz")
    return status, json.loads(body)


class Timed:
    """One request's outcome, and how long it took (status None: it raised)."""

    def __init__(self, status, headers, body, elapsed, error=None):
        self.status, self.headers, self.body = status, headers, body
        self.elapsed, self.error = elapsed, error

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        cache_status = self.headers.get("Cache-Status") if self.headers is not None else None
        return "<%s %.3fs Cache-Status=%r %r %r>" % (self.status, self.elapsed, cache_status,
                                                    self.body[:160], self.error)


def timed_request(gw, method, path, headers=None, body=None, timeout=5):
    start = time.monotonic()
    try:
        status, response_headers, data = gw.request(method, path, body=body, headers=headers,
                                                    timeout=timeout)
        return Timed(status, response_headers, data, time.monotonic() - start)
    except Exception as e:  # a timeout or a reset is an outcome the tests check
        return Timed(None, None, b"", time.monotonic() - start, repr(e))


class StateTestBase(GatewayTestCase):
    """Secret, origin and Redis of a class, and the helpers its tests share."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="bulwark-state-")
        cls.addClassCleanup(cls._tmp.cleanup)
        cls.secret, cls.secret_file = write_random_secret(cls._tmp.name)
        cls.origin_server = cls.start_origin()

    @classmethod
    def start_redis(cls):
        redis = Redis()
        cls.addClassCleanup(redis.stop)
        return redis

    @classmethod
    def auth_section(cls):
        return {"issuers": {"main": {"issuer": ISS, "audiences": ["api"],
                                     "keys": [{"alg": "HS256", "secret_file": cls.secret_file}]}},
                # revoked tokens are failures: the guard must not block the tests' client
                "failed_attempts": "off"}

    @classmethod
    def config(cls, routes, limits=None, redis=None, on_failure="fail_open", **kwargs):
        """A config for the class's origin and issuer: `routes`, `limits`, and the shared
        state on `redis` (none without it)."""
        config = gateway_config({"origin": [cls.origin_server.address]}, routes, **kwargs)
        config["auth"] = cls.auth_section()
        if limits:
            config["limits"] = limits
        if redis is not None:
            config["state"] = state_section(redis.port, on_failure)
        return config

    def token(self, sub, **extra):
        return hs_token(self.secret, claims(ISS, sub=sub, **extra))

    def round_robin(self, gateways, count, make):
        """`count` requests, the i-th through gateways[i % len]; make(i, gw) -> Timed."""
        return [make(i, gateways[i % len(gateways)]) for i in range(count)]

    def assertRateLimited(self, reply, limit_name, max_retry):
        self.assertEqual(reply.status, 429, reply)
        self.assertEqual(reply.headers.get("Content-Type"), "application/json")
        body = reply.json()
        self.assertEqual(set(body), {"error", "detail"}, body)
        self.assertEqual(body["error"], "rate_limited")
        self.assertIn(limit_name, body["detail"])
        retry_after = int(reply.headers.get("Retry-After"))
        self.assertTrue(1 <= retry_after <= max_retry, reply)

    def assertServiceUnavailable(self, reply, detail):
        self.assertEqual(reply.status, 503, reply)
        self.assertEqual(reply.headers.get("Content-Type"), "application/json")
        self.assertEqual(reply.headers.get("Retry-After"), "1")
        self.assertEqual(reply.json(), {"error": "service_unavailable", "detail": detail})

    def assertRevoked(self, reply):
        self.assertEqual(reply.status, 401, reply)
        self.assertEqual(reply.headers.get("Content-Type"), "application/json")
        self.assertEqual(reply.headers.get("Cache-Control"), "no-store")
        self.assertEqual(reply.json(), {"error": "invalid_token", "detail": REVOKED_DETAIL})
        self.assertEqual(reply.headers.get("WWW-Authenticate"),
                         'Bearer error="invalid_token", error_description="%s"' % REVOKED_DETAIL)

    def assertAllAlive(self, gateways):
        for gw in gateways:
            self.assertAlive(gw)


# ---------------------------------------------------------------------------------------------
# 1, 2: global limits and revocation, Redis up
# ---------------------------------------------------------------------------------------------


class SharedStateTest(StateTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.redis = cls.start_redis()
        config = cls.config(
            [USER_ROUTE, route("ip", "/api/echo/ip", limits=["per_ip"]),
             route("authed", "/api/echo/authed", auth="required")],
            dict(PER_USER, per_ip={"rate": "%d/m" % N, "burst": N, "key": "client_ip"}),
            cls.redis, server={"trusted_proxies": ["127.0.0.1/32"]})
        cls.gws = [cls.start_gateway(config, name="bulwark%d" % (i + 1)) for i in range(3)]

    def user_get(self, gw, token, request_id=None):
        headers = bearer(token)
        if request_id:
            headers["X-Request-Id"] = request_id
        return timed_request(gw, "GET", "/api/echo/user", headers)

    def ip_get(self, gw, ip):
        return timed_request(gw, "GET", "/api/echo/ip", {"X-Forwarded-For": ip})

    def revoke(self, gw, payload, method="POST"):
        body = payload if isinstance(payload, (bytes, str)) or payload is None \
            else json.dumps(payload)
        status, headers, data = gw.admin("/auth/revoke", method=method, body=body,
                                         headers={"Content-Type": "application/json"})
        return Timed(status, headers, data, 0.0)

    def state_calls(self, gw):
        return metric(gw.metrics(), "bulwark_state_calls_total", layer="limits", outcome="ok")

    def check_key(self, name, limit):
        """The Redis key of a limit's counter, and its TTL in ms (0 < TTL <= 60 s)."""
        self.assertEqual(self.redis.cli("EXISTS", name).strip(), "1",
                         (name, self.redis.cli("KEYS", "bulwark:rl:*")))
        pttl = int(self.redis.cli("PTTL", name))
        self.assertTrue(0 < pttl <= 60000, (name, pttl))
        self.assertTrue(name.startswith("bulwark:rl:{") and name.endswith("}:" + limit), name)

    # -- 1: global limits ------------------------------------------------------------------

    def test_claim_limit_is_global_over_three_instances(self):
        alice, bob = unique("alice"), unique("bob")
        token = self.token(alice)
        calls = [self.state_calls(gw) for gw in self.gws]
        replies = self.round_robin(self.gws, 3 * N, lambda i, gw: self.user_get(gw, token))
        statuses = [r.status for r in replies]
        self.assertEqual(statuses, [200] * N + [429] * (2 * N), replies)
        # The allowance left, as each instance saw it: one counter for the three.
        self.assertEqual([re.sub(r";t=\d+$", "", r.headers.get("RateLimit"))
                          for r in replies[:N]],
                         ['"per_user";r=%d' % (N - 1 - i) for i in range(N)])
        for reply in replies[N:]:
            self.assertRateLimited(reply, "per_user", 60 // N)
        # Another subject has its own allowance, on every instance.
        other = self.token(bob)
        self.assertEqual([self.user_get(gw, other).status for gw in self.gws], [200] * 3)
        self.check_key("bulwark:rl:{c%d:%s}:per_user" % (len(alice), alice), "per_user")
        self.check_key("bulwark:rl:{c%d:%s}:per_user" % (len(bob), bob), "per_user")
        # One shared-state call per request that passed auth, on the instance that got it.
        for gw, before in zip(self.gws, calls):
            self.assertEqual(self.state_calls(gw) - before, N + 1)
        rejections = sum(1 for gw in self.gws for line in gw.stderr().splitlines()
                         if '"event":"rate_limited"' in line and alice in line)
        self.assertEqual(rejections, 2 * N)
        self.assertAllAlive(self.gws)

    def test_client_ip_limit_before_auth_is_global(self):
        ip, other_ip = random.sample(["10.%d.%d.%d" % (a, b, c) for a in range(1, 255)
                                      for b, c in [divmod(random.randrange(1 << 16), 256)]], 2)
        replies = self.round_robin(self.gws, 3 * N, lambda i, gw: self.ip_get(gw, ip))
        self.assertEqual([r.status for r in replies], [200] * N + [429] * (2 * N), replies)
        for reply in replies[N:]:
            self.assertRateLimited(reply, "per_ip", 60 // N)
        for reply in replies[:N]:  # the origin saw the client as bulwark did
            self.assertEqual(json.loads(reply.body)["path"], "/api/echo/ip")
        self.assertEqual([self.ip_get(gw, other_ip).status for gw in self.gws], [200] * 3)
        self.check_key("bulwark:rl:{i%d:%s}:per_ip" % (len(ip), ip), "per_ip")
        self.check_key("bulwark:rl:{i%d:%s}:per_ip" % (len(other_ip), other_ip), "per_ip")
        self.assertAllAlive(self.gws)

    # -- 2: revocation ---------------------------------------------------------------------

    def test_revoking_a_jti_on_one_instance_is_refused_by_all(self):
        gw1, gw2, gw3 = self.gws
        sub = unique("dave")
        jti, other_jti = unique("jti"), unique("jti")
        token = self.token(sub, jti=jti)
        other = self.token(sub, jti=other_jti)
        # Verified (and cached) on instance 2 before the revocation.
        for gw in self.gws:
            self.assertEqual(timed_request(gw, "GET", "/api/echo/authed", bearer(token)).status,
                             200)
        reply = self.revoke(gw1, {"jti": jti})
        revoked_at = time.monotonic()
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.headers.get("Content-Type"), "application/json")
        body = reply.json()
        self.assertEqual(set(body), {"revoked", "until"}, body)
        self.assertEqual(body["revoked"], {"jti": jti})
        self.assertGreater(body["until"], time.time())
        # Within 1 s every instance refuses it (instance 1 at once).
        self.assertRevoked(timed_request(gw1, "GET", "/api/echo/authed", bearer(token)))
        for gw in (gw2, gw3):
            refused = wait_until(lambda: timed_request(gw, "GET", "/api/echo/authed",
                                                       bearer(token)).status == 401,
                                 timeout=1.0, interval=0.05)
            self.assertTrue(refused, "%s still accepts the revoked token after %.2fs" %
                            (gw.name, time.monotonic() - revoked_at))
        self.assertLess(time.monotonic() - revoked_at, 1.5)
        for i, gw in enumerate(self.gws):
            request_id = "%s-%d" % (jti, i)
            reply = timed_request(gw, "GET", "/api/echo/authed",
                                  dict(bearer(token), **{"X-Request-Id": request_id}))
            self.assertRevoked(reply)
            records = wait_until(lambda: security_events(gw, "auth_failure", request_id), 3.0)
            self.assertEqual(len(records), 1, gw.stderr()[-2000:])
            self.assertEqual(records[0]["reason"], "revoked")
            self.assertEqual(records[0]["route"], "authed")
            # the token's other tokens (and the same subject's) still pass
            self.assertEqual(timed_request(gw, "GET", "/api/echo/authed", bearer(other)).status,
                             200)
        # Also on a route with a limit after auth: refused before the limit counts it.
        self.assertRevoked(self.user_get(gw3, token))
        self.assertEqual(self.redis.cli("EXISTS", "bulwark:rl:{c%d:%s}:per_user" %
                                        (len(sub), sub)).strip(), "0")
        for gw in self.gws:
            self.assertGreaterEqual(metric(gw.metrics(), "bulwark_revocations"), 1)
        self.assertAllAlive(self.gws)

    def test_revoking_a_subject_spares_tokens_issued_after(self):
        gw1, gw2, gw3 = self.gws
        sub = unique("erin")
        old = self.token(sub)
        self.assertEqual(timed_request(gw3, "GET", "/api/echo/authed", bearer(old)).status, 200)
        reply = self.revoke(gw2, {"sub": sub})
        self.assertEqual(reply.status, 200, reply)
        body = reply.json()
        self.assertEqual(body["revoked"], {"sub": sub})
        self.assertIsInstance(body["until"], int)
        # iat one second after any second the revocation could have been made in.
        newer = hs_token(self.secret, dict(claims(ISS, sub=sub), iat=int(time.time()) + 1))
        for gw in (gw3, gw1):
            self.assertTrue(wait_until(lambda: timed_request(
                gw, "GET", "/api/echo/authed", bearer(old)).status == 401, 1.0),
                gw.name)
            self.assertRevoked(timed_request(gw, "GET", "/api/echo/authed", bearer(old)))
        for gw in self.gws:
            reply = timed_request(gw, "GET", "/api/echo/authed", bearer(newer))
            self.assertEqual(reply.status, 200, reply)
        # Another subject is not touched.
        self.assertEqual(timed_request(gw1, "GET", "/api/echo/authed",
                                       bearer(self.token(unique("frank")))).status, 200)
        self.assertAllAlive(self.gws)

    def test_revoke_refuses_bad_requests(self):
        gw = self.gws[0]
        cases = [
            (b"not json", "the body must be a JSON object"),
            (b"[]", "the body must be a JSON object"),
            ({}, 'give exactly one of "jti" and "sub"'),
            ({"jti": "a", "sub": "b"}, 'give exactly one of "jti" and "sub"'),
            ({"jti": 3}, 'field "jti" must be a string'),
            ({"jti": ""}, 'field "jti" must not be empty'),
            ({"sub": "x" * 1025}, 'field "sub" is longer than 1024 bytes'),
            ({"jti": "a", "color": "red"}, 'field "color" is unknown: use jti or sub, and iss'),
        ]
        revocations = metric(gw.metrics(), "bulwark_revocations")
        for payload, detail in cases:
            with self.subTest(payload=payload):
                reply = self.revoke(gw, payload)
                self.assertEqual(reply.status, 400, reply)
                self.assertEqual(reply.headers.get("Content-Type"), "application/json")
                body = reply.json()
                self.assertEqual(set(body), {"error", "detail"}, body)
                self.assertEqual(body["error"], "bad_request")
                self.assertIn(detail, body["detail"])
        reply = self.revoke(gw, None, method="GET")
        self.assertEqual(reply.status, 405, reply)
        self.assertEqual(reply.headers.get("Allow"), "POST")
        self.assertEqual(reply.json()["error"], "method_not_allowed")
        self.assertEqual(metric(gw.metrics(), "bulwark_revocations"), revocations)
        self.assertEqual(self.redis.cli("KEYS", "bulwark:rl:{c1:a}*").strip(), "")
        self.assertAllAlive(self.gws)


class LocalRevocationTest(StateTestBase):
    """Without `state:` a revocation is this instance's alone."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        config = cls.config([route("authed", "/api/", auth="required")])
        cls.gws = [cls.start_gateway(config, name="local%d" % (i + 1)) for i in range(2)]

    def test_revocation_without_state_applies_to_one_instance(self):
        gw1, gw2 = self.gws
        jti = unique("jti")
        token = self.token(unique("gina"), jti=jti)
        status, _, body = gw1.admin("/auth/revoke", method="POST", body=json.dumps({"jti": jti}))
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["revoked"], {"jti": jti})
        self.assertRevoked(timed_request(gw1, "GET", "/api/echo/x", bearer(token)))
        time.sleep(0.6)  # longer than a shared poll would take
        self.assertEqual(timed_request(gw2, "GET", "/api/echo/x", bearer(token)).status, 200)
        self.assertEqual(metric(gw1.metrics(), "bulwark_revocations"), 1)
        self.assertEqual(metric(gw2.metrics(), "bulwark_revocations"), 0)
        self.assertNotIn("bulwark_state_redis_up", gw1.admin("/metrics")[2].decode())
        self.assertAllAlive(self.gws)


class ReloadStateTest(StateTestBase):
    """A reload that moves the shared state to another Redis leaves the old one alone."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.old_redis = cls.start_redis()
        cls.new_redis = cls.start_redis()

    def test_reload_to_another_redis_uses_it_alone(self):
        config = self.config([route("user", "/api/", auth="required", limits=["per_user"])],
                             PER_USER, self.old_redis)
        gw = self.start_gateway(config, name="reloaded")
        first = unique("rita")
        self.assertEqual(timed_request(gw, "GET", "/api/echo/x",
                                       bearer(self.token(first))).status, 200)
        gw.write_config(dict(gw.config, state=state_section(self.new_redis.port)))
        gw.process.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: "reloaded" in gw.stderr() and
                                   "shared state on redis://127.0.0.1:%d" % self.new_redis.port
                                   in gw.stderr(), timeout=5), gw.stderr())
        time.sleep(0.3)  # requests after the swap (one sweep tick)
        # Limits and revocations now live in the new Redis.
        second = unique("rosa")
        jti = unique("jti")
        token = self.token(second, jti=jti)
        self.assertEqual(timed_request(gw, "GET", "/api/echo/x", bearer(token)).status, 200)
        self.assertEqual(self.new_redis.cli("EXISTS", "bulwark:rl:{c%d:%s}:per_user" %
                                            (len(second), second)).strip(), "1")
        self.assertEqual(self.old_redis.cli("EXISTS", "bulwark:rl:{c%d:%s}:per_user" %
                                            (len(second), second)).strip(), "0")
        status, _, body = gw.admin("/auth/revoke", method="POST", body=json.dumps({"jti": jti}))
        self.assertEqual(status, 200, body)
        self.assertEqual(self.new_redis.cli("HLEN", "bulwark:{revocations}:entries").strip(), "1")
        self.assertEqual(self.old_redis.cli("HLEN", "bulwark:{revocations}:entries").strip(), "0")
        self.assertRevoked(timed_request(gw, "GET", "/api/echo/x", bearer(token)))
        # The old Redis going away is none of this instance's business any more.
        self.old_redis.kill()
        time.sleep(1.0)
        self.assertRevoked(timed_request(gw, "GET", "/api/echo/x", bearer(token)))
        status, _, body = gw.admin("/readyz")
        self.assertEqual((status, json.loads(body)), (200, {"ready": True}))
        self.assertEqual(log_lines(gw, "shared state: Redis unavailable"), [])
        self.assertEqual(metric(gw.metrics(), "bulwark_state_redis_up"), 1)
        self.assertAlive(gw)


# ---------------------------------------------------------------------------------------------
# 3: fail_open, Redis killed and started again
# ---------------------------------------------------------------------------------------------


class FailOpenTest(StateTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.redis = cls.start_redis()
        config = cls.config([USER_ROUTE, route("cached", "/api/", "cached.test", cache="shared")],
                            PER_USER, cls.redis, "fail_open")
        cls.gws = [cls.start_gateway(config, name="open%d" % (i + 1)) for i in range(3)]

    def setUp(self):
        super().setUp()
        # Whatever happens, Redis is up again for the next test.
        self.addCleanup(self.ensure_redis)

    def ensure_redis(self):
        if self.redis.process is None or not self.redis.process.alive():
            self.redis.start()
            for gw in self.gws:
                wait_until(lambda: metric(gw.metrics(), "bulwark_state_redis_up") == 1, 5.0)

    def user_get(self, gw, sub_token):
        return timed_request(gw, "GET", "/api/echo/user", bearer(sub_token))

    def global_run(self, sub):
        """3N requests round-robin for a new subject: their statuses."""
        token = self.token(sub)
        return self.round_robin(self.gws, 3 * N, lambda i, gw: self.user_get(gw, token))

    def test_limits_go_local_while_redis_is_down_and_global_again_after(self):
        # Before: global.
        replies = self.global_run(unique("before"))
        self.assertEqual([r.status for r in replies], [200] * N + [429] * (2 * N), replies)
        # Lines of earlier outages (another test of the class) are not this test's.
        seen = [len(log_lines(gw, "shared state: Redis")) for gw in self.gws]
        for gw in self.gws:
            self.assertEqual(metric(gw.metrics(), "bulwark_state_redis_up"), 1)

        # Requests flow while Redis is killed.
        flow_token = self.token(unique("flow"))
        outcomes, stop = [], threading.Event()

        def flow():
            i = 0
            deadline = time.monotonic() + 6.0  # bounded, whatever the main thread does
            while not stop.is_set() and time.monotonic() < deadline:
                outcomes.append(self.user_get(self.gws[i % 3], flow_token))
                i += 1

        thread = threading.Thread(target=flow, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 10)
        self.addCleanup(stop.set)
        time.sleep(0.3)
        self.redis.kill()
        killed_at = time.monotonic()
        for gw in self.gws:
            self.assertTrue(wait_until(lambda: log_lines(gw, REDIS_UNAVAILABLE), 3.0),
                            gw.stderr()[-2000:])
        time.sleep(max(0.0, killed_at + 1.0 - time.monotonic()))
        stop.set()
        thread.join(10)
        self.assertFalse(thread.is_alive())
        self.assertGreater(len(outcomes), 10)
        for outcome in outcomes:
            self.assertIn(outcome.status, (200, 429), outcome)
            self.assertLess(outcome.elapsed, REQUEST_BOUND, outcome)

        for gw in self.gws:
            metrics = gw.metrics()
            self.assertEqual(metric(metrics, "bulwark_state_redis_up"), 0)
            self.assertGreater(metric(metrics, "bulwark_state_fallbacks_total", layer="limits",
                                      policy="fail_open"), 0)
            self.assertGreater(metric(metrics, "bulwark_state_calls_total", layer="limits",
                                      outcome="failed"), 0)
            status, ready = readyz(gw)
            self.assertEqual(status, 200, ready)
            self.assertEqual(ready["ready"], True, ready)
            self.assertNotIn("reasons", ready)
            self.assertEqual(len(ready["degraded"]), 1, ready)
            self.assertIn(REDIS_UNAVAILABLE, ready["degraded"][0])
            self.assertIn("fail_open", ready["degraded"][0])

        # Local limits: each instance allows its own N.
        token = self.token(unique("local"))
        replies = self.round_robin(self.gws, 4 * N, lambda i, gw: self.user_get(gw, token))
        for k, gw in enumerate(self.gws):
            mine = [r for i, r in enumerate(replies) if i % 3 == k]
            self.assertEqual([r.status for r in mine], [200] * N + [429] * (N // 3 + (N % 3 > k)),
                             (gw.name, mine))
        for reply in replies:
            self.assertLess(reply.elapsed, REQUEST_BOUND, reply)
        # The state lines of the outage (checked at the end, so that the rest runs too).
        outage_lines = [log_lines(gw, "shared state: Redis")[n:]
                        for gw, n in zip(self.gws, seen)]
        self.assertAllAlive(self.gws)

        # Redis back on its port.
        self.redis.start()
        for gw in self.gws:
            self.assertTrue(wait_until(lambda: log_lines(gw, REDIS_BACK), 5.0),
                            gw.stderr()[-2000:])
            self.assertTrue(wait_until(lambda: metric(gw.metrics(), "bulwark_state_redis_up")
                                       == 1, 3.0))
            status, ready = readyz(gw)
            self.assertEqual((status, ready), (200, {"ready": True}))
        replies = self.global_run(unique("after"))
        self.assertEqual([r.status for r in replies], [200] * N + [429] * (2 * N), replies)
        self.assertAllAlive(self.gws)

        # Exactly one error line per instance for the whole outage, and one line when Redis
        # answered again.
        for gw, lines, n in zip(self.gws, outage_lines, seen):
            self.assertEqual(len(lines), 1, "%s flapped during the outage:\n%s" %
                             (gw.name, "\n".join(lines)))
            self.assertRegex(lines[0], r"^\d{4}-\d\d-\d\dT[\d:.]+Z error shared state: Redis "
                                       r"unavailable \(.+\); the failure policy applies until "
                                       r"it answers again$")
            after = log_lines(gw, "shared state: Redis")[n:]
            self.assertEqual(len(after), 2, after)
            back = after[1]
            self.assertRegex(back, r"^\S+Z info shared state: Redis answers again; limits, "
                                      r"cache and revocations are shared again$")

    def test_cache_keeps_working_per_instance_while_redis_is_down(self):
        gw1, gw2, _ = self.gws
        key = unique("down")
        status, _, _ = http_request(self.origin_server.port, "PUT", "/api/data/" + key,
                                    body=key)
        self.assertEqual(status, 200)
        path = "/api/data/" + key
        expected = json.dumps({"key": key, "value": key}, separators=(",", ":")).encode()
        self.redis.kill()
        before = self.origin_server.stats()["requests"]
        outcomes = []
        for gw in (gw1, gw1, gw2, gw2, gw1):
            outcomes.append(timed_request(gw, "GET", path, {"Host": "cached.test"}))
        for outcome in outcomes:
            self.assertEqual(outcome.status, 200, outcome)
            self.assertEqual(outcome.body, expected)
            self.assertLess(outcome.elapsed, REQUEST_BOUND, outcome)
        cache_status = [o.headers.get("Cache-Status") for o in outcomes]
        self.assertTrue(cache_status[0].startswith("bulwark; fwd=miss"), cache_status)
        self.assertTrue(cache_status[1].startswith("bulwark; hit"), cache_status)
        self.assertTrue(cache_status[2].startswith("bulwark; fwd=miss"), cache_status)
        self.assertTrue(cache_status[3].startswith("bulwark; hit"), cache_status)
        self.assertTrue(cache_status[4].startswith("bulwark; hit"), cache_status)
        # One origin request per instance: each kept its own copy.
        self.assertEqual(self.origin_server.stats()["requests"] - before, 2)
        self.assertGreater(metric(gw1.metrics(), "bulwark_state_fallbacks_total",
                                  layer="cache", policy="fail_open"), 0)
        self.assertAllAlive(self.gws)


# ---------------------------------------------------------------------------------------------
# 4: fail_closed
# ---------------------------------------------------------------------------------------------


class FailClosedTest(StateTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.redis = cls.start_redis()
        config = cls.config(
            [route("limited", "/api/echo/limited", limits=["per_ip"]),
             route("authed", "/api/echo/authed", auth="required"), route("public", "/api/")],
            {"per_ip": {"rate": "10000/m", "key": "client_ip"}}, cls.redis, "fail_closed")
        cls.gw = cls.start_gateway(config, name="closed")

    def test_fail_closed_refuses_what_needs_redis_and_recovers(self):
        gw = self.gw
        self.addCleanup(lambda: self.redis.process.alive() or self.redis.start())
        token = self.token(unique("hank"))
        # (see test_ready_only_once_authenticated_requests_can_pass for the first moments)
        self.assertTrue(wait_until(lambda: timed_request(gw, "GET", "/api/echo/authed",
                                                         bearer(token)).status == 200, 2.0))
        for path, headers in (("/api/echo/limited", None), ("/api/echo/authed", bearer(token)),
                              ("/api/echo/public", None)):
            self.assertEqual(timed_request(gw, "GET", path, headers).status, 200, path)
        self.assertEqual(readyz(gw), (200, {"ready": True}))

        self.redis.kill()
        killed_at = time.monotonic()
        limited = timed_request(gw, "GET", "/api/echo/limited")
        self.assertServiceUnavailable(limited, LIMITS_503)
        self.assertLess(limited.elapsed, REQUEST_BOUND)
        early = timed_request(gw, "GET", "/api/echo/authed", bearer(token))
        if time.monotonic() - killed_at < 1.0:  # revocations read < 2 s ago: still fresh
            self.assertEqual(early.status, 200, early)
        # Once the revocations are more than 2 s old, authenticated routes refuse too.
        refused = wait_until(lambda: timed_request(gw, "GET", "/api/echo/authed",
                                                   bearer(token)).status == 503, 4.0, 0.1)
        stale_after = time.monotonic() - killed_at
        self.assertTrue(refused)
        self.assertGreater(stale_after, 1.5)
        reply = timed_request(gw, "GET", "/api/echo/authed", bearer(token))
        self.assertServiceUnavailable(reply, REVOCATIONS_503)
        self.assertIn("token revocations", reply.json()["detail"])
        # A request without a token on an authenticated route is still refused as before.
        self.assertEqual(timed_request(gw, "GET", "/api/echo/authed").status, 401)
        # Neither limits nor auth: served.
        public = timed_request(gw, "GET", "/api/echo/public")
        self.assertEqual(public.status, 200, public)
        self.assertServiceUnavailable(timed_request(gw, "GET", "/api/echo/limited"), LIMITS_503)
        status, ready = readyz(gw)
        self.assertEqual(status, 503, ready)
        self.assertEqual(ready["ready"], False)
        self.assertEqual(len(ready["reasons"]), 1, ready)
        self.assertIn(REDIS_UNAVAILABLE, ready["reasons"][0])
        self.assertIn("fail_closed", ready["reasons"][0])
        self.assertNotIn("degraded", ready)
        metrics = gw.metrics()
        self.assertEqual(metric(metrics, "bulwark_state_redis_up"), 0)
        self.assertGreaterEqual(metric(metrics, "bulwark_state_fallbacks_total", layer="limits",
                                       policy="fail_closed"), 2)
        self.assertGreaterEqual(metric(metrics, "bulwark_state_fallbacks_total",
                                       layer="revocations", policy="fail_closed"), 2)
        self.assertEqual(metric(metrics, "bulwark_state_fallbacks_total", layer="limits",
                                policy="fail_open"), 0)
        outage_lines = log_lines(gw, "shared state: Redis")

        self.redis.start()
        self.assertTrue(wait_until(lambda: log_lines(gw, REDIS_BACK), 5.0), gw.stderr()[-2000:])
        self.assertTrue(wait_until(lambda: readyz(gw) == (200, {"ready": True}), 3.0),
                        readyz(gw))
        for path, headers in (("/api/echo/limited", None), ("/api/echo/authed", bearer(token)),
                              ("/api/echo/public", None)):
            reply = timed_request(gw, "GET", path, headers)
            self.assertEqual(reply.status, 200, (path, reply))
        self.assertEqual(metric(gw.metrics(), "bulwark_state_redis_up"), 1)
        self.assertAlive(gw)
        # One line down (checked last, so that the recovery is checked too), one line back.
        self.assertEqual(len(outage_lines), 1, "flapped during the outage:\n" +
                         "\n".join(outage_lines))
        self.assertIn(" error " + REDIS_UNAVAILABLE, outage_lines[0])
        self.assertEqual(len(log_lines(gw, REDIS_BACK)), 1, log_lines(gw, "shared state: Redis"))

    def test_ready_only_once_authenticated_requests_can_pass(self):
        """A new fail_closed instance refuses authenticated requests until it has read the
        revocations once: while it does, /readyz must not say it is ready."""
        gw = self.gateway(self.gw._template, name="closed-new")
        token = self.token(unique("ivan"))
        seen = []
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            ready_status, ready = readyz(gw)
            reply = timed_request(gw, "GET", "/api/echo/authed", bearer(token))
            seen.append((ready_status, reply.status))
            if ready_status == 200:
                # Ready before the request was sent: the request must pass.
                self.assertEqual(reply.status, 200, (seen, reply, ready))
                break
            self.assertEqual(ready_status, 503, ready)
            time.sleep(0.02)
        self.assertEqual(seen[-1], (200, 200), seen)
        self.assertAlive(gw)


# ---------------------------------------------------------------------------------------------
# 5: a "Redis" that answers garbage
# ---------------------------------------------------------------------------------------------


def _garbage_handler(mode):
    rng = random.Random(6)
    junk = bytes(rng.randrange(256) for _ in range(64))

    def handler(conn):
        while conn.read_some(timeout=5.0):
            if mode == "ok":
                conn.send(b"+OK\r\n")  # to everything, EVALSHA included
            elif mode == "truncated":
                conn.send(b"$5\r\nab")
                return  # closes mid-reply
            elif mode == "random":
                conn.send(junk)
                return
            elif mode == "silent":
                continue  # never answers
    return handler


class GarbageRedisTest(StateTestBase):
    LIMIT = 3

    def run_mode(self, mode):
        fake = self.fake(_garbage_handler(mode))
        config = self.config([USER_ROUTE],
                             {"per_user": {"rate": "%d/m" % self.LIMIT, "key": "claim:sub"}}, fake)
        gw = self.gateway(config, name="garbage-" + mode)
        token = self.token(unique(mode))
        replies = [timed_request(gw, "GET", "/api/echo/user", bearer(token))
                   for _ in range(self.LIMIT + 2)]
        # command_timeout 200 ms (connect 300 ms): a policy answer well within a second.
        for reply in replies:
            self.assertLess(reply.elapsed, 1.0, (mode, reply))
        self.assertEqual([r.status for r in replies], [200] * self.LIMIT + [429, 429],
                         (mode, replies))
        self.assertAlive(gw)
        metrics = gw.metrics()
        self.assertEqual(metric(metrics, "bulwark_state_fallbacks_total", layer="limits",
                                policy="fail_open"), self.LIMIT + 2)
        self.assertEqual(metric(metrics, "bulwark_state_calls_total", layer="limits",
                                outcome="ok"), 0)
        self.assertEqual(metric(metrics, "bulwark_state_redis_up"), 0)
        self.assertEqual(len(log_lines(gw, REDIS_UNAVAILABLE)), 1, gw.stderr()[-2000:])
        status, ready = readyz(gw)
        self.assertEqual(status, 200, ready)
        self.assertIn(REDIS_UNAVAILABLE, ready["degraded"][0])
        self.assertGreater(fake.connections, 0)
        self.assertTrue(gw.alive())

    def test_redis_answering_ok_to_everything(self):
        self.run_mode("ok")

    def test_redis_closing_mid_reply(self):
        self.run_mode("truncated")

    def test_redis_answering_random_bytes(self):
        self.run_mode("random")

    def test_redis_that_never_answers(self):
        self.run_mode("silent")


# ---------------------------------------------------------------------------------------------
# 6: config checks
# ---------------------------------------------------------------------------------------------


class StateConfigCheckTest(unittest.TestCase):
    def check(self, state_lines):
        tmp = tempfile.TemporaryDirectory(prefix="bulwark-state-check-")
        self.addCleanup(tmp.cleanup)
        path = os.path.join(tmp.name, "bulwark.yaml")
        text = ("upstreams:\n"            # 1
                "  api:\n"                # 2
                "    targets: [127.0.0.1:1]\n"  # 3
                "routes:\n"               # 4
                "  - name: all\n"         # 5
                "    upstream: api\n"     # 6
                "state:\n" + state_lines)  # 7...
        with open(path, "w") as f:
            f.write(text)
        result = subprocess.run([BULWARK_BIN, "check", "--config", path], capture_output=True,
                                text=True, timeout=10, stdin=subprocess.DEVNULL)
        return path, result

    def test_a_good_state_section_is_ok(self):
        _, result = self.check("  redis: redis://127.0.0.1:6379/0?command_timeout=100ms\n"
                               "  on_failure: fail_closed\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("OK", result.stdout)

    def test_a_url_that_is_not_redis_is_refused_with_its_line_and_the_form(self):
        path, result = self.check("  redis: http://x\n")
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertNotIn("OK", result.stdout)
        self.assertRegex(result.stderr, re.escape(path) + r":8:.*redis")
        self.assertIn("redis://[user:password@]host[:port][/db]", result.stderr)

    def test_on_failure_closed_suggests_fail_closed(self):
        path, result = self.check("  redis: redis://127.0.0.1:6379\n"
                                  "  on_failure: closed\n")
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertRegex(result.stderr, re.escape(path) + r":9:.*on_failure")
        line = [l for l in result.stderr.splitlines() if ":9:" in l]
        self.assertTrue(line and "fail_closed" in line[0], result.stderr)

    def test_missing_redis_is_refused(self):
        path, result = self.check("  on_failure: fail_open\n")
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertRegex(result.stderr, re.escape(path) + r":7:.*redis")


# ---------------------------------------------------------------------------------------------
# 7: the shared cache
# ---------------------------------------------------------------------------------------------


class SharedCacheTest(StateTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.redis = cls.start_redis()
        config = cls.config(
            [route("shared", "/api/", "shared.test", cache="shared"),
             route("ident", "/api/", "ident.test",
                   auth={"mode": "required", "forward_claims": {"sub": "X-User-Id"}},
                   cache={"scope": "per_identity"})],
            redis=cls.redis)
        cls.gws = [cls.start_gateway(config, name="cache%d" % (i + 1)) for i in range(3)]

    def new_key(self, value=None):
        key = unique(self._testMethodName[5:20])
        self.put(key, value if value is not None else key)
        return key

    def put(self, key, value):
        status, _, body = http_request(self.origin_server.port, "PUT", "/api/data/" + key,
                                       body=value)
        self.assertEqual(status, 200, body)

    def body(self, key, value=None):
        return json.dumps({"key": key, "value": value if value is not None else key},
                          separators=(",", ":")).encode()

    def get(self, gw, path, host="shared.test", headers=None):
        return timed_request(gw, "GET", path, dict(headers or {}, Host=host))

    def requests(self):
        return self.origin_server.stats()["requests"]

    def assertMiss(self, reply, body):
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.body, body, reply)
        self.assertEqual(reply.headers.get("Cache-Status"),
                         "bulwark; fwd=miss; fwd-status=200; stored", reply)

    def assertHit(self, reply, body):
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.body, body, reply)
        self.assertRegex(reply.headers.get("Cache-Status") or "", r"^bulwark; hit; ttl=\d+",
                         reply)
        self.assertIsNotNone(reply.headers.get("Age"), reply)

    def test_a_miss_on_one_instance_is_a_hit_on_another(self):
        gw1, gw2, gw3 = self.gws
        key = self.new_key()
        path = "/api/data/" + key
        before = self.requests()
        shared_before = metric(gw2.metrics(), "bulwark_cache_shared_total", result="hit")
        self.assertMiss(self.get(gw1, path), self.body(key))
        self.assertEqual(self.requests() - before, 1)
        # A miss's entry reaches Redis once its last bytes went out: give it a moment.
        time.sleep(0.1)
        self.assertHit(self.get(gw2, path), self.body(key))
        self.assertHit(self.get(gw3, path), self.body(key))
        self.assertEqual(self.requests() - before, 1)
        self.assertEqual(metric(gw2.metrics(), "bulwark_cache_shared_total", result="hit")
                         - shared_before, 1)
        self.assertTrue(self.redis.cli("KEYS", "bulwark:*").strip())
        self.assertAllAlive(self.gws)

    def test_concurrent_misses_over_three_instances_make_one_origin_request(self):
        key = self.new_key()
        path = "/api/data/" + key
        before = self.requests()
        data = request_bytes("GET", path, host="shared.test")
        clients, responses, elapsed = [], [None] * 50, [None] * 50
        try:
            for i in range(50):
                clients.append(RawClient(self.gws[i % 3].port, timeout=10))
            start = time.monotonic()

            def read(i):
                try:
                    responses[i] = clients[i].read_response()
                except Exception as e:
                    responses[i] = e
                elapsed[i] = time.monotonic() - start

            for client in clients:
                client.send(data)
            threads = [threading.Thread(target=read, args=(i,)) for i in range(50)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(15)
        finally:
            for client in clients:
                client.close()
        self.assertEqual([getattr(r, "status", r) for r in responses], [200] * 50)
        self.assertEqual({r.body for r in responses}, {self.body(key)})
        self.assertEqual(self.requests() - before, 1)
        statuses = sorted(re.sub(r"ttl=\d+", "ttl=*", r.header("Cache-Status"))
                          for r in responses)
        self.assertEqual(statuses.count("bulwark; fwd=miss; fwd-status=200; stored"), 1, statuses)
        # Nobody waits for long: one origin round trip and one Redis copy, not a timeout.
        slow = [(i % 3, round(t, 2), responses[i].header("Cache-Status"))
                for i, t in enumerate(elapsed) if t > 1.0]
        self.assertEqual(slow, [])
        self.assertAllAlive(self.gws)

    def test_post_through_one_instance_invalidates_everywhere(self):
        gw1, gw2, gw3 = self.gws
        key = self.new_key("old")
        path = "/api/data/" + key
        self.assertMiss(self.get(gw1, path), self.body(key, "old"))
        time.sleep(0.1)
        self.assertHit(self.get(gw2, path), self.body(key, "old"))
        self.assertHit(self.get(gw1, path), self.body(key, "old"))
        before = self.requests()
        reply = timed_request(gw3, "POST", path, {"Host": "shared.test"}, body=b"new")
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(self.requests() - before, 1)
        # Instance 2 held the old copy in memory too: once the event reached it, it goes to
        # the origin.
        time.sleep(CACHE_EVENT_BOUND)
        self.assertMiss(self.get(gw2, path), self.body(key, "new"))
        self.assertEqual(self.requests() - before, 2)
        # Instance 1 must not serve its old copy (the new one may come from Redis).
        time.sleep(0.1)
        reply = self.get(gw1, path)
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.body, self.body(key, "new"))
        self.assertAllAlive(self.gws)

    def test_post_invalidates_both_other_instances_before_any_refill(self):
        gw1, gw2, gw3 = self.gws
        key = self.new_key("old")
        path = "/api/data/" + key
        self.assertMiss(self.get(gw1, path), self.body(key, "old"))
        time.sleep(0.1)
        self.assertHit(self.get(gw2, path), self.body(key, "old"))
        reply = timed_request(gw3, "POST", path, {"Host": "shared.test"}, body=b"new")
        self.assertEqual(reply.status, 200, reply)
        before = self.requests()
        time.sleep(CACHE_EVENT_BOUND)
        self.assertMiss(self.get(gw1, path), self.body(key, "new"))
        self.assertEqual(self.requests() - before, 1)
        self.assertAllAlive(self.gws)

    def test_admin_purge_on_one_instance_removes_the_shared_copy(self):
        gw1, gw2, _ = self.gws
        key = self.new_key()
        path = "/api/data/" + key
        self.assertMiss(self.get(gw1, path), self.body(key))
        time.sleep(0.1)
        self.assertHit(self.get(gw1, path), self.body(key))
        status, _, body = gw1.admin("/cache/purge", method="POST",
                                    body=json.dumps({"url": path, "host": "shared.test"}),
                                    headers={"Content-Type": "application/json"})
        self.assertEqual((status, json.loads(body)), (200, {"purged": 1, "shared_purged": 1}))
        self.assertEqual(self.redis.cli("KEYS", "bulwark:c:*%s*" % key).strip(), "")
        before = self.requests()
        self.assertMiss(self.get(gw2, path), self.body(key))
        self.assertEqual(self.requests() - before, 1)
        self.assertAllAlive(self.gws)

    def test_admin_purge_on_one_instance_reaches_another_instances_memory(self):
        gw1, gw2, gw3 = self.gws
        key = self.new_key()
        path = "/api/data/" + key
        self.assertMiss(self.get(gw1, path), self.body(key))
        time.sleep(0.1)
        self.assertHit(self.get(gw2, path), self.body(key))  # now in instance 2's memory too
        self.assertHit(self.get(gw2, path), self.body(key))
        status, _, body = gw1.admin("/cache/purge", method="POST",
                                    body=json.dumps({"url": path, "host": "shared.test"}),
                                    headers={"Content-Type": "application/json"})
        self.assertEqual((status, json.loads(body)), (200, {"purged": 1, "shared_purged": 1}))
        self.put(key, "changed")
        before = self.requests()
        time.sleep(CACHE_EVENT_BOUND)
        self.assertMiss(self.get(gw2, path), self.body(key, "changed"))
        self.assertEqual(self.requests() - before, 1)
        self.assertAllAlive(self.gws)

    def test_per_identity_entries_are_never_served_to_another_identity(self):
        gw1, gw2, gw3 = self.gws
        alice, bob = unique("alice"), unique("bob")

        def private(user):
            return json.dumps({"user": user, "message": "private to this user"},
                              separators=(",", ":")).encode()

        def fetch(gw, user):
            return self.get(gw, "/api/private", "ident.test", bearer(self.token(user)))

        before = self.requests()
        self.assertMiss(fetch(gw1, alice), private(alice))
        time.sleep(0.1)
        self.assertHit(fetch(gw2, alice), private(alice))
        self.assertEqual(self.requests() - before, 1)
        self.assertMiss(fetch(gw2, bob), private(bob))
        self.assertEqual(self.requests() - before, 2)
        time.sleep(0.1)
        self.assertHit(fetch(gw3, bob), private(bob))
        self.assertHit(fetch(gw3, alice), private(alice))
        self.assertHit(fetch(gw1, bob), private(bob))
        self.assertEqual(self.requests() - before, 2)
        self.assertAllAlive(self.gws)


if __name__ == "__main__":
    unittest.main()
