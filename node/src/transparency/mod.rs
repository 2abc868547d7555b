//! The public transparency site every node serves on its own port (`[transparency] listen`): who
//! collects what about people, why, for how long, who it shares with, and how well it honours
//! withdrawals; the network's nodes and checkpoints; citizens' rights. HTML for people and the
//! same facts as JSON under `/api/v1/` (documented in docs/transparency.md). Public
//! consultations on collectors' policy versions: the open ones on the front page, one page each
//! (`/consultations/{draft}`), and a collector's page shows the version *in effect* (a draft
//! under consultation is not, until a registrar approves it). A collector's page also counts,
//! apart, the consents assistants and guardians signed in a person's name (in force as checks
//! decide them, from the ledger:
//! [`Ledger::delegated_counts`](crate::ledger::Ledger::delegated_counts)).
//!
//! - [`register`]: the in-memory register built by following the arrival log.
//! - [`view`]: what is published, with the k-anonymity threshold applied in one place.
//! - [`network`]: nodes, operators, checkpoints, fork proofs.
//! - [`html`]: the pages.
//! - [`map`]: the SVG map of a collector's zones (the node's only use of h3o).
//! - [`site`]: what the site reads (ledger, register, network) and what it keeps in memory.
//! - [`pages`]: the handlers of the HTML pages; [`json`]: those of the JSON API.
//!
//! This module holds the routes, the limits every request is served within, and what a request
//! names (ids in paths, `?page=N`).

pub(crate) mod html;
mod json;
pub(crate) mod map;
pub(crate) mod network;
mod pages;
pub(crate) mod register;
mod site;
pub(crate) mod view;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use consent_proto::ids::{EntryId, FeedId, TypedFeedId};
use consent_proto::vocab::Role;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use json::{
    collector_json, collectors_json, consultation_json, consultations_json, json_error,
    network_json, vocabulary_json,
};
use pages::{
    api_page, collector_page, consultation_page, css, html_error, map_svg, network_page,
    register_page, rights_page,
};
pub(crate) use site::Site;

/// Requests served at once; more are answered 503 at once rather than queued.
const MAX_CONCURRENT: usize = 64;
/// Connections open at once (more wait unaccepted), and how long a client has to send its
/// request's headers: see [`crate::http`].
pub(crate) const HTTP_LIMITS: crate::http::Limits = crate::http::Limits {
    max_connections: 256,
    header_read_timeout: Duration::from_secs(10),
};
/// Longest collector id text accepted in a path.
const MAX_ID_CHARS: usize = 100;
/// Collectors on one page of the register (`/?page=N`, `/api/v1/collectors?page=N`).
pub(crate) const PAGE_SIZE: usize = 50;
/// Consultations on the front page and on one page of `/api/v1/consultations`.
pub(crate) const CONSULTATIONS_PAGE: usize = 20;
/// Highest `?page=N` of `/api/v1/consultations` (the node reads the pages before it).
pub(crate) const MAX_CONSULTATION_PAGES: usize = 50;

/// Serves the site on `listener` until `cancel`.
pub(crate) async fn serve(
    listener: TcpListener,
    site: Arc<Site>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let limit = Arc::new(Semaphore::new(MAX_CONCURRENT));
    let app = axum::Router::new()
        .route("/", get(register_page))
        .route("/collectors/{id}", get(collector_page))
        .route("/collectors/{id}/map.svg", get(map_svg))
        .route("/consultations/{draft}", get(consultation_page))
        .route("/network", get(network_page))
        .route("/rights", get(rights_page))
        .route("/api", get(api_page))
        .route("/style.css", get(css))
        .route("/api/v1/collectors", get(collectors_json))
        .route("/api/v1/collectors/{id}", get(collector_json))
        .route("/api/v1/consultations", get(consultations_json))
        .route("/api/v1/consultations/{draft}", get(consultation_json))
        .route("/api/v1/network", get(network_json))
        .route("/api/v1/vocabulary", get(vocabulary_json))
        .fallback(not_found)
        .with_state(site)
        .layer(axum::middleware::from_fn_with_state(limit, bounded));
    crate::http::serve(listener, app, HTTP_LIMITS, cancel).await
}

/// Serves a request while fewer than `limit`'s permits are in use (else `503 busy` at once, not
/// queued), within 10 s (else `503 timed out`), with the site's security headers.
async fn bounded(State(limit): State<Arc<Semaphore>>, req: Request, next: Next) -> Response {
    let Ok(_permit) = limit.try_acquire() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "busy: try again in a moment",
        )
            .into_response();
    };
    let mut response = match tokio::time::timeout(Duration::from_secs(10), next.run(req)).await {
        Ok(r) => r,
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "timed out").into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    response
}

type S = State<Arc<Site>>;

/// A collector id from a path: a `col1…` id.
fn collector_id(text: &str) -> Result<FeedId, String> {
    if text.len() > MAX_ID_CHARS {
        return Err("that is not a collector id (too long)".into());
    }
    match text.parse::<TypedFeedId>() {
        Ok(t) if t.role == Role::Collector => Ok(t.id),
        Ok(_) => Err("that id is not a collector's (collector ids start with col1)".into()),
        Err(e) => Err(format!("that is not a collector id: {e}")),
    }
}

/// A policy version's id from a path: an `ent1…` id.
fn draft_id(text: &str) -> Result<EntryId, String> {
    if text.len() > MAX_ID_CHARS {
        return Err("that is not an entry id (too long)".into());
    }
    text.parse::<EntryId>()
        .map_err(|e| format!("that is not an entry id (ent1…): {e}"))
}

/// `?page=N` (from 1; absent: 1).
#[derive(Debug, serde::Deserialize)]
struct PageQuery {
    page: Option<usize>,
}

async fn not_found(State(site): S, request: Request) -> Response {
    if request.uri().path().starts_with("/api/") {
        return json_error(StatusCode::NOT_FOUND, "no such endpoint; see /api");
    }
    html_error(
        &site,
        StatusCode::NOT_FOUND,
        "There is no page at this address.",
    )
}

#[cfg(test)]
mod tests {
    use hyper::service::Service as _;
    use hyper_util::service::TowerToHyperService;
    use tokio::sync::Notify;

    use super::*;

    /// With every permit taken, one more request is answered 503 at once instead of waiting;
    /// the request being served is answered when it ends, with the security headers.
    #[tokio::test]
    async fn a_request_over_the_limit_is_answered_busy_at_once() {
        let (entered, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let handler = {
            let (entered, release) = (Arc::clone(&entered), Arc::clone(&release));
            move || {
                let (entered, release) = (Arc::clone(&entered), Arc::clone(&release));
                async move {
                    entered.notify_one();
                    release.notified().await;
                    "done"
                }
            }
        };
        let app = axum::Router::new().route("/slow", get(handler)).layer(
            axum::middleware::from_fn_with_state(Arc::new(Semaphore::new(1)), bounded),
        );
        let service = TowerToHyperService::new(app);
        let request = || {
            axum::http::Request::get("/slow")
                .body(axum::body::Body::empty())
                .expect("a request")
        };
        let first = tokio::spawn(service.call(request()));
        tokio::time::timeout(Duration::from_secs(10), entered.notified())
            .await
            .expect("the first request is being served");
        let busy = tokio::time::timeout(Duration::from_secs(10), service.call(request()))
            .await
            .expect("answered without waiting")
            .expect("a response");
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        release.notify_one();
        let served = first.await.expect("task").expect("a response");
        assert_eq!(served.status(), StatusCode::OK);
        assert!(
            served
                .headers()
                .contains_key(header::CONTENT_SECURITY_POLICY)
        );
    }
}
