//! A sync started through the API: what the sync function is asked to do.
use mitre_attack::Domain;
use serde::{Deserialize, Serialize};

/// One domain, its options and the run id the API answered with. The source is the
/// deployment's configured one, never the request's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRequest {
    pub run_id: String,
    pub domain: Domain,
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub no_relationships: bool,
    pub requested_by: String,
}
