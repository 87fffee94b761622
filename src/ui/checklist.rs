//! The checklist: phases as headings, steps with glyph, word, kind and estimate.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::pane_block;
use super::theme::{Theme, clean};
use crate::app::App;
use crate::run::{StepStatus, plan};
use crate::runbook::StepKind;

pub fn render(frame: &mut Frame, app: &App, th: Theme, area: Rect, focused: bool) {
    let block = pane_block(th, "Checklist", focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let width = inner.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    let mut selected_line = 0usize;
    let mut index = 0usize;
    for phase in &app.runbook.file.phases {
        let settled = phase
            .steps
            .iter()
            .filter(|s| {
                app.run
                    .step(s.id.get_ref())
                    .is_some_and(|st| st.status.is_settled())
            })
            .count();
        let mut heading = clean(&phase.title).to_uppercase();
        if phase.contingency {
            heading.push_str(" (contingency)");
        }
        let count = format!("{settled}/{}", phase.steps.len());
        lines.push(Line::from(vec![
            Span::styled(
                fit(&heading, width.saturating_sub(count.len() + 1)),
                th.heading(),
            ),
            Span::raw(" "),
            Span::styled(count, th.muted()),
        ]));
        for step in &phase.steps {
            let id = step.id.get_ref();
            let status = plan::status(&app.runbook, &app.run, id);
            let is_sel = index == app.view.selected;
            if is_sel {
                selected_line = lines.len();
            }
            let mark = if is_sel { th.selection_mark() } else { " " };
            let glyph = th.step_glyph(status);
            let kind = match step.kind() {
                StepKind::Manual => "",
                k => k.word(),
            };
            let estimate = crate::runbook::estimate::step_estimate(&app.runbook.file, step)
                .map_or(String::new(), |d| d.to_string());
            // Titles come first: when they would get less than 30 columns, the kind and
            // estimate columns give way and only the state word stays.
            let full = format!(" {:<11} {:>7} {:>6}", status.word(), kind, estimate);
            let right = if width.saturating_sub(full.width() + 6) >= 30 {
                full
            } else {
                format!(" {}", status.word())
            };
            let left_w = width.saturating_sub(right.width() + mark.width() + glyph.width() + 2);
            let title = fit(&clean(&step.title), left_w);
            // A blocked step names what it waits for when the row has room, so the
            // reason is visible without selecting it.
            let needs = if status == StepStatus::Blocked {
                let unmet = plan::unmet(&app.runbook, &app.run, id);
                let text = format!("  needs {}", unmet.join(", "));
                if title.width() + text.width() <= left_w {
                    text
                } else {
                    String::new()
                }
            } else {
                String::new()
            };
            let pad = " ".repeat(left_w.saturating_sub(title.width() + needs.width()));
            let mut line = Line::from(vec![
                Span::raw(format!("{mark} ")),
                Span::styled(glyph.to_string(), th.step_style(status)),
                Span::raw(" "),
                Span::raw(title),
                Span::styled(needs, th.muted()),
                Span::raw(pad),
                Span::styled(right, th.step_style(status)),
            ]);
            if is_sel && focused {
                line = line.style(th.selected());
            }
            lines.push(line);
            index += 1;
        }
    }
    // Keep the selected step (and, where it fits, its phase heading) in view.
    let height = inner.height as usize;
    let offset = if selected_line < height.saturating_sub(1) {
        0
    } else {
        selected_line + 2 - height
    };
    let visible: Vec<Line> = lines.into_iter().skip(offset).take(height).collect();
    frame.render_widget(Paragraph::new(visible), inner);
}

/// Cuts `text` to `width` columns, marking the cut with `…`.
pub fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}
