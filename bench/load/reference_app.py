"""The Python reference stack of bench/load's `state` scenario (see bench/README.md).

FastAPI under uvicorn, doing per request what bulwark's route does there, with Redis for every
piece of shared state:

1. authenticate: `Authorization: Bearer <JWT>`, HS256 only, verified with PyJWT: signature,
   `exp` (required), `iss`, `aud`, 30 s leeway (bulwark's default); anything else is 401;
2. rate limit per `sub` with `limits` (Debian's python3-limits 2.8 has no GCRA; its
   MovingWindowRateLimiter is the closest: a sliding window, no doubling at a window's edge)
   on a RedisStorage: one EVALSHA per request; over the limit is 429;
3. shared response cache in Redis: GET of the key; a hit returns the stored body; a miss
   fetches the path from the origin (http.client, one keep-alive connection per thread) and,
   when the origin's response is a 200 with `public`/`max-age=N` and no `no-store`/`private`,
   stores it with SETEX for N seconds.

Everything is synchronous (redis-py and limits' sync storage; the aio storage of limits 2.8
needs coredis, which Debian does not package), so the endpoint is a plain `def` that FastAPI
runs in its thread pool, as a sync FastAPI app does.

Settings come from the environment (bench/load/run.sh sets them):
  REF_ORIGIN      host:port of the origin
  REF_REDIS       redis://127.0.0.1:PORT/0
  REF_SECRET_ENV  name of the variable that holds the HS256 secret (BENCH_HS256_SECRET)
  REF_ISS, REF_AUD  the issuer and audience tokens must carry
  REF_LIMIT       the per-sub limit, in limits' syntax ("1000000/second")

Run: uvicorn --app-dir bench/load reference_app:app --workers N --no-access-log
"""

import http.client
import os
import re
import threading

import jwt
import redis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from limits import parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

ORIGIN_HOST, _, ORIGIN_PORT = os.environ["REF_ORIGIN"].rpartition(":")
REDIS_URL = os.environ["REF_REDIS"]
SECRET = os.environ[os.environ.get("REF_SECRET_ENV", "BENCH_HS256_SECRET")].encode()
ISSUER = os.environ["REF_ISS"]
AUDIENCE = os.environ["REF_AUD"]
LIMIT = parse(os.environ.get("REF_LIMIT", "1000000/second"))
LEEWAY = 30
CACHE_PREFIX = "refcache:"

rds = redis.Redis.from_url(REDIS_URL)
limit_storage = RedisStorage(REDIS_URL)  # the limiter holds it by a weak reference only
limiter = MovingWindowRateLimiter(limit_storage)
local = threading.local()  # one origin connection per thread-pool thread

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


def problem(status: int, error: str, detail: str, headers=None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def authenticate(request: Request):
    """The verified claims, or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        return jwt.decode(
            token.strip(),
            SECRET,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=LEEWAY,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.InvalidTokenError:
        return None


def fetch_origin(path: str, authorization: str):
    """GET path from the origin: (status, headers, body); one retry on a dropped keep-alive."""
    for attempt in (0, 1):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(ORIGIN_HOST, int(ORIGIN_PORT), timeout=5)
        try:
            conn.request("GET", path, headers={"Authorization": authorization})
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        except (http.client.HTTPException, OSError):
            conn.close()
            local.conn = None
            if attempt:
                raise


MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*(\d+)", re.I)


def storable_ttl(status: int, headers) -> int:
    """Seconds a shared cache may keep this response (0: not at all)."""
    if status != 200:
        return 0
    cc = ",".join(v for k, v in headers if k.lower() == "cache-control").lower()
    if "no-store" in cc or "private" in cc or "no-cache" in cc:
        return 0
    m = MAX_AGE.search(cc)
    # An authorized request may only be stored by a shared cache when the response says so
    # (RFC 9111 §3.5): public or s-maxage.
    if not m or ("public" not in cc and "s-maxage" not in cc):
        return 0
    return int(m.group(1))


@app.get("/api/{rest:path}")
def api(rest: str, request: Request):
    claims = authenticate(request)
    if claims is None:
        return problem(401, "unauthorized", "a valid bearer token is required",
                       {"WWW-Authenticate": 'Bearer realm="api"'})
    sub = str(claims.get("sub", ""))
    if not limiter.hit(LIMIT, "per_sub", sub):
        return problem(429, "rate_limited", "per_sub: too many requests", {"Retry-After": "1"})

    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    key = CACHE_PREFIX + path
    cached = rds.get(key)
    if cached is not None:
        ctype, _, body = cached.partition(b"\n")
        return Response(body, media_type=ctype.decode(), headers={"X-Cache": "hit"})

    status, headers, body = fetch_origin(path, request.headers["authorization"])
    ctype = next((v for k, v in headers if k.lower() == "content-type"), "application/octet-stream")
    ttl = storable_ttl(status, headers)
    if ttl > 0:
        rds.setex(key, ttl, ctype.encode() + b"\n" + body)
    out = {k: v for k, v in headers
           if k.lower() in ("cache-control", "etag", "last-modified", "vary")}
    out["X-Cache"] = "miss"
    return Response(body, status_code=status, media_type=ctype, headers=out)
