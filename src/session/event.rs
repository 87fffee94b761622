//! The journal's vocabulary: everything that happened in a session, one event a line.
//!
//! An event never carries a command: resuming can only run what the verified runbook
//! copy says.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::runbook::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    pub start: Timestamp,
    pub end: Timestamp,
    /// IANA name used to show times on screen and in messages.
    pub timezone: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    RolledBack,
    Aborted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    SessionStarted {
        session: String,
        runbook_path: String,
        runbook_sha256: String,
        vars: BTreeMap<String, String>,
        window: WindowSpec,
        cutover_version: String,
        /// A dry run: nothing is executed, steps are only walked and marked by hand.
        #[serde(default, skip_serializing_if = "is_false")]
        rehearsal: bool,
    },
    SessionResumed {
        pid: u32,
    },
    StepStarted {
        step: String,
        attempt: u32,
    },
    /// A command (or a backup step's backups) ended. The extra fields default so that
    /// journals written before they existed still read.
    StepFinished {
        step: String,
        attempt: u32,
        exit: Option<i32>,
        signal: Option<i32>,
        timed_out: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        cancelled: bool,
        /// `Some(false)`: the output did not match the step's `expect`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect_matched: Option<bool>,
        /// It ended while no screen was attached, and was picked up on resume.
        #[serde(default, skip_serializing_if = "is_false")]
        detached: bool,
        /// Why a backup step failed: which backup, and how.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        /// When the command really ended (later than `at` when picked up on resume).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ended: Option<Timestamp>,
    },
    /// The operator decided an interrupted or running-by-hand step failed.
    StepFailed {
        step: String,
        reason: String,
    },
    /// Marked done by the operator (manual steps, or a command run by hand).
    StepDone {
        step: String,
    },
    StepSkipped {
        step: String,
        reason: String,
    },
    StepReopened {
        step: String,
    },
    StepInterrupted {
        step: String,
        attempt: u32,
    },
    /// The operator went past an unmet `requires` gate, with a typed reason.
    GateOverridden {
        step: String,
        unmet: Vec<String>,
        reason: String,
    },
    NoteAdded {
        step: String,
        text: String,
    },
    BackupStarted {
        backup: String,
        attempt: u32,
    },
    BackupFinished {
        backup: String,
        attempt: u32,
        exit: Option<i32>,
        signal: Option<i32>,
        timed_out: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        cancelled: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        detached: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ended: Option<Timestamp>,
    },
    BackupVerified {
        backup: String,
        ok: bool,
        /// How the verify command ended (`exit 0`, `killed by SIGTERM`, ...).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        #[serde(default, skip_serializing_if = "is_false")]
        detached: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ended: Option<Timestamp>,
    },
    /// Its supervisor vanished without an exit record (a reboot, or killed).
    BackupInterrupted {
        backup: String,
        attempt: u32,
    },
    WindowExtended {
        by: Duration,
        reason: String,
    },
    RollbackStarted {
        reason: String,
    },
    MessageSaved {
        phase: String,
        file: String,
    },
    /// A send through `message.send` is about to start with the text in `file`. Its
    /// `message_sent` follows; a journal that ends without one lost the outcome.
    MessageSending {
        phase: String,
        file: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
    },
    /// A message went out through `message.send` (or failed to), or the operator marked
    /// it sent by other means. It carries the exact text, so the journal alone tells what
    /// stakeholders were told.
    MessageSent {
        phase: String,
        /// The saved copy under `messages/` (empty when marked sent by hand).
        file: String,
        exit: Option<i32>,
        #[serde(default)]
        ok: bool,
        /// The message step this send completes, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        #[serde(default)]
        subject: String,
        #[serde(default)]
        body: String,
        /// How a failed send failed (`exit 1: mail: cannot connect`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        /// Sent outside cutover; the operator says so.
        #[serde(default, skip_serializing_if = "is_false")]
        by_hand: bool,
    },
    SessionFinished {
        outcome: Outcome,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One journal line: the event plus who, when and its place in the sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    pub at: Timestamp,
    pub by: String,
    pub event: Event,
}
