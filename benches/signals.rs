//! `cargo bench --bench signals`: what the content signals cost, on one core.
//!
//! The calls are the demo's healthy traffic with each answer lengthened to about 1 KB by its own
//! retrieved passages, so that every signal runs on it: the refusal check, JSON Schema
//! validation, groundedness against the context, the hashed n-gram embeddings of input and output
//! with their similarity to the baseline's, the per-minute counts and the change-point detectors.
//! The engine evaluates once per virtual minute, as the cockpit does.
//!
//! 1. Calls per second through `Engine::ingest_call` (every signal), and the time per evaluation:
//!    at 150 calls a minute, where every call is embedded and judged, and at 1,000, where the
//!    similarity and drift signals judge their 150 a minute and the others every call.
//! 2. Resident memory as the 1,000-a-minute stream grows to ten million calls: it must stay flat.
//! 3. Input drift: how soon it is flagged after 30% of the traffic moves to new topics (the
//!    input-drift scenario, several seeds), and how often on 24 hours of healthy traffic.
//!
//! `cargo bench --bench signals -- drift` runs one section; `-- --calls N` sets the stream
//! length of the first two (default 10,000,000).

use std::time::{Duration as Elapsed, Instant};

use chrono::{DateTime, Duration, Utc};
use flightdeck::engine::metrics::MetricId;
use flightdeck::engine::{Assessment, Engine, EngineConfig};
use flightdeck::model::Call;
use flightdeck::sim::generate::generate;
use flightdeck::sim::scenario::Scenario;
use flightdeck::sim::{SimOutput, Simulator, schema_registry};

/// Distinct calls cycled through; their timestamps advance, so the engine sees a stream.
const POOL: usize = 5_000;
const OUTPUT_BYTES: usize = 1_024;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let only = |name: &str| {
        !args.iter().any(|a| a == "drift" || a == "throughput") || args.iter().any(|a| a == name)
    };
    if only("throughput") {
        let total = std::env::args()
            .skip_while(|arg| arg != "--calls")
            .nth(1)
            .map_or(10_000_000, |n| n.parse().expect("--calls takes a number"));
        throughput(150, 1_000_000.min(total));
        throughput(1_000, total);
    }
    if only("drift") {
        drift();
    }
}

fn throughput(calls_per_minute: i64, total: u64) {
    let mut pool = pool();
    let mean_output = pool
        .iter()
        .filter_map(|c| c.output.as_ref())
        .map(String::len)
        .sum::<usize>()
        / POOL;
    println!(
        "== content signals: {total} calls at {calls_per_minute}/min, outputs {mean_output} bytes on average, one core"
    );
    let start: DateTime<Utc> = "2026-03-14T00:00:00Z".parse().unwrap();
    let spacing = Duration::microseconds(60_000_000 / calls_per_minute);
    let mut engine = Engine::new(EngineConfig::default(), schema_registry());
    let mut ingesting = Elapsed::ZERO;
    let mut evaluating = Elapsed::ZERO;
    let mut evaluations = 0u32;
    let mut checkpoint = 1_000_000u64.min(total);
    let mut since_report = (Elapsed::ZERO, 0u64);
    for i in 0..total {
        let call = &mut pool[(i % POOL as u64) as usize];
        call.ts = start + spacing * i as i32;
        // Each pass over the pool is new traffic, not a retry of the last pass.
        call.request_id = Some(format!("req-{i:012x}"));
        let began = Instant::now();
        engine.ingest_call(call);
        let took = began.elapsed();
        ingesting += took;
        since_report.0 += took;
        since_report.1 += 1;
        if (i + 1) % calls_per_minute as u64 == 0 {
            let began = Instant::now();
            engine.evaluate(call.ts);
            evaluating += began.elapsed();
            evaluations += 1;
        }
        if i + 1 == checkpoint {
            let (rss, peak) = memory();
            println!(
                "{:>10} calls: {:>7.0} calls/s since the last line · RSS {rss:>4} MB (peak {peak} MB)",
                i + 1,
                since_report.1 as f64 / since_report.0.as_secs_f64(),
            );
            since_report = (Elapsed::ZERO, 0);
            checkpoint = (checkpoint * 2).min(total);
            if checkpoint == i + 1 {
                checkpoint = u64::MAX;
            }
        }
    }
    println!(
        "all signals: {:.0} calls/s ({:.1} µs a call) · evaluation {:.2} ms each ({evaluations} of them, once a virtual minute)",
        total as f64 / ingesting.as_secs_f64(),
        ingesting.as_secs_f64() * 1e6 / total as f64,
        evaluating.as_secs_f64() * 1e3 / f64::from(evaluations.max(1)),
    );
}

/// The demo's healthy traffic, each answer lengthened to about 1 KB with its retrieved passages.
fn pool() -> Vec<Call> {
    let scenario = Scenario::builtin("prompt-regression").unwrap().unwrap();
    let mut simulator = Simulator::new(scenario.clone(), 7);
    // Before the planted change: half an hour of healthy calls at the demo's 30 a minute.
    let calls = SimOutput::split(simulator.advance_to(scenario.start + Duration::minutes(30))).0;
    calls
        .into_iter()
        .filter(|c| c.output.is_some())
        .cycle()
        .take(POOL)
        .map(lengthened)
        .collect()
}

fn lengthened(mut call: Call) -> Call {
    let Some(output) = call.output.as_deref() else {
        return call;
    };
    let Ok(mut answer) = serde_json::from_str::<serde_json::Value>(output) else {
        return call;
    };
    let passages = call.context.clone().unwrap_or_default().join(" ");
    if let Some(text) = answer
        .get_mut("answer")
        .and_then(|a| a.as_str().map(String::from))
    {
        let mut long = text.clone();
        while long.len() + 100 < OUTPUT_BYTES {
            long.push(' ');
            long.push_str(if passages.is_empty() {
                &text
            } else {
                &passages
            });
        }
        let mut end = OUTPUT_BYTES - 100;
        while !long.is_char_boundary(end) {
            end -= 1;
        }
        long.truncate(end);
        answer["answer"] = serde_json::Value::String(long);
        call.output = Some(answer.to_string());
    }
    call
}

/// Resident and peak resident memory of this process, in MB, from /proc.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Seeds of the input-drift scenario, and of the healthy day.
const DRIFT_SEEDS: std::ops::RangeInclusive<u64> = 1..=8;
const HEALTHY_SEEDS: std::ops::RangeInclusive<u64> = 1..=3;

fn drift() {
    println!();
    println!(
        "== input drift: the Input drift metric (per-call novelty, change-point detector) and the MMD test"
    );
    let mut delays = Vec::new();
    for seed in DRIFT_SEEDS {
        let scenario = Scenario::builtin("input-drift").unwrap().unwrap();
        let change = scenario.events.last().expect("the scenario's shift").at;
        let flags = first_flags(scenario, seed, Duration::minutes(75), change);
        let (alarm, test) = (flags.input_drift, flags.mmd);
        let minutes = |at: Option<DateTime<Utc>>| {
            at.map_or("never".into(), |at| {
                format!("{:.1} min", (at - change).num_seconds() as f64 / 60.0)
            })
        };
        println!(
            "seed {seed}: metric alarm {} after the shift · MMD test drifted {} after",
            minutes(alarm),
            minutes(test)
        );
        delays.extend(alarm.map(|at| (at - change).num_seconds() as f64 / 60.0));
    }
    delays.sort_by(f64::total_cmp);
    if let (Some(median), Some(worst)) = (delays.get(delays.len() / 2), delays.last()) {
        println!(
            "metric alarm: median {median:.1} min, worst {worst:.1} min after the shift, {} of {} seeds",
            delays.len(),
            DRIFT_SEEDS.count()
        );
    }
    for seed in HEALTHY_SEEDS {
        // Every fifth generated scenario is healthy: no cause planted, only its decoy.
        let generated = generate(4, seed).expect("a generated scenario");
        assert!(generated.cause.is_none());
        let scenario = generated.scenario;
        let start = scenario.start;
        let flags = first_flags(scenario, seed, Duration::hours(24), start);
        let (alarm, test, similarity) = (flags.input_drift, flags.mmd, flags.similarity);
        let when = |at: Option<DateTime<Utc>>, none: &str| {
            at.map_or(none.to_string(), |at| at.format("at %H:%M").to_string())
        };
        println!(
            "healthy day, seed {seed}: Input drift alarm {} · MMD test drifted {} · Similarity alarm {}",
            when(alarm, "none"),
            when(test, "never"),
            when(similarity, "none"),
        );
    }
}

/// When each flag first went up, from a given time on.
struct Flags {
    /// The Input drift metric alarmed.
    input_drift: Option<DateTime<Utc>>,
    /// The MMD test said the inputs drifted.
    mmd: Option<DateTime<Utc>>,
    /// The Similarity metric alarmed.
    similarity: Option<DateTime<Utc>>,
}

/// Runs a scenario for `length`, evaluating every virtual minute, and notes the first flags
/// raised from `after` on.
fn first_flags(scenario: Scenario, seed: u64, length: Duration, after: DateTime<Utc>) -> Flags {
    let start = scenario.start;
    let mut simulator = Simulator::new(scenario, seed);
    let mut engine = Engine::new(EngineConfig::default(), schema_registry());
    let mut flags = Flags {
        input_drift: None,
        mmd: None,
        similarity: None,
    };
    let mut now = start;
    while now < start + length {
        now += Duration::minutes(1);
        for call in SimOutput::split(simulator.advance_to(now)).0 {
            engine.ingest_call(&call);
        }
        let assessment: Assessment = engine.evaluate(now);
        if now < after {
            continue;
        }
        let alarming = |id| assessment.reading(id).is_some_and(|r| r.state.is_alarm());
        if alarming(MetricId::InputDrift) {
            flags.input_drift.get_or_insert(now);
        }
        if alarming(MetricId::Similarity) {
            flags.similarity.get_or_insert(now);
        }
        if assessment.input_drift.as_ref().is_some_and(|d| d.drifted()) {
            flags.mmd.get_or_insert(now);
        }
    }
    flags
}
