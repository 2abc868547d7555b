//! The daemon: what a running node is made of and how it starts and stops.
//!
//! [`Node::start`] returns once the store is open and checked and the gRPC port is bound
//! ([`start`] holds the steps, in order); while it runs, the critical parts (the ledger's writer,
//! the p2p task, the checkpoint ticker) are supervised, and its stop goes in stages ([`stop`]):
//! stop accepting and drain calls and streams, stop p2p and background work, let the writer
//! finish and flush, close the store. [`files`] owns the address files that say where it listens.
//! `check` is what `consentd check-store --full` checks beyond the store: the transparency
//! register saved in the data directory ([`check_saved_register`]).

use std::net::SocketAddr;

use consent_proto::keys::PublicKey;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::ledger::{Ledger, LedgerError};
use crate::p2p::P2pHandle;

mod check;
mod files;
mod start;
mod stop;

pub use crate::ledger::{OpenError, open_store, open_store_with};
pub use check::{RegisterCheck, check_saved_register};
pub use files::{ADDR_FILE, METRICS_ADDR_FILE, P2P_ADDR_FILE, SITE_ADDR_FILE};

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Plain-text gRPC on an address other than loopback, not asked for.
    #[error(
        "refusing to serve gRPC in plain text on {addr}, which is not a loopback address: session tokens and answers would cross the network readable. Set [tls] cert and key (docs/operators.md, \"TLS\"), or listen on 127.0.0.1 behind a TLS-terminating proxy, or, on a network you trust end to end, pass --insecure-plaintext (insecure_plaintext = true)"
    )]
    Plaintext {
        /// The gRPC listen address.
        addr: SocketAddr,
    },
    /// A setting that cannot be used.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The TLS certificate, key or client CA files.
    #[error(transparent)]
    Tls(#[from] crate::api::TlsError),
    /// The genesis file.
    #[error(transparent)]
    Genesis(#[from] crate::genesis::GenesisError),
    /// The data directory.
    #[error("data directory {dir}: {source}")]
    DataDir {
        /// The directory.
        dir: String,
        /// Why.
        source: std::io::Error,
    },
    /// The store.
    #[error("cannot open the store in {dir}: {source}")]
    Store {
        /// The directory.
        dir: String,
        /// Why.
        source: OpenError,
    },
    /// A p2p address (listen or bootstrap, from the config or the genesis) does not parse.
    #[error("p2p: {what} address {addr:?}: {source}")]
    P2pAddress {
        /// Which list it is in.
        what: &'static str,
        /// The address as written.
        addr: String,
        /// Why.
        source: libp2p::multiaddr::Error,
    },
    /// The witnessed checkpoints could not be read.
    #[error("p2p: cannot read witnessed checkpoints: {0}")]
    Witness(#[source] LedgerError),
    /// The p2p layer.
    #[error("p2p: {0}")]
    P2p(#[from] crate::p2p::P2pError),
    /// The admin token.
    #[error("{0}")]
    Admin(#[from] crate::ops::admin::TokenFileError),
    /// The ledger refused the store.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The gRPC address.
    #[error(
        "cannot listen for gRPC on {addr}: {source} (is another node running? pick another --grpc-listen)"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A side listener's address (metrics, transparency site).
    #[error("cannot listen for the {what} on {addr}: {source} (set another [{section}] listen)")]
    BindSide {
        /// What was to be served.
        what: &'static str,
        /// The config section of its address.
        section: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running node.
pub struct Node {
    p2p: Option<P2pHandle>,
    grpc_addr: SocketAddr,
    /// Whether gRPC is served over TLS.
    tls: bool,
    key: PublicKey,
    ledger: Ledger,
    cancel: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Node {
    /// The p2p handle (None when replication is off).
    pub fn p2p(&self) -> Option<&P2pHandle> {
        self.p2p.as_ref()
    }

    /// The bound gRPC address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// URL of the gRPC endpoint: `https://` with `[tls]`, `http://` otherwise.
    pub fn grpc_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.grpc_addr)
    }

    /// The node's public key.
    pub fn key(&self) -> PublicKey {
        self.key
    }

    /// The ledger (for in-process tests and tools).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Starts an orderly shutdown.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }

    /// A token that shuts the node down when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Waits until the node has stopped and flushed.
    pub async fn join(self) -> anyhow::Result<()> {
        let Node { task, ledger, .. } = self;
        drop(ledger);
        task.await?
    }
}
