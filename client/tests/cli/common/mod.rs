//! Helpers shared by the CLI tests: a temporary directory, a node, and `consent` runs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use consent_node::Node;
use consent_node::clock::Clock;
use consent_node::config::Config;
use consent_node::genesis::{ConsultationSection, Genesis};
use serde_json::Value;

pub const PASS: &str = "correct horse battery staple";

pub struct Env {
    pub dir: tempfile::TempDir,
    pub node: Option<Node>,
}

impl Env {
    /// Recovers the wallet `keystore` from the master secret `master` (its recovery key), as
    /// `consent wallet recover` does on a second device; expects success.
    pub async fn recover_from(&self, keystore: &str, master: &[u8; 32]) {
        let key = consent_client::keystore::recovery_key(master);
        let out = self
            .run_env(
                keystore,
                &["--json", "wallet", "recover"],
                &[
                    ("CONSENT_PASSPHRASE", PASS),
                    ("CONSENT_RECOVERY_KEY", key.as_str()),
                ],
            )
            .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn url(&self) -> String {
        self.node
            .as_ref()
            .map(|n| n.grpc_url())
            .unwrap_or_else(|| "http://127.0.0.1:9".into())
    }

    /// Runs `consent` with the node, a keystore and the test passphrase.
    pub async fn run(&self, keystore: &str, args: &[&str]) -> Output {
        self.run_env(keystore, args, &[("CONSENT_PASSPHRASE", PASS)])
            .await
    }

    pub async fn run_env(&self, keystore: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_consent"));
        cmd.arg("--node")
            .arg(self.url())
            .arg("--keystore")
            .arg(self.path(keystore))
            .arg("--kdf-memory-kib")
            .arg("8192");
        cmd.args(args)
            .env_remove("CONSENT_PASSPHRASE")
            .env_remove("CONSENT_NODE")
            .env_remove("CONSENT_KEYSTORE")
            // A developer's TLS settings would be refused with the tests' http:// nodes.
            .env_remove("CONSENT_CA_CERT")
            .env_remove("CONSENT_CLIENT_CERT")
            .env_remove("CONSENT_CLIENT_KEY")
            // Exact times, sent at once: these tests grant and check at once. The privacy tests
            // turn it off (`CONSENT_NOW=0`) to test the wallet's default.
            .env("CONSENT_NOW", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.env(
            consent_client::time::TEST_CLOCK_SHIFT_VAR,
            test_clock::shift_ms().to_string(),
        );
        test_clock::sync();
        cmd.stdin(std::process::Stdio::null());
        cmd.output().await.expect("consent runs")
    }

    /// Runs `consent --node NODE` (as given, e.g. `host:port` from `<data-dir>/grpc.addr`) with a
    /// keystore and the test passphrase; expects success and parses the one JSON object printed.
    pub async fn json_at(&self, node: &str, keystore: &str, args: &[&str]) -> Value {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_consent"))
            .arg("--node")
            .arg(node)
            .arg("--keystore")
            .arg(self.path(keystore))
            .arg("--kdf-memory-kib")
            .arg("8192")
            .arg("--json")
            .args(args)
            .env("CONSENT_PASSPHRASE", PASS)
            .env_remove("CONSENT_NODE")
            .env_remove("CONSENT_KEYSTORE")
            .env_remove("CONSENT_CA_CERT")
            .env_remove("CONSENT_CLIENT_CERT")
            .env_remove("CONSENT_CLIENT_KEY")
            .env("CONSENT_NOW", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("consent runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "consent {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(text.trim())
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {text}"))
    }

    /// Runs and expects success; returns stdout.
    pub async fn ok(&self, keystore: &str, args: &[&str]) -> String {
        let out = self.run(keystore, args).await;
        assert!(
            out.status.success(),
            "consent {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs with --json and parses the one JSON object printed.
    pub async fn json(&self, keystore: &str, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(keystore, &all).await;
        serde_json::from_str(text.trim())
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {text}"))
    }

    /// Runs and expects failure with one line on stderr containing `expected`.
    pub async fn fails(&self, keystore: &str, args: &[&str], expected: &str) {
        let out = self.run(keystore, args).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "consent {args:?} should fail: {stderr}"
        );
        assert!(
            stderr.contains(expected),
            "consent {args:?}: expected {expected:?} in {stderr:?}"
        );
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "one line, no stack trace: {stderr}"
        );
    }
}

pub fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .to_string()
}

pub async fn start(dir: &Path, registrar: &str) -> Node {
    start_with(dir, registrar, None).await
}

/// Moving time in a CLI test without waiting for it: the node runs on a manual clock that stands
/// at the real time plus a shift, and every `consent` run gets the same shift
/// ([`consent_client::time::TEST_CLOCK_SHIFT_VAR`], honoured by debug builds). Each test runs in
/// its own process (nextest), so this state is the test's own.
pub mod test_clock {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicI64, Ordering};

    use consent_node::clock::Clock;

    static CLOCK: OnceLock<Clock> = OnceLock::new();
    static SHIFT_MS: AtomicI64 = AtomicI64::new(0);

    fn real_ms() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    /// The node's manual clock, standing at the real time (plus the shift, once moved).
    pub fn clock() -> Clock {
        CLOCK.get_or_init(|| Clock::manual(real_ms())).clone()
    }

    /// The shift every `consent` run gets, ms.
    pub fn shift_ms() -> i64 {
        SHIFT_MS.load(Ordering::Acquire)
    }

    /// Moves the node's and the CLI's time `ms` forward.
    pub fn advance(ms: u64) {
        SHIFT_MS.fetch_add(i64::try_from(ms).unwrap_or(i64::MAX), Ordering::AcqRel);
        sync();
    }

    /// Sets the node's manual clock (if this test uses it) to the real time plus the shift, so
    /// node and CLI read the same time (a manual clock never goes back).
    pub fn sync() {
        if let Some(clock) = CLOCK.get() {
            clock.set(real_ms().saturating_add_signed(shift_ms()));
        }
    }
}

/// A node on a network whose genesis lists `registrar` and has this `[consultation]` section.
pub async fn start_with(
    dir: &Path,
    registrar: &str,
    consultation: Option<ConsultationSection>,
) -> Node {
    start_on(dir, registrar, consultation, Clock::system()).await
}

/// [`start_with`], on `clock` (e.g. [`test_clock::clock`]).
pub async fn start_on(
    dir: &Path,
    registrar: &str,
    consultation: Option<ConsultationSection>,
    clock: Clock,
) -> Node {
    let genesis = Genesis {
        network_id: "cli".into(),
        registrars: vec![registrar.into()],
        bootstrap: vec![],
        nodes: vec![],
        members_only: false,
        names: Default::default(),
        consultation,
    };
    let path = dir.join("genesis.toml");
    std::fs::write(&path, genesis.to_toml().expect("toml")).expect("genesis");
    let config = Config {
        data_dir: dir.join("node"),
        grpc_listen: "127.0.0.1:0".parse().expect("addr"),
        genesis: Some(path),
        clock,
        ..Config::default()
    };
    Node::start(config).await.expect("node starts")
}

pub fn policy_file(dir: &Path) -> String {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    std::fs::copy(examples.join("policy.toml"), dir.join("policy.toml")).expect("copy");
    std::fs::copy(examples.join("policy.md"), dir.join("policy.md")).expect("copy");
    dir.join("policy.toml").display().to_string()
}
