//! Job options from the query string or multipart text fields.

use crate::error::ApiError;
use facefix_shared::ErrorCode;
use facefix_shared::job::{ImageFormat, JobParams, MAX_UPSCALE};
use facefix_shared::webhook::parse_events;

/// Longer webhook URLs are refused: a real one is far shorter.
const MAX_WEBHOOK_URL: usize = 2048;

/// The option names a client may send (multipart fields or query parameters).
pub const OPTION_NAMES: &[&str] = &[
    "model",
    "upscale",
    "only_center_face",
    "aligned",
    "fidelity",
    "format",
    "bg_upsampler",
    "webhook",
    "webhook_events",
];

fn invalid(name: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidOption,
        format!("option `{name}`: {message}"),
    )
}

/// A model-like name: short, `[A-Za-z0-9._-]`.
fn is_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ApiError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(invalid(name, "expected true or false")),
    }
}

/// Sets one option on `params`. Unknown names are refused, so a typo is not silently ignored.
pub fn apply_option(params: &mut JobParams, name: &str, value: &str) -> Result<(), ApiError> {
    let value = value.trim();
    match name {
        "model" => {
            if !is_name(value) {
                return Err(invalid(name, "expected a model name"));
            }
            params.model = Some(value.to_string());
        }
        "upscale" => {
            let upscale: u8 = value
                .parse()
                .map_err(|_| invalid(name, format!("expected an integer 1–{MAX_UPSCALE}")))?;
            if !(1..=MAX_UPSCALE).contains(&upscale) {
                return Err(invalid(
                    name,
                    format!("expected an integer 1–{MAX_UPSCALE}"),
                ));
            }
            params.upscale = upscale;
        }
        "only_center_face" => params.only_center_face = parse_bool(name, value)?,
        "aligned" => params.aligned = parse_bool(name, value)?,
        "fidelity" => {
            let fidelity: f32 = value
                .parse()
                .map_err(|_| invalid(name, "expected a number 0–1"))?;
            if !(0.0..=1.0).contains(&fidelity) {
                return Err(invalid(name, "expected a number 0–1"));
            }
            params.fidelity = Some(fidelity);
        }
        "bg_upsampler" => {
            if !is_name(value) {
                return Err(invalid(name, "expected none or an upsampler name"));
            }
            let value = value.to_ascii_lowercase();
            params.bg_upsampler = (value != "none").then_some(value);
        }
        "format" => {
            let format = ImageFormat::parse(value)
                .ok_or_else(|| invalid(name, "expected png, jpeg or webp"))?;
            params.format = Some(format);
        }
        // The policy (https, a configured secret) is checked with the deployment's settings
        // once all options are in: `upload::webhook`.
        "webhook" => {
            if value.is_empty() || value.len() > MAX_WEBHOOK_URL {
                return Err(invalid(
                    name,
                    format!("expected a URL of at most {MAX_WEBHOOK_URL} bytes"),
                ));
            }
            params.webhook = Some(value.to_string());
        }
        "webhook_events" => {
            params.webhook_events = parse_events(value).map_err(|e| invalid(name, e))?
        }
        other => {
            return Err(ApiError::new(
                ErrorCode::InvalidOption,
                format!(
                    "unknown option `{other}` (known: {})",
                    OPTION_NAMES.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Options from a query string (`?upscale=2&format=png`).
pub fn apply_query(params: &mut JobParams, query: &str) -> Result<(), ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("malformed query string: {e}"),
        )
    })?;
    for (name, value) in pairs {
        apply_option(params, &name, &value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_validate() {
        let mut params = JobParams::default();
        apply_query(
            &mut params,
            "upscale=3&only_center_face=true&format=JPG&fidelity=0.7&model=gfpgan-1.4&bg_upsampler=RealESRGAN",
        )
        .expect("valid");
        assert_eq!(params.bg_upsampler.as_deref(), Some("realesrgan"));
        apply_query(&mut params, "bg_upsampler=none").expect("none");
        assert_eq!(params.bg_upsampler, None);
        assert_eq!(params.upscale, 3);
        assert!(params.only_center_face);
        assert_eq!(params.format, Some(ImageFormat::Jpeg));
        assert_eq!(params.fidelity, Some(0.7));
        assert_eq!(params.model.as_deref(), Some("gfpgan-1.4"));
        for bad in [
            "upscale=0",
            "upscale=5",
            "upscale=two",
            "format=gif",
            "fidelity=2",
            "aligned=maybe",
            "colour=red",
            "model=../x",
            "bg_upsampler=",
            "bg_upsampler=a/b",
            "webhook=",
            "webhook_events=finished",
        ] {
            let error = apply_query(&mut JobParams::default(), bad).expect_err(bad);
            assert_eq!(error.code, ErrorCode::InvalidOption, "{bad}");
        }
    }

    #[test]
    fn query_strings_are_url_decoded() {
        let mut params = JobParams::default();
        apply_query(&mut params, "format=%70ng&only_center_face=%74rue").expect("valid");
        assert_eq!(params.format, Some(ImageFormat::Png));
        assert!(params.only_center_face);
    }
}
