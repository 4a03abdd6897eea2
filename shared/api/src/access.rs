//! Access classes: what each route's function may touch in the table and the bucket.
//!
//! Every route of the route table names its class; the IAM statements of its function in
//! template.yaml are derived from the class here (see [`Access::statements`]) and never written
//! by hand. The classes follow what the handlers do:
//!
//! - every route but the OpenAPI document reads the caller's registry entry (`P#<arn>`);
//! - catalog routes read the domain states (partition `CATALOG`) and the catalog snapshots
//!   (`snapshots/` in the bucket); `status` reads the whole `CATALOG` partition (domain states,
//!   the last verify report and the flagged-mapping counter) and no snapshot;
//! - mapping routes work in the caller's tenant partitions `T#<tenant>#M#<kind>` (mappings and
//!   their uniqueness guards) and list through the index partitions
//!   `T#<tenant>#M#<kind>#<field>#<id>` (gsi1, gsi2) and `MT#<technique>` (gsi3); writes are
//!   transactions that also append an audit entry (`T#<tenant>#AUDIT`) and update the use
//!   counters (`MAPSTATS`), the flagged-mapping counter (`CATALOG`, sort key `REVIEW`) and the
//!   tenant's statistics (presence records beside the mappings, read first with BatchGetItem;
//!   counters in `T#<tenant>#STATS#<domain>`, which the statistics routes Query);
//! - the registry routes list the index partition `PRINCIPALS` (gsi1) and write `P#<arn>` with
//!   an audit entry; the audit route reads `T#<tenant>#AUDIT` or the index partition `AUDIT`;
//! - verification reads the archived bundles (`bundles/`), the domain states, the use
//!   counters, the catalog's index partitions `C#<domain>#...` (gsi1) and the mappings of a
//!   technique (gsi3), and stores its report in `CATALOG`; repair also rewrites the tactic
//!   index items (`C#<domain>#<technique>`) and moves or flags mappings.
//!
//! Item and index partitions are restricted with `dynamodb:LeadingKeys`. For a Query on a
//! global secondary index the leading key is the index partition key value named in the key
//! condition, so index statements list index partition patterns (and name the index, never
//! `index/*`). IAM has no condition on sort keys: where a partition holds more than one kind
//! of item (`CATALOG`) or one index partition serves every tenant (gsi3 `MT#<technique>`, whose
//! sort key starts with the tenant), the handler's key condition is what narrows it further.
//!
//! Transactions need no action of their own: each Put, Update, Delete and ConditionCheck in a
//! TransactWriteItems call is authorised as PutItem, UpdateItem, DeleteItem and
//! ConditionCheckItem on its item.
use mitre_store::keys;

/// The access class of a route's function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Catalog reads: the registry entry, the domain states and the catalog snapshots.
    CatalogRead,
    /// `status`: the registry entry and the `CATALOG` partition; no snapshot.
    Status,
    /// The OpenAPI document: no table or bucket access at all.
    OpenApi,
    /// Mapping reads in the caller's tenant (and the catalog, to resolve a tactic filter).
    TenantRead,
    /// Mapping writes: mappings, guards, audit entries and the counters; the catalog to check
    /// techniques.
    TenantWrite,
    /// Listing the principal registry.
    RegistryRead,
    /// Registering and removing principals, with their audit entries.
    RegistryWrite,
    /// Reading the audit log of one tenant or of every tenant.
    AuditRead,
    /// Verifying the catalog and the mappings against the archived bundles; stores the report.
    IntegrityVerify,
    /// Repairing the tactic index and moving or flagging mappings.
    IntegrityRepair,
    /// Starting a sync: invoking the sync function asynchronously, with an audit entry.
    SyncStart,
    /// Reading the sync run records.
    SyncRuns,
    /// Technique suggestions: the catalog only, as catalog reads.
    Suggest,
    /// The review feedback report: the caller's tenant's audit entries of reviews.
    ReviewRead,
    /// Reading an entity's access record.
    AccessRead,
    /// Changing an entity's access: its record and every mapping naming it (found through the
    /// entity's index partition), with the audit entry.
    AccessWrite,
    /// Upgrade impact, technique inference and reports: as tenant reads, plus the kept release
    /// changes and the tenant's inference history.
    Insight,
    /// The consumer of the platform's events (no route): enrichment's writes and entity access
    /// changes as the tenant's integration, the principal index (which tenants exist), and the
    /// dead-letter queue.
    EventsIn,
    /// The publisher of the module's events (no route): the event bus and its on-failure
    /// queue; no table access (the stream reaches it through its event source mapping).
    EventsOut,
}

/// What a statement applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// The table's items.
    Table,
    /// One global secondary index of the table.
    Index(&'static str),
    /// Objects of the archive bucket under a key prefix.
    Objects(&'static str),
    /// A Lambda function of the template, by logical id.
    Function(&'static str),
    /// An SQS queue of the template, by logical id.
    Queue(&'static str),
    /// The bus the module publishes to (its own, or the one the `EventsBusName` parameter names).
    EventBus,
}

/// What a request reaches, for [`Access::allows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    Table,
    Index(&'a str),
    /// An object of the archive bucket, by its whole key.
    Object(&'a str),
    /// A Lambda function, by logical id.
    Function(&'a str),
    /// An SQS queue, by logical id.
    Queue(&'a str),
    /// The bus the module publishes to.
    EventBus,
}

/// One Allow statement. `leading_keys` (when not empty) is the
/// `ForAllValues:StringLike` / `dynamodb:LeadingKeys` condition: the partitions (of the table
/// or of the index) every key of a request must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: &'static str,
    pub actions: Vec<&'static str>,
    pub resources: Vec<Resource>,
    pub leading_keys: Vec<&'static str>,
}

/// Partition patterns (`*` matches any characters, as in IAM's StringLike).
pub mod partitions {
    /// A principal's registry entry: `P#<arn>`.
    pub const REGISTRY: &str = "P#*";
    /// Domain states, the verify report and the flagged-mapping counter.
    pub const CATALOG: &str = mitre_store::keys::CATALOG_PK;
    /// The per-(technique, tactic) use counters.
    pub const USE_COUNTERS: &str = mitre_store::keys::STATS_PK;
    /// A tenant's mappings and guards (`T#<tenant>#M#<kind>`), and the gsi1/gsi2 partitions
    /// listing them by entity (`T#<tenant>#M#<kind>#<field>#<id>`).
    pub const TENANT_MAPPINGS: &str = "T#*#M#*";
    /// A tenant's statistics counters of one domain: `T#<tenant>#STATS#<domain>`.
    pub const TENANT_STATS: &str = "T#*#STATS#*";
    /// A tenant's audit log: `T#<tenant>#AUDIT`.
    pub const TENANT_AUDIT: &str = "T#*#AUDIT";
    /// gsi3: the mappings of a technique, across tenants: `MT#<technique>`.
    pub const MAPPINGS_OF_TECHNIQUE: &str = "MT#*";
    /// gsi1: the principal registry.
    pub const PRINCIPALS_INDEX: &str = "PRINCIPALS";
    /// gsi1: every tenant's audit entries.
    pub const AUDIT_INDEX: &str = mitre_store::keys::AUDIT_GSI;
    /// Catalog items (`C#<domain>#<stix id>`) and catalog index partitions
    /// (`C#<domain>#TYPE#...`, `C#<domain>#TACTIC#...` in gsi1).
    pub const CATALOG_OBJECTS: &str = "C#*";
    /// A domain's sync lease and run records: `SYNC#<domain>`.
    pub const SYNC_RUNS: &str = "SYNC#*";
    /// The kept changes of a domain's release changes: `CHANGES#<domain>`.
    pub const RELEASE_CHANGES: &str = "CHANGES#*";
    /// A tenant's inference histories: `T#<tenant>#INFER`.
    pub const TENANT_HISTORY: &str = "T#*#INFER";
    /// A tenant's review verdicts: `T#<tenant>#FEEDBACK`.
    pub const TENANT_FEEDBACK: &str = "T#*#FEEDBACK";
}

/// Object key prefixes of the archive bucket.
pub mod objects {
    /// `snapshots/{domain}/...`: the API's catalog snapshots.
    pub const SNAPSHOTS: &str = "snapshots/";
    /// `bundles/{domain}/...`: the archived raw bundles.
    pub const BUNDLES: &str = "bundles/";
}

const GET: &str = "dynamodb:GetItem";
const QUERY: &str = "dynamodb:Query";
const PUT: &str = "dynamodb:PutItem";
const UPDATE: &str = "dynamodb:UpdateItem";
const DELETE: &str = "dynamodb:DeleteItem";
const BATCH_GET: &str = "dynamodb:BatchGetItem";
const BATCH_WRITE: &str = "dynamodb:BatchWriteItem";
const CONDITION_CHECK: &str = "dynamodb:ConditionCheckItem";
const GET_OBJECT: &str = "s3:GetObject";

/// The DynamoDB actions that change items.
pub const WRITE_ACTIONS: &[&str] = &[PUT, UPDATE, DELETE, BATCH_WRITE, "dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"];

fn statement(sid: &'static str, actions: &[&'static str], resources: &[Resource], leading_keys: &[&'static str]) -> Statement {
    Statement { sid, actions: actions.to_vec(), resources: resources.to_vec(), leading_keys: leading_keys.to_vec() }
}

impl Access {
    pub const ALL: [Access; 17] = [
        Access::CatalogRead,
        Access::Status,
        Access::OpenApi,
        Access::TenantRead,
        Access::TenantWrite,
        Access::RegistryRead,
        Access::RegistryWrite,
        Access::AuditRead,
        Access::IntegrityVerify,
        Access::IntegrityRepair,
        Access::SyncStart,
        Access::SyncRuns,
        Access::Suggest,
        Access::AccessRead,
        Access::AccessWrite,
        Access::ReviewRead,
        Access::Insight,
    ];

    /// The classes of the event functions, which serve no route.
    pub const EVENTS: [Access; 2] = [Access::EventsIn, Access::EventsOut];

    /// The class's name in template.yaml's comments.
    pub fn name(self) -> &'static str {
        match self {
            Access::CatalogRead => "catalog-read",
            Access::Status => "status",
            Access::OpenApi => "openapi",
            Access::TenantRead => "tenant-read",
            Access::TenantWrite => "tenant-write",
            Access::RegistryRead => "registry-read",
            Access::RegistryWrite => "registry-write",
            Access::AuditRead => "audit-read",
            Access::IntegrityVerify => "integrity-verify",
            Access::IntegrityRepair => "integrity-repair",
            Access::SyncStart => "sync-start",
            Access::SyncRuns => "sync-runs",
            Access::Suggest => "suggest",
            Access::AccessRead => "access-read",
            Access::ReviewRead => "review-read",
            Access::AccessWrite => "access-write",
            Access::Insight => "insight",
            Access::EventsIn => "events-in",
            Access::EventsOut => "events-out",
        }
    }

    /// Whether the route reads the caller's registry entry (every route but the OpenAPI
    /// document, which any caller API Gateway authenticated may read).
    pub fn reads_registry(self) -> bool {
        !matches!(self, Access::OpenApi | Access::EventsIn | Access::EventsOut)
    }

    /// Timeout (seconds) and memory (MB) of the class's functions, when they differ from the
    /// template's globals: verification and repair parse whole bundles.
    pub fn sizing(self) -> Option<(u32, u32)> {
        match self {
            Access::IntegrityVerify => Some((120, 1024)),
            Access::IntegrityRepair => Some((300, 1024)),
            _ => None,
        }
    }

    /// Environment variables the class's functions need besides the globals (YAML values).
    pub fn environment(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Access::SyncStart => &[("SYNC_FUNCTION_NAME", "!Ref SyncFunction")],
            _ => &[],
        }
    }

    /// The IAM statements of the class's functions.
    pub fn statements(self) -> Vec<Statement> {
        use Resource::*;
        use partitions::*;
        let caller = || statement("CallerRegistry", &[GET], &[Table], &[REGISTRY]);
        let catalog_state = || statement("CatalogState", &[QUERY], &[Table], &[CATALOG]);
        let snapshots = || statement("CatalogSnapshots", &[GET_OBJECT], &[Objects(objects::SNAPSHOTS)], &[]);
        let bundles = || statement("ArchivedBundles", &[GET_OBJECT], &[Objects(objects::BUNDLES)], &[]);
        let audit_append = || statement("AuditAppend", &[PUT], &[Table], &[TENANT_AUDIT]);
        let counters = || statement("Counters", &[UPDATE], &[Table], &[USE_COUNTERS, CATALOG, TENANT_STATS, TENANT_FEEDBACK]);
        let technique_index = || statement("MappingsOfTechnique", &[QUERY], &[Index(keys::GSI3)], &[MAPPINGS_OF_TECHNIQUE]);
        let tenant_read = || {
            vec![
                caller(),
                catalog_state(),
                snapshots(),
                statement("TenantMappings", &[GET, QUERY], &[Table], &[TENANT_MAPPINGS]),
                statement("MappingsByEntity", &[QUERY], &[Index(keys::GSI1), Index(keys::GSI2)], &[TENANT_MAPPINGS]),
                technique_index(),
                statement("TenantStatistics", &[QUERY], &[Table], &[TENANT_STATS]),
            ]
        };
        match self {
            Access::OpenApi => Vec::new(),
            Access::CatalogRead | Access::Suggest => vec![caller(), catalog_state(), snapshots()],
            Access::Status => vec![caller(), catalog_state()],
            Access::TenantRead => tenant_read(),
            Access::Insight => {
                let mut s = tenant_read();
                s.push(statement("Insights", &[GET, QUERY], &[Table], &[RELEASE_CHANGES, TENANT_HISTORY]));
                s
            }
            Access::TenantWrite => vec![
                caller(),
                catalog_state(),
                snapshots(),
                // BatchGetItem: the statistics presence records and the entity access records
                // beside the mappings; UpdateItem and ConditionCheckItem: the access records
                statement("TenantMappings", &[GET, BATCH_GET, PUT, UPDATE, DELETE, CONDITION_CHECK], &[Table], &[TENANT_MAPPINGS]),
                // enrichment weighs its suggestions by the tenant's review verdicts
                statement("ReviewVerdicts", &[BATCH_GET], &[Table], &[TENANT_FEEDBACK]),
                audit_append(),
                counters(),
            ],
            Access::AccessRead => vec![caller(), statement("EntityAccess", &[GET], &[Table], &[TENANT_MAPPINGS])],
            Access::ReviewRead => vec![caller(), statement("TenantAudit", &[QUERY], &[Table], &[TENANT_AUDIT])],
            Access::AccessWrite => vec![
                caller(),
                statement("EntityAccess", &[GET, PUT, UPDATE], &[Table], &[TENANT_MAPPINGS]),
                statement("MappingsByEntity", &[QUERY], &[Index(keys::GSI1), Index(keys::GSI2)], &[TENANT_MAPPINGS]),
                audit_append(),
            ],
            Access::RegistryRead => vec![caller(), statement("Registry", &[QUERY], &[Index(keys::GSI1)], &[PRINCIPALS_INDEX])],
            Access::RegistryWrite => vec![caller(), statement("RegistryWrite", &[PUT, DELETE], &[Table], &[REGISTRY]), audit_append()],
            Access::AuditRead => vec![
                caller(),
                statement("TenantAudit", &[QUERY], &[Table], &[TENANT_AUDIT]),
                statement("AllAudit", &[QUERY], &[Index(keys::GSI1)], &[AUDIT_INDEX]),
            ],
            Access::IntegrityVerify => vec![
                caller(),
                statement("CatalogAndCounters", &[QUERY], &[Table], &[CATALOG, USE_COUNTERS]),
                statement("ReviewCounterAndReport", &[GET, PUT], &[Table], &[CATALOG]),
                statement("CatalogIndex", &[QUERY], &[Index(keys::GSI1)], &[CATALOG_OBJECTS]),
                technique_index(),
                bundles(),
            ],
            Access::IntegrityRepair => vec![
                caller(),
                statement("CatalogAndCounters", &[QUERY], &[Table], &[CATALOG, USE_COUNTERS]),
                // an applied repair refreshes the stored verification report
                statement("ReviewCounterAndReport", &[GET, PUT], &[Table], &[CATALOG]),
                statement("CatalogIndex", &[QUERY], &[Index(keys::GSI1)], &[CATALOG_OBJECTS]),
                statement("TacticIndexItems", &[BATCH_WRITE], &[Table], &[CATALOG_OBJECTS]),
                technique_index(),
                // ConditionCheckItem: a moved mapping holds to its entities' access records
                statement("MappingMoves", &[BATCH_GET, PUT, DELETE, CONDITION_CHECK], &[Table], &[TENANT_MAPPINGS]),
                audit_append(),
                counters(),
                bundles(),
            ],
            Access::SyncStart => vec![
                caller(),
                statement("SyncRequestAudit", &[PUT], &[Table], &[TENANT_AUDIT]),
                statement("StartSync", &["lambda:InvokeFunction"], &[Function("SyncFunction")], &[]),
            ],
            Access::SyncRuns => vec![caller(), statement("SyncRunRecords", &[QUERY], &[Table], &[SYNC_RUNS])],
            Access::EventsIn => {
                // enrichment's writes (tenant-write, without a caller's registry entry); the
                // mappings naming an entity, which an access change rewrites (as access-write);
                // which tenants exist; the dead-letter queue
                let mut s: Vec<Statement> = Access::TenantWrite.statements().into_iter().filter(|s| s.sid != "CallerRegistry").collect();
                s.push(statement("MappingsByEntity", &[QUERY], &[Index(keys::GSI1), Index(keys::GSI2)], &[TENANT_MAPPINGS]));
                s.push(statement("Registry", &[QUERY], &[Index(keys::GSI1)], &[PRINCIPALS_INDEX]));
                s.push(statement("DeadLetters", &["sqs:SendMessage"], &[Queue("EventsDeadLetterQueue")], &[]));
                s
            }
            Access::EventsOut => vec![
                statement("PublishEvents", &["events:PutEvents"], &[EventBus], &[]),
                statement("PublishFailures", &["sqs:SendMessage"], &[Queue("PublishFailureQueue")], &[]),
            ],
        }
    }

    /// Whether the class's statements allow `action` on `target` with every leading key of
    /// `keys` (the partition key values a request names; for an index, the index's), as IAM
    /// evaluates Allow statements with `ForAllValues:StringLike` on `dynamodb:LeadingKeys`.
    pub fn allows(self, action: &str, target: Target<'_>, keys: &[&str]) -> bool {
        self.statements().iter().any(|s| {
            s.actions.contains(&action)
                && s.resources.iter().any(|r| match (r, target) {
                    (Resource::Table, Target::Table) => true,
                    (Resource::Index(a), Target::Index(b)) => *a == b,
                    (Resource::Objects(prefix), Target::Object(key)) => key.starts_with(prefix),
                    (Resource::Function(a), Target::Function(b)) => *a == b,
                    (Resource::Queue(a), Target::Queue(b)) => *a == b,
                    (Resource::EventBus, Target::EventBus) => true,
                    _ => false,
                })
                && (s.leading_keys.is_empty() || keys.iter().all(|k| s.leading_keys.iter().any(|p| string_like(p, k))))
        })
    }
}

/// IAM's StringLike: `*` matches any run of characters, `?` any one character.
pub fn string_like(pattern: &str, value: &str) -> bool {
    fn go(p: &[u8], v: &[u8]) -> bool {
        match p.split_first() {
            None => v.is_empty(),
            Some((b'*', rest)) => (0..=v.len()).any(|i| go(rest, &v[i..])),
            Some((b'?', rest)) => !v.is_empty() && go(rest, &v[1..]),
            Some((c, rest)) => v.first() == Some(c) && go(rest, &v[1..]),
        }
    }
    go(pattern.as_bytes(), value.as_bytes())
}

#[cfg(test)]
mod tests {
    use mitre_attack::Domain;
    use mitre_domain::MappingKind;
    use mitre_store::keys::{REVIEW_SK, STATS_PK, principal_pk, technique_gsi};

    fn mapping_pk(tenant: &str, kind: MappingKind) -> String {
        keys::mapping_pk(tenant, kind.as_str())
    }
    use mitre_store::{archive, keys};

    use super::Target::{Index, Object, Table};
    use super::*;
    use crate::routes::{ROUTES, RouteId};

    const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
    const ENTERPRISE: Domain = Domain::EnterpriseAttack;

    fn dynamodb_statements(a: Access) -> Vec<Statement> {
        a.statements().into_iter().filter(|s| s.actions.iter().any(|x| x.starts_with("dynamodb:"))).collect()
    }

    fn leading_keys(a: Access) -> Vec<&'static str> {
        a.statements().iter().flat_map(|s| s.leading_keys.clone()).collect()
    }

    fn writes(a: Access) -> Vec<&'static str> {
        a.statements().iter().flat_map(|s| s.actions.clone()).filter(|x| WRITE_ACTIONS.contains(x)).collect()
    }

    /// The route ids whose handlers write mappings through the store (and so the counters).
    fn writes_mappings(id: RouteId) -> bool {
        matches!(
            id,
            RouteId::CreateMapping(_)
                | RouteId::UpdateMapping(_)
                | RouteId::DeleteMapping(_)
                | RouteId::ConfirmMapping(_)
                | RouteId::RejectMapping(_)
                | RouteId::RepairCorrelations
                | RouteId::Enrich(_)
        )
    }

    #[test]
    fn every_route_has_the_class_of_what_its_handler_does() {
        for r in ROUTES {
            let expected = match r.id {
                RouteId::GetStatus => Access::Status,
                RouteId::GetOpenApi => Access::OpenApi,
                RouteId::ListMappings(_)
                | RouteId::GetMapping(_)
                | RouteId::EntityLayer(_)
                | RouteId::TenantLayer
                | RouteId::EntityMatrix(_)
                | RouteId::TenantMatrix
                | RouteId::EntityMitigations(_)
                | RouteId::TechniqueStatistics
                | RouteId::TacticStatistics
                | RouteId::KillChainStatistics => Access::TenantRead,
                RouteId::CreateMapping(_) | RouteId::UpdateMapping(_) | RouteId::DeleteMapping(_) => Access::TenantWrite,
                RouteId::ListPrincipals => Access::RegistryRead,
                RouteId::PutPrincipal | RouteId::DeletePrincipal => Access::RegistryWrite,
                RouteId::ListAudit => Access::AuditRead,
                RouteId::VerifyCorrelations => Access::IntegrityVerify,
                RouteId::StartSync => Access::SyncStart,
                RouteId::Enrich(_) => Access::TenantWrite,
                RouteId::Suggest => Access::Suggest,
                RouteId::ListSyncRuns => Access::SyncRuns,
                RouteId::RepairCorrelations => Access::IntegrityRepair,
                RouteId::GetEntityAccess(_) => Access::AccessRead,
                RouteId::ConfirmMapping(_) | RouteId::RejectMapping(_) => Access::TenantWrite,
                RouteId::ReviewQueue => Access::TenantRead,
                RouteId::ReviewFeedback => Access::ReviewRead,
                RouteId::EntityReport(_) | RouteId::AttackUpdates | RouteId::EntityInferences(_) | RouteId::Infer => Access::Insight,
                RouteId::PutEntityAccess(_) | RouteId::DeleteEntityAccess(_) => Access::AccessWrite,
                _ => Access::CatalogRead,
            };
            assert_eq!(r.access, expected, "{}", r.route_key());
            assert_eq!(r.tag == "catalog", r.access == Access::CatalogRead, "{}", r.route_key());
        }
        // every class serves a route
        for a in Access::ALL {
            assert!(ROUTES.iter().any(|r| r.access == a), "{a:?} serves no route");
        }
    }

    #[test]
    fn catalog_reads_write_nothing_and_reach_no_tenant_partition() {
        for a in [Access::CatalogRead, Access::Status] {
            assert_eq!(writes(a), Vec::<&str>::new(), "{a:?}");
            for k in leading_keys(a) {
                assert!(!k.starts_with("T#") && !k.starts_with("MT#") && k != partitions::USE_COUNTERS, "{a:?} reaches {k}");
            }
            assert!(a.statements().iter().all(|s| s.resources.iter().all(|r| !matches!(r, Resource::Index(_)))), "{a:?} queries an index");
            assert!(a.allows("dynamodb:GetItem", Table, &[&principal_pk(ALICE)]));
            assert!(a.allows("dynamodb:Query", Table, &[keys::CATALOG_PK]));
            assert!(!a.allows("dynamodb:GetItem", Table, &[&mapping_pk("acme", MappingKind::Alert)]));
            assert!(!a.allows("dynamodb:Query", Table, &[&keys::audit_pk("acme")]));
            assert!(!a.allows("s3:GetObject", Object(&archive::bundle_key(ENTERPRISE, "18.1", "ab")), &[]));
        }
        assert!(Access::CatalogRead.allows("s3:GetObject", Object(&archive::snapshot_key(ENTERPRISE, "ab")), &[]));
        // status reads the domain states, the verify report and the flagged counter in one Query, and no snapshot
        assert!(!Access::Status.allows("s3:GetObject", Object(&archive::snapshot_key(ENTERPRISE, "ab")), &[]));
    }

    #[test]
    fn the_openapi_function_may_touch_neither_table_nor_bucket() {
        assert_eq!(Access::OpenApi.statements(), Vec::<Statement>::new());
        assert!(!Access::OpenApi.reads_registry());
        assert!(!Access::OpenApi.allows("dynamodb:GetItem", Table, &[&principal_pk(ALICE)]));
        assert_eq!(crate::routes::spec(RouteId::GetOpenApi).unwrap().access, Access::OpenApi);
        // the router reads the registry for every other route
        for r in ROUTES.iter().filter(|r| r.id != RouteId::GetOpenApi) {
            assert!(r.access.reads_registry() && r.access.allows("dynamodb:GetItem", Table, &[&principal_pk(ALICE)]), "{}", r.route_key());
        }
    }

    #[test]
    fn every_table_statement_names_its_partitions_and_indexes() {
        for a in Access::ALL {
            for s in a.statements() {
                let dynamodb = s.actions.iter().all(|x| x.starts_with("dynamodb:"));
                let s3 = s.actions.iter().all(|x| x.starts_with("s3:"));
                let lambda = s.actions.iter().all(|x| x.starts_with("lambda:"));
                assert!(dynamodb || s3 || lambda, "{a:?} {}: one service per statement", s.sid);
                if lambda {
                    // only the start of a sync invokes a function, and only the sync function
                    assert_eq!(
                        (a, s.actions.as_slice(), s.resources.as_slice()),
                        (Access::SyncStart, &["lambda:InvokeFunction"][..], &[Resource::Function("SyncFunction")][..])
                    );
                    continue;
                }
                assert!(!s.actions.contains(&"dynamodb:Scan"), "{a:?} {}: Scan has no leading keys", s.sid);
                if dynamodb {
                    assert!(!s.leading_keys.is_empty(), "{a:?} {}: no dynamodb:LeadingKeys condition", s.sid);
                    assert!(s.leading_keys.iter().all(|k| !k.starts_with('*')), "{a:?} {}", s.sid);
                    for r in &s.resources {
                        match r {
                            Resource::Table => {}
                            Resource::Index(name) => {
                                assert!(["gsi1", "gsi2", "gsi3"].contains(name), "{a:?} {}: index {name}", s.sid);
                                assert_eq!(s.actions, ["dynamodb:Query"], "{a:?} {}: indexes are only queried", s.sid);
                            }
                            other => panic!("{a:?} {}: a table action on {other:?}", s.sid),
                        }
                    }
                } else {
                    assert!(s.resources.iter().all(|r| matches!(r, Resource::Objects(p) if p.ends_with('/') && !p.is_empty())), "{a:?} {}", s.sid);
                    assert_eq!(s.actions, ["s3:GetObject"], "{a:?} {}: the API only reads the bucket", s.sid);
                }
            }
            let sids: Vec<_> = a.statements().iter().map(|s| s.sid).collect();
            let mut unique = sids.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), sids.len(), "{a:?}: Sids repeat");
        }
    }

    #[test]
    fn the_event_functions_reach_only_their_queue_bus_and_tenant_partitions() {
        for a in Access::EVENTS {
            assert!(!a.reads_registry() && !a.allows("dynamodb:GetItem", Table, &[&principal_pk(ALICE)]), "{a:?} reads no caller");
            for s in a.statements() {
                for action in &s.actions {
                    match action.split(':').next() {
                        Some("dynamodb") => assert!(!s.leading_keys.is_empty() && *action != "dynamodb:Scan", "{a:?} {}", s.sid),
                        Some("sqs") => assert_eq!((*action, s.resources.len()), ("sqs:SendMessage", 1), "{a:?} {}", s.sid),
                        Some("events") => assert_eq!((*action, s.resources.as_slice()), ("events:PutEvents", &[Resource::EventBus][..])),
                        Some("s3") => assert_eq!(*action, "s3:GetObject"),
                        other => panic!("{a:?} {}: {other:?}", s.sid),
                    }
                }
            }
        }
        // the consumer writes what enrichment and access changes write, and no registry entry
        assert!(Access::EventsIn.allows("dynamodb:PutItem", Table, &[&mapping_pk("acme", MappingKind::Alert)]));
        assert!(Access::EventsIn.allows("dynamodb:PutItem", Table, &[&keys::audit_pk("acme")]));
        assert!(!Access::EventsIn.allows("dynamodb:PutItem", Table, &[&principal_pk(ALICE)]));
        assert!(Access::EventsIn.allows("sqs:SendMessage", Target::Queue("EventsDeadLetterQueue"), &[]));
        assert!(!Access::EventsIn.allows("events:PutEvents", Target::EventBus, &[]));
        // the publisher touches no table and no bucket
        assert!(Access::EventsOut.statements().iter().all(|s| s.actions.iter().all(|a| a.starts_with("events:") || a.starts_with("sqs:"))));
    }

    #[test]
    fn tenant_functions_are_limited_to_tenant_registry_counter_and_catalog_partitions() {
        let allowed = [
            partitions::REGISTRY,
            partitions::CATALOG,
            partitions::USE_COUNTERS,
            partitions::TENANT_MAPPINGS,
            partitions::TENANT_AUDIT,
            partitions::TENANT_STATS,
            partitions::TENANT_FEEDBACK,
            partitions::MAPPINGS_OF_TECHNIQUE,
        ];
        for a in [Access::TenantRead, Access::TenantWrite] {
            for s in dynamodb_statements(a) {
                for k in &s.leading_keys {
                    assert!(allowed.contains(k), "{a:?} {} reaches {k}", s.sid);
                }
            }
            // no other tenant-independent partition: registry listing, every tenant's audit, catalog items
            assert!(!a.allows("dynamodb:Query", Index("gsi1"), &[partitions::PRINCIPALS_INDEX]));
            assert!(!a.allows("dynamodb:Query", Index("gsi1"), &[partitions::AUDIT_INDEX]));
            assert!(!a.allows("dynamodb:Query", Index("gsi1"), &[&keys::type_gsi(ENTERPRISE, "attack-pattern")]));
            assert!(!a.allows("dynamodb:GetItem", Table, &[&keys::object_pk(ENTERPRISE, "attack-pattern--1")]));
            assert!(!a.allows("dynamodb:Query", Table, &[&keys::audit_pk("acme")]), "{a:?} reads the audit log");
            assert!(!a.allows("dynamodb:PutItem", Table, &[&principal_pk(ALICE)]));
        }
        assert_eq!(writes(Access::TenantRead), Vec::<&str>::new());
    }

    #[test]
    fn mapping_reads_reach_every_partition_a_list_or_get_uses() {
        let a = Access::TenantRead;
        for kind in MappingKind::ALL {
            let pk = mapping_pk("acme-2", kind);
            assert!(a.allows("dynamodb:GetItem", Table, &[&pk]) && a.allows("dynamodb:Query", Table, &[&pk]), "{pk}");
            for field in kind.entity_fields() {
                let (index, pk) = (keys::mapping_entity_index(field), keys::mapping_entity_gsi("acme-2", field, "A-1"));
                assert!(a.allows("dynamodb:Query", Index(index), &[&pk]), "{index} {pk}");
            }
        }
        assert!(a.allows("dynamodb:Query", Index("gsi3"), &[&technique_gsi("T1059.001")]));
        // statistics: one Query of the tenant's counters
        assert!(a.allows("dynamodb:Query", Table, &[&keys::stats_pk("acme-2", ENTERPRISE)]));
        assert!(!a.allows("dynamodb:UpdateItem", Table, &[&keys::stats_pk("acme-2", ENTERPRISE)]));
        // a tactic filter resolves through the catalog
        assert!(a.allows("dynamodb:Query", Table, &[keys::CATALOG_PK]));
        assert!(a.allows("s3:GetObject", Object(&archive::snapshot_key(ENTERPRISE, "ab")), &[]));
    }

    #[test]
    fn mapping_writes_may_do_what_the_store_does_in_their_transactions() {
        let a = Access::TenantWrite;
        let pk = mapping_pk("acme", MappingKind::Case);
        // the mapping and its uniqueness guard: read, put, delete (a moved guard, a deleted mapping)
        for action in ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"] {
            assert!(a.allows(action, Table, &[&pk]), "{action}");
        }
        // the audit entry of every write; the audit log is append-only
        assert!(a.allows("dynamodb:PutItem", Table, &[&keys::audit_pk("acme")]));
        assert!(!a.allows("dynamodb:DeleteItem", Table, &[&keys::audit_pk("acme")]));
        assert!(!a.allows("dynamodb:UpdateItem", Table, &[&keys::audit_pk("acme")]));
        // the use counters and the flagged-mapping counter (CATALOG / REVIEW)
        assert!(a.allows("dynamodb:UpdateItem", Table, &[STATS_PK]));
        assert!(a.allows("dynamodb:UpdateItem", Table, &[keys::CATALOG_PK]), "{REVIEW_SK}");
        // techniques are checked against the catalog
        assert!(a.allows("dynamodb:Query", Table, &[keys::CATALOG_PK]));
        assert!(a.allows("s3:GetObject", Object(&archive::snapshot_key(ENTERPRISE, "ab")), &[]));
        // but nothing else changes
        assert!(!a.allows("dynamodb:PutItem", Table, &[keys::CATALOG_PK]));
        assert!(!a.allows("dynamodb:DeleteItem", Table, &[STATS_PK]));
        assert!(!a.allows("dynamodb:BatchWriteItem", Table, &[&pk]));
    }

    #[test]
    fn every_route_that_writes_mappings_may_update_the_counters() {
        for r in ROUTES.iter().filter(|r| writes_mappings(r.id)) {
            assert!(r.access.allows("dynamodb:UpdateItem", Table, &[STATS_PK]), "{}: use counters", r.route_key());
            assert!(r.access.allows("dynamodb:UpdateItem", Table, &[keys::CATALOG_PK]), "{}: flagged-mapping counter", r.route_key());
            assert!(r.access.allows("dynamodb:PutItem", Table, &[&keys::audit_pk("acme")]), "{}: audit entry", r.route_key());
            let stats = keys::stats_pk("acme", ENTERPRISE);
            assert!(r.access.allows("dynamodb:UpdateItem", Table, &[&stats]), "{}: statistics counters", r.route_key());
            let presence = mapping_pk("acme", MappingKind::Case);
            assert!(r.access.allows("dynamodb:BatchGetItem", Table, &[&presence]), "{}: statistics presence records", r.route_key());
        }
        // and only those change the counters
        for r in ROUTES.iter().filter(|r| !writes_mappings(r.id)) {
            assert!(!r.access.allows("dynamodb:UpdateItem", Table, &[STATS_PK]), "{}", r.route_key());
            assert!(!r.access.allows("dynamodb:UpdateItem", Table, &[&keys::stats_pk("acme", ENTERPRISE)]), "{}", r.route_key());
        }
    }

    #[test]
    fn registry_and_audit_routes() {
        let read = Access::RegistryRead;
        assert!(read.allows("dynamodb:Query", Index("gsi1"), &[partitions::PRINCIPALS_INDEX]));
        assert!(!read.allows("dynamodb:Query", Index("gsi1"), &[partitions::AUDIT_INDEX]));
        assert_eq!(writes(read), Vec::<&str>::new());

        let write = Access::RegistryWrite;
        assert!(write.allows("dynamodb:GetItem", Table, &[&principal_pk(ALICE)]));
        assert!(write.allows("dynamodb:PutItem", Table, &[&principal_pk(ALICE)]));
        assert!(write.allows("dynamodb:DeleteItem", Table, &[&principal_pk(ALICE)]));
        assert!(write.allows("dynamodb:PutItem", Table, &[&keys::audit_pk("acme")]));
        assert!(!write.allows("dynamodb:PutItem", Table, &[&mapping_pk("acme", MappingKind::Alert)]));
        assert!(!write.allows("dynamodb:DeleteItem", Table, &[&keys::audit_pk("acme")]));

        let audit = Access::AuditRead;
        assert!(audit.allows("dynamodb:Query", Table, &[&keys::audit_pk("acme")]));
        assert!(audit.allows("dynamodb:Query", Index("gsi1"), &[keys::AUDIT_GSI]));
        assert!(!audit.allows("dynamodb:Query", Table, &[&mapping_pk("acme", MappingKind::Alert)]));
        assert!(!audit.allows("dynamodb:Query", Index("gsi1"), &[partitions::PRINCIPALS_INDEX]));
        assert_eq!(writes(audit), Vec::<&str>::new());
    }

    #[test]
    fn verify_and_repair_reach_the_catalog_counters_and_bundles() {
        for a in [Access::IntegrityVerify, Access::IntegrityRepair] {
            assert!(a.allows("dynamodb:Query", Table, &[keys::CATALOG_PK]), "{a:?}: domain states");
            assert!(a.allows("dynamodb:Query", Table, &[STATS_PK]), "{a:?}: technique uses");
            assert!(a.allows("dynamodb:Query", Index("gsi1"), &[&keys::tactic_gsi(ENTERPRISE, "execution")]), "{a:?}");
            assert!(a.allows("dynamodb:Query", Index("gsi1"), &[&keys::type_gsi(ENTERPRISE, "attack-pattern")]), "{a:?}");
            assert!(a.allows("dynamodb:Query", Index("gsi3"), &[&technique_gsi("T1059")]), "{a:?}");
            assert!(a.allows("s3:GetObject", Object(&archive::bundle_key(ENTERPRISE, "18.1", "ab")), &[]), "{a:?}");
            assert!(!a.allows("dynamodb:Query", Index("gsi1"), &[partitions::PRINCIPALS_INDEX]), "{a:?}");
            assert!(!a.allows("dynamodb:PutItem", Table, &[&principal_pk(ALICE)]), "{a:?}");
        }
        let verify = Access::IntegrityVerify;
        assert!(verify.allows("dynamodb:GetItem", Table, &[keys::CATALOG_PK]), "the flagged counter");
        assert!(verify.allows("dynamodb:PutItem", Table, &[keys::CATALOG_PK]), "the stored report");
        assert!(!verify.allows("dynamodb:PutItem", Table, &[&mapping_pk("acme", MappingKind::Alert)]));

        let repair = Access::IntegrityRepair;
        assert!(repair.allows("dynamodb:BatchWriteItem", Table, &[&keys::object_pk(ENTERPRISE, "attack-pattern--1")]), "tactic index items");
        assert!(repair.allows("dynamodb:PutItem", Table, &[&mapping_pk("acme", MappingKind::Alert)]));
        assert!(repair.allows("dynamodb:DeleteItem", Table, &[&mapping_pk("acme", MappingKind::Alert)]));
        assert!(repair.allows("dynamodb:PutItem", Table, &[&keys::audit_pk(keys::SYSTEM_TENANT)]));
        assert!(!repair.allows("dynamodb:BatchWriteItem", Table, &[&mapping_pk("acme", MappingKind::Alert)]));
    }

    #[test]
    fn string_like_is_iam_string_like() {
        assert!(string_like("T#*#M#*", "T#acme#M#alert"));
        assert!(string_like("T#*#M#*", "T#acme#M#alert#case_id#C-1"));
        assert!(!string_like("T#*#M#*", "T#acme#AUDIT"));
        assert!(string_like("T#*#AUDIT", "T#_system#AUDIT"));
        assert!(!string_like("T#*#AUDIT", "T#acme#M#alert"));
        assert!(string_like("CATALOG", "CATALOG") && !string_like("CATALOG", "CATALOGS"));
        assert!(string_like("P#*", "P#arn:aws:iam::1:user/a") && !string_like("P#*", "PRINCIPALS"));
        assert!(string_like("MT#*", "MT#T1059") && !string_like("T#*#M#*", "MT#T1059"));
        assert!(string_like("a?c", "abc") && !string_like("a?c", "ac"));
    }
}
