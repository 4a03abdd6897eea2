//! The rule table (data/suggest/rules.yaml): tool names and command-line patterns that point
//! to a technique. Patterns are compiled case-insensitively, as the file's header says.
use std::collections::HashSet;

use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;

use crate::{Error, OBSERVABLE_TYPES};

/// One rule as the file states it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub id: String,
    pub technique: String,
    pub pattern: String,
    pub applies_to: Vec<String>,
    pub weight: f64,
    pub rationale: String,
    pub examples: Vec<String>,
    pub counter_examples: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    version: u32,
    rules: Vec<RuleDef>,
}

/// Where a rule looks: bit 0 is the alert's text, bit i + 1 the observable type
/// `OBSERVABLE_TYPES[i]`.
pub type Targets = u16;

pub const TEXT: Targets = 1;

/// The target bit of an observable type, if the type is known.
pub fn observable_bit(kind: &str) -> Option<Targets> {
    OBSERVABLE_TYPES.iter().position(|t| *t == kind).map(|i| 1 << (i + 1))
}

/// A rule, compiled.
#[derive(Debug, Clone)]
pub struct Rule {
    pub def: RuleDef,
    pub regex: Regex,
    pub targets: Targets,
}

impl Rule {
    /// True when the rule looks at inputs of this kind (`text` or an observable type).
    pub fn applies_to(&self, kind: &str) -> bool {
        if kind == "text" { self.targets & TEXT != 0 } else { observable_bit(kind).is_some_and(|b| self.targets & b != 0) }
    }

    /// True when the pattern matches somewhere in `input`.
    pub fn is_match(&self, input: &str) -> bool {
        self.regex.is_match(input.as_bytes())
    }

    /// The first match in `input`, as byte offsets widened to whole characters.
    pub fn find(&self, input: &str) -> Option<(usize, usize)> {
        let m = self.regex.find(input.as_bytes())?;
        let (mut s, mut e) = (m.start(), m.end());
        while !input.is_char_boundary(s) {
            s -= 1;
        }
        while !input.is_char_boundary(e) {
            e += 1;
        }
        Some((s, e))
    }
}

/// How the engine compiles a rule's pattern: case-insensitive, unanchored unless the pattern
/// anchors itself, over bytes with ASCII classes (`\w`, `\s`, `\b` and case folding are
/// ASCII; `.` is any byte but a newline). The rules describe ASCII command lines, registry
/// paths and API names; Unicode classes would make the automata about five times larger and
/// slower to build.
pub fn compile_pattern(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern).case_insensitive(true).unicode(false).size_limit(4 << 20).build()
}

/// Parses and compiles the rule table, checking what the engine relies on: a known version,
/// unique ids, a weight in [0, 1], known `applies_to` entries, a pattern that compiles. The
/// technique IDs are checked against the catalog by the engine.
pub fn parse_rules(yaml: &str) -> Result<Vec<Rule>, Error> {
    let file: RuleFile = serde_norway::from_str(yaml).map_err(|e| Error::Rules(format!("not a rule table: {e}")))?;
    if file.version != 1 {
        return Err(Error::Rules(format!("version {} is not 1", file.version)));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(file.rules.len());
    for def in file.rules {
        let bad = |m: String| Error::Rules(format!("rule {}: {m}", def.id));
        if def.id.is_empty() || !seen.insert(def.id.clone()) {
            return Err(bad("empty or repeated id".into()));
        }
        if !(0.0..=1.0).contains(&def.weight) || def.weight.is_nan() {
            return Err(bad(format!("weight {} is outside [0, 1]", def.weight)));
        }
        if def.rationale.trim().is_empty() {
            return Err(bad("no rationale".into()));
        }
        let mut targets: Targets = 0;
        for a in &def.applies_to {
            let bit = if a == "text" { TEXT } else { observable_bit(a).ok_or_else(|| bad(format!("applies_to has the unknown type {a:?}")))? };
            targets |= bit;
        }
        if targets == 0 {
            return Err(bad("applies_to is empty".into()));
        }
        let regex = compile_pattern(&def.pattern).map_err(|e| bad(format!("pattern does not compile: {e}")))?;
        out.push(Rule { def, regex, targets });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_tables() {
        let ok = "version: 1\nrules:\n- id: 'a'\n  technique: 'T1059.001'\n  pattern: 'x+'\n  applies_to: [text, command_line]\n  weight: 0.5\n  rationale: 'r'\n  examples:\n  - 'x'\n  counter_examples:\n  - 'y'\n";
        let rules = parse_rules(ok).unwrap();
        assert!(rules[0].applies_to("text") && rules[0].applies_to("command_line") && !rules[0].applies_to("file"));
        assert!(rules[0].is_match("XX") && rules[0].find("éxx") == Some((2, 4)));
        for (from, to) in [("weight: 0.5", "weight: 1.5"), ("x+", "x("), ("command_line]", "cmdline]"), ("version: 1", "version: 2"), ("rationale", "reason")] {
            assert!(parse_rules(&ok.replace(from, to)).is_err(), "{from} -> {to}");
        }
        let twice = format!("{ok}{}", &ok[ok.find("- id").unwrap()..]);
        assert!(parse_rules(&twice).is_err());
    }
}
