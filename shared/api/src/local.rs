//! Local use: turns a plain HTTP request into the `lambda_http::Request` that API Gateway
//! (HTTP API, payload 2.0, IAM authorizer) would deliver, so `mitre serve` and the tests run
//! exactly the code Lambda runs.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_http::Request;
use serde_json::{Map, Value, json};

/// The header that names the caller, honoured by the local server only (never by Lambda,
/// where the identity comes from API Gateway's IAM authorizer).
pub const DEV_PRINCIPAL_HEADER: &str = "x-dev-principal-arn";

/// Builds the API Gateway event for `method path?query` with `headers` and `body`. The caller
/// is `principal` (None: a request without a verified identity).
pub fn apigw_request(
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: &[u8],
    principal: Option<&str>,
) -> Result<Request, crate::ApiError> {
    let invalid =
        |what: &str| crate::ApiError::BadRequest { code: "invalid_request", message: format!("the request cannot be served: invalid {what}"), details: None };
    // what no HTTP server passes on (a NUL in the query, a space in the method) is refused
    // here: the event conversion would not survive it
    lambda_http::http::uri::PathAndQuery::try_from(path_and_query).map_err(|_| invalid("path or query"))?;
    lambda_http::http::Method::from_bytes(method.as_bytes()).map_err(|_| invalid("method"))?;
    let event = apigw_event(method, path_and_query, headers, body, principal);
    lambda_http::request::from_str(&event.to_string()).map_err(|e| crate::ApiError::BadRequest {
        code: "invalid_request",
        message: format!("the request cannot be served: {e}"),
        details: None,
    })
}

/// The API Gateway HTTP API (payload 2.0) event of [`apigw_request`], as JSON: what a
/// Lambda function behind the API receives.
pub fn apigw_event(method: &str, path_and_query: &str, headers: &[(String, String)], body: &[u8], principal: Option<&str>) -> Value {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let mut hmap = Map::new();
    for (k, v) in headers {
        let k = k.to_ascii_lowercase();
        if k == DEV_PRINCIPAL_HEADER {
            continue;
        }
        match hmap.get_mut(&k) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(v);
            }
            _ => {
                hmap.insert(k, Value::String(v.clone()));
            }
        }
    }
    let request_id = ulid::Ulid::new().to_string();
    let now = chrono::Utc::now();
    let mut ctx = json!({
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": "localhost",
        "domainPrefix": "localhost",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "local"},
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
        "timeEpoch": now.timestamp_millis(),
    });
    if let Some(p) = principal {
        let account = p.split(':').nth(4).unwrap_or("000000000000");
        ctx["authorizer"] = json!({"iam": {"accessKey": "LOCAL", "accountId": account, "callerId": "LOCAL", "userArn": p, "userId": "LOCAL"}});
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": hmap,
        "requestContext": ctx,
        "body": STANDARD.encode(body),
        "isBase64Encoded": true,
    })
}
