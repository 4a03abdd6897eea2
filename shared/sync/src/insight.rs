//! What the module keeps beside the catalog and the mappings (see `mitre_domain::insight`):
//! - [`keep_release_changes`]: when a run moves a domain to a newer release, the changes from the
//!   release it replaces (read from that release's archived snapshot) are computed once and kept
//!   for every tenant's upgrade impact;
//! - [`rebuild_histories`]: each tenant's history for technique inference, rebuilt from its
//!   mappings by a job (the scheduled sync, or `mitre infer rebuild` on demand), so that the
//!   mapping write path pays nothing for it.
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use mitre_attack::Domain;
use mitre_attack::catalog::DomainCatalog;
use mitre_attack::changes::ReleaseChanges;
use mitre_domain::insight::release_key;
use mitre_domain::{
    EntityRef, HistoryRecord, InsightRepo, Mapping, MappingFilter, MappingKind, MappingRepo, PrincipalRepo, ReleaseChangeRecord, TenantId, Timestamp,
};
use mitre_store::{Store, StoreError};
use mitre_views::inference::TenantHistory;

use crate::SyncError;

/// The most entities a history holds (the most recently observed): what one item stores.
pub const HISTORY_CAP: usize = 4000;

/// Whether moving a domain from `old` to `new` is an upgrade whose changes are kept: both
/// releases `major.minor`, the new one later.
pub fn is_upgrade(old: &str, new: &str) -> bool {
    matches!((release_key(old), release_key(new)), (Some(a), Some(b)) if a < b)
}

/// Computes and keeps the changes from the catalog in the snapshot `old_snapshot` to `new`.
/// Returns the number of techniques that changed, or None when there is no old snapshot to
/// compare with (a first sync).
pub async fn keep_release_changes(store: &Store, old_snapshot: &str, new: &DomainCatalog) -> Result<Option<usize>, SyncError> {
    let Some(bytes) = store.get_object(old_snapshot).await? else {
        tracing::warn!(domain = %new.domain, key = old_snapshot, "the replaced release's snapshot is missing: no release changes");
        return Ok(None);
    };
    let old = DomainCatalog::decode(&bytes).map_err(StoreError::Corrupt)?;
    let changes = ReleaseChanges::between(&old, new);
    let record = ReleaseChangeRecord {
        domain: new.domain,
        from: old.version.clone(),
        to: new.version.clone(),
        computed_at: Timestamp::now(),
        changes: changes.encode().map_err(|e| StoreError::Corrupt(format!("cannot encode the release changes: {e}")))?,
    };
    store.put_release_changes(&record).await?;
    tracing::info!(domain = %new.domain, from = %old.version, to = %new.version, techniques = changes.techniques.len(), bytes = record.changes.len(), "release changes kept");
    Ok(Some(changes.techniques.len()))
}

/// The technique sets of a tenant's entities in `domain`, most recently observed first: every
/// entity a mapping names holds the mapping's technique (a case holds its case mappings and
/// the alert mappings naming it). Mappings that await review are left out: the history learns
/// from what analysts wrote or confirmed.
pub fn entity_sets(mappings: &[Mapping], domain: Domain) -> Vec<Vec<String>> {
    let mut sets: HashMap<EntityRef, (Timestamp, BTreeSet<String>)> = HashMap::new();
    for m in mappings.iter().filter(|m| m.domain == domain && !m.awaits_review()) {
        for e in m.entities() {
            let entry = sets.entry(e).or_insert_with(|| (m.last_observed, BTreeSet::new()));
            entry.0 = entry.0.max(m.last_observed);
            entry.1.insert(m.technique.as_str().to_string());
        }
    }
    let mut sets: Vec<(Timestamp, EntityRef, BTreeSet<String>)> = sets.into_iter().map(|(e, (t, s))| (t, e, s)).collect();
    // newest first; ties by entity, so a rebuild of the same mappings is the same history
    sets.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    sets.into_iter().map(|(_, _, s)| s.into_iter().collect()).collect()
}

/// What one rebuild did for one tenant and domain.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rebuilt {
    pub tenant: TenantId,
    pub domain: Domain,
    pub mappings: u64,
    pub entities: u64,
}

/// Rebuilds the history of `tenant` in every domain of `domains` from its mappings (one read of
/// them all) and keeps it.
pub async fn rebuild_history(repo: &(impl MappingRepo + InsightRepo), tenant: &TenantId, domains: &[Domain]) -> Result<Vec<Rebuilt>, SyncError> {
    let mappings = repo.all_mappings(tenant, &MappingKind::ALL, &MappingFilter::default()).await?;
    let mut out = Vec::new();
    for &domain in domains {
        let sets = entity_sets(&mappings, domain);
        let history = TenantHistory::from_sets(sets, HISTORY_CAP);
        let record = HistoryRecord {
            tenant: tenant.clone(),
            domain,
            built_at: Timestamp::now(),
            entities: history.entities,
            mappings: mappings.iter().filter(|m| m.domain == domain).count() as u64,
            history: history.encode().map_err(|e| StoreError::Corrupt(format!("cannot encode the history: {e}")))?,
        };
        repo.put_history(&record).await?;
        out.push(Rebuilt { tenant: tenant.clone(), domain, mappings: record.mappings, entities: record.entities });
    }
    Ok(out)
}

/// Rebuilds the histories older than `max_age` of every tenant with a registered principal.
pub async fn rebuild_histories(
    repo: &(impl MappingRepo + InsightRepo + PrincipalRepo),
    domains: &[Domain],
    max_age: Duration,
) -> Result<Vec<Rebuilt>, SyncError> {
    let principals = repo.principals().await?;
    let tenants: BTreeSet<TenantId> = principals.into_iter().map(|p| p.tenant).collect();
    let cutoff = Timestamp::now().as_datetime() - chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::hours(1));
    let mut out = Vec::new();
    for tenant in tenants {
        let mut stale = Vec::new();
        for &domain in domains {
            let built = repo.history(&tenant, domain).await?.map(|h| h.built_at.as_datetime());
            if built.is_none_or(|b| b < cutoff) {
                stale.push(domain);
            }
        }
        if !stale.is_empty() {
            out.extend(rebuild_history(repo, &tenant, &stale).await?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mitre_domain::contract::{alert_mapping, fresh_tenant};
    use mitre_domain::{DetectionMethod, MemoryRepos};

    #[tokio::test]
    async fn histories_hold_each_entity_once_newest_first_without_what_awaits_review() {
        let (t, other) = (fresh_tenant("history"), fresh_tenant("history-other"));
        let on_case = |alert: &str, technique: &str, at: &str| {
            let mut m = alert_mapping(&t, alert, technique, at);
            m.case_id = Some("C-1".into());
            m
        };
        let mut mappings = vec![
            on_case("A-1", "T1059.001", "2026-01-01T00:00:00Z"),
            on_case("A-1", "T1105", "2026-01-02T00:00:00Z"),
            on_case("A-2", "T1105", "2026-03-01T00:00:00Z"),
            alert_mapping(&t, "A-3", "T1003.001", "2026-02-01T00:00:00Z"),
            alert_mapping(&t, "A-3", "T1021.001", "2026-02-01T00:00:00Z"),
        ];
        // an auto-mapping no analyst has confirmed: left out
        let mut auto = alert_mapping(&t, "A-3", "T1486", "2026-02-01T00:00:00Z");
        auto.detection_method = DetectionMethod::AutoSuggested;
        mappings.push(auto);
        let sets = entity_sets(&mappings, Domain::EnterpriseAttack);
        assert_eq!(
            sets,
            [
                // alert A-2 and case C-1 (its alerts' techniques), last observed in March: by entity
                vec!["T1105".to_string()],
                vec!["T1059.001".into(), "T1105".into()],
                vec!["T1003.001".into(), "T1021.001".into()], // alert A-3, February
                vec!["T1059.001".into(), "T1105".into()],     // alert A-1, January
            ]
        );
        assert!(entity_sets(&mappings, Domain::IcsAttack).is_empty());

        // kept per tenant: another tenant's rebuild finds nothing of this one's
        let repo = MemoryRepos::new();
        for m in &mappings {
            repo.create_mapping(m, mitre_domain::AuditEntry::of(&t, "t", "mapping.create", m.target(), None, Some(m), "t")).await.unwrap();
        }
        let rebuilt = rebuild_history(&repo, &t, &[Domain::EnterpriseAttack]).await.unwrap();
        assert_eq!((rebuilt[0].entities, rebuilt[0].mappings), (3, 6), "sets of one technique say nothing of co-occurrence");
        let kept = repo.history(&t, Domain::EnterpriseAttack).await.unwrap().unwrap();
        assert_eq!(TenantHistory::decode(&kept.history).unwrap().entities, 3);
        let rebuilt = rebuild_history(&repo, &other, &[Domain::EnterpriseAttack]).await.unwrap();
        assert_eq!((rebuilt[0].entities, rebuilt[0].mappings), (0, 0));
    }
}
