//! The parts of the wallet's state about acting for others and being acted for: its delegate
//! feeds ([`Slot`]), the delegations it gave ([`Given`]), a guardian's children ([`Child`]) and a
//! child's own minority ([`Minor`]).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A delegate feed of this wallet: slot `s` of [`crate::delegate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// Whom it acts for, as this wallet's owner named them (`--name`).
    pub label: String,
    /// Key rotations done.
    #[serde(default)]
    pub rotations: u32,
    /// Ids (text) of the entries this keystore signed in the feed, recorded before they are
    /// submitted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signed: Vec<String>,
}

/// A delegation this wallet gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Given {
    /// The Delegation entry (`ent1…`).
    pub delegation: String,
    /// The collector of the pairwise feed it is in (`col1…`).
    pub collector: String,
    /// The delegate feed it names (`cit1…`).
    pub delegate: String,
    /// Whom it was given to, as this wallet's owner named them (`--name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A child a guardian acts for: the child's own keystore, kept until it is handed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Child {
    /// The child's keystore file (`None` once handed over with `wallet export --for-child`).
    pub keystore: Option<PathBuf>,
    /// The coming-of-age instant: UTC midnight of the date, Unix ms.
    pub comes_of_age_ms: u64,
    /// The co-guardian's delegate feed ids (`cit1…`, from its offer code); each new feed of the
    /// child names the next one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub co_guardian: Vec<String>,
    /// How many of them are used.
    #[serde(default)]
    pub co_guardian_used: usize,
}

/// A child's keystore: guardians act for it until `comes_of_age_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minor {
    /// The coming-of-age instant, Unix ms.
    pub comes_of_age_ms: u64,
    /// The grants guardians made that were in force at coming of age have been listed (once).
    #[serde(default)]
    pub listed: bool,
}
