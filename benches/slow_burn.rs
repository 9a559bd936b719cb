//! `cargo bench --bench slow_burn`: the engine against slow-burn streams (issue 18), several
//! features with quiet regressions planted at known times (`flightdeck::sim::slow_burn`).
//!
//! For each seed of a set, one stream per planting runs through `Replay` as `flightdeck triage`
//! runs a recorded stream, and the bench reports:
//! 1. the triage category against the planted cause, per cause and overall (a healthy stream
//!    must say `none`; `unexplained` is counted apart, and is wrong for a planted cause);
//! 2. false incidents: healthy 24-hour streams on which an incident was declared;
//! 3. detection delay in calls of the planted slice, from the change to the declaration, over
//!    the optimal CUSUM's for that slice's own rates at the engine's false-alarm budget.
//!
//! Sections: `tune` (seeds 1–3), `holdout` (seeds 101–105, looked at while the settings were
//! changed), `fresh` (seeds 201–205, run once the settings were final), `healthy` (twenty
//! healthy days on seeds 301–320, for false incidents), `throughput` (one core, 10
//! features × 5 tenants against one feature at the same traffic, with the peak RSS read in a
//! child process of the bench), and
//! `dump` (writes streams as JSONL to try by hand: `dump [PLANTING] [SEED]`). Name sections to
//! run only those, `cargo bench --bench slow_burn -- holdout`; no name runs all but `dump`.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use chrono::{DateTime, Utc};
use flightdeck::engine::EngineConfig;
use flightdeck::engine::detect::cusum::CusumDesign;
use flightdeck::headless::{Replay, TriageReport};
use flightdeck::model::{Call, Change};
use flightdeck::sim::schema_registry;
use flightdeck::sim::slow_burn::{Planting, Shape, SlowBurn, generate, generate_shaped};

const TUNE: [u64; 3] = [1, 2, 3];
const HOLDOUT: [u64; 5] = [101, 102, 103, 104, 105];
/// Looked at only once the engine's settings were final (the holdout had been looked at).
const FRESH: [u64; 5] = [201, 202, 203, 204, 205];
/// Healthy days apart, for the false incidents: twenty seeds no setting was tuned on.
const HEALTHY_DAYS: std::ops::Range<u64> = 301..321;

/// A section of the bench, given the command line's arguments.
type Section = fn(&[String]);

/// Sections by name; `dump` runs only when named.
const SECTIONS: [(&str, Section); 6] = [
    ("tune", |_| accuracy("tune", &TUNE)),
    ("holdout", |_| accuracy("holdout", &HOLDOUT)),
    ("fresh", |_| accuracy("fresh", &FRESH)),
    ("healthy", |_| healthy_days()),
    ("throughput", |_| throughput()),
    ("dump", dump),
];

fn main() {
    // Cargo passes `--bench`; the rest are section names and the dump's arguments.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    if let [mode, shape, calls] = args.as_slice()
        && mode == PEAK_RSS
    {
        peak_rss(
            shape.parse().expect("a shape index"),
            calls.parse().expect("a call count"),
        );
        return;
    }
    let named = |name: &str| args.iter().any(|arg| arg == name);
    let any_named = SECTIONS.iter().any(|(name, _)| named(name));
    for (name, section) in SECTIONS {
        if named(name) || (!any_named && name != "dump") {
            section(&args);
        }
    }
}

/// The engine's settings, as `flightdeck triage` has them with no config file.
fn config() -> EngineConfig {
    EngineConfig::default()
}

/// What one stream gave.
struct Outcome {
    burn: SlowBurn,
    report: TriageReport,
    /// When each call of the planted slice arrived, from the change on.
    slice_calls: Vec<DateTime<Utc>>,
}

impl Outcome {
    fn expected(&self) -> &'static str {
        self.burn.planted.cause.map_or("none", |c| c.key())
    }

    /// The planted cause named; on a healthy stream, no incident at all (one declared before
    /// its triage settled also says `none`).
    fn right(&self) -> bool {
        self.report.category == self.expected()
            && (self.burn.planted.cause.is_some() || self.report.declared_at.is_none())
    }

    /// Calls of the slice from the change to the declaration and the optimal CUSUM's expected
    /// delay for the slice's rates; `None` when nothing was declared after the change.
    fn delay(&self) -> Option<(usize, f64)> {
        let shift = self.burn.planted.shift.as_ref()?;
        let declared = self.report.declared_at.filter(|at| *at >= shift.at)?;
        let calls = self.slice_calls.partition_point(|t| *t <= declared);
        let design = CusumDesign::calibrate(shift.p0, shift.p1, config().calls_per_false_alarm);
        Some((calls, design.run_length(shift.p1) / shift.measured_share))
    }

    /// An incident declared before the planted change: a false alarm that took the slot.
    fn early(&self) -> bool {
        let change = self.burn.planted.shift.as_ref().map(|s| s.at);
        matches!((self.report.declared_at, change), (Some(at), Some(change)) if at < change)
    }
}

/// Replays a stream as `flightdeck triage --events --changes` does: changes fed in time order,
/// each before the first call at or after it.
fn replay<C: Borrow<Call>>(
    burn: &SlowBurn,
    calls: impl Iterator<Item = C>,
) -> (TriageReport, Vec<DateTime<Utc>>) {
    let mut replay = Replay::new(config(), schema_registry());
    let mut changes = burn.changes.iter().cloned().peekable();
    let shift = burn.planted.shift.as_ref();
    let mut slice_calls = Vec::new();
    for call in calls {
        let call = call.borrow();
        while let Some(change) = changes.next_if(|c| c.ts <= call.ts) {
            replay.change(change);
        }
        if let Some(shift) = shift
            && call.ts >= shift.at
            && shift.slice.contains(call)
        {
            slice_calls.push(call.ts);
        }
        replay.call(call);
    }
    for change in changes {
        replay.change(change);
    }
    (replay.finish(0), slice_calls)
}

fn run(planting: Planting, seed: u64) -> Outcome {
    let burn = generate(planting, seed);
    let (report, slice_calls) = replay(&burn, burn.calls());
    Outcome {
        burn,
        report,
        slice_calls,
    }
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// One line per stream, and for a wrong one what the triage said.
fn print_stream(seed: u64, outcome: &Outcome) {
    let burn = &outcome.burn;
    let report = &outcome.report;
    let planted = match &burn.planted.shift {
        Some(s) => format!(
            "{} {}→{} {:.1}/min {}",
            s.metric.key(),
            percent(s.p0),
            percent(s.p1),
            s.calls_per_minute,
            s.slice
        ),
        None => "—".into(),
    };
    let delay = match (outcome.delay(), outcome.early(), report.declared_at) {
        (Some((calls, optimal)), ..) => {
            format!(
                "{calls} calls, {:.1}× opt {optimal:.0}",
                calls as f64 / optimal
            )
        }
        (None, true, _) => "declared before the change".into(),
        (None, false, Some(_)) => "declared".into(),
        (None, false, None) => "no incident".into(),
    };
    println!(
        "{seed:>4} {:<14} {:>2} feat labels {:>3} served {:<3} | {planted} | got {} {:.2} | {delay}",
        burn.planted.planting.name(),
        burn.feature_names().len(),
        format!("{:.0}%", burn.eval_coverage() * 100.0),
        if burn.reports_served_model() {
            "yes"
        } else {
            "no"
        },
        report.category,
        report.confidence,
    );
    if outcome.right() {
        return;
    }
    println!("       planted: {}", burn.planted.description);
    if report.declared_at.is_none() {
        return;
    }
    let since_change = |t: Option<DateTime<Utc>>| match (t, &burn.planted.shift) {
        (Some(t), Some(s)) => format!("{:+} min", (t - s.at).num_minutes()),
        (Some(t), None) => format!("{} min in", (t - burn.start()).num_minutes()),
        (None, _) => "—".into(),
    };
    println!(
        "       primary {} · onset {} · declared {} (from the change)",
        report.primary_metric.as_deref().unwrap_or("—"),
        since_change(report.onset),
        since_change(report.declared_at),
    );
    for step in &report.steps {
        let mut evidence = step.evidence.iter();
        println!(
            "       {:<15} {:<17} {}",
            step.name.key(),
            step.verdict.to_string(),
            evidence.next().map_or("", String::as_str)
        );
        for line in evidence {
            println!("       {:<33} {line}", "");
        }
    }
}

/// Per cause: the right answers, and the wrong ones by kind: `unexplained`, no incident
/// declared, or another answer (a healthy stream with an incident counts there).
#[derive(Default)]
struct Tally {
    streams: u32,
    right: u32,
    unexplained: u32,
    no_incident: u32,
    other: u32,
}

impl Tally {
    fn add(&mut self, outcome: &Outcome) {
        self.streams += 1;
        if outcome.right() {
            self.right += 1;
        } else if outcome.report.category == "unexplained" {
            self.unexplained += 1;
        } else if outcome.report.declared_at.is_none() {
            self.no_incident += 1;
        } else {
            self.other += 1;
        }
    }

    fn row(&self, name: &str) -> String {
        format!(
            "{name:<16} {:>7} {:>6} {:>9.0}% {:>12} {:>12} {:>6}",
            self.streams,
            self.right,
            100.0 * f64::from(self.right) / f64::from(self.streams.max(1)),
            self.unexplained,
            self.no_incident,
            self.other,
        )
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

fn accuracy(set: &str, seeds: &[u64]) {
    println!();
    println!(
        "== Slow-burn set `{set}`, seeds {seeds:?}: {} streams per seed, default engine settings (1 false alarm per {:.0} calls)",
        Planting::ALL.len(),
        config().calls_per_false_alarm
    );
    println!(
        "seed planting       features, evaluator labels, model_served | planted metric p0→p1, slice traffic, slice | got category, confidence | delay in slice calls"
    );
    let began = Instant::now();
    let mut outcomes = Vec::new();
    for &seed in seeds {
        for planting in Planting::ALL {
            let outcome = run(planting, seed);
            print_stream(seed, &outcome);
            outcomes.push(outcome);
        }
    }
    let elapsed = began.elapsed().as_secs_f64();
    println!();
    println!(
        "{:<16} {:>7} {:>6} {:>10} {:>12} {:>12} {:>6}",
        "cause", "streams", "right", "accuracy", "unexplained", "no incident", "other"
    );
    let mut by_cause: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut overall = Tally::default();
    for outcome in &outcomes {
        by_cause.entry(outcome.expected()).or_default().add(outcome);
        overall.add(outcome);
    }
    for cause in ["prompt", "model", "data", "infrastructure", "none"] {
        if let Some(tally) = by_cause.get(cause) {
            println!("{}", tally.row(cause));
        }
    }
    println!("{}", overall.row("overall"));
    println!();
    println!(
        "{:<16} {:>7} {:>6} {:>9} {:>7} {:>13} {:>12}",
        "planting", "streams", "right", "declared", "early", "median delay", "worst delay"
    );
    let mut ratios = Vec::new();
    for planting in Planting::ALL.into_iter().skip(1) {
        let of: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.burn.planted.planting == planting)
            .collect();
        let delays: Vec<f64> = of
            .iter()
            .filter_map(|o| o.delay())
            .map(|(calls, optimal)| calls as f64 / optimal)
            .collect();
        ratios.extend(&delays);
        let shown = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.1}× opt"));
        println!(
            "{:<16} {:>7} {:>6} {:>9} {:>7} {:>13} {:>12}",
            planting.name(),
            of.len(),
            of.iter().filter(|o| o.right()).count(),
            delays.len(),
            of.iter().filter(|o| o.early()).count(),
            shown(median(delays.clone())),
            shown(delays.into_iter().reduce(f64::max)),
        );
    }
    let healthy: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.burn.planted.cause.is_none())
        .collect();
    let false_incidents = healthy
        .iter()
        .filter(|o| o.report.declared_at.is_some())
        .count();
    let planted = outcomes.len() - healthy.len();
    println!();
    println!(
        "false incidents: {false_incidents} of {} healthy 24-hour streams declared one; {} of {planted} planted streams declared one before the change",
        healthy.len(),
        outcomes.iter().filter(|o| o.early()).count(),
    );
    println!(
        "detection delay over the optimal CUSUM for the slice's own p0→p1: {} of {planted} declared after the change, median {}, worst {}",
        ratios.len(),
        median(ratios.clone()).map_or("—".into(), |r| format!("{r:.1}×")),
        ratios
            .into_iter()
            .reduce(f64::max)
            .map_or("—".into(), |r| format!("{r:.1}×")),
    );
    println!("({elapsed:.0} s for the set)");
}

/// Healthy 24-hour streams on seeds apart: each incident declared on one is a false incident,
/// named with the alarm that led it.
fn healthy_days() {
    println!();
    println!(
        "== Healthy 24-hour streams, seeds {HEALTHY_DAYS:?}, default engine settings (1 false alarm per {:.0} calls)",
        config().calls_per_false_alarm
    );
    let began = Instant::now();
    let (mut days, mut calls, mut false_incidents) = (0, 0, 0);
    for seed in HEALTHY_DAYS {
        let outcome = run(Planting::Healthy, seed);
        days += 1;
        calls += outcome.report.calls;
        if let Some(at) = outcome.report.declared_at {
            false_incidents += 1;
            println!(
                "{seed:>4} {} features, {} calls: incident declared {} min in, led by {} {}",
                outcome.burn.feature_names().len(),
                outcome.report.calls,
                (at - outcome.burn.start()).num_minutes(),
                outcome.report.primary_metric.as_deref().unwrap_or("—"),
                outcome
                    .report
                    .slice
                    .as_deref()
                    .unwrap_or("over the service"),
            );
        }
    }
    println!(
        "false incidents: {false_incidents} of {days} healthy days ({calls} calls) declared one ({:.0} s)",
        began.elapsed().as_secs_f64()
    );
}

/// Resident set size and its peak, in MB, from /proc/self/status.
fn memory() -> Option<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

const THROUGHPUT_RUNS: usize = 3;

/// How `throughput` runs the bench as a child to read one replay's peak RSS in a fresh process.
const PEAK_RSS: &str = "peak-rss";

/// The two streams compared: many slices, and one feature at the same traffic.
fn shapes() -> [(&'static str, Shape); 2] {
    let duration = chrono::Duration::hours(6);
    [
        (
            "1 feature × 1 tenant, 300 calls/min",
            Shape {
                features: 1,
                tenants: 1,
                calls_per_minute: 300.0,
                duration,
            },
        ),
        (
            "10 features × 5 tenants, 30 calls/min each",
            Shape {
                features: 10,
                tenants: 5,
                calls_per_minute: 30.0,
                duration,
            },
        ),
    ]
}

/// In the child: replays the shape's first `calls` calls as they are generated, then prints
/// the RSS before and the peak, in MB.
fn peak_rss(shape: usize, calls: usize) {
    let burn = generate_shaped(7, shapes()[shape].1);
    let before = memory().map_or(f64::NAN, |(rss, _)| rss);
    replay(&burn, burn.calls().take(calls));
    let peak = memory().map_or(f64::NAN, |(_, peak)| peak);
    println!("{before} {peak}");
}

fn throughput() {
    println!();
    println!(
        "== Replay throughput, one core, healthy 6 h streams cut to the same number of calls: {THROUGHPUT_RUNS} timed runs each on calls held in memory; peak RSS of a fresh process replaying the calls as they are generated"
    );
    let streams = shapes().map(|(label, shape)| (label, generate_shaped(7, shape)));
    // Diurnal phase and spikes differ between the two, so the longer is cut to the shorter.
    let calls = streams
        .iter()
        .map(|(_, burn)| burn.calls().count())
        .min()
        .expect("two streams");
    for (index, (label, burn)) in streams.iter().enumerate() {
        let held: Vec<Call> = burn.calls().take(calls).collect();
        let mut seconds = Vec::new();
        let mut category = String::new();
        for _ in 0..THROUGHPUT_RUNS {
            let began = Instant::now();
            let (report, _) = replay(burn, held.iter());
            seconds.push(began.elapsed().as_secs_f64());
            category = report.category;
        }
        drop(held);
        let median = median(seconds.clone()).expect("timed runs");
        let best = seconds.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "{label:<44} {calls:>6} calls · median {median:.2} s = {:>6.0} calls/s · best {:>6.0} calls/s · {} · category {category}",
            calls as f64 / median,
            calls as f64 / best,
            child_peak_rss(index, calls),
        );
    }
}

fn child_peak_rss(shape: usize, calls: usize) -> String {
    let output = std::env::current_exe()
        .and_then(|bench| {
            Command::new(bench)
                .args([PEAK_RSS, &shape.to_string(), &calls.to_string()])
                .output()
        })
        .ok()
        .filter(|output| output.status.success());
    let numbers: Vec<f64> = output
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    match numbers.as_slice() {
        [before, peak] if peak.is_finite() => {
            format!("peak RSS {peak:.0} MB ({before:.0} MB before the replay)")
        }
        _ => "peak RSS unreadable".into(),
    }
}

/// Where generated streams are written: the cargo target directory's `slow-burn/`.
fn dump_dir() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| "target".into(), PathBuf::from);
    target.join("slow-burn")
}

fn write_jsonl<T: serde::Serialize>(path: &PathBuf, records: impl Iterator<Item = T>) -> usize {
    let mut out = BufWriter::new(File::create(path).expect("the dump file can be created"));
    let mut count = 0;
    for record in records {
        serde_json::to_writer(&mut out, &record).expect("records serialize");
        out.write_all(b"\n").expect("the dump file can be written");
        count += 1;
    }
    out.flush().expect("the dump file can be written");
    count
}

/// Reads the file back through the JSONL contract and checks every record is the one written.
fn check_round_trip<T>(path: &PathBuf, written: impl Iterator<Item = T>)
where
    T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let reader = BufReader::new(File::open(path).expect("the dump file can be read"));
    let mut written = written;
    let mut lines = 0;
    flightdeck::jsonl::for_each_line(
        reader,
        flightdeck::jsonl::DEFAULT_MAX_LINE,
        |number, parsed: Result<T, _>| {
            let record = parsed.unwrap_or_else(|e| panic!("{}:{number}: {e}", path.display()));
            assert_eq!(Some(record), written.next(), "{}:{number}", path.display());
            lines += 1;
        },
    )
    .expect("the dump file can be read");
    assert!(
        written.next().is_none(),
        "{}: lines missing",
        path.display()
    );
    println!("  {} lines read back unchanged: {}", lines, path.display());
}

/// `dump [PLANTING] [SEED]`: every planting at seed 1 unless told.
fn dump(args: &[String]) {
    let after: Vec<&String> = args.iter().skip_while(|a| *a != "dump").skip(1).collect();
    let plantings: Vec<Planting> = match after.first().and_then(|a| Planting::from_name(a)) {
        Some(planting) => vec![planting],
        None => Planting::ALL.to_vec(),
    };
    let seed = after
        .iter()
        .find_map(|a| a.parse::<u64>().ok())
        .unwrap_or(1);
    let dir = dump_dir();
    std::fs::create_dir_all(&dir).expect("the dump directory can be created");
    println!();
    println!("== Streams as JSONL in {}", dir.display());
    for planting in plantings {
        let burn = generate(planting, seed);
        let calls_path = dir.join(format!("{}-calls.jsonl", burn.name));
        let changes_path = dir.join(format!("{}-changes.jsonl", burn.name));
        let calls = write_jsonl(&calls_path, burn.calls());
        write_jsonl(&changes_path, burn.changes.iter());
        check_round_trip::<Call>(&calls_path, burn.calls());
        check_round_trip::<Change>(&changes_path, burn.changes.iter().cloned());
        println!(
            "{}: {calls} calls, {} changes · planted: {}",
            burn.name,
            burn.changes.len(),
            burn.planted.description
        );
        if let Some(shift) = &burn.planted.shift {
            println!(
                "  at {} on {}: {} {} → {}",
                shift.at.format("%Y-%m-%d %H:%M:%S UTC"),
                shift.slice,
                shift.metric.key(),
                percent(shift.p0),
                percent(shift.p1)
            );
        }
        println!(
            "  try: flightdeck triage --events {} --changes {}",
            calls_path.display(),
            changes_path.display()
        );
    }
}
