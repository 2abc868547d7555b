//! Receipts signed in groups. A call that asks for it (metadata `consent-receipt-form: group`)
//! gets its receipts signed together with those of every other call waiting at that moment: one
//! thread owns that signing, takes everything queued (it stops taking calls once [`GATHER`]
//! receipts are gathered; a call's own receipts are never split), signs the root of their tree
//! once ([`consent_proto::receipt::group`]) and hands each call its receipts' places. When idle,
//! a single receipt is signed at once (no waiting for company); under load the groups grow by
//! themselves, so the signatures per second stay what one core signs while the receipts per
//! second grow with the load.
//!
//! Each receipt's leaf is salted with 32 random bytes drawn for it alone, so that the hashes of
//! other callers' receipts in a path reveal nothing of them (a payload is easy to guess from the
//! public log). When a group cannot be had — no room among the [`WAITING`] receipts, the thread
//! is gone, no random bytes — [`GroupSigner::sign`] says so and the call's receipts are signed
//! alone (for checks, on a blocking thread under the collector's limit): every client that asks
//! must accept both forms.
//!
//! Calls that do not ask get receipts signed alone, where they are answered, as before.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use consent_proto::keys::SecretKey;
use consent_proto::merkle::Hash;
use consent_proto::receipt::group::{self, FORM_GROUP, FORM_KEY, Kind, Signed};
use prost::bytes::Bytes;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tonic::metadata::MetadataMap;

/// Receipts gathered into one group before it is signed (a call's own receipts, at most 1,000,
/// are never split, so a group holds at most 5,095; the protocol's bound is
/// `MAX_RECEIPT_GROUP`).
const GATHER: usize = 4_096;
/// Receipts waiting for a group or being signed, at most (whatever their calls); a call that
/// finds no room gets its receipts signed alone. It bounds what the queue holds (a receipt, its
/// call's answer) and how long a call can wait (a few groups).
const WAITING: usize = 16_384;

/// Whether the call asked for receipts signed in groups (the value exactly `group`).
pub(crate) fn wants_group(metadata: &MetadataMap) -> bool {
    metadata
        .get(FORM_KEY)
        .is_some_and(|v| v.as_bytes() == FORM_GROUP.as_bytes())
}

/// One call's receipts waiting to be signed.
struct Job {
    leaves: Vec<Hash>,
    reply: oneshot::Sender<Signed>,
}

/// Queues receipts for the group-signing thread. Cheap to clone; the thread ends when the last
/// clone is dropped.
#[derive(Clone)]
pub(crate) struct GroupSigner {
    queue: mpsc::UnboundedSender<Job>,
    /// Room for receipts waiting ([`WAITING`]): a call takes one permit per receipt.
    room: Arc<Semaphore>,
    /// Set once the thread was found gone (logged once).
    gone: Arc<AtomicBool>,
}

impl GroupSigner {
    /// Starts the thread that signs with `key`.
    pub(crate) fn start(key: SecretKey) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::unbounded_channel();
        thread::Builder::new()
            .name("receipt-signer".into())
            .spawn(move || run(&key, jobs))?;
        Ok(Self {
            queue,
            room: Arc::new(Semaphore::new(WAITING)),
            gone: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Signs `payloads` (a call's receipts of `kind`, in order) in the next group: the group's
    /// signature and each receipt's place, salt included, in the order given. `None` when no
    /// group can be had now (then sign them alone); nothing to sign for no payloads.
    pub(crate) async fn sign(&self, kind: Kind, payloads: &[&[u8]]) -> Option<Signed> {
        if payloads.is_empty() {
            return Some(Signed {
                signature: Bytes::new(),
                places: Vec::new(),
            });
        }
        // Busy (or a call larger than the room): these receipts are signed alone, not queued.
        let Ok(_room) = u32::try_from(payloads.len()).map_err(|_| ()).and_then(|n| {
            Arc::clone(&self.room)
                .try_acquire_many_owned(n)
                .map_err(|_| ())
        }) else {
            return None;
        };
        let mut salts = vec![[0u8; 32]; payloads.len()];
        if let Err(e) = getrandom::fill(salts.as_flattened_mut()) {
            tracing::warn!(error = %e, "no random bytes to salt receipts: signing them alone");
            return None;
        }
        let leaves = salts
            .iter()
            .zip(payloads)
            .map(|(salt, payload)| group::leaf(kind, salt, payload))
            .collect();
        let (reply, signed) = oneshot::channel();
        if self.queue.send(Job { leaves, reply }).is_err() {
            self.stopped();
            return None;
        }
        // A dropped reply: the thread refused the group (logged there) or ended (then the next
        // call finds the queue closed).
        let Ok(mut signed) = signed.await else {
            return None;
        };
        for (place, salt) in signed.places.iter_mut().zip(&salts) {
            place.salt = Bytes::copy_from_slice(salt);
        }
        Some(signed)
    }

    fn stopped(&self) {
        if !self.gone.swap(true, Ordering::Relaxed) {
            tracing::error!(
                "the receipt-signing thread is gone: receipts asked for in groups are signed alone"
            );
        }
    }
}

/// The signing thread: everything queued, signed at once, until every sender is gone.
fn run(key: &SecretKey, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = jobs.blocking_recv() {
        let mut gathered = first.leaves.len();
        let mut group = vec![first];
        while gathered < GATHER {
            match jobs.try_recv() {
                Ok(job) => {
                    gathered += job.leaves.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        // A call gone (its client left, its deadline passed) needs no signature.
        group.retain(|job| !job.reply.is_closed());
        let leaves: Vec<Hash> = group
            .iter()
            .flat_map(|job| job.leaves.iter().copied())
            .collect();
        // Nothing left to sign, or (never, at these sizes) a group the protocol refuses: the
        // dropped replies send those calls' receipts to be signed alone.
        let Some(signed) = group::sign(key, &leaves) else {
            if !leaves.is_empty() {
                tracing::error!(
                    receipts = leaves.len(),
                    "a receipt group the protocol refuses: its calls' receipts are signed alone"
                );
            }
            continue;
        };
        let mut places = signed.places.into_iter();
        for job in group {
            let mine = places.by_ref().take(job.leaves.len()).collect();
            // A call that went away meanwhile just drops its answer.
            let _ = job.reply.send(Signed {
                signature: signed.signature.clone(),
                places: mine,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use consent_proto::receipt;
    use consent_proto::receipt::group::verify;
    use tonic::metadata::MetadataValue;

    use super::*;

    #[test]
    fn only_the_group_form_asks_for_groups() {
        let mut m = MetadataMap::new();
        assert!(!wants_group(&m));
        m.insert(FORM_KEY, MetadataValue::from_static("alone"));
        assert!(!wants_group(&m));
        m.insert(FORM_KEY, MetadataValue::from_static("Group"));
        assert!(!wants_group(&m), "the value is exactly `group`");
        m.insert(FORM_KEY, MetadataValue::from_static("group"));
        assert!(wants_group(&m));
    }

    #[tokio::test]
    async fn without_a_signer_or_room_a_call_is_told_to_sign_alone() {
        let (queue, jobs) = mpsc::unbounded_channel();
        drop(jobs);
        let signer = GroupSigner {
            queue,
            room: Arc::new(Semaphore::new(WAITING)),
            gone: Arc::new(AtomicBool::new(false)),
        };
        assert!(signer.sign(Kind::Entry, &[b"x"]).await.is_none());
        assert!(signer.gone.load(Ordering::Relaxed), "said once, in the log");
        // No room: the call does not wait, and the thread is not said to be gone.
        let signer = GroupSigner::start(SecretKey::from_seed(&[8; 32])).expect("thread");
        let _taken = Arc::clone(&signer.room)
            .try_acquire_many_owned(WAITING as u32)
            .expect("all the room");
        assert!(signer.sign(Kind::Entry, &[b"x"]).await.is_none());
        assert!(!signer.gone.load(Ordering::Relaxed));
        drop(_taken);
        assert!(signer.sign(Kind::Entry, &[b"x"]).await.is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_calls_share_a_signature_and_each_receipt_verifies() {
        let key = SecretKey::from_seed(&[8; 32]);
        let signer = GroupSigner::start(key.clone()).expect("thread");
        let calls: Vec<_> = (0..64u64)
            .map(|call| {
                let signer = signer.clone();
                tokio::spawn(async move {
                    let payloads: Vec<Vec<u8>> = (0..=call % 3)
                        .map(|i| [call.to_be_bytes(), i.to_be_bytes()].concat())
                        .collect();
                    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
                    let signed = signer.sign(Kind::Entry, &refs).await.expect("signed");
                    (payloads, signed)
                })
            })
            .collect();
        for call in calls {
            let (payloads, signed) = call.await.expect("joined");
            assert_eq!(signed.places.len(), payloads.len());
            let signature: [u8; 64] = signed.signature.as_ref().try_into().expect("64 bytes");
            for (payload, place) in payloads.iter().zip(&signed.places) {
                assert_eq!(place.salt.len(), 32);
                verify(&key.public(), Kind::Entry, payload, &signature, place).expect("verifies");
            }
        }
        // Nothing to sign: no signature, no wait.
        assert!(
            signer
                .sign(Kind::Entry, &[])
                .await
                .expect("empty")
                .places
                .is_empty()
        );
        // An entry receipt built from a place verifies through the public verifier.
        let payload = receipt::payload(&key.public(), consent_proto::ids::EntryId([1; 32]), 3, 4);
        let signed = signer.sign(Kind::Entry, &[&payload]).await.expect("signed");
        let r = consent_proto::pb::Receipt {
            payload,
            signature: signed.signature,
            group: signed.places.into_iter().next(),
        };
        assert_eq!(receipt::verify(&r).expect("verifies").index, 3);
    }
}
