//! The timeline pane: every entry, newest first, marked once it is on disk.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use crate::app::timeline_view::{self, TimelineFilter};
use crate::app::{App, Pane, Persisted};
use crate::model::EntryKind;
use crate::ui::theme::Theme;
use crate::ui::{focused, pane_block, render_list};

/// Each kind of entry in the style that says what it is; shared with the presenter view.
pub(crate) fn kind_style(kind: &EntryKind, theme: &Theme) -> Style {
    match kind {
        EntryKind::Opened { .. } | EntryKind::Detection { .. } => theme.critical,
        EntryKind::Triage { .. } => theme.warn,
        EntryKind::ActionRequested { .. }
        | EntryKind::ActionConfirmed { .. }
        | EntryKind::ActionApplied { .. }
        | EntryKind::ActionResult { .. }
        | EntryKind::Verification { .. }
        | EntryKind::MitigationEffect { .. } => theme.accent,
        EntryKind::StatusChanged { .. }
        | EntryKind::SeverityChanged { .. }
        | EntryKind::RootCauseSet { .. } => theme.ok,
        EntryKind::ChangeSeen { .. }
        | EntryKind::ActionCancelled { .. }
        | EntryKind::Note
        | EntryKind::Starred { .. }
        | EntryKind::RoleAssigned { .. }
        | EntryKind::TitleChanged { .. }
        | EntryKind::SummaryChanged { .. }
        | EntryKind::TimeSet { .. }
        | EntryKind::EntryEdited { .. } => theme.text,
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let is_focused = focused(app, Pane::Timeline);
    let pending = app
        .timeline
        .iter()
        .filter(|l| l.persisted == Persisted::Pending)
        .count();
    let zone = app.zone();
    let shown = app.visible_entries();
    // One date for every entry shown goes in the title; entries over several dates carry theirs.
    let dates: std::collections::BTreeSet<String> = shown
        .iter()
        .map(|l| zone.format(l.entry.ts, "%Y-%m-%d"))
        .collect();
    let one_date = dates.len() <= 1;
    let title = format!(
        " Timeline · {} entries{}{}{} · ✓ on disk · {}{} ",
        app.timeline.len(),
        if pending > 0 {
            format!(", {pending} writing")
        } else {
            String::new()
        },
        match app.timeline_filter {
            TimelineFilter::All => String::new(),
            only => format!(" · showing {} (f)", only.label()),
        },
        if app.timeline_query.is_empty() {
            String::new()
        } else {
            format!(" · /{}", app.timeline_query)
        },
        dates
            .first()
            .filter(|_| one_date)
            .map(|d| format!("{d} "))
            .unwrap_or_default(),
        zone.name(),
    );
    let block = pane_block(title, is_focused, theme);
    if app.timeline.is_empty() {
        frame.render_widget(
            Paragraph::new("no incident yet: one opens when a metric goes critical, or press d")
                .style(theme.muted)
                .block(block),
            area,
        );
        return;
    }
    let starred = timeline_view::starred(&app.timeline);
    if shown.is_empty() {
        let what = if app.timeline_query.is_empty() {
            format!(
                "no {} entries yet · f shows the next kind",
                app.timeline_filter.label()
            )
        } else {
            format!(
                "no {} entries contain {:?} · / changes the filter, Esc in it clears it",
                app.timeline_filter.label(),
                app.timeline_query
            )
        };
        frame.render_widget(Paragraph::new(what).style(theme.muted).block(block), area);
        return;
    }
    let rows = shown.into_iter().map(|logged| {
        let e = &logged.entry;
        let (mark, mark_style) = match &logged.persisted {
            Persisted::OnDisk => ("✓", theme.ok),
            Persisted::Pending => ("…", theme.warn),
            Persisted::Failed(_) => ("✗", theme.critical),
        };
        let time = if one_date {
            zone.format(e.ts, "%H:%M:%S")
        } else {
            zone.format(e.ts, "%m-%d %H:%M:%S")
        };
        let text = app.entry_text(e);
        let was_edited = app
            .incident
            .as_ref()
            .is_some_and(|i| i.edited_texts.contains_key(&e.seq));
        let edited = if was_edited { " (edited)" } else { "" };
        Row::new(vec![
            Cell::from(time).style(theme.muted),
            Cell::from(mark).style(mark_style),
            Cell::from(e.kind.label()).style(kind_style(&e.kind, theme)),
            Cell::from(if starred.contains(&e.seq) {
                format!("★ {text}{edited}")
            } else {
                format!("{text}{edited}")
            })
            .style(theme.text),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(if one_date { 8 } else { 14 }),
            Constraint::Length(1),
            Constraint::Length(8),
            Constraint::Fill(1),
        ],
    )
    .block(block);
    render_list(frame, area, table, is_focused, app.entry_selected, theme);
}
