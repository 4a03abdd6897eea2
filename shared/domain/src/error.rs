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

/// A repository that could not answer.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// A list cursor that this list did not hand out (or that another list's filters made).
    #[error("the cursor is not valid for this list")]
    BadCursor,
    /// The backend failed; the detail is for the log, never for the caller.
    #[error("{0}")]
    Backend(String),
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
    #[error(transparent)]
    Repo(#[from] RepoError),
}
