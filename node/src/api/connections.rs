//! The gRPC server's connections, each one tracked, bounded and closable: the node's stop waits
//! for them (a [`TaskTracker`] token per connection) and, when the drain time is up, closes those
//! still open — a client that stopped reading would otherwise keep its connection, and with it
//! the services' handles on the ledger, until HTTP/2 keepalive gave up, close to a minute later.
//!
//! What one caller can hold ([`ConnectionLimits`]): at most `max_total` connections are open on
//! the node and `max_per_address` from one source address (a [`Source`]: an IPv6 address by its
//! /48; the operator's trusted reverse proxies count in the total only); a connection over
//! either is closed as soon as it is accepted (the client sees UNAVAILABLE: gRPC has no way to
//! say more before HTTP/2 starts). A connection that has not sent the 24-byte HTTP/2 connection
//! preface within `preface_deadline` of being accepted is closed, so silent connections do not
//! keep their places.

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
use tokio::time::Sleep;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tonic::transport::server::{Connected, TcpConnectInfo, TcpIncoming};

use super::limits::{Proxies, Source};

/// Bytes of the HTTP/2 client connection preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`).
const PREFACE_BYTES: usize = 24;

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
/// whatever the client does).
pub(crate) struct Tracked {
    io: TcpStream,
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

impl Tracked {
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

impl AsyncRead for Tracked {
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

impl AsyncWrite for Tracked {
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

impl Connected for Tracked {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.io.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn limits(max_total: usize, max_per_address: usize, preface: Duration) -> ConnectionLimits {
        ConnectionLimits {
            max_total,
            max_per_address,
            preface_deadline: preface,
            proxies: Proxies::default(),
        }
    }

    /// A client connection from the loopback address `local` (127.0.0.x: each is another source).
    async fn connect_from(local: [u8; 4], to: SocketAddr) -> TcpStream {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind(SocketAddr::from((local, 0))).expect("bind");
        socket.connect(to).await.expect("connect")
    }

    /// The next connection the server accepted.
    async fn accepted(kept: &mut tokio::sync::mpsc::UnboundedReceiver<Tracked>) -> Tracked {
        tokio::time::timeout(Duration::from_secs(10), kept.recv())
            .await
            .expect("accepted in time")
            .expect("a connection")
    }

    /// Whether the server closed `client` (it reads the end of the stream, or a reset).
    async fn closed(client: &mut TcpStream) -> bool {
        let mut byte = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(10), client.read(&mut byte)).await,
            Ok(Ok(0) | Err(_))
        )
    }

    /// A connection counts in the tracker until it is dropped; closing makes its reads fail,
    /// even one already waiting.
    #[tokio::test]
    async fn a_tracked_connection_is_counted_and_closed_on_demand() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tasks, close) = (TaskTracker::new(), CancellationToken::new());
        let mut incoming = Box::pin(incoming(
            listener,
            tasks.clone(),
            close.clone(),
            limits(8, 8, Duration::from_secs(60)),
        ));
        let mut client = TcpStream::connect(addr).await.expect("connect");
        let mut conn = incoming.next().await.expect("one").expect("accepted");
        assert_eq!(tasks.len(), 1);
        client.write_all(b"hi").await.expect("write");
        let mut buf = [0u8; 2];
        conn.read_exact(&mut buf).await.expect("read");
        let waiting = tokio::spawn(async move {
            let mut more = [0u8; 1];
            let read = conn.read(&mut more).await;
            (read.map_err(|e| e.kind()), conn)
        });
        close.cancel();
        let (read, conn) = waiting.await.expect("task");
        assert_eq!(read, Err(io::ErrorKind::ConnectionAborted));
        tasks.close();
        assert!(!tasks.is_empty());
        drop(conn);
        tasks.wait().await;
    }

    /// At most 2 connections from one address and 3 in all: one more is closed at once, another
    /// address is not held up by the first, and a closed connection frees its place.
    #[tokio::test]
    async fn connections_over_the_caps_are_closed_at_once() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tasks, close) = (TaskTracker::new(), CancellationToken::new());
        let mut incoming = Box::pin(incoming(
            listener,
            tasks,
            close,
            limits(3, 2, Duration::from_secs(60)),
        ));
        // The server's side: accepted connections are kept here.
        let (kept_tx, mut kept) = tokio::sync::mpsc::unbounded_channel();
        let _server = tokio::spawn(async move {
            while let Some(Ok(conn)) = incoming.next().await {
                if kept_tx.send(conn).is_err() {
                    break;
                }
            }
        });
        let _a1 = connect_from([127, 0, 0, 1], addr).await;
        let first = accepted(&mut kept).await;
        let _a2 = connect_from([127, 0, 0, 1], addr).await;
        let _second = accepted(&mut kept).await;
        let mut a3 = connect_from([127, 0, 0, 1], addr).await;
        assert!(closed(&mut a3).await, "a third from one address is closed");
        let _b1 = connect_from([127, 0, 0, 2], addr).await;
        let _third = accepted(&mut kept).await;
        let mut c1 = connect_from([127, 0, 0, 3], addr).await;
        assert!(closed(&mut c1).await, "a fourth in all is closed");
        drop(first);
        let _c2 = connect_from([127, 0, 0, 3], addr).await;
        let _fourth = accepted(&mut kept).await;
    }

    /// A connection that sends nothing is closed when the preface deadline passes; one that
    /// sent the preface is not.
    #[tokio::test]
    async fn a_connection_without_the_preface_in_time_is_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tasks, close) = (TaskTracker::new(), CancellationToken::new());
        let mut incoming = Box::pin(incoming(
            listener,
            tasks,
            close,
            limits(8, 8, Duration::from_millis(200)),
        ));
        let _silent = TcpStream::connect(addr).await.expect("connect");
        let mut silent = incoming.next().await.expect("one").expect("accepted");
        let mut talking = TcpStream::connect(addr).await.expect("connect");
        let mut talked = incoming.next().await.expect("two").expect("accepted");
        talking
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .expect("write");
        let mut preface = [0u8; PREFACE_BYTES];
        talked.read_exact(&mut preface).await.expect("the preface");
        let read = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut [0u8; 1]))
            .await
            .expect("the silent connection ends in time");
        assert_eq!(read.map_err(|e| e.kind()), Err(io::ErrorKind::TimedOut));
        // Its deadline has passed too, but it sent the preface: its read just waits.
        assert!(
            tokio::time::timeout(Duration::from_millis(400), talked.read(&mut [0u8; 1]))
                .await
                .is_err()
        );
    }
}
