//! Dates on the command line and in output: `2027-01-31` (midnight UTC), RFC 3339
//! (`2027-01-31T12:00:00Z`), or a duration from now (`30d`, `6months`, `1y`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    let real = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    real.saturating_add_signed(test_shift_ms())
}

/// Name of the variable that shifts [`now_ms`] in debug builds: the CLI's tests move the CLI's
/// clock with it, as they move their node's manual clock, instead of waiting for time to pass (a
/// 14-day consultation window). Release builds ignore it.
pub const TEST_CLOCK_SHIFT_VAR: &str = "CONSENT_TEST_CLOCK_SHIFT_MS";

/// The shift, ms (debug builds only; 0 when unset or unreadable).
#[cfg(debug_assertions)]
fn test_shift_ms() -> i64 {
    static SHIFT: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *SHIFT.get_or_init(|| {
        std::env::var(TEST_CLOCK_SHIFT_VAR)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    })
}

/// Release builds read the system clock as it is.
#[cfg(not(debug_assertions))]
fn test_shift_ms() -> i64 {
    0
}

/// Parses a date argument.
pub fn parse(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if let Ok(d) = humantime::parse_duration(t) {
        return Ok(now_ms().saturating_add(d.as_millis() as u64));
    }
    let full = if t.len() == 10 {
        format!("{t}T00:00:00Z")
    } else {
        t.to_string()
    };
    humantime::parse_rfc3339_weak(&full)
        .map_err(|_| format!("{text:?} is not a date; use 2027-01-31, 2027-01-31T12:00:00Z or a duration like 30d"))
        .and_then(|st| st.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).map_err(|e| e.to_string()))
}

/// Formats Unix ms as RFC 3339 (UTC, seconds).
pub fn format(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse() {
        assert_eq!(
            parse("2027-01-31").map(format),
            Ok("2027-01-31T00:00:00Z".to_string())
        );
        assert_eq!(
            parse("2027-01-31T12:00:00Z").map(format),
            Ok("2027-01-31T12:00:00Z".to_string())
        );
        let in_30_days = parse("30d").expect("duration");
        assert!(in_30_days > now_ms() + 29 * 86_400_000);
        assert!(
            parse("next tuesday")
                .expect_err("nonsense")
                .contains("not a date")
        );
    }
}
