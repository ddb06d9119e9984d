//! ONNX Runtime's TensorRT execution provider (`--device tensorrt`): its engine and
//! timing caches, fp16, and the optimisation profile for a restorer's dynamic dims.
//!
//! TensorRT compiles each graph into an engine for the GPU it runs on (minutes for a
//! GFPGAN-sized net), so engines are cached on disk and reused while the model file,
//! the shapes and the TensorRT version stay the same. The CUDA provider is registered
//! after it and takes the nodes TensorRT refuses.

use ort::ep;
use std::path::{Path, PathBuf};

/// The cache directory under the models directory when `--trt-engine-cache` is unset.
pub const DEFAULT_CACHE_SUBDIR: &str = "cache/tensorrt";

/// Smallest spatial side a profile admits for an enlarging model's input (tiles and
/// the smallest face inputs are larger).
const MIN_SIDE: u32 = 16;

/// TensorRT settings shared by every session of a worker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrtSettings {
    /// Where engines and the timing cache live (created if missing).
    pub cache_dir: PathBuf,
    /// Build fp16 kernels (`--precision fp16`): TensorRT takes the fp32 graph and
    /// chooses per layer.
    pub fp16: bool,
    /// The largest side an enlarging model is fed (a background tile with its context).
    pub max_tile_side: u32,
}

/// A restorer's input shapes for one TensorRT optimisation profile: batch 1 to
/// `max_batch`, and for an enlarging model any side from [`MIN_SIDE`] to `max_side`.
/// Without explicit profiles TensorRT rebuilds the engine for each new shape, which for
/// batched faces and tiles means every few runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub input: String,
    pub max_batch: u32,
    /// Fixed side (face restorers), or the range of sides (enlarging models).
    pub sides: Sides,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sides {
    Fixed(u32),
    /// The most frequent side (profile's `opt`) and the largest.
    Range {
        opt: u32,
        max: u32,
    },
}

impl Profile {
    /// The `(min, opt, max)` shape strings in the provider's `name:NxCxHxW` format.
    pub fn shapes(&self) -> (String, String, String) {
        let shape = |n: u32, side: u32| format!("{}:{n}x3x{side}x{side}", self.input);
        let n = self.max_batch.max(1);
        match self.sides {
            Sides::Fixed(s) => (shape(1, s), shape(n, s), shape(n, s)),
            Sides::Range { opt, max } => {
                let max = max.max(MIN_SIDE);
                (
                    shape(1, MIN_SIDE),
                    shape(n, opt.clamp(MIN_SIDE, max)),
                    shape(n, max),
                )
            }
        }
    }
}

impl Profile {
    /// The profile for a restorer's image input: `size` square, or for an enlarging
    /// model (`scale`) sides up to the larger of its output size (faces are fed smaller)
    /// and a background tile, `size / scale` the usual one.
    pub fn for_restorer(
        input: &str,
        max_batch: u32,
        size: u32,
        scale: Option<u32>,
        max_tile_side: u32,
    ) -> Self {
        let sides = match scale {
            None => Sides::Fixed(size),
            Some(k) => Sides::Range {
                opt: size / k.max(1),
                max: size.max(max_tile_side),
            },
        };
        Self {
            input: input.to_string(),
            max_batch,
            sides,
        }
    }
}

/// The default cache directory for a models directory.
pub fn default_cache_dir(models_dir: &Path) -> PathBuf {
    models_dir.join(DEFAULT_CACHE_SUBDIR)
}

/// Whether this ONNX Runtime library has the TensorRT provider (the CPU wheel's has
/// not; the GPU build has it, and it still needs TensorRT's libraries at session time).
pub fn available() -> bool {
    matches!(
        <ep::TensorRT as ep::ExecutionProvider>::is_available(),
        Ok(true)
    )
}

/// The provider for one session.
pub fn provider(
    settings: &TrtSettings,
    device_id: i32,
    profile: Option<&Profile>,
) -> ep::ExecutionProviderDispatch {
    let cache = settings.cache_dir.display().to_string();
    let mut trt = ep::TensorRT::default()
        .with_device_id(device_id)
        .with_fp16(settings.fp16)
        .with_engine_cache(true)
        .with_engine_cache_path(&cache)
        .with_timing_cache(true)
        .with_timing_cache_path(&cache);
    if let Some(p) = profile {
        let (min, opt, max) = p.shapes();
        trt = trt
            .with_profile_min_shapes(min)
            .with_profile_opt_shapes(opt)
            .with_profile_max_shapes(max);
    }
    trt.build().error_on_failure()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_size_profile_spans_the_batch() {
        let p = Profile {
            input: "input".into(),
            max_batch: 8,
            sides: Sides::Fixed(512),
        };
        assert_eq!(
            p.shapes(),
            (
                "input:1x3x512x512".to_string(),
                "input:8x3x512x512".to_string(),
                "input:8x3x512x512".to_string()
            )
        );
    }

    #[test]
    fn restorer_profiles() {
        let face = Profile::for_restorer("input", 8, 512, None, 224);
        assert_eq!(face.sides, Sides::Fixed(512));
        let esrgan = Profile::for_restorer("input", 8, 512, Some(4), 224);
        assert_eq!(esrgan.sides, Sides::Range { opt: 128, max: 512 });
        let big_tiles = Profile::for_restorer("input", 1, 512, Some(4), 1024);
        assert_eq!(
            big_tiles.sides,
            Sides::Range {
                opt: 128,
                max: 1024
            }
        );
    }

    #[test]
    fn enlarging_profile_spans_sides() {
        let p = Profile {
            input: "x".into(),
            max_batch: 4,
            sides: Sides::Range { opt: 128, max: 224 },
        };
        let (min, opt, max) = p.shapes();
        assert_eq!(min, "x:1x3x16x16");
        assert_eq!(opt, "x:4x3x128x128");
        assert_eq!(max, "x:4x3x224x224");
    }
}
