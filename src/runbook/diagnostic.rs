//! Errors and warnings about a runbook, pointing at the file, line and column with a caret.

use std::fmt::Write as _;
use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// Byte range in the runbook source; `None` when the problem is the file as a whole.
    pub span: Option<Range<usize>>,
    /// A hint such as "did you mean `title`?".
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span,
            help: None,
        }
    }

    pub fn warning(message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            message: message.into(),
            span,
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// 1-based line and column (in characters) of the span's start.
    pub fn position(&self, source: &str) -> Option<(usize, usize)> {
        self.span.as_ref().map(|s| line_col(source, s.start))
    }

    /// The message the way a compiler prints it:
    ///
    /// ```text
    /// error: unknown step `backup` in `requires`
    ///   --> runbooks/x.toml:12:14
    ///    |
    /// 12 | requires = ["backup"]
    ///    |             ^^^^^^^^
    ///    = help: did you mean `backups`?
    /// ```
    pub fn render(&self, file: &str, source: &str) -> String {
        let word = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = format!("{word}: {}\n", self.message);
        match &self.span {
            Some(span) => {
                let (line, col) = line_col(source, span.start);
                let text = source.lines().nth(line - 1).unwrap_or("");
                let gutter = line.to_string().len();
                let pad = " ".repeat(gutter);
                let _ = writeln!(out, "{pad}--> {file}:{line}:{col}");
                let _ = writeln!(out, "{pad} |");
                let _ = writeln!(out, "{line} | {text}");
                // The caret covers the span up to the end of its first line.
                let line_start = span.start - (col_bytes(source, span.start));
                let line_end = line_start + text.len();
                let end = span.end.min(line_end).max(span.start + 1);
                let width = source
                    .get(span.start..end.min(source.len()))
                    .map_or(1, |s| s.chars().count().max(1));
                let _ = writeln!(out, "{pad} | {}{}", " ".repeat(col - 1), "^".repeat(width));
            }
            None => {
                let _ = writeln!(out, "  --> {file}");
            }
        }
        if let Some(help) = &self.help {
            // Aligned under the `|` gutter, whose width follows the line number.
            let gutter = self
                .span
                .as_ref()
                .map_or(1, |s| line_col(source, s.start).0.to_string().len());
            let _ = writeln!(out, "{} = help: {help}", " ".repeat(gutter));
        }
        out
    }
}

fn col_bytes(source: &str, offset: usize) -> usize {
    let offset = offset.min(source.len());
    offset - source[..offset].rfind('\n').map_or(0, |i| i + 1)
}

/// 1-based line and character column of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = source[line_start..offset].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_position_and_caret() {
        let src = "[runbook]\ntitle = \"x\"\nrequires = [\"nope\"]\n";
        let start = src.find("\"nope\"").unwrap();
        let d = Diagnostic::error("unknown step `nope`", Some(start..start + 6))
            .with_help("did you mean `nap`?");
        let text = d.render("rb.toml", src);
        assert_eq!(
            text,
            "error: unknown step `nope`\n --> rb.toml:3:13\n  |\n3 | requires = [\"nope\"]\n  |             ^^^^^^\n  = help: did you mean `nap`?\n"
        );
    }

    #[test]
    fn line_col_counts_characters() {
        let src = "a\nÅb c";
        assert_eq!(line_col(src, src.find('c').unwrap()), (2, 4));
    }
}
