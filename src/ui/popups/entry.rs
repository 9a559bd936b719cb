//! One timeline entry in full: who, when (both clocks), what, and the metrics at the time.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::open_box;
use crate::app::{App, Persisted};
use crate::model::EntryKind;
use crate::ui::theme::Theme;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, seq: u64, theme: &Theme) {
    let Some(logged) = app.timeline.iter().find(|l| l.entry.seq == seq) else {
        return;
    };
    let e = &logged.entry;
    let zone = app.zone();
    let field = |name: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("{name:<10}"), theme.muted),
            Span::styled(value, theme.text),
        ])
    };
    let mut lines = vec![
        field("entry", format!("#{} · {}", e.seq, e.kind.label())),
        field("time", zone.stamp(e.ts)),
        field("recorded", zone.stamp(e.recorded_at)),
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
        Line::styled(app.entry_text(e).to_string(), theme.text),
        Line::raw(""),
    ];
    // Each correction, oldest first: the record keeps what the entry said before.
    let edits: Vec<_> = app
        .timeline
        .iter()
        .filter_map(|l| match &l.entry.kind {
            EntryKind::EntryEdited {
                seq: edited, from, ..
            } if *edited == seq => Some((l.entry.ts, l.entry.actor.clone(), from.clone())),
            _ => None,
        })
        .collect();
    if !edits.is_empty() {
        lines.push(Line::styled(
            "history (what it said before each edit)",
            theme.muted,
        ));
        for (ts, actor, was) in edits {
            lines.push(Line::from(vec![
                Span::styled(format!("  {} by {actor}: ", zone.stamp(ts)), theme.muted),
                Span::styled(was, theme.text),
            ]));
        }
        lines.push(Line::raw(""));
    }
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
        " Timeline entry · e edits its text · Esc to close ".to_string(),
        theme.border_focused,
    );
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
