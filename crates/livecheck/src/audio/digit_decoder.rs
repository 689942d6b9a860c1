//! The second digit verifier: **Whisper base's decoder** (`whisper_decoder_base_digits.onnx`,
//! MIT, rebuilt at provisioning time from the same pinned wheels as the encoder) reads the
//! challenge the way Whisper would write it and scores each digit against the nine others.
//!
//! Whisper was never trained on this project's voices, so nothing here is fitted to them. For
//! each way of writing the digits (a *form*: "三七二九", "3 7 2 9", " 3 7 2 9", " 3, 7, 2, 9",
//! " Three, Seven, Two, Nine"), one teacher-forced pass gives, at the start of each digit, the
//! decoder's logits for every digit's tokens (all variants: 二/两, 一/幺, 零/〇, "Zero"/"oh"…).
//! A digit's slot margin is the log-ratio of the challenge digit to the best other digit; the
//! form's margin is its weakest slot; the verifier's margin is the best form's. A changed,
//! swapped or dropped digit shows up as a negative slot.
//!
//! The graph takes three rows of [`LEN`] tokens (prompt, digits, padding) and the encoder's
//! output of one window, and returns next-token logits over the 65 tokens it was cut to (which
//! it also returns, so the ids below are checked at load).

use crate::audio::digits::ENCODED_LEN;
use crate::error::{Error, Result};
use crate::models::Model;
use crate::reading::Language;

/// Rows (readings) per decoder run.
const ROWS: usize = 3;
/// Tokens per row.
pub const LEN: usize = 24;
/// Tokens the graph scores (its `vocab` output).
const VOCAB: usize = 65;

// Whisper's multilingual tokenizer (GPT-2 byte-level BPE): the ids
// `models/whisper_digits/provision.py::check_decoder` checks against tokenizer.json.
const START: u32 = 50258;
const ENGLISH: u32 = 50259;
const MANDARIN: u32 = 50260;
const TRANSCRIBE: u32 = 50359;
const NO_TIMESTAMPS: u32 = 50363;
const END: u32 = 50257;
const COMMA: u32 = 11;

/// One way of writing a digit: its token sequences (the first is the one fed to the decoder).
type Variants = &'static [&'static [u32]];

/// "0" … "9" (no leading space).
const PLAIN: [Variants; 10] = [
    &[&[15]],
    &[&[16]],
    &[&[17]],
    &[&[18]],
    &[&[19]],
    &[&[20]],
    &[&[21]],
    &[&[22]],
    &[&[23]],
    &[&[24]],
];
/// " 0" … " 9".
const SPACED: [Variants; 10] = [
    &[&[1958]],
    &[&[502]],
    &[&[568]],
    &[&[805]],
    &[&[1017]],
    &[&[1025]],
    &[&[1386]],
    &[&[1614]],
    &[&[1649]],
    &[&[1722]],
];
/// 零/〇 一/幺 二/两 三 四 五 六 七 八 九.
const HANZI: [Variants; 10] = [
    &[&[6306, 114], &[756, 229]],
    &[&[2257], &[3509, 118]],
    &[&[11217], &[36257]],
    &[&[10960]],
    &[&[19425]],
    &[&[21001]],
    &[&[30566]],
    &[&[29920]],
    &[&[33453]],
    &[&[43145]],
];
/// " Zero"/" zero"/" Oh"/" oh", " One"/" one" … " Nine"/" nine".
const WORDS: [Variants; 10] = [
    &[&[17182], &[4018], &[876], &[1954]],
    &[&[1485], &[472]],
    &[&[4453], &[732]],
    &[&[6244], &[1045]],
    &[&[7451], &[1451]],
    &[&[9436], &[1732]],
    &[&[11678], &[2309]],
    &[&[14868], &[3407]],
    &[&[17708], &[3180]],
    &[&[18939], &[4949]],
];

/// A way of writing the digits: the first digit's variants, the others', and what goes between.
struct Form {
    first: &'static [Variants; 10],
    rest: &'static [Variants; 10],
    separator: &'static [u32],
}

const ENGLISH_FORMS: [Form; ROWS] = [
    Form {
        first: &SPACED,
        rest: &SPACED,
        separator: &[],
    },
    Form {
        first: &SPACED,
        rest: &SPACED,
        separator: &[COMMA],
    },
    Form {
        first: &WORDS,
        rest: &WORDS,
        separator: &[COMMA],
    },
];
const MANDARIN_FORMS: [Form; 2] = [
    Form {
        first: &HANZI,
        rest: &HANZI,
        separator: &[],
    },
    Form {
        first: &PLAIN,
        rest: &SPACED,
        separator: &[],
    },
];

/// Whisper's decoder cut to the digit verifier's tokens, loaded and runnable. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DigitDecoder {
    model: Model,
    /// Token id → column of the logits, for the ids in the graph's vocabulary.
    columns: std::collections::HashMap<u32, usize>,
}

impl DigitDecoder {
    /// Loads the graph (`[3, 24]` tokens and `[1, 300, 512]` encoder frames → `[3, 24, 65]`
    /// logits and `[65]` token ids) and checks that it scores every token this module uses.
    pub fn load(bytes: &[u8]) -> Result<Self> {
        let model = Model::load(
            "whisper_decoder",
            bytes,
            &[&[ROWS, LEN], &[1, ENCODED_LEN / 512, 512]],
            &[ROWS * LEN * VOCAB, VOCAB],
        )?;
        let vocab = model.constant_output(1).ok_or_else(|| Error::BadModel {
            name: "whisper_decoder",
            reason: "output 1 (the vocabulary) is not a constant".into(),
        })?;
        let columns: std::collections::HashMap<u32, usize> = vocab
            .iter()
            .enumerate()
            .map(|(c, &id)| (id as u32, c))
            .collect();
        let used = [
            START,
            ENGLISH,
            MANDARIN,
            TRANSCRIBE,
            NO_TIMESTAMPS,
            END,
            COMMA,
        ];
        let tables = [&PLAIN, &SPACED, &HANZI, &WORDS];
        let digits = tables.iter().flat_map(|t| t.iter()).flat_map(|v| v.iter());
        if let Some(missing) = used
            .iter()
            .chain(digits.flat_map(|s| s.iter()))
            .find(|id| !columns.contains_key(id))
        {
            return Err(Error::BadModel {
                name: "whisper_decoder",
                reason: format!("token {missing} is not in the graph's vocabulary"),
            });
        }
        Ok(DigitDecoder { model, columns })
    }

    /// How much better the window's encoder output (`encoded`, `[300, 512]` row-major, from
    /// [`crate::audio::digits::DigitModel::encode`]) supports each digit of `challenge` than
    /// any other digit in its place, in the best form of writing it (natural-log logit ratio;
    /// positive when every digit is the decoder's choice). [`Language::Auto`] tries both
    /// languages' forms. `f32::MIN` when `challenge` is empty, not digits or too long.
    pub fn margin(&self, encoded: &[f32], challenge: &str, language: Language) -> Result<f32> {
        let digits: Vec<usize> = challenge
            .bytes()
            .map(|b| b.wrapping_sub(b'0') as usize)
            .collect();
        if digits.is_empty() || digits.iter().any(|&d| d > 9) {
            return Ok(f32::MIN);
        }
        let mut best = f32::MIN;
        let runs: &[(u32, &[Form])] = match language {
            Language::English => &[(ENGLISH, &ENGLISH_FORMS)],
            Language::Mandarin => &[(MANDARIN, &MANDARIN_FORMS)],
            Language::Auto => &[(MANDARIN, &MANDARIN_FORMS), (ENGLISH, &ENGLISH_FORMS)],
        };
        for &(lang, forms) in runs {
            best = best.max(self.best_form(encoded, &digits, lang, forms)?);
        }
        Ok(best)
    }

    /// One decoder run over `forms` (at most [`ROWS`]) with the `lang` prompt: the best
    /// form's weakest slot margin.
    fn best_form(
        &self,
        encoded: &[f32],
        digits: &[usize],
        lang: u32,
        forms: &[Form],
    ) -> Result<f32> {
        let mut tokens = vec![END as f32; ROWS * LEN];
        let mut slots = Vec::with_capacity(forms.len());
        for (row, form) in forms.iter().enumerate() {
            let mut seq = vec![START, lang, TRANSCRIBE, NO_TIMESTAMPS];
            let mut starts = Vec::with_capacity(digits.len());
            for (i, &d) in digits.iter().enumerate() {
                if i > 0 {
                    seq.extend_from_slice(form.separator);
                }
                starts.push(seq.len());
                seq.extend_from_slice(table(form, i)[d][0]);
            }
            if seq.len() > LEN {
                slots.push(None);
                continue;
            }
            for (t, &id) in seq.iter().enumerate() {
                tokens[row * LEN + t] = id as f32;
            }
            slots.push(Some(starts));
        }
        let logits = self.model.run(&[&tokens, encoded])?.remove(0);
        let mut best = f32::MIN;
        for (row, (form, starts)) in forms.iter().zip(slots).enumerate() {
            let Some(starts) = starts else { continue };
            let mut weakest = f32::MAX;
            for (i, (&d, &start)) in digits.iter().zip(&starts).enumerate() {
                let at = &logits[(row * LEN + start - 1) * VOCAB..][..VOCAB];
                let score = |digit: usize| {
                    log_sum_exp(
                        table(form, i)[digit]
                            .iter()
                            .map(|v| at[self.columns[&v[0]]]),
                    )
                };
                let rival = (0..10)
                    .filter(|&a| a != d)
                    .map(score)
                    .fold(f32::NEG_INFINITY, f32::max);
                weakest = weakest.min(score(d) - rival);
            }
            if weakest.is_finite() {
                best = best.max(weakest);
            }
        }
        Ok(best)
    }
}

/// The variants of the digits in slot `i` of `form`.
fn table(form: &Form, i: usize) -> &'static [Variants; 10] {
    if i == 0 {
        form.first
    } else {
        form.rest
    }
}

fn log_sum_exp(xs: impl Iterator<Item = f32> + Clone) -> f32 {
    let m = xs.clone().fold(f32::NEG_INFINITY, f32::max);
    m + xs.map(|x| (x - m).exp()).sum::<f32>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_fits_eight_digits_and_variants_start_differently() {
        for forms in [&ENGLISH_FORMS[..], &MANDARIN_FORMS[..]] {
            for form in forms {
                let longest = |t: &[Variants; 10]| t.iter().map(|v| v[0].len()).max().unwrap();
                let n = 4 + longest(form.first) + 7 * (form.separator.len() + longest(form.rest));
                assert!(n <= LEN, "{n} tokens");
                for t in [form.first, form.rest] {
                    let mut firsts: Vec<u32> =
                        t.iter().flat_map(|v| v.iter().map(|s| s[0])).collect();
                    let all = firsts.len();
                    firsts.sort();
                    firsts.dedup();
                    assert_eq!(firsts.len(), all, "two digits share a first token");
                }
            }
        }
    }

    #[test]
    fn log_sum_exp_of_equal_values_adds_ln_n() {
        let v = log_sum_exp([1.0f32, 1.0, 1.0].into_iter());
        assert!((v - (1.0 + 3f32.ln())).abs() < 1e-6);
    }
}
