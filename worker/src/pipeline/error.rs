//! Errors of a pipeline run, each decided at its failure site as final (the input or the
//! request can never succeed) or transient (may work on a retry).

use facefix_shared::ErrorCode;

/// Why one image could not be processed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PipelineError {
    /// The input or the request is at fault: never retried.
    #[error("{message}")]
    Input { code: ErrorCode, message: String },
    /// The model failed on this input (a deterministic ONNX Runtime error): never retried.
    #[error("restorer failed: {0}")]
    Model(String),
    /// Resources ran out or an inference thread went away: worth a retry elsewhere.
    #[error("{0}")]
    Transient(String),
    /// A bug or an impossible state: reported as `internal`, not retried.
    #[error("internal error: {0}")]
    Internal(String),
}

impl PipelineError {
    pub fn input(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Input {
            code,
            message: message.into(),
        }
    }

    /// The stable code reported to clients.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Input { code, .. } => *code,
            Self::Model(_) => ErrorCode::ModelFailed,
            Self::Transient(_) | Self::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }

    /// Classifies an ONNX Runtime run error: allocation failures (host or device memory)
    /// are transient, anything else is the model failing on this input.
    pub fn from_run_error(message: String) -> Self {
        let lower = message.to_ascii_lowercase();
        let transient = [
            "alloc",
            "out of memory",
            "cuda",
            "cudnn",
            "cublas",
            "memory",
        ]
        .iter()
        .any(|k| lower.contains(k));
        if transient {
            Self::Transient(format!("inference failed: {message}"))
        } else {
            Self::Model(message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_errors_are_classified() {
        assert!(PipelineError::from_run_error("Failed to allocate memory".into()).is_transient());
        assert!(PipelineError::from_run_error("CUDA failure 2".into()).is_transient());
        let e = PipelineError::from_run_error("Got invalid dimensions".into());
        assert_eq!(e.code(), ErrorCode::ModelFailed);
        assert!(!e.is_transient());
    }
}
