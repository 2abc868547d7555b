//! The domain form of every entry body. Converting from the wire ([`Body::from_wire`]) performs
//! every structural check that needs no other entry: lengths, enum values, duplicates, text limits.

use crate::ids::{Digest, EntryId, FeedId};
use crate::keys::PublicKey;
use crate::limits::*;
use crate::pb;
use crate::pb::entry_payload::Body as WireBody;
use crate::scope::{GrantScope, PolicyScope};
use crate::validate::Rejection;
use crate::vocab::{
    AckOutcome, CategorySet, ConsultationResult, DataCategory, DelegatedPower, DelegationKind,
    ObjectionReason, ObjectionSet, PowerSet, Purpose, PurposeSet, RequestKind, Role,
};

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
    /// [`MAX_CLOCK_SKEW_MS`] ([`crate::delegation::void_from`]).
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

fn bad(field: &'static str, problem: impl Into<String>) -> Rejection {
    Rejection::BadField {
        field,
        problem: problem.into(),
    }
}

fn id32(field: &'static str, bytes: &[u8]) -> Result<[u8; 32], Rejection> {
    bytes
        .try_into()
        .map_err(|_| bad(field, format!("must be 32 bytes, got {}", bytes.len())))
}

fn key(field: &'static str, bytes: &[u8]) -> Result<PublicKey, Rejection> {
    PublicKey::from_slice(bytes).map_err(|_| bad(field, "not a usable Ed25519 public key"))
}

/// A text field: 1..=`max` bytes, no control characters, no white space at either end.
pub(crate) fn text(field: &'static str, value: &str, max: usize) -> Result<String, Rejection> {
    if value.is_empty() {
        return Err(bad(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(bad(
            field,
            format!("at most {max} bytes, got {}", value.len()),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(bad(field, "must not contain control characters"));
    }
    if value.trim() != value {
        return Err(bad(field, "must not start or end with white space"));
    }
    Ok(value.to_string())
}

fn purposes(field: &'static str, wire: &[i32]) -> Result<PurposeSet, Rejection> {
    if wire.is_empty() || wire.len() > MAX_VOCAB_ITEMS {
        return Err(bad(
            field,
            format!("1..={MAX_VOCAB_ITEMS} values, got {}", wire.len()),
        ));
    }
    let mut set = PurposeSet::EMPTY;
    for v in wire {
        let p = Purpose::from_wire(*v)
            .ok_or_else(|| bad(field, format!("unknown or unspecified purpose {v}")))?;
        if !set.insert(p) {
            return Err(bad(field, format!("purpose {p} listed twice")));
        }
    }
    Ok(set)
}

fn categories(field: &'static str, wire: &[i32]) -> Result<CategorySet, Rejection> {
    if wire.is_empty() || wire.len() > MAX_VOCAB_ITEMS {
        return Err(bad(
            field,
            format!("1..={MAX_VOCAB_ITEMS} values, got {}", wire.len()),
        ));
    }
    let mut set = CategorySet::EMPTY;
    for v in wire {
        let c = DataCategory::from_wire(*v)
            .ok_or_else(|| bad(field, format!("unknown or unspecified category {v}")))?;
        if !set.insert(c) {
            return Err(bad(field, format!("category {c} listed twice")));
        }
    }
    Ok(set)
}

fn retention(field: &'static str, days: u32) -> Result<u32, Rejection> {
    if days == 0 || days > MAX_RETENTION_DAYS {
        return Err(bad(
            field,
            format!("1..={MAX_RETENTION_DAYS} days, got {days}"),
        ));
    }
    Ok(days)
}

/// Checks and converts a wire policy.
fn policy_from_wire(b: &pb::Policy) -> Result<Policy, Rejection> {
    if b.version == 0 {
        return Err(bad("policy.version", "must be >= 1"));
    }
    if b.recipients.len() > MAX_RECIPIENTS {
        return Err(bad(
            "policy.recipients",
            format!("at most {MAX_RECIPIENTS}"),
        ));
    }
    let recipients = b
        .recipients
        .iter()
        .map(|r| text("policy.recipients", r, MAX_NAME_BYTES))
        .collect::<Result<Vec<_>, _>>()?;
    let url = text("policy.document_url", &b.document_url, MAX_URL_BYTES)?;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(bad("policy.document_url", "must be an http(s) URL"));
    }
    let name = text("policy.name", &b.name, MAX_NAME_BYTES)?;
    let purpose_set = purposes("policy.purposes", &b.purposes)?;
    Ok(Policy {
        version: b.version,
        name,
        purposes: purpose_set,
        categories: categories("policy.categories", &b.categories)?,
        retention_days: retention("policy.retention_days", b.retention_days)?,
        recipients,
        jurisdiction: text(
            "policy.jurisdiction",
            &b.jurisdiction,
            MAX_JURISDICTION_BYTES,
        )?,
        document_digest: Digest(id32("policy.document_digest", &b.document_digest)?),
        document_url: url,
        contact: text("policy.contact", &b.contact, MAX_CONTACT_BYTES)?,
        scope: b
            .scope
            .as_ref()
            .map(|s| PolicyScope::from_wire(s, purpose_set))
            .transpose()?,
        consultation: match &b.consultation {
            None => None,
            Some(c) if c.closes_ms == 0 => {
                return Err(bad("policy.consultation.closes_ms", "required"));
            }
            Some(c) => Some(Consultation {
                closes_ms: c.closes_ms,
            }),
        },
    })
}

/// An optional digest: 0 or 32 bytes.
fn digest_opt(field: &'static str, bytes: &[u8]) -> Result<Option<Digest>, Rejection> {
    match bytes.len() {
        0 => Ok(None),
        _ => Ok(Some(Digest(id32(field, bytes)?))),
    }
}

/// Checks and converts a wire stance.
fn stance_from_wire(b: &pb::Stance) -> Result<Stance, Rejection> {
    let draft = EntryId(id32("stance.draft", &b.draft)?);
    let kind = pb::StanceKind::try_from(b.kind)
        .ok()
        .filter(|k| *k != pb::StanceKind::Unspecified)
        .ok_or_else(|| bad("stance.kind", "unknown or unspecified kind"))?;
    let position = match kind {
        pb::StanceKind::Object => {
            if b.reasons.is_empty() || b.reasons.len() > ObjectionReason::ALL.len() {
                return Err(bad(
                    "stance.reasons",
                    format!(
                        "an objection gives 1..={} reasons, got {}",
                        ObjectionReason::ALL.len(),
                        b.reasons.len()
                    ),
                ));
            }
            let mut set = ObjectionSet::EMPTY;
            for v in &b.reasons {
                let r = ObjectionReason::from_wire(*v).ok_or_else(|| {
                    bad(
                        "stance.reasons",
                        format!("unknown or unspecified reason {v}"),
                    )
                })?;
                if !set.insert(r) {
                    return Err(bad("stance.reasons", format!("reason {r} listed twice")));
                }
            }
            Position::Object(set)
        }
        _ => {
            if !b.reasons.is_empty() {
                return Err(bad("stance.reasons", "must be empty when supporting"));
            }
            Position::Support
        }
    };
    Ok(Stance {
        draft,
        position,
        details_digest: digest_opt("stance.details_digest", &b.details_digest)?,
    })
}

/// Checks and converts a wire consultation response.
fn response_from_wire(b: &pb::ConsultationResponse) -> Result<ConsultationResponse, Rejection> {
    Ok(ConsultationResponse {
        draft: EntryId(id32("response.draft", &b.draft)?),
        reason: ObjectionReason::from_wire(b.reason)
            .ok_or_else(|| bad("response.reason", "unknown or unspecified reason"))?,
        text: text("response.text", &b.text, MAX_REASON_BYTES)?,
        document_digest: digest_opt("response.document_digest", &b.document_digest)?,
    })
}

/// Checks and converts a wire consultation outcome.
fn outcome_from_wire(b: &pb::ConsultationOutcome) -> Result<ConsultationOutcome, Rejection> {
    let draft = EntryId(id32("outcome.draft", &b.draft)?);
    let result = ConsultationResult::from_wire(b.result)
        .ok_or_else(|| bad("outcome.result", "unknown or unspecified result"))?;
    let text = text("outcome.text", &b.text, MAX_REASON_BYTES)?;
    if b.responses.len() > MAX_OUTCOME_RESPONSES {
        return Err(bad(
            "outcome.responses",
            format!("at most {MAX_OUTCOME_RESPONSES}, got {}", b.responses.len()),
        ));
    }
    let mut responses = Vec::with_capacity(b.responses.len());
    for r in &b.responses {
        let id = EntryId(id32("outcome.responses", r)?);
        if responses.contains(&id) {
            return Err(bad("outcome.responses", format!("{id} listed twice")));
        }
        responses.push(id);
    }
    Ok(ConsultationOutcome {
        draft,
        result,
        text,
        responses,
    })
}

/// Checks and converts a wire grant.
fn grant_from_wire(b: &pb::Grant) -> Result<Grant, Rejection> {
    let valid_until = match b.valid_until {
        0 => None,
        t if t <= b.valid_from => {
            return Err(bad(
                "grant.valid_until",
                "must be after valid_from (or 0 for until revoked)",
            ));
        }
        t => Some(t),
    };
    let collector = FeedId(id32("grant.collector", &b.collector)?);
    let policy = EntryId(id32("grant.policy", &b.policy)?);
    let purpose_set = purposes("grant.purposes", &b.purposes)?;
    Ok(Grant {
        collector,
        policy,
        purposes: purpose_set,
        categories: categories("grant.categories", &b.categories)?,
        retention_days: retention("grant.retention_days", b.retention_days)?,
        valid_from: b.valid_from,
        valid_until,
        scope: b
            .scope
            .as_ref()
            .map(|s| GrantScope::from_wire(s, purpose_set))
            .transpose()?,
        on_behalf: b
            .on_behalf
            .as_ref()
            .map(|o| on_behalf_from_wire(o, "grant.on_behalf.person", "grant.on_behalf.delegation"))
            .transpose()?,
    })
}

/// Checks and converts a wire `OnBehalf` (its fields named `person` and `delegation` in messages).
fn on_behalf_from_wire(
    b: &pb::OnBehalf,
    person: &'static str,
    delegation: &'static str,
) -> Result<OnBehalf, Rejection> {
    Ok(OnBehalf {
        person: FeedId(id32(person, &b.person)?),
        delegation: EntryId(id32(delegation, &b.delegation)?),
    })
}

fn on_behalf_to_wire(o: &OnBehalf) -> pb::OnBehalf {
    pb::OnBehalf {
        person: prost::bytes::Bytes::copy_from_slice(&o.person.0),
        delegation: prost::bytes::Bytes::copy_from_slice(&o.delegation.0),
    }
}

/// Checks and converts a wire delegation (the rules that need no other entry; validation adds
/// those that need the entry's feed, seq and time).
fn delegation_from_wire(b: &pb::Delegation) -> Result<Delegation, Rejection> {
    let delegate = FeedId(id32("delegation.delegate", &b.delegate)?);
    if b.powers.is_empty() || b.powers.len() > DelegatedPower::ALL.len() {
        return Err(bad(
            "delegation.powers",
            format!(
                "1..={} powers, got {}",
                DelegatedPower::ALL.len(),
                b.powers.len()
            ),
        ));
    }
    let mut powers = PowerSet::EMPTY;
    for v in &b.powers {
        let p = DelegatedPower::from_wire(*v).ok_or_else(|| {
            bad(
                "delegation.powers",
                format!("unknown or unspecified power {v}"),
            )
        })?;
        if !powers.insert(p) {
            return Err(bad("delegation.powers", format!("power {p} listed twice")));
        }
    }
    if b.collectors.len() > MAX_DELEGATION_COLLECTORS {
        return Err(bad(
            "delegation.collectors",
            format!(
                "at most {MAX_DELEGATION_COLLECTORS}, got {}",
                b.collectors.len()
            ),
        ));
    }
    let mut collectors: Vec<FeedId> = Vec::with_capacity(b.collectors.len());
    for c in &b.collectors {
        let c = FeedId(id32("delegation.collectors", c)?);
        if collectors.last().is_some_and(|last| *last >= c) {
            return Err(bad("delegation.collectors", "must be strictly ascending"));
        }
        collectors.push(c);
    }
    let purposes = match b.purposes.len() {
        0 => PurposeSet::EMPTY,
        _ => purposes("delegation.purposes", &b.purposes)?,
    };
    let kind = DelegationKind::from_wire(b.kind)
        .ok_or_else(|| bad("delegation.kind", "unknown or unspecified kind"))?;
    let valid_until = match b.valid_until {
        0 => None,
        t => Some(t),
    };
    let co_signer = match b.co_signer.len() {
        0 => None,
        _ => Some(FeedId(id32("delegation.co_signer", &b.co_signer)?)),
    };
    match kind {
        DelegationKind::Guardian => match valid_until {
            None => {
                return Err(bad(
                    "delegation.valid_until",
                    "required for a guardian: the coming-of-age instant",
                ));
            }
            Some(t) if t % DAY_MS != 0 => {
                return Err(bad(
                    "delegation.valid_until",
                    "a guardian's is a UTC midnight (a multiple of 86400000)",
                ));
            }
            Some(_) => {}
        },
        _ => {
            if co_signer.is_some() {
                return Err(bad(
                    "delegation.co_signer",
                    "only a guardian delegation has one",
                ));
            }
        }
    }
    if co_signer == Some(delegate) {
        return Err(bad("delegation.co_signer", "must not be the delegate"));
    }
    Ok(Delegation {
        delegate,
        powers,
        collectors,
        purposes,
        valid_until,
        kind,
        co_signer,
    })
}

/// Checks and converts a wire undelegation.
fn undelegation_from_wire(b: &pb::Undelegation) -> Result<Undelegation, Rejection> {
    let void_from_ms = match b.void_from_ms {
        0 => None,
        t if t < MIN_TIME_MS => {
            return Err(bad(
                "undelegation.void_from_ms",
                format!("0 or at least {MIN_TIME_MS} (2020-01-01)"),
            ));
        }
        t => Some(t),
    };
    Ok(Undelegation {
        delegation: EntryId(id32("undelegation.delegation", &b.delegation)?),
        void_from_ms,
    })
}

/// Checks and converts a wire endorsement.
fn endorsement_from_wire(b: &pb::Endorsement) -> Result<Endorsement, Rejection> {
    let grant = EntryId(id32("endorsement.grant", &b.grant)?);
    let Some(o) = &b.on_behalf else {
        return Err(bad("endorsement.on_behalf", "required"));
    };
    Ok(Endorsement {
        grant,
        on_behalf: on_behalf_from_wire(
            o,
            "endorsement.on_behalf.person",
            "endorsement.on_behalf.delegation",
        )?,
    })
}

/// Checks and converts a wire acknowledgement.
fn ack_from_wire(b: &pb::Ack) -> Result<Ack, Rejection> {
    let outcome = AckOutcome::from_wire(b.outcome)
        .ok_or_else(|| bad("ack.outcome", "unknown or unspecified outcome"))?;
    let answer = match outcome {
        AckOutcome::Done if b.reason.is_empty() => AckAnswer::Done,
        AckOutcome::Done => {
            return Err(bad("ack.reason", "must be empty when the outcome is done"));
        }
        _ => AckAnswer::Refused(text("ack.reason", &b.reason, MAX_REASON_BYTES)?),
    };
    Ok(Ack {
        request: EntryId(id32("ack.request", &b.request)?),
        answer,
    })
}

impl Body {
    /// Checks and converts a wire body.
    pub fn from_wire(body: &WireBody) -> Result<Body, Rejection> {
        Ok(match body {
            WireBody::Inception(b) => Body::Inception(Inception {
                role: Role::from_wire(b.role)
                    .ok_or_else(|| bad("inception.role", "unknown or unspecified role"))?,
                signing_key: key("inception.signing_key", &b.signing_key)?,
                next_key_digest: Digest(id32("inception.next_key_digest", &b.next_key_digest)?),
            }),
            WireBody::Rotation(b) => Body::Rotation(Rotation {
                signing_key: key("rotation.signing_key", &b.signing_key)?,
                next_key_digest: Digest(id32("rotation.next_key_digest", &b.next_key_digest)?),
            }),
            WireBody::Policy(b) => Body::Policy(policy_from_wire(b)?),
            WireBody::Accreditation(b) => Body::Accreditation(Accreditation {
                collector: FeedId(id32("accreditation.collector", &b.collector)?),
                valid_until: b.valid_until,
            }),
            WireBody::Suspension(b) => Body::Suspension(Suspension {
                collector: FeedId(id32("suspension.collector", &b.collector)?),
                reason: text("suspension.reason", &b.reason, MAX_REASON_BYTES)?,
            }),
            WireBody::Grant(b) => Body::Grant(grant_from_wire(b)?),
            WireBody::Revoke(b) => Body::Revoke(Revoke {
                grant: EntryId(id32("revoke.grant", &b.grant)?),
                erase: b.erase,
                on_behalf: b
                    .on_behalf
                    .as_ref()
                    .map(|o| {
                        on_behalf_from_wire(
                            o,
                            "revoke.on_behalf.person",
                            "revoke.on_behalf.delegation",
                        )
                    })
                    .transpose()?,
            }),
            WireBody::Request(b) => Body::Request(Request {
                collector: FeedId(id32("request.collector", &b.collector)?),
                kind: RequestKind::from_wire(b.kind)
                    .ok_or_else(|| bad("request.kind", "unknown or unspecified kind"))?,
                details_digest: match b.details_digest.len() {
                    0 => None,
                    _ => Some(Digest(id32("request.details_digest", &b.details_digest)?)),
                },
                on_behalf: b
                    .on_behalf
                    .as_ref()
                    .map(|o| {
                        on_behalf_from_wire(
                            o,
                            "request.on_behalf.person",
                            "request.on_behalf.delegation",
                        )
                    })
                    .transpose()?,
            }),
            WireBody::Ack(b) => Body::Ack(ack_from_wire(b)?),
            WireBody::Stance(b) => Body::Stance(stance_from_wire(b)?),
            WireBody::Response(b) => Body::Response(response_from_wire(b)?),
            WireBody::Outcome(b) => Body::Outcome(outcome_from_wire(b)?),
            WireBody::Delegation(b) => Body::Delegation(delegation_from_wire(b)?),
            WireBody::Undelegation(b) => Body::Undelegation(undelegation_from_wire(b)?),
            WireBody::Endorsement(b) => Body::Endorsement(endorsement_from_wire(b)?),
        })
    }

    /// The wire form.
    pub fn to_wire(&self) -> WireBody {
        fn ps(set: PurposeSet) -> Vec<i32> {
            set.iter().map(|p| p as i32).collect()
        }
        fn cs(set: CategorySet) -> Vec<i32> {
            set.iter().map(|c| c as i32).collect()
        }
        fn b(bytes: &[u8]) -> prost::bytes::Bytes {
            prost::bytes::Bytes::copy_from_slice(bytes)
        }
        match self {
            Body::Inception(x) => WireBody::Inception(pb::Inception {
                role: x.role as i32,
                signing_key: b(&x.signing_key.to_bytes()),
                next_key_digest: b(&x.next_key_digest.0),
            }),
            Body::Rotation(x) => WireBody::Rotation(pb::Rotation {
                signing_key: b(&x.signing_key.to_bytes()),
                next_key_digest: b(&x.next_key_digest.0),
            }),
            Body::Policy(x) => WireBody::Policy(pb::Policy {
                version: x.version,
                name: x.name.clone(),
                purposes: ps(x.purposes),
                categories: cs(x.categories),
                retention_days: x.retention_days,
                recipients: x.recipients.clone(),
                jurisdiction: x.jurisdiction.clone(),
                document_digest: b(&x.document_digest.0),
                document_url: x.document_url.clone(),
                contact: x.contact.clone(),
                scope: x.scope.as_ref().map(PolicyScope::to_wire),
                consultation: x.consultation.map(|c| pb::PolicyConsultation {
                    closes_ms: c.closes_ms,
                }),
            }),
            Body::Accreditation(x) => WireBody::Accreditation(pb::Accreditation {
                collector: b(&x.collector.0),
                valid_until: x.valid_until,
            }),
            Body::Suspension(x) => WireBody::Suspension(pb::Suspension {
                collector: b(&x.collector.0),
                reason: x.reason.clone(),
            }),
            Body::Grant(x) => WireBody::Grant(pb::Grant {
                collector: b(&x.collector.0),
                policy: b(&x.policy.0),
                purposes: ps(x.purposes),
                categories: cs(x.categories),
                retention_days: x.retention_days,
                valid_from: x.valid_from,
                valid_until: x.valid_until.unwrap_or(0),
                scope: x.scope.as_ref().map(GrantScope::to_wire),
                on_behalf: x.on_behalf.as_ref().map(on_behalf_to_wire),
            }),
            Body::Revoke(x) => WireBody::Revoke(pb::Revoke {
                grant: b(&x.grant.0),
                erase: x.erase,
                on_behalf: x.on_behalf.as_ref().map(on_behalf_to_wire),
            }),
            Body::Request(x) => WireBody::Request(pb::Request {
                collector: b(&x.collector.0),
                kind: x.kind as i32,
                details_digest: x.details_digest.map(|d| b(&d.0)).unwrap_or_default(),
                on_behalf: x.on_behalf.as_ref().map(on_behalf_to_wire),
            }),
            Body::Ack(x) => {
                let (outcome, reason) = match &x.answer {
                    AckAnswer::Done => (AckOutcome::Done, String::new()),
                    AckAnswer::Refused(r) => (AckOutcome::Refused, r.clone()),
                };
                WireBody::Ack(pb::Ack {
                    request: b(&x.request.0),
                    outcome: outcome as i32,
                    reason,
                })
            }
            Body::Stance(x) => {
                let (kind, reasons) = match x.position {
                    Position::Support => (pb::StanceKind::Support, Vec::new()),
                    Position::Object(set) => (
                        pb::StanceKind::Object,
                        set.iter().map(|r| r as i32).collect(),
                    ),
                };
                WireBody::Stance(pb::Stance {
                    draft: b(&x.draft.0),
                    kind: kind as i32,
                    reasons,
                    details_digest: x.details_digest.map(|d| b(&d.0)).unwrap_or_default(),
                })
            }
            Body::Response(x) => WireBody::Response(pb::ConsultationResponse {
                draft: b(&x.draft.0),
                reason: x.reason as i32,
                text: x.text.clone(),
                document_digest: x.document_digest.map(|d| b(&d.0)).unwrap_or_default(),
            }),
            Body::Outcome(x) => WireBody::Outcome(pb::ConsultationOutcome {
                draft: b(&x.draft.0),
                result: x.result as i32,
                text: x.text.clone(),
                responses: x.responses.iter().map(|r| b(&r.0)).collect(),
            }),
            Body::Delegation(x) => WireBody::Delegation(pb::Delegation {
                delegate: b(&x.delegate.0),
                powers: x.powers.iter().map(|p| p as i32).collect(),
                collectors: x.collectors.iter().map(|c| b(&c.0)).collect(),
                purposes: ps(x.purposes),
                valid_until: x.valid_until.unwrap_or(0),
                kind: x.kind as i32,
                co_signer: x.co_signer.map(|c| b(&c.0)).unwrap_or_default(),
            }),
            Body::Undelegation(x) => WireBody::Undelegation(pb::Undelegation {
                delegation: b(&x.delegation.0),
                void_from_ms: x.void_from_ms.unwrap_or(0),
            }),
            Body::Endorsement(x) => WireBody::Endorsement(pb::Endorsement {
                grant: b(&x.grant.0),
                on_behalf: Some(on_behalf_to_wire(&x.on_behalf)),
            }),
        }
    }

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
