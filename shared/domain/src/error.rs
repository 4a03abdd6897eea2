//! What the domain refuses, and what its repositories can fail with.
use serde_json::Value;

/// A value a caller sent that the domain refuses, naming the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub field: String,
    pub message: String,
    /// More for the caller (allowed values, a replacement, ...), merged into the error's details.
    pub details: Option<Value>,
}

impl Invalid {
    pub fn new(field: &str, message: impl Into<String>) -> Invalid {
        Invalid { field: field.to_string(), message: message.into(), details: None }
    }

    pub fn with(mut self, details: Value) -> Invalid {
        self.details = Some(details);
        self
    }
}

/// Any error, boxed, as the source of another: kept for the logs, never shown to callers.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A repository that could not answer.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// A list cursor that this list did not hand out (or that another list's filters made).
    #[error("the cursor is not valid for this list")]
    BadCursor,
    /// The backend is throttled, timed out or could not be reached: the same call may succeed later.
    #[error("the store is busy or unreachable")]
    Unavailable(#[source] BoxError),
    /// The backend failed otherwise; the cause is for the log, never for the caller.
    #[error("the store failed")]
    Backend(#[source] BoxError),
}

impl RepoError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, RepoError::Unavailable(_))
    }
}

/// How a conditional write of tenant data went wrong.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The item changed since it was read (its version differs) or is gone.
    #[error("the item changed since it was read")]
    Stale,
    /// Another mapping already holds this entity, technique and tactic.
    #[error("another mapping already holds this entity, technique and tactic")]
    Duplicate,
    /// Concurrent writers changed records this write read besides the item itself (statistics,
    /// a mapping it merges into): nothing was written, and the same write may succeed at once.
    #[error("concurrent writers changed what this write read")]
    Contended,
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl WriteError {
    /// Whether the same write, tried again, may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            WriteError::Contended => true,
            WriteError::Repo(e) => e.is_transient(),
            WriteError::Stale | WriteError::Duplicate => false,
        }
    }
}
