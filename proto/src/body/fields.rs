//! The checks of single fields that converting bodies from the wire shares: 32-byte ids and
//! digests, keys, texts, purpose and category lists, retention. Each violation is a `bad-field`
//! [`Rejection`] naming the field.

use crate::ids::Digest;
use crate::keys::PublicKey;
use crate::limits::{MAX_RETENTION_DAYS, MAX_VOCAB_ITEMS};
use crate::validate::Rejection;
use crate::vocab::{CategorySet, DataCategory, Purpose, PurposeSet};

pub(super) fn bad(field: &'static str, problem: impl Into<String>) -> Rejection {
    Rejection::BadField {
        field,
        problem: problem.into(),
    }
}

pub(super) fn id32(field: &'static str, bytes: &[u8]) -> Result<[u8; 32], Rejection> {
    bytes
        .try_into()
        .map_err(|_| bad(field, format!("must be 32 bytes, got {}", bytes.len())))
}

pub(super) fn key(field: &'static str, bytes: &[u8]) -> Result<PublicKey, Rejection> {
    PublicKey::from_slice(bytes).map_err(|_| bad(field, "not a usable Ed25519 public key"))
}

/// A text field: 1..=`max` bytes, no control characters, no white space at either end.
pub(crate) fn text(field: &'static str, value: &str, max: usize) -> Result<String, Rejection> {
    if value.is_empty() {
        return Err(bad(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(bad(
            field,
            format!("at most {max} bytes, got {}", value.len()),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(bad(field, "must not contain control characters"));
    }
    if value.trim() != value {
        return Err(bad(field, "must not start or end with white space"));
    }
    Ok(value.to_string())
}

pub(super) fn purposes(field: &'static str, wire: &[i32]) -> Result<PurposeSet, Rejection> {
    if wire.is_empty() || wire.len() > MAX_VOCAB_ITEMS {
        return Err(bad(
            field,
            format!("1..={MAX_VOCAB_ITEMS} values, got {}", wire.len()),
        ));
    }
    let mut set = PurposeSet::EMPTY;
    for v in wire {
        let p = Purpose::from_wire(*v)
            .ok_or_else(|| bad(field, format!("unknown or unspecified purpose {v}")))?;
        if !set.insert(p) {
            return Err(bad(field, format!("purpose {p} listed twice")));
        }
    }
    Ok(set)
}

pub(super) fn categories(field: &'static str, wire: &[i32]) -> Result<CategorySet, Rejection> {
    if wire.is_empty() || wire.len() > MAX_VOCAB_ITEMS {
        return Err(bad(
            field,
            format!("1..={MAX_VOCAB_ITEMS} values, got {}", wire.len()),
        ));
    }
    let mut set = CategorySet::EMPTY;
    for v in wire {
        let c = DataCategory::from_wire(*v)
            .ok_or_else(|| bad(field, format!("unknown or unspecified category {v}")))?;
        if !set.insert(c) {
            return Err(bad(field, format!("category {c} listed twice")));
        }
    }
    Ok(set)
}

pub(super) fn retention(field: &'static str, days: u32) -> Result<u32, Rejection> {
    if days == 0 || days > MAX_RETENTION_DAYS {
        return Err(bad(
            field,
            format!("1..={MAX_RETENTION_DAYS} days, got {days}"),
        ));
    }
    Ok(days)
}

/// An optional digest: 0 or 32 bytes.
pub(super) fn digest_opt(field: &'static str, bytes: &[u8]) -> Result<Option<Digest>, Rejection> {
    match bytes.len() {
        0 => Ok(None),
        _ => Ok(Some(Digest(id32(field, bytes)?))),
    }
}
