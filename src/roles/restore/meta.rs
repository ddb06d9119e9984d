//! META.json (`--json`): what was restored and how, in the reference's field names.

use super::bench::Bench;
use crate::cli::RestoreArgs;
use facefix_worker::pipeline::detect::DetectorStats;
use facefix_worker::pipeline::image::decode::SourceInfo;
use facefix_worker::pipeline::{Face, FacePipeline, Restored, Timings};
use serde::Serialize;

/// META.json.
#[derive(Debug, Serialize)]
pub struct Meta {
    pub image_size: [u32; 2],
    pub output_size: [u32; 2],
    pub upscale: u8,
    pub aligned: bool,
    pub only_center_face: bool,
    pub source: SourceInfo,
    pub restorer: RestorerMeta,
    pub device: &'static str,
    pub num_detected: usize,
    pub num_faces: usize,
    pub num_restored: usize,
    pub faces: Vec<Face>,
    pub timings_ms: Timings,
    pub model_load_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detector_stats: Option<DetectorStats>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bench: Option<Bench>,
}

/// The restorer part of META.json.
#[derive(Debug, Serialize)]
pub struct RestorerMeta {
    pub name: String,
    pub path: String,
    pub input_name: String,
    pub size: u32,
    pub max_batch: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fidelity_input: Option<String>,
    /// `--precision`: fp32, or fp16 (the model's fp16 variant; with TensorRT, fp16
    /// kernels built from the fp32 file).
    pub precision: &'static str,
}

impl Meta {
    pub fn new(
        r: &Restored,
        timings: &Timings,
        args: &RestoreArgs,
        p: &FacePipeline,
        load_ms: f64,
    ) -> Self {
        let engine = p.engine();
        let loaded = engine
            .restorers()
            .iter()
            .find(|x| x.spec().name == r.restorer);
        let precision = loaded.map_or("fp32", |x| x.precision().as_str());
        let spec = loaded.map(|x| x.spec().clone());
        Self {
            image_size: [r.input_width, r.input_height],
            output_size: [r.width, r.height],
            upscale: args.upscale,
            aligned: args.aligned,
            only_center_face: args.only_center_face,
            source: r.source,
            restorer: RestorerMeta {
                name: r.restorer.clone(),
                path: spec
                    .as_ref()
                    .map(|s| s.path.display().to_string())
                    .unwrap_or_default(),
                input_name: spec.as_ref().map(|s| s.input.clone()).unwrap_or_default(),
                size: spec.as_ref().map_or(0, |s| s.size),
                max_batch: spec.as_ref().map_or(1, |s| s.max_batch),
                fidelity_input: spec.and_then(|s| s.fidelity.map(|f| f.name)),
                precision,
            },
            device: engine.device.as_str(),
            num_detected: r.num_detected,
            num_faces: r.faces.len(),
            num_restored: r.num_restored,
            faces: r.faces.clone(),
            timings_ms: *timings,
            model_load_ms: load_ms,
            detector_stats: r.detector_stats.clone(),
            notes: r.notes.clone(),
            bench: None,
        }
    }
}
