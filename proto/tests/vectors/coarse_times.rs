//! The wallet rule for signed times of citizen entries (informative).

use super::*;

// ---- The wallet rule for signed times of citizen entries (informative) ----

/// 2026-03-02T10:07:31.123Z: the moment of signing of `coarse_times`.
pub(super) const CT: u64 = 1_772_446_051_123;
/// 2027-01-31T00:00:00Z.
pub(super) const CT_MIDNIGHT: u64 = 1_801_353_600_000;
/// Half the 5-minute admission bound of entries in someone's name: the grid they use, and what
/// every granularity is a multiple of.
pub(super) const CT_STEP: u64 = 150_000;

/// Whether `g` may be a granularity: a multiple of 2.5 minutes that divides a day.
pub(super) fn ct_allowed(g: u64) -> bool {
    g > 0 && g.is_multiple_of(CT_STEP) && DAY.is_multiple_of(g)
}

pub(super) fn ct_floor(g: Option<u64>, t: u64) -> u64 {
    g.map_or(t, |g| t - t % g)
}

pub(super) fn ct_ceil(g: Option<u64>, t: u64) -> u64 {
    g.map_or(t, |g| t.div_ceil(g) * g)
}

/// An entry's granularity for the wallet's `g` and how exact the entry is.
pub(super) fn ct_granularity(g: Option<u64>, exactness: &str) -> Option<u64> {
    match exactness {
        "coarse" => g,
        "within" => g.map(|g| g.min(CT_STEP)),
        _ => None,
    }
}

/// `time_ms = max(floor_e(now), floor, 2020-01-01)`.
pub(super) fn ct_time(g: Option<u64>, exactness: &str, now: u64, floor: u64) -> u64 {
    ct_floor(ct_granularity(g, exactness), now)
        .max(floor)
        .max(MIN_TIME_MS)
}

/// An own grant's `time_ms`: coarse, raised to its feed's previous entry and, when it allows
/// sale or sharing (`sell-data`, `third-party-sharing`: what an opt-out denies), to one
/// millisecond after the latest counting delegated opt-out signed before `now`.
pub(super) fn ct_own_grant_time(
    g: Option<u64>,
    now: u64,
    purposes: &[&str],
    prev: u64,
    opt_out: Option<u64>,
) -> u64 {
    let sale_or_sharing = purposes
        .iter()
        .any(|p| matches!(*p, "PURPOSE_SELL_DATA" | "PURPOSE_THIRD_PARTY_SHARING"));
    let after_opt_out = match opt_out {
        Some(t) if sale_or_sharing && t < now => t + 1,
        _ => 0,
    };
    ct_time(g, "coarse", now, prev.max(after_opt_out))
}

/// `valid_from = max(ceil_g(max(now, due)), time_ms)`.
pub(super) fn ct_valid_from(g: Option<u64>, now: u64, due: u64, time_ms: u64) -> u64 {
    ct_ceil(g, now.max(due)).max(time_ms)
}

pub(super) fn coarse_times_json() -> Value {
    let quarter = 15 * MINUTE;
    let on_boundary = CT - CT % quarter;
    let times: [(&str, u64, Option<u64>, &str, u64); 12] = [
        (
            "an own grant: rounded down to 15 minutes",
            CT,
            Some(quarter),
            "coarse",
            0,
        ),
        (
            "the feed's previous entry is after the boundary: raised to it",
            CT,
            Some(quarter),
            "coarse",
            CT - MINUTE,
        ),
        (
            "the previous entry is after now (another clock ran ahead): raised to it",
            CT,
            Some(quarter),
            "coarse",
            CT + 5,
        ),
        (
            "on a boundary: that boundary",
            on_boundary,
            Some(quarter),
            "coarse",
            0,
        ),
        ("no granularity: exact", CT, None, "coarse", 0),
        ("a day's granularity", CT, Some(DAY), "coarse", 0),
        (
            "in someone's name: 2.5 minutes, whatever the wallet's granularity",
            CT,
            Some(DAY),
            "within",
            0,
        ),
        (
            "in someone's name, with a delegation signed just before: raised to it",
            CT,
            Some(quarter),
            "within",
            CT - 1_000,
        ),
        (
            "in someone's name, with a granularity of 2.5 minutes",
            CT,
            Some(CT_STEP),
            "within",
            0,
        ),
        (
            "an opt-out of sale (own or delegated), an undelegation: exact",
            CT,
            Some(quarter),
            "exact",
            0,
        ),
        ("never before 2020-01-01", 5, Some(quarter), "coarse", 0),
        (
            "an own grant after a delegate's opt-out in the same quarter hour: one ms after it",
            CT,
            Some(quarter),
            "coarse",
            CT - 2 * MINUTE + 1,
        ),
    ];
    let valid_from: [(&str, u64, u64, Option<u64>, u64); 6] = [
        ("sent at once: the next boundary", CT, CT, Some(quarter), 0),
        (
            "due 20 minutes later: the boundary after the moment it is due",
            CT,
            CT + 20 * MINUTE,
            Some(quarter),
            0,
        ),
        (
            "on a boundary: that boundary",
            on_boundary,
            on_boundary,
            Some(quarter),
            0,
        ),
        (
            "no granularity: the moment it is due",
            CT,
            CT + 10 * MINUTE,
            None,
            0,
        ),
        (
            "a day's granularity: the next UTC midnight",
            CT,
            CT,
            Some(DAY),
            0,
        ),
        (
            "never before its time_ms (a floor ahead of the boundary)",
            CT,
            CT,
            Some(quarter),
            ct_ceil(Some(quarter), CT) + 5,
        ),
    ];
    let valid_until: [(&str, u64, Option<u64>); 5] = [
        (
            "a duration (30 days): rounded down",
            CT + 30 * DAY,
            Some(quarter),
        ),
        (
            "a date: UTC midnight is on every grid",
            CT_MIDNIGHT,
            Some(quarter),
        ),
        ("a date, a day's granularity", CT_MIDNIGHT, Some(DAY)),
        (
            "an instant just after midnight, hourly",
            CT_MIDNIGHT + 1,
            Some(HOUR),
        ),
        ("no granularity: as asked", CT + 90 * DAY, None),
    ];
    const SALE: &str = "PURPOSE_SELL_DATA";
    const SHARING: &str = "PURPOSE_THIRD_PARTY_SHARING";
    const SERVICE: &str = "PURPOSE_SERVICE_PROVISION";
    const RESEARCH: &str = "PURPOSE_RESEARCH";
    // (about, now, g, purposes, prev, delegated opt-out)
    type OwnGrant = (
        &'static str,
        u64,
        Option<u64>,
        &'static [&'static str],
        u64,
        Option<u64>,
    );
    let own_grants: [OwnGrant; 8] = [
        (
            "allows sale, a delegate's opt-out earlier in the quarter hour: one ms after it",
            CT,
            Some(quarter),
            &[SALE, SERVICE],
            0,
            Some(CT - 2 * MINUTE),
        ),
        (
            "allows sharing: the same",
            CT,
            Some(quarter),
            &[SHARING],
            0,
            Some(CT - 2 * MINUTE),
        ),
        (
            "allows neither sale nor sharing: the opt-out denies nothing under it, no floor",
            CT,
            Some(quarter),
            &[SERVICE, RESEARCH],
            0,
            Some(CT - 2 * MINUTE),
        ),
        (
            "an opt-out before the quarter hour: the boundary",
            CT,
            Some(quarter),
            &[SALE],
            0,
            Some(on_boundary - MINUTE),
        ),
        (
            "an opt-out after the moment of signing (a clock ahead): no floor, it denies sale",
            CT,
            Some(quarter),
            &[SALE],
            0,
            Some(CT + 1_000),
        ),
        (
            "exact times, an opt-out one ms before signing: the moment of signing",
            CT,
            None,
            &[SALE],
            0,
            Some(CT - 1),
        ),
        (
            "the feed's previous entry after the opt-out: raised to it",
            CT,
            Some(quarter),
            &[SALE],
            CT - MINUTE,
            Some(CT - 2 * MINUTE),
        ),
        (
            "no opt-out: the boundary",
            CT,
            Some(quarter),
            &[SALE],
            0,
            None,
        ),
    ];
    let granularities: [u64; 13] = [
        CT_STEP,
        2 * CT_STEP,
        3 * CT_STEP,
        quarter,
        20 * MINUTE,
        HOUR,
        DAY,
        1_000,
        MINUTE,
        7 * MINUTE,
        25 * MINUTE,
        10 * HOUR,
        2 * DAY,
    ];
    json!({
        "granularities": granularities
            .iter()
            .map(|g| json!({"g": g, "allowed": ct_allowed(*g)}))
            .collect::<Vec<_>>(),
        "times": times
            .iter()
            .map(|(about, now, g, exactness, floor)| json!({
                "about": about,
                "now_ms": now,
                "g": g,
                "exactness": exactness,
                "floor_ms": floor,
                "time_ms": ct_time(*g, exactness, *now, *floor),
            }))
            .collect::<Vec<_>>(),
        "valid_from": valid_from
            .iter()
            .map(|(about, now, due, g, floor)| {
                let time_ms = ct_time(*g, "coarse", *now, *floor);
                json!({
                    "about": about,
                    "now_ms": now,
                    "due_ms": due,
                    "g": g,
                    "time_ms": time_ms,
                    "valid_from": ct_valid_from(*g, *now, *due, time_ms),
                })
            })
            .collect::<Vec<_>>(),
        "valid_until": valid_until
            .iter()
            .map(|(about, end, g)| json!({
                "about": about,
                "end_ms": end,
                "g": g,
                "valid_until": ct_floor(*g, *end),
            }))
            .collect::<Vec<_>>(),
        "own_grants": own_grants
            .iter()
            .map(|(about, now, g, purposes, prev, opt_out)| json!({
                "about": about,
                "now_ms": now,
                "g": g,
                "purposes": purposes,
                "prev_ms": prev,
                "opt_out_ms": opt_out,
                "time_ms": ct_own_grant_time(*g, *now, purposes, *prev, *opt_out),
            }))
            .collect::<Vec<_>>(),
    })
}
