//! Scope parameters in words, for people (the CLI, the transparency site): the size of an H3
//! cell, a bin length, a UTC offset. Presentation only — the rule never calls these (it is
//! integer arithmetic; the cell areas here are floating point).

/// Average area of an H3 hexagon per resolution, m² (H3's published table).
pub const CELL_AREA_M2: [f64; 16] = [
    4.357_449_416e12,
    6.097_884_418e11,
    8.680_178_040e10,
    1.239_343_466e10,
    1.770_347_654e9,
    2.529_038_582e8,
    3.612_906_216e7,
    5.161_293_360e6,
    7.373_275_976e5,
    1.053_325_134e5,
    1.504_750_190e4,
    2.149_643_129e3,
    3.070_919_470e2,
    4.387_027_810e1,
    6.267_197_100,
    0.895_310_100,
];

/// About how large one H3 cell of `resolution` is: `~0.1 km²`, `~2,100 m²`.
pub fn cell_area_text(resolution: u8) -> String {
    let m2 = CELL_AREA_M2
        .get(usize::from(resolution))
        .copied()
        .unwrap_or(0.0);
    if m2 >= 1e6 {
        format!("~{} km²", thousands((m2 / 1e6).round() as u64))
    } else if m2 >= 5e4 {
        format!("~{:.1} km²", m2 / 1e6)
    } else {
        // Two significant digits.
        let magnitude = 10f64.powi((m2.max(1.0).log10().floor() as i32 - 1).max(0));
        format!(
            "~{} m²",
            thousands(((m2 / magnitude).round() * magnitude) as u64)
        )
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A bin length in words: `per hour`, `per 15 minutes`, `per day`.
pub fn interval_text(seconds: u32) -> String {
    match seconds {
        86_400 => "per day".into(),
        3_600 => "per hour".into(),
        60 => "per minute".into(),
        s if s % 3_600 == 0 => format!("per {} hours", s / 3_600),
        s if s % 60 == 0 => format!("per {} minutes", s / 60),
        s => format!("per {s} seconds"),
    }
}

/// An offset as people read it: `UTC`, `UTC+01:00`, `UTC-05:30`.
pub fn utc_offset_text(minutes: i16) -> String {
    if minutes == 0 {
        return "UTC".into();
    }
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", m / 60, m % 60)
}

/// A form offer in plain words, with its parameters.
pub fn form_text(spec: &super::FormSpec) -> String {
    use super::FormSpec;
    match *spec {
        FormSpec::Raw => "as observed: identifiers in clear, exact time and place".into(),
        FormSpec::Pseudonymised => {
            "pseudonymised: your identifier replaced by a keyed code, exact time and place".into()
        }
        FormSpec::Binned {
            interval_s,
            resolution,
        } => format!(
            "binned: pseudonymised, time {}, place to cells of {}",
            interval_text(interval_s),
            cell_area_text(resolution)
        ),
        FormSpec::Aggregated {
            interval_s,
            resolution,
            min_group,
        } => format!(
            "aggregated: no record about you, only counts over groups of at least {min_group} \
             people, {}, in cells of {}",
            interval_text(interval_s),
            cell_area_text(resolution)
        ),
    }
}

/// A sensor in words: `3 a camera in zone 1`, `4 a noise sensor`.
pub fn sensor_text(id: u32, kind: crate::vocab::SensorKind, zone: Option<u32>) -> String {
    match zone {
        Some(z) => format!("{id} {} in zone {z}", kind.plain()),
        None => format!("{id} {}", kind.plain()),
    }
}
