//! The delegate offer code: how a delegate hands a person fresh delegate feed ids, offline and in
//! one string (`consent wallet delegate-offer` prints it, `consent wallet delegate --to` reads it).
//!
//! Format: bech32m with the prefix `dlg` over `version (1 byte, = 1) || id_1 || … || id_N`, each
//! id a delegate feed id (32 bytes), `N` = 1..=[`MAX_OFFER_FEEDS`], no id twice. The person
//! names a different id in each pairwise feed it delegates from, so no two of its delegations
//! share a delegate feed (the ledger cannot link them). bech32m's checksum covers at most 1,023
//! characters, which bounds `N` (16 ids make 831 characters).

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32m, Hrp};
use consent_proto::ids::FeedId;

/// Text prefix of an offer code.
pub const PREFIX: &str = "dlg";
/// The code's format version.
pub const VERSION: u8 = 1;
/// Most delegate feeds in one code (`--feeds`).
pub const MAX_OFFER_FEEDS: usize = 16;

/// A code that does not parse, or cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    /// Not bech32m, a bad checksum, or another prefix.
    #[error("not a delegate offer code (it starts with dlg1 and is copied whole): {0}")]
    Encoding(String),
    /// A version this release does not read.
    #[error("delegate offer code version {0}; this release reads version 1")]
    Version(u8),
    /// Not a whole number of ids, none, too many, or one twice.
    #[error("the delegate offer code holds {0}; it holds 1 to 16 distinct delegate feed ids")]
    Ids(String),
}

/// Encodes `ids` (1..=[`MAX_OFFER_FEEDS`], distinct) as a `dlg1…` code.
pub fn encode(ids: &[FeedId]) -> Result<String, OfferError> {
    check(ids)?;
    let mut data = Vec::with_capacity(1 + 32 * ids.len());
    data.push(VERSION);
    for id in ids {
        data.extend_from_slice(&id.0);
    }
    let hrp = Hrp::parse(PREFIX).map_err(|e| OfferError::Encoding(e.to_string()))?;
    bech32::encode::<Bech32m>(hrp, &data).map_err(|e| OfferError::Encoding(e.to_string()))
}

/// Decodes a `dlg1…` code into its delegate feed ids, in the code's order.
pub fn decode(text: &str) -> Result<Vec<FeedId>, OfferError> {
    let checked = CheckedHrpstring::new::<Bech32m>(text.trim())
        .map_err(|e| OfferError::Encoding(e.to_string()))?;
    let hrp = checked.hrp().to_lowercase();
    if hrp != PREFIX {
        return Err(OfferError::Encoding(format!(
            "it starts with {hrp}1, not {PREFIX}1"
        )));
    }
    let data: Vec<u8> = checked.byte_iter().collect();
    let (&version, rest) = data
        .split_first()
        .ok_or_else(|| OfferError::Ids("nothing".into()))?;
    if version != VERSION {
        return Err(OfferError::Version(version));
    }
    if rest.len() % 32 != 0 {
        return Err(OfferError::Ids(format!(
            "{} bytes after its version",
            rest.len()
        )));
    }
    let ids: Vec<FeedId> = rest
        .chunks_exact(32)
        .filter_map(|c| FeedId::from_slice(c).ok())
        .collect();
    check(&ids)?;
    Ok(ids)
}

/// A digest of the code's ids, to remember that it was used without keeping the code.
pub fn digest(ids: &[FeedId]) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"consent-ledger wallet v1 offer used");
    for id in ids {
        h.update(&id.0);
    }
    hex::encode(h.finalize().as_bytes())
}

fn check(ids: &[FeedId]) -> Result<(), OfferError> {
    if ids.is_empty() || ids.len() > MAX_OFFER_FEEDS {
        return Err(OfferError::Ids(format!("{} ids", ids.len())));
    }
    let mut sorted: Vec<&FeedId> = ids.iter().collect();
    sorted.sort();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(OfferError::Ids("an id twice".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u8) -> Vec<FeedId> {
        (1..=n).map(|i| FeedId([i; 32])).collect()
    }

    #[test]
    fn codes_round_trip_up_to_the_largest() {
        for n in [1u8, 2, 16] {
            let code = encode(&ids(n)).expect("encodes");
            assert!(code.starts_with("dlg1"), "{code}");
            assert_eq!(decode(&code), Ok(ids(n)));
            assert_eq!(decode(&format!("  {code}\n")), Ok(ids(n)), "trimmed");
        }
        assert_eq!(
            encode(&ids(16)).map(|c| c.len()),
            Ok(831),
            "the documented length of the largest code"
        );
    }

    #[test]
    fn bad_codes_are_refused_with_what_is_wrong() {
        assert!(matches!(encode(&[]), Err(OfferError::Ids(_))));
        assert!(matches!(encode(&ids(17)), Err(OfferError::Ids(_))));
        let twice = [FeedId([1; 32]), FeedId([1; 32])];
        assert!(matches!(encode(&twice), Err(OfferError::Ids(_))));
        let code = encode(&ids(2)).expect("encodes");
        let mut typo = code.clone();
        typo.pop();
        typo.push(if code.ends_with('q') { 'p' } else { 'q' });
        assert!(matches!(decode(&typo), Err(OfferError::Encoding(_))));
        // Another bech32m string (a feed id) is not a code.
        let feed = consent_proto::ids::encode_text("cit", &[1; 32]);
        assert!(matches!(decode(&feed), Err(OfferError::Encoding(_))));
        // A version this release does not read, and a partial id.
        let hrp = Hrp::parse(PREFIX).expect("hrp");
        let v2 = bech32::encode::<Bech32m>(hrp, &[2u8; 33]).expect("encodes");
        assert_eq!(decode(&v2), Err(OfferError::Version(2)));
        let short = bech32::encode::<Bech32m>(hrp, &[1u8; 20]).expect("encodes");
        assert!(matches!(decode(&short), Err(OfferError::Ids(_))));
    }

    #[test]
    fn the_used_digest_depends_on_the_ids_and_their_order() {
        assert_eq!(digest(&ids(2)), digest(&ids(2)));
        assert_ne!(digest(&ids(2)), digest(&ids(3)));
        let mut reversed = ids(2);
        reversed.reverse();
        assert_ne!(digest(&ids(2)), digest(&reversed));
    }
}
