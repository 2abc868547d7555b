//! Scoped consent through the `consent` binary against a real node: a collector publishes the
//! street policy (zones, sensors, a window, forms), `consent policy` says it in plain words, a
//! citizen grants with each narrowing flag and signs exactly that scope, what the policy does not
//! offer is refused before anything is signed, and `consent check` with an observation's context
//! prints the reason and the required form. A narrower grant beside a wider one is named as
//! narrowing nothing, and `--replace` revokes the wider one.

use std::path::Path;

use crate::common;

use common::{Env, s, start};
use serde_json::{Value, json};

/// Copies the street example (and the document it names) into `dir`.
fn street_policy_file(dir: &Path) -> String {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    std::fs::copy(
        examples.join("street-policy.toml"),
        dir.join("street-policy.toml"),
    )
    .expect("copy");
    std::fs::copy(examples.join("policy.md"), dir.join("policy.md")).expect("copy");
    dir.join("street-policy.toml").display().to_string()
}

/// Unix ms of the Monday 09:00 at +01:00 (08:00 UTC) at least a week after now: inside the
/// street policy's window (mon-sat 07:00-19:00) and after any grant signed now.
fn next_monday_morning_ms() -> u64 {
    const DAY: u64 = 86_400_000;
    let today = consent_client::time::now_ms() / DAY;
    let weekday = (today + 3) % 7; // 1970-01-01 was a Thursday; Monday = 0
    (today + 7 + (7 - weekday) % 7) * DAY + 8 * 3_600_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_narrows_consent_and_a_collector_checks_with_context() {
    let mut env = Env {
        dir: tempfile::tempdir().expect("tempdir"),
        node: None,
    };
    let reg = env.json("reg.json", &["registrar", "init"]).await;
    let registrar = s(&reg, "registrar");
    env.node = Some(start(env.dir.path(), &registrar).await);

    let policy = street_policy_file(env.dir.path());
    let col = env
        .json("col.json", &["collector", "init", "--policy", &policy])
        .await;
    let collector = s(&col, "collector");
    env.json(
        "reg.json",
        &["registrar", "accredit", &collector, "--until", "365d"],
    )
    .await;

    // The policy in plain words, and as JSON.
    let human = env.ok("none.json", &["policy", &collector]).await;
    for expected in [
        "where (only in these zones):",
        "zone 1 Oudegracht wharf, Stadhuisbrug to Bakkerbrug (resolution 12,",
        "cells of ~310 m²",
        "1 number-plate-reader (a number-plate reader) in zone 1",
        "when: mon-sat 07:00-19:00 (UTC+01:00, all year: no daylight saving time)",
        "for planning the city: binned (per hour, cells of ~0.1 km²) or aggregated (groups of \
         at least 10 people, per hour, cells of ~0.7 km²)",
        "for billing and payments: raw (as observed) or pseudonymised",
    ] {
        assert!(
            human.contains(expected),
            "policy should say {expected:?}:\n{human}"
        );
    }
    let pj = env.json("none.json", &["policy", &collector]).await;
    let scope = &pj["scope"];
    assert_eq!(scope["utc_offset_minutes"], 60);
    assert_eq!(scope["zones"][0]["id"], 1);
    assert_eq!(scope["zones"][1]["resolution"], 11);
    let wharf_cell = scope["zones"][0]["cells"][0]
        .as_str()
        .expect("a cell of zone 1")
        .to_string();
    let street_cell = scope["zones"][1]["cells"][0]
        .as_str()
        .expect("a cell of zone 2")
        .to_string();
    let planning = scope["forms"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["purpose"] == "urban-planning"))
        .expect("forms for urban planning");
    assert_eq!(
        planning["offers"][1],
        json!({"form": "aggregated", "interval_s": 3600, "resolution": 8, "k": 10})
    );

    env.json("alice.json", &["wallet", "init"]).await;
    let subject = s(
        &env.json("alice.json", &["wallet", "id", &collector]).await,
        "subject",
    );
    let grant = |extra: &[&str]| {
        let args: Vec<String> = [
            "--json",
            "grant",
            collector.as_str(),
            "--purpose",
            "billing",
            "--purpose",
            "urban-planning",
            "--category",
            "vehicle",
            "--yes",
        ]
        .iter()
        .chain(extra)
        .map(|a| a.to_string())
        .collect();
        let env = &env;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            env.run("alice.json", &args).await
        }
    };

    // Every refusal names what the policy offers, and nothing is signed.
    for (extra, says) in [
        (
            &["--zone", "7"][..],
            "zone 7 is not in this policy, which declares: 1 Oudegracht wharf, Stadhuisbrug to \
             Bakkerbrug, 2 Oudegracht, Gaardbrug to Bakkerbrug",
        ),
        (
            &["--sensor", "9"][..],
            "sensor 9 is not in this policy, which declares: 1 number-plate-reader (zone 1), 2 \
             air-quality (zone 2), 3 wifi-counter (zone 2)",
        ),
        (
            &["--sensor-kind", "camera"][..],
            "this policy has no camera sensor",
        ),
        (
            &["--hours", "06:00-08:00"][..],
            "mon-sat 06:00-08:00 is not within this policy's times, which are: mon-sat \
             07:00-19:00 (UTC+01:00",
        ),
        (&["--days", "sun"][..], "is not within this policy's times"),
        (
            &["--form", "urban-planning=raw"][..],
            "urban-planning is offered as binned, aggregated; raw is not",
        ),
        (
            &["--form", "service-provision=raw"][..],
            "you do not grant service-provision",
        ),
        (
            &["--form", "billing=binned"][..],
            "billing is offered as raw, pseudonymised; binned is not",
        ),
    ] {
        let out = grant(extra).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{extra:?} should fail: {stderr}"
        );
        assert!(
            stderr.contains(says),
            "{extra:?}: expected {says:?} in {stderr:?}"
        );
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
    let listed = env.ok("alice.json", &["--json", "list"]).await;
    assert!(listed.trim().is_empty(), "nothing was signed: {listed}");

    // Each flag signs exactly what it says.
    let out = grant(&[
        "--zone",
        "Oudegracht wharf, Stadhuisbrug to Bakkerbrug",
        "--sensor",
        "1",
        "--sensor-kind",
        "air-quality",
        "--hours",
        "08:00-12:00",
        "--form",
        "billing=pseudonymised",
    ])
    .await;
    assert!(
        out.status.success(),
        "grant: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let granted: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("json");
    let grant_id = s(&granted, "grant");
    let signed = json!({
        "zones": [1],
        "sensors": [1],
        "sensor_kinds": ["air-quality"],
        "windows": [{
            "text": "mon-sat 08:00-12:00",
            "days": ["mon", "tue", "wed", "thu", "fri", "sat"],
            "start": "08:00",
            "end": "12:00",
        }],
        "forms": [{"purpose": "billing", "form": "pseudonymised"}],
    });
    assert_eq!(granted["scope"], signed);
    let listed = env.ok("alice.json", &["--json", "list"]).await;
    let line: Value = serde_json::from_str(listed.trim()).expect("one grant");
    assert_eq!(
        (s(&line, "grant"), &line["scope"]),
        (grant_id.clone(), &signed)
    );
    let history = env.ok("alice.json", &["history"]).await;
    assert!(
        history.contains("only in: zone 1") && history.contains("only at: mon-sat 08:00-12:00"),
        "{history}"
    );

    // A grant without any flag narrows nothing (another citizen's, so that Alice's grant is
    // the one her checks name).
    env.json("bob.json", &["wallet", "init"]).await;
    let whole = env
        .json(
            "bob.json",
            &[
                "grant",
                &collector,
                "--purpose",
                "billing",
                "--category",
                "vehicle",
                "--yes",
            ],
        )
        .await;
    assert_eq!(whole["scope"], Value::Null);

    // The collector checks with the observation's context.
    let monday = consent_client::time::format(next_monday_morning_ms());
    let check = |extra: Vec<String>| {
        let (subject, env) = (subject.clone(), &env);
        async move {
            let mut args: Vec<String> = [
                "--json",
                "check",
                "--subject",
                subject.as_str(),
                "--purpose",
                "billing",
                "--category",
                "vehicle",
            ]
            .iter()
            .map(|a| a.to_string())
            .collect();
            args.extend(extra);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let text = env.ok("col.json", &args).await;
            serde_json::from_str::<Value>(text.trim()).expect("json")
        }
    };
    let context = |cell: &str, form: &str| {
        vec![
            "--sensor".to_string(),
            "1".into(),
            "--sensor-kind".into(),
            "number-plate-reader".into(),
            "--cell".into(),
            cell.into(),
            "--observed".into(),
            monday.clone(),
            "--form".into(),
            form.into(),
        ]
    };
    let raw = check(context(&wharf_cell, "raw")).await;
    assert_eq!(
        (s(&raw, "decision"), s(&raw, "reason")),
        ("deny".into(), "form-not-covered".into())
    );
    assert_eq!(raw["required_form"], "pseudonymised");
    let ok = check(context(&wharf_cell, "pseudonymised")).await;
    assert_eq!(
        (s(&ok, "decision"), s(&ok, "grant")),
        ("allow".into(), grant_id.clone())
    );
    let outside = check(context(&street_cell, "pseudonymised")).await;
    assert_eq!(s(&outside, "reason"), "zone-not-covered");
    let no_cell = check(vec![
        "--sensor".into(),
        "1".into(),
        "--sensor-kind".into(),
        "number-plate-reader".into(),
        "--observed".into(),
        monday.clone(),
        "--form".into(),
        "pseudonymised".into(),
    ])
    .await;
    assert_eq!(s(&no_cell, "reason"), "context-missing-cell");
    let no_context = check(Vec::new()).await;
    assert_eq!(s(&no_context, "decision"), "deny");
    // Sensor 1 named as another kind (as a later policy version might number it): not covered.
    let mut wrong_kind = context(&wharf_cell, "pseudonymised");
    wrong_kind[3] = "camera".into();
    let wrong_kind = check(wrong_kind).await;
    assert_eq!(
        (s(&wrong_kind, "decision"), s(&wrong_kind, "reason")),
        ("deny".into(), "sensor-not-covered".into())
    );

    // In words: the reason, then the form to transform to.
    let human = env
        .ok(
            "col.json",
            &[
                "check",
                "--subject",
                &subject,
                "--purpose",
                "billing",
                "--category",
                "vehicle",
                "--sensor",
                "1",
                "--sensor-kind",
                "number-plate-reader",
                "--cell",
                &wharf_cell,
                "--observed",
                &monday,
                "--form",
                "raw",
            ],
        )
        .await;
    assert!(
        human.starts_with("deny (form-not-covered)")
            && human.contains("required form: pseudonymised"),
        "{human}"
    );
    env.fails(
        "col.json",
        &[
            "check",
            "--subject",
            &subject,
            "--purpose",
            "billing",
            "--category",
            "vehicle",
            "--cell",
            "not-a-cell",
        ],
        "--cell",
    )
    .await;
    // A sensor is given with its kind, and a kind with its sensor.
    for (flags, says) in [
        (&["--sensor", "1"][..], "--sensor 1 needs --sensor-kind"),
        (
            &["--sensor-kind", "camera"][..],
            "--sensor-kind camera needs --sensor",
        ),
        (
            &["--sensor", "1", "--sensor-kind", "lamp-post"][..],
            "--sensor-kind: unknown sensor kind",
        ),
    ] {
        let mut args = vec![
            "check",
            "--subject",
            subject.as_str(),
            "--purpose",
            "billing",
            "--category",
            "vehicle",
        ];
        args.extend_from_slice(flags);
        env.fails("col.json", &args, says).await;
    }
}

/// `consent --json grant COLLECTOR --purpose billing --category vehicle --yes EXTRA…` with
/// Alice's wallet: the JSON printed, and what was said on stderr.
async fn alice_grants(env: &Env, collector: &str, extra: &[&str]) -> (Value, String) {
    let mut args = vec![
        "--json",
        "grant",
        collector,
        "--purpose",
        "billing",
        "--category",
        "vehicle",
        "--yes",
    ];
    args.extend_from_slice(extra);
    let out = env.run("alice.json", &args).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "grant {extra:?}: {stderr}");
    let printed = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim())
        .unwrap_or_else(|e| panic!("grant {extra:?}: not one JSON object ({e})"));
    (printed, stderr)
}

/// The collector's billing check of `subject` by sensor 1 in `cell` at `observed`, kept in
/// `form`.
async fn billing_check(env: &Env, subject: &str, cell: &str, observed: &str, form: &str) -> Value {
    let text = env
        .ok(
            "col.json",
            &[
                "--json",
                "check",
                "--subject",
                subject,
                "--purpose",
                "billing",
                "--category",
                "vehicle",
                "--sensor",
                "1",
                "--sensor-kind",
                "number-plate-reader",
                "--cell",
                cell,
                "--observed",
                observed,
                "--form",
                form,
            ],
        )
        .await;
    serde_json::from_str(text.trim()).expect("json")
}

/// Review M3 and L8: a narrower grant beside a wider one narrows nothing (any allowing grant
/// allows), so `consent grant` names the wider grant and how to revoke it, and `--replace`
/// revokes it in the same submission; a zone name two zones share is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consenting_to_less_names_the_wider_grant_and_replace_revokes_it() {
    let mut env = Env {
        dir: tempfile::tempdir().expect("tempdir"),
        node: None,
    };
    let reg = env.json("reg.json", &["registrar", "init"]).await;
    env.node = Some(start(env.dir.path(), &s(&reg, "registrar")).await);
    let policy = street_policy_file(env.dir.path());
    let collector = s(
        &env.json("col.json", &["collector", "init", "--policy", &policy])
            .await,
        "collector",
    );
    env.json(
        "reg.json",
        &["registrar", "accredit", &collector, "--until", "365d"],
    )
    .await;
    let pj = env.json("none.json", &["policy", &collector]).await;
    let wharf_cell = pj["scope"]["zones"][0]["cells"][0]
        .as_str()
        .expect("a cell of zone 1")
        .to_string();
    let monday = consent_client::time::format(next_monday_morning_ms());
    env.json("alice.json", &["wallet", "init"]).await;
    let subject = s(
        &env.json("alice.json", &["wallet", "id", &collector]).await,
        "subject",
    );

    // Consent to the whole policy, then "consent to less" as the rights page says.
    let (whole, said) = alice_grants(&env, &collector, &[]).await;
    let whole_id = s(&whole, "grant");
    assert_eq!(
        (&whole["wider_grants"], &whole["replaced"]),
        (&json!([]), &json!([]))
    );
    assert!(!said.contains("allow more"), "nothing wider yet: {said}");
    let (less, said) = alice_grants(
        &env,
        &collector,
        &["--zone", "1", "--form", "billing=pseudonymised"],
    )
    .await;
    let less_id = s(&less, "grant");
    let wider_how =
        format!("{whole_id}: it also allows zone 2 Oudegracht, Gaardbrug to Bakkerbrug");
    let revoke_it = format!("consent revoke {whole_id}");
    for expected in [
        "are still in force and allow more than this one",
        wider_how.as_str(),
        "for billing, it also allows the form raw",
        revoke_it.as_str(),
        "--replace",
    ] {
        assert!(said.contains(expected), "{expected:?} in {said}");
    }
    let named: Vec<String> = less["wider_grants"]
        .as_array()
        .expect("wider_grants")
        .iter()
        .map(|w| s(w, "grant"))
        .collect();
    assert_eq!(named.as_slice(), std::slice::from_ref(&whole_id));
    assert_eq!(less["replaced"], json!([]));
    // Indeed: the whole-policy grant still allows raw data, and the check names it.
    let raw = billing_check(&env, &subject, &wharf_cell, &monday, "raw").await;
    assert_eq!(
        (s(&raw, "decision"), s(&raw, "grant")),
        ("allow".into(), whole_id.clone())
    );

    // --replace: both older grants allow more (other hours too) and are revoked with it.
    let before_replace = consent_client::time::now_ms() / 1_000 * 1_000;
    let (least, said) = alice_grants(
        &env,
        &collector,
        &[
            "--zone",
            "1",
            "--hours",
            "08:00-12:00",
            "--form",
            "billing=pseudonymised",
            "--replace",
        ],
    )
    .await;
    assert!(said.contains("with --replace they are revoked"), "{said}");
    let least_id = s(&least, "grant");
    // Never backdated (re-review N6): in force from the moment it was signed, rounded up.
    let least_from = humantime::parse_rfc3339(&s(&least, "valid_from"))
        .expect("an RFC 3339 time")
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    assert!(least_from >= before_replace, "backdated: {least}");
    let replaced: Vec<String> = least["replaced"]
        .as_array()
        .expect("replaced")
        .iter()
        .map(|r| s(r, "grant"))
        .collect();
    assert_eq!(replaced, [whole_id.clone(), less_id.clone()]);
    let listed = env.ok("alice.json", &["--json", "list"]).await;
    let in_force: Vec<String> = listed
        .lines()
        .map(|l| s(&serde_json::from_str::<Value>(l).expect("json"), "grant"))
        .collect();
    assert_eq!(
        in_force.as_slice(),
        std::slice::from_ref(&least_id),
        "only the narrowest is left"
    );
    let raw = billing_check(&env, &subject, &wharf_cell, &monday, "raw").await;
    assert_eq!(
        (s(&raw, "decision"), s(&raw, "reason")),
        ("deny".into(), "form-not-covered".into())
    );
    let kept = billing_check(&env, &subject, &wharf_cell, &monday, "pseudonymised").await;
    assert_eq!(
        (s(&kept, "decision"), s(&kept, "grant")),
        ("allow".into(), least_id)
    );

    // L8: a policy whose two zones share a name (case aside): the name chooses neither.
    let street = std::fs::read_to_string(&policy).expect("street policy");
    let twin = street.replace(
        "name = \"Oudegracht, Gaardbrug to Bakkerbrug\"",
        "name = \"OUDEGRACHT WHARF, STADHUISBRUG TO BAKKERBRUG\"",
    );
    assert_ne!(twin, street, "the example names zone 2 so");
    let twin_path = env.path("twin-policy.toml");
    std::fs::write(&twin_path, twin).expect("write");
    let twin_collector = s(
        &env.json(
            "twin.json",
            &[
                "collector",
                "init",
                "--policy",
                &twin_path.display().to_string(),
            ],
        )
        .await,
        "collector",
    );
    env.fails(
        "alice.json",
        &[
            "grant",
            &twin_collector,
            "--purpose",
            "billing",
            "--category",
            "vehicle",
            "--zone",
            "Oudegracht wharf, Stadhuisbrug to Bakkerbrug",
            "--yes",
        ],
        "2 zones of this policy are named \"Oudegracht wharf, Stadhuisbrug to Bakkerbrug\" \
         (zone 1 Oudegracht wharf, Stadhuisbrug to Bakkerbrug, zone 2 OUDEGRACHT WHARF, \
         STADHUISBRUG TO BAKKERBRUG); choose one by its id: --zone 1 or --zone 2",
    )
    .await;
}
