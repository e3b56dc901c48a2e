//! An ARM error, as handlers return it and operations keep it.

use crate::response::arm_error;
use axum::http::StatusCode;
use axum::response::Response;

/// An ARM error to be sent as `{"error":{"code","message"}}`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ArmErr {
    #[serde(with = "crate::model::serde_with::status_code")]
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl ArmErr {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ArmErr {
        ArmErr {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }
    pub fn bad_request(code: &str, message: impl Into<String>) -> ArmErr {
        ArmErr::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn conflict(code: &str, message: impl Into<String>) -> ArmErr {
        ArmErr::new(StatusCode::CONFLICT, code, message)
    }
    pub fn into_response(self) -> Response {
        arm_error(self.status, &self.code, self.message)
    }
}
