//! The route table: the one list of routes that the router matches, the OpenAPI document
//! describes and template.yaml deploys (rendered from it by `mitre template`, each route with
//! the IAM statements of its access class).
use mitre_domain::{MappingKind, Need};

use crate::access::Access;
use crate::error::ApiError;

pub const PREFIX: &str = "/api/v1/mitre";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteId {
    ListTactics,
    GetTactic,
    ListTechniques,
    GetTechnique,
    ListMitigations,
    GetMitigation,
    ListRelationships,
    ListGroups,
    GetGroup,
    ListSoftware,
    GetSoftware,
    ListKillChainPhases,
    GetStatus,
    GetOpenApi,
    CreateMapping(MappingKind),
    ListMappings(MappingKind),
    GetMapping(MappingKind),
    UpdateMapping(MappingKind),
    DeleteMapping(MappingKind),
    PutPrincipal,
    DeletePrincipal,
    ListPrincipals,
    ListAudit,
    VerifyCorrelations,
    RepairCorrelations,
    /// The ATT&CK Navigator layer of one alert, incident, case or observable.
    EntityLayer(MappingKind),
    /// The tenant's heatmap layer: distinct entities per technique.
    TenantLayer,
    /// The ATT&CK matrix of an alert, incident or case (JSON, SVG or HTML).
    EntityMatrix(MappingKind),
    /// The tenant's heatmap matrix.
    TenantMatrix,
    /// ATT&CK mitigations ranked by how much of an alert, incident or case they cover.
    EntityMitigations(MappingKind),
    /// The ATT&CK section of a case's or incident's report (Markdown, JSON or HTML).
    EntityReport(MappingKind),
    /// Start a sync of one domain (superusers).
    StartSync,
    /// The sync runs, newest first (superusers).
    ListSyncRuns,
    /// Who may see an alert, incident, case or observable (admins and the integration).
    GetEntityAccess(MappingKind),
    /// Restrict an entity to groups.
    PutEntityAccess(MappingKind),
    /// Open an entity to its whole tenant again.
    DeleteEntityAccess(MappingKind),
    /// Confirm an auto-suggested mapping in review (alerts, incidents and observables: the
    /// kinds enrichment maps).
    ConfirmMapping(MappingKind),
    /// Reject an auto-suggested mapping in review.
    RejectMapping(MappingKind),
    /// Auto-suggested mappings waiting for an analyst.
    ReviewQueue,
    /// Confirmed and rejected auto-mappings per technique and evidence source.
    ReviewFeedback,
    /// Technique suggestions, with evidence, from alert text and observables.
    Suggest,
    /// Auto-mapping of an alert, incident or observable from its text and observables.
    Enrich(MappingKind),
    /// Techniques by distinct entities across the tenant.
    TechniqueStatistics,
    /// Distinct entities per tactic.
    TacticStatistics,
    /// Distinct entities per kill-chain phase.
    KillChainStatistics,
    /// What the latest (or a named) ATT&CK release change changed in the tenant's mappings.
    AttackUpdates,
    /// Techniques an entity does not have yet, ranked by how likely they are part of the same
    /// intrusion, with their evidence.
    EntityInferences(MappingKind),
    /// The same for a set of techniques.
    Infer,
}

/// What of the tenant's entities a route may show. Every handler reads mappings through the
/// caller's sight (`Identity::sight`), so a mapping of an entity the caller may not see is
/// answered like one that does not exist; the property test in `access_tests` holds every
/// route of the table to its scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// No tenant data: the catalog, the status, suggestions, the sync.
    None,
    /// Mappings, each shown only to a caller who may see every entity it names.
    Mappings,
    /// One entity, named by the path or the body: 404 unless the caller may see it, and only
    /// its mappings the caller may see.
    Entity,
    /// Counts across the tenant: restricted entities are counted, never named.
    Aggregate,
    /// Administration (principals, the audit log, entity access, integrity): its callers
    /// (admins, the integration, superusers) see every entity of their tenant.
    Tenant,
}

#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub id: RouteId,
    pub method: &'static str,
    /// Path after the prefix, with `{name}` for path parameters.
    pub path: &'static str,
    /// The function name in template.yaml.
    pub function: &'static str,
    /// What the route's function may touch; its IAM statements derive from this.
    pub access: Access,
    /// What the route needs of its caller's role, checked before its handler runs (`answer`);
    /// None: any caller API Gateway authenticated, registered or not, and no table is read.
    pub need: Option<Need>,
    /// What of the tenant's entities the route may show (see [`Scope`]).
    pub scope: Scope,
    /// The route reads or writes tenant data: the caller's registry entry is read afresh for
    /// every request, so a revoked principal cannot touch tenant data; other routes reuse an
    /// entry read in the last `principal_ttl`.
    pub tenant_data: bool,
    pub summary: &'static str,
    pub tag: &'static str,
    /// Query parameters the route accepts; any other is a 400.
    pub query: &'static [&'static str],
}

impl RouteSpec {
    pub fn full_path(&self) -> String {
        format!("{PREFIX}/{}", self.path)
    }

    /// `GET /api/v1/mitre/techniques/{id}`: the API Gateway route key.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.full_path())
    }

    /// Whether the route changes one versioned item and so requires If-Match (a mapping, or an
    /// entity's access).
    pub fn takes_if_match(&self) -> bool {
        matches!(
            self.id,
            RouteId::UpdateMapping(_)
                | RouteId::DeleteMapping(_)
                | RouteId::PutEntityAccess(_)
                | RouteId::DeleteEntityAccess(_)
                | RouteId::ConfirmMapping(_)
                | RouteId::RejectMapping(_)
        )
    }

    /// The media types of the route's successful replies (the first is the default); the
    /// OpenAPI document describes each.
    pub fn media_types(&self) -> &'static [&'static str] {
        match self.id {
            RouteId::EntityMatrix(_) | RouteId::TenantMatrix => &[JSON, SVG, HTML],
            RouteId::EntityReport(_) => &[MARKDOWN, JSON, HTML],
            RouteId::AttackUpdates => &[JSON, MARKDOWN],
            _ => &[JSON],
        }
    }

    /// The `format` values the route accepts, the default first (one per media type).
    pub fn formats(&self) -> &'static [&'static str] {
        match self.id {
            RouteId::EntityMatrix(_) | RouteId::TenantMatrix => &["json", "svg", "html"],
            RouteId::EntityReport(_) => &["markdown", "json", "html"],
            RouteId::AttackUpdates => &["json", "markdown"],
            _ => &["json"],
        }
    }
}

pub const JSON: &str = "application/json";
pub const HTML: &str = "text/html";
pub const SVG: &str = "image/svg+xml";
pub const MARKDOWN: &str = "text/markdown";

const TECHNIQUE_LIST: &[&str] =
    &["domain", "tactic", "kill_chain_phase", "platform", "q", "include_subtechniques", "include_revoked", "include_deprecated", "limit", "cursor"];
const ENTITY_LIST: &[&str] = &["domain", "q", "include_revoked", "include_deprecated", "limit", "cursor"];
const DETAIL: &[&str] = &["domain"];

const ENTITY_VIEW: &[&str] = &["domain"];
const TENANT_VIEW: &[&str] = &["domain", "from", "to", "entity_type", "tactic"];
const ENTITY_DOCUMENT: &[&str] = &["domain", "format"];
const STATISTICS: &[&str] = &["domain", "from", "to", "entity_type"];
const TENANT_DOCUMENT: &[&str] = &["domain", "from", "to", "entity_type", "tactic", "format"];

pub static ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: RouteId::ListTactics,
        method: "GET",
        path: "tactics",
        function: "ListTacticsFunction",
        access: Access::CatalogRead,
        need: Some(Need::Catalog),
        scope: Scope::None,
        tenant_data: false,
        summary: "Tactics of a domain in matrix order",
        tag: "catalog",
        query: &["domain", "limit", "cursor"],
    },
    RouteSpec {
        id: RouteId::GetTactic,
        method: "GET",
        path: "tactics/{id}",
        function: "GetTacticFunction",
        access: Access::CatalogRead,
        need: Some(Need::Catalog),
        scope: Scope::None,
        tenant_data: false,
        summary: "One tactic by TA id, shortname or STIX id, with its techniques",
        tag: "catalog",
        query: DETAIL,
    },
    RouteSpec {
        id: RouteId::ListTechniques,
        method: "GET",
        path: "techniques",
        function: "ListTechniquesFunction",
        access: Access::CatalogRead,
        need: Some(Need::Catalog),
        scope: Scope::None,
        tenant_data: false,
        summary: "Techniques and sub-techniques, filtered, searched and paginated",
        tag: "catalog",
        query: TECHNIQUE_LIST,
    },
    RouteSpec {
        id: RouteId::GetTechnique,
        method: "GET",
        path: "techniques/{id}",
        function: "GetTechniqueFunction",
        access: Access::CatalogRead,
        need: Some(Need::Catalog),
        scope: Scope::None,
        tenant_data: false,
        summary: "One technique by T-ID, sub-technique ID or STIX id, with its relations",
        tag: "catalog",
        query: DETAIL,
    },
    RouteSpec {
        id: RouteId::ListMitigations,
        method: "GET",
        path: "mitigations",
        function: "ListMitigationsFunction",
        access: Access::CatalogRead,
        need: Some(Need::Catalog),
        scope: Scope::None,
        tenant_data: false,
        summary: "Mitigations",
        tag: "catalog",
        query: ENTITY_LIST,
    },
    RouteSpec {
        id: RouteId::GetMitigation,
        method: "GET",
        path: "mitigations/{id}",
        function: "GetMitigationFunction",
        access: Access::CatalogRead,
        need: Some(Need::Catalog),
        scope: Scope::None,
        tenant_data: false,
        summary: "One mitigation with the techniques it mitigates",
        tag: "catalog",
        query: DETAIL,
    },
    RouteSpec {
        id: RouteId::ListRelationships,
        method: "GET",
        path: "relationships",
        function: "ListRelationshipsFunction",
        access: Access::CatalogRead,
        need: Some(Need::Catalog),
        scope: Scope::None,
        tenant_data: false,
        summary: "Relationships, filtered by type, source and target",
        tag: "catalog",
        query: &["domain", "type", "source", "target", "include_revoked", "include_deprecated", "limit", "cursor"],
    },
    RouteSpec {
        id: RouteId::ListGroups,
        method: "GET",
        path: "groups",
        function: "ListGroupsFunction",
        access: Access::CatalogRead,
        need: Some(Need::Catalog),
        scope: Scope::None,
        tenant_data: false,
        summary: "Groups (intrusion sets)",
        tag: "catalog",
        query: ENTITY_LIST,
    },
    RouteSpec {
        id: RouteId::GetGroup,
        method: "GET",
        path: "groups/{id}",
        function: "GetGroupFunction",
        access: Access::CatalogRead,
        need: Some(Need::Catalog),
        scope: Scope::None,
        tenant_data: false,
        summary: "One group with the techniques and software it uses",
        tag: "catalog",
        query: DETAIL,
    },
    RouteSpec {
        id: RouteId::ListSoftware,
        method: "GET",
        path: "software",
        function: "ListSoftwareFunction",
        access: Access::CatalogRead,
        need: Some(Need::Catalog),
        scope: Scope::None,
        tenant_data: false,
        summary: "Software (malware and tools)",
        tag: "catalog",
        query: ENTITY_LIST,
    },
    RouteSpec {
        id: RouteId::GetSoftware,
        method: "GET",
        path: "software/{id}",
        function: "GetSoftwareFunction",
        access: Access::CatalogRead,
        need: Some(Need::Catalog),
        scope: Scope::None,
        tenant_data: false,
        summary: "One piece of software with the techniques it uses and the groups using it",
        tag: "catalog",
        query: DETAIL,
    },
    RouteSpec {
        id: RouteId::ListKillChainPhases,
        method: "GET",
        path: "kill-chain-phases",
        function: "ListKillChainPhasesFunction",
        access: Access::CatalogRead,
        need: Some(Need::Catalog),
        scope: Scope::None,
        tenant_data: false,
        summary: "Kill-chain phases per domain in matrix order, with technique counts",
        tag: "catalog",
        query: &["domain"],
    },
    RouteSpec {
        id: RouteId::GetStatus,
        method: "GET",
        path: "status",
        function: "GetStatusFunction",
        access: Access::Status,
        need: Some(Need::Catalog),
        scope: Scope::None,
        tenant_data: false,
        summary: "Per domain: ATT&CK version, counts and the last sync run",
        tag: "status",
        query: &["detailed"],
    },
    RouteSpec {
        id: RouteId::GetOpenApi,
        method: "GET",
        path: "openapi.json",
        function: "GetOpenApiFunction",
        access: Access::OpenApi,
        need: None,
        scope: Scope::None,
        tenant_data: false,
        summary: "This OpenAPI 3.1 document",
        tag: "status",
        query: &[],
    },
    RouteSpec {
        id: RouteId::CreateMapping(MappingKind::Alert),
        method: "POST",
        path: "alert-mappings",
        function: "CreateAlertMappingFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "Map a alert to a technique (idempotent per alert, technique and tactic: a repeat merges the observation)",
        tag: "mappings",
        query: &[],
    },
    RouteSpec {
        id: RouteId::ListMappings(MappingKind::Alert),
        method: "GET",
        path: "alert-mappings",
        function: "ListAlertMappingsFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Alert mappings of the caller's tenant, filtered and paginated",
        tag: "mappings",
        query: &[
            "alert_id",
            "case_id",
            "technique",
            "tactic",
            "observed_from",
            "observed_to",
            "detection_method",
            "impact_level",
            "mitigation_status",
            "confidence_min",
            "confidence_max",
            "auto_suggested",
            "needs_review",
            "created_by",
            "limit",
            "cursor",
        ],
    },
    RouteSpec {
        id: RouteId::GetMapping(MappingKind::Alert),
        method: "GET",
        path: "alert-mappings/{id}",
        function: "GetAlertMappingFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "One alert mapping (ETag carries its version)",
        tag: "mappings",
        query: &[],
    },
    RouteSpec {
        id: RouteId::UpdateMapping(MappingKind::Alert),
        method: "PATCH",
        path: "alert-mappings/{id}",
        function: "UpdateAlertMappingFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Change a alert mapping (If-Match required)",
        tag: "mappings",
        query: &[],
    },
    RouteSpec {
        id: RouteId::DeleteMapping(MappingKind::Alert),
        method: "DELETE",
        path: "alert-mappings/{id}",
        function: "DeleteAlertMappingFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Delete a alert mapping (If-Match required)",
        tag: "mappings",
        query: &[],
    },
    RouteSpec {
        id: RouteId::CreateMapping(MappingKind::Incident),
        method: "POST",
        path: "incident-mappings",
        function: "CreateIncidentMappingFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "Map a incident to a technique (idempotent per incident, technique and tactic: a repeat merges the observation)",
        tag: "mappings",
        query: &[],
    },
    RouteSpec {
        id: RouteId::ListMappings(MappingKind::Incident),
        method: "GET",
        path: "incident-mappings",
        function: "ListIncidentMappingsFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Incident mappings of the caller's tenant, filtered and paginated",
        tag: "mappings",
        query: &[
            "incident_id",
            "technique",
            "tactic",
            "observed_from",
            "observed_to",
            "detection_method",
            "impact_level",
            "mitigation_status",
            "confidence_min",
            "confidence_max",
            "auto_suggested",
            "needs_review",
            "created_by",
            "limit",
            "cursor",
        ],
    },
    RouteSpec {
        id: RouteId::GetMapping(MappingKind::Incident),
        method: "GET",
        path: "incident-mappings/{id}",
        function: "GetIncidentMappingFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "One incident mapping (ETag carries its version)",
        tag: "mappings",
        query: &[],
    },
    RouteSpec {
        id: RouteId::UpdateMapping(MappingKind::Incident),
        method: "PATCH",
        path: "incident-mappings/{id}",
        function: "UpdateIncidentMappingFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Change a incident mapping (If-Match required)",
        tag: "mappings",
        query: &[],
    },
    RouteSpec {
        id: RouteId::DeleteMapping(MappingKind::Incident),
        method: "DELETE",
        path: "incident-mappings/{id}",
        function: "DeleteIncidentMappingFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Delete a incident mapping (If-Match required)",
        tag: "mappings",
        query: &[],
    },
    RouteSpec {
        id: RouteId::CreateMapping(MappingKind::Case),
        method: "POST",
        path: "case-mappings",
        function: "CreateCaseMappingFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "Map a case to a technique (idempotent per case, technique and tactic: a repeat merges the observation)",
        tag: "mappings",
        query: &[],
    },
    RouteSpec {
        id: RouteId::ListMappings(MappingKind::Case),
        method: "GET",
        path: "case-mappings",
        function: "ListCaseMappingsFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Case mappings of the caller's tenant, filtered and paginated",
        tag: "mappings",
        query: &[
            "case_id",
            "alert_id",
            "technique",
            "tactic",
            "observed_from",
            "observed_to",
            "detection_method",
            "impact_level",
            "mitigation_status",
            "confidence_min",
            "confidence_max",
            "auto_suggested",
            "needs_review",
            "created_by",
            "limit",
            "cursor",
        ],
    },
    RouteSpec {
        id: RouteId::GetMapping(MappingKind::Case),
        method: "GET",
        path: "case-mappings/{id}",
        function: "GetCaseMappingFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "One case mapping (ETag carries its version)",
        tag: "mappings",
        query: &[],
    },
    RouteSpec {
        id: RouteId::UpdateMapping(MappingKind::Case),
        method: "PATCH",
        path: "case-mappings/{id}",
        function: "UpdateCaseMappingFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Change a case mapping (If-Match required)",
        tag: "mappings",
        query: &[],
    },
    RouteSpec {
        id: RouteId::DeleteMapping(MappingKind::Case),
        method: "DELETE",
        path: "case-mappings/{id}",
        function: "DeleteCaseMappingFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Delete a case mapping (If-Match required)",
        tag: "mappings",
        query: &[],
    },
    RouteSpec {
        id: RouteId::CreateMapping(MappingKind::Observable),
        method: "POST",
        path: "observable-mappings",
        function: "CreateObservableMappingFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "Map a observable to a technique (idempotent per observable, technique and tactic: a repeat merges the observation)",
        tag: "mappings",
        query: &[],
    },
    RouteSpec {
        id: RouteId::ListMappings(MappingKind::Observable),
        method: "GET",
        path: "observable-mappings",
        function: "ListObservableMappingsFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Observable mappings of the caller's tenant, filtered and paginated",
        tag: "mappings",
        query: &[
            "observable_id",
            "technique",
            "tactic",
            "observed_from",
            "observed_to",
            "detection_method",
            "impact_level",
            "mitigation_status",
            "confidence_min",
            "confidence_max",
            "auto_suggested",
            "needs_review",
            "created_by",
            "limit",
            "cursor",
        ],
    },
    RouteSpec {
        id: RouteId::GetMapping(MappingKind::Observable),
        method: "GET",
        path: "observable-mappings/{id}",
        function: "GetObservableMappingFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "One observable mapping (ETag carries its version)",
        tag: "mappings",
        query: &[],
    },
    RouteSpec {
        id: RouteId::UpdateMapping(MappingKind::Observable),
        method: "PATCH",
        path: "observable-mappings/{id}",
        function: "UpdateObservableMappingFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Change a observable mapping (If-Match required)",
        tag: "mappings",
        query: &[],
    },
    RouteSpec {
        id: RouteId::DeleteMapping(MappingKind::Observable),
        method: "DELETE",
        path: "observable-mappings/{id}",
        function: "DeleteObservableMappingFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Delete a observable mapping (If-Match required)",
        tag: "mappings",
        query: &[],
    },
    RouteSpec {
        id: RouteId::ListPrincipals,
        method: "GET",
        path: "admin/principals",
        function: "ListPrincipalsFunction",
        access: Access::RegistryRead,
        need: Some(Need::Admin),
        scope: Scope::Tenant,
        tenant_data: true,
        summary: "The principal registry (superusers)",
        tag: "admin",
        query: &[],
    },
    RouteSpec {
        id: RouteId::PutPrincipal,
        method: "PUT",
        path: "admin/principals/{id}",
        function: "PutPrincipalFunction",
        access: Access::RegistryWrite,
        need: Some(Need::Admin),
        scope: Scope::Tenant,
        tenant_data: true,
        summary: "Register a principal (percent-encoded ARN) in a tenant with a role (superusers)",
        tag: "admin",
        query: &[],
    },
    RouteSpec {
        id: RouteId::DeletePrincipal,
        method: "DELETE",
        path: "admin/principals/{id}",
        function: "DeletePrincipalFunction",
        access: Access::RegistryWrite,
        need: Some(Need::Admin),
        scope: Scope::Tenant,
        tenant_data: true,
        summary: "Remove a principal from the registry (superusers)",
        tag: "admin",
        query: &[],
    },
    RouteSpec {
        id: RouteId::ListAudit,
        method: "GET",
        path: "audit",
        function: "ListAuditFunction",
        access: Access::AuditRead,
        need: Some(Need::Admin),
        scope: Scope::Tenant,
        tenant_data: true,
        summary: "The audit log, newest first: admins see their tenant, superusers every tenant",
        tag: "admin",
        query: &["tenant", "action", "actor", "target", "since", "until", "limit", "cursor"],
    },
    RouteSpec {
        id: RouteId::VerifyCorrelations,
        method: "GET",
        path: "correlations/verify",
        function: "VerifyCorrelationsFunction",
        access: Access::IntegrityVerify,
        need: Some(Need::Read),
        scope: Scope::Tenant,
        tenant_data: true,
        summary: "The last check of the stored catalog and every tenant's mappings (made after every sync that changed something); every registered principal gets the summary, superusers the details and may ask for a fresh check with refresh=true",
        tag: "integrity",
        query: &["refresh"],
    },
    RouteSpec {
        id: RouteId::RepairCorrelations,
        method: "POST",
        path: "correlations/repair",
        function: "RepairCorrelationsFunction",
        access: Access::IntegrityRepair,
        need: Some(Need::Superuser),
        scope: Scope::Tenant,
        tenant_data: true,
        summary: "Rebuild the tactic index and move or flag mappings of revoked and deprecated techniques (superusers; {\"dry_run\": true} by default)",
        tag: "integrity",
        query: &[],
    },
    RouteSpec {
        id: RouteId::EntityLayer(MappingKind::Case),
        method: "GET",
        path: "cases/{id}/navigator-layer",
        function: "CaseNavigatorLayerFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "The ATT&CK Navigator layer (4.5) of a case: its case mappings and the alert mappings that name it",
        tag: "views",
        query: ENTITY_VIEW,
    },
    RouteSpec {
        id: RouteId::EntityLayer(MappingKind::Alert),
        method: "GET",
        path: "alerts/{id}/navigator-layer",
        function: "AlertNavigatorLayerFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "The ATT&CK Navigator layer (4.5) of an alert: its alert mappings and the case mappings that name it",
        tag: "views",
        query: ENTITY_VIEW,
    },
    RouteSpec {
        id: RouteId::EntityLayer(MappingKind::Incident),
        method: "GET",
        path: "incidents/{id}/navigator-layer",
        function: "IncidentNavigatorLayerFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "The ATT&CK Navigator layer (4.5) of an incident",
        tag: "views",
        query: ENTITY_VIEW,
    },
    RouteSpec {
        id: RouteId::EntityLayer(MappingKind::Observable),
        method: "GET",
        path: "observables/{id}/navigator-layer",
        function: "ObservableNavigatorLayerFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "The ATT&CK Navigator layer (4.5) of an observable",
        tag: "views",
        query: ENTITY_VIEW,
    },
    RouteSpec {
        id: RouteId::TenantLayer,
        method: "GET",
        path: "navigator-layer",
        function: "TenantNavigatorLayerFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Aggregate,
        tenant_data: true,
        summary: "The tenant's heatmap layer: the number of distinct entities per technique, in a window",
        tag: "views",
        query: TENANT_VIEW,
    },
    RouteSpec {
        id: RouteId::EntityMatrix(MappingKind::Case),
        method: "GET",
        path: "cases/{id}/matrix",
        function: "CaseMatrixFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "The ATT&CK matrix of a case (format json, svg or html): its techniques highlighted by confidence, with impact and mitigation status",
        tag: "views",
        query: ENTITY_DOCUMENT,
    },
    RouteSpec {
        id: RouteId::EntityMatrix(MappingKind::Alert),
        method: "GET",
        path: "alerts/{id}/matrix",
        function: "AlertMatrixFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "The ATT&CK matrix of an alert (format json, svg or html)",
        tag: "views",
        query: ENTITY_DOCUMENT,
    },
    RouteSpec {
        id: RouteId::EntityMatrix(MappingKind::Incident),
        method: "GET",
        path: "incidents/{id}/matrix",
        function: "IncidentMatrixFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "The ATT&CK matrix of an incident (format json, svg or html)",
        tag: "views",
        query: ENTITY_DOCUMENT,
    },
    RouteSpec {
        id: RouteId::TenantMatrix,
        method: "GET",
        path: "matrix",
        function: "TenantMatrixFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Aggregate,
        tenant_data: true,
        summary: "The tenant's heatmap matrix: distinct entities per technique in a window (format json, svg or html)",
        tag: "views",
        query: TENANT_DOCUMENT,
    },
    RouteSpec {
        id: RouteId::EntityMitigations(MappingKind::Case),
        method: "GET",
        path: "cases/{id}/mitigations",
        function: "CaseMitigationsFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "ATT&CK mitigations ranked by how much of a case they cover",
        tag: "views",
        query: ENTITY_VIEW,
    },
    RouteSpec {
        id: RouteId::EntityMitigations(MappingKind::Alert),
        method: "GET",
        path: "alerts/{id}/mitigations",
        function: "AlertMitigationsFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "ATT&CK mitigations ranked by how much of an alert they cover",
        tag: "views",
        query: ENTITY_VIEW,
    },
    RouteSpec {
        id: RouteId::EntityMitigations(MappingKind::Incident),
        method: "GET",
        path: "incidents/{id}/mitigations",
        function: "IncidentMitigationsFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "ATT&CK mitigations ranked by how much of an incident they cover",
        tag: "views",
        query: ENTITY_VIEW,
    },
    RouteSpec {
        id: RouteId::EntityReport(MappingKind::Case),
        method: "GET",
        path: "cases/{id}/report",
        function: "CaseReportFunction",
        access: Access::Insight,
        need: Some(Need::Read),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "The ATT&CK section of a case's report (format markdown, json or html)",
        tag: "views",
        query: ENTITY_DOCUMENT,
    },
    RouteSpec {
        id: RouteId::EntityReport(MappingKind::Incident),
        method: "GET",
        path: "incidents/{id}/report",
        function: "IncidentReportFunction",
        access: Access::Insight,
        need: Some(Need::Read),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "The ATT&CK section of an incident's report (format markdown, json or html)",
        tag: "views",
        query: ENTITY_DOCUMENT,
    },
    RouteSpec {
        id: RouteId::TechniqueStatistics,
        method: "GET",
        path: "statistics/techniques",
        function: "TechniqueStatisticsFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Aggregate,
        tenant_data: true,
        summary: "Techniques ranked by the number of distinct entities (and mappings) of the caller's tenant, with their tactics, per domain and window of months",
        tag: "statistics",
        query: &["domain", "from", "to", "entity_type", "top"],
    },
    RouteSpec {
        id: RouteId::TacticStatistics,
        method: "GET",
        path: "statistics/tactics",
        function: "TacticStatisticsFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Aggregate,
        tenant_data: true,
        summary: "Distinct entities (and mappings) per tactic of the caller's tenant, in matrix order, per domain and window of months",
        tag: "statistics",
        query: STATISTICS,
    },
    RouteSpec {
        id: RouteId::KillChainStatistics,
        method: "GET",
        path: "statistics/kill-chain",
        function: "KillChainStatisticsFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Aggregate,
        tenant_data: true,
        summary: "Distinct entities per kill-chain phase of the caller's tenant, in matrix order, with the techniques mapped most in each phase",
        tag: "statistics",
        query: STATISTICS,
    },
    RouteSpec {
        id: RouteId::StartSync,
        method: "POST",
        path: "sync",
        function: "StartSyncFunction",
        access: Access::SyncStart,
        need: Some(Need::Superuser),
        scope: Scope::None,
        tenant_data: true,
        summary: "Start a sync of one domain from the deployment's configured source (superusers; {\"domain\", \"force\", \"no_relationships\"}); answers 202 with the run id",
        tag: "sync",
        query: &[],
    },
    RouteSpec {
        id: RouteId::ListSyncRuns,
        method: "GET",
        path: "sync/runs",
        function: "ListSyncRunsFunction",
        access: Access::SyncRuns,
        need: Some(Need::Superuser),
        scope: Scope::None,
        tenant_data: true,
        summary: "Sync runs newest first, with outcome, counts, duration and error (superusers)",
        tag: "sync",
        query: &["domain"],
    },
    RouteSpec {
        id: RouteId::Suggest,
        method: "POST",
        path: "suggestions",
        function: "SuggestTechniquesFunction",
        access: Access::Suggest,
        need: Some(Need::Catalog),
        scope: Scope::None,
        tenant_data: true,
        summary: "ATT&CK techniques suggested from alert text and observables, ranked, each with its evidence and a calibrated score (0 to 1)",
        tag: "suggestions",
        query: &[],
    },
    RouteSpec {
        id: RouteId::Enrich(MappingKind::Alert),
        method: "POST",
        path: "alerts/{id}/enrich",
        function: "EnrichAlertFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "Map an alert to the techniques suggested above the deployment's threshold (detection_method auto_suggested; dry_run=true shows what it would map)",
        tag: "suggestions",
        query: &["dry_run"],
    },
    RouteSpec {
        id: RouteId::Enrich(MappingKind::Incident),
        method: "POST",
        path: "incidents/{id}/enrich",
        function: "EnrichIncidentFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "Map an incident to the techniques suggested above the deployment's threshold (dry_run=true shows what it would map)",
        tag: "suggestions",
        query: &["dry_run"],
    },
    RouteSpec {
        id: RouteId::Enrich(MappingKind::Observable),
        method: "POST",
        path: "observables/{id}/enrich",
        function: "EnrichObservableFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "Map an observable to the techniques suggested above the deployment's threshold (dry_run=true shows what it would map)",
        tag: "suggestions",
        query: &["dry_run"],
    },
    RouteSpec {
        id: RouteId::GetEntityAccess(MappingKind::Alert),
        method: "GET",
        path: "alerts/{id}/access",
        function: "GetAlertAccessFunction",
        access: Access::AccessRead,
        need: Some(Need::Access),
        scope: Scope::Tenant,
        tenant_data: true,
        summary: "Who may see the alert (ETag carries the access version; an entity without a record is open)",
        tag: "access",
        query: &[],
    },
    RouteSpec {
        id: RouteId::PutEntityAccess(MappingKind::Alert),
        method: "PUT",
        path: "alerts/{id}/access",
        function: "PutAlertAccessFunction",
        access: Access::AccessWrite,
        need: Some(Need::Access),
        scope: Scope::Tenant,
        tenant_data: true,
        summary: "Restrict the alert and its mappings to groups (If-Match required)",
        tag: "access",
        query: &[],
    },
    RouteSpec {
        id: RouteId::DeleteEntityAccess(MappingKind::Alert),
        method: "DELETE",
        path: "alerts/{id}/access",
        function: "DeleteAlertAccessFunction",
        access: Access::AccessWrite,
        need: Some(Need::Access),
        scope: Scope::Tenant,
        tenant_data: true,
        summary: "Open the alert and its mappings to the whole tenant again (If-Match required)",
        tag: "access",
        query: &[],
    },
    RouteSpec {
        id: RouteId::GetEntityAccess(MappingKind::Incident),
        method: "GET",
        path: "incidents/{id}/access",
        function: "GetIncidentAccessFunction",
        access: Access::AccessRead,
        need: Some(Need::Access),
        scope: Scope::Tenant,
        tenant_data: true,
        summary: "Who may see the incident (ETag carries the access version; an entity without a record is open)",
        tag: "access",
        query: &[],
    },
    RouteSpec {
        id: RouteId::PutEntityAccess(MappingKind::Incident),
        method: "PUT",
        path: "incidents/{id}/access",
        function: "PutIncidentAccessFunction",
        access: Access::AccessWrite,
        need: Some(Need::Access),
        scope: Scope::Tenant,
        tenant_data: true,
        summary: "Restrict the incident and its mappings to groups (If-Match required)",
        tag: "access",
        query: &[],
    },
    RouteSpec {
        id: RouteId::DeleteEntityAccess(MappingKind::Incident),
        method: "DELETE",
        path: "incidents/{id}/access",
        function: "DeleteIncidentAccessFunction",
        access: Access::AccessWrite,
        need: Some(Need::Access),
        scope: Scope::Tenant,
        tenant_data: true,
        summary: "Open the incident and its mappings to the whole tenant again (If-Match required)",
        tag: "access",
        query: &[],
    },
    RouteSpec {
        id: RouteId::GetEntityAccess(MappingKind::Case),
        method: "GET",
        path: "cases/{id}/access",
        function: "GetCaseAccessFunction",
        access: Access::AccessRead,
        need: Some(Need::Access),
        scope: Scope::Tenant,
        tenant_data: true,
        summary: "Who may see the case (ETag carries the access version; an entity without a record is open)",
        tag: "access",
        query: &[],
    },
    RouteSpec {
        id: RouteId::PutEntityAccess(MappingKind::Case),
        method: "PUT",
        path: "cases/{id}/access",
        function: "PutCaseAccessFunction",
        access: Access::AccessWrite,
        need: Some(Need::Access),
        scope: Scope::Tenant,
        tenant_data: true,
        summary: "Restrict the case and its mappings to groups (If-Match required)",
        tag: "access",
        query: &[],
    },
    RouteSpec {
        id: RouteId::DeleteEntityAccess(MappingKind::Case),
        method: "DELETE",
        path: "cases/{id}/access",
        function: "DeleteCaseAccessFunction",
        access: Access::AccessWrite,
        need: Some(Need::Access),
        scope: Scope::Tenant,
        tenant_data: true,
        summary: "Open the case and its mappings to the whole tenant again (If-Match required)",
        tag: "access",
        query: &[],
    },
    RouteSpec {
        id: RouteId::GetEntityAccess(MappingKind::Observable),
        method: "GET",
        path: "observables/{id}/access",
        function: "GetObservableAccessFunction",
        access: Access::AccessRead,
        need: Some(Need::Access),
        scope: Scope::Tenant,
        tenant_data: true,
        summary: "Who may see the observable (ETag carries the access version; an entity without a record is open)",
        tag: "access",
        query: &[],
    },
    RouteSpec {
        id: RouteId::PutEntityAccess(MappingKind::Observable),
        method: "PUT",
        path: "observables/{id}/access",
        function: "PutObservableAccessFunction",
        access: Access::AccessWrite,
        need: Some(Need::Access),
        scope: Scope::Tenant,
        tenant_data: true,
        summary: "Restrict the observable and its mappings to groups (If-Match required)",
        tag: "access",
        query: &[],
    },
    RouteSpec {
        id: RouteId::DeleteEntityAccess(MappingKind::Observable),
        method: "DELETE",
        path: "observables/{id}/access",
        function: "DeleteObservableAccessFunction",
        access: Access::AccessWrite,
        need: Some(Need::Access),
        scope: Scope::Tenant,
        tenant_data: true,
        summary: "Open the observable and its mappings to the whole tenant again (If-Match required)",
        tag: "access",
        query: &[],
    },
    RouteSpec {
        id: RouteId::ConfirmMapping(MappingKind::Alert),
        method: "POST",
        path: "alert-mappings/{id}/confirm",
        function: "ConfirmAlertMappingFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Confirm an auto-suggested alert mapping in review (If-Match required)",
        tag: "review",
        query: &[],
    },
    RouteSpec {
        id: RouteId::RejectMapping(MappingKind::Alert),
        method: "POST",
        path: "alert-mappings/{id}/reject",
        function: "RejectAlertMappingFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Reject an auto-suggested alert mapping in review, with the reason (If-Match required)",
        tag: "review",
        query: &[],
    },
    RouteSpec {
        id: RouteId::ConfirmMapping(MappingKind::Incident),
        method: "POST",
        path: "incident-mappings/{id}/confirm",
        function: "ConfirmIncidentMappingFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Confirm an auto-suggested incident mapping in review (If-Match required)",
        tag: "review",
        query: &[],
    },
    RouteSpec {
        id: RouteId::RejectMapping(MappingKind::Incident),
        method: "POST",
        path: "incident-mappings/{id}/reject",
        function: "RejectIncidentMappingFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Reject an auto-suggested incident mapping in review, with the reason (If-Match required)",
        tag: "review",
        query: &[],
    },
    RouteSpec {
        id: RouteId::ConfirmMapping(MappingKind::Observable),
        method: "POST",
        path: "observable-mappings/{id}/confirm",
        function: "ConfirmObservableMappingFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Confirm an auto-suggested observable mapping in review (If-Match required)",
        tag: "review",
        query: &[],
    },
    RouteSpec {
        id: RouteId::RejectMapping(MappingKind::Observable),
        method: "POST",
        path: "observable-mappings/{id}/reject",
        function: "RejectObservableMappingFunction",
        access: Access::TenantWrite,
        need: Some(Need::Write),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Reject an auto-suggested observable mapping in review, with the reason (If-Match required)",
        tag: "review",
        query: &[],
    },
    RouteSpec {
        id: RouteId::ReviewQueue,
        method: "GET",
        path: "review-queue",
        function: "ReviewQueueFunction",
        access: Access::TenantRead,
        need: Some(Need::Read),
        scope: Scope::Mappings,
        tenant_data: true,
        summary: "Auto-suggested mappings waiting for an analyst, oldest or highest confidence first",
        tag: "review",
        query: &["entity_type", "order", "limit", "cursor"],
    },
    RouteSpec {
        id: RouteId::ReviewFeedback,
        method: "GET",
        path: "review-feedback",
        function: "ReviewFeedbackFunction",
        access: Access::ReviewRead,
        need: Some(Need::Read),
        scope: Scope::Aggregate,
        tenant_data: true,
        summary: "Confirmed and rejected auto-mappings per technique and evidence source",
        tag: "review",
        query: &["from", "to"],
    },
    RouteSpec {
        id: RouteId::AttackUpdates,
        method: "GET",
        path: "attack-updates",
        function: "AttackUpdatesFunction",
        access: Access::Insight,
        need: Some(Need::Read),
        scope: Scope::Aggregate,
        tenant_data: true,
        summary: "What the latest ATT&CK release change of a domain (or the one from `from` to `to`) changed in the tenant's mappings: revoked, deprecated, moved or changed techniques it maps, most used first (format json or markdown)",
        tag: "insights",
        query: &["domain", "from", "to", "format"],
    },
    RouteSpec {
        id: RouteId::EntityInferences(MappingKind::Case),
        method: "GET",
        path: "cases/{id}/inferences",
        function: "CaseInferencesFunction",
        access: Access::Insight,
        need: Some(Need::Read),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "Techniques a case does not have yet, ranked by how likely they are part of the same intrusion, each with its evidence (ATT&CK procedure sets, the tenant's own history)",
        tag: "insights",
        query: &["domain", "limit"],
    },
    RouteSpec {
        id: RouteId::EntityInferences(MappingKind::Incident),
        method: "GET",
        path: "incidents/{id}/inferences",
        function: "IncidentInferencesFunction",
        access: Access::Insight,
        need: Some(Need::Read),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "Techniques an incident does not have yet, ranked by how likely they are part of the same intrusion, each with its evidence (ATT&CK procedure sets, the tenant's own history)",
        tag: "insights",
        query: &["domain", "limit"],
    },
    RouteSpec {
        id: RouteId::EntityInferences(MappingKind::Alert),
        method: "GET",
        path: "alerts/{id}/inferences",
        function: "AlertInferencesFunction",
        access: Access::Insight,
        need: Some(Need::Read),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "Techniques an alert does not have yet, ranked by how likely they are part of the same intrusion, each with its evidence (ATT&CK procedure sets, the tenant's own history)",
        tag: "insights",
        query: &["domain", "limit"],
    },
    RouteSpec {
        id: RouteId::EntityInferences(MappingKind::Observable),
        method: "GET",
        path: "observables/{id}/inferences",
        function: "ObservableInferencesFunction",
        access: Access::Insight,
        need: Some(Need::Read),
        scope: Scope::Entity,
        tenant_data: true,
        summary: "Techniques an observable does not have yet, ranked by how likely they are part of the same intrusion, each with its evidence (ATT&CK procedure sets, the tenant's own history)",
        tag: "insights",
        query: &["domain", "limit"],
    },
    RouteSpec {
        id: RouteId::Infer,
        method: "POST",
        path: "inferences",
        function: "InferTechniquesFunction",
        access: Access::Insight,
        need: Some(Need::Read),
        scope: Scope::Aggregate,
        tenant_data: true,
        summary: "Techniques likely part of the same intrusion as a set of observed techniques, ranked, each with its evidence",
        tag: "insights",
        query: &[],
    },
];

/// The route of `id`, if the table has it.
pub fn spec(id: RouteId) -> Option<&'static RouteSpec> {
    ROUTES.iter().find(|r| r.id == id)
}

/// A matched route with its decoded path parameters.
#[derive(Debug)]
pub struct Matched {
    pub spec: &'static RouteSpec,
    pub params: Vec<String>,
}

/// Matches a raw (percent-encoded) path, with or without a trailing slash.
pub fn match_route(method: &str, raw_path: &str) -> Result<Matched, ApiError> {
    let not_found = || ApiError::NotFound(format!("no route {raw_path}"));
    let rest = raw_path.strip_prefix(PREFIX).ok_or_else(not_found)?;
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let segments: Vec<&str> = rest.split('/').collect();
    let mut allowed = Vec::new();
    let mut found = None;
    for r in ROUTES {
        let tpl: Vec<&str> = r.path.split('/').collect();
        if tpl.len() != segments.len() {
            continue;
        }
        let mut params = Vec::new();
        let ok = tpl.iter().zip(&segments).all(|(t, s)| {
            if t.starts_with('{') {
                if s.is_empty() {
                    return false;
                }
                params.push(s.to_string());
                true
            } else {
                t == s
            }
        });
        if !ok {
            continue;
        }
        if r.method == method {
            found = Some(Matched { spec: r, params });
            break;
        }
        allowed.push(r.method);
    }
    if let Some(m) = found {
        let params = m
            .params
            .iter()
            .map(|p| {
                percent_decode(p).ok_or_else(|| ApiError::BadRequest {
                    code: "invalid_path",
                    message: "the path is not valid percent-encoded UTF-8".into(),
                    details: None,
                })
            })
            .collect::<Result<_, _>>()?;
        return Ok(Matched { spec: m.spec, params });
    }
    if !allowed.is_empty() {
        return Err(ApiError::MethodNotAllowed { method: method.to_string(), allowed });
    }
    Err(not_found())
}

/// The decoded path segment; None when an escape is malformed (`percent-encoding` would pass
/// it through as it is: this API refuses it) or the bytes are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let well_formed = b.iter().enumerate().filter(|(_, c)| **c == b'%').all(|(i, _)| b.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)));
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(s).decode_utf8().ok().map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_routes_slashes_and_methods() {
        let m = match_route("GET", "/api/v1/mitre/techniques/T1059.001/").unwrap();
        assert_eq!((m.spec.id, m.params.as_slice()), (RouteId::GetTechnique, &["T1059.001".to_string()][..]));
        assert_eq!(match_route("GET", "/api/v1/mitre/techniques").unwrap().spec.id, RouteId::ListTechniques);
        assert_eq!(match_route("GET", "/api/v1/mitre/kill-chain-phases/").unwrap().spec.id, RouteId::ListKillChainPhases);
        assert!(matches!(match_route("POST", "/api/v1/mitre/techniques"), Err(ApiError::MethodNotAllowed { .. })));
        assert!(matches!(match_route("GET", "/api/v1/mitre/nope"), Err(ApiError::NotFound(_))));
        assert!(matches!(match_route("GET", "/api/v1/mitre/techniques//"), Err(ApiError::NotFound(_))));
        assert_eq!(match_route("GET", "/api/v1/mitre/groups/G%30007").unwrap().params, ["G0007"]);
        assert!(matches!(match_route("GET", "/api/v1/mitre/groups/%ff"), Err(ApiError::BadRequest { .. })));
        // a malformed escape is refused, not passed through
        for bad in ["%zz", "G%3", "%"] {
            assert!(matches!(match_route("GET", &format!("/api/v1/mitre/groups/{bad}")), Err(ApiError::BadRequest { .. })), "{bad}");
        }
        assert_eq!(match_route("GET", "/api/v1/mitre/groups/caf%C3%A9").unwrap().params, ["café"]);
    }

    #[test]
    fn route_keys_are_unique() {
        let mut keys: Vec<_> = ROUTES.iter().map(|r| r.route_key()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), ROUTES.len());
    }
}
