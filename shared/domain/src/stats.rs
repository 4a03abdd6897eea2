//! Statistics across a tenant's mappings whose read cost does not grow with the mappings:
//! counters kept in the same write as every mapping change, bucketed by month and sharded.
//!
//! What is counted, per tenant and domain:
//! - mappings per (entity type, technique, tactic) and per (entity type, tactic);
//! - distinct entities per (entity type, technique) and per (entity type, tactic). An entity
//!   is what a mapping is of: its kind and the first entity id it holds (an alert mapping's
//!   alert, a case mapping's case). An entity with several mappings of one technique counts once.
//!
//! Time: a mapping counts in the month (UTC) of its `first_observed`; an entity counts for a
//! technique (or tactic) in the month it was first observed with it, the earliest
//! `first_observed` among its mappings of it. A window of months therefore holds exact
//! distinct counts: the entities first observed with the technique in the window.
//!
//! How the counters stay exact: for every (entity, technique) and (entity, tactic) a
//! presence record holds its mappings per month. A write reads the presence records it
//! touches, and [`change`] turns the write into their new states and the counter deltas,
//! which are applied all or nothing with the mapping (conditional on the records being as
//! read). Counters live in one bucket per month and one for all time, each split into
//! [`SHARDS`] shards by entity, so concurrent writers of a tenant spread over several items.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use mitre_attack::Domain;

use crate::mapping::{Mapping, MappingKind};
use crate::time::Timestamp;

/// Shards per bucket: an entity always lands in the same one.
pub const SHARDS: u32 = 8;

/// A month, `YYYY-MM` (UTC).
pub type Month = String;

pub fn month_of(t: Timestamp) -> Month {
    t.as_datetime().format("%Y-%m").to_string()
}

/// One counter of a bucket.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Counter {
    /// Distinct entities of `kind` with the technique.
    TechniqueEntities { kind: MappingKind, technique: String },
    /// Mappings of `kind` of the technique in the tactic, by the tactic's shortname as the
    /// mapping holds it (short: these are most of a bucket's counters).
    TechniqueMappings { kind: MappingKind, technique: String, tactic: String },
    /// Distinct entities of `kind` with the tactic (its identity, see [`Mapping::tactic_key`]).
    TacticEntities { kind: MappingKind, tactic: String },
    /// Mappings of `kind` in the tactic.
    TacticMappings { kind: MappingKind, tactic: String },
}

impl Counter {
    pub fn kind(&self) -> MappingKind {
        match self {
            Counter::TechniqueEntities { kind, .. }
            | Counter::TechniqueMappings { kind, .. }
            | Counter::TacticEntities { kind, .. }
            | Counter::TacticMappings { kind, .. } => *kind,
        }
    }

    /// Its stored name, short because a bucket holds thousands: `te|k|technique`,
    /// `tm|k|technique|tactic`, `ae|k|tactic`, `am|k|tactic`, with `k` the kind's initial.
    pub fn name(&self) -> String {
        let k = |kind: &MappingKind| &kind.as_str()[..1];
        match self {
            Counter::TechniqueEntities { kind, technique } => format!("te|{}|{technique}", k(kind)),
            Counter::TechniqueMappings { kind, technique, tactic } => format!("tm|{}|{technique}|{tactic}", k(kind)),
            Counter::TacticEntities { kind, tactic } => format!("ae|{}|{tactic}", k(kind)),
            Counter::TacticMappings { kind, tactic } => format!("am|{}|{tactic}", k(kind)),
        }
    }

    /// The counter a stored name names (None for any other attribute).
    pub fn parse(name: &str) -> Option<Counter> {
        let mut parts = name.split('|');
        let tag = parts.next()?;
        let initial = parts.next()?;
        let kind = MappingKind::ALL.into_iter().find(|k| initial.len() == 1 && k.as_str().starts_with(initial))?;
        let rest: Vec<&str> = parts.collect();
        Some(match (tag, rest.as_slice()) {
            ("te", [t]) => Counter::TechniqueEntities { kind, technique: t.to_string() },
            ("tm", [t, a]) => Counter::TechniqueMappings { kind, technique: t.to_string(), tactic: a.to_string() },
            ("ae", [a]) => Counter::TacticEntities { kind, tactic: a.to_string() },
            ("am", [a]) => Counter::TacticMappings { kind, tactic: a.to_string() },
            _ => return None,
        })
    }
}

/// Counter values; zeros are left out, so two equal sets of counts compare equal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregates {
    pub counts: BTreeMap<Counter, i64>,
}

impl Aggregates {
    pub fn add(&mut self, c: Counter, delta: i64) {
        if delta == 0 {
            return;
        }
        let v = self.counts.entry(c.clone()).or_insert(0);
        *v += delta;
        if *v == 0 {
            self.counts.remove(&c);
        }
    }

    pub fn merge(&mut self, other: &Aggregates) {
        for (c, d) in &other.counts {
            self.add(c.clone(), *d);
        }
    }

    pub fn get(&self, c: &Counter) -> i64 {
        self.counts.get(c).copied().unwrap_or(0)
    }

    /// The counters of `mappings` (one tenant's) in `domain` over `window`, counted from
    /// scratch: what the kept counters must always equal.
    pub fn recount<'a>(mappings: impl IntoIterator<Item = &'a Mapping>, domain: Domain, window: &Window) -> Aggregates {
        let mut agg = Aggregates::default();
        let mut first: HashMap<PresenceKey, Month> = HashMap::new();
        for m in mappings.into_iter().filter(|m| m.domain == domain) {
            let month = month_of(m.first_observed);
            if window.contains(&month) {
                agg.add(Counter::TechniqueMappings { kind: m.kind, technique: m.technique.to_string(), tactic: m.tactic.clone() }, 1);
                agg.add(Counter::TacticMappings { kind: m.kind, tactic: m.tactic_key().to_string() }, 1);
            }
            for key in PresenceKey::of(m) {
                let f = first.entry(key).or_insert_with(|| month.clone());
                if month < *f {
                    *f = month.clone();
                }
            }
        }
        for (key, month) in first {
            if window.contains(&month) {
                agg.add(key.entity_counter(), 1);
            }
        }
        agg
    }
}

/// Which months a read covers; unbounded ends cover every month on that side.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Window {
    pub from: Option<Month>,
    pub to: Option<Month>,
}

impl Window {
    pub fn all() -> Window {
        Window::default()
    }

    pub fn is_all(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }

    pub fn contains(&self, month: &str) -> bool {
        self.from.as_deref().is_none_or(|f| month >= f) && self.to.as_deref().is_none_or(|t| month <= t)
    }
}

/// A bucket of counters: all time, or one month.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bucket {
    All,
    Month(Month),
}

/// What a presence record is of: an entity and a technique or a tactic, in a domain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PresenceKey {
    pub domain: Domain,
    pub kind: MappingKind,
    /// The entity field (`alert_id`, ...) and its value.
    pub field: &'static str,
    pub entity: String,
    pub dim: Dim,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dim {
    Technique(String),
    /// The tactic's identity.
    Tactic(String),
}

impl PresenceKey {
    /// The two records a mapping is in: its entity with its technique, and with its tactic.
    pub fn of(m: &Mapping) -> [PresenceKey; 2] {
        let (field, entity) = stats_entity(m);
        let k = |dim| PresenceKey { domain: m.domain, kind: m.kind, field, entity: entity.to_string(), dim };
        [k(Dim::Technique(m.technique.to_string())), k(Dim::Tactic(m.tactic_key().to_string()))]
    }

    fn entity_counter(&self) -> Counter {
        match &self.dim {
            Dim::Technique(t) => Counter::TechniqueEntities { kind: self.kind, technique: t.clone() },
            Dim::Tactic(a) => Counter::TacticEntities { kind: self.kind, tactic: a.clone() },
        }
    }

    pub fn shard(&self) -> u32 {
        shard_of(self.kind, &self.entity)
    }
}

/// The entity a mapping counts for: its first entity field that holds a value.
pub fn stats_entity(m: &Mapping) -> (&'static str, &str) {
    m.kind.entity_fields().iter().find_map(|f| m.entity(f).map(|v| (*f, v))).unwrap_or((m.kind.entity_fields()[0], ""))
}

/// The shard of an entity (FNV-1a of kind and id).
pub fn shard_of(kind: MappingKind, entity: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in kind.as_str().bytes().chain([b'#']).chain(entity.bytes()) {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h % SHARDS
}

/// A presence record: the entity's mappings of the technique (or tactic) per month of first
/// observation, and the record's version (conditional writes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Presence {
    pub months: BTreeMap<Month, i64>,
    pub version: u64,
}

impl Presence {
    /// The month the entity counts in: its earliest.
    pub fn first(&self) -> Option<&Month> {
        self.months.iter().find(|(_, n)| **n > 0).map(|(m, _)| m)
    }

    pub fn is_empty(&self) -> bool {
        self.first().is_none()
    }
}

/// The counters of one bucket shard in one domain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BucketKey {
    pub domain: Domain,
    pub bucket: Bucket,
    pub shard: u32,
}

/// What one mapping write does to the statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsChange {
    /// Each record touched: as read (None: absent) and as it must be after (None: removed).
    pub presence: BTreeMap<PresenceKey, (Option<Presence>, Option<Presence>)>,
    /// Net counter deltas per bucket shard (no zero, no empty bucket).
    pub deltas: BTreeMap<BucketKey, Aggregates>,
}

impl StatsChange {
    pub fn is_empty(&self) -> bool {
        self.presence.is_empty() && self.deltas.is_empty()
    }
}

/// The presence records a write from `old` to `new` touches.
pub fn presence_keys(old: Option<&Mapping>, new: Option<&Mapping>) -> BTreeSet<PresenceKey> {
    old.into_iter().chain(new).flat_map(PresenceKey::of).collect()
}

/// The change of a write from `old` to `new` (a create has no `old`, a delete no `new`), given
/// the presence records it touches as read (`read`: absent ones left out).
pub fn change(old: Option<&Mapping>, new: Option<&Mapping>, read: &HashMap<PresenceKey, Presence>) -> StatsChange {
    change_counted(old, new, true, read)
}

/// [`change`], where `old_counted` says whether `old` is in the counters: a mapping stored
/// before statistics were kept is not, and its write counts `new` without taking `old` out.
pub fn change_counted(old: Option<&Mapping>, new: Option<&Mapping>, old_counted: bool, read: &HashMap<PresenceKey, Presence>) -> StatsChange {
    let old = old.filter(|_| old_counted);
    let mut out = StatsChange::default();
    let mut after: BTreeMap<PresenceKey, Presence> = BTreeMap::new();
    for key in presence_keys(old, new) {
        after.insert(key.clone(), read.get(&key).cloned().unwrap_or_default());
    }
    let mut add = |domain: Domain, bucket: Bucket, shard: u32, c: Counter, d: i64| {
        out.deltas.entry(BucketKey { domain, bucket, shard }).or_default().add(c, d);
    };
    for (m, d) in old.map(|m| (m, -1)).into_iter().chain(new.map(|m| (m, 1))) {
        let month = month_of(m.first_observed);
        let shard = shard_of(m.kind, stats_entity(m).1);
        for bucket in [Bucket::All, Bucket::Month(month.clone())] {
            add(m.domain, bucket.clone(), shard, Counter::TechniqueMappings { kind: m.kind, technique: m.technique.to_string(), tactic: m.tactic.clone() }, d);
            add(m.domain, bucket, shard, Counter::TacticMappings { kind: m.kind, tactic: m.tactic_key().to_string() }, d);
        }
        for key in PresenceKey::of(m) {
            if let Some(p) = after.get_mut(&key) {
                *p.months.entry(month.clone()).or_insert(0) += d;
                p.months.retain(|_, n| *n != 0);
            }
        }
    }
    for (key, now) in after {
        let was = read.get(&key);
        let (before_first, after_first) = (was.and_then(Presence::first).cloned(), now.first().cloned());
        if before_first != after_first {
            let (c, shard) = (key.entity_counter(), key.shard());
            if let Some(m) = &before_first {
                add(key.domain, Bucket::Month(m.clone()), shard, c.clone(), -1);
                add(key.domain, Bucket::All, shard, c.clone(), -1);
            }
            if let Some(m) = &after_first {
                add(key.domain, Bucket::Month(m.clone()), shard, c.clone(), 1);
                add(key.domain, Bucket::All, shard, c, 1);
            }
        }
        let unchanged = was.map(|w| &w.months) == Some(&now.months) || (was.is_none() && now.is_empty());
        if !unchanged {
            let version = was.map(|w| w.version).unwrap_or(0) + 1;
            let next = (!now.is_empty()).then_some(Presence { months: now.months, version });
            out.presence.insert(key, (was.cloned(), next));
        }
    }
    out.deltas.retain(|_, a| !a.counts.is_empty());
    out
}

/// The counters of `buckets` (what a read covers) summed over shards and buckets.
pub fn sum<'a>(buckets: impl IntoIterator<Item = &'a Aggregates>) -> Aggregates {
    let mut out = Aggregates::default();
    for b in buckets {
        out.merge(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TenantId;
    use mitre_attack::TechniqueId;

    fn mapping(kind: MappingKind, entity: &str, technique: &str, tactic: &str, first: &str) -> Mapping {
        let at = Timestamp::parse(first).unwrap();
        let mut m: Mapping = serde_json::from_value(serde_json::json!({
            "id": crate::new_id(), "kind": kind, "tenant": "acme", "technique": technique, "technique_name": "x",
            "domain": "enterprise-attack", "tactic": tactic, "confidence_score": 50, "detection_method": "siem",
            "impact_level": "low", "mitigation_status": "not_started", "first_observed": at, "last_observed": at,
            "created_by": "t", "created_at": at, "updated_by": "t", "updated_at": at, "version": 1
        }))
        .unwrap();
        let field = kind.entity_fields()[0];
        match field {
            "alert_id" => m.alert_id = Some(entity.into()),
            "case_id" => m.case_id = Some(entity.into()),
            "incident_id" => m.incident_id = Some(entity.into()),
            _ => m.observable_id = Some(entity.into()),
        }
        m.technique = TechniqueId::parse(technique).unwrap();
        m.tenant = TenantId::parse("acme").unwrap();
        m
    }

    /// Applies writes the way a store does and returns the kept counters per bucket.
    struct Kept {
        presence: HashMap<PresenceKey, Presence>,
        buckets: BTreeMap<BucketKey, Aggregates>,
    }

    impl Kept {
        fn new() -> Kept {
            Kept { presence: HashMap::new(), buckets: BTreeMap::new() }
        }

        fn write(&mut self, old: Option<&Mapping>, new: Option<&Mapping>) {
            let c = change(old, new, &self.presence);
            for (k, (_, after)) in c.presence {
                match after {
                    Some(p) => self.presence.insert(k, p),
                    None => self.presence.remove(&k),
                };
            }
            for (k, d) in c.deltas {
                self.buckets.entry(k).or_default().merge(&d);
            }
        }

        fn read(&self, window: &Window) -> Aggregates {
            sum(self
                .buckets
                .iter()
                .filter(|(k, _)| match &k.bucket {
                    Bucket::All => window.is_all(),
                    Bucket::Month(m) => !window.is_all() && window.contains(m),
                })
                .map(|(_, a)| a))
        }
    }

    #[test]
    fn distinct_entities_count_once_per_technique() {
        let mut kept = Kept::new();
        let a = mapping(MappingKind::Case, "C-1", "T1078", "initial-access", "2026-03-05T00:00:00Z");
        let b = mapping(MappingKind::Case, "C-1", "T1078", "persistence", "2026-01-05T00:00:00Z");
        let c = mapping(MappingKind::Case, "C-2", "T1078", "persistence", "2026-02-05T00:00:00Z");
        for m in [&a, &b, &c] {
            kept.write(None, Some(m));
        }
        let all = kept.read(&Window::all());
        let te = Counter::TechniqueEntities { kind: MappingKind::Case, technique: "T1078".into() };
        assert_eq!(all.get(&te), 2);
        assert_eq!(all.get(&Counter::TacticEntities { kind: MappingKind::Case, tactic: "persistence".into() }), 2);
        assert_eq!(all.get(&Counter::TacticMappings { kind: MappingKind::Case, tactic: "initial-access".into() }), 1);
        // C-1 counts in January (its earliest), C-2 in February
        let march = Window { from: Some("2026-03".into()), to: Some("2026-03".into()) };
        assert_eq!(kept.read(&march).get(&te), 0);
        assert_eq!(kept.read(&Window { from: Some("2026-01".into()), to: Some("2026-01".into()) }).get(&te), 1);
        // deleting the January mapping moves C-1 to March
        kept.write(Some(&b), None);
        assert_eq!(kept.read(&march).get(&te), 1);
        assert_eq!(kept.read(&Window::all()).get(&te), 2);
        for w in [Window::all(), march, Window { from: Some("2026-02".into()), to: None }] {
            assert_eq!(kept.read(&w), Aggregates::recount([&a, &c], Domain::EnterpriseAttack, &w));
        }
    }

    #[test]
    fn any_sequence_of_writes_keeps_the_recount() {
        // a small deterministic pseudo-random walk of creates, moves and deletes
        let mut kept = Kept::new();
        let mut live: Vec<Mapping> = Vec::new();
        let mut seed: u64 = 7;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let techniques = [("T1078", "persistence"), ("T1078", "initial-access"), ("T1059.001", "execution"), ("T1566", "initial-access")];
        for _ in 0..600 {
            let op = next(3);
            if op == 0 || live.is_empty() {
                let (t, a) = techniques[next(4) as usize];
                let kind = MappingKind::ALL[next(4) as usize];
                let m = mapping(kind, &format!("E-{}", next(5)), t, a, &format!("2026-0{}-10T00:00:00Z", 1 + next(4)));
                kept.write(None, Some(&m));
                live.push(m);
            } else if op == 1 {
                let i = next(live.len() as u64) as usize;
                let old = live[i].clone();
                let (t, a) = techniques[next(4) as usize];
                let mut new = old.clone();
                new.technique = TechniqueId::parse(t).unwrap();
                new.tactic = a.into();
                new.first_observed = Timestamp::parse(&format!("2026-0{}-10T00:00:00Z", 1 + next(4))).unwrap();
                kept.write(Some(&old), Some(&new));
                live[i] = new;
            } else {
                let i = next(live.len() as u64) as usize;
                let old = live.swap_remove(i);
                kept.write(Some(&old), None);
            }
            for w in [Window::all(), Window { from: Some("2026-02".into()), to: Some("2026-03".into()) }] {
                assert_eq!(kept.read(&w), Aggregates::recount(&live, Domain::EnterpriseAttack, &w));
            }
        }
        assert!(!live.is_empty());
    }

    #[test]
    fn counter_names_round_trip() {
        for c in [
            Counter::TechniqueEntities { kind: MappingKind::Alert, technique: "T1059.001".into() },
            Counter::TechniqueMappings {
                kind: MappingKind::Observable,
                technique: "T1059".into(),
                tactic: "x-mitre-tactic--4ca45d45-df4d-4613-8980-bac22d278fa5".into(),
            },
            Counter::TacticEntities { kind: MappingKind::Case, tactic: "execution".into() },
            Counter::TacticMappings { kind: MappingKind::Incident, tactic: "execution".into() },
        ] {
            assert_eq!(Counter::parse(&c.name()), Some(c));
        }
        assert_eq!(Counter::parse("pk"), None);
        assert_eq!(Counter::parse("te|nobody|T1"), None);
        assert_eq!(Counter::parse("te|x|T1"), None);
    }

    #[test]
    fn a_write_that_changes_nothing_counted_changes_no_counter() {
        let m = mapping(MappingKind::Alert, "A-1", "T1566", "initial-access", "2026-03-05T00:00:00Z");
        let mut read = HashMap::new();
        let first = change(None, Some(&m), &read);
        for (k, (_, after)) in &first.presence {
            read.insert(k.clone(), after.clone().unwrap());
        }
        let mut touched = m.clone();
        touched.confidence_score = 90;
        assert!(change(Some(&m), Some(&touched), &read).is_empty());
    }
}
