//! Styles and glyphs in one place. cutover's own colours are the terminal's sixteen named
//! ones by default, 24-bit ones where the terminal takes them, none at all under
//! `NO_COLOR`. A command's own output keeps its colours as exactly as the terminal allows
//! (see [`Theme::output_color`]). Every state also has a glyph and a word, so colour is
//! never the only signal.

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

    /// A colour a command asked for, as the terminal will draw it; `None` leaves the
    /// terminal's default, as does colour off. cutover's own roles are the sixteen named
    /// colours by default, so they follow the terminal's colour scheme; a command's
    /// colours are the command's, kept as exactly as the terminal allows:
    ///
    /// - its sixteen ANSI colours stay named in either palette, following the terminal's
    ///   scheme as they would outside cutover (as xterm's fixed RGB values, ANSI blue
    ///   would be an unreadable (0, 0, 238) on a black background);
    /// - the other 240 of the 256-colour palette pass through: crossterm writes the named
    ///   colours as `38;5;N` already, so a terminal that shows those takes any index.
    ///   Falling to the nearest of the sixteen, foreground and background apart, would
    ///   draw green on dark green as green on green and dark greys as black;
    /// - RGB passes through where the terminal takes 24-bit colour, and is otherwise the
    ///   nearest of the 240 (never one of the sixteen, whose values the scheme decides).
    pub fn output_color(self, c: sanitize::Color) -> Option<Color> {
        use sanitize::Color as Out;
        match (self.palette, c) {
            (Palette::None, _) | (_, Out::Default) => None,
            (_, Out::Ansi(n)) => Some(ANSI_NAMED[usize::from(n).min(15)]),
            (_, Out::Indexed(n)) if n < 16 => Some(ANSI_NAMED[usize::from(n)]),
            (_, Out::Indexed(n)) => Some(Color::Indexed(n)),
            (Palette::Truecolor, Out::Rgb(r, g, b)) => Some(Color::Rgb(r, g, b)),
            (Palette::Sixteen, Out::Rgb(r, g, b)) => Some(Color::Indexed(nearest_256(r, g, b))),
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

/// The index of the colour in xterm's 256-colour palette closest to `(r, g, b)`, among
/// the 6×6×6 cube (16–231) and the 24 greys (232–255), by squared distance; the grey
/// wins only when strictly closer. The sixteen are never picked: their values are the
/// terminal's colour scheme's, not fixed.
fn nearest_256(r: u8, g: u8, b: u8) -> u8 {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).pow(2);
    // Squared distance adds up per channel, so the nearest cube colour is the nearest
    // level in each channel.
    let level = |v: u8| {
        (0u8..6)
            .min_by_key(|&i| d(v, LEVELS[usize::from(i)]))
            .unwrap_or(0)
    };
    let (lr, lg, lb) = (level(r), level(g), level(b));
    let cube = 16 + 36 * lr + 6 * lg + lb;
    let cube_dist = d(r, LEVELS[usize::from(lr)])
        + d(g, LEVELS[usize::from(lg)])
        + d(b, LEVELS[usize::from(lb)]);
    let grey_dist = |k: u8| {
        let v = 8 + 10 * k;
        d(r, v) + d(g, v) + d(b, v)
    };
    let k = (0u8..24).min_by_key(|&k| grey_dist(k)).unwrap_or(0);
    if grey_dist(k) < cube_dist {
        232 + k
    } else {
        cube
    }
}

/// Runbook text is shown as text: control characters (an escape in a TOML string, a
/// stray tab) become visible placeholders instead of reaching the terminal. So do bidi
/// controls, which are not `is_control` but can make a command read differently from
/// the one that runs (`echo done \u{202E}; rm -rf ~ #`), as in command output.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' => ' ',
            c if c.is_control() || sanitize::is_bidi_control(c) => '�',
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
        // The colour asked for, then what the sixteen-colour palette and the 24-bit one
        // draw it as.
        let cases = [
            // The sixteen stay named in both: the terminal's scheme decides.
            (Out::Ansi(1), Color::Red, Color::Red),
            (Out::Ansi(4), Color::Blue, Color::Blue),
            (Out::Ansi(8), Color::DarkGray, Color::DarkGray),
            (Out::Ansi(15), Color::White, Color::White),
            (Out::Indexed(12), Color::LightBlue, Color::LightBlue),
            // The other 240 pass through: orange, a dark green, the darkest grey.
            (Out::Indexed(208), Color::Indexed(208), Color::Indexed(208)),
            (Out::Indexed(22), Color::Indexed(22), Color::Indexed(22)),
            (Out::Indexed(232), Color::Indexed(232), Color::Indexed(232)),
            (Out::Indexed(255), Color::Indexed(255), Color::Indexed(255)),
            // RGB passes through, or is the nearest of the 240.
            (Out::Rgb(0, 95, 0), Color::Indexed(22), Color::Rgb(0, 95, 0)),
            (
                Out::Rgb(255, 135, 0),
                Color::Indexed(208),
                Color::Rgb(255, 135, 0),
            ),
            (
                Out::Rgb(10, 20, 200),
                Color::Indexed(20),
                Color::Rgb(10, 20, 200),
            ),
            (
                Out::Rgb(20, 20, 20),
                Color::Indexed(233),
                Color::Rgb(20, 20, 20),
            ),
            (
                Out::Rgb(128, 128, 128),
                Color::Indexed(244),
                Color::Rgb(128, 128, 128),
            ),
            (
                Out::Rgb(200, 200, 210),
                Color::Indexed(252),
                Color::Rgb(200, 200, 210),
            ),
            // Black and white are the cube's, not the scheme's Black and White.
            (Out::Rgb(0, 0, 0), Color::Indexed(16), Color::Rgb(0, 0, 0)),
            (
                Out::Rgb(255, 255, 255),
                Color::Indexed(231),
                Color::Rgb(255, 255, 255),
            ),
        ];
        for (c, want16, want24) in cases {
            assert_eq!(sixteen.output_color(c), Some(want16), "{c:?} in sixteen");
            assert_eq!(
                truecolor.output_color(c),
                Some(want24),
                "{c:?} in truecolour"
            );
            assert_eq!(none.output_color(c), None, "{c:?} without colour");
        }
        for th in [sixteen, truecolor, none] {
            assert_eq!(th.output_color(Out::Default), None);
        }
        // Green on dark green stays two colours, however it was asked for.
        for (fg, bg) in [
            (Out::Indexed(40), Out::Indexed(22)),
            (Out::Rgb(0, 215, 0), Out::Rgb(0, 95, 0)),
            (Out::Ansi(2), Out::Indexed(22)),
        ] {
            for th in [sixteen, truecolor] {
                assert_ne!(th.output_color(fg), th.output_color(bg), "{fg:?} on {bg:?}");
            }
        }
    }

    /// The colour xterm draws for each of 16..=255.
    fn xterm_256(n: u8) -> (u8, u8, u8) {
        const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
        match n {
            16..=231 => {
                let i = usize::from(n - 16);
                (LEVELS[i / 36], LEVELS[i / 6 % 6], LEVELS[i % 6])
            }
            232..=255 => {
                let v = 8 + 10 * (n - 232);
                (v, v, v)
            }
            _ => unreachable!("{n} is one of the sixteen"),
        }
    }

    #[test]
    fn rgb_falls_to_the_nearest_of_the_240_as_a_search_of_all_of_them_finds() {
        let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).pow(2);
        let values: Vec<u8> = (0..=255)
            .step_by(5)
            .chain([1, 47, 48, 114, 115, 254])
            .collect();
        for &r in &values {
            for &g in &values {
                for &b in &values {
                    // The first of equally near ones, as the function picks.
                    let want = (16..=255u8)
                        .min_by_key(|&n| {
                            let (r2, g2, b2) = xterm_256(n);
                            d(r, r2) + d(g, g2) + d(b, b2)
                        })
                        .unwrap();
                    assert_eq!(nearest_256(r, g, b), want, "({r}, {g}, {b})");
                }
            }
        }
        // Every one of the 240 finds itself.
        for n in 16..=255u8 {
            let (r, g, b) = xterm_256(n);
            assert_eq!(nearest_256(r, g, b), n);
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
        assert_eq!(
            clean("x\u{202E}y\u{2066}z\u{200F}w\u{061C}v\u{202A}u\u{2069}"),
            "x�y�z�w�v�u�"
        );
    }
}
