//! Events in and out of the module.
//!
//! **In** ([`consumer`]): the platform's events (an alert created, an observable analysed, an
//! entity's access changed; [`inbound`]) reach an SQS queue through an EventBridge rule. The
//! consumer function enriches each entity exactly as `POST {kind}s/{id}/enrich` does, or
//! applies the access change as `PUT {kind}s/{id}/access` does, and reports partial batch
//! failures. Bad input goes to the dead-letter queue at once with its reason; transient failures
//! are retried.
//!
//! **Out** ([`publisher`]): every committed write appends its audit entry in the same
//! transaction, so the audit log is the outbox. The table's stream carries each new entry to
//! the publisher function, which turns it into an event ([`outbound`]) on EventBridge.
//!
//! The JSON schemas of both are in `schemas/events/`. [`local`] stands in for Lambda's two
//! event source mappings on the local stack.
pub mod aws;
pub mod consumer;
pub mod ddb_json;
pub mod inbound;
pub mod lambda;
#[cfg(feature = "local")]
pub mod local;
pub mod outbound;
pub mod publisher;

/// The version of the events' `detail` this module reads and writes (`schema_version`).
pub const SCHEMA_VERSION: u64 = 1;

pub use mitre_domain::BoxError;
