//! Lip/audio synchrony on GRID talking faces (6 clips, 6 speakers, 3 s each): every clip with
//! its own audio is in sync near zero offset; every clip with another clip's audio (30 swaps)
//! is scored against them. Prints the score matrix, ROC AUC, the swap detection rate at the
//! highest threshold that still accepts every true pair and at the default threshold, and how
//! audio delayed past the plausible window scores.

mod common;

use livecheck::audio::vad::{Vad, VadConfig};
use livecheck::audio::{wav, SpeechSegment};
use livecheck::sync::{check_sync, SyncConfig, SyncResult};

const CLIPS: [&str; 6] = [
    "bbaf2n",
    "brbk7n",
    "id2_vcd_swwp2s",
    "lbax4n",
    "lbbc2a",
    "lrwp9a",
];

struct Clip {
    name: &'static str,
    mouth: Vec<(i64, f32)>,
    audio: Vec<f32>,
    speech: Vec<SpeechSegment>,
}

/// The clips, analysed once per test binary (about a minute on two cores).
fn load() -> Option<&'static [Clip]> {
    static CLIPS: std::sync::OnceLock<Option<Vec<Clip>>> = std::sync::OnceLock::new();
    CLIPS.get_or_init(analyse_clips).as_deref()
}

fn analyse_clips() -> Option<Vec<Clip>> {
    let engine = common::engine()?;
    let vad_model = engine.vad().expect("ModelSet::from_dir loads the VAD");
    let mut vad = Vad::new(vad_model, VadConfig::default()).unwrap();
    let mut clips = Vec::new();
    for name in CLIPS {
        let frames = common::frames(&format!("grid_lipnet/h264/{name}.mp4"))?;
        let mut analyzer = engine.analyzer(Default::default());
        let mut mouth = Vec::new();
        for f in &frames {
            let report = analyzer.push_frame(&common::view(f), f.t_ms).unwrap();
            if let Some(face) = report.analysis.face {
                mouth.push((f.t_ms, face.mouth_open));
            }
        }
        assert!(mouth.len() >= 70, "{name}: face on {} frames", mouth.len());
        let path = common::data(&format!("grid_lipnet/wav16k/{name}.wav"))?;
        let audio = wav::read_path(path).unwrap().to_16k().samples;
        let speech = vad.detect(&audio).unwrap();
        clips.push(Clip {
            name,
            mouth,
            audio,
            speech,
        });
    }
    Some(clips)
}

fn score(video: &Clip, audio: &Clip, config: &SyncConfig) -> SyncResult {
    check_sync(&video.mouth, &audio.audio, 0, Some(&audio.speech), config).unwrap()
}

/// Probability that a random positive outscores a random negative (ties count half).
fn auc(pos: &[f32], neg: &[f32]) -> f64 {
    let mut s = 0.0;
    for p in pos {
        for n in neg {
            s += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    s / (pos.len() * neg.len()) as f64
}

#[test]
fn true_pairs_in_sync_and_swapped_audio_detected() {
    let Some(clips) = load() else {
        return;
    };
    let config = SyncConfig::default();
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    eprintln!("confidence (offset ms); rows: video, columns: audio");
    for v in clips {
        let mut row = format!("{:>15}", v.name);
        for a in clips {
            let r = score(v, a, &config);
            row += &format!(" {:.2}({:+4})", r.confidence, r.offset_ms);
            if v.name == a.name {
                assert!(r.in_sync, "{}: {r:?}", v.name);
                assert!(r.offset_ms.abs() <= 60, "{}: {r:?}", v.name);
                assert!(r.frames >= 30, "{}: {r:?}", v.name);
                pos.push(r.confidence);
            } else {
                neg.push(r.confidence);
            }
        }
        eprintln!("{row}");
    }
    let threshold = pos.iter().copied().fold(f32::INFINITY, f32::min);
    let detected = neg.iter().filter(|&&n| n < threshold).count();
    let detected_default = neg.iter().filter(|&&n| n < config.min_correlation).count();
    let auc = auc(&pos, &neg);
    eprintln!(
        "GRID sync: ROC AUC {auc:.3} (6 true pairs, 30 swaps); threshold {threshold:.3} accepts all \
         true pairs and detects {detected}/30 swaps ({:.0}%); default threshold {} detects \
         {detected_default}/30 ({:.0}%)",
        detected as f64 / 30.0 * 100.0,
        config.min_correlation,
        detected_default as f64 / 30.0 * 100.0,
    );
    // Measured with the five-band envelope: AUC 0.983, 27/30 at 0 false rejects, 24/30 at the
    // default threshold (whole-band envelope: 0.950, 26/30).
    assert!(auc >= 0.96, "AUC {auc}");
    assert!(detected >= 26, "only {detected}/30 swaps below {threshold}");
    assert!(
        detected_default >= 22,
        "only {detected_default}/30 swaps below the default {}",
        config.min_correlation
    );
}

#[test]
fn delayed_audio_is_tracked_then_loses_confidence() {
    let Some(clips) = load() else {
        return;
    };
    let config = SyncConfig::default();
    let mut mean_at = Vec::new();
    for delay_ms in [0i64, 60, 300, 500] {
        let mut line = format!("audio delayed {delay_ms:>3} ms:");
        let (mut in_sync, mut sum) = (0, 0.0);
        for c in clips {
            // The recording starts `delay_ms` late: silence first, the tail cut.
            let n = (delay_ms * 16) as usize;
            let mut audio = vec![0.0f32; n];
            audio.extend_from_slice(&c.audio[..c.audio.len() - n]);
            let speech: Vec<SpeechSegment> = c
                .speech
                .iter()
                .map(|s| SpeechSegment {
                    start_ms: s.start_ms + delay_ms,
                    end_ms: s.end_ms + delay_ms,
                })
                .collect();
            let r = check_sync(&c.mouth, &audio, 0, Some(&speech), &config).unwrap();
            in_sync += r.in_sync as usize;
            sum += r.confidence;
            line += &format!(" {:.2}({:+4})", r.confidence, r.offset_ms);
            // The plausible window (-60..=+100 ms) holds the true pairs' own offsets (-30..=+40)
            // plus up to 60 ms of capture skew between the host's audio and video clocks.
            if delay_ms <= 60 {
                assert!(r.in_sync, "{} delayed {delay_ms}: {r:?}", c.name);
                assert!(
                    (r.offset_ms as i64 - delay_ms).abs() <= 60,
                    "{}: {r:?}",
                    c.name
                );
            }
        }
        let mean = sum / clips.len() as f32;
        eprintln!("{line}  mean {mean:.2}, in sync {in_sync}/6");
        mean_at.push(mean);
    }
    // Past the plausible window the confidence drops on average; single clips with a regular
    // syllable rhythm can still match one syllable off (see the printed rows).
    assert!(mean_at[2] < mean_at[0] - 0.1, "{mean_at:?}");
    assert!(mean_at[3] < mean_at[0] - 0.1, "{mean_at:?}");
}

#[test]
fn audio_extracted_from_the_original_clip_agrees_with_the_wav() {
    let Some(clips) = load() else {
        return;
    };
    let Some(mpg) = common::data("grid_lipnet/orig/lbax4n.mpg") else {
        return;
    };
    let bytes = livecheck_media::extract_wav(&mpg).unwrap();
    let pcm = wav::read_bytes(&bytes).unwrap();
    assert_eq!(pcm.sample_rate, 16_000);
    let clip = clips.iter().find(|c| c.name == "lbax4n").unwrap();
    assert!((pcm.samples.len() as i64 - clip.audio.len() as i64).abs() < 1600);
    let r = check_sync(
        &clip.mouth,
        &pcm.samples,
        0,
        Some(&clip.speech),
        &SyncConfig::default(),
    )
    .unwrap();
    let w = score(clip, clip, &SyncConfig::default());
    eprintln!("lbax4n: extracted {r:?}, wav16k {w:?}");
    assert!(r.in_sync && (r.confidence - w.confidence).abs() < 0.05);
    // A video without an audio track is a clear error.
    let Some(silent) = common::data("grid_lipnet/h264/lbax4n.mp4") else {
        return;
    };
    let e = livecheck_media::extract_wav(&silent).unwrap_err();
    assert!(e.to_string().contains("no audio"), "{e}");
}
