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
    let width = area.width.saturating_sub(8).min(120);
    // As tall as the wrapped text, within the screen.
    let text_width = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(text_width).max(1))
        .sum();
    let height = u16::try_from(rows + 2).unwrap_or(u16::MAX);
    let inner = open_box(
        frame,
        area,
        (width, height.min(area.height.saturating_sub(2))),
        format!(" {heading} · q quit · Esc close "),
        theme.border_focused,
    );
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
