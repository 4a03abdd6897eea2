//! One way for tests and tools to call the API: a request built as API Gateway delivers it
//! ([`crate::local::apigw_request`]), served by the router, and what it answered.
use serde_json::Value;

use crate::{App, serve};

/// A request to the API, built step by step: `Call::new("GET", path).by(caller).send(&app)`.
#[derive(Debug, Clone)]
pub struct Call {
    method: String,
    path: String,
    principal: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// What the API answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// The body as JSON (Null when it is empty or not JSON).
    pub body: Value,
    /// The body as text (binary bodies lossily).
    pub text: String,
    pub content_type: String,
    pub etag: Option<String>,
    pub retry_after: Option<String>,
    /// DynamoDB calls the request made.
    pub ddb_calls: u64,
}

impl Call {
    /// `method path?query` with a JSON content type, from no verified caller until [`Call::by`].
    pub fn new(method: &str, path: &str) -> Call {
        Call {
            method: method.to_string(),
            path: path.to_string(),
            principal: None,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Vec::new(),
        }
    }

    /// The verified caller.
    pub fn by(mut self, principal: &str) -> Call {
        self.principal = Some(principal.to_string());
        self
    }

    /// The caller when there is one.
    pub fn by_opt(mut self, principal: Option<&str>) -> Call {
        self.principal = principal.map(str::to_string);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Call {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn if_match(self, etag: Option<&str>) -> Call {
        match etag {
            Some(e) => self.header("if-match", e),
            None => self,
        }
    }

    /// A JSON body (none for Null).
    pub fn json(mut self, body: &Value) -> Call {
        self.body = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
        self
    }

    pub fn body(mut self, body: &[u8]) -> Call {
        self.body = body.to_vec();
        self
    }

    /// Serves the request with `app`.
    pub async fn send(self, app: &App) -> Answer {
        let req = crate::local::apigw_request(&self.method, &self.path, &self.headers, &self.body, self.principal.as_deref())
            .expect("a request API Gateway would deliver");
        let served = serve(app, req).await;
        let header = |name: &str| served.response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let text = match served.response.body() {
            lambda_http::Body::Text(t) => t.clone(),
            lambda_http::Body::Binary(b) => String::from_utf8_lossy(b).to_string(),
            lambda_http::Body::Empty => String::new(),
            _ => String::new(),
        };
        Answer {
            status: served.response.status().as_u16(),
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            content_type: header("content-type").unwrap_or_default(),
            etag: header("etag"),
            retry_after: header("retry-after"),
            ddb_calls: served.ddb_calls,
            text,
        }
    }
}
