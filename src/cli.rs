//! The command line (shared/DESIGN.md): the contract that scripts and tests outside the project use.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, FromArgMatches, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "flightdeck",
    version,
    about = "A terminal incident cockpit for AI features in production",
    long_about = "A terminal incident cockpit for AI features in production: live quality metrics, \
                  the four-way triage (infrastructure, model, prompt, data) with evidence, one-key \
                  mitigations, and an incident timeline on disk.\n\nWith no command, runs the demo."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<CommandLine>,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Where incidents and logs are kept [default: the platform's data dir for flightdeck]
    #[arg(long, global = true, env = "FLIGHTDECK_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Colour theme: dark, light, high-contrast, colorblind, mono, or a file NAME.toml in the
    /// config dir's themes/ [default: the config's `theme`, else dark]
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,
    /// Hide and refuse every mitigation: look, don't touch
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Mitigations show exactly what they would send to the backend, and send nothing
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Start in the presenter view for a screen share: big numbers, the triage, the latest
    /// entries; hostnames and secrets hidden (P switches views)
    #[arg(long, global = true)]
    pub present: bool,
    /// The config file [default: ./flightdeck.toml, else flightdeck.toml in the config dir]
    #[arg(long, global = true, env = "FLIGHTDECK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum CommandLine {
    /// The cockpit on the embedded AI-service simulator (the default command)
    Demo(DemoArgs),
    /// List the built-in scenarios
    Scenarios,
    /// List the recorded incidents
    Incidents,
    /// Write an incident's postmortem as Markdown, JSON or HTML (docs/postmortem.md)
    Export(ExportArgs),
    /// Run the detection and triage over a recorded stream or a scenario, without the screen
    Triage(TriageArgs),
    /// The cockpit on the sources flightdeck.toml configures (or --events / --changes / --otlp)
    Watch(WatchArgs),
    /// A recorded stream through the cockpit at a chosen speed, with pause and a jump to the onset
    Replay(ReplayArgs),
    /// Receive OTLP telemetry without the screen and write the calls it describes as JSON lines
    Record(RecordArgs),
    /// A training drill: the cockpit on a built-in scenario whose name stays hidden until the
    /// scorecard at the end (resolve with x, or quit)
    Drill(DrillArgs),
    /// The operational readiness checklist, asked of the live setup (docs/readiness.md): exit 0
    /// when every item passes, 1 when any fails or cannot be confirmed
    Check(CheckArgs),
    /// The team's AI incident runbook as Markdown, written from its config
    Runbook(RunbookArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print the checklist as JSON: {"version":1,"items":[{id,status,evidence,fix}],"summary":{...}}
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunbookArgs {
    /// Write to this file (replaced whole) instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Calls, one JSON object per line (docs/events.md), followed like `tail -F`; `-` reads
    /// standard input. Replaces [sources.events] of the config
    #[arg(long, value_name = "CALLS.jsonl|-")]
    pub events: Option<PathBuf>,
    /// Only lines appended from now on, not the file's history
    #[arg(long, requires = "events")]
    pub from_end: bool,
    /// Changes, one JSON object per line, followed like `tail -F`. Replaces [changes] file
    #[arg(long, value_name = "CHANGES.jsonl")]
    pub changes: Option<PathBuf>,
    /// Receive OTLP/HTTP here (e.g. 127.0.0.1:4318), with [sources.otlp]'s other settings
    #[arg(long, value_name = "ADDR")]
    pub otlp: Option<std::net::SocketAddr>,
    /// Reopen a recorded incident: show its whole history and keep logging to it
    #[arg(long, value_name = "ID")]
    pub incident: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The recorded calls, one JSON object per line (docs/events.md)
    #[arg(value_name = "CALLS.jsonl")]
    pub calls: PathBuf,
    /// The changes that go with them
    #[arg(long, value_name = "CHANGES.jsonl")]
    pub changes: Option<PathBuf>,
    /// Virtual seconds per wall-clock second: 60 plays two hours in two minutes
    #[arg(long, default_value_t = 60.0, value_parser = parse_speed)]
    pub speed: f64,
    /// A JSON Schema for structured-output compliance, by the name calls give in output_schema
    #[arg(long = "schema", value_name = "NAME=FILE")]
    pub schemas: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// A built-in scenario name (see `flightdeck scenarios`) or a scenario TOML file
    #[arg(long, value_name = "NAME|FILE", default_value = crate::sim::scenario::DEFAULT_SCENARIO)]
    pub scenario: String,
    /// Virtual seconds per wall-clock second: 60 plays a two-hour incident in two minutes
    #[arg(long, default_value_t = 60.0, value_parser = parse_speed)]
    pub speed: f64,
    /// Seed of the simulator: the same seed replays the same incident
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Reopen a recorded incident: show its whole history and keep logging to it
    #[arg(long, value_name = "ID")]
    pub incident: Option<String>,
}

impl DemoArgs {
    /// The demo's arguments as if none were given, for the bare `flightdeck` command.
    pub fn defaults() -> Self {
        let command = Self::augment_args(clap::Command::new("demo"));
        Self::from_arg_matches(&command.get_matches_from(["demo"]))
            .expect("the defaults satisfy the demo's own arguments")
    }
}

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// A built-in scenario name (see `flightdeck scenarios`), or `random` for one picked by the seed
    #[arg(long, value_name = "NAME|random", default_value = "random")]
    pub scenario: String,
    /// Seed of the simulator and of the random pick [default: from the clock]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Virtual seconds per wall-clock second
    #[arg(long, default_value_t = 60.0, value_parser = parse_speed)]
    pub speed: f64,
}

fn parse_speed(text: &str) -> Result<f64, String> {
    let speed: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if speed > 0.0 && speed <= 3600.0 {
        Ok(speed)
    } else {
        Err("must be above 0 and at most 3600".into())
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// The postmortem to file: impact as a rate over a window, root cause, metrics, timeline
    Md,
    /// Everything in the postmortem as data, with a version (the schema is in docs/postmortem.md)
    Json,
    /// One self-contained page with a chart per metric
    Html,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The incident id, or `latest`
    #[arg(default_value = "latest", value_name = "ID|latest")]
    pub incident: String,
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Write to this file (replaced whole, never half-written) instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The whole timeline instead of the key and starred entries
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["scenario", "events"])))]
pub struct TriageArgs {
    /// A built-in scenario name or a scenario TOML file, simulated to 45 min past its last event
    #[arg(long, value_name = "NAME|FILE")]
    pub scenario: Option<String>,
    /// Calls, one JSON object per line (docs/events.md)
    #[arg(long, value_name = "CALLS.jsonl")]
    pub events: Option<PathBuf>,
    /// Changes, one JSON object per line, to go with --events
    #[arg(long, value_name = "CHANGES.jsonl", conflicts_with = "scenario")]
    pub changes: Option<PathBuf>,
    /// A JSON Schema for structured-output compliance, by the name calls give in output_schema
    #[arg(long = "schema", value_name = "NAME=FILE")]
    pub schemas: Vec<String>,
    /// Print the report as JSON (docs/triage-json.md)
    #[arg(long)]
    pub json: bool,
    /// Seed of the simulator, with --scenario
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The false-alarm budget of each metric's detector, in calls between false alarms
    #[arg(long, value_name = "CALLS")]
    pub calls_per_false_alarm: Option<f64>,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The address to receive OTLP/HTTP on [default: sources.otlp.listen, else 127.0.0.1:4318]
    #[arg(long, value_name = "ADDR")]
    pub otlp: Option<SocketAddr>,
    /// Where the calls go, one JSON object per line (docs/events.md), flushed per batch
    #[arg(long, value_name = "CALLS.jsonl")]
    pub out: PathBuf,
    /// Where changes posted to /v1/changes go, one JSON object per line [default: not kept]
    #[arg(long, value_name = "CHANGES.jsonl")]
    pub changes_out: Option<PathBuf>,
    /// Stop after this many seconds [default: run until SIGINT or SIGTERM]
    #[arg(long, value_name = "S", value_parser = parse_duration)]
    pub duration: Option<f64>,
}

fn parse_duration(text: &str) -> Result<f64, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if seconds > 0.0 && seconds.is_finite() {
        Ok(seconds)
    } else {
        Err("must be a positive number of seconds".into())
    }
}
