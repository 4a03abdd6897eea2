//! Item structs: the exact attributes stored in the table, kept apart from the domain types.
use mitre_attack::{Domain, DomainSummary, ParsedObject};
use mitre_domain::Timestamp;
use serde::{Deserialize, Serialize};

use crate::keys;

/// Bumped whenever the item layout of catalog objects changes: a sync then rewrites every object.
pub const ITEM_SCHEMA: u32 = 5;
/// The first item schema with relationships in packs ([`RelationshipPackItem`]); a run over
/// an older one deletes the per-relationship items it left.
pub const RELATIONSHIP_PACKS_SCHEMA: u32 = 5;

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
}

/// Relationships are stored in packs: every relationship of a domain whose id hashes to one of
/// [`RELATIONSHIP_BUCKETS`] buckets, in one item, their STIX objects deflated together. A
/// relationship's pack follows from its id alone, so a run rewrites the packs of the
/// relationships it adds, changes or removes without reading anything; and twenty thousand
/// relationships of Enterprise cost a thousand items, compressed across similar objects,
/// instead of twenty thousand.
pub const RELATIONSHIP_BUCKETS: u64 = 1024;

/// The bucket of a relationship (xxh3 of its id; stable across releases and platforms).
pub fn relationship_bucket(stix_id: &str) -> u16 {
    (xxhash_rust::xxh3::xxh3_64(stix_id.as_bytes()) % RELATIONSHIP_BUCKETS) as u16
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RelationshipPackItem {
    pub pk: String,
    pub sk: String,
    pub domain: Domain,
    pub bucket: u16,
    /// How many relationships the pack holds.
    pub count: u32,
    /// Of the members' ids and content hashes, in id order.
    pub content_hash: String,
    /// A JSON array of the members exactly as the bundle had them, in id order, deflated.
    #[serde(with = "serde_bytes")]
    pub stix_deflate: Vec<u8>,
}

/// The pack of `bucket` holding `members` (relationships of that bucket, any order).
pub fn relationship_pack(domain: Domain, bucket: u16, members: &[&ParsedObject<'_>]) -> Result<RelationshipPackItem, crate::error::StoreError> {
    let mut members = members.to_vec();
    members.sort_unstable_by(|a, b| a.id().cmp(b.id()));
    let mut text = String::with_capacity(members.iter().map(|o| o.raw.len() + 1).sum::<usize>() + 2);
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    text.push('[');
    for (i, o) in members.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(o.raw);
        hasher.update(o.id().as_bytes());
        hasher.update(&o.hash.to_le_bytes());
    }
    text.push(']');
    let mut z = flate2::write::DeflateEncoder::new(Vec::with_capacity(text.len() / 4), flate2::Compression::default());
    std::io::Write::write_all(&mut z, text.as_bytes())
        .and_then(|()| z.finish())
        .map(|stix_deflate| RelationshipPackItem {
            pk: keys::relationship_pack_pk(domain, bucket),
            sk: keys::RELATIONSHIPS_SK.to_string(),
            domain,
            bucket,
            count: members.len() as u32,
            content_hash: format!("{:032x}", hasher.digest128()),
            stix_deflate,
        })
        .map_err(|e| crate::error::StoreError::Corrupt(format!("cannot compress relationship pack {bucket}: {e}")))
}

impl RelationshipPackItem {
    /// The pack's relationships as the bundle had them, in id order.
    pub fn relationships(&self) -> Result<Vec<serde_json::Value>, crate::error::StoreError> {
        let text = inflate(&self.stix_deflate, &self.pk)?;
        serde_json::from_str(&text).map_err(|e| crate::error::StoreError::Corrupt(format!("relationship pack {} is not a JSON array: {e}", self.pk)))
    }
}

fn inflate(bytes: &[u8], what: &str) -> Result<String, crate::error::StoreError> {
    use std::io::Read;
    let mut out = String::new();
    flate2::read::DeflateDecoder::new(bytes)
        .read_to_string(&mut out)
        .map_err(|e| crate::error::StoreError::Corrupt(format!("{what} does not decompress: {e}")))?;
    Ok(out)
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
    // The API serves the catalog from its snapshot; the table indexes only what is looked up
    // here: techniques, tactics and matrices by type (verification). Everything else stays out
    // of the indexes, which keeps a full sync's index writes small.
    let listed = matches!(obj.object_type.as_ref(), "attack-pattern" | "x-mitre-tactic" | "x-mitre-matrix");
    let (gsi1pk, gsi1sk) =
        if listed { (Some(keys::type_gsi(domain, &obj.object_type)), Some(keys::listing_sort(attack_id.as_deref(), id))) } else { (None, None) };
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
        inflate(&self.stix_deflate, &self.stix_id)
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
        AuditItem { pk: keys::audit_pk(entry.tenant.as_str()), sk: entry.id.clone(), gsi1pk: keys::AUDIT_GSI.to_string(), gsi1sk: entry.id.clone(), entry }
    }
}

/// An optional timestamp that older items may hold as an empty string.
fn lenient_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    match Option::<String>::deserialize(d)? {
        Some(s) if !s.is_empty() => Timestamp::parse(&s).map(Some).map_err(serde::de::Error::custom),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mitre_attack::{fixtures, parse_bundle};

    #[test]
    fn a_relationship_pack_holds_its_members_in_id_order_and_its_bucket_is_stable() {
        // The bucket is part of the stored layout: a change of the hash moves every pack.
        assert_eq!(relationship_bucket("relationship--00000000-0000-4000-8000-000000000011"), 796);
        let spread: std::collections::HashSet<u16> = (0..4096).map(|i| relationship_bucket(&format!("relationship--{i:08x}"))).collect();
        assert!(spread.len() > 900 && spread.iter().all(|&b| u64::from(b) < RELATIONSHIP_BUCKETS), "{}", spread.len());

        let text = fixtures::small_bundle("2.1");
        let bundle = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).unwrap();
        let mut rels: Vec<&ParsedObject<'_>> = bundle.objects.iter().filter(|o| o.object_type() == "relationship").collect();
        assert!(rels.len() >= 2);
        let forward = relationship_pack(Domain::EnterpriseAttack, 7, &rels).unwrap();
        rels.reverse();
        let backward = relationship_pack(Domain::EnterpriseAttack, 7, &rels).unwrap();
        assert_eq!((forward.count as usize, &forward.content_hash, &forward.stix_deflate), (rels.len(), &backward.content_hash, &backward.stix_deflate));
        let got = forward.relationships().unwrap();
        let mut ids: Vec<&str> = rels.iter().map(|o| o.id()).collect();
        ids.sort_unstable();
        assert_eq!(got.iter().map(|r| r["id"].as_str().unwrap()).collect::<Vec<_>>(), ids);
        assert_eq!(got[0], serde_json::from_str::<serde_json::Value>(rels.iter().find(|o| o.id() == ids[0]).unwrap().raw).unwrap());
        assert_eq!(forward.pk, keys::relationship_pack_pk(Domain::EnterpriseAttack, 7));

        // A member's change changes the pack's hash.
        let fewer = relationship_pack(Domain::EnterpriseAttack, 7, &rels[1..]).unwrap();
        assert_ne!(fewer.content_hash, forward.content_hash);
    }
}
