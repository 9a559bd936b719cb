//! The triage pane: the four steps in order, each with its verdict, evidence and decision time.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::keymap::{self, Command};
use crate::app::{App, Pane, VERDICT_WITHHELD};
use crate::engine::triage::{Category, Headline, Step, Triage, Verdict};
use crate::model::MitigationKind;
use crate::ui::theme::Theme;
use crate::ui::{focused, format, pane_block};

fn verdict_style(verdict: Verdict, theme: &Theme) -> Style {
    match verdict {
        Verdict::Likely => theme.critical,
        Verdict::Suspect => theme.warn,
        Verdict::RuledOut => theme.ok,
        Verdict::InsufficientData => theme.muted,
    }
}

fn verdict_glyph(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Likely => "● LIKELY",
        Verdict::Suspect => "◐ suspect",
        Verdict::RuledOut => "○ ruled out",
        Verdict::InsufficientData => "… need data",
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let is_focused = focused(app, Pane::Triage);
    let block = pane_block(" Triage ", is_focused, theme);
    let Some(triage) = app.shown_triage() else {
        frame.render_widget(Paragraph::new(waiting_lines(app, theme)).block(block), area);
        return;
    };
    let width = area.width.saturating_sub(5) as usize;
    let withheld = app.verdicts_withheld();
    let mut lines = headline_lines(app, triage, width, theme);
    let wrapped = |text: &String| format::wrap(text, width, "  ");
    let steps_height = |collapsed: bool| -> usize {
        triage
            .steps
            .iter()
            .map(|s| match s.verdict {
                Verdict::RuledOut if collapsed => 1,
                _ => 1 + evidence_lines(s, width).len(),
            })
            .sum()
    };
    let decide: Vec<String> = triage.would_decide().iter().flat_map(wrapped).collect();
    let heading = usize::from(!decide.is_empty());
    let height = area.height.saturating_sub(2) as usize;
    // When it does not fit, ruled-out steps keep their verdict line and give their evidence's
    // room to the steps that matter, then what would decide it takes a line an item; focusing
    // the pane shows everything, scrollable.
    let collapse =
        !is_focused && lines.len() + heading + decide.len() + steps_height(false) > height;
    let one_line_each =
        collapse && lines.len() + heading + decide.len() + steps_height(true) + 1 > height;
    if heading > 0 {
        lines.push(Line::styled("What would decide it", theme.warn));
        let decide = if one_line_each {
            triage
                .would_decide()
                .iter()
                .map(|text| format::fit(text, width))
                .collect()
        } else {
            decide
        };
        for text in decide {
            lines.push(Line::styled(format!("   {text}"), theme.text));
        }
    }
    lines.extend(step_lines(triage, withheld, collapse, width, theme));
    if !triage.blast_radius.is_empty() {
        lines.push(Line::styled("Blast radius", theme.muted));
        for text in triage
            .blast_radius
            .iter()
            .flat_map(|e| format::wrap(e, width, "  "))
        {
            lines.push(Line::styled(format!("   {text}"), theme.text));
        }
    }
    if collapse {
        lines.push(Line::styled("(Tab here to see all evidence)", theme.muted));
    }
    frame.render_widget(
        Paragraph::new(lines.clone())
            .scroll((
                app.triage_scroll.min(
                    lines
                        .len()
                        .saturating_sub(area.height.saturating_sub(2) as usize)
                        as u16,
                ),
                0,
            ))
            .block(block),
        area,
    );
}

/// A step's evidence, wrapped to the pane.
fn evidence_lines(step: &Step, width: usize) -> Vec<String> {
    step.evidence
        .iter()
        .flat_map(|text| format::wrap(text, width, "  "))
        .collect()
}

/// Each step's verdict line, then its evidence unless `collapse` folds a ruled-out step; a
/// drill shows no verdict.
fn step_lines(
    triage: &Triage,
    withheld: bool,
    collapse: bool,
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (i, step) in triage.steps.iter().enumerate() {
        let (glyph, style) = if withheld {
            ("? withheld", theme.muted)
        } else {
            (
                verdict_glyph(step.verdict),
                verdict_style(step.verdict, theme),
            )
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("{} {:<15}", i + 1, step.category.to_string()),
                style,
            ),
            Span::styled(format!("{glyph:<12}"), style),
            Span::styled(
                format!(" @{}", step.decided_at.format("%H:%M")),
                theme.muted,
            ),
        ]));
        if collapse && !withheld && step.verdict == Verdict::RuledOut {
            continue;
        }
        for text in evidence_lines(step, width) {
            lines.push(Line::styled(format!("   {text}"), theme.text));
        }
        if step.category == Category::Prompt
            && let Some(change) = &triage.prompt_change
        {
            lines.push(Line::styled(
                format!(
                    "   {}: word diff {} → {}",
                    keymap::label_for(Command::ShowPromptDiff),
                    change.from.as_deref().unwrap_or("previous"),
                    change.to.as_deref().unwrap_or("new"),
                ),
                theme.muted,
            ));
        }
    }
    lines
}

/// Before any triage: why there is none yet, and the four steps it will take.
fn waiting_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let waiting = match app.assessment.as_ref().and_then(|a| a.episode.as_ref()) {
        Some(_) => "a metric is alarming; estimating the onset…",
        None => "no metric alarming: the triage starts at the first alarm",
    };
    let mut lines = vec![Line::styled(waiting, theme.muted), Line::raw("")];
    for (i, category) in Category::ORDER.iter().enumerate() {
        lines.push(Line::styled(format!(" {} {category}", i + 1), theme.muted));
    }
    lines
}

/// What the triage's mitigation is doing, or the key (or, without a backend, the advice): with
/// the recommendation's words, or, `short`, by its name alone.
fn advice(app: &App, triage: &Triage, kind: MitigationKind, short: bool) -> String {
    if let Some(status) = app.mitigation_status(kind) {
        return format!("{kind} {status}");
    }
    let what = triage
        .recommendation
        .as_ref()
        .filter(|_| !short)
        .map_or(kind.to_string(), |r| r.text.clone());
    // Without a backend that can do it, the key would do nothing: it is advice.
    let can_act = app.plan(kind).is_some_and(|p| p.unavailable.is_none());
    if app.settings.read_only || !can_act {
        format!("advice: {what}")
    } else {
        format!("{} {what}", keymap::label_for(Command::Mitigate(kind)))
    }
}

/// The conclusion with what to do about it, then the onset, the lead and the affected minutes.
fn headline_lines(app: &App, triage: &Triage, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let headline = match (&triage.headline, triage.conclusion()) {
        (Headline::Cause(leading), Some(category)) => format!(
            "→ {} {:.0}% · {}",
            category.to_string().to_uppercase(),
            leading.confidence * 100.0,
            advice(app, triage, category.first_mitigation(), false)
        ),
        (Headline::Cause(leading), None) => format!(
            "→ nothing likely yet; leading: {} {:.0}%",
            leading.category,
            leading.confidence * 100.0
        ),
        // Every step ruled out: a leading guess would mislead; the kill switch needs no cause.
        // Short, so that what would decide it gets the room.
        (Headline::Unexplained { .. }, _) => {
            let meanwhile = triage
                .mitigation()
                .map(|kind| format!(" · meanwhile: {}", advice(app, triage, kind, true)))
                .unwrap_or_default();
            format!("→ UNEXPLAINED{meanwhile}")
        }
        (Headline::InsufficientData { waiting }, _) => {
            format!("→ too early to tell: {}", waiting.join("; "))
        }
    };
    let (headline, headline_style) = if app.verdicts_withheld() {
        (format!("→ drill: {VERDICT_WITHHELD}"), theme.warn)
    } else if triage.conclusion().is_some() {
        (headline, theme.critical)
    } else {
        (headline, theme.warn)
    };
    let mut lines: Vec<Line<'static>> = format::wrap(&headline, width + 3, "  ")
        .into_iter()
        .map(|text| Line::styled(text, headline_style))
        .collect();
    lines.push(Line::styled(
        format!(
            "onset {} {} · led by {}{}",
            app.zone().format(triage.onset, "%H:%M:%S"),
            app.zone().name(),
            triage.primary.label(),
            triage
                .slice
                .as_deref()
                .map(|feature| format!(" on {feature}"))
                .unwrap_or_default()
        ),
        theme.muted,
    ));
    // The metric and the onset are on the line above: the minutes are what is left to say.
    if let Some(p) = &triage.pattern {
        let extent = format!(
            "affected {} of {} minutes{}",
            p.affected_minutes,
            p.minutes,
            p.shape()
        );
        for text in format::wrap(&extent, width + 3, "  ") {
            lines.push(Line::styled(text, theme.muted));
        }
    }
    lines
}
