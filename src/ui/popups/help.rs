//! The `?` overlay, generated from the key table, in two balanced columns so it fits 100×30.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::open_box;
use crate::app::App;
use crate::app::keymap::{self, Command, Context};
use crate::ui::theme::Theme;

/// Moving within a pane: one line for six keys, so the whole table fits 100×30.
const NAVIGATION: [Command; 6] = [
    Command::Up,
    Command::Down,
    Command::PageUp,
    Command::PageDown,
    Command::Top,
    Command::Bottom,
];

fn section(app: &App, context: Context, heading: &str, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(heading.to_string(), theme.accent)];
    if context == Context::Cockpit {
        lines.push(Line::from(vec![
            Span::styled("  ↑↓ PgUp/Dn Home/End  ", theme.accent),
            Span::styled("move in a pane", theme.text),
        ]));
    }
    for binding in keymap::bindings(context) {
        if context == Context::Cockpit && NAVIGATION.contains(&binding.command) {
            continue;
        }
        let disabled = app.settings.read_only && matches!(binding.command, Command::Mitigate(_));
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<9}", binding.label), theme.accent),
            Span::styled(
                format!(
                    "{}{}",
                    binding.description,
                    if disabled { " (read-only)" } else { "" }
                ),
                if disabled { theme.muted } else { theme.text },
            ),
        ]));
    }
    lines.push(Line::raw(""));
    lines
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let sections = [
        (Context::Cockpit, "Cockpit"),
        (Context::Confirm, "Confirm dialog"),
        (Context::Editor, "Editors (a one-line field saves on Enter)"),
        (Context::Overlay, "Popups"),
        (Context::Presenter, "Presenter view: only these keys act"),
    ];
    let mut lines = Vec::new();
    // Where each section starts, to name the one the right column continues.
    let mut starts = Vec::new();
    for (context, heading) in sections {
        starts.push((lines.len(), heading));
        lines.extend(section(app, context, heading, theme));
    }
    lines.push(Line::styled(
        "Mitigations ask first, with Cancel focused; every action is logged to the timeline.",
        theme.muted,
    ));
    // Balanced columns: the key table runs on from the left column into the right one.
    let split = lines.len().div_ceil(2);
    let mut right = lines.split_off(split);
    let left = lines;
    if let Some((start, heading)) = starts.iter().rev().find(|(start, _)| *start < split)
        && *start + 1 < split
    {
        right.insert(
            0,
            Line::styled(format!("{heading} (continued)"), theme.accent),
        );
    }
    let height = left.len().max(right.len() + 1) as u16 + 2;
    let inner = open_box(
        frame,
        area,
        (96, height),
        " Keys · Esc to close ".to_string(),
        theme.border_focused,
    );
    let [left_area, right_area] =
        Layout::horizontal([Constraint::Percentage(52), Constraint::Percentage(48)]).areas(inner);
    frame.render_widget(Paragraph::new(left), left_area);
    frame.render_widget(Paragraph::new(right).wrap(Wrap { trim: true }), right_area);
}
