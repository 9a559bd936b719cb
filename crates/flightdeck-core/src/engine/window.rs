//! What every metric needs from a window of calls, gathered in one pass: judging every metric
//! then reads the window once, not once per metric.

use super::metrics::{MetricId, rate_outcomes};
use super::observation::Observation;
use super::stats::{Proportion, percentile};
use crate::model::CallStatus;

#[derive(Debug, Clone, Default)]
pub struct WindowStats {
    /// Each rate metric's count, in the order of [`MetricId::RATES`].
    rates: [Proportion; MetricId::RATES.len()],
    /// Latencies of the calls that succeeded.
    latencies: Vec<f64>,
    calls: u64,
}

impl WindowStats {
    pub fn of<'a>(observations: impl IntoIterator<Item = &'a Observation>) -> Self {
        let mut stats = Self::default();
        observations.into_iter().for_each(|o| stats.add(o));
        stats
    }

    pub fn add(&mut self, observation: &Observation) {
        self.calls += u64::from(observation.weight);
        if observation.status == CallStatus::Ok {
            self.latencies.push(observation.latency_ms);
        }
        for (rate, outcome) in self.rates.iter_mut().zip(rate_outcomes(observation)) {
            if let Some(bad) = outcome {
                rate.add(bad);
            }
        }
    }

    /// Takes every rate metric's count from elsewhere, in the order of [`MetricId::RATES`].
    pub fn with_rates(self, rates: [Proportion; MetricId::RATES.len()]) -> Self {
        Self { rates, ..self }
    }

    /// A rate metric's count; empty for a metric that is not a rate.
    pub fn proportion(&self, id: MetricId) -> Proportion {
        id.rate_index()
            .map_or_else(Proportion::default, |i| self.rates[i])
    }

    /// How many calls the window holds, counting each sampled call for the calls it stands for.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// How many calls succeeded, and so have a latency.
    pub fn succeeded(&self) -> u64 {
        self.latencies.len() as u64
    }

    /// The q-quantile of the latencies of the calls that succeeded.
    pub fn latency(&mut self, q: f64) -> Option<f64> {
        percentile(&mut self.latencies, q)
    }

    /// The q-quantile of the successful calls' latencies, and how many of them were slower.
    pub fn share_slower_than_quantile(&mut self, q: f64) -> Option<(f64, Proportion)> {
        let quantile = self.latency(q)?;
        let mut share = Proportion::default();
        self.latencies.iter().for_each(|l| share.add(*l > quantile));
        Some((quantile, share))
    }
}
