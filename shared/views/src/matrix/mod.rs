//! The ATT&CK matrix of an entity, or a tenant heatmap: the domain's tactics as columns in
//! matrix order (the catalog's order, from the domain's matrix object), every live technique
//! under each of its tactics with its sub-techniques nested under it, and the mapped cells
//! marked by confidence (by distinct entities for a heatmap) with impact and mitigation status.
//!
//! In every column the mapped techniques come first (highest score first), then the parents
//! of mapped sub-techniques, then the rest by name: what was seen leads each column. Mapped
//! techniques that the release no longer has in its matrix (revoked, deprecated, unknown) are
//! listed in `outside`, never dropped.
//!
//! Outputs: this structure (serde JSON), [`Matrix::to_svg`] and [`Matrix::to_html`], both
//! self-contained (no external script, style, font or image) with every text escaped.
mod html;
mod svg;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use mitre_attack::catalog::{DomainCatalog, Technique};
use mitre_domain::{ImpactLevel, Mapping, MitigationStatus, Timestamp};
use serde::Serialize;

use crate::layer::{CONFIDENCE_COLORS, COUNT_COLORS, PARENT_COLOR};
use crate::observed::{TechniqueState, covered, observe};
use crate::text::{excerpt, gradient};
use crate::{EntityRef, Scope, domain_label};

/// The background of a technique nothing maps.
pub const UNMAPPED_COLOR: &str = "#ececec";
/// The longest artifacts excerpt a cell carries.
pub const EXCERPT_CHARS: usize = 160;
/// The most mapping ids a cell lists (a tenant heatmap's cell may have thousands of mappings).
pub const MAPPING_IDS: usize = 50;

/// How a score reads and what colour it gets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scale {
    /// `confidence` or `distinct entities`.
    pub measure: String,
    pub min: u32,
    pub max: u32,
    /// Evenly spaced from `min` to `max`.
    pub colors: Vec<String>,
}

impl Scale {
    pub fn color(&self, score: u32) -> crate::text::Rgb {
        let stops: Vec<&str> = self.colors.iter().map(String::as_str).collect();
        gradient(&stops, self.min as f64, self.max as f64, score as f64)
    }
}

/// What the mappings of one cell say.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Marking {
    /// The highest confidence, or the number of distinct entities for a heatmap.
    pub score: u32,
    /// Background and text colours for the score.
    pub color: String,
    pub text_color: String,
    pub highest_confidence: u8,
    pub entities: usize,
    pub impact: Option<ImpactLevel>,
    /// Every status of the mappings, least done first.
    pub mitigation: Vec<MitigationStatus>,
    pub first_observed: Timestamp,
    pub last_observed: Timestamp,
    /// Detection methods (and details), distinct.
    pub detection: Vec<String>,
    /// The artifacts of the highest-confidence mapping that has some, trimmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<String>,
    /// When a mapping named a tactic that no longer lists the technique.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// How many mappings the cell has.
    pub mappings: usize,
    /// Their ids, highest confidence first; at most [`MAPPING_IDS`] of them.
    pub mapping_ids: Vec<String>,
}

/// One technique under one tactic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub id: String,
    pub name: String,
    pub url: Option<String>,
    /// Present when the technique is mapped in this tactic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapped: Option<Marking>,
    /// A parent one of whose sub-techniques is mapped in this tactic.
    pub subtechnique_mapped: bool,
    pub subtechniques: Vec<Cell>,
}

impl Cell {
    pub fn is_mapped(&self) -> bool {
        self.mapped.is_some()
    }

    fn rank(&self) -> (u8, u32) {
        match &self.mapped {
            Some(m) => (0, u32::MAX - m.score),
            None if self.subtechnique_mapped => (1, 0),
            None => (2, 0),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    pub id: String,
    pub shortname: String,
    pub name: String,
    pub url: Option<String>,
    /// Techniques (not sub-techniques) of the column, mapped or not.
    pub techniques_total: usize,
    /// Cells of the column that are mapped or hold a mapped sub-technique.
    pub techniques_mapped: usize,
    pub techniques: Vec<Cell>,
}

/// A mapped technique the release has no cell for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outside {
    pub id: String,
    pub name: String,
    #[serde(flatten)]
    pub state: TechniqueState,
    pub note: String,
    /// The tactics the mappings named.
    pub tactics: Vec<String>,
    pub mapped: Marking,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LegendEntry {
    pub label: String,
    pub color: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Matrix {
    /// `case C-1`, or the heatmap's title.
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<EntityRef>,
    pub heatmap: bool,
    pub domain: String,
    /// `Enterprise ATT&CK`.
    pub domain_name: String,
    pub attack_version: String,
    pub generated_at: Timestamp,
    pub mappings: usize,
    /// Distinct mapped techniques, in the matrix or not.
    pub techniques_mapped: usize,
    /// Tactics with a mapped cell.
    pub tactics_covered: usize,
    pub scale: Scale,
    pub tactics: Vec<Column>,
    pub outside: Vec<Outside>,
    pub legend: Vec<LegendEntry>,
}

/// The mappings of one cell, and a note when a mapping's tactic no longer lists the technique.
type Placed<'a> = (Vec<&'a Mapping>, Option<String>);

/// The matrix of `scope`'s mappings, generated at `generated_at`.
pub fn matrix(catalog: &DomainCatalog, scope: &Scope, mappings: &[Mapping], generated_at: Timestamp) -> Matrix {
    let heatmap = scope.is_heatmap();
    let covered = covered(catalog, scope, mappings);
    let observed = observe(catalog, &covered);

    // the mappings of each (technique, tactic) cell; an observation whose tactic no longer
    // lists the technique marks it under all its tactics
    let mut cells: HashMap<(&str, &str), Placed<'_>> = HashMap::new();
    let mut outside_groups: BTreeMap<String, Vec<&crate::observed::Observed<'_>>> = BTreeMap::new();
    for o in &observed {
        let Some(t) = o.technique.filter(|_| o.state.is_live()) else {
            outside_groups.entry(o.id.clone()).or_default().push(o);
            continue;
        };
        let tactics: Vec<&str> = match o.tactic {
            Some(tactic) => vec![tactic.shortname.as_str()],
            None => t.tactics.iter().map(String::as_str).collect(),
        };
        for tactic in tactics {
            let e = cells.entry((t.attack_id.as_str(), tactic)).or_default();
            e.0.extend(o.mappings.iter().copied());
            if let Some(n) = o.tactic_note() {
                e.1 = Some(n);
            }
        }
    }

    let top = cells.values().map(|(ms, _)| score(heatmap, ms)).max().unwrap_or(0);
    let scale = if heatmap {
        Scale {
            measure: "distinct entities".into(),
            min: 0,
            max: top.max(COUNT_COLORS.len() as u32 - 1),
            colors: COUNT_COLORS.iter().map(|c| c.to_string()).collect(),
        }
    } else {
        Scale { measure: "confidence".into(), min: 0, max: 100, colors: CONFIDENCE_COLORS.iter().map(|c| c.to_string()).collect() }
    };
    let marking = |ms: &[&Mapping], note: Option<String>| mark(&scale, heatmap, ms, note);

    // sub-techniques by parent, each list by ID
    let mut subs: HashMap<&str, Vec<&Technique>> = HashMap::new();
    for t in catalog.techniques.iter().filter(|t| t.is_subtechnique && !t.revoked && !t.deprecated) {
        if let Some(p) = t.parent.as_deref() {
            subs.entry(p).or_default().push(t);
        }
    }

    let cell_of = |t: &Technique, tactic: &str| {
        let mapped = cells.get(&(t.attack_id.as_str(), tactic)).map(|(ms, note)| marking(ms, note.clone()));
        Cell { id: t.attack_id.clone(), name: t.name.clone(), url: t.url.clone(), mapped, subtechnique_mapped: false, subtechniques: Vec::new() }
    };
    let columns: Vec<Column> = catalog
        .tactics
        .iter()
        .map(|tactic| {
            let s = tactic.shortname.as_str();
            let mut techniques: Vec<Cell> = catalog
                .techniques
                .iter()
                .filter(|t| !t.is_subtechnique && !t.revoked && !t.deprecated && t.tactics.iter().any(|x| x == s))
                .map(|t| {
                    let mut cell = cell_of(t, s);
                    cell.subtechniques =
                        subs.get(t.attack_id.as_str()).into_iter().flatten().filter(|x| x.tactics.iter().any(|y| y == s)).map(|x| cell_of(x, s)).collect();
                    cell.subtechnique_mapped = cell.subtechniques.iter().any(Cell::is_mapped);
                    cell.subtechniques.sort_by(|a, b| a.rank().cmp(&b.rank()).then(a.id.cmp(&b.id)));
                    cell
                })
                .collect();
            techniques.sort_by(|a, b| a.rank().cmp(&b.rank()).then(a.name.cmp(&b.name)));
            Column {
                id: tactic.attack_id.clone(),
                shortname: tactic.shortname.clone(),
                name: tactic.name.clone(),
                url: tactic.url.clone(),
                techniques_total: techniques.len(),
                techniques_mapped: techniques.iter().filter(|c| c.is_mapped() || c.subtechnique_mapped).count(),
                techniques,
            }
        })
        .collect();

    let outside: Vec<Outside> = outside_groups
        .into_iter()
        .map(|(id, os)| {
            let ms: Vec<&Mapping> = os.iter().flat_map(|o| o.mappings.iter().copied()).collect();
            let tactics: BTreeSet<String> = ms.iter().map(|m| m.tactic.clone()).collect();
            Outside {
                name: os[0].name().to_string(),
                state: os[0].state.clone(),
                note: os[0].state.note(&catalog.version).unwrap_or_default(),
                tactics: tactics.into_iter().collect(),
                mapped: marking(&ms, None),
                id,
            }
        })
        .collect();

    let mut legend: Vec<LegendEntry> = if heatmap {
        let mut l = vec![LegendEntry { label: "1 entity".into(), color: scale.color(1).hex() }];
        if scale.max > 2 {
            l.push(LegendEntry { label: format!("{} entities", scale.max.div_ceil(2)), color: scale.color(scale.max.div_ceil(2)).hex() });
        }
        l.push(LegendEntry { label: format!("{} entities", scale.max), color: scale.color(scale.max).hex() });
        l
    } else {
        [1, 50, 100].iter().map(|&s| LegendEntry { label: format!("confidence {s}"), color: scale.color(s).hex() }).collect()
    };
    legend.push(LegendEntry { label: "sub-technique mapped".into(), color: PARENT_COLOR.into() });
    legend.push(LegendEntry { label: "not mapped".into(), color: UNMAPPED_COLOR.into() });

    let techniques_mapped = observed.iter().map(|o| o.id.as_str()).collect::<BTreeSet<_>>().len();
    Matrix {
        title: scope.title(),
        entity: match scope {
            Scope::Entity(e) => Some(e.clone()),
            Scope::Tenant { .. } => None,
        },
        heatmap,
        domain: catalog.domain.as_str().into(),
        domain_name: format!("{} ATT&CK", domain_label(catalog.domain)),
        attack_version: catalog.version.clone(),
        generated_at,
        mappings: covered.len(),
        techniques_mapped,
        tactics_covered: columns.iter().filter(|c| c.techniques_mapped > 0).count(),
        scale,
        tactics: columns,
        outside,
        legend,
    }
}

fn score(heatmap: bool, ms: &[&Mapping]) -> u32 {
    if heatmap {
        ms.iter().filter_map(|m| EntityRef::of(m)).collect::<BTreeSet<_>>().len() as u32
    } else {
        ms.iter().map(|m| m.confidence_score as u32).max().unwrap_or(0)
    }
}

fn mark(scale: &Scale, heatmap: bool, ms: &[&Mapping], note: Option<String>) -> Marking {
    let score = score(heatmap, ms);
    let color = scale.color(score);
    let mut by_confidence: Vec<&Mapping> = ms.to_vec();
    by_confidence.sort_by(|a, b| b.confidence_score.cmp(&a.confidence_score).then(a.id.cmp(&b.id)));
    by_confidence.dedup_by(|a, b| a.id == b.id && !a.id.is_empty());
    let detection: BTreeSet<String> = by_confidence
        .iter()
        .map(|m| match m.detection_detail.as_deref().filter(|d| !d.trim().is_empty()) {
            Some(d) => format!("{} ({})", m.detection_method, excerpt(d, 60)),
            None => m.detection_method.to_string(),
        })
        .collect();
    Marking {
        score,
        color: color.hex(),
        text_color: color.text_color().into(),
        highest_confidence: by_confidence.iter().map(|m| m.confidence_score).max().unwrap_or(0),
        entities: by_confidence.iter().filter_map(|m| EntityRef::of(m)).collect::<BTreeSet<_>>().len(),
        impact: by_confidence.iter().map(|m| m.impact_level).max(),
        mitigation: by_confidence.iter().map(|m| m.mitigation_status).collect::<BTreeSet<_>>().into_iter().collect(),
        first_observed: by_confidence.iter().map(|m| m.first_observed).min().unwrap_or_else(Timestamp::now),
        last_observed: by_confidence.iter().map(|m| m.last_observed).max().unwrap_or_else(Timestamp::now),
        detection: detection.into_iter().collect(),
        artifacts: by_confidence.iter().find_map(|m| m.artifacts.as_deref().filter(|a| !a.trim().is_empty())).map(|a| excerpt(a, EXCERPT_CHARS)),
        note,
        mappings: by_confidence.len(),
        // (a redacted mapping has no id to show)
        mapping_ids: by_confidence.iter().filter(|m| !m.id.is_empty()).take(MAPPING_IDS).map(|m| m.id.clone()).collect(),
    }
}

/// Words for a status, as the cells show them.
pub(crate) fn status_words(s: MitigationStatus) -> &'static str {
    match s {
        MitigationStatus::NotStarted => "not started",
        MitigationStatus::InProgress => "in progress",
        MitigationStatus::Completed => "completed",
    }
}

/// The lines of a cell's tooltip.
pub(crate) fn tooltip(m: &Matrix, id: &str, name: &str, marking: Option<&Marking>) -> String {
    let mut lines = vec![format!("{id} {name}")];
    if let Some(k) = marking {
        if m.heatmap {
            lines.push(format!("{} entities, {} mappings · highest confidence {}", k.entities, k.mappings, k.highest_confidence));
        } else {
            lines.push(format!("confidence {}", k.score));
        }
        if let Some(i) = k.impact {
            lines.push(format!("impact {i}"));
        }
        lines.push(format!("mitigation: {}", k.mitigation.iter().map(|s| status_words(*s)).collect::<Vec<_>>().join(", ")));
        lines.push(format!("observed {}", crate::text::window(&k.first_observed, &k.last_observed)));
        lines.push(format!("detection: {}", k.detection.join(", ")));
        if let Some(a) = &k.artifacts {
            lines.push(format!("artifacts: {a}"));
        }
        if let Some(n) = &k.note {
            lines.push(n.clone());
        }
        let shown: Vec<&str> = k.mapping_ids.iter().take(5).map(String::as_str).collect();
        lines.push(format!("mappings: {}{}", shown.join(", "), if k.mappings > 5 { ", …" } else { "" }));
    }
    lines.join("\n")
}

/// The line under a mapped cell's name: `92 · high` or `3 entities · high`.
pub(crate) fn score_line(m: &Matrix, k: &Marking) -> String {
    let score = if m.heatmap { format!("{} entit{}", k.score, if k.score == 1 { "y" } else { "ies" }) } else { k.score.to_string() };
    match k.impact {
        Some(i) => format!("{score} · {i}"),
        None => score,
    }
}

/// The mitigation line of a mapped cell: the least advanced status.
pub(crate) fn status_line(k: &Marking) -> String {
    match k.mitigation.first() {
        Some(MitigationStatus::Completed) => "✓ completed".into(),
        Some(s) => status_words(*s).into(),
        None => String::new(),
    }
}

#[cfg(test)]
pub(crate) mod tests;

impl Matrix {
    /// The header's second line: release, generation time and what is mapped (plain text;
    /// each format escapes it).
    pub(crate) fn summary_line(&self) -> String {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        format!(
            "{} {} · generated {} · {} mapping{} · {} technique{} in {} of {} tactics",
            self.domain_name,
            self.attack_version,
            crate::text::day_time(&self.generated_at),
            self.mappings,
            plural(self.mappings),
            self.techniques_mapped,
            plural(self.techniques_mapped),
            self.tactics_covered,
            self.tactics.len()
        )
    }
}
