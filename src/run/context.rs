//! The values templates see: every runbook variable plus the live ones.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::state::{RunState, StepStatus};
use super::window::Verdict;
use crate::runbook::Runbook;
use crate::session::Outcome;

/// Formats a timestamp in the window's zone with a strftime pattern. An unknown zone
/// (validated away, but a journal may outlive a tz database) falls back to UTC.
pub fn format_in(ts: Timestamp, timezone: &str, pattern: &str) -> String {
    let tz = jiff::tz::TimeZone::get(timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    ts.to_zoned_datetime(tz).strftime(pattern).to_string()
}

/// A timestamp in the window's zone, e.g. `2026-11-28 22:00 CET`.
pub fn local_time(ts: Timestamp, timezone: &str) -> String {
    format_in(ts, timezone, "%Y-%m-%d %H:%M %Z")
}

pub fn utc_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// The template context at `now`.
pub fn context(
    runbook: &Runbook,
    run: &RunState,
    now: Timestamp,
    operator: &str,
) -> BTreeMap<String, String> {
    let mut ctx = run.vars.clone();
    for (k, v) in &runbook.file.vars {
        ctx.entry(k.clone()).or_insert_with(|| v.get_ref().clone());
    }
    let tz = run.window.timezone.as_str();
    let ws = super::window::status(runbook, run, now);
    // Progress along the path being followed: during a rollback, its steps.
    let contingency = run.rollback_started.is_some();
    let (done, total) =
        crate::runbook::estimate::steps_in(&runbook.file, contingency).fold((0, 0), |(d, t), s| {
            let settled = run
                .step(s.id.get_ref())
                .is_some_and(|st| st.status.is_settled());
            (d + usize::from(settled), t + 1)
        });
    let current = run
        .steps
        .iter()
        .find(|s| s.status == StepStatus::Running)
        .or_else(|| {
            // During a rollback the step that matters next is a rollback step.
            let contingency = run.rollback_started.is_some();
            run.steps.iter().find(|s| {
                !s.status.is_settled()
                    && runbook.phase_of(&s.id).map(|p| p.contingency) == Some(contingency)
            })
        });
    let current_title = current
        .and_then(|s| runbook.step(&s.id))
        .map_or_else(|| "all steps settled".to_string(), |s| s.title.clone());
    let mut put = |k: &str, v: String| {
        ctx.insert(k.to_string(), v);
    };
    put("title", runbook.title().to_string());
    put("window_start", local_time(ws.start, tz));
    put("window_end", local_time(ws.end, tz));
    put("window_start_utc", utc_time(ws.start));
    put("window_end_utc", utc_time(ws.end));
    put("timezone", tz.to_string());
    put(
        "expected_downtime",
        ws.downtime
            .expected
            .map_or_else(|| "not stated".to_string(), |d| d.to_string()),
    );
    put("rollback_deadline", local_time(ws.go_no_go, tz));
    put("eta", local_time(ws.projected_finish, tz));
    put("projected_finish", local_time(ws.projected_finish, tz));
    put("now", local_time(now, tz));
    put("current_step", current_title);
    put(
        "current_status",
        // Work over (only a message step may be left) counts as its outcome: the last
        // message is written in that moment, before its own step is done.
        match (ws.finished, ws.rollback_started, ws.verdict) {
            (Some((Outcome::RolledBack, _)), _, _) => "rolled back",
            (Some(_), _, _) => "completed",
            (None, Some(_), _) if ws.work_ended.is_some() => "rolled back",
            (None, Some(_), _) => "rolling back",
            (None, None, _) if ws.work_ended.is_some() => "completed",
            (None, None, Verdict::OnTrack) if now < ws.start => "scheduled",
            (None, None, Verdict::OnTrack) => "on schedule",
            (None, None, _) => "delayed",
        }
        .to_string(),
    );
    put("steps_done", done.to_string());
    put("steps_total", total.to_string());
    put("actual_downtime", ws.downtime.elapsed.to_string());
    put(
        "completed_at",
        local_time(completed_at(runbook, run).unwrap_or(now), tz),
    );
    let next = ws.next_update.map_or_else(
        || {
            let every = runbook
                .file
                .message
                .as_ref()
                .and_then(|m| m.update_every)
                .unwrap_or(crate::runbook::Duration::from_mins(30));
            now.checked_add(every.signed()).unwrap_or(now)
        },
        // The update being written now resets the cadence.
        |n| now.checked_add(n.every.signed()).unwrap_or(now),
    );
    put("next_update_at", local_time(next, tz));
    let updates = run
        .messages
        .iter()
        .filter(|m| m.ok && matches!(m.phase.as_str(), "during" | "rollback"))
        .count();
    put("update_no", (updates + 1).to_string());
    put("operator", operator.to_string());
    put("session", run.session.clone());
    ctx
}

/// When the work was over: when the last step of the path being followed settled
/// (message steps aside: the "after" message is written once the work is over, before its
/// own step is done), else when the session was finished. `None` while work remains.
pub fn completed_at(runbook: &Runbook, run: &RunState) -> Option<Timestamp> {
    let contingency = run.rollback_started.is_some();
    let mut latest = None;
    let mut settled = true;
    for (_, state) in run
        .path(runbook, contingency)
        .filter(|(s, _)| s.kind() != crate::runbook::StepKind::Message)
    {
        match state {
            Some(st) if st.status.is_settled() => latest = latest.max(st.finished_at),
            _ => settled = false,
        }
    }
    if settled && latest.is_some() {
        latest
    } else {
        run.finished_at
    }
}
