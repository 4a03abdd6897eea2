//! The in-memory catalog of a domain: what the API serves. The sync builds it from a bundle
//! and stores it as a compact snapshot; API containers load it once and answer from memory.
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::bundle::ParsedObject;
use crate::domain::Domain;
use crate::summary::tactic_order;

/// Bumped whenever the snapshot layout changes; a sync then writes a new snapshot. Older
/// snapshots still load (their newer fields empty) until it has. 2: analytics; 3: data
/// components and data sources.
pub const SNAPSHOT_SCHEMA: u32 = 3;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tactic {
    pub stix_id: String,
    pub attack_id: String,
    pub shortname: String,
    pub name: String,
    pub description: String,
    pub url: Option<String>,
    /// 1-based position in the domain's matrix.
    pub order: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Technique {
    pub stix_id: String,
    pub attack_id: String,
    pub name: String,
    pub description: String,
    pub tactics: Vec<String>,
    pub platforms: Vec<String>,
    pub is_subtechnique: bool,
    pub parent: Option<String>,
    pub revoked: bool,
    pub deprecated: bool,
    pub url: Option<String>,
    pub created: Option<String>,
    pub modified: Option<String>,
    pub version: Option<String>,
}

/// Mitigations, groups, software, campaigns, detection strategies: objects with an ATT&CK ID and a name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entity {
    pub stix_id: String,
    #[serde(rename = "type")]
    pub object_type: String,
    pub attack_id: Option<String>,
    pub name: String,
    pub description: String,
    pub aliases: Vec<String>,
    pub platforms: Vec<String>,
    pub revoked: bool,
    pub deprecated: bool,
    pub url: Option<String>,
    pub created: Option<String>,
    pub modified: Option<String>,
    /// Detection strategies: the STIX ids of their analytics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub analytic_refs: Vec<String>,
    /// Data components before ATT&CK 18: the STIX id of their data source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source_ref: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Relationship {
    pub stix_id: String,
    pub relationship_type: String,
    pub source_ref: String,
    pub target_ref: String,
    pub description: Option<String>,
    pub revoked: bool,
    pub deprecated: bool,
}

impl Relationship {
    pub fn is_active(&self) -> bool {
        !self.revoked && !self.deprecated
    }
}

/// How a group is credited with using an object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Credit<'a> {
    /// The group's own "uses" relationship.
    Direct(&'a Relationship),
    /// A campaign attributed to the group uses the object: the campaign's STIX id and its
    /// "uses" relationship.
    Campaign { campaign: &'a str, uses: &'a Relationship },
}

impl Credit<'_> {
    /// The "uses" relationship behind the credit (its description tells how).
    pub fn relationship(&self) -> &Relationship {
        match self {
            Credit::Direct(r) => r,
            Credit::Campaign { uses, .. } => uses,
        }
    }
}

/// A reference to one object of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectRef {
    Tactic(usize),
    Technique(usize),
    Mitigation(usize),
    Group(usize),
    Software(usize),
    Campaign(usize),
    DetectionStrategy(usize),
}

#[derive(Debug, Clone, Default)]
struct Index {
    by_stix: HashMap<String, ObjectRef>,
    technique_by_attack_id: HashMap<String, usize>,
    rel_by_source: HashMap<String, Vec<usize>>,
    rel_by_target: HashMap<String, Vec<usize>>,
    /// Lower-cased search text per technique: (name, description).
    search_text: Vec<(String, String)>,
}

/// One domain's catalog.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainCatalog {
    pub schema: u32,
    pub domain: Domain,
    pub version: String,
    pub bundle_sha256: String,
    /// Active tactics in matrix order.
    pub tactics: Vec<Tactic>,
    /// Every technique and sub-technique, revoked and deprecated included, by ATT&CK ID.
    pub techniques: Vec<Technique>,
    pub mitigations: Vec<Entity>,
    pub groups: Vec<Entity>,
    pub software: Vec<Entity>,
    pub campaigns: Vec<Entity>,
    pub detection_strategies: Vec<Entity>,
    /// The analytics of the detection strategies (v18): how each technique can be detected.
    #[serde(default)]
    pub analytics: Vec<Entity>,
    /// Data components (`x-mitre-data-component`): before ATT&CK 18 they "detect" techniques
    /// themselves; from 18 the analytics name them. Empty in snapshots of schema 1 and 2.
    #[serde(default)]
    pub data_components: Vec<Entity>,
    /// Data sources (`x-mitre-data-source`), the parents of data components before ATT&CK 18.
    /// Empty in snapshots of schema 1 and 2.
    #[serde(default)]
    pub data_sources: Vec<Entity>,
    pub relationships: Vec<Relationship>,
    #[serde(skip)]
    index: Index,
}

fn owned(v: &[std::borrow::Cow<'_, str>]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn entity(o: &ParsedObject<'_>) -> Entity {
    let obj = &o.object;
    Entity {
        stix_id: o.id().to_string(),
        object_type: obj.object_type.to_string(),
        attack_id: obj.attack_id().map(str::to_string),
        name: obj.name.as_deref().unwrap_or_default().to_string(),
        description: obj.description.as_deref().unwrap_or_default().to_string(),
        aliases: obj.all_aliases().filter(|a| Some(*a) != obj.name.as_deref()).map(str::to_string).collect(),
        platforms: owned(&obj.x_mitre_platforms),
        revoked: obj.revoked,
        deprecated: obj.x_mitre_deprecated,
        url: obj.url().map(str::to_string),
        created: obj.created.as_deref().map(str::to_string),
        modified: obj.modified.as_deref().map(str::to_string),
        analytic_refs: owned(&obj.x_mitre_analytic_refs),
        data_source_ref: obj.x_mitre_data_source_ref.as_deref().map(str::to_string),
    }
}

fn by_attack_id<T>(v: &mut [T], key: impl Fn(&T) -> (Option<&str>, &str)) {
    v.sort_by(|a, b| {
        let (ia, sa) = key(a);
        let (ib, sb) = key(b);
        (ia.is_none(), ia, sa).cmp(&(ib.is_none(), ib, sb))
    });
}

impl DomainCatalog {
    /// Builds the catalog of `domain` from a parsed bundle.
    pub fn build(objects: &[ParsedObject<'_>], domain: Domain, version: &str, bundle_sha256: &str) -> DomainCatalog {
        let tactics = tactic_order(objects, domain)
            .into_iter()
            .enumerate()
            .map(|(i, t)| Tactic {
                stix_id: t.id().to_string(),
                attack_id: t.object.attack_id().unwrap_or_default().to_string(),
                shortname: t.object.x_mitre_shortname.as_deref().unwrap_or_default().to_string(),
                name: t.object.name.as_deref().unwrap_or_default().to_string(),
                description: t.object.description.as_deref().unwrap_or_default().to_string(),
                url: t.object.url().map(str::to_string),
                order: i as u32 + 1,
            })
            .collect();
        let mut c = DomainCatalog {
            schema: SNAPSHOT_SCHEMA,
            domain,
            version: version.to_string(),
            bundle_sha256: bundle_sha256.to_string(),
            tactics,
            techniques: Vec::new(),
            mitigations: Vec::new(),
            groups: Vec::new(),
            software: Vec::new(),
            campaigns: Vec::new(),
            detection_strategies: Vec::new(),
            analytics: Vec::new(),
            data_components: Vec::new(),
            data_sources: Vec::new(),
            relationships: Vec::new(),
            index: Index::default(),
        };
        for o in objects {
            let obj = &o.object;
            match obj.object_type.as_ref() {
                "attack-pattern" => {
                    let Some(attack_id) = obj.attack_id() else { continue };
                    let mut tactics: Vec<String> = Vec::new();
                    for t in obj.tactic_shortnames(domain) {
                        if !tactics.iter().any(|x| x == t) {
                            tactics.push(t.to_string());
                        }
                    }
                    c.techniques.push(Technique {
                        stix_id: o.id().to_string(),
                        attack_id: attack_id.to_string(),
                        name: obj.name.as_deref().unwrap_or_default().to_string(),
                        description: obj.description.as_deref().unwrap_or_default().to_string(),
                        tactics,
                        platforms: owned(&obj.x_mitre_platforms),
                        is_subtechnique: obj.x_mitre_is_subtechnique,
                        parent: if obj.x_mitre_is_subtechnique { attack_id.split_once('.').map(|(p, _)| p.to_string()) } else { None },
                        revoked: obj.revoked,
                        deprecated: obj.x_mitre_deprecated,
                        url: obj.url().map(str::to_string),
                        created: obj.created.as_deref().map(str::to_string),
                        modified: obj.modified.as_deref().map(str::to_string),
                        version: obj.x_mitre_version.as_deref().map(str::to_string),
                    });
                }
                "course-of-action" => c.mitigations.push(entity(o)),
                "intrusion-set" => c.groups.push(entity(o)),
                "malware" | "tool" => c.software.push(entity(o)),
                "campaign" => c.campaigns.push(entity(o)),
                "x-mitre-detection-strategy" => c.detection_strategies.push(entity(o)),
                "x-mitre-analytic" => c.analytics.push(entity(o)),
                "x-mitre-data-component" => c.data_components.push(entity(o)),
                "x-mitre-data-source" => c.data_sources.push(entity(o)),
                "relationship" => c.relationships.push(Relationship {
                    stix_id: o.id().to_string(),
                    relationship_type: obj.relationship_type.as_deref().unwrap_or_default().to_string(),
                    source_ref: obj.source_ref.as_deref().unwrap_or_default().to_string(),
                    target_ref: obj.target_ref.as_deref().unwrap_or_default().to_string(),
                    description: obj.description.as_deref().map(str::to_string),
                    revoked: obj.revoked,
                    deprecated: obj.x_mitre_deprecated,
                }),
                _ => {}
            }
        }
        by_attack_id(&mut c.techniques, |t| (Some(t.attack_id.as_str()), t.stix_id.as_str()));
        for v in [
            &mut c.mitigations,
            &mut c.groups,
            &mut c.software,
            &mut c.campaigns,
            &mut c.detection_strategies,
            &mut c.analytics,
            &mut c.data_components,
            &mut c.data_sources,
        ] {
            by_attack_id(v, |e| (e.attack_id.as_deref(), e.stix_id.as_str()));
        }
        c.relationships.sort_by(|a, b| a.stix_id.cmp(&b.stix_id));
        c.reindex();
        c
    }

    fn reindex(&mut self) {
        let mut ix = Index::default();
        for (i, t) in self.tactics.iter().enumerate() {
            ix.by_stix.insert(t.stix_id.clone(), ObjectRef::Tactic(i));
        }
        for (i, t) in self.techniques.iter().enumerate() {
            ix.by_stix.insert(t.stix_id.clone(), ObjectRef::Technique(i));
            // An ATT&CK ID names the active object when a revoked one shares it.
            let keep = match ix.technique_by_attack_id.get(&t.attack_id) {
                Some(&j) => self.techniques[j].revoked && !t.revoked,
                None => true,
            };
            if keep {
                ix.technique_by_attack_id.insert(t.attack_id.clone(), i);
            }
            ix.search_text.push((t.name.to_lowercase(), t.description.to_lowercase()));
        }
        type Listed<'a> = (&'a Vec<Entity>, fn(usize) -> ObjectRef);
        let lists: [Listed; 5] = [
            (&self.mitigations, ObjectRef::Mitigation),
            (&self.groups, ObjectRef::Group),
            (&self.software, ObjectRef::Software),
            (&self.campaigns, ObjectRef::Campaign),
            (&self.detection_strategies, ObjectRef::DetectionStrategy),
        ];
        for (list, make) in lists {
            for (i, e) in list.iter().enumerate() {
                ix.by_stix.insert(e.stix_id.clone(), make(i));
            }
        }
        for (i, r) in self.relationships.iter().enumerate() {
            ix.rel_by_source.entry(r.source_ref.clone()).or_default().push(i);
            ix.rel_by_target.entry(r.target_ref.clone()).or_default().push(i);
        }
        self.index = ix;
    }

    pub fn object(&self, stix_id: &str) -> Option<ObjectRef> {
        self.index.by_stix.get(stix_id).copied()
    }

    pub fn technique_by_attack_id(&self, attack_id: &str) -> Option<&Technique> {
        self.index.technique_by_attack_id.get(&attack_id.to_ascii_uppercase()).map(|&i| &self.techniques[i])
    }

    pub fn technique_by_stix_id(&self, stix_id: &str) -> Option<&Technique> {
        match self.object(stix_id) {
            Some(ObjectRef::Technique(i)) => Some(&self.techniques[i]),
            _ => None,
        }
    }

    /// A technique by T-ID, sub-technique ID or STIX id.
    pub fn find_technique(&self, id: &str) -> Option<&Technique> {
        if id.contains("--") { self.technique_by_stix_id(id) } else { self.technique_by_attack_id(id) }
    }

    pub fn tactic(&self, id: &str) -> Option<&Tactic> {
        self.tactics
            .iter()
            .find(|t| t.attack_id.eq_ignore_ascii_case(id) || t.shortname.eq_ignore_ascii_case(id) || t.name.eq_ignore_ascii_case(id) || t.stix_id == id)
    }

    /// The entity (mitigation, group, software, ...) of `list` by ATT&CK ID or STIX id; active first.
    pub fn find_entity<'a>(list: &'a [Entity], id: &str) -> Option<&'a Entity> {
        let matches = |e: &&Entity| e.stix_id == id || e.attack_id.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(id));
        list.iter().filter(matches).min_by_key(|e| (e.revoked, e.deprecated))
    }

    pub fn entity(&self, r: ObjectRef) -> Option<&Entity> {
        match r {
            ObjectRef::Mitigation(i) => self.mitigations.get(i),
            ObjectRef::Group(i) => self.groups.get(i),
            ObjectRef::Software(i) => self.software.get(i),
            ObjectRef::Campaign(i) => self.campaigns.get(i),
            ObjectRef::DetectionStrategy(i) => self.detection_strategies.get(i),
            _ => None,
        }
    }

    /// Relationships from `stix_id` (optionally of one type), active ones only unless `all`.
    pub fn relationships_from<'a>(&'a self, stix_id: &str, rel_type: Option<&'a str>) -> impl Iterator<Item = &'a Relationship> + 'a {
        self.index
            .rel_by_source
            .get(stix_id)
            .into_iter()
            .flatten()
            .map(|&i| &self.relationships[i])
            .filter(move |r| rel_type.is_none_or(|t| r.relationship_type == t))
    }

    pub fn relationships_to<'a>(&'a self, stix_id: &str, rel_type: Option<&'a str>) -> impl Iterator<Item = &'a Relationship> + 'a {
        self.index
            .rel_by_target
            .get(stix_id)
            .into_iter()
            .flatten()
            .map(|&i| &self.relationships[i])
            .filter(move |r| rel_type.is_none_or(|t| r.relationship_type == t))
    }

    /// True for a technique, tactic or entity of the catalog that is neither revoked nor deprecated.
    pub fn is_live(&self, stix_id: &str) -> bool {
        match self.object(stix_id) {
            Some(ObjectRef::Technique(i)) => !self.techniques[i].revoked && !self.techniques[i].deprecated,
            Some(ObjectRef::Tactic(_)) => true,
            Some(other) => self.entity(other).is_some_and(|e| !e.revoked && !e.deprecated),
            None => false,
        }
    }

    /// Live relationships of `rel_type` from `stix_id` whose target is live and of `kind`.
    pub fn live_from<'a>(&'a self, stix_id: &str, rel_type: &'a str, kind: impl Fn(ObjectRef) -> bool + 'a) -> impl Iterator<Item = &'a Relationship> + 'a {
        self.relationships_from(stix_id, Some(rel_type))
            .filter(move |r| r.is_active() && self.is_live(&r.target_ref) && self.object(&r.target_ref).is_some_and(&kind))
    }

    /// Live relationships of `rel_type` to `stix_id` whose source is live and of `kind`.
    pub fn live_to<'a>(&'a self, stix_id: &str, rel_type: &'a str, kind: impl Fn(ObjectRef) -> bool + 'a) -> impl Iterator<Item = &'a Relationship> + 'a {
        self.relationships_to(stix_id, Some(rel_type))
            .filter(move |r| r.is_active() && self.is_live(&r.source_ref) && self.object(&r.source_ref).is_some_and(&kind))
    }

    /// The live groups that use `target` (a technique or software), each with how ATT&CK
    /// credits it: its own "uses" relationship, and every live campaign attributed to it that
    /// uses the target (as MITRE's own library counts them). Sorted by group STIX id.
    pub fn groups_using<'a>(&'a self, target: &str) -> Vec<(&'a str, Vec<Credit<'a>>)> {
        let mut out: std::collections::BTreeMap<&'a str, Vec<Credit<'a>>> = std::collections::BTreeMap::new();
        for r in self.live_to(target, "uses", |o| matches!(o, ObjectRef::Group(_))) {
            out.entry(r.source_ref.as_str()).or_default().push(Credit::Direct(r));
        }
        for uses in self.live_to(target, "uses", |o| matches!(o, ObjectRef::Campaign(_))) {
            for a in self.live_from(&uses.source_ref, "attributed-to", |o| matches!(o, ObjectRef::Group(_))) {
                out.entry(a.target_ref.as_str()).or_default().push(Credit::Campaign { campaign: &uses.source_ref, uses });
            }
        }
        out.into_iter().collect()
    }

    /// The live objects of `kind` that group `group` uses: directly, or through the live
    /// campaigns attributed to it. Sorted by the object's STIX id.
    pub fn used_by_group<'a>(&'a self, group: &str, kind: impl Fn(ObjectRef) -> bool + Copy + 'a) -> Vec<(&'a str, Vec<Credit<'a>>)> {
        let mut out: std::collections::BTreeMap<&'a str, Vec<Credit<'a>>> = std::collections::BTreeMap::new();
        for r in self.live_from(group, "uses", kind) {
            out.entry(r.target_ref.as_str()).or_default().push(Credit::Direct(r));
        }
        for a in self.live_to(group, "attributed-to", |o| matches!(o, ObjectRef::Campaign(_))) {
            for uses in self.live_from(&a.source_ref, "uses", kind) {
                out.entry(uses.target_ref.as_str()).or_default().push(Credit::Campaign { campaign: &a.source_ref, uses });
            }
        }
        out.into_iter().collect()
    }

    /// Lower-cased (name, description) of technique `i`, for search.
    pub fn technique_search_text(&self, i: usize) -> (&str, &str) {
        let (n, d) = &self.index.search_text[i];
        (n, d)
    }

    /// Gzip-compressed JSON.
    pub fn encode(&self) -> std::io::Result<Vec<u8>> {
        crate::gzjson::encode(self, 6)
    }

    pub fn decode(bytes: &[u8]) -> Result<DomainCatalog, String> {
        let mut c: DomainCatalog = crate::gzjson::decode(bytes, "snapshot", u64::MAX)?;
        if c.schema == 0 || c.schema > SNAPSHOT_SCHEMA {
            return Err(format!("snapshot schema {} is not 1 to {SNAPSHOT_SCHEMA}", c.schema));
        }
        c.reindex();
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{fixtures::small_bundle, parse_bundle};

    #[test]
    fn builds_indexes_and_round_trips() {
        let text = small_bundle("2.0");
        let b = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).unwrap();
        let c = DomainCatalog::build(&b.objects, Domain::EnterpriseAttack, "1.0", "abc");
        let c = DomainCatalog::decode(&c.encode().unwrap()).unwrap();
        assert_eq!(c.tactics.iter().map(|t| t.shortname.as_str()).collect::<Vec<_>>(), ["execution", "persistence"]);
        let p = c.find_technique("t1059.001").unwrap();
        assert_eq!(p.parent.as_deref(), Some("T1059"));
        assert_eq!(c.find_technique(&p.stix_id).unwrap().attack_id, "T1059.001");
        assert_eq!(c.tactic("TA0002").unwrap().shortname, "execution");
        assert_eq!(c.tactic("Execution").unwrap().attack_id, "TA0002");
        let mitigates: Vec<_> = c.relationships_to(&p.stix_id, Some("mitigates")).collect();
        assert_eq!(mitigates.len(), 1);
        let m = c.entity(c.object(&mitigates[0].source_ref).unwrap()).unwrap();
        assert_eq!(m.attack_id.as_deref(), Some("M1038"));
        assert!(c.find_technique("T1000").unwrap().revoked);
        assert!(DomainCatalog::decode(b"nope").is_err());
    }

    #[test]
    fn groups_are_credited_directly_and_through_attributed_campaigns() {
        let obj = |t: &str, n: u32, name: &str, aid: &str, extra: &str| {
            format!(
                r#"{{"type": "{t}", "id": "{t}--00000000-0000-4000-8000-0000000001{n:02}", "name": "{name}", "external_references": [{{"source_name": "mitre-attack", "external_id": "{aid}"}}]{extra}}}"#
            )
        };
        let rel = |n: u32, kind: &str, from: String, to: String, extra: &str| {
            format!(
                r#"{{"type": "relationship", "id": "relationship--00000000-0000-4000-8000-0000000002{n:02}", "relationship_type": "{kind}", "source_ref": "{from}", "target_ref": "{to}"{extra}}}"#
            )
        };
        let id = |t: &str, n: u32| format!("{t}--00000000-0000-4000-8000-0000000001{n:02}");
        let pwsh = "attack-pattern--00000000-0000-4000-8000-000000000005".to_string();
        let extra = vec![
            obj("intrusion-set", 1, "APT A", "G0001", ""),
            obj("intrusion-set", 2, "APT B", "G0002", ""),
            obj("intrusion-set", 3, "Gone", "G0003", r#", "revoked": true"#),
            obj("campaign", 4, "Op One", "C0001", ""),
            obj("campaign", 5, "Op Two", "C0002", ""),
            obj("campaign", 6, "Op Old", "C0003", r#", "x_mitre_deprecated": true"#),
            obj("tool", 7, "Tool", "S0001", ""),
            // A uses T1059.001 itself and through Op One; B only through Op Two
            rel(1, "uses", id("intrusion-set", 1), pwsh.clone(), r#", "description": "A ran it""#),
            rel(2, "uses", id("campaign", 4), pwsh.clone(), ""),
            rel(3, "attributed-to", id("campaign", 4), id("intrusion-set", 1), ""),
            rel(4, "uses", id("campaign", 5), pwsh.clone(), r#", "description": "Op Two ran it""#),
            rel(5, "attributed-to", id("campaign", 5), id("intrusion-set", 2), ""),
            // nothing through revoked groups, deprecated campaigns or deprecated relationships
            rel(6, "uses", id("intrusion-set", 3), pwsh.clone(), ""),
            rel(7, "uses", id("campaign", 6), pwsh.clone(), ""),
            rel(8, "attributed-to", id("campaign", 6), id("intrusion-set", 2), ""),
            rel(9, "attributed-to", id("campaign", 4), id("intrusion-set", 2), r#", "x_mitre_deprecated": true"#),
            // B's campaign Op Two uses the tool
            rel(10, "uses", id("campaign", 5), id("tool", 7), ""),
        ];
        let text = crate::fixtures::bundle_with("2.1", &extra);
        let b = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).unwrap();
        let c = DomainCatalog::build(&b.objects, Domain::EnterpriseAttack, "1.0", "abc");
        let shown = |credits: &[(&str, Vec<Credit<'_>>)]| -> Vec<(String, Vec<String>)> {
            credits
                .iter()
                .map(|(g, cs)| {
                    let name = |s: &str| c.entity(c.object(s).unwrap()).unwrap().attack_id.clone().unwrap();
                    let how = cs
                        .iter()
                        .map(|cr| match cr {
                            Credit::Direct(_) => "direct".to_string(),
                            Credit::Campaign { campaign, .. } => name(campaign),
                        })
                        .collect();
                    (name(g), how)
                })
                .collect()
        };
        let groups = c.groups_using(&pwsh);
        assert_eq!(shown(&groups), [("G0001".to_string(), vec!["direct".to_string(), "C0001".to_string()]), ("G0002".to_string(), vec!["C0002".to_string()])]);
        assert_eq!(groups[0].1[0].relationship().description.as_deref(), Some("A ran it"));
        assert_eq!(groups[1].1[0].relationship().description.as_deref(), Some("Op Two ran it"));
        // the group side: B uses T1059.001 and the tool through Op Two
        let is_technique = |o: ObjectRef| matches!(o, ObjectRef::Technique(_));
        let is_software = |o: ObjectRef| matches!(o, ObjectRef::Software(_));
        assert_eq!(c.used_by_group(&id("intrusion-set", 2), is_technique).iter().map(|(t, _)| *t).collect::<Vec<_>>(), [pwsh.as_str()]);
        assert_eq!(c.used_by_group(&id("intrusion-set", 2), is_software).len(), 1);
        assert_eq!(c.used_by_group(&id("intrusion-set", 1), is_software).len(), 0);
        assert_eq!(shown(&c.groups_using(&id("tool", 7))), [("G0002".to_string(), vec!["C0002".to_string()])]);
    }

    #[test]
    fn snapshots_of_the_previous_schema_still_load() {
        let text = small_bundle("2.0");
        let b = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).unwrap();
        let c = DomainCatalog::build(&b.objects, Domain::EnterpriseAttack, "1.0", "abc");
        let mut v: serde_json::Value = serde_json::to_value(&c).unwrap();
        v["schema"] = serde_json::json!(1);
        for newer in ["analytics", "data_components", "data_sources"] {
            v.as_object_mut().unwrap().remove(newer);
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, v.to_string().as_bytes()).unwrap();
        let old = DomainCatalog::decode(&gz.finish().unwrap()).unwrap();
        assert_eq!((old.schema, old.analytics.len(), old.techniques.len()), (1, 0, c.techniques.len()));
        v["schema"] = serde_json::json!(SNAPSHOT_SCHEMA + 1);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, v.to_string().as_bytes()).unwrap();
        assert!(DomainCatalog::decode(&gz.finish().unwrap()).is_err(), "a newer schema is refused");
    }
}
