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
//! Kept in the store under `Mwitness/<origin>` (latest cosigned note) and `Mfork/<origin>` (the
//! two notes), written directly (they are not part of the replicated log).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use consent_proto::keys::SecretKey;
use consent_proto::merkle::{self, Hash};
use consent_proto::note::{NODE_PREFIX, SignedNote};

use crate::ledger::now_ms;
use crate::store::{KvStore, StoreError};

const COSIGNED: &[u8] = b"Mwitness/";
const FORKS: &[u8] = b"Mfork/";

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
    /// Not newer than what was cosigned: nothing to do.
    NotNewer,
    /// The proof does not hold: ask the origin to sign its tree at this size.
    AskHistory(u64),
    /// Not a valid checkpoint, or not an answer to what was asked.
    Invalid(&'static str),
}

/// The witness; clones share it.
#[derive(Clone)]
pub struct Witness(Arc<Inner>);

struct Inner {
    key: SecretKey,
    name: String,
    store: Arc<dyn KvStore>,
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    cosigned: HashMap<String, SignedNote>,
    forks: HashMap<String, Fork>,
}

fn key(prefix: &[u8], origin: &str) -> Vec<u8> {
    [prefix, origin.as_bytes()].concat()
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Witness({})", self.0.name)
    }
}

impl Witness {
    /// Loads what was witnessed before (notes that no longer parse are dropped).
    pub fn open(store: Arc<dyn KvStore>, key: SecretKey) -> Result<Self, StoreError> {
        let mut state = State::default();
        for pair in store.scan_prefix(COSIGNED) {
            let (_, value) = pair?;
            if let Some(note) = std::str::from_utf8(&value)
                .ok()
                .and_then(|t| SignedNote::parse(t).ok())
            {
                state.cosigned.insert(note.checkpoint.origin.clone(), note);
            }
        }
        for pair in store.scan_prefix(FORKS) {
            let (_, value) = pair?;
            if let Ok(text) = String::from_utf8(value)
                && let Some((first, second)) = text.split_once("\n\n\n")
                && let Some(fork) = prove_fork(first, second)
            {
                state.forks.insert(fork.origin.clone(), fork);
            }
        }
        Ok(Self(Arc::new(Inner {
            name: key.public().to_text(NODE_PREFIX),
            key,
            store,
            state: RwLock::new(state),
        })))
    }

    /// The size last cosigned for `origin` (0: none).
    pub fn since(&self, origin: &str) -> u64 {
        self.0
            .state
            .read()
            .ok()
            .and_then(|s| s.cosigned.get(origin).map(|n| n.checkpoint.size))
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
                let mut all: Vec<_> = s.cosigned.values().map(|n| n.checkpoint.clone()).collect();
                all.sort_by(|a, b| a.origin.cmp(&b.origin));
                all
            },
        )
    }

    /// Evidence held of nodes that forked their logs.
    pub fn forks(&self) -> Vec<Fork> {
        self.0
            .state
            .read()
            .map_or_else(|_| Vec::new(), |s| s.forks.values().cloned().collect())
    }

    /// A peer's latest checkpoint `text` with `proof` of consistency from `since` (what was
    /// asked, normally [`Self::since`] of its origin).
    pub fn observe(&self, text: &str, since: u64, proof: &[Hash]) -> Result<Seen, StoreError> {
        let Ok(note) = SignedNote::parse(text) else {
            return Ok(Seen::Invalid("not a checkpoint note"));
        };
        if note.verify_by_origin().is_err() {
            return Ok(Seen::Invalid("not signed by its origin"));
        }
        let origin = note.checkpoint.origin.clone();
        if origin == self.0.name {
            return Ok(Seen::Invalid("our own checkpoint"));
        }
        let before = self
            .0
            .state
            .read()
            .ok()
            .and_then(|s| s.cosigned.get(&origin).cloned());
        if let Some(before) = &before {
            let old = &before.checkpoint;
            if since != old.size {
                return Ok(Seen::Invalid("a proof from another size than asked"));
            }
            if note.checkpoint.size <= old.size && note.checkpoint.root == old.root {
                return Ok(Seen::NotNewer);
            }
            if note.checkpoint.size < old.size {
                return Ok(Seen::AskHistory(old.size));
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
                return Ok(Seen::AskHistory(old.size));
            }
        } else if since != 0 {
            return Ok(Seen::Invalid("a proof from another size than asked"));
        }
        // Consistent (or first seen): cosign.
        let cosignature = note.cosignature(&self.0.name, &self.0.key, now_ms() / 1000);
        let mut cosigned = note.clone();
        cosigned.signatures = vec![cosignature];
        self.0.store.apply(vec![(
            key(COSIGNED, &origin),
            Some(text.as_bytes().to_vec()),
        )])?;
        if let Ok(mut s) = self.0.state.write() {
            s.cosigned.insert(origin, note);
        }
        Ok(Seen::Cosigned(cosigned))
    }

    /// A checkpoint the origin signed when asked for its tree at an earlier size: a fork if it
    /// contradicts the note cosigned for that size.
    pub fn observe_history(&self, text: &str) -> Result<Option<Fork>, StoreError> {
        let Ok(note) = SignedNote::parse(text) else {
            return Ok(None);
        };
        let before = self
            .0
            .state
            .read()
            .ok()
            .and_then(|s| s.cosigned.get(&note.checkpoint.origin).cloned());
        let Some(before) = before else {
            return Ok(None);
        };
        match prove_fork(&before.to_text(), text) {
            Some(fork) => self.record(fork),
            None => Ok(None),
        }
    }

    /// Evidence a peer sent: kept if it proves a fork (returned if new, to spread further).
    pub fn evidence(&self, first: &str, second: &str) -> Result<Option<Fork>, StoreError> {
        match prove_fork(first, second) {
            Some(fork) => self.record(fork),
            None => Ok(None),
        }
    }

    fn record(&self, fork: Fork) -> Result<Option<Fork>, StoreError> {
        let known = self
            .0
            .state
            .read()
            .is_ok_and(|s| s.forks.contains_key(&fork.origin));
        if known {
            return Ok(None);
        }
        tracing::error!(origin = %fork.origin, "a node signed two checkpoints of one size with different roots: its log forked");
        let value = format!("{}\n\n{}", fork.first, fork.second);
        self.0
            .store
            .apply(vec![(key(FORKS, &fork.origin), Some(value.into_bytes()))])?;
        self.0.store.flush()?;
        if let Ok(mut s) = self.0.state.write() {
            s.forks.insert(fork.origin.clone(), fork.clone());
        }
        Ok(Some(fork))
    }
}

/// Two notes signed by the same origin for the same size with different roots (kept with the
/// origin's signatures only).
pub fn prove_fork(first: &str, second: &str) -> Option<Fork> {
    let strip = |text: &str| -> Option<SignedNote> {
        let mut note = SignedNote::parse(text).ok()?;
        let origin = note.checkpoint.origin.clone();
        note.signatures
            .retain(|s| s.cosigned_at.is_none() && s.name == origin);
        note.verify_by_origin().ok()?;
        Some(note)
    };
    let (a, b) = (strip(first)?, strip(second)?);
    let (ca, cb) = (&a.checkpoint, &b.checkpoint);
    (ca.origin == cb.origin && ca.size == cb.size && ca.root != cb.root).then(|| Fork {
        origin: ca.origin.clone(),
        first: a.to_text(),
        second: b.to_text(),
    })
}
