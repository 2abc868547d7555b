//! The files in `deploy/` are what operators install: the hardened config must load with the
//! node's own parser and keep its promises (gRPC on loopback, no mDNS, a fixed p2p port), and
//! the systemd unit must pass `systemd-analyze verify` where systemd is installed.

use std::path::PathBuf;
use std::process::Command;

fn deploy(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(file)
}

#[test]
fn the_hardened_config_loads_and_keeps_grpc_on_loopback() {
    let config = consent_node::Config::load(&deploy("consentd.toml")).expect("deploy config loads");
    assert!(
        config.grpc_listen.ip().is_loopback(),
        "gRPC must stay behind a proxy"
    );
    assert!(!config.p2p.mdns);
    assert!(config.metrics.enabled && config.metrics.listen.ip().is_loopback());
    assert_eq!(config.metrics.listen.port(), 9464);
    assert!(config.transparency.enabled && config.transparency.listen.ip().is_loopback());
    assert_eq!(config.transparency.k, 5);
    assert!(config.p2p.enabled);
    assert!(
        config
            .p2p
            .listen
            .iter()
            .all(|a| !a.contains("/tcp/0") && !a.contains("/udp/0/")),
        "a node others bootstrap from needs a fixed port: {:?}",
        config.p2p.listen
    );
    assert_eq!(config.log_level, "info");
    assert!(
        !config.grpc.trusted_proxies.is_empty()
            && config.grpc.trusted_proxies.iter().all(|p| p.is_loopback()),
        "the proxy on this host, and only it, names the clients: {:?}",
        config.grpc.trusted_proxies
    );
}

#[test]
fn the_systemd_unit_verifies() {
    let Ok(out) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("SKIPPED: systemd-analyze is not installed");
        return;
    };
    if !out.status.success() {
        eprintln!("SKIPPED: systemd-analyze does not run here");
        return;
    }
    // Verify a copy that points at the binary this test was built with.
    let temp = tempfile::tempdir().expect("tempdir");
    let unit = std::fs::read_to_string(deploy("consentd.service"))
        .expect("unit file")
        .replace("/usr/local/bin/consentd", env!("CARGO_BIN_EXE_consentd"));
    assert!(unit.contains("NoNewPrivileges=yes") && unit.contains("ProtectSystem=strict"));
    let path = temp.path().join("consentd.service");
    std::fs::write(&path, unit).expect("write unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .output()
        .expect("systemd-analyze runs");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
