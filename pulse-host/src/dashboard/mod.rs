//! The dashboard: `web/dist` embedded in the binary and served with its MIME
//! type, a strong content-hash ETag and a Content-Security-Policy.
//!
//! `web/dist` is built by `cargo xtask web` (`cargo xtask test` builds it
//! before any host compile). Release builds compile the files into the
//! binary; debug builds read them from disk, so only a test of the release
//! binary (`tests/e2e_dashboard.rs`) proves they are really embedded.
//!
//! A checkout without `web/dist` still compiles (`allow_missing`): the API
//! works and every page request gets [`NOT_BUILT`] with HTTP 503, which says
//! how to build the dashboard. The API must not depend on npm.
//!
//! The page is served at `/` (to browsers) and at `/dashboard/`; its files
//! resolve relative to the page, so they are found under both prefixes.

use rust_embed::RustEmbed;
use warp::http::{HeaderValue, Response, StatusCode, header};
use warp::hyper::body::Bytes;

/// The built dashboard. The folder is relative to this crate's manifest
/// (`$CARGO_MANIFEST_DIR` would need rust-embed's `interpolate-folder-path`
/// feature, and with `allow_missing` a literal `$` path fails silently).
#[derive(RustEmbed)]
#[folder = "../web/dist/"]
#[allow_missing = true]
struct Assets;

/// The page itself.
pub const INDEX: &str = "index.html";

/// Where the dashboard lives besides `/`.
pub const PREFIX: &str = "/dashboard/";

/// The policy of the page: scripts and styles from this origin only, wasm
/// compilation allowed, no framing, no forms, no plugins.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// How long browsers may reuse a file other than the page without asking.
const ASSET_CACHE: &str = "public, max-age=3600";

/// The page served when this binary was built without `web/dist`.
pub const NOT_BUILT: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>LiteLLM Pulse</title></head>\n<body><h1>Dashboard not built</h1>\n<p>This binary was compiled without <code>web/dist</code>. Run <code>cargo xtask web</code> and build again. The JSON API works: <a href=\"/api/v1/metrics\">/api/v1/metrics</a>, <a href=\"/openapi.json\">/openapi.json</a>.</p>\n</body></html>\n";

/// Types of shipped files that `mime_guess` does not know, by extension.
const MIME_OVERRIDES: [(&str, &str); 1] = [
    // The vendored chart library's licence, `vendor/uPlot.LICENSE`.
    ("license", "text/plain"),
];

/// The MIME type for a file name, as `mime_guess` knows it (`.wasm` is
/// `application/wasm`, which browsers need to stream-compile it); text types
/// say they are UTF-8, and unknown files are `application/octet-stream`.
pub fn mime_for(path: &str) -> String {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    let essence = MIME_OVERRIDES
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map_or_else(
            || {
                mime_guess::from_path(path)
                    .first_or_octet_stream()
                    .essence_str()
                    .to_owned()
            },
            |(_, mime)| (*mime).to_owned(),
        );
    if essence.starts_with("text/") {
        format!("{essence}; charset=utf-8")
    } else {
        essence
    }
}

/// Decodes `%XX` escapes; `None` on a malformed escape (which
/// `percent-encoding` would keep as text) or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let well_formed = s.split('%').skip(1).all(|rest| {
        rest.as_bytes()
            .get(..2)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// The embedded file name a request path (after its prefix) names, if it is
/// a plain relative path: decoded once, no `.`/`..`/empty segments, no
/// backslashes or control characters. Anything else is a 404, never a
/// file outside the folder (debug builds read the disk).
fn file_name(rel: &str) -> Option<String> {
    let name = percent_decode(rel)?;
    let plain = !name.is_empty()
        && !name.contains('\\')
        && !name.chars().any(char::is_control)
        && name
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    plain.then_some(name)
}

/// The strong ETag of a file: its SHA-256, as rust-embed computed it.
fn etag(hash: &[u8; 32]) -> String {
    let mut s = String::with_capacity(66);
    s.push('"');
    for b in hash {
        s.push_str(&format!("{b:02x}"));
    }
    s.push('"');
    s
}

/// Whether `If-None-Match` names `tag` (weak comparison, as RFC 9110 asks
/// for this header; `*` matches any existing file).
fn none_match(if_none_match: &str, tag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == tag
    })
}

/// The response for embedded file `name`, or `None` when there is none.
pub fn file(name: &str, if_none_match: Option<&str>) -> Option<Response<Bytes>> {
    let asset = Assets::get(name)?;
    let tag = etag(&asset.metadata.sha256_hash());
    let is_page = name == INDEX;
    // The page is revalidated on every load so a new build shows at once;
    // the files it names may be reused for an hour.
    let cache = if is_page { "no-cache" } else { ASSET_CACHE };
    let mut builder = Response::builder()
        .header(header::ETAG, &tag)
        .header(header::CACHE_CONTROL, cache);
    if is_page {
        builder = builder.header(header::CONTENT_SECURITY_POLICY, CSP);
    }
    if if_none_match.is_some_and(|v| none_match(v, &tag)) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Bytes::new())
            .ok();
    }
    builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, mime_for(name))
        .body(Bytes::from(asset.data.into_owned()))
        .ok()
}

/// The page, or [`NOT_BUILT`] with a 503 when this build has no dashboard.
pub fn page(if_none_match: Option<&str>) -> Response<Bytes> {
    if let Some(resp) = file(INDEX, if_none_match) {
        return resp;
    }
    let mut resp = Response::new(Bytes::from_static(NOT_BUILT.as_bytes()));
    *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    resp
}

/// Answers a request path that is not an API route: `/dashboard` redirects
/// to `/dashboard/`, `/dashboard/` is the page, and `/dashboard/<file>` or
/// `/<file>` is an embedded file. `None` means 404.
pub fn serve(path: &str, if_none_match: Option<&str>) -> Option<Response<Bytes>> {
    if path == "/dashboard" {
        // Relative URLs in the page only resolve under the trailing slash.
        return Response::builder()
            .status(StatusCode::PERMANENT_REDIRECT)
            .header(header::LOCATION, PREFIX)
            .body(Bytes::new())
            .ok();
    }
    if path == PREFIX {
        return Some(page(if_none_match));
    }
    let rel = path
        .strip_prefix(PREFIX)
        .or_else(|| path.strip_prefix('/'))?;
    file(&file_name(rel)?, if_none_match)
}

/// The names of every embedded file.
#[cfg(test)]
pub fn files() -> Vec<String> {
    Assets::iter().map(|p| p.into_owned()).collect()
}

/// For the tests that serve the real page: without `web/dist` (a bare
/// `cargo test` in a fresh clone) the test process stops here with one line
/// saying what to run, instead of each such test failing on its own.
/// `cargo xtask test` builds `web/dist` before it compiles the host.
#[cfg(test)]
pub fn require_built() {
    use std::io::Write;
    static CHECKED: std::sync::Once = std::sync::Once::new();
    CHECKED.call_once(|| {
        if Assets::get(INDEX).is_none() {
            // Past libtest's capture, which `eprintln!` would go into.
            let _ = writeln!(
                std::io::stderr(),
                "\nerror: the dashboard tests need web/dist: run `cargo xtask test` (or `cargo xtask web` first)"
            );
            std::process::exit(2);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_decoded_once_and_confined_to_the_folder() {
        assert_eq!(file_name("app.js").as_deref(), Some("app.js"));
        assert_eq!(
            file_name("pkg/pulse_wasm_bg.wasm").as_deref(),
            Some("pkg/pulse_wasm_bg.wasm")
        );
        assert_eq!(file_name("a%20b.js").as_deref(), Some("a b.js"));
        for bad in [
            "",
            "../mod.rs",
            "pkg/../../main.rs",
            "%2e%2e%2fetc/passwd",
            "%2E%2E/%2E%2E/etc/passwd",
            "..%2f..%2fetc%2fpasswd",
            "pkg//x.js",
            "./app.js",
            "pkg/",
            "..\\..\\x",
            "%5c..%5cx",
            "%00app.js",
            "%zz",
            "%2",
            "%ff",
        ] {
            assert_eq!(file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn if_none_match_lists_and_weak_tags_match() {
        let tag = "\"abc\"";
        assert!(none_match("\"abc\"", tag));
        assert!(none_match("\"x\", W/\"abc\"", tag));
        assert!(none_match("*", tag));
        assert!(!none_match("\"abd\"", tag));
        assert!(!none_match("abc", tag));
        assert_eq!(etag(&[0xab; 32]).len(), 66);
        assert_eq!(&etag(&[0x0f; 32])[..5], "\"0f0f");
    }

    #[test]
    fn mime_types_by_extension() {
        assert_eq!(mime_for("pkg/pulse_wasm_bg.wasm"), "application/wasm");
        assert_eq!(mime_for("app.JS"), "text/javascript; charset=utf-8");
        assert_eq!(mime_for("style.css"), "text/css; charset=utf-8");
        assert_eq!(mime_for("index.html"), "text/html; charset=utf-8");
        assert_eq!(mime_for("noext"), "application/octet-stream");
        assert_eq!(
            mime_for("vendor/uPlot.LICENSE"),
            "text/plain; charset=utf-8"
        );
    }

    #[test]
    fn the_dashboard_is_the_built_web_dist() {
        require_built();
        let names = files();
        for required in [
            INDEX,
            "app.js",
            "style.css",
            "pkg/pulse_wasm.js",
            "pkg/pulse_wasm_bg.wasm",
        ] {
            assert!(
                names.iter().any(|n| n == required),
                "{required} is not in web/dist: run `cargo xtask web` ({names:?})"
            );
        }
        // Every file gets a type a browser accepts for it.
        for n in &names {
            if n.ends_with(".js") || n.ends_with(".css") || n.ends_with(".wasm") {
                assert_ne!(mime_for(n), "application/octet-stream", "{n}");
            }
        }
    }
}
