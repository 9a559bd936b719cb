//! Headless triage (pure): the engine run over a recorded stream as fast as it can be read,
//! keeping what the cockpit would have shown for the first incident it would have declared.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, Utc};
use serde::Serialize;

use crate::engine::likeness::SimilarityShift;
use crate::engine::metrics::{Family, MetricId, MetricState};
use crate::engine::signals::drift::{MmdTest, VocabularyDrift};
use crate::engine::signals::refusal::RefusalPhrases;
use crate::engine::signals::schema::{SchemaRegistry, ViolationCount};
use crate::engine::triage::{Category, Headline, Pattern, Recommendation, Triage, Verdict};
use crate::engine::{Assessment, Engine, EngineConfig, InputDrift};
use crate::model::{Call, Change, ChangeKind, ChangeOrigin};
use crate::sim::scenario::Scenario;
use crate::sim::{SimOutput, Simulator};

/// Version of the JSON report; bumped when a field changes meaning or goes away.
pub const REPORT_VERSION: u32 = 1;

/// The years a recorded call can be dated in: outside them it is a clock or a typo, and a span
/// from 0001 to 9999 would only cost time.
const SANE_TIMES: std::ops::Range<i32> = 2000..2100;

/// Schema violation reasons listed in the report.
const REPORTED_VIOLATIONS: usize = 10;

/// How long a scenario runs past its last scheduled event.
pub fn scenario_tail() -> Duration {
    Duration::minutes(45)
}

/// How often, in the stream's own time, the engine is evaluated during an alarm episode.
fn episode_interval() -> Duration {
    Duration::minutes(1)
}

/// How often it is evaluated while all is quiet: the change-point detectors watch every call,
/// and an alarm they raise is evaluated at once.
fn quiet_interval() -> Duration {
    Duration::minutes(5)
}

/// How long a triage conclusion holds before the evaluation slows to the quiet interval.
fn settled_after() -> Duration {
    Duration::minutes(10)
}

/// The first incident the cockpit would have declared: a metric gone critical.
#[derive(Debug, Clone)]
struct Declared {
    first_alarm: DateTime<Utc>,
    declared_at: DateTime<Utc>,
    triage: Option<Triage>,
    /// The conclusion of the triage and since when it has held.
    conclusion: Option<(Category, DateTime<Utc>)>,
    /// Metric values at the last evaluation of the incident's episode.
    last: Option<Assessment>,
    peaks: BTreeMap<MetricId, f64>,
}

pub struct Replay {
    engine: Engine,
    next_evaluation: Option<DateTime<Utc>>,
    first_ts: Option<DateTime<Utc>>,
    last_ts: Option<DateTime<Utc>>,
    calls: u64,
    /// Calls and changes dated outside [`SANE_TIMES`], refused.
    out_of_range: u64,
    latest: Option<Assessment>,
    declared: Option<Declared>,
}

impl Replay {
    pub fn new(config: EngineConfig, schemas: SchemaRegistry) -> Self {
        // Nothing draws the per-minute trend here, so it is not computed.
        let config = EngineConfig {
            trend_minutes: 0,
            ..config
        };
        Self {
            engine: Engine::new(config, schemas),
            next_evaluation: None,
            first_ts: None,
            last_ts: None,
            calls: 0,
            out_of_range: 0,
            latest: None,
            declared: None,
        }
    }

    /// The team's own refusal openings, on top of the built-in lists.
    pub fn with_refusal_phrases(mut self, refusals: RefusalPhrases) -> Self {
        self.engine = self.engine.with_refusal_phrases(refusals);
        self
    }

    /// The schema each feature's answers must satisfy when a call names none.
    pub fn with_feature_schemas(mut self, schemas: HashMap<String, String>) -> Self {
        self.engine = self.engine.with_feature_schemas(schemas);
        self
    }

    /// Takes a change; feed changes and calls in time order.
    pub fn change(&mut self, change: Change) {
        if !self.in_range(change.ts) {
            return;
        }
        self.catch_up(change.ts);
        self.engine.ingest_change(change);
    }

    pub fn call(&mut self, call: &Call) {
        if !self.in_range(call.ts) {
            return;
        }
        self.catch_up(call.ts);
        let ingested = self.engine.ingest_call_judged(call);
        if ingested.repeat {
            return;
        }
        self.calls += 1;
        self.first_ts = Some(self.first_ts.map_or(call.ts, |t| t.min(call.ts)));
        self.last_ts = Some(self.last_ts.map_or(call.ts, |t| t.max(call.ts)));
        // A fresh alarm is looked at at once, unless the triage has long settled: a sustained
        // failure keeps its detectors alarming, and the quiet interval still sees them.
        if ingested.raised && !self.settled(call.ts) {
            self.evaluate(call.ts);
            self.next_evaluation = Some(call.ts + self.interval(call.ts));
        }
    }

    /// Whether the declared incident's conclusion has held for [`settled_after`], and its episode
    /// is still the current one: a later episode is looked at afresh.
    fn settled(&self, now: DateTime<Utc>) -> bool {
        let current_episode = self
            .latest
            .as_ref()
            .and_then(|a| a.episode.as_ref())
            .map(|e| e.first_alarm);
        self.declared.as_ref().is_some_and(|d| {
            current_episode == Some(d.first_alarm)
                && d.conclusion
                    .is_some_and(|(_, since)| now - since >= settled_after())
        })
    }

    /// Every minute while an episode's triage is still open; every five once its conclusion
    /// has held for ten minutes, since then only a new alarm (evaluated at once) changes much.
    fn interval(&self, now: DateTime<Utc>) -> Duration {
        let in_episode = self.latest.as_ref().is_some_and(|a| a.episode.is_some());
        if in_episode && !self.settled(now) {
            episode_interval()
        } else {
            quiet_interval()
        }
    }

    /// Whether a record's time is one a real stream can carry; one that is not is counted.
    fn in_range(&mut self, ts: DateTime<Utc>) -> bool {
        let sane = SANE_TIMES.contains(&ts.year());
        if !sane {
            self.out_of_range += 1;
        }
        sane
    }

    /// Evaluates at every interval boundary up to `ts`. Across a silence longer than the
    /// engine's retention nothing it holds changes between one boundary and the next, so the
    /// evaluations resume one retention before `ts`: the cost follows the records, not the span.
    fn catch_up(&mut self, ts: DateTime<Utc>) {
        let retention = self.engine.config().retention;
        let mut at = *self.next_evaluation.get_or_insert(ts + episode_interval());
        while at <= ts {
            self.evaluate(at);
            at += self.interval(at);
            if ts - at > retention {
                at = ts - retention;
            }
        }
        self.next_evaluation = Some(at);
    }

    fn evaluate(&mut self, now: DateTime<Utc>) {
        let assessment = self.engine.evaluate(now);
        self.track(&assessment, now);
        self.latest = Some(assessment);
    }

    fn track(&mut self, assessment: &Assessment, now: DateTime<Utc>) {
        let Some(episode) = &assessment.episode else {
            return;
        };
        let critical = assessment
            .metrics
            .iter()
            .any(|r| r.state == MetricState::Critical && r.id.opens_incident());
        if self.declared.is_none() && critical {
            self.declared = Some(Declared {
                first_alarm: episode.first_alarm,
                declared_at: now,
                triage: None,
                conclusion: None,
                last: None,
                peaks: BTreeMap::new(),
            });
        }
        let Some(declared) = self.declared.as_mut() else {
            return;
        };
        if declared.first_alarm != episode.first_alarm {
            return;
        }
        if let Some(triage) = &assessment.triage {
            let conclusion = triage.conclusion();
            if declared.conclusion.map(|(c, _)| c) != conclusion {
                declared.conclusion = conclusion.map(|c| (c, now));
            }
            declared.triage = Some(triage.clone());
        }
        for reading in &assessment.metrics {
            if let Some(value) = reading.now {
                let worse = |a: f64, b: f64| {
                    if reading.id.shows_good_share() {
                        a.min(b)
                    } else {
                        a.max(b)
                    }
                };
                declared
                    .peaks
                    .entry(reading.id)
                    .and_modify(|peak| *peak = worse(*peak, value))
                    .or_insert(value);
            }
        }
        declared.last = Some(assessment.clone());
    }

    /// Runs a simulated scenario to [`scenario_tail`] past its last event and reports.
    pub fn run_scenario(mut self, scenario: Scenario, seed: u64) -> TriageReport {
        let end = scenario
            .events
            .iter()
            .map(|e| e.at)
            .max()
            .unwrap_or(scenario.start)
            + scenario_tail();
        let mut simulator = Simulator::new(scenario, seed);
        for output in simulator.advance_to(end) {
            match output {
                SimOutput::Call(call) => self.call(&call),
                SimOutput::Change(change) => self.change(*change),
            }
        }
        self.finish(0)
    }

    /// Evaluates once more at the end of the stream and writes the report.
    pub fn finish(mut self, bad_lines: u64) -> TriageReport {
        if let Some(end) = self.last_ts {
            self.evaluate(end);
        }
        let changes = self
            .engine
            .changes()
            .iter()
            .map(|r| ChangeReport {
                ts: r.change.ts,
                kind: r.change.kind,
                target: r.change.target.clone(),
                from: r.change.from.clone(),
                to: r.change.to.clone(),
                author: r.change.author.clone(),
                seen_in_calls: r.origin != ChangeOrigin::Feed,
                inferred_from_outputs: r.origin == ChangeOrigin::InferredFromBehaviour,
                evidence: r.evidence().map(str::to_string),
            })
            .collect();
        let mut metrics = metric_reports(self.declared.as_ref(), self.latest.as_ref());
        if let (Some(first), Some(end)) = (self.first_ts, self.last_ts) {
            let from = self
                .declared
                .as_ref()
                .and_then(|d| d.triage.as_ref())
                .map_or(first, |t| t.onset);
            let violations = self
                .engine
                .schema_violations(from, end, REPORTED_VIOLATIONS);
            if let Some(schema) = metrics.get_mut(MetricId::Schema.key()) {
                schema.violations = Some(violations);
            }
        }
        if let Some(latest) = &self.latest {
            if let Some(similarity) = metrics.get_mut(MetricId::Similarity.key()) {
                similarity.distribution = latest.similarity;
            }
            if let Some(drift) = metrics.get_mut(MetricId::InputDrift.key()) {
                drift.test = latest.input_drift.as_ref().map(DriftReport::from);
            }
        }
        let base = TriageReport {
            version: REPORT_VERSION,
            calls: self.calls,
            bad_lines,
            out_of_range: self.out_of_range,
            repeated_calls: self.engine.repeated_calls(),
            category: "none".into(),
            confidence: 1.0,
            onset: None,
            detected_at: None,
            declared_at: None,
            classified_at: None,
            primary_metric: None,
            slice: None,
            lead_moves: Vec::new(),
            headline_evidence: Vec::new(),
            would_decide: Vec::new(),
            intermittency: None,
            steps: Vec::new(),
            ranking: Vec::new(),
            changes,
            recommendation: None,
            blast_radius: Vec::new(),
            metrics,
        };
        let Some(declared) = self.declared else {
            return base;
        };
        let Some(triage) = declared.triage else {
            return TriageReport {
                confidence: 0.0,
                detected_at: Some(declared.first_alarm),
                declared_at: Some(declared.declared_at),
                ..base
            };
        };
        // With no cause named there is no category, and so no confidence in one.
        let (category, confidence) = match &triage.headline {
            Headline::Cause(leading) => (leading.category.key(), leading.confidence),
            Headline::Unexplained { .. } => ("unexplained", 0.0),
            Headline::InsufficientData { .. } => ("insufficient_data", 0.0),
        };
        TriageReport {
            category: category.into(),
            confidence: to_thousandths(confidence),
            onset: Some(triage.onset),
            detected_at: Some(declared.first_alarm),
            declared_at: Some(declared.declared_at),
            classified_at: declared
                .conclusion
                .filter(|(c, _)| c.key() == category)
                .map(|(_, at)| at),
            primary_metric: Some(triage.primary.key().into()),
            slice: triage.slice.clone(),
            lead_moves: declared
                .last
                .as_ref()
                .and_then(|a| a.episode.as_ref())
                .map(|e| {
                    e.lead_moves
                        .iter()
                        .map(|m| LeadMoveReport {
                            at: m.at,
                            from: m.from.metric.key().into(),
                            to: m.to.metric.key().into(),
                            reason: m.reason.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            headline_evidence: triage.headline_evidence(),
            would_decide: triage.would_decide().to_vec(),
            intermittency: triage.pattern.as_ref().map(IntermittencyReport::from),
            steps: triage
                .steps
                .iter()
                .map(|s| StepReport {
                    name: s.category,
                    verdict: s.verdict,
                    evidence: s.evidence.clone(),
                    decided_at: s.decided_at,
                })
                .collect(),
            ranking: triage
                .ranking
                .iter()
                .map(|r| RankReport {
                    category: r.category,
                    confidence: to_thousandths(r.confidence),
                })
                .collect(),
            recommendation: triage.recommendation.clone(),
            blast_radius: triage.blast_radius.clone(),
            ..base
        }
    }
}

/// Confidences are reported to three decimals: more would be noise.
fn to_thousandths(share: f64) -> f64 {
    (share * 1000.0).round() / 1000.0
}

/// Baseline, peak and current value of every metric except throughput; the baseline and peak
/// are the incident's when one was declared.
fn metric_reports(
    declared: Option<&Declared>,
    latest: Option<&Assessment>,
) -> BTreeMap<String, MetricReport> {
    let round = |v: Option<f64>| v.map(|v| (v * 10_000.0).round() / 10_000.0);
    MetricId::ALL
        .iter()
        .filter(|id| id.family() != Family::Volume)
        .map(|id| {
            let in_incident = declared
                .and_then(|d| d.last.as_ref())
                .and_then(|a| a.reading(*id));
            let current = latest.and_then(|a| a.reading(*id));
            let report = MetricReport {
                baseline: round(in_incident.or(current).and_then(|r| r.baseline)),
                peak: round(declared.and_then(|d| d.peaks.get(id).copied())),
                current: round(current.and_then(|r| r.now)),
                violations: None,
                distribution: None,
                test: None,
            };
            (id.key().to_string(), report)
        })
        .collect()
}

/// What `flightdeck triage --json` prints (docs/triage-json.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriageReport {
    pub version: u32,
    pub calls: u64,
    pub bad_lines: u64,
    /// Calls and changes dated outside the years 2000–2099, refused.
    pub out_of_range: u64,
    /// Calls whose `request_id` had arrived in the last 15 minutes, counted once.
    pub repeated_calls: u64,
    pub category: String,
    pub confidence: f64,
    pub onset: Option<DateTime<Utc>>,
    pub detected_at: Option<DateTime<Utc>>,
    pub declared_at: Option<DateTime<Utc>>,
    pub classified_at: Option<DateTime<Utc>>,
    pub primary_metric: Option<String>,
    /// The feature the primary metric alarmed on by itself; `null` when it alarmed over the
    /// whole service.
    pub slice: Option<String>,
    /// Each time a stronger alarm took over the triage, and why.
    pub lead_moves: Vec<LeadMoveReport>,
    /// How much of the episode the failure affected, then, with no cause named, why not.
    pub headline_evidence: Vec<String>,
    /// With `unexplained`: what evidence would name the cause.
    pub would_decide: Vec<String>,
    pub intermittency: Option<IntermittencyReport>,
    pub steps: Vec<StepReport>,
    pub ranking: Vec<RankReport>,
    pub changes: Vec<ChangeReport>,
    pub recommendation: Option<Recommendation>,
    pub blast_radius: Vec<String>,
    pub metrics: BTreeMap<String, MetricReport>,
}

/// A stronger alarm took over the triage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadMoveReport {
    pub at: DateTime<Utc>,
    /// The metric keys of the alarm that led, and of the one that leads since.
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// The primary metric minute by minute since the onset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntermittencyReport {
    pub metric: String,
    pub since: DateTime<Utc>,
    pub affected_minutes: usize,
    pub minutes: usize,
    pub in_bursts: Option<bool>,
}

impl From<&Pattern> for IntermittencyReport {
    fn from(pattern: &Pattern) -> Self {
        Self {
            metric: pattern.metric.key().into(),
            since: pattern.since,
            affected_minutes: pattern.affected_minutes,
            minutes: pattern.minutes,
            in_bursts: pattern.in_bursts,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    pub name: Category,
    pub verdict: Verdict,
    pub evidence: Vec<String>,
    pub decided_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankReport {
    pub category: Category,
    pub confidence: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeReport {
    pub ts: DateTime<Utc>,
    pub kind: ChangeKind,
    pub target: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub author: Option<String>,
    pub seen_in_calls: bool,
    /// A model update that kept its name, inferred from a shift in the outputs' style.
    pub inferred_from_outputs: bool,
    /// What the outputs showed, for a change inferred from them.
    pub evidence: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricReport {
    pub baseline: Option<f64>,
    pub peak: Option<f64>,
    pub current: Option<f64>,
    /// For schema compliance: why outputs broke their schema, the most frequent first, over the
    /// incident (from its onset) or, with none declared, the whole stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violations: Option<Vec<ViolationCount>>,
    /// For similarity: the outputs' median cosine to the baseline's representatives, at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distribution: Option<SimilarityShift>,
    /// For input drift: the last scheduled two-sample test of the inputs, at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<DriftReport>,
}

/// The engine's last input drift test, as `triage --json` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    pub at: DateTime<Utc>,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub drifted: bool,
    pub significant_in_a_row: u32,
    pub mmd: Option<MmdTest>,
    pub vocabulary: Option<VocabularyDrift<String>>,
}

impl From<&InputDrift> for DriftReport {
    fn from(drift: &InputDrift) -> Self {
        Self {
            at: drift.at,
            since: drift.since,
            until: drift.until,
            drifted: drift.drifted(),
            significant_in_a_row: drift.significant_in_a_row,
            mmd: drift.mmd,
            vocabulary: drift.vocabulary.clone(),
        }
    }
}
