//! Thin helpers over `ort::Session`: owned tensors in, owned tensors out, and the I/O
//! metadata the start-up checks compare with the manifest.

use ort::session::Session;
use ort::value::{Tensor, TensorElementType, ValueType};

/// An owned float32 tensor (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorF32 {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl TensorF32 {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Self { shape, data }
    }
}

/// A value fed to a session input.
#[derive(Debug, Clone)]
pub enum Feed {
    F32(TensorF32),
    /// Fidelity weights are double in CodeFormer's export.
    F64 {
        shape: Vec<usize>,
        data: Vec<f64>,
    },
}

/// One input or output of a graph as ONNX Runtime reports it (-1 = dynamic dimension).
#[derive(Debug, Clone, PartialEq)]
pub struct IoInfo {
    pub name: String,
    pub elem: Option<TensorElementType>,
    pub shape: Vec<i64>,
}

impl IoInfo {
    pub fn is_f32(&self) -> bool {
        self.elem == Some(TensorElementType::Float32)
    }

    pub fn describe(&self) -> String {
        let dims: Vec<String> = self
            .shape
            .iter()
            .map(|d| {
                if *d < 0 {
                    "?".to_string()
                } else {
                    d.to_string()
                }
            })
            .collect();
        let ty = self
            .elem
            .map(|e| format!("{e:?}").to_ascii_lowercase())
            .unwrap_or_else(|| "non-tensor".into());
        format!("{} {ty} [{}]", self.name, dims.join(","))
    }
}

fn io_info(name: &str, ty: &ValueType) -> IoInfo {
    match ty {
        ValueType::Tensor { ty, shape, .. } => IoInfo {
            name: name.to_string(),
            elem: Some(*ty),
            shape: shape.to_vec(),
        },
        _ => IoInfo {
            name: name.to_string(),
            elem: None,
            shape: Vec::new(),
        },
    }
}

/// The session's inputs, in graph order.
pub fn inputs(session: &Session) -> Vec<IoInfo> {
    session
        .inputs()
        .iter()
        .map(|o| io_info(o.name(), o.dtype()))
        .collect()
}

/// The session's outputs, in graph order.
pub fn outputs(session: &Session) -> Vec<IoInfo> {
    session
        .outputs()
        .iter()
        .map(|o| io_info(o.name(), o.dtype()))
        .collect()
}

/// Runs the session and returns the named float32 outputs, in the order asked.
/// Errors are ONNX Runtime's messages (the caller classifies them).
pub fn run(
    session: &mut Session,
    feeds: Vec<(String, Feed)>,
    wanted: &[String],
) -> Result<Vec<TensorF32>, String> {
    run_inner(session, feeds, wanted).map_err(|e| e.to_string())
}

fn run_inner(
    session: &mut Session,
    feeds: Vec<(String, Feed)>,
    wanted: &[String],
) -> ort::Result<Vec<TensorF32>> {
    let mut values: Vec<(String, ort::session::SessionInputValue<'_>)> = Vec::new();
    for (name, feed) in feeds {
        let value = match feed {
            Feed::F32(t) => Tensor::from_array((t.shape, t.data))?.into_dyn().into(),
            Feed::F64 { shape, data } => Tensor::from_array((shape, data))?.into_dyn().into(),
        };
        values.push((name, value));
    }
    let outputs = session.run(values)?;
    let mut out = Vec::with_capacity(wanted.len());
    for name in wanted {
        let value = outputs
            .get(name.as_str())
            .ok_or_else(|| ort::Error::new(format!("the model has no output {name:?}")))?;
        let (shape, data) = value.try_extract_tensor::<f32>()?;
        let shape: Vec<usize> = shape.iter().map(|d| (*d).max(0) as usize).collect();
        out.push(TensorF32::new(shape, data.to_vec()));
    }
    Ok(out)
}
