//! One plain HTTP/1.1 GET with `Connection: close`, for the node's side servers (metrics, the
//! transparency site): no client library between the test and what the server sends.

use std::io::{Read, Write};
use std::time::Duration;

/// GETs `path` from `addr` (`host:port`); returns (status line and headers, body).
pub fn get(addr: &str, path: &str) -> (String, String) {
    request(addr, "GET", path, &[])
}

/// One request with extra header lines (`Name: value`) and no body; returns (status line and
/// headers, body).
pub fn request(addr: &str, method: &str, path: &str, headers: &[&str]) -> (String, String) {
    request_as(addr, addr, method, path, headers)
}

/// [`request`] naming `host` in its `Host` header (what a browser sends for another name).
pub fn request_as(
    addr: &str,
    host: &str,
    method: &str,
    path: &str,
    headers: &[&str],
) -> (String, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n{extra}Connection: close\r\n\r\n"
    )
    .expect("send");
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes).expect("read");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_string(), body.to_string())
}

/// The status code of a response head.
pub fn status(head: &str) -> u16 {
    head.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}
