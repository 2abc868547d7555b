//! Why a node refused an entry, as a closed, versioned enum ([`pb::RejectionReason`]) that every
//! refusal about an entry carries: in the gRPC status details, in the `consent-reason` metadata
//! (its name) and in each refused `SubmitResult`. [`reason`] maps a [`Rejection`] to it, and
//! [`crate::consultation::Refusal::reason`] an admission refusal; [`code`] and [`from_code`]
//! convert between a value and its name.
//!
//! **Versioning** ([`REJECTION_REASONS_VERSION`]): values are never renumbered or reused; a new
//! reason is added with a new number and raises the version. A client treats a value it does not
//! know as "rejected, reason unknown" ([`pb::RejectionReason::Unspecified`] once decoded: prost's
//! getters, and [`from_details`], give that for an unknown number).
//!
//! **Status details**: a refusal's details (the `grpc-status-details-bin` trailer) are a
//! `google.rpc.Status { code = 1, message = 2, details = 3 }` whose `details` hold one
//! `google.protobuf.Any { type_url = 1, value = 2 }` with type URL [`DETAIL_TYPE_URL`] and an
//! encoded [`pb::RejectionDetail`] as its value: the usual rich-error form, which gRPC libraries
//! in other languages read (for example Python's `grpc_status.rpc_status.from_call`).

use prost::Message;
use prost::bytes::Bytes;

use crate::pb::{self, RejectionReason};
use crate::validate::Rejection;

/// The version of the [`pb::RejectionReason`] values: 1 for values 1 to 30, 2 for values 1 to 34
/// (a grant's scope against its policy's), 3 for values 1 to 48 (consultations: 35 to 43 are
/// validity, 44 to 48 admission refusals), 4 for values 1 to 58 (delegation: 49 to 57 are
/// validity, 58 an admission refusal). Raised whenever a reason is added (with the next free
/// number); values are never renumbered.
pub const REJECTION_REASONS_VERSION: u32 = 4;

/// The metadata key whose value names the reason of a refusal (`bad-signature`).
pub const REASON_METADATA_KEY: &str = "consent-reason";

/// The type URL of the [`pb::RejectionDetail`] in a refusal's status details.
pub const DETAIL_TYPE_URL: &str = "type.googleapis.com/consent.v1.RejectionDetail";

/// Every reason but `Unspecified`, in number order.
pub const ALL: [RejectionReason; 58] = {
    use RejectionReason as R;
    [
        R::TooLarge,
        R::Malformed,
        R::NonCanonical,
        R::BadSignatureLength,
        R::MissingBody,
        R::BadField,
        R::BadSeq,
        R::WrongPrev,
        R::UnprovenConflict,
        R::TimeBeforePrev,
        R::TimeInFuture,
        R::TimeTooOld,
        R::BodyNotAllowed,
        R::BadSignature,
        R::RotationKeyNotCommitted,
        R::RegistrarNotInGenesis,
        R::NotACollector,
        R::PolicyNotOfCollector,
        R::PurposeNotInPolicy,
        R::CategoryNotInPolicy,
        R::RetentionExceedsPolicy,
        R::PolicyVersionNotIncreasing,
        R::AccreditationExpired,
        R::UnknownGrant,
        R::AlreadyRevoked,
        R::AckNotForCollector,
        R::FeedFrozen,
        R::Equivocation,
        R::PendingFull,
        R::UnknownField,
        R::ZoneNotInPolicy,
        R::SensorNotInPolicy,
        R::WindowNotInPolicy,
        R::FormNotOffered,
        R::WideningWithoutConsultation,
        R::ConsultationTooShort,
        R::ConsultationTooLong,
        R::IdRedefined,
        R::NotAConsultation,
        R::OutsideConsultationWindow,
        R::NotOwnConsultation,
        R::OutcomeTooEarly,
        R::ResponseNotForDraft,
        R::PolicyDraft,
        R::ConsultationUnanswered,
        R::OutcomeExists,
        R::ConsultationClosed,
        R::DraftBackdated,
        R::NotDelegated,
        R::PowerNotDelegated,
        R::CollectorNotDelegated,
        R::PurposeNotDelegated,
        R::DelegationNotInForce,
        R::MinorFeed,
        R::GuardianMisplaced,
        R::NotEndorsable,
        R::UnknownDelegation,
        R::DelegatedEntryTooOld,
    ]
};

/// The reason of a rejection: one distinct value per [`Rejection`] variant.
pub fn reason(rejection: &Rejection) -> RejectionReason {
    use RejectionReason as R;
    match rejection {
        Rejection::TooLarge { .. } => R::TooLarge,
        Rejection::Malformed(_) => R::Malformed,
        Rejection::NonCanonical => R::NonCanonical,
        Rejection::UnknownField { .. } => R::UnknownField,
        Rejection::BadSignatureLength(_) => R::BadSignatureLength,
        Rejection::MissingBody => R::MissingBody,
        Rejection::BadField { .. } => R::BadField,
        Rejection::BadSeq(_) => R::BadSeq,
        Rejection::WrongPrev { .. } => R::WrongPrev,
        Rejection::UnprovenConflict { .. } => R::UnprovenConflict,
        Rejection::TimeBeforePrev { .. } => R::TimeBeforePrev,
        Rejection::TimeInFuture { .. } => R::TimeInFuture,
        Rejection::TimeTooOld(_) => R::TimeTooOld,
        Rejection::BodyNotAllowed { .. } => R::BodyNotAllowed,
        Rejection::BadSignature => R::BadSignature,
        Rejection::RotationKeyNotCommitted => R::RotationKeyNotCommitted,
        Rejection::RegistrarNotInGenesis => R::RegistrarNotInGenesis,
        Rejection::NotACollector => R::NotACollector,
        Rejection::PolicyNotOfCollector => R::PolicyNotOfCollector,
        Rejection::PurposeNotInPolicy => R::PurposeNotInPolicy,
        Rejection::CategoryNotInPolicy => R::CategoryNotInPolicy,
        Rejection::RetentionExceedsPolicy(_) => R::RetentionExceedsPolicy,
        Rejection::ZoneNotInPolicy(_) => R::ZoneNotInPolicy,
        Rejection::SensorNotInPolicy { .. } => R::SensorNotInPolicy,
        Rejection::WindowNotInPolicy(_) => R::WindowNotInPolicy,
        Rejection::FormNotOffered { .. } => R::FormNotOffered,
        Rejection::PolicyVersionNotIncreasing { .. } => R::PolicyVersionNotIncreasing,
        Rejection::AccreditationExpired => R::AccreditationExpired,
        Rejection::UnknownGrant => R::UnknownGrant,
        Rejection::AlreadyRevoked => R::AlreadyRevoked,
        Rejection::AckNotForCollector => R::AckNotForCollector,
        Rejection::FeedFrozen => R::FeedFrozen,
        Rejection::WideningWithoutConsultation(_) => R::WideningWithoutConsultation,
        Rejection::ConsultationTooShort { .. } => R::ConsultationTooShort,
        Rejection::ConsultationTooLong => R::ConsultationTooLong,
        Rejection::IdRedefined(_) => R::IdRedefined,
        Rejection::NotAConsultation => R::NotAConsultation,
        Rejection::OutsideConsultationWindow { .. } => R::OutsideConsultationWindow,
        Rejection::NotOwnConsultation => R::NotOwnConsultation,
        Rejection::OutcomeTooEarly { .. } => R::OutcomeTooEarly,
        Rejection::ResponseNotForDraft(_) => R::ResponseNotForDraft,
        Rejection::NotDelegated => R::NotDelegated,
        Rejection::PowerNotDelegated(_) => R::PowerNotDelegated,
        Rejection::CollectorNotDelegated(_) => R::CollectorNotDelegated,
        Rejection::PurposeNotDelegated(_) => R::PurposeNotDelegated,
        Rejection::DelegationNotInForce { .. } => R::DelegationNotInForce,
        Rejection::MinorFeed { .. } => R::MinorFeed,
        Rejection::GuardianMisplaced => R::GuardianMisplaced,
        Rejection::NotEndorsable => R::NotEndorsable,
        Rejection::UnknownDelegation => R::UnknownDelegation,
    }
}

/// A reason's name (`bad-signature`): the value's proto name without `REJECTION_REASON_`, in
/// lower case with `_` as `-`. `None` for `Unspecified`.
pub fn code(reason: RejectionReason) -> Option<&'static str> {
    use RejectionReason as R;
    Some(match reason {
        R::Unspecified => return None,
        R::TooLarge => "too-large",
        R::Malformed => "malformed",
        R::NonCanonical => "non-canonical",
        R::BadSignatureLength => "bad-signature-length",
        R::MissingBody => "missing-body",
        R::BadField => "bad-field",
        R::BadSeq => "bad-seq",
        R::WrongPrev => "wrong-prev",
        R::UnprovenConflict => "unproven-conflict",
        R::TimeBeforePrev => "time-before-prev",
        R::TimeInFuture => "time-in-future",
        R::TimeTooOld => "time-too-old",
        R::BodyNotAllowed => "body-not-allowed",
        R::BadSignature => "bad-signature",
        R::RotationKeyNotCommitted => "rotation-key-not-committed",
        R::RegistrarNotInGenesis => "registrar-not-in-genesis",
        R::NotACollector => "not-a-collector",
        R::PolicyNotOfCollector => "policy-not-of-collector",
        R::PurposeNotInPolicy => "purpose-not-in-policy",
        R::CategoryNotInPolicy => "category-not-in-policy",
        R::RetentionExceedsPolicy => "retention-exceeds-policy",
        R::PolicyVersionNotIncreasing => "policy-version-not-increasing",
        R::AccreditationExpired => "accreditation-expired",
        R::UnknownGrant => "unknown-grant",
        R::AlreadyRevoked => "already-revoked",
        R::AckNotForCollector => "ack-not-for-collector",
        R::FeedFrozen => "feed-frozen",
        R::Equivocation => "equivocation",
        R::PendingFull => "pending-full",
        R::UnknownField => "unknown-field",
        R::ZoneNotInPolicy => "zone-not-in-policy",
        R::SensorNotInPolicy => "sensor-not-in-policy",
        R::WindowNotInPolicy => "window-not-in-policy",
        R::FormNotOffered => "form-not-offered",
        R::WideningWithoutConsultation => "widening-without-consultation",
        R::ConsultationTooShort => "consultation-too-short",
        R::ConsultationTooLong => "consultation-too-long",
        R::IdRedefined => "id-redefined",
        R::NotAConsultation => "not-a-consultation",
        R::OutsideConsultationWindow => "outside-consultation-window",
        R::NotOwnConsultation => "not-own-consultation",
        R::OutcomeTooEarly => "outcome-too-early",
        R::ResponseNotForDraft => "response-not-for-draft",
        R::PolicyDraft => "policy-draft",
        R::ConsultationUnanswered => "consultation-unanswered",
        R::OutcomeExists => "outcome-exists",
        R::ConsultationClosed => "consultation-closed",
        R::DraftBackdated => "draft-backdated",
        R::NotDelegated => "not-delegated",
        R::PowerNotDelegated => "power-not-delegated",
        R::CollectorNotDelegated => "collector-not-delegated",
        R::PurposeNotDelegated => "purpose-not-delegated",
        R::DelegationNotInForce => "delegation-not-in-force",
        R::MinorFeed => "minor-feed",
        R::GuardianMisplaced => "guardian-misplaced",
        R::NotEndorsable => "not-endorsable",
        R::UnknownDelegation => "unknown-delegation",
        R::DelegatedEntryTooOld => "delegated-entry-too-old",
    })
}

/// The reason named `code` (`bad-signature`); `Unspecified` for a name this release does not
/// know (a newer node's, or not a rejection's).
pub fn from_code(code: &str) -> RejectionReason {
    ALL.into_iter()
        .find(|r| self::code(*r) == Some(code))
        .unwrap_or(RejectionReason::Unspecified)
}

/// `google.rpc.Status`, encoded by hand (the node needs no googleapis types for one message).
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<Any>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
struct Any {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "bytes", tag = "2")]
    value: Bytes,
}

/// The status details of a refusal with gRPC code `code` (its number), `message`, for `reason`:
/// a `google.rpc.Status` holding a [`pb::RejectionDetail`] (see the module docs).
pub fn details(code: i32, message: &str, reason: RejectionReason) -> Bytes {
    let detail = pb::RejectionDetail {
        reason: reason as i32,
        code: self::code(reason).unwrap_or_default().to_string(),
    };
    RpcStatus {
        code,
        message: message.to_string(),
        details: vec![Any {
            type_url: DETAIL_TYPE_URL.to_string(),
            value: detail.encode_to_vec().into(),
        }],
    }
    .encode_to_vec()
    .into()
}

/// The [`pb::RejectionDetail`] in a refusal's status details, if any (`None` for details that
/// are not a `google.rpc.Status`, or hold none). Its `reason()` is `Unspecified` for a value
/// this release does not know.
pub fn from_details(details: &[u8]) -> Option<pb::RejectionDetail> {
    let status = RpcStatus::decode(details).ok()?;
    status
        .details
        .iter()
        .find(|any| any.type_url == DETAIL_TYPE_URL)
        .and_then(|any| pb::RejectionDetail::decode(any.value.as_ref()).ok())
}

/// A refusal about an entry: gRPC `code`, `message`, and `reason` in the status details and
/// (its name) in the `consent-reason` metadata.
#[cfg(feature = "grpc")]
pub fn status(
    code: tonic::Code,
    reason: RejectionReason,
    message: impl Into<String>,
) -> tonic::Status {
    let message = message.into();
    let details = details(code as i32, &message, reason);
    let mut metadata = tonic::metadata::MetadataMap::new();
    if let Some(name) = self::code(reason) {
        metadata.insert(
            REASON_METADATA_KEY,
            tonic::metadata::MetadataValue::from_static(name),
        );
    }
    tonic::Status::with_details_and_metadata(code, message, details, metadata)
}

/// The reason a refusal carries: from its status details, else from its `consent-reason`
/// metadata (a node from before the details), else `Unspecified` ("rejected, reason unknown",
/// also for a value or name this release does not know).
#[cfg(feature = "grpc")]
pub fn from_status(status: &tonic::Status) -> RejectionReason {
    if let Some(detail) = from_details(status.details()) {
        return detail.reason();
    }
    status
        .metadata()
        .get(REASON_METADATA_KEY)
        .and_then(|v| v.to_str().ok())
        .map_or(RejectionReason::Unspecified, from_code)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::body::BodyKind;
    use crate::vocab::Role;

    /// One rejection of every kind.
    fn every_rejection() -> Vec<Rejection> {
        vec![
            Rejection::TooLarge {
                size: 9000,
                max: 8192,
            },
            Rejection::Malformed("x".into()),
            Rejection::NonCanonical,
            Rejection::UnknownField { field: 7 },
            Rejection::BadSignatureLength(3),
            Rejection::MissingBody,
            Rejection::BadField {
                field: "feed",
                problem: "x".into(),
            },
            Rejection::BadSeq("x".into()),
            Rejection::WrongPrev {
                head_seq: 1,
                fetch_from: 0,
            },
            Rejection::UnprovenConflict {
                seq: 1,
                fetch_from: 0,
            },
            Rejection::TimeBeforePrev {
                time_ms: 1,
                prev_ms: 2,
            },
            Rejection::TimeInFuture {
                time_ms: 3,
                now_ms: 1,
                skew_ms: 1,
            },
            Rejection::TimeTooOld(1),
            Rejection::BodyNotAllowed {
                role: Role::Citizen,
                body: BodyKind::Policy,
            },
            Rejection::BadSignature,
            Rejection::RotationKeyNotCommitted,
            Rejection::RegistrarNotInGenesis,
            Rejection::NotACollector,
            Rejection::PolicyNotOfCollector,
            Rejection::PurposeNotInPolicy,
            Rejection::CategoryNotInPolicy,
            Rejection::RetentionExceedsPolicy(30),
            Rejection::PolicyVersionNotIncreasing {
                version: 1,
                previous: 1,
            },
            Rejection::AccreditationExpired,
            Rejection::UnknownGrant,
            Rejection::AlreadyRevoked,
            Rejection::AckNotForCollector,
            Rejection::FeedFrozen,
            Rejection::ZoneNotInPolicy(7),
            Rejection::SensorNotInPolicy {
                sensor: None,
                kind: Some(crate::vocab::SensorKind::Camera),
            },
            Rejection::WindowNotInPolicy(crate::scope::TimeWindow {
                days: 1,
                start_minute: 0,
                end_minute: 60,
            }),
            Rejection::FormNotOffered {
                purpose: crate::vocab::Purpose::Billing,
                form: crate::vocab::Form::Raw,
            },
            Rejection::WideningWithoutConsultation(vec!["purposes"]),
            Rejection::ConsultationTooShort { min_ms: 1 },
            Rejection::ConsultationTooLong,
            Rejection::IdRedefined(crate::policy_change::Redefined::Zone { id: 1 }),
            Rejection::NotAConsultation,
            Rejection::OutsideConsultationWindow {
                opened_ms: 1,
                closes_ms: 2,
            },
            Rejection::NotOwnConsultation,
            Rejection::OutcomeTooEarly { not_before: 2 },
            Rejection::ResponseNotForDraft(crate::EntryId([1; 32])),
            Rejection::NotDelegated,
            Rejection::PowerNotDelegated(BodyKind::Request),
            Rejection::CollectorNotDelegated(crate::FeedId([3; 32])),
            Rejection::PurposeNotDelegated(crate::vocab::Purpose::Marketing),
            Rejection::DelegationNotInForce {
                signed_ms: 1,
                from_ms: 2,
                until_ms: None,
            },
            Rejection::MinorFeed {
                body: BodyKind::Grant,
                until_ms: 86_400_000,
            },
            Rejection::GuardianMisplaced,
            Rejection::NotEndorsable,
            Rejection::UnknownDelegation,
        ]
    }

    /// One admission refusal of every kind.
    fn every_refusal() -> Vec<crate::consultation::Refusal> {
        use crate::consultation::{Refusal, State, StateText};
        vec![
            Refusal::PolicyDraft {
                policy: crate::EntryId([1; 32]),
                state: StateText(State::Open),
            },
            Refusal::ConsultationUnanswered {
                reasons: [crate::vocab::ObjectionReason::Other].into_iter().collect(),
                threshold: 3,
            },
            Refusal::OutcomeExists {
                first: crate::EntryId([2; 32]),
            },
            Refusal::ConsultationClosed {
                state: StateText(State::Withdrawn { at_ms: 0 }),
            },
            Refusal::DraftBackdated {
                signed_ms: 0,
                now_ms: 600_001,
            },
            Refusal::DelegatedEntryTooOld {
                signed_ms: 0,
                now_ms: 300_001,
            },
        ]
    }

    #[test]
    fn every_rejection_maps_to_a_distinct_value_named_by_its_code() {
        let rejections = every_rejection();
        let mut seen = HashSet::new();
        for r in &rejections {
            let value = reason(r);
            assert_ne!(value, RejectionReason::Unspecified, "{r:?}");
            assert!(seen.insert(value), "{r:?} shares {value:?}");
            assert_eq!(code(value), Some(r.code()), "{r:?}");
            assert_eq!(from_code(r.code()), value, "{r:?}");
        }
        // Admission refusals have values of their own.
        for r in every_refusal() {
            let value = r.reason();
            assert!(seen.insert(value), "{r:?} shares {value:?}");
            assert_eq!(code(value), Some(r.code()), "{r:?}");
        }
        // Every value but the two outcomes that are not rejections is some rejection's or
        // refusal's.
        let outcomes = [RejectionReason::Equivocation, RejectionReason::PendingFull];
        assert_eq!(seen.len() + outcomes.len(), ALL.len());
        for value in ALL {
            assert!(
                seen.contains(&value) || outcomes.contains(&value),
                "{value:?}"
            );
        }
    }

    #[test]
    fn names_follow_the_proto_names_and_values_are_contiguous() {
        for (i, value) in ALL.into_iter().enumerate() {
            // Numbered 1, 2, ... in order, never renumbered.
            assert_eq!(value as i32, i as i32 + 1, "{value:?}");
            let proto = value.as_str_name();
            let name = code(value).expect("named");
            let expected = proto
                .strip_prefix("REJECTION_REASON_")
                .expect("prefixed")
                .to_lowercase()
                .replace('_', "-");
            assert_eq!(name, expected);
            assert_eq!(from_code(name), value);
        }
        assert_eq!(code(RejectionReason::Unspecified), None);
        assert_eq!(from_code("no-such-reason"), RejectionReason::Unspecified);
        assert_eq!(from_code("internal"), RejectionReason::Unspecified);
        // ALL lists every value the enum has.
        assert!(RejectionReason::try_from(ALL.len() as i32 + 1).is_err());
    }

    #[test]
    fn adding_a_reason_raises_the_version() {
        // When this fails, a reason was added: raise REJECTION_REASONS_VERSION, say in its docs
        // and in `ledger.proto` which values the new version has, and update this line.
        assert_eq!((REJECTION_REASONS_VERSION, ALL.len()), (4, 58));
    }

    #[test]
    fn details_round_trip_and_unknown_values_read_as_unspecified() {
        let bytes = details(
            3,
            "entry rejected (bad-signature): …",
            RejectionReason::BadSignature,
        );
        let detail = from_details(&bytes).expect("a detail");
        assert_eq!(detail.reason(), RejectionReason::BadSignature);
        assert_eq!(detail.code, "bad-signature");
        let status = RpcStatus::decode(bytes.as_ref()).expect("a google.rpc.Status");
        assert_eq!((status.code, status.details.len()), (3, 1));
        assert_eq!(status.details[0].type_url, DETAIL_TYPE_URL);
        // A value from a newer release: rejected, reason unknown.
        let newer = RpcStatus {
            code: 3,
            message: String::new(),
            details: vec![Any {
                type_url: DETAIL_TYPE_URL.to_string(),
                value: pb::RejectionDetail {
                    reason: 9_999,
                    code: "from-the-future".into(),
                }
                .encode_to_vec()
                .into(),
            }],
        }
        .encode_to_vec();
        let detail = from_details(&newer).expect("a detail");
        assert_eq!(detail.reason(), RejectionReason::Unspecified);
        assert_eq!(detail.code, "from-the-future");
        assert!(from_details(b"\xff\xff").is_none());
        assert!(from_details(&[]).is_none());
    }
}
