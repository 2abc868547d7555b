//! The handlers of the JSON API (`/api/v1/`): collectors, one collector, consultations, one
//! consultation, the network and the vocabulary, each in the envelope that says how to read it
//! (network, threshold, time, whether the node has read its whole log).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::site::{Site, collectors_page, consultation_of};
use super::view::{self, Vocabulary};
use super::{MAX_CONSULTATION_PAGES, PageQuery, S, collector_id, draft_id};

pub(super) fn json_error(status: StatusCode, what: &str) -> Response {
    (status, Json(serde_json::json!({ "error": what }))).into_response()
}

/// Whether the register had read the whole log, taken **before** the data is read: `complete`
/// then holds for the data too (the register only moves forward). Taken after, it could call
/// complete data read while the register was still empty (a start reading the log).
#[derive(Clone, Copy)]
struct Complete(bool);

impl Complete {
    fn now(site: &Site) -> Complete {
        Complete(site.frame().catching_up.is_none())
    }
}

/// The JSON envelope: the data, with what a reader needs to interpret it.
fn envelope(site: &Site, complete: Complete, key: &str, data: impl serde::Serialize) -> Response {
    Json(envelope_value(site, complete, key, data)).into_response()
}

fn envelope_value(
    site: &Site,
    complete: Complete,
    key: &str,
    data: impl serde::Serialize,
) -> serde_json::Value {
    serde_json::json!({
        "network_id": site.network.network_id,
        "k_threshold": site.k,
        "generated_at": view::date(site.ledger.now_ms()),
        "complete": complete.0,
        key: data,
    })
}

pub(super) async fn collectors_json(State(site): S, Query(q): Query<PageQuery>) -> Response {
    let complete = Complete::now(&site);
    let Some((collectors, paging)) = collectors_page(&site, q.page).await else {
        return json_error(StatusCode::SERVICE_UNAVAILABLE, "the node is stopping");
    };
    let mut body = envelope_value(&site, complete, "collectors", collectors);
    body["page"] = serde_json::json!(paging.page);
    body["pages"] = serde_json::json!(paging.pages);
    body["collectors_total"] = serde_json::json!(paging.total);
    Json(body).into_response()
}

pub(super) async fn collector_json(State(site): S, Path(id): Path<String>) -> Response {
    let feed = match collector_id(&id) {
        Ok(f) => f,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &e),
    };
    let complete = Complete::now(&site);
    match site.collector(&feed).await {
        Ok(Some(c)) => envelope(&site, complete, "collector", c),
        Ok(None) => json_error(StatusCode::NOT_FOUND, "no collector with this id"),
        Err(e) => {
            tracing::error!(error = %e, "transparency: cannot read answer times");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the node cannot read its store",
            )
        }
    }
}

/// `?open=1&collector=col1…&page=N` (all optional).
#[derive(Debug, serde::Deserialize)]
pub(super) struct ConsultationsQuery {
    open: Option<String>,
    collector: Option<String>,
    page: Option<usize>,
}

pub(super) async fn consultations_json(
    State(site): S,
    Query(q): Query<ConsultationsQuery>,
) -> Response {
    let open_only = match q.open.as_deref() {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") => true,
        Some(_) => return json_error(StatusCode::BAD_REQUEST, "open is 1 or 0"),
    };
    let collector = match q.collector.as_deref().map(collector_id).transpose() {
        Ok(c) => c,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &e),
    };
    let page = q.page.unwrap_or(1).max(1);
    if page > MAX_CONSULTATION_PAGES {
        return json_error(
            StatusCode::BAD_REQUEST,
            &format!("page is at most {MAX_CONSULTATION_PAGES}; narrow the list with collector="),
        );
    }
    let s = Arc::clone(&site);
    let complete = Complete::now(&site);
    match tokio::task::spawn_blocking(move || s.consultations(collector, open_only, page)).await {
        Ok(Ok((listed, more))) => {
            let mut body = envelope_value(&site, complete, "consultations", listed);
            body["page"] = serde_json::json!(page);
            body["more"] = serde_json::json!(more);
            body["note"] = serde_json::json!(view::COUNTS_ARE_SIGNALS);
            Json(body).into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "transparency: cannot read the consultations");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the node cannot read its store",
            )
        }
        Err(_) => json_error(StatusCode::SERVICE_UNAVAILABLE, "the node is stopping"),
    }
}

pub(super) async fn consultation_json(State(site): S, Path(id): Path<String>) -> Response {
    let draft = match draft_id(&id) {
        Ok(d) => d,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &e),
    };
    let complete = Complete::now(&site);
    match consultation_of(&site, draft).await {
        Ok(Some(c)) => envelope(&site, complete, "consultation", c),
        Ok(None) => json_error(
            StatusCode::NOT_FOUND,
            "no policy version with this id was put to consultation",
        ),
        Err(e) => {
            tracing::error!(error = %e, "transparency: cannot read a consultation");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the node cannot read its store",
            )
        }
    }
}

pub(super) async fn network_json(State(site): S) -> Response {
    let complete = Complete::now(&site);
    envelope(
        &site,
        complete,
        "network",
        site.network.view(&site.register, site.k).await,
    )
}

pub(super) async fn vocabulary_json(State(site): S) -> Response {
    envelope(
        &site,
        Complete::now(&site),
        "vocabulary",
        Vocabulary::current(),
    )
}
