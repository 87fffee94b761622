//! Styles and glyphs in one place. Sixteen colours only, none at all under `NO_COLOR`;
//! every state also has a glyph and a word, so colour is never the only signal.

use ratatui::style::{Color, Modifier, Style};

use crate::run::{BackupStatus, StepStatus};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
    pub ascii: bool,
}

impl Theme {
    pub fn new(no_color: bool, ascii: bool) -> Self {
        Theme {
            color: !no_color,
            ascii,
        }
    }

    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    pub fn muted(self) -> Style {
        self.fg(Color::DarkGray)
    }
    pub fn ok(self) -> Style {
        self.fg(Color::Green)
    }
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    pub fn bad(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn active(self) -> Style {
        self.fg(Color::Cyan)
    }
    pub fn heading(self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    pub fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }
    pub fn border(self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        }
    }

    pub fn step_style(self, s: StepStatus) -> Style {
        match s {
            StepStatus::Pending => Style::default(),
            StepStatus::Blocked => self.warn(),
            StepStatus::Running => self.active(),
            StepStatus::Done => self.ok(),
            StepStatus::Failed | StepStatus::Interrupted => self.bad(),
            StepStatus::Skipped => self.muted(),
        }
    }

    pub fn step_glyph(self, s: StepStatus) -> &'static str {
        match (s, self.ascii) {
            (StepStatus::Pending, false) => "·",
            (StepStatus::Blocked, false) => "⊘",
            (StepStatus::Running, false) => "⟳",
            (StepStatus::Done, false) => "✓",
            (StepStatus::Failed, false) => "✗",
            (StepStatus::Skipped, false) => "↷",
            (StepStatus::Interrupted, false) => "!",
            (StepStatus::Pending, true) => "[ ]",
            (StepStatus::Blocked, true) => "[#]",
            (StepStatus::Running, true) => "[>]",
            (StepStatus::Done, true) => "[x]",
            (StepStatus::Failed, true) => "[!]",
            (StepStatus::Skipped, true) => "[-]",
            (StepStatus::Interrupted, true) => "[?]",
        }
    }

    pub fn backup_style(self, s: BackupStatus) -> Style {
        match s {
            BackupStatus::Pending => Style::default(),
            BackupStatus::Running | BackupStatus::Verifying => self.active(),
            BackupStatus::Verified => self.ok(),
            BackupStatus::Failed | BackupStatus::Interrupted => self.bad(),
        }
    }

    pub fn backup_glyph(self, s: BackupStatus) -> &'static str {
        match (s, self.ascii) {
            (BackupStatus::Pending, false) => "·",
            (BackupStatus::Running, false) => "⟳",
            (BackupStatus::Verifying, false) => "…",
            (BackupStatus::Verified, false) => "✓",
            (BackupStatus::Failed, false) => "✗",
            (BackupStatus::Interrupted, false) => "!",
            (BackupStatus::Pending, true) => "[ ]",
            (BackupStatus::Running, true) => "[>]",
            (BackupStatus::Verifying, true) => "[~]",
            (BackupStatus::Verified, true) => "[x]",
            (BackupStatus::Failed, true) => "[!]",
            (BackupStatus::Interrupted, true) => "[?]",
        }
    }

    pub fn selection_mark(self) -> &'static str {
        if self.ascii { ">" } else { "▶" }
    }

    pub fn sep(self) -> &'static str {
        if self.ascii { " - " } else { " · " }
    }
}

/// Runbook text is shown as text: control characters (an escape in a TOML string, a
/// stray tab) become visible placeholders instead of reaching the terminal.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' => ' ',
            c if c.is_control() => '�',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_neutralises_escapes() {
        assert_eq!(clean("a\x1b]0;pwned\x07b\tc"), "a�]0;pwned�b c");
    }
}
