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
//! A reader may say something before the digits ("the number is …", a GRID sentence's "bin
//! blue at f …"). When the decoder's own first choice is not the start of a number, it writes
//! what it hears (greedily, over its whole vocabulary, at most [`MAX_WORDS`] tokens, up to the
//! first token that begins a number) and the digits are scored after those words as well: the
//! better of the two readings counts.
//!
//! The graph takes three rows of [`LEN`] token embeddings (prompt, words, digits, padding) and
//! the encoder's output of one window, and returns the decoder's last hidden state; a token's
//! logit is that state dotted with its embedding. Its constant outputs give the exact
//! embeddings of the 65 prompt and digit tokens (whose ids are checked at load), the scales of
//! the whole vocabulary's int8 embedding (an initializer read at load) and the tokens that begin
//! a number.

use std::collections::HashMap;
use std::sync::Arc;

use crate::audio::digits::ENCODED_LEN;
use crate::error::{Error, Result};
use crate::models::Model;
use crate::reading::Language;

/// Rows (readings) per decoder run.
const ROWS: usize = 3;
/// Tokens per row.
pub const LEN: usize = 24;
/// Tokens the graph embeds exactly (its `vocab` output).
const VOCAB: usize = 65;
/// Width of Whisper base's decoder.
const DIM: usize = 512;
/// Whisper's multilingual vocabulary (the int8 embedding's rows).
const FULL_VOCAB: usize = 51865;
/// The most tokens the decoder may write before the digits.
pub const MAX_WORDS: usize = 10;

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
/// " 0"/"0" … " 9"/"9": a first digit after words, written with or without a space ("F 2",
/// "F2").
const SYMBOL: [Variants; 10] = [
    &[&[1958], &[15]],
    &[&[502], &[16]],
    &[&[568], &[17]],
    &[&[805], &[18]],
    &[&[1017], &[19]],
    &[&[1025], &[20]],
    &[&[1386], &[21]],
    &[&[1614], &[22]],
    &[&[1649], &[23]],
    &[&[1722], &[24]],
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

/// A way of writing the digits: the first digit's variants (at the start of the text and
/// after words), the others', and what goes between.
struct Form {
    first: &'static [Variants; 10],
    first_after_words: &'static [Variants; 10],
    rest: &'static [Variants; 10],
    separator: &'static [u32],
}

const ENGLISH_FORMS: [Form; ROWS] = [
    Form {
        first: &SPACED,
        first_after_words: &SYMBOL,
        rest: &SPACED,
        separator: &[],
    },
    Form {
        first: &SPACED,
        first_after_words: &SYMBOL,
        rest: &SPACED,
        separator: &[COMMA],
    },
    Form {
        first: &WORDS,
        first_after_words: &WORDS,
        rest: &WORDS,
        separator: &[COMMA],
    },
];
const MANDARIN_FORMS: [Form; 2] = [
    Form {
        first: &HANZI,
        first_after_words: &HANZI,
        rest: &HANZI,
        separator: &[],
    },
    Form {
        first: &PLAIN,
        first_after_words: &SYMBOL,
        rest: &SPACED,
        separator: &[],
    },
];

/// Whisper's decoder for the digit verifier, loaded and runnable. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DigitDecoder {
    model: Model,
    /// Token id → row of `exact`, for the prompt and digit tokens.
    columns: HashMap<u32, usize>,
    /// The whole vocabulary's embedding and the tokens that begin a number.
    vocabulary: Arc<Vocabulary>,
}

/// Whisper's token embedding: exact rows for the verifier's tokens, int8 rows for the rest.
struct Vocabulary {
    /// `[VOCAB, DIM]`, in `columns` order.
    exact: Vec<f32>,
    /// `[FULL_VOCAB, DIM]`: row `v` is `scale[v] * int8[v]`.
    int8: Vec<i8>,
    scale: Vec<f32>,
    /// Per token id: whether its text begins a number.
    number: Vec<bool>,
}

impl std::fmt::Debug for Vocabulary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vocabulary")
            .field("tokens", &self.scale.len())
            .finish_non_exhaustive()
    }
}

impl DigitDecoder {
    /// Loads the graph (`[3, 24, 512]` token embeddings and `[1, 300, 512]` encoder frames →
    /// `[3, 24, 512]` hidden states; constant outputs: the 65 verifier tokens' ids and
    /// embeddings, the int8 embedding's row scales, the number tokens; initializer
    /// `embedding_int8`) and checks that it holds every token this module uses.
    pub fn load(bytes: &[u8]) -> Result<Self> {
        let (model, int8) = Model::load_with_table(
            "whisper_decoder",
            bytes,
            &[&[ROWS, LEN, DIM], &[1, ENCODED_LEN / DIM, DIM]],
            &[
                ROWS * LEN * DIM,
                VOCAB,
                VOCAB * DIM,
                FULL_VOCAB,
                NUMBER_TOKENS,
            ],
            "embedding_int8",
        )?;
        let bad = |reason: String| Error::BadModel {
            name: "whisper_decoder",
            reason,
        };
        let constant = |i: usize, what: &str| {
            model
                .constant_output(i)
                .map(<[f32]>::to_vec)
                .ok_or_else(|| bad(format!("output {i} ({what}) is not a constant")))
        };
        let vocab = constant(1, "the vocabulary")?;
        let exact = constant(2, "its embeddings")?;
        let scale = constant(3, "the int8 embedding's scales")?;
        let numbers = constant(4, "the number tokens")?;
        if int8.len() != FULL_VOCAB * DIM {
            return Err(bad(format!(
                "embedding_int8 holds {} values, not {FULL_VOCAB} x {DIM}",
                int8.len()
            )));
        }
        let columns: HashMap<u32, usize> = vocab
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
        let tables = [&PLAIN, &SPACED, &SYMBOL, &HANZI, &WORDS];
        let digits = tables.iter().flat_map(|t| t.iter()).flat_map(|v| v.iter());
        if let Some(missing) = used
            .iter()
            .chain(digits.flat_map(|s| s.iter()))
            .find(|id| !columns.contains_key(id))
        {
            return Err(bad(format!(
                "token {missing} is not in the graph's vocabulary"
            )));
        }
        let mut number = vec![false; FULL_VOCAB];
        for &id in &numbers {
            let slot = number
                .get_mut(id as usize)
                .ok_or_else(|| bad(format!("number token {id} is outside the vocabulary")))?;
            *slot = true;
        }
        Ok(DigitDecoder {
            model,
            columns,
            vocabulary: Arc::new(Vocabulary {
                exact,
                int8,
                scale,
                number,
            }),
        })
    }

    /// How much better the window's encoder output (`encoded`, `[300, 512]` row-major, from
    /// [`crate::audio::digits::DigitModel::encode`]) supports each digit of `challenge` than
    /// any other digit in its place, in the best form of writing it (natural-log logit ratio;
    /// positive when every digit is the decoder's choice). The digits are scored at the start
    /// and, when the decoder hears words first, after those words; the better counts (see the
    /// module docs). [`Language::Auto`] tries both languages' forms. `f32::MIN` when
    /// `challenge` is empty, not digits or too long (or, after words, too long to fit).
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
            let (margin, first) = self.best_form(encoded, &digits, lang, forms, &[])?;
            // The better of the two readings counts: scoring after the words alone rejected
            // 1.4 points of English and 0.7 of Mandarin genuine readings spliced from digits
            // alone (Whisper writes a word first for 4-18 % of them), for a few more one-digit-
            // off rejections (0.9 -> 0.8 %, 1.8 -> 1.2 %; leave-speakers-out, 2026-12-05).
            let margin = if first == END || self.vocabulary.number[first as usize] {
                margin
            } else {
                let words = self.words_before_digits(encoded, lang, first)?;
                margin.max(self.best_form(encoded, &digits, lang, forms, &words)?.0)
            };
            best = best.max(margin);
        }
        Ok(best)
    }

    /// The decoder's greedy reading after the prompt, from its first token `first` up to (not
    /// including) the first token that begins a number, the end of the text, or [`MAX_WORDS`].
    fn words_before_digits(&self, encoded: &[f32], lang: u32, first: u32) -> Result<Vec<u32>> {
        let mut words = vec![first];
        while words.len() < MAX_WORDS {
            let seq: Vec<u32> = prompt(lang)
                .into_iter()
                .chain(words.iter().copied())
                .collect();
            let hidden = self.run(&[seq.as_slice()], encoded)?;
            let next = self.next_token(&hidden[(seq.len() - 1) * DIM..][..DIM]);
            if next == END || self.vocabulary.number[next as usize] {
                break;
            }
            words.push(next);
        }
        Ok(words)
    }

    /// One decoder run over `forms` (at most [`ROWS`]) with the `lang` prompt and `words`
    /// before the digits: the best form's weakest slot margin, and the decoder's own choice of
    /// the token where the digits start (over its whole vocabulary).
    fn best_form(
        &self,
        encoded: &[f32],
        digits: &[usize],
        lang: u32,
        forms: &[Form],
        words: &[u32],
    ) -> Result<(f32, u32)> {
        let mut rows: Vec<Vec<u32>> = Vec::with_capacity(forms.len());
        let mut slots = Vec::with_capacity(forms.len());
        for form in forms {
            let mut seq: Vec<u32> = prompt(lang)
                .into_iter()
                .chain(words.iter().copied())
                .collect();
            let mut starts = Vec::with_capacity(digits.len());
            for (i, &d) in digits.iter().enumerate() {
                if i > 0 {
                    seq.extend_from_slice(form.separator);
                }
                starts.push(seq.len());
                seq.extend_from_slice(table(form, i, !words.is_empty())[d][0]);
            }
            if seq.len() > LEN {
                slots.push(None);
                rows.push(Vec::new());
                continue;
            }
            rows.push(seq);
            slots.push(Some(starts));
        }
        let refs: Vec<&[u32]> = rows.iter().map(Vec::as_slice).collect();
        let hidden = self.run(&refs, encoded)?;
        // Every row holds the prompt and the words before the digits: the first that ran says
        // what the decoder would write where the digits start.
        let first = match slots.iter().position(Option::is_some) {
            Some(row) => {
                let at = row * LEN + prompt(lang).len() + words.len() - 1;
                self.next_token(&hidden[at * DIM..][..DIM])
            }
            None => END,
        };
        let mut best = f32::MIN;
        for (row, (form, starts)) in forms.iter().zip(slots).enumerate() {
            let Some(starts) = starts else { continue };
            let mut weakest = f32::MAX;
            for (i, (&d, &start)) in digits.iter().zip(&starts).enumerate() {
                let at = &hidden[(row * LEN + start - 1) * DIM..][..DIM];
                let variants = table(form, i, !words.is_empty());
                let score = |digit: usize| {
                    log_sum_exp(variants[digit].iter().map(|v| self.logit(at, v[0])))
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
        Ok((best, first))
    }

    /// Runs the graph on up to [`ROWS`] token sequences (each at most [`LEN`], padded with
    /// `<|endoftext|>`): the hidden states, `[ROWS, LEN, DIM]`.
    fn run(&self, rows: &[&[u32]], encoded: &[f32]) -> Result<Vec<f32>> {
        let mut embedded = vec![0f32; ROWS * LEN * DIM];
        for (row, out) in embedded.chunks_exact_mut(LEN * DIM).enumerate() {
            let seq = rows.get(row).copied().unwrap_or(&[]);
            for (t, slot) in out.chunks_exact_mut(DIM).enumerate() {
                self.embed(seq.get(t).copied().unwrap_or(END), slot);
            }
        }
        Ok(self.model.run(&[&embedded, encoded])?.remove(0))
    }

    /// Writes token `id`'s embedding into `out` (exact for the verifier's tokens).
    fn embed(&self, id: u32, out: &mut [f32]) {
        let v = &self.vocabulary;
        if let Some(&c) = self.columns.get(&id) {
            out.copy_from_slice(&v.exact[c * DIM..][..DIM]);
        } else {
            let row = &v.int8[id as usize * DIM..][..DIM];
            let scale = v.scale[id as usize];
            for (o, &q) in out.iter_mut().zip(row) {
                *o = scale * f32::from(q);
            }
        }
    }

    /// The logit of verifier token `id` given the hidden state `at`.
    fn logit(&self, at: &[f32], id: u32) -> f32 {
        let c = self.columns[&id];
        dot(at, &self.vocabulary.exact[c * DIM..][..DIM])
    }

    /// The decoder's choice of next token given the hidden state `at`: the best text token or
    /// `<|endoftext|>` (no other special token), over the int8 embedding. The state is rounded
    /// to 15-bit integers so that the 26 M products are integer ones (2.4 times faster than
    /// in float32 here).
    fn next_token(&self, at: &[f32]) -> u32 {
        let v = &self.vocabulary;
        let top = at.iter().fold(0f32, |m, x| m.max(x.abs()));
        if !top.is_finite() || top == 0.0 {
            return END;
        }
        let step = top / STATE_LEVELS;
        let state: Vec<i16> = at.iter().map(|x| (x / step).round() as i16).collect();
        let rows = v
            .int8
            .chunks_exact(DIM)
            .zip(&v.scale)
            .take(END as usize + 1);
        let mut best = (f32::NEG_INFINITY, END);
        for (id, (row, &scale)) in rows.enumerate() {
            let logit = scale * dot_i16_i8(&state, row) as f32;
            if logit > best.0 {
                best = (logit, id as u32);
            }
        }
        best.1
    }
}

/// The largest magnitude of the hidden state rounded for [`DigitDecoder::next_token`]: 512
/// products of at most this times 127 stay far inside an `i32`.
const STATE_LEVELS: f32 = 16_383.0;

/// Tokens of the number-start list the graph carries (its `number_tokens` output).
const NUMBER_TOKENS: usize = 482;

/// `<|startoftranscript|>`, the language, `<|transcribe|>`, `<|notimestamps|>`.
fn prompt(lang: u32) -> [u32; 4] {
    [START, lang, TRANSCRIBE, NO_TIMESTAMPS]
}

/// The variants of the digits in slot `i` of `form`.
fn table(form: &Form, i: usize, after_words: bool) -> &'static [Variants; 10] {
    match (i, after_words) {
        (0, false) => form.first,
        (0, true) => form.first_after_words,
        _ => form.rest,
    }
}

/// Dot product in 16 independent lanes (so the compiler vectorises it).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    for (x, y) in a.chunks_exact(16).zip(b.chunks_exact(16)) {
        for k in 0..16 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum()
}

/// [`dot`] in integers.
fn dot_i16_i8(a: &[i16], q: &[i8]) -> i32 {
    let mut acc = [0i32; 16];
    for (x, y) in a.chunks_exact(16).zip(q.chunks_exact(16)) {
        for k in 0..16 {
            acc[k] += i32::from(x[k]) * i32::from(y[k]);
        }
    }
    acc.iter().sum()
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
                for t in [form.first, form.rest, table(form, 0, true)] {
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
    fn after_words_a_first_digit_may_be_written_with_or_without_a_space() {
        // English " 2" and Mandarin "2" first slots take both spellings after words; words,
        // hanzi and every later slot are unchanged.
        assert_eq!(*table(&ENGLISH_FORMS[0], 0, true), SYMBOL);
        assert_eq!(*table(&MANDARIN_FORMS[1], 0, true), SYMBOL);
        assert_eq!(*table(&ENGLISH_FORMS[0], 0, false), SPACED);
        assert_eq!(*table(&ENGLISH_FORMS[2], 0, true), WORDS);
        assert_eq!(*table(&MANDARIN_FORMS[0], 0, true), HANZI);
        assert_eq!(*table(&ENGLISH_FORMS[0], 1, true), SPACED);
        for d in 0..10 {
            assert_eq!(SYMBOL[d], [SPACED[d][0], PLAIN[d][0]]);
        }
    }

    #[test]
    fn integer_dot_products_match_float_ones() {
        let a: Vec<f32> = (0..DIM)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let q: Vec<i8> = (0..DIM)
            .map(|i| ((i * 7919 % 255) as i32 - 127) as i8)
            .collect();
        let exact = dot(&a, &q.iter().map(|&v| f32::from(v)).collect::<Vec<_>>());
        let step = a.iter().fold(0f32, |m, x| m.max(x.abs())) / STATE_LEVELS;
        let state: Vec<i16> = a.iter().map(|x| (x / step).round() as i16).collect();
        let integer = dot_i16_i8(&state, &q) as f32 * step;
        assert!(
            (integer - exact).abs() <= 1e-3 * exact.abs().max(1.0),
            "{integer} vs {exact}"
        );
        // The largest state times the largest weight, 512 times, fits an i32.
        let top = vec![STATE_LEVELS as i16; DIM];
        assert_eq!(dot_i16_i8(&top, &[127; DIM]), 16_383 * 127 * 512);
    }

    #[test]
    fn log_sum_exp_of_equal_values_adds_ln_n() {
        let v = log_sum_exp([1.0f32, 1.0, 1.0].into_iter());
        assert!((v - (1.0 + 3f32.ln())).abs() < 1e-6);
    }
}
