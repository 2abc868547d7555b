//! Entries of a pairwise feed that a command sends at once itself, not on the queue's schedule
//! (a delegation, an undelegation, a stance, a rotation, a feed's inception, anything signed
//! with `--now`): they go through the queue file all the same ([`submit_recorded`]), so that
//! what became of each is known to the next command. Without that, an entry a node answered
//! `Pending` (it parks it until it holds what it depends on, and may accept it later) or whose
//! answer was lost would be forgotten, and the next entry signed in its feed, at the same seq,
//! would fork the feed once the parked one wakes (re-review N2); and an entry accepted by one
//! node that another lags would let the wallet sign beside it there (N1).

use anyhow::bail;
use consent_client::keystore::Keystore;
use consent_client::node::NodeConnection;
use consent_client::privacy::queue::{self, QueueLock, Queued};
use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::vocab::Role;

use super::flush::{Pick, send_queued};
use super::flushed::{abandoned_or_held, forget_refusals, report};
use super::nodes::Nodes;

/// Sends `entries` (`(entry, what it is)`, in feed order, all of the pairwise feed for
/// `collector`) to `node` now, after the queued entries of their feed, and records the outcome:
/// - accepted (or held already): recorded as accepted by that node (`Queue::record_sent`), so
///   that a node lacking them is given them before anything is signed after them
///   (`before_signing`);
/// - pending at the node, or no answer (the node may hold it): kept in the send queue, marked
///   as handed to a node, and the command fails saying it is **not** in effect yet; the next
///   command sends it again, and signs after it, never beside it (it can be revoked, not
///   withdrawn unseen);
/// - conflicting with what the node holds: held, never sent (`consent queue --drop`);
/// - refused for good: dropped, and the command fails with the node's refusal (it is not kept
///   as a refusal to acknowledge: the person reads it now).
pub async fn submit_recorded(
    node: &mut NodeConnection,
    ks: &Keystore,
    collector: &FeedId,
    entries: &[(&Entry, &str)],
) -> anyhow::Result<()> {
    let col = collector.typed(Role::Collector).to_string();
    submit_recorded_as(node, ks, &col, entries).await
}

/// [`submit_recorded`] for entries of any of the wallet's citizen feeds (a delegate feed's:
/// `--as`, a resignation, a rotation), `label` saying whose (a collector's id, or a delegate
/// feed's name) when the queue shows them.
pub async fn submit_recorded_as(
    node: &mut NodeConnection,
    ks: &Keystore,
    label: &str,
    entries: &[(&Entry, &str)],
) -> anyhow::Result<()> {
    let Some((first, _)) = entries.first() else {
        return Ok(());
    };
    let feed = first.feed;
    if entries.iter().any(|(e, _)| e.feed != feed) {
        bail!("internal: entries of several feeds sent as one");
    }
    let path = queue::path_for(ks.path());
    let _lock = QueueLock::take(&path)?;
    let mut q = queue::load(&path, ks.master())?;
    for (e, what) in entries {
        q.push(Queued::new(e, label, what, 0, node.url()))?;
    }
    queue::save(&path, ks.master(), &q)?;
    let own: Vec<EntryId> = entries.iter().map(|(e, _)| e.id).collect();
    let mut nodes = Nodes::pinned(node);
    let flushed = send_queued(ks, &mut nodes, Pick::Feed(feed)).await?;
    report(&flushed, &own);
    if let Some((e, item, err)) = flushed.dropped.iter().find(|(e, ..)| own.contains(&e.id)) {
        forget_refusals(ks, &own)?;
        bail!("{} refused your {} {}: {err}", node.url(), item.what, e.id);
    }
    if let Some(err) = abandoned_or_held(&flushed, &own) {
        return Err(err);
    }
    if let Some((e, item, why)) = flushed.kept.iter().find(|(e, ..)| own.contains(&e.id)) {
        let in_a_name = item.collector.starts_with("delegate feed");
        let undo = match item.what.as_str() {
            "grant" if in_a_name => format!(
                " If you no longer mean it, revoke it in the same name: consent --as NAME revoke {}",
                e.id
            ),
            "grant" => format!(
                " If you no longer mean it, revoke it: consent revoke {}",
                e.id
            ),
            "delegation" => format!(
                " If you no longer mean it, withdraw it: consent wallet undelegate {}",
                e.id
            ),
            _ => String::new(),
        };
        bail!(
            "your {} {} is NOT in effect yet: {} did not confirm it ({why}). It stays in the send \
             queue and is sent again by the next command that signs in its feed, or by the \
             first consent command 5 minutes from now (or now: consent queue --send-now); \
             nothing is signed beside it.{undo}",
            item.what,
            e.id,
            node.url(),
        );
    }
    if let Some((_, what)) = entries
        .iter()
        .find(|(e, _)| !flushed.sent.iter().any(|(s, ..)| s.id == e.id))
    {
        bail!(
            "your {what} was not sent to {}, and no reason was given: consent queue shows what \
             waits",
            node.url()
        );
    }
    Ok(())
}
