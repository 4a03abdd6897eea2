//! In-memory repositories: the same rules as the DynamoDB ones (versions, uniqueness,
//! atomic audit entries, tenant keys), for fast tests. [`crate::contract`] holds both to it.
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::json;

use crate::access::{EntityAccess, EntityRef};
use crate::audit::AuditEntry;
use crate::cursor;
use crate::error::{RepoError, WriteError};
use crate::insight::{HistoryRecord, ReleaseChangeRecord, release_key};
use crate::mapping::{Mapping, MappingKind};
use crate::repo::{AccessRepo, AuditFilter, AuditLog, FeedbackRepo, InsightRepo, MappingFilter, MappingRepo, Page, PrincipalRepo, StatsRepo};
use crate::role::Principal;
use crate::stats::{self, Aggregates, Bucket, BucketKey, Presence, PresenceKey, Window};
use crate::tenant::TenantId;

type MappingKey = (TenantId, MappingKind, String);

#[derive(Default)]
struct State {
    mappings: BTreeMap<MappingKey, Mapping>,
    /// (tenant, kind, sameness) -> mapping id: the uniqueness guard.
    same: HashMap<(TenantId, MappingKind, String), String>,
    principals: BTreeMap<String, Principal>,
    /// By entry id (ULIDs sort by time).
    audit: BTreeMap<String, AuditEntry>,
    /// Statistics, kept write by write as the DynamoDB store keeps them.
    presence: HashMap<TenantId, HashMap<PresenceKey, Presence>>,
    buckets: BTreeMap<(TenantId, BucketKey), Aggregates>,
    /// Entity access records.
    access: BTreeMap<(TenantId, EntityRef), EntityAccess>,
    /// Release changes by (domain, to key, from key).
    changes: BTreeMap<(mitre_attack::Domain, String, String), ReleaseChangeRecord>,
    histories: BTreeMap<(TenantId, mitre_attack::Domain), HistoryRecord>,
    /// Review verdicts per tenant.
    verdicts: BTreeMap<TenantId, crate::review::Verdicts>,
}

impl State {
    fn record(&self, tenant: &TenantId, e: &EntityRef) -> EntityAccess {
        self.access.get(&(tenant.clone(), e.clone())).cloned().unwrap_or_else(|| EntityAccess::open(e.clone()))
    }

    /// Whether the copies of `m` are of the current access records (none: version 0).
    fn current_copies(&self, m: &Mapping) -> bool {
        m.entities().iter().all(|e| self.record(&m.tenant, e).version == m.access.get(&e.kind).map(|s| s.version).unwrap_or(0))
    }

    /// Counts `m` in (delta 1) or out of (-1) its entities' records.
    fn count(&mut self, m: &Mapping, delta: i64) {
        for e in m.entities() {
            let mut r = self.record(&m.tenant, &e);
            r.mappings += delta;
            self.access.insert((m.tenant.clone(), e), r);
        }
    }
}

/// Applies the statistics change of a write from `old` to `new` (of one tenant), and the review
/// verdict it carries.
fn keep_stats(st: &mut State, old: Option<&Mapping>, new: Option<&Mapping>) {
    if let (Some(v), Some(m)) = (crate::review::verdict(old, new), old) {
        let c = st.verdicts.entry(m.tenant.clone()).or_default().entry((v.technique, v.signature)).or_default();
        if v.confirmed { c.0 += 1 } else { c.1 += 1 }
    }
    let Some(tenant) = old.or(new).map(|m| m.tenant.clone()) else { return };
    let presence = st.presence.entry(tenant.clone()).or_default();
    let c = stats::change(old, new, presence);
    for (k, (_, after)) in c.presence {
        match after {
            Some(p) => presence.insert(k, p),
            None => presence.remove(&k),
        };
    }
    for (k, d) in c.deltas {
        st.buckets.entry((tenant.clone(), k)).or_default().merge(&d);
    }
}

/// Every tenant-side repository, in memory.
#[derive(Default)]
pub struct MemoryRepos {
    state: Mutex<State>,
}

impl MemoryRepos {
    pub fn new() -> MemoryRepos {
        MemoryRepos::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, RepoError> {
        self.state.lock().map_err(|_| RepoError::Backend("in-memory state poisoned".into()))
    }
}

fn key(m: &Mapping) -> MappingKey {
    (m.tenant.clone(), m.kind, m.id.clone())
}

fn same_key(m: &Mapping) -> (TenantId, MappingKind, String) {
    (m.tenant.clone(), m.kind, m.sameness())
}

fn append(st: &mut State, entry: AuditEntry) -> Result<(), RepoError> {
    if st.audit.contains_key(&entry.id) {
        return Err(RepoError::Backend(format!("audit entry {} exists", entry.id).into()));
    }
    st.audit.insert(entry.id.clone(), entry);
    Ok(())
}

#[async_trait]
impl MappingRepo for MemoryRepos {
    async fn mapping(&self, tenant: &TenantId, kind: MappingKind, id: &str) -> Result<Option<Mapping>, RepoError> {
        Ok(self.lock()?.mappings.get(&(tenant.clone(), kind, id.to_string())).cloned())
    }

    async fn same_mapping(&self, m: &Mapping) -> Result<Option<Mapping>, RepoError> {
        let st = self.lock()?;
        Ok(st.same.get(&same_key(m)).and_then(|id| st.mappings.get(&(m.tenant.clone(), m.kind, id.clone()))).cloned())
    }

    async fn create_mapping(&self, m: &Mapping, audit: AuditEntry) -> Result<(), WriteError> {
        let mut st = self.lock()?;
        if st.mappings.contains_key(&key(m)) || st.same.contains_key(&same_key(m)) {
            return Err(WriteError::Duplicate);
        }
        if !st.current_copies(m) {
            return Err(WriteError::Contended);
        }
        append(&mut st, audit)?;
        st.count(m, 1);
        st.same.insert(same_key(m), m.id.clone());
        st.mappings.insert(key(m), m.clone());
        keep_stats(&mut st, None, Some(m));
        Ok(())
    }

    async fn update_mapping(&self, old: &Mapping, new: &Mapping, audit: AuditEntry) -> Result<(), WriteError> {
        let mut st = self.lock()?;
        match st.mappings.get(&key(old)) {
            Some(current) if current.version == old.version => {}
            _ => return Err(WriteError::Stale),
        }
        let moved = same_key(old) != same_key(new);
        if moved && st.same.contains_key(&same_key(new)) {
            return Err(WriteError::Duplicate);
        }
        if !st.current_copies(new) {
            return Err(WriteError::Contended);
        }
        append(&mut st, audit)?;
        if moved {
            st.same.remove(&same_key(old));
            st.same.insert(same_key(new), new.id.clone());
        }
        st.mappings.insert(key(new), new.clone());
        keep_stats(&mut st, Some(old), Some(new));
        Ok(())
    }

    async fn delete_mapping(&self, m: &Mapping, audit: AuditEntry) -> Result<(), WriteError> {
        let mut st = self.lock()?;
        match st.mappings.get(&key(m)) {
            Some(current) if current.version == m.version => {}
            _ => return Err(WriteError::Stale),
        }
        if !st.current_copies(m) {
            return Err(WriteError::Contended);
        }
        append(&mut st, audit)?;
        st.count(m, -1);
        st.same.remove(&same_key(m));
        st.mappings.remove(&key(m));
        keep_stats(&mut st, Some(m), None);
        Ok(())
    }

    async fn list_mappings(
        &self,
        tenant: &TenantId,
        kind: MappingKind,
        filter: &MappingFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Mapping>, RepoError> {
        let fp = cursor::fingerprint(&(tenant, kind, filter));
        let after = cursor.map(|c| cursor::decode(c, &fp)).transpose()?.map(|v| v.as_str().map(str::to_string).ok_or(RepoError::BadCursor)).transpose()?;
        let st = self.lock()?;
        let mut matching = st
            .mappings
            .range((tenant.clone(), kind, String::new())..)
            .take_while(|((t, k, _), _)| t == tenant && *k == kind)
            .filter(|((_, _, id), _)| after.as_ref().is_none_or(|a| id > a))
            .map(|(_, m)| m)
            .filter(|m| filter.admits(m));
        let items: Vec<Mapping> = matching.by_ref().take(limit).cloned().collect();
        let more = matching.next().is_some();
        let next_cursor = (more && !items.is_empty()).then(|| cursor::encode(&json!(items.last().map(|m| &m.id)), &fp));
        Ok(Page { items, next_cursor })
    }
}

#[async_trait]
impl AccessRepo for MemoryRepos {
    async fn entity_access(&self, tenant: &TenantId, entities: &[EntityRef]) -> Result<Vec<EntityAccess>, RepoError> {
        let st = self.lock()?;
        Ok(entities.iter().map(|e| st.record(tenant, e)).collect())
    }

    async fn change_access(&self, tenant: &TenantId, before: &EntityAccess, after: &EntityAccess, audit: AuditEntry) -> Result<(), WriteError> {
        let mut st = self.lock()?;
        let current = st.record(tenant, &before.entity);
        if current.version != before.version {
            return Err(WriteError::Stale);
        }
        let naming: Vec<MappingKey> = st.mappings.iter().filter(|(k, m)| &k.0 == tenant && before.entity.names(m)).map(|(k, _)| k.clone()).collect();
        append(&mut st, audit)?;
        for k in naming {
            if let Some(m) = st.mappings.get_mut(&k) {
                m.access.insert(after.entity.kind, after.stamp());
                m.version += 1;
            }
        }
        st.access.insert((tenant.clone(), after.entity.clone()), EntityAccess { mappings: current.mappings, ..after.clone() });
        Ok(())
    }
}

#[async_trait]
impl PrincipalRepo for MemoryRepos {
    async fn principal(&self, arn: &str) -> Result<Option<Principal>, RepoError> {
        Ok(self.lock()?.principals.get(arn).cloned())
    }

    async fn principals(&self) -> Result<Vec<Principal>, RepoError> {
        Ok(self.lock()?.principals.values().cloned().collect())
    }

    async fn put_principal(&self, p: &Principal, audit: AuditEntry) -> Result<(), RepoError> {
        let mut st = self.lock()?;
        append(&mut st, audit)?;
        st.principals.insert(p.principal.clone(), p.clone());
        Ok(())
    }

    async fn delete_principal(&self, p: &Principal, audit: AuditEntry) -> Result<(), WriteError> {
        let mut st = self.lock()?;
        if st.principals.get(&p.principal).is_none_or(|current| current.updated_at != p.updated_at) {
            return Err(WriteError::Stale);
        }
        append(&mut st, audit)?;
        st.principals.remove(&p.principal);
        Ok(())
    }
}

#[async_trait]
impl AuditLog for MemoryRepos {
    async fn list_audit(&self, filter: &AuditFilter, limit: usize, cursor: Option<&str>) -> Result<Page<AuditEntry>, RepoError> {
        let fp = cursor::fingerprint(&("audit", filter));
        let before = cursor.map(|c| cursor::decode(c, &fp)).transpose()?.map(|v| v.as_str().map(str::to_string).ok_or(RepoError::BadCursor)).transpose()?;
        let st = self.lock()?;
        let mut matching = st.audit.values().rev().filter(|e| before.as_ref().is_none_or(|b| &e.id < b)).filter(|e| filter.admits(e));
        let items: Vec<AuditEntry> = matching.by_ref().take(limit).cloned().collect();
        let more = matching.next().is_some();
        let next_cursor = (more && !items.is_empty()).then(|| cursor::encode(&json!(items.last().map(|e| &e.id)), &fp));
        Ok(Page { items, next_cursor })
    }

    async fn append_audit(&self, entry: AuditEntry) -> Result<(), RepoError> {
        append(&mut *self.lock()?, entry)
    }
}

#[async_trait]
impl StatsRepo for MemoryRepos {
    async fn statistics(&self, tenant: &TenantId, domain: mitre_attack::Domain, window: &Window) -> Result<Aggregates, RepoError> {
        let st = self.lock()?;
        Ok(stats::sum(
            st.buckets
                .iter()
                .filter(|((t, k), _)| {
                    t == tenant
                        && k.domain == domain
                        && match &k.bucket {
                            Bucket::All => window.is_all(),
                            Bucket::Month(m) => !window.is_all() && window.contains(m),
                        }
                })
                .map(|(_, a)| a),
        ))
    }
}

#[async_trait]
impl InsightRepo for MemoryRepos {
    async fn put_release_changes(&self, record: &ReleaseChangeRecord) -> Result<(), RepoError> {
        let (Some(to), Some(from)) = (release_key(&record.to), release_key(&record.from)) else {
            return Err(RepoError::Backend(format!("releases {:?} and {:?} are not comparable", record.from, record.to).into()));
        };
        self.lock()?.changes.insert((record.domain, to, from), record.clone());
        Ok(())
    }

    async fn release_changes(&self, domain: mitre_attack::Domain, pair: Option<(&str, &str)>) -> Result<Option<ReleaseChangeRecord>, RepoError> {
        let st = self.lock()?;
        Ok(match pair {
            Some((from, to)) => match (release_key(from), release_key(to)) {
                (Some(from), Some(to)) => st.changes.get(&(domain, to, from)).cloned(),
                _ => None,
            },
            None => st.changes.iter().rev().find(|((d, _, _), _)| *d == domain).map(|(_, r)| r.clone()),
        })
    }

    async fn put_history(&self, record: &HistoryRecord) -> Result<(), RepoError> {
        self.lock()?.histories.insert((record.tenant.clone(), record.domain), record.clone());
        Ok(())
    }

    async fn history(&self, tenant: &TenantId, domain: mitre_attack::Domain) -> Result<Option<HistoryRecord>, RepoError> {
        Ok(self.lock()?.histories.get(&(tenant.clone(), domain)).cloned())
    }
}

#[async_trait]
impl FeedbackRepo for MemoryRepos {
    async fn verdicts(&self, tenant: &TenantId, techniques: &[String]) -> Result<crate::review::Verdicts, RepoError> {
        let mut v = self.lock()?.verdicts.get(tenant).cloned().unwrap_or_default();
        v.retain(|(t, _), _| techniques.contains(t));
        Ok(v)
    }
}
