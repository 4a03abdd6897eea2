//! One error type for every route, mapped to a status and the common error shape
//! `{"error": {"code": "...", "message": "...", "details": ...}}` in one place.
use lambda_http::http::StatusCode;
use mitre_domain::BoxError;
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String, details: Option<Value> },
    #[error("the request carries no verified caller identity")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method {method} is not allowed here; allowed: {}", allowed.join(", "))]
    MethodNotAllowed { method: String, allowed: Vec<&'static str> },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    /// A change that needs a precondition (If-Match) came without one.
    #[error("{0}")]
    PreconditionRequired(String),
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// One field of the body carries more than it may.
    #[error("{message}")]
    TooLarge { message: String, field: String },
    #[error("{message}")]
    Unprocessable { message: String, details: Option<Value> },
    #[error("{0}")]
    Unavailable(String),
    /// The table is throttled or unreachable, or concurrent writers kept overtaking this one:
    /// 503 with Retry-After. Logged with its cause; shown without it.
    #[error("the service is busy")]
    Busy(#[source] BoxError),
    /// Concurrent writers of the same records kept overtaking this write through every retry:
    /// 409, nothing written. Logged with its cause.
    #[error("the records this change needs are being changed by others; try again")]
    Overtaken(#[source] BoxError),
    /// Logged with its cause, shown as a bare "internal error".
    #[error("internal error")]
    Internal(#[source] BoxError),
}

/// Seconds a client is asked to wait after a 503 (Retry-After).
pub const RETRY_AFTER_SECONDS: u32 = 1;

impl ApiError {
    pub fn bad_param(name: &str, message: impl Into<String>) -> Self {
        ApiError::BadRequest { code: "invalid_parameter", message: message.into(), details: Some(json!({ "parameter": name })) }
    }

    /// An internal error with its cause (an error or a message).
    pub fn internal(e: impl Into<BoxError>) -> Self {
        ApiError::Internal(e.into())
    }

    /// Whether the same request, tried again, may succeed (see [`crate::dispatch`]).
    pub fn is_transient(&self) -> bool {
        matches!(self, ApiError::Busy(_) | ApiError::Overtaken(_))
    }

    /// Seconds the client should wait before trying again, for 503s.
    pub fn retry_after(&self) -> Option<u32> {
        (self.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(RETRY_AFTER_SECONDS)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) | ApiError::Overtaken(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            ApiError::PayloadTooLarge { .. } | ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Conflict(_) | ApiError::Overtaken(_) => "conflict",
            ApiError::PreconditionFailed(_) => "precondition_failed",
            ApiError::PreconditionRequired(_) => "missing_if_match",
            ApiError::PayloadTooLarge { .. } | ApiError::TooLarge { .. } => "payload_too_large",
            ApiError::Unprocessable { .. } => "unprocessable",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Busy(_) => "busy",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The response body. Internal errors never show their detail.
    pub fn body(&self) -> Value {
        let (message, details) = match self {
            ApiError::Internal(_) => ("internal error".to_string(), None),
            ApiError::Busy(_) => (format!("the service is busy; try again in {RETRY_AFTER_SECONDS} s"), Some(json!({ "retry_after": RETRY_AFTER_SECONDS }))),
            ApiError::BadRequest { message, details, .. } | ApiError::Unprocessable { message, details } => (message.clone(), details.clone()),
            ApiError::MethodNotAllowed { allowed, .. } => (self.to_string(), Some(json!({ "allowed": allowed }))),
            ApiError::PayloadTooLarge { limit } => (self.to_string(), Some(json!({ "limit": limit }))),
            ApiError::PreconditionRequired(m) => (m.clone(), Some(json!({ "header": "If-Match" }))),
            ApiError::TooLarge { message, field } => (message.clone(), Some(json!({ "field": field }))),
            other => (other.to_string(), None),
        };
        json!({ "error": { "code": self.code(), "message": message, "details": details } })
    }
}

impl From<mitre_store::StoreError> for ApiError {
    fn from(e: mitre_store::StoreError) -> Self {
        match e {
            mitre_store::StoreError::Contended { .. } => ApiError::Overtaken(Box::new(e)),
            e if e.is_transient() => ApiError::Busy(Box::new(e)),
            e => ApiError::Internal(Box::new(e)),
        }
    }
}

impl From<mitre_domain::Invalid> for ApiError {
    /// A refused value: 422 naming the field, with what else the domain said.
    fn from(e: mitre_domain::Invalid) -> Self {
        let mut details = json!({ "field": e.field });
        if let (Some(Value::Object(more)), Some(d)) = (e.details, details.as_object_mut()) {
            d.extend(more);
        }
        ApiError::Unprocessable { message: e.message, details: Some(details) }
    }
}

impl From<mitre_domain::RepoError> for ApiError {
    fn from(e: mitre_domain::RepoError) -> Self {
        match e {
            mitre_domain::RepoError::BadCursor => ApiError::bad_param("cursor", "cursor is not valid for this list; start again without it"),
            e @ mitre_domain::RepoError::Unavailable(_) => ApiError::Busy(Box::new(e)),
            e @ mitre_domain::RepoError::Backend(_) => ApiError::Internal(Box::new(e)),
        }
    }
}
