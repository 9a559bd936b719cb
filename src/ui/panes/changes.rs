//! The changes pane: prompt, model and flag changes, from feeds and inferred from calls, newest first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use crate::app::{App, Pane};
use crate::model::ChangeOrigin;
use crate::ui::theme::Theme;
use crate::ui::{focused, format, pane_block, render_list};

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
    let rows = changes.iter().rev().map(|record| {
        let c = &record.change;
        let origin = match record.origin {
            ChangeOrigin::InferredFromCalls => "seen in calls",
            ChangeOrigin::Feed => c.author.as_deref().unwrap_or("feed"),
        };
        let style = if record.is_mitigation() {
            theme.accent
        } else {
            theme.text
        };
        Row::new(vec![
            Cell::from(app.zone().format(c.ts, "%H:%M:%S")).style(theme.muted),
            Cell::from(c.kind.to_string()).style(style),
            Cell::from(format!("{} {} · {origin}", c.target, c.transition())).style(style),
            Cell::from(format::age(now - c.ts)).style(theme.muted),
        ])
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
