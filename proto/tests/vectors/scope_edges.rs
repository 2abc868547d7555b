//! Scopes: the hand-picked edges of the scope rule, under the vectors' scoped policy.

use super::*;

/// Hand-picked edges of the rule, under the vectors' scoped policy (index 0) unless stated.
pub(super) fn edge_cases() -> Vec<DecisionCase> {
    let m = cases::T;
    // The sensor named with the kind the vectors' policy gives it (a camera for an id it does
    // not declare).
    let full = |sensor: u32, cell: u64, observed_ms: u64, form: Form| Context {
        sensor: Some(sensor),
        sensor_kind: Some(
            vector_policy_scope()
                .sensor(sensor)
                .map_or(SensorKind::Camera, |s| s.kind),
        ),
        cell: Cell::new(cell),
        observed_ms: Some(observed_ms),
        form: Some(form),
    };
    let base = DecisionCase {
        about: None,
        policy: Some(0),
        grant: GrantCase {
            purposes: [Purpose::Research, Purpose::ThirdPartySharing]
                .into_iter()
                .collect(),
            categories: [DataCategory::Mobility].into_iter().collect(),
            valid_from: m - DAY,
            valid_until: None,
            revoked: false,
            scope: None,
        },
        opt_out_seq: None,
        purpose: Purpose::Research,
        category: DataCategory::Mobility,
        at_ms: m + 9 * HOUR,
        // Monday 10:00 at +01:00.
        context: full(2, IN_QUAY, m + 9 * HOUR, Form::Pseudonymised),
    };
    vec![
        edge(&base, "inside every dimension", |_| {}),
        edge(&base, "no context: the sensor is missing first", |c| {
            c.context = Context::NONE;
        }),
        edge(&base, "a sensor only: the cell is missing", |c| {
            c.context = Context {
                sensor: Some(2),
                sensor_kind: Some(SensorKind::AirQuality),
                ..Context::NONE
            };
        }),
        edge(
            &base,
            "a sensor without its kind: the sensor is missing",
            |c| {
                c.context.sensor_kind = None;
            },
        ),
        edge(
            &base,
            "a sensor id alone, no cell: the sensor is missing first",
            |c| {
                c.context = Context {
                    sensor: Some(2),
                    ..Context::NONE
                };
            },
        ),
        edge(
            &base,
            "a sensor named with another kind than the policy declares",
            |c| {
                c.context.sensor_kind = Some(SensorKind::Camera);
            },
        ),
        edge(
            &base,
            "a kind the grant allows, not the kind the policy gives the id",
            |c| {
                c.grant.scope = narrowing(|g| {
                    g.sensor_kinds = [SensorKind::WifiCounter].into_iter().collect();
                });
                c.context.sensor_kind = Some(SensorKind::WifiCounter);
            },
        ),
        edge(
            &base,
            "an id the grant allows, named with another kind",
            |c| {
                c.grant.scope = narrowing(|g| g.sensors = vec![2]);
                c.context.sensor_kind = Some(SensorKind::NumberPlateReader);
            },
        ),
        edge(&base, "sensor and cell: the time is missing", |c| {
            c.context.observed_ms = None;
            c.context.form = None;
        }),
        edge(&base, "no form", |c| c.context.form = None),
        edge(&base, "a sensor the policy does not declare", |c| {
            c.context.sensor = Some(9);
        }),
        edge(&base, "a cell outside every zone", |c| {
            c.context.cell = Cell::new(ELSEWHERE);
        }),
        edge(&base, "a cell coarser than the zone", |c| {
            c.context.cell = Cell::new(AROUND_QUAY);
        }),
        edge(&base, "a cell of the zone's own resolution", |c| {
            c.context.cell = Cell::new(QUAY[1]);
        }),
        edge(&base, "a finer cell of zone 2", |c| {
            c.context.cell = Cell::new(IN_SQUARE);
        }),
        edge(&base, "07:00 local: the window's first minute", |c| {
            c.context.observed_ms = Some(m + 6 * HOUR);
        }),
        edge(&base, "06:59:59.999 local", |c| {
            c.context.observed_ms = Some(m + 6 * HOUR - 1);
        }),
        edge(&base, "18:59:59.999 local", |c| {
            c.context.observed_ms = Some(m + 18 * HOUR - 1);
        }),
        edge(&base, "19:00 local: the window's end is excluded", |c| {
            c.context.observed_ms = Some(m + 18 * HOUR);
        }),
        edge(&base, "saturday 08:59 local", |c| {
            c.context.observed_ms = Some(m + 5 * DAY + 7 * HOUR + 59 * MINUTE);
        }),
        edge(&base, "saturday 09:00 local", |c| {
            c.context.observed_ms = Some(m + 5 * DAY + 8 * HOUR);
        }),
        edge(&base, "sunday noon local", |c| {
            c.context.observed_ms = Some(m + 6 * DAY + 11 * HOUR);
        }),
        edge(
            &base,
            "a form the policy does not offer for the purpose",
            |c| {
                c.context.form = Some(Form::Raw);
            },
        ),
        edge(&base, "a form below the grant's floor", |c| {
            c.grant.scope = narrowing(|g| g.forms = vec![(Purpose::Research, Form::Aggregated)]);
        }),
        edge(&base, "the grant's floor itself", |c| {
            c.grant.scope = narrowing(|g| g.forms = vec![(Purpose::Research, Form::Aggregated)]);
            c.context.form = Some(Form::Aggregated);
        }),
        edge(&base, "the grant narrows sensors to sensor 1", |c| {
            c.grant.scope = narrowing(|g| g.sensors = vec![1]);
        }),
        edge(
            &base,
            "the grant's sensor kinds include the sensor's",
            |c| {
                c.grant.scope = narrowing(|g| {
                    g.sensor_kinds = [SensorKind::AirQuality].into_iter().collect();
                });
            },
        ),
        edge(&base, "the grant narrows zones to zone 2", |c| {
            c.grant.scope = narrowing(|g| g.zones = vec![2]);
        }),
        edge(&base, "the grant's window excludes the time", |c| {
            c.grant.scope = narrowing(|g| {
                g.windows = vec![TimeWindow {
                    days: 1,
                    start_minute: 8 * 60,
                    end_minute: 9 * 60,
                }];
            });
        }),
        edge(&base, "observed before the grant's validity", |c| {
            c.grant.valid_from = m + DAY;
            c.at_ms = m + 2 * DAY;
        }),
        edge(&base, "observed at the grant's valid_until", |c| {
            c.grant.valid_until = Some(m + 9 * HOUR);
            c.at_ms = m + 8 * HOUR;
        }),
        edge(&base, "revoked beats missing context", |c| {
            c.grant.revoked = true;
            c.context = Context::NONE;
        }),
        edge(&base, "expired beats missing context", |c| {
            c.grant.valid_until = Some(m + DAY);
            c.at_ms = m + 2 * DAY;
            c.context = Context::NONE;
        }),
        edge(&base, "not yet valid beats missing context", |c| {
            c.grant.valid_from = m + 3 * DAY;
            c.at_ms = m + 2 * DAY;
            c.context = Context::NONE;
        }),
        edge(&base, "an opt-out beats missing context", |c| {
            c.purpose = Purpose::ThirdPartySharing;
            c.opt_out_seq = Some(2);
            c.context = Context::NONE;
        }),
        edge(&base, "sharing, aggregated as offered", |c| {
            c.purpose = Purpose::ThirdPartySharing;
            c.context.form = Some(Form::Aggregated);
        }),
        edge(
            &base,
            "a purpose the grant does not cover: no form named",
            |c| {
                c.purpose = Purpose::ServiceProvision;
            },
        ),
        edge(&base, "a category the grant does not cover", |c| {
            c.category = DataCategory::Location;
        }),
        edge(&base, "no scope anywhere: the context is ignored", |c| {
            c.policy = None;
            c.context = full(9, ELSEWHERE, m + 9 * HOUR, Form::Raw);
        }),
        edge(
            &base,
            "no scope anywhere: observed before the validity",
            |c| {
                c.policy = None;
                c.grant.valid_from = m + DAY;
                c.at_ms = m + 2 * DAY;
            },
        ),
        edge(
            &base,
            "a policy without scope, a grant window in UTC",
            |c| {
                c.policy = None;
                c.grant.scope = narrowing(|g| {
                    g.windows = vec![TimeWindow {
                        days: 1,
                        start_minute: 9 * 60,
                        end_minute: 10 * 60,
                    }];
                });
                c.context.observed_ms = Some(m + 9 * HOUR + 30 * MINUTE);
            },
        ),
        edge(
            &base,
            "a policy without scope, after the grant window in UTC",
            |c| {
                c.policy = None;
                c.grant.scope = narrowing(|g| {
                    g.windows = vec![TimeWindow {
                        days: 1,
                        start_minute: 9 * 60,
                        end_minute: 10 * 60,
                    }];
                });
                c.context.observed_ms = Some(m + 10 * HOUR);
            },
        ),
        edge(
            &base,
            "a policy without scope, a grant window, no time",
            |c| {
                c.policy = None;
                c.grant.scope = narrowing(|g| {
                    g.windows = vec![TimeWindow {
                        days: 1,
                        start_minute: 9 * 60,
                        end_minute: 10 * 60,
                    }];
                });
                c.context = Context::NONE;
            },
        ),
    ]
}
