//! Whether an entry may extend its feed, given the ledger so far: pure functions over a
//! [`LedgerView`] that return a typed [`Rejection`] for every reason an entry is refused.
//!
//! # The order of the checks
//!
//! The reason a refusal names, when several apply, depends on the order, and for some delegated
//! entries so does the verdict: a check that needs an entry the node does not hold makes the entry
//! pending, so an entry that would fail a later check (a revocation in someone's name, signed out
//! of its delegation's force, of a grant not held yet) is pending in this order and refused in one
//! that checks that first. So every implementation checks in this order. An entry is first decoded
//! ([`Entry::from_signed`]: size, signature length, protobuf, canonical encoding, a body, each
//! field, the seq/feed/prev form). Then the first rule that applies decides. "Signed by K" is the
//! signature rule of [`crate::sig`] under key K; a node may verify signatures ahead, in
//! parallel (consent-node does), and the verdict is the same.
//!
//! **At a seq the node holds** (`seq <= head`), the signature decides before anything is called an
//! equivocation:
//! 1. no entry held at that seq (a hole: the node's own damage): `unproven-conflict`;
//! 2. the same id as the entry held: duplicate (the same bytes as an entry already verified);
//! 3. the feed is frozen: `feed-frozen`;
//! 4. signed by the author's keys as of `seq - 1` ([`author_signed`]): equivocation;
//! 5. otherwise `unproven-conflict` (never `bad-signature`: it may be the author's, on a branch
//!    that rotated earlier).
//!
//! **Of a feed the node does not know**: an inception is checked for its time (`time-too-old`,
//! `time-in-future`), then, for a registrar, the genesis (`registrar-not-in-genesis`), then signed
//! by its own key (`bad-signature`), and accepted; any other entry is pending, awaiting seq 0, its
//! signature unchecked (see the crate docs, *Pending entries*).
//!
//! **Of a feed the node knows, at `seq > head`**:
//! 1. the feed is frozen: `feed-frozen`;
//! 2. `seq > head + 1`: a `Rotation` not signed by the key it names is `bad-signature`;
//!    otherwise pending, awaiting `seq - 1`, *verified* if the feed's current key signed it (a
//!    `Rotation`: if its key hashes to the committed next-key digest), else *unverifiable* (see
//!    the crate docs, *Pending entries*);
//! 3. `prev` is not the head's id: `wrong-prev` (before the signature: it depends on which branch
//!    the node holds);
//! 4. time: `time-too-old`, `time-in-future`, `time-before-prev`, in that order;
//! 5. the body is not allowed for the feed's role: `body-not-allowed`;
//! 6. a `Rotation`: its key does not hash to the committed digest (`rotation-key-not-committed`),
//!    then not signed by that key (`bad-signature`); otherwise accepted;
//! 7. any other body: not signed by the key in force: `bad-signature`;
//! 8. the body's references and rules, the signature verified (a reference the node does not
//!    hold makes the entry pending):
//!    - `Policy`: a version above the collector's last (`policy-version-not-increasing`); then,
//!      compared with the previous version `prev` and the last version that is no draft `base`
//!      (both held: earlier entries of the feed; none for a first policy): `id-redefined`
//!      ([`crate::policy_change::redefined`] against `prev`, then `base`); then, when it has a
//!      consultation, `consultation-too-short` (`closes_ms <= time_ms`, or a widening shorter
//!      than the genesis's `widening_min_days`) and `consultation-too-long` (over
//!      [`MAX_CONSULTATION_DAYS`]); without one, a widening on a network whose genesis has
//!      `[consultation]` is `widening-without-consultation` (crate docs, "Consultations");
//!    - `Stance`: the draft held (else pending), a `Policy` with a consultation
//!      (`not-a-consultation`), the stance's time in `[draft time, closes_ms)`
//!      (`outside-consultation-window`);
//!    - `ConsultationResponse`: the draft held and of the responding feed
//!      (`not-own-consultation`: never pending), a `Policy` with a consultation
//!      (`not-a-consultation`);
//!    - `ConsultationOutcome`: the draft held (else pending), a `Policy` with a consultation
//!      (`not-a-consultation`), signed at or after the draft and, when approving, at or after
//!      `closes_ms` (`outcome-too-early`); then each listed response in list order held (else
//!      pending), a `ConsultationResponse` naming this draft (`response-not-for-draft`);
//!    - `Accreditation`: the collector known (else pending), a collector feed
//!      (`not-a-collector`), then `valid_until` after the entry's time (`accreditation-expired`);
//!    - `Suspension`, `Request`: the collector known (else pending), a collector feed
//!      (`not-a-collector`); a `Request` with `on_behalf` first passes the delegation checks,
//!      `collector-not-delegated` and `delegation-not-in-force`;
//!    - `Grant`: in a *minor's feed* (its seq-1 entry a GUARDIAN `Delegation` whose
//!      `valid_until` is after the entry's time): `minor-feed`; with `on_behalf`, the delegation
//!      checks (below), then `collector-not-delegated`, `purpose-not-delegated` (the first
//!      purpose outside, by wire number), `delegation-not-in-force`; then the collector known
//!      (else pending) and a collector feed (`not-a-collector`); the
//!      policy entry held (else pending), a `Policy` of that collector (`policy-not-of-collector`);
//!      then `purpose-not-in-policy`, `category-not-in-policy`, `retention-exceeds-policy`;
//!      then, for a grant with a scope, [`crate::scope::GrantScope::within`] the policy's scope
//!      (an empty one for a policy without): `zone-not-in-policy`, `sensor-not-in-policy`,
//!      `window-not-in-policy`, `form-not-offered`, the first offending item in list order (of
//!      sensor kinds, the lowest wire number);
//!    - `Revoke`: with `on_behalf`, the delegation checks; the grant held (else pending: it may
//!      be another feed's), a `Grant` this feed may revoke (`unknown-grant`). The grant's
//!      subject is its `on_behalf.person`, else the feed that signed it. Without `on_behalf`: a
//!      grant this feed signed, or one whose subject is this feed; with `on_behalf`, a grant
//!      whose subject is `on_behalf.person`. Then, with `on_behalf`, `collector-not-delegated`
//!      (the grant's collector) and `delegation-not-in-force`; then not revoked by this same feed
//!      before (`already-revoked`, [`LedgerView::revoked_by`]);
//!    - `Delegation`: `delegate` or `co_signer` this feed (`bad-field`); a GUARDIAN delegation
//!      stands at seq 1, or at seq 2 after a GUARDIAN delegation with the same `valid_until`
//!      that it mirrors: both have a `co_signer` or neither has, and when they have, each
//!      `co_signer` is the other delegation's `delegate` (`guardian-misplaced`); any other
//!      delegation in a minor's feed is `minor-feed`;
//!    - `Undelegation`: `void_from_ms` after the entry's time (`bad-field`); the delegation held
//!      (else pending: a delegate resigns from another feed's), a `Delegation` of this feed or
//!      naming this feed as delegate (`unknown-delegation`); of a GUARDIAN delegation, in a
//!      minor's feed: `minor-feed`;
//!    - `Endorsement`: the delegation checks; the grant held (else pending), a `Grant` whose
//!      `on_behalf.person` is this one's and whose delegation names this feed as `co_signer`
//!      (`not-endorsable`); then `collector-not-delegated`, `purpose-not-delegated` (of the
//!      grant) and `delegation-not-in-force`;
//!    - `Ack`: the request or revocation held (else pending), a `Request` naming this collector
//!      or an erasing `Revoke` of a grant to it (`ack-not-for-collector`).
//!
//!    The `bad-field`s of this step (`on_behalf.person`, a delegation's `delegate` or
//!    `co_signer` equal to this feed, an undelegation's `void_from_ms` after its time) come
//!    after the signature; the other field rules of these bodies are decoding's, before
//!    anything else. The *delegation checks* of an entry with `on_behalf` (in the delegate's
//!    own feed): `on_behalf.person` is not this feed (`bad-field`); the delegation held (else
//!    pending; when the grant a revocation or endorsement names is missing too, the delegation
//!    is what `missing` names), a `Delegation` in `on_behalf.person`'s feed naming this feed as
//!    its delegate (`not-delegated`), giving the power the body needs (`power-not-delegated`: a
//!    grant or an endorsement GRANT, a revocation REVOKE or GRANT, a request REQUEST). Whether an
//!    undelegation ended the delegation is no validity question ([`crate::delegation`]): the
//!    entry is judged by signed times alone, so every node judges it alike in any arrival order.
//!
//! **Equivocation evidence.** A second entry at an existing seq `s` is evidence against the author
//! when the author's keys *as of seq `s - 1`* signed it: the key in force after `s - 1`, or, for a
//! `Rotation`, the committed next key it introduces (see [`author_signed`]). Comparing against the
//! key this node holds *at* `s` would not do: if one branch rotates at `s` and the other does not,
//! each node would find the other branch's entry badly signed. A conflicting entry that the keys as
//! of `s - 1` did not sign may still be the author's, on a branch that rotated earlier: it is
//! refused as [`Rejection::UnprovenConflict`], which names where to fetch the sender's branch from,
//! and, like [`Rejection::WrongPrev`], says nothing about the sender (see [`Rejection::blameless`]).

use std::collections::HashSet;

use crate::body::{Body, BodyKind, Delegation, OnBehalf, Policy};
use crate::consultation;
use crate::delegation::power_needed;
use crate::entry::Entry;
use crate::ids::{Digest, EntryId, FeedId};
use crate::keys::PublicKey;
use crate::limits::{DAY_MS, MAX_CLOCK_SKEW_MS, MAX_CONSULTATION_DAYS, MIN_TIME_MS};
use crate::policy_change::{Redefined, compare, redefined};
use crate::scope::{PolicyScope, TimeWindow};
use crate::vocab::{DelegationKind, Form, Purpose, Role, SensorKind};

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

/// What a node knows about one feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedState {
    /// Role fixed at inception.
    pub role: Role,
    /// Head sequence number.
    pub head_seq: u64,
    /// Head entry id.
    pub head_id: EntryId,
    /// Head entry time.
    pub head_time_ms: u64,
    /// Key that signs the next entry.
    /// Key that signs the next entry: the encoding of a [`PublicKey`] checked when the inception or
    /// rotation introducing it was accepted. Kept encoded: decompressing a point costs a third of
    /// a signature check, and most reads need no key.
    pub signing_key: [u8; 32],
    /// Digest of the key a rotation must introduce.
    pub next_key_digest: Digest,
    /// Frozen after an equivocation.
    pub frozen: bool,
    /// Last policy version (collectors; 0 before the first policy).
    pub policy_version: u32,
    /// The feed's latest Policy entry (collectors; `None` before the first).
    pub policy_head: Option<EntryId>,
    /// Its latest Policy entry that is not a draft (the *base*: crate docs, "Consultations").
    pub policy_base: Option<EntryId>,
}

/// Read access to the ledger that validation needs. The node implements it over its store
/// (plus entries staged earlier in the same commit).
pub trait LedgerView {
    /// Storage error.
    type Error;
    /// A feed's state.
    fn feed(&self, feed: &FeedId) -> Result<Option<FeedState>, Self::Error>;
    /// An accepted entry by id.
    fn entry(&self, id: &EntryId) -> Result<Option<Entry>, Self::Error>;
    /// The accepted entry at `(feed, seq)`.
    fn entry_at(&self, feed: &FeedId, seq: u64) -> Result<Option<Entry>, Self::Error>;
    /// The author's keys once the accepted entry at `(feed, seq)` is applied (for equivocation
    /// evidence at `seq + 1`); `None` when the feed holds no entry at `seq`.
    fn keys_after(&self, feed: &FeedId, seq: u64) -> Result<Option<KeyState>, Self::Error>;
    /// Whether `feed` revoked `grant` in an entry accepted earlier (a `Revoke` of `feed` naming
    /// it). Since a grant may be revoked by several feeds (its own, the person's, delegates'),
    /// `already-revoked` asks about the revoking feed alone: the verdict then depends on that
    /// feed's own earlier entries, never on other feeds' arrival order.
    fn revoked_by(&self, grant: &EntryId, feed: &FeedId) -> Result<bool, Self::Error>;
}

/// A feed's keys at one point of its chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyState {
    /// The key that signs the next entry that is not a rotation (encoded [`PublicKey`]).
    pub signing_key: [u8; 32],
    /// The digest the key of the next rotation must have.
    pub next_key_digest: Digest,
    /// Seq of the inception or rotation that introduced `signing_key`.
    pub since: u64,
}

/// Whether the author signed `entry` at its seq, given `before`: the feed's keys once the entry at
/// `seq - 1` is applied (`None` for an inception). True when the key in force signed it, or when it
/// is a `Rotation` to the committed next key signed by that key; for seq 0, when the inception's
/// own key signed it. Two different entries at one seq that both pass are an equivocation.
pub fn author_signed(entry: &Entry, before: Option<&KeyState>) -> bool {
    author_signed_with(entry, before, |key| {
        PublicKey::from_bytes(key).is_ok_and(|k| entry.verify(&k))
    })
}

fn author_signed_with(
    entry: &Entry,
    before: Option<&KeyState>,
    signed_by: impl Fn(&[u8; 32]) -> bool,
) -> bool {
    match (entry.seq, before, &entry.body) {
        (0, _, Body::Inception(inception)) => signed_by(&inception.signing_key.to_bytes()),
        (0, _, _) | (_, None, _) => false,
        (_, Some(keys), body) => {
            signed_by(&keys.signing_key)
                || matches!(body, Body::Rotation(r)
                    if r.signing_key.next_key_digest() == keys.next_key_digest
                        && signed_by(&r.signing_key.to_bytes()))
        }
    }
}

/// Network-wide rules the node applies.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    /// Registrar feeds listed in the genesis.
    pub registrars: &'a HashSet<FeedId>,
    /// The node's clock, Unix ms.
    pub now_ms: u64,
    /// The genesis's `[consultation]` rules; `None`: the network requires no consultation.
    pub consultation: Option<consultation::Rules>,
}

/// What is awaited before a pending entry can be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Missing {
    /// The entry at `(feed, seq)` (the predecessor, or the whole feed from seq 0).
    Seq(FeedId, u64),
    /// The entry with this id (a cross-feed reference).
    Entry(EntryId),
    /// The feed's inception.
    Feed(FeedId),
}

/// The verdict on one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Append it; the feed's state becomes `state`.
    Accept {
        /// The feed's state after the entry.
        state: FeedState,
    },
    /// The node already holds this entry (same payload).
    Duplicate {
        /// The id of the entry held.
        existing: EntryId,
    },
    /// Hold it until `missing` arrives. `verified` is true when a key of the feed signed it:
    /// always for a missing reference (the entry is at `head + 1` and passed every check that
    /// does not need the reference); past `head + 1`, when the feed's current key signed it (or,
    /// for a `Rotation`, when it is signed by the key the feed committed to next). An entry of a
    /// feed the node does not know is never verified: no key of it is known. What a node does
    /// with each kind is in the crate's specification, *Pending entries*.
    Pending {
        /// What is awaited.
        missing: Missing,
        /// Whether a key of the feed signed it.
        verified: bool,
    },
    /// A second valid entry at an existing `(feed, seq)` with another id: keep both as proof, freeze the feed.
    Equivocation {
        /// The entry the node held at that seq.
        existing: Box<Entry>,
    },
    /// Refuse it.
    Reject(Rejection),
}

#[cfg(test)]
#[path = "../validate_tests.rs"]
mod tests;

/// Decides what to do with a structurally valid entry.
pub fn validate<V: LedgerView>(
    entry: &Entry,
    view: &V,
    rules: &Rules<'_>,
) -> Result<Verdict, V::Error> {
    validate_preverified(entry, None, view, rules)
}

/// [`validate`], where the caller already verified the signature under `verified_under` (for
/// example in parallel, before the single-threaded write path). Any other key is verified here.
pub fn validate_preverified<V: LedgerView>(
    entry: &Entry,
    verified_under: Option<&[u8; 32]>,
    view: &V,
    rules: &Rules<'_>,
) -> Result<Verdict, V::Error> {
    let signed_by = |key: &[u8; 32]| {
        verified_under == Some(key) || PublicKey::from_bytes(key).is_ok_and(|k| entry.verify(&k))
    };
    let reject = |r| Ok(Verdict::Reject(r));
    let state = view.feed(&entry.feed)?;

    // Existing seq: duplicate or equivocation.
    if let Some(state) = &state {
        if entry.seq <= state.head_seq {
            let Some(existing) = view.entry_at(&entry.feed, entry.seq)? else {
                // Heads imply every entry below them is held: a hole is this node's damage, not
                // the sender's fault.
                return reject(Rejection::UnprovenConflict {
                    seq: entry.seq,
                    fetch_from: 0,
                });
            };
            if existing.id == entry.id {
                return Ok(Verdict::Duplicate {
                    existing: existing.id,
                });
            }
            if state.frozen {
                return reject(Rejection::FeedFrozen);
            }
            let before = match entry.seq {
                0 => None,
                seq => match view.keys_after(&entry.feed, seq - 1)? {
                    Some(keys) => Some(keys),
                    // A hole below the head: nothing to compare with here.
                    None => {
                        return reject(Rejection::UnprovenConflict {
                            seq: entry.seq,
                            fetch_from: 0,
                        });
                    }
                },
            };
            if author_signed_with(entry, before.as_ref(), signed_by) {
                return Ok(Verdict::Equivocation {
                    existing: Box::new(existing),
                });
            }
            return reject(Rejection::UnprovenConflict {
                seq: entry.seq,
                fetch_from: before.map_or(0, |k| k.since),
            });
        }
        if state.frozen {
            return reject(Rejection::FeedFrozen);
        }
    }

    let Some(state) = state else {
        return match &entry.body {
            Body::Inception(inception) => Ok(accept_inception(
                entry,
                inception,
                rules,
                signed_by(&inception.signing_key.to_bytes()),
            )),
            // A `Rotation` is signed by the key it names wherever it stands: one that is not can
            // never be accepted. Any other entry of an unknown feed is unverifiable: no key of
            // the feed is known (and a `Rotation`'s own key proves nothing about the feed).
            Body::Rotation(rotation) if !signed_by(&rotation.signing_key.to_bytes()) => {
                reject(Rejection::BadSignature)
            }
            _ => Ok(Verdict::Pending {
                missing: Missing::Seq(entry.feed, 0),
                verified: false,
            }),
        };
    };

    if entry.seq > state.head_seq + 1 {
        return gap(entry, &state, signed_by);
    }
    if entry.prev != Some(state.head_id) {
        let fetch_from = view
            .keys_after(&entry.feed, state.head_seq)?
            .map_or(0, |k| k.since);
        return reject(Rejection::WrongPrev {
            head_seq: state.head_seq,
            fetch_from,
        });
    }
    if let Some(r) = time_problem(entry.time_ms, Some(state.head_time_ms), rules.now_ms) {
        return reject(r);
    }
    let kind = entry.body.kind();
    if !kind.allowed_for(state.role) || kind == BodyKind::Inception {
        return reject(Rejection::BodyNotAllowed {
            role: state.role,
            body: kind,
        });
    }

    let mut next = FeedState {
        head_seq: entry.seq,
        head_id: entry.id,
        head_time_ms: entry.time_ms,
        ..state.clone()
    };
    match &entry.body {
        Body::Rotation(rotation) => {
            if rotation.signing_key.next_key_digest() != state.next_key_digest {
                return reject(Rejection::RotationKeyNotCommitted);
            }
            if !signed_by(&rotation.signing_key.to_bytes()) {
                return reject(Rejection::BadSignature);
            }
            next.signing_key = rotation.signing_key.to_bytes();
            next.next_key_digest = rotation.next_key_digest;
            return Ok(Verdict::Accept { state: next });
        }
        _ => {
            if !signed_by(&state.signing_key) {
                return reject(Rejection::BadSignature);
            }
        }
    }

    // References and body rules; the signature is verified from here on.
    let pending = |missing| {
        Ok(Verdict::Pending {
            missing,
            verified: true,
        })
    };
    match &entry.body {
        Body::Policy(policy) => {
            if policy.version <= state.policy_version {
                return reject(Rejection::PolicyVersionNotIncreasing {
                    version: policy.version,
                    previous: state.policy_version,
                });
            }
            next.policy_version = policy.version;
            let prev = policy_at(view, state.policy_head)?;
            let base = match state.policy_base {
                b if b == state.policy_head => None,
                b => policy_at(view, b)?,
            };
            let earlier = [prev.as_ref(), base.as_ref()];
            for old in earlier.into_iter().flatten() {
                if let Some(r) = redefined(old, policy) {
                    return reject(Rejection::IdRedefined(r));
                }
            }
            let mut widening: Vec<&'static str> = Vec::new();
            for old in earlier.into_iter().flatten() {
                for item in compare(old, policy).widening_items() {
                    if !widening.contains(&item.code) {
                        widening.push(item.code);
                    }
                }
            }
            let widens = !widening.is_empty();
            match policy.consultation {
                Some(c) => {
                    let min_ms = match rules.consultation {
                        Some(r) if widens => u64::from(r.widening_min_days) * DAY_MS,
                        _ => 1,
                    };
                    let window = c.closes_ms.saturating_sub(entry.time_ms);
                    if c.closes_ms <= entry.time_ms || window < min_ms {
                        return reject(Rejection::ConsultationTooShort { min_ms });
                    }
                    if window > MAX_CONSULTATION_DAYS * DAY_MS {
                        return reject(Rejection::ConsultationTooLong);
                    }
                }
                None if widens && rules.consultation.is_some() => {
                    return reject(Rejection::WideningWithoutConsultation(widening));
                }
                None => {}
            }
            next.policy_head = Some(entry.id);
            next.policy_base = if policy.consultation.is_some() && widens {
                state.policy_base
            } else {
                Some(entry.id)
            };
        }
        Body::Stance(stance) => {
            let Some(draft) = view.entry(&stance.draft)? else {
                return pending(Missing::Entry(stance.draft));
            };
            let Some(c) = consultation_of(&draft) else {
                return reject(Rejection::NotAConsultation);
            };
            if entry.time_ms < draft.time_ms || entry.time_ms >= c.closes_ms {
                return reject(Rejection::OutsideConsultationWindow {
                    opened_ms: draft.time_ms,
                    closes_ms: c.closes_ms,
                });
            }
        }
        Body::Response(response) => {
            // An own entry comes earlier in the feed: never pending.
            let draft = match view.entry(&response.draft)? {
                Some(draft) if draft.feed == entry.feed => draft,
                _ => return reject(Rejection::NotOwnConsultation),
            };
            if consultation_of(&draft).is_none() {
                return reject(Rejection::NotAConsultation);
            }
        }
        Body::Outcome(outcome) => {
            let Some(draft) = view.entry(&outcome.draft)? else {
                return pending(Missing::Entry(outcome.draft));
            };
            let Some(c) = consultation_of(&draft) else {
                return reject(Rejection::NotAConsultation);
            };
            if entry.time_ms < draft.time_ms {
                return reject(Rejection::OutcomeTooEarly {
                    not_before: draft.time_ms,
                });
            }
            if outcome.result == crate::vocab::ConsultationResult::Approved
                && entry.time_ms < c.closes_ms
            {
                return reject(Rejection::OutcomeTooEarly {
                    not_before: c.closes_ms,
                });
            }
            for id in &outcome.responses {
                let Some(listed) = view.entry(id)? else {
                    return pending(Missing::Entry(*id));
                };
                match &listed.body {
                    Body::Response(r) if r.draft == outcome.draft => {}
                    _ => return reject(Rejection::ResponseNotForDraft(*id)),
                }
            }
        }
        Body::Accreditation(a) => {
            match collector_role(view, &a.collector)? {
                None => return pending(Missing::Feed(a.collector)),
                Some(false) => return reject(Rejection::NotACollector),
                Some(true) => {}
            }
            if a.valid_until <= entry.time_ms {
                return reject(Rejection::AccreditationExpired);
            }
        }
        Body::Suspension(s) => match collector_role(view, &s.collector)? {
            None => return pending(Missing::Feed(s.collector)),
            Some(false) => return reject(Rejection::NotACollector),
            Some(true) => {}
        },
        Body::Grant(grant) => {
            if let Some(until_ms) = minor_until(view, entry)? {
                return reject(Rejection::MinorFeed {
                    body: BodyKind::Grant,
                    until_ms,
                });
            }
            if let Some(on_behalf) = &grant.on_behalf {
                let (from_ms, delegation) = match delegation_for(view, entry, on_behalf)? {
                    Ok(held) => held,
                    Err(verdict) => return Ok(verdict),
                };
                if !delegation.covers_collector(&grant.collector) {
                    return reject(Rejection::CollectorNotDelegated(grant.collector));
                }
                if let Some(p) = outside_purposes(&delegation, grant.purposes) {
                    return reject(Rejection::PurposeNotDelegated(p));
                }
                if let Some(r) = not_in_force(entry, from_ms, &delegation) {
                    return reject(r);
                }
            }
            match collector_role(view, &grant.collector)? {
                None => return pending(Missing::Feed(grant.collector)),
                Some(false) => return reject(Rejection::NotACollector),
                Some(true) => {}
            }
            let Some(policy_entry) = view.entry(&grant.policy)? else {
                return pending(Missing::Entry(grant.policy));
            };
            let Body::Policy(policy) = &policy_entry.body else {
                return reject(Rejection::PolicyNotOfCollector);
            };
            if policy_entry.feed != grant.collector {
                return reject(Rejection::PolicyNotOfCollector);
            }
            if !grant.purposes.is_subset(policy.purposes) {
                return reject(Rejection::PurposeNotInPolicy);
            }
            if !grant.categories.is_subset(policy.categories) {
                return reject(Rejection::CategoryNotInPolicy);
            }
            if grant.retention_days > policy.retention_days {
                return reject(Rejection::RetentionExceedsPolicy(policy.retention_days));
            }
            if let Some(scope) = &grant.scope {
                let none = PolicyScope::default();
                if let Err(r) = scope.within(policy.scope.as_ref().unwrap_or(&none)) {
                    return reject(r);
                }
            }
        }
        Body::Revoke(revoke) => {
            let held = match &revoke.on_behalf {
                None => None,
                Some(on_behalf) => match delegation_for(view, entry, on_behalf)? {
                    Ok(held) => Some(held),
                    Err(verdict) => return Ok(verdict),
                },
            };
            // A grant of another feed (a delegate's, or the person's) may not have arrived yet;
            // one of this feed would be held (it comes earlier in the feed).
            let Some(granted) = view.entry(&revoke.grant)? else {
                return pending(Missing::Entry(revoke.grant));
            };
            let Body::Grant(g) = &granted.body else {
                return reject(Rejection::UnknownGrant);
            };
            // Whose grant this feed may revoke. The grant's subject is the person it was made in
            // the name of, else the feed that signed it. In its own name: a grant it signed, or
            // one whose subject it is (a delegate's in its name). In a person's name: a grant
            // whose subject is that person, never one a delegate of the person made for someone
            // else.
            let subject = g.on_behalf.map_or(granted.feed, |o| o.person);
            let concerns = match &revoke.on_behalf {
                None => granted.feed == entry.feed || subject == entry.feed,
                Some(on_behalf) => subject == on_behalf.person,
            };
            if !concerns {
                return reject(Rejection::UnknownGrant);
            }
            if let Some((from_ms, delegation)) = &held {
                if !delegation.covers_collector(&g.collector) {
                    return reject(Rejection::CollectorNotDelegated(g.collector));
                }
                if let Some(r) = not_in_force(entry, *from_ms, delegation) {
                    return reject(r);
                }
            }
            if view.revoked_by(&revoke.grant, &entry.feed)? {
                return reject(Rejection::AlreadyRevoked);
            }
        }
        Body::Request(request) => {
            if let Some(on_behalf) = &request.on_behalf {
                let (from_ms, delegation) = match delegation_for(view, entry, on_behalf)? {
                    Ok(held) => held,
                    Err(verdict) => return Ok(verdict),
                };
                if !delegation.covers_collector(&request.collector) {
                    return reject(Rejection::CollectorNotDelegated(request.collector));
                }
                if let Some(r) = not_in_force(entry, from_ms, &delegation) {
                    return reject(r);
                }
            }
            match collector_role(view, &request.collector)? {
                None => return pending(Missing::Feed(request.collector)),
                Some(false) => return reject(Rejection::NotACollector),
                Some(true) => {}
            }
        }
        Body::Delegation(d) => {
            if d.delegate == entry.feed {
                return reject(Rejection::BadField {
                    field: "delegation.delegate",
                    problem: "must not be this feed".into(),
                });
            }
            if d.co_signer == Some(entry.feed) {
                return reject(Rejection::BadField {
                    field: "delegation.co_signer",
                    problem: "must not be this feed".into(),
                });
            }
            if d.kind == DelegationKind::Guardian {
                let placed = match entry.seq {
                    1 => true,
                    // The second guardian mirrors the first: the same end, and 2 of 2 both ways or
                    // neither (each names the other's delegate as its co-signer).
                    2 => matches!(
                        view.entry_at(&entry.feed, 1)?,
                        Some(Entry { body: Body::Delegation(first), .. })
                            if first.kind == DelegationKind::Guardian
                                && first.valid_until == d.valid_until
                                && match (first.co_signer, d.co_signer) {
                                    (None, None) => true,
                                    (Some(a), Some(b)) => a == d.delegate && b == first.delegate,
                                    _ => false,
                                }
                    ),
                    _ => false,
                };
                if !placed {
                    return reject(Rejection::GuardianMisplaced);
                }
            }
            // The second guardian (at seq 2, checked above) is the one delegation a minor's feed
            // may sign.
            if d.kind != DelegationKind::Guardian
                && let Some(until_ms) = minor_until(view, entry)?
            {
                return reject(Rejection::MinorFeed {
                    body: BodyKind::Delegation,
                    until_ms,
                });
            }
        }
        Body::Undelegation(u) => {
            if u.void_from_ms.is_some_and(|t| t > entry.time_ms) {
                return reject(Rejection::BadField {
                    field: "undelegation.void_from_ms",
                    problem: "must not be after the entry's time".into(),
                });
            }
            // The delegation may be another feed's (a delegate resigning): pending until held.
            let Some(named) = view.entry(&u.delegation)? else {
                return pending(Missing::Entry(u.delegation));
            };
            let Body::Delegation(d) = &named.body else {
                return reject(Rejection::UnknownDelegation);
            };
            if named.feed != entry.feed && d.delegate != entry.feed {
                return reject(Rejection::UnknownDelegation);
            }
            if d.kind == DelegationKind::Guardian
                && let Some(until_ms) = minor_until(view, entry)?
            {
                return reject(Rejection::MinorFeed {
                    body: BodyKind::Undelegation,
                    until_ms,
                });
            }
        }
        Body::Endorsement(e) => {
            let (from_ms, delegation) = match delegation_for(view, entry, &e.on_behalf)? {
                Ok(held) => held,
                Err(verdict) => return Ok(verdict),
            };
            let Some(granted) = view.entry(&e.grant)? else {
                return pending(Missing::Entry(e.grant));
            };
            let Body::Grant(g) = &granted.body else {
                return reject(Rejection::NotEndorsable);
            };
            let Some(theirs) = g.on_behalf.filter(|o| o.person == e.on_behalf.person) else {
                return reject(Rejection::NotEndorsable);
            };
            // The grant's delegation is held: the grant was accepted after it.
            let endorsable = matches!(
                view.entry(&theirs.delegation)?,
                Some(Entry { body: Body::Delegation(d), .. }) if d.co_signer == Some(entry.feed)
            );
            if !endorsable {
                return reject(Rejection::NotEndorsable);
            }
            if !delegation.covers_collector(&g.collector) {
                return reject(Rejection::CollectorNotDelegated(g.collector));
            }
            if let Some(p) = outside_purposes(&delegation, g.purposes) {
                return reject(Rejection::PurposeNotDelegated(p));
            }
            if let Some(r) = not_in_force(entry, from_ms, &delegation) {
                return reject(r);
            }
        }
        Body::Ack(ack) => {
            let Some(target) = view.entry(&ack.request)? else {
                return pending(Missing::Entry(ack.request));
            };
            let addressed_to = match &target.body {
                Body::Request(r) => Some(r.collector),
                Body::Revoke(r) if r.erase => match view.entry(&r.grant)? {
                    Some(Entry {
                        body: Body::Grant(g),
                        ..
                    }) => Some(g.collector),
                    _ => None,
                },
                _ => None,
            };
            if addressed_to != Some(entry.feed) {
                return reject(Rejection::AckNotForCollector);
            }
        }
        Body::Inception(_) | Body::Rotation(_) => {}
    }
    Ok(Verdict::Accept { state: next })
}

/// The delegation a delegated `entry` names in `on_behalf`, with its signed time: a
/// `Delegation` of `on_behalf.person` naming `entry.feed` as delegate (`not-delegated`), giving
/// the power the body needs (`power-not-delegated`). `Err` holds the verdict otherwise:
/// `bad-field` when `on_behalf.person` is the entry's own feed, pending while the delegation is
/// not held (it is in another feed).
fn delegation_for<V: LedgerView>(
    view: &V,
    entry: &Entry,
    on_behalf: &OnBehalf,
) -> Result<Result<(u64, Delegation), Verdict>, V::Error> {
    if on_behalf.person == entry.feed {
        return Ok(Err(Verdict::Reject(Rejection::BadField {
            field: "on_behalf.person",
            problem: "must not be this feed".into(),
        })));
    }
    let Some(held) = view.entry(&on_behalf.delegation)? else {
        return Ok(Err(Verdict::Pending {
            missing: Missing::Entry(on_behalf.delegation),
            verified: true,
        }));
    };
    let (feed, time_ms) = (held.feed, held.time_ms);
    let Body::Delegation(delegation) = held.body else {
        return Ok(Err(Verdict::Reject(Rejection::NotDelegated)));
    };
    if feed != on_behalf.person || delegation.delegate != entry.feed {
        return Ok(Err(Verdict::Reject(Rejection::NotDelegated)));
    }
    if !power_needed(&entry.body).is_some_and(|p| delegation.powers.allows(p)) {
        return Ok(Err(Verdict::Reject(Rejection::PowerNotDelegated(
            entry.body.kind(),
        ))));
    }
    Ok(Ok((time_ms, delegation)))
}

/// The first purpose (in wire order) of `purposes` that `d` does not let its delegate grant.
fn outside_purposes(d: &Delegation, purposes: crate::vocab::PurposeSet) -> Option<Purpose> {
    if d.purposes.is_empty() {
        return None;
    }
    purposes.iter().find(|p| !d.purposes.contains(*p))
}

/// `delegation-not-in-force` when `entry` is signed before its delegation (signed at
/// `from_ms`) or at or after its `valid_until`.
fn not_in_force(entry: &Entry, from_ms: u64, d: &Delegation) -> Option<Rejection> {
    let outside =
        entry.time_ms < from_ms || d.valid_until.is_some_and(|until| entry.time_ms >= until);
    outside.then_some(Rejection::DelegationNotInForce {
        signed_ms: entry.time_ms,
        from_ms,
        until_ms: d.valid_until,
    })
}

/// The coming-of-age instant when `entry`'s feed is a minor's at the entry's time: its seq-1
/// entry is a GUARDIAN delegation whose `valid_until` is after `entry.time_ms`.
fn minor_until<V: LedgerView>(view: &V, entry: &Entry) -> Result<Option<u64>, V::Error> {
    if entry.seq < 2 {
        return Ok(None);
    }
    Ok(match view.entry_at(&entry.feed, 1)? {
        Some(Entry {
            body: Body::Delegation(d),
            ..
        }) if d.kind == DelegationKind::Guardian => {
            d.valid_until.filter(|until| *until > entry.time_ms)
        }
        _ => None,
    })
}

/// An entry past `head + 1` of a known feed: pending on its predecessor, its signature checked
/// where the key that must have signed it is known. A `Rotation` names its own key: not signed by
/// it, it is refused (`bad-signature`); signed by it, it is verified when that key is the one the
/// feed committed to next (the first rotation after the head), and unverifiable otherwise (a
/// later rotation's key is not known yet). Any other entry is verified when the feed's current
/// key signed it, and otherwise unverifiable, not refused: a rotation may lie in the gap, and the
/// entry may be signed by the key it introduced.
fn gap<E>(
    entry: &Entry,
    state: &FeedState,
    signed_by: impl Fn(&[u8; 32]) -> bool,
) -> Result<Verdict, E> {
    let verified = match &entry.body {
        Body::Rotation(rotation) => {
            if !signed_by(&rotation.signing_key.to_bytes()) {
                return Ok(Verdict::Reject(Rejection::BadSignature));
            }
            rotation.signing_key.next_key_digest() == state.next_key_digest
        }
        _ => signed_by(&state.signing_key),
    };
    Ok(Verdict::Pending {
        missing: Missing::Seq(entry.feed, entry.seq - 1),
        verified,
    })
}

fn accept_inception(
    entry: &Entry,
    inception: &crate::body::Inception,
    rules: &Rules<'_>,
    signed: bool,
) -> Verdict {
    if let Some(r) = time_problem(entry.time_ms, None, rules.now_ms) {
        return Verdict::Reject(r);
    }
    if inception.role == Role::Registrar && !rules.registrars.contains(&entry.feed) {
        return Verdict::Reject(Rejection::RegistrarNotInGenesis);
    }
    if !signed {
        return Verdict::Reject(Rejection::BadSignature);
    }
    Verdict::Accept {
        state: FeedState {
            role: inception.role,
            head_seq: 0,
            head_id: entry.id,
            head_time_ms: entry.time_ms,
            signing_key: inception.signing_key.to_bytes(),
            next_key_digest: inception.next_key_digest,
            frozen: false,
            policy_version: 0,
            policy_head: None,
            policy_base: None,
        },
    }
}

/// The policy of the entry `id` names (`None` for `None`, or for an entry that is not held or
/// not a policy: validity then has nothing to compare with).
fn policy_at<V: LedgerView>(view: &V, id: Option<EntryId>) -> Result<Option<Policy>, V::Error> {
    let Some(id) = id else {
        return Ok(None);
    };
    Ok(match view.entry(&id)? {
        Some(Entry {
            body: Body::Policy(p),
            ..
        }) => Some(p),
        _ => None,
    })
}

/// The consultation of a policy entry, if it is one with a consultation.
fn consultation_of(entry: &Entry) -> Option<crate::body::Consultation> {
    match &entry.body {
        Body::Policy(p) => p.consultation,
        _ => None,
    }
}

fn time_problem(time_ms: u64, prev_ms: Option<u64>, now_ms: u64) -> Option<Rejection> {
    if time_ms < MIN_TIME_MS {
        return Some(Rejection::TimeTooOld(time_ms));
    }
    if time_ms > now_ms.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Some(Rejection::TimeInFuture {
            time_ms,
            now_ms,
            skew_ms: MAX_CLOCK_SKEW_MS,
        });
    }
    match prev_ms {
        Some(prev_ms) if time_ms < prev_ms => Some(Rejection::TimeBeforePrev { time_ms, prev_ms }),
        _ => None,
    }
}

/// `None`: unknown feed; `Some(is_collector)` otherwise.
fn collector_role<V: LedgerView>(view: &V, feed: &FeedId) -> Result<Option<bool>, V::Error> {
    Ok(view.feed(feed)?.map(|s| s.role == Role::Collector))
}
