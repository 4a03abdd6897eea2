//! Sample documents of a case on the real release, written to `target/views-samples/` to be
//! looked at, and the headless-browser test of the matrix (`infra/browser.sh`).
use std::path::{Path, PathBuf};
use std::process::Command;

use mitre_domain::MappingKind;
use serde_json::Value;

use crate::testing::*;
use crate::{EntityRef, Scope, entity_layer, heatmap_layer, matrix, recommend, report};

const CASE: &str = "CASE-2026-0042";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn samples_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target")).join("views-samples");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn generated() -> mitre_domain::Timestamp {
    at("2026-03-02T09:00:00Z")
}

/// A heatmap's mappings: the sample case and a few dozen alerts of other cases.
fn tenant_month() -> Vec<mitre_domain::Mapping> {
    let c = enterprise();
    let mut ms = sample_case(c, CASE);
    let common = ["T1059.001", "T1566.001", "T1486", "T1003.001", "T1071.001", "T1021.002", "T1547.001", "T1027"];
    for n in 0..40 {
        let t = common[(n * n + n / 3) % common.len()];
        let alert = format!("ALRT-{}", 100 + n % 23);
        ms.push(mapping(c, MappingKind::Alert, &[("alert_id", &alert)], t, |i| {
            i.confidence_score = Some(40 + (n as i64 * 7) % 60);
            i.tactic = (t == "T1547.001").then(|| "persistence".into());
        }));
    }
    ms
}

/// Writes the sample case's documents to target/views-samples/.
#[test]
fn samples_are_written() {
    let c = enterprise();
    let dir = samples_dir();
    let case = EntityRef::new(MappingKind::Case, CASE);
    let ms = sample_case(c, CASE);
    let m = matrix(c, &Scope::Entity(case.clone()), &ms, generated());
    let heat = matrix(c, &Scope::Tenant { title: "acme: March 2026".into() }, &tenant_month(), generated());
    let r = report(c, &case, &ms, generated());
    let files: Vec<(&str, String)> = vec![
        ("case-matrix.svg", m.to_svg()),
        ("case-matrix.html", m.to_html()),
        ("case-matrix.json", serde_json::to_string_pretty(&m).unwrap()),
        ("case-layer.json", serde_json::to_string_pretty(&entity_layer(c, &case, &ms)).unwrap()),
        ("case-mitigations.json", serde_json::to_string_pretty(&recommend(c, &Scope::Entity(case.clone()), &ms)).unwrap()),
        ("case-report.md", r.to_markdown()),
        ("case-report.html", r.to_html()),
        ("case-report.json", serde_json::to_string_pretty(&r).unwrap()),
        ("heatmap-matrix.svg", heat.to_svg()),
        ("heatmap-matrix.html", heat.to_html()),
        ("heatmap-layer.json", serde_json::to_string_pretty(&heatmap_layer(c, &tenant_month(), "acme: March 2026")).unwrap()),
    ];
    for (name, text) in &files {
        assert!(!text.is_empty());
        std::fs::write(dir.join(name), text).unwrap();
    }
    for name in ["case-layer.json", "case-matrix.json", "case-report.json"] {
        let v: Value = serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap();
        assert!(v.is_object());
    }
}

fn chromium() -> PathBuf {
    let bin = std::env::var_os("CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(bin.exists(), "{} is missing: run `infra/browser.sh install` (Debian's chromium) to render the matrix in a headless browser", bin.display());
    bin
}

fn browser(args: &[&str]) -> String {
    chromium();
    let out = Command::new("bash").arg(root().join("infra/browser.sh")).args(args).output().expect("run infra/browser.sh");
    assert!(out.status.success(), "infra/browser.sh {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A probe appended to a page: once loaded, it writes what the browser rendered (column
/// positions, the computed colours of mapped and unmapped cells) into `#verdict` as JSON.
const PROBE: &str = r#"
(function () {
  function rgb(el, prop) { return getComputedStyle(el)[prop]; }
  function run() {
    var svg = document.querySelector('svg[data-view=matrix]');
    var cols = Array.prototype.map.call(document.querySelectorAll('.column'), function (c) {
      var r = c.getBoundingClientRect();
      return { tactic: c.getAttribute('data-tactic'), x: r.left, w: r.width };
    });
    var paint = function (cell) { return svg ? rgb(cell.querySelector('rect'), 'fill') : rgb(cell, 'backgroundColor'); };
    var mapped = Array.prototype.map.call(document.querySelectorAll('.cell[data-mapped=true]'), function (c) {
      var r = c.getBoundingClientRect();
      return { id: c.getAttribute('data-technique'), paint: paint(c), visible: r.width > 0 && r.height > 0, tactic: c.closest('.column').getAttribute('data-tactic') };
    });
    var plain = document.querySelector('.cell[data-mapped=false]:not(.sub-mapped)');
    var out = { cols: cols, mapped: mapped, unmapped: paint(plain) };
    var pre = document.createElementNS(svg ? 'http://www.w3.org/2000/svg' : 'http://www.w3.org/1999/xhtml', svg ? 'desc' : 'pre');
    pre.setAttribute('id', 'verdict');
    pre.textContent = JSON.stringify(out);
    (svg || document.body).appendChild(pre);
  }
  if (document.readyState === 'complete') run(); else window.addEventListener('load', run);
})();
"#;

fn verdict(dom: &str, tag: &str) -> Value {
    let start = dom.find(r#"id="verdict">"#).unwrap_or_else(|| panic!("no verdict in the DOM:\n{}", &dom[..dom.len().min(2000)])) + r#"id="verdict">"#.len();
    let end = start + dom[start..].find(&format!("</{tag}>")).unwrap();
    let text = dom[start..end].replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The matrix in a real headless browser: HTML and SVG render, every mapped cell of the case is
/// drawn, visible and painted unlike an unmapped one, the columns run left to right in matrix
/// order; screenshots are kept in target/views-samples/.
#[test]
fn the_matrix_renders_in_a_headless_browser() {
    chromium();
    let c = enterprise();
    let dir = samples_dir();
    let case = EntityRef::new(MappingKind::Case, CASE);
    let m = matrix(c, &Scope::Entity(case), &sample_case(c, CASE), generated());
    let expected: Vec<&str> = c.tactics.iter().map(|t| t.shortname.as_str()).collect();
    let html = m.to_html();
    let svg = m.to_svg();
    // its own copies: the samples test writes case-matrix.* at the same time
    let (page, picture) = (dir.join("browser-case-matrix.html"), dir.join("browser-case-matrix.svg"));
    std::fs::write(&page, &html).unwrap();
    std::fs::write(&picture, &svg).unwrap();
    let probe_html = dir.join("probe-matrix.html");
    std::fs::write(&probe_html, html.replace("</body>", &format!("<script>{PROBE}</script></body>"))).unwrap();
    let probe_svg = dir.join("probe-matrix.svg");
    std::fs::write(&probe_svg, svg.replace("</svg>", &format!("<script><![CDATA[{PROBE}]]></script></svg>"))).unwrap();

    for (file, tag) in [(&probe_html, "pre"), (&probe_svg, "desc")] {
        let v = verdict(&browser(&["dom", &file.display().to_string()]), tag);
        let cols = v["cols"].as_array().unwrap();
        assert_eq!(cols.iter().map(|c| c["tactic"].as_str().unwrap()).collect::<Vec<_>>(), expected, "{}: columns in matrix order", file.display());
        let xs: Vec<f64> = cols.iter().map(|c| c["x"].as_f64().unwrap()).collect();
        assert!(xs.windows(2).all(|w| w[0] < w[1]), "{}: columns left to right: {xs:?}", file.display());
        assert!(cols.iter().all(|c| c["w"].as_f64().unwrap() >= 90.0), "{}: columns at least 90 px wide", file.display());
        let unmapped = v["unmapped"].as_str().unwrap();
        let mapped = v["mapped"].as_array().unwrap();
        let ids: std::collections::BTreeSet<&str> = mapped.iter().map(|c| c["id"].as_str().unwrap()).collect();
        for id in [
            "T1566.001",
            "T1204.002",
            "T1059.001",
            "T1059.003",
            "T1053.005",
            "T1547.001",
            "T1003.001",
            "T1087.002",
            "T1021.002",
            "T1078.002",
            "T1486",
            "T1490",
            "T1071.001",
            "T1562.001",
        ] {
            assert!(ids.contains(id), "{}: {id} is not drawn as mapped", file.display());
        }
        for cell in mapped {
            assert!(cell["visible"].as_bool().unwrap(), "{}: {cell} is hidden", file.display());
            let paint = cell["paint"].as_str().unwrap();
            assert!(
                paint != unmapped && paint != "rgba(0, 0, 0, 0)" && paint != "none",
                "{}: {cell} is painted like an unmapped cell ({unmapped})",
                file.display()
            );
        }
    }
    let html_png = browser(&["screenshot", &page.display().to_string(), &dir.join("case-matrix-html.png").display().to_string()]);
    let svg_png = browser(&["screenshot", &picture.display().to_string(), &dir.join("case-matrix-svg.png").display().to_string()]);
    for png in [html_png.trim(), svg_png.trim()] {
        let bytes = std::fs::read(png).unwrap();
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000, "{png}: {} bytes", bytes.len());
    }
    for f in [probe_html, probe_svg, page, picture] {
        std::fs::remove_file(f).ok();
    }
}
