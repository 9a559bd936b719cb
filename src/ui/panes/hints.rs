//! The key-hint bar, from the same key table as the help overlay.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::keymap::{self, Command, Context};
use crate::app::{App, Overlay};
use crate::ui::theme::Theme;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut hints: Vec<[Span; 2]> = keymap::bindings(app.context())
        .filter(|b| b.hint)
        .filter(|b| !(app.settings.read_only && matches!(b.command, Command::Mitigate(_))))
        .filter(|b| app.playback.is_some() || !b.command.is_playback())
        .filter(|b| {
            b.context != Context::Confirm
                || offers_a_choice(app)
                || !matches!(b.command, Command::Up | Command::Down)
        })
        // Popups share their keys; only an entry's full view has a text to edit.
        .filter(|b| {
            b.command != Command::EditEntry || matches!(app.overlay, Some(Overlay::Entry(_)))
        })
        .map(|b| {
            [
                Span::styled(format!(" {} ", b.label), theme.accent),
                Span::styled(format!("{} ", b.description), theme.muted),
            ]
        })
        .collect();
    // On a narrow terminal, drop hints from the middle: the first (the actions) and the last
    // two (help and quit) always stay.
    let width = |hints: &[[Span; 2]]| -> usize { hints.iter().flatten().map(|s| s.width()).sum() };
    while width(&hints) > area.width as usize && hints.len() > 3 {
        hints.remove(hints.len() - 3);
    }
    frame.render_widget(Paragraph::new(Line::from(hints.concat())), area);
}

/// Whether the open confirm dialog has versions to pick among, which `↑↓` do.
fn offers_a_choice(app: &App) -> bool {
    matches!(&app.overlay, Some(Overlay::Confirm { plan, .. }) if !plan.choices.is_empty())
}
