//! Restoring aligned face crops with any restorer: a fixed-size one (S×S in and out) or
//! an enlarging one (Real-ESRGAN: each face fed at a side chosen from its size in the
//! source, the output resized to S).

use super::{Restorer, tensor};
use crate::pipeline::error::PipelineError;
use crate::pipeline::image::cv;
use image::RgbImage;
use std::collections::BTreeMap;

/// The smallest input side an enlarging restorer is fed: below it a face carries too
/// little for the network to work with, and tiny inputs waste the batch.
pub const MIN_FACE_INPUT: u32 = 32;

impl Restorer {
    /// The side of the aligned crop to feed for a face whose `size`-crop covers `face_px`
    /// source pixels (see [`face_input_side`]).
    pub fn input_side(&self, face_px: f64) -> u32 {
        face_input_side(self.spec().size, self.spec().scale, face_px)
    }

    /// Restores aligned crops (each square, at its face's [`Restorer::input_side`]) and
    /// returns them as `size`×`size` crops, in order. Crops of one side run as one
    /// request, so they batch with each other and with other jobs' faces.
    pub async fn restore_crops(
        &self,
        crops: Vec<RgbImage>,
        fidelity: Option<f32>,
    ) -> Result<Vec<RgbImage>, PipelineError> {
        let norm = self.spec().normalisation;
        let size = self.spec().size;
        // Side → the indices of the crops of that side, in order.
        let mut groups: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, c) in crops.iter().enumerate() {
            groups.entry(c.width()).or_default().push(i);
        }
        let crops = std::sync::Arc::new(crops);
        let runs = groups.into_values().map(|indices| {
            let crops = std::sync::Arc::clone(&crops);
            async move {
                let group = indices.clone();
                let input = blocking(move || {
                    let own: Vec<RgbImage> = group.iter().map(|&i| crops[i].clone()).collect();
                    tensor::preprocess(&own, norm)
                })
                .await?;
                let output = self.run(input, fidelity).await?;
                let restored = blocking(move || {
                    tensor::postprocess(&output, norm)
                        .into_iter()
                        .map(|face| to_side(face, size))
                        .collect::<Vec<_>>()
                })
                .await?;
                Ok::<_, PipelineError>(indices.into_iter().zip(restored).collect::<Vec<_>>())
            }
        });
        let mut out: Vec<Option<RgbImage>> = vec![None; crops.len()];
        for group in futures_util::future::try_join_all(runs).await? {
            for (i, face) in group {
                out[i] = Some(face);
            }
        }
        out.into_iter()
            .map(|f| f.ok_or_else(|| PipelineError::Internal("a face was not restored".into())))
            .collect()
    }
}

/// The side of the aligned crop fed to a restorer for a face whose `size`-crop covers
/// `face_px` source pixels (the crop's side measured in the source).
///
/// A fixed-size restorer (`scale` = None) always takes `size`. An enlarging one takes the
/// smallest power of two ≥ `face_px`, at least [`MIN_FACE_INPUT`] and at most `size`: the
/// face reaches the network with every source pixel it has (a large, sharp face loses
/// nothing), a small one is not blown up before the network adds detail, and faces of
/// similar size share an input shape, so they batch together.
pub fn face_input_side(size: u32, scale: Option<u32>, face_px: f64) -> u32 {
    if scale.is_none() {
        return size;
    }
    let wanted = if face_px.is_finite() {
        face_px.ceil().clamp(1.0, f64::from(size)) as u32
    } else {
        size
    };
    wanted
        .checked_next_power_of_two()
        .unwrap_or(size)
        .clamp(MIN_FACE_INPUT, size.max(MIN_FACE_INPUT))
}

/// A restored face at the crop side `size`: shrunk by pixel-area averaging (no aliasing)
/// or enlarged with Lanczos.
fn to_side(face: RgbImage, size: u32) -> RgbImage {
    match face.width().cmp(&size) {
        std::cmp::Ordering::Equal => face,
        std::cmp::Ordering::Greater => cv::resize_area(&face, size, size),
        std::cmp::Ordering::Less => cv::resize_lanczos4(&face, size, size),
    }
}

/// Runs CPU work on a blocking thread; a panic there becomes an internal error.
pub(super) async fn blocking<T, F>(f: F) -> Result<T, PipelineError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PipelineError::Internal(format!("an image stage panicked: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enlarging_restorers_see_each_face_at_its_own_size() {
        // Fixed-size restorers: always the model size.
        assert_eq!(face_input_side(512, None, 40.0), 512);
        // A tiny face is not blown up; 90 px fits a 128 input (×4 = 512 exactly).
        assert_eq!(face_input_side(512, Some(4), 10.0), MIN_FACE_INPUT);
        assert_eq!(face_input_side(512, Some(4), 64.0), 64);
        assert_eq!(face_input_side(512, Some(4), 90.2), 128);
        // A large face keeps every pixel up to the crop size.
        assert_eq!(face_input_side(512, Some(4), 300.0), 512);
        assert_eq!(face_input_side(512, Some(4), 5000.0), 512);
        assert_eq!(face_input_side(512, Some(4), f64::NAN), 512);
    }
}
