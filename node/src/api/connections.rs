//! The gRPC server's connections, each one tracked and closable: the node's stop waits for them
//! (a [`TaskTracker`] token per connection) and, when the drain time is up, closes those still
//! open — a client that stopped reading would otherwise keep its connection, and with it the
//! services' handles on the ledger, until HTTP/2 keepalive gave up, close to a minute later.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tonic::transport::server::{Connected, TcpConnectInfo, TcpIncoming};

/// A connection that counts in `tasks` while it is open and fails every read and write once
/// `close` is cancelled (so the server drops it at once, whatever the client does).
pub(crate) struct Tracked {
    io: TcpStream,
    closed: Pin<Box<WaitForCancellationFutureOwned>>,
    _open: TaskTrackerToken,
}

/// The listener's connections (TCP_NODELAY: without it small unary replies wait on delayed ACKs,
/// ~40 ms each), each tracked by `tasks` and closed when `close` is cancelled.
pub(crate) fn incoming(
    listener: TcpListener,
    tasks: TaskTracker,
    close: CancellationToken,
) -> impl Stream<Item = io::Result<Tracked>> {
    TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .map(move |accepted| {
            accepted.map(|io| Tracked {
                io,
                // A child token per connection: polling it takes only this connection's own
                // waiter list, not one every connection shares.
                closed: Box::pin(close.child_token().cancelled_owned()),
                _open: tasks.token(),
            })
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
        Pin::new(&mut self.io).poll_read(cx, buf)
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

    /// A connection counts in the tracker until it is dropped; closing makes its reads fail,
    /// even one already waiting.
    #[tokio::test]
    async fn a_tracked_connection_is_counted_and_closed_on_demand() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tasks, close) = (TaskTracker::new(), CancellationToken::new());
        let mut incoming = Box::pin(incoming(listener, tasks.clone(), close.clone()));
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
}
