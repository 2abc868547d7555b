//! Auditing a node from outside: replay its whole arrival log, as it serves it, through the
//! protocol's own rules ([`consent_proto::memory::MemoryLedger`]: every signature, every chain
//! link, every reference), rebuild its Merkle tree from the ids its log names, and collect
//! findings — anything that does not hold. The CLI (`consent audit`) feeds it the log, then
//! compares the root with the node's signed checkpoint and the heads with what the node says.

use std::collections::HashMap;

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::memory::MemoryLedger;
use consent_proto::merkle::{Hash, Tree};
use consent_proto::pb;
use consent_proto::validate::{FeedState, Verdict};
use consent_proto::vocab::Role;

/// A replay in progress.
pub struct Audit {
    reference: MemoryLedger,
    tree: Tree,
    /// Registrars come from the genesis (pinned) or, if none was given, from the log.
    pinned: bool,
    now_ms: u64,
    findings: Vec<String>,
    /// Entries that wait for an entry that did not hold (counted, not listed).
    dependents: u64,
    /// Each citizen's grants in feed order: `(grant, collector, revoked)`.
    grants: HashMap<FeedId, Vec<(EntryId, FeedId, bool)>>,
}

/// Most findings kept (the rest are counted).
const MAX_FINDINGS: usize = 100;

impl Audit {
    /// A replay for a network with these `registrars` (`None`: trust registrar inceptions the
    /// log holds), judging entry times against `now_ms`.
    pub fn new(registrars: Option<Vec<FeedId>>, now_ms: u64) -> Self {
        Self {
            pinned: registrars.is_some(),
            reference: MemoryLedger::new(registrars.unwrap_or_default()),
            tree: Tree::new(),
            now_ms,
            findings: Vec::new(),
            dependents: 0,
            grants: HashMap::new(),
        }
    }

    /// Entries replayed.
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// The root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        self.tree.root_at(size)
    }

    /// Feeds and their states after the replay.
    pub fn heads(&self) -> impl Iterator<Item = (&FeedId, &FeedState)> {
        self.reference.heads()
    }

    /// Records something that does not hold.
    pub fn finding(&mut self, what: String) {
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(what);
        } else if self.findings.len() == MAX_FINDINGS {
            self.findings
                .push(format!("(more findings left out after {MAX_FINDINGS})"));
        }
    }

    /// What does not hold (entries that only depend on an entry that did not hold are summed
    /// up in one finding).
    pub fn findings(&self) -> Vec<String> {
        let mut out = self.findings.clone();
        if self.dependents > 0 {
            out.push(format!(
                "{} later entries depend on entries that do not hold",
                self.dependents
            ));
        }
        out
    }

    /// A citizen's grants after the replay, in feed order: `(grant, collector, revoked)`.
    pub fn grants(&self, subject: &FeedId) -> &[(EntryId, FeedId, bool)] {
        self.grants.get(subject).map_or(&[], Vec::as_slice)
    }

    /// Keeps the grant state an accepted entry changes.
    fn materialise(&mut self, entry: &Entry) {
        match &entry.body {
            Body::Grant(g) => {
                self.grants
                    .entry(entry.feed)
                    .or_default()
                    .push((entry.id, g.collector, false))
            }
            Body::Revoke(r) => {
                if let Some(g) = self
                    .grants
                    .get_mut(&entry.feed)
                    .and_then(|list| list.iter_mut().find(|(id, ..)| *id == r.grant))
                {
                    g.2 = true;
                }
            }
            _ => {}
        }
    }

    /// Replays the next entry of the log, as served by `Ledger.GetLog`.
    pub fn entry(&mut self, item: &pb::FeedEntry) {
        let index = item.index;
        if index != self.tree.size() {
            self.finding(format!(
                "the log jumps to index {index} after {} entries",
                self.tree.size()
            ));
        }
        let Ok(id) = EntryId::from_slice(&item.id) else {
            self.finding(format!("index {index}: the log names no valid entry id"));
            return;
        };
        self.tree.push(&id.0);
        let Some(signed) = &item.entry else {
            self.finding(format!("index {index}: entry {id} is not stored"));
            return;
        };
        let entry = match Entry::from_signed(signed) {
            Ok(e) => e,
            Err(e) => {
                self.finding(format!("index {index}: entry {id} is malformed: {e}"));
                return;
            }
        };
        if entry.id != id {
            self.finding(format!(
                "index {index}: the stored entry hashes to {}, not to the id {id} the log names",
                entry.id
            ));
            return;
        }
        if !self.pinned
            && let Body::Inception(i) = &entry.body
            && i.role == Role::Registrar
        {
            self.reference.trust_registrar(entry.feed);
        }
        match self.reference.submit(&entry, self.now_ms) {
            Verdict::Accept { .. } => self.materialise(&entry),
            Verdict::Duplicate { .. } => {
                self.finding(format!("index {index}: entry {id} appears twice"))
            }
            Verdict::Equivocation { .. } => self.finding(format!(
                "index {index}: entry {id} conflicts with another entry of its feed at seq {}",
                entry.seq
            )),
            Verdict::Pending { missing, .. } => {
                if self.findings.is_empty() {
                    self.finding(format!(
                        "index {index}: entry {id} comes before what it needs ({missing:?})"
                    ));
                } else {
                    self.dependents += 1;
                }
            }
            Verdict::Reject(r) => {
                self.finding(format!("index {index}: entry {id} is invalid: {r}"))
            }
        }
    }
}
