//! The access property, over every route of the table: random tenants of entities (some
//! restricted to random groups, before or after their mappings were written), mappings of every
//! kind (alert mappings naming a case too), and principals of every role holding random groups.
//! Every principal calls every route the table has, with every id the route's path can take;
//! then no answer names an entity or a mapping the principal may not see (nor another
//! tenant's), every id-addressed answer is 404 exactly when its target is hidden, and every list
//! walks to exactly the visible mappings. Routes are taken from [`ROUTES`]: a new route is probed
//! without editing this file. Run over the in-memory repositories by the unit tests and over
//! DynamoDB Local by the integration tests.
use std::collections::BTreeSet;

use mitre_domain::{MappingKind, Need, Role};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::App;
use crate::routes::{PREFIX, ROUTES, RouteId, RouteSpec, Scope};
use crate::testing::{Answer, Call};

/// The superuser the driver registers principals with: the app under test must list it in
/// `Settings::superusers`.
pub const ROOT: &str = "arn:aws:iam::1:user/access-root";

const GROUPS: [&str; 3] = ["g-ir", "g-hr", "g-legal"];

#[derive(Debug, Clone)]
pub struct EntitySpec {
    pub kind: MappingKind,
    /// Restricted to these groups (indexes into the pool; may be none: admins only).
    pub restricted: Option<BTreeSet<usize>>,
    /// Restricted before its mappings were written (else after).
    pub restrict_first: bool,
}

#[derive(Debug, Clone)]
pub struct MappingSpec {
    /// The entity it is of (index into the entities).
    pub entity: usize,
    /// For a mapping of an alert or a case: the other one it names, if any.
    pub also: Option<usize>,
    pub technique: usize,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub entities: Vec<EntitySpec>,
    pub mappings: Vec<MappingSpec>,
    /// The tenant's principals: role and groups.
    pub principals: Vec<(Role, BTreeSet<usize>)>,
}

fn groups() -> impl Strategy<Value = BTreeSet<usize>> {
    proptest::collection::btree_set(0..GROUPS.len(), 0..=2)
}

/// Random scenarios: 2 to 7 entities, up to 10 mappings, 3 to 6 principals.
pub fn scenarios() -> impl Strategy<Value = Scenario> {
    let entity = (prop::sample::select(MappingKind::ALL.to_vec()), prop::option::weighted(0.5, groups()), any::<bool>())
        .prop_map(|(kind, restricted, restrict_first)| EntitySpec { kind, restricted, restrict_first });
    let entities = proptest::collection::vec(entity, 2..8);
    let principal = (prop::sample::select(Role::ALL.to_vec()), groups());
    (
        entities,
        proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<bool>(), 0..8usize), 0..11),
        proptest::collection::vec(principal, 3..7),
    )
        .prop_map(|(entities, raw, principals)| {
            let mappings = raw
                .into_iter()
                .map(|(e, other, with_other, technique)| {
                    let entity = e.index(entities.len());
                    let kind = entities[entity].kind;
                    // an alert mapping may name a case, a case mapping an alert
                    let partner = match kind {
                        MappingKind::Alert => Some(MappingKind::Case),
                        MappingKind::Case => Some(MappingKind::Alert),
                        _ => None,
                    };
                    let candidates: Vec<usize> = (0..entities.len()).filter(|i| Some(entities[*i].kind) == partner).collect();
                    let also = (with_other && !candidates.is_empty()).then(|| candidates[other.index(candidates.len())]);
                    MappingSpec { entity, also, technique }
                })
                .collect();
            Scenario { entities, mappings, principals }
        })
}

/// What one scenario's run checked.
#[derive(Debug, Default, Clone, Copy)]
pub struct Checked {
    pub calls: usize,
    pub hidden_answers: usize,
    pub lists: usize,
}

struct World {
    tenant: String,
    /// Entity ids by index.
    ids: Vec<String>,
    /// (mapping id, kind, entity indexes it names).
    mappings: Vec<(String, MappingKind, Vec<usize>)>,
    /// The bodies that created each mapping (to re-post: a merge).
    bodies: Vec<Value>,
    /// Another tenant's mapping and entity ids: hidden from everyone here.
    foreign: Vec<String>,
}

fn plural(kind: MappingKind) -> String {
    format!("{kind}s")
}

fn arn(name: &str) -> String {
    format!("arn:aws:iam::1:user/{name}")
}

fn encoded(arn: &str) -> String {
    arn.replace(':', "%3A").replace('/', "%2F")
}

async fn send(app: &App, who: &str, method: &str, path: &str, if_match: Option<&str>, body: &Value) -> Answer {
    Call::new(method, path).by(who).if_match(if_match).json(body).send(app).await
}

fn expect(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what()) }
}

async fn register(app: &App, who: &str, tenant: &str, role: Role, groups: &BTreeSet<usize>) -> Result<(), String> {
    let body = json!({ "tenant": tenant, "role": role.as_str(), "groups": groups.iter().map(|g| GROUPS[*g]).collect::<Vec<_>>() });
    let a = send(app, ROOT, "PUT", &format!("{PREFIX}/admin/principals/{}", encoded(who)), None, &body).await;
    expect(matches!(a.status, 200 | 201), || format!("registering {who}: {} {}", a.status, a.text))
}

async fn restrict(app: &App, integration: &str, kind: MappingKind, id: &str, groups: &BTreeSet<usize>) -> Result<(), String> {
    let body = json!({ "groups": groups.iter().map(|g| GROUPS[*g]).collect::<Vec<_>>() });
    let a = send(app, integration, "PUT", &format!("{PREFIX}/{}/{id}/access", plural(kind)), Some("*"), &body).await;
    expect(a.status == 200, || format!("restricting {kind} {id}: {} {}", a.status, a.text))
}

/// Sets up the scenario in fresh tenants through the API: principals by [`ROOT`], mappings and
/// access by the tenant's integration.
async fn build(app: &App, s: &Scenario, techniques: &[(String, String)]) -> Result<World, String> {
    let run = ulid::Ulid::new().to_string().to_lowercase();
    let tenant = format!("p-{run}");
    let other = format!("q-{run}");
    let integration = arn(&format!("{tenant}-integration"));
    register(app, &integration, &tenant, Role::Integration, &BTreeSet::new()).await?;
    for (i, (role, groups)) in s.principals.iter().enumerate() {
        register(app, &arn(&format!("{tenant}-{i}")), &tenant, *role, groups).await?;
    }
    let other_writer = arn(&format!("{other}-integration"));
    register(app, &other_writer, &other, Role::Integration, &BTreeSet::new()).await?;
    let ids: Vec<String> = (0..s.entities.len()).map(|i| format!("e{i}-{run}")).collect();
    for (i, e) in s.entities.iter().enumerate() {
        if let (Some(g), true) = (&e.restricted, e.restrict_first) {
            restrict(app, &integration, e.kind, &ids[i], g).await?;
        }
    }
    let mut world = World { tenant, ids, mappings: Vec::new(), bodies: Vec::new(), foreign: Vec::new() };
    for m in &s.mappings {
        let kind = s.entities[m.entity].kind;
        let (technique, tactic) = &techniques[m.technique % techniques.len()];
        let mut body = json!({ "technique": technique, "tactic": tactic });
        body[kind.entity_field()] = json!(world.ids[m.entity]);
        let mut names = vec![m.entity];
        if let Some(o) = m.also {
            body[s.entities[o].kind.entity_field()] = json!(world.ids[o]);
            names.push(o);
        }
        let a = send(app, &integration, "POST", &format!("{PREFIX}/{kind}-mappings"), None, &body).await;
        expect(matches!(a.status, 200 | 201), || format!("creating {body}: {} {}", a.status, a.text))?;
        let id = a.body["id"].as_str().unwrap_or_default().to_string();
        if !world.mappings.iter().any(|(have, ..)| *have == id) {
            world.mappings.push((id, kind, names));
            world.bodies.push(body);
        }
    }
    for (i, e) in s.entities.iter().enumerate() {
        if let (Some(g), false) = (&e.restricted, e.restrict_first) {
            restrict(app, &integration, e.kind, &world.ids[i], g).await?;
        }
    }
    // another tenant's mapping of an entity id of this tenant's form
    let (technique, tactic) = &techniques[0];
    let foreign_entity = format!("f0-{run}");
    let a = send(
        app,
        &other_writer,
        "POST",
        &format!("{PREFIX}/case-mappings"),
        None,
        &json!({ "case_id": foreign_entity, "technique": technique, "tactic": tactic }),
    )
    .await;
    expect(a.status == 201, || format!("the other tenant's mapping: {} {}", a.status, a.text))?;
    world.foreign = vec![foreign_entity, a.body["id"].as_str().unwrap_or_default().to_string()];
    Ok(world)
}

/// Whether a principal of `role` with `groups` sees entity `i`.
fn sees_entity(s: &Scenario, role: Role, groups: &BTreeSet<usize>, i: usize) -> bool {
    matches!(role, Role::Admin | Role::Superuser | Role::Integration) || s.entities[i].restricted.as_ref().is_none_or(|g| !g.is_disjoint(groups))
}

/// The kind a route's path is about: `alerts/{id}/...` or `alert-mappings...`.
fn kind_of(r: &RouteSpec) -> Option<MappingKind> {
    let first = r.path.split('/').next().unwrap_or_default();
    MappingKind::ALL.into_iter().find(|k| first == plural(*k) || first == format!("{k}-mappings"))
}

fn is_mapping_route(r: &RouteSpec) -> bool {
    r.path.split('/').next().is_some_and(|f| f.ends_with("-mappings"))
}

/// Runs the scenario: sets it up, then has every principal call every route.
pub async fn check(app: &App, s: &Scenario, techniques: &[(String, String)]) -> Result<Checked, String> {
    let w = build(app, s, techniques).await?;
    let mut checked = Checked::default();
    for (p, (role, groups)) in s.principals.iter().enumerate() {
        let who = arn(&format!("{}-{p}", w.tenant));
        let visible: Vec<bool> = (0..s.entities.len()).map(|i| sees_entity(s, *role, groups, i)).collect();
        let mapping_visible: Vec<bool> = w.mappings.iter().map(|(_, _, names)| names.iter().all(|i| visible[*i])).collect();
        // another tenant's ids are hidden from everyone but superusers (who read every tenant's audit log)
        let mut hidden: Vec<&str> = if *role == Role::Superuser { Vec::new() } else { w.foreign.iter().map(String::as_str).collect() };
        hidden.extend((0..s.entities.len()).filter(|i| !visible[*i]).map(|i| w.ids[i].as_str()));
        hidden.extend(w.mappings.iter().zip(&mapping_visible).filter(|(_, v)| !**v).map(|((id, ..), _)| id.as_str()));
        let context = |r: &RouteSpec, target: &str| format!("{role:?} {groups:?} on {} {target}", r.route_key());
        for r in ROUTES {
            let allowed = r.need.is_none_or(|n: Need| n.allows(*role));
            let kind = kind_of(r);
            // the ids the route's path can take, each with whether its target is hidden
            let targets: Vec<(String, bool, usize)> = if !r.path.contains("{id}") {
                vec![(String::new(), false, usize::MAX)]
            } else if is_mapping_route(r) {
                let mut t: Vec<_> =
                    w.mappings.iter().enumerate().filter(|(_, (_, k, _))| Some(*k) == kind).map(|(i, (id, ..))| (id.clone(), !mapping_visible[i], i)).collect();
                t.push((w.foreign[1].clone(), true, usize::MAX));
                t
            } else if let Some(k) = kind.filter(|_| r.scope != Scope::None) {
                let mut t: Vec<_> = (0..s.entities.len()).filter(|i| s.entities[*i].kind == k).map(|i| (w.ids[i].clone(), !visible[i], i)).collect();
                if k == MappingKind::Case {
                    t.push((w.foreign[0].clone(), true, usize::MAX));
                }
                t
            } else {
                vec![("X-1".to_string(), false, usize::MAX)]
            };
            // a create re-posts each existing mapping of the kind (a merge when visible)
            let targets = if matches!(r.id, RouteId::CreateMapping(_)) {
                w.mappings.iter().enumerate().filter(|(_, (_, k, _))| Some(*k) == kind).map(|(i, (id, ..))| (id.clone(), !mapping_visible[i], i)).collect()
            } else {
                targets
            };
            for (target, is_hidden, index) in targets {
                let mut path = format!("{PREFIX}/{}", r.path.replace("{id}", &target));
                let (body, if_match) = match (r.id, r.method) {
                    (RouteId::CreateMapping(_), _) => (w.bodies[index].clone(), None),
                    (RouteId::Enrich(_), _) => {
                        path.push_str("?dry_run=true");
                        (json!({ "text": "powershell.exe -enc ZQBjAGgAbwA=" }), None)
                    }
                    (RouteId::PutEntityAccess(_), _) => (json!({ "groups": ["g-other"] }), Some("\"999999\"")),
                    (RouteId::RepairCorrelations, _) => (json!({ "dry_run": true }), None),
                    (_, "PATCH") => (json!({ "notes": "probe" }), Some("\"999999\"")),
                    // any other change of one mapping: at a version it is not at (412 when visible)
                    (_, "POST") if is_mapping_route(r) && r.path.contains("{id}") => (json!({}), Some("\"999999\"")),
                    (_, "DELETE") => (Value::Null, Some("\"999999\"")),
                    (_, "POST" | "PUT") => (json!({}), None),
                    _ => (Value::Null, None),
                };
                let list = matches!(r.id, RouteId::ListMappings(_));
                if list {
                    path.push_str("?limit=2");
                }
                let mut a = send(app, &who, r.method, &path, if_match, &body).await;
                checked.calls += 1;
                let mut listed: BTreeSet<String> = BTreeSet::new();
                loop {
                    // (an answer may repeat an id the caller sent: that names nothing new)
                    let asked = format!("{path} {body}");
                    if let Some(leak) = hidden.iter().filter(|h| !asked.contains(**h)).find(|h| a.text.contains(**h)) {
                        return Err(format!("{}: the answer names hidden {leak}: {}", context(r, &target), a.text));
                    }
                    if !list || a.status != 200 {
                        break;
                    }
                    listed.extend(a.body["items"].as_array().into_iter().flatten().filter_map(|m| m["id"].as_str().map(str::to_string)));
                    let Some(cursor) = a.body["next_cursor"].as_str().map(str::to_string) else { break };
                    a = send(app, &who, "GET", &format!("{path}&cursor={cursor}"), None, &Value::Null).await;
                    checked.calls += 1;
                }
                if !allowed {
                    expect(a.status == 403, || format!("{}: {} without the role", context(r, &target), a.status))?;
                    continue;
                }
                if list {
                    let expected: BTreeSet<String> =
                        w.mappings.iter().zip(&mapping_visible).filter(|((_, k, _), v)| Some(*k) == kind && **v).map(|((id, ..), _)| id.clone()).collect();
                    expect(listed == expected, || format!("{}: listed {listed:?}, expected {expected:?}", context(r, &target)))?;
                    checked.lists += 1;
                    continue;
                }
                let addressed = matches!(r.scope, Scope::Mappings | Scope::Entity) && !target.is_empty();
                if addressed {
                    // an entity view also needs a visible mapping of the entity to show
                    let has_visible_mapping = index == usize::MAX
                        || is_mapping_route(r)
                        || matches!(r.id, RouteId::CreateMapping(_) | RouteId::Enrich(_))
                        || w.mappings.iter().zip(&mapping_visible).any(|((_, _, names), v)| *v && names.contains(&index));
                    let expect_404 = is_hidden || !has_visible_mapping;
                    expect((a.status == 404) == expect_404, || format!("{}: {} (hidden: {is_hidden}) {}", context(r, &target), a.status, a.text))?;
                    if is_hidden {
                        checked.hidden_answers += 1;
                    }
                }
            }
        }
    }
    Ok(checked)
}

/// Runs `cases` random scenarios against `app` (whose settings list [`ROOT`] as a superuser),
/// each on fresh tenants, with proptest's runner (shrinking on failure). `block_on` runs one
/// future to completion on the caller's runtime.
pub fn run(
    app: &App,
    techniques: &[(String, String)],
    cases: u32,
    block_on: impl Fn(std::pin::Pin<Box<dyn std::future::Future<Output = Result<Checked, String>> + '_>>) -> Result<Checked, String>,
) -> Checked {
    let config = ProptestConfig { cases, failure_persistence: None, max_shrink_iters: 64, ..ProptestConfig::default() };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let total = std::cell::Cell::new(Checked::default());
    let outcome = runner.run(&scenarios(), |s| {
        let c = block_on(Box::pin(check(app, &s, techniques))).map_err(TestCaseError::fail)?;
        let t = total.get();
        total.set(Checked { calls: t.calls + c.calls, hidden_answers: t.hidden_answers + c.hidden_answers, lists: t.lists + c.lists });
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("the access property failed: {e}");
    }
    total.get()
}
