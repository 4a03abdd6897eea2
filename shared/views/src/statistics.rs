//! Statistics across a tenant's entities, from the kept counters (`mitre_domain::stats`) and
//! one domain's catalog: techniques by distinct entities, distinct entities per tactic and per
//! kill-chain phase in matrix order. No I/O.
use std::collections::BTreeMap;

use mitre_attack::catalog::{DomainCatalog, Tactic};
use mitre_domain::stats::{Aggregates, Counter, Window};
use mitre_domain::{MappingKind, Timestamp};
use serde::Serialize;

use crate::TechniqueState;

/// What a statistics answer covers.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Coverage {
    pub domain: String,
    /// The ATT&CK release the names and the matrix order come from.
    pub release: String,
    /// First and last month counted (`YYYY-MM`, UTC); null ends are unbounded.
    pub from_month: Option<String>,
    pub to_month: Option<String>,
    /// Only entities of this type (alert, incident, case, observable); null: every type.
    pub entity_type: Option<MappingKind>,
    pub generated_at: Timestamp,
}

/// One technique's use.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TechniqueCount {
    pub rank: usize,
    pub technique: String,
    pub name: String,
    pub url: Option<String>,
    /// Distinct entities with at least one mapping of the technique.
    pub entities: i64,
    pub mappings: i64,
    /// The tactics it was mapped in, in matrix order, with their mappings.
    pub tactics: Vec<TacticShare>,
    /// What this release says of the technique (live, revoked with its replacement, deprecated, unknown).
    #[serde(flatten)]
    pub state: TechniqueState,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TacticShare {
    pub tactic: String,
    pub name: String,
    pub mappings: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TechniqueStats {
    #[serde(flatten)]
    pub coverage: Coverage,
    /// Techniques with at least one mapping (before `top`).
    pub techniques_seen: usize,
    /// Ranked by distinct entities, then mappings, then ATT&CK ID.
    pub items: Vec<TechniqueCount>,
}

/// One tactic (kill-chain phase) and its entities.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TacticCount {
    /// 1-based position in the matrix; null for a tactic this release no longer has.
    pub order: Option<u32>,
    pub tactic: String,
    pub shortname: String,
    pub name: String,
    pub url: Option<String>,
    /// Distinct entities with at least one mapping in the tactic.
    pub entities: i64,
    pub mappings: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TacticStats {
    #[serde(flatten)]
    pub coverage: Coverage,
    /// Every tactic of the matrix, in matrix order (zeros included), then any tactic of older
    /// mappings this release no longer has.
    pub items: Vec<TacticCount>,
}

/// One kill-chain phase: its entities and the techniques that put them there.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PhaseCount {
    #[serde(flatten)]
    pub tactic: TacticCount,
    pub phase_name: String,
    /// Share of the phase's entities among the entities of the busiest phase (0 to 1).
    pub relative: f64,
    /// The techniques mapped most in this phase (at most 5), by mappings.
    pub top_techniques: Vec<PhaseTechnique>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PhaseTechnique {
    pub technique: String,
    pub name: String,
    pub mappings: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KillChainStats {
    #[serde(flatten)]
    pub coverage: Coverage,
    pub kill_chain_name: String,
    /// Phases with at least one entity.
    pub phases_reached: usize,
    pub phases: Vec<PhaseCount>,
}

fn coverage(catalog: &DomainCatalog, window: &Window, kind: Option<MappingKind>, at: Timestamp) -> Coverage {
    Coverage {
        domain: catalog.domain.to_string(),
        release: catalog.version.clone(),
        from_month: window.from.clone(),
        to_month: window.to.clone(),
        entity_type: kind,
        generated_at: at,
    }
}

/// The counters of `kind` only (every kind when None).
fn of_kind(agg: &Aggregates, kind: Option<MappingKind>) -> impl Iterator<Item = (&Counter, i64)> {
    agg.counts.iter().filter(move |(c, _)| kind.is_none_or(|k| c.kind() == k)).map(|(c, v)| (c, *v))
}

/// A tactic key (identity or, for older mappings, shortname) as this release knows it.
fn tactic_of<'a>(catalog: &'a DomainCatalog, key: &str) -> Option<&'a Tactic> {
    catalog.tactics.iter().find(|t| t.stix_id == key).or_else(|| catalog.tactics.iter().find(|t| t.shortname == key))
}

/// Techniques by distinct entities; `top` of them.
pub fn techniques(catalog: &DomainCatalog, agg: &Aggregates, window: &Window, kind: Option<MappingKind>, top: usize, at: Timestamp) -> TechniqueStats {
    #[derive(Default)]
    struct Acc {
        entities: i64,
        mappings: i64,
        tactics: BTreeMap<String, i64>,
    }
    let mut by: BTreeMap<&str, Acc> = BTreeMap::new();
    for (c, v) in of_kind(agg, kind) {
        match c {
            Counter::TechniqueEntities { technique, .. } => by.entry(technique).or_default().entities += v,
            Counter::TechniqueMappings { technique, tactic, .. } => {
                let a = by.entry(technique).or_default();
                a.mappings += v;
                *a.tactics.entry(tactic.clone()).or_default() += v;
            }
            _ => {}
        }
    }
    let mut rows: Vec<TechniqueCount> = by
        .into_iter()
        .filter(|(_, a)| a.entities > 0 || a.mappings > 0)
        .map(|(id, a)| {
            let t = catalog.technique_by_attack_id(id);
            let mut tactics: Vec<(Option<u32>, TacticShare)> = a
                .tactics
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(key, n)| {
                    let known = tactic_of(catalog, key);
                    (
                        known.map(|t| t.order),
                        TacticShare {
                            tactic: known.map(|t| t.shortname.clone()).unwrap_or_else(|| key.clone()),
                            name: known.map(|t| t.name.clone()).unwrap_or_default(),
                            mappings: *n,
                        },
                    )
                })
                .collect();
            tactics.sort_by_key(|(order, share)| (order.unwrap_or(u32::MAX), share.tactic.clone()));
            TechniqueCount {
                rank: 0,
                technique: id.to_string(),
                name: t.map(|t| t.name.clone()).unwrap_or_default(),
                url: t.and_then(|t| t.url.clone()),
                entities: a.entities,
                mappings: a.mappings,
                tactics: tactics.into_iter().map(|(_, s)| s).collect(),
                state: TechniqueState::of(catalog, t),
            }
        })
        .collect();
    rows.sort_by(|a, b| b.entities.cmp(&a.entities).then(b.mappings.cmp(&a.mappings)).then_with(|| a.technique.cmp(&b.technique)));
    let seen = rows.len();
    rows.truncate(top);
    for (i, r) in rows.iter_mut().enumerate() {
        r.rank = i + 1;
    }
    TechniqueStats { coverage: coverage(catalog, window, kind, at), techniques_seen: seen, items: rows }
}

/// Distinct entities per tactic: every tactic of the matrix in matrix order, then tactics of
/// older mappings this release lacks.
fn tactic_counts(catalog: &DomainCatalog, agg: &Aggregates, kind: Option<MappingKind>) -> Vec<TacticCount> {
    let mut by: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (c, v) in of_kind(agg, kind) {
        let key = match c {
            Counter::TacticEntities { tactic, .. } | Counter::TacticMappings { tactic, .. } => tactic,
            _ => continue,
        };
        // older mappings count under their shortname: fold them into the tactic this release has
        let key = tactic_of(catalog, key).map(|t| t.stix_id.clone()).unwrap_or_else(|| key.clone());
        let e = by.entry(key).or_default();
        match c {
            Counter::TacticEntities { .. } => e.0 += v,
            _ => e.1 += v,
        }
    }
    // the catalog's tactics are in matrix order
    let mut rows: Vec<TacticCount> = catalog
        .tactics
        .iter()
        .map(|t| {
            let (entities, mappings) = by.remove(&t.stix_id).unwrap_or_default();
            TacticCount {
                order: Some(t.order),
                tactic: t.attack_id.clone(),
                shortname: t.shortname.clone(),
                name: t.name.clone(),
                url: t.url.clone(),
                entities,
                mappings,
            }
        })
        .collect();
    rows.extend(by.into_iter().filter(|(_, (e, m))| *e > 0 || *m > 0).map(|(key, (entities, mappings))| TacticCount {
        order: None,
        tactic: key.clone(),
        shortname: key,
        name: String::new(),
        url: None,
        entities,
        mappings,
    }));
    rows
}

pub fn tactics(catalog: &DomainCatalog, agg: &Aggregates, window: &Window, kind: Option<MappingKind>, at: Timestamp) -> TacticStats {
    TacticStats { coverage: coverage(catalog, window, kind, at), items: tactic_counts(catalog, agg, kind) }
}

/// Distinct entities per kill-chain phase of the domain's kill chain, in matrix order, with
/// the techniques mapped most in each.
pub fn kill_chain(catalog: &DomainCatalog, agg: &Aggregates, window: &Window, kind: Option<MappingKind>, at: Timestamp) -> KillChainStats {
    let mut per_phase: BTreeMap<String, BTreeMap<&str, i64>> = BTreeMap::new();
    for (c, v) in of_kind(agg, kind) {
        if let Counter::TechniqueMappings { technique, tactic, .. } = c {
            let key = tactic_of(catalog, tactic).map(|t| t.stix_id.clone()).unwrap_or_else(|| tactic.clone());
            *per_phase.entry(key).or_default().entry(technique.as_str()).or_default() += v;
        }
    }
    let counts: Vec<TacticCount> = tactic_counts(catalog, agg, kind).into_iter().filter(|t| t.order.is_some()).collect();
    let busiest = counts.iter().map(|t| t.entities).max().unwrap_or(0);
    let phases: Vec<PhaseCount> = counts
        .into_iter()
        .map(|t| {
            let stix = catalog.tactics.iter().find(|x| x.attack_id == t.tactic).map(|x| x.stix_id.clone()).unwrap_or_default();
            let mut top: Vec<(&str, i64)> = per_phase.remove(&stix).map(|m| m.into_iter().filter(|(_, n)| *n > 0).collect()).unwrap_or_default();
            top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            top.truncate(5);
            PhaseCount {
                phase_name: t.shortname.clone(),
                relative: if busiest > 0 { t.entities as f64 / busiest as f64 } else { 0.0 },
                top_techniques: top
                    .into_iter()
                    .map(|(id, n)| PhaseTechnique {
                        technique: id.to_string(),
                        name: catalog.technique_by_attack_id(id).map(|x| x.name.clone()).unwrap_or_default(),
                        mappings: n,
                    })
                    .collect(),
                tactic: t,
            }
        })
        .collect();
    KillChainStats {
        coverage: coverage(catalog, window, kind, at),
        kill_chain_name: catalog.domain.kill_chain_name().to_string(),
        phases_reached: phases.iter().filter(|p| p.tactic.entities > 0).count(),
        phases,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use mitre_domain::Mapping;
    use mitre_domain::stats::Aggregates;

    fn sample() -> (DomainCatalog, Vec<Mapping>) {
        let catalog = testing::small();
        let a = testing::case_mapping(&catalog, "C-1", "T1059.001", |_| {});
        let b = testing::mapping(&catalog, MappingKind::Alert, &[("alert_id", "A-1")], "T1059.001", |_| {});
        let c = testing::case_mapping(&catalog, "C-2", "T1059", |_| {});
        let d = testing::case_mapping(&catalog, "C-2", "T1059.001", |_| {});
        (catalog, vec![a, b, c, d])
    }

    #[test]
    fn techniques_rank_by_distinct_entities_and_filter_by_type() {
        let (catalog, mappings) = sample();
        let agg = Aggregates::recount(&mappings, catalog.domain, &Window::all());
        let at = Timestamp::now();
        let s = techniques(&catalog, &agg, &Window::all(), None, 10, at);
        assert_eq!(s.items[0].technique, "T1059.001");
        assert_eq!((s.items[0].entities, s.items[0].mappings), (3, 3));
        assert_eq!(s.items[0].rank, 1);
        assert_eq!(s.items[0].tactics[0].tactic, "execution");
        assert_eq!(s.techniques_seen, 2);
        assert_eq!((s.items[1].technique.as_str(), s.items[1].entities), ("T1059", 1));
        let cases = techniques(&catalog, &agg, &Window::all(), Some(MappingKind::Case), 1, at);
        assert_eq!(cases.items.len(), 1);
        assert_eq!(cases.items[0].entities, 2, "C-1 and C-2");
    }

    #[test]
    fn tactics_and_phases_come_in_matrix_order_with_every_tactic() {
        let (catalog, mappings) = sample();
        let agg = Aggregates::recount(&mappings, catalog.domain, &Window::all());
        let t = tactics(&catalog, &agg, &Window::all(), None, Timestamp::now());
        let orders: Vec<u32> = t.items.iter().filter_map(|r| r.order).collect();
        assert_eq!(orders.len(), catalog.tactics.len());
        assert!(orders.windows(2).all(|w| w[0] < w[1]));
        let execution = t.items.iter().find(|r| r.shortname == "execution").unwrap();
        assert_eq!((execution.entities, execution.mappings), (3, 4), "C-2 has two mappings in execution and counts once");
        let k = kill_chain(&catalog, &agg, &Window::all(), Some(MappingKind::Case), Timestamp::now());
        assert_eq!(k.kill_chain_name, "mitre-attack");
        assert_eq!(k.phases_reached, 1);
        let exec = k.phases.iter().find(|p| p.phase_name == "execution").unwrap();
        assert_eq!(exec.tactic.entities, 2);
        assert_eq!(exec.relative, 1.0);
        assert_eq!(exec.top_techniques[0].technique, "T1059.001");
    }
}
