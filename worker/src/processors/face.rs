//! The face pipeline as the job loop's [`ImageProcessor`]: job parameters become a
//! pipeline [`Request`], pipeline results and errors become the job loop's.

use super::{ImageProcessor, ModelInfo, ProcessError, Processed, StageObserver, UpsamplerInfo};
use crate::pipeline::{FacePipeline, PipelineError, Request, Timings};
use async_trait::async_trait;
use bytes::Bytes;
use facefix_shared::job::{JobParams, StageTimings};
use std::sync::Arc;

impl From<&JobParams> for Request {
    fn from(p: &JobParams) -> Self {
        Self {
            restorer: p.model.clone(),
            upscale: u32::from(p.upscale),
            aligned: p.aligned,
            only_center_face: p.only_center_face,
            fidelity: p.fidelity,
            format: p.format,
            bg_upsampler: p.bg_upsampler.clone(),
        }
    }
}

/// The stage timings as the job record stores them (fetch, store and the job's total are
/// the job loop's).
fn stage_timings(t: &Timings) -> StageTimings {
    StageTimings {
        decode: Some(t.decode),
        detect: Some(t.detect),
        align: Some(t.align),
        restore: Some(t.restore),
        paste: Some(t.paste),
        encode: Some(t.encode),
        ..StageTimings::default()
    }
}

impl From<PipelineError> for ProcessError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Transient(m) => ProcessError::Transient(m),
            other => ProcessError::permanent(other.code(), other.to_string()),
        }
    }
}

#[async_trait]
impl ImageProcessor for FacePipeline {
    async fn process(
        &self,
        input: Bytes,
        params: &JobParams,
        observer: Arc<dyn StageObserver>,
    ) -> Result<Processed, ProcessError> {
        let out = self.run(input, &Request::from(params), observer).await?;
        Ok(Processed {
            bytes: Bytes::from(out.bytes),
            format: out.format,
            width: out.width,
            height: out.height,
            faces_found: u32::try_from(out.faces.len()).unwrap_or(u32::MAX),
            faces_restored: u32::try_from(out.num_restored).unwrap_or(u32::MAX),
            timings: stage_timings(&out.timings),
            notes: out.notes,
        })
    }

    fn upsamplers(&self) -> Vec<UpsamplerInfo> {
        self.engine().upsamplers()
    }

    fn models(&self) -> Vec<ModelInfo> {
        self.engine()
            .restorers()
            .iter()
            .enumerate()
            .filter(|(i, r)| *i == 0 || !r.spec().hidden)
            .map(|(i, r)| {
                let s = r.spec();
                ModelInfo {
                    name: s.name.clone(),
                    description: s.description.clone(),
                    licence: s.licence.clone(),
                    fidelity: s.fidelity.is_some(),
                    default: i == 0,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use facefix_shared::ErrorCode;

    #[test]
    fn pipeline_errors_keep_their_code_and_retry_decision() {
        let p: ProcessError = PipelineError::from_run_error("Got invalid dimensions".into()).into();
        assert!(matches!(
            p,
            ProcessError::Permanent {
                code: ErrorCode::ModelFailed,
                ..
            }
        ));
        let t: ProcessError = PipelineError::Transient("out of memory".into()).into();
        assert!(matches!(t, ProcessError::Transient(_)));
    }
}
