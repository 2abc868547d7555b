//! The independent load generator: h2load (Debian package nghttp2-client) sends one
//! length-prefixed gRPC message again and again over HTTP/2 and reports requests/s and the mean
//! time per request. It sees HTTP status only (gRPC errors travel in trailers), so the message is
//! first checked with a real client by the caller.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use prost::Message;

/// What h2load measured.
pub struct Load {
    /// Requests per second.
    pub rate: f64,
    /// Its summary line of request times ("min/mean/max").
    pub times: String,
}

/// Whether h2load is installed.
pub fn available() -> bool {
    Command::new("h2load")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Writes `message` as one gRPC frame (uncompressed flag, 4-byte BE length, bytes).
pub fn write_body(path: &Path, message: &impl Message) -> anyhow::Result<()> {
    let bytes = message.encode_to_vec();
    let mut body = vec![0u8];
    body.extend_from_slice(&u32::try_from(bytes.len())?.to_be_bytes());
    body.extend_from_slice(&bytes);
    std::fs::write(path, body)?;
    Ok(())
}

/// Drives `http://addr/method` with the body in `body` for `phase`: 4 connections, 16 streams
/// each, one thread.
pub fn run(
    addr: SocketAddr,
    method: &str,
    token: &str,
    body: &Path,
    phase: Duration,
) -> anyhow::Result<Load> {
    let out = Command::new("h2load")
        .args(["-c", "4", "-m", "16", "-t", "1", "--warm-up-time", "1"])
        .args(["-D", &phase.as_secs().max(1).to_string()])
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
        .args(["-H", &format!("authorization: Bearer {token}")])
        .arg("-d")
        .arg(body)
        .arg(format!("http://{addr}{method}"))
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(out.status.success(), "h2load failed: {text}");
    // "finished in 3.00s, 41234.56 req/s, 5.12MB/s"
    let rate = text
        .lines()
        .find_map(|l| l.strip_prefix("finished in "))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|r| r.strip_suffix(" req/s"))
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no rate in h2load output: {text}"))?;
    // "requests: N total, N started, N done, N succeeded, 0 failed, 0 errored, 0 timeout"
    let failed = text
        .lines()
        .find_map(|l| l.strip_prefix("requests: "))
        .and_then(|l| l.split(", ").find(|p| p.ends_with(" failed")))
        .and_then(|p| p.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    anyhow::ensure!(failed == Some(0), "h2load saw failed requests: {text}");
    // "time for request:   123us   4.56ms   1.23ms   456us   70.00%"
    let times = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("time for request:"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [min, max, mean, ..] => format!("min {min}, mean {mean}, max {max}"),
                _ => l.trim().to_string(),
            }
        })
        .unwrap_or_default();
    Ok(Load { rate, times })
}
