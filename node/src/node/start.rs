//! A node's start-up, step by step: the transport's safety (no plain-text gRPC off loopback
//! unless asked) and TLS, genesis, data directory and identity, the store and the ledger
//! (checked), checkpoints, the gRPC listener, the side listeners, p2p, then the tasks that serve
//! and the supervisor that watches them. Each step is one function, in that order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use consent_proto::keys::SecretKey;
use libp2p::Multiaddr;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::files::{self, ADDR_FILE, P2P_ADDR_FILE, SideListeners};
use super::stop::{self, Running, Stages};
use super::{Node, StartError, open_store_with};
use crate::api::tls::{ClientCerts, Reloader, TlsFiles};
use crate::api::{self, ServeConfig, ServerTls, node::NodeInfo};
use crate::config::{ClientAuth, Config};
use crate::genesis::Genesis;
use crate::identity;
use crate::ledger::{Ledger, WriterThread};
use crate::log::checkpoints::Checkpoints;
use crate::log::witness::Witness;
use crate::members::Members;
use crate::p2p::{self, P2pConfig, P2pHandle};

/// How often the node signs a checkpoint of its log (when it grew).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Node {
    /// Opens the store, checks it, binds the gRPC port and starts serving.
    pub async fn start(config: Config) -> Result<Node, StartError> {
        refuse_plaintext(&config)?;
        let tls = load_tls(&config)?;
        let genesis = load_genesis(&config)?;
        let admin = admin_access(&config)?;
        let node_key = open_data_dir(&config)?;
        let (ledger, writer) = open_ledger(&config, &genesis)?;
        match start_on(
            config.clone(),
            genesis,
            admin,
            tls,
            node_key,
            ledger.clone(),
            writer,
        )
        .await
        {
            Ok(node) => Ok(node),
            Err((e, writer)) => {
                // Nothing serves: let the writer stop and the store close, so that a second try
                // in this process finds it unlocked.
                ledger.shutdown().await;
                drop(ledger);
                let _ = tokio::task::spawn_blocking(move || writer.join()).await;
                files::remove_all(&config.data_dir);
                Err(e)
            }
        }
    }
}

/// The steps after the ledger is open; on failure the writer is handed back to be stopped.
async fn start_on(
    config: Config,
    genesis: Genesis,
    admin: Option<crate::ops::admin::Access>,
    tls: Option<(ServerTls, Reloader)>,
    node_key: SecretKey,
    ledger: Ledger,
    writer: WriterThread,
) -> Result<Node, (StartError, WriterThread)> {
    let prepared = prepare(&config, &genesis, &node_key, &ledger).await;
    let (checkpoints, listener, grpc_addr, sides, stages, p2p) = match prepared {
        Ok(prepared) => prepared,
        Err(e) => return Err((e, writer)),
    };
    let parts = Parts {
        genesis,
        node_key,
        ledger,
        checkpoints,
        p2p,
    };
    serve_sides(&config, sides, admin, &parts, &stages);
    let (tls, reloader) = match tls {
        Some((tls, reloader)) => (Some(tls), Some(reloader)),
        None => (None, None),
    };
    log_started(&parts, grpc_addr, tls.is_some());
    let Parts {
        node_key,
        ledger,
        checkpoints,
        p2p,
        genesis,
    } = parts;
    let key = node_key.public();
    let info = NodeInfo {
        key,
        network_id: genesis.network_id.clone(),
        genesis_digest: genesis.digest(),
        started: Instant::now(),
        p2p: p2p.as_ref().map(|p| p.handle.clone()),
        checkpoints: checkpoints.clone(),
        witness: p2p.as_ref().map(|p| p.witness.clone()),
        consultation: genesis.consultation,
    };
    let serving = tokio::spawn(api::serve(
        listener,
        ledger.clone(),
        node_key,
        info,
        checkpoints.clone(),
        ServeConfig {
            concurrency_per_connection: config.grpc.concurrency_per_connection,
            request_timeout: config.grpc.request_timeout,
            drain: config.grpc.drain,
            max_connections: config.grpc.max_connections,
            max_connections_per_address: config.grpc.max_connections_per_address,
            trusted_proxies: config.grpc.trusted_proxies.clone(),
            tls: tls.clone(),
        },
        api::Stop {
            accepting: stages.accepting.clone(),
            tasks: stages.tasks.clone(),
        },
    ));
    // The certificate is reloaded for as long as connections are accepted.
    if let Some(reloader) = reloader {
        stages.tasks.spawn(reloader.run(stages.accepting.clone()));
    }
    let ticker = spawn_ticker(ledger.clone(), checkpoints, stages.background.clone());
    let (handle, p2p_task) = match p2p {
        Some(p) => (Some(p.handle), Some(p.task)),
        None => (None, None),
    };
    let task = tokio::spawn(stop::supervise(Running {
        stages: stages.clone(),
        serving,
        ticker,
        p2p_task,
        ledger: ledger.clone(),
        writer,
        data_dir: config.data_dir.clone(),
    }));
    Ok(Node {
        p2p: handle,
        grpc_addr,
        tls: tls.is_some(),
        key,
        ledger,
        cancel: stages.asked,
        task,
    })
}

/// What is made ready before anything serves.
type Prepared = (
    Checkpoints,
    TcpListener,
    SocketAddr,
    SideListeners,
    Stages,
    Option<P2pParts>,
);

/// Checkpoints, the listeners, and p2p (which starts replicating here).
async fn prepare(
    config: &Config,
    genesis: &Genesis,
    node_key: &SecretKey,
    ledger: &Ledger,
) -> Result<Prepared, StartError> {
    warn_if_not_a_member(&genesis.members(), node_key);
    let checkpoints = Checkpoints::open(ledger.clone(), node_key.clone(), genesis.members())?;
    let (listener, grpc_addr) = bind_grpc(config).await?;
    let sides = files::bind_sides(config).await?;
    let stages = Stages::new();
    let p2p = match config.p2p.enabled {
        true => Some(start_p2p(config, genesis, node_key, ledger, &checkpoints, &stages).await?),
        false => None,
    };
    Ok((checkpoints, listener, grpc_addr, sides, stages, p2p))
}

/// gRPC in plain text is served on loopback only, unless the operator asked for it elsewhere
/// (`--insecure-plaintext`): off loopback, session tokens would cross the network readable.
fn refuse_plaintext(config: &Config) -> Result<(), StartError> {
    let addr = config.grpc_listen;
    if addr.ip().to_canonical().is_loopback() || config.tls.enabled() {
        return Ok(());
    }
    if !config.insecure_plaintext {
        return Err(StartError::Plaintext { addr });
    }
    tracing::warn!(
        %addr,
        "serving gRPC in plain text off loopback (--insecure-plaintext): session tokens and every answer cross the network readable"
    );
    Ok(())
}

/// The gRPC listener's TLS, from `[tls]` (read and checked now: files that cannot be used stop
/// the start), and the reloader of its certificate.
fn load_tls(config: &Config) -> Result<Option<(ServerTls, Reloader)>, StartError> {
    config.tls.check()?;
    let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) else {
        return Ok(None);
    };
    let collectors = config.tls.collector_ids()?;
    let clients = config.tls.client_ca.as_ref().map(|ca| ClientCerts {
        ca: ca.clone(),
        required: config.tls.client_auth == ClientAuth::Required,
        collectors,
    });
    let files = TlsFiles {
        cert: cert.clone(),
        key: key.clone(),
        clients,
    };
    Ok(Some(crate::api::tls::load(files)?))
}

/// The admin calls' access rule, when they are served (beside the metrics).
fn admin_access(config: &Config) -> Result<Option<crate::ops::admin::Access>, StartError> {
    match config.admin.enabled && config.metrics.enabled {
        true => crate::ops::admin::Access::from_token_file(config.admin.token_file.as_deref())
            .map(Some)
            .map_err(StartError::from),
        false => Ok(None),
    }
}

/// What the later steps share.
struct Parts {
    genesis: Genesis,
    node_key: SecretKey,
    ledger: Ledger,
    checkpoints: Checkpoints,
    p2p: Option<P2pParts>,
}

/// A started p2p layer.
struct P2pParts {
    handle: P2pHandle,
    task: JoinHandle<()>,
    witness: Witness,
}

/// The genesis file, or the built-in development network (with a warning).
fn load_genesis(config: &Config) -> Result<Genesis, StartError> {
    Ok(match &config.genesis {
        Some(path) => Genesis::load(path)?,
        None => {
            tracing::warn!(
                "no genesis file given: running the built-in development network, whose registrar key is public"
            );
            Genesis::dev()
        }
    })
}

/// Creates the data directory if needed (mode 0700: it holds the node's key, the store and the
/// transparency register's file); the node's key in it (created on first start).
fn open_data_dir(config: &Config) -> Result<SecretKey, StartError> {
    let dir = || config.data_dir.display().to_string();
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        // A directory that exists keeps the mode its operator gave it.
        builder.mode(0o700);
    }
    builder
        .create(&config.data_dir)
        .map_err(|source| StartError::DataDir { dir: dir(), source })?;
    identity::load_or_create(&config.data_dir)
        .map_err(|source| StartError::DataDir { dir: dir(), source })
}

/// Opens the store and the ledger on it (checked at open; a corrupt store is refused).
fn open_ledger(config: &Config, genesis: &Genesis) -> Result<(Ledger, WriterThread), StartError> {
    let store = open_store_with(
        &config.data_dir,
        config.store.engine,
        config.store.cache_mib,
    )
    .map_err(|source| StartError::Store {
        dir: config.data_dir.display().to_string(),
        source,
    })?;
    // The metrics registry: the ledger's writer and the gRPC handlers record into it, the
    // operations listener serves it.
    let ledger_config = crate::ledger::LedgerConfig {
        metrics: Arc::new(crate::metrics::Metrics::default()),
        consultation: genesis.consultation,
        ..config.ledger_config()
    };
    Ok(Ledger::open(
        store,
        genesis.registrar_feeds(),
        &genesis.digest(),
        ledger_config,
    )?)
}

/// A node missing from a listed genesis still runs, but the network will not count it.
fn warn_if_not_a_member(members: &Members, node_key: &SecretKey) {
    if members.is_listed() && !members.contains_key(&node_key.public()) {
        tracing::warn!(
            node = %node_key.public().to_text("node"),
            "this node is not in the genesis file's member list: the network's nodes will not witness it, take its cosignatures or keep connection slots for it; ask the coordinator to add it"
        );
    }
}

/// Binds the gRPC port and writes its address file.
async fn bind_grpc(config: &Config) -> Result<(TcpListener, SocketAddr), StartError> {
    let bind = |source| StartError::Bind {
        addr: config.grpc_listen,
        source,
    };
    let listener = TcpListener::bind(config.grpc_listen).await.map_err(bind)?;
    let addr = listener.local_addr().map_err(bind)?;
    files::write(&config.data_dir, ADDR_FILE, &format!("{addr}\n"))?;
    Ok((listener, addr))
}

/// Starts replication (stops at stage 2) and writes the p2p address file.
async fn start_p2p(
    config: &Config,
    genesis: &Genesis,
    node_key: &SecretKey,
    ledger: &Ledger,
    checkpoints: &Checkpoints,
    stages: &Stages,
) -> Result<P2pParts, StartError> {
    let parse = |list: &[String], what: &'static str| -> Result<Vec<Multiaddr>, StartError> {
        list.iter()
            .map(|a| {
                a.parse::<Multiaddr>()
                    .map_err(|source| StartError::P2pAddress {
                        what,
                        addr: a.clone(),
                        source,
                    })
            })
            .collect()
    };
    let mut bootstrap = parse(&genesis.bootstrap, "genesis bootstrap")?;
    bootstrap.extend(parse(&config.p2p.bootstrap, "bootstrap")?);
    let members = genesis.members();
    let p2p_config = P2pConfig {
        listen: parse(&config.p2p.listen, "listen")?,
        bootstrap,
        mdns: config.p2p.mdns,
        members: members.clone(),
    };
    let witness =
        Witness::open(ledger.clone(), node_key.clone(), members).map_err(StartError::Witness)?;
    let log = p2p::cosigning::LogParts {
        checkpoints: checkpoints.clone(),
        witness: witness.clone(),
    };
    let (handle, task) = p2p::start(
        node_key,
        &genesis.digest(),
        p2p_config,
        ledger.clone(),
        log,
        stages.background.clone(),
    )
    .await?;
    let lines: String = handle
        .listen_addrs()
        .iter()
        .map(|a| format!("{a}\n"))
        .collect();
    files::write(&config.data_dir, P2P_ADDR_FILE, &lines)?;
    Ok(P2pParts {
        handle,
        task,
        witness,
    })
}

/// Serves the side listeners (metrics and admin; the transparency site) on tracked tasks that
/// stop accepting at stage 1; the site's register follows the log until stage 2.
fn serve_sides(
    config: &Config,
    sides: SideListeners,
    admin: Option<crate::ops::admin::Access>,
    parts: &Parts,
    stages: &Stages,
) {
    let handle = parts.p2p.as_ref().map(|p| p.handle.clone());
    if let Some(listener) = sides.metrics {
        let served = crate::ops::serve(
            listener,
            parts.ledger.clone(),
            handle.clone(),
            Arc::clone(parts.ledger.metrics()),
            admin,
            stages.accepting.clone(),
        );
        stages.tasks.spawn(async move {
            if let Err(e) = served.await {
                tracing::error!(error = %e, "metrics server stopped");
            }
        });
    }
    if let Some(listener) = sides.site {
        let network = crate::transparency::network::Sources {
            network_id: parts.genesis.network_id.clone(),
            genesis_digest: parts.genesis.digest(),
            names: parts.genesis.names.clone(),
            checkpoints: parts.checkpoints.clone(),
            witness: parts.p2p.as_ref().map(|p| p.witness.clone()),
            p2p: handle,
            ledger: parts.ledger.clone(),
        };
        let site = crate::transparency::Site::start(
            parts.ledger.clone(),
            network,
            config.transparency.k,
            &config.data_dir,
            &parts.node_key,
            &stages.tasks,
            stages.background.clone(),
        );
        let served = crate::transparency::serve(listener, site, stages.accepting.clone());
        stages.tasks.spawn(async move {
            if let Err(e) = served.await {
                tracing::error!(error = %e, "transparency site stopped");
            }
        });
    }
}

/// The ticker: the writer's periodic work (pending expiry) and the node's signed checkpoints.
/// Critical: the supervisor stops the node if it ends before stage 2.
fn spawn_ticker(
    ledger: Ledger,
    checkpoints: Checkpoints,
    stop: tokio_util::sync::CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Ledger::TICK);
        let mut sign = tokio::time::interval(CHECKPOINT_EVERY);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                // Each piece of work also gives way to the stop, so stage 2 never waits for it.
                _ = interval.tick() => tokio::select! {
                    _ = stop.cancelled() => break,
                    () = ledger.tick() => {}
                },
                _ = sign.tick() => tokio::select! {
                    _ = stop.cancelled() => break,
                    signed = checkpoints.refresh() => if let Err(e) = signed {
                        tracing::error!(error = %e, "cannot sign a checkpoint");
                    }
                },
            }
        }
    })
}

/// One line saying who started, where, with how much.
fn log_started(parts: &Parts, grpc_addr: SocketAddr, tls: bool) {
    let stats = parts.ledger.stats();
    tracing::info!(
        node = %parts.node_key.public().to_text("node"),
        network = %parts.genesis.network_id,
        grpc = %grpc_addr,
        tls,
        entries = stats.log_size,
        feeds = stats.feeds,
        "node started"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data directory the node creates is its user's only: whoever else can write it could
    /// plant files the node reads (the transparency register) or links it writes through.
    #[cfg(unix)]
    #[test]
    fn a_data_directory_the_node_creates_is_its_user_s_only() {
        use std::os::unix::fs::PermissionsExt;
        let temp = tempfile::tempdir().expect("a temporary directory");
        let config = Config {
            data_dir: temp.path().join("node"),
            ..Config::default()
        };
        open_data_dir(&config).expect("created");
        let mode = std::fs::metadata(&config.data_dir)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        open_data_dir(&config).expect("opened again, with its key");
    }
}
