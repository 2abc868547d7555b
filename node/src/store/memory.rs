//! An in-memory engine (a `BTreeMap` behind a lock): for tests, replays and store checks.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::RwLock;

use super::{KvStore, Pair, Scan, StoreError, Write};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// A store that lives in memory only.
#[derive(Default)]
pub struct MemoryStore {
    map: RwLock<Map>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, Map>, StoreError> {
        self.map
            .read()
            .map_err(|_| StoreError::Engine("memory store lock poisoned".into()))
    }

    fn collect(
        &self,
        from: Bound<Vec<u8>>,
        to: Bound<Vec<u8>>,
        prefix: Option<&[u8]>,
    ) -> Vec<Pair> {
        match self.read() {
            Ok(map) => map
                .range((from, to))
                .take_while(|(k, _)| prefix.is_none_or(|p| k.starts_with(p)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl KvStore for MemoryStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read()?.get(key).cloned())
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Scan<'_> {
        let items = self.collect(
            Bound::Included(prefix.to_vec()),
            Bound::Unbounded,
            Some(prefix),
        );
        Box::new(items.into_iter().map(Ok))
    }

    fn scan_range(&self, from: &[u8], to: &[u8]) -> Scan<'_> {
        if from >= to {
            return Box::new(std::iter::empty());
        }
        let items = self.collect(
            Bound::Included(from.to_vec()),
            Bound::Excluded(to.to_vec()),
            None,
        );
        Box::new(items.into_iter().map(Ok))
    }

    fn scan_prefix_rev(&self, prefix: &[u8]) -> Scan<'_> {
        let mut items = self.collect(
            Bound::Included(prefix.to_vec()),
            Bound::Unbounded,
            Some(prefix),
        );
        items.reverse();
        Box::new(items.into_iter().map(Ok))
    }

    fn last_with_prefix(&self, prefix: &[u8]) -> Result<Option<Pair>, StoreError> {
        let map = self.read()?;
        Ok(map
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .last()
            .map(|(k, v)| (k.clone(), v.clone())))
    }

    fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let mut map = self
            .map
            .write()
            .map_err(|_| StoreError::Engine("memory store lock poisoned".into()))?;
        for (k, v) in writes {
            match v {
                Some(v) => map.insert(k, v),
                None => map.remove(&k),
            };
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_passes_conformance() {
        crate::store::conformance::run(super::MemoryStore::new);
    }
}
