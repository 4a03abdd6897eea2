//! Text handling shared by the indexes and the queries: cleaning ATT&CK's markdown, a
//! tokenizer that keeps command-line flags and tool names, stopwords and a light stemmer.
use std::sync::OnceLock;

use regex::Regex;

/// One token of a text: its normalised term and where it was found (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub term: String,
    pub start: usize,
    pub end: usize,
}

/// Words that carry no meaning for matching: English function words plus the boilerplate of
/// ATT&CK's prose ("adversaries may use ...").
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "eg",
    "etc",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "him",
    "his",
    "how",
    "i",
    "ie",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "may",
    "me",
    "might",
    "more",
    "most",
    "must",
    "my",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "others",
    "our",
    "ours",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "very",
    "via",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "within",
    "would",
    "you",
    "your",
    "yours",
    // ATT&CK prose and log boilerplate
    "adversary",
    "adversaries",
    "attacker",
    "attackers",
    "use",
    "used",
    "uses",
    "using",
    "usage",
    "able",
    "allow",
    "allows",
    "allowed",
    "including",
    "include",
    "includes",
    "example",
    "examples",
    "various",
    "several",
    "many",
    "well",
    "like",
    "likely",
    "often",
    "typically",
    "potentially",
    "perform",
    "performed",
    "performs",
    "order",
    "however",
    "one",
    "two",
    "way",
    "ways",
    "new",
    "exe",
    "http",
    "https",
    "www",
    "hxxp",
    "hxxps",
    "citation",
];

/// Top-level domains left out when they end a host name: they say nothing about a technique
/// ("com" would otherwise match the Component Object Model).
const TLDS: &[&str] =
    &["com", "net", "org", "io", "co", "uk", "de", "ru", "cn", "top", "xyz", "info", "biz", "us", "gov", "edu", "local", "lan", "nz", "me", "cc"];

/// Words of log schemas that say where a value sits, not what happened: a camel-case field
/// name (`EventCode`, `WinEventLog`, `TargetObject`) does not give them as words of its own,
/// or every query that names its fields would meet "clear event logs".
const SCHEMA_WORDS: &[&str] = &[
    "event", "code", "log", "win", "type", "name", "value", "data", "object", "source", "target", "field", "time", "channel", "level", "record", "message",
    "status", "provider", "guid", "utc", "info", "computer", "keyword",
];

fn is_stopword(w: &str) -> bool {
    static SET: OnceLock<std::collections::HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| STOPWORDS.iter().copied().collect()).contains(w)
}

/// True for letters that double at the end of a stem ("running" -> "runn" -> "run").
fn undouble(w: &mut String) {
    let b = w.as_bytes();
    let n = b.len();
    if n >= 5 && b[n - 1] == b[n - 2] && !matches!(b[n - 1], b'l' | b's' | b'z') && !b"aeiou".contains(&b[n - 1]) {
        w.pop();
    }
}

/// A light suffix stemmer for English: plurals, -ion, -ing, -ed, -er and a final -e, so that
/// "dumped", "dumping", "dumper" and "dumps" meet, as do "create", "created" and "creation".
/// Words with digits (rundll32, system32) and short words are kept as they are.
pub fn stem(word: &str) -> String {
    let mut w = word.to_string();
    if w.len() <= 3 || w.bytes().any(|b| b.is_ascii_digit()) || !w.is_ascii() {
        return w;
    }
    if w.ends_with("ies") && w.len() > 4 {
        w.truncate(w.len() - 3);
        w.push('y');
    } else if w.ends_with("sses") {
        w.truncate(w.len() - 2);
    } else if w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        w.pop();
    }
    if w.ends_with("ion") && w.len() > 5 {
        w.truncate(w.len() - 3);
    } else if w.ends_with("ing") && w.len() > 5 {
        w.truncate(w.len() - 3);
        undouble(&mut w);
    } else if (w.ends_with("ed") && w.len() > 4) || (w.ends_with("er") && w.len() > 5) {
        w.truncate(w.len() - 2);
        undouble(&mut w);
    }
    if w.ends_with('e') && w.len() > 4 {
        w.pop();
    }
    w
}

/// True for tokens that are identifiers rather than words: hashes, base64 runs, GUID parts.
fn is_noise(w: &str) -> bool {
    let n = w.len();
    if n > 32 {
        return true;
    }
    let digits = w.bytes().filter(|b| b.is_ascii_digit()).count();
    if digits == n {
        // keep four-digit numbers (event IDs, ports); drop addresses, counts and dates
        return n != 4;
    }
    if n >= 12 && digits > 0 && w.bytes().all(|b| b.is_ascii_hexdigit()) {
        return true;
    }
    n >= 16 && digits >= 3
}

/// Calls `f(term, start, end)` for every token of `text`: lower-cased runs of letters and
/// digits; a run that starts a command-line switch (`-enc`, `-nop`) keeps its dash. Stopwords,
/// one-letter words and identifier-like noise are left out; terms are stemmed. A camel-case
/// identifier (`CreateRemoteThread`) is a term and also gives its words of three letters or more.
pub fn for_each_token(text: &str, mut f: impl FnMut(&str, usize, usize)) {
    let bytes = text.as_bytes();
    let mut iter = text.char_indices().peekable();
    let mut word = String::new();
    let mut humps: Vec<(usize, usize)> = Vec::new();
    while let Some((i, c)) = iter.next() {
        if !c.is_alphanumeric() {
            continue;
        }
        let mut end = i + c.len_utf8();
        word.clear();
        word.extend(c.to_lowercase());
        // where a lower-case letter is followed by an upper-case one ("CreateRemoteThread")
        humps.clear();
        let mut prev_lower = c.is_lowercase();
        while let Some(&(j, d)) = iter.peek() {
            if !d.is_alphanumeric() {
                break;
            }
            if prev_lower && d.is_uppercase() {
                humps.push((j, word.len()));
            }
            prev_lower = d.is_lowercase();
            word.extend(d.to_lowercase());
            end = j + d.len_utf8();
            iter.next();
        }
        // a switch: "-enc" after whitespace, a quote or the start
        let flag = i >= 1
            && bytes[i - 1] == b'-'
            && (i == 1 || matches!(bytes[i - 2], b' ' | b'\t' | b'"' | b'\'' | b'\n'))
            && word.bytes().all(|b| b.is_ascii_alphabetic())
            && word.len() >= 2;
        if flag {
            let t = format!("-{word}");
            f(&t, i - 1, end);
            continue;
        }
        if word.chars().count() < 2 || is_stopword(&word) || is_noise(&word) {
            continue;
        }
        // the top-level domain of a host name ("acme-invoices.com", "corp.acme.local")
        if i >= 1 && bytes[i - 1] == b'.' && TLDS.contains(&word.as_str()) && bytes.get(end).is_none_or(|b| !b.is_ascii_alphanumeric()) {
            continue;
        }
        let t = stem(&word);
        f(&t, i, end);
        // the words of a camel-case identifier too (CommandLine: command, line), so that
        // field and API names meet prose
        if !humps.is_empty() && word.is_ascii() {
            let mut from = (i, 0);
            for &to in humps.iter().chain(std::iter::once(&(end, word.len()))) {
                let part = &word[from.1..to.1];
                if part.len() >= 3 && !is_stopword(part) && !is_noise(part) && !SCHEMA_WORDS.contains(&part) {
                    f(&stem(part), from.0, to.0);
                }
                from = to;
            }
        }
    }
}

/// The tokens of `text`.
pub fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for_each_token(text, |t, s, e| out.push(Token { term: t.to_string(), start: s, end: e }));
    out
}

/// Plain text of an ATT&CK description: citations removed, markdown links replaced by their
/// text (or dropped when `drop_entity_links` and they point to a group, software or
/// campaign: in procedure examples that name is the example's own subject), `<code>` tags
/// removed.
pub fn clean_attack_markdown(s: &str, drop_entity_links: bool) -> String {
    static CITATION: OnceLock<Regex> = OnceLock::new();
    static LINK: OnceLock<Regex> = OnceLock::new();
    static TAG: OnceLock<Regex> = OnceLock::new();
    let citation = CITATION.get_or_init(|| Regex::new(r"\(Citation:[^)]*\)").unwrap());
    let link = LINK.get_or_init(|| Regex::new(r"\[([^\]]*)\]\(([^)\t\n\x0B\x0C\r ]*)\)").unwrap());
    let tag = TAG.get_or_init(|| Regex::new(r"</?(code|b|i|em|strong|br)[\t\n\x0B\x0C\r ]*/?>").unwrap());
    let s = citation.replace_all(s, "");
    let s = link.replace_all(&s, |c: &regex::Captures<'_>| {
        let url = &c[2];
        let entity = url.contains("/software/") || url.contains("/groups/") || url.contains("/campaigns/");
        if drop_entity_links && entity { String::new() } else { c[1].to_string() }
    });
    let s = tag.replace_all(&s, "");
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters of `s`, cut at a word boundary, with an ellipsis when cut.
pub fn snippet(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    let cut = match cut.rfind(' ') {
        Some(p) if p > max / 2 => &cut[..p],
        _ => &cut[..],
    };
    format!("{}...", cut.trim_end_matches([',', ';', ':', '.']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(s: &str) -> Vec<String> {
        tokens(s).into_iter().map(|t| t.term).collect()
    }

    #[test]
    fn tokenizer_keeps_tools_and_switches() {
        assert_eq!(
            terms("powershell.exe -NoP -W Hidden -Enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBi"),
            ["powershell", "-nop", "hidden", "-enc"]
        );
        assert_eq!(terms("procdump64 -ma lsass.exe C:\\Windows\\Temp\\ls.dmp"), ["procdump64", "-ma", "lsass", "window", "temp", "ls", "dmp"]);
        // addresses and hashes are not words; four-digit event IDs are
        assert_eq!(terms("203.0.113.9 4688 cea27ddb82dcfa1d84339ad256b6b9d8"), ["4688"]);
        // host names lose their top-level domain; COM stays a word
        assert_eq!(terms("billing@acme-invoices.com hijacked COM object"), ["bill", "acme", "invoic", "hijack", "com", "object"]);
        // camel-case identifiers also give their words
        assert_eq!(
            terms("CommandLine EventID CreateRemoteThread"),
            ["commandlin", "command", "line", "eventid", "createremotethread", "creat", "remot", "thread"]
        );
        // but not the words that only say where a value sits in a log
        assert_eq!(terms("WinEventLog:Security EventCode=4698 TargetObject"), ["wineventlog", "security", "eventcod", "4698", "targetobject"]);
    }

    #[test]
    fn stemmer_joins_inflections() {
        for (a, b) in [
            ("dumped", "dumping"),
            ("dumps", "dump"),
            ("created", "creation"),
            ("create", "creates"),
            ("tasks", "task"),
            ("scheduled", "schedule"),
            ("encoded", "encoding"),
            ("credentials", "credential"),
            ("queries", "query"),
        ] {
            assert_eq!(stem(a), stem(b), "{a} {b}");
        }
        assert_eq!(stem("rundll32"), "rundll32");
        assert_eq!(stem("lsass"), "lsass");
    }

    #[test]
    fn markdown_is_cleaned() {
        let s = "[Mimikatz](https://attack.mitre.org/software/S0002) can perform [OS Credential Dumping](https://attack.mitre.org/techniques/T1003) with <code>sekurlsa::logonpasswords</code>.(Citation: Deply Mimikatz)";
        assert_eq!(clean_attack_markdown(s, true), "can perform OS Credential Dumping with sekurlsa::logonpasswords.");
        assert!(clean_attack_markdown(s, false).starts_with("Mimikatz can perform"));
        assert_eq!(snippet("one two three four", 9), "one two...");
    }
}
