//! The latest timeline entries, newest first: time, kind and text, redacted.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::app::App;
use crate::redact::redact;
use crate::ui::format;
use crate::ui::format::fit;
use crate::ui::panes::timeline::kind_style;
use crate::ui::theme::Theme;

/// Below this width the time drops its seconds, so the texts keep their room.
const SECONDS_FROM_WIDTH: u16 = 70;
/// The kind's column: the longest label, "severity".
const KIND_WIDTH: usize = 8;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let zone = app.zone();
    // The date of the newest entry: a presenter's incident rarely spans two.
    let date = app
        .timeline
        .last()
        .map(|l| format!("{} ", zone.format(l.entry.ts, "%Y-%m-%d")))
        .unwrap_or_default();
    let block = Block::bordered()
        .border_style(theme.border)
        .title(Span::styled(
            format!(" Timeline · newest first · {date}{} ", zone.name()),
            theme.text.add_modifier(Modifier::BOLD),
        ));
    if app.timeline.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled("no incident, no entries yet", theme.muted)).block(block),
            area,
        );
        return;
    }
    let inner = block.inner(area);
    let rows = usize::from(inner.height);
    let time_format = if inner.width >= SECONDS_FROM_WIDTH {
        "%H:%M:%S"
    } else {
        "%H:%M"
    };
    let time_width = if inner.width >= SECONDS_FROM_WIDTH {
        8
    } else {
        5
    };
    let text_width = usize::from(inner.width).saturating_sub(time_width + KIND_WIDTH + 2);
    let texts: Vec<String> = app
        .timeline
        .iter()
        .rev()
        .take(rows)
        .map(|logged| redact(&app.entry_text(&logged.entry)))
        .collect();
    // Whole texts when they all fit (a tall screen, a young incident), else one line each.
    let wrapped: Vec<Vec<String>> = texts
        .iter()
        .map(|text| format::wrap(text, text_width, ""))
        .collect();
    let whole = wrapped.iter().map(Vec::len).sum::<usize>() <= rows;
    let mut lines: Vec<Line> = Vec::new();
    for (logged, (text, wrapped)) in app.timeline.iter().rev().zip(texts.iter().zip(wrapped)) {
        let entry = &logged.entry;
        let parts = if whole {
            wrapped
        } else {
            vec![fit(text, text_width)]
        };
        for (i, part) in parts.into_iter().enumerate() {
            let (time, kind) = if i == 0 {
                (app.zone().format(entry.ts, time_format), entry.kind.label())
            } else {
                (String::new(), "")
            };
            lines.push(Line::from(vec![
                Span::styled(format!("{time:<time_width$} "), theme.muted),
                Span::styled(
                    format!("{kind:<KIND_WIDTH$} "),
                    kind_style(&entry.kind, theme),
                ),
                Span::styled(part, theme.text),
            ]));
        }
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
