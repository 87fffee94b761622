//! The window, as `update` sees it: extending it, starting the rollback, announcing a
//! turn of the verdict or an overdue update on the clock's tick, and finishing the
//! session once the path being followed is settled.

use super::msg::{Effect, Flash};
use super::view::{Dialog, Purpose};
use super::{Action, App};
use crate::run::context::format_in;
use crate::run::window::{self, Verdict};
use crate::runbook::Duration;
use crate::session::{Event, Outcome};

/// The longest single extension: a typo of `30h` for `30m` should not pass quietly.
const MAX_EXTENSION: i64 = 24 * 3600;

fn journal_broken(app: &mut App) -> bool {
    if let Some(err) = &app.view.journal_error {
        app.view.flash = Some(Flash::warn(format!("not saved, so not accepted: {err}")));
        return true;
    }
    false
}

/// `e`: asks how long, then why.
pub fn extend(app: &mut App) {
    if journal_broken(app) {
        return;
    }
    if app.run.finished.is_some() {
        app.view.flash = Some(Flash::info("the session has finished: nothing to extend"));
        return;
    }
    app.view.dialog = Some(Dialog::new(Purpose::ExtendBy));
}

/// The typed length of an extension; a bad one asks again with the reason why.
pub fn extend_by(app: &mut App, text: &str) {
    match Duration::parse(text) {
        Ok(d) if d.as_secs() == 0 => {
            app.view.flash = Some(Flash::warn("an extension of zero changes nothing"));
            app.view.dialog = Some(Dialog::new(Purpose::ExtendBy));
        }
        Ok(d) if d.as_secs() > MAX_EXTENSION => {
            app.view.flash = Some(Flash::warn(format!(
                "{d} is more than a day: extend in steps of at most 24h"
            )));
            app.view.dialog = Some(Dialog::new(Purpose::ExtendBy));
        }
        Ok(by) => app.view.dialog = Some(Dialog::new(Purpose::ExtendReason { by })),
        Err(why) => {
            app.view.flash = Some(Flash::warn(why));
            app.view.dialog = Some(Dialog::new(Purpose::ExtendBy));
        }
    }
}

pub fn extended(app: &mut App, by: Duration, reason: String) -> Vec<Effect> {
    let tz = app.run.window.timezone.clone();
    let end = app
        .run
        .window
        .end
        .checked_add(by.signed())
        .unwrap_or(app.run.window.end);
    app.view.flash = Some(Flash::info(format!(
        "window extended by {by}: it now ends at {}",
        format_in(end, &tz, "%H:%M")
    )));
    vec![Effect::Record(vec![Event::WindowExtended { by, reason }])]
}

/// `R`: asks why, unless there is nothing to roll back to.
pub fn rollback(app: &mut App) {
    if journal_broken(app) {
        return;
    }
    if let Some(at) = app.run.rollback_started {
        let tz = app.run.window.timezone.clone();
        app.view.flash = Some(Flash::info(format!(
            "the rollback started at {}; its steps are in the checklist",
            format_in(at, &tz, "%H:%M")
        )));
        return;
    }
    if app.run.finished.is_some() {
        app.view.flash = Some(Flash::info("the session has finished"));
        return;
    }
    if !app.runbook.file.phases.iter().any(|p| p.contingency) {
        app.view.flash = Some(Flash::warn(
            "this runbook has no contingency phase to roll back with",
        ));
        return;
    }
    app.view.dialog = Some(Dialog::new(Purpose::Rollback));
}

/// The rollback starts: journaled, and the selection moves to its first open step.
pub fn rollback_started(app: &mut App, reason: String) -> Vec<Effect> {
    let first = app.run.steps.iter().position(|s| {
        !s.status.is_settled() && app.runbook.phase_of(&s.id).is_some_and(|p| p.contingency)
    });
    if let Some(i) = first {
        app.view.selected = i;
        app.view.output_scroll = None;
    }
    // The pane follows the moment again, which is now the rollback.
    app.view.message_phase = None;
    app.view.message_step = None;
    app.view.flash = Some(Flash::warn(
        "ROLLBACK started: work down the rollback steps; the window is now measured against them",
    ));
    vec![Effect::Record(vec![Event::RollbackStarted { reason }])]
}

/// The clock ticked: announce a verdict that turned and an update that fell due, once
/// each.
pub fn on_tick(app: &mut App) {
    let now = app.view.now;
    let ws = window::status(&app.runbook, &app.run, now);
    let tz = ws.timezone.clone();
    let hhmm = |t: jiff::Timestamp| format_in(t, &tz, "%H:%M");
    let previous = app.view.verdict.map(|(v, _)| v);
    if previous != Some(ws.verdict) {
        // A verdict found on opening the screen turned at some unknown moment before.
        let seen = if previous.is_some() {
            now
        } else {
            jiff::Timestamp::UNIX_EPOCH
        };
        app.view.verdict = Some((ws.verdict, seen));
        let text = match ws.verdict {
            Verdict::OnTrack => previous.map(|_| "window: back ON TRACK".to_string()),
            Verdict::AtRisk if ws.rollback_started.is_some() => Some(format!(
                "window AT RISK: the rollback is projected to end at {}, past the window's end {}",
                hhmm(ws.projected_finish),
                hhmm(ws.end)
            )),
            Verdict::AtRisk => Some(format!(
                "window AT RISK: projected finish {} is past go/no-go {} (rollback needs {})",
                hhmm(ws.projected_finish),
                hhmm(ws.go_no_go),
                ws.reserve
            )),
            // A watcher is told what happened, not which keys to press: it has none.
            Verdict::GoNoGoPassed if app.watching.is_some() => Some(format!(
                "GO/NO-GO PASSED at {}: a rollback no longer fits the window",
                hhmm(ws.go_no_go)
            )),
            Verdict::GoNoGoPassed => Some(format!(
                "GO/NO-GO PASSED at {}: a rollback no longer fits the window; decide now ({} rolls back, {} extends)",
                hhmm(ws.go_no_go),
                app.key(Action::Rollback),
                app.key(Action::Extend)
            )),
            Verdict::Overrun if app.watching.is_some() => {
                Some(format!("window OVERRUN: it ended at {}", hhmm(ws.end)))
            }
            Verdict::Overrun => Some(format!(
                "window OVERRUN: it ended at {} ({} extends it with a reason)",
                hhmm(ws.end),
                app.key(Action::Extend)
            )),
        };
        if let Some(text) = text {
            app.view.flash = Some(if ws.verdict == Verdict::OnTrack {
                Flash::info(text)
            } else {
                Flash::warn(text)
            });
            return;
        }
    }
    if let Some(next) = ws.next_update
        && next.overdue
        && app.view.overdue_announced != Some(next.due)
    {
        app.view.overdue_announced = Some(next.due);
        let keys = if app.watching.is_some() {
            String::new()
        } else {
            format!(
                ": {} drafts it, {} sends it",
                app.key(Action::Message),
                app.key(Action::Send)
            )
        };
        app.view.flash = Some(Flash::warn(format!(
            "a stakeholder update was due at {}{keys}",
            hhmm(next.due)
        )));
    }
}

/// The `session_finished` that is due once every step of the path being followed is
/// done or skipped: completed, or rolled back after a rollback.
pub fn completion(app: &App) -> Option<Event> {
    if app.run.finished.is_some() || !window::path_settled(&app.runbook, &app.run) {
        return None;
    }
    let contingency = app.run.rollback_started.is_some();
    // A runbook with nothing on the path has nothing to finish.
    crate::runbook::estimate::steps_in(&app.runbook.file, contingency).next()?;
    Some(Event::SessionFinished {
        outcome: if contingency {
            Outcome::RolledBack
        } else {
            Outcome::Completed
        },
    })
}
