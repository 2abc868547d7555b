//! The public transparency site every node serves on its own port (`[transparency] listen`): who
//! collects what about people, why, for how long, who it shares with, and how well it honours
//! withdrawals; the network's nodes and checkpoints; citizens' rights. HTML for people and the
//! same facts as JSON under `/api/v1/` (documented in docs/transparency.md). Public
//! consultations on collectors' policy versions: the open ones on the front page, one page each
//! (`/consultations/{draft}`), and a collector's page shows the version *in effect* (a draft
//! under consultation is not, until a registrar approves it). A collector's page also counts,
//! apart, the consents assistants and guardians signed in a person's name (in force as checks
//! decide them, from the ledger: [`Ledger::delegated_counts`]).
//!
//! - [`register`]: the in-memory register built by following the arrival log.
//! - [`view`]: what is published, with the k-anonymity threshold applied in one place.
//! - [`network`]: nodes, operators, checkpoints, fork proofs.
//! - [`html`]: the pages.
//! - [`map`]: the SVG map of a collector's zones (the node's only use of h3o).

pub(crate) mod html;
pub(crate) mod map;
pub(crate) mod network;
pub(crate) mod register;
pub(crate) mod view;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use consent_proto::ids::{EntryId, FeedId, TypedFeedId};
use consent_proto::vocab::Role;
use maud::Markup;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::ledger::{ANSWER_DEADLINE, AnswerStats, ConsultationFilter, Ledger, LedgerError};
use html::Frame;
use view::{
    ChangeView, CollectorFacts, CollectorView, ConsultationSummaryView, ConsultationView,
    DelegatedView, Vocabulary,
};

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

/// What the site reads.
pub(crate) struct Site {
    /// The ledger (answer times).
    pub ledger: Ledger,
    /// The register.
    pub register: register::Shared,
    /// Network facts.
    pub network: network::Sources,
    /// Counts below this are published as "< k".
    pub k: u64,
    /// Answer times by collector, recomputed at most every [`ANSWERS_FRESH`].
    answers: std::sync::Mutex<HashMap<FeedId, (Instant, AnswerStats)>>,
    /// Delegated consents by collector, recomputed at most every [`ANSWERS_FRESH`].
    delegated: std::sync::Mutex<HashMap<FeedId, (Instant, DelegatedView)>>,
    /// Zone maps by policy entry (a policy never changes, so neither does its map).
    maps: std::sync::Mutex<HashMap<EntryId, Arc<str>>>,
    /// The first changes of each consultation listed (signed entries never change).
    headlines: std::sync::Mutex<HashMap<EntryId, Arc<[ChangeView]>>>,
}

/// How long a collector's answer times and delegated consents are served from memory (reading
/// them costs store reads).
const ANSWERS_FRESH: Duration = Duration::from_secs(10);
/// Collectors whose answer times (and, apart, delegated consents) are kept in memory at once.
const ANSWERS_KEPT: usize = 10_000;
/// Zone maps kept in memory at once (each at most ~100 KiB: 512 cells).
const MAPS_KEPT: usize = 256;
/// Consultations whose first changes are kept in memory at once (three sentences each).
const HEADLINES_KEPT: usize = 4096;

impl Site {
    /// Starts following the log into a fresh register (a background task until `cancel`).
    pub(crate) fn start(
        ledger: Ledger,
        network: network::Sources,
        k: u64,
        cancel: CancellationToken,
    ) -> Arc<Site> {
        let register = Arc::new(std::sync::RwLock::new(register::Register::new(
            ledger.registrars().clone(),
        )));
        tokio::spawn(register::follow(ledger.clone(), register.clone(), cancel));
        Arc::new(Site {
            ledger,
            register,
            network,
            k,
            answers: Default::default(),
            delegated: Default::default(),
            maps: Default::default(),
            headlines: Default::default(),
        })
    }

    /// The collector's policy version in effect now (and the one before), for its register
    /// entry; `None` when none is (a read error is logged). Blocking.
    fn current(&self, collector: &register::Collector) -> Option<register::Current> {
        register::current_policy(&self.ledger, collector, self.ledger.now_ms())
            .inspect_err(|e| tracing::error!(error = %e, "transparency: cannot read a policy"))
            .ok()
            .flatten()
    }

    /// The SVG map of the zones of `feed`'s policy in effect; `None` if it declares no zone (or
    /// is not registered). Blocking (may read the policy from the store).
    pub(crate) fn zone_map(&self, feed: &FeedId) -> Option<Arc<str>> {
        let (id, scope, name) = {
            let register = self.register.read().ok()?;
            let current = self.current(register.collectors.get(feed)?)?.version;
            let scope = current.policy.scope.as_ref()?;
            if scope.zones.is_empty() {
                return None;
            }
            if let Ok(kept) = self.maps.lock()
                && let Some(map) = kept.get(&current.id)
            {
                return Some(Arc::clone(map));
            }
            (current.id, scope.clone(), current.policy.name.clone())
        };
        let map: Arc<str> = Arc::from(map::svg(&scope, &name));
        if let Ok(mut kept) = self.maps.lock() {
            if kept.len() >= MAPS_KEPT {
                kept.clear();
            }
            kept.insert(id, Arc::clone(&map));
        }
        Some(map)
    }

    fn names(&self) -> &BTreeMap<String, String> {
        &self.network.names
    }

    fn frame(&self) -> Frame<'_> {
        let read = self.register.read().map(|r| r.read_to).unwrap_or(0);
        let total = self.ledger.stats().log_size;
        Frame {
            network_id: &self.network.network_id,
            k: self.k,
            catching_up: (read < total).then_some((read, total)),
        }
    }

    /// Whether the feed is frozen. Blocking (a store read).
    fn frozen(&self, feed: &FeedId) -> bool {
        matches!(self.ledger.head(feed), Ok(Some(state)) if state.frozen)
    }

    /// Page `page` (from 1) of the collectors, [`PAGE_SIZE`] to a page: named ones first (by
    /// name), then by id. Blocking: it reads whether each listed collector's feed is frozen
    /// (the handlers call it on a blocking thread: `collectors_page`).
    pub(crate) fn collectors(&self, page: usize) -> (Vec<CollectorView>, html::Paging) {
        let now = self.ledger.now_ms();
        let page = page.max(1);
        let Ok(register) = self.register.read() else {
            return (
                Vec::new(),
                html::Paging {
                    page,
                    pages: 1,
                    total: 0,
                },
            );
        };
        let (listed, total) = register.page(page - 1, PAGE_SIZE);
        let views = listed
            .into_iter()
            .map(|(feed, collector)| {
                CollectorFacts {
                    feed,
                    collector,
                    now_ms: now,
                    k: self.k,
                    names: self.names(),
                    frozen: self.frozen(&feed),
                    current: self.current(collector),
                }
                .summary()
            })
            .collect();
        let paging = html::Paging {
            page,
            pages: total.div_ceil(PAGE_SIZE).max(1),
            total,
        };
        (views, paging)
    }

    /// A collector's answer times: from memory when fresh, else read from the store (off the
    /// async threads).
    async fn answers(self: &Arc<Self>, feed: FeedId) -> Result<AnswerStats, String> {
        if let Ok(kept) = self.answers.lock()
            && let Some((at, stats)) = kept.get(&feed)
            && at.elapsed() < ANSWERS_FRESH
        {
            return Ok(stats.clone());
        }
        let (site, now) = (self.clone(), self.ledger.now_ms());
        let stats = tokio::task::spawn_blocking(move || site.ledger.answer_stats(&feed, now))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        if let Ok(mut kept) = self.answers.lock() {
            if kept.len() >= ANSWERS_KEPT {
                kept.clear();
            }
            kept.insert(feed, (Instant::now(), stats.clone()));
        }
        Ok(stats)
    }

    /// A collector's consents signed by delegates (the ledger's count of its delegated grants,
    /// in force as the decision rule says at now): from memory when fresh, else read from the
    /// store (off the async threads).
    async fn delegated(self: &Arc<Self>, feed: FeedId) -> Result<DelegatedView, String> {
        if let Ok(kept) = self.delegated.lock()
            && let Some((at, view)) = kept.get(&feed)
            && at.elapsed() < ANSWERS_FRESH
        {
            return Ok(*view);
        }
        let (site, now) = (self.clone(), self.ledger.now_ms());
        let counts = tokio::task::spawn_blocking(move || site.ledger.delegated_counts(&feed, now))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let view = view::delegated_view(counts.assistant, counts.guardian, self.k);
        if let Ok(mut kept) = self.delegated.lock() {
            if kept.len() >= ANSWERS_KEPT {
                kept.clear();
            }
            kept.insert(feed, (Instant::now(), view));
        }
        Ok(view)
    }

    /// One collector with its answer times, delegated consents and policy history; `None` if not
    /// registered.
    pub(crate) async fn collector(
        self: &Arc<Self>,
        feed: &FeedId,
    ) -> Result<Option<CollectorView>, String> {
        let now = self.ledger.now_ms();
        let Some(ids) = self.register.read().ok().and_then(|r| {
            r.collectors
                .get(feed)
                .map(|c| c.policy_ids.iter().copied().collect::<Vec<_>>())
        }) else {
            return Ok(None);
        };
        let answers = self.answers(*feed).await?;
        let delegated = self.delegated(*feed).await?;
        // Its policy history beyond what the register keeps in memory, whether its feed is
        // frozen, and the version in effect, from the store.
        let (site, feed) = (self.clone(), *feed);
        tokio::task::spawn_blocking(move || -> Result<Option<CollectorView>, String> {
            let frozen = site.frozen(&feed);
            let history = register::read_policies(&site.ledger, &ids).map_err(|e| e.to_string())?;
            let register = site.register.read().map_err(|e| e.to_string())?;
            Ok(register.collectors.get(&feed).map(|collector| {
                let mut view = CollectorFacts {
                    feed,
                    collector,
                    now_ms: now,
                    k: site.k,
                    names: site.names(),
                    frozen,
                    current: site.current(collector),
                }
                .detail(&answers, ANSWER_DEADLINE, &history);
                view.delegated = Some(delegated);
                view
            }))
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// The first changes of consultation `draft`, from memory once read. Blocking.
    fn headline(&self, draft: &EntryId, now_ms: u64) -> Result<Vec<ChangeView>, LedgerError> {
        if let Ok(kept) = self.headlines.lock()
            && let Some(h) = kept.get(draft)
        {
            return Ok(h.to_vec());
        }
        let Some(read) = self.ledger.consultation(draft, now_ms)? else {
            return Ok(Vec::new());
        };
        let headline: Arc<[ChangeView]> =
            view::consultation_view(&read, now_ms, self.k, self.names())
                .map(|v| v.summary.changes)
                .unwrap_or_default()
                .into();
        if let Ok(mut kept) = self.headlines.lock() {
            if kept.len() >= HEADLINES_KEPT {
                kept.clear();
            }
            kept.insert(*draft, Arc::clone(&headline));
        }
        Ok(headline.to_vec())
    }

    /// Page `page` (from 1, at most [`MAX_CONSULTATION_PAGES`]) of the consultations:
    /// `open_only` those open now (closing first), else all (of `collector`: oldest first; of
    /// every collector: closing first), and whether more follow. Blocking.
    pub(crate) fn consultations(
        &self,
        collector: Option<FeedId>,
        open_only: bool,
        page: usize,
    ) -> Result<(Vec<ConsultationSummaryView>, bool), LedgerError> {
        let now = self.ledger.now_ms();
        let mut filter = ConsultationFilter {
            collector,
            open_only,
            after: None,
            limit: CONSULTATIONS_PAGE,
        };
        for _ in 1..page.clamp(1, MAX_CONSULTATION_PAGES) {
            match self.ledger.consultations(&filter, now)?.1 {
                Some(after) => filter.after = Some(after),
                None => return Ok((Vec::new(), false)),
            }
        }
        let (listed, next) = self.ledger.consultations(&filter, now)?;
        let mut views = Vec::with_capacity(listed.len());
        for s in &listed {
            let changes = self.headline(&s.facts.id, now)?;
            views.push(view::consultation_summary(s, changes, now, self.k));
        }
        Ok((views, next.is_some()))
    }

    /// One consultation in full; `None` if `draft` is not a policy version put to consultation.
    /// Blocking.
    pub(crate) fn consultation(
        &self,
        draft: &EntryId,
    ) -> Result<Option<ConsultationView>, LedgerError> {
        let now = self.ledger.now_ms();
        Ok(self
            .ledger
            .consultation(draft, now)?
            .and_then(|read| view::consultation_view(&read, now, self.k, self.names())))
    }
}

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

fn page(markup: Markup) -> Response {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        axum::response::Html(markup.into_string()),
    )
        .into_response()
}

fn html_error(site: &Site, status: StatusCode, what: &str) -> Response {
    let mut r = page(html::not_found(&site.frame(), what));
    *r.status_mut() = status;
    r
}

fn json_error(status: StatusCode, what: &str) -> Response {
    (status, Json(serde_json::json!({ "error": what }))).into_response()
}

/// `?page=N` (from 1; absent: 1).
#[derive(Debug, serde::Deserialize)]
struct PageQuery {
    page: Option<usize>,
}

/// [`Site::collectors`] on a blocking thread; `None` if the node is stopping.
async fn collectors_page(
    site: &Arc<Site>,
    page: Option<usize>,
) -> Option<(Vec<CollectorView>, html::Paging)> {
    let site = Arc::clone(site);
    tokio::task::spawn_blocking(move || site.collectors(page.unwrap_or(1)))
        .await
        .ok()
}

async fn register_page(State(site): S, Query(q): Query<PageQuery>) -> Response {
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
    page(html::register(&site.frame(), &collectors, paging, &open))
}

/// [`Site::consultation`] on a blocking thread.
async fn consultation_of(
    site: &Arc<Site>,
    draft: EntryId,
) -> Result<Option<ConsultationView>, String> {
    let site = Arc::clone(site);
    tokio::task::spawn_blocking(move || site.consultation(&draft))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

async fn consultation_page(State(site): S, Path(id): Path<String>) -> Response {
    let draft = match draft_id(&id) {
        Ok(d) => d,
        Err(e) => return html_error(&site, StatusCode::BAD_REQUEST, &e),
    };
    match consultation_of(&site, draft).await {
        Ok(Some(c)) => page(html::consultation(&site.frame(), &c)),
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

async fn collector_page(State(site): S, Path(id): Path<String>) -> Response {
    let feed = match collector_id(&id) {
        Ok(f) => f,
        Err(e) => return html_error(&site, StatusCode::BAD_REQUEST, &e),
    };
    match site.collector(&feed).await {
        Ok(Some(c)) => page(html::collector(&site.frame(), &c)),
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

async fn map_svg(State(site): S, Path(id): Path<String>) -> Response {
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

async fn network_page(State(site): S) -> Response {
    page(html::network(
        &site.frame(),
        &site.network.view(&site.register, site.k).await,
    ))
}

async fn rights_page(State(site): S) -> Response {
    page(html::rights(&site.frame(), &Vocabulary::current()))
}

async fn api_page(State(site): S) -> Response {
    page(html::api(&site.frame()))
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        html::CSS,
    )
        .into_response()
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

/// The JSON envelope: the data, with what a reader needs to interpret it.
fn envelope(site: &Site, key: &str, data: impl serde::Serialize) -> Response {
    Json(envelope_value(site, key, data)).into_response()
}

fn envelope_value(site: &Site, key: &str, data: impl serde::Serialize) -> serde_json::Value {
    let frame = site.frame();
    serde_json::json!({
        "network_id": site.network.network_id,
        "k_threshold": site.k,
        "generated_at": view::date(site.ledger.now_ms()),
        "complete": frame.catching_up.is_none(),
        key: data,
    })
}

async fn collectors_json(State(site): S, Query(q): Query<PageQuery>) -> Response {
    let Some((collectors, paging)) = collectors_page(&site, q.page).await else {
        return json_error(StatusCode::SERVICE_UNAVAILABLE, "the node is stopping");
    };
    let mut body = envelope_value(&site, "collectors", collectors);
    body["page"] = serde_json::json!(paging.page);
    body["pages"] = serde_json::json!(paging.pages);
    body["collectors_total"] = serde_json::json!(paging.total);
    Json(body).into_response()
}

async fn collector_json(State(site): S, Path(id): Path<String>) -> Response {
    let feed = match collector_id(&id) {
        Ok(f) => f,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &e),
    };
    match site.collector(&feed).await {
        Ok(Some(c)) => envelope(&site, "collector", c),
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
struct ConsultationsQuery {
    open: Option<String>,
    collector: Option<String>,
    page: Option<usize>,
}

async fn consultations_json(State(site): S, Query(q): Query<ConsultationsQuery>) -> Response {
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
    match tokio::task::spawn_blocking(move || s.consultations(collector, open_only, page)).await {
        Ok(Ok((listed, more))) => {
            let mut body = envelope_value(&site, "consultations", listed);
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

async fn consultation_json(State(site): S, Path(id): Path<String>) -> Response {
    let draft = match draft_id(&id) {
        Ok(d) => d,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &e),
    };
    match consultation_of(&site, draft).await {
        Ok(Some(c)) => envelope(&site, "consultation", c),
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

async fn network_json(State(site): S) -> Response {
    envelope(
        &site,
        "network",
        site.network.view(&site.register, site.k).await,
    )
}

async fn vocabulary_json(State(site): S) -> Response {
    envelope(&site, "vocabulary", Vocabulary::current())
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
