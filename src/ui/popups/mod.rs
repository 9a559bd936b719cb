//! One module per popup; at most one is open at a time.

mod confirm;
mod diff;
mod editor;
mod entry;
mod help;
mod record;
mod scorecard;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Block, Clear};

use super::theme::Theme;
use super::{View, centered};
use crate::app::{App, Overlay};

/// Clears a centred box of at most `width`×`height`, frames it, and returns the space inside.
fn open_box(
    frame: &mut Frame,
    area: Rect,
    (width, height): (u16, u16),
    title: String,
    border: Style,
) -> Rect {
    let popup = centered(area, width, height);
    frame.render_widget(Clear, popup);
    let block = Block::bordered().title(title).border_style(border);
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    inner
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &View, theme: &Theme) {
    match &app.overlay {
        None => {}
        Some(Overlay::Help) => help::draw(frame, area, app, theme),
        Some(Overlay::Confirm { plan, focus, typed }) => confirm::draw(
            frame,
            area,
            &confirm::ConfirmView {
                plan,
                focus: *focus,
                typed,
                dry_run: app.settings.dry_run,
            },
            theme,
        ),
        Some(Overlay::Editor(editor)) => editor::draw(frame, area, app, editor, view, theme),
        Some(Overlay::Record { selected }) => record::draw(frame, area, app, *selected, theme),
        Some(Overlay::Diff(diff)) => diff::draw(frame, area, diff, theme),
        Some(Overlay::Entry(seq)) => entry::draw(frame, area, app, *seq, theme),
        Some(Overlay::Scorecard) => {
            if let Some(card) = &app.scorecard {
                scorecard::draw(frame, area, card, theme);
            }
        }
    }
}
