//! What changed in the techniques of a domain between two ATT&CK releases, classified as MITRE's
//! own changelog tool classifies it (mitreattack-python's `diff_stix`, `DiffStix.load_data`), with
//! a short field-level diff of each change.
//!
//! Classification, per technique (attack-pattern) by STIX id:
//! - only in the new release: [`ChangeClass::Addition`]; only in the old one: [`ChangeClass::Deletion`];
//! - in both, revoked in the new release and not in the old one, with a `revoked-by`
//!   relationship (the first, by relationship id: ATT&CK bundles carry one) to a technique of the
//!   new release: [`ChangeClass::Revocation`], with that technique as the replacement;
//! - else deprecated in the new release and not in the old one: [`ChangeClass::Deprecation`];
//! - else by `x_mitre_version` (a missing version is 0.0): the next major version (1.2 → 2.0)
//!   [`ChangeClass::Major`], the next minor one (1.2 → 1.3) [`ChangeClass::Minor`], any other
//!   step (1.0 → 1.2, or down) [`ChangeClass::Other`];
//! - else, the version the same: [`ChangeClass::Patch`] when the `modified` time differs, or the
//!   description does, as the tool compares them: the sets of lines of the description once its
//!   `\n` are spaces (what is left are the rarer line breaks Python's `splitlines` knows);
//! - else unchanged.
//!
//! Revoked in both releases, deprecated in both, or newly revoked without a replacement in the
//! new release: no class, as the tool reports none (those techniques are not listed).
//!
//! Unlike the tool, the catalog leaves out attack-patterns without an ATT&CK ID (no ATT&CK
//! release has one) and reads a missing description as an empty one.
//!
//! [`ReleaseChanges::techniques`] lists every technique with a class but
//! [`ChangeClass::Unchanged`]; an unchanged technique is listed only when a sub-technique was
//! added under it (its [`FieldChanges::subtechniques_added`]).
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::catalog::{DomainCatalog, Entity, ObjectRef, Technique};
use crate::domain::Domain;

/// Bumped whenever the encoded layout changes; older encodings still decode.
pub const CHANGES_SCHEMA: u32 = 1;

/// The most entries each list of a [`FieldChanges`] keeps; the rest are counted.
pub const LIST_CAP: usize = 25;

/// How a technique changed: `diff_stix`'s sections, one to one (see [`ChangeClass::section`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeClass {
    /// Revoked by another technique ("revocations").
    Revocation,
    /// Deprecated, not replaced ("deprecations").
    Deprecation,
    /// No longer in the release ("deletions").
    Deletion,
    /// The next major version, e.g. 1.2 → 2.0 ("major_version_changes").
    Major,
    /// The next minor version, e.g. 1.2 → 1.3 ("minor_version_changes").
    Minor,
    /// Any other version step, e.g. 1.0 → 1.2 ("other_version_changes").
    Other,
    /// The same version, but modified ("patches").
    Patch,
    /// Not changed ("unchanged"): listed only with a sub-technique added under it.
    Unchanged,
    /// New in the release ("additions").
    Addition,
}

impl ChangeClass {
    pub const ALL: [ChangeClass; 9] = [
        ChangeClass::Revocation,
        ChangeClass::Deprecation,
        ChangeClass::Deletion,
        ChangeClass::Major,
        ChangeClass::Minor,
        ChangeClass::Other,
        ChangeClass::Patch,
        ChangeClass::Unchanged,
        ChangeClass::Addition,
    ];

    /// The name of `diff_stix`'s section.
    pub fn section(self) -> &'static str {
        match self {
            ChangeClass::Revocation => "revocations",
            ChangeClass::Deprecation => "deprecations",
            ChangeClass::Deletion => "deletions",
            ChangeClass::Major => "major_version_changes",
            ChangeClass::Minor => "minor_version_changes",
            ChangeClass::Other => "other_version_changes",
            ChangeClass::Patch => "patches",
            ChangeClass::Unchanged => "unchanged",
            ChangeClass::Addition => "additions",
        }
    }

    /// A few words for people: "revoked", "major change", ...
    pub fn label(self) -> &'static str {
        match self {
            ChangeClass::Revocation => "revoked",
            ChangeClass::Deprecation => "deprecated",
            ChangeClass::Deletion => "deleted",
            ChangeClass::Major => "major change",
            ChangeClass::Minor => "minor change",
            ChangeClass::Other => "version change",
            ChangeClass::Patch => "patch",
            ChangeClass::Unchanged => "unchanged",
            ChangeClass::Addition => "new",
        }
    }
}

/// A technique named by ATT&CK ID and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TechniqueRef {
    pub attack_id: String,
    pub name: String,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What was added to and removed from a set, each list sorted and capped at [`LIST_CAP`] with
/// the count of the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetChange {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    /// Added beyond those listed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more_added: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// Removed beyond those listed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more_removed: u32,
}

fn capped(mut v: Vec<String>) -> (Vec<String>, u32) {
    v.sort();
    let more = v.len().saturating_sub(LIST_CAP);
    v.truncate(LIST_CAP);
    (v, more as u32)
}

impl SetChange {
    /// The change from `old` to `new`, each keyed by what identifies an entry (a STIX id, a
    /// name) with what is shown of it.
    pub fn between<K: Ord>(old: &BTreeMap<K, String>, new: &BTreeMap<K, String>) -> SetChange {
        let (added, more_added) = capped(new.iter().filter(|(k, _)| !old.contains_key(k)).map(|(_, v)| v.clone()).collect());
        let (removed, more_removed) = capped(old.iter().filter(|(k, _)| !new.contains_key(k)).map(|(_, v)| v.clone()).collect());
        SetChange { added, more_added, removed, more_removed }
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.more_added == 0 && self.more_removed == 0
    }

    pub fn added_count(&self) -> usize {
        self.added.len() + self.more_added as usize
    }

    pub fn removed_count(&self) -> usize {
        self.removed.len() + self.more_removed as usize
    }
}

/// How a description changed: paragraphs (non-empty lines) of the new description that the old
/// one lacks, and the reverse. Both 0 when only spacing or line breaks changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextChange {
    pub paragraphs_added: u32,
    pub paragraphs_removed: u32,
}

/// What changed in a technique present in both releases (empty for the other classes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChanges {
    /// Old and new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<(String, String)>,
    /// Whether and how much the description changed (as the changelog tool tells a change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<TextChange>,
    /// Tactic shortnames: a move between tactics.
    #[serde(default, skip_serializing_if = "SetChange::is_empty")]
    pub tactics: SetChange,
    #[serde(default, skip_serializing_if = "SetChange::is_empty")]
    pub platforms: SetChange,
    /// "M1042: Name": mitigations with a `mitigates` relationship neither revoked nor
    /// deprecated, as the changelog tool lists them.
    #[serde(default, skip_serializing_if = "SetChange::is_empty")]
    pub mitigations: SetChange,
    /// "DET0001: Name": detection strategies with a live `detects` relationship (ATT&CK 18 on).
    #[serde(default, skip_serializing_if = "SetChange::is_empty")]
    pub detection_strategies: SetChange,
    /// "DS0009: Process (Process Creation)": data components with a live `detects`
    /// relationship (before ATT&CK 18), named with their data source as the changelog tool
    /// names them; the component's name alone when it has none. Empty when a catalog is of a
    /// snapshot older than schema 3 (no data components kept).
    #[serde(default, skip_serializing_if = "SetChange::is_empty")]
    pub data_components: SetChange,
    /// "AN0110": the analytics of the detection strategies above.
    #[serde(default, skip_serializing_if = "SetChange::is_empty")]
    pub analytics: SetChange,
    /// "T1059.013: Name": sub-techniques of this technique new in the release.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtechniques_added: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more_subtechniques_added: u32,
}

impl FieldChanges {
    pub fn is_empty(&self) -> bool {
        *self == FieldChanges::default()
    }

    /// Tactics added or removed.
    pub fn moved_tactics(&self) -> bool {
        !self.tactics.is_empty()
    }

    pub fn subtechniques_added_count(&self) -> usize {
        self.subtechniques_added.len() + self.more_subtechniques_added as usize
    }
}

/// One technique that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TechniqueChange {
    pub stix_id: String,
    pub attack_id: String,
    /// The name in the new release (the old one for a deletion).
    pub name: String,
    pub class: ChangeClass,
    /// Old and new `x_mitre_version` ("0.0" for none) when they differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<(String, String)>,
    /// A revocation's replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<TechniqueRef>,
    #[serde(default, skip_serializing_if = "FieldChanges::is_empty")]
    pub fields: FieldChanges,
}

/// The changes of a domain's techniques from release `from` to release `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseChanges {
    #[serde(default = "first_schema")]
    pub schema: u32,
    pub domain: Domain,
    pub from: String,
    pub to: String,
    /// By ATT&CK ID, then STIX id.
    pub techniques: Vec<TechniqueChange>,
}

fn first_schema() -> u32 {
    1
}

/// `x_mitre_version` as (major, minor); a missing version is 0.0, as the tool reads it. None
/// when it is not `major.minor`.
fn version_number(v: Option<&str>) -> Option<(u64, u64)> {
    let Some(v) = v else { return Some((0, 0)) };
    let (major, minor) = v.split_once('.')?;
    Some((major.trim().parse().ok()?, minor.trim().parse().ok()?))
}

/// A STIX timestamp as the tool compares it (a datetime of microsecond precision): its date and
/// time to the second, and the microseconds.
fn instant(t: &str) -> (String, u32) {
    let t = t.trim();
    let t = t.strip_suffix('Z').or_else(|| t.strip_suffix("+00:00")).unwrap_or(t);
    let (base, fraction) = t.split_once('.').unwrap_or((t, ""));
    let digits: String = fraction.chars().filter(char::is_ascii_digit).chain(std::iter::repeat('0')).take(6).collect();
    (base.replace(' ', "T"), digits.parse().unwrap_or(0))
}

/// The description's lines as the tool compares them: `description.replace("\n", " ").splitlines()`,
/// as a set (it asks whether a line of one is "in" the other).
fn description_lines(s: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut line = String::new();
    for c in s.chars() {
        match c {
            '\n' => line.push(' '),
            // str.splitlines' boundaries but \n (\r\n cannot occur once \n are spaces)
            c if is_line_break(c) => {
                out.insert(std::mem::take(&mut line));
            }
            c => line.push(c),
        }
    }
    if !line.is_empty() {
        out.insert(line);
    }
    out
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// The paragraphs of a description: its non-empty lines, trimmed.
fn paragraphs(s: &str) -> BTreeSet<&str> {
    s.split(is_line_break).map(str::trim).filter(|l| !l.is_empty()).collect()
}

fn labelled(e: &Entity) -> String {
    match &e.attack_id {
        Some(id) => format!("{id}: {}", e.name),
        None => e.name.clone(),
    }
}

/// A catalog with the lookups the comparison needs.
struct Side<'a> {
    c: &'a DomainCatalog,
    data_components: HashMap<&'a str, &'a Entity>,
    data_sources: HashMap<&'a str, &'a Entity>,
    analytics: HashMap<&'a str, &'a Entity>,
}

impl<'a> Side<'a> {
    fn new(c: &'a DomainCatalog) -> Side<'a> {
        let by_id = |v: &'a [Entity]| v.iter().map(|e| (e.stix_id.as_str(), e)).collect::<HashMap<_, _>>();
        Side { c, data_components: by_id(&c.data_components), data_sources: by_id(&c.data_sources), analytics: by_id(&c.analytics) }
    }

    /// Sources of relationships of `kind` to `target` neither revoked nor deprecated.
    fn sources(&self, target: &str, kind: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.c.relationships_to(target, Some(kind)).filter(|r| r.is_active()).map(|r| r.source_ref.as_str())
    }

    /// The objects of one kind (`is`) whose active `kind` relationships target `t`, labelled.
    fn related(&self, t: &str, kind: &'a str, is: fn(ObjectRef) -> bool) -> BTreeMap<&'a str, String> {
        self.sources(t, kind)
            .filter_map(|s| self.c.object(s).filter(|r| is(*r)).and_then(|r| self.c.entity(r)).map(|e| (e.stix_id.as_str(), labelled(e))))
            .collect()
    }

    fn mitigations(&self, t: &str) -> BTreeMap<&'a str, String> {
        self.related(t, "mitigates", |r| matches!(r, ObjectRef::Mitigation(_)))
    }

    fn detection_strategies(&self, t: &str) -> BTreeMap<&'a str, String> {
        self.related(t, "detects", |r| matches!(r, ObjectRef::DetectionStrategy(_)))
    }

    fn data_components(&self, t: &str) -> BTreeMap<&'a str, String> {
        self.sources(t, "detects")
            .filter_map(|s| self.data_components.get(s))
            .map(|dc| {
                let shown = match dc.data_source_ref.as_deref().and_then(|d| self.data_sources.get(d)) {
                    Some(ds) => format!("{}: {} ({})", ds.attack_id.as_deref().unwrap_or("None"), ds.name, dc.name),
                    None => dc.name.clone(),
                };
                (dc.stix_id.as_str(), shown)
            })
            .collect()
    }

    fn analytics(&self, t: &str) -> BTreeMap<&'a str, String> {
        let strategies: Vec<&'a Entity> = self
            .sources(t, "detects")
            .filter_map(|s| match self.c.object(s) {
                Some(r @ ObjectRef::DetectionStrategy(_)) => self.c.entity(r),
                _ => None,
            })
            .collect();
        strategies
            .into_iter()
            .flat_map(|d| d.analytic_refs.iter())
            .map(|a| match self.analytics.get(a.as_str()) {
                Some(e) => (e.stix_id.as_str(), e.attack_id.clone().unwrap_or_else(|| e.name.clone())),
                None => (a.as_str(), a.clone()),
            })
            .collect()
    }
}

fn values(v: &[String]) -> BTreeMap<&str, String> {
    v.iter().map(|s| (s.as_str(), s.clone())).collect()
}

fn fields(old: &Side<'_>, new: &Side<'_>, o: &Technique, n: &Technique) -> FieldChanges {
    let description = (description_lines(&o.description) != description_lines(&n.description)).then(|| {
        let (po, pn) = (paragraphs(&o.description), paragraphs(&n.description));
        TextChange { paragraphs_added: pn.difference(&po).count() as u32, paragraphs_removed: po.difference(&pn).count() as u32 }
    });
    FieldChanges {
        name: (o.name != n.name).then(|| (o.name.clone(), n.name.clone())),
        description,
        tactics: SetChange::between(&values(&o.tactics), &values(&n.tactics)),
        platforms: SetChange::between(&values(&o.platforms), &values(&n.platforms)),
        mitigations: SetChange::between(&old.mitigations(&o.stix_id), &new.mitigations(&n.stix_id)),
        detection_strategies: SetChange::between(&old.detection_strategies(&o.stix_id), &new.detection_strategies(&n.stix_id)),
        data_components: SetChange::between(&old.data_components(&o.stix_id), &new.data_components(&n.stix_id)),
        analytics: SetChange::between(&old.analytics(&o.stix_id), &new.analytics(&n.stix_id)),
        subtechniques_added: Vec::new(),
        more_subtechniques_added: 0,
    }
}

/// The class of a technique present in both releases, with a revocation's replacement; None
/// when the changelog tool puts it in no section.
fn classify(o: &Technique, n: &Technique, new: &DomainCatalog) -> Option<(ChangeClass, Option<TechniqueRef>)> {
    if n.revoked {
        if o.revoked {
            return None;
        }
        let by = new.relationships_from(&n.stix_id, Some("revoked-by")).next()?;
        let replacement = new.technique_by_stix_id(&by.target_ref)?;
        return Some((ChangeClass::Revocation, Some(TechniqueRef { attack_id: replacement.attack_id.clone(), name: replacement.name.clone() })));
    }
    if n.deprecated {
        return (!o.deprecated).then_some((ChangeClass::Deprecation, None));
    }
    let class = match (version_number(o.version.as_deref()), version_number(n.version.as_deref())) {
        (Some(a), Some(b)) if b == (a.0 + 1, 0) => ChangeClass::Major,
        (Some(a), Some(b)) if b == (a.0, a.1 + 1) => ChangeClass::Minor,
        (Some(a), Some(b)) if a != b => ChangeClass::Other,
        (None, _) | (_, None) if o.version != n.version => ChangeClass::Other,
        _ => {
            let modified = |t: &Technique| t.modified.as_deref().map(instant);
            if modified(o) != modified(n) || description_lines(&o.description) != description_lines(&n.description) {
                ChangeClass::Patch
            } else {
                ChangeClass::Unchanged
            }
        }
    };
    Some((class, None))
}

fn version_text(v: Option<&str>) -> String {
    v.unwrap_or("0.0").to_string()
}

impl ReleaseChanges {
    /// What changed in the techniques from catalog `old` to catalog `new` (of one domain).
    pub fn between(old: &DomainCatalog, new: &DomainCatalog) -> ReleaseChanges {
        let (o_side, n_side) = (Side::new(old), Side::new(new));
        let mut out: Vec<TechniqueChange> = Vec::new();
        for n in &new.techniques {
            let Some(o) = old.technique_by_stix_id(&n.stix_id) else {
                out.push(TechniqueChange {
                    stix_id: n.stix_id.clone(),
                    attack_id: n.attack_id.clone(),
                    name: n.name.clone(),
                    class: ChangeClass::Addition,
                    version: None,
                    revoked_by: None,
                    fields: FieldChanges::default(),
                });
                continue;
            };
            let Some((class, revoked_by)) = classify(o, n, new) else { continue };
            let live_to_live = !matches!(class, ChangeClass::Revocation | ChangeClass::Deprecation);
            out.push(TechniqueChange {
                stix_id: n.stix_id.clone(),
                attack_id: n.attack_id.clone(),
                name: n.name.clone(),
                class,
                version: (o.version != n.version).then(|| (version_text(o.version.as_deref()), version_text(n.version.as_deref()))),
                revoked_by,
                fields: if live_to_live { fields(&o_side, &n_side, o, n) } else { FieldChanges::default() },
            });
        }
        for o in &old.techniques {
            if new.technique_by_stix_id(&o.stix_id).is_none() {
                out.push(TechniqueChange {
                    stix_id: o.stix_id.clone(),
                    attack_id: o.attack_id.clone(),
                    name: o.name.clone(),
                    class: ChangeClass::Deletion,
                    version: None,
                    revoked_by: None,
                    fields: FieldChanges::default(),
                });
            }
        }

        // sub-techniques added, on their parent's entry
        let mut added_under: HashMap<String, Vec<String>> = HashMap::new();
        for c in out.iter().filter(|c| c.class == ChangeClass::Addition) {
            let Some(n) = new.technique_by_stix_id(&c.stix_id) else { continue };
            if let Some(parent) = n.parent.as_deref().and_then(|p| new.technique_by_attack_id(p)) {
                added_under.entry(parent.stix_id.clone()).or_default().push(format!("{}: {}", n.attack_id, n.name));
            }
        }
        for c in &mut out {
            if let Some(subs) = added_under.remove(&c.stix_id) {
                (c.fields.subtechniques_added, c.fields.more_subtechniques_added) = capped(subs);
            }
        }
        out.retain(|c| c.class != ChangeClass::Unchanged || c.fields.subtechniques_added_count() > 0);
        out.sort_by(|a, b| (&a.attack_id, &a.stix_id).cmp(&(&b.attack_id, &b.stix_id)));
        ReleaseChanges { schema: CHANGES_SCHEMA, domain: new.domain, from: old.version.clone(), to: new.version.clone(), techniques: out }
    }

    /// The change of the technique ATT&CK ID `attack_id` names (any case). When two techniques
    /// share the ID, the one of the old release (what a mapping made before could name) comes
    /// first.
    pub fn technique(&self, attack_id: &str) -> Option<&TechniqueChange> {
        let mut found = self.techniques.iter().filter(|c| c.attack_id.eq_ignore_ascii_case(attack_id));
        let first = found.next()?;
        if first.class != ChangeClass::Addition {
            return Some(first);
        }
        Some(found.find(|c| c.class != ChangeClass::Addition).unwrap_or(first))
    }

    /// How many techniques of each class.
    pub fn counts(&self) -> BTreeMap<ChangeClass, usize> {
        let mut out = BTreeMap::new();
        for c in &self.techniques {
            *out.entry(c.class).or_default() += 1;
        }
        out
    }

    /// Gzip-compressed JSON.
    pub fn encode(&self) -> std::io::Result<Vec<u8>> {
        crate::gzjson::encode(self, 9)
    }

    pub fn decode(bytes: &[u8]) -> Result<ReleaseChanges, String> {
        let c: ReleaseChanges = crate::gzjson::decode(bytes, "release changes", u64::MAX)?;
        if c.schema == 0 || c.schema > CHANGES_SCHEMA {
            return Err(format!("release changes schema {} is not 1 to {CHANGES_SCHEMA}", c.schema));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{fixtures::bundle_with, parse_bundle};
    use serde_json::{Value, json};

    fn sid(kind: &str, n: u32) -> String {
        format!("{kind}--00000000-0000-4000-8000-0000000005{n:02}")
    }

    fn tactic_phases(phases: &[&str]) -> Value {
        phases.iter().map(|p| json!({"kill_chain_name": "mitre-attack", "phase_name": p})).collect()
    }

    /// An attack-pattern: `fields` overrides the defaults (version 1.0, modified 2024-01-01).
    fn tech(n: u32, attack_id: &str, name: &str, phases: &[&str], fields: Value) -> String {
        let mut t = json!({
            "type": "attack-pattern", "id": sid("attack-pattern", n), "spec_version": "2.1", "name": name,
            "description": "Adversaries may do it.", "created": "2020-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
            "kill_chain_phases": tactic_phases(phases),
            "external_references": [{"source_name": "mitre-attack", "external_id": attack_id}],
            "x_mitre_platforms": ["Windows"], "x_mitre_domains": ["enterprise-attack"],
            "x_mitre_is_subtechnique": attack_id.contains('.'), "x_mitre_version": "1.0"
        });
        for (k, v) in fields.as_object().unwrap() {
            t[k] = v.clone();
        }
        t.to_string()
    }

    fn object(kind: &str, n: u32, attack_id: &str, name: &str, fields: Value) -> String {
        let mut o = json!({"type": kind, "id": sid(kind, n), "spec_version": "2.1", "name": name,
            "external_references": [{"source_name": "mitre-attack", "external_id": attack_id}]});
        for (k, v) in fields.as_object().unwrap() {
            o[k] = v.clone();
        }
        o.to_string()
    }

    fn rel(n: u32, kind: &str, from: &str, to: &str) -> String {
        json!({"type": "relationship", "id": sid("relationship", n), "spec_version": "2.1", "relationship_type": kind, "source_ref": from, "target_ref": to})
            .to_string()
    }

    fn catalog(extra: &[String], version: &str) -> DomainCatalog {
        let text = bundle_with("2.1", extra);
        let b = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).unwrap();
        DomainCatalog::build(&b.objects, Domain::EnterpriseAttack, version, "test")
    }

    const T1059: &str = "attack-pattern--00000000-0000-4000-8000-000000000004";
    const M1038: &str = "course-of-action--00000000-0000-4000-8000-000000000009";

    /// Release 1.0 and 2.0 of a small domain with a technique of every class. The fixture's
    /// own techniques stay as they are: T1059 and T1059.001 unchanged, T1000 revoked in both,
    /// T1001 deprecated in both.
    fn releases() -> (DomainCatalog, DomainCatalog) {
        let ap = |n| sid("attack-pattern", n);
        let old = vec![
            tech(1, "T1100", "Major One", &["execution"], json!({})),
            tech(2, "T1101", "Minor One", &["execution"], json!({"x_mitre_version": "1.1"})),
            tech(3, "T1102", "Other One", &["execution"], json!({})),
            tech(4, "T1103", "Patched By Date", &["execution"], json!({})),
            tech(5, "T1104", "Patched By Description", &["execution"], json!({"description": "Line one.\nLine two."})),
            tech(6, "T1105", "Same Instant", &["execution"], json!({"description": "a\nb"})),
            tech(7, "T1106", "To Revoke", &["execution"], json!({})),
            tech(8, "T1107", "To Deprecate", &["execution"], json!({})),
            tech(9, "T1108", "To Delete", &["execution"], json!({})),
            tech(10, "T1109", "Revoked Without Replacement", &["execution"], json!({})),
            tech(11, "T1110", "No Version", &["execution"], json!({"x_mitre_version": null})),
            object("x-mitre-data-source", 20, "DS0009", "Process", json!({})),
            object("x-mitre-data-component", 21, "DC0032", "Process Creation", json!({"x_mitre_data_source_ref": sid("x-mitre-data-source", 20)})),
            rel(30, "mitigates", M1038, &ap(1)),
            rel(31, "detects", &sid("x-mitre-data-component", 21), &ap(1)),
        ];
        let new = vec![
            tech(
                1,
                "T1100",
                "Major One Renamed",
                &["execution", "persistence"],
                json!({"x_mitre_version": "2.0", "x_mitre_platforms": ["Windows", "Linux"], "modified": "2025-01-01T00:00:00.000Z"}),
            ),
            tech(2, "T1101", "Minor One", &["persistence"], json!({"x_mitre_version": "1.2"})),
            tech(3, "T1102", "Other One", &["execution"], json!({"x_mitre_version": "1.2"})),
            tech(4, "T1103", "Patched By Date", &["execution"], json!({"modified": "2024-01-01T00:00:00.001Z"})),
            // the same modified time: a patch for the description's lines
            tech(5, "T1104", "Patched By Description", &["execution"], json!({"description": "Line one.\rLine three."})),
            // the same instant written otherwise, and \n as the tool reads it (a space): unchanged
            tech(6, "T1105", "Same Instant", &["execution"], json!({"description": "a b", "modified": "2024-01-01T00:00:00Z"})),
            tech(7, "T1106", "To Revoke", &["execution"], json!({"revoked": true})),
            tech(8, "T1107", "To Deprecate", &["execution"], json!({"x_mitre_deprecated": true, "x_mitre_version": "2.0"})),
            tech(10, "T1109", "Revoked Without Replacement", &["execution"], json!({"revoked": true})),
            tech(11, "T1110", "No Version", &["execution"], json!({"x_mitre_version": "1.0"})),
            tech(12, "T1059.002", "AppleScript", &["execution"], json!({})),
            tech(13, "T1200", "Brand New", &["impact"], json!({})),
            object("course-of-action", 22, "M1039", "Audit", json!({})),
            object("x-mitre-analytic", 23, "AN0001", "Analytic 0001", json!({})),
            object("x-mitre-detection-strategy", 24, "DET0001", "Detect it", json!({"x_mitre_analytic_refs": [sid("x-mitre-analytic", 23)]})),
            object("x-mitre-data-source", 20, "DS0009", "Process", json!({})),
            object("x-mitre-data-component", 21, "DC0032", "Process Creation", json!({})),
            rel(32, "mitigates", &sid("course-of-action", 22), &ap(1)),
            rel(33, "detects", &sid("x-mitre-detection-strategy", 24), &ap(1)),
            rel(34, "revoked-by", &ap(7), T1059),
            rel(35, "subtechnique-of", &ap(12), T1059),
            // a deprecated relationship counts for nothing
            format!("{}", {
                let mut r: Value = serde_json::from_str(&rel(36, "mitigates", M1038, &ap(2))).unwrap();
                r["x_mitre_deprecated"] = json!(true);
                r
            }),
        ];
        (catalog(&old, "1.0"), catalog(&new, "2.0"))
    }

    #[test]
    fn every_class_as_the_changelog_tool_tells_it() {
        let (old, new) = releases();
        let c = ReleaseChanges::between(&old, &new);
        assert_eq!((c.domain, c.from.as_str(), c.to.as_str()), (Domain::EnterpriseAttack, "1.0", "2.0"));
        let classes: Vec<(&str, ChangeClass)> = c.techniques.iter().map(|t| (t.attack_id.as_str(), t.class)).collect();
        assert_eq!(
            classes,
            [
                ("T1059", ChangeClass::Unchanged),
                ("T1059.002", ChangeClass::Addition),
                ("T1100", ChangeClass::Major),
                ("T1101", ChangeClass::Minor),
                ("T1102", ChangeClass::Other),
                ("T1103", ChangeClass::Patch),
                ("T1104", ChangeClass::Patch),
                ("T1106", ChangeClass::Revocation),
                ("T1107", ChangeClass::Deprecation),
                ("T1108", ChangeClass::Deletion),
                ("T1110", ChangeClass::Major),
                ("T1200", ChangeClass::Addition),
            ],
            "T1105 unchanged, T1109 revoked without a replacement, T1000 and T1001 revoked and deprecated in both: none listed"
        );

        let major = c.technique("t1100").unwrap();
        assert_eq!(major.version, Some(("1.0".into(), "2.0".into())));
        let f = &major.fields;
        assert_eq!(f.name, Some(("Major One".into(), "Major One Renamed".into())));
        assert_eq!(f.description, None);
        assert_eq!((f.tactics.added.as_slice(), f.tactics.removed.as_slice()), (&["persistence".to_string()][..], &[][..]));
        assert_eq!(f.platforms.added, ["Linux"]);
        assert_eq!(
            (f.mitigations.added.as_slice(), f.mitigations.removed.as_slice()),
            (&["M1039: Audit".to_string()][..], &["M1038: Execution Prevention".to_string()][..])
        );
        assert_eq!(f.detection_strategies.added, ["DET0001: Detect it"]);
        assert_eq!(f.data_components.removed, ["DS0009: Process (Process Creation)"]);
        assert_eq!(f.analytics.added, ["AN0001"]);
        assert!(f.moved_tactics());

        let minor = c.technique("T1101").unwrap();
        assert_eq!(
            (minor.fields.tactics.added.clone(), minor.fields.tactics.removed.clone()),
            (vec!["persistence".to_string()], vec!["execution".to_string()])
        );
        assert!(minor.fields.mitigations.is_empty(), "the deprecated relationship is none");
        let by_description = c.technique("T1104").unwrap();
        assert_eq!(by_description.fields.description, Some(TextChange { paragraphs_added: 1, paragraphs_removed: 1 }));
        assert_eq!(by_description.version, None);
        assert_eq!(c.technique("T1110").unwrap().version, Some(("0.0".into(), "1.0".into())));

        let revoked = c.technique("T1106").unwrap();
        assert_eq!(revoked.revoked_by, Some(TechniqueRef { attack_id: "T1059".into(), name: "Command and Scripting Interpreter".into() }));
        assert!(revoked.fields.is_empty());
        let parent = c.technique("T1059").unwrap();
        assert_eq!(parent.fields.subtechniques_added, ["T1059.002: AppleScript"]);
        assert_eq!(c.technique("T1108").unwrap().name, "To Delete");
        assert_eq!(c.counts()[&ChangeClass::Addition], 2);
        assert_eq!(ChangeClass::Major.section(), "major_version_changes");

        let text = serde_json::to_value(&c).unwrap();
        assert_eq!(text["techniques"][2]["class"], "major");
        assert_eq!(text["techniques"][2]["version"], json!(["1.0", "2.0"]));
        assert!(text["techniques"][1].get("fields").is_none(), "no empty fields: {}", text["techniques"][1]);
        assert!(text["techniques"][2]["fields"].get("subtechniques_added").is_none());
        assert_eq!(ReleaseChanges::decode(&c.encode().unwrap()).unwrap(), c);
        assert!(ReleaseChanges::decode(b"nope").is_err());
    }

    #[test]
    fn an_id_shared_by_a_deleted_and_an_added_technique_names_the_old_one() {
        let (old, _) = releases();
        let new = catalog(&[tech(40, "T1108", "Reused", &["execution"], json!({}))], "2.0");
        let c = ReleaseChanges::between(&old, &new);
        assert_eq!(c.technique("T1108").unwrap().class, ChangeClass::Deletion);
        assert_eq!(c.techniques.iter().filter(|t| t.attack_id == "T1108").count(), 2);
    }

    #[test]
    fn lists_are_capped_and_the_rest_counted() {
        let old: BTreeMap<u32, String> = (0..3).map(|i| (i, format!("old {i:02}"))).collect();
        let new: BTreeMap<u32, String> = (100..130).map(|i| (i, format!("new {i:03}"))).collect();
        let s = SetChange::between(&old, &new);
        assert_eq!((s.added.len(), s.more_added, s.added_count(), s.removed_count()), (LIST_CAP, 5, 30, 3));
        assert_eq!(s.added[0], "new 100");
    }

    #[test]
    fn description_lines_are_the_tools() {
        let lines = |s: &str| description_lines(s).into_iter().collect::<Vec<_>>();
        assert_eq!(lines(""), Vec::<String>::new());
        assert_eq!(lines("a\nb"), ["a b"]);
        assert_eq!(lines("a\r"), ["a"]);
        assert_eq!(lines("a\r\rb"), ["", "a", "b"]);
        assert_eq!(lines("a\r\nb"), [" b", "a"]);
        assert_eq!(instant("2024-01-01T00:00:00.100Z"), instant("2024-01-01 00:00:00.1+00:00"));
        assert_ne!(instant("2024-01-01T00:00:00.100Z"), instant("2024-01-01T00:00:00.101Z"));
        assert_eq!(version_number(None), Some((0, 0)));
        assert_eq!(version_number(Some("2.10")), Some((2, 10)));
        assert_eq!(version_number(Some("2")), None);
    }

    fn release(version: &str) -> DomainCatalog {
        let dir = std::env::var_os("ATTACK_DATA_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/attack-data"));
        let path = dir.join(format!("enterprise-attack-{version}.json.gz"));
        let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (set ATTACK_DATA_DIR)", path.display()));
        let bytes = crate::decode_source_bytes(raw).unwrap();
        let b = parse_bundle(&bytes, Domain::EnterpriseAttack).unwrap();
        DomainCatalog::build(&b.objects, Domain::EnterpriseAttack, version, "release")
    }

    #[test]
    fn the_changes_of_real_releases_fit_one_item() {
        let (v17, v18, v181) = (release("17.1"), release("18.0"), release("18.1"));
        let c = ReleaseChanges::between(&v17, &v18);
        let counts = c.counts();
        let count = |k| counts.get(&k).copied().unwrap_or(0);
        // the figures of mitreattack-python's changelog on the same bundles (tests/oracle/release_changes.py)
        assert_eq!(
            (count(ChangeClass::Major), count(ChangeClass::Minor), count(ChangeClass::Patch), count(ChangeClass::Addition)),
            (4, 58, 533, 12),
            "{counts:?}"
        );
        let encoded = c.encode().unwrap();
        println!("17.1 → 18.0: {} techniques, {counts:?}, {} bytes encoded", c.techniques.len(), encoded.len());
        assert!(encoded.len() < 350 * 1024, "{} bytes", encoded.len());
        assert_eq!(ReleaseChanges::decode(&encoded).unwrap(), c);
        // ATT&CK 18 moved detection from data components to detection strategies
        let t = c.technique("T1055.011").unwrap();
        assert_eq!(t.fields.data_components.removed, ["DS0009: Process (OS API Execution)"]);
        assert_eq!(t.fields.detection_strategies.added, ["DET0217: Detection Strategy for Extra Window Memory (EWM) Injection on Windows"]);

        let c = ReleaseChanges::between(&v18, &v181);
        assert_eq!(c.counts(), BTreeMap::from([(ChangeClass::Patch, 3)]));
    }
}
