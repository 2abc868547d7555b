//! What a caller without a session can make the node spend, bounded per source address and on
//! the node: `Consent.Authenticate` calls (each costs a key lookup and a signature check) and the
//! public read streams, `Ledger.GetLog` and `Ledger.GetFeed` (each holds a task, a buffer and
//! store reads while it runs). Connections are bounded in [`super::connections`], the blocking
//! threads of public reads in [`super::blocking`], watch streams (which need a session) in
//! [`super::watch`].
//!
//! A call's **source** ([`Source`]) is the IP address it comes from, an IPv6 address by its /48
//! prefix (a site's allocation: one holder has 65,536 /64s, so counting /64s would let one
//! flooder be thousands of sources). A call that comes through one of the reverse
//! proxies the operator lists (`[grpc] trusted_proxies`, [`Proxies`]) is charged to the address
//! that proxy appended last to `x-forwarded-for`, or to the proxy itself when there is none.
//!
//! - `Authenticate`: a token bucket per source ([`Rate`]): [`AUTH_BURST`] calls at once, then
//!   [`AUTH_PER_SECOND`] a second. The book holds at most [`MAX_SOURCES`] sources and forgets
//!   first the sources seen once (S3-FIFO), so a flood of new sources cannot push out the
//!   collectors that authenticate regularly. Over it: RESOURCE_EXHAUSTED,
//!   `consent-reason: too-many-authentications`, before any work.
//! - public read streams ([`Streams`]): at most [`STREAMS_PER_SOURCE`] open per source and
//!   [`MAX_READ_STREAMS`] on the node; one more is refused with RESOURCE_EXHAUSTED,
//!   `consent-reason: too-many-read-streams` or `node-read-streams-full`. A stream buffers
//!   [`STREAM_BUFFER`] entries; when its client reads nothing for [`SEND_DEADLINE`] with that
//!   buffer full, the stream ends with RESOURCE_EXHAUSTED, `consent-reason: client-not-reading`,
//!   ahead of what it buffered ([`read_stream`]), and its place is free.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use crate::bucket::Bucket;
use std::time::{Duration, Instant};

use futures::Stream;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tonic::metadata::MetadataMap;
use tonic::{Request, Status};

use super::error;

/// `Authenticate` calls one source may make at once (a full bucket).
pub const AUTH_BURST: u32 = 64;
/// `Authenticate` calls one source may make each second once its burst is spent.
pub const AUTH_PER_SECOND: u32 = 8;
/// Sources the `Authenticate` book keeps at most.
pub(crate) const MAX_SOURCES: usize = 65_536;
/// `GetLog`/`GetFeed` streams one source may have open at once.
pub const STREAMS_PER_SOURCE: usize = 16;
/// `GetLog`/`GetFeed` streams the node serves at once, all sources together.
pub const MAX_READ_STREAMS: usize = 256;
/// Entries a `GetLog`/`GetFeed` stream buffers for its client.
pub(crate) const STREAM_BUFFER: usize = 64;
/// How long a `GetLog`/`GetFeed` stream waits for room in its full buffer (its client reading
/// nothing) before it ends with `client-not-reading`; the same as a watch stream's.
pub(crate) const SEND_DEADLINE: Duration = super::watch::SEND_DEADLINE;
/// The header a trusted proxy names its client in.
const FORWARDED_FOR: &str = "x-forwarded-for";

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where a call comes from, for the limits per source: an IPv4 address, or an IPv6 /48 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Source(IpAddr);

impl Source {
    /// Calls whose address is unknown (not over TCP) share this source.
    const UNKNOWN: Source = Source(IpAddr::V4(Ipv4Addr::UNSPECIFIED));

    /// The source of a caller at `ip`: an IPv4 address as it is (an IPv4-mapped IPv6 address
    /// as its IPv4 address), an IPv6 address by its /48 prefix.
    pub(crate) fn of(ip: IpAddr) -> Self {
        match canonical(ip) {
            IpAddr::V6(v6) => Self(IpAddr::V6(Ipv6Addr::from(
                u128::from(v6) & (u128::MAX << 80),
            ))),
            v4 => Self(v4),
        }
    }

    /// The address (an IPv6 source: its /48 prefix).
    pub(crate) fn ip(self) -> IpAddr {
        self.0
    }
}

/// `ip`, an IPv4-mapped IPv6 address as its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The reverse proxies the operator trusts to name their clients (`[grpc] trusted_proxies`).
/// Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Proxies(Arc<[IpAddr]>);

impl Proxies {
    /// The proxies at `addresses`.
    pub(crate) fn new(addresses: &[IpAddr]) -> Self {
        Self(addresses.iter().map(|a| canonical(*a)).collect())
    }

    /// Whether `ip` is a trusted proxy.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical(ip))
    }

    /// The source of a call from `remote` with `metadata`: `remote`'s address, or, when that is
    /// a trusted proxy, the last address in its last `x-forwarded-for` value (the one the
    /// proxy appended; earlier ones are the client's word) if that parses.
    pub(crate) fn source(&self, remote: Option<SocketAddr>, metadata: &MetadataMap) -> Source {
        let Some(remote) = remote else {
            return Source::UNKNOWN;
        };
        if self.contains(remote.ip())
            && let Some(client) = forwarded_for(metadata)
        {
            return Source::of(client);
        }
        Source::of(remote.ip())
    }
}

/// The last address of the last `x-forwarded-for` value.
fn forwarded_for(metadata: &MetadataMap) -> Option<IpAddr> {
    let value = metadata.get_all(FORWARDED_FOR).iter().next_back()?;
    value.to_str().ok()?.rsplit(',').next()?.trim().parse().ok()
}

/// Calls per source: a token bucket each, in a book of bounded size. The book keeps sources
/// by how often and how recently they call (quick_cache's S3-FIFO policy): a source seen once
/// is forgotten first, so a flood of new sources pushes out other new sources, not the
/// collectors that authenticate again and again. A source that is forgotten and comes back
/// starts with a full bucket: what a flooder gains by that is one burst per source it holds,
/// and sources are IPv4 addresses or IPv6 /48 networks.
pub(crate) struct Rate {
    per_second: f64,
    burst: f64,
    buckets: quick_cache::unsync::Cache<Source, Bucket>,
}

impl std::fmt::Debug for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rate")
            .field("per_second", &self.per_second)
            .field("burst", &self.burst)
            .field("sources", &self.buckets.len())
            .finish()
    }
}

impl Rate {
    /// `burst` calls at once and `per_second` more each second per source, for at most
    /// `max_sources` sources.
    pub(crate) fn new(per_second: u32, burst: u32, max_sources: usize, _now: Instant) -> Self {
        Self {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: quick_cache::unsync::Cache::new(max_sources.max(1)),
        }
    }

    /// Whether `source` may make one more call at `now` (counted if so).
    pub(crate) fn allow(&mut self, source: Source, now: Instant) -> bool {
        let (rate, burst) = (self.per_second, self.burst);
        if let Some(mut bucket) = self.buckets.get_mut(&source) {
            return bucket.take(1.0, rate, burst, now);
        }
        let mut bucket = Bucket::full(burst, now);
        let allowed = bucket.take(1.0, rate, burst, now);
        self.buckets.insert(source, bucket);
        allowed
    }

    /// Sources in the book.
    #[cfg(test)]
    fn sources(&self) -> usize {
        self.buckets.len()
    }
}

/// The public read streams open, per source and in all.
#[derive(Debug, Clone)]
pub(crate) struct Streams {
    open: Arc<Mutex<Open>>,
    per_source: usize,
    limit: usize,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_source: HashMap<Source, usize>,
}

/// One admitted stream: its counts go down when this is dropped.
#[derive(Debug)]
pub(crate) struct StreamSlot {
    streams: Streams,
    source: Source,
}

impl Streams {
    /// At most `per_source` streams per source and `limit` in all.
    pub(crate) fn new(per_source: usize, limit: usize) -> Self {
        Self {
            open: Arc::default(),
            per_source,
            limit,
        }
    }

    /// Admits one more stream of `source`, or refuses it (RESOURCE_EXHAUSTED) if the source has
    /// as many open as it may, or the node.
    pub(crate) fn admit(&self, source: Source) -> Result<StreamSlot, Status> {
        let mut open = lock(&self.open);
        if open.per_source.get(&source).copied().unwrap_or(0) >= self.per_source {
            return Err(error::too_many_read_streams(self.per_source));
        }
        if open.total >= self.limit {
            return Err(error::node_read_streams_full(self.limit));
        }
        open.total += 1;
        *open.per_source.entry(source).or_insert(0) += 1;
        Ok(StreamSlot {
            streams: self.clone(),
            source,
        })
    }

    /// Streams open on the node.
    #[cfg(test)]
    fn total(&self) -> usize {
        lock(&self.open).total
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.streams.open);
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_source.get_mut(&self.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.per_source.remove(&self.source);
            }
        }
    }
}

/// The per-source limits of the services, shared by them. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Sources(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    proxies: Proxies,
    authentications: Mutex<Rate>,
    streams: Streams,
}

impl Sources {
    /// The limits of a node that trusts `proxies` to name their clients.
    pub(crate) fn new(proxies: Proxies) -> Self {
        Self(Arc::new(Inner {
            proxies,
            authentications: Mutex::new(Rate::new(
                AUTH_PER_SECOND,
                AUTH_BURST,
                MAX_SOURCES,
                Instant::now(),
            )),
            streams: Streams::new(STREAMS_PER_SOURCE, MAX_READ_STREAMS),
        }))
    }

    /// Where `request` comes from.
    pub(crate) fn source<T>(&self, request: &Request<T>) -> Source {
        self.0
            .proxies
            .source(request.remote_addr(), request.metadata())
    }

    /// Counts one `Authenticate` call of `request`'s source, or refuses it: RESOURCE_EXHAUSTED,
    /// `consent-reason: too-many-authentications`.
    pub(crate) fn authenticate<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let source = self.source(request);
        if lock(&self.0.authentications).allow(source, Instant::now()) {
            Ok(())
        } else {
            tracing::debug!(?source, "Authenticate refused: over the source's rate");
            Err(error::too_many_authentications(AUTH_BURST, AUTH_PER_SECOND))
        }
    }

    /// Admits one more `GetLog`/`GetFeed` stream of `request`'s source: hold the slot while the
    /// stream runs.
    pub(crate) fn open_stream<T>(&self, request: &Request<T>) -> Result<StreamSlot, Status> {
        self.0.streams.admit(self.source(request))
    }
}

/// The task's end of a public read stream: it holds the stream's slot.
#[derive(Debug)]
pub(crate) struct ReadSender<T> {
    tx: mpsc::Sender<Result<T, Status>>,
    abort: Option<oneshot::Sender<Status>>,
    deadline: Duration,
    resume_with: &'static str,
    _slot: StreamSlot,
}

/// The response's end of a public read stream: the items, or the status the stream was cut
/// short with first.
#[derive(Debug)]
pub(crate) struct ReadStream<T> {
    rx: mpsc::Receiver<Result<T, Status>>,
    abort: Option<oneshot::Receiver<Status>>,
    ended: bool,
}

/// A public read stream of [`STREAM_BUFFER`] items holding `slot`; a client that reads nothing
/// for [`SEND_DEADLINE`] is told to call again from `resume_with` (`from_index`, `from_seq`).
pub(crate) fn read_stream<T>(
    slot: StreamSlot,
    resume_with: &'static str,
) -> (ReadSender<T>, ReadStream<T>) {
    read_stream_with(slot, STREAM_BUFFER, SEND_DEADLINE, resume_with)
}

fn read_stream_with<T>(
    slot: StreamSlot,
    buffer: usize,
    deadline: Duration,
    resume_with: &'static str,
) -> (ReadSender<T>, ReadStream<T>) {
    let (tx, rx) = mpsc::channel(buffer.max(1));
    let (abort_tx, abort_rx) = oneshot::channel();
    (
        ReadSender {
            tx,
            abort: Some(abort_tx),
            deadline,
            resume_with,
            _slot: slot,
        },
        ReadStream {
            rx,
            abort: Some(abort_rx),
            ended: false,
        },
    )
}

impl<T> ReadSender<T> {
    /// Sends `item`, waiting for room at most the deadline. False when the stream is over: the
    /// client went away, or it read nothing for that long (the stream then ends with
    /// RESOURCE_EXHAUSTED, `client-not-reading`, before what it buffered). Stop sending then.
    pub(crate) async fn send(&mut self, item: Result<T, Status>) -> bool {
        // No timer while there is room (most sends).
        let item = match self.tx.try_send(item) {
            Ok(()) => return true,
            Err(TrySendError::Closed(_)) => return false,
            Err(TrySendError::Full(item)) => item,
        };
        match tokio::time::timeout(self.deadline, self.tx.send(item)).await {
            Ok(sent) => sent.is_ok(),
            Err(_) => {
                if let Some(abort) = self.abort.take() {
                    let _ = abort.send(error::read_stream_not_reading(
                        self.deadline,
                        self.resume_with,
                    ));
                }
                false
            }
        }
    }
}

impl<T> Unpin for ReadStream<T> {}

impl<T> Stream for ReadStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if let Some(abort) = this.abort.as_mut() {
            match Pin::new(abort).poll(cx) {
                Poll::Ready(Ok(status)) => {
                    // Cut short: the status goes first; what was buffered is dropped (the client
                    // resumes from the last item it received).
                    this.abort = None;
                    this.ended = true;
                    this.rx.close();
                    while this.rx.try_recv().is_ok() {}
                    return Poll::Ready(Some(Err(status)));
                }
                // The sender ended without cutting the stream short.
                Poll::Ready(Err(_)) => this.abort = None,
                Poll::Pending => {}
            }
        }
        this.rx.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use tonic::Code;

    use super::*;

    fn reason(status: &Status) -> Option<&str> {
        status
            .metadata()
            .get(error::REASON_KEY)
            .and_then(|v| v.to_str().ok())
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn a_source_is_an_ipv4_address_or_an_ipv6_prefix() {
        assert_eq!(Source::of(ip("192.0.2.7")), Source(ip("192.0.2.7")));
        assert_ne!(Source::of(ip("192.0.2.7")), Source::of(ip("192.0.2.8")));
        assert_eq!(
            Source::of(ip("::ffff:192.0.2.7")),
            Source::of(ip("192.0.2.7"))
        );
        assert_eq!(
            Source::of(ip("2001:db8:1:2:aaaa::1")),
            Source::of(ip("2001:db8:1:ffff:bbbb::2")),
            "one /48"
        );
        assert_ne!(
            Source::of(ip("2001:db8:1::1")),
            Source::of(ip("2001:db8:2::1"))
        );
    }

    #[test]
    fn a_trusted_proxy_is_charged_to_the_client_it_names_last() {
        let proxies = Proxies::new(&[ip("127.0.0.1")]);
        let proxy = Some(SocketAddr::from(([127, 0, 0, 1], 40_000)));
        let stranger = Some(SocketAddr::from(([198, 51, 100, 1], 40_000)));
        let mut metadata = MetadataMap::new();
        metadata.insert(
            FORWARDED_FOR,
            "203.0.113.9, 192.0.2.7".parse().expect("ascii"),
        );
        assert_eq!(
            proxies.source(proxy, &metadata),
            Source::of(ip("192.0.2.7")),
            "the address the proxy appended, not the one the client claimed"
        );
        assert_eq!(
            proxies.source(stranger, &metadata),
            Source::of(ip("198.51.100.1")),
            "anyone else's header is ignored"
        );
        assert_eq!(
            proxies.source(proxy, &MetadataMap::new()),
            Source::of(ip("127.0.0.1")),
            "no header: the proxy itself"
        );
        let mut garbage = MetadataMap::new();
        garbage.insert(FORWARDED_FOR, "not an address".parse().expect("ascii"));
        assert_eq!(proxies.source(proxy, &garbage), Source::of(ip("127.0.0.1")));
        assert_eq!(Proxies::default().source(None, &metadata), Source::UNKNOWN);
    }

    #[test]
    fn each_source_has_its_own_rate_and_it_refills() {
        let start = Instant::now();
        let mut rate = Rate::new(2, 4, 16, start);
        let (a, b) = (Source::of(ip("192.0.2.1")), Source::of(ip("192.0.2.2")));
        for _ in 0..4 {
            assert!(rate.allow(a, start));
        }
        assert!(!rate.allow(a, start), "the burst is spent");
        assert!(rate.allow(b, start), "another source is not held up");
        assert!(
            !rate.allow(a, start + Duration::from_millis(400)),
            "less than one call earned"
        );
        assert!(rate.allow(a, start + Duration::from_millis(600)));
        assert!(!rate.allow(a, start + Duration::from_millis(600)));
    }

    #[test]
    fn the_book_of_sources_stays_bounded_and_keeps_regular_callers() {
        let start = Instant::now();
        let mut rate = Rate::new(1, 2, 64, start);
        let source = |i: u32| Source::of(IpAddr::V4(Ipv4Addr::from(0xC000_0200 + i)));
        // A collector that authenticates again and again.
        let regular = Source::of(ip("198.51.100.7"));
        assert!(rate.allow(regular, start));
        assert!(rate.allow(regular, start));
        // A flood of sources seen once each, far more than the book holds.
        for i in 0..5_000 {
            assert!(rate.allow(source(i), start), "a new source gets its burst");
        }
        assert!(rate.sources() <= 64, "bounded: {}", rate.sources());
        // The regular caller kept its (spent) bucket: the flood did not reset it...
        assert!(!rate.allow(regular, start), "its burst is still spent");
        // ...and it earns calls back at its rate.
        assert!(rate.allow(regular, start + Duration::from_secs(1)));
    }

    #[test]
    fn streams_are_bounded_per_source_and_in_all() {
        let streams = Streams::new(2, 3);
        let (a, b, c) = (
            Source::of(ip("192.0.2.1")),
            Source::of(ip("192.0.2.2")),
            Source::of(ip("192.0.2.3")),
        );
        let a1 = streams.admit(a).expect("a 1");
        let _a2 = streams.admit(a).expect("a 2");
        let refused = streams.admit(a).expect_err("a 3");
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert_eq!(reason(&refused), Some(error::TOO_MANY_READ_STREAMS));
        let _b1 = streams.admit(b).expect("b 1");
        let full = streams.admit(c).expect_err("the node's 4th");
        assert_eq!(full.code(), Code::ResourceExhausted);
        assert_eq!(reason(&full), Some(error::NODE_READ_STREAMS_FULL));
        drop(a1);
        assert_eq!(streams.total(), 2);
        let _c1 = streams.admit(c).expect("a place is free again");
    }

    /// A client that reads nothing: the sender gives up after the deadline, the stream's place
    /// is free at once, and what the client reads next is the status, not the buffered items.
    #[tokio::test(start_paused = true)]
    async fn a_stream_whose_client_does_not_read_ends_with_the_reason_first() {
        let streams = Streams::new(1, 1);
        let slot = streams.admit(Source::UNKNOWN).expect("a slot");
        let (mut tx, mut rx) =
            read_stream_with::<u32>(slot, 2, Duration::from_secs(30), "from_seq");
        assert!(tx.send(Ok(1)).await);
        assert!(tx.send(Ok(2)).await);
        let started = tokio::time::Instant::now();
        assert!(!tx.send(Ok(3)).await, "the buffer stayed full");
        assert!(started.elapsed() >= Duration::from_secs(30));
        drop(tx);
        assert_eq!(streams.total(), 0, "the place is free");
        let status = rx
            .next()
            .await
            .expect("an item")
            .expect_err("the status first");
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(reason(&status), Some(error::NOT_READING));
        assert!(
            status.message().contains("from_seq"),
            "{}",
            status.message()
        );
        assert!(rx.next().await.is_none(), "then the end");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_read_to_its_end_ends_normally_and_a_gone_client_stops_the_sender() {
        let streams = Streams::new(1, 1);
        let slot = streams.admit(Source::UNKNOWN).expect("a slot");
        let (mut tx, rx) = read_stream_with::<u32>(slot, 4, Duration::from_secs(30), "from_index");
        for i in 0..3 {
            assert!(tx.send(Ok(i)).await);
        }
        drop(tx);
        let items: Vec<_> = rx.collect().await;
        assert_eq!(items.len(), 3);
        assert!(items.iter().all(Result::is_ok));

        let slot = streams.admit(Source::UNKNOWN).expect("free again");
        let (mut tx, rx) = read_stream_with::<u32>(slot, 4, Duration::from_secs(30), "from_index");
        drop(rx);
        assert!(!tx.send(Ok(1)).await, "nobody reads: stop");
    }
}
