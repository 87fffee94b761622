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
use crate::runbook::{Duration, Phase, Step, StepKind};

pub fn render(frame: &mut Frame, app: &App, th: Theme, now: Timestamp, area: Rect, focused: bool) {
    let block = pane_block(th, "Checklist", focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let width = inner.width as usize;
    let rolling_back = app.run.rollback_started.is_some();
    // Every step's row is worked out (the time column is as wide as the widest of them,
    // the phase headings count what settled), but only the rows in view become lines:
    // a 1,000-step runbook shows some forty.
    let rows = rows(app, now);
    let time_w = rows.iter().map(Row::time_width).max().unwrap_or(0);
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

    // Keep the selected step (and, where it fits, its phase heading) in view: one line
    // per phase heading, then one per step.
    let selected_line = {
        let mut line = 0usize;
        let mut index = 0usize;
        let mut found = 0usize;
        for phase in &app.runbook.file.phases {
            line += 1;
            for _ in &phase.steps {
                if index == app.view.selected {
                    found = line;
                }
                line += 1;
                index += 1;
            }
        }
        found
    };
    let height = inner.height as usize;
    let offset = if selected_line < height.saturating_sub(1) {
        0
    } else {
        selected_line + 2 - height
    };
    let in_view = offset..offset + height;

    let mut lines: Vec<Line> = Vec::with_capacity(height);
    let mut line_no = 0usize;
    let mut index = 0usize;
    for phase in &app.runbook.file.phases {
        let phase_rows = &rows[index.min(rows.len())..(index + phase.steps.len()).min(rows.len())];
        if in_view.contains(&line_no) {
            lines.push(heading(th, phase, phase_rows, rolling_back, width));
        }
        line_no += 1;
        for (step, row) in phase.steps.iter().zip(phase_rows) {
            if in_view.contains(&line_no) {
                let ctx = RowCtx {
                    th,
                    width,
                    time_w,
                    show_kind,
                    show_time,
                    selected: index == app.view.selected,
                    focused,
                    set_aside_phase: rolling_back && !phase.contingency,
                };
                lines.push(step_line(app, &ctx, step, row));
            }
            line_no += 1;
            index += 1;
        }
        if line_no >= in_view.end {
            break;
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// A phase heading: its title, and how many of its steps settled; during a rollback,
/// whether it is being followed.
fn heading(
    th: Theme,
    phase: &Phase,
    rows: &[Row],
    rolling_back: bool,
    width: usize,
) -> Line<'static> {
    let settled = rows.iter().filter(|r| r.stored.is_settled()).count();
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
    Line::from(vec![
        Span::styled(fit(&heading, width.saturating_sub(count.len() + 1)), style),
        Span::raw(" "),
        Span::styled(count, th.muted()),
    ])
}

/// What every step line of one frame shares.
struct RowCtx {
    th: Theme,
    width: usize,
    time_w: usize,
    show_kind: bool,
    show_time: bool,
    selected: bool,
    focused: bool,
    /// The step's phase is one the rollback set aside.
    set_aside_phase: bool,
}

fn step_line(app: &App, c: &RowCtx, step: &Step, row: &Row) -> Line<'static> {
    let th = c.th;
    let id = step.id.get_ref();
    // Only a pending step can show as blocked, and only through a gate: the others need
    // no lookup of what they require.
    let status = if row.stored == StepStatus::Pending && !step.requires.is_empty() {
        plan::status(&app.runbook, &app.run, id)
    } else {
        row.stored
    };
    let set_aside = c.set_aside_phase && !status.is_settled();
    let step_style = if set_aside {
        th.muted()
    } else {
        th.step_style(status)
    };
    let mark = if c.selected { th.selection_mark() } else { " " };
    let glyph = th.step_glyph(status);
    let mut right = vec![Span::styled(format!(" {:<11}", status.word()), step_style)];
    if !c.show_time && !c.show_kind {
        right = vec![Span::styled(format!(" {}", status.word()), step_style)];
    }
    if c.show_kind {
        let kind = match step.kind() {
            StepKind::Manual => "",
            k => k.word(),
        };
        right.push(Span::styled(format!(" {kind:>7}"), step_style));
    }
    if c.show_time {
        let (time, over) = row.time();
        let style = if over && !set_aside {
            th.warn()
        } else {
            step_style
        };
        right.push(Span::raw(" "));
        right.push(Span::styled(
            format!("{:>time_w$}", time, time_w = c.time_w),
            style,
        ));
    }
    let right_w: usize = right.iter().map(Span::width).sum();
    let left_w = c
        .width
        .saturating_sub(right_w + mark.width() + glyph.width() + 2);
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
    let line = Line::from(spans);
    if c.selected && c.focused {
        line.style(th.selected())
    } else {
        line
    }
}

/// What the right-hand columns of a step row say, before any of it is formatted.
struct Row {
    /// The journaled status: `blocked` is worked out only for the rows in view.
    stored: StepStatus,
    estimate: Option<Duration>,
    /// How long it took (or is taking so far), rounded as shown; `None` until it ran.
    actual: Option<Duration>,
}

impl Row {
    /// `4m/10m` once it ran, else the estimate alone; and whether it took (or is taking)
    /// longer than its estimate.
    fn time(&self) -> (String, bool) {
        match (self.actual, self.estimate) {
            (Some(a), Some(e)) => (format!("{a}/{e}"), a > e),
            (Some(a), None) => (a.to_string(), false),
            (None, Some(e)) => (e.to_string(), false),
            (None, None) => (String::new(), false),
        }
    }

    /// The width of [`Row::time`]'s text, without formatting it: every step's row counts
    /// for the column's width, and formatting a thousand durations a frame is most of
    /// what the checklist would cost.
    fn time_width(&self) -> usize {
        match (self.actual, self.estimate) {
            (Some(a), Some(e)) => shown_width(a) + 1 + shown_width(e),
            (Some(d), None) | (None, Some(d)) => shown_width(d),
            (None, None) => 0,
        }
    }
}

/// The number of columns `d.to_string()` takes (`1h5m`, `45s`, `0s`: ASCII only).
fn shown_width(d: Duration) -> usize {
    let secs = u64::try_from(d.as_secs()).unwrap_or(0);
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let part = |n: u64| n.checked_ilog10().map_or(1, |l| l as usize + 1) + 1;
    let mut w = 0;
    if h > 0 {
        w += part(h);
    }
    if m > 0 {
        w += part(m);
    }
    if s > 0 || w == 0 {
        w += part(s);
    }
    w
}

/// One row per step in file order. The run state holds its steps in the same order, so
/// each step's state is found by position (by id only if the two ever disagree), and
/// the times come from [`timeline::Settled`]: one pass, not a search per step.
fn rows(app: &App, now: Timestamp) -> Vec<Row> {
    let settled = timeline::Settled::of(&app.run);
    app.runbook
        .steps()
        .enumerate()
        .map(|(i, (_, step))| {
            let id = step.id.get_ref();
            let state = match app.run.steps.get(i) {
                Some(s) if s.id == *id => Some(s),
                _ => app.run.step(id),
            };
            let stored = state.map_or(StepStatus::Pending, |s| s.status);
            // A reopened step ran before but is waiting to run again: its estimate is
            // what matters now.
            let ran = matches!(
                stored,
                StepStatus::Running
                    | StepStatus::Done
                    | StepStatus::Failed
                    | StepStatus::Interrupted
            );
            let actual = state
                .filter(|_| ran)
                .and_then(|s| timeline::actual_of(&app.run, s, now, &settled))
                .map(|(a, b)| Duration::from_secs(a.duration_until(b).as_secs()).approx());
            Row {
                stored,
                estimate: crate::runbook::estimate::step_estimate(&app.runbook.file, step),
                actual,
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

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use jiff::Timestamp;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::runbook::Runbook;
    use crate::session::{Event, Record, WindowSpec};

    #[test]
    fn a_durations_width_is_the_width_of_its_text() {
        let mut secs: Vec<i64> = (0..=7_400).collect();
        secs.extend([35_999, 36_000, 86_399, 359_999, 360_000, 3_600_000_000]);
        for s in secs {
            let d = Duration::from_secs(s);
            assert_eq!(shown_width(d), d.to_string().width(), "{d}");
        }
    }

    /// Phases of various lengths: headings and steps interleave as on a real screen.
    fn long_app() -> App {
        let mut toml = String::from("[runbook]\ntitle = \"Long\"\n\n[window]\nduration = \"4h\"\n");
        let mut n = 0;
        for (p, len) in [3, 1, 7, 2, 9, 4].into_iter().enumerate() {
            let _ = write!(toml, "\n[[phase]]\nid = \"p{p}\"\ntitle = \"Phase {p}\"\n");
            for _ in 0..len {
                let _ = write!(
                    toml,
                    "\n[[phase.step]]\nid = \"s{n}\"\ntitle = \"Step {n}\"\nestimate = \"1m\"\n"
                );
                n += 1;
            }
        }
        let rb = Runbook::parse("long.toml", &toml).unwrap();
        let start = Record {
            seq: 1,
            at: "2026-01-01T10:00:00Z".parse().unwrap(),
            by: "x@y".into(),
            event: Event::SessionStarted {
                session: "s".into(),
                runbook_path: "long.toml".into(),
                runbook_sha256: rb.sha256.clone(),
                vars: Default::default(),
                window: WindowSpec {
                    start: "2026-01-01T10:00:00Z".parse().unwrap(),
                    end: "2026-01-01T14:00:00Z".parse().unwrap(),
                    timezone: "UTC".into(),
                },
                cutover_version: "t".into(),
                rehearsal: false,
            },
        };
        App::new(rb, &[start], "x@y".into(), true, true)
    }

    /// Every line of the whole list, in order: what the pane scrolls over.
    fn all_lines(app: &App) -> Vec<String> {
        let mut out = Vec::new();
        for p in &app.runbook.file.phases {
            out.push(p.title.to_uppercase());
            out.extend(p.steps.iter().map(|s| s.title.clone()));
        }
        out
    }

    #[test]
    fn the_pane_shows_the_stretch_of_the_list_around_the_selection() {
        let mut app = long_app();
        let now: Timestamp = "2026-01-01T10:30:00Z".parse().unwrap();
        let lines = all_lines(&app);
        for height in [3u16, 5, 8, 40] {
            for selected in 0..app.run.steps.len() {
                app.view.selected = selected;
                let mut t = Terminal::new(TestBackend::new(50, height + 2)).unwrap();
                t.draw(|f| render(f, &app, crate::ui::theme(&app), now, f.area(), true))
                    .unwrap();
                let buf = t.backend().buffer();
                let shown: Vec<String> = (1..=height)
                    .map(|y| (1..49).map(|x| buf[(x, y)].symbol()).collect::<String>())
                    .collect();
                // The selected step's line, and the window kept around it: from the top
                // while it fits, else with the selection one line above the bottom.
                let sel_line = lines
                    .iter()
                    .position(|l| *l == format!("Step {selected}"))
                    .unwrap();
                let h = height as usize;
                let offset = if sel_line < h.saturating_sub(1) {
                    0
                } else {
                    sel_line + 2 - h
                };
                let want: Vec<&String> = lines.iter().skip(offset).take(h).collect();
                for (row, expect) in shown.iter().zip(&want) {
                    // Titles are whole words at this width; "Step 1" must not match
                    // "Step 12".
                    assert!(
                        row.contains(&format!("{expect} ")),
                        "height {height}, selected {selected}: {row:?} should show {expect:?}\n{shown:#?}"
                    );
                }
                let marked: Vec<&String> = shown.iter().filter(|r| r.contains('>')).collect();
                assert_eq!(marked.len(), 1, "{shown:#?}");
                assert!(marked[0].contains(&format!("Step {selected} ")));
                if want.len() < h {
                    assert!(shown[want.len()..].iter().all(|r| r.trim().is_empty()));
                }
            }
        }
    }
}
