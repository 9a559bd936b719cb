//! The postmortem as one self-contained HTML page: the same sections as the Markdown, and a chart
//! of each metric with data (the impact's metric first) where the metrics table is.

use super::chart::{self, Band, Chart};
use super::page::{self, escape, escape_lines};
use super::quality::{MetricReport, Unit};
use super::sections::{Block, Span, blocks};
use super::{MarkerKind, Postmortem};

fn spans(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|span| match span {
            Span::Text(text) => escape_lines(text),
            Span::Strong(text) => format!("<strong>{}</strong>", escape(text)),
            Span::Emphasis(text) => format!("<em>{}</em>", escape(text)),
        })
        .collect()
}

pub fn render(pm: &Postmortem) -> String {
    let mut body = String::new();
    for block in blocks(pm) {
        body.push_str(&match block {
            Block::Title(text) => format!("<h1>{}</h1>\n", escape(&text)),
            Block::Heading(text) => format!("<h2>{}</h2>\n", escape(&text)),
            Block::Subheading(text) => format!("<h3>{}</h3>\n", escape(&text)),
            Block::Paragraph(parts) => format!("<p>{}</p>\n", spans(&parts)),
            Block::Code(quoted) => format!("<pre><code>{}</code></pre>\n", escape(&quoted)),
            Block::List(items) => {
                let items: String = items
                    .iter()
                    .map(|item| format!("<li>{}</li>\n", escape_lines(item)))
                    .collect();
                format!("<ul>\n{items}</ul>\n")
            }
            Block::Table { headers, rows } => page::table(&headers, &rows),
            Block::Charts => charts(pm),
        });
    }
    page::document(&format!("{}: {}", pm.header.id, pm.header.title), &body)
}

/// One figure per metric with a value: the impact's metric first, then the cockpit's order.
fn charts(pm: &Postmortem) -> String {
    let primary = pm.impact.as_ref().map(|i| i.metric.as_str());
    let mut shown: Vec<&MetricReport> = pm
        .metrics
        .iter()
        .filter(|m| m.points.iter().any(|p| p.value.is_some()))
        .collect();
    shown.sort_by_key(|m| Some(m.key.as_str()) != primary);
    let shading = pm.impact.as_ref().map_or(
        "no impact window is shaded, since no impact could be stated".to_string(),
        |i| {
            format!(
                "the red shading is the impact window (from {} to {})",
                i.start_from.describe(),
                i.end_from.describe()
            )
        },
    );
    let mut out = format!(
        "<p>Each chart: one point per minute; the green band runs from the baseline to its warn limit (the change a detector warns at); {shading}; dashed lines mark the changes seen, the detection, each mitigation applied, the moment the incident was marked mitigated (an unlabelled mitigation) and the resolution.</p>\n",
    );
    for metric in shown {
        out.push_str("<figure>\n");
        out.push_str(&chart::svg(&chart_of(pm, metric)));
        out.push_str("</figure>\n");
    }
    out
}

fn chart_of(pm: &Postmortem, metric: &MetricReport) -> Chart {
    let what = match (metric.unit, metric.good_share) {
        (Unit::Milliseconds, _) => "ms per minute",
        (Unit::Fraction, true) => "share of good calls per minute",
        (Unit::Fraction, false) => "share of calls per minute",
    };
    Chart {
        title: format!("{} ({what})", metric.label),
        unit: match metric.unit {
            Unit::Fraction => chart::Unit::Percent,
            Unit::Milliseconds => chart::Unit::Milliseconds,
        },
        points: metric.points.iter().map(|p| (p.minute, p.value)).collect(),
        baseline: metric
            .baseline
            .zip(metric.warn_edge())
            .map(|(b, edge)| Band {
                low: b.min(edge),
                high: b.max(edge),
            }),
        markers: pm.markers.iter().map(marker).collect(),
        window: pm.impact.as_ref().map(|i| (i.start, i.end)),
    }
}

/// A chart marker: the chart names the kind, so a named time needs no label of its own, and
/// short labels keep six markers in three rows from overlapping.
fn marker(m: &super::Marker) -> chart::Marker {
    let (kind, label) = match m.kind {
        MarkerKind::Change => (chart::MarkerKind::Change, m.label.as_str()),
        MarkerKind::Detected => (chart::MarkerKind::Detected, ""),
        MarkerKind::Mitigation => (chart::MarkerKind::Mitigation, m.label.as_str()),
        MarkerKind::Mitigated => (chart::MarkerKind::Mitigation, ""),
        MarkerKind::Resolved => (chart::MarkerKind::Resolved, ""),
    };
    chart::Marker {
        at: m.at,
        kind,
        label: label.to_string(),
    }
}
