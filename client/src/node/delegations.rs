//! Delegations as a node lists them (the Ledger service's public `ListDelegations` and
//! `ListDelegated`): the delegations a person gave or a delegate holds, each with the end an
//! undelegation set, and every entry delegates signed in a person's name.

use std::collections::HashSet;

use consent_proto::Entry;
use consent_proto::body::{Body, Delegation};
use consent_proto::delegation::DelegationState;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::limits::MAX_FEED_STREAM;
use consent_proto::pb;
use prost::bytes::Bytes;
use tonic::Code;

use super::{ClientError, NodeConnection, within};

/// A Delegation entry as a node holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegationRecord {
    /// The Delegation entry.
    pub id: EntryId,
    /// The person: the feed it is in.
    pub person: FeedId,
    /// Its seq there (a guardian's is 1 or 2).
    pub seq: u64,
    /// When it was signed, Unix ms: it is in force from then.
    pub time_ms: u64,
    /// Its index in the node's arrival log.
    pub index: u64,
    /// What it delegates.
    pub delegation: Delegation,
    /// The earliest `void_from` of the undelegations the node holds (`None`: not ended early).
    pub ended_from: Option<u64>,
    /// Those undelegations.
    pub undelegations: Vec<EntryId>,
}

impl DelegationRecord {
    /// The delegation as the decision rule reads it (consent-proto's own constructor).
    pub fn state(&self) -> DelegationState {
        let mut state = DelegationState::of(self.id, self.person, self.time_ms, &self.delegation);
        // The listing gives the earliest void_from only, not the undelegations' signed times:
        // withdrawals are judged by the same bound, which can only make the wallet warn about a
        // withdrawal that in fact counts, never the reverse.
        if let Some(end) = self.ended_from {
            state.undelegated(end, end);
        }
        state
    }

    /// When what its delegate signs stops counting: `valid_until` or the undelegation's bound,
    /// whichever is first (`None`: neither).
    pub fn end_ms(&self) -> Option<u64> {
        match (self.delegation.valid_until, self.ended_from) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether what its delegate signs at `at_ms` counts.
    pub fn counts_at(&self, at_ms: u64) -> bool {
        self.state().counts(at_ms)
    }
}

/// An entry a delegate signed in a person's name, with its arrival index on the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegated {
    /// Its index in the node's arrival log.
    pub index: u64,
    /// The entry (in the delegate's feed).
    pub entry: Entry,
}

fn record(info: pb::DelegationInfo) -> Option<DelegationRecord> {
    let item = info.entry?;
    let entry = Entry::from_signed(item.entry.as_ref()?).ok()?;
    let Body::Delegation(delegation) = entry.body.clone() else {
        return None;
    };
    let undelegations = info
        .undelegations
        .iter()
        .filter_map(|u| EntryId::from_slice(u).ok())
        .collect();
    Some(DelegationRecord {
        id: entry.id,
        person: entry.feed,
        seq: entry.seq,
        time_ms: entry.time_ms,
        index: item.index,
        delegation,
        ended_from: (info.end_ms != 0).then_some(info.end_ms),
        undelegations,
    })
}

/// What an older node that does not serve delegations says (it predates `/sync/5`).
fn unserved(url: &str, what: &str) -> ClientError {
    ClientError::Refused {
        what: what.to_string(),
        code: Code::Unimplemented,
        message: format!(
            "the node at {url} does not list delegations (it predates delegation): upgrade it, \
             or use another node"
        ),
        reason: pb::RejectionReason::Unspecified,
    }
}

impl NodeConnection {
    /// The delegations `feed` gave (a person feed) or that name it as delegate (a delegate
    /// feed), oldest first; empty for a feed the node knows nothing of.
    pub async fn list_delegations(
        &mut self,
        feed: &FeedId,
    ) -> Result<Vec<DelegationRecord>, ClientError> {
        let request = pb::ListDelegationsRequest {
            feed: Bytes::copy_from_slice(&feed.0),
        };
        let answer = within(self.call_timeout, self.ledger.list_delegations(request)).await;
        match answer {
            None => Err(self.stalled("the delegations")),
            Some(Ok(r)) => Ok(r
                .into_inner()
                .delegations
                .into_iter()
                .filter_map(record)
                .collect()),
            Some(Err(s)) if s.code() == Code::NotFound => Ok(Vec::new()),
            Some(Err(s)) if s.code() == Code::Unimplemented => {
                Err(unserved(&self.url, "delegations"))
            }
            Some(Err(s)) => Err(self.refused("the delegations", s).await),
        }
    }

    /// The arrival index on this node of the entry at `seq` of `feed` (`None`: not held).
    pub async fn arrival_index(
        &mut self,
        feed: &FeedId,
        seq: u64,
    ) -> Result<Option<u64>, ClientError> {
        let request = pb::GetFeedRequest {
            feed: Bytes::copy_from_slice(&feed.0),
            from_seq: seq,
            limit: 1,
        };
        let answer = within(self.call_timeout, self.ledger.get_feed(request)).await;
        let mut stream = match answer {
            None => return Err(self.stalled("the feed")),
            Some(Ok(r)) => r.into_inner(),
            Some(Err(s)) if s.code() == Code::NotFound => return Ok(None),
            Some(Err(s)) => return Err(self.refused("the feed", s).await),
        };
        let next = within(self.call_timeout, stream.message()).await;
        match next {
            None => Err(self.stalled("the feed")),
            Some(Ok(Some(item))) if item.seq == seq => Ok(Some(item.index)),
            Some(Ok(_)) => Ok(None),
            Some(Err(s)) => Err(self.refused("the feed", s).await),
        }
    }

    /// Every entry delegates signed naming `person` (grants, revocations, requests,
    /// endorsements, delegates' undelegations), in the node's arrival order, all pages.
    pub async fn list_delegated(&mut self, person: &FeedId) -> Result<Vec<Delegated>, ClientError> {
        let mut out: Vec<Delegated> = Vec::new();
        let mut seen: HashSet<EntryId> = HashSet::new();
        let mut after = 0u64;
        loop {
            let request = pb::ListDelegatedRequest {
                person: Bytes::copy_from_slice(&person.0),
                after,
                limit: MAX_FEED_STREAM,
            };
            let answer = within(self.call_timeout, self.ledger.list_delegated(request)).await;
            let mut stream = match answer {
                None => return Err(self.stalled("the delegated entries")),
                Some(Ok(r)) => r.into_inner(),
                Some(Err(s)) if s.code() == Code::NotFound => return Ok(out),
                Some(Err(s)) if s.code() == Code::Unimplemented => {
                    return Err(unserved(&self.url, "the delegated entries"));
                }
                Some(Err(s)) => return Err(self.refused("the delegated entries", s).await),
            };
            let (mut got, mut fresh) = (0u32, 0u32);
            loop {
                let next = within(self.call_timeout, stream.message()).await;
                match next {
                    None => return Err(self.stalled("the delegated entries")),
                    Some(Ok(Some(item))) => {
                        got += 1;
                        after = after.max(item.index);
                        let Some(entry) = item.entry.and_then(|s| Entry::from_signed(&s).ok())
                        else {
                            continue;
                        };
                        if seen.insert(entry.id) {
                            fresh += 1;
                            out.push(Delegated {
                                index: item.index,
                                entry,
                            });
                        }
                    }
                    Some(Ok(None)) => break,
                    Some(Err(s)) => return Err(self.refused("the delegated entries", s).await),
                }
            }
            // A short page is the last; a page with nothing new ends it too (whether the node
            // reads `after` as inclusive or not).
            if got < MAX_FEED_STREAM || fresh == 0 {
                return Ok(out);
            }
        }
    }
}
