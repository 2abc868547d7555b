//! How the node serves its small HTTP/1.1 listeners (the transparency site; `/metrics` with the
//! admin calls): with a cap on open connections and a deadline for each request's headers, so
//! clients that connect and stay silent, or trickle their headers, cannot hold the file
//! descriptors the store, gRPC and p2p share.
//!
//! While [`Limits::max_connections`] are open, further connections wait unaccepted in the
//! kernel's backlog. A connection that has not sent a complete request head within
//! [`Limits::header_read_timeout`] of connecting (or of its previous response, when kept alive)
//! is closed. Each request carries its caller's address as axum's `ConnectInfo<SocketAddr>`, and
//! the address it connected to as [`LocalAddr`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// How a listener bounds its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once; more wait, unaccepted, until one closes.
    pub max_connections: usize,
    /// How long a client has to send a request's headers, from connecting or from the previous
    /// response on a kept-alive connection.
    pub header_read_timeout: Duration,
}

/// The address a request's connection was accepted on (this node's side), in each request's
/// extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalAddr(pub SocketAddr);

/// How long open connections may take to finish once shutdown begins.
const GRACE: Duration = Duration::from_secs(5);

/// Serves `app` on `listener` within `limits` until `cancel`; then lets open connections finish
/// their request (for up to 5 s).
pub(crate) async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: Limits,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    loop {
        let slot = tokio::select! {
            () = cancel.cancelled() => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, from) = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, or the client left already: wait a moment, not spin.
                    tracing::debug!(error = %e, "http: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let (app, cancel) = (app.clone(), cancel.clone());
        tokio::spawn(async move {
            let _slot = slot;
            connection(stream, from, app, limits, cancel).await;
        });
    }
    // Each open connection holds a slot: wait for them all, a bounded time.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(GRACE, slots.acquire_many(all)).await;
    Ok(())
}

/// Serves one connection until it closes, times out, or shutdown.
async fn connection(
    stream: TcpStream,
    from: SocketAddr,
    app: axum::Router,
    limits: Limits,
    cancel: CancellationToken,
) {
    let local = stream.local_addr().ok().map(LocalAddr);
    let router = TowerToHyperService::new(app);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(from));
        if let Some(local) = local {
            request.extensions_mut().insert(local);
        }
        router.call(request)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        ended = conn.as_mut() => {
            if let Err(e) = ended {
                tracing::debug!(%from, error = %e, "http connection ended");
            }
        }
        () = cancel.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(GRACE, conn).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{ErrorKind, Read, Write};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn silent_clients_are_closed_and_do_not_keep_a_request_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
        let limits = Limits {
            max_connections: 2,
            header_read_timeout: Duration::from_millis(300),
        };
        let cancel = CancellationToken::new();
        let server = tokio::spawn(serve(listener, app, limits, cancel.clone()));
        // More clients than the cap connect and never send a byte.
        let silent: Vec<std::net::TcpStream> = (0..3)
            .map(|_| std::net::TcpStream::connect(addr).expect("connect"))
            .collect();
        let answer = tokio::task::spawn_blocking(move || {
            let mut s = std::net::TcpStream::connect(addr).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            write!(s, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
            let mut out = String::new();
            s.read_to_string(&mut out).expect("an answer within 10 s");
            out
        })
        .await
        .expect("client");
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("hello"),
            "{answer}"
        );
        // The server closed every silent connection.
        let closed = tokio::task::spawn_blocking(move || {
            silent.into_iter().all(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(10)))
                    .expect("timeout");
                let mut rest = Vec::new();
                match s.read_to_end(&mut rest) {
                    Ok(_) => true,
                    Err(e) => e.kind() == ErrorKind::ConnectionReset,
                }
            })
        })
        .await
        .expect("clients");
        assert!(closed, "a silent connection was kept open");
        cancel.cancel();
        server.await.expect("task").expect("serve");
    }
}
