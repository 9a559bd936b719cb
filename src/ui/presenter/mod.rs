//! The presenter view for the incident commander's screen share: the state at a glance in large
//! type, the triage and the latest entries. Every text from the outside world goes through
//! [`redact`](crate::redact::redact): no hostnames, addresses or credentials on a shared
//! screen.

mod big;
mod status;
mod tiles;
mod timeline;
mod triage;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use super::panes;
use super::theme::Theme;
use crate::app::App;

/// Rows of the status header, its border included.
const STATUS_HEIGHT: u16 = 5;
/// Rows the triage and the timeline need at least: the four steps and a line or two more.
const LISTS_MIN_HEIGHT: u16 = 10;
/// A row of metric tiles: three rows of large digits, a sparkline, a state line, two borders;
/// on a tall screen the sparkline grows.
const TILE_MIN_HEIGHT: u16 = 7;
const TILE_MAX_HEIGHT: u16 = 10;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let body = area.height.saturating_sub(STATUS_HEIGHT + 1);
    let tile_height =
        (body.saturating_sub(LISTS_MIN_HEIGHT) / 2).clamp(TILE_MIN_HEIGHT, TILE_MAX_HEIGHT);
    let [status, tiles, lists, hints] = Layout::vertical([
        Constraint::Length(STATUS_HEIGHT),
        Constraint::Length(tile_height * 2),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let [triage, timeline] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(lists);
    status::draw(frame, status, app, theme);
    tiles::draw(frame, tiles, app, theme);
    triage::draw(frame, triage, app, theme);
    timeline::draw(frame, timeline, app, theme);
    panes::hints::draw(frame, hints, app, theme);
}
