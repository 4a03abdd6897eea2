//! The ATT&CK section of an incident report for a case or an incident (any entity works):
//! a summary, the mappings grouped by tactic in matrix order with ATT&CK links, the
//! recommended mitigations ([`crate::mitigations`]) and the Navigator layer attached as JSON.
//! As JSON (serde), Markdown ([`Report::to_markdown`]: GFM tables, every user string escaped)
//! and HTML ([`Report::to_html`]: self-contained, written with maud's `html!`, user text
//! spliced as [`Text`] and only our own CSS `PreEscaped`).
//!
//! Each row is one mapping, under the tactic it names (a rename is followed through the
//! tactic's STIX id); a mapping of a technique ATT&CK has since revoked or deprecated stays in
//! its row with a note saying so. Mappings naming a tactic the release lacks are under `other`.
use std::collections::BTreeMap;
use std::fmt::Write;

use maud::{DOCTYPE, Markup, PreEscaped, html};
use mitre_attack::catalog::DomainCatalog;
use mitre_domain::{DetectionMethod, ImpactLevel, Mapping, MitigationStatus, Timestamp};
use serde::Serialize;

use crate::layer::{Layer, layer};
use crate::matrix::status_words;
use crate::mitigations::{Recommendations, recommend};
use crate::observed::{TechniqueState, covered, mapping_tactic};
use crate::text::{Text, day_time, excerpt, md_escape, safe_url, window};
use crate::{EntityRef, Scope, domain_label};

/// The longest artifacts excerpt of a row, in characters.
pub const ARTIFACT_CHARS: usize = 200;
/// The mitigations the Markdown and HTML list (the JSON has them all).
pub const MITIGATIONS_SHOWN: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub mappings: usize,
    /// Distinct techniques.
    pub techniques: usize,
    /// Names of the tactics with a mapping, in matrix order.
    pub tactics_covered: Vec<String>,
    pub tactics_total: usize,
    pub highest_impact: Option<ImpactLevel>,
    pub first_observed: Option<Timestamp>,
    pub last_observed: Option<Timestamp>,
    /// Mappings per mitigation status.
    pub mitigation: BTreeMap<MitigationStatus, usize>,
    /// Mappings flagged for review, and techniques ATT&CK has since revoked or deprecated.
    pub needs_review: usize,
    pub no_longer_in_matrix: usize,
}

/// One mapping.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub technique: String,
    pub name: String,
    pub url: Option<String>,
    /// What became of the technique, or of the tactic it was observed in; None when all is current.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub mapping_id: String,
    /// `alert ALRT-7` for an alert mapping that names the case.
    pub source: String,
    pub confidence: u8,
    pub impact: ImpactLevel,
    pub mitigation_status: MitigationStatus,
    pub first_observed: Timestamp,
    pub last_observed: Timestamp,
    pub detection_method: DetectionMethod,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detection_detail: Option<String>,
    /// Trimmed to [`ARTIFACT_CHARS`], on one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs_review: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TacticSection {
    pub id: String,
    pub shortname: String,
    pub name: String,
    pub url: Option<String>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub entity: EntityRef,
    pub domain: String,
    pub domain_name: String,
    pub attack_version: String,
    pub generated_at: Timestamp,
    pub summary: Summary,
    /// Tactics with a mapping, in matrix order.
    pub tactics: Vec<TacticSection>,
    /// Mappings naming a tactic this release lacks.
    pub other: Vec<Row>,
    pub mitigations: Recommendations,
    /// Where to look next: techniques the entity does not have yet, likely part of the same
    /// intrusion ([`Report::with_insights`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<crate::inference::Inferences>,
    /// What the latest ATT&CK release change changed in the entity's techniques.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updates: Option<crate::impact::TenantImpact>,
    /// The entity's Navigator layer, to open in the ATT&CK Navigator.
    pub layer: Layer,
}

/// Leads a report lists at most.
pub const REPORT_LEADS: usize = 10;

/// The report section of `entity`'s mappings (those of the catalog's domain that name it).
pub fn report(catalog: &DomainCatalog, entity: &EntityRef, mappings: &[Mapping], generated_at: Timestamp) -> Report {
    let scope = Scope::Entity(entity.clone());
    let covered = covered(catalog, &scope, mappings);
    let mut sections: BTreeMap<u32, TacticSection> = BTreeMap::new();
    let mut other = Vec::new();
    let mut gone = std::collections::BTreeSet::new();
    for m in &covered {
        let technique = catalog.technique_by_attack_id(m.technique.as_str());
        let state = TechniqueState::of(catalog, technique);
        let tactic = mapping_tactic(catalog, m);
        let mut notes: Vec<String> = state.note(&catalog.version).into_iter().collect();
        if !state.is_live() {
            gone.insert(m.technique.as_str());
        }
        if let (Some(t), Some(x)) = (technique, tactic)
            && !t.tactics.contains(&x.shortname)
        {
            notes.push(format!("{} no longer lists this technique", x.name));
        }
        let row = Row {
            technique: m.technique.as_str().to_string(),
            name: technique.map(|t| t.name.clone()).unwrap_or_else(|| m.technique_name.clone()),
            url: technique.and_then(|t| t.url.clone()),
            note: (!notes.is_empty()).then(|| notes.join("; ")),
            mapping_id: m.id.clone(),
            source: EntityRef::of(m).map(|e| e.to_string()).unwrap_or_default(),
            confidence: m.confidence_score,
            impact: m.impact_level,
            mitigation_status: m.mitigation_status,
            first_observed: m.first_observed,
            last_observed: m.last_observed,
            detection_method: m.detection_method,
            detection_detail: m.detection_detail.as_deref().map(|d| excerpt(d, 120)).filter(|d| !d.is_empty()),
            artifacts: m.artifacts.as_deref().map(|a| excerpt(a, ARTIFACT_CHARS)).filter(|a| !a.is_empty()),
            needs_review: m.needs_review.clone(),
        };
        match tactic {
            Some(t) => sections
                .entry(t.order)
                .or_insert_with(|| TacticSection {
                    id: t.attack_id.clone(),
                    shortname: t.shortname.clone(),
                    name: t.name.clone(),
                    url: t.url.clone(),
                    rows: Vec::new(),
                })
                .rows
                .push(row),
            None => other.push(row),
        }
    }
    let order = |a: &Row, b: &Row| a.technique.cmp(&b.technique).then(a.first_observed.cmp(&b.first_observed)).then(a.mapping_id.cmp(&b.mapping_id));
    let mut tactics: Vec<TacticSection> = sections.into_values().collect();
    for s in &mut tactics {
        s.rows.sort_by(order);
    }
    other.sort_by(order);

    let mut mitigation = BTreeMap::new();
    for m in &covered {
        *mitigation.entry(m.mitigation_status).or_insert(0) += 1;
    }
    let summary = Summary {
        mappings: covered.len(),
        techniques: covered.iter().map(|m| m.technique.as_str()).collect::<std::collections::BTreeSet<_>>().len(),
        tactics_covered: tactics.iter().map(|s| s.name.clone()).collect(),
        tactics_total: catalog.tactics.len(),
        highest_impact: covered.iter().map(|m| m.impact_level).max(),
        first_observed: covered.iter().map(|m| m.first_observed).min(),
        last_observed: covered.iter().map(|m| m.last_observed).max(),
        mitigation,
        needs_review: covered.iter().filter(|m| m.needs_review.is_some()).count(),
        no_longer_in_matrix: gone.len(),
    };
    Report {
        entity: entity.clone(),
        domain: catalog.domain.as_str().into(),
        domain_name: format!("{} ATT&CK", domain_label(catalog.domain)),
        attack_version: catalog.version.clone(),
        generated_at,
        summary,
        tactics,
        other,
        mitigations: recommend(catalog, &scope, mappings),
        next: None,
        updates: None,
        layer: layer(catalog, &scope, mappings),
    }
}

/// `8 not started, 5 in progress, 3 completed`.
fn status_counts(s: &Summary) -> String {
    s.mitigation.iter().map(|(k, n)| format!("{n} {}", status_words(*k))).collect::<Vec<_>>().join(", ")
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

fn detection(r: &Row) -> String {
    match &r.detection_detail {
        Some(d) => format!("{} ({d})", r.detection_method),
        None => r.detection_method.to_string(),
    }
}

/// A fence longer than any run of backticks in `text` (CommonMark: the block then cannot end early).
fn fence_for(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

impl Report {
    fn summary_rows(&self) -> Vec<(&'static str, String)> {
        let s = &self.summary;
        let mut rows = vec![
            ("Techniques", format!("{} ({} mapping{})", s.techniques, s.mappings, if s.mappings == 1 { "" } else { "s" })),
            ("Tactics covered", format!("{} of {}: {}", s.tactics_covered.len(), s.tactics_total, s.tactics_covered.join(", "))),
            ("Highest impact", s.highest_impact.map(|i| i.to_string()).unwrap_or_else(|| "-".into())),
            (
                "Observed",
                match (&s.first_observed, &s.last_observed) {
                    (Some(a), Some(b)) => window(a, b),
                    _ => "-".into(),
                },
            ),
            ("Mitigation status", status_counts(s)),
        ];
        if s.needs_review > 0 {
            rows.push(("Needs review", format!("{} mapping{}", s.needs_review, if s.needs_review == 1 { "" } else { "s" })));
        }
        if s.no_longer_in_matrix > 0 {
            rows.push((
                "No longer in the matrix",
                format!("{} technique{} (revoked or deprecated)", s.no_longer_in_matrix, if s.no_longer_in_matrix == 1 { "" } else { "s" }),
            ));
        }
        rows
    }

    /// The report with its insight sections: where to look next (`next`), and what the latest
    /// release change changed in the entity's techniques (`updates`, restricted to them; left out
    /// when it changed none of them).
    pub fn with_insights(mut self, next: Option<crate::inference::Inferences>, updates: Option<crate::impact::TenantImpact>) -> Report {
        self.next = next;
        let mine: std::collections::BTreeSet<String> =
            self.tactics.iter().flat_map(|t| t.rows.iter()).chain(&self.other).map(|r| r.technique.to_ascii_uppercase()).collect();
        self.updates = updates.map(|u| u.for_techniques(&mine)).filter(|u| !u.items.is_empty());
        self
    }

    /// The section as GitHub-flavoured Markdown.
    pub fn to_markdown(&self) -> String {
        let mut s = String::with_capacity(16 * 1024);
        let md_link = |text: &str, url: Option<&str>| match safe_url(url) {
            Some(u) => format!("[{}]({u})", md_escape(text)),
            None => md_escape(text),
        };
        let _ = writeln!(s, "## MITRE ATT&CK\n");
        let _ = writeln!(
            s,
            "**{}** · {} {} · generated {}\n",
            md_escape(&self.entity.to_string()),
            md_escape(&self.domain_name),
            md_escape(&self.attack_version),
            day_time(&self.generated_at)
        );
        let _ = writeln!(s, "### Summary\n\n| | |\n|---|---|");
        for (k, v) in self.summary_rows() {
            let _ = writeln!(s, "| {k} | {} |", md_escape(&v));
        }

        let _ = writeln!(s, "\n### Techniques by tactic\n");
        if self.summary.mappings == 0 {
            let _ = writeln!(s, "No mapping.\n");
        }
        let table = |s: &mut String, rows: &[Row]| {
            let _ = writeln!(s, "| Technique | Confidence | Impact | Mitigation | Observed | Detection | Artifacts |\n|---|---:|---|---|---|---|---|");
            for r in rows {
                let mut technique = md_link(&format!("{} {}", r.technique, r.name), r.url.as_deref());
                if let Some(n) = &r.note {
                    technique.push_str(&format!(" — *{}*", md_escape(n)));
                }
                if !r.source.is_empty() && !r.source.starts_with(&format!("{} ", self.entity.kind)) {
                    technique.push_str(&format!(" (from {})", md_escape(&r.source)));
                }
                let _ = writeln!(
                    s,
                    "| {technique} | {} | {} | {} | {} | {} | {} |",
                    r.confidence,
                    r.impact,
                    status_words(r.mitigation_status),
                    md_escape(&window(&r.first_observed, &r.last_observed)),
                    md_escape(&detection(r)),
                    r.artifacts.as_deref().map(md_escape).unwrap_or_default()
                );
            }
            s.push('\n');
        };
        for t in &self.tactics {
            let _ = writeln!(s, "#### {} ({})\n", md_link(&t.name, t.url.as_deref()), md_escape(&t.id));
            table(&mut s, &t.rows);
        }
        if !self.other.is_empty() {
            let _ = writeln!(s, "#### Other tactics\n");
            table(&mut s, &self.other);
        }

        let r = &self.mitigations;
        let _ = writeln!(s, "### Recommended mitigations\n");
        let _ = writeln!(s, "Ranked by how much of the {} they cover: {}.\n", self.entity.kind, md_escape(&r.weighting));
        if r.recommendations.is_empty() {
            let _ = writeln!(s, "No ATT&CK mitigation addresses the open techniques.\n");
        } else {
            let _ = writeln!(s, "| # | Mitigation | Score | Share | Techniques covered |\n|---:|---|---:|---:|---|");
            for (i, m) in r.recommendations.iter().take(MITIGATIONS_SHOWN).enumerate() {
                let covered: Vec<String> = m.techniques.iter().map(|t| md_escape(&t.technique)).collect();
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.2} | {} | {} |",
                    i + 1,
                    md_link(&format!("{} {}", m.attack_id, m.name), m.url.as_deref()),
                    m.score,
                    percent(m.share),
                    covered.join(", ")
                );
            }
            if r.recommendations.len() > MITIGATIONS_SHOWN {
                let _ = writeln!(s, "\n{} more in the JSON form of this report.", r.recommendations.len() - MITIGATIONS_SHOWN);
            }
            let _ = writeln!(s, "\nHow they mitigate:\n");
            for m in r.recommendations.iter().take(MITIGATIONS_SHOWN) {
                let _ = writeln!(s, "- **{} {}**", md_escape(&m.attack_id), md_escape(&m.name));
                for t in &m.techniques {
                    let via = t.via_parent.as_deref().map(|p| format!(" (through its parent {})", md_escape(p))).unwrap_or_default();
                    let how = t.how.as_deref().map(|h| excerpt(h, 300)).unwrap_or_else(|| "no description".into());
                    let _ = writeln!(s, "  - {} {}{via}: {}", md_escape(&t.technique), md_escape(&t.name), md_escape(&how));
                }
            }
            s.push('\n');
        }
        let list = |refs: &[crate::mitigations::TechniqueRef]| refs.iter().map(|t| md_escape(&format!("{} {}", t.id, t.name))).collect::<Vec<_>>().join(", ");
        if !r.completed.is_empty() {
            let _ = writeln!(s, "Already mitigated (every mapping completed), not counted: {}.\n", list(&r.completed));
        }
        if !r.without_mitigation.is_empty() {
            let _ = writeln!(s, "No ATT&CK mitigation for: {}.\n", list(&r.without_mitigation));
        }
        if !r.not_in_matrix.is_empty() {
            let _ = writeln!(s, "Not counted, no longer in the matrix: {}.\n", list(&r.not_in_matrix));
        }

        // the insight sections, one heading level down
        if let Some(next) = &self.next {
            let _ = writeln!(s, "#{}", crate::inference::markdown(next, REPORT_LEADS));
        }
        if let Some(updates) = &self.updates {
            let _ = writeln!(s, "#{}", updates.markdown());
        }

        let json = serde_json::to_string_pretty(&self.layer).unwrap_or_default();
        let fence = fence_for(&json);
        let _ = writeln!(s, "### ATT&CK Navigator layer\n");
        let _ = writeln!(s, "Open it in the ATT&CK Navigator (Open Existing Layer, Upload from local).\n");
        let _ = writeln!(
            s,
            "<details><summary>Navigator layer (JSON, layer format {})</summary>\n\n{fence}json\n{json}\n{fence}\n\n</details>",
            self.layer.versions.layer
        );
        s
    }

    /// The section as a standalone HTML page.
    pub fn to_html(&self) -> String {
        let title = format!("MITRE ATT&CK: {}", self.entity);
        let r = &self.mitigations;
        let json = serde_json::to_string_pretty(&self.layer).unwrap_or_default();
        let page = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (Text::new(&title)) }
                    style { (PreEscaped(STYLE)) }
                }
                body data-view="report" {
                    h1 { (Text::new(&title)) }
                    p class="meta" { (Text::new(&self.domain_name)) " " (Text::new(&self.attack_version)) " · generated " (Text::new(&day_time(&self.generated_at))) }
                    h2 { "Summary" }
                    table class="summary" {
                        tbody {
                            @for (k, v) in self.summary_rows() {
                                tr { th { (Text::new(k)) } td { (Text::new(&v)) } }
                            }
                        }
                    }
                    h2 { "Techniques by tactic" }
                    @if self.summary.mappings == 0 {
                        p { "No mapping." }
                    }
                    @for t in &self.tactics {
                        h3 data-tactic=(Text::new(&t.shortname)) { (html_link(&t.name, t.url.as_deref())) " (" (Text::new(&t.id)) ")" }
                        (self.html_rows(&t.rows))
                    }
                    @if !self.other.is_empty() {
                        h3 { "Other tactics" }
                        (self.html_rows(&self.other))
                    }
                    h2 { "Recommended mitigations" }
                    p { "Ranked by how much of the " (self.entity.kind) " they cover: " (Text::new(&r.weighting)) "." }
                    @if r.recommendations.is_empty() {
                        p { "No ATT&CK mitigation addresses the open techniques." }
                    } @else {
                        (html_mitigations(r))
                    }
                    @for (what, refs) in [
                        ("Already mitigated (every mapping completed), not counted: ", &r.completed),
                        ("No ATT&CK mitigation for: ", &r.without_mitigation),
                        ("Not counted, no longer in the matrix: ", &r.not_in_matrix),
                    ] {
                        @if !refs.is_empty() {
                            p {
                                (what)
                                @for (i, t) in refs.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    (Text::new(&format!("{} {}", t.id, t.name)))
                                }
                                "."
                            }
                        }
                    }
                    @if let Some(next) = &self.next {
                        (html_next(next))
                    }
                    @if let Some(updates) = &self.updates {
                        (html_updates(updates))
                    }
                    h2 { "ATT&CK Navigator layer" }
                    p { "Open it in the ATT&CK Navigator (Open Existing Layer, Upload from local)." }
                    details {
                        summary { "Navigator layer (JSON, layer format " (Text::new(&self.layer.versions.layer)) ")" }
                        // the layer's JSON is text: escaped like any other
                        pre { (Text::new(&json)) }
                    }
                }
            }
        };
        let mut s = page.into_string();
        s.push('\n');
        s
    }

    /// A table of mappings, one row each.
    fn html_rows(&self, rows: &[Row]) -> Markup {
        let own = format!("{} ", self.entity.kind);
        html! {
            table class="rows" {
                thead {
                    tr {
                        th { "Technique" } th { "Confidence" } th { "Impact" } th { "Mitigation" } th { "Observed" } th { "Detection" } th { "Artifacts" }
                    }
                }
                tbody {
                    @for r in rows {
                        tr data-technique=(Text::new(&r.technique)) data-mapping=(Text::new(&r.mapping_id)) {
                            td {
                                (html_link(&format!("{} {}", r.technique, r.name), r.url.as_deref()))
                                @if let Some(n) = &r.note {
                                    br;
                                    span class="note" { (Text::new(n)) }
                                }
                                @if !r.source.is_empty() && !r.source.starts_with(&own) {
                                    " (from " (Text::new(&r.source)) ")"
                                }
                            }
                            td class="num" { (r.confidence) }
                            td class={ "impact-" (r.impact) } { (r.impact) }
                            td { (status_words(r.mitigation_status)) }
                            td { (Text::new(&window(&r.first_observed, &r.last_observed))) }
                            td { (Text::new(&detection(r))) }
                            td class="art" { (Text::new(r.artifacts.as_deref().unwrap_or_default())) }
                        }
                    }
                }
            }
        }
    }
}

/// `text`, a link when `url` is a web link.
fn html_link(text: &str, url: Option<&str>) -> Markup {
    html! {
        @if let Some(u) = safe_url(url) {
            a href=(Text::new(u)) { (Text::new(text)) }
        } @else {
            (Text::new(text))
        }
    }
}

/// The first [`MITIGATIONS_SHOWN`] recommended mitigations, as a table, and how many more the JSON has.
fn html_mitigations(r: &Recommendations) -> Markup {
    html! {
        table {
            thead {
                tr { th { "#" } th { "Mitigation" } th { "Score" } th { "Share" } th { "How it mitigates the techniques covered" } }
            }
            tbody {
                @for (i, m) in r.recommendations.iter().take(MITIGATIONS_SHOWN).enumerate() {
                    tr data-mitigation=(Text::new(&m.attack_id)) {
                        td class="num" { (i + 1) }
                        td { (html_link(&format!("{} {}", m.attack_id, m.name), m.url.as_deref())) }
                        td class="num" { (format!("{:.2}", m.score)) }
                        td class="num" { (percent(m.share)) }
                        td {
                            @for (j, t) in m.techniques.iter().enumerate() {
                                @if j > 0 { br; }
                                b { (Text::new(&t.technique)) } " " (Text::new(&t.name))
                                @if let Some(p) = &t.via_parent {
                                    " (through its parent " (Text::new(p)) ")"
                                }
                                ": " (Text::new(&t.how.as_deref().map(|h| excerpt(h, 300)).unwrap_or_else(|| "no description".into())))
                            }
                        }
                    }
                }
            }
        }
        @if r.recommendations.len() > MITIGATIONS_SHOWN {
            p { (r.recommendations.len() - MITIGATIONS_SHOWN) " more in the JSON form of this report." }
        }
    }
}

const STYLE: &str = r#"
body { margin: 0 auto; max-width: 1200px; padding: 12px 16px 24px; font: 13px/1.4 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, "Liberation Sans", sans-serif; color: #1f2328; }
h1 { font-size: 20px; margin: 0 0 2px; } h2 { font-size: 16px; margin: 20px 0 6px; } h3 { font-size: 14px; margin: 14px 0 4px; }
.meta { color: #57606a; margin: 0 0 8px; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th, td { border: 1px solid #d0d7de; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.num { text-align: right; }
table.rows { table-layout: fixed; }
table.rows th:nth-child(1) { width: 23%; } table.rows th:nth-child(2) { width: 7%; } table.rows th:nth-child(3) { width: 6%; }
table.rows th:nth-child(4) { width: 8%; } table.rows th:nth-child(5) { width: 15%; } table.rows th:nth-child(6) { width: 9%; }
td.art { font-family: ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 11.5px; word-break: break-all; }
.note { color: #9a3412; font-style: italic; }
.impact-high { color: #b42318; font-weight: 700; }
pre { background: #f6f8fa; padding: 8px; overflow: auto; font-size: 11px; }
a { color: #0b5cad; }
"#;

#[cfg(test)]
mod tests;

/// "Where to look next" as HTML: one row per lead, with its evidence in words.
fn html_next(next: &crate::inference::Inferences) -> maud::Markup {
    html! {
        h2 { "Where to look next" }
        @if next.suggestions.is_empty() {
            p { "Nothing to suggest from the observed techniques." }
        } @else {
            p { "Techniques not mapped yet, ranked by how much the ATT&CK groups, campaigns and software (and the tenant's own entities) that share the observed techniques use them. A lead to hunt for, not a finding." }
            table class="leads" {
                thead { tr { th { "Technique" } th { "Tactics" } th { "Score" } th { "Evidence" } } }
                tbody {
                    @for x in next.suggestions.iter().take(REPORT_LEADS) {
                        tr {
                            td { (Text::new(&x.technique)) " " (Text::new(&x.name)) }
                            td { (Text::new(&x.tactics.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", "))) }
                            td { (format!("{:.2}", x.score)) }
                            td {
                                "seen with " (Text::new(&x.evidence.from.join(", ")))
                                @if !x.evidence.via.is_empty() {
                                    "; used by "
                                    (Text::new(&x.evidence.via.iter().map(|v| format!("{} ({} {})", v.set.name, v.set.kind.label(), v.set.attack_id)).collect::<Vec<_>>().join(", ")))
                                }
                                @if x.evidence.tenant_entities > 0 {
                                    "; in " (x.evidence.tenant_entities) " of the tenant's own entities"
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The latest release change's effect on the entity's techniques, as HTML.
fn html_updates(u: &crate::impact::TenantImpact) -> maud::Markup {
    html! {
        h2 { "ATT&CK " (Text::new(&u.from)) " → " (Text::new(&u.to)) ": changes to these techniques" }
        table class="updates" {
            thead { tr { th { "Technique" } th { "Change" } th { "What changed" } th { "Tenant mappings" } } }
            tbody {
                @for i in &u.items {
                    tr {
                        td { (Text::new(&i.technique)) " " (Text::new(&i.change.name)) }
                        td { (Text::new(&i.reasons.iter().map(|r| r.label()).collect::<Vec<_>>().join(", "))) }
                        td { (Text::new(&i.summary)) }
                        td { (i.usage.mappings) }
                    }
                }
            }
        }
    }
}
