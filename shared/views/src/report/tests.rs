use mitre_domain::MappingKind;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::*;
use crate::matrix::tests::{HTML_TAGS, check_markup};
use crate::testing::*;

fn case() -> EntityRef {
    EntityRef::new(MappingKind::Case, "CASE-1")
}

#[test]
fn the_report_groups_mappings_by_tactic_in_matrix_order() {
    let c = enterprise();
    let r = report(c, &case(), &sample_case(c, "CASE-1"), at("2026-03-02T09:00:00Z"));
    let order: Vec<u32> = r.tactics.iter().map(|t| c.tactic(&t.shortname).unwrap().order).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert_eq!(
        r.tactics.iter().map(|t| t.shortname.as_str()).collect::<Vec<_>>(),
        [
            "initial-access",
            "execution",
            "persistence",
            "privilege-escalation",
            "defense-evasion",
            "credential-access",
            "discovery",
            "lateral-movement",
            "command-and-control",
            "impact"
        ]
    );
    let s = &r.summary;
    assert_eq!((s.mappings, s.techniques, s.tactics_covered.len(), s.tactics_total), (15, 15, 10, 14));
    assert_eq!(s.highest_impact, Some(ImpactLevel::High));
    assert_eq!(s.first_observed, Some(at("2026-03-01T07:58:00Z")));
    assert_eq!(s.last_observed, Some(at("2026-03-01T10:30:00Z")));
    assert_eq!(s.mitigation[&MitigationStatus::Completed], 3);
    assert_eq!(s.no_longer_in_matrix, 1);
    let exec = &r.tactics[1];
    assert_eq!(exec.rows.iter().map(|r| r.technique.as_str()).collect::<Vec<_>>(), ["T1059.001", "T1059.003", "T1086", "T1204.002"]);
    let old = &exec.rows[2];
    assert_eq!(old.note.as_deref(), Some("revoked in ATT&CK 18.1; replaced by T1059.001 (PowerShell)"));
    assert_eq!(old.source, "alert ALRT-7");
    assert_eq!(exec.rows[0].url.as_deref(), Some("https://attack.mitre.org/techniques/T1059/001"));
    assert_eq!(r.tactics[0].url.as_deref(), Some("https://attack.mitre.org/tactics/TA0001"));
    assert!(r.mitigations.recommendations.len() >= 10);
    assert_eq!(r.layer.techniques.iter().filter(|t| t.score.is_some()).count(), 15);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["layer"]["versions"]["layer"], "4.5");
    assert_eq!(json["summary"]["mitigation"]["completed"], 3);
}

#[test]
fn markdown_tables_hold_whatever_the_artifacts_say() {
    let c = small();
    let hostile_notes = "| a | b |\n|---|---|\n```\n</details>";
    let ms = vec![
        case_mapping(&c, "C-1", "T1059.001", |i| {
            i.artifacts = Some(HOSTILE.into());
            i.detection_method = Some("manual_analysis".into());
            i.detection_detail = Some("rule `x` | *y*".into());
            i.notes = Some(hostile_notes.into());
        }),
        case_mapping(&c, "C-1", "T1059", |i| i.artifacts = Some(format!("```` fence ```` {hostile_notes}"))),
    ];
    let r = report(&c, &EntityRef::new(MappingKind::Case, "C-1"), &ms, at("2026-03-02T09:00:00Z"));
    let md = r.to_markdown();
    let tables = tables(&md);
    assert!(tables.len() >= 3, "summary, execution, mitigations: {}", tables.len());
    for t in &tables {
        let width = t[0].len();
        assert!(t.iter().all(|row| row.len() == width), "a row with a cell too many or too few: {t:?}");
    }
    let exec = tables.iter().find(|t| t[0][0] == "Technique").unwrap();
    assert_eq!(exec.len(), 3, "header and two rows");
    let row = exec.iter().find(|r| r[0].starts_with("T1059.001")).unwrap();
    assert_eq!(row[5], "manual_analysis (rule `x` | *y*)");
    assert!(
        row[6].starts_with(
            "</td></tr><script>alert('x')</script> \"><img src=x onerror=alert(1)> ]]> & | pipe `tick` *star* _under_ [link](javascript:alert(1)) # heading"
        ),
        "{}",
        row[6]
    );
    // no HTML but our details block, no link but ATT&CK's, no image
    let mut html = Vec::new();
    for e in Parser::new_ext(&md, Options::ENABLE_TABLES) {
        match e {
            Event::Html(h) | Event::InlineHtml(h) => html.push(h.trim().to_string()),
            Event::Start(Tag::Link { dest_url, .. }) => assert!(dest_url.starts_with("https://attack.mitre.org/"), "link to {dest_url}"),
            Event::Start(Tag::Image { .. }) => panic!("an image"),
            _ => {}
        }
    }
    assert_eq!(html.concat(), "<details><summary>Navigator layer (JSON, layer format 4.5)</summary></details>", "{html:?}");
    // the layer stays one code block, whatever its comments hold
    let code: Vec<String> = Parser::new(&md)
        .scan(false, |inside, e| {
            Some(match e {
                Event::Start(Tag::CodeBlock(_)) => {
                    *inside = true;
                    None
                }
                Event::End(TagEnd::CodeBlock) => {
                    *inside = false;
                    None
                }
                Event::Text(t) if *inside => Some(t.to_string()),
                _ => None,
            })
        })
        .flatten()
        .collect();
    let layer: serde_json::Value = serde_json::from_str(&code.concat()).expect("the layer block is the whole layer");
    assert_eq!(layer, serde_json::to_value(&r.layer).unwrap());
}

#[test]
fn the_html_report_is_escaped_and_self_contained() {
    let c = small();
    let mut ms = vec![case_mapping(&c, "C-1", "T1059.001", |i| i.artifacts = Some(HOSTILE.into()))];
    let hostile_id = "C-1<script>x</script>";
    ms[0].case_id = Some(hostile_id.into());
    let r = report(&c, &EntityRef::new(MappingKind::Case, hostile_id), &ms, at("2026-03-02T09:00:00Z"));
    let html = r.to_html();
    let mut allowed = HTML_TAGS.to_vec();
    allowed.extend(["h3", "br", "pre"]);
    check_markup(&html, &allowed, 0);
    assert!(html.contains("case C-1&lt;script&gt;x&lt;/script&gt;"));
    assert!(html.contains("&lt;/td&gt;&lt;/tr&gt;&lt;script&gt;"));
    assert!(html.contains(r#"<tr data-technique="T1059.001""#));
    let md = r.to_markdown();
    assert!(md.contains("**case C-1&lt;script&gt;x&lt;/script&gt;**"), "{}", &md[..300]);
}

#[test]
fn an_entity_without_mappings_still_reports() {
    let c = small();
    let r = report(&c, &case(), &[], at("2026-03-02T09:00:00Z"));
    assert_eq!((r.summary.mappings, r.tactics.len()), (0, 0));
    assert!(r.to_markdown().contains("No mapping."));
    assert!(r.to_html().contains("No mapping."));
}
