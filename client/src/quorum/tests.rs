//! Tests of the parent module.

use super::*;
use prost::bytes::Bytes;

use consent_proto::pb::Decision::{Allow, Deny};

fn id(n: u8) -> EntryId {
    EntryId([n; 32])
}

/// `node`'s answer: `decision` from the head `(seq, id)` (`None`: an unknown subject).
fn answer(
    node: &str,
    head: Option<(u64, EntryId)>,
    decision: pb::Decision,
) -> (String, pb::CheckResponse) {
    let (seq, head) = match head {
        Some((seq, id)) => (seq, Bytes::copy_from_slice(id.as_bytes())),
        None => (0, Bytes::new()),
    };
    let response = pb::CheckResponse {
        decision: decision as i32,
        subject_head: head,
        subject_head_seq: seq,
        ..Default::default()
    };
    (node.to_string(), response)
}

/// Runs `choose` to the end, answering each proof it asks for from `provable` (the nodes that
/// hold the chain up to the head they name; the others are refuted). Returns the answer and
/// the nodes asked, in order.
fn run(
    answers: &[(String, pb::CheckResponse)],
    k: usize,
    provable: &[&str],
) -> (QuorumAnswer, Vec<String>) {
    run_with(answers, k, |node| {
        if provable.contains(&node) {
            Proof::Proven
        } else {
            Proof::Disproven
        }
    })
}

/// Runs `choose` to the end, answering each proof it asks for with `proof_of(node)`.
fn run_with(
    answers: &[(String, pb::CheckResponse)],
    k: usize,
    proof_of: impl Fn(&str) -> Proof,
) -> (QuorumAnswer, Vec<String>) {
    let mut proofs = BTreeMap::new();
    let mut asked = Vec::new();
    loop {
        match choose(answers, k, &proofs) {
            Step::Done(answer) => return (answer, asked),
            Step::Prove(j) => {
                let node = answers[j].0.clone();
                let proof = proof_of(node.as_str());
                assert!(proofs.insert(j, proof).is_none(), "asked twice for {node}");
                asked.push(node);
            }
        }
    }
}

/// `answer` with its reason set.
fn because(
    mut answer: (String, pb::CheckResponse),
    reason: pb::Reason,
) -> (String, pb::CheckResponse) {
    answer.1.reason = reason as i32;
    answer
}

/// Every order of `items`.
fn orders<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut order in orders(&rest) {
            order.insert(0, first.clone());
            out.push(order);
        }
    }
    out
}

fn names(answers: &[(String, pb::CheckResponse)]) -> Vec<&str> {
    answers.iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn a_node_that_allows_where_the_others_deny_at_the_same_head_is_a_deny_in_any_order() {
    let head = Some((2, id(2)));
    let answers = [
        answer("a", head, Deny),
        answer("b", head, Deny),
        answer("liar", head, Allow),
    ];
    for order in orders(&answers) {
        for k in [1, 2, 3] {
            let (out, asked) = run(&order, k, &["a", "b", "liar"]);
            assert_eq!(
                out.decision,
                Deny,
                "{:?}, k {k}: {}",
                names(&order),
                out.why
            );
            assert!(out.response.is_none());
            assert!(
                out.why.contains("disagree") && out.why.contains("ALLOW from liar"),
                "{}",
                out.why
            );
            assert!(asked.is_empty(), "they agree on the head: no proof needed");
        }
    }
}

#[test]
fn a_lying_node_at_the_highest_proven_head_is_a_deny_in_any_order() {
    // A stale node answers from seq 1; the others from seq 2, where the liar alone allows.
    let answers = [
        answer("stale", Some((1, id(1))), Allow),
        answer("a", Some((2, id(2))), Deny),
        answer("b", Some((2, id(2))), Deny),
        answer("liar", Some((2, id(2))), Allow),
    ];
    for order in orders(&answers) {
        let (out, _) = run(&order, 2, &["stale", "a", "b", "liar"]);
        assert_eq!(out.decision, Deny, "{:?}: {}", names(&order), out.why);
        assert!(out.why.contains("ALLOW from liar"), "{}", out.why);
    }
}

#[test]
fn the_highest_proven_head_outvotes_a_stale_node_and_an_invented_head() {
    // The withheld revocation: c is stale and allows, a and b deny at the revocation, and a
    // liar invents a higher head it cannot prove.
    let answers = [
        answer("c", Some((1, id(1))), Allow),
        answer("a", Some((2, id(2))), Deny),
        answer("b", Some((2, id(2))), Deny),
        answer("inventor", Some((3, id(3))), Allow),
    ];
    for order in orders(&answers) {
        let (out, asked) = run(&order, 2, &["c", "a", "b"]);
        assert_eq!(out.decision, Deny, "{:?}: {}", names(&order), out.why);
        let response = out.response.expect("the chosen answer");
        assert_eq!(response.subject_head_seq, 2);
        assert_eq!(asked.first().map(String::as_str), Some("inventor"));
        assert_eq!(asked.len(), 2, "one proof at seq 2 is enough: {asked:?}");
    }
    // Everyone agrees: allow, with no proof asked.
    let head = Some((2, id(2)));
    let agreeing = [answer("a", head, Allow), answer("b", head, Allow)];
    let (out, asked) = run(&agreeing, 2, &[]);
    assert_eq!(out.decision, Allow, "{}", out.why);
    assert!(out.response.is_some() && asked.is_empty());
}

#[test]
fn an_empty_head_never_wins_and_an_unknown_subject_is_never_allowed() {
    // An empty head with a made-up seq is malformed: it does not count.
    let mut liar = answer("liar", None, Allow);
    liar.1.subject_head_seq = u64::MAX;
    let answers = [
        liar,
        answer("a", Some((2, id(2))), Deny),
        answer("b", Some((2, id(2))), Deny),
    ];
    for order in orders(&answers) {
        let (out, _) = run(&order, 2, &["a", "b"]);
        assert_eq!(out.decision, Deny, "{:?}: {}", names(&order), out.why);
        assert_eq!(out.response.map(|r| r.subject_head_seq), Some(2));
        let (out, _) = run(&order, 3, &["a", "b"]);
        assert_eq!(out.decision, Deny);
        assert!(out.why.contains("malformed"), "{}", out.why);
    }
    // An unknown subject mixed with heads nobody proves, or everywhere: deny.
    let answers = [
        answer("a", None, Deny),
        answer("liar", None, Allow),
        answer("inventor", Some((4, id(4))), Allow),
    ];
    for order in orders(&answers) {
        let (out, _) = run(&order, 2, &[]);
        assert_eq!(out.decision, Deny, "{:?}: {}", names(&order), out.why);
        let (out, _) = run(&order[..2], 2, &[]);
        assert_eq!(out.decision, Deny, "{:?}: {}", names(&order), out.why);
    }
    let unanimous = [answer("a", None, Allow), answer("b", None, Allow)];
    let (out, _) = run(&unanimous, 2, &[]);
    assert_eq!(out.decision, Deny, "{}", out.why);
    let unknown = [answer("a", None, Deny), answer("b", None, Deny)];
    let (out, _) = run(&unknown, 2, &[]);
    assert_eq!(out.decision, Deny, "{}", out.why);
    assert!(
        out.response.is_some(),
        "the nodes' own deny, with its reason"
    );
}

#[test]
fn the_chosen_entry_named_at_another_seq_is_a_deny() {
    let answers = [
        answer("a", Some((2, id(2))), Allow),
        answer("b", Some((2, id(2))), Allow),
        answer("liar", Some((5, id(2))), Allow),
    ];
    for order in orders(&answers) {
        let (out, _) = run(&order, 2, &["a", "b"]);
        assert_eq!(out.decision, Deny, "{:?}: {}", names(&order), out.why);
        let why = &out.why;
        assert!(why.contains("node liar names that entry at seq 5"), "{why}");
    }
}

#[test]
fn two_proven_heads_at_one_seq_are_a_fork_and_a_deny() {
    let answers = [
        answer("a", Some((2, id(2))), Allow),
        answer("b", Some((2, id(7))), Allow),
    ];
    for order in orders(&answers) {
        let (out, _) = run(&order, 2, &["a", "b"]);
        assert_eq!(out.decision, Deny, "{}", out.why);
        assert!(out.why.contains("forks at seq 2"), "{}", out.why);
        // Only one of them proves its head: the other one invented it.
        let (out, _) = run(&order, 2, &["a"]);
        assert_eq!(out.decision, Allow, "{}", out.why);
        let head = out.response.map(|r| r.subject_head);
        assert_eq!(head, Some(Bytes::copy_from_slice(id(2).as_bytes())));
    }
}

#[test]
fn fewer_than_k_well_formed_answers_is_a_deny() {
    let mut short = answer("short", Some((2, id(2))), Allow);
    short.1.subject_head = Bytes::from_static(b"12345");
    let answers = [short, answer("a", Some((2, id(2))), Allow)];
    let (out, asked) = run(&answers, 2, &["a"]);
    assert_eq!(out.decision, Deny, "{}", out.why);
    assert!(out.response.is_none() && out.answered == 2 && asked.is_empty());
    let (out, _) = run(&answers, 1, &["a"]);
    assert_eq!(
        out.decision, Allow,
        "a malformed answer is left out: {}",
        out.why
    );
    let (out, _) = run(&[], 1, &[]);
    assert_eq!(out.decision, Deny);
}

#[test]
fn a_higher_deny_head_whose_proof_fails_is_a_deny_in_any_order() {
    // A and B hold the revocation (seq 5) and deny; the liar answers from the real seq 4,
    // where the grant still allows. A and B's feeds cannot be fetched (slow, unreachable,
    // GetFeed under DoS): before, that counted as "invented" and the liar's ALLOW won.
    let answers = [
        because(answer("a", Some((5, id(5))), Deny), pb::Reason::Revoked),
        because(answer("b", Some((5, id(5))), Deny), pb::Reason::Revoked),
        because(answer("liar", Some((4, id(4))), Allow), pb::Reason::Granted),
    ];
    for order in orders(&answers) {
        for k in [1, 2, 3] {
            let (out, asked) = run_with(&order, k, |node| match node {
                "liar" => Proof::Proven,
                _ => Proof::Unknown,
            });
            let why = &out.why;
            assert_eq!(out.decision, Deny, "{:?}, k {k}: {why}", names(&order));
            assert!(out.response.is_none());
            assert!(
                why.contains("could not confirm or refute") && why.contains("seq 5"),
                "{why}"
            );
            let mut asked = asked;
            asked.sort();
            assert_eq!(
                asked,
                ["a", "b"],
                "both tried before giving up; no lower proof"
            );
        }
        // One of them refuted, the other unreachable: still a deny.
        let (out, _) = run_with(&order, 2, |node| match node {
            "liar" => Proof::Proven,
            "a" => Proof::Disproven,
            _ => Proof::Unknown,
        });
        assert_eq!(out.decision, Deny, "{:?}: {}", names(&order), out.why);
        // One of them unreachable, the other proves it: the revocation's deny.
        let (out, _) = run_with(&order, 2, |node| match node {
            "b" => Proof::Unknown,
            _ => Proof::Proven,
        });
        assert_eq!(out.decision, Deny, "{}", out.why);
        assert_eq!(out.response.map(|r| r.subject_head_seq), Some(5));
        // Only when both are refuted is seq 5 set aside (they invented it).
        let (out, _) = run(&order, 2, &["liar"]);
        assert_eq!(out.decision, Allow, "{}", out.why);
        assert_eq!(out.response.map(|r| r.subject_head_seq), Some(4));
    }
}

#[test]
fn an_unsettled_head_beside_a_proven_one_at_the_same_seq_is_a_deny() {
    // Two heads at seq 3: one proven (allows), one neither proven nor refuted (it may be the
    // other branch of a fork, which would be a deny).
    let answers = [
        answer("a", Some((3, id(3))), Allow),
        answer("b", Some((3, id(9))), Deny),
    ];
    for order in orders(&answers) {
        let (out, _) = run_with(&order, 2, |node| match node {
            "a" => Proof::Proven,
            _ => Proof::Unknown,
        });
        assert_eq!(out.decision, Deny, "{:?}: {}", names(&order), out.why);
        assert!(out.why.contains("node b's head at seq 3"), "{}", out.why);
    }
}

#[tokio::test(start_paused = true)]
async fn a_proof_that_times_out_is_unknown_and_the_higher_deny_stands() {
    // A proof that never finishes (a node that accepts GetFeed and never answers) ends at the
    // quorum's timeout; the paused clock moves on by itself once nothing else can run.
    let proof = within(Duration::from_secs(2), std::future::pending::<Proof>()).await;
    assert_eq!(proof, Proof::Unknown);
    let done = within(Duration::from_secs(2), async { Proof::Proven }).await;
    assert_eq!(done, Proof::Proven);
    let answers = [
        answer("a", Some((5, id(5))), Deny),
        answer("b", Some((5, id(5))), Deny),
        answer("liar", Some((4, id(4))), Allow),
    ];
    for order in orders(&answers) {
        let (out, _) = run_with(&order, 2, |node| match node {
            "liar" => Proof::Proven,
            _ => proof,
        });
        assert_eq!(out.decision, Deny, "{:?}: {}", names(&order), out.why);
    }
}

#[test]
fn a_node_reporting_the_subject_frozen_is_a_deny_in_any_order() {
    // The citizen forked its feed: the honest nodes froze it and deny; the liar proves the
    // longer branch, whose head still holds the grant. Before, its higher head won.
    let answers = [
        because(
            answer("a", Some((5, id(5))), Deny),
            pb::Reason::SubjectFrozen,
        ),
        because(
            answer("b", Some((5, id(5))), Deny),
            pb::Reason::SubjectFrozen,
        ),
        because(answer("liar", Some((6, id(6))), Allow), pb::Reason::Granted),
    ];
    for order in orders(&answers) {
        let (out, asked) = run(&order, 2, &["a", "b", "liar"]);
        let why = &out.why;
        assert_eq!(out.decision, Deny, "{:?}: {why}", names(&order));
        assert!(
            why.contains("frozen after a fork, says a, b")
                || why.contains("frozen after a fork, says b, a"),
            "{why}"
        );
        assert!(asked.is_empty(), "no proof needed to deny");
    }
    // One frozen report is enough, even from a lower head than two agreeing ALLOWs.
    let answers = [
        because(
            answer("x", Some((4, id(4))), Deny),
            pb::Reason::SubjectFrozen,
        ),
        answer("y", Some((5, id(5))), Allow),
        answer("z", Some((5, id(5))), Allow),
    ];
    for order in orders(&answers) {
        let (out, _) = run(&order, 2, &["x", "y", "z"]);
        assert_eq!(out.decision, Deny, "{:?}: {}", names(&order), out.why);
        assert!(
            out.why.ends_with("frozen after a fork, says x"),
            "{}",
            out.why
        );
    }
}

#[test]
fn a_served_chain_proves_only_the_head_it_verifiably_holds() {
    use consent_proto::fixtures::{self, DAY, T0};
    use consent_proto::vocab::{RequestKind, Role};

    let (mut alice, a0) = fixtures::author(Role::Citizen, "alice", T0);
    let shop = FeedId([7; 32]);
    let a1 = fixtures::append(
        &mut alice,
        T0 + DAY,
        fixtures::request(shop, RequestKind::Access),
    );
    let a2 = fixtures::append(
        &mut alice,
        T0 + 2 * DAY,
        fixtures::request(shop, RequestKind::Erasure),
    );
    let feed = alice.feed();
    let chain = [a0.clone(), a1.clone(), a2.clone()];
    assert_eq!(judge(&feed, 2, a2.id, &chain), Proof::Proven);
    assert_eq!(judge(&feed, 1, a1.id, &chain[..2]), Proof::Proven);
    // Another entry at that seq, a chain that ends below it, a gap, nothing at all.
    assert_eq!(judge(&feed, 2, a1.id, &chain), Proof::Disproven);
    assert_eq!(judge(&feed, 3, id(3), &chain), Proof::Disproven);
    assert_eq!(judge(&feed, 2, a2.id, &[a0, a2.clone()]), Proof::Disproven);
    assert_eq!(judge(&feed, 2, a2.id, &[]), Proof::Disproven);
}
