//! # consent-node: the `consentd` daemon
//!
//! A node validates, stores and serves signed consent feeds (see `consent-proto` for the
//! protocol). Every entry, from a client or a peer, goes through the same single write path.
//!
//! # Layout
//! - [`clock`]: the node's wall clock (the system's; a manual one that tests move). A leaf:
//!   handed to the ledger in its config, read through [`ledger::Ledger::now_ms`].
//! - [`config`]: TOML configuration and its defaults (a working dev setup).
//! - [`devcerts`]: throwaway development certificates (`consentd tls dev-certs`): a CA, the
//!   node's certificate for this machine, a collector's client certificate.
//! - [`genesis`]: the network genesis file (network id, registrars, bootstrap peers, members).
//! - [`members`]: the network's member nodes, as the genesis lists them.
//! - [`identity`]: the node's Ed25519 key in the data directory.
//! - [`store`]: the storage-engine boundary ([`store::KvStore`]), sled and memory engines, and
//!   the conformance suite every engine must pass.
//! - [`ledger`]: tables, the single writer (group commit), reads and checks, the Merkle tree
//!   over the arrival log, store checks.
//! - [`log`]: the node's signed checkpoints of its log and their cosignatures, and what it
//!   witnesses of other nodes' logs (cosigned checkpoints, fork evidence); kept through the
//!   ledger's writer.
//! - [`api`]: the gRPC services, health and reflection; error-to-status mapping; the
//!   listener's connections and its TLS.
//! - [`p2p`]: replication with libp2p (push by gossipsub, pull by request-response).
//! - [`node`]: the daemon handle (start, addresses, shutdown, join).
//! - [`metrics`]: the registry of what the node counts (a leaf: created by [`node`], handed to
//!   the ledger's writer and the API).
//! - [`ops`]: the operations listener (loopback by default): Prometheus `/metrics`, with the
//!   gauges read at scrape time, and the admin calls (loopback only; a token too, if set).
//! - [`http`]: how the side HTTP listeners are served (connection cap, header deadline).
//! - [`transparency`]: the public site: register of collectors, network, rights, JSON API.
//! - [`logging`]: tracing set-up (human or JSON).

// A `pub` item that no path from the crate root reaches is a mistake: it says "library API"
// while only the crate can use it, and hides dead code from the compiler.
#![warn(unreachable_pub)]

pub mod api;
pub(crate) mod bucket;
pub mod clock;
pub mod config;
pub mod devcerts;
pub mod genesis;
pub(crate) mod http;
pub mod identity;
pub mod ledger;
pub mod log;
pub mod logging;
pub mod members;
pub(crate) mod metrics;
pub mod node;
pub mod ops;
pub mod p2p;
pub mod store;
pub(crate) mod transparency;

pub use config::Config;
pub use node::Node;
