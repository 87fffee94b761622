//! What can happen to the app (`Msg`) and what `update` asks the runtime to do (`Effect`).

use crossterm::event::KeyEvent;

use crate::session::Event;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    Key(KeyEvent),
    /// The 1 Hz clock.
    Tick,
    Resize,
    /// SIGTERM, SIGHUP, SIGINT or SIGQUIT (the number): leave now, restoring the terminal.
    Terminate(i32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Append these events to the journal (in order, each fsynced), then apply them.
    /// Nothing on screen changes because of them until they are saved.
    Record(Vec<Event>),
    Quit,
}

/// A short line shown in the status bar until the next key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub warn: bool,
}

impl Flash {
    pub fn info(text: impl Into<String>) -> Self {
        Flash {
            text: text.into(),
            warn: false,
        }
    }
    pub fn warn(text: impl Into<String>) -> Self {
        Flash {
            text: text.into(),
            warn: true,
        }
    }
}
