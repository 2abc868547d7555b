//! The scenario: every key, entry and signed form the vectors are built from.

use super::*;

// ---- The scenario ----

/// One entry of the vectors and who signed it.
pub(super) struct Named {
    pub(super) name: &'static str,
    pub(super) signer: &'static str,
    pub(super) role: Role,
    pub(super) entry: Entry,
}

/// A small network's history, in the order a node accepts (and logs) it.
pub(super) struct Scenario {
    pub(super) entries: Vec<Named>,
    pub(super) collector: FeedId,
    pub(super) citizen: FeedId,
    /// After `entries`: the collector's scoped policy (version 2) and two scoped grants.
    pub(super) scoped: Vec<Named>,
    /// After `scoped`: a draft (version 3), two stances, a response and an approving outcome.
    pub(super) consultation: Vec<Named>,
}

impl Scenario {
    pub(super) fn entry(&self, name: &str) -> &Entry {
        match self.entries.iter().find(|n| n.name == name) {
            Some(n) => &n.entry,
            None => panic!("no entry {name}"),
        }
    }

    pub(super) fn index(&self, name: &str) -> u64 {
        match self.entries.iter().position(|n| n.name == name) {
            Some(i) => i as u64,
            None => panic!("no entry {name}"),
        }
    }

    /// The arrival-log tree over the first `size` entries.
    pub(super) fn tree(&self, size: usize) -> Tree {
        let mut tree = Tree::new();
        for n in &self.entries[..size] {
            tree.push(&n.entry.id.0);
        }
        tree
    }

    /// A ledger holding the first `size` entries.
    pub(super) fn ledger(&self, size: usize) -> MemoryLedger {
        let mut ledger = MemoryLedger::new([self.entries[0].entry.feed]);
        for n in &self.entries[..size] {
            let verdict = ledger.submit(&n.entry, NOW);
            assert!(
                matches!(verdict, Verdict::Accept { .. }),
                "{}: {verdict:?}",
                n.name
            );
        }
        ledger
    }
}

pub(super) fn signed<T>(what: &str, result: Result<T, consent_proto::Rejection>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{what} must be valid: {e}"),
    }
}

pub(super) fn scenario() -> Scenario {
    let (mut registrar, reg0) = signed("the dev registrar", dev::registrar());
    let (mut collector, col0) = signed(
        "the collector's inception",
        Author::incept(Role::Collector, key(COLLECTOR_0), key(COLLECTOR_1), T),
    );
    let policy = signed(
        "the policy",
        collector.append(
            T,
            Body::Policy(Policy {
                version: 1,
                name: "Harbour City Mobility Lab".into(),
                purposes: [
                    Purpose::ServiceProvision,
                    Purpose::Research,
                    Purpose::ThirdPartySharing,
                ]
                .into_iter()
                .collect(),
                categories: [
                    DataCategory::Location,
                    DataCategory::Mobility,
                    DataCategory::Environmental,
                ]
                .into_iter()
                .collect(),
                retention_days: 365,
                recipients: vec!["City transport department".into()],
                jurisdiction: "EU/GDPR".into(),
                document_digest: digest("vectors/policy document"),
                document_url: "https://lab.example/privacy".into(),
                contact: "dpo@lab.example".into(),
                scope: None,
                consultation: None,
            }),
        ),
    );
    let accreditation = signed(
        "the accreditation",
        registrar.append(
            T,
            Body::Accreditation(Accreditation {
                collector: collector.feed(),
                valid_until: T + 365 * DAY,
            }),
        ),
    );
    let (mut citizen, cit0) = signed(
        "the citizen's inception",
        Author::incept(Role::Citizen, key(CITIZEN_0), key(CITIZEN_1), T),
    );
    let grant = signed(
        "the grant",
        citizen.append(
            T + HOUR,
            Body::Grant(Grant {
                collector: collector.feed(),
                policy: policy.id,
                purposes: [Purpose::ServiceProvision, Purpose::Research]
                    .into_iter()
                    .collect(),
                categories: [DataCategory::Location, DataCategory::Mobility]
                    .into_iter()
                    .collect(),
                retention_days: 30,
                valid_from: T,
                valid_until: Some(T + 30 * DAY),
                scope: None,
                on_behalf: None,
            }),
        ),
    );
    let request = signed(
        "the access request",
        citizen.append(
            T + 2 * HOUR,
            Body::Request(Request {
                collector: collector.feed(),
                kind: RequestKind::Access,
                details_digest: Some(digest("vectors/request details")),
                on_behalf: None,
            }),
        ),
    );
    let ack_done = signed(
        "the ack",
        collector.append(
            T + 3 * HOUR,
            Body::Ack(Ack {
                request: request.id,
                answer: AckAnswer::Done,
            }),
        ),
    );
    let revoke = signed(
        "the revocation",
        citizen.append(
            T + 4 * HOUR,
            Body::Revoke(Revoke {
                grant: grant.id,
                erase: true,
                on_behalf: None,
            }),
        ),
    );
    let ack_refused = signed(
        "the refusal",
        collector.append(
            T + 5 * HOUR,
            Body::Ack(Ack {
                request: revoke.id,
                answer: AckAnswer::Refused("Records kept for 10 years under tax law".into()),
            }),
        ),
    );
    let rotation = signed("the rotation", citizen.rotate(T + 6 * HOUR, key(CITIZEN_2)));
    let erasure = signed(
        "the erasure request",
        citizen.append(
            T + 7 * HOUR,
            Body::Request(Request {
                collector: collector.feed(),
                kind: RequestKind::Erasure,
                details_digest: None,
                on_behalf: None,
            }),
        ),
    );
    let suspension = signed(
        "the suspension",
        registrar.append(
            T + 8 * HOUR,
            Body::Suspension(Suspension {
                collector: collector.feed(),
                reason: "Audit found data kept past its retention".into(),
            }),
        ),
    );
    // Scopes: the collector's second policy declares one; two grants under it narrow it.
    let Body::Policy(first) = &policy.body else {
        panic!("the policy is a policy");
    };
    let scoped_policy = signed(
        "the scoped policy",
        collector.append(
            T + 9 * HOUR,
            Body::Policy(Policy {
                version: 2,
                scope: Some(vector_policy_scope()),
                ..first.clone()
            }),
        ),
    );
    let scoped_grant = signed(
        "the scoped grant",
        citizen.append(
            T + 10 * HOUR,
            Body::Grant(Grant {
                collector: collector.feed(),
                policy: scoped_policy.id,
                purposes: [Purpose::Research].into_iter().collect(),
                categories: [DataCategory::Mobility].into_iter().collect(),
                retention_days: 30,
                valid_from: T,
                valid_until: None,
                scope: Some(GrantScope {
                    zones: vec![1],
                    sensors: vec![2],
                    sensor_kinds: [SensorKind::WifiCounter].into_iter().collect(),
                    windows: vec![TimeWindow {
                        days: 0x1f,
                        start_minute: 8 * 60,
                        end_minute: 18 * 60,
                    }],
                    forms: vec![(Purpose::Research, Form::Aggregated)],
                }),
                on_behalf: None,
            }),
        ),
    );
    let zone_grant = signed(
        "the grant narrowing zone 1",
        citizen.append(
            T + 11 * HOUR,
            Body::Grant(Grant {
                collector: collector.feed(),
                policy: scoped_policy.id,
                purposes: [Purpose::ServiceProvision].into_iter().collect(),
                categories: [DataCategory::Location].into_iter().collect(),
                retention_days: 30,
                valid_from: T,
                valid_until: None,
                scope: Some(GrantScope {
                    zones: vec![1],
                    ..GrantScope::default()
                }),
                on_behalf: None,
            }),
        ),
    );
    // Consultations: the third policy adds marketing and is put to consultation (a draft); the
    // citizen objects, then supports it; the collector answers; the registrar approves.
    let Body::Policy(scoped_body) = &scoped_policy.body else {
        panic!("the scoped policy is a policy");
    };
    let closes_ms = T + 2 * DAY + 12 * HOUR;
    let mut drafted = scoped_body.clone();
    drafted.version = 3;
    drafted.purposes.insert(Purpose::Marketing);
    drafted.consultation = Some(Consultation { closes_ms });
    let draft = signed(
        "the draft",
        collector.append(T + 12 * HOUR, Body::Policy(drafted)),
    );
    let objection = signed(
        "the objection",
        citizen.append(
            T + 13 * HOUR,
            Body::Stance(Stance {
                draft: draft.id,
                position: Position::Object(
                    [ObjectionReason::RetentionTooLong, ObjectionReason::Other]
                        .into_iter()
                        .collect(),
                ),
                details_digest: Some(digest("vectors/objection details")),
            }),
        ),
    );
    let support = signed(
        "the support",
        citizen.append(
            T + 14 * HOUR,
            Body::Stance(Stance {
                draft: draft.id,
                position: Position::Support,
                details_digest: None,
            }),
        ),
    );
    let answer = signed(
        "the response",
        collector.append(
            T + 15 * HOUR,
            Body::Response(ConsultationResponse {
                draft: draft.id,
                reason: ObjectionReason::Other,
                text: "Marketing only with its own consent; no other data, no other recipient."
                    .into(),
                document_digest: Some(digest("vectors/response document")),
            }),
        ),
    );
    let approval = signed(
        "the outcome",
        registrar.append(
            closes_ms + HOUR,
            Body::Outcome(ConsultationOutcome {
                draft: draft.id,
                result: ConsultationResult::Approved,
                text: "Approved: the objection raised was answered.".into(),
                responses: vec![answer.id],
            }),
        ),
    );
    let named = |name, signer, role, entry| Named {
        name,
        signer,
        role,
        entry,
    };
    Scenario {
        consultation: vec![
            named("policy-draft", COLLECTOR_0, Role::Collector, draft),
            named("stance-object", CITIZEN_1, Role::Citizen, objection),
            named("stance-support", CITIZEN_1, Role::Citizen, support),
            named("response", COLLECTOR_0, Role::Collector, answer),
            named("outcome-approved", REGISTRAR_0, Role::Registrar, approval),
        ],
        scoped: vec![
            named("policy-scoped", COLLECTOR_0, Role::Collector, scoped_policy),
            named("grant-scoped", CITIZEN_1, Role::Citizen, scoped_grant),
            named("grant-zone", CITIZEN_1, Role::Citizen, zone_grant),
        ],
        collector: collector.feed(),
        citizen: citizen.feed(),
        entries: vec![
            named("registrar-inception", REGISTRAR_0, Role::Registrar, reg0),
            named("collector-inception", COLLECTOR_0, Role::Collector, col0),
            named("policy", COLLECTOR_0, Role::Collector, policy),
            named("accreditation", REGISTRAR_0, Role::Registrar, accreditation),
            named("citizen-inception", CITIZEN_0, Role::Citizen, cit0),
            named("grant", CITIZEN_0, Role::Citizen, grant),
            named("request-access", CITIZEN_0, Role::Citizen, request),
            named("ack-done", COLLECTOR_0, Role::Collector, ack_done),
            named("revoke-erase", CITIZEN_0, Role::Citizen, revoke),
            named("ack-refused", COLLECTOR_0, Role::Collector, ack_refused),
            named("rotation", CITIZEN_1, Role::Citizen, rotation),
            named("request-erasure", CITIZEN_1, Role::Citizen, erasure),
            named("suspension", REGISTRAR_0, Role::Registrar, suspension),
        ],
    }
}
