//! Every gRPC status the node sends is built here: the mapping from a domain error or rejection,
//! and one named function per refusal, each with its code, its message and, where clients act on
//! it, a machine-readable reason in the (trailing) metadata `consent-reason` ([`REASON_KEY`]). A
//! refusal about an entry (a rejection, an equivocation, a full pending store) also carries its
//! `RejectionReason` in the status details ([`consent_proto::reasons`]).
//!
//! A storage engine's text never reaches a client: a store failure is logged (with
//! `tracing::error!`) and the client gets INTERNAL with a fixed message and reason
//! [`STORE_ERROR`] (or [`CORRUPT_STORE`], [`INTERNAL_ERROR`]).

use std::time::Duration;

use consent_proto::Rejection;
use consent_proto::auth::AuthError;
use consent_proto::consultation::Refusal;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::limits::{MAX_CHECK_BATCH, MAX_FEED_STREAM, MAX_SUBMIT_BATCH};
use consent_proto::pb::RejectionReason;
use consent_proto::reasons;
use consent_proto::validate::RejectionClass;
use consent_proto::vocab::Role;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};

use crate::ledger::LedgerError;

/// The metadata key that carries a machine-readable reason with a refusal or a stream's end.
pub const REASON_KEY: &str = reasons::REASON_METADATA_KEY;
/// `consent-reason` of a session that expired.
pub const SESSION_EXPIRED: &str = "session-expired";
/// `consent-reason` of a session whose collector has rotated its key since.
pub const KEY_CHANGED: &str = "key-changed";
/// `consent-reason` of a token presented over another client certificate than the one its
/// session was opened over (or none).
pub(crate) const CERTIFICATE_MISMATCH: &str = "certificate-mismatch";
/// `consent-reason` of an `Authenticate` whose signed statement already opened a session.
pub(crate) const STATEMENT_REPLAYED: &str = "statement-replayed";
/// `consent-reason` of an `Authenticate` whose client certificate names another collector, or
/// a collector name that cannot be read.
pub(crate) const CERTIFICATE_COLLECTOR: &str = "certificate-collector";
/// Why a watch stream was refused for being one too many for its collector: the start of the
/// status message, and the value of its `consent-reason` metadata.
pub const TOO_MANY_STREAMS: &str = "too-many-watch-streams";
/// Why a watch stream was refused because the node serves as many as it may already (the start
/// of the message, and `consent-reason`).
pub const NODE_FULL: &str = "node-watch-streams-full";
/// Why a watch stream ended because its client stopped reading (the start of the message, and
/// `consent-reason`).
pub const NOT_READING: &str = "client-not-reading";
/// `consent-reason` of a call that failed on the node's storage (the cause is in the node's log).
pub const STORE_ERROR: &str = "store-error";
/// `consent-reason` of a call refused because the node's store is inconsistent.
pub const CORRUPT_STORE: &str = "corrupt-store";
/// `consent-reason` of a call that failed on a state the node's invariants rule out.
pub const INTERNAL_ERROR: &str = "internal-error";
/// Why an `Authenticate` call was refused: its source address called more often than it may
/// (the start of the message, and `consent-reason`).
pub const TOO_MANY_AUTHENTICATIONS: &str = "too-many-authentications";
/// Why a `GetLog`/`GetFeed` stream was refused: its source address has as many open as it may
/// (the start of the message, and `consent-reason`).
pub const TOO_MANY_READ_STREAMS: &str = "too-many-read-streams";
/// Why a `GetLog`/`GetFeed` stream was refused: the node serves as many as it may (the start of
/// the message, and `consent-reason`).
pub const NODE_READ_STREAMS_FULL: &str = "node-read-streams-full";

/// A status with `code`, `message` and `consent-reason: reason` in its (trailing) metadata.
fn with_reason(code: Code, reason: &'static str, message: impl Into<String>) -> Status {
    let mut metadata = MetadataMap::new();
    metadata.insert(REASON_KEY, MetadataValue::from_static(reason));
    Status::with_metadata(code, message, metadata)
}

// ---- Domain errors ----

/// The status for an entry the node refused: INVALID_ARGUMENT naming the reason code,
/// FAILED_PRECONDITION for a frozen feed, RESOURCE_EXHAUSTED for size limits; its reason in the
/// details and in `consent-reason`.
pub(crate) fn rejection(r: &Rejection) -> Status {
    let code = match r.class() {
        RejectionClass::Invalid => Code::InvalidArgument,
        RejectionClass::Precondition => Code::FailedPrecondition,
        RejectionClass::Limit => Code::ResourceExhausted,
    };
    reasons::status(
        code,
        reasons::reason(r),
        format!("entry rejected ({}): {r}", r.code()),
    )
}

/// The status for a valid entry the node refused at admission (only the node it is submitted to
/// applies these: a grant on a draft, a late stance, a second outcome, an approval leaving
/// raised objections unanswered): FAILED_PRECONDITION naming the reason code; its reason in the
/// details and in `consent-reason`, as for a rejection.
pub(crate) fn admission(r: &Refusal) -> Status {
    reasons::status(
        Code::FailedPrecondition,
        r.reason(),
        format!("entry refused ({}): {r}", r.code()),
    )
}

/// A ledger failure. Shutting down is UNAVAILABLE (retry elsewhere); anything else is logged
/// here with its cause and answered INTERNAL with a fixed message: the engine's text stays on
/// the node.
impl From<LedgerError> for Status {
    fn from(e: LedgerError) -> Self {
        match &e {
            LedgerError::ShuttingDown => shutting_down(),
            LedgerError::Store(_) | LedgerError::WriterThread(_) => {
                tracing::error!(error = %e, "a call failed on the store");
                with_reason(
                    Code::Internal,
                    STORE_ERROR,
                    "storage failure, nothing was stored (the cause is in the node's log); \
                     retry, or use another node",
                )
            }
            LedgerError::CorruptStore(_) => {
                tracing::error!(error = %e, "a call found the store inconsistent");
                with_reason(
                    Code::Internal,
                    CORRUPT_STORE,
                    "the node's store is inconsistent (the cause is in the node's log); use \
                     another node",
                )
            }
            LedgerError::Internal(_) => {
                tracing::error!(error = %e, "a call failed on the node's invariants");
                with_reason(
                    Code::Internal,
                    INTERNAL_ERROR,
                    "internal error (the cause is in the node's log); retry, or use another node",
                )
            }
        }
    }
}

/// The node is stopping: UNAVAILABLE, retry on another node.
pub(crate) fn shutting_down() -> Status {
    Status::unavailable("the node is shutting down; retry on another node")
}

// ---- Request fields ----

/// A required 32-byte id field.
pub(crate) fn id32(field: &str, bytes: &[u8]) -> Result<[u8; 32], Status> {
    bytes.try_into().map_err(|_| {
        Status::invalid_argument(format!("{field} must be 32 bytes, got {}", bytes.len()))
    })
}

/// A required message field.
pub(crate) fn required<T>(field: &str, value: Option<T>) -> Result<T, Status> {
    value.ok_or_else(|| Status::invalid_argument(format!("{field} is required")))
}

// ---- Ledger service ----

/// A submitted entry made its feed equivocate: FAILED_PRECONDITION, `equivocation`.
pub(crate) fn equivocation(feed: &FeedId, seq: u64) -> Status {
    reasons::status(
        Code::FailedPrecondition,
        RejectionReason::Equivocation,
        format!(
            "equivocation: the feed {feed:?} already holds a different entry at seq {seq}; \
             both are kept as proof and the feed is now frozen (every check on it answers deny)"
        ),
    )
}

/// A submitted entry waits for another and the pending store is full: RESOURCE_EXHAUSTED,
/// `pending-full`.
pub(crate) fn pending_full() -> Status {
    reasons::status(
        Code::ResourceExhausted,
        RejectionReason::PendingFull,
        "the entry's predecessor or a referenced entry is missing, and the pending store is full; \
         submit the missing entries first",
    )
}

/// The ledger answered a submit of one entry with no outcome.
pub(crate) fn no_outcome() -> Status {
    Status::internal("no outcome for the entry")
}

/// The ledger answered a batch with fewer outcomes than entries.
pub(crate) fn missing_outcome() -> Status {
    Status::internal("missing outcome")
}

/// A submit batch of `got` entries, not `1..=MAX_SUBMIT_BATCH`: INVALID_ARGUMENT when empty,
/// RESOURCE_EXHAUSTED when over the limit.
pub(crate) fn submit_batch_size(got: usize) -> Status {
    let message = format!("a batch holds 1..={MAX_SUBMIT_BATCH} entries, got {got}");
    if got == 0 {
        Status::invalid_argument(message)
    } else {
        Status::resource_exhausted(message)
    }
}

/// A stream asked for more than [`MAX_FEED_STREAM`] entries; `resume_with` names the field to
/// resume from (`from_index`, `from_seq`).
pub(crate) fn stream_limit(resume_with: &str) -> Status {
    Status::resource_exhausted(format!(
        "limit is at most {MAX_FEED_STREAM} entries per call; resume with {resume_with}"
    ))
}

/// NOT_FOUND: the node holds no entry `id`.
pub(crate) fn entry_not_held(id: &EntryId) -> Status {
    Status::not_found(format!("this node holds no entry {id}"))
}

/// NOT_FOUND: the node knows no feed `feed`.
pub(crate) fn unknown_feed(feed: &FeedId) -> Status {
    Status::not_found(format!("this node knows no feed {feed:?}"))
}

/// A kept equivocation proof that does not decode: INTERNAL, [`CORRUPT_STORE`] (logged).
pub(crate) fn proof_undecodable(feed: &FeedId) -> Status {
    tracing::error!(feed = ?feed, "a kept equivocation proof does not decode");
    with_reason(
        Code::Internal,
        CORRUPT_STORE,
        "the node's store is inconsistent (the cause is in the node's log); use another node",
    )
}

// ---- Consultations service ----

/// A page size over `max`: INVALID_ARGUMENT.
pub(crate) fn page_size(got: u32, max: u32) -> Status {
    Status::invalid_argument(format!(
        "page_size: 0 (default 50) or at most {max}, got {got}"
    ))
}

/// A page token this listing did not give: INVALID_ARGUMENT.
pub(crate) fn bad_page_token() -> Status {
    Status::invalid_argument(
        "page_token: pass a previous response's next_page_token, with the same collector",
    )
}

/// NOT_FOUND: `draft` is no Policy entry with a consultation held here.
pub(crate) fn no_consultation(draft: &EntryId) -> Status {
    Status::not_found(format!(
        "this node holds no policy version {draft} put to consultation"
    ))
}

// ---- Log service ----

/// The node has not signed a checkpoint yet: UNAVAILABLE.
pub(crate) fn no_checkpoint_yet() -> Status {
    Status::unavailable("no checkpoint signed yet; retry shortly")
}

/// A tree size above the latest signed checkpoint's: OUT_OF_RANGE.
pub(crate) fn beyond_checkpoint(requested: u64, signed: u64) -> Status {
    Status::out_of_range(format!(
        "tree size {requested} is beyond the latest signed checkpoint ({signed}); ask for the \
         checkpoint again later"
    ))
}

/// NOT_FOUND: no entry has arrival index `index`.
pub(crate) fn no_entry_at(index: u64) -> Status {
    Status::not_found(format!("no entry at arrival index {index}"))
}

/// NOT_FOUND: the log holds no entry `id`.
pub(crate) fn no_entry(id: &EntryId) -> Status {
    Status::not_found(format!("no entry {id}"))
}

/// A proof request that names no entry: INVALID_ARGUMENT.
pub(crate) fn entry_unnamed() -> Status {
    Status::invalid_argument("name the entry: its arrival index or its id")
}

/// Entry `index` is not in the tree of `size` entries: OUT_OF_RANGE.
pub(crate) fn not_in_tree(index: u64, size: u64) -> Status {
    Status::out_of_range(format!(
        "entry {index} is not in the tree of {size} entries; ask with a later checkpoint's size"
    ))
}

/// A consistency proof asked from a larger size to a smaller one: INVALID_ARGUMENT.
pub(crate) fn old_above_new(old: u64, new: u64) -> Status {
    Status::invalid_argument(format!("old size {old} is above the new size {new}"))
}

/// The log tree does not reach the size its checkpoint signed (logged: a defect).
pub(crate) fn tree_behind_checkpoint() -> Status {
    tracing::error!("the log tree is behind its checkpoint");
    Status::internal("the log tree is behind its checkpoint")
}

// ---- Consent service ----

/// A check about another collector than the session's: PERMISSION_DENIED.
pub(crate) fn other_collector() -> Status {
    Status::permission_denied(
        "a collector checks only for itself: this check names another collector",
    )
}

/// A purpose number the node does not know: INVALID_ARGUMENT.
pub(crate) fn unknown_purpose(wire: i32) -> Status {
    Status::invalid_argument(format!("purpose {wire} is not a known purpose"))
}

/// A data category number the node does not know: INVALID_ARGUMENT.
pub(crate) fn unknown_category(wire: i32) -> Status {
    Status::invalid_argument(format!("category {wire} is not a known data category"))
}

/// A check context the node cannot read (a cell that is no H3 cell index, an unknown form or
/// sensor kind, a sensor kind without a sensor): INVALID_ARGUMENT with what is wrong, naming the
/// field (`context.cell …`, `context.form …`, `context.sensor_kind …`).
pub(crate) fn bad_context(why: &dyn std::fmt::Display) -> Status {
    let why = why.to_string();
    if why.starts_with("context") {
        Status::invalid_argument(why)
    } else {
        Status::invalid_argument(format!("context: {why}"))
    }
}

/// A check that ended without an answer.
pub(crate) fn unanswered() -> Status {
    Status::internal("the check went unanswered")
}

/// A check batch of `got` checks, not `1..=MAX_CHECK_BATCH`: INVALID_ARGUMENT when empty,
/// RESOURCE_EXHAUSTED when over the limit.
pub(crate) fn check_batch_size(got: usize) -> Status {
    let message = format!("a batch holds 1..={MAX_CHECK_BATCH} checks, got {got}");
    if got == 0 {
        Status::invalid_argument(message)
    } else {
        Status::resource_exhausted(message)
    }
}

/// `status`, refusing check number `i` of a batch: the same code, the message prefixed with the
/// check's number.
pub(crate) fn in_batch(i: usize, status: &Status) -> Status {
    Status::new(status.code(), format!("check {i}: {}", status.message()))
}

// ---- Sessions ----

/// A call without a session: UNAUTHENTICATED.
pub(crate) fn no_session() -> Status {
    Status::unauthenticated(
        "no session: call Consent.Authenticate and send `authorization: Bearer <token>`",
    )
}

/// An `authorization` header that is not `Bearer <token>`: UNAUTHENTICATED.
pub(crate) fn not_bearer() -> Status {
    Status::unauthenticated("authorization must be `Bearer <token>`")
}

/// A token that does not decode: UNAUTHENTICATED.
pub(crate) fn malformed_token() -> Status {
    Status::unauthenticated("malformed session token")
}

/// A token whose MAC is not this node's: UNAUTHENTICATED.
pub(crate) fn foreign_token() -> Status {
    Status::unauthenticated("session token not issued by this node (tokens are per node)")
}

/// `Authenticate` with a statement that already opened a session: UNAUTHENTICATED,
/// [`STATEMENT_REPLAYED`].
pub(crate) fn statement_replayed() -> Status {
    with_reason(
        Code::Unauthenticated,
        STATEMENT_REPLAYED,
        "statement-replayed: this signed statement was already used for a session: sign a new one",
    )
}

/// A token presented over another client certificate than its session's: UNAUTHENTICATED,
/// [`CERTIFICATE_MISMATCH`].
pub(crate) fn certificate_mismatch() -> Status {
    with_reason(
        Code::Unauthenticated,
        CERTIFICATE_MISMATCH,
        "certificate-mismatch: this session token was issued over another client certificate \
         (or none): authenticate again over this connection",
    )
}

/// `Authenticate` for a collector over a client certificate that names another:
/// PERMISSION_DENIED, [`CERTIFICATE_COLLECTOR`].
pub(crate) fn certificate_names_another(named: &FeedId) -> Status {
    with_reason(
        Code::PermissionDenied,
        CERTIFICATE_COLLECTOR,
        format!(
            "certificate-collector: the client certificate is collector {}'s: authenticate as \
             that collector, or connect with this collector's certificate",
            named.typed(Role::Collector)
        ),
    )
}

/// `Authenticate` over a client certificate whose collector name cannot be read:
/// PERMISSION_DENIED, [`CERTIFICATE_COLLECTOR`].
pub(crate) fn certificate_name_unreadable(why: &dyn std::fmt::Display) -> Status {
    with_reason(
        Code::PermissionDenied,
        CERTIFICATE_COLLECTOR,
        format!("certificate-collector: {why}"),
    )
}

/// A call whose session expired: UNAUTHENTICATED, [`SESSION_EXPIRED`].
pub(crate) fn session_expired() -> Status {
    with_reason(
        Code::Unauthenticated,
        SESSION_EXPIRED,
        "session expired: authenticate again",
    )
}

/// The end of a stream whose session expired: UNAUTHENTICATED, [`SESSION_EXPIRED`].
pub(crate) fn stream_session_expired() -> Status {
    with_reason(
        Code::Unauthenticated,
        SESSION_EXPIRED,
        "session expired: authenticate again and resume from your cursor",
    )
}

/// A call whose collector rotated its key since the session began: UNAUTHENTICATED,
/// [`KEY_CHANGED`].
pub(crate) fn key_changed() -> Status {
    with_reason(
        Code::Unauthenticated,
        KEY_CHANGED,
        "the collector's key changed since this session began: authenticate again",
    )
}

/// The end of a stream whose collector rotated its key: UNAUTHENTICATED, [`KEY_CHANGED`].
pub(crate) fn stream_key_changed() -> Status {
    with_reason(
        Code::Unauthenticated,
        KEY_CHANGED,
        "the collector's key changed since this session began: authenticate again with the \
         new key and resume from your cursor",
    )
}

/// Authentication as a feed this node does not know: UNAUTHENTICATED.
pub(crate) fn unknown_collector(collector: &FeedId) -> Status {
    Status::unauthenticated(format!(
        "this node knows no feed {}; submit the collector's inception first",
        collector.typed(Role::Collector)
    ))
}

/// Authentication as a feed that is not a collector's: PERMISSION_DENIED.
pub(crate) fn not_a_collector() -> Status {
    Status::permission_denied("only collectors authenticate; this feed is not a collector's")
}

/// The collector's stored key does not decode (logged: the store is damaged).
pub(crate) fn collector_key_undecodable(collector: &FeedId) -> Status {
    tracing::error!(collector = ?collector, "the collector's stored key does not decode");
    Status::internal("the collector's stored key does not decode")
}

/// A statement signed for another node's key: UNAUTHENTICATED.
pub(crate) fn wrong_node_key() -> Status {
    Status::unauthenticated(
        "the statement names another node's key: sign for this node's key (Node.Status node_key)",
    )
}

/// A statement signature that is not 64 bytes: INVALID_ARGUMENT.
pub(crate) fn signature_length(got: usize) -> Status {
    Status::invalid_argument(format!("signature: 64 bytes expected, got {got}"))
}

/// A statement that does not verify: UNAUTHENTICATED, saying why.
pub(crate) fn statement_refused(e: &AuthError) -> Status {
    Status::unauthenticated(e.to_string())
}

// ---- Watch streams ----

/// One stream too many for a collector that may hold `per_collector`: RESOURCE_EXHAUSTED,
/// [`TOO_MANY_STREAMS`].
pub(crate) fn too_many_streams(per_collector: usize) -> Status {
    with_reason(
        Code::ResourceExhausted,
        TOO_MANY_STREAMS,
        format!(
            "{TOO_MANY_STREAMS}: a collector may have {per_collector} watch \
             streams open at once on a node; close one, or use another node"
        ),
    )
}

/// One stream too many for a node that serves at most `limit`: RESOURCE_EXHAUSTED,
/// [`NODE_FULL`].
pub(crate) fn node_full(limit: usize) -> Status {
    with_reason(
        Code::ResourceExhausted,
        NODE_FULL,
        format!(
            "{NODE_FULL}: this node serves at most {limit} watch streams at once; retry \
             later with backoff, or use another node"
        ),
    )
}

/// The end of a stream whose client read nothing for `deadline` with its `buffer`-event buffer
/// full: RESOURCE_EXHAUSTED, [`NOT_READING`].
pub(crate) fn not_reading(deadline: Duration, buffer: usize) -> Status {
    with_reason(
        Code::ResourceExhausted,
        NOT_READING,
        format!(
            "{NOT_READING}: the client did not read for {} s (the stream's {buffer}-event buffer \
             stayed full); watch again and resume from the last cursor received",
            deadline.as_secs()
        ),
    )
}

/// A cursor of `got` bytes (not 24): INVALID_ARGUMENT.
pub(crate) fn cursor_length(got: usize) -> Status {
    Status::invalid_argument(format!(
        "cursor: 24 bytes from a WatchEvent expected, got {got}"
    ))
}

/// A heartbeat interval out of range: INVALID_ARGUMENT.
pub(crate) fn bad_heartbeat() -> Status {
    Status::invalid_argument("heartbeat_ms: 0 (default 5000) or 100..=60000")
}

// ---- Limits per source address (see `super::limits`) ----

/// An `Authenticate` over its source's rate of `per_second` after a burst of `burst`:
/// RESOURCE_EXHAUSTED, [`TOO_MANY_AUTHENTICATIONS`].
pub(crate) fn too_many_authentications(burst: u32, per_second: u32) -> Status {
    with_reason(
        Code::ResourceExhausted,
        TOO_MANY_AUTHENTICATIONS,
        format!(
            "{TOO_MANY_AUTHENTICATIONS}: one address may authenticate {burst} times at once, \
             then {per_second} times a second; retry in a second (a session lasts 15 minutes: \
             keep using it)"
        ),
    )
}

/// One `GetLog`/`GetFeed` stream too many for a source that may hold `per_source`:
/// RESOURCE_EXHAUSTED, [`TOO_MANY_READ_STREAMS`].
pub(crate) fn too_many_read_streams(per_source: usize) -> Status {
    with_reason(
        Code::ResourceExhausted,
        TOO_MANY_READ_STREAMS,
        format!(
            "{TOO_MANY_READ_STREAMS}: one address may have {per_source} GetLog/GetFeed streams \
             open at once on a node; read or close one, then retry"
        ),
    )
}

/// One `GetLog`/`GetFeed` stream too many for a node that serves at most `limit`:
/// RESOURCE_EXHAUSTED, [`NODE_READ_STREAMS_FULL`].
pub(crate) fn node_read_streams_full(limit: usize) -> Status {
    with_reason(
        Code::ResourceExhausted,
        NODE_READ_STREAMS_FULL,
        format!(
            "{NODE_READ_STREAMS_FULL}: this node serves at most {limit} GetLog/GetFeed streams \
             at once; retry later with backoff, or use another node"
        ),
    )
}

/// The end of a `GetLog`/`GetFeed` stream whose client read nothing for `deadline` with its
/// buffer full: RESOURCE_EXHAUSTED, [`NOT_READING`]; `resume_with` names the request field to
/// call again with.
pub(crate) fn read_stream_not_reading(deadline: Duration, resume_with: &str) -> Status {
    with_reason(
        Code::ResourceExhausted,
        NOT_READING,
        format!(
            "{NOT_READING}: the client read nothing for {} s; call again with {resume_with} \
             just after the last entry received",
            deadline.as_secs()
        ),
    )
}

// ---- Blocking work ----

/// The request that blocking work was for is gone: CANCELLED.
pub(crate) fn request_dropped() -> Status {
    Status::cancelled("the request was dropped (timed out or the client went away)")
}

/// A blocking task that did not return: cancelled by the runtime's shutdown (UNAVAILABLE), or
/// panicked (logged; INTERNAL).
pub(crate) fn blocking_task(e: &tokio::task::JoinError) -> Status {
    if e.is_cancelled() {
        shutting_down()
    } else {
        tracing::error!(error = %e, "a blocking task of the API failed");
        Status::internal("the work failed unexpectedly")
    }
}

#[cfg(test)]
mod tests;
