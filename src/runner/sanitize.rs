//! Child bytes to display-safe lines. (Being written.)

/// One colour as a child asked for it with SGR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Color {
    #[default]
    Default,
    /// 0..=15: the terminal's 16 colours (8..=15 bright).
    Ansi(u8),
    /// 16..=255 of the 256-colour palette.
    Indexed(u8),
    Rgb(u8, u8, u8),
}

/// The style a run of text was printed in (SGR attributes only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sgr {
    pub fg: Color,
    pub bg: Color,
    pub bold: bool,
    pub dim: bool,
    pub italic: bool,
    pub underline: bool,
    pub reverse: bool,
}

/// A style starting at byte `start` of the line's text, up to the next run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StyleRun {
    pub start: u32,
    pub style: Sgr,
}

/// One display line: printable text only (no C0, C1, ESC, DEL or bidi controls).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutLine {
    pub text: String,
    /// Empty when the whole line is in the default style.
    pub styles: Vec<StyleRun>,
}

pub struct Sanitizer;
