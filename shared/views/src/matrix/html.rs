//! The matrix as one self-contained HTML page: inline CSS and a few lines of inline script (no
//! external asset), columns that share the window's width (at least 96 px each), every live
//! technique with its sub-techniques in a `<details>` (open where one is mapped), hover details
//! in `title`, buttons to expand or collapse every technique and to show the mapped ones only.
//!
//! Stable markers for scripts and tests: each column is `section.column[data-tactic][data-order]`
//! in matrix order; each cell `.cell[data-technique][data-mapped]`, mapped ones `.cell.mapped`
//! with `data-score`, parents of mapped sub-techniques `.cell.sub-mapped`.
//!
//! Written with maud's `html!`: every `(splice)` is escaped by maud. Text from the catalog or
//! the mappings is spliced as [`Text`] (or [`Text::lines`] for tooltips), which adds what maud
//! leaves as it is; only our own CSS and script are `PreEscaped`.
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{Cell, Column, Matrix, score_line, status_line, status_words, tooltip};
use crate::layer::PARENT_COLOR;
use crate::text::{Text, safe_url};

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
        let kind = if self.heatmap { "ATT&CK heatmap" } else { "ATT&CK matrix" };
        let page = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (Text::new(&format!("{kind}: {}", self.title))) }
                    style { (PreEscaped(STYLE.replace("PARENT", PARENT_COLOR))) }
                }
                body data-view="matrix" data-heatmap=(self.heatmap) {
                    header {
                        h1 { (Text::new(&format!("{kind} · {}", self.title))) }
                        p class="meta" { (Text::new(&self.summary_line())) }
                        div class="bar" { (self.html_legend()) }
                    }
                    main class="matrix" style={ "--cols: " (self.tactics.len().max(1)) } {
                        @for (i, column) in self.tactics.iter().enumerate() {
                            (self.html_column(i, column))
                        }
                    }
                    @if !self.outside.is_empty() {
                        (self.html_outside())
                    }
                    script { (PreEscaped(SCRIPT)) }
                }
            }
        };
        let mut s = page.into_string();
        s.push('\n');
        s
    }

    /// The header's bar: the score gradient, the legend's swatches, how to read a cell and the buttons.
    fn html_legend(&self) -> Markup {
        let how = if self.heatmap {
            "cell: distinct entities · highest impact / least advanced mitigation"
        } else {
            "cell: confidence · impact / mitigation status"
        };
        html! {
            span {
                (Text::new(&self.scale.measure)) " " (self.scale.min.max(1))
                span class="grad" style={ "background: linear-gradient(to right, " (Text::new(&self.scale.colors.join(", "))) ")" } {}
                (self.scale.max)
            }
            @for e in self.legend.iter().skip(if self.heatmap { 0 } else { 3 }) {
                span {
                    span class=(if e.color == PARENT_COLOR { "sw parent" } else { "sw" }) style={ "background: " (Text::new(&e.color)) } {}
                    (Text::new(&e.label))
                }
            }
            span { (how) }
            span {
                button type="button" data-act="mapped" aria-pressed="false" { "Mapped only" }
                " "
                button type="button" data-act="expand" { "Expand all" }
                " "
                button type="button" data-act="collapse" { "Collapse all" }
            }
        }
    }

    /// One tactic: its heading (a link to ATT&CK when the catalog has a web link) and its techniques.
    fn html_column(&self, i: usize, c: &Column) -> Markup {
        html! {
            section class="column" data-tactic=(Text::new(&c.shortname)) data-order=(i + 1) {
                h2 {
                    @if let Some(url) = safe_url(c.url.as_deref()) {
                        a href=(Text::new(url)) title=(Text::new(&c.id)) { (Text::new(&c.name)) }
                    } @else {
                        (Text::new(&c.name))
                    }
                    span class="count" { (c.techniques_mapped) " / " (c.techniques_total) " mapped" }
                }
                @for cell in &c.techniques {
                    (self.html_technique(cell))
                }
            }
        }
    }

    /// One technique: a `.cell`, or a `<details>` whose summary is the cell and whose body holds the sub-techniques.
    fn html_technique(&self, cell: &Cell) -> Markup {
        if cell.subtechniques.is_empty() {
            return self.html_cell(cell, false);
        }
        let class = match (cell.subtechnique_mapped, cell.is_mapped()) {
            (true, true) => "has-mapped mapped",
            (true, false) => "has-mapped",
            (false, true) => "mapped",
            (false, false) => "",
        };
        html! {
            details class=(class) open[cell.subtechnique_mapped] {
                (self.html_cell(cell, true))
                div class="subs" {
                    @for sub in &cell.subtechniques {
                        (self.html_cell(sub, false))
                    }
                }
            }
        }
    }

    /// A technique's cell: a `<summary>` (with the number of sub-techniques) when it heads a `<details>`, else a `<div>`.
    fn html_cell(&self, cell: &Cell, summary: bool) -> Markup {
        let (class, score, style) = match &cell.mapped {
            Some(k) => ("cell mapped", Some(k.score), Some(format!("background: {}; color: {}", k.color, k.text_color))),
            None if cell.subtechnique_mapped => ("cell sub-mapped", None, None),
            None => ("cell", None, None),
        };
        let sub_mapped = (cell.mapped.is_none() && cell.subtechnique_mapped).then_some("true");
        let tip = tooltip(self, &cell.id, &cell.name, cell.mapped.as_ref());
        let content = html! {
            @if summary {
                span class="n" { (cell.subtechniques.len()) }
            }
            @if let Some(k) = &cell.mapped {
                span class="id" { (Text::new(&cell.id)) } " " (Text::new(&cell.name))
                span class="line" { (Text::new(&score_line(self, k))) }
                span class="line" { (Text::new(&status_line(k))) }
            } @else if cell.subtechnique_mapped {
                span class="id" { (Text::new(&cell.id)) } " " (Text::new(&cell.name))
            } @else {
                (Text::new(&cell.name))
            }
        };
        // the same attributes on either element
        html! {
            @if summary {
                summary class=(class) data-technique=(Text::new(&cell.id)) data-mapped=(cell.is_mapped()) data-subtechnique-mapped=[sub_mapped]
                    data-score=[score] style=[style.as_deref().map(Text::new)] title=(Text::lines(&tip)) { (content) }
            } @else {
                div class=(class) data-technique=(Text::new(&cell.id)) data-mapped=(cell.is_mapped()) data-subtechnique-mapped=[sub_mapped]
                    data-score=[score] style=[style.as_deref().map(Text::new)] title=(Text::lines(&tip)) { (content) }
            }
        }
    }

    /// The mapped techniques the release has no cell for (revoked, deprecated, unknown), as a table.
    fn html_outside(&self) -> Markup {
        html! {
            section class="outside" {
                h2 { "Mapped techniques outside the " (Text::new(&self.domain_name)) " " (Text::new(&self.attack_version)) " matrix" }
                table {
                    thead {
                        tr {
                            th { "Technique" }
                            th { "ATT&CK status" }
                            th { "Observed under" }
                            th { (if self.heatmap { "Entities" } else { "Confidence" }) }
                            th { "Mitigation" }
                            th { "Mappings" }
                        }
                    }
                    tbody {
                        @for o in &self.outside {
                            tr class="outside-technique" data-technique=(Text::new(&o.id)) data-mapped="true"
                                title=(Text::lines(&tooltip(self, &o.id, &o.name, Some(&o.mapped)))) {
                                td {
                                    span class="sw" style={ "background: " (Text::new(&o.mapped.color)) } {}
                                    b { (Text::new(&o.id)) } " " (Text::new(&o.name))
                                }
                                td { (Text::new(&o.note)) }
                                td { (Text::new(&o.tactics.join(", "))) }
                                td { (o.mapped.score) }
                                td { (Text::new(&o.mapped.mitigation.iter().map(|m| status_words(*m)).collect::<Vec<_>>().join(", "))) }
                                td { (o.mapped.mappings) }
                            }
                        }
                    }
                }
            }
        }
    }
}
