//! The prompt word diff: removed words struck through and bracketed, added words marked, so the
//! change reads without colour too.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::open_box;
use crate::app::PromptDiff;
use crate::engine::diff::{DiffTag, word_counts};
use crate::ui::theme::Theme;

/// Wraps the words in markers and keeps the surrounding spaces outside them.
fn marked(text: &str, open: &str, close: &str) -> String {
    let words = text.trim();
    let lead = &text[..text.len() - text.trim_start().len()];
    let trail = &text[text.trim_end().len()..];
    format!("{lead}{open}{words}{close}{trail}")
}

/// The runs as spans: removed words bracketed `[-…-]`, added ones `{+…+}`.
pub(super) fn diff_spans<'a>(runs: &[(DiffTag, String)], theme: &Theme) -> Vec<Span<'a>> {
    runs.iter()
        .map(|(tag, text)| match tag {
            DiffTag::Same => Span::styled(text.clone(), theme.text),
            DiffTag::Removed => Span::styled(marked(text, "[-", "-]"), theme.removed),
            DiffTag::Added => Span::styled(marked(text, "{+", "+}"), theme.added),
        })
        .collect()
}

pub fn draw(frame: &mut Frame, area: Rect, diff: &PromptDiff, theme: &Theme) {
    let spans = diff_spans(&diff.runs, theme);
    let (removed, added) = word_counts(&diff.runs);
    let lines = vec![
        Line::styled(diff.title.clone(), theme.accent),
        Line::styled(
            format!("{removed} words removed [-…-], {added} words added {{+…+}}"),
            theme.muted,
        ),
        Line::raw(""),
        Line::from(spans),
    ];
    let height = 16;
    let inner = open_box(
        frame,
        area,
        (90, height),
        " Prompt diff · Esc to close ".to_string(),
        theme.border_focused,
    );
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
