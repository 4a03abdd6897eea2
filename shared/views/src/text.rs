//! Text helpers shared by the views: user text for maud splices in HTML and SVG ([`Text`]),
//! escaping for Markdown, excerpts of long user text, dates and colours.
use maud::Render;
use mitre_domain::Timestamp;

/// User text (catalog or mapping data) for a maud splice, in HTML or SVG text or attribute values.
///
/// maud escapes `&`, `<`, `>` and `"`; this also writes `'` as `&#39;` and replaces the
/// characters XML 1.0 forbids (C0 controls other than tab, newline and carriage return; U+FFFE,
/// U+FFFF) with U+FFFD, so an SVG stays well-formed whatever an artifact holds. [`Text::lines`]
/// also keeps a tooltip's line breaks in a `title` attribute (newline and tab as character
/// references, carriage returns dropped).
pub(crate) struct Text<'a> {
    text: &'a str,
    lines: bool,
}

impl<'a> Text<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Text { text, lines: false }
    }

    /// For a `title` attribute whose tooltip has several lines.
    pub(crate) fn lines(text: &'a str) -> Self {
        Text { text, lines: true }
    }

    /// The reference or replacement maud's escaping does not write for `c`, if `c` needs one.
    fn replacement(&self, c: char) -> Option<&'static str> {
        match c {
            '\'' => Some("&#39;"),
            '\n' if self.lines => Some("&#10;"),
            '\t' if self.lines => Some("&#9;"),
            '\r' if self.lines => Some(""),
            '\t' | '\n' | '\r' => None,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => Some("\u{FFFD}"),
            _ => None,
        }
    }
}

impl Render for Text<'_> {
    fn render_to(&self, buffer: &mut String) {
        let mut rest = self.text;
        while let Some((i, c, replacement)) = rest.char_indices().find_map(|(i, c)| self.replacement(c).map(|r| (i, c, r))) {
            // everything up to the character: maud's own escaping
            rest[..i].render_to(buffer);
            buffer.push_str(replacement);
            rest = &rest[i + c.len_utf8()..];
        }
        rest.render_to(buffer);
    }
}

/// A one-line excerpt of user text: whitespace runs (newlines included) collapse to one space,
/// and text longer than `max` characters is cut at a word boundary near `max` with an ellipsis.
/// Reads no further than it needs, whatever the size of `s`.
pub fn excerpt(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(max.min(s.len()) + 4);
    let mut count = 0;
    let mut pending_space = false;
    let mut cut = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = count > 0;
            continue;
        }
        let needed = if pending_space { 2 } else { 1 };
        if count + needed > max {
            cut = true;
            break;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
    }
    if cut {
        // back to the last word boundary when it is close, then the ellipsis
        let keep = out.char_indices().rev().take(24).find(|&(_, c)| c == ' ').map(|(i, _)| i);
        if let Some(i) = keep {
            out.truncate(i);
        } else if let Some((i, _)) = out.char_indices().last() {
            out.truncate(i);
        }
        out.push('…');
    }
    out
}

/// Escapes text for one cell of a Markdown (GFM) table or a line of Markdown prose: line breaks
/// become spaces, every character Markdown gives a meaning to inline (`\` `` ` `` `*` `_` `[`
/// `]` `|` `~` `#` `!`) is backslash-escaped, and `<`, `>`, `&` become entities so no raw HTML,
/// autolink or entity gets through. Parentheses stay: without a `[` no link can form.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut last_space = false;
    for c in s.chars() {
        match c {
            '\r' | '\n' | '\t' => {
                if !last_space {
                    out.push(' ');
                }
                last_space = true;
                continue;
            }
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
        last_space = false;
    }
    out
}

/// A link only to an http(s) page (as every ATT&CK reference is); anything else is refused.
pub fn safe_url(url: Option<&str>) -> Option<&str> {
    url.filter(|u| {
        (u.starts_with("https://") || u.starts_with("http://"))
            && !u.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '\'' | '`' | '(' | ')'))
    })
}

/// ATT&CK descriptions cite their sources as `(Citation: Name)` and mark commands with
/// `<code>` tags: the views leave the citations and the tags out.
pub fn strip_citations(s: &str) -> String {
    let s = s.replace("<code>", "").replace("</code>", "");
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(i) = rest.find("(Citation:") {
        out.push_str(&rest[..i]);
        match rest[i..].find(')') {
            Some(j) => rest = &rest[i + j + 1..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    // the spaces a citation leaves before punctuation or at the end
    let mut tidy = String::with_capacity(out.len());
    for part in out.split_whitespace() {
        if !tidy.is_empty() && !part.starts_with(['.', ',', ';', ':']) {
            tidy.push(' ');
        }
        tidy.push_str(part);
    }
    tidy
}

/// A timestamp for people: `2026-03-01 14:05 UTC`.
pub fn day_time(t: &Timestamp) -> String {
    t.as_datetime().format("%Y-%m-%d %H:%M UTC").to_string()
}

/// An observed window for people: one time when it is an instant, `2026-03-01 08:02 → 10:30 UTC`
/// within a day, else both times in full.
pub fn window(first: &Timestamp, last: &Timestamp) -> String {
    let (a, b) = (first.as_datetime(), last.as_datetime());
    if first == last {
        day_time(first)
    } else if a.date_naive() == b.date_naive() {
        format!("{} → {} UTC", a.format("%Y-%m-%d %H:%M"), b.format("%H:%M"))
    } else {
        format!("{} → {}", day_time(first), day_time(last))
    }
}

/// `s` broken into at most `lines` lines of at most `width` characters, at spaces where it
/// can be (a word longer than a line is cut); the last line ends with an ellipsis when text is left over.
pub fn wrap(s: &str, width: usize, lines: usize) -> Vec<String> {
    let width = width.max(2);
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    let words = s.split_whitespace();
    let mut left_over = false;
    for word in words {
        let len = line.chars().count();
        let wlen = word.chars().count();
        if len > 0 && len + 1 + wlen <= width {
            line.push(' ');
            line.push_str(word);
            continue;
        }
        if len == 0 && wlen <= width {
            line.push_str(word);
            continue;
        }
        if len > 0 {
            out.push(std::mem::take(&mut line));
            if out.len() == lines {
                left_over = true;
                break;
            }
        }
        if wlen <= width {
            line.push_str(word);
        } else {
            // a word longer than a line: cut it
            let mut chars = word.chars().peekable();
            while chars.peek().is_some() {
                let part: String = chars.by_ref().take(width).collect();
                if chars.peek().is_some() {
                    out.push(part);
                    if out.len() == lines {
                        left_over = true;
                        break;
                    }
                } else {
                    line = part;
                }
            }
            if left_over {
                break;
            }
        }
    }
    if !left_over && !line.is_empty() {
        out.push(line);
    }
    if left_over && let Some(last) = out.last_mut() {
        let keep = width - 1;
        if last.chars().count() > keep {
            *last = last.chars().take(keep).collect();
        }
        *last = format!("{}…", last.trim_end());
    }
    out
}

/// `s` cut to `max` characters, the last one an ellipsis when it is cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let kept: String = s.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

/// An RGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub fn parse(hex: &str) -> Option<Rgb> {
        let h = hex.strip_prefix('#')?;
        if h.len() != 6 || !h.is_ascii() {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok();
        Some(Rgb(byte(0)?, byte(2)?, byte(4)?))
    }

    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// Relative luminance (sRGB, WCAG).
    pub fn luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = c as f64 / 255.0;
            if c <= 0.03928 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * lin(self.0) + 0.7152 * lin(self.1) + 0.0722 * lin(self.2)
    }

    /// Black or white, whichever reads better on this colour.
    pub fn text_color(self) -> &'static str {
        if self.luminance() > 0.25 { "#1a1a1a" } else { "#ffffff" }
    }
}

/// The colour of `value` on a gradient of evenly spaced `stops` from `min` to `max`.
pub fn gradient(stops: &[&str], min: f64, max: f64, value: f64) -> Rgb {
    let colors: Vec<Rgb> = stops.iter().filter_map(|s| Rgb::parse(s)).collect();
    match colors.len() {
        0 => return Rgb(0x80, 0x80, 0x80),
        1 => return colors[0],
        _ => {}
    }
    let t = if max > min { ((value - min) / (max - min)).clamp(0.0, 1.0) } else { 1.0 };
    let pos = t * (colors.len() - 1) as f64;
    let i = (pos.floor() as usize).min(colors.len() - 2);
    let f = pos - i as f64;
    let (a, b) = (colors[i], colors[i + 1]);
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * f).round() as u8;
    Rgb(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &[&str] = &[
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(1)>",
        "'><svg onload=alert(1)>",
        "]]><x/>",
        "AT&T &amp; &#60; &lt;",
        "nul\u{0}bell\u{7}esc\u{1b}",
        "\u{FFFE}\u{FFFF}",
    ];

    /// User text as the views splice it into HTML and SVG: text, and a `title` attribute.
    fn escape(s: &str) -> String {
        Text::new(s).render().into_string()
    }

    fn escape_attr(s: &str) -> String {
        Text::lines(s).render().into_string()
    }

    #[test]
    fn escaping_leaves_no_markup_and_no_character_xml_forbids() {
        for s in HOSTILE {
            let e = escape(s);
            assert!(!e.contains('<') && !e.contains('>') && !e.contains('"') && !e.contains('\''), "{s:?} -> {e:?}");
            // every & starts one of our entities
            for (i, _) in e.match_indices('&') {
                let rest = &e[i..];
                assert!(["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"].iter().any(|x| rest.starts_with(x)), "{s:?} -> {e:?}");
            }
            assert!(!e.contains("]]>"));
            assert!(e.chars().all(|c| c == '\t' || c == '\n' || c == '\r' || (c as u32 >= 0x20 && c != '\u{FFFE}' && c != '\u{FFFF}')), "{e:?}");
        }
        assert_eq!(escape("<script>"), "&lt;script&gt;");
        assert_eq!(escape("\"><img onerror=x>"), "&quot;&gt;&lt;img onerror=x&gt;");
        assert_eq!(escape("a&b ]]> 'q'"), "a&amp;b ]]&gt; &#39;q&#39;");
        assert_eq!(escape("T1059 PowerShell — ünï"), "T1059 PowerShell — ünï");
        assert_eq!(escape_attr("a\r\nb\tc\"d"), "a&#10;b&#9;c&quot;d");
    }

    #[test]
    fn text_is_escaped_by_maud_and_kept_well_formed() {
        assert_eq!(
            Text::new("\"><script>alert('x')</script> AT&T").render().into_string(),
            "&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; AT&amp;T"
        );
        assert_eq!(Text::new("nul\u{0}bell\u{7}\u{FFFE}\u{FFFF} a\r\nb\tc").render().into_string(), "nul\u{FFFD}bell\u{FFFD}\u{FFFD}\u{FFFD} a\r\nb\tc");
        assert_eq!(Text::lines("a\r\nb\tc\"d").render().into_string(), "a&#10;b&#9;c&quot;d");
        assert_eq!(Text::new("T1059 PowerShell — ünï").render().into_string(), "T1059 PowerShell — ünï");
    }

    #[test]
    fn excerpts_are_one_line_and_bounded() {
        assert_eq!(excerpt("  a\n\n b\tc  ", 200), "a b c");
        assert_eq!(excerpt("", 10), "");
        let long = "word ".repeat(20_000);
        let e = excerpt(&long, 200);
        assert!(e.chars().count() <= 201 && e.ends_with('…') && !e.contains("  "), "{e}");
        assert!(e.trim_end_matches('…').ends_with("word"), "cut at a word boundary: {e}");
        // one long word: cut inside it, on a character boundary
        let e = excerpt(&"é".repeat(500), 10);
        assert_eq!(e, format!("{}…", "é".repeat(9)));
        assert_eq!(excerpt("exactly ten", 11), "exactly ten");
    }

    #[test]
    fn markdown_escaping_keeps_a_table_cell_one_cell() {
        let e = md_escape("a | b `c` *d* _e_ [f](javascript:x) <script>\nnext\r\nline ~~g~~ # h \\ !i &amp;");
        assert!(!e.contains('\n') && !e.contains('\r'));
        for special in ['|', '`', '*', '_', '[', ']', '~', '#', '!'] {
            for (i, _) in e.match_indices(special) {
                assert!(e[..i].ends_with('\\'), "{special} unescaped in {e}");
            }
        }
        assert!(!e.contains('<') && !e.contains('>'));
        assert!(e.contains("&amp;amp;"));
        assert_eq!(md_escape("T1059\\|x"), "T1059\\\\\\|x");
    }

    #[test]
    fn only_web_links_are_kept() {
        assert_eq!(safe_url(Some("https://attack.mitre.org/techniques/T1059/001")), Some("https://attack.mitre.org/techniques/T1059/001"));
        for bad in ["javascript:alert(1)", "data:text/html,x", "https://x\" onmouseover=\"y", "//evil", "https://a b"] {
            assert_eq!(safe_url(Some(bad)), None, "{bad}");
        }
        assert_eq!(safe_url(None), None);
    }

    #[test]
    fn citations_are_left_out() {
        assert_eq!(
            strip_citations("Use application control. (Citation: Microsoft Docs)(Citation: Other) Then more (Citation: X)."),
            "Use application control. Then more."
        );
        assert_eq!(strip_citations("Broken (Citation: never closed"), "Broken");
        assert_eq!(strip_citations("run <code>reagentc /enable</code>."), "run reagentc /enable.");
    }

    #[test]
    fn windows_read_short() {
        let t = |s: &str| Timestamp::parse(s).unwrap();
        assert_eq!(window(&t("2026-03-01T08:02:00Z"), &t("2026-03-01T08:02:00Z")), "2026-03-01 08:02 UTC");
        assert_eq!(window(&t("2026-03-01T08:02:00Z"), &t("2026-03-01T10:30:59Z")), "2026-03-01 08:02 → 10:30 UTC");
        assert_eq!(window(&t("2026-02-27T10:00:00Z"), &t("2026-03-01T09:30:00Z")), "2026-02-27 10:00 UTC → 2026-03-01 09:30 UTC");
    }

    #[test]
    fn wrapping_keeps_words_and_marks_what_is_cut() {
        assert_eq!(wrap("Command and Scripting Interpreter", 16, 2), ["Command and", "Scripting…"]);
        assert_eq!(wrap("Command and Scripting Interpreter", 16, 3), ["Command and", "Scripting", "Interpreter"]);
        assert_eq!(wrap("PowerShell", 16, 2), ["PowerShell"]);
        assert_eq!(wrap("", 16, 2), Vec::<String>::new());
        assert_eq!(wrap("Supercalifragilistic", 8, 2), ["Supercal", "ifragil…"]);
        assert_eq!(wrap("ab Supercalifragilistic", 8, 3), ["ab", "Supercal", "ifragil…"]);
        assert_eq!(wrap("a b c d e f", 3, 2), ["a b", "c…"]);
        assert_eq!(truncate("Gather Victim Host Information", 12), "Gather Vict…");
        assert_eq!(truncate("Proxy", 12), "Proxy");
        for w in wrap(&"word ".repeat(50), 10, 4) {
            assert!(w.chars().count() <= 10, "{w}");
        }
    }

    #[test]
    fn gradients_interpolate_between_stops() {
        let stops = ["#000000", "#ff0000", "#ffffff"];
        assert_eq!(gradient(&stops, 0.0, 100.0, 0.0), Rgb(0, 0, 0));
        assert_eq!(gradient(&stops, 0.0, 100.0, 50.0), Rgb(255, 0, 0));
        assert_eq!(gradient(&stops, 0.0, 100.0, 100.0), Rgb(255, 255, 255));
        assert_eq!(gradient(&stops, 0.0, 100.0, 25.0), Rgb(128, 0, 0));
        assert_eq!(gradient(&stops, 0.0, 100.0, 500.0), Rgb(255, 255, 255), "clamped");
        assert_eq!(Rgb::parse("#d62728").unwrap().hex(), "#d62728");
        assert_eq!(Rgb::parse("red"), None);
        assert_eq!(Rgb(255, 255, 255).text_color(), "#1a1a1a");
        assert_eq!(Rgb(0xd6, 0x27, 0x28).text_color(), "#ffffff");
    }
}
