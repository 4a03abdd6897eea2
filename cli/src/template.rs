//! The CloudFormation templates rendered from the hand-kept base (infra/template.base.yaml) and
//! the route table of mitre-api: one function per route, in route-table order, each with the IAM
//! statements of its route's access class.
//!
//! - [`render`]: template.yaml, the deployed single stack. `mitre template` writes it; a test
//!   fails while the committed file differs from the rendering.
//! - [`render_nested`]: the nested-stack plan (`mitre template --nested DIR`), for when the
//!   routes outgrow one stack: the base as the parent stack, with the HTTP API as a plain
//!   `AWS::ApiGatewayV2::Api` and its `$default` stage, and one child stack
//!   (`AWS::Serverless::Application`) per route tag. A child holds its routes' functions and
//!   adds their integrations, routes and invoke permissions to the parent's API, whose id it
//!   gets as a parameter. Not deployed today: infra/sam-validate.sh renders it into a temporary
//!   folder, validates every stack and counts its resources.
use std::fmt::Write;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use mitre_api::access::{Access, Resource, Statement};
use mitre_api::routes::{PREFIX, ROUTES, RouteSpec};

/// The line of the base where the API functions go.
pub const MARKER: &str = "# @api-functions";

/// The base's path, relative to the workspace root.
pub const BASE_PATH: &str = "infra/template.base.yaml";

/// The rendered file's path, relative to the workspace root.
pub const TEMPLATE_PATH: &str = "template.yaml";

/// The HTTP API's logical id in the base.
const API: &str = "MitreApi";

/// The HTTP API's logical id in the nested plan. Another id than the base's, so that switching
/// a deployed stack to the plan creates the plain API beside the SAM one and deletes the SAM
/// one (with the routes of its OpenAPI body) once the update succeeded, rather than updating
/// it in place, where its routes would stay and conflict with the child stacks' routes.
const NESTED_API: &str = "MitreHttpApi";

/// The `$default` stage of the nested plan's API.
const API_STAGE: &str = "MitreHttpApiStage";

const HEADER: &str = "\
# GENERATED FILE, do not edit: `make template` (mitre template) renders it from
# infra/template.base.yaml and the route table (shared/api/src/routes.rs). Every API function's
# IAM statements derive from its route's access class (shared/api/src/access.rs).
";

const NESTED_HEADER: &str = "\
# GENERATED FILE, do not edit: the parent stack of the nested-stack plan, rendered by
# `mitre template --nested` from infra/template.base.yaml and the route table
# (shared/api/src/routes.rs): the base, with the HTTP API as a plain API and stage, and one child
# stack per route tag (see docs/operations.md).
";

const CHILD_HEADER: &str = "\
# GENERATED FILE, do not edit: a child stack of the nested-stack plan, rendered by
# `mitre template --nested` from the route table (shared/api/src/routes.rs) and the Globals of
# infra/template.base.yaml. Every API function's IAM statements derive from its route's access
# class (shared/api/src/access.rs).
";

/// A route as the templates deploy it. Owned, so that a projection can add routes that the
/// route table does not have yet ([`projected`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The function's logical id.
    pub function: String,
    pub method: &'static str,
    /// The whole path (with the API prefix), `{name}` for path parameters.
    pub path: String,
    pub access: Access,
    /// The route's OpenAPI tag: its child stack in the nested plan.
    pub tag: &'static str,
}

impl Route {
    fn from_spec(r: &RouteSpec) -> Route {
        Route { function: r.function.to_string(), method: r.method, path: r.full_path(), access: r.access, tag: r.tag }
    }

    /// `GET /api/v1/mitre/techniques/{id}`: the API Gateway route key (and MITRE_ROUTE).
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// The route table's routes.
pub fn routes() -> Vec<Route> {
    ROUTES.iter().map(Route::from_spec).collect()
}

/// The route table plus `extra` made-up routes, to see a template at a larger route table: the
/// n-th copies the route table's (n-1 modulo its length)-th route (method, access class and
/// tag), under its own path `extra<n>/...` and function `...Extra<n>Function`.
pub fn projected(extra: usize) -> Vec<Route> {
    let mut out = routes();
    out.extend(ROUTES.iter().cycle().take(extra).enumerate().map(|(i, r)| Route {
        function: format!("{}Extra{}Function", r.function.trim_end_matches("Function"), i + 1),
        path: format!("{PREFIX}/extra{}/{}", i + 1, r.path),
        ..Route::from_spec(r)
    }));
    out
}

/// Renders template.yaml from `base`: the base without its leading comment block, with the
/// API functions at the marker line. Fails when the base has no marker line or more than one.
pub fn render(base: &str) -> Result<String, String> {
    let routes = routes();
    let mut out = String::from(HEADER);
    let mut markers = 0;
    for line in body(base) {
        if line.trim() == MARKER {
            markers += 1;
            marker_indent(line)?;
            functions(&mut out, &routes);
        } else if let Some(access) = policies_marker(line)? {
            policies(&mut out, access, Scope::Root);
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    check_markers(markers).map(|()| out)
}

/// The base's lines without its leading comment block (and the blank line after it).
fn body(base: &str) -> impl Iterator<Item = &str> {
    let mut lines = base.lines().skip_while(|l| l.starts_with('#')).peekable();
    if lines.peek().is_some_and(|l| l.is_empty()) {
        lines.next();
    }
    lines
}

fn marker_indent(line: &str) -> Result<(), String> {
    let indent = &line[..line.len() - line.trim_start().len()];
    if indent != "  " {
        return Err(format!("{BASE_PATH}: the marker line must be a resource of Resources (indented by two spaces)"));
    }
    Ok(())
}

fn check_markers(markers: usize) -> Result<(), String> {
    match markers {
        1 => Ok(()),
        0 => Err(format!("{BASE_PATH} has no `  {MARKER}` line")),
        n => Err(format!("{BASE_PATH} has {n} `{MARKER}` lines, not one")),
    }
}

/// Where a function is rendered: the single stack (or the parent), which holds the table, the
/// bucket and the API; or a child stack of the nested plan, which names them by parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Root,
    Child,
}

fn functions(out: &mut String, routes: &[Route]) {
    out.push_str(
        "  # API routes, in the order of the route table: one function per route, all running the\n\
         \x20 # `api` binary (identical Metadata and CodeUri, so SAM builds it once), which serves only\n\
         \x20 # the route key in MITRE_ROUTE. Each route is also deployed with a trailing slash. Each\n\
         \x20 # function's IAM statements are those of its route's access class:\n",
    );
    access_summary(out, routes.iter(), true);
    for (i, r) in routes.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        function(out, r, Scope::Root, ".");
    }
}

/// One comment line per access class: its routes among `routes` and what it may touch (with
/// `all`, also the classes without a route).
fn access_summary<'a>(out: &mut String, routes: impl Iterator<Item = &'a Route> + Clone, all: bool) {
    for a in Access::ALL {
        let n = routes.clone().filter(|r| r.access == a).count();
        if n > 0 || all {
            let _ = writeln!(out, "  #   {:<17} {}", a.name(), summary(a, n));
        }
    }
}

fn summary(a: Access, routes: usize) -> String {
    let what = match a {
        Access::CatalogRead => "registry entry; query CATALOG; catalog snapshots",
        Access::Status => "registry entry; query CATALOG",
        Access::OpenApi => "nothing (no table, no bucket)",
        Access::TenantRead => "registry entry; catalog; tenant mappings and their indexes; tenant statistics",
        Access::TenantWrite => "registry entry; catalog; tenant mappings, audit entries, counters, statistics",
        Access::RegistryRead => "registry entry; the PRINCIPALS index",
        Access::RegistryWrite => "registry entries; audit entries",
        Access::AuditRead => "registry entry; audit partitions and the AUDIT index",
        Access::IntegrityVerify => "registry entry; CATALOG, MAPSTATS, catalog and technique indexes; bundles",
        Access::IntegrityRepair => "as verify, plus tactic index items, mapping moves, audit, counters",
        Access::SyncStart => "registry entry; the system audit log; invokes the sync function",
        Access::SyncRuns => "registry entry; the SYNC partitions (run records)",
        Access::Suggest => "registry entry; query CATALOG; catalog snapshots",
        Access::AccessRead => "registry entry; entity access records",
        Access::ReviewRead => "registry entry; the tenant's audit partition",
        Access::AccessWrite => "registry entry; entity access records, the entity's mappings and index partitions; audit entries",
        Access::Insight => "as tenant-read, plus the kept release changes and the tenant's inference history",
        Access::EventsIn => "catalog; tenant mappings, access records, audit entries, counters; the PRINCIPALS index; the dead-letter queue",
        Access::EventsOut => "the event bus and the publish-failure queue; no table",
    };
    format!("({routes} route{}) {what}", if routes == 1 { "" } else { "s" })
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A route's function. In the root scope it carries its HttpApi events (SAM adds the routes to
/// the API's definition and the invoke permissions); in a child stack the caller renders the
/// integration, routes and permission ([`api_wiring`]).
fn function(out: &mut String, r: &Route, scope: Scope, code_uri: &str) {
    let key = r.key();
    let mut w = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    w(format!("  # access class: {}", r.access.name()));
    w(format!("  {}:", r.function));
    w("    Type: AWS::Serverless::Function".into());
    w("    Metadata:".into());
    w("      BuildMethod: rust-cargolambda".into());
    w("      BuildProperties:".into());
    w("        Binary: api".into());
    w("    Properties:".into());
    w(format!("      Description: {}", quoted(&key)));
    w(format!("      CodeUri: {code_uri}"));
    if let Some((timeout, memory)) = r.access.sizing() {
        w(format!("      Timeout: {timeout}"));
        w(format!("      MemorySize: {memory}"));
    }
    w("      LoggingConfig:".into());
    w("        LogGroup: !Ref ApiLogGroup".into());
    w("      Environment:".into());
    w("        Variables:".into());
    w(format!("          MITRE_ROUTE: {}", quoted(&key)));
    for (name, value) in r.access.environment() {
        w(format!("          {name}: {value}"));
    }
    if scope == Scope::Root {
        w("      Events:".into());
        for (event, p) in [("Route", r.path.clone()), ("RouteSlash", format!("{}/", r.path))] {
            w(format!("        {event}:"));
            w("          Type: HttpApi".into());
            w("          Properties:".into());
            w(format!("            ApiId: !Ref {API}"));
            w(format!("            Method: {}", r.method));
            w(format!("            Path: {p}"));
        }
    }
    policies(out, r.access, scope);
}

/// The line of the base where a function's Policies go, rendered from the access class named
/// after it (`      # @policies events-in`): the functions that serve no route.
pub const POLICIES_MARKER: &str = "# @policies ";

/// A function's `Policies` (at a function's property indentation): the access class's statements.
fn policies(out: &mut String, access: Access, scope: Scope) {
    let statements = access.statements();
    if statements.is_empty() {
        return;
    }
    let mut w = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    w("      Policies:".into());
    w("        - Version: \"2012-10-17\"".into());
    w("          Statement:".into());
    for s in &statements {
        statement(&mut w, s, scope);
    }
}

/// The access class a `# @policies NAME` line of the base names, if the line is one.
fn policies_marker(line: &str) -> Result<Option<Access>, String> {
    let Some(name) = line.trim().strip_prefix(POLICIES_MARKER) else { return Ok(None) };
    if line.len() - line.trim_start().len() != 6 {
        return Err(format!("{POLICIES_MARKER}{name}: the line must be indented as a function's properties (6 spaces)"));
    }
    Access::EVENTS.into_iter().find(|a| a.name() == name).map(Some).ok_or_else(|| format!("{POLICIES_MARKER}{name}: no function access class of that name"))
}

/// A resource's ARN: as a YAML value, and as it appears inside `!Sub`. A child stack gets the
/// ARN of the parent's resource `X` as its parameter `XArn`.
fn arn(logical: &str, scope: Scope) -> (String, String) {
    match scope {
        Scope::Root => (format!("!GetAtt {logical}.Arn"), format!("${{{logical}.Arn}}")),
        Scope::Child => (format!("!Ref {logical}Arn"), format!("${{{logical}Arn}}")),
    }
}

fn resource(r: Resource, scope: Scope) -> String {
    match r {
        Resource::Table => arn("Table", scope).0,
        Resource::Index(name) => format!("!Sub {}", quoted(&format!("{}/index/{name}", arn("Table", scope).1))),
        Resource::Objects(prefix) => format!("!Sub {}", quoted(&format!("{}/{prefix}*", arn("ArchiveBucket", scope).1))),
        Resource::Function(name) | Resource::Queue(name) => arn(name, scope).0,
        Resource::EventBus => {
            "!If [CreateEventsBus, !GetAtt EventsBus.Arn, !Sub \"arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventsBusName}\"]"
                .into()
        }
    }
}

fn statement(w: &mut impl FnMut(String), s: &Statement, scope: Scope) {
    w(format!("            - Sid: {}", s.sid));
    w("              Effect: Allow".into());
    match s.actions.as_slice() {
        [one] => w(format!("              Action: {one}")),
        many => {
            w("              Action:".into());
            for a in many {
                w(format!("                - {a}"));
            }
        }
    }
    match s.resources.as_slice() {
        [one] => w(format!("              Resource: {}", resource(*one, scope))),
        many => {
            w("              Resource:".into());
            for r in many {
                w(format!("                - {}", resource(*r, scope)));
            }
        }
    }
    if !s.leading_keys.is_empty() {
        w("              Condition:".into());
        w("                ForAllValues:StringLike:".into());
        w("                  dynamodb:LeadingKeys:".into());
        for k in &s.leading_keys {
            w(format!("                    - {}", quoted(k)));
        }
    }
}

// ---- the nested-stack plan ----------------------------------------------------------------

/// The nested-stack plan: the parent template and one child template per route tag.
#[derive(Debug)]
pub struct Nested {
    pub parent: String,
    pub children: Vec<Child>,
}

/// One child stack of the plan.
#[derive(Debug)]
pub struct Child {
    pub tag: &'static str,
    /// The parent's logical id for it (`MappingsRoutes`).
    pub logical_id: String,
    /// Its file name, beside the parent template (`api-mappings.yaml`).
    pub file: String,
    pub routes: usize,
    pub text: String,
}

/// A parameter of a child stack, and what the parent passes for it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Param {
    /// `ApiId`: the id of the parent's HTTP API.
    ApiId,
    /// `X`: `!Ref X` of the parent's resource or parameter X.
    Ref(String),
    /// `XArn`: the ARN of the parent's resource X.
    Arn(String),
}

impl Param {
    fn name(&self) -> String {
        match self {
            Param::ApiId => "ApiId".into(),
            Param::Ref(x) => x.clone(),
            Param::Arn(x) => format!("{x}Arn"),
        }
    }

    fn parent_value(&self) -> String {
        match self {
            Param::ApiId => format!("!Ref {NESTED_API}"),
            Param::Ref(x) => format!("!Ref {x}"),
            Param::Arn(x) => format!("!GetAtt {x}.Arn"),
        }
    }

    fn description(&self) -> String {
        match self {
            Param::ApiId => format!("The id of the parent stack's HTTP API ({NESTED_API}); this stack adds its routes to it."),
            Param::Ref(x) => format!("!Ref {x} of the parent stack."),
            Param::Arn(x) => format!("The ARN of the parent stack's {x}."),
        }
    }
}

/// Renders the nested-stack plan from `base` for `routes`. The parent is the base (without its
/// leading comments) with every `CodeUri: .` pointing at `code_uri` (the workspace root as seen
/// from the plan's folder), the SAM HttpApi `MitreApi` rendered as a plain
/// `AWS::ApiGatewayV2::Api` `MitreHttpApi` (every reference renamed) and its auto-deployed
/// `$default` stage, and one
/// `AWS::Serverless::Application` per route tag at the marker line, in the order the tags first
/// appear in `routes`.
///
/// The API must not be a SAM HttpApi here: its routes would live in the API's OpenAPI body, and
/// CloudFormation re-imports that body whenever it changes, deleting the routes the child
/// stacks added (aws/serverless-application-model#1971). So every route is its own
/// `AWS::ApiGatewayV2::Route`, with `AWS_IAM` authorization, in its function's child stack.
pub fn render_nested(base: &str, routes: &[Route], code_uri: &str) -> Result<Nested, String> {
    let globals = globals(base)?;
    let globals_refs = refs(&globals)?;
    let mut tags: Vec<&'static str> = Vec::new();
    for r in routes {
        if !tags.contains(&r.tag) {
            tags.push(r.tag);
        }
    }
    let mut children = Vec::new();
    for tag in tags {
        let group: Vec<&Route> = routes.iter().filter(|r| r.tag == tag).collect();
        let params = child_parameters(&globals_refs, &group)?;
        let text = child(tag, &group, &params, &globals, code_uri);
        let id: String = tag.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).map(capitalized).collect();
        let file: String = tag.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
        children.push((Child { tag, logical_id: format!("{id}Routes"), file: format!("api-{file}.yaml"), routes: group.len(), text }, params));
    }

    let lines: Vec<&str> = body(base).collect();
    let mut out = String::from(NESTED_HEADER);
    let (mut markers, mut apis) = (0, 0);
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if line.trim() == MARKER {
            markers += 1;
            marker_indent(line)?;
            applications(&mut out, &children);
        } else if let Some(access) = policies_marker(line)? {
            policies(&mut out, access, Scope::Root);
        } else if line == format!("  {API}:") {
            apis += 1;
            let start = i;
            while i < lines.len() && lines[i].starts_with("    ") {
                i += 1;
            }
            plain_api(&mut out, &lines[start..i])?;
        } else if line.trim() == "CodeUri: ." {
            let _ = writeln!(out, "{}CodeUri: {code_uri}", &line[..line.len() - line.trim_start().len()]);
        } else {
            out.push_str(&renamed(line, API, NESTED_API));
            out.push('\n');
        }
    }
    check_markers(markers)?;
    if apis != 1 {
        return Err(format!("{BASE_PATH} must define the resource `  {API}:` once (found {apis})"));
    }
    Ok(Nested { parent: out, children: children.into_iter().map(|(c, _)| c).collect() })
}

/// `line` with every identifier `from` (not a part of a longer one) replaced by `to`.
fn renamed(line: &str, from: &str, to: &str) -> String {
    let ident = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let mut out = String::with_capacity(line.len());
    let mut last = 0;
    for (i, _) in line.match_indices(from) {
        if !ident(line[..i].chars().next_back()) && !ident(line[i + from.len()..].chars().next()) {
            out.push_str(&line[last..i]);
            out.push_str(to);
            last = i + from.len();
        }
    }
    out.push_str(&line[last..]);
    out
}

fn capitalized(w: &str) -> String {
    let mut c = w.chars();
    c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
}

/// The base's `Globals:` section, which every child stack repeats.
fn globals(base: &str) -> Result<String, String> {
    let mut lines = base.lines().skip_while(|l| *l != "Globals:");
    let Some(first) = lines.next() else {
        return Err(format!("{BASE_PATH} has no `Globals:` section"));
    };
    let mut block = vec![first];
    block.extend(lines.take_while(|l| l.is_empty() || l.starts_with(' ') || l.starts_with('#')));
    while block.last().is_some_and(|l| l.trim().is_empty() || l.starts_with('#')) {
        block.pop();
    }
    Ok(block.join("\n") + "\n")
}

/// The names a YAML text `!Ref`s (pseudo parameters aside). Any other intrinsic function is an
/// error: a child stack could not resolve it.
fn refs(text: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for (i, _) in text.match_indices('!') {
        let rest = &text[i..];
        let Some(name) = rest.strip_prefix("!Ref ") else {
            if rest.starts_with("!GetAtt") || rest.starts_with("!Sub") || rest.starts_with("!Join") || rest.starts_with("!If") {
                return Err(format!(
                    "the nested plan repeats {BASE_PATH}'s Globals and the access classes' environment in child stacks, which can only `!Ref` the parent's resources and parameters: {}",
                    rest.lines().next().unwrap_or_default()
                ));
            }
            continue;
        };
        let name: String = name.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == ':').collect();
        if !name.is_empty() && !name.starts_with("AWS::") && !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// A child stack's parameters: the API id, the API log group, what the Globals reference, and
/// what its routes' access classes reference (the table's and the bucket's ARNs, functions'
/// ARNs, environment references).
fn child_parameters(globals_refs: &[String], routes: &[&Route]) -> Result<Vec<Param>, String> {
    let mut params = vec![Param::ApiId, Param::Ref("ApiLogGroup".into())];
    let mut add = |p: Param| {
        if !params.contains(&p) {
            params.push(p);
        }
    };
    for name in globals_refs {
        add(Param::Ref(name.clone()));
    }
    for r in routes {
        for s in r.access.statements() {
            for res in s.resources {
                add(match res {
                    Resource::Table | Resource::Index(_) => Param::Arn("Table".into()),
                    Resource::Objects(_) => Param::Arn("ArchiveBucket".into()),
                    Resource::Function(name) | Resource::Queue(name) => Param::Arn(name.into()),
                    // the event functions live in the parent stack only
                    Resource::EventBus => continue,
                });
            }
        }
        for (_, value) in r.access.environment() {
            for name in refs(value)? {
                add(Param::Ref(name));
            }
        }
    }
    Ok(params)
}

fn child(tag: &str, routes: &[&Route], params: &[Param], globals: &str, code_uri: &str) -> String {
    let mut out = String::from(CHILD_HEADER);
    out.push_str("AWSTemplateFormatVersion: \"2010-09-09\"\nTransform: AWS::Serverless-2016-10-31\n");
    let _ = writeln!(out, "Description: {}", quoted(&format!("sentineliq-mitre: the API routes tagged {tag} (a child stack of the nested plan).")));
    out.push_str("\nParameters:\n");
    for p in params {
        let _ = writeln!(out, "  {}:\n    Type: String\n    Description: {}", p.name(), quoted(&p.description()));
    }
    out.push('\n');
    out.push_str(globals);
    out.push_str("\nResources:\n");
    let _ = writeln!(
        out,
        "  # The {} route{} tagged {tag}, in the order of the route table. Each is a function running",
        routes.len(),
        if routes.len() == 1 { "" } else { "s" }
    );
    out.push_str(
        "  # the `api` binary (as in template.yaml, without its HttpApi events), its integration with\n\
         \x20 # the parent's HTTP API, its route with and without the trailing slash (AWS_IAM\n\
         \x20 # authorization) and the permission API Gateway invokes it with. Each function's IAM\n\
         \x20 # statements are those of its route's access class:\n",
    );
    access_summary(&mut out, routes.iter().copied(), false);
    for (i, r) in routes.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        function(&mut out, r, Scope::Child, code_uri);
        api_wiring(&mut out, r);
    }
    out
}

/// A child stack's integration, routes and invoke permission for one route's function. The
/// permission's source ARN is the one SAM gives an HttpApi event (path parameters as `*`, no
/// trailing slash), which covers both routes.
fn api_wiring(out: &mut String, r: &Route) {
    let f = &r.function;
    let _ = writeln!(out, "  {f}Integration:");
    out.push_str("    Type: AWS::ApiGatewayV2::Integration\n    Properties:\n      ApiId: !Ref ApiId\n      IntegrationType: AWS_PROXY\n");
    let _ = writeln!(out, "      IntegrationUri: !GetAtt {f}.Arn");
    out.push_str("      PayloadFormatVersion: \"2.0\"\n");
    for (suffix, path) in [("Route", r.path.clone()), ("RouteSlash", format!("{}/", r.path))] {
        let _ = writeln!(out, "  {f}{suffix}:");
        out.push_str("    Type: AWS::ApiGatewayV2::Route\n    Properties:\n      ApiId: !Ref ApiId\n");
        let _ = writeln!(out, "      RouteKey: {}", quoted(&format!("{} {path}", r.method)));
        out.push_str("      AuthorizationType: AWS_IAM\n");
        let _ = writeln!(out, "      Target: !Sub \"integrations/${{{f}Integration}}\"");
    }
    let source_path: String = r.path.split('/').map(|seg| if seg.starts_with('{') && seg.ends_with('}') { "*" } else { seg }).collect::<Vec<_>>().join("/");
    let _ = writeln!(out, "  {f}Permission:");
    out.push_str("    Type: AWS::Lambda::Permission\n    Properties:\n      Action: lambda:InvokeFunction\n");
    let _ = writeln!(out, "      FunctionName: !Ref {f}");
    out.push_str("      Principal: apigateway.amazonaws.com\n");
    let _ = writeln!(
        out,
        "      SourceArn: !Sub {}",
        quoted(&format!("arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{ApiId}}/*/{}{source_path}", r.method))
    );
}

/// The parent's child stacks, at the marker line.
fn applications(out: &mut String, children: &[(Child, Vec<Param>)]) {
    out.push_str(
        "  # The API routes: one child stack per route tag (mitre template --nested). Each holds its\n\
         \x20 # routes' functions, with the IAM statements of their access classes, and adds their\n\
         \x20 # integrations, routes and invoke permissions to MitreHttpApi.\n",
    );
    for (i, (c, params)) in children.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "  # {} route{} tagged {}", c.routes, if c.routes == 1 { "" } else { "s" }, c.tag);
        let _ = writeln!(out, "  {}:", c.logical_id);
        out.push_str("    Type: AWS::Serverless::Application\n");
        let _ = writeln!(out, "    DependsOn: {API_STAGE}");
        out.push_str("    Properties:\n");
        let _ = writeln!(out, "      Location: {}", c.file);
        out.push_str("      Parameters:\n");
        for p in params {
            let _ = writeln!(out, "        {}: {}", p.name(), p.parent_value());
        }
    }
}

/// The base's SAM HttpApi (the lines of its block after `  MitreApi:`) as a plain API and its
/// `$default` stage. `DefaultRouteSettings` and `AccessLogSettings` move to the stage as they
/// are; the default authorizer must be AWS_IAM, which every child route sets; `FailOnWarnings`
/// applies to OpenAPI imports only and is dropped. Any other property is an error, rather than
/// lost from the plan without a word.
fn plain_api(out: &mut String, block: &[&str]) -> Result<(), String> {
    let err = |what: String| Err(format!("{BASE_PATH}: {API}, as the nested plan renders it: {what}"));
    let mut props: Vec<(String, Vec<&str>)> = Vec::new();
    let mut pending: Vec<&str> = Vec::new();
    let mut in_properties = false;
    for line in block {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        if indent == 4 {
            match text {
                "Type: AWS::Serverless::HttpApi" => {}
                "Properties:" => in_properties = true,
                other => return err(format!("unexpected `{other}`")),
            }
        } else if !in_properties {
            return err(format!("unexpected `{text}`"));
        } else if text.starts_with('#') && indent == 6 {
            pending.push(line);
        } else if indent == 6 {
            let key = text.split(':').next().unwrap_or_default().to_string();
            let mut lines = std::mem::take(&mut pending);
            lines.push(line);
            props.push((key, lines));
        } else if let Some((_, lines)) = props.last_mut() {
            lines.push(line);
        } else {
            return err(format!("unexpected `{text}`"));
        }
    }
    let mut stage = Vec::new();
    let mut iam = false;
    for (key, lines) in props {
        match key.as_str() {
            "Auth" => iam = lines.iter().any(|l| l.trim() == "DefaultAuthorizer: AWS_IAM"),
            "FailOnWarnings" => {}
            "DefaultRouteSettings" | "AccessLogSettings" => stage.extend(lines),
            other => return err(format!("the property `{other}` has no counterpart in the plan yet (add it in cli/src/template.rs)")),
        }
    }
    if !iam {
        return err("its routes must default to AWS_IAM authorization (Auth: DefaultAuthorizer: AWS_IAM)".into());
    }
    let _ = writeln!(out, "  {NESTED_API}:");
    out.push_str("    Type: AWS::ApiGatewayV2::Api\n    Properties:\n      Name: !Ref AWS::StackName\n      ProtocolType: HTTP\n\n");
    out.push_str(
        "  # The API's only stage, deployed automatically whenever a child stack adds, changes or\n\
         \x20 # removes a route.\n",
    );
    let _ = writeln!(out, "  {API_STAGE}:");
    out.push_str("    Type: AWS::ApiGatewayV2::Stage\n    Properties:\n");
    let _ = writeln!(out, "      ApiId: !Ref {NESTED_API}");
    out.push_str("      StageName: $default\n      AutoDeploy: true\n");
    for l in stage {
        out.push_str(l);
        out.push('\n');
    }
    Ok(())
}

// ---- `mitre template` ---------------------------------------------------------------------

/// `mitre template`: renders what is generated from the route table, template.yaml (from its
/// base) and the published OpenAPI document; with `nested`, the nested-stack plan into that
/// folder instead (with `extra_routes` made-up routes beside the route table's).
pub fn command(check: bool, nested: Option<&Path>, extra_routes: usize) -> Result<ExitCode> {
    use mitre_api::openapi::{PUBLISHED_PATH, document, published_text};
    let base = std::fs::read_to_string(BASE_PATH).with_context(|| format!("reading {BASE_PATH} (run this from the repository root)"))?;
    if let Some(dir) = nested {
        return write_nested(&base, dir, extra_routes);
    }
    let outputs = [
        (TEMPLATE_PATH, render(&base).map_err(anyhow::Error::msg)?, format!("{} API functions", ROUTES.len())),
        (PUBLISHED_PATH, published_text(&document().map_err(|e| anyhow::anyhow!("{e}"))?), "the OpenAPI document".to_string()),
    ];
    let mut stale = false;
    for (path, rendered, what) in outputs {
        let current = std::fs::read_to_string(path).unwrap_or_default();
        if rendered == current {
            println!("{path} is up to date");
        } else if check {
            eprintln!("{path} differs from its rendering from {BASE_PATH}, the route table and the response types: run `make template`");
            stale = true;
        } else {
            std::fs::write(path, &rendered).with_context(|| format!("writing {path}"))?;
            println!("wrote {path} ({what})");
        }
    }
    Ok(if stale { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn write_nested(base: &str, dir: &Path, extra_routes: usize) -> Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let root = std::env::current_dir()?.canonicalize()?;
    let code_uri = relative(&dir.canonicalize()?, &root);
    let routes = projected(extra_routes);
    let plan = render_nested(base, &routes, &code_uri.to_string_lossy()).map_err(anyhow::Error::msg)?;
    let parent = dir.join(TEMPLATE_PATH);
    std::fs::write(&parent, &plan.parent).with_context(|| format!("writing {}", parent.display()))?;
    let extra = if extra_routes > 0 { format!(", {extra_routes} of them made up") } else { String::new() };
    println!("wrote {} (the parent stack: {} child stacks for {} routes{extra})", parent.display(), plan.children.len(), routes.len());
    for c in &plan.children {
        let path = dir.join(&c.file);
        std::fs::write(&path, &c.text).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {} ({}: {} routes tagged {})", path.display(), c.logical_id, c.routes, c.tag);
    }
    Ok(ExitCode::SUCCESS)
}

/// `to` as seen from `from` (both absolute and canonical): `../..` from `infra/nested` to the
/// workspace root.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let (from, to): (Vec<Component>, Vec<Component>) = (from.components().collect(), to.components().collect());
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out: PathBuf = from[common..].iter().map(|_| Component::ParentDir).collect();
    out.extend(&to[common..]);
    if out.as_os_str().is_empty() { PathBuf::from(".") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace_file(path: &str) -> String {
        let full = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {full}: {e}"))
    }

    #[test]
    fn template_yaml_is_rendered_from_the_base_and_the_route_table() {
        let rendered = render(&workspace_file(BASE_PATH)).unwrap();
        let committed = workspace_file(TEMPLATE_PATH);
        if rendered != committed {
            let line = rendered.lines().zip(committed.lines()).position(|(a, b)| a != b).unwrap_or(rendered.lines().count().min(committed.lines().count()));
            panic!(
                "template.yaml is stale (first difference at line {}): run `make template` and commit the result\n  rendered:  {:?}\n  committed: {:?}",
                line + 1,
                rendered.lines().nth(line).unwrap_or("<end of file>"),
                committed.lines().nth(line).unwrap_or("<end of file>")
            );
        }
    }

    #[test]
    fn the_marker_must_be_there_once() {
        assert!(render("Resources:\n  Table:\n    Type: X\n").unwrap_err().contains("no"));
        assert!(render("Resources:\n  # @api-functions\n  # @api-functions\n").unwrap_err().contains("2"));
        assert!(render("Resources:\n# @api-functions\n").is_err());
    }

    #[test]
    fn every_route_is_one_function_in_route_table_order() {
        let out = render("# base comment\n\nResources:\n  # @api-functions\n\nOutputs: {}\n").unwrap();
        assert!(out.starts_with("# GENERATED FILE"), "{out}");
        assert!(!out.contains("base comment"));
        let names: Vec<&str> =
            out.lines().filter(|l| l.starts_with("  ") && !l.starts_with("   ") && l.ends_with("Function:")).map(|l| l.trim().trim_end_matches(':')).collect();
        let expected: Vec<&str> = ROUTES.iter().map(|r| r.function).collect();
        assert_eq!(names, expected);
        assert!(out.ends_with("\nOutputs: {}\n"));
        // every function runs the same build, so SAM builds the api binary once
        assert_eq!(out.matches("      BuildMethod: rust-cargolambda\n      BuildProperties:\n        Binary: api\n").count(), ROUTES.len());
        assert_eq!(out.matches("      CodeUri: .\n").count(), ROUTES.len());
        let openapi = out.split("  GetOpenApiFunction:").nth(1).unwrap().split("\n\n").next().unwrap();
        assert!(!openapi.contains("Policies"), "{openapi}");
        let verify = out.split("  VerifyCorrelationsFunction:").nth(1).unwrap().split("\n\n").next().unwrap();
        assert!(verify.contains("      Timeout: 120\n      MemorySize: 1024\n"), "{verify}");
    }

    /// The top-level keys (two-space indented lines) of a `Parameters:` or `Resources:` section.
    fn section_keys<'a>(text: &'a str, section: &str) -> Vec<&'a str> {
        text.lines()
            .skip_while(|l| *l != section)
            .skip(1)
            .take_while(|l| l.is_empty() || l.starts_with(' ') || l.starts_with('#'))
            .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && !l.trim_start().starts_with('#'))
            .map(|l| l.trim().trim_end_matches(':'))
            .collect()
    }

    #[test]
    fn the_nested_plan_puts_every_route_in_the_child_stack_of_its_tag_and_passes_exactly_its_parameters() {
        let routes = projected(60);
        let plan = render_nested(&workspace_file(BASE_PATH), &routes, "../..").unwrap();
        let parent = &plan.parent;
        assert!(parent.starts_with("# GENERATED FILE"));
        assert!(!parent.contains("AWS::Serverless::HttpApi") && !parent.contains("MITRE_ROUTE"), "{parent}");
        assert!(parent.contains("  MitreHttpApi:\n    Type: AWS::ApiGatewayV2::Api\n"));
        // a new API, every reference to it renamed: the alarm's dimension and the URL output
        assert_eq!(parent.lines().filter(|l| renamed(l, "MitreApi", "-") != **l).count(), 0, "{parent}");
        assert!(parent.contains("                  Value: !Ref MitreHttpApi\n") && parent.contains("${MitreHttpApi}.execute-api"));
        let stage = parent.split("  MitreHttpApiStage:\n").nth(1).unwrap().split("\n\n").next().unwrap();
        for carried in [
            "StageName: $default",
            "AutoDeploy: true",
            "ThrottlingRateLimit: 200",
            "ThrottlingBurstLimit: 400",
            "DestinationArn: !GetAtt ApiAccessLogGroup.Arn",
        ] {
            assert!(stage.contains(carried), "{carried}: {stage}");
        }
        // the sync function's code is the workspace root, seen from the plan's folder
        assert!(parent.contains("      CodeUri: ../..\n") && !parent.contains("CodeUri: .\n"));

        let mut seen = Vec::new();
        for c in &plan.children {
            let block = parent.split(&format!("  {}:\n", c.logical_id)).nth(1).unwrap().split("\n\n").next().unwrap();
            assert!(block.contains(&format!("      Location: {}\n", c.file)), "{block}");
            let passed: Vec<&str> = block.lines().skip_while(|l| l.trim() != "Parameters:").skip(1).map(|l| l.trim().split(':').next().unwrap()).collect();
            assert_eq!(passed, section_keys(&c.text, "Parameters:"), "{}", c.file);
            let functions: Vec<&str> = section_keys(&c.text, "Resources:").into_iter().filter(|k| k.ends_with("Function")).collect();
            let expected: Vec<&str> = routes.iter().filter(|r| r.tag == c.tag).map(|r| r.function.as_str()).collect();
            assert_eq!(functions, expected, "{}", c.file);
            assert_eq!(c.routes, expected.len());
            for r in routes.iter().filter(|r| r.tag == c.tag) {
                for key in [r.key(), format!("{}/", r.key())] {
                    assert_eq!(c.text.matches(&format!("      RouteKey: \"{key}\"\n")).count(), 1, "{key}");
                }
            }
            assert_eq!(c.text.matches("      AuthorizationType: AWS_IAM\n").count(), 2 * c.routes);
            assert!(!c.text.contains("!GetAtt Table") && !c.text.contains("${Table.Arn}") && !c.text.contains("Events:"), "{}", c.file);
            assert_eq!(c.text.matches("      CodeUri: ../..\n").count(), c.routes);
            seen.extend(functions);
        }
        assert_eq!(seen.len(), routes.len());
        let sync = plan.children.iter().find(|c| c.tag == "sync").unwrap();
        assert!(sync.text.contains("  SyncFunctionArn:\n") && sync.text.contains("Resource: !Ref SyncFunctionArn"), "{}", sync.text);
        assert!(parent.contains("        SyncFunctionArn: !GetAtt SyncFunction.Arn\n"));
        let catalog = plan.children.iter().find(|c| c.tag == "catalog").unwrap();
        assert!(!catalog.text.contains("SyncFunction"), "{}", catalog.text);
        assert!(catalog.text.contains("Resource: !Sub \"${ArchiveBucketArn}/snapshots/*\""));
    }

    #[test]
    fn a_path_parameter_is_a_wildcard_of_the_invoke_permission() {
        let plan = render_nested(&workspace_file(BASE_PATH), &routes(), ".").unwrap();
        let catalog = plan.children.iter().find(|c| c.tag == "catalog").unwrap();
        assert!(catalog.text.contains("${ApiId}/*/GET/api/v1/mitre/techniques/*\"\n"), "{}", catalog.text);
        assert!(catalog.text.contains("      RouteKey: \"GET /api/v1/mitre/techniques/{id}/\"\n"));
    }

    #[test]
    fn an_http_api_property_the_plan_cannot_carry_is_an_error() {
        let base = workspace_file(BASE_PATH);
        let cors = base.replace("      FailOnWarnings: true\n", "      FailOnWarnings: true\n      CorsConfiguration:\n        AllowOrigins: [\"*\"]\n");
        assert_ne!(cors, base);
        assert!(render_nested(&cors, &routes(), ".").unwrap_err().contains("CorsConfiguration"));
        let no_iam = base.replace("        DefaultAuthorizer: AWS_IAM\n", "");
        assert!(render_nested(&no_iam, &routes(), ".").unwrap_err().contains("AWS_IAM"));
    }

    #[test]
    fn made_up_routes_have_their_own_functions_and_paths() {
        let routes = projected(70);
        assert_eq!(routes.len(), ROUTES.len() + 70);
        let mut functions: Vec<&str> = routes.iter().map(|r| r.function.as_str()).collect();
        let mut keys: Vec<String> = routes.iter().map(Route::key).collect();
        functions.sort();
        functions.dedup();
        keys.sort();
        keys.dedup();
        assert_eq!((functions.len(), keys.len()), (routes.len(), routes.len()));
        assert_eq!(routes[ROUTES.len()].function, format!("{}Extra1Function", ROUTES[0].function.trim_end_matches("Function")));
    }

    #[test]
    fn renaming_replaces_whole_identifiers_only() {
        assert_eq!(renamed("!Sub \"https://${MitreApi}.x\" MitreApiStage MitreApi", "MitreApi", "New"), "!Sub \"https://${New}.x\" MitreApiStage New");
        assert_eq!(renamed("XMitreApi !Ref MitreApi", "MitreApi", "New"), "XMitreApi !Ref New");
    }

    #[test]
    fn the_code_path_is_relative_to_the_plans_folder() {
        assert_eq!(relative(Path::new("/w/repo/infra/nested"), Path::new("/w/repo")), PathBuf::from("../.."));
        assert_eq!(relative(Path::new("/tmp/plan"), Path::new("/w/repo")), PathBuf::from("../../w/repo"));
        assert_eq!(relative(Path::new("/w/repo"), Path::new("/w/repo")), PathBuf::from("."));
    }
}
