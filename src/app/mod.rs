//! The app: the pure core (`update`), its vocabulary (`msg`, `keymap`, `view`) and the
//! runtime that owns the terminal, the journal and the clock.

pub mod keymap;
pub mod msg;
pub mod runtime;
pub mod update;
pub mod view;

use crate::run::RunState;
use crate::runbook::Runbook;
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
        }
    }

    /// Folds a saved record into the run state. The only way `run` changes.
    pub fn apply(&mut self, record: &Record) {
        self.run.apply(&self.runbook, record);
    }
}
