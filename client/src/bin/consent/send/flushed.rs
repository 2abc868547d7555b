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
