//! Whether a citizen's older grants to a collector allow more than the grant `consent grant` is
//! about to sign. A check is allowed when *any* of the subject's grants allows it (the
//! protocol's rule), so a narrower grant signed beside a wider one narrows nothing: `consent
//! grant` says so, naming the older grant and how to revoke it, and with `--replace` revokes it.
//!
//! Each grant is read under the policy version it names, as nodes read it (its *effective*
//! scope: the policy's declaration intersected with the grant's narrowing), and compared
//! dimension by dimension for the purposes and categories both grants cover: validity,
//! retention, sensors (by the ids a gateway sends), places (by H3 cell: an older zone is
//! within only if each of its cells lies in a zone of the new grant), times (as minutes of the
//! UTC week, so policies with other offsets compare exactly) and forms. A grant whose policy
//! the node cannot give counts as wider: what cannot be shown to be within is reported. The
//! start of validity is not compared: an older grant always started earlier, and what it
//! allowed before now was consented to then.

use std::collections::{BTreeSet, HashMap};

use consent_client::node::NodeConnection;
use consent_client::time;
use consent_proto::Entry;
use consent_proto::body::{Body, Grant};
use consent_proto::ids::EntryId;
use consent_proto::scope::{GrantScope, MINUTES_PER_DAY, PolicyScope, Zone};
use consent_proto::vocab::{CategorySet, Form, Purpose, PurposeSet};
use serde_json::{Value, json};

use crate::describe;

/// Minutes in a week.
const WEEK: usize = 7 * MINUTES_PER_DAY as usize;

/// An older grant, still in force, that allows more than the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wider {
    /// Its id.
    pub id: EntryId,
    /// What it allows that the new grant does not, in plain words ("it allows any time of
    /// day").
    pub beyond: Vec<String>,
    /// The purposes and categories it covers that the new grant does not (revoking it
    /// withdraws those too), in plain words.
    pub also_covers: Option<String>,
}

/// The grants of `entries` (one pairwise feed) neither revoked nor expired at `now_ms`; those
/// not valid yet included (they will allow).
pub fn in_force(entries: &[Entry], now_ms: u64) -> Vec<(EntryId, &Grant)> {
    let revoked: BTreeSet<EntryId> = entries
        .iter()
        .filter_map(|e| match &e.body {
            Body::Revoke(r) => Some(r.grant),
            _ => None,
        })
        .collect();
    entries
        .iter()
        .filter_map(|e| match &e.body {
            Body::Grant(g)
                if !revoked.contains(&e.id) && g.valid_until.is_none_or(|u| u > now_ms) =>
            {
                Some((e.id, g))
            }
            _ => None,
        })
        .collect()
}

/// The grants in force in `entries` that allow more than `new` (whose policy's scope is
/// `new_policy`, empty when the policy declares none) for some purpose and category both cover.
/// Reads from the node the policy versions older grants name.
pub async fn older_wider(
    node: &mut NodeConnection,
    entries: &[Entry],
    new: &Grant,
    new_policy: &PolicyScope,
    now_ms: u64,
) -> anyhow::Result<Vec<Wider>> {
    let mut policies: HashMap<EntryId, Option<PolicyScope>> = HashMap::new();
    let mut out = Vec::new();
    for (id, old) in in_force(entries, now_ms) {
        if shared(old, new).is_none() {
            continue;
        }
        let old_policy = if old.policy == new.policy {
            Some(new_policy.clone())
        } else if let Some(known) = policies.get(&old.policy) {
            known.clone()
        } else {
            let read = match node.entry(&old.policy).await? {
                Some(entry) => match entry.body {
                    Body::Policy(p) => Some(p.scope.unwrap_or_default()),
                    _ => None,
                },
                None => None,
            };
            policies.insert(old.policy, read.clone());
            read
        };
        let said = match &old_policy {
            Some(scope) => beyond(old, scope, new, new_policy),
            None => vec![format!(
                "the node does not hold the policy version it names ({}), so what it allows \
                 cannot be compared",
                old.policy
            )],
        };
        if !said.is_empty() {
            out.push(Wider {
                id,
                beyond: said,
                also_covers: also_covers(old, new),
            });
        }
    }
    Ok(out)
}

/// The purposes and categories both grants cover, if they share at least one of each.
fn shared(old: &Grant, new: &Grant) -> Option<(PurposeSet, CategorySet)> {
    let purposes = PurposeSet::from_bits(old.purposes.bits() & new.purposes.bits());
    let categories = CategorySet::from_bits(old.categories.bits() & new.categories.bits());
    (!purposes.is_empty() && !categories.is_empty()).then_some((purposes, categories))
}

/// What `old` (under `old_policy`) allows that `new` (under `new_policy`) does not, for the
/// purposes and categories both cover, in plain words; empty when nothing (or nothing shared).
pub fn beyond(
    old: &Grant,
    old_policy: &PolicyScope,
    new: &Grant,
    new_policy: &PolicyScope,
) -> Vec<String> {
    let mut out = Vec::new();
    let Some((purposes, _)) = shared(old, new) else {
        return out;
    };
    let (og, ng) = (old.scope.as_ref(), new.scope.as_ref());

    match (old.valid_until, new.valid_until) {
        (None, Some(_)) => out.push("it runs until you revoke it".to_string()),
        (Some(o), Some(n)) if o > n => out.push(format!("it runs until {}", time::format(o))),
        _ => {}
    }
    if old.retention_days > new.retention_days {
        out.push(format!(
            "it lets the collector keep data {} days, not {}",
            old.retention_days, new.retention_days
        ));
    }

    if let Some(allowed) = sensors(new_policy, ng) {
        match sensors(old_policy, og) {
            None => out.push("it allows any sensor".to_string()),
            Some(old_ids) => {
                let more: Vec<String> = old_ids
                    .difference(&allowed)
                    .map(|id| match old_policy.sensor(*id) {
                        Some(s) => format!("sensor {id} ({})", s.kind.name()),
                        None => format!("sensor {id}"),
                    })
                    .collect();
                if !more.is_empty() {
                    out.push(format!("it also allows {}", more.join(", ")));
                }
            }
        }
    }

    if let Some(allowed) = zones(new_policy, ng) {
        match zones(old_policy, og) {
            None => out.push("it allows any place".to_string()),
            Some(old_zones) => {
                let more: Vec<String> = old_zones
                    .iter()
                    .filter(|z| {
                        !z.cells
                            .iter()
                            .all(|c| allowed.iter().any(|a| a.contains(*c)))
                    })
                    .map(|z| format!("zone {} {}", z.id, z.name))
                    .collect();
                if !more.is_empty() {
                    out.push(format!("it also allows {}", more.join("; ")));
                }
            }
        }
    }

    if let Some(allowed) = minutes(new_policy, ng) {
        match minutes(old_policy, og) {
            None => out.push("it allows any time of day".to_string()),
            Some(old_minutes) => {
                if old_minutes.iter().zip(&allowed).any(|(o, n)| *o && !*n) {
                    let shown = match og.filter(|g| !g.windows.is_empty()) {
                        Some(g) => &g.windows,
                        None => &old_policy.windows,
                    };
                    out.push(format!(
                        "it also allows other times: {}",
                        describe::windows_text(shown, old_policy.utc_offset_minutes)
                    ));
                }
            }
        }
    }

    for purpose in purposes.iter() {
        let Some(allowed) = forms(new_policy, ng, purpose) else {
            continue;
        };
        match forms(old_policy, og, purpose) {
            None => out.push(format!("for {}, it allows any form", purpose.name())),
            Some(old_forms) => {
                let more: Vec<&str> = old_forms
                    .iter()
                    .filter(|f| !allowed.contains(f))
                    .map(|f| f.name())
                    .collect();
                if !more.is_empty() {
                    out.push(format!(
                        "for {}, it also allows the form {}",
                        purpose.name(),
                        more.join(", ")
                    ));
                }
            }
        }
    }
    out
}

/// The sensor ids a grant allows under its policy, as `evaluate` reads them; `None` when the
/// policy declares no sensor (any sensor, none needed).
fn sensors(policy: &PolicyScope, grant: Option<&GrantScope>) -> Option<BTreeSet<u32>> {
    if policy.sensors.is_empty() {
        return None;
    }
    let narrowing = grant.filter(|g| !(g.sensors.is_empty() && g.sensor_kinds.is_empty()));
    Some(
        policy
            .sensors
            .iter()
            .filter(|s| {
                narrowing
                    .is_none_or(|g| g.sensors.contains(&s.id) || g.sensor_kinds.contains(s.kind))
            })
            .map(|s| s.id)
            .collect(),
    )
}

/// The zones a grant allows under its policy, as `evaluate` reads them; `None` when the policy
/// declares no zone (anywhere).
fn zones<'a>(policy: &'a PolicyScope, grant: Option<&GrantScope>) -> Option<Vec<&'a Zone>> {
    if policy.zones.is_empty() {
        return None;
    }
    Some(match grant.filter(|g| !g.zones.is_empty()) {
        Some(g) => g.zones.iter().filter_map(|id| policy.zone(*id)).collect(),
        None => policy.zones.iter().collect(),
    })
}

/// The minutes of the UTC week (Monday 00:00 UTC is 0) a grant allows under its policy: inside
/// the policy's windows, if any, and the grant's, if any; `None` when neither has windows (any
/// time).
fn minutes(policy: &PolicyScope, grant: Option<&GrantScope>) -> Option<Vec<bool>> {
    let own = grant.map(|g| g.windows.as_slice()).unwrap_or(&[]);
    if policy.windows.is_empty() && own.is_empty() {
        return None;
    }
    let mut week = vec![true; WEEK];
    for windows in [policy.windows.as_slice(), own] {
        if windows.is_empty() {
            continue;
        }
        let mut inside = vec![false; WEEK];
        for w in windows {
            for day in 0..7i64 {
                if (w.days >> day) & 1 == 0 {
                    continue;
                }
                for minute in w.start_minute..w.end_minute {
                    // Local minute of the week, less the offset: the UTC one.
                    let local = day * i64::from(MINUTES_PER_DAY) + i64::from(minute);
                    let utc =
                        (local - i64::from(policy.utc_offset_minutes)).rem_euclid(WEEK as i64);
                    inside[utc as usize] = true;
                }
            }
        }
        for (slot, allowed) in week.iter_mut().zip(inside) {
            *slot &= allowed;
        }
    }
    Some(week)
}

/// The forms a grant allows for `purpose` under its policy: those offered, no less protective
/// than the grant's floor; `None` when the policy offers no particular form (any form).
fn forms(policy: &PolicyScope, grant: Option<&GrantScope>, purpose: Purpose) -> Option<Vec<Form>> {
    let offers = policy.offers(purpose);
    if offers.is_empty() {
        return None;
    }
    let floor = grant.and_then(|g| g.floor(purpose));
    Some(
        offers
            .iter()
            .map(|o| o.form())
            .filter(|f| floor.is_none_or(|floor| f.rank() >= floor.rank()))
            .collect(),
    )
}

/// The purposes and categories `old` covers that `new` does not, in plain words.
fn also_covers(old: &Grant, new: &Grant) -> Option<String> {
    let purposes = PurposeSet::from_bits(old.purposes.bits() & !new.purposes.bits());
    let categories = CategorySet::from_bits(old.categories.bits() & !new.categories.bits());
    let mut parts = Vec::new();
    if !purposes.is_empty() {
        parts.push(format!(
            "the purposes {}",
            purposes
                .iter()
                .map(|p| p.name())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !categories.is_empty() {
        parts.push(format!(
            "the categories {}",
            categories
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    (!parts.is_empty()).then(|| parts.join(" and "))
}

/// The warning shown before signing (on stderr), one line each.
pub fn warning(wider: &[Wider], replace: bool) -> Vec<String> {
    let mut out = Vec::new();
    if replace {
        out.push(
            "These older grants of yours to this collector allow more than this one; with \
             --replace they are revoked in the same submission, just before it:"
                .to_string(),
        );
    } else {
        out.push(
            "Warning: these older grants of yours to this collector are still in force and \
             allow more than this one:"
                .to_string(),
        );
    }
    for w in wider {
        out.push(format!("  {}: {}", w.id, w.beyond.join("; ")));
        if let Some(also) = &w.also_covers {
            let tense = if replace {
                "withdraws"
            } else {
                "would withdraw"
            };
            out.push(format!(
                "    (revoking it {tense} all of it, {also} too, which this grant does not \
                 cover: grant those again if you want to keep them)"
            ));
        }
    }
    if !replace {
        out.push(
            "A check is allowed when any of your grants allows it, so this grant alone does not \
             narrow your consent. To consent to less, revoke the older grant:"
                .to_string(),
        );
        for w in wider {
            out.push(format!("  consent revoke {}", w.id));
        }
        out.push(
            "or sign this grant with --replace, which revokes them in the same submission."
                .to_string(),
        );
    }
    out
}

/// One wider grant for `--json`.
pub fn json(w: &Wider) -> Value {
    json!({
        "grant": w.id.to_string(),
        "allows_more": w.beyond,
        "also_covers": w.also_covers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use consent_proto::ids::FeedId;
    use consent_proto::scope::TimeWindow;
    use consent_proto::vocab::DataCategory;

    fn street() -> PolicyScope {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join("street-policy.toml");
        match consent_client::policy_file::load(&path, 1) {
            Ok(Body::Policy(p)) => p.scope.expect("the street policy has a scope"),
            other => panic!("the street policy loads: {other:?}"),
        }
    }

    fn grant(purposes: &[Purpose], scope: Option<GrantScope>) -> Grant {
        Grant {
            collector: FeedId([2; 32]),
            policy: EntryId([1; 32]),
            purposes: purposes.iter().copied().collect(),
            categories: [DataCategory::Vehicle].into_iter().collect(),
            retention_days: 365,
            valid_from: 1_700_000_000_000,
            valid_until: None,
            scope,
            on_behalf: None,
        }
    }

    fn narrow(zones: &[u32], hours: Option<(u16, u16)>, forms: &[(Purpose, Form)]) -> GrantScope {
        GrantScope {
            zones: zones.to_vec(),
            windows: hours
                .map(|(s, e)| TimeWindow::new(0x3f, s * 60, e * 60).expect("a window"))
                .into_iter()
                .collect(),
            forms: forms.to_vec(),
            ..GrantScope::default()
        }
    }

    #[test]
    fn the_same_or_a_narrower_older_grant_is_not_wider() {
        let p = street();
        let whole = grant(&[Purpose::Billing], None);
        assert_eq!(beyond(&whole, &p, &whole, &p), Vec::<String>::new());
        let zone1 = grant(
            &[Purpose::Billing],
            Some(narrow(
                &[1],
                Some((8, 12)),
                &[(Purpose::Billing, Form::Pseudonymised)],
            )),
        );
        assert_eq!(beyond(&zone1, &p, &whole, &p), Vec::<String>::new());
        // Nothing shared: another purpose.
        let other = grant(&[Purpose::UrbanPlanning], None);
        assert_eq!(beyond(&other, &p, &zone1, &p), Vec::<String>::new());
    }

    #[test]
    fn an_unscoped_older_grant_allows_more_than_a_narrowed_one_and_says_what() {
        let p = street();
        let whole = grant(&[Purpose::Billing, Purpose::UrbanPlanning], None);
        let zone1 = grant(
            &[Purpose::Billing],
            Some(narrow(
                &[1],
                Some((8, 12)),
                &[(Purpose::Billing, Form::Pseudonymised)],
            )),
        );
        let said = beyond(&whole, &p, &zone1, &p);
        assert_eq!(
            said,
            [
                "it also allows zone 2 Oudegracht, Gaardbrug to Bakkerbrug",
                "it also allows other times: mon-sat 07:00-19:00 (UTC+01:00, all year: no \
                 daylight saving time)",
                "for billing, it also allows the form raw",
            ]
        );
        assert_eq!(
            also_covers(&whole, &zone1).as_deref(),
            Some("the purposes urban-planning")
        );
    }

    #[test]
    fn validity_retention_sensors_and_a_policy_without_scope_count() {
        let p = street();
        let mut new = grant(
            &[Purpose::Billing],
            Some(GrantScope {
                sensors: vec![1],
                ..GrantScope::default()
            }),
        );
        new.valid_until = Some(1_800_000_000_000);
        new.retention_days = 30;
        let old = grant(&[Purpose::Billing], None);
        let said = beyond(&old, &p, &new, &p);
        assert_eq!(
            said,
            [
                "it runs until you revoke it",
                "it lets the collector keep data 365 days, not 30",
                "it also allows sensor 2 (air-quality), sensor 3 (wifi-counter)",
            ]
        );
        // An older grant under a policy version without scope: anything, anywhere, any time.
        let none = PolicyScope::default();
        let said = beyond(&old, &none, &grant(&[Purpose::Billing], None), &p);
        assert_eq!(
            said,
            [
                "it allows any sensor",
                "it allows any place",
                "it allows any time of day",
                "for billing, it allows any form",
            ]
        );
    }

    #[test]
    fn times_compare_in_utc_across_offsets() {
        let new_policy = street(); // UTC+01:00
        let mut old_policy = street();
        old_policy.utc_offset_minutes = 120;
        old_policy.windows = vec![TimeWindow::new(0x3f, 0, 1_440).expect("whole days")];
        // 09:00-11:00 at +02:00 is 08:00-10:00 at +01:00.
        let old = grant(&[Purpose::Billing], Some(narrow(&[], Some((9, 11)), &[])));
        let new = grant(&[Purpose::Billing], Some(narrow(&[], Some((8, 10)), &[])));
        assert_eq!(
            beyond(&old, &old_policy, &new, &new_policy),
            Vec::<String>::new()
        );
        let later = grant(&[Purpose::Billing], Some(narrow(&[], Some((9, 12)), &[])));
        assert_eq!(
            beyond(&later, &old_policy, &new, &new_policy),
            [
                "it also allows other times: mon-sat 09:00-12:00 (UTC+02:00, all year: no daylight \
              saving time)"
            ]
        );
    }

    #[test]
    fn revoked_and_expired_grants_are_not_in_force() {
        use consent_proto::body::Revoke;
        use consent_proto::fixtures;
        use consent_proto::vocab::Role;
        let now = 1_700_000_000_000;
        let (mut author, _) = fixtures::author(Role::Citizen, "ana", now - 10_000);
        let mut expired = grant(&[Purpose::Billing], None);
        expired.valid_from = now - 5_000;
        expired.valid_until = Some(now);
        let whole = || Body::Grant(grant(&[Purpose::Billing], None));
        let a = fixtures::append(&mut author, now, whole());
        let b = fixtures::append(&mut author, now, Body::Grant(expired));
        let c = fixtures::append(&mut author, now, whole());
        let r = fixtures::append(
            &mut author,
            now,
            Body::Revoke(Revoke {
                grant: a.id,
                erase: false,
                on_behalf: None,
            }),
        );
        let c_id = c.id;
        let entries = [a, b, c, r];
        let ids: Vec<EntryId> = in_force(&entries, now)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, [c_id]);
    }
}
