//! Contexts from the wire, and how time windows print.

use super::*;

#[test]
fn contexts_convert_from_the_wire_and_refuse_bad_cells_forms_and_kinds() {
    assert_eq!(Context::from_wire(None), Ok(Context::NONE));
    assert_eq!(
        Context::from_wire(Some(&pb::ObservationContext::default())),
        Ok(Context::NONE)
    );
    // A function, not a value: the message may or may not be `Copy`.
    let w = || pb::ObservationContext {
        sensor: 2,
        sensor_kind: SensorKind::Camera as i32,
        cell: IN_STREET,
        observed_ms: AT,
        form: Form::Binned as i32,
    };
    let c = Context::from_wire(Some(&w())).expect("valid");
    assert_eq!(c, full(2, AT, IN_STREET, Form::Binned));
    assert_eq!(c.to_wire(), Some(w()));
    assert_eq!(Context::NONE.to_wire(), None);
    let bad_cell = pb::ObservationContext {
        cell: 0x8c196908228ebfe,
        ..w()
    };
    let err = Context::from_wire(Some(&bad_cell)).expect_err("not a cell");
    assert_eq!(err, ContextError::NotACell(0x8c196908228ebfe));
    assert_eq!(
        err.to_string(),
        "context.cell 8c196908228ebfe is not an H3 cell index"
    );
    let bad_form = pb::ObservationContext { form: 9, ..w() };
    let err = Context::from_wire(Some(&bad_form)).expect_err("no such form");
    assert_eq!(err.to_string(), "context.form: unknown form 9");
    let bad_kind = pb::ObservationContext {
        sensor_kind: 99,
        ..w()
    };
    let err = Context::from_wire(Some(&bad_kind)).expect_err("no such kind");
    assert_eq!(err, ContextError::UnknownSensorKind(99));
    assert_eq!(
        err.to_string(),
        "context.sensor_kind: unknown sensor kind 99"
    );
    // A kind names no sensor by itself; a sensor without its kind is read (a deny when needed).
    let kind_alone = pb::ObservationContext { sensor: 0, ..w() };
    let err = Context::from_wire(Some(&kind_alone)).expect_err("a kind alone");
    assert_eq!(
        err,
        ContextError::SensorKindWithoutSensor(SensorKind::Camera)
    );
    assert_eq!(
        err.to_string(),
        "context.sensor_kind camera is given without context.sensor"
    );
    let id_alone = pb::ObservationContext {
        sensor_kind: 0,
        ..w()
    };
    let c2 = Context::from_wire(Some(&id_alone)).expect("valid");
    assert_eq!((c2.sensor, c2.sensor_kind), (Some(2), None));
    assert_eq!(c2.to_wire(), Some(id_alone));
    // In order: the cell, the form, the kind, a kind without a sensor.
    let all_bad = pb::ObservationContext {
        sensor: 0,
        sensor_kind: 99,
        form: 9,
        ..bad_cell
    };
    assert!(matches!(
        Context::from_wire(Some(&all_bad)),
        Err(ContextError::NotACell(_))
    ));
    let all_bad = pb::ObservationContext {
        cell: IN_STREET,
        ..all_bad
    };
    assert_eq!(
        Context::from_wire(Some(&all_bad)),
        Err(ContextError::UnknownForm(9))
    );
    let all_bad = pb::ObservationContext { form: 0, ..all_bad };
    assert_eq!(
        Context::from_wire(Some(&all_bad)),
        Err(ContextError::UnknownSensorKind(99))
    );
    // The digest covers every field, absent ones as zeros; the kind too.
    assert_ne!(c.digest(), Context { sensor: None, ..c }.digest());
    assert_ne!(
        c.digest(),
        Context {
            sensor_kind: Some(SensorKind::AirQuality),
            ..c
        }
        .digest()
    );
    assert_ne!(
        c.digest(),
        Context {
            sensor_kind: None,
            ..c
        }
        .digest()
    );
    assert_eq!(Context::NONE.digest(), context_digest(0, 0, 0, 0, 0));
    assert_eq!(
        c.digest(),
        context_digest(
            2,
            SensorKind::Camera as i32,
            IN_STREET,
            AT,
            Form::Binned as i32
        )
    );
}

#[test]
fn time_windows_print_their_days_and_hours() {
    let w = |days, start_minute, end_minute| TimeWindow {
        days,
        start_minute,
        end_minute,
    };
    assert_eq!(w(0x1f, 420, 1140).to_string(), "mon-fri 07:00-19:00");
    assert_eq!(w(0b101, 0, 1440).to_string(), "mon,wed 00:00-24:00");
    assert_eq!(w(0x7f, 360, 1440).to_string(), "every day 06:00-24:00");
    assert_eq!(w(0b11, 600, 660).to_string(), "mon,tue 10:00-11:00");
    assert_eq!(
        w(0b101_0111, 0, 1).to_string(),
        "mon-wed,fri,sun 00:00-00:01"
    );
    assert_eq!(w(0b110_0000, 0, 1).to_string(), "sat,sun 00:00-00:01");
    assert!(w(0b10, 480, 600).within(&w(0x1f, 420, 1140)));
    assert!(!w(0b10_0000, 480, 600).within(&w(0x1f, 420, 1140)));
    assert!(!w(0b10, 400, 600).within(&w(0x1f, 420, 1140)));
    assert!(!w(0b10, 480, 1200).within(&w(0x1f, 420, 1140)));
    assert_eq!(TimeWindow::new(0, 0, 60), None);
    assert_eq!(TimeWindow::new(1, 60, 60), None);
    assert_eq!(TimeWindow::new(1, 0, 1441), None);
    assert_eq!(TimeWindow::new(0x7f, 0, 1440), Some(w(0x7f, 0, 1440)));
}
