//! The daemon handle. [`Node::start`] returns once the store is open and checked and the gRPC
//! port is bound; [`Node::shutdown`] stops it in a fixed order (stop accepting and drain RPCs,
//! stop background tasks, let the writer finish and flush, close the store); [`Node::join`] waits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use consent_proto::keys::PublicKey;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::{self, ServeConfig, node::NodeInfo};
use crate::config::Config;
use crate::config::Engine;
use crate::genesis::Genesis;
use crate::identity;
use crate::ledger::{Ledger, LedgerError};
use crate::log::checkpoints::Checkpoints;
use crate::log::witness::Witness;
use crate::p2p::{self, P2pConfig, P2pHandle};
use crate::store::KvStore;
use crate::store::fjall::FjallStore;
use crate::store::sled::SledStore;
use libp2p::Multiaddr;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
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
    #[error("cannot open the store in {dir}: {message}")]
    Store {
        /// The directory.
        dir: String,
        /// Why.
        message: String,
    },
    /// The p2p layer.
    #[error("p2p: {0}")]
    P2p(String),
    /// The admin token.
    #[error("{0}")]
    Admin(String),
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

/// Opens the configured engine's store in the data directory, refusing a directory that holds a
/// store of the other engine.
pub fn open_store(
    data_dir: &std::path::Path,
    asked: Option<Engine>,
) -> Result<Arc<dyn KvStore>, String> {
    let engine = Engine::resolve(asked, data_dir);
    for other in [Engine::Sled, Engine::Fjall] {
        if other != engine && data_dir.join(other.dir_name()).exists() {
            return Err(format!(
                "this data directory holds a {other:?} store ({}); set [store] engine = \"{}\" or use another --data-dir",
                data_dir.join(other.dir_name()).display(),
                format!("{other:?}").to_lowercase()
            ));
        }
    }
    let dir = data_dir.join(engine.dir_name());
    Ok(match engine {
        Engine::Sled => Arc::new(SledStore::open(&dir).map_err(|e| e.to_string())?),
        Engine::Fjall => Arc::new(FjallStore::open(&dir).map_err(|e| e.to_string())?),
    })
}

/// File in the data directory listing the node's dialable p2p addresses, one per line.
pub const P2P_ADDR_FILE: &str = "p2p.addr";

/// File in the data directory holding the bound gRPC address once the node serves.
pub const ADDR_FILE: &str = "grpc.addr";
/// File in the data directory holding the bound metrics address (`host:port`).
pub const METRICS_ADDR_FILE: &str = "metrics.addr";

/// File in the data directory holding the bound transparency site address (`host:port`).
pub const SITE_ADDR_FILE: &str = "transparency.addr";

/// A side listener: what it serves, its config section, and whether it is for operators only.
struct Side {
    what: &'static str,
    section: &'static str,
    private: bool,
}

/// Binds a side listener (metrics, transparency) and writes its address to `file` in the data
/// directory; warns when an operators-only one is bound beyond loopback.
async fn bind_side(
    config: &Config,
    addr: SocketAddr,
    file: &str,
    side: Side,
) -> Result<TcpListener, StartError> {
    let bind = |source| StartError::BindSide {
        what: side.what,
        section: side.section,
        addr,
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(bind)?;
    let bound = listener.local_addr().map_err(bind)?;
    if side.private && !bound.ip().is_loopback() {
        tracing::warn!(addr = %bound, "the {} is served beyond loopback: restrict access to your monitoring", side.what);
    }
    let path = config.data_dir.join(file);
    std::fs::write(&path, format!("{bound}\n")).map_err(|source| StartError::DataDir {
        dir: path.display().to_string(),
        source,
    })?;
    Ok(listener)
}

/// How often the node signs a checkpoint of its log (when it grew).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A running node.
pub struct Node {
    p2p: Option<P2pHandle>,
    grpc_addr: SocketAddr,
    key: PublicKey,
    ledger: Ledger,
    cancel: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Node {
    /// Opens the store, checks it, binds the gRPC port and starts serving.
    pub async fn start(config: Config) -> Result<Node, StartError> {
        let genesis = match &config.genesis {
            Some(path) => Genesis::load(path)?,
            None => {
                tracing::warn!(
                    "no genesis file given: running the built-in development network, whose registrar key is public"
                );
                Genesis::dev()
            }
        };
        let dir = config.data_dir.display().to_string();
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
            dir: dir.clone(),
            source,
        })?;
        let node_key =
            identity::load_or_create(&config.data_dir).map_err(|source| StartError::DataDir {
                dir: dir.clone(),
                source,
            })?;
        let store = open_store(&config.data_dir, config.store.engine).map_err(|message| {
            StartError::Store {
                dir: dir.clone(),
                message,
            }
        })?;
        let (ledger, writer) = Ledger::open(
            store,
            genesis.registrar_feeds(),
            &genesis.digest(),
            config.ledger_config(),
        )?;
        let members = genesis.members();
        if members.is_listed() && !members.contains_key(&node_key.public()) {
            tracing::warn!(
                node = %node_key.public().to_text("node"),
                "this node is not in the genesis file's member list: the network's nodes will not witness it, take its cosignatures or keep connection slots for it; ask the coordinator to add it"
            );
        }
        let checkpoints = Checkpoints::open(ledger.clone(), node_key.clone(), members.clone())?;
        let listener = TcpListener::bind(config.grpc_listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.grpc_listen,
                source,
            })?;
        let grpc_addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.grpc_listen,
            source,
        })?;
        // Scripts and tests that start a node on port 0 read the bound address from here.
        let addr_file = config.data_dir.join(ADDR_FILE);
        std::fs::write(&addr_file, format!("{grpc_addr}\n")).map_err(|source| {
            StartError::DataDir {
                dir: addr_file.display().to_string(),
                source,
            }
        })?;

        let admin_access = match config.admin.enabled && config.metrics.enabled {
            true => Some(
                crate::admin::Access::from_token_file(config.admin.token_file.as_deref())
                    .map_err(StartError::Admin)?,
            ),
            false => None,
        };
        let metrics_listener = match config.metrics.enabled {
            true => Some(
                bind_side(
                    &config,
                    config.metrics.listen,
                    METRICS_ADDR_FILE,
                    Side {
                        what: "metrics and admin calls",
                        section: "metrics",
                        private: true,
                    },
                )
                .await?,
            ),
            false => None,
        };
        let site_listener = match config.transparency.enabled {
            true => Some(
                bind_side(
                    &config,
                    config.transparency.listen,
                    SITE_ADDR_FILE,
                    Side {
                        what: "transparency site",
                        section: "transparency",
                        private: false,
                    },
                )
                .await?,
            ),
            false => None,
        };

        let cancel = CancellationToken::new();
        let p2p = if config.p2p.enabled {
            let parse = |list: &[String], what: &str| -> Result<Vec<Multiaddr>, StartError> {
                list.iter()
                    .map(|a| {
                        a.parse::<Multiaddr>()
                            .map_err(|e| StartError::P2p(format!("{what} address {a:?}: {e}")))
                    })
                    .collect()
            };
            let mut bootstrap = parse(&genesis.bootstrap, "genesis bootstrap")?;
            bootstrap.extend(parse(&config.p2p.bootstrap, "bootstrap")?);
            let p2p_config = P2pConfig {
                listen: parse(&config.p2p.listen, "listen")?,
                bootstrap,
                mdns: config.p2p.mdns,
                members: members.clone(),
            };
            let log = p2p::cosigning::LogParts {
                checkpoints: checkpoints.clone(),
                witness: Witness::open(
                    ledger.clone(),
                    node_key.clone(),
                    members.clone(),
                )
                .map_err(|e| StartError::P2p(format!("cannot read witnessed checkpoints: {e}")))?,
            };
            let witness = log.witness.clone();
            let (handle, join) = p2p::start(
                &node_key,
                &genesis.digest(),
                p2p_config,
                ledger.clone(),
                log,
                cancel.clone(),
            )
            .await
            .map_err(|e| StartError::P2p(e.to_string()))?;
            let lines: String = handle
                .listen_addrs()
                .iter()
                .map(|a| format!("{a}\n"))
                .collect();
            std::fs::write(config.data_dir.join(P2P_ADDR_FILE), lines).map_err(|source| {
                StartError::DataDir {
                    dir: dir.clone(),
                    source,
                }
            })?;
            Some((handle, join, witness))
        } else {
            None
        };
        let site_network = crate::transparency::network::Sources {
            network_id: genesis.network_id.clone(),
            genesis_digest: genesis.digest(),
            names: genesis.names.clone(),
            checkpoints: checkpoints.clone(),
            witness: p2p.as_ref().map(|(_, _, w)| w.clone()),
            p2p: p2p.as_ref().map(|(h, _, _)| h.clone()),
            ledger: ledger.clone(),
        };
        let info = NodeInfo {
            key: node_key.public(),
            network_id: genesis.network_id.clone(),
            genesis_digest: genesis.digest(),
            started: Instant::now(),
            p2p: p2p.as_ref().map(|(h, _, _)| h.clone()),
            checkpoints: checkpoints.clone(),
            witness: p2p.as_ref().map(|(_, _, w)| w.clone()),
        };
        let serve_config = ServeConfig {
            concurrency_per_connection: config.grpc.concurrency_per_connection,
            request_timeout: config.grpc.request_timeout,
            drain: config.grpc.drain,
        };
        let key = node_key.public();
        let stats = ledger.stats();
        tracing::info!(
            node = %key.to_text("node"),
            network = %genesis.network_id,
            grpc = %grpc_addr,
            entries = stats.log_size,
            feeds = stats.feeds,
            "node started"
        );

        let (p2p, p2p_task) = match p2p {
            Some((handle, join, _)) => (Some(handle), Some(join)),
            None => (None, None),
        };
        if let Some(listener) = metrics_listener {
            let (ledger, p2p, cancel) = (ledger.clone(), p2p.clone(), cancel.clone());
            let admin = admin_access.map(|access| crate::admin::routes(p2p.clone(), access));
            tokio::spawn(async move {
                if let Err(e) = crate::metrics::serve(listener, ledger, p2p, admin, cancel).await {
                    tracing::error!(error = %e, "metrics server stopped");
                }
            });
        }
        if let Some(listener) = site_listener {
            let site = crate::transparency::Site::start(
                ledger.clone(),
                site_network,
                config.transparency.k,
                cancel.clone(),
            );
            let cancel = cancel.clone();
            tokio::spawn(async move {
                if let Err(e) = crate::transparency::serve(listener, site, cancel).await {
                    tracing::error!(error = %e, "transparency site stopped");
                }
            });
        }
        let task = {
            let ledger = ledger.clone();
            let addr_file = addr_file.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let ticker = {
                    let ledger = ledger.clone();
                    let cancel = cancel.clone();
                    let checkpoints = checkpoints.clone();
                    tokio::spawn(async move {
                        let mut interval = tokio::time::interval(Ledger::TICK);
                        let mut sign = tokio::time::interval(CHECKPOINT_EVERY);
                        loop {
                            tokio::select! {
                                _ = cancel.cancelled() => break,
                                _ = interval.tick() => ledger.tick().await,
                                _ = sign.tick() => {
                                    if let Err(e) = checkpoints.refresh().await {
                                        tracing::error!(error = %e, "cannot sign a checkpoint");
                                    }
                                }
                            }
                        }
                    })
                };
                let shutdown = cancel.clone();
                let drain = serve_config.drain;
                let serving = api::serve(
                    listener,
                    ledger.clone(),
                    node_key,
                    info,
                    checkpoints,
                    serve_config,
                    shutdown,
                );
                tokio::pin!(serving);
                let (mut ticker, mut p2p_task) = (Some(ticker), p2p_task);
                // Supervision: the writer, the p2p task and the checkpoint ticker are critical.
                // If one ends before the node is asked to stop, the node stops, saying which.
                let failed = tokio::select! {
                    served = &mut serving => {
                        return finish(served.map_err(anyhow::Error::from), cancel, ticker, p2p_task, ledger, writer, addr_file).await;
                    }
                    () = cancel.cancelled() => None,
                    () = ledger.writer_stopped() => Some("the ledger's writer thread stopped (a panic is in the log above)".to_string()),
                    ended = wait(&mut ticker) => Some(format!("the checkpoint ticker stopped ({ended})")),
                    ended = wait(&mut p2p_task) => Some(format!("the p2p task stopped ({ended})")),
                };
                if let Some(why) = &failed {
                    tracing::error!(reason = %why, "a critical part of the node stopped: stopping the node");
                }
                cancel.cancel();
                let served = match tokio::time::timeout(
                    drain + std::time::Duration::from_secs(1),
                    &mut serving,
                )
                .await
                {
                    Ok(served) => served.map_err(anyhow::Error::from),
                    Err(_) => Ok(()),
                };
                let result = match failed {
                    Some(why) => Err(anyhow::anyhow!("{why}")),
                    None => served,
                };
                finish(result, cancel, ticker, p2p_task, ledger, writer, addr_file).await
            })
        };

        Ok(Node {
            p2p,
            grpc_addr,
            key,
            ledger,
            cancel,
            task,
        })
    }

    /// The p2p handle (None when replication is off).
    pub fn p2p(&self) -> Option<&P2pHandle> {
        self.p2p.as_ref()
    }

    /// The bound gRPC address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// `http://` URL of the gRPC endpoint.
    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc_addr)
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

/// Waits for a critical task to end, if there is one (forever otherwise); says how it ended and
/// forgets it, so that it is not awaited twice.
async fn wait(task: &mut Option<tokio::task::JoinHandle<()>>) -> String {
    let Some(handle) = task.as_mut() else {
        return std::future::pending().await;
    };
    let ended = handle.await;
    *task = None;
    match ended {
        Ok(()) => "it returned".into(),
        Err(e) if e.is_panic() => "it panicked; see the log".into(),
        Err(e) => e.to_string(),
    }
}

/// The ordered end of a node, whatever ended it: background work stops, the writer finishes
/// what is queued, flushes and stops, the store closes, the address files go. Returns `result`.
async fn finish(
    result: anyhow::Result<()>,
    cancel: CancellationToken,
    ticker: Option<tokio::task::JoinHandle<()>>,
    p2p_task: Option<tokio::task::JoinHandle<()>>,
    ledger: Ledger,
    writer: crate::ledger::WriterThread,
    addr_file: std::path::PathBuf,
) -> anyhow::Result<()> {
    cancel.cancel();
    if let Some(ticker) = ticker {
        let _ = ticker.await;
    }
    if let Some(p2p_task) = p2p_task {
        let _ = p2p_task.await;
    }
    ledger.shutdown().await;
    let store = ledger.hold_store();
    drop(ledger);
    tokio::task::spawn_blocking(move || writer.join()).await?;
    // Connection tasks that outlive the server may still hold a ledger handle for a
    // moment; the store (and its file lock) closes when the last one is gone.
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while store.in_use() && Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    if store.in_use() {
        tracing::warn!("the store is still in use 10 s after shutdown; closing it anyway");
    }
    drop(store);
    // The address files say where a running node listens: none outlives it.
    if let Some(dir) = addr_file.parent() {
        for name in [ADDR_FILE, P2P_ADDR_FILE, METRICS_ADDR_FILE, SITE_ADDR_FILE] {
            let _ = std::fs::remove_file(dir.join(name));
        }
    }
    tracing::info!("node stopped; store flushed");
    result
}
