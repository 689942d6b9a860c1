//! The bodies of livecheck's fuzz targets, shared by the coverage-guided cargo-fuzz harness
//! (`fuzz/`, `cargo xtask fuzz`) and the short CI smoke run over the committed corpus
//! (`tests/smoke.rs`).
//!
//! Each target takes arbitrary bytes, reads them as structured input ([`arbitrary`]) and calls
//! the public API the way a confused or hostile host could. Every error must be typed: a
//! panic, an abort, or an FFI call answering `Internal` (a panic the boundary caught) or
//! `Processing` (a model run or encoding that failed on input the API accepted) is a finding.
//!
//! - [`frame`]: frame parsing: every pixel format, stride, rotation, mirroring and size, then
//!   sampling, cropping and fingerprinting the frame;
//! - [`wav`]: WAV parsing, then the parsed audio pushed and re-encoded;
//! - [`pcm`]: arbitrary sequences of PCM pushes (any rate, timestamp, NaN, ±inf) into the
//!   16 kHz audio buffer;
//! - [`session`]: whole attempts through the uniffi layer (`livecheck-ffi`): arbitrary options,
//!   then any sequence of frames (a real face or noise, every format), audio and calls,
//!   with the real models;
//! - [`evidence`]: the server-side verifier on arbitrary signed evidence and keys;
//! - [`model`]: livecheck's own model runtime (`models::Net`) on damaged ONNX files.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use arbitrary::{Arbitrary, Unstructured};
use livecheck::audio::{wav as wavfile, AudioBufferConfig};
use livecheck::frame::{Border, Normalize};
use livecheck::{AudioBuffer, FrameRef, PixelFormat, Roi, Rotation};
use livecheck_ffi::{LivenessEngine, LivenessError, SessionOptions};

/// A target's body: arbitrary bytes in, a panic on a finding.
pub type Target = fn(&[u8]);

/// Every target, by name (the cargo-fuzz target and corpus folder names).
pub const TARGETS: [(&str, Target); 6] = [
    ("frame", frame),
    ("wav", wav),
    ("pcm", pcm),
    ("session", session),
    ("evidence", evidence),
    ("model", model),
];

const FORMATS: [PixelFormat; 7] = PixelFormat::ALL;

/// A frame side: usually small, sometimes zero, odd or absurd.
fn side(u: &mut Unstructured) -> arbitrary::Result<u32> {
    Ok(match u.int_in_range(0u8..=15)? {
        0 => 0,
        1 => u.arbitrary()?,
        2 => *u.choose(&[65_535, 65_536, 1 << 20, u32::MAX])?,
        _ => u.int_in_range(1..=96)?,
    })
}

/// A float that is sometimes NaN, infinite, huge or negative.
fn float(u: &mut Unstructured, lo: f32, hi: f32) -> arbitrary::Result<f32> {
    Ok(match u.int_in_range(0u8..=9)? {
        0 => *u.choose(&[
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            -f32::MAX,
        ])?,
        1 => u.arbitrary()?,
        _ => lo + (hi - lo) * (u.int_in_range(0u16..=1000)? as f32 / 1000.0),
    })
}

/// Bytes for a `width` x `height` frame of `format`: usually enough for the layout (filled
/// from the input), sometimes any length.
fn pixels(
    u: &mut Unstructured,
    width: u32,
    height: u32,
    stride: usize,
    format: PixelFormat,
) -> arbitrary::Result<Vec<u8>> {
    let row = stride.max(width as usize * format.bytes_per_pixel());
    let need = (row as u64)
        .saturating_mul(u64::from(height))
        .saturating_mul(2);
    let len = if need <= 1 << 22 && u.ratio(3u8, 4)? {
        need as usize
    } else {
        u.int_in_range(0usize..=4096)?
    };
    let seed = u.bytes(u.len().min(64))?;
    Ok((0..len)
        .map(|i| match seed.len() {
            0 => (i * 31 % 251) as u8,
            n => seed[i % n].wrapping_add((i / n) as u8),
        })
        .collect())
}

/// Frame parsing and pixel access on arbitrary layouts.
pub fn frame(data: &[u8]) {
    let _ = frame_inner(&mut Unstructured::new(data));
}

fn frame_inner(u: &mut Unstructured) -> arbitrary::Result<()> {
    let (width, height) = (side(u)?, side(u)?);
    let format = *u.choose(&FORMATS)?;
    let stride = match u.int_in_range(0u8..=3)? {
        0 => u.arbitrary::<usize>()?,
        1 => 0,
        _ => width as usize * format.bytes_per_pixel() + u.int_in_range(0usize..=8)?,
    };
    let degrees = *u.choose(&[0, 90, 180, 270, 45, 360])?;
    let mirrored = u.arbitrary()?;
    let bytes = pixels(u, width, height, stride, format)?;
    let parsed = if stride == 0 {
        FrameRef::packed(&bytes, width, height, format)
    } else {
        FrameRef::new(&bytes, width, height, stride, format)
    };
    let (Ok(f), Ok(rotation)) = (parsed, Rotation::from_degrees(degrees)) else {
        return Ok(());
    };
    let f = f.with_orientation(rotation, mirrored);
    let (w, h) = f.display_size();
    f.fingerprint();
    for _ in 0..u.int_in_range(0u8..=4)? {
        f.sample(
            float(u, -2.0, w as f32 + 2.0)?,
            float(u, -2.0, h as f32 + 2.0)?,
        );
    }
    let roi = Roi {
        cx: float(u, 0.0, w as f32)?,
        cy: float(u, 0.0, h as f32)?,
        width: float(u, 0.0, 2.0 * w as f32)?,
        height: float(u, 0.0, 2.0 * h as f32)?,
        angle: float(u, -7.0, 7.0)?,
    };
    let (ow, oh) = (u.int_in_range(1usize..=24)?, u.int_in_range(1usize..=24)?);
    let border = *u.choose(&[Border::Zero, Border::Replicate])?;
    let norm = Normalize {
        scale: float(u, -2.0, 2.0)?,
        offset: float(u, -1.0, 1.0)?,
    };
    let mut out = vec![0.0f32; 3 * ow * oh];
    f.crop_into(&roi, ow, oh, border, norm, &mut out);
    f.mean_luma(&roi, u.int_in_range(0usize..=8)?);
    Ok(())
}

/// WAV parsing; what parses is pushed into the audio buffer and re-encoded.
pub fn wav(data: &[u8]) {
    let Ok(pcm) = wavfile::read_bytes(data) else {
        return;
    };
    let mut buffer = AudioBuffer::new(AudioBufferConfig::default());
    if buffer.push(&pcm.samples, pcm.sample_rate, 0).is_ok() {
        let _ = buffer.finish();
    }
    if let Ok(bytes) = wavfile::encode_i16(&pcm.samples, pcm.sample_rate) {
        let again = wavfile::read_bytes(&bytes).expect("our own WAV reads back");
        assert_eq!(again.samples.len(), pcm.samples.len());
        assert_eq!(again.sample_rate, pcm.sample_rate);
    }
}

/// One call on the audio buffer.
#[derive(Debug, Arbitrary)]
enum AudioCall {
    Push {
        samples: Vec<f32>,
        rate: u32,
        t_ms: i64,
    },
    PushI16 {
        samples: Vec<i16>,
        rate: u32,
        t_ms: i64,
    },
    /// A plausible chunk: a common rate, a timestamp just after the last.
    Next {
        samples: Vec<f32>,
        rate_index: u8,
        step_ms: u8,
    },
    Finish,
    Read,
}

const RATES: [u32; 6] = [8_000, 11_025, 16_000, 22_050, 44_100, 48_000];

/// Arbitrary sequences of PCM pushes into the audio buffer.
pub fn pcm(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let gap_tolerance_ms = u.int_in_range(0u32..=1000).unwrap_or(60);
    let mut buffer = AudioBuffer::new(AudioBufferConfig { gap_tolerance_ms });
    let mut t = 0i64;
    // `arbitrary` answers defaults, not errors, once the input is used up: stop there.
    for _ in 0..256 {
        if u.is_empty() {
            break;
        }
        let Ok(call) = u.arbitrary::<AudioCall>() else {
            break;
        };
        match call {
            AudioCall::Push {
                samples,
                rate,
                t_ms,
            } => {
                let _ = buffer.push(&samples, rate, t_ms);
            }
            AudioCall::PushI16 {
                samples,
                rate,
                t_ms,
            } => {
                let _ = buffer.push_i16(&samples, rate, t_ms);
            }
            AudioCall::Next {
                samples,
                rate_index,
                step_ms,
            } => {
                t += i64::from(step_ms);
                let rate = RATES[rate_index as usize % RATES.len()];
                let _ = buffer.push(&samples, rate, t);
            }
            AudioCall::Finish => {
                let _ = buffer.finish();
            }
            AudioCall::Read => {
                buffer.pcm();
            }
        }
    }
}

/// The provisioned detector's ONNX bytes, when the models are there (read once).
fn detector_bytes() -> Option<&'static [u8]> {
    static BYTES: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    BYTES
        .get_or_init(|| std::fs::read(models_dir().join(livecheck::models::files::DETECTOR)).ok())
        .as_deref()
}

/// livecheck's model runtime on damaged model files: the real detector with a few of its bytes
/// overwritten, inserted, removed or cut (when the models are provisioned), or the input's own
/// bytes as a model. Loading must answer a typed error or a model that runs; a model that
/// loaded must run on a zero input of its declared shape without an error or a panic.
pub fn model(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let bytes = match detector_bytes() {
        Some(real) if u.arbitrary::<bool>().unwrap_or(false) => {
            let mut b = real.to_vec();
            let edits = u.int_in_range(1u8..=8).unwrap_or(1);
            for _ in 0..edits {
                if b.is_empty() {
                    break;
                }
                let at = u.int_in_range(0..=b.len() - 1).unwrap_or(0);
                match u.int_in_range(0u8..=3).unwrap_or(0) {
                    0 => b[at] = u.arbitrary().unwrap_or(0),
                    1 => b.insert(at, u.arbitrary().unwrap_or(0)),
                    2 => {
                        b.remove(at);
                    }
                    _ => b.truncate(at),
                }
            }
            b
        }
        _ => u.take_rest().to_vec(),
    };
    let shape: &[usize] = &[1, 3, 128, 128];
    let Ok(net) = livecheck::models::Net::load("fuzz", &bytes, &[shape], &[896 * 16, 896]) else {
        return;
    };
    let x = vec![0.0f32; shape.iter().product()];
    if let Err(e) = net.run(&[&x]) {
        panic!("a model that loaded failed to run on its declared input: {e}");
    }
}

/// The evidence format and its verifiers: arbitrary payloads parsed (what parses must
/// re-serialise to the same bytes), records of arbitrary attempts signed and verified under
/// every scheme (must verify; any changed byte or other nonce must not), and the server-side
/// verifier of the bindings on arbitrary evidence, keys and nonces.
pub fn evidence(data: &[u8]) {
    use livecheck::evidence::{
        self as ev, Evidence, FeedDigest, Scheme, SignedEvidence, VerifyKey,
    };
    const SCHEMES: [Scheme; 3] = [Scheme::Ed25519, Scheme::HmacSha256, Scheme::Sm2];
    let mut u = Unstructured::new(data);
    let Ok(mode) = u.int_in_range(0u8..=2) else {
        return;
    };
    match mode {
        0 => {
            let payload = String::from_utf8_lossy(u.take_rest());
            if let Ok(e) = Evidence::from_json(&payload) {
                assert_eq!(e.to_json(), payload, "a parsed payload is canonical");
            }
        }
        1 => {
            let Ok((nonce, plan, passed, frames, t, key, scheme, flip)) =
                <(Vec<u8>, String, bool, u16, i64, [u8; 32], u8, u16)>::arbitrary(&mut u)
            else {
                return;
            };
            let mut fed = FeedDigest::default();
            fed.frame(t, 4, 2, "rgb8", &key[..24]);
            let verdict = livecheck::Verdict {
                passed,
                reasons: if passed {
                    vec![]
                } else {
                    vec![livecheck::Reason::RepeatedFrames]
                },
                actions: vec![],
                reading: None,
                frames: frames as usize,
                duration_ms: t,
                best_frame: None,
                evidence: None,
                continuity: None,
                face_match: None,
            };
            let models = [("m.onnx".to_string(), plan.clone())].into();
            let record = Evidence::new(&nonce, &plan, &verdict, &fed, &models);
            let scheme = SCHEMES[scheme as usize % 3];
            let Ok(signed) = ev::sign(&record, scheme, &key) else {
                return; // an SM2 scalar out of range: a typed error
            };
            let public = VerifyKey::from_secret(scheme, &key).expect("the key signed");
            assert_eq!(ev::verify(&signed, &public, &nonce).ok(), Some(record));
            let mut other = nonce.clone();
            other.push(0);
            assert!(
                ev::verify(&signed, &public, &other).is_err(),
                "another nonce"
            );
            let mut bytes = signed.payload.clone().into_bytes();
            let i = flip as usize % bytes.len();
            bytes[i] ^= 0x20;
            if let Ok(payload) = String::from_utf8(bytes) {
                let tampered = SignedEvidence { payload, ..signed };
                assert!(
                    ev::verify(&tampered, &public, &nonce).is_err(),
                    "a changed byte"
                );
            }
        }
        _ => {
            let Ok((scheme, payload, signature, key, secret, nonce)) =
                <(u8, String, String, Vec<u8>, bool, Vec<u8>)>::arbitrary(&mut u)
            else {
                return;
            };
            let signed = SignedEvidence {
                scheme: SCHEMES[scheme as usize % 3],
                payload,
                signature,
            };
            check_ffi(livecheck_ffi::verify_evidence(signed, key, secret, nonce));
            check_ffi(livecheck_ffi::seed_from_nonce(data));
        }
    }
}

/// A finding when the boundary answers with a caught panic or a failed model run.
fn check_ffi<T>(r: Result<T, LivenessError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e @ (LivenessError::Internal(_) | LivenessError::Processing(_))) => {
            panic!("livecheck-ffi answered {e:?}")
        }
        Err(_) => None,
    }
}

/// The repository root (models and `../shared` are found from it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The models directory: `$LIVECHECK_MODELS`, else `models/` in the repository.
fn models_dir() -> PathBuf {
    std::env::var("LIVECHECK_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("models"))
}

/// The engine with every model (loaded once per process), or `None` when the models were
/// never provisioned (`cargo xtask models`).
fn engine() -> Option<&'static Arc<LivenessEngine>> {
    static ENGINE: OnceLock<Option<Arc<LivenessEngine>>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            LivenessEngine::from_dir(models_dir().to_string_lossy().into_owned())
                .map_err(|e| eprintln!("livecheck-fuzz: no engine, the session target idles: {e}"))
                .ok()
        })
        .as_ref()
}

/// Whether the [`session`] target runs the models (they are provisioned) and has a real face
/// to show them.
pub fn session_ready() -> bool {
    engine().is_some() && face().is_some()
}

/// A real face to frame (RGB, width, height): `$LIVECHECK_FUZZ_FACE`, else the astronaut of
/// `../shared/data/skimage`; `None` when neither exists (frames are then noise only).
fn face() -> Option<&'static (Vec<u8>, u32, u32)> {
    static FACE: OnceLock<Option<(Vec<u8>, u32, u32)>> = OnceLock::new();
    FACE.get_or_init(|| {
        let path = std::env::var("LIVECHECK_FUZZ_FACE")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root().join("../shared/data/skimage/astronaut.png"));
        let img = image::open(path).ok()?.to_rgb8();
        let (w, h) = img.dimensions();
        Some((img.into_raw(), w, h))
    })
    .as_ref()
}

/// What a pushed frame shows.
#[derive(Debug, Arbitrary)]
enum Picture {
    /// The real face, scaled by `1 + zoom / 64` and shifted; some pixels overwritten.
    Face {
        zoom: u8,
        dx: i8,
        dy: i8,
        scratches: Vec<(u16, u8)>,
    },
    /// One grey level.
    Flat(u8),
    /// Bytes from the input.
    Noise,
}

/// One call on a session.
#[derive(Debug, Arbitrary)]
enum SessionCall {
    Frame {
        picture: Picture,
        width: u16,
        height: u16,
        format: u8,
        /// 0: packed; else this many padding bytes per row (or a wild stride when > 200).
        padding: u8,
        rotation: u8,
        mirrored: bool,
        /// Small steps keep the timestamps increasing; `Some` jumps anywhere.
        step_ms: u8,
        jump: Option<i64>,
    },
    Audio {
        samples: Vec<f32>,
        rate: u32,
        step_ms: u8,
    },
    /// A tone burst at a common rate (the voice detector may hear it as speech).
    Tone {
        ms: u8,
        hz: u16,
        rate_index: u8,
    },
    AudioI16 {
        samples: Vec<i16>,
        rate: u32,
        t_ms: i64,
    },
    State,
    Finish,
}

/// `picture` as a `width` x `height` RGB image.
fn render(picture: &Picture, width: usize, height: usize, u: &mut Unstructured) -> Vec<u8> {
    let mut rgb = vec![0u8; width * height * 3];
    match picture {
        Picture::Flat(v) => rgb.fill(*v),
        Picture::Noise => {
            let seed = u.bytes(u.len().min(256)).unwrap_or(&[]);
            for (i, p) in rgb.iter_mut().enumerate() {
                *p = seed.get(i % seed.len().max(1)).copied().unwrap_or(0) ^ (i as u8);
            }
        }
        Picture::Face {
            zoom,
            dx,
            dy,
            scratches,
        } => {
            let Some((img, iw, ih)) = face() else {
                return rgb;
            };
            let (iw, ih) = (*iw as usize, *ih as usize);
            // The image's face sits in its upper middle: frame that part, zoomed.
            let scale = (iw.min(ih) as f32 / 1.6)
                / (width.max(height) as f32)
                / (1.0 + *zoom as f32 / 64.0);
            let (cx, cy) = (
                iw as f32 * 0.45 + *dx as f32 * 2.0,
                ih as f32 * 0.3 + *dy as f32 * 2.0,
            );
            for y in 0..height {
                for x in 0..width {
                    let sx = cx + (x as f32 - width as f32 / 2.0) * scale;
                    let sy = cy + (y as f32 - height as f32 / 2.0) * scale;
                    let (sx, sy) = (
                        (sx.max(0.0) as usize).min(iw - 1),
                        (sy.max(0.0) as usize).min(ih - 1),
                    );
                    let (s, d) = ((sy * iw + sx) * 3, (y * width + x) * 3);
                    rgb[d..d + 3].copy_from_slice(&img[s..s + 3]);
                }
            }
            for &(at, v) in scratches {
                if let Some(p) = rgb.get_mut(at as usize * 7) {
                    *p = v;
                }
            }
        }
    }
    rgb
}

/// `rgb` in `format`, rows padded to `stride` bytes (0: packed).
fn encode(rgb: &[u8], w: usize, h: usize, format: PixelFormat, padding: usize) -> Vec<u8> {
    let px = |x: usize, y: usize| {
        let i = (y * w + x) * 3;
        (rgb[i] as f32, rgb[i + 1] as f32, rgb[i + 2] as f32)
    };
    let luma = |(r, g, b): (f32, f32, f32)| (0.299 * r + 0.587 * g + 0.114 * b) as u8;
    let chroma = |(r, g, b): (f32, f32, f32)| {
        let y = 0.299 * r + 0.587 * g + 0.114 * b;
        (
            (128.0 + 0.564 * (b - y)).clamp(0.0, 255.0) as u8,
            (128.0 + 0.713 * (r - y)).clamp(0.0, 255.0) as u8,
        )
    };
    let bpp = format.bytes_per_pixel();
    let stride = w * bpp + padding;
    let mut out = vec![0u8; stride * h];
    for y in 0..h {
        for x in 0..w {
            let p = px(x, y);
            let o = y * stride + x * bpp;
            match format {
                PixelFormat::Rgba8 => {
                    out[o..o + 4].copy_from_slice(&[p.0 as u8, p.1 as u8, p.2 as u8, 255])
                }
                PixelFormat::Bgra8 => {
                    out[o..o + 4].copy_from_slice(&[p.2 as u8, p.1 as u8, p.0 as u8, 255])
                }
                PixelFormat::Rgb8 => {
                    out[o..o + 3].copy_from_slice(&[p.0 as u8, p.1 as u8, p.2 as u8])
                }
                _ => out[o] = luma(p),
            }
        }
    }
    if format.is_yuv420() {
        let (cw, ch) = (w / 2, h / 2);
        let mut u_plane = Vec::with_capacity(cw * ch);
        let mut v_plane = Vec::with_capacity(cw * ch);
        for y in 0..ch {
            for x in 0..cw {
                let (u, v) = chroma(px(2 * x, 2 * y));
                u_plane.push(u);
                v_plane.push(v);
            }
        }
        match format {
            PixelFormat::I420 => {
                let cs = stride / 2;
                for plane in [&u_plane, &v_plane] {
                    for row in plane.chunks(cw.max(1)) {
                        let mut r = row.to_vec();
                        r.resize(cs, 0);
                        out.extend(r);
                    }
                }
            }
            _ => {
                let vu = format == PixelFormat::Nv21;
                for y in 0..ch {
                    let mut r = vec![0u8; stride];
                    for x in 0..cw {
                        let (a, b) = (u_plane[y * cw + x], v_plane[y * cw + x]);
                        let (first, second) = if vu { (b, a) } else { (a, b) };
                        r[2 * x] = first;
                        r[2 * x + 1] = second;
                    }
                    out.extend(r);
                }
            }
        }
    }
    out
}

/// Whole attempts through the uniffi layer with the real models: arbitrary options, then any
/// sequence of calls. Does nothing when the models are not provisioned.
pub fn session(data: &[u8]) {
    let Some(engine) = engine() else {
        return;
    };
    let mut u = Unstructured::new(data);
    let _ = session_inner(engine, &mut u);
}

fn session_inner(engine: &LivenessEngine, u: &mut Unstructured) -> arbitrary::Result<()> {
    use livecheck::evidence::Scheme;
    use livecheck::{ActionKind, Language};
    let actions = (0..u.int_in_range(0u8..=5)?)
        .map(|_| u.choose(&ActionKind::ALL).copied())
        .collect::<arbitrary::Result<Vec<_>>>()?;
    let options = SessionOptions {
        actions,
        seed: u.arbitrary()?,
        action_timeout_ms: u.arbitrary::<Option<i16>>()?.map(|v| i64::from(v) * 50),
        digits_language: match u.int_in_range(0u8..=4)? {
            0 => Some(Language::Mandarin),
            1 => Some(Language::English),
            2 => Some(Language::Auto),
            _ => None,
        },
        expected_digits: u.arbitrary()?,
        evidence_nonce: u.arbitrary()?,
        evidence_key: u.arbitrary()?,
        evidence_scheme: u
            .arbitrary::<Option<u8>>()?
            .map(|s| [Scheme::Ed25519, Scheme::HmacSha256, Scheme::Sm2][s as usize % 3]),
        reference_photo: if u.ratio(1u8, 8)? {
            Some(u.arbitrary()?)
        } else {
            None
        },
    };
    let Some(session) = check_ffi(engine.new_session(options)) else {
        return Ok(());
    };
    let mut t = 0i64;
    let mut frames = 0;
    while !u.is_empty() && frames < 120 {
        match u.arbitrary::<SessionCall>()? {
            SessionCall::Frame {
                picture,
                width,
                height,
                format,
                padding,
                rotation,
                mirrored,
                step_ms,
                jump,
            } => {
                frames += 1;
                let (w, h) = (width as usize % 321, height as usize % 321);
                let format = FORMATS[format as usize % FORMATS.len()];
                let rgb = render(&picture, w, h, u);
                let pad = if padding > 200 { 0 } else { padding as usize };
                let bytes = encode(&rgb, w, h, format, pad);
                let stride = match padding {
                    0 => 0,
                    p if p > 200 => u.arbitrary()?,
                    _ => (w * format.bytes_per_pixel() + pad) as u32,
                };
                t = jump.unwrap_or(t.saturating_add(i64::from(step_ms)));
                let degrees = [0, 90, 180, 270, 1][rotation as usize % 5];
                check_ffi(session.push_frame(
                    &bytes, w as u32, h as u32, stride, format, degrees, mirrored, t,
                ));
            }
            SessionCall::Audio {
                samples,
                rate,
                step_ms,
            } => {
                t = t.saturating_add(i64::from(step_ms));
                check_ffi(session.push_audio(samples, rate, t));
            }
            SessionCall::Tone { ms, hz, rate_index } => {
                let rate = RATES[rate_index as usize % RATES.len()];
                let n = rate as usize * ms as usize / 1000 * 4;
                let w = 2.0 * std::f32::consts::PI * f32::from(hz % 4000) / rate as f32;
                let samples = (0..n).map(|i| 0.3 * (w * i as f32).sin()).collect();
                check_ffi(session.push_audio(samples, rate, t));
                t = t.saturating_add(4 * i64::from(ms));
            }
            SessionCall::AudioI16 {
                samples,
                rate,
                t_ms,
            } => {
                check_ffi(session.push_audio_i16(samples, rate, t_ms));
            }
            SessionCall::State => {
                check_ffi(session.phase());
                check_ffi(session.challenge());
                check_ffi(session.digits());
                check_ffi(session.is_finished());
            }
            SessionCall::Finish => {
                check_ffi(session.finish());
            }
        }
    }
    check_ffi(session.finish());
    Ok(())
}
