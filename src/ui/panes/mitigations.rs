//! The mitigations pane: each one-key action, what it would do now, and whether it can.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::app::App;
use crate::app::keymap::{self, Command};
use crate::model::{MitigationKind, Status};
use crate::ui::format;
use crate::ui::pane_block;
use crate::ui::theme::Theme;

fn label(kind: MitigationKind) -> &'static str {
    match kind {
        MitigationKind::PromptRollback => "Roll back prompt",
        MitigationKind::ModelPin => "Pin model",
        MitigationKind::KillSwitch => "Kill switch",
    }
}

/// The pane's height at a width: every line wrapped in full, so a reason why a backend cannot
/// act ("… connection refused") is never cut off at its most useful end.
pub fn wanted_height(app: &App, width: u16, theme: &Theme) -> u16 {
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = lines(app, theme)
        .iter()
        .map(|line| line.width().div_ceil(inner).max(1))
        .sum();
    rows as u16 + 2
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut backends: Vec<&str> = app
        .plans
        .iter()
        .filter(|p| p.unavailable.is_none())
        .map(|p| p.backend.as_str())
        .collect();
    backends.sort_unstable();
    backends.dedup();
    let via = if backends.is_empty() {
        String::new()
    } else {
        format!(" via {}", backends.join(", "))
    };
    let title = if app.settings.read_only {
        " Mitigations · read-only: disabled ".to_string()
    } else if app.settings.dry_run {
        format!(" Mitigations{via} · dry run: nothing is sent ")
    } else {
        format!(" Mitigations{via} ")
    };
    let block = pane_block(title, false, theme);
    frame.render_widget(
        Paragraph::new(lines(app, theme))
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}

fn lines<'a>(app: &App, theme: &Theme) -> Vec<Line<'a>> {
    // Suggest only while the bleeding has not been stopped.
    let bleeding = app
        .incident
        .as_ref()
        .is_none_or(|i| i.status < Status::Mitigated);
    let suggested = app
        .triage
        .as_ref()
        .and_then(|t| t.conclusion())
        .map(|c| c.first_mitigation())
        .filter(|kind| {
            bleeding
                && !app.applied.contains(kind)
                && app.plan(*kind).is_some_and(|p| p.unavailable.is_none())
        });
    let mut lines: Vec<Line> = MitigationKind::ALL
        .iter()
        .map(|kind| {
            let key = if app.settings.read_only {
                "-".to_string()
            } else {
                keymap::label_for(Command::Mitigate(*kind)).to_string()
            };
            let mut spans = vec![
                Span::styled(format!(" {key} "), theme.accent),
                Span::styled(format!("{:<17}", label(*kind)), theme.text),
            ];
            match app.plan(*kind) {
                None => spans.push(Span::styled("reading state…", theme.muted)),
                Some(plan) => match &plan.unavailable {
                    Some(reason) => spans.push(Span::styled(
                        format!("n/a: {}", format::elide_url_paths(reason)),
                        theme.muted,
                    )),
                    None => spans.push(Span::styled(
                        format!(
                            "{} → {}",
                            format::short_state(&plan.from),
                            format::short_state(&plan.to)
                        ),
                        theme.text,
                    )),
                },
            }
            if let Some(flight) = app.in_flight.as_ref().filter(|f| f.plan.kind == *kind) {
                spans.push(Span::styled(
                    if flight.applied {
                        "  reading back…"
                    } else {
                        "  applying…"
                    },
                    theme.warn,
                ));
            } else if suggested == Some(*kind) && !app.settings.read_only {
                spans.push(Span::styled("  ◀ suggested", theme.critical));
            }
            Line::from(spans)
        })
        .collect();
    if let Some(undo) = app.undo.as_ref().filter(|_| !app.settings.read_only) {
        lines.push(Line::from(vec![
            Span::styled(
                format!(" {} ", keymap::label_for(Command::Undo)),
                theme.accent,
            ),
            Span::styled(format!("{:<17}", "Undo last"), theme.text),
            Span::styled(
                format!(
                    "{}: {} → {}",
                    undo.kind,
                    format::short_state(&undo.from),
                    format::short_state(&undo.to)
                ),
                theme.text,
            ),
        ]));
    }
    if let Some(v) = &app.verification {
        lines.push(Line::styled(
            format!(
                " verifying {}: watching {} since {}",
                v.kind,
                v.metrics
                    .iter()
                    .map(|m| m.label())
                    .collect::<Vec<_>>()
                    .join(", "),
                v.applied_at.format("%H:%M")
            ),
            theme.warn,
        ));
    }
    lines
}
