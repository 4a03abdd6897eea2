//! The matrix as one self-contained HTML page: inline CSS and a few lines of inline script (no
//! external asset), columns that share the window's width (at least 96 px each), every live
//! technique with its sub-techniques in a `<details>` (open where one is mapped), hover details
//! in `title`, buttons to expand or collapse every technique and to show the mapped ones only.
//!
//! Stable markers for scripts and tests: each column is `section.column[data-tactic][data-order]`
//! in matrix order; each cell `.cell[data-technique][data-mapped]`, mapped ones `.cell.mapped`
//! with `data-score`, parents of mapped sub-techniques `.cell.sub-mapped`.
use std::fmt::Write;

use super::{Cell, Matrix, score_line, status_line, status_words, tooltip};
use crate::layer::PARENT_COLOR;
use crate::text::{escape, escape_attr, safe_url};

const STYLE: &str = r#"
* { box-sizing: border-box; }
body { margin: 0; font: 12px/1.3 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, "Liberation Sans", sans-serif; color: #1f2328; background: #fff; }
header { padding: 10px 12px 8px; }
h1 { font-size: 17px; margin: 0 0 2px; }
.meta { color: #57606a; margin: 0 0 6px; }
.bar { display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: center; font-size: 11px; }
.sw { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -2px; margin-right: 4px; border: 1px solid #8c959f; }
.sw.parent { border: 1px dashed #b35900; }
.grad { display: inline-block; width: 110px; height: 12px; border-radius: 2px; vertical-align: -2px; margin: 0 4px; border: 1px solid #8c959f; }
button { font: inherit; font-size: 11px; padding: 1px 8px; border: 1px solid #8c959f; border-radius: 3px; background: #f6f8fa; cursor: pointer; }
button[aria-pressed="true"] { background: #2f3e4e; color: #fff; }
.matrix { display: grid; grid-template-columns: repeat(var(--cols), minmax(96px, 1fr)); gap: 4px; padding: 0 12px 12px; align-items: start; }
.column h2 { position: sticky; top: 0; z-index: 1; margin: 0 0 3px; padding: 4px 5px; min-height: 36px; border-radius: 3px; background: #2f3e4e; color: #fff; font-size: 11px; line-height: 1.2; }
.column h2 a { color: inherit; text-decoration: none; }
.column h2 .count { display: block; font-weight: 400; color: #d0d7de; font-size: 9.5px; margin-top: 1px; }
.cell { display: block; margin: 0 0 2px; padding: 1px 4px; border-radius: 2px; background: #ececec; color: #4d545c; font-size: 10.5px; line-height: 1.3; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.cell.mapped { white-space: normal; padding: 3px 4px; font-weight: 700; font-size: 11px; box-shadow: inset 0 0 0 1.5px rgba(92, 10, 10, .55); }
.cell.mapped .line { display: block; font-weight: 400; font-size: 10px; }
.cell.sub-mapped { white-space: normal; background: PARENT; color: #7a3a00; font-weight: 700; outline: 1px dashed #b35900; outline-offset: -1px; }
.cell .id { font-weight: 700; }
details { margin: 0; }
details > summary { list-style: none; cursor: pointer; }
details > summary::-webkit-details-marker { display: none; }
summary .n { float: right; margin-left: 3px; font-weight: 400; color: #8c959f; font-size: 9.5px; }
summary .n::before { content: "+"; }
details[open] > summary .n::before { content: "\2212"; }
.subs { margin: 0 0 3px 6px; padding-left: 2px; border-left: 2px solid #d0d7de; }
details.has-mapped > .subs { border-left-color: #b35900; }
body.only-mapped .matrix .cell:not(.mapped):not(.sub-mapped), body.only-mapped details:not(.has-mapped):not(.mapped) { display: none; }
.outside { padding: 0 12px 16px; }
.outside h2 { font-size: 13px; margin: 6px 0; }
table { border-collapse: collapse; font-size: 11px; }
th, td { border: 1px solid #d0d7de; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
"#;

const SCRIPT: &str = r#"
document.addEventListener('click', function (e) {
  var b = e.target.closest('button[data-act]');
  if (!b) return;
  var act = b.getAttribute('data-act');
  if (act === 'mapped') {
    var on = document.body.classList.toggle('only-mapped');
    b.setAttribute('aria-pressed', on ? 'true' : 'false');
  } else {
    document.querySelectorAll('.matrix details').forEach(function (d) { d.open = act === 'expand'; });
  }
});
"#;

impl Matrix {
    /// The matrix as a standalone HTML page.
    pub fn to_html(&self) -> String {
        let mut s = String::with_capacity(256 * 1024);
        let kind = if self.heatmap { "ATT&CK heatmap" } else { "ATT&CK matrix" };
        let _ = write!(
            s,
            r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{}</title>
<style>{}</style>
</head>
<body data-view="matrix" data-heatmap="{}">
<header>
<h1>{}</h1>
<p class="meta">{}</p>
<div class="bar">"#,
            escape(&format!("{kind}: {}", self.title)),
            STYLE.replace("PARENT", PARENT_COLOR),
            self.heatmap,
            escape(&format!("{kind} · {}", self.title)),
            escape(&self.summary_line()),
        );
        let stops: Vec<String> = self.scale.colors.iter().map(|c| escape(c)).collect();
        let _ = write!(
            s,
            r#"<span>{} {}<span class="grad" style="background: linear-gradient(to right, {})"></span>{}</span>"#,
            escape(&self.scale.measure),
            self.scale.min.max(1),
            stops.join(", "),
            self.scale.max
        );
        for e in self.legend.iter().skip(if self.heatmap { 0 } else { 3 }) {
            let class = if e.color == PARENT_COLOR { "sw parent" } else { "sw" };
            let _ = write!(s, r#"<span><span class="{class}" style="background: {}"></span>{}</span>"#, escape(&e.color), escape(&e.label));
        }
        let how = if self.heatmap {
            "cell: distinct entities · highest impact / least advanced mitigation"
        } else {
            "cell: confidence · impact / mitigation status"
        };
        let _ = write!(
            s,
            r#"<span>{how}</span>
<span><button type="button" data-act="mapped" aria-pressed="false">Mapped only</button> <button type="button" data-act="expand">Expand all</button> <button type="button" data-act="collapse">Collapse all</button></span>
</div>
</header>
<main class="matrix" style="--cols: {}">
"#,
            self.tactics.len().max(1)
        );
        for (i, c) in self.tactics.iter().enumerate() {
            let name = match safe_url(c.url.as_deref()) {
                Some(u) => format!(r#"<a href="{}" title="{}">{}</a>"#, escape(u), escape(&c.id), escape(&c.name)),
                None => escape(&c.name),
            };
            let _ = write!(
                s,
                r#"<section class="column" data-tactic="{}" data-order="{}"><h2>{name}<span class="count">{} / {} mapped</span></h2>"#,
                escape(&c.shortname),
                i + 1,
                c.techniques_mapped,
                c.techniques_total
            );
            for cell in &c.techniques {
                self.html_cell(&mut s, cell);
            }
            s.push_str("</section>\n");
        }
        s.push_str("</main>\n");
        if !self.outside.is_empty() {
            let _ = write!(
                s,
                r#"<section class="outside"><h2>Mapped techniques outside the {} {} matrix</h2><table><thead><tr><th>Technique</th><th>ATT&amp;CK status</th><th>Observed under</th><th>{}</th><th>Mitigation</th><th>Mappings</th></tr></thead><tbody>"#,
                escape(&self.domain_name),
                escape(&self.attack_version),
                if self.heatmap { "Entities" } else { "Confidence" }
            );
            for o in &self.outside {
                let _ = write!(
                    s,
                    r#"<tr class="outside-technique" data-technique="{}" data-mapped="true" title="{}"><td><span class="sw" style="background: {}"></span><b>{}</b> {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                    escape(&o.id),
                    escape_attr(&tooltip(self, &o.id, &o.name, Some(&o.mapped))),
                    escape(&o.mapped.color),
                    escape(&o.id),
                    escape(&o.name),
                    escape(&o.note),
                    escape(&o.tactics.join(", ")),
                    o.mapped.score,
                    escape(&o.mapped.mitigation.iter().map(|m| status_words(*m)).collect::<Vec<_>>().join(", ")),
                    o.mapped.mappings
                );
            }
            s.push_str("</tbody></table></section>\n");
        }
        let _ = write!(s, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
        s
    }

    /// One technique: a `.cell`, or a `<details>` whose summary is the cell and whose body holds the sub-techniques.
    fn html_cell(&self, s: &mut String, cell: &Cell) {
        let inner = self.cell_div(cell, if cell.subtechniques.is_empty() { "div" } else { "summary" });
        if cell.subtechniques.is_empty() {
            s.push_str(&inner);
            return;
        }
        let mut class = Vec::new();
        if cell.subtechnique_mapped {
            class.push("has-mapped");
        }
        if cell.is_mapped() {
            class.push("mapped");
        }
        let _ = write!(s, r#"<details class="{}"{}>{inner}<div class="subs">"#, class.join(" "), if cell.subtechnique_mapped { " open" } else { "" });
        for sub in &cell.subtechniques {
            s.push_str(&self.cell_div(sub, "div"));
        }
        s.push_str("</div></details>");
    }

    fn cell_div(&self, cell: &Cell, tag: &str) -> String {
        let tip = escape_attr(&tooltip(self, &cell.id, &cell.name, cell.mapped.as_ref()));
        let count = if tag == "summary" { format!(r#"<span class="n">{}</span>"#, cell.subtechniques.len()) } else { String::new() };
        match &cell.mapped {
            Some(k) => format!(
                r#"<{tag} class="cell mapped" data-technique="{}" data-mapped="true" data-score="{}" style="background: {}; color: {}" title="{tip}">{count}<span class="id">{}</span> {}<span class="line">{}</span><span class="line">{}</span></{tag}>"#,
                escape(&cell.id),
                k.score,
                escape(&k.color),
                escape(&k.text_color),
                escape(&cell.id),
                escape(&cell.name),
                escape(&score_line(self, k)),
                escape(&status_line(k))
            ),
            None if cell.subtechnique_mapped => format!(
                r#"<{tag} class="cell sub-mapped" data-technique="{}" data-mapped="false" data-subtechnique-mapped="true" title="{tip}">{count}<span class="id">{}</span> {}</{tag}>"#,
                escape(&cell.id),
                escape(&cell.id),
                escape(&cell.name)
            ),
            None => {
                format!(r#"<{tag} class="cell" data-technique="{}" data-mapped="false" title="{tip}">{count}{}</{tag}>"#, escape(&cell.id), escape(&cell.name))
            }
        }
    }
}
