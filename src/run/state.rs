//! The run state: what the journal says happened, folded event by event.
//!
//! The same `apply` runs live and on resume, so a resumed session is by construction
//! the session the operator saw.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use jiff::Timestamp;
use serde::Serialize;

use crate::runbook::model::{DowntimeMark, Step};
use crate::runbook::{Duration, Runbook};
use crate::session::{Event, Outcome, Record, WindowSpec};

/// A step's state as journaled. `blocked` is not stored: it is derived from gates
/// (see [`crate::run::plan`]) so it can never disagree with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Blocked,
    Running,
    Done,
    Failed,
    Skipped,
    Interrupted,
}

impl StepStatus {
    pub fn word(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Blocked => "blocked",
            StepStatus::Running => "running",
            StepStatus::Done => "done",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Interrupted => "interrupted",
        }
    }

    /// Finished one way or another: nothing more will happen without the operator.
    pub fn is_settled(self) -> bool {
        matches!(self, StepStatus::Done | StepStatus::Skipped)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupStatus {
    Pending,
    Running,
    Verifying,
    Verified,
    Failed,
    Interrupted,
}

impl BackupStatus {
    pub fn word(self) -> &'static str {
        match self {
            BackupStatus::Pending => "pending",
            BackupStatus::Running => "running",
            BackupStatus::Verifying => "verifying",
            BackupStatus::Verified => "verified",
            BackupStatus::Failed => "failed",
            BackupStatus::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub at: Timestamp,
    pub by: String,
    pub text: String,
}

/// One run of a command, a backup or a backup step, as the journal tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    pub attempt: u32,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub exit: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub cancelled: bool,
    pub expect_matched: Option<bool>,
    /// Ended while no screen was attached; picked up on resume.
    pub detached: bool,
    /// Its supervisor vanished without saying how it ended.
    pub interrupted: bool,
    pub detail: Option<String>,
}

impl Attempt {
    fn new(attempt: u32, at: Timestamp) -> Attempt {
        Attempt {
            attempt,
            started_at: at,
            finished_at: None,
            exit: None,
            signal: None,
            timed_out: false,
            cancelled: false,
            expect_matched: None,
            detached: false,
            interrupted: false,
            detail: None,
        }
    }

    /// `exit 3`, `killed by SIGKILL after its timeout`, `running`: a signal is never
    /// shown as an exit code.
    pub fn outcome(&self) -> String {
        if self.interrupted {
            return "interrupted, outcome unknown".into();
        }
        if self.finished_at.is_none() {
            return "running".into();
        }
        let mut s = crate::runner::task::describe_end(
            self.exit,
            self.signal,
            self.timed_out,
            self.cancelled,
            self.expect_matched,
        );
        if let Some(d) = &self.detail {
            s.push_str(": ");
            s.push_str(d);
        }
        if self.detached {
            s.push_str(" (finished while detached)");
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepState {
    pub id: String,
    /// Stored status; never `Blocked` (that is derived).
    pub status: StepStatus,
    pub attempts: u32,
    pub notes: Vec<Note>,
    pub skip_reason: Option<String>,
    /// Reason typed when the operator went past an unmet gate.
    pub override_reason: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub last_exit: Option<i32>,
    /// Every run of this step's command or backups, oldest first.
    pub history: Vec<Attempt>,
    /// Typed when the operator marked the step failed.
    pub failed_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupState {
    pub id: String,
    pub status: BackupStatus,
    pub attempts: u32,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub history: Vec<Attempt>,
    /// How the latest verify ended, once it has.
    pub verify: Option<String>,
}

/// One stakeholder message as journaled: sent, failed, or marked sent by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageRecord {
    pub phase: String,
    pub at: Timestamp,
    pub by: String,
    pub ok: bool,
    pub by_hand: bool,
    pub exit: Option<i32>,
    pub file: String,
    pub subject: String,
    pub body: String,
    pub detail: Option<String>,
    pub step: Option<String>,
}

/// A send whose outcome the journal does not have yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sending {
    pub phase: String,
    pub file: String,
    pub step: Option<String>,
    pub at: Timestamp,
}

/// A window extension: how much, why, who, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Extension {
    pub at: Timestamp,
    pub by: String,
    pub duration: Duration,
    pub reason: String,
}

/// A gate passed by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Override {
    pub at: Timestamp,
    pub by: String,
    pub step: String,
    pub unmet: Vec<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowState {
    pub start: Timestamp,
    pub end: Timestamp,
    pub timezone: String,
    pub extended_by: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunState {
    pub session: String,
    pub runbook_path: String,
    pub runbook_sha256: String,
    pub started_at: Option<Timestamp>,
    pub started_by: String,
    pub vars: BTreeMap<String, String>,
    pub window: WindowState,
    /// A dry run: the view never starts a command, a backup or a send.
    pub rehearsal: bool,
    /// In runbook order.
    pub steps: Vec<StepState>,
    pub backups: Vec<BackupState>,
    pub downtime_started: Option<Timestamp>,
    pub downtime_ended: Option<Timestamp>,
    pub rollback_started: Option<Timestamp>,
    pub rollback_reason: Option<String>,
    pub extensions: Vec<Extension>,
    pub overrides: Vec<Override>,
    pub messages_saved: u32,
    /// Successful sends (and messages marked sent by hand).
    pub messages_sent: u32,
    /// Every send and every failed send, oldest first.
    pub messages: Vec<MessageRecord>,
    /// A send started and not yet settled in the journal.
    pub sending: Option<Sending>,
    /// The saved drafts still relevant: phase to file, the latest save per phase.
    pub saved_drafts: BTreeMap<String, String>,
    pub finished: Option<Outcome>,
    pub finished_at: Option<Timestamp>,
    /// Sequence number of the last applied record: "saved #N".
    pub last_seq: u64,
    pub last_event_at: Option<Timestamp>,
    /// Events naming a step or backup the runbook does not have. Zero unless the
    /// journal and runbook disagree, which resume checks before it gets here.
    pub unknown_refs: u32,
    /// Each step's place in `steps`, by id.
    #[serde(skip)]
    index: StepIndex,
}

/// Where each step is in [`RunState::steps`], by id. Nearly every record of a journal
/// names a step, and a frame looks up every step more than once: a scan by id is a
/// thousand string compares each time in a 1,000-step runbook, which made replaying a
/// 100,000-event journal take most of a second and a frame some 30 ms.
///
/// Only a hint: `steps` is public, so every answer is checked against it, and a stale
/// or missing entry falls back to the scan.
#[derive(Debug, Clone, Default)]
struct StepIndex(HashMap<String, usize, BuildHasherDefault<Fnv>>);

/// FNV-1a. Step ids are a few bytes chosen by the runbook's author, so SipHash's guard
/// against chosen keys buys nothing here, and a frame hashes thousands of ids.
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Built from `steps` when the state is made: two states differ by what they hold, never
/// by their index.
impl PartialEq for StepIndex {
    fn eq(&self, _: &StepIndex) -> bool {
        true
    }
}

impl Eq for StepIndex {}

impl RunState {
    /// The state before any event: every step and backup pending.
    pub fn new(runbook: &Runbook) -> RunState {
        let steps: Vec<StepState> = runbook
            .steps()
            .map(|(_, s)| StepState {
                id: s.id.get_ref().clone(),
                status: StepStatus::Pending,
                attempts: 0,
                notes: Vec::new(),
                skip_reason: None,
                override_reason: None,
                started_at: None,
                finished_at: None,
                last_exit: None,
                history: Vec::new(),
                failed_reason: None,
            })
            .collect();
        let index = StepIndex(
            steps
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id.clone(), i))
                .collect(),
        );
        let backups = runbook
            .file
            .backups
            .iter()
            .map(|b| BackupState {
                id: b.id.get_ref().clone(),
                status: BackupStatus::Pending,
                attempts: 0,
                started_at: None,
                finished_at: None,
                history: Vec::new(),
                verify: None,
            })
            .collect();
        RunState {
            session: String::new(),
            runbook_path: String::new(),
            runbook_sha256: String::new(),
            started_at: None,
            started_by: String::new(),
            vars: BTreeMap::new(),
            window: WindowState {
                start: Timestamp::UNIX_EPOCH,
                end: Timestamp::UNIX_EPOCH,
                timezone: "UTC".into(),
                extended_by: Duration::ZERO,
            },
            rehearsal: false,
            steps,
            backups,
            downtime_started: None,
            downtime_ended: None,
            rollback_started: None,
            rollback_reason: None,
            extensions: Vec::new(),
            overrides: Vec::new(),
            messages_saved: 0,
            messages_sent: 0,
            messages: Vec::new(),
            sending: None,
            saved_drafts: BTreeMap::new(),
            finished: None,
            finished_at: None,
            last_seq: 0,
            last_event_at: None,
            unknown_refs: 0,
            index,
        }
    }

    pub fn replay<'a>(
        runbook: &Runbook,
        records: impl IntoIterator<Item = &'a Record>,
    ) -> RunState {
        let mut state = RunState::new(runbook);
        for r in records {
            state.apply(runbook, r);
        }
        state
    }

    pub fn step(&self, id: &str) -> Option<&StepState> {
        self.position(id).map(|i| &self.steps[i])
    }

    /// The steps of the forward path (`contingency` false) or of the rollback, in the
    /// runbook's order, each with its state. `steps` is built in that same order, so the
    /// pairing walks both lists once instead of looking each step up: the window pane
    /// and the message draft do this for every step on every frame. A state that does
    /// not line up (`steps` is public and could have been changed) is looked up by id.
    pub fn path<'a>(
        &'a self,
        runbook: &'a Runbook,
        contingency: bool,
    ) -> impl Iterator<Item = (&'a Step, Option<&'a StepState>)> + 'a {
        runbook
            .file
            .phases
            .iter()
            .flat_map(|p| p.steps.iter().map(move |s| (p.contingency, s)))
            .enumerate()
            .filter(move |(_, (c, _))| *c == contingency)
            .map(move |(i, (_, def))| {
                let id = def.id.get_ref();
                match self.steps.get(i) {
                    Some(st) if st.id == *id => (def, Some(st)),
                    _ => (def, self.step(id)),
                }
            })
    }

    /// The step's index in `steps` (and so in the runbook's order).
    fn position(&self, id: &str) -> Option<usize> {
        match self.index.0.get(id) {
            Some(&i) if self.steps.get(i).is_some_and(|s| s.id == id) => Some(i),
            _ => self.steps.iter().position(|s| s.id == id),
        }
    }

    fn step_mut(&mut self, id: &str) -> Option<&mut StepState> {
        let index = self.position(id);
        if index.is_none() {
            self.unknown_refs += 1;
        }
        index.map(move |i| &mut self.steps[i])
    }

    fn backup_mut(&mut self, id: &str) -> Option<&mut BackupState> {
        let index = self.backups.iter().position(|b| b.id == id);
        if index.is_none() {
            self.unknown_refs += 1;
        }
        index.map(move |i| &mut self.backups[i])
    }

    pub fn backup(&self, id: &str) -> Option<&BackupState> {
        self.backups.iter().find(|b| b.id == id)
    }

    /// Folds one record in. Never fails: the journal is the truth, so whatever it says
    /// happened, happened.
    pub fn apply(&mut self, runbook: &Runbook, record: &Record) {
        self.last_seq = record.seq;
        self.last_event_at = Some(record.at);
        let at = record.at;
        match &record.event {
            Event::SessionStarted {
                session,
                runbook_path,
                runbook_sha256,
                vars,
                window,
                rehearsal,
                ..
            } => {
                self.rehearsal = *rehearsal;
                self.session = session.clone();
                self.runbook_path = runbook_path.clone();
                self.runbook_sha256 = runbook_sha256.clone();
                self.started_at = Some(at);
                self.started_by = record.by.clone();
                self.vars = vars.clone();
                let WindowSpec {
                    start,
                    end,
                    timezone,
                } = window.clone();
                self.window = WindowState {
                    start,
                    end,
                    timezone,
                    extended_by: Duration::ZERO,
                };
            }
            Event::SessionResumed { .. } => {}
            Event::StepStarted { step, attempt } => {
                let downtime_start = self.is_downtime(runbook, step, DowntimeMark::Start);
                if let Some(s) = self.step_mut(step) {
                    s.status = StepStatus::Running;
                    s.attempts = s.attempts.max(*attempt);
                    s.started_at = Some(at);
                    s.finished_at = None;
                    s.failed_reason = None;
                    s.history.push(Attempt::new(*attempt, at));
                }
                if downtime_start && self.downtime_started.is_none() {
                    self.downtime_started = Some(at);
                }
            }
            Event::StepFinished {
                step,
                attempt,
                exit,
                signal,
                timed_out,
                cancelled,
                expect_matched,
                detached,
                detail,
                ended,
            } => {
                let at = ended.unwrap_or(at);
                // Only the attempt that is current can finish the step; update never
                // records another, and a hand-edited journal must not rewind a newer run.
                if self.step(step).is_some_and(|s| s.attempts != *attempt) {
                    return;
                }
                let ok = *exit == Some(0)
                    && signal.is_none()
                    && !timed_out
                    && !cancelled
                    && *expect_matched != Some(false);
                if let Some(s) = self.step_mut(step) {
                    s.status = if ok {
                        StepStatus::Done
                    } else {
                        StepStatus::Failed
                    };
                    s.finished_at = Some(at);
                    s.last_exit = *exit;
                    let a = attempt_mut(&mut s.history, *attempt, at);
                    a.finished_at = Some(at);
                    a.exit = *exit;
                    a.signal = *signal;
                    a.timed_out = *timed_out;
                    a.cancelled = *cancelled;
                    a.expect_matched = *expect_matched;
                    a.detached = *detached;
                    a.detail = detail.clone();
                }
                if ok {
                    self.mark_downtime_end(runbook, step, at);
                }
            }
            Event::StepDone { step } => {
                let downtime_start = self.is_downtime(runbook, step, DowntimeMark::Start);
                if let Some(s) = self.step_mut(step) {
                    s.status = StepStatus::Done;
                    s.finished_at = Some(at);
                    s.skip_reason = None;
                }
                if downtime_start && self.downtime_started.is_none() {
                    self.downtime_started = Some(at);
                }
                self.mark_downtime_end(runbook, step, at);
            }
            Event::StepSkipped { step, reason } => {
                if let Some(s) = self.step_mut(step) {
                    s.status = StepStatus::Skipped;
                    s.skip_reason = Some(reason.clone());
                    s.finished_at = Some(at);
                }
            }
            Event::StepReopened { step } => {
                if let Some(s) = self.step_mut(step) {
                    s.status = StepStatus::Pending;
                    s.skip_reason = None;
                    s.override_reason = None;
                    s.finished_at = None;
                }
            }
            Event::StepInterrupted { step, attempt } => {
                if let Some(s) = self.step_mut(step) {
                    s.status = StepStatus::Interrupted;
                    attempt_mut(&mut s.history, *attempt, at).interrupted = true;
                }
            }
            Event::StepFailed { step, reason } => {
                if let Some(s) = self.step_mut(step) {
                    s.status = StepStatus::Failed;
                    s.finished_at = Some(at);
                    s.failed_reason = Some(reason.clone());
                }
            }
            Event::GateOverridden {
                step,
                unmet,
                reason,
            } => {
                self.overrides.push(Override {
                    at,
                    by: record.by.clone(),
                    step: step.clone(),
                    unmet: unmet.clone(),
                    reason: reason.clone(),
                });
                if let Some(s) = self.step_mut(step) {
                    s.override_reason = Some(reason.clone());
                }
            }
            Event::NoteAdded { step, text } => {
                let by = record.by.clone();
                if let Some(s) = self.step_mut(step) {
                    s.notes.push(Note {
                        at,
                        by,
                        text: text.clone(),
                    });
                }
            }
            Event::BackupStarted { backup, attempt } => {
                if let Some(b) = self.backup_mut(backup) {
                    b.status = BackupStatus::Running;
                    b.attempts = b.attempts.max(*attempt);
                    b.started_at = Some(at);
                    b.finished_at = None;
                    b.verify = None;
                    b.history.push(Attempt::new(*attempt, at));
                }
            }
            Event::BackupFinished {
                backup,
                attempt,
                exit,
                signal,
                timed_out,
                cancelled,
                detached,
                ended,
            } => {
                let at = ended.unwrap_or(at);
                if self.backup(backup).is_some_and(|b| b.attempts != *attempt) {
                    return;
                }
                let has_verify = runbook.backup(backup).is_some_and(|b| b.verify.is_some());
                let ok = *exit == Some(0) && signal.is_none() && !timed_out && !cancelled;
                if let Some(b) = self.backup_mut(backup) {
                    b.finished_at = Some(at);
                    b.status = match (ok, has_verify) {
                        (false, _) => BackupStatus::Failed,
                        (true, true) => BackupStatus::Verifying,
                        (true, false) => BackupStatus::Verified,
                    };
                    let a = attempt_mut(&mut b.history, *attempt, at);
                    a.finished_at = Some(at);
                    a.exit = *exit;
                    a.signal = *signal;
                    a.timed_out = *timed_out;
                    a.cancelled = *cancelled;
                    a.detached = *detached;
                }
            }
            Event::BackupVerified {
                backup,
                ok,
                detail,
                ended,
                ..
            } => {
                let at = ended.unwrap_or(at);
                if let Some(b) = self.backup_mut(backup) {
                    b.finished_at = Some(at);
                    b.status = if *ok {
                        BackupStatus::Verified
                    } else {
                        BackupStatus::Failed
                    };
                    b.verify = Some(detail.clone().unwrap_or_else(|| {
                        if *ok { "verified" } else { "verify failed" }.to_string()
                    }));
                }
            }
            Event::BackupInterrupted { backup, attempt } => {
                if let Some(b) = self.backup_mut(backup) {
                    b.status = BackupStatus::Interrupted;
                    attempt_mut(&mut b.history, *attempt, at).interrupted = true;
                }
            }
            Event::WindowExtended { by, reason } => {
                self.extensions.push(Extension {
                    at,
                    by: record.by.clone(),
                    duration: *by,
                    reason: reason.clone(),
                });
                self.window.extended_by = self.window.extended_by + *by;
                self.window.end = self
                    .window
                    .end
                    .checked_add(by.signed())
                    .unwrap_or(self.window.end);
            }
            Event::RollbackStarted { reason } => {
                if self.rollback_started.is_none() {
                    self.rollback_started = Some(at);
                    self.rollback_reason = Some(reason.clone());
                }
            }
            Event::MessageSending { phase, file, step } => {
                self.sending = Some(Sending {
                    phase: phase.clone(),
                    file: file.clone(),
                    step: step.clone(),
                    at,
                });
            }
            Event::MessageSaved { phase, file } => {
                self.messages_saved += 1;
                self.saved_drafts.insert(phase.clone(), file.clone());
            }
            Event::MessageSent {
                phase,
                file,
                exit,
                ok,
                step,
                subject,
                body,
                detail,
                by_hand,
            } => {
                if self.sending.as_ref().is_some_and(|s| s.file == *file) {
                    self.sending = None;
                }
                if *ok {
                    self.messages_sent += 1;
                    // Sent: the saved draft of this phase has served its purpose.
                    self.saved_drafts.remove(phase);
                }
                self.messages.push(MessageRecord {
                    phase: phase.clone(),
                    at,
                    by: record.by.clone(),
                    ok: *ok,
                    by_hand: *by_hand,
                    exit: *exit,
                    file: file.clone(),
                    subject: subject.clone(),
                    body: body.clone(),
                    detail: detail.clone(),
                    step: step.clone(),
                });
            }
            Event::SessionFinished { outcome } => {
                self.finished = Some(*outcome);
                self.finished_at = Some(at);
            }
        }
    }

    fn mark_downtime_end(&mut self, runbook: &Runbook, step: &str, at: Timestamp) {
        if self.is_downtime(runbook, step, DowntimeMark::End) && self.downtime_started.is_some() {
            self.downtime_ended = Some(at);
        }
    }
}

/// The history entry of `attempt`, created if the journal never said it started (an
/// older journal, or a hand-edited one: the fold must never fail).
fn attempt_mut(history: &mut Vec<Attempt>, attempt: u32, at: Timestamp) -> &mut Attempt {
    let index = match history.iter().rposition(|a| a.attempt == attempt) {
        Some(i) => i,
        None => {
            history.push(Attempt::new(attempt, at));
            history.len() - 1
        }
    };
    &mut history[index]
}

impl RunState {
    /// Whether `step` carries the downtime `mark`: found through the index (the runbook's
    /// steps are in the same order as `steps`), by a search only if the two disagree.
    fn is_downtime(&self, runbook: &Runbook, step: &str, mark: DowntimeMark) -> bool {
        let def = self
            .position(step)
            .and_then(|i| nth_step(runbook, i))
            .filter(|s| s.id.get_ref() == step)
            .or_else(|| runbook.step(step));
        def.is_some_and(|s| s.downtime == Some(mark))
    }
}

/// The runbook's `i`th step in file order, one phase at a time rather than step by step.
fn nth_step(runbook: &Runbook, mut i: usize) -> Option<&Step> {
    for phase in &runbook.file.phases {
        match phase.steps.get(i) {
            Some(s) => return Some(s),
            None => i -= phase.steps.len(),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runbook() -> Runbook {
        Runbook::parse(
            "index.toml",
            r#"
[runbook]
title = "Index"

[window]
duration = "4h"

[[phase]]
id = "p1"
title = "One"

[[phase.step]]
id = "a"
title = "A"

[[phase.step]]
id = "b"
title = "B"
downtime = "start"

[[phase]]
id = "p2"
title = "Two"

[[phase.step]]
id = "c"
title = "C"

[[phase.step]]
id = "d"
title = "D"
downtime = "end"
"#,
        )
        .unwrap()
    }

    fn record(seq: u64, secs: i64, event: Event) -> Record {
        Record {
            seq,
            at: Timestamp::from_second(1_800_000_000 + secs).unwrap(),
            by: "x@y".into(),
            event,
        }
    }

    #[test]
    fn steps_are_found_by_id_even_after_the_list_changed() {
        let rb = runbook();
        let mut run = RunState::new(&rb);
        for id in ["a", "b", "c", "d"] {
            assert_eq!(run.step(id).map(|s| s.id.as_str()), Some(id));
        }
        assert!(run.step("nope").is_none());
        // `steps` is public: the index is stale now and must not be believed.
        run.steps.reverse();
        run.steps.pop();
        for id in ["b", "c", "d"] {
            assert_eq!(run.step(id).map(|s| s.id.as_str()), Some(id));
        }
        assert!(run.step("a").is_none());
    }

    #[test]
    fn downtime_marks_are_found_in_any_phase() {
        let rb = runbook();
        let done = |seq, secs, step: &str| record(seq, secs, Event::StepDone { step: step.into() });
        let records = [
            done(1, 10, "a"),
            done(2, 20, "b"),
            done(3, 30, "c"),
            done(4, 40, "d"),
        ];
        // Each step is checked for its own mark, not a neighbour's: `c` ends nothing.
        let before_d = RunState::replay(&rb, &records[..3]);
        assert_eq!(
            before_d.downtime_started,
            Some(Timestamp::from_second(1_800_000_020).unwrap())
        );
        assert_eq!(before_d.downtime_ended, None);
        let run = RunState::replay(&rb, &records);
        assert_eq!(
            run.downtime_started,
            Some(Timestamp::from_second(1_800_000_020).unwrap())
        );
        assert_eq!(
            run.downtime_ended,
            Some(Timestamp::from_second(1_800_000_040).unwrap())
        );
        assert_eq!(run.unknown_refs, 0);
    }

    #[test]
    fn the_path_pairs_each_step_with_its_own_state_in_either_direction() {
        let mut text = runbook().source.clone();
        text.push_str(
            "\n[[phase]]\nid = \"back\"\ntitle = \"Back\"\ncontingency = true\n\n\
             [[phase.step]]\nid = \"r\"\ntitle = \"R\"\n",
        );
        let rb = Runbook::parse("path.toml", &text).unwrap();
        let run = RunState::replay(&rb, &[record(1, 10, Event::StepDone { step: "b".into() })]);
        let ids = |run: &RunState, contingency: bool| -> Vec<(String, String, bool)> {
            run.path(&rb, contingency)
                .map(|(def, st)| {
                    let st = st.expect("every step has a state");
                    (
                        def.id.get_ref().clone(),
                        st.id.clone(),
                        st.status == StepStatus::Done,
                    )
                })
                .collect()
        };
        let forward = vec![
            ("a".to_string(), "a".to_string(), false),
            ("b".into(), "b".into(), true),
            ("c".into(), "c".into(), false),
            ("d".into(), "d".into(), false),
        ];
        assert_eq!(ids(&run, false), forward);
        assert_eq!(ids(&run, true), vec![("r".into(), "r".into(), false)]);
        // Out of order, the pairing falls back to the id and stays right.
        let mut shuffled = run.clone();
        shuffled.steps.reverse();
        assert_eq!(ids(&shuffled, false), forward);
        assert_eq!(ids(&shuffled, true), vec![("r".into(), "r".into(), false)]);
    }
}
