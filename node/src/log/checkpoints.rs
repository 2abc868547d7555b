//! The node's signed checkpoints ([`consent_proto::note`]): its commitment to its own arrival
//! log — node id, tree size, root hash of the log's Merkle tree, time — signed with the node key,
//! with the cosignatures witnesses add.
//!
//! The node never signs two inconsistent checkpoints: it signs only roots of its one append-only
//! tree, only up to the entries it has made durable, and the latest note is kept in the store
//! (saved through the ledger's writer); at start the rebuilt tree must have that note's root at
//! that size, or the node refuses to start (its log was rolled back or rewritten under it).
//!
//! A new note (signed, or with a cosignature more) is made durable first and only then becomes
//! the latest that checks and peers read: the lock they read is held only to swap it in, never
//! while the writer flushes. Changes are made one at a time (a lock readers never take), so
//! none is lost and the note kept is the latest.
//!
//! Cosignatures are taken only from the network's member nodes when the genesis lists them
//! ([`Members`]); without a list, only from the node that sends its own (one peer connection adds
//! at most one). A note has room for [`MAX_SIGNATURES`] lines: when it is full, a member's
//! cosignature takes the place of a non-member's, so others can never crowd members out.

use std::sync::{Arc, RwLock};

use consent_proto::keys::{PublicKey, SecretKey};
use consent_proto::note::{Checkpoint, MAX_SIGNATURES, NODE_PREFIX, NoteSignature, SignedNote};

use crate::ledger::{Ledger, LedgerError};
use crate::members::Members;

/// The node's checkpoints; clones share them.
#[derive(Clone)]
pub struct Checkpoints(Arc<Inner>);

struct Inner {
    key: SecretKey,
    origin: String,
    ledger: Ledger,
    members: Members,
    /// The latest note, durable: what checks and peers read.
    latest: RwLock<Option<SignedNote>>,
    /// Held while a new note is made and saved, so that changes are made one at a time; readers
    /// never take it.
    changing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Checkpoints({})", self.0.origin)
    }
}

impl Checkpoints {
    /// Loads the latest note and checks the log still matches it; cosignatures are taken from
    /// `members` (see the module docs). Blocking (start-up).
    pub fn open(ledger: Ledger, key: SecretKey, members: Members) -> Result<Self, LedgerError> {
        let origin = key.public().to_text(NODE_PREFIX);
        let latest = match ledger.load_checkpoint()? {
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
            members,
            latest: RwLock::new(latest),
            changing: tokio::sync::Mutex::new(()),
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
    /// was signed yet), and keeps it; returns the latest either way.
    pub async fn refresh(&self) -> Result<Option<SignedNote>, LedgerError> {
        let _changing = self.0.changing.lock().await;
        let this = self.clone();
        // The tree may read a block of the log, and signing is CPU work: off the async threads.
        let signed = tokio::task::spawn_blocking(move || this.sign_if_grown())
            .await
            .map_err(|_| LedgerError::ShuttingDown)??;
        match signed {
            Some(note) => {
                self.keep(note.clone()).await?;
                Ok(Some(note))
            }
            None => Ok(self.latest()),
        }
    }

    /// A new note of every durable entry, if the log grew since the latest one (or none was
    /// signed yet).
    fn sign_if_grown(&self) -> Result<Option<SignedNote>, LedgerError> {
        let ledger = &self.0.ledger;
        let durable = ledger.durable_size().min(ledger.tree().size());
        if self.latest().is_some_and(|n| n.checkpoint.size >= durable) {
            return Ok(None);
        }
        let root = ledger
            .tree()
            .root_at(durable)
            .ok_or(LedgerError::Internal("the log tree is behind the log"))?;
        Ok(Some(SignedNote::sign(
            Checkpoint {
                origin: self.0.origin.clone(),
                size: durable,
                root,
                time_ms: ledger.now_ms(),
            },
            &self.0.key,
        )))
    }

    /// A note for the tree at an earlier `size` (at most the durable size), signed now and not
    /// kept: witnesses ask for one when a proof fails. The root is the one this node's tree had
    /// at that size — the same as any checkpoint it signed then, unless its log was rewritten.
    /// Blocking (the tree may read a block of the log).
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
                time_ms: ledger.now_ms(),
            },
            &self.0.key,
        ))
    }

    /// Adds witnesses' cosignatures (each with the key of the witness named in it) to the latest
    /// note, if it is about that very `checkpoint`. A line is taken if it is valid for its
    /// witness's key and comes from a member (without a member list: from the witness itself,
    /// `sender` being the node that sent it); when the note is full, a member's cosignature
    /// takes the place of a non-member's. The note with the lines taken is kept, durably, before
    /// it becomes the latest; returns whether any line was taken.
    pub async fn add_cosignatures(
        &self,
        checkpoint: &Checkpoint,
        lines: Vec<(NoteSignature, PublicKey)>,
        sender: Option<PublicKey>,
    ) -> Result<bool, LedgerError> {
        // Signature checks (up to a note's worth of lines) off the async threads and before the
        // lock: a peer sending lines that fail costs its own budget, never the ticker's turn to
        // sign (it waits on `changing`).
        let Some(snapshot) = self.latest() else {
            return Ok(false);
        };
        if snapshot.checkpoint != *checkpoint {
            return Ok(false);
        }
        let members = self.0.members.clone();
        let valid = tokio::task::spawn_blocking(move || {
            lines
                .into_iter()
                .filter(|(line, witness)| {
                    let member = members.contains_key(witness);
                    (member || (!members.is_listed() && sender.as_ref() == Some(witness)))
                        && snapshot.valid_cosignature(line, witness)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|_| LedgerError::ShuttingDown)?;
        if valid.is_empty() {
            return Ok(false);
        }
        let _changing = self.0.changing.lock().await;
        let Some(note) = self.latest() else {
            return Ok(false);
        };
        if note.checkpoint != *checkpoint {
            return Ok(false);
        }
        // Only lines that passed their check reach here: merging them re-checks each (a few
        // valid lines, bounded by the note's size), then one save.
        let members = self.0.members.clone();
        let cosigned = tokio::task::spawn_blocking(move || {
            with_cosignatures(note, &members, valid, sender.as_ref())
        })
        .await
        .map_err(|_| LedgerError::ShuttingDown)?;
        match cosigned {
            Some(note) => {
                self.keep(note).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Saves `note` through the ledger's writer, then makes it the latest unless a larger one
    /// got there first. The caller holds `changing`.
    async fn keep(&self, note: SignedNote) -> Result<(), LedgerError> {
        if self
            .latest()
            .is_some_and(|l| l.checkpoint.size > note.checkpoint.size)
        {
            return Ok(());
        }
        self.0.ledger.save_checkpoint(note.to_text()).await?;
        // Held only for the swap: the note is durable already.
        let mut latest = self
            .0
            .latest
            .write()
            .map_err(|_| LedgerError::Internal("checkpoint lock poisoned"))?;
        *latest = Some(note);
        Ok(())
    }
}

/// `note` with the cosignatures of `lines` it takes (see [`Checkpoints::add_cosignatures`]), or
/// `None` if it takes none.
fn with_cosignatures(
    mut note: SignedNote,
    members: &Members,
    lines: Vec<(NoteSignature, PublicKey)>,
    sender: Option<&PublicKey>,
) -> Option<SignedNote> {
    let mut added = false;
    for (cosignature, witness) in lines {
        added |= add_cosignature(&mut note, members, cosignature, &witness, sender);
    }
    added.then_some(note)
}

/// Adds a witness's cosignature to `note` if it is valid for `witness`'s key and comes from a
/// member (without a member list: from the witness itself, `sender` being the node that sent
/// it); false otherwise. When the note is full, a member's cosignature takes the place of a
/// non-member's.
fn add_cosignature(
    note: &mut SignedNote,
    members: &Members,
    cosignature: NoteSignature,
    witness: &PublicKey,
    sender: Option<&PublicKey>,
) -> bool {
    let member = members.contains_key(witness);
    if !(member || (!members.is_listed() && sender == Some(witness))) {
        return false;
    }
    let listed = note
        .signatures
        .iter()
        .any(|s| s.name == cosignature.name && s.cosigned_at.is_some());
    if member
        && !listed
        && note.signatures.len() >= MAX_SIGNATURES
        && note.valid_cosignature(&cosignature, witness)
        && let Some(other) = note
            .signatures
            .iter()
            .position(|s| s.cosigned_at.is_some() && !members.contains(&s.name))
    {
        note.signatures.remove(other);
    }
    note.add_cosignature(cosignature, witness)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use consent_proto::fixtures::{self, T0};
    use consent_proto::vocab::Role;

    use super::*;

    /// Adds one cosignature line.
    async fn add(
        checkpoints: &Checkpoints,
        checkpoint: &Checkpoint,
        cosignature: NoteSignature,
        witness: &PublicKey,
        sender: Option<&PublicKey>,
    ) -> bool {
        checkpoints
            .add_cosignatures(checkpoint, vec![(cosignature, *witness)], sender.copied())
            .await
            .expect("add")
    }

    #[tokio::test]
    async fn checkpoints_grow_with_the_log_and_a_rewritten_log_is_refused() {
        let scene = fixtures::scene(T0);
        let registrars: HashSet<_> = [scene.registrar.feed()].into_iter().collect();
        let open = crate::ledger::in_memory(registrars);
        let (ledger, writer) = open();
        let key = fixtures::key("node");
        let checkpoints =
            Checkpoints::open(ledger.clone(), key.clone(), Members::unlisted()).expect("open");
        assert!(
            checkpoints
                .refresh()
                .await
                .expect("sign")
                .is_some_and(|n| n.checkpoint.size == 0)
        );
        ledger.submit(scene.entries.clone()).await.expect("submit");
        let first = checkpoints.refresh().await.expect("sign").expect("a note");
        assert_eq!(first.checkpoint.size, 4);
        first.verify(&key.public()).expect("signed");
        // Nothing new: the same checkpoint.
        assert_eq!(
            checkpoints.refresh().await.expect("sign"),
            Some(first.clone())
        );

        // A cosignature for this checkpoint is kept; one for another is not.
        let witness = fixtures::key("witness");
        let name = witness.public().to_text(NODE_PREFIX);
        let cosig = first.cosignature(&name, &witness, 1);
        let sender = Some(witness.public());
        assert!(
            add(
                &checkpoints,
                &first.checkpoint,
                cosig.clone(),
                &witness.public(),
                sender.as_ref()
            )
            .await
        );
        let mut other = first.checkpoint.clone();
        other.size = 3;
        assert!(
            !add(
                &checkpoints,
                &other,
                cosig,
                &witness.public(),
                sender.as_ref()
            )
            .await
        );
        ledger.shutdown().await;
        drop((ledger, checkpoints));
        writer.join();

        // Reopened: the same note, cosignature included.
        let (ledger, writer) = open();
        let again =
            Checkpoints::open(ledger.clone(), key.clone(), Members::unlisted()).expect("open");
        let latest = again.latest().expect("kept");
        assert_eq!(latest.checkpoint, first.checkpoint);
        assert_eq!(latest.cosigned_by(&[(name, witness.public())]).len(), 1);

        // A checkpoint the log does not match (as if entries were removed or rewritten).
        let (_, stranger) = fixtures::author(Role::Citizen, "x", T0);
        let mut forged = first.checkpoint.clone();
        forged.root = consent_proto::merkle::leaf_hash(&stranger.id.0);
        let note = SignedNote::sign(forged, &key);
        ledger.save_checkpoint(note.to_text()).await.expect("write");
        assert!(matches!(
            Checkpoints::open(ledger.clone(), key, Members::unlisted()),
            Err(LedgerError::CorruptStore(_))
        ));
        ledger.shutdown().await;
        drop((ledger, again));
        writer.join();
    }

    #[tokio::test]
    async fn only_members_cosign_and_they_are_never_crowded_out() {
        let open = crate::ledger::in_memory(HashSet::new());
        let (ledger, writer) = open();
        let key = fixtures::key("node");
        let member = fixtures::key("member");
        let cosign = |note: &SignedNote, witness: &SecretKey| {
            note.cosignature(&witness.public().to_text(NODE_PREFIX), witness, 1)
        };

        // Without a list: only the sending node's own cosignature.
        let checkpoints =
            Checkpoints::open(ledger.clone(), key.clone(), Members::unlisted()).expect("open");
        let note = checkpoints.refresh().await.expect("sign").expect("a note");
        let stranger = fixtures::key("stranger");
        let relayed = cosign(&note, &stranger);
        let by = fixtures::key("relay").public();
        assert!(
            !add(
                &checkpoints,
                &note.checkpoint,
                relayed,
                &stranger.public(),
                Some(&by)
            )
            .await,
            "a cosignature relayed by another node"
        );
        // Others fill every slot, each sending its own.
        for i in 1..MAX_SIGNATURES {
            let other = fixtures::key(&format!("other-{i}"));
            let line = cosign(&note, &other);
            assert!(
                add(
                    &checkpoints,
                    &note.checkpoint,
                    line,
                    &other.public(),
                    Some(&other.public())
                )
                .await
            );
        }
        let full = checkpoints.latest().expect("note");
        assert_eq!(full.signatures.len(), MAX_SIGNATURES);
        ledger.shutdown().await;
        drop((ledger, checkpoints));
        writer.join();

        // With a member list: a non-member's is refused, even its own; a member's gets in.
        let (ledger, writer) = open();
        let checkpoints = Checkpoints::open(
            ledger.clone(),
            key.clone(),
            Members::listed([member.public()], false),
        )
        .expect("open");
        let late = fixtures::key("late");
        assert!(
            !add(
                &checkpoints,
                &note.checkpoint,
                cosign(&note, &late),
                &late.public(),
                Some(&late.public())
            )
            .await
        );
        assert!(
            add(
                &checkpoints,
                &note.checkpoint,
                cosign(&note, &member),
                &member.public(),
                None
            )
            .await,
            "a member's cosignature evicts a non-member's"
        );
        let latest = checkpoints.latest().expect("note");
        assert_eq!(latest.signatures.len(), MAX_SIGNATURES);
        let name = member.public().to_text(NODE_PREFIX);
        assert_eq!(latest.cosigned_by(&[(name, member.public())]).len(), 1);
        latest
            .verify(&key.public())
            .expect("the node's own signature stays");
        ledger.shutdown().await;
        drop((ledger, checkpoints));
        writer.join();
    }

    #[tokio::test]
    async fn a_note_becomes_the_latest_only_once_it_is_durable() {
        let (ledger, writer) = crate::ledger::in_memory(HashSet::new())();
        let key = fixtures::key("node");
        let checkpoints =
            Checkpoints::open(ledger.clone(), key, Members::unlisted()).expect("open");
        let note = checkpoints.refresh().await.expect("sign").expect("a note");
        assert_eq!(
            ledger.load_checkpoint().expect("load"),
            Some(note.to_text().into_bytes())
        );
        // The writer stops: a cosignature cannot be kept, so nobody is shown it.
        ledger.shutdown().await;
        ledger.writer_stopped().await;
        let witness = fixtures::key("witness");
        let line = note.cosignature(&witness.public().to_text(NODE_PREFIX), &witness, 1);
        let added = checkpoints
            .add_cosignatures(
                &note.checkpoint,
                vec![(line, witness.public())],
                Some(witness.public()),
            )
            .await;
        assert!(matches!(added, Err(LedgerError::ShuttingDown)), "{added:?}");
        assert_eq!(checkpoints.latest(), Some(note));
        drop((ledger, checkpoints));
        writer.join();
    }
}
