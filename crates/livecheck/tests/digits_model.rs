//! The digit recogniser matches the trainer's reference tensors in
//! `models/whisper_digits/reference` (made with numpy and ONNX Runtime by `export.py`): the
//! Rust log-mel on the stored audio, the project's CTC head (`models/digits.onnx`, committed)
//! in tract on the stored encoder output, and the whole chain (log-mel → Whisper encoder →
//! head) from the stored audio; Whisper's decoder verifying real readings (shared data); and a
//! real reading whose first digit the VAD misses, heard whole.

mod common;

use std::path::{Path, PathBuf};

use livecheck::audio::digits::{self, DigitModel, CLASSES, STEPS};
use livecheck::audio::logmel::LogMel;
use livecheck::audio::vad::VadModel;
use livecheck::models::Model;
use livecheck::{DigitsConfig, Language};

/// The data of a little-endian `.npy` file (`<f4`, `<f2` or `<i2`) as f32.
fn read_npy(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..6], b"\x93NUMPY", "{}", path.display());
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = String::from_utf8_lossy(&bytes[10..10 + header_len]);
    let data = &bytes[10 + header_len..];
    if header.contains("'<f4'") {
        data.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    } else if header.contains("'<i2'") {
        data.chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
            .collect()
    } else if header.contains("'<f2'") {
        data.chunks_exact(2)
            .map(|b| half_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect()
    } else {
        panic!("{}: unsupported dtype in {header}", path.display())
    }
}

/// IEEE 754 half precision to f32.
fn half_to_f32(h: u16) -> f32 {
    let sign = if h >> 15 == 1 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f32;
    sign * match exp {
        0 => frac * 2f32.powi(-24),
        31 => f32::INFINITY,
        e => (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
    }
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

/// Largest difference, log-probabilities below −30 (e^−30 ≈ 1e−13, nothing for decoding) taken
/// as −30: one runtime's log-softmax may round them to −inf.
fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x.max(-30.0) - y.max(-30.0)).abs())
        .fold(0.0, f32::max)
}

/// Reference cases and the digits each says (espeak-ng voices, never real recordings).
const CASES: [(&str, &str); 2] = [("tts_en_4829", "4829"), ("tts_cmn_3619", "3619")];

fn refdir() -> PathBuf {
    common::root().join("models/whisper_digits/reference")
}

fn reference(name: &str, what: &str) -> Vec<f32> {
    read_npy(&refdir().join(format!("{name}.{what}.npy")))
}

#[test]
fn half_floats_decode() {
    assert_eq!(half_to_f32(0x3c00), 1.0);
    assert_eq!(half_to_f32(0xc000), -2.0);
    assert_eq!(half_to_f32(0x0001), 2f32.powi(-24));
    assert_eq!(half_to_f32(0x7bff), 65504.0);
}

#[test]
fn the_log_mel_matches_whisper_on_the_reference_audio() {
    let mel = LogMel::new();
    for (name, _) in CASES {
        let audio = reference(name, "audio_i16");
        let diff = max_diff(&mel.compute(&audio), &reference(name, "mel"));
        eprintln!("{name}: log-mel max |Rust - numpy| = {diff:.2e}");
        assert!(diff <= 1e-4, "{name}: {diff}");
    }
}

#[test]
fn the_head_matches_the_reference_outputs() {
    let bytes = std::fs::read(common::root().join("models/digits.onnx"))
        .expect("models/digits.onnx is committed");
    let head = Model::load("digits", &bytes, &[&[1, 300, 512]], &[STEPS * CLASSES]).unwrap();
    for (name, said) in CASES {
        let input = reference(name, "encoder_out_f16");
        let expected = reference(name, "log_probs");
        let out = head.run(&[&input]).unwrap().remove(0);
        let diff = max_diff(&out, &expected);
        eprintln!(
            "{name}: head max |tract - ORT| = {diff:.2e}, decoded {}",
            text(&steps(&out))
        );
        assert!(diff <= 1e-3, "{name}: {diff}");
        assert_eq!(text(&steps(&out)), said, "{name}");
    }
}

/// The provisioned digit models, loaded (`None`, with the skip rule, when not provisioned).
fn digit_model() -> Option<DigitModel> {
    let bytes = livecheck::ModelSet::from_dir(common::models_dir()?)
        .unwrap()
        .digits
        .expect("the digit models are provisioned");
    Some(DigitModel::load(&bytes).unwrap())
}

#[test]
fn the_whole_chain_from_audio_matches_the_reference() {
    let Some(model) = digit_model() else {
        return;
    };
    for (name, said) in CASES {
        let audio = reference(name, "audio_i16");
        let expected = reference(name, "log_probs");
        let got: Vec<f32> = model.log_probs(&audio).unwrap().concat();
        // The stored encoder output was rounded to f16 (≤ 0.008) before the head ran on it.
        let diff = max_diff(&got, &expected);
        eprintln!("{name}: audio -> log-probs max |tract - reference| = {diff:.2e}");
        assert!(diff <= 0.05, "{name}: {diff}");
        let r = digits::recognise(&model, &audio, None).unwrap();
        assert_eq!(r.digits, said, "{name}");
        assert!(r.margin(said) > 0.0, "{name}: {}", r.margin(said));
        let wrong = said.replace(&said[..1], "5");
        assert!(r.margin(&wrong) < 0.0, "{name}: {wrong}");
    }
}

/// Real takes of one voice, one per digit of `digits`, joined with 250 ms of silence (and
/// 400 ms before and after), at 16 kHz.
fn spliced(dir: &Path, name: &dyn Fn(char) -> String, digits: &str) -> Vec<f32> {
    let gap = vec![0.0f32; 4_000];
    let mut out = vec![0.0f32; 6_400];
    for d in digits.chars() {
        let pcm = livecheck::audio::wav::read_path(dir.join(name(d)))
            .unwrap()
            .to_16k();
        out.extend(pcm.samples);
        out.extend(&gap);
    }
    out.extend(vec![0.0f32; 2_400]);
    out
}

#[test]
fn whisper_decoder_verifies_real_readings_in_both_languages() {
    let (Some(model), Some(cmn), Some(en)) = (
        digit_model(),
        common::data("audio_cmn/wav16k"),
        common::data("speech_extra/wav16k/gcompris_en_julia"),
    ) else {
        return;
    };
    let pinyin = [
        "ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3",
    ];
    let cases = [
        (
            Language::Mandarin,
            spliced(
                &cmn,
                &|d| format!("yuetan_{d}_{}.wav", pinyin[d as usize - 48]),
                "3907",
            ),
            "3907",
        ),
        (
            Language::English,
            spliced(&en, &|d| format!("{d}.wav"), "5182"),
            "5182",
        ),
    ];
    for (language, audio, said) in cases {
        let heard = digits::recognise(&model, &audio, None).unwrap();
        let right = model.decoder_margin(&heard, said, language).unwrap();
        eprintln!("{said} ({}): decoder margin {right:.2}", language.code());
        assert!(right > 0.0, "{said}: {right}");
        // Every one-digit change and the swap of the first two digits are rejected.
        let mut rivals: Vec<String> = (0..4)
            .map(|i| {
                let mut b = said.as_bytes().to_vec();
                b[i] = b'0' + (b[i] - b'0' + 5) % 10;
                String::from_utf8(b).unwrap()
            })
            .collect();
        rivals.push(format!("{}{}{}", &said[1..2], &said[..1], &said[2..]));
        for wrong in rivals {
            let m = model.decoder_margin(&heard, &wrong, language).unwrap();
            assert!(m < 0.0, "{said} read, {wrong} accepted: {m}");
        }
        assert_eq!(
            model.decoder_margin(&heard, "12a4", language).unwrap(),
            f32::MIN
        );
        // The check fuses both margins, and asks the decoder only when the head cannot settle
        // the score on its own.
        let head = heard.margin(said);
        let config = DigitsConfig::new(language);
        let check = |min_margin| {
            let c = DigitsConfig {
                min_margin,
                ..config.clone()
            };
            model.margin(&heard, said, &c).unwrap()
        };
        let w = config.decoder_weight;
        assert_eq!(
            check(f32::MIN),
            digits::fuse(head, -digits::DECODER_CLIP, w)
        );
        assert_eq!(check(f32::MAX), digits::fuse(head, right, w));
        assert!(
            check(config.min_margin) > config.min_margin,
            "{said} rejected"
        );
        for wrong in [
            "1111",
            &format!("{}{}", &said[..3], (said.as_bytes()[3] - b'0' + 3) % 10),
        ] {
            let m = model.margin(&heard, wrong, &config).unwrap();
            assert!(m <= config.min_margin, "{said} read, {wrong} accepted: {m}");
        }
    }
}

/// A reading whose first digits the VAD does not call speech is still heard whole: Feng Jie's
/// 2010 takes (loud, 5–17 % of samples clipped, nothing below 300 Hz) mostly escape Silero VAD,
/// which in "8675" finds only parts of the last three digits. The recogniser's windows take in
/// the audio around the speech the VAD found (`digits::plan_windows`); windows cut at the VAD's
/// edges heard "675".
#[test]
fn digits_the_vad_misses_at_the_edge_of_a_reading_are_still_heard() {
    let (Some(model), Some(dir), Some(models)) = (
        digit_model(),
        common::data("speech_extra/wav16k/gcompris_zh_fengjie_2010"),
        common::models_dir(),
    ) else {
        return;
    };
    let set = livecheck::ModelSet::from_dir(models).unwrap();
    let vad = VadModel::load(set.vad.as_deref().expect("the VAD is provisioned")).unwrap();
    let audio = spliced(&dir, &|d| format!("{d}.wav"), "8675");
    let speech = vad.speech(&audio).unwrap();
    let eight = livecheck::audio::wav::read_path(dir.join("8.wav"))
        .unwrap()
        .to_16k();
    let first_take_end_ms = 400 + (eight.samples.len() / 16) as i64;
    assert!(
        speech
            .first()
            .is_some_and(|s| s.start_ms > first_take_end_ms),
        "the premise: the VAD misses the first digit ({speech:?}); pick another reading"
    );
    let heard = digits::recognise(&model, &audio, Some(&speech)).unwrap();
    assert_eq!(heard.digits, "8675");
    let config = DigitsConfig::new(Language::Mandarin);
    let right = model.margin(&heard, "8675", &config).unwrap();
    assert!(right > config.threshold(4), "8675 rejected: {right}");
    for wrong in ["9675", "8695", "6875"] {
        let m = model.margin(&heard, wrong, &config).unwrap();
        assert!(m <= config.threshold(4), "8675 read, {wrong} accepted: {m}");
    }
}

/// A digit said after other words is scored where Whisper's decoder puts it: in the real GRID
/// sentences ("bin blue at f two now"), which none of the models heard, the decoder writes the
/// words it hears before the digit and then prefers the said digit to every other by far (the
/// others keep their margins from the start of the text, near zero). It fails where Whisper
/// hears no digit at all ("lay blue by c to again"), so 5 of 6 is the bar.
#[test]
fn whisper_decoder_spots_a_digit_after_other_words() {
    let (Some(model), Some(dir)) = (digit_model(), common::data("grid_lipnet/wav16k")) else {
        return;
    };
    let sentences = [
        ("bbaf2n", 2),
        ("brbk7n", 7),
        ("lbax4n", 4),
        ("lbbc2a", 2),
        ("lrwp9a", 9),
        ("id2_vcd_swwp2s", 2),
    ];
    let mut spotted = 0;
    for (name, said) in sentences {
        let pcm = livecheck::audio::wav::read_path(dir.join(format!("{name}.wav")))
            .unwrap()
            .to_16k();
        let heard = digits::recognise(&model, &pcm.samples, None).unwrap();
        let margins: Vec<f32> = (0..10)
            .map(|d| {
                model
                    .decoder_margin(&heard, &d.to_string(), Language::English)
                    .unwrap()
            })
            .collect();
        eprintln!("{name} (said {said}): decoder margins by digit {margins:.1?}");
        let others = (0..10).filter(|&d| d != said).map(|d| margins[d]);
        if margins[said] > 4.0 && others.fold(f32::MIN, f32::max) < margins[said] - 4.0 {
            spotted += 1;
        }
    }
    assert!(spotted >= 5, "{spotted} of 6 sentences");
}
