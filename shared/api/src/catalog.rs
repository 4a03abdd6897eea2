//! Catalog handlers: everything here answers from the in-memory catalog.
use std::sync::Arc;

use mitre_attack::Domain;
use mitre_attack::catalog::{Credit, DomainCatalog, Entity, ObjectRef as R};
use mitre_attack::search::{Query, rank_techniques, score_entity};
use serde_json::{Value, json};

use crate::App;
use crate::bodies::*;
use crate::error::ApiError;
use crate::params::Params;

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(ApiError::internal)
}

fn page<T: serde::Serialize>(items: Vec<T>, next_cursor: Option<String>) -> Result<Value, ApiError> {
    Ok(json!({ "items": to_json(&items)?, "next_cursor": next_cursor }))
}

fn query(params: &Params) -> Result<Option<Query>, ApiError> {
    params.str("q").map(|q| Query::parse(q).ok_or_else(|| ApiError::bad_param("q", "q has no letters or digits to search for"))).transpose()
}

/// The catalogs to look an id up in: the `domain` parameter's, or every synced one.
async fn lookup_domains(app: &App, params: &Params) -> Result<Vec<Arc<DomainCatalog>>, ApiError> {
    let domains = match params.domain_opt()? {
        Some(d) => vec![d],
        None => app.catalog.domains().await?,
    };
    let mut out = Vec::with_capacity(domains.len());
    for d in domains {
        out.push(app.catalog.domain(d).await?);
    }
    Ok(out)
}

fn active_technique_count(c: &DomainCatalog, shortname: &str) -> usize {
    c.techniques.iter().filter(|t| !t.revoked && !t.deprecated && t.tactics.iter().any(|x| x == shortname)).count()
}

fn sorted(mut refs: Vec<ObjectRef>) -> Vec<ObjectRef> {
    refs.sort_by(|a, b| (a.attack_id.is_none(), &a.attack_id, &a.name).cmp(&(b.attack_id.is_none(), &b.attack_id, &b.name)));
    refs.dedup_by(|a, b| a.stix_id == b.stix_id);
    refs
}

/// Live objects related to `stix_id` through live relationships of `rel_type`, outgoing
/// (`from`) or incoming, whose object matches `kind`.
fn related(c: &DomainCatalog, stix_id: &str, rel_type: &str, outgoing: bool, kind: impl Fn(R) -> bool + Copy) -> Vec<ObjectRef> {
    let refs = if outgoing {
        c.live_from(stix_id, rel_type, kind).filter_map(|r| object_ref(c, &r.target_ref, r.description.as_deref())).collect()
    } else {
        c.live_to(stix_id, rel_type, kind).filter_map(|r| object_ref(c, &r.source_ref, r.description.as_deref())).collect()
    };
    sorted(refs)
}

/// References to credited objects (groups using something, or what a group uses), each with
/// how it is credited. The description is the group's own relationship's, else the first
/// campaign's.
fn credited(c: &DomainCatalog, credits: Vec<(&str, Vec<Credit<'_>>)>) -> Vec<ObjectRef> {
    let refs = credits
        .into_iter()
        .filter_map(|(stix_id, how)| {
            let description = how.iter().find_map(|h| h.relationship().description.as_deref());
            let mut r = object_ref(c, stix_id, description)?;
            r.credited = Some(
                how.iter()
                    .map(|h| match h {
                        Credit::Direct(_) => CreditView { via: "direct".into(), campaign: None, campaign_name: None },
                        Credit::Campaign { campaign, .. } => {
                            let e = c.object(campaign).and_then(|o| c.entity(o));
                            CreditView { via: "campaign".into(), campaign: e.and_then(|e| e.attack_id.clone()), campaign_name: e.map(|e| e.name.clone()) }
                        }
                    })
                    .collect(),
            );
            Some(r)
        })
        .collect();
    sorted(refs)
}

fn revoked_by(c: &DomainCatalog, stix_id: &str) -> Option<ObjectRef> {
    c.relationships_from(stix_id, Some("revoked-by")).find_map(|r| object_ref(c, &r.target_ref, None))
}

pub async fn list_tactics(app: &App, params: &Params) -> Result<Value, ApiError> {
    let c = app.catalog.domain(params.domain()?).await?;
    let items: Vec<(String, TacticView)> =
        c.tactics.iter().map(|t| (format!("{:04}", t.order), tactic_view(&c, t, active_technique_count(&c, &t.shortname)))).collect();
    let (items, next) = params.paginate(items)?;
    page(items, next)
}

pub async fn get_tactic(app: &App, params: &Params, id: &str) -> Result<Value, ApiError> {
    for c in lookup_domains(app, params).await? {
        if let Some(t) = c.tactic(id) {
            let techniques = sorted(
                c.techniques
                    .iter()
                    .filter(|x| !x.revoked && !x.deprecated && x.tactics.contains(&t.shortname))
                    .map(|x| ObjectRef {
                        attack_id: Some(x.attack_id.clone()),
                        stix_id: x.stix_id.clone(),
                        name: x.name.clone(),
                        relationship: None,
                        credited: None,
                    })
                    .collect(),
            );
            let view = tactic_view(&c, t, techniques.len());
            return to_json(&TacticDetail { tactic: view, techniques });
        }
    }
    Err(ApiError::NotFound(format!("no tactic {id:?}")))
}

pub async fn list_techniques(app: &App, params: &Params) -> Result<Value, ApiError> {
    let domain = params.domain()?;
    let c = app.catalog.domain(domain).await?;
    let tactic = match params.str("tactic") {
        Some(t) => Some(c.tactic(t).map(|t| t.shortname.clone()).ok_or_else(|| ApiError::bad_param("tactic", format!("unknown tactic {t:?} in {domain}")))?),
        None => None,
    };
    let phase = match params.str("kill_chain_phase") {
        Some(p) => Some(
            c.tactics
                .iter()
                .find(|t| t.shortname.eq_ignore_ascii_case(p))
                .map(|t| t.shortname.clone())
                .ok_or_else(|| ApiError::bad_param("kill_chain_phase", format!("unknown kill-chain phase {p:?} in {domain}")))?,
        ),
        None => None,
    };
    let platform = params.str("platform").map(str::to_lowercase);
    let include_sub = params.bool("include_subtechniques", true)?;
    let include_revoked = params.bool("include_revoked", false)?;
    let include_deprecated = params.bool("include_deprecated", false)?;
    let q = query(params)?;
    let candidates = c.techniques.iter().enumerate().filter(|(_, t)| {
        (include_sub || !t.is_subtechnique)
            && (include_revoked || !t.revoked)
            && (include_deprecated || !t.deprecated)
            && tactic.as_ref().is_none_or(|s| t.tactics.contains(s))
            && phase.as_ref().is_none_or(|s| t.tactics.contains(s))
            && platform.as_ref().is_none_or(|p| t.platforms.iter().any(|x| x.to_lowercase() == *p))
    });
    let items: Vec<(String, TechniqueView)> = match q {
        Some(q) => {
            let idx: Vec<usize> = candidates.map(|(i, _)| i).collect();
            rank_techniques(&c, &q, idx.into_iter())
                .into_iter()
                .enumerate()
                .map(|(rank, (i, _))| (format!("{rank:06}"), technique_view(&c, &c.techniques[i])))
                .collect()
        }
        None => candidates.map(|(_, t)| (format!("{}#{}", t.attack_id, t.stix_id), technique_view(&c, t))).collect(),
    };
    let (items, next) = params.paginate(items)?;
    page(items, next)
}

pub async fn get_technique(app: &App, params: &Params, id: &str) -> Result<Value, ApiError> {
    for c in lookup_domains(app, params).await? {
        let Some(t) = c.find_technique(id) else { continue };
        let subtechniques = related(&c, &t.stix_id, "subtechnique-of", false, |o| matches!(o, R::Technique(_)));
        let detail = TechniqueDetail {
            technique: technique_view(&c, t),
            subtechniques,
            mitigations: related(&c, &t.stix_id, "mitigates", false, |o| matches!(o, R::Mitigation(_))),
            groups: credited(&c, c.groups_using(&t.stix_id)),
            software: related(&c, &t.stix_id, "uses", false, |o| matches!(o, R::Software(_))),
            campaigns: related(&c, &t.stix_id, "uses", false, |o| matches!(o, R::Campaign(_))),
            detection_strategies: related(&c, &t.stix_id, "detects", false, |o| matches!(o, R::DetectionStrategy(_))),
            revoked_by: revoked_by(&c, &t.stix_id),
        };
        return to_json(&detail);
    }
    Err(ApiError::NotFound(format!("no technique {id:?}")))
}

#[derive(Clone, Copy)]
pub enum EntityKind {
    Mitigation,
    Group,
    Software,
}

fn entity_list(c: &DomainCatalog, kind: EntityKind) -> &[Entity] {
    match kind {
        EntityKind::Mitigation => &c.mitigations,
        EntityKind::Group => &c.groups,
        EntityKind::Software => &c.software,
    }
}

pub async fn list_entities(app: &App, params: &Params, kind: EntityKind) -> Result<Value, ApiError> {
    let c = app.catalog.domain(params.domain()?).await?;
    let include_revoked = params.bool("include_revoked", false)?;
    let include_deprecated = params.bool("include_deprecated", false)?;
    let q = query(params)?;
    let candidates = entity_list(&c, kind).iter().filter(|e| (include_revoked || !e.revoked) && (include_deprecated || !e.deprecated));
    let items: Vec<(String, EntityView)> = match q {
        Some(q) => {
            let mut scored: Vec<(u32, &Entity)> = candidates.map(|e| (score_entity(&q, e), e)).filter(|(s, _)| *s > 0).collect();
            scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.attack_id.cmp(&b.1.attack_id)));
            scored.into_iter().enumerate().map(|(rank, (_, e))| (format!("{rank:06}"), entity_view(&c, e))).collect()
        }
        None => candidates.map(|e| (format!("{}#{}", e.attack_id.as_deref().unwrap_or("~"), e.stix_id), entity_view(&c, e))).collect(),
    };
    let (items, next) = params.paginate(items)?;
    page(items, next)
}

pub async fn get_entity(app: &App, params: &Params, kind: EntityKind, id: &str) -> Result<Value, ApiError> {
    for c in lookup_domains(app, params).await? {
        let Some(e) = DomainCatalog::find_entity(entity_list(&c, kind), id) else { continue };
        let technique = |o: R| matches!(o, R::Technique(_));
        let detail = match kind {
            EntityKind::Mitigation => EntityDetail {
                entity: entity_view(&c, e),
                techniques: related(&c, &e.stix_id, "mitigates", true, technique),
                software: None,
                groups: None,
                revoked_by: revoked_by(&c, &e.stix_id),
            },
            EntityKind::Group => EntityDetail {
                entity: entity_view(&c, e),
                techniques: credited(&c, c.used_by_group(&e.stix_id, technique)),
                software: Some(credited(&c, c.used_by_group(&e.stix_id, |o| matches!(o, R::Software(_))))),
                groups: None,
                revoked_by: revoked_by(&c, &e.stix_id),
            },
            EntityKind::Software => EntityDetail {
                entity: entity_view(&c, e),
                techniques: related(&c, &e.stix_id, "uses", true, technique),
                software: None,
                groups: Some(credited(&c, c.groups_using(&e.stix_id))),
                revoked_by: revoked_by(&c, &e.stix_id),
            },
        };
        return to_json(&detail);
    }
    let what = match kind {
        EntityKind::Mitigation => "mitigation",
        EntityKind::Group => "group",
        EntityKind::Software => "software",
    };
    Err(ApiError::NotFound(format!("no {what} {id:?}")))
}

/// A STIX id, or the STIX id of the object with that ATT&CK ID.
fn resolve(c: &DomainCatalog, param: &str, id: &str) -> Result<String, ApiError> {
    if id.contains("--") {
        return Ok(id.to_string());
    }
    if let Some(t) = c.technique_by_attack_id(id) {
        return Ok(t.stix_id.clone());
    }
    if let Some(t) = c.tactic(id) {
        return Ok(t.stix_id.clone());
    }
    for list in [&c.mitigations, &c.groups, &c.software, &c.campaigns, &c.detection_strategies] {
        if let Some(e) = DomainCatalog::find_entity(list, id) {
            return Ok(e.stix_id.clone());
        }
    }
    Err(ApiError::bad_param(param, format!("{param} {id:?} names no object of {}", c.domain)))
}

pub async fn list_relationships(app: &App, params: &Params) -> Result<Value, ApiError> {
    let c = app.catalog.domain(params.domain()?).await?;
    let rel_type = params.str("type");
    if let Some(t) = rel_type {
        let known = ["uses", "mitigates", "subtechnique-of", "detects", "revoked-by", "attributed-to"];
        if !known.contains(&t) && !c.relationships.iter().any(|r| r.relationship_type == t) {
            return Err(ApiError::bad_param("type", format!("unknown relationship type {t:?}")));
        }
    }
    let source = params.str("source").map(|s| resolve(&c, "source", s)).transpose()?;
    let target = params.str("target").map(|s| resolve(&c, "target", s)).transpose()?;
    let include_revoked = params.bool("include_revoked", false)?;
    let include_deprecated = params.bool("include_deprecated", false)?;
    let rels: Vec<_> = match (&source, &target) {
        (Some(s), _) => c.relationships_from(s, rel_type).collect(),
        (None, Some(t)) => c.relationships_to(t, rel_type).collect(),
        (None, None) => c.relationships.iter().filter(|r| rel_type.is_none_or(|t| r.relationship_type == t)).collect(),
    };
    let items: Vec<(String, RelationshipView)> = rels
        .into_iter()
        .filter(|r| target.as_ref().is_none_or(|t| &r.target_ref == t))
        .filter(|r| (include_revoked || !r.revoked) && (include_deprecated || !r.deprecated))
        .map(|r| (r.stix_id.clone(), relationship_view(&c, r)))
        .collect();
    let mut items = items;
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let (items, next) = params.paginate(items)?;
    page(items, next)
}

pub async fn list_kill_chain_phases(app: &App, params: &Params) -> Result<Value, ApiError> {
    let domains: Vec<Domain> = match params.domain_opt()? {
        Some(d) => vec![d],
        None => app.catalog.domains().await?,
    };
    let mut items = Vec::new();
    for d in domains {
        let c = app.catalog.domain(d).await?;
        for t in &c.tactics {
            items.push(KillChainPhaseView {
                domain: d,
                kill_chain_name: d.kill_chain_name().to_string(),
                phase_name: t.shortname.clone(),
                tactic_id: t.attack_id.clone(),
                tactic: t.name.clone(),
                order: t.order,
                technique_count: active_technique_count(&c, &t.shortname),
            });
        }
    }
    page(items, None)
}

pub async fn status(app: &App, params: &Params, who: &crate::identity::Identity) -> Result<Value, ApiError> {
    let detailed = params.bool("detailed", false)?;
    let (states, verify, flagged) = app.backend.status().await?;
    let mut doc = mitre_store::status::status_document(&states, detailed);
    if detailed {
        doc["verify"] = match verify {
            Some(r) if who.role == mitre_domain::Role::Superuser => serde_json::json!(r),
            Some(r) => r.summary(),
            None => Value::Null,
        };
        doc["flagged_for_review"] = serde_json::json!(flagged);
    }
    Ok(doc)
}
