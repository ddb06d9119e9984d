//! What a restorer is, checked at start: the manifest entry against the ONNX graph.

use crate::pipeline::inference::runtime::RuntimeError;
use crate::pipeline::inference::session::IoInfo;
use facefix_shared::models::{Channels, Layout, ModelEntry, ModelRole, Normalisation};
use ort::value::TensorElementType;
use std::path::{Path, PathBuf};

/// Fidelity weight fed when a job gives none (facefusion's and the reference's default).
pub const DEFAULT_FIDELITY: f64 = 0.5;
/// Input names taken as a fidelity weight in models outside the manifest.
pub const FIDELITY_INPUT_NAMES: [&str; 2] = ["w", "weight"];
/// Batch limit of a dynamic-batch model outside the manifest.
pub const DEFAULT_MAX_BATCH: u32 = 8;

/// The fidelity input of a model that has one.
#[derive(Debug, Clone, PartialEq)]
pub struct FidelityInput {
    pub name: String,
    /// float (f32) or double (f64).
    pub double: bool,
    /// Rank of the input (the value is fed as shape [1; rank], like the reference).
    pub rank: usize,
}

/// A restorer, ready to run: names, size and limits verified against its graph.
#[derive(Debug, Clone, PartialEq)]
pub struct RestorerSpec {
    pub name: String,
    pub description: String,
    pub licence: String,
    pub path: PathBuf,
    /// Side of the restored face crop (the model's input and output for a fixed-size
    /// restorer; what an enlarging one's output is resized to).
    pub size: u32,
    /// An enlarging model's factor (any H×W in, `scale`× out); `None` for S→S.
    pub scale: Option<u32>,
    pub normalisation: Normalisation,
    pub input: String,
    pub output: String,
    pub fidelity: Option<FidelityInput>,
    /// Faces per session run (1 for a graph with a fixed batch of 1).
    pub max_batch: usize,
    pub default: bool,
    pub hidden: bool,
}

/// A manifest-like entry for a restorer given by path (`--restorer file.onnx`), derived
/// from its graph the way the reference does: image input `input` (else the first 4-D
/// one), size from its shape (512 when symbolic), extra inputs only `w`/`weight`.
pub fn entry_for_path(path: &Path, inputs: &[IoInfo]) -> Result<ModelEntry, RuntimeError> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "restorer".into());
    let fail = |message: String| RuntimeError::Contract {
        model: name.clone(),
        message,
    };
    let image = inputs
        .iter()
        .find(|i| i.name == "input")
        .or_else(|| inputs.iter().find(|i| i.shape.len() == 4))
        .ok_or_else(|| fail("no 4-D image input".into()))?;
    let mut names = vec![image.name.clone()];
    let mut fidelity = None;
    for i in inputs.iter().filter(|i| i.name != image.name) {
        if !FIDELITY_INPUT_NAMES.contains(&i.name.as_str()) {
            return Err(fail(format!(
                "unknown extra input {:?} (only w / weight are fed)",
                i.name
            )));
        }
        names.push(i.name.clone());
        fidelity = Some(i.name.clone());
    }
    let size = match (image.shape.get(2), image.shape.get(3)) {
        (Some(&h), _) if h > 0 => h,
        (_, Some(&w)) if w > 0 => w,
        _ => 512,
    };
    Ok(ModelEntry {
        name: name.clone(),
        role: ModelRole::Restorer,
        default: false,
        hidden: false,
        description: format!("{} (not in the manifest)", path.display()),
        file: path.to_path_buf(),
        sha256: String::new(),
        sha256_note: None,
        url: None,
        source: None,
        licence: "unknown".into(),
        inputs: names,
        fidelity_input: fidelity,
        size: u32::try_from(size).unwrap_or(512),
        layout: Layout::Nchw,
        channels: Channels::Rgb,
        normalisation: Normalisation::MinusOneToOne,
        max_batch: DEFAULT_MAX_BATCH,
        scale: None,
        bg_upsampler: None,
        fp16: None,
    })
}

/// Checks the graph's inputs and outputs against the entry; `batch_cap` further limits
/// the batch (`--max-batch`).
pub fn check(
    entry: &ModelEntry,
    path: &Path,
    inputs: &[IoInfo],
    outputs: &[IoInfo],
    batch_cap: Option<u32>,
) -> Result<RestorerSpec, RuntimeError> {
    let fail = |message: String| RuntimeError::Contract {
        model: entry.name.clone(),
        message,
    };
    let mut graph_names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
    let mut want: Vec<&str> = entry.inputs.iter().map(String::as_str).collect();
    graph_names.sort_unstable();
    want.sort_unstable();
    if graph_names != want {
        return Err(fail(format!(
            "the graph's inputs are {graph_names:?}, the manifest says {want:?}"
        )));
    }
    // An enlarging model must take any size: its spatial dimensions are symbolic (-1).
    let (s, side) = match entry.scale {
        None => (i64::from(entry.size), entry.size.to_string()),
        Some(_) => (-1, "?".to_string()),
    };
    let image = inputs
        .iter()
        .find(|i| i.name == entry.image_input())
        .ok_or_else(|| fail("no image input".into()))?;
    let dims_ok = |io: &IoInfo| {
        io.shape.len() == 4
            && [3, s, s]
                .iter()
                .zip(&io.shape[1..])
                .all(|(want, got)| *got < 0 || (got == want && *want >= 0))
    };
    if !image.is_f32() || !dims_ok(image) {
        return Err(fail(format!(
            "image input {} is not float32 [N,3,{side},{side}]",
            image.describe()
        )));
    }
    let output = outputs
        .first()
        .ok_or_else(|| fail("the graph has no output".into()))?;
    if !output.is_f32() || !dims_ok(output) {
        return Err(fail(format!(
            "output {} is not float32 [N,3,{side},{side}]",
            output.describe()
        )));
    }
    let max_batch = match image.shape[0] {
        1 => 1,
        d if d > 1 => {
            return Err(fail(format!(
                "a fixed batch of {d} is not supported (use 1 or a symbolic batch)"
            )));
        }
        _ => entry.max_batch.min(batch_cap.unwrap_or(u32::MAX)).max(1) as usize,
    };
    let fidelity = match &entry.fidelity_input {
        None => None,
        Some(name) => {
            let io = inputs
                .iter()
                .find(|i| &i.name == name)
                .ok_or_else(|| fail(format!("no fidelity input {name:?}")))?;
            let double = match io.elem {
                Some(TensorElementType::Float64) => true,
                Some(TensorElementType::Float32) => false,
                _ => {
                    return Err(fail(format!(
                        "fidelity input {} is not float or double",
                        io.describe()
                    )));
                }
            };
            if io.shape.len() > 1 || io.shape.iter().any(|d| *d > 1) {
                return Err(fail(format!(
                    "fidelity input {} is not a scalar or [1]",
                    io.describe()
                )));
            }
            Some(FidelityInput {
                name: name.clone(),
                double,
                rank: io.shape.len(),
            })
        }
    };
    Ok(RestorerSpec {
        name: entry.name.clone(),
        description: entry.description.clone(),
        licence: entry.licence.clone(),
        path: path.to_path_buf(),
        size: entry.size,
        scale: entry.scale,
        normalisation: entry.normalisation,
        input: image.name.clone(),
        output: output.name.clone(),
        fidelity,
        max_batch,
        default: entry.default,
        hidden: entry.hidden,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(name: &str, elem: TensorElementType, shape: &[i64]) -> IoInfo {
        IoInfo {
            name: name.into(),
            elem: Some(elem),
            shape: shape.to_vec(),
        }
    }

    const F: TensorElementType = TensorElementType::Float32;

    #[test]
    fn path_entries_follow_the_reference() {
        let ins = [
            io("input", F, &[-1, 3, 256, 256]),
            io("weight", TensorElementType::Float64, &[1]),
        ];
        let e = entry_for_path(Path::new("/m/cf.onnx"), &ins).expect("entry");
        assert_eq!(e.size, 256);
        assert_eq!(e.fidelity_input.as_deref(), Some("weight"));
        let outs = [io("output", F, &[-1, 3, 256, 256])];
        let spec = check(&e, Path::new("/m/cf.onnx"), &ins, &outs, Some(4)).expect("spec");
        assert_eq!(spec.max_batch, 4);
        assert!(
            spec.fidelity
                .as_ref()
                .is_some_and(|f| f.double && f.rank == 1)
        );
        let bad = [io("input", F, &[1, 3, 64, 64]), io("noise", F, &[1])];
        assert!(entry_for_path(Path::new("x.onnx"), &bad).is_err());
    }

    #[test]
    fn shapes_are_checked() {
        let ins = [io("input", F, &[1, 3, 512, 512])];
        let e = entry_for_path(Path::new("x.onnx"), &ins).expect("entry");
        let outs = [io("output", F, &[1, 3, 512, 512])];
        assert_eq!(
            check(&e, Path::new("x"), &ins, &outs, None)
                .expect("ok")
                .max_batch,
            1
        );
        let wrong = [io("output", F, &[1, 3, 256, 256])];
        assert!(check(&e, Path::new("x"), &ins, &wrong, None).is_err());
        let mut e2 = e.clone();
        e2.size = 256;
        assert!(check(&e2, Path::new("x"), &ins, &outs, None).is_err());
        let mut e3 = e;
        e3.inputs = vec!["input".into(), "weight".into()];
        assert!(check(&e3, Path::new("x"), &ins, &outs, None).is_err());
    }
}
