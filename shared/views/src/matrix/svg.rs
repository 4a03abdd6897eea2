//! The matrix as one self-contained SVG document: fixed geometry sized for a laptop screen
//! (columns of 98 px, the Enterprise matrix about 1,450 px wide), mapped cells coloured by
//! score with their impact and mitigation status, the mapped sub-techniques under their parent
//! (all sub-techniques are in the HTML), unmapped techniques on one grey line each. Every
//! column is clipped to its width, so no text runs into the next.
//!
//! Written with maud's `html!` like the HTML page (user text as [`Text`]); an empty element is
//! written `<rect ...></rect>`, which XML reads as `<rect .../>`.
use std::fmt;

use maud::{Markup, PreEscaped, html};

use super::{Cell, Column, Marking, Matrix, UNMAPPED_COLOR, score_line, status_line, tooltip};
use crate::layer::PARENT_COLOR;
use crate::text::{Text, truncate, wrap};

const MARGIN: f64 = 12.0;
const COL_W: f64 = 98.0;
const GAP: f64 = 4.0;
const PAD: f64 = 4.0;
const TOP: f64 = 84.0;
const HEAD_H: f64 = 34.0;
const ROW_H: f64 = 13.0;
const LINE_H: f64 = 11.0;
const SUB_INDENT: f64 = 7.0;
const FONT: &str = "-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, 'Liberation Sans', sans-serif";

const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

const STYLE: &str = "
text { fill: #1f2328; }
.h1 { font-size: 16px; font-weight: 700; }
.h2 { font-size: 12px; font-weight: 700; }
.meta { font-size: 11px; fill: #57606a; }
.lg { font-size: 10px; fill: #1f2328; }
.tac { font-size: 10.5px; font-weight: 700; fill: #ffffff; }
.cnt { font-size: 9px; fill: #d0d7de; }
.un { font-size: 9.5px; fill: #4d545c; }
.nm { font-size: 10px; font-weight: 700; }
.sc { font-size: 9px; }
.pn { font-size: 9.5px; font-weight: 700; fill: #7a3a00; }
.out { font-size: 10.5px; }
";

/// Characters of a `size` px font that fit in `width` px (an average glyph of the usual sans
/// fonts is about 0.5 em, bold 0.55, with a margin; the column clip catches the rare longer line).
fn fit(width: f64, size: f64, bold: bool) -> usize {
    (width / (size * if bold { 0.58 } else { 0.54 })).floor() as usize
}

/// A length written with a fixed number of decimals (`12.0`, `1450`).
struct Fixed(f64, usize);

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.*}", self.1, self.0)
    }
}

/// A coordinate, to a tenth of a pixel.
fn px(v: f64) -> Fixed {
    Fixed(v, 1)
}

/// One line of text at (`x`, `y`).
fn text(x: f64, y: f64, class: &str, text: &str) -> Markup {
    html! { text x=(px(x)) y=(px(y)) class=(class) { (Text::new(text)) } }
}

impl Matrix {
    /// The matrix as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let n = self.tactics.len().max(1) as f64;
        let width = (MARGIN * 2.0 + n * COL_W + (n - 1.0) * GAP).max(720.0);
        let mut columns = Vec::with_capacity(self.tactics.len());
        let mut bottom = TOP;
        for (i, column) in self.tactics.iter().enumerate() {
            let (markup, h) = self.svg_column(i, MARGIN + i as f64 * (COL_W + GAP), column);
            columns.push(markup);
            bottom = bottom.max(TOP + h);
        }
        let (outside, height) = self.svg_outside(bottom + 18.0);
        let (width_0, height_0) = (Fixed(width, 0), Fixed(height, 0));
        let doc = html! {
            (PreEscaped(XML_DECLARATION))
            svg xmlns="http://www.w3.org/2000/svg" width=(width_0) height=(height_0) viewBox={ "0 0 " (width_0) " " (height_0) } font-family=(FONT)
                role="img" aria-labelledby="matrix-title" data-view="matrix" data-heatmap=(self.heatmap) {
                title id="matrix-title" { (Text::new(&format!("ATT&CK matrix: {}", self.title))) }
                style { (PreEscaped(STYLE)) }
                rect width="100%" height="100%" fill="#ffffff" {}
                (self.svg_header(width))
                @for column in &columns {
                    (column)
                }
                (outside)
            }
        };
        let mut s = doc.into_string();
        s.push('\n');
        s
    }

    /// The title, the summary line and the legend (swatches, then how to read a mapped cell, when it fits).
    fn svg_header(&self, width: f64) -> Markup {
        let kind = if self.heatmap { "ATT&CK heatmap" } else { "ATT&CK matrix" };
        let how = if self.heatmap {
            "cell: distinct entities · highest impact / least advanced mitigation"
        } else {
            "cell: confidence · impact / mitigation status"
        };
        let y = 62.0;
        let mut x = MARGIN;
        let mut entries = Vec::with_capacity(self.legend.len());
        for e in &self.legend {
            entries.push((x, e));
            x += 16.0 + e.label.chars().count() as f64 * 5.6 + 14.0;
        }
        html! {
            (text(MARGIN, 24.0, "h1", &format!("{kind} · {}", self.title)))
            (text(MARGIN, 42.0, "meta", &self.summary_line()))
            g class="legend" {
                @for (x, e) in entries {
                    @if e.color == PARENT_COLOR {
                        rect x=(px(x)) y=(px(y - 10.0)) width="12" height="12" rx="2" fill=(Text::new(&e.color)) stroke="#b35900" stroke-dasharray="3 2" {}
                    } @else {
                        rect x=(px(x)) y=(px(y - 10.0)) width="12" height="12" rx="2" fill=(Text::new(&e.color)) stroke="#8c959f" stroke-width="0.5" {}
                    }
                    (text(x + 16.0, y, "lg", &e.label))
                }
                @if x + how.len() as f64 * 5.6 < width - MARGIN {
                    (text(x + 6.0, y, "lg", how))
                }
            }
        }
    }

    /// One column at `x`, and its height.
    fn svg_column(&self, i: usize, x: f64, c: &Column) -> (Markup, f64) {
        let mut cells = Vec::with_capacity(c.techniques.len());
        let mut y = TOP + HEAD_H + 3.0;
        for cell in &c.techniques {
            let (markup, next) = self.svg_cell(x, y, COL_W, cell, false);
            cells.push(markup);
            y = next;
            if cell.subtechnique_mapped {
                let start = y;
                for sub in cell.subtechniques.iter().filter(|s| s.is_mapped()) {
                    let (markup, next) = self.svg_cell(x + SUB_INDENT, y, COL_W - SUB_INDENT, sub, true);
                    cells.push(markup);
                    y = next;
                }
                // the mapped sub-techniques' bar
                cells.push(html! { rect x=(px(x + 2.0)) y=(px(start)) width="2" height=(px((y - start - 1.5).max(0.0))) fill="#b35900" {} });
            }
        }
        let name = wrap(&c.name, fit(COL_W - 2.0 * PAD, 10.5, true), 2);
        let markup = html! {
            clipPath id={ "col-" (i) } {
                rect x=(px(x)) y=(TOP) width=(COL_W) height="100000" {}
            }
            g class="column" data-tactic=(Text::new(&c.shortname)) data-order=(i + 1) clip-path={ "url(#col-" (i) ")" } {
                rect x=(px(x)) y=(TOP) width=(COL_W) height=(HEAD_H) rx="3" fill="#2f3e4e" {}
                title { (Text::new(&c.name)) " (" (Text::new(&c.id)) ")" }
                @for (k, line) in name.iter().enumerate() {
                    (text(x + PAD, TOP + 12.0 + k as f64 * 11.0, "tac", line))
                }
                (text(x + PAD, TOP + HEAD_H - 3.0, "cnt", &format!("{} / {} mapped", c.techniques_mapped, c.techniques_total)))
                @for cell in &cells {
                    (cell)
                }
            }
        };
        (markup, y - TOP)
    }

    /// One cell with its top at `y`, and the next cell's top.
    fn svg_cell(&self, x: f64, y: f64, w: f64, cell: &Cell, sub: bool) -> (Markup, f64) {
        let inner = w - 2.0 * PAD;
        let tip = tooltip(self, &cell.id, &cell.name, cell.mapped.as_ref());
        match &cell.mapped {
            Some(k) => {
                let name = wrap(&format!("{} {}", cell.id, cell.name), fit(inner, 10.0, true), 3);
                let h = 5.0 + (name.len() + 2) as f64 * LINE_H;
                (self.svg_mapped_cell(x, y, w, h, cell, k, &tip, &name, sub), y + h + 2.0)
            }
            None if cell.subtechnique_mapped => {
                let name = wrap(&format!("{} {}", cell.id, cell.name), fit(inner, 9.5, true), 2);
                let mapped = cell.subtechniques.iter().filter(|s| s.is_mapped()).count();
                let h = 5.0 + (name.len() + 1) as f64 * LINE_H;
                let markup = html! {
                    g class="cell sub-mapped" data-technique=(Text::new(&cell.id)) data-mapped="false" data-subtechnique-mapped="true" {
                        title { (Text::new(&tip)) }
                        rect x=(px(x)) y=(px(y)) width=(px(w)) height=(px(h)) rx="2" fill=(PARENT_COLOR) stroke="#b35900" stroke-dasharray="3 2" {}
                        @for (k, line) in name.iter().enumerate() {
                            (text(x + PAD, y + 11.0 + k as f64 * LINE_H, "pn", line))
                        }
                        (text(x + PAD, y + 11.0 + name.len() as f64 * LINE_H, "sc", &format!("{mapped}/{} subs mapped", cell.subtechniques.len())))
                    }
                };
                (markup, y + h + 2.0)
            }
            None => {
                let markup = html! {
                    g class="cell" data-technique=(Text::new(&cell.id)) data-mapped="false" {
                        title { (Text::new(&tip)) }
                        rect x=(px(x)) y=(px(y)) width=(px(w)) height=(ROW_H) rx="2" fill=(UNMAPPED_COLOR) {}
                        (text(x + PAD, y + 9.5, "un", &truncate(&cell.name, fit(inner, 9.5, false))))
                    }
                };
                (markup, y + ROW_H + 1.5)
            }
        }
    }

    /// A mapped cell `h` px high: its name on `name`'s lines, then the score line and the status line, in the score's text colour.
    #[allow(clippy::too_many_arguments)]
    fn svg_mapped_cell(&self, x: f64, y: f64, w: f64, h: f64, cell: &Cell, k: &Marking, tip: &str, name: &[String], sub: bool) -> Markup {
        let line = |row: usize, class: &str, line: &str| {
            html! {
                text x=(px(x + PAD)) y=(px(y + 11.0 + row as f64 * LINE_H)) class=(class) style={ "fill:" (Text::new(&k.text_color)) } { (Text::new(line)) }
            }
        };
        html! {
            g class=(if sub { "cell sub mapped" } else { "cell mapped" }) data-technique=(Text::new(&cell.id)) data-mapped="true" data-score=(k.score) {
                title { (Text::new(tip)) }
                rect x=(px(x)) y=(px(y)) width=(px(w)) height=(px(h)) rx="2" fill=(Text::new(&k.color))
                    stroke="#5c0a0a" stroke-opacity="0.55" stroke-width="1.2" {}
                @for (row, text) in name.iter().enumerate() {
                    (line(row, "nm", text))
                }
                (line(name.len(), "sc", &score_line(self, k)))
                (line(name.len() + 1, "sc", &status_line(k)))
            }
        }
    }

    /// The mapped techniques the release has no cell for, from `y` down, and the document's height.
    fn svg_outside(&self, mut y: f64) -> (Markup, f64) {
        if self.outside.is_empty() {
            return (html! {}, y + 8.0);
        }
        let heading = y;
        let mut rows = Vec::with_capacity(self.outside.len());
        y += 15.0;
        for o in &self.outside {
            let line = format!(
                "{} {} ({}): {} · {} · observed under {}",
                o.id,
                o.name,
                o.note,
                score_line(self, &o.mapped),
                status_line(&o.mapped),
                o.tactics.join(", ")
            );
            rows.push(html! {
                g class="outside" data-technique=(Text::new(&o.id)) data-mapped="true" {
                    title { (Text::new(&tooltip(self, &o.id, &o.name, Some(&o.mapped)))) }
                    rect x=(MARGIN) y=(px(y - 9.0)) width="10" height="10" fill=(Text::new(&o.mapped.color)) stroke="#555" stroke-dasharray="2 1" {}
                    (text(MARGIN + 16.0, y, "out", &line))
                }
            });
            y += 14.0;
        }
        let markup = html! {
            (text(MARGIN, heading, "h2", &format!("Mapped techniques outside the {} {} matrix", self.domain_name, self.attack_version)))
            @for row in &rows {
                (row)
            }
        };
        (markup, y + 8.0)
    }
}
