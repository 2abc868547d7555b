//! The handlers of the HTML pages: the register, a collector's page and its zone map, a
//! consultation's page, the network, "your rights", the API's description and the stylesheet;
//! and how a page or an error page is answered.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::Markup;

use super::site::{Site, collectors_page, consultation_of};
use super::view::Vocabulary;
use super::{PageQuery, S, collector_id, draft_id, html};

fn page(markup: Markup) -> Response {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        axum::response::Html(markup.into_string()),
    )
        .into_response()
}

pub(super) fn html_error(site: &Site, status: StatusCode, what: &str) -> Response {
    let mut r = page(html::not_found(&site.frame(), what));
    *r.status_mut() = status;
    r
}

pub(super) async fn register_page(State(site): S, Query(q): Query<PageQuery>) -> Response {
    // Whether the register is complete, taken before it is read (see json.rs `Complete`).
    let frame = site.frame();
    let Some((collectors, paging)) = collectors_page(&site, q.page).await else {
        return html_error(
            &site,
            StatusCode::SERVICE_UNAVAILABLE,
            "The node is stopping.",
        );
    };
    // The open consultations, on the first page only.
    let open = if paging.page == 1 {
        let s = Arc::clone(&site);
        match tokio::task::spawn_blocking(move || s.consultations(None, true, 1)).await {
            Ok(Ok((open, _))) => open,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "transparency: cannot read the consultations");
                Vec::new()
            }
            Err(_) => Vec::new(),
        }
    } else {
        Vec::new()
    };
    page(html::register(&frame, &collectors, paging, &open))
}

pub(super) async fn consultation_page(State(site): S, Path(id): Path<String>) -> Response {
    let draft = match draft_id(&id) {
        Ok(d) => d,
        Err(e) => return html_error(&site, StatusCode::BAD_REQUEST, &e),
    };
    let frame = site.frame();
    match consultation_of(&site, draft).await {
        Ok(Some(c)) => page(html::consultation(&frame, &c)),
        Ok(None) => html_error(
            &site,
            StatusCode::NOT_FOUND,
            "No policy version with this id was put to public consultation on this network.",
        ),
        Err(e) => {
            tracing::error!(error = %e, "transparency: cannot read a consultation");
            html_error(
                &site,
                StatusCode::INTERNAL_SERVER_ERROR,
                "The node cannot read its store.",
            )
        }
    }
}

pub(super) async fn collector_page(State(site): S, Path(id): Path<String>) -> Response {
    let feed = match collector_id(&id) {
        Ok(f) => f,
        Err(e) => return html_error(&site, StatusCode::BAD_REQUEST, &e),
    };
    let frame = site.frame();
    match site.collector(&feed).await {
        Ok(Some(c)) => page(html::collector(&frame, &c)),
        Ok(None) => html_error(
            &site,
            StatusCode::NOT_FOUND,
            "No collector with this id is registered on this network.",
        ),
        Err(e) => {
            tracing::error!(error = %e, "transparency: cannot read answer times");
            html_error(
                &site,
                StatusCode::INTERNAL_SERVER_ERROR,
                "The node cannot read its store.",
            )
        }
    }
}

pub(super) async fn map_svg(State(site): S, Path(id): Path<String>) -> Response {
    let feed = match collector_id(&id) {
        Ok(f) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
    };
    // At most 512 cells, drawn once then kept; off the async threads (the policy in effect may
    // be read from the store).
    let s = Arc::clone(&site);
    match tokio::task::spawn_blocking(move || s.zone_map(&feed))
        .await
        .ok()
        .flatten()
    {
        Some(svg) => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, "max-age=60"),
            ],
            svg.to_string(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "no map: this collector is not registered or its policy declares no zone",
        )
            .into_response(),
    }
}

pub(super) async fn network_page(State(site): S) -> Response {
    let frame = site.frame();
    page(html::network(
        &frame,
        &site.network.view(&site.register, site.k).await,
    ))
}

pub(super) async fn rights_page(State(site): S) -> Response {
    page(html::rights(&site.frame(), &Vocabulary::current()))
}

pub(super) async fn api_page(State(site): S) -> Response {
    page(html::api(&site.frame()))
}

pub(super) async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        html::CSS,
    )
        .into_response()
}
