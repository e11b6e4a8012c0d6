"""`bulwark keys generate`, `bulwark token sign` and `bulwark token verify` end to end: keys for
ES256, EdDSA, RS256 and HS256, sign then verify (JWKS and PEM forms), tampering, wrong alg,
expiry and --signature-only, issuer and audience mismatch, refusal to overwrite, file modes.
Each case asserts the exact first line of stdout and the exit code. No network."""

import json
import os
import stat
import subprocess
import tempfile
import time
import unittest

from harness import BULWARK_BIN

TIMEOUT = 30


def run(*args, env=None):
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([BULWARK_BIN, *args], capture_output=True, text=True,
                          timeout=TIMEOUT, env=full_env)


def first_line(result):
    return result.stdout.split("\n", 1)[0]


def tamper(token):
    """Flips one byte of the signature's first character (still valid base64url)."""
    header, payload, signature = token.split(".")
    first = "B" if signature[0] != "B" else "C"
    return ".".join([header, payload, first + signature[1:]])


class TokenCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="bulwark-token-cli-")
        cls.dirs = {}
        for alg in ("ES256", "EdDSA", "RS256", "HS256"):
            out = os.path.join(cls.tmp.name, alg)
            result = run("keys", "generate", "--alg", alg, "--out", out, "--kid", "kid-" + alg)
            assert result.returncode == 0, result.stderr
            cls.dirs[alg] = out
        with open(os.path.join(cls.dirs["HS256"], "secret")) as f:
            cls.secret_env = {"BULWARK_TEST_SECRET": f.read()}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, alg, name):
        return os.path.join(self.dirs[alg], name)

    def sign(self, alg, *extra, ttl="10m", iss="https://issuer.test", aud=("api",)):
        args = ["token", "sign", "--alg", alg, "--iss", iss, "--sub", "user-1",
                "--scope", "read write", "--ttl", ttl]
        for a in aud:
            args += ["--aud", a]
        env = None
        if alg.startswith("HS"):
            args += ["--secret-env", "BULWARK_TEST_SECRET"]
            env = self.secret_env
        else:
            args += ["--key", self.path(alg, "private.pem"), "--kid", "kid-" + alg]
        result = run(*args, *extra, env=env)
        self.assertEqual(result.returncode, 0, result.stderr)
        token = result.stdout.strip()
        self.assertEqual(token.count("."), 2)
        return token

    def verify(self, token, *args, env=None):
        return run("token", "verify", token, *args, env=env)

    def assert_valid(self, result):
        self.assertEqual(first_line(result), "valid", result.stdout + result.stderr)
        self.assertEqual(result.returncode, 0)
        return json.loads(result.stdout.split("\n", 1)[1])

    def assert_invalid(self, result, reason):
        self.assertTrue(first_line(result).startswith("invalid: " + reason + " ("),
                        result.stdout + result.stderr)
        self.assertEqual(result.returncode, 1)

    # -- keys generate --------------------------------------------------------------------------

    def test_generated_files_and_modes(self):
        for alg in ("ES256", "EdDSA", "RS256"):
            with self.subTest(alg=alg):
                mode = stat.S_IMODE(os.stat(self.path(alg, "private.pem")).st_mode)
                self.assertEqual(mode, 0o600)
                self.assertTrue(os.path.exists(self.path(alg, "public.pem")))
                with open(self.path(alg, "jwks.json")) as f:
                    keys = json.load(f)["keys"]
                self.assertEqual(len(keys), 1)
                self.assertEqual((keys[0]["kid"], keys[0]["alg"], keys[0]["use"]),
                                 ("kid-" + alg, alg, "sig"))
                self.assertNotIn("d", keys[0])
        mode = stat.S_IMODE(os.stat(self.path("HS256", "secret")).st_mode)
        self.assertEqual(mode, 0o600)
        self.assertEqual(sorted(os.listdir(self.dirs["HS256"])), ["secret"])

    def test_default_kid_is_random(self):
        out = os.path.join(self.tmp.name, "default-kid")
        result = run("keys", "generate", "--alg", "ES256", "--out", out)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(first_line(result),
                         "wrote " + out + "/private.pem (ES256 private key, PKCS#8 PEM, mode 0600)")
        with open(os.path.join(out, "jwks.json")) as f:
            kid = json.load(f)["keys"][0]["kid"]
        self.assertGreaterEqual(len(kid), 8)

    def test_refuses_to_overwrite(self):
        before = {}
        for name in ("private.pem", "public.pem", "jwks.json"):
            with open(self.path("ES256", name), "rb") as f:
                before[name] = f.read()
        result = run("keys", "generate", "--alg", "ES256", "--out", self.dirs["ES256"])
        self.assertEqual(first_line(result), "")
        self.assertEqual(result.returncode, 1)
        self.assertIn("already exists: refusing to overwrite", result.stderr)
        for name, content in before.items():
            with open(self.path("ES256", name), "rb") as f:
                self.assertEqual(f.read(), content)
        result = run("keys", "generate", "--alg", "HS256", "--out", self.dirs["HS256"])
        self.assertEqual(result.returncode, 1)
        self.assertIn("secret already exists", result.stderr)

    # -- sign and verify ------------------------------------------------------------------------

    def test_sign_then_verify_jwks_and_pem(self):
        for alg in ("ES256", "EdDSA", "RS256"):
            with self.subTest(alg=alg):
                token = self.sign(alg, "--claim", "tenant=acme", "--claim", "level=3")
                claims = self.assert_valid(self.verify(
                    token, "--jwks", self.path(alg, "jwks.json"),
                    "--iss", "https://issuer.test", "--aud", "api", "--max-lifetime", "15m"))
                self.assertEqual(claims["sub"], "user-1")
                self.assertEqual(claims["scope"], "read write")
                self.assertEqual((claims["tenant"], claims["level"]), ("acme", 3))
                self.assertEqual(claims["exp"] - claims["iat"], 600)
                self.assertNotIn("nbf", claims)
                self.assertTrue(claims["jti"])
                self.assert_valid(self.verify(token, "--pem", self.path(alg, "public.pem"),
                                              "--alg", alg))

    def test_sign_then_verify_hmac(self):
        token = self.sign("HS256")
        claims = self.assert_valid(self.verify(token, "--secret-env", "BULWARK_TEST_SECRET",
                                               "--alg", "HS256", "--aud", "api",
                                               env=self.secret_env))
        self.assertEqual(claims["aud"], "api")
        self.assert_invalid(self.verify(token, "--secret-env", "OTHER", "--alg", "HS256",
                                        env={"OTHER": "x" * 32}), "bad_signature")

    def test_tampered_signature(self):
        for alg in ("ES256", "EdDSA", "RS256"):
            with self.subTest(alg=alg):
                token = tamper(self.sign(alg))
                result = self.verify(token, "--jwks", self.path(alg, "jwks.json"))
                self.assert_invalid(result, "bad_signature")
                self.assertNotIn(token, result.stdout + result.stderr)
        token = tamper(self.sign("HS256"))
        self.assert_invalid(self.verify(token, "--secret-env", "BULWARK_TEST_SECRET",
                                        "--alg", "HS256", env=self.secret_env), "bad_signature")

    def test_wrong_alg(self):
        token = self.sign("RS256")
        self.assert_invalid(self.verify(token, "--pem", self.path("RS256", "public.pem"),
                                        "--alg", "PS256"), "alg_mismatch")
        # A JWKS whose only key has another alg is refused as a key (usage error), not a token.
        result = self.verify(token, "--jwks", self.path("RS256", "jwks.json"), "--alg", "RS384")
        self.assertEqual((first_line(result), result.returncode), ("", 2))

    def test_unknown_kid(self):
        token = self.sign("ES256")
        self.assert_invalid(self.verify(token, "--jwks", self.path("EdDSA", "jwks.json")),
                            "unknown_key")

    def test_expired_and_signature_only(self):
        token = self.sign("ES256", ttl="1s")
        time.sleep(1.2)
        jwks = self.path("ES256", "jwks.json")
        self.assert_invalid(self.verify(token, "--jwks", jwks, "--leeway", "0s"), "expired")
        claims = self.assert_valid(self.verify(token, "--jwks", jwks, "--leeway", "0s",
                                               "--signature-only"))
        self.assertEqual(claims["sub"], "user-1")
        self.assertEqual(claims["exp"] - claims["iat"], 1)
        # Within the default leeway it still passes.
        self.assert_valid(self.verify(token, "--jwks", jwks))
        # A tampered token is refused even with --signature-only.
        self.assert_invalid(self.verify(tamper(token), "--jwks", jwks, "--signature-only"),
                            "bad_signature")

    def test_issuer_and_audience_mismatch(self):
        token = self.sign("EdDSA", aud=("api", "other"))
        jwks = self.path("EdDSA", "jwks.json")
        self.assert_invalid(self.verify(token, "--jwks", jwks, "--iss", "https://evil.test"),
                            "issuer_mismatch")
        self.assert_invalid(self.verify(token, "--jwks", jwks, "--aud", "billing"),
                            "audience_mismatch")
        self.assert_valid(self.verify(token, "--jwks", jwks, "--aud", "billing",
                                      "--aud", "other"))
        self.assert_invalid(self.verify(token, "--jwks", jwks, "--max-lifetime", "5m"),
                            "lifetime_too_long")

    def test_malformed_token_is_not_echoed(self):
        token = "not-a-token-secretish"
        result = self.verify(token, "--jwks", self.path("ES256", "jwks.json"))
        self.assert_invalid(result, "malformed")
        self.assertNotIn(token, result.stdout + result.stderr)

    def test_usage_errors(self):
        token = self.sign("ES256")
        result = self.verify(token, "--pem", self.path("ES256", "public.pem"))
        self.assertEqual((first_line(result), result.returncode), ("", 2))
        result = run("token", "sign", "--secret-env", "BULWARK_TEST_SECRET_UNSET", "--alg",
                     "HS256", "--iss", "i", "--sub", "s")
        self.assertEqual((first_line(result), result.returncode), ("", 2))
        self.assertIn("BULWARK_TEST_SECRET_UNSET is not set", result.stderr)


if __name__ == "__main__":
    unittest.main()
