//! Helpers for the integration tests: each test gets its own table and bucket on the local
//! stack (see `infra/test.sh`), plus a tiny HTTP server for source tests.
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use mitre_store::{Store, aws_clients, schema::create_table};

pub struct TestApp {
    pub store: Store,
}

/// A fresh table (from infra/table.json) and bucket on the local stack.
pub async fn spawn_app() -> TestApp {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some() && std::env::var_os("AWS_ENDPOINT_URL_S3").is_some(),
        "the integration tests need the local stack: run them with `make test` (infra/test.sh)"
    );
    let (ddb, s3) = aws_clients().await;
    let name = format!("t-{}", ulid::Ulid::new().to_string().to_lowercase());
    create_table(&ddb, &name).await.expect("create the test table");
    s3.create_bucket().bucket(&name).send().await.expect("create the test bucket");
    TestApp { store: Store::new(ddb, s3, &name, &name) }
}

/// A file of ../shared/attack-data (or ATTACK_DATA_DIR).
pub fn attack_data(file: &str) -> PathBuf {
    let dir = std::env::var_os("ATTACK_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/attack-data"));
    let path = dir.join(file);
    assert!(path.exists(), "{} is missing", path.display());
    path
}

/// Writes `text` to a temporary file and returns its path.
pub fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mitre-tests-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// One request as the fixture server saw it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl SeenRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What the fixture server answers: status, headers, body.
pub type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// A minimal HTTP/1.1 server on 127.0.0.1 answering every request with `respond`.
pub struct HttpFixture {
    pub url: String,
    pub seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl HttpFixture {
    pub fn start(respond: impl Fn(&SeenRequest) -> Reply + Send + 'static) -> HttpFixture {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/enterprise-attack.json", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.trim_end().split_once(':') {
                        headers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                let req = SeenRequest { path, headers };
                let (status, extra, body) = respond(&req);
                seen2.lock().unwrap().push(req);
                let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
                for (k, v) in extra {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        HttpFixture { url, seen }
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}
