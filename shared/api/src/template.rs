//! template.yaml, rendered from the hand-kept base (infra/template.base.yaml) and the route
//! table: one function per route, in route-table order, each with the IAM statements of its
//! route's access class. `mitre template` writes it; a test fails while the committed file
//! differs from the rendering.
use std::fmt::Write;

use crate::access::{Access, Resource, Statement};
use crate::routes::{ROUTES, RouteSpec};

/// The line of the base where the API functions go.
pub const MARKER: &str = "# @api-functions";

/// The base's path, relative to the workspace root.
pub const BASE_PATH: &str = "infra/template.base.yaml";

/// The rendered file's path, relative to the workspace root.
pub const TEMPLATE_PATH: &str = "template.yaml";

const HEADER: &str = "\
# GENERATED FILE, do not edit: `make template` (mitre template) renders it from
# infra/template.base.yaml and the route table (shared/api/src/routes.rs). Every API function's
# IAM statements derive from its route's access class (shared/api/src/access.rs).
";

/// Renders template.yaml from `base`: the base without its leading comment block, with the
/// API functions at the marker line. Fails when the base has no marker line or more than one.
pub fn render(base: &str) -> Result<String, String> {
    let mut lines = base.lines().skip_while(|l| l.starts_with('#')).peekable();
    let mut out = String::from(HEADER);
    let mut markers = 0;
    if lines.peek().is_some_and(|l| l.is_empty()) {
        lines.next();
    }
    for line in lines {
        if line.trim() == MARKER {
            markers += 1;
            let indent = &line[..line.len() - line.trim_start().len()];
            if indent != "  " {
                return Err(format!("{BASE_PATH}: the marker line must be a resource of Resources (indented by two spaces)"));
            }
            functions(&mut out);
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    match markers {
        1 => Ok(out),
        0 => Err(format!("{BASE_PATH} has no `  {MARKER}` line")),
        n => Err(format!("{BASE_PATH} has {n} `{MARKER}` lines, not one")),
    }
}

fn functions(out: &mut String) {
    out.push_str(
        "  # API routes, in the order of the route table: one function per route, all running the\n\
         \x20 # `api` binary (identical Metadata and CodeUri, so SAM builds it once), which serves only\n\
         \x20 # the route key in MITRE_ROUTE. Each route is also deployed with a trailing slash. Each\n\
         \x20 # function's IAM statements are those of its route's access class:\n",
    );
    for a in Access::ALL {
        let n = ROUTES.iter().filter(|r| r.access == a).count();
        let _ = writeln!(out, "  #   {:<17} {}", a.name(), summary(a, n));
    }
    for (i, r) in ROUTES.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        function(out, r);
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
    };
    format!("({routes} route{}) {what}", if routes == 1 { "" } else { "s" })
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn function(out: &mut String, r: &RouteSpec) {
    let key = r.route_key();
    let path = r.full_path();
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
    w("      CodeUri: .".into());
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
    w("      Events:".into());
    for (event, p) in [("Route", path.clone()), ("RouteSlash", format!("{path}/"))] {
        w(format!("        {event}:"));
        w("          Type: HttpApi".into());
        w("          Properties:".into());
        w("            ApiId: !Ref MitreApi".into());
        w(format!("            Method: {}", r.method));
        w(format!("            Path: {p}"));
    }
    let statements = r.access.statements();
    if statements.is_empty() {
        return;
    }
    w("      Policies:".into());
    w("        - Version: \"2012-10-17\"".into());
    w("          Statement:".into());
    for s in &statements {
        statement(&mut w, s);
    }
}

fn resource(r: Resource) -> String {
    match r {
        Resource::Table => "!GetAtt Table.Arn".into(),
        Resource::Index(name) => format!("!Sub {}", quoted(&format!("${{Table.Arn}}/index/{name}"))),
        Resource::Objects(prefix) => format!("!Sub {}", quoted(&format!("${{ArchiveBucket.Arn}}/{prefix}*"))),
        Resource::Function(name) => format!("!GetAtt {name}.Arn"),
    }
}

fn statement(w: &mut impl FnMut(String), s: &Statement) {
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
        [one] => w(format!("              Resource: {}", resource(*one))),
        many => {
            w("              Resource:".into());
            for r in many {
                w(format!("                - {}", resource(*r)));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace_file(path: &str) -> String {
        let full = format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"));
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
}
