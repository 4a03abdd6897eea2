use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use thiserror::Error;

/// Failures of the store itself (DynamoDB, S3, configuration).
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("DynamoDB {op} failed: {message}")]
    Dynamo { op: &'static str, message: String },
    #[error("S3 {op} failed: {message}")]
    S3 { op: &'static str, message: String },
    #[error("stored item is unreadable: {0}")]
    Corrupt(String),
    #[error("a condition on {0} did not hold")]
    Conflict(String),
    #[error("a request could not be built: {0}")]
    Request(String),
}

impl From<aws_sdk_dynamodb::error::BuildError> for StoreError {
    fn from(e: aws_sdk_dynamodb::error::BuildError) -> Self {
        StoreError::Request(e.to_string())
    }
}

impl StoreError {
    /// A failed DynamoDB call, described by the error's code and message when the service
    /// answered, else by what went wrong on the way (timeout, connection, ...).
    pub fn dynamo<E>(op: &'static str, e: E) -> Self
    where
        E: ProvideErrorMetadata + std::fmt::Display,
    {
        StoreError::Dynamo { op, message: describe(&e) }
    }

    /// A failed S3 call, described like [`StoreError::dynamo`].
    pub fn s3<E>(op: &'static str, e: E) -> Self
    where
        E: ProvideErrorMetadata + std::fmt::Display,
    {
        StoreError::S3 { op, message: describe(&e) }
    }
}

/// The SDK's Display of an error is only "service error"; its metadata carries the code.
fn describe<E: ProvideErrorMetadata + std::fmt::Display>(e: &E) -> String {
    match (e.code(), e.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_string(),
        _ => e.to_string(),
    }
}
