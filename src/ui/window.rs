//! The maintenance window: where we are in it, and whether the rest of the plan fits.
//!
//! Everything comes from [`crate::run::window::status`], the same numbers the messages
//! and the report use. The verdict is said in capitals and repeated in the pane's title
//! and border colour, so a turn for the worse is seen from across the room; every fact
//! is also in words, so nothing depends on colour.

use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Padding, Paragraph};

use super::checklist::fit;
use super::hms;
use super::theme::{Theme, clean};
use crate::app::App;
use crate::run::context::format_in;
use crate::run::plan::WindowPhase;
use crate::run::window::{self, Verdict, WindowStatus};
use crate::runbook::{Duration, estimate};
use crate::session::Outcome;

/// Seven lines of text and the border.
pub const WIDE_HEIGHT: u16 = 9;
/// Two lines of text and the border.
pub const COMPACT_HEIGHT: u16 = 4;

fn hhmm(ts: Timestamp, tz: &str) -> String {
    format_in(ts, tz, "%H:%M")
}

/// The colour a verdict is painted in, here and wherever it is repeated.
pub fn verdict_style(th: Theme, v: Verdict) -> Style {
    match v {
        Verdict::OnTrack => th.ok(),
        Verdict::AtRisk => th.warn(),
        Verdict::GoNoGoPassed | Verdict::Overrun => th.bad(),
    }
}

/// The word in the title and its colour: the verdict, or once the session is over how
/// it ended (an overrun still says so).
fn title_word(th: Theme, ws: &WindowStatus) -> (&'static str, Style) {
    match ws.finished {
        Some(_) if ws.verdict == Verdict::Overrun => ("OVERRUN", th.bad()),
        Some((outcome, _)) => outcome_word(th, outcome),
        None => (ws.verdict.shout(), verdict_style(th, ws.verdict)),
    }
}

fn outcome_word(th: Theme, outcome: Outcome) -> (&'static str, Style) {
    match outcome {
        Outcome::Completed => ("COMPLETED", th.ok()),
        Outcome::RolledBack => ("ROLLED BACK", th.warn()),
        Outcome::Aborted => ("ABORTED", th.warn()),
    }
}

/// The clock that matters where we are: until the window opens, left in it, or past it.
fn clock(th: Theme, ws: &WindowStatus) -> Span<'static> {
    match ws.phase {
        WindowPhase::Before(d) => Span::styled(format!("opens in {}", hms(d)), th.heading()),
        WindowPhase::Inside(d) => Span::styled(format!("{} left", hms(d)), th.heading()),
        WindowPhase::Overrun(d) => Span::styled(format!("{} past the end", hms(d)), th.bad()),
    }
}

/// `" since 23:10"` when the verdict turned bad and the app saw when.
fn since(app: &App, ws: &WindowStatus) -> Option<String> {
    let tz = &ws.timezone;
    match (ws.verdict, app.view.verdict) {
        _ if ws.finished.is_some() => None,
        // These turn at a known moment, whenever this screen first saw them.
        (Verdict::GoNoGoPassed, _) => Some(format!(" since {}", hhmm(ws.go_no_go, tz))),
        (Verdict::Overrun, _) => Some(format!(" since {}", hhmm(ws.end, tz))),
        // At risk depends on estimates: only a turn this screen saw has a time.
        (Verdict::AtRisk, Some((v, at))) if v == ws.verdict && at > Timestamp::UNIX_EPOCH => {
            Some(format!(" since {}", hhmm(at, tz)))
        }
        _ => None,
    }
}

/// The first variant that fits `width` columns; the last one is the shortest, and the
/// pane cuts it if even that is too wide.
fn fitting(width: usize, variants: Vec<Vec<Span<'static>>>) -> Line<'static> {
    let mut last = Vec::new();
    for v in variants {
        let w: usize = v.iter().map(Span::width).sum();
        if w <= width {
            return Line::from(v);
        }
        last = v;
    }
    Line::from(last)
}

fn sep(th: Theme) -> Span<'static> {
    Span::raw(th.sep())
}

/// `22:00–02:00 CET`, the zone as its abbreviation at the start.
fn span_text(th: Theme, ws: &WindowStatus) -> String {
    let dash = if th.ascii { "-" } else { "–" };
    format!(
        "{}{dash}{} {}",
        hhmm(ws.start, &ws.timezone),
        hhmm(ws.end, &ws.timezone),
        format_in(ws.start, &ws.timezone, "%Z")
    )
}

/// The first line: the verdict and where we are.
fn headline(app: &App, th: Theme, ws: &WindowStatus, width: usize) -> Line<'static> {
    let tz = ws.timezone.as_str();
    let over = ws
        .finished
        .map(|(outcome, at)| (outcome_word(th, outcome), at))
        // The work is over and only a message is left: say so, not a countdown.
        .or_else(|| {
            ws.work_ended.map(|at| {
                let style = if ws.verdict == Verdict::Overrun {
                    th.bad()
                } else {
                    th.ok()
                };
                (("WORK DONE", style), at)
            })
        });
    if let Some(((word, style), at)) = over {
        let head = Span::styled(format!("{word} at {}", hhmm(at, tz)), style);
        let tail = if ws.verdict == Verdict::Overrun {
            let over = Duration::from_secs(ws.end.duration_until(at).as_secs()).approx();
            Span::styled(format!("OVERRUN by {over}"), th.bad())
        } else {
            Span::raw("within the window")
        };
        return fitting(width, vec![vec![head.clone(), sep(th), tail], vec![head]]);
    }
    let style = verdict_style(th, ws.verdict);
    let word = Span::styled(ws.verdict.shout(), style);
    let since = since(app, ws).map(|s| Span::styled(s, style));
    let place = match ws.rollback_started {
        Some(at) => Span::styled(format!("ROLLING BACK since {}", hhmm(at, tz)), th.warn()),
        None => clock(th, ws),
    };
    let mut full = vec![word.clone()];
    full.extend(since);
    full.extend([sep(th), place.clone()]);
    fitting(width, vec![full, vec![word, sep(th), place]])
}

/// The window's span, and the clock too during a rollback (the headline then says
/// since when the rollback runs).
fn span_line(th: Theme, ws: &WindowStatus, width: usize) -> Line<'static> {
    let span = span_text(th, ws);
    let mut lead = Vec::new();
    if ws.rollback_started.is_some() && ws.finished.is_none() {
        lead.extend([clock(th, ws), sep(th)]);
    }
    let zone = Span::raw(format!("{span} ({})", ws.timezone));
    let short = Span::raw(span);
    let extended = (ws.extended_by > Duration::ZERO).then(|| {
        Span::styled(
            format!(
                "+{} extended (planned end {})",
                ws.extended_by,
                hhmm(ws.planned_end, &ws.timezone)
            ),
            th.active(),
        )
    });
    let extended_short = (ws.extended_by > Duration::ZERO)
        .then(|| Span::styled(format!("+{} extended", ws.extended_by), th.active()));
    let with = |main: &Span<'static>, ext: &Option<Span<'static>>| {
        let mut v = lead.clone();
        v.push(main.clone());
        if let Some(e) = ext {
            v.extend([sep(th), e.clone()]);
        }
        v
    };
    let extended_tiny = (ws.extended_by > Duration::ZERO)
        .then(|| Span::styled(format!("+{}", ws.extended_by), th.active()));
    fitting(
        width,
        vec![
            with(&zone, &extended),
            with(&short, &extended),
            with(&zone, &extended_short),
            with(&short, &extended_short),
            with(&short, &extended_tiny),
        ],
    )
}

/// Where the line that matters lies: go/no-go on the forward path, the end during a
/// rollback.
fn line_name(ws: &WindowStatus) -> &'static str {
    if ws.rollback_started.is_some() {
        "the end"
    } else {
        "go/no-go"
    }
}

/// "projected finish 00:58 · 22m to spare before go/no-go", or how far past it.
fn projection(app: &App, th: Theme, ws: &WindowStatus, width: usize) -> Line<'static> {
    let tz = ws.timezone.as_str();
    if let Some((_, at)) = ws.finished {
        let d = at.duration_until(ws.end).as_secs();
        let text = if d >= 0 {
            format!(
                "finished {} before the end",
                Duration::from_secs(d).approx()
            )
        } else {
            format!("finished {} past the end", Duration::from_secs(-d).approx())
        };
        return Line::from(text);
    }
    if let Some(at) = ws.work_ended {
        // The work is over (a message may be left): a fact, not a projection.
        let d = at.duration_until(ws.end).as_secs();
        let (text, style) = if d >= 0 {
            (
                format!(
                    "work done {} · {} before the end",
                    hhmm(at, tz),
                    Duration::from_secs(d).approx()
                ),
                th.ok(),
            )
        } else {
            (
                format!(
                    "work done {} · {} past the end",
                    hhmm(at, tz),
                    Duration::from_secs(-d).approx()
                ),
                th.bad(),
            )
        };
        return Line::from(Span::styled(text, style));
    }
    if window::path_settled(&app.runbook, &app.run) {
        return Line::from(Span::styled("every step of the plan is settled", th.ok()));
    }
    let at = hhmm(ws.projected_finish, tz);
    let slack = ws.slack().as_secs();
    let line = line_name(ws);
    let (long, short, style) = if slack >= 0 {
        let d = Duration::from_secs(slack).approx();
        (
            format!("{d} to spare before {line}"),
            format!("{d} spare"),
            Style::default(),
        )
    } else {
        let d = Duration::from_secs(-slack).approx();
        (
            format!("{d} past {line}"),
            format!("{d} over"),
            verdict_style(th, ws.verdict.max(Verdict::AtRisk)),
        )
    };
    fitting(
        width,
        vec![
            vec![
                Span::raw(format!("projected finish {at}")),
                sep(th),
                Span::styled(long.clone(), style),
            ],
            vec![
                Span::raw(format!("finish {at}")),
                sep(th),
                Span::styled(long, style),
            ],
            vec![
                Span::raw(format!("finish {at}")),
                sep(th),
                Span::styled(short, style),
            ],
        ],
    )
}

/// "go/no-go 00:30 (rollback needs 1h30m)": the last moment a rollback still fits.
fn go_no_go(th: Theme, ws: &WindowStatus, now: Timestamp, width: usize) -> Line<'static> {
    let at = hhmm(ws.go_no_go, &ws.timezone);
    let passed = now >= ws.go_no_go && ws.rollback_started.is_none();
    let (head, style) = if passed {
        // Past it with the plan settled is no risk: the verdict says which.
        let style = if ws.verdict == Verdict::OnTrack {
            Style::default()
        } else {
            verdict_style(th, ws.verdict)
        };
        (format!("go/no-go {at} passed"), style)
    } else {
        (format!("go/no-go {at}"), Style::default())
    };
    let (long, short) = if ws.reserve == Duration::ZERO {
        (" (no rollback reserve)".to_string(), String::new())
    } else {
        (
            format!(" (rollback needs {})", ws.reserve),
            format!(" (reserve {})", ws.reserve),
        )
    };
    fitting(
        width,
        vec![
            vec![Span::styled(head.clone(), style), Span::raw(long)],
            vec![Span::styled(head.clone(), style), Span::raw(short)],
            vec![Span::styled(head, style)],
        ],
    )
}

/// "downtime 00:12:40 of 45m expected"; past what stakeholders were told, it says by
/// how much.
fn downtime(th: Theme, ws: &WindowStatus, width: usize) -> Line<'static> {
    let d = &ws.downtime;
    let expected = d.expected.map(|e| format!(" of {e} expected"));
    let Some(_) = d.started else {
        let text = match d.expected {
            Some(e) => format!("downtime not started{}{e} expected", th.sep()),
            None => "downtime not started".to_string(),
        };
        return Line::from(Span::styled(text, th.muted()));
    };
    let elapsed = hms(d.elapsed.signed());
    let state = if d.ended.is_some() { ", ended" } else { "" };
    let style = match d.expected {
        // Half as long again as announced is a different conversation with stakeholders.
        Some(e) if d.elapsed.as_secs().saturating_mul(2) > e.as_secs().saturating_mul(3) => {
            th.bad()
        }
        Some(_) if d.over() => th.warn(),
        _ => Style::default(),
    };
    let over = d
        .expected
        .filter(|_| d.over())
        .map(|e| {
            let by = Duration::from_secs(d.elapsed.as_secs() - e.as_secs()).approx();
            format!("{}{by} over", th.sep())
        })
        .unwrap_or_default();
    let long = format!(
        "downtime {elapsed}{}{state}{over}",
        expected.clone().unwrap_or_default()
    );
    // The word "over" stays in the short form: never the colour alone.
    let short_over = d
        .expected
        .filter(|_| d.over())
        .map(|e| {
            let by = Duration::from_secs(d.elapsed.as_secs() - e.as_secs()).approx();
            format!(", {by} over")
        })
        .unwrap_or_default();
    let short = format!(
        "downtime {elapsed}{}{state}{short_over}",
        d.expected.map(|e| format!(" / {e}")).unwrap_or_default()
    );
    fitting(
        width,
        vec![
            vec![Span::styled(long, style)],
            vec![Span::styled(short, style)],
        ],
    )
}

/// When the next stakeholder update is due, or that it is overdue.
fn next_update(
    th: Theme,
    ws: &WindowStatus,
    now: Timestamp,
    width: usize,
) -> Option<Line<'static>> {
    let n = ws.next_update?;
    let at = hhmm(n.due, &ws.timezone);
    Some(if n.overdue {
        Line::from(Span::styled(format!("UPDATE OVERDUE since {at}"), th.bad()))
    } else {
        let secs = now.duration_until(n.due).as_secs();
        let due = Span::raw(format!(
            "next update due {at} (in {})",
            Duration::from_secs(secs).approx()
        ));
        let every = Span::styled(format!("{}every {}", th.sep(), n.every), th.muted());
        fitting(width, vec![vec![due.clone(), every], vec![due]])
    })
}

/// Settled and all steps of the path being followed: the rollback's once it started.
fn path_counts(app: &App, ws: &WindowStatus) -> (usize, usize) {
    let rolling_back = ws.rollback_started.is_some();
    estimate::steps_in(&app.runbook.file, rolling_back).fold((0, 0), |(done, total), s| {
        let settled = app
            .run
            .step(s.id.get_ref())
            .is_some_and(|st| st.status.is_settled());
        (done + usize::from(settled), total + 1)
    })
}

/// Steps settled on the path being followed, and the estimated work left on it.
fn progress(app: &App, th: Theme, ws: &WindowStatus, width: usize) -> Line<'static> {
    let rolling_back = ws.rollback_started.is_some();
    let (done, total) = path_counts(app, ws);
    let what = if rolling_back {
        "rollback steps"
    } else {
        "steps"
    };
    let count = format!("{done}/{total} {what} settled");
    if ws.finished.is_some() {
        return Line::from(count);
    }
    let left = ws.remaining.approx();
    let sep = th.sep();
    fitting(
        width,
        vec![
            vec![Span::raw(format!("{count}{sep}{left} of work left"))],
            vec![Span::raw(format!("{count}{sep}{left} left"))],
            vec![Span::raw(format!("{done}/{total} settled{sep}{left} left"))],
        ],
    )
}

/// The two lines of the folded layout: the verdict and the clock, then the projected
/// finish, with the overdue update flag in front when there is one.
pub fn compact_lines(app: &App, th: Theme, ws: &WindowStatus, width: usize) -> Vec<Line<'static>> {
    let tz = ws.timezone.as_str();
    let first = if let Some((outcome, at)) = ws.finished {
        let (word, style) = outcome_word(th, outcome);
        let head = Span::styled(format!("{word} at {}", hhmm(at, tz)), style);
        let mut v = vec![head];
        if ws.verdict == Verdict::Overrun {
            v.extend([sep(th), Span::styled("OVERRUN", th.bad())]);
        }
        fitting(width, vec![v])
    } else {
        let style = verdict_style(th, ws.verdict);
        let word = Span::styled(ws.verdict.shout(), style);
        let mut lead = vec![word.clone()];
        lead.extend(since(app, ws).map(|s| Span::styled(s, style)));
        if ws.rollback_started.is_some() {
            lead.extend([sep(th), Span::styled("ROLLING BACK", th.warn())]);
        }
        let with = |lead: &[Span<'static>], span: bool| {
            let mut v = lead.to_vec();
            v.extend([sep(th), clock(th, ws)]);
            if span {
                v.extend([sep(th), Span::raw(span_text(th, ws))]);
            }
            v
        };
        let mut bare = vec![word];
        if ws.rollback_started.is_some() {
            bare.extend([sep(th), Span::styled("ROLLING BACK", th.warn())]);
        }
        fitting(
            width,
            vec![
                with(&lead, true),
                with(&lead, false),
                with(&bare, false),
                bare,
            ],
        )
    };
    let overdue: Vec<Span<'static>> = match ws.next_update {
        Some(n) if n.overdue => vec![Span::styled("UPDATE OVERDUE", th.bad()), sep(th)],
        _ => Vec::new(),
    };
    let second = if ws.finished.is_some() {
        let mut v = overdue;
        v.extend(progress(app, th, ws, width).spans);
        fitting(width, vec![v])
    } else if window::path_settled(&app.runbook, &app.run) {
        let mut v = overdue;
        v.push(Span::styled("every step settled", th.ok()));
        fitting(width, vec![v])
    } else {
        let at = hhmm(ws.projected_finish, tz);
        let slack = ws.slack().as_secs();
        let line = line_name(ws);
        let d = Duration::from_secs(slack.abs()).approx();
        let (long, short, style) = if slack >= 0 {
            (
                format!("{d} before {line}"),
                format!("{d} spare"),
                Style::default(),
            )
        } else {
            (
                format!("{d} past {line}"),
                format!("{d} over"),
                verdict_style(th, ws.verdict.max(Verdict::AtRisk)),
            )
        };
        let (done, total) = path_counts(app, ws);
        let what = if ws.rollback_started.is_some() {
            " rollback"
        } else {
            ""
        };
        let done_count = Span::raw(format!("{}{done}/{total}{what} done", th.sep()));
        let v = |slack: Option<&str>, count: bool| {
            let mut v = overdue.clone();
            v.push(Span::raw(format!("finish {at}")));
            if let Some(s) = slack {
                v.extend([Span::raw(", "), Span::styled(s.to_string(), style)]);
            }
            if count {
                v.push(done_count.clone());
            }
            v
        };
        fitting(
            width,
            vec![
                v(Some(&long), true),
                v(Some(&long), false),
                v(Some(&short), true),
                v(Some(&short), false),
                v(None, false),
            ],
        )
    };
    vec![first, second]
}

pub fn render(frame: &mut Frame, app: &App, th: Theme, now: Timestamp, area: Rect, compact: bool) {
    let ws = window::status(&app.runbook, &app.run, now);
    let (word, style) = title_word(th, &ws);
    let block = Block::default()
        .borders(Borders::ALL)
        .padding(Padding::horizontal(1))
        .border_style(style)
        .title(Span::styled(format!(" Window{}{word} ", th.sep()), style));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let width = inner.width as usize;
    let lines = if compact {
        compact_lines(app, th, &ws, width)
    } else {
        // Lower rank goes first when the pane is shorter than the list; the reading
        // order stays.
        let mut ranked: Vec<(u8, Line<'static>)> = vec![
            (0, headline(app, th, &ws, width)),
            (1, span_line(th, &ws, width)),
            (2, projection(app, th, &ws, width)),
        ];
        match (&ws.finished, &app.run.rollback_reason) {
            (Some(_), _) => {}
            // Once rolling back, go/no-go is behind us; why we roll back is what
            // anyone walking up asks.
            (None, Some(reason)) if ws.rollback_started.is_some() => ranked.push((
                3,
                Line::from(Span::styled(
                    fit(&format!("reason: {}", clean(reason)), width),
                    th.muted(),
                )),
            )),
            (None, _) => ranked.push((3, go_no_go(th, &ws, now, width))),
        }
        ranked.push((5, downtime(th, &ws, width)));
        if let Some(l) = next_update(th, &ws, now, width) {
            let overdue = ws.next_update.is_some_and(|n| n.overdue);
            ranked.push((if overdue { 1 } else { 4 }, l));
        }
        ranked.push((6, progress(app, th, &ws, width)));
        let height = inner.height as usize;
        while ranked.len() > height {
            let Some(worst) = ranked
                .iter()
                .enumerate()
                .max_by_key(|(i, (rank, _))| (*rank, *i))
                .map(|(i, _)| i)
            else {
                break;
            };
            ranked.remove(worst);
        }
        ranked.into_iter().map(|(_, l)| l).collect()
    };
    frame.render_widget(Paragraph::new(lines), inner);
}
