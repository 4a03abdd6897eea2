//! Item structs: the exact attributes stored in the table, kept apart from the domain types.
use mitre_attack::{Domain, DomainSummary, ParsedObject};
use mitre_domain::Timestamp;
use serde::{Deserialize, Serialize};

use crate::keys;

/// Bumped whenever the item layout of catalog objects changes: a sync then rewrites every object.
pub const ITEM_SCHEMA: u32 = 4;

/// One STIX object of a domain, with the attributes the catalog queries need and its full JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectItem {
    pub pk: String,
    pub sk: String,
    #[serde(rename = "type")]
    pub object_type: String,
    pub stix_id: String,
    pub domain: Domain,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attack_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub revoked: bool,
    pub deprecated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_subtechnique: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tactics: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<String>,
    /// The object exactly as the bundle had it, deflate-compressed (see [`ObjectItem::stix_json`]).
    #[serde(with = "serde_bytes")]
    pub stix_deflate: Vec<u8>,
    pub content_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
}

/// "Technique T is in tactic X": one item per pair, so that both directions are one Query
/// (the technique's partition for its tactics, gsi1 for the tactic's techniques).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TacticEdgeItem {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub domain: Domain,
    pub tactic: String,
    pub technique_id: String,
    pub technique_stix_id: String,
    pub technique_name: String,
    pub is_subtechnique: bool,
    pub revoked: bool,
    pub deprecated: bool,
}

pub fn object_item(domain: Domain, o: &ParsedObject<'_>) -> Result<ObjectItem, crate::error::StoreError> {
    let obj = &o.object;
    let id = o.id();
    let attack_id = obj.attack_id().map(str::to_string);
    let is_rel = obj.object_type == "relationship";
    // The API serves the catalog from its snapshot; the table indexes only what is looked up
    // here: techniques, tactics and matrices by type (verification), and the ATT&CK IDs analysts
    // use (techniques, tactics, mitigations, groups, software, campaigns). Relationships,
    // analytics, detection strategies and data sources stay out of the indexes, which keeps a
    // full sync's index writes small.
    let listed = matches!(obj.object_type.as_ref(), "attack-pattern" | "x-mitre-tactic" | "x-mitre-matrix");
    let by_id = !is_rel
        && matches!(
            obj.object_type.as_ref(),
            "attack-pattern" | "x-mitre-tactic" | "course-of-action" | "intrusion-set" | "malware" | "tool" | "campaign"
        );
    let (gsi1pk, gsi1sk) = if listed {
        (Some(keys::type_gsi(domain, &obj.object_type)), Some(keys::listing_sort(attack_id.as_deref(), id)))
    } else {
        (None, None)
    };
    let (gsi2pk, gsi2sk) = match attack_id.as_deref() {
        Some(a) if by_id => (Some(keys::attack_id_gsi(domain, a)), Some(format!("{}#{id}", obj.object_type))),
        _ => (None, None),
    };
    Ok(ObjectItem {
        pk: keys::object_pk(domain, id),
        sk: keys::OBJECT_SK.to_string(),
        object_type: obj.object_type.to_string(),
        stix_id: id.to_string(),
        domain,
        attack_id,
        name: obj.name.as_deref().map(str::to_string),
        revoked: obj.revoked,
        deprecated: obj.x_mitre_deprecated,
        modified: obj.modified.as_deref().map(str::to_string),
        is_subtechnique: obj.is_technique().then_some(obj.x_mitre_is_subtechnique),
        tactics: technique_tactics(domain, o),
        platforms: obj.x_mitre_platforms.iter().map(|p| p.to_string()).collect(),
        relationship_type: obj.relationship_type.as_deref().map(str::to_string),
        source_ref: obj.source_ref.as_deref().map(str::to_string),
        target_ref: obj.target_ref.as_deref().map(str::to_string),
        stix_deflate: deflate(o.raw.as_bytes())?,
        content_hash: format!("{:032x}", o.hash),
        gsi1pk,
        gsi1sk,
        gsi2pk,
        gsi2sk,
    })
}

/// Raw deflate with one compressor per thread (a compressor's state is a few hundred KiB;
/// allocating one per object would churn the allocator).
fn deflate(bytes: &[u8]) -> Result<Vec<u8>, crate::error::StoreError> {
    thread_local! {
        static COMPRESS: std::cell::RefCell<flate2::Compress> = std::cell::RefCell::new(flate2::Compress::new(flate2::Compression::fast(), false));
    }
    COMPRESS.with(|c| {
        let mut c = c.borrow_mut();
        c.reset();
        let mut out = Vec::with_capacity(bytes.len() / 2 + 64);
        loop {
            let consumed = c.total_in() as usize;
            let status = c
                .compress_vec(&bytes[consumed..], &mut out, flate2::FlushCompress::Finish)
                .map_err(|e| crate::error::StoreError::Corrupt(format!("cannot compress an object: {e}")))?;
            if status == flate2::Status::StreamEnd {
                return Ok(out);
            }
            out.reserve(out.capacity().max(1024));
        }
    })
}

impl ObjectItem {
    /// The stored STIX object's JSON text.
    pub fn stix_json(&self) -> Result<String, crate::error::StoreError> {
        use std::io::Read;
        let mut out = String::new();
        flate2::read::DeflateDecoder::new(&self.stix_deflate[..])
            .read_to_string(&mut out)
            .map_err(|e| crate::error::StoreError::Corrupt(format!("object {} does not decompress: {e}", self.stix_id)))?;
        Ok(out)
    }
}

/// Tactic shortnames of a technique, deduplicated, in the order of its kill_chain_phases.
pub fn technique_tactics(domain: Domain, o: &ParsedObject<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if o.object.is_technique() {
        for t in o.object.tactic_shortnames(domain) {
            if !out.iter().any(|x| x == t) {
                out.push(t.to_string());
            }
        }
    }
    out
}

pub fn tactic_edges(domain: Domain, o: &ParsedObject<'_>) -> Vec<TacticEdgeItem> {
    let attack_id = o.object.attack_id().unwrap_or_default();
    technique_tactics(domain, o)
        .into_iter()
        .map(|tactic| TacticEdgeItem {
            pk: keys::object_pk(domain, o.id()),
            sk: keys::tactic_sk(&tactic),
            gsi1pk: keys::tactic_gsi(domain, &tactic),
            gsi1sk: keys::listing_sort(Some(attack_id), o.id()),
            domain,
            technique_id: attack_id.to_string(),
            technique_stix_id: o.id().to_string(),
            technique_name: o.object.name.as_deref().unwrap_or_default().to_string(),
            is_subtechnique: o.object.x_mitre_is_subtechnique,
            revoked: o.object.revoked,
            deprecated: o.object.x_mitre_deprecated,
            tactic,
        })
        .collect()
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// New data was stored.
    Succeeded,
    /// The source had nothing new; nothing was written.
    Unchanged,
    /// The run failed; the data of the last good run is still served.
    Failed,
    /// Another run held the lease.
    Skipped,
}

/// The record of one sync run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    pub run_id: String,
    pub domain: Domain,
    pub source: String,
    pub started_at: Timestamp,
    /// Set when the run ends.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient_time")]
    pub finished_at: Option<Timestamp>,
    pub seconds: f64,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_sha256: Option<String>,
    pub objects: u64,
    pub written: u64,
    pub unchanged: u64,
    pub deleted: u64,
    /// DynamoDB write capacity units of the run's item writes and deletes, index writes
    /// included, as DynamoDB reported them (runs recorded before this was kept read 0).
    #[serde(default)]
    pub write_units: f64,
    pub forced: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunItem {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    #[serde(flatten)]
    pub run: RunRecord,
}

impl RunItem {
    pub fn new(run: RunRecord) -> Self {
        RunItem {
            pk: keys::sync_pk(run.domain),
            sk: keys::run_sk(&run.run_id),
            gsi1pk: keys::RUNS_GSI.to_string(),
            gsi1sk: format!("{}#{}", run.started_at, run.domain),
            run,
        }
    }
}

/// What is stored about one domain: the release it holds and where its artifacts are.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct DomainState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_key: Option<String>,
    /// Set while a run writes; the manifest of that run, so an interrupted run is repaired by the next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_manifest_key: Option<String>,
    #[serde(default)]
    pub dirty: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    #[serde(default)]
    pub item_schema: u32,
    /// The catalog snapshot the API serves (`snapshots/{domain}/...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_key: Option<String>,
    #[serde(default)]
    pub snapshot_schema: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<DomainSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<RunRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainStateItem {
    pub pk: String,
    pub sk: String,
    pub domain: Domain,
    #[serde(flatten)]
    pub state: DomainState,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseItem {
    pub pk: String,
    pub sk: String,
    pub owner: String,
    /// Unix seconds after which another run may take the lease.
    pub expires_at: i64,
    pub acquired_at: Timestamp,
}

pub use mitre_domain::AuditEntry;

/// An audit entry as stored: under its tenant, and on gsi1 `AUDIT` for every tenant's log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditItem {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

impl AuditItem {
    pub fn new(entry: AuditEntry) -> Self {
        AuditItem {
            pk: keys::audit_pk(entry.tenant.as_str()),
            sk: entry.id.clone(),
            gsi1pk: keys::AUDIT_GSI.to_string(),
            gsi1sk: entry.id.clone(),
            entry,
        }
    }
}

/// An optional timestamp that older items may hold as an empty string.
fn lenient_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    match Option::<String>::deserialize(d)? {
        Some(s) if !s.is_empty() => Timestamp::parse(&s).map(Some).map_err(serde::de::Error::custom),
        _ => Ok(None),
    }
}
