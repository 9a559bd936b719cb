//! The sources pane of a live cockpit: each source's connection, last data, lag and counters,
//! its last error, and the infrastructure queries' latest values.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::App;
use crate::model::{InfraReading, SourceState, SourceStatus};
use crate::ui::theme::Theme;
use crate::ui::{format, pane_block};

/// Points in an infrastructure reading's trend.
const TREND_WIDTH: usize = 12;

/// The rows the pane wants: one per source, one more per source with an error to show, one per
/// reading, and the borders.
pub fn wanted_height(app: &App) -> u16 {
    let errors = app
        .sources
        .iter()
        .filter(|s| s.last_error.is_some() || matches!(s.state, SourceState::Failing(_)))
        .count();
    (app.sources.len() + errors + app.infra.len() + 2) as u16
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let count =
        |state: fn(&SourceState) -> bool| app.sources.iter().filter(|s| state(&s.state)).count();
    let mut counts = vec![format!(
        "{} connected",
        count(|s| matches!(s, SourceState::Connected))
    )];
    for (n, what) in [
        (count(|s| matches!(s, SourceState::Failing(_))), "failing"),
        (count(|s| matches!(s, SourceState::Waiting)), "waiting"),
        (count(|s| matches!(s, SourceState::Ended)), "ended"),
    ] {
        if n > 0 {
            counts.push(format!("{n} {what}"));
        }
    }
    let title = format!(
        " Sources · {} · wall clock {} UTC ",
        counts.join(", "),
        app.wall.format("%H:%M:%S")
    );
    let width = area.width.saturating_sub(2) as usize;
    let name_width = app
        .sources
        .iter()
        .map(|s| s.name.chars().count())
        .chain(app.infra.iter().map(|r| r.name.chars().count()))
        .max()
        .unwrap_or(0)
        .min(width * 2 / 5);
    let mut lines = Vec::new();
    for source in &app.sources {
        lines.push(source_line(source, name_width, app, theme));
        let reason = match &source.state {
            SourceState::Failing(reason) => Some(reason),
            _ => source.last_error.as_ref(),
        };
        if let Some(reason) = reason {
            lines.push(Line::styled(
                clip(&format!("   ↳ {reason}"), width),
                theme.muted,
            ));
        }
    }
    for reading in &app.infra {
        lines.push(reading_line(reading, name_width, app, theme));
    }
    frame.render_widget(
        Paragraph::new(lines).block(pane_block(title, false, theme)),
        area,
    );
}

/// A lag under this is normal batching, not worth a word.
const LAG_WORTH_SHOWING_MS: i64 = 5_000;

fn source_line<'a>(
    source: &'a SourceStatus,
    name_width: usize,
    app: &App,
    theme: &Theme,
) -> Line<'a> {
    let (mark, style) = match &source.state {
        SourceState::Waiting => ("○", theme.muted),
        SourceState::Connected => ("●", theme.ok),
        SourceState::Failing(_) => ("✖", theme.critical),
        SourceState::Ended => ("■", theme.muted),
    };
    let mut spans = vec![
        Span::styled(format!(" {mark} "), style),
        Span::styled(format!("{} ", pad(&source.name, name_width)), theme.text),
    ];
    match &source.state {
        SourceState::Waiting => spans.push(Span::styled("waiting · ", style)),
        SourceState::Failing(_) => spans.push(Span::styled("FAILING · ", style)),
        SourceState::Ended => spans.push(Span::styled("ended · ", style)),
        SourceState::Connected => {}
    }
    spans.push(Span::styled(format!("{} in", source.received), theme.text));
    if source.rejected > 0 {
        spans.push(Span::styled(
            format!(" · {} rejected", source.rejected),
            theme.warn,
        ));
    }
    if source.dropped > 0 {
        spans.push(Span::styled(
            format!(" · {} dropped", source.dropped),
            theme.critical,
        ));
    }
    if source.skipped > 0 {
        spans.push(Span::styled(
            format!(" · {} not LLM calls", source.skipped),
            theme.muted,
        ));
    }
    let last = match source.last_data {
        Some(at) => format!(" · {} ago", format::age(app.wall - at)),
        None => " · no data yet".to_string(),
    };
    spans.push(Span::styled(last, theme.muted));
    if let Some(lag) = source.lag_ms.filter(|lag| *lag >= LAG_WORTH_SHOWING_MS) {
        spans.push(Span::styled(
            format!(
                " · lag {}",
                format::age(chrono::Duration::milliseconds(lag))
            ),
            theme.warn,
        ));
    }
    Line::from(spans)
}

fn reading_line<'a>(
    reading: &'a InfraReading,
    name_width: usize,
    app: &App,
    theme: &Theme,
) -> Line<'a> {
    let style = if reading.above_limit() {
        theme.critical
    } else {
        theme.text
    };
    let mut spans = vec![
        Span::styled(" ◆ ", theme.accent),
        Span::styled(format!("{} ", pad(&reading.name, name_width)), theme.text),
        Span::styled(reading.show(reading.value), style),
    ];
    if reading.series > 1 {
        spans.push(Span::styled(
            format!(" (sum of {})", reading.series),
            theme.muted,
        ));
    }
    if let Some(limit) = reading.warn_above {
        let verdict = if reading.above_limit() {
            "above"
        } else {
            "under"
        };
        spans.push(Span::styled(
            format!(" {verdict} {}", reading.show(Some(limit))),
            style,
        ));
    }
    if !reading.range.is_empty() {
        spans.push(Span::styled(
            format!(
                " {}",
                format::sparkline(&trend(&reading.range), None, TREND_WIDTH)
            ),
            theme.accent,
        ));
    }
    spans.push(Span::styled(
        format!(" · {} ago", format::age(app.wall - reading.at)),
        theme.muted,
    ));
    if reading.error.is_some() {
        // The value is the last good one; the source's line says why the query fails.
        spans.push(Span::styled(" · query failing", theme.critical));
    }
    Line::from(spans)
}

/// The whole range in a few columns: evenly spaced samples, the newest last.
fn trend(range: &[(chrono::DateTime<chrono::Utc>, f64)]) -> Vec<Option<f64>> {
    let columns = TREND_WIDTH.min(range.len());
    (0..columns)
        .map(|i| Some(range[(range.len() - 1) * (i + 1) / columns].1))
        .collect()
}

/// The name padded or clipped to `width` columns.
fn pad(name: &str, width: usize) -> String {
    let clipped = clip(name, width);
    format!("{clipped:<width$}")
}

fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut clipped: String = text.chars().take(width.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use super::*;

    #[test]
    fn a_long_range_is_sampled_across_its_whole_span_ending_with_the_newest() {
        let start = Utc::now();
        let range: Vec<_> = (0..241)
            .map(|i| (start + Duration::seconds(15 * i), i as f64))
            .collect();
        let trend = trend(&range);
        assert_eq!(trend.len(), TREND_WIDTH);
        assert_eq!(trend.first(), Some(&Some(20.0)));
        assert_eq!(trend.last(), Some(&Some(240.0)));
    }
}
