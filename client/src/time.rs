//! Dates on the command line and in output: `2027-01-31` (midnight UTC), RFC 3339
//! (`2027-01-31T12:00:00Z`), or a duration from now (`30d`, `6months`, `1y`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
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
