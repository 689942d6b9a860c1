#!/usr/bin/env python3
"""Server-side check of livecheck evidence, without livecheck: the format, fully specified.

    python3 verify_evidence.py --nonce-hex HEX (--key-file K | --public-key-file P) \\
        [--scheme ed25519|hmac-sha256] verdict.json

`verdict.json` is what `livecheck check ... --nonce N --key-file K --json` prints (or any JSON
object with an "evidence" member, or the evidence object itself: {"scheme", "payload",
"signature"}). Prints the verified record and exits 0; prints the reason and exits 2 otherwise.
`--key-file`: the raw secret the device signed with (Ed25519: its 32-byte seed; SM2: its
32-byte scalar; HMAC-SHA-256: the shared key, >= 32 bytes); `--public-key-file`: the public key
a server normally holds (Ed25519: 32 raw bytes; SM2: SEC1 uncompressed, 65 bytes). Needs
`cryptography` (PyPI) for Ed25519 and `gmssl` (PyPI, with `pycryptodomex`) for SM2; HMAC uses
the standard library.

Format livecheck-evidence/1, as this file checks it:
- the signature (lowercase hex) covers the payload's UTF-8 bytes exactly: Ed25519 (RFC 8032),
  SM2 with SM3 (GB/T 32918.2, GB/T 32905; user ID "1234567812345678"; r||s, 64 bytes) or
  HMAC-SHA-256 (RFC 2104);
- the payload is canonical JSON: what `json.dumps(obj, sort_keys=True, separators=(",", ":"),
  ensure_ascii=False)` writes for it (keys of every object in code-point order, which is UTF-8
  byte order; no whitespace; only the escapes JSON requires), no floats, no duplicate keys;
- exactly the fields of RECORD below (nested: ACTION, READING, DIGIT, IDENTITY, MATCH), each of its type,
  `format` == "livecheck-evidence/1";
- `nonce` == the hex of the nonce the server issued for this session (a replay fails here).

Library use: `verify(evidence, key, expected_nonce)` returns the record as a dict or raises
`BadEvidence`; `key` is `Key(scheme, secret=...)` or `Key("ed25519", public=...)`.
"""
import argparse
import hashlib
import hmac
import json
import sys
from dataclasses import dataclass

FORMAT = "livecheck-evidence/1"

OPT_INT = (int, type(None))
OPT_STR = (str, type(None))
# field -> accepted types (bool is checked apart from int: JSON true is not a number).
DIGIT = {"confidence_milli": int, "digit": int, "end_ms": int, "start_ms": int}
ACTION = {"action": str, "asked_ms": OPT_INT, "confidence_milli": OPT_INT, "end_ms": OPT_INT,
          "passed": bool, "start_ms": OPT_INT}
READING = {"challenge": str, "digits": list, "face_coverage_milli": int, "in_sync": bool,
           "language": str, "margin_milli": int, "mouth_motion_milli": int, "recognised": str,
           "sync_confidence_milli": int, "sync_offset_ms": int}
IDENTITY = {"checks": int, "min_similarity_milli": int}
MATCH = {"matched": bool, "similarity_milli": int}
RECORD = {"actions": list, "audio_chunks": int, "audio_sha256": str, "best_frame_sha256": OPT_STR,
          "face_match": (dict, type(None)), "first_ms": OPT_INT, "format": str, "frames": int,
          "frames_sha256": str, "identity": (dict, type(None)), "last_ms": OPT_INT, "library": str, "models": dict, "nonce": str, "passed": bool,
          "plan": str, "reading": (dict, type(None)), "reasons": list}


class BadEvidence(Exception):
    """The evidence is not valid for this key and nonce; the message says why."""


@dataclass
class Key:
    """What the server verifies with: scheme "ed25519" or "sm2" (public key, or the device's
    secret) or "hmac-sha256" (the shared secret)."""

    scheme: str
    secret: bytes = b""
    public: bytes = b""


def _unhex(s, what):
    if not isinstance(s, str) or len(s) % 2 or any(c not in "0123456789abcdef" for c in s):
        raise BadEvidence(f"{what} is not lowercase hex")
    return bytes.fromhex(s)


def _check_signature(scheme, payload, signature, key):
    if scheme != key.scheme:
        raise BadEvidence(f"signed with {scheme}, but the key is for {key.scheme}")
    if scheme == "hmac-sha256":
        if len(key.secret) < 32:
            raise BadEvidence("an HMAC-SHA-256 key needs at least 32 bytes")
        want = hmac.new(key.secret, payload, hashlib.sha256).digest()
        if not hmac.compare_digest(want, signature):
            raise BadEvidence("signature does not match the payload and key")
    elif scheme == "sm2":
        _check_sm2(payload, signature, key)
    elif scheme == "ed25519":
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (
            Ed25519PrivateKey, Ed25519PublicKey)
        if len(key.public or key.secret) != 32:
            raise BadEvidence("an Ed25519 key is a 32-byte seed or public key")
        if key.public:
            public = Ed25519PublicKey.from_public_bytes(key.public)
        else:
            public = Ed25519PrivateKey.from_private_bytes(key.secret).public_key()
        try:
            public.verify(signature, payload)
        except InvalidSignature:
            raise BadEvidence("signature does not match the payload and key") from None
    else:
        raise BadEvidence(f"unknown scheme {scheme!r}")


def sm2_public_from_secret(secret: bytes) -> bytes:
    """The SEC1 uncompressed public point (65 bytes) of a 32-byte SM2 secret scalar (gmssl's
    scalar multiplication)."""
    from gmssl import sm2 as gm
    if len(secret) != 32:
        raise BadEvidence("an SM2 secret is a 32-byte scalar")
    xy = gm.CryptSM2(private_key=secret.hex(), public_key="")._kg(
        int.from_bytes(secret, "big"), gm.default_ecc_table["g"])
    return b"\x04" + bytes.fromhex(xy)


def _check_sm2(payload, signature, key):
    """SM2 with SM3, user ID 1234567812345678 (GB/T 35276's default, as the device signs):
    gmssl (PyPI) computes Z_A, e = SM3(Z_A || payload) and checks r||s."""
    from gmssl import sm2 as gm
    public = key.public or sm2_public_from_secret(key.secret)
    if len(public) != 65 or public[0] != 4:
        raise BadEvidence("an SM2 public key is SEC1 uncompressed: 65 bytes starting with 04")
    if len(signature) != 64:
        raise BadEvidence("an SM2 signature is r||s, 64 bytes")
    c = gm.CryptSM2(private_key=None, public_key="")
    # Set directly: the constructor strips leading "0"/"4" characters, not just the 04 prefix.
    c.public_key = public[1:].hex()
    if not c.verify_with_sm3(signature.hex(), payload):
        raise BadEvidence("signature does not match the payload and key")


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise BadEvidence("duplicate key in the payload")
    return dict(pairs)


def _no_float(text):
    raise BadEvidence(f"float {text} in the payload (only integers are allowed)")


def _check_fields(obj, spec, where):
    if not isinstance(obj, dict):
        raise BadEvidence(f"{where} is not an object")
    if set(obj) != set(spec):
        missing, extra = sorted(set(spec) - set(obj)), sorted(set(obj) - set(spec))
        raise BadEvidence(f"{where}: fields missing {missing}, unexpected {extra}")
    for k, types in spec.items():
        v = obj[k]
        want_bool = types is bool
        if isinstance(v, bool) != want_bool or not isinstance(v, types):
            raise BadEvidence(f"{where}.{k} has the wrong type ({type(v).__name__})")


def parse_record(payload: str) -> dict:
    """The record in `payload`, after every format check but the signature and nonce."""
    try:
        record = json.loads(payload, object_pairs_hook=_no_duplicates, parse_float=_no_float,
                            parse_constant=_no_float)
    except ValueError as e:
        raise BadEvidence(f"payload is not JSON: {e}") from None
    if json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) != payload:
        raise BadEvidence("payload is not in canonical form (reordered, re-spaced or re-escaped)")
    _check_fields(record, RECORD, "record")
    if record["format"] != FORMAT:
        raise BadEvidence(f"format {record['format']!r}, expected {FORMAT!r}")
    for i, a in enumerate(record["actions"]):
        _check_fields(a, ACTION, f"actions[{i}]")
    if record["reading"] is not None:
        _check_fields(record["reading"], READING, "reading")
        for i, d in enumerate(record["reading"]["digits"]):
            _check_fields(d, DIGIT, f"reading.digits[{i}]")
    if record["identity"] is not None:
        _check_fields(record["identity"], IDENTITY, "identity")
    if record["face_match"] is not None:
        _check_fields(record["face_match"], MATCH, "face_match")
    if not all(isinstance(r, str) for r in record["reasons"]):
        raise BadEvidence("a reason is not a string")
    for name, digest in record["models"].items():
        _unhex(digest, f"models[{name!r}]")
    return record


def verify(evidence: dict, key: Key, expected_nonce: bytes) -> dict:
    """The verified record of `evidence` ({"scheme", "payload", "signature"}), or BadEvidence."""
    if not isinstance(evidence, dict) or not all(
            isinstance(evidence.get(k), str) for k in ("scheme", "payload", "signature")):
        raise BadEvidence("evidence needs string fields scheme, payload and signature")
    payload = evidence["payload"]
    _check_signature(evidence["scheme"], payload.encode("utf-8"),
                     _unhex(evidence["signature"], "signature"), key)
    record = parse_record(payload)
    if record["nonce"] != expected_nonce.hex():
        raise BadEvidence(f"nonce {record['nonce']} is not the session's {expected_nonce.hex()} "
                          "(replayed evidence?)")
    return record


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("verdict", help="verdict JSON with an evidence member, or the evidence")
    ap.add_argument("--scheme", default="ed25519", choices=["ed25519", "hmac-sha256", "sm2"])
    ap.add_argument("--nonce-hex", required=True, help="the nonce issued for this session, hex")
    keys = ap.add_mutually_exclusive_group(required=True)
    keys.add_argument("--key-file", help="raw secret (Ed25519 seed, SM2 scalar or HMAC key)")
    keys.add_argument("--public-key-file",
                      help="raw public key (Ed25519: 32 bytes; SM2: SEC1 uncompressed, 65 bytes)")
    a = ap.parse_args(argv)
    try:
        with open(a.verdict, encoding="utf-8") as f:
            doc = json.load(f)
        evidence = doc.get("evidence", doc) if isinstance(doc, dict) else doc
        if a.public_key_file:
            with open(a.public_key_file, "rb") as f:
                key = Key(a.scheme, public=f.read())
        else:
            with open(a.key_file, "rb") as f:
                key = Key(a.scheme, secret=f.read())
        record = verify(evidence, key, _unhex(a.nonce_hex, "--nonce-hex"))
    except (BadEvidence, OSError, ValueError) as e:
        print(f"invalid evidence: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"valid": True, "evidence": record}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
