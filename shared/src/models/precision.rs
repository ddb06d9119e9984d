//! Numeric precision of the restorers' graphs (`--precision`) and the manifest's
//! per-model float16 variants.

use super::{ModelEntry, ModelRole, is_sha256_hex};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which graph of a restorer the worker loads. Inputs and outputs are float32 either way.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// The model's own file.
    #[default]
    Fp32,
    /// The manifest's `fp16` variant (float16 weights and activations).
    Fp16,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fp32 => "fp32",
            Self::Fp16 => "fp16",
        }
    }
}

/// A model's float16 variant (`fp16 = { file = "...", sha256 = "..." }`): the same I/O as
/// the model, float32 at the edges (models/convert_fp16.py).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelVariant {
    /// Relative to the models directory.
    pub file: PathBuf,
    /// Lowercase hex; empty = checked against a `FILE.sha256` pin if there is one.
    #[serde(default)]
    pub sha256: String,
}

/// Why a model cannot be loaded at the asked precision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--precision fp16: model {model:?} has no fp16 variant in the manifest; run \
     scripts/setup-models.sh (it converts the shipped restorers), or convert the file with \
     models/convert_fp16.py and add `fp16 = {{ file, sha256 }}` to its manifest entry, or \
     use --precision fp32"
)]
pub struct NoVariant {
    pub model: String,
}

impl ModelEntry {
    /// The entry to load at `precision`: itself for fp32; for fp16, a copy whose `file`
    /// and `sha256` are the variant's. Everything else (I/O, size, batch) is shared.
    pub fn at_precision(&self, precision: Precision) -> Result<ModelEntry, NoVariant> {
        match (precision, &self.fp16) {
            (Precision::Fp32, _) => Ok(self.clone()),
            (Precision::Fp16, Some(v)) => Ok(ModelEntry {
                file: v.file.clone(),
                sha256: v.sha256.clone(),
                sha256_note: None,
                fp16: None,
                ..self.clone()
            }),
            (Precision::Fp16, None) => Err(NoVariant {
                model: self.name.clone(),
            }),
        }
    }

    /// The manifest rules for `fp16`; `None` when they hold.
    pub(super) fn variant_problem(&self) -> Option<&'static str> {
        let v = self.fp16.as_ref()?;
        if self.role != ModelRole::Restorer {
            return Some("only restorers have an fp16 variant (the detector stays fp32)");
        }
        if !v.sha256.is_empty() && !is_sha256_hex(&v.sha256) {
            return Some("fp16.sha256 must be 64 lowercase hex digits or empty");
        }
        if v.file.is_absolute() || v.file.components().any(|c| c.as_os_str() == "..") {
            return Some("fp16.file must be a relative path inside the models directory");
        }
        if v.file == self.file {
            return Some("fp16.file must differ from file");
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{repo_manifest, with_detectors};
    use super::*;
    use std::path::Path;

    #[test]
    fn shipped_restorers_have_pinned_fp16_variants() {
        let m = repo_manifest();
        for name in ["facefix-usm-512", "realesrgan-x4plus"] {
            let e = m.restorer(name).expect(name);
            let v = e.at_precision(Precision::Fp16).expect("variant");
            assert_ne!(v.file, e.file);
            assert!(v.file.to_string_lossy().ends_with(".fp16.onnx"));
            assert_eq!(v.manifest_sha256().map(str::len), Some(64));
            assert_ne!(v.sha256, e.sha256);
            assert_eq!(
                (v.size, v.max_batch, &v.inputs),
                (e.size, e.max_batch, &e.inputs)
            );
            assert_eq!(e.at_precision(Precision::Fp32).expect("fp32"), *e);
        }
    }

    #[test]
    fn a_model_without_a_variant_names_itself_and_the_fix() {
        let m = repo_manifest();
        let err = m
            .restorer("gfpgan-1.4")
            .expect("gfpgan")
            .at_precision(Precision::Fp16)
            .expect_err("no variant");
        let text = err.to_string();
        assert!(text.contains("\"gfpgan-1.4\""), "{text}");
        assert!(text.contains("scripts/setup-models.sh"), "{text}");
    }

    #[test]
    fn parses_and_checks_the_fp16_field() {
        let with = |fp16: &str| {
            with_detectors("").replace("max_batch = 4", &format!("max_batch = 4\nfp16 = {fp16}"))
        };
        let ok = Manifest::parse(
            &with(&format!(
                "{{ file = \"r.fp16.onnx\", sha256 = \"{}\" }}",
                "0".repeat(64)
            )),
            Path::new("m.toml"),
        )
        .expect("valid");
        let v = ok.models[0].fp16.as_ref().expect("fp16");
        assert_eq!(v.file, PathBuf::from("r.fp16.onnx"));
        let bad = [
            (
                "{ file = \"r.fp16.onnx\", sha256 = \"abc\" }",
                "fp16.sha256",
            ),
            ("{ file = \"../r.onnx\" }", "fp16.file"),
            ("{ file = \"r.onnx\" }", "differ"),
            ("{ file = \"x.onnx\", bogus = 1 }", "bogus"),
        ];
        for (fp16, want) in bad {
            let err = Manifest::parse(&with(fp16), Path::new("m.toml")).expect_err(want);
            assert!(
                err.to_string().contains(want),
                "{err} should mention {want}"
            );
        }
        let on_detector = with_detectors("").replace(
            "max_batch = 1\n",
            "max_batch = 1\nfp16 = { file = \"p.fp16.onnx\" }\n",
        );
        let err = Manifest::parse(&on_detector, Path::new("m.toml")).expect_err("detector");
        assert!(err.to_string().contains("only restorers"), "{err}");
    }

    use super::super::Manifest;
}
