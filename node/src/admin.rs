//! Admin calls: what changes the node's running configuration or shows more than the public API.
//! Served under `/admin/` on the operations listener (the one `/metrics` uses, loopback by
//! default). With `[admin] token_file` set, every call needs `Authorization: Bearer <token>`;
//! without it, calls are answered only to loopback clients, wherever the listener is bound.
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
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use libp2p::PeerId;
use serde_json::json;
use zeroize::Zeroizing;

use crate::p2p::P2pHandle;

/// Shortest token accepted (characters).
pub const MIN_TOKEN_CHARS: usize = 32;
/// Largest token file read.
const MAX_TOKEN_BYTES: u64 = 4096;
/// Longest peer id text accepted in a path.
const MAX_PEER_ID_CHARS: usize = 100;

/// Who may call.
#[derive(Clone)]
pub enum Access {
    /// Loopback clients only.
    LoopbackOnly,
    /// Anyone presenting the token (its BLAKE3 hash is kept, compared in constant time).
    Token(blake3::Hash),
}

impl Access {
    /// From `[admin] token_file`: a file holding one token of at least 32 characters.
    pub fn from_token_file(path: Option<&Path>) -> Result<Access, String> {
        let Some(path) = path else {
            return Ok(Access::LoopbackOnly);
        };
        let shown = path.display();
        let len = std::fs::metadata(path)
            .map_err(|e| format!("admin token file {shown}: {e}"))?
            .len();
        if len > MAX_TOKEN_BYTES {
            return Err(format!(
                "admin token file {shown} is {len} bytes; the limit is 4 KiB"
            ));
        }
        let text = Zeroizing::new(
            std::fs::read_to_string(path).map_err(|e| format!("admin token file {shown}: {e}"))?,
        );
        let token = text.trim();
        if token.chars().count() < MIN_TOKEN_CHARS || token.chars().any(char::is_whitespace) {
            return Err(format!(
                "admin token file {shown} must hold one token of at least {MIN_TOKEN_CHARS} characters and no spaces (e.g. `openssl rand -hex 32`)"
            ));
        }
        Ok(Access::Token(blake3::hash(token.as_bytes())))
    }

    /// Whether a caller at `from` presenting `authorization` may call.
    fn allows(&self, from: SocketAddr, authorization: Option<&str>) -> Result<(), Refusal> {
        match self {
            Access::LoopbackOnly if from.ip().is_loopback() => Ok(()),
            Access::LoopbackOnly => Err(refuse(
                StatusCode::FORBIDDEN,
                "admin calls are answered only on loopback unless [admin] token_file is set",
            )),
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

/// The admin routes, guarded by `access`. Serve the router with connect info
/// (`into_make_service_with_connect_info::<SocketAddr>`).
pub fn routes(p2p: Option<P2pHandle>, access: Access) -> axum::Router {
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

    #[test]
    fn loopback_only_refuses_other_addresses_and_a_token_is_needed_when_set() {
        let here: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        let there: SocketAddr = "192.0.2.7:5000".parse().expect("addr");
        assert!(Access::LoopbackOnly.allows(here, None).is_ok());
        assert!(Access::LoopbackOnly.allows(there, None).is_err());
        let token = "t".repeat(40);
        let access = Access::Token(blake3::hash(token.as_bytes()));
        assert!(access.allows(here, None).is_err(), "even on loopback");
        assert!(access.allows(there, Some("Bearer wrong")).is_err());
        assert!(
            access
                .allows(there, Some(&format!("Bearer {token}")))
                .is_ok()
        );
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
