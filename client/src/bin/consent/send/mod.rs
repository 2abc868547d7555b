//! How the wallet sends what it signs in its pairwise feeds (`consent_client::privacy`): at once,
//! or later from the send queue beside the keystore, each feed to its own node.
//!
//! - [`send_queued`]: sends queued entries, each feed's in order to its node ([`Nodes`]), and
//!   updates the queue; what a command that signs does with it is `outbox`.
//! - [`settle`]: before any queued entry is sent, and before a command signs after queued
//!   entries, the node the feed goes to is asked for the feed's head. The queued entries go only
//!   when the first of them follows that head (`seq = head + 1`, its `prev` the head); those the
//!   node holds already count as sent; a node that holds **another** entry where the queue's
//!   chain goes (another device, or a restored copy of this wallet, signed there) makes them
//!   **held**: never sent (sending them would fork the feed, and a forked feed is frozen), said
//!   loudly by every command, dropped only by the person (`consent queue --drop`). A node that
//!   lags is first brought up to date with the accepted entries the queue keeps.
//! - [`before_signing`]: called by `ctx::pairwise` before any command signs in a pairwise feed
//!   at the head a node reports: the feed's queued entries are sent to that node first, and a
//!   node that lags what this wallet had accepted is brought up to date, or refused (signing
//!   there would fork the feed).
//! - [`unknown_feed`]: when no node asked knows a feed this wallet has used, never a silent new
//!   start at seq 1 (a fork once the nodes meet).
//! - [`submit_recorded`]: what a command sends at once itself (a delegation, a rotation, an
//!   inception, anything with `--now`) goes through the queue file too, so that an entry a node
//!   answered pending, or whose answer was lost, is sent again and never signed beside.
//! - [`flush_due`]: what a command that only reads sends on its way (`consent list`, `consent
//!   wallet monitor`, `consent queue`).
//!
//! One run sends the due entries of at most one feed besides withdrawals (`Queue::due_now`), so
//! that entries left overdue do not leave back to back. A node's refusal of a queued entry for
//! good drops it and the entries of its feed after it (they chain on it), and the queue keeps the
//! refusal until the person acknowledges it (`consent queue --ack`); an unreachable node, a
//! pending answer or a refusal that depends on the node's clock (`time-in-future`) keeps the
//! entry queued for the next run. Only a withdrawal falls back to `--node` when its feed's node
//! cannot be reached (withdrawing is never harder); anything else waits for its own node.
//! Everything sent, dropped or held on a command's way is said on stderr.

mod answer;
mod direct;
mod flush;
mod flushed;
mod guard;
mod nodes;
mod standing;

use consent_client::keystore::Keystore;
use consent_client::privacy::queue::{self, Queued, Refusal};
use consent_client::time;
use consent_proto::Entry;

pub use direct::{submit_recorded, submit_recorded_as};
pub use flush::{Pick, forget_unsent, note_unsent, send_queued};
pub use flushed::{Flushed, abandoned_or_held, forget_refusals, remind, report};
pub use guard::{before_signing, before_signing_feed, lagging, unknown_feed, up_to_main};
pub use nodes::{Nodes, feed_url};
pub use standing::{Standing, relay, settle};

/// "at 2026-03-02T10:15:00Z" for a moment, "now" for one already past.
pub fn when(due_ms: u64) -> String {
    if due_ms <= time::now_ms() {
        "now".to_string()
    } else {
        format!("at {}", time::format(due_ms))
    }
}

/// Sends what one run sends now (`Pick::Due`), on the way of a command that opened the wallet
/// (`nodes`: `--node` and the connection to it, if any). Only the queue file's own problems
/// fail.
pub async fn flush_due(ks: &Keystore, mut nodes: Nodes) -> anyhow::Result<Flushed> {
    if !queue::path_for(ks.path()).exists() {
        return Ok(Flushed::default());
    }
    let f = send_queued(ks, &mut nodes, Pick::Due(time::now_ms())).await?;
    report(&f, &[]);
    remind(&f);
    Ok(f)
}

/// The queued entries (with their items), in sending order, for display.
pub fn queued(ks: &Keystore) -> anyhow::Result<Vec<(Entry, Queued)>> {
    let q = queue::load(&queue::path_for(ks.path()), ks.master())?;
    let mut out = Vec::new();
    for i in q.order() {
        let item = q.items[i].clone();
        out.push((item.decode().map_err(anyhow::Error::msg)?, item));
    }
    Ok(out)
}

/// The entries set aside for a conflict (never sent), for display.
pub fn held(ks: &Keystore) -> anyhow::Result<Vec<(Entry, Queued)>> {
    let q = queue::load(&queue::path_for(ks.path()), ks.master())?;
    q.held
        .into_iter()
        .map(|item| Ok((item.decode().map_err(anyhow::Error::msg)?, item)))
        .collect()
}

/// The refusals kept until acknowledged.
pub fn refusals(ks: &Keystore) -> anyhow::Result<Vec<Refusal>> {
    Ok(queue::load(&queue::path_for(ks.path()), ks.master())?.refused)
}
