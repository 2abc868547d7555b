//! The register's saved form, so that a start reads only the log after it: the file
//! [`FILE`] in the node's data directory. **The follower owns it**: it alone writes it (every
//! [`SAVE_EVERY`] entries it takes in, and when the node stops) and reads it (when it starts);
//! the ledger never sees it, and nothing is lost without it (the register is rebuilt from the
//! log, as on a node's first start).
//!
//! What it holds: the log position `P` it describes (the register took in the entries at
//! arrival indexes `0..P`), the Merkle root of the arrival log at `P` (which binds it to this
//! node's log: a file from another store, or from a store restored from an older backup, does
//! not match), a digest of the genesis registrars whose statements it counted, and for each
//! collector what the register keeps of it (counts, the ids of its kept policy versions, its
//! standing, consultation facts, consents per zone and form). It holds no policy text: the
//! latest versions kept in full are read from the store by id when it is loaded, and no citizen
//! id, as the register holds none.
//!
//! Layout: `MAGIC` (8 bytes) ‖ `VERSION` (4, big-endian) ‖ BLAKE3 of what follows (32) ‖ the
//! postcard encoding of [`Saved`]. It is written to a temporary file, synced, renamed over the
//! old one and the directory synced, so a crash leaves the old file or the new one. A file that
//! is missing, of another version, damaged (its checksum), of another log or another set of
//! registrars is not used: the follower says why (a warning) and reads the whole log.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use consent_proto::consultation::{DraftFacts, OutcomeFacts};
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::vocab::{Form, Purpose, RequestKind};
use serde::{Deserialize, Serialize};

use super::{
    Collector, POLICIES_IN_MEMORY, POLICY_IDS_KEPT, PolicyVersion, Register, ScopeCounts, Standing,
};

/// The file in the data directory.
pub(crate) const FILE: &str = "transparency-register";
/// Entries the follower takes in between two saves: a start after a crash reads at most this
/// many more entries of the log than the node appended since its last clean stop or save.
pub(crate) const SAVE_EVERY: u64 = 65_536;
/// What the file starts with.
const MAGIC: &[u8; 8] = b"CLREGST\n";
/// The version of the form; a file of another version is not read.
const VERSION: u32 = 1;
/// Bytes before the encoded state: magic, version, checksum.
const HEADER: usize = 8 + 4 + 32;
/// Largest file read (a bigger one is taken as damaged).
const MAX_FILE_BYTES: u64 = 1 << 30;

/// The register as saved.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Saved {
    /// The register took in the arrival log's entries `0..log_size`.
    pub log_size: u64,
    /// The Merkle root of the arrival log at `log_size`.
    pub root: [u8; 32],
    /// [`registrars_digest`] of the registrars whose statements it counted.
    pub registrars: [u8; 32],
    /// Every collector, by feed id.
    collectors: Vec<SavedCollector>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedCollector {
    feed: [u8; 32],
    since_ms: u64,
    policy_ids: Vec<[u8; 32]>,
    versions: u64,
    standing: Vec<([u8; 32], SavedStanding)>,
    grants: u64,
    unrevoked: u64,
    starts: Vec<(u64, u64)>,
    ends: Vec<(u64, u64)>,
    revocations: u64,
    erase_revocations: u64,
    requests: Vec<u64>,
    scope_counts: Vec<([u8; 32], SavedScope)>,
    consultations: Vec<SavedDraft>,
}

#[derive(Debug, Serialize, Deserialize)]
enum SavedStanding {
    Accredited { valid_until: u64, at_ms: u64 },
    Suspended { reason: String, at_ms: u64 },
}

/// [`ScopeCounts`], with purposes and forms as their wire numbers.
#[derive(Debug, Serialize, Deserialize)]
struct SavedScope {
    every_zone: u64,
    zones: Vec<(u32, u64)>,
    floors: Vec<(i32, i32, u64)>,
    unfloored: Vec<(i32, u64)>,
}

/// [`DraftFacts`].
#[derive(Debug, Serialize, Deserialize)]
struct SavedDraft {
    id: [u8; 32],
    collector: [u8; 32],
    version: u32,
    time_ms: u64,
    closes_ms: u64,
    gated: bool,
    superseded_ms: Option<u64>,
    first_approval: Option<SavedOutcome>,
    first_changes_required: Option<SavedOutcome>,
}

/// [`OutcomeFacts`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct SavedOutcome {
    id: [u8; 32],
    time_ms: u64,
    approved: bool,
}

/// The path of the file in `data_dir`.
pub(crate) fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// A digest of a set of registrars (in id order).
pub(super) fn registrars_digest(registrars: &HashSet<FeedId>) -> [u8; 32] {
    let mut ids: Vec<&FeedId> = registrars.iter().collect();
    ids.sort();
    let mut h = blake3::Hasher::new();
    for id in ids {
        h.update(&id.0);
    }
    *h.finalize().as_bytes()
}

/// `register`'s saved form, describing the log up to its position, whose Merkle root is `root`.
pub(super) fn saved(register: &Register, root: [u8; 32]) -> Saved {
    Saved {
        log_size: register.read_to,
        root,
        registrars: registrars_digest(&register.registrars),
        collectors: register
            .collectors
            .iter()
            .map(|(feed, c)| collector(feed, c))
            .collect(),
    }
}

/// What is saved of one collector (hash maps in key order: the file's bytes do not depend on
/// their order).
fn collector(feed: &FeedId, c: &Collector) -> SavedCollector {
    let mut scope_counts: Vec<([u8; 32], SavedScope)> = c
        .scope_counts
        .iter()
        .map(|(id, s)| (id.0, scope_form(s)))
        .collect();
    scope_counts.sort_by_key(|(id, _)| *id);
    let mut consultations: Vec<SavedDraft> = c.consultations.values().map(draft).collect();
    consultations.sort_by_key(|d| d.id);
    SavedCollector {
        feed: feed.0,
        since_ms: c.since_ms,
        policy_ids: c.policy_ids.iter().map(|id| id.0).collect(),
        versions: c.versions,
        standing: c
            .standing
            .iter()
            .map(|(registrar, s)| (registrar.0, standing_form(s)))
            .collect(),
        grants: c.grants,
        unrevoked: c.unrevoked,
        starts: c.starts.iter().map(|(m, n)| (*m, *n)).collect(),
        ends: c.ends.iter().map(|(m, n)| (*m, *n)).collect(),
        revocations: c.revocations,
        erase_revocations: c.erase_revocations,
        requests: c.requests.to_vec(),
        scope_counts,
        consultations,
    }
}

fn standing_form(s: &Standing) -> SavedStanding {
    match s {
        Standing::Accredited { valid_until, at_ms } => SavedStanding::Accredited {
            valid_until: *valid_until,
            at_ms: *at_ms,
        },
        Standing::Suspended { reason, at_ms } => SavedStanding::Suspended {
            reason: reason.clone(),
            at_ms: *at_ms,
        },
    }
}

fn scope_form(s: &ScopeCounts) -> SavedScope {
    SavedScope {
        every_zone: s.every_zone,
        zones: s.zones.iter().map(|(z, n)| (*z, *n)).collect(),
        floors: s
            .floors
            .iter()
            .map(|((p, f), n)| (*p as i32, *f as i32, *n))
            .collect(),
        unfloored: s.unfloored.iter().map(|(p, n)| (*p as i32, *n)).collect(),
    }
}

fn draft(f: &DraftFacts) -> SavedDraft {
    let outcome = |o: Option<OutcomeFacts>| {
        o.map(|o| SavedOutcome {
            id: o.id.0,
            time_ms: o.time_ms,
            approved: o.approved,
        })
    };
    SavedDraft {
        id: f.id.0,
        collector: f.collector.0,
        version: f.version,
        time_ms: f.time_ms,
        closes_ms: f.closes_ms,
        gated: f.gated,
        superseded_ms: f.superseded_ms,
        first_approval: outcome(f.first_approval),
        first_changes_required: outcome(f.first_changes_required),
    }
}

/// The register `saved` describes, counting the statements of `registrars`, its latest policy
/// versions read by `policy` (from the store). `Err` says why it cannot be used.
pub(super) fn restore<E, F>(
    saved: Saved,
    registrars: HashSet<FeedId>,
    mut policy: F,
) -> Result<Register, String>
where
    E: std::fmt::Display,
    F: FnMut(&EntryId) -> Result<Option<PolicyVersion>, E>,
{
    if saved.registrars != registrars_digest(&registrars) {
        return Err("it was built for other registrars than the genesis lists".into());
    }
    let mut register = Register::new(registrars);
    register.read_to = saved.log_size;
    for s in saved.collectors {
        let feed = FeedId(s.feed);
        if s.policy_ids.len() > POLICY_IDS_KEPT {
            return Err(format!("collector {feed:?} keeps too many policy ids"));
        }
        let requests: [u64; RequestKind::ALL.len()] = s
            .requests
            .as_slice()
            .try_into()
            .map_err(|_| format!("collector {feed:?}: request counts of another vocabulary"))?;
        let policy_ids: VecDeque<EntryId> = s.policy_ids.iter().map(|id| EntryId(*id)).collect();
        let mut recent = VecDeque::new();
        for id in policy_ids
            .iter()
            .skip(policy_ids.len().saturating_sub(POLICIES_IN_MEMORY))
        {
            match policy(id) {
                Ok(Some(version)) => recent.push_back(version),
                Ok(None) => return Err(format!("policy {id} is not in the store")),
                Err(e) => return Err(format!("cannot read policy {id}: {e}")),
            }
        }
        let mut scope_counts = HashMap::new();
        for (id, counts) in s.scope_counts {
            let counts = scope(counts).ok_or("an unknown purpose or form")?;
            scope_counts.insert(EntryId(id), counts);
        }
        let mut consultations = HashMap::new();
        for d in s.consultations {
            let facts = facts(&d);
            if facts.collector != feed {
                return Err(format!(
                    "a consultation of collector {feed:?} names another"
                ));
            }
            register.drafts.insert(facts.id, feed);
            consultations.insert(facts.id, facts);
        }
        let collector = Collector {
            since_ms: s.since_ms,
            recent,
            policy_ids,
            versions: s.versions,
            standing: s
                .standing
                .into_iter()
                .map(|(registrar, standing)| {
                    let standing = match standing {
                        SavedStanding::Accredited { valid_until, at_ms } => {
                            Standing::Accredited { valid_until, at_ms }
                        }
                        SavedStanding::Suspended { reason, at_ms } => {
                            Standing::Suspended { reason, at_ms }
                        }
                    };
                    (FeedId(registrar), standing)
                })
                .collect(),
            grants: s.grants,
            unrevoked: s.unrevoked,
            starts: s.starts.into_iter().collect::<BTreeMap<_, _>>(),
            ends: s.ends.into_iter().collect::<BTreeMap<_, _>>(),
            revocations: s.revocations,
            erase_revocations: s.erase_revocations,
            requests,
            scope_counts,
            consultations,
        };
        register.order.insert(collector.order(&feed));
        if register.collectors.insert(feed, collector).is_some() {
            return Err(format!("collector {feed:?} is listed twice"));
        }
    }
    Ok(register)
}

fn scope(s: SavedScope) -> Option<ScopeCounts> {
    let mut floors = BTreeMap::new();
    for (p, f, n) in s.floors {
        floors.insert((Purpose::from_wire(p)?, Form::from_wire(f)?), n);
    }
    let mut unfloored = BTreeMap::new();
    for (p, n) in s.unfloored {
        unfloored.insert(Purpose::from_wire(p)?, n);
    }
    Some(ScopeCounts {
        every_zone: s.every_zone,
        zones: s.zones.into_iter().collect(),
        floors,
        unfloored,
    })
}

fn facts(d: &SavedDraft) -> DraftFacts {
    let outcome = |o: Option<SavedOutcome>| {
        o.map(|o| OutcomeFacts {
            id: EntryId(o.id),
            time_ms: o.time_ms,
            approved: o.approved,
        })
    };
    DraftFacts {
        id: EntryId(d.id),
        collector: FeedId(d.collector),
        version: d.version,
        time_ms: d.time_ms,
        closes_ms: d.closes_ms,
        gated: d.gated,
        superseded_ms: d.superseded_ms,
        first_approval: outcome(d.first_approval),
        first_changes_required: outcome(d.first_changes_required),
    }
}

/// The file's bytes for `saved`.
pub(super) fn encode(saved: &Saved) -> Result<Vec<u8>, String> {
    let body = postcard::to_stdvec(saved).map_err(|e| format!("cannot encode: {e}"))?;
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(blake3::hash(&body).as_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// The state a file's bytes hold; `Err` says why they cannot be used.
pub(super) fn decode(bytes: &[u8]) -> Result<Saved, String> {
    if bytes.len() < HEADER || !bytes.starts_with(MAGIC) {
        return Err("it is not a saved register".into());
    }
    let mut version = [0u8; 4];
    version.copy_from_slice(&bytes[8..12]);
    let version = u32::from_be_bytes(version);
    if version != VERSION {
        return Err(format!(
            "it is of version {version}; this release reads {VERSION}"
        ));
    }
    let body = &bytes[HEADER..];
    if blake3::hash(body).as_bytes()[..] != bytes[12..HEADER] {
        return Err("its checksum does not match (damaged)".into());
    }
    postcard::from_bytes(body).map_err(|e| format!("it does not decode: {e}"))
}

/// Reads the file in `data_dir`: `Ok(None)` when there is none.
pub(super) fn read(data_dir: &Path) -> Result<Option<Vec<u8>>, String> {
    let path = path(data_dir);
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open {}: {e}", path.display())),
    };
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(format!(
            "{} is larger than {MAX_FILE_BYTES} bytes",
            path.display()
        ));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_FILE_BYTES), &mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(Some(bytes))
}

/// Replaces the file in `data_dir` with `bytes`: a temporary file, synced, renamed over it, the
/// directory synced; a crash leaves the old file or the new one.
pub(super) fn write(data_dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let path = path(data_dir);
    let tmp = data_dir.join(format!("{FILE}.tmp"));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, &path)?;
    // The rename itself survives a crash once the directory is synced.
    std::fs::File::open(data_dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use consent_proto::body::{Body, Grant};
    use consent_proto::entry::Entry;
    use consent_proto::fixtures::{self, DAY, T0};
    use consent_proto::scope::GrantScope;
    use consent_proto::vocab::{DataCategory, Role, SensorKindSet};

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

    #[test]
    fn a_saved_register_reads_back_the_same() {
        let (register, entries) = sample();
        let bytes = encode(&saved(&register, [7; 32])).expect("encodes");
        let back = decode(&bytes).expect("decodes");
        assert_eq!((back.log_size, back.root), (register.read_to, [7; 32]));
        let restored = restore(back, register.registrars.clone(), |id| {
            policy_in(&entries, id)
        })
        .expect("restores");
        assert_eq!(restored, register);
        assert!(!restored.drafts.is_empty(), "the sample has a draft");
        // The same register saves to the same bytes.
        assert_eq!(encode(&saved(&restored, [7; 32])).expect("encodes"), bytes);
    }

    #[test]
    fn a_damaged_file_or_another_genesis_is_refused_with_why() {
        let (register, entries) = sample();
        let bytes = encode(&saved(&register, [7; 32])).expect("encodes");
        let mut damaged = bytes.clone();
        if let Some(last) = damaged.last_mut() {
            *last ^= 1;
        }
        assert!(decode(&damaged).expect_err("damaged").contains("checksum"));
        let mut newer = bytes.clone();
        newer[11] = 2;
        assert!(
            decode(&newer)
                .expect_err("another version")
                .contains("version 2")
        );
        assert!(decode(&bytes[..20]).is_err(), "cut short");
        assert!(decode(b"").is_err());
        let other: HashSet<FeedId> = [FeedId([9; 32])].into_iter().collect();
        let back = decode(&bytes).expect("decodes");
        assert!(
            restore(back, other, |id| policy_in(&entries, id))
                .expect_err("other registrars")
                .contains("registrars")
        );
        // A policy the store does not hold.
        let back = decode(&bytes).expect("decodes");
        assert!(
            restore(back, register.registrars.clone(), |id| policy_in(&[], id))
                .expect_err("no policies")
                .contains("not in the store")
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
    }
}
