//! How the postmortem writes times, durations, shares and counts, the same in every format.

use chrono::{DateTime, Duration, Utc};

/// A moment with its date and zone: `2026-03-14 14:14:25 UTC`.
pub fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Hours and minutes only, for sentences that name the date once.
pub fn hm(at: DateTime<Utc>) -> String {
    at.format("%H:%M").to_string()
}

/// `between 14:14 and 14:27 UTC on 2026-03-14`, or with both dates when the span crosses midnight.
pub fn between(start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    if start.date_naive() == end.date_naive() {
        format!(
            "between {} and {} UTC on {}",
            hm(start),
            hm(end),
            start.format("%Y-%m-%d")
        )
    } else {
        format!(
            "between {} and {}",
            start.format("%Y-%m-%d %H:%M UTC"),
            end.format("%Y-%m-%d %H:%M UTC")
        )
    }
}

/// A duration as people say it: `45 s`, `3 min 35 s`, `2 h 5 min`, `1 d 3 h`.
pub fn duration(span: Duration) -> String {
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

/// A share as a percentage with one decimal: 0.2188 reads `21.9%`.
pub fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// A count with thousands separated: `1,424`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Milliseconds, rounded and with separators: `1,910 ms`.
pub fn millis(value: f64) -> String {
    format!("{} ms", count(value.max(0.0).round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(Duration::seconds(215)), "3 min 35 s");
        assert_eq!(duration(Duration::seconds(45)), "45 s");
        assert_eq!(duration(Duration::seconds(7_500)), "2 h 5 min");
        assert_eq!(duration(Duration::seconds(3_600)), "1 h");
        assert_eq!(duration(Duration::seconds(97_200)), "1 d 3 h");
        assert_eq!(duration(Duration::seconds(-90)), "-1 min 30 s");
    }

    #[test]
    fn counts_and_shares_read_plainly() {
        assert_eq!(count(1_424), "1,424");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(percent(0.2188), "21.9%");
        assert_eq!(millis(1_910.4), "1,910 ms");
    }

    #[test]
    fn a_span_names_its_date_once_or_both_across_midnight() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            between(at("2026-03-14T14:14:25Z"), at("2026-03-14T14:27:00Z")),
            "between 14:14 and 14:27 UTC on 2026-03-14"
        );
        assert_eq!(
            between(at("2026-03-14T23:50:00Z"), at("2026-03-15T00:10:00Z")),
            "between 2026-03-14 23:50 UTC and 2026-03-15 00:10 UTC"
        );
    }
}
