//! Receipts signed in groups. A call that asks for it (metadata `consent-receipt-form: group`)
//! gets its receipts signed together with those of every other call waiting at that moment: one
//! thread owns that signing, takes everything queued (up to [`GATHER`] receipts), signs the root
//! of their tree once ([`consent_proto::receipt::group`]) and hands each call its receipts'
//! places. When idle, a single receipt is signed at once (no waiting for company); under load the
//! groups grow by themselves, so the signatures per second stay what one core signs while the
//! receipts per second grow with the load.
//!
//! Calls that do not ask get receipts signed alone, where they are answered, as before.

use std::thread;

use consent_proto::keys::SecretKey;
use consent_proto::merkle::Hash;
use consent_proto::receipt::group::{self, FORM_GROUP, FORM_KEY, Signed};
use tokio::sync::{mpsc, oneshot};
use tonic::Status;
use tonic::metadata::MetadataMap;

/// The most receipts gathered into one group before it is signed (a call's own receipts, at most
/// 1,000, are never split; the protocol's bound is `MAX_RECEIPT_GROUP`).
const GATHER: usize = 4_096;
/// Calls queued at most; more wait for room (each job is at most one batch of leaves).
const QUEUE: usize = 256;

/// Whether the call asked for receipts signed in groups.
pub(crate) fn wants_group(metadata: &MetadataMap) -> bool {
    metadata
        .get(FORM_KEY)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(FORM_GROUP))
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
    queue: mpsc::Sender<Job>,
}

impl GroupSigner {
    /// Starts the thread that signs with `key`.
    pub(crate) fn start(key: SecretKey) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::channel(QUEUE);
        thread::Builder::new()
            .name("receipt-signer".into())
            .spawn(move || run(&key, jobs))?;
        Ok(Self { queue })
    }

    /// Signs `leaves` (a call's receipts, in order) in the next group: the group's signature and
    /// each leaf's place, in the order given. Nothing to sign for no leaves.
    pub(crate) async fn sign(&self, leaves: Vec<Hash>) -> Result<Signed, Status> {
        if leaves.is_empty() {
            return Ok(Signed {
                signature: Default::default(),
                places: Vec::new(),
            });
        }
        let (reply, signed) = oneshot::channel();
        self.queue
            .send(Job { leaves, reply })
            .await
            .map_err(|_| stopped())?;
        signed.await.map_err(|_| stopped())
    }
}

fn stopped() -> Status {
    Status::unavailable("the node's receipt signer stopped (the node is shutting down); retry")
}

/// The signing thread: everything queued, signed at once, until every sender is gone.
fn run(key: &SecretKey, mut jobs: mpsc::Receiver<Job>) {
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
        let leaves: Vec<Hash> = group.iter().flat_map(|job| job.leaves.clone()).collect();
        let Some(signed) = group::sign(key, &leaves) else {
            // Nothing left to sign; a dropped reply tells any waiter.
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
    use consent_proto::receipt::group::{Kind, leaf};
    use consent_proto::receipt::{self, group::verify};
    use tonic::metadata::MetadataValue;

    use super::*;

    #[test]
    fn only_the_group_form_asks_for_groups() {
        let mut m = MetadataMap::new();
        assert!(!wants_group(&m));
        m.insert(FORM_KEY, MetadataValue::from_static("single"));
        assert!(!wants_group(&m));
        m.insert(FORM_KEY, MetadataValue::from_static(" Group "));
        assert!(wants_group(&m));
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
                    let leaves = payloads.iter().map(|p| leaf(Kind::Entry, p)).collect();
                    (payloads, signer.sign(leaves).await.expect("signed"))
                })
            })
            .collect();
        for call in calls {
            let (payloads, signed) = call.await.expect("joined");
            assert_eq!(signed.places.len(), payloads.len());
            let signature: [u8; 64] = signed.signature.as_ref().try_into().expect("64 bytes");
            for (payload, place) in payloads.iter().zip(&signed.places) {
                verify(&key.public(), Kind::Entry, payload, &signature, place).expect("verifies");
            }
        }
        // Nothing to sign: no signature, no wait.
        assert!(
            signer
                .sign(Vec::new())
                .await
                .expect("empty")
                .places
                .is_empty()
        );
        // An entry receipt built from a place verifies through the public verifier.
        let payload = receipt::payload(&key.public(), consent_proto::ids::EntryId([1; 32]), 3, 4);
        let signed = signer
            .sign(vec![leaf(Kind::Entry, &payload)])
            .await
            .expect("signed");
        let r = consent_proto::pb::Receipt {
            payload,
            signature: signed.signature,
            group: signed.places.into_iter().next(),
        };
        assert_eq!(receipt::verify(&r).expect("verifies").index, 3);
    }
}
