//! Deflates the published OpenAPI document (openapi.json, about 400 KB of text) into OUT_DIR:
//! the binary carries about 12 KB and inflates it on the first request for it.
use std::io::Write;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let source = manifest.join("openapi.json");
    println!("cargo:rerun-if-changed={}", source.display());
    println!("cargo:rerun-if-changed=build.rs");
    let text = std::fs::read(&source).expect("shared/api/openapi.json (run `make template`)");
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&text).expect("deflate");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("openapi.json.deflate");
    std::fs::write(out, encoder.finish().expect("deflate")).expect("write the deflated document");
}
