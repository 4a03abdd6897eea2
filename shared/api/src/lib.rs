//! The HTTP API of the ATT&CK module: one router and one set of handlers, used by every
//! Lambda function (API Gateway HTTP API, IAM authorization) and by `mitre serve`.
//!
//! Every request produces one response in the common shape and one metric line in
//! CloudWatch Embedded Metric Format.
pub mod access;
#[cfg(any(test, feature = "testing"))]
pub mod access_property;
pub mod admin;
pub mod analyst_views;
#[cfg(test)]
mod analyst_views_tests;
pub mod backend;
pub mod bodies;
pub mod catalog;
pub mod catalog_cache;
pub mod entity_access;
pub mod error;
pub mod identity;
pub mod insight;
pub mod local;
pub mod mappings;
pub mod openapi;
pub mod params;
pub mod review;
pub mod routes;
#[cfg(test)]
mod rules_tests;
pub mod statistics;
pub mod suggestions;
pub mod sync_trigger;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::time::{Duration, Instant};

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use std::sync::Arc;

use mitre_domain::{AccessRepo, AuditLog, FeedbackRepo, InsightRepo, MappingRepo, PrincipalRepo, RetryPolicy, StatsRepo};
use mitre_store::Store;
use serde_json::{Value, json};

pub use catalog_cache::CatalogCache;
pub use error::ApiError;
use params::Params;
use routes::{RouteId, RouteSpec, match_route};

/// Bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Principals (IAM ARNs) with every right: MITRE_SUPERUSERS, comma-separated.
    pub superusers: Vec<String>,
    /// When set (MITRE_ROUTE, per deployed function), only this route key is served.
    pub only_route: Option<String>,
    /// Seconds between catalog version checks (MITRE_CATALOG_TTL_SECONDS, default 60).
    pub catalog_ttl: Duration,
    /// Print the metric line of each request (on by default; benchmarks turn it off).
    pub metric_lines: bool,
    /// How long catalog routes reuse a registry entry (MITRE_PRINCIPAL_TTL_SECONDS, default 30; 0 never).
    pub principal_ttl: Duration,
    /// The score from which `enrich` maps a suggestion (MITRE_ENRICH_THRESHOLD, default the
    /// engine's measured threshold).
    pub enrich_threshold: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            superusers: Vec::new(),
            only_route: None,
            catalog_ttl: Duration::from_secs(60),
            metric_lines: true,
            principal_ttl: Duration::from_secs(30),
            enrich_threshold: mitre_suggest::calibration::DEFAULT_THRESHOLD,
        }
    }
}

impl Settings {
    pub fn from_env() -> Settings {
        let superusers =
            std::env::var("MITRE_SUPERUSERS").unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
        let only_route = std::env::var("MITRE_ROUTE").ok().filter(|r| !r.trim().is_empty());
        let secs = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
        Settings {
            superusers,
            only_route,
            catalog_ttl: Duration::from_secs(secs("MITRE_CATALOG_TTL_SECONDS", 60)),
            metric_lines: true,
            principal_ttl: Duration::from_secs(secs("MITRE_PRINCIPAL_TTL_SECONDS", 30)),
            enrich_threshold: std::env::var("MITRE_ENRICH_THRESHOLD")
                .ok()
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|t| (0.0..=1.0).contains(t))
                .unwrap_or(mitre_suggest::calibration::DEFAULT_THRESHOLD),
        }
    }
}

/// Everything a request needs, built once per container. Handlers depend on the
/// repositories' traits, not on DynamoDB.
pub struct App {
    pub catalog: CatalogCache,
    pub backend: Arc<dyn backend::CatalogBackend>,
    pub mappings: Arc<dyn MappingRepo>,
    /// Entity access records.
    pub access: Arc<dyn AccessRepo>,
    pub principals: Arc<dyn PrincipalRepo>,
    pub audit: Arc<dyn AuditLog>,
    /// The statistics counters.
    pub stats: Arc<dyn StatsRepo>,
    /// Release changes and the tenants' inference histories.
    pub insights: Arc<dyn InsightRepo>,
    /// The tenants' review verdicts, which enrichment weighs its suggestions by.
    pub feedback: Arc<dyn FeedbackRepo>,
    /// The ATT&CK procedure sets inference ranks with, per synced release.
    pub procedures: insight::Procedures,
    /// Release changes and histories as last read, decoded.
    pub kept: insight::Kept,
    /// What `POST sync` starts (none by default: a 503).
    pub sync: Arc<dyn sync_trigger::SyncTrigger>,
    /// The suggestion engine of each synced release.
    pub engines: suggestions::Engines,
    pub settings: Settings,
    principal_cache: identity::PrincipalCache,
}

impl App {
    /// The API over the store: DynamoDB and S3, each call made once (requests are retried as a
    /// whole, under [`RetryPolicy::REQUEST`]).
    pub fn new(store: Store, settings: Settings) -> App {
        let store = Arc::new(store.single_attempt());
        App::with(store.clone(), Repos::of(store), settings)
    }

    /// The API over fixed catalogs and in-memory repositories (no AWS at all).
    #[cfg(any(test, feature = "testing"))]
    pub fn in_memory(catalogs: &[mitre_attack::catalog::DomainCatalog], repos: Arc<mitre_domain::MemoryRepos>, settings: Settings) -> std::io::Result<App> {
        Ok(App::with(Arc::new(backend::FixedCatalogs::new(catalogs)?), Repos::of(repos), settings))
    }

    pub fn with(backend: Arc<dyn backend::CatalogBackend>, repos: Repos, settings: Settings) -> App {
        let Repos { mappings, access, principals, audit, stats, insights, feedback } = repos;
        let catalog = CatalogCache::new(backend.clone(), settings.catalog_ttl);
        let principal_cache = identity::PrincipalCache::new(settings.principal_ttl);
        App {
            catalog,
            backend,
            mappings,
            access,
            principals,
            audit,
            stats,
            insights,
            feedback,
            procedures: insight::Procedures::default(),
            kept: insight::Kept::default(),
            sync: Arc::new(sync_trigger::NoSyncFunction),
            engines: suggestions::Engines::default(),
            settings,
            principal_cache,
        }
    }

    /// The same app, starting syncs with `trigger`.
    pub fn with_sync(mut self, trigger: Arc<dyn sync_trigger::SyncTrigger>) -> App {
        self.sync = trigger;
        self
    }
}

/// The repositories the handlers read and write, each by the capability it serves.
pub struct Repos {
    pub mappings: Arc<dyn MappingRepo>,
    pub access: Arc<dyn AccessRepo>,
    pub principals: Arc<dyn PrincipalRepo>,
    pub audit: Arc<dyn AuditLog>,
    pub stats: Arc<dyn StatsRepo>,
    pub insights: Arc<dyn InsightRepo>,
    pub feedback: Arc<dyn FeedbackRepo>,
}

impl Repos {
    /// Every capability from one implementation (the store, or the in-memory repositories).
    pub fn of<R: MappingRepo + AccessRepo + PrincipalRepo + AuditLog + StatsRepo + InsightRepo + FeedbackRepo + 'static>(repos: Arc<R>) -> Repos {
        Repos {
            mappings: repos.clone(),
            access: repos.clone(),
            principals: repos.clone(),
            audit: repos.clone(),
            stats: repos.clone(),
            insights: repos.clone(),
            feedback: repos,
        }
    }
}

/// The verified caller: the IAM principal API Gateway's authorizer put in the request context.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: String,
    pub request_id: String,
}

fn caller(req: &Request) -> Result<Caller, ApiError> {
    let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else { return Err(ApiError::Unauthenticated) };
    let principal = ctx
        .authorizer
        .as_ref()
        .and_then(|a| a.iam.as_ref())
        .and_then(|iam| iam.user_arn.clone())
        .filter(|a| !a.trim().is_empty())
        .ok_or(ApiError::Unauthenticated)?;
    Ok(Caller { principal, request_id: ctx.request_id.clone().unwrap_or_default() })
}

/// A reply's body, with its content type.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyBody {
    /// 204 and the like.
    Empty,
    Json(Value),
    Html(String),
    Svg(String),
    Markdown(String),
    Binary {
        content_type: &'static str,
        bytes: Vec<u8>,
    },
}

impl ReplyBody {
    pub fn content_type(&self) -> Option<&'static str> {
        match self {
            ReplyBody::Empty => None,
            ReplyBody::Json(_) => Some("application/json"),
            ReplyBody::Html(_) => Some("text/html; charset=utf-8"),
            ReplyBody::Svg(_) => Some("image/svg+xml"),
            ReplyBody::Markdown(_) => Some("text/markdown; charset=utf-8"),
            ReplyBody::Binary { content_type, .. } => Some(content_type),
        }
    }

    /// Documents that a browser renders: they may use inline styles and scripts of their
    /// own and nothing from elsewhere.
    fn is_document(&self) -> bool {
        matches!(self, ReplyBody::Html(_) | ReplyBody::Svg(_))
    }
}

/// What a handler answers: a status, a body and an ETag.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: ReplyBody,
    pub etag: Option<String>,
}

impl Reply {
    pub fn json(body: Value) -> Reply {
        Reply { status: 200, body: ReplyBody::Json(body), etag: None }
    }

    pub fn with_status(mut self, status: u16) -> Reply {
        self.status = status;
        self
    }

    /// A document (HTML, SVG, Markdown, ...) answered 200.
    pub fn document(body: ReplyBody) -> Reply {
        Reply { status: 200, body, etag: None }
    }

    pub fn no_content() -> Reply {
        Reply { status: 204, body: ReplyBody::Empty, etag: None }
    }
}

/// A served request with what it cost.
pub struct Served {
    pub response: Response<Body>,
    pub route: String,
    pub ddb_calls: u64,
    pub consumed_capacity: f64,
}

/// Serves one request: route, check, handle, and map every error to the common shape.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    serve(app, req).await.response
}

/// [`handle`], also telling the route and the DynamoDB calls and capacity the request used.
pub async fn serve(app: &App, req: Request) -> Served {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    // The handlers' futures live on the heap: their states are large (each route's is
    // different), and the caller's stack stays small whatever a route does.
    let (result, counters) = mitre_store::metrics::measured(Box::pin(dispatch(app, &req))).await;
    let (route, outcome) = result;
    let (mut allow, mut retry_after) = (None, None);
    let reply = match outcome {
        Ok(r) => r,
        Err(e) => {
            match &e {
                ApiError::Internal(_) => tracing::error!(%method, %path, error = %mitre_store::Chain(&e), "internal error"),
                ApiError::Busy(_) | ApiError::Overtaken(_) => tracing::warn!(%method, %path, error = %mitre_store::Chain(&e), "gave up after retries"),
                _ => {}
            }
            retry_after = e.retry_after();
            if let ApiError::MethodNotAllowed { allowed, .. } = &e {
                allow = HeaderValue::from_str(&allowed.join(", ")).ok();
            }
            Reply { status: e.status().as_u16(), body: ReplyBody::Json(e.body()), etag: None }
        }
    };
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let latency = started.elapsed();
    if app.settings.metric_lines {
        emit_metric(&route, status.as_u16(), latency, counters.calls(), counters.capacity());
    }
    let mut resp = response(status, &reply.body, reply.etag.as_deref());
    if let Some(allow) = allow {
        // RFC 9110: a 405 names the methods the resource has
        resp.headers_mut().insert(header::ALLOW, allow);
    }
    if let Some(seconds) = retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    Served { response: resp, route, ddb_calls: counters.calls(), consumed_capacity: counters.capacity() }
}

fn response(status: StatusCode, body: &ReplyBody, etag: Option<&str>) -> Response<Body> {
    let mut resp = Response::new(match body {
        ReplyBody::Empty => Body::Empty,
        ReplyBody::Json(v) => Body::Text(v.to_string()),
        ReplyBody::Html(t) | ReplyBody::Svg(t) | ReplyBody::Markdown(t) => Body::Text(t.clone()),
        ReplyBody::Binary { bytes, .. } => Body::Binary(bytes.clone()),
    });
    *resp.status_mut() = status;
    if let Some(ct) = body.content_type() {
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    if body.is_document() {
        resp.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
        );
    }
    if let Some(tag) = etag.and_then(|t| HeaderValue::from_str(t).ok()) {
        resp.headers_mut().insert(header::ETAG, tag);
    }
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut().insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    resp
}

async fn dispatch(app: &App, req: &Request) -> (String, Result<Reply, ApiError>) {
    let matched = match match_route(req.method().as_str(), req.uri().path()) {
        Ok(m) => m,
        Err(e) => return ("unmatched".into(), Err(e)),
    };
    let route = matched.spec.route_key();
    if app.settings.only_route.as_ref().is_some_and(|only| *only != route) {
        return (route, Err(ApiError::NotFound(format!("no route {}", req.uri().path()))));
    }
    let out = async {
        let caller = caller(req)?;
        if req.body().len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge { limit: MAX_BODY_BYTES });
        }
        let params = Params::parse(matched.spec, req.uri().query())?;
        let id = matched.params.first().map(String::as_str).unwrap_or_default();
        let body: &[u8] = req.body().as_ref();
        let if_match = match req.headers().get(header::IF_MATCH).map(|v| v.to_str()) {
            Some(Ok(v)) => Some(v),
            Some(Err(_)) => return Err(ApiError::BadRequest { code: "invalid_header", message: "If-Match is not valid text".into(), details: None }),
            None => None,
        };
        let (caller, params, spec) = (&caller, &params, matched.spec);
        let attempt = || async move {
            let who = match spec.need {
                // any caller API Gateway authenticated (the OpenAPI document, which a client needs
                // before its principal is registered): no table is read
                None => None,
                Some(_) => Some(identity::identify(app, caller, !spec.tenant_data).await?),
            };
            answer(app, who.as_ref(), spec, id, params, body, if_match).await
        };
        retried(attempt).await
    }
    .await;
    (route, out)
}

/// Runs a request's handler under [`RetryPolicy::REQUEST`], the one retry of the API: every
/// store call is made once ([`mitre_store::Store::single_attempt`]), and a request that failed
/// busy (throttled, unreachable) or overtaken (by concurrent writers) is tried again as a whole, unless it
/// had already committed a write (then its 503 stands: replaying it would apply that write
/// twice). So a request makes at most `attempts` times the calls of one try, and waits at
/// most `max_total_delay` between them.
async fn retried<F, Fut>(attempt: F) -> Result<Reply, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Reply, ApiError>>,
{
    let counters = mitre_store::metrics::current();
    let committed = move || counters.as_ref().is_some_and(|c| c.commits() > 0);
    RetryPolicy::REQUEST.run(attempt, |e: &ApiError| e.is_transient() && !committed()).await
}

/// Who may call `spec`, checked here for every route before its handler runs: the route
/// table declares what it needs of the caller's role (nothing for routes any authenticated
/// caller may call).
fn authorize<'a>(spec: &RouteSpec, who: Option<&'a identity::Identity>) -> Result<Option<&'a identity::Identity>, ApiError> {
    match (spec.need, who) {
        (None, _) => Ok(None),
        (Some(need), Some(who)) => who.require(need).map(|()| Some(who)),
        (Some(_), None) => Err(ApiError::Unauthenticated),
    }
}

/// Answers a matched route for its caller (none for routes any authenticated caller may call),
/// once [`authorize`] let it through. One exhaustive match: a route without a handler does not
/// compile.
async fn answer(
    app: &App,
    who: Option<&identity::Identity>,
    spec: &'static RouteSpec,
    id: &str,
    params: &Params,
    body: &[u8],
    if_match: Option<&str>,
) -> Result<Reply, ApiError> {
    use catalog::EntityKind::*;
    let who = authorize(spec, who)?;
    // the identified caller of a route that declares a role ([`authorize`] checked it)
    let who = || who.ok_or(ApiError::Unauthenticated);
    let catalog_reply = |v: Result<Value, ApiError>| v.map(Reply::json);
    match spec.id {
        RouteId::GetOpenApi => Ok(Reply::json(openapi::published()?)),
        RouteId::CreateMapping(k) => mappings::create(app, who()?, k, body).await,
        RouteId::ListMappings(k) => mappings::list(app, who()?, k, params).await,
        RouteId::GetMapping(k) => mappings::get(app, who()?, k, id).await,
        RouteId::UpdateMapping(k) => mappings::update(app, who()?, k, id, body, if_match).await,
        RouteId::DeleteMapping(k) => mappings::delete(app, who()?, k, id, if_match).await,
        RouteId::PutPrincipal => admin::put_principal(app, who()?, id, body).await,
        RouteId::DeletePrincipal => admin::delete_principal(app, who()?, id).await,
        RouteId::ListPrincipals => admin::list_principals(app, who()?).await,
        RouteId::GetEntityAccess(k) => entity_access::get(app, who()?, k, id).await,
        RouteId::PutEntityAccess(k) => entity_access::put(app, who()?, k, id, body, if_match).await,
        RouteId::DeleteEntityAccess(k) => entity_access::delete(app, who()?, k, id, if_match).await,
        RouteId::ListAudit => admin::list_audit(app, who()?, params).await,
        RouteId::VerifyCorrelations => admin::verify(app, who()?, params).await,
        RouteId::RepairCorrelations => admin::repair(app, who()?, body).await,
        RouteId::EntityLayer(k) => analyst_views::entity_layer(app, who()?, k, id, params).await,
        RouteId::TenantLayer => analyst_views::tenant_layer(app, who()?, params).await,
        RouteId::EntityMatrix(k) => analyst_views::entity_matrix(app, who()?, k, id, spec, params).await,
        RouteId::TenantMatrix => analyst_views::tenant_matrix(app, who()?, spec, params).await,
        RouteId::EntityMitigations(k) => analyst_views::entity_mitigations(app, who()?, k, id, params).await,
        RouteId::EntityReport(k) => analyst_views::entity_report(app, who()?, k, id, spec, params).await,
        RouteId::StartSync => sync_trigger::start(app, who()?, body).await,
        RouteId::Suggest => suggestions::suggest(app, body).await,
        RouteId::ConfirmMapping(k) => review::confirm(app, who()?, k, id, body, if_match).await,
        RouteId::RejectMapping(k) => review::reject(app, who()?, k, id, body, if_match).await,
        RouteId::ReviewQueue => review::queue(app, who()?, params).await,
        RouteId::ReviewFeedback => review::feedback(app, who()?, params).await,
        RouteId::Enrich(k) => suggestions::enrich(app, who()?, k, id, params, body).await,
        RouteId::ListSyncRuns => sync_trigger::runs(app, params).await,
        RouteId::TechniqueStatistics => statistics::techniques(app, who()?, params).await,
        RouteId::TacticStatistics => statistics::tactics(app, who()?, params).await,
        RouteId::KillChainStatistics => statistics::kill_chain(app, who()?, params).await,
        RouteId::AttackUpdates => insight::attack_updates(app, who()?, spec, params).await,
        RouteId::EntityInferences(k) => insight::entity_inferences(app, who()?, k, id, params).await,
        RouteId::Infer => insight::infer_set(app, who()?, body).await,
        RouteId::ListTactics => catalog_reply(catalog::list_tactics(app, params).await),
        RouteId::GetTactic => catalog_reply(catalog::get_tactic(app, params, id).await),
        RouteId::ListTechniques => catalog_reply(catalog::list_techniques(app, params).await),
        RouteId::GetTechnique => catalog_reply(catalog::get_technique(app, params, id).await),
        RouteId::ListMitigations => catalog_reply(catalog::list_entities(app, params, Mitigation).await),
        RouteId::GetMitigation => catalog_reply(catalog::get_entity(app, params, Mitigation, id).await),
        RouteId::ListRelationships => catalog_reply(catalog::list_relationships(app, params).await),
        RouteId::ListGroups => catalog_reply(catalog::list_entities(app, params, Group).await),
        RouteId::GetGroup => catalog_reply(catalog::get_entity(app, params, Group, id).await),
        RouteId::ListSoftware => catalog_reply(catalog::list_entities(app, params, Software).await),
        RouteId::GetSoftware => catalog_reply(catalog::get_entity(app, params, Software, id).await),
        RouteId::ListKillChainPhases => catalog_reply(catalog::list_kill_chain_phases(app, params).await),
        RouteId::GetStatus => catalog_reply(catalog::status(app, params, who()?).await),
    }
}

/// Answers `method path?query` for a caller the operator names (the CLI, which acts in a tenant
/// on the operator's authority): the same route table, parameters and handlers as a request.
pub async fn answer_for(app: &App, who: &identity::Identity, method: &str, path_and_query: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let (path, query) = path_and_query.split_once('?').map(|(p, q)| (p, Some(q))).unwrap_or((path_and_query, None));
    let matched = match_route(method, path)?;
    let params = Params::parse(matched.spec, query)?;
    let id = matched.params.first().map(String::as_str).unwrap_or_default();
    let params = &params;
    // measured, so that the retry sees a committed write (and never replays it), as for a request
    mitre_store::metrics::measured(retried(|| async move { answer(app, Some(who), matched.spec, id, params, body, None).await })).await.0
}

/// One CloudWatch Embedded Metric Format line per request, on stdout.
fn emit_metric(route: &str, status: u16, latency: Duration, ddb_calls: u64, capacity: f64) {
    use mitre_domain::metrics::{Metric, emf_line};
    let line = emf_line(
        &[("Route", json!(route))],
        &[
            Metric { name: "Latency", unit: "Milliseconds", value: json!((latency.as_secs_f64() * 1e6).round() / 1e3) },
            Metric { name: "DynamoDBCalls", unit: "Count", value: json!(ddb_calls) },
            Metric { name: "ConsumedCapacity", unit: "Count", value: json!(capacity) },
        ],
        &[("Status", json!(status))],
    );
    println!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store whose endpoints refuse every connection: any table or bucket call fails.
    fn unreachable_store() -> Store {
        use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, retry::RetryConfig};
        let credentials = Credentials::new("test", "test", None, None, "test");
        let ddb = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(credentials.clone())
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(RetryConfig::disabled())
            .http_client(mitre_store::config::https_client())
            .build();
        let s3 = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(credentials)
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .http_client(mitre_store::config::https_client())
            .build();
        Store::new(aws_sdk_dynamodb::Client::from_conf(ddb), aws_sdk_s3::Client::from_conf(s3), "table", "bucket")
    }

    async fn status_and_body(app: &App, path: &str, principal: Option<&str>) -> (u16, Value) {
        let a = testing::Call::new("GET", path).by_opt(principal).send(app).await;
        (a.status, a.body)
    }

    #[tokio::test]
    async fn an_unregistered_caller_reads_the_openapi_document_without_any_table_call() {
        let app = App::new(unreachable_store(), Settings { metric_lines: false, ..Settings::default() });
        let newcomer = Some("arn:aws:sts::123456789012:assumed-role/NewClient/session");
        let (status, doc) = status_and_body(&app, "/api/v1/mitre/openapi.json", newcomer).await;
        assert_eq!(status, 200, "{doc}");
        assert_eq!(doc["openapi"], "3.1.0");
        let responses = &doc["paths"]["/api/v1/mitre/openapi.json"]["get"]["responses"];
        assert!(responses.get("401").is_some() && responses.get("403").is_none(), "{responses}");
        assert_eq!(status_and_body(&app, "/api/v1/mitre/openapi.json/", newcomer).await.0, 200);
        // API Gateway's verified identity is still required
        assert_eq!(status_and_body(&app, "/api/v1/mitre/openapi.json", None).await.0, 401);
        // every other route reads the registry first (which fails here: the store is unreachable)
        let (status, body) = status_and_body(&app, "/api/v1/mitre/techniques", newcomer).await;
        assert_eq!(status, 503, "{body}");
    }

    #[tokio::test]
    async fn an_unreachable_table_answers_503_with_retry_after_after_the_bounded_retries_and_shows_no_detail() {
        let app = App::new(unreachable_store(), Settings { metric_lines: false, ..Settings::default() });
        let started = Instant::now();
        let a = testing::Call::new("GET", "/api/v1/mitre/alert-mappings").by("arn:aws:iam::123456789012:user/alice").send(&app).await;
        let elapsed = started.elapsed();
        assert_eq!(a.status, 503);
        assert_eq!(a.retry_after.as_deref(), Some("1"));
        // each try reads the registry once (one GetItem, no SDK retry): tried again, and at most
        // the policy's attempts in all (fewer when the jittered waits reach its total first)
        assert!((2..=RetryPolicy::REQUEST.attempts as u64).contains(&a.ddb_calls), "{} calls", a.ddb_calls);
        assert!(elapsed < RetryPolicy::REQUEST.max_total_delay + Duration::from_secs(2), "{elapsed:?}");
        assert_eq!(a.body["error"]["code"], "busy");
        assert!(!a.text.contains("127.0.0.1") && !a.text.contains("GetItem") && !a.text.contains("DynamoDB"), "{}", a.text);
    }

    #[test]
    fn an_internal_error_keeps_its_cause_for_the_log_and_shows_none() {
        let cause = std::io::Error::other("disk on fire at /var/secret");
        let e = ApiError::internal(cause);
        assert_eq!(e.body()["error"]["message"], "internal error");
        assert!(mitre_store::Chain(&e).to_string().contains("disk on fire"));
        assert_eq!(e.retry_after(), None);
        assert!(!e.is_transient());
    }
}
