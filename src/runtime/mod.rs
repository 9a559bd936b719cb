//! The cockpit's event loop: terminal events and source messages become actions, `update` turns
//! them into effects, and the edge carries the effects out. Draws at most 30 times a second,
//! and only when something changed.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use ratatui_textarea::{CursorMove, TextArea};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::actuators::Mitigations;
use crate::actuators::simulator::SimulatorActuator;
use crate::app::editing::EditTarget;
use crate::app::keymap::{self, Command, Key};
use crate::app::{Action, App, Effect, Executor, Overlay, PlaybackCommand};
use crate::enrichment::{self, embeddings::EmbeddingClient};
use crate::incident::writer::TimelineWriter;
use crate::model::MitigationStage;
use crate::sim::Simulator;
use crate::sources;
use crate::term;
use crate::ui::{self, View, theme::Theme};

mod inbound;

const FRAME: Duration = Duration::from_millis(33);

/// What carries out the app's requests to the world a source came with.
#[derive(Default)]
pub struct Controls {
    pub mitigations: Option<Mitigations>,
    pub playback: Option<mpsc::UnboundedSender<PlaybackCommand>>,
}

/// Source batches waiting for the cockpit at most; a source past it waits, so a cockpit that
/// falls behind slows its sources (the OTLP receiver's queue fills and it answers 503) rather
/// than grow memory.
const DATA_IN_FLIGHT: usize = 64;

/// Where the edge's tasks send to the app.
pub struct Outlets {
    /// Sources' data, bounded: a full channel makes the source wait.
    pub data: mpsc::Sender<Action>,
    /// Reports of work done (the mitigation backends'), never held back behind data.
    pub reports: mpsc::UnboundedSender<Action>,
}

/// Starts the sources and what carries out their mitigations.
pub type StartSources = Box<dyn FnOnce(Outlets) -> Controls + Send>;

/// The demo's sources: the simulator, which is also its control plane.
pub fn simulator(sim: Simulator, speed: f64, dry_run: bool) -> StartSources {
    Box::new(move |outlets| {
        let (commands_tx, commands) = mpsc::unbounded_channel();
        // One channel for its data and its mitigations' reports: the change a mitigation makes
        // arrives before the mitigation's stages, as it happened.
        tokio::spawn(sources::simulated::run(sim, speed, outlets.data, commands));
        Controls {
            mitigations: Some(Mitigations::Simulator(SimulatorActuator::new(
                commands_tx,
                dry_run,
            ))),
            playback: None,
        }
    })
}

/// Runs the cockpit until the user quits or a signal arrives.
pub async fn run(
    mut app: App,
    theme: Theme,
    data_dir: PathBuf,
    start_sources: StartSources,
    embeddings: Option<EmbeddingClient>,
) -> anyhow::Result<()> {
    let (reports_tx, mut reports) = mpsc::unbounded_channel();
    let (data_tx, mut data) = mpsc::channel(DATA_IN_FLIGHT);
    // Every way out of this function, a `?` included, drops the writer, which drains its queue.
    let writer = TimelineWriter::spawn(data_dir, reports_tx.clone());
    // With an endpoint, the sources' batches pass through the embedding stage on their way.
    let source_tx = match embeddings {
        Some(client) => {
            let (source_tx, source_rx) = mpsc::channel(DATA_IN_FLIGHT);
            tokio::spawn(enrichment::stage::run(client, source_rx, data_tx));
            source_tx
        }
        None => data_tx,
    };
    let controls = start_sources(Outlets {
        data: source_tx,
        reports: reports_tx,
    });

    let (mut terminal, guard) = term::enter().context("cannot set up the terminal")?;
    let mut terminal_events = spawn_terminal_reader();
    let mut sigterm = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    // A closed SSH session: end as on SIGTERM, so the guard restores the terminal.
    let mut sighup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    let mut view = View::default();
    let mut frames = tokio::time::interval(FRAME);
    frames.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut dirty = true;

    let mut edge = Edge {
        writer: &writer,
        controls: &controls,
    };
    while !app.should_quit {
        // A due frame and the user's keys go before a backlog of source batches.
        let arrived = tokio::select! {
            biased;
            _ = frames.tick() => {
                if dirty {
                    draw(&mut terminal, &app, &view, &theme)?;
                    dirty = false;
                }
                continue;
            }
            Some(event) = terminal_events.recv() => handle_terminal_event(&app, &mut view, event),
            _ = sigterm.recv() => vec![Action::Terminate],
            _ = sighup.recv() => vec![Action::Terminate],
            _ = tokio::signal::ctrl_c() => vec![Action::Terminate],
            Some(action) = reports.recv() => vec![action],
            Some(action) = data.recv() => {
                let (merged, after) = coalesce(action, || data.try_recv().ok());
                std::iter::once(merged).chain(after).collect()
            }
        };
        for action in arrived {
            app.dispatch(action, &mut edge);
        }
        dirty = true;
        sync_view(&app, &mut view);
    }
    drop(guard);
    writer.finish();
    if let Some(scorecard) = &app.scorecard {
        println!("{}\n", scorecard.lines().join("\n"));
    }
    if let Some(incident) = &app.incident {
        println!(
            "incident {} ({}), {} timeline entries; export it with: flightdeck export {} --format md",
            incident.id,
            incident.status,
            app.timeline.len(),
            incident.id
        );
    }
    Ok(())
}

/// The real edge: the timeline writer, the mitigation backends and a replay's playback. Their
/// outcomes come back later on the action channel; a hand-over that fails comes back at once.
struct Edge<'a> {
    writer: &'a TimelineWriter,
    controls: &'a Controls,
}

impl Executor for Edge<'_> {
    fn execute(&mut self, effect: Effect) -> Vec<Action> {
        match effect {
            Effect::Persist { incident_id, entry } => self.writer.write(incident_id, *entry),
            Effect::Measure {
                incident_id,
                measurement,
            } => self.writer.measure(incident_id, *measurement),
            Effect::WriteScorecard {
                incident_id,
                scorecard,
            } => self.writer.scorecard(incident_id, *scorecard),
            Effect::ApplyMitigation { plan, incident } => {
                let handed_over = match &self.controls.mitigations {
                    Some(mitigations) => mitigations
                        .apply(*plan, incident)
                        .map_err(|stopped| stopped.to_string()),
                    None => Err("no mitigation backend is connected".to_string()),
                };
                if let Err(reason) = handed_over {
                    return vec![Action::Mitigation(MitigationStage::Failed { reason })];
                }
            }
            Effect::Playback(command) => {
                if let Some(playback) = &self.controls.playback {
                    let _ = playback.send(command);
                }
            }
            Effect::Quit => {}
        }
        Vec::new()
    }
}

/// The most calls folded into one update: enough to keep up, few enough to keep frames on time.
const MAX_COALESCED_CALLS: usize = 4_096;

/// Folds the source batches already waiting into `first`, so the engine evaluates once per
/// burst rather than once per batch. Status reports between batches (a source's counters, its
/// infrastructure readings, a replay's position) do not stop the folding: they are returned to
/// be applied after the merged batch, followed by the first other action, which does stop it.
/// Calls are put back in time order, since they may come from several sources.
pub fn coalesce(
    first: Action,
    mut waiting: impl FnMut() -> Option<Action>,
) -> (Action, Vec<Action>) {
    let Action::Observed {
        mut now,
        mut wall,
        mut calls,
        mut changes,
    } = first
    else {
        return (first, Vec::new());
    };
    let mut after = Vec::new();
    while calls.len() < MAX_COALESCED_CALLS {
        match waiting() {
            Some(Action::Observed {
                now: later,
                wall: later_wall,
                calls: more_calls,
                changes: more_changes,
            }) => {
                now = now.max(later);
                wall = wall.max(later_wall);
                calls.extend(more_calls);
                changes.extend(more_changes);
            }
            Some(report @ (Action::Source(_) | Action::Infra(_) | Action::Playback(_))) => {
                after.push(report);
            }
            Some(other) => {
                after.push(other);
                break;
            }
            None => break,
        }
    }
    calls.sort_by_key(|c| c.ts);
    let merged = Action::Observed {
        now,
        wall,
        calls,
        changes,
    };
    (merged, after)
}

fn draw(terminal: &mut term::Tui, app: &App, view: &View, theme: &Theme) -> anyhow::Result<()> {
    // A synchronized update keeps a screen share from showing half-drawn frames.
    execute!(std::io::stdout(), BeginSynchronizedUpdate)?;
    terminal.draw(|frame| ui::draw(frame, app, view, theme))?;
    execute!(std::io::stdout(), EndSynchronizedUpdate)?;
    std::io::stdout().flush()?;
    Ok(())
}

/// Reads terminal events on a thread of its own; crossterm's read blocks.
fn spawn_terminal_reader() -> mpsc::UnboundedReceiver<Event> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        while let Ok(event) = event::read() {
            if tx.send(event).is_err() {
                break;
            }
        }
    });
    rx
}

/// An open editor takes raw keys; everything else goes through the key table.
/// The actions a terminal event stands for; the editor's text is kept in the view.
fn handle_terminal_event(app: &App, view: &mut View, event: Event) -> Vec<Action> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => {
            if matches!(app.overlay, Some(Overlay::Editor(_))) {
                return handle_editor_key(app, view, key);
            }
            key_of(key).map(Action::Key).into_iter().collect()
        }
        Event::Paste(text) => {
            if let Some((target, editor)) = view.editor.as_mut() {
                // A one-line field takes a pasted paragraph as one line.
                let text = if target.multi_line() {
                    text
                } else {
                    text.replace("\r\n", " ").replace(['\r', '\n'], " ")
                };
                editor.insert_str(text);
            }
            typed_filter(view)
        }
        _ => Vec::new(),
    }
}

fn handle_editor_key(app: &App, view: &mut View, key: KeyEvent) -> Vec<Action> {
    match key_of(key).and_then(|k| keymap::command_for(app.context(), k)) {
        // The text lives in the editor widget, so the submission carries it into `update`.
        Some(Command::SaveText) => {
            let text = view
                .editor
                .as_ref()
                .map(|(_, e)| e.lines().join("\n"))
                .unwrap_or_default();
            vec![Action::TextSubmitted(text)]
        }
        Some(command) => vec![Action::Command(command)],
        None => {
            if key_of(key) == Some(Key::Ctrl('c')) {
                return vec![Action::Key(Key::Ctrl('c'))];
            }
            if let Some((_, editor)) = view.editor.as_mut() {
                editor.input(key);
            }
            typed_filter(view)
        }
    }
}

/// The timeline filter applies as it is typed.
fn typed_filter(view: &View) -> Vec<Action> {
    match &view.editor {
        Some((EditTarget::Filter, editor)) => vec![Action::FilterTyped(editor.lines().join(" "))],
        _ => Vec::new(),
    }
}

/// Opens an editor prefilled with its text when an editor overlay opens, and drops it when the
/// overlay closes or turns to another target; a refused submission keeps the typed text.
fn sync_view(app: &App, view: &mut View) {
    let wanted = match &app.overlay {
        Some(Overlay::Editor(editor)) => Some(editor),
        _ => None,
    };
    match (wanted, &view.editor) {
        (Some(editor), Some((target, _))) if *target == editor.target => {}
        (Some(editor), _) => {
            let mut area = TextArea::from(editor.initial.lines().map(str::to_string));
            if editor.target.multi_line() {
                area.move_cursor(CursorMove::Bottom);
                area.move_cursor(CursorMove::End);
            } else {
                // A field's value is selected: typing replaces it, an arrow key keeps it to edit.
                area.select_all();
            }
            if editor.target == EditTarget::Note {
                area.set_placeholder_text(
                    "What do you see, decide or do? (several lines are fine)",
                );
            }
            view.editor = Some((editor.target, area));
        }
        (None, Some(_)) => view.editor = None,
        (None, None) => {}
    }
}

/// A crossterm key as the key table knows it.
pub fn key_of(event: KeyEvent) -> Option<Key> {
    let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
    Some(match event.code {
        KeyCode::Char(c) if ctrl => Key::Ctrl(c.to_ascii_lowercase()),
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Tab => Key::Tab,
        KeyCode::BackTab => Key::BackTab,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::model::Call;

    fn call(minute: u32) -> Call {
        serde_json::from_value(serde_json::json!({
            "ts": format!("2026-03-14T14:{minute:02}:00Z"), "feature": "f",
            "model_requested": "m", "status": "ok", "latency_ms": 1
        }))
        .unwrap()
    }

    fn observed(minute: u32, calls: usize) -> Action {
        let now: DateTime<Utc> = format!("2026-03-14T14:{minute:02}:00Z").parse().unwrap();
        Action::Observed {
            now,
            wall: now,
            calls: vec![call(minute); calls],
            changes: Vec::new(),
        }
    }

    fn cockpit() -> App {
        let settings = crate::app::Settings::for_tests();
        let engine = crate::engine::Engine::new(
            crate::engine::EngineConfig::default(),
            crate::sim::schema_registry(),
        );
        App::new(settings, engine, "2026-03-14T14:00:00Z".parse().unwrap())
    }

    /// Types keys as the terminal delivers them, syncing the view as the run loop does.
    fn type_keys(app: &mut App, view: &mut View, keys: &[KeyCode]) {
        for code in keys {
            feed(app, view, Event::Key(KeyEvent::from(*code)));
        }
    }

    /// A terminal event as the loop takes it: its actions applied, the view synced around it.
    fn feed(app: &mut App, view: &mut View, event: Event) {
        sync_view(app, view);
        for action in handle_terminal_event(app, view, event) {
            app.update(action);
        }
        sync_view(app, view);
    }

    fn chars(text: &str) -> Vec<KeyCode> {
        text.chars().map(KeyCode::Char).collect()
    }

    /// `d`, the title typed, Enter: an incident declared as a responder does.
    fn declared() -> (App, View) {
        let mut app = cockpit();
        let mut view = View::default();
        type_keys(&mut app, &mut view, &[KeyCode::Char('d')]);
        type_keys(&mut app, &mut view, &chars("Declared by oncall"));
        type_keys(&mut app, &mut view, &[KeyCode::Enter]);
        (app, view)
    }

    /// A declared incident with its record open on the title's editor.
    fn editing_the_title() -> (App, View) {
        let (mut app, mut view) = declared();
        type_keys(&mut app, &mut view, &[KeyCode::Char('e'), KeyCode::Enter]);
        (app, view)
    }

    #[test]
    fn a_field_opens_with_its_value_selected_so_typing_replaces_it_and_enter_saves_it() {
        let (mut app, mut view) = editing_the_title();
        type_keys(&mut app, &mut view, &chars("Answers invent refunds"));
        type_keys(&mut app, &mut view, &[KeyCode::Enter]);
        assert_eq!(
            app.incident.as_ref().unwrap().title,
            "Answers invent refunds"
        );
        assert!(matches!(app.overlay, Some(Overlay::Record { selected: 0 })));

        // An arrow key keeps the value to edit it.
        type_keys(&mut app, &mut view, &[KeyCode::Enter, KeyCode::End]);
        type_keys(&mut app, &mut view, &chars(" (v8)"));
        type_keys(&mut app, &mut view, &[KeyCode::Enter]);
        assert_eq!(
            app.incident.as_ref().unwrap().title,
            "Answers invent refunds (v8)"
        );
    }

    #[test]
    fn a_paragraph_pasted_into_a_one_line_field_stays_one_line() {
        let (mut app, mut view) = editing_the_title();
        type_keys(&mut app, &mut view, &[KeyCode::End]);
        feed(
            &mut app,
            &mut view,
            Event::Paste(": answers\r\ninvent".into()),
        );
        type_keys(&mut app, &mut view, &[KeyCode::Enter]);
        let title = &app.incident.as_ref().unwrap().title;
        assert_eq!(title, "Declared by oncall: answers invent");
    }

    #[test]
    fn the_timeline_filter_applies_as_it_is_typed_and_enter_keeps_it() {
        let (mut app, mut view) = declared();
        type_keys(&mut app, &mut view, &[KeyCode::Char('/')]);
        type_keys(&mut app, &mut view, &chars("role"));
        assert_eq!(app.timeline_query, "role");
        assert_eq!(app.visible_entries().len(), 1);
        type_keys(&mut app, &mut view, &[KeyCode::Enter]);
        assert!(app.overlay.is_none() && view.editor.is_none());
        assert_eq!(app.timeline_query, "role");
    }

    #[test]
    fn batches_fold_past_status_reports_in_time_order_and_stop_at_another_action() {
        let status = Action::Source(crate::model::SourceStatus::waiting("calls"));
        let mut waiting = vec![
            status.clone(),
            observed(3, 3),
            status.clone(),
            observed(2, 1),
            Action::TextSubmitted("x".into()),
            observed(4, 1),
        ]
        .into_iter();
        let (merged, after) = coalesce(observed(1, 2), || waiting.next());
        let Action::Observed { now, calls, .. } = merged else {
            panic!("an observation");
        };
        assert_eq!(calls.len(), 6);
        assert!(
            calls.windows(2).all(|w| w[0].ts <= w[1].ts),
            "in time order"
        );
        assert_eq!(now.format("%H:%M").to_string(), "14:03");
        assert_eq!(
            after,
            [status.clone(), status, Action::TextSubmitted("x".into())]
        );
        assert!(waiting.next().is_some(), "what follows stays queued");
    }

    #[test]
    fn folding_stops_at_the_cap() {
        let mut waiting = std::iter::repeat_with(|| observed(1, 1_000)).take(10);
        let (merged, after) = coalesce(observed(1, 1_000), || waiting.next());
        let Action::Observed { calls, .. } = merged else {
            panic!("an observation");
        };
        assert_eq!(calls.len(), MAX_COALESCED_CALLS.div_ceil(1_000) * 1_000);
        assert!(after.is_empty());
        assert_eq!(waiting.count(), 6);
    }
}
