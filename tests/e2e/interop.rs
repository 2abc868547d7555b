//! A client in another language, written from the .proto files and the crate docs alone
//! (tests/interop/python_client.py), submits signed entries to a real node and gets correct
//! decisions, and checks the protocol's test vectors (tests/interop/vectors.py). Python packages
//! come from PyPI via scripts/python-env.

use std::path::PathBuf;
use std::process::Command;

use consent_node::genesis::Genesis;
use consent_tests::harness::TestNode;

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
/// the checkpoint note and the Merkle proofs.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_from_the_docs_gets_correct_decisions() {
    let python = python();

    let genesis = Genesis {
        network_id: "interop".into(),
        ..Genesis::dev()
    };
    let node = TestNode::start(&genesis).await;
    let addr = node.node.as_ref().expect("running").grpc_addr().to_string();
    let generated = tempfile::tempdir().expect("tempdir");
    let out = tokio::process::Command::new(&python)
        .arg(repo().join("tests/interop/python_client.py"))
        .args(["--node", &addr, "--out"])
        .arg(generated.path())
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all steps passed"));
}
