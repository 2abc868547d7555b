//! 32-byte identifiers (entry ids, feed ids, digests) and their bech32m text forms.

use std::fmt;
use std::str::FromStr;

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32m, Hrp};

use crate::vocab::Role;

/// A text form that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Not bech32m, or a bad checksum.
    #[error("not a valid id (bech32m checksum or characters): {0}")]
    Encoding(String),
    /// A valid string of another type (e.g. an entry id where a collector id was expected).
    #[error("expected a {expected} id starting with {prefix:?}, got one starting with {got:?}")]
    WrongPrefix {
        /// What was expected, in words.
        expected: &'static str,
        /// The expected prefix.
        prefix: String,
        /// The prefix found.
        got: String,
    },
    /// The decoded data is not 32 bytes.
    #[error("an id holds 32 bytes, this one holds {0}")]
    Length(usize),
}

/// A byte string that must be exactly 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expected 32 bytes, got {0}")]
pub struct LengthError(pub usize);

pub(crate) fn encode(hrp: &str, bytes: &[u8]) -> String {
    // The prefixes used here are constant and valid, and the data is at most 32 bytes, far below
    // bech32's length limit, so encoding cannot fail; fall back to hex rather than panic anyway.
    Hrp::parse(hrp)
        .ok()
        .and_then(|hrp| bech32::encode::<Bech32m>(hrp, bytes).ok())
        .unwrap_or_else(|| format!("{hrp}:{}", hex_lower(bytes)))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes a bech32m string into its prefix and 32 bytes.
pub(crate) fn decode(text: &str) -> Result<(String, [u8; 32]), TextError> {
    let checked = CheckedHrpstring::new::<Bech32m>(text.trim())
        .map_err(|e| TextError::Encoding(e.to_string()))?;
    let hrp = checked.hrp().to_lowercase();
    let data: Vec<u8> = checked.byte_iter().collect();
    let bytes: [u8; 32] = data
        .as_slice()
        .try_into()
        .map_err(|_| TextError::Length(data.len()))?;
    Ok((hrp, bytes))
}

pub(crate) fn decode_expecting(
    text: &str,
    prefix: &'static str,
    what: &'static str,
) -> Result<[u8; 32], TextError> {
    let (hrp, bytes) = decode(text)?;
    if hrp != prefix {
        return Err(TextError::WrongPrefix {
            expected: what,
            prefix: prefix.to_string(),
            got: hrp,
        });
    }
    Ok(bytes)
}

macro_rules! id32 {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// Text prefix of this id type.
            pub const PREFIX: &'static str = $prefix;

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// From a wire field that must hold exactly 32 bytes.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, LengthError> {
                bytes.try_into().map(Self).map_err(|_| LengthError(bytes.len()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&encode($prefix, &self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl FromStr for $name {
            type Err = TextError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                decode_expecting(s, $prefix, $what).map(Self)
            }
        }
    };
}

id32!(
    /// Id of an entry: `BLAKE3("consent-ledger/entry-id/v1" || payload || signature)`. Text: `ent1…`.
    EntryId, "ent", "entry"
);
id32!(
    /// A 32-byte BLAKE3 digest (next-key digests, document digests). Text: `dig1…`.
    Digest, "dig", "digest"
);

/// Id of a feed: `BLAKE3("consent-ledger/feed-id/v1" || inception payload)`.
///
/// The bytes do not say the feed's role; the text form does ([`TypedFeedId`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeedId(pub [u8; 32]);

impl FeedId {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// From a wire field that must hold exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, LengthError> {
        bytes
            .try_into()
            .map(Self)
            .map_err(|_| LengthError(bytes.len()))
    }

    /// The text form for a feed of the given role.
    pub fn typed(self, role: Role) -> TypedFeedId {
        TypedFeedId { role, id: self }
    }
}

impl fmt::Debug for FeedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FeedId({})", encode("feed", &self.0))
    }
}

/// A feed id with its role, as people see it: `cit1…`, `col1…` or `reg1…`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TypedFeedId {
    /// The feed's role (its text prefix).
    pub role: Role,
    /// The feed id.
    pub id: FeedId,
}

/// Text prefix for the feeds of a role.
pub fn role_prefix(role: Role) -> &'static str {
    match role {
        Role::Citizen => "cit",
        Role::Collector => "col",
        Role::Registrar => "reg",
        Role::Unspecified => "feed",
    }
}

impl fmt::Display for TypedFeedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode(role_prefix(self.role), &self.id.0))
    }
}

impl FromStr for TypedFeedId {
    type Err = TextError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (hrp, bytes) = decode(s)?;
        let role = match hrp.as_str() {
            "cit" => Role::Citizen,
            "col" => Role::Collector,
            "reg" => Role::Registrar,
            _ => {
                return Err(TextError::WrongPrefix {
                    expected: "feed",
                    prefix: "cit, col or reg".into(),
                    got: hrp,
                });
            }
        };
        Ok(TypedFeedId {
            role,
            id: FeedId(bytes),
        })
    }
}

impl TypedFeedId {
    /// Parses a feed id that must be of one role (e.g. a collector argument).
    pub fn parse_role(text: &str, role: Role) -> Result<FeedId, TextError> {
        let what = match role {
            Role::Citizen => "citizen (subject)",
            Role::Collector => "collector",
            Role::Registrar => "registrar",
            Role::Unspecified => "feed",
        };
        decode_expecting(text, role_prefix(role), what).map(FeedId)
    }
}

/// Encodes 32 bytes as bech32m with any valid prefix (e.g. a wallet's `recovery1…` key).
pub fn encode_text(prefix: &str, bytes: &[u8; 32]) -> String {
    encode(prefix, bytes)
}

/// Decodes a bech32m string that must carry `prefix` and 32 bytes.
pub fn decode_text(text: &str, prefix: &'static str) -> Result<[u8; 32], TextError> {
    decode_expecting(text, prefix, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn entry_id_text_round_trips(bytes in any::<[u8; 32]>()) {
            let id = EntryId(bytes);
            let text = id.to_string();
            prop_assert!(text.starts_with("ent1"));
            prop_assert_eq!(text.parse::<EntryId>(), Ok(id));
        }

        #[test]
        fn feed_id_text_round_trips(bytes in any::<[u8; 32]>(), role in 1i32..=3) {
            let role = Role::from_wire(role).expect("valid role");
            let typed = FeedId(bytes).typed(role);
            prop_assert_eq!(typed.to_string().parse::<TypedFeedId>(), Ok(typed));
            prop_assert_eq!(TypedFeedId::parse_role(&typed.to_string(), role), Ok(FeedId(bytes)));
        }

        #[test]
        fn parsing_garbage_never_panics(text in ".{0,120}") {
            let _ = text.parse::<EntryId>();
            let _ = text.parse::<TypedFeedId>();
        }
    }

    #[test]
    fn wrong_prefix_is_named() {
        let entry = EntryId([7; 32]).to_string();
        let err = TypedFeedId::parse_role(&entry, Role::Collector)
            .expect_err("an entry id is not a collector");
        assert!(err.to_string().contains("collector"), "{err}");
        let mut corrupted = entry.clone();
        corrupted.pop();
        corrupted.push(if entry.ends_with('q') { 'p' } else { 'q' });
        assert!(matches!(
            corrupted.parse::<EntryId>(),
            Err(TextError::Encoding(_))
        ));
    }

    #[test]
    fn bech32_non_m_checksum_is_rejected() {
        let hrp = Hrp::parse("ent").expect("valid hrp");
        let legacy = bech32::encode::<bech32::Bech32>(hrp, &[1u8; 32]).expect("encodes");
        assert!(legacy.parse::<EntryId>().is_err());
    }
}
