//! The HTTP API: routes ([`routes`]) apart from the handlers that answer them
//! (`handlers`, and `export` for the streamed CSV/NDJSON download), the JSON
//! shapes (`views`) and the one function that turns every error into a JSON
//! response ([`recover`]).
//!
//! Invariant: handlers never compute a window, a delta or a bucket themselves;
//! they ask pulse-core for boundaries and the store for sums.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use serde_json::{Value, json};
use warp::http::header::{HeaderMap, HeaderName, HeaderValue};
use warp::http::{Response, StatusCode};
use warp::hyper::body::Bytes;
use warp::{Filter, Rejection, Reply};

use crate::app::App;
use crate::config::Cors;

pub mod cache;
pub mod export;
pub mod handlers;
pub mod latency;
pub mod openapi;
pub mod views;

/// A response body with its status; the only error type handlers raise.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// JSON body; always an object with an `error` string.
    pub body: Value,
}

impl warp::reject::Reject for ApiError {}

/// 500: this build's dashboard is broken (logged: no client can mend it).
impl From<crate::dashboard::CorruptAsset> for ApiError {
    fn from(e: crate::dashboard::CorruptAsset) -> ApiError {
        tracing::error!("{e}");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: json!({ "error": e.to_string() }),
        }
    }
}

impl ApiError {
    /// 400 with a message.
    pub fn bad_request(msg: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: json!({ "error": msg.into() }),
        }
    }

    /// 503: the store did not answer.
    pub fn unavailable(msg: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: json!({ "error": format!("database unavailable: {msg}") }),
        }
    }
}

/// A JSON response with `status`.
pub fn json_response(status: StatusCode, body: &Value) -> Response<Bytes> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = Response::new(Bytes::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    resp
}

/// Every route, with the API token checked, CORS applied when configured,
/// errors mapped to JSON and the security headers added.
pub fn routes(app: Arc<App>) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    let token = app.settings.api_token.clone().map(Arc::<str>::from);
    let cors = cors(&app.settings.cors);
    let with_app = warp::any().map(move || Arc::clone(&app));
    let query = warp::query::<HashMap<String, String>>();
    let get = warp::get().or(warp::head()).unify();

    let if_none_match = warp::header::optional::<String>("if-none-match");
    let accept_encoding = warp::header::optional::<String>("accept-encoding");
    let root = warp::path::end()
        .and(warp::header::optional::<String>("accept"))
        .and(if_none_match)
        .and(accept_encoding)
        .and(with_app.clone())
        .and_then(handlers::root);
    let metrics = warp::path!("api" / "v1" / "metrics")
        .and(with_app.clone())
        .and_then(handlers::metrics);
    let metric = warp::path!("api" / "v1" / "metrics" / String)
        .and(with_app.clone())
        .and_then(handlers::metric);
    let history = warp::path!("api" / "v1" / "history")
        .and(query)
        .and(with_app.clone())
        .and_then(handlers::history);
    let models = warp::path!("api" / "v1" / "models")
        .and(with_app.clone())
        .and_then(handlers::models);
    let breakdown = warp::path!("api" / "v1" / "breakdown")
        .and(query)
        .and(with_app.clone())
        .and_then(handlers::breakdown);
    let series = warp::path!("api" / "v1" / "series")
        .and(query)
        .and(with_app.clone())
        .and_then(handlers::series);
    let export = warp::path!("api" / "v1" / "export")
        .and(query)
        .and(with_app.clone())
        .and_then(export::export);
    let summary = warp::path!("api" / "v2" / "summary")
        .and(with_app.clone())
        .and_then(handlers::summary_v2);
    let budgets = warp::path!("api" / "v1" / "budgets")
        .and(with_app.clone())
        .and_then(handlers::budgets);
    let alerts = warp::path!("api" / "v1" / "alerts")
        .and(query)
        .and(with_app.clone())
        .and_then(handlers::alerts);
    let latency = warp::path!("api" / "v1" / "latency")
        .and(query)
        .and(with_app.clone())
        .and_then(latency::latency);
    let targets = warp::path!("api" / "v1" / "targets")
        .and(with_app.clone())
        .and_then(handlers::targets);
    let api = metrics
        .or(metric)
        .or(history)
        .or(models)
        .or(breakdown)
        .or(series)
        .or(export)
        .or(summary)
        .or(budgets)
        .or(alerts)
        .or(latency)
        .or(targets)
        .boxed();

    let raw = warp::path!("raw")
        .and(with_app.clone())
        .and_then(handlers::raw);
    let health = warp::path!("health")
        .and(with_app.clone())
        .and_then(handlers::health);
    let livez =
        warp::path!("livez").map(|| json_response(StatusCode::OK, &json!({ "status": "ok" })));
    let readyz = warp::path!("readyz")
        .and(with_app.clone())
        .and_then(handlers::readyz);
    let own_metrics = warp::path!("metrics")
        .and(with_app.clone())
        .and_then(handlers::own_metrics);
    let openapi =
        warp::path!("openapi.json").map(|| json_response(StatusCode::OK, &openapi::document()));
    let ops = raw
        .or(health)
        .or(livez)
        .or(readyz)
        .or(own_metrics)
        .or(openapi)
        .boxed();

    // Last: anything that is not an API route may be a dashboard file.
    let assets = warp::path::full()
        .and(if_none_match)
        .and(accept_encoding)
        .and_then(
            |path: warp::path::FullPath, inm: Option<String>, ae: Option<String>| async move {
                let req = crate::dashboard::Conditions {
                    if_none_match: inm.as_deref(),
                    accept_encoding: ae.as_deref(),
                };
                match crate::dashboard::serve(path.as_str(), req) {
                    Ok(Some(resp)) => Ok(resp),
                    Ok(None) => Err(warp::reject::not_found()),
                    Err(e) => Err(ApiError::from(e).into()),
                }
            },
        );

    let routed = get
        .and(authorized(token))
        .and(root.or(api).or(ops).or(assets))
        .map(|reply| Box::new(reply) as Box<dyn Reply>);
    // Preflight requests carry no token, so the CORS layer sits outside the check.
    let routed = match cors {
        Some(cors) => routed
            .with(cors)
            .map(|r| Box::new(r) as Box<dyn Reply>)
            .boxed(),
        None => routed.boxed(),
    };
    routed
        .recover(recover)
        .with(warp::reply::with::headers(security_headers()))
        .with(warp::reply::with::default_header(
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ))
}

/// The one path open without the token: liveness, for the healthcheck
/// subcommand and orchestrators.
const OPEN_PATH: &str = "/livez";

/// Passes when no token is configured, for [`OPEN_PATH`], or when the request
/// carries `Authorization: Bearer <token>`; otherwise rejects with a 401.
fn authorized(token: Option<Arc<str>>) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::path::full()
        .and(warp::header::optional::<String>("authorization"))
        .and_then(
            move |path: warp::path::FullPath, auth: Option<String>| {
                let token = token.clone();
                async move {
                    let Some(token) = token else { return Ok(()) };
                    if path.as_str() == OPEN_PATH {
                        return Ok(());
                    }
                    let given = auth.as_deref().and_then(bearer);
                    if given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
                        Ok(())
                    } else {
                        Err(warp::reject::custom(ApiError {
                            status: StatusCode::UNAUTHORIZED,
                            body: json!({ "error": "missing or wrong API token (send Authorization: Bearer <token>)" }),
                        }))
                    }
                }
            },
        )
        .untuple_one()
}

/// The credentials of an `Authorization: Bearer <credentials>` value (the
/// scheme is case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// Equality whose time depends only on the lengths, not on where the first
/// differing byte is, so the token cannot be guessed byte by byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, x) in a.iter().enumerate() {
        diff |= x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0);
    }
    diff == 0
}

/// The CORS layer for `cors`, or `None` when CORS is off.
fn cors(cors: &Cors) -> Option<warp::cors::Builder> {
    let base = warp::cors()
        .allow_methods(["GET", "HEAD"])
        .allow_headers(["authorization", "if-none-match"])
        .max_age(std::time::Duration::from_secs(600));
    match cors {
        Cors::Off => None,
        Cors::Any => Some(base.allow_any_origin()),
        Cors::Origins(list) => Some(base.allow_origins(list.iter().map(String::as_str))),
    }
}

/// `resp` with the headers every response carries (for the few answered
/// outside [`routes`]).
pub fn with_security_headers(mut resp: Response<Bytes>) -> Response<Bytes> {
    for (name, value) in security_headers() {
        if let Some(name) = name {
            resp.headers_mut().insert(name, value);
        }
    }
    resp
}

/// Headers on every response.
fn security_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
    ] {
        h.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    h
}

/// The one place where errors become responses: every status has a JSON body.
pub async fn recover(err: Rejection) -> Result<Response<Bytes>, Infallible> {
    let (status, body) = if let Some(e) = err.find::<ApiError>() {
        if e.status == StatusCode::UNAUTHORIZED {
            let mut resp = json_response(e.status, &e.body);
            resp.headers_mut()
                .insert("www-authenticate", HeaderValue::from_static("Bearer"));
            return Ok(resp);
        }
        (e.status, e.body.clone())
    } else if err.is_not_found() {
        (StatusCode::NOT_FOUND, json!({ "error": "Not found" }))
    } else if err.find::<warp::reject::MethodNotAllowed>().is_some() {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            json!({ "error": "Method not allowed" }),
        )
    } else if err.find::<warp::filters::cors::CorsForbidden>().is_some() {
        (
            StatusCode::FORBIDDEN,
            json!({ "error": "origin not allowed (see LITELLM_PULSE_CORS_ORIGINS)" }),
        )
    } else if err.find::<warp::reject::InvalidQuery>().is_some() {
        (
            StatusCode::BAD_REQUEST,
            json!({ "error": "Invalid query string" }),
        )
    } else if err.find::<warp::reject::InvalidHeader>().is_some()
        || err.find::<warp::reject::MissingHeader>().is_some()
    {
        (
            StatusCode::BAD_REQUEST,
            json!({ "error": "Invalid request header" }),
        )
    } else {
        tracing::error!("unhandled rejection: {err:?}");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": "Internal error" }),
        )
    };
    Ok(json_response(status, &body))
}

#[cfg(test)]
pub(crate) mod tests;
