use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use mitre_domain::{BoxError, RepoError};
use thiserror::Error;

/// Failures of the store itself (DynamoDB, S3, configuration). Each keeps its cause as its
/// source, for the logs.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("configuration: {0}")]
    Config(String),
    /// The service throttled the call or failed inside, the call timed out, or no connection
    /// could be made: the same call may succeed later.
    #[error("{service} {op} is unavailable: {detail}")]
    Unavailable {
        service: &'static str,
        op: &'static str,
        detail: String,
        #[source]
        source: Option<BoxError>,
    },
    /// The service refused the call (validation, access, a missing table, ...).
    #[error("{service} {op} failed: {detail}")]
    Failed {
        service: &'static str,
        op: &'static str,
        detail: String,
        #[source]
        source: BoxError,
    },
    /// Concurrent writers changed records a transaction read: nothing was written.
    #[error("{op}: concurrent writers changed what it read")]
    Contended { op: &'static str },
    /// A transaction was cancelled for reasons other than its own conditions.
    #[error("TransactWriteItems cancelled: {0}")]
    Cancelled(String),
    #[error("stored item is unreadable: {0}")]
    Corrupt(String),
    #[error("a condition on {0} did not hold")]
    Conflict(String),
    #[error("a request could not be built")]
    Request(#[from] aws_sdk_dynamodb::error::BuildError),
}

/// Error codes of DynamoDB and S3 that mean "slow down" or "try again".
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "SlowDown",
    "InternalError",
    "RequestTimeout",
    "TransactionInProgressException",
];

impl StoreError {
    /// A failed DynamoDB call, classified: throttling, server errors, time-outs and connection
    /// failures are [`StoreError::Unavailable`].
    pub fn dynamo<E, R>(op: &'static str, e: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        Self::of_sdk("DynamoDB", op, e)
    }

    /// A failed S3 call, classified like [`StoreError::dynamo`].
    pub fn s3<E, R>(op: &'static str, e: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        Self::of_sdk("S3", op, e)
    }

    fn of_sdk<E, R>(service: &'static str, op: &'static str, e: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let detail = describe(&e);
        let transient = match &e {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(_) => e.code().is_some_and(|c| TRANSIENT_CODES.contains(&c)),
            _ => false,
        };
        if transient {
            StoreError::Unavailable { service, op, detail, source: Some(Box::new(e)) }
        } else {
            StoreError::Failed { service, op, detail, source: Box::new(e) }
        }
    }

    /// Throttled without an error: a batch call that left items unprocessed.
    pub fn unprocessed(op: &'static str, left: usize) -> Self {
        StoreError::Unavailable { service: "DynamoDB", op, detail: format!("{left} requests left unprocessed"), source: None }
    }

    /// Whether the same call may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. } | StoreError::Contended { .. })
    }
}

impl From<StoreError> for RepoError {
    fn from(e: StoreError) -> Self {
        if e.is_transient() { RepoError::Unavailable(Box::new(e)) } else { RepoError::Backend(Box::new(e)) }
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

/// An error and every source under it, `: `-separated: what a log line shows.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(e) = next {
            write!(f, ": {e}")?;
            next = e.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transient_store_error_becomes_an_unavailable_repository_with_its_cause() {
        let e: RepoError = StoreError::unprocessed("BatchWriteItem", 3).into();
        assert!(e.is_transient());
        let shown = Chain(&e).to_string();
        assert!(shown.contains("3 requests left unprocessed"), "{shown}");
        let e: RepoError = StoreError::Corrupt("no pk".into()).into();
        assert!(!e.is_transient());
        assert!(Chain(&e).to_string().ends_with("stored item is unreadable: no pk"));
    }
}
