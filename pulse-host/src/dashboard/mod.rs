//! The browser side: files embedded in the binary and served with their MIME type.
//!
//! The embedded folder is the one place to point at the built dashboard
//! (`web/`); until that lands it holds a page listing the JSON endpoints.
//! In debug builds rust-embed reads the folder from disk, in release builds
//! the files are compiled into the binary.

use rust_embed::RustEmbed;
use warp::http::{Response, StatusCode, header};
use warp::hyper::body::Bytes;

/// The dashboard's files.
#[derive(RustEmbed)]
#[folder = "src/dashboard/assets/"]
struct Assets;

/// The page served at `/` to browsers.
pub const INDEX: &str = "index.html";

/// The MIME type for a file name. `.wasm` must be `application/wasm`, or
/// browsers refuse to stream-compile it.
pub fn mime_for(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The embedded file at `path` as a response, if there is one.
pub fn file(path: &str) -> Option<Response<warp::hyper::body::Bytes>> {
    let path = if path.is_empty() { INDEX } else { path };
    // Never let a request name a file outside the folder (debug builds read the disk).
    if path.split('/').any(|seg| seg == ".." || seg.is_empty()) || path.contains('\\') {
        return None;
    }
    let asset = Assets::get(path)?;
    let body = Bytes::from(asset.data.into_owned());
    let cache = if path == INDEX {
        "no-cache"
    } else {
        "public, max-age=300"
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, mime_for(path))
        .header(header::CACHE_CONTROL, cache)
        .body(body)
        .ok()
}

/// The names of every embedded file.
#[cfg(test)]
pub fn files() -> Vec<String> {
    Assets::iter().map(|p| p.into_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_embedded_and_lists_the_endpoints() {
        assert!(files().iter().any(|f| f == INDEX));
        let resp = file("").unwrap();
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let body = String::from_utf8(resp.body().to_vec()).unwrap();
        for endpoint in [
            "/api/v1/metrics",
            "/api/v1/history",
            "/api/v1/models",
            "/api/v2/summary",
            "/openapi.json",
        ] {
            assert!(body.contains(endpoint), "{endpoint}");
        }
        assert!(file("nope.js").is_none());
        assert!(file("../mod.rs").is_none());
        assert!(file("assets/../../main.rs").is_none());
    }

    #[test]
    fn wasm_gets_its_mime_type() {
        assert_eq!(mime_for("pkg/pulse_wasm_bg.wasm"), "application/wasm");
        assert_eq!(mime_for("app.JS"), "text/javascript; charset=utf-8");
        assert_eq!(mime_for("noext"), "application/octet-stream");
    }
}
