//! The register's saved form, so that a start reads only the log after it: the file
//! [`FILE`] in the node's data directory. **The follower owns it**: it alone writes it (every
//! [`SAVE_EVERY`] entries it takes in, and when the node stops) and reads it (when it starts);
//! the ledger never sees it. Without it the register is rebuilt from the log, as on a node's
//! first start.
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
//! **What is trusted.** The figures a loaded file holds are shown as they are (nothing before
//! `P` is read again), so a file is loaded only if this node wrote it, under this release's
//! counting rules: its checksum is a MAC keyed with [`FileKey`], derived from the node's secret
//! key (whoever can edit the file but not read `node.key` cannot forge it), and its header names
//! the version of the form ([`VERSION`]) and of the counting rules
//! ([`super::RULES_VERSION`]). Its contents are held to the bounds the register keeps in memory
//! ([`restore`]). `consentd check-store --full` rebuilds the register from the log and compares
//! ([`super::follower::compare_saved`]): what catches a file written with the node's key by
//! anyone else, or counted by a bug that kept the rules version.
//!
//! Layout: `MAGIC` (8 bytes) ‖ `VERSION` (4, big-endian) ‖ `RULES_VERSION` (4, big-endian) ‖
//! keyed BLAKE3 of the 16 bytes before it and of what follows (32) ‖ the postcard encoding of
//! [`Saved`]. It is written to a temporary file created anew (never through a link, mode 0600),
//! synced, renamed over the old one and the directory synced, so a crash leaves the old file or
//! the new one; it is read only if it is a regular file (not a link, a FIFO or a device). A file
//! that is missing, of another version or other rules, damaged or written with another key (its
//! checksum), of another log or another set of registrars, or outside the bounds is not used:
//! the follower says why (a warning) and reads the whole log.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use consent_proto::consultation::{DraftFacts, OutcomeFacts};
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::keys::SecretKey;
use consent_proto::limits::{MAX_FORM_OFFERS, MAX_FORM_PURPOSES, MAX_ZONES};
use consent_proto::vocab::{Form, Purpose, RequestKind};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{
    Collector, POLICIES_IN_MEMORY, POLICY_IDS_KEPT, PolicyVersion, RULES_VERSION, Register,
    ScopeCounts, Standing,
};

/// The file in the data directory.
pub(crate) const FILE: &str = "transparency-register";
/// Entries the follower takes in between two saves: a start after a crash reads at most this
/// many more entries of the log than the node appended since its last clean stop or save.
pub(crate) const SAVE_EVERY: u64 = 65_536;
/// What the file starts with.
const MAGIC: &[u8; 8] = b"CLREGST\n";
/// The version of the form; a file of another version is not read (1: an unkeyed checksum and
/// no rules version, never loaded by this release).
const VERSION: u32 = 2;
/// Bytes before the encoded state: magic, version, rules version, MAC.
const HEADER: usize = 8 + 4 + 4 + 32;
/// The bytes the MAC covers before the encoded state: magic, version, rules version.
const LABEL: usize = 8 + 4 + 4;
/// Largest file read or written (a bigger one is not read; a register whose form would be
/// bigger is not saved).
const MAX_FILE_BYTES: u64 = 1 << 30;
/// The context of the derivation of [`FileKey`] from the node's secret key.
const KEY_CONTEXT: &str = "consent-ledger transparency register v1";

/// The key of the file's MAC, derived from the node's secret key (BLAKE3 `derive_key` with
/// [`KEY_CONTEXT`]): a file is loaded only if it was written with it. Zeroised when the last
/// clone goes; its `Debug` shows nothing of it.
#[derive(Clone)]
pub(crate) struct FileKey(Arc<Zeroizing<[u8; 32]>>);

impl FileKey {
    /// The key of the node whose secret key is `node_key`.
    pub(crate) fn of(node_key: &SecretKey) -> Self {
        let seed = node_key.to_seed();
        Self(Arc::new(Zeroizing::new(blake3::derive_key(
            KEY_CONTEXT,
            seed.as_ref(),
        ))))
    }

    /// The MAC of a file whose first [`LABEL`] bytes are `label` and whose state is `body`.
    fn mac(&self, label: &[u8], body: &[u8]) -> blake3::Hash {
        let key: &[u8; 32] = &self.0;
        let mut h = blake3::Hasher::new_keyed(key);
        h.update(label);
        h.update(body);
        h.finalize()
    }
}

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKey(..)")
    }
}

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

#[derive(Debug, Clone, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Serialize, Deserialize)]
enum SavedStanding {
    Accredited { valid_until: u64, at_ms: u64 },
    Suspended { reason: String, at_ms: u64 },
}

/// [`ScopeCounts`], with purposes and forms as their wire numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedScope {
    every_zone: u64,
    zones: Vec<(u32, u64)>,
    floors: Vec<(i32, i32, u64)>,
    unfloored: Vec<(i32, u64)>,
}

/// [`DraftFacts`].
#[derive(Debug, Clone, Serialize, Deserialize)]
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
/// versions read by `policy` (from the store). `Err` says why it cannot be used: besides another
/// set of registrars or a policy the store lacks, a state outside what the register can hold in
/// memory (more policy ids than it keeps, scope counts or consultations of versions it does not
/// keep, more zones or (purpose, form) pairs than a scope has, a standing from a registrar the
/// genesis does not list, more revocations or grants not revoked than grants, a draft or a
/// collector listed twice).
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
        let bad = |why: &str| format!("collector {feed:?}: {why}");
        counts_hold(&s).map_err(bad)?;
        let requests: [u64; RequestKind::ALL.len()] = s
            .requests
            .as_slice()
            .try_into()
            .map_err(|_| bad("request counts of another vocabulary"))?;
        let policy_ids: VecDeque<EntryId> = s.policy_ids.iter().map(|id| EntryId(*id)).collect();
        let kept: HashSet<&EntryId> = policy_ids.iter().collect();
        if kept.len() != policy_ids.len() {
            return Err(bad("a policy id listed twice"));
        }
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
            let id = EntryId(id);
            if !kept.contains(&id) {
                return Err(bad("scope counts of a policy version it does not keep"));
            }
            let counts = scope(counts).map_err(bad)?;
            if scope_counts.insert(id, counts).is_some() {
                return Err(bad("scope counts listed twice"));
            }
        }
        let mut consultations = HashMap::new();
        for d in s.consultations {
            let facts = facts(&d);
            if facts.collector != feed {
                return Err(bad("a consultation names another collector"));
            }
            if !kept.contains(&facts.id) {
                return Err(bad("a consultation of a policy version it does not keep"));
            }
            if register.drafts.insert(facts.id, feed).is_some() {
                return Err(format!("consultation {} is listed twice", facts.id));
            }
            consultations.insert(facts.id, facts);
        }
        let mut standing = BTreeMap::new();
        for (registrar, saved) in s.standing {
            let registrar = FeedId(registrar);
            if !register.registrars.contains(&registrar) {
                return Err(bad("a standing from a registrar the genesis does not list"));
            }
            let value = match saved {
                SavedStanding::Accredited { valid_until, at_ms } => {
                    Standing::Accredited { valid_until, at_ms }
                }
                SavedStanding::Suspended { reason, at_ms } => Standing::Suspended { reason, at_ms },
            };
            if standing.insert(registrar, value).is_some() {
                return Err(bad("a registrar's standing listed twice"));
            }
        }
        let starts = minutes(s.starts).map_err(bad)?;
        let ends = minutes(s.ends).map_err(bad)?;
        let collector = Collector {
            since_ms: s.since_ms,
            recent,
            policy_ids,
            versions: s.versions,
            standing,
            grants: s.grants,
            unrevoked: s.unrevoked,
            starts,
            ends,
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

/// The counts a collector's state must hold to, as the register keeps them: at most
/// [`POLICY_IDS_KEPT`] policy ids, no more than it published; no more revocations, nor grants
/// not revoked, than grants; no more erasing revocations than revocations; no more grants
/// starting later, nor ending, than grants not revoked.
fn counts_hold(s: &SavedCollector) -> Result<(), &'static str> {
    if s.policy_ids.len() > POLICY_IDS_KEPT {
        return Err("too many policy ids");
    }
    if s.policy_ids.len() as u64 > s.versions {
        return Err("more policy ids than versions");
    }
    if s.unrevoked > s.grants || s.revocations > s.grants || s.erase_revocations > s.revocations {
        return Err("more revocations or grants not revoked than grants");
    }
    let total = |minutes: &[(u64, u64)]| {
        minutes
            .iter()
            .try_fold(0u64, |sum, (_, n)| sum.checked_add(*n))
    };
    if total(s.starts.as_slice()).is_none_or(|n| n > s.unrevoked)
        || total(s.ends.as_slice()).is_none_or(|n| n > s.unrevoked)
    {
        return Err("more grants starting or ending than grants not revoked");
    }
    Ok(())
}

/// Counts by minute, as [`Collector`] keeps them (no minute twice, none zero).
fn minutes(saved: Vec<(u64, u64)>) -> Result<BTreeMap<u64, u64>, &'static str> {
    let len = saved.len();
    let map: BTreeMap<u64, u64> = saved.into_iter().collect();
    if map.len() != len || map.values().any(|n| *n == 0) {
        return Err("counts by minute listed twice or zero");
    }
    Ok(map)
}

/// A scoped version's counts, within what a scope has: at most [`MAX_ZONES`] zones and
/// [`MAX_FORM_PURPOSES`] × [`MAX_FORM_OFFERS`] (purpose, form) pairs, each once, of known
/// purposes and forms.
fn scope(s: SavedScope) -> Result<ScopeCounts, &'static str> {
    if s.zones.len() > MAX_ZONES || s.floors.len() > MAX_FORM_PURPOSES * MAX_FORM_OFFERS {
        return Err("more zones or (purpose, form) pairs than a scope has");
    }
    let unknown = "an unknown purpose or form";
    let mut floors = BTreeMap::new();
    for (p, f, n) in s.floors {
        let key = (
            Purpose::from_wire(p).ok_or(unknown)?,
            Form::from_wire(f).ok_or(unknown)?,
        );
        if floors.insert(key, n).is_some() {
            return Err("a (purpose, form) pair listed twice");
        }
    }
    let mut unfloored = BTreeMap::new();
    for (p, n) in s.unfloored {
        if unfloored
            .insert(Purpose::from_wire(p).ok_or(unknown)?, n)
            .is_some()
        {
            return Err("a purpose listed twice");
        }
    }
    let zones_len = s.zones.len();
    let zones: BTreeMap<u32, u64> = s.zones.into_iter().collect();
    if zones.len() != zones_len {
        return Err("a zone listed twice");
    }
    Ok(ScopeCounts {
        every_zone: s.every_zone,
        zones,
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

/// The file's bytes for `saved`, its MAC keyed with `key`; `Err` when they cannot be made or
/// would be more than [`MAX_FILE_BYTES`] (such a file could never be loaded).
pub(super) fn encode(saved: &Saved, key: &FileKey) -> Result<Vec<u8>, Unsaved> {
    let body =
        postcard::to_stdvec(saved).map_err(|e| Unsaved::Other(format!("cannot encode: {e}")))?;
    let len = (HEADER + body.len()) as u64;
    if len > MAX_FILE_BYTES {
        return Err(Unsaved::TooLarge(len));
    }
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&RULES_VERSION.to_be_bytes());
    let mac = key.mac(&out[..LABEL], &body);
    out.extend_from_slice(mac.as_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Why a register was not saved.
#[derive(Debug)]
pub(super) enum Unsaved {
    /// Its form would be this many bytes, more than [`MAX_FILE_BYTES`]: no save can be loaded.
    TooLarge(u64),
    /// Anything else (why).
    Other(String),
}

impl std::fmt::Display for Unsaved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unsaved::TooLarge(len) => write!(
                f,
                "its saved form would be {len} bytes, more than the {MAX_FILE_BYTES} a start reads"
            ),
            Unsaved::Other(why) => f.write_str(why),
        }
    }
}

/// The state a file's bytes hold, if `key` wrote them under this release's form and counting
/// rules; `Err` says why they cannot be used.
pub(super) fn decode(bytes: &[u8], key: &FileKey) -> Result<Saved, String> {
    if bytes.len() < HEADER || !bytes.starts_with(MAGIC) {
        return Err("it is not a saved register".into());
    }
    let word = |at: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&bytes[at..at + 4]);
        u32::from_be_bytes(w)
    };
    let version = word(8);
    if version != VERSION {
        return Err(format!(
            "it is of version {version}; this release reads {VERSION}"
        ));
    }
    let rules = word(12);
    if rules != RULES_VERSION {
        return Err(format!(
            "it was counted under rules version {rules}; this release counts under {RULES_VERSION}"
        ));
    }
    let body = &bytes[HEADER..];
    let mut stored = [0u8; 32];
    stored.copy_from_slice(&bytes[LABEL..HEADER]);
    // `Hash` compares in constant time.
    if key.mac(&bytes[..LABEL], body) != blake3::Hash::from(stored) {
        return Err(
            "its checksum does not match: damaged, or not written with this node's key".into(),
        );
    }
    postcard::from_bytes(body).map_err(|e| format!("it does not decode: {e}"))
}

/// Reads the file in `data_dir`: `Ok(None)` when there is none. Only a regular file is read
/// (not a link, a FIFO or a device: checked before it is opened, and the file opened checked
/// to be the one looked at), and only up to [`MAX_FILE_BYTES`].
pub(super) fn read(data_dir: &Path) -> Result<Option<Vec<u8>>, String> {
    let path = path(data_dir);
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let looked = match std::fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot(e)),
    };
    if !looked.file_type().is_file() {
        return Err(format!(
            "{} is not a regular file (a link, a FIFO or a device is never read)",
            path.display()
        ));
    }
    if looked.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{} is larger than {MAX_FILE_BYTES} bytes",
            path.display()
        ));
    }
    let file =
        std::fs::File::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let opened = file.metadata().map_err(cannot)?;
    if !opened.is_file() || !same_file(&looked, &opened) {
        return Err(format!(
            "{} was replaced while it was opened",
            path.display()
        ));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_FILE_BYTES), &mut bytes)
        .map_err(cannot)?;
    Ok(Some(bytes))
}

/// Whether two metadata describe the same file (its device and inode, on Unix).
#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.len() == b.len()
}

/// Replaces the file in `data_dir` with `bytes`: a temporary file created anew (any left by a
/// crash is removed first; never opened through a link), mode 0600, synced, renamed over it
/// (a link in its place is replaced, never followed), the directory synced; a crash leaves the
/// old file or the new one.
pub(super) fn write(data_dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let path = path(data_dir);
    let tmp = data_dir.join(format!("{FILE}.tmp"));
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
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
}
