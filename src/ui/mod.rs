//! Drawing: a pure function of the app state (and the note editor's buffer). No I/O here.

pub mod format;
mod panes;
mod popups;
mod presenter;
pub mod theme;

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Paragraph, Table, TableState, Wrap};
use ratatui_textarea::TextArea;

use self::theme::Theme;
use crate::app::editing::EditTarget;
use crate::app::{App, Pane};

/// The least terminal size the cockpit lays out for.
pub const MIN_WIDTH: u16 = 100;
pub const MIN_HEIGHT: u16 = 30;

/// Widget state that belongs to the terminal side: the open editor's buffer and cursor, with
/// what it edits.
#[derive(Default)]
pub struct View {
    pub editor: Option<(EditTarget, TextArea<'static>)>,
}

pub fn draw(frame: &mut Frame, app: &App, view: &View, theme: &Theme) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_too_small(frame, area, theme);
        return;
    }
    if app.presenting {
        presenter::draw(frame, area, app, theme);
        popups::draw(frame, area, app, view, theme);
        return;
    }
    let [header, body, hints] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    // All 15 metrics need 18 rows (a header and the borders too) and 3 more for their notes;
    // a short screen folds the healthy p50 and p99 rows, and the rest goes to the changes and the
    // timeline.
    let top_height = (body.height / 2).clamp(16, 21);
    let [top, bottom] =
        Layout::vertical([Constraint::Length(top_height), Constraint::Fill(1)]).areas(body);
    let [metrics, triage] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(top);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(bottom);
    // A live cockpit shows its sources above the timeline, in at most half the column.
    let sources_height = if app.sources.is_empty() && app.infra.is_empty() {
        0
    } else {
        panes::sources::wanted_height(app).min(right.height / 2)
    };
    let [sources, timeline] =
        Layout::vertical([Constraint::Length(sources_height), Constraint::Fill(1)]).areas(right);
    // At least the three keys; more (a wrapped error, the undo) up to half the column.
    let mitigations_height = panes::mitigations::wanted_height(app, left.width, theme)
        .min(left.height / 2)
        .max(6);
    let [changes, mitigations] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(mitigations_height)]).areas(left);

    panes::header::draw(frame, header, app, theme);
    panes::metrics::draw(frame, metrics, app, theme);
    panes::triage::draw(frame, triage, app, theme);
    panes::changes::draw(frame, changes, app, theme);
    panes::mitigations::draw(frame, mitigations, app, theme);
    if sources_height > 0 {
        panes::sources::draw(frame, sources, app, theme);
    }
    panes::timeline::draw(frame, timeline, app, theme);
    panes::hints::draw(frame, hints, app, theme);
    popups::draw(frame, area, app, view, theme);
}

fn draw_too_small(frame: &mut Frame, area: Rect, theme: &Theme) {
    let text = vec![
        Line::styled("flightdeck needs a larger window", theme.warn),
        Line::styled(
            format!(
                "at least {MIN_WIDTH}×{MIN_HEIGHT}; this one is {}×{}",
                area.width, area.height
            ),
            theme.text,
        ),
        Line::styled("enlarge the terminal, or press q to quit", theme.muted),
    ];
    let [middle] = Layout::vertical([Constraint::Length(3)])
        .flex(Flex::Center)
        .areas(area);
    frame.render_widget(
        Paragraph::new(text).centered().wrap(Wrap { trim: true }),
        middle,
    );
}

/// A pane's frame: the focused pane's border and title stand out.
fn pane_block<'a>(title: impl Into<Line<'a>>, focused: bool, theme: &Theme) -> Block<'a> {
    let (border, border_type) = if focused {
        (theme.border_focused, BorderType::Thick)
    } else {
        (theme.border, BorderType::Plain)
    };
    Block::bordered()
        .border_type(border_type)
        .border_style(border)
        .title(title)
        .title_style(if focused { theme.accent } else { theme.text })
}

fn focused(app: &App, pane: Pane) -> bool {
    app.overlay.is_none() && app.focus == pane
}

/// Renders a list pane's table; the selected row is highlighted only while the pane has focus.
fn render_list(
    frame: &mut Frame,
    area: Rect,
    table: Table,
    is_focused: bool,
    selected: usize,
    theme: &Theme,
) {
    let table = table.column_spacing(1).row_highlight_style(if is_focused {
        theme.selection
    } else {
        theme.text
    });
    let mut state = TableState::default().with_selected(is_focused.then_some(selected));
    frame.render_stateful_widget(table, area, &mut state);
}

/// A rectangle of at most `width`×`height` in the middle of `area`.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}
