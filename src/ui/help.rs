//! The help overlay, generated from the keymap that dispatches keys.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::pane_block;
use super::theme::Theme;
use crate::app::App;

pub fn render(frame: &mut Frame, app: &App, th: Theme, area: Rect) {
    let bindings = app.keymap.bindings();
    let lines: Vec<Line> = bindings
        .iter()
        .map(|(action, keys)| {
            let keys: Vec<String> = keys.iter().map(ToString::to_string).collect();
            Line::from(vec![
                Span::styled(format!(" {:<14}", keys.join(" ")), th.heading()),
                Span::raw(action.describe()),
            ])
        })
        .collect();
    // The footer rides in the bottom border so every key fits in 80x24.
    let footer = Span::styled(
        " any key closes · text box: enter confirms, ctrl-g cancels ",
        th.muted(),
    );
    let height = (lines.len() as u16 + 2).min(area.height);
    let width = 72.min(area.width);
    let rect = area.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(pane_block(th, "Keys", true).title_bottom(footer)),
        rect,
    );
}
