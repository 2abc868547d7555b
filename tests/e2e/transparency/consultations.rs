//! Public consultations on the site: the open ones on the front page with their counts under k,
//! each consultation's page and JSON object, the drafts in the collector's history, and bad
//! consultation addresses — over HTTP and in headless Chromium.

use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::vocab::{Purpose as P, Role};
use consent_tests::browser::Browser;
use consent_tests::eventually;
use consent_tests::harness::TestNode;
use consent_tests::http::{get, status};
use consent_tests::net::WAIT;

use super::{CONTRAST, Skip, site_addr};

/// A collector put version 2 to consultation (a widening: marketing); five people with a
/// consent to it objected to the retention and two others supported it; a registrar required
/// changes. Version 3, widening the same way, is open now with two stances. The front page lists
/// the open consultation with its counts under k; each consultation has a page and a JSON
/// object (exact at k, "< k" below); the collector's page shows version 1, the one in effect,
/// and both drafts, closed and open, in its history with their state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_consultations_are_on_the_front_page_with_counts_under_k() {
    use consent_proto::vocab::ObjectionReason as R;
    use consent_tests::consultation::{self as k, consultation_genesis, submit_all};

    let now = consent_client::time::now_ms();
    let node = TestNode::start(&consultation_genesis()).await;
    let mut scene = fixtures::scene(T0);
    let mut entries = scene.entries.clone();
    let mut holders = Vec::new();
    for (mut citizen, inception) in k::citizens("holder", 7) {
        let grant = fixtures::append(
            &mut citizen,
            T0 + DAY,
            fixtures::location_grant(&scene, P::ServiceProvision),
        );
        entries.extend([inception, grant]);
        holders.push(citizen);
    }
    let mut others = Vec::new();
    for (citizen, inception) in k::citizens("neighbour", 2) {
        entries.push(inception);
        others.push(citizen);
    }
    let v2 = k::draft(&mut scene.collector, 2, now, 15);
    entries.push(v2.clone());
    for citizen in holders.iter_mut().take(5) {
        entries.push(k::stance(citizen, &v2.id, now, &[R::RetentionTooLong]));
    }
    for citizen in &mut others {
        entries.push(k::stance(citizen, &v2.id, now, &[]));
    }
    entries.push(k::outcome(&mut scene.registrar, &v2.id, now, false, &[]));
    let v3 = k::draft(&mut scene.collector, 3, now + 1, 20);
    entries.push(v3.clone());
    entries.push(k::stance(&mut holders[5], &v3.id, now + 2, &[]));
    entries.push(k::stance(&mut others[0], &v3.id, now + 2, &[R::Other]));
    submit_all(&node, &entries).await;

    let site = site_addr(&node);
    let parking = scene.collector.feed().typed(Role::Collector).to_string();
    let json = |path: String| {
        let site = site.clone();
        async move {
            let (head, body) = get(&site, &path);
            assert_eq!(status(&head), 200, "{path}: {head}");
            serde_json::from_str::<serde_json::Value>(&body).expect("json")
        }
    };
    let exactly = |n: u64| serde_json::json!({ "exactly": n });
    let below_k = serde_json::json!({ "fewer_than": 5 });

    // The collector's page, once the register has read every entry: version 1 is in effect, both
    // drafts are in its history with their state.
    let collector = eventually(WAIT, "the register read both drafts", || {
        let (site, parking) = (site.clone(), parking.clone());
        async move {
            let (_, body) = get(&site, &format!("/api/v1/collectors/{parking}"));
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            (v["complete"] == true && v["collector"]["history"].as_array()?.len() == 2)
                .then(|| v["collector"].clone())
        }
    })
    .await;
    assert_eq!(collector["policy"]["version"], 1, "{collector}");
    let history = collector["history"].as_array().expect("history");
    assert_eq!(history[0]["version"], 3);
    assert_eq!(history[0]["consultation"]["state"], "open");
    assert_eq!(history[0]["consultation"]["widening"], true);
    assert_eq!(history[1]["version"], 2);
    assert_eq!(history[1]["consultation"]["state"], "changes-required");
    assert_eq!(
        history[1]["consultation"]["page"],
        format!("/consultations/{}", v2.id)
    );

    // The open ones: version 3 only, with what it widens and its counts under k.
    let open = json("/api/v1/consultations?open=1".into()).await;
    let listed = open["consultations"].as_array().expect("consultations");
    assert_eq!(listed.len(), 1, "{open}");
    let c = &listed[0];
    assert_eq!(c["draft"], v3.id.to_string());
    assert_eq!(
        (&c["version"], &c["state"]),
        (&serde_json::json!(3), &serde_json::json!("open"))
    );
    assert_eq!(c["widening"], true);
    assert!(
        c["time_left"]
            .as_str()
            .is_some_and(|t| t.ends_with(" days")),
        "{c}"
    );
    assert_eq!(c["changes"][0]["direction"], "widens", "{c}");
    assert!(
        c["changes"][0]["sentence"]
            .as_str()
            .is_some_and(|s| s.contains("marketing")),
        "{c}"
    );
    assert_eq!(c["counts"]["affected"]["support"], below_k);
    assert_eq!(c["counts"]["others"]["object"], below_k);
    assert!(
        open["note"]
            .as_str()
            .is_some_and(|n| n.contains("not votes"))
    );
    // One collector's, oldest first.
    let mine = json(format!("/api/v1/consultations?collector={parking}")).await;
    let versions: Vec<&serde_json::Value> = mine["consultations"]
        .as_array()
        .expect("consultations")
        .iter()
        .map(|c| &c["version"])
        .collect();
    assert_eq!(versions, [&serde_json::json!(2), &serde_json::json!(3)]);

    // The closed one in full: exact at k, "< k" below, the outcome that counts.
    let closed = json(format!("/api/v1/consultations/{}", v2.id)).await;
    let c = &closed["consultation"];
    assert_eq!(c["summary"]["state"], "changes-required", "{c}");
    let affected = &c["summary"]["counts"]["affected"];
    assert_eq!(affected["object"], exactly(5));
    assert_eq!(affected["support"], below_k);
    let retention = affected["reasons"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["reason"] == "retention-too-long"))
        .expect("every reason is listed");
    assert_eq!(retention["count"], exactly(5));
    assert_eq!(c["summary"]["counts"]["others"]["support"], below_k);
    assert_eq!(c["outcomes"][0]["result"], "changes-required");
    assert_eq!(c["outcomes"][0]["counts"], true);
    assert_eq!(
        (&c["compared"][0]["version"], &c["compared"][0]["role"]),
        (&serde_json::json!(1), &serde_json::json!("base"))
    );
    assert!(
        c["compared"][0]["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i["direction"] == "widens")),
        "{c}"
    );

    // The pages say the same; nothing names a citizen.
    for (path, says) in [
        ("/".to_string(), "Open consultations"),
        (
            format!("/consultations/{}", v3.id),
            "Counts are signals to the registrar, not votes",
        ),
        (format!("/consultations/{}", v2.id), "Changes required"),
        (format!("/collectors/{parking}"), "See the consultation"),
        (format!("/api/v1/consultations/{}", v3.id), "\"open\""),
    ] {
        let (head, body) = get(&site, &path);
        assert_eq!(status(&head), 200, "{path}: {head}");
        assert!(body.contains(says), "{path} should say {says:?}:\n{body}");
        assert!(!body.contains("cit1"), "{path} names a citizen");
    }
    // Bad addresses.
    for (path, code) in [
        ("/consultations/garbage".to_string(), 400),
        (format!("/consultations/{}", scene.policy), 404),
        (format!("/api/v1/consultations/{}", scene.policy), 404),
        ("/api/v1/consultations?open=maybe".into(), 400),
        ("/api/v1/consultations?collector=garbage".into(), 400),
        ("/api/v1/consultations?page=51".into(), 400),
    ] {
        let (head, _) = get(&site, &path);
        assert_eq!(status(&head), code, "{path}: {head}");
    }

    let (site2, v3_id) = (site.clone(), v3.id.to_string());
    let read = tokio::task::spawn_blocking(move || {
        read_consultations_in_a_browser(&site2, &v3_id, &parking)
    })
    .await
    .expect("browser task");
    match read {
        Ok(()) => {}
        Err(Skip(why)) => eprintln!("SKIPPED the headless-browser part: {why}"),
    }
}

fn read_consultations_in_a_browser(site: &str, draft: &str, parking: &str) -> Result<(), Skip> {
    let mut browser = Browser::launch().map_err(Skip)?;
    let step = |r: Result<(), String>| r.unwrap_or_else(|e| panic!("browser: {e}"));
    step(browser.viewport(390, 844, true));
    step(browser.open(&format!("http://{site}/")));
    let text = browser.text().expect("text");
    for expected in [
        "Open consultations",
        "Central Parking - street parking, version 3",
        "Wider: Now also used for: marketing.",
        "Support (people with a consent to it)\n< 5",
    ] {
        assert!(
            text.contains(expected),
            "the front page should say {expected:?}:\n{text}"
        );
    }
    step(browser.open(&format!("http://{site}/consultations/{draft}")));
    let text = browser.text().expect("text");
    for expected in [
        "Consultation: Central Parking - street parking, version 3",
        "Counts are signals to the registrar, not votes",
        "This version widens what is collected: it is a draft",
        "People with a consent to this collector",
        "Support\n< 5",
        "Compared with version 1 (the last version that was not a draft)",
        "No registrar has recorded an outcome yet.",
    ] {
        assert!(
            text.contains(expected),
            "the consultation page should say {expected:?}:\n{text}"
        );
    }
    let fits = browser
        .eval("document.documentElement.scrollWidth <= window.innerWidth")
        .expect("eval");
    assert_eq!(
        fits, true,
        "the consultation page scrolls sideways on a phone"
    );
    let contrast = browser.eval(CONTRAST).expect("contrast");
    assert!(
        contrast.as_f64().is_some_and(|c| c >= 4.5),
        "text contrast below WCAG AA: {contrast}"
    );
    step(browser.open(&format!("http://{site}/collectors/{parking}")));
    let text = browser.text().expect("text");
    // Version 1 is in effect; the drafts are in the history (folded: their summary line says
    // the state).
    for expected in [
        "Uses your data for",
        "Version 3, signed",
        "consultation: open",
        "Version 2, signed",
        "consultation: changes-required",
    ] {
        assert!(
            text.contains(expected),
            "the collector page should say {expected:?}:\n{text}"
        );
    }
    Ok(())
}
