//! Consents assistants and guardians signed in a person's name, counted apart on the collector's
//! page and in its JSON object (exact at k, "< k" below), as the checks decide them now.

use consent_proto::body::Body;
use consent_proto::entry::{Author, Entry};
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::vocab::{Purpose as P, Role};
use consent_tests::eventually;
use consent_tests::harness::{TestNode, fixture_genesis, submit_ok};
use consent_tests::http::{get, status};
use consent_tests::net::WAIT;

use super::site_addr;

/// A consent a delegate signs in `person`'s name under `delegation`: location data for research
/// to the scene's collector, signed at `at_ms`.
fn delegated_grant(
    delegate: &mut Author,
    scene: &fixtures::Scene,
    person: &Author,
    delegation: &Entry,
    at_ms: u64,
) -> Entry {
    let Body::Grant(mut g) = fixtures::location_grant(scene, P::Research) else {
        panic!("fixtures::location_grant is a grant");
    };
    g.on_behalf = Some(consent_proto::body::OnBehalf {
        person: person.feed(),
        delegation: delegation.id,
    });
    fixtures::append(delegate, at_ms, Body::Grant(g))
}

/// A delegation of the power to grant, to any collector and for any purpose.
fn delegation_to(
    delegate: &Author,
    kind: consent_proto::vocab::DelegationKind,
    valid_until: Option<u64>,
    co_signer: Option<&Author>,
) -> Body {
    use consent_proto::vocab::{DelegatedPower, PurposeSet};
    Body::Delegation(consent_proto::body::Delegation {
        delegate: delegate.feed(),
        powers: [DelegatedPower::Grant].into_iter().collect(),
        collectors: Vec::new(),
        purposes: PurposeSet::EMPTY,
        valid_until,
        kind,
        co_signer: co_signer.map(Author::feed),
    })
}

/// Consents signed in a person's name are counted apart on the collector's page, as checks
/// decide them now: six by assistants, of which one the person revoked and one signed after its
/// delegation was withdrawn (in force 4: "< 5"; ever given: exactly 6); five by guardians of a
/// child, and a sixth that two guardians must sign and only one has (in force: exactly 5; ever
/// given: 6). The register's own figures count what people signed themselves, and nothing
/// published names a person or a delegate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegated_consents_show_under_k_and_are_exact_at_k() {
    use consent_proto::body::Undelegation;
    use consent_proto::vocab::DelegationKind as K;

    let node = TestNode::start(&fixture_genesis()).await;
    // Delegated entries are admitted only when signed within 5 minutes of the node's clock.
    let now = consent_client::time::now_ms();
    let scene = fixtures::scene(T0);
    let mut entries = scene.entries.clone();
    let (_, own0, own_grant) = fixtures::citizen_granting(&scene, "own", P::ServiceProvision);
    entries.extend([own0, own_grant]);
    for i in 0..6 {
        let (mut person, person0) = fixtures::author(Role::Citizen, &format!("person{i}"), T0);
        let (mut helper, helper0) = fixtures::author(Role::Citizen, &format!("helper{i}"), T0);
        let delegation = fixtures::append(
            &mut person,
            now,
            delegation_to(&helper, K::Assistant, None, None),
        );
        let grant = delegated_grant(&mut helper, &scene, &person, &delegation, now + 1);
        entries.extend([person0, helper0, delegation.clone(), grant.clone()]);
        match i {
            // The person revokes what its assistant signed.
            0 => entries.push(fixtures::append(
                &mut person,
                now + 2,
                fixtures::revoke(grant.id, false),
            )),
            // The person withdraws the delegation: from 5 minutes before, the grant is void.
            1 => entries.push(fixtures::append(
                &mut person,
                now + 2,
                Body::Undelegation(Undelegation {
                    delegation: delegation.id,
                    void_from_ms: None,
                }),
            )),
            _ => {}
        }
    }
    // Children come of age in ten years (UTC midnight).
    let of_age = (now / DAY + 3650) * DAY;
    for i in 0..6 {
        let (mut child, child0) = fixtures::author(Role::Citizen, &format!("child{i}"), T0);
        let (mut guardian, guardian0) =
            fixtures::author(Role::Citizen, &format!("guardian{i}"), T0);
        entries.extend([child0, guardian0]);
        // The sixth child has two guardians who must both sign a consent.
        let co_guardian = (i == 5).then(|| fixtures::author(Role::Citizen, "co-guardian", T0));
        let delegation = fixtures::append(
            &mut child,
            now,
            delegation_to(
                &guardian,
                K::Guardian,
                Some(of_age),
                co_guardian.as_ref().map(|(a, _)| a),
            ),
        );
        entries.push(delegation.clone());
        if let Some((co, co0)) = &co_guardian {
            entries.push(co0.clone());
            entries.push(fixtures::append(
                &mut child,
                now,
                delegation_to(co, K::Guardian, Some(of_age), Some(&guardian)),
            ));
        }
        entries.push(delegated_grant(
            &mut guardian,
            &scene,
            &child,
            &delegation,
            now + 1,
        ));
    }
    let mut ledger = node.ledger().await;
    for e in &entries {
        submit_ok(&mut ledger, e).await;
    }

    let site = site_addr(&node);
    let parking = scene.collector.feed().typed(Role::Collector).to_string();
    let collector = eventually(WAIT, "the register read every entry", || {
        let (site, parking) = (site.clone(), parking.clone());
        async move {
            let (_, body) = get(&site, &format!("/api/v1/collectors/{parking}"));
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            (v["complete"] == true).then(|| v["collector"].clone())
        }
    })
    .await;
    let exactly = |n: u64| serde_json::json!({ "exactly": n });
    let below_k = serde_json::json!({ "fewer_than": 5 });
    assert_eq!(
        collector["delegated"],
        serde_json::json!({
            "assistant": { "in_force": below_k, "total": exactly(6) },
            "guardian": { "in_force": exactly(5), "total": exactly(6) },
        }),
        "{collector}"
    );
    // The figures above count what people signed themselves: one grant.
    assert_eq!(collector["grants_total"], below_k);
    assert_eq!(collector["revocations"], below_k);
    // The list does not carry them (the ledger is read for one collector's page only).
    let (_, list) = get(&site, "/api/v1/collectors");
    let list: serde_json::Value = serde_json::from_str(&list).expect("json");
    assert!(list["collectors"][0].get("delegated").is_none(), "{list}");

    let (head, page) = get(&site, &format!("/collectors/{parking}"));
    assert_eq!(status(&head), 200, "{head}");
    for shown in [
        "<dt>Signed by assistants: in force</dt><dd>&lt; 5</dd>",
        "<dt>Signed by assistants: ever given</dt><dd>6</dd>",
        "<dt>Signed by guardians: in force</dt><dd>5</dd>",
        "<dt>Signed by guardians: ever given</dt><dd>6</dd>",
    ] {
        assert!(page.contains(shown), "{shown} in {page}");
    }
    for path in [
        format!("/collectors/{parking}"),
        format!("/api/v1/collectors/{parking}"),
    ] {
        let (_, body) = get(&site, &path);
        assert!(
            !body.contains("cit1"),
            "{path} names a person or a delegate"
        );
    }
}
