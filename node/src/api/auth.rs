//! Collector sessions: `Consent.Authenticate` turns a signed statement (see
//! `consent_proto::auth`) into a token; every other Consent call presents it.
//!
//! A token is `collector (32) ‖ key fingerprint (8) ‖ expiry ms (8, BE) ‖ client certificate
//! binding (16) ‖ MAC (16)`, in hex. The binding ([`Binding`]) is the hash of the client
//! certificate the session was opened over (zeros without one): a call presenting the token
//! over another certificate, or none, is refused (`consent-reason: certificate-mismatch`), so a
//! token copied off one collector's gateway is no use without that gateway's certificate and
//! key. A certificate that names a collector ([`named_collector`]) opens sessions for that
//! collector only. The MAC is keyed BLAKE3 under a key derived from the node's secret key, so checking a token costs
//! one hash and no state; the fingerprint of the collector's current key is compared on every
//! call (from the ledger's cached collector facts, read without waiting for any lock; a cache
//! miss is read on a blocking thread under the API's [`Limiter`]), so rotating the key ends every
//! session. A watch stream re-checks its session before everything it sends
//! ([`Session::check_cached`], lock-free; [`Session::check`] on a blocking thread only when the
//! collector's feed may have changed) and ends when the session expires; [`Sessions`] also counts
//! the open watch streams.
//!
//! A call refused, or a stream ended, because of its session carries trailing metadata
//! `consent-reason`: [`SESSION_EXPIRED`] or [`KEY_CHANGED`].

use consent_proto::auth::{self, TOKEN_TTL_MS};
use consent_proto::ids::FeedId;
use consent_proto::keys::{PublicKey, SecretKey};
use consent_proto::validate::FeedState;
use consent_proto::vocab::Role;
use rustls::pki_types::CertificateDer;
use tonic::Status;
use tonic::metadata::MetadataMap;

use super::blocking::Limiter;
use super::error;
use super::tls::{Binding, named_collector};
use super::watch::{Slot, Watchers};
use crate::ledger::Ledger;

/// Bytes of a token before hex.
const TOKEN_BYTES: usize = 80;

/// Signed statements remembered, so that each opens at most one session: a statement lives
/// [`auth::WINDOW_MS`] either side of its time, and collectors authenticate every few minutes,
/// so this holds every honest statement of a large city; beyond it the least used are forgotten
/// first (quick_cache's S3-FIFO), and only those could be replayed, within their window.
const MAX_STATEMENTS: usize = 65_536;

/// Issues and checks session tokens.
pub(crate) struct Sessions {
    mac_key: zeroize::Zeroizing<[u8; 32]>,
    node_key: PublicKey,
    /// Watch streams open, per collector and in all.
    watchers: Watchers,
    /// The statements that opened a session (their signatures), with when they go stale.
    used: quick_cache::sync::Cache<[u8; 64], u64>,
}

/// An authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Session {
    /// The collector it proved to be.
    pub collector: FeedId,
    /// When the session ends, Unix ms.
    pub expires_ms: u64,
    /// Fingerprint of the collector key it authenticated with.
    pub key: [u8; 8],
    /// The client certificate it was opened over.
    pub binding: Binding,
}

impl Session {
    /// Whether the session still stands at `now_ms`, for a call that outlives its start (a watch
    /// stream): not expired, and the collector's key is still the one it authenticated with.
    /// Reads the store on a cache miss (waiting for the writer): call it off the async threads.
    pub(crate) fn check(&self, ledger: &Ledger, now_ms: u64) -> Result<(), Status> {
        if self.expires_ms <= now_ms {
            return Err(Self::expired());
        }
        self.same_key(ledger.collector_state(&self.collector)?)
    }

    /// [`Session::check`] from cached facts only, without waiting for any lock (for async
    /// threads): `None` when the collector's facts are not cached and current (use
    /// [`Session::check`] on a blocking thread then).
    pub(crate) fn check_cached(&self, ledger: &Ledger, now_ms: u64) -> Option<Result<(), Status>> {
        if self.expires_ms <= now_ms {
            return Some(Err(Self::expired()));
        }
        Some(self.same_key(ledger.cached_collector_state(&self.collector)?))
    }

    /// Whether `state` (the collector's feed now) still has the key the session began with.
    fn same_key(&self, state: Option<FeedState>) -> Result<(), Status> {
        if Sessions::fingerprint_of(&self.collector, state)? != self.key {
            return Err(Self::key_changed());
        }
        Ok(())
    }

    /// The status that ends a stream whose session expired (`consent-reason: session-expired`).
    pub(crate) fn expired() -> Status {
        error::stream_session_expired()
    }

    /// The status that ends a stream whose collector rotated its key (`consent-reason:
    /// key-changed`).
    pub(crate) fn key_changed() -> Status {
        error::stream_key_changed()
    }
}

/// The fingerprint of a collector key that sessions record.
pub(crate) fn fingerprint(key: &PublicKey) -> [u8; 8] {
    fingerprint_bytes(&key.to_bytes())
}

/// [`fingerprint`] of a key's encoding, without decoding it (a point decompression costs a
/// third of a signature check: the per-call session check must not pay it).
fn fingerprint_bytes(key: &[u8; 32]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&blake3::hash(key).as_bytes()[..8]);
    out
}

impl Sessions {
    /// Sessions of the node with `node_key`.
    pub(crate) fn new(node_key: &SecretKey) -> Self {
        let seed = node_key.to_seed();
        Self {
            mac_key: zeroize::Zeroizing::new(blake3::derive_key(
                "consent-ledger session token v1",
                seed.as_ref(),
            )),
            node_key: node_key.public(),
            watchers: Watchers::default(),
            used: quick_cache::sync::Cache::new(MAX_STATEMENTS),
        }
    }

    /// Admits one more watch stream of the session's collector (at most
    /// [`super::watch::MAX_STREAMS_PER_COLLECTOR`] at once, and [`super::watch::MAX_STREAMS`] on
    /// the node in all): hold the slot while the stream runs.
    pub(crate) fn admit_watch(&self, session: &Session) -> Result<Slot, Status> {
        self.watchers.admit(session.collector)
    }

    fn mac(&self, body: &[u8]) -> [u8; 16] {
        let mut out = [0u8; 16];
        out.copy_from_slice(&blake3::keyed_hash(&self.mac_key, body).as_bytes()[..16]);
        out
    }

    /// The collector's feed as this node knows it: from the ledger's cache without waiting for
    /// any lock, or on a miss from the store on a blocking thread, under `limiter`.
    async fn collector_state(
        ledger: &Ledger,
        limiter: &Limiter,
        collector: FeedId,
    ) -> Result<Option<FeedState>, Status> {
        if let Some(state) = ledger.cached_collector_state(&collector) {
            return Ok(state);
        }
        let ledger = ledger.clone();
        limiter
            .run(collector, move |_| {
                ledger.collector_state(&collector).map_err(Status::from)
            })
            .await
    }

    /// The current signing key in `state`, the feed of `collector` as this node knows it.
    fn key_of(collector: &FeedId, state: Option<FeedState>) -> Result<PublicKey, Status> {
        let state = state.ok_or_else(|| error::unknown_collector(collector))?;
        if state.role != Role::Collector {
            return Err(error::not_a_collector());
        }
        PublicKey::from_bytes(&state.signing_key)
            .map_err(|_| error::collector_key_undecodable(collector))
    }

    /// The fingerprint of the current signing key in `state`, for the per-call session check:
    /// the same refusals as [`Self::key_of`] but the key's encoding is hashed as stored (the
    /// write path accepted it as a key; a token for an undecodable key is never issued, since
    /// [`Self::authenticate`] decodes it).
    fn fingerprint_of(collector: &FeedId, state: Option<FeedState>) -> Result<[u8; 8], Status> {
        let state = state.ok_or_else(|| error::unknown_collector(collector))?;
        if state.role != Role::Collector {
            return Err(error::not_a_collector());
        }
        Ok(fingerprint_bytes(&state.signing_key))
    }

    /// Checks a statement and issues a token: `(token, expires_ms)`, bound to the client
    /// certificate of the call (`client`, its end-entity certificate, if it presented one). The
    /// collector's key is read as [`Sessions::session`] reads it, and the signature is verified
    /// on a blocking thread, both under `limiter`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn authenticate(
        &self,
        ledger: &Ledger,
        limiter: &Limiter,
        collector: FeedId,
        node_key: &[u8],
        time_ms: u64,
        signature: &[u8],
        client: Option<&[CertificateDer<'static>]>,
        now_ms: u64,
    ) -> Result<(String, u64), Status> {
        if node_key != self.node_key.to_bytes() {
            return Err(error::wrong_node_key());
        }
        if let Some(cert) = client.and_then(|chain| chain.first()) {
            match named_collector(cert) {
                Ok(None) => {}
                Ok(Some(named)) if named == collector => {}
                Ok(Some(named)) => return Err(error::certificate_names_another(&named)),
                Err(e) => return Err(error::certificate_name_unreadable(&e)),
            }
        }
        let binding = Binding::of(client);
        let signature: &[u8; 64] = signature
            .try_into()
            .map_err(|_| error::signature_length(signature.len()))?;
        // A stale statement is refused before anything is charged to the collector it names
        // (which nobody has proven yet).
        if time_ms.abs_diff(now_ms) > auth::WINDOW_MS {
            return Err(error::statement_refused(&auth::AuthError::Stale {
                time_ms,
                now_ms,
            }));
        }
        let state = Self::collector_state(ledger, limiter, collector).await?;
        let key = Self::key_of(&collector, state)?;
        let (node, signature) = (self.node_key, *signature);
        limiter
            .run(collector, move |_| {
                auth::verify(&key, &node, &collector, time_ms, &signature, now_ms)
                    .map_err(|e| error::statement_refused(&e))
            })
            .await?;
        // One session per statement: a statement copied off the wire or a gateway's memory
        // within its window opens nothing more (checked once it verified, so that statements
        // nobody signed never take a place).
        match self.used.get_value_or_guard_async(&signature).await {
            Ok(_) => return Err(error::statement_replayed()),
            Err(guard) => {
                let _ = guard.insert(time_ms.saturating_add(auth::WINDOW_MS));
            }
        }
        let expires_ms = now_ms + TOKEN_TTL_MS;
        let mut token = Vec::with_capacity(TOKEN_BYTES);
        token.extend_from_slice(&collector.0);
        token.extend_from_slice(&fingerprint(&key));
        token.extend_from_slice(&expires_ms.to_be_bytes());
        token.extend_from_slice(&binding.0);
        let mac = self.mac(&token);
        token.extend_from_slice(&mac);
        Ok((hex::encode(token), expires_ms))
    }

    /// The session a call presents over a connection whose client certificate is `binding`,
    /// or why it has none. The collector's current key comes from the ledger's cache without
    /// waiting for any lock; on a miss it is read on a blocking thread, under `limiter`.
    pub(crate) async fn session(
        &self,
        ledger: &Ledger,
        limiter: &Limiter,
        metadata: &MetadataMap,
        binding: Binding,
        now_ms: u64,
    ) -> Result<Session, Status> {
        let claimed = self.claimed(metadata, now_ms)?;
        if !constant_time_eq(&claimed.binding.0, &binding.0) {
            return Err(error::certificate_mismatch());
        }
        let collector = claimed.collector;
        let state = Self::collector_state(ledger, limiter, collector).await?;
        if Self::fingerprint_of(&collector, state)? != claimed.key {
            return Err(error::key_changed());
        }
        Ok(claimed)
    }

    /// The session a token claims, its MAC checked and not expired (its key not yet compared
    /// with the collector's current one).
    fn claimed(&self, metadata: &MetadataMap, now_ms: u64) -> Result<Session, Status> {
        let value = metadata
            .get(auth::METADATA_KEY)
            .ok_or_else(error::no_session)?;
        let text = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(error::not_bearer)?;
        let mut token = [0u8; TOKEN_BYTES];
        if text.len() != 2 * TOKEN_BYTES || hex::decode_to_slice(text, &mut token).is_err() {
            return Err(error::malformed_token());
        }
        let (body, mac) = token.split_at(TOKEN_BYTES - 16);
        if !constant_time_eq(&self.mac(body), mac) {
            return Err(error::foreign_token());
        }
        let mut collector = [0u8; 32];
        collector.copy_from_slice(&body[..32]);
        let collector = FeedId(collector);
        let mut expires = [0u8; 8];
        expires.copy_from_slice(&body[40..48]);
        let expires_ms = u64::from_be_bytes(expires);
        if expires_ms <= now_ms {
            return Err(error::session_expired());
        }
        let mut key = [0u8; 8];
        key.copy_from_slice(&body[32..40]);
        let mut binding = [0u8; 16];
        binding.copy_from_slice(&body[48..64]);
        Ok(Session {
            collector,
            expires_ms,
            key,
            binding: Binding(binding),
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
