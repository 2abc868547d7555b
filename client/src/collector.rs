//! The collector SDK: a session with a node (authenticated with the collector's current key,
//! renewed before it expires), and checks that fail closed.
//!
//! ```no_run
//! # async fn demo(key: consent_proto::keys::SecretKey, me: consent_proto::FeedId,
//! #               subject: consent_proto::FeedId) -> Result<(), consent_client::collector::CollectorError> {
//! use consent_client::collector::Collector;
//! use consent_proto::vocab::{DataCategory, Purpose};
//! let mut collector = Collector::connect("http://127.0.0.1:50051", key, me).await?;
//! let answer = collector.check(subject, Purpose::ServiceProvision, DataCategory::Vehicle).await?;
//! if answer.decision() == consent_proto::pb::Decision::Allow { /* store the record */ }
//! # Ok(()) }
//! ```

use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::keys::{PublicKey, SecretKey};
use consent_proto::pb;
use consent_proto::pb::consent_client::ConsentClient;
use consent_proto::pb::ledger_client::LedgerClient;
use consent_proto::pb::node_client::NodeClient;
use consent_proto::receipt::group;
use consent_proto::scope::Context;
use consent_proto::vocab::{DataCategory, Purpose};
use prost::bytes::Bytes;
use tonic::codegen::InterceptedService;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use crate::transport::{ConnectError, TlsOptions};

/// Renew a session this long before it expires.
const RENEW_BEFORE_MS: u64 = 60_000;

/// Why a collector call failed. A failed check is not an answer: treat it as deny.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// The node cannot be reached.
    #[error("cannot reach the node at {url}: {message}")]
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
    /// The node refused to authenticate the collector.
    #[error("the node refused the session ({code:?}): {message}")]
    Unauthenticated {
        /// gRPC code.
        code: Code,
        /// The node's reason.
        message: String,
    },
    /// The node refused the call.
    #[error("the node refused {what} ({code:?}): {message}")]
    Refused {
        /// What was asked.
        what: &'static str,
        /// gRPC code.
        code: Code,
        /// The node's reason.
        message: String,
    },
}

/// Adds `authorization: Bearer <token>` to every call, and `consent-receipt-form: group` to every
/// call that names no receipt form itself (receipts signed in groups; see
/// [`Collector::check_signed_alone`] for one signed alone).
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Bearer {
    /// From a token issued by `Consent.Authenticate`.
    pub fn new(token: &str) -> Result<Self, CollectorError> {
        format!("Bearer {token}")
            .parse()
            .map(Bearer)
            .map_err(|_| CollectorError::Unauthenticated {
                code: Code::Internal,
                message: "the node issued a token that is not ASCII".into(),
            })
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let metadata = request.metadata_mut();
        metadata.insert(consent_proto::auth::METADATA_KEY, self.0.clone());
        // Signed receipts come in groups (cheaper for the node; verified the same way), unless
        // the call named its form itself ([`Collector::check_signed_alone`]).
        if !metadata.contains_key(group::FORM_KEY) {
            metadata.insert(
                group::FORM_KEY,
                tonic::metadata::MetadataValue::from_static(group::FORM_GROUP),
            );
        }
        Ok(request)
    }
}

/// A Consent client that presents a session token.
pub type SessionClient = ConsentClient<InterceptedService<Channel, Bearer>>;

/// The node's key (32 bytes) from `Node.NodeKey`, or from `Node.Status` on a node older than
/// that call.
pub async fn fetch_node_key(channel: Channel) -> Result<Bytes, Status> {
    let mut node = NodeClient::new(channel);
    let answer = node.node_key(pb::NodeKeyRequest {}).await;
    match answer {
        Ok(r) => Ok(r.into_inner().node_key),
        Err(s) if s.code() == Code::Unimplemented => Ok(node
            .status(pb::StatusRequest {})
            .await?
            .into_inner()
            .node_key),
        Err(s) => Err(s),
    }
}

/// Authenticates `collector` (holding `key`) at the node behind `channel`: `(token, expires_ms)`.
pub async fn authenticate(
    channel: Channel,
    key: &SecretKey,
    collector: FeedId,
) -> Result<(String, u64), CollectorError> {
    authenticate_at(channel, key, collector, None).await
}

/// [`authenticate`] on a new connection to `at` (its URL and TLS settings): a TLS failure of
/// the first call is reported as one (a TLS 1.3 node refuses a client certificate only after
/// the handshake).
async fn authenticate_at(
    channel: Channel,
    key: &SecretKey,
    collector: FeedId,
    at: Option<(&str, &TlsOptions)>,
) -> Result<(String, u64), CollectorError> {
    let refused = async |s: Status| {
        let failure = match at {
            Some((url, tls)) => crate::transport::call_failure(url, tls, &s).await,
            None => None,
        };
        match failure {
            Some(failure) => CollectorError::Connect(failure),
            None => CollectorError::Unauthenticated {
                code: s.code(),
                message: s.message().to_string(),
            },
        }
    };
    let node_key = match fetch_node_key(channel.clone()).await {
        Ok(key) => key,
        Err(s) => return Err(refused(s).await),
    };
    let node_key: [u8; 32] =
        node_key
            .as_ref()
            .try_into()
            .map_err(|_| CollectorError::Unauthenticated {
                code: Code::Internal,
                message: "the node's answer carries no valid node key".into(),
            })?;
    let node_key =
        PublicKey::from_bytes(&node_key).map_err(|_| CollectorError::Unauthenticated {
            code: Code::Internal,
            message: "the node's key does not decode".into(),
        })?;
    // A node takes each signed statement once, and Ed25519 signs the same statement the same
    // way: two sessions opened in the same millisecond (another task, another process with
    // this key) would sign the same bytes. The time only moves forward here, and a statement
    // refused as already used is signed again a millisecond later, once.
    let mut retried = false;
    loop {
        let time_ms = statement_time();
        let signature = consent_proto::auth::sign(key, &node_key, &collector, time_ms);
        let answer = ConsentClient::new(channel.clone())
            .authenticate(pb::AuthenticateRequest {
                collector: Bytes::copy_from_slice(&collector.0),
                node_key: Bytes::copy_from_slice(&node_key.to_bytes()),
                time_ms,
                signature: Bytes::copy_from_slice(&signature),
            })
            .await;
        match answer {
            Ok(r) => {
                let r = r.into_inner();
                return Ok((r.token, r.expires_ms));
            }
            Err(s) if !retried && reason_of(&s) == Some(STATEMENT_REPLAYED) => retried = true,
            Err(s) => return Err(refused(s).await),
        }
    }
}

/// `consent-reason` of a statement a node already took.
const STATEMENT_REPLAYED: &str = "statement-replayed";

/// The `consent-reason` a refusal carries.
fn reason_of(status: &Status) -> Option<&str> {
    status
        .metadata()
        .get(consent_proto::reasons::REASON_METADATA_KEY)
        .and_then(|v| v.to_str().ok())
}

/// The time for a new statement: now, but after every statement this process signed before.
fn statement_time() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = crate::time::now_ms();
    let previous = LAST
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or(now);
    now.max(previous + 1)
}

/// A collector's session with one node at a time, failing over to the next of its endpoints
/// when the node cannot be reached.
pub struct Collector {
    /// Every endpoint, in order of preference.
    endpoints: Vec<String>,
    /// The one in use.
    current: usize,
    /// The TLS settings for every endpoint.
    tls: TlsOptions,
    url: String,
    channel: Channel,
    key: SecretKey,
    me: FeedId,
    client: SessionClient,
    expires_ms: u64,
}

impl Collector {
    /// Connects to the node at `url` and authenticates as `me` with its current `key`.
    pub async fn connect(url: &str, key: SecretKey, me: FeedId) -> Result<Self, CollectorError> {
        Self::connect_any(&[url], key, me).await
    }

    /// [`Collector::connect`] with these TLS settings (for an `https://` URL).
    pub async fn connect_with(
        url: &str,
        key: SecretKey,
        me: FeedId,
        tls: &TlsOptions,
    ) -> Result<Self, CollectorError> {
        Self::connect_any_with(&[url], key, me, tls).await
    }

    /// Connects to the first of `endpoints` that answers and authenticates there; later calls
    /// that cannot reach it move on to the next (round robin), once per call.
    pub async fn connect_any(
        endpoints: &[&str],
        key: SecretKey,
        me: FeedId,
    ) -> Result<Self, CollectorError> {
        Self::connect_any_with(endpoints, key, me, &TlsOptions::default()).await
    }

    /// [`Collector::connect_any`] with these TLS settings, the same for every endpoint (for
    /// `https://` URLs).
    pub async fn connect_any_with(
        endpoints: &[&str],
        key: SecretKey,
        me: FeedId,
        tls: &TlsOptions,
    ) -> Result<Self, CollectorError> {
        let mut last = CollectorError::Unreachable {
            url: String::new(),
            message: "no endpoint given".into(),
        };
        for (i, url) in endpoints.iter().enumerate() {
            match session(url, &key, me, tls).await {
                Ok((channel, client, expires_ms)) => {
                    return Ok(Self {
                        endpoints: endpoints.iter().map(|e| e.to_string()).collect(),
                        current: i,
                        tls: tls.clone(),
                        url: url.to_string(),
                        channel,
                        key,
                        me,
                        client,
                        expires_ms,
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Moves the session to the next endpoint that answers (false if none does).
    async fn fail_over(&mut self) -> bool {
        let n = self.endpoints.len();
        for step in 1..n {
            let i = (self.current + step) % n;
            if let Ok((channel, client, expires_ms)) =
                session(&self.endpoints[i], &self.key, self.me, &self.tls).await
            {
                tracing::warn!(from = %self.url, to = %self.endpoints[i], "collector session failed over");
                self.current = i;
                self.url = self.endpoints[i].clone();
                self.channel = channel;
                self.client = client;
                self.expires_ms = expires_ms;
                return true;
            }
        }
        false
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The collector's feed.
    pub fn me(&self) -> FeedId {
        self.me
    }

    /// Renews the session if it ends within a minute.
    async fn fresh(&mut self) -> Result<(), CollectorError> {
        if crate::time::now_ms() + RENEW_BEFORE_MS >= self.expires_ms {
            match self.renew().await {
                Ok(()) => {}
                Err(CollectorError::Unauthenticated { code, .. })
                    if code == Code::Unavailable && self.fail_over().await => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Opens a new session over the connection in use: ahead of the session's end, and once
    /// after a call was refused UNAUTHENTICATED (the session expired by the node's clock, the
    /// key rotated, the connection presents another client certificate than the session's, or
    /// the token is one the node no longer takes, e.g. from before its upgrade).
    async fn renew(&mut self) -> Result<(), CollectorError> {
        let (token, expires_ms) = authenticate(self.channel.clone(), &self.key, self.me).await?;
        self.client = ConsentClient::with_interceptor(self.channel.clone(), Bearer::new(&token)?);
        self.expires_ms = expires_ms;
        Ok(())
    }

    /// The question "may I store `category` data about `subject` for `purpose` now?".
    pub fn request(
        &self,
        subject: FeedId,
        purpose: Purpose,
        category: DataCategory,
    ) -> pb::CheckRequest {
        pb::CheckRequest {
            subject: Bytes::copy_from_slice(&subject.0),
            collector: Bytes::copy_from_slice(&self.me.0),
            purpose: purpose as i32,
            category: category as i32,
            at_ms: 0,
            ..Default::default()
        }
    }

    /// The question "may I keep `category` data about `subject` for `purpose`, observed as
    /// `context` says (sensor and its kind, cell, time, the form it would be kept in)?".
    pub fn request_with(
        &self,
        subject: FeedId,
        purpose: Purpose,
        category: DataCategory,
        context: &Context,
    ) -> pb::CheckRequest {
        pb::CheckRequest {
            context: context.to_wire(),
            ..self.request(subject, purpose, category)
        }
    }

    /// One check now about an observation: a grant under a scoped policy needs the parts of
    /// `context` its scope constrains (else the answer is a deny naming what is missing), and the
    /// answer's `required_form` says which form a `FORM_NOT_COVERED` deny would allow. An error
    /// is not an answer: the caller must treat it as deny.
    pub async fn check_with(
        &mut self,
        subject: FeedId,
        purpose: Purpose,
        category: DataCategory,
        context: &Context,
    ) -> Result<pb::CheckResponse, CollectorError> {
        let request = self.request_with(subject, purpose, category, context);
        self.check_request(request).await
    }

    /// One check now. An error is not an answer: the caller must treat it as deny.
    pub async fn check(
        &mut self,
        subject: FeedId,
        purpose: Purpose,
        category: DataCategory,
    ) -> Result<pb::CheckResponse, CollectorError> {
        let request = self.request(subject, purpose, category);
        self.check_request(request).await
    }

    /// One check, as a full request (e.g. with `at_ms`).
    pub async fn check_request(
        &mut self,
        request: pb::CheckRequest,
    ) -> Result<pb::CheckResponse, CollectorError> {
        self.check_in(request, None).await
    }

    /// One check whose receipt (if `request.receipt`) is signed alone, not in a group: for a
    /// receipt handed to someone whose verifier may predate receipt groups (`consent check
    /// --receipt FILE`).
    pub async fn check_signed_alone(
        &mut self,
        request: pb::CheckRequest,
    ) -> Result<pb::CheckResponse, CollectorError> {
        self.check_in(request, Some(group::FORM_ALONE)).await
    }

    /// One check, its receipt in `form` (`None`: the session's, grouped), failing over to
    /// another node or renewing the session once.
    async fn check_in(
        &mut self,
        request: pb::CheckRequest,
        form: Option<&'static str>,
    ) -> Result<pb::CheckResponse, CollectorError> {
        let call = |request: pb::CheckRequest| {
            let mut request = Request::new(request);
            if let Some(form) = form {
                request.metadata_mut().insert(
                    group::FORM_KEY,
                    tonic::metadata::MetadataValue::from_static(form),
                );
            }
            request
        };
        self.fresh().await?;
        match self.client.check(call(request.clone())).await {
            Err(s) if unreachable(&s) && self.fail_over().await => {
                self.client.check(call(request)).await
            }
            Err(s) if s.code() == Code::Unauthenticated && self.renew().await.is_ok() => {
                self.client.check(call(request)).await
            }
            other => other,
        }
        .map(|r| r.into_inner())
        .map_err(|s| refused("the check", s))
    }

    /// Up to 1,000 checks, answered in order, each from one consistent view of the node (views
    /// follow each other: each answer carries its own `log_size`).
    pub async fn check_batch(
        &mut self,
        checks: Vec<pb::CheckRequest>,
    ) -> Result<Vec<pb::CheckResponse>, CollectorError> {
        self.fresh().await?;
        let request = pb::CheckBatchRequest { checks };
        match self.client.check_batch(request.clone()).await {
            Err(s) if unreachable(&s) && self.fail_over().await => {
                self.client.check_batch(request).await
            }
            Err(s) if s.code() == Code::Unauthenticated && self.renew().await.is_ok() => {
                self.client.check_batch(request).await
            }
            other => other,
        }
        .map(|r| r.into_inner().decisions)
        .map_err(|s| refused("the check batch", s))
    }
}

impl Collector {
    /// Everything that concerns this collector from `cursor` on (empty: the beginning), then
    /// live; heartbeats every `heartbeat_ms` (0: 5 s). Keep the last event's cursor and pass it
    /// back after a disconnect: nothing is lost or repeated.
    pub async fn watch(
        &mut self,
        cursor: Bytes,
        heartbeat_ms: u32,
    ) -> Result<tonic::Streaming<pb::WatchEvent>, CollectorError> {
        self.watch_with(cursor, heartbeat_ms, false).await
    }

    /// [`Collector::watch`], also with this collector's consultations when `consultations` is
    /// true: `POLICY` (each new version of its own policy; `gated` when it is a draft),
    /// `STANCES` (citizens' stances, coalesced, with the counts) and `OUTCOME` (a registrar's
    /// outcome). Off, those are skipped and the cursor still advances.
    pub async fn watch_with(
        &mut self,
        cursor: Bytes,
        heartbeat_ms: u32,
        consultations: bool,
    ) -> Result<tonic::Streaming<pb::WatchEvent>, CollectorError> {
        self.fresh().await?;
        let request = pb::WatchRequest {
            cursor,
            heartbeat_ms,
            consultations,
        };
        match self.client.watch(request.clone()).await {
            Err(s) if unreachable(&s) && self.fail_over().await => self.client.watch(request).await,
            Err(s) if s.code() == Code::Unauthenticated && self.renew().await.is_ok() => {
                self.client.watch(request).await
            }
            other => other,
        }
        .map(|r| r.into_inner())
        .map_err(|s| refused("the watch", s))
    }
}

impl Collector {
    /// An entry by id (`Ledger.GetEntry` on the session's connection), e.g. the policy a grant
    /// names; `None` when the node does not hold it. The entry must decode and have that id (its
    /// id is the hash of its signed bytes, so a node cannot pass another entry off as it); its
    /// signature is not verified here.
    pub async fn entry(&mut self, id: EntryId) -> Result<Option<Entry>, CollectorError> {
        let request = pb::GetEntryRequest {
            id: Bytes::copy_from_slice(&id.0),
        };
        let answer = match LedgerClient::new(self.channel.clone())
            .get_entry(request.clone())
            .await
        {
            Err(s) if unreachable(&s) && self.fail_over().await => {
                LedgerClient::new(self.channel.clone())
                    .get_entry(request)
                    .await
            }
            other => other,
        };
        let signed = match answer {
            Ok(r) => r.into_inner().entry.and_then(|e| e.entry),
            Err(s) if s.code() == Code::NotFound => None,
            Err(s) => return Err(refused("the entry", s)),
        };
        let Some(signed) = signed else {
            return Ok(None);
        };
        let bad = |message: String| CollectorError::Refused {
            what: "the entry",
            code: Code::DataLoss,
            message,
        };
        let entry = Entry::from_signed(&signed)
            .map_err(|e| bad(format!("the node sent an entry that does not decode: {e}")))?;
        if entry.id != id {
            return Err(bad(format!("asked for {id}, the node sent {}", entry.id)));
        }
        Ok(Some(entry))
    }

    /// Acknowledges a request or a revocation asking for erasure with a signed `Ack` entry in
    /// the collector's own feed (`author` holds its current key and head, and advances).
    /// Returns the ack's entry id.
    pub async fn ack(
        &mut self,
        author: &mut consent_proto::entry::Author,
        request: consent_proto::EntryId,
        answer: consent_proto::body::AckAnswer,
    ) -> Result<consent_proto::EntryId, CollectorError> {
        use consent_proto::body::{Ack, Body};
        if author.feed() != self.me {
            return Err(CollectorError::Refused {
                what: "the ack",
                code: Code::InvalidArgument,
                message: "the author is not this collector's feed".into(),
            });
        }
        let entry = author
            .append(crate::time::now_ms(), Body::Ack(Ack { request, answer }))
            .map_err(|e| CollectorError::Refused {
                what: "the ack",
                code: Code::InvalidArgument,
                message: e.to_string(),
            })?;
        let r = consent_proto::pb::ledger_client::LedgerClient::new(self.channel.clone())
            .submit(pb::SubmitRequest {
                entry: Some(entry.to_signed()),
            })
            .await
            .map_err(|s| refused("the ack", s))?
            .into_inner();
        match r.status() {
            pb::SubmitStatus::Accepted | pb::SubmitStatus::Duplicate => Ok(entry.id),
            other => Err(CollectorError::Refused {
                what: "the ack",
                code: Code::FailedPrecondition,
                message: format!("the node answered {other:?}"),
            }),
        }
    }
}

/// Whether a call got no answer from the node (it is down, or went away mid-call: tonic says
/// UNAVAILABLE, CANCELLED or UNKNOWN for a broken transport) rather than a refusal. Only checks
/// and watches are retried elsewhere: they change nothing.
fn unreachable(s: &Status) -> bool {
    matches!(
        s.code(),
        Code::Unavailable | Code::Cancelled | Code::Unknown | Code::DeadlineExceeded
    )
}

/// A channel to `url` and a session there.
async fn session(
    url: &str,
    key: &SecretKey,
    me: FeedId,
    tls: &TlsOptions,
) -> Result<(Channel, SessionClient, u64), CollectorError> {
    let url = crate::transport::node_url(url);
    let channel = crate::transport::channel(&url, tls).await?;
    let (token, expires_ms) =
        authenticate_at(channel.clone(), key, me, Some((url.as_str(), tls))).await?;
    let client = ConsentClient::with_interceptor(channel.clone(), Bearer::new(&token)?);
    Ok((channel, client, expires_ms))
}

fn refused(what: &'static str, s: Status) -> CollectorError {
    CollectorError::Refused {
        what,
        code: s.code(),
        message: s.message().to_string(),
    }
}
