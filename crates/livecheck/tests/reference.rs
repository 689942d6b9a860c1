//! livecheck's runtimes vs ONNX Runtime: each model's outputs on real inputs (astronaut crops, a
//! Mandarin digit recording) equal the reference tensors stored in `models/reference/` within
//! 1e-3: the face models through livecheck's own runtime (`Net`), the VAD through tract.
//! Regenerate the references with `cargo xtask reference` (see models/reference/README.md).

mod common;

use livecheck::models::{Model, Net};
use serde::Deserialize;

#[derive(Deserialize)]
struct Index {
    tolerance: f32,
    models: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    model: String,
    inputs: Vec<Tensor>,
    outputs: Vec<Tensor>,
    #[serde(default)]
    steps: Option<usize>,
}

#[derive(Deserialize)]
struct Tensor {
    name: String,
    file: String,
    shape: Vec<usize>,
}

/// Runs a loaded model on one buffer per input.
type Runner = dyn Fn(&[&[f32]]) -> Vec<Vec<f32>>;

fn read_f32(path: &std::path::Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn livecheck_matches_onnx_runtime() {
    let Some(models) = common::models_dir() else {
        return;
    };
    let dir = common::root().join("models/reference");
    let index: Index =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    assert_eq!(
        index.models.len(),
        4,
        "detector, mesh, iris and VAD references"
    );
    for entry in &index.models {
        let bytes = std::fs::read(models.join(&entry.model)).unwrap();
        // Stateful models (the VAD) store one leading step axis per tensor.
        let steps = entry.steps.unwrap_or(1);
        let per_step = |t: &Tensor| {
            if entry.steps.is_some() {
                t.shape[1..].to_vec()
            } else {
                t.shape.clone()
            }
        };
        let in_shapes: Vec<Vec<usize>> = entry.inputs.iter().map(per_step).collect();
        let out_lens: Vec<usize> = entry
            .outputs
            .iter()
            .map(|t| per_step(t).iter().product())
            .collect();
        let shape_refs: Vec<&[usize]> = in_shapes.iter().map(|s| s.as_slice()).collect();
        // The VAD runs through tract, the face models through livecheck's runtime.
        let run: Box<Runner> = if entry.steps.is_some() {
            let model = Model::load("reference", &bytes, &shape_refs, &out_lens).unwrap();
            Box::new(move |x| model.run(x).unwrap())
        } else {
            let net = Net::load("reference", &bytes, &shape_refs, &out_lens).unwrap();
            Box::new(move |x| net.run(x).unwrap())
        };
        let inputs: Vec<Vec<f32>> = entry
            .inputs
            .iter()
            .map(|t| read_f32(&dir.join(&t.file)))
            .collect();
        let expected: Vec<Vec<f32>> = entry
            .outputs
            .iter()
            .map(|t| read_f32(&dir.join(&t.file)))
            .collect();
        let in_lens: Vec<usize> = in_shapes.iter().map(|s| s.iter().product()).collect();
        let mut worst = 0.0f32;
        for step in 0..steps {
            let step_inputs: Vec<&[f32]> = inputs
                .iter()
                .zip(&in_lens)
                .map(|(v, &n)| &v[step * n..(step + 1) * n])
                .collect();
            let got = run(&step_inputs);
            for ((g, e), (t, &n)) in got
                .iter()
                .zip(&expected)
                .zip(entry.outputs.iter().zip(&out_lens))
            {
                let e = &e[step * n..(step + 1) * n];
                let diff = g
                    .iter()
                    .zip(e)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
                worst = worst.max(diff);
                assert!(
                    diff <= index.tolerance,
                    "{} output {} step {step}: max |livecheck - ORT| = {diff}",
                    entry.model,
                    t.name
                );
            }
        }
        eprintln!("{}: max |livecheck - ORT| = {worst:.2e}", entry.model);
    }
}
