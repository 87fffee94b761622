//! The app: the pure core (`update`), its vocabulary (`msg`, `keymap`, `view`) and the
//! runtime that owns the terminal, the journal and the clock.

pub mod keymap;
pub mod message;
pub mod msg;
pub mod runtime;
pub mod update;
pub mod view;
pub mod watcher;
pub mod window;

use crate::run::{BackupStatus, RunState};
use crate::runbook::{Runbook, StepKind};
use crate::runner::TaskId;
use crate::session::Record;

pub use keymap::{Action, Keymap};
pub use msg::{Effect, Flash, Msg};
pub use update::update;
pub use view::{Pane, View};

/// Everything `render` needs and `update` works on.
pub struct App {
    pub runbook: Runbook,
    /// Journaled facts; changed only by [`App::apply`].
    pub run: RunState,
    pub view: View,
    pub keymap: Keymap,
    /// `user@host` of whoever drives this process.
    pub operator: String,
    /// Set by `cutover watch`: this screen only looks, someone else drives.
    pub watching: Option<Watching>,
}

/// What a read-only screen knows about the session it follows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Watching {
    /// Who drives the session now, as its lock file names them (`user@host, pid N,
    /// since …`); `None` when no live process holds it.
    pub driver: Option<String>,
    /// Why following stopped (the journal became unreadable); the screen then shows the
    /// last state it could read, and says so.
    pub stopped: Option<String>,
}

impl App {
    pub fn new(
        runbook: Runbook,
        records: &[Record],
        operator: String,
        ascii: bool,
        no_color: bool,
    ) -> App {
        let run = RunState::replay(&runbook, records);
        let mut view = View::new(ascii, no_color);
        // Start on the first step that still needs doing.
        view.selected = run
            .steps
            .iter()
            .position(|s| !s.status.is_settled())
            .unwrap_or(0);
        App {
            runbook,
            run,
            view,
            keymap: Keymap::defaults(),
            operator,
            watching: None,
        }
    }

    /// The task whose output the output pane shows: the selected backup's when the
    /// backups pane has focus, else the selected step's command, or for a backup step
    /// the backup that most needs looking at (running, verifying, failed, then the last).
    pub fn shown_task(&self) -> Option<TaskId> {
        if self.view.focus == Pane::Backups {
            let b = self.runbook.file.backups.get(self.view.backup_selected)?;
            return self.backup_task(b.id.get_ref());
        }
        let state = self.run.steps.get(self.view.selected)?;
        let def = self.runbook.step(&state.id)?;
        match def.kind() {
            StepKind::Command if state.attempts > 0 => {
                Some(TaskId::step(&state.id, state.attempts))
            }
            StepKind::Backup => {
                let list = def.backup_ids();
                let status = |b: &&str| self.run.backup(b).map(|s| s.status);
                // A backup still taking its copy says the most; a verify is usually
                // quick and quiet.
                let pick = list
                    .iter()
                    .find(|b| status(b) == Some(BackupStatus::Running))
                    .or_else(|| {
                        list.iter()
                            .find(|b| status(b) == Some(BackupStatus::Verifying))
                    })
                    .or_else(|| {
                        list.iter().find(|b| {
                            matches!(
                                status(b),
                                Some(BackupStatus::Failed | BackupStatus::Interrupted)
                            )
                        })
                    })
                    .or_else(|| {
                        list.iter()
                            .rev()
                            .find(|b| self.run.backup(b).is_some_and(|s| s.attempts > 0))
                    })?;
                self.backup_task(pick)
            }
            _ => None,
        }
    }

    /// True when the journal says `task` is the attempt running now.
    pub fn is_running(&self, task: &TaskId) -> bool {
        use crate::run::StepStatus;
        use crate::runner::TaskKind;
        match task.kind {
            TaskKind::Step => self
                .run
                .step(&task.id)
                .is_some_and(|s| s.status == StepStatus::Running && s.attempts == task.attempt),
            TaskKind::Backup => self
                .run
                .backup(&task.id)
                .is_some_and(|b| b.status == BackupStatus::Running && b.attempts == task.attempt),
            TaskKind::Verify => self
                .run
                .backup(&task.id)
                .is_some_and(|b| b.status == BackupStatus::Verifying && b.attempts == task.attempt),
        }
    }

    /// A backup's latest task: its verify once that has started, else its run.
    fn backup_task(&self, id: &str) -> Option<TaskId> {
        let state = self.run.backup(id)?;
        if state.attempts == 0 {
            return None;
        }
        let verifying = state.status == BackupStatus::Verifying || state.verify.is_some();
        Some(if verifying {
            TaskId::verify(id, state.attempts)
        } else {
            TaskId::backup(id, state.attempts)
        })
    }

    /// Folds a saved record into the run state. The only way `run` changes.
    /// The key the active keymap gives `action`, for text that tells the operator
    /// what to press: a rebound key must be named as rebound.
    pub fn key(&self, action: Action) -> String {
        match self.keymap.keys_for(action).first() {
            Some(k) => k.to_string(),
            None => format!("(no key for `{}`)", action.name()),
        }
    }

    pub fn apply(&mut self, record: &Record) {
        self.run.apply(&self.runbook, record);
    }
}
