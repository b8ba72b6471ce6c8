//! End to end: the release binary serves the dashboard from the files it
//! embeds. rust-embed reads `web/dist` from disk in debug builds, so only
//! the release binary can prove that the page and the `.wasm` are compiled
//! in, with the types, caching and policy a browser needs.

mod e2e_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use e2e_support::Pulse;

const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn start() -> (Pulse, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.db");
    let pulse = Pulse::start(
        &[],
        &[
            // Nothing listens there: the dashboard must not need a scrape.
            ("LITELLM_PULSE_METRICS_URL", "http://127.0.0.1:9/metrics"),
            ("LITELLM_PULSE_PORT", "0"),
            ("LITELLM_PULSE_HOST", "127.0.0.1"),
            ("LITELLM_PULSE_DB_PATH", db.to_str().unwrap()),
        ],
    );
    (pulse, dir)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Sends `path` exactly as written (reqwest would normalise `..` away).
fn raw_status(pulse: &Pulse, path: &str) -> u16 {
    let mut s = TcpStream::connect(pulse.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).unwrap_or("");
    status
        .parse()
        .unwrap_or_else(|_| panic!("{path}: bad answer {out:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_release_binary_serves_the_embedded_dashboard() {
    let (pulse, _dir) = start();
    let base = format!("http://{}", pulse.addr);
    let http = client();

    // The page, at `/` for browsers and at `/dashboard/`.
    let mut page_tag = String::new();
    for path in ["/", "/dashboard/"] {
        let resp = http
            .get(format!("{base}{path}"))
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let h = resp.headers().clone();
        assert_eq!(h["content-type"], "text/html; charset=utf-8", "{path}");
        assert_eq!(h["content-security-policy"], CSP, "{path}");
        assert_eq!(h["cache-control"], "no-cache", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        page_tag = h["etag"].to_str().unwrap().to_owned();
        let body = resp.text().await.unwrap();
        assert!(body.contains("<title>LiteLLM Pulse</title>"), "{body}");
        assert!(body.contains("id=\"cards\""), "{body}");
        assert!(body.contains("src=\"app.js\""), "{body}");
    }
    // Without `text/html`, `/` stays the 0.2.x JSON summary.
    let text = http
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(json["requests"].is_f64(), "{json}");

    let resp = http.get(format!("{base}/dashboard")).send().await.unwrap();
    assert_eq!(resp.status(), 308);
    assert_eq!(resp.headers()["location"], "/dashboard/");

    // The wasm: its type (or browsers refuse to stream-compile it) and its magic.
    let resp = http
        .get(format!("{base}/dashboard/pkg/pulse_wasm_bg.wasm"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/wasm");
    assert_eq!(resp.headers()["cache-control"], "public, max-age=3600");
    let tag = resp.headers()["etag"].to_str().unwrap().to_owned();
    let wasm = resp.bytes().await.unwrap();
    assert_eq!(&wasm[..4], b"\0asm");
    assert_eq!(&wasm[4..8], &[1, 0, 0, 0], "wasm binary format version 1");
    let again = http
        .get(format!("{base}/pkg/pulse_wasm_bg.wasm"))
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
    let page = http
        .get(format!("{base}/dashboard/"))
        .header("if-none-match", &page_tag)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 304);

    // Every file the page names, with its type, under both prefixes.
    for (file, mime) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("vendor/uPlot.min.css", "text/css; charset=utf-8"),
        ("pkg/pulse_wasm.js", "text/javascript; charset=utf-8"),
    ] {
        for prefix in ["/", "/dashboard/"] {
            let resp = http
                .get(format!("{base}{prefix}{file}"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{prefix}{file}");
            assert_eq!(resp.headers()["content-type"], mime, "{prefix}{file}");
            assert!(!resp.bytes().await.unwrap().is_empty());
        }
    }
    drop(pulse);
}

/// The binary embeds each file gzipped: a browser gets those bytes with
/// `Content-Encoding: gzip`, a client that asks for no encoding gets the
/// file itself, and both are the built file byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_go_gzipped_to_clients_that_take_gzip_and_plain_to_the_rest() {
    let (pulse, _dir) = start();
    let base = format!("http://{}", pulse.addr);
    // No automatic decompression: the test sees the bytes on the wire.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/dist");
    for file in ["pkg/pulse_wasm_bg.wasm", "app.js", "index.html"] {
        let built = std::fs::read(dist.join(file)).unwrap();
        let url = format!("{base}/dashboard/{file}");

        let resp = raw
            .get(&url)
            .header("accept-encoding", "gzip, deflate, br, zstd")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{file}");
        let h = resp.headers().clone();
        assert_eq!(h["content-encoding"], "gzip", "{file}");
        assert_eq!(h["vary"], "accept-encoding", "{file}");
        let gz = resp.bytes().await.unwrap();
        assert_eq!(h["content-length"], gz.len().to_string().as_str());
        assert_eq!(&gz[..2], &[0x1f, 0x8b], "{file}: gzip magic");
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, built, "{file}");
        if file.ends_with(".wasm") {
            // What the page's first load costs: the wasm is 1.1 MB, sent as 0.2.
            assert!(
                gz.len() * 4 < built.len(),
                "{file}: {} of {}",
                gz.len(),
                built.len()
            );
        }

        let resp = raw.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{file}");
        assert!(resp.headers().get("content-encoding").is_none(), "{file}");
        assert_eq!(resp.headers()["vary"], "accept-encoding", "{file}");
        assert_ne!(
            resp.headers()["etag"],
            h["etag"],
            "{file}: one tag per representation"
        );
        assert_eq!(resp.bytes().await.unwrap(), built, "{file}");
    }
    drop(pulse);
}

#[test]
fn traversal_outside_the_embedded_folder_is_a_404() {
    let (pulse, _dir) = start();
    assert_eq!(raw_status(&pulse, "/dashboard/app.js"), 200);
    for path in [
        "/dashboard/../../etc/passwd",
        "/dashboard/../Cargo.toml",
        "/../../../../etc/passwd",
        "/dashboard/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/dashboard/%2e%2e/%2e%2e/Cargo.toml",
        "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/dashboard/..%2f..%2fpulse-host%2fCargo.toml",
        "/dashboard/%252e%252e%252fCargo.toml",
        "/dashboard/..%5c..%5cCargo.toml",
        "/dashboard/pkg/../../../web/package.json",
    ] {
        assert_eq!(raw_status(&pulse, path), 404, "{path}");
    }
}
