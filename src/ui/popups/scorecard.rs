//! A drill's scorecard: the scenario revealed, then each call the responder made, with its
//! times and what the triage said then; ✓ and ✗ carry the meaning without colour.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::open_box;
use crate::drill::Scorecard;
use crate::ui::theme::Theme;

pub fn draw(frame: &mut Frame, area: Rect, scorecard: &Scorecard, theme: &Theme) {
    let mut text = scorecard.lines().into_iter();
    let heading = text.next().unwrap_or_default();
    let lines: Vec<Line> = text
        .enumerate()
        .map(|(i, line)| {
            let style = if line.starts_with('✓') {
                theme.ok
            } else if line.starts_with('✗') {
                theme.critical
            } else if i == 0 {
                theme.muted
            } else {
                theme.text
            };
            Line::styled(line, style)
        })
        .collect();
    let inner = open_box(
        frame,
        area,
        (area.width.saturating_sub(8).min(120), area.height.saturating_sub(4)),
        format!(" {heading} · q quit · Esc close "),
        theme.border_focused,
    );
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
