//! The after-action record of a session, for the change ticket: what was planned, what
//! happened, who did it and when, and what stakeholders were told.
//!
//! [`build`] is a function of the runbook copy, the journal, the state replayed from it
//! and `now` (which only matters while the session is unfinished), so the same session
//! always gives the same report. The one thing it looks at outside the session is the
//! size of each backup's artifact, and a missing file is reported, never an error: the
//! report is often written on another machine than the one that ran the night.
//!
//! Field names are a promise to scripts, like `status --json`: add fields, never rename.

pub mod markdown;
pub mod suggest;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use crate::run::report::{AttemptInfo, Progress, RunbookInfo};
use crate::run::state::{BackupStatus, MessageRecord, Override, RunState, StepStatus};
use crate::run::window::Verdict;
use crate::run::{plan, timeline, window};
use crate::runbook::model::DowntimeMark;
use crate::runbook::{Runbook, estimate, template};
use crate::runner::TaskId;
use crate::session::{Event, Outcome, Record};

pub const SCHEMA: u32 = 1;

/// Columns of the timeline picture's time axis, and of its label column: together they
/// fit a 100-column ticket or terminal.
pub const PICTURE_WIDTH: usize = 72;
pub const PICTURE_LABEL: usize = 22;

/// How the session ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    Completed,
    RolledBack,
    Aborted,
    Unfinished,
}

impl Ending {
    pub fn word(self) -> &'static str {
        match self {
            Ending::Completed => "completed",
            Ending::RolledBack => "rolled back",
            Ending::Aborted => "aborted",
            Ending::Unfinished => "unfinished",
        }
    }
}

impl From<Option<Outcome>> for Ending {
    fn from(outcome: Option<Outcome>) -> Self {
        match outcome {
            Some(Outcome::Completed) => Ending::Completed,
            Some(Outcome::RolledBack) => Ending::RolledBack,
            Some(Outcome::Aborted) => Ending::Aborted,
            None => Ending::Unfinished,
        }
    }
}

/// Serialized through [`Report`]'s own `Serialize`, which masks the runbook's secrets in
/// every string (`remote = "Self"` makes the derived code a plain function it calls).
#[derive(Debug, Serialize)]
#[serde(remote = "Self")]
pub struct Report {
    pub schema: u32,
    pub session: String,
    /// A dry run (`run --dry-run`): nothing was executed.
    pub rehearsal: bool,
    pub runbook: RunbookInfo,
    pub started_at: Option<Timestamp>,
    pub started_by: String,
    /// The moment the report was made for: an unfinished session is described as of then.
    pub generated_at: Timestamp,
    pub outcome: Ending,
    pub finished_at: Option<Timestamp>,
    pub finished_by: Option<String>,
    /// Steps of the planned path (contingency phases aside) that are done or skipped.
    pub progress: Progress,
    pub window: WindowReport,
    pub downtime: DowntimeReport,
    pub rollback: Option<RollbackReport>,
    /// In runbook order, contingency phases included.
    pub steps: Vec<StepReport>,
    pub backups: Vec<BackupReport>,
    pub overrides: Vec<Override>,
    /// Every send, failed send and message marked sent by hand, oldest first.
    pub messages: Vec<MessageReport>,
    /// The planned-against-actual picture, one line per entry, plain ASCII.
    pub timeline: Vec<String>,
    /// What the JSON and the Markdown mask: the runbook's secrets that this process knows
    /// (see [`crate::runbook::secrets::for_reading`]). Typed notes and reasons, message
    /// texts and command details are all text someone could have pasted a secret into.
    #[serde(skip)]
    pub secrets: crate::runbook::secrets::Secrets,
}

impl Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.secrets.is_empty() {
            return Report::serialize(self, serializer);
        }
        // Masked as a JSON document, string by string, so no value survives in any
        // field, present or future.
        let mut value = Report::serialize(self, serde_json::value::Serializer)
            .map_err(serde::ser::Error::custom)?;
        self.secrets.mask_json(&mut value);
        value.serialize(serializer)
    }
}

#[derive(Debug, Serialize)]
pub struct WindowReport {
    pub timezone: String,
    pub start: Timestamp,
    /// The end as planned, before any extension.
    pub planned_end: Timestamp,
    /// The end after every extension.
    pub end: Timestamp,
    pub extended_by_seconds: i64,
    pub extensions: Vec<ExtensionReport>,
    pub rollback_reserve_seconds: i64,
    /// The last moment to decide to roll back, against the planned end.
    pub planned_go_no_go: Timestamp,
    /// The same against the final end.
    pub go_no_go: Timestamp,
    /// Where the remaining estimates would end; only while the session is unfinished.
    pub projected_finish: Option<Timestamp>,
    pub verdict: Verdict,
    /// When the verdict was reached: the finish, else `generated_at`.
    pub verdict_at: Timestamp,
}

#[derive(Debug, Serialize)]
pub struct ExtensionReport {
    pub at: Timestamp,
    pub by: String,
    pub seconds: i64,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct DowntimeReport {
    pub expected_seconds: Option<i64>,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    /// Until the end step, else until the session finished, else until `generated_at`.
    pub elapsed_seconds: i64,
    /// Longer than announced.
    pub over: bool,
    /// The first step marked `downtime = "start"` / `"end"` in the runbook.
    pub start_step: Option<String>,
    pub end_step: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RollbackReport {
    pub started_at: Timestamp,
    pub by: String,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct StepReport {
    /// Everything `status --json` says of the step.
    #[serde(flatten)]
    pub step: crate::run::report::StepInfo,
    /// 1-based position in the runbook, contingency phases included.
    pub number: usize,
    pub phase_title: String,
    pub estimate_seconds: Option<i64>,
    /// How long it really took (see `run::timeline::actual`).
    pub actual_seconds: Option<i64>,
    /// The journal record that gave the step its final status, and who recorded it.
    pub settled: Option<Settled>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Settled {
    pub at: Timestamp,
    pub by: String,
    pub how: SettledHow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettledHow {
    /// The operator marked it done (a manual step, or one finished by hand).
    MarkedDone,
    /// Its command (or its backups) ended; the status says how.
    Finished,
    Skipped,
    /// The operator marked it failed.
    MarkedFailed,
    /// Its message went out through `message.send`.
    Sent,
}

#[derive(Debug, Serialize)]
pub struct BackupReport {
    pub id: String,
    pub title: String,
    /// The step that takes this backup.
    pub step: Option<String>,
    pub status: BackupStatus,
    pub attempts: u32,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// How the latest verify ended, once it has.
    pub verify: Option<String>,
    pub history: Vec<AttemptInfo>,
    pub artifact: Option<ArtifactReport>,
}

#[derive(Debug, Serialize)]
pub struct ArtifactReport {
    /// The runbook's `artifact`, rendered (the template itself if it does not render).
    pub path: String,
    /// Where it was looked for: a relative path is taken from the backup's working
    /// directory when the runbook sets one, else from where the report was made.
    pub location: String,
    pub found: bool,
    pub size_bytes: Option<u64>,
    /// Why the path could not be rendered.
    pub problem: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MessageReport {
    #[serde(flatten)]
    pub record: MessageRecord,
    /// `sent`, `failed` or `sent_by_hand`.
    pub result: &'static str,
}

/// The report of a session as of `now`.
pub fn build(runbook: &Runbook, records: &[Record], run: &RunState, now: Timestamp) -> Report {
    let ws = window::status(runbook, run, now);
    let tz = run.window.timezone.as_str();
    let who = Who::from_records(records);
    let steps = steps(runbook, run, &who, now);
    let backups = runbook
        .file
        .backups
        .iter()
        .filter_map(|b| {
            let st = run.backup(b.id.get_ref())?;
            Some(BackupReport {
                id: st.id.clone(),
                title: b.title.clone(),
                step: runbook.backup_step(&st.id).map(|s| s.id.get_ref().clone()),
                status: st.status,
                attempts: st.attempts,
                started_at: st.started_at,
                finished_at: st.finished_at,
                verify: st.verify.clone(),
                history: crate::run::report::attempts(&st.history),
                artifact: artifact(runbook, run, &st.id),
            })
        })
        .collect();
    let reserve = ws.reserve.signed();
    let finished_at = ws.finished.map(|(_, at)| at);
    // Not the window model's figure: that one keeps counting to `now` when a session
    // finished without its end step (a rollback), which a report made the next morning
    // would show as a night-long outage.
    let downtime_until = run.downtime_ended.or(run.finished_at).unwrap_or(now);
    let elapsed = run
        .downtime_started
        .map_or(0, |a| a.duration_until(downtime_until).as_secs().max(0));
    let expected = runbook.file.window.expected_downtime;
    let mark_step = |mark: DowntimeMark| {
        runbook
            .steps()
            .map(|(_, s)| s)
            .find(|s| s.downtime == Some(mark))
            .map(|s| s.id.get_ref().clone())
    };
    Report {
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
        generated_at: now,
        outcome: run.finished.into(),
        finished_at,
        finished_by: who.finished.clone(),
        progress: {
            let (settled, total) = plan::progress(runbook, run);
            Progress { settled, total }
        },
        window: WindowReport {
            timezone: tz.to_string(),
            start: ws.start,
            planned_end: ws.planned_end,
            end: ws.end,
            extended_by_seconds: ws.extended_by.as_secs(),
            extensions: run
                .extensions
                .iter()
                .map(|e| ExtensionReport {
                    at: e.at,
                    by: e.by.clone(),
                    seconds: e.duration.as_secs(),
                    reason: e.reason.clone(),
                })
                .collect(),
            rollback_reserve_seconds: ws.reserve.as_secs(),
            planned_go_no_go: ws
                .planned_end
                .checked_sub(reserve)
                .unwrap_or(ws.planned_end),
            go_no_go: ws.go_no_go,
            projected_finish: finished_at.is_none().then_some(ws.projected_finish),
            verdict: ws.verdict,
            verdict_at: finished_at.unwrap_or(now),
        },
        downtime: DowntimeReport {
            expected_seconds: expected.map(|d| d.as_secs()),
            started_at: run.downtime_started,
            ended_at: run.downtime_ended,
            elapsed_seconds: elapsed,
            over: expected.is_some_and(|e| elapsed > e.as_secs()),
            start_step: mark_step(DowntimeMark::Start),
            end_step: mark_step(DowntimeMark::End),
        },
        rollback: run.rollback_started.map(|at| RollbackReport {
            started_at: at,
            by: who.rollback.clone().unwrap_or_default(),
            reason: run.rollback_reason.clone().unwrap_or_default(),
        }),
        steps,
        backups,
        overrides: run.overrides.clone(),
        messages: run
            .messages
            .iter()
            .map(|m| MessageReport {
                record: m.clone(),
                result: match (m.ok, m.by_hand) {
                    (_, true) => "sent_by_hand",
                    (true, false) => "sent",
                    (false, false) => "failed",
                },
            })
            .collect(),
        timeline: picture(runbook, run, now),
        secrets: crate::runbook::secrets::for_reading(runbook),
    }
}

/// The timeline of a finished session is drawn as it stood at the finish: drawn as of a
/// later `now` its axis would stretch to the moment the report was made (the window
/// model projects the finish from `now`), squeezing the night into a few columns.
fn picture(runbook: &Runbook, run: &RunState, now: Timestamp) -> Vec<String> {
    let tz = run.window.timezone.as_str();
    let mut tl = timeline::build(runbook, run, run.finished_at.unwrap_or(now));
    // The `^` mark means the moment of the report, shown only if it falls on the axis.
    tl.now = now;
    tl.picture(PICTURE_WIDTH, PICTURE_LABEL, tz)
}

fn steps(runbook: &Runbook, run: &RunState, who: &Who, now: Timestamp) -> Vec<StepReport> {
    runbook
        .file
        .phases
        .iter()
        .flat_map(|p| p.steps.iter().map(move |s| (p, s)))
        .enumerate()
        .filter_map(|(i, (p, s))| {
            let st = run.step(s.id.get_ref())?;
            let status = plan::status(runbook, run, &st.id);
            Some(StepReport {
                step: crate::run::report::step_info(runbook, run, p, s)?,
                number: i + 1,
                phase_title: p.title.clone(),
                estimate_seconds: estimate::step_estimate(&runbook.file, s).map(|d| d.as_secs()),
                actual_seconds: timeline::actual_duration(run, &st.id, now).map(|d| d.as_secs()),
                // A settling record only counts while the step still has the status it gave.
                settled: who
                    .settled
                    .get(&st.id)
                    .filter(|_| {
                        matches!(
                            status,
                            StepStatus::Done | StepStatus::Skipped | StepStatus::Failed
                        )
                    })
                    .cloned(),
            })
        })
        .collect()
}

/// Who did what, which the folded state does not keep: the journal's `by` of the records
/// that settled each step, finished the session and started the rollback.
#[derive(Debug, Default)]
struct Who {
    settled: BTreeMap<String, Settled>,
    finished: Option<String>,
    rollback: Option<String>,
}

impl Who {
    fn from_records(records: &[Record]) -> Who {
        let mut who = Who::default();
        // The attempt each step is on, so a late report of an older attempt is ignored
        // here exactly as the fold ignores it.
        let mut current: BTreeMap<&str, u32> = BTreeMap::new();
        // The message step the last successful send completes, and that record's seq.
        let mut last_sent: Option<(String, u64)> = None;
        for r in records {
            let settle = |how| Settled {
                at: r.at,
                by: r.by.clone(),
                how,
            };
            match &r.event {
                Event::StepStarted { step, attempt } => {
                    let a = current.entry(step).or_default();
                    *a = (*a).max(*attempt);
                    who.settled.remove(step);
                }
                Event::StepReopened { step } | Event::StepInterrupted { step, .. } => {
                    who.settled.remove(step);
                }
                Event::StepDone { step } => {
                    // Done in the same breath as a successful send: completed by it.
                    let by_send = matches!(
                        last_sent.as_ref(),
                        Some((s, seq)) if s == step && *seq + 1 == r.seq
                    );
                    let how = if by_send {
                        SettledHow::Sent
                    } else {
                        SettledHow::MarkedDone
                    };
                    who.settled.insert(step.clone(), settle(how));
                }
                Event::MessageSent {
                    step: Some(step),
                    ok: true,
                    by_hand: false,
                    ..
                } => last_sent = Some((step.clone(), r.seq)),
                Event::StepSkipped { step, .. } => {
                    who.settled
                        .insert(step.clone(), settle(SettledHow::Skipped));
                }
                Event::StepFailed { step, .. } => {
                    who.settled
                        .insert(step.clone(), settle(SettledHow::MarkedFailed));
                }
                Event::StepFinished {
                    step,
                    attempt,
                    ended,
                    ..
                } if current.get(step.as_str()).copied().unwrap_or(0) == *attempt => {
                    let mut s = settle(SettledHow::Finished);
                    s.at = ended.unwrap_or(r.at);
                    who.settled.insert(step.clone(), s);
                }
                Event::SessionFinished { .. } => who.finished = Some(r.by.clone()),
                Event::RollbackStarted { .. } if who.rollback.is_none() => {
                    who.rollback = Some(r.by.clone());
                }
                _ => {}
            }
        }
        who
    }
}

/// The backup's artifact as declared, rendered with the session's values, and its size
/// if the file is there.
fn artifact(runbook: &Runbook, run: &RunState, backup: &str) -> Option<ArtifactReport> {
    let template_text = runbook.backup(backup)?.artifact.as_ref()?.get_ref();
    // Rendered as of when the backup started (else the session's start), never as of
    // the report: the same session must name the same file on any day.
    let at = run
        .backup(backup)
        .and_then(|b| b.started_at)
        .or(run.started_at)
        .unwrap_or(run.window.start);
    let ctx = crate::run::context::context(runbook, run, at, &run.started_by);
    let (path, problem) = match template::render(template_text, &ctx) {
        Ok(p) => (p, None),
        Err(e) => (template_text.clone(), Some(e.to_string())),
    };
    let location = locate(runbook, run, backup, Path::new(&path));
    let size = if problem.is_none() {
        std::fs::metadata(&location)
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map(|m| m.len())
    } else {
        None
    };
    Some(ArtifactReport {
        path,
        location: location.display().to_string(),
        found: size.is_some(),
        size_bytes: size,
        problem,
    })
}

/// A relative artifact path is relative to where the backup command ran: the working
/// directory the runner gives it, when the runbook sets one.
fn locate(runbook: &Runbook, run: &RunState, backup: &str, path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    crate::runner::watch::spec_for(runbook, run, &TaskId::backup(backup, 1), None)
        .and_then(|spec| spec.workdir)
        .map_or_else(|| path.to_path_buf(), |dir| dir.join(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runbook::secrets::Secrets;

    /// Underscores, `&` and `*` are escaped in Markdown: the value must be masked before.
    const PW: &str = "p_a&ss*w0rd";

    fn session() -> (Runbook, Vec<Record>) {
        let rb = Runbook::parse(
            "t.toml",
            r#"[runbook]
title = "masking"
secrets = ["PW"]

[window]
duration = "1h"

[[phase]]
id = "p"
title = "Phase"

[[phase.step]]
id = "a"
title = "A"
estimate = "1m"
"#,
        )
        .unwrap();
        let at = "2026-11-28T21:00:00Z";
        // Built from JSON, as the journal holds them.
        let records = [
            serde_json::json!({"type": "session_started", "session": "s", "runbook_path": "t.toml",
                "runbook_sha256": rb.sha256, "vars": {}, "cutover_version": "0",
                "window": {"start": at, "end": "2026-11-28T22:00:00Z", "timezone": "UTC"}}),
            serde_json::json!({"type": "note_added", "step": "a", "text": format!("pasted {PW} here")}),
            serde_json::json!({"type": "step_skipped", "step": "a", "reason": format!("{PW}\nsecond line")}),
            serde_json::json!({"type": "rollback_started", "reason": format!("why: {PW}")}),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            serde_json::from_value::<Record>(serde_json::json!({
                "seq": i + 1, "at": at, "by": "op@host", "event": event,
            }))
            .unwrap()
        })
        .collect::<Vec<_>>();
        (rb, records)
    }

    #[test]
    fn json_and_markdown_mask_every_secret_in_every_field() {
        let (rb, records) = session();
        let run = RunState::replay(&rb, &records);
        let now: Timestamp = "2026-11-28T21:30:00Z".parse().unwrap();
        let mut report = build(&rb, &records, &run, now);
        // Unmasked, it is there (the control), in both forms.
        let json = serde_json::to_string(&report).unwrap();
        assert_eq!(json.matches(PW).count(), 3, "{json}");
        assert!(markdown::render(&report).contains(r"p_a&amp;ss\*w0rd"));

        report.secrets = Secrets::from_values([("PW".to_string(), PW.to_string())]);
        let json = serde_json::to_string_pretty(&report).unwrap();
        assert!(!json.contains(PW), "{json}");
        assert!(json.contains("pasted **** here"), "{json}");
        assert!(json.contains("why: ****"), "{json}");
        let md = markdown::render(&report);
        for leaked in [PW, r"p_a&amp;ss\*w0rd", "p_a", "ss*w0rd", r"ss\*w0rd"] {
            assert!(!md.contains(leaked), "{leaked}: {md}");
        }
        assert!(md.contains(r"pasted \*\*\*\* here"), "{md}");
    }
}
