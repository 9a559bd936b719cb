//! The metrics pane: each metric now, against its baseline, with its trend and state.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use crate::app::{App, Pane};
use crate::engine::Assessment;
use crate::engine::metrics::{MetricId, MetricReading, MetricState};
use crate::ui::theme::Theme;
use crate::ui::{focused, format, pane_block};

fn state_style(state: MetricState, theme: &Theme) -> Style {
    match state {
        MetricState::Learning | MetricState::FewSamples => theme.muted,
        MetricState::Ok => theme.ok,
        MetricState::Warn => theme.warn,
        MetricState::Critical => theme.critical,
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let block = pane_block(
        " Metrics · 5 min window vs baseline ",
        focused(app, Pane::Metrics),
        theme,
    );
    let Some(assessment) = &app.assessment else {
        frame.render_widget(
            Paragraph::new(Line::styled("waiting for the first calls…", theme.muted)).block(block),
            area,
        );
        return;
    };
    // Wide panes also show the 1- and 15-minute windows.
    let wide = area.width >= 92;
    let mut header = vec!["metric", "now"];
    if wide {
        header.extend(["1m", "15m"]);
    }
    header.extend(["baseline", "Δ pts ±95%", "trend 20m", "state", "by"]);
    let inner = block.inner(area);
    let rows = assessment.metrics.iter().map(|r| row(r, wide, theme));
    let mut widths = vec![Constraint::Length(14), Constraint::Length(7)];
    if wide {
        widths.extend([Constraint::Length(7), Constraint::Length(7)]);
    }
    widths.extend([
        Constraint::Length(8),
        Constraint::Length(11),
        Constraint::Fill(1),
        Constraint::Length(7),
        Constraint::Length(5),
    ]);
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.muted))
        .column_spacing(1);
    frame.render_widget(block, area);
    // The layout leaves room for every metric and the header even at the smallest size.
    let table_rows = assessment.metrics.len() as u16 + 1;
    let [table_area, notes_area] =
        Layout::vertical([Constraint::Length(table_rows), Constraint::Fill(1)]).areas(inner);
    frame.render_widget(table, table_area);
    frame.render_widget(
        Paragraph::new(sources_note(assessment))
            .style(theme.muted)
            .wrap(Wrap { trim: true }),
        notes_area,
    );
}

/// Where each quality signal comes from, so a responder knows what a number rests on.
fn sources_note(assessment: &Assessment) -> Vec<Line<'static>> {
    let samples = |id| assessment.reading(id).map_or(0, |r| r.samples);
    let calls = samples(MetricId::Throughput);
    let coverage = if calls > 0 {
        format!(
            "{:.0}%",
            100.0 * samples(MetricId::Hallucination) as f64 / calls as f64
        )
    } else {
        "—".into()
    };
    vec![
        Line::raw(format!(
            "Hallucination: evaluator, {coverage} of calls · Grounded: answer words in its context (a proxy)"
        )),
        schema_note(assessment),
        Line::raw(
            "by: cusum = change-point detector since its onset · limit = last 5 min over the limit",
        ),
    ]
}

/// What the Refusal and Schema metrics check, or, once outputs break the schema, why they did.
fn schema_note(assessment: &Assessment) -> Line<'static> {
    let violations = &assessment.violations;
    if violations.is_empty() {
        return Line::raw(
            "Refusal: opening phrases · Schema: output parses and validates (JSON Schema 2020-12)",
        );
    }
    let several_schemas = violations.iter().any(|v| v.schema != violations[0].schema);
    let reasons: Vec<String> = violations
        .iter()
        .map(|v| {
            let schema = if several_schemas {
                format!("{}: ", v.schema)
            } else {
                String::new()
            };
            format!("{schema}{} ×{}", v.reason, v.calls)
        })
        .collect();
    Line::raw(format!(
        "Schema violations, 15 min: {}",
        reasons.join(" · ")
    ))
}

fn row<'a>(reading: &MetricReading, wide: bool, theme: &Theme) -> Row<'a> {
    let style = state_style(reading.state, theme);
    let id = reading.id;
    let mut cells = vec![
        Cell::from(id.label()).style(if reading.state.is_alarm() {
            style
        } else {
            theme.text
        }),
        Cell::from(format::value(id, reading.now)).style(style),
    ];
    if wide {
        cells.push(Cell::from(format::value(id, reading.last_minute)).style(theme.text));
        cells.push(Cell::from(format::value(id, reading.last_quarter_hour)).style(theme.text));
    }
    cells.extend([
        Cell::from(format::value(id, reading.baseline)).style(theme.muted),
        Cell::from(format::delta(reading)).style(if reading.state.is_alarm() {
            style
        } else {
            theme.text
        }),
        Cell::from(format::sparkline(&reading.trend, reading.baseline, 20)).style(style),
        Cell::from(format::state(reading.state)).style(style),
        Cell::from(reading.rule.map_or("", |r| r.label())).style(theme.muted),
    ]);
    Row::new(cells)
}
