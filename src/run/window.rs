//! The window model: where the night stands against the clock, and whether what is left
//! still fits. A pure function of (runbook, run state, now), so the window pane, the
//! message context, `cutover status` and the report all tell the same numbers.
//!
//! The verdict, worst first:
//! - **overrun**: the window has ended and the work has not;
//! - **go/no-go passed**: the forward path is still unfinished after the last moment a
//!   rollback would still fit (end − rollback reserve);
//! - **at risk**: the projected finish is past go/no-go (during a rollback: past the end);
//! - **on track** otherwise.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::plan::{self, WindowPhase};
use super::state::{MessageRecord, RunState, StepStatus};
use crate::runbook::{Duration, Runbook, estimate};
use crate::session::Outcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    OnTrack,
    AtRisk,
    GoNoGoPassed,
    Overrun,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::OnTrack => "on track",
            Verdict::AtRisk => "at risk",
            Verdict::GoNoGoPassed => "go/no-go passed",
            Verdict::Overrun => "overrun",
        }
    }

    /// The headline form: capitals read at a glance from across the desk.
    pub fn shout(self) -> &'static str {
        match self {
            Verdict::OnTrack => "ON TRACK",
            Verdict::AtRisk => "AT RISK",
            Verdict::GoNoGoPassed => "GO/NO-GO PASSED",
            Verdict::Overrun => "OVERRUN",
        }
    }
}

/// The downtime clock, between the steps marked `downtime = "start"` and `"end"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Downtime {
    pub started: Option<Timestamp>,
    pub ended: Option<Timestamp>,
    /// So far (or in total, once ended).
    pub elapsed: Duration,
    pub expected: Option<Duration>,
}

impl Downtime {
    /// Longer than announced: stakeholders were told a number.
    pub fn over(&self) -> bool {
        self.expected.is_some_and(|e| self.elapsed > e)
    }
}

/// When the next "during" update is due, when `message.update_every` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NextUpdate {
    pub every: Duration,
    /// The last update sent inside the window (a `during` or `rollback` message).
    pub last: Option<Timestamp>,
    pub due: Timestamp,
    pub overdue: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowStatus {
    pub start: Timestamp,
    /// The end now, extensions included.
    pub end: Timestamp,
    /// The end as planned, before any extension.
    pub planned_end: Timestamp,
    pub extended_by: Duration,
    pub timezone: String,
    #[serde(skip)]
    pub phase: WindowPhase,
    /// The time kept free for rolling back.
    pub reserve: Duration,
    /// End minus the rollback reserve: the last moment to decide to roll back.
    pub go_no_go: Timestamp,
    /// Estimated work left on the path being followed (the rollback's once it started).
    pub remaining: Duration,
    pub projected_finish: Timestamp,
    pub verdict: Verdict,
    pub rollback_started: Option<Timestamp>,
    pub finished: Option<(Outcome, Timestamp)>,
    /// When the work of the path being followed was over (only a message step may be
    /// left), if it is.
    pub work_ended: Option<Timestamp>,
    pub downtime: Downtime,
    pub next_update: Option<NextUpdate>,
}

impl WindowStatus {
    /// Spare time between the projected finish and the line that matters (go/no-go on
    /// the forward path, the end during a rollback); negative when short.
    pub fn slack(&self) -> SignedDuration {
        let line = if self.rollback_started.is_some() {
            self.end
        } else {
            self.go_no_go
        };
        self.projected_finish.duration_until(line)
    }
}

/// The estimate still ahead for one step: all of it unless it runs, then what is left of
/// it, never less than zero (a step past its estimate is "due any moment", not negative).
pub fn step_remaining(
    runbook: &Runbook,
    run: &RunState,
    step_id: &str,
    now: Timestamp,
) -> Duration {
    let Some(def) = runbook.step(step_id) else {
        return Duration::ZERO;
    };
    remaining_of(runbook, def, run.step(step_id), now)
}

/// [`step_remaining`] for a step already found: [`remaining`] walks every step, and
/// looking each one up again by id made a frame of a 1,000-step runbook quadratic.
fn remaining_of(
    runbook: &Runbook,
    def: &crate::runbook::Step,
    state: Option<&super::state::StepState>,
    now: Timestamp,
) -> Duration {
    let est = estimate::step_estimate(&runbook.file, def).unwrap_or(Duration::ZERO);
    match state {
        Some(s) if s.status.is_settled() => Duration::ZERO,
        Some(s) if s.status == StepStatus::Running => {
            let spent = s
                .started_at
                .map_or(0, |t| t.duration_until(now).as_secs().max(0));
            Duration::from_secs(est.as_secs() - spent)
        }
        _ => est,
    }
}

/// The estimated work left on the path being followed: the happy path, or the
/// contingency phases once the rollback has started.
pub fn remaining(runbook: &Runbook, run: &RunState, now: Timestamp) -> Duration {
    let contingency = run.rollback_started.is_some();
    run.path(runbook, contingency)
        .map(|(def, state)| remaining_of(runbook, def, state, now))
        .sum()
}

/// Whether every step of the path being followed is done or skipped.
pub fn path_settled(runbook: &Runbook, run: &RunState) -> bool {
    let contingency = run.rollback_started.is_some();
    run.path(runbook, contingency)
        .all(|(_, state)| state.is_some_and(|st| st.status.is_settled()))
}

pub fn status(runbook: &Runbook, run: &RunState, now: Timestamp) -> WindowStatus {
    let w = &run.window;
    let reserve = estimate::rollback_reserve(&runbook.file);
    let go_no_go = w.end.checked_sub(reserve.signed()).unwrap_or(w.end);
    let left = remaining(runbook, run, now);
    let from = now.max(w.start);
    let finished = run.finished.map(|o| (o, run.finished_at.unwrap_or(now)));
    // Once the session is over, its finish is a fact, not a projection from `now`.
    let projected_finish = match finished {
        Some((_, at)) => super::context::completed_at(runbook, run).unwrap_or(at),
        None => from.checked_add(left.signed()).unwrap_or(from),
    };
    let rolling_back = run.rollback_started.is_some();
    // Work that is over is judged by when it ended (the last step of its path settling),
    // not by when anyone looks at it or when the session was closed.
    let work_ended = super::context::completed_at(runbook, run);
    let verdict = if let Some(at) = work_ended {
        if at > w.end {
            Verdict::Overrun
        } else {
            Verdict::OnTrack
        }
    } else if now >= w.end {
        Verdict::Overrun
    } else if rolling_back {
        if projected_finish > w.end {
            Verdict::AtRisk
        } else {
            Verdict::OnTrack
        }
    } else if now >= go_no_go {
        Verdict::GoNoGoPassed
    } else if projected_finish > go_no_go {
        Verdict::AtRisk
    } else {
        Verdict::OnTrack
    };
    let downtime = Downtime {
        started: run.downtime_started,
        ended: run.downtime_ended,
        elapsed: run.downtime_started.map_or(Duration::ZERO, |a| {
            // A session can finish with the downtime never formally ended (a rollback
            // skips the forward `downtime = "end"` step): the clock stops at the finish,
            // not at whatever `now` a report or `status` is drawn.
            let b = run.downtime_ended.or(run.finished_at).unwrap_or(now);
            Duration::from_secs(a.duration_until(b).as_secs())
        }),
        expected: runbook.file.window.expected_downtime,
    };
    let next_update = next_update(runbook, run, now, finished.is_some());
    WindowStatus {
        start: w.start,
        end: w.end,
        planned_end: w.end.checked_sub(w.extended_by.signed()).unwrap_or(w.end),
        extended_by: w.extended_by,
        timezone: w.timezone.clone(),
        phase: plan::window_phase(run, now),
        reserve,
        go_no_go,
        remaining: left,
        projected_finish,
        verdict,
        rollback_started: run.rollback_started,
        finished,
        work_ended,
        downtime,
        next_update,
    }
}

/// Updates are promised for the time inside the window: counted from the last `during`
/// or `rollback` message sent inside it, else from the window's start.
fn next_update(
    runbook: &Runbook,
    run: &RunState,
    now: Timestamp,
    finished: bool,
) -> Option<NextUpdate> {
    let every = runbook.file.message.as_ref()?.update_every?;
    if finished || now < run.window.start {
        return None;
    }
    let last = last_update(run);
    let base = last.unwrap_or(run.window.start);
    let due = base.checked_add(every.signed()).unwrap_or(base);
    Some(NextUpdate {
        every,
        last,
        due,
        overdue: now > due,
    })
}

/// When the last stakeholder update inside the window went out.
pub fn last_update(run: &RunState) -> Option<Timestamp> {
    run.messages
        .iter()
        .filter(|m: &&MessageRecord| m.ok && matches!(m.phase.as_str(), "during" | "rollback"))
        .filter(|m| m.at >= run.window.start)
        .map(|m| m.at)
        .max()
}
