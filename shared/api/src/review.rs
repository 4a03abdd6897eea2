//! The review loop of auto-mapping: the queue of auto-suggested mappings waiting for an
//! analyst, `confirm` and `reject`, and the feedback report of what reviewers decided.
use std::collections::BTreeMap;

use mitre_domain::{AuditEntry, AuditFilter, DetectionMethod, Mapping, MappingFilter, MappingKind};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::identity::Identity;
use crate::mappings::{audit, check, if_match, load_for_change, mapping_reply, parse_json, resolved, write_error};
use crate::params::Params;
use crate::{App, Reply};

/// The body of `POST {kind}-mappings/{id}/confirm` (optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmInput {
    /// The tactic the technique was observed in, when the reviewer corrects it (TA id, name or shortname).
    pub tactic: Option<String>,
    /// The reviewer's confidence, 1 to 100.
    #[schema(minimum = 1, maximum = 100)]
    pub confidence_score: Option<i64>,
}

/// The body of `POST {kind}-mappings/{id}/reject`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectInput {
    /// Why the suggestion is wrong: 1 to 1024 characters, not only blanks.
    #[schema(min_length = 1, max_length = 1024, pattern = "\\S")]
    pub reason: String,
}

pub const MAX_REASON: usize = 1024;

fn only_auto_suggested(m: &Mapping) -> Result<(), ApiError> {
    if m.detection_method == DetectionMethod::AutoSuggested {
        Ok(())
    } else {
        Err(ApiError::Conflict("only auto-suggested mappings are reviewed; change this one with PATCH or DELETE".into()))
    }
}

/// The tenant's auto-suggested mappings not yet confirmed, oldest first (`order=oldest`, the
/// default) or highest confidence first (`order=score`), of every entity type or one.
pub async fn queue(app: &App, who: &Identity, params: &Params) -> Result<Reply, ApiError> {
    let kinds = params.entity_types()?;
    let by_score = match params.str("order") {
        None | Some("oldest") => false,
        Some("score") => true,
        Some(_) => return Err(ApiError::bad_param("order", "order must be oldest or score")),
    };
    let filter = MappingFilter { auto_suggested: Some(true), reviewed: Some(false), sight: who.sight(), ..MappingFilter::default() };
    let waiting = app.mappings.all_mappings(who.tenant()?, &kinds, &filter).await?;
    let total = waiting.len();
    // ids are time-ordered (ULIDs): the key orders the queue and places the cursor
    let mut keyed: Vec<(String, Mapping)> =
        waiting.into_iter().map(|m| (if by_score { format!("{:03}#{}", 100 - m.confidence_score, m.id) } else { m.id.clone() }, m)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let (items, next_cursor) = params.paginate(keyed)?;
    Ok(Reply::json(json!({ "waiting": total, "items": items, "next_cursor": next_cursor })))
}

/// Confirms an auto-suggested mapping: the reviewer recorded, `needs_review` cleared, the tactic
/// and confidence as the reviewer sets them (If-Match required).
pub async fn confirm(app: &App, who: &Identity, kind: MappingKind, id: &str, body: &[u8], if_match_header: Option<&str>) -> Result<Reply, ApiError> {
    let expected = if_match(if_match_header)?;
    let (old, records) = load_for_change(app, who, kind, id).await?;
    check(&old, expected)?;
    let input: ConfirmInput = if body.iter().all(u8::is_ascii_whitespace) { ConfirmInput::default() } else { parse_json(body)? };
    only_auto_suggested(&old)?;
    let tactic = match &input.tactic {
        Some(t) => Some(resolved(app, old.technique.as_str(), Some(t)).await?),
        None => None,
    };
    let new = old.confirmed(tactic, input.confidence_score, &who.principal)?.stamped(&records);
    app.mappings.update_mapping(&old, &new, audit(who, "mapping.confirm", &new, Some(&old), Some(&new))).await.map_err(write_error)?;
    mapping_reply(200, &new)
}

/// Rejects an auto-suggested mapping: removed from its entity, with a rejection record (the
/// technique, tactic, entities, evidence and the reason) in the audit log (If-Match required).
pub async fn reject(app: &App, who: &Identity, kind: MappingKind, id: &str, body: &[u8], if_match_header: Option<&str>) -> Result<Reply, ApiError> {
    let expected = if_match(if_match_header)?;
    let (m, records) = load_for_change(app, who, kind, id).await?;
    check(&m, expected)?;
    let input: RejectInput = parse_json(body)?;
    let reason = input.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(mitre_domain::Invalid::new("reason", format!("reason must be 1 to {MAX_REASON} characters")).into());
    }
    only_auto_suggested(&m)?;
    let m = m.stamped(&records);
    let rejection = json!({
        "technique": m.technique,
        "tactic": m.tactic,
        "tactic_id": m.tactic_id,
        "entities": m.entities(),
        "evidence": m.evidence,
        "confidence_score": m.confidence_score,
        "reason": reason,
        "rejected_by": who.principal,
    });
    let entry =
        AuditEntry::new(&m.tenant, &who.principal, "mapping.reject", m.target(), Some(json!(m)), Some(json!({ "rejection": rejection })), &who.request_id);
    app.mappings.delete_mapping(&m, entry).await.map_err(write_error)?;
    Ok(Reply::json(json!({ "rejected": m.id, "rejection": rejection })))
}

#[derive(Default)]
struct Counts {
    confirmed: u64,
    rejected: u64,
}

/// What reviewers decided in the window: confirmed and rejected auto-mappings per technique and
/// per evidence source (the signal that produced them), read from the audit log. Counts only:
/// no entity is named.
pub async fn feedback(app: &App, who: &Identity, params: &Params) -> Result<Reply, ApiError> {
    let tenant = who.tenant()?.clone();
    let (since, until) = (params.timestamp("from")?, params.timestamp("to")?);
    if let (Some(f), Some(t)) = (since, until)
        && f > t
    {
        return Err(ApiError::bad_param("from", "from is after to"));
    }
    let mut techniques: BTreeMap<String, Counts> = BTreeMap::new();
    let mut sources: BTreeMap<String, Counts> = BTreeMap::new();
    let mut total = Counts::default();
    for (action, confirmed) in [("mapping.confirm", true), ("mapping.reject", false)] {
        let filter = AuditFilter { tenant: Some(tenant.clone()), action: Some(action.into()), since, until, ..AuditFilter::default() };
        let mut cursor: Option<String> = None;
        loop {
            let page = app.audit.list_audit(&filter, 500, cursor.as_deref()).await?;
            for e in &page.items {
                // the mapping as the reviewer decided on it
                let m: &Value = if confirmed { e.after.as_ref().unwrap_or(&Value::Null) } else { e.before.as_ref().unwrap_or(&Value::Null) };
                let Some(technique) = m["technique"].as_str() else { continue };
                let mut kinds: Vec<&str> = m["evidence"].as_array().into_iter().flatten().filter_map(|x| x["kind"].as_str()).collect();
                kinds.sort_unstable();
                kinds.dedup();
                for c in std::iter::once(techniques.entry(technique.to_string()).or_default()).chain([&mut total]) {
                    if confirmed { c.confirmed += 1 } else { c.rejected += 1 }
                }
                for k in kinds {
                    let c = sources.entry(k.to_string()).or_default();
                    if confirmed { c.confirmed += 1 } else { c.rejected += 1 }
                }
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    let rows = |m: BTreeMap<String, Counts>, key: &str| {
        let mut v: Vec<Value> =
            m.into_iter().map(|(k, c)| json!({ key: k, "confirmed": c.confirmed, "rejected": c.rejected, "precision": precision(&c) })).collect();
        v.sort_by_key(|r| std::cmp::Reverse(r["confirmed"].as_u64().unwrap_or(0) + r["rejected"].as_u64().unwrap_or(0)));
        v
    };
    Ok(Reply::json(json!({
        "from": since,
        "to": until,
        "confirmed": total.confirmed,
        "rejected": total.rejected,
        "precision": precision(&total),
        "techniques": rows(techniques, "technique"),
        "evidence_sources": rows(sources, "source"),
    })))
}

/// Confirmed over reviewed (None before any review).
fn precision(c: &Counts) -> Option<f64> {
    let n = c.confirmed + c.rejected;
    (n > 0).then(|| (c.confirmed as f64 / n as f64 * 1000.0).round() / 1000.0)
}
