//! The runbook file as written by people: every table denies unknown keys so a typo
//! fails at `validate` time instead of silently meaning nothing at 2 a.m.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::duration::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunbookFile {
    pub runbook: Header,
    #[serde(default)]
    pub vars: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub window: Window,
    #[serde(default, rename = "backup")]
    pub backups: Vec<Backup>,
    #[serde(default)]
    pub message: Option<Messages>,
    #[serde(default, rename = "phase")]
    pub phases: Vec<Phase>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub title: String,
    #[serde(default)]
    pub summary: Option<Spanned<String>>,
    #[serde(default)]
    pub version_scheme: Option<Spanned<VersionScheme>>,
    #[serde(default)]
    pub docs: Vec<String>,
    #[serde(default)]
    pub shell: Option<String>,
    #[serde(default)]
    pub workdir: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionScheme {
    /// `{year}.{month}.{patch}`, e.g. `2025.05.02`.
    Calver,
    /// `MAJOR.MINOR.PATCH`.
    Semver,
    /// Any text.
    Free,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    #[serde(default)]
    pub start: Option<Spanned<String>>,
    #[serde(default)]
    pub duration: Option<Spanned<Duration>>,
    #[serde(default)]
    pub end: Option<Spanned<String>>,
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    #[serde(default)]
    pub expected_downtime: Option<Duration>,
    #[serde(default)]
    pub rollback_reserve: Option<Duration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    pub id: Spanned<String>,
    pub title: String,
    pub run: String,
    #[serde(default)]
    pub verify: Option<String>,
    #[serde(default)]
    pub artifact: Option<Spanned<String>>,
    #[serde(default)]
    pub estimate: Option<Duration>,
    #[serde(default)]
    pub timeout: Option<Duration>,
    #[serde(default)]
    pub grace: Option<Duration>,
    #[serde(default)]
    pub progress: Option<Spanned<String>>,
    #[serde(default)]
    pub shell: Option<String>,
    #[serde(default)]
    pub workdir: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Messages {
    #[serde(default)]
    pub send: Option<String>,
    #[serde(default)]
    pub update_every: Option<Duration>,
    #[serde(default)]
    pub before: Option<MessageTemplate>,
    #[serde(default)]
    pub during: Option<MessageTemplate>,
    #[serde(default)]
    pub after: Option<MessageTemplate>,
    #[serde(default)]
    pub rollback: Option<MessageTemplate>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageTemplate {
    pub subject: Spanned<String>,
    pub body: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub id: Spanned<String>,
    pub title: String,
    #[serde(default)]
    pub detail: Option<Spanned<String>>,
    #[serde(default)]
    pub contingency: bool,
    #[serde(default, rename = "step")]
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub id: Spanned<String>,
    pub title: String,
    #[serde(default)]
    pub detail: Option<Spanned<String>>,
    #[serde(default)]
    pub important: Option<Spanned<String>>,
    #[serde(default)]
    pub links: Vec<String>,
    #[serde(default)]
    pub notes_required: bool,
    #[serde(default)]
    pub estimate: Option<Duration>,
    #[serde(default)]
    pub run: Option<Spanned<String>>,
    #[serde(default)]
    pub backups: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub message: Option<Spanned<String>>,
    #[serde(default)]
    pub requires: Vec<Spanned<String>>,
    #[serde(default)]
    pub confirm: bool,
    #[serde(default)]
    pub timeout: Option<Duration>,
    #[serde(default)]
    pub grace: Option<Duration>,
    #[serde(default)]
    pub downtime: Option<DowntimeMark>,
    #[serde(default)]
    pub on_failure: Option<OnFailure>,
    #[serde(default)]
    pub expect: Option<Spanned<String>>,
    #[serde(default)]
    pub shell: Option<String>,
    #[serde(default)]
    pub workdir: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DowntimeMark {
    Start,
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
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

    pub fn kind(&self) -> StepKind {
        self.kinds().first().map_or(StepKind::Manual, |k| k.0)
    }

    /// The backups this step takes, in its order (validate refuses a repeat, and a
    /// backup taken by two steps).
    pub fn backup_ids(&self) -> Vec<&str> {
        self.backups.as_ref().map_or_else(Vec::new, |l| {
            l.get_ref().iter().map(|b| b.get_ref().as_str()).collect()
        })
    }
}
