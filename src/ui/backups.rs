//! The backups that make a rollback possible: each one's state in glyph and word, a
//! gauge while it runs (real progress when the backup reports it, else elapsed against
//! the estimate), and the artifact's size once it is there.

use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::checklist::fit;
use super::theme::{Theme, clean};
use super::{hms, pane_block};
use crate::app::{App, Pane};
use crate::run::{BackupState, BackupStatus};
use crate::runbook::Backup;
use crate::runner::TaskKind;
use crate::runner::output::human_size;

pub fn render(frame: &mut Frame, app: &App, th: Theme, now: Timestamp, area: Rect, focused: bool) {
    let block = pane_block(th, "Backups", focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    let mut selected_row = 0;
    if app.runbook.file.backups.is_empty() {
        lines.push(Line::from(Span::styled(
            "this runbook declares no backups",
            th.muted(),
        )));
    }
    for (i, b) in app.runbook.file.backups.iter().enumerate() {
        let Some(state) = app.run.backup(b.id.get_ref()) else {
            continue;
        };
        let marked = focused && app.view.focus == Pane::Backups && i == app.view.backup_selected;
        if i == app.view.backup_selected {
            selected_row = lines.len();
        }
        let glyph = th.backup_glyph(state.status);
        let (right, below) = right_part(app, th, b, state, now, width.saturating_sub(2));
        let left_w = width.saturating_sub(right.width() + glyph.width() + 2);
        let title = fit(&clean(&b.title), left_w);
        let pad = " ".repeat(left_w.saturating_sub(title.width()));
        let title_style = if marked {
            th.selected()
        } else {
            ratatui::style::Style::default()
        };
        lines.push(Line::from(vec![
            Span::styled(glyph.to_string(), th.backup_style(state.status)),
            Span::raw(" "),
            Span::styled(title, title_style),
            Span::raw(pad),
            Span::raw(" "),
            Span::styled(right, th.backup_style(state.status)),
        ]));
        if let Some(text) = below {
            lines.push(Line::from(Span::styled(
                format!("  {}", fit(&clean(&text), width.saturating_sub(2))),
                th.backup_style(state.status),
            )));
        }
    }
    // More rows than room: keep the selected backup in view when the pane has focus,
    // and say how many rows are out of view so nothing fails unseen.
    let height = inner.height as usize;
    let total = lines.len();
    let offset = if total > height && focused {
        (selected_row + 2)
            .saturating_sub(height)
            .min(total - height)
    } else {
        0
    };
    let mut shown: Vec<Line> = lines.into_iter().skip(offset).take(height).collect();
    let hidden = total.saturating_sub(offset + shown.len());
    if hidden > 0
        && let Some(last) = shown.last_mut()
    {
        *last = Line::from(Span::styled(
            format!("… {} more rows (tab here, then j/k)", hidden + 1),
            th.warn(),
        ));
    }
    frame.render_widget(Paragraph::new(shown), inner);
}

/// The state word (and, when finished, size and time) on the title row; while it runs,
/// a second row with the gauge: real progress when the backup reports it, else the
/// time elapsed against its estimate.
fn right_part(
    app: &App,
    th: Theme,
    b: &Backup,
    state: &BackupState,
    now: Timestamp,
    width: usize,
) -> (String, Option<String>) {
    let word = state.status.word().to_string();
    let est = b.estimate.map(|d| d.to_string());
    match state.status {
        BackupStatus::Pending => (format!("{word} {}", est.unwrap_or_default()), None),
        BackupStatus::Running | BackupStatus::Verifying => {
            let elapsed = state
                .started_at
                .map(|s| now.duration_since(s))
                .unwrap_or_default();
            let time = match &est {
                Some(e) => format!("{} of {e}", hms(elapsed)),
                None => hms(elapsed),
            };
            if state.status == BackupStatus::Verifying {
                // Verify time counts from the end of the backup, with no estimate of its own.
                let checking = state
                    .finished_at
                    .map(|f| hms(now.duration_since(f)))
                    .unwrap_or_default();
                return (word, Some(format!("checking the backup · {checking}")));
            }
            let progress = app
                .view
                .outputs
                .get(&(TaskKind::Backup, state.id.clone()))
                .filter(|o| o.task.attempt == state.attempts)
                .and_then(|o| o.progress);
            let (fraction, count) = match progress {
                Some(p) => (
                    p.fraction(),
                    match p.total {
                        Some(t) => format!("{}/{t}", p.done),
                        None => format!("{}%", p.done.min(100)),
                    },
                ),
                None => {
                    let total = b.estimate.map_or(0, |d| d.as_secs());
                    let f = if total > 0 {
                        (elapsed.as_secs() as f64 / total as f64).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    (f, String::new())
                }
            };
            let text = format!("{count} {time}").trim().to_string();
            let cells = width.saturating_sub(text.width() + 1).min(24);
            (word, Some(format!("{} {text}", gauge(th, fraction, cells))))
        }
        BackupStatus::Verified => {
            let size = app.view.artifacts.get(&state.id).map(|n| human_size(*n));
            let took = match (state.started_at, state.finished_at) {
                (Some(s), Some(f)) => Some(hms(f.duration_since(s))),
                _ => None,
            };
            let text = [Some(word), size, took]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (text, None)
        }
        BackupStatus::Failed | BackupStatus::Interrupted => {
            let how = state
                .verify
                .clone()
                .filter(|_| state.status == BackupStatus::Failed)
                .or_else(|| state.history.last().map(|a| a.outcome()));
            (word, how)
        }
    }
}

fn gauge(th: Theme, fraction: f64, cells: usize) -> String {
    let filled = ((fraction * cells as f64).round() as usize).min(cells);
    let (on, off) = if th.ascii { ("#", ".") } else { ("█", "░") };
    format!("{}{}", on.repeat(filled), off.repeat(cells - filled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauge_fills_by_fraction() {
        let th = Theme::new(true, true);
        assert_eq!(gauge(th, 0.0, 4), "....");
        assert_eq!(gauge(th, 0.5, 4), "##..");
        assert_eq!(gauge(th, 2.0, 4), "####");
    }
}
