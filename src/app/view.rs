//! What is on screen but not journaled: selection, focus, dialogs, help.

use ratatui_textarea::TextArea;

use super::msg::Flash;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Checklist,
    Detail,
    Backups,
}

impl Pane {
    pub const ALL: [Pane; 3] = [Pane::Checklist, Pane::Detail, Pane::Backups];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Checklist => "Checklist",
            Pane::Detail => "Step",
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
        }
    }
}
