//! What the crash tests share: the real `consentd` binary started in a data directory (plain or
//! under `strace` fault injection), a genesis, gRPC clients, and writers that submit citizens and
//! grants until the node dies under them, reporting every acknowledged entry.
#![allow(dead_code)]

#[path = "../../../../tests/src/http.rs"]
pub mod http;
pub mod proc;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::pb;
use consent_proto::vocab::{DataCategory, Purpose, Role};
use consent_proto::{EntryId, FeedId};
use tokio::sync::mpsc::UnboundedSender;
use tonic::transport::Channel;

/// A running `consentd` (or the `strace` wrapping it), killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// `kill -9` and reap.
    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the process to exit (at most `bound`); returns its exit status
    /// and how long the stop took.
    pub fn terminate(&mut self, bound: Duration) -> (std::process::ExitStatus, Duration) {
        let asked = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM sent");
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status, asked.elapsed());
            }
            assert!(
                asked.elapsed() < bound,
                "the node did not exit within {bound:?} of SIGTERM; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The first dialable p2p address (with /p2p/<peer id>).
    pub fn p2p_addr(&self) -> String {
        let file = self.dir.join("p2p.addr");
        let text = wait_for(&file, &self.dir.with_extension("log"));
        text.lines().next().unwrap_or_default().to_string()
    }

    /// Attaches `strace` to every thread of the running node so that the next call of one of
    /// `calls` (e.g. "fsync,fdatasync") by any thread is answered with SIGKILL: the process dies
    /// inside that call. Returns the tracer, which exits with the node.
    pub fn kill_at_next(&self, calls: &str) -> Child {
        Command::new("strace")
            .args(["-f", "-o", "/dev/null", "-e"])
            .arg(format!("trace={calls}"))
            .arg("-e")
            .arg(format!("inject={calls}:signal=KILL:when=1"))
            .arg("-p")
            .arg(self.child.id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("strace starts")
    }

    /// The log the node wrote so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.with_extension("log")).unwrap_or_default()
    }
}

/// What a running node's `/metrics` says of its memory: `consent_memory_bytes` by part and
/// `consent_cached_items` by cache, as (label value, value); empty if it cannot be read.
pub fn memory_report(dir: &Path) -> Vec<(String, f64)> {
    let Ok(addr) = std::fs::read_to_string(dir.join("metrics.addr")) else {
        return Vec::new();
    };
    let (_, body) = http::get(addr.trim(), "/metrics");
    body.lines()
        .filter_map(|line| {
            let rest = line
                .strip_prefix("consent_memory_bytes{part=\"")
                .or_else(|| line.strip_prefix("consent_cached_items{cache=\""))?;
            let (label, value) = rest.split_once("\"} ")?;
            Some((label.to_string(), value.parse().ok()?))
        })
        .collect()
}

pub fn consentd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_consentd"))
}

/// How to start a node.
#[derive(Default, Clone)]
pub struct Launch {
    /// Storage engine (the node's default, fjall, when empty).
    pub engine: String,
    /// Peers to dial.
    pub bootstrap: Vec<String>,
}

/// Writes a genesis whose registrar is the fixtures' scene registrar.
pub fn genesis(path: &Path, network: &str) {
    let status = consentd()
        .args(["genesis", "--network-id", network, "--registrar"])
        .arg(
            fixtures::author(Role::Registrar, "registrar", T0)
                .0
                .feed()
                .typed(Role::Registrar)
                .to_string(),
        )
        .arg("--out")
        .arg(path)
        .status()
        .expect("genesis");
    assert!(status.success());
}

/// Whether `strace` can inject faults here (installed, ptrace permitted).
pub fn strace_works() -> bool {
    Command::new("strace")
        .args(["-o", "/dev/null", "-e", "trace=none", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Starts a node in `dir` and waits for its gRPC address.
pub fn start(dir: &Path, genesis: &Path, launch: &Launch) -> (Daemon, String) {
    std::fs::create_dir_all(dir).expect("data dir");
    let _ = std::fs::remove_file(dir.join("grpc.addr"));
    let _ = std::fs::remove_file(dir.join("p2p.addr"));
    let log_path = dir.with_extension("log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut cmd = consentd();
    if !launch.engine.is_empty() {
        cmd.args(["--store-engine", &launch.engine]);
    }
    cmd.args([
        "--grpc-listen",
        "127.0.0.1:0",
        "--log-level",
        "warn,consent_node::p2p::task=info",
        "--genesis",
    ])
    .arg(genesis)
    .arg("--data-dir")
    .arg(dir);
    for peer in &launch.bootstrap {
        cmd.args(["--bootstrap", peer]);
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("consentd starts");
    let daemon = Daemon {
        child,
        dir: dir.to_path_buf(),
    };
    let addr = wait_for(&dir.join("grpc.addr"), &log_path);
    (daemon, format!("http://{}", addr.trim()))
}

fn wait_for(file: &Path, log: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(text) = std::fs::read_to_string(file)
            && text.ends_with('\n')
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "consentd did not write {}: {}",
            file.display(),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub async fn channel(url: &str) -> Channel {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Channel::from_shared(url.to_string())
            .expect("url")
            .connect()
            .await
        {
            Ok(c) => return c,
            Err(e) => {
                assert!(Instant::now() < deadline, "cannot connect to {url}: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

pub async fn client(url: &str) -> pb::ledger_client::LedgerClient<Channel> {
    pb::ledger_client::LedgerClient::new(channel(url).await)
}

pub async fn status(url: &str) -> pb::StatusResponse {
    pb::node_client::NodeClient::new(channel(url).await)
        .status(pb::StatusRequest::default())
        .await
        .expect("status")
        .into_inner()
}

/// Submits the scene's registrar, collector, policy and accreditation.
pub async fn submit_scene(url: &str, scene: &fixtures::Scene) {
    let mut ledger = client(url).await;
    for e in &scene.entries {
        ledger
            .submit(pb::SubmitRequest {
                entry: Some(e.to_signed()),
            })
            .await
            .expect("scene");
    }
}

/// Acknowledgements writers report.
pub struct Acks {
    /// Every acknowledged entry.
    pub entries: UnboundedSender<EntryId>,
    /// Citizens whose grant was acknowledged.
    pub grants: UnboundedSender<FeedId>,
}

/// Spawns `n` writers that submit a citizen and its grant to the scene's collector, one after
/// the other, until a submit fails; each returns why it stopped.
pub fn spawn_writers(
    url: &str,
    scene: &fixtures::Scene,
    tag: &str,
    n: u32,
    acks: &Acks,
) -> Vec<tokio::task::JoinHandle<String>> {
    (0..n)
        .map(|w| {
            let url = url.to_string();
            let tag = format!("{tag}-w{w}");
            let (tx, grants_tx) = (acks.entries.clone(), acks.grants.clone());
            let (collector, policy) = (scene.collector.feed(), scene.policy);
            tokio::spawn(async move {
                let mut ledger = client(&url).await;
                for i in 0u64.. {
                    let (mut c, c0) = fixtures::author(Role::Citizen, &format!("{tag}-{i}"), T0);
                    let g = fixtures::append(
                        &mut c,
                        T0 + DAY,
                        fixtures::grant(
                            collector,
                            policy,
                            &[Purpose::Research],
                            &[DataCategory::Location],
                            T0,
                            None,
                        ),
                    );
                    let citizen = c.feed();
                    for e in [c0, g] {
                        let is_grant = e.seq == 1;
                        match ledger
                            .submit(pb::SubmitRequest {
                                entry: Some(e.to_signed()),
                            })
                            .await
                        {
                            Ok(r) if r.get_ref().status() == pb::SubmitStatus::Accepted => {
                                if is_grant {
                                    let _ = grants_tx.send(citizen);
                                }
                                if tx.send(e.id).is_err() {
                                    return String::from("stopped by the test");
                                }
                            }
                            Ok(r) => return format!("not accepted: {:?}", r.get_ref()),
                            Err(status) => return format!("submit failed: {status}"),
                        }
                    }
                }
                String::from("ran out of citizens")
            })
        })
        .collect()
}

/// After the crashes: every acknowledged entry is served and every acknowledged grant allows.
pub async fn assert_survived(
    url: &str,
    scene: &fixtures::Scene,
    acknowledged: &[EntryId],
    citizens: &[FeedId],
) {
    let mut ledger = client(url).await;
    for id in acknowledged {
        ledger
            .get_entry(pb::GetEntryRequest {
                id: prost::bytes::Bytes::copy_from_slice(&id.0),
            })
            .await
            .unwrap_or_else(|e| panic!("acknowledged entry {id} was lost: {e}"));
    }
    let mut collector = consent_client::collector::Collector::connect(
        url,
        scene.collector.key().clone(),
        scene.collector.feed(),
    )
    .await
    .expect("collector session");
    for chunk in citizens.chunks(1_000) {
        let checks = chunk
            .iter()
            .map(|c| collector.request(*c, Purpose::Research, DataCategory::Location))
            .collect();
        let answers = collector.check_batch(checks).await.expect("checks");
        for (c, a) in chunk.iter().zip(answers) {
            assert_eq!(
                a.decision(),
                pb::Decision::Allow,
                "acknowledged grant of {c:?} no longer allows: {:?}",
                a.reason()
            );
        }
    }
}

/// `consentd check-store --full` on a stopped node's data directory (`engine` empty: the one
/// the directory holds).
pub fn assert_store_checks(dir: &Path, genesis: &Path, engine: &str) {
    let mut cmd = consentd();
    cmd.args(["check-store", "--full"]);
    if !engine.is_empty() {
        cmd.args(["--store-engine", engine]);
    }
    let out = cmd
        .arg("--genesis")
        .arg(genesis)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .expect("check-store");
    assert!(
        out.status.success(),
        "store check failed in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
