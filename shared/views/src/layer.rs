//! ATT&CK Navigator layers, format 4.5 (`versions.navigator` is 5.2.0, the Navigator release
//! that reads ATT&CK 18 and whose specification this follows).
//!
//! One entry per technique and tactic it was observed in (`tactic` is left out when the
//! technique no longer is in the tactic a mapping named: the Navigator then shows it under
//! every tactic of the technique). Parents of mapped sub-techniques get an entry of their own
//! with `showSubtechniques` and the parent colour. Sorting is by score, highest first; the
//! layout shows IDs and names and expands annotated sub-techniques, so mapped cells lead
//! every column. Revoked and deprecated techniques keep their entries (the Navigator does
//! not draw them), with a comment and a metadata entry saying so.
//!
//! The layer also loads in MITRE's mitreattack-python, which is stricter than the
//! specification: only the specification's top-level keys, integer gradient bounds, at least
//! two gradient colours and a range of at least one step per colour, no empty platform list
//! (no `filters` is written: every platform shows).
use std::collections::{BTreeMap, BTreeSet};

use mitre_attack::catalog::DomainCatalog;
use mitre_domain::Mapping;
use serde::{Deserialize, Serialize};

use crate::observed::{Observed, covered, observe};
use crate::text::{excerpt, window};
use crate::{EntityRef, Scope, domain_label};

pub const LAYER_FORMAT: &str = "4.5";
pub const NAVIGATOR_VERSION: &str = "5.2.0";
/// The longest comment body, in characters (a revoked or deprecated note comes before it).
pub const COMMENT_CHARS: usize = 200;

/// Confidence 0 → 100: warm yellow, orange, red.
pub const CONFIDENCE_COLORS: [&str; 3] = ["#ffe39e", "#ff9a3c", "#d62728"];
/// Distinct entities 0 → most: light to deep blue.
pub const COUNT_COLORS: [&str; 3] = ["#c6dbef", "#6baed6", "#08519c"];
/// A parent technique that is not mapped itself, but one of whose sub-techniques is.
pub const PARENT_COLOR: &str = "#fde2c4";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Versions {
    pub attack: String,
    pub navigator: String,
    pub layer: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Layout {
    pub layout: String,
    #[serde(rename = "showID")]
    pub show_id: bool,
    pub show_name: bool,
    pub show_aggregate_scores: bool,
    pub count_unscored: bool,
    pub aggregate_function: String,
    pub expanded_subtechniques: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    pub name: String,
    pub value: String,
}

/// A layer name the Navigator's exporters keep: Excel forbids `\ / ? * [ ] :` in sheet titles
/// (mitreattack-python's `ToExcel` names its sheet after the layer), so `: ` becomes ` - ` and each
/// other such character `-`.
pub fn exportable_name(name: &str) -> String {
    name.replace(": ", " - ").chars().map(|c| if "\\/?*[]:".contains(c) { '-' } else { c }).collect()
}

fn meta(name: &str, value: impl Into<String>) -> Metadata {
    Metadata { name: name.to_string(), value: value.into() }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerTechnique {
    #[serde(rename = "techniqueID")]
    pub technique_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tactic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    pub comment: String,
    pub enabled: bool,
    pub metadata: Vec<Metadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_subtechniques: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gradient {
    pub colors: Vec<String>,
    pub min_value: i64,
    pub max_value: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegendItem {
    pub label: String,
    pub color: String,
}

/// A Navigator layer; serialise it with serde_json to get the layer file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Layer {
    pub name: String,
    pub versions: Versions,
    pub domain: String,
    pub description: String,
    pub sorting: u8,
    pub layout: Layout,
    pub hide_disabled: bool,
    pub techniques: Vec<LayerTechnique>,
    pub gradient: Gradient,
    pub legend_items: Vec<LegendItem>,
    pub show_tactic_row_background: bool,
    pub tactic_row_background: String,
    pub select_techniques_across_tactics: bool,
    pub select_subtechniques_with_parent: bool,
    pub select_visible_techniques: bool,
    pub metadata: Vec<Metadata>,
}

/// The layer of one entity: score = the highest confidence of the technique's mappings in that tactic.
pub fn entity_layer(catalog: &DomainCatalog, entity: &EntityRef, mappings: &[Mapping]) -> Layer {
    layer(catalog, &Scope::Entity(entity.clone()), mappings)
}

/// A tenant heatmap of the mappings handed over (those of a window, an entity type, ...):
/// score = the number of distinct entities that mapped the technique in that tactic.
pub fn heatmap_layer(catalog: &DomainCatalog, mappings: &[Mapping], title: &str) -> Layer {
    layer(catalog, &Scope::Tenant { title: title.to_string() }, mappings)
}

/// The layer of `scope` (see [`entity_layer`] and [`heatmap_layer`]).
pub fn layer(catalog: &DomainCatalog, scope: &Scope, mappings: &[Mapping]) -> Layer {
    let covered = covered(catalog, scope, mappings);
    let observed = observe(catalog, &covered);
    let heatmap = scope.is_heatmap();
    let score = |o: &Observed<'_>| if heatmap { o.entities().len() as u32 } else { o.max_confidence() as u32 };

    let mut techniques: Vec<LayerTechnique> = observed.iter().map(|o| entry(catalog, o, score(o), heatmap)).collect();

    // parents of mapped sub-techniques: expanded, and coloured when not mapped themselves
    let mut parents: BTreeMap<(String, Option<String>), BTreeSet<String>> = BTreeMap::new();
    for o in observed.iter().filter(|o| o.state.is_live()) {
        let Some(parent) = o.technique.and_then(|t| t.parent.as_deref()) else { continue };
        parents.entry((parent.to_string(), o.tactic.map(|t| t.shortname.clone()))).or_default().insert(o.id.clone());
    }
    for ((parent, tactic), subs) in parents {
        let subs: Vec<String> = subs.into_iter().collect();
        let comment = format!("sub-technique{} mapped: {}", if subs.len() > 1 { "s" } else { "" }, subs.join(", "));
        match techniques.iter_mut().find(|t| t.technique_id == parent && t.tactic == tactic) {
            Some(t) => {
                t.show_subtechniques = Some(true);
                t.metadata.push(meta("sub-techniques mapped", subs.join(", ")));
            }
            None => techniques.push(LayerTechnique {
                technique_id: parent,
                tactic,
                score: None,
                color: Some(PARENT_COLOR.to_string()),
                comment,
                enabled: true,
                metadata: vec![meta("sub-techniques mapped", subs.join(", "))],
                show_subtechniques: Some(true),
            }),
        }
    }
    techniques.sort_by(|a, b| a.technique_id.cmp(&b.technique_id).then(a.tactic.cmp(&b.tactic)));

    let top = techniques.iter().filter_map(|t| t.score).max().unwrap_or(0) as i64;
    let (colors, max_value) = if heatmap { (COUNT_COLORS, top.max(COUNT_COLORS.len() as i64 - 1)) } else { (CONFIDENCE_COLORS, 100) };
    let mut legend_items: Vec<LegendItem> = if heatmap {
        vec![
            LegendItem { label: "1 entity".into(), color: crate::text::gradient(&colors, 0.0, max_value as f64, 1.0).hex() },
            LegendItem { label: format!("{max_value} entities"), color: colors[2].into() },
        ]
    } else {
        vec![
            LegendItem { label: "Confidence 1-39".into(), color: colors[0].into() },
            LegendItem { label: "Confidence 40-79".into(), color: colors[1].into() },
            LegendItem { label: "Confidence 80-100".into(), color: colors[2].into() },
        ]
    };
    legend_items.push(LegendItem { label: "Parent of a mapped sub-technique".into(), color: PARENT_COLOR.into() });

    let (name, description) = match scope {
        Scope::Entity(e) => (
            exportable_name(&format!("{e} - ATT&CK techniques")),
            format!(
                "{} mapping{} of {e} on {} ATT&CK {}. Score: the highest confidence (1-100) of the technique's mappings in that tactic.",
                covered.len(),
                if covered.len() == 1 { "" } else { "s" },
                domain_label(catalog.domain),
                catalog.version
            ),
        ),
        Scope::Tenant { title } => {
            let title = exportable_name(title);
            let entities = covered.iter().filter_map(|m| EntityRef::of(m)).collect::<BTreeSet<_>>().len();
            (
                title.clone(),
                format!(
                    "{} mapping{} of {entities} entit{} on {} ATT&CK {}. Score: the number of distinct entities that mapped the technique in that tactic.",
                    covered.len(),
                    if covered.len() == 1 { "" } else { "s" },
                    if entities == 1 { "y" } else { "ies" },
                    domain_label(catalog.domain),
                    catalog.version
                ),
            )
        }
    };
    let mut metadata = vec![meta("ATT&CK release", format!("{} {}", catalog.domain, catalog.version)), meta("mappings", covered.len().to_string())];
    if let Scope::Entity(e) = scope {
        metadata.insert(0, meta("entity", e.to_string()));
    }
    let gone: Vec<String> = observed.iter().filter(|o| !o.state.is_live()).map(|o| o.id.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    if !gone.is_empty() {
        metadata.push(meta("revoked or deprecated techniques", gone.join(", ")));
    }

    Layer {
        name,
        versions: Versions { attack: catalog.version.clone(), navigator: NAVIGATOR_VERSION.into(), layer: LAYER_FORMAT.into() },
        domain: catalog.domain.as_str().into(),
        description,
        sorting: 3,
        layout: Layout {
            layout: "side".into(),
            show_id: true,
            show_name: true,
            show_aggregate_scores: false,
            count_unscored: false,
            aggregate_function: "max".into(),
            expanded_subtechniques: "annotated".into(),
        },
        hide_disabled: false,
        techniques,
        gradient: Gradient { colors: colors.iter().map(|c| c.to_string()).collect(), min_value: 0, max_value },
        legend_items,
        show_tactic_row_background: true,
        tactic_row_background: "#dddddd".into(),
        select_techniques_across_tactics: false,
        select_subtechniques_with_parent: false,
        select_visible_techniques: false,
        metadata,
    }
}

fn entry(catalog: &DomainCatalog, o: &Observed<'_>, score: u32, heatmap: bool) -> LayerTechnique {
    let mut body: Vec<String> = Vec::new();
    if heatmap {
        let entities = o.entities();
        // restricted entities the caller may not see are counted, never named
        let named: Vec<&EntityRef> = entities.iter().filter(|e| !e.is_redacted()).collect();
        let restricted = entities.len() - named.len();
        let mut shown: Vec<String> = named.iter().take(8).map(|e| e.to_string()).collect();
        if named.len() > shown.len() {
            shown.push("…".into());
        }
        if restricted > 0 {
            shown.push(format!("{restricted} restricted"));
        }
        body.push(format!(
            "{} entit{} ({} mapping{}): {}",
            entities.len(),
            if entities.len() == 1 { "y" } else { "ies" },
            o.mappings.len(),
            if o.mappings.len() == 1 { "" } else { "s" },
            shown.join(", "),
        ));
    } else {
        for m in &o.mappings {
            let mut s = m.detection_method.as_str().to_string();
            if let Some(d) = m.detection_detail.as_deref().filter(|d| !d.trim().is_empty()) {
                s.push_str(&format!(" ({})", excerpt(d, 60)));
            }
            if let Some(a) = m.artifacts.as_deref().filter(|a| !a.trim().is_empty()) {
                s.push_str(": ");
                s.push_str(&excerpt(a, COMMENT_CHARS));
            }
            body.push(s);
        }
    }
    let mut comment = excerpt(&body.join(" | "), COMMENT_CHARS);
    let notes: Vec<String> = o.state.note(&catalog.version).into_iter().chain(o.tactic_note()).collect();
    if !notes.is_empty() {
        comment = format!("[{}] {comment}", notes.join("; "));
    }

    let mut metadata = Vec::new();
    if let Some(note) = o.state.note(&catalog.version) {
        metadata.push(meta("ATT&CK status", note));
    }
    if let Some(note) = o.tactic_note() {
        metadata.push(meta("tactic", note));
    }
    if let Some((first, last)) = o.window() {
        metadata.push(meta("observed", window(&first, &last)));
    }
    if heatmap {
        metadata.push(meta("entities", o.entities().len().to_string()));
        metadata.push(meta("mappings", o.mappings.len().to_string()));
    } else {
        metadata.push(meta("confidence", o.mappings.iter().map(|m| m.confidence_score.to_string()).collect::<Vec<_>>().join(", ")));
    }
    if let Some(impact) = o.highest_impact() {
        metadata.push(meta("impact", impact.as_str()));
    }
    metadata.push(meta("mitigation status", o.statuses().iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")));
    let reviews: BTreeSet<&str> = o.mappings.iter().filter_map(|m| m.needs_review.as_deref()).collect();
    if !reviews.is_empty() {
        metadata.push(meta("needs review", excerpt(&reviews.into_iter().collect::<Vec<_>>().join("; "), COMMENT_CHARS)));
    }
    // (a redacted mapping has no id to show)
    let ids: Vec<&str> = o.mappings.iter().map(|m| m.id.as_str()).filter(|id| !id.is_empty()).collect();
    let shown = ids.len().min(20);
    metadata.push(meta(
        "mapping ids",
        format!("{}{}", ids[..shown].join(", "), if ids.len() > shown { format!(" and {} more", ids.len() - shown) } else { String::new() }),
    ));

    LayerTechnique {
        technique_id: o.id.clone(),
        tactic: o.tactic.map(|t| t.shortname.clone()),
        score: Some(score),
        color: None,
        comment,
        enabled: true,
        metadata,
        show_subtechniques: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use mitre_domain::MappingKind;
    use serde_json::Value;

    const TOP_LEVEL: &[&str] = &[
        "versions",
        "name",
        "description",
        "domain",
        "filters",
        "sorting",
        "layout",
        "hideDisabled",
        "techniques",
        "gradient",
        "legendItems",
        "showTacticRowBackground",
        "tacticRowBackground",
        "selectTechniquesAcrossTactics",
        "selectSubtechniquesWithParent",
        "selectVisibleTechniques",
        "metadata",
        "links",
    ];
    const TECHNIQUE_KEYS: &[&str] = &["techniqueID", "tactic", "comment", "enabled", "score", "color", "metadata", "links", "showSubtechniques"];

    fn is_hex_color(v: &Value) -> bool {
        v.as_str().is_some_and(|s| s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit()))
    }

    /// Checks a layer against the 4.5 specification (required fields, types, value ranges)
    /// and mitreattack-python's stricter reading of it. Panics with what is wrong.
    pub(crate) fn check_spec(catalog: &DomainCatalog, layer: &Value) {
        let obj = layer.as_object().expect("a layer is an object");
        for key in obj.keys() {
            assert!(TOP_LEVEL.contains(&key.as_str()), "unknown top-level key {key}");
        }
        assert!(obj["name"].as_str().is_some_and(|s| !s.is_empty()), "name");
        assert!(["enterprise-attack", "mobile-attack", "ics-attack"].contains(&obj["domain"].as_str().unwrap()), "domain");
        assert_eq!(obj["domain"], catalog.domain.as_str());
        let v = &obj["versions"];
        assert_eq!(v["layer"], "4.5");
        assert_eq!(v["attack"], catalog.version.as_str());
        let nav: Vec<u32> = v["navigator"].as_str().unwrap().split('.').map(|p| p.parse().unwrap()).collect();
        assert!(nav >= vec![4, 9, 0] && nav[0] == 5, "navigator at least 4.9.0 (and 5.x for mitreattack-python)");
        assert!(obj["description"].is_string());
        assert!((0..=3).contains(&obj["sorting"].as_u64().unwrap()), "sorting");
        let layout = &obj["layout"];
        assert!(["side", "flat", "mini"].contains(&layout["layout"].as_str().unwrap()));
        assert!(["average", "min", "max", "sum"].contains(&layout["aggregateFunction"].as_str().unwrap()));
        assert!(["none", "all", "annotated"].contains(&layout["expandedSubtechniques"].as_str().unwrap()));
        for k in ["showID", "showName", "showAggregateScores", "countUnscored"] {
            assert!(layout[k].is_boolean(), "layout.{k}");
        }
        for k in ["hideDisabled", "showTacticRowBackground", "selectTechniquesAcrossTactics", "selectSubtechniquesWithParent", "selectVisibleTechniques"] {
            assert!(obj[k].is_boolean(), "{k}");
        }
        assert!(is_hex_color(&obj["tacticRowBackground"]));
        if let Some(f) = obj.get("filters") {
            assert!(f["platforms"].as_array().is_some_and(|p| !p.is_empty()), "no empty platforms list");
        }
        let g = &obj["gradient"];
        let colors = g["colors"].as_array().unwrap();
        assert!(colors.len() >= 2 && colors.iter().all(is_hex_color), "at least two gradient colours");
        let (min, max) = (g["minValue"].as_i64().expect("integer minValue"), g["maxValue"].as_i64().expect("integer maxValue"));
        assert!(g["minValue"].is_i64() && g["maxValue"].is_i64());
        assert!(max > min && max - min >= colors.len() as i64 - 1, "maxValue > minValue, one step per colour");
        for item in obj["legendItems"].as_array().unwrap() {
            assert!(item["label"].as_str().is_some_and(|s| !s.is_empty()) && is_hex_color(&item["color"]));
        }
        for m in obj["metadata"].as_array().unwrap() {
            assert!(m["name"].is_string() && m["value"].is_string());
        }
        let shortnames: Vec<&str> = catalog.tactics.iter().map(|t| t.shortname.as_str()).collect();
        let mut seen = BTreeSet::new();
        for t in obj["techniques"].as_array().unwrap() {
            for key in t.as_object().unwrap().keys() {
                assert!(TECHNIQUE_KEYS.contains(&key.as_str()), "unknown technique key {key}");
            }
            let id = t["techniqueID"].as_str().unwrap();
            assert!(mitre_attack::TechniqueId::parse(id).is_ok_and(|x| x.as_str() == id), "techniqueID {id}");
            if let Some(tactic) = t.get("tactic") {
                assert!(shortnames.contains(&tactic.as_str().unwrap()), "tactic {tactic} of {id}");
            }
            assert!(seen.insert((id.to_string(), t.get("tactic").cloned().unwrap_or(Value::Null).to_string())), "one entry per technique and tactic: {id}");
            if let Some(score) = t.get("score") {
                let s = score.as_i64().expect("an integer score");
                assert!((min..=max).contains(&s), "score {s} of {id} within the gradient");
            }
            if let Some(c) = t.get("color") {
                assert!(is_hex_color(c));
            }
            assert!(t["comment"].as_str().unwrap().chars().count() <= COMMENT_CHARS + 160, "comment of {id} is bounded");
            assert!(t["enabled"].is_boolean());
            for m in t["metadata"].as_array().unwrap() {
                assert!(m["name"].is_string() && m["value"].is_string());
            }
            if t.get("showSubtechniques").is_some() {
                assert!(!id.contains('.'), "showSubtechniques only on a parent: {id}");
                assert!(catalog.techniques.iter().any(|s| s.parent.as_deref() == Some(id)), "{id} has sub-techniques");
            }
        }
    }

    fn as_value(l: &Layer) -> Value {
        serde_json::to_value(l).unwrap()
    }

    fn entries<'a>(l: &'a Layer, id: &str) -> Vec<&'a LayerTechnique> {
        l.techniques.iter().filter(|t| t.technique_id == id).collect()
    }

    fn meta_of<'a>(t: &'a LayerTechnique, name: &str) -> Option<&'a str> {
        t.metadata.iter().find(|m| m.name == name).map(|m| m.value.as_str())
    }

    #[test]
    fn an_entity_layer_scores_by_highest_confidence_and_expands_parents() {
        let c = small();
        let ms = vec![
            case_mapping(&c, "C-1", "T1059.001", |i| {
                i.confidence_score = Some(40);
                i.artifacts = Some("powershell -enc AAAA\nsecond line".into());
                i.detection_method = Some("edr".into());
                i.impact_level = Some("low".into());
            }),
            mapping(&c, MappingKind::Alert, &[("alert_id", "A-1"), ("case_id", "C-1")], "T1059.001", |i| {
                i.confidence_score = Some(85);
                i.impact_level = Some("high".into());
                i.mitigation_status = Some("completed".into());
                i.first_observed = Some("2026-02-27T10:00:00Z".into());
            }),
            // another case and another domain: left out
            case_mapping(&c, "C-2", "T1059", |i| i.confidence_score = Some(99)),
            {
                let mut m = case_mapping(&c, "C-1", "T1059", |_| {});
                m.domain = mitre_attack::Domain::MobileAttack;
                m
            },
        ];
        let entity = EntityRef::new(MappingKind::Case, "C-1");
        let l = entity_layer(&c, &entity, &ms);
        check_spec(&c, &as_value(&l));
        assert_eq!(l.techniques.len(), 2, "{:#?}", l.techniques);
        let sub = entries(&l, "T1059.001")[0];
        assert_eq!(sub.score, Some(85));
        assert_eq!(sub.tactic.as_deref(), Some("execution"));
        assert!(sub.comment.starts_with("manual_analysis | edr: powershell -enc AAAA second line"), "{}", sub.comment);
        assert_eq!(meta_of(sub, "impact"), Some("high"));
        assert_eq!(meta_of(sub, "mitigation status"), Some("not_started, completed"));
        assert_eq!(meta_of(sub, "observed"), Some("2026-02-27 10:00 UTC → 2026-03-01 09:30 UTC"));
        assert_eq!(meta_of(sub, "confidence"), Some("85, 40"));
        assert_eq!(meta_of(sub, "mapping ids"), Some(format!("{}, {}", ms[1].id, ms[0].id).as_str()));
        let parent = entries(&l, "T1059")[0];
        assert_eq!((parent.score, parent.show_subtechniques, parent.color.as_deref()), (None, Some(true), Some(PARENT_COLOR)));
        assert_eq!(parent.tactic.as_deref(), Some("execution"));
        assert_eq!(l.versions, Versions { attack: "1.0".into(), navigator: "5.2.0".into(), layer: "4.5".into() });
        assert_eq!(l.name, "case C-1 - ATT&CK techniques");
        // names Excel refuses as sheet titles are made exportable, entity ids with ':' included
        let odd = EntityRef::new(MappingKind::Case, "CASE:7");
        assert_eq!(entity_layer(&c, &odd, &[]).name, "case CASE-7 - ATT&CK techniques");
        assert_eq!(heatmap_layer(&c, &[], "acme: cases [Q1] / *?").name, "acme - cases -Q1- - --");
        assert!(l.description.starts_with("2 mappings of case C-1"), "{}", l.description);
        assert_eq!((l.gradient.min_value, l.gradient.max_value), (0, 100));
        assert_eq!(l.sorting, 3);
    }

    #[test]
    fn a_mapped_parent_keeps_its_score_and_shows_its_subtechniques() {
        let c = small();
        let ms = vec![case_mapping(&c, "C-1", "T1059", |i| i.confidence_score = Some(70)), case_mapping(&c, "C-1", "T1059.001", |_| {})];
        let l = entity_layer(&c, &EntityRef::new(MappingKind::Case, "C-1"), &ms);
        check_spec(&c, &as_value(&l));
        let parent = entries(&l, "T1059");
        assert_eq!(parent.len(), 1);
        assert_eq!((parent[0].score, parent[0].show_subtechniques, parent[0].color.as_deref()), (Some(70), Some(true), None));
        assert_eq!(meta_of(parent[0], "sub-techniques mapped"), Some("T1059.001"));
    }

    #[test]
    fn revoked_and_deprecated_techniques_are_kept_and_flagged() {
        let c = small();
        let revoked = on_technique(case_mapping(&c, "C-1", "T1059", |_| {}), "T1000", "Old Technique");
        let deprecated = on_technique(case_mapping(&c, "C-1", "T1059", |i| i.artifacts = Some("x".into())), "T1001", "Deprecated Technique");
        let l = entity_layer(&c, &EntityRef::new(MappingKind::Case, "C-1"), &[revoked, deprecated]);
        check_spec(&c, &as_value(&l));
        let r = entries(&l, "T1000")[0];
        assert!(r.comment.starts_with("[revoked in ATT&CK 1.0; replaced by T1059 (Command and Scripting Interpreter)"), "{}", r.comment);
        assert_eq!(meta_of(r, "ATT&CK status"), Some("revoked in ATT&CK 1.0; replaced by T1059 (Command and Scripting Interpreter)"));
        let d = entries(&l, "T1001")[0];
        assert!(d.comment.starts_with("[deprecated in ATT&CK 1.0"), "{}", d.comment);
        // the mapping named execution; T1001 is in persistence only: no tactic, and a note
        assert_eq!(d.tactic, None);
        assert!(d.comment.contains("observed under execution, which no longer lists this technique"), "{}", d.comment);
        assert_eq!(l.metadata.last().unwrap().value, "T1000, T1001");
    }

    #[test]
    fn comments_are_trimmed_whatever_the_artifacts() {
        let c = small();
        let big = format!("{} {}", "A".repeat(70_000), "tail");
        let ms = vec![case_mapping(&c, "C-1", "T1059", |i| {
            i.artifacts = Some(big.chars().take(60_000).collect());
        })];
        let l = entity_layer(&c, &EntityRef::new(MappingKind::Case, "C-1"), &ms);
        let t = &l.techniques[0];
        assert!(t.comment.chars().count() <= COMMENT_CHARS && t.comment.ends_with('…'), "{}", t.comment.len());
        check_spec(&c, &as_value(&l));
    }

    #[test]
    fn a_heatmap_counts_distinct_entities() {
        let c = small();
        let mut ms = Vec::new();
        // three alerts on T1059.001, one of them twice (two mappings, one entity); a case on T1059
        for (alert, n) in [("A-1", 2), ("A-2", 1), ("A-3", 1)] {
            for k in 0..n {
                ms.push(mapping(&c, MappingKind::Alert, &[("alert_id", alert)], "T1059.001", |i| i.confidence_score = Some(10 + k)));
            }
        }
        ms.push(case_mapping(&c, "C-1", "T1059", |_| {}));
        let l = heatmap_layer(&c, &ms, "acme, March 2026");
        check_spec(&c, &as_value(&l));
        let sub = entries(&l, "T1059.001")[0];
        assert_eq!(sub.score, Some(3));
        assert_eq!(meta_of(sub, "entities"), Some("3"));
        assert_eq!(meta_of(sub, "mappings"), Some("4"));
        assert!(sub.comment.starts_with("3 entities (4 mappings): alert A-1, alert A-2, alert A-3"), "{}", sub.comment);
        let parent = entries(&l, "T1059")[0];
        assert_eq!((parent.score, parent.show_subtechniques), (Some(1), Some(true)));
        assert_eq!((l.gradient.min_value, l.gradient.max_value), (0, 3));
        assert_eq!(l.name, "acme, March 2026");
        assert!(l.description.starts_with("5 mappings of 4 entities"), "{}", l.description);
        // one entity at most: the range still has a step per colour
        let one = heatmap_layer(&c, &ms[..1], "one");
        assert_eq!((one.gradient.min_value, one.gradient.max_value), (0, 2));
        check_spec(&c, &as_value(&one));
        // nothing at all is still a valid layer
        check_spec(&c, &as_value(&heatmap_layer(&c, &[], "empty")));
    }

    #[test]
    fn layers_of_the_real_release_meet_the_specification() {
        let c = enterprise();
        let ms = sample_case(c, "CASE-2026-0042");
        let l = entity_layer(c, &EntityRef::new(MappingKind::Case, "CASE-2026-0042"), &ms);
        let v = as_value(&l);
        check_spec(c, &v);
        assert_eq!(v["versions"]["attack"], "18.1");
        assert_eq!(l.techniques.iter().filter(|t| t.score.is_some()).count(), 15);
        // a technique in four tactics, observed in one: one entry, that tactic
        let accounts = entries(&l, "T1078.002");
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].tactic.as_deref(), Some("privilege-escalation"));
        assert!(entries(&l, "T1086")[0].comment.starts_with("[revoked in ATT&CK 18.1; replaced by T1059.001 (PowerShell)]"));
        for parent in ["T1566", "T1204", "T1059", "T1053", "T1547", "T1003", "T1087", "T1021", "T1078", "T1071", "T1562"] {
            assert!(entries(&l, parent).iter().all(|t| t.show_subtechniques == Some(true)), "{parent}");
        }
        check_spec(c, &as_value(&heatmap_layer(c, &ms, "acme: March 2026")));
    }

    /// Layers of the real release read back unchanged by MITRE's mitreattack-python
    /// (tests/views/layer_roundtrip.py, run with the interpreter `infra/tools.sh peer` installs).
    #[test]
    fn layers_load_in_mitreattack_python() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let python = root.join(".tools/peer/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run `infra/tools.sh peer` to install mitreattack-python, which this test loads the layers with",
            python.display()
        );
        let c = enterprise();
        let case = EntityRef::new(MappingKind::Case, "CASE-2026-0042");
        let ms = sample_case(c, &case.id);
        let mut heat = ms.clone();
        for (i, alert) in ["A-1", "A-2", "A-3"].iter().enumerate() {
            heat.push(mapping(c, MappingKind::Alert, &[("alert_id", alert)], "T1059.001", |x| x.confidence_score = Some(30 + i as i64)));
        }
        let small_catalog = small();
        let small_ms = vec![
            on_technique(case_mapping(&small_catalog, "C-1", "T1059", |_| {}), "T1001", "Deprecated Technique"),
            case_mapping(&small_catalog, "C-1", "T1059.001", |i| i.artifacts = Some(HOSTILE.into())),
        ];
        let layers = [
            ("entity", entity_layer(c, &case, &ms)),
            ("heatmap", heatmap_layer(c, &heat, "acme: March 2026")),
            ("heatmap-one", heatmap_layer(c, &heat[..1], "one entity")),
            ("small", entity_layer(&small_catalog, &EntityRef::new(MappingKind::Case, "C-1"), &small_ms)),
        ];
        let dir = std::env::temp_dir().join(format!("mitre-views-layers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bundle = crate::testing::attack_data_dir().join("enterprise-attack-18.1.json.gz");
        let mut args = vec![root.join("tests/views/layer_roundtrip.py").display().to_string(), "--bundle".into(), bundle.display().to_string()];
        for (name, l) in &layers {
            let path = dir.join(format!("{name}.json"));
            std::fs::write(&path, serde_json::to_vec_pretty(l).unwrap()).unwrap();
            // the layers of the real release are exported to Excel as well
            if ["entity", "heatmap"].contains(name) {
                args.push("--excel".into());
            }
            args.push(path.display().to_string());
        }
        let out = std::process::Command::new(&python).args(&args).output().expect("run the round-trip script");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "mitreattack-python did not read the layers back:\n{text}");
        assert_eq!(text.lines().filter(|l| l.starts_with("ok ")).count(), layers.len(), "{text}");
        assert_eq!(text.matches("(and its Excel export)").count(), 2, "{text}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
