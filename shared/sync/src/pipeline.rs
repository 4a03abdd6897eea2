//! The sync pipeline: fetch, parse, diff against the manifest, archive, write what changed,
//! then commit the domain state in one transaction. Used by the scheduled Lambda and the CLI.
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Instant;

use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem, Update, WriteRequest};
use futures::{StreamExt, TryStreamExt, stream};
use mitre_attack::catalog::{DomainCatalog, SNAPSHOT_SCHEMA};
use mitre_attack::{Domain, DomainSummary, Manifest, ParsedObject, gunzip, is_gzip, object_type_of, parse_bundle};
use serde_json::json;
use sha2::{Digest, Sha256};

use mitre_domain::{TenantId, Timestamp};
use mitre_store::ddb::{delete_request, key, put_request, s, to_item};
use mitre_store::items::{self, AuditEntry, AuditItem, DomainState, DomainStateItem, ITEM_SCHEMA, Outcome, RunItem, RunRecord};
use mitre_store::tenancy::{Part, Tx};
use mitre_store::{Store, StoreError, archive, keys};

use crate::error::SyncError;
use crate::lease::{Lease, SyncTable};
use crate::source::{BundleSource, Fetched, Validators};

#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub domain: Domain,
    /// Ignore validators, hashes and the removal guard: rewrite every object.
    pub force: bool,
    /// Write relationship objects (default true).
    pub relationships: bool,
    /// BatchWriteItem calls in flight at once.
    pub concurrency: usize,
    /// Who asked for the run, for the audit log.
    pub actor: String,
    /// The run's id when the caller chose it (a run started through the API answers with it).
    pub run_id: Option<String>,
}

impl SyncOptions {
    pub fn new(domain: Domain) -> Self {
        SyncOptions { domain, force: false, relationships: true, concurrency: 32, actor: "system".into(), run_id: None }
    }
}

/// Progress notifications, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Phase(&'static str),
    /// The number of write requests the run will make.
    WriteTotal(u64),
    /// That many more write requests are done.
    Written(u64),
}

pub type ProgressFn<'a> = &'a (dyn Fn(Progress) + Send + Sync);

/// What a finished run reports (the run record).
pub type SyncReport = RunRecord;

pub struct Syncer<'a> {
    store: &'a Store,
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn gzip(data: &[u8]) -> Result<Vec<u8>, StoreError> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 4), flate2::Compression::fast());
    gz.write_all(data).map_err(|e| StoreError::Corrupt(format!("cannot compress: {e}")))?;
    gz.finish().map_err(|e| StoreError::Corrupt(format!("cannot compress: {e}")))
}

impl<'a> Syncer<'a> {
    pub fn new(store: &'a Store) -> Self {
        Syncer { store }
    }

    /// Runs one sync of `opts.domain` from `source`. Every run, failed or not, leaves a run
    /// record and an audit entry; a failed run leaves the data of the last good run as it was.
    pub async fn run(&self, source: &dyn BundleSource, opts: &SyncOptions, progress: ProgressFn<'_>) -> Result<SyncReport, SyncError> {
        let run_id = opts.run_id.clone().unwrap_or_else(mitre_domain::new_id);
        let clock = Instant::now();
        let mut rec = RunRecord {
            run_id: run_id.clone(),
            domain: opts.domain,
            source: source.describe(),
            started_at: Timestamp::now(),
            finished_at: None,
            seconds: 0.0,
            outcome: Outcome::Failed,
            version: None,
            bundle_sha256: None,
            objects: 0,
            written: 0,
            unchanged: 0,
            deleted: 0,
            write_units: 0.0,
            forced: opts.force,
            error: None,
        };
        let lease = match self.store.acquire_lease(opts.domain, &run_id).await {
            Ok(l) => l,
            Err(e) => {
                if matches!(e, SyncError::Locked { .. }) {
                    rec.outcome = Outcome::Skipped;
                }
                rec.error = Some(e.to_string());
                self.finish(&mut rec, clock);
                if let Err(re) = self.record_unsuccessful(&rec, opts).await {
                    tracing::error!(error = %re, "could not record the run");
                }
                return Err(e);
            }
        };
        let result = self.run_locked(source, opts, progress, &lease, &mut rec, clock).await;
        if let Err(e) = &result {
            rec.outcome = Outcome::Failed;
            rec.error = Some(e.to_string());
            self.finish(&mut rec, clock);
            tracing::error!(domain = %opts.domain, run_id = %rec.run_id, error = %e, "sync failed");
            if let Err(re) = self.record_unsuccessful(&rec, opts).await {
                tracing::error!(error = %re, "could not record the failed run");
            }
        }
        if let Err(e) = self.store.release_lease(&lease).await {
            tracing::warn!(error = %e, "could not release the sync lease; it expires by itself");
        }
        result.map(|_| rec)
    }

    fn finish(&self, rec: &mut RunRecord, clock: Instant) {
        rec.finished_at = Some(Timestamp::now());
        rec.seconds = (clock.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    }

    async fn run_locked(
        &self,
        source: &dyn BundleSource,
        opts: &SyncOptions,
        progress: ProgressFn<'_>,
        lease: &Lease,
        rec: &mut RunRecord,
        clock: Instant,
    ) -> Result<(), SyncError> {
        let domain = opts.domain;
        let state = self.store.domain_state(domain).await?.unwrap_or_default();
        let trusted = !opts.force
            && !state.dirty
            && state.item_schema == ITEM_SCHEMA
            && state.snapshot_schema == SNAPSHOT_SCHEMA
            && state.source.as_deref() == Some(rec.source.as_str());

        progress(Progress::Phase("fetch"));
        let previous = trusted.then(|| Validators { etag: state.etag.clone(), last_modified: state.last_modified.clone() });
        let fetched = source.fetch(previous.as_ref()).await.map_err(|e| SyncError::Source { source_name: rec.source.clone(), message: e.0 })?;
        let (raw, validators) = match fetched {
            Fetched::NotModified => return self.commit_unchanged(rec, &state, None, lease, opts, clock).await,
            Fetched::Body { bytes, validators } => (bytes, validators),
        };
        progress(Progress::Phase("parse"));
        let (data, original_gz) = if is_gzip(&raw) { (gunzip(&raw)?, Some(raw)) } else { (mitre_attack::decode_source_bytes(raw)?, None) };
        let sha = sha256_hex(&data);
        rec.bundle_sha256 = Some(sha.clone());
        if trusted && state.bundle_sha256.as_deref() == Some(sha.as_str()) {
            return self.commit_unchanged(rec, &state, Some(validators), lease, opts, clock).await;
        }
        let bundle = parse_bundle(&data, domain)?;
        let version = bundle.collection_version.clone().or_else(|| source.version_hint()).unwrap_or_else(|| "unknown".into());
        rec.version = Some(version.clone());
        rec.objects = bundle.objects.len() as u64;

        // What is stored now, as far as the manifests tell.
        let stored = self.load_manifest(state.manifest_key.as_deref()).await?;
        // Per-relationship items of an item schema before packs are deleted (once, on upgrade).
        let legacy_relationships = crate::legacy::relationship_items(&state, &stored);
        let mut old = if opts.force || state.item_schema != ITEM_SCHEMA {
            let mut m = Manifest::default();
            m.absorb_unknown(&stored);
            m
        } else {
            stored
        };
        if state.dirty {
            let pending = self.load_manifest(state.pending_manifest_key.as_deref()).await?;
            old.absorb_unknown(&pending);
        }
        // The run that moves a table to relationship packs writes the packs whatever it was told.
        let relationships = opts.relationships || !legacy_relationships.is_empty();
        let managed = |t: &str| relationships || t != "relationship";
        let diff = old.diff(&bundle.objects, managed);
        if !opts.force && !old.is_empty() && diff.removed.len() * 2 > old.len() {
            return Err(SyncError::MassRemoval { domain: domain.to_string(), removed: diff.removed.len(), stored: old.len() });
        }
        let new_manifest = old.after(&bundle.objects, managed);

        // The manifest first: a run interrupted while writing names it as pending.
        let manifest_key = archive::manifest_key(domain, &rec.run_id);
        let manifest = new_manifest.encode().map_err(|e| StoreError::Corrupt(format!("cannot encode the manifest: {e}")))?;
        self.store.put_object(&manifest_key, manifest, "application/gzip").await?;
        let changes = !diff.to_write.is_empty() || !diff.removed.is_empty();
        if changes {
            self.store.mark_dirty(domain, &manifest_key).await?;
            self.store.renew_lease(lease).await?;
        }

        // The archive and the API snapshot go to S3 while the items go to DynamoDB.
        progress(Progress::Phase("write"));
        let bundle_key = archive::bundle_key(domain, &version, &sha);
        let snapshot_key = archive::snapshot_key(domain, &sha);
        let objects = &bundle.objects;
        let s3_side = async {
            self.store.put_object_once(&bundle_key, || original_gz.map(Ok).unwrap_or_else(|| gzip(&data)), "application/gzip").await?;
            let snapshot =
                || DomainCatalog::build(objects, domain, &version, &sha).encode().map_err(|e| StoreError::Corrupt(format!("cannot encode the snapshot: {e}")));
            self.store.put_object_once(&snapshot_key, snapshot, "application/gzip").await?;
            Ok::<_, SyncError>(())
        };
        let table_side = async {
            if !changes && legacy_relationships.is_empty() {
                return Ok::<_, SyncError>(0.0);
            }
            let mut deletes = self.stale_items(domain, objects, &diff.to_write, &diff.removed, &old).await?;
            for id in &legacy_relationships {
                deletes.push(delete_request(keys::object_pk(domain, id), keys::OBJECT_SK)?);
            }
            // The packs of every relationship written or removed, rewritten whole from the bundle.
            let packs = RelationshipPacks::of(objects, managed("relationship"));
            let touched: BTreeSet<u16> = diff
                .to_write
                .iter()
                .map(|&i| &objects[i])
                .filter(|o| o.object_type() == "relationship")
                .map(|o| o.id())
                .chain(diff.removed.iter().map(String::as_str).filter(|id| object_type_of(id) == "relationship"))
                .map(items::relationship_bucket)
                .collect();
            let singles: Vec<usize> = diff.to_write.iter().copied().filter(|&i| objects[i].object_type() != "relationship").collect();
            let puts: usize = singles.iter().map(|&i| 1 + items::technique_tactics(domain, &objects[i]).len()).sum();
            progress(Progress::WriteTotal((puts + touched.len() + deletes.len()) as u64));
            let pack_requests = touched.into_iter().map(move |b| packs.request(domain, b));
            let requests = singles
                .into_iter()
                .flat_map(move |i: usize| split(write_requests(domain, &objects[i])))
                .chain(pack_requests)
                .chain(deletes.into_iter().map(Ok));
            let done = self.store.batch_write(requests, opts.concurrency, &|n| progress(Progress::Written(n as u64))).await?;
            Ok(done.write_units)
        };
        let ((), write_units) = tokio::try_join!(s3_side, table_side)?;
        // A newer release: its changes from the replaced one are kept before the run commits, so
        // a committed release always has them (a failure here fails the run, and the next
        // run computes them again).
        if let (Some(old_version), Some(old_snapshot)) = (state.version.as_deref(), state.snapshot_key.as_deref())
            && crate::insight::is_upgrade(old_version, &version)
        {
            progress(Progress::Phase("changes"));
            let catalog = DomainCatalog::build(objects, domain, &version, &sha);
            crate::insight::keep_release_changes(self.store, old_snapshot, &catalog).await?;
        }
        rec.write_units = write_units;
        rec.written = diff.to_write.len() as u64;
        rec.deleted = diff.removed.len() as u64;
        rec.unchanged = diff.unchanged as u64;
        rec.outcome = if changes { Outcome::Succeeded } else { Outcome::Unchanged };

        progress(Progress::Phase("commit"));
        let summary = DomainSummary::of(&bundle.objects, domain);
        self.finish(rec, clock);
        let new_state = DomainState {
            version: Some(version),
            spec_version: bundle.spec_version.clone().or_else(|| Some("2.1".into()).filter(|_| bundle.collection_version.is_some())),
            bundle_sha256: Some(sha),
            bundle_key: Some(bundle_key),
            manifest_key: Some(manifest_key),
            pending_manifest_key: None,
            dirty: false,
            source: Some(rec.source.clone()),
            etag: validators.etag,
            last_modified: validators.last_modified,
            item_schema: ITEM_SCHEMA,
            snapshot_key: Some(snapshot_key),
            snapshot_schema: SNAPSHOT_SCHEMA,
            synced_at: rec.finished_at,
            summary: Some(summary),
            last_run: Some(rec.clone()),
            last_success: Some(rec.clone()),
        };
        let before = json!({"version": state.version, "bundle_sha256": state.bundle_sha256});
        let state_put = Put::builder()
            .table_name(&self.store.table)
            .set_item(Some(to_item(&DomainStateItem { pk: keys::CATALOG_PK.into(), sk: keys::domain_sk(domain), domain, state: new_state })?))
            .build()
            .map_err(StoreError::from)?;
        self.commit(rec, opts, lease, TransactWriteItem::builder().put(state_put).build(), before).await
    }

    /// Items that must go: the tactic items a changed technique no longer has, and every item of removed objects.
    async fn stale_items(
        &self,
        domain: Domain,
        objects: &[ParsedObject<'_>],
        to_write: &[usize],
        removed: &[String],
        old: &Manifest,
    ) -> Result<Vec<WriteRequest>, StoreError> {
        let mut wanted: Vec<(String, HashSet<String>)> = Vec::new();
        for &i in to_write {
            let o = &objects[i];
            if o.object.is_technique() && old.get(o.id()).is_some() {
                let keep = items::technique_tactics(domain, o).iter().map(|t| keys::tactic_sk(t)).collect();
                wanted.push((o.id().to_string(), keep));
            }
        }
        let mut deletes = Vec::new();
        for id in removed {
            if id.starts_with("attack-pattern--") {
                wanted.push((id.clone(), HashSet::new()));
            } else if object_type_of(id) == "relationship" {
                // in a pack, rewritten without it
            } else {
                deletes.push(delete_request(keys::object_pk(domain, id), keys::OBJECT_SK)?);
            }
        }
        // One Query per technique whose stored tactic items may differ from the new ones.
        let found: Vec<Vec<WriteRequest>> = stream::iter(wanted)
            .map(|(id, keep)| async move {
                let pk = keys::object_pk(domain, &id);
                let existing = self.store.query_partition(None, &pk, None).await?;
                let removing_object = keep.is_empty() && !objects.iter().any(|o| o.id() == id);
                existing
                    .into_iter()
                    .filter_map(|item| item.get("sk").and_then(|v| v.as_s().ok()).cloned())
                    .filter(|sk| (sk == keys::OBJECT_SK && removing_object) || (sk != keys::OBJECT_SK && !keep.contains(sk)))
                    .map(|sk| delete_request(pk.clone(), sk))
                    .collect::<Result<Vec<_>, StoreError>>()
            })
            .buffer_unordered(16)
            .try_collect()
            .await?;
        deletes.extend(found.into_iter().flatten());
        Ok(deletes)
    }

    async fn load_manifest(&self, key: Option<&str>) -> Result<Manifest, StoreError> {
        let Some(key) = key else { return Ok(Manifest::default()) };
        match self.store.get_object(key).await? {
            Some(bytes) => Manifest::decode(&bytes).map_err(StoreError::Corrupt),
            // A manifest that vanished: treat everything as unknown rather than trust nothing is stored.
            None => Err(StoreError::Corrupt(format!("manifest {key} is missing from the bucket"))),
        }
    }

    async fn commit_unchanged(
        &self,
        rec: &mut RunRecord,
        state: &DomainState,
        validators: Option<Validators>,
        lease: &Lease,
        opts: &SyncOptions,
        clock: Instant,
    ) -> Result<(), SyncError> {
        rec.outcome = Outcome::Unchanged;
        rec.version = state.version.clone();
        rec.bundle_sha256 = state.bundle_sha256.clone();
        rec.objects = state.summary.as_ref().map(|s| s.objects as u64).unwrap_or(0);
        rec.unchanged = rec.objects;
        self.finish(rec, clock);
        let mut update = Update::builder()
            .table_name(&self.store.table)
            .set_key(Some(key(keys::CATALOG_PK, keys::domain_sk(opts.domain))))
            .expression_attribute_values(":r", serde_dynamo::to_attribute_value(&*rec).map_err(|e| StoreError::Corrupt(e.to_string()))?);
        let mut expr = "SET last_run = :r".to_string();
        if let Some(v) = validators {
            if let Some(etag) = v.etag {
                expr.push_str(", etag = :e");
                update = update.expression_attribute_values(":e", s(etag));
            }
            if let Some(lm) = v.last_modified {
                expr.push_str(", last_modified = :l");
                update = update.expression_attribute_values(":l", s(lm));
            }
        }
        let update = update.update_expression(expr).build().map_err(StoreError::from)?;
        let before = json!({"version": state.version, "bundle_sha256": state.bundle_sha256});
        self.commit(rec, opts, lease, TransactWriteItem::builder().update(update).build(), before).await
    }

    /// The commit point: the state change, the run record and the audit entry in one
    /// transaction, on condition that this run still holds the lease.
    async fn commit(
        &self,
        rec: &RunRecord,
        opts: &SyncOptions,
        lease: &Lease,
        state_change: TransactWriteItem,
        before: serde_json::Value,
    ) -> Result<(), SyncError> {
        let table = &self.store.table;
        let check = ConditionCheck::builder()
            .table_name(table)
            .set_key(Some(key(keys::sync_pk(lease.domain), keys::LEASE_SK)))
            .condition_expression("#o = :o")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":o", s(&lease.owner))
            .build()
            .map_err(StoreError::from)?;
        let run_put = Put::builder().table_name(table).set_item(Some(to_item(&RunItem::new(rec.clone()))?)).build().map_err(StoreError::from)?;
        let audit_put = Put::builder()
            .table_name(table)
            .set_item(Some(to_item(&AuditItem::new(audit_entry(rec, opts, Some(before))))?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(StoreError::from)?;
        let tx = Tx::default()
            .with(Part::Lease, TransactWriteItem::builder().condition_check(check).build())
            .with(Part::Record, state_change)
            .with(Part::Record, TransactWriteItem::builder().put(run_put).build())
            .with(Part::Audit, TransactWriteItem::builder().put(audit_put).build());
        match self.store.transact(tx).await? {
            Ok(()) => Ok(()),
            Err(c) if c.condition_failed(Part::Lease) => Err(SyncError::LeaseLost(lease.domain.to_string())),
            Err(c) => Err(c.into_error().into()),
        }
    }

    /// Records a failed or skipped run: run record, audit entry and the domain's last_run.
    async fn record_unsuccessful(&self, rec: &RunRecord, opts: &SyncOptions) -> Result<(), StoreError> {
        let table = &self.store.table;
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(key(keys::CATALOG_PK, keys::domain_sk(opts.domain))))
            .update_expression("SET last_run = :r, #d = :d")
            .expression_attribute_names("#d", "domain")
            .expression_attribute_values(":r", serde_dynamo::to_attribute_value(rec).map_err(|e| StoreError::Corrupt(e.to_string()))?)
            .expression_attribute_values(":d", s(opts.domain.as_str()))
            .build()
            .map_err(StoreError::from)?;
        let run_put = Put::builder().table_name(table).set_item(Some(to_item(&RunItem::new(rec.clone()))?)).build().map_err(StoreError::from)?;
        let audit_put = Put::builder()
            .table_name(table)
            .set_item(Some(to_item(&AuditItem::new(audit_entry(rec, opts, None)))?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(StoreError::from)?;
        self.store
            .ddb
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(TransactWriteItem::builder().put(run_put).build())
            .transact_items(TransactWriteItem::builder().put(audit_put).build())
            .send()
            .await
            .map_err(|e| StoreError::dynamo("TransactWriteItems", e))?;
        Ok(())
    }
}

/// A list of results as results of its items (one error when the list could not be made).
fn split<T>(r: Result<Vec<T>, StoreError>) -> Vec<Result<T, StoreError>> {
    match r {
        Ok(v) => v.into_iter().map(Ok).collect(),
        Err(e) => vec![Err(e)],
    }
}

fn write_requests(domain: Domain, o: &ParsedObject<'_>) -> Result<Vec<WriteRequest>, StoreError> {
    let mut out = Vec::with_capacity(2);
    out.push(put_request(to_item(&items::object_item(domain, o)?)?)?);
    for edge in items::tactic_edges(domain, o) {
        out.push(put_request(to_item(&edge)?)?);
    }
    Ok(out)
}

/// The bundle's managed relationships by pack bucket.
struct RelationshipPacks<'o, 'a> {
    buckets: HashMap<u16, Vec<&'o ParsedObject<'a>>>,
}

impl<'o, 'a> RelationshipPacks<'o, 'a> {
    fn of(objects: &'o [ParsedObject<'a>], managed: bool) -> Self {
        let mut buckets: HashMap<u16, Vec<&ParsedObject<'_>>> = HashMap::new();
        if managed {
            for o in objects.iter().filter(|o| o.object_type() == "relationship") {
                buckets.entry(items::relationship_bucket(o.id())).or_default().push(o);
            }
        }
        RelationshipPacks { buckets }
    }

    /// The write that makes bucket `b`'s pack hold exactly the bundle's relationships of it:
    /// a put, or a delete when the bundle has none left there.
    fn request(&self, domain: Domain, b: u16) -> Result<WriteRequest, StoreError> {
        match self.buckets.get(&b) {
            Some(members) => put_request(to_item(&items::relationship_pack(domain, b, members)?)?),
            None => delete_request(keys::relationship_pack_pk(domain, b), keys::RELATIONSHIPS_SK),
        }
    }
}

fn audit_entry(rec: &RunRecord, opts: &SyncOptions, before: Option<serde_json::Value>) -> AuditEntry {
    AuditEntry::new(
        &TenantId::system(),
        &opts.actor,
        "sync.run",
        format!("catalog/{}", opts.domain),
        before,
        Some(json!({
            "outcome": rec.outcome,
            "version": rec.version,
            "bundle_sha256": rec.bundle_sha256,
            "objects": rec.objects,
            "written": rec.written,
            "deleted": rec.deleted,
            "error": rec.error,
        })),
        &rec.run_id,
    )
}
