//! The backups that make a rollback possible, with their status.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::checklist::fit;
use super::pane_block;
use super::theme::{Theme, clean};
use crate::app::App;

pub fn render(frame: &mut Frame, app: &App, th: Theme, area: Rect, focused: bool) {
    let block = pane_block(th, "Backups", focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    if app.runbook.file.backups.is_empty() {
        lines.push(Line::from(Span::styled(
            "this runbook declares no backups",
            th.muted(),
        )));
    }
    for b in &app.runbook.file.backups {
        let Some(state) = app.run.backup(b.id.get_ref()) else {
            continue;
        };
        let glyph = th.backup_glyph(state.status);
        let est = b.estimate.map_or(String::new(), |d| d.to_string());
        let right = format!(" {:<11} {:>6}", state.status.word(), est);
        let left_w = width.saturating_sub(right.width() + glyph.width() + 1);
        let title = fit(&clean(&b.title), left_w);
        let pad = " ".repeat(left_w.saturating_sub(title.width()));
        lines.push(Line::from(vec![
            Span::styled(glyph.to_string(), th.backup_style(state.status)),
            Span::raw(" "),
            Span::raw(title),
            Span::raw(pad),
            Span::styled(right, th.backup_style(state.status)),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
