//! A headless cockpit: the simulator, the app and a real timeline store, driven by actions on a
//! virtual clock. Effects are carried out the way the runtime does, synchronously. Beside it: a
//! fake backend server, the real binary on a terminal, waiting for a condition, and what the
//! real-server tests share.

#![allow(dead_code)]

pub mod cockpit;
pub mod fake_server;
pub mod peers;
pub mod wait;

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use flightdeck::app::keymap::{Command, Key};
use flightdeck::app::{Action, App, Effect, Executor, Resumed, Settings};
use flightdeck::engine::triage::{Headline, Recommendation, Verdict};
use flightdeck::engine::{Engine, EngineConfig};
use flightdeck::incident::store::{self, TimelineStore};
use flightdeck::model::{MitigationKind, Status};
use flightdeck::sim::scenario::Scenario;
use flightdeck::sim::{SimOutput, Simulator, schema_registry};
use flightdeck::ui::theme::Theme;
use flightdeck::ui::{self, View};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

pub const SEED: u64 = 42;

pub struct Harness {
    pub sim: Simulator,
    pub app: App,
    pub data_dir: tempfile::TempDir,
    store: Option<(String, TimelineStore)>,
}

impl Harness {
    pub fn new(scenario: &str) -> Self {
        Self::with_settings(scenario, SEED, false)
    }

    pub fn with_settings(scenario: &str, seed: u64, read_only: bool) -> Self {
        Self::start(scenario, seed, read_only, None)
    }

    /// A cockpit resuming a recorded incident, as `demo --incident` starts one.
    pub fn resuming(scenario: &str, record: Resumed) -> Self {
        Self::start(scenario, SEED, false, Some(record))
    }

    fn start(scenario: &str, seed: u64, read_only: bool, record: Option<Resumed>) -> Self {
        let scenario = Scenario::builtin(scenario)
            .expect("a built-in scenario")
            .expect("it parses");
        let settings = Settings {
            actor: "oncall".into(),
            source: format!("demo:{} seed {seed}", scenario.name),
            read_only,
            dry_run: false,
            speed: Some(60.0),
            present: false,
            local_offset: chrono::FixedOffset::east_opt(0).expect("UTC"),
            drill: None,
        };
        let start = scenario.start;
        let engine = Engine::new(EngineConfig::default(), schema_registry());
        let sim = Simulator::new(scenario, seed);
        let app = match record {
            Some(record) => App::resumed(settings, engine, start, record),
            None => App::new(settings, engine, start),
        };
        let mut harness = Self {
            app,
            sim,
            data_dir: tempfile::tempdir().expect("a temp dir"),
            store: None,
        };
        let plans = harness.sim.plans();
        harness.dispatch(Action::PlansRead(plans));
        harness
    }

    /// A drill on a built-in scenario: its name hidden until the scorecard, as `flightdeck drill`
    /// sets it up.
    pub fn drill(scenario: &str) -> Self {
        let mut harness = Self::with_settings(scenario, SEED, false);
        harness.app.settings.drill = Some(scenario.to_string());
        harness.app.settings.source = "drill".to_string();
        harness
    }

    pub fn scenario(&self) -> &Scenario {
        self.sim.scenario()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.sim.now()
    }

    /// Runs the world for some virtual minutes, delivering a batch every 30 virtual seconds.
    pub fn run_minutes(&mut self, minutes: i64) {
        let until = self.sim.now() + Duration::minutes(minutes);
        while self.sim.now() < until {
            let step = (self.sim.now() + Duration::seconds(30)).min(until);
            let outputs = self.sim.advance_to(step);
            self.deliver(outputs);
        }
    }

    /// Runs until the condition holds, at most `limit` virtual minutes; returns whether it did.
    pub fn run_until(&mut self, limit: i64, condition: impl Fn(&App) -> bool) -> bool {
        for _ in 0..limit * 2 {
            if condition(&self.app) {
                return true;
            }
            let step = self.sim.now() + Duration::seconds(30);
            let outputs = self.sim.advance_to(step);
            self.deliver(outputs);
        }
        condition(&self.app)
    }

    fn deliver(&mut self, outputs: Vec<SimOutput>) {
        let (calls, changes) = SimOutput::split(outputs);
        let now = self.sim.now();
        self.dispatch(Action::Observed {
            now,
            wall: now,
            calls,
            changes,
        });
        let plans = self.sim.plans();
        if plans != self.app.plans {
            self.dispatch(Action::PlansRead(plans));
        }
    }

    /// Runs to some virtual minutes after the scenario's scripted change.
    pub fn run_past_change(&mut self, minutes: i64) {
        let change = self.incident_change_at();
        self.run_minutes((change - self.now()).num_minutes() + minutes);
    }

    /// A responder's first minutes: waits for the incident, acknowledges it five minutes later,
    /// applies the mitigation on `key`, and waits until it is verified and the incident mitigated.
    pub fn mitigate_incident(&mut self, key: char) {
        assert!(
            self.run_until(60, |app| app.incident.is_some()),
            "no incident"
        );
        self.run_minutes(5);
        self.press(Key::Char('a'));
        self.apply_mitigation(key);
        let mitigated = self.run_until(30, |app| {
            app.incident
                .as_ref()
                .is_some_and(|i| i.status == Status::Mitigated)
        });
        assert!(
            mitigated,
            "the mitigation on {key} did not mitigate the incident"
        );
    }

    /// The demo incident handled as a responder would: detected, acknowledged, rolled back,
    /// verified, resolved, and then a few quiet minutes; fixed by the seed, so exports of it are
    /// golden.
    pub fn handle_prompt_incident(&mut self) {
        self.mitigate_incident('r');
        self.run_minutes(5);
        self.press(Key::Char('x'));
        self.run_minutes(5);
    }

    /// The triage as of the last evaluation.
    pub fn triage(&self) -> Option<flightdeck::engine::triage::Triage> {
        self.app.assessment.as_ref().and_then(|a| a.triage.clone())
    }

    /// Presses a mitigation key, moves to Apply and confirms.
    pub fn apply_mitigation(&mut self, key: char) {
        self.press(Key::Char(key));
        self.press(Key::Right);
        self.press(Key::Enter);
    }

    /// `d`, then the title typed and Enter: declares an incident as a responder does.
    pub fn declare(&mut self, title: &str) {
        self.press(Key::Char('d'));
        self.dispatch(Action::TextSubmitted(title.into()));
    }

    /// Opens the note editor and logs what was typed, as Ctrl-S does.
    pub fn note(&mut self, text: &str) {
        self.dispatch(Action::Command(Command::AddNote));
        self.dispatch(Action::TextSubmitted(text.into()));
    }

    pub fn press(&mut self, key: Key) {
        self.dispatch(Action::Key(key));
    }

    /// Applies an action and carries out its effects, through the one dispatch the runtime uses.
    pub fn dispatch(&mut self, action: Action) {
        let mut edge = InProcessEdge {
            sim: &mut self.sim,
            data_dir: self.data_dir.path(),
            store: &mut self.store,
        };
        self.app.dispatch(action, &mut edge);
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The whole frame as text, at a terminal size.
    pub fn render(&self, width: u16, height: u16) -> String {
        self.draw(width, height, &Theme::dark())
            .backend()
            .to_string()
    }

    /// The whole frame drawn with a theme: every cell's text and style.
    pub fn render_buffer(&self, width: u16, height: u16, theme: &Theme) -> Buffer {
        self.draw(width, height, theme).backend().buffer().clone()
    }

    fn draw(&self, width: u16, height: u16, theme: &Theme) -> Terminal<TestBackend> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
        terminal
            .draw(|frame| ui::draw(frame, &self.app, &View::default(), theme))
            .expect("draw");
        terminal
    }

    /// The prompt regression's triage as it would read had the deploy gone unrecorded and the
    /// calls carried no version: every step ruled out, and what would decide it.
    pub fn as_unexplained(&mut self) {
        let mut triage = self.app.triage.clone().expect("a triage mid-incident");
        for step in &mut triage.steps {
            step.verdict = Verdict::RuledOut;
        }
        triage.steps[2].evidence =
            vec!["no prompt deploy in the 2h00m before onset; one version live at onset".into()];
        triage.prompt_change = None;
        triage.blast_radius.clear();
        triage.headline = Headline::Unexplained {
            evidence: triage
                .steps
                .iter()
                .map(|s| format!("{} ruled out: {}", s.category, s.evidence.join("; ")))
                .collect(),
            would_decide: vec![
                "a change record for the deploy that preceded 14:14, if there was one: none in the \
                 2h00m before"
                    .into(),
                "input segments on the calls (tenant, source or intent attributes): none carried, so \
                 no part of the traffic can be singled out"
                    .into(),
            ],
        };
        triage.recommendation = Some(Recommendation {
            kind: MitigationKind::KillSwitch,
            target: "support-answer".into(),
            to: None,
            text: "kill switch for support-answer: serve the fallback while the cause is unknown"
                .into(),
        });
        self.app.triage = Some(triage);
    }

    /// The scenario's scripted change that the incident is about: its last scheduled event.
    pub fn incident_change_at(&self) -> DateTime<Utc> {
        self.scenario()
            .events
            .last()
            .map(|e| e.at)
            .expect("every scenario schedules a change")
    }
}

/// The edge in process: the timeline written synchronously to the temp dir, mitigations applied
/// to the simulator inline, their reports returned in the order the runtime would receive them.
struct InProcessEdge<'a> {
    sim: &'a mut Simulator,
    data_dir: &'a Path,
    store: &'a mut Option<(String, TimelineStore)>,
}

impl InProcessEdge<'_> {
    fn store_for(&mut self, incident_id: &str) -> &mut TimelineStore {
        let reopen = self.store.as_ref().is_none_or(|(id, _)| id != incident_id);
        if reopen {
            let store = TimelineStore::open(self.data_dir, incident_id).expect("open store");
            *self.store = Some((incident_id.to_string(), store));
        }
        &mut self.store.as_mut().expect("just opened").1
    }
}

impl Executor for InProcessEdge<'_> {
    fn execute(&mut self, effect: Effect) -> Vec<Action> {
        match effect {
            Effect::Persist { incident_id, entry } => {
                let seq = entry.seq;
                self.store_for(&incident_id).append(&entry).expect("append");
                vec![Action::EntryPersisted { incident_id, seq }]
            }
            Effect::ApplyMitigation { plan, .. } => {
                let (change, stages) = self.sim.mitigate(&plan);
                let now = self.sim.now();
                let mut reports: Vec<Action> = change
                    .map(|change| Action::Observed {
                        now,
                        wall: now,
                        calls: vec![],
                        changes: vec![change],
                    })
                    .into_iter()
                    .collect();
                reports.extend(stages.into_iter().map(Action::Mitigation));
                reports.push(Action::PlansRead(self.sim.plans()));
                reports
            }
            Effect::Measure {
                incident_id,
                measurement,
            } => {
                store::append_measurement(self.data_dir, &incident_id, &measurement)
                    .expect("append a measurement");
                Vec::new()
            }
            Effect::WriteScorecard {
                incident_id,
                scorecard,
            } => {
                store::write_scorecard(self.data_dir, &incident_id, &scorecard)
                    .expect("write the scorecard");
                Vec::new()
            }
            // The simulator is not a recording: there is no playback to control.
            Effect::Playback(_) | Effect::Quit => Vec::new(),
        }
    }
}
