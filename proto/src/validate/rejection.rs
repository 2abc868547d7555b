//! Why an entry is refused: [`Rejection`], its stable name ([`Rejection::code`], from
//! [`crate::reasons`]) and the API status class it maps to ([`RejectionClass`]).

use crate::body::BodyKind;
use crate::ids::{EntryId, FeedId};
use crate::policy_change::Redefined;
use crate::scope::TimeWindow;
use crate::vocab::{Form, Purpose, Role, SensorKind};

/// Why an entry was refused. [`Rejection::code`] is a stable machine-readable name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The encoded entry exceeds the size limit.
    #[error("entry is {size} bytes, the limit is {max}")]
    TooLarge {
        /// Bytes received.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not decodable as protobuf.
    #[error("entry is not valid protobuf: {0}")]
    Malformed(String),
    /// The payload is not the canonical encoding (unknown fields, wrong order, explicit defaults).
    #[error(
        "payload is not canonically encoded (unknown fields, out-of-order fields or explicit defaults)"
    )]
    NonCanonical,
    /// A `SignedEntry` holds a field other than `payload` (1) and `signature` (2): nothing outside
    /// the payload is signed or kept, so it would be dropped unseen ([`crate::envelope`]).
    #[error(
        "the SignedEntry holds field {field}; it has only payload (1) and signature (2), and \
         nothing outside the payload is signed or kept"
    )]
    UnknownField {
        /// The field number.
        field: u64,
    },
    /// The signature is not 64 bytes.
    #[error("signature must be 64 bytes, got {0}")]
    BadSignatureLength(usize),
    /// No body set.
    #[error("entry has no body")]
    MissingBody,
    /// A field is malformed.
    #[error("field {field}: {problem}")]
    BadField {
        /// Which field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// seq does not fit the body (inception at 0 only).
    #[error("bad seq: {0}")]
    BadSeq(String),
    /// prev is not the id of the feed's current head: the entry belongs to another branch of the
    /// feed (a fork), or the author's wallet is behind. Depends on what this node holds.
    #[error(
        "prev does not match the head of the feed at seq {head_seq} (another branch of the feed? \
         its entries from seq {fetch_from} show where it forked)"
    )]
    WrongPrev {
        /// Head seq of the feed.
        head_seq: u64,
        /// Seq from which the sender's branch shows the fork: where the key in force at the
        /// head was introduced.
        fetch_from: u64,
    },
    /// Another entry at a seq this node holds, not signed by the author's keys as of the seq
    /// before it on this node's branch. It may still be the author's, on a branch that rotated
    /// its key earlier: the sender's entries from `fetch_from` show it. Depends on what this node
    /// holds.
    #[error(
        "another entry at seq {seq}, not signed by the keys this node has in force before it; \
         the feed's entries from seq {fetch_from} would show a fork"
    )]
    UnprovenConflict {
        /// The entry's seq.
        seq: u64,
        /// Where the key in force before `seq` (on this node's branch) was introduced.
        fetch_from: u64,
    },
    /// time_ms is before the previous entry's.
    #[error("time {time_ms} is before the previous entry's time {prev_ms}")]
    TimeBeforePrev {
        /// The entry's time.
        time_ms: u64,
        /// The previous entry's time.
        prev_ms: u64,
    },
    /// time_ms is too far in the future.
    #[error("time {time_ms} is more than {skew_ms} ms ahead of the node's clock ({now_ms})")]
    TimeInFuture {
        /// The entry's time.
        time_ms: u64,
        /// The node's clock.
        now_ms: u64,
        /// Allowed skew.
        skew_ms: u64,
    },
    /// time_ms is absurdly old.
    #[error("time {0} is before 2020-01-01")]
    TimeTooOld(u64),
    /// The feed's role may not author this body.
    #[error("a {role} feed may not author a {body}")]
    BodyNotAllowed {
        /// The feed's role.
        role: Role,
        /// The body kind.
        body: BodyKind,
    },
    /// The signature does not verify under the feed's key.
    #[error("signature does not verify under the feed's current key")]
    BadSignature,
    /// A rotation key does not match the pre-committed digest.
    #[error("rotation key does not match the next-key digest committed earlier")]
    RotationKeyNotCommitted,
    /// A registrar feed not listed in the genesis.
    #[error("registrar feed is not listed in this network's genesis")]
    RegistrarNotInGenesis,
    /// A referenced feed is not a collector feed.
    #[error("referenced feed is not a collector")]
    NotACollector,
    /// A grant references an entry that is not a policy of that collector.
    #[error("grant.policy is not a policy entry of grant.collector")]
    PolicyNotOfCollector,
    /// A grant covers a purpose the policy does not declare.
    #[error("grant covers purposes the policy does not declare")]
    PurposeNotInPolicy,
    /// A grant covers a category the policy does not declare.
    #[error("grant covers data categories the policy does not declare")]
    CategoryNotInPolicy,
    /// A grant accepts a longer retention than the policy states.
    #[error("grant.retention_days exceeds the policy's retention_days ({0})")]
    RetentionExceedsPolicy(u32),
    /// A grant's scope names a zone the policy does not declare.
    #[error("grant.scope names zone {0}, which the policy does not declare")]
    ZoneNotInPolicy(u32),
    /// A grant's scope names a sensor id the policy does not declare, or a sensor kind that no
    /// sensor of the policy has.
    #[error("grant.scope names {}, which the policy does not declare", sensor_text(.sensor, .kind))]
    SensorNotInPolicy {
        /// The sensor id, when an id is at fault.
        sensor: Option<u32>,
        /// The kind, when a kind is at fault.
        kind: Option<SensorKind>,
    },
    /// The policy declares time windows and a window of the grant's scope lies within none.
    #[error("grant.scope window {0} is not within a window of the policy")]
    WindowNotInPolicy(TimeWindow),
    /// A grant's scope sets, for a purpose, a floor form the policy does not offer for it.
    #[error("grant.scope accepts {purpose} data as {form}, which the policy does not offer")]
    FormNotOffered {
        /// The purpose.
        purpose: Purpose,
        /// The floor form.
        form: Form,
    },
    /// Policy versions must increase.
    #[error("policy version {version} is not greater than the previous version {previous}")]
    PolicyVersionNotIncreasing {
        /// This version.
        version: u32,
        /// The last one.
        previous: u32,
    },
    /// An accreditation's valid_until is not after its time.
    #[error("accreditation.valid_until must be after the entry's time")]
    AccreditationExpired,
    /// A revoke names no grant of its own feed.
    #[error("revoke.grant is not a grant of this feed")]
    UnknownGrant,
    /// The grant was revoked already.
    #[error("that grant is already revoked")]
    AlreadyRevoked,
    /// An ack answers something that is not a request or erase-revocation for this collector.
    #[error("ack.request is not a request or erase-revocation addressed to this collector")]
    AckNotForCollector,
    /// The feed is frozen after an equivocation.
    #[error("feed is frozen: its author signed two different entries at one seq")]
    FeedFrozen,
    /// The network requires a consultation for a version that widens what is collected, and this
    /// one has none.
    #[error(
        "this policy version widens what is collected ({}): on this network it must be put to \
         public consultation (policy.consultation)",
        .0.join(", ")
    )]
    WideningWithoutConsultation(Vec<&'static str>),
    /// The consultation window closes too soon.
    #[error("policy.consultation.closes_ms must be at least {min_ms} ms after the entry's time")]
    ConsultationTooShort {
        /// The shortest window allowed, ms.
        min_ms: u64,
    },
    /// The consultation window closes too late.
    #[error("policy.consultation.closes_ms must be at most 365 days after the entry's time")]
    ConsultationTooLong,
    /// A policy version keeps an id with another meaning.
    #[error("{0}")]
    IdRedefined(Redefined),
    /// A stance, response or outcome names an entry that is not a policy with a consultation.
    #[error("the draft named is not a policy version with a consultation")]
    NotAConsultation,
    /// A stance signed outside the consultation window.
    #[error("a stance must be signed while the consultation is open ({opened_ms}..{closes_ms})")]
    OutsideConsultationWindow {
        /// The draft's time, Unix ms.
        opened_ms: u64,
        /// The window's end (exclusive), Unix ms.
        closes_ms: u64,
    },
    /// A response names a consultation of another feed.
    #[error("response.draft is not a policy version of the responding collector")]
    NotOwnConsultation,
    /// An outcome signed too early.
    #[error("the outcome may not be signed before {not_before}")]
    OutcomeTooEarly {
        /// The earliest time allowed, Unix ms.
        not_before: u64,
    },
    /// An outcome lists an entry that is not a response to its draft.
    #[error("outcome.responses lists {0}, which is not a response to this draft")]
    ResponseNotForDraft(EntryId),
    /// A delegated entry's `on_behalf.delegation` is not a `Delegation` of `on_behalf.person`
    /// naming this feed as its delegate.
    #[error(
        "on_behalf.delegation is not a delegation of on_behalf.person naming this feed as delegate"
    )]
    NotDelegated,
    /// The delegation does not give the power the entry needs.
    #[error("the delegation does not let its delegate sign a {0}")]
    PowerNotDelegated(BodyKind),
    /// The delegation lists collectors, and not the one the entry concerns.
    #[error("the delegation does not list collector {0:?}")]
    CollectorNotDelegated(FeedId),
    /// The delegation lists purposes, and the grant covers another (the first, in wire order).
    #[error("the delegation does not let its delegate grant {0}")]
    PurposeNotDelegated(Purpose),
    /// The entry is signed before its delegation, or at or after its `valid_until`.
    #[error(
        "the entry is signed at {signed_ms}, outside its delegation (from {from_ms}{})",
        until_text(.until_ms)
    )]
    DelegationNotInForce {
        /// The entry's time, Unix ms.
        signed_ms: u64,
        /// The delegation's time, Unix ms.
        from_ms: u64,
        /// The delegation's `valid_until`, Unix ms (exclusive).
        until_ms: Option<u64>,
    },
    /// The feed is a minor's (its seq 1 is a guardian delegation, before its `valid_until`), and
    /// the entry is one a minor's feed may not sign.
    #[error(
        "this feed is a minor's until {until_ms} (a guardian delegation at seq 1): it may not sign a {body} before then"
    )]
    MinorFeed {
        /// The body kind refused.
        body: BodyKind,
        /// The coming-of-age instant, Unix ms.
        until_ms: u64,
    },
    /// A guardian delegation at a seq other than 1, or at seq 2 without a guardian delegation with
    /// the same `valid_until` at seq 1.
    #[error(
        "a guardian delegation stands at seq 1, or at seq 2 after a guardian delegation with the \
         same valid_until"
    )]
    GuardianMisplaced,
    /// An endorsement of something that is not a delegated grant in the same person's name whose
    /// delegation names this feed as co-signer.
    #[error(
        "endorsement.grant is not a delegated grant in on_behalf.person's name whose delegation \
         names this feed as co_signer"
    )]
    NotEndorsable,
    /// An undelegation of something that is neither a delegation of this feed nor one naming it
    /// as delegate.
    #[error(
        "undelegation.delegation is neither a delegation of this feed nor one naming it as delegate"
    )]
    UnknownDelegation,
}

fn until_text(until_ms: &Option<u64>) -> String {
    match until_ms {
        Some(t) => format!(" until {t}"),
        None => String::new(),
    }
}

fn sensor_text(sensor: &Option<u32>, kind: &Option<SensorKind>) -> String {
    match (sensor, kind) {
        (Some(id), _) => format!("sensor {id}"),
        (None, Some(kind)) => format!("sensor kind {kind}"),
        (None, None) => "a sensor".to_string(),
    }
}

/// How a rejection maps to an API status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionClass {
    /// The input is wrong: INVALID_ARGUMENT.
    Invalid,
    /// The input is fine but the state forbids it: FAILED_PRECONDITION.
    Precondition,
    /// A size limit: RESOURCE_EXHAUSTED.
    Limit,
}

impl Rejection {
    /// Stable kebab-case name: the name of its [`crate::reasons::reason`] (see
    /// [`crate::reasons::code`]).
    pub fn code(&self) -> &'static str {
        crate::reasons::code(crate::reasons::reason(self)).unwrap_or("unspecified")
    }

    /// The API status class.
    pub fn class(&self) -> RejectionClass {
        match self {
            Rejection::TooLarge { .. } => RejectionClass::Limit,
            Rejection::FeedFrozen => RejectionClass::Precondition,
            _ => RejectionClass::Invalid,
        }
    }

    /// Whether the rejection says nothing about whoever relayed the entry: it depends on this
    /// node's clock or on what this node holds (another branch of a forked feed, a frozen feed),
    /// so an honest peer may well have accepted the entry. Peers are never blamed for these.
    pub fn blameless(&self) -> bool {
        matches!(
            self,
            Rejection::TimeInFuture { .. }
                | Rejection::FeedFrozen
                | Rejection::WrongPrev { .. }
                | Rejection::UnprovenConflict { .. }
        )
    }

    /// Where the sender's branch of the feed should be fetched from to find a fork, when the
    /// rejection depends on which branch this node holds.
    pub fn fetch_from(&self) -> Option<u64> {
        match self {
            Rejection::WrongPrev { fetch_from, .. }
            | Rejection::UnprovenConflict { fetch_from, .. } => Some(*fetch_from),
            _ => None,
        }
    }
}
