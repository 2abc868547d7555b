//! Whom the witness observes and keeps evidence about, and the bounds of what it keeps.

use std::collections::HashSet;

use consent_proto::fixtures;
use consent_proto::keys::SecretKey;
use consent_proto::note::{Checkpoint, NODE_PREFIX, SignedNote};

use super::*;
use crate::ledger::WriterThread;

/// A checkpoint `key` signs for `size` with a root made of `root`.
fn note(key: &SecretKey, size: u64, root: u8) -> SignedNote {
    SignedNote::sign(
        Checkpoint {
            origin: key.public().to_text(NODE_PREFIX),
            size,
            root: [root; 32],
            time_ms: 1_795_959_010_768,
        },
        key,
    )
}

/// Two checkpoints `key` signs for one size with different roots: a fork anyone can make of
/// their own key.
fn fork_of(key: &SecretKey) -> (String, String) {
    (note(key, 1, 1).to_text(), note(key, 1, 2).to_text())
}

/// The `i`-th of many keys.
fn nth_key(i: usize) -> SecretKey {
    fixtures::key(&format!("flood-{i}"))
}

/// A ledger on a memory store for the witness to keep its state in.
fn memory_ledger() -> (Ledger, WriterThread) {
    crate::ledger::in_memory(HashSet::new())()
}

fn open(ledger: &Ledger, members: Members) -> Witness {
    Witness::open(ledger.clone(), fixtures::key("witness"), members).expect("open")
}

/// Checkpoints kept as cosigned in the store.
fn stored_cosigned(ledger: &Ledger) -> usize {
    ledger.load_witnessed().expect("load").len()
}

/// Fork proofs kept in the store.
fn stored_forks(ledger: &Ledger) -> usize {
    ledger.load_forks().expect("load").len()
}

async fn close(ledger: Ledger, writer: WriterThread) {
    ledger.shutdown().await;
    drop(ledger);
    writer.join();
}

#[tokio::test]
async fn with_a_member_list_only_members_are_witnessed_and_only_their_forks_kept() {
    let (ledger, writer) = memory_ledger();
    let member = fixtures::key("member");
    let stranger = fixtures::key("stranger");
    let witness = open(&ledger, Members::listed([member.public()], false));

    // A stranger's checkpoint is not observed, nor cosigned.
    let seen = witness
        .observe(&note(&stranger, 1, 1).to_text(), 0, &[])
        .await
        .expect("observe");
    assert_eq!(seen, Seen::NotWitnessed);
    assert!(witness.cosigned().is_empty());

    // Evidence about a stranger is refused, and nothing is written.
    let (first, second) = fork_of(&stranger);
    assert!(prove_fork(&first, &second).is_some(), "a valid fork");
    assert_eq!(
        witness.evidence(&first, &second).await.expect("evidence"),
        Evidence::Refused("not about a member of the network")
    );
    assert!(witness.forks().is_empty());
    assert_eq!(stored_forks(&ledger), 0);

    // A member's is kept (even before this node witnessed it), once.
    let seen = witness
        .observe(&note(&member, 1, 1).to_text(), 0, &[])
        .await
        .expect("observe");
    assert!(matches!(seen, Seen::Cosigned(_)));
    let (first, second) = fork_of(&member);
    assert!(matches!(
        witness.evidence(&first, &second).await.expect("evidence"),
        Evidence::New(_)
    ));
    assert_eq!(
        witness.evidence(&first, &second).await.expect("evidence"),
        Evidence::Known
    );
    assert_eq!(witness.forks().len(), 1);
    assert_eq!(stored_forks(&ledger), 1);
    drop(witness);
    close(ledger, writer).await;
}

#[tokio::test]
async fn without_a_list_evidence_is_kept_only_about_nodes_witnessed() {
    let (ledger, writer) = memory_ledger();
    let witness = open(&ledger, Members::unlisted());
    let peer = fixtures::key("peer");
    let (first, second) = fork_of(&peer);
    assert_eq!(
        witness.evidence(&first, &second).await.expect("evidence"),
        Evidence::Refused("not about a node this node witnessed")
    );
    assert_eq!(stored_forks(&ledger), 0);
    let seen = witness
        .observe(&note(&peer, 1, 1).to_text(), 0, &[])
        .await
        .expect("observe");
    assert!(matches!(seen, Seen::Cosigned(_)));
    assert!(matches!(
        witness.evidence(&first, &second).await.expect("evidence"),
        Evidence::New(_)
    ));
    drop(witness);
    close(ledger, writer).await;
}

#[tokio::test]
async fn a_flood_of_forged_forks_leaves_the_stores_bounded() {
    const FLOOD: usize = 10_000;
    // Without a list the witness observes anyone: each forger is witnessed, then forks.
    let (ledger, writer) = memory_ledger();
    let witness = open(&ledger, Members::unlisted());
    let mut kept = 0;
    for i in 0..FLOOD {
        let key = nth_key(i);
        let (first, second) = fork_of(&key);
        let seen = witness.observe(&first, 0, &[]).await.expect("observe");
        assert!(matches!(seen, Seen::Cosigned(_)));
        if let Evidence::New(_) = witness.evidence(&first, &second).await.expect("evidence") {
            kept += 1;
        }
    }
    assert_eq!(
        kept, MAX_FORKS,
        "the first forks are kept, the rest refused"
    );
    assert_eq!(witness.cosigned().len(), MAX_OTHERS_WITNESSED);
    assert_eq!(witness.forks().len(), MAX_FORKS);
    assert_eq!(stored_cosigned(&ledger), MAX_OTHERS_WITNESSED);
    assert_eq!(stored_forks(&ledger), MAX_FORKS);
    // The origins observed most recently are the ones kept.
    let last = nth_key(FLOOD - 1).public().to_text(NODE_PREFIX);
    assert!(witness.since(&last) == 1);
    assert_eq!(witness.since(&nth_key(0).public().to_text(NODE_PREFIX)), 0);

    // Reopened with a member list: a member's fork still gets in, evicting a non-member's.
    let member = fixtures::key("member");
    let witness = open(&ledger, Members::listed([member.public()], false));
    assert!(
        witness.cosigned().is_empty(),
        "non-members are not witnessed"
    );
    assert_eq!(witness.forks().len(), MAX_FORKS);
    let (first, second) = fork_of(&member);
    assert!(matches!(
        witness.evidence(&first, &second).await.expect("evidence"),
        Evidence::New(_)
    ));
    let forks = witness.forks();
    assert_eq!(forks.len(), MAX_FORKS);
    assert_eq!(forks[0].origin, member.public().to_text(NODE_PREFIX));
    assert_eq!(stored_forks(&ledger), MAX_FORKS);

    // With the list, a flood from keys outside it is refused whole, and nothing is written.
    for i in FLOOD..2 * FLOOD {
        let (first, second) = fork_of(&nth_key(i));
        assert!(matches!(
            witness.evidence(&first, &second).await.expect("evidence"),
            Evidence::Refused(_)
        ));
    }
    assert_eq!(witness.forks().len(), MAX_FORKS);
    assert_eq!(stored_forks(&ledger), MAX_FORKS);
    drop(witness);
    close(ledger, writer).await;
}

#[test]
fn members_are_never_forgotten_for_non_members() {
    let mut state = State::default();
    let member = fixtures::key("member");
    assert_eq!(state.keep_cosigned(note(&member, 1, 1), true), None);
    for i in 0..MAX_OTHERS_WITNESSED * 2 {
        state.keep_cosigned(note(&nth_key(i), 1, 1), false);
    }
    assert!(
        state
            .cosigned
            .contains_key(&member.public().to_text(NODE_PREFIX))
    );
    assert_eq!(state.cosigned.len(), MAX_OTHERS_WITNESSED + 1);
    // Observing an origin again keeps it: the least recently observed goes first.
    let early = nth_key(MAX_OTHERS_WITNESSED).public().to_text(NODE_PREFIX);
    state.touch(&early);
    let forgotten = state.keep_cosigned(note(&fixtures::key("newcomer"), 1, 1), false);
    assert_eq!(
        forgotten,
        Some(
            nth_key(MAX_OTHERS_WITNESSED + 1)
                .public()
                .to_text(NODE_PREFIX)
        )
    );
    assert!(state.cosigned.contains_key(&early));
}

#[test]
fn a_fork_proof_keeps_one_origin_signature_per_note() {
    let key = fixtures::key("padded");
    let mut first = note(&key, 1, 1);
    // Padded with copies of the origin's line (and a stranger's cosignature).
    for _ in 0..20 {
        first.signatures.push(first.signatures[0].clone());
    }
    let other = fixtures::key("other");
    let cosignature = first.cosignature(&other.public().to_text(NODE_PREFIX), &other, 1);
    first.signatures.push(cosignature);
    let fork = prove_fork(&first.to_text(), &note(&key, 1, 2).to_text()).expect("a fork");
    for text in [&fork.first, &fork.second] {
        assert_eq!(SignedNote::parse(text).expect("note").signatures.len(), 1);
    }
}

/// Observations run concurrently: a peer answering two requests at once with two different
/// trees (each consistent with what was cosigned before — here, nothing yet) gets at most one
/// of them cosigned, never both (a split view carrying this witness's signature).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_trees_observed_at_once_are_never_both_cosigned() {
    let (ledger, writer) = memory_ledger();
    let witness = open(&ledger, Members::unlisted());
    for i in 0..40 {
        let peer = nth_key(i);
        let (a, b) = (note(&peer, 1, 1).to_text(), note(&peer, 1, 2).to_text());
        let (wa, wb) = (witness.clone(), witness.clone());
        let (first, second) = tokio::join!(
            tokio::spawn(async move { wa.observe(&a, 0, &[]).await }),
            tokio::spawn(async move { wb.observe(&b, 0, &[]).await }),
        );
        let cosigned = [first, second]
            .into_iter()
            .map(|r| r.expect("task").expect("observe"))
            .filter(|seen| matches!(seen, Seen::Cosigned(_)))
            .count();
        assert_eq!(
            cosigned, 1,
            "origin {i}: exactly one of two trees is cosigned"
        );
    }
    close(ledger, writer).await;
}

/// A peer that answers slowly gets two checkpoint requests asked from the same size: the first
/// answer is cosigned, and the second, a proof from the size cosigned before, is stale — nothing
/// to do, and no fault of the peer's (the crash test's log showed an honest node charged a bad
/// message for it while it caught up).
#[tokio::test]
async fn an_answer_to_a_question_asked_before_the_latest_cosignature_is_stale_not_invalid() {
    let (ledger, writer) = memory_ledger();
    let witness = open(&ledger, Members::unlisted());
    let peer = nth_key(0);
    let origin = peer.public().to_text(NODE_PREFIX);
    let first = note(&peer, 1, 1).to_text();
    let seen = witness.observe(&first, 0, &[]).await.expect("observe");
    assert!(matches!(seen, Seen::Cosigned(_)), "{seen:?}");
    assert_eq!(witness.since(&origin), 1);
    // The answer to the second question, asked from 0 as well, comes after.
    let second = note(&peer, 2, 2).to_text();
    let seen = witness.observe(&second, 0, &[]).await.expect("observe");
    assert_eq!(seen, Seen::NotNewer);
    assert_eq!(witness.since(&origin), 1, "still the first cosigned");
    // Asked from a size cosigned for an origin forgotten since: stale as well.
    let other = note(&nth_key(1), 3, 3).to_text();
    let seen = witness.observe(&other, 2, &[]).await.expect("observe");
    assert_eq!(seen, Seen::NotNewer);
    close(ledger, writer).await;
}

/// A forking origin answers two overlapping questions (both asked from 0) with two trees of one
/// size: the first is cosigned; the second is stale, but of the cosigned size with another root
/// — two notes the origin signed for one size, which is a fork proof. It is kept (to spread),
/// not dropped; the same answer again is known evidence, nothing more to spread; a stale answer
/// of another size stays nothing to do.
#[tokio::test]
async fn a_stale_answer_that_contradicts_the_cosigned_note_is_kept_as_fork_evidence() {
    let (ledger, writer) = memory_ledger();
    let witness = open(&ledger, Members::unlisted());
    let peer = nth_key(0);
    let first = note(&peer, 1, 1).to_text();
    let seen = witness.observe(&first, 0, &[]).await.expect("observe");
    assert!(matches!(seen, Seen::Cosigned(_)), "{seen:?}");
    let second = note(&peer, 1, 2).to_text();
    let seen = witness.observe(&second, 0, &[]).await.expect("observe");
    let Seen::Forked(fork) = seen else {
        panic!("a fork proof: {seen:?}");
    };
    assert_eq!(fork.origin, peer.public().to_text(NODE_PREFIX));
    assert_eq!(witness.forks(), vec![fork]);
    assert_eq!(stored_forks(&ledger), 1);
    assert_eq!(witness.since(&peer.public().to_text(NODE_PREFIX)), 1);
    let seen = witness.observe(&second, 0, &[]).await.expect("observe");
    assert_eq!(seen, Seen::NotNewer, "known evidence");
    let other = note(&peer, 2, 3).to_text();
    let seen = witness.observe(&other, 0, &[]).await.expect("observe");
    assert_eq!(seen, Seen::NotNewer);
    close(ledger, writer).await;
}
