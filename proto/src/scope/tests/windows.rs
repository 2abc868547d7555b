//! The scope rule in time and form: local time, windows, and the form required.

use super::*;

#[test]
fn local_time_floors_and_counts_weekdays_from_thursday() {
    assert_eq!(local_time(0, 0), (3, 0));
    assert_eq!(local_time(0, -60), (2, 23 * 60));
    assert_eq!(local_time(MONDAY, 0), (0, 0));
    assert_eq!(local_time(MONDAY - 1, 0), (6, 1439));
    assert_eq!(local_time(MONDAY + 10 * HOUR, 840), (1, 0));
    assert_eq!(local_time(MONDAY + 10 * HOUR - 1, 840), (0, 1439));
    assert_eq!(local_time(MONDAY + 10 * HOUR, -720), (6, 22 * 60));
    assert_eq!(local_time(MONDAY + 12 * HOUR, -720), (0, 0));
    let (weekday, minute) = local_time(u64::MAX, 840);
    assert!(weekday < 7 && minute < 1440);
}

fn windowed(offset: i16, days: u8, start_minute: u16, end_minute: u16) -> ScopeFacts {
    ScopeFacts {
        policy: Arc::new(PolicyScope {
            utc_offset_minutes: offset,
            windows: vec![TimeWindow {
                days,
                start_minute,
                end_minute,
            }],
            ..PolicyScope::default()
        }),
        grant: None,
    }
}

fn when(t: u64) -> Context {
    Context {
        observed_ms: Some(t),
        ..Context::NONE
    }
}

#[test]
fn windows_include_their_start_and_exclude_their_end() {
    let p = Purpose::Billing;
    // Mondays, the whole day, in UTC.
    let monday = windowed(0, 1, 0, 1440);
    assert_eq!(evaluate(&monday, p, &when(MONDAY)), Ok(()));
    assert_eq!(evaluate(&monday, p, &when(MONDAY + DAY - MINUTE)), Ok(()));
    assert_eq!(evaluate(&monday, p, &when(MONDAY + DAY - 1)), Ok(()));
    assert_eq!(
        evaluate(&monday, p, &when(MONDAY + DAY)),
        Err(Reason::TimeNotCovered)
    );
    assert_eq!(
        evaluate(&monday, p, &when(MONDAY - 1)),
        Err(Reason::TimeNotCovered)
    );
    assert_eq!(evaluate(&monday, p, &when(MONDAY + 7 * DAY)), Ok(()));
    let office = windowed(0, 1, 7 * 60, 19 * 60);
    assert_eq!(
        evaluate(&office, p, &when(MONDAY + 7 * HOUR - 1)),
        Err(Reason::TimeNotCovered)
    );
    assert_eq!(evaluate(&office, p, &when(MONDAY + 7 * HOUR)), Ok(()));
    assert_eq!(evaluate(&office, p, &when(MONDAY + 19 * HOUR - 1)), Ok(()));
    assert_eq!(
        evaluate(&office, p, &when(MONDAY + 19 * HOUR)),
        Err(Reason::TimeNotCovered)
    );
    // The last minute of a day.
    let last = windowed(0, 1, 1439, 1440);
    assert_eq!(evaluate(&last, p, &when(MONDAY + DAY - MINUTE)), Ok(()));
    assert_eq!(
        evaluate(&last, p, &when(MONDAY + DAY - MINUTE - 1)),
        Err(Reason::TimeNotCovered)
    );
}

#[test]
fn the_fixed_offset_moves_windows_across_a_day_boundary() {
    let p = Purpose::Billing;
    // +14:00: Monday 10:00 UTC is Tuesday 00:00.
    let tuesday = windowed(840, 0b10, 0, 60);
    assert_eq!(evaluate(&tuesday, p, &when(MONDAY + 10 * HOUR)), Ok(()));
    assert_eq!(
        evaluate(&tuesday, p, &when(MONDAY + 10 * HOUR - 1)),
        Err(Reason::TimeNotCovered)
    );
    // −12:00: Monday 10:00 UTC is Sunday 22:00.
    let sunday = windowed(-720, 0b100_0000, 22 * 60, 1440);
    assert_eq!(evaluate(&sunday, p, &when(MONDAY + 10 * HOUR)), Ok(()));
    assert_eq!(
        evaluate(&sunday, p, &when(MONDAY + 12 * HOUR)),
        Err(Reason::TimeNotCovered)
    );
}

#[test]
fn grant_windows_narrow_the_policys_and_need_a_time_on_their_own() {
    let p = Purpose::Billing;
    let s = street(Some(GrantScope {
        windows: vec![TimeWindow {
            days: 0x1f,
            start_minute: 7 * 60,
            end_minute: 19 * 60,
        }],
        ..GrantScope::default()
    }));
    let at = |t| full(1, t, IN_WHARF, Form::Raw);
    assert_eq!(evaluate(&s, p, &at(AT)), Ok(()));
    // Saturday 11:00 local: the policy's window, not the grant's.
    assert_eq!(
        evaluate(&s, p, &at(AT + 5 * DAY)),
        Err(Reason::TimeNotCovered)
    );
    // Monday 06:30 local.
    assert_eq!(
        evaluate(&s, p, &at(MONDAY + 5 * HOUR + 30 * MINUTE)),
        Err(Reason::TimeNotCovered)
    );
    // Monday 05:30 local: outside the policy's window too.
    assert_eq!(
        evaluate(&s, p, &at(MONDAY + 4 * HOUR + 30 * MINUTE)),
        Err(Reason::TimeNotCovered)
    );
    // Under a policy without scope, grant windows are in UTC and need a time.
    let utc = ScopeFacts::resolve(
        None,
        Some(GrantScope {
            windows: vec![TimeWindow {
                days: 1,
                start_minute: 0,
                end_minute: 60,
            }],
            ..GrantScope::default()
        }),
    )
    .expect("scoped");
    assert_eq!(
        evaluate(&utc, p, &Context::NONE),
        Err(Reason::ContextMissingTime)
    );
    assert_eq!(evaluate(&utc, p, &when(MONDAY + 59 * MINUTE)), Ok(()));
    assert_eq!(
        evaluate(&utc, p, &when(MONDAY + HOUR)),
        Err(Reason::TimeNotCovered)
    );
}

#[test]
fn forms_must_be_offered_and_at_least_as_protective_as_the_floor() {
    let at = |form| full(1, AT, IN_WHARF, form);
    let s = street(None);
    assert_eq!(evaluate(&s, Purpose::Billing, &at(Form::Raw)), Ok(()));
    assert_eq!(
        evaluate(&s, Purpose::Billing, &at(Form::Pseudonymised)),
        Ok(())
    );
    // More protective but not offered.
    assert_eq!(
        evaluate(&s, Purpose::Billing, &at(Form::Binned)),
        Err(Reason::FormNotCovered)
    );
    assert_eq!(
        evaluate(&s, Purpose::UrbanPlanning, &at(Form::Raw)),
        Err(Reason::FormNotCovered)
    );
    let floors = street(Some(GrantScope {
        forms: vec![
            (Purpose::Billing, Form::Pseudonymised),
            (Purpose::UrbanPlanning, Form::Aggregated),
        ],
        ..GrantScope::default()
    }));
    assert_eq!(
        evaluate(&floors, Purpose::Billing, &at(Form::Raw)),
        Err(Reason::FormNotCovered)
    );
    assert_eq!(
        evaluate(&floors, Purpose::Billing, &at(Form::Pseudonymised)),
        Ok(())
    );
    assert_eq!(
        evaluate(&floors, Purpose::UrbanPlanning, &at(Form::Binned)),
        Err(Reason::FormNotCovered)
    );
    assert_eq!(
        evaluate(&floors, Purpose::UrbanPlanning, &at(Form::Aggregated)),
        Ok(())
    );
    // No floor for service provision: the policy's offers alone.
    assert_eq!(
        evaluate(&floors, Purpose::ServiceProvision, &at(Form::Raw)),
        Ok(())
    );
    // A context form the rule does not know stands for no offer.
    assert_eq!(
        evaluate(&s, Purpose::Billing, &at(Form::Unspecified)),
        Err(Reason::FormNotCovered)
    );
}

#[test]
fn the_required_form_is_the_floor_else_the_least_protective_offer() {
    let s = street(None);
    assert_eq!(required_form(&s, Purpose::Billing), Some(Form::Raw));
    assert_eq!(
        required_form(&s, Purpose::UrbanPlanning),
        Some(Form::Binned)
    );
    assert_eq!(
        required_form(&s, Purpose::EnvironmentalMonitoring),
        Some(Form::Pseudonymised)
    );
    assert_eq!(
        required_form(&s, Purpose::ServiceProvision),
        Some(Form::Raw)
    );
    assert_eq!(required_form(&s, Purpose::Research), None);
    let floors = street(Some(GrantScope {
        forms: vec![(Purpose::UrbanPlanning, Form::Aggregated)],
        ..GrantScope::default()
    }));
    assert_eq!(
        required_form(&floors, Purpose::UrbanPlanning),
        Some(Form::Aggregated)
    );
    assert_eq!(required_form(&floors, Purpose::Billing), Some(Form::Raw));
}
