//! The digit recogniser runs in tract and matches the trainer's ONNX Runtime outputs stored in
//! `models/digits/reference`: the project's CTC head (`models/digits.onnx`, committed) on the
//! stored embeddings, and the whole chain (openWakeWord log-mel → Google speech embedding →
//! head) from the stored raw audio.

mod common;

use std::path::PathBuf;

use livecheck::audio::digits::{self, DigitModel, CLASSES, STEPS};
use livecheck::models::Model;

fn read_f32(path: &PathBuf) -> Vec<f32> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn steps(flat: &[f32]) -> Vec<[f32; CLASSES]> {
    flat.chunks_exact(CLASSES)
        .map(|c| std::array::from_fn(|k| c[k]))
        .collect()
}

fn text(steps: &[[f32; CLASSES]]) -> String {
    digits::decode(steps, 0.0)
        .iter()
        .map(|d| char::from(b'0' + d.digit))
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

const CASES: [&str; 2] = ["digits_en_synthetic", "digits_cmn_synthetic_noisy"];

fn refdir() -> PathBuf {
    common::root().join("models/digits/reference")
}

#[test]
fn the_head_matches_the_reference_outputs() {
    let bytes = std::fs::read(common::root().join("models/digits.onnx"))
        .expect("models/digits.onnx is committed");
    let head = Model::load("digits", &bytes, &[&[1, STEPS, 96]], &[STEPS * CLASSES]).unwrap();
    let index = std::fs::read_to_string(refdir().join("reference.json")).unwrap();
    for name in CASES {
        assert!(index.contains(name), "{name} listed in reference.json");
        let input = read_f32(&refdir().join(format!("{name}.input.f32")));
        let expected = read_f32(&refdir().join(format!("{name}.output.f32")));
        let out = head.run(&[&input]).unwrap().remove(0);
        let diff = max_diff(&out, &expected);
        eprintln!(
            "{name}: head max |tract - ORT| = {diff:.2e}, decoded {}",
            text(&steps(&out))
        );
        assert!(diff <= 1e-3, "{name}: {diff}");
        assert_eq!(text(&steps(&out)), text(&steps(&expected)), "{name}");
    }
}

#[test]
fn the_whole_chain_from_audio_matches_the_reference() {
    let Some(dir) = common::models_dir() else {
        return;
    };
    let bytes = livecheck::ModelSet::from_dir(dir)
        .unwrap()
        .digits
        .expect("the digit models are provisioned");
    let model = DigitModel::load(&bytes).unwrap();
    for name in CASES {
        let audio = read_f32(&refdir().join(format!("{name}.audio.f32")));
        let expected = read_f32(&refdir().join(format!("{name}.output.f32")));
        let got: Vec<f32> = model.log_probs(&audio).unwrap().concat();
        let diff = max_diff(&got, &expected);
        eprintln!("{name}: audio -> log-probs max |tract - ORT| = {diff:.2e}");
        assert!(diff <= 1e-3, "{name}: {diff}");
        assert_eq!(text(&steps(&got)), text(&steps(&expected)), "{name}");
    }
    // The English case says 7364 (a TTS voice the model reads as 4364: an honest miss).
    assert_eq!(
        text(&steps(&read_f32(
            &refdir().join("digits_cmn_synthetic_noisy.output.f32")
        ))),
        "3619"
    );
}

#[test]
fn patching_a_reshape_that_is_not_there_is_a_typed_error() {
    let Some(dir) = common::models_dir() else {
        return;
    };
    let bytes = std::fs::read(dir.join(livecheck::models::files::SPEECH_MEL)).unwrap();
    let mut proto = livecheck::models::parse("speech_melspectrogram", &bytes).unwrap();
    let e =
        livecheck::models::patch_int64("speech_melspectrogram", &mut proto, &[-1, 1, 76, 34], &[1])
            .unwrap_err();
    assert!(
        matches!(&e, livecheck::Error::BadModel { reason, .. } if reason.contains("no int64 initializer")),
        "{e}"
    );
}
