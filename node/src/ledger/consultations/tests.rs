//! Consultations through the write path and the reads: what admission refuses (and replication
//! still accepts), what checks decide under a draft, what survives a restart.

use std::collections::HashSet;
use std::sync::Arc;

use consent_proto::Entry;
use consent_proto::consultation::{Refusal, State};
use consent_proto::entry::Author;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::pb::Reason;
use consent_proto::vocab::ObjectionReason::{Other, RetentionTooLong};
use consent_proto::vocab::{DataCategory as C, ObjectionSet, Purpose as P, Role};

use crate::clock::Clock;
use crate::genesis::ConsultationSection;
use crate::ledger::{Ledger, LedgerConfig, Outcome, Source, WriterThread, fsck};
use crate::store::KvStore;
use crate::store::memory::MemoryStore;

/// The draft's window closes this long after it is signed (at `T0 + DAY`).
const WINDOW: u64 = 14 * DAY;
/// When the draft is signed.
const DRAFTED: u64 = T0 + DAY;
/// When its window closes.
const CLOSES: u64 = DRAFTED + WINDOW;

/// A network whose collector put version 2 (a widening: marketing) to consultation, and a second
/// registrar; the node's clock is manual, at the draft's time.
struct Net {
    store: Arc<dyn KvStore>,
    registrars: HashSet<consent_proto::FeedId>,
    config: LedgerConfig,
    ledger: Ledger,
    writer: WriterThread,
    clock: Clock,
    scene: fixtures::Scene,
    registrar_2: Author,
    draft: Entry,
}

impl Net {
    async fn open(consultation: Option<ConsultationSection>) -> Net {
        let clock = Clock::manual(DRAFTED);
        let mut scene = fixtures::scene(T0);
        let (registrar_2, reg2) = fixtures::author(Role::Registrar, "registrar-2", T0);
        let registrars: HashSet<_> = [scene.registrar.feed(), registrar_2.feed()]
            .into_iter()
            .collect();
        let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        let config = LedgerConfig {
            clock: clock.clone(),
            consultation,
            ..LedgerConfig::default()
        };
        let (ledger, writer) = Ledger::open(
            Arc::clone(&store),
            registrars.clone(),
            "test",
            config.clone(),
        )
        .expect("open");
        let draft = fixtures::append(
            &mut scene.collector,
            DRAFTED,
            fixtures::draft_policy(2, CLOSES),
        );
        let mut entries = scene.entries.clone();
        entries.extend([reg2, draft.clone()]);
        accepted(&ledger.submit(entries).await.expect("submit"));
        Net {
            store,
            registrars,
            config,
            ledger,
            writer,
            clock,
            scene,
            registrar_2,
            draft,
        }
    }

    /// Submits through the API's path (with admission).
    async fn admit(&self, entries: Vec<Entry>) -> Vec<Outcome> {
        self.ledger
            .submit_admitted(Source::Local, entries)
            .await
            .expect("submit")
    }

    /// Submits as a peer would (no admission).
    async fn replicate(&self, entries: Vec<Entry>) -> Vec<Outcome> {
        self.ledger
            .submit_from(Source::Unlisted, entries)
            .await
            .expect("submit")
    }

    /// A citizen's inception and its stance on the draft, signed at `at`.
    fn stance(
        &self,
        label: &str,
        at: u64,
        object: &[consent_proto::vocab::ObjectionReason],
    ) -> (Author, Vec<Entry>) {
        let (mut citizen, inception) = fixtures::author(Role::Citizen, label, T0);
        let stance = fixtures::append(&mut citizen, at, fixtures::stance(self.draft.id, object));
        (citizen, vec![inception, stance])
    }

    /// A citizen's inception and its grant (service provision, location) under `policy`.
    fn grant(&self, label: &str, policy: consent_proto::EntryId) -> (Author, Vec<Entry>) {
        let (mut citizen, inception) = fixtures::author(Role::Citizen, label, T0);
        let grant = fixtures::append(
            &mut citizen,
            DRAFTED,
            fixtures::grant(
                self.scene.collector.feed(),
                policy,
                &[P::ServiceProvision],
                &[C::Location],
                T0,
                None,
            ),
        );
        (citizen, vec![inception, grant])
    }

    /// The reason a check about `subject` at `at_ms` gives.
    fn check(&self, subject: &Author, at_ms: u64) -> Reason {
        let query = consent_proto::decide::Query {
            subject: subject.feed(),
            collector: self.scene.collector.feed(),
            purpose: P::ServiceProvision,
            category: C::Location,
            at_ms,
            context: consent_proto::scope::Context::NONE,
        };
        self.ledger.check(&query).expect("check").0.reason
    }

    fn state(&self) -> State {
        self.ledger
            .consultation(&self.draft.id, self.clock.now_ms())
            .expect("read")
            .expect("a consultation")
            .summary
            .state
    }

    async fn stop(self) {
        self.ledger.shutdown().await;
        drop(self.ledger);
        self.writer.join();
    }
}

fn accepted(outcomes: &[Outcome]) {
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::Accepted { .. })),
        "{outcomes:?}"
    );
}

fn refusal(outcome: &Outcome) -> &Refusal {
    match outcome {
        Outcome::Refused { refusal, .. } => refusal,
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test]
async fn a_draft_and_its_stances_outcome_survive_restart() {
    let mut net = Net::open(None).await;
    let (_, a) = net.stance("a", DRAFTED + 1, &[]);
    let (_, b) = net.stance("b", DRAFTED + 2, &[RetentionTooLong, Other]);
    accepted(&net.admit([a, b].concat()).await);
    let response = fixtures::append(
        &mut net.scene.collector,
        DRAFTED + 3,
        fixtures::response(net.draft.id, RetentionTooLong, "we keep data 30 days"),
    );
    net.clock.set(CLOSES + 1);
    let outcome = fixtures::append(
        &mut net.scene.registrar,
        CLOSES + 1,
        fixtures::outcome(net.draft.id, true, "answered", &[response.id]),
    );
    accepted(&net.admit(vec![response.clone(), outcome.clone()]).await);

    let now = net.clock.now_ms();
    let before = net
        .ledger
        .consultation(&net.draft.id, now)
        .expect("read")
        .expect("a consultation");
    assert_eq!(
        before.summary.state,
        State::Approved {
            from_ms: CLOSES + 1
        }
    );
    assert!(before.summary.facts.gated);
    assert_eq!(
        (
            before.summary.counts.others.support,
            before.summary.counts.others.object
        ),
        (1, 1)
    );
    assert_eq!(before.responses, vec![response]);
    assert_eq!(before.outcomes, vec![outcome]);
    assert_eq!(
        before.compared.len(),
        1,
        "version 1 is both the previous and the base"
    );
    assert_eq!(before.compared[0].id, net.scene.policy);
    let collector = net.scene.collector.feed();
    let list = |ledger: &Ledger| {
        ledger
            .consultations(
                &crate::ledger::ConsultationFilter {
                    collector: Some(collector),
                    open_only: false,
                    after: None,
                    limit: 10,
                },
                now,
            )
            .expect("list")
    };
    let listed = list(&net.ledger);
    assert_eq!(listed.0, vec![before.summary.clone()]);
    assert_eq!(listed.1, None);

    let (store, registrars, config) = (
        Arc::clone(&net.store),
        net.registrars.clone(),
        net.config.clone(),
    );
    net.ledger.shutdown().await;
    drop(net.ledger);
    net.writer.join();
    let (ledger, writer) =
        Ledger::open(Arc::clone(&store), registrars.clone(), "test", config).expect("reopen");
    let after = ledger
        .consultation(&net.draft.id, now)
        .expect("read")
        .expect("a consultation");
    assert_eq!(after, before);
    assert_eq!(list(&ledger), listed);
    fsck::full(&*store, &registrars).expect("the store passes the full check");
    ledger.shutdown().await;
    drop(ledger);
    writer.join();
}

#[tokio::test]
async fn admission_refuses_a_grant_on_a_draft_but_replication_accepts_it() {
    let mut net = Net::open(None).await;
    let (citizen, entries) = net.grant("granting", net.draft.id);
    let out = net.admit(entries.clone()).await;
    assert!(matches!(out[0], Outcome::Accepted { .. }), "the inception");
    assert!(
        matches!(refusal(&out[1]), Refusal::PolicyDraft { policy, state } if *policy == net.draft.id && state.0 == State::Open),
        "{out:?}"
    );
    // A peer's copy is valid: stored, and checks under it deny until the draft takes effect.
    accepted(&net.replicate(vec![entries[1].clone()]).await);
    assert_eq!(net.check(&citizen, DRAFTED + 1), Reason::PolicyNotInEffect);
    // Approved after its window: in effect from the approval on, not before it.
    net.clock.set(CLOSES + 5);
    let outcome = fixtures::append(
        &mut net.scene.registrar,
        CLOSES + 5,
        fixtures::outcome(net.draft.id, true, "no objection", &[]),
    );
    accepted(&net.admit(vec![outcome]).await);
    assert_eq!(net.check(&citizen, CLOSES + 5), Reason::Granted);
    assert_eq!(net.check(&citizen, CLOSES + 4), Reason::PolicyNotInEffect);
    // Admission now takes a grant on it.
    let (_, more) = net.grant("later", net.draft.id);
    accepted(&net.admit(more).await);
    net.stop().await;
}

#[tokio::test]
async fn an_outcome_needs_responses_to_reasons_at_the_threshold() {
    let mut net = Net::open(Some(ConsultationSection {
        widening_min_days: 14,
        objection_threshold: 2,
    }))
    .await;
    let mut stances = Vec::new();
    // Retention is raised by two objections (the threshold), "other" by one.
    for (label, reasons) in [
        ("a", &[RetentionTooLong][..]),
        ("b", &[RetentionTooLong, Other][..]),
        ("c", &[][..]),
    ] {
        stances.extend(net.stance(label, DRAFTED + 1, reasons).1);
    }
    accepted(&net.admit(stances).await);
    net.clock.set(CLOSES);
    let bare = fixtures::append(
        &mut net.scene.registrar,
        CLOSES,
        fixtures::outcome(net.draft.id, true, "approved", &[]),
    );
    let out = net.admit(vec![bare.clone()]).await;
    let raised: ObjectionSet = [RetentionTooLong].into_iter().collect();
    assert_eq!(
        refusal(&out[0]),
        &Refusal::ConsultationUnanswered {
            reasons: raised,
            threshold: 2
        }
    );
    // Once the collector answered the reason raised, an approval listing the answer is taken.
    let response = fixtures::append(
        &mut net.scene.collector,
        CLOSES,
        fixtures::response(net.draft.id, RetentionTooLong, "30 days, then deleted"),
    );
    accepted(&net.admit(vec![response.clone()]).await);
    let answered = fixtures::append(
        &mut net.registrar_2,
        CLOSES,
        fixtures::outcome(net.draft.id, true, "answered", &[response.id]),
    );
    accepted(&net.admit(vec![answered]).await);
    assert_eq!(net.state(), State::Approved { from_ms: CLOSES });
    net.stop().await;
}

#[tokio::test]
async fn a_second_outcome_is_refused_at_admission_but_the_first_by_time_counts_when_both_replicate()
{
    let mut net = Net::open(None).await;
    let (citizen, grant) = net.grant("granting", net.draft.id);
    accepted(&net.replicate(grant).await);
    net.clock.set(CLOSES + 2 * 3_600_000);
    let approval = fixtures::append(
        &mut net.registrar_2,
        CLOSES + 2 * 3_600_000,
        fixtures::outcome(net.draft.id, true, "approved", &[]),
    );
    let changes = fixtures::append(
        &mut net.scene.registrar,
        CLOSES + 3_600_000,
        fixtures::outcome(net.draft.id, false, "publish the retention", &[]),
    );
    accepted(&net.admit(vec![approval.clone()]).await);
    assert_eq!(net.check(&citizen, net.clock.now_ms()), Reason::Granted);
    let out = net.admit(vec![changes.clone()]).await;
    assert_eq!(
        refusal(&out[0]),
        &Refusal::OutcomeExists { first: approval.id }
    );
    // From a peer it is valid: the first outcome by time now decides, on every node alike.
    accepted(&net.replicate(vec![changes]).await);
    assert_eq!(
        net.state(),
        State::ChangesRequired {
            at_ms: CLOSES + 3_600_000
        }
    );
    assert_eq!(
        net.check(&citizen, net.clock.now_ms()),
        Reason::PolicyNotInEffect
    );
    net.stop().await;
}

#[tokio::test]
async fn a_late_stance_is_refused_at_admission() {
    let net = Net::open(None).await;
    let tolerance = crate::ledger::answers::TOLERANCE.as_millis() as u64;
    // Signed in the window, submitted after it closed: taken within the tolerance...
    net.clock.set(CLOSES + tolerance - 1);
    accepted(&net.admit(net.stance("in-time", CLOSES - 1, &[]).1).await);
    assert_eq!(net.state(), State::AwaitingOutcome);
    // ...refused after it, yet valid from a peer.
    net.clock.set(CLOSES + tolerance);
    let (_, late) = net.stance("late", CLOSES - 1, &[Other]);
    let out = net.admit(late.clone()).await;
    assert!(
        matches!(refusal(&out[1]), Refusal::ConsultationClosed { state } if state.0 == State::AwaitingOutcome),
        "{out:?}"
    );
    accepted(&net.replicate(vec![late[1].clone()]).await);
    let counts = net
        .ledger
        .consultation_counts(&net.draft.id)
        .expect("counts");
    assert_eq!((counts.others.support, counts.others.object), (1, 1));
    net.stop().await;
}

#[tokio::test]
async fn a_new_version_withdraws_the_open_draft() {
    let mut net = Net::open(None).await;
    let (citizen, grant) = net.grant("granting", net.draft.id);
    accepted(&net.replicate(grant).await);
    net.clock.set(DRAFTED + DAY);
    // Version 3 is version 1 again: it narrows the draft and is no widening of the base.
    let v3 = fixtures::append(&mut net.scene.collector, DRAFTED + DAY, fixtures::policy(3));
    accepted(&net.admit(vec![v3]).await);
    assert_eq!(
        net.state(),
        State::Withdrawn {
            at_ms: DRAFTED + DAY
        }
    );
    let (_, stance) = net.stance("too-late", DRAFTED + DAY, &[]);
    let out = net.admit(stance).await;
    assert!(
        matches!(refusal(&out[1]), Refusal::ConsultationClosed { state } if matches!(state.0, State::Withdrawn { .. })),
        "{out:?}"
    );
    let (_, regrant) = net.grant("regrant", net.draft.id);
    let out = net.admit(regrant).await;
    assert!(
        matches!(refusal(&out[1]), Refusal::PolicyDraft { .. }),
        "{out:?}"
    );
    assert_eq!(
        net.check(&citizen, net.clock.now_ms()),
        Reason::PolicyNotInEffect
    );
    // An outcome of a withdrawn draft is refused too; open listings no longer show it.
    net.clock.set(CLOSES);
    let outcome = fixtures::append(
        &mut net.scene.registrar,
        CLOSES,
        fixtures::outcome(net.draft.id, true, "too late", &[]),
    );
    let out = net.admit(vec![outcome]).await;
    assert!(
        matches!(refusal(&out[0]), Refusal::ConsultationClosed { .. }),
        "{out:?}"
    );
    let (open, _) = net
        .ledger
        .consultations(
            &crate::ledger::ConsultationFilter {
                collector: None,
                open_only: true,
                after: None,
                limit: 10,
            },
            DRAFTED + 2,
        )
        .expect("list");
    assert!(
        open.is_empty(),
        "withdrawn before its window ends: {open:?}"
    );
    net.stop().await;
}

#[tokio::test]
async fn a_frozen_registrars_outcomes_do_not_count() {
    let mut net = Net::open(None).await;
    let (citizen, grant) = net.grant("granting", net.draft.id);
    accepted(&net.replicate(grant).await);
    let at = CLOSES + 3_600_000;
    net.clock.set(at);
    let mut fork = net.registrar_2.clone();
    let approval = fixtures::append(
        &mut net.registrar_2,
        at,
        fixtures::outcome(net.draft.id, true, "approved", &[]),
    );
    accepted(&net.replicate(vec![approval]).await);
    assert_eq!(net.check(&citizen, at), Reason::Granted);
    // The registrar signed another entry at the same place in its feed: an equivocation. Its
    // feed freezes, and its approval stops counting (another node may hold the other branch).
    let other = fixtures::append(
        &mut fork,
        at,
        fixtures::outcome(net.draft.id, true, "approved, other branch", &[]),
    );
    net.replicate(vec![other]).await;
    assert_eq!(net.state(), State::AwaitingOutcome);
    assert_eq!(net.check(&citizen, at), Reason::PolicyNotInEffect);
    // An honest registrar's approval counts.
    let honest = fixtures::append(
        &mut net.scene.registrar,
        at + 1,
        fixtures::outcome(net.draft.id, true, "approved", &[]),
    );
    accepted(&net.admit(vec![honest]).await);
    assert_eq!(net.state(), State::Approved { from_ms: at + 1 });
    assert_eq!(net.check(&citizen, at + 1), Reason::Granted);
    net.stop().await;
}

#[tokio::test]
async fn a_stance_counts_among_the_people_affected_when_its_feed_granted_before_it() {
    let net = Net::open(None).await;
    let collector = net.scene.collector.feed();
    let under_v1 = || {
        fixtures::grant(
            collector,
            net.scene.policy,
            &[P::ServiceProvision],
            &[C::Location],
            T0,
            None,
        )
    };
    // Granted, then objected: affected.
    let (mut first, inception) = fixtures::author(Role::Citizen, "granted-first", T0);
    let granted = fixtures::append(&mut first, DRAFTED, under_v1());
    let objected = fixtures::append(
        &mut first,
        DRAFTED + 1,
        fixtures::stance(net.draft.id, &[Other]),
    );
    accepted(&net.admit(vec![inception, granted, objected]).await);
    // Supported, then granted: not affected when it spoke, and the later grant does not move it.
    let (mut later, entries) = net.stance("spoke-first", DRAFTED + 1, &[]);
    accepted(&net.admit(entries).await);
    let granted = fixtures::append(&mut later, DRAFTED + 2, under_v1());
    accepted(&net.admit(vec![granted]).await);
    let counts = net
        .ledger
        .consultation_counts(&net.draft.id)
        .expect("counts");
    assert_eq!((counts.affected.support, counts.affected.object), (0, 1));
    assert_eq!(counts.affected.reason(Other), 1);
    assert_eq!((counts.others.support, counts.others.object), (1, 0));
    // A later stance of the first feed replaces its objection, still among the affected.
    let supported = fixtures::append(&mut first, DRAFTED + 3, fixtures::stance(net.draft.id, &[]));
    accepted(&net.admit(vec![supported]).await);
    let counts = net
        .ledger
        .consultation_counts(&net.draft.id)
        .expect("counts");
    assert_eq!((counts.affected.support, counts.affected.object), (1, 0));
    assert_eq!(counts.affected.reason(Other), 0);
    net.stop().await;
}
