//! The dashboard: `web/dist` embedded in the binary and served with its MIME
//! type, a strong content-hash ETag and a Content-Security-Policy.
//!
//! `web/dist` is built by `cargo xtask web` (`cargo xtask test` builds it
//! before any host compile). Release builds compile the files into the
//! binary; debug builds read them from disk, so only a test of the release
//! binary (`tests/e2e_dashboard.rs`) proves they are really embedded.
//!
//! Only the gzip of each file is embedded (the build writes `<file>.gz`
//! beside it): 0.28 MB rather than 1.39, most of it the wasm. A client whose
//! `Accept-Encoding` takes gzip (every browser) gets those bytes as they
//! are, with `Content-Encoding: gzip`; any other gets them decompressed. The
//! two are different representations, so each has its own ETag, and both say
//! `Vary: Accept-Encoding` for caches.
//!
//! A checkout without `web/dist` still compiles (`allow_missing`): the API
//! works and every page request gets [`NOT_BUILT`] with HTTP 503, which says
//! how to build the dashboard. The API must not depend on npm.
//!
//! The page is served at `/` (to browsers) and at `/dashboard/`; its files
//! resolve relative to the page, so they are found under both prefixes.

use std::borrow::Cow;
use std::io::Read;

use rust_embed::RustEmbed;
use warp::http::{HeaderValue, Response, StatusCode, header};
use warp::hyper::body::Bytes;

/// The built dashboard. The folder is relative to this crate's manifest
/// (`$CARGO_MANIFEST_DIR` would need rust-embed's `interpolate-folder-path`
/// feature, and with `allow_missing` a literal `$` path fails silently).
#[derive(RustEmbed)]
#[folder = "../web/dist/"]
#[include = "*.gz"]
#[allow_missing = true]
struct Assets;

/// What the build appends to the name of each embedded file.
const GZ: &str = ".gz";

/// An embedded file that does not decompress: a broken `web/dist` (debug
/// builds read it from disk), never a client's fault.
#[derive(Debug, thiserror::Error)]
#[error("dashboard file {name} in web/dist is not valid gzip ({source}): run `cargo xtask web`")]
pub struct CorruptAsset {
    name: String,
    source: std::io::Error,
}

/// The request headers a dashboard file's answer depends on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditions<'a> {
    /// `If-None-Match`.
    pub if_none_match: Option<&'a str>,
    /// `Accept-Encoding`.
    pub accept_encoding: Option<&'a str>,
}

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

/// The strong ETag of a file as served: the SHA-256 of its embedded gzip,
/// as rust-embed computed it, with `-gzip` for the gzipped representation
/// (as Apache's `mod_deflate` marks it) so the two never share a tag.
fn etag(hash: &[u8; 32], gzip: bool) -> String {
    let mut s = String::with_capacity(71);
    s.push('"');
    for b in hash {
        s.push_str(&format!("{b:02x}"));
    }
    if gzip {
        s.push_str("-gzip");
    }
    s.push('"');
    s
}

/// Whether an `Accept-Encoding` value takes gzip (RFC 9110, 12.5.3): `gzip`
/// (or its alias `x-gzip`) listed with a non-zero weight, or, when neither is
/// listed, `*` with one. A request without the header gets the file
/// decompressed: a client that asks for nothing (`curl` without
/// `--compressed`) is not sent bytes it may not decode.
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(value) = accept_encoding else {
        return false;
    };
    let mut star = None;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let mut weight = Some(1.0);
        for param in parts {
            if let Some((k, v)) = param.split_once('=')
                && k.trim().eq_ignore_ascii_case("q")
            {
                weight = qvalue(v.trim());
            }
        }
        // A malformed weight makes the item say nothing.
        let Some(weight) = weight else { continue };
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            return weight > 0.0;
        }
        if coding == "*" {
            star = Some(weight > 0.0);
        }
    }
    star.unwrap_or(false)
}

/// A `qvalue`: `0` or `1` with up to three decimals, or a decimal between.
fn qvalue(v: &str) -> Option<f64> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    let well_formed = matches!(int, "0" | "1")
        && frac.len() <= 3
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (int == "0" || frac.bytes().all(|b| b == b'0'));
    well_formed.then(|| v.parse().ok()).flatten()
}

/// The bytes of an embedded file without copying them (release builds embed
/// them as a `&'static [u8]`).
fn bytes_of(data: Cow<'static, [u8]>) -> Bytes {
    match data {
        Cow::Borrowed(b) => Bytes::from_static(b),
        Cow::Owned(v) => Bytes::from(v),
    }
}

/// `gz` decompressed.
fn gunzip(name: &str, gz: &[u8]) -> Result<Vec<u8>, CorruptAsset> {
    // gzip's trailer ends with the size (mod 2^32) it unpacks to: room for
    // exactly that, when it is plausible (our files are built, not sent).
    let size = gz
        .last_chunk::<4>()
        .map_or(0, |b| u32::from_le_bytes(*b) as usize);
    let mut out = Vec::with_capacity(size.min(gz.len().saturating_mul(1032)));
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut out)
        .map_err(|source| CorruptAsset {
            name: name.to_owned(),
            source,
        })?;
    Ok(out)
}

/// Whether `If-None-Match` names `tag` (weak comparison, as RFC 9110 asks
/// for this header; `*` matches any existing file).
fn none_match(if_none_match: &str, tag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == tag
    })
}

/// The response for embedded file `name`, or `None` when there is none.
pub fn file(name: &str, req: Conditions<'_>) -> Result<Option<Response<Bytes>>, CorruptAsset> {
    let Some(asset) = Assets::get(&format!("{name}{GZ}")) else {
        return Ok(None);
    };
    let gzip = accepts_gzip(req.accept_encoding);
    let tag = etag(&asset.metadata.sha256_hash(), gzip);
    let is_page = name == INDEX;
    // The page is revalidated on every load so a new build shows at once;
    // the files it names may be reused for an hour.
    let cache = if is_page { "no-cache" } else { ASSET_CACHE };
    let mut builder = Response::builder()
        .header(header::ETAG, &tag)
        .header(header::CACHE_CONTROL, cache)
        .header(header::VARY, "accept-encoding");
    if is_page {
        builder = builder.header(header::CONTENT_SECURITY_POLICY, CSP);
    }
    if req.if_none_match.is_some_and(|v| none_match(v, &tag)) {
        return Ok(builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Bytes::new())
            .ok());
    }
    builder = builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, mime_for(name));
    let body = if gzip {
        builder = builder.header(header::CONTENT_ENCODING, "gzip");
        bytes_of(asset.data)
    } else {
        Bytes::from(gunzip(name, &asset.data)?)
    };
    Ok(builder.body(body).ok())
}

/// The page, or [`NOT_BUILT`] with a 503 when this build has no dashboard.
pub fn page(req: Conditions<'_>) -> Result<Response<Bytes>, CorruptAsset> {
    if let Some(resp) = file(INDEX, req)? {
        return Ok(resp);
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
    Ok(resp)
}

/// Answers a request path that is not an API route: `/dashboard` redirects
/// to `/dashboard/`, `/dashboard/` is the page, and `/dashboard/<file>` or
/// `/<file>` is an embedded file. `None` means 404.
pub fn serve(path: &str, req: Conditions<'_>) -> Result<Option<Response<Bytes>>, CorruptAsset> {
    if path == "/dashboard" {
        // Relative URLs in the page only resolve under the trailing slash.
        return Ok(Response::builder()
            .status(StatusCode::PERMANENT_REDIRECT)
            .header(header::LOCATION, PREFIX)
            .body(Bytes::new())
            .ok());
    }
    if path == PREFIX {
        return page(req).map(Some);
    }
    let Some(name) = path
        .strip_prefix(PREFIX)
        .or_else(|| path.strip_prefix('/'))
        .and_then(file_name)
    else {
        return Ok(None);
    };
    file(&name, req)
}

/// The names of every embedded file (without the `.gz` they are embedded
/// under).
#[cfg(test)]
pub fn files() -> Vec<String> {
    Assets::iter()
        .filter_map(|p| p.strip_suffix(GZ).map(str::to_owned))
        .collect()
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
        if Assets::get(&format!("{INDEX}{GZ}")).is_none() {
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
        assert_eq!(etag(&[0xab; 32], false).len(), 66);
        assert_eq!(&etag(&[0x0f; 32], false)[..5], "\"0f0f");
        assert_eq!(&etag(&[0x0f; 32], true)[63..], "0f-gzip\"");
        // A tag of one representation does not match the other's.
        assert!(!none_match(&etag(&[1; 32], true), &etag(&[1; 32], false)));
        assert!(!none_match(&etag(&[1; 32], false), &etag(&[1; 32], true)));
    }

    #[test]
    fn accept_encoding_takes_gzip_when_it_lists_gzip_or_a_star_with_weight() {
        // (Accept-Encoding, gzip taken)
        let rows = [
            (None, false),
            (Some(""), false),
            (Some("identity"), false),
            (Some("gzip"), true),
            (Some("GZip"), true),
            (Some("x-gzip"), true),
            (Some("gzip, deflate, br, zstd"), true),
            (Some("br;q=1.0, gzip;q=0.8, *;q=0.1"), true),
            (Some("deflate, br"), false),
            (Some("gzip;q=0"), false),
            (Some("gzip; q=0.000"), false),
            (Some("gzip;Q=0.001"), true),
            (Some("*"), true),
            (Some("*;q=0"), false),
            // An explicit gzip outranks the star, either way round.
            (Some("*, gzip;q=0"), false),
            (Some("gzip;q=0.5, *;q=0"), true),
            (Some("identity, *;q=0.5"), true),
            // A malformed weight makes the item say nothing.
            (Some("gzip;q=2"), false),
            (Some("gzip;q=0.5.5"), false),
            (Some("gzip;q=1.5"), false),
            (Some("gzip;q=0.1234"), false),
            (Some("gzip;q=abc, *"), true),
            (Some("gzipped"), false),
            (Some(" gzip ; q=0.5 "), true),
        ];
        for (header, want) in rows {
            assert_eq!(accepts_gzip(header), want, "{header:?}");
        }
    }

    #[test]
    fn a_corrupt_file_is_an_error_that_names_it() {
        let err = gunzip("app.js", b"not gzip").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("dashboard file app.js in web/dist is not valid gzip"),
            "{err}"
        );
        let gz = {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(b"hello").unwrap();
            e.finish().unwrap()
        };
        assert_eq!(gunzip("x", &gz).unwrap(), b"hello");
        assert!(gunzip("x", &gz[..gz.len() - 4]).is_err(), "truncated");
        // A trailer claiming 4 GiB reserves no more than deflate could unpack.
        assert!(gunzip("x", &[0xff; 8]).is_err());
    }

    /// The header, the body (decompressed when gzipped) and the tag of one
    /// answer for `name`.
    fn fetch(name: &str, accept_encoding: Option<&str>) -> (Response<Bytes>, Vec<u8>) {
        let resp = file(
            name,
            Conditions {
                if_none_match: None,
                accept_encoding,
            },
        )
        .unwrap()
        .unwrap();
        let body = if resp.headers().get(header::CONTENT_ENCODING).is_some() {
            gunzip(name, resp.body()).unwrap()
        } else {
            resp.body().to_vec()
        };
        (resp, body)
    }

    #[test]
    fn each_file_goes_gzipped_to_who_takes_gzip_and_plain_to_the_rest() {
        require_built();
        let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/dist");
        for name in files() {
            let on_disk = std::fs::read(dist.join(&name)).unwrap();
            let (gz, gz_body) = fetch(&name, Some("gzip, deflate, br"));
            let (plain, plain_body) = fetch(&name, None);
            assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip", "{name}");
            assert!(gz.body().len() < on_disk.len() + 64, "{name}");
            assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
            // Both are the built file, byte for byte.
            assert_eq!(gz_body, on_disk, "{name}");
            assert_eq!(plain_body, on_disk, "{name}");
            for r in [&gz, &plain] {
                assert_eq!(r.headers()[header::VARY], "accept-encoding", "{name}");
                assert_eq!(r.headers()[header::CONTENT_TYPE], mime_for(&name).as_str());
            }
            let (tag_gz, tag_plain) = (&gz.headers()[header::ETAG], &plain.headers()[header::ETAG]);
            assert_ne!(tag_gz, tag_plain, "{name}");
            // Each tag revalidates its own representation only.
            for (tag, accept, status) in [
                (tag_gz, Some("gzip"), StatusCode::NOT_MODIFIED),
                (tag_plain, None, StatusCode::NOT_MODIFIED),
                (tag_gz, None, StatusCode::OK),
                (tag_plain, Some("gzip"), StatusCode::OK),
            ] {
                let req = Conditions {
                    if_none_match: Some(tag.to_str().unwrap()),
                    accept_encoding: accept,
                };
                let again = file(&name, req).unwrap().unwrap();
                assert_eq!(again.status(), status, "{name} {accept:?}");
                assert_eq!(again.headers()[header::VARY], "accept-encoding");
            }
        }
        // What is not embedded is not found, the `.gz` names included.
        let none = Conditions::default();
        assert!(file("missing.js", none).unwrap().is_none());
        assert!(file("app.js.gz", none).unwrap().is_none());
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
