"""Tokens for the integration tests: HS* tokens built here (hmac, standard library), so a test
can craft any header or payload, including broken ones; asymmetric tokens through
`bulwark token sign`, the project's own tool."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import time

from harness import BULWARK_BIN

_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj):
    return b64url(json.dumps(obj, separators=(",", ":")))


def claims(iss, sub="alice", aud="api", ttl=300, **extra):
    now = int(time.time())
    body = {"iss": iss, "sub": sub, "iat": now, "exp": now + ttl}
    if aud is not None:
        body["aud"] = aud
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def hs_token(secret, payload, alg="HS256", header=None):
    """A compact JWS signed with `secret` (bytes or str); `header` replaces the default."""
    if isinstance(secret, str):
        secret = secret.encode()
    head = header if header is not None else {"alg": alg, "typ": "JWT"}
    signing_input = segment(head) + "." + (
        payload if isinstance(payload, str) else segment(payload))
    digest = hmac.new(secret, signing_input.encode(), _HASHES.get(alg, hashlib.sha256)).digest()
    return signing_input + "." + b64url(digest)


def random_secret():
    """43 base64url characters: 32 random bytes as text, like `bulwark keys generate`."""
    return b64url(os.urandom(32))


def write_random_secret(directory):
    """A random secret written to DIRECTORY/secret: returns (secret, path)."""
    secret = random_secret()
    path = os.path.join(directory, "secret")
    with open(path, "w") as f:
        f.write(secret)
    return secret, path


def generate_keys(alg, out_dir, kid=None):
    args = [BULWARK_BIN, "keys", "generate", "--alg", alg, "--out", out_dir]
    if kid:
        args += ["--kid", kid]
    subprocess.run(args, check=True, capture_output=True, timeout=30)
    return out_dir


def signed_token(private_pem, alg, iss, sub="alice", aud="api", ttl="5m", kid=None,
                 scope=None):
    args = [BULWARK_BIN, "token", "sign", "--key", private_pem, "--alg", alg, "--iss", iss,
            "--sub", sub, "--ttl", ttl]
    if aud:
        args += ["--aud", aud]
    if kid:
        args += ["--kid", kid]
    if scope:
        args += ["--scope", scope]
    result = subprocess.run(args, check=True, capture_output=True, text=True, timeout=30)
    return result.stdout.strip()
