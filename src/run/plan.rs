//! What follows from the run state and the clock: gates, the window's phase, progress.
//! How much of the plan is left, and whether it fits, is `window`'s. Pure functions of
//! (runbook, state, now).

use jiff::{SignedDuration, Timestamp};

use super::state::{RunState, StepStatus};
use crate::runbook::{Runbook, Step, estimate};

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
