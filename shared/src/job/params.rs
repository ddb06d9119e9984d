use crate::webhook::WebhookEvent;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The largest `upscale` a client may ask for.
pub const MAX_UPSCALE: u8 = 4;

/// The image formats facefix reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Png,
    Jpeg,
    Webp,
}

impl ImageFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
        }
    }

    /// Parses an option value (`png`, `jpeg`/`jpg`, `webp`), case-insensitively.
    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "png" => Some(Self::Png),
            "jpeg" | "jpg" => Some(Self::Jpeg),
            "webp" => Some(Self::Webp),
            _ => None,
        }
    }
}

/// What the client asked for. Validated by the API before the job exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobParams {
    /// Restoration model name; `None` means the deployment's default.
    pub model: Option<String>,
    /// Output scale factor of the whole image, 1–4.
    pub upscale: u8,
    /// Restore only the face nearest the image centre.
    pub only_center_face: bool,
    /// The input is already an aligned face crop: skip detection and paste-back.
    pub aligned: bool,
    /// Fidelity weight for models that take one (0 = quality, 1 = fidelity).
    pub fidelity: Option<f32>,
    /// Output format; `None` means the same as the input.
    pub format: Option<ImageFormat>,
    /// Enlarge the background with a network (`realesrgan`) instead of Lanczos; `None`
    /// means Lanczos. Absent in messages older than the option.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bg_upsampler: Option<String>,
    /// URL called (POST, signed) on the events in `webhook_events`. Absent in messages
    /// older than the option.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// Events the webhook is called for; empty means `completed` only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhook_events: Vec<WebhookEvent>,
}

impl JobParams {
    /// Whether this job's webhook is called for `event`.
    pub fn wants_webhook(&self, event: WebhookEvent) -> bool {
        self.webhook.is_some()
            && if self.webhook_events.is_empty() {
                event == WebhookEvent::Completed
            } else {
                self.webhook_events.contains(&event)
            }
    }
}

impl Default for JobParams {
    fn default() -> Self {
        Self {
            model: None,
            upscale: 2,
            only_center_face: false,
            aligned: false,
            fidelity: None,
            format: None,
            bg_upsampler: None,
            webhook: None,
            webhook_events: Vec::new(),
        }
    }
}
