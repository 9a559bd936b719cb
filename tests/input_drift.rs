//! Input drift on seeded streams: flagged soon after 30% of the traffic moves to new topics,
//! quiet on healthy traffic.

use chrono::{DateTime, Duration, Utc};
use flightdeck::engine::metrics::{MetricId, MetricState};
use flightdeck::engine::{Engine, EngineConfig};
use flightdeck::sim::scenario::Scenario;
use flightdeck::sim::{SimOutput, Simulator, schema_registry};

/// The Input drift metric's state after each virtual minute.
type States = Vec<(DateTime<Utc>, MetricState)>;

/// Runs a scenario for some virtual minutes, evaluating each; the states and the engine after.
fn run(name: &str, seed: u64, minutes: i64) -> (States, Engine) {
    let scenario = Scenario::builtin(name).unwrap().unwrap();
    let start = scenario.start;
    let mut simulator = Simulator::new(scenario, seed);
    let mut engine = Engine::new(EngineConfig::default(), schema_registry());
    let mut states = Vec::new();
    for minute in 1..=minutes {
        let now = start + Duration::minutes(minute);
        for call in SimOutput::split(simulator.advance_to(now)).0 {
            engine.ingest_call(&call);
        }
        let assessment = engine.evaluate(now);
        let state = assessment.reading(MetricId::InputDrift).unwrap().state;
        states.push((now, state));
    }
    (states, engine)
}

#[test]
fn a_topic_shift_is_flagged_within_ten_minutes_with_its_new_terms() {
    let scenario = Scenario::builtin("input-drift").unwrap().unwrap();
    let shift = scenario.events.last().unwrap().at;
    for seed in [1, 2, 3] {
        let (states, mut engine) = run("input-drift", seed, 80);
        assert!(
            states.iter().all(|(at, s)| *at >= shift || !s.is_alarm()),
            "seed {seed}: drift flagged before the shift"
        );
        let flagged = states
            .iter()
            .find(|(_, s)| s.is_alarm())
            .map(|(at, _)| *at)
            .unwrap_or_else(|| panic!("seed {seed}: never flagged"));
        assert!(
            flagged - shift <= Duration::minutes(10),
            "seed {seed}: flagged at {flagged}"
        );
        let drift = engine
            .evaluate(states.last().unwrap().0)
            .input_drift
            .unwrap();
        let vocabulary = drift.vocabulary_shift().expect("the vocabulary moved");
        assert!(!vocabulary.new_terms.is_empty());
    }
}

#[test]
fn healthy_traffic_raises_no_drift_for_hours() {
    // The prompt regression's traffic is healthy until its change at 35 minutes; the inputs never
    // move at all, so the whole run is healthy for the input side.
    for seed in [1, 2] {
        let (states, _) = run("prompt-regression", seed, 240);
        let flagged: Vec<_> = states.iter().filter(|(_, s)| s.is_alarm()).collect();
        assert!(flagged.is_empty(), "seed {seed}: {flagged:?}");
    }
}
