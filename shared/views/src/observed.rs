//! What the views share: which mappings a view covers, where each one shows on the matrix,
//! and what ATT&CK now says of its technique.
use std::collections::{BTreeMap, BTreeSet};

use mitre_attack::catalog::{DomainCatalog, Tactic, Technique};
use mitre_domain::{ImpactLevel, Mapping, MitigationStatus, Timestamp};
use serde::Serialize;

use crate::{EntityRef, Scope};

/// What the release a view is built from says of a mapped technique.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TechniqueState {
    /// In the matrix.
    Live,
    /// Revoked; `by` is the technique that replaces it, when ATT&CK names one.
    Revoked { by: Option<String>, by_name: Option<String> },
    /// Deprecated: no longer maintained, out of the matrix.
    Deprecated,
    /// Not in this release of the domain at all.
    Unknown,
}

impl TechniqueState {
    pub fn of(catalog: &DomainCatalog, technique: Option<&Technique>) -> TechniqueState {
        match technique {
            None => TechniqueState::Unknown,
            Some(t) if t.revoked => {
                let by = catalog.relationships_from(&t.stix_id, Some("revoked-by")).find_map(|r| catalog.technique_by_stix_id(&r.target_ref));
                TechniqueState::Revoked { by: by.map(|b| b.attack_id.clone()), by_name: by.map(|b| b.name.clone()) }
            }
            Some(t) if t.deprecated => TechniqueState::Deprecated,
            Some(_) => TechniqueState::Live,
        }
    }

    pub fn is_live(&self) -> bool {
        *self == TechniqueState::Live
    }

    /// What to tell an analyst, None for a live technique: `revoked in ATT&CK 18.1; replaced by T1059 (Command and Scripting Interpreter)`.
    pub fn note(&self, version: &str) -> Option<String> {
        match self {
            TechniqueState::Live => None,
            TechniqueState::Revoked { by: Some(by), by_name } => {
                Some(format!("revoked in ATT&CK {version}; replaced by {by}{}", by_name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default()))
            }
            TechniqueState::Revoked { by: None, .. } => Some(format!("revoked in ATT&CK {version}")),
            TechniqueState::Deprecated => Some(format!("deprecated in ATT&CK {version}")),
            TechniqueState::Unknown => Some(format!("not in ATT&CK {version} of this domain")),
        }
    }
}

/// The mappings a view covers: those of the catalog's domain (mappings of another domain are
/// left out; see [`crate::domains`]) and, for an entity, those naming it.
pub(crate) fn covered<'a>(catalog: &DomainCatalog, scope: &Scope, mappings: &'a [Mapping]) -> Vec<&'a Mapping> {
    mappings
        .iter()
        .filter(|m| m.domain == catalog.domain)
        .filter(|m| match scope {
            Scope::Entity(e) => e.names(m),
            Scope::Tenant { .. } => true,
        })
        .collect()
}

/// One technique as observed in one tactic: the unit of a layer entry, a matrix cell and a
/// report row group.
#[derive(Debug)]
pub(crate) struct Observed<'a> {
    /// The technique ID as the mappings name it.
    pub id: String,
    pub technique: Option<&'a Technique>,
    pub state: TechniqueState,
    /// The tactic the mappings were observed in, when the technique is still in it. None when it
    /// no longer is (or the tactic is gone): the observation then shows under every tactic of the technique.
    pub tactic: Option<&'a Tactic>,
    /// The tactic shortnames the mappings named (for a note when `tactic` is None).
    pub named_tactics: BTreeSet<String>,
    pub mappings: Vec<&'a Mapping>,
}

impl<'a> Observed<'a> {
    pub fn name(&self) -> &str {
        self.technique.map(|t| t.name.as_str()).or_else(|| self.mappings.first().map(|m| m.technique_name.as_str())).unwrap_or_default()
    }

    pub fn max_confidence(&self) -> u8 {
        self.mappings.iter().map(|m| m.confidence_score).max().unwrap_or(0)
    }

    pub fn highest_impact(&self) -> Option<ImpactLevel> {
        self.mappings.iter().map(|m| m.impact_level).max()
    }

    /// Every mitigation status of the mappings, in the enum's order.
    pub fn statuses(&self) -> Vec<MitigationStatus> {
        self.mappings.iter().map(|m| m.mitigation_status).collect::<BTreeSet<_>>().into_iter().collect()
    }

    pub fn window(&self) -> Option<(Timestamp, Timestamp)> {
        let first = self.mappings.iter().map(|m| m.first_observed).min()?;
        let last = self.mappings.iter().map(|m| m.last_observed).max()?;
        Some((first, last))
    }

    /// Distinct entities of the mappings.
    pub fn entities(&self) -> BTreeSet<EntityRef> {
        self.mappings.iter().filter_map(|m| EntityRef::of(m)).collect()
    }

    /// A note for a mapping whose tactic no longer lists the technique.
    pub fn tactic_note(&self) -> Option<String> {
        (self.tactic.is_none() && !self.named_tactics.is_empty())
            .then(|| format!("observed under {}, which no longer lists this technique", self.named_tactics.iter().cloned().collect::<Vec<_>>().join(", ")))
    }
}

/// The tactic a mapping names, found by its STIX id (which survives a rename) or its shortname.
pub(crate) fn mapping_tactic<'a>(catalog: &'a DomainCatalog, m: &Mapping) -> Option<&'a Tactic> {
    m.tactic_id.as_deref().and_then(|id| catalog.tactics.iter().find(|t| t.stix_id == id)).or_else(|| catalog.tactic(&m.tactic))
}

/// Groups mappings by technique and by the tactic they show under; sorted by technique ID, then
/// by tactic in matrix order (unplaced last).
pub(crate) fn observe<'a>(catalog: &'a DomainCatalog, mappings: &[&'a Mapping]) -> Vec<Observed<'a>> {
    let mut groups: BTreeMap<(String, u32), Observed<'a>> = BTreeMap::new();
    for m in mappings {
        let technique = catalog.technique_by_attack_id(m.technique.as_str());
        let tactic = mapping_tactic(catalog, m).filter(|t| technique.is_some_and(|x| x.tactics.contains(&t.shortname)));
        let key = (m.technique.as_str().to_string(), tactic.map_or(u32::MAX, |t| t.order));
        let o = groups.entry(key).or_insert_with(|| Observed {
            id: m.technique.as_str().to_string(),
            technique,
            state: TechniqueState::of(catalog, technique),
            tactic,
            named_tactics: BTreeSet::new(),
            mappings: Vec::new(),
        });
        if tactic.is_none() {
            o.named_tactics.insert(m.tactic.clone());
        }
        o.mappings.push(m);
    }
    let mut out: Vec<Observed<'a>> = groups.into_values().collect();
    for o in &mut out {
        o.mappings.sort_by(|a, b| b.confidence_score.cmp(&a.confidence_score).then(a.first_observed.cmp(&b.first_observed)).then(a.id.cmp(&b.id)));
    }
    out
}
