//! Answering peers' pull requests, and anti-entropy: two nodes compare XOR digests of their
//! feed heads in 256 buckets by the feed id's first byte, then 256 sub-buckets by its second,
//! and exchange heads only where digests differ; each pulls the feeds where the other is ahead.
//! Two nodes that differ in a few feeds exchange a few 4 KiB digest lists, not every head.

use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId};
use libp2p::PeerId;
use libp2p::request_response::ResponseChannel;
use serde_bytes::ByteBuf;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::discipline::Offence;
use super::protocol::{self, MAX_IDS, MAX_RANGE, SyncRequest, SyncResponse};
use super::task::Task;
use super::{Command, Purpose, cosigning};
use crate::ledger::Ledger;

/// Peers' sync requests answered at once on this node, all peers together (answers read the
/// store on blocking threads). Each peer's requests are rate-limited ([`super::discipline`]),
/// but many peers together could otherwise fill tokio's blocking pool (512 threads) and starve
/// the writer's, the API's and the site's blocking work. More wait for a turn holding no thread,
/// and a request whose requester gave up meanwhile (its 20 s timeout) is dropped unanswered.
pub(crate) const SYNC_ANSWERS: usize = 32;

/// Sub-buckets of one top-level bucket that may differ before its heads are asked for whole (a
/// page of up to `MAX_HEADS` heads costs what one sub-bucket's does).
const WHOLE_BUCKET_AT: usize = 16;

/// The turns of [`SYNC_ANSWERS`] (one owner: this module).
static ANSWERING: Semaphore = Semaphore::const_new(SYNC_ANSWERS);

/// Waits for a turn among `turns`; `None` when `wanted()` says the answer is no longer awaited
/// once it comes (or the semaphore is closed).
async fn turn(turns: &Semaphore, wanted: impl Fn() -> bool) -> Option<SemaphorePermit<'_>> {
    let permit = turns.acquire().await.ok()?;
    wanted().then_some(permit)
}

impl Task {
    /// Answers a pull request from what this node holds, computed off the swarm loop, in turn
    /// ([`SYNC_ANSWERS`] at once).
    pub(super) fn serve(
        &mut self,
        peer: PeerId,
        request: SyncRequest,
        channel: ResponseChannel<SyncResponse>,
    ) {
        let ledger = self.ledger.clone();
        let log = self.log.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let Some(_turn) = turn(&ANSWERING, || channel.is_open()).await else {
                return;
            };
            let (response, fork) = match request {
                SyncRequest::Checkpoint { .. }
                | SyncRequest::Cosign { .. }
                | SyncRequest::Fork { .. } => cosigning::answer(&ledger, &log, peer, request).await,
                request => tokio::task::spawn_blocking(move || (answer(&ledger, request), None))
                    .await
                    .unwrap_or_else(|e| (super::refused_internal(&e), None)),
            };
            if let Some(fork) = fork {
                let _ = tx
                    .send(Command::Spread {
                        from: Some(peer),
                        fork,
                    })
                    .await;
            }
            let _ = tx
                .send(Command::Respond {
                    peer,
                    channel,
                    response,
                })
                .await;
        });
    }

    /// The peer's child digests under `prefix`: descend where they differ from ours; where we hold
    /// nothing at all, ask for the whole bucket's heads at once, and so too where more than
    /// [`WHOLE_BUCKET_AT`] of a bucket's sub-buckets differ (a node catching up: one paged
    /// request instead of one per sub-bucket, each charged against the pace this node keeps
    /// towards the peer).
    pub(super) fn compare_digests(
        &mut self,
        peer: PeerId,
        prefix: Vec<u8>,
        response: SyncResponse,
    ) {
        let theirs = match response {
            SyncResponse::Digests(d) => match protocol::digests_from_wire(&d) {
                Some(d) => d,
                None => {
                    self.offend(peer, Offence::BadMessage);
                    return;
                }
            },
            SyncResponse::Refused(_) => return,
            _ => {
                self.offend(peer, Offence::BadMessage);
                return;
            }
        };
        const ZERO: [u8; protocol::DIGEST_BYTES] = [0; protocol::DIGEST_BYTES];
        let ledger = self.ledger.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let p = prefix.clone();
            let ours: Vec<[u8; protocol::DIGEST_BYTES]> =
                match tokio::task::spawn_blocking(move || ledger.head_digests(&p)).await {
                    Ok(Ok(d)) => d
                        .iter()
                        .map(|d| {
                            let mut short = ZERO;
                            short.copy_from_slice(&d[..protocol::DIGEST_BYTES]);
                            short
                        })
                        .collect(),
                    _ => return,
                };
            if prefix.is_empty() {
                let differing = theirs
                    .iter()
                    .zip(&ours)
                    .filter(|(t, o)| t != o && **t != ZERO)
                    .count();
                let _ = tx.send(Command::Compared { peer, differing }).await;
            }
            for (request, purpose) in descend(&prefix, &theirs, &ours) {
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

    /// The peer's heads under a prefix: pull every feed where the peer is ahead (or holds another
    /// entry at our head's seq: that pull reveals an equivocation); after a full page, ask for
    /// the next.
    pub(super) fn compare_heads(
        &mut self,
        peer: PeerId,
        prefix: Vec<u8>,
        after: Option<[u8; 32]>,
        response: SyncResponse,
    ) {
        let heads = match response {
            SyncResponse::Heads(h) => match protocol::heads_from_wire(&h) {
                Some(h) if is_page(&prefix, after.as_ref(), &h) => h,
                _ => {
                    self.offend(peer, Offence::BadMessage);
                    return;
                }
            },
            SyncResponse::Refused(_) => return,
            _ => {
                self.offend(peer, Offence::BadMessage);
                return;
            }
        };
        if let Some((request, purpose)) = next_heads_page(&prefix, &heads) {
            self.ask(peer, request, purpose);
        }
        let ledger = self.ledger.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let mut wants = Vec::new();
            let mut proofs = Vec::new();
            let ours: Vec<_> = match tokio::task::spawn_blocking(move || {
                let ours = heads
                    .iter()
                    .map(|(feed, ..)| ledger.head(&FeedId(*feed)).ok().flatten())
                    .collect::<Vec<_>>();
                (heads, ours)
            })
            .await
            {
                Ok((heads, ours)) => heads.into_iter().zip(ours).collect(),
                Err(_) => return,
            };
            for ((feed, seq, head, frozen), ours) in ours {
                // A feed the peer froze and we did not: fetch the proof (and the feed, if behind).
                if frozen && !ours.as_ref().is_some_and(|s| s.frozen) {
                    proofs.push(feed);
                }
                match ours {
                    None => wants.push((feed, 0)),
                    // Frozen here: nothing more of it is accepted, whatever the peer holds.
                    Some(s) if s.frozen => {}
                    Some(s) if s.head_seq < seq => wants.push((feed, s.head_seq + 1)),
                    Some(s) if s.head_seq == seq && s.head_id.0 != head && !s.frozen => {
                        wants.push((feed, seq))
                    }
                    _ => {}
                }
            }
            let _ = tx
                .send(Command::Behind {
                    peer,
                    feeds: wants.len(),
                })
                .await;
            let ranges = wants
                .chunks(MAX_IDS)
                .map(|c| SyncRequest::Ranges { wants: c.to_vec() });
            let proofs = proofs
                .chunks(MAX_IDS)
                .map(|c| SyncRequest::Proofs { feeds: c.to_vec() });
            for request in ranges.chain(proofs) {
                let _ = tx
                    .send(Command::Ask {
                        peer,
                        request,
                        purpose: Purpose::Entries,
                    })
                    .await;
            }
        });
    }
}

/// What serving a request costs from the peer's rate budget (a digest list scans every head
/// under its prefix), or why the request breaks the protocol.
pub(super) fn cost(request: &SyncRequest) -> Result<f64, String> {
    match request {
        SyncRequest::Range { .. } => Ok(1.0),
        SyncRequest::Entries { ids } if ids.len() <= MAX_IDS => Ok(1.0),
        SyncRequest::Ranges { wants } if wants.len() <= MAX_IDS => Ok(1.0),
        SyncRequest::Proofs { feeds } if feeds.len() <= MAX_IDS => Ok(1.0),
        SyncRequest::Entries { .. } | SyncRequest::Ranges { .. } | SyncRequest::Proofs { .. } => {
            Err(format!("at most {MAX_IDS} ids or feeds per request"))
        }
        SyncRequest::Digests { prefix } if prefix.is_empty() => Ok(20.0),
        SyncRequest::Digests { prefix } if prefix.len() == 1 => Ok(4.0),
        SyncRequest::Digests { .. } => Err("digest prefixes are 0 or 1 bytes".into()),
        SyncRequest::Heads { prefix, .. } if (1..=2).contains(&prefix.len()) => Ok(2.0),
        SyncRequest::Heads { .. } => Err("head prefixes are 1 or 2 bytes".into()),
        witness => cosigning::cost(witness),
    }
}

/// Computes the answer to a sync request from the ledger (blocking reads).
pub(super) fn answer(ledger: &Ledger, request: SyncRequest) -> SyncResponse {
    let refused = |e: crate::ledger::LedgerError| super::refused_internal(&e);
    match request {
        SyncRequest::Range {
            feed,
            from_seq,
            limit,
        } => match ledger.feed_entries(&FeedId(feed), from_seq, limit.min(MAX_RANGE) as usize) {
            Ok(entries) => SyncResponse::Entries(entries.iter().map(|(_, e)| wire(e)).collect()),
            Err(e) => refused(e),
        },
        SyncRequest::Entries { ids } if ids.len() <= MAX_IDS => SyncResponse::Entries(
            ids.iter()
                .filter_map(|id| ledger.entry(&EntryId(*id)).ok().flatten())
                .map(|(_, e)| wire(&e))
                .collect(),
        ),
        SyncRequest::Ranges { wants } if wants.len() <= MAX_IDS => {
            let mut out = Vec::new();
            for (feed, from_seq) in wants {
                let budget = MAX_RANGE as usize - out.len();
                if budget == 0 {
                    break;
                }
                match ledger.feed_entries(&FeedId(feed), from_seq, budget) {
                    Ok(entries) => out.extend(entries.iter().map(|(_, e)| wire(e))),
                    Err(e) => return refused(e),
                }
            }
            SyncResponse::Entries(out)
        }
        SyncRequest::Proofs { feeds } if feeds.len() <= MAX_IDS => {
            let mut out = Vec::new();
            for feed in feeds {
                match ledger.proofs(&FeedId(feed)) {
                    Ok(proofs) => out.extend(proofs.into_iter().flatten().map(ByteBuf::from)),
                    Err(e) => return refused(e),
                }
                if out.len() >= MAX_RANGE as usize {
                    break;
                }
            }
            SyncResponse::Entries(out)
        }
        SyncRequest::Entries { .. } | SyncRequest::Ranges { .. } | SyncRequest::Proofs { .. } => {
            SyncResponse::Refused(format!("at most {MAX_IDS} ids or feeds per request"))
        }
        SyncRequest::Digests { prefix } if prefix.len() <= 1 => {
            match ledger.head_digests(&prefix) {
                Ok(d) => SyncResponse::Digests(protocol::digests_to_wire(&d)),
                Err(e) => refused(e),
            }
        }
        SyncRequest::Digests { .. } => {
            SyncResponse::Refused("digest prefixes are 0 or 1 bytes".into())
        }
        SyncRequest::Heads { prefix, after } if (1..=2).contains(&prefix.len()) => {
            match ledger.heads_with_prefix(&prefix, after.as_ref(), protocol::MAX_HEADS) {
                Ok(h) => SyncResponse::Heads(protocol::heads_to_wire(&h)),
                Err(e) => refused(e),
            }
        }
        SyncRequest::Heads { .. } => SyncResponse::Refused("head prefixes are 1 or 2 bytes".into()),
        _ => SyncResponse::Refused("not a pull request".into()),
    }
}

/// The request for heads under `prefix` after feed `after`, and what its answer is for.
fn heads_page(prefix: Vec<u8>, after: Option<[u8; 32]>) -> (SyncRequest, Purpose) {
    (
        SyncRequest::Heads {
            prefix: prefix.clone(),
            after,
        },
        Purpose::Heads { prefix, after },
    )
}

/// Whether `heads` can be the answer to `Heads { prefix, after }`: under the prefix, strictly
/// ascending, after `after` (so paging always moves forward).
fn is_page(prefix: &[u8], after: Option<&[u8; 32]>, heads: &[crate::ledger::FeedHead]) -> bool {
    let mut last = after;
    for (feed, ..) in heads {
        if !feed.starts_with(prefix) || last.is_some_and(|l| feed <= l) {
            return false;
        }
        last = Some(feed);
    }
    true
}

/// After a full page of heads, the request for the next one (feeds that share a prefix can be
/// ground cheaply: a page limit alone would hide every feed past it from repair).
pub(super) fn next_heads_page(
    prefix: &[u8],
    heads: &[crate::ledger::FeedHead],
) -> Option<(SyncRequest, Purpose)> {
    if heads.len() < protocol::MAX_HEADS {
        return None;
    }
    let (last, ..) = heads.last()?;
    Some(heads_page(prefix.to_vec(), Some(*last)))
}

/// What to ask after comparing the peer's child digests under `prefix` (`theirs`) with ours:
/// nothing where they agree; under the top level, a bucket's digests where we hold some of it
/// and its heads where we hold none; under a bucket, its sub-buckets' heads, or the whole
/// bucket's heads (paged) when more than [`WHOLE_BUCKET_AT`] differ. A zero digest from the
/// peer is compared like any other, not taken for an empty bucket: digests are XORs, and feeds
/// ground into a victim's bucket could bring its digest to zero and hide the victim's head
/// (a revocation a node missed) from repair.
fn descend(
    prefix: &[u8],
    theirs: &[[u8; protocol::DIGEST_BYTES]],
    ours: &[[u8; protocol::DIGEST_BYTES]],
) -> Vec<(SyncRequest, Purpose)> {
    const ZERO: [u8; protocol::DIGEST_BYTES] = [0; protocol::DIGEST_BYTES];
    let differing: Vec<(u8, bool)> = theirs
        .iter()
        .zip(ours)
        .enumerate()
        .filter(|(_, (t, o))| t != o)
        .map(|(i, (_, o))| (i as u8, *o == ZERO))
        .collect();
    match prefix.first() {
        Some(first) if differing.len() > WHOLE_BUCKET_AT => vec![heads_page(vec![*first], None)],
        Some(first) => differing
            .iter()
            .map(|(byte, _)| heads_page(vec![*first, *byte], None))
            .collect(),
        None => differing
            .iter()
            .map(|&(byte, ours_empty)| match ours_empty {
                // A whole top-level bucket we lack: all its heads (page by page).
                true => heads_page(vec![byte], None),
                false => (
                    SyncRequest::Digests { prefix: vec![byte] },
                    Purpose::Digests(vec![byte]),
                ),
            })
            .collect(),
    }
}

/// An entry as a sync response carries it.
fn wire(entry: &Entry) -> ByteBuf {
    ByteBuf::from(entry.encode())
}

/// Whether a response's entries come from more than one feed (a cut batch of ranges).
pub(super) fn entries_span_feeds(raw: &[ByteBuf]) -> bool {
    let feed = |b: Option<&ByteBuf>| b.and_then(|b| Entry::decode(b).ok()).map(|e| e.feed);
    raw.len() > 1 && feed(raw.first()) != feed(raw.last())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A node catching up asks for a bucket's heads whole once many of its sub-buckets differ
    /// (one paged request instead of one per sub-bucket); few differing sub-buckets are asked
    /// for one by one, and agreeing or empty ones not at all.
    #[test]
    fn a_bucket_with_many_differences_is_asked_for_whole() {
        let digest = |b: u8| [b; protocol::DIGEST_BYTES];
        let zero = [0; protocol::DIGEST_BYTES];
        let ours = vec![digest(1); 256];
        let mut theirs = ours.clone();
        for slot in theirs.iter_mut().take(3) {
            *slot = digest(2);
        }
        // A zero digest against our non-zero one differs like any other (it may be ground).
        theirs[10] = zero;
        let prefixes = |asked: Vec<(SyncRequest, Purpose)>| -> Vec<Vec<u8>> {
            asked
                .into_iter()
                .map(|(request, _)| match request {
                    SyncRequest::Heads {
                        prefix,
                        after: None,
                    } => prefix,
                    other => panic!("a heads page, not {other:?}"),
                })
                .collect()
        };
        assert_eq!(
            prefixes(descend(&[7], &theirs, &ours)),
            vec![vec![7, 0], vec![7, 1], vec![7, 2], vec![7, 10]]
        );
        // Equal digests, zero or not, ask for nothing.
        assert!(descend(&[7], &ours, &ours).is_empty());
        assert!(descend(&[7], &[zero; 256], &[zero; 256]).is_empty());
        // Exactly the threshold: still one by one; one more: the whole bucket.
        let mut at = ours.clone();
        for slot in at.iter_mut().take(WHOLE_BUCKET_AT) {
            *slot = digest(2);
        }
        assert_eq!(descend(&[7], &at, &ours).len(), WHOLE_BUCKET_AT);
        for slot in theirs.iter_mut().take(WHOLE_BUCKET_AT + 1) {
            *slot = digest(2);
        }
        assert_eq!(prefixes(descend(&[7], &theirs, &ours)), vec![vec![7]]);
        // At the top level: a bucket we lack is asked for whole, one we hold some of descended.
        let mut ours_top = ours.clone();
        ours_top[0] = zero;
        let asked = descend(&[], &theirs, &ours_top);
        assert!(matches!(&asked[0].0, SyncRequest::Heads { prefix, .. } if prefix == &vec![0]));
        assert!(matches!(&asked[1].0, SyncRequest::Digests { prefix } if prefix == &vec![1]));
        assert_eq!(asked.len(), WHOLE_BUCKET_AT + 1);
        assert!(matches!(&asked[10].0, SyncRequest::Digests { prefix } if prefix == &vec![10]));
    }

    /// With every turn taken, one more answer waits (holding no thread) until a turn is free,
    /// and an answer no longer awaited by the time its turn comes is dropped.
    #[tokio::test(start_paused = true)]
    async fn answers_wait_for_a_turn_and_requests_given_up_are_dropped() {
        let turns = Semaphore::new(2);
        let first = turn(&turns, || true).await.expect("a turn");
        let second = turn(&turns, || true).await.expect("a turn");
        let waiting = turn(&turns, || true);
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(Duration::from_secs(60), &mut waiting)
                .await
                .is_err(),
            "a third waits for a turn"
        );
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(60), &mut waiting)
            .await
            .expect("a turn came free")
            .expect("still wanted");
        drop(second);
        assert!(
            turn(&turns, || false).await.is_none(),
            "given up meanwhile: not answered"
        );
        assert_eq!(turns.available_permits(), 1, "its turn went back");
        drop(third);
    }

    fn head(first: u8, rest: u8) -> crate::ledger::FeedHead {
        let mut feed = [rest; 32];
        feed[0] = first;
        (feed, 0, [0; 32], false)
    }

    #[test]
    fn a_page_of_heads_is_under_its_prefix_ascending_and_after_what_was_asked() {
        let page = [head(7, 1), head(7, 2), head(7, 3)];
        assert!(is_page(&[7], None, &page));
        assert!(is_page(&[7], Some(&[7; 32].map(|_| 0)), &page));
        assert!(!is_page(&[8], None, &page), "outside the prefix");
        assert!(!is_page(&[7], Some(&page[1].0), &page), "not after `after`");
        let repeated = [head(7, 1), head(7, 1)];
        assert!(!is_page(&[7], None, &repeated), "not strictly ascending");
        assert!(is_page(&[7], None, &[]));
    }

    #[test]
    fn a_full_page_asks_for_the_next_after_its_last_feed() {
        let full: Vec<_> = (0..protocol::MAX_HEADS)
            .map(|i| {
                let mut feed = [0u8; 32];
                feed[0] = 7;
                feed[30..].copy_from_slice(&(i as u16).to_be_bytes());
                (feed, 0, [0; 32], false)
            })
            .collect();
        let Some((SyncRequest::Heads { prefix, after }, Purpose::Heads { .. })) =
            next_heads_page(&[7], &full)
        else {
            panic!("a full page asks for the next");
        };
        assert_eq!(prefix, vec![7]);
        assert_eq!(after, full.last().map(|h| h.0));
        assert!(next_heads_page(&[7], &full[..10]).is_none());
    }
}
