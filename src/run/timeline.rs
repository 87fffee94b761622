//! Planned against actual, on one time axis: the data behind the `t` view and the
//! report's picture. Pure: (runbook, run state, now) in, rows and positions out.
//!
//! The plan lays the happy path end to end from the window's start at its estimates; the
//! contingency phases are laid from the moment the rollback started, or, before that,
//! from go/no-go (the latest moment the plan lets it start).

use jiff::Timestamp;

use super::state::{RunState, StepState, StepStatus};
use super::window;
use crate::runbook::{Duration, Runbook, estimate};

/// A span of time, start before end.
pub type Span = (Timestamp, Timestamp);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub step: String,
    pub title: String,
    pub contingency: bool,
    pub status: StepStatus,
    pub estimate: Option<Duration>,
    pub planned: Option<Span>,
    pub actual: Option<Span>,
}

/// What one column of a row shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Empty,
    Planned,
    Actual,
    Both,
}

/// A vertical line drawn through every row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    WindowStart,
    WindowEnd,
    GoNoGo,
    Now,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    pub rows: Vec<Row>,
    /// The axis: from the earliest thing drawn to the latest.
    pub from: Timestamp,
    pub to: Timestamp,
    pub window_start: Timestamp,
    pub window_end: Timestamp,
    pub go_no_go: Timestamp,
    pub now: Timestamp,
    /// The session is still on: `now` is drawn. A finished one is a record.
    pub live: bool,
}

/// When a step really ran: from its first attempt's start to its end (now while it
/// runs). A manual step has no start of its own: it is counted from when the step
/// settled before it, so "actual" is the time it took the operator to get to it done.
///
/// One step's answer scans every step; for every step of a frame use [`Settled`] and
/// [`actual_of`], which give the same spans in O(log n) each.
pub fn actual(run: &RunState, step_id: &str, now: Timestamp) -> Option<Span> {
    let s = run.step(step_id)?;
    span(run, s, now, |end| {
        run.steps
            .iter()
            .filter(|o| o.id != s.id)
            .filter_map(|o| o.finished_at)
            .filter(|t| *t <= end)
            .max()
    })
}

/// [`actual`] of a step whose state is at hand, with the settle times gathered once.
pub fn actual_of(run: &RunState, s: &StepState, now: Timestamp, settled: &Settled) -> Option<Span> {
    span(run, s, now, |end| settled.latest_before(end, s.finished_at))
}

/// When every step settled, sorted: "the latest other step to settle by `end`" is a
/// binary search instead of a scan of every step.
#[derive(Debug, Clone, Default)]
pub struct Settled(Vec<Timestamp>);

impl Settled {
    pub fn of(run: &RunState) -> Settled {
        let mut times: Vec<Timestamp> = run.steps.iter().filter_map(|s| s.finished_at).collect();
        times.sort_unstable();
        Settled(times)
    }

    /// The latest settle time at or before `end`, leaving out one copy of `own` (the
    /// step's own settle time: step ids are unique, so it is in the list once). A tie with
    /// another step's time keeps that one.
    fn latest_before(&self, end: Timestamp, own: Option<Timestamp>) -> Option<Timestamp> {
        let n = self.0.partition_point(|t| *t <= end);
        let last = *self.0.get(n.checked_sub(1)?)?;
        if own == Some(last) {
            n.checked_sub(2).map(|i| self.0[i])
        } else {
            Some(last)
        }
    }
}

/// The span of `s`, given how to find the latest other step settled by a moment.
fn span(
    run: &RunState,
    s: &StepState,
    now: Timestamp,
    settled_before: impl FnOnce(Timestamp) -> Option<Timestamp>,
) -> Option<Span> {
    if s.status == StepStatus::Skipped {
        return None;
    }
    let end = match s.status {
        StepStatus::Running => Some(now),
        _ => s
            .finished_at
            .or_else(|| s.history.last().and_then(|a| a.finished_at)),
    };
    if let Some(first) = s.history.first() {
        let end = end.unwrap_or(now).max(first.started_at);
        return Some((first.started_at, end));
    }
    let end = end.filter(|_| s.status == StepStatus::Done)?;
    let before = settled_before(end);
    // Settled after the rollback began: it was a rollback step, not earlier work.
    let floor = run.rollback_started.filter(|r| *r <= end);
    let start = before
        .or(run.started_at)
        .max(floor)
        .filter(|t| *t <= end)
        .unwrap_or(end);
    Some((start, end))
}

/// Seconds a step took (see [`actual`]).
pub fn actual_duration(run: &RunState, step_id: &str, now: Timestamp) -> Option<Duration> {
    actual(run, step_id, now).map(|(a, b)| Duration::from_secs(a.duration_until(b).as_secs()))
}

pub fn build(runbook: &Runbook, run: &RunState, now: Timestamp) -> Timeline {
    let ws = window::status(runbook, run, now);
    let settled = Settled::of(run);
    let mut rows = Vec::new();
    let show_contingency = run.rollback_started.is_some()
        || estimate::steps_in(&runbook.file, true).any(|s| {
            run.step(s.id.get_ref())
                .is_some_and(|st| st.status != StepStatus::Pending)
        });
    for contingency in [false, true] {
        if contingency && !show_contingency {
            continue;
        }
        let mut at = if contingency {
            run.rollback_started.unwrap_or(ws.go_no_go)
        } else {
            run.window.start
        };
        for step in estimate::steps_in(&runbook.file, contingency) {
            let id = step.id.get_ref();
            let est = estimate::step_estimate(&runbook.file, step);
            let planned = est.map(|d| {
                let end = at.checked_add(d.signed()).unwrap_or(at);
                (at, end)
            });
            if let Some((_, end)) = planned {
                at = end;
            }
            rows.push(Row {
                step: id.clone(),
                title: step.title.clone(),
                contingency,
                status: super::plan::status(runbook, run, id),
                estimate: est,
                planned,
                actual: run.step(id).and_then(|s| actual_of(run, s, now, &settled)),
            });
        }
    }
    let mut from = run.window.start;
    let mut to = ws.end.max(ws.projected_finish);
    for r in &rows {
        for (a, b) in [r.planned, r.actual].into_iter().flatten() {
            from = from.min(a);
            to = to.max(b);
        }
    }
    if now >= from && ws.finished.is_none() {
        to = to.max(now);
    }
    if to <= from {
        to = from
            .checked_add(jiff::SignedDuration::from_secs(60))
            .unwrap_or(from);
    }
    Timeline {
        rows,
        from,
        to,
        window_start: ws.start,
        window_end: ws.end,
        go_no_go: ws.go_no_go,
        now,
        live: ws.finished.is_none(),
    }
}

impl Timeline {
    /// The column of `t` on an axis `width` columns wide (clamped to it).
    pub fn column(&self, t: Timestamp, width: usize) -> usize {
        if width == 0 {
            return 0;
        }
        let total = self.from.duration_until(self.to).as_secs_f64().max(1.0);
        let off = self.from.duration_until(t).as_secs_f64();
        let col = (off / total * width as f64).floor();
        (col.max(0.0) as usize).min(width - 1)
    }

    /// The columns a span covers: at least one, so a short step is still visible.
    fn columns(&self, span: Span, width: usize) -> std::ops::RangeInclusive<usize> {
        let a = self.column(span.0, width);
        let b = self.column(span.1, width).max(a);
        // An end exactly on a column boundary does not spill into the next column.
        let b = if b > a && self.column_start(b, width) >= span.1 {
            b - 1
        } else {
            b
        };
        a..=b
    }

    fn column_start(&self, col: usize, width: usize) -> Timestamp {
        let total = self.from.duration_until(self.to).as_secs_f64();
        let secs = total * col as f64 / width.max(1) as f64;
        self.from
            .checked_add(jiff::SignedDuration::from_secs_f64(secs))
            .unwrap_or(self.to)
    }

    /// One row's cells.
    pub fn cells(&self, row: &Row, width: usize) -> Vec<Cell> {
        let mut cells = vec![Cell::Empty; width];
        if width == 0 {
            return cells;
        }
        if let Some(p) = row.planned.filter(|(a, b)| b > a) {
            for c in self.columns(p, width) {
                cells[c] = Cell::Planned;
            }
        }
        if let Some(span) = row.actual {
            for c in self.columns(span, width) {
                cells[c] = if cells[c] == Cell::Planned {
                    Cell::Both
                } else {
                    Cell::Actual
                };
            }
        }
        cells
    }

    /// The vertical lines and their columns; later ones win a shared column, so the
    /// go/no-go line is never hidden behind the window's start.
    pub fn marks(&self, width: usize) -> Vec<(usize, Mark)> {
        let mut out = vec![
            (self.column(self.window_start, width), Mark::WindowStart),
            (self.column(self.window_end, width), Mark::WindowEnd),
            (self.column(self.go_no_go, width), Mark::GoNoGo),
        ];
        if self.live && self.now >= self.from && self.now <= self.to {
            out.push((self.column(self.now, width), Mark::Now));
        }
        out
    }

    /// Time labels for the axis row (`22:00`, `23:00`, ...), placed at their columns,
    /// as many as fit without touching.
    pub fn axis(&self, width: usize, timezone: &str) -> String {
        let mut line = vec![' '; width];
        let total = self.from.duration_until(self.to).as_secs().max(1);
        // A step that gives about one label per 12 columns.
        let want = (total as f64 / (width.max(12) as f64 / 12.0)).max(60.0);
        let step = [
            60,
            300,
            600,
            900,
            1800,
            3600,
            7200,
            3 * 3600,
            6 * 3600,
            12 * 3600,
            86400,
        ]
        .into_iter()
        .find(|s| *s as f64 >= want)
        // Beyond a day a label: whole days, as many as keep the labels about 12 columns
        // apart, so the loop below runs about `width / 12` times whatever the span (a
        // hand-edited journal can make it millennia; a day each was 7 million steps).
        // `want` is below 2^40 (jiff's whole range in seconds), so the cast is exact.
        .unwrap_or_else(|| (want / 86400.0).ceil() as i64 * 86400);
        let first = self.from.as_second().div_euclid(step) * step + step;
        let mut t = first;
        let mut next_free = 0usize;
        while t <= self.to.as_second() {
            if let Ok(ts) = Timestamp::from_second(t) {
                let label = super::context::format_in(ts, timezone, "%H:%M");
                let col = self.column(ts, width);
                if col >= next_free && col + label.len() <= width {
                    for (i, ch) in label.chars().enumerate() {
                        line[col + i] = ch;
                    }
                    next_free = col + label.len() + 1;
                }
            }
            t += step;
        }
        line.into_iter().collect::<String>().trim_end().to_string()
    }

    /// The whole picture in plain ASCII for a report: a label column, the axis, one line
    /// per step, and a legend. `-` planned, `#` actual, `=` both; `|` window start and
    /// end, `!` go/no-go, `^` now.
    pub fn picture(&self, width: usize, label_width: usize, timezone: &str) -> Vec<String> {
        let mut out = Vec::new();
        let pad = |s: &str| -> String {
            let mut t: String = s.chars().take(label_width).collect();
            while t.chars().count() < label_width {
                t.push(' ');
            }
            t
        };
        out.push(format!("{} {}", pad(""), self.axis(width, timezone)));
        let marks = self.marks(width);
        for row in &self.rows {
            let mut line: Vec<char> = self
                .cells(row, width)
                .into_iter()
                .map(|c| match c {
                    Cell::Empty => ' ',
                    Cell::Planned => '-',
                    Cell::Actual => '#',
                    Cell::Both => '=',
                })
                .collect();
            for (col, mark) in &marks {
                if line[*col] == ' ' {
                    line[*col] = match mark {
                        Mark::WindowStart | Mark::WindowEnd => '|',
                        Mark::GoNoGo => '!',
                        Mark::Now => '^',
                    };
                }
            }
            let line: String = line.into_iter().collect();
            out.push(format!("{} {}", pad(&row.step), line.trim_end()));
        }
        out.push(String::new());
        out.push("- planned  # actual  = both  | window start/end  ! go/no-go  ^ now".to_string());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Event, Record, WindowSpec};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const BOOK: &str = r#"
[runbook]
title = "t"

[window]
duration = "4h"

[[phase]]
id = "p"
title = "P"

[[phase.step]]
id = "a"
title = "A"

[[phase.step]]
id = "b"
title = "B"

[[phase.step]]
id = "c"
title = "C"
run = "true"

[[phase.step]]
id = "d"
title = "D"

[[phase.step]]
id = "e"
title = "E"

[[phase.step]]
id = "f"
title = "F"
run = "true"

[[phase]]
id = "r"
title = "R"
contingency = true

[[phase.step]]
id = "g"
title = "G"
"#;

    /// A night with the cases the batch form must get right: two steps settled in the
    /// same second (a tie), a skipped one, a command with attempts, a step reopened, one
    /// running, and a rollback step settled after the rollback began.
    fn night() -> (Runbook, Vec<Record>) {
        let rb = Runbook::parse("t.toml", BOOK).unwrap();
        let mut seq = 0;
        let mut rec = |at: &str, event: Event| {
            seq += 1;
            Record {
                seq,
                at: ts(at),
                by: "x@y".into(),
                event,
            }
        };
        let done = |s: &str| Event::StepDone { step: s.into() };
        let finished = |s: &str, attempt| Event::StepFinished {
            step: s.into(),
            attempt,
            exit: Some(0),
            signal: None,
            timed_out: false,
            cancelled: false,
            expect_matched: None,
            detached: false,
            detail: None,
            ended: None,
        };
        let records = vec![
            rec(
                "2026-01-01T10:00:00Z",
                Event::SessionStarted {
                    session: "s".into(),
                    runbook_path: "t.toml".into(),
                    runbook_sha256: rb.sha256.clone(),
                    vars: Default::default(),
                    window: WindowSpec {
                        start: ts("2026-01-01T10:00:00Z"),
                        end: ts("2026-01-01T14:00:00Z"),
                        timezone: "UTC".into(),
                    },
                    cutover_version: "t".into(),
                    rehearsal: false,
                },
            ),
            rec("2026-01-01T10:05:00Z", done("a")),
            // b and d settle in the same second.
            rec("2026-01-01T10:09:00Z", done("b")),
            rec("2026-01-01T10:09:00Z", done("d")),
            rec(
                "2026-01-01T10:10:00Z",
                Event::StepStarted {
                    step: "c".into(),
                    attempt: 1,
                },
            ),
            rec("2026-01-01T10:12:00Z", finished("c", 1)),
            rec(
                "2026-01-01T10:13:00Z",
                Event::StepSkipped {
                    step: "e".into(),
                    reason: "n/a".into(),
                },
            ),
            rec(
                "2026-01-01T10:14:00Z",
                Event::StepReopened { step: "a".into() },
            ),
            rec("2026-01-01T10:15:00Z", done("a")),
            rec(
                "2026-01-01T10:16:00Z",
                Event::StepStarted {
                    step: "f".into(),
                    attempt: 1,
                },
            ),
            rec(
                "2026-01-01T10:20:00Z",
                Event::RollbackStarted { reason: "x".into() },
            ),
            rec("2026-01-01T10:25:00Z", done("g")),
        ];
        (rb, records)
    }

    #[test]
    fn the_batch_form_gives_every_step_the_span_a_lone_lookup_gives() {
        let (rb, records) = night();
        // Every prefix of the night, so each step is seen pending, running, settled.
        for n in 1..=records.len() {
            let run = RunState::replay(&rb, &records[..n]);
            let settled = Settled::of(&run);
            for now in ["2026-01-01T10:30:00Z", "2026-01-01T10:09:00Z"] {
                let now = ts(now);
                for s in &run.steps {
                    assert_eq!(
                        actual_of(&run, s, now, &settled),
                        actual(&run, &s.id, now),
                        "step {} after {n} records at {now}",
                        s.id
                    );
                }
            }
        }
        // The tie: d settled in the same second as b, so d's span starts then (b counts
        // as the step before it) and is empty, not counted from a.
        let run = RunState::replay(&rb, &records[..4]);
        let d = run.step("d").unwrap();
        let at = ts("2026-01-01T10:09:00Z");
        assert_eq!(actual_of(&run, d, at, &Settled::of(&run)), Some((at, at)));
    }

    fn spanning(from: &str, to: &str) -> Timeline {
        let (from, to) = (ts(from), ts(to));
        Timeline {
            rows: Vec::new(),
            from,
            to,
            window_start: from,
            window_end: to,
            go_no_go: from,
            now: from,
            live: false,
        }
    }

    #[test]
    fn the_axis_labels_hours_and_stays_spaced_over_any_span() {
        let night = spanning("2026-01-01T21:00:00Z", "2026-01-02T01:00:00Z");
        assert_eq!(
            night.axis(80, "UTC"),
            "                    22:00               23:00               00:00"
        );
        // Millennia: a label every so many whole days, still apart and on the axis (at a
        // day a step, this took 7 million steps).
        for (from, to) in [
            ("-009999-01-02T01:59:59Z", "9999-12-30T22:00:00Z"),
            ("2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z"),
        ] {
            let axis = spanning(from, to).axis(80, "UTC");
            let labels: Vec<&str> = axis.split_whitespace().collect();
            assert!(labels.len() >= 4, "{axis:?}");
            assert!(labels.iter().all(|l| *l == "00:00"), "{axis:?}");
            assert!(axis.chars().count() <= 80, "{axis:?}");
        }
    }
}
