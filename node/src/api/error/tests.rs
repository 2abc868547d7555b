//! Tests of the parent module.

use std::sync::Arc;

use super::*;
use crate::store::StoreError;

fn reason(status: &Status) -> Option<&str> {
    status
        .metadata()
        .get(REASON_KEY)
        .and_then(|v| v.to_str().ok())
}

/// What an engine might say: a path on the node and the OS's words.
const ENGINE_TEXT: &str = "IO error: /var/lib/consentd/fjall/7: No space left on device";

#[test]
fn a_store_error_is_internal_with_a_reason_and_without_the_engine_text() {
    let failures = [
        (
            LedgerError::Store(StoreError::Engine(ENGINE_TEXT.into())),
            STORE_ERROR,
        ),
        (
            LedgerError::Store(StoreError::Corrupt(ENGINE_TEXT.into())),
            STORE_ERROR,
        ),
        (
            LedgerError::Store(StoreError::Locked {
                dir: "/var/lib/consentd/fjall".into(),
            }),
            STORE_ERROR,
        ),
        (
            LedgerError::WriterThread(Arc::new(std::io::Error::other(ENGINE_TEXT))),
            STORE_ERROR,
        ),
        (LedgerError::CorruptStore(ENGINE_TEXT.into()), CORRUPT_STORE),
        (
            LedgerError::Internal("checkpoint lock poisoned"),
            INTERNAL_ERROR,
        ),
    ];
    for (error, expected) in failures {
        let shown = error.to_string();
        let status = Status::from(error);
        assert_eq!(status.code(), Code::Internal, "{shown}");
        assert_eq!(reason(&status), Some(expected), "{shown}");
        for secret in [
            "No space left",
            "/var/lib",
            "poisoned",
            "storage engine error",
        ] {
            assert!(
                !status.message().contains(secret),
                "{shown} -> {}",
                status.message()
            );
        }
    }
}

#[test]
fn shutting_down_is_unavailable() {
    let status = Status::from(LedgerError::ShuttingDown);
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.message().contains("retry on another node"));
    assert_eq!(reason(&status), None);
}

#[test]
fn session_ends_carry_their_reason() {
    for (status, expected) in [
        (session_expired(), SESSION_EXPIRED),
        (stream_session_expired(), SESSION_EXPIRED),
        (key_changed(), KEY_CHANGED),
        (stream_key_changed(), KEY_CHANGED),
    ] {
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(reason(&status), Some(expected));
    }
    assert!(
        stream_key_changed()
            .message()
            .contains("resume from your cursor")
    );
}

#[test]
fn refusals_about_an_entry_carry_their_reason_in_details_and_metadata() {
    let cases = [
        (
            rejection(&Rejection::BadSignature),
            Code::InvalidArgument,
            RejectionReason::BadSignature,
        ),
        (
            rejection(&Rejection::FeedFrozen),
            Code::FailedPrecondition,
            RejectionReason::FeedFrozen,
        ),
        (
            rejection(&Rejection::TooLarge {
                size: 9000,
                max: 8192,
            }),
            Code::ResourceExhausted,
            RejectionReason::TooLarge,
        ),
        (
            equivocation(&FeedId([1; 32]), 3),
            Code::FailedPrecondition,
            RejectionReason::Equivocation,
        ),
        (
            pending_full(),
            Code::ResourceExhausted,
            RejectionReason::PendingFull,
        ),
    ];
    for (status, code, expected) in cases {
        assert_eq!(status.code(), code, "{expected:?}");
        assert_eq!(reasons::from_status(&status), expected);
        let detail = reasons::from_details(status.details()).expect("details");
        assert_eq!(detail.reason(), expected);
        assert_eq!(reason(&status), reasons::code(expected));
    }
    assert!(
        rejection(&Rejection::BadSignature)
            .message()
            .starts_with("entry rejected (bad-signature): ")
    );
    // Refusals that are not about an entry carry no rejection reason.
    let status = Status::from(LedgerError::Internal("x"));
    assert_eq!(reasons::from_status(&status), RejectionReason::Unspecified);
}

#[test]
fn an_empty_batch_is_invalid_and_an_oversized_one_exhausts() {
    assert_eq!(submit_batch_size(0).code(), Code::InvalidArgument);
    assert_eq!(
        submit_batch_size(MAX_SUBMIT_BATCH + 1).code(),
        Code::ResourceExhausted
    );
    assert_eq!(check_batch_size(0).code(), Code::InvalidArgument);
    assert_eq!(
        check_batch_size(MAX_CHECK_BATCH + 1).code(),
        Code::ResourceExhausted
    );
}

#[test]
fn limit_refusals_are_resource_exhausted_with_their_reason() {
    for (status, expected) in [
        (too_many_authentications(64, 8), TOO_MANY_AUTHENTICATIONS),
        (too_many_read_streams(16), TOO_MANY_READ_STREAMS),
        (node_read_streams_full(256), NODE_READ_STREAMS_FULL),
        (
            read_stream_not_reading(Duration::from_secs(30), "from_index"),
            NOT_READING,
        ),
    ] {
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(reason(&status), Some(expected));
        assert!(
            status.message().starts_with(expected),
            "{}",
            status.message()
        );
    }
}

#[test]
fn a_refusal_in_a_batch_keeps_its_code_and_names_the_check() {
    let status = in_batch(3, &other_collector());
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status
            .message()
            .starts_with("check 3: a collector checks only for itself")
    );
}

#[test]
fn an_unreadable_context_is_invalid_and_names_the_field_and_the_check() {
    let status = bad_context(&"context.cell 8b1fa0000000fff is not an H3 cell index");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "context.cell 8b1fa0000000fff is not an H3 cell index"
    );
    // A reason that does not say it is about the context is said to be.
    assert_eq!(
        bad_context(&"unknown form 9").message(),
        "context: unknown form 9"
    );
    let status = in_batch(7, &bad_context(&"context.form: unknown form 9"));
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.message(), "check 7: context.form: unknown form 9");
    // The protocol's own errors keep their text: a sensor kind alone, an unknown kind.
    let alone = consent_proto::scope::ContextError::SensorKindWithoutSensor(
        consent_proto::vocab::SensorKind::Camera,
    );
    assert_eq!(
        bad_context(&alone).message(),
        "context.sensor_kind camera is given without context.sensor"
    );
    let unknown = consent_proto::scope::ContextError::UnknownSensorKind(99);
    assert_eq!(
        bad_context(&unknown).message(),
        "context.sensor_kind: unknown sensor kind 99"
    );
}

#[test]
fn admission_refusals_are_failed_precondition_with_their_reason() {
    use consent_proto::consultation::{Refusal, State, StateText};
    use consent_proto::vocab::{ObjectionReason, ObjectionSet};

    let draft = EntryId([7; 32]);
    let cases = [
        (
            Refusal::PolicyDraft {
                policy: draft,
                state: StateText(State::Open),
            },
            RejectionReason::PolicyDraft,
            "policy-draft",
        ),
        (
            Refusal::ConsultationUnanswered {
                reasons: [ObjectionReason::RetentionTooLong]
                    .into_iter()
                    .collect::<ObjectionSet>(),
                threshold: 3,
            },
            RejectionReason::ConsultationUnanswered,
            "consultation-unanswered",
        ),
        (
            Refusal::OutcomeExists { first: draft },
            RejectionReason::OutcomeExists,
            "outcome-exists",
        ),
        (
            Refusal::ConsultationClosed {
                state: StateText(State::Withdrawn { at_ms: 1 }),
            },
            RejectionReason::ConsultationClosed,
            "consultation-closed",
        ),
    ];
    for (refusal, expected, code) in cases {
        let status = admission(&refusal);
        assert_eq!(status.code(), Code::FailedPrecondition, "{code}");
        assert_eq!(reasons::from_status(&status), expected);
        let detail = reasons::from_details(status.details()).expect("details");
        assert_eq!(detail.reason(), expected);
        assert_eq!(reason(&status), Some(code));
        assert!(
            status
                .message()
                .starts_with(&format!("entry refused ({code}): ")),
            "{}",
            status.message()
        );
    }
}
