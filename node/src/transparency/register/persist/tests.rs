//! The saved register against its own reading: it reads back the same and saves to the same
//! bytes; a damaged, forged, other-rules or out-of-bounds file is refused with why; the file is
//! replaced whole and never read or written through a link or a FIFO.

use std::collections::HashSet;

use consent_proto::body::{Body, Grant};
use consent_proto::entry::Entry;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::limits::MAX_ZONES;
use consent_proto::scope::GrantScope;
use consent_proto::vocab::{DataCategory, Form, Purpose, RequestKind, Role, SensorKindSet};

use super::super::{PolicyVersion, RULES_VERSION, Register};
use super::*;

/// A register with a scoped policy and consents per zone and form, a draft with an
/// outcome, a suspension, grants that start later and end, a revocation and requests.
fn sample() -> (Register, Vec<Entry>) {
    let mut scene = fixtures::street_scene(T0);
    let collector = scene.collector.feed();
    let mut entries = scene.entries.clone();
    let mut granted = Vec::new();
    for (i, zones) in [vec![], vec![1], vec![2]].into_iter().enumerate() {
        let (mut citizen, inception) = fixtures::author(Role::Citizen, &format!("p{i}"), T0);
        let scope = (!zones.is_empty()).then(|| GrantScope {
            zones,
            sensors: Vec::new(),
            sensor_kinds: SensorKindSet::EMPTY,
            windows: Vec::new(),
            forms: vec![(Purpose::UrbanPlanning, Form::Aggregated)],
        });
        let grant = fixtures::append(
            &mut citizen,
            T0 + 1,
            Body::Grant(Grant {
                collector,
                policy: scene.policy,
                purposes: [Purpose::UrbanPlanning].into_iter().collect(),
                categories: [DataCategory::Location].into_iter().collect(),
                retention_days: 30,
                valid_from: T0 + u64::try_from(i).unwrap_or(0) * DAY,
                valid_until: Some(T0 + 30 * DAY),
                scope,
                on_behalf: None,
            }),
        );
        entries.extend([inception, grant.clone()]);
        granted.push((citizen, grant));
    }
    if let Some((citizen, grant)) = granted.first_mut() {
        let id = grant.id;
        entries.push(fixtures::append(
            citizen,
            T0 + 2,
            fixtures::revoke(id, true),
        ));
        entries.push(fixtures::append(
            citizen,
            T0 + 3,
            fixtures::request(collector, RequestKind::Erasure),
        ));
    }
    let draft = fixtures::append(
        &mut scene.collector,
        T0 + DAY,
        fixtures::draft_policy(2, T0 + 20 * DAY),
    );
    let outcome = fixtures::append(
        &mut scene.registrar,
        T0 + 21 * DAY,
        fixtures::outcome(draft.id, true, "approved", &[]),
    );
    let suspension = fixtures::append(
        &mut scene.registrar,
        T0 + 22 * DAY,
        fixtures::suspend(collector),
    );
    entries.extend([draft, outcome, suspension]);
    let (_, other) = fixtures::author(Role::Collector, "no policy yet", T0);
    entries.push(other);
    let registrars: HashSet<FeedId> = [scene.registrar.feed()].into_iter().collect();
    let mut register = Register::new(registrars);
    for e in &entries {
        let find = |id: &EntryId| entries.iter().find(|x| x.id == *id).cloned();
        register.apply(e, find).expect("applies");
    }
    register.read_to = u64::try_from(entries.len()).unwrap_or(u64::MAX);
    (register, entries)
}

/// The policy entry `id` of `entries`, as the store gives it.
fn policy_in(entries: &[Entry], id: &EntryId) -> Result<Option<PolicyVersion>, String> {
    Ok(entries
        .iter()
        .find(|e| e.id == *id)
        .and_then(|e| match &e.body {
            Body::Policy(p) => Some(PolicyVersion {
                id: e.id,
                at_ms: e.time_ms,
                policy: p.clone(),
            }),
            _ => None,
        }))
}

/// The key of a node whose seed is `seed`.
fn key(seed: u8) -> FileKey {
    FileKey::of(&SecretKey::from_seed(&[seed; 32]))
}

#[test]
fn a_saved_register_reads_back_the_same() {
    let (register, entries) = sample();
    let bytes = encode(&saved(&register, [7; 32]), &key(1)).expect("encodes");
    let back = decode(&bytes, &key(1)).expect("decodes");
    assert_eq!((back.log_size, back.root), (register.read_to, [7; 32]));
    let restored = restore(back, register.registrars.clone(), |id| {
        policy_in(&entries, id)
    })
    .expect("restores");
    assert_eq!(restored, register);
    assert!(!restored.drafts.is_empty(), "the sample has a draft");
    // The same register saves to the same bytes.
    assert_eq!(
        encode(&saved(&restored, [7; 32]), &key(1)).expect("encodes"),
        bytes
    );
    assert_eq!(format!("{:?}", key(1)), "FileKey(..)", "nothing of the key");
}

#[test]
fn a_damaged_file_or_another_genesis_is_refused_with_why() {
    let (register, entries) = sample();
    let bytes = encode(&saved(&register, [7; 32]), &key(1)).expect("encodes");
    let mut damaged = bytes.clone();
    if let Some(last) = damaged.last_mut() {
        *last ^= 1;
    }
    assert!(
        decode(&damaged, &key(1))
            .expect_err("damaged")
            .contains("checksum")
    );
    let mut newer = bytes.clone();
    newer[11] = 3;
    assert!(
        decode(&newer, &key(1))
            .expect_err("another version")
            .contains("version 3")
    );
    assert!(decode(&bytes[..20], &key(1)).is_err(), "cut short");
    assert!(decode(b"", &key(1)).is_err());
    let other: HashSet<FeedId> = [FeedId([9; 32])].into_iter().collect();
    let back = decode(&bytes, &key(1)).expect("decodes");
    assert!(
        restore(back, other, |id| policy_in(&entries, id))
            .expect_err("other registrars")
            .contains("registrars")
    );
    // A policy the store does not hold.
    let back = decode(&bytes, &key(1)).expect("decodes");
    assert!(
        restore(back, register.registrars.clone(), |id| policy_in(&[], id))
            .expect_err("no policies")
            .contains("not in the store")
    );
}

/// Anyone who can write the file but does not hold the node's key can edit the figures and
/// re-hash it: the checksum is a MAC keyed from the node's key, so the edited file is not
/// loaded. Nor is a file counted under other rules (a release that changed what an entry
/// adds), even with the right key.
#[test]
fn a_file_edited_without_the_node_key_or_counted_under_other_rules_is_refused() {
    let (register, _) = sample();
    let mut forged = saved(&register, [7; 32]);
    forged.collectors[0].grants += 1_000;
    forged.collectors[0].unrevoked += 1_000;
    let bytes = encode(&forged, &key(2)).expect("encodes");
    assert!(
        decode(&bytes, &key(1))
            .expect_err("another key")
            .contains("this node's key")
    );
    // The old form: a plain BLAKE3 of the body, no rules version.
    let body = postcard::to_stdvec(&saved(&register, [7; 32])).expect("encodes");
    let mut old = Vec::new();
    old.extend_from_slice(MAGIC);
    old.extend_from_slice(&1u32.to_be_bytes());
    old.extend_from_slice(blake3::hash(&body).as_bytes());
    old.extend_from_slice(&body);
    assert!(
        decode(&old, &key(1))
            .expect_err("version 1")
            .contains("version 1")
    );
    // Other counting rules, with the right key.
    let mut other_rules = encode(&saved(&register, [7; 32]), &key(1)).expect("encodes");
    other_rules[12..16].copy_from_slice(&(RULES_VERSION + 1).to_be_bytes());
    let label = other_rules[..LABEL].to_vec();
    let mac = key(1).mac(&label, &other_rules[HEADER..]);
    other_rules[LABEL..HEADER].copy_from_slice(mac.as_bytes());
    assert!(
        decode(&other_rules, &key(1))
            .expect_err("other rules")
            .contains("rules version")
    );
}

/// A state the register could not hold in memory is refused whole, with why: whoever wrote
/// it, it is not a register this release builds.
#[test]
fn a_state_beyond_what_the_register_holds_is_refused() {
    let (register, entries) = sample();
    let registrars = register.registrars.clone();
    let refused = |change: &dyn Fn(&mut Saved), why: &str| {
        let mut state = saved(&register, [7; 32]);
        change(&mut state);
        let found =
            restore(state, registrars.clone(), |id| policy_in(&entries, id)).expect_err(why);
        assert!(found.contains(why), "{why:?} not in {found:?}");
    };
    let with_scope = |s: &Saved| {
        s.collectors
            .iter()
            .position(|c| !c.scope_counts.is_empty())
            .expect("the sample has a scoped policy")
    };
    refused(
        &|s| s.collectors[0].unrevoked = s.collectors[0].grants + 1,
        "than grants",
    );
    refused(
        &|s| s.collectors[0].revocations = s.collectors[0].grants + 1,
        "than grants",
    );
    refused(
        &|s| {
            let c = &mut s.collectors[0];
            c.ends = vec![(1, c.unrevoked + 1)];
        },
        "starting or ending",
    );
    refused(
        &|s| {
            s.collectors[0].standing.push((
                [9; 32],
                SavedStanding::Accredited {
                    valid_until: 1,
                    at_ms: 1,
                },
            ))
        },
        "registrar the genesis does not list",
    );
    refused(
        &|s| {
            let i = with_scope(&*s);
            let scope = &mut s.collectors[i].scope_counts[0].1;
            scope.zones = (0..=MAX_ZONES as u32).map(|z| (z, 1)).collect();
        },
        "more zones",
    );
    refused(
        &|s| {
            let i = with_scope(&*s);
            s.collectors[i].scope_counts[0].0 = [5; 32];
        },
        "does not keep",
    );
    refused(
        &|s| {
            let i = s
                .collectors
                .iter()
                .position(|c| !c.consultations.is_empty())
                .expect("the sample has a draft");
            let draft = s.collectors[i].consultations[0].clone();
            s.collectors[i].consultations.push(draft);
        },
        "listed twice",
    );
    refused(
        &|s| {
            let first = s.collectors[0].feed;
            s.collectors.push(SavedCollector {
                feed: first,
                ..s.collectors[0].clone()
            });
        },
        "listed twice",
    );
}

#[test]
fn the_file_is_replaced_whole() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    assert_eq!(read(dir.path()).expect("no file is no error"), None);
    write(dir.path(), b"first").expect("written");
    write(dir.path(), b"second").expect("replaced");
    assert_eq!(read(dir.path()).expect("read"), Some(b"second".to_vec()));
    assert!(!dir.path().join(format!("{FILE}.tmp")).exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path(dir.path()))
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "readable by the node only");
    }
}

/// Whoever can write the data directory cannot make the node read through a link (to
/// `/dev/zero`: a GiB read for nothing), block on a FIFO, or, by planting a link where the
/// temporary file goes, write the register over another file (its key, a store segment).
#[cfg(unix)]
#[test]
fn links_fifos_and_a_planted_temporary_link_are_never_followed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let target = dir.path().join("node.key");
    std::fs::write(&target, b"the node key").expect("written");
    std::os::unix::fs::symlink(&target, path(dir.path())).expect("a link");
    assert!(
        read(dir.path())
            .expect_err("a link is not read")
            .contains("not a regular file")
    );
    std::fs::remove_file(path(dir.path())).expect("removed");

    let fifo = std::process::Command::new("mkfifo")
        .arg(path(dir.path()))
        .status()
        .expect("mkfifo runs");
    assert!(fifo.success(), "a FIFO made");
    assert!(
        read(dir.path())
            .expect_err("a FIFO is not opened")
            .contains("not a regular file")
    );
    std::fs::remove_file(path(dir.path())).expect("removed");

    let tmp = dir.path().join(format!("{FILE}.tmp"));
    std::os::unix::fs::symlink(&target, &tmp).expect("a planted link");
    write(dir.path(), b"the register").expect("written");
    assert_eq!(
        std::fs::read(&target).expect("read"),
        b"the node key",
        "the link's target is untouched"
    );
    assert_eq!(
        read(dir.path()).expect("read"),
        Some(b"the register".to_vec())
    );
}
