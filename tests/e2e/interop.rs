//! A client in another language, written from the .proto files and the crate docs alone
//! (tests/interop/python_client.py), submits signed entries to a real node and gets correct
//! decisions, in plain text and over mutual TLS, and checks the protocol's test vectors
//! (tests/interop/vectors.py). Python packages come from PyPI via scripts/python-env.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;

use consent_node::Node;
use consent_node::config::{ClientAuth, TlsSection};
use consent_node::genesis::Genesis;
use consent_tests::harness::TestNode;
use consent_tests::tls::Ca;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The interop virtual environment's python (created once by scripts/python-env).
fn python() -> String {
    let env = Command::new(repo().join("scripts/python-env"))
        .output()
        .expect("scripts/python-env runs");
    assert!(
        env.status.success(),
        "cannot set up the Python environment (needs python3 with venv and access to PyPI): {}",
        String::from_utf8_lossy(&env.stderr)
    );
    String::from_utf8_lossy(&env.stdout).trim().to_string()
}

/// The same client's code checks every test vector (proto/vectors/vectors.json): ids, feed ids,
/// signatures (its own cofactored Ed25519, and where its cofactorless library disagrees),
/// canonical and refused encodings, text forms, key derivations, receipts, decision receipts,
/// the checkpoint note and the Merkle proofs; and, with tests/interop/scope.py (the scope rule
/// written from the crate docs alone), H3 cells and parents, local times, scoped entries, every
/// scope decision and the context digests.
#[test]
fn python_client_from_the_docs_checks_the_test_vectors() {
    let generated = tempfile::tempdir().expect("tempdir");
    let out = Command::new(python())
        .arg(repo().join("tests/interop/vectors.py"))
        .arg("--out")
        .arg(generated.path())
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the Python client refuses a test vector:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
}

/// Runs tests/interop/python_client.py with `args` (and `--out` a fresh directory): whether it
/// succeeded, its stdout (printed) and its stderr.
async fn python_client(python: &str, args: &[&OsStr]) -> (bool, String, String) {
    let generated = tempfile::tempdir().expect("tempdir");
    let out = tokio::process::Command::new(python)
        .arg(repo().join("tests/interop/python_client.py"))
        .args(args)
        .arg("--out")
        .arg(generated.path())
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), stdout, stderr)
}

/// The last line of `stderr`.
fn last_line(stderr: &str) -> &str {
    stderr.trim().lines().next_back().unwrap_or_default()
}

fn interop_genesis() -> Genesis {
    Genesis {
        network_id: "interop".into(),
        ..Genesis::dev()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_from_the_docs_gets_correct_decisions() {
    let python = python();
    let node = TestNode::start(&interop_genesis()).await;
    let addr = node.node.as_ref().expect("running").grpc_addr().to_string();
    let (ok, stdout, stderr) =
        python_client(&python, &[OsStr::new("--node"), OsStr::new(&addr)]).await;
    assert!(ok, "python client failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("in plain text"), "{stdout}");
    // The scoped walk ran: a receipt's context digest recomputed from the docs' rule.
    assert!(stdout.contains("recomputed"), "{stdout}");
    // Receipts asked for in groups verified from the docs' rule (an entry's and a decision's).
    assert_eq!(stdout.matches("of a group of").count(), 2, "{stdout}");
    assert!(stdout.contains("all steps passed"));
}

/// The same walk against a node serving TLS that requires client certificates: the client
/// trusts the node's CA (`--ca-cert`) and presents a certificate of the collectors' CA
/// (`--client-cert`, `--client-key`). Trusting another CA, or presenting no certificate, it
/// stops at the connection and says why in one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_from_the_docs_works_over_mutual_tls() {
    let python = python();
    let mut t = TestNode::start(&interop_genesis()).await;
    t.stop().await;
    let (city, collectors) = (Ca::new("city ca"), Ca::new("collectors ca"));
    let (cert, key) = city
        .issue(&["127.0.0.1", "localhost"])
        .write(&t.dir, "node-tls");
    let (client_cert, client_key) = collectors
        .issue(&["collector.example"])
        .write(&t.dir, "collector");
    let ca = city.write(&t.dir, "ca");
    let other_ca = Ca::new("another ca").write(&t.dir, "other-ca");
    let mut config = t.config();
    config.tls = TlsSection {
        cert: Some(cert),
        key: Some(key),
        client_ca: Some(collectors.write(&t.dir, "collectors-ca")),
        client_auth: ClientAuth::Required,
        ..TlsSection::default()
    };
    let node = match Node::start(config).await {
        Ok(node) => node,
        Err(e) => panic!("the node does not start over TLS: {e}"),
    };
    let url = node.grpc_url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    t.node = Some(node);

    let mtls = [
        OsStr::new("--node"),
        OsStr::new(&url),
        OsStr::new("--ca-cert"),
        ca.as_os_str(),
        OsStr::new("--client-cert"),
        client_cert.as_os_str(),
        OsStr::new("--client-key"),
        client_key.as_os_str(),
    ];
    let (ok, stdout, stderr) = python_client(&python, &mtls).await;
    assert!(
        ok,
        "python client failed over mutual TLS:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("over TLS, client certificate"), "{stdout}");
    assert!(stdout.contains("all steps passed"), "{stdout}");

    // A failure ends the run with one line on stderr (the last: Python prints nothing after).
    let mut wrong_ca = mtls;
    wrong_ca[3] = other_ca.as_os_str();
    let (ok, stdout, stderr) = python_client(&python, &wrong_ca).await;
    assert!(!ok, "a client trusting another CA went on:\n{stdout}");
    let expected = format!(
        "the node at {url} presented a certificate not signed by the CA in {}: pass --ca-cert with the CA that signed it",
        other_ca.display()
    );
    assert_eq!(last_line(&stderr), expected, "{stderr}");

    let (ok, stdout, stderr) = python_client(&python, &mtls[..4]).await;
    assert!(!ok, "a client without a certificate went on:\n{stdout}");
    let line = last_line(&stderr);
    assert!(
        line.starts_with(&format!("the node at {url} "))
            && line.contains("requires a client certificate"),
        "{stderr}"
    );
    t.stop().await;
}
