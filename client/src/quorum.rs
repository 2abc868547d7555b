//! Quorum reads: a collector asks several nodes, run by different operators, and acts on the
//! answer computed from the highest subject head any of them can prove. A node that withholds a
//! revocation answers from an older head and is outvoted; a node that invents a newer head
//! cannot prove it (heads are signed by the citizen: the SDK verifies the feed's chain with
//! `consent_proto::chain`). A higher head is set aside only when what its nodes serve refutes it;
//! when its proof cannot be had (the fetch fails or times out), the answer is a deny. Every node
//! that answers from the chosen head must give the same decision, so a lying node can force a
//! deny but cannot overrule the nodes that answer from its head. A node reporting the subject
//! frozen (a forked feed), or fewer than `k` answers: deny.
//! `choose` is the rule, without the network.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::keys::SecretKey;
use consent_proto::pb;
use consent_proto::scope::Context;
use consent_proto::vocab::{DataCategory, Purpose};

use crate::collector::{Collector, CollectorError};
use crate::node::{ClientError, NodeConnection};
use crate::transport::TlsOptions;

/// The quorum proves subject heads below this seq only: a head at or above it can be neither
/// confirmed nor refuted, so a dispute about such a head is a deny. It bounds what one proof
/// fetches and holds in memory (one `GetFeed` page; entries are at most 8 KiB each), whatever
/// seq a node names.
pub const MAX_PROOF_ENTRIES: u64 = consent_proto::limits::MAX_FEED_STREAM as u64;

/// One node of the quorum.
struct Member {
    session: Collector,
    reads: NodeConnection,
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
        Self::connect_with(urls, key, me, k, &TlsOptions::default()).await
    }

    /// [`Quorum::connect`] with these TLS settings, the same for every node (for `https://`
    /// URLs).
    pub async fn connect_with(
        urls: &[String],
        key: SecretKey,
        me: FeedId,
        k: usize,
        tls: &TlsOptions,
    ) -> Result<Self, CollectorError> {
        let mut members = Vec::new();
        let mut last_error = None;
        for url in urls {
            let session = Collector::connect_with(url, key.clone(), me, tls).await;
            let reads = NodeConnection::connect_with(url, tls).await;
            match (session, reads) {
                (Ok(session), Ok(reads)) => members.push(Member { session, reads }),
                (Err(e), _) => last_error = Some(e),
                (_, Err(ClientError::Connect(e))) => last_error = Some(CollectorError::Connect(e)),
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

    /// One check, decided from the highest provable subject head among at least `k` answers; the
    /// nodes answering from that head must agree (see `choose`). Each proof is bounded by the
    /// quorum's timeout (2 s); one that runs out neither confirms nor refutes its head.
    pub async fn check(
        &mut self,
        subject: FeedId,
        purpose: Purpose,
        category: DataCategory,
    ) -> QuorumAnswer {
        self.check_with(subject, purpose, category, &Context::NONE)
            .await
    }

    /// [`Quorum::check`] about an observation: every node is asked with the same `context`
    /// (sensor and its kind, cell, time, form), and the rule that picks the answer is the same.
    pub async fn check_with(
        &mut self,
        subject: FeedId,
        purpose: Purpose,
        category: DataCategory,
        context: &Context,
    ) -> QuorumAnswer {
        let timeout = self.timeout;
        let context = *context;
        let asks = self.members.iter_mut().map(|m| async move {
            let ask = m.session.check_with(subject, purpose, category, &context);
            tokio::time::timeout(timeout, ask)
                .await
                .ok()
                .and_then(Result::ok)
        });
        let results = futures::future::join_all(asks).await;
        let mut who = Vec::new();
        let mut answers = Vec::new();
        for (i, answer) in results.into_iter().enumerate() {
            if let Some(answer) = answer {
                who.push(i);
                answers.push((self.members[i].session.url().to_string(), answer));
            }
        }
        let mut proofs = BTreeMap::new();
        loop {
            match choose(&answers, self.k, &proofs) {
                Step::Done(answer) => return answer,
                Step::Prove(j) => {
                    let proof = within(timeout, self.proves(who[j], subject, &answers[j].1)).await;
                    if proofs.insert(j, proof).is_some() {
                        // `choose` asks for each proof once; were it to ask again, stop: deny.
                        return QuorumAnswer {
                            decision: pb::Decision::Deny,
                            response: None,
                            answered: answers.len(),
                            why: "the quorum asked for the same proof twice".into(),
                        };
                    }
                }
            }
        }
    }

    /// What member `i` shows of the subject head its answer names: the subject's feed up to that
    /// seq (never more, see [`NodeConnection::feed_upto`]), verified from the inception on a
    /// blocking thread. A fetch that fails proves nothing either way: [`Proof::Unknown`].
    async fn proves(&mut self, i: usize, subject: FeedId, answer: &pb::CheckResponse) -> Proof {
        let Some(Head::At(seq, claimed)) = Head::of(answer) else {
            // No head (unknown subject) or a malformed one: `choose` never asks.
            return Proof::Disproven;
        };
        if seq >= MAX_PROOF_ENTRIES {
            return Proof::Unknown;
        }
        let Ok(entries) = self.members[i].reads.feed_upto(&subject, seq).await else {
            return Proof::Unknown;
        };
        tokio::task::spawn_blocking(move || judge(&subject, seq, claimed, &entries))
            .await
            .unwrap_or(Proof::Unknown)
    }
}

/// What a proof of one answer's subject head established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proof {
    /// The node served the citizen-signed chain from the inception up to that head.
    Proven,
    /// What the node served refutes the head: the chain does not verify, ends below its seq, or
    /// holds another entry there. The node invented it.
    Disproven,
    /// No proof either way: the fetch failed or timed out, or the head is beyond
    /// [`MAX_PROOF_ENTRIES`]. The head may be real (a revocation the others do not hold yet).
    Unknown,
}

/// `proof`, or [`Proof::Unknown`] when it takes longer than `timeout`.
async fn within(timeout: Duration, proof: impl Future<Output = Proof>) -> Proof {
    tokio::time::timeout(timeout, proof)
        .await
        .unwrap_or(Proof::Unknown)
}

/// Whether `entries`, as a node served them (at most `seq + 1`), prove that `subject`'s feed has
/// the entry `claimed` at `seq`.
fn judge(subject: &FeedId, seq: u64, claimed: EntryId, entries: &[Entry]) -> Proof {
    match consent_proto::chain::verify_chain(subject, entries) {
        Ok((head, id)) if head == seq && id == claimed => Proof::Proven,
        _ => Proof::Disproven,
    }
}

/// A subject head as an answer names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Head {
    /// No head: the node does not know the subject.
    Unknown,
    /// The subject's entry `id`, at `seq`.
    At(u64, EntryId),
}

impl Head {
    /// The head `answer` names; `None` when the answer is malformed (a head that is not 32 bytes,
    /// or a seq without a head).
    fn of(answer: &pb::CheckResponse) -> Option<Head> {
        if answer.subject_head.is_empty() {
            return (answer.subject_head_seq == 0).then_some(Head::Unknown);
        }
        EntryId::from_slice(&answer.subject_head)
            .ok()
            .map(|id| Head::At(answer.subject_head_seq, id))
    }
}

impl std::fmt::Display for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Head::Unknown => f.write_str("head: none (unknown subject)"),
            Head::At(seq, _) => write!(f, "head at seq {seq}"),
        }
    }
}

/// What [`choose`] needs next (a short-lived value on the stack: its size does not matter).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Step {
    /// The quorum's answer.
    Done(QuorumAnswer),
    /// Whether the node of answer `j` proves the head that answer names.
    Prove(usize),
}

/// The quorum's rule, without the network. `answers` holds `(node, answer)`; `proofs[j]` says
/// what answer `j`'s node showed of the head it names (absent: not asked yet). Returns the
/// answer, or the one proof it needs first: the caller runs it, records it and calls again. It
/// asks for each proof at most once, and none when every answer names the same head.
///
/// - Answers with a malformed head do not count; fewer than `k` that do: deny.
/// - Any counted answer with reason SUBJECT_FROZEN (the citizen forked its feed and that node
///   froze it): deny, naming the nodes.
/// - The head decided from is the one every answer names, or else the highest one some node
///   proves. A higher head is passed over only when every node naming it was refuted
///   ([`Proof::Disproven`]); one that none proved and some could not be checked on
///   ([`Proof::Unknown`]), at or above the seq that would be chosen: deny. Two different heads
///   proven at that seq (the citizen forked its feed): deny.
/// - Every answer naming that head must give the same decision, and none may name its entry at
///   another seq; otherwise deny, naming the nodes. The decision never depends on the order of
///   the answers.
/// - No head (unknown subject, or nothing proven) is always a deny.
fn choose(
    answers: &[(String, pb::CheckResponse)],
    k: usize,
    proofs: &BTreeMap<usize, Proof>,
) -> Step {
    let answered = answers.len();
    let heads = match counted_heads(answers, k) {
        Ok(heads) => heads,
        Err(why) => return deny(answered, why),
    };
    match chosen_head(answers, &heads, proofs) {
        Ok((chosen, basis)) => answer_from(answers, &heads, chosen, basis),
        Err(Stop::Prove(j)) => Step::Prove(j),
        Err(Stop::Deny(why)) => deny(answered, why),
    }
}

/// Why [`chosen_head`] has no head yet.
enum Stop {
    /// The proof of answer `j` is needed first.
    Prove(usize),
    /// The quorum denies, for this reason.
    Deny(String),
}

/// A deny after `answered` answers, saying why.
fn deny(answered: usize, why: String) -> Step {
    Step::Done(QuorumAnswer {
        decision: pb::Decision::Deny,
        response: None,
        answered,
        why,
    })
}

/// The names of the nodes of answers `js`, comma-separated.
fn names(answers: &[(String, pb::CheckResponse)], js: &[usize]) -> String {
    js.iter()
        .map(|&j| answers[j].0.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The answers that count (a well-formed head), as `(answer j, its head)`; the reason to deny when
/// fewer than `k` count or a counted node reports the subject frozen.
fn counted_heads(
    answers: &[(String, pb::CheckResponse)],
    k: usize,
) -> Result<Vec<(usize, Head)>, String> {
    let answered = answers.len();
    let heads: Vec<(usize, Head)> = answers
        .iter()
        .enumerate()
        .filter_map(|(j, (_, a))| Head::of(a).map(|h| (j, h)))
        .collect();
    if heads.len() < k.max(1) {
        let malformed = answered - heads.len();
        let also = if malformed > 0 {
            format!(" ({malformed} more with a malformed head)")
        } else {
            String::new()
        };
        return Err(format!(
            "only {} of the {k} required nodes answered{also}",
            heads.len()
        ));
    }
    let frozen: Vec<usize> = heads
        .iter()
        .map(|(j, _)| *j)
        .filter(|&j| answers[j].1.reason() == pb::Reason::SubjectFrozen)
        .collect();
    if !frozen.is_empty() {
        return Err(format!(
            "the subject's feed is frozen after a fork, says {}",
            names(answers, &frozen)
        ));
    }
    Ok(heads)
}

/// The head to decide from (one or more counted `heads`), with the basis in words: the head every
/// answer names, or else the highest one proven.
fn chosen_head(
    answers: &[(String, pb::CheckResponse)],
    heads: &[(usize, Head)],
    proofs: &BTreeMap<usize, Proof>,
) -> Result<(Head, String), Stop> {
    let answered = answers.len();
    let first = heads[0].1;
    if heads.len() == answered && heads.iter().all(|(_, h)| *h == first) {
        return Ok((
            first,
            format!("{answered} nodes agree on the subject's {first}"),
        ));
    }
    match highest_proven(heads, proofs) {
        Proven::Ask(j) => Err(Stop::Prove(j)),
        Proven::Head(head, j) => Ok((
            head,
            format!("node {} proved the highest subject {head}", answers[j].0),
        )),
        Proven::Fork(seq, a, b) => Err(Stop::Deny(format!(
            "the subject's feed forks at seq {seq}: nodes {} and {} each proved a \
             different head",
            answers[a].0, answers[b].0
        ))),
        Proven::Unsettled(seq, j) => Err(Stop::Deny(format!(
            "could not confirm or refute node {}'s head at seq {seq} (its proof failed or \
             timed out)",
            answers[j].0
        ))),
        Proven::Nothing => Ok((Head::Unknown, "no node proved a subject head".to_string())),
    }
}

/// The quorum's answer from the `chosen` head: every answer naming it must give the same decision,
/// none may name its entry at another seq, and no head is never an allow.
fn answer_from(
    answers: &[(String, pb::CheckResponse)],
    heads: &[(usize, Head)],
    chosen: Head,
    basis: String,
) -> Step {
    let answered = answers.len();
    if let Head::At(seq, id) = chosen {
        let elsewhere = heads.iter().find_map(|(j, h)| match h {
            Head::At(other, named) if *named == id && *other != seq => Some((*j, *other)),
            _ => None,
        });
        if let Some((j, other)) = elsewhere {
            return deny(
                answered,
                format!(
                    "{basis}, but node {} names that entry at seq {other}",
                    answers[j].0
                ),
            );
        }
    }
    let at: Vec<usize> = heads
        .iter()
        .filter(|(_, h)| *h == chosen)
        .map(|(j, _)| *j)
        .collect();
    let Some(&chosen_answer) = at.first() else {
        return deny(
            answered,
            "no node could prove the subject head it answered from".into(),
        );
    };
    let (allowing, denying): (Vec<usize>, Vec<usize>) = at
        .iter()
        .copied()
        .partition(|&j| answers[j].1.decision() == pb::Decision::Allow);
    if !allowing.is_empty() && !denying.is_empty() {
        return deny(
            answered,
            format!(
                "the nodes disagree at the subject's {chosen}: ALLOW from {}; DENY from {}",
                names(answers, &allowing),
                names(answers, &denying)
            ),
        );
    }
    if chosen == Head::Unknown && !allowing.is_empty() {
        return deny(
            answered,
            format!("{basis}, yet {} answered ALLOW", names(answers, &allowing)),
        );
    }
    Step::Done(QuorumAnswer {
        decision: if allowing.is_empty() {
            pb::Decision::Deny
        } else {
            pb::Decision::Allow
        },
        response: Some(answers[chosen_answer].1.clone()),
        answered,
        why: basis,
    })
}

/// Where the search for the highest proven head ended.
enum Proven {
    /// The proof of answer `j` is needed first.
    Ask(usize),
    /// This head, proven by the node of answer `j`.
    Head(Head, usize),
    /// Two different heads at this seq, proven by the nodes of answers `a` and `b`.
    Fork(u64, usize, usize),
    /// A head at this seq that no node proved, and that the node of answer `j` could not be
    /// checked on: it may be real, so nothing lower may be chosen.
    Unsettled(u64, usize),
    /// No head named is proven.
    Nothing,
}

/// Walks the heads named in `heads` from the highest seq down and stops at the first seq where
/// one is proven, once every head named at that seq is settled (proven by one of the nodes that
/// name it, or refuted by all of them). A head at that seq or above that is neither (every node
/// naming it tried, none proved it, some could not be checked on) stops the walk: `Unsettled`.
fn highest_proven(heads: &[(usize, Head)], proofs: &BTreeMap<usize, Proof>) -> Proven {
    let mut named: Vec<(u64, EntryId)> = heads
        .iter()
        .filter_map(|(_, h)| match h {
            Head::At(seq, id) => Some((*seq, *id)),
            Head::Unknown => None,
        })
        .collect();
    named.sort_unstable();
    named.dedup();
    named.reverse();
    let mut next = 0;
    while next < named.len() {
        let seq = named[next].0;
        let ids: Vec<EntryId> = named[next..]
            .iter()
            .take_while(|(s, _)| *s == seq)
            .map(|(_, id)| *id)
            .collect();
        next += ids.len();
        let mut proven: Vec<(EntryId, usize)> = Vec::new();
        let mut unsettled = None;
        for id in ids {
            let mut by = None;
            let mut unasked = None;
            let mut unknown = None;
            for (j, _) in heads.iter().filter(|(_, h)| *h == Head::At(seq, id)) {
                match proofs.get(j) {
                    Some(Proof::Proven) => {
                        by = Some(*j);
                        break;
                    }
                    Some(Proof::Disproven) => {}
                    Some(Proof::Unknown) => {
                        if unknown.is_none() {
                            unknown = Some(*j);
                        }
                    }
                    None => {
                        if unasked.is_none() {
                            unasked = Some(*j);
                        }
                    }
                }
            }
            match (by, unasked, unknown) {
                (Some(j), _, _) => proven.push((id, j)),
                (None, Some(j), _) => return Proven::Ask(j),
                (None, None, Some(j)) => {
                    if unsettled.is_none() {
                        unsettled = Some(j);
                    }
                }
                (None, None, None) => {}
            }
        }
        match (proven.as_slice(), unsettled) {
            ([(_, a), (_, b), ..], _) => return Proven::Fork(seq, *a, *b),
            (_, Some(j)) => return Proven::Unsettled(seq, j),
            ([(id, j)], None) => return Proven::Head(Head::At(seq, *id), *j),
            ([], None) => {}
        }
    }
    Proven::Nothing
}

#[cfg(test)]
mod tests;
