use thiserror::Error;

/// Why a bundle was refused. Every variant reads as a sentence an operator can act on.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BundleError {
    #[error("the bundle is not valid gzip: {0}")]
    Gzip(String),
    #[error("the bundle is larger than the {limit_mb} MB limit once decompressed")]
    TooLarge { limit_mb: usize },
    #[error("the bundle is not valid JSON: {0}")]
    Json(String),
    #[error("the document is not a STIX bundle: {0}")]
    Shape(String),
    #[error("object {index} ({id}) is malformed: {reason}")]
    Object { index: usize, id: String, reason: String },
    #[error("the bundle holds {found} data, not {expected}")]
    WrongDomain { expected: String, found: String },
    #[error("the bundle holds no ATT&CK {0}; refusing to replace the catalog with it")]
    Empty(&'static str),
}
