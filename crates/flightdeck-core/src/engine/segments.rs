//! The blast radius: a metric split by every dimension of the calls, with confidence intervals,
//! ranked by how much of the excess over the baseline each segment carries.

use foldhash::HashMap;

use super::metrics::MetricId;
use super::observation::{Dimension, Interner, Symbol};
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

impl Breakdown {
    pub(super) fn from_cells(
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
    use crate::engine::minutes::{MinuteCounts, Span};
    use crate::engine::observation::Observation;
    use crate::model::Call;

    fn observation(interner: &mut Interner, version: &str, source: &str, bad: bool) -> Observation {
        let call: Call = serde_json::from_value(serde_json::json!({
            "ts": "2026-03-14T14:00:00Z", "feature": "support-answer",
            "model_requested": "gpt-4o", "status": "ok", "latency_ms": 900,
            "prompt_version": version, "attributes": {"source": source},
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
        let mut counts = MinuteCounts::default();
        for call in &calls {
            counts.add(call, &[]);
        }
        let at = calls[0].ts;
        let breakdown = counts
            .breakdown(MetricId::Hallucination, Span::through(at, at), 0.04)
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
