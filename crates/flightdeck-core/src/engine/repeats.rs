//! Calls seen before: an exporter that retries a batch, or a file appended twice, sends the same
//! call again, and counting it twice would move every rate. A call whose `request_id` arrived
//! within the last [`window`] is a repeat; calls without one cannot be told apart and all count.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

/// How long a request id is remembered: retries and re-sent batches arrive within minutes.
pub fn window() -> Duration {
    Duration::minutes(15)
}

/// At most this many ids are remembered, so a flood of unique ids costs bounded memory; past it
/// the oldest are forgotten first (about 10 MB at 64-byte ids).
pub const MAX_REMEMBERED: usize = 100_000;

#[derive(Debug, Clone, Default)]
pub struct RepeatedCalls {
    remembered: HashSet<Arc<str>>,
    /// The ids in the order they arrived, with the time of their call.
    order: VecDeque<(DateTime<Utc>, Arc<str>)>,
    latest: Option<DateTime<Utc>>,
    repeats: u64,
}

impl RepeatedCalls {
    /// Whether a call with this id at `ts` was already taken in; remembers it if not.
    pub fn is_repeat(&mut self, request_id: Option<&str>, ts: DateTime<Utc>) -> bool {
        let Some(id) = request_id else {
            return false;
        };
        let latest = self.latest.map_or(ts, |t| t.max(ts));
        self.latest = Some(latest);
        let horizon = latest - window();
        while self
            .order
            .front()
            .is_some_and(|(at, _)| *at < horizon || self.order.len() >= MAX_REMEMBERED)
        {
            if let Some((_, old)) = self.order.pop_front() {
                self.remembered.remove(&old);
            }
        }
        if self.remembered.contains(id) {
            self.repeats += 1;
            return true;
        }
        let id: Arc<str> = Arc::from(id);
        self.remembered.insert(Arc::clone(&id));
        self.order.push_back((ts, id));
        false
    }

    /// How many calls were repeats, all told.
    pub fn repeats(&self) -> u64 {
        self.repeats
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 14, 14, 0, 0).unwrap() + Duration::minutes(minute)
    }

    #[test]
    fn an_id_seen_within_the_window_is_a_repeat_and_counted() {
        let mut repeats = RepeatedCalls::default();
        assert!(!repeats.is_repeat(Some("req-1"), at(0)));
        assert!(!repeats.is_repeat(Some("req-2"), at(1)));
        assert!(repeats.is_repeat(Some("req-1"), at(2)));
        assert!(repeats.is_repeat(Some("req-1"), at(3)));
        assert_eq!(repeats.repeats(), 2);
    }

    #[test]
    fn calls_without_an_id_all_count() {
        let mut repeats = RepeatedCalls::default();
        assert!(!repeats.is_repeat(None, at(0)));
        assert!(!repeats.is_repeat(None, at(0)));
        assert_eq!(repeats.repeats(), 0);
    }

    #[test]
    fn an_id_older_than_the_window_is_forgotten() {
        let mut repeats = RepeatedCalls::default();
        assert!(!repeats.is_repeat(Some("req-1"), at(0)));
        assert!(!repeats.is_repeat(Some("req-2"), at(16)));
        assert!(!repeats.is_repeat(Some("req-1"), at(17)));
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_unique_ids() {
        let mut repeats = RepeatedCalls::default();
        for n in 0..MAX_REMEMBERED + 10 {
            repeats.is_repeat(Some(&format!("req-{n}")), at(0));
        }
        assert_eq!(repeats.order.len(), MAX_REMEMBERED);
        assert_eq!(repeats.remembered.len(), repeats.order.len());
        assert!(
            !repeats.is_repeat(Some("req-0"), at(0)),
            "the oldest went first"
        );
    }
}
