//! The timeline (`t`): every step's planned span against when it really ran, on one
//! time axis with the window's start and end, go/no-go and now drawn through it. It
//! replaces the panes; the header and status bar stay.
//!
//! Planned and actual share a row by halves of a cell (`▀` planned on top, `▄` actual
//! below, `█` both), so the two can be told apart by shape without colour; `--ascii`
//! uses `-`, `#` and `=` like the report's picture.

use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::checklist::fit;
use super::pane_block;
use super::theme::{Theme, clean};
use crate::app::{Action, App};
use crate::run::StepStatus;
use crate::run::timeline::{self, Cell, Mark, Row, Timeline};
use crate::run::window;
use crate::runbook::Duration;

/// Narrower than this, the bars say too little to be worth the time column's room.
const MIN_BARS: usize = 30;

/// One line of the list: a phase heading or a step.
enum Entry {
    Phase(String),
    /// Index into the timeline's rows.
    Step(usize),
}

fn bar_glyph(th: Theme, cell: Cell) -> &'static str {
    match (cell, th.ascii) {
        (Cell::Empty, _) => " ",
        (Cell::Planned, false) => "▀",
        (Cell::Actual, false) => "▄",
        (Cell::Both, false) => "█",
        (Cell::Planned, true) => "-",
        (Cell::Actual, true) => "#",
        (Cell::Both, true) => "=",
    }
}

fn mark_glyph(th: Theme, mark: Mark) -> &'static str {
    match (mark, th.ascii) {
        (Mark::WindowStart | Mark::WindowEnd, false) => "│",
        (Mark::GoNoGo, false) => "┆",
        (Mark::Now, false) => "▏",
        (Mark::WindowStart | Mark::WindowEnd, true) => "|",
        (Mark::GoNoGo, true) => "!",
        (Mark::Now, true) => "^",
    }
}

fn mark_style(th: Theme, mark: Mark) -> Style {
    match mark {
        Mark::WindowStart | Mark::WindowEnd => Style::default(),
        Mark::GoNoGo => th.bad(),
        Mark::Now => th.active(),
    }
}

/// `14m/10m` once a step ran, else its estimate; and whether it ran over.
fn time_text(row: &Row) -> (String, bool) {
    let ran = matches!(
        row.status,
        StepStatus::Running | StepStatus::Done | StepStatus::Failed | StepStatus::Interrupted
    );
    let actual = row
        .actual
        .filter(|_| ran)
        .map(|(a, b)| Duration::from_secs(a.duration_until(b).as_secs()).approx());
    match (actual, row.estimate) {
        (Some(a), Some(e)) => (format!("{a}/{e}"), a > e),
        (Some(a), None) => (a.to_string(), false),
        (None, Some(e)) => (e.to_string(), false),
        (None, None) => (String::new(), false),
    }
}

/// The marks by column, the later of two on one column winning as `marks` orders them.
fn mark_columns(tl: &Timeline, width: usize) -> Vec<Option<Mark>> {
    let mut out = vec![None; width];
    for (col, mark) in tl.marks(width) {
        if let Some(slot) = out.get_mut(col) {
            *slot = Some(mark);
        }
    }
    out
}

/// The bar part of a row: its cells, with the vertical lines through the empty ones.
fn bar_spans(
    th: Theme,
    cells: &[Cell],
    marks: &[Option<Mark>],
    status: StepStatus,
) -> Vec<Span<'static>> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut run = String::new();
    let mut run_style = Style::default();
    for (i, cell) in cells.iter().enumerate() {
        let (glyph, style) = match (cell, marks.get(i).copied().flatten()) {
            (Cell::Empty, Some(m)) => (mark_glyph(th, m), mark_style(th, m)),
            (Cell::Empty, None) => (" ", Style::default()),
            (Cell::Planned, _) => (bar_glyph(th, *cell), th.muted()),
            (Cell::Actual | Cell::Both, _) => (bar_glyph(th, *cell), actual_style(th, status)),
        };
        if style != run_style && !run.is_empty() {
            spans.push(Span::styled(std::mem::take(&mut run), run_style));
        }
        run_style = style;
        run.push_str(glyph);
    }
    if !run.is_empty() {
        spans.push(Span::styled(run, run_style));
    }
    spans
}

/// A pending step has no actual bar; a done one is green, as on the checklist.
fn actual_style(th: Theme, status: StepStatus) -> Style {
    match status {
        StepStatus::Pending | StepStatus::Blocked => Style::default(),
        s => th.step_style(s),
    }
}

fn legend(th: Theme) -> Line<'static> {
    let item = |glyph: &'static str, style: Style, word: &'static str| {
        [Span::styled(glyph, style), Span::raw(format!(" {word}  "))]
    };
    let mut spans: Vec<Span<'static>> = Vec::new();
    spans.extend(item(bar_glyph(th, Cell::Planned), th.muted(), "planned"));
    spans.extend(item(bar_glyph(th, Cell::Actual), th.ok(), "actual"));
    spans.extend(item(bar_glyph(th, Cell::Both), th.ok(), "both"));
    spans.extend(item(
        mark_glyph(th, Mark::WindowStart),
        Style::default(),
        "window",
    ));
    spans.extend(item(
        mark_glyph(th, Mark::GoNoGo),
        mark_style(th, Mark::GoNoGo),
        "go/no-go",
    ));
    spans.extend(item(
        mark_glyph(th, Mark::Now),
        mark_style(th, Mark::Now),
        "now",
    ));
    Line::from(spans)
}

pub fn render(frame: &mut Frame, app: &App, th: Theme, now: Timestamp, area: Rect) {
    let close = app
        .keymap
        .keys_for(Action::Timeline)
        .first()
        .map_or_else(|| "esc".to_string(), ToString::to_string);
    let title = format!("Timeline{}{close} closes", th.sep());
    let block = pane_block(th, &title, false);
    let inner = block.inner(area);
    if inner.width == 0 || inner.height == 0 {
        frame.render_widget(block, area);
        return;
    }
    let tl = timeline::build(&app.runbook, &app.run, now);
    let ws = window::status(&app.runbook, &app.run, now);
    let width = inner.width as usize;
    let tz = ws.timezone.as_str();

    let mut entries: Vec<Entry> = Vec::new();
    let mut phase_of_last: Option<String> = None;
    for (i, row) in tl.rows.iter().enumerate() {
        if let Some(phase) = app.runbook.phase_of(&row.step) {
            let id = phase.id.get_ref();
            if phase_of_last.as_deref() != Some(id.as_str()) {
                let mut heading = clean(&phase.title).to_uppercase();
                if phase.contingency {
                    heading.push_str(" (contingency)");
                }
                entries.push(Entry::Phase(heading));
                phase_of_last = Some(id.clone());
            }
        }
        entries.push(Entry::Step(i));
    }

    // The label column: wide enough for most titles, never more than a third.
    let longest = tl
        .rows
        .iter()
        .map(|r| clean(&r.title).width() + 4)
        .max()
        .unwrap_or(12);
    let label_w = longest.clamp(12, 32).min(width / 3).max(1);
    let times: Vec<(String, bool)> = tl.rows.iter().map(time_text).collect();
    let time_w = times.iter().map(|(t, _)| t.width()).max().unwrap_or(0) + 1;
    let show_time = width.saturating_sub(label_w + 1 + time_w) >= MIN_BARS;
    let bars_w = width
        .saturating_sub(label_w + 1 + if show_time { time_w } else { 0 })
        .max(1);
    let marks = mark_columns(&tl, bars_w);
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.width())));

    // Summary, axis and legend around the rows, the summary giving way first.
    let height = inner.height as usize;
    let summary: Vec<Line> = if height >= 6 {
        super::window::compact_lines(app, th, &ws, width)
    } else {
        Vec::new()
    };
    let fixed = summary.len() + 2;
    let room = height.saturating_sub(fixed).max(1);
    // The scroll counts steps; the list also holds phase headings, and never scrolls
    // past the point where its end is in view.
    let skip_to = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Entry::Step(_)))
        .nth(app.view.timeline_scroll)
        .map_or(0, |(i, _)| i);
    let offset = skip_to.min(entries.len().saturating_sub(room));
    let shown = entries.len().saturating_sub(offset).min(room);
    let key = |a: Action| {
        app.keymap
            .keys_for(a)
            .first()
            .map_or_else(String::new, ToString::to_string)
    };
    // Rows out of view are counted in the bottom border, where the legend leaves room.
    let block = if entries.len() > room {
        block.title_bottom(
            Line::from(Span::styled(
                format!(
                    " rows {}-{} of {}{}{}/{} scroll ",
                    offset + 1,
                    offset + shown,
                    entries.len(),
                    th.sep(),
                    key(Action::Down),
                    key(Action::Up)
                ),
                th.warn(),
            ))
            .right_aligned(),
        )
    } else {
        block
    };
    frame.render_widget(block, area);

    let mut lines: Vec<Line> = summary;
    let axis = tl.axis(bars_w, tz);
    lines.push(Line::from(vec![
        Span::raw(pad("", label_w + 1)),
        Span::styled(axis, th.muted()),
    ]));
    for entry in entries.iter().skip(offset).take(room) {
        match entry {
            Entry::Phase(heading) => {
                let mut spans = vec![Span::styled(
                    pad(&fit(heading, label_w), label_w + 1),
                    th.heading(),
                )];
                let empty = vec![Cell::Empty; bars_w];
                spans.extend(bar_spans(th, &empty, &marks, StepStatus::Pending));
                lines.push(Line::from(spans));
            }
            Entry::Step(i) => {
                let Some(row) = tl.rows.get(*i) else {
                    continue;
                };
                let glyph = th.step_glyph(row.status);
                let gw = glyph.width();
                let title = fit(&clean(&row.title), label_w.saturating_sub(gw + 1));
                let mut spans = vec![
                    Span::styled(glyph.to_string(), th.step_style(row.status)),
                    Span::raw(pad(&format!(" {title}"), (label_w + 1).saturating_sub(gw))),
                ];
                let cells = tl.cells(row, bars_w);
                spans.extend(bar_spans(th, &cells, &marks, row.status));
                if show_time && let Some((text, over)) = times.get(*i) {
                    let style = if *over {
                        th.warn()
                    } else {
                        th.step_style(row.status)
                    };
                    spans.push(Span::styled(format!("{text:>time_w$}"), style));
                }
                lines.push(Line::from(spans));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
    if inner.height >= 3 {
        frame.render_widget(
            legend(th),
            Rect {
                y: inner.y + inner.height - 1,
                height: 1,
                ..inner
            },
        );
    }
}
