//! A second implementation of steps 5 and 6 of the decision rule (the grants and their scopes),
//! written from the specification's text over the **wire** types alone (`consent_proto::pb`),
//! sharing no code with `consent_proto::decide` or `consent_proto::scope`: its own H3 parent (a
//! digit loop), its own weekday arithmetic, linear searches. Property tests compare the two
//! (`proto/tests/scope.rs`); the node's end-to-end tests include this file too
//! (`#[path = "../../proto/tests/reference/mod.rs"] mod reference;`).
//!
//! It assumes the inputs were accepted by a node (valid scopes, grants within their policy's
//! scope, a context the node reads: no sensor kind without a sensor) and that the subject holds
//! at most 1,024 grants to the collector (it does not apply `GRANTS_CONSIDERED`).

#![allow(dead_code)]

use std::collections::HashMap;

use consent_proto::pb;

/// One grant of the subject to the collector, as signed.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Its entry id.
    pub id: [u8; 32],
    /// Its seq in the subject's feed.
    pub seq: u64,
    /// The grant body, as on the wire.
    pub wire: pb::Grant,
    /// Whether a later entry of the subject revoked it.
    pub revoked: bool,
}

/// What the rule answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// Allow or deny.
    pub decision: pb::Decision,
    /// Why.
    pub reason: pb::Reason,
    /// The grant named.
    pub grant: Option<[u8; 32]>,
    /// The required form's wire number (0: none).
    pub required_form: i32,
}

const DAY_MS: i128 = 86_400_000;

/// The specification's rank table.
fn rank(form: i32) -> i32 {
    match form {
        1 => 1, // raw
        2 => 2, // pseudonymised
        3 => 3, // binned
        4 => 4, // aggregated
        _ => 0,
    }
}

fn resolution_of(cell: u64) -> u64 {
    (cell >> 52) & 15
}

/// The parent of `cell` at `res` (res <= the cell's resolution): the resolution field set to
/// `res`, every digit after it set to 7, one digit at a time.
fn parent(cell: u64, res: u64) -> u64 {
    let mut h = (cell & !(15u64 << 52)) | (res << 52);
    let mut digit = res + 1;
    while digit <= 15 {
        h |= 7u64 << (3 * (15 - digit));
        digit += 1;
    }
    h
}

/// Local (weekday, minute of the day) of `observed_ms` at `offset_minutes`, Monday = 0.
fn local(observed_ms: u64, offset_minutes: i32) -> (u32, u32) {
    let t = i128::from(observed_ms) + i128::from(offset_minutes) * 60_000;
    let mut days = t / DAY_MS;
    if t % DAY_MS < 0 {
        days -= 1;
    }
    let minute = (t - days * DAY_MS) / 60_000;
    // Day 0 (1970-01-01) was a Thursday: weekday 3.
    let weekday = ((days % 7) + 7 + 3) % 7;
    (weekday as u32, minute as u32)
}

fn in_window(w: &pb::TimeWindow, weekday: u32, minute: u32) -> bool {
    (w.days >> weekday) & 1 == 1 && w.start_minute <= minute && minute < w.end_minute
}

fn offers(policy: &pb::PolicyScope, purpose: i32) -> Vec<i32> {
    for pf in &policy.forms {
        if pf.purpose == purpose {
            return pf.offers.iter().map(|o| o.form).collect();
        }
    }
    Vec::new()
}

fn floor(grant: Option<&pb::GrantScope>, purpose: i32) -> i32 {
    match grant {
        Some(g) => g
            .forms
            .iter()
            .find(|f| f.purpose == purpose)
            .map_or(0, |f| f.form),
        None => 0,
    }
}

/// Step 6's scope part for one grant: `Ok` or the reason.
fn evaluate(
    policy: &pb::PolicyScope,
    grant: Option<&pb::GrantScope>,
    purpose: i32,
    c: &pb::ObservationContext,
) -> Result<(), pb::Reason> {
    let offered = offers(policy, purpose);
    let grant_windows: &[pb::TimeWindow] = match grant {
        Some(g) => g.windows.as_slice(),
        None => &[],
    };
    let needs_sensor = !policy.sensors.is_empty();
    let needs_cell = !policy.zones.is_empty();
    let needs_time = !policy.windows.is_empty() || !grant_windows.is_empty();
    let needs_form = !offered.is_empty();
    // The sensor is given only as an id with its kind.
    if needs_sensor && (c.sensor == 0 || c.sensor_kind == 0) {
        return Err(pb::Reason::ContextMissingSensor);
    }
    if needs_cell && c.cell == 0 {
        return Err(pb::Reason::ContextMissingCell);
    }
    if needs_time && c.observed_ms == 0 {
        return Err(pb::Reason::ContextMissingTime);
    }
    if needs_form && c.form == 0 {
        return Err(pb::Reason::ContextMissingForm);
    }
    if needs_sensor {
        let Some(sensor) = policy.sensors.iter().find(|s| s.id == c.sensor) else {
            return Err(pb::Reason::SensorNotCovered);
        };
        // Declared with the kind the context states, in the numbering of the grant's version.
        if sensor.kind != c.sensor_kind {
            return Err(pb::Reason::SensorNotCovered);
        }
        if let Some(g) = grant {
            let narrows = !g.sensors.is_empty() || !g.sensor_kinds.is_empty();
            if narrows && !g.sensors.contains(&c.sensor) && !g.sensor_kinds.contains(&sensor.kind) {
                return Err(pb::Reason::SensorNotCovered);
            }
        }
    }
    if needs_cell {
        let zones: Vec<&pb::Zone> = match grant {
            Some(g) if !g.zones.is_empty() => policy
                .zones
                .iter()
                .filter(|z| g.zones.contains(&z.id))
                .collect(),
            _ => policy.zones.iter().collect(),
        };
        let covered = zones.iter().any(|z| {
            let r = u64::from(z.resolution);
            resolution_of(c.cell) >= r && z.cells.contains(&parent(c.cell, r))
        });
        if !covered {
            return Err(pb::Reason::ZoneNotCovered);
        }
    }
    if needs_time {
        let (weekday, minute) = local(c.observed_ms, policy.utc_offset_minutes);
        if !policy.windows.is_empty()
            && !policy.windows.iter().any(|w| in_window(w, weekday, minute))
        {
            return Err(pb::Reason::TimeNotCovered);
        }
        if !grant_windows.is_empty() && !grant_windows.iter().any(|w| in_window(w, weekday, minute))
        {
            return Err(pb::Reason::TimeNotCovered);
        }
    }
    if needs_form {
        if !offered.contains(&c.form) {
            return Err(pb::Reason::FormNotCovered);
        }
        let f = floor(grant, purpose);
        if f != 0 && rank(c.form) < rank(f) {
            return Err(pb::Reason::FormNotCovered);
        }
    }
    Ok(())
}

/// The form required under a scoped grant for `purpose` (0: none).
fn required(policy: &pb::PolicyScope, grant: Option<&pb::GrantScope>, purpose: i32) -> i32 {
    let f = floor(grant, purpose);
    if f != 0 {
        return f;
    }
    let mut best = 0;
    for form in offers(policy, purpose) {
        if best == 0 || rank(form) < rank(best) {
            best = form;
        }
    }
    best
}

/// The scope of the policy `g` was given under, if that policy has one.
fn policy_of<'p>(
    g: &Grant,
    policies: &'p HashMap<[u8; 32], pb::PolicyScope>,
) -> Option<&'p pb::PolicyScope> {
    let id: [u8; 32] = g.wire.policy.as_ref().try_into().ok()?;
    policies.get(&id)
}

/// Steps 5 and 6 for one subject and collector: `grants` are the subject's grants naming the
/// collector (any order), `policies` the scopes of the collector's policies that have one (by
/// policy entry id), `opt_out_seq` the seq of the subject's latest opt-out of sale/sharing to the
/// collector. `question.at_ms` is the time asked about (not 0).
pub fn decide_grants(
    question: &pb::CheckRequest,
    grants: &[Grant],
    policies: &HashMap<[u8; 32], pb::PolicyScope>,
    opt_out_seq: Option<u64>,
) -> Answer {
    let none = pb::ObservationContext::default();
    let context = question.context.as_ref().unwrap_or(&none);
    let empty = pb::PolicyScope::default();
    let at = question.at_ms;
    let purpose = question.purpose;
    let sale_or_sharing =
        purpose == pb::Purpose::SellData as i32 || purpose == pb::Purpose::ThirdPartySharing as i32;

    let scoped = |g: &Grant| policy_of(g, policies).is_some() || g.wire.scope.is_some();
    let failure = |g: &Grant| -> Option<pb::Reason> {
        let w = &g.wire;
        if g.revoked {
            return Some(pb::Reason::Revoked);
        }
        if sale_or_sharing && opt_out_seq.is_some_and(|s| s > g.seq) {
            return Some(pb::Reason::OptedOut);
        }
        if at < w.valid_from {
            return Some(pb::Reason::NotYetValid);
        }
        if w.valid_until != 0 && at >= w.valid_until {
            return Some(pb::Reason::Expired);
        }
        let observed = context.observed_ms;
        if observed != 0
            && (observed < w.valid_from || (w.valid_until != 0 && observed >= w.valid_until))
        {
            return Some(pb::Reason::TimeNotCovered);
        }
        if !scoped(g) {
            return None;
        }
        let policy = policy_of(g, policies).unwrap_or(&empty);
        evaluate(policy, w.scope.as_ref(), purpose, context).err()
    };
    let form_of = |g: &Grant| -> i32 {
        if scoped(g) {
            let policy = policy_of(g, policies).unwrap_or(&empty);
            required(policy, g.wire.scope.as_ref(), purpose)
        } else {
            0
        }
    };
    let covers_purpose = |g: &Grant| g.wire.purposes.contains(&purpose);
    let covers_both =
        |g: &Grant| covers_purpose(g) && g.wire.categories.contains(&question.category);
    let answer = |decision, reason, g: &Grant, required_form| Answer {
        decision,
        reason,
        grant: Some(g.id),
        required_form,
    };

    // Newest first: the first match in this order is the newest.
    let mut by_seq: Vec<&Grant> = grants.iter().collect();
    by_seq.sort_by_key(|g| std::cmp::Reverse(g.seq));
    for g in by_seq.iter().copied() {
        if covers_both(g) && failure(g).is_none() {
            return answer(pb::Decision::Allow, pb::Reason::Granted, g, form_of(g));
        }
    }
    for g in by_seq.iter().copied() {
        if covers_both(g) {
            let reason = failure(g).unwrap_or(pb::Reason::NoGrant);
            return answer(pb::Decision::Deny, reason, g, form_of(g));
        }
    }
    for g in by_seq.iter().copied() {
        if covers_purpose(g) {
            return answer(
                pb::Decision::Deny,
                pb::Reason::CategoryNotCovered,
                g,
                form_of(g),
            );
        }
    }
    match by_seq.first() {
        Some(g) => answer(pb::Decision::Deny, pb::Reason::PurposeNotCovered, g, 0),
        None => Answer {
            decision: pb::Decision::Deny,
            reason: pb::Reason::NoGrant,
            grant: None,
            required_form: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_parent_and_local_time_agree_with_the_spec_examples() {
        assert_eq!(parent(0x8a754e64992ffff, 9), 0x89754e64993ffff);
        assert_eq!(parent(0x8a754e64992ffff, 0), 0x8075fffffffffff);
        assert_eq!(local(0, 0), (3, 0));
        assert_eq!(local(0, -60), (2, 1380));
        assert_eq!(local(1_750_032_000_000, 0), (0, 0));
    }
}
