//! The app state and its one `update`: every state change, from keys, sources, actuators and the
//! timeline writer, goes through it. Pure: no terminal, no async, no I/O.

pub mod action;
mod cadence;
pub mod editing;
mod entries;
mod executor;
pub mod keymap;
mod lifecycle;
mod measure;
mod metric_states;
mod mitigation;
mod navigation;
mod observe;
mod record;
pub mod timeline_view;

use crate::redact;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset, Utc};

pub use self::action::{
    Action, Effect, EmbeddingsStatus, PlaybackCommand, PlaybackStatus, jump_lead,
};
use self::editing::Editor;
pub use self::entries::{LoggedEntry, Persisted};
pub use self::executor::Executor;
use self::keymap::{Command, Context};
pub use self::mitigation::{InFlight, Verification, verification_deadline};
pub use self::navigation::{Button, Overlay, Pane, PromptDiff};
use self::timeline_view::TimelineFilter;
use crate::drill::Scorecard;
use crate::engine::metrics::{MetricId, MetricState};
use crate::engine::triage::{Category, Triage, Verdict};
use crate::engine::{Assessment, Engine};
use crate::model::{
    Incident, InfraReading, MitigationKind, MitigationPlan, SourceState, SourceStatus,
    TimelineEntry, Zone,
};

/// Fixed facts about this session of the cockpit.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Who the timeline names for the user's actions.
    pub actor: String,
    /// Where the telemetry comes from, shown in the header.
    pub source: String,
    pub read_only: bool,
    /// Mitigations show exactly what they would send, and send nothing.
    pub dry_run: bool,
    /// How fast the source's clock runs against the wall clock, when it is simulated.
    pub speed: Option<f64>,
    /// Start in the presenter view (`--present`).
    pub present: bool,
    /// The local zone's offset, for showing times in local time (`z`).
    pub local_offset: FixedOffset,
    /// In a drill, the scenario being played: recorded with the incident, never shown before the
    /// scorecard.
    pub drill: Option<String>,
}

#[cfg(test)]
impl Settings {
    /// A plain session for unit tests: user `oncall`, UTC, nothing special.
    pub(crate) fn for_tests() -> Self {
        Self {
            actor: "oncall".into(),
            source: "test".into(),
            read_only: false,
            dry_run: false,
            speed: None,
            present: false,
            local_offset: FixedOffset::east_opt(0).expect("UTC"),
            drill: None,
        }
    }
}

/// A recorded incident as read back to be continued.
#[derive(Debug, Clone, Default)]
pub struct Resumed {
    pub entries: Vec<TimelineEntry>,
    /// The minute after the last one in its samples, if it has any.
    pub minutes_recorded_until: Option<DateTime<Utc>>,
    /// What could not be read back, said on screen, e.g. "2 unreadable lines in timeline.jsonl".
    pub unreadable: Option<String>,
}

pub use crate::model::timeline::SYSTEM_ACTOR;

/// What a verdict reads as while a drill withholds it.
pub const VERDICT_WITHHELD: &str = "verdict withheld until you commit to a root cause (e)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

pub struct App {
    pub settings: Settings,
    pub engine: Engine,
    pub assessment: Option<Assessment>,
    /// The observed system's clock (virtual in the demo).
    pub now: Option<DateTime<Utc>>,
    /// The wall clock as of the last source delivery; stamps `recorded_at`.
    pub wall: DateTime<Utc>,
    pub incident: Option<Incident>,
    pub timeline: Vec<LoggedEntry>,
    pub plans: Vec<MitigationPlan>,
    pub in_flight: Option<InFlight>,
    /// What puts back the last mitigation applied, while it can be put back.
    pub undo: Option<MitigationPlan>,
    pub verification: Option<Verification>,
    pub focus: Pane,
    pub overlay: Option<Overlay>,
    /// Selected row in the changes pane, newest first.
    pub change_selected: usize,
    /// Selected row in the timeline pane, newest first, among the entries the filter shows.
    pub entry_selected: usize,
    pub timeline_filter: TimelineFilter,
    /// Text the timeline's entries must contain (`/`), case-insensitive; empty shows all.
    pub timeline_query: String,
    /// Times show in the local zone instead of UTC (`z`).
    pub local_time: bool,
    /// Lines scrolled in the triage pane.
    pub triage_scroll: u16,
    /// The incident's triage as last decided: it stays on screen after the alarm is over.
    pub triage: Option<Triage>,
    pub message: Option<(Level, String)>,
    pub calls_seen: u64,
    /// Calls refused for a timestamp ahead of their source's clock.
    pub calls_refused_as_future: u64,
    /// Where embeddings come from, when an endpoint is configured.
    pub embeddings: Option<EmbeddingsStatus>,
    /// Each source's last report, in the order they first reported.
    pub sources: Vec<SourceStatus>,
    /// The infrastructure queries' latest answers, in the order they first came.
    pub infra: Vec<InfraReading>,
    /// A replay's playback; `None` for live sources and the demo.
    pub playback: Option<PlaybackStatus>,
    /// The presenter view for a screen share replaces the cockpit's panes.
    pub presenting: bool,
    /// A drill's scorecard, once the drill has ended (resolved or quit).
    pub scorecard: Option<Scorecard>,
    /// When a drill began: the source's clock at its first delivery.
    drill_started: Option<DateTime<Utc>>,
    pub should_quit: bool,
    /// The engine episode the current incident was opened for: resolving an incident while that
    /// episode lasts must not open another one for the same alarm.
    incident_episode: Option<DateTime<Utc>>,
    /// What the incident has recorded beside its timeline.
    measured: measure::Measured,
    /// Mitigations applied in this incident: never suggested again.
    pub applied: Vec<MitigationKind>,
    logged_states: HashMap<MetricId, MetricState>,
    ok_since: HashMap<MetricId, DateTime<Utc>>,
    /// When the last incident before this one ended: no impact start goes before it.
    earlier_incident_end: Option<DateTime<Utc>>,
    /// When each metric's last alarm from ok began and its last recovery was logged, and the
    /// metrics flapping now: what tells a flap from a new alarm.
    alarmed_at: HashMap<MetricId, DateTime<Utc>>,
    recovered_at: HashMap<MetricId, DateTime<Utc>>,
    flapping: HashMap<MetricId, metric_states::Flapping>,
    /// Metrics a mitigation in force is expected to move, and why: their alarms are its effects.
    /// They outlive the incident, as the mitigation does, until it is undone.
    expected_effects: HashMap<MetricId, (MitigationKind, &'static str)>,
    logged_verdicts: HashMap<Category, Verdict>,
    /// When the last move of the episode's lead alarm that was logged happened.
    logged_lead_move: Option<DateTime<Utc>>,
    logged_changes: HashSet<u64>,
    /// A resumed incident's record ends here: telemetry up to it is taken in without logging,
    /// so the resumed source does not log the same history twice.
    quiet_until: Option<DateTime<Utc>>,
    /// When the engine is evaluated: on the stream's clock, whatever the batches.
    cadence: cadence::Cadence,
}

impl App {
    pub fn new(settings: Settings, engine: Engine, wall: DateTime<Utc>) -> Self {
        Self {
            presenting: settings.present,
            settings,
            engine,
            assessment: None,
            now: None,
            wall,
            incident: None,
            timeline: Vec::new(),
            plans: Vec::new(),
            in_flight: None,
            undo: None,
            verification: None,
            focus: Pane::Metrics,
            overlay: None,
            change_selected: 0,
            entry_selected: 0,
            timeline_filter: TimelineFilter::All,
            timeline_query: String::new(),
            local_time: false,
            triage_scroll: 0,
            triage: None,
            message: None,
            calls_seen: 0,
            calls_refused_as_future: 0,
            embeddings: None,
            sources: Vec::new(),
            infra: Vec::new(),
            playback: None,
            scorecard: None,
            drill_started: None,
            should_quit: false,
            incident_episode: None,
            applied: Vec::new(),
            measured: measure::Measured::default(),
            logged_states: HashMap::new(),
            ok_since: HashMap::new(),
            earlier_incident_end: None,
            alarmed_at: HashMap::new(),
            recovered_at: HashMap::new(),
            flapping: HashMap::new(),
            expected_effects: HashMap::new(),
            logged_verdicts: HashMap::new(),
            logged_lead_move: None,
            logged_changes: HashSet::new(),
            quiet_until: None,
            cadence: cadence::Cadence::default(),
        }
    }

    /// A cockpit that resumes a recorded incident: its history shown as logged, new entries
    /// following it, and the telemetry up to its last entry taken in without logging again.
    pub fn resumed(
        settings: Settings,
        engine: Engine,
        wall: DateTime<Utc>,
        record: Resumed,
    ) -> Self {
        let Resumed {
            entries,
            minutes_recorded_until,
            unreadable,
        } = record;
        let mut app = Self::new(settings, engine, wall);
        app.incident = Incident::from_timeline(&entries);
        app.quiet_until = entries.last().map(|e| e.ts);
        // Minutes go on after the last one on disk, which the last run may have written after its
        // last entry.
        app.measured.minutes_until = minutes_recorded_until.or(app.quiet_until);
        if let Some(what) = unreadable {
            app.message = Some((Level::Warn, what));
        }
        app.timeline = entries
            .into_iter()
            .map(|entry| LoggedEntry {
                entry,
                persisted: Persisted::OnDisk,
            })
            .collect();
        app
    }

    /// Which key context is active.
    pub fn context(&self) -> Context {
        match self.overlay {
            None if self.presenting => Context::Presenter,
            None => Context::Cockpit,
            Some(Overlay::Confirm { .. }) => Context::Confirm,
            Some(Overlay::Editor(Editor { target, .. })) if target.multi_line() => Context::Editor,
            Some(Overlay::Editor(_)) => Context::LineEditor,
            Some(Overlay::Record { .. }) => Context::Record,
            Some(Overlay::Scorecard) => Context::Scorecard,
            Some(_) => Context::Overlay,
        }
    }

    /// The zone times are shown and typed in.
    pub fn zone(&self) -> Zone {
        if self.local_time {
            Zone::local(self.settings.local_offset)
        } else {
            Zone::utc()
        }
    }

    pub fn plan(&self, kind: MitigationKind) -> Option<&MitigationPlan> {
        self.plans.iter().find(|p| p.kind == kind)
    }

    /// Keeps a source's report; a source that starts failing, or recovers, says so on screen.
    fn source_reported(&mut self, status: SourceStatus) {
        let before = self
            .sources
            .iter()
            .position(|s| s.name == status.name)
            .map(|i| self.sources[i].state.clone());
        match (&before, &status.state) {
            (Some(SourceState::Failing(_)), SourceState::Failing(_)) => {}
            (_, SourceState::Failing(error)) => {
                self.message = Some((Level::Warn, format!("{}: {error}", status.name)));
            }
            (Some(SourceState::Failing(_)), SourceState::Connected) => {
                self.message = Some((Level::Info, format!("{}: connected again", status.name)));
            }
            _ => {}
        }
        match self.sources.iter_mut().find(|s| s.name == status.name) {
            Some(known) => *known = status,
            None => self.sources.push(status),
        }
    }

    /// The only place state changes.
    // One arm per action, each a call or a few lines: the whole of what can happen, in one match.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Key(keymap::Key::Ctrl('c')) => self.command(Command::Quit),
            Action::Terminate => {
                let mut effects = match self.drill_to_score() {
                    Some(answer) => self.end_drill(&answer),
                    None => Vec::new(),
                };
                self.should_quit = true;
                effects.push(Effect::Quit);
                effects
            }
            Action::Key(key) => match keymap::command_for(self.context(), key) {
                Some(command) => self.command(command),
                None => {
                    self.type_confirm_name(key);
                    Vec::new()
                }
            },
            Action::Command(command) => self.command(command),
            Action::Observed {
                now,
                wall,
                calls,
                changes,
            } => {
                if self.settings.drill.is_some() {
                    self.drill_started.get_or_insert(now);
                }
                self.observe(now, wall, calls, changes)
            }
            // What backends say may echo a credential: masked before anything keeps or shows it.
            Action::PlansRead(plans) => {
                self.plans = plans
                    .into_iter()
                    .map(|mut plan| {
                        plan.unavailable = plan.unavailable.map(|u| redact::credentials(&u));
                        plan
                    })
                    .collect();
                Vec::new()
            }
            Action::Mitigation(stage) => {
                self.mitigation_progress(stage.masked(redact::credentials))
            }
            Action::EntryPersisted { incident_id, seq } => {
                self.set_persisted(&incident_id, seq, Persisted::OnDisk);
                Vec::new()
            }
            Action::EntryPersistFailed {
                incident_id,
                seq,
                error,
            } => {
                self.message = Some((Level::Error, format!("timeline write failed: {error}")));
                self.set_persisted(&incident_id, seq, Persisted::Failed(error));
                Vec::new()
            }
            Action::MeasurementFailed(error) => {
                self.message = Some((
                    Level::Error,
                    format!("incident measurements not written: {error}"),
                ));
                Vec::new()
            }
            Action::Embeddings(status) => {
                if let EmbeddingsStatus::Failing(error) = &status {
                    self.message = Some((
                        Level::Warn,
                        format!("embeddings endpoint failed, using hashed n-grams: {error}"),
                    ));
                }
                self.embeddings = Some(status);
                Vec::new()
            }
            Action::Source(status) => {
                self.source_reported(status);
                Vec::new()
            }
            Action::Infra(readings) => {
                for reading in readings {
                    match self.infra.iter_mut().find(|r| r.name == reading.name) {
                        Some(known) => *known = reading,
                        None => self.infra.push(reading),
                    }
                }
                self.engine.set_infra(&self.infra);
                Vec::new()
            }
            Action::Playback(status) => {
                self.playback = Some(status);
                Vec::new()
            }
            Action::TextSubmitted(text) => self.text_submitted(text),
            Action::FilterTyped(text) => {
                self.timeline_query = text;
                self.entry_selected = 0;
                Vec::new()
            }
        }
    }
}
