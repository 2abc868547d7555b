//! What this node witnesses of other nodes' logs: for each origin (a node id), the latest
//! checkpoint it cosigned, and evidence of a fork — two checkpoints the origin signed for the
//! same tree size with different roots.
//!
//! Witnessing (driven by the p2p task): ask a peer for its latest checkpoint with a consistency
//! proof from the size last cosigned for it; if the proof holds, cosign and send the cosignature
//! back. If it does not, ask the peer to sign a checkpoint of its log at the size cosigned
//! before: an honest node signs the same root again (its tree only grows), a node that rewrote
//! its log signs another root — and the two notes are the evidence, kept here, spread to peers,
//! and shown in Status. Evidence from peers is accepted only if it proves itself.
//!
//! Whom it witnesses ([`Members`]): with a member list in the genesis, only members' checkpoints
//! are observed and only evidence about members is kept. Without one, any peer's checkpoints are
//! observed, and evidence is kept only about origins this node cosigned itself (a node that
//! anyone can make up is no one's concern). Both stores are bounded: at most
//! [`MAX_OTHERS_WITNESSED`] origins that are not members (the one observed least recently is
//! forgotten first; members are never forgotten, and the genesis lists at most
//! [`crate::genesis::MAX_NODES`]), and at most [`MAX_FORKS`] fork proofs (a member's evicts a
//! non-member's; past the bound other evidence is refused, and logged).
//!
//! Kept in memory, and durably through the ledger's writer (`Mwitness/<origin>`: the latest
//! cosigned note; `Mfork/<origin>`: the two notes; they are not part of the replicated log). The
//! state is changed in memory first (so the bounds hold under concurrent observations), then
//! saved; no lock is held while the writer flushes. Signature checks run off the async threads.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use consent_proto::keys::SecretKey;
use consent_proto::merkle::{self, Hash};
use consent_proto::note::{NODE_PREFIX, SignedNote, key_of};

use crate::ledger::{Ledger, LedgerError};
use crate::members::Members;

/// Most origins that are not members whose latest cosigned checkpoint is kept.
pub const MAX_OTHERS_WITNESSED: usize = 256;
/// Most fork proofs kept.
pub const MAX_FORKS: usize = 64;

/// Two notes proving that `origin` forked its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fork {
    /// The node that signed both.
    pub origin: String,
    /// The note this node (or another witness) had seen first.
    pub first: String,
    /// The conflicting note.
    pub second: String,
}

/// What observing a checkpoint led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Consistent with what was cosigned before: cosigned (the note carries only the new line,
    /// to send back to the origin).
    Cosigned(SignedNote),
    /// Not newer than what was cosigned, or the answer to a question asked before the latest
    /// cosignature of that origin (observations overlap when a peer answers slowly): nothing to
    /// do, and no fault of the peer's (the next round asks from the size cosigned now).
    NotNewer,
    /// Such a stale answer, but of the size of the note cosigned for its origin with another
    /// root: two notes the origin signed for one size, evidence that it forked its log — new
    /// here, and kept (durably, before `observe` returns): to spread.
    Forked(Fork),
    /// The proof does not hold: ask the origin to sign its tree at this size.
    AskHistory(u64),
    /// Not a valid checkpoint.
    Invalid(&'static str),
    /// Not a member of the network (the genesis lists them): not witnessed, nothing kept.
    NotWitnessed,
}

/// What became of fork evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// New here and kept: to spread further.
    New(Fork),
    /// Evidence about that origin is already kept.
    Known,
    /// Not kept, and why.
    Refused(&'static str),
}

/// The witness; clones share it.
#[derive(Clone)]
pub struct Witness(Arc<Inner>);

struct Inner {
    key: SecretKey,
    name: String,
    members: Members,
    ledger: Ledger,
    state: RwLock<State>,
}

/// The latest checkpoint cosigned for an origin.
struct Cosigned {
    note: SignedNote,
    /// Whether the origin is a member (never forgotten).
    member: bool,
    /// When it was last observed ([`State::clock`]).
    seen: u64,
}

#[derive(Default)]
struct State {
    cosigned: HashMap<String, Cosigned>,
    forks: HashMap<String, Fork>,
    /// Counts observations: orders origins by how recently they were observed.
    clock: u64,
}

impl State {
    /// Marks `origin` as observed now.
    fn touch(&mut self, origin: &str) {
        self.clock += 1;
        let now = self.clock;
        if let Some(c) = self.cosigned.get_mut(origin) {
            c.seen = now;
        }
    }

    /// Keeps `note` as the latest cosigned for its origin; past [`MAX_OTHERS_WITNESSED`]
    /// non-members, forgets the non-member observed least recently and returns it.
    fn keep_cosigned(&mut self, note: SignedNote, member: bool) -> Option<String> {
        self.clock += 1;
        let origin = note.checkpoint.origin.clone();
        let cosigned = Cosigned {
            note,
            member,
            seen: self.clock,
        };
        let new = self.cosigned.insert(origin.clone(), cosigned).is_none();
        if !new || member {
            return None;
        }
        let others = self.cosigned.values().filter(|c| !c.member).count();
        if others <= MAX_OTHERS_WITNESSED {
            return None;
        }
        let oldest = self
            .cosigned
            .iter()
            .filter(|(o, c)| !c.member && **o != origin)
            .min_by_key(|(_, c)| c.seen)
            .map(|(o, _)| o.clone())?;
        self.cosigned.remove(&oldest);
        Some(oldest)
    }

    /// Room for one more fork proof: `Some(evicted)` (the origin whose proof made way, if any),
    /// or `None` when full (a member's proof evicts a non-member's; nothing else does).
    fn room_for_fork(&mut self, member: bool, members: &Members) -> Option<Option<String>> {
        if self.forks.len() < MAX_FORKS {
            return Some(None);
        }
        if !member {
            return None;
        }
        let other = self.forks.keys().find(|o| !members.contains(o)).cloned()?;
        self.forks.remove(&other);
        Some(Some(other))
    }
}

fn poisoned() -> LedgerError {
    LedgerError::Internal("the witness state lock is poisoned")
}

/// Runs CPU work (signature checks) off the async threads.
async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, LedgerError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| LedgerError::ShuttingDown)
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Witness({})", self.0.name)
    }
}

impl Witness {
    /// Loads what was witnessed before (notes that no longer parse are dropped; with a member
    /// list, so are non-members' checkpoints; past the bounds, the latest checkpoints and
    /// members' fork proofs are kept in memory). Blocking (start-up).
    pub fn open(ledger: Ledger, key: SecretKey, members: Members) -> Result<Self, LedgerError> {
        let mut state = State::default();
        let mut notes = Vec::new();
        for value in ledger.load_witnessed()? {
            if let Some(note) = std::str::from_utf8(&value)
                .ok()
                .and_then(|t| SignedNote::parse(t).ok())
                && (!members.is_listed() || members.contains(&note.checkpoint.origin))
            {
                notes.push(note);
            }
        }
        // Oldest first: past the bound, the most recently signed are kept.
        notes.sort_by_key(|n| n.checkpoint.time_ms);
        for note in notes {
            let member = members.contains(&note.checkpoint.origin);
            state.keep_cosigned(note, member);
        }
        let mut forks = Vec::new();
        for value in ledger.load_forks()? {
            // Stored as `first ‖ "\n\n" ‖ second`, each note ending in a newline.
            if let Ok(text) = String::from_utf8(value)
                && let Some(split) = text.find("\n\n\n")
                && let Some(fork) = prove_fork(&text[..=split], &text[split + 3..])
            {
                forks.push((members.contains(&fork.origin), fork));
            }
        }
        // Members' first.
        forks.sort_by_key(|(member, _)| !*member);
        for (_, fork) in forks.into_iter().take(MAX_FORKS) {
            state.forks.insert(fork.origin.clone(), fork);
        }
        Ok(Self(Arc::new(Inner {
            name: key.public().to_text(NODE_PREFIX),
            key,
            members,
            ledger,
            state: RwLock::new(state),
        })))
    }

    /// Whether this node witnesses `origin`'s log: a member, or anyone without a member list.
    pub fn witnesses(&self, origin: &str) -> bool {
        !self.0.members.is_listed() || self.0.members.contains(origin)
    }

    /// The size last cosigned for `origin` (0: none).
    pub fn since(&self, origin: &str) -> u64 {
        self.0
            .state
            .read()
            .ok()
            .and_then(|s| s.cosigned.get(origin).map(|c| c.note.checkpoint.size))
            .unwrap_or(0)
    }

    /// Origins and the sizes cosigned for them.
    pub fn cosigned(&self) -> Vec<(String, u64)> {
        self.cosigned_checkpoints()
            .into_iter()
            .map(|c| (c.origin, c.size))
            .collect()
    }

    /// The latest checkpoint cosigned for each origin, by origin.
    pub fn cosigned_checkpoints(&self) -> Vec<consent_proto::note::Checkpoint> {
        self.0.state.read().map_or_else(
            |_| Vec::new(),
            |s| {
                let mut all: Vec<_> = s
                    .cosigned
                    .values()
                    .map(|c| c.note.checkpoint.clone())
                    .collect();
                all.sort_by(|a, b| a.origin.cmp(&b.origin));
                all
            },
        )
    }

    /// Evidence held of nodes that forked their logs (at most [`MAX_FORKS`]), members' first,
    /// by origin.
    pub fn forks(&self) -> Vec<Fork> {
        let mut all = self
            .0
            .state
            .read()
            .map_or_else(|_| Vec::new(), |s| s.forks.values().cloned().collect());
        all.sort_by_cached_key(|f| (!self.0.members.contains(&f.origin), f.origin.clone()));
        all
    }

    /// A peer's latest checkpoint `text` with `proof` of consistency from `since` (what was
    /// asked, normally [`Self::since`] of its origin). A checkpoint cosigned is kept, durably,
    /// before this returns.
    pub async fn observe(
        &self,
        text: &str,
        since: u64,
        proof: &[Hash],
    ) -> Result<Seen, LedgerError> {
        let this = self.clone();
        let (owned, proof) = (text.to_owned(), proof.to_vec());
        let (seen, forgotten) = off_runtime(move || this.judge(&owned, since, &proof)).await??;
        match &seen {
            Seen::Cosigned(note) => {
                self.0
                    .ledger
                    .save_witnessed(&note.checkpoint.origin, text, forgotten.as_deref())
                    .await?;
            }
            Seen::Forked(fork) => {
                return Ok(match self.record(fork.clone()).await? {
                    Evidence::New(fork) => Seen::Forked(fork),
                    Evidence::Known | Evidence::Refused(_) => Seen::NotNewer,
                });
            }
            _ => {}
        }
        Ok(seen)
    }

    /// What observing `text` leads to (see [`Self::observe`]); a checkpoint cosigned is held in
    /// memory, with the origin it made this node forget, if any, to be saved.
    fn judge(
        &self,
        text: &str,
        since: u64,
        proof: &[Hash],
    ) -> Result<(Seen, Option<String>), LedgerError> {
        let Ok(note) = SignedNote::parse(text) else {
            return Ok((Seen::Invalid("not a checkpoint note"), None));
        };
        if note.verify_by_origin().is_err() {
            return Ok((Seen::Invalid("not signed by its origin"), None));
        }
        let origin = note.checkpoint.origin.clone();
        if origin == self.0.name {
            return Ok((Seen::Invalid("our own checkpoint"), None));
        }
        if !self.witnesses(&origin) {
            return Ok((Seen::NotWitnessed, None));
        }
        let before = self
            .0
            .state
            .read()
            .ok()
            .and_then(|s| s.cosigned.get(&origin).map(|c| c.note.clone()));
        if let Some(before) = &before {
            let old = &before.checkpoint;
            if since != old.size {
                // Asked before another observation cosigned: a stale answer, not a bad one —
                // unless it contradicts the note cosigned for its size, which makes a fork proof.
                let contradicted = (note.checkpoint.size == old.size
                    && note.checkpoint.root != old.root)
                    .then(|| before.clone());
                return Ok((stale(contradicted, text), None));
            }
            if note.checkpoint.size <= old.size && note.checkpoint.root == old.root {
                if let Ok(mut s) = self.0.state.write() {
                    s.touch(&origin);
                }
                return Ok((Seen::NotNewer, None));
            }
            if note.checkpoint.size < old.size {
                return Ok((Seen::AskHistory(old.size), None));
            }
            if merkle::verify_consistency(
                old.size,
                note.checkpoint.size,
                &old.root,
                &note.checkpoint.root,
                proof,
            )
            .is_err()
            {
                return Ok((Seen::AskHistory(old.size), None));
            }
        } else if since != 0 {
            // Asked before the origin was forgotten: stale too.
            return Ok((Seen::NotNewer, None));
        }
        // Consistent with what was cosigned before (or first seen): keep it and cosign — unless
        // another observation of this origin was kept since `before` was read. Observations run
        // concurrently; without this re-check a peer answering two requests at once with two
        // different trees, each consistent with the old note, would get both cosigned (a split
        // view carrying this witness's signature).
        let member = self.0.members.contains(&origin);
        let unsigned = note.clone();
        let forgotten = {
            let mut state = self.0.state.write().map_err(|_| poisoned())?;
            let now = state.cosigned.get(&origin).map(|c| &c.note);
            let unchanged = match (&before, now) {
                (None, None) => true,
                (Some(b), Some(n)) => {
                    b.checkpoint.size == n.checkpoint.size && b.checkpoint.root == n.checkpoint.root
                }
                _ => false,
            };
            if !unchanged {
                // The note kept meanwhile, if this one contradicts it, makes a fork proof
                // (checked once the lock is released).
                let contradicted = now
                    .filter(|n| {
                        n.checkpoint.size == note.checkpoint.size
                            && n.checkpoint.root != note.checkpoint.root
                    })
                    .cloned();
                drop(state);
                return Ok((stale(contradicted, text), None));
            }
            state.keep_cosigned(note, member)
        };
        let now_s = self.0.ledger.now_ms() / 1000;
        let mut cosigned = unsigned.clone();
        cosigned.signatures = vec![unsigned.cosignature(&self.0.name, &self.0.key, now_s)];
        Ok((Seen::Cosigned(cosigned), forgotten))
    }

    /// A checkpoint the origin signed when asked for its tree at an earlier size: a fork if it
    /// contradicts the note cosigned for that size (kept, durably, before this returns).
    pub async fn observe_history(&self, text: &str) -> Result<Option<Fork>, LedgerError> {
        let Ok(note) = SignedNote::parse(text) else {
            return Ok(None);
        };
        let before = self.0.state.read().ok().and_then(|s| {
            s.cosigned
                .get(&note.checkpoint.origin)
                .map(|c| c.note.clone())
        });
        let Some(before) = before else {
            return Ok(None);
        };
        let text = text.to_owned();
        match off_runtime(move || prove_fork(&before.to_text(), &text)).await? {
            Some(fork) => Ok(match self.record(fork).await? {
                Evidence::New(fork) => Some(fork),
                Evidence::Known | Evidence::Refused(_) => None,
            }),
            None => Ok(None),
        }
    }

    /// Evidence a peer sent: kept (durably, before this returns) if it proves a fork of an
    /// origin this node may keep evidence about (a member; without a member list, an origin it
    /// cosigned itself).
    pub async fn evidence(&self, first: &str, second: &str) -> Result<Evidence, LedgerError> {
        const NOT_A_FORK: Evidence = Evidence::Refused("not evidence of a fork");
        // Who it is about first: a signature check only for evidence that could be kept.
        let Ok(note) = SignedNote::parse(first) else {
            return Ok(NOT_A_FORK);
        };
        let origin = &note.checkpoint.origin;
        if self.0.members.is_listed() {
            if !self.0.members.contains(origin) {
                return Ok(Evidence::Refused("not about a member of the network"));
            }
        } else if !self
            .0
            .state
            .read()
            .map_err(|_| poisoned())?
            .cosigned
            .contains_key(origin)
        {
            return Ok(Evidence::Refused("not about a node this node witnessed"));
        }
        let (first, second) = (first.to_owned(), second.to_owned());
        match off_runtime(move || prove_fork(&first, &second)).await? {
            Some(fork) => self.record(fork).await,
            None => Ok(NOT_A_FORK),
        }
    }

    /// Keeps a proven fork if new and there is room (see the module docs): in memory at once,
    /// so that the bound holds under concurrent evidence, then durably.
    async fn record(&self, fork: Fork) -> Result<Evidence, LedgerError> {
        let member = self.0.members.contains(&fork.origin);
        let evicted = {
            let mut s = self.0.state.write().map_err(|_| poisoned())?;
            if s.forks.contains_key(&fork.origin) {
                return Ok(Evidence::Known);
            }
            let Some(evicted) = s.room_for_fork(member, &self.0.members) else {
                drop(s);
                tracing::error!(origin = %fork.origin, kept = MAX_FORKS, "evidence that a node forked its log is not kept: this node holds as many fork proofs as it keeps");
                return Ok(Evidence::Refused("this node keeps no more fork evidence"));
            };
            s.forks.insert(fork.origin.clone(), fork.clone());
            evicted
        };
        tracing::error!(origin = %fork.origin, "a node signed two checkpoints of one size with different roots: its log forked");
        let value = format!("{}\n\n{}", fork.first, fork.second);
        let saved = self
            .0
            .ledger
            .save_fork(&fork.origin, &value, evicted.as_deref())
            .await;
        if let Err(e) = saved {
            // Not durable: not kept, so it is taken again when it comes again.
            if let Ok(mut s) = self.0.state.write() {
                s.forks.remove(&fork.origin);
            }
            return Err(e);
        }
        Ok(Evidence::New(fork))
    }
}

/// What a stale answer `text` leads to, given the note cosigned for its origin when `text` is of
/// its size with another root (`contradicted`): a fork proof if both carry the origin's valid
/// signature, else nothing to do.
fn stale(contradicted: Option<SignedNote>, text: &str) -> Seen {
    contradicted
        .and_then(|kept| prove_fork(&kept.to_text(), text))
        .map_or(Seen::NotNewer, Seen::Forked)
}

/// Two notes signed by the same origin for the same size with different roots (kept with one
/// valid signature of the origin each, so a proof is a few hundred bytes).
pub fn prove_fork(first: &str, second: &str) -> Option<Fork> {
    let strip = |text: &str| -> Option<SignedNote> {
        let note = SignedNote::parse(text).ok()?;
        let origin = &note.checkpoint.origin;
        let key = key_of(origin)?;
        note.signatures
            .iter()
            .filter(|s| s.cosigned_at.is_none() && s.name == *origin)
            .map(|s| SignedNote {
                checkpoint: note.checkpoint.clone(),
                signatures: vec![s.clone()],
            })
            .find(|one| one.verify(&key).is_ok())
    };
    let (a, b) = (strip(first)?, strip(second)?);
    let (ca, cb) = (&a.checkpoint, &b.checkpoint);
    (ca.origin == cb.origin && ca.size == cb.size && ca.root != cb.root).then(|| Fork {
        origin: ca.origin.clone(),
        first: a.to_text(),
        second: b.to_text(),
    })
}

#[cfg(test)]
mod tests;
