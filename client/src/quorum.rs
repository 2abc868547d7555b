//! Quorum reads: a collector asks several nodes, run by different operators, and acts on the
//! answer computed from the highest subject head any of them can prove. A node that withholds a
//! revocation answers from an older head and is outvoted; a node that invents a newer head
//! cannot prove it (heads are signed by the citizen: the SDK verifies the feed's chain with
//! `consent_proto::chain`). Fewer than `k` answers: deny.

use std::time::Duration;

use consent_proto::ids::{EntryId, FeedId};
use consent_proto::keys::SecretKey;
use consent_proto::pb;
use consent_proto::vocab::{DataCategory, Purpose};

use crate::collector::{Collector, CollectorError};
use crate::node::NodeClient;

/// One node of the quorum.
struct Member {
    session: Collector,
    reads: NodeClient,
}

/// A decision from a quorum, with how it came about (for the caller's log).
#[derive(Debug, Clone)]
pub struct QuorumAnswer {
    /// Allow or deny.
    pub decision: pb::Decision,
    /// The chosen node's answer (None when there was no quorum).
    pub response: Option<pb::CheckResponse>,
    /// Nodes that answered.
    pub answered: usize,
    /// Why this answer, in words.
    pub why: String,
}

/// Asks `k` of n nodes.
pub struct Quorum {
    members: Vec<Member>,
    k: usize,
    timeout: Duration,
}

impl Quorum {
    /// Sessions with every node in `urls`; needs at least `k` of them now.
    pub async fn connect(
        urls: &[String],
        key: SecretKey,
        me: FeedId,
        k: usize,
    ) -> Result<Self, CollectorError> {
        let mut members = Vec::new();
        let mut last_error = None;
        for url in urls {
            let session = Collector::connect(url, key.clone(), me).await;
            let reads = NodeClient::connect(url).await;
            match (session, reads) {
                (Ok(session), Ok(reads)) => members.push(Member { session, reads }),
                (Err(e), _) => last_error = Some(e),
                (_, Err(e)) => {
                    last_error = Some(CollectorError::Unreachable {
                        url: url.clone(),
                        message: e.to_string(),
                    })
                }
            }
        }
        if members.len() < k.max(1) {
            return Err(last_error.unwrap_or(CollectorError::Unreachable {
                url: urls.join(", "),
                message: format!("fewer than {k} nodes reachable"),
            }));
        }
        Ok(Self {
            members,
            k: k.max(1),
            timeout: Duration::from_secs(2),
        })
    }

    /// One check, decided from the highest provable subject head among at least `k` answers.
    pub async fn check(
        &mut self,
        subject: FeedId,
        purpose: Purpose,
        category: DataCategory,
    ) -> QuorumAnswer {
        let timeout = self.timeout;
        let asks = self.members.iter_mut().map(|m| async move {
            tokio::time::timeout(timeout, m.session.check(subject, purpose, category))
                .await
                .ok()
                .and_then(Result::ok)
        });
        let answers: Vec<(usize, pb::CheckResponse)> = futures::future::join_all(asks)
            .await
            .into_iter()
            .enumerate()
            .filter_map(|(i, a)| a.map(|a| (i, a)))
            .collect();
        let answered = answers.len();
        if answered < self.k {
            return QuorumAnswer {
                decision: pb::Decision::Deny,
                response: None,
                answered,
                why: format!("only {answered} of the {} required nodes answered", self.k),
            };
        }
        let mut candidates = answers;
        candidates.sort_by_key(|(_, a)| std::cmp::Reverse(a.subject_head_seq));
        let agreed = candidates
            .iter()
            .all(|(_, a)| a.subject_head == candidates[0].1.subject_head);
        for (i, answer) in &candidates {
            if agreed || self.proves(*i, subject, answer).await {
                let why = if agreed {
                    format!("{answered} nodes agree on the subject's head")
                } else {
                    format!(
                        "node {} proved the highest subject head (seq {})",
                        self.members[*i].session.url(),
                        answer.subject_head_seq
                    )
                };
                return QuorumAnswer {
                    decision: answer.decision(),
                    response: Some(answer.clone()),
                    answered,
                    why,
                };
            }
        }
        QuorumAnswer {
            decision: pb::Decision::Deny,
            response: None,
            answered,
            why: "no node could prove the subject head it answered from".into(),
        }
    }

    /// Whether member `i` can prove the subject head its answer names: the subject's feed up to
    /// that entry, verified from the inception.
    async fn proves(&mut self, i: usize, subject: FeedId, answer: &pb::CheckResponse) -> bool {
        if answer.subject_head.is_empty() {
            // No head at all (unknown subject): nothing to prove, and nothing higher.
            return true;
        }
        let Ok(claimed) = EntryId::from_slice(&answer.subject_head) else {
            return false;
        };
        let Ok(feed) = self.members[i].reads.feed(&subject).await else {
            return false;
        };
        let upto: Vec<_> = feed
            .into_iter()
            .take_while(|e| e.seq <= answer.subject_head_seq)
            .collect();
        matches!(
            consent_proto::chain::verify_chain(&subject, &upto),
            Ok((seq, id)) if seq == answer.subject_head_seq && id == claimed
        )
    }
}
