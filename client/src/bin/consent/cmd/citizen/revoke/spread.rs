//! `consent revoke --all --spread`: waiting for spread revocations to leave, each at its moment,
//! and saying which are not in effect when the wait ends (still queued, held, refused, or
//! dropped), from the queue's record of what nodes accepted.

use std::time::Duration;

use consent_client::keystore::Keystore;
use consent_client::privacy::queue;
use consent_client::time;
use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::ids::{EntryId, FeedId};
use serde_json::json;

use crate::ctx::{Global, emit};
use crate::outbox::Outbox;
use crate::send::{self, Nodes, Pick};

/// Says which of the `spread` revocations (grant, revocation) are `missing` (not in effect, with
/// why), once the wait is over: one line each, or one JSON object listing them.
pub(super) fn report_not_in_effect(
    g: &Global,
    spread: &[(EntryId, Entry)],
    missing: &[(EntryId, String)],
) {
    let grant_of = |id: &EntryId| {
        spread
            .iter()
            .find(|(_, r)| r.id == *id)
            .map(|(grant, _)| grant.to_string())
            .unwrap_or_default()
    };
    emit(
        g.json,
        missing
            .iter()
            .map(|(id, why)| {
                format!(
                    "NOT in effect: revocation {id} of grant {} (the grant is still in force): \
                     {why}",
                    grant_of(id)
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        json!({"not_in_effect": missing
            .iter()
            .map(|(id, why)| json!({
                "revocation": id.to_string(),
                "grant": grant_of(id),
                "why": why,
            }))
            .collect::<Vec<_>>()}),
    );
}

/// The revocations among `earlier` still waiting in the queue in `feed`: (grant, revocation,
/// due).
pub(super) fn still_queued(
    out: &Outbox,
    ks: &Keystore,
    feed: &FeedId,
    earlier: &[EntryId],
) -> anyhow::Result<Vec<(EntryId, Entry, u64)>> {
    Ok(out
        .queued_in(ks, feed)?
        .into_iter()
        .filter_map(|(e, item)| match &e.body {
            Body::Revoke(r) if earlier.contains(&e.id) => Some((r.grant, e.clone(), item.due_ms)),
            _ => None,
        })
        .collect())
}

/// Stays until each of the queued revocations `signed` has left the queue, each sent at its
/// moment (the queue's lock is taken only to send), or until the due ones cannot be sent now.
/// Returns those NOT in effect then, with why ([`not_in_effect`]).
pub(super) async fn send_when_due(
    ks: &Keystore,
    g: &Global,
    signed: &[&Entry],
) -> anyhow::Result<Vec<(EntryId, String)>> {
    let ids: Vec<EntryId> = signed.iter().map(|e| e.id).collect();
    let mut nodes = Nodes::new(&g.node, g.tls()?, None);
    loop {
        let left: Vec<(Entry, consent_client::privacy::queue::Queued)> = send::queued(ks)?
            .into_iter()
            .filter(|(e, _)| ids.contains(&e.id))
            .collect();
        let Some(next) = left.iter().map(|(_, item)| item.due_ms).min() else {
            break;
        };
        let now = time::now_ms();
        if next > now {
            tokio::time::sleep(Duration::from_millis(next - now)).await;
        }
        let feeds: Vec<FeedId> = left
            .iter()
            .filter(|(_, item)| item.due_ms <= time::now_ms())
            .map(|(e, _)| e.feed)
            .collect();
        let flushed = send::send_queued(ks, &mut nodes, Pick::Own(time::now_ms(), feeds)).await?;
        send::report(&flushed, &[]);
        if flushed.sent.is_empty() && !flushed.kept.is_empty() {
            // Said above: they stay queued, and leave with the next consent command.
            break;
        }
    }
    not_in_effect(ks, signed)
}

/// Whether a node accepted `e`, as the queue's record of sends says: by its id among the entries
/// kept, or, when it is older than those, by the seq reached (re-review L7: a later entry at its
/// seq, after it was dropped, does not count).
fn accepted(q: &queue::Queue, e: &Entry) -> bool {
    let kept = q.sent_entries(&e.feed);
    if kept.iter().any(|s| s.id == e.id) {
        return true;
    }
    let covered = kept.first().is_some_and(|first| first.seq <= e.seq);
    !covered && q.sent_of(&e.feed).is_some_and(|s| s.seq >= e.seq)
}

/// Which of the revocations `signed` are NOT in effect, and why: still queued, held for a
/// conflict, refused by a node, or gone from the queue with no node's acceptance recorded (the
/// person dropped it). One is in effect once a node accepted it (this command, or another consent
/// command meanwhile), as the queue records it.
fn not_in_effect(ks: &Keystore, signed: &[&Entry]) -> anyhow::Result<Vec<(EntryId, String)>> {
    let q = queue::load(&queue::path_for(ks.path()), ks.master())?;
    let mut out = Vec::new();
    for e in signed {
        let text = e.id.to_string();
        let why = if let Some(at) = q.find(&e.id) {
            format!(
                "still queued: it is sent {}, by the first consent command then (consent queue \
                 --send-now sends it now)",
                send::when(q.items[at].due_ms)
            )
        } else if let Some(item) = q
            .held
            .iter()
            .find(|item| item.decode().is_ok_and(|h| h.id == e.id))
        {
            format!(
                "held, never sent: {}; run consent revoke --all again",
                item.held.clone().unwrap_or_default()
            )
        } else if let Some(r) = q.refused.iter().find(|r| r.entry == text) {
            format!(
                "a node refused it: {}; run consent revoke --all again",
                r.why
            )
        } else if accepted(&q, e) {
            continue;
        } else {
            "it left the send queue unsent (dropped); run consent revoke --all again".to_string()
        };
        out.push((e.id, why));
    }
    Ok(out)
}
