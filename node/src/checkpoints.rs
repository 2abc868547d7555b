//! The node's signed checkpoints ([`consent_proto::note`]): its commitment to its own arrival
//! log — node id, tree size, root hash of the log's Merkle tree, time — signed with the node key,
//! with the cosignatures witnesses add.
//!
//! The node never signs two inconsistent checkpoints: it signs only roots of its one append-only
//! tree, only up to the entries it has made durable, and the latest note is kept in the store
//! (`Mcheckpoint`); at start the rebuilt tree must have that note's root at that size, or the node
//! refuses to start (its log was rolled back or rewritten under it).

use std::sync::{Arc, RwLock};

use consent_proto::keys::{PublicKey, SecretKey};
use consent_proto::note::{Checkpoint, NODE_PREFIX, NoteSignature, SignedNote};

use crate::ledger::{Ledger, LedgerError, now_ms};
use crate::store::KvStore;

/// Where the latest signed note is kept.
const META_KEY: &[u8] = b"Mcheckpoint";

/// The node's checkpoints; clones share them.
#[derive(Clone)]
pub struct Checkpoints(Arc<Inner>);

struct Inner {
    key: SecretKey,
    origin: String,
    ledger: Ledger,
    latest: RwLock<Option<SignedNote>>,
}

impl std::fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Checkpoints({})", self.0.origin)
    }
}

impl Checkpoints {
    /// Loads the latest note and checks the log still matches it.
    pub fn open(ledger: Ledger, key: SecretKey) -> Result<Self, LedgerError> {
        let origin = key.public().to_text(NODE_PREFIX);
        let latest = match ledger.store().get(META_KEY)? {
            None => None,
            Some(bytes) => {
                let corrupt = |why: &str| {
                    LedgerError::CorruptStore(format!(
                        "the store's latest signed checkpoint {why}; restore the data directory \
                         from a backup taken after that checkpoint"
                    ))
                };
                let text = String::from_utf8(bytes).map_err(|_| corrupt("is not text"))?;
                let note = SignedNote::parse(&text).map_err(|_| corrupt("does not parse"))?;
                note.verify(&key.public())
                    .map_err(|_| corrupt("is not signed by this node's key"))?;
                let c = &note.checkpoint;
                if ledger.tree().root_at(c.size) != Some(c.root) {
                    return Err(corrupt(&format!(
                        "covers {} entries with a root the log no longer has (it holds {})",
                        c.size,
                        ledger.tree().size()
                    )));
                }
                Some(note)
            }
        };
        Ok(Self(Arc::new(Inner {
            key,
            origin,
            ledger,
            latest: RwLock::new(latest),
        })))
    }

    /// The node id (the notes' origin).
    pub fn origin(&self) -> &str {
        &self.0.origin
    }

    /// The node's public key.
    pub fn public(&self) -> PublicKey {
        self.0.key.public()
    }

    /// The latest signed note, with the cosignatures it has collected.
    pub fn latest(&self) -> Option<SignedNote> {
        self.0.latest.read().ok()?.clone()
    }

    /// Signs a checkpoint of every durable entry if the log grew since the latest one (or none
    /// was signed yet); returns the latest either way.
    pub fn refresh(&self) -> Result<Option<SignedNote>, LedgerError> {
        let ledger = &self.0.ledger;
        let durable = ledger.durable_size().min(ledger.tree().size());
        let current = self.latest();
        if current
            .as_ref()
            .is_some_and(|n| n.checkpoint.size >= durable)
        {
            return Ok(current);
        }
        let root = ledger
            .tree()
            .root_at(durable)
            .ok_or_else(|| LedgerError::Store("the log tree is behind the log".into()))?;
        let note = SignedNote::sign(
            Checkpoint {
                origin: self.0.origin.clone(),
                size: durable,
                root,
                time_ms: now_ms(),
            },
            &self.0.key,
        );
        self.store(&note)?;
        Ok(Some(note))
    }

    /// A note for the tree at an earlier `size` (at most the durable size), signed now and not
    /// kept: witnesses ask for one when a proof fails. The root is the one this node's tree had
    /// at that size — the same as any checkpoint it signed then, unless its log was rewritten.
    pub fn sign_at(&self, size: u64) -> Option<SignedNote> {
        let ledger = &self.0.ledger;
        if size > ledger.durable_size() {
            return None;
        }
        let root = ledger.tree().root_at(size)?;
        Some(SignedNote::sign(
            Checkpoint {
                origin: self.0.origin.clone(),
                size,
                root,
                time_ms: now_ms(),
            },
            &self.0.key,
        ))
    }

    /// Adds a witness's cosignature to the latest note if it is valid for `witness`'s key and is
    /// about that very checkpoint; false otherwise.
    pub fn add_cosignature(
        &self,
        checkpoint: &Checkpoint,
        cosignature: NoteSignature,
        witness: &PublicKey,
    ) -> Result<bool, LedgerError> {
        let Some(mut note) = self.latest() else {
            return Ok(false);
        };
        if note.checkpoint != *checkpoint || !note.add_cosignature(cosignature, witness) {
            return Ok(false);
        }
        self.store(&note)?;
        Ok(true)
    }

    /// Keeps `note` as the latest, durably, unless a larger one got there first.
    fn store(&self, note: &SignedNote) -> Result<(), LedgerError> {
        let mut latest = self
            .0
            .latest
            .write()
            .map_err(|_| LedgerError::Store("checkpoint lock poisoned".into()))?;
        if latest
            .as_ref()
            .is_some_and(|l| l.checkpoint.size > note.checkpoint.size)
        {
            return Ok(());
        }
        let store: &dyn KvStore = &**self.0.ledger.store();
        store.apply(vec![(META_KEY.to_vec(), Some(note.to_text().into_bytes()))])?;
        store.flush()?;
        *latest = Some(note.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use consent_proto::fixtures::{self, T0};
    use consent_proto::vocab::Role;

    use super::*;
    use crate::ledger::LedgerConfig;
    use crate::store::memory::MemoryStore;

    #[tokio::test]
    async fn checkpoints_grow_with_the_log_and_a_rewritten_log_is_refused() {
        let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        let scene = fixtures::scene(T0);
        let registrars: HashSet<_> = [scene.registrar.feed()].into_iter().collect();
        let open = || {
            Ledger::open(
                Arc::clone(&store),
                registrars.clone(),
                "test",
                LedgerConfig::default(),
            )
            .expect("open")
        };
        let (ledger, writer) = open();
        let key = fixtures::key("node");
        let checkpoints = Checkpoints::open(ledger.clone(), key.clone()).expect("open");
        assert!(
            checkpoints
                .refresh()
                .expect("sign")
                .is_some_and(|n| n.checkpoint.size == 0)
        );
        ledger.submit(scene.entries.clone()).await.expect("submit");
        let first = checkpoints.refresh().expect("sign").expect("a note");
        assert_eq!(first.checkpoint.size, 4);
        first.verify(&key.public()).expect("signed");
        // Nothing new: the same checkpoint.
        assert_eq!(checkpoints.refresh().expect("sign"), Some(first.clone()));

        // A cosignature for this checkpoint is kept; one for another is not.
        let witness = fixtures::key("witness");
        let name = witness.public().to_text(NODE_PREFIX);
        let cosig = first.cosignature(&name, &witness, 1);
        assert!(
            checkpoints
                .add_cosignature(&first.checkpoint, cosig.clone(), &witness.public())
                .expect("add")
        );
        let mut other = first.checkpoint.clone();
        other.size = 3;
        assert!(
            !checkpoints
                .add_cosignature(&other, cosig, &witness.public())
                .expect("add")
        );
        ledger.shutdown().await;
        drop((ledger, checkpoints));
        writer.join();

        // Reopened: the same note, cosignature included.
        let (ledger, writer) = open();
        let again = Checkpoints::open(ledger.clone(), key.clone()).expect("open");
        let latest = again.latest().expect("kept");
        assert_eq!(latest.checkpoint, first.checkpoint);
        assert_eq!(latest.cosigned_by(&[(name, witness.public())]).len(), 1);

        // A checkpoint the log does not match (as if entries were removed or rewritten).
        let (_, stranger) = fixtures::author(Role::Citizen, "x", T0);
        let mut forged = first.checkpoint.clone();
        forged.root = consent_proto::merkle::leaf_hash(&stranger.id.0);
        let note = SignedNote::sign(forged, &key);
        store
            .apply(vec![(META_KEY.to_vec(), Some(note.to_text().into_bytes()))])
            .expect("write");
        assert!(matches!(
            Checkpoints::open(ledger.clone(), key),
            Err(LedgerError::CorruptStore(_))
        ));
        ledger.shutdown().await;
        drop(ledger);
        writer.join();
    }
}
