//! The public transparency site on real nodes: the register of collectors, a collector's page
//! with its policy history and answer times, the network page with checkpoints and who runs each
//! node, the rights page, and the JSON API — read in headless Chromium as a person would (at a
//! phone's width, with the keyboard), and over plain HTTP for the API and bad requests. A scoped
//! collector's zones, sensors, times and forms, with consents per zone and per form, and the SVG
//! map of its zones. Consents assistants and guardians signed in a person's name, counted apart.
//! The register saved at a stop and loaded at the next start.

use std::time::Duration;

use consent_proto::body::{Ack, AckAnswer, Body};
use consent_proto::entry::{Author, Entry};
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::scope::GrantScope;
use consent_proto::vocab::{DataCategory as C, Form, Purpose as P, RequestKind, Role};
use consent_tests::browser::Browser;
use consent_tests::eventually;
use consent_tests::harness::{TestNode, fixture_genesis, submit, submit_ok};
use consent_tests::http::{get, status};
use consent_tests::net::{WAIT, connected};

const MINUTE: u64 = 60_000;
/// A node of the network that is named in the genesis but not running.
const ABSENT_OPERATOR: &str = "Civic tech cooperative";
const REGISTRAR_NAME: &str = "City data protection office";

fn policy(version: u32, name: &str, edit: impl FnOnce(&mut consent_proto::body::Policy)) -> Body {
    let Body::Policy(mut p) = fixtures::policy(version) else {
        panic!("fixtures::policy is a policy");
    };
    p.name = name.into();
    edit(&mut p);
    Body::Policy(p)
}

/// The sample city: the scene's parking collector with 7 consents (2 withdrawn, one asking for
/// erasure), 6 access requests signed 9 minutes before `now` of which 5 answered in 1..5
/// minutes, then a second policy version that adds marketing and a recipient; a collector
/// nobody accredited; a suspended one. Then the unaccredited collector and one citizen each sign
/// a second, different entry at a position already taken (returned apart: the node refuses them
/// and freezes the feeds). The requests and answers are signed within the node's 10-minute
/// tolerance of their arrival, so their signed times stand.
fn sample_city(now: u64) -> (fixtures::Scene, Vec<Entry>, Vec<Entry>) {
    let mut scene = fixtures::scene(T0);
    let mut entries = scene.entries.clone();
    let collector = scene.collector.feed();
    let mut citizens: Vec<(Author, Entry)> = Vec::new();
    for i in 0..7 {
        let (mut citizen, inception) = fixtures::author(Role::Citizen, &format!("c{i}"), T0);
        let grant = fixtures::grant(
            collector,
            scene.policy,
            &[P::ServiceProvision],
            &[C::Location],
            T0,
            None,
        );
        let grant = fixtures::append(&mut citizen, T0 + DAY, grant);
        entries.extend([inception, grant.clone()]);
        citizens.push((citizen, grant));
    }
    for (i, (citizen, grant)) in citizens.iter_mut().enumerate().take(2) {
        entries.push(fixtures::append(
            citizen,
            T0 + 2 * DAY,
            fixtures::revoke(grant.id, i == 0),
        ));
    }
    let mut requests = Vec::new();
    for (citizen, _) in citizens.iter_mut().skip(1) {
        let request = fixtures::append(
            citizen,
            now - 9 * MINUTE,
            fixtures::request(collector, RequestKind::Access),
        );
        entries.push(request.clone());
        requests.push(request);
    }
    for (i, request) in requests.iter().take(5).enumerate() {
        let ack = Body::Ack(Ack {
            request: request.id,
            answer: AckAnswer::Done,
        });
        let at = now - 9 * MINUTE + MINUTE * (i as u64 + 1);
        entries.push(fixtures::append(&mut scene.collector, at, ack));
    }
    entries.push(fixtures::append(
        &mut scene.collector,
        now - 3 * MINUTE,
        policy(2, "Central Parking - street parking", |p| {
            p.purposes.insert(P::Marketing);
            p.recipients.push("Adverts Ltd".into());
        }),
    ));
    let (mut loner, inception) = fixtures::author(Role::Collector, "loner", T0);
    entries.push(inception);
    let loner_policy = fixtures::append(
        &mut loner,
        T0,
        policy(1, "Unaccredited Sensors Inc", |_| {}),
    );
    entries.push(loner_policy.clone());
    let sign_again = |original: &Entry, body: &Body, key: &str| {
        Entry::sign(
            Some(original.feed),
            original.seq,
            original.prev,
            original.time_ms,
            body,
            &fixtures::key(key),
        )
        .expect("a valid entry")
    };
    let forks = vec![
        sign_again(
            &loner_policy,
            &policy(1, "Unaccredited Sensors Inc", |p| p.retention_days = 1),
            "loner/0",
        ),
        sign_again(
            &citizens[6].1,
            &fixtures::grant(
                collector,
                scene.policy,
                &[P::Research],
                &[C::Location],
                T0,
                None,
            ),
            "c6/0",
        ),
    ];
    let (mut cams, inception) = fixtures::author(Role::Collector, "cams", T0);
    entries.push(inception);
    entries.push(fixtures::append(
        &mut cams,
        T0,
        policy(1, "Street Cameras Co", |_| {}),
    ));
    let cams_feed = cams.feed();
    entries.push(fixtures::append(
        &mut scene.registrar,
        T0 + DAY,
        fixtures::accredit(cams_feed, T0 + 3650 * DAY),
    ));
    entries.push(fixtures::append(
        &mut scene.registrar,
        T0 + 2 * DAY,
        fixtures::suspend(cams_feed),
    ));
    (scene, entries, forks)
}

fn site_addr(node: &TestNode) -> String {
    let addr =
        std::fs::read_to_string(node.dir.join("transparency.addr")).expect("transparency.addr");
    addr.trim().to_string()
}

/// The genesis with public names for the registrar and for a node that is not running.
fn named_genesis(registrar: &str) -> consent_node::genesis::Genesis {
    let absent = consent_proto::keys::SecretKey::from_seed(&[9; 32])
        .public()
        .to_text("node");
    let mut g = fixture_genesis();
    g.names.insert(registrar.to_string(), REGISTRAR_NAME.into());
    g.names.insert(absent, ABSENT_OPERATOR.into());
    g
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_reads_who_collects_what_how_they_answer_and_who_runs_the_network() {
    let (scene, entries, forks) = sample_city(consent_client::time::now_ms());
    let registrar = scene.registrar.feed().typed(Role::Registrar).to_string();
    let genesis = named_genesis(&registrar);
    let a = TestNode::start(&genesis).await;
    let b = TestNode::start_with_peers(&genesis, &[&a]).await;
    connected(&[&a, &b], 1).await;
    let mut ledger = a.ledger().await;
    for e in &entries {
        submit_ok(&mut ledger, e).await;
    }
    for fork in &forks {
        let refused = submit(&mut ledger, fork)
            .await
            .expect_err("an equivocation");
        assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    }
    let site = site_addr(&a);
    assert!(
        site.starts_with("127.0.0.1:"),
        "loopback by default: {site}"
    );
    let parking = scene.collector.feed().typed(Role::Collector).to_string();

    // The JSON API, once the register has read every entry and B's checkpoint is cosigned.
    let b_id = b.status().await.node_id;
    let network = eventually(WAIT, "B's checkpoint cosigned by A", || {
        let (site, b_id) = (site.clone(), b_id.clone());
        async move {
            let (_, body) = get(&site, "/api/v1/network");
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            let nodes = v["network"]["nodes"].as_array()?.clone();
            nodes
                .iter()
                .any(|n| n["id"] == b_id.as_str() && n["checkpoint"]["size"].as_u64() > Some(0))
                .then_some(v)
        }
    })
    .await;
    assert_eq!(
        network["network"]["forks"].as_array().map(Vec::len),
        Some(0)
    );
    let equivocations = &network["network"]["equivocations"];
    assert_eq!(equivocations.as_array().map(Vec::len), Some(1), "{network}");
    assert_eq!(equivocations[0]["name"], "Unaccredited Sensors Inc");
    assert_eq!(equivocations[0]["seq"], 1);
    assert_eq!(
        network["network"]["frozen_citizen_feeds"],
        serde_json::json!({"fewer_than": 5})
    );
    let collectors = eventually(WAIT, "the register read every entry", || {
        let site = site.clone();
        async move {
            let (_, body) = get(&site, "/api/v1/collectors");
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            (v["complete"] == true && v["collectors"].as_array()?.len() == 3).then_some(v)
        }
    })
    .await;
    assert_eq!(collectors["k_threshold"], 5);
    let park = collectors["collectors"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["id"] == parking.as_str()))
        .expect("the parking collector is listed");
    assert_eq!(park["grants_in_force"], serde_json::json!({"exactly": 5}));
    assert_eq!(park["grants_total"], serde_json::json!({"exactly": 7}));
    assert_eq!(park["revocations"], serde_json::json!({"fewer_than": 5}));
    assert_eq!(
        park["requests"]["access"],
        serde_json::json!({"exactly": 6})
    );
    assert_eq!(park["accredited"], true);
    assert_eq!(park["standing"][0]["registrar_name"], REGISTRAR_NAME);
    let (_, one) = get(&site, &format!("/api/v1/collectors/{parking}"));
    let one: serde_json::Value = serde_json::from_str(&one).expect("json");
    let answers = &one["collector"]["answers"];
    assert_eq!(answers["answered"], serde_json::json!({"exactly": 5}));
    assert_eq!(
        answers["received"],
        serde_json::json!({"exactly": 7}),
        "6 requests + 1 erasure"
    );
    // Ranks 2 and 4 of 1..5 minutes (3 and 5 minutes), each reported as the upper end of its
    // histogram bucket (192 s and 320 s), in hours to one decimal.
    assert_eq!(
        (
            answers["median_hours"].as_f64(),
            answers["p95_hours"].as_f64()
        ),
        (Some(0.1), Some(0.1))
    );
    assert_eq!(answers["overdue"], serde_json::json!({"fewer_than": 5}));
    assert_eq!(one["collector"]["history"][0]["version"], 1);
    // Nothing published names a citizen.
    for path in [
        "/",
        &format!("/collectors/{parking}"),
        "/network",
        "/api/v1/collectors",
        &format!("/api/v1/collectors/{parking}"),
    ] {
        let (head, body) = get(&site, path);
        assert_eq!(status(&head), 200, "{path}: {head}");
        assert!(!body.contains("cit1"), "{path} names a citizen");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-security-policy: default-src 'none'"),
            "{head}"
        );
    }

    let (site2, parking2, b_id2) = (site.clone(), parking.clone(), b_id.clone());
    let read = tokio::task::spawn_blocking(move || read_in_a_browser(&site2, &parking2, &b_id2))
        .await
        .expect("browser task");
    match read {
        Ok(()) => {}
        Err(Skip(why)) => eprintln!("SKIPPED the headless-browser part: {why}"),
    }
}

/// Why the browser part could not run here.
struct Skip(String);

fn read_in_a_browser(site: &str, parking: &str, b_id: &str) -> Result<(), Skip> {
    let mut browser = Browser::launch().map_err(Skip)?;
    let step = |r: Result<(), String>| r.unwrap_or_else(|e| panic!("browser: {e}"));
    // CONSENT_SCREENSHOTS=DIR keeps a picture of each page as a phone shows it.
    let shots = std::env::var_os("CONSENT_SCREENSHOTS").map(std::path::PathBuf::from);
    let shoot = |browser: &mut Browser, name: &str| {
        if let Some(dir) = &shots {
            step(browser.screenshot(&dir.join(format!("{name}.png"))));
        }
    };
    step(browser.viewport(390, 844, true));
    // The register, on a phone.
    step(browser.open(&format!("http://{site}/")));
    let text = browser.text().expect("text");
    for expected in [
        "Who collects data about people in this city",
        "Central Parking - street parking",
        "Accredited by City data protection office",
        "Consents in force\n5",
        "Consents withdrawn\n< 5",
        "Unaccredited Sensors Inc",
        "Frozen: it signed two different histories of its statements.",
        "Not accredited by any of the network's registrars.",
        "Street Cameras Co",
        "Suspended by City data protection office",
        "audit found violations",
        "providing the service you asked for",
        "Counts below 5 are shown as",
    ] {
        assert!(
            text.contains(expected),
            "the register should say {expected:?}:\n{text}"
        );
    }
    shoot(&mut browser, "register");
    let fits = browser
        .eval("document.documentElement.scrollWidth <= window.innerWidth")
        .expect("eval");
    assert_eq!(
        fits, true,
        "the register scrolls sideways on a 390 px phone"
    );
    // Keyboard: the first Tab reaches the skip link, the next ones the navigation.
    assert_eq!(browser.tab().expect("tab"), "Skip to the content");
    assert_eq!(browser.tab().expect("tab"), "Who collects data");
    assert_eq!(browser.tab().expect("tab"), "The network");
    let contrast = browser.eval(CONTRAST).expect("contrast");
    assert!(
        contrast.as_f64().is_some_and(|c| c >= 4.5),
        "text contrast below WCAG AA: {contrast}"
    );

    // A collector's page.
    step(browser.open(&format!("http://{site}/collectors/{parking}")));
    shoot(&mut browser, "collector");
    let text = browser.text().expect("text");
    for expected in [
        "Its policy, in plain words",
        "Now also used for: marketing.",
        "Now also shares data with: Adverts Ltd.",
        "Requests for a copy of your data\n6",
        "Median time to answer\n0.1 hours",
        "95% answered within\n0.1 hours",
        "Overdue now\n< 5",
        "Version 1, signed",
        "The law gives it 30 days.",
    ] {
        assert!(
            text.contains(expected),
            "the collector page should say {expected:?}:\n{text}"
        );
    }
    // The network.
    step(browser.open(&format!("http://{site}/network")));
    shoot(&mut browser, "network");
    let text = browser.text().expect("text");
    for expected in [
        "(this node)",
        ABSENT_OPERATOR,
        "No checkpoint seen from it yet.",
        b_id,
        "cosigned by this node",
        "None: no node has been caught showing two different histories.",
        "Unaccredited Sensors Inc signed two different statements at position 1",
        "Citizens' feeds frozen for signing two histories: < 5",
    ] {
        assert!(
            text.contains(expected),
            "the network page should say {expected:?}:\n{text}"
        );
    }
    // Rights, from the vocabulary.
    step(browser.open(&format!("http://{site}/rights")));
    shoot(&mut browser, "rights");
    let text = browser.text().expect("text");
    for expected in [
        "Your rights and how to use them",
        "consent revoke GRANT --erase",
        "erasure\nerasure of your data",
        "marketing\nmarketing",
        "health\nhealth data",
    ] {
        assert!(
            text.contains(expected),
            "the rights page should say {expected:?}:\n{text}"
        );
    }
    Ok(())
}

/// The lowest contrast ratio between any text element's colour and the background behind it
/// (WCAG 2 relative luminance).
const CONTRAST: &str = r#"(() => {
  const rgb = s => (s.match(/[\d.]+/g) || []).slice(0, 3).map(Number);
  const lum = c => { const [r, g, b] = c.map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const bg = el => { for (; el; el = el.parentElement) {
    const c = getComputedStyle(el).backgroundColor;
    if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') return rgb(c); }
    return [255, 255, 255]; };
  let worst = 21;
  for (const el of document.querySelectorAll('body *')) {
    if (!el.childNodes.length || ![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    if (el.offsetParent === null) continue;
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg(el));
    worst = Math.min(worst, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05));
  }
  return worst;
})()"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_addresses_get_clear_answers_and_the_site_keeps_serving() {
    let scene = fixtures::scene(T0);
    let node = TestNode::start(&fixture_genesis()).await;
    let mut ledger = node.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    let site = site_addr(&node);
    let registrar = scene.registrar.feed().typed(Role::Registrar).to_string();
    let unknown = fixtures::author(Role::Collector, "nobody", T0)
        .0
        .feed()
        .typed(Role::Collector)
        .to_string();
    let long = "c".repeat(5000);
    for (path, code, says) in [
        ("/collectors/garbage", 400, "not a collector id"),
        (
            &format!("/collectors/{registrar}") as &str,
            400,
            "not a collector",
        ),
        (
            &format!("/collectors/{unknown}"),
            404,
            "No collector with this id",
        ),
        (&format!("/collectors/{long}"), 400, "too long"),
        ("/nowhere", 404, "There is no page at this address."),
        ("/api/v1/collectors/garbage", 400, "\"error\""),
        (
            &format!("/api/v1/collectors/{unknown}"),
            404,
            "no collector with this id",
        ),
        ("/api/v2/anything", 404, "see /api"),
    ] {
        let (head, body) = get(&site, path);
        assert_eq!(status(&head), code, "{path}: {head}");
        assert!(body.contains(says), "{path} should say {says:?}: {body}");
    }
    // Raw garbage on the socket does not stop the site.
    {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(&site).expect("connect");
        let _ = s.write_all(&[0xff; 70_000]);
    }
    eventually(Duration::from_secs(10), "the site still answers", || {
        let site = site.clone();
        async move { (status(&get(&site, "/").0) == 200).then_some(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_port_in_use_stops_the_start_with_what_to_change() {
    let mut node = TestNode::start(&fixture_genesis()).await;
    node.stop().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut config = node.config();
    config.transparency.listen = taken.local_addr().expect("addr");
    let err = consent_node::Node::start(config)
        .await
        .err()
        .expect("refused");
    let said = err.to_string();
    assert!(
        said.contains("transparency site") && said.contains("[transparency] listen"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_register_is_read_a_page_at_a_time() {
    let node = TestNode::start(&fixture_genesis()).await;
    let mut ledger = node.ledger().await;
    for i in 0..60 {
        let (mut c, c0) = fixtures::author(Role::Collector, &format!("col{i}"), T0);
        let p = fixtures::append(&mut c, T0, policy(1, &format!("Collector {i:02}"), |_| {}));
        submit_ok(&mut ledger, &c0).await;
        submit_ok(&mut ledger, &p).await;
    }
    let site = site_addr(&node);
    let first = eventually(WAIT, "the register read every entry", || {
        let site = site.clone();
        async move {
            let (_, body) = get(&site, "/api/v1/collectors");
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            (v["complete"] == true && v["collectors_total"] == 60).then_some(v)
        }
    })
    .await;
    assert_eq!(first["collectors"].as_array().map(Vec::len), Some(50));
    assert_eq!(
        (&first["page"], &first["pages"]),
        (&serde_json::json!(1), &serde_json::json!(2))
    );
    assert_eq!(first["collectors"][0]["name"], "Collector 00");
    let (_, second) = get(&site, "/api/v1/collectors?page=2");
    let second: serde_json::Value = serde_json::from_str(&second).expect("json");
    assert_eq!(second["collectors"].as_array().map(Vec::len), Some(10));
    assert_eq!(second["collectors"][0]["name"], "Collector 50");

    let (head, html) = get(&site, "/");
    assert_eq!(status(&head), 200, "{head}");
    assert!(html.contains("Page 1 of 2 (60 collectors)"), "{html}");
    assert!(html.contains("href=\"/?page=2\""), "{html}");
    assert!(
        html.contains("Collector 49") && !html.contains("Collector 50"),
        "one page only"
    );
    let (_, html) = get(&site, "/?page=2");
    assert!(
        html.contains("Collector 50") && html.contains("href=\"/?page=1\""),
        "{html}"
    );
    let (head, html) = get(&site, "/?page=3");
    assert_eq!(status(&head), 200, "{head}");
    assert!(html.contains("There is no such page"), "{html}");
}

/// The register's collectors (first page) once the node has read its whole log into it.
async fn read_register(node: &TestNode) -> serde_json::Value {
    let site = site_addr(node);
    eventually(WAIT, "the register read every entry", || {
        let site = site.clone();
        async move {
            let (_, body) = get(&site, "/api/v1/collectors");
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            (v["complete"] == true).then(|| v["collectors"].clone())
        }
    })
    .await
}

/// A node that stops saves its register in its data directory and the next start loads it
/// (reading only the log after it): the same figures, and new entries are followed. A damaged
/// file is not used: the register is read from the whole log, with the same figures again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_register_is_saved_at_a_stop_and_a_damaged_one_is_read_again_from_the_log() {
    let mut node = TestNode::start(&fixture_genesis()).await;
    let scene = fixtures::scene(T0);
    let mut ledger = node.ledger().await;
    for entry in &scene.entries {
        submit_ok(&mut ledger, entry).await;
    }
    for i in 0..6 {
        let (_, inception, grant) =
            fixtures::citizen_granting(&scene, &format!("saved-{i}"), P::ServiceProvision);
        submit_ok(&mut ledger, &inception).await;
        submit_ok(&mut ledger, &grant).await;
    }
    let before = read_register(&node).await;
    assert_eq!(before.as_array().map(Vec::len), Some(1), "{before}");

    node.stop().await;
    let file = node.dir.join("transparency-register");
    assert!(file.exists(), "saved when the node stopped");
    node.restart().await;
    assert_eq!(read_register(&node).await, before, "loaded");

    node.stop().await;
    let mut bytes = std::fs::read(&file).expect("read the saved register");
    if let Some(last) = bytes.last_mut() {
        *last ^= 0x55;
    }
    std::fs::write(&file, &bytes).expect("damage it");
    node.restart().await;
    assert_eq!(
        read_register(&node).await,
        before,
        "read again from the log"
    );

    let mut ledger = node.ledger().await;
    let (mut bikes, bikes0) = fixtures::author(Role::Collector, "bikes", T0);
    submit_ok(&mut ledger, &bikes0).await;
    submit_ok(
        &mut ledger,
        &fixtures::append(&mut bikes, T0, policy(1, "Bikes", |_| {})),
    )
    .await;
    let site = site_addr(&node);
    eventually(WAIT, "the new collector in the register", || {
        let site = site.clone();
        async move {
            let (_, body) = get(&site, "/api/v1/collectors");
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            (v["collectors_total"] == 2).then_some(())
        }
    })
    .await;
    node.stop().await;
}

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
