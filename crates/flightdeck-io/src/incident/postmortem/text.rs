//! How the postmortem writes times, durations, shares and counts, the same in every format.

use chrono::{DateTime, Utc};

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
