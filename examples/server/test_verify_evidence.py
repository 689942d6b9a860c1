"""The stand-alone verifier (verify_evidence.py, no livecheck inside) on evidence the Rust side
signed: a real clip's session through the Python binding (Ed25519) and a session finished
before any frame (HMAC-SHA-256). Run by `cargo xtask bindings --test` beside the binding suite:

    python3 -m unittest -v examples/server/test_verify_evidence.py
"""
import hashlib
import hmac
import json
import os
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "bindings" / "python"))

import verify_evidence as ve  # noqa: E402  (the stand-alone verifier)
from test_livecheck import DATA, engine, require, rgb24, run_clip  # noqa: E402
import livecheck as lc  # noqa: E402

NONCE, SEED, SHARED = b"server-nonce-7", bytes(range(32)), bytes(range(100, 140))
SM2_SECRET = bytes(range(1, 33))


def signed(e):
    names = {lc.Scheme.ED25519: "ed25519", lc.Scheme.HMAC_SHA256: "hmac-sha256",
             lc.Scheme.SM2: "sm2"}
    return {"scheme": names[e.scheme], "payload": e.payload, "signature": e.signature}


class StandAloneVerifier(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        clip = require(DATA / "focus_blink/h264/mahie_test_1.mp4", "media")
        s = engine().new_session(lc.SessionOptions(
            actions=[lc.ActionKind.BLINK], evidence_nonce=NONCE, evidence_key=SEED))
        run_clip(s, *rgb24(clip), lc.PixelFormat.RGB8)
        cls.live = signed(s.finish().evidence)
        s = engine().new_session(lc.SessionOptions(
            evidence_nonce=NONCE, evidence_key=SHARED, evidence_scheme=lc.Scheme.HMAC_SHA256))
        cls.empty = signed(s.finish().evidence)
        s = engine().new_session(lc.SessionOptions(
            evidence_nonce=NONCE, evidence_key=SM2_SECRET, evidence_scheme=lc.Scheme.SM2))
        cls.sm2 = signed(s.finish().evidence)

    def test_accepts_what_the_library_signed_and_reads_every_field(self):
        r = ve.verify(self.live, ve.Key("ed25519", secret=SEED), NONCE)
        self.assertEqual((r["passed"], r["plan"], r["reasons"]), (True, "actions:blink", []))
        self.assertEqual([a["action"] for a in r["actions"]], ["blink"])
        self.assertTrue(r["actions"][0]["passed"])
        self.assertGreater(r["actions"][0]["end_ms"], r["actions"][0]["start_ms"])
        self.assertGreater(r["frames"], 30)
        self.assertIn("face_landmark.onnx", r["models"])
        self.assertEqual(len(r["models"]["face_landmark.onnx"]), 64)
        # The face stayed the same person (signed cosine similarity in thousandths).
        self.assertIn("mobilefacenet.onnx", r["models"])
        self.assertGreaterEqual(r["identity"]["checks"], 1)
        self.assertGreater(r["identity"]["min_similarity_milli"], 500)
        self.assertIsNone(r["face_match"])
        # The public key alone is enough.
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
        public = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw)
        self.assertEqual(ve.verify(self.live, ve.Key("ed25519", public=public), NONCE), r)
        # The library's own verifier agrees on the same bytes.
        self.assertEqual(json.loads(lc.verify_evidence(
            lc.SignedEvidence(scheme=lc.Scheme.ED25519, payload=self.live["payload"],
                              signature=self.live["signature"]), SEED, True, NONCE)), r)
        e = ve.verify(self.empty, ve.Key("hmac-sha256", secret=SHARED), NONCE)
        self.assertEqual((e["passed"], e["frames"], e["first_ms"]), (False, 0, None))
        self.assertEqual(e["reasons"], ["not_aligned"])

    def test_sm2_evidence_signed_in_rust_verifies_with_gmssl(self):
        public = ve.sm2_public_from_secret(SM2_SECRET)
        r = ve.verify(self.sm2, ve.Key("sm2", public=public), NONCE)
        self.assertEqual(r["reasons"], ["not_aligned"])
        self.assertEqual(ve.verify(self.sm2, ve.Key("sm2", secret=SM2_SECRET), NONCE), r)
        # The library's verifier takes the same public point.
        lib = lc.SignedEvidence(scheme=lc.Scheme.SM2, payload=self.sm2["payload"],
                                signature=self.sm2["signature"])
        self.assertEqual(json.loads(lc.verify_evidence(lib, public, False, NONCE)), r)
        flipped = dict(self.sm2, payload=self.sm2["payload"].replace('"passed":false',
                                                                      '"passed":true'))
        other = ve.sm2_public_from_secret(bytes(range(2, 34)))
        for evidence, key in [(flipped, public), (self.sm2, other)]:
            with self.assertRaises(ve.BadEvidence) as caught:
                ve.verify(evidence, ve.Key("sm2", public=key), NONCE)
            self.assertIn("signature", str(caught.exception))

    def test_rejects_tampering_the_wrong_key_or_scheme_and_replay(self):
        key = ve.Key("ed25519", secret=SEED)
        flipped = dict(self.live, payload=self.live["payload"].replace('"passed":true', '"passed":false'))
        cut = dict(self.live, payload=self.live["payload"][:-1])
        sig = self.live["signature"]
        bad_sig = dict(self.live, signature=("01" if sig[:2] == "00" else "00") + sig[2:])
        cases = [
            (flipped, key, NONCE, "signature"),
            (cut, key, NONCE, "signature"),
            (bad_sig, key, NONCE, "signature"),
            (self.live, ve.Key("ed25519", secret=bytes(32)), NONCE, "signature"),
            (self.live, ve.Key("hmac-sha256", secret=SHARED), NONCE, "signed with ed25519"),
            (self.live, key, b"another nonce", "replayed"),
        ]
        for evidence, k, nonce, why in cases:
            with self.assertRaises(ve.BadEvidence) as caught:
                ve.verify(evidence, k, nonce)
            self.assertIn(why, str(caught.exception))

    def test_a_validly_signed_payload_out_of_format_is_refused(self):
        # Whoever holds the HMAC key could sign anything: the format is checked after the
        # signature, so reordered, re-spaced, float-bearing, extended or shortened records fail.
        record = json.loads(self.empty["payload"])

        def hmac_signed(payload):
            mac = hmac.new(SHARED, payload.encode(), hashlib.sha256).hexdigest()
            return {"scheme": "hmac-sha256", "payload": payload, "signature": mac}

        canonical = self.empty["payload"]
        key = ve.Key("hmac-sha256", secret=SHARED)
        self.assertEqual(ve.verify(hmac_signed(canonical), key, NONCE), record)
        variants = [
            ("canonical", json.dumps(dict(reversed(record.items())), separators=(",", ":"))),
            ("canonical", canonical.replace(",", ", ", 1)),
            ("float", canonical.replace('"frames":0', '"frames":0.0')),
            ("unexpected ['extra']",
             json.dumps(dict(record, extra=1), sort_keys=True, separators=(",", ":"))),
            ("missing ['models']", json.dumps({k: v for k, v in record.items() if k != "models"},
                                              sort_keys=True, separators=(",", ":"))),
            ("format", canonical.replace("livecheck-evidence/1", "livecheck-evidence/2")),
            ("wrong type", canonical.replace('"passed":false', '"passed":0')),
        ]
        for why, payload in variants:
            with self.assertRaises(ve.BadEvidence, msg=why) as caught:
                ve.verify(hmac_signed(payload), key, NONCE)
            self.assertIn(why, str(caught.exception))

    def test_the_command_line(self):
        import subprocess
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            verdict, seed = Path(d, "verdict.json"), Path(d, "key")
            verdict.write_text(json.dumps({"passed": True, "evidence": self.live}))
            seed.write_bytes(SEED)
            run = lambda nonce: subprocess.run(  # noqa: E731
                [sys.executable, str(HERE / "verify_evidence.py"), "--key-file", str(seed),
                 "--nonce-hex", nonce.hex(), str(verdict)], capture_output=True, text=True)
            ok = run(NONCE)
            self.assertEqual(ok.returncode, 0, ok.stderr)
            self.assertTrue(json.loads(ok.stdout)["valid"])
            replay = run(b"other")
            self.assertEqual(replay.returncode, 2)
            self.assertIn("replayed", replay.stderr)


if __name__ == "__main__":
    unittest.main()
