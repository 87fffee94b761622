//! What is on screen but not journaled: selection, focus, dialogs, help.

use std::collections::BTreeMap;

use ratatui_textarea::TextArea;

use super::msg::Flash;
use crate::runner::TaskKind;
use crate::runner::watch::TaskOutput;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Checklist,
    Detail,
    Output,
    Backups,
    Message,
}

impl Pane {
    pub const ALL: [Pane; 5] = [
        Pane::Checklist,
        Pane::Detail,
        Pane::Output,
        Pane::Backups,
        Pane::Message,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Checklist => "Checklist",
            Pane::Detail => "Step",
            Pane::Output => "Output",
            Pane::Backups => "Backups",
            Pane::Message => "Message",
        }
    }
}

/// Why the text dialog is open, and so what its text becomes once confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    Skip {
        step: String,
    },
    Note {
        step: String,
    },
    /// The step's note is required before it can be marked done.
    NoteToComplete {
        step: String,
    },
    /// Marking done past unmet `requires`.
    Override {
        step: String,
        unmet: Vec<String>,
    },
    /// Starting a command or backups past unmet `requires`.
    OverrideStart {
        step: String,
        unmet: Vec<String>,
    },
    /// A `confirm = true` step, or a re-run of one whose outcome is unknown: the
    /// operator types the step id, which no stray key or terminal reply produces.
    ConfirmStart {
        step: String,
        /// Reason already typed for an unmet gate, journaled with the start.
        override_reason: Option<(Vec<String>, String)>,
    },
    /// Cancelling what a step runs: type `y`.
    Cancel {
        step: String,
    },
    /// Marking done a step whose run failed, whose outcome is unknown, or whose backups
    /// are not verified: the typed reason becomes a note.
    DoneAnyway {
        step: String,
        why: String,
    },
    /// The operator decides an interrupted step failed.
    MarkFailed {
        step: String,
    },
    /// `e`: how long to extend the window by (a duration such as `30m`).
    ExtendBy,
    /// `e`, second question: why.
    ExtendReason {
        by: crate::runbook::Duration,
    },
    /// `R`: why the rollback starts.
    Rollback,
    /// `S`: type `y` to send this text through `message.send`.
    Send {
        phase: String,
        step: Option<String>,
        subject: String,
        body: String,
    },
}

#[derive(Debug, Clone)]
pub struct Dialog {
    pub purpose: Purpose,
    pub editor: TextArea<'static>,
}

impl Dialog {
    pub fn new(purpose: Purpose) -> Self {
        let mut editor = TextArea::default();
        editor.set_cursor_line_style(ratatui::style::Style::default());
        Dialog { purpose, editor }
    }

    pub fn text(&self) -> String {
        self.editor.lines().join("\n").trim().to_string()
    }
}

/// A message draft the operator has opened in the editor. Until then the message pane
/// shows the draft rendered live, so it follows the clock and the checklist.
#[derive(Debug, Clone)]
pub struct MessageDraft {
    pub editor: TextArea<'static>,
    /// The text as generated (or loaded from a saved file): edits are measured against it.
    pub generated: String,
    /// The text last saved to a file, if any.
    pub saved: Option<String>,
    /// `ctrl-r` pressed once over edits: the next `ctrl-r` replaces them.
    pub regenerate_armed: bool,
}

impl MessageDraft {
    pub fn new(text: &str) -> Self {
        let mut editor = TextArea::from(text.split('\n').map(str::to_string));
        editor.set_cursor_line_style(ratatui::style::Style::default());
        // The cursor starts in the body (after `Subject: ...` and the blank line): a
        // stray key lands in the text, not in the subject stakeholders see first.
        if editor.lines().len() > 2 {
            editor.move_cursor(ratatui_textarea::CursorMove::Jump(2, 0));
        }
        MessageDraft {
            editor,
            generated: text.to_string(),
            saved: None,
            regenerate_armed: false,
        }
    }

    pub fn text(&self) -> String {
        self.editor.lines().join("\n")
    }

    /// Changed by the operator since it was generated.
    pub fn edited(&self) -> bool {
        self.text() != self.generated
    }

    /// Changed since it was last saved (or never saved while edited).
    pub fn unsaved(&self) -> bool {
        match &self.saved {
            Some(s) => *s != self.text(),
            None => self.edited(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct View {
    /// Index into the runbook's steps in file order.
    pub selected: usize,
    pub focus: Pane,
    pub dialog: Option<Dialog>,
    pub help: bool,
    pub flash: Option<Flash>,
    /// Set when the journal refused a write: nothing more may be acknowledged.
    pub journal_error: Option<String>,
    /// `--ascii`: plain glyphs for terminals and fonts without the symbols.
    pub ascii: bool,
    /// `NO_COLOR`: state is still told by glyph and word, never by colour alone.
    pub no_color: bool,
    /// The terminal takes 24-bit colour (`COLORTERM`, or `theme = "truecolor"`): the
    /// theme draws RGB instead of the sixteen named colours. Off by default because
    /// RGB sent to a terminal without it comes out as the wrong colours or as garbage;
    /// `no_color` wins over it.
    pub truecolor: bool,
    /// The latest attempt's output of each step, backup and verify, as far as loaded.
    pub outputs: BTreeMap<(TaskKind, String), TaskOutput>,
    /// Lines scrolled back from the end of the output; `None` follows new output.
    pub output_scroll: Option<usize>,
    /// Which backup the backups pane points at (index into the runbook's backups).
    pub backup_selected: usize,
    /// Size in bytes of each backup's declared artifact, where it exists.
    pub artifacts: BTreeMap<String, u64>,
    /// The clock as the runtime last read it: `update` stays free of the system clock.
    pub now: jiff::Timestamp,
    /// The message phase the pane shows; `None` follows the moment (`phase_now`).
    pub message_phase: Option<String>,
    /// The message step the pane was opened from (`Enter` on it): a send completes it.
    pub message_step: Option<String>,
    /// Drafts opened in the editor, by phase.
    pub drafts: BTreeMap<String, MessageDraft>,
    /// Keys go to the message editor.
    pub editing: bool,
    /// A send in flight, by phase: `S` is refused for it meanwhile.
    pub sending: Option<String>,
    /// The timeline view (`t`) replaces the panes.
    pub timeline: bool,
    /// Rows scrolled in the timeline view.
    pub timeline_scroll: usize,
    /// The verdict last seen on a tick, and since when: a change is announced once.
    pub verdict: Option<(crate::run::Verdict, jiff::Timestamp)>,
    /// The "during" update due time already announced as overdue.
    pub overdue_announced: Option<jiff::Timestamp>,
}

impl View {
    pub fn new(ascii: bool, no_color: bool) -> Self {
        View {
            selected: 0,
            focus: Pane::Checklist,
            dialog: None,
            help: false,
            flash: None,
            journal_error: None,
            ascii,
            no_color,
            truecolor: false,
            outputs: BTreeMap::new(),
            output_scroll: None,
            backup_selected: 0,
            artifacts: BTreeMap::new(),
            now: jiff::Timestamp::UNIX_EPOCH,
            message_phase: None,
            message_step: None,
            drafts: BTreeMap::new(),
            editing: false,
            sending: None,
            timeline: false,
            timeline_scroll: 0,
            verdict: None,
            overdue_announced: None,
        }
    }
}
