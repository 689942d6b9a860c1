//! JavaScript values to the core's types and back: errors, timestamps, pixel and model bytes,
//! session options, JSON objects.

use js_sys::{ArrayBuffer, Reflect, Uint8Array, Uint8ClampedArray};
use livecheck::{ActionKind, Language, SessionConfig};
use serde::Deserialize;
use serde_bytes::ByteBuf;
use wasm_bindgen::{JsCast, JsValue};

/// A JS `Error` named `LivenessError` with `code` (an [`livecheck::error::ErrorClass`] code,
/// or `session_finished`) and `message`.
pub fn js_error(code: &str, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name("LivenessError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&e, &"code".into(), &code.into());
    e.into()
}

/// The core's error as a JS error carrying its class's code and message.
pub fn error(e: livecheck::Error) -> JsValue {
    js_error(e.class().code(), &e.to_string())
}

/// The error of any call on a finished session.
pub fn finished() -> JsValue {
    js_error(
        "session_finished",
        "the session is finished; start a new one",
    )
}

/// A JS time in ms (a double) as the core's integer ms: rounded to the nearest ms; NaN and
/// infinities, and magnitudes beyond 2^53, are `timestamp_out_of_range`.
pub fn timestamp(t_ms: f64) -> Result<i64, JsValue> {
    if !t_ms.is_finite() {
        return Err(js_error(
            "timestamp_out_of_range",
            &format!("timestamp {t_ms} ms is not a finite number"),
        ));
    }
    // `as` saturates beyond i64; the range check then rejects it with the core's message.
    let t = t_ms.round() as i64;
    livecheck::error::check_timestamp(t).map_err(error)?;
    Ok(t)
}

/// `value` as a byte view: a `Uint8Array`, `Uint8ClampedArray` or `ArrayBuffer`; `None` for
/// anything else.
fn byte_view(value: &JsValue) -> Option<Uint8Array> {
    if let Some(a) = value.dyn_ref::<Uint8Array>() {
        Some(a.clone())
    } else if let Some(c) = value.dyn_ref::<Uint8ClampedArray>() {
        Some(Uint8Array::new_with_byte_offset_and_length(
            &c.buffer(),
            c.byte_offset(),
            c.length(),
        ))
    } else {
        value.dyn_ref::<ArrayBuffer>().map(|b| Uint8Array::new(b))
    }
}

/// Copies a frame's pixels (an `ImageData`, or a byte array) into `out`, reusing its memory.
pub fn copy_pixels(value: &JsValue, out: &mut Vec<u8>) -> Result<(), JsValue> {
    let view = byte_view(value).or_else(|| {
        // ImageData (or any object with a `data` byte array).
        Reflect::get(value, &"data".into())
            .ok()
            .and_then(|d| byte_view(&d))
    });
    let view = view.ok_or_else(|| {
        js_error(
            "invalid_frame",
            "the frame must be an ImageData, a Uint8Array or a Uint8ClampedArray of RGBA pixels",
        )
    })?;
    out.resize(view.length() as usize, 0);
    view.copy_to(out);
    Ok(())
}

/// `object[name]` as bytes (`Uint8Array` or `ArrayBuffer`); `None` when absent or null.
pub fn bytes_field(object: &JsValue, name: &str) -> Result<Option<Vec<u8>>, JsValue> {
    let value = Reflect::get(object, &name.into())
        .map_err(|_| js_error("model", "the models argument must be an object"))?;
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    byte_view(&value).map(|v| Some(v.to_vec())).ok_or_else(|| {
        js_error(
            "model",
            &format!("{name} must be a Uint8Array or an ArrayBuffer of the ONNX file"),
        )
    })
}

/// A JSON value as the equivalent plain JS value (objects, arrays, numbers, strings, null).
pub fn json_to_js(value: &serde_json::Value) -> Result<JsValue, JsValue> {
    use serde::Serialize;
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| js_error("other", &e.to_string()))
}

/// The options object of `Engine.newSession`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Options {
    #[serde(default)]
    actions: Vec<String>,
    #[serde(default)]
    seed: u64,
    action_timeout_ms: Option<i64>,
    digits_language: Option<String>,
    expected_digits: Option<String>,
    evidence_nonce: Option<ByteBuf>,
    evidence_key: Option<ByteBuf>,
    evidence_scheme: Option<String>,
    /// The registered photo for the 1:1 match (JPEG, PNG or PNM bytes).
    pub reference_photo: Option<ByteBuf>,
}

fn config_error(message: String) -> JsValue {
    js_error("invalid_config", &message)
}

impl Options {
    /// The option names JavaScript passes (the fields, in camelCase).
    const FIELDS: [&'static str; 9] = [
        "actions",
        "seed",
        "actionTimeoutMs",
        "digitsLanguage",
        "expectedDigits",
        "evidenceNonce",
        "evidenceKey",
        "evidenceScheme",
        "referencePhoto",
    ];

    /// Reads `value` (undefined or null: every default).
    pub fn from_js(value: JsValue) -> Result<Options, JsValue> {
        if value.is_undefined() || value.is_null() {
            return Ok(Options::default());
        }
        // serde-wasm-bindgen reads only the fields it knows: a misspelt option would be
        // silently ignored, so the keys are checked first.
        let object = value
            .dyn_ref::<js_sys::Object>()
            .ok_or_else(|| config_error("session options must be an object".into()))?;
        for key in js_sys::Object::keys(object).iter() {
            let key = key.as_string().unwrap_or_default();
            if !Options::FIELDS.contains(&key.as_str()) {
                return Err(config_error(format!(
                    "unknown session option {key:?} (known: {})",
                    Options::FIELDS.join(", ")
                )));
            }
        }
        serde_wasm_bindgen::from_value(value)
            .map_err(|e| config_error(format!("session options: {e}")))
    }

    /// The core configuration these options describe; unknown codes and a nonce without a key
    /// (or a key without a nonce) are `invalid_config`.
    pub fn to_config(&self) -> Result<SessionConfig, JsValue> {
        let mut config = match &self.digits_language {
            Some(code) => SessionConfig::digits(Language::parse(code).ok_or_else(|| {
                config_error(format!("unknown digitsLanguage {code:?} (zh, en, auto)"))
            })?),
            None => SessionConfig::action(),
        }
        .with_seed(self.seed);
        if let Some(digits) = &self.expected_digits {
            config = config.with_digits(digits);
        }
        if !self.actions.is_empty() {
            if config.digits.is_some() {
                return Err(config_error(
                    "actions and the digits challenge exclude each other".into(),
                ));
            }
            let kinds = self
                .actions
                .iter()
                .map(|a| {
                    ActionKind::parse(a).ok_or_else(|| {
                        config_error(format!("unknown action {a:?} (blink, nod, shake, mouth)"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            config = config.with_actions(&kinds);
        }
        if let Some(ms) = self.action_timeout_ms {
            config.action_timeout_ms = ms;
        }
        match (&self.evidence_nonce, &self.evidence_key) {
            (Some(nonce), Some(key)) => {
                let scheme = match &self.evidence_scheme {
                    Some(code) => livecheck::evidence::Scheme::parse(code).ok_or_else(|| {
                        config_error(format!(
                            "unknown evidenceScheme {code:?} (ed25519, hmac-sha256, sm2)"
                        ))
                    })?,
                    None => livecheck::evidence::Scheme::Ed25519,
                };
                config = config.with_evidence(nonce, scheme, key);
            }
            (None, None) => {}
            _ => {
                return Err(config_error(
                    "evidenceNonce and evidenceKey go together".into(),
                ))
            }
        }
        Ok(config)
    }
}
