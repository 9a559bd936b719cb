//! The metrics engine (pure): turns calls and changes into metric readings against a learned
//! baseline, detects alarms and their onset, and runs the triage.

pub mod change_points;
pub mod changes;
pub mod detect;
pub mod diff;
pub mod metrics;
pub mod observation;
pub mod segments;
pub mod signals;
pub mod stats;
pub mod triage;

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};

use self::change_points::ChangePoints;
use self::changes::{ChangeLog, ChangeRecord};
use self::detect::Rule;
use self::metrics::{Family, Measure, MetricId, MetricReading, MetricState};
use self::observation::{Interner, Observation};
use self::segments::SegmentCounts;
use self::signals::schema::SchemaRegistry;
use self::stats::{Proportion, cusum_onset, percentile, rate_delta};
use self::triage::Triage;
use crate::model::{Call, CallStatus, Change};

/// Windows and limits of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The current value of a metric is taken over this window.
    pub window: Duration,
    /// The baseline ends this long before now, so a change is not learned before it alarms.
    pub baseline_lag: Duration,
    pub baseline_span: Duration,
    /// The least baseline history before any metric is judged.
    pub baseline_minimum: Duration,
    /// How long every metric must stay healthy before an alarm episode ends and learning resumes.
    pub recovery_hold: Duration,
    /// How long calls are kept.
    pub retention: Duration,
    /// Minutes of history in each metric's trend.
    pub trend_minutes: usize,
    /// A prompt deploy within this long before the onset is a suspect.
    pub prompt_window: Duration,
    /// The false-alarm budget of each metric's change-point detector: calls between false alarms.
    pub calls_per_false_alarm: f64,
    /// A change this long after the estimated onset can still be its cause; a later one cannot.
    pub onset_tolerance: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            window: Duration::minutes(5),
            baseline_lag: Duration::minutes(15),
            baseline_span: Duration::minutes(60),
            baseline_minimum: Duration::minutes(10),
            recovery_hold: Duration::minutes(30),
            retention: Duration::hours(4),
            trend_minutes: 20,
            prompt_window: Duration::hours(2),
            calls_per_false_alarm: 10_000.0,
            onset_tolerance: Duration::minutes(2),
        }
    }
}

/// The healthy period that metrics are compared against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaselineWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub calls: usize,
    /// Frozen because an alarm episode is under way.
    pub frozen: bool,
}

/// From the first alarm until every metric has been healthy for the recovery hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub first_alarm: DateTime<Utc>,
    /// Metrics that alarmed during the episode, in the order they first did.
    pub metrics: Vec<MetricId>,
    /// Metrics that went critical, in the order they first did.
    pub critical: Vec<MetricId>,
    /// The onset each metric's change-point detector estimated when it alarmed.
    pub onsets: Vec<(MetricId, DateTime<Utc>)>,
    pub onset: Option<DateTime<Utc>>,
}

impl Episode {
    /// The metric the triage reasons about: a chance warning must not steer it, so the first
    /// metric to go critical leads (quality before transport), else the first to alarm.
    pub fn primary(&self) -> MetricId {
        let quality =
            |list: &[MetricId]| list.iter().copied().find(|m| m.family() == Family::Quality);
        quality(&self.critical)
            .or_else(|| self.critical.first().copied())
            .or_else(|| quality(&self.metrics))
            .unwrap_or(self.metrics[0])
    }
}

/// Everything the engine concluded at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub at: DateTime<Utc>,
    pub metrics: Vec<MetricReading>,
    pub baseline: Option<BaselineWindow>,
    pub episode: Option<Episode>,
    pub triage: Option<Triage>,
}

impl Assessment {
    pub fn reading(&self, id: MetricId) -> Option<&MetricReading> {
        self.metrics.iter().find(|r| r.id == id)
    }
}

pub struct Engine {
    config: EngineConfig,
    schemas: SchemaRegistry,
    interner: Interner,
    observations: VecDeque<Observation>,
    segment_counts: SegmentCounts,
    /// Each metric's baseline statistic for the window it was computed on: a frozen baseline is
    /// read once per episode, not once per evaluation.
    baseline_stats: Option<(BaselineWindow, Vec<BaselineStat>)>,
    changes: ChangeLog,
    change_points: ChangePoints,
    frozen_baseline_end: Option<DateTime<Utc>>,
    episode: Option<Episode>,
    healthy_since: Option<DateTime<Utc>>,
    /// Evidence for the triage stops at the first mitigation, so it describes the failure itself.
    evidence_end: Option<DateTime<Utc>>,
    last_triage: Option<Triage>,
    last_states: HashMap<MetricId, MetricState>,
}

impl Engine {
    pub fn new(config: EngineConfig, schemas: SchemaRegistry) -> Self {
        Self {
            change_points: ChangePoints::new(config.calls_per_false_alarm),
            config,
            schemas,
            interner: Interner::default(),
            observations: VecDeque::new(),
            segment_counts: SegmentCounts::default(),
            baseline_stats: None,
            changes: ChangeLog::default(),
            frozen_baseline_end: None,
            episode: None,
            healthy_since: None,
            evidence_end: None,
            last_triage: None,
            last_states: HashMap::new(),
        }
    }

    /// Takes in one call; a change it reveals joins the change log. Returns whether a
    /// change-point detector raised an alarm on it, so a caller that evaluates rarely can
    /// evaluate now.
    pub fn ingest_call(&mut self, call: &Call) -> bool {
        let observation = Observation::from_call(call, &self.schemas, &mut self.interner);
        let raised = self.change_points.step(&observation);
        let at = self
            .observations
            .partition_point(|o| o.ts <= observation.ts);
        self.segment_counts.add(&observation);
        self.observations.insert(at, observation);
        // A frozen baseline is kept however old it gets: the incident is judged against it.
        let frozen_from = self
            .frozen_baseline_end
            .map(|end| end - self.config.baseline_span);
        let horizon = (call.ts - self.config.retention).min(frozen_from.unwrap_or(call.ts));
        while self.observations.front().is_some_and(|o| o.ts < horizon) {
            self.observations.pop_front();
        }
        self.segment_counts.forget_before(horizon);
        self.changes.observe_call(call);
        raised
    }

    /// Takes in a change from a feed.
    pub fn ingest_change(&mut self, change: Change) {
        self.changes.record_feed(change);
    }

    pub fn changes(&self) -> &[ChangeRecord] {
        self.changes.records()
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Marks the first mitigation: later calls no longer count as evidence for the triage.
    pub fn mark_mitigation(&mut self, at: DateTime<Utc>) {
        if self.episode.is_some() {
            self.evidence_end.get_or_insert(at);
        }
    }

    pub fn evaluate(&mut self, now: DateTime<Utc>) -> Assessment {
        let baseline = self.baseline_window(now);
        if let Some(window) = baseline
            && self
                .baseline_stats
                .as_ref()
                .is_none_or(|(known, _)| (known.from, known.to) != (window.from, window.to))
        {
            let observations = || slice(&self.observations, window.from, window.to);
            self.change_points.arm(observations());
            let stats = MetricId::ALL
                .iter()
                .map(|id| BaselineStat::of(*id, observations()))
                .collect();
            self.baseline_stats = Some((window, stats));
        }
        let readings: Vec<MetricReading> = MetricId::ALL
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let base = baseline.zip(self.baseline_stats.as_ref().map(|(_, s)| s[i]));
                self.read(*id, now, base)
            })
            .collect();
        let metrics: Vec<MetricReading> = readings
            .into_iter()
            .map(|reading| self.hold_alarm(reading))
            .collect();
        self.track_episode(now, &metrics);
        if let (Some(episode), Some(window)) = (self.episode.as_mut(), baseline) {
            let end = self.evidence_end.unwrap_or(now).min(now);
            let primary = episode.primary();
            let p0 = self.baseline_stats.as_ref().and_then(|(_, stats)| {
                let index = MetricId::ALL.iter().position(|id| *id == primary)?;
                match stats[index] {
                    BaselineStat::Rate(base) => base.rate(),
                    _ => None,
                }
            });
            episode.onset = Self::estimate_onset(episode, window, end, self.config.window).map(
                |onset| match p0 {
                    Some(p0) => refine_onset(&self.observations, primary, p0, onset, end),
                    None => onset,
                },
            );
        }
        let triage = match (&self.episode, baseline) {
            (Some(episode), Some(window)) => episode.onset.map(|onset| {
                triage::assess(&triage::Evidence {
                    observations: &self.observations,
                    segment_counts: &self.segment_counts,
                    interner: &self.interner,
                    changes: self.changes.records(),
                    episode,
                    baseline: window,
                    onset,
                    end: self.evidence_end.unwrap_or(now).min(now),
                    now,
                    prompt_window: self.config.prompt_window,
                    onset_tolerance: self.config.onset_tolerance,
                    previous: self.last_triage.as_ref(),
                })
            }),
            _ => None,
        };
        self.last_triage = triage.clone();
        Assessment {
            at: now,
            metrics,
            baseline,
            episode: self.episode.clone(),
            triage,
        }
    }

    /// An alarm starts on significance but ends on effect size: a metric stays at warn while its
    /// change still exceeds the warn limit, so intermittent failures do not flap to ok.
    fn hold_alarm(&mut self, mut reading: MetricReading) -> MetricReading {
        let was_alarming = self
            .last_states
            .get(&reading.id)
            .is_some_and(|s| s.is_alarm());
        if was_alarming && reading.state == MetricState::Ok && worse_than_warn(&reading) {
            reading.state = MetricState::Warn;
            reading.rule.get_or_insert(Rule::Threshold);
        }
        self.last_states.insert(reading.id, reading.state);
        reading
    }

    fn baseline_window(&self, now: DateTime<Utc>) -> Option<BaselineWindow> {
        let first = self.observations.front()?.ts;
        let to = self
            .frozen_baseline_end
            .unwrap_or(now - self.config.baseline_lag);
        if to - first < self.config.baseline_minimum {
            return None;
        }
        let from = (to - self.config.baseline_span).max(first);
        Some(BaselineWindow {
            from,
            to,
            calls: slice(&self.observations, from, to).count(),
            frozen: self.frozen_baseline_end.is_some(),
        })
    }

    fn track_episode(&mut self, now: DateTime<Utc>, metrics: &[MetricReading]) {
        let alarming: Vec<&MetricReading> = metrics
            .iter()
            .filter(|r| r.state.is_alarm() && r.id.family() != Family::Volume)
            .collect();
        if alarming.is_empty() {
            let since = *self.healthy_since.get_or_insert(now);
            if now - since >= self.config.recovery_hold {
                self.episode = None;
                self.frozen_baseline_end = None;
                self.evidence_end = None;
                self.last_triage = None;
            }
            return;
        }
        self.healthy_since = None;
        let episode = self.episode.get_or_insert_with(|| Episode {
            first_alarm: now,
            metrics: Vec::new(),
            critical: Vec::new(),
            onsets: Vec::new(),
            onset: None,
        });
        for reading in alarming {
            // Until the metric goes critical, a detector that cleared and alarmed again found a
            // new change: its onset replaces the old one, so a chance warning early in the
            // episode does not date the incident; once critical, the onset stays put.
            if let Some(onset) = reading.change_onset
                && !episode.critical.contains(&reading.id)
            {
                match episode.onsets.iter_mut().find(|(id, _)| *id == reading.id) {
                    Some((_, known)) => *known = onset,
                    None => episode.onsets.push((reading.id, onset)),
                }
            }
            if !episode.metrics.contains(&reading.id) {
                episode.metrics.push(reading.id);
            }
            if reading.state == MetricState::Critical && !episode.critical.contains(&reading.id) {
                episode.critical.push(reading.id);
            }
        }
        self.frozen_baseline_end
            .get_or_insert(now - self.config.baseline_lag);
    }

    /// The change-point onset of the episode's primary metric, else the earliest among the
    /// others; with no detector alarm (a limit fired alone), the start of the window that fired.
    fn estimate_onset(
        episode: &Episode,
        baseline: BaselineWindow,
        end: DateTime<Utc>,
        window: Duration,
    ) -> Option<DateTime<Utc>> {
        let primary = episode.primary();
        let onset = episode
            .onsets
            .iter()
            .find(|(id, _)| *id == primary)
            .or_else(|| episode.onsets.iter().min_by_key(|(_, at)| *at))
            .map(|(_, at)| *at)
            .unwrap_or(episode.first_alarm - window);
        (onset < end).then_some(onset.max(baseline.to))
    }

    fn read(
        &self,
        id: MetricId,
        now: DateTime<Utc>,
        baseline: Option<(BaselineWindow, BaselineStat)>,
    ) -> MetricReading {
        let window =
            |minutes: i64| slice(&self.observations, now - Duration::minutes(minutes), now);
        let five = self.config.window.num_minutes();
        let (value, samples) = measure(id, window(five), five as f64);
        let alarm = self.change_points.alarm(id);
        let (comparison, rule) = match baseline {
            None => (Comparison::default(), None),
            Some((b, base)) => {
                let minutes = (b.to - b.from).num_seconds() as f64 / 60.0;
                let limit = judge(id, window(five), base, minutes, five as f64);
                // Since the onset, so the change is not diluted by the calls before it.
                let change = alarm.map_or(MetricState::Ok, |a| {
                    let from = a.onset.max(now - self.config.window);
                    judge_change(id, slice(&self.observations, from, now), base)
                });
                combine(limit, change)
            }
        };
        let trend = (0..self.config.trend_minutes as i64)
            .rev()
            .map(|ago| {
                let end = now - Duration::minutes(ago);
                measure(
                    id,
                    slice(&self.observations, end - Duration::minutes(1), end),
                    1.0,
                )
                .0
            })
            .collect();
        MetricReading {
            id,
            now: value,
            last_minute: measure(id, window(1), 1.0).0,
            last_quarter_hour: measure(id, window(15), 15.0).0,
            baseline: comparison.baseline,
            delta: comparison.delta,
            half_width: comparison.half_width,
            samples,
            state: comparison.state,
            rule,
            change_onset: alarm.map(|a| a.onset),
            trend,
        }
    }
}

/// The limit rule's state and the change-point rule's, whichever is worse, and which fired.
fn combine(limit: Comparison, change: MetricState) -> (Comparison, Option<Rule>) {
    let judged = matches!(
        limit.state,
        MetricState::Ok | MetricState::Warn | MetricState::Critical
    );
    if !judged {
        return (limit, None);
    }
    let state = limit.state.max(change);
    let rule = Rule::from_flags(
        change.is_alarm() && change == state,
        limit.state.is_alarm() && limit.state == state,
    );
    (Comparison { state, ..limit }, rule)
}

/// Least calls since a detected onset before the change alone can make a metric critical: a
/// chance cluster of bad calls trips the detector now and then, but does not last.
const MIN_CALLS_FOR_CRITICAL_CHANGE: u64 = 60;

/// How far a metric has moved since the onset its detector found (at most one window back): warn
/// once the change exceeds the warn limit, critical once it exceeds the critical limit on enough
/// calls, significantly.
fn judge_change<'a>(
    id: MetricId,
    since_onset: impl Iterator<Item = &'a Observation> + Clone,
    baseline: BaselineStat,
) -> MetricState {
    let limits = id.limits();
    let (effect, n, significant) = match (id.measure(), baseline) {
        (Measure::Rate, BaselineStat::Rate(b)) => {
            let r = proportion(id, since_onset);
            let Some(d) = rate_delta(r, b) else {
                return MetricState::Ok;
            };
            (d.delta, r.n, d.z >= 4.0)
        }
        (Measure::Latency(q), BaselineStat::Latency { value: Some(b), .. }) => {
            let mut recent = ok_latencies(since_onset);
            let n = recent.len() as u64;
            let Some(r) = percentile(&mut recent, q) else {
                return MetricState::Ok;
            };
            (r / b.max(1.0), n, true)
        }
        _ => return MetricState::Ok,
    };
    if effect >= limits.critical && significant && n >= MIN_CALLS_FOR_CRITICAL_CHANGE {
        MetricState::Critical
    } else if effect >= limits.warn && n >= MIN_RECENT {
        MetricState::Warn
    } else {
        MetricState::Ok
    }
}

/// Whether a reading is still worse than its baseline by the warn limit.
fn worse_than_warn(reading: &MetricReading) -> bool {
    let (Some(delta), Some(base)) = (reading.delta, reading.baseline) else {
        return false;
    };
    let warn = reading.id.limits().warn;
    match reading.id.measure() {
        Measure::Rate if reading.id.shows_good_share() => -delta >= warn,
        Measure::Rate => delta >= warn,
        Measure::Latency(_) => base > 0.0 && (base + delta) / base >= warn,
        Measure::Throughput => false,
    }
}

/// Observations with `from <= ts < to`.
fn slice(
    observations: &VecDeque<Observation>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> impl Iterator<Item = &Observation> + Clone {
    let start = observations.partition_point(|o| o.ts < from);
    let end = observations.partition_point(|o| o.ts < to);
    observations.range(start..end.max(start))
}

/// The detector's last reset can come well before the change when its score wandered up by
/// chance first; the maximum-likelihood change point of a step from the baseline rate `p0` to
/// the rate seen since then, within that excursion, is closer to the change itself.
fn refine_onset(
    observations: &VecDeque<Observation>,
    primary: MetricId,
    p0: f64,
    onset: DateTime<Utc>,
    end: DateTime<Utc>,
) -> DateTime<Utc> {
    let Some(p1) = proportion(primary, slice(observations, onset, end)).rate() else {
        return onset;
    };
    if p1 <= p0 {
        return onset;
    }
    let outcomes =
        slice(observations, onset, end).filter_map(|o| primary.is_bad(o).map(|bad| (o.ts, bad)));
    cusum_onset(outcomes, p0, p1).map_or(onset, |refined| refined.max(onset))
}

fn proportion<'a>(id: MetricId, observations: impl Iterator<Item = &'a Observation>) -> Proportion {
    let mut proportion = Proportion::default();
    for bad in observations.filter_map(|o| id.is_bad(o)) {
        proportion.add(bad);
    }
    proportion
}

fn ok_latencies<'a>(observations: impl Iterator<Item = &'a Observation>) -> Vec<f64> {
    observations
        .filter(|o| o.status == CallStatus::Ok)
        .map(|o| o.latency_ms)
        .collect()
}

/// A metric's value in display units over some observations, and how many calls it rests on.
fn measure<'a>(
    id: MetricId,
    observations: impl Iterator<Item = &'a Observation>,
    minutes: f64,
) -> (Option<f64>, u64) {
    match id.measure() {
        Measure::Rate => {
            let p = proportion(id, observations);
            let value = p
                .rate()
                .map(|r| if id.shows_good_share() { 1.0 - r } else { r });
            (value, p.n)
        }
        Measure::Latency(q) => {
            let mut latencies = ok_latencies(observations);
            let n = latencies.len() as u64;
            (percentile(&mut latencies, q), n)
        }
        Measure::Throughput => {
            let n = observations.count() as u64;
            (Some(n as f64 / minutes), n)
        }
    }
}

/// Least calls in a window before a rate or a latency is judged.
const MIN_RECENT: u64 = 20;
const MIN_BASELINE: u64 = 50;

/// The recent window against the baseline, in display units.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Comparison {
    baseline: Option<f64>,
    state: MetricState,
    delta: Option<f64>,
    /// Half-width of the 95% interval on `delta`, for rates.
    half_width: Option<f64>,
}

impl Default for Comparison {
    fn default() -> Self {
        Self {
            baseline: None,
            state: MetricState::Learning,
            delta: None,
            half_width: None,
        }
    }
}

/// What a metric's judgement needs from the baseline window.
#[derive(Debug, Clone, Copy, PartialEq)]
enum BaselineStat {
    Rate(Proportion),
    /// The baseline percentile over the calls that succeeded, and how many there were.
    Latency {
        value: Option<f64>,
        n: u64,
    },
    Calls(u64),
}

impl BaselineStat {
    fn of<'a>(id: MetricId, baseline: impl Iterator<Item = &'a Observation>) -> Self {
        match id.measure() {
            Measure::Rate => Self::Rate(proportion(id, baseline)),
            Measure::Latency(q) => {
                let mut latencies = ok_latencies(baseline);
                Self::Latency {
                    n: latencies.len() as u64,
                    value: percentile(&mut latencies, q),
                }
            }
            Measure::Throughput => Self::Calls(baseline.count() as u64),
        }
    }
}

fn judge<'a>(
    id: MetricId,
    recent: impl Iterator<Item = &'a Observation> + Clone,
    baseline: BaselineStat,
    baseline_minutes: f64,
    recent_minutes: f64,
) -> Comparison {
    let limits = id.limits();
    match baseline {
        BaselineStat::Rate(b) => {
            let r = proportion(id, recent);
            let shown = |rate: f64| {
                if id.shows_good_share() {
                    1.0 - rate
                } else {
                    rate
                }
            };
            let Some(d) = rate_delta(r, b) else {
                return Comparison {
                    baseline: b.rate().map(shown),
                    ..Comparison::default()
                };
            };
            let sign = if id.shows_good_share() { -1.0 } else { 1.0 };
            let state = if b.n < MIN_BASELINE {
                MetricState::Learning
            } else if r.n < MIN_RECENT {
                MetricState::FewSamples
            } else if d.delta >= limits.critical && d.z >= 4.0 {
                MetricState::Critical
            } else if d.delta >= limits.warn && d.z >= 3.0 {
                MetricState::Warn
            } else {
                MetricState::Ok
            };
            Comparison {
                baseline: b.rate().map(shown),
                state,
                delta: Some(sign * d.delta),
                half_width: Some(d.half_width),
            }
        }
        BaselineStat::Latency { value, n: bn } => {
            let Measure::Latency(q) = id.measure() else {
                return Comparison::default();
            };
            let mut r = ok_latencies(recent);
            let rn = r.len() as u64;
            let (Some(rv), Some(bv)) = (percentile(&mut r, q), value) else {
                return Comparison::default();
            };
            let ratio = rv / bv;
            let state = if bn < MIN_BASELINE {
                MetricState::Learning
            } else if rn < MIN_RECENT {
                MetricState::FewSamples
            } else if ratio >= limits.critical {
                MetricState::Critical
            } else if ratio >= limits.warn {
                MetricState::Warn
            } else {
                MetricState::Ok
            };
            Comparison {
                baseline: Some(bv),
                state,
                delta: Some(rv - bv),
                half_width: None,
            }
        }
        BaselineStat::Calls(calls) => {
            let rate = recent.count() as f64 / recent_minutes;
            let base = calls as f64 / baseline_minutes;
            let state = if base <= 0.0 {
                MetricState::Learning
            } else if rate < limits.warn * base {
                MetricState::Warn
            } else {
                MetricState::Ok
            };
            Comparison {
                baseline: Some(base),
                state,
                delta: Some(rate - base),
                half_width: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn start() -> DateTime<Utc> {
        "2026-03-14T13:00:00Z".parse().unwrap()
    }

    /// A call every 2 seconds; the `i`th is hallucinated when `bad(i)`, and takes `latency` ms.
    fn call(i: i64, hallucinated: bool, latency: f64) -> Call {
        serde_json::from_value(json!({
            "ts": (start() + Duration::seconds(2 * i)).to_rfc3339(),
            "feature": "support-answer", "model_requested": "gpt-4o",
            "model_served": "gpt-4o-2024-08-06", "status": "ok", "latency_ms": latency,
            "output": "{\"answer\":\"ok\"}", "evals": {"hallucination": hallucinated}
        }))
        .unwrap()
    }

    fn engine() -> Engine {
        Engine::new(EngineConfig::default(), SchemaRegistry::default())
    }

    /// Feeds calls `from..to` (2 s apart) and evaluates at the last one.
    fn feed(
        engine: &mut Engine,
        from: i64,
        to: i64,
        bad: impl Fn(i64) -> bool,
        latency: f64,
    ) -> Assessment {
        for i in from..to {
            engine.ingest_call(&call(i, bad(i), latency));
        }
        engine.evaluate(start() + Duration::seconds(2 * to))
    }

    fn state(a: &Assessment, id: MetricId) -> MetricState {
        a.reading(id).unwrap().state
    }

    #[test]
    fn metrics_are_learning_until_ten_minutes_of_baseline_exist() {
        let mut engine = engine();
        // 20 minutes: the baseline (lagging 15 min) holds only 5 minutes.
        let a = feed(&mut engine, 0, 600, |i| i % 25 == 0, 900.0);
        assert_eq!(state(&a, MetricId::Hallucination), MetricState::Learning);
        assert!(a.baseline.is_none());
        let a = feed(&mut engine, 600, 800, |i| i % 25 == 0, 900.0);
        assert_eq!(state(&a, MetricId::Hallucination), MetricState::Ok);
        assert!(a.baseline.is_some());
    }

    #[test]
    fn a_rise_from_4_to_22_percent_goes_critical_with_an_onset_at_the_change() {
        let mut engine = engine();
        feed(&mut engine, 0, 1200, |i| i % 25 == 0, 900.0);
        // From call 1200 (13:40) on, about 22% are hallucinated.
        let a = feed(&mut engine, 1200, 1380, |i| i % 9 < 2, 900.0);
        let reading = a.reading(MetricId::Hallucination).unwrap();
        assert_eq!(reading.state, MetricState::Critical, "{reading:?}");
        assert!((reading.baseline.unwrap() - 0.04).abs() < 0.005);
        assert!(reading.delta.unwrap() > 0.15 && reading.half_width.unwrap() < 0.1);
        let onset = a.episode.as_ref().unwrap().onset.unwrap();
        let change = start() + Duration::seconds(2400);
        assert!((onset - change).num_seconds().abs() <= 60, "onset {onset}");
        assert_eq!(state(&a, MetricId::LatencyP95), MetricState::Ok);
    }

    #[test]
    fn an_alarm_holds_at_warn_while_the_effect_persists_and_clears_when_it_ends() {
        let mut engine = engine();
        feed(&mut engine, 0, 1200, |i| i % 25 == 0, 900.0);
        let a = feed(&mut engine, 1200, 1380, |i| i % 9 < 2, 900.0);
        assert_eq!(state(&a, MetricId::Hallucination), MetricState::Critical);
        // About 10%: not significant on its own at warn, but still 6 points over baseline.
        let a = feed(&mut engine, 1380, 1530, |i| i % 10 == 0, 900.0);
        assert_eq!(state(&a, MetricId::Hallucination), MetricState::Warn);
        let a = feed(&mut engine, 1530, 1700, |i| i % 25 == 0, 900.0);
        assert_eq!(state(&a, MetricId::Hallucination), MetricState::Ok);
        assert!(
            a.baseline.unwrap().frozen,
            "the baseline stays frozen during the episode"
        );
    }

    #[test]
    fn latency_alarms_on_its_ratio_to_the_baseline_percentile() {
        let mut engine = engine();
        feed(&mut engine, 0, 1200, |_| false, 900.0);
        let a = feed(&mut engine, 1200, 1350, |_| false, 2700.0);
        assert_eq!(state(&a, MetricId::LatencyP50), MetricState::Critical);
        assert_eq!(state(&a, MetricId::Hallucination), MetricState::Ok);
        let p50 = a.reading(MetricId::LatencyP50).unwrap();
        assert_eq!((p50.now, p50.baseline), (Some(2700.0), Some(900.0)));
    }

    #[test]
    fn a_frozen_baseline_outlives_the_retention_window() {
        let mut engine = engine();
        feed(&mut engine, 0, 1200, |i| i % 25 == 0, 900.0);
        feed(&mut engine, 1200, 1380, |i| i % 9 < 2, 900.0);
        // Five more hours of the incident: longer than the four hours of retention.
        let mut a = None;
        for block in 0..30 {
            let from = 1380 + block * 300;
            a = Some(feed(&mut engine, from, from + 300, |i| i % 9 < 2, 900.0));
        }
        let a = a.unwrap();
        let reading = a.reading(MetricId::Hallucination).unwrap();
        assert_eq!(reading.state, MetricState::Critical, "{reading:?}");
        assert!((reading.baseline.unwrap() - 0.04).abs() < 0.005);
    }

    #[test]
    fn a_stable_stream_raises_no_alarm() {
        let mut engine = engine();
        for block in 0..20 {
            let a = feed(
                &mut engine,
                block * 300,
                (block + 1) * 300,
                |i| i % 25 == 0,
                900.0,
            );
            assert!(
                a.episode.is_none(),
                "alarm in block {block}: {:?}",
                a.metrics
            );
        }
    }
}
