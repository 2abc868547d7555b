//! A gRPC connection to one node, with errors a person can act on, and refusals of entries a
//! program can match on ([`RejectionReason`], [`Rejected`]). `consultations.rs`: the public
//! consultations and which policy version is in effect. `delegations.rs`: the delegations a
//! person gave or a delegate holds, and what delegates signed in a person's name.
//!
//! Every call is bounded: connecting by [`crate::transport::CONNECT_TIMEOUT`] (and the TLS
//! handshake by [`crate::transport::HANDSHAKE_TIMEOUT`]), each answer by
//! [`crate::transport::CALL_TIMEOUT`], its whole body included, and each message of a stream by
//! the same (tonic's own timeout ends only the wait for an answer's head). A node that takes the
//! connection and never answers fails the call ([`ClientError::Stalled`], naming it) instead of
//! holding a command, and the send queue's lock, forever.

use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::limits::MAX_FEED_STREAM;
use consent_proto::pb;
/// Why a node refused an entry: a closed enum, versioned by
/// [`consent_proto::reasons::REJECTION_REASONS_VERSION`]. Match on the values you act on and
/// treat any other, `Unspecified` included, as "rejected, reason unknown": a newer node may send a
/// value this release does not know (it reads as `Unspecified`).
pub use consent_proto::pb::RejectionReason;
use consent_proto::pb::consent_client::ConsentClient;
use consent_proto::pb::ledger_client::LedgerClient;
use consent_proto::pb::node_client::NodeClient as StatusClient;
use consent_proto::receipt::group;
use prost::bytes::Bytes;
use tonic::transport::Channel;
use tonic::{Code, Status};

pub use self::consultations::in_effect;
pub use self::delegations::{Delegated, DelegationRecord};
pub use crate::transport::node_url;
use crate::transport::{CALL_TIMEOUT, ConnectError, TlsOptions};

mod consultations;
mod delegations;

/// Failures talking to a node.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node cannot be reached.
    #[error(
        "cannot reach the node at {url}: {message} (is consentd running? set --node or CONSENT_NODE)"
    )]
    Unreachable {
        /// The URL tried.
        url: String,
        /// What happened.
        message: String,
    },
    /// No connection could be had (nothing listens, or TLS failed: an unknown CA, an expired
    /// certificate, another name, a client certificate required or refused).
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The node took the connection but gave no answer in time (overloaded, or stuck).
    #[error(
        "the node at {url} gave no answer for {what} within {secs} s (it took the connection: it \
         is overloaded or stuck); try again later, or use another node (--node)"
    )]
    Stalled {
        /// The URL.
        url: String,
        /// What was asked.
        what: String,
        /// How long it was waited for, seconds.
        secs: u64,
    },
    /// The node refused the request.
    #[error("the node refused {what}: {message}")]
    Refused {
        /// What was asked.
        what: String,
        /// gRPC code.
        code: Code,
        /// The node's explanation.
        message: String,
        /// For a refused entry, why (`Unspecified` for other refusals, older nodes and reasons
        /// this release does not know).
        reason: RejectionReason,
    },
}

impl ClientError {
    /// Why the node refused an entry; `Unspecified` when it did not say, or for anything else.
    pub fn rejection_reason(&self) -> RejectionReason {
        match self {
            ClientError::Refused { reason, .. } => *reason,
            ClientError::Unreachable { .. }
            | ClientError::Connect(_)
            | ClientError::Stalled { .. } => RejectionReason::Unspecified,
        }
    }
}

/// An entry of a batch the node refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the node refused the entry ({code:?}): {message}")]
pub struct Rejected {
    /// The gRPC code the entry would have got alone: INVALID_ARGUMENT (fix it),
    /// FAILED_PRECONDITION or RESOURCE_EXHAUSTED (the state or a limit: wait, or submit what it
    /// depends on first), INTERNAL (the node failed: retry, or use another node).
    pub code: Code,
    /// Why (see [`RejectionReason`]).
    pub reason: RejectionReason,
    /// The node's explanation.
    pub message: String,
}

/// `message` as a request asking for receipts signed in groups (metadata
/// `consent-receipt-form: group`, [`group::FORM_KEY`]): the node signs the receipts of
/// concurrent calls once, and [`consent_proto::receipt::verify`] checks either form.
pub fn grouped<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        group::FORM_KEY,
        tonic::metadata::MetadataValue::from_static(group::FORM_GROUP),
    );
    request
}

/// One result of a `SubmitBatch` as Rust: the response (accepted, duplicate or pending), or why
/// the entry was refused. From a node that sends no `rejection_reason`, the reason is read from
/// `error_reason`.
pub fn submit_result(result: pb::SubmitResult) -> Result<pb::SubmitResponse, Rejected> {
    let reason = match result.rejection_reason() {
        RejectionReason::Unspecified => consent_proto::reasons::from_code(&result.error_reason),
        known => known,
    };
    match result.response {
        Some(response) => Ok(response),
        None => Err(Rejected {
            code: Code::from_i32(i32::try_from(result.error_code).unwrap_or(i32::MAX)),
            reason,
            message: result.error_message,
        }),
    }
}

/// A connection to one node: its Ledger, Consent and Node services over one channel (the
/// generated `pb::node_client::NodeClient` is only the Node service).
#[derive(Clone)]
pub struct NodeConnection {
    url: String,
    tls: TlsOptions,
    channel: Channel,
    ledger: LedgerClient<Channel>,
    consent: ConsentClient<Channel>,
    status: StatusClient<Channel>,
    /// How long an answer, or a stream's next message, is waited for ([`CALL_TIMEOUT`]).
    call_timeout: Duration,
}

/// A whole streamed read ([`NodeConnection::feed`], [`NodeConnection::feed_between`]) takes at
/// most this many call timeouts, however its node drips its messages.
pub const READ_BUDGET: u32 = 4;

/// The most entries [`NodeConnection::feed`] reads of one feed (a citizen's feeds hold a few;
/// a registrar's or a collector's, a few thousand).
pub const MAX_FEED_READ: usize = 100_000;

/// A node that streamed more of a feed than a read takes.
fn too_long(what: &str, most: usize) -> ClientError {
    ClientError::Refused {
        what: what.to_string(),
        code: Code::OutOfRange,
        message: format!("the node sent more than the {most} entries a read takes"),
        reason: RejectionReason::Unspecified,
    }
}

/// `answer`, waited for at most `limit`: `None` when it did not come in time.
async fn within<T>(limit: Duration, answer: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(limit, answer).await.ok()
}

/// Whether `status` is tonic's own timeout of the wait for an answer's head (set on the
/// endpoint): CANCELLED, "Timeout expired" (its source does not survive to be downcast).
fn timed_out(status: &Status) -> bool {
    status.code() == Code::Cancelled && status.message() == tonic::TimeoutExpired(()).to_string()
}

impl NodeConnection {
    /// Connects (and fails fast with a clear message when nothing listens); an `https://` URL
    /// with the system's trusted roots and no client certificate.
    pub async fn connect(url: &str) -> Result<NodeConnection, ClientError> {
        Self::connect_with(url, &TlsOptions::default()).await
    }

    /// Connects with these TLS settings (for an `https://` URL; refused with an `http://` one);
    /// a failure says in one line what went wrong ([`ConnectError`]).
    pub async fn connect_with(url: &str, tls: &TlsOptions) -> Result<NodeConnection, ClientError> {
        let url = node_url(url);
        let channel = crate::transport::channel(&url, tls).await?;
        Ok(NodeConnection {
            url,
            tls: tls.clone(),
            channel: channel.clone(),
            ledger: LedgerClient::new(channel.clone()),
            consent: ConsentClient::new(channel.clone()),
            status: StatusClient::new(channel),
            call_timeout: CALL_TIMEOUT,
        })
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The TLS settings it was made with (for another connection to the same node).
    pub fn tls(&self) -> &TlsOptions {
        &self.tls
    }

    /// The connection, for other services (e.g. `Log`).
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// What is left of a read's `deadline`, at most one call timeout (none left: zero, which
    /// times out at once).
    fn left(&self, deadline: Instant) -> Duration {
        deadline
            .saturating_duration_since(Instant::now())
            .min(self.call_timeout)
    }

    /// A call to this node that got no answer in time.
    fn stalled(&self, what: &str) -> ClientError {
        ClientError::Stalled {
            url: self.url.clone(),
            what: what.to_string(),
            secs: self.call_timeout.as_secs().max(1),
        }
    }

    async fn refused(&self, what: &str, status: Status) -> ClientError {
        if timed_out(&status) {
            return self.stalled(what);
        }
        // A node that refuses the client certificate after the handshake (TLS 1.3) says so on
        // the first call.
        if let Some(failure) = crate::transport::call_failure(&self.url, &self.tls, &status).await {
            return ClientError::Connect(failure);
        }
        if matches!(status.code(), Code::Unavailable | Code::Unknown)
            && status.message().contains("transport")
        {
            return ClientError::Unreachable {
                url: self.url.clone(),
                message: status.message().to_string(),
            };
        }
        ClientError::Refused {
            what: what.to_string(),
            code: status.code(),
            message: status.message().to_string(),
            reason: consent_proto::reasons::from_status(&status),
        }
    }

    /// Submits one entry. Its receipt comes signed in a group (see [`grouped`]).
    pub async fn submit(
        &mut self,
        entry: &Entry,
        what: &str,
    ) -> Result<pb::SubmitResponse, ClientError> {
        let request = grouped(pb::SubmitRequest {
            entry: Some(entry.to_signed()),
        });
        self.send(request, what).await
    }

    /// Submits one entry, asking for its receipt signed alone, not in a group: for a receipt
    /// handed to someone whose verifier may predate receipt groups (`consent receipt --out`).
    pub async fn submit_signed_alone(
        &mut self,
        entry: &Entry,
        what: &str,
    ) -> Result<pb::SubmitResponse, ClientError> {
        let request = tonic::Request::new(pb::SubmitRequest {
            entry: Some(entry.to_signed()),
        });
        self.send(request, what).await
    }

    async fn send(
        &mut self,
        request: tonic::Request<pb::SubmitRequest>,
        what: &str,
    ) -> Result<pb::SubmitResponse, ClientError> {
        let answer = within(self.call_timeout, self.ledger.submit(request)).await;
        match answer {
            None => Err(self.stalled(what)),
            Some(Ok(r)) => Ok(r.into_inner()),
            Some(Err(s)) => Err(self.refused(what, s).await),
        }
    }

    /// Submits up to 1,000 entries in order ([`consent_proto::limits::MAX_SUBMIT_BATCH`]): one
    /// result per entry, each the response or why it was refused ([`submit_result`]). The call
    /// itself fails for an empty or oversized batch, or when the node refuses it whole.
    pub async fn submit_batch(
        &mut self,
        entries: &[Entry],
    ) -> Result<Vec<Result<pb::SubmitResponse, Rejected>>, ClientError> {
        let request = grouped(pb::SubmitBatchRequest {
            entries: entries.iter().map(Entry::to_signed).collect(),
        });
        let answer = within(self.call_timeout, self.ledger.submit_batch(request)).await;
        match answer {
            None => Err(self.stalled("the batch")),
            Some(Ok(r)) => Ok(r
                .into_inner()
                .results
                .into_iter()
                .map(submit_result)
                .collect()),
            Some(Err(s)) => Err(self.refused("the batch", s).await),
        }
    }

    /// A feed's head, or `None` when the node does not know the feed.
    pub async fn head(
        &mut self,
        feed: &FeedId,
    ) -> Result<Option<pb::GetHeadResponse>, ClientError> {
        let request = pb::GetHeadRequest {
            feed: Bytes::copy_from_slice(&feed.0),
            with_grants: false,
        };
        let answer = within(self.call_timeout, self.ledger.get_head(request)).await;
        match answer {
            None => Err(self.stalled("the feed head")),
            Some(Ok(r)) => Ok(Some(r.into_inner())),
            Some(Err(s)) if s.code() == Code::NotFound => Ok(None),
            Some(Err(s)) => Err(self.refused("the feed head", s).await),
        }
    }

    /// An entry by id, or `None`.
    pub async fn entry(&mut self, id: &EntryId) -> Result<Option<Entry>, ClientError> {
        let request = pb::GetEntryRequest {
            id: Bytes::copy_from_slice(&id.0),
        };
        let answer = within(self.call_timeout, self.ledger.get_entry(request)).await;
        match answer {
            None => Err(self.stalled("the entry")),
            // Only the entry asked for: another one is no answer (re-review L1).
            Some(Ok(r)) => Ok(r
                .into_inner()
                .entry
                .and_then(|e| e.entry)
                .and_then(|s| Entry::from_signed(&s).ok())
                .filter(|e| e.id == *id)),
            Some(Err(s)) if s.code() == Code::NotFound => Ok(None),
            Some(Err(s)) => Err(self.refused("the entry", s).await),
        }
    }

    /// Every entry of a feed (empty for an unknown feed), paging through the node's stream limit;
    /// at most [`MAX_FEED_READ`] entries, and the whole read within [`READ_BUDGET`] call
    /// timeouts: a node that streams without end, or drips, fails the call ([`ClientError::Stalled`]
    /// or refused) instead of holding the command, or exhausting its memory.
    pub async fn feed(&mut self, feed: &FeedId) -> Result<Vec<Entry>, ClientError> {
        let mut out = Vec::new();
        let deadline = Instant::now() + self.call_timeout * READ_BUDGET;
        loop {
            if out.len() >= MAX_FEED_READ {
                return Err(too_long("the feed", MAX_FEED_READ));
            }
            let request = pb::GetFeedRequest {
                feed: Bytes::copy_from_slice(&feed.0),
                from_seq: out.len() as u64,
                limit: 0,
            };
            let answer = within(self.left(deadline), self.ledger.get_feed(request)).await;
            let mut stream = match answer {
                None => return Err(self.stalled("the feed")),
                Some(Ok(r)) => r.into_inner(),
                Some(Err(s)) if s.code() == Code::NotFound => return Ok(out),
                Some(Err(s)) => return Err(self.refused("the feed", s).await),
            };
            let before = out.len();
            loop {
                let next = within(self.left(deadline), stream.message()).await;
                match next {
                    None => return Err(self.stalled("the feed")),
                    Some(Ok(Some(item))) => {
                        if out.len() >= MAX_FEED_READ {
                            return Err(too_long("the feed", MAX_FEED_READ));
                        }
                        if let Some(entry) = item.entry.and_then(|s| Entry::from_signed(&s).ok()) {
                            out.push(entry);
                        }
                    }
                    Some(Ok(None)) => break,
                    Some(Err(s)) => return Err(self.refused("the feed", s).await),
                }
            }
            if out.len() == before
                || (out.len() - before) < consent_proto::limits::MAX_FEED_STREAM as usize
            {
                return Ok(out);
            }
        }
    }

    /// The entries of a feed from its inception up to `max_seq` (fewer when the feed is shorter,
    /// empty for an unknown feed), for verifying a head at `max_seq`. It asks for no more than
    /// that and holds at most `max_seq + 1` entries: a node that streams more than it was asked
    /// for is refused. It stops at the first entry that does not parse (nothing after it could
    /// be verified).
    pub async fn feed_upto(
        &mut self,
        feed: &FeedId,
        max_seq: u64,
    ) -> Result<Vec<Entry>, ClientError> {
        self.feed_between(feed, 0, max_seq).await
    }

    /// [`NodeConnection::feed_upto`] from seq `from_seq` on: the entries `from_seq..=max_seq`,
    /// the whole read within [`READ_BUDGET`] call timeouts.
    pub async fn feed_between(
        &mut self,
        feed: &FeedId,
        from_seq: u64,
        max_seq: u64,
    ) -> Result<Vec<Entry>, ClientError> {
        let wanted = max_seq.saturating_add(1).saturating_sub(from_seq);
        let deadline = Instant::now() + self.call_timeout * READ_BUDGET;
        let mut out: Vec<Entry> = Vec::new();
        while (out.len() as u64) < wanted {
            let limit = (wanted - out.len() as u64).min(u64::from(MAX_FEED_STREAM)) as u32;
            let request = pb::GetFeedRequest {
                feed: Bytes::copy_from_slice(&feed.0),
                from_seq: from_seq.saturating_add(out.len() as u64),
                limit,
            };
            let answer = within(self.left(deadline), self.ledger.get_feed(request)).await;
            let mut stream = match answer {
                None => return Err(self.stalled("the feed")),
                Some(Ok(r)) => r.into_inner(),
                Some(Err(s)) if s.code() == Code::NotFound => return Ok(out),
                Some(Err(s)) => return Err(self.refused("the feed", s).await),
            };
            let mut got: u32 = 0;
            loop {
                let next = within(self.left(deadline), stream.message()).await;
                match next {
                    None => return Err(self.stalled("the feed")),
                    Some(Ok(Some(item))) => {
                        got += 1;
                        if got > limit {
                            return Err(ClientError::Refused {
                                what: "the feed".to_string(),
                                code: Code::OutOfRange,
                                message: format!(
                                    "the node sent more than the {limit} entries asked for"
                                ),
                                reason: RejectionReason::Unspecified,
                            });
                        }
                        match item.entry.and_then(|s| Entry::from_signed(&s).ok()) {
                            Some(entry) => out.push(entry),
                            None => return Ok(out),
                        }
                    }
                    Some(Ok(None)) => break,
                    Some(Err(s)) => return Err(self.refused("the feed", s).await),
                }
            }
            if got < limit {
                return Ok(out);
            }
        }
        Ok(out)
    }

    /// A consent check.
    pub async fn check(
        &mut self,
        request: pb::CheckRequest,
    ) -> Result<pb::CheckResponse, ClientError> {
        let answer = within(self.call_timeout, self.consent.check(request)).await;
        match answer {
            None => Err(self.stalled("the check")),
            Some(Ok(r)) => Ok(r.into_inner()),
            Some(Err(s)) => Err(self.refused("the check", s).await),
        }
    }

    /// The node's status.
    pub async fn status(&mut self) -> Result<pb::StatusResponse, ClientError> {
        let answer = within(self.call_timeout, self.status.status(pb::StatusRequest {})).await;
        match answer {
            None => Err(self.stalled("status")),
            Some(Ok(r)) => Ok(r.into_inner()),
            Some(Err(s)) => Err(self.refused("status", s).await),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_results_become_responses_or_matchable_rejections() {
        let accepted = pb::SubmitResponse {
            status: pb::SubmitStatus::Accepted as i32,
            ..Default::default()
        };
        let ok = pb::SubmitResult {
            response: Some(accepted.clone()),
            ..Default::default()
        };
        assert_eq!(submit_result(ok), Ok(accepted));
        let refused = |reason: i32, name: &str| pb::SubmitResult {
            response: None,
            error_code: Code::InvalidArgument as u32,
            error_reason: name.to_string(),
            error_message: "entry rejected".to_string(),
            rejection_reason: reason,
        };
        let wrong_prev = submit_result(refused(RejectionReason::WrongPrev as i32, "wrong-prev"))
            .expect_err("refused");
        assert_eq!(
            (wrong_prev.code, wrong_prev.reason),
            (Code::InvalidArgument, RejectionReason::WrongPrev)
        );
        // An older node names the reason only in text.
        let old = submit_result(refused(0, "bad-signature")).expect_err("refused");
        assert_eq!(old.reason, RejectionReason::BadSignature);
        // A newer node's reason, unknown here: rejected, reason unknown.
        let newer = submit_result(refused(9_999, "from-the-future")).expect_err("refused");
        assert_eq!(newer.reason, RejectionReason::Unspecified);
        assert_eq!(newer.code, Code::InvalidArgument);
    }

    #[test]
    fn a_refusal_names_its_reason() {
        let status = consent_proto::reasons::status(
            Code::FailedPrecondition,
            RejectionReason::FeedFrozen,
            "entry rejected (feed-frozen): …",
        );
        let refused = ClientError::Refused {
            what: "the grant".into(),
            code: status.code(),
            message: status.message().to_string(),
            reason: consent_proto::reasons::from_status(&status),
        };
        assert_eq!(refused.rejection_reason(), RejectionReason::FeedFrozen);
    }

    /// Issue 24: a node that takes the connection and never answers fails the call in bounded
    /// time, naming itself, instead of holding the command (and the send queue's lock) forever.
    #[tokio::test]
    async fn a_node_that_never_answers_fails_the_call_and_is_named() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        // Takes every connection and keeps it open, reading nothing, answering nothing.
        let silent = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let mut node = NodeConnection::connect(&url)
            .await
            .expect("the connection is taken");
        node.call_timeout = Duration::from_millis(200);
        let feed = FeedId([7; 32]);
        let err = node.head(&feed).await.expect_err("no answer");
        assert!(matches!(err, ClientError::Stalled { .. }), "{err}");
        assert!(err.to_string().contains(&url), "{err}");
        let err = node.feed(&feed).await.expect_err("no answer");
        assert!(matches!(err, ClientError::Stalled { .. }), "{err}");
        silent.abort();
    }

    #[test]
    fn tonics_own_timeout_reads_as_a_stalled_node() {
        assert!(timed_out(&Status::cancelled("Timeout expired")));
        assert!(!timed_out(&Status::cancelled("the client went away")));
        assert!(!timed_out(&Status::deadline_exceeded("Timeout expired")));
    }

    #[test]
    fn a_bare_address_means_http() {
        assert_eq!(node_url("127.0.0.1:50051"), "http://127.0.0.1:50051");
        assert_eq!(node_url(" 127.0.0.1:7\n"), "http://127.0.0.1:7");
        assert_eq!(node_url("http://[::1]:9"), "http://[::1]:9");
        assert_eq!(node_url("https://node.city:443"), "https://node.city:443");
    }
}
