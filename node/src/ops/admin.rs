//! Admin calls: what changes the node's running configuration or shows more than the public API.
//! Served under `/admin/` on the operations listener (the one `/metrics` uses, loopback by
//! default). They are answered only to loopback clients, wherever the listener is bound: the
//! listener speaks plain HTTP, so a call from another host would carry its token, and get its
//! answer, readable on the way. From another host, call through a TLS-terminating proxy on
//! this host. With `[admin] token_file` set, every call also needs
//! `Authorization: Bearer <token>`; behind a proxy on the same host every call comes from
//! loopback, so the loopback rule then admits whoever the proxy admits: set a token there.
//!
//! Every call must also name, in `Host`, a loopback address (`localhost`, `127.0.0.1`, `[::1]`,
//! any port) or the address it connected to, so a web page whose name was made to resolve to
//! this host (DNS rebinding) cannot call; and a POST a browser sends from a page of another origin
//! (`Origin` or, without it, `Referer` naming another host; `Sec-Fetch-Site` other than
//! `same-origin` or `none`) is refused (cross-site request forgery). Clients such as curl send
//! none of these headers.
//!
//! - `GET  /admin/peers`: connected peers with addresses, lag, offences and scores, the number
//!   banned, and the peers blocked here.
//! - `POST /admin/peers/{peer_id}/block`: cut a peer off until unblocked (or the node restarts).
//! - `POST /admin/peers/{peer_id}/unblock`: let a blocked or banned peer connect again.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{ConnectInfo, Path as UrlPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use libp2p::PeerId;
use serde_json::json;
use zeroize::Zeroizing;

use crate::http::LocalAddr;
use crate::p2p::P2pHandle;

/// Shortest token accepted (characters).
pub(crate) const MIN_TOKEN_CHARS: usize = 32;
/// Largest token file read.
const MAX_TOKEN_BYTES: u64 = 4096;
/// Longest peer id text accepted in a path.
const MAX_PEER_ID_CHARS: usize = 100;

/// Who may call (always from loopback).
#[derive(Clone)]
pub enum Access {
    /// Any loopback client.
    LoopbackOnly,
    /// Loopback clients presenting the token (its BLAKE3 hash is kept, compared in constant
    /// time).
    Token(blake3::Hash),
}

/// Why `[admin] token_file` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// The file cannot be read.
    #[error("admin token file {}: {source}", .path.display())]
    Unreadable {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is larger than a token file may be.
    #[error("admin token file {} is {len} bytes; the limit is 4 KiB", .path.display())]
    TooLarge {
        /// The file.
        path: std::path::PathBuf,
        /// Its size.
        len: u64,
    },
    /// The file does not hold one token of the minimum length.
    #[error(
        "admin token file {} must hold one token of at least {MIN_TOKEN_CHARS} characters and no spaces (e.g. `openssl rand -hex 32`)",
        .path.display()
    )]
    NotOneToken {
        /// The file.
        path: std::path::PathBuf,
    },
}

impl Access {
    /// From `[admin] token_file`: a file holding one token of at least 32 characters.
    pub fn from_token_file(path: Option<&Path>) -> Result<Access, TokenFileError> {
        let Some(path) = path else {
            return Ok(Access::LoopbackOnly);
        };
        let unreadable = |source| TokenFileError::Unreadable {
            path: path.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(path).map_err(unreadable)?.len();
        if len > MAX_TOKEN_BYTES {
            return Err(TokenFileError::TooLarge {
                path: path.to_path_buf(),
                len,
            });
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(unreadable)?);
        let token = text.trim();
        if token.chars().count() < MIN_TOKEN_CHARS || token.chars().any(char::is_whitespace) {
            return Err(TokenFileError::NotOneToken {
                path: path.to_path_buf(),
            });
        }
        Ok(Access::Token(blake3::hash(token.as_bytes())))
    }

    /// Whether a caller at `from` presenting `authorization` may call.
    fn allows(&self, from: SocketAddr, authorization: Option<&str>) -> Result<(), Refusal> {
        if !from.ip().to_canonical().is_loopback() {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "admin calls are answered only to loopback clients: this listener speaks plain \
                 HTTP. From another host, call through a TLS-terminating proxy on this host \
                 (docs/operators.md, \"Admin calls\")",
            ));
        }
        match self {
            Access::LoopbackOnly => Ok(()),
            Access::Token(expected) => {
                let given = authorization
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(|t| blake3::hash(t.trim().as_bytes()));
                // blake3::Hash compares in constant time.
                match given {
                    Some(h) if h == *expected => Ok(()),
                    _ => Err(refuse(
                        StatusCode::UNAUTHORIZED,
                        "admin calls need Authorization: Bearer <the token in [admin] token_file>",
                    )),
                }
            }
        }
    }
}

/// Whether `host` (a `Host` value, or the host of an origin: `name[:port]`) names a loopback
/// address, or the address `local` the call connected to.
fn host_allowed(host: &str, local: Option<SocketAddr>) -> bool {
    let host = host.trim().to_ascii_lowercase();
    let (name, port) = match host.strip_prefix('[') {
        // [v6] or [v6]:port
        Some(rest) => match rest.split_once(']') {
            Some((name, "")) => (name, None),
            Some((name, port)) => match port.strip_prefix(':').map(str::parse::<u16>) {
                Some(Ok(port)) => (name, Some(port)),
                _ => return false,
            },
            None => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, port)) => match port.parse::<u16>() {
                Ok(port) => (name, Some(port)),
                Err(_) => return false,
            },
            None => (host.as_str(), None),
        },
    };
    if name == "localhost" {
        return true;
    }
    let Ok(ip) = name.parse::<std::net::IpAddr>() else {
        return false;
    };
    ip.is_loopback()
        || local.is_some_and(|local| local.ip() == ip && port.is_none_or(|p| p == local.port()))
}

/// The `host[:port]` of an origin or URL (`http://host:port/path`); `None` for `null` or junk.
fn origin_host(origin: &str) -> Option<&str> {
    let (_, rest) = origin.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    // Credentials in a URL are not a host.
    (!host.is_empty() && !host.contains('@')).then_some(host)
}

/// Refuses a call whose `Host` names neither loopback nor the listener (DNS rebinding), and a
/// POST (any method but GET and HEAD) a browser sends from another origin (CSRF).
fn same_site(
    method: &Method,
    headers: &HeaderMap,
    local: Option<SocketAddr>,
) -> Result<(), Refusal> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !host.is_some_and(|h| host_allowed(h, local)) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "admin calls need a Host header naming a loopback address or this listener's own \
             address (e.g. Host: 127.0.0.1:9464); behind a proxy, forward that",
        ));
    }
    if *method == Method::GET || *method == Method::HEAD {
        return Ok(());
    }
    let cross = || {
        Err(refuse(
            StatusCode::FORBIDDEN,
            "admin calls that change anything are refused from web pages of another origin",
        ))
    };
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.to_str(), Ok("same-origin" | "none"))
    {
        return cross();
    }
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER));
    match from {
        None => Ok(()),
        Some(v) => match v.to_str().ok().and_then(origin_host) {
            Some(h) if host_allowed(h, local) => Ok(()),
            _ => cross(),
        },
    }
}

/// A refused call: its status and why, answered as `{"error": why}`.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn refuse(code: StatusCode, why: &str) -> Refusal {
    Refusal(code, why.to_string())
}

#[derive(Clone)]
struct Admin {
    p2p: Option<P2pHandle>,
    blocked: Arc<Mutex<BTreeSet<PeerId>>>,
}

/// The admin routes, guarded by `access` and the host and origin rules. Serve the router with
/// [`crate::http::serve`], which gives each request its `ConnectInfo` and [`LocalAddr`].
pub(crate) fn routes(p2p: Option<P2pHandle>, access: Access) -> axum::Router {
    let state = Admin {
        p2p,
        blocked: Arc::default(),
    };
    axum::Router::new()
        .route("/admin/peers", get(peers))
        .route("/admin/peers/{peer}/block", post(block))
        .route("/admin/peers/{peer}/unblock", post(unblock))
        .with_state(state)
        .layer(axum::middleware::from_fn(
            move |ConnectInfo(from): ConnectInfo<SocketAddr>, req: Request, next: Next| {
                let access = access.clone();
                async move {
                    let local = req.extensions().get::<LocalAddr>().map(|l| l.0);
                    if let Err(refused) = same_site(req.method(), req.headers(), local) {
                        tracing::warn!(%from, path = %req.uri().path(), "admin call refused: foreign host or origin");
                        return refused.into_response();
                    }
                    let auth = req
                        .headers()
                        .get(header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok());
                    match access.allows(from, auth) {
                        Ok(()) => next.run(req).await,
                        Err(refused) => {
                            tracing::warn!(%from, path = %req.uri().path(), "admin call refused");
                            refused.into_response()
                        }
                    }
                }
            },
        ))
}

fn replication(admin: &Admin) -> Result<&P2pHandle, Refusal> {
    admin.p2p.as_ref().ok_or_else(|| {
        refuse(
            StatusCode::CONFLICT,
            "replication is off on this node ([p2p] enabled = false)",
        )
    })
}

fn peer_id(text: &str) -> Result<PeerId, Refusal> {
    if text.len() > MAX_PEER_ID_CHARS {
        return Err(refuse(StatusCode::BAD_REQUEST, "not a peer id (too long)"));
    }
    text.parse::<PeerId>().map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            &format!("not a libp2p peer id ({e}); see GET /admin/peers"),
        )
    })
}

async fn peers(State(admin): State<Admin>) -> Response {
    let p2p = match replication(&admin) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let status = p2p.status().await;
    let blocked: Vec<String> = admin
        .blocked
        .lock()
        .map(|b| b.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let peers: Vec<_> = status
        .peers
        .iter()
        .map(|p| {
            json!({
                "peer_id": p.peer_id.to_string(),
                "address": p.address,
                "connected_ms": p.connected_ms,
                "last_round_ms": p.last_round_ms,
                "in_sync_ms": p.in_sync_ms,
                "lag_feeds": p.lag_feeds,
                "entries_pulled": p.entries_pulled,
                "offences": p.offences,
                "score": p.score,
            })
        })
        .collect();
    Json(json!({
        "peers": peers,
        "banned": status.banned,
        "blocked_here": blocked,
    }))
    .into_response()
}

async fn block(State(admin): State<Admin>, UrlPath(peer): UrlPath<String>) -> Response {
    set_blocked(admin, &peer, true).await
}

async fn unblock(State(admin): State<Admin>, UrlPath(peer): UrlPath<String>) -> Response {
    set_blocked(admin, &peer, false).await
}

async fn set_blocked(admin: Admin, peer: &str, blocked: bool) -> Response {
    let (p2p, peer) = match (replication(&admin), peer_id(peer)) {
        (Ok(p), Ok(peer)) => (p, peer),
        (Err(r), _) | (_, Err(r)) => return r.into_response(),
    };
    if blocked {
        p2p.block(peer).await;
    } else {
        p2p.unblock(peer).await;
    }
    if let Ok(mut set) = admin.blocked.lock() {
        if blocked {
            set.insert(peer);
        } else {
            set.remove(&peer);
        }
    }
    tracing::info!(%peer, blocked, "admin: peer {}", if blocked { "blocked" } else { "unblocked" });
    Json(json!({ "peer_id": peer.to_string(), "blocked": blocked })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain HTTP from another host is refused, even with the right token (it would have
    /// crossed the network readable); on loopback the token is needed when one is set.
    #[test]
    fn other_addresses_are_refused_even_with_the_token_and_a_token_is_needed_when_set() {
        let here: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().expect("addr");
        let there: SocketAddr = "192.0.2.7:5000".parse().expect("addr");
        let there6: SocketAddr = "[2001:db8::7]:5000".parse().expect("addr");
        assert!(Access::LoopbackOnly.allows(here, None).is_ok());
        assert!(Access::LoopbackOnly.allows(mapped, None).is_ok());
        assert!(Access::LoopbackOnly.allows(there, None).is_err());
        assert!(Access::LoopbackOnly.allows(there6, None).is_err());
        let token = "t".repeat(40);
        let bearer = format!("Bearer {token}");
        let access = Access::Token(blake3::hash(token.as_bytes()));
        assert!(access.allows(here, None).is_err(), "even on loopback");
        assert!(access.allows(here, Some("Bearer wrong")).is_err());
        assert!(access.allows(here, Some(&bearer)).is_ok());
        assert!(access.allows(there, Some("Bearer wrong")).is_err());
        let refused = access.allows(there, Some(&bearer)).expect_err("refused");
        assert_eq!(refused.0, StatusCode::FORBIDDEN);
        assert!(refused.1.contains("plain HTTP"), "{}", refused.1);
        assert!(access.allows(there6, Some(&bearer)).is_err());
    }

    #[test]
    fn calls_must_name_this_host_and_posts_must_come_from_this_origin() {
        let local: SocketAddr = "10.0.0.5:9464".parse().expect("addr");
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            for (name, value) in pairs {
                h.insert(*name, value.parse().expect("header value"));
            }
            h
        };
        let ok = |m: Method, pairs: &[(&'static str, &str)]| {
            same_site(&m, &headers(pairs), Some(local)).is_ok()
        };
        for host in [
            "127.0.0.1:9464",
            "127.0.0.1",
            "localhost:9464",
            "LOCALHOST",
            "[::1]:9464",
            "10.0.0.5:9464",
            "10.0.0.5",
        ] {
            assert!(ok(Method::GET, &[("host", host)]), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:9464",
            "10.0.0.5:80",
            "10.0.0.6:9464",
            "127.0.0.1:x",
            "[::1",
            "",
        ] {
            assert!(!ok(Method::GET, &[("host", host)]), "{host}");
        }
        assert!(!ok(Method::GET, &[]), "no Host at all");
        let host = ("host", "127.0.0.1:9464");
        // Browsers' cross-origin POSTs are refused; curl (no Origin, Referer, Sec-Fetch-Site) is not.
        assert!(ok(Method::POST, &[host]));
        for refused in [
            ("origin", "http://evil.example"),
            ("origin", "null"),
            ("origin", "http://127.0.0.1@evil.example"),
            ("referer", "https://evil.example/page"),
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-site", "same-site"),
        ] {
            assert!(!ok(Method::POST, &[host, refused]), "{refused:?}");
            assert!(
                ok(Method::GET, &[host, refused]),
                "GET is not guarded: {refused:?}"
            );
        }
        for allowed in [
            ("origin", "http://127.0.0.1:9464"),
            ("referer", "http://localhost:9464/admin/peers"),
            ("sec-fetch-site", "same-origin"),
            ("sec-fetch-site", "none"),
        ] {
            assert!(ok(Method::POST, &[host, allowed]), "{allowed:?}");
        }
    }

    #[test]
    fn token_files_are_checked() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("token");
        std::fs::write(&path, "short\n").expect("write");
        assert!(Access::from_token_file(Some(&path)).is_err());
        std::fs::write(&path, format!("{}\n", "a1".repeat(32))).expect("write");
        assert!(matches!(
            Access::from_token_file(Some(&path)),
            Ok(Access::Token(_))
        ));
        assert!(Access::from_token_file(Some(&dir.path().join("missing"))).is_err());
        assert!(matches!(
            Access::from_token_file(None),
            Ok(Access::LoopbackOnly)
        ));
    }
}
