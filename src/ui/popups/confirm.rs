//! The one confirm dialog for every mitigation: exactly what will change, where, by which
//! request; a version picker with the word diff when there is a choice; the target's name to
//! type when it is production; Cancel focused first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Padding, Paragraph, Wrap};

use super::diff::diff_spans;
use super::open_box;
use crate::app::Button;
use crate::engine::diff::{word_counts, word_diff};
use crate::model::{MitigationPlan, PlanChoice};
use crate::ui::format;
use crate::ui::theme::Theme;

/// The most versions listed at once; the list scrolls with the selection.
const VISIBLE_CHOICES: usize = 5;
/// The most lines the word diff takes; a longer diff is cut, and its heading says so.
const DIFF_LINES: u16 = 8;

pub struct ConfirmView<'a> {
    pub plan: &'a MitigationPlan,
    pub focus: Button,
    pub typed: &'a str,
    pub dry_run: bool,
}

pub fn draw(frame: &mut Frame, area: Rect, view: &ConfirmView, theme: &Theme) {
    let plan = view.plan;
    let chosen = plan.chosen();
    let diff = chosen.and_then(|at| {
        let from = plan.from_text.as_deref()?;
        let to = plan.choices[at].text.as_deref()?;
        Some(word_diff(from, to))
    });
    // Wide enough for a prompt's diff or a long request, where the screen allows.
    let width = if diff.is_some() || plan.operation.len() > 60 {
        110
    } else {
        76
    }
    .min(area.width);
    // Inside the borders and the two-column margin.
    let text_width = usize::from(width.saturating_sub(4));

    let top = facts(view, text_width, theme);
    let bottom = buttons(view, theme);

    // What is left once the facts and the buttons are placed goes to the versions, then the diff.
    let fixed = (top.len() + bottom.len() + 2) as u16;
    let mut room = area.height.saturating_sub(fixed);
    let mut middle = Vec::new();
    if let Some(at) = chosen {
        let visible = VISIBLE_CHOICES
            .min(usize::from(room.saturating_sub(3)))
            .max(1);
        middle.push(Line::raw(""));
        middle.push(Line::styled(
            format!("  {} versions to choose from (↑↓):", plan.choices.len()),
            theme.muted,
        ));
        let first = (at + 1).saturating_sub(visible);
        for (i, choice) in plan.choices.iter().enumerate().skip(first).take(visible) {
            middle.push(choice_line(choice, i == at, theme));
        }
        room = room.saturating_sub(middle.len() as u16);
    }
    // The diff's text is padded two columns more on each side than the facts.
    let diff_rows = diff.as_ref().map_or(0, |runs| {
        let chars: usize = runs.iter().map(|(_, text)| text.chars().count() + 4).sum();
        chars.div_ceil(text_width.saturating_sub(2).max(1)) as u16
    });
    let diff_height = if diff.is_some() {
        (1 + diff_rows.clamp(1, DIFF_LINES)).min(room)
    } else {
        0
    };
    let diff_cut = diff_rows + 1 > diff_height;

    let height = fixed + middle.len() as u16 + diff_height;
    let inner = open_box(
        frame,
        area,
        (width, height),
        format!(" Confirm {} ", plan.action()),
        theme.warn,
    );
    let [top_area, middle_area, diff_area, bottom_area] = Layout::vertical([
        Constraint::Length(top.len() as u16),
        Constraint::Length(middle.len() as u16),
        Constraint::Length(diff_height),
        Constraint::Length(bottom.len() as u16),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(top), top_area);
    frame.render_widget(Paragraph::new(middle), middle_area);
    if let (Some(runs), Some(at), true) = (diff, chosen, diff_height > 0) {
        let (removed, added) = word_counts(&runs);
        let heading = Line::styled(
            format!(
                "  {} → {}: {removed} words removed [-…-], {added} added {{+…+}}{}",
                format::short_state(&plan.from),
                format::short_state(&plan.choices[at].label),
                if diff_cut { " · cut to fit" } else { "" }
            ),
            theme.muted,
        );
        let [heading_area, text_area] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(diff_area);
        frame.render_widget(Paragraph::new(heading), heading_area);
        let text = Paragraph::new(Line::from(diff_spans(&runs, theme)))
            .wrap(Wrap { trim: false })
            .block(Block::new().padding(Padding::horizontal(2)));
        frame.render_widget(text, text_area);
    }
    frame.render_widget(Paragraph::new(bottom), bottom_area);
}

/// The plan's facts: backend, target, the change, the operation, and a dry run's warning.
fn facts<'a>(view: &ConfirmView, text_width: usize, theme: &Theme) -> Vec<Line<'a>> {
    let plan = view.plan;
    let mut top = vec![Line::raw("")];
    if view.dry_run {
        top.push(Line::styled(
            "  DRY RUN: nothing is sent; the request is shown and logged",
            theme.warn,
        ));
    }
    // The change comes before the operation: a squeeze never takes it.
    top.extend(field("backend", &plan.backend, text_width, theme));
    top.extend(field("target", &plan.target, text_width, theme));
    let change = format!("{}  →  {}", plan.from, plan.to);
    if change.chars().count() + 10 <= text_width {
        top.push(Line::from(vec![
            Span::styled(format!("  {:<10}", "change"), theme.muted),
            Span::styled(plan.from.clone(), theme.removed),
            Span::styled("  →  ", theme.text),
            Span::styled(plan.to.clone(), theme.added),
        ]));
    } else {
        top.extend(field("change", &change, text_width, theme));
    }
    top.extend(field("operation", &plan.operation, text_width, theme));
    top
}

/// The typed name a production target asks for, what is logged, and Cancel and Apply.
fn buttons<'a>(view: &ConfirmView, theme: &Theme) -> Vec<Line<'a>> {
    let plan = view.plan;
    let mut bottom = vec![Line::raw("")];
    if let Some(name) = &plan.confirm_name {
        let matches = view.typed == name;
        bottom.push(Line::from(vec![
            Span::styled(format!("  production: type {name} to apply: "), theme.warn),
            Span::styled(
                format!("{}▏", view.typed),
                if matches { theme.added } else { theme.text },
            ),
            Span::styled(if matches { "  ✓" } else { "" }, theme.added),
        ]));
    }
    bottom.push(Line::styled(
        "  The request, the backend's answer and the read-back go to the timeline.",
        theme.muted,
    ));
    bottom.push(Line::raw(""));
    let ready = plan
        .confirm_name
        .as_ref()
        .is_none_or(|name| view.typed == name);
    bottom.push(Line::from(vec![
        Span::raw("  "),
        button("Cancel", Button::Cancel, view.focus, true, theme),
        Span::raw("   "),
        button(
            &format!(
                "{} {}",
                if view.dry_run { "Dry-run" } else { "Apply" },
                plan.action()
            ),
            Button::Apply,
            view.focus,
            ready,
            theme,
        ),
    ]));
    bottom
}

/// A named fact, its value wrapped under itself: an operation is shown whole, never cut.
fn field<'a>(name: &str, value: &str, width: usize, theme: &Theme) -> Vec<Line<'a>> {
    const NAME_WIDTH: usize = 10;
    format::wrap(value, width.saturating_sub(NAME_WIDTH), "")
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let name = if i == 0 { name } else { "" };
            Line::from(vec![
                Span::styled(format!("  {name:<NAME_WIDTH$}"), theme.muted),
                Span::styled(part, theme.text),
            ])
        })
        .collect()
}

fn choice_line<'a>(choice: &PlanChoice, selected: bool, theme: &Theme) -> Line<'a> {
    // Registries' labels carry the date already ("v3 · 2026-11-29 14:02").
    let created = choice
        .created_at
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .filter(|date| !choice.label.contains(date.as_str()))
        .map(|date| format!("  {date} UTC"))
        .unwrap_or_default();
    Line::styled(
        format!(
            "  {} {}{created}",
            if selected { "▸" } else { " " },
            choice.label
        ),
        if selected { theme.accent } else { theme.text },
    )
}

/// A button; the focused one is marked by glyphs as well as by style, and one that cannot be
/// pressed yet is muted.
fn button<'a>(label: &str, this: Button, focus: Button, ready: bool, theme: &Theme) -> Span<'a> {
    let focused = focus == this;
    let (open, close) = if focused {
        ("[▸ ", " ◂]")
    } else {
        ("[  ", "  ]")
    };
    let style = match (focused, ready) {
        (_, false) => theme.muted,
        (true, true) => theme.button_focused,
        (false, true) => theme.button,
    };
    Span::styled(format!("{open}{label}{close}"), style)
}
