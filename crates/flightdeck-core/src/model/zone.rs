//! The time zone times are shown and typed in: UTC by default, the local zone on a key. Records
//! always store UTC; the zone only changes how a time reads.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone {
    offset: FixedOffset,
    local: bool,
}

impl Zone {
    pub fn utc() -> Self {
        Self {
            offset: FixedOffset::east_opt(0).expect("a zero offset is valid"),
            local: false,
        }
    }

    /// The local zone at its current offset, which the edge reads from the system.
    pub fn local(offset: FixedOffset) -> Self {
        Self {
            offset,
            local: true,
        }
    }

    pub fn is_local(&self) -> bool {
        self.local
    }

    /// How the zone is written after a time: `UTC`, or the local offset, e.g. `UTC+01:00`.
    pub fn name(&self) -> String {
        if self.local {
            format!("UTC{}", self.offset)
        } else {
            "UTC".to_string()
        }
    }

    /// A time in this zone with a chrono format, e.g. `%H:%M`.
    pub fn format(&self, ts: DateTime<Utc>, format: &str) -> String {
        ts.with_timezone(&self.offset).format(format).to_string()
    }

    /// The full date, time and zone: `2026-03-14 14:17:00 UTC`.
    pub fn stamp(&self, ts: DateTime<Utc>) -> String {
        format!("{} {}", self.format(ts, "%Y-%m-%d %H:%M:%S"), self.name())
    }

    /// What an editor is prefilled with: the stamp without the zone, which the dialog names.
    pub fn editable(&self, ts: DateTime<Utc>) -> String {
        self.format(ts, "%Y-%m-%d %H:%M:%S")
    }

    /// Reads a time typed in this zone: `YYYY-MM-DD HH:MM[:SS]`, or `HH:MM[:SS]` on the day that
    /// puts it nearest `reference` (23:55 typed just after midnight is yesterday's), or RFC 3339
    /// with its own offset.
    pub fn parse(&self, text: &str, reference: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
        let text = text.trim();
        if let Ok(ts) = DateTime::parse_from_rfc3339(text) {
            return Ok(ts.with_timezone(&Utc));
        }
        let local_reference = reference.with_timezone(&self.offset).naive_local();
        let naive = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
            .or_else(|| {
                let time = ["%H:%M:%S", "%H:%M"]
                    .iter()
                    .find_map(|f| NaiveTime::parse_from_str(text, f).ok())?;
                let date: NaiveDate = local_reference.date();
                [date.pred_opt(), Some(date), date.succ_opt()]
                    .into_iter()
                    .flatten()
                    .map(|day| day.and_time(time))
                    .min_by_key(|candidate| (*candidate - local_reference).abs())
            })
            .ok_or_else(|| {
                format!(
                    "{text:?} is not a time: write YYYY-MM-DD HH:MM:SS or HH:MM ({})",
                    self.name()
                )
            })?;
        self.offset
            .from_local_datetime(&naive)
            .single()
            .map(|ts| ts.with_timezone(&Utc))
            .ok_or_else(|| format!("{text:?} does not exist in {}", self.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn times_read_and_show_in_the_chosen_zone() {
        let reference = at("2026-03-14T14:17:00Z");
        let utc = Zone::utc();
        assert_eq!(utc.stamp(reference), "2026-03-14 14:17:00 UTC");
        assert_eq!(
            utc.parse("14:05", reference),
            Ok(at("2026-03-14T14:05:00Z"))
        );
        assert_eq!(
            utc.parse("2026-03-13 23:59:30", reference),
            Ok(at("2026-03-13T23:59:30Z"))
        );
        let paris = Zone::local(FixedOffset::east_opt(3600).unwrap());
        assert_eq!(paris.stamp(reference), "2026-03-14 15:17:00 UTC+01:00");
        assert_eq!(
            paris.parse("15:05", reference),
            Ok(at("2026-03-14T14:05:00Z"))
        );
        assert_eq!(
            paris.parse("2026-03-14T14:05:00Z", reference),
            Ok(at("2026-03-14T14:05:00Z"))
        );
        let error = utc.parse("quarter past two", reference).unwrap_err();
        assert!(error.contains("YYYY-MM-DD HH:MM:SS"), "{error}");
    }

    #[test]
    fn a_time_of_day_lands_on_the_day_nearest_its_reference() {
        let zone = Zone::utc();
        let late = at("2026-03-14T23:50:00Z");
        assert_eq!(zone.parse("00:10", late), Ok(at("2026-03-15T00:10:00Z")));
        let early = at("2026-03-15T00:05:00Z");
        assert_eq!(zone.parse("23:55", early), Ok(at("2026-03-14T23:55:00Z")));
    }

    #[test]
    fn a_time_of_day_takes_the_reference_date_in_the_zone_not_in_utc() {
        // 23:30 UTC is already the next day in UTC+02:00.
        let reference = at("2026-03-14T23:30:00Z");
        let zone = Zone::local(FixedOffset::east_opt(7200).unwrap());
        assert_eq!(
            zone.parse("01:00", reference),
            Ok(at("2026-03-14T23:00:00Z"))
        );
    }
}
