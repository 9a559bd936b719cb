//! The key metrics as tiles: the value in large digits, its trend, its state in words and its
//! baseline.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph};

use super::big;
use crate::app::App;
use crate::engine::metrics::{Measure, MetricId, MetricReading, MetricState};
use crate::ui::format;
use crate::ui::panes::metrics::state_style;
use crate::ui::theme::Theme;

/// What the answers say, then what users and the provider say.
const ROWS: [&[MetricId]; 2] = [
    &[
        MetricId::Hallucination,
        MetricId::Refusal,
        MetricId::Schema,
        MetricId::Similarity,
    ],
    &[MetricId::Feedback, MetricId::Errors, MetricId::LatencyP95],
];

/// The state in words, with a glyph: never colour alone.
fn state_word(state: MetricState) -> &'static str {
    match state {
        MetricState::Learning => "… learning",
        MetricState::FewSamples => "· few calls",
        MetricState::Ok => "✔ ok",
        MetricState::Warn => "▲ WARN",
        MetricState::Critical => "✖ CRITICAL",
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let rows = Layout::vertical([Constraint::Fill(1); ROWS.len()]).split(area);
    for (ids, row) in ROWS.iter().zip(rows.iter()) {
        let cells = Layout::horizontal(vec![Constraint::Fill(1); ids.len()]).split(*row);
        for (id, cell) in ids.iter().zip(cells.iter()) {
            let reading = app.assessment.as_ref().and_then(|a| a.reading(*id));
            tile(frame, *cell, *id, reading, theme);
        }
    }
}

fn tile(
    frame: &mut Frame,
    area: Rect,
    id: MetricId,
    reading: Option<&MetricReading>,
    theme: &Theme,
) {
    let state = reading.map(|r| r.state);
    let style = state.map_or(theme.muted, |s| state_style(s, theme));
    let alarm = state.is_some_and(MetricState::is_alarm);
    let block = Block::bordered()
        .border_type(if alarm {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(if alarm { style } else { theme.border })
        .title(Span::styled(
            format!(" {} ", id.label()),
            theme.text.add_modifier(Modifier::BOLD),
        ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let spark_rows = inner.height.saturating_sub(4);
    let [number, spark, foot] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(spark_rows),
        Constraint::Length(1),
    ])
    .areas(inner);
    let value = format::value(id, reading.and_then(|r| r.now));
    let number_style = if alarm {
        style.add_modifier(Modifier::BOLD)
    } else {
        style
    };
    frame.render_widget(
        Paragraph::new(
            big::text(&value)
                .map(|row| Line::styled(format!(" {row}"), number_style))
                .to_vec(),
        ),
        number,
    );
    let Some(reading) = reading else {
        frame.render_widget(
            Paragraph::new(Line::styled(" waiting for calls", theme.muted)),
            foot,
        );
        return;
    };
    let width = usize::from(inner.width.saturating_sub(2));
    // One column a minute; a wide tile gives each minute two, so the trend fills it.
    let minutes = reading.trend.len().min(width);
    let stretch = if minutes > 0 && width >= minutes * 2 {
        2
    } else {
        1
    };
    let spark_lines: Vec<Line> = format::sparkline_rows(
        &reading.trend,
        reading.baseline,
        minutes,
        usize::from(spark_rows),
    )
    .into_iter()
    .map(|row| {
        let wide: String = row
            .chars()
            .flat_map(|c| std::iter::repeat_n(c, stretch))
            .collect();
        Line::styled(format!(" {wide}"), style)
    })
    .collect();
    frame.render_widget(Paragraph::new(spark_lines), spark);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" ", theme.text),
            Span::styled(state_word(reading.state), number_style),
            Span::styled(footnote(reading, minutes, width), theme.muted),
        ])),
        foot,
    );
}

/// What follows the state word on a tile's last line: the most of the baseline, the change and
/// the trend's span that fits.
fn footnote(reading: &MetricReading, minutes: usize, width: usize) -> String {
    let baseline = format::value(reading.id, reading.baseline);
    let delta = match (reading.id.measure(), format::delta(reading)) {
        (_, d) if d == "—" => None,
        (Measure::Rate, d) => Some(format!("{d} pts")),
        (_, d) => Some(d),
    };
    let mut candidates = Vec::new();
    if let Some(delta) = &delta {
        candidates.push(format!(
            " · baseline {baseline} · {delta} · last {minutes} min"
        ));
        candidates.push(format!(" · baseline {baseline} · {delta}"));
    }
    candidates.push(format!(" · baseline {baseline}"));
    candidates.push(format!("  base {baseline}"));
    let room = width.saturating_sub(state_word(reading.state).chars().count());
    candidates
        .into_iter()
        .find(|c| c.chars().count() <= room)
        .unwrap_or_default()
}
