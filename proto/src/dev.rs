//! The development network's registrar. Its keys derive from public constants, so anyone can
//! sign as it: it exists only so that a node started with no genesis file is a working local
//! network. Never list it in a real network's genesis.

use crate::entry::{Author, Entry};
use crate::ids::FeedId;
use crate::keys::SecretKey;
use crate::limits::MIN_TIME_MS;
use crate::validate::Rejection;
use crate::vocab::Role;

/// Network id of the built-in development network.
pub const NETWORK_ID: &str = "dev";

/// Inception time of the dev registrar (2020-01-01T00:00:00Z): fixed, so its feed id is too.
pub const REGISTRAR_INCEPTION_MS: u64 = MIN_TIME_MS;

fn key(label: &str) -> SecretKey {
    SecretKey::from_seed(blake3::hash(label.as_bytes()).as_bytes())
}

/// The dev registrar's key `n` (0: the inception's, 1: the committed next key; there is no
/// other: the dev registrar never rotates). Each is `Ed25519 seed = BLAKE3(label)` with the label
/// `consent-ledger/dev-registrar/v1/key<n>`.
pub fn registrar_key(n: u32) -> Option<SecretKey> {
    (n <= 1).then(|| key(&format!("consent-ledger/dev-registrar/v1/key{n}")))
}

/// The dev registrar's author (public keys!) and inception entry: a registrar inception at
/// [`REGISTRAR_INCEPTION_MS`] signed with key 0, committing to key 1. A fresh dev node does not
/// hold it: the first client to act as the dev registrar submits it (`consent registrar init
/// --dev` does).
pub fn registrar() -> Result<(Author, Entry), Rejection> {
    Author::incept(
        Role::Registrar,
        key("consent-ledger/dev-registrar/v1/key0"),
        key("consent-ledger/dev-registrar/v1/key1"),
        REGISTRAR_INCEPTION_MS,
    )
}

/// The dev registrar's feed id.
pub fn registrar_feed() -> Result<FeedId, Rejection> {
    registrar().map(|(a, _)| a.feed())
}
