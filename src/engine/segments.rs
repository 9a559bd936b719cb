//! The blast radius: a metric split by every dimension of the calls, with confidence intervals,
//! ranked by how much of the excess over the baseline each segment carries.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use foldhash::HashMap;

use super::metrics::MetricId;
use super::observation::{Dimension, Interner, Observation, Symbol};
use super::stats::{Proportion, Z95, rate_delta};

/// A segment must be this many standard errors worse than the rest of its dimension to count:
/// with a dozen dimensions in the split, chance differences reach 2σ routinely.
const SIGNIFICANT_Z: f64 = 3.0;

/// One value of one dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub dimension: Dimension,
    pub value: Symbol,
    pub calls: Proportion,
    /// Half-width of the 95% interval on the segment's rate.
    pub half_width: f64,
    /// Bad calls beyond what the baseline rate predicts.
    pub excess: f64,
    /// The segment's share of the metric's total excess (0..1 when the metric is worse).
    pub excess_share: f64,
    /// The segment's share of the calls.
    pub traffic_share: f64,
}

impl Segment {
    pub fn rate(&self) -> f64 {
        self.calls.rate().unwrap_or(0.0)
    }
}

/// A metric's split by segment over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    pub metric: MetricId,
    pub baseline_rate: f64,
    pub total: Proportion,
    pub total_excess: f64,
    /// Segments of dimensions with two values or more, the largest share of excess first.
    pub segments: Vec<Segment>,
}

/// The rate metrics a breakdown splits, in the order of a cell's counters.
const SPLIT: [MetricId; 7] = [
    MetricId::Hallucination,
    MetricId::Refusal,
    MetricId::Schema,
    MetricId::Feedback,
    MetricId::Errors,
    MetricId::Timeouts,
    MetricId::RateLimits,
];

type Counters = [Proportion; SPLIT.len()];

fn count(counters: &mut Counters, outcomes: &[Option<bool>; SPLIT.len()]) {
    for (counter, outcome) in counters.iter_mut().zip(outcomes) {
        if let Some(bad) = outcome {
            counter.add(*bad);
        }
    }
}

/// One segment's calls in a minute, and its count for each split metric.
#[derive(Debug, Clone, Default)]
struct Cell {
    calls: u64,
    rates: Counters,
}

/// One minute of calls counted by segment.
#[derive(Debug, Clone, Default)]
struct Minute {
    total: Counters,
    cells: HashMap<(Dimension, Symbol), Cell>,
    /// How many calls' inputs held each content term.
    terms: HashMap<Symbol, u64>,
}

/// Every rate metric counted per minute and per segment, and the input terms per minute, as the
/// calls arrive, so that evidence over hours costs minutes × segments rather than a pass over
/// every call.
#[derive(Debug, Clone, Default)]
pub struct SegmentCounts {
    minutes: BTreeMap<i64, Minute>,
}

fn minute_of(ts: DateTime<Utc>) -> i64 {
    ts.timestamp().div_euclid(60)
}

impl SegmentCounts {
    pub fn add(&mut self, observation: &Observation) {
        let outcomes = SPLIT.map(|metric| metric.is_bad(observation));
        let minute = self.minutes.entry(minute_of(observation.ts)).or_default();
        count(&mut minute.total, &outcomes);
        for key in observation.dimensions() {
            let cell = minute.cells.entry(key).or_default();
            cell.calls += 1;
            count(&mut cell.rates, &outcomes);
        }
        for term in &observation.terms {
            *minute.terms.entry(*term).or_default() += 1;
        }
    }

    /// Drops the minutes that end before `ts`.
    pub fn forget_before(&mut self, ts: DateTime<Utc>) {
        let first_kept = minute_of(ts);
        while let Some(oldest) = self.minutes.first_entry()
            && *oldest.key() < first_kept
        {
            oldest.remove();
        }
    }

    /// The minutes from the one holding `from` to the one holding `to`, whole.
    fn minutes(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> impl Iterator<Item = &Minute> {
        self.minutes
            .range(minute_of(from)..=minute_of(to))
            .map(|(_, minute)| minute)
    }

    /// The calls of each segment over the whole minutes from `from` to `to`.
    pub fn calls(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> HashMap<(Dimension, Symbol), u64> {
        let mut calls: HashMap<(Dimension, Symbol), u64> = HashMap::default();
        for (key, cell) in self.minutes(from, to).flat_map(|m| &m.cells) {
            *calls.entry(*key).or_default() += cell.calls;
        }
        calls
    }

    /// How many calls held each input term, over the whole minutes from `from` to `to`.
    pub fn terms(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> HashMap<Symbol, u64> {
        let mut terms: HashMap<Symbol, u64> = HashMap::default();
        for (term, count) in self.minutes(from, to).flat_map(|m| &m.terms) {
            *terms.entry(*term).or_default() += count;
        }
        terms
    }

    /// A metric's split over the whole minutes from `from` to `to`; `None` for a metric that is
    /// not a split rate.
    pub fn breakdown(
        &self,
        metric: MetricId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        baseline_rate: f64,
    ) -> Option<Breakdown> {
        let index = SPLIT.iter().position(|m| *m == metric)?;
        let mut total = Proportion::default();
        let mut cells: HashMap<(Dimension, Symbol), Proportion> = HashMap::default();
        for minute in self.minutes(from, to) {
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

impl Breakdown {
    fn from_cells(
        metric: MetricId,
        total: Proportion,
        cells: HashMap<(Dimension, Symbol), Proportion>,
        baseline_rate: f64,
    ) -> Self {
        let total_excess = total.bad as f64 - total.n as f64 * baseline_rate;
        let mut values_per_dimension: HashMap<Dimension, usize> = HashMap::default();
        for (dimension, _) in cells.keys() {
            *values_per_dimension.entry(*dimension).or_default() += 1;
        }
        let mut segments: Vec<Segment> = cells
            .into_iter()
            .filter(|((dimension, _), _)| values_per_dimension[dimension] >= 2)
            .map(|((dimension, value), calls)| {
                let rate = calls.rate().unwrap_or(0.0);
                let excess = calls.bad as f64 - calls.n as f64 * baseline_rate;
                Segment {
                    dimension,
                    value,
                    calls,
                    half_width: Z95 * (rate * (1.0 - rate) / calls.n as f64).sqrt(),
                    excess,
                    excess_share: if total_excess > 0.0 {
                        excess / total_excess
                    } else {
                        0.0
                    },
                    traffic_share: calls.n as f64 / total.n.max(1) as f64,
                }
            })
            .collect();
        segments.sort_by(|a, b| {
            b.excess_share
                .total_cmp(&a.excess_share)
                .then(a.traffic_share.total_cmp(&b.traffic_share))
                .then(a.dimension.cmp(&b.dimension))
                .then(a.value.cmp(&b.value))
        });
        Self {
            metric,
            baseline_rate,
            total,
            total_excess,
            segments,
        }
    }

    /// The segments that carry the excess out of proportion to their traffic and are
    /// significantly worse than the rest of their dimension, largest first.
    pub fn concentrated(&self) -> impl Iterator<Item = &Segment> {
        self.segments.iter().filter(|s| {
            s.excess_share >= s.traffic_share + 0.2
                && s.excess > 0.0
                && rate_delta(s.calls, self.rest_of(s)).is_some_and(|d| d.z >= SIGNIFICANT_Z)
        })
    }

    /// The other values of a segment's dimension, lumped together.
    pub fn rest_of(&self, segment: &Segment) -> Proportion {
        let mut rest = Proportion::default();
        for other in self
            .segments
            .iter()
            .filter(|s| s.dimension == segment.dimension && s.value != segment.value)
        {
            rest.merge(other.calls);
        }
        rest
    }

    /// "Hallucination 22% ±3 on prompt v8, 4% ±1 elsewhere; v8 carries 91% of the excess".
    pub fn describe(&self, segment: &Segment, interner: &Interner) -> String {
        let rest = self.rest_of(segment);
        let rest_rate = rest.rate().unwrap_or(0.0);
        let rest_half = Z95 * (rest_rate * (1.0 - rest_rate) / rest.n.max(1) as f64).sqrt();
        let value = interner.name(segment.value);
        let shown = |rate: f64| {
            if self.metric.shows_good_share() {
                1.0 - rate
            } else {
                rate
            }
        };
        format!(
            "{} {:.0}% ±{:.0} on {} {value}, {:.0}% ±{:.0} elsewhere; {value} carries {:.0}% of the excess",
            self.metric.label(),
            shown(segment.rate()) * 100.0,
            segment.half_width * 100.0,
            segment.dimension.label(interner),
            shown(rest_rate) * 100.0,
            rest_half * 100.0,
            segment.excess_share.clamp(0.0, 1.0) * 100.0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::signals::schema::SchemaRegistry;
    use crate::model::Call;

    fn observation(interner: &mut Interner, version: &str, source: &str, bad: bool) -> Observation {
        let call: Call = serde_json::from_value(serde_json::json!({
            "ts": "2026-03-14T14:00:00Z", "feature": "support-answer",
            "model_requested": "gpt-4o", "status": "ok", "latency_ms": 900,
            "prompt_version": version, "attributes": {"source": source},
            "evals": {"hallucination": bad}
        }))
        .unwrap();
        Observation::from_call(&call, &SchemaRegistry::default(), interner)
    }

    #[test]
    fn the_new_prompt_version_carries_the_excess() {
        let mut interner = Interner::default();
        let mut calls = Vec::new();
        // v7: 4 bad in 100; v8: 23 bad in 100; both sources alike.
        for i in 0..200 {
            let version = if i < 100 { "v7" } else { "v8" };
            let source = if i % 2 == 0 { "web" } else { "app" };
            let bad = if i < 100 { i % 25 == 0 } else { i % 9 < 2 };
            calls.push(observation(&mut interner, version, source, bad));
        }
        let mut counts = SegmentCounts::default();
        for call in &calls {
            counts.add(call);
        }
        let at = calls[0].ts;
        let breakdown = counts
            .breakdown(MetricId::Hallucination, at, at, 0.04)
            .expect("hallucination is split");
        let top = &breakdown.segments[0];
        assert_eq!(top.dimension, Dimension::PromptVersion);
        assert_eq!(interner.name(top.value), "v8");
        assert!(top.excess_share > 0.95, "{top:?}");
        let line = breakdown.describe(top, &interner);
        assert!(
            line == "Hallucination 23% ±8 on prompt v8, 4% ±4 elsewhere; v8 carries 100% of the excess",
            "{line}"
        );
        let concentrated: Vec<Dimension> = breakdown.concentrated().map(|s| s.dimension).collect();
        assert_eq!(concentrated, vec![Dimension::PromptVersion]);
    }
}
