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
}

impl Pane {
    pub const ALL: [Pane; 4] = [Pane::Checklist, Pane::Detail, Pane::Output, Pane::Backups];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Checklist => "Checklist",
            Pane::Detail => "Step",
            Pane::Output => "Output",
            Pane::Backups => "Backups",
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
    /// The latest attempt's output of each step, backup and verify, as far as loaded.
    pub outputs: BTreeMap<(TaskKind, String), TaskOutput>,
    /// Lines scrolled back from the end of the output; `None` follows new output.
    pub output_scroll: Option<usize>,
    /// Which backup the backups pane points at (index into the runbook's backups).
    pub backup_selected: usize,
    /// Size in bytes of each backup's declared artifact, where it exists.
    pub artifacts: BTreeMap<String, u64>,
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
            outputs: BTreeMap::new(),
            output_scroll: None,
            backup_selected: 0,
            artifacts: BTreeMap::new(),
        }
    }
}
