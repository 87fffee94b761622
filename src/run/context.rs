//! The values templates see: every runbook variable plus the live ones.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::plan;
use super::state::{RunState, StepStatus};
use crate::runbook::Runbook;

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
    let w = &run.window;
    let (done, total) = plan::progress(runbook, run);
    let current = run
        .steps
        .iter()
        .find(|s| s.status == StepStatus::Running)
        .or_else(|| run.steps.iter().find(|s| !s.status.is_settled()));
    let current_title = current
        .and_then(|s| runbook.step(&s.id))
        .map_or_else(|| "all steps settled".to_string(), |s| s.title.clone());
    let eta = plan::projected_finish(runbook, run, now);
    let reserve = crate::runbook::estimate::rollback_reserve(&runbook.file);
    let rollback_deadline = w.end.checked_sub(reserve.signed()).unwrap_or(w.end);
    let downtime = match (run.downtime_started, run.downtime_ended) {
        (Some(a), Some(b)) => crate::runbook::Duration::from_secs(b.duration_since(a).as_secs()),
        (Some(a), None) => crate::runbook::Duration::from_secs(now.duration_since(a).as_secs()),
        _ => crate::runbook::Duration::ZERO,
    };
    let mut put = |k: &str, v: String| {
        ctx.insert(k.to_string(), v);
    };
    put("title", runbook.title().to_string());
    put("window_start", local_time(w.start, tz));
    put("window_end", local_time(w.end, tz));
    put("window_start_utc", utc_time(w.start));
    put("window_end_utc", utc_time(w.end));
    put("timezone", tz.to_string());
    put(
        "expected_downtime",
        runbook
            .file
            .window
            .expected_downtime
            .map_or_else(|| "not stated".to_string(), |d| d.to_string()),
    );
    put("rollback_deadline", local_time(rollback_deadline, tz));
    put("eta", local_time(eta, tz));
    put("projected_finish", local_time(eta, tz));
    put("now", local_time(now, tz));
    put("current_step", current_title);
    put(
        "current_status",
        if run.rollback_started.is_some() {
            "rolling back"
        } else if now > w.end {
            "delayed"
        } else {
            "in progress"
        }
        .to_string(),
    );
    put("steps_done", done.to_string());
    put("steps_total", total.to_string());
    put("actual_downtime", downtime.to_string());
    put(
        "completed_at",
        run.last_event_at
            .map_or_else(String::new, |t| local_time(t, tz)),
    );
    let every = runbook
        .file
        .message
        .as_ref()
        .and_then(|m| m.update_every)
        .unwrap_or(crate::runbook::Duration::from_mins(30));
    put(
        "next_update_at",
        local_time(now.checked_add(every.signed()).unwrap_or(now), tz),
    );
    put("update_no", (run.messages_sent + 1).to_string());
    put("operator", operator.to_string());
    put("session", run.session.clone());
    ctx
}
