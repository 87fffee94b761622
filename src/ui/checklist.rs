//! The checklist: phases as headings, steps with glyph, word, kind, and the time each
//! took against its estimate.

use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::pane_block;
use super::theme::{Theme, clean};
use crate::app::App;
use crate::run::{StepStatus, plan, timeline};
use crate::runbook::StepKind;

pub fn render(frame: &mut Frame, app: &App, th: Theme, now: Timestamp, area: Rect, focused: bool) {
    let block = pane_block(th, "Checklist", focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let width = inner.width as usize;
    let rolling_back = app.run.rollback_started.is_some();
    let rows = rows(app, now);
    let time_w = rows.iter().map(|r| r.time.width()).max().unwrap_or(0);
    // Titles come first: when they would get less than 30 columns the kind column
    // gives way, under 24 the time too, and only the state word stays.
    let tiers = [(true, true, 30), (false, true, 24), (false, false, 0)];
    let (show_kind, show_time) = tiers
        .into_iter()
        .find(|(kind, time, title)| {
            let w = 1 + 11 + if *kind { 8 } else { 0 } + if *time { time_w + 1 } else { 0 };
            width.saturating_sub(w + 6) >= *title
        })
        .map_or((false, false), |(kind, time, _)| (kind, time));
    let mut lines: Vec<Line> = Vec::new();
    let mut selected_line = 0usize;
    let mut index = 0usize;
    let mut rows = rows.into_iter();
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
        let mut style = th.heading();
        if phase.contingency {
            heading.push_str(" (contingency)");
            if rolling_back {
                let word = if settled == phase.steps.len() {
                    "done"
                } else {
                    "in progress"
                };
                heading.push_str(&format!("{}{word}", th.sep()));
                style = th.warn();
            }
        } else if rolling_back && settled < phase.steps.len() {
            // The rollback replaced this path: what is left of it is not being followed.
            heading.push_str(&format!("{}set aside", th.sep()));
            style = th.muted();
        }
        let count = format!("{settled}/{}", phase.steps.len());
        lines.push(Line::from(vec![
            Span::styled(fit(&heading, width.saturating_sub(count.len() + 1)), style),
            Span::raw(" "),
            Span::styled(count, th.muted()),
        ]));
        for step in &phase.steps {
            let Some(row) = rows.next() else {
                break;
            };
            let status = row.status;
            let set_aside = rolling_back && !phase.contingency && !status.is_settled();
            let step_style = if set_aside {
                th.muted()
            } else {
                th.step_style(status)
            };
            let is_sel = index == app.view.selected;
            if is_sel {
                selected_line = lines.len();
            }
            let mark = if is_sel { th.selection_mark() } else { " " };
            let glyph = th.step_glyph(status);
            let mut right = vec![Span::styled(format!(" {:<11}", status.word()), step_style)];
            if !show_time && !show_kind {
                right = vec![Span::styled(format!(" {}", status.word()), step_style)];
            }
            if show_kind {
                right.push(Span::styled(format!(" {:>7}", row.kind), step_style));
            }
            if show_time {
                let style = if row.over && !set_aside {
                    th.warn()
                } else {
                    step_style
                };
                right.push(Span::raw(" "));
                right.push(Span::styled(
                    format!("{:>time_w$}", row.time, time_w = time_w),
                    style,
                ));
            }
            let right_w: usize = right.iter().map(Span::width).sum();
            let left_w = width.saturating_sub(right_w + mark.width() + glyph.width() + 2);
            let title = fit(&clean(&step.title), left_w);
            // A blocked step names what it waits for when the row has room, so the
            // reason is visible without selecting it.
            let needs = if status == StepStatus::Blocked {
                let unmet = plan::unmet(&app.runbook, &app.run, step.id.get_ref());
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
            let title_style = if set_aside {
                th.muted()
            } else {
                Style::default()
            };
            let mut spans = vec![
                Span::raw(format!("{mark} ")),
                Span::styled(glyph.to_string(), step_style),
                Span::raw(" "),
                Span::styled(title, title_style),
                Span::styled(needs, th.muted()),
                Span::raw(pad),
            ];
            spans.extend(right);
            let mut line = Line::from(spans);
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

/// What the right-hand columns of a step row say.
struct Row {
    status: StepStatus,
    kind: &'static str,
    /// `4m/10m` once it ran, else the estimate alone.
    time: String,
    /// It took (or is taking) longer than its estimate.
    over: bool,
}

/// One row per step in file order.
fn rows(app: &App, now: Timestamp) -> Vec<Row> {
    app.runbook
        .file
        .phases
        .iter()
        .flat_map(|p| &p.steps)
        .map(|step| {
            let id = step.id.get_ref();
            let status = plan::status(&app.runbook, &app.run, id);
            let kind = match step.kind() {
                StepKind::Manual => "",
                k => k.word(),
            };
            let estimate = crate::runbook::estimate::step_estimate(&app.runbook.file, step);
            // A reopened step ran before but is waiting to run again: its estimate is
            // what matters now.
            let ran = matches!(
                status,
                StepStatus::Running
                    | StepStatus::Done
                    | StepStatus::Failed
                    | StepStatus::Interrupted
            );
            let actual = ran
                .then(|| timeline::actual_duration(&app.run, id, now))
                .flatten();
            let (time, over) = match (actual, estimate) {
                (Some(a), Some(e)) => (format!("{}/{e}", a.approx()), a.approx() > e),
                (Some(a), None) => (a.approx().to_string(), false),
                (None, Some(e)) => (e.to_string(), false),
                (None, None) => (String::new(), false),
            };
            Row {
                status,
                kind,
                time,
                over,
            }
        })
        .collect()
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
