//! The domain form of every entry body. Converting from the wire ([`Body::from_wire`]) performs
//! every structural check that needs no other entry: lengths, enum values, duplicates, text limits.
//!
//! This module holds the types. Their protobuf forms and every structural check of them are in
//! `wire/` (those of the consultation bodies in `wire/consultation.rs`, of the delegation bodies
//! in `wire/delegation.rs`); the checks of single fields they share (ids, keys, texts, purpose
//! and category lists, retention) in `fields.rs`.

use crate::ids::{Digest, EntryId, FeedId};
use crate::keys::PublicKey;
use crate::scope::{GrantScope, PolicyScope};
use crate::vocab::{
    CategorySet, ConsultationResult, DelegationKind, ObjectionReason, ObjectionSet, PowerSet,
    PurposeSet, RequestKind, Role,
};

mod fields;
mod wire;

pub(crate) use self::fields::text;

/// seq 0 of every feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inception {
    /// Role of the feed, fixed for life.
    pub role: Role,
    /// Key that signs until the first rotation.
    pub signing_key: PublicKey,
    /// Digest of the next key.
    pub next_key_digest: Digest,
}

/// Replaces the signing key with the pre-committed one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The new key (must hash to the committed digest).
    pub signing_key: PublicKey,
    /// Digest of the key after it.
    pub next_key_digest: Digest,
}

/// A collector's data policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Version, >= 1, strictly increasing per collector.
    pub version: u32,
    /// Public name.
    pub name: String,
    /// Purposes it may ask consent for.
    pub purposes: PurposeSet,
    /// Categories it collects.
    pub categories: CategorySet,
    /// Longest retention, days.
    pub retention_days: u32,
    /// Recipients of shared data.
    pub recipients: Vec<String>,
    /// Applicable law.
    pub jurisdiction: String,
    /// Digest of the policy document.
    pub document_digest: Digest,
    /// Where to read it.
    pub document_url: String,
    /// DPO contact.
    pub contact: String,
    /// Where, with which sensors, when and in which forms it collects; `None`: no scope (the
    /// entry encodes as it did before scopes existed).
    pub scope: Option<PolicyScope>,
    /// The public consultation this version is put to; `None`: none (the entry encodes as it did
    /// before consultations existed).
    pub consultation: Option<Consultation>,
}

/// A policy version's consultation window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Consultation {
    /// Unix ms, exclusive end of the window (non-zero; after the entry's time: validation).
    pub closes_ms: u64,
}

/// A citizen's position in a [`Stance`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Position {
    /// Supports the version as drafted.
    Support,
    /// Objects, for these reasons (never empty).
    Object(ObjectionSet),
}

/// A citizen's stance on a policy version under consultation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stance {
    /// The Policy entry under consultation.
    pub draft: EntryId,
    /// Support, or objection with its reasons.
    pub position: Position,
    /// Digest of a text published elsewhere, if any.
    pub details_digest: Option<Digest>,
}

/// A collector's answer to one objection reason raised in its own consultation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsultationResponse {
    /// The Policy entry under consultation (of the responding feed).
    pub draft: EntryId,
    /// The objection reason answered.
    pub reason: ObjectionReason,
    /// The public answer.
    pub text: String,
    /// Digest of a longer answer published elsewhere, if any.
    pub document_digest: Option<Digest>,
}

/// A registrar's outcome of a consultation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsultationOutcome {
    /// The Policy entry under consultation.
    pub draft: EntryId,
    /// Approved or changes required.
    pub result: ConsultationResult,
    /// The public reason.
    pub text: String,
    /// The responses relied on, distinct, in the author's order.
    pub responses: Vec<EntryId>,
}

/// A registrar vouches for a collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accreditation {
    /// The collector.
    pub collector: FeedId,
    /// Unix ms the accreditation lapses (exclusive).
    pub valid_until: u64,
}

/// A registrar stops vouching for a collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspension {
    /// The collector.
    pub collector: FeedId,
    /// Public reason.
    pub reason: String,
}

/// A citizen's consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The collector.
    pub collector: FeedId,
    /// The exact policy version consented to.
    pub policy: EntryId,
    /// Purposes consented to.
    pub purposes: PurposeSet,
    /// Categories consented to.
    pub categories: CategorySet,
    /// Longest retention accepted, days.
    pub retention_days: u32,
    /// Unix ms from (inclusive).
    pub valid_from: u64,
    /// Unix ms until (exclusive); `None`: until revoked.
    pub valid_until: Option<u64>,
    /// How it narrows the policy's scope; `None`: it narrows nothing (the whole policy).
    pub scope: Option<GrantScope>,
    /// Whom a delegate signs it for; `None`: the feed's own grant (the entry encodes as it did
    /// before delegation existed).
    pub on_behalf: Option<OnBehalf>,
}

/// Withdraws a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoke {
    /// The grant: of this feed, a delegate's in this feed's name, or (with `on_behalf`) of the
    /// person represented or a delegate's in that person's name.
    pub grant: EntryId,
    /// Also asks for erasure.
    pub erase: bool,
    /// Whom a delegate revokes for; `None`: the feed revokes for itself.
    pub on_behalf: Option<OnBehalf>,
}

/// A data-subject request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The collector.
    pub collector: FeedId,
    /// Which right.
    pub kind: RequestKind,
    /// Digest of off-ledger details, if any.
    pub details_digest: Option<Digest>,
    /// Whom a delegate asks for; `None`: the feed asks for itself.
    pub on_behalf: Option<OnBehalf>,
}

/// Whom a delegated statement speaks for: the represented person's feed and the delegation it
/// relies on (a `Delegation` entry of that feed naming the signing feed as its delegate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OnBehalf {
    /// The represented person's feed (never the signing feed).
    pub person: FeedId,
    /// The `Delegation` entry in `person`'s feed.
    pub delegation: EntryId,
}

/// A person (the authoring feed) lets a delegate feed sign some statements in its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    /// The delegate feed (never the authoring feed; it need not be known yet).
    pub delegate: FeedId,
    /// What the delegate may sign (never empty).
    pub powers: PowerSet,
    /// The collectors it may act towards, strictly ascending; empty: any.
    pub collectors: Vec<FeedId>,
    /// The purposes it may grant; empty: any.
    pub purposes: PurposeSet,
    /// Unix ms, exclusive end; `None`: until undelegated. A guardian's: the coming-of-age
    /// instant (required, a multiple of a day).
    pub valid_until: Option<u64>,
    /// Assistant or guardian.
    pub kind: DelegationKind,
    /// A guardian delegation's co-guardian, whose endorsement every grant under it needs.
    pub co_signer: Option<FeedId>,
}

impl Delegation {
    /// Whether the delegation lets its delegate act towards `collector`.
    pub fn covers_collector(&self, collector: &FeedId) -> bool {
        self.collectors.is_empty() || self.collectors.binary_search(collector).is_ok()
    }

    /// Whether the delegation lets its delegate grant every purpose of `purposes`.
    pub fn covers_purposes(&self, purposes: PurposeSet) -> bool {
        self.purposes.is_empty() || purposes.is_subset(self.purposes)
    }
}

/// Ends a delegation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undelegation {
    /// The `Delegation` entry (of this feed, or naming this feed as delegate).
    pub delegation: EntryId,
    /// Unix ms from which the delegation is void; `None`: the entry's time minus
    /// [`MAX_CLOCK_SKEW_MS`](crate::limits::MAX_CLOCK_SKEW_MS) ([`crate::delegation::void_from`]).
    pub void_from_ms: Option<u64>,
}

/// A co-guardian's half of a 2-of-2 grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endorsement {
    /// The delegated `Grant` endorsed.
    pub grant: EntryId,
    /// The endorser's own delegation from the same person.
    pub on_behalf: OnBehalf,
}

/// How a collector answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckAnswer {
    /// Done as asked.
    Done,
    /// Refused, with a public reason.
    Refused(String),
}

/// A collector's answer to a request or an erase-revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The request or revoke entry answered.
    pub request: EntryId,
    /// The answer.
    pub answer: AckAnswer,
}

/// Every entry body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Creates a feed.
    Inception(Inception),
    /// Rotates its key.
    Rotation(Rotation),
    /// Collector policy.
    Policy(Policy),
    /// Registrar accreditation.
    Accreditation(Accreditation),
    /// Registrar suspension.
    Suspension(Suspension),
    /// Citizen consent.
    Grant(Grant),
    /// Citizen withdrawal.
    Revoke(Revoke),
    /// Citizen request.
    Request(Request),
    /// Collector answer.
    Ack(Ack),
    /// Citizen stance on a consultation.
    Stance(Stance),
    /// Collector response in its consultation.
    Response(ConsultationResponse),
    /// Registrar outcome of a consultation.
    Outcome(ConsultationOutcome),
    /// Citizen delegation to a delegate feed.
    Delegation(Delegation),
    /// End of a delegation (by the person, or the delegate resigning).
    Undelegation(Undelegation),
    /// Co-guardian endorsement of a delegated grant.
    Endorsement(Endorsement),
}

/// The kind of a body, for messages and role rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyKind {
    /// [`Body::Inception`]
    Inception,
    /// [`Body::Rotation`]
    Rotation,
    /// [`Body::Policy`]
    Policy,
    /// [`Body::Accreditation`]
    Accreditation,
    /// [`Body::Suspension`]
    Suspension,
    /// [`Body::Grant`]
    Grant,
    /// [`Body::Revoke`]
    Revoke,
    /// [`Body::Request`]
    Request,
    /// [`Body::Ack`]
    Ack,
    /// [`Body::Stance`]
    Stance,
    /// [`Body::Response`]
    Response,
    /// [`Body::Outcome`]
    Outcome,
    /// [`Body::Delegation`]
    Delegation,
    /// [`Body::Undelegation`]
    Undelegation,
    /// [`Body::Endorsement`]
    Endorsement,
}

impl BodyKind {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            BodyKind::Inception => "inception",
            BodyKind::Rotation => "rotation",
            BodyKind::Policy => "policy",
            BodyKind::Accreditation => "accreditation",
            BodyKind::Suspension => "suspension",
            BodyKind::Grant => "grant",
            BodyKind::Revoke => "revoke",
            BodyKind::Request => "request",
            BodyKind::Ack => "ack",
            BodyKind::Stance => "stance",
            BodyKind::Response => "response",
            BodyKind::Outcome => "outcome",
            BodyKind::Delegation => "delegation",
            BodyKind::Undelegation => "undelegation",
            BodyKind::Endorsement => "endorsement",
        }
    }

    /// Whether a feed of `role` may author this body (inception: any role, at seq 0 only).
    pub fn allowed_for(self, role: Role) -> bool {
        match self {
            BodyKind::Inception | BodyKind::Rotation => true,
            BodyKind::Grant
            | BodyKind::Revoke
            | BodyKind::Request
            | BodyKind::Stance
            | BodyKind::Delegation
            | BodyKind::Undelegation
            | BodyKind::Endorsement => role == Role::Citizen,
            BodyKind::Policy | BodyKind::Ack | BodyKind::Response => role == Role::Collector,
            BodyKind::Accreditation | BodyKind::Suspension | BodyKind::Outcome => {
                role == Role::Registrar
            }
        }
    }
}

impl std::fmt::Display for BodyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Body {
    /// Its kind.
    pub fn kind(&self) -> BodyKind {
        match self {
            Body::Inception(_) => BodyKind::Inception,
            Body::Rotation(_) => BodyKind::Rotation,
            Body::Policy(_) => BodyKind::Policy,
            Body::Accreditation(_) => BodyKind::Accreditation,
            Body::Suspension(_) => BodyKind::Suspension,
            Body::Grant(_) => BodyKind::Grant,
            Body::Revoke(_) => BodyKind::Revoke,
            Body::Request(_) => BodyKind::Request,
            Body::Ack(_) => BodyKind::Ack,
            Body::Stance(_) => BodyKind::Stance,
            Body::Response(_) => BodyKind::Response,
            Body::Outcome(_) => BodyKind::Outcome,
            Body::Delegation(_) => BodyKind::Delegation,
            Body::Undelegation(_) => BodyKind::Undelegation,
            Body::Endorsement(_) => BodyKind::Endorsement,
        }
    }

    /// Whom the body speaks for, when a delegate signs it (a grant, revocation or request with
    /// `on_behalf`, or an endorsement).
    pub fn on_behalf(&self) -> Option<&OnBehalf> {
        match self {
            Body::Grant(x) => x.on_behalf.as_ref(),
            Body::Revoke(x) => x.on_behalf.as_ref(),
            Body::Request(x) => x.on_behalf.as_ref(),
            Body::Endorsement(x) => Some(&x.on_behalf),
            _ => None,
        }
    }
}
