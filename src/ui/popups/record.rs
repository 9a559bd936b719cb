//! The incident record (`e`): title, summary, root cause, roles and named times, with time to
//! detect and to mitigate; Enter edits the selected field, and every edit is logged.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::open_box;
use crate::app::App;
use crate::app::editing::RecordField;
use crate::engine::triage::Headline;
use crate::ui::format;
use crate::ui::theme::Theme;

/// The dialog's width less the label column and the borders.
const VALUE_WIDTH: usize = 96 - 2 - 22;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, selected: usize, theme: &Theme) {
    let Some(incident) = &app.incident else {
        return;
    };
    let zone = app.zone();
    let unset = |what: &str| (format!("— {what}"), theme.muted);
    let rows = RecordField::ALL.iter().enumerate().map(|(i, field)| {
        let (value, style) = match field {
            RecordField::Title => (incident.title.clone(), theme.text),
            RecordField::Summary if incident.summary.is_empty() => {
                unset("not written: the postmortem's first section")
            }
            RecordField::Summary => (incident.summary.replace('\n', " ⏎ "), theme.text),
            RecordField::RootCause => match incident.root_cause {
                Some(category) => (category.to_string(), theme.text),
                None => {
                    let hint = match app.triage.as_ref() {
                        Some(_) if app.verdicts_withheld() => {
                            "not set: commit to one to see the triage's verdict".into()
                        }
                        Some(t) if matches!(t.headline, Headline::Unexplained { .. }) => {
                            "not set (the triage found nothing that explains it)".into()
                        }
                        Some(t) => t
                            .conclusion()
                            .map(|c| format!("not set (the triage points to {})", c.key()))
                            .unwrap_or_else(|| "not set: the postmortem requires one".into()),
                        None => "not set: the postmortem requires one".into(),
                    };
                    (format!("— {hint}"), theme.warn)
                }
            },
            RecordField::Role(role) => match incident.roles.get(role) {
                Some(holder) => (
                    format!("{} since {}", holder.person, zone.stamp(holder.since)),
                    theme.text,
                ),
                None => unset("unassigned"),
            },
            RecordField::Time(time) => match incident.time(*time) {
                Some(ts) => (zone.stamp(ts), theme.text),
                None => unset("not yet"),
            },
        };
        // One row per field, whatever its length: the editor shows it whole.
        let value = format::fit(&value, VALUE_WIDTH);
        let marker = if i == selected { "▶ " } else { "  " };
        let label = format!("{marker}{:<20}", capitalised(&field.to_string()));
        let label_style = if i == selected {
            theme.selection
        } else {
            theme.muted
        };
        Line::from(vec![
            Span::styled(label, label_style),
            Span::styled(value, style),
        ])
    });
    let mut lines: Vec<Line> = rows.collect();
    let span = |d: Option<chrono::Duration>| d.map_or("—".to_string(), format::age);
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("  time to detect ", theme.muted),
        Span::styled(span(incident.time_to_detect()), theme.text),
        Span::styled("   time to mitigate ", theme.muted),
        Span::styled(span(incident.time_to_mitigate()), theme.text),
        Span::styled("   (from the impact start)", theme.muted),
    ]));
    let inner = open_box(
        frame,
        area,
        (96, lines.len() as u16 + 2),
        format!(
            " Incident {} · {} {} · ↑↓ field · Enter edit · Esc close ",
            incident.id, incident.severity, incident.status
        ),
        theme.border_focused,
    );
    frame.render_widget(Paragraph::new(lines), inner);
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}
