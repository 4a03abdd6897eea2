//! The ATT&CK sync: where bundles come from (`source`: an HTTP URL or a file, gzip or plain;
//! `taxii`: a TAXII 2.1 collection), the per-domain lease (`lease`), and the pipeline that
//! parses, diffs, archives, writes what changed and commits (`pipeline`). One library function
//! ([`Syncer::run`]) serves the scheduled Lambda, the CLI and the tests. A run that moves a
//! domain to a newer release keeps the changes from the release it replaced, and `insight`
//! rebuilds the tenants' inference histories.
pub mod config;
pub mod error;
pub mod insight;
pub mod lease;
mod legacy;
pub mod pipeline;
pub mod source;
pub mod taxii;

pub use error::SyncError;
pub use lease::{Lease, SyncTable};
pub use pipeline::{Progress, SyncOptions, SyncReport, Syncer};
pub use source::{BundleSource, FileSource, HttpSource, SourceSpec};
pub use taxii::TaxiiSource;
