//! The `bg_upsampler` option against what this deployment offers: a known upsampler,
//! and an image within its pixel limit (the network is slow on CPU, so a CPU deployment
//! refuses large images up front rather than holding a worker for many minutes).

use crate::error::ApiError;
use facefix_shared::ErrorCode;
use facefix_shared::intake::Header;
use facefix_shared::job::JobParams;
use facefix_shared::models::UpsamplerInfo;

/// Refuses an unknown upsampler (`unknown-model`) or an image over its limit
/// (`upsampler-too-large`). With no upsamplers known (an API without a manifest), the
/// name is passed on and the worker decides.
pub fn check_bg_upsampler(
    upsamplers: &[UpsamplerInfo],
    params: &JobParams,
    header: &Header,
) -> Result<(), ApiError> {
    let Some(name) = params.bg_upsampler.as_deref() else {
        return Ok(());
    };
    if params.aligned || upsamplers.is_empty() {
        return Ok(());
    }
    let Some(upsampler) = upsamplers.iter().find(|u| u.name == name) else {
        let known: Vec<&str> = upsamplers.iter().map(|u| u.name.as_str()).collect();
        return Err(ApiError::new(
            ErrorCode::UnknownModel,
            format!(
                "unknown background upsampler `{name}` (available: none, {})",
                known.join(", ")
            ),
        ));
    };
    let pixels = u64::from(header.width) * u64::from(header.height);
    if pixels > upsampler.max_pixels {
        return Err(ApiError::new(
            ErrorCode::UpsamplerTooLarge,
            format!(
                "{}x{} = {:.2} MP is over this deployment's limit of {:.2} MP for bg_upsampler \
                 `{name}` (send it without bg_upsampler, or a smaller image)",
                header.width,
                header.height,
                pixels as f64 / 1e6,
                upsampler.max_pixels as f64 / 1e6
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use facefix_shared::job::ImageFormat;

    fn offered(max_pixels: u64) -> Vec<UpsamplerInfo> {
        vec![UpsamplerInfo {
            name: "realesrgan".into(),
            model: "realesrgan-x4plus".into(),
            description: "d".into(),
            licence: "BSD-3-Clause".into(),
            max_pixels,
        }]
    }

    fn asking(name: &str) -> JobParams {
        JobParams {
            bg_upsampler: Some(name.into()),
            ..JobParams::default()
        }
    }

    const HEADER: Header = Header {
        format: ImageFormat::Png,
        width: 400,
        height: 300,
    };

    #[test]
    fn refuses_unknown_names_and_large_images() {
        let err = check_bg_upsampler(&offered(1_000_000), &asking("waifu"), &HEADER)
            .expect_err("unknown");
        assert_eq!(err.code, ErrorCode::UnknownModel);
        let err = check_bg_upsampler(&offered(100_000), &asking("realesrgan"), &HEADER)
            .expect_err("120000 px over 100000");
        assert_eq!(err.code, ErrorCode::UpsamplerTooLarge);
        assert!(err.to_string().contains("0.12 MP"), "{err}");
        check_bg_upsampler(&offered(120_000), &asking("realesrgan"), &HEADER)
            .expect("at the limit");
        check_bg_upsampler(&offered(1), &JobParams::default(), &HEADER).expect("not asked");
        check_bg_upsampler(&[], &asking("anything"), &HEADER).expect("the worker decides");
    }
}
