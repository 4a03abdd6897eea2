//! Learning from a tenant's review: the verdicts its analysts gave auto-mapped suggestions
//! (confirmed or rejected), keyed by technique and by the signature of the evidence that
//! produced the suggestion, and what they decide for the next suggestion ([`Feedback::decide`]).
//! Pure: the verdicts are counted elsewhere (one [`Feedback`] per tenant, built from that
//! tenant's counts only: tenants never share feedback) and handed in.
//!
//! # The signature of the evidence
//! [`signature`] (typed [`Evidence`]) and [`signature_of_values`] (the same evidence stored as
//! JSON, `{"kind": ..., "detail": ..., "span": ...}`) give the same key: 16 hex digits of the
//! xxh3-64 of the sorted, de-duplicated `kind:key` lines of the evidence, spans ignored. The
//! `key` of a piece of evidence names where it comes from, not what it quoted of one alert, so
//! that the same evidence on another alert (and after a catalog update or a retuned rule
//! table) gives the same signature. The detail is lower-cased and its whitespace collapsed,
//! then reduced by kind:
//!
//! | kind | key | dropped from the detail |
//! | --- | --- | --- |
//! | `attack_id`, `revoked_attack_id` (and the notes' kinds) | the ID the alert names (`t1059.001`) | the technique's name, the catalog version, the replacement |
//! | `software`, `group`, `campaign` | the entity's ATT&CK ID (`s0002`) | its name, the specificity, the procedure example it matched and the words shared with the alert |
//! | `rule` | the rule's id | its weight and rationale |
//! | `procedure`, `detection`, `similarity`, `example` | nothing: the kind alone | the similarity, the rank, the shared words, the matched document |
//!
//! The four similarity kinds are text similarity (BM25): which document scored best, its rank
//! and the words it shares with the alert change with every wording of the same activity, so a
//! signature that kept them would seldom recur and a rejection would seldom apply again. Kept
//! as their kind alone, they still tell "this rule, backed by procedure-example similarity"
//! from "this rule alone". A kind this version does not know keeps its whole normalised detail.
//!
//! Measured by the review replay of the benchmark (`cargo run --release -p mitre-suggest
//! --example bench`: one half of a labelled set reviewed, the other enriched, both ways
//! summed), the auto-mappings that rejections suppress, false / correct (measured when
//! enrichment mapped every suggestion from a threshold of 0.11; the bench prints today's):
//!
//! | similarity evidence in the signature | labelled alerts | Atomic Red Team | TRAM |
//! | --- | --- | --- | --- |
//! | the whole detail (only case and spacing normalised) | 0 / 0 | 189 / 7 | 74 / 9 |
//! | the software or detection strategy of the best procedure document | 0 / 0 | 407 / 43 | 273 / 24 |
//! | the kind alone (this module) | 4 / 0 | 537 / 76 | 482 / 5 |
//!
//! The correct ones suppressed on Atomic Red Team are mostly an artefact of its labels, one
//! technique per test: a test of another technique that downloads its payload or lists
//! processes has its T1105 or T1057 auto-mapping rejected by the replayed analyst, who then
//! rejected that rule's suggestion more often than confirmed it.
//!
//! # Decisions
//! For a suggestion scoring `score`, with the tenant's verdicts on its (technique, signature)
//! pair, `confirmed` and `rejected` ([`Feedback::decide`]):
//! - [`Decision::Suppressed`] when `rejected > confirmed`, whatever the score: the suggestion
//!   is still shown, never auto-mapped (one rejection suffices; a later confirmation that
//!   brings the confirmations level again lifts it);
//! - [`Decision::Trusted`] when `confirmed > rejected` and `score >= threshold *`
//!   [`TRUSTED_FACTOR`] (three quarters of the threshold: 0.38 at the shipped 0.51):
//!   auto-mapped, also at or above the threshold (the decision says why);
//! - otherwise (no verdict, as many confirmations as rejections, or a trusted pair scoring
//!   below the lowered bar) [`Decision::Map`] when `score >= threshold`, else
//!   [`Decision::Below`]. A tie is no evidence either way: the plain threshold decides.
//!
//! Over the suggestions of one alert ([`Feedback::decide_all`]), only the best suggestion is
//! auto-mapped on its score: a later one that would be is [`Decision::Secondary`]. Techniques
//! the alert names by ATT&CK ID and trusted pairs are mapped wherever they rank; a suppressed
//! suggestion does not count as the best (the next one may be mapped).
//!
//! The trusted bar was chosen on the same replay: at half the threshold the trusted pairs added
//! 1 correct / 0 false auto-mappings on the labelled alerts, 32 / 86 on Atomic Red Team and
//! 1654 / 568 on TRAM, where the false auto-mappings then rose overall; at three quarters they
//! add 1 / 0, 14 / 29 and 792 / 128 (86% right on TRAM, and 33% on Atomic Red Team, above the
//! 25% of its suggestions scoring as much without feedback), and the false auto-mappings fall
//! on every set.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Evidence, EvidenceKind, Suggestion};

/// A pair the tenant confirmed more often than it rejected auto-maps from this share of the
/// threshold (see the module documentation).
pub const TRUSTED_FACTOR: f64 = 0.75;

/// The snake_case name of a kind, as serialised.
pub fn kind_name(kind: EvidenceKind) -> &'static str {
    match kind {
        EvidenceKind::AttackId => "attack_id",
        EvidenceKind::RevokedAttackId => "revoked_attack_id",
        EvidenceKind::DeprecatedAttackId => "deprecated_attack_id",
        EvidenceKind::UnknownAttackId => "unknown_attack_id",
        EvidenceKind::Software => "software",
        EvidenceKind::Group => "group",
        EvidenceKind::Campaign => "campaign",
        EvidenceKind::Rule => "rule",
        EvidenceKind::Procedure => "procedure",
        EvidenceKind::Detection => "detection",
        EvidenceKind::Similarity => "similarity",
        EvidenceKind::Example => "example",
    }
}

/// Lower case, runs of whitespace as one space, trimmed.
fn collapse(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out.to_lowercase()
}

/// The first whole word of `s` made of one of `prefixes`, then exactly four ASCII digits,
/// then (with `sub`) optionally a dot and three digits: `t1059.001`, `s0002`.
fn find_id<'a>(s: &'a str, prefixes: &[&str], sub: bool) -> Option<&'a str> {
    let b = s.as_bytes();
    let word = |i: usize| b.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
    let digits = |i: usize, n: usize| i + n <= b.len() && b[i..i + n].iter().all(u8::is_ascii_digit);
    for (i, _) in s.char_indices() {
        if i > 0 && word(i - 1) {
            continue;
        }
        for p in prefixes {
            if !s[i..].starts_with(p) {
                continue;
            }
            let d = i + p.len();
            if !digits(d, 4) {
                continue;
            }
            let mut end = d + 4;
            if sub && b.get(end) == Some(&b'.') && digits(end + 1, 3) {
                end += 4;
            }
            if !word(end) {
                return Some(&s[i..end]);
            }
        }
    }
    None
}

/// The key of one piece of evidence: `kind:key` (see the module documentation).
fn line(kind: &str, detail: &str) -> String {
    let d = collapse(detail);
    let key = match kind {
        "attack_id" | "revoked_attack_id" | "deprecated_attack_id" | "unknown_attack_id" => find_id(&d, &["t"], true),
        "software" | "group" | "campaign" => find_id(&d, &["s", "g", "c"], false).or_else(|| d.split(" is named").next()),
        "rule" => d.strip_prefix("rule ").and_then(|r| r.split([' ', ':']).next()).filter(|r| !r.is_empty()),
        "procedure" | "detection" | "similarity" | "example" => Some(""),
        _ => None,
    };
    format!("{}:{}", collapse(kind), key.unwrap_or(d.as_str()))
}

fn signature_of_lines(mut lines: Vec<String>) -> String {
    lines.sort_unstable();
    lines.dedup();
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(lines.join("\n").as_bytes()))
}

/// The signature of the evidence of a suggestion: 16 hex digits, the same for the same
/// evidence in any order, case, spacing or place in the alert (see the module documentation).
pub fn signature(evidence: &[Evidence]) -> String {
    signature_of_lines(evidence.iter().map(|e| line(kind_name(e.kind), &e.detail)).collect())
}

/// [`signature`] of evidence stored as JSON values (`serde_json::to_value(evidence)`): equal to
/// the signature of the typed evidence. A missing or non-string `kind` or `detail` counts as
/// empty.
pub fn signature_of_values(evidence: &[serde_json::Value]) -> String {
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
    signature_of_lines(evidence.iter().map(|v| line(&text(v, "kind"), &text(v, "detail"))).collect())
}

/// How often a tenant's analysts confirmed and rejected one (technique, signature) pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdicts {
    pub confirmed: u32,
    pub rejected: u32,
}

/// What becomes of a suggestion at enrichment, given the tenant's verdicts (see the module
/// documentation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Auto-mapped: it scores at least the threshold.
    Map,
    /// Not auto-mapped: it scores below the threshold.
    Below,
    /// Not auto-mapped, whatever its score: the tenant rejected this technique on this
    /// evidence more often than it confirmed it.
    Suppressed { rejected: u32, confirmed: u32 },
    /// Not auto-mapped although it scores at least the threshold: a better suggestion of the
    /// same alert is auto-mapped, and only the best one is (see [`Feedback::decide_all`]).
    Secondary,
    /// Auto-mapped: the tenant confirmed this technique on this evidence more often than it
    /// rejected it, and it scores at least [`TRUSTED_FACTOR`] times the threshold.
    Trusted { confirmed: u32 },
}

impl Decision {
    /// Whether the suggestion is auto-mapped.
    pub fn maps(&self) -> bool {
        matches!(self, Decision::Map | Decision::Trusted { .. })
    }
}

/// One tenant's verdicts, per technique (upper case) and evidence signature.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Feedback {
    verdicts: BTreeMap<String, BTreeMap<String, Verdicts>>,
}

fn technique_key(technique: &str) -> String {
    technique.trim().to_ascii_uppercase()
}

impl Feedback {
    /// The feedback of these counts; counts of the same pair add up, zero counts are left out.
    pub fn from_counts<T: AsRef<str>, S: AsRef<str>>(counts: impl IntoIterator<Item = (T, S, Verdicts)>) -> Feedback {
        let mut f = Feedback::default();
        for (t, s, v) in counts.into_iter().filter(|(_, _, v)| *v != Verdicts::default()) {
            let e = f.verdicts.entry(technique_key(t.as_ref())).or_default().entry(s.as_ref().to_string()).or_default();
            e.confirmed = e.confirmed.saturating_add(v.confirmed);
            e.rejected = e.rejected.saturating_add(v.rejected);
        }
        f
    }

    /// Counts one review: `technique` (any case) on the evidence of `signature`, confirmed or
    /// rejected.
    pub fn record(&mut self, technique: &str, signature: &str, confirmed: bool) {
        let e = self.verdicts.entry(technique_key(technique)).or_default().entry(signature.to_string()).or_default();
        if confirmed {
            e.confirmed = e.confirmed.saturating_add(1);
        } else {
            e.rejected = e.rejected.saturating_add(1);
        }
    }

    /// The verdicts of a pair (none when it was never reviewed).
    pub fn verdicts(&self, technique: &str, signature: &str) -> Verdicts {
        self.verdicts.get(&technique_key(technique)).and_then(|m| m.get(signature)).copied().unwrap_or_default()
    }

    /// Every pair with its verdicts, by technique then signature.
    pub fn counts(&self) -> impl Iterator<Item = (&str, &str, Verdicts)> {
        self.verdicts.iter().flat_map(|(t, m)| m.iter().map(move |(s, v)| (t.as_str(), s.as_str(), *v)))
    }

    /// No verdict at all.
    pub fn is_empty(&self) -> bool {
        self.verdicts.values().flat_map(BTreeMap::values).all(|v| *v == Verdicts::default())
    }

    /// What becomes of `s` when auto-mapping from `threshold` (see the module documentation).
    pub fn decide(&self, s: &Suggestion, threshold: f64) -> Decision {
        let v = if self.is_empty() { Verdicts::default() } else { self.verdicts(&s.technique, &signature(&s.evidence)) };
        if v.rejected > v.confirmed {
            return Decision::Suppressed { rejected: v.rejected, confirmed: v.confirmed };
        }
        if v.confirmed > v.rejected && s.score >= threshold * TRUSTED_FACTOR {
            return Decision::Trusted { confirmed: v.confirmed };
        }
        if s.score >= threshold { Decision::Map } else { Decision::Below }
    }

    /// What becomes of each suggestion of one alert (ranked, best first): [`Feedback::decide`]
    /// for each, then only the best suggestion is auto-mapped on the score alone; the first
    /// suggestion that is neither suppressed nor named by an explicit ATT&CK ID is the best,
    /// and a later one that would be mapped on its score is [`Decision::Secondary`] and stays
    /// a suggestion. Techniques the alert names by ID, and pairs the tenant trusts, are mapped
    /// wherever they rank.
    ///
    /// Why: an alert's labels are usually one or two techniques, and the second-best candidate
    /// is most often a technique the alert merely touches (the PowerShell that ran the
    /// credential dumper); measured on labelled sources the engine never saw, mapping every
    /// suggestion above the threshold wrote two to three mappings per alert, most of them
    /// wrong (see `make bench-suggest`).
    pub fn decide_all(&self, suggestions: &[Suggestion], threshold: f64) -> Vec<Decision> {
        let mut best_seen = false;
        suggestions
            .iter()
            .map(|s| {
                let d = self.decide(s, threshold);
                let named = s.evidence.iter().any(|e| e.kind.is_named_id());
                if named || matches!(d, Decision::Suppressed { .. }) {
                    return d;
                }
                let best = !best_seen;
                best_seen = true;
                match d {
                    Decision::Map if !best => Decision::Secondary,
                    d => d,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Span;

    #[test]
    fn only_the_best_suggestion_is_mapped_on_its_score() {
        let s = |t: &str, score: f64, kind: EvidenceKind| Suggestion {
            technique: t.into(),
            name: String::new(),
            tactics: Vec::new(),
            score,
            evidence: vec![Evidence { kind, detail: format!("rule r-{t} (weight 0.5): x"), span: None }],
        };
        let list = [
            s("T1003.001", 0.9, EvidenceKind::Rule),
            s("T1059.001", 0.8, EvidenceKind::Rule),
            s("T1105", 0.95, EvidenceKind::AttackId),
            s("T1082", 0.1, EvidenceKind::Rule),
        ];
        let none = Feedback::default();
        assert_eq!(none.decide_all(&list, 0.5), [Decision::Map, Decision::Secondary, Decision::Map, Decision::Below]);
        // a rejected best gives way to the next one; a trusted pair maps wherever it ranks
        let mut f = Feedback::default();
        f.record("T1003.001", &signature(&list[0].evidence), false);
        f.record("T1082", &signature(&list[3].evidence), true);
        assert_eq!(
            f.decide_all(&list, 0.1),
            [Decision::Suppressed { rejected: 1, confirmed: 0 }, Decision::Map, Decision::Map, Decision::Trusted { confirmed: 1 }]
        );
        assert!(none.decide_all(&[], 0.5).is_empty());
    }

    fn ev(kind: EvidenceKind, detail: &str) -> Evidence {
        Evidence { kind, detail: detail.to_string(), span: None }
    }

    fn at(mut e: Evidence, field: &str, start: usize) -> Evidence {
        e.span = Some(Span { field: field.to_string(), start, end: start + 4 });
        e
    }

    const RULE: &str = "rule powershell-encoded (weight 0.8): PowerShell run with an encoded command";

    /// The evidence of T1059.001 on one alert, as the engine words it.
    fn evidence() -> Vec<Evidence> {
        vec![
            at(ev(EvidenceKind::Rule, RULE), "observables[0]", 0),
            at(ev(EvidenceKind::Software, "software PowerShell (S0194) is named; ATT&CK records it using this technique (specificity 0.41)"), "text", 12),
            ev(
                EvidenceKind::Procedure,
                "resembles a procedure example of APT29 (G0016) (similarity 0.82 of the best, rank 1; shared terms: powershell, encoded): \"APT29 used encoded PowerShell\"",
            ),
            ev(
                EvidenceKind::Similarity,
                "resembles the technique's name and description (similarity 1.00 of the best, rank 1; shared terms: powershell, command)",
            ),
        ]
    }

    fn suggestion(technique: &str, score: f64, evidence: Vec<Evidence>) -> Suggestion {
        Suggestion { technique: technique.to_string(), name: String::new(), tactics: vec!["execution".into()], score, evidence }
    }

    #[test]
    fn the_same_evidence_in_another_order_case_spacing_or_place_has_the_same_signature() {
        let a = evidence();
        let sig = signature(&a);
        assert_eq!(sig.len(), 16);
        assert!(sig.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{sig}");
        let mut b = a.clone();
        b.reverse();
        assert_eq!(signature(&b), sig, "order");
        for e in &mut b {
            e.detail = format!("  {}  ", e.detail.to_uppercase().replace(' ', " \t "));
            e.span = Some(Span { field: "observables[3]".into(), start: 100, end: 140 });
        }
        assert_eq!(signature(&b), sig, "case, spacing and spans");
        b.push(b[0].clone());
        assert_eq!(signature(&b), sig, "a repeated piece of evidence");
        assert_eq!(signature(&[]), signature(&[]));
    }

    #[test]
    fn what_an_alert_quotes_is_not_part_of_the_signature() {
        let sig = signature(&evidence());
        // another alert: other similarities, ranks, shared words and documents; another
        // specificity (a new catalog); a retuned rule
        let other = vec![
            ev(
                EvidenceKind::Similarity,
                "resembles the technique's name and description (similarity 0.57 of the best, rank 3; shared terms: encodedcommand, bypass)",
            ),
            ev(
                EvidenceKind::Procedure,
                "resembles a procedure example of Emotet (S0367) (similarity 0.40 of the best, rank 6; shared terms: hidden): \"Emotet has used PowerShell\"",
            ),
            ev(
                EvidenceKind::Software,
                "software PowerShell (S0194) is named; ATT&CK records it using this technique (specificity 0.39); its procedure example matches the alert (enc): \"...\"",
            ),
            ev(EvidenceKind::Rule, "rule powershell-encoded (weight 0.85): encoded PowerShell"),
        ];
        assert_eq!(signature(&other), sig);
        // an explicit ID: the technique's name may change, the ID named is the evidence
        assert_eq!(
            signature(&[ev(EvidenceKind::AttackId, "the alert names T1059.001 (PowerShell)")]),
            signature(&[ev(EvidenceKind::AttackId, "the alert names t1059.001 (Windows PowerShell)")])
        );
        assert_eq!(
            signature(&[ev(
                EvidenceKind::RevokedAttackId,
                "the alert names T1086 (PowerShell), revoked in ATT&CK 18.1; its replacement is T1059.001 (PowerShell)"
            )]),
            signature(&[ev(
                EvidenceKind::RevokedAttackId,
                "the alert names T1086 (PowerShell), revoked in ATT&CK 19.0; its replacement is T1059.001 (PowerShell)"
            )]),
        );
    }

    #[test]
    fn different_evidence_has_a_different_signature() {
        let sig = signature(&evidence());
        let changed = |f: &dyn Fn(&mut Vec<Evidence>)| {
            let mut e = evidence();
            f(&mut e);
            signature(&e)
        };
        let variants = [
            changed(&|e| e[0].detail = RULE.replace("powershell-encoded", "powershell-download")),
            changed(&|e| e[1].detail = e[1].detail.replace("S0194", "S0106")),
            changed(&|e| e[1].kind = EvidenceKind::Group),
            changed(&|e| {
                e.remove(2);
            }),
            changed(&|e| {
                e.remove(0);
            }),
            changed(&|e| {
                e.push(ev(EvidenceKind::Detection, "resembles detection strategy DET0455 (similarity 0.3 of the best, rank 2; shared terms: x): \"y\""))
            }),
            changed(&|e| e.push(ev(EvidenceKind::AttackId, "the alert names T1059.001 (PowerShell)"))),
        ];
        for (i, v) in variants.iter().enumerate() {
            assert_ne!(*v, sig, "variant {i}");
        }
        assert_ne!(
            signature(&[ev(EvidenceKind::AttackId, "the alert names T1059.001 (PowerShell)")]),
            signature(&[ev(EvidenceKind::AttackId, "the alert names T1059 (Command and Scripting Interpreter)")])
        );
        // a detail of a shape this version does not parse is kept whole
        assert_ne!(signature(&[ev(EvidenceKind::Rule, "encoded powershell")]), signature(&[ev(EvidenceKind::Rule, "encoded cmd")]));
    }

    #[test]
    fn stored_values_and_typed_evidence_have_the_same_signature() {
        let kinds = [
            EvidenceKind::AttackId,
            EvidenceKind::RevokedAttackId,
            EvidenceKind::DeprecatedAttackId,
            EvidenceKind::UnknownAttackId,
            EvidenceKind::Software,
            EvidenceKind::Group,
            EvidenceKind::Campaign,
            EvidenceKind::Rule,
            EvidenceKind::Procedure,
            EvidenceKind::Detection,
            EvidenceKind::Similarity,
        ];
        for k in kinds {
            assert_eq!(serde_json::to_value(k).unwrap(), json!(kind_name(k)));
            let e = [ev(k, "a detail T1003 (S0002) rule x")];
            let values: Vec<serde_json::Value> = e.iter().map(|e| serde_json::to_value(e).unwrap()).collect();
            assert_eq!(signature_of_values(&values), signature(&e), "{k:?}");
        }
        let e = evidence();
        let values: Vec<serde_json::Value> = e.iter().map(|e| serde_json::to_value(e).unwrap()).collect();
        assert!(values[0].get("span").is_some());
        assert_eq!(signature_of_values(&values), signature(&e));
        // as a mapping stores it and reads it back
        let stored: Vec<serde_json::Value> = serde_json::from_str(&serde_json::to_string(&values).unwrap()).unwrap();
        assert_eq!(signature_of_values(&stored), signature(&e));
        // malformed values: no panic, and the same key as their empty parts
        let odd = [json!({"kind": "rule"}), json!(42), json!({"detail": ["x"]})];
        assert_eq!(signature_of_values(&odd), signature_of_values(&[json!({"kind": "rule", "detail": ""}), json!({})]));
    }

    #[test]
    fn a_rejection_suppresses_exactly_that_pair() {
        let threshold = 0.11;
        let s = suggestion("T1059.001", 0.97, evidence());
        let mut f = Feedback::default();
        assert!(f.is_empty());
        assert_eq!(f.decide(&s, threshold), Decision::Map);
        f.record("t1059.001", &signature(&s.evidence), false);
        assert!(!f.is_empty());
        assert_eq!(f.decide(&s, threshold), Decision::Suppressed { rejected: 1, confirmed: 0 });
        assert!(!f.decide(&s, threshold).maps());
        // the same evidence on another alert (other spans, other similarity figures)
        let mut again = s.clone();
        again.evidence[3].detail = again.evidence[3].detail.replace("1.00 of the best", "0.71 of the best");
        again.evidence[0].span = Some(Span { field: "text".into(), start: 3, end: 9 });
        assert_eq!(f.decide(&again, threshold), Decision::Suppressed { rejected: 1, confirmed: 0 });
        // whatever the score: shown, never auto-mapped
        assert_eq!(f.decide(&suggestion("T1059.001", 0.05, evidence()), threshold), Decision::Suppressed { rejected: 1, confirmed: 0 });
        // not the same technique on other evidence
        let mut other_evidence = evidence();
        other_evidence.remove(1);
        assert_eq!(f.decide(&suggestion("T1059.001", 0.97, other_evidence), threshold), Decision::Map);
        // not another technique on that evidence
        assert_eq!(f.decide(&suggestion("T1027", 0.97, evidence()), threshold), Decision::Map);
        assert_eq!(f.decide(&suggestion("T1059", 0.97, evidence()), threshold), Decision::Map);
        assert_eq!(f.decide(&suggestion("T1027", 0.05, evidence()), threshold), Decision::Below);
    }

    #[test]
    fn confirmations_that_outweigh_the_rejections_restore_auto_mapping() {
        let threshold = 0.11;
        let s = suggestion("T1059.001", 0.5, evidence());
        let sig = signature(&s.evidence);
        let mut f = Feedback::default();
        f.record("T1059.001", &sig, false);
        f.record("T1059.001", &sig, false);
        f.record("T1059.001", &sig, true);
        assert_eq!(f.verdicts("t1059.001", &sig), Verdicts { confirmed: 1, rejected: 2 });
        assert_eq!(f.decide(&s, threshold), Decision::Suppressed { rejected: 2, confirmed: 1 });
        // a tie: the plain threshold decides
        f.record("T1059.001", &sig, true);
        assert_eq!(f.decide(&s, threshold), Decision::Map);
        assert_eq!(f.decide(&suggestion("T1059.001", 0.1, evidence()), threshold), Decision::Below);
        // more confirmations: trusted
        f.record("T1059.001", &sig, true);
        assert_eq!(f.decide(&s, threshold), Decision::Trusted { confirmed: 3 });
        assert!(f.decide(&s, threshold).maps());
    }

    #[test]
    fn trust_lowers_the_bar_to_three_quarters_of_the_threshold() {
        let threshold = 0.11;
        let mut f = Feedback::default();
        f.record("T1059.001", &signature(&evidence()), true);
        let at = |score: f64| f.decide(&suggestion("T1059.001", score, evidence()), threshold);
        assert_eq!(at(0.97), Decision::Trusted { confirmed: 1 });
        assert_eq!(at(0.1), Decision::Trusted { confirmed: 1 });
        assert_eq!(at(0.0825), Decision::Trusted { confirmed: 1 });
        assert_eq!(at(0.082), Decision::Below);
        assert!(!at(0.05).maps());
        // without the confirmation, 0.1 is below the threshold; other techniques are not trusted
        assert_eq!(Feedback::default().decide(&suggestion("T1059.001", 0.1, evidence()), threshold), Decision::Below);
        assert_eq!(f.decide(&suggestion("T1027", 0.1, evidence()), threshold), Decision::Below);
    }

    #[test]
    fn tenants_feedback_values_are_independent() {
        // one Feedback per tenant, built from that tenant's counts only: a verdict recorded in
        // one changes nothing in another
        let s = suggestion("T1059.001", 0.9, evidence());
        let mut acme = Feedback::default();
        let globex = Feedback::default();
        acme.record(&s.technique, &signature(&s.evidence), false);
        assert_eq!(acme.decide(&s, 0.11), Decision::Suppressed { rejected: 1, confirmed: 0 });
        assert_eq!(globex.decide(&s, 0.11), Decision::Map);
        assert!(globex.is_empty());
    }

    #[test]
    fn counts_round_trip_and_decisions_serialise_tagged() {
        let sig = signature(&evidence());
        let f = Feedback::from_counts([
            ("t1059.001".to_string(), sig.clone(), Verdicts { confirmed: 2, rejected: 1 }),
            (" T1059.001 ".to_string(), sig.clone(), Verdicts { confirmed: 1, rejected: 0 }),
            ("T1027".to_string(), "0123456789abcdef".to_string(), Verdicts { confirmed: 0, rejected: 4 }),
        ]);
        assert_eq!(f.verdicts("T1059.001", &sig), Verdicts { confirmed: 3, rejected: 1 });
        assert_eq!(f.verdicts("T1059.001", "ffffffffffffffff"), Verdicts::default());
        let mut by_hand = Feedback::default();
        for _ in 0..3 {
            by_hand.record("T1059.001", &sig, true);
        }
        by_hand.record("T1059.001", &sig, false);
        for _ in 0..4 {
            by_hand.record("t1027", "0123456789abcdef", false);
        }
        assert_eq!(by_hand, f);
        assert_eq!(Feedback::from_counts(f.counts()), f);
        assert_eq!(f.counts().count(), 2);
        let text = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<Feedback>(&text).unwrap(), f);
        assert_eq!(
            serde_json::to_value(Decision::Suppressed { rejected: 2, confirmed: 1 }).unwrap(),
            json!({"decision": "suppressed", "rejected": 2, "confirmed": 1})
        );
        assert_eq!(serde_json::to_value(Decision::Trusted { confirmed: 3 }).unwrap(), json!({"decision": "trusted", "confirmed": 3}));
        assert_eq!(serde_json::to_value(Decision::Map).unwrap(), json!({"decision": "map"}));
        assert_eq!(serde_json::to_value(Decision::Below).unwrap(), json!({"decision": "below"}));
        assert!(Feedback::from_counts([("T1", "s", Verdicts::default())]).is_empty());
    }
}
