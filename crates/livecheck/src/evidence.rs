//! Signed, nonce-bound evidence of one attempt, for the host's server.
//!
//! A [`Verdict`](crate::Verdict) is a plain struct a tampered host can forge; the evidence is
//! what the server checks instead. The server issues a one-time nonce and a key for the
//! session; the device signs a record of the attempt ([`Evidence`]) bound to that nonce; the
//! server verifies the signature and the nonce ([`verify`]) before it believes the verdict.
//!
//! **Format** (`livecheck-evidence/1`). The payload is canonical JSON: one object, keys sorted
//! by their UTF-8 bytes, no whitespace, only strings, integers, booleans, `null`, arrays and
//! objects (no floats: confidences are thousandths), strings escaped as JSON requires and
//! nothing more (non-ASCII characters are written as UTF-8). The signature covers exactly the
//! payload's UTF-8 bytes, so a verifier checks the bytes it received and parses them only
//! afterwards; the canonical form makes the payload reproducible from its fields. Schemes
//! ([`Scheme`]): Ed25519 (RFC 8032; the 32-byte key is the secret seed, the server holds the
//! public key) and HMAC-SHA-256 (RFC 2104; one shared key of at least 32 bytes). Signatures
//! travel as lowercase hex.
//!
//! ```
//! use livecheck::evidence::{self, Evidence, FeedDigest, Scheme, VerifyKey};
//! # fn main() -> livecheck::Result<()> {
//! let key = [7u8; 32]; // issued by the server for this session
//! let mut fed = FeedDigest::default();
//! fed.frame(0, 640, 480, "rgb8", &[0u8; 16]);
//! let record = Evidence::new(b"server-nonce", "actions:blink,nod", true, &[], &fed, None);
//! let signed = evidence::sign(&record, Scheme::Ed25519, &key)?;
//! let public = VerifyKey::from_secret(Scheme::Ed25519, &key)?;
//! let checked = evidence::verify(&signed, &public, b"server-nonce")?;
//! assert_eq!(checked, record);
//! # Ok(()) }
//! ```

use std::fmt::Write as _;

use ed25519_dalek::{Signer as _, Verifier as _};
use hmac::Mac as _;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// The payload's format tag.
pub const FORMAT: &str = "livecheck-evidence/1";

/// How the evidence is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum Scheme {
    /// Ed25519 (RFC 8032): 32-byte secret seed on the device, public key on the server.
    Ed25519,
    /// HMAC-SHA-256 (RFC 2104): one shared secret of at least 32 bytes.
    HmacSha256,
}

impl Scheme {
    /// Stable name: `ed25519`, `hmac-sha256`.
    pub fn code(self) -> &'static str {
        match self {
            Scheme::Ed25519 => "ed25519",
            Scheme::HmacSha256 => "hmac-sha256",
        }
    }

    /// The scheme named `code` (as [`Scheme::code`] writes it).
    pub fn parse(code: &str) -> Option<Scheme> {
        match code {
            "ed25519" => Some(Scheme::Ed25519),
            "hmac-sha256" => Some(Scheme::HmacSha256),
            _ => None,
        }
    }
}

/// Running SHA-256 digests of everything a session was fed, in order: each frame's timestamp,
/// size, pixel format and bytes; each audio chunk's timestamp, rate and samples.
#[derive(Debug, Clone, Default)]
pub struct FeedDigest {
    frames: Sha256,
    audio: Sha256,
    frame_count: u64,
    chunk_count: u64,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
}

impl FeedDigest {
    /// Adds one frame: `t_ms`, `width`, `height` (little-endian), the format's name and length
    /// and the bytes as given.
    pub fn frame(&mut self, t_ms: i64, width: u32, height: u32, format: &str, data: &[u8]) {
        let h = &mut self.frames;
        h.update(t_ms.to_le_bytes());
        h.update(width.to_le_bytes());
        h.update(height.to_le_bytes());
        h.update((format.len() as u32).to_le_bytes());
        h.update(format.as_bytes());
        h.update((data.len() as u64).to_le_bytes());
        h.update(data);
        self.frame_count += 1;
        self.first_ms.get_or_insert(t_ms);
        self.last_ms = Some(t_ms);
    }

    /// Adds one audio chunk: `t_ms`, `sample_rate`, the sample count and each sample as
    /// little-endian f32 (i16 input is fed as `s / 32768`).
    pub fn audio(&mut self, t_ms: i64, sample_rate: u32, samples: &[f32]) {
        let h = &mut self.audio;
        h.update(t_ms.to_le_bytes());
        h.update(sample_rate.to_le_bytes());
        h.update((samples.len() as u64).to_le_bytes());
        for s in samples {
            h.update(s.to_le_bytes());
        }
        self.chunk_count += 1;
    }
}

/// The record of one attempt that gets signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// [`FORMAT`].
    pub format: String,
    /// This library's name and version (`livecheck/0.1.0`).
    pub library: String,
    /// The server's nonce, lowercase hex.
    pub nonce: String,
    /// What was asked: `actions:blink,nod` or `digits:4829`.
    pub plan: String,
    /// Whether the attempt passed.
    pub passed: bool,
    /// Failure reason codes, in the verdict's order.
    pub reasons: Vec<String>,
    /// Frames fed.
    pub frames: u64,
    /// Timestamp of the first and last frame fed, ms (`None` without frames).
    pub first_ms: Option<i64>,
    /// Timestamp of the last frame fed, ms.
    pub last_ms: Option<i64>,
    /// SHA-256 of every frame fed ([`FeedDigest::frame`]), lowercase hex.
    pub frames_sha256: String,
    /// Audio chunks fed.
    pub audio_chunks: u64,
    /// SHA-256 of every audio chunk fed ([`FeedDigest::audio`]), lowercase hex.
    pub audio_sha256: String,
    /// SHA-256 of the best frame's JPEG as the verdict carries it, lowercase hex.
    pub best_frame_sha256: Option<String>,
}

impl Evidence {
    /// The record of an attempt for `nonce` with `plan`, its outcome, what it was fed and the
    /// best frame it returns (JPEG bytes).
    pub fn new(
        nonce: &[u8],
        plan: &str,
        passed: bool,
        reasons: &[&str],
        fed: &FeedDigest,
        best_frame: Option<&[u8]>,
    ) -> Self {
        Evidence {
            format: FORMAT.into(),
            library: concat!("livecheck/", env!("CARGO_PKG_VERSION")).into(),
            nonce: hex(nonce),
            plan: plan.into(),
            passed,
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            frames: fed.frame_count,
            first_ms: fed.first_ms,
            last_ms: fed.last_ms,
            frames_sha256: hex(&fed.frames.clone().finalize()),
            audio_chunks: fed.chunk_count,
            audio_sha256: hex(&fed.audio.clone().finalize()),
            best_frame_sha256: best_frame.map(|j| hex(&Sha256::digest(j))),
        }
    }

    /// The canonical JSON payload (see the module's format).
    pub fn to_json(&self) -> String {
        let opt = |v: Option<i64>| v.map_or("null".to_string(), |v| v.to_string());
        let best = self
            .best_frame_sha256
            .as_deref()
            .map_or("null".to_string(), json_string);
        let reasons: Vec<String> = self.reasons.iter().map(|r| json_string(r)).collect();
        // Keys in byte order.
        format!(
            "{{\"audio_chunks\":{},\"audio_sha256\":{},\"best_frame_sha256\":{},\"first_ms\":{},\"format\":{},\"frames\":{},\"frames_sha256\":{},\"last_ms\":{},\"library\":{},\"nonce\":{},\"passed\":{},\"plan\":{},\"reasons\":[{}]}}",
            self.audio_chunks,
            json_string(&self.audio_sha256),
            best,
            opt(self.first_ms),
            json_string(&self.format),
            self.frames,
            json_string(&self.frames_sha256),
            opt(self.last_ms),
            json_string(&self.library),
            json_string(&self.nonce),
            self.passed,
            json_string(&self.plan),
            reasons.join(","),
        )
    }

    /// Parses a payload and checks that it is exactly the canonical form of its fields.
    pub fn from_json(payload: &str) -> Result<Self> {
        let bad = |why: &str| Error::BadEvidence(why.to_string());
        let v: serde_json::Value =
            serde_json::from_str(payload).map_err(|e| bad(&format!("not JSON: {e}")))?;
        let o = v.as_object().ok_or_else(|| bad("not a JSON object"))?;
        let s = |k: &str| {
            o.get(k)
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .ok_or_else(|| bad(&format!("`{k}` missing or not a string")))
        };
        let u = |k: &str| {
            o.get(k)
                .and_then(|v| v.as_u64())
                .ok_or_else(|| bad(&format!("`{k}` missing or not an integer")))
        };
        let t = |k: &str| match o.get(k) {
            Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| bad(&format!("`{k}` not an integer"))),
            None => Err(bad(&format!("`{k}` missing"))),
        };
        let reasons = o
            .get("reasons")
            .and_then(|v| v.as_array())
            .ok_or_else(|| bad("`reasons` missing or not an array"))?
            .iter()
            .map(|r| {
                r.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad("a reason is not a string"))
            })
            .collect::<Result<Vec<_>>>()?;
        let e = Evidence {
            format: s("format")?,
            library: s("library")?,
            nonce: s("nonce")?,
            plan: s("plan")?,
            passed: o
                .get("passed")
                .and_then(|v| v.as_bool())
                .ok_or_else(|| bad("`passed` missing or not a boolean"))?,
            reasons,
            frames: u("frames")?,
            first_ms: t("first_ms")?,
            last_ms: t("last_ms")?,
            frames_sha256: s("frames_sha256")?,
            audio_chunks: u("audio_chunks")?,
            audio_sha256: s("audio_sha256")?,
            best_frame_sha256: match o.get("best_frame_sha256") {
                Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(h)) => Some(h.clone()),
                _ => return Err(bad("`best_frame_sha256` missing or not a string")),
            },
        };
        if e.format != FORMAT {
            return Err(bad(&format!("format {:?}, expected {FORMAT:?}", e.format)));
        }
        if e.to_json() != payload {
            return Err(bad(
                "payload is not in canonical form (fields added, reordered or re-spaced)",
            ));
        }
        Ok(e)
    }
}

/// What a session signs its evidence with: the server's one-time nonce and the key it issued
/// for the session ([`crate::SessionConfig::with_evidence`]).
#[derive(Clone, PartialEq, Eq)]
pub struct EvidenceKey {
    /// The server's one-time nonce for this session.
    pub nonce: Vec<u8>,
    /// How to sign.
    pub scheme: Scheme,
    /// The signing secret (Ed25519: 32-byte seed; HMAC-SHA-256: at least 32 bytes).
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for EvidenceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceKey")
            .field("nonce", &hex(&self.nonce))
            .field("scheme", &self.scheme)
            .field("secret", &format_args!("<{} bytes>", self.secret.len()))
            .finish()
    }
}

impl EvidenceKey {
    /// Checks the secret's length for the scheme.
    pub fn validate(&self) -> Result<()> {
        VerifyKey::from_secret(self.scheme, &self.secret).map(|_| ())
    }
}

/// Evidence with its signature, as it travels to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SignedEvidence {
    /// How it was signed.
    pub scheme: Scheme,
    /// The canonical JSON payload ([`Evidence::to_json`]).
    pub payload: String,
    /// The signature of the payload's UTF-8 bytes, lowercase hex.
    pub signature: String,
}

/// What the server verifies with.
#[derive(Clone, PartialEq, Eq)]
pub enum VerifyKey {
    /// An Ed25519 public key (32 bytes).
    Ed25519([u8; 32]),
    /// The HMAC-SHA-256 shared secret.
    HmacSha256(Vec<u8>),
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyKey::Ed25519(k) => write!(f, "Ed25519({})", hex(k)),
            VerifyKey::HmacSha256(k) => write!(f, "HmacSha256({} secret bytes)", k.len()),
        }
    }
}

impl VerifyKey {
    /// The key that verifies what `secret` signs under `scheme` (Ed25519: the public key of
    /// the seed; HMAC: the secret itself).
    pub fn from_secret(scheme: Scheme, secret: &[u8]) -> Result<Self> {
        Ok(match scheme {
            Scheme::Ed25519 => VerifyKey::Ed25519(ed25519_seed(secret)?.verifying_key().to_bytes()),
            Scheme::HmacSha256 => VerifyKey::HmacSha256(hmac_key(secret)?.to_vec()),
        })
    }

    fn scheme(&self) -> Scheme {
        match self {
            VerifyKey::Ed25519(_) => Scheme::Ed25519,
            VerifyKey::HmacSha256(_) => Scheme::HmacSha256,
        }
    }
}

fn ed25519_seed(secret: &[u8]) -> Result<ed25519_dalek::SigningKey> {
    let seed: [u8; 32] = secret.try_into().map_err(|_| {
        Error::InvalidConfig(format!(
            "an Ed25519 key is a 32-byte seed, got {} bytes",
            secret.len()
        ))
    })?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

fn hmac_key(secret: &[u8]) -> Result<&[u8]> {
    if secret.len() < 32 {
        return Err(Error::InvalidConfig(format!(
            "an HMAC-SHA-256 key needs at least 32 bytes, got {}",
            secret.len()
        )));
    }
    Ok(secret)
}

type HmacSha256 = hmac::Hmac<Sha256>;

/// Signs `evidence` with `secret` under `scheme`.
pub fn sign(evidence: &Evidence, scheme: Scheme, secret: &[u8]) -> Result<SignedEvidence> {
    let payload = evidence.to_json();
    let signature = match scheme {
        Scheme::Ed25519 => ed25519_seed(secret)?
            .sign(payload.as_bytes())
            .to_bytes()
            .to_vec(),
        Scheme::HmacSha256 => {
            let mut mac = HmacSha256::new_from_slice(hmac_key(secret)?)
                .map_err(|e| Error::InvalidConfig(e.to_string()))?;
            mac.update(payload.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
    };
    Ok(SignedEvidence {
        scheme,
        payload,
        signature: hex(&signature),
    })
}

/// Checks `signed` with `key` and that it answers `expected_nonce` (the one the server issued
/// for this session), then returns the record. Fails with [`Error::BadEvidence`] on a wrong
/// scheme, key or signature, a payload not in canonical form, or another nonce.
pub fn verify(signed: &SignedEvidence, key: &VerifyKey, expected_nonce: &[u8]) -> Result<Evidence> {
    let bad = |why: String| Error::BadEvidence(why);
    if signed.scheme != key.scheme() {
        return Err(bad(format!(
            "signed with {}, but the key is for {}",
            signed.scheme.code(),
            key.scheme().code()
        )));
    }
    let signature = unhex(&signed.signature).ok_or_else(|| bad("signature is not hex".into()))?;
    let message = signed.payload.as_bytes();
    let ok = match key {
        VerifyKey::Ed25519(public) => {
            let public = ed25519_dalek::VerifyingKey::from_bytes(public)
                .map_err(|e| bad(format!("bad Ed25519 public key: {e}")))?;
            let signature = ed25519_dalek::Signature::from_slice(&signature)
                .map_err(|e| bad(format!("bad Ed25519 signature: {e}")))?;
            public.verify(message, &signature).is_ok()
        }
        VerifyKey::HmacSha256(secret) => {
            let mut mac =
                HmacSha256::new_from_slice(hmac_key(secret)?).map_err(|e| bad(e.to_string()))?;
            mac.update(message);
            mac.verify_slice(&signature).is_ok()
        }
    };
    if !ok {
        return Err(bad("signature does not match the payload and key".into()));
    }
    let evidence = Evidence::from_json(&signed.payload)?;
    if evidence.nonce != hex(expected_nonce) {
        return Err(bad(format!(
            "nonce {} is not the session's {} (replayed evidence?)",
            evidence.nonce,
            hex(expected_nonce)
        )));
    }
    Ok(evidence)
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The bytes of lowercase hex `s` (as [`hex`] writes it); `None` for anything else.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2)
        || !s
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// `s` as a JSON string: `"` and `\` escaped, control characters as `\n`, `\r`, `\t`, `\b`,
/// `\f` or `\u00XX`; everything else as is (UTF-8). serde_json writes the same.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Evidence {
        let mut fed = FeedDigest::default();
        fed.frame(1_000, 4, 2, "rgb8", &[1, 2, 3]);
        fed.frame(1_033, 4, 2, "rgb8", &[4, 5, 6]);
        fed.audio(1_000, 16_000, &[0.5, -0.25]);
        Evidence::new(
            b"\x01\xfe nonce",
            "digits:4829",
            false,
            &["wrong_digits"],
            &fed,
            Some(b"jpeg"),
        )
    }

    #[test]
    fn the_payload_is_canonical_json_that_parses_back() {
        let e = record();
        let json = e.to_json();
        // serde_json agrees it is JSON, and its sorted-key compact form is the same bytes.
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        let sorted = {
            let mut k = keys.clone();
            k.sort();
            k
        };
        assert_eq!(keys, sorted, "keys in byte order");
        keys.dedup();
        assert_eq!(keys.len(), 13);
        assert!(!json.contains(' ') && !json.contains('\n'), "{json}");
        assert_eq!(Evidence::from_json(&json).unwrap(), e);
        assert_eq!(
            (e.frames, e.first_ms, e.last_ms, e.audio_chunks),
            (2, Some(1_000), Some(1_033), 1)
        );
        assert_eq!(e.nonce, "01fe206e6f6e6365");
        // Re-spaced, reordered or extended payloads are refused.
        let spaced = json.replacen(':', ": ", 1);
        assert!(Evidence::from_json(&spaced).is_err());
        let extra = json.replacen('{', "{\"a\":1,", 1);
        assert!(Evidence::from_json(&extra).is_err());
    }

    #[test]
    fn strings_escape_as_json_does() {
        for s in [
            "plain",
            "quote \" and \\ slash",
            "ctl \u{1} \n \t",
            "汉字 ok",
        ] {
            assert_eq!(json_string(s), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn the_feed_digest_changes_with_any_byte_or_timestamp() {
        let digest = |t: i64, b: u8| {
            let mut f = FeedDigest::default();
            f.frame(t, 4, 2, "rgb8", &[b, 0, 0]);
            Evidence::new(b"n", "p", true, &[], &f, None).frames_sha256
        };
        assert_ne!(digest(0, 0), digest(1, 0));
        assert_ne!(digest(0, 0), digest(0, 1));
        assert_eq!(digest(5, 9), digest(5, 9));
    }

    #[test]
    fn both_schemes_sign_and_verify_and_reject_tampering() {
        let nonce = b"\x01\xfe nonce";
        for (scheme, key) in [
            (Scheme::Ed25519, vec![3u8; 32]),
            (Scheme::HmacSha256, vec![9u8; 32]),
        ] {
            let signed = sign(&record(), scheme, &key).unwrap();
            let vk = VerifyKey::from_secret(scheme, &key).unwrap();
            assert_eq!(verify(&signed, &vk, nonce).unwrap(), record());
            // Any changed field, truncation, another key, scheme or nonce: rejected.
            let mut t = signed.clone();
            t.payload = t.payload.replace("\"passed\":false", "\"passed\":true");
            assert!(
                verify(&t, &vk, nonce).is_err(),
                "{scheme:?}: passed flipped"
            );
            let mut t = signed.clone();
            t.payload.pop();
            assert!(verify(&t, &vk, nonce).is_err(), "{scheme:?}: truncated");
            let mut t = signed.clone();
            t.signature.replace_range(
                0..2,
                if &t.signature[..2] == "00" {
                    "01"
                } else {
                    "00"
                },
            );
            assert!(
                verify(&t, &vk, nonce).is_err(),
                "{scheme:?}: signature byte"
            );
            let other = VerifyKey::from_secret(scheme, &[4u8; 32]).unwrap();
            assert!(
                verify(&signed, &other, nonce).is_err(),
                "{scheme:?}: wrong key"
            );
            assert!(
                verify(&signed, &vk, b"another nonce").is_err(),
                "{scheme:?}: replay"
            );
        }
        let signed = sign(&record(), Scheme::HmacSha256, &[9u8; 32]).unwrap();
        let ed = VerifyKey::from_secret(Scheme::Ed25519, &[9u8; 32]).unwrap();
        assert!(
            verify(&signed, &ed, b"\x01\xfe nonce").is_err(),
            "wrong scheme"
        );
    }

    #[test]
    fn short_or_odd_keys_are_typed_errors() {
        assert!(matches!(
            sign(&record(), Scheme::Ed25519, &[1; 31]),
            Err(Error::InvalidConfig(_))
        ));
        assert!(matches!(
            sign(&record(), Scheme::HmacSha256, &[1; 16]),
            Err(Error::InvalidConfig(_))
        ));
        assert_eq!(Scheme::parse("hmac-sha256"), Some(Scheme::HmacSha256));
        assert_eq!(Scheme::parse("sm2"), None);
        assert_eq!(unhex("0aff"), Some(vec![10, 255]));
        assert_eq!(unhex("0AFF"), None);
    }
}
