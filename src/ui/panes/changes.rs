//! The changes pane: prompt, model and flag changes, from feeds and inferred from calls or from
//! the outputs' behaviour (with what the outputs showed under it), newest first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Text};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use crate::app::{App, Pane};
use crate::model::ChangeOrigin;
use crate::ui::theme::Theme;
use crate::ui::{focused, format, pane_block, render_list};

/// Widths of the time, kind and age columns, and the spacing between the four columns.
const FIXED_COLUMNS: u16 = 8 + 6 + 6 + 3;
/// Lines of evidence shown under a change inferred from outputs.
const EVIDENCE_LINES: usize = 3;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let is_focused = focused(app, Pane::Changes);
    let block = pane_block(
        " Changes · newest first · age · Enter: diff ",
        is_focused,
        theme,
    );
    let changes = app.engine.changes();
    if changes.is_empty() {
        frame.render_widget(
            Paragraph::new("no prompt, model or flag change seen yet")
                .style(theme.muted)
                .block(block),
            area,
        );
        return;
    }
    let now = app.now.unwrap_or(app.wall);
    let text_width = usize::from(area.width.saturating_sub(2 + FIXED_COLUMNS)).max(1);
    let rows = changes.iter().rev().map(|record| {
        let c = &record.change;
        let style = if record.is_mitigation() {
            theme.accent
        } else {
            theme.text
        };
        let origin = match record.origin {
            ChangeOrigin::InferredFromCalls => Some("seen in calls"),
            // Named at the head of the evidence, on the lines below.
            ChangeOrigin::InferredFromBehaviour => None,
            ChangeOrigin::Feed => Some(c.author.as_deref().unwrap_or("feed")),
        };
        let change = format!("{} {}", c.target, c.transition());
        let mut lines = vec![Line::styled(
            match origin {
                Some(origin) => format!("{change} · {origin}"),
                None => change,
            },
            style,
        )];
        if let Some(evidence) = record.evidence() {
            // "gpt-4o outputs 1.6× longer since …": the model is on the line above.
            let evidence = evidence
                .strip_prefix(&format!("{} outputs ", c.target))
                .unwrap_or(evidence);
            lines.extend(
                evidence_lines(&format!("inferred from outputs: {evidence}"), text_width)
                    .into_iter()
                    .map(|line| Line::styled(line, theme.muted)),
            );
        }
        let height = lines.len() as u16;
        Row::new(vec![
            Cell::from(app.zone().format(c.ts, "%H:%M:%S")).style(theme.muted),
            Cell::from(c.kind.to_string()).style(style),
            Cell::from(Text::from(lines)),
            Cell::from(format::age(now - c.ts)).style(theme.muted),
        ])
        .height(height)
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Fill(1),
            Constraint::Length(6),
        ],
    )
    .block(block);
    render_list(frame, area, table, is_focused, app.change_selected, theme);
}

/// The evidence wrapped to the column, at most [`EVIDENCE_LINES`] lines, the last cut with "…".
fn evidence_lines(evidence: &str, width: usize) -> Vec<String> {
    let mut lines = format::wrap(evidence, width, "");
    if lines.len() > EVIDENCE_LINES {
        lines.truncate(EVIDENCE_LINES);
        let last = &mut lines[EVIDENCE_LINES - 1];
        let keep = last.chars().count().min(width.saturating_sub(1));
        *last = last.chars().take(keep).collect::<String>() + "…";
    }
    lines
}

#[cfg(test)]
mod tests {
    use chrono::FixedOffset;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::draw;
    use crate::app::{Action, App, Settings};
    use crate::engine::signals::schema::SchemaRegistry;
    use crate::engine::style_traffic::{Conditions, calls, start};
    use crate::engine::{Engine, EngineConfig};
    use crate::ui::theme::Theme;

    #[test]
    fn a_change_inferred_from_outputs_shows_its_evidence_under_it() {
        let settings = Settings {
            actor: "test".into(),
            source: "test".into(),
            read_only: false,
            dry_run: false,
            speed: None,
            present: false,
            local_offset: FixedOffset::east_opt(0).expect("UTC"),
            drill: None,
        };
        let engine = Engine::new(EngineConfig::default(), SchemaRegistry::default());
        let mut app = App::new(settings, engine, start());
        let calls = calls(
            1,
            &["support-answer", "search-summary"],
            (100, 150),
            |minute, _| Conditions {
                updated: minute >= 132,
                ..Conditions::default()
            },
        );
        for chunk in calls.chunks(15) {
            let now = chunk.last().expect("a chunk has calls").ts;
            app.update(Action::Observed {
                now,
                wall: now,
                calls: chunk.to_vec(),
                changes: vec![],
            });
        }
        let mut terminal = Terminal::new(TestBackend::new(60, 6)).expect("test terminal");
        terminal
            .draw(|frame| draw(frame, frame.area(), &app, &Theme::dark()))
            .expect("draw");
        insta::assert_snapshot!(terminal.backend(), @r#"
        "┌ Changes · newest first · age · Enter: diff ──────────────┐"
        "│14:12:05 model  gpt-4o → outputs changed            17m53s│"
        "│                inferred from outputs: 1.5× longer        │"
        "│                since 14:12 on 2 of 2 features            │"
        "│                (tokens_out 49 → 74), opening 'Sur…       │"
        "└──────────────────────────────────────────────────────────┘"
        "#);
    }
}
