//! The matrix as one self-contained SVG document: fixed geometry sized for a laptop screen
//! (columns of 98 px, the Enterprise matrix about 1,450 px wide), mapped cells coloured by
//! score with their impact and mitigation status, the mapped sub-techniques under their parent
//! (all sub-techniques are in the HTML), unmapped techniques on one grey line each. Every
//! column is clipped to its width, so no text runs into the next.
use std::fmt::Write;

use super::{Cell, Column, Marking, Matrix, UNMAPPED_COLOR, score_line, status_line, tooltip};
use crate::layer::PARENT_COLOR;
use crate::text::{escape, truncate, wrap};

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

/// Characters of a `size` px font that fit in `width` px (an average glyph of the usual sans
/// fonts is about 0.5 em, bold 0.55, with a margin; the column clip catches the rare longer line).
fn fit(width: f64, size: f64, bold: bool) -> usize {
    (width / (size * if bold { 0.58 } else { 0.54 })).floor() as usize
}

struct Out {
    s: String,
}

impl Out {
    fn text(&mut self, x: f64, y: f64, class: &str, text: &str) {
        let _ = write!(self.s, r#"<text x="{x:.1}" y="{y:.1}" class="{class}">{}</text>"#, escape(text));
    }
}

impl Matrix {
    /// The matrix as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let n = self.tactics.len().max(1) as f64;
        let width = (MARGIN * 2.0 + n * COL_W + (n - 1.0) * GAP).max(720.0);
        let mut body = Out { s: String::with_capacity(64 * 1024) };
        let mut bottom = TOP;
        for (i, column) in self.tactics.iter().enumerate() {
            let x = MARGIN + i as f64 * (COL_W + GAP);
            let h = self.column(&mut body, i, x, column);
            bottom = bottom.max(TOP + h);
        }
        let mut y = bottom + 18.0;
        if !self.outside.is_empty() {
            body.text(MARGIN, y, "h2", &format!("Mapped techniques outside the {} {} matrix", self.domain_name, self.attack_version));
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
                let _ = write!(
                    body.s,
                    r##"<g class="outside" data-technique="{}" data-mapped="true"><title>{}</title><rect x="{MARGIN}" y="{:.1}" width="10" height="10" fill="{}" stroke="#555" stroke-dasharray="2 1"/>"##,
                    escape(&o.id),
                    escape(&tooltip(self, &o.id, &o.name, Some(&o.mapped))),
                    y - 9.0,
                    o.mapped.color
                );
                body.text(MARGIN + 16.0, y, "out", &line);
                body.s.push_str("</g>");
                y += 14.0;
            }
        }
        let height = y + 8.0;

        let mut s = String::with_capacity(body.s.len() + 8 * 1024);
        let _ = write!(
            s,
            r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="{FONT}" role="img" aria-labelledby="matrix-title" data-view="matrix" data-heatmap="{}">
<title id="matrix-title">{}</title>
<style>
text {{ fill: #1f2328; }}
.h1 {{ font-size: 16px; font-weight: 700; }}
.h2 {{ font-size: 12px; font-weight: 700; }}
.meta {{ font-size: 11px; fill: #57606a; }}
.lg {{ font-size: 10px; fill: #1f2328; }}
.tac {{ font-size: 10.5px; font-weight: 700; fill: #ffffff; }}
.cnt {{ font-size: 9px; fill: #d0d7de; }}
.un {{ font-size: 9.5px; fill: #4d545c; }}
.nm {{ font-size: 10px; font-weight: 700; }}
.sc {{ font-size: 9px; }}
.pn {{ font-size: 9.5px; font-weight: 700; fill: #7a3a00; }}
.out {{ font-size: 10.5px; }}
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
"##,
            self.heatmap,
            escape(&format!("ATT&CK matrix: {}", self.title))
        );
        self.header(&mut s, width);
        s.push_str(&body.s);
        s.push_str("</svg>\n");
        s
    }

    fn header(&self, s: &mut String, width: f64) {
        let mut o = Out { s: String::new() };
        let kind = if self.heatmap { "ATT&CK heatmap" } else { "ATT&CK matrix" };
        o.text(MARGIN, 24.0, "h1", &format!("{kind} · {}", self.title));
        o.text(MARGIN, 42.0, "meta", &self.summary_line());
        // legend: swatches, then how to read a mapped cell
        let mut x = MARGIN;
        let y = 62.0;
        let _ = write!(o.s, r#"<g class="legend">"#);
        for e in &self.legend {
            let dashed = if e.color == PARENT_COLOR { r##" stroke="#b35900" stroke-dasharray="3 2""## } else { r##" stroke="#8c959f" stroke-width="0.5""## };
            let _ = write!(o.s, r#"<rect x="{x:.1}" y="{:.1}" width="12" height="12" rx="2" fill="{}"{dashed}/>"#, y - 10.0, escape(&e.color));
            o.text(x + 16.0, y, "lg", &e.label);
            x += 16.0 + e.label.chars().count() as f64 * 5.6 + 14.0;
        }
        let how = if self.heatmap {
            "cell: distinct entities · highest impact / least advanced mitigation"
        } else {
            "cell: confidence · impact / mitigation status"
        };
        if x + how.len() as f64 * 5.6 < width - MARGIN {
            o.text(x + 6.0, y, "lg", how);
        }
        o.s.push_str("</g>\n");
        s.push_str(&o.s);
    }

    /// Draws one column at `x`; returns its height.
    fn column(&self, o: &mut Out, i: usize, x: f64, c: &Column) -> f64 {
        let _ = write!(
            o.s,
            r#"<clipPath id="col-{i}"><rect x="{x:.1}" y="{TOP}" width="{COL_W}" height="100000"/></clipPath><g class="column" data-tactic="{}" data-order="{}" clip-path="url(#col-{i})">"#,
            escape(&c.shortname),
            i + 1
        );
        let _ = write!(
            o.s,
            r##"<rect x="{x:.1}" y="{TOP}" width="{COL_W}" height="{HEAD_H}" rx="3" fill="#2f3e4e"/><title>{} ({})</title>"##,
            escape(&c.name),
            escape(&c.id)
        );
        let lines = wrap(&c.name, fit(COL_W - 2.0 * PAD, 10.5, true), 2);
        for (k, line) in lines.iter().enumerate() {
            o.text(x + PAD, TOP + 12.0 + k as f64 * 11.0, "tac", line);
        }
        o.text(x + PAD, TOP + HEAD_H - 3.0, "cnt", &format!("{} / {} mapped", c.techniques_mapped, c.techniques_total));
        let mut y = TOP + HEAD_H + 3.0;
        for cell in &c.techniques {
            y = self.cell(o, x, y, COL_W, cell, false);
            if cell.subtechnique_mapped {
                let start = y;
                for sub in cell.subtechniques.iter().filter(|s| s.is_mapped()) {
                    y = self.cell(o, x + SUB_INDENT, y, COL_W - SUB_INDENT, sub, true);
                }
                let _ = write!(o.s, r##"<rect x="{:.1}" y="{start:.1}" width="2" height="{:.1}" fill="#b35900"/>"##, x + 2.0, (y - start - 1.5).max(0.0));
            }
        }
        o.s.push_str("</g>\n");
        y - TOP
    }

    /// Draws one cell with its top at `y`; returns the next cell's top.
    fn cell(&self, o: &mut Out, x: f64, y: f64, w: f64, cell: &Cell, sub: bool) -> f64 {
        let inner = w - 2.0 * PAD;
        let tip = escape(&tooltip(self, &cell.id, &cell.name, cell.mapped.as_ref()));
        let attrs = format!(r#"data-technique="{}" data-mapped="{}""#, escape(&cell.id), cell.is_mapped());
        match &cell.mapped {
            Some(k) => {
                let name = wrap(&format!("{} {}", cell.id, cell.name), fit(inner, 10.0, true), 3);
                let h = 5.0 + (name.len() + 2) as f64 * LINE_H;
                self.mapped_cell(o, x, y, w, h, k, &attrs, &tip, &name, sub);
                y + h + 2.0
            }
            None if cell.subtechnique_mapped => {
                let name = wrap(&format!("{} {}", cell.id, cell.name), fit(inner, 9.5, true), 2);
                let mapped = cell.subtechniques.iter().filter(|s| s.is_mapped()).count();
                let h = 5.0 + (name.len() + 1) as f64 * LINE_H;
                let _ = write!(
                    o.s,
                    r##"<g class="cell sub-mapped" {attrs} data-subtechnique-mapped="true"><title>{tip}</title><rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" rx="2" fill="{PARENT_COLOR}" stroke="#b35900" stroke-dasharray="3 2"/>"##
                );
                for (k, line) in name.iter().enumerate() {
                    o.text(x + PAD, y + 11.0 + k as f64 * LINE_H, "pn", line);
                }
                o.text(x + PAD, y + 11.0 + name.len() as f64 * LINE_H, "sc", &format!("{mapped}/{} subs mapped", cell.subtechniques.len()));
                o.s.push_str("</g>");
                y + h + 2.0
            }
            None => {
                let name = truncate(&cell.name, fit(inner, 9.5, false));
                let _ = write!(
                    o.s,
                    r#"<g class="cell" {attrs}><title>{tip}</title><rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{ROW_H}" rx="2" fill="{UNMAPPED_COLOR}"/>"#
                );
                o.text(x + PAD, y + 9.5, "un", &name);
                o.s.push_str("</g>");
                y + ROW_H + 1.5
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn mapped_cell(&self, o: &mut Out, x: f64, y: f64, w: f64, h: f64, k: &Marking, attrs: &str, tip: &str, name: &[String], sub: bool) {
        let class = if sub { "cell sub mapped" } else { "cell mapped" };
        let _ = write!(
            o.s,
            r##"<g class="{class}" {attrs} data-score="{}"><title>{tip}</title><rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" rx="2" fill="{}" stroke="#5c0a0a" stroke-opacity="0.55" stroke-width="1.2"/>"##,
            k.score, k.color
        );
        let fill = format!(r#" style="fill:{}""#, k.text_color);
        let line = |o: &mut Out, row: usize, class: &str, text: &str| {
            let _ = write!(o.s, r#"<text x="{:.1}" y="{:.1}" class="{class}"{fill}>{}</text>"#, x + PAD, y + 11.0 + row as f64 * LINE_H, escape(text));
        };
        for (row, text) in name.iter().enumerate() {
            line(o, row, "nm", text);
        }
        line(o, name.len(), "sc", &score_line(self, k));
        line(o, name.len() + 1, "sc", &status_line(k));
        o.s.push_str("</g>");
    }
}
