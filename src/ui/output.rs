//! The output pane: the tail of the selected step's (or backup's) latest attempt,
//! already sanitized when it arrived, so what is drawn here is printable text only.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::pane_block;
use super::theme::Theme;
use crate::app::App;
use crate::runner::sanitize::{OutLine, Sgr};

pub fn render(frame: &mut Frame, app: &App, th: Theme, area: Rect, focused: bool) {
    let task = app.shown_task();
    let output = task
        .as_ref()
        .and_then(|t| app.view.outputs.get(&(t.kind, t.id.clone())))
        .filter(|o| task.as_ref().is_some_and(|t| o.task.attempt == t.attempt));
    // Running: whether it follows; ended: how, so the pane alone tells the story.
    let ended = task
        .as_ref()
        .filter(|t| !app.is_running(t))
        .and_then(|t| attempt_outcome(app, t));
    let mode = match (app.view.output_scroll, ended) {
        (Some(n), _) => format!("{n} lines back"),
        (None, Some(how)) => how,
        (None, None) => "following".to_string(),
    };
    let title = match &task {
        Some(t) => format!(
            "Output{}{t}{}{}",
            th.sep(),
            th.sep(),
            super::theme::clean(&mode)
        ),
        None => "Output".to_string(),
    };
    let block = pane_block(th, &title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = inner.height as usize;
    if height == 0 {
        return;
    }
    let Some(out) = output else {
        let text = match task {
            None => "nothing has run here yet",
            Some(_) => "no output yet",
        };
        frame.render_widget(Line::from(Span::styled(text, th.muted())), inner);
        return;
    };
    let held = out.ring.len();
    if held == 0 {
        let text = if out.missing {
            "no log file for this attempt"
        } else {
            "no output yet"
        };
        frame.render_widget(Line::from(Span::styled(text, th.muted())), inner);
        return;
    }
    let back = app
        .view
        .output_scroll
        .unwrap_or(0)
        .min(held.saturating_sub(1));
    let end = held - back;
    let mut first = end.saturating_sub(height);
    let mut lines: Vec<Line> = Vec::with_capacity(height);
    // Showing the oldest line held while older ones were dropped: say where they are.
    if first == 0 && out.ring.dropped() > 0 {
        lines.push(Line::from(Span::styled(
            format!(
                "… {} earlier lines are only in the log ({} opens it)",
                out.ring.dropped(),
                app.key(crate::app::Action::OpenLog)
            ),
            th.muted(),
        )));
        first = end.saturating_sub(height.saturating_sub(1));
    }
    for i in first..end {
        if let Some(l) = out.ring.get(i) {
            lines.push(to_line(l, th));
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// How the attempt behind `task` ended, short enough for a title: `exit 3`, `killed by
/// SIGKILL`, `interrupted` (the step pane has the whole story).
fn attempt_outcome(app: &App, task: &crate::runner::TaskId) -> Option<String> {
    use crate::runner::TaskKind;
    let history = match task.kind {
        TaskKind::Step => &app.run.step(&task.id)?.history,
        TaskKind::Backup => &app.run.backup(&task.id)?.history,
        TaskKind::Verify => {
            let b = app.run.backup(&task.id)?;
            return Some(b.status.word().to_string());
        }
    };
    let a = history.iter().rfind(|a| a.attempt == task.attempt)?;
    Some(if a.interrupted {
        "interrupted".to_string()
    } else {
        crate::runner::task::describe_end(
            a.exit,
            a.signal,
            a.timed_out,
            a.cancelled,
            a.expect_matched,
        )
    })
}

/// A sanitized line as spans in the theme's palette; with colour off, the text alone.
pub fn to_line(line: &OutLine, th: Theme) -> Line<'static> {
    if !th.color() || line.styles.is_empty() {
        return Line::from(line.text.clone());
    }
    let mut spans = Vec::with_capacity(line.styles.len() + 1);
    let mut cuts: Vec<(usize, Sgr)> = line
        .styles
        .iter()
        .map(|r| (r.start as usize, r.style))
        .collect();
    if cuts.first().is_none_or(|c| c.0 > 0) {
        cuts.insert(0, (0, Sgr::default()));
    }
    for (i, (start, sgr)) in cuts.iter().enumerate() {
        let stop = cuts.get(i + 1).map_or(line.text.len(), |c| c.0);
        // Offsets come from the sanitizer on char boundaries; `get` keeps a bad one
        // from panicking the screen.
        if let Some(text) = line.text.get(*start..stop.max(*start))
            && !text.is_empty()
        {
            spans.push(Span::styled(text.to_string(), style(*sgr, th)));
        }
    }
    Line::from(spans)
}

fn style(s: Sgr, th: Theme) -> Style {
    let mut st = Style::default();
    if let Some(c) = th.output_color(s.fg) {
        st = st.fg(c);
    }
    if let Some(c) = th.output_color(s.bg) {
        st = st.bg(c);
    }
    let flags = [
        (s.bold, Modifier::BOLD),
        (s.dim, Modifier::DIM),
        (s.italic, Modifier::ITALIC),
        (s.underline, Modifier::UNDERLINED),
        (s.reverse, Modifier::REVERSED),
    ];
    for (on, m) in flags {
        if on {
            st = st.add_modifier(m);
        }
    }
    st
}
