//! Message times in the operator's local time zone.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// `HH:MM` for a time on the same local day as `now_ms`, else
/// `MM-DD HH:MM` (both Unix ms); `??:??` for a time out of range.
pub fn local_time(time_ms: u64, now_ms: u64, tz: &TimeZone) -> String {
    let zoned = |ms: u64| {
        i64::try_from(ms)
            .ok()
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())
            .map(|t| t.to_zoned_datetime(tz.clone()))
    };
    let (Some(t), Some(now)) = (zoned(time_ms), zoned(now_ms)) else {
        return "??:??".to_owned();
    };
    if t.date() == now.date() {
        format!("{:02}:{:02}", t.hour(), t.minute())
    } else {
        format!(
            "{:02}-{:02} {:02}:{:02}",
            t.month(),
            t.day(),
            t.hour(),
            t.minute()
        )
    }
}

/// [`local_time`] in the system's time zone (what the chat shows; `tacnode
/// peers` writes last sightings with it).
pub fn system_local_time(time_ms: u64, now_ms: u64) -> String {
    local_time(time_ms, now_ms, &TimeZone::system())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_day_shows_the_time_other_days_the_date_too() {
        // 2026-03-04 05:06:07 UTC.
        let t = 1_772_600_767_000;
        assert_eq!(local_time(t, t + 60_000, &TimeZone::UTC), "05:06");
        assert_eq!(local_time(t, t + 86_400_000, &TimeZone::UTC), "03-04 05:06");
        let plus_two = TimeZone::fixed(jiff::tz::offset(2));
        assert_eq!(local_time(t, t, &plus_two), "07:06");
        assert_eq!(local_time(u64::MAX, t, &TimeZone::UTC), "??:??");
    }
}
