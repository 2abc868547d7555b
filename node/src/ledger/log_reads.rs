//! Reads of the arrival log and of derived grant state for the Log service and for auditors
//! (`Ledger.GetLog`, `GetHead` with grants, inclusion proofs by index).

use consent_proto::ids::{EntryId, FeedId};

use super::tables::{self, GrantRecord};
use super::{Ledger, LedgerError};

impl Ledger {
    /// The arrival log from `from_index`, at most `limit`: each index with the id the log names
    /// and the entry stored under it exactly as stored (`None` if missing or not decodable).
    pub fn log_range(
        &self,
        from_index: u64,
        limit: usize,
    ) -> Result<Vec<(u64, EntryId, Option<consent_proto::pb::SignedEntry>)>, LedgerError> {
        use prost::Message as _;
        let from = tables::log_key(from_index);
        let to = tables::log_key(u64::MAX);
        let mut out = Vec::new();
        for pair in self.store.scan_range(&from, &to).take(limit) {
            let (key, id) = pair?;
            let index = tables::be_u64(&key[1..])?;
            let id = EntryId(tables::bytes32(&id)?);
            let signed = match self.store.get(&tables::entry_key(&id))? {
                Some(value) => tables::split_entry_value(&value)
                    .ok()
                    .and_then(|(_, bytes)| consent_proto::pb::SignedEntry::decode(bytes).ok()),
                None => None,
            };
            out.push((index, id, signed));
        }
        Ok(out)
    }

    /// The grants `subject` made, in feed order: `(collector, seq, grant id, revoked)`.
    pub fn grants_of(
        &self,
        subject: &FeedId,
    ) -> Result<Vec<(FeedId, u64, EntryId, bool)>, LedgerError> {
        let prefix = [&[tables::prefix::GRANT][..], &subject.0].concat();
        let mut out = Vec::new();
        for pair in self.store.scan_prefix(&prefix) {
            let (key, value) = pair?;
            let collector = FeedId(tables::bytes32(&key[33..65])?);
            let seq = tables::be_u64(&key[65..])?;
            let record: GrantRecord = tables::decode(&value, "grant")?;
            out.push((collector, seq, EntryId(record.id), record.revoked));
        }
        out.sort_by_key(|g| g.1);
        Ok(out)
    }

    /// The id of the entry at arrival index `index`.
    pub fn entry_at(&self, index: u64) -> Result<Option<EntryId>, LedgerError> {
        self.store
            .get(&tables::log_key(index))?
            .map(|id| tables::bytes32(&id).map(EntryId))
            .transpose()
            .map_err(LedgerError::from)
    }
}
