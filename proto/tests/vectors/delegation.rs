//! Delegation: the network, its entries and validation cases.

use super::*;

// ---- Delegation ----

/// Keys of the `delegations` network's own feeds (seeds `BLAKE3(label)`, as every key).
pub(super) const D_COLLECTOR_0: &str = "vectors/delegation/collector/0";
pub(super) const D_COLLECTOR_1: &str = "vectors/delegation/collector/1";
pub(super) const D_PERSON_0: &str = "vectors/delegation/person/0";
pub(super) const D_PERSON_1: &str = "vectors/delegation/person/1";
pub(super) const D_ASSISTANT_0: &str = "vectors/delegation/assistant/0";
pub(super) const D_ASSISTANT_1: &str = "vectors/delegation/assistant/1";
pub(super) const D_CHILD_0: &str = "vectors/delegation/child/0";
pub(super) const D_CHILD_1: &str = "vectors/delegation/child/1";
pub(super) const D_GUARDIAN_0: &str = "vectors/delegation/guardian/0";
pub(super) const D_GUARDIAN_1: &str = "vectors/delegation/guardian/1";
pub(super) const D_CO_GUARDIAN_0: &str = "vectors/delegation/co-guardian/0";
pub(super) const D_CO_GUARDIAN_1: &str = "vectors/delegation/co-guardian/1";
/// Every key label of the delegation vectors, in the order their section lists them.
pub(super) const D_LABELS: [&str; 12] = [
    D_COLLECTOR_0,
    D_COLLECTOR_1,
    D_PERSON_0,
    D_PERSON_1,
    D_ASSISTANT_0,
    D_ASSISTANT_1,
    D_CHILD_0,
    D_CHILD_1,
    D_GUARDIAN_0,
    D_GUARDIAN_1,
    D_CO_GUARDIAN_0,
    D_CO_GUARDIAN_1,
];
/// The child comes of age on 2034-05-01: UTC midnight, Unix ms.
pub(super) const D_COMES_OF_AGE: u64 = 2_030_054_400_000;
/// The authors of the delegation network, by index.
pub(super) const D_COLLECTOR: usize = 0;
pub(super) const D_PERSON: usize = 1;
pub(super) const D_ASSISTANT: usize = 2;
pub(super) const D_CHILD: usize = 3;
pub(super) const D_GUARDIAN: usize = 4;
pub(super) const D_CO_GUARDIAN: usize = 5;
/// Their signing labels (the first key of each; no feed rotates) and roles.
pub(super) const D_SIGNERS: [&str; 6] = [
    D_COLLECTOR_0,
    D_PERSON_0,
    D_ASSISTANT_0,
    D_CHILD_0,
    D_GUARDIAN_0,
    D_CO_GUARDIAN_0,
];

/// The network of `delegations`: its history (in an order a fresh node whose genesis lists the
/// dev registrar accepts), and its authors at the end of it.
pub(super) struct DNet {
    pub(super) history: Vec<Named>,
    pub(super) authors: Vec<Author>,
    pub(super) collector: FeedId,
    pub(super) policy: EntryId,
}

impl DNet {
    pub(super) fn entry(&self, name: &str) -> &Entry {
        match self.history.iter().find(|n| n.name == name) {
            Some(n) => &n.entry,
            None => panic!("no delegation entry {name}"),
        }
    }

    pub(super) fn feed(&self, who: usize) -> FeedId {
        self.authors[who].feed()
    }

    /// A ledger holding the first `size` entries of the history.
    pub(super) fn ledger(&self, size: usize) -> MemoryLedger {
        let mut ledger = MemoryLedger::new([self.history[0].entry.feed]);
        for n in &self.history[..size] {
            let verdict = ledger.submit(&n.entry, NOW);
            assert!(
                matches!(verdict, Verdict::Accept { .. }),
                "{}: {verdict:?}",
                n.name
            );
        }
        ledger
    }

    /// The arrival-log tree over the first `size` entries.
    pub(super) fn tree(&self, size: usize) -> Tree {
        let mut tree = Tree::new();
        for n in &self.history[..size] {
            tree.push(&n.entry.id.0);
        }
        tree
    }

    pub(super) fn inclusion(&self, name: &str, size: usize) -> pb::InclusionProof {
        let index = match self.history.iter().position(|n| n.name == name) {
            Some(i) => i as u64,
            None => panic!("no delegation entry {name}"),
        };
        pb::InclusionProof {
            index,
            tree_size: size as u64,
            entry_id: Bytes::copy_from_slice(&self.entry(name).id.0),
            hashes: inclusion(&self.tree(size), index, size as u64)
                .iter()
                .map(|h| Bytes::copy_from_slice(h))
                .collect(),
        }
    }
}

pub(super) fn on_behalf(person: FeedId, delegation: EntryId) -> OnBehalf {
    OnBehalf { person, delegation }
}

/// A grant to the delegation network's collector of `purposes` over location data, valid from
/// `T` until revoked, in `on_behalf`'s name when given.
pub(super) fn d_grant(
    net_collector: FeedId,
    policy: EntryId,
    purposes: &[Purpose],
    on_behalf: Option<OnBehalf>,
) -> Body {
    Body::Grant(Grant {
        collector: net_collector,
        policy,
        purposes: purposes.iter().copied().collect(),
        categories: [DataCategory::Location].into_iter().collect(),
        retention_days: 30,
        valid_from: T,
        valid_until: None,
        scope: None,
        on_behalf,
    })
}

pub(super) fn d_net() -> DNet {
    let (mut registrar, reg0) = signed("the dev registrar", dev::registrar());
    let incept = |role, first: &str, second: &str| {
        signed(first, Author::incept(role, key(first), key(second), T))
    };
    let (mut collector, col0) = incept(Role::Collector, D_COLLECTOR_0, D_COLLECTOR_1);
    let (mut person, per0) = incept(Role::Citizen, D_PERSON_0, D_PERSON_1);
    let (mut assistant, asi0) = incept(Role::Citizen, D_ASSISTANT_0, D_ASSISTANT_1);
    let (mut child, chi0) = incept(Role::Citizen, D_CHILD_0, D_CHILD_1);
    let (mut guardian, gua0) = incept(Role::Citizen, D_GUARDIAN_0, D_GUARDIAN_1);
    let (mut co_guardian, cog0) = incept(Role::Citizen, D_CO_GUARDIAN_0, D_CO_GUARDIAN_1);
    let policy = signed(
        "the delegation network's policy",
        collector.append(
            T + HOUR,
            Body::Policy(Policy {
                version: 1,
                name: "Harbour City Libraries".into(),
                purposes: [
                    Purpose::ServiceProvision,
                    Purpose::Research,
                    Purpose::ThirdPartySharing,
                ]
                .into_iter()
                .collect(),
                categories: [DataCategory::Location, DataCategory::Mobility]
                    .into_iter()
                    .collect(),
                retention_days: 365,
                recipients: Vec::new(),
                jurisdiction: "EU/GDPR".into(),
                document_digest: digest("vectors/delegation policy document"),
                document_url: "https://libraries.example/privacy".into(),
                contact: "dpo@libraries.example".into(),
                scope: None,
                consultation: None,
            }),
        ),
    );
    let accreditation = signed(
        "the delegation network's accreditation",
        registrar.append(
            T + HOUR,
            Body::Accreditation(Accreditation {
                collector: collector.feed(),
                valid_until: T + 365 * DAY,
            }),
        ),
    );
    let c = collector.feed();
    let p = policy.id;
    let delegation = signed(
        "the delegation",
        person.append(
            T + 2 * HOUR,
            Body::Delegation(Delegation {
                delegate: assistant.feed(),
                powers: [DelegatedPower::Grant].into_iter().collect(),
                collectors: vec![c],
                purposes: [Purpose::Research, Purpose::ThirdPartySharing]
                    .into_iter()
                    .collect(),
                valid_until: Some(T + 9 * DAY),
                kind: DelegationKind::Assistant,
                co_signer: None,
            }),
        ),
    );
    let for_person = on_behalf(person.feed(), delegation.id);
    let delegated_grant = signed(
        "the delegated grant",
        assistant.append(
            T + 3 * HOUR,
            d_grant(c, p, &[Purpose::Research], Some(for_person)),
        ),
    );
    let every: PowerSet = [
        DelegatedPower::Grant,
        DelegatedPower::Revoke,
        DelegatedPower::Request,
    ]
    .into_iter()
    .collect();
    let guardianship = |delegate: FeedId, co_signer: FeedId| {
        Body::Delegation(Delegation {
            delegate,
            powers: every,
            collectors: Vec::new(),
            purposes: PurposeSet::EMPTY,
            valid_until: Some(D_COMES_OF_AGE),
            kind: DelegationKind::Guardian,
            co_signer: Some(co_signer),
        })
    };
    let first = signed(
        "the guardian delegation",
        child.append(
            T + 2 * HOUR,
            guardianship(guardian.feed(), co_guardian.feed()),
        ),
    );
    let second = signed(
        "the co-guardian delegation",
        child.append(
            T + 2 * HOUR,
            guardianship(co_guardian.feed(), guardian.feed()),
        ),
    );
    let for_child = on_behalf(child.feed(), first.id);
    let by_co = on_behalf(child.feed(), second.id);
    let guardian_grant = signed(
        "the guardian grant",
        guardian.append(
            T + 3 * HOUR,
            d_grant(c, p, &[Purpose::ServiceProvision], Some(for_child)),
        ),
    );
    let endorsement = signed(
        "the endorsement",
        co_guardian.append(
            T + 4 * HOUR,
            Body::Endorsement(Endorsement {
                grant: guardian_grant.id,
                on_behalf: by_co,
            }),
        ),
    );
    let second_grant = signed(
        "the second guardian grant",
        guardian.append(
            T + 5 * HOUR,
            d_grant(c, p, &[Purpose::Research], Some(for_child)),
        ),
    );
    let opt_out = signed(
        "the guardian's opt-out",
        guardian.append(
            T + 5 * HOUR,
            Body::Request(Request {
                collector: c,
                kind: RequestKind::OptOutSale,
                details_digest: None,
                on_behalf: Some(for_child),
            }),
        ),
    );
    let revocation = signed(
        "the co-guardian's revocation",
        co_guardian.append(
            T + 6 * HOUR,
            Body::Revoke(Revoke {
                grant: second_grant.id,
                erase: true,
                on_behalf: Some(by_co),
            }),
        ),
    );
    let undelegation = signed(
        "the undelegation",
        person.append(
            T + DAY,
            Body::Undelegation(Undelegation {
                delegation: delegation.id,
                void_from_ms: None,
            }),
        ),
    );
    // Signed a minute before the undelegation, after it in arrival: valid, and withdrawn.
    let late_grant = signed(
        "the late grant",
        assistant.append(
            T + DAY - MINUTE,
            d_grant(c, p, &[Purpose::ThirdPartySharing], Some(for_person)),
        ),
    );
    let resignation = signed(
        "the resignation",
        assistant.append(
            T + DAY,
            Body::Undelegation(Undelegation {
                delegation: delegation.id,
                void_from_ms: Some(T + DAY - 2 * HOUR),
            }),
        ),
    );
    let named = |name, signer, role, entry| Named {
        name,
        signer,
        role,
        entry,
    };
    let (cz, co) = (Role::Citizen, Role::Collector);
    DNet {
        history: vec![
            named("registrar-inception", REGISTRAR_0, Role::Registrar, reg0),
            named("collector-inception", D_COLLECTOR_0, co, col0),
            named("policy", D_COLLECTOR_0, co, policy),
            named("accreditation", REGISTRAR_0, Role::Registrar, accreditation),
            named("person-inception", D_PERSON_0, cz, per0),
            named("assistant-inception", D_ASSISTANT_0, cz, asi0),
            named("child-inception", D_CHILD_0, cz, chi0),
            named("guardian-inception", D_GUARDIAN_0, cz, gua0),
            named("co-guardian-inception", D_CO_GUARDIAN_0, cz, cog0),
            named("delegation", D_PERSON_0, cz, delegation),
            named("delegated-grant", D_ASSISTANT_0, cz, delegated_grant),
            named("guardian-delegation", D_CHILD_0, cz, first),
            named("co-guardian-delegation", D_CHILD_0, cz, second),
            named("guardian-grant", D_GUARDIAN_0, cz, guardian_grant),
            named("endorsement", D_CO_GUARDIAN_0, cz, endorsement),
            named("guardian-grant-2", D_GUARDIAN_0, cz, second_grant),
            named("guardian-opt-out", D_GUARDIAN_0, cz, opt_out),
            named("co-guardian-revocation", D_CO_GUARDIAN_0, cz, revocation),
            named("undelegation", D_PERSON_0, cz, undelegation),
            named("late-grant", D_ASSISTANT_0, cz, late_grant),
            named("resignation", D_ASSISTANT_0, cz, resignation),
        ],
        authors: vec![collector, person, assistant, child, guardian, co_guardian],
        collector: c,
        policy: p,
    }
}

/// One case of `delegation_validation`: an entry submitted after the whole history, and its
/// verdict (checked here, while generating).
pub(super) fn d_case(
    net: &DNet,
    about: &'static str,
    who: usize,
    time_ms: u64,
    body: Body,
    expected: &'static str,
) -> Value {
    let mut ledger = net.ledger(net.history.len());
    let name = "case";
    let entry = signed(about, net.authors[who].sign_next(time_ms, &body));
    let verdict = ledger.submit(&entry, NOW);
    assert_eq!(verdict_name(&verdict), expected, "{about}");
    let role = if who == D_COLLECTOR {
        Role::Collector
    } else {
        Role::Citizen
    };
    json!({
        "about": about,
        "entry": entry_json(name, D_SIGNERS[who], &key(D_SIGNERS[who]).public(), role, &entry),
        "verdict": expected,
    })
}

/// `delegations`: the keys, the history, and validation cases on it.
pub(super) fn delegations_json(net: &DNet) -> Value {
    let t = T + 2 * DAY;
    let (c, p) = (net.collector, net.policy);
    let delegation = net.entry("delegation").id;
    let for_person = on_behalf(net.feed(D_PERSON), delegation);
    let for_child = on_behalf(net.feed(D_CHILD), net.entry("guardian-delegation").id);
    let by_co = on_behalf(net.feed(D_CHILD), net.entry("co-guardian-delegation").id);
    let grant = |purposes: &[Purpose], o| d_grant(c, p, purposes, o);
    let elsewhere = FeedId(*blake3::hash(b"vectors/delegation/another collector").as_bytes());
    let cases = vec![
        d_case(
            net,
            "a grant in the person's name inside its delegation (an undelegation does not change validity)",
            D_ASSISTANT,
            t,
            grant(&[Purpose::Research], Some(for_person)),
            "accept",
        ),
        d_case(
            net,
            "the person revokes its assistant's grant",
            D_PERSON,
            t,
            Body::Revoke(Revoke {
                grant: net.entry("delegated-grant").id,
                erase: false,
                on_behalf: None,
            }),
            "accept",
        ),
        d_case(
            net,
            "a guardian revokes its own endorsed grant alone",
            D_GUARDIAN,
            t,
            Body::Revoke(Revoke {
                grant: net.entry("guardian-grant").id,
                erase: false,
                on_behalf: None,
            }),
            "accept",
        ),
        d_case(
            net,
            "a feed the delegation does not name",
            D_CO_GUARDIAN,
            t,
            grant(&[Purpose::Research], Some(for_person)),
            "not-delegated",
        ),
        d_case(
            net,
            "a request, a power the delegation does not give",
            D_ASSISTANT,
            t,
            Body::Request(Request {
                collector: c,
                kind: RequestKind::Access,
                details_digest: None,
                on_behalf: Some(for_person),
            }),
            "power-not-delegated",
        ),
        d_case(
            net,
            "another collector than the delegation lists",
            D_ASSISTANT,
            t,
            d_grant(elsewhere, p, &[Purpose::Research], Some(for_person)),
            "collector-not-delegated",
        ),
        d_case(
            net,
            "another purpose than the delegation lists",
            D_ASSISTANT,
            t,
            grant(&[Purpose::ServiceProvision], Some(for_person)),
            "purpose-not-delegated",
        ),
        d_case(
            net,
            "signed at the delegation's valid_until",
            D_ASSISTANT,
            T + 9 * DAY,
            grant(&[Purpose::Research], Some(for_person)),
            "delegation-not-in-force",
        ),
        d_case(
            net,
            "the child's own grant before it comes of age",
            D_CHILD,
            t,
            grant(&[Purpose::Research], None),
            "minor-feed",
        ),
        d_case(
            net,
            "a guardian delegation at another seq than 1 or 2",
            D_PERSON,
            t,
            Body::Delegation(Delegation {
                delegate: net.feed(D_GUARDIAN),
                powers: [DelegatedPower::Grant].into_iter().collect(),
                collectors: Vec::new(),
                purposes: PurposeSet::EMPTY,
                valid_until: Some(D_COMES_OF_AGE),
                kind: DelegationKind::Guardian,
                co_signer: None,
            }),
            "guardian-misplaced",
        ),
        d_case(
            net,
            "a guardian endorsing its own grant",
            D_GUARDIAN,
            t,
            Body::Endorsement(Endorsement {
                grant: net.entry("guardian-grant").id,
                on_behalf: for_child,
            }),
            "not-endorsable",
        ),
        d_case(
            net,
            "an endorsement of a grant the node does not hold",
            D_CO_GUARDIAN,
            t,
            Body::Endorsement(Endorsement {
                grant: EntryId(*blake3::hash(b"vectors/delegation/absent grant").as_bytes()),
                on_behalf: by_co,
            }),
            "pending",
        ),
        d_case(
            net,
            "the same feed revoking a grant again",
            D_CO_GUARDIAN,
            t,
            Body::Revoke(Revoke {
                grant: net.entry("guardian-grant-2").id,
                erase: false,
                on_behalf: Some(by_co),
            }),
            "already-revoked",
        ),
        d_case(
            net,
            "a revocation in the person's name of a grant in another person's name",
            D_ASSISTANT,
            t,
            Body::Revoke(Revoke {
                grant: net.entry("guardian-grant").id,
                erase: false,
                on_behalf: Some(for_person),
            }),
            "unknown-grant",
        ),
        d_case(
            net,
            "an undelegation of a delegation neither given nor held",
            D_CO_GUARDIAN,
            t,
            Body::Undelegation(Undelegation {
                delegation,
                void_from_ms: None,
            }),
            "unknown-delegation",
        ),
        d_case(
            net,
            "a delegation to oneself",
            D_PERSON,
            t,
            Body::Delegation(Delegation {
                delegate: net.feed(D_PERSON),
                powers: [DelegatedPower::Grant].into_iter().collect(),
                collectors: Vec::new(),
                purposes: PurposeSet::EMPTY,
                valid_until: None,
                kind: DelegationKind::Assistant,
                co_signer: None,
            }),
            "bad-field",
        ),
    ];
    json!({
        "keys": D_LABELS.iter().map(|l| key_json(l)).collect::<Vec<_>>(),
        "comes_of_age_ms": D_COMES_OF_AGE,
        "history": net.history.iter().map(named_json).collect::<Vec<_>>(),
        "validation": cases,
    })
}
