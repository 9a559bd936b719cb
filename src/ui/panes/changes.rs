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
        let origin = match record.origin {
            ChangeOrigin::InferredFromCalls => "seen in calls",
            ChangeOrigin::InferredFromBehaviour => "inferred from outputs",
            ChangeOrigin::Feed => c.author.as_deref().unwrap_or("feed"),
        };
        let style = if record.is_mitigation() {
            theme.accent
        } else {
            theme.text
        };
        let mut lines = vec![Line::styled(
            format!("{} {} · {origin}", c.target, c.transition()),
            style,
        )];
        if let Some(evidence) = record.evidence() {
            // The target is on the line above.
            let evidence = evidence
                .strip_prefix(&format!("{} ", c.target))
                .unwrap_or(evidence);
            lines.extend(
                evidence_lines(evidence, text_width)
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
    let mut lines = format::wrap(evidence, width, "  ");
    if lines.len() > EVIDENCE_LINES {
        lines.truncate(EVIDENCE_LINES);
        let last = &mut lines[EVIDENCE_LINES - 1];
        let keep = last.chars().count().min(width.saturating_sub(1));
        *last = last.chars().take(keep).collect::<String>() + "…";
    }
    lines
}
