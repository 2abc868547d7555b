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
use serde_bytes::ByteBuf;
use tokio::sync::mpsc;

use super::super::discipline::Offence;
use super::super::protocol::{MAX_IDS, MAX_RANGE, SyncRequest, SyncResponse};
use super::super::{Command, Purpose, sync};
use super::Task;
use crate::ledger::{Ledger, Outcome, Source};

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

/// Whether gossipsub forwards a pushed entry the write path took in, held already or left out
/// (the outcomes that need nothing else done). An entry new here is forwarded, and so is an
/// equivocation (a valid signed entry: forwarding it spreads the proof). One this node already
/// holds is not (`Ignore`: no forward, no penalty): it reached the node before, by gossip, a
/// pull or the node's own publication, and gossip's history (6 s) is long past or it would not
/// be delivered again; forwarding it would let a peer replay old messages — the node's own too,
/// which it takes back since `allow_self_origin` — for the mesh to re-forward once their caches
/// forgot them. Anti-entropy covers a peer that really lacks it. Left out (no room pending, or
/// refused: only API submissions run admission): ignored.
fn forwarding(outcome: &Outcome) -> MessageAcceptance {
    match outcome {
        Outcome::Accepted { .. } | Outcome::Equivocation { .. } => MessageAcceptance::Accept,
        Outcome::Duplicate { .. }
        | Outcome::PendingFull { .. }
        | Outcome::Refused { .. }
        | Outcome::Pending { .. }
        | Outcome::Rejected { .. } => MessageAcceptance::Ignore,
    }
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
    /// Whose share of the pending space a peer's entries count against: a member's own; every
    /// peer outside the genesis's member list (every peer, without a list) shares one — peer ids
    /// cost nothing to make, so minted peers must not each get a share.
    pub(super) fn pending_source(&self, peer: &PeerId) -> Source {
        if self.swarm.behaviour().member_peers().is_member(peer) {
            Source::peer(&peer.to_bytes())
        } else {
            Source::Unlisted
        }
    }

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
        if entry.encode() != data.as_slice() {
            // Nodes gossip an entry's envelope exactly as they store it. Another wrapping of a
            // valid entry (padding, reordered or repeated fields) would be a new gossip message
            // each time, forwarded by every node: refused, and held against the sender.
            tracing::debug!(%source, "gossip not in the stored envelope form");
            self.swarm
                .behaviour_mut()
                .gossipsub
                .report_message_validation_result(&id, &source, MessageAcceptance::Reject);
            self.offend(source, Offence::Garbage);
            return;
        }
        let ledger = self.ledger.clone();
        let tx = self.tx.clone();
        let from = self.pending_source(&source);
        tokio::spawn(async move {
            let feed = entry.feed;
            // What waits counts against the share of the peer that pushed it (not its author).
            let outcome = ledger
                .submit_from(from, vec![entry])
                .await
                .map(|mut o| o.pop());
            let acceptance = match outcome {
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
                Ok(Some(other)) => forwarding(&other),
                Ok(None) | Err(_) => MessageAcceptance::Ignore,
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
        let Some(page) = self.decode_page(peer, &raw, branch) else {
            return;
        };
        let from = self.pending_source(&peer);
        tokio::spawn(submit_page(
            self.ledger.clone(),
            self.tx.clone(),
            (peer, from),
            page,
        ));
    }

    /// Decodes a page of pulled entries, scoring the peer for entries that do not decode and
    /// for a page that is not what its branch pull asked. `None`: nothing to submit.
    fn decode_page(
        &mut self,
        peer: PeerId,
        raw: &[ByteBuf],
        branch: Option<(FeedId, u64)>,
    ) -> Option<Page> {
        let full = raw.len() as u32 >= MAX_RANGE;
        let several_feeds = sync::entries_span_feeds(raw);
        let entries: Vec<Entry> = raw.iter().filter_map(|b| Entry::decode(b).ok()).collect();
        if let Some((feed, from_seq)) = branch
            && entries.iter().any(|e| e.feed != feed || e.seq < from_seq)
        {
            // Not what was asked: a range of one feed from one seq.
            self.offend(peer, Offence::BadMessage);
            return None;
        }
        if entries.len() < raw.len() {
            self.offend(peer, Offence::Garbage);
        }
        if entries.is_empty() {
            return None;
        }
        let starts = page_starts(&entries, branch);
        Some(Page {
            entries,
            starts,
            full,
            several_feeds,
        })
    }
}

/// A page of entries pulled from a peer, decoded.
struct Page {
    entries: Vec<Entry>,
    /// Where the page starts in each feed (for a branch pull: the seq asked).
    starts: HashMap<FeedId, u64>,
    /// The page is as long as a page may be: more may follow.
    full: bool,
    /// It holds entries of several feeds (a batch of ranges).
    several_feeds: bool,
}

/// Where a page starts in each feed (for a branch pull: the seq asked): a pull for another
/// branch must reach further back than that, so a peer serving entries that prove nothing
/// cannot make us loop.
fn page_starts(entries: &[Entry], branch: Option<(FeedId, u64)>) -> HashMap<FeedId, u64> {
    let mut starts: HashMap<FeedId, u64> = HashMap::new();
    for e in entries {
        let start = starts.entry(e.feed).or_insert(e.seq);
        *start = (*start).min(e.seq);
    }
    if let Some((feed, from_seq)) = branch {
        starts.insert(feed, from_seq);
    }
    starts
}

/// Submits a pulled page (a tokio task, off the swarm task), then tells the task what follows:
/// its verdicts on the peer, and the pulls the outcomes call for, in this order.
async fn submit_page(
    ledger: Ledger,
    tx: mpsc::Sender<Command>,
    (peer, from): (PeerId, Source),
    page: Page,
) {
    let Page {
        entries,
        starts,
        full,
        several_feeds,
    } = page;
    let feeds: Vec<FeedId> = entries.iter().map(|e| e.feed).collect();
    let last = entries.last().map(|e| (e.feed, e.seq));
    let Ok(outcomes) = ledger.submit_from(from, entries).await else {
        return;
    };
    for command in verdicts(peer, &outcomes) {
        let _ = tx.send(command).await;
    }
    let mut pulls = branch_pulls(&outcomes, &feeds, &starts);
    pulls.extend(missing_pulls(&ledger, &outcomes).await);
    pulls.extend(continuation(full, several_feeds, last));
    for (request, purpose) in pulls {
        let _ = tx
            .send(Command::Ask {
                peer,
                request,
                purpose,
            })
            .await;
    }
}

/// What the outcomes of a pulled page say about the peer: entries accepted from it, an
/// offence if it sent an invalid one, and entries from another branch of a forked feed.
fn verdicts(peer: PeerId, outcomes: &[Outcome]) -> Vec<Command> {
    let mut out = Vec::new();
    let accepted = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Accepted { .. }))
        .count();
    if accepted > 0 {
        out.push(Command::Pulled { peer, accepted });
    }
    let invalid = outcomes
        .iter()
        .any(|o| matches!(o, Outcome::Rejected { rejection, .. } if !blameless(rejection)));
    if invalid {
        out.push(Command::Offend {
            peer,
            offence: Offence::InvalidEntry,
        });
    }
    let other_branch = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Rejected { rejection, .. } if rejection.fetch_from().is_some()))
        .count();
    if other_branch > 0 {
        out.push(Command::OtherBranch {
            peer,
            entries: other_branch,
        });
    }
    out
}

/// Another branch of a forked feed: pull the peer's branch from where ours changed key, which
/// reaches back to where the branches part (at most one pull per feed, and only if it reaches
/// further back than the page did: see [`page_starts`]).
fn branch_pulls(
    outcomes: &[Outcome],
    feeds: &[FeedId],
    starts: &HashMap<FeedId, u64>,
) -> Vec<(SyncRequest, Purpose)> {
    let mut branches = HashSet::new();
    let mut pulls = Vec::new();
    for (outcome, feed) in outcomes.iter().zip(feeds) {
        if let Outcome::Rejected { rejection, .. } = outcome
            && rejection
                .fetch_from()
                .is_some_and(|from| starts.get(feed).is_some_and(|s| from < *s))
            && let Some(pull) = branch_request(*feed, rejection)
            && branches.insert(*feed)
            && branches.len() <= MAX_IDS
        {
            pulls.push(pull);
        }
    }
    pulls
}

/// Anything still missing is pulled from the same peer (a predecessor, another feed): at most
/// [`MAX_IDS`] pulls. They start after our heads, which are read on a blocking thread.
async fn missing_pulls(ledger: &Ledger, outcomes: &[Outcome]) -> Vec<(SyncRequest, Purpose)> {
    let mut asked = HashSet::new();
    let missing: Vec<Missing> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Pending { missing, .. } => Some(*missing),
            _ => None,
        })
        .filter(|missing| asked.insert(*missing) && asked.len() <= MAX_IDS)
        .collect();
    if missing.is_empty() {
        return Vec::new();
    }
    let ledger = ledger.clone();
    tokio::task::spawn_blocking(move || {
        missing
            .into_iter()
            .map(|missing| (request_for(&ledger, missing), Purpose::Entries))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default()
}

/// After a full page, the pull for the rest: a batch of ranges cut at the size limit is
/// compared again; a range of one feed goes on after its last entry.
fn continuation(
    full: bool,
    several_feeds: bool,
    last: Option<(FeedId, u64)>,
) -> Option<(SyncRequest, Purpose)> {
    if !full {
        return None;
    }
    if several_feeds {
        return Some((
            SyncRequest::Digests { prefix: Vec::new() },
            Purpose::Digests(Vec::new()),
        ));
    }
    let (feed, seq) = last?;
    Some(branch_pull(feed, seq + 1))
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

#[cfg(test)]
mod tests {
    use consent_proto::fixtures::{self, T0};
    use consent_proto::ids::EntryId;

    use super::*;

    /// A pushed entry new here is forwarded (an equivocation too: it spreads the proof); one
    /// the node already holds is not, so a peer replaying old messages (the node's own
    /// included) gets nothing re-forwarded, and pays nothing either.
    #[test]
    fn only_entries_new_here_are_forwarded_a_duplicate_is_ignored() {
        let id = EntryId([1; 32]);
        let forwarded = |o: Outcome| matches!(forwarding(&o), MessageAcceptance::Accept);
        let ignored = |o: Outcome| matches!(forwarding(&o), MessageAcceptance::Ignore);
        assert!(forwarded(Outcome::Accepted { id, index: 3 }));
        assert!(forwarded(Outcome::Equivocation {
            id,
            feed: FeedId([2; 32]),
            seq: 1,
        }));
        assert!(ignored(Outcome::Duplicate { id, index: 3 }));
        assert!(ignored(Outcome::PendingFull { id }));
    }

    #[test]
    fn a_page_starts_where_its_first_entry_of_each_feed_is_or_where_the_branch_pull_asked() {
        let scene = fixtures::scene(T0);
        let (registrar, collector) = (scene.registrar.feed(), scene.collector.feed());
        // Each feed's inception and the entry after it.
        let starts = page_starts(&scene.entries, None);
        assert_eq!(starts.get(&registrar), Some(&0));
        assert_eq!(starts.get(&collector), Some(&0));
        let starts = page_starts(&scene.entries[2..], Some((collector, 1)));
        assert_eq!(starts.get(&collector), Some(&1));
        let asked_earlier = page_starts(&scene.entries[2..3], Some((collector, 0)));
        assert_eq!(asked_earlier.get(&collector), Some(&0), "the seq asked");
    }

    #[test]
    fn only_a_full_page_is_continued_a_batch_by_comparing_again() {
        let feed = FeedId([3; 32]);
        assert!(continuation(false, false, Some((feed, 9))).is_none());
        assert!(continuation(false, true, Some((feed, 9))).is_none());
        let Some((SyncRequest::Digests { prefix }, Purpose::Digests(_))) =
            continuation(true, true, Some((feed, 9)))
        else {
            panic!("a cut batch of ranges is compared again");
        };
        assert!(prefix.is_empty());
        let Some((request, Purpose::Branch { from_seq: 10, .. })) =
            continuation(true, false, Some((feed, 9)))
        else {
            panic!("a full range goes on after its last entry");
        };
        assert_eq!(
            request,
            SyncRequest::Range {
                feed: feed.0,
                from_seq: 10,
                limit: MAX_RANGE,
            }
        );
    }
}
