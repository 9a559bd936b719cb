//! The app state and its one `update`: every state change, from keys, sources, actuators and the
//! timeline writer, goes through it. Pure: no terminal, no async, no I/O.

pub mod action;
mod cadence;
pub mod editing;
mod executor;
pub mod keymap;
mod measure;
mod observe;
mod record;
pub mod timeline_view;

use std::borrow::Cow;

use crate::redact;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, FixedOffset, Utc};

pub use self::action::{
    Action, Effect, EmbeddingsStatus, PlaybackCommand, PlaybackStatus, jump_lead,
};
use self::editing::{EditTarget, Editor, RecordField};
pub use self::executor::Executor;
use self::keymap::{Command, Context};
use self::timeline_view::TimelineFilter;
use crate::drill::{Answer, Scorecard};
use crate::engine::diff::{DiffTag, word_diff};
use crate::engine::metrics::{MetricId, MetricState};
use crate::engine::triage::{Category, Triage, Verdict};
use crate::engine::{Assessment, Engine};
use crate::model::{
    ChangeKind, EntryKind, Incident, InfraReading, MitigationKind, MitigationPlan, MitigationStage,
    NamedTime, Outcome, Role, Severity, SourceState, SourceStatus, Status, TimelineEntry, Zone,
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
pub enum Pane {
    Metrics,
    Triage,
    Changes,
    Timeline,
}

impl Pane {
    const ORDER: [Pane; 4] = [Self::Metrics, Self::Triage, Self::Changes, Self::Timeline];

    fn step(self, by: isize) -> Self {
        let i = Self::ORDER.iter().position(|p| *p == self).unwrap_or(0) as isize;
        Self::ORDER[(i + by).rem_euclid(Self::ORDER.len() as isize) as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Cancel,
    Apply,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    Help,
    /// A mitigation waiting for the user's word; `typed` is the name typed so far, when the
    /// plan asks for one.
    Confirm {
        plan: Box<MitigationPlan>,
        focus: Button,
        typed: String,
    },
    /// Typing a note, a record field, an entry's corrected text or the timeline filter.
    Editor(Editor),
    /// The incident record's fields, one selected.
    Record {
        selected: usize,
    },
    Diff(PromptDiff),
    Entry(u64),
    /// A drill's scorecard, from `App::scorecard`.
    Scorecard,
}

/// A prompt change's word diff, ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptDiff {
    pub title: String,
    pub runs: Vec<(DiffTag, String)>,
}

/// Whether an entry is on disk yet: the screen says "logged" only once it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Persisted {
    Pending,
    OnDisk,
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEntry {
    pub entry: TimelineEntry,
    pub persisted: Persisted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// The mitigation being carried out: at most one at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct InFlight {
    pub plan: MitigationPlan,
    /// The backend has accepted it and its state is being read back.
    pub applied: bool,
}

/// A mitigation waiting for the metrics that alarmed to come back.
#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    pub kind: MitigationKind,
    pub applied_at: DateTime<Utc>,
    pub metrics: Vec<MetricId>,
}

/// Whether a mitigation can be expected to bring the metric back. None changes what users ask,
/// and the kill switch's fallback answers differently from the model by design.
fn verifiable(metric: MetricId, kind: MitigationKind) -> bool {
    metric.family().is_failure()
        && !(kind == MitigationKind::KillSwitch && metric == MetricId::Similarity)
}

/// How long a mitigation has to bring the alarming metrics back before it is called ineffective.
pub fn verification_deadline() -> Duration {
    Duration::minutes(15)
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
    flapping: HashMap<MetricId, observe::Flapping>,
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

    /// Resumes a recorded incident: its history is shown as logged and new entries follow it.
    pub fn resume(&mut self, record: Resumed) {
        let Resumed {
            entries,
            minutes_recorded_until,
            unreadable,
        } = record;
        self.incident = Incident::from_timeline(&entries);
        self.quiet_until = entries.last().map(|e| e.ts);
        // Minutes go on after the last one on disk, which the last run may have written after its
        // last entry.
        self.measured.minutes_until = minutes_recorded_until.or(self.quiet_until);
        if let Some(what) = unreadable {
            self.message = Some((Level::Warn, what));
        }
        self.timeline = entries
            .into_iter()
            .map(|entry| LoggedEntry {
                entry,
                persisted: Persisted::OnDisk,
            })
            .collect();
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

    fn set_persisted(&mut self, incident_id: &str, seq: u64, persisted: Persisted) {
        if self.incident.as_ref().is_none_or(|i| i.id != incident_id) {
            return;
        }
        if let Some(logged) = self.timeline.iter_mut().find(|l| l.entry.seq == seq) {
            logged.persisted = persisted;
        }
    }

    fn command(&mut self, command: Command) -> Vec<Effect> {
        match command {
            // A drill shows its scorecard before it ends; quitting from the scorecard ends it.
            Command::Quit => match self.drill_to_score() {
                Some(answer) => self.end_drill(&answer),
                None => {
                    self.should_quit = true;
                    vec![Effect::Quit]
                }
            },
            Command::ToggleHelp => {
                self.overlay = match self.overlay {
                    Some(Overlay::Help) => None,
                    _ => Some(Overlay::Help),
                };
                Vec::new()
            }
            Command::TogglePresenter => {
                self.presenting = !self.presenting;
                Vec::new()
            }
            Command::Back => self.back(),
            Command::FocusNext => self.refocus(1),
            Command::FocusPrevious => self.refocus(-1),
            Command::Up => self.scroll(-1),
            Command::Down => self.scroll(1),
            Command::PageUp => self.scroll(-10),
            Command::PageDown => self.scroll(10),
            Command::Top => self.scroll(isize::MIN / 2),
            Command::Bottom => self.scroll(isize::MAX / 2),
            Command::Open => self.open_selected(),
            Command::Mitigate(kind) => self.request_mitigation(kind),
            Command::Undo => match self.undo.clone() {
                Some(plan) => self.request(plan),
                None => {
                    self.message = Some((Level::Info, "no mitigation to undo".into()));
                    Vec::new()
                }
            },
            Command::TogglePause => match self.playback.as_mut() {
                Some(playback) if !playback.ended => {
                    playback.paused = !playback.paused;
                    vec![Effect::Playback(if playback.paused {
                        PlaybackCommand::Pause
                    } else {
                        PlaybackCommand::Resume
                    })]
                }
                _ => Vec::new(),
            },
            Command::JumpToOnset => match &self.playback {
                Some(playback) => match playback.onset {
                    Some(onset) if self.now.is_none_or(|now| now < onset - jump_lead()) => {
                        vec![Effect::Playback(PlaybackCommand::JumpToOnset)]
                    }
                    Some(_) => {
                        self.message = Some((
                            Level::Info,
                            "already within ten minutes of the onset, or past it".into(),
                        ));
                        Vec::new()
                    }
                    None => {
                        self.message = Some((
                            Level::Info,
                            "no onset: the triage found no incident in this recording".into(),
                        ));
                        Vec::new()
                    }
                },
                None => Vec::new(),
            },
            Command::ToggleButton => {
                if let Some(Overlay::Confirm { focus, .. }) = &mut self.overlay {
                    *focus = match focus {
                        Button::Cancel => Button::Apply,
                        Button::Apply => Button::Cancel,
                    };
                }
                Vec::new()
            }
            Command::Activate => self.activate_confirm(),
            Command::AddNote => {
                if self.incident.is_none() {
                    self.message =
                        Some((Level::Warn, "no incident open: declare one with d".into()));
                } else {
                    self.overlay = Some(Overlay::Editor(Editor::new(
                        EditTarget::Note,
                        String::new(),
                    )));
                }
                Vec::new()
            }
            // The editor's text lives with the view; the runtime submits it as TextSubmitted.
            Command::SaveText => Vec::new(),
            Command::EditRecord => {
                if self.incident.is_none() {
                    self.message =
                        Some((Level::Warn, "no incident open: declare one with d".into()));
                } else {
                    self.overlay = Some(Overlay::Record { selected: 0 });
                }
                Vec::new()
            }
            Command::EditEntry => {
                if let Some(Overlay::Entry(seq)) = self.overlay {
                    let text = self.current_text(seq).unwrap_or_default();
                    self.overlay = Some(Overlay::Editor(Editor::new(EditTarget::Entry(seq), text)));
                }
                Vec::new()
            }
            Command::FilterTimeline => {
                self.focus = Pane::Timeline;
                self.overlay = Some(Overlay::Editor(Editor::new(
                    EditTarget::Filter,
                    self.timeline_query.clone(),
                )));
                Vec::new()
            }
            Command::ToggleLocalTime => {
                self.local_time = !self.local_time;
                self.message = Some((Level::Info, format!("times in {}", self.zone().name())));
                Vec::new()
            }
            Command::Declare => self.ask_to_declare(),
            Command::Acknowledge => self.change_status(Status::Investigating),
            Command::Identify => self.change_status(Status::Identified),
            Command::ToggleStar => self.toggle_star(),
            Command::CycleTimelineFilter => {
                self.timeline_filter = self.timeline_filter.next();
                self.entry_selected = 0;
                Vec::new()
            }
            Command::MarkMitigated => self.change_status(Status::Mitigated),
            Command::RaiseSeverity => self.change_severity(-1),
            Command::LowerSeverity => self.change_severity(1),
            Command::Resolve => {
                let mut effects = self.change_status(Status::Resolved);
                let resolved = self
                    .incident
                    .as_ref()
                    .is_some_and(|i| i.status == Status::Resolved);
                if resolved && let Some(answer) = self.drill_to_score() {
                    effects.extend(self.end_drill(&answer));
                }
                effects
            }
            Command::ShowPromptDiff => {
                self.show_prompt_diff();
                Vec::new()
            }
        }
    }

    fn back(&mut self) -> Vec<Effect> {
        match self.overlay.take() {
            Some(Overlay::Editor(Editor {
                target: EditTarget::Field(field),
                ..
            })) => {
                self.overlay = Some(Overlay::Record {
                    selected: RecordField::ALL
                        .iter()
                        .position(|f| *f == field)
                        .unwrap_or(0),
                });
                Vec::new()
            }
            Some(Overlay::Editor(Editor {
                target: EditTarget::Filter,
                ..
            })) => {
                self.timeline_query.clear();
                self.entry_selected = 0;
                Vec::new()
            }
            Some(Overlay::Editor(Editor {
                target: EditTarget::Entry(seq),
                ..
            })) => {
                self.overlay = Some(Overlay::Entry(seq));
                Vec::new()
            }
            Some(Overlay::Confirm { plan, .. }) => {
                let actor = self.settings.actor.clone();
                self.log(
                    EntryKind::ActionCancelled {
                        action: plan.action(),
                    },
                    &actor,
                    format!("cancelled {}", plan.summary()),
                )
                .into_iter()
                .collect()
            }
            Some(_) => Vec::new(),
            None => {
                self.message = None;
                Vec::new()
            }
        }
    }

    fn refocus(&mut self, by: isize) -> Vec<Effect> {
        self.focus = self.focus.step(by);
        Vec::new()
    }

    fn scroll(&mut self, by: isize) -> Vec<Effect> {
        if let Some(Overlay::Confirm { plan, .. }) = &mut self.overlay {
            // Up and down pick among the plan's choices, e.g. the prompt versions to roll back to.
            if let Some(at) = plan.chosen() {
                let last = plan.choices.len().saturating_sub(1) as isize;
                **plan = plan.choose((at as isize).saturating_add(by).clamp(0, last) as usize);
            }
            return Vec::new();
        }
        if let Some(Overlay::Record { selected }) = &mut self.overlay {
            let last = RecordField::ALL.len() as isize - 1;
            *selected = (*selected as isize).saturating_add(by).clamp(0, last) as usize;
            return Vec::new();
        }
        let (selected, len) = match self.focus {
            Pane::Changes => (&mut self.change_selected, self.engine.changes().len()),
            Pane::Timeline => {
                let len = self.visible_entries().len();
                (&mut self.entry_selected, len)
            }
            Pane::Triage => {
                let lines = self.triage_lines();
                self.triage_scroll = (self.triage_scroll as isize)
                    .saturating_add(by)
                    .clamp(0, lines.saturating_sub(1) as isize)
                    as u16;
                return Vec::new();
            }
            Pane::Metrics => return Vec::new(),
        };
        let max = len.saturating_sub(1) as isize;
        *selected = (*selected as isize).saturating_add(by).clamp(0, max) as usize;
        Vec::new()
    }

    /// The timeline entry selected in the pane, by its sequence number.
    fn selected_entry(&self) -> Option<u64> {
        self.visible_entries()
            .get(self.entry_selected)
            .map(|l| l.entry.seq)
    }

    /// The entries the timeline pane shows, newest first: of the chosen kind, containing the
    /// filter's text.
    pub fn visible_entries(&self) -> Vec<&LoggedEntry> {
        let starred = timeline_view::starred(&self.timeline);
        timeline_view::visible_starred(&self.timeline, self.timeline_filter, &starred)
            .into_iter()
            .filter(|l| {
                timeline_view::matches(&self.entry_text(&l.entry), &l.entry, &self.timeline_query)
            })
            .collect()
    }

    /// An entry's text as it reads now, after any edits; a triage verdict withheld in a drill.
    pub fn entry_text<'a>(&'a self, entry: &'a TimelineEntry) -> Cow<'a, str> {
        let text = self.edited_text(entry);
        match &entry.kind {
            EntryKind::Triage { verdict, .. } if self.verdicts_withheld() => {
                Cow::Owned(text.replacen(
                    &format!(": {verdict} ("),
                    &format!(": {VERDICT_WITHHELD} ("),
                    1,
                ))
            }
            _ => Cow::Borrowed(text),
        }
    }

    fn edited_text<'a>(&'a self, entry: &'a TimelineEntry) -> &'a str {
        match &self.incident {
            Some(incident) => incident.text_of(entry),
            None => &entry.text,
        }
    }

    /// In a drill the triage's verdicts wait until the trainee commits to a root cause: its
    /// evidence shows, its conclusion does not give the answer away.
    pub fn verdicts_withheld(&self) -> bool {
        self.settings.drill.is_some()
            && self.scorecard.is_none()
            && self
                .incident
                .as_ref()
                .is_none_or(|i| i.root_cause.is_none())
    }

    fn current_text(&self, seq: u64) -> Option<String> {
        let logged = self.timeline.iter().find(|l| l.entry.seq == seq)?;
        Some(self.edited_text(&logged.entry).to_string())
    }

    /// Stars the selected timeline entry for the postmortem, or takes its star away.
    fn toggle_star(&mut self) -> Vec<Effect> {
        if self.focus != Pane::Timeline {
            self.message = Some((
                Level::Info,
                "focus the timeline (Tab) and select the entry to star".into(),
            ));
            return Vec::new();
        }
        let Some(seq) = self.selected_entry() else {
            return Vec::new();
        };
        let starred = !timeline_view::starred(&self.timeline).contains(&seq);
        let actor = self.settings.actor.clone();
        let verb = if starred { "starred" } else { "unstarred" };
        // Name the entry by what it says, so the star reads on its own in the record.
        let what = self
            .timeline
            .iter()
            .find(|l| l.entry.seq == seq)
            .map(|l| format!("{}: {}", l.entry.kind.label(), l.entry.text))
            .unwrap_or_default();
        let what: String = what.chars().take(80).collect();
        self.log(
            EntryKind::Starred { seq, starred },
            &actor,
            format!("{verb} entry {seq} for the postmortem ({what})"),
        )
        .into_iter()
        .collect()
    }

    /// How many lines the triage pane holds, so scrolling stops at its end.
    fn triage_lines(&self) -> usize {
        self.assessment
            .as_ref()
            .and_then(|a| a.triage.as_ref())
            .map_or(0, |t| {
                2 + t.steps.iter().map(|s| 1 + s.evidence.len()).sum::<usize>()
            })
    }

    fn open_selected(&mut self) -> Vec<Effect> {
        if let Some(Overlay::Record { selected }) = self.overlay {
            self.edit_field(RecordField::ALL[selected]);
            return Vec::new();
        }
        match self.focus {
            Pane::Timeline => {
                if let Some(seq) = self.selected_entry() {
                    self.overlay = Some(Overlay::Entry(seq));
                }
            }
            Pane::Changes => {
                let change = self.engine.changes().iter().rev().nth(self.change_selected);
                match change.map(|r| r.change.clone()) {
                    Some(c) if c.text_from.is_some() && c.text_to.is_some() => {
                        self.overlay = Some(Overlay::Diff(diff_of(&c)));
                    }
                    Some(c) => {
                        self.message = Some((
                            Level::Info,
                            format!("{} {}: no prompt texts to diff", c.kind, c.target),
                        ));
                    }
                    None => {}
                }
            }
            Pane::Metrics | Pane::Triage => {}
        }
        Vec::new()
    }

    /// The diff of the prompt change the triage is looking at, else of the latest prompt deploy.
    fn show_prompt_diff(&mut self) {
        let latest = self
            .engine
            .changes()
            .iter()
            .rev()
            .find(|r| {
                r.change.kind == ChangeKind::PromptDeploy
                    && r.change.text_from.is_some()
                    && r.change.text_to.is_some()
            })
            .map(|r| r.change.clone());
        let from_triage = self
            .triage
            .as_ref()
            .and_then(|t| t.prompt_change.clone())
            .and_then(|p| {
                self.engine
                    .changes()
                    .iter()
                    .rev()
                    .find(|r| r.change.kind == ChangeKind::PromptDeploy && r.change.to == p.to)
                    .filter(|r| r.change.text_from.is_some() && r.change.text_to.is_some())
                    .map(|r| r.change.clone())
            });
        match from_triage.or(latest) {
            Some(change) => self.overlay = Some(Overlay::Diff(diff_of(&change))),
            None => {
                self.message = Some((
                    Level::Info,
                    "no prompt change with texts to diff yet".into(),
                ));
            }
        }
    }

    fn request_mitigation(&mut self, kind: MitigationKind) -> Vec<Effect> {
        let Some(plan) = self.plan(kind).cloned() else {
            self.message = Some((Level::Warn, format!("{kind}: backend state not read yet")));
            return Vec::new();
        };
        self.request(plan)
    }

    /// Logs the request and opens the confirm dialog, unless the plan cannot be carried out now.
    fn request(&mut self, plan: MitigationPlan) -> Vec<Effect> {
        if self.settings.read_only {
            self.message = Some((
                Level::Warn,
                "read-only mode: mitigations are disabled".into(),
            ));
            return Vec::new();
        }
        if let Some(running) = &self.in_flight {
            self.message = Some((
                Level::Warn,
                format!("{} is still being applied", running.plan.action()),
            ));
            return Vec::new();
        }
        if let Some(reason) = &plan.unavailable {
            self.message = Some((
                Level::Warn,
                format!("{} unavailable: {reason}", plan.action()),
            ));
            return Vec::new();
        }
        let actor = self.settings.actor.clone();
        let effects = self
            .log(
                EntryKind::ActionRequested {
                    action: plan.action(),
                },
                &actor,
                format!("requested {} via {}", plan.summary(), plan.backend),
            )
            .into_iter()
            .collect();
        self.overlay = Some(Overlay::Confirm {
            plan: Box::new(plan),
            focus: Button::Cancel,
            typed: String::new(),
        });
        effects
    }

    /// A key the confirm dialog has no binding for types the target's name, when it asks for one.
    fn type_confirm_name(&mut self, key: keymap::Key) {
        let Some(Overlay::Confirm { plan, typed, .. }) = &mut self.overlay else {
            return;
        };
        if plan.confirm_name.is_none() {
            return;
        }
        match key {
            keymap::Key::Char(c) => typed.push(c),
            keymap::Key::Backspace => {
                typed.pop();
            }
            _ => {}
        }
    }

    fn activate_confirm(&mut self) -> Vec<Effect> {
        let Some(Overlay::Confirm { plan, focus, typed }) = self.overlay.clone() else {
            return Vec::new();
        };
        if focus == Button::Cancel {
            return self.back();
        }
        if let Some(name) = &plan.confirm_name
            && typed != *name
        {
            self.message = Some((
                Level::Warn,
                format!("{} is production: type {name} to apply", plan.target),
            ));
            return Vec::new();
        }
        self.overlay = None;
        self.in_flight = Some(InFlight {
            plan: (*plan).clone(),
            applied: false,
        });
        let actor = self.settings.actor.clone();
        let mut effects = Vec::new();
        if self.incident.is_none() {
            // A mitigation is always logged: confirming one with no incident open declares one.
            effects.extend(self.open_incident(
                format!("Declared by {actor} to apply a {}", plan.kind),
                Severity::Sev3,
                actor.clone(),
            ));
            effects.extend(self.log(
                EntryKind::ActionRequested {
                    action: plan.action(),
                },
                &actor,
                format!("requested {} via {}", plan.summary(), plan.backend),
            ));
        }
        effects.extend(self.log(
            EntryKind::ActionConfirmed {
                action: plan.action(),
            },
            &actor,
            format!(
                "confirmed {} via {} ({}){}",
                plan.summary(),
                plan.backend,
                plan.operation,
                if self.settings.dry_run {
                    ", dry run: nothing is sent"
                } else {
                    ""
                }
            ),
        ));
        effects.push(Effect::ApplyMitigation {
            plan,
            incident: self.incident.as_ref().map(|i| i.id.clone()),
        });
        effects
    }

    /// Logs each stage of the mitigation in flight; a success starts the engine's verification.
    fn mitigation_progress(&mut self, stage: MitigationStage) -> Vec<Effect> {
        let Some(flight) = self.in_flight.as_mut() else {
            tracing::warn!(?stage, "a mitigation stage with no mitigation in flight");
            return Vec::new();
        };
        let plan = flight.plan.clone();
        let action = plan.action();
        if stage.is_final() {
            self.in_flight = None;
        } else {
            flight.applied = true;
        }
        let (kind, level, text, took) = match stage {
            MitigationStage::Applied { answer, undo } => {
                // What was written is what `u` puts back, whatever the read-back says; an undo
                // that was written leaves nothing to undo.
                self.undo = if plan.undo { None } else { undo.map(|u| *u) };
                (
                    EntryKind::ActionApplied {
                        action: action.clone(),
                        backend: plan.backend.clone(),
                    },
                    Level::Info,
                    format!("{action} applied by {}: {answer}", plan.backend),
                    false,
                )
            }
            MitigationStage::Verified { read_back } => (
                result(&action, Outcome::Succeeded),
                Level::Info,
                format!("{action} verified by read-back: {read_back}"),
                true,
            ),
            MitigationStage::Unverified { why } => (
                result(&action, Outcome::Unverified),
                Level::Warn,
                format!("{action} sent, not verified: {why}"),
                true,
            ),
            MitigationStage::Failed { reason } => (
                result(&action, Outcome::Failed),
                Level::Error,
                format!("{action} failed: {reason}"),
                false,
            ),
            MitigationStage::DryRun { request } => (
                result(&action, Outcome::DryRun),
                Level::Info,
                format!("{action} dry run, nothing sent; would send: {request}"),
                false,
            ),
        };
        self.message = Some((level, text.clone()));
        let written = matches!(kind, EntryKind::ActionApplied { .. });
        let mut effects: Vec<Effect> = self.log(kind, SYSTEM_ACTOR, text).into_iter().collect();
        if plan.undo && written {
            effects.extend(self.undone(plan.kind));
        } else if took && !plan.undo {
            effects.extend(self.mitigation_took(&plan));
        }
        effects
    }

    /// A mitigation took effect: the engine's verification of the metrics that alarmed starts.
    /// An undo was written: what it undid is no longer applied nor verified, whatever its
    /// read-back says next.
    fn undone(&mut self, kind: MitigationKind) -> Vec<Effect> {
        self.applied.retain(|k| *k != kind);
        self.expected_effects.retain(|_, (by, _)| *by != kind);
        if self.verification.as_ref().is_none_or(|v| v.kind != kind) {
            return Vec::new();
        }
        self.verification = None;
        self.log(
            EntryKind::Verification {
                action: kind.to_string(),
                recovered: false,
            },
            SYSTEM_ACTOR,
            format!("verification of {kind} ended: it was undone"),
        )
        .into_iter()
        .collect()
    }

    fn mitigation_took(&mut self, plan: &MitigationPlan) -> Vec<Effect> {
        let kind = plan.kind;
        let mut effects = Vec::new();
        let Some(now) = self.now else {
            return effects;
        };
        self.engine.mark_mitigation(now);
        self.applied.push(kind);
        // Only metrics not alarming already: an alarm under way is still the incident's.
        for id in MetricId::ALL {
            let alarming = self.logged_states.get(&id).is_some_and(|s| s.is_alarm());
            if let Some(why) = id.expected_after(kind)
                && !alarming
            {
                self.expected_effects.insert(id, (kind, why));
            }
        }
        if let Some(previous) = self.verification.take() {
            effects.extend(self.log(
                EntryKind::Verification {
                    action: previous.kind.to_string(),
                    recovered: false,
                },
                SYSTEM_ACTOR,
                format!("verification of {} superseded by {kind}", previous.kind),
            ));
        }
        let metrics: Vec<MetricId> = self
            .assessment
            .as_ref()
            .and_then(|a| a.episode.as_ref())
            .map(|e| e.metrics.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|m| verifiable(*m, kind))
            .collect();
        if metrics.is_empty() {
            effects.extend(self.log(
                EntryKind::Verification {
                    action: kind.to_string(),
                    recovered: false,
                },
                SYSTEM_ACTOR,
                format!("{kind}: nothing to verify, no metric has alarmed"),
            ));
        } else {
            self.verification = Some(Verification {
                kind,
                applied_at: now,
                metrics,
            });
            effects.extend(self.verify(now));
        }
        effects
    }

    /// `d`: asks for the new incident's title, which confirms the declaration.
    fn ask_to_declare(&mut self) -> Vec<Effect> {
        if self.incident_open() {
            self.message = Some((Level::Info, "an incident is already open".into()));
        } else {
            self.overlay = Some(Overlay::Editor(Editor::new(
                EditTarget::Declaration,
                String::new(),
            )));
        }
        Vec::new()
    }

    fn incident_open(&self) -> bool {
        self.incident
            .as_ref()
            .is_some_and(|i| i.status != Status::Resolved)
    }

    /// Declares an incident by hand: fresh, with no earlier incident's triage, and its impact
    /// starting at the declaration unless an alarm's evidence dates it earlier.
    pub(super) fn declare(&mut self, title: &str) -> Result<Vec<Effect>, String> {
        if title.is_empty() {
            return Err("an incident needs a title: what is wrong, in a few words".into());
        }
        if self.incident_open() {
            return Err("an incident is already open".into());
        }
        self.engine.restart_episode();
        let actor = self.settings.actor.clone();
        let mut effects = self.open_incident(title.to_string(), Severity::Sev3, actor);
        let at = self.now.unwrap_or(self.wall);
        effects.extend(self.log(
            EntryKind::TimeSet {
                time: NamedTime::ImpactStart,
                from: None,
                to: at,
            },
            SYSTEM_ACTOR,
            format!(
                "impact start {}: the declaration, until an alarm's evidence dates it earlier",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        ));
        Ok(effects)
    }

    fn change_status(&mut self, to: Status) -> Vec<Effect> {
        let Some(from) = self.incident.as_ref().map(|i| i.status) else {
            self.message = Some((Level::Warn, "no incident open".into()));
            return Vec::new();
        };
        if to <= from {
            self.message = Some((Level::Info, format!("the incident is already {from}")));
            return Vec::new();
        }
        let actor = self.settings.actor.clone();
        let mut effects: Vec<Effect> = self
            .log(
                EntryKind::StatusChanged { from, to },
                &actor,
                format!("status {from} → {to}"),
            )
            .into_iter()
            .collect();
        // Whoever first moves an incident nobody leads yet leads it, as in incident.io.
        let led = self
            .incident
            .as_ref()
            .is_some_and(|i| i.roles.contains_key(&Role::Commander));
        if from == Status::Detected && !led {
            effects.extend(self.assign_role(Role::Commander, &actor, &actor));
        }
        effects
    }

    /// Moves the severity `by` steps (negative is more severe), within SEV1..SEV4.
    fn change_severity(&mut self, by: i8) -> Vec<Effect> {
        let Some(from) = self.incident.as_ref().map(|i| i.severity) else {
            self.message = Some((Level::Warn, "no incident open".into()));
            return Vec::new();
        };
        let Some(to) = from.step(by) else {
            self.message = Some((Level::Info, format!("the incident is already {from}")));
            return Vec::new();
        };
        let actor = self.settings.actor.clone();
        self.log(
            EntryKind::SeverityChanged { from, to },
            &actor,
            format!("severity {from} → {to}"),
        )
        .into_iter()
        .collect()
    }

    /// The answer of a drill not scored yet; `None` outside a drill.
    fn drill_to_score(&self) -> Option<Answer> {
        if self.scorecard.is_some() {
            return None;
        }
        self.settings.drill.as_deref().and_then(Answer::builtin)
    }

    /// Ends a drill: scores its timeline, logs the scorecard, has it written beside the timeline
    /// and shows it, revealing the scenario.
    fn end_drill(&mut self, answer: &Answer) -> Vec<Effect> {
        let started = self.drill_started.or(self.now).unwrap_or(self.wall);
        let entries: Vec<TimelineEntry> = self.timeline.iter().map(|l| l.entry.clone()).collect();
        let scorecard = Scorecard::new(answer, &entries, started);
        let mut effects: Vec<Effect> = self
            .log(EntryKind::Note, SYSTEM_ACTOR, scorecard.lines().join("\n"))
            .into_iter()
            .collect();
        if let Some(incident) = &self.incident {
            effects.push(Effect::WriteScorecard {
                incident_id: incident.id.clone(),
                scorecard: Box::new(scorecard.clone()),
            });
        }
        self.scorecard = Some(scorecard);
        self.overlay = Some(Overlay::Scorecard);
        effects
    }

    /// Opens an incident with its first entry; a person who opens one is its commander.
    fn open_incident(&mut self, title: String, severity: Severity, actor: String) -> Vec<Effect> {
        let mut id = format!("INC-{}", self.wall.format("%Y%m%d-%H%M%S"));
        if self
            .incident
            .as_ref()
            .is_some_and(|i| i.id.starts_with(&id))
        {
            // Two incidents within one second: the store refuses to mix them, so name them apart.
            id.push_str(&format!("-{}", self.timeline.len()));
        }
        if let Some(earlier) = &self.incident {
            let now = self.now.unwrap_or(self.wall);
            self.earlier_incident_end = Some(earlier.resolved_at.unwrap_or(now));
        }
        self.timeline.clear();
        self.incident = None;
        self.triage = None;
        self.logged_states.clear();
        self.alarmed_at.clear();
        self.recovered_at.clear();
        self.flapping.clear();
        self.logged_verdicts.clear();
        self.logged_lead_move = None;
        self.logged_changes.clear();
        self.applied.clear();
        self.measured = measure::Measured::default();
        // What the last incident applied is its own to undo, from its own record.
        self.undo = None;
        self.verification = None;
        self.incident_episode = self.current_episode();
        let text = format!("{severity} opened: {title}");
        let kind = EntryKind::Opened {
            id,
            title,
            severity,
            source: self.settings.source.clone(),
            drill: self.settings.drill.clone(),
        };
        let entry = self.new_entry(kind, &actor, text);
        self.incident = Incident::from_timeline(std::slice::from_ref(&entry));
        let mut effects: Vec<Effect> = self.push(entry).into_iter().collect();
        if actor != SYSTEM_ACTOR {
            effects.extend(self.assign_role(Role::Commander, &actor, &actor));
        }
        effects
    }

    /// Appends an entry to the open incident's timeline; it shows as pending until on disk.
    fn log(&mut self, kind: EntryKind, actor: &str, text: String) -> Option<Effect> {
        self.incident.as_ref()?;
        let entry = self.new_entry(kind, actor, text);
        if let Some(incident) = &mut self.incident {
            incident.apply(&entry);
        }
        self.push(entry)
    }

    /// When the engine's current alarm episode began, if one is under way.
    pub(super) fn current_episode(&self) -> Option<DateTime<Utc>> {
        self.assessment
            .as_ref()
            .and_then(|a| a.episode.as_ref())
            .map(|e| e.first_alarm)
    }

    fn new_entry(&self, kind: EntryKind, actor: &str, text: String) -> TimelineEntry {
        // The one edge every entry passes: nothing that reaches the timeline carries a credential.
        let text = redact::credentials(&text);
        TimelineEntry {
            seq: self.timeline.last().map_or(1, |l| l.entry.seq + 1),
            ts: self.now.unwrap_or(self.wall),
            recorded_at: self.wall,
            actor: actor.to_string(),
            kind,
            text,
            metrics: self.metric_snapshot(),
        }
    }

    fn push(&mut self, entry: TimelineEntry) -> Option<Effect> {
        let incident_id = self.incident.as_ref()?.id.clone();
        self.timeline.push(LoggedEntry {
            entry: entry.clone(),
            persisted: Persisted::Pending,
        });
        if self.entry_selected > 0 {
            self.entry_selected += 1;
        }
        Some(Effect::Persist {
            incident_id,
            entry: Box::new(entry),
        })
    }

    fn metric_snapshot(&self) -> std::collections::BTreeMap<String, f64> {
        const KEY_METRICS: [MetricId; 6] = [
            MetricId::Hallucination,
            MetricId::Refusal,
            MetricId::Schema,
            MetricId::Feedback,
            MetricId::Errors,
            MetricId::LatencyP95,
        ];
        let Some(assessment) = &self.assessment else {
            return Default::default();
        };
        KEY_METRICS
            .iter()
            .filter_map(|id| {
                let value = assessment.reading(*id)?.now?;
                Some((id.key().to_string(), (value * 10_000.0).round() / 10_000.0))
            })
            .collect()
    }
}

fn result(action: &str, outcome: Outcome) -> EntryKind {
    EntryKind::ActionResult {
        action: action.to_string(),
        outcome,
    }
}

fn diff_of(change: &crate::model::Change) -> PromptDiff {
    PromptDiff {
        title: format!(
            "{} {} at {}",
            change.target,
            change.transition(),
            change.ts.format("%Y-%m-%d %H:%M UTC")
        ),
        runs: word_diff(
            change.text_from.as_deref().unwrap_or_default(),
            change.text_to.as_deref().unwrap_or_default(),
        ),
    }
}
