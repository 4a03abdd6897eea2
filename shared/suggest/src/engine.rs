//! The engine: built once from a catalog and a rule table, then asked per request.
use std::collections::HashMap;

use mitre_attack::catalog::{DomainCatalog, ObjectRef};
use regex::Regex;

use crate::bm25::{Bm25, Bm25Builder};
use crate::calibration::{BM25_SATURATION, Calibration, DEFAULT_CALIBRATION, Features, ID_CONFIDENCE, REVOKED_ID_CONFIDENCE};
use crate::examples::{Profiles, default_profiles};
use crate::names::{NameMatcher, program_spans};
use crate::rules::{Rule, parse_rules};
use crate::text::{clean_attack_markdown, for_each_token, snippet};
use crate::{Error, Evidence, EvidenceKind, Request, Span, Suggestion};

/// BM25 signals bring in at most this many techniques each.
const BM25_CANDIDATES: usize = 15;
/// A BM25 signal counts for a technique (feature and evidence) when the technique is among
/// the signal's top [`BM25_CANDIDATES`] or scores at least this share of the best.
const BM25_MIN_REL: f32 = 0.25;
/// Observable types whose values are identifiers, not words: no text similarity, no names.
const NON_TEXT_TYPES: [&str; 4] = ["ip", "hash", "user", "host"];

#[derive(Debug)]
struct Tech {
    attack_id: String,
    name: String,
    tactics: Vec<String>,
    live: bool,
    deprecated: bool,
    /// For a revoked technique: the live technique that replaces it (following revoked-by).
    replaced_by: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntityKind {
    Software,
    Group,
    Campaign,
}

#[derive(Debug)]
struct Entity {
    kind: EntityKind,
    name: String,
    attack_id: String,
    /// The live techniques it uses, with their specificity (see [`Features::named`]).
    techniques: Vec<(u32, f32)>,
    /// Its procedure documents.
    docs: Vec<u32>,
}

#[derive(Debug)]
struct ProcDoc {
    tech: u32,
    entity: Option<u32>,
    /// Detection strategy name (e.g. "DET0103") when the document is one.
    detection: Option<String>,
    snippet: String,
}

#[derive(Debug)]
struct EngineRule {
    rule: Rule,
    tech: u32,
}

/// A technique that a similarity signal ranks, as it counts for the technique's features.
struct Hit {
    rank: usize,
    tech: u32,
    /// The technique's best document.
    doc: u32,
    /// Its score over the best technique's.
    rel: f64,
    /// Its score, saturated to [0, 1).
    abs: f64,
}

impl Hit {
    /// Its share of the `agreement` feature: a third when the signal ranks it first.
    fn agreement(&self) -> f64 {
        if self.rank == 0 { 1.0 / 3.0 } else { 0.0 }
    }

    /// How it resembles, for its evidence.
    fn said(&self, words: &[String]) -> String {
        format!("similarity {:.2} of the best, rank {}; shared terms: {}", self.rel, self.rank + 1, words.join(", "))
    }
}

/// A similarity ranking of (technique, score, document): best first, ties by technique.
fn ranked(mut v: Vec<(u32, f32, u32)>) -> Vec<(u32, f32, u32)> {
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

/// The entries of a similarity ranking (technique, score, document; best first) that count:
/// the first [`BM25_CANDIDATES`], then those scoring at least [`BM25_MIN_REL`] of the best for
/// a technique another signal brought in (`known`). None when nothing scored.
fn counted(ranked: &[(u32, f32, u32)], known: impl Fn(u32) -> bool) -> Vec<Hit> {
    let top = ranked.first().map_or(0.0, |x| x.1);
    let mut out = Vec::new();
    if top <= 0.0 {
        return out;
    }
    for (rank, &(tech, s, doc)) in ranked.iter().enumerate() {
        if rank >= BM25_CANDIDATES && s / top < BM25_MIN_REL {
            break;
        }
        if rank < BM25_CANDIDATES || known(tech) {
            out.push(Hit { rank, tech, doc, rel: (s / top) as f64, abs: s as f64 / (s as f64 + BM25_SATURATION) });
        }
    }
    out
}

/// A request's text-bearing inputs: 0 is the text, i + 1 the i-th observable.
struct Input<'a> {
    field: usize,
    kind: &'a str,
    value: &'a str,
}

fn span(field: usize, start: usize, end: usize) -> Span {
    Span { field: if field == 0 { "text".to_string() } else { format!("observables[{}]", field - 1) }, start, end }
}

/// One candidate technique of a request, before ranking: its features and evidence.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// ATT&CK ID.
    pub technique: String,
    pub features: Features,
    /// Confidence from an explicit ID in the text (0 when none).
    pub id_confidence: f64,
    pub evidence: Vec<Evidence>,
    tech: u32,
}

/// Suggestions and the notes of a request (IDs that were named but give no suggestion).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Analysis {
    pub suggestions: Vec<Suggestion>,
    pub notes: Vec<Evidence>,
}

/// The suggestion engine of one catalog.
#[derive(Debug)]
pub struct Engine {
    version: String,
    techs: Vec<Tech>,
    by_id: HashMap<String, u32>,
    rules: Vec<EngineRule>,
    names: NameMatcher,
    entities: Vec<Entity>,
    proc: Bm25,
    proc_docs: Vec<ProcDoc>,
    desc: Bm25,
    /// Technique of each description document.
    desc_docs: Vec<u32>,
    /// Profiles learned from labelled examples (see [`crate::examples`]), one document each.
    ex: Bm25,
    /// Technique of each profile, and the examples it was learned from ("Atomic Red Team 4, TRAM 120").
    ex_docs: Vec<(u32, String)>,
    id_pattern: Regex,
    calibration: Calibration,
    warnings: Vec<String>,
}

#[derive(Default)]
struct Builder {
    features: Features,
    id_confidence: f64,
    rules: Vec<(usize, Span)>,
    evidence: Vec<Evidence>,
}

impl Engine {
    /// Builds the engine of `catalog` with the rule table `rules_yaml` (see
    /// data/suggest/rules.yaml). A rule whose technique is revoked follows its replacement; a
    /// rule whose technique is deprecated or unknown is left out; both are listed in
    /// [`Engine::warnings`]. Malformed tables are errors. The example profiles are the
    /// shipped ones ([`default_profiles`]).
    pub fn new(catalog: &DomainCatalog, rules_yaml: &str) -> Result<Engine, Error> {
        Engine::with_profiles(catalog, rules_yaml, default_profiles())
    }

    /// [`Engine::new`] with other example profiles (for evaluation). A profile of a revoked
    /// technique counts for its replacement; one of a technique not live in `catalog` is left
    /// out.
    pub fn with_profiles(catalog: &DomainCatalog, rules_yaml: &str, profiles: &Profiles) -> Result<Engine, Error> {
        // techniques
        let mut techs: Vec<Tech> = catalog
            .techniques
            .iter()
            .map(|t| Tech {
                attack_id: t.attack_id.clone(),
                name: t.name.clone(),
                tactics: t.tactics.clone(),
                live: !t.revoked && !t.deprecated,
                deprecated: t.deprecated && !t.revoked,
                replaced_by: None,
            })
            .collect();
        if techs.iter().all(|t| !t.live) {
            return Err(Error::Catalog("the catalog has no live technique".into()));
        }
        let index_of = |stix: &str| match catalog.object(stix) {
            Some(ObjectRef::Technique(i)) => Some(i as u32),
            _ => None,
        };
        for (i, t) in catalog.techniques.iter().enumerate() {
            if !t.revoked {
                continue;
            }
            let mut cur = t.stix_id.as_str();
            for _ in 0..8 {
                let Some(next) = catalog.relationships_from(cur, Some("revoked-by")).next() else { break };
                let Some(j) = index_of(&next.target_ref) else { break };
                if techs[j as usize].live {
                    techs[i].replaced_by = Some(j);
                    break;
                }
                cur = &catalog.techniques[j as usize].stix_id;
            }
        }
        let mut by_id = HashMap::new();
        for (i, t) in catalog.techniques.iter().enumerate() {
            if let Some(found) = catalog.technique_by_attack_id(&t.attack_id)
                && found.stix_id == t.stix_id
            {
                by_id.insert(t.attack_id.clone(), i as u32);
            }
        }
        // rules
        let mut warnings = Vec::new();
        let mut rules = Vec::new();
        for rule in parse_rules(rules_yaml)? {
            let id = rule.def.technique.trim().to_ascii_uppercase();
            let tech = match by_id.get(&id).map(|&i| (i, &techs[i as usize])) {
                Some((i, t)) if t.live => i,
                Some((_, t)) if t.replaced_by.is_some() => {
                    let r = t.replaced_by.unwrap_or_default();
                    warnings.push(format!("rule {}: {} is revoked; it now points to {}", rule.def.id, id, techs[r as usize].attack_id));
                    r
                }
                Some(_) => {
                    warnings.push(format!("rule {}: {} is deprecated; the rule is left out", rule.def.id, id));
                    continue;
                }
                None => {
                    warnings.push(format!("rule {}: {} is not in ATT&CK {}; the rule is left out", rule.def.id, id, catalog.version));
                    continue;
                }
            };
            rules.push(EngineRule { rule, tech });
        }

        // software, groups, campaigns and their techniques
        let is_technique = |o: ObjectRef| matches!(o, ObjectRef::Technique(_));
        let mut entities: Vec<Entity> = Vec::new();
        let mut entity_of: HashMap<&str, u32> = HashMap::new();
        let mut names = NameMatcher::default();
        let lists = [(EntityKind::Software, &catalog.software), (EntityKind::Group, &catalog.groups), (EntityKind::Campaign, &catalog.campaigns)];
        for (kind, list) in lists {
            for e in list.iter().filter(|e| !e.revoked && !e.deprecated) {
                let techniques: Vec<u32> = match kind {
                    EntityKind::Group => catalog.used_by_group(&e.stix_id, is_technique).iter().filter_map(|(t, _)| index_of(t)).collect(),
                    _ => {
                        let mut v: Vec<u32> = catalog.live_from(&e.stix_id, "uses", is_technique).filter_map(|r| index_of(&r.target_ref)).collect();
                        v.sort_unstable();
                        v.dedup();
                        v
                    }
                };
                if techniques.is_empty() {
                    continue;
                }
                let n = entities.len() as u32;
                entity_of.insert(e.stix_id.as_str(), n);
                names.add(&e.name, n);
                for a in &e.aliases {
                    names.add(a, n);
                }
                entities.push(Entity {
                    kind,
                    name: e.name.clone(),
                    attack_id: e.attack_id.clone().unwrap_or_default(),
                    techniques: techniques.into_iter().map(|t| (t, 0.0)).collect(),
                    docs: Vec::new(),
                });
            }
        }
        // specificity: IDF of the technique among software (for software) or groups (for
        // groups and campaigns)
        for kinds in [&[EntityKind::Software][..], &[EntityKind::Group, EntityKind::Campaign][..]] {
            let base = kinds[0];
            let mut users = vec![0u32; techs.len()];
            let mut n = 0u32;
            for e in entities.iter().filter(|e| e.kind == base) {
                n += 1;
                for &(t, _) in &e.techniques {
                    users[t as usize] += 1;
                }
            }
            let top = (1.0 + n as f32).ln();
            for e in entities.iter_mut().filter(|e| kinds.contains(&e.kind)) {
                for (t, spec) in e.techniques.iter_mut() {
                    let u = users[*t as usize].max(1) as f32;
                    *spec = ((1.0 + n as f32 / u).ln() / top).clamp(0.0, 1.0);
                }
            }
        }

        // procedure examples and detection strategies
        let mut pb = Bm25Builder::default();
        let mut proc_docs = Vec::new();
        for r in &catalog.relationships {
            let Some(desc) = r.description.as_deref() else { continue };
            if !r.is_active() || desc.trim().is_empty() {
                continue;
            }
            let (entity, detection) = match r.relationship_type.as_str() {
                "uses" => match entity_of.get(r.source_ref.as_str()) {
                    Some(&e) => (Some(e), None),
                    None => continue,
                },
                _ => continue,
            };
            let Some(tech) = index_of(&r.target_ref).filter(|&t| techs[t as usize].live) else { continue };
            let text = clean_attack_markdown(desc, true);
            let d = pb.add(&[(&text, 1)]);
            debug_assert_eq!(d as usize, proc_docs.len());
            if let Some(e) = entity {
                entities[e as usize].docs.push(d);
            }
            proc_docs.push(ProcDoc { tech, entity, detection, snippet: snippet(&text, 200) });
        }
        // the v18 analytics: how each detection strategy's technique shows in logs
        let analytics: HashMap<&str, &mitre_attack::catalog::Entity> =
            catalog.analytics.iter().filter(|a| !a.revoked && !a.deprecated && !a.description.trim().is_empty()).map(|a| (a.stix_id.as_str(), a)).collect();
        for ds in catalog.detection_strategies.iter().filter(|d| !d.revoked && !d.deprecated) {
            let det = ds.attack_id.clone().unwrap_or_default();
            for r in catalog.live_from(&ds.stix_id, "detects", is_technique) {
                let Some(tech) = index_of(&r.target_ref) else { continue };
                let text =
                    if ds.description.trim().is_empty() { ds.name.clone() } else { format!("{}. {}", ds.name, clean_attack_markdown(&ds.description, false)) };
                pb.add(&[(&text, 1)]);
                proc_docs.push(ProcDoc { tech, entity: None, detection: Some(det.clone()), snippet: snippet(&text, 200) });
                for a in ds.analytic_refs.iter().filter_map(|id| analytics.get(id.as_str())) {
                    let text = clean_attack_markdown(&a.description, false);
                    pb.add(&[(&text, 1)]);
                    let name = format!("{det} analytic {}", a.attack_id.as_deref().unwrap_or_default());
                    proc_docs.push(ProcDoc { tech, entity: None, detection: Some(name), snippet: snippet(&text, 200) });
                }
            }
        }
        let proc = pb.build();

        // technique names and descriptions
        let mut db = Bm25Builder::default();
        let mut desc_docs = Vec::new();
        for (i, t) in catalog.techniques.iter().enumerate() {
            if !techs[i].live {
                continue;
            }
            let parent = t.parent.as_deref().and_then(|p| catalog.technique_by_attack_id(p)).map(|p| p.name.clone()).unwrap_or_default();
            let description = clean_attack_markdown(&t.description, false);
            db.add(&[(&t.name, 3), (&parent, 1), (&description, 1)]);
            desc_docs.push(i as u32);
        }
        let desc = db.build();

        // labelled-example profiles
        let mut eb = Bm25Builder::default();
        let mut ex_docs = Vec::new();
        for p in &profiles.profiles {
            let tech = match by_id.get(p.technique.as_str()).map(|&i| (i, &techs[i as usize])) {
                Some((i, t)) if t.live => i,
                Some((_, t)) if t.replaced_by.is_some() => t.replaced_by.unwrap_or_default(),
                _ => continue,
            };
            eb.add_terms(p.terms.iter().map(|(t, w)| (t.as_str(), *w)));
            let from: Vec<String> = p.sources.iter().map(|(s, n)| format!("{} {n}", crate::examples::source_name(s))).collect();
            ex_docs.push((tech, from.join(", ")));
        }
        let ex = eb.build();

        Ok(Engine {
            version: catalog.version.clone(),
            techs,
            by_id,
            rules,
            names,
            entities,
            proc,
            proc_docs,
            desc,
            desc_docs,
            ex,
            ex_docs,
            id_pattern: Regex::new(r"(?i-u)\bT\d{4}(?:\.\d{3})?\b").expect("ID pattern"),
            calibration: DEFAULT_CALIBRATION,
            warnings,
        })
    }

    /// The same engine with another calibration (for evaluation).
    pub fn with_calibration(mut self, calibration: Calibration) -> Engine {
        self.calibration = calibration;
        self
    }

    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// The catalog version the engine was built from.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The compiled rules, in table order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|r| &r.rule)
    }

    /// What the build noticed: rules redirected from a revoked technique or left out.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Sizes of the engine's parts, for reports: (techniques, rules, entities, procedure
    /// documents, description documents, approximate index bytes).
    pub fn stats(&self) -> (usize, usize, usize, usize, usize, usize) {
        (
            self.techs.iter().filter(|t| t.live).count(),
            self.rules.len(),
            self.entities.len(),
            self.proc_docs.len(),
            self.desc_docs.len(),
            self.proc.heap_bytes() + self.desc.heap_bytes() + self.ex.heap_bytes(),
        )
    }

    /// The ranked suggestions of a request (validate it first with [`Request::validate`]; an
    /// invalid limit is clamped to 1..=20).
    pub fn suggest(&self, req: &Request) -> Vec<Suggestion> {
        self.analyze(req).suggestions
    }

    /// Suggestions plus notes about IDs the text names that lead to no suggestion.
    pub fn analyze(&self, req: &Request) -> Analysis {
        let mut notes = Vec::new();
        let candidates = self.candidates_with_notes(req, &mut notes);
        Analysis { suggestions: self.rank(candidates, &self.calibration, req.limit.clamp(1, crate::MAX_LIMIT) as usize), notes }
    }

    /// Scores candidates with `calibration` and keeps the best `limit`, best first (ties by
    /// ATT&CK ID).
    pub fn rank(&self, candidates: Vec<Candidate>, calibration: &Calibration, limit: usize) -> Vec<Suggestion> {
        let mut scored: Vec<(f64, Candidate)> =
            candidates.into_iter().filter(|c| !c.evidence.is_empty()).map(|c| (calibration.score(&c.features, c.id_confidence), c)).collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.technique.cmp(&b.1.technique)));
        scored.truncate(limit);
        scored
            .into_iter()
            .map(|(score, c)| {
                let t = &self.techs[c.tech as usize];
                Suggestion {
                    technique: t.attack_id.clone(),
                    name: t.name.clone(),
                    tactics: t.tactics.clone(),
                    score: (score * 1000.0).round() / 1000.0,
                    evidence: c.evidence,
                }
            })
            .collect()
    }

    /// Every technique with evidence for this request, with its features, unranked.
    pub fn candidates(&self, req: &Request) -> Vec<Candidate> {
        self.candidates_with_notes(req, &mut Vec::new())
    }

    /// The plain BM25 ranking of technique names and descriptions for the request's text and
    /// observable values (the benchmark's baseline): (ATT&CK ID, BM25 score), best first.
    pub fn baseline_ranking(&self, req: &Request, limit: usize) -> Vec<(String, f64)> {
        let inputs = Self::inputs(req);
        let terms = Self::query_terms(&inputs);
        let q: Vec<u32> = terms.iter().filter_map(|(t, _)| self.desc.term(t)).collect();
        let mut acc = vec![0.0f32; self.desc.n_docs()];
        let mut touched = Vec::new();
        self.desc.score(&q, &mut acc, &mut touched);
        let mut v: Vec<(u32, f32)> = touched.iter().map(|&d| (d, acc[d as usize])).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(limit);
        v.into_iter().map(|(d, s)| (self.techs[self.desc_docs[d as usize] as usize].attack_id.clone(), s as f64)).collect()
    }

    fn inputs(req: &Request) -> Vec<Input<'_>> {
        let mut v = vec![Input { field: 0, kind: "text", value: req.text.as_str() }];
        v.extend(req.observables.iter().enumerate().map(|(i, o)| Input { field: i + 1, kind: o.kind.as_str(), value: o.value.as_str() }));
        v
    }

    /// The distinct query terms of the text-bearing inputs, each with where it first occurs.
    fn query_terms(inputs: &[Input<'_>]) -> Vec<(String, Span)> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for inp in inputs.iter().filter(|i| !NON_TEXT_TYPES.contains(&i.kind)) {
            for_each_token(inp.value, |t, s, e| {
                if !seen.contains(t) {
                    seen.insert(t.to_string());
                    out.push((t.to_string(), span(inp.field, s, e)));
                }
            });
        }
        out
    }

    fn candidates_with_notes(&self, req: &Request, notes: &mut Vec<Evidence>) -> Vec<Candidate> {
        let inputs = Self::inputs(req);
        let mut cands: HashMap<u32, Builder> = HashMap::new();

        // 1. explicit IDs
        let mut named = std::collections::HashSet::new();
        for m in self.id_pattern.find_iter(&req.text) {
            let id = m.as_str().to_ascii_uppercase();
            if !named.insert(id.clone()) {
                continue;
            }
            let sp = Some(span(0, m.start(), m.end()));
            match self.by_id.get(&id).map(|&i| (i, &self.techs[i as usize])) {
                Some((i, t)) if t.live => {
                    let b = cands.entry(i).or_default();
                    b.id_confidence = b.id_confidence.max(ID_CONFIDENCE);
                    b.evidence.push(Evidence { kind: EvidenceKind::AttackId, detail: format!("the alert names {id} ({})", t.name), span: sp });
                }
                Some((_, t)) if t.replaced_by.is_some() => {
                    let r = t.replaced_by.unwrap_or_default();
                    let rt = &self.techs[r as usize];
                    let detail =
                        format!("the alert names {id} ({}), revoked in ATT&CK {}; its replacement is {} ({})", t.name, self.version, rt.attack_id, rt.name);
                    notes.push(Evidence { kind: EvidenceKind::RevokedAttackId, detail: detail.clone(), span: sp.clone() });
                    let b = cands.entry(r).or_default();
                    b.id_confidence = b.id_confidence.max(REVOKED_ID_CONFIDENCE);
                    b.evidence.push(Evidence { kind: EvidenceKind::RevokedAttackId, detail, span: sp });
                }
                Some((_, t)) if t.deprecated => {
                    notes.push(Evidence {
                        kind: EvidenceKind::DeprecatedAttackId,
                        detail: format!("the alert names {id} ({}), deprecated in ATT&CK {}: not suggested", t.name, self.version),
                        span: sp,
                    });
                }
                Some((_, t)) => {
                    notes.push(Evidence {
                        kind: EvidenceKind::RevokedAttackId,
                        detail: format!("the alert names {id} ({}), revoked in ATT&CK {} without a live replacement: not suggested", t.name, self.version),
                        span: sp,
                    });
                }
                None => {
                    notes.push(Evidence {
                        kind: EvidenceKind::UnknownAttackId,
                        detail: format!("the alert names {id}, which is not a technique of ATT&CK {}", self.version),
                        span: sp,
                    });
                }
            }
        }

        // 4. rules (first match of each rule)
        for (k, r) in self.rules.iter().enumerate() {
            for inp in &inputs {
                if inp.value.is_empty() || !r.rule.applies_to(inp.kind) {
                    continue;
                }
                if let Some((s, e)) = r.rule.find(inp.value) {
                    cands.entry(r.tech).or_default().rules.push((k, span(inp.field, s, e)));
                    break;
                }
            }
        }

        // 2. named software, groups and campaigns
        let mut mentioned: Vec<(u32, Span)> = Vec::new();
        for inp in inputs.iter().filter(|i| !NON_TEXT_TYPES.contains(&i.kind) && !i.value.is_empty()) {
            let programs = match inp.kind {
                "command_line" => program_spans(inp.value),
                "process" | "parent_process" => {
                    let v = inp.value.trim_end();
                    let start = v.rfind(['\\', '/']).map(|p| p + 1).unwrap_or(0);
                    let end = v[start..].rfind('.').filter(|&p| p > 0).map(|p| start + p).unwrap_or(v.len());
                    vec![(start, end)]
                }
                _ => Vec::new(),
            };
            for m in self.names.find(inp.value, &programs) {
                if !mentioned.iter().any(|(e, _)| *e == m.entity) {
                    mentioned.push((m.entity, span(inp.field, m.start, m.end)));
                }
            }
        }

        // 3 and 5: BM25
        let terms = Self::query_terms(&inputs);
        // term ids of each index, and the query term each id stands for
        let (mut proc_q, mut desc_q, mut ex_q) = (Vec::new(), Vec::new(), Vec::new());
        let (mut proc_name, mut desc_name, mut ex_name) = (HashMap::new(), HashMap::new(), HashMap::new());
        for (i, (t, _)) in terms.iter().enumerate() {
            if let Some(id) = self.ex.term(t) {
                ex_q.push(id);
                ex_name.insert(id, i);
            }
            if let Some(id) = self.proc.term(t) {
                proc_q.push(id);
                proc_name.insert(id, i);
            }
            if let Some(id) = self.desc.term(t) {
                desc_q.push(id);
                desc_name.insert(id, i);
            }
        }
        let shared_words = |ix: &Bm25, names: &HashMap<u32, usize>, q: &[u32], d: u32, n: usize| -> (Vec<String>, Option<Span>) {
            let shared = ix.shared_terms(d, q);
            let words = shared.iter().take(n).map(|x| terms[names[x]].0.clone()).collect();
            let sp = shared.first().map(|x| terms[names[x]].1.clone());
            (words, sp)
        };

        let mut acc = vec![0.0f32; self.proc.n_docs()];
        let mut touched = Vec::new();
        self.proc.score(&proc_q, &mut acc, &mut touched);
        let top_doc = touched.iter().map(|&d| acc[d as usize]).fold(0.0f32, f32::max);
        // per technique: the three best documents
        let mut best: HashMap<u32, [(f32, u32); 3]> = HashMap::new();
        for &d in &touched {
            let s = acc[d as usize];
            let slot = best.entry(self.proc_docs[d as usize].tech).or_insert([(0.0, u32::MAX); 3]);
            if s > slot[2].0 {
                slot[2] = (s, d);
                slot.sort_by(|a, b| b.0.total_cmp(&a.0));
            }
        }
        let proc_rank = ranked(best.iter().map(|(&t, s)| (t, s[0].0 + 0.5 * s[1].0 + 0.25 * s[2].0, s[0].1)).collect());

        let mut dacc = vec![0.0f32; self.desc.n_docs()];
        let mut dtouched = Vec::new();
        self.desc.score(&desc_q, &mut dacc, &mut dtouched);
        let desc_rank = ranked(dtouched.iter().map(|&d| (self.desc_docs[d as usize], dacc[d as usize], d)).collect());

        // named entities: their techniques, and how well their own procedure examples match
        for (e, sp) in &mentioned {
            let ent = &self.entities[*e as usize];
            let mut named_proc: HashMap<u32, (f32, u32)> = HashMap::new();
            if top_doc > 0.0 {
                for &d in &ent.docs {
                    let s = acc[d as usize] / top_doc;
                    if s > 0.0 {
                        let t = self.proc_docs[d as usize].tech;
                        let slot = named_proc.entry(t).or_insert((0.0, d));
                        if s > slot.0 {
                            *slot = (s, d);
                        }
                    }
                }
            }
            let (kind, label) = match ent.kind {
                EntityKind::Software => (EvidenceKind::Software, "software"),
                EntityKind::Group => (EvidenceKind::Group, "group"),
                EntityKind::Campaign => (EvidenceKind::Campaign, "campaign"),
            };
            for &(t, spec) in &ent.techniques {
                let b = cands.entry(t).or_default();
                let spec = spec as f64;
                let np = named_proc.get(&t).copied();
                let mut detail = format!("{label} {} ({}) is named; ATT&CK records it using this technique (specificity {:.2})", ent.name, ent.attack_id, spec);
                if let Some((s, d)) = np {
                    let (words, _) = shared_words(&self.proc, &proc_name, &proc_q, d, 4);
                    detail.push_str(&format!("; its procedure example matches the alert ({}): \"{}\"", words.join(", "), self.proc_docs[d as usize].snippet));
                    b.features.named_procedure = b.features.named_procedure.max(s as f64);
                }
                b.features.named = b.features.named.max(spec);
                b.evidence.push(Evidence { kind, detail, span: Some(sp.clone()) });
            }
        }

        // procedure similarity
        for h in counted(&proc_rank, |t| cands.contains_key(&t)) {
            let doc = &self.proc_docs[h.doc as usize];
            let (words, span) = shared_words(&self.proc, &proc_name, &proc_q, h.doc, 5);
            let (kind, source) = match (&doc.detection, doc.entity) {
                (Some(det), _) => (EvidenceKind::Detection, format!("detection strategy {det}")),
                (None, Some(e)) => {
                    let ent = &self.entities[e as usize];
                    (EvidenceKind::Procedure, format!("a procedure example of {} ({})", ent.name, ent.attack_id))
                }
                (None, None) => (EvidenceKind::Procedure, "a procedure example".to_string()),
            };
            let detail = format!("resembles {source} ({}): \"{}\"", h.said(&words), doc.snippet);
            let b = cands.entry(h.tech).or_default();
            b.features.agreement += h.agreement();
            (b.features.procedure_rel, b.features.procedure_abs) = (h.rel, h.abs);
            b.evidence.push(Evidence { kind, detail, span });
        }

        // description similarity
        for h in counted(&desc_rank, |t| cands.contains_key(&t)) {
            let (words, span) = shared_words(&self.desc, &desc_name, &desc_q, h.doc, 5);
            let detail = format!("resembles the technique's name and description ({})", h.said(&words));
            let b = cands.entry(h.tech).or_default();
            b.features.agreement += h.agreement();
            (b.features.description_rel, b.features.description_abs) = (h.rel, h.abs);
            b.evidence.push(Evidence { kind: EvidenceKind::Similarity, detail, span });
        }

        // labelled-example similarity: the best profile of each technique
        let mut eacc = vec![0.0f32; self.ex.n_docs()];
        let mut etouched = Vec::new();
        self.ex.score(&ex_q, &mut eacc, &mut etouched);
        let mut ex_best: HashMap<u32, (f32, u32)> = HashMap::new();
        for &d in &etouched {
            let slot = ex_best.entry(self.ex_docs[d as usize].0).or_insert((0.0, d));
            if eacc[d as usize] > slot.0 {
                *slot = (eacc[d as usize], d);
            }
        }
        let ex_rank = ranked(ex_best.into_iter().map(|(t, (s, d))| (t, s, d)).collect());
        for h in counted(&ex_rank, |t| cands.contains_key(&t)) {
            let (words, span) = shared_words(&self.ex, &ex_name, &ex_q, h.doc, 5);
            let detail = format!("resembles labelled examples of the technique ({}; {})", self.ex_docs[h.doc as usize].1, h.said(&words));
            let b = cands.entry(h.tech).or_default();
            b.features.agreement += h.agreement();
            (b.features.example_rel, b.features.example_abs) = (h.rel, h.abs);
            b.evidence.push(Evidence { kind: EvidenceKind::Example, detail, span });
        }

        // assemble: rule evidence first
        let mut out = Vec::with_capacity(cands.len());
        for (t, mut b) in cands {
            if !self.techs[t as usize].live {
                continue;
            }
            let mut rule_ev = Vec::new();
            let mut miss = 1.0;
            b.rules.sort_by(|x, y| self.rules[y.0].rule.def.weight.total_cmp(&self.rules[x.0].rule.def.weight).then(x.0.cmp(&y.0)));
            for (k, sp) in b.rules.drain(..) {
                let def = &self.rules[k].rule.def;
                miss *= 1.0 - def.weight;
                rule_ev.push(Evidence {
                    kind: EvidenceKind::Rule,
                    detail: format!("rule {} (weight {}): {}", def.id, def.weight, def.rationale),
                    span: Some(sp),
                });
            }
            b.features.rule = 1.0 - miss;
            // explicit IDs, then rules, then the rest in signal order
            let ids = b.evidence.iter().take_while(|e| e.kind.is_named_id()).count();
            let rest = b.evidence.split_off(ids);
            b.evidence.extend(rule_ev);
            b.evidence.extend(rest);
            if b.evidence.is_empty() {
                continue;
            }
            out.push(Candidate {
                technique: self.techs[t as usize].attack_id.clone(),
                features: b.features,
                id_confidence: b.id_confidence,
                evidence: b.evidence,
                tech: t,
            });
        }
        out.sort_by(|a, b| a.technique.cmp(&b.technique));
        out
    }
}
