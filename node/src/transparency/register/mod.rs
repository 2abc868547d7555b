//! The public register the transparency page shows, kept in memory: every collector with its
//! latest policy versions, its accreditations by the genesis registrars, and counts of the
//! grants, revocations and requests that concern it. [`follow`] builds it from the arrival log,
//! in index order, and keeps it up to date with the entries the ledger's writer announces as it
//! accepts them, so every node that holds the same entries shows the same register. It holds
//! counts, never who: no citizen id is kept. Its consent figures count the grants people signed
//! themselves and their own withdrawals of them; grants delegates signed in a person's name are
//! counted by the ledger apart (`Ledger::delegated_counts`), because whether one is in force
//! depends on its delegation.
//!
//! Memory is bounded per collector: its [`POLICIES_IN_MEMORY`] latest policy versions in full
//! (each entry is at most 8 KiB), the entry ids of the versions its page shows, and counters
//! (for a policy with a scope, [`ScopeCounts`] per kept version: at most 16 zones and 16 × 4
//! forms).
//! Earlier versions are read from the store when the collector's page is opened
//! ([`read_policies`]). For each kept version put to public consultation it keeps the facts its
//! state follows from ([`DraftFacts`]: whether it is a draft, from the store's consultation
//! record; its supersession and first outcome, from the log), so that the version *in effect*
//! ([`current_policy`]) is known without a store read: a draft is not in effect until a
//! registrar approves it. Collectors are kept in the order the register lists them, so a page of
//! the list costs that page, not a sort of every collector.
//!
//! - [`collector`]: what the register knows of one collector: policy versions, standing, counts.
//! - [`scope_counts`]: consents per zone and per form under a scoped policy version.
//! - [`policies`]: a collector's version in effect and its history, read from the store.
//! - [`follower`]: builds the register from its saved form and the log, and takes in the entries
//!   the writer announces.
//! - [`persist`]: the register's saved form, a file in the data directory the follower owns, so
//!   that a start reads only the log after it; keyed with the node's key, loaded only if written
//!   under the same counting rules ([`RULES_VERSION`]), compared with the log by
//!   `consentd check-store --full` ([`compare_saved`]).

mod collector;
mod follower;
mod persist;
mod policies;
mod scope_counts;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use consent_proto::body::Body;
use consent_proto::consultation::{DraftFacts, OutcomeFacts};
use consent_proto::entry::Entry;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::vocab::{ConsultationResult, RequestKind};

use collector::Order;
pub(crate) use collector::{Collector, PolicyVersion, Standing};
pub(crate) use follower::{Compared, Saving, compare_saved, follow};
pub(crate) use persist::{FILE, FileKey};
pub(crate) use policies::{Current, current_policy, read_policies};
pub(crate) use scope_counts::ScopeCounts;

/// Grant validity times are counted to the minute: the register keeps one counter per minute in
/// which grants start or end, not one per grant.
const MINUTE_MS: u64 = 60_000;
/// Policy versions of a collector kept in full in memory: the current one and the one before
/// (to say what changed).
pub(crate) const POLICIES_IN_MEMORY: usize = 2;
/// Earlier policy versions a collector's page shows, newest first (read from the store).
pub(crate) const HISTORY_SHOWN: usize = 20;
/// Policy entry ids kept per collector: the current version, the [`HISTORY_SHOWN`] before it,
/// and the one before those (to say what the oldest shown changed).
const POLICY_IDS_KEPT: usize = HISTORY_SHOWN + 2;
/// The version of the register's counting rules: what each entry adds to it
/// ([`Register::apply_entry`], `Collector::add_grant`, [`ScopeCounts`]). A saved register counted
/// under another version is not loaded ([`persist`]): raise it with any change to what an entry
/// adds, so that a node running the new release rebuilds its figures from the log.
const RULES_VERSION: u32 = 1;

/// The register: collectors by feed id, and how far into the log it has read.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Register {
    /// The next arrival index to read.
    pub read_to: u64,
    /// Every collector that has a feed.
    pub collectors: BTreeMap<FeedId, Collector>,
    /// The same collectors in list order.
    order: BTreeSet<Order>,
    /// Registrars whose statements count (the genesis registrars).
    registrars: HashSet<FeedId>,
    /// The collector of each kept policy version that carries a consultation (an outcome names
    /// only the version).
    drafts: HashMap<EntryId, FeedId>,
    /// Entries of the log it could not take in (not readable from the store, or naming what
    /// the store does not hold: a damaged store). While any, it is never saved: a start reads
    /// them again, so a repaired store corrects the figures.
    skipped: u64,
}

/// The register, shared between the follower and the HTTP handlers.
pub(crate) type Shared = Arc<RwLock<Register>>;

impl Register {
    /// An empty register counting the statements of `registrars`.
    pub(crate) fn new(registrars: HashSet<FeedId>) -> Self {
        Self {
            registrars,
            ..Self::default()
        }
    }

    /// Takes one accepted entry into account. `grant_of` finds a revoked grant (same feed, earlier
    /// in the log), so revocations need no per-grant memory here. A policy version with a
    /// consultation is taken as a draft (fail closed); see [`Register::apply_entry`].
    #[cfg(test)]
    pub(crate) fn apply(
        &mut self,
        entry: &Entry,
        grant_of: impl FnOnce(&EntryId) -> Option<Entry>,
    ) -> Result<(), String> {
        self.apply_entry(entry, grant_of, |_| true)
    }

    /// [`Register::apply`], with `gated` telling whether a policy version with a consultation is
    /// a draft (it widens what is collected: the store's consultation record says, as validity
    /// decided when the entry was accepted).
    pub(crate) fn apply_entry(
        &mut self,
        entry: &Entry,
        grant_of: impl FnOnce(&EntryId) -> Option<Entry>,
        gated: impl FnOnce(&EntryId) -> bool,
    ) -> Result<(), String> {
        match &entry.body {
            Body::Inception(inception)
                if inception.role == consent_proto::vocab::Role::Collector =>
            {
                self.collector(&entry.feed).since_ms = entry.time_ms;
            }
            Body::Policy(policy) => {
                let gated = policy.consultation.is_some() && gated(&entry.id);
                let c = self.collector(&entry.feed);
                let before = c.order(&entry.feed);
                // Any new version supersedes the one before: under consultation, it is withdrawn
                // unless its first outcome came earlier (`consultation::state`).
                if let Some(previous) = c.policy_ids.back()
                    && let Some(facts) = c.consultations.get_mut(previous)
                    && facts.superseded_ms.is_none()
                {
                    facts.superseded_ms = Some(entry.time_ms);
                }
                c.recent.push_back(PolicyVersion {
                    id: entry.id,
                    at_ms: entry.time_ms,
                    policy: policy.clone(),
                });
                if c.recent.len() > POLICIES_IN_MEMORY {
                    c.recent.pop_front();
                }
                c.policy_ids.push_back(entry.id);
                let mut forgotten = None;
                if c.policy_ids.len() > POLICY_IDS_KEPT
                    && let Some(old) = c.policy_ids.pop_front()
                {
                    c.scope_counts.remove(&old);
                    if c.consultations.remove(&old).is_some() {
                        forgotten = Some(old);
                    }
                }
                if policy.scope.is_some() {
                    c.scope_counts.insert(entry.id, ScopeCounts::default());
                }
                if let Some(consultation) = &policy.consultation {
                    c.consultations.insert(
                        entry.id,
                        DraftFacts {
                            id: entry.id,
                            collector: entry.feed,
                            version: policy.version,
                            time_ms: entry.time_ms,
                            closes_ms: consultation.closes_ms,
                            gated,
                            superseded_ms: None,
                            first_approval: None,
                            first_changes_required: None,
                        },
                    );
                }
                c.versions += 1;
                let after = c.order(&entry.feed);
                if after != before {
                    self.order.remove(&before);
                    self.order.insert(after);
                }
                if let Some(old) = forgotten {
                    self.drafts.remove(&old);
                }
                if policy.consultation.is_some() {
                    self.drafts.insert(entry.id, entry.feed);
                }
            }
            Body::Outcome(outcome) => {
                // Any changes-required outcome wins; else the first approval by (time, id).
                // (The register reads the log, not the freeze proofs: an equivocating
                // registrar's outcomes still show here, across restarts too.)
                if let Some(feed) = self.drafts.get(&outcome.draft).copied()
                    && let Some(facts) = self
                        .collectors
                        .get_mut(&feed)
                        .and_then(|c| c.consultations.get_mut(&outcome.draft))
                {
                    let this = OutcomeFacts {
                        id: entry.id,
                        time_ms: entry.time_ms,
                        approved: outcome.result == ConsultationResult::Approved,
                    };
                    facts.note_outcome(this);
                }
            }
            Body::Accreditation(a) if self.registrars.contains(&entry.feed) => {
                let standing = Standing::Accredited {
                    valid_until: a.valid_until,
                    at_ms: entry.time_ms,
                };
                self.collector(&a.collector)
                    .standing
                    .insert(entry.feed, standing);
            }
            Body::Suspension(s) if self.registrars.contains(&entry.feed) => {
                let standing = Standing::Suspended {
                    reason: s.reason.clone(),
                    at_ms: entry.time_ms,
                };
                self.collector(&s.collector)
                    .standing
                    .insert(entry.feed, standing);
            }
            // A delegate's grant in a person's name is counted apart, from the ledger's index of
            // them (`Ledger::delegated_counts`): whether it is in force depends on its delegation,
            // which can end after the grant, and several feeds may revoke it.
            Body::Grant(g) if g.on_behalf.is_none() => {
                let c = self.collector(&g.collector);
                c.grants += 1;
                c.add_grant(entry.time_ms, g.valid_from, g.valid_until, 1);
                if let Some(counts) = c.scope_counts.get_mut(&g.policy) {
                    counts.add(g, 1);
                }
            }
            Body::Revoke(r) => {
                let granted = grant_of(&r.grant)
                    .ok_or_else(|| format!("revocation {} names no stored grant", entry.id))?;
                let (Body::Grant(g), time) = (&granted.body, granted.time_ms) else {
                    return Err(format!("revocation {} names a non-grant", entry.id));
                };
                // Only a person's withdrawal of a consent it signed itself is counted here (once:
                // a feed revokes a grant at most once). A withdrawal of a delegate's grant shows
                // in the delegated counts; a delegate's withdrawal of the person's own grant is
                // not followed here (docs/transparency.md).
                if granted.feed != entry.feed || g.on_behalf.is_some() || r.on_behalf.is_some() {
                    return Ok(());
                }
                let c = self.collector(&g.collector);
                c.revocations += 1;
                c.erase_revocations += u64::from(r.erase);
                c.add_grant(time, g.valid_from, g.valid_until, -1);
                if let Some(counts) = c.scope_counts.get_mut(&g.policy) {
                    counts.add(g, -1);
                }
            }
            Body::Request(q) => {
                if let Some(i) = RequestKind::ALL.iter().position(|k| *k == q.kind) {
                    self.collector(&q.collector).requests[i] += 1;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn collector(&mut self, feed: &FeedId) -> &mut Collector {
        if !self.collectors.contains_key(feed) {
            self.order.insert(Collector::default().order(feed));
        }
        self.collectors.entry(*feed).or_default()
    }

    /// Page `page` (from 0) of `per_page` collectors in list order, and how many there are.
    pub(crate) fn page(&self, page: usize, per_page: usize) -> (Vec<(FeedId, &Collector)>, usize) {
        let listed = self
            .order
            .iter()
            .skip(page.saturating_mul(per_page))
            .take(per_page)
            .filter_map(|(_, _, feed)| self.collectors.get(feed).map(|c| (*feed, c)))
            .collect();
        (listed, self.order.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use consent_proto::consultation;
    use consent_proto::fixtures::{self, DAY, T0};
    use consent_proto::vocab::{DataCategory, Form, Purpose, Role};

    fn register_of(entries: &[Entry], registrars: HashSet<FeedId>) -> Register {
        let mut r = Register::new(registrars);
        for e in entries {
            let find = |id: &EntryId| entries.iter().find(|x| x.id == *id).cloned();
            r.apply(e, find).expect("applies");
        }
        r
    }

    /// The scene, and a citizen `label` granting it location data for service provision.
    fn granting(
        scene: &fixtures::Scene,
        entries: &mut Vec<Entry>,
        label: &str,
        from: u64,
        until: Option<u64>,
    ) -> (consent_proto::entry::Author, Entry) {
        let (mut citizen, inception) = fixtures::author(Role::Citizen, label, T0);
        let body = fixtures::grant(
            scene.collector.feed(),
            scene.policy,
            &[Purpose::ServiceProvision],
            &[DataCategory::Location],
            from,
            until,
        );
        let grant = fixtures::append(&mut citizen, T0 + 1, body);
        entries.extend([inception, grant.clone()]);
        (citizen, grant)
    }

    #[test]
    fn counts_grants_in_force_revocations_and_requests_per_collector() {
        let scene = fixtures::scene(T0);
        let collector = scene.collector.feed();
        let registrars: HashSet<FeedId> = [scene.registrar.feed()].into_iter().collect();
        let mut entries = scene.entries.clone();
        let (mut alice, grant) = granting(&scene, &mut entries, "alice", T0, Some(T0 + DAY));
        granting(&scene, &mut entries, "bob", T0, None);
        let r = register_of(&entries, registrars.clone());
        let c = &r.collectors[&collector];
        assert_eq!(c.grants, 2);
        assert_eq!(c.grants_in_force(T0 + 10 * MINUTE_MS), 2);
        // Alice's grant ends after a day; Bob's runs until revoked.
        assert_eq!(c.grants_in_force(T0 + 2 * DAY), 1);
        assert!(c.policy().is_some());
        assert!(matches!(
            c.standing.get(&scene.registrar.feed()),
            Some(Standing::Accredited { .. })
        ));

        entries.push(fixtures::append(
            &mut alice,
            T0 + 3,
            fixtures::revoke(grant.id, true),
        ));
        entries.push(fixtures::append(
            &mut alice,
            T0 + 4,
            fixtures::request(collector, RequestKind::Access),
        ));
        let r = register_of(&entries, registrars);
        let c = &r.collectors[&collector];
        assert_eq!((c.revocations, c.erase_revocations), (1, 1));
        assert_eq!(c.requests[0], 1, "one access request");
        assert_eq!(c.grants_in_force(T0 + 10 * MINUTE_MS), 1);
        assert_eq!(
            c.grants_in_force(T0 + 2 * DAY),
            1,
            "a revoked grant's end no longer counts"
        );
    }

    #[test]
    fn a_collector_keeps_its_latest_policies_in_memory_and_the_list_is_paged_in_order() {
        let (mut busy, busy0) = fixtures::author(Role::Collector, "busy", T0);
        let mut entries = vec![busy0];
        for v in 1..=30u32 {
            let consent_proto::body::Body::Policy(mut p) = fixtures::policy(v) else {
                panic!("a policy");
            };
            p.name = format!("Busy v{v}");
            entries.push(fixtures::append(
                &mut busy,
                T0 + u64::from(v),
                Body::Policy(p),
            ));
        }
        // Five more collectors: three named, two without a policy.
        for (label, name) in [
            ("c", Some("Cameras")),
            ("a", Some("Air quality")),
            ("z", None),
            ("b", Some("Bikes")),
            ("y", None),
        ] {
            let (mut c, c0) = fixtures::author(Role::Collector, label, T0);
            entries.push(c0);
            if let Some(name) = name {
                let consent_proto::body::Body::Policy(mut p) = fixtures::policy(1) else {
                    panic!("a policy");
                };
                p.name = name.into();
                entries.push(fixtures::append(&mut c, T0, Body::Policy(p)));
            }
        }
        let r = register_of(&entries, HashSet::new());
        let c = &r.collectors[&busy.feed()];
        assert_eq!(c.versions, 30);
        assert_eq!(c.recent.len(), POLICIES_IN_MEMORY);
        assert_eq!(c.policy().map(|p| p.policy.version), Some(30));
        assert_eq!(c.previous().map(|p| p.policy.version), Some(29));
        assert_eq!(c.policy_ids.len(), HISTORY_SHOWN + 2);
        assert_eq!(c.policy_ids.back(), entries.get(30).map(|e| &e.id));
        assert_eq!(
            c.policy_ids.front(),
            entries.get(30 - HISTORY_SHOWN - 1).map(|e| &e.id)
        );

        let name = |(_, c): &(FeedId, &Collector)| c.policy().map(|p| p.policy.name.clone());
        let (first, total) = r.page(0, 4);
        assert_eq!(total, 6);
        assert_eq!(
            first.iter().map(name).collect::<Vec<_>>(),
            [
                Some("Air quality".to_string()),
                Some("Bikes".into()),
                Some("Busy v30".into()),
                Some("Cameras".into())
            ]
        );
        let (second, _) = r.page(1, 4);
        assert_eq!(second.iter().map(name).collect::<Vec<_>>(), [None, None]);
        assert!(r.page(2, 4).0.is_empty());
    }

    #[test]
    fn consents_are_counted_per_zone_and_per_form_and_a_revocation_subtracts() {
        use consent_proto::body::Grant;
        use consent_proto::scope::GrantScope;
        use consent_proto::vocab::SensorKindSet;

        let scene = fixtures::street_scene(T0);
        let collector = scene.collector.feed();
        let mut entries = scene.entries.clone();
        let grant = |zones: Vec<u32>, forms: Vec<(Purpose, Form)>| {
            let scope = (!zones.is_empty() || !forms.is_empty()).then(|| GrantScope {
                zones,
                sensors: Vec::new(),
                sensor_kinds: SensorKindSet::EMPTY,
                windows: Vec::new(),
                forms,
            });
            Body::Grant(Grant {
                collector,
                policy: scene.policy,
                purposes: [Purpose::UrbanPlanning].into_iter().collect(),
                categories: [DataCategory::Location].into_iter().collect(),
                retention_days: 30,
                valid_from: T0,
                valid_until: None,
                scope,
                on_behalf: None,
            })
        };
        let mut ben_grant = None;
        let mut ben_author = None;
        for (label, body) in [
            ("ana", grant(Vec::new(), Vec::new())),
            ("ben", grant(vec![1], Vec::new())),
            (
                "chloe",
                grant(Vec::new(), vec![(Purpose::UrbanPlanning, Form::Aggregated)]),
            ),
        ] {
            let (mut citizen, inception) = fixtures::author(Role::Citizen, label, T0);
            let g = fixtures::append(&mut citizen, T0 + 1, body);
            entries.extend([inception, g.clone()]);
            if label == "ben" {
                ben_grant = Some(g.id);
                ben_author = Some(citizen);
            }
        }
        let r = register_of(&entries, HashSet::new());
        let counts = &r.collectors[&collector].scope_counts[&scene.policy];
        assert_eq!((counts.in_zone(1), counts.in_zone(2)), (3, 2));
        let up = Purpose::UrbanPlanning;
        assert_eq!(counts.with_floor(up, Form::Binned, Form::Binned), 2);
        assert_eq!(counts.with_floor(up, Form::Aggregated, Form::Binned), 1);

        let (Some(mut ben), Some(grant_id)) = (ben_author, ben_grant) else {
            panic!("ben granted");
        };
        entries.push(fixtures::append(
            &mut ben,
            T0 + 2,
            fixtures::revoke(grant_id, false),
        ));
        let r = register_of(&entries, HashSet::new());
        let counts = &r.collectors[&collector].scope_counts[&scene.policy];
        assert_eq!((counts.in_zone(1), counts.in_zone(2)), (2, 2));
        assert_eq!(counts.with_floor(up, Form::Binned, Form::Binned), 1);
    }

    #[test]
    fn statements_of_registrars_outside_the_genesis_do_not_count() {
        let scene = fixtures::scene(T0);
        let r = register_of(&scene.entries, HashSet::new());
        assert!(r.collectors[&scene.collector.feed()].standing.is_empty());
    }

    #[test]
    fn a_draft_is_in_effect_only_from_its_approval_and_a_new_version_withdraws_an_open_one() {
        use consent_proto::consultation::State;
        let mut scene = fixtures::scene(T0);
        let collector = scene.collector.feed();
        let mut r = Register::new(HashSet::new());
        let apply = |r: &mut Register, e: &Entry, gated: bool| {
            r.apply_entry(e, |_| None, |_| gated).expect("applies");
        };
        for e in &scene.entries {
            apply(&mut r, e, false);
        }
        let v2 = fixtures::append(
            &mut scene.collector,
            T0 + DAY,
            fixtures::draft_policy(2, T0 + 15 * DAY),
        );
        apply(&mut r, &v2, true);
        let c = &r.collectors[&collector];
        assert_eq!(c.policy().map(|p| p.id), Some(v2.id), "the newest version");
        assert_eq!(
            c.current_id(T0 + 20 * DAY),
            Some(scene.policy),
            "a draft without an outcome is never in effect"
        );
        let facts = c.consultation(&v2.id).expect("tracked");
        assert_eq!(consultation::state(facts, T0 + 2 * DAY), State::Open);
        assert_eq!(
            consultation::state(facts, T0 + 15 * DAY),
            State::AwaitingOutcome
        );

        // Approved at day 16: in effect from then on, and a later approval changes nothing.
        let approval = fixtures::append(
            &mut scene.registrar,
            T0 + 16 * DAY,
            fixtures::outcome(v2.id, true, "every raised reason was answered", &[]),
        );
        apply(&mut r, &approval, false);
        let late = fixtures::append(
            &mut scene.registrar,
            T0 + 17 * DAY,
            fixtures::outcome(v2.id, true, "approved again", &[]),
        );
        apply(&mut r, &late, false);
        let c = &r.collectors[&collector];
        assert_eq!(c.current_id(T0 + 16 * DAY - 1), Some(scene.policy));
        assert_eq!(c.current_id(T0 + 16 * DAY), Some(v2.id));
        assert_eq!(
            c.consultation(&v2.id)
                .map(|f| consultation::state(f, T0 + 20 * DAY)),
            Some(State::Approved {
                from_ms: T0 + 16 * DAY
            })
        );

        // A third version as a draft leaves v2 in effect; a fourth withdraws the third.
        let v3 = fixtures::append(
            &mut scene.collector,
            T0 + 18 * DAY,
            fixtures::draft_policy(3, T0 + 40 * DAY),
        );
        apply(&mut r, &v3, true);
        assert_eq!(
            r.collectors[&collector].current_id(T0 + 20 * DAY),
            Some(v2.id)
        );
        let v4 = fixtures::append(&mut scene.collector, T0 + 19 * DAY, fixtures::policy(4));
        apply(&mut r, &v4, false);
        let c = &r.collectors[&collector];
        assert_eq!(
            c.consultation(&v3.id)
                .map(|f| consultation::state(f, T0 + 20 * DAY)),
            Some(State::Withdrawn {
                at_ms: T0 + 19 * DAY
            })
        );
        assert_eq!(c.current_id(T0 + 20 * DAY), Some(v4.id));
        assert_eq!(
            c.consultation(&v2.id).and_then(|f| f.superseded_ms),
            Some(T0 + 18 * DAY),
            "v2 superseded by v3 after its outcome: still approved"
        );

        // A voluntary consultation (no widening) is in effect at once.
        let v5 = fixtures::append(
            &mut scene.collector,
            T0 + 20 * DAY,
            fixtures::draft_policy(5, T0 + 30 * DAY),
        );
        apply(&mut r, &v5, false);
        assert_eq!(
            r.collectors[&collector].current_id(T0 + 20 * DAY),
            Some(v5.id)
        );
    }

    #[test]
    fn a_delegates_grants_and_withdrawals_are_not_counted_as_the_persons_own() {
        use consent_proto::body::OnBehalf;

        let scene = fixtures::scene(T0);
        let collector = scene.collector.feed();
        let mut entries = scene.entries.clone();
        let (mut alice, own) = granting(&scene, &mut entries, "alice", T0, None);
        let (mut helper, helper0) = fixtures::author(Role::Citizen, "helper", T0);
        entries.push(helper0);
        // The register does not validate: any entry id stands for the delegation here.
        let (person, delegation) = (alice.feed(), own.id);
        let on_behalf = || OnBehalf { person, delegation };
        let Body::Grant(mut g) = fixtures::grant(
            collector,
            scene.policy,
            &[Purpose::Research],
            &[DataCategory::Location],
            T0,
            None,
        ) else {
            panic!("a grant");
        };
        g.on_behalf = Some(on_behalf());
        let delegated = fixtures::append(&mut helper, T0 + 2, Body::Grant(g));
        entries.push(delegated.clone());
        let r = register_of(&entries, HashSet::new());
        let c = &r.collectors[&collector];
        assert_eq!((c.grants, c.grants_in_force(T0 + DAY)), (1, 1));

        // The person withdraws the delegate's grant; the delegate withdraws the person's own.
        entries.push(fixtures::append(
            &mut alice,
            T0 + 3,
            fixtures::revoke(delegated.id, true),
        ));
        let Body::Revoke(mut revoke) = fixtures::revoke(own.id, false) else {
            panic!("a revocation");
        };
        revoke.on_behalf = Some(on_behalf());
        entries.push(fixtures::append(&mut helper, T0 + 4, Body::Revoke(revoke)));
        let r = register_of(&entries, HashSet::new());
        let c = &r.collectors[&collector];
        assert_eq!((c.revocations, c.erase_revocations), (0, 0));
        assert_eq!(c.grants_in_force(T0 + DAY), 1);

        // The person's own withdrawal of its own grant counts.
        entries.push(fixtures::append(
            &mut alice,
            T0 + 5,
            fixtures::revoke(own.id, false),
        ));
        let r = register_of(&entries, HashSet::new());
        let c = &r.collectors[&collector];
        assert_eq!(c.revocations, 1);
        assert_eq!(c.grants_in_force(T0 + DAY), 0);
    }

    #[test]
    fn a_grant_signed_to_start_later_is_not_in_force_before() {
        let scene = fixtures::scene(T0);
        let mut entries = scene.entries.clone();
        granting(&scene, &mut entries, "alice", T0 + DAY, None);
        let r = register_of(&entries, HashSet::new());
        let c = &r.collectors[&scene.collector.feed()];
        assert_eq!(c.grants_in_force(T0 + 1), 0);
        assert_eq!(c.grants_in_force(T0 + DAY + MINUTE_MS), 1);
    }
}
