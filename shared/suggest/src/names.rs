//! Finding ATT&CK software, groups and campaigns named in an alert, by name or alias.
//!
//! Names are matched as whole words, case-insensitively, over runs of letters and digits
//! (so "Cobalt Strike", "cobalt-strike" and "COBALT STRIKE" all match, "Net.WebClient" does
//! not contain the word sequence of any multi-word name). Names that are also ordinary words
//! or too short to be distinctive ("Net", "at", "cmd", "Reg", "Page", "Play", "Carbon") are
//! *ambiguous*: they count only where they are clearly a program or a named threat:
//! - followed by a program extension (`net.exe`, `Responder.py`);
//! - as the program of a command line (its first word, or the first word after `|`, `&`,
//!   `;`, `cmd /c`), or as the file name of a `process`/`parent_process` observable;
//! - followed by a word that says what it is ("Play ransomware", "Carbon backdoor").
use std::collections::HashMap;

/// Ordinary English words (and given names) that ATT&CK also uses as software, group or
/// campaign names or aliases. Matching them anywhere would tag alerts that say "page",
/// "play store", "Carbon Black" or "incident responder".
const COMMON_WORDS: &[&str] = &[
    "agenda",
    "anchor",
    "apostle",
    "aurora",
    "avenger",
    "bazar",
    "calendar",
    "cannon",
    "carbon",
    "chaos",
    "chimera",
    "cleaver",
    "confucius",
    "crimson",
    "crutch",
    "cuba",
    "denis",
    "disco",
    "elise",
    "embargo",
    "epic",
    "equation",
    "expand",
    "explosive",
    "ferocious",
    "flame",
    "frankenstein",
    "gazer",
    "inception",
    "james",
    "kevin",
    "krypton",
    "lucifer",
    "lurid",
    "machete",
    "mango",
    "mantis",
    "matryoshka",
    "maze",
    "medusa",
    "meek",
    "meteor",
    "milan",
    "mirage",
    "mosquito",
    "nebulae",
    "ninja",
    "octopus",
    "page",
    "pandora",
    "patchwork",
    "photo",
    "ping",
    "play",
    "pony",
    "prestige",
    "proton",
    "raindrop",
    "ramsay",
    "rancor",
    "reaper",
    "responder",
    "route",
    "rover",
    "royal",
    "samurai",
    "scorpion",
    "shark",
    "sidewinder",
    "silence",
    "snake",
    "soldier",
    "solar",
    "spark",
    "strider",
    "teardrop",
    "tick",
    "trinity",
    "viper",
    "wiper",
    "zlib",
];

/// Multi-word names that read as an ordinary phrase.
const COMMON_PHRASES: &[&str] = &["remote utilities", "cutting edge", "unknown logger", "token control", "outer space", "rising sun"];

/// Words after an ambiguous name that say it names a threat or a tool.
const QUALIFIERS: &[&str] = &[
    "ransomware",
    "malware",
    "backdoor",
    "trojan",
    "rat",
    "loader",
    "stealer",
    "infostealer",
    "implant",
    "botnet",
    "worm",
    "wiper",
    "dropper",
    "downloader",
    "rootkit",
    "apt",
    "actor",
    "actors",
    "gang",
    "group",
    "c2",
    "framework",
    "beacon",
    "toolkit",
    "miner",
    "payload",
    "variant",
    "family",
    "operators",
    "affiliate",
    "affiliates",
];

/// Extensions that make a word a program or script name.
const PROGRAM_EXTENSIONS: &[&str] = &["exe", "com", "py", "ps1", "psm1", "sh", "bat", "cmd", "dll", "bin", "vbs", "js", "jar", "pl", "rb", "elf"];

/// What a name points to: an index into the engine's entity list.
#[derive(Debug, Clone)]
struct Entry {
    entity: u32,
    ambiguous: bool,
}

/// One mention found in an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    pub entity: u32,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Default)]
pub struct NameMatcher {
    by_words: HashMap<String, Vec<Entry>>,
    max_words: usize,
}

/// The words (maximal runs of letters and digits) of `s` with their byte offsets.
pub(crate) fn words(s: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        if c.is_alphanumeric() {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(st) = start.take() {
            out.push((st, i));
        }
    }
    if let Some(st) = start {
        out.push((st, s.len()));
    }
    out
}

/// The lower-cased word sequence of a name, joined by single spaces.
fn key_of(name: &str) -> String {
    words(name).iter().map(|&(a, b)| name[a..b].to_lowercase()).collect::<Vec<_>>().join(" ")
}

/// True when a name needs a program or threat context to count (see the module docs).
pub fn is_ambiguous(name: &str) -> bool {
    let key = key_of(name);
    if COMMON_PHRASES.contains(&key.as_str()) {
        return true;
    }
    !key.contains(' ') && (key.chars().count() <= 3 || COMMON_WORDS.contains(&key.as_str()))
}

/// Byte ranges of the program names of a command line: the file name (without directory,
/// quotes and extension) of its first word and of the first word after `|`, `&`, `;` or
/// `cmd /c` / `/k`.
pub(crate) fn program_spans(cmd: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let bytes = cmd.as_bytes();
    let mut i = 0;
    let mut at_command = true;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if matches!(c, b'|' | b'&' | b';' | b'(') {
            at_command = true;
            i += 1;
            continue;
        }
        // one word (a quoted one as a whole)
        let (ws, we) = if c == b'"' || c == b'\'' {
            let end = cmd[i + 1..].find(c as char).map(|p| i + 1 + p).unwrap_or(bytes.len());
            (i + 1, end)
        } else {
            let end = cmd[i..].find(|ch: char| ch.is_whitespace() || matches!(ch, '|' | '&' | ';' | '(' | ')')).map(|p| i + p).unwrap_or(bytes.len());
            (i, end)
        };
        let word = &cmd[ws..we];
        if at_command {
            let base_start = word.rfind(['\\', '/']).map(|p| p + 1).unwrap_or(0);
            let base = &word[base_start..];
            let stem_len = match base.rfind('.') {
                Some(p) if p > 0 && PROGRAM_EXTENSIONS.contains(&base[p + 1..].to_ascii_lowercase().as_str()) => p,
                _ => base.len(),
            };
            if stem_len > 0 {
                out.push((ws + base_start, ws + base_start + stem_len));
            }
            // `cmd /c x`: x is a command too
            let lower = base.to_ascii_lowercase();
            at_command = false;
            if lower == "cmd" || lower == "cmd.exe" {
                let rest = cmd[we..].trim_start();
                let lr = rest.to_ascii_lowercase();
                for sw in ["/c", "/k", "/q /c", "/q /k"] {
                    if lr.starts_with(sw) {
                        let skip = cmd.len() - rest.len() + sw.len();
                        i = skip;
                        at_command = true;
                        break;
                    }
                }
                if at_command {
                    continue;
                }
            } else if matches!(lower.as_str(), "sudo" | "nohup" | "exec" | "time" | "env") {
                at_command = true;
            }
        }
        // past the word, or past one character (a whole one: a non-ASCII space ends a word too)
        let one = cmd[i..].chars().next().map_or(1, char::len_utf8);
        i = if we < bytes.len() && (bytes[we] == b'"' || bytes[we] == b'\'') { we + 1 } else { we.max(i + one) };
    }
    out
}

impl NameMatcher {
    /// Adds the name or alias of entity `entity`.
    pub fn add(&mut self, name: &str, entity: u32) {
        let key = key_of(name);
        if key.is_empty() {
            return;
        }
        let n = key.split(' ').count();
        self.max_words = self.max_words.max(n);
        let entries = self.by_words.entry(key).or_default();
        if !entries.iter().any(|e| e.entity == entity) {
            entries.push(Entry { entity, ambiguous: is_ambiguous(name) });
        }
    }

    /// The mentions in `input`. `programs` are byte ranges that are program names in this
    /// input (see [`program_spans`]); an ambiguous name counts only there, before a program
    /// extension or before a qualifier word.
    pub fn find(&self, input: &str, programs: &[(usize, usize)]) -> Vec<Mention> {
        let ws = words(input);
        let mut out: Vec<Mention> = Vec::new();
        let mut key = String::new();
        for i in 0..ws.len() {
            key.clear();
            for n in 1..=self.max_words.min(ws.len() - i) {
                let (a, b) = ws[i + n - 1];
                if n > 1 {
                    // words of one name: separated by at most two non-word characters
                    // ("Cobalt Strike", "Agent.btz", "Win32/Industroyer", "admin@338")
                    let gap = &input[ws[i + n - 2].1..a];
                    if gap.len() > 2 || gap.contains('\n') {
                        break;
                    }
                    key.push(' ');
                }
                key.extend(input[a..b].chars().flat_map(char::to_lowercase));
                let Some(entries) = self.by_words.get(&key) else { continue };
                let (start, end) = (ws[i].0, b);
                for e in entries {
                    if e.ambiguous && !Self::clear_context(input, &ws, i + n - 1, start, end, programs) {
                        continue;
                    }
                    if !out.iter().any(|m| m.entity == e.entity) {
                        out.push(Mention { entity: e.entity, start, end });
                    }
                }
            }
        }
        out
    }

    fn clear_context(input: &str, ws: &[(usize, usize)], last: usize, start: usize, end: usize, programs: &[(usize, usize)]) -> bool {
        if programs.iter().any(|&(a, b)| a == start && b == end) {
            return true;
        }
        // a program extension right after the name
        if input[end..].starts_with('.')
            && let Some(&(a, b)) = ws.get(last + 1)
            && a == end + 1
            && PROGRAM_EXTENSIONS.contains(&input[a..b].to_ascii_lowercase().as_str())
        {
            return true;
        }
        // a qualifier as the next word
        if let Some(&(a, b)) = ws.get(last + 1) {
            let gap = &input[end..a];
            if gap.len() <= 2 && !gap.contains(['.', '\\', '/']) && QUALIFIERS.contains(&input[a..b].to_lowercase().as_str()) {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_spans_step_over_non_ascii_spaces_whole() {
        for cmd in ["a\u{a0}", "a\u{a0}b", "\u{2003}x\u{3000}y.exe | \u{a0}", "cmd /c \u{a0}whoami"] {
            for (s, e) in program_spans(cmd) {
                assert!(cmd.is_char_boundary(s) && cmd.is_char_boundary(e), "{cmd:?}: {s}..{e}");
            }
        }
        assert_eq!(program_spans("a\u{a0}").first().map(|&(s, e)| &"a\u{a0}"[s..e]), Some("a"));
    }

    fn matcher() -> NameMatcher {
        let mut m = NameMatcher::default();
        m.add("Cobalt Strike", 0);
        m.add("Net", 1);
        m.add("Mimikatz", 2);
        m.add("Play", 3);
        m.add("cmd", 4);
        m.add("Agent.btz", 5);
        m.add("Win32/Industroyer", 6);
        m
    }

    fn found(m: &NameMatcher, s: &str, programs: &[(usize, usize)]) -> Vec<u32> {
        m.find(s, programs).into_iter().map(|x| x.entity).collect()
    }

    #[test]
    fn whole_words_any_case() {
        let m = matcher();
        assert_eq!(found(&m, "Possible COBALT-STRIKE beacon", &[]), [0]);
        assert_eq!(found(&m, "ran mimikatz.exe; then agent.btz", &[]), [2, 5]);
        assert_eq!(found(&m, "AV: Win32/Industroyer.A", &[]), [6]);
        assert!(found(&m, "Cobalt is a metal; strike", &[]).is_empty());
        assert!(found(&m, "mimikatzz", &[]).is_empty());
    }

    #[test]
    fn ambiguous_names_need_context() {
        let m = matcher();
        assert!(found(&m, "IEX (New-Object Net.WebClient).DownloadString(u)", &[]).is_empty());
        assert!(found(&m, "the .NET runtime; net income; Play store", &[]).is_empty());
        assert_eq!(found(&m, "ran net.exe group", &[]), [1]);
        assert_eq!(found(&m, "Play ransomware note found", &[]), [3]);
        let cmd = "cmd.exe /c net user x /add";
        assert_eq!(program_spans(cmd), [(0, 3), (11, 14)]);
        assert_eq!(found(&m, cmd, &program_spans(cmd)), [4, 1]);
        let cmd = r#""C:\Windows\System32\net.exe" localgroup administrators"#;
        assert_eq!(found(&m, cmd, &program_spans(cmd)), [1]);
        assert_eq!(program_spans("echo x | sudo bash -i"), [(0, 4), (9, 13), (14, 18)]);
    }

    #[test]
    fn ambiguity() {
        for n in ["Net", "at", "cmd", "Page", "Carbon", "Remote Utilities", "Cutting Edge", "Responder"] {
            assert!(is_ambiguous(n), "{n}");
        }
        for n in ["Mimikatz", "Cobalt Strike", "APT29", "Rubeus", "Lazarus Group"] {
            assert!(!is_ambiguous(n), "{n}");
        }
    }
}
