//! Reading what the sync stored: domain states, run records and audit entries.
use mitre_attack::Domain;
use mitre_attack::summary::DomainSummary;
use serde_json::{Value, json};

use crate::ddb::from_item;
use crate::error::StoreError;
use crate::items::{AuditEntry, AuditItem, DomainState, DomainStateItem, RunItem, RunRecord};
use crate::{Store, keys};

impl Store {
    pub async fn domain_state(&self, domain: Domain) -> Result<Option<DomainState>, StoreError> {
        Ok(self.get_item::<DomainStateItem>(keys::CATALOG_PK, &keys::domain_sk(domain)).await?.map(|i| i.state))
    }

    /// Every domain that was ever synced, with its state: one Query.
    pub async fn domain_states(&self) -> Result<Vec<(Domain, DomainState)>, StoreError> {
        let items = self.query_partition(None, keys::CATALOG_PK, Some(keys::DOMAIN_SK_PREFIX)).await?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let i: DomainStateItem = from_item(item)?;
            out.push((i.domain, i.state));
        }
        out.sort_by_key(|(d, _)| *d);
        Ok(out)
    }

    /// Everything `status` shows, in one Query of the `CATALOG` partition: the domain states,
    /// the last verification report and the number of mappings flagged for an analyst.
    pub async fn catalog_status(&self) -> Result<(Vec<(Domain, DomainState)>, Option<crate::integrity::VerifyReport>, i64), StoreError> {
        let mut states = Vec::new();
        let mut verify = None;
        let mut review = 0;
        for item in self.query_partition(None, keys::CATALOG_PK, None).await? {
            let sk = item.get("sk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            if sk.starts_with(keys::DOMAIN_SK_PREFIX) {
                let i: DomainStateItem = from_item(item)?;
                states.push((i.domain, i.state));
            } else if sk == keys::VERIFY_SK {
                let text = item.get("report").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                verify = Some(serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))?);
            } else if sk == keys::REVIEW_SK {
                review = item.get("count").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0);
            }
        }
        states.sort_by_key(|(d, _)| *d);
        Ok((states, verify, review))
    }

    /// The run records of a domain, newest first.
    pub async fn runs(&self, domain: Domain) -> Result<Vec<RunRecord>, StoreError> {
        let items = self.query_partition(None, &keys::sync_pk(domain), Some(keys::RUN_SK_PREFIX)).await?;
        let mut runs: Vec<RunRecord> = items.into_iter().map(|i| from_item::<RunItem>(i).map(|r| r.run)).collect::<Result<_, _>>()?;
        runs.reverse();
        Ok(runs)
    }

    /// Audit entries of a tenant, oldest first.
    pub async fn audit_entries(&self, tenant: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let items = self.query_partition(None, &keys::audit_pk(tenant), None).await?;
        items.into_iter().map(|i| from_item::<AuditItem>(i).map(|a| a.entry)).collect()
    }
}

/// The status document of `mitre status --json` and `GET status`:
/// `{"domains": {"enterprise-attack": {"version": "18.1", "counts": {...}, "last_run": {...}}}}`.
/// `detailed` adds per-tactic technique counts, sub-techniques, revoked and deprecated objects
/// of all types (`revoked`, `deprecated`) and of techniques (`revoked_techniques`,
/// `deprecated_techniques`; null for a summary stored before they were counted).
pub fn status_document(states: &[(Domain, DomainState)], detailed: bool) -> Value {
    let mut domains = serde_json::Map::new();
    for (domain, st) in states {
        let mut d = json!({
            "version": st.version,
            "counts": st.summary.as_ref().map(|s| json!(s.counts)).unwrap_or(json!({})),
            "objects": st.summary.as_ref().map(|s| s.objects).unwrap_or(0),
            "synced_at": st.synced_at,
            "source": st.source,
            "last_run": st.last_run,
            "last_success": st.last_success.as_ref().map(|r| json!({"run_id": r.run_id, "finished_at": r.finished_at, "version": r.version})),
        });
        if detailed && let Some(s) = &st.summary {
            d["tactics"] = json!(s.tactics);
            d["techniques"] = json!(s.techniques);
            d["subtechniques"] = json!(s.subtechniques);
            d["revoked"] = json!(s.revoked);
            d["deprecated"] = json!(s.deprecated);
            d["revoked_techniques"] = json!(s.revoked_techniques);
            d["deprecated_techniques"] = json!(s.deprecated_techniques);
        }
        domains.insert(domain.to_string(), d);
    }
    json!({ "domains": domains })
}

/// The technique figures of `status --detailed`: active techniques and sub-techniques with the
/// revoked and deprecated techniques (sub-techniques included), then the revoked and deprecated
/// objects of all types on a line of their own.
pub fn technique_lines(s: &DomainSummary) -> [String; 2] {
    let active = format!("active techniques {}, sub-techniques {}", s.techniques, s.subtechniques);
    let techniques = match (s.revoked_techniques, s.deprecated_techniques) {
        (Some(r), Some(d)) => format!("{active}; revoked techniques {r}, deprecated techniques {d}"),
        // an unchanged upstream keeps the stored summary; a forced import recomputes it
        _ => format!("{active}; revoked and deprecated techniques not counted in this stored summary (`mitre import --force` counts them)"),
    };
    [techniques, format!("all object types: revoked {}, deprecated {}", s.revoked, s.deprecated)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technique_lines_show_technique_counts_and_all_types_apart() {
        // enterprise 17.1: 132 revoked and 12 deprecated techniques; 140 and 250 objects of all types
        let mut s = DomainSummary {
            techniques: 211,
            subtechniques: 468,
            revoked: 140,
            deprecated: 250,
            revoked_techniques: Some(132),
            deprecated_techniques: Some(12),
            ..DomainSummary::default()
        };
        let [techniques, all] = technique_lines(&s);
        assert_eq!(techniques, "active techniques 211, sub-techniques 468; revoked techniques 132, deprecated techniques 12");
        assert_eq!(all, "all object types: revoked 140, deprecated 250");
        // a summary stored before techniques were counted apart
        s.revoked_techniques = None;
        s.deprecated_techniques = None;
        let [techniques, _] = technique_lines(&s);
        assert!(techniques.starts_with("active techniques 211, sub-techniques 468; revoked and deprecated techniques not counted"), "{techniques}");
        assert!(!techniques.contains("140"), "{techniques}");
        let doc = status_document(&[(Domain::EnterpriseAttack, crate::items::DomainState { summary: Some(s), ..Default::default() })], true);
        let d = &doc["domains"]["enterprise-attack"];
        assert_eq!((d["revoked"].as_u64(), d["revoked_techniques"].is_null()), (Some(140), true));
    }
}
