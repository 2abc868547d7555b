//! The rows the node's log module keeps in the store (`M` rows, see [`tables::meta`]): this
//! node's latest signed checkpoint note, the latest checkpoint note it cosigned for each node it
//! witnesses, and fork proofs. They are not part of the replicated log. Saves go through the
//! single writer ([`Job::Log`]) and return once durable; loads read every row and block (the log
//! module reads them once, at start-up, and keeps them in memory).

use tokio::sync::oneshot;

use super::tables::{self, meta};
use super::writer::Job;
use super::{Ledger, LedgerError};
use crate::store::Write;

impl Ledger {
    /// Keeps `note`, the text of this node's latest signed checkpoint, in place of the one kept
    /// before; returns once it is durable.
    pub async fn save_checkpoint(&self, note: String) -> Result<(), LedgerError> {
        self.save_log(vec![(meta::CHECKPOINT.to_vec(), Some(note.into_bytes()))])
            .await
    }

    /// The latest checkpoint note kept, as saved (blocking: read it at start-up).
    pub fn load_checkpoint(&self) -> Result<Option<Vec<u8>>, LedgerError> {
        Ok(self.store.get(meta::CHECKPOINT)?)
    }

    /// Keeps `note` as the latest checkpoint cosigned for `origin`, and forgets the one kept for
    /// `forget` if any, in one commit; returns once it is durable.
    pub async fn save_witnessed(
        &self,
        origin: &str,
        note: &str,
        forget: Option<&str>,
    ) -> Result<(), LedgerError> {
        let mut writes: Vec<Write> = vec![(
            tables::witnessed_key(origin),
            Some(note.as_bytes().to_vec()),
        )];
        if let Some(old) = forget {
            writes.push((tables::witnessed_key(old), None));
        }
        self.save_log(writes).await
    }

    /// Every checkpoint note kept as cosigned, in key order (blocking: read them at start-up).
    pub fn load_witnessed(&self) -> Result<Vec<Vec<u8>>, LedgerError> {
        self.values_under(meta::WITNESSED)
    }

    /// Keeps `proof` (two notes `origin` signed for one size with different roots), and forgets
    /// the proof kept about `evict` if any, in one commit; returns once it is durable.
    pub async fn save_fork(
        &self,
        origin: &str,
        proof: &str,
        evict: Option<&str>,
    ) -> Result<(), LedgerError> {
        let mut writes: Vec<Write> =
            vec![(tables::fork_key(origin), Some(proof.as_bytes().to_vec()))];
        if let Some(old) = evict {
            writes.push((tables::fork_key(old), None));
        }
        self.save_log(writes).await
    }

    /// Every fork proof kept, in key order (blocking: read them at start-up).
    pub fn load_forks(&self) -> Result<Vec<Vec<u8>>, LedgerError> {
        self.values_under(meta::FORKS)
    }

    /// The values of every row whose key starts with `prefix`.
    fn values_under(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, LedgerError> {
        let mut out = Vec::new();
        for pair in self.store.scan_prefix(prefix) {
            let (_, value) = pair?;
            out.push(value);
        }
        Ok(out)
    }

    /// Hands `writes` to the writer and waits until they are durable.
    async fn save_log(&self, writes: Vec<Write>) -> Result<(), LedgerError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Log { writes, reply })
            .await
            .map_err(|_| LedgerError::ShuttingDown)?;
        rx.await.map_err(|_| LedgerError::ShuttingDown)?
    }
}
