//! `soak`: the process's memory over whole sessions on one engine (`cargo xtask soak`).
//!
//! 1. **Engine**: resident set after loading the models without the digits pack (vision,
//!    embedder, VAD: an action-only app), and with every model in the models directory.
//! 2. **Peak of one session**, the kernel's high-water mark reset just before it
//!    (`/proc/self/clear_refs`): a 60 s action session on the engine without the digits pack
//!    (FOCUS `mahie_test_1`, the whole minute, asked for a blink and then a shake it never does,
//!    with a 60 s action timeout, signed evidence and identity checks on), and a digits session
//!    on the full engine (GRID `brbk7n` with its audio, "7").
//!    Frames are decoded one at a time by ffmpeg in its own process, so the figures are
//!    livecheck's own.
//! 3. **Soak**: those two kinds of session alternating (the action one asked for a blink, so it
//!    stops at the first), on the same engine, for `--minutes` (default 10), the resident set
//!    read after each. Growth = mean of the last quarter of readings minus the mean of the
//!    second quarter (the first quarter is warm-up); more than [`MAX_GROWTH_MB`] fails.
//!
//! Linux only (reads `/proc/self/status`).

use std::path::Path;
use std::time::Instant;

use livecheck::evidence::Scheme;
use livecheck::{ActionKind, Engine, Language, ModelSet, OwnedFrame, SessionConfig, Verdict};
use serde_json::{json, Map};

use crate::attacks::grid_crop;
use crate::identity::outcome;
use crate::media::{clip_stream, engine};
use crate::Options;

/// Resident-set growth over the soak (MB, last quarter vs second quarter) that fails it.
pub const MAX_GROWTH_MB: f64 = 4.0;

/// A `/proc/self/status` field in MB (`VmRSS`, `VmHWM`).
fn status_mb(field: &str) -> Result<f64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("/proc/self/status (the soak needs Linux): {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .ok_or(format!("no {field} in /proc/self/status"))
}

/// Resets the kernel's peak-RSS mark (`VmHWM`) to the current resident set.
fn reset_peak() -> Result<(), String> {
    std::fs::write("/proc/self/clear_refs", "5").map_err(|e| format!("/proc/self/clear_refs: {e}"))
}

/// The action session: the FOCUS clip streamed, asked for `plan`.
fn action_session(
    engine: &Engine,
    data: &Path,
    plan: &[ActionKind],
    timeout_ms: i64,
) -> Result<Verdict, String> {
    let mut config = SessionConfig::action().with_actions(plan).with_evidence(
        b"soak-nonce",
        Scheme::HmacSha256,
        &[7u8; 32],
    );
    config.action_timeout_ms = timeout_ms;
    engine
        .session(config)
        .map_err(|e| e.to_string())?
        .run(clip_stream(
            &data.join("focus_blink/h264/mahie_test_1.mp4"),
        )?)
        .map_err(|e| e.to_string())
}

/// The digits session: GRID `brbk7n` (cropped to put the face in the oval) with its audio.
fn digits_session(engine: &Engine, data: &Path) -> Result<Verdict, String> {
    let pcm = livecheck::audio::wav::read_path(data.join("grid_lipnet/wav16k/brbk7n.wav"))
        .map_err(|e| e.to_string())?;
    let mut session = engine
        .session(SessionConfig::digits(Language::English).with_digits("7"))
        .map_err(|e| e.to_string())?;
    session
        .push_audio(&pcm.samples, pcm.sample_rate, 0)
        .map_err(|e| e.to_string())?;
    let frames = clip_stream(&data.join("grid_lipnet/h264/brbk7n.mp4"))?.map(
        |f: Result<OwnedFrame, String>| {
            let f = f?;
            grid_crop("brbk7n", &f.data, f.width, f.height, f.t_ms)
        },
    );
    session.run(frames).map_err(|e| e.to_string())
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

/// The mean of the second and of the last quarter of the readings (the first quarter is
/// warm-up), or `None` below 8 readings.
fn quarters(readings: &[f64]) -> Option<(f64, f64)> {
    let n = readings.len();
    (n >= 8).then(|| (mean(&readings[n / 4..n / 2]), mean(&readings[n - n / 4..])))
}

/// Runs the three measurements, prints the table and the JSON; fails on growth.
pub fn run(opts: &Options) -> Result<(), String> {
    let minutes = opts.minutes.unwrap_or(10.0);
    let data = &opts.data;
    let before = status_mb("VmRSS")?;

    // What an action-only app holds: the engine without the digits pack.
    let (vision_mb, action_peak, long) = {
        let mut set = ModelSet::from_dir(&opts.models).map_err(|e| e.to_string())?;
        set.digits = None;
        let engine = Engine::load(&set).map_err(|e| e.to_string())?;
        drop(set);
        let loaded = status_mb("VmRSS")?;
        eprintln!("soak: engine without the digits pack, {loaded:.1} MB resident");
        reset_peak()?;
        let long = action_session(
            &engine,
            data,
            &[ActionKind::Blink, ActionKind::Shake],
            60_000,
        )?;
        let peak = status_mb("VmHWM")?;
        eprintln!(
            "soak: 60 s action session: {} frames, {} ms, {}; peak {peak:.1} MB",
            long.frames,
            long.duration_ms,
            outcome(&long)
        );
        (loaded, peak, long)
    };

    let engine = engine(&opts.models)?;
    let loaded = status_mb("VmRSS")?;
    let digits = engine.digits().is_some();
    eprintln!("soak: engine loaded, {loaded:.1} MB resident (digits pack: {digits})");
    let mut digits_peak = None;
    if digits {
        reset_peak()?;
        let v = digits_session(&engine, data)?;
        let peak = status_mb("VmHWM")?;
        let o = outcome(&v);
        eprintln!("soak: digits session: {o}; peak {peak:.1} MB");
        digits_peak = Some((peak, o));
    }

    let start = Instant::now();
    let mut readings: Vec<f64> = Vec::new();
    let mut failures = 0usize;
    while start.elapsed().as_secs_f64() < minutes * 60.0 {
        let v = if digits && readings.len() % 2 == 1 {
            digits_session(&engine, data)?
        } else {
            action_session(&engine, data, &[ActionKind::Blink], 10_000)?
        };
        failures += usize::from(!v.passed);
        readings.push(status_mb("VmRSS")?);
        eprintln!(
            "soak: session {} at {:.0} s: {}, {:.1} MB",
            readings.len(),
            start.elapsed().as_secs_f64(),
            outcome(&v),
            readings.last().unwrap_or(&0.0)
        );
    }
    let n = readings.len();
    let Some((second, last)) = quarters(&readings) else {
        return Err(format!(
            "only {n} sessions in {minutes} min: too few to judge growth (raise --minutes)"
        ));
    };
    let growth = last - second;
    let max = readings.iter().cloned().fold(f64::MIN, f64::max);

    let mut table = vec![
        "| measurement | MB |".to_string(),
        "|---|---|".to_string(),
        format!("| resident before loading the engine | {before:.1} |"),
        format!("| resident with the engine loaded, no digits pack | {vision_mb:.1} |"),
        format!(
            "| peak during a 60 s action session on it ({} frames, {}) | {action_peak:.1} |",
            long.frames,
            outcome(&long)
        ),
        format!("| resident with every model loaded (digits pack: {digits}) | {loaded:.1} |"),
    ];
    if let Some((peak, o)) = &digits_peak {
        table.push(format!(
            "| peak during a digits session (brbk7n, {o}) | {peak:.1} |"
        ));
    }
    table.push(format!(
        "| soak: {n} sessions in {minutes} min ({failures} failed their plan): resident second quarter / last quarter / max | {second:.1} / {last:.1} / {max:.1} |"
    ));
    table.push(format!(
        "| growth (last quarter − second quarter; fails above {MAX_GROWTH_MB}) | {growth:+.2} |"
    ));
    let mut report = Map::new();
    report.insert(
        "soak".into(),
        json!({
            "before_mb": before,
            "engine_no_digits_mb": vision_mb,
            "engine_mb": loaded,
            "action_60s_peak_mb": action_peak,
            "action_60s_frames": long.frames,
            "digits_peak_mb": digits_peak.as_ref().map(|d| d.0),
            "sessions": n,
            "failed_sessions": failures,
            "minutes": minutes,
            "rss_mb": readings,
            "growth_mb": growth,
        }),
    );
    crate::print_report(opts, &table, report)?;
    if failures > 0 {
        return Err(format!("{failures} of {n} live sessions failed their plan"));
    }
    if growth > MAX_GROWTH_MB {
        return Err(format!(
            "resident set grew {growth:.2} MB over the soak (limit {MAX_GROWTH_MB})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_ignores_warm_up_and_sees_a_leak() {
        // Warm-up then flat: no growth.
        let flat: Vec<f64> = (0..20)
            .map(|i| if i < 3 { 50.0 + i as f64 } else { 60.0 })
            .collect();
        let (second, last) = quarters(&flat).unwrap();
        assert_eq!(last - second, 0.0);
        // 0.5 MB per session: 10 readings apart (second vs last quarter centres) is ~5 MB.
        let leak: Vec<f64> = (0..20).map(|i| 60.0 + 0.5 * i as f64).collect();
        let (second, last) = quarters(&leak).unwrap();
        assert!(last - second > MAX_GROWTH_MB, "{}", last - second);
        assert!(quarters(&leak[..7]).is_none());
    }

    #[test]
    fn reads_this_process_resident_set_and_its_peak() {
        // Other tests share the process, so only orderings that always hold are checked.
        let rss = status_mb("VmRSS").unwrap();
        assert!(rss > 1.0, "{rss}");
        reset_peak().unwrap();
        assert!(status_mb("VmHWM").unwrap() > 1.0);
        assert!(status_mb("NoSuchField").is_err());
    }
}
