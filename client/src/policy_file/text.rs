//! The text forms people write in a policy file and on the command line (`consent grant`'s
//! flags): H3 cells in hex, days of the week, hours, bin intervals and UTC offsets.

use consent_proto::h3::Cell;
use consent_proto::limits::{
    MAX_INTERVAL_S, MAX_UTC_OFFSET_MINUTES, MIN_INTERVAL_S, MIN_UTC_OFFSET_MINUTES,
    UTC_OFFSET_STEP_MINUTES,
};
use consent_proto::scope::{EVERY_DAY, TimeWindow};

/// An H3 cell written in hex (`8b1f…`, H3's own text form; `0x` allowed).
pub fn parse_cell(text: &str) -> Result<Cell, String> {
    let t = text.trim();
    let digits = t.strip_prefix("0x").unwrap_or(t);
    u64::from_str_radix(digits, 16)
        .ok()
        .and_then(Cell::new)
        .ok_or_else(|| format!("{t:?} is not an H3 cell index (hex, like 8b1fa3c5a9d3fff)"))
}

/// Day names, Monday first (bit 0 of `TimeWindow.days`).
const DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Days of the week as `TimeWindow.days` bits (bit 0 Monday … bit 6 Sunday): names (`mon`,
/// `monday`), ranges (`mon-fri`, `fri-mon` wraps), lists (`sat,sun`, `mon,wed-fri`), `all`,
/// `weekdays`, `weekend`.
pub fn parse_days(text: &str) -> Result<u8, String> {
    let t = text.trim().to_ascii_lowercase();
    match t.as_str() {
        "all" | "daily" | "every day" => return Ok(EVERY_DAY),
        "weekdays" => return Ok(0x1f),
        "weekend" => return Ok(0x60),
        _ => {}
    }
    let day = |name: &str| -> Result<u8, String> {
        let name = name.trim();
        DAY_NAMES
            .iter()
            .position(|d| name.len() >= 3 && d.starts_with(name))
            .map(|i| i as u8)
            .ok_or_else(|| {
                format!(
                    "unknown day {name:?} in {text:?}: use mon, tue, wed, thu, fri, sat, sun, \
                     ranges like mon-fri, lists like sat,sun, or all"
                )
            })
    };
    let mut days = 0u8;
    for part in t.split(',') {
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (day(from)?, day(to)?);
                let mut d = from;
                loop {
                    days |= 1 << d;
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days |= 1 << day(part)?,
        }
    }
    Ok(days)
}

/// `HH:MM-HH:MM` as (start, end) minutes of the day. The end may be `24:00` (or `00:00`) for
/// midnight; an end before the start (`22:00-06:00`) runs past midnight: see [`split_window`].
pub fn parse_hours(text: &str) -> Result<(u16, u16), String> {
    let bad = || format!("hours {text:?}: write HH:MM-HH:MM, e.g. 07:00-19:00 (24:00 is midnight)");
    let (from, to) = text.trim().split_once('-').ok_or_else(bad)?;
    let minute = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    let (start, end) = (minute(from).ok_or_else(bad)?, minute(to).ok_or_else(bad)?);
    if start == 1440 {
        return Err(format!("hours {text:?}: a window cannot start at 24:00"));
    }
    let end = if end == 0 { 1440 } else { end };
    if start == end {
        return Err(format!("hours {text:?}: the window is empty"));
    }
    Ok((start, end))
}

/// The windows for `days` and `hours` (absent: the whole day). A window past midnight
/// (`22:00-06:00`) becomes two: `days` 22:00-24:00, and the following days 00:00-06:00.
pub fn split_window(days: u8, hours: Option<(u16, u16)>) -> Vec<TimeWindow> {
    let days = days & EVERY_DAY;
    match hours {
        None => vec![TimeWindow {
            days,
            start_minute: 0,
            end_minute: 1440,
        }],
        Some((start, end)) if start < end => vec![TimeWindow {
            days,
            start_minute: start,
            end_minute: end,
        }],
        Some((start, end)) => {
            let next = ((days << 1) | (days >> 6)) & EVERY_DAY;
            let mut out = vec![TimeWindow {
                days,
                start_minute: start,
                end_minute: 1440,
            }];
            if end > 0 {
                out.push(TimeWindow {
                    days: next,
                    start_minute: 0,
                    end_minute: end,
                });
            }
            out
        }
    }
}

/// A bin length (`"15m"`, `"1h"`, `"1d"`, `"90s"`, or seconds) in seconds: 60..=86,400 and a
/// divisor of a day, so bins align to local midnight.
pub fn parse_interval(text: &str) -> Result<u32, String> {
    let t = text.trim().to_ascii_lowercase();
    let (number, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t.as_str(), "s"),
    };
    let n: u32 = number
        .parse()
        .map_err(|_| format!("interval {text:?}: write a duration like 15m, 1h or 1d"))?;
    let unit = match unit.trim() {
        "s" | "sec" => 1,
        "m" | "min" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("interval {text:?}: units are s, m, h, d")),
    };
    check_interval(n.saturating_mul(unit))
}

pub(super) fn check_interval(seconds: u32) -> Result<u32, String> {
    if !(MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(&seconds)
        || !MAX_INTERVAL_S.is_multiple_of(seconds)
    {
        return Err(format!(
            "interval of {seconds} s: it must be 1 minute to 1 day and divide a day (15m, 1h, \
             6h, 1d ...)"
        ));
    }
    Ok(seconds)
}

/// A fixed offset from UTC (`"+01:00"`, `"-05:30"`, `"UTC"`) in minutes: -12:00..=+14:00, a
/// multiple of 15 minutes. It applies all year (no daylight saving time).
pub fn parse_utc_offset(text: &str) -> Result<i16, String> {
    let t = text.trim();
    let bad = || {
        format!("utc offset {text:?}: write +HH:MM or -HH:MM (e.g. \"+01:00\" for CET), or \"UTC\"")
    };
    if t.eq_ignore_ascii_case("utc") || t == "Z" {
        return Ok(0);
    }
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1i16, &t[1..]),
        Some(b'-') => (-1i16, &t[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let (h, m): (i16, i16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..60).contains(&m) || !(0..=14).contains(&h) {
        return Err(bad());
    }
    let minutes = sign * (h * 60 + m);
    if !(MIN_UTC_OFFSET_MINUTES..=MAX_UTC_OFFSET_MINUTES).contains(&i32::from(minutes))
        || i32::from(minutes) % UTC_OFFSET_STEP_MINUTES != 0
    {
        return Err(format!(
            "utc offset {text:?}: it must lie in -12:00..=+14:00 and be a multiple of 15 minutes"
        ));
    }
    Ok(minutes)
}

pub use consent_proto::scope::words::utc_offset_text;
