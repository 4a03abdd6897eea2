//! The contract every implementation of the repositories keeps: run against the in-memory
//! repositories by `cargo test` and against DynamoDB Local by the integration tests.
//! Each function panics (with what broke) when the repository under test breaks a rule.
use mitre_attack::{Domain, TechniqueId};

use crate::audit::AuditEntry;
use crate::error::{RepoError, WriteError};
use crate::mapping::{Mapping, MappingInput, MappingKind, Resolved};
use crate::repo::{AccessRepo, AuditFilter, AuditLog, MappingFilter, MappingRepo, PrincipalRepo, StatsRepo, TacticFilter};
use crate::role::Principal;
use crate::stats::{Aggregates, Counter, Window};
use crate::tenant::TenantId;
use crate::time::Timestamp;

const EXECUTION: &str = "x-mitre-tactic--4ca45d45-df4d-4613-8980-bac22d278fa5";
const PERSISTENCE: &str = "x-mitre-tactic--5bc1d813-693e-4823-9961-abf9af4b0e92";

/// A tenant id no earlier run used.
pub fn fresh_tenant(name: &str) -> TenantId {
    TenantId::parse(&format!("{name}-{}", ulid::Ulid::new().to_string().to_lowercase())).expect("a valid tenant")
}

/// A resolved technique, as the catalog would answer it.
pub fn resolved(technique: &str, tactic: &str, tactic_id: &str) -> Resolved {
    Resolved {
        technique: TechniqueId::parse(technique).expect("a technique id"),
        name: format!("technique {technique}"),
        domain: Domain::EnterpriseAttack,
        tactic: tactic.into(),
        tactic_id: tactic_id.into(),
    }
}

/// A new alert mapping of `alert` in `tenant`.
pub fn alert_mapping(tenant: &TenantId, alert: &str, technique: &str, first_observed: &str) -> Mapping {
    let input = MappingInput {
        alert_id: Some(alert.into()),
        first_observed: Some(first_observed.into()),
        last_observed: Some(first_observed.into()),
        ..MappingInput::default()
    };
    Mapping::create(MappingKind::Alert, tenant, &input, resolved(technique, "execution", EXECUTION), "contract").expect("a valid mapping")
}

fn audit_of(m: &Mapping, action: &str) -> AuditEntry {
    AuditEntry::of(&m.tenant, "contract", action, m.target(), None, Some(m), "contract")
}

async fn audit_count(log: &impl AuditLog, tenant: &TenantId) -> usize {
    let mut n = 0;
    let mut cursor = None;
    loop {
        let page = log.list_audit(&AuditFilter { tenant: Some(tenant.clone()), ..AuditFilter::default() }, 100, cursor.as_deref()).await.expect("audit list");
        n += page.items.len();
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return n,
        }
    }
}

/// Every page of a mapping list, walked with `limit`.
pub async fn walk(repo: &impl MappingRepo, tenant: &TenantId, kind: MappingKind, filter: &MappingFilter, limit: usize) -> Vec<Mapping> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let page = repo.list_mappings(tenant, kind, filter, limit, cursor.as_deref()).await.expect("mapping list");
        assert!(page.items.len() <= limit, "a page holds at most its limit");
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
    panic!("the list never ended");
}

/// Create, read, the uniqueness of an observation, versions, delete; every write with its
/// audit entry and no audit entry for a refused write.
pub async fn mappings_keep_their_rules(repo: &(impl MappingRepo + AuditLog)) {
    let tenant = fresh_tenant("contract");
    let m = alert_mapping(&tenant, "A-1", "T1059.001", "2026-01-01T00:00:00Z");
    repo.create_mapping(&m, audit_of(&m, "mapping.create")).await.expect("create");
    assert_eq!(repo.mapping(&tenant, MappingKind::Alert, &m.id).await.unwrap().as_ref(), Some(&m), "read back as written");
    assert_eq!(
        repo.same_mapping(&alert_mapping(&tenant, "A-1", "T1059.001", "2026-02-01T00:00:00Z")).await.unwrap().map(|x| x.id),
        Some(m.id.clone()),
        "the same observation is found"
    );
    assert_eq!(audit_count(repo, &tenant).await, 1);

    // the same entity, technique and tactic again is a duplicate, and writes nothing
    let twin = alert_mapping(&tenant, "A-1", "T1059.001", "2026-03-01T00:00:00Z");
    assert!(matches!(repo.create_mapping(&twin, audit_of(&twin, "mapping.create")).await, Err(WriteError::Duplicate)));
    assert_eq!(repo.mapping(&tenant, MappingKind::Alert, &twin.id).await.unwrap(), None);
    assert_eq!(audit_count(repo, &tenant).await, 1, "no audit entry for a refused write");

    // versions: an update at the read version succeeds, a stale one fails and writes nothing
    let mut v2 = m.clone();
    v2.confidence_score = 90;
    v2.touch("contract");
    repo.update_mapping(&m, &v2, audit_of(&v2, "mapping.update")).await.expect("update");
    let mut lost = m.clone();
    lost.confidence_score = 10;
    lost.touch("contract");
    assert!(matches!(repo.update_mapping(&m, &lost, audit_of(&lost, "mapping.update")).await, Err(WriteError::Stale)));
    assert_eq!(repo.mapping(&tenant, MappingKind::Alert, &m.id).await.unwrap().unwrap().confidence_score, 90, "no lost update");
    assert_eq!(audit_count(repo, &tenant).await, 2);

    // changing the technique moves the observation: the old one is free, the new one taken
    let other = alert_mapping(&tenant, "A-1", "T1059.003", "2026-01-01T00:00:00Z");
    repo.create_mapping(&other, audit_of(&other, "mapping.create")).await.expect("another technique of the same alert");
    let mut clash = v2.clone();
    clash.technique = TechniqueId::parse("T1059.003").unwrap();
    clash.touch("contract");
    assert!(matches!(repo.update_mapping(&v2, &clash, audit_of(&clash, "mapping.update")).await, Err(WriteError::Duplicate)));
    let mut moved = v2.clone();
    moved.technique = TechniqueId::parse("T1059.006").unwrap();
    moved.touch("contract");
    repo.update_mapping(&v2, &moved, audit_of(&moved, "mapping.update")).await.expect("move to a free technique");
    assert_eq!(repo.same_mapping(&alert_mapping(&tenant, "A-1", "T1059.001", "2026-01-01T00:00:00Z")).await.unwrap(), None, "the old observation is free");
    assert_eq!(repo.same_mapping(&alert_mapping(&tenant, "A-1", "T1059.006", "2026-01-01T00:00:00Z")).await.unwrap().map(|x| x.id), Some(m.id.clone()));

    // delete: stale refused, current accepted, then gone and its observation free again
    assert!(matches!(repo.delete_mapping(&v2, audit_of(&v2, "mapping.delete")).await, Err(WriteError::Stale)));
    repo.delete_mapping(&moved, audit_of(&moved, "mapping.delete")).await.expect("delete");
    assert_eq!(repo.mapping(&tenant, MappingKind::Alert, &m.id).await.unwrap(), None);
    assert!(matches!(repo.delete_mapping(&moved, audit_of(&moved, "mapping.delete")).await, Err(WriteError::Stale)), "deleting twice");
    let again = alert_mapping(&tenant, "A-1", "T1059.006", "2026-01-01T00:00:00Z");
    repo.create_mapping(&again, audit_of(&again, "mapping.create")).await.expect("the observation can be made again");
    assert_eq!(audit_count(repo, &tenant).await, 6);
}

/// Another tenant's mappings are invisible: get, the same observation, lists.
pub async fn tenants_never_meet(repo: &(impl MappingRepo + AuditLog)) {
    let (acme, globex) = (fresh_tenant("acme"), fresh_tenant("globex"));
    let a = alert_mapping(&acme, "A-1", "T1059.001", "2026-01-01T00:00:00Z");
    repo.create_mapping(&a, audit_of(&a, "mapping.create")).await.unwrap();
    // the same alert id, technique and tactic in another tenant is another mapping
    let g = alert_mapping(&globex, "A-1", "T1059.001", "2026-01-01T00:00:00Z");
    repo.create_mapping(&g, audit_of(&g, "mapping.create")).await.expect("same ids, another tenant");
    assert_eq!(repo.mapping(&globex, MappingKind::Alert, &a.id).await.unwrap(), None);
    assert_eq!(repo.mapping(&acme, MappingKind::Incident, &a.id).await.unwrap(), None, "kinds apart");
    assert_eq!(repo.same_mapping(&alert_mapping(&globex, "A-1", "T1059.001", "2026-01-01T00:00:00Z")).await.unwrap().map(|m| m.id), Some(g.id.clone()));
    let all = MappingFilter::default();
    assert_eq!(walk(repo, &acme, MappingKind::Alert, &all, 10).await.iter().map(|m| &m.id).collect::<Vec<_>>(), [&a.id]);
    assert_eq!(walk(repo, &globex, MappingKind::Alert, &all, 10).await.iter().map(|m| &m.id).collect::<Vec<_>>(), [&g.id]);
    let log = repo.list_audit(&AuditFilter { tenant: Some(acme.clone()), ..AuditFilter::default() }, 10, None).await.unwrap();
    assert!(log.items.iter().all(|e| e.tenant == acme));
    assert_eq!(log.items.len(), 1);
}

/// Lists: filters, id order, pages that walk every item once, cursors bound to their list.
pub async fn lists_filter_and_page(repo: &(impl MappingRepo + AuditLog)) {
    let tenant = fresh_tenant("lists");
    let mut made = Vec::new();
    for (i, (alert, case, technique, day)) in [
        ("A-1", Some("C-1"), "T1059.001", "01"),
        ("A-2", Some("C-1"), "T1059.001", "05"),
        ("A-3", None, "T1003.001", "10"),
        ("A-4", Some("C-2"), "T1003.001", "15"),
        ("A-5", Some("C-1"), "T1547.001", "20"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut m = alert_mapping(&tenant, alert, technique, &format!("2026-01-{day}T00:00:00Z"));
        m.case_id = case.map(str::to_string);
        if i == 4 {
            m.tactic = "persistence".into();
            m.tactic_id = Some(PERSISTENCE.into());
        }
        repo.create_mapping(&m, audit_of(&m, "mapping.create")).await.unwrap();
        made.push(m);
    }
    // a mapping written before tactic identities were stored
    let mut legacy = alert_mapping(&tenant, "A-6", "T1547.001", "2026-01-25T00:00:00Z");
    legacy.tactic = "persistence".into();
    legacy.tactic_id = None;
    repo.create_mapping(&legacy, audit_of(&legacy, "mapping.create")).await.unwrap();
    made.push(legacy);
    let ids = |v: &[Mapping]| v.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
    // ids are ULIDs: lists come in id order, which is creation order across milliseconds
    let pick = |is: &[usize]| {
        let mut v: Vec<String> = is.iter().map(|&i| made[i].id.clone()).collect();
        v.sort();
        v
    };

    let all = walk(repo, &tenant, MappingKind::Alert, &MappingFilter::default(), 2).await;
    assert_eq!(ids(&all), pick(&[0, 1, 2, 3, 4, 5]), "every mapping once, in id order");
    let by_case = MappingFilter { entities: vec![entity(MappingKind::Case, "C-1")], ..MappingFilter::default() };
    assert_eq!(ids(&walk(repo, &tenant, MappingKind::Alert, &by_case, 1).await), pick(&[0, 1, 4]));
    let by_both = MappingFilter { entities: vec![entity(MappingKind::Case, "C-1"), entity(MappingKind::Alert, "A-2")], ..MappingFilter::default() };
    assert_eq!(ids(&walk(repo, &tenant, MappingKind::Alert, &by_both, 10).await), pick(&[1]));
    let by_technique = MappingFilter { technique: Some(TechniqueId::parse("T1003.001").unwrap()), ..MappingFilter::default() };
    assert_eq!(ids(&walk(repo, &tenant, MappingKind::Alert, &by_technique, 1).await), pick(&[2, 3]));
    let by_both = MappingFilter {
        technique: Some(TechniqueId::parse("T1059.001").unwrap()),
        entities: vec![entity(MappingKind::Case, "C-1")],
        ..MappingFilter::default()
    };
    assert_eq!(ids(&walk(repo, &tenant, MappingKind::Alert, &by_both, 10).await), pick(&[0, 1]));
    let by_tactic =
        MappingFilter { tactic: Some(TacticFilter { stix_id: Some(PERSISTENCE.into()), shortname: "persistence".into() }), ..MappingFilter::default() };
    assert_eq!(ids(&walk(repo, &tenant, MappingKind::Alert, &by_tactic, 10).await), pick(&[4, 5]), "by identity, and older mappings by shortname");
    let window = MappingFilter {
        observed_from: Some(Timestamp::parse("2026-01-05T00:00:00Z").unwrap()),
        observed_to: Some(Timestamp::parse("2026-01-15T00:00:00Z").unwrap()),
        ..MappingFilter::default()
    };
    assert_eq!(ids(&walk(repo, &tenant, MappingKind::Alert, &window, 1).await), pick(&[1, 2, 3]));
    assert!(walk(repo, &tenant, MappingKind::Case, &MappingFilter::default(), 10).await.is_empty(), "kinds apart");

    // a cursor belongs to its list
    let page = repo.list_mappings(&tenant, MappingKind::Alert, &MappingFilter::default(), 1, None).await.unwrap();
    let cursor = page.next_cursor.expect("more pages");
    assert!(matches!(repo.list_mappings(&tenant, MappingKind::Alert, &by_case, 1, Some(&cursor)).await, Err(RepoError::BadCursor)));
    assert!(matches!(
        repo.list_mappings(&fresh_tenant("other"), MappingKind::Alert, &MappingFilter::default(), 1, Some(&cursor)).await,
        Err(RepoError::BadCursor)
    ));
    assert!(matches!(repo.list_mappings(&tenant, MappingKind::Alert, &MappingFilter::default(), 1, Some("garbage")).await, Err(RepoError::BadCursor)));
}

/// The registry: put, read, list, delete only as read; every change audited.
pub async fn principals_are_registered_and_removed(repo: &(impl PrincipalRepo + AuditLog)) {
    let tenant = fresh_tenant("registry");
    let arn = format!("arn:aws:iam::123456789012:user/{}", tenant.as_str());
    let p = Principal::register(&arn, tenant.as_str(), "analyst", &[], "contract", None).unwrap();
    let audit = |action: &str, before: Option<&Principal>, after: Option<&Principal>| {
        AuditEntry::of(&tenant, "contract", action, format!("principals/{arn}"), before, after, "contract")
    };
    repo.put_principal(&p, audit("principal.put", None, Some(&p))).await.unwrap();
    assert_eq!(repo.principal(&arn).await.unwrap().as_ref(), Some(&p));
    assert!(repo.principals().await.unwrap().contains(&p));
    std::thread::sleep(std::time::Duration::from_millis(2));
    let admin = Principal::register(&arn, tenant.as_str(), "admin", &[], "contract", Some(&p)).unwrap();
    repo.put_principal(&admin, audit("principal.put", Some(&p), Some(&admin))).await.unwrap();
    // removing the entry as first read fails: it changed since
    assert!(matches!(repo.delete_principal(&p, audit("principal.delete", Some(&p), None)).await, Err(WriteError::Stale)));
    repo.delete_principal(&admin, audit("principal.delete", Some(&admin), None)).await.unwrap();
    assert_eq!(repo.principal(&arn).await.unwrap(), None);
    assert_eq!(audit_count(repo, &tenant).await, 3);
}

/// The audit log: newest first, filters, pages, every tenant for superusers.
pub async fn the_audit_log_reads_newest_first(repo: &impl AuditLog) {
    let (a, b) = (fresh_tenant("audit-a"), fresh_tenant("audit-b"));
    let mut ids = Vec::new();
    for (i, tenant) in [&a, &b, &a, &a, &b].into_iter().enumerate() {
        let e = AuditEntry::new(
            tenant,
            if i % 2 == 0 { "alice" } else { "bob" },
            if i == 3 { "mapping.delete" } else { "mapping.create" },
            format!("alert-mappings/{i}"),
            None,
            None,
            "contract",
        );
        ids.push(e.id.clone());
        repo.append_audit(e).await.unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let list = |filter: AuditFilter, limit: usize| async move {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = repo.list_audit(&filter, limit, cursor.as_deref()).await.unwrap();
            out.extend(page.items.into_iter().map(|e| e.id));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return out,
            }
        }
    };
    assert_eq!(list(AuditFilter { tenant: Some(a.clone()), ..AuditFilter::default() }, 1).await, [ids[3].clone(), ids[2].clone(), ids[0].clone()]);
    assert_eq!(
        list(AuditFilter { tenant: Some(a.clone()), action: Some("mapping.create".into()), ..AuditFilter::default() }, 10).await,
        [ids[2].clone(), ids[0].clone()]
    );
    assert_eq!(list(AuditFilter { tenant: Some(b.clone()), actor: Some("bob".into()), ..AuditFilter::default() }, 10).await, [ids[1].clone()]);
    // every tenant (a superuser's view) holds both tenants' entries, newest first
    let everyone: Vec<String> = list(AuditFilter::default(), 50).await;
    let ours: Vec<&String> = everyone.iter().filter(|id| ids.contains(id)).collect();
    assert_eq!(ours, ids.iter().rev().collect::<Vec<_>>());
}

/// The statistics follow every write and equal a recount: distinct entities stay exact when an
/// entity has several mappings of a technique, refused writes count nothing, and other
/// tenants' mappings never show.
pub async fn statistics_equal_a_recount(repo: &(impl MappingRepo + StatsRepo + AuditLog)) {
    let (tenant, other) = (fresh_tenant("stats"), fresh_tenant("stats-other"));
    let windows = [
        Window::all(),
        Window { from: Some("2026-02".into()), to: Some("2026-02".into()) },
        Window { from: Some("2026-02".into()), to: None },
        Window { from: None, to: Some("2026-01".into()) },
    ];
    let check = |what: &'static str| {
        let tenant = tenant.clone();
        let windows = windows.clone();
        async move {
            let all = repo.all_mappings(&tenant, &MappingKind::ALL, &MappingFilter::default()).await.expect("all mappings");
            for w in &windows {
                let kept = repo.statistics(&tenant, Domain::EnterpriseAttack, w).await.expect("statistics");
                assert_eq!(kept, Aggregates::recount(&all, Domain::EnterpriseAttack, w), "{what}: the counters of {w:?} equal a recount");
            }
        }
    };
    let a = alert_mapping(&tenant, "A-1", "T1059.001", "2026-02-03T00:00:00Z");
    let b = alert_mapping(&tenant, "A-1", "T1059.001", "2026-01-03T00:00:00Z");
    let mut b = b;
    b.tactic = "persistence".into();
    b.tactic_id = Some(PERSISTENCE.into());
    let c = alert_mapping(&tenant, "A-2", "T1059.001", "2026-02-09T00:00:00Z");
    let elsewhere = alert_mapping(&other, "A-9", "T1059.001", "2026-02-09T00:00:00Z");
    for m in [&a, &b, &c, &elsewhere] {
        repo.create_mapping(m, audit_of(m, "mapping.create")).await.expect("create");
    }
    check("after creates").await;
    let te = Counter::TechniqueEntities { kind: MappingKind::Alert, technique: "T1059.001".into() };
    let all = repo.statistics(&tenant, Domain::EnterpriseAttack, &Window::all()).await.unwrap();
    assert_eq!(all.get(&te), 2, "A-1 has two mappings of T1059.001 and counts once");
    assert_eq!(all.get(&Counter::TechniqueMappings { kind: MappingKind::Alert, technique: "T1059.001".into(), tactic: "execution".into() }), 2);

    // a refused duplicate counts nothing
    let twin = alert_mapping(&tenant, "A-2", "T1059.001", "2026-03-01T00:00:00Z");
    assert!(matches!(repo.create_mapping(&twin, audit_of(&twin, "mapping.create")).await, Err(WriteError::Duplicate)));
    check("after a refused duplicate").await;

    // an update that moves technique and month, a stale one, a delete
    let mut moved = b.clone();
    moved.technique = TechniqueId::parse("T1053.005").unwrap();
    moved.first_observed = Timestamp::parse("2026-03-01T00:00:00Z").unwrap();
    moved.last_observed = moved.first_observed;
    moved.touch("contract");
    repo.update_mapping(&b, &moved, audit_of(&moved, "mapping.update")).await.expect("update");
    assert!(matches!(repo.update_mapping(&b, &moved, audit_of(&moved, "mapping.update")).await, Err(WriteError::Stale)));
    check("after a move").await;
    repo.delete_mapping(&a, audit_of(&a, "mapping.delete")).await.expect("delete");
    check("after a delete").await;
    let all = repo.statistics(&tenant, Domain::EnterpriseAttack, &Window::all()).await.unwrap();
    assert_eq!(all.get(&te), 1, "only A-2 has T1059.001 now");
    assert_eq!(repo.statistics(&tenant, Domain::MobileAttack, &Window::all()).await.unwrap(), Aggregates::default(), "nothing in another domain");
}

/// `n` mappings of `tenant` across `entities` entities (alerts, incidents, cases and
/// observables in turn), on live techniques of `catalog` with a skewed popularity (a few
/// techniques common, most rare), each entity's mappings distinct observations, first observed
/// over twelve months from 2025-07. Deterministic in `seed`.
pub fn synthetic_mappings(catalog: &mitre_attack::catalog::DomainCatalog, tenant: &TenantId, n: usize, entities: usize, seed: u64) -> Vec<Mapping> {
    let live: Vec<&mitre_attack::catalog::Technique> = catalog.techniques.iter().filter(|t| !t.revoked && !t.deprecated && !t.tactics.is_empty()).collect();
    assert!(!live.is_empty() && entities > 0, "a catalog with live techniques and at least one entity");
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let start = Timestamp::parse("2025-07-01T00:00:00Z").expect("a timestamp").as_datetime();
    let mut taken: std::collections::HashSet<(usize, usize, usize)> = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    for j in 0..n {
        let e = j % entities;
        let kind = MappingKind::ALL[e % 4];
        let (mut ti, mut ai);
        loop {
            // squaring a uniform draw skews towards the first techniques
            let u = (next() % 10_000) as f64 / 10_000.0;
            ti = ((u * u) * live.len() as f64) as usize % live.len();
            ai = (next() as usize) % live[ti].tactics.len();
            if taken.insert((e, ti, ai)) {
                break;
            }
        }
        let t = live[ti];
        let field = kind.entity_fields()[0];
        let id = format!("{}-{e:05}", kind.as_str().to_uppercase());
        let at = start + chrono::Duration::minutes(((e as i64 * 7_919 + j as i64 * 104_729) % (365 * 24 * 60)).abs());
        let at = Timestamp::from_datetime(at).to_string();
        let mut input = MappingInput {
            first_observed: Some(at.clone()),
            last_observed: Some(at),
            confidence_score: Some(1 + (next() % 100) as i64),
            ..MappingInput::default()
        };
        match field {
            "alert_id" => input.alert_id = Some(id),
            "case_id" => input.case_id = Some(id),
            "incident_id" => input.incident_id = Some(id),
            _ => input.observable_id = Some(id),
        }
        let resolved = crate::mapping::resolve([catalog], &t.attack_id, Some(&t.tactics[ai])).expect("a live technique resolves");
        out.push(Mapping::create(kind, tenant, &input, resolved, "synthetic").expect("a valid mapping"));
    }
    out
}

/// An entity reference of a test.
pub fn entity(kind: MappingKind, id: &str) -> crate::access::EntityRef {
    crate::access::EntityRef::parse(kind, id).expect("a valid entity id")
}

/// Entity access: records count the mappings naming them, a change applies to every mapping of
/// the entity at once (and to no other), lists show the caller only what its sight admits,
/// stale changes and writes with copies of an older access are refused.
pub async fn access_follows_the_entity(repo: &(impl MappingRepo + AccessRepo + AuditLog)) {
    use crate::access::{EntityAccess, Sight};
    let tenant = fresh_tenant("access");
    let case = entity(MappingKind::Case, "C-7");
    let other = entity(MappingKind::Case, "C-8");
    let stamped = |m: Mapping, records: &[EntityAccess]| m.stamped(records);
    let input = |case_id: &str, alert: Option<&str>| MappingInput { case_id: Some(case_id.into()), alert_id: alert.map(Into::into), ..MappingInput::default() };
    let records = repo.entity_access(&tenant, &[case.clone(), other.clone()]).await.expect("access");
    assert_eq!(records[0], EntityAccess::open(case.clone()), "an entity without a record is open at version 0");
    let mut made = Vec::new();
    for (technique, case_id, alert) in [("T1059", "C-7", None), ("T1053", "C-7", Some("A-1")), ("T1098", "C-8", None)] {
        let kind = if alert.is_some() { MappingKind::Alert } else { MappingKind::Case };
        let m = Mapping::create(kind, &tenant, &input(case_id, alert), resolved(technique, "execution", EXECUTION), "contract").expect("mapping");
        let records = repo.entity_access(&tenant, &m.entities()).await.expect("access");
        let m = stamped(m, &records);
        repo.create_mapping(&m, audit_of(&m, "mapping.create")).await.expect("create");
        made.push(m);
    }
    let before = repo.entity_access(&tenant, std::slice::from_ref(&case)).await.expect("access").remove(0);
    assert_eq!((before.version, before.mappings), (0, 2), "{before:?}");

    // restrict the case: both mappings naming it change at once, the other case's does not
    let after = before.changed(Some(vec!["ir".into()]), "contract");
    let audit = AuditEntry::of(&tenant, "contract", "access.put", "entities/case/C-7/access".into(), Some(&before), Some(&after), "contract");
    repo.change_access(&tenant, &before, &after, audit.clone()).await.expect("change");
    let stored = repo.entity_access(&tenant, std::slice::from_ref(&case)).await.expect("access").remove(0);
    assert_eq!((stored.version, stored.groups.clone(), stored.mappings), (1, Some(vec!["ir".to_string()]), 2));
    for m in &made[..2] {
        let now = repo.mapping(&tenant, m.kind, &m.id).await.expect("get").expect("present");
        assert_eq!(now.version, m.version + 1, "the access change bumps the version of {}", m.id);
        assert_eq!(now.access.get(&MappingKind::Case).and_then(|s| s.groups.clone()), Some(vec!["ir".to_string()]));
    }
    let untouched = repo.mapping(&tenant, made[2].kind, &made[2].id).await.expect("get").expect("present");
    assert_eq!(untouched.version, made[2].version);
    // a change at the old version is stale
    assert!(matches!(repo.change_access(&tenant, &before, &after, audit).await, Err(WriteError::Stale)));

    // what each sight lists, of both kinds
    let outsider = Sight::Groups(["hr".to_string()].into());
    let member = Sight::Groups(["ir".to_string()].into());
    for (sight, expected) in [(Sight::Everything, 3), (member, 3), (outsider.clone(), 1)] {
        let mut n = 0;
        for kind in [MappingKind::Case, MappingKind::Alert] {
            n += walk(repo, &tenant, kind, &MappingFilter { sight: sight.clone(), ..MappingFilter::default() }, 1).await.len();
        }
        assert_eq!(n, expected, "{sight:?}");
    }
    let by_case = MappingFilter { entities: vec![case.clone()], sight: outsider, ..MappingFilter::default() };
    assert!(repo.all_mappings(&tenant, &MappingKind::ALL, &by_case).await.expect("all").is_empty());

    // a write with copies of the old access is overtaken, not written
    let stale = Mapping::create(MappingKind::Case, &tenant, &input("C-7", None), resolved("T1106", "execution", EXECUTION), "contract").expect("mapping");
    let stale = stamped(stale, std::slice::from_ref(&before));
    assert!(matches!(repo.create_mapping(&stale, audit_of(&stale, "mapping.create")).await, Err(WriteError::Contended)));
    let current = repo.mapping(&tenant, made[0].kind, &made[0].id).await.expect("get").expect("present");
    let mut old_copy = current.clone();
    old_copy.access.insert(MappingKind::Case, before.stamp());
    let mut changed = old_copy.clone();
    changed.confidence_score = 90;
    changed.touch("contract");
    assert!(matches!(repo.update_mapping(&old_copy, &changed, audit_of(&changed, "mapping.update")).await, Err(WriteError::Contended)));
    // with current copies it goes through, and a delete counts the mapping out
    repo.delete_mapping(&current, audit_of(&current, "mapping.delete")).await.expect("delete");
    let stored = repo.entity_access(&tenant, std::slice::from_ref(&case)).await.expect("access").remove(0);
    assert_eq!(stored.mappings, 1);

    // opening the entity again
    let open = stored.changed(None, "contract");
    let audit = AuditEntry::of(&tenant, "contract", "access.delete", "entities/case/C-7/access".into(), Some(&stored), Some(&open), "contract");
    repo.change_access(&tenant, &stored, &open, audit).await.expect("open");
    let m = repo.mapping(&tenant, made[1].kind, &made[1].id).await.expect("get").expect("present");
    assert!(Sight::Groups(Default::default()).sees(&m), "{:?}", m.access);
}

/// An entity with more mappings than one transaction holds changes access too: every mapping
/// ends with the new access and the record's count, and writes go on afterwards.
pub async fn a_large_entity_changes_access(repo: &(impl MappingRepo + AccessRepo + AuditLog)) {
    use crate::access::Sight;
    let tenant = fresh_tenant("large");
    let case = entity(MappingKind::Case, "C-LARGE");
    let n = crate::repo::MAX_ATOMIC_MAPPINGS + 22;
    for i in 0..n {
        let input = MappingInput { case_id: Some("C-LARGE".into()), alert_id: Some(format!("A-{i}")), ..MappingInput::default() };
        let m = Mapping::create(MappingKind::Alert, &tenant, &input, resolved("T1059", "execution", EXECUTION), "contract").expect("mapping");
        let records = repo.entity_access(&tenant, &m.entities()).await.expect("access");
        let m = m.stamped(&records);
        repo.create_mapping(&m, audit_of(&m, "mapping.create")).await.expect("create");
    }
    let before = repo.entity_access(&tenant, std::slice::from_ref(&case)).await.expect("access").remove(0);
    assert_eq!(before.mappings, n as i64);
    let after = before.changed(Some(vec!["ir".into()]), "contract");
    let audit = AuditEntry::of(&tenant, "contract", "access.put", "cases/C-LARGE/access".into(), Some(&before), Some(&after), "contract");
    repo.change_access(&tenant, &before, &after, audit).await.expect("a large change");
    let stored = repo.entity_access(&tenant, std::slice::from_ref(&case)).await.expect("access").remove(0);
    assert_eq!((stored.version, stored.pending.clone(), stored.mappings), (1, None, n as i64), "{stored:?}");
    let all =
        repo.all_mappings(&tenant, &[MappingKind::Alert], &MappingFilter { entities: vec![case.clone()], ..MappingFilter::default() }).await.expect("all");
    assert_eq!(all.len(), n);
    assert!(all.iter().all(|m| m.access.get(&MappingKind::Case) == Some(&stored.stamp())), "every mapping carries the new access");
    let outsider = MappingFilter { entities: vec![case.clone()], sight: Sight::Groups(["hr".to_string()].into()), ..MappingFilter::default() };
    assert!(repo.all_mappings(&tenant, &[MappingKind::Alert], &outsider).await.expect("all").is_empty());
    // writes of the entity go on with the new access
    let input = MappingInput { case_id: Some("C-LARGE".into()), alert_id: Some("A-NEW".into()), ..MappingInput::default() };
    let m = Mapping::create(MappingKind::Alert, &tenant, &input, resolved("T1059", "execution", EXECUTION), "contract").expect("mapping");
    let records = repo.entity_access(&tenant, &m.entities()).await.expect("access");
    let m = m.stamped(&records);
    repo.create_mapping(&m, audit_of(&m, "mapping.create")).await.expect("a write after the change");
}

/// Lists filter on every field an analyst reviews by, alone and combined, every page.
pub async fn lists_filter_on_review_fields(repo: &(impl MappingRepo + AuditLog)) {
    use crate::mapping::{DetectionMethod, ImpactLevel, MitigationStatus};
    let tenant = fresh_tenant("review");
    let mut made = Vec::new();
    for i in 0..12u8 {
        let mut m = alert_mapping(&tenant, &format!("A-{i}"), "T1059", "2026-03-01T00:00:00Z");
        m.confidence_score = 10 + i * 7;
        m.detection_method = if i % 3 == 0 { DetectionMethod::AutoSuggested } else { DetectionMethod::Edr };
        m.impact_level = [ImpactLevel::Low, ImpactLevel::Medium, ImpactLevel::High][usize::from(i % 3)];
        m.mitigation_status = if i % 2 == 0 { MitigationStatus::Completed } else { MitigationStatus::NotStarted };
        m.needs_review = (i % 4 == 0).then(|| "check".to_string());
        m.created_by = if i < 6 { "arn:aws:iam::1:user/ann".into() } else { "arn:aws:iam::1:user/bob".into() };
        repo.create_mapping(&m, audit_of(&m, "mapping.create")).await.expect("create");
        made.push(m);
    }
    let filters = [
        MappingFilter { detection_method: Some(DetectionMethod::Edr), ..MappingFilter::default() },
        MappingFilter { impact_level: Some(ImpactLevel::High), mitigation_status: Some(MitigationStatus::NotStarted), ..MappingFilter::default() },
        MappingFilter { confidence_min: Some(30), confidence_max: Some(70), ..MappingFilter::default() },
        MappingFilter { auto_suggested: Some(true), ..MappingFilter::default() },
        MappingFilter { auto_suggested: Some(false), needs_review: Some(true), ..MappingFilter::default() },
        MappingFilter { needs_review: Some(false), created_by: Some("arn:aws:iam::1:user/bob".into()), ..MappingFilter::default() },
    ];
    for f in filters {
        let expected: Vec<&str> = made.iter().filter(|m| f.admits(m)).map(|m| m.id.as_str()).collect();
        let got = walk(repo, &tenant, MappingKind::Alert, &f, 2).await;
        let got: Vec<&str> = got.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(got, expected, "{f:?}");
        assert!(!expected.is_empty() && expected.len() < made.len(), "the filter selects some: {f:?}");
    }
}

/// Release changes are found by pair and the latest by release (not by when they were
/// computed); histories are the tenant's own.
pub async fn insights_are_kept_by_release_and_tenant(repo: &impl crate::InsightRepo) {
    use crate::insight::{HistoryRecord, ReleaseChangeRecord};
    use mitre_attack::Domain;
    // a domain of its own per run, so that a shared table's earlier runs do not interfere
    let domain = Domain::MobileAttack;
    let change = |from: &str, to: &str, byte: u8| ReleaseChangeRecord {
        domain,
        from: from.into(),
        to: to.into(),
        computed_at: Timestamp::now(),
        changes: vec![byte; 3],
    };
    // releases far above any real one (10 sorts after 1)
    let (a, b, c) = ("99990.0".to_string(), "99990.1".to_string(), "99990.10".to_string());
    repo.put_release_changes(&change(&b, &c, 2)).await.unwrap();
    repo.put_release_changes(&change(&a, &b, 1)).await.unwrap();
    let latest = repo.release_changes(domain, None).await.unwrap().unwrap();
    assert_eq!((latest.from.as_str(), latest.to.as_str(), latest.changes.as_slice()), (b.as_str(), c.as_str(), &[2u8, 2, 2][..]), "the latest by release");
    let named = repo.release_changes(domain, Some((&a, &b))).await.unwrap().unwrap();
    assert_eq!(named.changes, vec![1; 3]);
    assert!(repo.release_changes(domain, Some((&a, &c))).await.unwrap().is_none());
    assert!(repo.release_changes(domain, Some(("x", "y"))).await.unwrap().is_none());
    // recomputed: replaced
    repo.put_release_changes(&change(&a, &b, 7)).await.unwrap();
    assert_eq!(repo.release_changes(domain, Some((&a, &b))).await.unwrap().unwrap().changes, vec![7; 3]);

    let (t1, t2) = (fresh_tenant("insight-a"), fresh_tenant("insight-b"));
    let history = |tenant: &TenantId, byte: u8| HistoryRecord {
        tenant: tenant.clone(),
        domain: Domain::EnterpriseAttack,
        built_at: Timestamp::now(),
        entities: byte as u64,
        mappings: 2 * byte as u64,
        history: vec![byte; 5],
    };
    repo.put_history(&history(&t1, 1)).await.unwrap();
    assert!(repo.history(&t2, Domain::EnterpriseAttack).await.unwrap().is_none(), "another tenant's history is not this tenant's");
    assert!(repo.history(&t1, Domain::IcsAttack).await.unwrap().is_none());
    repo.put_history(&history(&t2, 2)).await.unwrap();
    repo.put_history(&history(&t1, 3)).await.unwrap();
    let got = repo.history(&t1, Domain::EnterpriseAttack).await.unwrap().unwrap();
    assert_eq!((got.entities, got.mappings, got.history), (3, 6, vec![3; 5]), "replaced");
    assert_eq!(repo.history(&t2, Domain::EnterpriseAttack).await.unwrap().unwrap().history, vec![2; 5]);
}

/// A confirmation and a removal of auto-mappings awaiting review are counted for their tenant,
/// in the write itself; a manual mapping's removal is not a verdict, and no other tenant sees any.
pub async fn reviews_teach_their_tenant_alone(repo: &(impl MappingRepo + crate::FeedbackRepo + AuditLog)) {
    use crate::mapping::DetectionMethod;
    let (t, other) = (fresh_tenant("verdicts"), fresh_tenant("verdicts-other"));
    let auto = |alert: &str, technique: &str| {
        let mut m = alert_mapping(&t, alert, technique, "2026-01-01T00:00:00Z");
        m.detection_method = DetectionMethod::AutoSuggested;
        m.evidence = vec![serde_json::json!({"kind": "rule", "detail": format!("rule for {technique}")})];
        m
    };
    let (a, b, manual) = (auto("A-1", "T1059.001"), auto("A-2", "T1105"), alert_mapping(&t, "A-3", "T1003.001", "2026-01-01T00:00:00Z"));
    for m in [&a, &b, &manual] {
        repo.create_mapping(m, audit_of(m, "mapping.create")).await.unwrap();
    }
    let confirmed = a.confirmed(None, None, "alice").unwrap();
    repo.update_mapping(&a, &confirmed, audit_of(&confirmed, "mapping.confirm")).await.unwrap();
    repo.delete_mapping(&b, audit_of(&b, "mapping.reject")).await.unwrap();
    repo.delete_mapping(&manual, audit_of(&manual, "mapping.delete")).await.unwrap();
    let both = ["T1059.001".to_string(), "T1105".to_string(), "T1003.001".to_string()];
    let v = repo.verdicts(&t, &both).await.unwrap();
    let sig = |m: &Mapping| crate::review::verdict(Some(m), None).unwrap().signature;
    assert_eq!(v.len(), 2, "{v:?}");
    assert_eq!(v.get(&("T1059.001".to_string(), sig(&a))), Some(&(1, 0)));
    assert_eq!(v.get(&("T1105".to_string(), sig(&b))), Some(&(0, 1)));
    assert_eq!(repo.verdicts(&t, &both[1..]).await.unwrap().len(), 1, "only the techniques asked for");
    assert!(repo.verdicts(&other, &both).await.unwrap().is_empty(), "another tenant's reviews teach nothing here");
}
