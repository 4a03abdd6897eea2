//! ATT&CK mitigations ranked by how much of an entity (or of the mappings handed over) they cover.
//!
//! Weighting: each mapped technique weighs `confidence / 100 × impact factor` (low 1, medium 2,
//! high 3), the highest of its mappings whose mitigation status is not `completed`; a technique
//! observed in several tactics counts once. A mitigation's score is the sum of the weights of the
//! techniques it mitigates, and its share that score over the weight of every counted technique.
//! Ranked by score, then by the number of techniques covered, then by ATT&CK ID.
//!
//! - Techniques all of whose mappings are `completed` are reported apart and count for nothing.
//! - Only live `mitigates` relationships count: neither the relationship nor its mitigation nor
//!   its technique may be revoked or deprecated (ATT&CK flags the objects, not always the
//!   relationships). A mapped technique ATT&CK has since revoked or deprecated is reported apart.
//! - Sub-techniques: ATT&CK attaches mitigations to a sub-technique and to its parent separately,
//!   and a parent's list is broadly the union of its sub-techniques'. A sub-technique mapping
//!   therefore counts its own mitigations only, which are the precise ones; only when ATT&CK gives
//!   a sub-technique none does it count its parent's, marked `via_parent`.
use std::collections::BTreeMap;

use mitre_attack::catalog::{DomainCatalog, ObjectRef, Relationship, Technique};
use mitre_domain::{ImpactLevel, Mapping, MitigationStatus};
use serde::Serialize;

use crate::Scope;
use crate::observed::{TechniqueState, covered};
use crate::text::strip_citations;

pub const WEIGHTING: &str = "weight of a technique = confidence / 100 × impact factor (low 1, medium 2, high 3), the highest of its mappings not completed; score of a mitigation = the sum of the weights of the techniques it mitigates";

/// Low 1, medium 2, high 3.
pub fn impact_factor(impact: ImpactLevel) -> u32 {
    match impact {
        ImpactLevel::Low => 1,
        ImpactLevel::Medium => 2,
        ImpactLevel::High => 3,
    }
}

/// A mapping's weight in hundredths: confidence × impact factor.
fn points(m: &Mapping) -> u32 {
    m.confidence_score as u32 * impact_factor(m.impact_level)
}

fn weight(points: u32) -> f64 {
    points as f64 / 100.0
}

/// A mapped technique, as the recommendations report it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TechniqueRef {
    pub id: String,
    pub name: String,
    pub url: Option<String>,
    /// Its weight (0 for a technique that counts for nothing).
    pub weight: f64,
    /// Why it is reported apart, if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A technique a mitigation covers, and how it mitigates it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Covered {
    pub technique: String,
    pub name: String,
    pub weight: f64,
    /// The relationship's description, without its citations.
    pub how: Option<String>,
    /// The parent whose mitigation this is, for a sub-technique ATT&CK gives none of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via_parent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub attack_id: String,
    pub name: String,
    pub url: Option<String>,
    pub score: f64,
    /// The score over the weight of every counted technique, 0 to 1.
    pub share: f64,
    pub techniques: Vec<Covered>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendations {
    pub domain: String,
    pub attack_version: String,
    pub weighting: String,
    /// The weight of every counted technique.
    pub total_weight: f64,
    /// Best first.
    pub recommendations: Vec<Recommendation>,
    /// Techniques whose mappings are all completed: reported apart, not counted.
    pub completed: Vec<TechniqueRef>,
    /// Counted techniques that no live ATT&CK mitigation addresses.
    pub without_mitigation: Vec<TechniqueRef>,
    /// Mapped techniques ATT&CK has revoked or deprecated (or that this release lacks): their
    /// relationships are ignored.
    pub not_in_matrix: Vec<TechniqueRef>,
}

/// The live `mitigates` relationships to a technique.
fn mitigations_of<'a>(catalog: &'a DomainCatalog, t: &Technique) -> Vec<&'a Relationship> {
    catalog.live_to(&t.stix_id, "mitigates", |o| matches!(o, ObjectRef::Mitigation(_))).collect()
}

/// The mitigations of the mappings of `scope`, ranked.
pub fn recommend(catalog: &DomainCatalog, scope: &Scope, mappings: &[Mapping]) -> Recommendations {
    let covered = covered(catalog, scope, mappings);
    let mut by_technique: BTreeMap<&str, Vec<&Mapping>> = BTreeMap::new();
    for m in &covered {
        by_technique.entry(m.technique.as_str()).or_default().push(m);
    }

    let mut out = Recommendations {
        domain: catalog.domain.as_str().into(),
        attack_version: catalog.version.clone(),
        weighting: WEIGHTING.into(),
        total_weight: 0.0,
        recommendations: Vec::new(),
        completed: Vec::new(),
        without_mitigation: Vec::new(),
        not_in_matrix: Vec::new(),
    };
    struct Acc {
        points: u32,
        techniques: Vec<Covered>,
    }
    let mut acc: BTreeMap<String, Acc> = BTreeMap::new();
    let mut total = 0u32;
    for (id, ms) in by_technique {
        let technique = catalog.technique_by_attack_id(id);
        let name = technique.map(|t| t.name.clone()).unwrap_or_else(|| ms[0].technique_name.clone());
        let reference = |weight: f64, note: Option<String>| TechniqueRef {
            id: id.to_string(),
            name: name.clone(),
            url: technique.and_then(|t| t.url.clone()),
            weight,
            note,
        };
        let state = TechniqueState::of(catalog, technique);
        let Some(technique) = technique.filter(|_| state.is_live()) else {
            out.not_in_matrix.push(reference(0.0, state.note(&catalog.version)));
            continue;
        };
        let Some(p) = ms.iter().filter(|m| m.mitigation_status != MitigationStatus::Completed).map(|m| points(m)).max() else {
            out.completed.push(reference(0.0, Some("mitigation completed".into())));
            continue;
        };
        total += p;
        let mut rels: Vec<(&Relationship, Option<String>)> = mitigations_of(catalog, technique).into_iter().map(|r| (r, None)).collect();
        if rels.is_empty()
            && let Some(parent) = technique.parent.as_deref().and_then(|p| catalog.technique_by_attack_id(p)).filter(|p| !p.revoked && !p.deprecated)
        {
            rels = mitigations_of(catalog, parent).into_iter().map(|r| (r, Some(parent.attack_id.clone()))).collect();
        }
        if rels.is_empty() {
            out.without_mitigation.push(reference(weight(p), None));
            continue;
        }
        for (r, via_parent) in rels {
            let Some(mitigation) = catalog.object(&r.source_ref).and_then(|o| catalog.entity(o)) else { continue };
            let key = mitigation.stix_id.clone();
            let a = acc.entry(key).or_insert(Acc { points: 0, techniques: Vec::new() });
            if a.techniques.iter().any(|c| c.technique == id) {
                continue;
            }
            a.points += p;
            a.techniques.push(Covered {
                technique: id.to_string(),
                name: name.clone(),
                weight: weight(p),
                how: r.description.as_deref().map(strip_citations).filter(|d| !d.is_empty()),
                via_parent,
            });
        }
    }
    out.total_weight = weight(total);
    let mut ranked: Vec<(u32, Recommendation)> = acc
        .into_iter()
        .filter_map(|(stix, mut a)| {
            let m = catalog.entity(catalog.object(&stix)?)?;
            a.techniques.sort_by(|x, y| y.weight.total_cmp(&x.weight).then(x.technique.cmp(&y.technique)));
            Some((
                a.points,
                Recommendation {
                    attack_id: m.attack_id.clone().unwrap_or_default(),
                    name: m.name.clone(),
                    url: m.url.clone(),
                    score: weight(a.points),
                    share: if total > 0 { (a.points as f64 / total as f64 * 1000.0).round() / 1000.0 } else { 0.0 },
                    techniques: a.techniques,
                },
            ))
        })
        .collect();
    ranked.sort_by(|(pa, a), (pb, b)| pb.cmp(pa).then(b.techniques.len().cmp(&a.techniques.len())).then(a.attack_id.cmp(&b.attack_id)));
    out.recommendations = ranked.into_iter().map(|(_, r)| r).collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EntityRef;
    use crate::testing::*;
    use mitre_domain::MappingKind;

    const PWSH: &str = "attack-pattern--00000000-0000-4000-8000-000000000005";
    const OLD: &str = "attack-pattern--00000000-0000-4000-8000-000000000006";
    const M1038: &str = "course-of-action--00000000-0000-4000-8000-000000000009";

    /// The small fixture plus: T1053 (.005), T1547 (.001, .002), T1098; mitigations M1026,
    /// M1047, M1018, M1028, a deprecated M1042 and a revoked M1099, with live and dead relationships.
    fn catalog() -> DomainCatalog {
        let ap = |n| sid("attack-pattern", n);
        let coa = |n| sid("course-of-action", n);
        let extra = vec![
            technique(1, "T1053", "Scheduled Task/Job", &["execution", "persistence"], ""),
            technique(2, "T1053.005", "Scheduled Task", &["execution", "persistence"], ""),
            technique(3, "T1547", "Boot or Logon Autostart Execution", &["persistence"], ""),
            technique(4, "T1547.001", "Registry Run Keys / Startup Folder", &["persistence"], ""),
            technique(5, "T1547.002", "Authentication Package", &["persistence"], ""),
            technique(6, "T1098", "Account Manipulation", &["persistence"], ""),
            mitigation(11, "M1026", "Privileged Account Management", ""),
            mitigation(12, "M1047", "Audit", ""),
            mitigation(13, "M1018", "User Account Management", ""),
            mitigation(14, "M1028", "Operating System Configuration", ""),
            mitigation(15, "M1042", "Disable or Remove Feature or Program", r#", "x_mitre_deprecated": true"#),
            mitigation(16, "M1099", "Gone", r#", "revoked": true"#),
            relationship(21, "mitigates", &coa(11), &ap(2), "Restrict task creation to administrators. (Citation: Docs)", ""),
            relationship(22, "mitigates", &coa(12), &ap(2), "Audit scheduled tasks.", ""),
            relationship(23, "mitigates", &coa(12), &ap(4), "Audit Run keys.", ""),
            relationship(24, "mitigates", &coa(12), PWSH, "Audit PowerShell use.", ""),
            relationship(25, "mitigates", &coa(13), &ap(3), "Limit who may add autostart entries.", ""),
            relationship(26, "mitigates", &coa(14), &ap(1), "Configure the task scheduler.", ""),
            relationship(27, "mitigates", &coa(15), PWSH, "dead: deprecated mitigation", ""),
            relationship(28, "mitigates", &coa(16), &ap(2), "dead: revoked mitigation", ""),
            relationship(29, "mitigates", &coa(11), PWSH, "dead: deprecated relationship", r#", "x_mitre_deprecated": true"#),
            relationship(30, "mitigates", M1038, OLD, "dead: revoked technique", ""),
            relationship(31, "subtechnique-of", &ap(2), &ap(1), "", ""),
        ];
        catalog_of(&mitre_attack::fixtures::bundle_with("2.1", &extra), "1.0")
    }

    fn ranked(r: &Recommendations) -> Vec<(&str, f64)> {
        r.recommendations.iter().map(|x| (x.attack_id.as_str(), x.score)).collect()
    }

    #[test]
    fn mitigations_rank_by_weighted_coverage() {
        let c = catalog();
        let m = |t: &str, conf: i64, impact: &str, status: &str, tactic: Option<&str>| {
            case_mapping(&c, "C-1", t, |i| {
                i.confidence_score = Some(conf);
                i.impact_level = Some(impact.into());
                i.mitigation_status = Some(status.into());
                i.tactic = tactic.map(str::to_string);
            })
        };
        let ms = vec![
            m("T1059.001", 90, "high", "in_progress", None),                  // 2.7
            m("T1059.001", 100, "high", "completed", None),                   // completed: does not raise it
            m("T1053.005", 50, "medium", "not_started", Some("persistence")), // 1.0
            m("T1053.005", 30, "medium", "not_started", Some("execution")),   // the same technique: counted once
            m("T1547.001", 100, "low", "not_started", None),                  // 1.0
            m("T1547.002", 80, "medium", "not_started", None),                // 1.6, through its parent T1547
            m("T1098", 100, "high", "not_started", None),                     // 3.0, no mitigation
            m("T1053", 100, "high", "completed", Some("execution")),          // reported apart
            on_technique(m("T1059", 100, "high", "not_started", None), "T1000", "Old Technique"),
            case_mapping(&c, "C-2", "T1053", |i| i.tactic = Some("execution".into())), // another case
        ];
        let r = recommend(&c, &Scope::Entity(EntityRef::new(MappingKind::Case, "C-1")), &ms);
        assert_eq!(ranked(&r), [("M1047", 4.7), ("M1038", 2.7), ("M1018", 1.6), ("M1026", 1.0)]);
        assert_eq!(r.total_weight, 9.3);
        assert_eq!(r.recommendations[0].share, 0.505);
        let audit: Vec<(&str, f64, Option<&str>)> =
            r.recommendations[0].techniques.iter().map(|t| (t.technique.as_str(), t.weight, t.how.as_deref())).collect();
        assert_eq!(
            audit,
            [
                ("T1059.001", 2.7, Some("Audit PowerShell use.")),
                ("T1053.005", 1.0, Some("Audit scheduled tasks.")),
                ("T1547.001", 1.0, Some("Audit Run keys."))
            ]
        );
        let via = &r.recommendations[2].techniques[0];
        assert_eq!((via.technique.as_str(), via.via_parent.as_deref()), ("T1547.002", Some("T1547")));
        assert_eq!(r.recommendations[3].techniques[0].how.as_deref(), Some("Restrict task creation to administrators."));
        assert_eq!(r.recommendations[1].url.as_deref(), None, "the fixture's M1038 has no URL");
        assert_eq!(r.recommendations[0].url.as_deref(), Some("https://attack.mitre.org/mitigations/M1047"));
        assert_eq!(r.completed.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["T1053"]);
        assert_eq!(r.without_mitigation.iter().map(|t| (t.id.as_str(), t.weight)).collect::<Vec<_>>(), [("T1098", 3.0)]);
        assert_eq!(r.not_in_matrix.len(), 1);
        assert_eq!(r.not_in_matrix[0].note.as_deref(), Some("revoked in ATT&CK 1.0; replaced by T1059 (Command and Scripting Interpreter)"));
        // nothing from dead objects or relationships
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains("dead:") && !json.contains("M1042") && !json.contains("M1099") && !json.contains("M1028"), "{json}");
    }

    #[test]
    fn completing_a_response_moves_a_mitigation_down() {
        let c = catalog();
        let mut ms = vec![
            case_mapping(&c, "C-1", "T1059.001", |i| i.confidence_score = Some(100)), // medium: 2.0
            case_mapping(&c, "C-1", "T1053.005", |i| {
                i.confidence_score = Some(100);
                i.impact_level = Some("high".into()); // 3.0
                i.tactic = Some("persistence".into());
            }),
        ];
        let scope = Scope::Entity(EntityRef::new(MappingKind::Case, "C-1"));
        assert_eq!(ranked(&recommend(&c, &scope, &ms)), [("M1047", 5.0), ("M1026", 3.0), ("M1038", 2.0)]);
        ms[1].mitigation_status = MitigationStatus::Completed;
        let r = recommend(&c, &scope, &ms);
        assert_eq!(ranked(&r), [("M1038", 2.0), ("M1047", 2.0)], "ties by ATT&CK ID");
        assert_eq!(r.completed[0].id, "T1053.005");
    }

    #[test]
    fn the_real_release_recommends_for_a_sample_case() {
        let c = enterprise();
        let ms = sample_case(c, "CASE-1");
        let r = recommend(c, &Scope::Entity(EntityRef::new(MappingKind::Case, "CASE-1")), &ms);
        assert!(r.recommendations.len() >= 10, "{}", r.recommendations.len());
        assert!(r.recommendations.windows(2).all(|w| w[0].score >= w[1].score));
        for rec in &r.recommendations {
            assert!(rec.attack_id.starts_with('M') && rec.url.as_deref().is_some_and(|u| u.starts_with("https://attack.mitre.org/mitigations/")), "{rec:?}");
            let m = mitre_attack::catalog::DomainCatalog::find_entity(&c.mitigations, &rec.attack_id).unwrap();
            assert!(!m.revoked && !m.deprecated);
            assert!(rec.techniques.iter().all(|t| t.how.as_deref().is_some_and(|h| !h.contains("(Citation:"))));
        }
        // completed: T1566.001, T1204.002, T1087.002; T1086 is revoked
        assert_eq!(r.completed.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["T1087.002", "T1204.002", "T1566.001"]);
        assert_eq!(r.not_in_matrix.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["T1086"]);
        let covered: std::collections::BTreeSet<&str> = r.recommendations.iter().flat_map(|x| x.techniques.iter().map(|t| t.technique.as_str())).collect();
        assert!(covered.contains("T1059.001") && covered.contains("T1486") && !covered.contains("T1566.001"));
    }
}
