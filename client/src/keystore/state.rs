//! What the wallet remembers besides its secrets: the [`State`] in a keystore's plaintext, its
//! pairwise feeds and a collector's or registrar's own feed. What it holds about acting for others
//! (and being acted for) is in `delegation`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::delegation::{Child, Given, Minor, Slot};

/// What the wallet remembers besides its master secret. Everything here can be rebuilt from the
/// master secret and the nodes (see `consent wallet recover`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Citizen: pairwise feeds by collector id (`col1…`), with their rotation count.
    #[serde(default)]
    pub pairwise: BTreeMap<String, FeedState>,
    /// Collector or registrar: its one feed.
    #[serde(default)]
    pub own: Option<OwnFeed>,
    /// Citizen acting for others: its delegate feeds by slot number
    /// (`consent wallet delegate-offer`; [`crate::delegate`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub slots: BTreeMap<u32, Slot>,
    /// Delegations this wallet gave (`consent wallet delegate`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub given: Vec<Given>,
    /// Digests of the offer codes this wallet delegated to ([`crate::delegate::offer::digest`]):
    /// a code is used once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offers_used: Vec<String>,
    /// A guardian's children, by name (`consent wallet init --child`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub children: BTreeMap<String, Child>,
    /// A child's own keystore: until when its guardians act for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor: Option<Minor>,
    /// Citizen: the privacy setting (`consent wallet privacy`); `None`: the default
    /// ([`crate::privacy::Settings::default`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<crate::privacy::Settings>,
}

/// A pairwise feed's local state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedState {
    /// Key rotations done (the current key is key number `rotations`).
    pub rotations: u32,
    /// The seq from which `signed` lists every entry this keystore signed in the feed (set when
    /// the keystore first used the feed; a recovered keystore starts a new journal).
    #[serde(default)]
    pub journal_from: Option<u64>,
    /// Ids (text) of the entries this keystore signed in the feed from `journal_from` on,
    /// recorded before they are submitted.
    #[serde(default)]
    pub signed: Vec<String>,
    /// After `consent wallet takeover`: key number `n` derives from the successor master
    /// secret; the first master's keys `0..=successor_from` were used before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor_from: Option<u32>,
    /// Ids (text) of entries this keystore signed in the feed that will never be sent: withdrawn
    /// from the send queue before any node was handed them, or dropped from it by the person
    /// (the last [`MAX_UNSENT`]). A restored or older queue file that still holds one drops it
    /// instead of sending it (re-review N5: it would publish a grant the person withdrew).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsent: Vec<String>,
}

/// How many never-sent ids a feed remembers ([`FeedState::unsent`]).
pub const MAX_UNSENT: usize = 256;

impl FeedState {
    /// Remembers that `id` will never be sent ([`FeedState::unsent`]).
    pub fn note_unsent(&mut self, id: &str) {
        if !self.unsent.iter().any(|u| u == id) {
            self.unsent.push(id.to_string());
        }
        let over = self.unsent.len().saturating_sub(MAX_UNSENT);
        self.unsent.drain(..over);
    }
}

impl State {
    /// Every id this keystore will never send, of all its pairwise feeds
    /// ([`FeedState::unsent`]).
    pub fn unsent(&self) -> Vec<String> {
        self.pairwise
            .values()
            .flat_map(|f| f.unsent.iter().cloned())
            .collect()
    }
}

/// A collector's or registrar's feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnFeed {
    /// Feed id, text form.
    pub feed: String,
    /// Inception time, Unix ms.
    pub inception_ms: u64,
    /// Key rotations done.
    pub rotations: u32,
    /// The built-in dev network's registrar, whose keys are public constants
    /// (`consent_proto::dev`), not derived from this keystore's secret.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dev_registrar: bool,
}
