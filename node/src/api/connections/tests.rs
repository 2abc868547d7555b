//! Tests of the gRPC listener's connections: limits, deadlines, TLS handshakes, closing.

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
