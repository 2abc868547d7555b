//! Signature checks before the writer ([`Ledger::preverified`]): each entry's signature is
//! checked on a blocking thread, never on the async ones, under the key it will need when that
//! can be known now, so that the single writer only compares keys.
//!
//! Owns the two things that make it cheap: the [`Coalescer`], which gathers the single entries
//! that concurrent callers submit (one per unary `Submit`, one per gossip message) into one batch
//! verification on one blocking thread, instead of a thread hand-off and a lone signature check
//! each (a batch check costs about 0.4 of a lone one); and the [`Keys`] cache of decoded feed keys,
//! so that a grant arriving right after its feed's inception does not decode (decompress) the
//! same key again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use consent_proto::Entry;
use consent_proto::ids::FeedId;
use consent_proto::keys::PublicKey;
use tokio::sync::oneshot;

use super::staged::Staged;
use super::writer::{Item, Source};
use super::{Ledger, LedgerError};

/// Entries pre-verified together on one blocking thread; a larger submission is spread over
/// several.
pub(super) const PREVERIFY_CHUNK: usize = 64;

/// Decoded keys kept, by their encoding (a key is 32 bytes; its decoded form ~160).
const KEYS_CACHED: usize = 8_192;

/// What the pre-verification shares between the ledger's handles.
pub(super) struct Shared {
    coalescer: Coalescer,
    keys: Keys,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            coalescer: Coalescer::default(),
            keys: Keys(quick_cache::sync::Cache::new(KEYS_CACHED)),
        }
    }
}

/// Decoded feed keys by encoding. Decoding is a point decompression (a third of a signature
/// check); an encoding always decodes to the same key, so a cached one is never stale.
struct Keys(quick_cache::sync::Cache<[u8; 32], PublicKey>);

impl Keys {
    fn decode(&self, encoded: &[u8; 32]) -> Option<PublicKey> {
        if let Some(key) = self.0.get(encoded) {
            return Some(key);
        }
        let key = PublicKey::from_bytes(encoded).ok()?;
        self.0.insert(*encoded, key);
        Some(key)
    }

    fn remember(&self, key: &PublicKey) {
        self.0.insert(key.to_bytes(), *key);
    }
}

/// One waiting single-entry submission.
type Waiting = (Source, Entry, oneshot::Sender<Item>);

/// Single entries waiting for the next batch check, and whether a blocking thread is draining
/// them. At most one drains at a time: under load each drain takes everything that queued up
/// meanwhile, so batches grow with the load and no caller waits for more than one batch.
#[derive(Default)]
struct Coalescer {
    queue: Mutex<Vec<Waiting>>,
    draining: AtomicBool,
}

impl Ledger {
    /// Pre-verifies `entries` on blocking threads: a single entry joins the others waiting
    /// ([`Coalescer`]); a larger submission is cut into chunks of [`PREVERIFY_CHUNK`] verified
    /// in parallel.
    pub(super) async fn preverified(
        &self,
        source: Source,
        mut entries: Vec<Entry>,
    ) -> Result<Vec<Item>, LedgerError> {
        if entries.len() == 1
            && let Some(entry) = entries.pop()
        {
            return Ok(vec![self.preverified_one(source, entry).await?]);
        }
        let mut chunks = Vec::new();
        while !entries.is_empty() {
            let rest = entries.split_off(entries.len().min(PREVERIFY_CHUNK));
            let chunk = std::mem::replace(&mut entries, rest);
            let this = self.clone();
            chunks.push(tokio::task::spawn_blocking(move || {
                this.preverify(source, chunk)
            }));
        }
        let mut items = Vec::new();
        for chunk in chunks {
            items.extend(chunk.await.map_err(|_| LedgerError::ShuttingDown)?);
        }
        Ok(items)
    }

    /// One entry, checked in the next batch of single entries.
    async fn preverified_one(&self, source: Source, entry: Entry) -> Result<Item, LedgerError> {
        let (reply, item) = oneshot::channel();
        let coalescer = &self.preverify.coalescer;
        coalescer
            .queue
            .lock()
            .map_err(|_| LedgerError::ShuttingDown)?
            .push((source, entry, reply));
        if !coalescer.draining.swap(true, Ordering::AcqRel) {
            let this = self.clone();
            tokio::task::spawn_blocking(move || this.drain());
        }
        item.await.map_err(|_| LedgerError::ShuttingDown)
    }

    /// Checks every waiting single entry, batch after batch, until none is left.
    fn drain(&self) {
        let coalescer = &self.preverify.coalescer;
        loop {
            let batch = match coalescer.queue.lock() {
                Ok(mut queue) => std::mem::take(&mut *queue),
                // A poisoned queue: its callers' senders are dropped with it; they get an error.
                Err(_) => Vec::new(),
            };
            if batch.is_empty() {
                coalescer.draining.store(false, Ordering::Release);
                // An entry queued after the take but before the store saw `draining` set and
                // started no drain: take it up, unless a new drain already did.
                let queued = coalescer.queue.lock().is_ok_and(|q| !q.is_empty());
                if queued && !coalescer.draining.swap(true, Ordering::AcqRel) {
                    continue;
                }
                return;
            }
            let view = Staged::new(&*self.store);
            let keys: Vec<Option<PublicKey>> = batch
                .iter()
                .map(|(_, entry, _)| self.key_for(&view, entry, &HashMap::new()))
                .collect();
            let entries: Vec<&Entry> = batch.iter().map(|(_, entry, _)| entry).collect();
            let verified = verify(&entries, &keys);
            for ((source, entry, reply), verified_under) in batch.into_iter().zip(verified) {
                // The caller may have gone (its call was cancelled): nothing to do.
                let _ = reply.send(Item {
                    entry,
                    verified_under,
                    source,
                    admit: false,
                });
            }
        }
    }

    /// Verifies signatures, in batches, under the key each entry will need when it can be known
    /// now: its own key for inceptions and rotations; otherwise the key the same submission
    /// introduced earlier for that feed, or the feed's stored key (also for an entry past the
    /// head, which is then parked as verified: see consent-proto's `Verdict::Pending`). The
    /// writer re-checks any entry whose key changed meanwhile.
    pub(super) fn preverify(&self, source: Source, entries: Vec<Entry>) -> Vec<Item> {
        let view = Staged::new(&*self.store);
        let mut introduced: HashMap<FeedId, PublicKey> = HashMap::new();
        let keys: Vec<Option<PublicKey>> = entries
            .iter()
            .map(|entry| {
                let key = self.key_for(&view, entry, &introduced);
                if let Some(key) = entry.key_in_body() {
                    introduced.insert(entry.feed, key);
                }
                key
            })
            .collect();
        let verified = verify(&entries.iter().collect::<Vec<_>>(), &keys);
        entries
            .into_iter()
            .zip(verified)
            .map(|(entry, verified_under)| Item {
                entry,
                verified_under,
                source,
                admit: false,
            })
            .collect()
    }

    /// The key `entry` must be signed under, if it can be known now: the key in its body
    /// (inception, rotation), else one `introduced` earlier in the same submission, else the
    /// feed's stored key.
    fn key_for(
        &self,
        view: &Staged<'_, dyn crate::store::KvStore>,
        entry: &Entry,
        introduced: &HashMap<FeedId, PublicKey>,
    ) -> Option<PublicKey> {
        use consent_proto::validate::LedgerView;
        if let Some(key) = entry.key_in_body() {
            self.preverify.keys.remember(&key);
            return Some(key);
        }
        if let Some(key) = introduced.get(&entry.feed) {
            return Some(*key);
        }
        let state = view.feed(&entry.feed).ok().flatten()?;
        self.preverify.keys.decode(&state.signing_key)
    }
}

/// Checks the signatures of `entries` that have a key, in one batch; for each entry, the
/// encoded key its signature verified under.
fn verify(entries: &[&Entry], keys: &[Option<PublicKey>]) -> Vec<Option<[u8; 32]>> {
    let mut positions = Vec::with_capacity(entries.len());
    let mut items = Vec::with_capacity(entries.len());
    for (i, (entry, key)) in entries.iter().zip(keys).enumerate() {
        if let Some(key) = key {
            positions.push(i);
            items.push(consent_proto::sig::Item {
                key,
                domain: consent_proto::domain::ENTRY_SIGNATURE,
                message: &entry.payload,
                signature: &entry.signature,
            });
        }
    }
    let mut verified = vec![None; entries.len()];
    for (i, ok) in positions
        .into_iter()
        .zip(consent_proto::sig::verify_all(&items))
    {
        if ok {
            verified[i] = keys[i].map(|k| k.to_bytes());
        }
    }
    verified
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use consent_proto::fixtures::{self, T0};
    use consent_proto::vocab::Purpose;

    use super::super::{Ledger, LedgerConfig, Outcome};
    use super::*;
    use crate::store::memory::MemoryStore;

    /// Many concurrent single entries, some with signatures that do not verify, each get their
    /// own verdict, under the key of their stored feed; and nothing is left waiting after.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_single_entries_each_get_their_own_verdict() {
        let scene = fixtures::scene(T0);
        let registrars: HashSet<_> = [scene.registrar.feed()].into_iter().collect();
        let (ledger, writer) = Ledger::open(
            Arc::new(MemoryStore::new()),
            registrars,
            "test",
            LedgerConfig::default(),
        )
        .expect("open");
        let mut inceptions = Vec::new();
        let mut grants = Vec::new();
        for i in 0..200 {
            let (_, inception, grant) =
                fixtures::citizen_granting(&scene, &format!("c-{i}"), Purpose::ServiceProvision);
            inceptions.push(inception);
            grants.push(grant);
        }
        let written = ledger
            .submit(scene.entries.iter().cloned().chain(inceptions).collect())
            .await
            .expect("submit");
        assert!(
            written
                .iter()
                .all(|o| matches!(o, Outcome::Accepted { .. }))
        );
        let mut calls = Vec::new();
        for (i, mut grant) in grants.into_iter().enumerate() {
            if i % 7 == 0 {
                grant.signature[0] ^= 1;
            }
            let ledger = ledger.clone();
            calls.push(tokio::spawn(async move {
                let items = ledger
                    .preverified(Source::Local, vec![grant.clone()])
                    .await
                    .expect("preverified");
                (i, grant, items)
            }));
        }
        for call in calls {
            let (i, grant, items) = call.await.expect("task");
            assert_eq!(items.len(), 1);
            assert_eq!(items[0].entry.id, grant.id);
            assert_eq!(
                items[0].verified_under.is_some(),
                i % 7 != 0,
                "grant {i}: verified iff its signature is intact"
            );
        }
        let coalescer = &ledger.preverify.coalescer;
        assert!(coalescer.queue.lock().expect("queue").is_empty());
        ledger.shutdown().await;
        drop(ledger);
        writer.join();
    }
}
