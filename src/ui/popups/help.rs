//! The `?` overlay, generated from the key table.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::app::App;
use crate::app::keymap::{self, Command, Context};
use crate::ui::centered;
use crate::ui::theme::Theme;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut lines = Vec::new();
    for (context, heading) in [
        (Context::Cockpit, "Cockpit"),
        (Context::Confirm, "Confirm dialog"),
        (Context::Note, "Note editor"),
        (Context::Overlay, "Popups"),
    ] {
        lines.push(Line::styled(heading, theme.accent));
        for binding in keymap::bindings(context) {
            let disabled =
                app.settings.read_only && matches!(binding.command, Command::Mitigate(_));
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<10}", binding.label), theme.accent),
                Span::styled(
                    format!(
                        "{}{}",
                        binding.description,
                        if disabled {
                            " (disabled: read-only)"
                        } else {
                            ""
                        }
                    ),
                    if disabled { theme.muted } else { theme.text },
                ),
            ]));
        }
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled(
        "Mitigations ask first (Cancel is focused); every action is logged to the timeline.",
        theme.muted,
    ));
    let height = lines.len() as u16 + 2;
    let popup = centered(area, 72, height);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(" Keys · Esc to close ")
                .border_style(theme.border_focused),
        ),
        popup,
    );
}
