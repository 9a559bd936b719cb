//! `cargo bench`: how fast the engine keeps up with traffic and how long a frame takes to draw.
//! Plain timing over many iterations (no harness), printed as one line per measurement.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::Duration as Span;
use flightdeck::app::{Action, App, Settings};
use flightdeck::engine::{Engine, EngineConfig};
use flightdeck::model::Call;
use flightdeck::sim::scenario::Scenario;
use flightdeck::sim::{SimOutput, Simulator, schema_registry};
use flightdeck::ui::theme::Theme;
use flightdeck::ui::{self, View};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn report(name: &str, total: Duration, iterations: usize) {
    let per = total.as_secs_f64() / iterations as f64;
    println!(
        "{name:<44} {:>10.1} µs/iter  ({iterations} iterations)",
        per * 1e6
    );
}

/// Two and a half hours of the red-herring scenario's calls, with the scenario's start time.
fn traffic() -> (Vec<Call>, chrono::DateTime<chrono::Utc>) {
    let scenario = Scenario::builtin("red-herring").unwrap().unwrap();
    let start = scenario.start;
    let mut sim = Simulator::new(scenario, 7);
    let calls = sim
        .advance_to(start + Span::minutes(150))
        .into_iter()
        .filter_map(|o| match o {
            SimOutput::Call(c) => Some(*c),
            SimOutput::Change(_) => None,
        })
        .collect();
    (calls, start)
}

fn main() {
    let (calls, start) = traffic();

    let mut engine = Engine::new(EngineConfig::default(), schema_registry());
    let began = Instant::now();
    for call in &calls {
        engine.ingest_call(black_box(call));
    }
    report(
        "engine: ingest one call (every content signal)",
        began.elapsed(),
        calls.len(),
    );

    let evaluations = 200;
    let now = start + Span::minutes(150);
    let began = Instant::now();
    for _ in 0..evaluations {
        black_box(engine.evaluate(now));
    }
    report(
        "engine: evaluate every metric + triage",
        began.elapsed(),
        evaluations,
    );

    let settings = Settings {
        actor: "bench".into(),
        source: "bench".into(),
        read_only: false,
        dry_run: false,
        speed: Some(60.0),
        present: false,
        local_offset: chrono::FixedOffset::east_opt(0).expect("UTC"),
        drill: None,
    };
    let mut app = App::new(
        settings,
        Engine::new(EngineConfig::default(), schema_registry()),
        start,
    );
    for chunk in calls.chunks(15) {
        let now = chunk.last().unwrap().ts;
        app.update(Action::Observed {
            now,
            wall: now,
            calls: chunk.to_vec(),
            changes: vec![],
        });
    }
    let theme = Theme::dark();
    let view = View::default();
    for (width, height) in [(120, 35), (160, 45)] {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        let frames = 300;
        let began = Instant::now();
        for _ in 0..frames {
            terminal.draw(|f| ui::draw(f, &app, &view, &theme)).unwrap();
        }
        report(
            &format!("ui: draw a whole {width}x{height} frame"),
            began.elapsed(),
            frames,
        );
    }
}
