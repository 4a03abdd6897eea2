//! A TAXII 2.1 collection as a bundle source (by default the official MITRE ATT&CK TAXII
//! server). The collection's objects are fetched page by page (`limit`, then `next` while the
//! envelope says `more`) and assembled into one STIX 2.1 bundle, so the sync treats them exactly
//! like a downloaded bundle.
//!
//! An unchanged upstream is cheap: the newest `X-TAXII-Date-Added-Last` seen is kept as the
//! run's `last_modified` validator, and the next fetch first asks the collection's manifest for
//! entries added after it (`manifest/?added_after=…&limit=1`, metadata only); none means
//! [`Fetched::NotModified`] after one request. Otherwise, or when that probe fails, the whole
//! collection is fetched again: the sync diffs full bundles.
use std::time::Duration;

use async_trait::async_trait;
use mitre_attack::Domain;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::source::{BundleSource, Fetched, SourceError, Validators};
use crate::source::{error_chain, send_retrying};

/// The official MITRE ATT&CK TAXII 2.1 API root.
pub const DEFAULT_API_ROOT: &str = "https://attack-taxii.mitre.org/api/v21/";
/// The media type of TAXII 2.1 requests and answers.
pub const MEDIA_TYPE_TAXII_V21: &str = "application/taxii+json;version=2.1";
/// Objects asked for per page unless told otherwise.
pub const DEFAULT_PAGE_LIMIT: u32 = 1000;
/// Environment variables holding the optional HTTP Basic credentials.
pub const USERNAME_VAR: &str = "TAXII_USERNAME";
pub const PASSWORD_VAR: &str = "TAXII_PASSWORD";

/// A safety net against a server whose `next` never ends.
const MAX_PAGES: usize = 100_000;
const HEADER_DATE_ADDED_LAST: &str = "x-taxii-date-added-last";

pub struct TaxiiSource {
    api_root: String,
    collection: String,
    client: Result<reqwest::Client, String>,
    credentials: Option<(String, String)>,
    page_limit: u32,
    attempts: u32,
    max_retry_after: Duration,
}

/// What a TAXII envelope carries; objects stay raw JSON text.
#[derive(Debug, Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    more: bool,
    #[serde(default)]
    next: Option<String>,
    #[serde(borrow, default)]
    objects: Option<Vec<&'a RawValue>>,
}

/// The error resource a TAXII server answers with.
#[derive(Deserialize)]
struct TaxiiError {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

/// One answered page.
struct Page {
    body: bytes::Bytes,
    date_added_last: Option<String>,
}

/// The API root with exactly one trailing slash.
fn normalize_root(api_root: &str) -> String {
    let trimmed = api_root.trim().trim_end_matches('/');
    format!("{trimmed}/")
}

fn env_credentials() -> Option<(String, String)> {
    let user = std::env::var(USERNAME_VAR).ok().filter(|u| !u.is_empty())?;
    Some((user, std::env::var(PASSWORD_VAR).unwrap_or_default()))
}

impl TaxiiSource {
    /// A source for `collection` under `api_root`, with the credentials of TAXII_USERNAME and
    /// TAXII_PASSWORD when set.
    pub fn new(api_root: &str, collection: &str) -> Self {
        let client = crate::source::http_client();
        TaxiiSource {
            api_root: normalize_root(api_root),
            collection: collection.trim().to_string(),
            client,
            credentials: env_credentials(),
            page_limit: DEFAULT_PAGE_LIMIT,
            attempts: 4,
            max_retry_after: Duration::from_secs(60),
        }
    }

    /// The domain's collection on the official MITRE ATT&CK TAXII server.
    pub fn for_domain(domain: Domain) -> Self {
        TaxiiSource::new(DEFAULT_API_ROOT, domain.taxii_collection())
    }

    /// HTTP Basic credentials (replacing those of the environment); `None` sends none.
    pub fn with_credentials(mut self, credentials: Option<(String, String)>) -> Self {
        self.credentials = credentials;
        self
    }

    /// Objects asked for per page (at least 1; the server may answer fewer).
    pub fn with_page_limit(mut self, limit: u32) -> Self {
        self.page_limit = limit.max(1);
        self
    }

    /// How many times a failed connection, 429 or 5xx is tried in all (default 4).
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// The longest Retry-After that is honoured (default 60 s); longer ones are cut to it.
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    pub fn api_root(&self) -> &str {
        &self.api_root
    }

    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// The API root without any credentials embedded in it.
    fn public_root(&self) -> String {
        crate::source::without_credentials(&self.api_root)
    }

    fn objects_url(&self, params: &[(&str, &str)]) -> Result<reqwest::Url, SourceError> {
        self.collection_url("objects", params)
    }

    fn collection_url(&self, endpoint: &str, params: &[(&str, &str)]) -> Result<reqwest::Url, SourceError> {
        let base = reqwest::Url::parse(&self.api_root).map_err(|e| SourceError(format!("the TAXII API root {:?} is not a URL: {e}", self.public_root())))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(SourceError(format!("the TAXII API root {} is not an http(s) URL", self.public_root())));
        }
        let mut url = base
            .join(&format!("collections/{}/{endpoint}/", self.collection))
            .map_err(|e| SourceError(format!("bad TAXII collection id {:?}: {e}", self.collection)))?;
        url.query_pairs_mut().extend_pairs(params);
        Ok(url)
    }

    fn what(&self) -> String {
        format!("collection {} at {}", self.collection, self.public_root())
    }

    /// One GET of the collection's objects, retried on connection errors, 429 and 5xx.
    async fn get_page(&self, params: &[(&str, &str)]) -> Result<Page, SourceError> {
        self.get(self.objects_url(params)?).await
    }

    /// One GET of `url`, retried on connection errors, 429 and 5xx.
    async fn get(&self, url: reqwest::Url) -> Result<Page, SourceError> {
        let client = self.client.as_ref().map_err(|e| SourceError(e.clone()))?;
        let request = || {
            let req = client.get(url.clone()).header(reqwest::header::ACCEPT, MEDIA_TYPE_TAXII_V21);
            match &self.credentials {
                Some((user, password)) => req.basic_auth(user, Some(password)),
                None => req,
            }
        };
        let resp = send_retrying(request, self.attempts, self.max_retry_after)
            .await
            .map_err(|e| SourceError(format!("cannot reach the TAXII server for {}: {}", self.what(), error_chain(&e))))?;
        let status = resp.status();
        if !status.is_success() {
            let hint = match status.as_u16() {
                401 => " (set TAXII_USERNAME and TAXII_PASSWORD)",
                403 => " (the credentials may not read this collection)",
                404 => " (check the API root and the collection id)",
                _ => "",
            };
            let detail = error_detail(resp).await;
            return Err(SourceError(format!("TAXII server answered HTTP {status} for {}{detail}{hint}", self.what())));
        }
        let date_added_last = resp.headers().get(HEADER_DATE_ADDED_LAST).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let body = resp.bytes().await.map_err(|e| SourceError(format!("the answer for {} broke off: {}", self.what(), error_chain(&e))))?;
        Ok(Page { body, date_added_last })
    }

    /// Fetches every object of the collection and assembles one bundle.
    async fn fetch_all(&self) -> Result<(Vec<u8>, Option<String>), SourceError> {
        let limit = self.page_limit.to_string();
        // The bundle id is derived from the objects (patched in at the end), so an unchanged
        // collection assembles to the same bytes and the sync recognises it by its hash.
        let mut out = Vec::with_capacity(1 << 20);
        out.extend_from_slice(br#"{"type":"bundle","id":"bundle--"#);
        let id_at = out.len();
        out.extend_from_slice(&[b'0'; 36]);
        out.extend_from_slice(br#"","objects":["#);
        let mut hasher = Sha256::new();
        let mut count = 0usize;
        let mut newest: Option<String> = None;
        let mut next: Option<String> = None;
        let max_bytes = mitre_attack::bundle::MAX_BUNDLE_BYTES;
        for page_no in 0.. {
            if page_no >= MAX_PAGES {
                return Err(SourceError(format!("the TAXII server kept paging past {MAX_PAGES} pages for {}", self.what())));
            }
            let mut params = vec![("limit", limit.as_str())];
            if let Some(n) = &next {
                params.push(("next", n.as_str()));
            }
            let page = self.get_page(&params).await?;
            let envelope = parse_envelope(&page.body).map_err(|e| SourceError(format!("the answer for {} is {e}", self.what())))?;
            for raw in envelope.objects.unwrap_or_default() {
                let text = raw.get().as_bytes();
                if count > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(text);
                hasher.update(text);
                hasher.update(b"\n");
                count += 1;
            }
            if out.len() > max_bytes {
                return Err(SourceError(format!("{} is larger than {} MB", self.what(), max_bytes >> 20)));
            }
            newest = newer(newest, page.date_added_last);
            if !envelope.more {
                break;
            }
            match envelope.next {
                // (a server may answer the same token on every page: its cursor moves on by itself)
                Some(n) if !n.is_empty() => next = Some(n),
                _ => {
                    return Err(SourceError(format!("the TAXII server said more objects follow for {} but gave no \"next\" to ask for them", self.what())));
                }
            }
        }
        out.extend_from_slice(b"]}");
        let digest = hasher.finalize();
        out[id_at..id_at + 36].copy_from_slice(uuid_from(&digest).as_bytes());
        tracing::debug!(objects = count, collection = %self.collection, "TAXII collection fetched");
        Ok((out, newest))
    }
}

impl TaxiiSource {
    /// Whether the collection's manifest lists anything added after `since`.
    async fn added_since(&self, since: &str) -> Result<bool, SourceError> {
        let page = self.get(self.collection_url("manifest", &[("added_after", since), ("limit", "1")])?).await?;
        let envelope = parse_envelope(&page.body).map_err(|e| SourceError(format!("the manifest answer for {} is {e}", self.what())))?;
        Ok(envelope.objects.as_ref().is_some_and(|o| !o.is_empty()))
    }
}

/// A version-5-shaped UUID from the first 16 bytes of a digest.
fn uuid_from(digest: &[u8]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// Checks that `body` is a TAXII envelope (a JSON object whose `objects`, if any, is an array).
fn parse_envelope(body: &[u8]) -> Result<Envelope<'_>, String> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        let start = String::from_utf8_lossy(&body[..body.len().min(60)]).trim().to_string();
        return Err(format!("not a TAXII envelope (it starts with {start:?})"));
    }
    serde_json::from_slice::<Envelope<'_>>(body).map_err(|e| format!("not a TAXII envelope: {e}"))
}

/// The later of two TAXII timestamps (RFC 3339; compared as instants when both parse).
fn newer(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (None, b) => b,
        (a, None) => a,
        (Some(a), Some(b)) => {
            let later = match (chrono::DateTime::parse_from_rfc3339(&a), chrono::DateTime::parse_from_rfc3339(&b)) {
                (Ok(x), Ok(y)) => y > x,
                _ => b > a,
            };
            Some(if later { b } else { a })
        }
    }
}

/// ": <description>" from a TAXII error resource, or a short excerpt of the body.
async fn error_detail(resp: reqwest::Response) -> String {
    let Ok(body) = resp.bytes().await else { return String::new() };
    if let Some(d) = serde_json::from_slice::<TaxiiError>(&body).ok().and_then(|e| e.description.or(e.title)).filter(|d| !d.trim().is_empty()) {
        return format!(": {}", truncate(d.trim(), 300));
    }
    let text = String::from_utf8_lossy(&body);
    let text = text.trim();
    if text.is_empty() || text.starts_with('<') { String::new() } else { format!(": {}", truncate(text, 300)) }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[async_trait]
impl BundleSource for TaxiiSource {
    fn describe(&self) -> String {
        format!("taxii:{}collections/{}/", self.public_root(), self.collection)
    }

    async fn fetch(&self, previous: Option<&Validators>) -> Result<Fetched, SourceError> {
        if let Some(since) = previous.and_then(|v| v.last_modified.as_deref()).filter(|s| !s.is_empty()) {
            match self.added_since(since).await {
                Ok(false) => return Ok(Fetched::NotModified),
                Ok(true) => {}
                // The probe only saves work: the full fetch reports what is wrong, if anything.
                Err(e) => tracing::warn!(error = %e.0, "TAXII manifest probe failed; fetching the whole collection"),
            }
        }
        let (bytes, newest) = self.fetch_all().await?;
        Ok(Fetched::Body { bytes, validators: Validators { etag: None, last_modified: newest } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_descriptions() {
        let s = TaxiiSource::new("https://user:secret@taxii.example.org/api/v21", "x-mitre-collection--1").with_credentials(None);
        assert_eq!(s.api_root(), "https://user:secret@taxii.example.org/api/v21/");
        assert_eq!(s.describe(), "taxii:https://taxii.example.org/api/v21/collections/x-mitre-collection--1/");
        assert!(!s.describe().contains("secret"));
        let u = s.objects_url(&[("limit", "10"), ("added_after", "2025-01-01T00:00:00.000Z")]).unwrap();
        assert_eq!(u.path(), "/api/v21/collections/x-mitre-collection--1/objects/");
        assert_eq!(u.query(), Some("limit=10&added_after=2025-01-01T00%3A00%3A00.000Z"));
        assert_eq!(s.version_hint(), None);
        let d = TaxiiSource::for_domain(Domain::IcsAttack);
        assert_eq!(d.collection(), "x-mitre-collection--90c00720-636b-4485-b342-8751d232bf09");
        assert_eq!(d.api_root(), DEFAULT_API_ROOT);
    }

    #[test]
    fn envelopes() {
        let e = parse_envelope(br#"{"more":true,"next":"abc","objects":[{"id":"x--1", "a": [1, 2]}]}"#).unwrap();
        assert!(e.more);
        assert_eq!(e.next.as_deref(), Some("abc"));
        assert_eq!(e.objects.unwrap()[0].get(), r#"{"id":"x--1", "a": [1, 2]}"#);
        let empty = parse_envelope(b"{}").unwrap();
        assert!(!empty.more && empty.objects.is_none());
        assert!(parse_envelope(b"<html>").unwrap_err().contains("not a TAXII envelope"));
        assert!(parse_envelope(br#"{"objects":{}}"#).unwrap_err().contains("not a TAXII envelope"));
    }

    #[test]
    fn timestamps_and_ids() {
        let n = newer(Some("2025-01-01T00:00:00.000Z".into()), Some("2024-12-31T23:59:59.999999Z".into()));
        assert_eq!(n.as_deref(), Some("2025-01-01T00:00:00.000Z"));
        assert_eq!(newer(None, Some("x".into())).as_deref(), Some("x"));
        let id = uuid_from(&Sha256::digest(b"abc"));
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "5");
    }
}
