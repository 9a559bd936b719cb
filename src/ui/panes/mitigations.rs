//! The mitigations pane: each one-key action, what it would do now, and whether it can.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

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

/// The pane's height at a width: every line in full, so a reason why a backend cannot act
/// ("… connection refused") is never cut off at its most useful end.
pub fn wanted_height(app: &App, width: u16, theme: &Theme) -> u16 {
    lines(app, theme, inner_width(width)).len() as u16 + 2
}

fn inner_width(width: u16) -> usize {
    usize::from(width.saturating_sub(2))
}

/// One row: `lead` (the key and the label), then `text` wrapped under itself at `width` (or on
/// one line, cut at the pane's edge, at `usize::MAX`), then `tail` (a short mark) after it.
fn row<'a>(
    lead: Vec<Span<'a>>,
    text: String,
    style: Style,
    tail: Option<Span<'a>>,
    width: usize,
) -> Vec<Line<'a>> {
    let indent: usize = lead.iter().map(Span::width).sum();
    let mut wrapped = format::wrap(&text, width.saturating_sub(indent).max(10), "").into_iter();
    let mut first = lead;
    first.push(Span::styled(wrapped.next().unwrap_or_default(), style));
    let mut lines = vec![first];
    lines
        .extend(wrapped.map(|more| vec![Span::raw(" ".repeat(indent)), Span::styled(more, style)]));
    if let (Some(tail), Some(last)) = (tail, lines.last_mut()) {
        last.push(tail);
    }
    lines.into_iter().map(Line::from).collect()
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
    let lines = lines(app, theme, inner_width(area.width));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn lines<'a>(app: &App, theme: &Theme, width: usize) -> Vec<Line<'a>> {
    let suggested = suggested(app);
    let mut lines: Vec<Line> = Vec::new();
    for kind in MitigationKind::ALL {
        lines.extend(mitigation_row(app, kind, suggested, theme, width));
    }
    if let Some(undo) = app.undo.as_ref().filter(|_| !app.settings.read_only) {
        let lead = vec![
            Span::styled(
                format!(" {} ", keymap::label_for(Command::Undo)),
                theme.accent,
            ),
            Span::styled(format!("{:<17}", "Undo last"), theme.text),
        ];
        let text = format!(
            "{}: {} → {}",
            undo.kind,
            format::short_state(&undo.from),
            format::short_state(&undo.to)
        );
        lines.extend(row(lead, text, theme.text, None, usize::MAX));
    }
    if let Some(v) = &app.verification {
        let text = format!(
            "verifying {}: watching {} since {}",
            v.kind,
            v.metrics
                .iter()
                .map(|m| m.label())
                .collect::<Vec<_>>()
                .join(", "),
            v.applied_at.format("%H:%M")
        );
        lines.extend(row(
            vec![Span::raw(" ")],
            text,
            theme.warn,
            None,
            usize::MAX,
        ));
    }
    lines
}

/// The mitigation the triage points to, while the bleeding has not been stopped and a backend
/// can carry it out.
fn suggested(app: &App) -> Option<MitigationKind> {
    // Suggest only while the bleeding has not been stopped.
    let bleeding = app
        .incident
        .as_ref()
        .is_none_or(|i| i.status < Status::Mitigated);
    app.triage
        .as_ref()
        .filter(|_| !app.verdicts_withheld())
        .and_then(|t| t.mitigation())
        .filter(|kind| {
            bleeding
                && !app.applied.contains(kind)
                && app.plan(*kind).is_some_and(|p| p.unavailable.is_none())
        })
}

/// One mitigation's row: its key, what it would change (or why it cannot), its progress, and
/// whether it is the suggested one. Only a reason why a backend cannot act wraps to `width`.
fn mitigation_row<'a>(
    app: &App,
    kind: MitigationKind,
    suggested: Option<MitigationKind>,
    theme: &Theme,
    width: usize,
) -> Vec<Line<'a>> {
    let key = if app.settings.read_only {
        "-".to_string()
    } else {
        keymap::label_for(Command::Mitigate(kind)).to_string()
    };
    let mut lead = vec![
        Span::styled(format!(" {key} "), theme.accent),
        Span::styled(format!("{:<17}", label(kind)), theme.text),
    ];
    // Only a reason why a backend cannot act wraps: its cause comes last.
    let (text, style, wraps) = match app.plan(kind) {
        None => ("reading state…".to_string(), theme.muted, false),
        Some(plan) => match &plan.unavailable {
            Some(reason) => (
                format!("n/a: {}", format::elide_url_paths(reason)),
                theme.muted,
                true,
            ),
            None => (
                format!(
                    "{} → {}",
                    format::short_state(&plan.from),
                    format::short_state(&plan.to)
                ),
                theme.text,
                false,
            ),
        },
    };
    // The progress mark goes first: it is the one thing the row must not lose at its edge.
    if let Some(flight) = app.in_flight.as_ref().filter(|f| f.plan.kind == kind) {
        lead.push(Span::styled(
            if flight.applied {
                "reading back… "
            } else {
                "applying… "
            },
            theme.warn,
        ));
    }
    let tail = if app.in_flight.is_some() {
        None
    } else if suggested == Some(kind) && !app.settings.read_only {
        Some(Span::styled("  ◀ suggested", theme.critical))
    } else {
        None
    };
    let width = if wraps { width } else { usize::MAX };
    row(lead, text, style, tail, width)
}
