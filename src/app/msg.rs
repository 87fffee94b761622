//! What can happen to the app (`Msg`) and what `update` asks the runtime to do (`Effect`).

use crossterm::event::KeyEvent;

use crate::runner::TaskId;
use crate::runner::watch::Report;
use crate::session::Event;

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    /// The 1 Hz clock.
    Tick,
    Resize,
    /// SIGTERM, SIGHUP, SIGINT or SIGQUIT (the number): leave now, restoring the terminal.
    Terminate(i32),
    /// Something a task follower saw: output, an exit, a vanished supervisor.
    Task(Report),
    /// A `message.send` command ended.
    Sent(Sent),
}

/// How a send went, with everything the journal needs to say what was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub phase: String,
    pub step: Option<String>,
    /// The saved copy under `messages/`.
    pub file: String,
    pub subject: String,
    pub body: String,
    pub outcome: crate::message::send::SendOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Append these events to the journal (in order, each fsynced), then apply them.
    /// Nothing on screen changes because of them until they are saved, and the effects
    /// after a `Record` that failed are dropped: nothing starts that was not saved.
    Record(Vec<Event>),
    /// Start this task under a detached supervisor (its start event is already in an
    /// earlier `Record` of the same batch).
    Spawn(TaskId),
    /// SIGTERM to these tasks' supervisors, which take their process groups down.
    Cancel(Vec<TaskId>),
    /// Suspend the screen and show this task's full log in the pager.
    OpenLog(TaskId),
    /// Write this draft to `messages/<n>-<phase>.txt`, then record `message_saved`.
    SaveMessage {
        phase: String,
        text: String,
    },
    /// Put this text on the operator's clipboard through OSC 52.
    Copy(String),
    /// Save the text, then run `message.send` with it off the event loop; the outcome
    /// comes back as [`Msg::Sent`].
    SendMessage {
        phase: String,
        step: Option<String>,
        subject: String,
        body: String,
    },
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
