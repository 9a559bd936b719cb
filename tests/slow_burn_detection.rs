//! Quiet regressions through the engine: a rise confined to one of ten features, a small rise
//! in errors, the team's own alert threshold, and a tail latency at low traffic.

use chrono::{DateTime, Duration, Utc};
use flightdeck::engine::change_points::Slice;
use flightdeck::engine::detect::Rule;
use flightdeck::engine::metrics::{MetricId, MetricState};
use flightdeck::engine::signals::schema::SchemaRegistry;
use flightdeck::engine::{Assessment, Engine, EngineConfig};
use flightdeck::model::{Call, CallStatus};
use flightdeck::sim::rng::Rng;
use serde_json::json;

fn start() -> DateTime<Utc> {
    "2026-03-14T10:00:00Z".parse().unwrap()
}

/// What one simulated call is.
struct Planned<'a> {
    ts: DateTime<Utc>,
    feature: &'a str,
    model: &'a str,
    version: &'a str,
    status: CallStatus,
    hallucinated: bool,
    latency_ms: f64,
}

fn call(planned: &Planned) -> Call {
    let status = match planned.status {
        CallStatus::Ok => "ok",
        CallStatus::Error => "error",
        CallStatus::Timeout => "timeout",
        CallStatus::RateLimited => "rate_limited",
    };
    serde_json::from_value(json!({
        "ts": planned.ts.to_rfc3339(),
        "feature": planned.feature, "model_requested": planned.model,
        "prompt_version": planned.version, "status": status,
        "latency_ms": planned.latency_ms, "output": "The order ships within two days.",
        "evals": {"hallucination": planned.hallucinated}
    }))
    .unwrap()
}

/// Streams calls for `minutes`, `per_minute` a minute spread over `features` in turn, asking
/// `plan` for each; evaluates every minute and returns the first assessment `stop` accepts.
fn run(
    engine: &mut Engine,
    minutes: i64,
    per_minute: i64,
    features: &[&str],
    mut plan: impl FnMut(DateTime<Utc>, &str, &mut Rng) -> Planned<'static>,
    mut stop: impl FnMut(&Assessment) -> bool,
) -> Option<Assessment> {
    let mut rng = Rng::new(7);
    for minute in 0..minutes {
        for i in 0..per_minute {
            let ts = start()
                + Duration::minutes(minute)
                + Duration::milliseconds(60_000 * i / per_minute);
            let feature = features[(i as usize) % features.len()];
            let planned = plan(ts, feature, &mut rng);
            engine.ingest_call(&call(&planned));
        }
        let assessment = engine.evaluate(start() + Duration::minutes(minute + 1));
        if stop(&assessment) {
            return Some(assessment);
        }
    }
    None
}

const FEATURES: [&str; 10] = [
    "support-answer",
    "checkout-help",
    "search-summary",
    "order-status",
    "returns-bot",
    "faq",
    "product-qa",
    "review-digest",
    "email-draft",
    "ticket-triage",
];

fn healthy(
    ts: DateTime<Utc>,
    feature: &str,
    rng: &mut Rng,
    hallucination: f64,
) -> Planned<'static> {
    Planned {
        ts,
        feature: FEATURES.iter().find(|f| **f == feature).unwrap(),
        model: "gpt-4o",
        version: "v1",
        status: CallStatus::Ok,
        hallucinated: rng.chance(hallucination),
        latency_ms: 800.0 + 400.0 * rng.unit(),
    }
}

fn engine(config: EngineConfig) -> Engine {
    Engine::new(config, SchemaRegistry::default())
}

#[test]
fn a_rise_on_one_of_ten_features_opens_an_incident_on_that_feature() {
    let mut engine = engine(EngineConfig::default());
    let change = start() + Duration::minutes(90);
    // 60 calls a minute over ten features: six a minute each; checkout-help goes 3% → 10%.
    let critical = run(
        &mut engine,
        240,
        60,
        &FEATURES,
        |ts, feature, rng| {
            let rate = if ts >= change && feature == "checkout-help" {
                0.10
            } else {
                0.03
            };
            healthy(ts, feature, rng, rate)
        },
        |a| {
            a.reading(MetricId::Hallucination).unwrap().state == MetricState::Critical
                || a.at > change + Duration::hours(2)
        },
    )
    .expect("an assessment");
    let reading = critical.reading(MetricId::Hallucination).unwrap();
    assert_eq!(reading.state, MetricState::Critical, "{reading:#?}");
    assert!(critical.at > change, "a false alarm before the change");
    // Pooled, the rise is under a point: only the feature's own detector sees it.
    assert_eq!(reading.slices[0].name, "checkout-help");
    assert!(reading.service_state < MetricState::Critical);
    let episode = critical.episode.as_ref().unwrap();
    assert!(matches!(episode.primary_slice(), Slice::Feature(_)));
    let onset = episode.onset.unwrap();
    assert!(
        (onset - change).num_minutes().abs() <= 15,
        "onset {onset} against the change at {change}"
    );
    // Six calls a minute at 3% → 10%: the optimal CUSUM needs about 290 calls (48 minutes) at
    // one false alarm in 100,000 of the feature's calls; allow about 1.5 times that.
    assert!(
        critical.at - change <= Duration::minutes(75),
        "declared {} min after the change",
        (critical.at - change).num_minutes()
    );
}

#[test]
fn a_canary_regression_too_diluted_for_its_feature_opens_an_incident_on_its_version() {
    let mut engine = engine(EngineConfig::default());
    let deploy = start() + Duration::minutes(90);
    // Ten calls a minute on each of four features; from the deploy, a fifth of checkout-help's
    // calls get v2, which hallucinates 15% against 3%: the feature as a whole moves 2.4 points,
    // under the 3 that open an incident.
    let critical = run(
        &mut engine,
        330,
        40,
        &FEATURES[..4],
        |ts, feature, rng| {
            let canary = ts >= deploy && feature == "checkout-help" && rng.chance(0.2);
            let mut planned = healthy(ts, feature, rng, if canary { 0.15 } else { 0.03 });
            if canary {
                planned.version = "v2";
            }
            planned
        },
        |a| a.reading(MetricId::Hallucination).unwrap().state == MetricState::Critical,
    )
    .expect("the canary's regression opens an incident");
    assert!(critical.at > deploy, "a false alarm before the deploy");
    let reading = critical.reading(MetricId::Hallucination).unwrap();
    assert_eq!(reading.slices[0].name, "checkout-help v2", "{reading:#?}");
    let episode = critical.episode.as_ref().unwrap();
    assert!(matches!(episode.primary_slice(), Slice::Version { .. }));
}

#[test]
fn a_model_update_across_features_opens_an_incident_on_the_requested_model() {
    let mut engine = engine(EngineConfig::default());
    let update = start() + Duration::minutes(90);
    // Six features at ten calls a minute, three of them on gpt-4o; from the update those three
    // go 3% → 6.5%, too little and too thin for any one of them to open an incident soon.
    let on_gpt = |feature: &str| FEATURES[..3].contains(&feature);
    let critical = run(
        &mut engine,
        330,
        60,
        &FEATURES[..6],
        |ts, feature, rng| {
            let rate = if ts >= update && on_gpt(feature) {
                0.065
            } else {
                0.03
            };
            let mut planned = healthy(ts, feature, rng, rate);
            if !on_gpt(feature) {
                planned.model = "claude-sonnet";
            }
            planned
        },
        |a| a.reading(MetricId::Hallucination).unwrap().state == MetricState::Critical,
    )
    .expect("the update opens an incident");
    assert!(critical.at > update, "a false alarm before the update");
    let reading = critical.reading(MetricId::Hallucination).unwrap();
    let model = reading
        .slices
        .iter()
        .find(|s| matches!(s.slice, Slice::Model(_)))
        .expect("the requested model's slice alarms");
    assert_eq!(model.name, "model gpt-4o");
    assert_eq!(model.state, MetricState::Critical, "{reading:#?}");
}

#[test]
fn errors_rising_from_2_to_5_percent_at_60_calls_a_minute_open_an_incident() {
    let mut engine = engine(EngineConfig::default());
    let change = start() + Duration::minutes(90);
    let critical = run(
        &mut engine,
        180,
        60,
        &["support-answer"],
        |ts, feature, rng| {
            let rate = if ts >= change { 0.05 } else { 0.02 };
            let mut planned = healthy(ts, feature, rng, 0.03);
            if rng.chance(rate) {
                planned.status = CallStatus::Error;
            }
            planned
        },
        |a| a.reading(MetricId::Errors).unwrap().state == MetricState::Critical,
    )
    .expect("the 3-point rise opens an incident");
    assert!(critical.at > change, "a false alarm before the change");
    assert!(
        critical.at - change <= Duration::minutes(20),
        "declared {} min after the change",
        (critical.at - change).num_minutes()
    );
}

#[test]
fn crossing_the_teams_alert_threshold_opens_an_incident_by_that_rule() {
    // 1% → 3.5%: under three points, the smallest rise that opens an incident on its own (half the
    // baseline or the warn limit), but over the team's 2% line.
    let config = EngineConfig {
        alerts: vec![(MetricId::Hallucination, 0.02)],
        ..EngineConfig::default()
    };
    let mut engine = engine(config);
    let change = start() + Duration::minutes(90);
    let plan = |ts: DateTime<Utc>, feature: &str, rng: &mut Rng| {
        healthy(ts, feature, rng, if ts >= change { 0.035 } else { 0.01 })
    };
    let critical = run(&mut engine, 150, 60, &["support-answer"], plan, |a| {
        a.reading(MetricId::Hallucination).unwrap().state == MetricState::Critical
    })
    .expect("crossing 2% opens an incident");
    let reading = critical.reading(MetricId::Hallucination).unwrap();
    assert_eq!(reading.rule, Some(Rule::Alert), "{reading:#?}");
    assert!(critical.at > change, "a false alarm before the change");

    let mut without_alerts = engine_default();
    let opened = run(
        &mut without_alerts,
        150,
        60,
        &["support-answer"],
        plan,
        |a| a.reading(MetricId::Hallucination).unwrap().state == MetricState::Critical,
    );
    assert!(
        opened.is_none(),
        "without the team's threshold a 2.5-point rise from 1% opens nothing"
    );
}

fn engine_default() -> Engine {
    engine(EngineConfig::default())
}

#[test]
fn a_tail_latency_blip_at_low_traffic_does_not_alarm_the_p99() {
    let mut engine = engine(EngineConfig::default());
    let blip = start() + Duration::minutes(80);
    let alarmed = run(
        &mut engine,
        120,
        20,
        &["support-answer"],
        |ts, feature, rng| {
            let mut planned = healthy(ts, feature, rng, 0.03);
            // Two slow calls in a minute: the p99 of the hundred calls in the window triples.
            if ts >= blip && ts < blip + Duration::minutes(1) && rng.chance(0.1) {
                planned.latency_ms = 6_000.0;
            }
            planned
        },
        |a| a.reading(MetricId::LatencyP99).unwrap().state.is_alarm(),
    );
    let p99 = alarmed.map(|a| a.reading(MetricId::LatencyP99).cloned());
    assert_eq!(p99, None, "the p99 of 100 calls alarmed");
}

#[test]
fn healthy_hours_on_ten_features_open_no_incident() {
    let mut engine = engine(EngineConfig::default());
    let alarmed = run(
        &mut engine,
        12 * 60,
        60,
        &FEATURES,
        |ts, feature, rng| {
            let mut planned = healthy(ts, feature, rng, 0.03);
            if rng.chance(0.01) {
                planned.status = CallStatus::Error;
            }
            planned
        },
        |a| a.metrics.iter().any(|r| r.state == MetricState::Critical),
    );
    assert!(alarmed.is_none(), "{:#?}", alarmed.map(|a| a.metrics));
}

#[test]
fn a_stronger_quality_alarm_takes_the_lead_from_an_early_transport_blip_and_dates_the_incident() {
    let mut engine = engine_default();
    let blip = start() + Duration::minutes(90);
    let change = start() + Duration::minutes(107);
    let last = run(
        &mut engine,
        140,
        40,
        &["support-answer"],
        |ts, feature, rng| {
            let rate = if ts >= change { 0.15 } else { 0.03 };
            let mut planned = healthy(ts, feature, rng, rate);
            // Three minutes of timeouts, 17 minutes before the real cause.
            if ts >= blip && ts < blip + Duration::minutes(3) && rng.chance(0.15) {
                planned.status = CallStatus::Timeout;
            }
            planned
        },
        |_| false,
    );
    assert!(last.is_none());
    let assessment = engine.evaluate(start() + Duration::minutes(140));
    let episode = assessment.episode.expect("an episode");
    let lead = episode.lead.expect("a lead");
    assert_eq!(lead.metric, MetricId::Hallucination, "{episode:#?}");
    let moved = episode
        .lead_moves
        .iter()
        .find(|m| m.to.metric == MetricId::Hallucination)
        .expect("the move to Hallucination is kept");
    assert_eq!(moved.from.metric, MetricId::Timeouts);
    assert!(
        moved.reason.starts_with("Hallucination"),
        "{}",
        moved.reason
    );
    let onset = episode.onset.unwrap();
    assert!(
        (onset - change).num_minutes().abs() <= 3,
        "onset {onset}: the blip at {blip} must not date the incident, the change at {change} does"
    );
}
