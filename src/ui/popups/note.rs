//! The note editor: a multi-line ratatui-textarea box.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::open_box;
use crate::ui::View;
use crate::ui::theme::Theme;

pub fn draw(frame: &mut Frame, area: Rect, view: &View, theme: &Theme) {
    let inner = open_box(
        frame,
        area,
        (80, 10),
        " Note · Ctrl-S logs it · Esc discards ".to_string(),
        theme.border_focused,
    );
    if let Some(note) = &view.note {
        frame.render_widget(note, inner);
    }
}
