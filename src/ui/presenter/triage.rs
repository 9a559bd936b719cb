//! The triage, compact: the four steps with their verdicts, what to do, and the evidence of the
//! steps still open as room allows.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::app::App;
use crate::engine::triage::{Category, Headline, Triage, Verdict};
use crate::redact::redact;
use crate::ui::format;
use crate::ui::format::fit;
use crate::ui::theme::Theme;

fn verdict(verdict: Verdict, theme: &Theme) -> (&'static str, Style) {
    match verdict {
        Verdict::Likely => ("● LIKELY", theme.critical.add_modifier(Modifier::BOLD)),
        Verdict::Suspect => ("◐ suspect", theme.warn),
        Verdict::RuledOut => ("○ ruled out", theme.ok),
        Verdict::InsufficientData => ("… needs data", theme.muted),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let block = Block::bordered()
        .border_style(theme.border)
        .title(Span::styled(
            " Triage ",
            theme.text.add_modifier(Modifier::BOLD),
        ));
    let inner = block.inner(area);
    let width = usize::from(inner.width);
    let Some(triage) = app.shown_triage() else {
        let mut lines = vec![Line::styled("no metric alarming yet", theme.muted)];
        lines.extend(
            Category::ORDER
                .iter()
                .enumerate()
                .map(|(i, c)| Line::styled(format!("{} {c}", i + 1), theme.muted)),
        );
        frame.render_widget(Paragraph::new(lines).block(block), area);
        return;
    };
    let withheld = app.verdicts_withheld();
    let next = next_step(app, triage)
        .filter(|_| !withheld)
        .map(|next| two_lines(&redact(&next), width))
        .unwrap_or_default();
    let room = usize::from(inner.height)
        .saturating_sub(triage.steps.len())
        .saturating_sub(next.len());
    // With every step ruled out, what would decide it comes before their evidence.
    let decide: Vec<String> = if triage.would_decide().is_empty() {
        Vec::new()
    } else {
        std::iter::once("what would decide it:".to_string())
            .chain(
                triage
                    .would_decide()
                    .iter()
                    .map(|line| fit(&format!("  {}", redact(line)), width)),
            )
            .take(room)
            .collect()
    };
    let evidence = evidence_lines(triage, width, room - decide.len());
    let mut lines = Vec::new();
    for (i, (step, evidence)) in triage.steps.iter().zip(evidence).enumerate() {
        let (word, style) = if withheld {
            ("? withheld", theme.muted)
        } else {
            verdict(step.verdict, theme)
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("{} {:<15}", i + 1, step.category.to_string()),
                style,
            ),
            Span::styled(word, style),
        ]));
        lines.extend(
            evidence
                .into_iter()
                .map(|text| Line::styled(text, theme.text)),
        );
    }
    lines.extend(
        decide
            .into_iter()
            .map(|text| Line::styled(text, theme.warn)),
    );
    let next_style = theme.accent.add_modifier(Modifier::BOLD);
    lines.extend(next.into_iter().map(|text| Line::styled(text, next_style)));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// Each step's evidence in at most `room` lines of `width`, indented: the steps still open
/// first, in the tree's order, each item whole or, when it does not fit, cut to one line; the
/// ruled-out steps' evidence only when all of it fits, on a tall screen.
fn evidence_lines(triage: &Triage, width: usize, room: usize) -> Vec<Vec<String>> {
    let wrapped = |evidence: &str| -> Vec<String> {
        format::wrap(&redact(evidence), width.saturating_sub(2).max(1), "")
            .into_iter()
            .map(|line| format!("  {line}"))
            .collect()
    };
    let mut left = room;
    let mut shown = vec![Vec::new(); triage.steps.len()];
    for (i, step) in triage.steps.iter().enumerate() {
        if step.verdict == Verdict::RuledOut {
            continue;
        }
        for evidence in &step.evidence {
            let lines = wrapped(evidence);
            if lines.len() <= left {
                left -= lines.len();
                shown[i].extend(lines);
            } else if left > 0 {
                left -= 1;
                shown[i].push(fit(&format!("  {}", redact(evidence)), width));
            }
        }
    }
    let ruled_out: Vec<(usize, Vec<String>)> = triage
        .steps
        .iter()
        .enumerate()
        .filter(|(_, step)| step.verdict == Verdict::RuledOut)
        .map(|(i, step)| (i, step.evidence.iter().flat_map(|e| wrapped(e)).collect()))
        .collect();
    if ruled_out
        .iter()
        .map(|(_, lines)| lines.len())
        .sum::<usize>()
        <= left
    {
        for (i, lines) in ruled_out {
            shown[i] = lines;
        }
    }
    shown
}

/// `text` wrapped to `width` in at most two lines, the second indented, and cut when the rest
/// needs more.
fn two_lines(text: &str, width: usize) -> Vec<String> {
    let lines = format::wrap(text, width.saturating_sub(2).max(1), "");
    match lines.as_slice() {
        [] | [_] => lines,
        [first, rest @ ..] => vec![
            first.clone(),
            format!("  {}", fit(&rest.join(" "), width.saturating_sub(2))),
        ],
    }
}

/// The first mitigation for the likely cause, or the kill switch when nothing explains the
/// failure, and whether it is under way.
fn next_step(app: &App, triage: &Triage) -> Option<String> {
    let kind = triage.mitigation()?;
    if let Some(status) = app.mitigation_status(kind) {
        return Some(format!("→ {kind} {status}"));
    }
    let what = triage
        .recommendation
        .as_ref()
        .map_or(kind.to_string(), |r| r.text.clone());
    Some(match triage.headline {
        Headline::Unexplained { .. } => format!("→ UNEXPLAINED · meanwhile: {what}"),
        Headline::Cause(_) | Headline::InsufficientData { .. } => format!("→ next: {what}"),
    })
}
