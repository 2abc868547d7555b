//! `consent grant`'s narrowing flags (`--zone`, `--sensor`, `--sensor-kind`, `--days`,
//! `--hours`, `--form`) turned into the `GrantScope` to sign. What the policy does not offer is
//! refused here, naming what it does offer: the same checks a node makes
//! (`GrantScope::within`), said in plain words before anything is signed.

use anyhow::{anyhow, bail};
use consent_client::policy_file::{parse_days, parse_hours, split_window};
use consent_proto::body::Policy;
use consent_proto::limits::MAX_WINDOWS;
use consent_proto::scope::{EVERY_DAY, GrantScope, PolicyScope, TimeWindow};
use consent_proto::vocab::{Form, Purpose, PurposeSet, SensorKind, SensorKindSet};

use crate::describe;

/// The flags as given.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    /// `--zone ID|NAME`: digits are an id, anything else a name (ASCII case ignored) that
    /// exactly one zone has.
    pub zones: Vec<String>,
    /// `--sensor ID`.
    pub sensors: Vec<u32>,
    /// `--sensor-kind KIND`.
    pub sensor_kinds: Vec<String>,
    /// `--days DAYS`.
    pub days: Option<String>,
    /// `--hours HH:MM-HH:MM`.
    pub hours: Vec<String>,
    /// `--form PURPOSE=FORM`.
    pub forms: Vec<String>,
}

/// "which declares: 1 Oudegracht wharf, 2 …".
fn declared_zones(scope: &PolicyScope) -> String {
    if scope.zones.is_empty() {
        return "which declares no zone".into();
    }
    format!(
        "which declares: {}",
        scope
            .zones
            .iter()
            .map(|z| format!("{} {}", z.id, z.name))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// "which declares: 1 number-plate-reader (zone 1), 2 air-quality …".
fn declared_sensors(scope: &PolicyScope) -> String {
    if scope.sensors.is_empty() {
        return "which declares no sensor".into();
    }
    format!(
        "which declares: {}",
        scope
            .sensors
            .iter()
            .map(|s| match s.zone {
                Some(z) => format!("{} {} (zone {z})", s.id, s.kind.name()),
                None => format!("{} {}", s.id, s.kind.name()),
            })
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The narrowing `flags` ask for under `policy`, for a grant of `purposes`; `None` when they ask
/// for none (the grant then covers everything the policy declares).
pub fn grant_scope(
    flags: &Flags,
    purposes: PurposeSet,
    policy: &Policy,
) -> anyhow::Result<Option<GrantScope>> {
    let none = PolicyScope::default();
    let scope = policy.scope.as_ref().unwrap_or(&none);

    let mut zones = Vec::new();
    for given in &flags.zones {
        let text = given.trim();
        let found = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            // Digits are always an id, even when some zone is named like one.
            text.parse::<u32>()
                .ok()
                .and_then(|id| scope.zones.iter().find(|z| z.id == id))
        } else {
            // Names need not be unique in a policy: a name two zones share chooses neither.
            let named: Vec<_> = scope
                .zones
                .iter()
                .filter(|z| z.name.eq_ignore_ascii_case(text))
                .collect();
            if named.len() > 1 {
                bail!(
                    "{} zones of this policy are named {text:?} ({}); choose one by its id: {}",
                    named.len(),
                    named
                        .iter()
                        .map(|z| format!("zone {} {}", z.id, z.name))
                        .collect::<Vec<_>>()
                        .join(", "),
                    named
                        .iter()
                        .map(|z| format!("--zone {}", z.id))
                        .collect::<Vec<_>>()
                        .join(" or ")
                );
            }
            named.first().copied()
        };
        match found {
            Some(z) => zones.push(z.id),
            None => bail!(
                "zone {text} is not in this policy, {}",
                declared_zones(scope)
            ),
        }
    }
    zones.sort_unstable();
    zones.dedup();

    let mut sensors = Vec::new();
    for id in &flags.sensors {
        if !scope.sensors.iter().any(|s| s.id == *id) {
            bail!(
                "sensor {id} is not in this policy, {}",
                declared_sensors(scope)
            );
        }
        sensors.push(*id);
    }
    sensors.sort_unstable();
    sensors.dedup();

    let mut sensor_kinds = SensorKindSet::EMPTY;
    for given in &flags.sensor_kinds {
        let kind = SensorKind::from_name(given)?;
        if !scope.sensors.iter().any(|s| s.kind == kind) {
            bail!(
                "this policy has no {} sensor; it {}",
                kind.name(),
                declared_sensors(scope).trim_start_matches("which ")
            );
        }
        sensor_kinds.insert(kind);
    }

    let days = flags
        .days
        .as_deref()
        .map(parse_days)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    // Without --days, hours are asked for on the days the policy collects at all.
    let policy_days = if scope.windows.is_empty() {
        EVERY_DAY
    } else {
        scope.windows.iter().fold(0, |d, w| d | w.days)
    };
    let mut windows: Vec<TimeWindow> = Vec::new();
    if flags.hours.is_empty()
        && let Some(days) = days
    {
        windows.extend(split_window(days, None));
    }
    for hours in &flags.hours {
        let hours = parse_hours(hours).map_err(anyhow::Error::msg)?;
        windows.extend(split_window(days.unwrap_or(policy_days), Some(hours)));
    }
    let mut seen = Vec::new();
    windows.retain(|w| {
        let fresh = !seen.contains(w);
        seen.push(*w);
        fresh
    });
    if windows.len() > MAX_WINDOWS {
        bail!(
            "{} time windows (an hour range past midnight counts twice); the limit is {MAX_WINDOWS}",
            windows.len()
        );
    }
    if !scope.windows.is_empty() {
        for w in &windows {
            if !scope.windows.iter().any(|outer| w.within(outer)) {
                bail!(
                    "{w} is not within this policy's times, which are: {}; choose days and hours \
                     inside one of them",
                    describe::windows_text(&scope.windows, scope.utc_offset_minutes)
                );
            }
        }
    }

    let mut forms: Vec<(Purpose, Form)> = Vec::new();
    for given in &flags.forms {
        let (p, f) = given.split_once('=').ok_or_else(|| {
            anyhow!("--form {given:?}: write PURPOSE=FORM, e.g. billing=pseudonymised")
        })?;
        let (purpose, form) = (Purpose::from_name(p)?, Form::from_name(f)?);
        if !purposes.contains(purpose) {
            bail!(
                "--form {given}: you do not grant {purpose}; add --purpose {purpose} or leave \
                 this --form out"
            );
        }
        if forms.iter().any(|(q, _)| *q == purpose) {
            bail!("--form names {purpose} twice; give one form per purpose");
        }
        let offers = scope
            .forms
            .iter()
            .find(|x| x.purpose == purpose)
            .map(|x| x.offers.as_slice())
            .unwrap_or(&[]);
        if offers.is_empty() {
            bail!(
                "this policy offers no particular forms for {purpose}, so there is none to \
                 choose; leave --form {given} out"
            );
        }
        if !offers.iter().any(|o| o.form() == form) {
            bail!(
                "{purpose} is offered as {}; {} is not",
                offers
                    .iter()
                    .map(|o| o.form().name())
                    .collect::<Vec<_>>()
                    .join(", "),
                form.name()
            );
        }
        forms.push((purpose, form));
    }
    forms.sort_by_key(|(p, _)| *p as i32);

    if zones.is_empty()
        && sensors.is_empty()
        && sensor_kinds.is_empty()
        && windows.is_empty()
        && forms.is_empty()
    {
        return Ok(None);
    }
    let narrowing = GrantScope {
        zones,
        sensors,
        sensor_kinds,
        windows,
        forms,
    };
    // The node's own check, in case this one and the protocol's ever differ.
    narrowing
        .within(scope)
        .map_err(|e| anyhow!("a node would refuse this consent: {e}"))?;
    Ok(Some(narrowing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use consent_proto::body::Body;

    fn street() -> Policy {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join("street-policy.toml");
        match consent_client::policy_file::load(&path, 1) {
            Ok(Body::Policy(p)) => p,
            other => panic!("the street policy loads: {other:?}"),
        }
    }

    fn all(policy: &Policy) -> PurposeSet {
        policy.purposes
    }

    #[test]
    fn no_flag_narrows_nothing() {
        let p = street();
        assert_eq!(
            grant_scope(&Flags::default(), all(&p), &p).expect("ok"),
            None
        );
    }

    #[test]
    fn each_flag_narrows_to_what_it_names() {
        let p = street();
        let flags = Flags {
            zones: vec![
                "oudegracht wharf, stadhuisbrug to bakkerbrug".into(),
                "1".into(),
            ],
            sensors: vec![1],
            sensor_kinds: vec!["air-quality".into()],
            hours: vec!["08:00-12:00".into()],
            forms: vec!["billing=pseudonymised".into()],
            ..Flags::default()
        };
        let g = grant_scope(&flags, all(&p), &p)
            .expect("within the policy")
            .expect("a narrowing");
        assert_eq!(g.zones, [1]);
        assert_eq!(g.sensors, [1]);
        assert_eq!(
            g.sensor_kinds.iter().collect::<Vec<_>>(),
            [SensorKind::AirQuality]
        );
        // Without --days: the days the policy collects (mon-sat).
        assert_eq!(
            g.windows,
            [TimeWindow {
                days: 0x3f,
                start_minute: 480,
                end_minute: 720
            }]
        );
        assert_eq!(g.forms, [(Purpose::Billing, Form::Pseudonymised)]);
        // --days alone: whole days.
        let days = Flags {
            days: Some("sat".into()),
            ..Flags::default()
        };
        // Saturday 00:00-24:00 is outside mon-sat 07:00-19:00.
        let err = grant_scope(&days, all(&p), &p).expect_err("whole days");
        assert!(
            err.to_string().contains("not within this policy's times"),
            "{err}"
        );
    }

    #[test]
    fn what_the_policy_does_not_offer_is_refused_naming_what_it_does() {
        let p = street();
        for (flags, says) in [
            (
                Flags {
                    zones: vec!["7".into()],
                    ..Flags::default()
                },
                "zone 7 is not in this policy, which declares: 1 Oudegracht wharf",
            ),
            (
                Flags {
                    sensors: vec![9],
                    ..Flags::default()
                },
                "sensor 9 is not in this policy, which declares: 1 number-plate-reader (zone 1)",
            ),
            (
                Flags {
                    sensor_kinds: vec!["camera".into()],
                    ..Flags::default()
                },
                "this policy has no camera sensor",
            ),
            (
                Flags {
                    hours: vec!["06:00-08:00".into()],
                    ..Flags::default()
                },
                "not within this policy's times",
            ),
            (
                Flags {
                    forms: vec!["urban-planning=raw".into()],
                    ..Flags::default()
                },
                "urban-planning is offered as binned, aggregated; raw is not",
            ),
            (
                Flags {
                    forms: vec!["billing=raw".into()],
                    ..Flags::default()
                },
                "you do not grant billing",
            ),
        ] {
            let purposes = if says.contains("you do not grant") {
                [Purpose::ServiceProvision].into_iter().collect()
            } else {
                all(&p)
            };
            let err = grant_scope(&flags, purposes, &p).expect_err(says);
            assert!(err.to_string().contains(says), "{says}: {err}");
        }
    }

    #[test]
    fn a_zone_name_two_zones_share_is_refused_and_digits_are_an_id() {
        let mut p = street();
        let scope = p.scope.as_mut().expect("the street policy has a scope");
        let first = scope.zones[0].name.clone();
        scope.zones[1].name = first.to_uppercase();
        let by_name = Flags {
            zones: vec![first.to_lowercase()],
            ..Flags::default()
        };
        let err = grant_scope(&by_name, all(&p), &p).expect_err("ambiguous");
        assert!(
            err.to_string().contains("2 zones of this policy are named")
                && err
                    .to_string()
                    .contains("choose one by its id: --zone 1 or --zone 2"),
            "{err}"
        );
        // A zone named like another's id: digits are the id.
        let scope = p.scope.as_mut().expect("scope");
        scope.zones[1].name = "1".into();
        let by_id = Flags {
            zones: vec!["1".into()],
            ..Flags::default()
        };
        let g = grant_scope(&by_id, all(&p), &p)
            .expect("an id")
            .expect("a narrowing");
        assert_eq!(g.zones, [1]);
    }

    #[test]
    fn a_policy_without_scope_takes_windows_in_utc_and_refuses_zones() {
        let mut p = street();
        p.scope = None;
        let flags = Flags {
            hours: vec!["22:00-06:00".into()],
            ..Flags::default()
        };
        let g = grant_scope(&flags, all(&p), &p)
            .expect("windows narrow any policy")
            .expect("a narrowing");
        assert_eq!(g.windows.len(), 2, "split at midnight");
        let zones = Flags {
            zones: vec!["1".into()],
            ..Flags::default()
        };
        let err = grant_scope(&zones, all(&p), &p).expect_err("no zones");
        assert!(err.to_string().contains("which declares no zone"), "{err}");
    }
}
