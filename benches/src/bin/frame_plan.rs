//! Writes the model inputs of the per-frame comparison (`cargo xtask bench-compare`).
//!
//! Runs livecheck's tracker over the first frames of the benchmark clip and records, for each
//! frame, the exact tensors the reference pipeline (MediaPipe's face landmarker in video mode:
//! detector only when the track is lost, mesh every frame, the iris model on both eyes every
//! frame) feeds its models: the detector's letterboxed frame where there was no track before
//! it, the mesh crop and both eye crops the tracker took. `benches/ort_frames.py` then times ONNX
//! Runtime on them. Usage: `frame_plan OUT_DIR`; writes `OUT_DIR/plan.json` and
//! `OUT_DIR/tensors.f32` (little-endian, in plan order). It also counts the frames on which
//! livecheck's default analyser (the eye gate on) ran the iris model.

use std::io::Write;
use std::path::PathBuf;

use livecheck::vision::detector::{self, Detector};
use livecheck::vision::landmarks::{Landmarker, IRIS_INPUT, MESH_INPUT};
use livecheck::{AnalyzerConfig, Engine, FrameRef, ModelSet, PixelFormat};
use livecheck_benches::{real_clip, root, CLIP, CLIP_FRAMES};

/// Appends `t` as little-endian f32.
fn write_f32(out: &mut impl Write, t: &[f32]) -> std::io::Result<()> {
    t.iter().try_for_each(|v| out.write_all(&v.to_le_bytes()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: frame_plan OUT_DIR")?);
    std::fs::create_dir_all(&out_dir)?;
    let set = ModelSet::from_dir(root().join("models"))?;
    let engine = Engine::load(&set)?;
    let frames = real_clip().ok_or("the benchmark clip is missing (../shared/data)")?;
    // The reference's crops come from an analyser that measures the eyes on every frame.
    let mut every = AnalyzerConfig::default();
    every.tracker.eye_gate.max_change = 0.0;
    let mut analyzer = engine.analyzer(every);
    let mut gated = engine.analyzer(AnalyzerConfig::default());
    let (mut iris_runs, mut last_eyes) = (0, None);
    let mut tensors = std::io::BufWriter::new(std::fs::File::create(out_dir.join("tensors.f32"))?);
    let mut plan = Vec::new();
    let (mut tracked, mut faces, mut ref_detects, mut our_detects) = (false, 0, 0, 0);
    for f in &frames {
        let view = FrameRef::packed(&f.data, f.width, f.height, PixelFormat::Rgb8)?;
        let report = analyzer.push_frame(&view, f.t_ms)?;
        // A kept measurement repeats the last one exactly; a new one never does.
        let eyes = gated
            .push_frame(&view, f.t_ms)?
            .analysis
            .face
            .and_then(|face| face.eyes)
            .map(|e| (e.left, e.right));
        iris_runs += usize::from(eyes.is_some() && eyes != last_eyes);
        last_eyes = eyes;
        let detector_runs = !tracked;
        if detector_runs {
            let mut t = vec![0.0; 3 * detector::INPUT * detector::INPUT];
            Detector::input(&view, &Detector::letterbox(&view), &mut t);
            write_f32(&mut tensors, &t)?;
        }
        let face = report.analysis.face.as_ref();
        if let Some(face) = face {
            let mut t = vec![0.0; 3 * MESH_INPUT * MESH_INPUT];
            Landmarker::mesh_input(&view, &face.mesh.roi, &mut t);
            write_f32(&mut tensors, &t)?;
            let mut t = vec![0.0; 3 * IRIS_INPUT * IRIS_INPUT];
            let eyes = face
                .eyes
                .as_ref()
                .ok_or("the analyser measures the eyes by default")?;
            Landmarker::eye_input(&view, &eyes.right_contour.roi, false, &mut t);
            write_f32(&mut tensors, &t)?;
            Landmarker::eye_input(&view, &eyes.left_contour.roi, true, &mut t);
            write_f32(&mut tensors, &t)?;
        }
        tracked = face.is_some();
        faces += usize::from(tracked);
        ref_detects += usize::from(detector_runs);
        our_detects += usize::from(report.analysis.detector_ran);
        plan.push(format!(
            "{{\"t_ms\": {}, \"detector\": {detector_runs}, \"face\": {}, \"ours_detector\": {}}}",
            f.t_ms,
            face.is_some(),
            report.analysis.detector_ran
        ));
    }
    tensors.flush()?;
    std::fs::write(
        out_dir.join("plan.json"),
        format!(
            "{{\"clip\": \"{CLIP}\", \"frames\": {CLIP_FRAMES}, \"plan\": [\n{}\n]}}\n",
            plan.join(",\n")
        ),
    )?;
    println!(
        "frame_plan: {} frames, {faces} with a face; detector runs: {ref_detects} (reference), \
         {our_detects} (livecheck); frames the gated analyser ran the iris model on: {iris_runs}",
        frames.len()
    );
    Ok(())
}
