//! The network genesis: the file every node of one city network shares. It names the network,
//! the registrars whose accreditations count, bootstrap peers and, optionally, the network's
//! member nodes, and, optionally, the rules of public consultations (`[consultation]`). Its
//! digest (over the network id, the sorted registrar ids and, when present, the consultation
//! window; bootstrap peers, member nodes, names and the objection threshold may change) binds a
//! store to its network.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use consent_proto::ids::{FeedId, TypedFeedId};
use consent_proto::vocab::Role;
use serde::{Deserialize, Serialize};

/// The genesis as written on disk (TOML).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// Network id: 1..=64 characters of `[a-z0-9-]`.
    pub network_id: String,
    /// Registrar feed ids (`reg1…`) whose accreditations count.
    pub registrars: Vec<String>,
    /// libp2p multiaddrs of bootstrap peers (used once replication lands).
    #[serde(default)]
    pub bootstrap: Vec<String>,
    /// The network's member nodes (`node1…`): only their checkpoints are witnessed, only their
    /// cosignatures are taken on this node's checkpoints, only evidence of their forks is kept,
    /// connection slots are reserved for them and only their traffic counts as contact with the
    /// network (freshness). Empty: every node is treated alike, the weaker mode of a development
    /// network ([`crate::members`]). Not part of the digest, so nodes can join and leave without
    /// a new network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    /// Refuse connections from nodes not in `nodes` (which must then list them). Not part of the
    /// digest.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub members_only: bool,
    /// Public names of the network's nodes (`node1…`) and registrars (`reg1…`), for people: who
    /// runs each. Shown on the transparency page; not part of the digest, so names can be
    /// corrected without a new network.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub names: BTreeMap<String, String>,
    /// Public consultations (`[consultation]`): a policy version that widens what is collected
    /// must be put to consultation for at least `widening_min_days`, and takes effect only when
    /// a registrar approves it. Absent: the network requires no consultation (voluntary ones
    /// still work). The window is part of the digest (validity depends on it); the threshold is
    /// not (only admission reads it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consultation: Option<ConsultationSection>,
}

/// The genesis's `[consultation]` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsultationSection {
    /// Shortest window of a widening version's consultation, in days: 1..=365.
    pub widening_min_days: u32,
    /// Objection reasons raised by at least this many objecting stances need a collector's
    /// response before a registrar may approve the draft (admission, not validity): 1..=1,000,000.
    pub objection_threshold: u64,
}

/// Largest `widening_min_days`: a consultation lasts at most 365 days (the spec's
/// `MAX_CONSULTATION_DAYS`), so no longer minimum could ever be met.
pub const MAX_WIDENING_MIN_DAYS: u32 = 365;
/// Largest `objection_threshold`.
pub const MAX_OBJECTION_THRESHOLD: u64 = 1_000_000;

/// Most names listed.
pub const MAX_NAMES: usize = 1024;
/// Most member nodes listed.
pub const MAX_NODES: usize = 1024;
/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 120;

/// A genesis that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// Unreadable.
    #[error("cannot read genesis file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Invalid.
    #[error("genesis file {path} is invalid: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Largest genesis file read.
const MAX_GENESIS_BYTES: u64 = 256 * 1024;
/// Most registrars listed.
pub const MAX_REGISTRARS: usize = 256;

impl Genesis {
    /// The built-in development network: network id `dev`, the public dev registrar.
    pub fn dev() -> Genesis {
        let registrars = consent_proto::dev::registrar_feed()
            .map(|f| vec![f.typed(Role::Registrar).to_string()])
            .unwrap_or_default();
        Genesis {
            network_id: consent_proto::dev::NETWORK_ID.into(),
            registrars,
            bootstrap: Vec::new(),
            nodes: Vec::new(),
            members_only: false,
            names: Default::default(),
            consultation: None,
        }
    }

    /// Reads and checks a genesis file.
    pub fn load(path: &Path) -> Result<Genesis, GenesisError> {
        let shown = path.display().to_string();
        let read = |source| GenesisError::Read {
            path: shown.clone(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read)?.len();
        let invalid = |message: String| GenesisError::Invalid {
            path: shown.clone(),
            message,
        };
        if len > MAX_GENESIS_BYTES {
            return Err(invalid(format!("{len} bytes; the limit is 256 KiB")));
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        let genesis: Genesis = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        genesis.check().map_err(invalid)?;
        Ok(genesis)
    }

    /// Checks the fields.
    pub fn check(&self) -> Result<(), String> {
        let id = &self.network_id;
        if id.is_empty()
            || id.len() > 64
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(format!(
                "network_id {id:?} must be 1..=64 characters of a-z, 0-9 and -"
            ));
        }
        if self.registrars.len() > MAX_REGISTRARS {
            return Err(format!("at most {MAX_REGISTRARS} registrars"));
        }
        let mut seen = HashSet::new();
        for r in &self.registrars {
            let feed = TypedFeedId::parse_role(r, Role::Registrar)
                .map_err(|e| format!("registrar {r:?}: {e}"))?;
            if !seen.insert(feed) {
                return Err(format!("registrar {r} is listed twice"));
            }
        }
        if self.nodes.len() > MAX_NODES {
            return Err(format!("at most {MAX_NODES} nodes"));
        }
        let mut listed = HashSet::new();
        for n in &self.nodes {
            let key =
                consent_proto::keys::PublicKey::from_text(n, consent_proto::note::NODE_PREFIX)
                    .map_err(|e| format!("nodes: {n:?} is not a node id (node1…): {e}"))?;
            if !listed.insert(key) {
                return Err(format!("nodes: {n} is listed twice"));
            }
        }
        if self.members_only && self.nodes.is_empty() {
            return Err("members_only needs the member nodes listed in `nodes`".into());
        }
        if self.names.len() > MAX_NAMES {
            return Err(format!("at most {MAX_NAMES} names"));
        }
        for (id, name) in &self.names {
            let known = TypedFeedId::parse_role(id, Role::Registrar).is_ok()
                || consent_proto::keys::PublicKey::from_text(id, consent_proto::note::NODE_PREFIX)
                    .is_ok();
            if !known {
                return Err(format!(
                    "names: {id:?} is neither a node id (node1…) nor a registrar id (reg1…)"
                ));
            }
            if name.trim().is_empty()
                || name.chars().count() > MAX_NAME_CHARS
                || name.chars().any(char::is_control)
            {
                return Err(format!(
                    "names: the name of {id} must be 1..={MAX_NAME_CHARS} printable characters"
                ));
            }
        }
        if let Some(c) = &self.consultation {
            if c.widening_min_days == 0 || c.widening_min_days > MAX_WIDENING_MIN_DAYS {
                return Err(format!(
                    "consultation: widening_min_days must be 1..={MAX_WIDENING_MIN_DAYS}"
                ));
            }
            if c.objection_threshold == 0 || c.objection_threshold > MAX_OBJECTION_THRESHOLD {
                return Err(format!(
                    "consultation: objection_threshold must be 1..={MAX_OBJECTION_THRESHOLD}"
                ));
            }
        }
        Ok(())
    }

    /// The registrar feed ids.
    pub fn registrar_feeds(&self) -> HashSet<FeedId> {
        self.registrars
            .iter()
            .filter_map(|r| TypedFeedId::parse_role(r, Role::Registrar).ok())
            .collect()
    }

    /// The `[consultation]` rules validity reads (`None`: the network requires no
    /// consultation).
    pub fn consultation_rules(&self) -> Option<consent_proto::consultation::Rules> {
        self.consultation
            .map(|c| consent_proto::consultation::Rules {
                widening_min_days: c.widening_min_days,
            })
    }

    /// The member nodes ([`crate::members::Members::unlisted`] when `nodes` is empty).
    pub fn members(&self) -> crate::members::Members {
        if self.nodes.is_empty() {
            return crate::members::Members::unlisted();
        }
        crate::members::Members::listed(
            self.nodes
                .iter()
                .filter_map(|n| consent_proto::note::key_of(n)),
            self.members_only,
        )
    }

    /// Hex BLAKE3 of `"consent-ledger/genesis/v1\n" network_id "\n"`, each registrar id
    /// (text, sorted) followed by `"\n"` and, when `[consultation]` is present,
    /// `"consultation widening_min_days=" N " objection_threshold=" K "\n"` (decimal). Without
    /// the section the digest is what it always was. Both values are in it: the window changes
    /// validity, and the threshold what every node of the network asks before it takes an
    /// approval, so nodes that differ on either are not of one network.
    pub fn digest(&self) -> String {
        let mut registrars: Vec<String> = self
            .registrar_feeds()
            .iter()
            .map(|f| f.typed(Role::Registrar).to_string())
            .collect();
        registrars.sort();
        let mut h = blake3::Hasher::new();
        h.update(b"consent-ledger/genesis/v1\n");
        h.update(self.network_id.as_bytes());
        h.update(b"\n");
        for r in registrars {
            h.update(r.as_bytes());
            h.update(b"\n");
        }
        if let Some(c) = &self.consultation {
            h.update(
                format!(
                    "consultation widening_min_days={} objection_threshold={}\n",
                    c.widening_min_days, c.objection_threshold
                )
                .as_bytes(),
            );
        }
        h.finalize().to_hex().to_string()
    }

    /// The TOML text, with a header comment.
    pub fn to_toml(&self) -> Result<String, String> {
        let body = toml::to_string_pretty(self).map_err(|e| e.to_string())?;
        Ok(format!(
            "# consent-ledger network genesis. Every node of the network uses this same file.\n\
             # digest: {}\n{body}",
            self.digest()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_genesis_is_valid_and_stable() {
        let g = Genesis::dev();
        g.check().expect("valid");
        assert_eq!(g.registrar_feeds().len(), 1);
        assert_eq!(g.digest(), Genesis::dev().digest());
    }

    #[test]
    fn round_trip_and_validation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("genesis.toml");
        let g = Genesis::dev();
        std::fs::write(&path, g.to_toml().expect("toml")).expect("write");
        assert_eq!(Genesis::load(&path).expect("loads"), g);
        let bad = Genesis {
            network_id: "Bad Name".into(),
            ..g.clone()
        };
        assert!(bad.check().is_err());
        let dup = Genesis {
            registrars: vec![g.registrars[0].clone(), g.registrars[0].clone()],
            ..g.clone()
        };
        assert!(dup.check().is_err());
        let named = |id: &str, name: &str| Genesis {
            names: [(id.to_string(), name.to_string())].into_iter().collect(),
            ..g.clone()
        };
        let node = consent_proto::keys::SecretKey::from_seed(&[7; 32])
            .public()
            .to_text("node");
        assert!(
            named(&node, "City of Example, IT department")
                .check()
                .is_ok()
        );
        assert!(
            named(&g.registrars[0], "Data protection office")
                .check()
                .is_ok()
        );
        assert!(named("someone", "x").check().is_err());
        assert!(named(&node, "").check().is_err());
        assert!(named(&node, &"x".repeat(121)).check().is_err());
        assert_eq!(
            named(&node, "x").digest(),
            g.digest(),
            "names are not in the digest"
        );
        let wrong = Genesis {
            registrars: vec![consent_proto::EntryId([1; 32]).to_string()],
            ..g.clone()
        };
        assert!(
            wrong
                .check()
                .expect_err("an entry id is no registrar")
                .contains("registrar")
        );
        std::fs::write(&path, "network_id = \"x\"\nregistrars = []\nsurprise = 1\n")
            .expect("write");
        assert!(matches!(
            Genesis::load(&path),
            Err(GenesisError::Invalid { .. })
        ));
        // Bootstrap peers do not change the digest; registrar order does not either.
        let moved = Genesis {
            bootstrap: vec!["/ip4/127.0.0.1/tcp/1".into()],
            ..g.clone()
        };
        assert_eq!(moved.digest(), g.digest());
    }

    #[test]
    fn the_consultation_section_is_checked_and_only_its_window_is_in_the_digest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("genesis.toml");
        let g = Genesis::dev();
        let with = |days: u32, threshold: u64| Genesis {
            consultation: Some(ConsultationSection {
                widening_min_days: days,
                objection_threshold: threshold,
            }),
            ..g.clone()
        };
        let c = with(14, 3);
        c.check().expect("valid");
        assert_ne!(c.digest(), g.digest(), "the window is in the digest");
        assert_ne!(c.digest(), with(15, 3).digest(), "so is its length");
        assert_ne!(c.digest(), with(14, 9).digest(), "and the threshold");
        // Without the section, the digest is the one every existing store holds.
        let mut h = blake3::Hasher::new();
        h.update(b"consent-ledger/genesis/v1\n");
        h.update(g.network_id.as_bytes());
        h.update(b"\n");
        h.update(g.registrars[0].as_bytes());
        h.update(b"\n");
        assert_eq!(g.digest(), h.finalize().to_hex().to_string());
        h.update(b"consultation widening_min_days=14 objection_threshold=3\n");
        assert_eq!(c.digest(), h.finalize().to_hex().to_string());

        std::fs::write(&path, c.to_toml().expect("toml")).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("[consultation]"), "{text}");
        assert_eq!(Genesis::load(&path).expect("loads"), c);
        std::fs::write(&path, g.to_toml().expect("toml")).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            !text.contains("consultation"),
            "absent stays absent: {text}"
        );

        for (days, threshold) in [(0, 3), (366, 3), (14, 0), (14, MAX_OBJECTION_THRESHOLD + 1)] {
            assert!(
                with(days, threshold)
                    .check()
                    .expect_err("out of range")
                    .contains("consultation"),
                "{days} days, threshold {threshold}"
            );
        }
        with(MAX_WIDENING_MIN_DAYS, MAX_OBJECTION_THRESHOLD)
            .check()
            .expect("the limits themselves are valid");
        std::fs::write(
            &path,
            "network_id = \"x\"\nregistrars = []\n[consultation]\nwidening_min_days = 14\n",
        )
        .expect("write");
        assert!(
            matches!(Genesis::load(&path), Err(GenesisError::Invalid { .. })),
            "both keys are required"
        );
    }

    #[test]
    fn member_nodes_are_checked_and_not_in_the_digest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("genesis.toml");
        let g = Genesis::dev();
        let node = |seed: u8| {
            consent_proto::keys::SecretKey::from_seed(&[seed; 32])
                .public()
                .to_text("node")
        };
        let listed = Genesis {
            nodes: vec![node(1), node(2)],
            members_only: true,
            ..g.clone()
        };
        listed.check().expect("valid");
        assert_eq!(listed.digest(), g.digest(), "members are not in the digest");
        std::fs::write(&path, listed.to_toml().expect("toml")).expect("write");
        let loaded = Genesis::load(&path).expect("loads");
        assert_eq!(loaded, listed);
        let members = loaded.members();
        assert!(members.is_listed() && members.members_only() && members.count() == 2);
        assert!(members.contains(&node(1)) && !members.contains(&node(3)));
        assert!(!g.members().is_listed(), "no list: no members");

        let twice = Genesis {
            nodes: vec![node(1), node(1)],
            ..g.clone()
        };
        assert!(twice.check().expect_err("a duplicate").contains("twice"));
        let bad = Genesis {
            nodes: vec![g.registrars[0].clone()],
            ..g.clone()
        };
        assert!(bad.check().expect_err("a registrar id").contains("nodes"));
        let only = Genesis {
            members_only: true,
            ..g.clone()
        };
        assert!(only.check().is_err(), "members_only without a list");
        let many = Genesis {
            nodes: (0..=MAX_NODES)
                .map(|i| {
                    let mut seed = [0u8; 32];
                    seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
                    consent_proto::keys::SecretKey::from_seed(&seed)
                        .public()
                        .to_text("node")
                })
                .collect(),
            ..g.clone()
        };
        assert!(many.check().is_err(), "too many nodes");
    }
}
