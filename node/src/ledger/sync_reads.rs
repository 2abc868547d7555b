//! Reads for anti-entropy sync: per-prefix digests of the feeds' heads ([`head_digest`]) and
//! pages of heads ([`FeedHead`]) under a prefix.

use super::tables;
use super::{FeedHead, Ledger, LedgerError, head_digest, prefix_end};

impl Ledger {
    /// Anti-entropy digests: for the feeds whose id starts with `prefix` (0 or 1 bytes), 256
    /// child digests, one per next byte of the id. A child digest is the XOR of [`head_digest`]
    /// over its feeds (all zero when empty).
    pub fn head_digests(&self, prefix: &[u8]) -> Result<Vec<[u8; 16]>, LedgerError> {
        let mut out = vec![[0u8; 16]; 256];
        if prefix.len() > 1 {
            return Ok(out);
        }
        let scan = [&[tables::prefix::FEED][..], prefix].concat();
        for pair in self.store.scan_prefix(&scan) {
            let (key, value) = pair?;
            let feed = tables::bytes32(&key[1..])?;
            let record: tables::FeedRecord = tables::decode(&value, "feed")?;
            let digest = head_digest(&feed, record.head_seq, &record.head_id, record.frozen);
            let slot = &mut out[usize::from(feed[prefix.len()])];
            for (s, d) in slot.iter_mut().zip(digest) {
                *s ^= d;
            }
        }
        Ok(out)
    }

    /// Heads `(feed, seq, head id, frozen)` of the feeds whose id starts with `prefix`, in feed
    /// order, after feed `after` if given, at most `limit`.
    pub fn heads_with_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8; 32]>,
        limit: usize,
    ) -> Result<Vec<FeedHead>, LedgerError> {
        let start = [&[tables::prefix::FEED][..], prefix].concat();
        let from = match after {
            // Just after `after`, if it lies under the prefix at all.
            Some(after) if after.starts_with(prefix) => {
                [&[tables::prefix::FEED][..], &after[..], &[0][..]].concat()
            }
            Some(after) if after[..] < *prefix => start.clone(),
            Some(_) => return Ok(Vec::new()),
            None => start.clone(),
        };
        let Some(end) = prefix_end(&start) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for pair in self.store.scan_range(&from, &end).take(limit) {
            let (key, value) = pair?;
            let record: tables::FeedRecord = tables::decode(&value, "feed")?;
            out.push((
                tables::bytes32(&key[1..])?,
                record.head_seq,
                record.head_id,
                record.frozen,
            ));
        }
        Ok(out)
    }
}
