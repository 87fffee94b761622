//! The maintenance window: where we are in it, and whether the rest of the plan fits.

use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use super::{hms, pane_block};
use crate::app::App;
use crate::run::context::{format_in, local_time};
use crate::run::plan::{self, WindowPhase};
use crate::runbook::Duration;

pub const WIDE_HEIGHT: u16 = 8;
pub const COMPACT_HEIGHT: u16 = 4;

fn hhmm(ts: Timestamp, tz: &str) -> String {
    format_in(ts, tz, "%H:%M")
}

/// The headline: state in words, and the clock that matters in that state.
fn headline(app: &App, th: Theme, now: Timestamp) -> (Span<'static>, Span<'static>) {
    match plan::window_phase(&app.run, now) {
        WindowPhase::Before(d) => (
            Span::styled("BEFORE WINDOW", th.active()),
            Span::styled(format!("opens in {}", hms(d)), th.heading()),
        ),
        WindowPhase::Inside(d) => {
            let style = if d.as_secs() < 15 * 60 {
                th.warn()
            } else {
                th.ok()
            };
            (
                Span::styled("IN WINDOW", style),
                Span::styled(format!("{} left", hms(d)), th.heading()),
            )
        }
        WindowPhase::Overrun(d) => (
            Span::styled("OVERRUN", th.bad()),
            Span::styled(format!("{} past the end", hms(d)), th.bad()),
        ),
    }
}

/// "projected finish 00:58, 1h2m to spare", or in red "…, 15m past the end".
fn projection(app: &App, th: Theme, now: Timestamp, compact: bool) -> Span<'static> {
    let tz = &app.run.window.timezone;
    let finish = plan::projected_finish(&app.runbook, &app.run, now);
    let spare = app.run.window.end.duration_since(finish).as_secs();
    let at = hhmm(finish, tz);
    let (label, spare_word, over_word) = if compact {
        ("finish", "spare", "over")
    } else {
        ("projected finish", "to spare", "past the end")
    };
    if spare >= 0 {
        let spare = Duration::from_secs(spare).approx();
        Span::styled(
            format!("{label} {at}, {spare} {spare_word}"),
            Style::default(),
        )
    } else {
        let over = Duration::from_secs(-spare).approx();
        Span::styled(format!("{label} {at}, {over} {over_word}"), th.bad())
    }
}

pub fn render(frame: &mut Frame, app: &App, th: Theme, now: Timestamp, area: Rect, compact: bool) {
    let block = pane_block(th, "Window", false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let w = &app.run.window;
    let tz = w.timezone.as_str();
    let (state, clock) = headline(app, th, now);
    let (done, total) = plan::progress(&app.runbook, &app.run);
    let remaining = plan::remaining_estimate(&app.runbook, &app.run);
    let span_text = if !compact || inner.width >= 60 {
        format!("{}–{} {}", hhmm(w.start, tz), hhmm(w.end, tz), tz)
    } else {
        // Too narrow for the span; the second line still says when work would end.
        String::new()
    };
    let lines = if compact {
        vec![
            Line::from(vec![
                state,
                Span::raw("  "),
                clock,
                Span::raw(format!("  {span_text}")),
            ]),
            Line::from(vec![
                Span::raw(format!("{done}/{total} done · ")),
                projection(app, th, now, true),
            ]),
        ]
    } else {
        let mut lines = vec![
            Line::from(vec![state, Span::raw("   "), Span::raw(span_text)]),
            Line::from(clock),
            Line::from(projection(app, th, now, false)),
            Line::from(format!(
                "{done}/{total} steps settled, {} of work left",
                remaining.approx()
            )),
        ];
        let downtime = match (app.run.downtime_started, app.run.downtime_ended) {
            (Some(a), Some(b)) => Some(format!("downtime {} (ended)", hms(b.duration_since(a)))),
            (Some(a), None) => Some(format!("downtime {} so far", hms(now.duration_since(a)))),
            _ => None,
        };
        let expected = app
            .runbook
            .file
            .window
            .expected_downtime
            .map_or(String::new(), |d| format!(", {d} expected"));
        lines.push(Line::from(match downtime {
            Some(d) => format!("{d}{expected}"),
            None => format!("downtime not started{expected}"),
        }));
        lines.push(Line::from(Span::styled(
            format!("window {} – {}", local_time(w.start, tz), hhmm(w.end, tz)),
            th.muted(),
        )));
        lines
    };
    frame.render_widget(Paragraph::new(lines), inner);
}
