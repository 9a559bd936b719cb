//! The one confirm dialog for every mitigation: exactly what will change, Cancel focused first.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::open_box;
use crate::app::Button;
use crate::model::MitigationPlan;
use crate::ui::theme::Theme;

pub fn draw(frame: &mut Frame, area: Rect, plan: &MitigationPlan, focus: Button, theme: &Theme) {
    let field = |name: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("  {name:<10}"), theme.muted),
            Span::styled(value, theme.text),
        ])
    };
    // The focused button is marked by glyphs as well as by style.
    let button = |label: &str, this: Button| {
        let (open, close) = if focus == this {
            ("[▸ ", " ◂]")
        } else {
            ("[  ", "  ]")
        };
        Span::styled(
            format!("{open}{label}{close}"),
            if focus == this {
                theme.button_focused
            } else {
                theme.button
            },
        )
    };
    let lines = vec![
        Line::raw(""),
        field("backend", plan.backend.clone()),
        field("target", plan.target.clone()),
        field("operation", plan.operation.clone()),
        Line::from(vec![
            Span::styled(format!("  {:<10}", "change"), theme.muted),
            Span::styled(plan.from.clone(), theme.removed),
            Span::styled("  →  ", theme.text),
            Span::styled(plan.to.clone(), theme.added),
        ]),
        Line::raw(""),
        Line::styled(
            "  The action and its result are logged to the timeline.",
            theme.muted,
        ),
        Line::raw(""),
        Line::from(vec![
            Span::raw("  "),
            button("Cancel", Button::Cancel),
            Span::raw("   "),
            button(&format!("Apply {}", plan.kind), Button::Apply),
        ]),
    ];
    let height = lines.len() as u16 + 2;
    let inner = open_box(
        frame,
        area,
        (70, height),
        format!(" Confirm {} ", plan.kind),
        theme.warn,
    );
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
