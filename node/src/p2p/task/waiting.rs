//! Gossip messages whose entries wait for a missing entry: held open (not forwarded) until the
//! entry is accepted, or for at most `WAIT_FOR_PREDECESSOR`. Whether such a message is settled
//! already (its entry accepted in the same commit as its predecessor, or its feed frozen: then
//! forwarding it spreads the proof) and what to pull for it are store reads: [`look_up`] runs
//! them on a blocking thread, and the swarm task takes the [`Looked`] back from its `lookups`.
//!
//! The message is held open *before* the lookup starts, so an acceptance announced meanwhile
//! finds it (and forwards it) and the lookup then finds nothing left to settle: whichever comes
//! first reports the message, exactly once.

use consent_proto::ids::{EntryId, FeedId};
use consent_proto::validate::Missing;
use libp2p::PeerId;
use libp2p::gossipsub::{MessageAcceptance, MessageId};

use super::super::Purpose;
use super::super::protocol::SyncRequest;
use super::Task;
use super::ingest::request_for;
use crate::ledger::Ledger;

/// What to look up for a waiting gossip message.
#[derive(Debug, Clone)]
pub(super) struct Lookup {
    /// The gossip message.
    pub(super) id: MessageId,
    /// The peer it came from.
    pub(super) source: PeerId,
    /// Its entry.
    pub(super) entry: EntryId,
    /// The entry's feed.
    pub(super) feed: FeedId,
    /// What the entry waits for.
    pub(super) missing: Missing,
}

/// What [`look_up`] found.
#[derive(Debug)]
pub(super) struct Looked {
    /// The gossip message.
    pub(super) id: MessageId,
    /// The peer it came from (asked for what is missing).
    pub(super) source: PeerId,
    /// Its entry was accepted meanwhile, or its feed is frozen: forward it.
    pub(super) settled: bool,
    /// The pull for what its entry waits for.
    pub(super) request: SyncRequest,
}

/// Reads whether the message is settled and what to pull for it. Blocking (store reads).
pub(super) fn look_up(ledger: &Ledger, lookup: Lookup) -> Looked {
    let accepted = matches!(ledger.entry(&lookup.entry), Ok(Some(_)));
    let frozen = matches!(ledger.head(&lookup.feed), Ok(Some(s)) if s.frozen);
    Looked {
        id: lookup.id,
        source: lookup.source,
        settled: accepted || frozen,
        request: request_for(ledger, lookup.missing),
    }
}

/// Lookups in flight at most; a waiting message beyond it is let go (ignored).
const MAX_LOOKUPS: usize = 1_024;

impl Task {
    /// A gossip message whose entry waits: held open from now on, and looked up on a blocking
    /// thread (the answer comes back through `lookups`, to [`Self::looked_up`]).
    pub(super) fn wait(&mut self, lookup: Lookup) {
        if self.lookups.len() >= MAX_LOOKUPS {
            // Lookups back up only when blocking threads are scarce: let the message go (not
            // forwarded, not blamed); anti-entropy brings its entry later.
            let _ = self
                .swarm
                .behaviour_mut()
                .gossipsub
                .report_message_validation_result(
                    &lookup.id,
                    &lookup.source,
                    libp2p::gossipsub::MessageAcceptance::Ignore,
                );
            return;
        }
        self.waiting.insert(
            lookup.id.clone(),
            (lookup.source, std::time::Instant::now()),
        );
        let ledger = self.ledger.clone();
        self.lookups.push(tokio::task::spawn_blocking(move || {
            look_up(&ledger, lookup)
        }));
    }

    /// A lookup's answer: a settled message still held open is accepted (gossipsub forwards
    /// it); what its entry waits for is pulled from the peer that sent it.
    pub(super) fn looked_up(&mut self, looked: Result<Looked, tokio::task::JoinError>) {
        let looked = match looked {
            Ok(looked) => looked,
            Err(e) => {
                // The message stays held and times out (ignored); anti-entropy pulls the rest.
                tracing::debug!(error = %e, "lookup of a waiting gossip message failed");
                return;
            }
        };
        if looked.settled && self.waiting.remove(&looked.id).is_some() {
            self.swarm
                .behaviour_mut()
                .gossipsub
                .report_message_validation_result(
                    &looked.id,
                    &looked.source,
                    MessageAcceptance::Accept,
                );
        }
        self.ask(looked.source, looked.request, Purpose::Entries);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use consent_proto::fixtures::{self, T0};

    use super::*;
    use crate::p2p::protocol::MAX_RANGE;
    use crate::store::memory::MemoryStore;

    fn lookup(entry: EntryId, feed: FeedId, missing: Missing) -> Lookup {
        Lookup {
            id: MessageId::from(vec![1u8]),
            source: PeerId::random(),
            entry,
            feed,
            missing,
        }
    }

    #[tokio::test]
    async fn a_lookup_says_whether_the_entry_got_in_and_what_to_pull() {
        let scene = fixtures::scene(T0);
        let registrars: HashSet<_> = [scene.registrar.feed()].into_iter().collect();
        let (ledger, writer) = Ledger::open(
            Arc::new(MemoryStore::new()),
            registrars,
            "test",
            Default::default(),
        )
        .expect("open");
        ledger.submit(scene.entries.clone()).await.expect("submit");
        let collector = scene.collector.feed();
        let head = ledger
            .head(&collector)
            .expect("read")
            .expect("the collector's feed")
            .head_seq;

        // Accepted meanwhile: settled; the rest of its feed is pulled from after our head.
        let held = look_up(
            &ledger,
            lookup(scene.policy, collector, Missing::Seq(collector, head + 5)),
        );
        assert!(held.settled);
        assert_eq!(
            held.request,
            SyncRequest::Range {
                feed: collector.0,
                from_seq: head + 1,
                limit: MAX_RANGE,
            }
        );

        // Not here, and its feed unknown: held open; the whole feed is pulled.
        let unknown = FeedId([9; 32]);
        let waiting = look_up(
            &ledger,
            lookup(EntryId([7; 32]), unknown, Missing::Feed(unknown)),
        );
        assert!(!waiting.settled);
        assert_eq!(
            waiting.request,
            SyncRequest::Range {
                feed: unknown.0,
                from_seq: 0,
                limit: MAX_RANGE,
            }
        );

        // A reference to an entry of another feed: that entry is pulled by id.
        let reference = look_up(
            &ledger,
            lookup(EntryId([7; 32]), unknown, Missing::Entry(EntryId([8; 32]))),
        );
        assert!(!reference.settled);
        assert_eq!(
            reference.request,
            SyncRequest::Entries { ids: vec![[8; 32]] }
        );

        ledger.shutdown().await;
        drop(ledger);
        writer.join();
    }
}
