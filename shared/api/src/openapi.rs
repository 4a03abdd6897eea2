//! The OpenAPI 3.1 document, generated from the route table and the response types.
use std::sync::OnceLock;

use serde_json::Value;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApiBuilder, PathItem, PathsBuilder, Ref, RefOr, Required, ResponseBuilder, Schema};

use mitre_domain::{DetectionMethod, MappingKind};

use crate::bodies::*;
use crate::routes::{ROUTES, RouteId, RouteSpec};

/// An If-Match value the API reads: `*`, or one ETag of a mapping (its version in quotes, weak or
/// not), with optional blanks around it ([`crate::mappings::if_match`] refuses anything else with 400).
pub const IF_MATCH_PATTERN: &str = "^[ \\t]*(\\*|(W/)?\"[0-9]{1,19}\")[ \\t]*$";

/// What a list's next_cursor looks like: base64url (no padding) of a JSON object (`{"` is `eyJ`).
pub const CURSOR_PATTERN: &str = "^eyJ[A-Za-z0-9_-]+$";

fn param_doc(route: RouteId, name: &str) -> (&'static str, Type) {
    let statistics = matches!(route, RouteId::TechniqueStatistics | RouteId::TacticStatistics | RouteId::KillChainStatistics);
    match name {
        "from" if statistics => (
            "First month counted: a month (YYYY-MM) or an RFC 3339 timestamp (its month, UTC). Entities count in the month they were first observed with the technique or tactic.",
            Type::String,
        ),
        "to" if statistics => ("Last month counted: a month (YYYY-MM) or an RFC 3339 timestamp (its month, UTC).", Type::String),
        "from" if route == RouteId::ReviewFeedback => ("Only reviews made at or after this time (RFC 3339).", Type::String),
        "to" if route == RouteId::ReviewFeedback => ("Only reviews made at or before this time (RFC 3339).", Type::String),
        "order" => ("oldest (default): oldest first; score: highest confidence first.", Type::String),
        "top" => ("How many techniques, 1 to 1000 (default 10).", Type::Integer),
        "domain" => (
            "ATT&CK domain: enterprise-attack (default for lists), mobile-attack or ics-attack. Detail routes without it look in every synced domain, enterprise first.",
            Type::String,
        ),
        "tactic" => ("Only techniques of this tactic (TA id, shortname or name).", Type::String),
        "kill_chain_phase" => ("Only techniques of this kill-chain phase (the tactic's shortname).", Type::String),
        "platform" => ("Only techniques for this platform (case-insensitive).", Type::String),
        "q" => ("Ranked search over ATT&CK IDs, names, aliases and descriptions; results come best first.", Type::String),
        "include_subtechniques" => ("Include sub-techniques (default true).", Type::Boolean),
        "include_revoked" => ("Include revoked objects (default false).", Type::Boolean),
        "include_deprecated" => ("Include deprecated objects (default false).", Type::Boolean),
        "limit" => ("Page size, 1 to 500 (default 50).", Type::Integer),
        "cursor" => ("Opaque cursor: next_cursor of the previous page, valid only with the same filters; any other cursor is refused with 400.", Type::String),
        "type" => ("Relationship type: uses, mitigates, subtechnique-of, detects, revoked-by, attributed-to.", Type::String),
        "source" => ("Source object: STIX id or ATT&CK ID.", Type::String),
        "target" => ("Target object: STIX id or ATT&CK ID.", Type::String),
        "detailed" => ("Add per-tactic technique counts, sub-techniques, revoked and deprecated (default false).", Type::Boolean),
        "format" => ("The document's format (the route's summary lists them; the first is the default).", Type::String),
        "from" => ("Only mappings last observed at or after this time (RFC 3339).", Type::String),
        "to" => ("Only mappings first observed at or before this time (RFC 3339).", Type::String),
        "entity_type" => ("Only entities of this type: alert, incident, case or observable.", Type::String),
        "dry_run" => ("Show what would be mapped and write nothing (default false).", Type::Boolean),
        "detection_method" => ("Only mappings detected this way: siem, edr, ids, manual_analysis, threat_intel, other or auto_suggested.", Type::String),
        "impact_level" => ("Only mappings of this impact: low, medium or high.", Type::String),
        "mitigation_status" => ("Only mappings whose response stands here: not_started, in_progress or completed.", Type::String),
        "confidence_min" => ("Only mappings of at least this confidence (1 to 100).", Type::Integer),
        "confidence_max" => ("Only mappings of at most this confidence (1 to 100).", Type::Integer),
        "auto_suggested" => ("Only mappings made by enrichment (true) or by hand (false).", Type::Boolean),
        "needs_review" => ("Only mappings flagged for an analyst (true) or not (false).", Type::Boolean),
        "created_by" => ("Only mappings created by this principal (its ARN as recorded).", Type::String),
        "refresh" => ("Superusers: run a fresh verification instead of reading the stored report (default false).", Type::Boolean),
        _ => ("", Type::String),
    }
}

/// What the API accepts for a query parameter, as exactly as a schema can say it.
fn param_schema(r: &RouteSpec, name: &str, ty: Type) -> RefOr<Schema> {
    let date_time = || ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)));
    let strings = |values: Vec<&str>| ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values)).into();
    let statistics = matches!(r.id, RouteId::TechniqueStatistics | RouteId::TacticStatistics | RouteId::KillChainStatistics);
    match name {
        "domain" => strings(mitre_attack::Domain::ALL.iter().map(|d| d.as_str()).collect()),
        "entity_type" => strings(mitre_domain::MappingKind::ALL.iter().map(|k| k.as_str()).collect()),
        "format" => strings(r.formats().to_vec()),
        "order" => strings(vec!["oldest", "score"]),
        "limit" => ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).maximum(Some(crate::params::MAX_LIMIT as f64)).into(),
        "top" => ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).maximum(Some(crate::statistics::MAX_TOP as f64)).into(),
        "from" | "to" if statistics => {
            OneOfBuilder::new().item(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[0-9]{4}-(0[1-9]|1[0-2])$"))).item(date_time()).into()
        }
        "from" | "to" | "since" | "until" | "observed_from" | "observed_to" => date_time().into(),
        "tenant" => ObjectBuilder::new().schema_type(Type::String).pattern(Some("^(_system|[a-z0-9][a-z0-9-]{0,63})$")).into(),
        "alert_id" | "case_id" | "incident_id" | "observable_id" => {
            ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[A-Za-z0-9._:-]{1,128}$")).into()
        }
        "technique" => ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[Tt][0-9]{4}(\\.[0-9]{3})?$")).into(),
        "detection_method" => strings(mitre_domain::DetectionMethod::ALL.iter().map(|v| v.as_str()).collect()),
        "impact_level" => strings(mitre_domain::ImpactLevel::ALL.iter().map(|v| v.as_str()).collect()),
        "mitigation_status" => strings(mitre_domain::MitigationStatus::ALL.iter().map(|v| v.as_str()).collect()),
        "confidence_min" | "confidence_max" => ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).maximum(Some(100)).into(),
        "created_by" => ObjectBuilder::new().schema_type(Type::String).pattern(Some("\\S")).max_length(Some(512)).into(),
        "q" => ObjectBuilder::new().schema_type(Type::String).pattern(Some("[\\p{L}\\p{N}]")).into(),
        "cursor" => ObjectBuilder::new().schema_type(Type::String).pattern(Some(CURSOR_PATTERN)).into(),
        // any other text: not empty nor blank (an empty value is refused, not ignored)
        _ if ty == Type::String => ObjectBuilder::new().schema_type(Type::String).pattern(Some("\\S")).into(),
        _ => ObjectBuilder::new().schema_type(ty).into(),
    }
}

/// What only the server can judge: values no schema tells from valid ones, because whether
/// they are valid depends on stored state (the synced releases, a mapping's current version,
/// the list a cursor came from) or on another value. The document lists them per operation in
/// `x-judged-by-server`: where the value is (`in`: query, header or body) and its `name`, the
/// `status` a schema-valid value can still be refused with, and why. Such a refusal names the
/// value: `details.parameter` of a 400, `details.field` of a 422 (a 412 is If-Match's).
pub const JUDGED_BY_SERVER: &str = "x-judged-by-server";

fn judged_by_server(r: &RouteSpec) -> Vec<Value> {
    use serde_json::json;
    let statistics = matches!(r.id, RouteId::TechniqueStatistics | RouteId::TacticStatistics | RouteId::KillChainStatistics);
    let mut out = Vec::new();
    let mut query = |name: &str, why: &str| {
        if r.query.contains(&name) {
            out.push(json!({"in": "query", "name": name, "status": 400, "reason": why}));
        }
    };
    query("cursor", "only a next_cursor this list handed out continues it, and only with the same filters");
    match r.id {
        RouteId::ListTechniques => {
            query("tactic", "must name a tactic of the domain's synced release");
            query("kill_chain_phase", "must name a kill-chain phase of the domain's synced release");
        }
        RouteId::ListRelationships => {
            query("type", "must be a relationship type ATT&CK uses, or one the domain's relationships have");
            query("source", "must name an object of the domain's synced release");
            query("target", "must name an object of the domain's synced release");
        }
        RouteId::TenantLayer | RouteId::TenantMatrix => {
            query("tactic", "must name a tactic of the domain's synced release");
            query("from", "must not be after to");
        }
        _ if statistics => query("from", "must not be after to (as months)"),
        RouteId::ListMappings(_) => {
            query("confidence_min", "must not be above confidence_max");
            query("observed_from", "must not be after observed_to");
        }
        RouteId::ReviewFeedback => query("from", "must not be after to"),
        RouteId::AttackUpdates => query("to", "from and to go together, each a release such as 18.1"),
        RouteId::EntityLayer(_) | RouteId::EntityMatrix(_) | RouteId::EntityMitigations(_) | RouteId::EntityReport(_) | RouteId::EntityInferences(_) => {
            query("domain", "is required when the entity's mappings span several domains")
        }
        _ => {}
    }
    if r.takes_if_match() {
        out.push(json!({"in": "header", "name": "If-Match", "status": 412, "reason": "only the current version of the mapping or access (or *) passes"}));
    }
    let mut body = |name: &str, why: &str| out.push(json!({"in": "body", "name": name, "status": 422, "reason": why}));
    match r.id {
        RouteId::CreateMapping(_) | RouteId::UpdateMapping(_) => {
            body("technique", "must be a technique of a synced release, neither revoked nor deprecated");
            body("tactic", "must be one of the technique's tactics (required when it has several)");
            body("first_observed", "must not be after last_observed (of the body, or as stored when a change leaves either out)");
        }
        RouteId::Suggest | RouteId::Enrich(_) => body("domain", "must have been synced"),
        RouteId::Infer => body("domain", "must have been synced"),
        _ => {}
    }
    out
}

fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn page_of(item: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .property("items", ArrayBuilder::new().items(reference(item)))
        .required("items")
        .property("next_cursor", ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null])))
        .required("next_cursor")
        .into()
}

fn response_schema(id: RouteId) -> RefOr<Schema> {
    match id {
        RouteId::Suggest => ObjectBuilder::new().description(Some("{items: [{technique, name, tactics, score, evidence: [{kind, detail, span}]}], notes, domain, release, auto_map_threshold}")).into(),
        RouteId::Enrich(_) => ObjectBuilder::new().description(Some("{dry_run, threshold, mapped: [{status: created|merged|would_map, mapping}], suggestions, notes}")).into(),
        RouteId::StartSync => ObjectBuilder::new().description(Some("{run_id, domain, status: started, runs}")).into(),
        RouteId::ListSyncRuns => ObjectBuilder::new().description(Some("{items: run records newest first, next_cursor: null}")).into(),
        RouteId::EntityLayer(_) | RouteId::TenantLayer => ObjectBuilder::new().description(Some("An ATT&CK Navigator layer, format 4.5")).into(),
        RouteId::EntityMatrix(_) | RouteId::TenantMatrix => ObjectBuilder::new().description(Some("The matrix: the domain's tactics in matrix order, each with its techniques and sub-techniques, the mapped ones highlighted")).into(),
        RouteId::EntityMitigations(_) => ObjectBuilder::new().description(Some("Mitigations ranked by weighted coverage, with the techniques each covers")).into(),
        RouteId::EntityReport(_) => ObjectBuilder::new().description(Some("The ATT&CK section of the report")).into(),
        RouteId::TechniqueStatistics => ObjectBuilder::new().description(Some("{domain, release, from_month, to_month, entity_type, generated_at, techniques_seen, items: [{rank, technique, name, url, entities, mappings, tactics: [{tactic, name, mappings}], state}]}")).into(),
        RouteId::TacticStatistics => ObjectBuilder::new().description(Some("{domain, release, from_month, to_month, entity_type, generated_at, items: [{order, tactic, shortname, name, url, entities, mappings}] in matrix order}")).into(),
        RouteId::KillChainStatistics => ObjectBuilder::new().description(Some("{domain, release, ..., kill_chain_name, phases_reached, phases: [{order, phase_name, tactic, name, entities, mappings, relative, top_techniques}] in matrix order}")).into(),
        RouteId::ListTactics => page_of("TacticView"),
        RouteId::GetTactic => reference("TacticDetail"),
        RouteId::ListTechniques => page_of("TechniqueView"),
        RouteId::GetTechnique => reference("TechniqueDetail"),
        RouteId::ListMitigations | RouteId::ListGroups | RouteId::ListSoftware => page_of("EntityView"),
        RouteId::GetMitigation | RouteId::GetGroup | RouteId::GetSoftware => reference("EntityDetail"),
        RouteId::ListRelationships => page_of("RelationshipView"),
        RouteId::ListKillChainPhases => page_of("KillChainPhaseView"),
        RouteId::GetStatus | RouteId::GetOpenApi => ObjectBuilder::new().into(),
        RouteId::CreateMapping(_) | RouteId::GetMapping(_) | RouteId::UpdateMapping(_) => reference("Mapping"),
        RouteId::ListMappings(_) => page_of("Mapping"),
        RouteId::DeleteMapping(_) | RouteId::DeletePrincipal => ObjectBuilder::new().into(),
        RouteId::PutPrincipal => reference("Principal"),
        RouteId::ListPrincipals => page_of("Principal"),
        RouteId::ListAudit => page_of("AuditEntry"),
        RouteId::VerifyCorrelations | RouteId::RepairCorrelations => ObjectBuilder::new().into(),
        RouteId::GetEntityAccess(_) | RouteId::PutEntityAccess(_) => reference("EntityAccess"),
        RouteId::DeleteEntityAccess(_) => ObjectBuilder::new().into(),
        RouteId::ConfirmMapping(_) => reference("Mapping"),
        RouteId::RejectMapping(_) => ObjectBuilder::new().description(Some("{rejected: mapping id, rejection: {technique, tactic, tactic_id, entities, evidence, confidence_score, reason, rejected_by}}")).into(),
        RouteId::ReviewQueue => ObjectBuilder::new().description(Some("{waiting: how many wait, items: mappings, next_cursor}")).into(),
        RouteId::ReviewFeedback => ObjectBuilder::new().description(Some("{from, to, confirmed, rejected, precision, techniques: [{technique, confirmed, rejected, precision}], evidence_sources: [{source, confirmed, rejected, precision}]}")).into(),
        RouteId::AttackUpdates => ObjectBuilder::new()
            .description(Some("{domain, from, to, computed_at, totals, items: [{technique, name, change, usage: {mappings, entities}, ...field-level diff}]} most used first"))
            .into(),
        RouteId::EntityInferences(_) | RouteId::Infer => ObjectBuilder::new()
            .description(Some("{domain, attack_version, observed, suggestions: [{technique, name, tactics, score, evidence: {from, via: [{kind, attack_id, name}], tenant_entities}}], history: {built_at, entities, mappings} | null}"))
            .into(),
    }
}

fn operation(r: &RouteSpec) -> utoipa::openapi::path::Operation {
    let mut op = OperationBuilder::new().operation_id(Some(r.function.trim_end_matches("Function"))).summary(Some(r.summary)).tag(r.tag);
    if r.path.contains('{') {
        op = op.parameter(
            ParameterBuilder::new()
                .name("id")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some("ATT&CK ID, STIX id or (tactics) shortname; percent-encode reserved characters."))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
        );
    }
    if r.takes_if_match() {
        op = op.parameter(
            ParameterBuilder::new()
                .name("If-Match")
                .parameter_in(ParameterIn::Header)
                .required(Required::True)
                .description(Some(
                    "The ETag as read (the mapping's, or the entity access's): its version in quotes (\"3\", or weak: W/\"3\"), or * for any version. Without it the \
                     change is refused with 428, a malformed one with 400, a stale one with 412.",
                ))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String).pattern(Some(IF_MATCH_PATTERN)))),
        );
    }
    for q in r.query {
        let (doc, ty) = param_doc(r.id, q);
        op = op.parameter(
            ParameterBuilder::new()
                .name(*q)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(doc))
                .schema(Some(param_schema(r, q, ty))),
        );
    }
    let body = match r.id {
        RouteId::CreateMapping(MappingKind::Alert) => Some("AlertMappingInput"),
        RouteId::CreateMapping(MappingKind::Incident) => Some("IncidentMappingInput"),
        RouteId::CreateMapping(MappingKind::Case) => Some("CaseMappingInput"),
        RouteId::CreateMapping(MappingKind::Observable) => Some("ObservableMappingInput"),
        RouteId::UpdateMapping(_) => Some("MappingPatch"),
        RouteId::PutPrincipal => Some("PrincipalInput"),
        RouteId::PutEntityAccess(_) => Some("AccessInput"),
        RouteId::ConfirmMapping(_) => Some("ConfirmInput"),
        RouteId::RejectMapping(_) => Some("RejectInput"),
        RouteId::StartSync => Some("SyncInput"),
        RouteId::Suggest | RouteId::Enrich(_) => Some("SuggestInput"),
        RouteId::Infer => Some("InferInput"),
        _ => None,
    };
    if let Some(schema) = body {
        op = op.request_body(Some(
            utoipa::openapi::request_body::RequestBodyBuilder::new()
                .content("application/json", ContentBuilder::new().schema(Some(reference(schema))).build())
                .required(Some(Required::True))
                .build(),
        ));
    }
    if matches!(r.id, RouteId::CreateMapping(_)) {
        op = op.description(Some(
            "Creates the mapping (201). A mapping is unique per entity ids, technique and tactic: posting the same \
             combination again merges the observation into the existing mapping instead (200): the observation \
             window becomes the union of both, the confidence the higher of both; other fields keep their values \
             (change them with PATCH).",
        ));
    }
    let (code, desc) = match r.id {
        RouteId::CreateMapping(_) => ("201", "Created (200 when merged into an existing mapping)"),
        RouteId::StartSync => ("202", "The sync started; its run record appears under sync/runs when it ends"),
        RouteId::DeleteMapping(_) | RouteId::DeletePrincipal => ("204", "Deleted"),
        RouteId::DeleteEntityAccess(_) => ("204", "Open to the whole tenant again"),
        _ => ("200", "OK"),
    };
    let mut ok = ResponseBuilder::new().description(desc);
    if code != "204" {
        for media in r.media_types() {
            let schema = match *media {
                crate::routes::JSON => response_schema(r.id),
                // documents: text of their type
                _ => ObjectBuilder::new().schema_type(Type::String).into(),
            };
            ok = ok.content(*media, ContentBuilder::new().schema(Some(schema)).build());
        }
    }
    op = op.response(code, ok.build());
    if matches!(r.id, RouteId::CreateMapping(_)) {
        op = op.response(
            "200",
            ResponseBuilder::new()
                .description("Merged into the existing mapping")
                .content("application/json", ContentBuilder::new().schema(Some(reference("Mapping"))).build())
                .build(),
        );
    }
    let errors = [
        ("400", "Bad or unknown parameter (details.parameter names it)"),
        ("401", "No verified caller identity"),
        ("403", "The caller is not registered or lacks the role"),
        ("409", "Conflict (PATCH onto another mapping's entity, technique and tactic), or concurrent writers kept overtaking the change through every retry"),
        ("412", "If-Match names a stale version"),
        ("428", "A change without If-Match"),
        ("422", "A value is out of range or names no (or a revoked) technique; details.field names it"),
        ("404", "Unknown id or route, or an entity (or a mapping of one) the caller may not see"),
        ("405", "Method not allowed (details.allowed lists the methods)"),
        ("413", "Request body over 256 KiB"),
        ("500", "Internal error (no detail is shown)"),
        ("503", "The domain has not been synced yet, or the table is busy (throttled): Retry-After says when to try again"),
    ];
    for (code, desc) in errors {
        if code == "403" && r.id == RouteId::GetOpenApi {
            // any caller API Gateway authenticated reads the document, registered or not
            continue;
        }
        op = op.response(
            code,
            ResponseBuilder::new().description(desc).content("application/json", ContentBuilder::new().schema(Some(reference("ErrorBody"))).build()).build(),
        );
    }
    op.security(SecurityRequirement::new::<_, _, String>("sigv4", [])).security(SecurityRequirement::new::<_, _, String>("localDevPrincipal", [])).build()
}

/// Where the generated document is kept (`mitre template` writes it; a test checks it).
pub const PUBLISHED_PATH: &str = "shared/api/openapi.json";

/// The document the API serves: [`document`] as generated into `shared/api/openapi.json`,
/// compiled in deflated (build.rs), so the Lambda binary carries about 12 KB of data rather than
/// the code that builds it.
pub fn published() -> Result<Value, crate::ApiError> {
    static DOC: OnceLock<Result<Value, String>> = OnceLock::new();
    DOC.get_or_init(|| {
        let deflated: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/openapi.json.deflate"));
        serde_json::from_reader(flate2::read::DeflateDecoder::new(deflated)).map_err(|e| format!("the published OpenAPI document: {e}"))
    })
    .clone()
    .map_err(crate::ApiError::internal)
}

/// The published text of a document: pretty JSON with a final newline.
pub fn published_text(doc: &Value) -> String {
    let mut text = serde_json::to_string_pretty(doc).expect("a JSON value serializes");
    text.push('\n');
    text
}

/// The document, built once from the route table and the response types.
pub fn document() -> Result<Value, crate::ApiError> {
    static DOC: OnceLock<Result<Value, String>> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut paths = PathsBuilder::new();
        for r in ROUTES {
            let method = match r.method {
                "GET" => HttpMethod::Get,
                "POST" => HttpMethod::Post,
                "PUT" => HttpMethod::Put,
                "PATCH" => HttpMethod::Patch,
                "DELETE" => HttpMethod::Delete,
                other => panic!("unsupported method {other}"),
            };
            paths = paths.path(r.full_path(), PathItem::new(method, operation(r)));
        }
        let components = ComponentsBuilder::new()
            .schema_from::<ErrorBody>()
            .schema_from::<ErrorDetail>()
            .schema_from::<ObjectRef>()
            .schema_from::<CreditView>()
            .schema_from::<TacticView>()
            .schema_from::<TacticDetail>()
            .schema_from::<TechniqueView>()
            .schema_from::<TechniqueDetail>()
            .schema_from::<EntityView>()
            .schema_from::<EntityDetail>()
            .schema_from::<RelationshipView>()
            .schema_from::<KillChainPhaseView>()
            .schema_from::<mitre_domain::Timestamp>()
            .schema_from::<mitre_domain::TenantId>()
            .schema_from::<mitre_domain::MappingKind>()
            .schema_from::<mitre_domain::DetectionMethod>()
            .schema_from::<mitre_domain::ImpactLevel>()
            .schema_from::<mitre_domain::MitigationStatus>()
            .schema_from::<mitre_domain::Role>()
            .schema_from::<mitre_domain::Mapping>()
            .schema_from::<mitre_domain::MappingInput>()
            .schema_from::<mitre_domain::Principal>()
            .schema_from::<crate::admin::PrincipalInput>()
            .schema_from::<crate::entity_access::AccessInput>()
            .schema_from::<crate::review::ConfirmInput>()
            .schema_from::<crate::review::RejectInput>()
            .schema_from::<mitre_domain::EntityAccess>()
            .schema_from::<mitre_domain::EntityRef>()
            .schema_from::<mitre_domain::access::Pending>()
            .schema_from::<crate::sync_trigger::SyncInput>()
            .schema_from::<crate::suggestions::SuggestInput>()
            .schema_from::<crate::insight::InferInput>()
            .schema_from::<mitre_domain::AuditEntry>()
            .security_scheme("sigv4", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description("Authorization", "AWS Signature Version 4 (API Gateway IAM authorization)"))))
            .security_scheme(
                "localDevPrincipal",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    crate::local::DEV_PRINCIPAL_HEADER,
                    "Local development only (`mitre serve`): the caller's IAM ARN. A deployed API never reads it.",
                ))),
            )
            .build();
        let api = OpenApiBuilder::new()
            .info(
                InfoBuilder::new()
                    .title("sentineliq MITRE ATT&CK API")
                    .version(env!("CARGO_PKG_VERSION"))
                    .description(Some("The ATT&CK catalog (tactics, techniques, mitigations, groups, software, relationships) of the sentineliq incident-response platform. Every route needs IAM (SigV4) authorization. Lists are {items, next_cursor}; errors are {error: {code, message, details}}."))
                    .build(),
            )
            .paths(paths.build())
            .components(Some(components))
            .build();
        let mut doc = serde_json::to_value(&api).map_err(|e| format!("the OpenAPI document does not serialise: {e}"))?;
        request_bodies(&mut doc)?;
        for r in ROUTES {
            let judged = judged_by_server(r);
            if !judged.is_empty() {
                doc["paths"][r.full_path()][r.method.to_lowercase()][JUDGED_BY_SERVER] = Value::Array(judged);
            }
        }
        Ok(doc)
    })
    .clone()
    .map_err(crate::ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_document_is_the_generated_one() {
        let committed = include_str!("../openapi.json");
        assert!(published_text(&document().unwrap()) == committed, "{PUBLISHED_PATH} is not the generated document: run `make template`");
        assert_eq!(published().unwrap(), document().unwrap());
    }

    #[test]
    fn describes_every_route_and_parameter() {
        let doc = document().unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        for r in ROUTES {
            let op = &doc["paths"][r.full_path()][r.method.to_lowercase()];
            assert!(op.is_object(), "{} is missing", r.route_key());
            let names: Vec<&str> = op["parameters"].as_array().map(|a| a.iter().filter_map(|p| p["name"].as_str()).collect()).unwrap_or_default();
            for q in r.query {
                assert!(names.contains(q), "{} lacks parameter {q}", r.route_key());
            }
            assert!(op["responses"]["404"].is_object());
        }
        assert!(doc["components"]["schemas"]["TechniqueDetail"].is_object());
    }

    #[test]
    fn every_reference_resolves_and_the_domain_types_are_the_schemas() {
        let doc = document().unwrap();
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        out.push(r.clone());
                    }
                    m.values().for_each(|x| refs(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{r} is not a schema reference"));
            assert!(doc["components"]["schemas"][name].is_object(), "{r} does not resolve");
        }
        let schemas = &doc["components"]["schemas"];
        // closed sets are enums of the domain's values, timestamps RFC 3339 strings
        assert_eq!(schemas["DetectionMethod"]["enum"], serde_json::json!(["siem", "edr", "ids", "manual_analysis", "threat_intel", "other", "auto_suggested"]));
        assert_eq!(schemas["Role"]["enum"], serde_json::json!(["integration", "viewer", "analyst", "admin", "superuser"]));
        assert_eq!(schemas["Timestamp"]["format"], "date-time");
        for name in ["Mapping", "MappingInput", "Principal", "PrincipalInput", "AuditEntry", "ImpactLevel", "MitigationStatus", "MappingKind"] {
            assert!(schemas[name].is_object(), "{name}");
        }
        assert!(schemas["Mapping"]["properties"]["tactic_id"].is_object());
    }
}

/// The request bodies as exactly as the API reads them, derived from `MappingInput` and
/// `SuggestInput`: a create of each kind names the kind's entity ids (at least one) and a
/// technique, a change names no entity id, timestamps are RFC 3339, null means absent; a
/// suggestion needs text or observables.
fn request_bodies(doc: &mut Value) -> Result<(), String> {
    use serde_json::json;
    let schemas = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut).ok_or("the document has no schemas")?;
    let input = schemas.get("MappingInput").cloned().ok_or("no MappingInput schema")?;
    let mut props = input.get("properties").and_then(Value::as_object).cloned().ok_or("MappingInput has no properties")?;
    let entity = json!({"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"});
    let entities = ["alert_id", "case_id", "incident_id", "observable_id"];
    for f in entities {
        props.remove(f);
    }
    for t in ["first_observed", "last_observed"] {
        props.insert(t.into(), json!({"type": ["string", "null"], "format": "date-time"}));
    }
    props.insert("technique".into(), json!({"type": ["string", "null"], "pattern": "^\\s*[Tt][0-9]{4}(\\.[0-9]{3})?\\s*$"}));
    props.insert("tactic".into(), json!({"type": ["string", "null"], "minLength": 1, "description": "A TA id, name, shortname or STIX id of the technique's domain; required when the technique is in several tactics."}));
    let by_hand: Vec<Value> =
        std::iter::once(Value::Null).chain(DetectionMethod::ALL.iter().filter(|m| **m != DetectionMethod::AutoSuggested).map(|m| json!(m.as_str()))).collect();
    props.insert(
        "detection_method".into(),
        json!({"type": ["string", "null"], "enum": by_hand, "description": "Default manual_analysis; auto_suggested is set by enrich, never by a body."}),
    );
    let patch = json!({"type": "object", "description": "A change of a mapping: any of its fields but the entity ids (which never change); null leaves a field as it is.",
        "properties": props, "additionalProperties": false});
    schemas.insert("MappingPatch".into(), patch);
    for kind in MappingKind::ALL {
        let fields = kind.entity_fields();
        let mut p = props.clone();
        for f in fields {
            p.insert(f.to_string(), entity.clone());
        }
        p.insert("technique".into(), json!({"type": "string", "pattern": "^\\s*[Tt][0-9]{4}(\\.[0-9]{3})?\\s*$"}));
        let any: Vec<Value> = fields.iter().map(|f| json!({"required": [f]})).collect();
        let name = format!("{}{}MappingInput", kind.as_str()[..1].to_uppercase(), &kind.as_str()[1..]);
        schemas.insert(
            name,
            json!({"type": "object", "description": format!("A new {kind} mapping: {} (at least one) and a technique; a repeat of the same entities, technique and tactic merges.", fields.join(" or ")),
                "properties": p, "required": ["technique"], "anyOf": any, "additionalProperties": false}),
        );
    }
    if let Some(props) = schemas.get_mut("SuggestInput").and_then(|s| s.get_mut("properties")).and_then(Value::as_object_mut) {
        props.insert(
            "observables".into(),
            json!({"type": "array", "maxItems": 100, "items": {"type": "object", "required": ["type", "value"], "additionalProperties": false,
            "properties": {"type": {"type": "string", "enum": mitre_suggest::OBSERVABLE_TYPES}, "value": {"type": "string", "pattern": "\\S"}}}}),
        );
        props.insert("domain".into(), json!({"type": ["string", "null"], "enum": [null, "enterprise-attack", "mobile-attack", "ics-attack"]}));
    }
    if let Some(suggest) = schemas.get_mut("SuggestInput").and_then(Value::as_object_mut) {
        suggest.insert(
            "anyOf".into(),
            json!([
                {"required": ["text"], "properties": {"text": {"type": "string", "pattern": "\\S"}}},
                {"required": ["observables"], "properties": {"observables": {"type": "array", "minItems": 1}}}
            ]),
        );
    }
    Ok(())
}

#[cfg(test)]
mod request_body_tests {
    use serde_json::Value;

    /// The patterns are regular expressions, not escaped text: `\S` means "a non-blank character".
    #[test]
    fn body_patterns_are_regular_expressions() {
        let doc = super::document().unwrap();
        let text = doc.pointer("/components/schemas/SuggestInput/anyOf/0/properties/text/pattern").and_then(Value::as_str);
        assert_eq!(text, Some("\\S"));
        let patch = doc.pointer("/components/schemas/MappingPatch/properties").and_then(Value::as_object).unwrap();
        assert!(!patch.contains_key("alert_id") && patch.contains_key("technique"), "a change names no entity id");
        let alert = doc.pointer("/components/schemas/AlertMappingInput").unwrap();
        assert_eq!(alert["required"], serde_json::json!(["technique"]));
        assert!(alert["properties"].get("incident_id").is_none(), "an alert mapping has no incident_id");
    }
}

/// The server refuses what the document refuses, and marks what it alone can judge.
#[cfg(test)]
mod agreement_tests {
    use serde_json::{Value, json};

    use super::{CURSOR_PATTERN, IF_MATCH_PATTERN, JUDGED_BY_SERVER, document};
    use crate::mappings::if_match;
    use crate::routes::ROUTES;
    use crate::suggestions::tests::{call, mapping_writes, world};
    use mitre_domain::Precondition;

    #[test]
    fn if_match_reads_exactly_the_documented_etags() {
        let doc = document().unwrap();
        let op = &doc["paths"]["/api/v1/mitre/alert-mappings/{id}"]["patch"];
        let headers: Vec<&Value> = op["parameters"].as_array().unwrap().iter().filter(|p| p["name"] == "If-Match").collect();
        assert_eq!(headers.len(), 1, "one If-Match parameter");
        assert_eq!(headers[0]["schema"]["pattern"], IF_MATCH_PATTERN);
        // what the pattern admits: *, a version in quotes, weak or not, blanks around
        for (value, expected) in [
            ("*", Precondition::Any),
            (" *\t", Precondition::Any),
            ("\"3\"", Precondition::Version(3)),
            ("W/\"3\"", Precondition::Version(3)),
            ("\t\"020680083073\"  ", Precondition::Version(20680083073)),
            ("\"9999999999999999999\"", Precondition::Version(9_999_999_999_999_999_999)),
        ] {
            assert_eq!(if_match(Some(value)).ok(), Some(expected), "{value:?}");
        }
        // what it does not: 400 invalid_header, never a 412 for a version read out of a malformed tag
        for value in [
            "W/40\"",
            "W/95",
            "95",
            "\"95",
            "W/\"020680083073\t",
            "\"\"",
            "\"+5\"",
            "\"1\", \"2\"",
            "\"12345678901234567890\"",
            "w/\"3\"",
            "W/ \"3\"",
            "**",
            "",
        ] {
            match if_match(Some(value)) {
                Err(crate::ApiError::BadRequest { code: "invalid_header", .. }) => {}
                other => panic!("{value:?}: {other:?}"),
            }
        }
        assert!(matches!(if_match(None), Err(crate::ApiError::PreconditionRequired(_))));
    }

    #[tokio::test]
    async fn a_malformed_if_match_is_a_400_and_changes_nothing() {
        let (app, repos) = world().await;
        let r = call(&app, "POST", "/alert-mappings", None, json!({"alert_id": "A-1", "technique": "T1059.001"})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let path = format!("/alert-mappings/{}", r.body["id"].as_str().unwrap());
        let writes = mapping_writes(&repos).await;
        // unquoted, or quoted on one side: each once read as version 40 and answered 412
        for tag in ["W/40\"", "40", "\"40"] {
            for (method, body) in [("PATCH", json!({"notes": "x"})), ("DELETE", Value::Null)] {
                let r = call(&app, method, &path, Some(tag), body).await;
                assert_eq!((r.status, r.body["error"]["code"].as_str()), (400, Some("invalid_header")), "{method} {tag:?}: {}", r.body);
                assert_eq!(r.body["error"]["details"]["header"], "If-Match");
            }
        }
        assert_eq!(mapping_writes(&repos).await, writes);
        let r = call(&app, "GET", &path, None, Value::Null).await;
        assert_eq!((r.body["version"].as_u64(), r.body["notes"].as_str()), (Some(1), None));
        // well formed: stale is 412, current is applied
        assert_eq!(call(&app, "PATCH", &path, Some("W/\"40\""), json!({"notes": "x"})).await.status, 412);
        assert_eq!(call(&app, "PATCH", &path, Some(" \"1\"\t"), json!({"notes": "x"})).await.status, 200);
    }

    #[tokio::test]
    async fn a_body_cannot_set_what_enrich_sets() {
        let doc = document().unwrap();
        let schemas = &doc["components"]["schemas"];
        for name in ["AlertMappingInput", "IncidentMappingInput", "CaseMappingInput", "ObservableMappingInput", "MappingPatch"] {
            let methods = schemas[name]["properties"]["detection_method"]["enum"].as_array().unwrap();
            assert!(methods.contains(&json!("siem")) && !methods.contains(&json!("auto_suggested")), "{name}");
        }
        let (app, _) = world().await;
        let r = call(&app, "POST", "/alert-mappings", None, json!({"alert_id": "A-1", "technique": "T1059.001", "detection_method": "auto_suggested"})).await;
        assert_eq!((r.status, r.body["error"]["details"]["field"].as_str()), (422, Some("detection_method")));
    }

    #[test]
    fn what_the_server_judges_names_values_of_the_operation() {
        let doc = document().unwrap();
        let mut marked = 0;
        for r in ROUTES {
            let op = &doc["paths"][r.full_path()][r.method.to_lowercase()];
            let Some(judged) = op.get(JUDGED_BY_SERVER) else { continue };
            let body = op.pointer("/requestBody/content/application~1json/schema/$ref").and_then(Value::as_str).map(|r| {
                let name = r.trim_start_matches("#/components/schemas/");
                &doc["components"]["schemas"][name]["properties"]
            });
            for j in judged.as_array().unwrap() {
                let (place, name, status) = (j["in"].as_str().unwrap(), j["name"].as_str().unwrap(), j["status"].as_u64().unwrap());
                let declared = match place {
                    "query" | "header" => op["parameters"].as_array().unwrap().iter().any(|p| p["in"] == place && p["name"] == name),
                    "body" => body.is_some_and(|props| props.get(name).is_some()),
                    other => panic!("{other}"),
                };
                assert!(declared, "{}: {place} {name} is not a value of the operation", r.route_key());
                assert!(op["responses"].get(status.to_string()).is_some(), "{}: {status} is not documented", r.route_key());
                assert!(!j["reason"].as_str().unwrap().is_empty());
                marked += 1;
            }
            // every list with a cursor says a cursor is the server's to judge
            assert_eq!(r.query.contains(&"cursor"), judged.as_array().unwrap().iter().any(|j| j["name"] == "cursor"), "{}", r.route_key());
        }
        assert!(marked > 20, "{marked}");
    }

    #[test]
    fn cursors_handed_out_look_as_documented() {
        let s = crate::routes::spec(crate::routes::RouteId::ListTechniques).unwrap();
        let p = crate::params::Params::parse(s, Some("limit=1")).unwrap();
        let (_, next) = p.paginate(vec![("a".to_string(), 1), ("b".to_string(), 2)]).unwrap();
        let store = mitre_domain::cursor::encode(&json!({"pk": "T#acme", "sk": "M#01"}), "0123456789abcdef");
        for c in [next.unwrap(), store] {
            let rest = c.strip_prefix("eyJ").unwrap_or_else(|| panic!("{c} does not match {CURSOR_PATTERN}"));
            assert!(!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{c}");
        }
    }
}
