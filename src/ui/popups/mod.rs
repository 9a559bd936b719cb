//! One module per popup; at most one is open at a time.

mod confirm;
mod diff;
mod entry;
mod help;
mod note;

use ratatui::Frame;
use ratatui::layout::Rect;

use super::View;
use super::theme::Theme;
use crate::app::{App, Overlay};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &View, theme: &Theme) {
    match &app.overlay {
        None => {}
        Some(Overlay::Help) => help::draw(frame, area, app, theme),
        Some(Overlay::Confirm { plan, focus }) => confirm::draw(frame, area, plan, *focus, theme),
        Some(Overlay::Note) => note::draw(frame, area, view, theme),
        Some(Overlay::Diff(diff)) => diff::draw(frame, area, diff, theme),
        Some(Overlay::Entry(seq)) => entry::draw(frame, area, app, *seq, theme),
    }
}
