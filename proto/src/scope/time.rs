//! Time windows ([`TimeWindow`]: days of the week and a span of minutes of a fixed local time)
//! and the local weekday and minute of an observation ([`local_time`]). Integers only: no local
//! time zone, no daylight saving time.

use std::fmt;

/// Every day of the week, as [`TimeWindow::days`] bits.
pub const EVERY_DAY: u8 = 0x7f;

/// Minutes in a day: the latest [`TimeWindow::end_minute`].
pub const MINUTES_PER_DAY: u16 = 1_440;

/// Days of the week and a span of minutes of local time. Never wraps past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeWindow {
    /// Bit 0 Monday ... bit 6 Sunday; 1..=127.
    pub days: u8,
    /// First minute inside, 0..=1439.
    pub start_minute: u16,
    /// First minute after, `start_minute + 1..=1440`.
    pub end_minute: u16,
}

impl TimeWindow {
    /// A window, if valid: `days` 1..=127, `start_minute < end_minute <= 1440`.
    pub fn new(days: u8, start_minute: u16, end_minute: u16) -> Option<TimeWindow> {
        let ok = (1..=EVERY_DAY).contains(&days)
            && start_minute < end_minute
            && end_minute <= MINUTES_PER_DAY;
        ok.then_some(TimeWindow {
            days,
            start_minute,
            end_minute,
        })
    }

    /// Whether local `weekday` (Monday 0) and `minute` of the day (0..=1439) are inside.
    pub fn contains(&self, weekday: u8, minute: u16) -> bool {
        weekday < 7
            && (self.days >> weekday) & 1 == 1
            && self.start_minute <= minute
            && minute < self.end_minute
    }

    /// Whether this window lies within `outer`: its days a subset, its minutes inside.
    pub fn within(&self, outer: &TimeWindow) -> bool {
        self.days & !outer.days == 0
            && self.start_minute >= outer.start_minute
            && self.end_minute <= outer.end_minute
    }
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl fmt::Display for TimeWindow {
    /// `mon-fri 07:00-19:00`, `mon,wed 00:00-24:00`, `every day 06:00-24:00`: runs of three or
    /// more days as `first-last`, other days listed, comma-separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.days & EVERY_DAY == EVERY_DAY {
            f.write_str("every day")?;
        } else {
            let mut parts = Vec::new();
            let mut d = 0usize;
            while d < 7 {
                if (self.days >> d) & 1 == 0 {
                    d += 1;
                    continue;
                }
                let start = d;
                while d + 1 < 7 && (self.days >> (d + 1)) & 1 == 1 {
                    d += 1;
                }
                match d - start {
                    0 => parts.push(DAY_NAMES[start].to_string()),
                    1 => {
                        parts.push(DAY_NAMES[start].to_string());
                        parts.push(DAY_NAMES[d].to_string());
                    }
                    _ => parts.push(format!("{}-{}", DAY_NAMES[start], DAY_NAMES[d])),
                }
                d += 1;
            }
            f.write_str(&parts.join(","))?;
        }
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, " {}-{}", hm(self.start_minute), hm(self.end_minute))
    }
}

/// Local weekday (Monday 0 ... Sunday 6) and minute of the day (0..=1439) of `observed_ms` at a
/// fixed `utc_offset_minutes`: integers only, floor division as in the specification.
pub fn local_time(observed_ms: u64, utc_offset_minutes: i16) -> (u8, u16) {
    const DAY_MS: i128 = 86_400_000;
    let local = i128::from(observed_ms) + 60_000 * i128::from(utc_offset_minutes);
    let day = local.div_euclid(DAY_MS);
    let minute = (local - day * DAY_MS) / 60_000;
    // 1970-01-01 was a Thursday (weekday 3).
    let weekday = (day + 3).rem_euclid(7);
    (weekday as u8, minute as u16)
}
