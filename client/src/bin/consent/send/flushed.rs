//! What a flush did with the queued entries ([`Flushed`]), and saying it on stderr ([`report`],
//! [`remind`]).

use consent_client::node::ClientError;
use consent_client::privacy::queue::Queued;
use consent_proto::Entry;
use consent_proto::ids::EntryId;

/// What a flush did.
#[derive(Default)]
pub struct Flushed {
    /// Accepted by a node (or held by it already): the entry, its item, the node.
    pub sent: Vec<(Entry, Queued, String)>,
    /// Refused by a node for good, with the refusal; dropped.
    pub dropped: Vec<(Entry, Queued, ClientError)>,
    /// Dropped because an earlier entry of their feed was refused.
    pub abandoned: Vec<(Entry, Queued)>,
    /// Kept queued (a node unreachable or lagging, a pending answer), with why.
    pub kept: Vec<(Entry, Queued, String)>,
    /// Held, never sent: they conflict with what a node holds (see the `send` module docs),
    /// with why.
    pub held: Vec<(Entry, Queued, String)>,
    /// After the flush: how many entries are held, and how many refusals wait to be
    /// acknowledged ([`remind`]).
    pub attention: (usize, usize),
}

/// Says on stderr what a flush did with entries other than `own` (a command reports its own).
pub fn report(f: &Flushed, own: &[EntryId]) {
    for (e, item, to) in &f.sent {
        if !own.contains(&e.id) {
            eprintln!(
                "consent: sent your queued {} {} (collector {}) to {to}",
                item.what, e.id, item.collector
            );
        }
    }
    for (e, item, err) in &f.dropped {
        eprintln!(
            "consent: your queued {} {} (collector {}) was REFUSED and is dropped from the queue, \
             with the entries of its feed after it: {err}; it is NOT in effect (consent queue \
             shows it until you acknowledge it: consent queue --ack)",
            item.what, e.id, item.collector
        );
    }
    for (e, item) in &f.abandoned {
        eprintln!(
            "consent: dropped your queued {} {} (collector {}): an earlier entry of its feed was \
             refused; it is NOT in effect",
            item.what, e.id, item.collector
        );
    }
    for (e, item, why) in &f.held {
        eprintln!(
            "consent: HELD, NOT sent: your queued {} {} (collector {}): {why}",
            item.what, e.id, item.collector
        );
    }
    for (e, item, why) in &f.kept {
        if !own.contains(&e.id) {
            eprintln!(
                "consent: your queued {} {} (collector {}) stays queued: {why}",
                item.what, e.id, item.collector
            );
        }
    }
}

/// Says on stderr, once per command, that entries are held or refused until the person looks
/// (`consent queue`).
pub fn remind(f: &Flushed) {
    let (held, refused) = f.attention;
    if held + refused > 0 {
        eprintln!(
            "consent: your send queue needs you: {held} entr{} held, NOT sent (they conflict with \
             what a node holds), {refused} refused by a node and NOT in effect: consent queue \
             shows them (--drop ID, --ack)",
            if held == 1 { "y" } else { "ies" }
        );
    }
}

/// A command's own entries (`own`) refused for good are said now, as the command's error: their
/// refusals are not kept in the queue for `consent queue --ack`.
pub fn forget_refusals(
    ks: &consent_client::keystore::Keystore,
    own: &[EntryId],
) -> anyhow::Result<()> {
    use consent_client::privacy::queue::{self, QueueLock};
    let path = queue::path_for(ks.path());
    let _lock = QueueLock::take(&path)?;
    let mut q = queue::load(&path, ks.master())?;
    q.refused
        .retain(|r| !own.iter().any(|id| id.to_string() == r.entry));
    queue::save(&path, ks.master(), &q)?;
    Ok(())
}

/// Why one of a command's own entries (`own`) is not in effect after a flush, when it was
/// dropped unsent behind an entry of its feed refused for good (re-review N8: never "stays
/// queued") or held for a conflict.
pub fn abandoned_or_held(f: &Flushed, own: &[EntryId]) -> Option<anyhow::Error> {
    if let Some((e, item)) = f.abandoned.iter().find(|(e, _)| own.contains(&e.id)) {
        return Some(anyhow::anyhow!(
            "your {} {} is NOT in effect: it was dropped unsent, because an earlier entry of its \
             feed was refused for good (see above); run the command again to sign it anew",
            item.what,
            e.id
        ));
    }
    f.held
        .iter()
        .find(|(e, ..)| own.contains(&e.id))
        .map(|(e, item, why)| {
            anyhow::anyhow!("your {} {} is held, NOT sent: {why}", item.what, e.id)
        })
}
