//! The calls counted per minute as they arrive: every rate metric overall and per segment, the
//! transport failures and latencies, and the input terms, so that evidence over hours costs
//! minutes × segments rather than a pass over every call.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use foldhash::HashMap;

use super::latency_sketch::LatencySketch;
use super::metrics::{MetricId, rate_outcomes};
use super::observation::{Dimension, Observation, Symbol};
use super::segments::Breakdown;
use super::stats::Proportion;
use crate::model::CallStatus;

/// One count per rate metric, in the order of [`MetricId::RATES`].
pub type Counters = [Proportion; MetricId::RATES.len()];

fn count(counters: &mut Counters, outcomes: &[Option<bool>; MetricId::RATES.len()]) {
    for (counter, outcome) in counters.iter_mut().zip(outcomes) {
        if let Some(bad) = outcome {
            counter.add(*bad);
        }
    }
}

/// One segment's calls in a minute, and its count for each rate metric.
#[derive(Debug, Clone, Default)]
struct Cell {
    calls: u64,
    rates: Counters,
}

/// Whether the provider answered, and how fast: over a minute or merged over many.
#[derive(Debug, Clone, Default)]
pub struct Transport {
    /// Calls that did not succeed, among all calls.
    pub failed: Proportion,
    /// Latencies of the calls that succeeded.
    pub latency: LatencySketch,
}

impl Transport {
    fn merge(&mut self, other: &Transport) {
        self.failed.merge(other.failed);
        self.latency.merge(&other.latency);
    }
}

/// One minute of calls.
#[derive(Debug, Clone, Default)]
struct Minute {
    total: Counters,
    transport: Transport,
    cells: HashMap<(Dimension, Symbol), Cell>,
    /// How many calls' inputs held each content term.
    terms: HashMap<Symbol, u64>,
    /// Schema violations by (schema, reason).
    violations: HashMap<(Symbol, Symbol), u64>,
    /// One call counted in how many, at most, this minute (the engine samples heavy traffic).
    stride: u32,
}

#[derive(Debug, Clone, Default)]
pub struct MinuteCounts {
    minutes: BTreeMap<i64, Minute>,
}

fn minute_of(ts: DateTime<Utc>) -> i64 {
    ts.timestamp().div_euclid(60)
}

/// Drops the minutes before `first_kept` from a map by minute number, except those of `keep`.
/// Runs on every call, so it costs a lookup when there is nothing to drop.
pub fn forget_minutes<T>(minutes: &mut BTreeMap<i64, T>, first_kept: i64, keep: Option<Span>) {
    let (keep_first, keep_end) = keep.map_or((first_kept, first_kept), |s| (s.first, s.end));
    while let Some(oldest) = minutes.first_entry()
        && *oldest.key() < first_kept.min(keep_first)
    {
        oldest.remove();
    }
    let after_keep = keep_end.max(keep_first)..first_kept;
    if !after_keep.is_empty() {
        let dropped: Vec<i64> = minutes.range(after_keep).map(|(m, _)| *m).collect();
        for minute in dropped {
            minutes.remove(&minute);
        }
    }
}

/// A run of whole minutes, `first..end` by minute number: evidence is counted per minute, so
/// every window says which partial minutes at its ends it takes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    first: i64,
    end: i64,
}

impl Span {
    /// From the minute holding `from` to the last minute that ends by `to`: a baseline that ends
    /// at `to` takes in no call after it.
    pub fn ending_by(from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        Self::new(minute_of(from), minute_of(to))
    }

    /// From the minute holding `from` through the one holding `to`, the current one included.
    pub fn through(from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        Self::new(minute_of(from), minute_of(to) + 1)
    }

    /// Only the minutes wholly inside `from..to`: what is counted minute by minute.
    pub fn within(from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        let partial = from.timestamp().rem_euclid(60) != 0 || from.timestamp_subsec_nanos() != 0;
        Self::new(minute_of(from) + i64::from(partial), minute_of(to))
    }

    fn new(first: i64, end: i64) -> Self {
        Self {
            first,
            end: end.max(first),
        }
    }
}

impl MinuteCounts {
    /// Counts a call; `terms` are the distinct content terms of its input.
    pub fn add(&mut self, observation: &Observation, terms: &[Symbol]) {
        let outcomes = rate_outcomes(observation);
        let minute = self.minutes.entry(minute_of(observation.ts)).or_default();
        minute.stride = minute.stride.max(observation.weight);
        count(&mut minute.total, &outcomes);
        let ok = observation.status == CallStatus::Ok;
        minute.transport.failed.add(!ok);
        if ok {
            minute.transport.latency.add(observation.latency_ms);
        }
        for key in observation.dimensions() {
            let cell = minute.cells.entry(key).or_default();
            cell.calls += 1;
            count(&mut cell.rates, &outcomes);
        }
        for term in terms {
            *minute.terms.entry(*term).or_default() += 1;
        }
        if let Some(violation) = observation.violation {
            *minute.violations.entry(violation).or_default() += 1;
        }
    }

    /// Drops the minutes that end before `ts`, except those of `keep`: a frozen baseline's, which
    /// an incident is judged against however long it lasts.
    pub fn forget_before(&mut self, ts: DateTime<Utc>, keep: Option<Span>) {
        forget_minutes(&mut self.minutes, minute_of(ts), keep);
    }

    fn minutes(&self, span: Span) -> impl Iterator<Item = &Minute> {
        self.minutes
            .range(span.first..span.end)
            .map(|(_, minute)| minute)
    }

    /// A rate metric over the span, on one segment's calls or on
    /// all of them; empty for a metric that is not a rate.
    pub fn rate(
        &self,
        metric: MetricId,
        segment: Option<(Dimension, Symbol)>,
        span: Span,
    ) -> Proportion {
        let Some(index) = metric.rate_index() else {
            return Proportion::default();
        };
        let mut total = Proportion::default();
        for minute in self.minutes(span) {
            let counters = match segment {
                None => Some(&minute.total),
                Some(key) => minute.cells.get(&key).map(|cell| &cell.rates),
            };
            if let Some(counters) = counters {
                total.merge(counters[index]);
            }
        }
        total
    }

    /// Every rate metric over the span for each value of one dimension, in the order of
    /// [`MetricId::RATES`]: one pass over the minutes for all of them.
    pub fn rates_by_value(&self, dimension: Dimension, span: Span) -> Vec<(Symbol, Counters)> {
        let mut by_value: Vec<(Symbol, Counters)> = Vec::new();
        for minute in self.minutes(span) {
            for ((d, value), cell) in &minute.cells {
                if *d != dimension {
                    continue;
                }
                let counters = match by_value.iter_mut().find(|(v, _)| v == value) {
                    Some((_, counters)) => counters,
                    None => {
                        by_value.push((*value, Counters::default()));
                        &mut by_value.last_mut().expect("just pushed").1
                    }
                };
                for (total, count) in counters.iter_mut().zip(&cell.rates) {
                    total.merge(*count);
                }
            }
        }
        by_value
    }

    /// Failures and latencies over the span.
    pub fn transport(&self, span: Span) -> Transport {
        let mut total = Transport::default();
        for minute in self.minutes(span) {
            total.merge(&minute.transport);
        }
        total
    }

    /// Each minute of the span that had calls: its start, its rate counts in the order of
    /// [`MetricId::RATES`], its transport, and one call counted in how many.
    pub fn each_minute(
        &self,
        span: Span,
    ) -> impl Iterator<Item = (DateTime<Utc>, &[Proportion], &Transport, u32)> {
        self.minutes
            .range(span.first..span.end)
            .filter_map(|(minute, counts)| {
                let start = DateTime::from_timestamp(minute * 60, 0)?;
                Some((
                    start,
                    counts.total.as_slice(),
                    &counts.transport,
                    counts.stride.max(1),
                ))
            })
    }

    /// The calls of each segment over the span.
    pub fn segment_calls(&self, span: Span) -> HashMap<(Dimension, Symbol), u64> {
        let mut calls: HashMap<(Dimension, Symbol), u64> = HashMap::default();
        for (key, cell) in self.minutes(span).flat_map(|m| &m.cells) {
            *calls.entry(*key).or_default() += cell.calls;
        }
        calls
    }

    /// How many calls held each input term, over the span.
    pub fn terms(&self, span: Span) -> HashMap<Symbol, u64> {
        let mut terms: HashMap<Symbol, u64> = HashMap::default();
        for (term, count) in self.minutes(span).flat_map(|m| &m.terms) {
            *terms.entry(*term).or_default() += count;
        }
        terms
    }

    /// Schema violations by (schema, reason) over the span, the
    /// most frequent first.
    pub fn violations(&self, span: Span) -> Vec<((Symbol, Symbol), u64)> {
        let mut counts: HashMap<(Symbol, Symbol), u64> = HashMap::default();
        for (key, count) in self.minutes(span).flat_map(|m| &m.violations) {
            *counts.entry(*key).or_default() += count;
        }
        let mut counts: Vec<((Symbol, Symbol), u64)> = counts.into_iter().collect();
        counts.sort_by_key(|(key, count)| (std::cmp::Reverse(*count), *key));
        counts
    }

    /// A rate metric's split by segment over the span; `None` for
    /// a metric that is not a rate.
    pub fn breakdown(&self, metric: MetricId, span: Span, baseline_rate: f64) -> Option<Breakdown> {
        let index = metric.rate_index()?;
        let mut total = Proportion::default();
        let mut cells: HashMap<(Dimension, Symbol), Proportion> = HashMap::default();
        for minute in self.minutes(span) {
            total.merge(minute.total[index]);
            for (key, cell) in &minute.cells {
                if cell.rates[index].n > 0 {
                    cells.entry(*key).or_default().merge(cell.rates[index]);
                }
            }
        }
        Some(Breakdown::from_cells(metric, total, cells, baseline_rate))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::engine::observation::Interner;
    use crate::model::Call;

    fn observation(interner: &mut Interner, second: i64, version: &str, bad: bool) -> Observation {
        let ts =
            "2026-03-14T14:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::seconds(second);
        let call: Call = serde_json::from_value(serde_json::json!({
            "ts": ts, "feature": "support-answer", "model_requested": "gpt-4o",
            "status": if second % 10 == 0 { "timeout" } else { "ok" },
            "latency_ms": 1000 + second, "prompt_version": version,
            "evals": {"hallucination": bad}
        }))
        .unwrap();
        Observation::from_call(
            &call,
            &Default::default(),
            interner,
            &mut Default::default(),
        )
    }

    #[test]
    fn rates_transport_and_minutes_agree_with_the_calls() {
        let mut interner = Interner::default();
        let mut counts = MinuteCounts::default();
        // Three minutes, a call every 2 s: v7 for the first 90 s, then v8 bad one call in two.
        for i in 0..90 {
            let second = 2 * i;
            let (version, bad) = if second < 90 {
                ("v7", false)
            } else {
                ("v8", i % 2 == 0)
            };
            counts.add(&observation(&mut interner, second, version, bad), &[]);
        }
        let start = "2026-03-14T14:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let end = start + Duration::minutes(3);
        let v8 = Some((Dimension::PromptVersion, interner.lookup("v8").unwrap()));
        let span = Span::through(start, end);
        let on_v8 = counts.rate(MetricId::Hallucination, v8, span);
        let all = counts.rate(MetricId::Hallucination, None, span);
        // Timeouts carry no hallucination label: 18 of the 90 calls.
        assert_eq!((all.n, all.bad), (72, on_v8.bad));
        assert!(on_v8.n < all.n && on_v8.bad > 0);
        assert_eq!(
            counts.rate(MetricId::LatencyP95, None, span),
            Proportion::default()
        );

        let transport = counts.transport(span);
        assert_eq!((transport.failed.n, transport.failed.bad), (90, 18));
        assert_eq!(transport.latency.count(), 72);
        // Only whole minutes are counted minute by minute: not the one the span starts in at
        // 14:00:30, nor the one still running at 14:02:59.
        let within = Span::within(start + Duration::seconds(30), end - Duration::seconds(1));
        let by_minute = counts.each_minute(within).map(|(_, _, t, _)| t.failed.n);
        assert_eq!(by_minute.collect::<Vec<_>>(), [30]);
        // A baseline ending at 14:01:30 takes in the first minute only.
        let baseline = Span::ending_by(start, start + Duration::seconds(90));
        assert_eq!(counts.transport(baseline).failed.n, 30);

        // The first minute is a frozen baseline's: it stays when the second goes.
        let baseline = Span::ending_by(start, start + Duration::minutes(1));
        counts.forget_before(start + Duration::minutes(2), Some(baseline));
        assert_eq!(counts.transport(span).failed.n, 60);
        assert_eq!(
            counts
                .transport(Span::through(start + Duration::minutes(1), end))
                .failed
                .n,
            30
        );
        counts.forget_before(start + Duration::minutes(2), None);
        assert_eq!(counts.transport(span).failed.n, 30);
    }
}
