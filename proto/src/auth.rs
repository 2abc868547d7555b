//! Collector authentication: a collector proves it holds its feed's current key by signing a
//! statement bound to one node and one moment — `domain::AUTH || node key || collector feed ||
//! time (8 bytes, BE)` — and the node answers with a short-lived session token (see
//! `Consent.Authenticate` in `consent.proto`). One signature per session, not per call.

use crate::domain;
use crate::ids::FeedId;
use crate::keys::{PublicKey, SecretKey};
use crate::sig;

/// How far a statement's time may be from the node's clock, ms.
pub const WINDOW_MS: u64 = 120_000;
/// How long a session token lasts, ms.
pub const TOKEN_TTL_MS: u64 = 15 * 60_000;
/// The gRPC metadata key carrying `Bearer <token>`.
pub const METADATA_KEY: &str = "authorization";
/// A collector's client certificate may name its collector by one URI subject alternative name,
/// this prefix followed by the collector's text id (`col1…`); a node then opens sessions over
/// that certificate for that collector only, and may admit only listed collectors.
pub const CERT_COLLECTOR_URI: &str = "urn:consent-ledger:collector:";

/// The signed bytes after the domain prefix.
pub fn statement(node_key: &PublicKey, collector: &FeedId, time_ms: u64) -> [u8; 72] {
    let mut out = [0u8; 72];
    out[..32].copy_from_slice(&node_key.to_bytes());
    out[32..64].copy_from_slice(&collector.0);
    out[64..].copy_from_slice(&time_ms.to_be_bytes());
    out
}

/// Signs a statement with the collector's current key.
pub fn sign(key: &SecretKey, node_key: &PublicKey, collector: &FeedId, time_ms: u64) -> [u8; 64] {
    key.sign(domain::AUTH, &statement(node_key, collector, time_ms))
}

/// Why a statement is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Its time is outside the window around the node's clock.
    #[error(
        "the statement's time {time_ms} is more than {WINDOW_MS} ms from the node's clock {now_ms}: check the collector's clock"
    )]
    Stale {
        /// The statement's time.
        time_ms: u64,
        /// The node's clock.
        now_ms: u64,
    },
    /// The signature does not verify under the collector's current key.
    #[error("the signature does not verify under the collector's current key")]
    BadSignature,
}

/// Checks a statement: fresh, and signed by `current_key`.
pub fn verify(
    current_key: &PublicKey,
    node_key: &PublicKey,
    collector: &FeedId,
    time_ms: u64,
    signature: &[u8; 64],
    now_ms: u64,
) -> Result<(), AuthError> {
    if time_ms.abs_diff(now_ms) > WINDOW_MS {
        return Err(AuthError::Stale { time_ms, now_ms });
    }
    let message = statement(node_key, collector, time_ms);
    let item = sig::Item {
        key: current_key,
        domain: domain::AUTH,
        message: &message,
        signature,
    };
    if sig::verify(&item) {
        Ok(())
    } else {
        Err(AuthError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_verifies_only_as_signed() {
        let collector_key = SecretKey::from_seed(&[1; 32]);
        let node = SecretKey::from_seed(&[2; 32]).public();
        let other_node = SecretKey::from_seed(&[3; 32]).public();
        let feed = FeedId([9; 32]);
        let t = 1_750_000_000_000;
        let s = sign(&collector_key, &node, &feed, t);
        let key = collector_key.public();
        assert_eq!(verify(&key, &node, &feed, t, &s, t + 1000), Ok(()));
        assert_eq!(
            verify(&key, &other_node, &feed, t, &s, t),
            Err(AuthError::BadSignature),
            "bound to one node"
        );
        assert_eq!(
            verify(&key, &node, &FeedId([8; 32]), t, &s, t),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            verify(&key, &node, &feed, t + 1, &s, t),
            Err(AuthError::BadSignature)
        );
        assert!(matches!(
            verify(&key, &node, &feed, t, &s, t + WINDOW_MS + 1),
            Err(AuthError::Stale { .. })
        ));
        let other = SecretKey::from_seed(&[4; 32]).public();
        assert_eq!(
            verify(&other, &node, &feed, t, &s, t),
            Err(AuthError::BadSignature)
        );
    }
}
