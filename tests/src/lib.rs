//! Test harness for multi-node and end-to-end tests: real `consentd` nodes on 127.0.0.1 with
//! ephemeral ports and temporary data directories, gRPC clients, fixtures, and [`eventually`].
//!
//! # Layout
//! - [`browser`]: headless Chromium driven over the DevTools protocol.
//! - [`consultation`]: a genesis requiring consultations, a clock in the past, drafts, stances,
//!   responses and outcomes, and the Consultations service.
//! - [`delegation`]: a person, an assistant and guardians; what delegates sign in someone's
//!   name; the Ledger's delegation reads.
//! - [`http`]: one plain HTTP/1.1 GET (metrics, transparency pages).
//! - [`harness`]: starting, stopping and restarting nodes; clients.
//! - [`net`]: several nodes: waiting until they connect or converge, heads, decisions.
//! - [`rogue`]: a misbehaving libp2p peer that speaks the node's protocols.
//! - [`scope`]: the street scene (a scoped policy), random narrowings and observation contexts.
//! - [`single`]: one node with the fixture scene and a citizen.
//! - [`tls`]: throwaway certificate authorities and certificates (rcgen).
//! - [`eventually`]: wait on a condition with a time-out (never sleep blindly).

pub mod browser;
pub mod consultation;
pub mod delegation;
pub mod harness;
pub mod http;
pub mod net;
pub mod rogue;
pub mod scope;
pub mod single;
pub mod tls;

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `condition` until it returns `Some`, or fails the test after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, condition: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match within(timeout, condition).await {
        Some(value) => value,
        None => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

/// Polls `condition` until it returns `Some`, or gives `None` after `timeout`.
pub async fn within<T, F, Fut>(timeout: Duration, mut condition: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(5);
    loop {
        if let Some(value) = condition().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(200));
    }
}
