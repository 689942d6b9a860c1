//! WAV decoding (through `hound`): integer PCM of 8, 16, 24 or 32 bits and 32-bit float, any
//! supported rate, any channel count (averaged to mono).
//!
//! Errors are typed: [`Error::InvalidWav`] for a malformed or truncated file,
//! [`Error::UnsupportedWav`] for encodings outside the list above, [`Error::BadSampleRate`] for a
//! rate outside [`MIN_RATE`](super::MIN_RATE)`..=`[`MAX_RATE`](super::MAX_RATE), and
//! [`Error::AudioTooLong`] when the header announces more than [`MAX_SECONDS`](super::MAX_SECONDS)
//! (checked before any sample is read, so a garbage length never allocates).

use std::io::Read;
use std::path::Path;

use hound::{SampleFormat, WavReader};

use super::{check_length, check_rate, Pcm};
use crate::error::{Error, Result};

/// Decodes the WAV file at `path` to mono.
pub fn read_path(path: impl AsRef<Path>) -> Result<Pcm> {
    let path = path.as_ref();
    let file = std::fs::File::open(path)
        .map_err(|e| Error::InvalidWav(format!("cannot open {}: {e}", path.display())))?;
    decode(std::io::BufReader::new(file))
}

/// Decodes a WAV file held in memory to mono.
pub fn read_bytes(bytes: &[u8]) -> Result<Pcm> {
    decode(std::io::Cursor::new(bytes))
}

fn hound_error(e: hound::Error) -> Error {
    match e {
        hound::Error::Unsupported => {
            Error::UnsupportedWav("hound cannot decode this format".into())
        }
        hound::Error::TooWide | hound::Error::InvalidSampleFormat => {
            Error::UnsupportedWav(e.to_string())
        }
        other => Error::InvalidWav(other.to_string()),
    }
}

/// Errors while reading samples after a valid header: the data chunk is shorter than announced.
fn sample_error(e: hound::Error) -> Error {
    match e {
        hound::Error::IoError(io) => Error::InvalidWav(format!(
            "truncated: the file ends before the samples its header announces ({io})"
        )),
        other => hound_error(other),
    }
}

fn decode<R: Read>(reader: R) -> Result<Pcm> {
    let mut reader = WavReader::new(reader).map_err(hound_error)?;
    let spec = reader.spec();
    check_rate(spec.sample_rate)?;
    let channels = spec.channels as usize;
    if channels == 0 {
        return Err(Error::InvalidWav("zero channels".into()));
    }
    check_length(reader.duration() as u64, spec.sample_rate)?;
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (SampleFormat::Float, 32) => reader
            .samples::<f32>()
            .collect::<std::result::Result<_, _>>()
            .map_err(sample_error)?,
        (SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f64;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| (v as f64 * scale) as f32))
                .collect::<std::result::Result<_, _>>()
                .map_err(sample_error)?
        }
        (format, bits) => {
            return Err(Error::UnsupportedWav(format!(
                "{bits}-bit {}",
                match format {
                    SampleFormat::Float => "float",
                    SampleFormat::Int => "integer",
                }
            )))
        }
    };
    let samples = if channels == 1 {
        interleaved
    } else {
        let inv = 1.0 / channels as f32;
        interleaved
            .chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() * inv)
            .collect()
    };
    Ok(Pcm {
        samples,
        sample_rate: spec.sample_rate,
    })
}

/// Encodes mono samples as a 16-bit PCM WAV file in memory (clipping to `[-1, 1]`); used by
/// tools that hand audio around as bytes.
pub fn encode_i16(samples: &[f32], sample_rate: u32) -> Result<Vec<u8>> {
    check_rate(sample_rate)?;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: SampleFormat::Int,
    };
    let mut out = std::io::Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    {
        let mut w = hound::WavWriter::new(&mut out, spec).map_err(hound_error)?;
        for &s in samples {
            let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
            w.write_sample(v).map_err(hound_error)?;
        }
        w.finalize().map_err(hound_error)?;
    }
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(
        spec: hound::WavSpec,
        write: impl FnOnce(&mut hound::WavWriter<&mut std::io::Cursor<Vec<u8>>>),
    ) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        {
            let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
            write(&mut w);
            w.finalize().unwrap();
        }
        out.into_inner()
    }

    fn spec(channels: u16, rate: u32, bits: u16, format: SampleFormat) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: format,
        }
    }

    #[test]
    fn decodes_every_integer_depth_to_unit_range() {
        for bits in [8u16, 16, 24, 32] {
            let full = (1i64 << (bits - 1)) - 1;
            let bytes = wav(spec(1, 8000, bits, SampleFormat::Int), |w| {
                for v in [0, full / 2, -full / 2 - 1, full] {
                    match bits {
                        8 => w.write_sample(v as i8).unwrap(),
                        16 => w.write_sample(v as i16).unwrap(),
                        _ => w.write_sample(v as i32).unwrap(),
                    }
                }
            });
            let pcm = read_bytes(&bytes).unwrap();
            assert_eq!(pcm.sample_rate, 8000);
            assert_eq!(pcm.samples.len(), 4, "{bits} bits");
            assert_eq!(pcm.samples[0], 0.0);
            assert!(
                (pcm.samples[1] - 0.5).abs() < 0.01,
                "{bits}: {:?}",
                pcm.samples
            );
            assert!(
                (pcm.samples[2] + 0.5).abs() < 0.01,
                "{bits}: {:?}",
                pcm.samples
            );
            assert!(
                (pcm.samples[3] - 1.0).abs() < 0.01,
                "{bits}: {:?}",
                pcm.samples
            );
        }
    }

    #[test]
    fn decodes_float_and_downmixes_stereo() {
        let bytes = wav(spec(2, 44_100, 32, SampleFormat::Float), |w| {
            for (l, r) in [(0.5f32, -0.5f32), (1.0, 0.0), (0.25, 0.75)] {
                w.write_sample(l).unwrap();
                w.write_sample(r).unwrap();
            }
        });
        let pcm = read_bytes(&bytes).unwrap();
        assert_eq!(pcm.sample_rate, 44_100);
        assert_eq!(pcm.samples, vec![0.0, 0.5, 0.5]);
    }

    #[test]
    fn round_trips_through_encode() {
        let samples: Vec<f32> = (0..100).map(|i| (i as f32 / 10.0).sin() * 0.8).collect();
        let pcm = read_bytes(&encode_i16(&samples, 16_000).unwrap()).unwrap();
        assert_eq!(pcm.samples.len(), 100);
        for (a, b) in pcm.samples.iter().zip(&samples) {
            assert!((a - b).abs() < 1e-4);
        }
    }

    #[test]
    fn rejects_malformed_truncated_and_out_of_range() {
        assert!(matches!(
            read_bytes(b"not a wav"),
            Err(Error::InvalidWav(_))
        ));
        assert!(matches!(read_bytes(&[]), Err(Error::InvalidWav(_))));
        let good = encode_i16(&[0.1; 1000], 16_000).unwrap();
        let e = read_bytes(&good[..good.len() - 100]).unwrap_err();
        assert!(
            matches!(e, Error::InvalidWav(ref m) if m.contains("truncated")),
            "{e}"
        );
        assert!(matches!(read_bytes(&good[..30]), Err(Error::InvalidWav(_))));

        // Zero sample rate: patch the header's rate field (offset 24).
        let mut zero = good.clone();
        zero[24..28].copy_from_slice(&0u32.to_le_bytes());
        zero[28..32].copy_from_slice(&0u32.to_le_bytes());
        assert!(matches!(
            read_bytes(&zero),
            Err(Error::BadSampleRate { rate: 0, .. })
        ));
        let mut slow = good.clone();
        slow[24..28].copy_from_slice(&100u32.to_le_bytes());
        slow[28..32].copy_from_slice(&200u32.to_le_bytes()); // byte rate = rate * 2
        assert!(matches!(
            read_bytes(&slow),
            Err(Error::BadSampleRate { rate: 100, .. })
        ));

        // A header announcing ~37 minutes of audio is refused before reading.
        let mut long = good.clone();
        let n = 2u32 * 16_000 * 60 * 37;
        long[40..44].copy_from_slice(&n.to_le_bytes());
        long[4..8].copy_from_slice(&(n + 36).to_le_bytes());
        let e = read_bytes(&long).unwrap_err();
        assert!(
            matches!(
                e,
                Error::AudioTooLong {
                    max_seconds: 600,
                    ..
                }
            ),
            "{e}"
        );

        let float64 = wav(spec(1, 8000, 32, SampleFormat::Float), |w| {
            w.write_sample(0.0f32).unwrap()
        });
        let mut f = float64.clone();
        // 12-bit integer: bits field at offset 34.
        f[20..22].copy_from_slice(&1u16.to_le_bytes());
        f[34..36].copy_from_slice(&12u16.to_le_bytes());
        assert!(read_bytes(&f).is_err());
    }
}
