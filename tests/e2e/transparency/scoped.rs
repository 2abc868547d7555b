//! A scoped collector on the site: its zones, sensors, times and forms in plain words and in the
//! JSON API, consents counted per zone and per form under k, and the SVG map of its zones.

use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::scope::GrantScope;
use consent_proto::vocab::{DataCategory as C, Form, Purpose as P, Role};
use consent_tests::eventually;
use consent_tests::harness::{TestNode, fixture_genesis, submit_ok};
use consent_tests::http::{get, status};
use consent_tests::net::WAIT;

use super::site_addr;

/// The street scene's collector (zones 1 and 2, four sensors, one window, forms per purpose) and
/// citizens granting urban planning: its page and API object describe the scope in plain words,
/// count consents per zone and per form under the same k as every other count (exact at k,
/// "< k" below), revocations lower them, and the map of its zones is an SVG with one polygon per
/// cell and no script. A collector without zones has no map.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_collector_shows_where_when_and_how_with_consents_per_zone_and_form() {
    let street = fixtures::street_scene(T0);
    let parking = fixtures::scene(T0);
    let mut genesis = fixture_genesis();
    genesis
        .registrars
        .push(street.registrar.feed().typed(Role::Registrar).to_string());
    let node = TestNode::start(&genesis).await;
    let mut ledger = node.ledger().await;
    for e in street.entries.iter().chain(&parking.entries) {
        submit_ok(&mut ledger, e).await;
    }
    let collector = street.collector.feed();
    let id = collector.typed(Role::Collector).to_string();
    let grant = |label: String, zones: &[u32], forms: &[(P, Form)]| {
        let (mut citizen, inception) = fixtures::author(Role::Citizen, &label, T0);
        let scope = GrantScope {
            zones: zones.to_vec(),
            forms: forms.to_vec(),
            ..GrantScope::default()
        };
        let body = fixtures::scoped_grant(
            collector,
            street.policy,
            &[P::UrbanPlanning],
            &[C::Location],
            scope,
        );
        let grant = fixtures::append(&mut citizen, T0 + DAY, body);
        (citizen, inception, grant)
    };
    // Five citizens narrow to zone 1 (the wharf) and take the policy's least protective planning
    // form (binned); four narrow to zone 2 and accept planning data only aggregated.
    let mut wharf = Vec::new();
    for i in 0..5 {
        let (citizen, inception, g) = grant(format!("wharf{i}"), &[1], &[]);
        submit_ok(&mut ledger, &inception).await;
        submit_ok(&mut ledger, &g).await;
        wharf.push((citizen, g));
    }
    for i in 0..4 {
        let (_, inception, g) = grant(
            format!("street{i}"),
            &[2],
            &[(P::UrbanPlanning, Form::Aggregated)],
        );
        submit_ok(&mut ledger, &inception).await;
        submit_ok(&mut ledger, &g).await;
    }
    let site = site_addr(&node);
    let api = format!("/api/v1/collectors/{id}");
    let read_scope = |total: u64| {
        let (site, api) = (site.clone(), api.clone());
        async move {
            eventually(WAIT, "the register read every grant and revocation", || {
                let (site, api) = (site.clone(), api.clone());
                async move {
                    let (_, body) = get(&site, &api);
                    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
                    let c = &v["collector"];
                    (v["complete"] == true
                        && c["grants_total"] == serde_json::json!({ "exactly": total }))
                    .then(|| c["scope"].clone())
                }
            })
            .await
        }
    };
    let zone = |scope: &serde_json::Value, id: u64| {
        scope["zones"]
            .as_array()
            .and_then(|z| z.iter().find(|z| z["id"] == id))
            .map(|z| z["consents"].clone())
            .unwrap_or_else(|| panic!("zone {id} in {scope}"))
    };
    let planning = |scope: &serde_json::Value, form: &str| {
        scope["forms"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["purpose"]["name"] == "urban-planning"))
            .and_then(|f| f["offers"].as_array())
            .and_then(|o| o.iter().find(|o| o["form"] == form))
            .map(|o| o["consents"].clone())
            .unwrap_or_else(|| panic!("urban-planning offers {form} in {scope}"))
    };
    let exactly = |n: u64| serde_json::json!({ "exactly": n });
    let below_k = serde_json::json!({ "fewer_than": 5 });

    let scope = read_scope(9).await;
    // The scope is the policy's, as signed.
    let policy = fixtures::street_scope();
    assert_eq!(scope["utc_offset"], "UTC+01:00");
    assert_eq!(scope["map"], format!("/collectors/{id}/map.svg"));
    for (z, shown) in policy
        .zones
        .iter()
        .zip(scope["zones"].as_array().expect("zones"))
    {
        assert_eq!(shown["id"], z.id);
        assert_eq!(shown["name"], z.name.as_str());
        assert_eq!(shown["resolution"], z.resolution);
        let cells: Vec<String> = z.cells.iter().map(|c| format!("{:x}", c.raw())).collect();
        assert_eq!(shown["cells"], serde_json::json!(cells));
    }
    let kinds: Vec<&str> = policy.sensors.iter().map(|s| s.kind.name()).collect();
    let shown: Vec<&str> = scope["sensors"]
        .as_array()
        .expect("sensors")
        .iter()
        .filter_map(|s| s["kind"].as_str())
        .collect();
    assert_eq!(shown, kinds);
    assert_eq!(
        scope["windows"],
        serde_json::json!(["every day 06:00-24:00"])
    );
    let purposes: Vec<&str> = policy.forms.iter().map(|f| f.purpose.name()).collect();
    let shown: Vec<&str> = scope["forms"]
        .as_array()
        .expect("forms")
        .iter()
        .filter_map(|f| f["purpose"]["name"].as_str())
        .collect();
    assert_eq!(shown, purposes);
    // Exact at k, "< k" below it.
    assert_eq!(
        (zone(&scope, 1), zone(&scope, 2)),
        (exactly(5), below_k.clone())
    );
    assert_eq!(
        (planning(&scope, "binned"), planning(&scope, "aggregated")),
        (exactly(5), below_k.clone())
    );

    // A consent to the whole policy covers every zone, at its least protective form.
    let (_, inception, whole) = grant("whole".into(), &[], &[]);
    submit_ok(&mut ledger, &inception).await;
    submit_ok(&mut ledger, &whole).await;
    let scope = read_scope(10).await;
    assert_eq!((zone(&scope, 1), zone(&scope, 2)), (exactly(6), exactly(5)));
    assert_eq!(
        (planning(&scope, "binned"), planning(&scope, "aggregated")),
        (exactly(6), below_k.clone())
    );

    // Two wharf consents withdrawn: zone 1 and binned planning fall below k.
    for (citizen, g) in wharf.iter_mut().take(2) {
        let revocation = fixtures::append(citizen, T0 + 2 * DAY, fixtures::revoke(g.id, false));
        submit_ok(&mut ledger, &revocation).await;
    }
    let scope = eventually(WAIT, "the register read the revocations", || {
        let (site, api) = (site.clone(), api.clone());
        async move {
            let (_, body) = get(&site, &api);
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            (v["collector"]["revocations"] == serde_json::json!({ "fewer_than": 5 })
                && v["collector"]["grants_in_force"] == serde_json::json!({ "exactly": 8 }))
            .then(|| v["collector"]["scope"].clone())
        }
    })
    .await;
    assert_eq!(
        (zone(&scope, 1), zone(&scope, 2)),
        (below_k.clone(), exactly(5))
    );
    assert_eq!(planning(&scope, "binned"), below_k.clone());

    // The page says it in plain words and shows the map; the map is one polygon per cell.
    let (head, html) = get(&site, &format!("/collectors/{id}"));
    assert_eq!(status(&head), 200, "{head}");
    for expected in [
        "Where, when and in what form",
        "Zone 1: Oudegracht wharf, Stadhuisbrug to Bakkerbrug",
        "every day 06:00-24:00 (UTC+01:00)",
        "a number-plate reader",
        &format!("src=\"/collectors/{id}/map.svg\""),
        "groups of at least 3",
    ] {
        assert!(
            html.contains(expected),
            "the page should say {expected:?}:\n{html}"
        );
    }
    assert!(!html.contains("cit1"), "the page names a citizen");
    let (head, svg) = get(&site, &format!("/collectors/{id}/map.svg"));
    assert_eq!(status(&head), 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: image/svg+xml"),
        "{head}"
    );
    let cells: usize = policy.zones.iter().map(|z| z.cells.len()).sum();
    assert_eq!(svg.matches("<polygon ").count(), cells, "{svg}");
    assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
    assert!(!svg.to_ascii_lowercase().contains("script"), "{svg}");

    // The parking collector declares no scope: no map, no scope in its API object.
    let parking_id = parking.collector.feed().typed(Role::Collector).to_string();
    let (head, _) = get(&site, &format!("/collectors/{parking_id}/map.svg"));
    assert_eq!(status(&head), 404, "{head}");
    let (_, body) = get(&site, &format!("/api/v1/collectors/{parking_id}"));
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert!(v["collector"].get("scope").is_none(), "{v}");
    let (head, _) = get(&site, "/collectors/garbage/map.svg");
    assert_eq!(status(&head), 400, "{head}");
}
