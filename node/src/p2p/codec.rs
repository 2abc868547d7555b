//! The sync protocol's codec: libp2p's size-limited CBOR codec, wrapped to count the bytes that
//! cross the wire in each direction (reported in `Node.Status`, used by the anti-entropy
//! benchmark).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures::{AsyncRead, AsyncWrite};
use libp2p::StreamProtocol;
use libp2p::request_response::{self, cbor};

use super::protocol::{self, SyncRequest, SyncResponse};

/// Bytes of sync messages sent and received, node-wide.
#[derive(Debug, Default)]
pub struct WireCounters {
    sent: AtomicU64,
    received: AtomicU64,
}

impl WireCounters {
    /// `(sent, received)` so far.
    pub fn get(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.received.load(Ordering::Relaxed),
        )
    }
}

/// The counting codec.
#[derive(Clone)]
pub struct Codec {
    inner: cbor::codec::Codec<SyncRequest, SyncResponse>,
    counters: Arc<WireCounters>,
}

impl Codec {
    /// A codec with the protocol's size limits, counting into `counters`.
    pub fn new(counters: Arc<WireCounters>) -> Self {
        Self {
            inner: cbor::codec::Codec::default()
                .set_request_size_maximum(protocol::MAX_REQUEST_BYTES)
                .set_response_size_maximum(protocol::MAX_RESPONSE_BYTES),
            counters,
        }
    }
}

/// An I/O stream that adds what passes through it to a counter.
struct Counting<'a, T> {
    io: &'a mut T,
    counter: &'a AtomicU64,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counting<'_, T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut *self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            self.counter.fetch_add(n as u64, Ordering::Relaxed);
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counting<'_, T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut *self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            self.counter.fetch_add(n as u64, Ordering::Relaxed);
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.io).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.io).poll_close(cx)
    }
}

impl request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T>(&mut self, p: &StreamProtocol, io: &mut T) -> io::Result<SyncRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        let counters = self.counters.clone();
        let mut io = Counting {
            io,
            counter: &counters.received,
        };
        self.inner.read_request(p, &mut io).await
    }

    async fn read_response<T>(&mut self, p: &StreamProtocol, io: &mut T) -> io::Result<SyncResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        let counters = self.counters.clone();
        let mut io = Counting {
            io,
            counter: &counters.received,
        };
        self.inner.read_response(p, &mut io).await
    }

    async fn write_request<T>(
        &mut self,
        p: &StreamProtocol,
        io: &mut T,
        request: SyncRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let counters = self.counters.clone();
        let mut io = Counting {
            io,
            counter: &counters.sent,
        };
        self.inner.write_request(p, &mut io, request).await
    }

    async fn write_response<T>(
        &mut self,
        p: &StreamProtocol,
        io: &mut T,
        response: SyncResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let counters = self.counters.clone();
        let mut io = Counting {
            io,
            counter: &counters.sent,
        };
        self.inner.write_response(p, &mut io, response).await
    }
}
