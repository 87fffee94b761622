//! What follows from the run state and the clock: gates, the window's phase, and how
//! much of the plan is left. Pure functions of (runbook, state, now).

use jiff::{SignedDuration, Timestamp};

use super::state::{RunState, StepStatus};
use crate::runbook::{Duration, Runbook, Step, estimate};

/// The status shown for a step: the stored one, except that a pending step whose
/// `requires` are not all done (and not overridden) is `blocked`.
pub fn status(runbook: &Runbook, state: &RunState, step_id: &str) -> StepStatus {
    let Some(s) = state.step(step_id) else {
        return StepStatus::Pending;
    };
    if s.status == StepStatus::Pending
        && s.override_reason.is_none()
        && !unmet(runbook, state, step_id).is_empty()
    {
        return StepStatus::Blocked;
    }
    s.status
}

/// The steps named in `requires` that are not done yet. A skipped requirement does not
/// count as met: skipping the backup must not quietly unlock the upgrade.
pub fn unmet(runbook: &Runbook, state: &RunState, step_id: &str) -> Vec<String> {
    let Some(step) = runbook.step(step_id) else {
        return Vec::new();
    };
    step.requires
        .iter()
        .map(|r| r.get_ref())
        .filter(|r| state.step(r).is_none_or(|s| s.status != StepStatus::Done))
        .cloned()
        .collect()
}

/// Where `now` stands relative to the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowPhase {
    /// The window has not opened; time until it does.
    Before(SignedDuration),
    /// Inside the window; time left.
    Inside(SignedDuration),
    /// Past the end; by how much.
    Overrun(SignedDuration),
}

pub fn window_phase(state: &RunState, now: Timestamp) -> WindowPhase {
    let w = &state.window;
    if now < w.start {
        WindowPhase::Before(w.start.duration_since(now))
    } else if now < w.end {
        WindowPhase::Inside(w.end.duration_since(now))
    } else {
        WindowPhase::Overrun(now.duration_since(w.end))
    }
}

/// Estimates of the happy-path steps not yet done or skipped.
pub fn remaining_estimate(runbook: &Runbook, state: &RunState) -> Duration {
    estimate::steps_in(&runbook.file, false)
        .filter(|s| !is_settled(state, s))
        .filter_map(|s| estimate::step_estimate(&runbook.file, s))
        .sum()
}

/// Done (or skipped) over all happy-path steps.
pub fn progress(runbook: &Runbook, state: &RunState) -> (usize, usize) {
    estimate::steps_in(&runbook.file, false).fold((0, 0), |(settled, total), s| {
        (settled + usize::from(is_settled(state, s)), total + 1)
    })
}

fn is_settled(state: &RunState, step: &Step) -> bool {
    state
        .step(step.id.get_ref())
        .is_some_and(|st| st.status.is_settled())
}

/// When the remaining plan would end if work went at estimate from `now` (or from the
/// window's start, if it has not opened yet).
pub fn projected_finish(runbook: &Runbook, state: &RunState, now: Timestamp) -> Timestamp {
    let from = now.max(state.window.start);
    from.checked_add(remaining_estimate(runbook, state).signed())
        .unwrap_or(from)
}
