//! The gRPC server's connections, each one tracked, bounded and closable: the node's stop waits
//! for them (a [`TaskTracker`] token per connection) and, when the drain time is up, closes those
//! still open — a client that stopped reading would otherwise keep its connection, and with it
//! the services' handles on the ledger, until HTTP/2 keepalive gave up, close to a minute later.
//!
//! What one caller can hold ([`ConnectionLimits`]): at most `max_total` connections are open on
//! the node and `max_per_address` from one source address (a [`Source`]: an IPv6 address by its
//! /48; the operator's trusted reverse proxies count in the total only); a connection over
//! either is closed as soon as it is accepted, before TLS or HTTP/2 start (in plain text the
//! client sees UNAVAILABLE, over TLS a connection closed during its handshake: there is no way to
//! say more before either starts). A connection that has not sent the 24-byte HTTP/2 connection
//! preface within `preface_deadline` of being accepted is closed, so silent connections do not
//! keep their places.
//!
//! Over TLS ([`incoming_tls`], with `[tls]`), each admitted connection's handshake runs on a task
//! of its own, so a slow or silent client holds up neither the accept loop nor anyone else's
//! handshake; the same deadline then covers the handshake and the HTTP/2 preface inside TLS,
//! and the finished connections go to the server through a channel. A connection holds its place
//! and counts in the [`TaskTracker`] from its accept, handshake included. Why the handshake is
//! done here and not by tonic: [`super::tls`].

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tonic::transport::server::{Connected, TcpIncoming};

use super::limits::{Proxies, Source};

/// Bytes of the HTTP/2 client connection preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`).
const PREFACE_BYTES: usize = 24;

/// TLS connections whose handshake is done and that the server has not taken yet.
const HANDSHAKEN_QUEUE: usize = 64;

/// How the gRPC listener bounds its connections.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionLimits {
    /// Connections open at once on the node; one more is closed as soon as it is accepted.
    pub(crate) max_total: usize,
    /// Connections one source address may have open at once (trusted proxies: the total only).
    pub(crate) max_per_address: usize,
    /// How long a new connection has to send the HTTP/2 connection preface.
    pub(crate) preface_deadline: Duration,
    /// The reverse proxies the operator trusts.
    pub(crate) proxies: Proxies,
}

/// The connections open, in all and per source address.
#[derive(Debug, Default)]
struct Book {
    total: usize,
    per_source: HashMap<Source, usize>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A connection's place in the [`Book`], given back when the connection is dropped.
struct Place {
    book: Arc<Mutex<Book>>,
    /// `None` for a trusted proxy's connection (counted in the total only).
    source: Option<Source>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut book = lock(&self.book);
        book.total = book.total.saturating_sub(1);
        if let Some(source) = self.source
            && let Some(n) = book.per_source.get_mut(&source)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                book.per_source.remove(&source);
            }
        }
    }
}

/// A place for a connection from `peer`, or `None` when the node or that address has as many
/// connections as it may.
fn admit(book: &Arc<Mutex<Book>>, limits: &ConnectionLimits, peer: SocketAddr) -> Option<Place> {
    let source = (!limits.proxies.contains(peer.ip())).then(|| Source::of(peer.ip()));
    let mut open = lock(book);
    if open.total >= limits.max_total {
        tracing::debug!(%peer, limit = limits.max_total, "gRPC connection closed: node full");
        return None;
    }
    if let Some(source) = source {
        let n = open.per_source.entry(source).or_insert(0);
        if *n >= limits.max_per_address {
            tracing::debug!(
                %peer,
                limit = limits.max_per_address,
                "gRPC connection closed: as many from this address as it may have"
            );
            return None;
        }
        *n += 1;
    }
    open.total += 1;
    Some(Place {
        book: Arc::clone(book),
        source,
    })
}

/// A connection that counts in `tasks` while it is open, holds its place within the
/// [`ConnectionLimits`], fails its reads once the preface deadline passes without the preface,
/// and fails every read and write once `close` is cancelled (so the server drops it at once,
/// whatever the client does). `IO` is the TCP stream, or the TLS stream over it.
pub(crate) struct Tracked<IO = TcpStream> {
    io: IO,
    closed: Pin<Box<WaitForCancellationFutureOwned>>,
    /// Until the client has sent [`PREFACE_BYTES`]: when its time is up.
    preface: Option<Pin<Box<Sleep>>>,
    /// Bytes read so far, while the preface is awaited.
    received: usize,
    _place: Place,
    _open: TaskTrackerToken,
}

/// The listener's connections (TCP_NODELAY: without it small unary replies wait on delayed ACKs,
/// ~40 ms each), within `limits`, each tracked by `tasks` and closed when `close` is cancelled.
pub(crate) fn incoming(
    listener: TcpListener,
    tasks: TaskTracker,
    close: CancellationToken,
    limits: ConnectionLimits,
) -> impl Stream<Item = io::Result<Tracked>> {
    let book = Arc::new(Mutex::new(Book::default()));
    TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .filter_map(move |accepted| {
            let admitted = match accepted {
                Err(e) => Some(Err(e)),
                // Dropping the stream closes a connection that gets no place (or whose client is
                // already gone).
                Ok(io) => io
                    .peer_addr()
                    .ok()
                    .and_then(|peer| admit(&book, &limits, peer))
                    .map(|place| {
                        Ok(Tracked {
                            io,
                            // A child token per connection: polling it takes only this connection's own
                            // waiter list, not one every connection shares.
                            closed: Box::pin(close.child_token().cancelled_owned()),
                            preface: Some(Box::pin(tokio::time::sleep(limits.preface_deadline))),
                            received: 0,
                            _place: place,
                            _open: tasks.token(),
                        })
                    }),
            };
            std::future::ready(admitted)
        })
}

/// The listener's connections over TLS: as [`incoming`], but each admitted connection's TLS
/// handshake runs on a task of its own, within the preface deadline counted from the accept
/// (which then also covers the HTTP/2 preface inside TLS); connections come out as their
/// handshakes end. A failed or late handshake closes the connection. When the server drops the
/// stream (it stops accepting), the listener closes and handshakes in progress end.
pub(crate) fn incoming_tls(
    listener: TcpListener,
    tasks: TaskTracker,
    close: CancellationToken,
    limits: ConnectionLimits,
    acceptor: TlsAcceptor,
) -> impl Stream<Item = io::Result<Tracked<TlsStream<TcpStream>>>> {
    let (done, handshaken) = mpsc::channel(HANDSHAKEN_QUEUE);
    tokio::spawn(accept_tls(listener, tasks, close, limits, acceptor, done));
    ReceiverStream::new(handshaken).map(Ok::<_, io::Error>)
}

/// The accept loop of [`incoming_tls`]: admits each connection and starts its handshake, until
/// the server drops the stream.
async fn accept_tls(
    listener: TcpListener,
    tasks: TaskTracker,
    close: CancellationToken,
    limits: ConnectionLimits,
    acceptor: TlsAcceptor,
    done: mpsc::Sender<Tracked<TlsStream<TcpStream>>>,
) {
    let book = Arc::new(Mutex::new(Book::default()));
    let mut accepted = TcpIncoming::from(listener).with_nodelay(Some(true));
    loop {
        let io = tokio::select! {
            () = done.closed() => return,
            next = accepted.next() => match next {
                Some(Ok(io)) => io,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "gRPC connection not accepted");
                    continue;
                }
                None => return,
            },
        };
        // Dropping the stream closes a connection that gets no place (or whose client is gone).
        let Some(place) = io
            .peer_addr()
            .ok()
            .and_then(|peer| admit(&book, &limits, peer))
        else {
            continue;
        };
        let handshake = Handshake {
            io,
            place,
            open: tasks.token(),
            closed: close.child_token(),
            deadline: Instant::now() + limits.preface_deadline,
        };
        tokio::spawn(handshake.run(acceptor.clone(), done.clone()));
    }
}

/// An admitted connection whose TLS handshake is still to be done.
struct Handshake {
    io: TcpStream,
    place: Place,
    open: TaskTrackerToken,
    closed: CancellationToken,
    /// When the handshake and then the HTTP/2 preface must be done.
    deadline: Instant,
}

impl Handshake {
    /// Does the handshake within the deadline and hands the connection to the server; gives up
    /// (closing the connection) when the node closes its connections or stops accepting.
    async fn run(self, acceptor: TlsAcceptor, done: mpsc::Sender<Tracked<TlsStream<TcpStream>>>) {
        let Handshake {
            io,
            place,
            open,
            closed,
            deadline,
        } = self;
        let peer = io.peer_addr().ok();
        let tls = tokio::select! {
            () = closed.cancelled() => return,
            () = done.closed() => return,
            shaken = tokio::time::timeout_at(deadline, acceptor.accept(io).into_fallible()) => match shaken {
                Ok(Ok(tls)) => tls,
                Ok(Err((e, io))) => {
                    tracing::debug!(?peer, error = %e, "gRPC connection closed: TLS handshake failed");
                    linger(io, deadline).await;
                    return;
                }
                Err(_) => {
                    tracing::debug!(?peer, "gRPC connection closed: no TLS handshake in time");
                    return;
                }
            },
        };
        let conn = Tracked {
            io: tls,
            closed: Box::pin(closed.cancelled_owned()),
            preface: Some(Box::pin(tokio::time::sleep_until(deadline))),
            received: 0,
            _place: place,
            _open: open,
        };
        // Refused only once the server stopped accepting: dropped, the connection closes.
        let _ = done.send(conn).await;
    }
}

/// How long a connection whose handshake failed is kept half-closed for its client to read
/// the TLS alert (at most; the deadline of the connection bounds it too).
const LINGER: Duration = Duration::from_secs(1);

/// Closes `io`, whose handshake failed after rustls wrote its alert, so that the client reads
/// the alert: our side is shut for writing, and what the client still sends (under TLS 1.3 it
/// believes the handshake done, so it sends its first request at once) is read and dropped
/// until it closes too, for at most [`LINGER`]. Closed at once, the socket would answer that
/// request with a reset, and the client's kernel would drop the alert unread: the client
/// would see "broken pipe" instead of why its certificate was refused.
async fn linger(mut io: TcpStream, deadline: Instant) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if io.shutdown().await.is_err() {
        return;
    }
    let until = deadline.min(Instant::now() + LINGER);
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout_at(until, async {
        while matches!(io.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

impl<IO> Tracked<IO> {
    /// `Err` once the node closes its connections (and registers for that moment otherwise).
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match self.closed.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the node is stopping: connection closed after the drain time",
            )),
            Poll::Pending => Ok(()),
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tracked<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check(cx)?;
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Some(deadline) = this.preface.as_mut() {
            match &polled {
                Poll::Ready(Ok(())) => {
                    this.received += buf.filled().len() - before;
                    if this.received >= PREFACE_BYTES {
                        this.preface = None;
                    }
                }
                Poll::Pending if deadline.as_mut().poll(cx).is_ready() => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no HTTP/2 connection preface in time: connection closed",
                    )));
                }
                _ => {}
            }
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tracked<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check(cx)?;
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check(cx)?;
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Plain: tonic's `TcpConnectInfo`; over TLS: its `TlsConnectInfo` around it, which adds the
/// client's certificate chain. `Request::remote_addr` reads either.
impl<IO: Connected> Connected for Tracked<IO> {
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> IO::ConnectInfo {
        self.io.connect_info()
    }
}

#[cfg(test)]
mod tests;
