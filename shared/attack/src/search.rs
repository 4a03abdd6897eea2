//! Ranked search over the catalog: ATT&CK IDs, names, aliases and descriptions.
use crate::catalog::{DomainCatalog, Entity};

/// A parsed search query.
#[derive(Debug, Clone)]
pub struct Query {
    phrase: String,
    tokens: Vec<String>,
    id: Option<String>,
}

impl Query {
    /// None when the query has no searchable characters.
    pub fn parse(q: &str) -> Option<Query> {
        let phrase = q.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        let tokens: Vec<String> =
            phrase.split(|c: char| !c.is_alphanumeric() && c != '.').map(|t| t.trim_matches('.')).filter(|t| !t.is_empty()).map(str::to_string).collect();
        if tokens.is_empty() {
            return None;
        }
        let id = crate::ids::AttackId::parse(&phrase).ok().map(|a| a.as_str().to_string());
        Some(Query { phrase, tokens, id })
    }

    /// The score of one object; 0 means no match. Every token must appear in the ID, name,
    /// aliases or description.
    pub fn score(&self, attack_id: Option<&str>, name: &str, aliases: &[&str], description: &str) -> u32 {
        if let (Some(q), Some(id)) = (&self.id, attack_id) {
            if id.eq_ignore_ascii_case(q) {
                return 100_000;
            }
            if id.len() > q.len() && id[..q.len()].eq_ignore_ascii_case(q) && id.as_bytes()[q.len()] == b'.' {
                // sub-techniques of the technique asked for, in ID order
                return 90_000;
            }
        }
        let mut score = 0u32;
        if name == self.phrase {
            score += 50_000;
        } else if name.starts_with(&self.phrase) {
            score += 30_000;
        } else if name.contains(&self.phrase) {
            score += 25_000;
        }
        for a in aliases {
            if *a == self.phrase {
                score += 40_000;
            } else if a.contains(&self.phrase) {
                score += 15_000;
            }
        }
        if description.contains(&self.phrase) {
            score += 2_000;
        }
        for t in &self.tokens {
            let in_name = name.split(|c: char| !c.is_alphanumeric()).any(|w| w == t);
            let in_name_part = !in_name && name.contains(t.as_str());
            let in_alias = aliases.iter().any(|a| a.contains(t.as_str()));
            let hits = description.matches(t.as_str()).take(10).count() as u32;
            let in_id = attack_id.is_some_and(|id| id.eq_ignore_ascii_case(t));
            if !(in_name || in_name_part || in_alias || hits > 0 || in_id) {
                return 0;
            }
            score += if in_name {
                3_000
            } else if in_name_part {
                1_500
            } else {
                0
            };
            score += if in_alias { 1_000 } else { 0 };
            score += hits * 40;
        }
        score.max(1)
    }
}

/// Techniques matching `q`, best first: (index into `catalog.techniques`, score).
/// Ties go to active objects, then to techniques before sub-techniques, then by ATT&CK ID.
pub fn rank_techniques(catalog: &DomainCatalog, q: &Query, candidates: impl Iterator<Item = usize>) -> Vec<(usize, u32)> {
    let mut hits: Vec<(usize, u32)> = candidates
        .filter_map(|i| {
            let t = &catalog.techniques[i];
            let (name, desc) = catalog.technique_search_text(i);
            let s = q.score(Some(&t.attack_id), name, &[], desc);
            (s > 0).then_some((i, s))
        })
        .collect();
    hits.sort_by(|a, b| {
        let (ta, tb) = (&catalog.techniques[a.0], &catalog.techniques[b.0]);
        b.1.cmp(&a.1).then((ta.revoked || ta.deprecated).cmp(&(tb.revoked || tb.deprecated))).then(ta.attack_id.cmp(&tb.attack_id))
    });
    hits
}

/// The score of an entity (group, software, mitigation, ...).
pub fn score_entity(q: &Query, e: &Entity) -> u32 {
    let name = e.name.to_lowercase();
    let aliases: Vec<String> = e.aliases.iter().map(|a| a.to_lowercase()).collect();
    let alias_refs: Vec<&str> = aliases.iter().map(String::as_str).collect();
    q.score(e.attack_id.as_deref(), &name, &alias_refs, &e.description.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Domain, fixtures::small_bundle, parse_bundle};

    fn ids(c: &DomainCatalog, q: &str) -> Vec<String> {
        let q = Query::parse(q).unwrap();
        rank_techniques(c, &q, 0..c.techniques.len()).into_iter().map(|(i, _)| c.techniques[i].attack_id.clone()).collect()
    }

    #[test]
    fn ranks_ids_names_then_descriptions() {
        let text = small_bundle("2.0");
        let b = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).unwrap();
        let c = DomainCatalog::build(&b.objects, Domain::EnterpriseAttack, "1", "x");
        assert_eq!(ids(&c, "powershell")[0], "T1059.001");
        assert_eq!(ids(&c, "T1059"), ["T1059", "T1059.001"]);
        assert_eq!(ids(&c, "t1059.001"), ["T1059.001"]);
        assert_eq!(ids(&c, "interpreters commands")[0], "T1059");
        assert!(ids(&c, "nothing-like-this").is_empty());
        assert!(Query::parse("  ..  ").is_none());
    }
}
