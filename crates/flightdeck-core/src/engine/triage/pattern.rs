//! How the primary metric's failure spread over the minutes since the onset: how many minutes
//! it affected, and whether it came in bursts or as one steady rise.

use chrono::{DateTime, Utc};

use super::{Evidence, hm};
use crate::engine::metrics::{Measure, MetricId};
use crate::engine::minutes::Span;
use crate::engine::stats::Proportion;

/// A minute counts as affected when a rate this high or higher had at most this chance at the
/// baseline's rate: about one healthy minute in a hundred is counted by chance.
const AFFECTED_P: f64 = 0.01;
/// Upper 1% point of the standard normal, for the dispersion test's chi-square quantile.
const Z99: f64 = 2.326_348;
/// Below this many expected bad calls a minute, the dispersion test cannot tell bursts from
/// chance.
const MIN_EXPECTED_BAD_PER_MINUTE: f64 = 1.0;
/// The least minutes over which bursts are looked for.
const MIN_MINUTES_FOR_BURSTS: usize = 5;
/// The least run of unaffected minutes between affected ones that makes a burst end.
const QUIET_GAP_MINUTES: usize = 2;

/// The primary metric minute by minute since the onset.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub metric: MetricId,
    pub since: DateTime<Utc>,
    /// Whole minutes since the onset with calls that carry the metric.
    pub minutes: usize,
    /// Of those, the minutes whose value was significantly worse than the baseline's.
    pub affected_minutes: usize,
    /// Whether the failure came on and off: the minutes vary more than one steady rate
    /// explains, with quiet minutes between affected ones. `None` with too few calls a minute
    /// to tell.
    pub in_bursts: Option<bool>,
    /// The start of each affected minute, to line them up with the transport's.
    pub(super) affected: Vec<DateTime<Utc>>,
}

impl Pattern {
    /// "Hallucination affected 14 of 33 minutes since 14:15, in bursts".
    pub fn line(&self) -> String {
        format!(
            "{} affected {} of {} minutes since {}{}",
            self.metric.label(),
            self.affected_minutes,
            self.minutes,
            hm(self.since),
            self.shape()
        )
    }

    /// ", in bursts", ", a steady rise", or why it cannot be told yet.
    pub fn shape(&self) -> &'static str {
        match self.in_bursts {
            Some(true) => ", in bursts",
            Some(false) => ", a steady rise",
            None if self.minutes < MIN_MINUTES_FOR_BURSTS => " (too few minutes to see bursts)",
            None => " (too few calls a minute to see bursts)",
        }
    }
}

/// The pattern of `metric` over the whole minutes from the onset to the end of the evidence;
/// `None` without a baseline value or a single minute to judge.
pub(super) fn pattern(e: &Evidence, metric: MetricId) -> Option<Pattern> {
    let span = Span::within(e.onset, e.end);
    let baseline = Span::ending_by(e.baseline.from, e.baseline.to);
    let minutes: Vec<(DateTime<Utc>, Minute)> = match metric.measure() {
        Measure::Rate => {
            let index = metric.rate_index()?;
            let base = e.minutes.rate(metric, None, baseline);
            // A baseline with no bad call still has a rate: half a call in its count.
            let p0 = base.rate()?.max(0.5 / base.n as f64);
            e.minutes
                .each_minute(span)
                .map(|(start, rates, _, _)| (start, rates[index]))
                .filter(|(_, calls)| calls.n > 0)
                .map(|(start, calls)| {
                    let affected = upper_tail(calls.bad, calls.n, p0) <= AFFECTED_P;
                    (start, Minute::Rate { calls, affected })
                })
                .collect()
        }
        Measure::Latency(q) => {
            let base = e.minutes.transport(baseline).latency.percentile(q)?;
            let limit = base * metric.limits().warn;
            e.minutes
                .each_minute(span)
                .filter_map(|(start, _, transport, _)| {
                    let value = transport.latency.percentile(q)?;
                    Some((start, Minute::Latency(value >= limit)))
                })
                .collect()
        }
        Measure::Throughput => return None,
    };
    if minutes.is_empty() {
        return None;
    }
    let affected: Vec<DateTime<Utc>> = minutes
        .iter()
        .filter(|(_, minute)| minute.affected())
        .map(|(start, _)| *start)
        .collect();
    let flags: Vec<bool> = minutes.iter().map(|(_, m)| m.affected()).collect();
    let varies = match metric.measure() {
        Measure::Rate => {
            let counts: Vec<Proportion> = minutes
                .iter()
                .filter_map(|(_, minute)| match minute {
                    Minute::Rate { calls, .. } => Some(*calls),
                    Minute::Latency(_) => None,
                })
                .collect();
            overdispersed(&counts)
        }
        // Latency has no count to test: a failure that leaves two minutes in five alone is
        // not steady, as the infrastructure step counts it.
        _ => (minutes.len() >= MIN_MINUTES_FOR_BURSTS)
            .then(|| affected.len() * 10 < minutes.len() * 6),
    };
    Some(Pattern {
        metric,
        since: e.onset,
        minutes: minutes.len(),
        affected_minutes: affected.len(),
        in_bursts: varies.map(|varies| varies && has_quiet_gap(&flags)),
        affected,
    })
}

/// One minute of the primary metric: its calls and whether they were significantly worse than
/// the baseline, or whether its latency quantile passed the warn ratio.
enum Minute {
    Rate { calls: Proportion, affected: bool },
    Latency(bool),
}

impl Minute {
    fn affected(&self) -> bool {
        match self {
            Self::Rate { affected, .. } => *affected,
            Self::Latency(affected) => *affected,
        }
    }
}

/// Whether a run of at least [`QUIET_GAP_MINUTES`] unaffected minutes lies between two
/// affected ones: the failure stopped and came back.
fn has_quiet_gap(affected: &[bool]) -> bool {
    let mut seen_affected = false;
    let mut quiet = 0;
    for &minute in affected {
        if minute {
            if seen_affected && quiet >= QUIET_GAP_MINUTES {
                return true;
            }
            seen_affected = true;
            quiet = 0;
        } else {
            quiet += 1;
        }
    }
    false
}

/// Whether the minutes' bad counts vary more than one steady rate explains: the chi-square
/// index of dispersion against the pooled rate, at 1%. `None` when too few bad calls are
/// expected a minute for the test to mean anything.
fn overdispersed(minutes: &[Proportion]) -> Option<bool> {
    let mut total = Proportion::default();
    minutes.iter().for_each(|m| total.merge(*m));
    let rate = total.rate()?;
    let expected_bad = total.bad as f64 / minutes.len() as f64;
    if minutes.len() < MIN_MINUTES_FOR_BURSTS
        || expected_bad < MIN_EXPECTED_BAD_PER_MINUTE
        || rate >= 1.0
    {
        return None;
    }
    let statistic: f64 = minutes
        .iter()
        .map(|m| {
            let expected = m.n as f64 * rate;
            (m.bad as f64 - expected).powi(2) / (expected * (1.0 - rate))
        })
        .sum();
    Some(statistic > chi_square_upper(minutes.len() as f64 - 1.0))
}

/// The upper 1% point of the chi-square distribution with `df` degrees of freedom
/// (Wilson–Hilferty, within a few percent from 4 degrees of freedom on).
fn chi_square_upper(df: f64) -> f64 {
    let spread = 2.0 / (9.0 * df);
    df * (1.0 - spread + Z99 * spread.sqrt()).powi(3)
}

/// P(X ≥ k) for X binomial(n, p): the chance of `k` or more bad calls among `n` at rate `p`.
fn upper_tail(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    // At or below the mean the tail holds half the mass or more: never significant.
    if (k as f64) <= n as f64 * p {
        return 1.0;
    }
    let odds = p / (1.0 - p);
    let ln_choose: f64 = (0..k)
        .map(|i| ((n - i) as f64).ln() - ((i + 1) as f64).ln())
        .sum();
    let mut term = (ln_choose + k as f64 * p.ln() + (n - k) as f64 * (1.0 - p).ln()).exp();
    let mut tail = 0.0;
    // Above the mean the terms only shrink: stop once they no longer count.
    for j in k..=n {
        tail += term;
        if term <= tail * 1e-12 {
            break;
        }
        term *= (n - j) as f64 / (j + 1) as f64 * odds;
    }
    tail.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binomial_tail_matches_hand_computed_values() {
        // P(X ≥ 2 | 3, 0.5) = 4/8; P(X ≥ 3 | 3, 0.5) = 1/8.
        assert!((upper_tail(2, 3, 0.5) - 0.5).abs() < 1e-12);
        assert!((upper_tail(3, 3, 0.5) - 0.125).abs() < 1e-12);
        // 5 bad of 24 at 4%: about 0.0023; 4 of 24 (0.014) is not significant at 1%.
        assert!((upper_tail(5, 24, 0.04) - 0.0023).abs() < 0.0001);
        assert!(upper_tail(4, 24, 0.04) > AFFECTED_P);
        assert_eq!(upper_tail(0, 10, 0.1), 1.0);
    }

    #[test]
    fn the_chi_square_quantile_is_close_to_the_tables() {
        // Tables: 23.21 for 10 degrees of freedom, 50.89 for 30.
        assert!((chi_square_upper(10.0) - 23.21).abs() < 0.2);
        assert!((chi_square_upper(30.0) - 50.89).abs() < 0.3);
    }

    #[test]
    fn on_and_off_minutes_are_overdispersed_and_a_steady_rate_is_not() {
        let minute = |bad| Proportion { bad, n: 24 };
        // Three minutes at 25%, four at 4%, over and over.
        let bursts: Vec<Proportion> = (0..35)
            .map(|i| minute(if i % 7 < 3 { 6 } else { 1 }))
            .collect();
        assert_eq!(overdispersed(&bursts), Some(true));
        // A steady 12% with the spread a binomial gives.
        let steady: Vec<Proportion> = (0..35).map(|i| minute([2, 3, 4, 3, 2][i % 5])).collect();
        assert_eq!(overdispersed(&steady), Some(false));
        // Half a bad call a minute says nothing about bursts.
        let thin: Vec<Proportion> = (0..35)
            .map(|i| Proportion {
                bad: u64::from(i % 2 == 0),
                n: 3,
            })
            .collect();
        assert_eq!(overdispersed(&thin), None);
    }

    #[test]
    fn a_quiet_gap_needs_two_clear_minutes_between_affected_ones() {
        assert!(has_quiet_gap(&[true, false, false, true]));
        assert!(!has_quiet_gap(&[true, false, true, true]));
        assert!(!has_quiet_gap(&[false, false, true, true, false, false]));
    }
}
