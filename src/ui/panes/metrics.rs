//! The metrics pane: each metric now, against its baseline, with its trend and state.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use crate::app::{App, Pane};
use crate::engine::Assessment;
use crate::engine::metrics::{MetricId, MetricReading, MetricState, SliceReading};
use crate::ui::theme::Theme;
use crate::ui::{focused, format, pane_block};

/// A metric's state in its theme role; shared with the presenter's tiles.
pub(crate) fn state_style(state: MetricState, theme: &Theme) -> Style {
    match state {
        MetricState::Learning | MetricState::FewSamples => theme.muted,
        MetricState::Ok => theme.ok,
        MetricState::Warn => theme.warn,
        MetricState::Critical => theme.critical,
    }
}

const TITLE: &str = " Metrics · 5 min window vs baseline ";

/// The most minutes of trend the engine keeps (`EngineConfig::trend_minutes`).
const TREND_MINUTES: u16 = 20;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(assessment) = &app.assessment else {
        let block = pane_block(TITLE, focused(app, Pane::Metrics), theme);
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
    // The trend takes what the other columns leave, one minute a column, the newest last.
    let fixed: u16 = if wide { 14 + 7 + 7 + 7 } else { 14 + 7 } + 8 + 11 + 7 + 5;
    let columns = if wide { 9 } else { 7 };
    let trend_width = usize::from(
        area.width
            .saturating_sub(2 + fixed + columns - 1)
            .clamp(1, TREND_MINUTES),
    );
    let trend_header = format!("trend {trend_width}m");
    header.extend(["baseline", "Δ pts ±95%", &trend_header, "state", "by"]);
    // Inside the borders, less the header row and a row for each feature alarming on its own.
    let feature_rows: usize = assessment.metrics.iter().map(|r| r.slices.len()).sum();
    let room = (area.height.saturating_sub(3) as usize).saturating_sub(feature_rows);
    let shown = shown_metrics(&assessment.metrics, room);
    let title = if shown.len() < assessment.metrics.len() {
        " Metrics · 5 min vs baseline · healthy p50/p99 folded ".to_string()
    } else {
        TITLE.to_string()
    };
    let block = pane_block(title, focused(app, Pane::Metrics), theme);
    let inner = block.inner(area);
    let rows: Vec<Row> = shown
        .iter()
        .flat_map(|r| {
            std::iter::once(row(r, wide, trend_width, theme))
                .chain(r.slices.iter().map(|s| feature_row(r.id, s, wide, theme)))
        })
        .collect();
    let table_rows = rows.len() as u16 + 1;
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

/// Rows that give way, in this order, when the pane is short: p50 and p99 say less than p95
/// does. An alarming metric always keeps its row.
const FOLDABLE: [MetricId; 2] = [MetricId::LatencyP99, MetricId::LatencyP50];

/// The metrics that fit in `rows`, in their order.
fn shown_metrics(metrics: &[MetricReading], rows: usize) -> Vec<&MetricReading> {
    let mut fold = metrics.len().saturating_sub(rows);
    let folded: Vec<MetricId> = FOLDABLE
        .iter()
        .copied()
        .filter(|id| {
            let healthy = metrics.iter().any(|r| r.id == *id && !r.state.is_alarm());
            let take = healthy && fold > 0;
            fold -= usize::from(take);
            take
        })
        .collect();
    metrics.iter().filter(|r| !folded.contains(&r.id)).collect()
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
        likeness_note(assessment),
        Line::raw(
            "by: cusum = change-point detector since its onset · limit = last 5 min over the limit · alert = your [alerts] threshold · └ one feature, canary version or model alarming on its own",
        ),
    ]
}

/// The distribution behind Similarity, and the drift test behind Input drift with its terms.
fn likeness_note(assessment: &Assessment) -> Line<'static> {
    let similarity = match assessment.similarity {
        Some(s) => format!(
            "Similarity: median cosine {:.2} (base {:.2}) to baseline answers",
            s.median, s.baseline_median
        ),
        None => "Similarity: answers against the baseline's (hashed n-grams)".into(),
    };
    let drift = assessment.input_drift.as_ref().map_or(String::new(), |d| {
        let mut text = match d.mmd {
            Some(t) => format!(
                " · Input drift: MMD² {:.3} {} {:.3}{}",
                t.mmd2,
                if t.mmd2 > t.threshold { ">" } else { "≤" },
                t.threshold,
                if d.drifted() { ", drifted" } else { "" }
            ),
            None => " · Input drift: too few inputs sampled to test".into(),
        };
        if let Some(v) = d.vocabulary_shift() {
            let terms: Vec<&str> = v.new_terms.iter().map(|(t, _, _)| t.as_str()).collect();
            text.push_str(&format!(", new terms: {}", terms.join(", ")));
        }
        text
    });
    Line::raw(format!("{similarity}{drift}"))
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

/// A feature on which a metric alarms on its own, under the metric's row: its values over the
/// same window against its own baseline.
fn feature_row<'a>(id: MetricId, reading: &SliceReading, wide: bool, theme: &Theme) -> Row<'a> {
    let style = state_style(reading.state, theme);
    let mut cells = vec![
        Cell::from(format::fit_middle(&format!("└ {}", reading.name), 14)).style(style),
        Cell::from(format::value(id, reading.now)).style(style),
    ];
    if wide {
        cells.extend([Cell::from(""), Cell::from("")]);
    }
    cells.extend([
        Cell::from(format::value(id, reading.baseline)).style(theme.muted),
        Cell::from(format::delta_of(id, reading.delta, reading.baseline, None)).style(style),
        Cell::from(format!("{} calls", reading.samples)).style(theme.muted),
        Cell::from(format::state(reading.state)).style(style),
        Cell::from(reading.rule.map_or("", |r| r.label())).style(theme.muted),
    ]);
    Row::new(cells)
}

fn row<'a>(reading: &MetricReading, wide: bool, trend_width: usize, theme: &Theme) -> Row<'a> {
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
        Cell::from(format::sparkline(
            &reading.trend,
            reading.baseline,
            trend_width,
        ))
        .style(style),
        Cell::from(format::state(reading.state)).style(style),
        Cell::from(reading.rule.map_or("", |r| r.label())).style(theme.muted),
    ]);
    Row::new(cells)
}
