//! The gateway's proof, written from the grant entries and the policy rather than the SDK's rule:
//! every record kept lies in its resident's grant (purpose, sensor, place, hour, form), and what
//! each resident's narrowing means in plain terms.

use super::*;

/// The rank of a form, from least to most protective (the spec's table, written out here).
fn rank(form: Form) -> u8 {
    match form {
        Form::Raw => 1,
        Form::Pseudonymised => 2,
        Form::Binned => 3,
        Form::Aggregated => 4,
        Form::Unspecified => 0,
    }
}

/// Local (weekday, Monday 0; minute of the day) of `ms` at a fixed UTC offset.
fn local(ms: u64, utc_offset_minutes: i16) -> (u8, u16) {
    let local = i128::from(ms) + i128::from(utc_offset_minutes) * 60_000;
    let day = local.div_euclid(i128::from(DAY));
    let minute = (local - day * i128::from(DAY)) / 60_000;
    (((day + 3).rem_euclid(7)) as u8, minute as u16)
}

/// Whether local `(weekday, minute)` lies in `window`.
fn in_window(window: &TimeWindow, (weekday, minute): (u8, u16)) -> bool {
    window.days & (1 << weekday) != 0 && window.start_minute <= minute && minute < window.end_minute
}

/// Whether `cell` lies in `zone`. An exact cell: its parent at the zone's resolution (h3o's) is
/// one of the zone's cells. A binned cell, coarser than the zone: it holds one of the zone's
/// cells (the area kept overlaps the zone).
fn in_zone(zone: &Zone, cell: CellIndex) -> bool {
    let Ok(zone_res) = Resolution::try_from(zone.resolution) else {
        return false;
    };
    if cell.resolution() >= zone_res {
        return cell
            .parent(zone_res)
            .is_some_and(|p| zone.cells.iter().any(|c| c.raw() == u64::from(p)));
    }
    zone.cells.iter().any(|c| {
        CellIndex::try_from(c.raw())
            .ok()
            .and_then(|c| c.parent(cell.resolution()))
            == Some(cell)
    })
}

/// Whether `row` lies in `grant` under the policy's `scope`: purpose granted; sensor declared and
/// allowed by id or kind; form offered for the purpose and at least as protective as the grant's
/// floor; cell in one of the zones the grant keeps; local time in the policy's and the grant's
/// windows (a binned record by the start of its bin: the windows here are whole hours).
fn check_row(row: &Row, grant: &Grant, scope: &PolicyScope) -> Result<(), String> {
    let narrowing = grant.scope.clone().unwrap_or_default();
    if !grant.purposes.contains(row.purpose) {
        return Err(format!("purpose {} not granted", row.purpose));
    }
    let sensor = scope
        .sensors
        .iter()
        .find(|s| s.id == row.sensor)
        .ok_or_else(|| format!("sensor {} not in the policy", row.sensor))?;
    let narrows_sensors = !narrowing.sensors.is_empty() || !narrowing.sensor_kinds.is_empty();
    if narrows_sensors
        && !narrowing.sensors.contains(&row.sensor)
        && !narrowing.sensor_kinds.contains(sensor.kind)
    {
        return Err(format!("sensor {} not granted", row.sensor));
    }
    let form = row.record.form();
    let offered = scope
        .forms
        .iter()
        .filter(|pf| pf.purpose == row.purpose)
        .flat_map(|pf| pf.offers.iter())
        .any(|spec| spec.form() == form);
    if !offered {
        return Err(format!("form {form:?} not offered for {}", row.purpose));
    }
    if let Some((_, floor)) = narrowing.forms.iter().find(|(p, _)| *p == row.purpose)
        && rank(form) < rank(*floor)
    {
        return Err(format!("form {form:?} below the floor {floor:?}"));
    }
    let (cell, time) = match row.record {
        Record::Raw(obs) => (obs.cell, obs.observed_ms),
        Record::Pseudonymised {
            cell, observed_ms, ..
        } => (cell, observed_ms),
        Record::Binned {
            cell, bin_start_ms, ..
        } => (cell, bin_start_ms),
    };
    let inside = scope
        .zones
        .iter()
        .filter(|z| narrowing.zones.is_empty() || narrowing.zones.contains(&z.id))
        .any(|z| in_zone(z, cell));
    if !inside {
        return Err(format!("cell {cell} outside the zones granted"));
    }
    let when = local(time, scope.utc_offset_minutes);
    let in_policy = scope.windows.is_empty() || scope.windows.iter().any(|w| in_window(w, when));
    let in_grant =
        narrowing.windows.is_empty() || narrowing.windows.iter().any(|w| in_window(w, when));
    if !in_policy || !in_grant {
        return Err(format!("local time {when:?} outside the windows"));
    }
    if time < grant.valid_from || grant.valid_until.is_some_and(|u| time >= u) {
        return Err("observed outside the grant's validity".to_string());
    }
    Ok(())
}

/// The proof: per resident, every record kept lies in their grant; then what each resident's
/// narrowing means in plain terms; then the aggregates' k.
pub(super) fn prove(
    db: &Database,
    residents: &[Resident],
    scope: &PolicyScope,
    key: &PseudonymKey,
) -> anyhow::Result<()> {
    println!("\nper resident:");
    for resident in residents {
        let Body::Grant(grant) = &resident.grant.body else {
            anyhow::bail!("{}'s grant entry is not a grant", resident.name);
        };
        let subject = resident.author.feed();
        let rows: Vec<&Row> = db
            .rows
            .iter()
            .filter(|row| owner(&row.record, key, &subject))
            .collect();
        for row in &rows {
            if let Err(why) = check_row(row, grant, scope) {
                anyhow::bail!(
                    "{}: a record from sensor {} for {} is outside the grant: {why}",
                    resident.name,
                    row.sensor,
                    row.purpose
                );
            }
        }
        let mut forms: BTreeMap<&'static str, usize> = BTreeMap::new();
        for row in &rows {
            *forms.entry(row.record.form().name()).or_default() += 1;
        }
        println!(
            "  {}: {} record(s) {forms:?}, each within the grant",
            resident.name,
            rows.len()
        );
        match resident.name {
            "ben" => {
                anyhow::ensure!(!rows.is_empty(), "ben: nothing kept at all");
                anyhow::ensure!(
                    rows.iter().all(|r| r.sensor == 1),
                    "ben: a record from another sensor than 1"
                );
            }
            "chloe" => anyhow::ensure!(
                rows.iter().all(|r| r.purpose != Purpose::UrbanPlanning),
                "chloe: a per-person urban planning record"
            ),
            "eve" => anyhow::ensure!(rows.is_empty(), "eve: records survived her erasure"),
            name => anyhow::ensure!(!rows.is_empty(), "{name}: nothing kept at all"),
        }
    }
    for (purpose, row) in &db.aggregates {
        let k = scope
            .offers(*purpose)
            .iter()
            .find_map(|spec| match spec {
                FormSpec::Aggregated { min_group, .. } => Some(*min_group),
                _ => None,
            })
            .ok_or_else(|| anyhow::anyhow!("{purpose} offers no aggregates"))?;
        anyhow::ensure!(
            row.subjects >= k,
            "an aggregate row for {purpose} counts {} people, fewer than {k}",
            row.subjects
        );
    }
    anyhow::ensure!(
        !db.aggregates.is_empty() && db.suppressed > 0,
        "the aggregates show neither a release nor a suppression"
    );
    Ok(())
}
