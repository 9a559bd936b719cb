//! When the cockpit evaluates the engine: on the stream's own clock, at every half minute the
//! data and the source's clock cross. Evaluations change the engine's state (the episode's first
//! alarm, the frozen baseline, the lead), so tying them to the data rather than to how it was
//! delivered makes a file's history read in one batch, a replay at any speed and live batches
//! give the same onset, verdicts and evidence.

use chrono::{DateTime, Duration, DurationRound, Utc};

/// The stream time between two evaluations.
pub fn evaluation_step() -> Duration {
    Duration::seconds(30)
}

/// Past this long without data only the clock moves: a longer silence (an old file watched
/// today) is evaluated at its end, not at every half minute of it.
fn silence_evaluated() -> Duration {
    Duration::hours(1)
}

#[derive(Debug, Clone, Default)]
pub struct Cadence {
    /// The next evaluation, once the stream has started.
    next: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    /// The newest record taken in.
    newest: Option<DateTime<Utc>>,
    /// A record arrived dated at or before the last evaluation.
    late: bool,
}

impl Cadence {
    /// Starts the grid at the first half minute after the stream's first time.
    pub fn start(&mut self, first: DateTime<Utc>) {
        if self.next.is_none() {
            self.next = Some(floor(first) + evaluation_step());
        }
    }

    /// When the next evaluation falls, once the stream has started.
    pub fn next(&self) -> Option<DateTime<Utc>> {
        self.next
    }

    /// Notes a record taken in.
    pub fn took(&mut self, ts: DateTime<Utc>) {
        self.newest = Some(self.newest.map_or(ts, |n| n.max(ts)));
        self.late |= self.last.is_some_and(|last| ts <= last);
    }

    /// The next evaluation due before a record dated `ts` is taken in.
    pub fn due_before(&mut self, ts: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let next = self.next?;
        (next < ts).then(|| self.advance(next, floor(ts - Duration::nanoseconds(1))))
    }

    /// The next evaluation due by `now`, the source's clock; with none, the last one again when
    /// records dated at or before it came in since (live data that lags the clock, a change).
    pub fn due_by(&mut self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.next {
            Some(next) if next <= now => Some(self.advance(next, floor(now))),
            _ if std::mem::take(&mut self.late) => self.last,
            _ => None,
        }
    }

    /// Takes the evaluation at `next`, or at `latest` when `next` lies deep in a silence.
    fn advance(&mut self, next: DateTime<Utc>, latest: DateTime<Utc>) -> DateTime<Utc> {
        let silent = self
            .newest
            .is_some_and(|newest| next > newest + silence_evaluated());
        let at = if silent { latest.max(next) } else { next };
        self.next = Some(at + evaluation_step());
        self.last = Some(at);
        self.late = false;
        at
    }
}

/// The half minute at or before `ts`.
fn floor(ts: DateTime<Utc>) -> DateTime<Utc> {
    ts.duration_trunc(evaluation_step())
        .expect("a half minute truncates any time in range")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        format!("2026-03-14T{text}Z").parse().unwrap()
    }

    /// Every evaluation a stream of record times and clock readings asks for.
    fn evaluations(records: &[(&str, bool)]) -> Vec<String> {
        let mut cadence = Cadence::default();
        let mut seen = Vec::new();
        for (time, is_clock) in records {
            let ts = at(time);
            cadence.start(ts);
            if *is_clock {
                while let Some(e) = cadence.due_by(ts) {
                    seen.push(e.format("%H:%M:%S").to_string());
                }
            } else {
                while let Some(e) = cadence.due_before(ts) {
                    seen.push(e.format("%H:%M:%S").to_string());
                }
                cadence.took(ts);
            }
        }
        seen
    }

    #[test]
    fn evaluates_every_half_minute_the_data_crosses_however_it_is_batched() {
        let one_batch = evaluations(&[
            ("14:00:05", false),
            ("14:00:50", false),
            ("14:02:10", false),
            ("14:02:10", true),
        ]);
        let two_batches = evaluations(&[
            ("14:00:05", false),
            ("14:00:50", false),
            ("14:01:10", true),
            ("14:02:10", false),
            ("14:02:10", true),
        ]);
        assert_eq!(one_batch, ["14:00:30", "14:01:00", "14:01:30", "14:02:00"]);
        assert_eq!(one_batch, two_batches);
    }

    #[test]
    fn a_record_at_or_before_the_last_evaluation_has_it_evaluated_again() {
        let seen = evaluations(&[
            ("14:00:05", false),
            ("14:00:30", true),
            ("14:00:20", false),
            ("14:00:30", true),
            ("14:00:30", true),
        ]);
        assert_eq!(seen, ["14:00:30", "14:00:30"]);
    }

    #[test]
    fn a_long_silence_is_evaluated_for_an_hour_then_at_its_end() {
        let seen = evaluations(&[("14:00:05", false), ("20:00:10", true)]);
        assert_eq!(seen.len(), 2 * 60 + 1, "{seen:?}");
        assert_eq!(seen[seen.len() - 2], "15:00:00");
        assert_eq!(seen.last().unwrap(), "20:00:00");
    }
}
