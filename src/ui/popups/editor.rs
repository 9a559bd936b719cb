//! The editor box: a ratatui-textarea for a note, a record field, an entry's corrected text or
//! the timeline filter, titled with what it edits and how to save, and the reason a value was
//! refused under it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::open_box;
use crate::app::App;
use crate::app::editing::{EditTarget, Editor, RecordField};
use crate::ui::View;
use crate::ui::theme::Theme;

fn title(app: &App, target: EditTarget) -> String {
    let save = if target.multi_line() {
        "Ctrl-S saves · Enter new line · Esc discards"
    } else {
        "Enter saves · Esc discards"
    };
    let what = match target {
        EditTarget::Note => "Note".to_string(),
        EditTarget::Entry(seq) => format!("Edit entry {seq} (the original is kept)"),
        EditTarget::Filter => "Filter the timeline: entries containing".to_string(),
        EditTarget::Declaration => {
            return " Declare an incident: its title · Enter declares · Esc cancels ".to_string();
        }
        EditTarget::Field(RecordField::RootCause) => {
            "Root cause: model, prompt, data or infrastructure".to_string()
        }
        EditTarget::Field(RecordField::Time(time)) => {
            format!(
                "{time} (YYYY-MM-DD HH:MM:SS or HH:MM, {})",
                app.zone().name()
            )
        }
        EditTarget::Field(field) => {
            let mut name = field.to_string();
            if let Some(first) = name.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            name
        }
    };
    format!(" {what} · {save} ")
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, editor: &Editor, view: &View, theme: &Theme) {
    let height = if editor.target.multi_line() { 10 } else { 3 };
    let error_rows = u16::from(editor.error.is_some()) * 2;
    let inner = open_box(
        frame,
        area,
        (90, height + error_rows),
        title(app, editor.target),
        theme.border_focused,
    );
    let [text, error] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(error_rows)]).areas(inner);
    if let Some((_, area)) = &view.editor {
        frame.render_widget(area, text);
    }
    if let Some(reason) = &editor.error {
        frame.render_widget(
            Paragraph::new(Line::styled(format!("✖ {reason}"), theme.critical))
                .wrap(Wrap { trim: true }),
            error,
        );
    }
}
