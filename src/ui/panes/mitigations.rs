//! The mitigations pane: each one-key action, what it would do now, and whether it can.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::App;
use crate::app::keymap::{self, Command};
use crate::model::{MitigationKind, Status};
use crate::ui::pane_block;
use crate::ui::theme::Theme;

fn label(kind: MitigationKind) -> &'static str {
    match kind {
        MitigationKind::PromptRollback => "Roll back prompt",
        MitigationKind::ModelPin => "Pin model",
        MitigationKind::KillSwitch => "Kill switch",
    }
}

/// A state without its details after " · " (a version's date): the pane is narrow, and the
/// confirm dialog shows them in full.
fn short(state: &str) -> &str {
    state.split(" · ").next().unwrap_or(state)
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
                    Some(reason) => spans.push(Span::styled(format!("n/a: {reason}"), theme.muted)),
                    None => spans.push(Span::styled(
                        format!("{} → {}", short(&plan.from), short(&plan.to)),
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
            Span::styled(format!("{:<17}", format!("Undo {}", undo.kind)), theme.text),
            Span::styled(
                format!("{} → {}", short(&undo.from), short(&undo.to)),
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
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
