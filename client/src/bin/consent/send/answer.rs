//! What a node answered to submitted entries, sorted by what the queue does next: sent, kept
//! for a later run, held for a conflict, or refused for good ([`Answer`], [`submit_all`]).

use consent_client::node::{ClientError, NodeConnection, RejectionReason};
use consent_client::privacy::queue::Queued;
use consent_proto::Entry;
use consent_proto::pb;
use tonic::Code;

/// Refusals of an entry itself (it will never be accepted), as opposed to a node too busy or
/// failing (retried later).
fn refused_for_good(code: Code) -> bool {
    matches!(
        code,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange | Code::AlreadyExists
    )
}

/// What became of one submitted entry.
pub(super) enum Answer {
    /// Accepted, or held already.
    Held,
    /// Try again later.
    Kept(String),
    /// The node holds another history of the feed there.
    Conflict(String),
    /// Refused for good.
    Refused(ClientError),
}

fn classify(e: ClientError) -> Answer {
    let (code, reason) = match &e {
        ClientError::Refused { code, reason, .. } => (*code, *reason),
        _ => return Answer::Kept(e.to_string()),
    };
    match reason {
        // Depends on the node's clock: it passes.
        RejectionReason::TimeInFuture => Answer::Kept(format!(
            "{e} (kept: the node's clock is behind this wallet's; it is sent again later)"
        )),
        RejectionReason::WrongPrev
        | RejectionReason::UnprovenConflict
        | RejectionReason::Equivocation
        | RejectionReason::FeedFrozen => Answer::Conflict(e.to_string()),
        _ if refused_for_good(code) => Answer::Refused(e),
        _ => Answer::Kept(e.to_string()),
    }
}

fn answer_of(r: &pb::SubmitResponse, url: &str) -> Answer {
    match r.status() {
        pb::SubmitStatus::Accepted | pb::SubmitStatus::Duplicate => Answer::Held,
        pb::SubmitStatus::Pending => Answer::Kept(format!(
            "{url} holds it as pending: it waits for {}",
            hex::encode(&r.missing)
        )),
        pb::SubmitStatus::Unspecified => Answer::Kept(format!("{url} gave no status")),
    }
}

/// Submits a feed's entries, in order: one `Submit`, or one `SubmitBatch` for several (the node
/// applies a batch in one commit: a grant never leaves without the revocation queued behind it).
pub(super) async fn submit_all(
    conn: &mut NodeConnection,
    batch: &[(Entry, Queued)],
) -> Vec<Answer> {
    let url = conn.url().to_string();
    if let [(entry, item)] = batch {
        return vec![match conn.submit(entry, &item.what).await {
            Ok(r) => answer_of(&r, &url),
            Err(e) => classify(e),
        }];
    }
    let entries: Vec<Entry> = batch.iter().map(|(e, _)| e.clone()).collect();
    match conn.submit_batch(&entries).await {
        Ok(results) => batch
            .iter()
            .enumerate()
            .map(|(k, (_, item))| match results.get(k) {
                Some(Ok(r)) => answer_of(r, &url),
                Some(Err(rejected)) => classify(ClientError::Refused {
                    what: item.what.clone(),
                    code: rejected.code,
                    message: rejected.message.clone(),
                    reason: rejected.reason,
                }),
                None => Answer::Kept(format!("{url} gave no answer for it")),
            })
            .collect(),
        Err(e) => {
            let why = e.to_string();
            batch.iter().map(|_| Answer::Kept(why.clone())).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: Code, reason: RejectionReason) -> ClientError {
        ClientError::Refused {
            what: "the grant".into(),
            code,
            message: "no".into(),
            reason,
        }
    }

    #[test]
    fn a_refusal_that_passes_keeps_the_entry_a_conflict_holds_it_others_drop_it() {
        // The node's clock behind the wallet's: it passes, the entry is sent again later.
        assert!(matches!(
            classify(refused(
                Code::InvalidArgument,
                RejectionReason::TimeInFuture
            )),
            Answer::Kept(_)
        ));
        // Another history of the feed at the node: never sent again, never dropped unseen.
        for reason in [
            RejectionReason::WrongPrev,
            RejectionReason::UnprovenConflict,
            RejectionReason::Equivocation,
            RejectionReason::FeedFrozen,
        ] {
            assert!(matches!(
                classify(refused(Code::FailedPrecondition, reason)),
                Answer::Conflict(_)
            ));
        }
        // The entry itself is wrong: dropped (and kept as a refusal until acknowledged).
        assert!(matches!(
            classify(refused(
                Code::InvalidArgument,
                RejectionReason::BadSignature
            )),
            Answer::Refused(_)
        ));
        // The node failing or busy: retried.
        assert!(matches!(
            classify(refused(Code::Unavailable, RejectionReason::Unspecified)),
            Answer::Kept(_)
        ));
        assert!(matches!(
            classify(ClientError::Unreachable {
                url: "http://n:1".into(),
                message: "down".into()
            }),
            Answer::Kept(_)
        ));
    }
}
