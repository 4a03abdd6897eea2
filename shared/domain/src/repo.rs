//! The repositories the handlers depend on, one trait per capability. The DynamoDB
//! implementations live in `mitre-store`; [`crate::memory`] holds the in-memory ones, and
//! [`crate::contract`] the suite both must pass.
use async_trait::async_trait;
use mitre_attack::TechniqueId;

use crate::access::{EntityAccess, EntityRef, Sight};
use crate::audit::AuditEntry;
use crate::error::{RepoError, WriteError};
use crate::insight::{HistoryRecord, ReleaseChangeRecord};
use crate::mapping::{DetectionMethod, ImpactLevel, Mapping, MappingKind, MitigationStatus};
use crate::role::Principal;
use crate::stats::{Aggregates, Window};
use crate::tenant::TenantId;
use crate::time::Timestamp;

/// One page of a list and the cursor of the next (None on the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Which of a tenant's mappings of one kind a list returns; every condition must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MappingFilter {
    /// Entities the mappings must name (of kinds the mapping kind names).
    pub entities: Vec<EntityRef>,
    pub technique: Option<TechniqueId>,
    pub tactic: Option<TacticFilter>,
    /// Mappings last observed at or after this time.
    pub observed_from: Option<Timestamp>,
    /// Mappings first observed at or before this time.
    pub observed_to: Option<Timestamp>,
    /// Only the mappings the caller may see (by the copies of their entities' access).
    pub sight: Sight,
    pub detection_method: Option<DetectionMethod>,
    pub impact_level: Option<ImpactLevel>,
    pub mitigation_status: Option<MitigationStatus>,
    /// Confidence at least / at most (1 to 100).
    pub confidence_min: Option<u8>,
    pub confidence_max: Option<u8>,
    /// Mapped by enrichment (true) or by hand (false).
    pub auto_suggested: Option<bool>,
    /// Flagged for an analyst (true) or not (false).
    pub needs_review: Option<bool>,
    pub created_by: Option<String>,
    /// Confirmed in review (true) or not (false).
    pub reviewed: Option<bool>,
}

/// A tactic: by identity (its STIX id) for mappings that store one, and by shortname for
/// mappings written before identities were stored (and for tactics no catalog knows).
#[derive(Debug, Clone, PartialEq)]
pub struct TacticFilter {
    pub stix_id: Option<String>,
    pub shortname: String,
}

impl MappingFilter {
    /// Whether `m` passes (what an in-memory repository evaluates).
    pub fn admits(&self, m: &Mapping) -> bool {
        self.entities.iter().all(|e| e.names(m))
            && self.sight.sees(m)
            && self.technique.as_ref().is_none_or(|t| &m.technique == t)
            && self.tactic.as_ref().is_none_or(|t| match (&m.tactic_id, &t.stix_id) {
                (Some(have), Some(want)) => have == want,
                _ => m.tactic == t.shortname,
            })
            && self.observed_from.is_none_or(|f| m.last_observed >= f)
            && self.observed_to.is_none_or(|t| m.first_observed <= t)
            && self.detection_method.is_none_or(|d| m.detection_method == d)
            && self.impact_level.is_none_or(|i| m.impact_level == i)
            && self.mitigation_status.is_none_or(|s| m.mitigation_status == s)
            && self.confidence_min.is_none_or(|c| m.confidence_score >= c)
            && self.confidence_max.is_none_or(|c| m.confidence_score <= c)
            && self.auto_suggested.is_none_or(|a| (m.detection_method == DetectionMethod::AutoSuggested) == a)
            && self.needs_review.is_none_or(|r| m.needs_review.is_some() == r)
            && self.created_by.as_ref().is_none_or(|c| &m.created_by == c)
            && self.reviewed.is_none_or(|r| m.reviewed_by.is_some() == r)
    }
}

/// Technique mappings, tenant by tenant.
#[async_trait]
pub trait MappingRepo: Send + Sync {
    async fn mapping(&self, tenant: &TenantId, kind: MappingKind, id: &str) -> Result<Option<Mapping>, RepoError>;
    /// The mapping that holds the same entities, technique and tactic as `m`, if any.
    async fn same_mapping(&self, m: &Mapping) -> Result<Option<Mapping>, RepoError>;
    /// Creates `m` with its audit entry, all or nothing; `Duplicate` when another mapping
    /// holds the same entities, technique and tactic. Every write of a mapping (create, update,
    /// delete) holds only while the access record of each entity it names is at the version its
    /// copy ([`Mapping::access`]) is of, else `Contended`; create and delete count the mapping
    /// in each entity's record.
    async fn create_mapping(&self, m: &Mapping, audit: AuditEntry) -> Result<(), WriteError>;
    /// Replaces `old`, as long as it is still at its version (else `Stale`), by `new`, with
    /// its audit entry; `Duplicate` when `new` would be the same observation as another mapping.
    async fn update_mapping(&self, old: &Mapping, new: &Mapping, audit: AuditEntry) -> Result<(), WriteError>;
    /// Deletes `m` at its version (else `Stale`), with its audit entry.
    async fn delete_mapping(&self, m: &Mapping, audit: AuditEntry) -> Result<(), WriteError>;
    /// A page of the tenant's mappings of `kind` that pass `filter`, in id (creation) order.
    async fn list_mappings(
        &self,
        tenant: &TenantId,
        kind: MappingKind,
        filter: &MappingFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Mapping>, RepoError>;

    /// Every mapping of the tenant's `kinds` that passes `filter`, page after page (pages of
    /// 1,000: about two reads per 1,000 mappings), kind after kind unless the repository can do
    /// better.
    async fn all_mappings(&self, tenant: &TenantId, kinds: &[MappingKind], filter: &MappingFilter) -> Result<Vec<Mapping>, RepoError> {
        all_mappings_by_kind(self, tenant, kinds, filter).await
    }
}

/// [`MappingRepo::all_mappings`] kind after kind, through `list_mappings`.
pub async fn all_mappings_by_kind<R: MappingRepo + ?Sized>(
    repo: &R,
    tenant: &TenantId,
    kinds: &[MappingKind],
    filter: &MappingFilter,
) -> Result<Vec<Mapping>, RepoError> {
    let mut out = Vec::new();
    for kind in kinds {
        // an entity condition on a field the kind lacks matches nothing
        if filter.entities.iter().any(|e| !kind.entity_fields().contains(&e.field())) {
            continue;
        }
        let mut cursor: Option<String> = None;
        loop {
            let page = repo.list_mappings(tenant, *kind, filter, 1000, cursor.as_deref()).await?;
            out.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    Ok(out)
}

/// The access records of entities ([`crate::access`]).
#[async_trait]
pub trait AccessRepo: Send + Sync {
    /// The access of each of `entities`, in order, read consistently: open at version 0 for
    /// an entity without a record.
    async fn entity_access(&self, tenant: &TenantId, entities: &[EntityRef]) -> Result<Vec<EntityAccess>, RepoError>;
    /// Replaces `before` (while it is at its version, else `Stale`) by `after`, and the copy of
    /// it on every mapping that names the entity (each one's version bumped), with the audit
    /// entry: at once for an entity of at most [`MAX_ATOMIC_MAPPINGS`] mappings; for a larger
    /// one in two passes that never show a mapping to a principal outside the access in force
    /// (see the DynamoDB implementation), resumed by the next change if interrupted.
    async fn change_access(&self, tenant: &TenantId, before: &EntityAccess, after: &EntityAccess, audit: AuditEntry) -> Result<(), WriteError>;
}

/// The most mappings of one entity whose access changes in one transaction (DynamoDB's
/// transactions hold 100 items: the record, the audit entry and the mappings).
pub const MAX_ATOMIC_MAPPINGS: usize = 98;

/// The principal registry.
#[async_trait]
pub trait PrincipalRepo: Send + Sync {
    async fn principal(&self, arn: &str) -> Result<Option<Principal>, RepoError>;
    async fn principals(&self) -> Result<Vec<Principal>, RepoError>;
    /// Registers or changes `p`, with its audit entry, all or nothing.
    async fn put_principal(&self, p: &Principal, audit: AuditEntry) -> Result<(), RepoError>;
    /// Removes `p` as long as it is as read (else `Stale`), with its audit entry.
    async fn delete_principal(&self, p: &Principal, audit: AuditEntry) -> Result<(), WriteError>;
}

/// Which audit entries a list returns; every condition must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    /// One tenant's log, or every tenant's (superusers).
    pub tenant: Option<TenantId>,
    pub action: Option<String>,
    pub actor: Option<String>,
    pub target: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

impl AuditFilter {
    pub fn admits(&self, e: &AuditEntry) -> bool {
        self.tenant.as_ref().is_none_or(|t| &e.tenant == t)
            && self.action.as_ref().is_none_or(|a| &e.action == a)
            && self.actor.as_ref().is_none_or(|a| &e.actor == a)
            && self.target.as_ref().is_none_or(|t| &e.target == t)
            && self.since.is_none_or(|s| e.at >= s)
            && self.until.is_none_or(|u| e.at <= u)
    }
}

/// The audit log: append-only.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// A page of the entries that pass `filter`, newest first.
    async fn list_audit(&self, filter: &AuditFilter, limit: usize, cursor: Option<&str>) -> Result<Page<AuditEntry>, RepoError>;
    /// Appends an entry that goes with no other write (a system action).
    async fn append_audit(&self, entry: AuditEntry) -> Result<(), RepoError>;

    /// Every entry that passes `filter`, newest first (every page of [`AuditLog::list_audit`]).
    async fn all_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, RepoError> {
        let (mut entries, mut cursor) = (Vec::new(), None::<String>);
        loop {
            let page = self.list_audit(filter, 500, cursor.as_deref()).await?;
            entries.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(entries),
            }
        }
    }
}

/// The statistics counters of a tenant's mappings (see [`crate::stats`]).
#[async_trait]
pub trait StatsRepo: Send + Sync {
    /// The tenant's counters in `domain` over the months of `window`, summed.
    async fn statistics(&self, tenant: &TenantId, domain: mitre_attack::Domain, window: &Window) -> Result<Aggregates, RepoError>;
}

/// What a tenant's reviews decided on auto-mappings (see [`crate::review`]); kept by the
/// mapping writes themselves.
#[async_trait]
pub trait FeedbackRepo: Send + Sync {
    /// The tenant's verdicts on `techniques` (upper-case ATT&CK ids; at most 100). One call.
    async fn verdicts(&self, tenant: &TenantId, techniques: &[String]) -> Result<crate::review::Verdicts, RepoError>;
}

/// Release changes and tenants' inference histories (see [`crate::insight`]).
#[async_trait]
pub trait InsightRepo: Send + Sync {
    /// Keeps the changes of a release change (replacing any computed before for the same pair).
    async fn put_release_changes(&self, record: &ReleaseChangeRecord) -> Result<(), RepoError>;
    /// The changes from `from` to `to` of `domain`; with no pair, the latest change of the
    /// domain (by release). One call.
    async fn release_changes(&self, domain: mitre_attack::Domain, pair: Option<(&str, &str)>) -> Result<Option<ReleaseChangeRecord>, RepoError>;
    /// Replaces the tenant's history of a domain.
    async fn put_history(&self, record: &HistoryRecord) -> Result<(), RepoError>;
    /// The tenant's history of `domain`, if one was built. One call.
    async fn history(&self, tenant: &TenantId, domain: mitre_attack::Domain) -> Result<Option<HistoryRecord>, RepoError>;
}
