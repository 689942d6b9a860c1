//! Shared helpers of the integration tests: where the real media and the models are, and the
//! rule for when they are missing (a failure under `CI=true`, a printed skip elsewhere).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use livecheck::{Engine, FrameRef, ModelSet, OwnedFrame, PixelFormat};
use livecheck_media::RgbFrame;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Fails under CI, prints a skip notice elsewhere.
fn missing(what: &str, path: &Path, how: &str) -> Option<PathBuf> {
    let msg = format!("{what} not found at {} ({how})", path.display());
    if in_ci() {
        panic!("{msg}: required when CI=true");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

/// `../shared/data` (or `$LIVECHECK_DATA`), or `None` with a skip notice when absent.
pub fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LIVECHECK_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/data"));
    if dir.join("MANIFEST.tsv").exists() {
        Some(dir)
    } else {
        missing(
            "shared test media",
            &dir,
            "the project's ../shared/data checkout",
        )
    }
}

/// A file under the shared data directory, or `None` (with the skip rule) when absent.
pub fn data(rel: &str) -> Option<PathBuf> {
    let p = data_dir()?.join(rel);
    if p.exists() {
        Some(p)
    } else {
        missing(
            "test media file",
            &p,
            "listed in ../shared/data/MANIFEST.tsv",
        )
    }
}

/// The models directory, or `None` (with the skip rule) when not provisioned.
pub fn models_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LIVECHECK_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("models"));
    if dir.join(livecheck::models::files::IRIS).exists() {
        Some(dir)
    } else {
        missing("models", &dir, "run `cargo xtask models`")
    }
}

/// The engine, loaded once per test binary.
pub fn engine() -> Option<&'static Engine> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    let dir = models_dir()?;
    Some(ENGINE.get_or_init(|| {
        Engine::load(&ModelSet::from_dir(dir).expect("models readable")).expect("models load")
    }))
}

/// Decodes an image or video from the shared data into RGB frames.
pub fn frames(rel: &str) -> Option<Vec<livecheck_media::RgbFrame>> {
    let path = data(rel)?;
    Some(livecheck_media::read_all(&path).unwrap_or_else(|e| panic!("decoding {rel}: {e}")))
}

/// A packed RGB view of a decoded frame.
pub fn view(f: &livecheck_media::RgbFrame) -> FrameRef<'_> {
    FrameRef::packed(&f.data, f.width, f.height, PixelFormat::Rgb8).expect("valid RGB frame")
}

pub fn owned(f: RgbFrame, t_ms: i64) -> OwnedFrame {
    OwnedFrame::rgb(f.data, f.width, f.height, t_ms)
}

/// The `w`×`h` region of `f` at (`x`, `y`).
pub fn crop(f: &RgbFrame, x: u32, y: u32, w: u32, h: u32) -> RgbFrame {
    let data = (y..y + h)
        .flat_map(|r| {
            let start = ((r * f.width + x) * 3) as usize;
            f.data[start..start + (w * 3) as usize].iter().copied()
        })
        .collect();
    RgbFrame {
        width: w,
        height: h,
        data,
        t_ms: f.t_ms,
    }
}

/// Decoded frames on a strictly increasing timeline starting at `offset` (containers may
/// repeat a timestamp).
pub fn timeline(frames: impl IntoIterator<Item = RgbFrame>, offset: i64) -> Vec<OwnedFrame> {
    let mut last = i64::MIN;
    frames
        .into_iter()
        .map(|f| {
            let t = (offset + f.t_ms).max(last + 1);
            last = t;
            owned(f, t)
        })
        .collect()
}

/// The left edge of the 220x240 crop (from y = 48) that centres each GRID speaker's face (the
/// 360x288 originals show it off-centre and small).
pub const GRID_CROP_X: [(&str, u32); 6] = [
    ("bbaf2n", 43),
    ("brbk7n", 62),
    ("lbax4n", 77),
    ("lbbc2a", 80),
    ("lrwp9a", 78),
    ("id2_vcd_swwp2s", 70),
];

/// A GRID talking face, cropped so that the face sits in the oval, on a timeline from 0.
pub fn grid_video(name: &str) -> Option<Vec<OwnedFrame>> {
    let x = GRID_CROP_X
        .iter()
        .find(|g| g.0 == name)
        .expect("a GRID clip")
        .1;
    let frames = frames(&format!("grid_lipnet/h264/{name}.mp4"))?;
    Some(timeline(frames.iter().map(|f| crop(f, x, 48, 220, 240)), 0))
}
