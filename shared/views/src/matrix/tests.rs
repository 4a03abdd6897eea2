use std::collections::{BTreeMap, BTreeSet};

use mitre_domain::MappingKind;

use super::*;
use crate::testing::*;

fn case_scope(id: &str) -> Scope {
    Scope::Entity(EntityRef::new(MappingKind::Case, id))
}

fn column<'a>(m: &'a Matrix, tactic: &str) -> &'a Column {
    m.tactics.iter().find(|c| c.shortname == tactic).unwrap()
}

fn cell<'a>(c: &'a Column, id: &str) -> &'a Cell {
    c.techniques
        .iter()
        .flat_map(|t| std::iter::once(t).chain(t.subtechniques.iter()))
        .find(|t| t.id == id)
        .unwrap_or_else(|| panic!("{id} not in {}", c.shortname))
}

/// The tag names of a document, in order (`/g` for a closing tag).
pub(crate) fn tags(doc: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '!' | '?')).collect();
        out.push(name.to_ascii_lowercase());
    }
    out
}

/// Checks that a document holds only the tags it should, balanced, and one script at most.
pub(crate) fn check_markup(doc: &str, allowed: &[&str], scripts: usize) {
    let tags = tags(doc);
    let mut depth: BTreeMap<&str, i64> = BTreeMap::new();
    for t in &tags {
        let name = t.trim_start_matches('/');
        assert!(allowed.contains(&name), "unexpected tag <{t}>");
        if !["meta", "rect", "!doctype", "?xml"].contains(&name) && !doc.contains(&format!("<{name}/>")) {
            *depth.entry(name).or_default() += if t.starts_with('/') { -1 } else { 1 };
        }
    }
    for (name, d) in depth {
        assert!(d == 0 || name == "rect", "<{name}> opened and closed {d:+} times");
    }
    assert_eq!(tags.iter().filter(|t| *t == "script").count(), scripts, "scripts");
    for needle in ["<img", "]]>", "<!--"] {
        assert!(!doc.to_ascii_lowercase().contains(needle), "{needle} in the document");
    }
    // no event handler, script URL or asset from elsewhere in any tag (user text in attributes
    // is escaped, so a tag ends at the first '>')
    for (i, _) in doc.match_indices('<') {
        let tag = &doc[i + 1..i + doc[i..].find('>').expect("a closed tag")];
        for (name, value) in attributes(tag) {
            let name = name.to_ascii_lowercase();
            assert!(!name.starts_with("on") && name != "src", "attribute {name} in <{tag}>");
            if name == "href" {
                assert!(value.starts_with("https://") || value.starts_with("http://") || value.starts_with('#'), "href {value}");
            }
            if name == "style" || name == "clip-path" {
                assert_eq!(value.matches("url(").count(), value.matches("url(#").count(), "an external asset in {name}={value}");
            }
        }
    }
    if let Some(i) = doc.find("<style>") {
        let css = &doc[i..i + doc[i..].find("</style>").unwrap()];
        for external in ["@import", "url(", "@font-face"] {
            assert!(!css.contains(external), "an external asset: {external}");
        }
    }
}

/// The attributes of a tag's text (`name a="1" b='2' c`), values unquoted.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = tag.trim_start_matches(|c: char| !c.is_whitespace());
    loop {
        rest = rest.trim_start();
        let name: String = rest.chars().take_while(|c| !c.is_whitespace() && *c != '=' && *c != '/').collect();
        if name.is_empty() {
            return out;
        }
        rest = &rest[name.len()..];
        let mut value = String::new();
        if let Some(r) = rest.strip_prefix('=') {
            let quote = r.chars().next().unwrap();
            assert!(quote == '"' || quote == '\'', "unquoted attribute {name} in <{tag}>");
            let end = r[1..].find(quote).expect("a closing quote");
            value = r[1..1 + end].to_string();
            rest = &r[end + 2..];
        }
        out.push((name, value));
    }
}

pub(crate) const SVG_TAGS: &[&str] = &["?xml", "svg", "title", "style", "rect", "text", "g", "clippath"];
pub(crate) const HTML_TAGS: &[&str] = &[
    "!doctype", "html", "head", "meta", "title", "style", "body", "header", "h1", "p", "div", "span", "button", "main", "section", "h2", "a", "details",
    "summary", "table", "thead", "tbody", "tr", "th", "td", "b", "script",
];

#[test]
fn columns_are_the_catalogs_tactics_and_hold_every_live_technique() {
    let c = enterprise();
    let m = matrix(c, &case_scope("CASE-1"), &sample_case(c, "CASE-1"), at("2026-03-02T09:00:00Z"));
    assert_eq!(m.tactics.iter().map(|t| t.shortname.as_str()).collect::<Vec<_>>(), c.tactics.iter().map(|t| t.shortname.as_str()).collect::<Vec<_>>());
    assert_eq!(m.tactics.len(), 14);
    assert_eq!(m.tactics[0].shortname, "reconnaissance");
    assert_eq!(m.tactics[13].shortname, "impact");
    // every live technique under each of its tactics once, sub-techniques under their parent
    let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
    for t in c.techniques.iter().filter(|t| !t.revoked && !t.deprecated) {
        for tactic in &t.tactics {
            expected.insert((tactic.clone(), t.attack_id.clone()));
        }
    }
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for col in &m.tactics {
        assert_eq!(col.techniques_total, col.techniques.len());
        for t in &col.techniques {
            assert!(!t.id.contains('.'));
            assert!(seen.insert((col.shortname.clone(), t.id.clone())), "{} twice in {}", t.id, col.shortname);
            for s in &t.subtechniques {
                assert_eq!(s.id.split('.').next(), Some(t.id.as_str()), "{} under {}", s.id, t.id);
                assert!(seen.insert((col.shortname.clone(), s.id.clone())));
            }
        }
    }
    assert_eq!(seen, expected);
    assert_eq!(column(&m, "defense-evasion").techniques_total, 47);
    // no revoked or deprecated cell
    assert!(!seen.iter().any(|(_, id)| id == "T1086"));
}

#[test]
fn mapped_cells_carry_score_impact_and_status_and_lead_their_column() {
    let c = enterprise();
    let ms = sample_case(c, "CASE-1");
    let m = matrix(c, &case_scope("CASE-1"), &ms, at("2026-03-02T09:00:00Z"));
    assert_eq!((m.mappings, m.techniques_mapped, m.tactics_covered), (15, 15, 10));
    let exec = column(&m, "execution");
    let pwsh = cell(exec, "T1059.001").mapped.as_ref().unwrap();
    assert_eq!((pwsh.score, pwsh.impact, pwsh.mitigation.clone()), (92, Some(ImpactLevel::High), vec![MitigationStatus::InProgress]));
    assert_eq!(pwsh.color, m.scale.color(92).hex());
    assert!(pwsh.artifacts.as_deref().unwrap().starts_with("powershell.exe -nop"));
    assert_eq!(pwsh.detection, ["edr"]);
    let parent = cell(exec, "T1059");
    assert!(parent.mapped.is_none() && parent.subtechnique_mapped);
    assert!(parent.subtechniques[0].is_mapped(), "mapped sub-techniques first");
    // mapped cells first, by score; then parents of mapped sub-techniques; then the rest by name
    let ranks: Vec<(u8, u32)> = exec.techniques.iter().map(Cell::rank).collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
    assert_eq!(
        exec.techniques
            .iter()
            .filter(|t| t.mapped.is_none() && !t.subtechnique_mapped)
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[0] > w[1])
            .count(),
        0
    );
    // a technique in four tactics, observed in one
    assert!(cell(column(&m, "privilege-escalation"), "T1078.002").is_mapped());
    for other in ["initial-access", "persistence", "defense-evasion"] {
        assert!(!cell(column(&m, other), "T1078.002").is_mapped(), "{other}");
    }
    // impact column: two mapped techniques, the higher confidence first
    let impact = column(&m, "impact");
    assert_eq!(impact.techniques.iter().take(2).map(|t| t.id.as_str()).collect::<Vec<_>>(), ["T1486", "T1490"]);
    assert_eq!(impact.techniques_mapped, 2);
    // the revoked T1086 stays, outside the matrix
    assert_eq!(m.outside.len(), 1);
    assert_eq!(m.outside[0].id, "T1086");
    assert_eq!(m.outside[0].note, "revoked in ATT&CK 18.1; replaced by T1059.001 (PowerShell)");
    assert_eq!(m.outside[0].tactics, ["execution"]);
    assert_eq!(m.legend.len(), 5);
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["generated_at"], "2026-03-02T09:00:00.000Z");
    assert_eq!(json["entity"]["kind"], "case");
    assert_eq!(json["outside"][0]["state"], "revoked");
    assert_eq!(json["outside"][0]["by"], "T1059.001");
}

#[test]
fn a_moved_technique_shows_under_all_its_tactics_with_a_note() {
    let c = small();
    // T1000 is revoked; use the live T1059 and pretend the mapping named persistence
    let mut moved = case_mapping(&c, "C-1", "T1059", |i| i.confidence_score = Some(77));
    moved.tactic = "persistence".into();
    moved.tactic_id = Some("x-mitre-tactic--00000000-0000-4000-8000-000000000002".into());
    let m = matrix(&c, &case_scope("C-1"), &[moved], at("2026-03-02T09:00:00Z"));
    let k = cell(column(&m, "execution"), "T1059").mapped.as_ref().expect("shown under execution, its only tactic");
    assert_eq!(k.score, 77);
    assert_eq!(k.note.as_deref(), Some("observed under persistence, which no longer lists this technique"));
}

#[test]
fn a_heatmap_scores_by_distinct_entities() {
    let c = small();
    let mut ms = Vec::new();
    for alert in ["A-1", "A-1", "A-2", "A-3", "A-4"] {
        ms.push(mapping(&c, MappingKind::Alert, &[("alert_id", alert)], "T1059.001", |_| {}));
    }
    ms.push(mapping(&c, MappingKind::Incident, &[("incident_id", "I-1")], "T1059", |i| i.impact_level = Some("high".into())));
    let m = matrix(&c, &Scope::Tenant { title: "acme: March 2026".into() }, &ms, at("2026-03-31T23:59:59Z"));
    assert!(m.heatmap && m.entity.is_none());
    let exec = column(&m, "execution");
    let sub = cell(exec, "T1059.001").mapped.as_ref().unwrap();
    assert_eq!((sub.score, sub.entities, sub.mappings, sub.mapping_ids.len()), (4, 4, 5, 5));
    assert_eq!(m.scale.max, 4);
    assert_eq!(sub.color, COUNT_COLORS[2]);
    let parent = cell(exec, "T1059");
    assert_eq!(parent.mapped.as_ref().map(|k| (k.score, k.impact)), Some((1, Some(ImpactLevel::High))));
    assert!(parent.subtechnique_mapped);
    let svg = m.to_svg();
    assert!(svg.contains("4 entities · medium"), "the score line of a heatmap cell");
    check_markup(&svg, SVG_TAGS, 0);
    check_markup(&m.to_html(), HTML_TAGS, 1);
}

#[test]
fn a_busy_heatmap_cell_lists_a_bounded_number_of_mapping_ids() {
    let c = small();
    let ms: Vec<Mapping> = (0..60).map(|n| mapping(&c, MappingKind::Alert, &[("alert_id", &format!("A-{n}"))], "T1059", |_| {})).collect();
    let m = matrix(&c, &Scope::Tenant { title: "busy".into() }, &ms, at("2026-03-31T00:00:00Z"));
    let k = cell(column(&m, "execution"), "T1059").mapped.as_ref().unwrap();
    assert_eq!((k.score, k.mappings, k.mapping_ids.len()), (60, 60, MAPPING_IDS));
    assert!(tooltip(&m, "T1059", "x", Some(k)).contains("60 entities, 60 mappings"));
}

#[test]
fn svg_and_html_escape_every_user_string() {
    let c = small();
    let hostile_id = "C-1\"><script>alert(1)</script>";
    let mut ms = vec![case_mapping(&c, "C-1", "T1059.001", |i| {
        i.artifacts = Some(HOSTILE.into());
        i.detection_detail = Some("<b onmouseover=alert(1)>rule</b>".into());
    })];
    ms[0].case_id = Some(hostile_id.into());
    let deprecated = on_technique(case_mapping(&c, "C-1", "T1059", |i| i.artifacts = Some(HOSTILE.into())), "T1001", "<i>Deprecated</i> & \"gone\"");
    let mut deprecated = deprecated;
    deprecated.case_id = Some(hostile_id.into());
    ms.push(deprecated);
    let m = matrix(&c, &case_scope(hostile_id), &ms, at("2026-03-02T09:00:00Z"));
    assert_eq!(m.mappings, 2);
    let svg = m.to_svg();
    let html = m.to_html();
    check_markup(&svg, SVG_TAGS, 0);
    check_markup(&html, HTML_TAGS, 1);
    for doc in [&svg, &html] {
        assert!(doc.contains("C-1&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"), "the entity id, escaped");
        assert!(!doc.contains("<script>alert") && !doc.contains("<b onmouseover"));
        assert!(doc.contains("&lt;/td&gt;&lt;/tr&gt;&lt;script&gt;alert(&#39;x&#39;)"), "the artifacts, escaped");
    }
    // the tooltip keeps its lines in HTML
    assert!(html.contains("T1059.001 PowerShell&#10;confidence 50"));
}

#[test]
fn svg_and_html_carry_the_markers_a_browser_test_reads() {
    let c = enterprise();
    let m = matrix(c, &case_scope("CASE-1"), &sample_case(c, "CASE-1"), at("2026-03-02T09:00:00Z"));
    let svg = m.to_svg();
    let html = m.to_html();
    check_markup(&svg, SVG_TAGS, 0);
    check_markup(&html, HTML_TAGS, 1);
    for doc in [&svg, &html] {
        let order: Vec<usize> = c.tactics.iter().map(|t| doc.find(&format!(r#"data-tactic="{}""#, t.shortname)).expect("a column per tactic")).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "columns in matrix order");
        for id in ["T1566.001", "T1059.001", "T1486", "T1078.002"] {
            assert!(doc.contains(&format!(r#"data-technique="{id}" data-mapped="true""#)), "{id}");
        }
        assert_eq!(doc.matches(r#"class="cell mapped""#).count() + doc.matches(r#"class="cell sub mapped""#).count(), 14, "the 14 live techniques");
        assert!(doc.contains(r#"data-technique="T1059" data-mapped="false" data-subtechnique-mapped="true""#));
        assert!(doc.contains("CASE-1") && doc.contains("18.1") && doc.contains("2026-03-02 09:00 UTC"));
        assert!(doc.contains("T1086"), "the revoked technique is listed");
    }
    assert!(svg.len() < 400_000 && html.len() < 600_000, "svg {} html {}", svg.len(), html.len());
}

#[test]
fn another_domain_has_its_own_columns_and_leaves_enterprise_mappings_out() {
    let c = ics();
    let ms = vec![case_mapping(c, "CASE-1", "T0831", |i| i.confidence_score = Some(90)), sample_case(enterprise(), "CASE-1").remove(0)];
    let m = matrix(c, &case_scope("CASE-1"), &ms, at("2026-03-02T09:00:00Z"));
    assert_eq!(m.domain, "ics-attack");
    assert_eq!(m.domain_name, "ICS ATT&CK");
    assert_eq!(m.tactics.iter().map(|t| t.shortname.as_str()).collect::<Vec<_>>(), c.tactics.iter().map(|t| t.shortname.as_str()).collect::<Vec<_>>());
    assert_eq!(m.mappings, 1, "the Enterprise mapping is another domain's");
    let mapped: Vec<&str> = m.tactics.iter().flat_map(|c| c.techniques.iter()).filter(|t| t.is_mapped()).map(|t| t.id.as_str()).collect();
    assert_eq!(mapped, ["T0831"]);
    let svg = m.to_svg();
    check_markup(&svg, SVG_TAGS, 0);
    let layer = crate::layer::entity_layer(c, &EntityRef::new(MappingKind::Case, "CASE-1"), &ms);
    assert_eq!((layer.domain.as_str(), layer.techniques.len()), ("ics-attack", 1));
}
