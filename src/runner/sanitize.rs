//! Child bytes to display-safe lines.
//!
//! A command's output is hostile until proven otherwise: it may try to set the window
//! title, write the clipboard (OSC 52), ask the terminal to answer (`CSI 6n`), move the
//! cursor over our own screen, or hide text behind bidi overrides. Escape sequences are
//! parsed with `vte` (the parser behind Alacritty) so that every sequence is recognised
//! as one unit and swallowed whole; only SGR colours survive, as [`StyleRun`]s.
//!
//! # Throughput
//!
//! Most output is plain ASCII lines, so those skip `vte` entirely (see
//! [`Sanitizer::feed`]). `vte` is only given escape sequences, control bytes that
//! follow them, and non-ASCII text.

use std::fmt::Write as _;

use unicode_width::UnicodeWidthChar;
use vte::{Params, Parser, Perform};

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

/// Cap on a line's text used by the screen.
pub const DEFAULT_MAX_LINE_BYTES: usize = 2048;

/// Tab stops every this many columns, as on a terminal.
const TAB_STOP: usize = 8;

const ESC: u8 = 0x1B;
/// Most bytes handed to `vte` at once outside sequences (see [`Sanitizer::feed`]): small
/// enough that its rescan after an invalid byte stays cheap, large enough that valid
/// non-ASCII text still goes through in few calls.
const VTE_PIECE: usize = 64;
/// CAN and SUB abort any sequence in progress and return `vte` to its ground state.
const CAN: u8 = 0x18;
const SUB: u8 = 0x1A;

/// Where `vte` is, as far as we need to know, while it is outside its ground state.
///
/// `vte` keeps its state private, but three of its states are simple enough to follow
/// from the bytes alone, and in those we skip the payload instead of feeding it: an OSC
/// payload is buffered by `vte` without limit (its `std` build), so a 200 MB OSC would
/// otherwise be held in memory; DCS and SOS/PM/APC payloads are only skipped for speed.
/// Every claim below is read from `vte` 0.15's `advance_*` functions, and the tests
/// compare the result with `vte` given every byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seq {
    /// Some other state (CSI, DCS header, ESC intermediate), or possibly already back in
    /// ground after a sequence ended without telling us (an over-long CSI does that).
    Unknown,
    /// Just after ESC: `vte` enters its escape state on ESC from every state.
    Esc,
    /// After ESC `]`. `vte` leaves on BEL, CAN, SUB or ESC and buffers everything else.
    Osc,
    /// After `vte` called `hook`: DCS passthrough, left on CAN, SUB, ESC or 0x9C; every
    /// other byte is `put` (which we ignore) or dropped.
    Dcs,
    /// After ESC `X`, `^` or `_`: left on CAN, SUB or ESC; everything else is dropped.
    Str,
}

impl Seq {
    /// The state after `byte`, for the parts `vte` decides from the byte alone.
    fn after(self, byte: u8) -> Seq {
        match (self, byte) {
            (_, ESC) => Seq::Esc,
            (Seq::Esc, CAN | SUB) => Seq::Unknown,
            (Seq::Esc, b']') => Seq::Osc,
            (Seq::Esc, b'X' | b'^' | b'_') => Seq::Str,
            // C0 controls are executed and DEL and 8-bit bytes ignored, in the escape
            // state itself.
            (Seq::Esc, 0x00..=0x1F | 0x7F..=0xFF) => Seq::Esc,
            (Seq::Esc, _) => Seq::Unknown,
            (Seq::Osc, 0x07 | CAN | SUB) => Seq::Unknown,
            (Seq::Dcs, CAN | SUB | 0x9C) => Seq::Unknown,
            (Seq::Str, CAN | SUB) => Seq::Unknown,
            (s, _) => s,
        }
    }

    /// Whether `vte` would do nothing we care about with `byte` in this state, so it can
    /// be skipped without feeding it.
    fn skips(self, byte: u8) -> bool {
        match self {
            Seq::Osc => !matches!(byte, 0x07 | CAN | SUB | ESC),
            Seq::Dcs => !matches!(byte, CAN | SUB | ESC | 0x9C),
            Seq::Str => !matches!(byte, CAN | SUB | ESC),
            Seq::Unknown | Seq::Esc => false,
        }
    }
}

/// Turns raw output bytes, in chunks of any size, into display-safe [`OutLine`]s.
///
/// Memory stays bounded whatever the input: the line being built is capped at
/// `max_line_bytes` (its style runs too, since a run needs printed text), and `vte`'s
/// own buffers are fixed-size once OSC payloads are skipped (see [`Seq`]).
pub struct Sanitizer {
    parser: Parser,
    line: Line,
    /// `vte` is certainly in its ground state.
    ground: bool,
    /// In ground, `vte` may be holding the first bytes of a character cut off by the end
    /// of what it was last given (true whenever that ended in a non-ASCII byte).
    held_utf8: bool,
    seq: Seq,
    /// Text and run lengths of the line before [`Sanitizer::partial`]'s marker was
    /// appended, so it can be taken off before more text arrives.
    marked: Option<(usize, usize)>,
}

impl Sanitizer {
    /// `max_line_bytes`: longer lines are cut there and end with a marker `…(+N bytes)`
    /// counting what was dropped.
    pub fn new(max_line_bytes: usize) -> Sanitizer {
        Sanitizer {
            parser: Parser::new(),
            line: Line::new(max_line_bytes),
            ground: true,
            held_utf8: false,
            seq: Seq::Unknown,
            marked: None,
        }
    }

    /// Feeds raw bytes (any chunking, any bytes). Completed lines are appended to `out`.
    ///
    /// # The fast path
    ///
    /// `vte` leaves its ground state only on ESC, and in ground it prints every ASCII
    /// byte from 0x20 up and executes every one below (bar ESC), with no state of its
    /// own involved, unless it holds the start of a multi-byte character. So while we
    /// know it is in ground with no such bytes held, we handle ASCII ourselves, exactly
    /// as our `Perform` would, and only hand it non-ASCII text and ESC.
    ///
    /// Knowing it is in ground: it starts there, and non-ASCII text that contains no ESC
    /// keeps it there. After an ESC we feed it one byte at a time, and call it back in
    /// ground after a byte other than ESC during which it printed, dispatched a CSI, ESC
    /// or OSC sequence, ended a DCS (`unhook`), or executed CAN or SUB: each of those
    /// happens in ground or puts `vte` there, and only an ESC could take it out again.
    /// Sequences that end silently (an ignored CSI) are only noticed at the next printed
    /// character, which costs speed, never correctness.
    ///
    /// Knowing nothing is held: the last byte it was given was ASCII, which completes or
    /// rejects any character it held. So non-ASCII text is handed over together with the
    /// ASCII byte after it, and at a chunk's end we remember that it may hold bytes.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<OutLine>) {
        self.unmark();
        let mut i = 0;
        while i < bytes.len() {
            if !self.ground {
                i += self.in_sequence(&bytes[i..], out);
                continue;
            }
            let b = bytes[i];
            if b == ESC {
                self.advance(&[ESC], out);
                self.ground = false;
                self.held_utf8 = false;
                self.seq = Seq::Esc;
                i += 1;
            } else if !self.held_utf8 && (is_plain(b) || b == b'\n') {
                let run = bytes[i..]
                    .iter()
                    .take_while(|&&b| is_plain(b) || b == b'\n')
                    .count();
                self.line.plain(&bytes[i..i + run], out);
                i += run;
            } else if !self.held_utf8 && b < 0x80 {
                if b < 0x20 {
                    self.line.control(b, out);
                }
                // DEL is printed by `vte` and dropped by `Line::print`: dropped here too.
                i += 1;
            } else {
                let wide = bytes[i..].iter().take_while(|&&b| b >= 0x80).count();
                let mut end = i + wide;
                if bytes.get(end).is_some_and(|&b| b != ESC) {
                    end += 1;
                }
                // `end > i`, so this makes progress: either `b` is non-ASCII, or bytes
                // are held and `b` is ASCII other than ESC, included just above.
                // In pieces: after each invalid byte `vte` searches the rest of what it
                // was given for ESC, so a run handed over whole costs its length
                // squared (4 MiB of 0xFF: minutes). `vte` carries a character cut
                // between pieces over, as it does between feeds.
                for piece in bytes[i..end].chunks(VTE_PIECE) {
                    self.advance(piece, out);
                }
                self.held_utf8 = bytes[end - 1] >= 0x80;
                i = end;
            }
        }
        self.mark();
    }

    /// The line being written that has no newline yet (e.g. a progress bar's current
    /// state), if any text.
    pub fn partial(&self) -> Option<&OutLine> {
        (!self.line.cur.text.is_empty()).then_some(&self.line.cur)
    }

    /// End of input: the partial line, if any, becomes a completed line in `out`.
    ///
    /// The sanitizer starts afresh afterwards, as if new.
    pub fn finish(&mut self, out: &mut Vec<OutLine>) {
        self.unmark();
        // A character cut off by the end of input still owes its U+FFFD. NUL makes
        // `vte` settle it, and is itself dropped (or ignored) in every state. Sent even
        // when we do not know `vte` to be in ground: it may have gone back silently.
        self.advance(&[0], out);
        if !self.line.cur.text.is_empty() || self.line.dropped > 0 {
            self.line.end_line(out);
        }
        self.parser = Parser::new();
        self.ground = true;
        self.held_utf8 = false;
        self.seq = Seq::Unknown;
        self.line.reset();
    }

    /// Handles bytes while `vte` is (or may be) inside a sequence; returns how many of
    /// `bytes` (never empty) it used, at least one.
    fn in_sequence(&mut self, bytes: &[u8], out: &mut Vec<OutLine>) -> usize {
        let skipped = bytes.iter().take_while(|&&b| self.seq.skips(b)).count();
        if skipped > 0 {
            return skipped;
        }
        let b = bytes[0];
        self.seq = self.seq.after(b);
        let seen = self.advance(&[b], out);
        if seen.hooked {
            self.seq = Seq::Dcs;
        }
        if b != ESC && seen.grounded {
            self.ground = true;
            self.held_utf8 = b >= 0x80;
            self.seq = Seq::Unknown;
        }
        1
    }

    fn advance(&mut self, bytes: &[u8], out: &mut Vec<OutLine>) -> Seen {
        let mut perform = Performer {
            line: &mut self.line,
            out,
            seen: Seen::default(),
        };
        self.parser.advance(&mut perform, bytes);
        perform.seen
    }

    /// Shows the cut-off marker on the partial line while input pauses.
    fn mark(&mut self) {
        if self.line.dropped > 0 {
            let cur = &self.line.cur;
            self.marked = Some((cur.text.len(), cur.styles.len()));
            self.line.append_marker();
        }
    }

    fn unmark(&mut self) {
        if let Some((text, styles)) = self.marked.take() {
            self.line.cur.text.truncate(text);
            self.line.cur.styles.truncate(styles);
        }
    }
}

/// Bytes the fast path copies as they are.
fn is_plain(b: u8) -> bool {
    (0x20..=0x7E).contains(&b)
}

/// Bidi controls could make a line read differently from what it holds (an "rm -rf"
/// shown backwards): shown as U+FFFD so the operator sees something was there. Runbook
/// and journal text is held to the same set (`ui::theme::clean`).
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// What `vte` did during one `advance`, for [`Sanitizer::in_sequence`].
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    /// Something happened that only happens in, or leads to, the ground state.
    grounded: bool,
    /// A DCS header ended: `vte` is now in DCS passthrough.
    hooked: bool,
}

struct Performer<'a> {
    line: &'a mut Line,
    out: &'a mut Vec<OutLine>,
    seen: Seen,
}

impl Perform for Performer<'_> {
    fn print(&mut self, c: char) {
        self.seen.grounded = true;
        self.line.print(c);
    }

    fn execute(&mut self, byte: u8) {
        if byte == CAN || byte == SUB {
            self.seen.grounded = true;
        }
        // C1 controls (0x80..=0x9F) arrive here too, and are dropped by `control`.
        self.line.control(byte, self.out);
    }

    fn hook(&mut self, _params: &Params, _intermediates: &[u8], _ignore: bool, _action: char) {
        self.seen.hooked = true;
    }

    fn unhook(&mut self) {
        self.seen.grounded = true;
    }

    fn osc_dispatch(&mut self, _params: &[&[u8]], _bell_terminated: bool) {
        self.seen.grounded = true;
    }

    fn csi_dispatch(&mut self, params: &Params, intermediates: &[u8], ignore: bool, action: char) {
        self.seen.grounded = true;
        // Intermediates include private markers: `CSI > 4 m` is not underline.
        if action == 'm' && intermediates.is_empty() && !ignore {
            apply_sgr(&mut self.line.style, params);
        }
    }

    fn esc_dispatch(&mut self, _intermediates: &[u8], _ignore: bool, _byte: u8) {
        self.seen.grounded = true;
    }
}

/// The line being built, and the terminal state that outlives lines (the SGR style).
struct Line {
    max: usize,
    cur: OutLine,
    /// SGR style now.
    style: Sgr,
    /// Style of `cur`'s last run (default before the first one).
    run_style: Sgr,
    /// Display column, for tab stops; counts dropped text too.
    col: usize,
    /// Text bytes cut off this line; once non-zero, all further text is dropped.
    dropped: u64,
    /// A `\r` came: the next printed text overwrites the line from column 0.
    pending_cr: bool,
}

impl Line {
    fn new(max: usize) -> Line {
        Line {
            // Run offsets are `u32`; a cap beyond that would be meaningless anyway.
            max: max.min(u32::MAX as usize),
            cur: OutLine::default(),
            style: Sgr::default(),
            run_style: Sgr::default(),
            col: 0,
            dropped: 0,
            pending_cr: false,
        }
    }

    fn print(&mut self, c: char) {
        if c < ' ' || ('\u{7F}'..='\u{9F}').contains(&c) {
            return;
        }
        let c = if is_bidi_control(c) { '\u{FFFD}' } else { c };
        let width = c.width().unwrap_or(0);
        self.put(c.encode_utf8(&mut [0; 4]), width);
    }

    fn control(&mut self, byte: u8, out: &mut Vec<OutLine>) {
        match byte {
            b'\n' => self.end_line(out),
            b'\r' => self.pending_cr = true,
            b'\t' => {
                const SPACES: &str = "        ";
                // `n` below is 1..=TAB_STOP, so the slice is always in range.
                const _: () = assert!(SPACES.len() == TAB_STOP);
                // The stop is counted from where the text will go: column 0 after `\r`.
                if self.pending_cr {
                    self.clear();
                }
                let n = TAB_STOP - self.col % TAB_STOP;
                self.put(&SPACES[..n], n);
            }
            _ => {}
        }
    }

    /// `bytes` are printable ASCII and newlines only.
    fn plain(&mut self, bytes: &[u8], out: &mut Vec<OutLine>) {
        // Checked once for the whole run rather than per line: short lines are the
        // common case and the check has a fixed cost. ASCII is UTF-8, so it holds.
        let Ok(mut rest) = std::str::from_utf8(bytes) else {
            return;
        };
        while let Some(nl) = rest.find('\n') {
            self.whole_line(&rest[..nl], out);
            rest = &rest[nl + 1..];
        }
        if !rest.is_empty() {
            self.put(rest, rest.len());
        }
    }

    /// `text` (printable ASCII only) then a newline: most lines of most output, kept
    /// to one exact-size allocation when the line has nothing else in it.
    fn whole_line(&mut self, text: &str, out: &mut Vec<OutLine>) {
        let fresh = self.cur.text.is_empty() && self.dropped == 0;
        if fresh && self.style == Sgr::default() && text.len() <= self.max {
            out.push(OutLine {
                text: text.to_owned(),
                styles: Vec::new(),
            });
            self.pending_cr = false;
            self.col = 0;
        } else {
            if !text.is_empty() {
                self.put(text, text.len());
            }
            self.end_line(out);
        }
    }

    /// Prints `text`, `width` columns wide, in the current style.
    fn put(&mut self, text: &str, width: usize) {
        if self.pending_cr {
            self.clear();
        }
        self.col += width;
        let keep = if self.dropped > 0 {
            0
        } else {
            let room = self.max - self.cur.text.len();
            if text.len() <= room {
                text.len()
            } else {
                text.floor_char_boundary(room)
            }
        };
        if keep > 0 {
            if self.style != self.run_style {
                self.cur.styles.push(StyleRun {
                    // `cur.text.len() <= max <= u32::MAX`, see `new`.
                    start: self.cur.text.len() as u32,
                    style: self.style,
                });
                self.run_style = self.style;
            }
            self.cur.text.push_str(&text[..keep]);
        }
        self.dropped += (text.len() - keep) as u64;
    }

    fn end_line(&mut self, out: &mut Vec<OutLine>) {
        // Copies rather than takes: `cur` keeps its grown buffers for the next line, and
        // the held line gets an exact-size one.
        let mut line = OutLine {
            text: self.cur.text.clone(),
            styles: self.cur.styles.clone(),
        };
        if self.dropped > 0 {
            marker(&mut line, self.run_style, self.dropped);
        }
        out.push(line);
        self.clear();
    }

    fn append_marker(&mut self) {
        marker(&mut self.cur, self.run_style, self.dropped);
    }

    /// Empties the line; the SGR style carries on, as on a terminal.
    fn clear(&mut self) {
        self.cur.text.clear();
        self.cur.styles.clear();
        self.run_style = Sgr::default();
        self.col = 0;
        self.dropped = 0;
        self.pending_cr = false;
    }

    fn reset(&mut self) {
        self.clear();
        self.style = Sgr::default();
    }
}

/// Appends `…(+N bytes)` to `line`, in the default style: it is ours, not the child's.
fn marker(line: &mut OutLine, run_style: Sgr, dropped: u64) {
    if run_style != Sgr::default() {
        line.styles.push(StyleRun {
            // The text was capped at `Line::max <= u32::MAX`.
            start: line.text.len() as u32,
            style: Sgr::default(),
        });
    }
    // Writing to a String cannot fail.
    let _ = write!(line.text, "…(+{dropped} bytes)");
}

/// Applies one SGR sequence's parameters to `style`.
fn apply_sgr(style: &mut Sgr, params: &Params) {
    let mut params = params.iter();
    while let Some(param) = params.next() {
        let Some((&code, sub)) = param.split_first() else {
            continue;
        };
        match code {
            0 => *style = Sgr::default(),
            1 => style.bold = true,
            2 => style.dim = true,
            3 => style.italic = true,
            // `4:0` is "no underline"; `4:3` and friends are curly and other kinds.
            4 => style.underline = sub.first().is_none_or(|&kind| kind != 0),
            7 => style.reverse = true,
            22 => {
                style.bold = false;
                style.dim = false;
            }
            23 => style.italic = false,
            24 => style.underline = false,
            27 => style.reverse = false,
            30..=37 => style.fg = Color::Ansi((code - 30) as u8),
            38 => {
                if let Some(c) = extended_color(sub, &mut params) {
                    style.fg = c;
                }
            }
            39 => style.fg = Color::Default,
            40..=47 => style.bg = Color::Ansi((code - 40) as u8),
            48 => {
                if let Some(c) = extended_color(sub, &mut params) {
                    style.bg = c;
                }
            }
            49 => style.bg = Color::Default,
            90..=97 => style.fg = Color::Ansi((code - 90 + 8) as u8),
            100..=107 => style.bg = Color::Ansi((code - 100 + 8) as u8),
            _ => {}
        }
    }
}

/// The colour of a 38 or 48 parameter: either in its colon subparameters (`38:5:n`,
/// `38:2:r:g:b`, `38:2:cs:r:g:b`) or in the parameters after it (`38;5;n`,
/// `38;2;r;g;b`), which are then consumed even when out of range.
fn extended_color<'a>(sub: &[u16], rest: &mut impl Iterator<Item = &'a [u16]>) -> Option<Color> {
    let byte = |v: u16| u8::try_from(v).ok();
    let indexed = |n: u8| {
        if n < 16 {
            Color::Ansi(n)
        } else {
            Color::Indexed(n)
        }
    };
    if let Some((&kind, values)) = sub.split_first() {
        return match (kind, values) {
            (5, [n, ..]) => byte(*n).map(indexed),
            (2, [.., r, g, b]) => Some(Color::Rgb(byte(*r)?, byte(*g)?, byte(*b)?)),
            _ => None,
        };
    }
    let mut next = || rest.next().and_then(|p| p.first().copied());
    match next()? {
        5 => byte(next()?).map(indexed),
        2 => {
            let (r, g, b) = (next()?, next()?, next()?);
            Some(Color::Rgb(byte(r)?, byte(g)?, byte(b)?))
        }
        _ => None,
    }
}

/// Convenience for tests and one-shot use: every line (completed and final partial)
/// joined with '\n'.
///
/// Trailing empty lines are left out: "a\n\n" would otherwise give "a\n", which
/// sanitizes to "a", and the result should sanitize to itself.
pub fn sanitize(bytes: &[u8]) -> String {
    let mut s = Sanitizer::new(DEFAULT_MAX_LINE_BYTES);
    let mut lines = Vec::new();
    s.feed(bytes, &mut lines);
    s.finish(&mut lines);
    let keep = lines
        .iter()
        .rposition(|l| !l.text.is_empty())
        .map_or(0, |i| i + 1);
    let mut text = String::new();
    for (i, line) in lines[..keep].iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        text.push_str(&line.text);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines(cap: usize, chunks: &[&[u8]]) -> Vec<OutLine> {
        let mut s = Sanitizer::new(cap);
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, &mut out);
        }
        s.finish(&mut out);
        out
    }

    fn texts(out: &[OutLine]) -> Vec<&str> {
        out.iter().map(|l| l.text.as_str()).collect()
    }

    fn forbidden(c: char) -> bool {
        c < ' ' || ('\u{7F}'..='\u{9F}').contains(&c) || is_bidi_control(c)
    }

    fn fg(c: Color) -> Sgr {
        Sgr {
            fg: c,
            ..Sgr::default()
        }
    }

    /// The runs of the one line `bytes` make.
    fn runs(bytes: &[u8]) -> Vec<StyleRun> {
        let out = lines(DEFAULT_MAX_LINE_BYTES, &[bytes]);
        assert_eq!(out.len(), 1, "{out:?}");
        out[0].styles.clone()
    }

    fn run(start: u32, style: Sgr) -> StyleRun {
        StyleRun { start, style }
    }

    #[test]
    fn carriage_return_overwrites_the_line() {
        let out = lines(100, &[b"progress 10%\rprogress 100%\n"]);
        assert_eq!(texts(&out), ["progress 100%"]);
        assert_eq!(sanitize(b"abc\rxy"), "xy");
        assert_eq!(sanitize(b"one\r\ntwo\r\n"), "one\ntwo");
        // Only printed text clears: a colour change alone keeps the old text in view.
        let mut s = Sanitizer::new(100);
        let mut out = Vec::new();
        s.feed(b"50%\r\x1b[32m", &mut out);
        assert_eq!(s.partial().map(|l| l.text.as_str()), Some("50%"));
        s.feed(b"75%", &mut out);
        assert_eq!(s.partial().map(|l| l.text.as_str()), Some("75%"));
        assert!(out.is_empty());
        s.finish(&mut out);
        assert_eq!(texts(&out), ["75%"]);
        assert!(s.partial().is_none());
    }

    #[test]
    fn utf8_split_across_feeds_is_rejoined() {
        let out = lines(100, &[b"A\xe2\x82", b"\xac\xff Z\n"]);
        assert_eq!(texts(&out), ["A€� Z"]);
        // The same bytes in one piece and one byte at a time.
        assert_eq!(texts(&lines(100, &[b"A\xe2\x82\xac\xff Z\n"])), ["A€� Z"]);
        let bytes = b"A\xe2\x82\xac\xff Z\n";
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(texts(&lines(100, &singles)), ["A€� Z"]);
    }

    #[test]
    fn a_character_cut_off_by_the_end_of_input_becomes_a_replacement() {
        assert_eq!(sanitize(b"A\xe2\x82"), "A\u{FFFD}");
        assert_eq!(sanitize(b"A\xe2\x82\n"), "A\u{FFFD}");
        // After a CSI that ends without `vte` saying so (`<` makes it ignored).
        assert_eq!(sanitize(b"\x1b[38;5;<@\xc2"), "\u{FFFD}");
    }

    #[test]
    fn hostile_sequences_leave_no_trace() {
        let hostile: &[u8] = b"\x1b]0;PWNED\x07\x1b]2;PWNED\x07\x1b[2J\x1b[6n\x1bP$q\"p\x1b\\\
            \x1b]52;c;aGVsbG8=\x07\x1b]50;?\x07\x1b]8;;x-man-page://ls\x07click\x1b]8;;\x07\
            \xc2\x9b31mC1\r\x1b[31mred\n";
        let out = lines(DEFAULT_MAX_LINE_BYTES, &[hostile]);
        assert_eq!(texts(&out), ["red"]);
        assert_eq!(out[0].styles, [run(0, fg(Color::Ansi(1)))]);
        // Without the `\r`, everything that was text stays, and nothing else.
        let text = sanitize(
            &hostile
                .iter()
                .map(|&b| if b == b'\r' { b' ' } else { b })
                .collect::<Vec<_>>(),
        );
        assert_eq!(text, "click31mC1 red");
        for chunks in [1, 2, 3, 7] {
            let pieces: Vec<&[u8]> = hostile.chunks(chunks).collect();
            let out = lines(DEFAULT_MAX_LINE_BYTES, &pieces);
            assert_eq!(texts(&out), ["red"], "in pieces of {chunks}");
        }
    }

    #[test]
    fn no_sequence_leaks_text() {
        for seq in [
            &b"\x1b[2J"[..],
            b"\x1b[?1049h",
            b"\x1b[6n",
            b"\x1b[38;5;1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17;18;19;20;21;22;23;24;25;26;27;28;29;30;31;32;33m",
            b"\x1b]0;title\x1b\\",
            b"\x1b]52;c;aGVsbG8=\x07",
            b"\x1bPq#0;2;0;0;0#1!14~\x1b\\",
            b"\x1bX sos \x1b\\",
            b"\x1b^ pm \x1b\\",
            b"\x1b_ apc \x1b\\",
            b"\x1b(B",
            b"\x1b7\x1b8",
            b"\x1bc",
            b"\x1b[1<2m",
        ] {
            let mut input = b"<".to_vec();
            input.extend_from_slice(seq);
            input.extend_from_slice(b">\n");
            assert_eq!(sanitize(&input), "<>", "{:?}", String::from_utf8_lossy(seq));
        }
    }

    #[test]
    fn controls_are_dropped_and_bidi_controls_shown() {
        assert_eq!(sanitize(b"a\x00b\x07c\x08d\x7fe\x0bf\x0cg\n"), "abcdefg");
        assert_eq!(sanitize("a\u{85}b\u{9b}c\u{9d}d".as_bytes()), "abcd");
        assert_eq!(sanitize(b"a\x85b\x9bc\x9dd"), "abcd");
        assert_eq!(
            sanitize("x\u{202E}y\u{2066}z\u{200F}w\u{061C}v".as_bytes()),
            "x\u{FFFD}y\u{FFFD}z\u{FFFD}w\u{FFFD}v"
        );
        // The ends of the ranges too: every one of them is shown as a replacement.
        assert_eq!(
            sanitize("\u{202A}a\u{202D}b\u{2069}c\u{200E}".as_bytes()),
            "\u{FFFD}a\u{FFFD}b\u{FFFD}c\u{FFFD}"
        );
        // CAN aborts a sequence: what follows is text again.
        assert_eq!(sanitize(b"\x1b[31\x18ok"), "ok");
        assert_eq!(sanitize(b"\x1b]0;x\x1aok"), "ok");
    }

    #[test]
    fn tabs_expand_to_the_next_stop() {
        assert_eq!(sanitize(b"\tx"), "        x");
        assert_eq!(sanitize(b"ab\tc"), "ab      c");
        assert_eq!(sanitize(b"abcdefgh\ti"), "abcdefgh        i");
        // Wide characters take two columns; escapes take none.
        assert_eq!(sanitize("日本\tx".as_bytes()), "日本    x");
        assert_eq!(sanitize(b"ab\x1b[1m\tc"), "ab      c");
        assert_eq!(sanitize(b"a\r\tb"), "        b");
    }

    #[test]
    fn sgr_colours() {
        let red = fg(Color::Ansi(1));
        assert_eq!(runs(b"\x1b[31mred\n"), [run(0, red)]);
        assert_eq!(runs(b"\x1b[91mx\n"), [run(0, fg(Color::Ansi(9)))]);
        assert_eq!(
            runs(b"\x1b[38;5;208mx\n"),
            [run(0, fg(Color::Indexed(208)))]
        );
        assert_eq!(runs(b"\x1b[38;5;3mx\n"), [run(0, fg(Color::Ansi(3)))]);
        assert_eq!(
            runs(b"\x1b[38;2;1;2;3mx\n"),
            [run(0, fg(Color::Rgb(1, 2, 3)))]
        );
        assert_eq!(
            runs(b"\x1b[38:2::1:2:3mx\n"),
            [run(0, fg(Color::Rgb(1, 2, 3)))]
        );
        assert_eq!(
            runs(b"\x1b[38:5:200mx\n"),
            [run(0, fg(Color::Indexed(200)))]
        );
        let bg = |c| Sgr {
            bg: c,
            ..Sgr::default()
        };
        assert_eq!(runs(b"\x1b[44mx\n"), [run(0, bg(Color::Ansi(4)))]);
        assert_eq!(runs(b"\x1b[103mx\n"), [run(0, bg(Color::Ansi(11)))]);
        assert_eq!(runs(b"\x1b[48;5;17mx\n"), [run(0, bg(Color::Indexed(17)))]);
        assert_eq!(
            runs(b"\x1b[48;2;9;8;7mx\n"),
            [run(0, bg(Color::Rgb(9, 8, 7)))]
        );
        // The parameters of an extended colour are not read as codes of their own: the
        // 1 and 4 here are not bold and underline.
        assert_eq!(
            runs(b"\x1b[38;2;1;4;7mx\n"),
            [run(0, fg(Color::Rgb(1, 4, 7)))]
        );
        let all = Sgr {
            bold: true,
            dim: true,
            italic: true,
            underline: true,
            reverse: true,
            ..Sgr::default()
        };
        assert_eq!(runs(b"\x1b[1;2;3;4;7mx\n"), [run(0, all)]);
        assert!(runs(b"\x1b[1;2;3;4;7m\x1b[22;23;24;27mx\n").is_empty());
        assert!(runs(b"\x1b[31;44m\x1b[39;49mx\n").is_empty());
        assert!(runs(b"\x1b[31m\x1b[mx\n").is_empty());
        assert!(runs(b"\x1b[4:0mx\n").is_empty());
        // A private marker makes it something else than SGR.
        assert!(runs(b"\x1b[>4;2mx\n").is_empty());
    }

    #[test]
    fn style_runs_only_where_printed_text_changes_style() {
        let red = fg(Color::Ansi(1));
        assert!(runs(b"plain\n").is_empty());
        assert_eq!(
            runs(b"a\x1b[31mbc\x1b[0m\x1b[32m\x1b[0md\n"),
            [run(1, red), run(3, Sgr::default())]
        );
        assert_eq!(runs(b"\x1b[31ma\x1b[31mb\n"), [run(0, red)]);
        // The style outlives the line, and starts the next one.
        let out = lines(100, &[b"\x1b[31ma\nb\n\x1b[0mc\n"]);
        assert_eq!(out[1].styles, [run(0, red)]);
        assert!(out[2].styles.is_empty());
    }

    #[test]
    fn long_lines_are_cut_with_a_count() {
        let mut input = vec![b'x'; 3000];
        input.push(b'\n');
        let out = lines(2048, &[&input]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].text, format!("{}…(+952 bytes)", "x".repeat(2048)));
        // Cut on a character boundary: the euro sign that would straddle it goes whole.
        let out = lines(4, &["ab€cd\n".as_bytes()]);
        assert_eq!(texts(&out), ["ab…(+5 bytes)"]);
        // The marker is ours: default style even after coloured text.
        let out = lines(2, &[b"\x1b[31mabc\n"]);
        assert_eq!(out[0].text, "ab…(+1 bytes)");
        assert_eq!(
            out[0].styles,
            [run(0, fg(Color::Ansi(1))), run(2, Sgr::default())]
        );
        // Tabs count as the spaces they would have been.
        assert_eq!(texts(&lines(2, &[b"ab\tc\n"])), ["ab…(+7 bytes)"]);
    }

    #[test]
    fn the_partial_line_shows_the_cut_and_the_count_keeps_going() {
        let mut s = Sanitizer::new(10);
        let mut out = Vec::new();
        s.feed(&[b'y'; 15], &mut out);
        assert_eq!(
            s.partial().map(|l| l.text.as_str()),
            Some("yyyyyyyyyy…(+5 bytes)")
        );
        s.feed(&[b'y'; 5], &mut out);
        assert_eq!(
            s.partial().map(|l| l.text.as_str()),
            Some("yyyyyyyyyy…(+10 bytes)")
        );
        s.feed(b"\n", &mut out);
        assert_eq!(texts(&out), ["yyyyyyyyyy…(+10 bytes)"]);
        assert!(s.partial().is_none());
    }

    #[test]
    fn a_huge_line_or_sequence_does_not_grow_memory() {
        let mut s = Sanitizer::new(DEFAULT_MAX_LINE_BYTES);
        let mut out = Vec::new();
        let chunk = [b'z'; 64 * 1024];
        for _ in 0..160 {
            s.feed(&chunk, &mut out);
        }
        assert!(out.is_empty());
        // Whatever was fed: the cap, room for the marker, and the String's doubling.
        assert!(s.line.cur.text.capacity() <= 4 * DEFAULT_MAX_LINE_BYTES);
        let dropped = 160 * 64 * 1024 - DEFAULT_MAX_LINE_BYTES;
        assert!(
            s.partial()
                .unwrap()
                .text
                .ends_with(&format!("…(+{dropped} bytes)"))
        );

        // An endless OSC is skipped, not handed to `vte` (which would buffer it all).
        let mut s = Sanitizer::new(DEFAULT_MAX_LINE_BYTES);
        s.feed(b"\x1b]52;c;", &mut out);
        assert_eq!(s.seq, Seq::Osc);
        for _ in 0..160 {
            assert_eq!(s.in_sequence(&chunk, &mut out), chunk.len());
        }
        s.feed(b"\x07after\n", &mut out);
        assert_eq!(texts(&out), ["after"]);
    }

    #[test]
    fn sanitize_joins_lines() {
        assert_eq!(sanitize(b""), "");
        assert_eq!(sanitize(b"a\nb"), "a\nb");
        assert_eq!(sanitize(b"a\n\nb\n"), "a\n\nb");
        assert_eq!(sanitize(b"\n\na"), "\n\na");
        assert_eq!(sanitize(b"a\n\n"), "a");
    }

    /// Pieces that make escape sequences, controls and awkward UTF-8 likely.
    fn soup() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            prop::collection::vec(any::<u8>(), 0..8),
            "[ -~]{0,12}".prop_map(String::into_bytes),
            prop::sample::select(vec![
                &b"\x1b"[..],
                b"\x1b[",
                b"\x1b]",
                b"\x1bP",
                b"\x1bP1$q",
                b"\x1bX",
                b"\x1b\\",
                b"\x1b[31m",
                b"\x1b[38;5;",
                b"\x1b[38;2;1;2;3m",
                b"\x1b[0m",
                b"\x1b[?25l",
                b"\x1b]8;;http://x\x07",
                b"\x07",
                b"\x18",
                b"\x1a",
                b"\x9c",
                b"\x9b",
                b"\xc2\x9b",
                b"\xc2\x9d",
                b"\r",
                b"\n",
                b"\t",
                b"\x08",
                b"\x7f",
                b";",
                b"31",
                b"m",
                "€".as_bytes(),
                b"\xe2\x82",
                b"\xf0\x9f",
                "\u{202E}".as_bytes(),
                "\u{2067}".as_bytes(),
                "\u{61C}".as_bytes(),
                "日本".as_bytes(),
                "e\u{301}".as_bytes(),
            ])
            .prop_map(<[u8]>::to_vec),
        ];
        prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
    }

    fn input() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![prop::collection::vec(any::<u8>(), 0..200), soup()]
    }

    fn check_line(line: &OutLine, cap: usize) -> Result<(), TestCaseError> {
        for c in line.text.chars() {
            prop_assert!(!forbidden(c), "{:?} in {:?}", c, line.text);
        }
        if line.text.len() > cap {
            let at = line.text.find('…').unwrap_or(line.text.len());
            prop_assert!(at <= cap, "{:?}", line.text);
            let marker = &line.text[at..];
            prop_assert!(
                marker.starts_with("…(+") && marker.ends_with(" bytes)"),
                "{:?}",
                line.text
            );
        }
        let mut last = None;
        for r in &line.styles {
            prop_assert!((r.start as usize) < line.text.len(), "{line:?}");
            prop_assert!(line.text.is_char_boundary(r.start as usize));
            prop_assert!(last.is_none_or(|(start, style)| start < r.start && style != r.style));
            last = Some((r.start, r.style));
        }
        Ok(())
    }

    /// What the sanitizer must match: the same `Perform` given every byte by `vte`,
    /// with no fast path and nothing skipped.
    fn reference(cap: usize, bytes: &[u8]) -> Vec<OutLine> {
        let mut parser = Parser::new();
        let mut line = Line::new(cap);
        let mut out = Vec::new();
        let mut perform = Performer {
            line: &mut line,
            out: &mut out,
            seen: Seen::default(),
        };
        parser.advance(&mut perform, bytes);
        parser.advance(&mut perform, &[0]);
        if !line.cur.text.is_empty() || line.dropped > 0 {
            line.end_line(&mut out);
        }
        out
    }

    /// Completed lines after each step and the partial line, fed in `pieces`.
    fn run_pieces(cap: usize, pieces: &[&[u8]]) -> (Vec<OutLine>, Option<OutLine>, Vec<OutLine>) {
        let mut s = Sanitizer::new(cap);
        let mut out = Vec::new();
        for p in pieces {
            s.feed(p, &mut out);
        }
        let partial = s.partial().cloned();
        let fed = out.clone();
        s.finish(&mut out);
        (fed, partial, out)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn output_is_safe_capped_exact_and_chunking_does_not_matter(
            bytes in input(),
            at in any::<prop::sample::Index>(),
            cap in prop_oneof![Just(DEFAULT_MAX_LINE_BYTES), 0usize..24],
        ) {
            let at = at.index(bytes.len() + 1);
            let whole = run_pieces(cap, &[&bytes]);
            for line in whole.2.iter().chain(whole.1.iter()) {
                check_line(line, cap)?;
            }
            prop_assert_eq!(&whole.2, &reference(cap, &bytes));
            let split = run_pieces(cap, &[&bytes[..at], &bytes[at..]]);
            prop_assert_eq!(&split, &whole);
            let singles: Vec<&[u8]> = bytes.chunks(1).collect();
            prop_assert_eq!(&run_pieces(cap, &singles), &whole);
        }

        /// Up to 256 input bytes make at most 2048 bytes of text on one line (a tab is
        /// the most, at 8), so no line is cut: a cut line is not idempotent, as its
        /// marker would be cut in turn.
        #[test]
        fn sanitize_is_idempotent(bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..=256),
            soup().prop_map(|mut b| { b.truncate(256); b }),
        ]) {
            let once = sanitize(&bytes);
            prop_assert_eq!(sanitize(once.as_bytes()), once);
        }
    }

    /// `cargo test --release --lib runner::sanitize::tests::throughput -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement, not a check: run in release"]
    fn throughput() {
        let mut input = Vec::new();
        for i in 1..=3_000_000u32 {
            input.extend_from_slice(i.to_string().as_bytes());
            input.push(b'\n');
        }
        for (name, chunk) in [("whole", input.len()), ("64 KiB chunks", 64 * 1024)] {
            let began = std::time::Instant::now();
            let mut s = Sanitizer::new(DEFAULT_MAX_LINE_BYTES);
            let mut n = 0;
            for piece in input.chunks(chunk) {
                let mut out = Vec::new();
                s.feed(piece, &mut out);
                n += out.len();
            }
            println!("seq 1 3000000, {name}: {n} lines in {:?}", began.elapsed());
            assert_eq!(n, 3_000_000);
        }
        let coloured: Vec<u8> = (0..300_000)
            .flat_map(|i| format!("\x1b[1;3{}mline\x1b[0m {i} → ok\n", i % 8).into_bytes())
            .collect();
        let began = std::time::Instant::now();
        let mut out = Vec::new();
        Sanitizer::new(DEFAULT_MAX_LINE_BYTES).feed(&coloured, &mut out);
        println!(
            "{} coloured non-ASCII lines ({} bytes) in {:?}",
            out.len(),
            coloured.len(),
            began.elapsed()
        );
    }
}
