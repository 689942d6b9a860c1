//! The project-trained spoken-digit model (`models/digits.onnx`, committed) runs in tract and
//! matches the trainer's ONNX Runtime outputs stored in `models/digits/reference`.

use std::path::PathBuf;

use livecheck::models::Model;

const STEPS: usize = 150;
const CLASSES: usize = 11;

fn read_f32(path: &PathBuf) -> Vec<f32> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Greedy CTC: best class per step, repeats merged, blanks (class 0) dropped.
fn greedy(log_probs: &[f32]) -> String {
    let mut out = String::new();
    let mut prev = 0;
    for step in log_probs.chunks_exact(CLASSES) {
        let best = (0..CLASSES)
            .max_by(|&a, &b| step[a].total_cmp(&step[b]))
            .unwrap_or(0);
        if best != 0 && best != prev {
            out.push(char::from(b'0' + (best - 1) as u8));
        }
        prev = best;
    }
    out
}

#[test]
fn tract_matches_the_reference_outputs() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let bytes = std::fs::read(root.join("digits.onnx")).expect("models/digits.onnx is committed");
    let model = Model::load("digits", &bytes, &[&[1, 96_000]], &[STEPS * CLASSES]).unwrap();
    let refdir = root.join("digits/reference");
    let index = std::fs::read_to_string(refdir.join("reference.json")).unwrap();
    let mut cases = 0;
    for name in ["digits_en_synthetic", "digits_cmn_synthetic_noisy"] {
        assert!(index.contains(name), "{name} listed in reference.json");
        let input = read_f32(&refdir.join(format!("{name}.input.f32")));
        let expected = read_f32(&refdir.join(format!("{name}.output.f32")));
        let out = model.run(&[&input]).unwrap().remove(0);
        let diff = out
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        eprintln!(
            "{name}: max |tract - ORT| = {diff:.2e}, decoded {}",
            greedy(&out)
        );
        assert!(diff <= 1e-3, "{name}: {diff}");
        assert_eq!(greedy(&out), greedy(&expected), "{name}");
        cases += 1;
    }
    assert_eq!(cases, 2);
    assert_eq!(
        greedy(&read_f32(&refdir.join("digits_en_synthetic.output.f32"))),
        "7364"
    );
}
