//! The replayed state as a stable, machine-readable document (`status --json`).
//! Field names and state words are a promise to scripts: add fields, never rename.

use jiff::Timestamp;
use serde::Serialize;

use super::plan::{self, WindowPhase};
use super::state::{Attempt, BackupStatus, Note, RunState, StepStatus};
use crate::runbook::{Runbook, StepKind};
use crate::session::Outcome;

pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub schema: u32,
    pub session: String,
    /// A dry run (`run --dry-run`): nothing was executed.
    pub rehearsal: bool,
    pub runbook: RunbookInfo,
    pub started_at: Option<Timestamp>,
    pub started_by: String,
    pub finished: Option<Outcome>,
    /// `user@host, pid N, since T` of the process that has the session open, if any.
    pub open_by: Option<String>,
    /// The sequence number of the last saved record ("saved #N").
    pub saved: u64,
    pub window: WindowInfo,
    pub progress: Progress,
    pub steps: Vec<StepInfo>,
    pub backups: Vec<BackupInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunbookInfo {
    pub title: String,
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowInfo {
    pub start: Timestamp,
    pub end: Timestamp,
    pub timezone: String,
    /// `before`, `inside` or `overrun` at the time of the report, or `finished`.
    pub phase: &'static str,
    /// Seconds until the window opens, left in it, or past its end (by `phase`); once
    /// `finished`, how long before the end the work was over (negative: past it).
    pub seconds: i64,
    pub extended_by_seconds: i64,
    pub projected_finish: Timestamp,
    /// `on_track`, `at_risk`, `go_no_go_passed` or `overrun`, at the time of the report.
    pub verdict: super::window::Verdict,
    /// The last moment to decide to roll back: end minus the rollback reserve.
    pub go_no_go: Timestamp,
    pub rollback_reserve_seconds: i64,
    pub rollback_started: Option<Timestamp>,
    /// Downtime so far (or in total once it ended), and what was announced.
    pub downtime_seconds: i64,
    pub expected_downtime_seconds: Option<i64>,
    /// When the next stakeholder update is due, with `message.update_every` set.
    pub next_update_due: Option<Timestamp>,
    pub update_overdue: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub settled: usize,
    pub total: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepInfo {
    pub id: String,
    pub phase: String,
    pub contingency: bool,
    pub title: String,
    pub kind: StepKind,
    pub status: StepStatus,
    pub attempts: u32,
    pub unmet: Vec<String>,
    pub skip_reason: Option<String>,
    pub override_reason: Option<String>,
    pub notes: Vec<Note>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// Exit code of the latest attempt, when it ended with one.
    pub exit: Option<i32>,
    pub failed_reason: Option<String>,
    /// Every run of the step's command (or backup step), oldest first.
    pub history: Vec<AttemptInfo>,
}

/// An attempt as the journal tells it, plus its length and its outcome in words.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptInfo {
    #[serde(flatten)]
    pub attempt: Attempt,
    pub seconds: Option<i64>,
    /// The same outcome in words, as the screen shows it.
    pub outcome: String,
}

/// Attempts with their length and outcome in words, as `status --json` and the report show them.
pub fn attempts(history: &[Attempt]) -> Vec<AttemptInfo> {
    history
        .iter()
        .map(|a| AttemptInfo {
            seconds: a
                .finished_at
                .map(|f| f.duration_since(a.started_at).as_secs()),
            outcome: a.outcome(),
            attempt: a.clone(),
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct BackupInfo {
    pub id: String,
    pub title: String,
    pub status: BackupStatus,
    pub attempts: u32,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// How the latest verify ended, once it has.
    pub verify: Option<String>,
    pub history: Vec<AttemptInfo>,
}

pub fn status(
    runbook: &Runbook,
    run: &RunState,
    now: Timestamp,
    open_by: Option<String>,
) -> Status {
    let ws = super::window::status(runbook, run, now);
    // A finished session is described as it ended, not as of whenever it is looked at.
    let (phase, seconds) = match (ws.finished, ws.work_ended) {
        (Some((_, at)), work) => (
            "finished",
            work.unwrap_or(at).duration_until(ws.end).as_secs(),
        ),
        _ => match plan::window_phase(run, now) {
            WindowPhase::Before(d) => ("before", d.as_secs()),
            WindowPhase::Inside(d) => ("inside", d.as_secs()),
            WindowPhase::Overrun(d) => ("overrun", d.as_secs()),
        },
    };
    let (settled, total) = plan::progress(runbook, run);
    let steps = runbook
        .file
        .phases
        .iter()
        .flat_map(|p| p.steps.iter().map(move |s| (p, s)))
        .filter_map(|(p, s)| step_info(runbook, run, p, s))
        .collect();
    let backups = runbook
        .file
        .backups
        .iter()
        .filter_map(|b| {
            let st = run.backup(b.id.get_ref())?;
            Some(BackupInfo {
                id: st.id.clone(),
                title: b.title.clone(),
                status: st.status,
                attempts: st.attempts,
                started_at: st.started_at,
                finished_at: st.finished_at,
                verify: st.verify.clone(),
                history: attempts(&st.history),
            })
        })
        .collect();
    Status {
        schema: SCHEMA,
        session: run.session.clone(),
        rehearsal: run.rehearsal,
        runbook: RunbookInfo {
            title: runbook.title().to_string(),
            path: run.runbook_path.clone(),
            sha256: run.runbook_sha256.clone(),
        },
        started_at: run.started_at,
        started_by: run.started_by.clone(),
        finished: run.finished,
        open_by,
        saved: run.last_seq,
        window: WindowInfo {
            start: run.window.start,
            end: run.window.end,
            timezone: run.window.timezone.clone(),
            phase,
            seconds,
            extended_by_seconds: run.window.extended_by.as_secs(),
            projected_finish: ws.projected_finish,
            verdict: ws.verdict,
            go_no_go: ws.go_no_go,
            rollback_reserve_seconds: ws.reserve.as_secs(),
            rollback_started: ws.rollback_started,
            downtime_seconds: ws.downtime.elapsed.as_secs(),
            expected_downtime_seconds: ws.downtime.expected.map(|d| d.as_secs()),
            next_update_due: ws.next_update.map(|n| n.due),
            update_overdue: ws.next_update.is_some_and(|n| n.overdue),
        },
        progress: Progress { settled, total },
        steps,
        backups,
    }
}

/// One step as `status --json` (and the report, which adds to it) describes it.
pub fn step_info(
    runbook: &Runbook,
    run: &RunState,
    p: &crate::runbook::model::Phase,
    s: &crate::runbook::Step,
) -> Option<StepInfo> {
    let st = run.step(s.id.get_ref())?;
    Some(StepInfo {
        id: st.id.clone(),
        phase: p.id.get_ref().clone(),
        contingency: p.contingency,
        title: s.title.clone(),
        kind: s.kind(),
        status: plan::status(runbook, run, &st.id),
        attempts: st.attempts,
        unmet: plan::unmet(runbook, run, &st.id),
        skip_reason: st.skip_reason.clone(),
        override_reason: st.override_reason.clone(),
        notes: st.notes.clone(),
        started_at: st.started_at,
        finished_at: st.finished_at,
        exit: st.last_exit,
        failed_reason: st.failed_reason.clone(),
        history: attempts(&st.history),
    })
}
