//! The key-hint bar, from the same key table as the help overlay.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::App;
use crate::app::keymap::{self, Command};
use crate::ui::theme::Theme;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut spans = Vec::new();
    for binding in keymap::bindings(app.context()).filter(|b| b.hint) {
        if app.settings.read_only && matches!(binding.command, Command::Mitigate(_)) {
            continue;
        }
        spans.push(Span::styled(format!(" {} ", binding.label), theme.accent));
        spans.push(Span::styled(format!("{} ", binding.description), theme.muted));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
