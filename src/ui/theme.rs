//! Styles and glyphs in one place. The terminal's sixteen named colours by default,
//! 24-bit ones where the terminal takes them, none at all under `NO_COLOR`; every colour
//! on screen comes from here, a command's own output included, so the palettes never mix.
//! Every state also has a glyph and a word, so colour is never the only signal.

use ratatui::style::{Color, Modifier, Style};

pub use crate::config::Palette;
use crate::run::{BackupStatus, StepStatus};
use crate::runner::sanitize;

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub palette: Palette,
    pub ascii: bool,
}

// The 24-bit roles: mid-tones, readable on a dark background and on a light one alike,
// since the terminal does not say which it has.
const MUTED: Color = Color::Rgb(0x8a, 0x8a, 0x8a);
const OK: Color = Color::Rgb(0x3f, 0xb9, 0x50);
const WARN: Color = Color::Rgb(0xd7, 0x99, 0x21);
const BAD: Color = Color::Rgb(0xe5, 0x48, 0x4d);
const ACTIVE: Color = Color::Rgb(0x2f, 0xa8, 0xc8);
const SELECTION: Color = Color::Rgb(0x4a, 0x6f, 0xb0);

/// The sixteen ANSI colours as xterm draws them by default: what a command's 256-colour
/// and RGB output is matched against for the sixteen-colour palette, and what its ANSI
/// colours become in the 24-bit one.
const ANSI_RGB: [(u8, u8, u8); 16] = [
    (0x00, 0x00, 0x00),
    (0xcd, 0x00, 0x00),
    (0x00, 0xcd, 0x00),
    (0xcd, 0xcd, 0x00),
    (0x00, 0x00, 0xee),
    (0xcd, 0x00, 0xcd),
    (0x00, 0xcd, 0xcd),
    (0xe5, 0xe5, 0xe5),
    (0x7f, 0x7f, 0x7f),
    (0xff, 0x00, 0x00),
    (0x00, 0xff, 0x00),
    (0xff, 0xff, 0x00),
    (0x5c, 0x5c, 0xff),
    (0xff, 0x00, 0xff),
    (0x00, 0xff, 0xff),
    (0xff, 0xff, 0xff),
];

/// The named colour ratatui draws for each ANSI index.
const ANSI_NAMED: [Color; 16] = [
    Color::Black,
    Color::Red,
    Color::Green,
    Color::Yellow,
    Color::Blue,
    Color::Magenta,
    Color::Cyan,
    Color::Gray,
    Color::DarkGray,
    Color::LightRed,
    Color::LightGreen,
    Color::LightYellow,
    Color::LightBlue,
    Color::LightMagenta,
    Color::LightCyan,
    Color::White,
];

impl Theme {
    pub fn new(no_color: bool, ascii: bool) -> Self {
        Theme {
            palette: if no_color {
                Palette::None
            } else {
                Palette::Sixteen
            },
            ascii,
        }
    }

    /// 24-bit colours instead of the sixteen; no effect when colour is off, since
    /// `NO_COLOR` beats whatever the terminal can do.
    pub fn with_truecolor(mut self, truecolor: bool) -> Self {
        if truecolor && self.palette == Palette::Sixteen {
            self.palette = Palette::Truecolor;
        }
        self
    }

    /// Whether anything is coloured at all.
    pub fn color(self) -> bool {
        self.palette != Palette::None
    }

    /// `named` in the sixteen-colour palette, `rgb` in the 24-bit one.
    fn pick(self, named: Color, rgb: Color) -> Option<Color> {
        match self.palette {
            Palette::None => None,
            Palette::Sixteen => Some(named),
            Palette::Truecolor => Some(rgb),
        }
    }

    fn fg(self, named: Color, rgb: Color) -> Style {
        match self.pick(named, rgb) {
            Some(c) => Style::default().fg(c),
            None => Style::default(),
        }
    }

    pub fn muted(self) -> Style {
        self.fg(Color::DarkGray, MUTED)
    }
    pub fn ok(self) -> Style {
        self.fg(Color::Green, OK)
    }
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow, WARN).add_modifier(Modifier::BOLD)
    }
    pub fn bad(self) -> Style {
        self.fg(Color::Red, BAD).add_modifier(Modifier::BOLD)
    }
    pub fn active(self) -> Style {
        self.fg(Color::Cyan, ACTIVE)
    }
    pub fn heading(self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    pub fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }
    pub fn border(self, focused: bool) -> Style {
        if focused {
            self.active().add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        }
    }

    /// Text selected in an editor. The editor's own default is a light blue background,
    /// which would stay blue under `NO_COLOR` and named under truecolour.
    pub fn text_selection(self) -> Style {
        match self.pick(Color::LightBlue, SELECTION) {
            Some(c) => Style::default().bg(c),
            None => Style::default().add_modifier(Modifier::REVERSED),
        }
    }

    /// A colour a command asked for, in this palette: the sixteen keep their names and
    /// 256-colour or RGB ones fall to the nearest of them, or everything becomes RGB.
    /// `None` leaves the terminal's default.
    pub fn output_color(self, c: sanitize::Color) -> Option<Color> {
        let ansi = |n: u8| usize::from(n).min(15);
        match (self.palette, c) {
            (Palette::None, _) | (_, sanitize::Color::Default) => None,
            (Palette::Sixteen, sanitize::Color::Ansi(n)) => Some(ANSI_NAMED[ansi(n)]),
            (Palette::Sixteen, sanitize::Color::Indexed(n)) if n < 16 => Some(ANSI_NAMED[ansi(n)]),
            (Palette::Sixteen, sanitize::Color::Indexed(n)) => {
                Some(ANSI_NAMED[nearest_ansi(xterm_256(n))])
            }
            (Palette::Sixteen, sanitize::Color::Rgb(r, g, b)) => {
                Some(ANSI_NAMED[nearest_ansi((r, g, b))])
            }
            (Palette::Truecolor, sanitize::Color::Ansi(n)) => Some(rgb(ANSI_RGB[ansi(n)])),
            (Palette::Truecolor, sanitize::Color::Indexed(n)) => Some(rgb(xterm_256(n))),
            (Palette::Truecolor, sanitize::Color::Rgb(r, g, b)) => Some(Color::Rgb(r, g, b)),
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

fn rgb((r, g, b): (u8, u8, u8)) -> Color {
    Color::Rgb(r, g, b)
}

/// The colour xterm draws for a 256-colour index: the sixteen, a 6×6×6 cube, then 24
/// greys.
fn xterm_256(n: u8) -> (u8, u8, u8) {
    match n {
        0..=15 => ANSI_RGB[usize::from(n)],
        16..=231 => {
            let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
            let i = n - 16;
            (level(i / 36), level(i / 6 % 6), level(i % 6))
        }
        232..=255 => {
            let v = 8 + 10 * (n - 232);
            (v, v, v)
        }
    }
}

/// The index of the ANSI colour closest to `c`, weighing green over red over blue the
/// way the eye does. A colour with a hue only matches one with a hue, and a grey only a
/// grey: a dark green would otherwise land on black, unreadable on a dark terminal.
fn nearest_ansi((r, g, b): (u8, u8, u8)) -> usize {
    const GREYS: [usize; 4] = [0, 7, 8, 15];
    let chroma = |(r, g, b): (u8, u8, u8)| r.max(g).max(b) - r.min(g).min(b);
    let grey = chroma((r, g, b)) < 32;
    let dist = |(r2, g2, b2): (u8, u8, u8)| {
        let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).pow(2);
        3 * d(r, r2) + 4 * d(g, g2) + 2 * d(b, b2)
    };
    (0..ANSI_RGB.len())
        .filter(|i| GREYS.contains(i) == grey)
        .min_by_key(|&i| dist(ANSI_RGB[i]))
        // Unreachable: both halves of the table are non-empty.
        .unwrap_or(0)
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
    fn command_colours_follow_the_palette() {
        use sanitize::Color as Out;
        let sixteen = Theme::new(false, false);
        let truecolor = sixteen.with_truecolor(true);
        let none = Theme::new(true, false).with_truecolor(true);
        assert_eq!(none.palette, Palette::None);
        let cases = [
            (Out::Ansi(1), Color::Red, Color::Rgb(0xcd, 0, 0)),
            (Out::Ansi(8), Color::DarkGray, Color::Rgb(0x7f, 0x7f, 0x7f)),
            (
                Out::Indexed(12),
                Color::LightBlue,
                Color::Rgb(0x5c, 0x5c, 0xff),
            ),
            // 208 is xterm's orange (255, 135, 0); 22 a dark green (0, 95, 0), which
            // must not fall to black.
            (Out::Indexed(208), Color::Yellow, Color::Rgb(255, 135, 0)),
            (Out::Indexed(22), Color::Green, Color::Rgb(0, 95, 0)),
            (Out::Indexed(40), Color::Green, Color::Rgb(0, 215, 0)),
            (
                Out::Indexed(244),
                Color::DarkGray,
                Color::Rgb(128, 128, 128),
            ),
            (
                Out::Rgb(250, 250, 250),
                Color::White,
                Color::Rgb(250, 250, 250),
            ),
            (Out::Rgb(10, 20, 200), Color::Blue, Color::Rgb(10, 20, 200)),
            (Out::Rgb(20, 20, 20), Color::Black, Color::Rgb(20, 20, 20)),
            (
                Out::Rgb(200, 200, 210),
                Color::Gray,
                Color::Rgb(200, 200, 210),
            ),
        ];
        for (c, named, rgb) in cases {
            assert_eq!(sixteen.output_color(c), Some(named), "{c:?} in sixteen");
            assert_eq!(truecolor.output_color(c), Some(rgb), "{c:?} in truecolour");
            assert_eq!(none.output_color(c), None, "{c:?} without colour");
        }
        for th in [sixteen, truecolor, none] {
            assert_eq!(th.output_color(Out::Default), None);
        }
    }

    #[test]
    fn roles_are_named_in_sixteen_rgb_in_truecolour_and_absent_without_colour() {
        fn named(c: Option<Color>) -> bool {
            c.is_some_and(|c| !matches!(c, Color::Rgb(..) | Color::Indexed(_) | Color::Reset))
        }
        fn rgb(c: Option<Color>) -> bool {
            matches!(c, Some(Color::Rgb(..)))
        }
        fn absent(c: Option<Color>) -> bool {
            c.is_none()
        }
        let sixteen = Theme::new(false, false);
        type Check = fn(Option<Color>) -> bool;
        let cases: [(Theme, Check); 3] = [
            (sixteen, named),
            (sixteen.with_truecolor(true), rgb),
            (Theme::new(true, false), absent),
        ];
        for (th, is_right) in cases {
            let roles = [th.muted(), th.ok(), th.warn(), th.bad(), th.active()];
            for st in roles.into_iter().chain([th.border(true)]) {
                assert!(is_right(st.fg), "{:?}: {st:?}", th.palette);
            }
            assert!(is_right(th.text_selection().bg), "{:?}", th.palette);
        }
        // Unchanged from before truecolour, which the snapshot tests' colours rely on.
        assert_eq!(sixteen.ok().fg, Some(Color::Green));
        assert_eq!(sixteen.text_selection().bg, Some(Color::LightBlue));
    }

    #[test]
    fn clean_neutralises_escapes() {
        assert_eq!(clean("a\x1b]0;pwned\x07b\tc"), "a�]0;pwned�b c");
    }
}
