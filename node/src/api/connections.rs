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
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::super::tls::testing as tls;
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

    /// A TLS client of `addr` trusting `ca` (presenting `identity`): its stream, or why the
    /// handshake failed.
    async fn tls_connect(
        addr: SocketAddr,
        ca: &tls::Ca,
        identity: Option<&tls::Issued>,
    ) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(addr).await?;
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("a DNS name");
        tls::client(ca, identity).connect(name, tcp).await
    }

    /// A TLS listener on 127.0.0.1 serving a certificate of `ca`, with client certificates from
    /// `clients` (required or not), a preface deadline of `preface`.
    async fn tls_listener(
        dir: &std::path::Path,
        ca: &tls::Ca,
        clients: Option<(&tls::Ca, bool)>,
        preface: Duration,
    ) -> (
        SocketAddr,
        TaskTracker,
        Pin<Box<impl Stream<Item = io::Result<Tracked<TlsStream<TcpStream>>>>>>,
    ) {
        let issued = ca.issue(&["localhost"]);
        let (server, _reloader) =
            super::super::tls::load(tls::files(dir, "node", &issued, clients)).expect("TLS");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let tasks = TaskTracker::new();
        let incoming = Box::pin(incoming_tls(
            listener,
            tasks.clone(),
            CancellationToken::new(),
            limits(8, 8, preface),
            server.acceptor(),
        ));
        (addr, tasks, incoming)
    }

    /// Over TLS, a connection is handed over once its handshake is done, with the client's
    /// address in its connect info; a client that never starts its handshake holds up no other
    /// and is closed at the deadline.
    #[tokio::test]
    async fn tls_handshakes_run_beside_each_other_and_a_silent_client_is_closed_in_time() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = tls::Ca::new("ca");
        let (addr, tasks, mut incoming) =
            tls_listener(dir.path(), &ca, None, Duration::from_secs(3)).await;
        let mut silent = TcpStream::connect(addr).await.expect("connect");
        let client = tls_connect(addr, &ca, None);
        let (client, conn) = tokio::join!(client, async {
            tokio::time::timeout(Duration::from_secs(10), incoming.next())
                .await
                .expect("handed over in time")
                .expect("one")
                .expect("accepted")
        });
        let mut client = client.expect("the client trusts the node's CA");
        let local = client.get_ref().0.local_addr().expect("local");
        let info = conn.connect_info();
        assert_eq!(info.get_ref().remote_addr(), Some(local));
        assert!(
            info.peer_certs().is_none(),
            "no client certificate asked for"
        );
        // The preface is counted inside TLS.
        client
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .expect("the preface");
        let mut conn = conn;
        let mut preface = [0u8; PREFACE_BYTES];
        conn.read_exact(&mut preface)
            .await
            .expect("read inside TLS");
        assert_eq!(&preface[..3], b"PRI");
        assert!(
            closed(&mut silent).await,
            "the silent client is closed at the deadline"
        );
        assert_eq!(
            tasks.len(),
            1,
            "the TLS connection counts, the silent one no longer"
        );
        // A client trusting another CA refuses the node's certificate.
        let other = tls::Ca::new("another ca");
        assert!(tls_connect(addr, &other, None).await.is_err());
        // Its deadline has passed, but it sent the preface: a read just waits.
        assert!(
            tokio::time::timeout(Duration::from_millis(200), conn.read(&mut [0u8; 1]))
                .await
                .is_err()
        );
    }

    /// Client certificates: when required, a client without one is refused and the chain of one
    /// that presents it reaches the connect info; when optional, a client without one connects.
    #[tokio::test]
    async fn client_certificates_are_checked_and_reach_the_connect_info() {
        let dir = tempfile::tempdir().expect("dir");
        let (ca, clients) = (tls::Ca::new("ca"), tls::Ca::new("collectors"));
        let collector = clients.issue(&["collector.example"]);
        let (addr, _tasks, mut incoming) = tls_listener(
            dir.path(),
            &ca,
            Some((&clients, true)),
            Duration::from_secs(10),
        )
        .await;
        // TLS 1.3: the client may finish its side before the server refuses it; then its first
        // read fails.
        let refused = match tls_connect(addr, &ca, None).await {
            Err(_) => true,
            Ok(mut stream) => matches!(
                tokio::time::timeout(Duration::from_secs(10), stream.read(&mut [0u8; 1])).await,
                Ok(Ok(0) | Err(_))
            ),
        };
        assert!(refused, "a client without a certificate is refused");
        let stranger = ca.issue(&["stranger.example"]);
        let refused = match tls_connect(addr, &ca, Some(&stranger)).await {
            Err(_) => true,
            Ok(mut stream) => matches!(
                tokio::time::timeout(Duration::from_secs(10), stream.read(&mut [0u8; 1])).await,
                Ok(Ok(0) | Err(_))
            ),
        };
        assert!(refused, "a certificate from another CA is refused");
        let (client, conn) = tokio::join!(tls_connect(addr, &ca, Some(&collector)), async {
            tokio::time::timeout(Duration::from_secs(10), incoming.next())
                .await
                .expect("handed over in time")
                .expect("one")
                .expect("accepted")
        });
        let _client = client.expect("a collector's certificate is accepted");
        let chain = conn
            .connect_info()
            .peer_certs()
            .expect("the client's chain");
        assert_eq!(chain.first(), Some(&tls::der(&collector)));

        let dir = tempfile::tempdir().expect("dir");
        let (addr, _tasks, mut incoming) = tls_listener(
            dir.path(),
            &ca,
            Some((&clients, false)),
            Duration::from_secs(10),
        )
        .await;
        let (client, conn) = tokio::join!(tls_connect(addr, &ca, None), async {
            tokio::time::timeout(Duration::from_secs(10), incoming.next())
                .await
                .expect("handed over in time")
                .expect("one")
                .expect("accepted")
        });
        let _client = client.expect("optional: a client without a certificate connects");
        assert!(conn.connect_info().peer_certs().is_none());
    }
}
