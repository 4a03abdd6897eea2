//! Figures about one domain's bundle, computed once per sync and shown by `status`.
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::bundle::ParsedObject;
use crate::domain::Domain;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TacticSummary {
    pub attack_id: String,
    pub shortname: String,
    pub name: String,
    /// Active techniques and sub-techniques in this tactic (revoked and deprecated excluded).
    pub techniques: u32,
    /// Of which sub-techniques.
    pub subtechniques: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainSummary {
    /// Objects per STIX type, revoked and deprecated included.
    pub counts: BTreeMap<String, u32>,
    pub objects: u32,
    /// Tactics in the domain's matrix order.
    pub tactics: Vec<TacticSummary>,
    /// Active techniques (not sub-techniques).
    pub techniques: u32,
    /// Active sub-techniques.
    pub subtechniques: u32,
    /// Revoked objects of any type.
    pub revoked: u32,
    /// Deprecated (and not revoked) objects of any type.
    pub deprecated: u32,
    /// Revoked techniques and sub-techniques. None in summaries stored before it was counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_techniques: Option<u32>,
    /// Deprecated (and not revoked) techniques and sub-techniques. None in summaries stored
    /// before it was counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecated_techniques: Option<u32>,
}

/// Tactic shortnames in matrix order: the domain's matrix `tactic_refs`, then any tactic the
/// matrix does not list, by ATT&CK ID.
pub fn tactic_order<'a>(objects: &'a [ParsedObject<'a>], domain: Domain) -> Vec<&'a ParsedObject<'a>> {
    let tactics: HashMap<&str, &ParsedObject<'_>> =
        objects.iter().filter(|o| o.object_type() == "x-mitre-tactic" && o.object.is_active()).map(|o| (o.id(), o)).collect();
    let matrix = objects
        .iter()
        .filter(|o| o.object_type() == "x-mitre-matrix" && o.object.is_active())
        .find(|o| o.object.attack_id() == Some(domain.as_str()))
        .or_else(|| objects.iter().find(|o| o.object_type() == "x-mitre-matrix" && o.object.is_active()));
    let mut ordered: Vec<&ParsedObject<'_>> = Vec::with_capacity(tactics.len());
    if let Some(m) = matrix {
        for r in &m.object.tactic_refs {
            if let Some(t) = tactics.get(r.as_ref())
                && !ordered.iter().any(|o| o.id() == t.id())
            {
                ordered.push(t);
            }
        }
    }
    let mut rest: Vec<&ParsedObject<'_>> = tactics.values().filter(|t| !ordered.iter().any(|o| o.id() == t.id())).copied().collect();
    rest.sort_by(|a, b| a.object.attack_id().cmp(&b.object.attack_id()));
    ordered.extend(rest);
    ordered
}

impl DomainSummary {
    pub fn of(objects: &[ParsedObject<'_>], domain: Domain) -> DomainSummary {
        let mut s = DomainSummary { objects: objects.len() as u32, ..DomainSummary::default() };
        let mut per_tactic: HashMap<&str, (u32, u32)> = HashMap::new();
        let (mut revoked_techniques, mut deprecated_techniques) = (0, 0);
        for o in objects {
            *s.counts.entry(o.object_type().to_string()).or_default() += 1;
            if o.object.revoked {
                s.revoked += 1;
                revoked_techniques += o.object.is_technique() as u32;
            } else if o.object.x_mitre_deprecated {
                s.deprecated += 1;
                deprecated_techniques += o.object.is_technique() as u32;
            }
            if o.object.is_technique() && o.object.is_active() {
                if o.object.x_mitre_is_subtechnique {
                    s.subtechniques += 1;
                } else {
                    s.techniques += 1;
                }
                let mut seen: Vec<&str> = Vec::new();
                for phase in o.object.tactic_shortnames(domain) {
                    if seen.contains(&phase) {
                        continue;
                    }
                    seen.push(phase);
                    let e = per_tactic.entry(phase).or_default();
                    e.0 += 1;
                    if o.object.x_mitre_is_subtechnique {
                        e.1 += 1;
                    }
                }
            }
        }
        s.tactics = tactic_order(objects, domain)
            .into_iter()
            .map(|t| {
                let shortname = t.object.x_mitre_shortname.as_deref().unwrap_or_default();
                let (techniques, subtechniques) = per_tactic.get(shortname).copied().unwrap_or_default();
                TacticSummary {
                    attack_id: t.object.attack_id().unwrap_or_default().to_string(),
                    shortname: shortname.to_string(),
                    name: t.object.name.as_deref().unwrap_or_default().to_string(),
                    techniques,
                    subtechniques,
                }
            })
            .collect();
        s.revoked_techniques = Some(revoked_techniques);
        s.deprecated_techniques = Some(deprecated_techniques);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{fixtures::small_bundle, parse_bundle};

    #[test]
    fn summarises_the_small_bundle() {
        let text = small_bundle("2.1");
        let b = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).unwrap();
        let s = DomainSummary::of(&b.objects, Domain::EnterpriseAttack);
        assert_eq!(s.counts["attack-pattern"], 4);
        assert_eq!(s.counts["x-future-thing"], 1);
        assert_eq!((s.techniques, s.subtechniques, s.revoked, s.deprecated), (1, 1, 1, 1));
        assert_eq!((s.revoked_techniques, s.deprecated_techniques), (Some(1), Some(1)));
        let names: Vec<_> = s.tactics.iter().map(|t| (t.shortname.as_str(), t.techniques, t.subtechniques)).collect();
        // matrix order; revoked T1000 and deprecated T1001 are not counted
        assert_eq!(names, [("execution", 2, 1), ("persistence", 0, 0)]);
    }

    #[test]
    fn technique_counts_are_kept_apart_from_all_types_and_older_summaries_still_load() {
        // a revoked group and a deprecated mitigation count for all types, not for techniques
        let extra = [
            r#"{"type": "intrusion-set", "id": "intrusion-set--00000000-0000-4000-8000-000000000091", "spec_version": "2.1", "name": "Old group", "revoked": true, "modified": "2024-01-01T00:00:00.000Z"}"#.to_string(),
            r#"{"type": "course-of-action", "id": "course-of-action--00000000-0000-4000-8000-000000000092", "spec_version": "2.1", "name": "Old mitigation", "x_mitre_deprecated": true, "modified": "2024-01-01T00:00:00.000Z"}"#.to_string(),
        ];
        let bundle = crate::fixtures::bundle_with("2.1", &extra);
        let b = parse_bundle(bundle.as_bytes(), Domain::EnterpriseAttack).unwrap();
        let s = DomainSummary::of(&b.objects, Domain::EnterpriseAttack);
        assert_eq!((s.revoked, s.deprecated), (2, 2));
        assert_eq!((s.revoked_techniques, s.deprecated_techniques), (Some(1), Some(1)));
        // a summary stored before the technique counts existed
        let mut old = serde_json::to_value(&s).unwrap();
        old.as_object_mut().unwrap().retain(|k, _| !k.ends_with("_techniques"));
        let loaded: DomainSummary = serde_json::from_value(old).unwrap();
        assert_eq!((loaded.revoked, loaded.revoked_techniques, loaded.deprecated_techniques), (2, None, None));
    }
}
