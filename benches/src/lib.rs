//! Benchmarks live in `benches/`; this crate hosts them and the inputs they share.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A file under the project's `../shared/data`, or `None` with a printed skip.
pub fn shared_data(rel: &str) -> Option<PathBuf> {
    let path = root().join("../shared/data").join(rel);
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "SKIPPED: {} not found (the project's ../shared/data)",
            path.display()
        );
        None
    }
}

/// The first frame of a real 640x480 webcam clip (FOCUS blink set).
pub fn real_frame() -> Option<livecheck_media::RgbFrame> {
    let clip = shared_data("focus_blink/h264/mahie_test_1.mp4")?;
    livecheck_media::VideoReader::open(&clip).ok()?.next()?.ok()
}

/// The clip the per-frame comparison runs on (`cargo xtask bench-compare`).
pub const CLIP: &str = "focus_blink/h264/mahie_test_1.mp4";
/// How many of its frames (3 s at 30 fps: a face found, tracked, and re-detected six times).
pub const CLIP_FRAMES: usize = 90;

/// The first [`CLIP_FRAMES`] frames of [`CLIP`] (each with its presentation time).
pub fn real_clip() -> Option<Vec<livecheck_media::RgbFrame>> {
    let path = shared_data(CLIP)?;
    let frames: Vec<_> = livecheck_media::VideoReader::open(&path)
        .ok()?
        .take(CLIP_FRAMES)
        .collect::<Result<_, _>>()
        .ok()?;
    (frames.len() == CLIP_FRAMES).then_some(frames)
}

/// RGB24 → NV21 (BT.601 full range), as an Android camera delivers it.
pub fn to_nv21(f: &livecheck_media::RgbFrame) -> Vec<u8> {
    let (w, h) = (f.width as usize, f.height as usize);
    let mut out = vec![0u8; w * h * 3 / 2];
    for y in 0..h {
        for x in 0..w {
            let p = &f.data[(y * w + x) * 3..][..3];
            let (r, g, b) = (p[0] as f32, p[1] as f32, p[2] as f32);
            out[y * w + x] = (0.299 * r + 0.587 * g + 0.114 * b)
                .round()
                .clamp(0.0, 255.0) as u8;
            if x % 2 == 0 && y % 2 == 0 {
                let u = -0.168_736 * r - 0.331_264 * g + 0.5 * b + 128.0;
                let v = 0.5 * r - 0.418_688 * g - 0.081_312 * b + 128.0;
                let i = w * h + (y / 2) * w + x;
                out[i] = v.round().clamp(0.0, 255.0) as u8;
                out[i + 1] = u.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}
