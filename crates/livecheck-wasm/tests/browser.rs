//! The bindings' error mapping and conversions, in a real browser (headless Chromium through
//! `wasm-bindgen-test-runner`; `cargo xtask web --test` runs them). The engine loads the real
//! action models (compiled in from `models/`, provisioned by `cargo xtask models`).
#![cfg(target_arch = "wasm32")]

use js_sys::{Object, Reflect, Uint8Array, Uint8ClampedArray};
use livecheck_wasm::{seed_from_nonce, Engine, Session};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const DETECTOR: &[u8] = include_bytes!("../../../models/face_detection_short_range.onnx");
const MESH: &[u8] = include_bytes!("../../../models/face_landmark.onnx");
const IRIS: &[u8] = include_bytes!("../../../models/iris_landmark.onnx");

fn set(object: &JsValue, key: &str, value: &JsValue) {
    Reflect::set(object, &key.into(), value).unwrap();
}

fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &key.into()).unwrap()
}

fn models() -> JsValue {
    let m: JsValue = Object::new().into();
    set(&m, "detector", &Uint8Array::from(DETECTOR).into());
    set(&m, "mesh", &Uint8Array::from(MESH).into());
    set(&m, "iris", &Uint8Array::from(IRIS).into());
    m
}

thread_local! {
    static ENGINE: Engine = Engine::from_bytes(&models()).expect("the action models load");
}

fn session(options: JsValue) -> Result<Session, JsValue> {
    ENGINE.with(|e| e.new_session(options))
}

/// The error's `code`, after checking it is a JS `Error` named `LivenessError`.
fn code(e: JsValue) -> String {
    assert!(e.is_instance_of::<js_sys::Error>(), "{e:?}");
    assert_eq!(
        get(&e, "name").as_string().as_deref(),
        Some("LivenessError")
    );
    get(&e, "code").as_string().expect("a code")
}

fn message(e: &JsValue) -> String {
    get(e, "message").as_string().unwrap_or_default()
}

fn gray(width: u32, height: u32) -> Uint8Array {
    Uint8Array::from(vec![128u8; (width * height * 4) as usize].as_slice())
}

#[wasm_bindgen_test]
fn a_frame_gives_feedback_with_the_prompt_texts() {
    let mut s = session(JsValue::UNDEFINED).unwrap();
    let fb = s.push_frame(&gray(64, 48).into(), 64, 48, 0.0).unwrap();
    assert_eq!(get(&fb, "phase").as_string().as_deref(), Some("align"));
    assert_eq!(get(&fb, "done").as_bool(), Some(false));
    assert!(!get(&fb, "prompt_zh").as_string().unwrap().is_empty());
    assert!(get(&fb, "face_box").is_null());
    // A Uint8ClampedArray (ImageData.data) and an ImageData-like object work the same.
    let clamped = Uint8ClampedArray::new(&gray(64, 48).buffer());
    s.push_frame(&clamped.clone().into(), 64, 48, 33.4).unwrap();
    let image: JsValue = Object::new().into();
    set(&image, "data", &clamped.into());
    s.push_frame(&image, 64, 48, 66.6).unwrap();
    let verdict = s.finish().unwrap();
    assert_eq!(get(&verdict, "passed").as_bool(), Some(false));
    assert_eq!(get(&verdict, "frames").as_f64(), Some(3.0));
    // 0 → 33 → 67: fractional ms rounded, never truncated into a repeat.
    assert_eq!(get(&verdict, "duration_ms").as_f64(), Some(67.0));
    assert!(get(&verdict, "best_frame_jpeg").is_null());
}

#[wasm_bindgen_test]
fn bad_frames_are_invalid_frame_errors() {
    let mut s = session(JsValue::UNDEFINED).unwrap();
    let short = Uint8Array::from(&[0u8; 10][..]);
    let e = s.push_frame(&short.into(), 640, 480, 0.0).unwrap_err();
    assert!(message(&e).contains("10 bytes"), "{}", message(&e));
    assert_eq!(code(e), "invalid_frame");
    assert_eq!(
        code(s.push_frame(&gray(4, 4).into(), 0, 4, 1.0).unwrap_err()),
        "invalid_frame"
    );
    let e = s
        .push_frame(&JsValue::from_str("pixels"), 4, 4, 2.0)
        .unwrap_err();
    assert_eq!(code(e), "invalid_frame");
    assert_eq!(
        code(s.push_frame(&JsValue::NULL, 4, 4, 3.0).unwrap_err()),
        "invalid_frame"
    );
    // The session is still usable after the caller's mistakes.
    s.push_frame(&gray(8, 8).into(), 8, 8, 4.0).unwrap();
}

#[wasm_bindgen_test]
fn timestamps_must_increase_and_be_finite() {
    let mut s = session(JsValue::UNDEFINED).unwrap();
    s.push_frame(&gray(8, 8).into(), 8, 8, 100.0).unwrap();
    let e = s.push_frame(&gray(8, 8).into(), 8, 8, 100.2).unwrap_err();
    assert!(message(&e).contains("100 ms"), "{}", message(&e));
    assert_eq!(code(e), "timestamp_not_increasing");
    for bad in [f64::NAN, f64::INFINITY, 1e300, -1e17] {
        let e = s.push_frame(&gray(8, 8).into(), 8, 8, bad).unwrap_err();
        assert_eq!(code(e), "timestamp_out_of_range", "{bad}");
    }
    assert_eq!(
        code(s.push_audio(&[0.0; 160], 16_000, f64::NAN).unwrap_err()),
        "timestamp_out_of_range"
    );
    // The action challenge ignores audio, but not a timestamp that is no number.
    s.push_audio(&[0.0; 160], 16_000, 200.0).unwrap();
}

#[wasm_bindgen_test]
fn a_session_finishes_once() {
    let mut s = session(JsValue::UNDEFINED).unwrap();
    assert!(!s.is_finished());
    s.finish().unwrap();
    assert!(s.is_finished());
    assert_eq!(code(s.finish().unwrap_err()), "session_finished");
    let e = s.push_frame(&gray(8, 8).into(), 8, 8, 1.0).unwrap_err();
    assert_eq!(code(e), "session_finished");
    assert_eq!(code(s.challenge().unwrap_err()), "session_finished");
}

#[wasm_bindgen_test]
fn options_are_checked() {
    let options = |json: &str| js_sys::JSON::parse(json).unwrap();
    let s = session(options(r#"{"actions": ["nod", "blink"], "seed": 7}"#)).unwrap();
    let challenge: Vec<String> = js_sys::Array::from(&s.challenge().unwrap())
        .iter()
        .map(|v| v.as_string().unwrap())
        .collect();
    let mut sorted = challenge.clone();
    sorted.sort();
    assert_eq!(sorted, ["blink", "nod"]);
    // The same seed draws the same order.
    let again = session(options(r#"{"actions": ["nod", "blink"], "seed": 7}"#)).unwrap();
    assert_eq!(js_sys::Array::from(&again.challenge().unwrap()).length(), 2);
    let oval = s.oval().unwrap();
    assert_eq!(get(&oval, "cx").as_f64(), Some(0.5));
    // The digits challenge needs the digits pack, which this engine did not load.
    let e = session(options(
        r#"{"digitsLanguage": "zh", "expectedDigits": "4829"}"#,
    ));
    let e = e.err().expect("no digits pack");
    assert!(message(&e).contains("silero_vad"), "{}", message(&e));
    assert_eq!(code(e), "model");
    for bad in [
        r#"{"actions": ["wink"]}"#,
        r#"{"actoins": ["blink"]}"#,
        r#"{"seed": -1}"#,
        r#"{"digitsLanguage": "klingon"}"#,
        r#"{"actionTimeoutMs": 0}"#,
        r#"{"digitsLanguage": "en", "actions": ["blink"]}"#,
    ] {
        let e = session(options(bad))
            .err()
            .unwrap_or_else(|| panic!("{bad} accepted"));
        assert_eq!(code(e), "invalid_config", "{bad}");
    }
    // Evidence needs both the nonce and the key.
    let o = options("{}");
    set(&o, "evidenceNonce", &Uint8Array::from(&b"nonce"[..]).into());
    assert_eq!(code(session(o).err().unwrap()), "invalid_config");
}

#[wasm_bindgen_test]
fn signed_evidence_comes_with_the_verdict() {
    let o: JsValue = Object::new().into();
    set(
        &o,
        "evidenceNonce",
        &Uint8Array::from(&b"server nonce"[..]).into(),
    );
    set(&o, "evidenceKey", &Uint8Array::from(&[7u8; 32][..]).into());
    let mut s = session(o).unwrap();
    s.push_frame(&gray(8, 8).into(), 8, 8, 0.0).unwrap();
    let evidence = get(&s.finish().unwrap(), "evidence");
    assert_eq!(
        get(&evidence, "scheme").as_string().as_deref(),
        Some("ed25519")
    );
    assert!(get(&evidence, "payload")
        .as_string()
        .unwrap()
        .contains("\"frames\":1"));
}

#[wasm_bindgen_test]
fn bad_models_are_model_errors() {
    let m = models();
    set(&m, "mesh", &JsValue::UNDEFINED);
    let e = Engine::from_bytes(&m).err().expect("mesh missing");
    assert!(message(&e).contains("mesh"));
    assert_eq!(code(e), "model");
    let m = models();
    set(&m, "iris", &Uint8Array::from(&b"not onnx"[..]).into());
    assert_eq!(code(Engine::from_bytes(&m).err().unwrap()), "model");
    let m = models();
    set(&m, "detector", &JsValue::from_f64(3.0));
    assert_eq!(code(Engine::from_bytes(&m).err().unwrap()), "model");
}

#[wasm_bindgen_test]
fn the_seed_of_a_nonce_is_the_core_s_and_draws_the_core_s_challenge() {
    let seed = seed_from_nonce(b"abc");
    assert_eq!(seed, livecheck::challenge::seed_from_nonce(b"abc"));
    // The BigInt seedFromNonce returns is accepted as the seed, all 64 bits of it.
    let o: JsValue = Object::new().into();
    set(&o, "seed", &js_sys::BigInt::from(seed).into());
    let s = session(o).unwrap();
    let native = livecheck::SessionConfig::action();
    let drawn = livecheck::challenge::plan_actions(&native.actions, native.count, seed).unwrap();
    let got: Vec<String> = js_sys::Array::from(&s.challenge().unwrap())
        .iter()
        .map(|v| v.as_string().unwrap())
        .collect();
    let drawn: Vec<&str> = drawn.iter().map(|k| k.code()).collect();
    assert_eq!(got, drawn);
}
