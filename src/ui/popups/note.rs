//! The note editor: a multi-line ratatui-textarea box.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Clear};

use crate::ui::theme::Theme;
use crate::ui::{View, centered};

pub fn draw(frame: &mut Frame, area: Rect, view: &View, theme: &Theme) {
    let popup = centered(area, 80, 10);
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .title(" Note · Ctrl-S logs it · Esc discards ")
        .border_style(theme.border_focused);
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    if let Some(note) = &view.note {
        frame.render_widget(note, inner);
    }
}
