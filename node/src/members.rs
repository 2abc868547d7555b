//! The network's member nodes, as the genesis file lists them (`nodes`): the nodes whose
//! checkpoints this node witnesses, whose cosignatures its own checkpoints take, whose forks it
//! keeps evidence of, for whom connection slots are reserved, and whose traffic counts as
//! contact with the network (freshness).
//!
//! Without a list (the built-in development network, a genesis written before lists existed)
//! nobody is a member and the weaker rules apply: a cosignature is taken only from the node that
//! sends it, fork evidence only about nodes this node witnessed itself, and every peer's traffic
//! counts as contact (see `docs/security.md`).

use std::collections::HashSet;
use std::sync::Arc;

use consent_proto::keys::PublicKey;
use consent_proto::note::key_of;

/// The member nodes, by key; clones share them.
#[derive(Debug, Clone, Default)]
pub struct Members {
    /// `None`: the genesis lists no nodes.
    keys: Option<Arc<HashSet<PublicKey>>>,
    /// Refuse connections from other nodes.
    only: bool,
}

impl Members {
    /// No list: every node is treated alike (the weaker mode).
    pub fn unlisted() -> Self {
        Self::default()
    }

    /// The listed nodes; with `only`, other nodes are refused at connection time.
    pub fn listed(keys: impl IntoIterator<Item = PublicKey>, only: bool) -> Self {
        Self {
            keys: Some(Arc::new(keys.into_iter().collect())),
            only,
        }
    }

    /// Whether the genesis lists the network's nodes.
    pub fn is_listed(&self) -> bool {
        self.keys.is_some()
    }

    /// Whether nodes outside the list are refused at connection time.
    pub fn members_only(&self) -> bool {
        self.only && self.is_listed()
    }

    /// How many nodes are listed (0 without a list).
    pub fn count(&self) -> usize {
        self.keys.as_ref().map_or(0, |k| k.len())
    }

    /// Whether the node with this key is listed (never, without a list).
    pub fn contains_key(&self, key: &PublicKey) -> bool {
        self.keys.as_ref().is_some_and(|k| k.contains(key))
    }

    /// Whether the node with this id (`node1…`) is listed (never, without a list).
    pub fn contains(&self, node_id: &str) -> bool {
        self.is_listed() && key_of(node_id).is_some_and(|k| self.contains_key(&k))
    }

    /// The listed keys (none without a list).
    pub fn keys(&self) -> impl Iterator<Item = &PublicKey> {
        self.keys.iter().flat_map(|k| k.iter())
    }
}

#[cfg(test)]
mod tests {
    use consent_proto::fixtures;
    use consent_proto::note::NODE_PREFIX;

    use super::*;

    #[test]
    fn members_are_known_by_key_and_id() {
        let a = fixtures::key("member-a").public();
        let b = fixtures::key("member-b").public();
        let listed = Members::listed([a], false);
        assert!(listed.is_listed() && !listed.members_only());
        assert!(listed.contains_key(&a) && !listed.contains_key(&b));
        assert!(listed.contains(&a.to_text(NODE_PREFIX)));
        assert!(!listed.contains(&b.to_text(NODE_PREFIX)));
        assert!(!listed.contains("not a node id"));
        assert_eq!(listed.count(), 1);
        let none = Members::unlisted();
        assert!(!none.is_listed() && !none.contains_key(&a) && none.count() == 0);
        assert!(
            !Members {
                keys: None,
                only: true
            }
            .members_only()
        );
    }
}
