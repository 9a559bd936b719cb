//! One timeline entry in full: who, when (both clocks), what, and the metrics at the time.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::open_box;
use crate::app::{App, Persisted};
use crate::ui::theme::Theme;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, seq: u64, theme: &Theme) {
    let Some(logged) = app.timeline.iter().find(|l| l.entry.seq == seq) else {
        return;
    };
    let e = &logged.entry;
    let field = |name: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("{name:<10}"), theme.muted),
            Span::styled(value, theme.text),
        ])
    };
    let mut lines = vec![
        field("entry", format!("#{} · {}", e.seq, e.kind.label())),
        field("time", e.ts.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
        field(
            "recorded",
            e.recorded_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        ),
        field("actor", e.actor.clone()),
        field(
            "stored",
            match &logged.persisted {
                Persisted::OnDisk => "on disk (fsync'd)".to_string(),
                Persisted::Pending => "writing…".to_string(),
                Persisted::Failed(reason) => format!("NOT written: {reason}"),
            },
        ),
        Line::raw(""),
        Line::styled(e.text.clone(), theme.text),
        Line::raw(""),
    ];
    if !e.metrics.is_empty() {
        lines.push(Line::styled("metrics at the time", theme.muted));
        for (key, value) in &e.metrics {
            let shown = if key.ends_with("_ms") {
                format!("{value:.0} ms")
            } else {
                format!("{:.1}%", value * 100.0)
            };
            lines.push(Line::from(vec![
                Span::styled(format!("  {key:<20}"), theme.muted),
                Span::styled(shown, theme.text),
            ]));
        }
    }
    let height = lines.len() as u16 + 4;
    let inner = open_box(
        frame,
        area,
        (90, height),
        " Timeline entry · Esc to close ".to_string(),
        theme.border_focused,
    );
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
