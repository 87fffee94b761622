//! Errors and warnings about a runbook, pointing at the file, line and column with a caret.

use std::borrow::Cow;
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
    ///
    /// The runbook's text (source line, and names quoted in the message) goes to the
    /// operator's terminal through [`visible`]: a runbook must not be able to retitle the
    /// window or reorder the line with escape and bidi controls.
    pub fn render(&self, file: &str, source: &str) -> String {
        let word = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let file = visible(file);
        let mut out = format!("{word}: {}\n", visible(&self.message));
        let mut gutter = 1;
        match &self.span {
            Some(span) => {
                let start = floor_char_boundary(source, span.start);
                let line = count_newlines(&source.as_bytes()[..start]) + 1;
                let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
                let col = source[line_start..start].chars().count() + 1;
                let line_end = source[start..]
                    .find('\n')
                    .map_or(source.len(), |i| start + i);
                // As `str::lines` shows it: without the `\r` of a `\r\n`.
                let text = source[line_start..line_end]
                    .strip_suffix('\r')
                    .unwrap_or(&source[line_start..line_end]);
                let text_end = line_start + text.len();
                gutter = line.to_string().len();
                let pad = " ".repeat(gutter);
                let _ = writeln!(out, "{pad}--> {file}:{line}:{col}");
                let _ = writeln!(out, "{pad} |");
                let _ = writeln!(out, "{line} | {}", visible(text));
                // The caret sits under what is shown, which is wider than the source
                // wherever a control was spelled out, and covers the span up to the end of
                // its first line.
                let indent = visible(&source[line_start..start.min(text_end)])
                    .chars()
                    .count();
                let end = span.end.min(text_end).max(start + 1);
                let width = source
                    .get(start..end.min(source.len()))
                    .map_or(1, |s| visible(s).chars().count().max(1));
                let _ = writeln!(out, "{pad} | {}{}", " ".repeat(indent), "^".repeat(width));
            }
            None => {
                let _ = writeln!(out, "  --> {file}");
            }
        }
        if let Some(help) = &self.help {
            // Aligned under the `|` gutter, whose width follows the line number.
            let _ = writeln!(out, "{} = help: {}", " ".repeat(gutter), visible(help));
        }
        out
    }
}

/// Whether a terminal would act on `c` rather than show it: C0 controls (but `\n`), DEL,
/// C1 controls, and the bidi controls that make a line read differently from what it holds.
fn acts_on_terminal(c: char) -> bool {
    (c < ' ' && c != '\n')
        || ('\u{7F}'..='\u{9F}').contains(&c)
        || matches!(
            c,
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
        )
}

/// `text` fit for a terminal: a tab as four spaces (as rustc shows it), any other control
/// character spelled out the way Rust writes it in a string, `\u{1b}`. Newlines stay.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts_on_terminal) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\t' => shown.push_str("    "),
            c if acts_on_terminal(c) => {
                let _ = write!(shown, "\\u{{{:x}}}", u32::from(c));
            }
            c => shown.push(c),
        }
    }
    Cow::Owned(shown)
}

fn floor_char_boundary(source: &str, offset: usize) -> usize {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// How many `\n` bytes `bytes` holds, eight at a time: every rendered diagnostic counts
/// the lines before it, and with thousands of diagnostics on a large runbook a byte at a
/// time was most of `validate`'s cost.
fn count_newlines(bytes: &[u8]) -> usize {
    const LOW: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = 0x0A0A_0A0A_0A0A_0A0A;
    let mut chunks = bytes.chunks_exact(8);
    let mut count = 0;
    for chunk in &mut chunks {
        if let &[a, b, c, d, e, f, g, h] = chunk {
            // A byte of `x` is zero where the input held `\n`; its high bit in `nonzero`
            // is set exactly where it is not (the low seven bits cannot carry across).
            let x = u64::from_ne_bytes([a, b, c, d, e, f, g, h]) ^ NEWLINES;
            let nonzero = (((x & LOW) + LOW) | x) & HIGH;
            count += 8 - nonzero.count_ones() as usize;
        }
    }
    count + chunks.remainder().iter().filter(|&&b| b == b'\n').count()
}

/// 1-based line and character column of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(source, offset);
    let before = &source[..offset];
    let line = count_newlines(before.as_bytes()) + 1;
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
    fn controls_are_shown_spelled_out_and_the_caret_follows() {
        let src = "[runbook]\ntitle = \"\u{1b}]0;x\u{7}\" \u{202E}bad\n";
        let start = src.find("bad").unwrap();
        let d =
            Diagnostic::error("id `p\u{9b}`", Some(start..start + 3)).with_help("not `\u{202E}`");
        // Column 19 of the source, but 34 characters into what is shown.
        assert_eq!(
            d.render("rb\u{1b}.toml", src),
            format!(
                "error: id `p\\u{{9b}}`\n --> rb\\u{{1b}}.toml:2:19\n  |\n\
                 2 | title = \"\\u{{1b}}]0;x\\u{{7}}\" \\u{{202e}}bad\n  \
                 | {}^^^\n  = help: not `\\u{{202e}}`\n",
                " ".repeat(34)
            )
        );
        // A tab is four spaces, and the caret counts them.
        let d = Diagnostic::error("e", Some(2..3));
        assert!(d.render("f", "\tab").ends_with("1 |     ab\n  |      ^\n"));
        // Plain text is not copied.
        assert!(matches!(visible("plain `x`\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn newlines_are_counted_in_every_position() {
        for len in 0..40 {
            for at in 0..len {
                let mut bytes = vec![b'a'; len];
                bytes[at] = b'\n';
                if at + 3 < len {
                    bytes[at + 3] = b'\n';
                }
                let naive = bytes.iter().filter(|&&b| b == b'\n').count();
                assert_eq!(count_newlines(&bytes), naive, "{len} {at}");
            }
        }
        // Bytes that differ from `\n` in one bit, or have the high bit set, are not `\n`.
        let near = [0x0B, 0x08, 0x8A, 0x0E, 0x02, 0x4A, 0xFF, 0x00, 0x0A];
        assert_eq!(count_newlines(&near), 1);
    }

    #[test]
    fn line_col_counts_characters() {
        let src = "a\nÅb c";
        assert_eq!(line_col(src, src.find('c').unwrap()), (2, 4));
    }
}
