//! The action SDK: livecheck built without the `speech` feature (no tract) still runs a whole
//! action session on a real clip, and refuses the speech models it cannot run with a typed
//! error. Run by `cargo xtask test` as
//! `cargo test -p livecheck --no-default-features --test action_sdk`.
#![cfg(not(feature = "speech"))]

mod common;

use livecheck::{ActionKind, Engine, Error, ModelSet, SessionConfig};

#[test]
fn a_live_blink_passes_without_the_speech_runtime() {
    let (Some(dir), Some(frames)) = (
        common::models_dir(),
        common::frames("focus_blink/h264/mahie_test_1.mp4"),
    ) else {
        return;
    };
    let models = ModelSet::from_dir(&dir).unwrap();
    assert!(
        models.vad.is_none() && models.digits.is_none(),
        "the speech files are not read"
    );
    let engine = Engine::load(&models).unwrap();
    let verdict = engine
        .session(SessionConfig::action().with_actions(&[ActionKind::Blink]))
        .unwrap()
        .run(common::timeline(frames, 0).into_iter().map(Ok::<_, String>))
        .unwrap();
    assert!(verdict.passed, "{verdict:?}");
}

#[test]
fn speech_models_given_as_bytes_are_refused() {
    let Some(dir) = common::models_dir() else {
        return;
    };
    let mut models = ModelSet::from_dir(&dir).unwrap();
    models.vad = Some(std::fs::read(dir.join(livecheck::models::files::VAD)).unwrap());
    let e = Engine::load(&models).unwrap_err();
    assert!(
        matches!(e, Error::BadModel { .. }) && e.to_string().contains("speech"),
        "{e}"
    );
}
