//! ATT&CK STIX model, parsing, diffing and ATT&CK semantics.
//!
//! This crate has no I/O beyond byte slices: it turns a STIX bundle into typed
//! objects, tells what changed against a manifest of content hashes, and
//! derives the ATT&CK views (tactic order, technique to tactic correlation)
//! that the store and the API need, and what changed between two releases.

pub mod bundle;
pub mod canonical;
pub mod catalog;
pub mod changes;
pub mod domain;
pub mod error;
pub mod fixtures;
pub mod gzjson;
pub mod ids;
pub mod manifest;
pub mod model;
pub mod search;
pub mod summary;

pub use bundle::{Bundle, ParsedObject, decode_source_bytes, gunzip, is_gzip, parse_bundle};
pub use changes::{ChangeClass, FieldChanges, ReleaseChanges, SetChange, TechniqueChange, TechniqueRef, TextChange};
pub use domain::Domain;
pub use error::BundleError;
pub use ids::{AttackId, StixId, TechniqueId};
pub use manifest::{Diff, Manifest, object_type_of};
pub use model::{ExternalReference, KillChainPhase, StixObject};
pub use summary::{DomainSummary, TacticSummary};
