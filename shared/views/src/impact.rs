//! What an ATT&CK release changed for a tenant: the techniques it has mapped that the release
//! revoked, deprecated, deleted, moved between tactics, or changed as MITRE's changelog counts a
//! change, each with a short field-level diff and how much of the tenant's data it touches.
//!
//! An item is one mapped technique ([`Usage`] by ATT&CK ID) whose change
//! ([`mitre_attack::changes::ReleaseChanges`]) is one of:
//! - revoked (with its replacement), deprecated, or deleted from the release;
//! - a major or minor version change, or another version step (e.g. 1.0 → 1.2: MITRE changed
//!   the technique all the same), with whatever fields changed;
//! - any change that moved it between tactics (tactics added or removed), or added a
//!   sub-technique under it, a patch or an otherwise unchanged technique included.
//!
//! Other patches (the same version: a typo, a reference, a relationship) are left out, and so are
//! additions (an ATT&CK ID new in the release names nothing mapped before it).
//!
//! Items are ordered by how much of the tenant's data they touch: entities, then mappings (both
//! descending), then ATT&CK ID. The totals sum the items' usage: an entity mapped to two
//! affected techniques counts twice.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use mitre_attack::Domain;
use mitre_attack::changes::{ChangeClass, ReleaseChanges, SetChange, TechniqueChange};
use serde::{Deserialize, Serialize};

use crate::text::md_escape;

/// How much of a tenant's data names a technique: its mappings, and the distinct entities
/// (alerts, incidents, cases, observables) they belong to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub mappings: u64,
    pub entities: u64,
}

/// Why a change matters to the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Revoked,
    Deprecated,
    Deleted,
    MajorChange,
    MinorChange,
    VersionChange,
    MovedTactics,
    SubtechniqueAdded,
}

impl Reason {
    pub fn label(self) -> &'static str {
        match self {
            Reason::Revoked => "revoked",
            Reason::Deprecated => "deprecated",
            Reason::Deleted => "deleted",
            Reason::MajorChange => "major change",
            Reason::MinorChange => "minor change",
            Reason::VersionChange => "version change",
            Reason::MovedTactics => "moved between tactics",
            Reason::SubtechniqueAdded => "new sub-technique",
        }
    }
}

/// One mapped technique the release changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImpactItem {
    /// The ATT&CK ID the tenant's mappings name.
    pub technique: String,
    pub reasons: Vec<Reason>,
    /// What changed, in a few words (plain text).
    pub summary: String,
    pub usage: Usage,
    pub change: TechniqueChange,
}

/// The sums of the items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub techniques: u64,
    pub mappings: u64,
    pub entities: u64,
}

/// What the change from release `from` to release `to` of `domain` means for a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantImpact {
    pub domain: Domain,
    pub from: String,
    pub to: String,
    pub totals: Totals,
    pub items: Vec<ImpactItem>,
}

fn reasons(c: &TechniqueChange) -> Vec<Reason> {
    let mut out = match c.class {
        ChangeClass::Revocation => vec![Reason::Revoked],
        ChangeClass::Deprecation => vec![Reason::Deprecated],
        ChangeClass::Deletion => vec![Reason::Deleted],
        ChangeClass::Major => vec![Reason::MajorChange],
        ChangeClass::Minor => vec![Reason::MinorChange],
        ChangeClass::Other => vec![Reason::VersionChange],
        ChangeClass::Patch | ChangeClass::Unchanged => vec![],
        // an ATT&CK ID new in the release names nothing mapped before
        ChangeClass::Addition => return vec![],
    };
    if c.fields.moved_tactics() {
        out.push(Reason::MovedTactics);
    }
    if c.fields.subtechniques_added_count() > 0 {
        out.push(Reason::SubtechniqueAdded);
    }
    out
}

/// "M1042: Name, M1043: Other and 3 more": the first two entries of a list and the count of the rest.
fn few(listed: &[String], more: u32) -> String {
    let shown = listed.iter().take(2).cloned().collect::<Vec<_>>().join(", ");
    let rest = listed.len().saturating_sub(2) + more as usize;
    if rest > 0 { format!("{shown} and {rest} more") } else { shown }
}

/// "+persistence −execution" with names, or "+3 −1" with counts only.
fn set_words(what: &str, s: &SetChange, names: bool) -> Option<String> {
    if s.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    if s.added_count() > 0 {
        parts.push(if names { format!("+{}", few(&s.added, s.more_added)) } else { format!("+{}", s.added_count()) });
    }
    if s.removed_count() > 0 {
        parts.push(if names { format!("−{}", few(&s.removed, s.more_removed)) } else { format!("−{}", s.removed_count()) });
    }
    Some(format!("{what} {}", parts.join(" ")))
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What changed, in a few words.
pub fn summary(c: &TechniqueChange) -> String {
    let mut parts: Vec<String> = Vec::new();
    match c.class {
        ChangeClass::Revocation => parts.push(match &c.revoked_by {
            Some(r) => format!("replaced by {} {}", r.attack_id, r.name),
            None => "revoked".to_string(),
        }),
        ChangeClass::Deprecation => parts.push("deprecated, not replaced".to_string()),
        ChangeClass::Deletion => parts.push("no longer in the release".to_string()),
        _ => {}
    }
    if let Some((old, new)) = &c.version {
        parts.push(format!("v{old} → v{new}"));
    }
    let f = &c.fields;
    if let Some((old, _)) = &f.name {
        parts.push(format!("renamed from {old}"));
    }
    parts.extend(set_words("tactics", &f.tactics, true));
    parts.extend(set_words("platforms", &f.platforms, true));
    if let Some(d) = f.description {
        parts.push(match (d.paragraphs_added, d.paragraphs_removed) {
            (0, 0) => "description reformatted".to_string(),
            (a, 0) => format!("description: {} added", plural(a.into(), "paragraph", "paragraphs")),
            (0, r) => format!("description: {} removed", plural(r.into(), "paragraph", "paragraphs")),
            (a, r) => format!("description: {} added, {r} removed", plural(a.into(), "paragraph", "paragraphs")),
        });
    }
    parts.extend(set_words("mitigations", &f.mitigations, true));
    parts.extend(set_words("detection strategies", &f.detection_strategies, true));
    parts.extend(set_words("data components", &f.data_components, false));
    parts.extend(set_words("analytics", &f.analytics, false));
    if f.subtechniques_added_count() > 0 {
        parts.push(format!("new sub-techniques {}", few(&f.subtechniques_added, f.more_subtechniques_added)));
    }
    if parts.is_empty() {
        parts.push(c.class.label().to_string());
    }
    parts.join("; ")
}

fn totals(items: &[ImpactItem]) -> Totals {
    Totals { techniques: items.len() as u64, mappings: items.iter().map(|i| i.usage.mappings).sum(), entities: items.iter().map(|i| i.usage.entities).sum() }
}

impl TenantImpact {
    /// The items of `changes` for a tenant whose use of each technique is `usage` (by ATT&CK
    /// ID; any case).
    pub fn of(changes: &ReleaseChanges, usage: &BTreeMap<String, Usage>) -> TenantImpact {
        let mut items: Vec<ImpactItem> = Vec::new();
        let mut seen = BTreeSet::new();
        for (id, u) in usage {
            let id = id.to_ascii_uppercase();
            if !seen.insert(id.clone()) {
                // the same ID in two cases: once, with both usages
                if let Some(item) = items.iter_mut().find(|i| i.technique == id) {
                    item.usage.mappings += u.mappings;
                    item.usage.entities += u.entities;
                }
                continue;
            }
            let Some(change) = changes.technique(&id) else { continue };
            let reasons = reasons(change);
            if reasons.is_empty() {
                continue;
            }
            items.push(ImpactItem { technique: id, reasons, summary: summary(change), usage: *u, change: change.clone() });
        }
        items.sort_by(|a, b| b.usage.entities.cmp(&a.usage.entities).then(b.usage.mappings.cmp(&a.usage.mappings)).then_with(|| a.technique.cmp(&b.technique)));
        TenantImpact { domain: changes.domain, from: changes.from.clone(), to: changes.to.clone(), totals: totals(&items), items }
    }

    /// The items of the techniques `ids` (ATT&CK IDs, any case) only, e.g. those of one case;
    /// each keeps the tenant's usage.
    pub fn for_techniques(&self, ids: &BTreeSet<String>) -> TenantImpact {
        let ids: BTreeSet<String> = ids.iter().map(|i| i.to_ascii_uppercase()).collect();
        let items: Vec<ImpactItem> = self.items.iter().filter(|i| ids.contains(&i.technique)).cloned().collect();
        TenantImpact { domain: self.domain, from: self.from.clone(), to: self.to.clone(), totals: totals(&items), items }
    }

    /// A Markdown section: a heading, the totals and a table of the items.
    pub fn markdown(&self) -> String {
        let mut s = String::with_capacity(512 + self.items.len() * 256);
        let _ =
            writeln!(s, "## ATT&CK {} {} → {}: changes to mapped techniques\n", crate::domain_label(self.domain), md_escape(&self.from), md_escape(&self.to));
        if self.items.is_empty() {
            let _ = writeln!(s, "No mapped technique was revoked, deprecated, deleted, moved between tactics or given a major or minor change.");
            return s;
        }
        let t = &self.totals;
        let _ = writeln!(
            s,
            "{} changed, named by {} of {}. Most used first.\n",
            plural(t.techniques, "mapped technique", "mapped techniques"),
            plural(t.mappings, "mapping", "mappings"),
            plural(t.entities, "entity", "entities")
        );
        let _ = writeln!(s, "| Technique | Change | What changed | Mappings | Entities |\n|---|---|---|---:|---:|");
        for i in &self.items {
            let change: Vec<&str> = i.reasons.iter().map(|r| r.label()).collect();
            let _ = writeln!(
                s,
                "| {} {} | {} | {} | {} | {} |",
                md_escape(&i.technique),
                md_escape(&i.change.name),
                change.join(", "),
                md_escape(&i.summary),
                i.usage.mappings,
                i.usage.entities
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{HOSTILE, catalog_of};
    use mitre_attack::fixtures::bundle_with;
    use serde_json::{Value, json};

    fn sid(kind: &str, n: u32) -> String {
        format!("{kind}--00000000-0000-4000-8000-0000000006{n:02}")
    }

    fn tech(n: u32, attack_id: &str, name: &str, phases: &[&str], fields: Value) -> String {
        let phases: Vec<Value> = phases.iter().map(|p| json!({"kill_chain_name": "mitre-attack", "phase_name": p})).collect();
        let mut t = json!({
            "type": "attack-pattern", "id": sid("attack-pattern", n), "spec_version": "2.1", "name": name, "description": "d",
            "modified": "2024-01-01T00:00:00.000Z", "kill_chain_phases": phases,
            "external_references": [{"source_name": "mitre-attack", "external_id": attack_id}],
            "x_mitre_platforms": ["Windows"], "x_mitre_is_subtechnique": attack_id.contains('.'), "x_mitre_version": "1.0"
        });
        for (k, v) in fields.as_object().unwrap() {
            t[k] = v.clone();
        }
        t.to_string()
    }

    fn rel(n: u32, kind: &str, from: &str, to: &str) -> String {
        json!({"type": "relationship", "id": sid("relationship", n), "spec_version": "2.1", "relationship_type": kind, "source_ref": from, "target_ref": to})
            .to_string()
    }

    const T1059: &str = "attack-pattern--00000000-0000-4000-8000-000000000004";
    const T1059_001: &str = "attack-pattern--00000000-0000-4000-8000-000000000005";

    fn changes() -> ReleaseChanges {
        let later = json!({"modified": "2025-01-01T00:00:00.000Z"});
        let old = vec![
            tech(1, "T1100", "Major One", &["execution"], json!({})),
            tech(2, "T1101", "Mover", &["execution"], json!({})),
            tech(3, "T1102", "Patched", &["execution"], json!({})),
            tech(4, "T1103", "Old PowerShell", &["execution"], json!({})),
            tech(5, "T1104", "Plain", &["execution"], json!({})),
            tech(6, "T1105", "Retired", &["persistence"], json!({})),
        ];
        let new = vec![
            tech(1, "T1100", "Major One", &["execution"], json!({"x_mitre_version": "2.0", "x_mitre_platforms": ["Windows", "Linux"]})),
            tech(2, "T1101", "Mover", &["persistence"], later.clone()),
            tech(3, "T1102", "Patched", &["execution"], later),
            tech(4, "T1103", "Old PowerShell", &["execution"], json!({"revoked": true})),
            tech(5, "T1104", HOSTILE, &["execution"], json!({"x_mitre_version": "1.1"})),
            tech(6, "T1105", "Retired", &["persistence"], json!({"x_mitre_deprecated": true})),
            tech(7, "T1059.002", "AppleScript", &["execution"], json!({})),
            rel(1, "revoked-by", &sid("attack-pattern", 4), T1059_001),
            rel(2, "subtechnique-of", &sid("attack-pattern", 7), T1059),
        ];
        let (old, new) = (catalog_of(&bundle_with("2.1", &old), "17.1"), catalog_of(&bundle_with("2.1", &new), "18.0"));
        ReleaseChanges::between(&old, &new)
    }

    fn usage() -> BTreeMap<String, Usage> {
        [
            ("T1100", 5, 2),
            ("T1101", 1, 1),
            ("T1102", 9, 9),
            ("T1103", 3, 4),
            ("T1104", 2, 2),
            ("T1059", 1, 1),
            ("T1105", 1, 1),
            ("T1059.001", 20, 20),
            ("T9999", 7, 7),
        ]
        .into_iter()
        .map(|(id, mappings, entities)| (id.to_string(), Usage { mappings, entities }))
        .collect()
    }

    #[test]
    fn mapped_techniques_that_changed_most_used_first() {
        let impact = TenantImpact::of(&changes(), &usage());
        assert_eq!((impact.domain, impact.from.as_str(), impact.to.as_str()), (Domain::EnterpriseAttack, "17.1", "18.0"));
        let order: Vec<(&str, &[Reason])> = impact.items.iter().map(|i| (i.technique.as_str(), i.reasons.as_slice())).collect();
        assert_eq!(
            order,
            [
                ("T1103", &[Reason::Revoked][..]),
                ("T1100", &[Reason::MajorChange][..]),
                ("T1104", &[Reason::MinorChange][..]),
                ("T1059", &[Reason::SubtechniqueAdded][..]),
                ("T1101", &[Reason::MovedTactics][..]),
                ("T1105", &[Reason::Deprecated][..]),
            ],
            "by entities, mappings, ID; T1102's patch, unchanged T1059.001 and unknown T9999 left out"
        );
        assert_eq!(impact.totals, Totals { techniques: 6, mappings: 13, entities: 11 });

        let revoked = &impact.items[0];
        let by = revoked.change.revoked_by.as_ref().unwrap();
        assert_eq!((by.attack_id.as_str(), by.name.as_str()), ("T1059.001", "PowerShell"));
        assert_eq!(revoked.summary, "replaced by T1059.001 PowerShell");
        assert_eq!(revoked.usage, Usage { mappings: 3, entities: 4 });
        assert_eq!(impact.items[1].summary, "v1.0 → v2.0; platforms +Linux");
        assert_eq!(impact.items[3].summary, "new sub-techniques T1059.002: AppleScript");
        assert_eq!(impact.items[3].change.class, ChangeClass::Unchanged);
        let mover = &impact.items[4];
        assert_eq!(mover.change.class, ChangeClass::Patch);
        assert_eq!(mover.summary, "tactics +persistence −execution");
        assert!(impact.items[2].summary.starts_with("v1.0 → v1.1; renamed from Plain"));

        let json = serde_json::to_value(&impact).unwrap();
        assert_eq!(json["items"][0]["reasons"], json!(["revoked"]));
        assert_eq!(json["items"][0]["change"]["class"], "revocation");
        assert_eq!(json["totals"]["entities"], 11);

        let case = impact.for_techniques(&BTreeSet::from(["t1101".to_string(), "T1100".to_string(), "T1102".to_string()]));
        assert_eq!(case.items.iter().map(|i| i.technique.as_str()).collect::<Vec<_>>(), ["T1100", "T1101"]);
        assert_eq!(case.totals, Totals { techniques: 2, mappings: 6, entities: 3 });
    }

    #[test]
    fn the_markdown_holds_whatever_a_name_says() {
        let impact = TenantImpact::of(&changes(), &usage());
        let md = impact.markdown();
        assert!(md.starts_with("## ATT&CK Enterprise 17.1 → 18.0: changes to mapped techniques\n"), "{md}");
        assert!(md.contains("6 mapped techniques changed, named by 13 mappings of 11 entities."), "{md}");
        crate::testing::assert_no_markup(&md);
        let tables = crate::testing::tables(&md);
        assert_eq!(tables.len(), 1);
        let t = &tables[0];
        assert_eq!(t.len(), 7, "header and six rows");
        assert!(t.iter().all(|row| row.len() == 5), "a row with a cell too many or too few: {t:?}");
        assert_eq!(t[1], ["T1103 Old PowerShell", "revoked", "replaced by T1059.001 PowerShell", "3", "4"]);
        let hostile = &t[3];
        let flat = HOSTILE.replace("\r\n", " ").replace('\n', " ");
        assert_eq!(hostile[0], format!("T1104 {flat}"));
        assert_eq!(hostile[1], "minor change");
        assert_eq!(t[5][1], "moved between tactics");

        let none = impact.for_techniques(&BTreeSet::from(["T1102".to_string()]));
        assert!(none.items.is_empty());
        assert!(none.markdown().contains("No mapped technique was"), "{}", none.markdown());
    }
}
