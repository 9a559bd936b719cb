//! `flightdeck triage`: the engine over a recorded stream or a scenario, headless, printing what
//! the cockpit would show (docs/triage-json.md describes the JSON).

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;

use anyhow::Context;

use super::BadInput;
use super::demo::load_scenario;
use super::setup::EngineSetup;
use crate::cli::TriageArgs;
use crate::config::file::ConfigFile;
use crate::headless::{Replay, TriageReport};
use crate::jsonl;
use crate::model::{Call, Change};

pub fn run(file: &ConfigFile, args: &TriageArgs) -> anyhow::Result<()> {
    let setup = EngineSetup::new(file, &args.schemas, args.calls_per_false_alarm)?;
    let report = match (&args.scenario, &args.events) {
        (Some(name), None) => setup.replay().run_scenario(load_scenario(name)?, args.seed),
        (None, Some(events)) => {
            let files = Files {
                events,
                changes: args.changes.as_deref(),
                line_limit: file.sources.line_limit().map_err(BadInput)?,
            };
            replay_files(&files, setup.replay())?
        }
        _ => unreachable!("clap requires exactly one of --scenario and --events"),
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", crate::visible::escaped(&render(&report)))?;
    }
    Ok(())
}

/// Reads a JSONL file line by line; a line that does not parse is reported with its number
/// and counted, and the run goes on.
fn for_each_record<T: serde::de::DeserializeOwned>(
    path: &Path,
    line_limit: usize,
    bad_lines: &mut u64,
    mut each: impl FnMut(T),
) -> anyhow::Result<()> {
    let file =
        File::open(path).map_err(|e| BadInput(format!("{}: cannot open: {e}", path.display())))?;
    let reader = BufReader::with_capacity(1 << 20, file);
    jsonl::for_each_line(reader, line_limit, |number, parsed| match parsed {
        Ok(record) => each(record),
        Err(error) => {
            *bad_lines += 1;
            let said = format!("{}:{number}: skipped: {error}", path.display());
            eprintln!("{}", crate::visible::escaped(&said));
        }
    })
    .with_context(|| format!("reading {}", path.display()))
}

/// The recorded calls, the change feed if any, and the longest line read from them.
struct Files<'a> {
    events: &'a Path,
    changes: Option<&'a Path>,
    line_limit: usize,
}

fn replay_files(files: &Files, mut replay: Replay) -> anyhow::Result<TriageReport> {
    let mut bad_lines = 0;
    let mut feed: Vec<Change> = Vec::new();
    if let Some(path) = files.changes {
        for_each_record(path, files.line_limit, &mut bad_lines, |change| {
            feed.push(change)
        })?;
    }
    feed.sort_by_key(|c| c.ts);
    let mut feed = feed.into_iter().peekable();
    for_each_record(
        files.events,
        files.line_limit,
        &mut bad_lines,
        |call: Call| {
            while let Some(change) = feed.next_if(|c| c.ts <= call.ts) {
                replay.change(change);
            }
            replay.call(&call);
        },
    )?;
    for change in feed {
        replay.change(change);
    }
    Ok(replay.finish(bad_lines))
}

/// The report as text: the conclusion first, then the steps, then the numbers.
pub fn render(report: &TriageReport) -> String {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("—".to_string(), |t| {
            t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        })
    };
    let confidence = match report.category.as_str() {
        "unexplained" => "every step ruled out".to_string(),
        "insufficient_data" => "too little evidence since the onset yet".to_string(),
        _ => format!("{:.0}% confidence", report.confidence * 100.0),
    };
    let mut text = format!(
        "category     {} ({confidence})\nonset        {}\ndetected     {}\ndeclared     {}\nclassified   {}\n",
        report.category,
        time(report.onset),
        time(report.detected_at),
        time(report.declared_at),
        time(report.classified_at),
    );
    if let Some(r) = &report.recommendation {
        text.push_str(&format!("recommended  {}\n", r.text));
    }
    for (label, lines) in [
        ("evidence", &report.headline_evidence),
        ("would decide", &report.would_decide),
    ] {
        for (i, line) in lines.iter().enumerate() {
            let label = if i == 0 { label } else { "" };
            text.push_str(&format!("{label:<12} {line}\n"));
        }
    }
    for (i, step) in report.steps.iter().enumerate() {
        text.push_str(&format!(
            "\n{} {:<15} {}\n",
            i + 1,
            step.name.key(),
            step.verdict
        ));
        for line in &step.evidence {
            text.push_str(&format!("    {line}\n"));
        }
    }
    if !report.blast_radius.is_empty() {
        text.push_str("\nblast radius\n");
        for line in &report.blast_radius {
            text.push_str(&format!("    {line}\n"));
        }
    }
    text.push_str(&format!(
        "\n{:<20} {:>10} {:>10} {:>10}\n",
        "metric", "baseline", "peak", "current"
    ));
    let value = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.4}"));
    for (name, m) in &report.metrics {
        text.push_str(&format!(
            "{name:<20} {:>10} {:>10} {:>10}\n",
            value(m.baseline),
            value(m.peak),
            value(m.current)
        ));
    }
    if !report.changes.is_empty() {
        text.push_str("\nchanges\n");
        for c in &report.changes {
            text.push_str(&format!(
                "    {} {} {} {} → {}{}\n",
                c.ts.format("%H:%M:%S"),
                c.kind,
                c.target,
                c.from.as_deref().unwrap_or("?"),
                c.to.as_deref().unwrap_or("?"),
                if c.inferred_from_outputs {
                    " (inferred from outputs)"
                } else if c.seen_in_calls {
                    " (seen in calls)"
                } else {
                    ""
                }
            ));
        }
    }
    text.push_str(&format!(
        "\n{} calls, {} bad lines\n",
        report.calls, report.bad_lines
    ));
    if report.repeated_calls > 0 {
        text.push_str(&format!(
            "{} calls counted once: their request_id had arrived in the last 15 minutes\n",
            report.repeated_calls
        ));
    }
    if report.out_of_range > 0 {
        text.push_str(&format!(
            "{} records refused: dated outside the years 2000–2099\n",
            report.out_of_range
        ));
    }
    text
}
