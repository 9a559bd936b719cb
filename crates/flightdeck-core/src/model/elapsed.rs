//! How long something took, as people say it: one wording for the postmortem and the drill
//! scorecard.

use chrono::Duration;

/// A duration as people say it: `45 s`, `3 min 35 s`, `2 h 5 min`, `1 d 3 h`.
pub fn spoken(span: Duration) -> String {
    let total = span.num_seconds();
    let sign = if total < 0 { "-" } else { "" };
    let s = total.abs();
    let (days, hours, minutes, seconds) = (s / 86_400, s / 3_600 % 24, s / 60 % 60, s % 60);
    let text = if days > 0 {
        join(days, "d", hours, "h")
    } else if hours > 0 {
        join(hours, "h", minutes, "min")
    } else if minutes > 0 {
        join(minutes, "min", seconds, "s")
    } else {
        format!("{seconds} s")
    };
    format!("{sign}{text}")
}

fn join(big: i64, big_unit: &str, small: i64, small_unit: &str) -> String {
    if small == 0 {
        format!("{big} {big_unit}")
    } else {
        format!("{big} {big_unit} {small} {small_unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(spoken(Duration::seconds(215)), "3 min 35 s");
        assert_eq!(spoken(Duration::seconds(45)), "45 s");
        assert_eq!(spoken(Duration::seconds(7_500)), "2 h 5 min");
        assert_eq!(spoken(Duration::seconds(3_600)), "1 h");
        assert_eq!(spoken(Duration::seconds(97_200)), "1 d 3 h");
        assert_eq!(spoken(Duration::seconds(-90)), "-1 min 30 s");
    }
}
