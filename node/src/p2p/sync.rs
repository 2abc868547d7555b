//! Answering peers' pull requests, and anti-entropy: two nodes compare XOR digests of their
//! feed heads in 256 buckets by the feed id's first byte, then 256 sub-buckets by its second,
//! and exchange heads only where digests differ; each pulls the feeds where the other is ahead.
//! Two nodes that differ in a few feeds exchange a few 4 KiB digest lists, not every head.

use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId};
use libp2p::PeerId;
use libp2p::request_response::ResponseChannel;
use serde_bytes::ByteBuf;

use super::discipline::Offence;
use super::protocol::{self, MAX_IDS, MAX_RANGE, SyncRequest, SyncResponse};
use super::task::Task;
use super::{Command, Purpose, witnessing};
use crate::ledger::Ledger;

impl Task {
    /// Answers a pull request from what this node holds, computed off the swarm loop.
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
            let (response, fork) = tokio::task::spawn_blocking(move || match request {
                SyncRequest::Checkpoint { .. }
                | SyncRequest::Cosign { .. }
                | SyncRequest::Fork { .. } => witnessing::answer(&ledger, &log, peer, request),
                request => (answer(&ledger, request), None),
            })
            .await
            .unwrap_or_else(|e| (SyncResponse::Refused(e.to_string()), None));
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
    /// nothing at all, ask for the whole bucket's heads at once.
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
            for (i, (t, o)) in theirs.iter().zip(&ours).enumerate() {
                if t == o || *t == ZERO {
                    continue;
                }
                let byte = i as u8;
                let (request, purpose) = match (prefix.first(), *o == ZERO) {
                    // A whole top-level bucket we lack: all its heads at once.
                    (None, true) => (SyncRequest::Heads { prefix: vec![byte] }, Purpose::Heads),
                    (None, false) => (
                        SyncRequest::Digests { prefix: vec![byte] },
                        Purpose::Digests(vec![byte]),
                    ),
                    (Some(first), _) => (
                        SyncRequest::Heads {
                            prefix: vec![*first, byte],
                        },
                        Purpose::Heads,
                    ),
                };
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
    /// entry at our head's seq: that pull reveals an equivocation).
    pub(super) fn compare_heads(&mut self, peer: PeerId, response: SyncResponse) {
        let heads = match response {
            SyncResponse::Heads(h) => match protocol::heads_from_wire(&h) {
                Some(h) => h,
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
        let ledger = self.ledger.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let mut wants = Vec::new();
            let mut proofs = Vec::new();
            for (feed, seq, head, frozen) in heads {
                let ours = ledger.head(&FeedId(feed)).ok().flatten();
                // A feed the peer froze and we did not: fetch the proof (and the feed, if behind).
                if frozen && !ours.as_ref().is_some_and(|s| s.frozen) {
                    proofs.push(feed);
                }
                match ours {
                    None => wants.push((feed, 0)),
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
        SyncRequest::Heads { prefix } if (1..=2).contains(&prefix.len()) => Ok(2.0),
        SyncRequest::Heads { .. } => Err("head prefixes are 1 or 2 bytes".into()),
        witness => witnessing::cost(witness),
    }
}

/// Computes the answer to a sync request from the ledger (blocking reads).
pub(super) fn answer(ledger: &Ledger, request: SyncRequest) -> SyncResponse {
    let refused = |e: crate::ledger::LedgerError| SyncResponse::Refused(e.to_string());
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
        SyncRequest::Heads { prefix } if (1..=2).contains(&prefix.len()) => {
            match ledger.heads_with_prefix(&prefix) {
                Ok(mut h) => {
                    h.truncate(protocol::MAX_HEADS);
                    SyncResponse::Heads(protocol::heads_to_wire(&h))
                }
                Err(e) => refused(e),
            }
        }
        SyncRequest::Heads { .. } => SyncResponse::Refused("head prefixes are 1 or 2 bytes".into()),
        _ => SyncResponse::Refused("not a pull request".into()),
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
