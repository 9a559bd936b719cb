//! The metrics engine (pure): turns calls and changes into metric readings against a learned
//! baseline, detects alarms and their onset, and runs the triage.

mod admission;
pub mod change_points;
pub mod changes;
pub mod detect;
pub mod diff;
mod judgement;
pub mod latency_sketch;
pub mod likeness;
pub mod metrics;
pub mod minutes;
pub mod observation;
pub mod repeats;
pub mod segments;
pub mod signals;
pub mod stats;
pub(crate) mod style_shift;
pub mod triage;
/// The style-shift tests' synthetic traffic, for the cockpit's tests of an inferred change.
#[cfg(any(test, feature = "test-support"))]
pub use style_shift::traffic as style_traffic;
mod window;

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};

use self::admission::Admission;
use self::change_points::{ChangePoints, Slice, SliceAlarm};
use self::changes::{ChangeLog, ChangeRecord};
use self::detect::Rule;
use self::detect::cusum::CusumAlarm;
use self::judgement::{
    BaselineStat, ChangeEvidence, Comparison, combine, judge, judge_alert, judge_change, measure,
    worse_than_warn,
};
use self::likeness::{Likeness, Side, SimilarityShift};
use self::metrics::{Family, Measure, MetricId, MetricReading, MetricState, SliceReading};
use self::minutes::{MinuteCounts, Span};
use self::observation::{Dimension, Interner, Observation, Symbol};
use self::repeats::RepeatedCalls;
use self::signals::Checks;
use self::signals::drift::{MmdTest, VocabularyDrift, vocabulary_drift};
use self::signals::groundedness::PassageTerms;
use self::signals::refusal::RefusalPhrases;
use self::signals::schema::{SchemaRegistry, ViolationCount};
use self::stats::{Proportion, cusum_onset};
use self::triage::Triage;
use self::window::WindowStats;
use crate::model::{Call, CallStatus, Change, InfraReading, MetricMinute, MinuteSample};

/// Schema violation reasons an assessment carries.
const VIOLATIONS_SHOWN: usize = 3;
/// How often the references of healthy outputs and inputs are learned again from the baseline:
/// every 10 minutes while the baseline is still filling up, then every 30, as each relearning
/// changes what counts as unlike.
const RELEARN_GROWING: Duration = Duration::minutes(10);
const RELEARN_EVERY: Duration = Duration::minutes(30);
/// How often the input drift test runs: it costs milliseconds, so it runs on a schedule.
const DRIFT_EVERY: Duration = Duration::minutes(5);
/// The recent inputs a drift test looks at outside an incident, and at most within one. Outside
/// an incident consecutive tests see disjoint inputs, so two significant ones in a row are a
/// drift at a false-alarm rate of α² per test.
const DRIFT_RECENT: Duration = Duration::minutes(5);
/// An infrastructure reading older than this says nothing about now.
const INFRA_FRESH: Duration = Duration::minutes(5);
const DRIFT_RECENT_MAX: Duration = Duration::minutes(30);
/// Terms named among the new and the vanished.
const TERMS_SHOWN: usize = 3;

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
    /// Above this many calls a minute the engine keeps a sample (see `admission`).
    pub max_calls_per_minute: u32,
    /// The team's `[alerts]` thresholds in display units (a compliance floor for Schema):
    /// crossing one significantly opens an incident.
    pub alerts: Vec<(MetricId, f64)>,
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
            max_calls_per_minute: 3_000,
            alerts: Vec::new(),
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
    /// When a metric first went critical: from then on the episode is an incident's.
    pub first_critical: Option<DateTime<Utc>>,
    /// Metrics that alarmed during the episode, in the order they first did.
    pub metrics: Vec<MetricId>,
    /// Metrics that went critical, in the order they first did.
    pub critical: Vec<MetricId>,
    /// The onset each detector (a metric over the service or one feature) estimated when it
    /// alarmed.
    pub onsets: Vec<DetectorOnset>,
    pub onset: Option<DateTime<Utc>>,
    /// The alarm the triage reasons about: the strongest, and every time that changed.
    pub lead: Option<Lead>,
    pub lead_moves: Vec<LeadMove>,
}

/// The onset one detector found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorOnset {
    pub metric: MetricId,
    pub slice: Slice,
    pub at: DateTime<Utc>,
    /// Once the detector's metric went critical, its onset stays put.
    pub critical: bool,
}

/// The alarm leading an episode: a metric over the service or one feature, how bad it is and
/// how strong its evidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lead {
    pub metric: MetricId,
    pub slice: Slice,
    pub state: MetricState,
    /// Standard errors above the baseline, when the rule that fired has them.
    pub z: f64,
}

/// The lead changed: a stronger alarm took over the triage.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadMove {
    pub at: DateTime<Utc>,
    pub from: Lead,
    pub to: Lead,
    /// "Hallucination on checkout-help (critical, z 6.2) is worse than Latency p95 (warn, z 3.1)".
    pub reason: String,
}

impl Episode {
    /// The metric the triage reasons about: the lead's, else (before any lead) the first metric
    /// to go critical (quality before transport), else the first to alarm. Similarity says only
    /// that answers changed, so any metric that says how leads before it.
    pub fn primary(&self) -> MetricId {
        if let Some(lead) = self.lead {
            return lead.metric;
        }
        let telling = |m: &MetricId| m.opens_incident();
        let quality = |list: &[MetricId]| {
            list.iter()
                .copied()
                .find(|m| telling(m) && m.family() == Family::Quality)
        };
        let failure = |list: &[MetricId]| list.iter().copied().find(telling);
        quality(&self.critical)
            .or_else(|| failure(&self.critical))
            .or_else(|| quality(&self.metrics))
            .or_else(|| failure(&self.metrics))
            .or_else(|| {
                self.metrics
                    .iter()
                    .copied()
                    .find(|m| m.family().is_failure())
            })
            .unwrap_or(self.metrics[0])
    }

    /// The slice the lead alarm is on: the whole service, or one feature.
    pub fn primary_slice(&self) -> Slice {
        self.lead.map_or(Slice::Service, |lead| lead.slice)
    }
}

/// What taking in a call found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ingested {
    /// A change-point detector raised an alarm on it.
    pub raised: bool,
    /// The rate metrics it was bad on.
    pub failed: Vec<MetricId>,
    /// Its request id was taken in moments ago: it was not counted again.
    pub repeat: bool,
}

/// Everything the engine concluded at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub at: DateTime<Utc>,
    pub metrics: Vec<MetricReading>,
    pub baseline: Option<BaselineWindow>,
    pub episode: Option<Episode>,
    pub triage: Option<Triage>,
    /// The most frequent reasons outputs broke their schema over the last quarter hour.
    pub violations: Vec<ViolationCount>,
    /// The outputs' similarity to the baseline's over the current window, as a distribution.
    pub similarity: Option<SimilarityShift>,
    /// The last scheduled test of whether the inputs moved away from the baseline's.
    pub input_drift: Option<InputDrift>,
}

/// Whether recent inputs come from the baseline's distribution, and which words came and went.
#[derive(Debug, Clone, PartialEq)]
pub struct InputDrift {
    pub at: DateTime<Utc>,
    /// The recent inputs tested are those from `since` to `until`: during an incident, from the
    /// onset to the first mitigation at the latest.
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// The kernel two-sample test on the input embeddings.
    pub mmd: Option<MmdTest>,
    /// Tests in a row, this one included, whose MMD² was significant.
    pub significant_in_a_row: u32,
    /// Content-term frequencies against the baseline's.
    pub vocabulary: Option<VocabularyDrift<String>>,
}

/// A Jensen–Shannon divergence of content terms below this is sampling noise between two
/// windows of the same traffic; above it, which terms came and went is worth naming.
const VOCABULARY_SHIFT: f64 = 0.1;

impl InputDrift {
    /// The vocabulary comparison, when the terms moved enough to name them.
    pub fn vocabulary_shift(&self) -> Option<&VocabularyDrift<String>> {
        self.vocabulary
            .as_ref()
            .filter(|v| v.divergence >= VOCABULARY_SHIFT)
    }

    /// Whether the embeddings test says the inputs moved: significant twice in a row, as one
    /// test in two hundred is significant by chance and it runs 288 times a day.
    pub fn drifted(&self) -> bool {
        self.significant_in_a_row >= 2
    }
}

impl Assessment {
    pub fn reading(&self, id: MetricId) -> Option<&MetricReading> {
        self.metrics.iter().find(|r| r.id == id)
    }
}

pub struct Engine {
    config: EngineConfig,
    checks: Checks,
    interner: Interner,
    observations: VecDeque<Observation>,
    minute_counts: MinuteCounts,
    /// The current call's input terms, kept between calls for its allocation.
    input_terms: Vec<Symbol>,
    passages: PassageTerms,
    likeness: Likeness,
    /// When the references of healthy texts were last learned.
    learned_at: Option<DateTime<Utc>>,
    /// When the first baseline was ready: minutes before it were judged against nothing.
    first_baseline_at: Option<DateTime<Utc>>,
    input_drift: Option<InputDrift>,
    /// Each metric's baseline statistics for the window they were computed on: a frozen
    /// baseline is read once per episode, not once per evaluation.
    baseline_stats: Option<(BaselineWindow, Baselines)>,
    changes: ChangeLog,
    change_points: ChangePoints,
    frozen_baseline_end: Option<DateTime<Utc>>,
    /// After an episode that went critical, the baseline stays frozen until then: a whole
    /// baseline span after the episode ended, so it never learns the failure nor what
    /// mitigated it.
    quarantine_until: Option<DateTime<Utc>>,
    /// The frozen baseline as it was when it froze: its calls may since have left retention.
    frozen_window: Option<BaselineWindow>,
    episode: Option<Episode>,
    healthy_since: Option<DateTime<Utc>>,
    /// Evidence for the triage stops at the first mitigation, so it describes the failure itself.
    evidence_end: Option<DateTime<Utc>>,
    last_triage: Option<Triage>,
    /// The infrastructure queries' latest answers, from a Prometheus source.
    infra: Vec<InfraReading>,
    admission: Admission,
    repeats: RepeatedCalls,
    last_states: HashMap<(MetricId, Slice), MetricState>,
}

/// Each metric's baseline statistic over the whole service and over each feature and requested
/// model, in the order of [`MetricId::ALL`].
#[derive(Debug, Clone)]
struct Baselines {
    service: Vec<BaselineStat>,
    slices: Vec<(Slice, Vec<BaselineStat>)>,
}

impl Baselines {
    /// A slice's baseline; a canary version, which has none of its own, takes its feature's.
    fn of(&self, slice: Slice) -> Option<&[BaselineStat]> {
        let slice = match slice {
            Slice::Service => return Some(&self.service),
            Slice::Version { feature, .. } => Slice::Feature(feature),
            Slice::Feature(_) | Slice::Model(_) => slice,
        };
        self.slices
            .iter()
            .find(|(s, _)| *s == slice)
            .map(|(_, stats)| stats.as_slice())
    }
}

/// Window statistics per value of a dimension, the values in the order they first appear.
fn stats_by<'a>(
    dimension: Dimension,
    observations: impl Iterator<Item = &'a Observation>,
) -> Vec<(Symbol, WindowStats)> {
    let mut by_value: Vec<(Symbol, WindowStats)> = Vec::new();
    for observation in observations {
        let Some(value) = observation.dimension(dimension) else {
            continue;
        };
        match by_value.iter_mut().find(|(v, _)| *v == value) {
            Some((_, stats)) => stats.add(observation),
            None => {
                let mut stats = WindowStats::default();
                stats.add(observation);
                by_value.push((value, stats));
            }
        }
    }
    by_value
}

impl Engine {
    pub fn new(config: EngineConfig, schemas: SchemaRegistry) -> Self {
        Self {
            change_points: ChangePoints::new(config.calls_per_false_alarm),
            admission: Admission::new(config.max_calls_per_minute),
            repeats: RepeatedCalls::default(),
            config,
            checks: Checks {
                schemas,
                refusals: RefusalPhrases::default(),
                feature_schemas: HashMap::new(),
            },
            interner: Interner::default(),
            observations: VecDeque::new(),
            minute_counts: MinuteCounts::default(),
            input_terms: Vec::new(),
            passages: PassageTerms::default(),
            likeness: Likeness::default(),
            learned_at: None,
            first_baseline_at: None,
            input_drift: None,
            baseline_stats: None,
            changes: ChangeLog::default(),
            frozen_baseline_end: None,
            quarantine_until: None,
            frozen_window: None,
            episode: None,
            healthy_since: None,
            evidence_end: None,
            last_triage: None,
            infra: Vec::new(),
            last_states: HashMap::new(),
        }
    }

    /// The team's own refusal openings, on top of the built-in lists.
    pub fn with_refusal_phrases(mut self, refusals: RefusalPhrases) -> Self {
        self.checks.refusals = refusals;
        self
    }

    /// The infrastructure queries' latest answers, replacing earlier ones of the same names.
    pub fn set_infra(&mut self, readings: &[InfraReading]) {
        self.infra = readings.to_vec();
    }

    /// The schema each feature's answers must satisfy when a call names none (feature → schema).
    pub fn with_feature_schemas(mut self, schemas: HashMap<String, String>) -> Self {
        self.checks.feature_schemas = schemas;
        self
    }

    /// Takes in one call; a change it reveals joins the change log. Returns whether a
    /// change-point detector raised an alarm on it, so a caller that evaluates rarely can
    /// evaluate now.
    pub fn ingest_call(&mut self, call: &Call) -> bool {
        self.ingest_call_judged(call).raised
    }

    /// Takes in one call, and says which rate metrics it failed, for keeping failing examples.
    pub fn ingest_call_judged(&mut self, call: &Call) -> Ingested {
        if self.repeats.is_repeat(call.request_id.as_deref(), call.ts) {
            return Ingested {
                repeat: true,
                ..Ingested::default()
            };
        }
        let Some(weight) = self.admission.admit(call.ts) else {
            // A call left out of the sample still counts for the cheap rates, on the detectors
            // and in the minutes, and still shows a new prompt version or model.
            let observation = Observation::without_content(call, &mut self.interner);
            let raised = self.change_points.step(&observation);
            self.minute_counts.add(&observation, &[]);
            self.changes.observe_call(call);
            return Ingested {
                raised,
                ..Ingested::default()
            };
        };
        let mut observation =
            Observation::from_call(call, &self.checks, &mut self.interner, &mut self.passages);
        observation.weight = weight;
        let answered = observation.status == CallStatus::Ok;
        let judged = observation
            .dimension(Dimension::Feature)
            .map(|feature| self.likeness.judge(call, feature, answered))
            .unwrap_or_default();
        observation.similarity = judged.similarity;
        observation.unlike = judged.unlike;
        observation.novel_input = judged.novel_input;
        let raised = self.change_points.step(&observation);
        let failed = MetricId::RATES
            .into_iter()
            .filter(|id| id.is_bad(&observation) == Some(true))
            .collect();
        observation::input_terms(call, &mut self.interner, &mut self.input_terms);
        self.minute_counts.add(&observation, &self.input_terms);
        // Calls nearly always arrive in order: the search is for the few that do not.
        if self
            .observations
            .back()
            .is_none_or(|last| last.ts <= observation.ts)
        {
            self.observations.push_back(observation);
        } else {
            let at = self
                .observations
                .partition_point(|o| o.ts <= observation.ts);
            self.observations.insert(at, observation);
        }
        // Memory stays bounded however long an incident lasts: the calls of a frozen baseline
        // go with the retention (their statistics are taken once, at the freeze), and only its
        // minutes' counts and samples stay for the triage and the drift tests.
        let horizon = call.ts - self.config.retention;
        while self.observations.front().is_some_and(|o| o.ts < horizon) {
            self.observations.pop_front();
        }
        let frozen = self.frozen_window.map(|w| Span::ending_by(w.from, w.to));
        self.minute_counts.forget_before(horizon, frozen);
        // Texts are sampled only for the baselines and drift tests that can still use them.
        let sample_horizon = call.ts - self.config.baseline_lag - self.config.baseline_span;
        self.likeness.forget_before(sample_horizon, frozen);
        self.changes.observe_call(call);
        Ingested {
            raised,
            failed,
            repeat: false,
        }
    }

    /// Each minute from `from` through `to` that had calls, as an incident records it, with the
    /// baselines the incident is judged against (the assessment's, in display units) on the
    /// minutes that had a baseline at all.
    pub fn minute_samples(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        baselines: &HashMap<MetricId, f64>,
    ) -> Vec<MinuteSample> {
        let none = HashMap::new();
        self.minute_counts
            .each_minute(Span::through(from, to))
            .map(|(minute, rates, transport, stride)| {
                let judged = self
                    .first_baseline_at
                    .is_some_and(|ready| minute + Duration::minutes(1) > ready);
                let baselines = if judged { baselines } else { &none };
                let mut metrics: BTreeMap<String, MetricMinute> = MetricId::RATES
                    .iter()
                    .zip(rates)
                    .filter(|(_, p)| p.n > 0)
                    .map(|(id, p)| {
                        let value = p
                            .rate()
                            .map(|r| if id.shows_good_share() { 1.0 - r } else { r });
                        let sample = MetricMinute {
                            value,
                            bad: Some(p.bad),
                            of: Some(p.n),
                            baseline: baselines.get(id).copied(),
                        };
                        (id.key().to_string(), sample)
                    })
                    .collect();
                if let Some(p95) = transport.latency.percentile(0.95) {
                    metrics.insert(
                        MetricId::LatencyP95.key().to_string(),
                        MetricMinute {
                            value: Some(p95),
                            bad: None,
                            of: None,
                            baseline: baselines.get(&MetricId::LatencyP95).copied(),
                        },
                    );
                }
                MinuteSample {
                    minute,
                    calls: transport.failed.n,
                    stride: u64::from(stride),
                    metrics,
                }
            })
            .collect()
    }

    /// Takes in a change from a feed.
    pub fn ingest_change(&mut self, change: Change) {
        self.changes.record_feed(change);
    }

    /// How many calls were not counted because their request id had just been taken in.
    pub fn repeated_calls(&self) -> u64 {
        self.repeats.repeats()
    }

    pub fn changes(&self) -> &[ChangeRecord] {
        self.changes.records()
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Forgets the current episode (its alarms, onsets, lead and triage) so the next evaluation
    /// starts a new one, as a newly declared incident needs; the baseline stays as frozen.
    pub fn restart_episode(&mut self) {
        self.episode = None;
        self.healthy_since = None;
        self.evidence_end = None;
        self.last_triage = None;
    }

    /// Marks the first mitigation: later calls no longer count as evidence for the triage.
    pub fn mark_mitigation(&mut self, at: DateTime<Utc>) {
        if self.episode.is_some() {
            self.evidence_end.get_or_insert(at);
        }
    }

    /// The most frequent schema violations over the whole minutes from `from` to `to`.
    pub fn schema_violations(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Vec<ViolationCount> {
        self.minute_counts
            .violations(Span::through(from, to))
            .into_iter()
            .take(limit)
            .map(|((schema, reason), calls)| ViolationCount {
                schema: self.interner.name(schema).to_string(),
                reason: self.interner.name(reason).to_string(),
                calls,
            })
            .collect()
    }

    pub fn evaluate(&mut self, now: DateTime<Utc>) -> Assessment {
        let baseline = self.baseline_window(now);
        if baseline.is_some() && self.first_baseline_at.is_none() {
            self.first_baseline_at = Some(now);
        }
        if let Some(window) = baseline
            && !window.frozen
            && self.learned_at.is_none_or(|at| {
                let full = window.to - window.from >= self.config.baseline_span;
                now - at >= if full { RELEARN_EVERY } else { RELEARN_GROWING }
            })
        {
            self.likeness.learn(window.from, window.to);
            self.learned_at = Some(now);
        }
        if let Some(window) = baseline
            && self
                .baseline_stats
                .as_ref()
                .is_none_or(|(known, _)| (known.from, known.to) != (window.from, window.to))
        {
            let mut whole = WindowStats::of(slice(&self.observations, window.from, window.to));
            let mut by_slice: Vec<(Slice, WindowStats)> = self
                .group_baselines(Dimension::Feature, Slice::Feature, window)
                .into_iter()
                .chain(self.group_baselines(Dimension::ModelRequested, Slice::Model, window))
                .collect();
            self.change_points.arm(&mut whole, &mut by_slice, now);
            let mut service: Vec<BaselineStat> = MetricId::ALL
                .iter()
                .map(|id| BaselineStat::of(*id, &mut whole))
                .collect();
            // Similarity and drift are judged against the references' own held-out baseline
            // texts: the calls of the baseline window were judged, if at all, by older ones.
            for (id, side) in [
                (MetricId::Similarity, Side::Output),
                (MetricId::InputDrift, Side::Input),
            ] {
                let calibration = self.likeness.calibration(side);
                self.change_points.arm_rate(id, calibration);
                if let Some(i) = MetricId::ALL.iter().position(|m| *m == id) {
                    service[i] = BaselineStat::Rate(calibration);
                }
            }
            let slices = by_slice
                .iter_mut()
                .map(|(slice, stats)| {
                    let per_metric = MetricId::ALL
                        .iter()
                        .map(|id| BaselineStat::of(*id, stats))
                        .collect();
                    (*slice, per_metric)
                })
                .collect();
            self.baseline_stats = Some((window, Baselines { service, slices }));
        }
        let slices: Vec<Slice> = self.change_points.slices().collect();
        let mut windows = RecentWindows::at(&self.observations, now, &self.config, &slices);
        let mut last_states = std::mem::take(&mut self.last_states);
        let metrics: Vec<MetricReading> = MetricId::ALL
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let baselines = baseline.zip(self.baseline_stats.as_ref().map(|(_, b)| b));
                self.read(*id, i, now, baselines, &mut windows, &mut last_states)
            })
            .collect();
        self.last_states = last_states;
        self.track_episode(now, &metrics);
        if let (Some(episode), Some(window)) = (self.episode.as_mut(), baseline) {
            let end = self.evidence_end.unwrap_or(now).min(now);
            let primary = episode.primary();
            let lead_slice = episode.primary_slice();
            let p0 = self.baseline_stats.as_ref().and_then(|(_, stats)| {
                let index = MetricId::ALL.iter().position(|id| *id == primary)?;
                let per_metric = stats.of(lead_slice)?;
                match per_metric[index] {
                    BaselineStat::Rate(base) => base.rate(),
                    _ => None,
                }
            });
            episode.onset = Self::estimate_onset(episode, window, end, self.config.window).map(
                |onset| match p0 {
                    Some(p0) => {
                        refine_onset(&self.observations, (primary, lead_slice), p0, onset, end)
                    }
                    None => onset,
                },
            );
        }
        if let Some(window) = baseline
            && self
                .input_drift
                .as_ref()
                .is_none_or(|d| now - d.at >= DRIFT_EVERY || now < d.at)
        {
            self.input_drift = Some(self.test_input_drift(window, now));
        }
        let fresh_infra: Vec<InfraReading> = self
            .infra
            .iter()
            .filter(|r| now - r.at <= INFRA_FRESH)
            .cloned()
            .collect();
        let triage = match (&self.episode, baseline) {
            (Some(episode), Some(window)) => episode.onset.map(|onset| {
                triage::assess(&triage::Evidence {
                    observations: &self.observations,
                    minutes: &self.minute_counts,
                    interner: &self.interner,
                    changes: self.changes.records(),
                    episode,
                    baseline: window,
                    onset,
                    input_drift: self.input_drift.as_ref(),
                    infra: &fresh_infra,
                    end: self.evidence_end.unwrap_or(now).min(now),
                    now,
                    prompt_window: self.config.prompt_window,
                    onset_tolerance: onset_tolerance(
                        &self.observations,
                        (episode.primary(), episode.primary_slice()),
                        onset,
                        self.config.onset_tolerance,
                    ),
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
            violations: self.schema_violations(now - Duration::minutes(15), now, VIOLATIONS_SHOWN),
            similarity: self.similarity_shift(now),
            input_drift: self.input_drift.clone(),
        }
    }

    /// Tests the inputs since the onset (at most [`DRIFT_RECENT_MAX`] back) during an episode,
    /// else over the last [`DRIFT_RECENT`], against the baseline's.
    fn test_input_drift(&self, window: BaselineWindow, now: DateTime<Utc>) -> InputDrift {
        // Like the triage's other evidence, the inputs tested stop at the first mitigation.
        let until = self.evidence_end.unwrap_or(now).min(now);
        let since = match self.episode.as_ref().and_then(|e| e.onset) {
            Some(onset) => onset.max(until - DRIFT_RECENT_MAX),
            None => until - DRIFT_RECENT,
        };
        let base_span = Span::ending_by(window.from, window.to);
        let vocabulary = vocabulary_drift(
            &self.minute_counts.terms(base_span),
            &self.minute_counts.terms(Span::through(since, until)),
            TERMS_SHOWN,
        )
        .map(|drift| {
            let name = |terms: Vec<(Symbol, f64, f64)>| {
                terms
                    .into_iter()
                    .map(|(term, now, before)| (self.interner.name(term).to_string(), now, before))
                    .collect()
            };
            VocabularyDrift {
                divergence: drift.divergence,
                new_terms: name(drift.new_terms),
                vanished_terms: name(drift.vanished_terms),
            }
        });
        let mmd = self
            .likeness
            .input_drift((window.from, window.to), (since, until));
        let significant =
            mmd.is_some_and(|t| t.mmd2 > t.threshold && t.p_value <= likeness::DRIFT_ALPHA);
        let before = self
            .input_drift
            .as_ref()
            .map_or(0, |d| d.significant_in_a_row);
        InputDrift {
            at: now,
            since,
            until,
            mmd,
            significant_in_a_row: if significant { before + 1 } else { 0 },
            vocabulary,
        }
    }

    /// The median similarity of the current window's outputs against the baseline's.
    fn similarity_shift(&self, now: DateTime<Utc>) -> Option<SimilarityShift> {
        let (baseline_median, threshold) = self.likeness.output_yardstick()?;
        let mut recent: Vec<f64> = slice(&self.observations, now - self.config.window, now)
            .filter_map(|o| o.similarity.map(f64::from))
            .collect();
        Some(SimilarityShift {
            median: stats::percentile(&mut recent, 0.5)?,
            baseline_median,
            threshold,
        })
    }

    /// One call kept in how many: 1 until traffic passes `max_calls_per_minute`.
    pub fn sampling_stride(&self) -> u64 {
        self.admission.stride()
    }

    /// The baseline of each value of a dimension (each feature, each requested model) as a
    /// slice of its own, or none when the dimension has a single value, which is the service.
    /// Its rates are learned over a longer span than the service's, since a quiet feature's hour
    /// holds too few calls to tell a five-point rise from chance; a group under suspicion
    /// learns them only from before its detector's run.
    fn group_baselines(
        &self,
        dimension: Dimension,
        slice_of: fn(Symbol) -> Slice,
        window: BaselineWindow,
    ) -> Vec<(Slice, WindowStats)> {
        let groups = stats_by(dimension, slice(&self.observations, window.from, window.to));
        if groups.len() < 2 {
            return Vec::new();
        }
        let first = self.observations.front().map_or(window.from, |o| o.ts);
        let rates_until = |to: DateTime<Utc>| {
            let from = (to - FEATURE_BASELINE_SPAN).max(first).min(window.from);
            self.minute_counts
                .rates_by_value(dimension, Span::ending_by(from, to))
        };
        let rates = rates_until(window.to);
        groups
            .into_iter()
            .map(|(value, stats)| {
                let slice = slice_of(value);
                let suspect = self
                    .change_points
                    .suspected_since(slice)
                    .filter(|at| *at < window.to && window.to - *at <= MAX_SUSPICION);
                let counters = match suspect {
                    Some(at) => rates_until(at).into_iter().find(|(v, _)| *v == value),
                    None => rates.iter().find(|(v, _)| *v == value).copied(),
                };
                let stats = match counters {
                    Some((_, counters)) => stats.with_rates(counters),
                    None => stats,
                };
                (slice, stats)
            })
            .collect()
    }

    /// When the first baseline will be ready: enough history, ending `baseline_lag` ago.
    pub fn baseline_ready_at(&self) -> Option<DateTime<Utc>> {
        let first = self.observations.front()?.ts;
        Some(first + self.config.baseline_minimum + self.config.baseline_lag)
    }

    fn baseline_window(&mut self, now: DateTime<Utc>) -> Option<BaselineWindow> {
        if self.frozen_window.is_some() {
            return self.frozen_window;
        }
        let first = self.observations.front()?.ts;
        let to = self
            .frozen_baseline_end
            .unwrap_or(now - self.config.baseline_lag);
        if to - first < self.config.baseline_minimum {
            return None;
        }
        let from = (to - self.config.baseline_span).max(first);
        let window = BaselineWindow {
            from,
            to,
            calls: slice(&self.observations, from, to).len(),
            frozen: self.frozen_baseline_end.is_some(),
        };
        if window.frozen {
            self.frozen_window = Some(window);
        }
        Some(window)
    }

    fn track_episode(&mut self, now: DateTime<Utc>, metrics: &[MetricReading]) {
        // Inputs that moved and answers unlike the baseline's join an episode a failure opened,
        // but do not open one.
        let alarming: Vec<&MetricReading> = metrics
            .iter()
            .filter(|r| r.state.is_alarm() && r.id.family() != Family::Volume)
            .collect();
        if !alarming.iter().any(|r| r.id.opens_incident()) {
            let since = *self.healthy_since.get_or_insert(now);
            if now - since >= self.config.recovery_hold {
                // Only an episode that went critical, as incidents open on: a passing warning
                // does not hold the baseline back.
                if self.episode.take().is_some_and(|e| !e.critical.is_empty()) {
                    let clean = self.config.baseline_lag + self.config.baseline_span;
                    self.quarantine_until = Some(now + clean);
                }
                self.evidence_end = None;
                self.last_triage = None;
                if self.quarantine_until.is_none_or(|until| now >= until) {
                    self.quarantine_until = None;
                    self.frozen_baseline_end = None;
                    self.frozen_window = None;
                }
            }
            return;
        }
        self.healthy_since = None;
        let episode = self.episode.get_or_insert_with(|| Episode {
            first_alarm: now,
            first_critical: None,
            metrics: Vec::new(),
            critical: Vec::new(),
            onsets: Vec::new(),
            onset: None,
            lead: None,
            lead_moves: Vec::new(),
        });
        self.frozen_baseline_end
            .get_or_insert(now - self.config.baseline_lag);
        // After the first mitigation the episode stays what it was: alarms that begin then (a
        // fallback's, a rollback's) and the lead moves they would cause are the mitigation's.
        if self.evidence_end.is_some_and(|end| now > end) {
            return;
        }
        for reading in &alarming {
            for (part, change_onset) in alarm_parts(reading) {
                // Until a detector's metric goes critical, a detector that cleared and alarmed
                // again found a new change: its onset replaces the old one, so a chance warning
                // early in the episode does not date the incident; once critical, it stays put.
                let Some(at) = change_onset else {
                    continue;
                };
                let known = episode
                    .onsets
                    .iter_mut()
                    .find(|o| o.metric == reading.id && o.slice == part.slice);
                let critical = part.state == MetricState::Critical;
                match known {
                    Some(known) if !known.critical => {
                        known.at = at;
                        known.critical = critical;
                    }
                    Some(_) => {}
                    None => episode.onsets.push(DetectorOnset {
                        metric: reading.id,
                        slice: part.slice,
                        at,
                        critical,
                    }),
                }
            }
            if !episode.metrics.contains(&reading.id) {
                episode.metrics.push(reading.id);
            }
            if reading.state == MetricState::Critical && !episode.critical.contains(&reading.id) {
                episode.critical.push(reading.id);
                episode.first_critical.get_or_insert(now);
            }
        }
        let parts: Vec<Lead> = alarming
            .iter()
            .filter(|r| r.id.opens_incident())
            .flat_map(|r| alarm_parts(r))
            .map(|(part, _)| part)
            .collect();
        // Once the episode is an incident's (a metric went critical), a change that began long
        // after is a second failure under way, not a better account of the first: it cannot take
        // the lead, nor move the onset. Before, a warning's lead is anyone's.
        let reach = episode.first_critical.map(|at| at + LEAD_REACH);
        let began_in_reach = |part: &Lead| {
            let onset = episode
                .onsets
                .iter()
                .find(|o| o.metric == part.metric && o.slice == part.slice);
            reach.is_none_or(|reach| onset.is_none_or(|o| o.at <= reach))
        };
        let strongest = parts
            .iter()
            .filter(|part| episode.lead.is_none() || began_in_reach(part))
            .max_by(|a, b| lead_order(a, b))
            .copied();
        if let Some(candidate) = strongest {
            // The lead as it stands now: an alarm that has since cleared has no strength left.
            let standing = episode.lead.map(|lead| {
                parts
                    .iter()
                    .copied()
                    .find(|p| p.metric == lead.metric && p.slice == lead.slice)
                    .unwrap_or(Lead {
                        state: MetricState::Ok,
                        z: 0.0,
                        ..lead
                    })
            });
            match standing {
                None => episode.lead = Some(candidate),
                Some(current) if takes_the_lead(&candidate, &current) => {
                    let reason = if current.state.is_alarm() {
                        format!(
                            "{} {} {}",
                            describe_lead(&candidate, &self.interner),
                            outranks(&candidate, &current),
                            describe_lead(&current, &self.interner)
                        )
                    } else {
                        format!(
                            "{} leads now that {} no longer alarms",
                            describe_lead(&candidate, &self.interner),
                            current.metric.label()
                        )
                    };
                    episode.lead_moves.push(LeadMove {
                        at: now,
                        from: current,
                        to: candidate,
                        reason,
                    });
                    episode.lead = Some(candidate);
                }
                Some(current) => episode.lead = Some(current),
            }
        }
    }

    /// The onset of the lead's detector, else the earliest among the others; with no detector
    /// alarm (a limit fired alone), the start of the window that fired.
    fn estimate_onset(
        episode: &Episode,
        baseline: BaselineWindow,
        end: DateTime<Utc>,
        window: Duration,
    ) -> Option<DateTime<Utc>> {
        let primary = episode.primary();
        let lead_slice = episode.primary_slice();
        // Proxies and inputs date the incident only when nothing else can.
        let secondary = |id: MetricId| !id.opens_incident();
        let earliest = |secondary_too: bool| {
            episode
                .onsets
                .iter()
                .filter(|o| secondary_too || !secondary(o.metric))
                .min_by_key(|o| o.at)
        };
        let onset = episode
            .onsets
            .iter()
            .find(|o| o.metric == primary && o.slice == lead_slice)
            .or_else(|| episode.onsets.iter().find(|o| o.metric == primary))
            .or_else(|| earliest(false))
            .or_else(|| earliest(true))
            .map(|o| o.at)
            .unwrap_or(episode.first_alarm - window);
        (onset < end).then_some(onset.max(baseline.to))
    }

    #[allow(clippy::too_many_arguments)]
    fn read(
        &self,
        id: MetricId,
        index: usize,
        now: DateTime<Utc>,
        baselines: Option<(BaselineWindow, &Baselines)>,
        windows: &mut RecentWindows,
        last_states: &mut HashMap<(MetricId, Slice), MetricState>,
    ) -> MetricReading {
        let five = self.config.window.num_minutes() as f64;
        let (value, samples) = measure(id, &mut windows.current, five);
        let alarms: Vec<SliceAlarm> = self.change_points.alarms(id).collect();
        let alarm_on = |slice: Slice| alarms.iter().find(|a| a.slice == slice).map(|a| a.alarm);
        let service_alarm = alarm_on(Slice::Service);
        let alert = self
            .config
            .alerts
            .iter()
            .find(|(metric, _)| *metric == id)
            .map(|(_, threshold)| *threshold);
        let (comparison, mut rule, z) = match baselines {
            None => (Comparison::default(), None, None),
            Some((b, stats)) => {
                let base = stats.service[index];
                let minutes = (b.to - b.from).num_seconds() as f64 / 60.0;
                let limit = judge(id, &mut windows.current, base, minutes, five);
                let limit_z = limit_z(id, &limit);
                let (change, change_z) = service_alarm.map_or((MetricState::Ok, None), |a| {
                    judge_change(id, &mut self.since_onset(id, Slice::Service, a, now), base)
                });
                let (alert_state, alert_z) =
                    judge_alert_on(id, alert, windows.current.proportion(id), base);
                let (comparison, rule) = combine(limit, change, alert_state);
                let z = [change_z, alert_z, limit_z]
                    .into_iter()
                    .flatten()
                    .max_by(f64::total_cmp);
                (comparison, rule, z)
            }
        };
        let service_state = hold_alarm(
            last_states,
            (id, Slice::Service),
            comparison.state,
            &mut rule,
            worse_than_warn(id, comparison.delta, comparison.baseline),
        );
        let mut slices = Vec::new();
        if let Some((_, stats)) = baselines.filter(|_| id.opens_incident()) {
            for (slice, current) in windows.by_slice.iter_mut() {
                let slice = *slice;
                let Some(per_metric) = stats.of(slice) else {
                    continue;
                };
                let base = per_metric[index];
                let (change, change_z) = alarm_on(slice).map_or((MetricState::Ok, None), |a| {
                    judge_change(id, &mut self.since_onset(id, slice, a, now), base)
                });
                let (alert_state, alert_z) =
                    judge_alert_on(id, alert, current.proportion(id), base);
                let (now_value, calls) = measure(id, current, five);
                let baseline = baseline_value(id, base);
                let delta = now_value.zip(baseline).map(|(n, b)| n - b);
                let (combined, mut slice_rule) = combine(
                    Comparison {
                        baseline,
                        state: MetricState::Ok,
                        delta,
                        half_width: None,
                    },
                    change,
                    alert_state,
                );
                let state = hold_alarm(
                    last_states,
                    (id, slice),
                    combined.state,
                    &mut slice_rule,
                    worse_than_warn(id, delta, baseline),
                );
                if state.is_alarm() {
                    slices.push(SliceReading {
                        slice,
                        name: slice.name(&self.interner),
                        now: now_value,
                        baseline,
                        delta,
                        samples: calls,
                        state,
                        rule: slice_rule,
                        change_onset: alarm_on(slice).map(|a| a.onset),
                        z: change_z.into_iter().chain(alert_z).max_by(f64::total_cmp),
                    });
                }
            }
        }
        slices.sort_by(|a, b| {
            (b.state, b.z.unwrap_or(0.0))
                .partial_cmp(&(a.state, a.z.unwrap_or(0.0)))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let worst_slice = slices.first().filter(|s| s.state > service_state);
        MetricReading {
            id,
            now: value,
            last_minute: measure(id, &mut windows.last_minute, 1.0).0,
            last_quarter_hour: measure(id, &mut windows.quarter_hour, 15.0).0,
            baseline: comparison.baseline,
            delta: comparison.delta,
            half_width: comparison.half_width,
            samples,
            state: worst_slice.map_or(service_state, |s| s.state),
            service_state,
            rule: worst_slice.map_or(rule, |s| s.rule),
            change_onset: service_alarm.map(|a| a.onset),
            z,
            trend: windows
                .trend
                .iter_mut()
                .map(|minute| measure(id, minute, 1.0).0)
                .collect(),
            slices,
        }
    }

    /// The calls of a slice since its detector's onset (two hours back at most), so a change is
    /// neither diluted by the calls before it nor judged on the last few minutes alone, which a
    /// quiet feature or an intermittent failure leaves thin; and the recent part of them, the
    /// last window or the last calls carrying the metric, which says whether it still holds.
    fn since_onset(
        &self,
        id: MetricId,
        slice: Slice,
        alarm: CusumAlarm,
        now: DateTime<Utc>,
    ) -> ChangeEvidence {
        let from = alarm.onset.max(now - CHANGE_LOOKBACK);
        let window_start = now - self.config.window;
        let mut evidence = ChangeEvidence::default();
        let mut carrying = 0;
        for observation in self::slice(&self.observations, from, now)
            .rev()
            .filter(|o| slice.contains(o))
        {
            evidence.since_onset.add(observation);
            if observation.ts >= window_start || carrying < RECENT_EVIDENCE_CALLS {
                evidence.recent.add(observation);
                carrying += u64::from(carries(id, observation));
            }
        }
        evidence
    }
}

/// Calls carrying a metric that tell whether its change still holds, where the last window has
/// fewer.
const RECENT_EVIDENCE_CALLS: u64 = 100;

/// Whether a call says anything about a metric.
fn carries(id: MetricId, observation: &Observation) -> bool {
    match id.measure() {
        Measure::Rate => id.is_bad(observation).is_some(),
        Measure::Latency(_) => observation.status == CallStatus::Ok,
        Measure::Throughput => true,
    }
}

/// How far back from now the change since a detector's onset is measured, at most.
const CHANGE_LOOKBACK: Duration = Duration::hours(2);
/// How much history a feature's baseline rates are learned from, where the calls go back so far.
const FEATURE_BASELINE_SPAN: Duration = Duration::hours(3);

/// A run under suspicion longer than this would have alarmed by now were it a change: past it,
/// the feature's baseline learns again rather than go stale.
const MAX_SUSPICION: Duration = Duration::hours(1);

/// A baseline statistic in display units.
fn baseline_value(id: MetricId, base: BaselineStat) -> Option<f64> {
    match base {
        BaselineStat::Rate(p) => p
            .rate()
            .map(|r| if id.shows_good_share() { 1.0 - r } else { r }),
        BaselineStat::Latency { value, .. } => value,
        BaselineStat::Calls(_) => None,
    }
}

/// The z of the limit rule's comparison, worse being positive.
fn limit_z(id: MetricId, limit: &Comparison) -> Option<f64> {
    let (delta, half_width) = (limit.delta?, limit.half_width?);
    let sign = if id.shows_good_share() { -1.0 } else { 1.0 };
    (half_width > 0.0).then(|| sign * delta / (half_width / stats::Z95))
}

/// The team's alert threshold on a rate metric, when it set one.
fn judge_alert_on(
    id: MetricId,
    threshold: Option<f64>,
    recent: Proportion,
    base: BaselineStat,
) -> (MetricState, Option<f64>) {
    match (threshold, base) {
        (Some(threshold), BaselineStat::Rate(baseline)) => {
            judge_alert(id, recent, baseline, threshold)
        }
        _ => (MetricState::Ok, None),
    }
}

/// An alarm starts on significance but ends on effect size: a metric stays at warn while its
/// change still exceeds the warn limit, so intermittent failures do not flap to ok.
fn hold_alarm(
    last_states: &mut HashMap<(MetricId, Slice), MetricState>,
    key: (MetricId, Slice),
    state: MetricState,
    rule: &mut Option<Rule>,
    still_worse: bool,
) -> MetricState {
    let was_alarming = last_states.get(&key).is_some_and(|s| s.is_alarm());
    let state = if was_alarming && state == MetricState::Ok && still_worse {
        rule.get_or_insert(Rule::Threshold);
        MetricState::Warn
    } else {
        state
    };
    last_states.insert(key, state);
    state
}

/// One alarming part of a reading: the service's alarm, and each feature's.
fn alarm_parts(reading: &MetricReading) -> Vec<(Lead, Option<DateTime<Utc>>)> {
    let service = reading.service_state.is_alarm().then(|| {
        (
            Lead {
                metric: reading.id,
                slice: Slice::Service,
                state: reading.service_state,
                z: reading.z.unwrap_or(0.0),
            },
            reading.change_onset,
        )
    });
    service
        .into_iter()
        .chain(reading.slices.iter().map(|s| {
            (
                Lead {
                    metric: reading.id,
                    slice: s.slice,
                    state: s.state,
                    z: s.z.unwrap_or(0.0),
                },
                s.change_onset,
            )
        }))
        .collect()
}

/// Leads compare by state, then quality before transport, then a verdict on the answer (an
/// evaluator's label, a refusal, a schema) before a proxy (groundedness, thumbs), then the order
/// of [`MetricId::ALL`], then the evidence.
fn lead_rank(lead: &Lead) -> (MetricState, bool, bool) {
    let proxy = matches!(lead.metric, MetricId::Grounded | MetricId::Feedback);
    (lead.state, lead.metric.family() == Family::Quality, !proxy)
}

fn lead_order(a: &Lead, b: &Lead) -> std::cmp::Ordering {
    let telling =
        |lead: &Lead| std::cmp::Reverse(MetricId::ALL.iter().position(|m| *m == lead.metric));
    // A requested model's calls span features: one feature's failure shows there too, and the
    // feature, which the triage can reason about, is the better lead.
    let specific = |lead: &Lead| !matches!(lead.slice, Slice::Model(_));
    (lead_rank(a), telling(a), specific(a))
        .cmp(&(lead_rank(b), telling(b), specific(b)))
        .then(a.z.total_cmp(&b.z))
}

/// Whether a candidate takes the lead: it ranks higher, or the lead's own evidence is not yet
/// significant and the candidate's is much stronger. Two significant alarms of one rank are one
/// incident seen twice, and the lead stays put rather than flap between them.
fn takes_the_lead(candidate: &Lead, current: &Lead) -> bool {
    if (candidate.metric, candidate.slice) == (current.metric, current.slice) {
        return false;
    }
    let (candidate_rank, current_rank) = (lead_rank(candidate), lead_rank(current));
    if candidate_rank != current_rank {
        return candidate_rank > current_rank;
    }
    current.z < LEAD_Z && candidate.z >= 1.5 * current.z && candidate.z >= current.z + 2.0
}

/// Why a candidate took the lead, in the words of [`lead_rank`]: "is critical where" and so on.
fn outranks(candidate: &Lead, current: &Lead) -> &'static str {
    let ((state, quality, verdict), (was_state, was_quality, was_verdict)) =
        (lead_rank(candidate), lead_rank(current));
    if state != was_state {
        "is worse than"
    } else if quality != was_quality {
        "is a quality failure, which comes before transport:"
    } else if verdict != was_verdict {
        "is a verdict on the answers, which comes before a proxy:"
    } else {
        "has much stronger evidence than"
    }
}

/// Evidence this strong (in standard errors) is a real change, not a chance alarm.
const LEAD_Z: f64 = 4.0;

/// "Hallucination on checkout-help (critical, z 6.2)".
fn describe_lead(lead: &Lead, interner: &Interner) -> String {
    let place = match lead.slice {
        Slice::Service => String::new(),
        slice => format!(" on {}", slice.name(interner)),
    };
    format!(
        "{}{place} ({}, z {:.1})",
        lead.metric.label(),
        lead.state,
        lead.z
    )
}

/// The recent windows every reading is taken over, each read once per evaluation.
struct RecentWindows {
    last_minute: WindowStats,
    current: WindowStats,
    /// The current window of each slice watched beside the service.
    by_slice: Vec<(Slice, WindowStats)>,
    quarter_hour: WindowStats,
    /// One per minute of the trend, the oldest first.
    trend: Vec<WindowStats>,
}

impl RecentWindows {
    /// One pass over the quarter hour fills the shorter windows that end with it.
    fn at(
        observations: &VecDeque<Observation>,
        now: DateTime<Utc>,
        config: &EngineConfig,
        slices: &[Slice],
    ) -> Self {
        let quarter_start = now - Duration::minutes(15);
        let current_start = now - config.window;
        let minute_start = now - Duration::minutes(1);
        let mut last_minute = WindowStats::default();
        let mut current = WindowStats::default();
        let mut quarter_hour = WindowStats::default();
        // The current window is configurable and may reach back further than the quarter hour.
        let earliest = quarter_start.min(current_start);
        for observation in slice(observations, earliest, now) {
            if observation.ts >= quarter_start {
                quarter_hour.add(observation);
            }
            if observation.ts >= current_start {
                current.add(observation);
            }
            if observation.ts >= minute_start {
                last_minute.add(observation);
            }
        }
        let mut by_slice: Vec<(Slice, WindowStats)> = slices
            .iter()
            .map(|s| (*s, WindowStats::default()))
            .collect();
        if !by_slice.is_empty() {
            for observation in slice(observations, current_start, now) {
                for (s, stats) in &mut by_slice {
                    if s.contains(observation) {
                        stats.add(observation);
                    }
                }
            }
        }
        Self {
            last_minute,
            current,
            by_slice,
            quarter_hour,
            trend: (0..config.trend_minutes as i64)
                .rev()
                .map(|ago| {
                    let end = now - Duration::minutes(ago);
                    WindowStats::of(slice(observations, end - Duration::minutes(1), end))
                })
                .collect(),
        }
    }
}

/// Observations with `from <= ts < to`.
fn slice(
    observations: &VecDeque<Observation>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> std::collections::vec_deque::Iter<'_, Observation> {
    let start = observations.partition_point(|o| o.ts < from);
    let end = observations.partition_point(|o| o.ts < to);
    observations.range(start..end.max(start))
}

/// The detector's last reset can come well before the change when its score wandered up by
/// chance first; the maximum-likelihood change point of a step from the baseline rate `p0` to
/// the rate seen since then, within that excursion, is closer to the change itself. Only the
/// first [`REFINE_CALLS`] calls after the detector's onset are read: the change lies near it.
fn refine_onset(
    observations: &VecDeque<Observation>,
    (primary, lead_slice): (MetricId, Slice),
    p0: f64,
    onset: DateTime<Utc>,
    end: DateTime<Utc>,
) -> DateTime<Utc> {
    let since = || {
        slice(observations, onset, end)
            .filter(move |o| lead_slice.contains(o))
            .take(REFINE_CALLS)
    };
    let Some(p1) = proportion(primary, since()).rate() else {
        return onset;
    };
    if p1 <= p0 {
        return onset;
    }
    let outcomes = since().filter_map(|o| primary.is_bad(o).map(|bad| (o.ts, bad)));
    cusum_onset(outcomes, p0, p1).map_or(onset, |refined| refined.max(onset))
}

/// How long after an episode first went critical a change can still take its lead: a quiet cause
/// seen after a louder early blip, not a second failure hours later.
const LEAD_REACH: Duration = Duration::minutes(30);

/// Bad calls a quiet slice must have seen after the onset before its estimate is trusted to
/// the minute: the onset falls at about the first bad call, so one or two may arrive before it.
const ONSET_BAD_CALLS: f64 = 3.0;

/// The longest a slice's quiet traffic widens the onset tolerance.
const MAX_ONSET_TOLERANCE: Duration = Duration::minutes(10);

/// How long after the estimated onset a change can still be its cause: the configured
/// tolerance, or on a quiet slice the time its calls took to show [`ONSET_BAD_CALLS`] bad ones
/// at the rate since the onset, since the estimate is uncertain by that much.
fn onset_tolerance(
    observations: &VecDeque<Observation>,
    (primary, lead_slice): (MetricId, Slice),
    onset: DateTime<Utc>,
    configured: Duration,
) -> Duration {
    let horizon = onset + MAX_ONSET_TOLERANCE;
    let carrying = || {
        slice(observations, onset, horizon)
            .filter(move |o| lead_slice.contains(o))
            .filter_map(move |o| primary.is_bad(o).map(|bad| (o.ts, bad)))
    };
    let since = slice(
        observations,
        onset,
        observations.back().map_or(onset, |o| o.ts),
    )
    .filter(|o| lead_slice.contains(o));
    let Some(p1) = proportion(primary, since.take(REFINE_CALLS)).rate() else {
        return configured;
    };
    if p1 <= 0.0 {
        return configured;
    }
    let needed = (ONSET_BAD_CALLS / p1).ceil() as usize;
    let reached = carrying().nth(needed.saturating_sub(1)).map(|(ts, _)| ts);
    let span = reached.map_or(MAX_ONSET_TOLERANCE, |ts| ts - onset);
    span.clamp(configured, configured.max(MAX_ONSET_TOLERANCE))
}

/// Enough calls to place a change from 2% to 5% (the slowest the detectors are tuned to) many
/// times over, and a bound on the work at high traffic.
const REFINE_CALLS: usize = 5_000;

fn proportion<'a>(id: MetricId, observations: impl Iterator<Item = &'a Observation>) -> Proportion {
    let mut proportion = Proportion::default();
    for bad in observations.filter_map(|o| id.is_bad(o)) {
        proportion.add(bad);
    }
    proportion
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

    /// Observations of calls `seconds_apart` from the start, the `i`th hallucinated when `bad(i)`.
    fn observations(
        count: i64,
        seconds_apart: i64,
        bad: impl Fn(i64) -> bool,
    ) -> VecDeque<Observation> {
        let mut interner = Interner::default();
        (0..count)
            .map(|i| {
                let mut call = call(i, bad(i), 900.0);
                call.ts = start() + Duration::seconds(seconds_apart * i);
                Observation::from_call(
                    &call,
                    &Default::default(),
                    &mut interner,
                    &mut Default::default(),
                )
            })
            .collect()
    }

    #[test]
    fn a_quiet_slice_widens_the_onset_tolerance_by_the_time_it_took_to_show_three_bad_calls() {
        let configured = Duration::minutes(2);
        let lead = (MetricId::Hallucination, Slice::Service);
        // Three calls a minute, one in eight bad (the last call closes the span): the first 24
        // calls, 7 min 40 s of them, hold three bad ones.
        let quiet = observations(121, 20, |i| i % 8 == 7);
        let tolerance = onset_tolerance(&quiet, lead, start(), configured);
        assert_eq!(tolerance, Duration::seconds(20 * 23));
        // A call every 2 seconds, one in four bad: twelve calls take 24 s, under the configured.
        let busy = observations(600, 2, |i| i % 4 == 3);
        assert_eq!(
            onset_tolerance(&busy, lead, start(), configured),
            configured
        );
        // A call a minute, one in ten bad: thirty calls would take half an hour; capped.
        let sparse = observations(90, 60, |i| i % 10 == 9);
        assert_eq!(
            onset_tolerance(&sparse, lead, start(), configured),
            MAX_ONSET_TOLERANCE
        );
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
    fn an_alarm_holds_while_the_effect_persists_and_clears_when_it_ends() {
        let mut engine = engine();
        feed(&mut engine, 0, 1200, |i| i % 25 == 0, 900.0);
        let a = feed(&mut engine, 1200, 1380, |i| i % 9 < 2, 900.0);
        assert_eq!(state(&a, MetricId::Hallucination), MetricState::Critical);
        // About 10%: not significant over the last window alone, but still 6 points over the
        // baseline since the onset, which is more than the smallest rise that matters.
        let a = feed(&mut engine, 1380, 1530, |i| i % 10 == 0, 900.0);
        assert!(state(&a, MetricId::Hallucination).is_alarm());
        let a = feed(&mut engine, 1530, 1700, |i| i % 25 == 0, 900.0);
        assert_eq!(state(&a, MetricId::Hallucination), MetricState::Ok);
        assert!(
            a.baseline.unwrap().frozen,
            "the baseline stays frozen during the episode"
        );
    }

    /// Feeds minute by minute, evaluating after each, up to call `to`.
    fn feed_minutes(
        engine: &mut Engine,
        from: i64,
        to: i64,
        bad: impl Fn(i64) -> bool,
    ) -> Assessment {
        let mut last = None;
        for minute in (from..to).step_by(30) {
            last = Some(feed(engine, minute, (minute + 30).min(to), &bad, 900.0));
        }
        last.expect("at least a minute")
    }

    #[test]
    fn after_a_critical_episode_the_baseline_learns_nothing_of_it_for_a_whole_span() {
        let mut engine = engine();
        feed(&mut engine, 0, 1200, |i| i % 25 == 0, 900.0);
        // Ten minutes at 25%, from minute 40.
        let a = feed_minutes(&mut engine, 1200, 1500, |i| i % 4 == 0);
        assert_eq!(state(&a, MetricId::Hallucination), MetricState::Critical);
        let frozen = a.baseline.unwrap();
        // An hour back at 4%: the episode ends, and the baseline is still the one from before it,
        // where an unfrozen one (minutes 35 to 95) would hold the bad ten minutes, about 7.5%.
        let a = feed_minutes(&mut engine, 1500, 3300, |i| i % 25 == 0);
        assert!(a.episode.is_none());
        let baseline = a.baseline.unwrap();
        assert_eq!((baseline.from, baseline.to), (frozen.from, frozen.to));
        let rate = a
            .reading(MetricId::Hallucination)
            .unwrap()
            .baseline
            .unwrap();
        assert!(rate < 0.05, "{rate}");
        // A whole lag and span after the episode ended, the baseline holds only calls after it.
        let ended = engine.quarantine_until.unwrap() - Duration::minutes(75);
        let a = feed_minutes(&mut engine, 3300, 5400, |i| i % 25 == 0);
        let baseline = a.baseline.unwrap();
        assert!(!baseline.frozen && baseline.from >= ended, "{baseline:?}");
    }

    #[test]
    fn a_failure_beginning_long_after_the_first_alarm_neither_leads_nor_moves_the_onset() {
        let mut engine = engine();
        feed(&mut engine, 0, 1200, |i| i % 25 == 0, 900.0);
        // Latency triples from minute 40, for good: a provider slowdown.
        let minutes = |engine: &mut Engine, from: i64, to: i64, bad: fn(i64) -> bool| {
            let mut a = None;
            for minute in (from..to).step_by(30) {
                a = Some(feed(engine, minute, minute + 30, bad, 2700.0));
            }
            a.expect("at least a minute")
        };
        let a = minutes(&mut engine, 1200, 1500, |i| i % 25 == 0);
        let episode = a.episode.as_ref().unwrap();
        let onset = episode.onset.unwrap();
        let lead = episode.primary();
        assert_eq!(lead.family(), Family::Transport);
        // An hour into it, hallucination rises to 22% as well: a quality failure, which would
        // outrank latency had it begun with the episode.
        minutes(&mut engine, 1500, 3000, |i| i % 25 == 0);
        let a = minutes(&mut engine, 3000, 3600, |i| i % 9 < 2);
        assert_eq!(state(&a, MetricId::Hallucination), MetricState::Critical);
        let episode = a.episode.as_ref().unwrap();
        assert_eq!(episode.primary(), lead, "{:?}", episode.lead_moves);
        assert_eq!(episode.onset, Some(onset));
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
        // Memory stays bounded: calls older than the retention are gone, the baseline's too.
        let retained = (engine.config.retention.num_seconds() / 2) as usize;
        assert!(
            engine.observations.len() <= retained + 1,
            "{}",
            engine.observations.len()
        );
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
