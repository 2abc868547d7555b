//! A client in another language, written from the .proto files and the crate docs alone
//! (tests/interop/python_client.py), submits signed entries to a real node and gets correct
//! decisions. Python packages come from PyPI via scripts/python-env.

use std::path::PathBuf;
use std::process::Command;

use consent_node::genesis::Genesis;
use consent_tests::harness::TestNode;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_from_the_docs_gets_correct_decisions() {
    let env = Command::new(repo().join("scripts/python-env"))
        .output()
        .expect("scripts/python-env runs");
    assert!(
        env.status.success(),
        "cannot set up the Python environment (needs python3 with venv and access to PyPI): {}",
        String::from_utf8_lossy(&env.stderr)
    );
    let python = String::from_utf8_lossy(&env.stdout).trim().to_string();

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
