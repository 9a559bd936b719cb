//! The header: the incident at a glance, then where the data comes from and its clock.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::{App, EmbeddingsStatus, Level};
use crate::model::Status;
use crate::ui::format;
use crate::ui::theme::Theme;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let first = incident_line(app, area.width, theme);
    let second = source_line(app, theme);
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
}

/// The incident at a glance (id, severity, status, since when, title), or that there is none;
/// filled to the width so the header's colour runs across.
fn incident_line(app: &App, width: u16, theme: &Theme) -> Vec<Span<'static>> {
    let sep = || Span::styled(" │ ", theme.header);
    let mut first = vec![Span::styled(" FLIGHTDECK", theme.header)];
    match &app.incident {
        Some(incident) => {
            let status_style = match incident.status {
                Status::Detected | Status::Investigating | Status::Identified => theme.critical,
                Status::Mitigated => theme.warn,
                Status::Resolved => theme.ok,
            };
            first.extend([
                sep(),
                Span::styled(incident.id.clone(), theme.header),
                sep(),
                Span::styled(format!(" {} ", incident.severity), theme.critical),
                sep(),
                Span::styled(format!(" {} ", incident.status), status_style),
                sep(),
            ]);
            let since = app
                .now
                .zip(incident.detected_at)
                .map(|(now, at)| format!("detected {} ago", format::age(now - at)))
                .unwrap_or_default();
            first.push(Span::styled(since, theme.header));
            first.push(sep());
            first.push(Span::styled(incident.title.clone(), theme.header));
        }
        None => {
            first.extend([
                sep(),
                Span::styled(" ✔ no incident ", theme.ok),
                sep(),
                Span::styled("watching quality, latency and errors", theme.header),
            ]);
        }
    }
    let used: usize = first.iter().map(|s| s.width()).sum();
    let fill = (width as usize).saturating_sub(used);
    first.push(Span::styled(" ".repeat(fill), theme.header));
    first
}

/// Where the data comes from and its clock, the baseline, sampling, embeddings, a replay's
/// playback, read-only, and the latest message.
fn source_line(app: &App, theme: &Theme) -> Vec<Span<'static>> {
    let mut second = vec![Span::styled(
        format!(" source {}", app.settings.source),
        theme.text,
    )];
    if let Some(now) = app.now {
        let speed = app
            .settings
            .speed
            .map(|s| format!(" ×{s}"))
            .unwrap_or_default();
        second.push(Span::styled(" · ", theme.muted));
        second.push(Span::styled(
            format!("{}{speed}", app.zone().stamp(now)),
            theme.text,
        ));
    }
    second.push(Span::styled(
        format!(" · {} calls", app.calls_seen),
        theme.muted,
    ));
    match app.assessment.as_ref().and_then(|a| a.baseline) {
        Some(b) => second.push(Span::styled(
            format!(
                " · baseline {}–{}{}",
                b.from.format("%H:%M"),
                b.to.format("%H:%M"),
                if b.frozen { " frozen" } else { "" }
            ),
            theme.muted,
        )),
        None => {
            let ready = app
                .engine
                .baseline_ready_at()
                .map(|at| format!(" (ready {})", at.format("%H:%M")))
                .unwrap_or_default();
            second.push(Span::styled(
                format!(" · learning the baseline{ready}"),
                theme.warn,
            ));
        }
    }
    let stride = app.engine.sampling_stride();
    if stride > 1 {
        // Every call counts for transport, labels and feedback; the content signals are sampled.
        second.push(Span::styled(
            format!(" · content: random 1 in {stride}"),
            theme.warn,
        ));
    }
    match &app.embeddings {
        Some(EmbeddingsStatus::Endpoint) => {
            second.push(Span::styled(" · embeddings: endpoint", theme.muted));
        }
        Some(EmbeddingsStatus::Failing(_)) => {
            second.push(Span::styled(
                " · embeddings: n-grams (endpoint down)",
                theme.warn,
            ));
        }
        None => {}
    }
    if let Some(playback) = &app.playback {
        if playback.ended {
            second.push(Span::styled(" · replay ended", theme.muted));
        } else if playback.paused {
            second.push(Span::styled("  PAUSED ", theme.warn));
        }
        if let Some(onset) = playback.onset {
            let ahead = app.now.is_none_or(|now| now < onset);
            second.push(Span::styled(
                format!(
                    " · onset {}{}",
                    onset.format("%H:%M"),
                    if ahead { " (o jumps there)" } else { "" }
                ),
                theme.muted,
            ));
        }
    }
    if app.settings.read_only {
        second.push(Span::styled("  READ-ONLY ", theme.warn));
    }
    if let Some((level, message)) = &app.message {
        // The glyph tells the level apart without colour, as the metrics' states do.
        let (glyph, style) = match level {
            Level::Info => ("▶", theme.accent),
            Level::Warn => ("▲", theme.warn),
            Level::Error => ("✖", theme.critical),
        };
        second.push(Span::styled(format!("  {glyph} "), style));
        second.push(Span::styled(message.clone(), style));
    }
    second
}
