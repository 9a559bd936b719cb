//! The status header: severity, status, time since detection in large type, the commander and
//! the current hypothesis.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Padding, Paragraph};

use super::big;
use crate::app::{App, VERDICT_WITHHELD};
use crate::engine::triage::Headline;
use crate::model::{Role, Severity, Status};
use crate::redact::redact;
use crate::ui::format;
use crate::ui::theme::Theme;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut block = Block::bordered()
        .border_type(BorderType::Thick)
        .border_style(theme.border_focused)
        .padding(Padding::horizontal(1))
        .title(Span::styled(" FLIGHTDECK · presenter view ", theme.accent));
    if let Some(incident) = &app.incident {
        block = block
            .title(Line::styled(format!(" {} ", redact(&incident.id)), theme.text).right_aligned());
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let zone = app.zone();
    let hm = |ts: chrono::DateTime<chrono::Utc>| zone.format(ts, "%H:%M");
    let Some(incident) = &app.incident else {
        let now = app
            .now
            .map(|now| format!(" · now {} {}", hm(now), zone.name()))
            .unwrap_or_default();
        let lines = vec![
            Line::styled(" ✔ NO INCIDENT ", theme.ok.add_modifier(Modifier::BOLD)),
            Line::styled(
                format!("watching quality, latency and errors{now}"),
                theme.text,
            ),
            Line::styled(
                format!("source: {}", redact(&app.settings.source)),
                theme.muted,
            ),
        ];
        frame.render_widget(Paragraph::new(lines), inner);
        return;
    };

    let detected = incident.detected_at.unwrap_or(incident.opened_at);
    let end = incident.resolved_at.or(app.now).unwrap_or(detected);
    let elapsed = big::text(&format::age(end - detected));
    let clock_width = elapsed[0].chars().count() as u16;
    let [clock, _, text] = Layout::horizontal([
        Constraint::Length(clock_width),
        Constraint::Length(2),
        Constraint::Fill(1),
    ])
    .areas(inner);
    let status_style = match incident.status {
        Status::Detected | Status::Investigating | Status::Identified => theme.critical,
        Status::Mitigated => theme.warn,
        Status::Resolved => theme.ok,
    };
    frame.render_widget(
        Paragraph::new(elapsed.map(|row| Line::styled(row, status_style)).to_vec()),
        clock,
    );

    let severity_style = match incident.severity {
        Severity::Sev1 | Severity::Sev2 => theme.critical,
        Severity::Sev3 | Severity::Sev4 => theme.warn,
    };
    let bold = |style: Style| style.add_modifier(Modifier::BOLD);
    let first = Line::from(vec![
        Span::styled(format!(" {} ", incident.severity), bold(severity_style)),
        Span::raw(" "),
        Span::styled(format!(" {} ", incident.status), bold(status_style)),
        Span::raw("  "),
        Span::styled(redact(&incident.title), bold(theme.text)),
        Span::styled("  ·  commander ", theme.muted),
        Span::styled(commander(app), bold(theme.text)),
    ]);
    let since = match incident.resolved_at {
        Some(resolved) => format!(
            "lasted from detection at {} to resolution at {} {}",
            hm(detected),
            hm(resolved),
            zone.name()
        ),
        None => format!(
            "elapsed since detection at {} {}{}{}",
            hm(detected),
            zone.name(),
            incident
                .mitigated_at
                .map(|at| format!(" · mitigated at {}", hm(at)))
                .unwrap_or_default(),
            app.now
                .map(|now| format!(" · now {} {}", hm(now), zone.name()))
                .unwrap_or_default()
        ),
    };
    let mut second = vec![Span::styled(since, theme.text)];
    if app.playback.as_ref().is_some_and(|p| p.paused && !p.ended) {
        second.push(Span::styled("  REPLAY PAUSED ", theme.warn));
    }
    let (hypothesis, hypothesis_style) = hypothesis(app, theme);
    let third = Line::from(vec![
        Span::styled("hypothesis  ", theme.muted),
        Span::styled(hypothesis, bold(hypothesis_style)),
    ]);
    frame.render_widget(Paragraph::new(vec![first, Line::from(second), third]), text);
}

/// Who holds the incident commander role; an email address shows as its name only.
fn commander(app: &App) -> String {
    let holder = app
        .incident
        .as_ref()
        .and_then(|i| i.roles.get(&Role::Commander));
    match holder {
        Some(holder) => redact(holder.person.split('@').next().unwrap_or(&holder.person)),
        None => "unassigned".into(),
    }
}

/// The triage's current answer, in words a listener takes in at once.
fn hypothesis(app: &App, theme: &Theme) -> (String, Style) {
    let Some(triage) = app.shown_triage() else {
        return (
            "none yet: the triage starts at the first alarm".into(),
            theme.muted,
        );
    };
    if app.verdicts_withheld() {
        return (format!("drill: {VERDICT_WITHHELD}"), theme.warn);
    }
    match (&triage.headline, triage.conclusion()) {
        (Headline::Cause(leading), Some(category)) => (
            format!(
                "{} · likely, {:.0}% confidence",
                category.to_string().to_uppercase(),
                leading.confidence * 100.0
            ),
            theme.critical,
        ),
        (Headline::Cause(leading), None) => (
            format!(
                "nothing likely yet · leading {} at {:.0}%",
                leading.category,
                leading.confidence * 100.0
            ),
            theme.warn,
        ),
        (Headline::Unexplained { .. }, _) => {
            ("UNEXPLAINED · every step is ruled out".into(), theme.warn)
        }
        (Headline::InsufficientData { waiting }, _) => (
            format!("too early to tell · {}", waiting.join("; ")),
            theme.muted,
        ),
    }
}
