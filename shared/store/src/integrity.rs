//! Integrity across ATT&CK releases: verify that the stored catalog and every tenant's
//! mappings are consistent, and repair what can be repaired.
use std::collections::{BTreeMap, HashMap, HashSet};

use mitre_attack::catalog::{DomainCatalog, Tactic, Technique};
use mitre_attack::{Domain, ParsedObject, gunzip, parse_bundle};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ddb::{delete_request, from_item, put_request, to_item};
use crate::error::StoreError;
use crate::items::{self, AuditEntry, ObjectItem, TacticEdgeItem};
use crate::tenancy::{Mapping, TechniqueUse};
use crate::{Store, keys};
use mitre_attack::TechniqueId;
use mitre_domain::{AuditLog, MappingRepo, TenantId, Timestamp, WriteError};

const EXAMPLES: usize = 10;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Problem {
    pub kind: String,
    pub count: usize,
    /// Up to ten examples (shown to superusers only).
    pub examples: Vec<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerifyReport {
    pub checked_at: Timestamp,
    pub ok: bool,
    /// Per domain: the release checked.
    pub domains: BTreeMap<String, Value>,
    pub problems: Vec<Problem>,
    /// Mappings whose technique and tactic were checked.
    pub mappings_checked: i64,
    /// Mappings flagged for an analyst.
    pub flagged_for_review: i64,
}

impl VerifyReport {
    /// Whether the report checked exactly the releases the domain states name now (a sync that
    /// changed a release since makes it stale).
    pub fn is_current(&self, states: &[(Domain, crate::items::DomainState)]) -> bool {
        let synced: Vec<_> = states.iter().filter(|(_, st)| st.bundle_key.is_some()).collect();
        synced.len() == self.domains.len()
            && synced.iter().all(|(d, st)| self.domains.get(d.as_str()).is_some_and(|r| r["bundle_sha256"].as_str() == st.bundle_sha256.as_deref()))
    }

    /// The report without examples, for callers who are not superusers.
    pub fn summary(&self) -> Value {
        json!({
            "checked_at": self.checked_at,
            "ok": self.ok,
            "domains": self.domains,
            "problems": self.problems.iter().map(|p| json!({"kind": p.kind, "count": p.count})).collect::<Vec<_>>(),
            "mappings_checked": self.mappings_checked,
            "flagged_for_review": self.flagged_for_review,
        })
    }
}

#[derive(Default)]
struct Problems(BTreeMap<&'static str, (usize, Vec<Value>)>);

impl Problems {
    fn add(&mut self, kind: &'static str, example: Value) {
        let e = self.0.entry(kind).or_default();
        e.0 += 1;
        if e.1.len() < EXAMPLES {
            e.1.push(example);
        }
    }
    fn into_vec(self) -> Vec<Problem> {
        self.0.into_iter().map(|(k, (count, examples))| Problem { kind: k.to_string(), count, examples }).collect()
    }
}

/// A domain's release as stored: its bundle (from the archive) parsed.
struct Release {
    domain: Domain,
    version: String,
    bundle_sha256: Option<String>,
    data: Vec<u8>,
}

fn mapping_ref(m: &Mapping) -> Value {
    json!({"tenant": m.tenant, "kind": m.kind, "id": m.id, "technique": m.technique, "tactic": m.tactic, "tactic_id": m.tactic_id})
}

/// What to do about one mapping.
#[derive(Debug, Clone, Serialize)]
pub struct MappingChange {
    pub tenant: String,
    pub kind: String,
    pub id: String,
    pub technique: String,
    pub tactic: String,
    /// "move" or "flag".
    pub action: String,
    pub to_technique: Option<String>,
    pub to_tactic: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepairReport {
    pub dry_run: bool,
    pub index_items_added: usize,
    pub index_items_removed: usize,
    pub mappings: Vec<MappingChange>,
    /// Changes that could not be applied (a concurrent edit, for example); run again.
    pub failed: Vec<Value>,
}

impl Store {
    async fn releases(&self) -> Result<Vec<Release>, StoreError> {
        let mut out = Vec::new();
        for (domain, st) in self.domain_states().await? {
            let Some(key) = st.bundle_key else { continue };
            let raw = self.get_object(&key).await?.ok_or_else(|| StoreError::Corrupt(format!("archived bundle {key} is missing")))?;
            let data = gunzip(&raw).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            out.push(Release { domain, version: st.version.unwrap_or_default(), bundle_sha256: st.bundle_sha256, data });
        }
        Ok(out)
    }

    /// The technique-to-tactic items stored for `shortnames` of `domain`.
    async fn stored_edges(&self, domain: Domain, shortnames: &HashSet<String>) -> Result<HashSet<(String, String)>, StoreError> {
        let mut out = HashSet::new();
        for s in shortnames {
            for item in self.query_partition(Some(keys::GSI1), &keys::tactic_gsi(domain, s), None).await? {
                let e: TacticEdgeItem = from_item(item)?;
                out.insert((e.technique_stix_id, e.tactic));
            }
        }
        Ok(out)
    }

    fn desired_edges(domain: Domain, objects: &[ParsedObject<'_>]) -> (HashSet<(String, String)>, HashSet<String>) {
        let mut edges = HashSet::new();
        let mut shortnames = HashSet::new();
        for o in objects.iter().filter(|o| o.object.is_technique()) {
            for t in items::technique_tactics(domain, o) {
                shortnames.insert(t.clone());
                edges.insert((o.id().to_string(), t));
            }
        }
        for o in objects.iter().filter(|o| o.object_type() == "x-mitre-tactic") {
            if let Some(s) = &o.object.x_mitre_shortname {
                shortnames.insert(s.to_string());
            }
        }
        (edges, shortnames)
    }

    /// Checks every synced domain and every tenant's mappings; stores and returns the report.
    pub async fn verify(&self) -> Result<VerifyReport, StoreError> {
        let mut p = Problems::default();
        let mut domains = BTreeMap::new();
        let mut catalogs: Vec<DomainCatalog> = Vec::new();
        for r in self.releases().await? {
            let bundle = parse_bundle(&r.data, r.domain).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let objects = &bundle.objects;
            let d = r.domain;
            // 1. kill-chain phases resolve to tactics of the domain; tactics are in the matrix
            let tactic_names: HashSet<&str> = objects
                .iter()
                .filter(|o| o.object_type() == "x-mitre-tactic" && o.object.is_active())
                .filter_map(|o| o.object.x_mitre_shortname.as_deref())
                .collect();
            let in_matrix: HashSet<&str> = objects
                .iter()
                .filter(|o| o.object_type() == "x-mitre-matrix" && o.object.is_active())
                .flat_map(|o| o.object.tactic_refs.iter().map(|r| r.as_ref()))
                .collect();
            for o in objects.iter().filter(|o| o.object.is_technique() && o.object.is_active()) {
                for phase in o.object.tactic_shortnames(d) {
                    if !tactic_names.contains(phase) {
                        p.add("phase_without_tactic", json!({"domain": d, "technique": o.object.attack_id(), "phase": phase}));
                    }
                }
            }
            for o in objects.iter().filter(|o| o.object_type() == "x-mitre-tactic" && o.object.is_active()) {
                if !in_matrix.contains(o.id()) {
                    p.add("tactic_not_in_matrix", json!({"domain": d, "tactic": o.object.attack_id()}));
                }
            }
            // 2. sub-techniques have their parent and a subtechnique-of relationship
            let technique_ids: HashSet<&str> = objects.iter().filter(|o| o.object.is_technique()).filter_map(|o| o.object.attack_id()).collect();
            let sub_rels: HashSet<&str> = objects
                .iter()
                .filter(|o| o.object.relationship_type.as_deref() == Some("subtechnique-of") && o.object.is_active())
                .filter_map(|o| o.object.source_ref.as_deref())
                .collect();
            for o in objects.iter().filter(|o| o.object.is_technique() && o.object.is_active() && o.object.x_mitre_is_subtechnique) {
                let id = o.object.attack_id().unwrap_or_default();
                let parent = id.split_once('.').map(|(p, _)| p).unwrap_or(id);
                if !technique_ids.contains(parent) {
                    p.add("subtechnique_without_parent", json!({"domain": d, "technique": id}));
                }
                if !sub_rels.contains(o.id()) {
                    p.add("subtechnique_without_relationship", json!({"domain": d, "technique": id}));
                }
            }
            // ... and the stored tactic index items agree with the objects
            let (desired, shortnames) = Self::desired_edges(d, objects);
            let stored = self.stored_edges(d, &shortnames).await?;
            for (t, s) in desired.difference(&stored) {
                p.add("tactic_index_missing", json!({"domain": d, "technique": t, "tactic": s}));
            }
            for (t, s) in stored.difference(&desired) {
                p.add("tactic_index_extra", json!({"domain": d, "technique": t, "tactic": s}));
            }
            // the stored technique objects are the release's
            let stored_objects: HashMap<String, String> = self
                .query_partition(Some(keys::GSI1), &keys::type_gsi(d, "attack-pattern"), None)
                .await?
                .into_iter()
                .map(|i| from_item::<ObjectItem>(i).map(|o| (o.stix_id, o.content_hash)))
                .collect::<Result<_, _>>()?;
            for o in objects.iter().filter(|o| o.object.is_technique()) {
                match stored_objects.get(o.id()) {
                    // Items written before content hashes were canonical hold the text's hash.
                    Some(h) if *h == format!("{:032x}", o.hash) || *h == format!("{:032x}", o.text_hash()) => {}
                    Some(_) => p.add("object_stale", json!({"domain": d, "technique": o.object.attack_id()})),
                    None => p.add("object_missing", json!({"domain": d, "technique": o.object.attack_id()})),
                }
            }
            // 3. every relationship's two ends exist
            let ids: HashSet<&str> = objects.iter().map(|o| o.id()).collect();
            for o in objects.iter().filter(|o| o.object_type() == "relationship") {
                for end in [o.object.source_ref.as_deref(), o.object.target_ref.as_deref()].into_iter().flatten() {
                    if !ids.contains(end) {
                        p.add("relationship_dangling_end", json!({"domain": d, "relationship": o.id(), "missing": end}));
                    }
                }
            }
            domains.insert(d.to_string(), json!({"version": r.version, "objects": objects.len(), "bundle_sha256": r.bundle_sha256}));
            catalogs.push(DomainCatalog::build(objects, d, &r.version, ""));
        }
        // 4. every mapping names an existing, non-revoked technique and a tactic it has
        let mut checked = 0;
        for u in self.technique_uses().await? {
            checked += u.count;
            let problem = match find_technique(&catalogs, &u.technique) {
                None => Some("mapping_technique_unknown"),
                Some((_, t)) if t.revoked => Some("mapping_technique_revoked"),
                Some((_, t)) if t.deprecated => Some("mapping_technique_deprecated"),
                Some((c, t)) if use_tactic(c, t, &u).is_none() => Some("mapping_tactic_mismatch"),
                _ => None,
            };
            if let Some(kind) = problem {
                for m in self.mappings_of_technique(&u.technique).await?.into_iter().filter(|m| u.counts(m)) {
                    p.add(kind, mapping_ref(&m));
                }
            }
        }
        let problems = p.into_vec();
        let report = VerifyReport {
            checked_at: Timestamp::now(),
            ok: problems.is_empty(),
            domains,
            problems,
            mappings_checked: checked,
            flagged_for_review: self.review_count().await?,
        };
        self.put_item_json(keys::CATALOG_PK, "VERIFY", &report).await?;
        Ok(report)
    }

    pub async fn last_verify(&self) -> Result<Option<VerifyReport>, StoreError> {
        #[derive(Deserialize)]
        struct Stored {
            report: String,
        }
        match self.get_item::<Stored>(keys::CATALOG_PK, "VERIFY").await? {
            Some(s) => serde_json::from_str(&s.report).map(Some).map_err(|e| StoreError::Corrupt(e.to_string())),
            None => Ok(None),
        }
    }

    async fn put_item_json<T: Serialize>(&self, pk: &str, sk: &str, value: &T) -> Result<(), StoreError> {
        let item = json!({"pk": pk, "sk": sk, "report": serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))?});
        self.ddb.put_item().table_name(&self.table).set_item(Some(to_item(&item)?)).send().await.map_err(|e| StoreError::dynamo("PutItem", e))?;
        Ok(())
    }

    /// Rebuilds the tactic index items and moves or flags mappings of revoked, deprecated or
    /// vanished techniques. With `dry_run`, reports exactly what an apply would change.
    pub async fn repair(&self, dry_run: bool, actor: &str, request_id: &str) -> Result<RepairReport, StoreError> {
        let mut report = RepairReport { dry_run, index_items_added: 0, index_items_removed: 0, mappings: Vec::new(), failed: Vec::new() };
        let mut catalogs = Vec::new();
        for r in self.releases().await? {
            let bundle = parse_bundle(&r.data, r.domain).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let (desired, shortnames) = Self::desired_edges(r.domain, &bundle.objects);
            let stored = self.stored_edges(r.domain, &shortnames).await?;
            let mut writes = Vec::new();
            for o in bundle.objects.iter().filter(|o| o.object.is_technique()) {
                for e in items::tactic_edges(r.domain, o) {
                    if !stored.contains(&(e.technique_stix_id.clone(), e.tactic.clone())) {
                        report.index_items_added += 1;
                        writes.push(put_request(to_item(&e)?));
                    }
                }
            }
            for (t, s) in stored.difference(&desired) {
                report.index_items_removed += 1;
                writes.push(delete_request(keys::object_pk(r.domain, t), keys::tactic_sk(s)));
            }
            if !dry_run && !writes.is_empty() {
                self.batch_write(writes, 16, &|_| {}).await?;
            }
            catalogs.push(DomainCatalog::build(&bundle.objects, r.domain, &r.version, ""));
        }
        let mut former = FormerTactics::default();
        for u in self.technique_uses().await? {
            let found = find_technique(&catalogs, &u.technique);
            let mappings: Vec<Mapping> = match found {
                Some((c, t)) if !t.revoked && !t.deprecated && use_tactic(c, t, &u).is_some() => continue,
                _ => self.mappings_of_technique(&u.technique).await?.into_iter().filter(|m| u.counts(m)).collect(),
            };
            for m in mappings {
                let planned = match found {
                    None => change(&m, "flag", None, format!("{} is not in any synced ATT&CK release", m.technique)),
                    Some((c, t)) if t.revoked => match c.relationships_from(&t.stix_id, Some("revoked-by")).find_map(|r| c.technique_by_stix_id(&r.target_ref))
                    {
                        Some(rep) => {
                            let identity = self.identity(&m, c, &mut former).await?;
                            let why = format!("{} was revoked by {} in ATT&CK {}", t.attack_id, rep.attack_id, c.version);
                            match same_tactic(c, rep, identity.as_deref(), &m.tactic) {
                                Some(same) => change(&m, "move", Some((&rep.attack_id, &same.shortname)), why),
                                None if rep.tactics.len() == 1 => {
                                    change(&m, "move", Some((&rep.attack_id, &rep.tactics[0])), format!("{why}; {} is its only tactic", rep.tactics[0]))
                                }
                                None => change(
                                    &m,
                                    "move",
                                    Some((&rep.attack_id, &m.tactic)),
                                    format!("{why}, which is not in tactic {}; choose one of {}", m.tactic, rep.tactics.join(", ")),
                                ),
                            }
                        }
                        None => change(&m, "flag", None, format!("{} was revoked in ATT&CK {} without a replacement", t.attack_id, c.version)),
                    },
                    Some((c, t)) if t.deprecated => change(&m, "flag", None, format!("{} is deprecated in ATT&CK {}", t.attack_id, c.version)),
                    Some((c, t)) => {
                        let identity = self.identity(&m, c, &mut former).await?;
                        match same_tactic(c, t, identity.as_deref(), &m.tactic) {
                            // the tactic was renamed (or split, keeping its identity): follow it
                            Some(same) => change(
                                &m,
                                "move",
                                Some((&t.attack_id, &same.shortname)),
                                format!("tactic {} is {} ({}) in ATT&CK {}", m.tactic, same.shortname, same.attack_id, c.version),
                            ),
                            None if t.tactics.len() == 1 => change(
                                &m,
                                "move",
                                Some((&t.attack_id, &t.tactics[0])),
                                format!("{} is no longer in tactic {} in ATT&CK {}; {} is its only tactic", t.attack_id, m.tactic, c.version, t.tactics[0]),
                            ),
                            None => change(
                                &m,
                                "flag",
                                None,
                                format!("{} is not in tactic {} in ATT&CK {}; it is in {}", t.attack_id, m.tactic, c.version, t.tactics.join(", ")),
                            ),
                        }
                    }
                };
                if planned.action == "flag" && m.needs_review.as_deref() == Some(planned.reason.as_str()) {
                    continue;
                }
                if !dry_run && let Err(e) = self.apply_change(&m, &planned, &catalogs, actor, request_id).await {
                    report.failed.push(json!({"mapping": mapping_ref(&m), "error": e.to_string()}));
                }
                report.mappings.push(planned);
            }
        }
        if !dry_run {
            let after = json!({"index_items_added": report.index_items_added, "index_items_removed": report.index_items_removed, "mappings": report.mappings.len(), "failed": report.failed.len()});
            let entry = AuditEntry::new(&TenantId::system(), actor, "correlations.repair", "correlations".into(), None, Some(after), request_id);
            self.append_audit(entry).await.map_err(|e| StoreError::Failed {
                service: "DynamoDB",
                op: "PutItem",
                detail: "the repair's audit entry".into(),
                source: Box::new(e),
            })?;
            // the stored verification report (what `GET correlations/verify` serves) follows the repair
            self.verify().await?;
        }
        Ok(report)
    }

    async fn apply_change(&self, m: &Mapping, c: &MappingChange, catalogs: &[DomainCatalog], actor: &str, request_id: &str) -> Result<(), RepairError> {
        let mut new = m.clone();
        new.touch(actor);
        let action = if c.action == "move" {
            let to = c.to_technique.as_deref().unwrap_or_default();
            let (cat, rep) = find_technique(catalogs, to).ok_or_else(|| RepairError::Catalog(format!("{to} vanished from the catalog")))?;
            let domain = cat.domain;
            new.history.push(json!({"technique": m.technique, "technique_name": m.technique_name, "tactic": m.tactic, "tactic_id": m.tactic_id,
                "replaced_by": to, "to_tactic": c.to_tactic, "reason": c.reason, "at": new.updated_at, "by": actor}));
            new.technique = TechniqueId::parse(&rep.attack_id).map_err(|e| RepairError::Catalog(e.to_string()))?;
            new.technique_name = rep.name.clone();
            new.domain = domain;
            new.tactic = c.to_tactic.clone().unwrap_or_else(|| m.tactic.clone());
            let tactic = cat.tactics.iter().find(|t| t.shortname == new.tactic);
            // A tactic the replacement lacks keeps the mapping's identity, and the mapping is flagged.
            new.tactic_id = tactic.map(|t| t.stix_id.clone()).or_else(|| m.tactic_id.clone());
            new.needs_review = (!rep.tactics.contains(&new.tactic)).then(|| c.reason.clone());
            "mapping.repair"
        } else {
            new.needs_review = Some(c.reason.clone());
            "mapping.flag"
        };
        let audit = AuditEntry::of(&m.tenant, actor, action, m.target(), Some(m), Some(&new), request_id);
        match self.update_mapping(m, &new, audit).await {
            Ok(()) => Ok(()),
            Err(WriteError::Duplicate) => {
                // The entity already has a mapping of the replacement in that tactic: flag this one.
                let mut flagged = m.clone();
                flagged.touch(actor);
                flagged.needs_review = Some(format!("{}; the entity already has a mapping of {}", c.reason, new.technique));
                let audit = AuditEntry::of(&m.tenant, actor, "mapping.flag", m.target(), Some(m), Some(&flagged), request_id);
                Ok(self.update_mapping(m, &flagged, audit).await?)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Why one planned change of a repair could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    #[error("the catalog changed during the repair: {0}")]
    Catalog(String),
    #[error("{0}")]
    Write(#[from] WriteError),
}

/// What to do about one mapping.
fn change(m: &Mapping, action: &str, to: Option<(&str, &str)>, reason: String) -> MappingChange {
    MappingChange {
        tenant: m.tenant.to_string(),
        kind: m.kind.as_str().into(),
        id: m.id.clone(),
        technique: m.technique.to_string(),
        tactic: m.tactic.clone(),
        action: action.into(),
        to_technique: to.map(|t| t.0.to_string()),
        to_tactic: to.map(|t| t.1.to_string()),
        reason,
    }
}

/// The tactic of `t` that is the mapping's tactic: the one with its identity (STIX id) or, for
/// mappings whose identity is not known, the one of its shortname.
fn same_tactic<'a>(c: &'a DomainCatalog, t: &Technique, identity: Option<&str>, shortname: &str) -> Option<&'a Tactic> {
    let of_technique = c.tactics.iter().filter(|x| t.tactics.contains(&x.shortname));
    match identity {
        Some(id) => of_technique.into_iter().find(|x| x.stix_id == id),
        None => of_technique.into_iter().find(|x| x.shortname == shortname),
    }
}

/// The tactic of `t` that a use counter's mappings name, if `t` still has it.
fn use_tactic<'a>(c: &'a DomainCatalog, t: &Technique, u: &TechniqueUse) -> Option<&'a Tactic> {
    same_tactic(c, t, u.tactic_id.as_deref(), &u.tactic)
}

/// Shortnames that tactics had in earlier synced releases of each domain, read from the archive
/// once, when a mapping written before tactic identities were stored names a shortname that the
/// current release no longer has.
#[derive(Default)]
struct FormerTactics(HashMap<Domain, HashMap<String, String>>);

impl Store {
    /// The mapping's tactic identity: stored, else its shortname's in the current release, else
    /// in the newest earlier release that had it.
    async fn identity(&self, m: &Mapping, c: &DomainCatalog, former: &mut FormerTactics) -> Result<Option<String>, StoreError> {
        if let Some(id) = &m.tactic_id {
            return Ok(Some(id.clone()));
        }
        if let Some(t) = c.tactics.iter().find(|t| t.shortname == m.tactic) {
            return Ok(Some(t.stix_id.clone()));
        }
        let names = match former.0.entry(m.domain) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(self.former_tactic_shortnames(m.domain).await?),
        };
        Ok(names.get(&m.tactic).cloned())
    }

    /// shortname -> STIX id of every tactic of the domain's archived releases, newest first wins.
    async fn former_tactic_shortnames(&self, domain: Domain) -> Result<HashMap<String, String>, StoreError> {
        let mut out = HashMap::new();
        let mut seen = HashSet::new();
        for run in self.runs(domain).await? {
            let (Some(version), Some(sha)) = (run.version, run.bundle_sha256) else { continue };
            if !seen.insert(sha.clone()) {
                continue;
            }
            let Some(raw) = self.get_object(&crate::archive::bundle_key(domain, &version, &sha)).await? else { continue };
            let data = gunzip(&raw).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let Ok(bundle) = parse_bundle(&data, domain) else { continue };
            for o in bundle.objects.iter().filter(|o| o.object_type() == "x-mitre-tactic") {
                if let Some(name) = &o.object.x_mitre_shortname {
                    out.entry(name.to_string()).or_insert_with(|| o.id().to_string());
                }
            }
        }
        Ok(out)
    }

    /// Gives every mapping written before tactic identities were stored its tactic's identity
    /// (and moves its uniqueness guard and use counter to it), one transaction and one audit
    /// entry per mapping. Idempotent and resumable: a mapping that has its identity is left
    /// alone, so a run that stopped half-way is finished by the next. Mappings whose shortname
    /// no synced or archived release knows are reported, not changed (`repair` flags them).
    pub async fn migrate(&self, dry_run: bool, actor: &str, request_id: &str) -> Result<MigrateReport, StoreError> {
        let mut catalogs = Vec::new();
        for r in self.releases().await? {
            let bundle = parse_bundle(&r.data, r.domain).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            catalogs.push(DomainCatalog::build(&bundle.objects, r.domain, &r.version, ""));
        }
        let mut report = MigrateReport { dry_run, ..MigrateReport::default() };
        let mut former = FormerTactics::default();
        for u in self.technique_uses().await?.into_iter().filter(|u| u.tactic_id.is_none()) {
            for m in self.mappings_of_technique(&u.technique).await?.into_iter().filter(|m| m.tactic_id.is_none() && u.counts(m)) {
                report.checked += 1;
                let Some(c) = catalogs.iter().find(|c| c.domain == m.domain) else {
                    report.unresolved.push(mapping_ref(&m));
                    continue;
                };
                let Some(id) = self.identity(&m, c, &mut former).await? else {
                    report.unresolved.push(mapping_ref(&m));
                    continue;
                };
                report.migrated += 1;
                if dry_run {
                    continue;
                }
                let mut new = m.clone();
                new.tactic_id = Some(id);
                new.touch(actor);
                let audit = AuditEntry::of(&m.tenant, actor, "mapping.migrate", m.target(), Some(&m), Some(&new), request_id);
                if let Err(e) = self.update_mapping(&m, &new, audit).await {
                    report.failed.push(json!({"mapping": mapping_ref(&m), "error": e.to_string()}));
                }
            }
        }
        // mappings stored before statistics were kept: counted, each in one transaction (which
        // writes the current index keys too); mappings stored when each kind had its own entity
        // index partitions: re-keyed
        for u in self.technique_uses().await? {
            for stored in self.stored_mappings_of_technique(&u.technique).await?.into_iter().filter(|s| u.counts(&s.mapping)) {
                let m = &stored.mapping;
                report.counted += usize::from(!stored.counted);
                report.reindexed += usize::from(!stored.indexed);
                if dry_run || (stored.counted && stored.indexed) {
                    continue;
                }
                // Ok(false): changed meanwhile, and that write counted and re-keyed it
                let written = if stored.counted { self.reindex_mapping(m).await } else { self.count_mapping(m).await };
                if let Err(e) = written {
                    report.failed.push(json!({"mapping": mapping_ref(m), "error": e.to_string()}));
                }
            }
        }
        Ok(report)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct MigrateReport {
    pub dry_run: bool,
    /// Mappings without a tactic identity.
    pub checked: usize,
    /// Of which given one (or, in a dry run, that would be).
    pub migrated: usize,
    /// Mappings whose tactic no release knows: left as they are.
    pub unresolved: Vec<Value>,
    /// Mappings stored before statistics were kept, counted in them (or, in a dry run, to be).
    pub counted: usize,
    /// Mappings stored when each kind had its own entity index partitions, given the shared
    /// ones (or, in a dry run, to be): until then a view or entity filter does not find them.
    pub reindexed: usize,
    /// Writes that failed (a concurrent edit, for example): run again.
    pub failed: Vec<Value>,
}

/// A technique by ATT&CK ID in the first catalog that has it (the active object preferred).
fn find_technique<'a>(catalogs: &'a [DomainCatalog], id: &str) -> Option<(&'a DomainCatalog, &'a mitre_attack::catalog::Technique)> {
    catalogs.iter().find_map(|c| c.technique_by_attack_id(id).map(|t| (c, t)))
}
