//! Entries arriving from peers, pushed by gossip or pulled by sync, go through the ledger's one
//! write path; the verdict decides whether gossipsub forwards them, what is pulled next, and
//! what counts against the sender.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use consent_proto::Entry;
use consent_proto::ids::FeedId;
use consent_proto::validate::{Missing, Rejection};
use libp2p::PeerId;
use libp2p::gossipsub::{MessageAcceptance, MessageId};

use super::super::discipline::Offence;
use super::super::protocol::{MAX_IDS, MAX_RANGE, SyncRequest, SyncResponse};
use super::super::{Command, Purpose, sync};
use super::Task;
use crate::ledger::{Ledger, Outcome};

/// Rejections that do not show the sender misbehaved: its clock or its branch of a forked feed
/// may differ from ours ([`Rejection::blameless`]).
fn blameless(rejection: &Rejection) -> bool {
    rejection.blameless()
}

/// The pull that shows the sender's branch of a feed, when a rejection depends on which branch
/// of a forked feed this node holds: the sender's entries from where our key came in.
fn branch_request(feed: FeedId, rejection: &Rejection) -> Option<(SyncRequest, Purpose)> {
    rejection
        .fetch_from()
        .map(|from_seq| branch_pull(feed, from_seq))
}

/// A pull of `feed`'s entries from `from_seq`, whose answer must hold only those.
fn branch_pull(feed: FeedId, from_seq: u64) -> (SyncRequest, Purpose) {
    (
        SyncRequest::Range {
            feed: feed.0,
            from_seq,
            limit: MAX_RANGE,
        },
        Purpose::Branch { feed, from_seq },
    )
}

/// A bounded set of recent message ids (oldest forgotten first).
#[derive(Default)]
pub(super) struct Recent {
    ids: HashSet<MessageId>,
    order: VecDeque<MessageId>,
}

impl Recent {
    const CAPACITY: usize = 65_536;

    pub(super) fn insert(&mut self, id: MessageId) {
        if self.ids.insert(id.clone()) {
            self.order.push_back(id);
            if self.order.len() > Self::CAPACITY
                && let Some(old) = self.order.pop_front()
            {
                self.ids.remove(&old);
            }
        }
    }

    pub(super) fn contains(&self, id: &MessageId) -> bool {
        self.ids.contains(id)
    }
}

impl Task {
    /// A pushed entry: through the write path, then tell gossipsub whether to forward it.
    pub(super) fn gossip(&mut self, source: PeerId, id: MessageId, data: Vec<u8>) {
        self.received.insert(id.clone());
        self.heard_from(&source);
        let now = Instant::now();
        if !self.discipline.allow_gossip(source, now)
            || !self.discipline.within_branch_budget(source, now)
        {
            // Over the peer's rate, or its budget of entries from other branches of forked
            // feeds: not processed; anti-entropy fetches what is valid at our pace.
            self.swarm
                .behaviour_mut()
                .gossipsub
                .report_message_validation_result(&id, &source, MessageAcceptance::Ignore);
            return;
        }
        let entry = match Entry::decode(&data) {
            Ok(e) => e,
            Err(e) => {
                tracing::debug!(%source, reason = e.code(), "undecodable gossip");
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&id, &source, MessageAcceptance::Reject);
                self.offend(source, Offence::Garbage);
                return;
            }
        };
        let ledger = self.ledger.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let feed = entry.feed;
            let outcome = ledger.submit(vec![entry]).await.map(|mut o| o.pop());
            let acceptance = match outcome {
                Ok(Some(Outcome::Accepted { .. } | Outcome::Duplicate { .. })) => {
                    MessageAcceptance::Accept
                }
                // An equivocation is a valid signed entry: forwarding it spreads the proof.
                Ok(Some(Outcome::Equivocation { .. })) => MessageAcceptance::Accept,
                Ok(Some(Outcome::Pending { id: entry, missing })) => {
                    let _ = tx
                        .send(Command::Waiting {
                            id,
                            source,
                            entry,
                            feed,
                            missing,
                        })
                        .await;
                    return;
                }
                Ok(Some(Outcome::Rejected { rejection, .. })) if blameless(&rejection) => {
                    if let Some((request, purpose)) = branch_request(feed, &rejection) {
                        tracing::debug!(%source, reason = rejection.code(), "gossip from another branch of a feed: pulling it");
                        let _ = tx
                            .send(Command::OtherBranch {
                                peer: source,
                                entries: 1,
                            })
                            .await;
                        let _ = tx
                            .send(Command::Ask {
                                peer: source,
                                request,
                                purpose,
                            })
                            .await;
                    }
                    MessageAcceptance::Ignore
                }
                Ok(Some(Outcome::Rejected { rejection, .. })) => {
                    tracing::debug!(%source, reason = rejection.code(), "invalid gossip");
                    let _ = tx
                        .send(Command::Offend {
                            peer: source,
                            offence: Offence::InvalidEntry,
                        })
                        .await;
                    MessageAcceptance::Reject
                }
                Ok(Some(Outcome::PendingFull { .. })) | Ok(None) | Err(_) => {
                    MessageAcceptance::Ignore
                }
            };
            let _ = tx
                .send(Command::Validated {
                    id,
                    source,
                    acceptance,
                })
                .await;
        });
    }

    /// Entries pulled from a peer: through the write path; keep pulling while they leave gaps.
    /// `branch`: the response answers a pull of one feed from a seq (see [`branch_pull`]): it
    /// must hold only that feed's entries from that seq, and pulls it leads to must reach
    /// further back.
    pub(super) fn received(
        &mut self,
        peer: PeerId,
        response: SyncResponse,
        branch: Option<(FeedId, u64)>,
    ) {
        let SyncResponse::Entries(raw) = response else {
            return;
        };
        if !self.discipline.within_branch_budget(peer, Instant::now()) {
            // The peer spent its budget of entries from other branches: left to anti-entropy.
            return;
        }
        let full_page = raw.len() as u32 >= MAX_RANGE;
        let several_feeds = sync::entries_span_feeds(&raw);
        let total = raw.len();
        let entries: Vec<Entry> = raw.iter().filter_map(|b| Entry::decode(b).ok()).collect();
        if let Some((feed, from_seq)) = branch
            && entries.iter().any(|e| e.feed != feed || e.seq < from_seq)
        {
            // Not what was asked: a range of one feed from one seq.
            self.offend(peer, Offence::BadMessage);
            return;
        }
        let feeds: Vec<FeedId> = entries.iter().map(|e| e.feed).collect();
        // Where this response starts in each feed (for a branch pull: the seq asked): a pull for
        // another branch must reach further back than that, so a peer serving entries that prove
        // nothing cannot make us loop.
        let mut starts: HashMap<FeedId, u64> = HashMap::new();
        for e in &entries {
            let start = starts.entry(e.feed).or_insert(e.seq);
            *start = (*start).min(e.seq);
        }
        if let Some((feed, from_seq)) = branch {
            starts.insert(feed, from_seq);
        }
        if entries.len() < total {
            self.offend(peer, Offence::Garbage);
        }
        if entries.is_empty() {
            return;
        }
        let ledger = self.ledger.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let last = entries.last().map(|e| (e.feed, e.seq));
            let Ok(outcomes) = ledger.submit(entries).await else {
                return;
            };
            let accepted = outcomes
                .iter()
                .filter(|o| matches!(o, Outcome::Accepted { .. }))
                .count();
            if accepted > 0 {
                let _ = tx.send(Command::Pulled { peer, accepted }).await;
            }
            let invalid = outcomes
                .iter()
                .any(|o| matches!(o, Outcome::Rejected { rejection, .. } if !blameless(rejection)));
            if invalid {
                let _ = tx
                    .send(Command::Offend {
                        peer,
                        offence: Offence::InvalidEntry,
                    })
                    .await;
            }
            // Another branch of a forked feed: pull the peer's branch from where ours changed key,
            // which reaches back to where the branches part (at most one pull per feed).
            let other_branch = outcomes
                .iter()
                .filter(|o| matches!(o, Outcome::Rejected { rejection, .. } if rejection.fetch_from().is_some()))
                .count();
            if other_branch > 0 {
                let _ = tx
                    .send(Command::OtherBranch {
                        peer,
                        entries: other_branch,
                    })
                    .await;
            }
            let mut branches = HashSet::new();
            for (outcome, feed) in outcomes.iter().zip(&feeds) {
                if let Outcome::Rejected { rejection, .. } = outcome
                    && rejection
                        .fetch_from()
                        .is_some_and(|from| starts.get(feed).is_some_and(|s| from < *s))
                    && let Some((request, purpose)) = branch_request(*feed, rejection)
                    && branches.insert(*feed)
                    && branches.len() <= MAX_IDS
                {
                    let _ = tx
                        .send(Command::Ask {
                            peer,
                            request,
                            purpose,
                        })
                        .await;
                }
            }
            // Anything still missing is pulled from the same peer (a predecessor, another feed).
            let mut asked = HashSet::new();
            for outcome in outcomes {
                if let Outcome::Pending { missing, .. } = outcome
                    && asked.insert(missing)
                    && asked.len() <= MAX_IDS
                {
                    let request = request_for(&ledger, missing);
                    let _ = tx
                        .send(Command::Ask {
                            peer,
                            request,
                            purpose: Purpose::Entries,
                        })
                        .await;
                }
            }
            if full_page && several_feeds {
                // A batch of ranges was cut at the size limit: compare again for the rest.
                let _ = tx
                    .send(Command::Ask {
                        peer,
                        request: SyncRequest::Digests { prefix: Vec::new() },
                        purpose: Purpose::Digests(Vec::new()),
                    })
                    .await;
            } else if full_page && let Some((feed, seq)) = last {
                let (request, purpose) = branch_pull(feed, seq + 1);
                let _ = tx
                    .send(Command::Ask {
                        peer,
                        request,
                        purpose,
                    })
                    .await;
            }
        });
    }
}

/// The request that pulls what an entry waits for: the rest of a feed, or one entry.
pub(super) fn request_for(ledger: &Ledger, missing: Missing) -> SyncRequest {
    match missing {
        Missing::Seq(feed, _) | Missing::Feed(feed) => {
            let from_seq = ledger
                .head(&feed)
                .ok()
                .flatten()
                .map(|s| s.head_seq + 1)
                .unwrap_or(0);
            SyncRequest::Range {
                feed: feed.0,
                from_seq,
                limit: MAX_RANGE,
            }
        }
        Missing::Entry(id) => SyncRequest::Entries { ids: vec![id.0] },
    }
}
