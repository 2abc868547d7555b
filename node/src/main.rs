//! `consentd`: runs a consent-ledger node, writes genesis files, checks stores.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use consent_node::config::{Config, LogFormat};
use consent_node::genesis::Genesis;
use consent_node::{Node, logging};

/// jemalloc rather than glibc malloc: see the note in `Cargo.toml`.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's heap figures, for `/metrics` (`None` if it will not say).
fn heap() -> Option<consent_node::ops::HeapStats> {
    use tikv_jemalloc_ctl::{epoch, stats};
    // The statistics are a snapshot refreshed by advancing the epoch.
    epoch::advance().ok()?;
    let read = |v: Result<usize, tikv_jemalloc_ctl::Error>| v.ok().map(|b| b as u64);
    Some(consent_node::ops::HeapStats {
        allocated: read(stats::allocated::read())?,
        resident: read(stats::resident::read())?,
        metadata: read(stats::metadata::read())?,
    })
}

/// A consent-ledger node: validates, stores and serves signed consent feeds over gRPC.
#[derive(Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node (the default).
    Run(RunArgs),
    /// Write a network genesis file.
    Genesis(GenesisArgs),
    /// Check a node's store without serving it: every table, the log's block rows and the
    /// start-up position (a start checks only what came after its position). A store with
    /// findings loses its start-up position, so the next start checks it whole. With --full,
    /// also the transparency register saved in the data directory, against the log.
    CheckStore(CheckArgs),
    /// TLS certificates.
    #[command(subcommand)]
    Tls(TlsCommand),
}

#[derive(Subcommand)]
enum TlsCommand {
    /// Write throwaway development certificates: a CA, a node certificate for 127.0.0.1, ::1
    /// and localhost, and a collector's client certificate; prints the `[tls]` lines to use.
    /// Never for a real network.
    DevCerts(DevCertsArgs),
}

#[derive(Args)]
struct DevCertsArgs {
    /// Directory to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Replace the files of an earlier set (otherwise they are refused, and nothing is written).
    #[arg(long)]
    force: bool,
    /// Name this collector (col1…) in the collector's certificate: a node then opens sessions
    /// over it for that collector only, and `[tls] collectors` can list it.
    #[arg(long, value_name = "COLLECTOR_ID")]
    collector: Option<String>,
}

#[derive(Args, Clone, Default)]
struct RunArgs {
    /// TOML configuration file (see example.config.toml).
    #[arg(long, env = "CONSENTD_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (store and node key). Overrides the config file.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// gRPC listen address, e.g. 127.0.0.1:50051. Overrides the config file. Off loopback it
    /// needs [tls] in the config file, or --insecure-plaintext.
    #[arg(long)]
    grpc_listen: Option<std::net::SocketAddr>,
    /// Serve gRPC in plain text on a non-loopback address (without [tls] the node refuses to):
    /// session tokens cross the network readable. Only on a network you trust end to end.
    #[arg(long)]
    insecure_plaintext: bool,
    /// Network genesis file. Without one the node runs the built-in development network.
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
    /// Log filter, e.g. "info" or "consent_node=debug".
    #[arg(long)]
    log_level: Option<String>,
    /// Storage engine: fjall for a new data directory unless given; a data directory keeps the
    /// engine it was created with.
    #[arg(long, value_enum)]
    store_engine: Option<consent_node::config::Engine>,
    /// A peer to dial at start (multiaddr ending in /p2p/<peer id>); repeat for each. Added to
    /// the config file's list.
    #[arg(long = "bootstrap", value_name = "MULTIADDR")]
    bootstrap: Vec<String>,
    /// Find nodes of the same network on the local network (mDNS).
    #[arg(long)]
    mdns: bool,
}

#[derive(Args)]
struct GenesisArgs {
    /// Network id: a-z, 0-9 and -, e.g. "springfield".
    #[arg(long)]
    network_id: String,
    /// A registrar feed id (reg1...); repeat for each registrar.
    #[arg(long = "registrar")]
    registrars: Vec<String>,
    /// Include the public development registrar (local test networks only).
    #[arg(long)]
    dev_registrar: bool,
    /// A bootstrap peer multiaddr; repeat for each.
    #[arg(long = "bootstrap")]
    bootstrap: Vec<String>,
    /// A member node of the network (node1..., the node id its log prints at start); repeat for
    /// each. Only members witness each other, and connection slots and freshness are theirs. Not
    /// part of the digest.
    #[arg(long = "node", value_name = "NODE_ID")]
    nodes: Vec<String>,
    /// Refuse connections from nodes not listed with --node.
    #[arg(long, requires = "nodes")]
    members_only: bool,
    /// Who runs a node or a registrar, for the transparency page: ID=NAME (node1... or reg1...);
    /// repeat for each. Not part of the digest.
    #[arg(long = "name", value_name = "ID=NAME")]
    names: Vec<String>,
    /// Require public consultations: a policy version that widens what is collected must stay
    /// open for at least this many days (1..=365) and takes effect only when a registrar
    /// approves it. Part of the digest. Give --objection-threshold too.
    #[arg(long, value_name = "DAYS", requires = "objection_threshold")]
    consultation_days: Option<u32>,
    /// With --consultation-days: objection reasons raised by at least this many objecting
    /// stances need the collector's response before a registrar may approve (1..=1000000). Not
    /// part of the digest.
    #[arg(long, value_name = "STANCES", requires = "consultation_days")]
    objection_threshold: Option<u64>,
    /// Write here instead of standard output.
    #[arg(long, short)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct CheckArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Replay every entry (re-verifying every signature) and compare all derived state; then
    /// rebuild the transparency register from the log and compare it with the one saved in the
    /// data directory (one that differs is deleted).
    #[arg(long)]
    full: bool,
}

impl RunArgs {
    fn config(&self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if let Some(d) = &self.data_dir {
            config.data_dir = d.clone();
        }
        if let Some(a) = self.grpc_listen {
            config.grpc_listen = a;
        }
        config.insecure_plaintext |= self.insecure_plaintext;
        if let Some(g) = &self.genesis {
            config.genesis = Some(g.clone());
        }
        if let Some(f) = self.log_format {
            config.log_format = f;
        }
        if let Some(l) = &self.log_level {
            config.log_level = l.clone();
        }
        if let Some(e) = self.store_engine {
            config.store.engine = Some(e);
        }
        config.p2p.bootstrap.extend(self.bootstrap.iter().cloned());
        config.p2p.mdns |= self.mdns;
        Ok(config)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Genesis(args)) => genesis(args),
        Some(Command::CheckStore(args)) => check_store(args),
        Some(Command::Tls(TlsCommand::DevCerts(args))) => dev_certs(args),
        Some(Command::Run(args)) => run(args),
        None => run(cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("consentd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    logging::init(config.log_format, &config.log_level).map_err(anyhow::Error::msg)?;
    consent_node::ops::report_heap_with(heap);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let node = Node::start(config).await?;
        let token = node.shutdown_token();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("signal received, shutting down");
            token.cancel();
        });
        node.join().await
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn genesis(args: GenesisArgs) -> anyhow::Result<()> {
    let mut registrars = args.registrars;
    if args.dev_registrar {
        registrars.extend(Genesis::dev().registrars);
    }
    let genesis = Genesis {
        network_id: args.network_id,
        registrars,
        bootstrap: args.bootstrap,
        nodes: args.nodes.iter().map(|n| n.trim().to_string()).collect(),
        members_only: args.members_only,
        names: args
            .names
            .iter()
            .map(|pair| match pair.split_once('=') {
                Some((id, name)) => Ok((id.trim().to_string(), name.trim().to_string())),
                None => Err(anyhow::anyhow!(
                    "--name {pair:?}: write ID=NAME, e.g. --name \"node1...=City IT department\""
                )),
            })
            .collect::<anyhow::Result<_>>()?,
        consultation: match (args.consultation_days, args.objection_threshold) {
            (Some(widening_min_days), Some(objection_threshold)) => {
                Some(consent_node::genesis::ConsultationSection {
                    widening_min_days,
                    objection_threshold,
                })
            }
            (None, None) => None,
            _ => {
                anyhow::bail!("give both --consultation-days and --objection-threshold, or neither")
            }
        },
    };
    genesis.check().map_err(anyhow::Error::msg)?;
    let text = genesis.to_toml().map_err(anyhow::Error::msg)?;
    match args.out {
        Some(path) => {
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {} (digest {})", path.display(), genesis.digest());
        }
        None => print!("{text}"),
    }
    Ok(())
}

fn dev_certs(args: DevCertsArgs) -> anyhow::Result<()> {
    let collector = args
        .collector
        .as_deref()
        .map(|text| {
            consent_proto::TypedFeedId::parse_role(text, consent_proto::vocab::Role::Collector)
                .with_context(|| {
                    format!("--collector {text:?}: give a collector id (the col1… that `consent collector init` printed)")
                })
        })
        .transpose()?;
    let written = consent_node::devcerts::write(&args.out, args.force, collector)?;
    for file in &written.files {
        println!("wrote {}", file.display());
    }
    println!();
    print!("{}", consent_node::devcerts::instructions(&written));
    Ok(())
}

fn check_store(args: CheckArgs) -> anyhow::Result<()> {
    use consent_node::ledger::fsck;
    let config = args.run.config()?;
    let genesis = match &config.genesis {
        Some(path) => Genesis::load(path)?,
        None => Genesis::dev(),
    };
    let engine = consent_node::config::Engine::resolve(config.store.engine, &config.data_dir);
    let dir = config.data_dir.join(engine.dir_name());
    if !dir.exists() {
        anyhow::bail!(
            "no {engine:?} store at {}; pass the node's --data-dir (and --store-engine if it is not the one there)",
            dir.display()
        );
    }
    let store = consent_node::node::open_store(&config.data_dir, Some(engine))
        .map_err(anyhow::Error::msg)?;
    fsck::prepare(&*store, &genesis.digest())?;
    // A store with findings loses its start-up position: the next start checks it whole.
    if let Err(found) = fsck::offline(&*store, &genesis.registrar_feeds(), args.full) {
        anyhow::bail!("{found}");
    }
    let size = store.size_on_disk().unwrap_or(0);
    println!(
        "store {} is consistent ({} bytes on disk{})",
        dir.display(),
        size,
        if args.full {
            ", every entry replayed"
        } else {
            ""
        }
    );
    if args.full {
        // The transparency register saved beside the store: rebuilt from the log and compared.
        let register = consent_node::node::check_saved_register(store, &genesis, &config.data_dir)?;
        if register.is_finding() {
            anyhow::bail!("{register}");
        }
        println!("{register}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_lists_member_nodes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("genesis.toml");
        let node = consent_proto::keys::SecretKey::from_seed(&[3; 32])
            .public()
            .to_text("node");
        let cli = Cli::try_parse_from([
            "consentd",
            "genesis",
            "--network-id",
            "city",
            "--dev-registrar",
            "--node",
            node.as_str(),
            "--members-only",
            "--out",
            out.to_str().expect("a UTF-8 path"),
        ])
        .expect("parses");
        let Some(Command::Genesis(args)) = cli.command else {
            panic!("not the genesis command");
        };
        genesis(args).expect("written");
        let written = Genesis::load(&out).expect("loads");
        assert_eq!(written.nodes, vec![node]);
        assert!(written.members_only);
        let alone = [
            "consentd",
            "genesis",
            "--network-id",
            "city",
            "--members-only",
        ];
        assert!(
            Cli::try_parse_from(alone).is_err(),
            "--members-only needs --node"
        );
    }

    #[test]
    fn genesis_writes_the_consultation_section() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("genesis.toml");
        let base = [
            "consentd",
            "genesis",
            "--network-id",
            "city",
            "--dev-registrar",
        ];
        let cli = Cli::try_parse_from(base.iter().copied().chain([
            "--consultation-days",
            "14",
            "--objection-threshold",
            "3",
            "--out",
            out.to_str().expect("a UTF-8 path"),
        ]))
        .expect("parses");
        let Some(Command::Genesis(args)) = cli.command else {
            panic!("not the genesis command");
        };
        genesis(args).expect("written");
        let written = Genesis::load(&out).expect("loads");
        assert_eq!(
            written.consultation,
            Some(consent_node::genesis::ConsultationSection {
                widening_min_days: 14,
                objection_threshold: 3,
            })
        );
        for half in [
            ["--consultation-days", "14"],
            ["--objection-threshold", "3"],
        ] {
            assert!(
                Cli::try_parse_from(base.iter().copied().chain(half)).is_err(),
                "{half:?} alone"
            );
        }
        let cli = Cli::try_parse_from(base.iter().copied().chain([
            "--consultation-days",
            "0",
            "--objection-threshold",
            "3",
        ]))
        .expect("parses");
        let Some(Command::Genesis(args)) = cli.command else {
            panic!("not the genesis command");
        };
        assert!(genesis(args).is_err(), "0 days is refused");
    }

    #[test]
    fn insecure_plaintext_is_a_flag_of_run() {
        let cli = Cli::try_parse_from([
            "consentd",
            "run",
            "--grpc-listen",
            "0.0.0.0:50051",
            "--insecure-plaintext",
        ])
        .expect("parses");
        let Some(Command::Run(args)) = cli.command else {
            panic!("not the run command");
        };
        let config = args.config().expect("config");
        assert!(config.insecure_plaintext);
        let cli = Cli::try_parse_from(["consentd"]).expect("parses");
        assert!(!cli.run.config().expect("config").insecure_plaintext);
    }

    #[test]
    fn tls_dev_certs_writes_into_the_directory_given() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("tls");
        let args = ["consentd", "tls", "dev-certs", "--out"];
        let cli = Cli::try_parse_from(args.iter().copied().chain([out.to_str().expect("UTF-8")]))
            .expect("parses");
        let Some(Command::Tls(TlsCommand::DevCerts(args))) = cli.command else {
            panic!("not the tls dev-certs command");
        };
        assert!(!args.force);
        dev_certs(args).expect("written");
        assert!(out.join(consent_node::devcerts::NODE_KEY).is_file());
    }

    #[test]
    fn jemalloc_reports_the_heap_it_holds() {
        let before = heap().expect("jemalloc statistics are compiled in");
        let block = vec![1u8; 16 << 20];
        let during = heap().expect("statistics");
        assert!(
            during.allocated >= before.allocated + (16 << 20),
            "{before:?} -> {during:?}"
        );
        assert!(during.resident >= during.allocated && during.metadata > 0);
        drop(std::hint::black_box(block));
    }
}
