//! The start-up position ([`StartupPosition`], the `Mstartup` row): the writer saves what the next
//! start-up check and the Merkle tree need at a state it produced, so that the start checks only
//! what came after it (`fsck::at_start`).
//!
//! A writer saves positions only when the start that opened its store passed its check (complete
//! or from an earlier position): by induction, everything before a position was checked or
//! written by a checked writer. It saves one
//! - when it starts running (the state the check just passed),
//! - with the group commit that comes once [`POSITION_EVERY`] entries were appended since the
//!   last one, in the same atomic batch: it describes the state the commit before left (the
//!   tree's size then; the group's own entries follow it in the batch), and
//! - at a clean stop, after the last commit.
//!
//! A crash therefore leaves a position at most [`POSITION_EVERY`] entries (and one group) behind
//! the log, or at the node's start if that is nearer.

use super::super::staged::Staged;
use super::super::tables::{StartupPosition, meta};
use super::Writer;
use crate::store::KvStore;

/// Entries appended between two start-up positions saved with group commits: beyond what came
/// since the node started, a start after a crash checks at most this many entries (and one
/// group commit) one by one.
pub(crate) const POSITION_EVERY: u64 = 16_384;

impl Writer {
    /// Saves start-up positions from now on (the store was checked when it was opened); the
    /// first is saved when the writer starts running.
    pub(crate) fn saving_positions(mut self) -> Self {
        self.position_saved = Some(self.committed.log_size);
        self
    }

    /// The start-up position of the state the last commit left, encoded; `None` (logged) if
    /// the tree is not at that state's size, which it always is.
    fn position(&self) -> Option<Vec<u8>> {
        let (size, root) = self.tree.whole_root()?;
        if size != self.committed.log_size {
            tracing::error!(
                tree = size,
                log = self.committed.log_size,
                "the log's tree is not at the log's size: no start-up position saved"
            );
            return None;
        }
        StartupPosition {
            log_size: size,
            feeds: self.committed.feeds,
            frozen: self.committed.frozen,
            last: self.last_id,
            root,
        }
        .encode()
        .inspect_err(|e| tracing::error!(error = %e, "cannot encode the start-up position"))
        .ok()
    }

    /// Stages the position of the state the last commit left with the group being written,
    /// when [`POSITION_EVERY`] entries (`position_every`) were appended since the last one
    /// saved; returns the log size it covers.
    pub(super) fn stage_position(&self, staged: &mut Staged<'_, dyn KvStore>) -> Option<u64> {
        let saved = self.position_saved?;
        if self.failed {
            return None;
        }
        if self.committed.log_size < saved.saturating_add(self.position_every) {
            return None;
        }
        staged.put(meta::STARTUP.to_vec(), self.position()?);
        Some(self.committed.log_size)
    }

    /// Saves the position of the state now, in a batch of its own, flushed (when the writer
    /// starts, and at a clean stop; never once it stopped writing after a failure, whose
    /// counters it cannot vouch for). A failure is logged: the next start checks more.
    pub(super) fn save_position(&mut self) {
        if self.position_saved.is_none() || self.failed {
            return;
        }
        let Some(bytes) = self.position() else {
            return;
        };
        let saved = self
            .store
            .apply(vec![(meta::STARTUP.to_vec(), Some(bytes))])
            .and_then(|()| self.store.flush());
        match saved {
            Ok(()) => self.position_saved = Some(self.committed.log_size),
            Err(e) => tracing::error!(
                error = %e,
                "cannot save the start-up position: the next start checks the entries since the last one"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use consent_proto::fixtures::{self, T0};
    use consent_proto::ids::EntryId;
    use consent_proto::vocab::Role;

    use super::super::super::tables::{self, StartupPosition, meta};
    use super::super::super::tree::{Frontier, LogTree};
    use super::super::super::{LedgerConfig, Stats};
    use super::super::{Item, Outcome, Source, Writer};
    use crate::store::KvStore;
    use crate::store::memory::MemoryStore;

    fn items(from: usize, n: usize) -> Vec<Item> {
        (from..from + n)
            .map(|i| Item {
                entry: fixtures::author(Role::Citizen, &format!("p{i}"), T0).1,
                verified_under: None,
                source: Source::Local,
                admit: false,
            })
            .collect()
    }

    fn stored(store: &dyn KvStore) -> Option<StartupPosition> {
        store
            .get(meta::STARTUP)
            .expect("get")
            .map(|v| StartupPosition::decode(&v).expect("a sound position"))
    }

    /// The position a group commit saves describes the state the commit before it left: its
    /// counters, the entry at its size - 1 and the log's root at that size. A writer that was
    /// not opened by a checked start saves none.
    #[test]
    fn group_commits_save_the_state_the_commit_before_left() {
        let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        // A writer on the store, its tree over the log the store holds.
        let open = |saving: bool| {
            let mut frontier = Frontier::default();
            for pair in store.scan_prefix(&[tables::prefix::LOG]) {
                let (_, id) = pair.expect("log row");
                frontier.push(&EntryId(tables::bytes32(&id).expect("an id")));
            }
            let tree = Arc::new(LogTree::new(frontier, Arc::clone(&store)));
            let writer = Writer::open(
                Arc::clone(&store),
                Arc::new(Stats::default()),
                Arc::new(HashSet::new()),
                Arc::clone(&tree),
                LedgerConfig::default(),
            )
            .expect("open");
            (
                if saving {
                    writer.saving_positions()
                } else {
                    writer
                },
                tree,
            )
        };
        let (mut replay, _) = open(false);
        let accepted = |outcomes: Vec<Outcome>| {
            assert!(
                outcomes
                    .iter()
                    .all(|o| matches!(o, Outcome::Accepted { .. })),
                "{outcomes:?}"
            );
        };
        accepted(replay.replay(items(0, 10)).expect("replay"));
        replay.save_position();
        assert_eq!(
            stored(&*store),
            None,
            "a replaying writer saves no position"
        );
        drop(replay);

        let (mut writer, tree) = open(true);
        writer.save_position();
        let at_start = stored(&*store).expect("saved when it starts");
        assert_eq!(at_start.log_size, 10);
        assert_eq!(at_start.feeds, 10);
        assert_eq!(Some(at_start.root), tree.root_at(10));
        assert_eq!(
            store.get(&tables::log_key(9)).expect("get"),
            Some(at_start.last.to_vec())
        );
        // Groups that start fewer than `position_every` entries after the last position save
        // none; the first that starts past it saves the state the commit before it left.
        writer.position_every = 50;
        accepted(writer.replay(items(10, 30)).expect("replay"));
        accepted(writer.replay(items(40, 30)).expect("replay"));
        assert_eq!(
            stored(&*store),
            Some(at_start),
            "40 and 70 entries: none due at 10 and 40"
        );
        accepted(writer.replay(items(70, 5)).expect("replay"));
        let saved = stored(&*store).expect("a position");
        assert_eq!(saved.log_size, 70, "the state the commit before left");
        assert_eq!(saved.feeds, 70);
        assert_eq!(saved.frozen, 0);
        assert_eq!(Some(saved.root), tree.root_at(70));
        assert_eq!(
            store.get(&tables::log_key(69)).expect("get"),
            Some(saved.last.to_vec())
        );
        accepted(writer.replay(items(75, 5)).expect("replay"));
        assert_eq!(stored(&*store), Some(saved), "next due 50 entries after 70");
        // A clean stop saves the state now.
        writer.save_position();
        let stopped = stored(&*store).expect("a position");
        assert_eq!((stopped.log_size, stopped.feeds), (80, 80));
        assert_eq!(Some(stopped.root), tree.root_at(80));
        assert_eq!(tree.size(), 80);
    }
}
