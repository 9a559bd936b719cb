//! `cargo bench --bench triage`: how fast and how reliably the engine detects and classifies.
//!
//! 1. Detection delay in calls for three rate changes at one false alarm per 10,000 calls: the
//!    engine's detector pair (baseline learned from an hour of traffic), the optimal CUSUM that
//!    knows both rates (exact, from its Markov chain), and a Prometheus-style rule (5-minute
//!    rate over a threshold, `for: 5m`) calibrated to the same false-alarm rate.
//! 2. The detector pair's false-alarm rate on long healthy streams.
//! 3. Triage accuracy over generated scenarios, and the time from onset to the right answer.
//! 4. `flightdeck triage` throughput on a recorded JSONL stream, one core.
//!
//! Name sections to run only those: `cargo bench --bench triage -- throughput`.

use std::io::Write;
use std::process::Command;
use std::time::Instant;

use chrono::Duration;
use flightdeck::engine::EngineConfig;
use flightdeck::engine::change_points::guarded_rate;
use flightdeck::engine::detect::RateDetector;
use flightdeck::engine::detect::cusum::CusumDesign;
use flightdeck::engine::metrics::MetricId;
use flightdeck::engine::stats::Proportion;
use flightdeck::headless::Replay;
use flightdeck::sim::generate::generate;
use flightdeck::sim::rng::Rng;
use flightdeck::sim::scenario::Scenario;
use flightdeck::sim::{SimOutput, Simulator, schema_registry};

const CALLS_PER_FALSE_ALARM: f64 = 10_000.0;
const CASES: [(f64, f64, f64); 3] = [(0.04, 0.22, 29.7), (0.10, 0.30, 39.8), (0.02, 0.05, 239.0)];
/// An hour of baseline at the demo's 30 calls a minute.
const BASELINE_CALLS: usize = 1800;
const CALLS_PER_MINUTE: f64 = 30.0;

/// Sections by name: `cargo bench --bench triage -- throughput` runs one; no name runs all.
const SECTIONS: [(&str, fn()); 4] = [
    ("delay", detection_delay),
    ("false-alarms", false_alarms),
    ("accuracy", triage_accuracy),
    ("throughput", throughput),
];

fn main() {
    let chosen: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| SECTIONS.iter().any(|(name, _)| name == arg))
        .collect();
    for (name, section) in SECTIONS {
        if chosen.is_empty() || chosen.iter().any(|c| c == name) {
            section();
        }
    }
}

/// The engine's detector pair for a hallucination-like rate, tuned to a learned baseline.
fn learned_detector(p0: f64, rng: &mut Rng) -> RateDetector {
    let mut share = Proportion::default();
    for _ in 0..BASELINE_CALLS {
        share.add(rng.chance(p0));
    }
    let shifts = MetricId::Hallucination.shifts().expect("a rate metric");
    let mut detector = RateDetector::new(shifts, CALLS_PER_FALSE_ALARM);
    detector.arm(guarded_rate(share).expect("enough baseline calls"));
    detector
}

fn start() -> chrono::DateTime<chrono::Utc> {
    "2026-03-14T13:00:00Z".parse().unwrap()
}

/// The engine's detector pair armed with the true baseline rate.
fn known_detector(p0: f64) -> RateDetector {
    let shifts = MetricId::Hallucination.shifts().expect("a rate metric");
    let mut detector = RateDetector::new(shifts, CALLS_PER_FALSE_ALARM);
    detector.arm(p0);
    detector
}

/// Calls from a change (at zero) to the detector pair's alarm, its baseline known or learned.
fn delay_of_pair(p0: f64, p1: f64, runs: u64, learned: bool) -> f64 {
    let total: u64 = (0..runs)
        .map(|seed| {
            let mut rng = Rng::new(seed);
            let mut detector = if learned {
                learned_detector(p0, &mut rng)
            } else {
                known_detector(p0)
            };
            (1..)
                .find(|i| {
                    detector
                        .step(start() + Duration::seconds(*i as i64), rng.chance(p1))
                        .is_some()
                })
                .unwrap()
        })
        .sum();
    total as f64 / runs as f64
}

/// A Prometheus alerting rule over a steady stream: the bad share over the last 5 minutes above
/// `threshold`, evaluated every 15 s, held `for: 5m`; its windows in calls depend on traffic.
#[derive(Clone)]
struct PrometheusRule {
    threshold: f64,
    window_calls: usize,
    evaluation_calls: u64,
    for_calls: u64,
    window: std::collections::VecDeque<bool>,
    bad: usize,
    pending_since: Option<u64>,
}

impl PrometheusRule {
    fn new(threshold: f64, calls_per_minute: f64) -> Self {
        Self {
            threshold,
            window_calls: (5.0 * calls_per_minute) as usize,
            evaluation_calls: ((calls_per_minute / 4.0) as u64).max(1),
            for_calls: (5.0 * calls_per_minute) as u64,
            window: Default::default(),
            bad: 0,
            pending_since: None,
        }
    }

    /// Feeds call `index`; returns true when the alert fires on it. A fired alert is handled and
    /// the rule starts afresh, so a threshold below the healthy rate fires again and again
    /// instead of counting once, as a run-length comparison with the CUSUM requires.
    fn step(&mut self, index: u64, bad: bool) -> bool {
        self.window.push_back(bad);
        self.bad += usize::from(bad);
        if self.window.len() > self.window_calls && self.window.pop_front() == Some(true) {
            self.bad -= 1;
        }
        if !index.is_multiple_of(self.evaluation_calls) {
            return false;
        }
        let above = self.window.len() == self.window_calls
            && self.bad as f64 / self.window_calls as f64 > self.threshold;
        if !above {
            self.pending_since = None;
            return false;
        }
        let since = *self.pending_since.get_or_insert(index);
        if index - since >= self.for_calls {
            self.window.clear();
            self.bad = 0;
            self.pending_since = None;
            return true;
        }
        false
    }
}

/// The lowest threshold (in whole bad calls per window) whose false alarms on a healthy
/// stream stay within the budget, by bisection: alarms only fall as the threshold rises.
fn calibrate_prometheus(p0: f64, calls_per_minute: f64) -> f64 {
    let calls: u64 = 3_000_000;
    let window = PrometheusRule::new(0.0, calls_per_minute).window_calls;
    let within_budget = |k: usize| {
        let mut rng = Rng::new(99);
        let mut rule = PrometheusRule::new(k as f64 / window as f64, calls_per_minute);
        let alarms = (0..calls).filter(|i| rule.step(*i, rng.chance(p0))).count();
        alarms as f64 <= calls as f64 / CALLS_PER_FALSE_ALARM
    };
    let (mut low, mut high) = (0, window);
    while high - low > 1 {
        let middle = (low + high) / 2;
        if within_budget(middle) {
            high = middle;
        } else {
            low = middle;
        }
    }
    high as f64 / window as f64
}

fn delay_of_prometheus(threshold: f64, calls_per_minute: f64, p0: f64, p1: f64, runs: u64) -> f64 {
    let mut total = 0u64;
    for seed in 0..runs {
        let mut rng = Rng::new(seed);
        let mut rule = PrometheusRule::new(threshold, calls_per_minute);
        // Ten healthy minutes fill the window; the change lands at a random evaluation phase.
        let change = 2 * rule.window_calls as u64 + seed % rule.evaluation_calls;
        for i in 0..change {
            rule.step(i, rng.chance(p0));
        }
        let fired = (change..).find(|i| rule.step(*i, rng.chance(p1))).unwrap();
        total += fired - change + 1;
    }
    total as f64 / runs as f64
}

fn detection_delay() {
    println!(
        "== Detection delay, calls from the change to the alarm, 1 false alarm per 10,000 calls"
    );
    println!(
        "   known p0: the pair armed with the true rate; 1 h p0: learned from {BASELINE_CALLS} calls"
    );
    println!(
        "   prometheus: bad share over 5 min above a calibrated threshold, for: 5m, at 30 and 300 calls/min"
    );
    println!(
        "{:<9} {:>8} {:>7} {:>9} {:>7} {:>9} {:>7} {:>10} {:>8} {:>10} {:>8}",
        "change",
        "optimal",
        "(doc)",
        "known p0",
        "×opt",
        "1 h p0",
        "×opt",
        "prom 30",
        "÷1 h p0",
        "prom 300",
        "÷1 h p0"
    );
    for (p0, p1, published) in CASES {
        let optimal = CusumDesign::calibrate(p0, p1, CALLS_PER_FALSE_ALARM).run_length(p1);
        let known = delay_of_pair(p0, p1, 2000, false);
        let learned = delay_of_pair(p0, p1, 2000, true);
        let prometheus = |calls_per_minute: f64| {
            let threshold = calibrate_prometheus(p0, calls_per_minute);
            delay_of_prometheus(threshold, calls_per_minute, p0, p1, 500)
        };
        let (slow, fast) = (
            prometheus(CALLS_PER_MINUTE),
            prometheus(10.0 * CALLS_PER_MINUTE),
        );
        println!(
            "{:<9} {optimal:>8.1} {published:>7.1} {known:>9.1} {:>6.2}× {learned:>9.1} {:>6.2}× {slow:>10.1} {:>7.1}× {fast:>10.1} {:>7.1}×",
            format!("{:.0}%→{:.0}%", p0 * 100.0, p1 * 100.0),
            known / optimal,
            learned / optimal,
            slow / learned,
            fast / learned,
        );
    }
}

fn false_alarms() {
    println!();
    println!("== False alarms of the detector pair on healthy streams (baseline learned each run)");
    let streams = 40;
    let calls_per_stream: u64 = 250_000;
    for (p0, _, _) in CASES {
        let mut alarms = 0u64;
        for seed in 0..streams {
            let mut rng = Rng::new(1_000 + seed);
            let mut detector = learned_detector(p0, &mut rng);
            for i in 0..calls_per_stream {
                if detector
                    .step(start() + Duration::seconds(i as i64), rng.chance(p0))
                    .is_some()
                {
                    alarms += 1;
                }
            }
        }
        let calls = streams * calls_per_stream;
        println!(
            "p0 {:>4.0}%: {alarms} alarms in {calls} calls = {:.2} per 10,000 calls (budget 1.00)",
            p0 * 100.0,
            alarms as f64 * 10_000.0 / calls as f64
        );
    }
}

fn triage_accuracy() {
    println!();
    println!(
        "== Triage over generated scenarios (random rates, traffic 20–120/min, canaries, decoys)"
    );
    let count = 60;
    let mut correct = 0;
    let mut minutes = Vec::new();
    let mut healthy = 0;
    let mut false_incidents = 0;
    let mut by_cause: std::collections::BTreeMap<&str, (u32, u32)> = Default::default();
    for index in 0..count {
        let generated = generate(index, 2026).expect("generated scenarios are valid");
        let change_at = generated.scenario.start + Duration::minutes(generated.change_at_minutes);
        let expected = generated.cause.map_or("none", |c| c.key());
        let report = Replay::new(EngineConfig::default(), schema_registry())
            .run_scenario(generated.scenario.clone(), index);
        let right = report.category == expected;
        let tally = by_cause.entry(expected).or_default();
        tally.1 += 1;
        if generated.cause.is_none() {
            healthy += 1;
            false_incidents += u32::from(report.declared_at.is_some());
        }
        if right {
            correct += 1;
            tally.0 += 1;
            if let Some(at) = report.classified_at {
                minutes.push((at - change_at).num_seconds() as f64 / 60.0);
            }
        } else {
            println!(
                "  wrong: #{index} planted {expected} (decoy: {}), got {} {:.0}%",
                generated.decoy,
                report.category,
                report.confidence * 100.0
            );
        }
    }
    for (cause, (right, total)) in &by_cause {
        println!("  {cause:<15} {right}/{total}");
    }
    minutes.sort_by(f64::total_cmp);
    let median = minutes.get(minutes.len() / 2).copied().unwrap_or(f64::NAN);
    let p90 = minutes
        .get(minutes.len() * 9 / 10)
        .copied()
        .unwrap_or(f64::NAN);
    println!(
        "correct {correct}/{count} = {:.1}% · incidents declared on healthy streams: {false_incidents}/{healthy} · onset to right category: median {median:.1} min, p90 {p90:.1} min",
        100.0 * correct as f64 / count as f64
    );
}

/// A recorded stream: the prompt regression at some traffic for three hours, as JSONL.
fn recorded(calls_per_minute: f64) -> (tempfile::NamedTempFile, usize) {
    let mut scenario = Scenario::builtin("prompt-regression").unwrap().unwrap();
    scenario.calls_per_minute = calls_per_minute;
    let end = scenario.start + Duration::hours(3);
    let mut simulator = Simulator::new(scenario, 5);
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let mut calls = 0;
    for output in simulator.advance_to(end) {
        if let SimOutput::Call(call) = output {
            serde_json::to_writer(&mut file, &call).unwrap();
            file.write_all(b"\n").unwrap();
            calls += 1;
        }
    }
    file.flush().unwrap();
    (file, calls)
}

/// Runs of the release binary per stream: the machine's speed varies from run to run, so the
/// median and the best are both reported.
const RUNS: usize = 7;

fn throughput() {
    println!();
    println!(
        "== `flightdeck triage --events FILE --json`, the release binary, one core: {RUNS} runs per stream, process start to exit"
    );
    for calls_per_minute in [30.0, 300.0, 1000.0] {
        let (file, calls) = recorded(calls_per_minute);
        let mut seconds: Vec<f64> = Vec::new();
        let mut category = String::new();
        for _ in 0..RUNS {
            let began = Instant::now();
            let output = Command::new(env!("CARGO_BIN_EXE_flightdeck"))
                .args(["triage", "--json", "--events"])
                .arg(file.path())
                .output()
                .unwrap();
            seconds.push(began.elapsed().as_secs_f64());
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            category = report["category"].as_str().unwrap_or("?").to_string();
        }
        seconds.sort_by(f64::total_cmp);
        let median = seconds[RUNS / 2];
        println!(
            "{calls_per_minute:>6} calls/min for 3 h: {calls:>6} calls · median {median:.3} s = {:>7.0} calls/s · best {:.3} s = {:>7.0} calls/s (category {category})",
            calls as f64 / median,
            seconds[0],
            calls as f64 / seconds[0],
        );
    }
}
