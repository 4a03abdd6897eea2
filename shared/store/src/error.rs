use mitre_attack::BundleError;
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
    pub fn dynamo(op: &'static str, e: impl std::fmt::Display + std::fmt::Debug) -> Self {
        StoreError::Dynamo { op, message: describe(e) }
    }
    pub fn s3(op: &'static str, e: impl std::fmt::Display + std::fmt::Debug) -> Self {
        StoreError::S3 { op, message: describe(e) }
    }
}

/// The SDK's Display of an error is only "service error"; its Debug carries the code.
fn describe(e: impl std::fmt::Display + std::fmt::Debug) -> String {
    let debug = format!("{e:?}");
    let code = debug.split("code: Some(\"").nth(1).and_then(|s| s.split('"').next());
    let message = debug.split("message: Some(\"").nth(1).and_then(|s| s.split('"').next());
    match (code, message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_string(),
        _ => e.to_string(),
    }
}

/// Why a sync run did not complete.
#[derive(Debug, Error)]
pub enum SyncError {
    #[error("source {source_name}: {message}")]
    Source { source_name: String, message: String },
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("another sync of {domain} holds the lease until {until}")]
    Locked { domain: String, until: String },
    #[error("the lease of {0} was lost during the run")]
    LeaseLost(String),
    #[error("refusing to remove {removed} of {stored} stored objects of {domain} in one run; rerun with --force if this is intended")]
    MassRemoval { domain: String, removed: usize, stored: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}
