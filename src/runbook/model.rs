//! The runbook file as written by people: every table denies unknown keys so a typo
//! fails at `validate` time instead of silently meaning nothing at 2 a.m.
//!
//! The doc comments on these types are also the descriptions in `cutover schema`, which
//! editors show on hover: they are written for the runbook's author.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::duration::Duration;
use super::schema;

/// A cutover runbook: the checklist of one maintenance window, with the window itself, the
/// backups a rollback depends on and the messages to stakeholders.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunbookFile {
    /// The runbook's title and the defaults its commands run with.
    pub runbook: Header,
    /// Variables: defaults that `--var KEY=VALUE` overrides. Templates read them as
    /// `{{ NAME }}`, commands as `$NAME` from their environment.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub vars: BTreeMap<String, Spanned<String>>,
    /// The maintenance window the plan must fit in.
    #[serde(default)]
    pub window: Window,
    /// The backups a rollback depends on; a backup step takes them, in parallel.
    #[serde(default, rename = "backup")]
    pub backups: Vec<Backup>,
    /// Stakeholder messages: how to send them and their templates.
    #[serde(default)]
    pub message: Option<Messages>,
    /// The phases of the checklist, in order.
    #[serde(default, rename = "phase")]
    pub phases: Vec<Phase>,
}

/// The runbook's title and the defaults its commands run with.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Shown in the title bar, the session list and the report.
    pub title: String,
    /// One line under the title (a template, e.g. `Upgrade {{ SERVICE }} to {{ TO_VERSION }}`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub summary: Option<Spanned<String>>,
    /// Checks the variables `FROM_VERSION` and `TO_VERSION` against a version scheme.
    #[serde(default)]
    #[schemars(with = "Option<VersionScheme>")]
    pub version_scheme: Option<Spanned<VersionScheme>>,
    /// Links to the documentation of the change.
    #[serde(default)]
    pub docs: Vec<String>,
    /// The shell every command runs with, as `<shell> -c <run>` (default `sh`).
    #[serde(default)]
    pub shell: Option<String>,
    /// Where commands run, relative to the runbook file (default: where cutover was started).
    #[serde(default)]
    pub workdir: Option<String>,
    /// Environment variables the commands need that must never be written down, e.g.
    /// `["DB_PASSWORD"]`. Each is read from the environment cutover is started (and
    /// resumed) in, which must set it to at least 4 characters; commands see it as
    /// `$DB_PASSWORD`. Never journaled, never available to templates, and masked as
    /// `****` in the output pane, messages and the report.
    #[serde(default)]
    #[schemars(schema_with = "schema::env_names")]
    pub secrets: Vec<Spanned<String>>,
}

/// A version scheme for `FROM_VERSION` and `TO_VERSION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VersionScheme {
    /// `{year}.{month}.{patch}`, e.g. `2025.05.02`.
    Calver,
    /// `MAJOR.MINOR.PATCH`.
    Semver,
    /// Any text.
    Free,
}

/// The maintenance window. Give `duration` or `end`, not both.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = schema::duration_or_end)]
pub struct Window {
    /// When the window opens: RFC 3339 with an offset, e.g. `2026-11-28T22:00:00+01:00`
    /// (`--window-start` overrides; default: when the session starts).
    #[serde(default)]
    #[schemars(schema_with = "schema::time")]
    pub start: Option<Spanned<String>>,
    /// How long the window lasts, e.g. `4h` (`--window-duration` overrides).
    #[serde(default)]
    #[schemars(with = "Option<Duration>")]
    pub duration: Option<Spanned<Duration>>,
    /// When the window closes: RFC 3339 with an offset.
    #[serde(default)]
    #[schemars(schema_with = "schema::time")]
    pub end: Option<Spanned<String>>,
    /// The IANA time zone times are shown in, on screen and in messages, e.g.
    /// `Europe/Amsterdam` (default: the machine's).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub timezone: Option<Spanned<String>>,
    /// The downtime announced to stakeholders; the downtime clock is measured against it.
    #[serde(default)]
    pub expected_downtime: Option<Duration>,
    /// Time kept at the end of the window for a rollback; go/no-go is the window's end minus
    /// this (default: the sum of the contingency phases' estimates).
    #[serde(default)]
    pub rollback_reserve: Option<Duration>,
}

/// A backup a rollback depends on, taken by a backup step.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// A unique name; a backup step lists it in `backups`.
    #[schemars(schema_with = "schema::id")]
    pub id: Spanned<String>,
    /// Shown in the backups pane.
    pub title: String,
    /// The command that takes the backup. Not a template: it reads variables from its
    /// environment (`$NAME`).
    pub run: String,
    /// A command that checks the backup; it counts as verified when this exits 0.
    #[serde(default)]
    pub verify: Option<String>,
    /// The file the backup writes (a template); the backups pane shows its size.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub artifact: Option<Spanned<String>>,
    /// How long it usually takes; counts in the plan and the projected finish.
    #[serde(default)]
    pub estimate: Option<Duration>,
    /// Stop the backup (SIGTERM, then SIGKILL after `grace`) when it runs longer.
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL on a timeout or cancel.
    #[serde(default)]
    pub grace: Option<Duration>,
    /// A regular expression on the output: one capture group is a percentage, two are done
    /// and total, e.g. `(\d+)/(\d+) disks`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub progress: Option<Spanned<String>>,
    /// The shell for this backup's commands (default: the runbook's).
    #[serde(default)]
    pub shell: Option<String>,
    /// Where this backup's commands run (default: the runbook's).
    #[serde(default)]
    pub workdir: Option<String>,
}

/// Stakeholder messages: how to send them and the templates for each moment. A moment
/// without a template uses the built-in one.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Messages {
    /// The command that sends a message: the body arrives on stdin, the subject in
    /// `$CUTOVER_SUBJECT`.
    #[serde(default)]
    pub send: Option<String>,
    /// The promised cadence of `during` updates; the window pane says when the next is due.
    #[serde(default)]
    pub update_every: Option<Duration>,
    /// Before the window opens: the announcement.
    #[serde(default)]
    pub before: Option<MessageTemplate>,
    /// Inside the window: the progress updates.
    #[serde(default)]
    pub during: Option<MessageTemplate>,
    /// Once the work is done.
    #[serde(default)]
    pub after: Option<MessageTemplate>,
    /// From the start of a rollback on.
    #[serde(default)]
    pub rollback: Option<MessageTemplate>,
}

/// A message template, rendered with the runbook's variables and the live values
/// (`window_start`, `eta`, `current_step`, ...).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageTemplate {
    /// The subject line (a template).
    #[schemars(with = "String")]
    pub subject: Spanned<String>,
    /// The body (a template).
    #[schemars(with = "String")]
    pub body: Spanned<String>,
}

/// A phase of the checklist: a titled group of steps.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// A unique name.
    #[schemars(schema_with = "schema::id")]
    pub id: Spanned<String>,
    /// Shown as the phase's heading in the checklist.
    pub title: String,
    /// More about the phase (a template).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub detail: Option<Spanned<String>>,
    /// Not part of the happy path: entered on demand, e.g. a rollback. Its estimates make
    /// the default rollback reserve.
    #[serde(default)]
    pub contingency: bool,
    /// The steps, in order.
    #[serde(default, rename = "step")]
    pub steps: Vec<Step>,
}

/// A step. `run` makes it a command step, `backups` a backup step, `message` a message
/// step, none of them a manual step; at most one of the three.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = schema::one_kind)]
pub struct Step {
    /// A unique name; `requires` and the session's records refer to the step by it.
    #[schemars(schema_with = "schema::id")]
    pub id: Spanned<String>,
    /// Shown in the checklist.
    pub title: String,
    /// What to do and why (a template).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub detail: Option<Spanned<String>>,
    /// A callout shown in bold on the step (a template).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub important: Option<Spanned<String>>,
    /// Links shown with the step.
    #[serde(default)]
    pub links: Vec<String>,
    /// Completing the step asks for a note (what was checked, what was seen).
    #[serde(default)]
    pub notes_required: bool,
    /// How long the step usually takes; counts in the plan and the projected finish.
    #[serde(default)]
    pub estimate: Option<Duration>,
    /// The command this step runs, as `<shell> -c <run>`. Not a template: it reads variables
    /// from its environment (`$NAME`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub run: Option<Spanned<String>>,
    /// The ids of the backups this step takes, in parallel.
    #[serde(default)]
    #[schemars(schema_with = "schema::ids")]
    pub backups: Option<Spanned<Vec<Spanned<String>>>>,
    /// The message this step sends: `before`, `during`, `after` or `rollback`.
    #[serde(default)]
    #[schemars(schema_with = "schema::message_phase")]
    pub message: Option<Spanned<String>>,
    /// Steps that must be done first (the gate; passing it needs a typed reason).
    #[serde(default)]
    #[schemars(schema_with = "schema::ids")]
    pub requires: Vec<Spanned<String>>,
    /// The operator types the step's id to start its command.
    #[serde(default)]
    pub confirm: bool,
    /// Stop the command (SIGTERM, then SIGKILL after `grace`) when it runs longer.
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL on a timeout or cancel.
    #[serde(default)]
    pub grace: Option<Duration>,
    /// Where the downtime clock starts or stops.
    #[serde(default)]
    pub downtime: Option<DowntimeMark>,
    /// What to offer when the command fails.
    #[serde(default)]
    pub on_failure: Option<OnFailure>,
    /// A regular expression the command's output must match for the step to succeed.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub expect: Option<Spanned<String>>,
    /// The shell for this step's command (default: the runbook's).
    #[serde(default)]
    pub shell: Option<String>,
    /// Where this step's command runs (default: the runbook's).
    #[serde(default)]
    pub workdir: Option<String>,
}

/// Where the downtime clock starts or stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DowntimeMark {
    /// The downtime clock starts with this step.
    Start,
    /// The downtime clock stops when this step is done.
    End,
}

/// What to offer when a step's command fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Offer to enter the rollback phase.
    Rollback,
    /// Stop and let the operator decide (the default).
    Stop,
}

/// What a step does, derived from which of `run`, `backups` and `message` it sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Manual,
    Command,
    Backup,
    Message,
}

impl StepKind {
    pub fn word(self) -> &'static str {
        match self {
            StepKind::Manual => "manual",
            StepKind::Command => "command",
            StepKind::Backup => "backup",
            StepKind::Message => "message",
        }
    }
}

impl Step {
    /// The kind, or the keys that conflict when a step sets more than one.
    pub fn kinds(&self) -> Vec<(StepKind, std::ops::Range<usize>)> {
        let mut kinds = Vec::new();
        if let Some(run) = &self.run {
            kinds.push((StepKind::Command, run.span()));
        }
        if let Some(b) = &self.backups {
            kinds.push((StepKind::Backup, b.span()));
        }
        if let Some(m) = &self.message {
            kinds.push((StepKind::Message, m.span()));
        }
        kinds
    }

    /// The first of [`Step::kinds`], without building the list: every frame asks it of
    /// every step.
    pub fn kind(&self) -> StepKind {
        if self.run.is_some() {
            StepKind::Command
        } else if self.backups.is_some() {
            StepKind::Backup
        } else if self.message.is_some() {
            StepKind::Message
        } else {
            StepKind::Manual
        }
    }

    /// The backups this step takes, in its order (validate refuses a repeat, and a
    /// backup taken by two steps).
    pub fn backup_ids(&self) -> Vec<&str> {
        self.backups.as_ref().map_or_else(Vec::new, |l| {
            l.get_ref().iter().map(|b| b.get_ref().as_str()).collect()
        })
    }
}
