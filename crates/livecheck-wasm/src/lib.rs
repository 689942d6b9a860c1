//! # livecheck-wasm
//!
//! [`livecheck`] compiled to WebAssembly for H5 pages and WeChat / Alipay mini-programs: the
//! same engine, sessions and verdicts as the native library, deciding inside the browser with
//! no video leaving the phone. Like `livecheck-ffi`, the crate holds no logic: it converts
//! JavaScript values to the core's types and back (the verdict and feedback are the core's
//! [`livecheck::report`] JSON shapes as plain objects) and turns every core error into a JS
//! `Error` whose `code` is the core's [`livecheck::error::ErrorClass`] code.
//!
//! ```text
//! const engine = Engine.fromBytes({ detector, mesh, iris });   // Uint8Arrays the page fetched
//! const session = engine.newSession({ actions: ["blink"], seed: 7 });
//! for each camera frame:
//!     const fb = session.pushFrame(imageData, width, height, tMs);  // RGBA
//!     show(fb.prompt_zh, fb.face_box, fb.progress); if (fb.done) break;
//! const verdict = session.finish();                             // { passed, reasons, … }
//! ```
//!
//! Built by `cargo xtask web` (pinned wasm-bindgen CLI, SIMD128); the page in `examples/web`
//! drives it from a Web Worker.

#![warn(missing_docs)]

mod convert;

use livecheck::{FrameRef, ModelSet, PixelFormat};
use wasm_bindgen::prelude::*;

use convert::{bytes_field, error, finished, js_error, json_to_js, timestamp, Options};

/// The loaded models. Create once per page (loading optimises every model) and start any
/// number of sessions from it.
#[wasm_bindgen]
pub struct Engine {
    engine: livecheck::Engine,
}

#[wasm_bindgen]
impl Engine {
    /// Loads the models from their ONNX bytes: `models` is an object of `Uint8Array`s,
    /// `{ detector, mesh, iris }` for the action challenge, plus `vad` and
    /// `digits: { encoder, head, decoder }` for the digits challenge and `embedder` for the
    /// identity checks (file names in the `models/manifest.json` that `cargo xtask web` writes).
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(models: &JsValue) -> Result<Engine, JsValue> {
        let required = |name| {
            bytes_field(models, name)?.ok_or_else(|| {
                js_error(
                    "model",
                    &format!("models.{name} is missing (a Uint8Array of the ONNX file)"),
                )
            })
        };
        let digits = match js_sys::Reflect::get(models, &"digits".into()) {
            Ok(d) if !d.is_undefined() && !d.is_null() => {
                let part = |name| {
                    bytes_field(&d, name)?.ok_or_else(|| {
                        js_error("model", &format!("models.digits.{name} is missing"))
                    })
                };
                Some(livecheck::audio::DigitModelBytes {
                    encoder: part("encoder")?,
                    head: part("head")?,
                    decoder: part("decoder")?,
                })
            }
            _ => None,
        };
        let set = ModelSet {
            detector: required("detector")?,
            mesh: required("mesh")?,
            iris: required("iris")?,
            vad: bytes_field(models, "vad")?,
            digits,
            embedder: bytes_field(models, "embedder")?,
        };
        let engine = livecheck::Engine::load(&set).map_err(error)?;
        Ok(Engine { engine })
    }

    /// Starts one attempt. `options` (every field optional): `actions` (codes such as
    /// `["blink", "nod"]`, all asked in an order drawn from `seed`), `seed` (number or BigInt;
    /// derive it from the server's nonce with `seedFromNonce`), `actionTimeoutMs`,
    /// `digitsLanguage` (`"zh"`, `"en"` or `"auto"`: the digits challenge instead of
    /// actions), `expectedDigits`, `evidenceNonce` + `evidenceKey` (`Uint8Array`s) and
    /// `evidenceScheme` (`"ed25519"`, `"hmac-sha256"`, `"sm2"`) for signed evidence,
    /// `referencePhoto` (JPEG/PNG bytes) for a 1:1 match. Unknown fields are an error.
    #[wasm_bindgen(js_name = newSession)]
    pub fn new_session(&self, options: JsValue) -> Result<Session, JsValue> {
        let options = Options::from_js(options)?;
        let mut config = options.to_config()?;
        if let Some(photo) = &options.reference_photo {
            config = config.with_reference(self.engine.enrol_image(photo).map_err(error)?);
        }
        let oval = config.analyzer.quality.oval;
        let session = self.engine.session(config).map_err(error)?;
        Ok(Session {
            session: Some(session),
            pixels: Vec::new(),
            oval,
        })
    }
}

/// One liveness attempt: push camera frames in time order, show each feedback's prompt, then
/// call [`finish`](Session::finish) once for the verdict.
#[wasm_bindgen]
pub struct Session {
    /// `None` once finished.
    session: Option<livecheck::Session>,
    /// The last frame's pixels, copied out of JavaScript memory (reused frame to frame).
    pixels: Vec<u8>,
    /// The oval the face must fill, to draw it where the engine checks it.
    oval: livecheck::Oval,
}

impl Session {
    fn live(&mut self) -> Result<&mut livecheck::Session, JsValue> {
        self.session.as_mut().ok_or_else(finished)
    }
}

#[wasm_bindgen]
impl Session {
    /// The challenge: the action codes to ask for, in order (an array of strings), or the
    /// digits to show and have read aloud (a string).
    pub fn challenge(&self) -> Result<JsValue, JsValue> {
        let session = self.session.as_ref().ok_or_else(finished)?;
        json_to_js(&livecheck::report::challenge_json(session))
    }

    /// The on-screen oval the face must fill: `{ cx, cy, height, aspect }` (centre as fractions
    /// of the frame's width and height, height as a fraction of its shorter side, width over
    /// height). Draw it over the preview; the quality checks measure the face against it.
    pub fn oval(&self) -> Result<JsValue, JsValue> {
        let o = self.oval;
        json_to_js(&serde_json::json!({
            "cx": o.cx, "cy": o.cy, "height": o.height, "aspect": o.aspect,
        }))
    }

    /// Processes one camera frame: `rgba` is an `ImageData`, or a `Uint8Array` /
    /// `Uint8ClampedArray` of `width`×`height` RGBA pixels (canvas `getImageData` order,
    /// upright, as the camera sees: do not mirror it); `tMs` is the capture time in ms
    /// (fractions are rounded to the ms) and must increase. Returns the feedback object
    /// (`phase`, `done`, `prompt` code, `prompt_zh`, `prompt_en`, `face_box`, `in_oval`,
    /// `oval_offset`, `progress`, `t_ms`).
    #[wasm_bindgen(js_name = pushFrame)]
    pub fn push_frame(
        &mut self,
        rgba: &JsValue,
        width: u32,
        height: u32,
        t_ms: f64,
    ) -> Result<JsValue, JsValue> {
        let t = timestamp(t_ms)?;
        convert::copy_pixels(rgba, &mut self.pixels)?;
        let frame =
            FrameRef::packed(&self.pixels, width, height, PixelFormat::Rgba8).map_err(error)?;
        let session = self.session.as_mut().ok_or_else(finished)?;
        let feedback = session.push_frame(&frame, t).map_err(error)?;
        json_to_js(&livecheck::report::feedback_json(&feedback))
    }

    /// Takes microphone audio (the digits challenge; the action challenge ignores it): mono
    /// samples in [-1, 1] at `sampleRate` Hz, the first captured at `tMs` on the frames' clock.
    #[wasm_bindgen(js_name = pushAudio)]
    pub fn push_audio(&mut self, pcm: &[f32], sample_rate: u32, t_ms: f64) -> Result<(), JsValue> {
        let t = timestamp(t_ms)?;
        self.live()?.push_audio(pcm, sample_rate, t).map_err(error)
    }

    /// Ends the attempt and returns the verdict object (the shape `livecheck check --json`
    /// prints, plus `best_frame_jpeg`: the best frame as JPEG bytes, or null). Once only.
    pub fn finish(&mut self) -> Result<JsValue, JsValue> {
        let session = self.session.take().ok_or_else(finished)?;
        let challenge = livecheck::report::challenge_json(&session);
        let verdict = session.finish().map_err(error)?;
        let object = json_to_js(&livecheck::report::verdict_json(&verdict, challenge))?;
        let jpeg: JsValue = match &verdict.best_frame {
            Some(best) => js_sys::Uint8Array::from(best.jpeg.as_slice()).into(),
            None => JsValue::NULL,
        };
        js_sys::Reflect::set(&object, &"best_frame_jpeg".into(), &jpeg)?;
        Ok(object)
    }

    /// Whether [`finish`](Session::finish) was called.
    #[wasm_bindgen(js_name = isFinished)]
    pub fn is_finished(&self) -> bool {
        self.session.is_none()
    }
}

/// The challenge seed for a server nonce (same nonce, same challenge), as a BigInt.
#[wasm_bindgen(js_name = seedFromNonce)]
pub fn seed_from_nonce(nonce: &[u8]) -> u64 {
    livecheck::challenge::seed_from_nonce(nonce)
}

/// The version of the livecheck library inside this build.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Reports a Rust panic (a bug: bad input is a typed error) on the browser console before the
/// instance traps, instead of an opaque `unreachable`.
#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| {
        web_console_error(&format!("livecheck internal error (please report): {info}"));
    }));
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn web_console_error(message: &str);
}
