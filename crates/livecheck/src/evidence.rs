//! Signed, nonce-bound evidence of one attempt, for the host's server.
//!
//! A [`Verdict`](crate::Verdict) is a plain struct a tampered host can forge; the evidence is
//! what the server checks instead. The server issues a one-time nonce and a key for the
//! session; the device signs a record of the attempt ([`Evidence`]) bound to that nonce; the
//! server verifies the signature and the nonce ([`verify`]) before it believes the verdict.
//!
//! **Format** (`livecheck-evidence/1`). The payload is canonical JSON: one object, keys of
//! every object sorted by their UTF-8 bytes, no whitespace, only strings, integers, booleans,
//! `null`, arrays and objects (no floats: confidences and margins are thousandths, `*_milli`),
//! strings escaped as JSON requires and nothing more (non-ASCII characters are written as
//! UTF-8); every field is always present (`null` when empty). Fields: see [`Evidence`],
//! [`ActionRecord`], [`ReadingRecord`], [`DigitRecord`], [`IdentityRecord`], [`MatchRecord`]; `examples/server/verify_evidence.py`
//! checks the format without this library. The signature covers exactly the
//! payload's UTF-8 bytes, so a verifier checks the bytes it received and parses them only
//! afterwards; the canonical form makes the payload reproducible from its fields. Schemes
//! ([`Scheme`]): Ed25519 (RFC 8032; the 32-byte key is the secret seed, the server holds the
//! public key), SM2 with SM3 (GB/T 32918.2 / GB/T 32905, user ID [`SM2_USER_ID`], signature
//! `r‖s` 64 bytes, deterministic nonce; the 32-byte key is the secret scalar, the server holds
//! the SEC1 public point), and HMAC-SHA-256 (RFC 2104; one shared key of at least 32 bytes). Signatures
//! travel as lowercase hex.
//!
//! ```
//! use livecheck::evidence::{self, Evidence, FeedDigest, Scheme, VerifyKey};
//! # fn main() -> livecheck::Result<()> {
//! let key = [7u8; 32]; // issued by the server for this session
//! let mut fed = FeedDigest::default();
//! fed.frame(0, 640, 480, "rgb8", &[0u8; 16]);
//! let verdict = livecheck::Verdict {
//!     passed: false,
//!     reasons: vec![livecheck::Reason::NotAligned],
//!     actions: vec![],
//!     reading: None,
//!     frames: 1,
//!     duration_ms: 0,
//!     best_frame: None,
//!     evidence: None,
//!     continuity: None,
//!     face_match: None,
//! };
//! let models = [("face_landmark.onnx".to_string(), "ab12…".to_string())].into();
//! let record = Evidence::new(b"server-nonce", "actions:blink,nod", &verdict, &fed, &models);
//! let signed = evidence::sign(&record, Scheme::Ed25519, &key)?;
//! let public = VerifyKey::from_secret(Scheme::Ed25519, &key)?;
//! let checked = evidence::verify(&signed, &public, b"server-nonce")?;
//! assert_eq!(checked, record);
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ed25519_dalek::{Signer as _, Verifier as _};
use hmac::Mac as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
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
    /// SM2 signature with SM3 (GB/T 32918.2, GB/T 32905; user ID [`SM2_USER_ID`]): 32-byte
    /// secret scalar (big-endian, 1 ≤ d < n) on the device, SEC1 public point on the server.
    Sm2,
}

/// The SM2 distinguishing identifier (user ID) in Z_A: GB/T 35276's default.
pub const SM2_USER_ID: &str = "1234567812345678";

impl Scheme {
    /// Stable name: `ed25519`, `hmac-sha256`, `sm2`.
    pub fn code(self) -> &'static str {
        match self {
            Scheme::Ed25519 => "ed25519",
            Scheme::HmacSha256 => "hmac-sha256",
            Scheme::Sm2 => "sm2",
        }
    }

    /// The scheme named `code` (as [`Scheme::code`] writes it).
    pub fn parse(code: &str) -> Option<Scheme> {
        match code {
            "ed25519" => Some(Scheme::Ed25519),
            "hmac-sha256" => Some(Scheme::HmacSha256),
            "sm2" => Some(Scheme::Sm2),
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

/// The record of one attempt that gets signed (the payload's fields, in byte order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// Per requested action, in the order asked (empty in the digits challenge).
    pub actions: Vec<ActionRecord>,
    /// Audio chunks fed.
    pub audio_chunks: u64,
    /// SHA-256 of every audio chunk fed ([`FeedDigest::audio`]), lowercase hex.
    pub audio_sha256: String,
    /// SHA-256 of the best frame's JPEG as the verdict carries it, lowercase hex.
    pub best_frame_sha256: Option<String>,
    /// The 1:1 match with the registered photo (`None` without a reference).
    pub face_match: Option<MatchRecord>,
    /// Timestamp of the first frame fed, ms (`None` without frames).
    pub first_ms: Option<i64>,
    /// [`FORMAT`].
    pub format: String,
    /// Frames fed.
    pub frames: u64,
    /// SHA-256 of every frame fed ([`FeedDigest::frame`]), lowercase hex.
    pub frames_sha256: String,
    /// The identity checks within the attempt (`None` without the face embedder, or before
    /// alignment).
    pub identity: Option<IdentityRecord>,
    /// Timestamp of the last frame fed, ms.
    pub last_ms: Option<i64>,
    /// This library's name and version (`livecheck/0.1.0`).
    pub library: String,
    /// Every model the engine loaded: file name (`face_landmark.onnx`, …) → SHA-256 of the
    /// bytes it was given, lowercase hex ([`crate::Engine::model_sha256`]).
    pub models: BTreeMap<String, String>,
    /// The server's nonce, lowercase hex.
    pub nonce: String,
    /// Whether the attempt passed.
    pub passed: bool,
    /// What was asked: `actions:blink,nod` or `digits:4829`.
    pub plan: String,
    /// The digits challenge's findings (`None` in the action challenge, or when the attempt
    /// never got to the digits).
    pub reading: Option<ReadingRecord>,
    /// Failure reason codes, in the verdict's order.
    pub reasons: Vec<String>,
}

/// One requested action in the evidence ([`crate::ActionResult`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRecord {
    /// Its code (`blink`, `nod`, …).
    pub action: String,
    /// When it was asked, ms.
    pub asked_ms: Option<i64>,
    /// How clearly its event was seen, thousandths (`None`: not seen).
    pub confidence_milli: Option<i64>,
    /// When the event was complete, ms.
    pub end_ms: Option<i64>,
    /// Whether it was seen in time.
    pub passed: bool,
    /// When the event started, ms.
    pub start_ms: Option<i64>,
}

/// The identity checks in the evidence ([`crate::Continuity`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityRecord {
    /// Embeddings compared with the one taken at alignment.
    pub checks: u64,
    /// The lowest cosine similarity among them, thousandths.
    pub min_similarity_milli: i64,
}

/// The 1:1 match in the evidence ([`crate::FaceMatch`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRecord {
    /// Whether the face matched the registered photo.
    pub matched: bool,
    /// Cosine similarity to the registered photo, thousandths.
    pub similarity_milli: i64,
}

/// The digits challenge in the evidence ([`crate::Reading`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadingRecord {
    /// The digits asked for.
    pub challenge: String,
    /// Each digit heard inside the speech, in order.
    pub digits: Vec<DigitRecord>,
    /// Share of the speech with the face in view, thousandths.
    pub face_coverage_milli: i64,
    /// Whether the lips moved in step with the voice.
    pub in_sync: bool,
    /// The prompt's language code (`zh`, `en`, `auto`).
    pub language: String,
    /// The verifiers' margin for the challenge, thousandths of a natural-log ratio (clamped to
    /// ±10⁹).
    pub margin_milli: i64,
    /// Spread of the mouth opening inside speech, thousandths.
    pub mouth_motion_milli: i64,
    /// The digits heard ("" when none).
    pub recognised: String,
    /// Lip/audio correlation at the best lag, thousandths.
    pub sync_confidence_milli: i64,
    /// The best lag, ms (positive: sound after the mouth movement).
    pub sync_offset_ms: i64,
}

/// One recognised digit in the evidence ([`crate::audio::DigitSegment`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitRecord {
    /// Highest posterior over its steps, thousandths.
    pub confidence_milli: i64,
    /// The digit, 0..=9.
    pub digit: u8,
    /// End, ms.
    pub end_ms: i64,
    /// Start, ms.
    pub start_ms: i64,
}

/// `x` in thousandths, rounded, clamped to ±10⁹ (NaN: 0).
fn milli(x: f32) -> i64 {
    (f64::from(x).clamp(-1e6, 1e6) * 1000.0).round() as i64
}

impl Evidence {
    /// The record of an attempt for `nonce` with `plan`: the `verdict` (outcome, reasons, each
    /// action's event, the reading, the best frame's JPEG digest), what it was fed, and the
    /// models that judged it (file name → SHA-256 hex, [`crate::Engine::model_sha256`]).
    pub fn new(
        nonce: &[u8],
        plan: &str,
        verdict: &crate::Verdict,
        fed: &FeedDigest,
        models: &BTreeMap<String, String>,
    ) -> Self {
        Evidence {
            actions: verdict
                .actions
                .iter()
                .map(|a| ActionRecord {
                    action: a.kind.code().into(),
                    asked_ms: a.asked_ms,
                    confidence_milli: a.event.map(|e| milli(e.confidence)),
                    end_ms: a.event.map(|e| e.end_ms),
                    passed: a.passed,
                    start_ms: a.event.map(|e| e.start_ms),
                })
                .collect(),
            audio_chunks: fed.chunk_count,
            audio_sha256: hex(&fed.audio.clone().finalize()),
            best_frame_sha256: verdict
                .best_frame
                .as_ref()
                .map(|b| hex(&Sha256::digest(&b.jpeg))),
            face_match: verdict.face_match.map(|m| MatchRecord {
                matched: m.matched,
                similarity_milli: milli(m.similarity),
            }),
            first_ms: fed.first_ms,
            format: FORMAT.into(),
            frames: fed.frame_count,
            frames_sha256: hex(&fed.frames.clone().finalize()),
            identity: verdict.continuity.map(|c| IdentityRecord {
                checks: u64::from(c.checks),
                min_similarity_milli: milli(c.min_similarity),
            }),
            last_ms: fed.last_ms,
            library: concat!("livecheck/", env!("CARGO_PKG_VERSION")).into(),
            models: models.clone(),
            nonce: hex(nonce),
            passed: verdict.passed,
            plan: plan.into(),
            reading: verdict.reading.as_ref().map(|r| ReadingRecord {
                challenge: r.challenge.clone(),
                digits: r
                    .digits
                    .iter()
                    .map(|d| DigitRecord {
                        confidence_milli: milli(d.confidence),
                        digit: d.digit,
                        end_ms: d.end_ms,
                        start_ms: d.start_ms,
                    })
                    .collect(),
                face_coverage_milli: milli(r.face_coverage),
                in_sync: r.sync.in_sync,
                language: r.language.code().into(),
                margin_milli: milli(r.margin),
                mouth_motion_milli: milli(r.mouth_motion),
                recognised: r.recognised.clone(),
                sync_confidence_milli: milli(r.sync.confidence),
                sync_offset_ms: r.sync.offset_ms.into(),
            }),
            reasons: verdict.reasons.iter().map(|r| r.code().into()).collect(),
        }
    }

    /// The canonical JSON payload (see the module's format).
    pub fn to_json(&self) -> String {
        // Serialising plain strings, integers, booleans, options, vectors and string-keyed maps
        // cannot fail.
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        let mut out = String::new();
        write_canonical(&value, &mut out);
        out
    }

    /// Parses a payload and checks that it is exactly the canonical form of its fields.
    pub fn from_json(payload: &str) -> Result<Self> {
        let bad = |why: String| Error::BadEvidence(why);
        let e: Evidence = serde_json::from_str(payload)
            .map_err(|e| bad(format!("not a livecheck evidence record: {e}")))?;
        if e.format != FORMAT {
            return Err(bad(format!("format {:?}, expected {FORMAT:?}", e.format)));
        }
        if e.to_json() != payload {
            return Err(bad(
                "payload is not in canonical form (fields missing, reordered or re-spaced)".into(),
            ));
        }
        Ok(e)
    }
}

/// `v` as canonical JSON: object keys in byte order, no whitespace, strings as [`json_string`].
/// Only integers occur in records (floats would be written as serde_json writes them).
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&json_string(s)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json_string(k));
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
    }
}

/// What a session signs its evidence with: the server's one-time nonce and the key it issued
/// for the session ([`crate::SessionConfig::with_evidence`]). The secret is zeroed on drop.
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

impl Drop for EvidenceKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
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
    /// An SM2 public key, SEC1 encoded (uncompressed `04‖x‖y`, 65 bytes, or compressed).
    Sm2(Vec<u8>),
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyKey::Ed25519(k) => write!(f, "Ed25519({})", hex(k)),
            VerifyKey::HmacSha256(k) => write!(f, "HmacSha256({} secret bytes)", k.len()),
            VerifyKey::Sm2(k) => write!(f, "Sm2({})", hex(k)),
        }
    }
}

impl VerifyKey {
    /// The key that verifies what `secret` signs under `scheme` (Ed25519, SM2: the public key
    /// of the secret; HMAC: the secret itself).
    pub fn from_secret(scheme: Scheme, secret: &[u8]) -> Result<Self> {
        Ok(match scheme {
            Scheme::Ed25519 => VerifyKey::Ed25519(ed25519_seed(secret)?.verifying_key().to_bytes()),
            Scheme::HmacSha256 => VerifyKey::HmacSha256(hmac_key(secret)?.to_vec()),
            Scheme::Sm2 => VerifyKey::Sm2(sm2_key(secret)?.verifying_key().to_sec1_bytes().into()),
        })
    }

    /// The key that verifies `scheme` signatures from a public key: Ed25519's 32 bytes, SM2's
    /// SEC1 point. HMAC has no public key: use [`VerifyKey::from_secret`].
    pub fn from_public(scheme: Scheme, public: &[u8]) -> Result<Self> {
        let bad = |why: String| Error::InvalidConfig(why);
        match scheme {
            Scheme::Ed25519 => {
                let key: [u8; 32] = public.try_into().map_err(|_| {
                    bad(format!(
                        "an Ed25519 public key is 32 bytes, got {}",
                        public.len()
                    ))
                })?;
                ed25519_dalek::VerifyingKey::from_bytes(&key)
                    .map_err(|e| bad(format!("bad Ed25519 public key: {e}")))?;
                Ok(VerifyKey::Ed25519(key))
            }
            Scheme::Sm2 => {
                sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_USER_ID, public)
                    .map_err(|e| bad(format!("bad SM2 public key: {e}")))?;
                Ok(VerifyKey::Sm2(public.to_vec()))
            }
            Scheme::HmacSha256 => Err(bad("HMAC-SHA-256 has no public key".into())),
        }
    }

    /// The public key's bytes (Ed25519: 32; SM2: SEC1 uncompressed), `None` for HMAC.
    pub fn public_bytes(&self) -> Option<&[u8]> {
        match self {
            VerifyKey::Ed25519(k) => Some(k),
            VerifyKey::Sm2(k) => Some(k),
            VerifyKey::HmacSha256(_) => None,
        }
    }

    fn scheme(&self) -> Scheme {
        match self {
            VerifyKey::Ed25519(_) => Scheme::Ed25519,
            VerifyKey::HmacSha256(_) => Scheme::HmacSha256,
            VerifyKey::Sm2(_) => Scheme::Sm2,
        }
    }
}

fn sm2_key(secret: &[u8]) -> Result<sm2::dsa::SigningKey> {
    if secret.len() != 32 {
        return Err(Error::InvalidConfig(format!(
            "an SM2 key is a 32-byte secret scalar, got {} bytes",
            secret.len()
        )));
    }
    sm2::dsa::SigningKey::from_slice(SM2_USER_ID, secret).map_err(|_| {
        Error::InvalidConfig("an SM2 secret must be a scalar in 1..n-1 of the SM2 curve".into())
    })
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
        // Deterministic nonce (RFC 6979 with SM3): the same record signs to the same bytes.
        Scheme::Sm2 => {
            let signature: sm2::dsa::Signature = sm2_key(secret)?.sign(payload.as_bytes());
            signature.to_vec()
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
        VerifyKey::Sm2(public) => {
            let public = sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_USER_ID, public)
                .map_err(|e| bad(format!("bad SM2 public key: {e}")))?;
            let signature = sm2::dsa::Signature::from_slice(&signature)
                .map_err(|e| bad(format!("bad SM2 signature: {e}")))?;
            public.verify(message, &signature).is_ok()
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

    fn verdict() -> crate::Verdict {
        use crate::audio::DigitSegment;
        crate::Verdict {
            passed: false,
            reasons: vec![crate::Reason::WrongDigits],
            actions: vec![],
            reading: Some(crate::Reading {
                challenge: "4829".into(),
                recognised: "4820".into(),
                margin: -1.2345,
                language: crate::Language::Mandarin,
                digits: vec![DigitSegment {
                    digit: 4,
                    start_ms: 1_200,
                    end_ms: 1_400,
                    confidence: 0.9876,
                }],
                speech: vec![],
                mouth_motion: 0.25,
                face_coverage: 1.0,
                snr_db: 40.0,
                sync: crate::SyncResult {
                    offset_ms: 40,
                    confidence: 0.5,
                    in_sync: true,
                    prominence: 3.0,
                    frames: 30,
                    speech_ms: 1_500,
                },
            }),
            frames: 2,
            duration_ms: 33,
            best_frame: Some(crate::BestFrame {
                t_ms: 1_000,
                width: 1,
                height: 1,
                jpeg: b"jpeg".to_vec(),
                score: 0.5,
            }),
            evidence: None,
            continuity: Some(crate::Continuity {
                checks: 3,
                min_similarity: 0.9376,
            }),
            face_match: Some(crate::FaceMatch {
                similarity: 0.3121,
                matched: false,
            }),
        }
    }

    fn models() -> BTreeMap<String, String> {
        [("face_landmark.onnx", "00ff"), ("digits.onnx", "ab")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into()
    }

    fn record() -> Evidence {
        let mut fed = FeedDigest::default();
        fed.frame(1_000, 4, 2, "rgb8", &[1, 2, 3]);
        fed.frame(1_033, 4, 2, "rgb8", &[4, 5, 6]);
        fed.audio(1_000, 16_000, &[0.5, -0.25]);
        Evidence::new(
            b"\x01\xfe nonce",
            "digits:4829",
            &verdict(),
            &fed,
            &models(),
        )
    }

    #[test]
    fn the_payload_is_canonical_json_that_parses_back() {
        let e = record();
        let json = e.to_json();
        // Every object's keys in byte order, no whitespace, and serde_json reads it back.
        fn sorted(v: &serde_json::Value) -> bool {
            match v {
                serde_json::Value::Object(m) => {
                    let keys: Vec<&String> = m.keys().collect();
                    keys.windows(2).all(|w| w[0] < w[1]) && m.values().all(sorted)
                }
                serde_json::Value::Array(a) => a.iter().all(sorted),
                _ => true,
            }
        }
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(sorted(&v), "{json}");
        assert_eq!(v.as_object().unwrap().len(), 18);
        assert!(!json.contains(' ') && !json.contains('\n'), "{json}");
        assert_eq!(Evidence::from_json(&json).unwrap(), e);
        assert_eq!(
            (e.frames, e.first_ms, e.last_ms, e.audio_chunks),
            (2, Some(1_000), Some(1_033), 1)
        );
        assert_eq!(e.nonce, "01fe206e6f6e6365");
        assert_eq!(e.reasons, ["wrong_digits"]);
        assert_eq!(e.models, models());
        // The reading in integers: thousandths, rounded.
        assert!(json.contains(
            r#""reading":{"challenge":"4829","digits":[{"confidence_milli":988,"digit":4,"end_ms":1400,"start_ms":1200}],"face_coverage_milli":1000,"in_sync":true,"language":"zh","margin_milli":-1235,"mouth_motion_milli":250,"recognised":"4820","sync_confidence_milli":500,"sync_offset_ms":40}"#
        ), "{json}");
        assert!(json.contains(r#""models":{"digits.onnx":"ab","face_landmark.onnx":"00ff"}"#));
        assert!(json.contains(r#""face_match":{"matched":false,"similarity_milli":312}"#));
        assert!(json.contains(r#""identity":{"checks":3,"min_similarity_milli":938}"#));
        // Re-spaced, reordered, extended, shortened or float-bearing payloads are refused.
        let spaced = json.replacen(':', ": ", 1);
        assert!(Evidence::from_json(&spaced).is_err());
        let extra = json.replacen('{', "{\"a\":1,", 1);
        assert!(Evidence::from_json(&extra).is_err());
        let with_none = {
            let mut e = record();
            e.best_frame_sha256 = None;
            e.to_json()
        };
        assert!(Evidence::from_json(&with_none).is_ok());
        assert!(
            Evidence::from_json(&with_none.replace(r#""best_frame_sha256":null,"#, "")).is_err()
        );
        let float = json.replace(r#""sync_offset_ms":40"#, r#""sync_offset_ms":40.0"#);
        assert!(Evidence::from_json(&float).is_err());
        let nested = json.replace(r#""digit":4,"end_ms""#, r#""end_ms":1400,"digit":4,"x""#);
        assert!(Evidence::from_json(&nested).is_err());
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
            Evidence::new(b"n", "p", &verdict(), &f, &models()).frames_sha256
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
            (Scheme::Sm2, vec![5u8; 32]),
        ] {
            let signed = sign(&record(), scheme, &key).unwrap();
            let vk = VerifyKey::from_secret(scheme, &key).unwrap();
            assert_eq!(verify(&signed, &vk, nonce).unwrap(), record());
            // Deterministic: the same record signs to the same bytes.
            assert_eq!(sign(&record(), scheme, &key).unwrap(), signed);
            if let Some(public) = vk.public_bytes() {
                let from_public = VerifyKey::from_public(scheme, public).unwrap();
                assert_eq!(verify(&signed, &from_public, nonce).unwrap(), record());
            }
            // Any changed field, truncation, another key, scheme or nonce: rejected.
            let mut t = signed.clone();
            t.payload = t.payload.replace("\"passed\":false", "\"passed\":true");
            assert_ne!(t.payload, signed.payload);
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
        // SM2: 32 bytes, and a scalar below the curve order.
        for bad in [&[1u8; 31][..], &[0u8; 32], &[0xff; 32]] {
            assert!(matches!(
                sign(&record(), Scheme::Sm2, bad),
                Err(Error::InvalidConfig(_))
            ));
        }
        let sm2 = VerifyKey::from_secret(Scheme::Sm2, &[5u8; 32]).unwrap();
        assert_eq!(sm2.public_bytes().map(|p| (p.len(), p[0])), Some((65, 4)));
        assert!(VerifyKey::from_public(Scheme::Sm2, &[4u8; 65]).is_err());
        assert!(VerifyKey::from_public(Scheme::HmacSha256, &[4u8; 32]).is_err());
        assert_eq!(Scheme::parse("hmac-sha256"), Some(Scheme::HmacSha256));
        assert_eq!(Scheme::parse("sm2"), Some(Scheme::Sm2));
        assert_eq!(Scheme::parse("sm4"), None);
        assert_eq!(unhex("0aff"), Some(vec![10, 255]));
        assert_eq!(unhex("0AFF"), None);
    }
}
