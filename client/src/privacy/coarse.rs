//! The coarse-time rule: which `time_ms` a wallet signs, and what a grant's validity times
//! become, when the wallet hides the moment it acted (consent-proto crate docs, "Signed times of
//! citizen entries": the normative text; this module is its code, checked against the
//! `coarse_times` test vectors).
//!
//! - **`time_ms`** ([`signed_time`]): the moment of signing rounded *down* to a multiple of the
//!   granularity `g` (since the Unix epoch, UTC; `g` a multiple of 2.5 minutes dividing a day),
//!   then raised to the entry's floor: the largest of the feed's previous entry's time (a feed's
//!   times stay in order, which validation requires), a stance's draft time, the delegation's
//!   time for an entry in someone's name, an undelegation's `void_from_ms`, 2020-01-01, and, for
//!   an own grant that allows sale or sharing, one millisecond after the latest counting opt-out
//!   a delegate signed in the person's name for that collector before it
//!   ([`after_delegated_opt_out`]: so that the grant is not opted out by a withdrawal it came
//!   after; the opt-out denies nothing else, so other grants take no such floor). A grant in a
//!   minor's feed is not signed before the coming-of-age instant (a node would refuse it), which
//!   is on every grid: rounding never puts it before the instant. Nodes
//!   accept it: validation bounds a time only from above (5 minutes past the node's clock), from
//!   below (2020) and by the feed's previous entry. Where a rule reads the time, it is kept
//!   within that rule ([`Exactness`]): an entry in someone's name (refused when signed more than
//!   5 minutes before the node's clock) is rounded to at most half that bound, so the other half
//!   is left for the two clocks' difference and the sending; withdrawals compared with times
//!   signed in other feeds (an opt-out of sale, own or in someone's name; an undelegation) stay
//!   exact. An inception is never rounded: its time is part of its derivation.
//! - **`valid_from`** ([`valid_from`]): rounded *up* to a multiple, from the later of the moment
//!   of signing and the moment the grant is due to be sent. A consent never starts before it was
//!   given nor while it waits unsent (a question about a past moment is answered from
//!   `valid_from`, not from when the grant arrived), and an exact `valid_from` would publish the
//!   very millisecond the coarse `time_ms` hides (the benchmark's attacker reads it). The cost: a
//!   collector checking right after the grant arrives may be denied (`not-yet-valid`) until the
//!   boundary, at most one granularity (15 minutes by default). A grant sent later than it was
//!   due (no command ran at its moment) is in force from its `valid_from` on, once a node holds
//!   it. `consent grant --now` signs exact times and sends at once when the person needs the
//!   consent in force at once, and says what that costs. A grant whose revocations go with it
//!   (`--replace`) leaves at once: its `valid_from` is that of a grant sent at once (rounded up,
//!   never backdated: it may allow what the grants it replaces never did).
//! - **`valid_until`** ([`valid_until`]): every end the person gives (a duration, a date, an
//!   instant) rounded *down* (a consent never lasts longer than asked); a date at UTC midnight is
//!   on every grid already.
//!
//! Revocations may be coarse too: the decision rule treats a grant as revoked for every `at`
//! once the node holds the revocation, whatever its `time_ms`. When a revocation took effect is
//! not in its signed time: a node's receipt is signed with the node's clock when the receipt was
//! asked (an upper bound), and the public evidence is the arrival index in the node's log,
//! bounded by the signed checkpoints around it.

use consent_proto::limits::{DELEGATED_ENTRY_TOLERANCE_MS, MIN_TIME_MS};
use consent_proto::vocab::PurposeSet;

/// How exact an entry's signed time must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exactness {
    /// Only the feed-order rule reads it (grants, revocations, requests other than opt-outs,
    /// rotations): rounded down to the granularity.
    Coarse,
    /// A node refuses it when it was signed more than this many ms before the node's clock: it
    /// is rounded down by less than half of it (the other half is left for the clocks' difference
    /// and the sending).
    Within(u64),
    /// Compared with times signed in other feeds (an opt-out of sale, own or in someone's
    /// name; an undelegation): exact.
    Exact,
}

impl Exactness {
    /// An entry signed in someone's name (other than an opt-out) or an endorsement
    /// (`delegated-entry-too-old`: 5 minutes).
    pub const DELEGATED: Exactness = Exactness::Within(DELEGATED_ENTRY_TOLERANCE_MS);
}

/// The granularity used for an entry of this `exactness` when the wallet's is `granularity`
/// (`None`: exact).
pub fn effective_granularity(granularity: Option<u64>, exactness: Exactness) -> Option<u64> {
    let g = granularity.filter(|g| *g > 1)?;
    match exactness {
        Exactness::Coarse => Some(g),
        Exactness::Within(bound) => Some(g.min(bound / 2)).filter(|g| *g > 1),
        Exactness::Exact => None,
    }
}

/// The `time_ms` to sign for an entry made at `now_ms` whose lower bound is `floor_ms` (the
/// feed's previous entry's time, and any other bound the entry has): `now_ms` rounded down to a
/// multiple of the granularity allowed for its `exactness`, then raised to `floor_ms` and to
/// 2020-01-01 if below.
pub fn signed_time(
    granularity: Option<u64>,
    now_ms: u64,
    floor_ms: u64,
    exactness: Exactness,
) -> u64 {
    let rounded = match effective_granularity(granularity, exactness) {
        Some(g) => now_ms - now_ms % g,
        None => now_ms,
    };
    rounded.max(floor_ms).max(MIN_TIME_MS)
}

/// The floor a delegate's opt-out of sale and sharing puts under an own grant's `time_ms`: one
/// millisecond after `opt_out_ms`, the latest opt-out that a delegate signed in the person's name
/// for the grant's collector and that counts, when the grant allows sale or sharing (`purposes`
/// holds `sell-data` or `third-party-sharing`, the only purposes an opt-out denies) and the
/// opt-out was signed before `signing_ms`; else 0 (no floor). An opt-out at or after the moment
/// of signing (a clock ahead of this one) is no floor: it denies sale and sharing under the grant,
/// and the wallet says so. The floor is at most `signing_ms`: the grant is never dated after it
/// was signed.
pub fn after_delegated_opt_out(
    purposes: PurposeSet,
    opt_out_ms: Option<u64>,
    signing_ms: u64,
) -> u64 {
    if !purposes.iter().any(|p| p.is_sale_or_sharing()) {
        return 0;
    }
    opt_out_ms
        .filter(|t| *t < signing_ms)
        .map_or(0, |t| t.saturating_add(1))
}

/// A grant's `valid_from` for a grant given at `now_ms` and due to be sent at `due_ms` (`now_ms`
/// when sent at once): the later of the two rounded up to a multiple of the granularity (the
/// boundary itself when on one; exact when `None`).
pub fn valid_from_due(granularity: Option<u64>, now_ms: u64, due_ms: u64) -> u64 {
    valid_from(granularity, now_ms.max(due_ms))
}

/// A grant's `valid_from` for a grant given (and sent) at `now_ms`: rounded up to the next
/// multiple of the granularity (exact when `None`).
pub fn valid_from(granularity: Option<u64>, now_ms: u64) -> u64 {
    match granularity.filter(|g| *g > 1) {
        Some(g) => now_ms.div_ceil(g).saturating_mul(g),
        None => now_ms,
    }
}

/// A grant's `valid_until` for an end asked at `until_ms` (a duration, a date or an instant):
/// rounded down to a multiple of the granularity (exact when `None`).
pub fn valid_until(granularity: Option<u64>, until_ms: u64) -> u64 {
    match granularity.filter(|g| *g > 1) {
        Some(g) => until_ms - until_ms % g,
        None => until_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's `coarse_times` test vectors (consent-proto's `proto/vectors/vectors.json`): this
    /// code signs the numbers the spec's formulas give, as a second wallet would.
    #[test]
    fn the_rule_gives_the_spec_vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../proto/vectors/vectors.json");
        let text = std::fs::read_to_string(path).expect("the protocol's test vectors");
        let file: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let ct = &file["coarse_times"];
        let list = |key: &str| ct[key].as_array().cloned().expect("a list");
        let num = |v: &serde_json::Value| v.as_u64().expect("a number");
        for v in list("granularities") {
            assert_eq!(
                crate::privacy::granularity_allowed(num(&v["g"])),
                v["allowed"].as_bool().expect("allowed"),
                "{v}"
            );
        }
        for v in list("times") {
            let exactness = match v["exactness"].as_str() {
                Some("coarse") => Exactness::Coarse,
                Some("within") => Exactness::DELEGATED,
                Some("exact") => Exactness::Exact,
                other => panic!("exactness {other:?}"),
            };
            assert_eq!(
                signed_time(
                    v["g"].as_u64(),
                    num(&v["now_ms"]),
                    num(&v["floor_ms"]),
                    exactness
                ),
                num(&v["time_ms"]),
                "{}",
                v["about"]
            );
        }
        for v in list("valid_from") {
            let g = v["g"].as_u64();
            assert_eq!(
                valid_from_due(g, num(&v["now_ms"]), num(&v["due_ms"])).max(num(&v["time_ms"])),
                num(&v["valid_from"]),
                "{}",
                v["about"]
            );
        }
        for v in list("valid_until") {
            assert_eq!(
                valid_until(v["g"].as_u64(), num(&v["end_ms"])),
                num(&v["valid_until"]),
                "{}",
                v["about"]
            );
        }
        // Which own grants a delegate's opt-out raises, and to what.
        for v in list("own_grants") {
            let purposes: PurposeSet = v["purposes"]
                .as_array()
                .expect("purposes")
                .iter()
                .map(|p| {
                    consent_proto::vocab::Purpose::from_str_name(p.as_str().expect("a name"))
                        .expect("a purpose")
                })
                .collect();
            let now = num(&v["now_ms"]);
            let floor = after_delegated_opt_out(purposes, v["opt_out_ms"].as_u64(), now)
                .max(num(&v["prev_ms"]));
            assert_eq!(
                signed_time(v["g"].as_u64(), now, floor, Exactness::Coarse),
                num(&v["time_ms"]),
                "{}",
                v["about"]
            );
        }
    }

    const Q: u64 = 15 * 60_000;
    /// 2026-03-02T10:07:31.123Z.
    const NOW: u64 = 1_772_446_051_123;

    #[test]
    fn a_coarse_time_is_rounded_down_and_never_before_the_feed() {
        let t = signed_time(Some(Q), NOW, 0, Exactness::Coarse);
        assert_eq!(t % Q, 0);
        assert!(t <= NOW && NOW - t < Q);
        // The feed's previous entry is later than the boundary: the feed stays in order.
        let prev = t + 1_234;
        assert_eq!(signed_time(Some(Q), NOW, prev, Exactness::Coarse), prev);
        // Even when the previous entry is after now (the author's other clock ran ahead).
        assert_eq!(signed_time(None, NOW, NOW + 5, Exactness::Exact), NOW + 5);
        // Off: exact.
        assert_eq!(signed_time(None, NOW, 0, Exactness::Coarse), NOW);
        // Never before 2020.
        assert_eq!(signed_time(Some(Q), 5, 0, Exactness::Coarse), MIN_TIME_MS);
    }

    #[test]
    fn bounded_entries_stay_within_their_bound_and_opt_outs_stay_exact() {
        let d = signed_time(Some(Q), NOW, 0, Exactness::DELEGATED);
        // Less than half the 5-minute admission bound before now, whatever the wallet's setting.
        assert!(NOW - d < DELEGATED_ENTRY_TOLERANCE_MS / 2, "{}", NOW - d);
        assert_eq!(d % (DELEGATED_ENTRY_TOLERANCE_MS / 2), 0);
        // A finer setting than the bound is kept.
        let fine = 60_000;
        assert_eq!(
            effective_granularity(Some(fine), Exactness::DELEGATED),
            Some(fine)
        );
        for now in [NOW, NOW + 149_999, NOW + 150_000, NOW + 299_999] {
            let t = signed_time(Some(86_400_000), now, 0, Exactness::DELEGATED);
            assert!(now - t < 150_000, "{now}: {t}");
        }
        assert_eq!(signed_time(Some(Q), NOW, 0, Exactness::Exact), NOW);
        assert_eq!(effective_granularity(Some(Q), Exactness::Exact), None);
    }

    #[test]
    fn only_a_grant_allowing_sale_or_sharing_comes_after_a_delegates_opt_out() {
        use consent_proto::vocab::Purpose;
        let sale: PurposeSet = [Purpose::SellData, Purpose::ServiceProvision]
            .into_iter()
            .collect();
        let sharing: PurposeSet = [Purpose::ThirdPartySharing].into_iter().collect();
        let neither: PurposeSet = [Purpose::ServiceProvision, Purpose::Research]
            .into_iter()
            .collect();
        let opt_out = NOW - 2 * 60_000;
        assert_eq!(
            after_delegated_opt_out(sale, Some(opt_out), NOW),
            opt_out + 1
        );
        assert_eq!(
            after_delegated_opt_out(sharing, Some(opt_out), NOW),
            opt_out + 1
        );
        // The opt-out denies nothing else: no floor, the grant keeps its quarter hour (dated
        // before the opt-out, which denies nothing under it).
        assert_eq!(after_delegated_opt_out(neither, Some(opt_out), NOW), 0);
        assert!(signed_time(Some(Q), NOW, 0, Exactness::Coarse) < opt_out);
        // Signed at or after this moment (a clock ahead): no floor, it denies under the grant.
        assert_eq!(after_delegated_opt_out(sale, Some(NOW), NOW), 0);
        assert_eq!(after_delegated_opt_out(sale, Some(NOW + 5), NOW), 0);
        // Never after the moment of signing.
        assert_eq!(after_delegated_opt_out(sale, Some(NOW - 1), NOW), NOW);
        assert_eq!(after_delegated_opt_out(sale, None, NOW), 0);
        assert_eq!(
            signed_time(
                Some(Q),
                NOW,
                after_delegated_opt_out(sale, Some(opt_out), NOW),
                Exactness::Coarse
            ),
            opt_out + 1
        );
    }

    #[test]
    fn a_consent_never_starts_before_it_was_given_nor_lasts_longer_than_asked() {
        let from = valid_from(Some(Q), NOW);
        assert!(from >= NOW && from - NOW < Q && from.is_multiple_of(Q));
        // On a boundary it is that boundary.
        assert_eq!(valid_from(Some(Q), from), from);
        assert_eq!(valid_from(None, NOW), NOW);
        let asked = NOW + 30 * 86_400_000;
        let until = valid_until(Some(Q), asked);
        assert!(until <= asked && asked - until < Q && until.is_multiple_of(Q));
        // A date at midnight is kept as it is.
        let midnight = 1_801_353_600_000; // 2027-01-31T00:00:00Z
        assert_eq!(valid_until(Some(Q), midnight), midnight);
        assert_eq!(valid_until(None, asked), asked);
        // The signed time is never after valid_from: a grant is in its own window from the start.
        assert!(signed_time(Some(Q), NOW, 0, Exactness::Coarse) <= from);
        // Queued: never in force before it is due to leave, whatever a past question asks.
        let due = NOW + 20 * 60_000;
        let queued = valid_from_due(Some(Q), NOW, due);
        assert!(queued >= due && queued - due < Q && queued.is_multiple_of(Q));
        assert_eq!(valid_from_due(Some(Q), NOW, NOW), from);
        assert_eq!(valid_from_due(None, NOW, due), due);
    }
}
