//! Where bundles come from. A source fetches raw bytes (gzip or plain) and may answer
//! "not modified" to a conditional request.
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use mitre_attack::Domain;
use serde::{Deserialize, Serialize};

use mitre_domain::RetryPolicy;

/// HTTP validators of the last fetched representation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

#[derive(Debug)]
pub enum Fetched {
    /// The source answered that nothing changed since `validators`.
    NotModified,
    Body {
        bytes: Vec<u8>,
        validators: Validators,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// How long an HTTP source may take to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client of the sources (rustls, a user agent, timeouts): a request, its body
/// included, takes at most the configured source timeout ([`crate::config::source_timeout`]).
pub(crate) fn http_client() -> Result<reqwest::Client, String> {
    http_client_with(crate::config::source_timeout())
}

/// The HTTP client of the sources with a request timeout of `timeout` (its body included).
pub(crate) fn http_client_with(timeout: Duration) -> Result<reqwest::Client, String> {
    // rustls over ring, as the AWS SDK's client (an error only says one is installed already).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("sentineliq-mitre/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .timeout(timeout)
        .build()
        .map_err(|e| format!("the HTTP client could not be made: {e}"))
}

#[async_trait]
pub trait BundleSource: Send + Sync {
    /// A description for run records and logs (never carries credentials).
    fn describe(&self) -> String;
    /// The ATT&CK version the source's name suggests (`enterprise-attack-18.1.json`), if any.
    fn version_hint(&self) -> Option<String> {
        version_from_name(&self.describe())
    }
    /// Fetches the bundle, conditionally on `previous` when given.
    async fn fetch(&self, previous: Option<&Validators>) -> Result<Fetched, SourceError>;
}

/// The source kinds the CLI and the scheduled sync can be pointed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    Http(String),
    File(PathBuf),
    /// A TAXII 2.1 collection: API root (ending in `/`) and collection id.
    Taxii {
        api_root: String,
        collection: String,
    },
}

impl SourceSpec {
    /// A URL (http, https or file) or a local path; none means the domain's official bundle.
    pub fn parse(location: Option<&str>, domain: Domain) -> Result<SourceSpec, SourceError> {
        let loc = match location.map(str::trim) {
            None | Some("") => return Ok(SourceSpec::Http(domain.default_source_url())),
            Some(l) => l,
        };
        if let Some(path) = loc.strip_prefix("file://") {
            return Ok(SourceSpec::File(PathBuf::from(path)));
        }
        if loc.starts_with("https://") || loc.starts_with("http://") {
            return Ok(SourceSpec::Http(loc.to_string()));
        }
        if loc.contains("://") {
            return Err(SourceError(format!("unsupported source {loc:?}: use an http(s) or file URL, or a path")));
        }
        Ok(SourceSpec::File(PathBuf::from(loc)))
    }

    /// A TAXII 2.1 collection; none means the official MITRE ATT&CK TAXII server and the
    /// domain's collection.
    pub fn taxii(api_root: Option<&str>, collection: Option<&str>, domain: Domain) -> Result<SourceSpec, SourceError> {
        let root = api_root.map(str::trim).filter(|r| !r.is_empty()).unwrap_or(crate::taxii::DEFAULT_API_ROOT);
        if !(root.starts_with("https://") || root.starts_with("http://")) {
            return Err(SourceError(format!("unsupported TAXII API root {root:?}: use an http(s) URL")));
        }
        let collection = collection.map(str::trim).filter(|c| !c.is_empty()).unwrap_or(domain.taxii_collection());
        if collection.contains(['/', '?', '#']) || collection.chars().any(char::is_whitespace) {
            return Err(SourceError(format!("bad TAXII collection id {collection:?}")));
        }
        Ok(SourceSpec::Taxii { api_root: format!("{}/", root.trim_end_matches('/')), collection: collection.to_string() })
    }

    pub fn into_source(self) -> Box<dyn BundleSource> {
        match self {
            SourceSpec::Http(url) => Box::new(HttpSource::new(url)),
            SourceSpec::File(path) => Box::new(FileSource { path }),
            SourceSpec::Taxii { api_root, collection } => Box::new(crate::taxii::TaxiiSource::new(&api_root, &collection)),
        }
    }
}

/// Finds `NN.N` after a `-` or `v` in a file name like `enterprise-attack-18.1.json.gz`.
pub fn version_from_name(name: &str) -> Option<String> {
    let file = name.rsplit('/').next().unwrap_or(name);
    let bytes = file.as_bytes();
    for (i, _) in file.char_indices() {
        if i == 0 || !(bytes[i - 1] == b'-' || bytes[i - 1] == b'v') {
            continue;
        }
        let rest = &file[i..];
        let digits1 = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits1 == 0 || rest.as_bytes().get(digits1) != Some(&b'.') {
            continue;
        }
        let digits2 = rest[digits1 + 1..].bytes().take_while(u8::is_ascii_digit).count();
        if digits2 > 0 {
            return Some(rest[..digits1 + 1 + digits2].to_string());
        }
    }
    None
}

pub struct FileSource {
    pub path: PathBuf,
}

#[async_trait]
impl BundleSource for FileSource {
    fn describe(&self) -> String {
        format!("file://{}", self.path.display())
    }

    async fn fetch(&self, _previous: Option<&Validators>) -> Result<Fetched, SourceError> {
        let bytes = tokio::fs::read(&self.path).await.map_err(|e| SourceError(format!("cannot read {}: {e}", self.path.display())))?;
        Ok(Fetched::Body { bytes, validators: Validators::default() })
    }
}

pub struct HttpSource {
    url: String,
    /// The HTTP client, or why it could not be made (reported by the first fetch).
    client: Result<reqwest::Client, String>,
    attempts: u32,
}

impl HttpSource {
    pub fn new(url: String) -> Self {
        HttpSource { url, client: http_client(), attempts: 3 }
    }

    /// How many times a failed connection, 429 or 5xx is tried in all (default 3).
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// How long one request may take, its body included (default: ATTACK_SOURCE_TIMEOUT_SECONDS,
    /// else 300 seconds); a source that stalls fails the run after this long per attempt.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.client = http_client_with(timeout);
        self
    }
}

/// `url` without the credentials it may embed, for logs and run records.
pub fn without_credentials(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}

fn header(resp: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

#[async_trait]
impl BundleSource for HttpSource {
    fn describe(&self) -> String {
        without_credentials(&self.url)
    }

    async fn fetch(&self, previous: Option<&Validators>) -> Result<Fetched, SourceError> {
        let client = self.client.as_ref().map_err(|e| SourceError(e.clone()))?;
        let request = || {
            let mut req = client.get(&self.url);
            if let Some(v) = previous {
                if let Some(etag) = &v.etag {
                    req = req.header(reqwest::header::IF_NONE_MATCH, etag);
                }
                if let Some(lm) = &v.last_modified {
                    req = req.header(reqwest::header::IF_MODIFIED_SINCE, lm);
                }
            }
            req
        };
        let resp = send_retrying(request, self.attempts, MAX_RETRY_AFTER)
            .await
            .map_err(|e| SourceError(format!("cannot reach {}: {}", self.describe(), error_chain(&e))))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(SourceError(format!("HTTP {status} from {}", self.describe())));
        }
        let validators = Validators { etag: header(&resp, reqwest::header::ETAG), last_modified: header(&resp, reqwest::header::LAST_MODIFIED) };
        let limit = mitre_attack::bundle::MAX_BUNDLE_BYTES;
        if resp.content_length().is_some_and(|n| n as usize > limit) {
            return Err(SourceError(format!("{} is larger than {} MB", self.describe(), limit >> 20)));
        }
        let bytes = resp.bytes().await.map_err(|e| SourceError(format!("download from {} broke off: {}", self.describe(), error_chain(&e))))?;
        Ok(Fetched::Body { bytes: bytes.to_vec(), validators })
    }
}

/// The longest Retry-After an HTTP source waits for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Why an attempt of [`send_retrying`] is tried again.
enum Refused {
    /// No answer (connection, time-out).
    Failed(reqwest::Error),
    /// 429 or 5xx, with the server's Retry-After.
    Status(reqwest::Response, Option<Duration>),
}

/// Sends the request `request` builds under [`RetryPolicy::FETCH`] with `attempts` attempts in
/// all: a connection failure, 429 or 5xx is tried again after the policy's backoff, or after the
/// server's Retry-After (in seconds, at most `max_retry_after`). Returns the first other answer,
/// or the last one; the error of the last attempt when none connected.
pub(crate) async fn send_retrying(
    request: impl Fn() -> reqwest::RequestBuilder,
    attempts: u32,
    max_retry_after: Duration,
) -> Result<reqwest::Response, reqwest::Error> {
    let attempt = || async {
        match request().send().await {
            Err(e) => Err(Refused::Failed(e)),
            Ok(resp) if resp.status().is_server_error() || resp.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
                let wait = retry_after(&resp).map(|d| d.min(max_retry_after));
                Err(Refused::Status(resp, wait))
            }
            Ok(resp) => Ok(resp),
        }
    };
    let policy = RetryPolicy::FETCH.with_attempts(attempts as usize);
    let waited = |r: &Refused| match r {
        Refused::Status(_, wait) => *wait,
        Refused::Failed(_) => None,
    };
    match policy.run_waiting(attempt, |_| true, waited).await {
        Ok(resp) | Err(Refused::Status(resp, _)) => Ok(resp),
        Err(Refused::Failed(e)) => Err(e),
    }
}

/// Retry-After in seconds (an HTTP date is not honoured: the backoff applies then).
fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let v = resp.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// An error with its causes, one after the other.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_names() {
        assert_eq!(version_from_name("../shared/attack-data/enterprise-attack-18.1.json.gz").as_deref(), Some("18.1"));
        assert_eq!(version_from_name("https://x/enterprise-attack/enterprise-attack-v17.1.json").as_deref(), Some("17.1"));
        assert_eq!(version_from_name("https://x/enterprise-attack/enterprise-attack.json"), None);
    }

    #[test]
    fn source_specs() {
        let d = Domain::EnterpriseAttack;
        assert!(matches!(SourceSpec::parse(None, d).unwrap(), SourceSpec::Http(u) if u.ends_with("enterprise-attack/enterprise-attack.json")));
        assert_eq!(SourceSpec::parse(Some("file:///a/b.json"), d).unwrap(), SourceSpec::File("/a/b.json".into()));
        assert_eq!(SourceSpec::parse(Some("a/b.json"), d).unwrap(), SourceSpec::File("a/b.json".into()));
        assert!(SourceSpec::parse(Some("ftp://x/y"), d).is_err());
        let s = HttpSource::new("https://user:secret@example.org/a.json".into());
        assert!(!s.describe().contains("secret"));
    }

    #[test]
    fn taxii_specs() {
        let d = Domain::IcsAttack;
        assert_eq!(
            SourceSpec::taxii(None, None, d).unwrap(),
            SourceSpec::Taxii { api_root: crate::taxii::DEFAULT_API_ROOT.into(), collection: d.taxii_collection().into() }
        );
        assert_eq!(
            SourceSpec::taxii(Some("http://127.0.0.1:5000/api1"), Some("c1"), d).unwrap(),
            SourceSpec::Taxii { api_root: "http://127.0.0.1:5000/api1/".into(), collection: "c1".into() }
        );
        assert!(SourceSpec::taxii(Some("ftp://x/"), None, d).is_err());
        assert!(SourceSpec::taxii(None, Some("a/b"), d).is_err());
        let src = SourceSpec::taxii(None, None, d).unwrap().into_source();
        assert!(src.describe().starts_with("taxii:https://attack-taxii.mitre.org/api/v21/collections/x-mitre-collection--90c00720"));
    }
}
