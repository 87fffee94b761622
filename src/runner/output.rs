//! The bounded tail of a task's output shown on screen.
//!
//! A task may print without end (a `yes`, a chatty restore); the screen keeps the
//! newest lines only, within a line count and a byte budget, and counts the rest so it
//! can say how many are only in the log.

use std::collections::VecDeque;
use std::ops::Range;

use super::sanitize::{OutLine, StyleRun};
use crate::runbook::secrets::{self, MASK, Secrets};

/// Lines held, the partial line included.
pub const MAX_LINES: usize = 5_000;
/// Text bytes held across all lines, the partial line included. Style runs count too,
/// at their size: a hostile line that changes colour at every character would
/// otherwise hold some twenty times its text in runs.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

/// The newest lines of one task's output, and the line still being written.
#[derive(Debug, Clone, Default)]
pub struct Ring {
    lines: VecDeque<OutLine>,
    partial: Option<OutLine>,
    /// [`cost`] of `lines` and `partial`, measured against [`MAX_BYTES`].
    bytes: usize,
    /// [`heap`] of `lines` (the partial line's is added when asked).
    heap: usize,
    /// Completed lines ever pushed.
    pushed: u64,
    dropped: u64,
}

impl Ring {
    pub fn new() -> Ring {
        Ring::default()
    }

    /// Appends completed lines, evicting the oldest beyond MAX_LINES or MAX_BYTES.
    pub fn push_lines(&mut self, lines: impl IntoIterator<Item = OutLine>) {
        for mut line in lines {
            // A line built by pushing may carry spare capacity that would escape the
            // budget; the sanitizer's lines are exact and never pay for this.
            if line.text.capacity() > line.text.len() + 64 {
                line.text.shrink_to_fit();
            }
            if line.styles.capacity() > line.styles.len() + 4 {
                line.styles.shrink_to_fit();
            }
            self.bytes += cost(&line);
            self.heap += heap(&line);
            self.pushed += 1;
            self.lines.push_back(line);
            // Evicting as we go keeps a flood pushed in one call from piling up first.
            self.evict();
        }
    }

    /// Replaces the in-progress last line (None clears it).
    pub fn set_partial(&mut self, partial: Option<OutLine>) {
        if let Some(old) = &self.partial {
            self.bytes -= cost(old);
        }
        if let Some(new) = &partial {
            self.bytes += cost(new);
        }
        self.partial = partial;
        self.evict();
    }

    /// Completed lines held now, plus the partial line if any.
    pub fn len(&self) -> usize {
        self.lines.len() + usize::from(self.partial.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Line `i` of `len()` (the partial line last).
    pub fn get(&self, i: usize) -> Option<&OutLine> {
        match i.checked_sub(self.lines.len()) {
            None => self.lines.get(i),
            Some(0) => self.partial.as_ref(),
            Some(_) => None,
        }
    }

    /// Lines ever pushed (including evicted ones), for "showing the last N of M".
    ///
    /// The partial line counts while there is one, so that `len() == total() -
    /// dropped()` always holds.
    pub fn total(&self) -> u64 {
        self.pushed + u64::from(self.partial.is_some())
    }

    /// Lines evicted so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Approximate heap bytes held (for the memory bound).
    pub fn held_bytes(&self) -> usize {
        self.heap
            + self.partial.as_ref().map_or(0, heap)
            + self.lines.capacity() * size_of::<OutLine>()
    }

    fn evict(&mut self) {
        let room = MAX_LINES - usize::from(self.partial.is_some());
        while self.lines.len() > room || (self.bytes > MAX_BYTES && !self.lines.is_empty()) {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= cost(&old);
                self.heap -= heap(&old);
                self.dropped += 1;
            }
        }
    }
}

/// Replaces every secret in `line` with [`MASK`], keeping its colours on the text around
/// it. `continues`: the line is still being written, so its end may be the first half of
/// a secret. A line the sanitizer cut short (`…(+N bytes)`) is treated the same way at the
/// cut. A secret split over two lines, or overwritten in part by a carriage return, is
/// not recognised: masking works on what a line shows.
pub fn mask_line(secrets: &Secrets, line: &mut OutLine, continues: bool) {
    if secrets.is_empty() {
        return;
    }
    let mut ranges = secrets.ranges(&line.text);
    let open_end = if continues {
        Some(line.text.len())
    } else {
        cut_at(&line.text)
    };
    if let Some(end) = open_end
        && let Some(start) = secrets.trailing_prefix(&line.text, end)
    {
        ranges.push(start..end);
        ranges = secrets::merge(ranges);
    }
    if ranges.is_empty() {
        return;
    }
    line.text = secrets::splice(&line.text, &ranges);
    let mut styles: Vec<StyleRun> = Vec::with_capacity(line.styles.len());
    for run in &line.styles {
        let moved = StyleRun {
            start: u32::try_from(masked_pos(run.start as usize, &ranges)).unwrap_or(u32::MAX),
            style: run.style,
        };
        // Runs that began inside one mask now begin at the same place: the last wins,
        // as it would have for the text after the secret.
        match styles.last_mut() {
            Some(last) if last.start == moved.start => *last = moved,
            _ => styles.push(moved),
        }
    }
    line.styles = styles;
}

/// Where the sanitizer's `…(+N bytes)` marker starts, if the line ends with one.
fn cut_at(text: &str) -> Option<usize> {
    let body = text.strip_suffix(" bytes)")?;
    let at = body.rfind("…(+")?;
    let digits = &body[at + "…(+".len()..];
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(at)
}

/// Where byte `pos` of the text lands once the sorted, disjoint `ranges` are masks: a run
/// starting where a secret starts colours the mask; one starting inside it, the text
/// after it.
fn masked_pos(pos: usize, ranges: &[Range<usize>]) -> usize {
    let mut shift: isize = 0;
    for r in ranges {
        if pos < r.start {
            break;
        }
        let at = r.start.saturating_add_signed(shift);
        if pos == r.start {
            return at;
        }
        if pos < r.end {
            return at + MASK.len();
        }
        shift += MASK.len() as isize - r.len() as isize;
    }
    pos.saturating_add_signed(shift)
}

/// What a line counts against [`MAX_BYTES`].
fn cost(line: &OutLine) -> usize {
    line.text.len() + line.styles.len() * size_of::<StyleRun>()
}

/// What a line holds on the heap.
fn heap(line: &OutLine) -> usize {
    line.text.capacity() + line.styles.capacity() * size_of::<StyleRun>()
}

/// `14 KB`, `3.2 GB`: powers of 1024, as `ls -h` and `du -h` show them.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value >= 10.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_du() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(14 * 1024), "14 KB");
        assert_eq!(human_size(3 * 1024 * 1024 + 200 * 1024), "3.2 MB");
    }
    use crate::runner::sanitize::Sgr;

    fn line(text: &str) -> OutLine {
        OutLine {
            text: text.to_owned(),
            styles: Vec::new(),
        }
    }

    fn texts(r: &Ring) -> Vec<String> {
        (0..r.len())
            .map(|i| r.get(i).unwrap().text.clone())
            .collect()
    }

    #[test]
    fn starts_empty() {
        let r = Ring::new();
        assert!(r.is_empty());
        assert_eq!((r.len(), r.total(), r.dropped()), (0, 0, 0));
        assert_eq!(r.get(0), None);
    }

    #[test]
    fn evicts_the_oldest_beyond_the_line_count() {
        let mut r = Ring::new();
        r.push_lines((0..MAX_LINES + 7).map(|i| line(&i.to_string())));
        assert_eq!(r.len(), MAX_LINES);
        assert_eq!(r.get(0).unwrap().text, "7");
        assert_eq!(
            r.get(MAX_LINES - 1).unwrap().text,
            (MAX_LINES + 6).to_string()
        );
        assert_eq!(r.get(MAX_LINES), None);
        assert_eq!(r.total(), (MAX_LINES + 7) as u64);
        assert_eq!(r.dropped(), 7);
    }

    #[test]
    fn evicts_the_oldest_beyond_the_byte_budget() {
        let mut r = Ring::new();
        let big = "x".repeat(1024 * 1024);
        r.push_lines((0..4).map(|_| line(&big)));
        assert_eq!((r.len(), r.dropped()), (4, 0));
        r.push_lines([line("y")]);
        assert_eq!((r.len(), r.dropped()), (4, 1));
        assert_eq!(r.get(3).unwrap().text, "y");
        // Style runs count: a line of a few bytes with a megabyte of runs evicts too.
        let runs = vec![
            StyleRun {
                start: 0,
                style: Sgr::default(),
            };
            1024 * 1024 / size_of::<StyleRun>() + 1
        ];
        r.push_lines([OutLine {
            text: "z".into(),
            styles: runs,
        }]);
        assert_eq!(r.dropped(), 2);
        assert!(r.bytes <= MAX_BYTES);
    }

    #[test]
    fn the_partial_line_comes_last_and_is_replaced() {
        let mut r = Ring::new();
        r.push_lines([line("a"), line("b")]);
        r.set_partial(Some(line("10%")));
        assert_eq!(texts(&r), ["a", "b", "10%"]);
        assert_eq!((r.len(), r.total(), r.dropped()), (3, 3, 0));
        r.set_partial(Some(line("20%")));
        assert_eq!(texts(&r), ["a", "b", "20%"]);
        r.push_lines([line("20% done")]);
        r.set_partial(None);
        assert_eq!(texts(&r), ["a", "b", "20% done"]);
        assert_eq!((r.len(), r.total(), r.dropped()), (3, 3, 0));
        r.set_partial(None);
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn the_partial_line_counts_against_the_limits() {
        let mut r = Ring::new();
        r.push_lines((0..MAX_LINES).map(|i| line(&i.to_string())));
        assert_eq!(r.dropped(), 0);
        r.set_partial(Some(line("p")));
        assert_eq!(r.len(), MAX_LINES);
        assert_eq!(r.dropped(), 1);
        assert_eq!(r.get(MAX_LINES - 1).unwrap().text, "p");
        assert_eq!(r.len() as u64, r.total() - r.dropped());
        // Replacing it with a bigger one takes its old bytes off the budget first.
        let mut r = Ring::new();
        r.set_partial(Some(line(&"x".repeat(MAX_BYTES))));
        r.set_partial(Some(line(&"x".repeat(MAX_BYTES))));
        assert_eq!(r.bytes, MAX_BYTES);
    }

    #[test]
    fn a_flood_stays_within_bounds() {
        let mut r = Ring::new();
        for chunk in 0..300 {
            r.push_lines((0..10_000).map(|i| line(&(chunk * 10_000 + i).to_string())));
            assert!(r.len() <= MAX_LINES);
        }
        assert_eq!(r.total(), 3_000_000);
        assert_eq!(r.dropped(), 3_000_000 - MAX_LINES as u64);
        assert_eq!(r.get(MAX_LINES - 1).unwrap().text, "2999999");
        // The deque's own slots are the slack: under 2 × MAX_LINES of them.
        let slack = 2 * MAX_LINES * size_of::<OutLine>();
        assert!(r.held_bytes() <= MAX_BYTES + slack, "{}", r.held_bytes());

        // Long lines: the byte budget binds before the count does.
        let mut r = Ring::new();
        let long = "y".repeat(2048);
        r.push_lines((0..20_000).map(|_| line(&long)));
        assert!(r.len() < MAX_LINES);
        assert!(r.held_bytes() <= MAX_BYTES + slack, "{}", r.held_bytes());
        assert_eq!(r.len() as u64, r.total() - r.dropped());
    }

    fn styled(text: &str, starts: &[u32]) -> OutLine {
        OutLine {
            text: text.to_owned(),
            styles: starts
                .iter()
                .enumerate()
                .map(|(i, &start)| StyleRun {
                    start,
                    style: Sgr {
                        fg: crate::runner::sanitize::Color::Ansi(i as u8),
                        ..Sgr::default()
                    },
                })
                .collect(),
        }
    }

    fn pw() -> Secrets {
        Secrets::from_values([("PW".to_string(), "hunter22".to_string())])
    }

    #[test]
    fn masking_keeps_the_colours_around_a_secret() {
        // "pw=" red, the secret green, " ok" blue.
        let mut l = styled("pw=hunter22 ok", &[0, 3, 11]);
        mask_line(&pw(), &mut l, false);
        assert_eq!(l.text, "pw=**** ok");
        let starts: Vec<u32> = l.styles.iter().map(|r| r.start).collect();
        assert_eq!(starts, [0, 3, 7]);
        // A colour change inside the secret applies after the mask; two collapse to one.
        let mut l = styled("ahunter22b", &[0, 3, 5, 9]);
        mask_line(&pw(), &mut l, false);
        assert_eq!(l.text, "a****b");
        let starts: Vec<u32> = l.styles.iter().map(|r| r.start).collect();
        assert_eq!(starts, [0, 5]);
        assert_eq!(
            l.styles[1].style.fg,
            crate::runner::sanitize::Color::Ansi(3)
        );
        // Nothing to hide: untouched.
        let mut l = styled("plain", &[0]);
        mask_line(&pw(), &mut l, false);
        assert_eq!(l, styled("plain", &[0]));
    }

    #[test]
    fn a_half_written_or_cut_secret_is_masked_too() {
        let mut l = line("password: hunt");
        mask_line(&pw(), &mut l, true);
        assert_eq!(l.text, "password: ****");
        // The same text as a finished line is not half of anything.
        let mut l = line("password: hunt");
        mask_line(&pw(), &mut l, false);
        assert_eq!(l.text, "password: hunt");
        let mut l = line("xx hunter…(+40 bytes)");
        mask_line(&pw(), &mut l, false);
        assert_eq!(l.text, "xx ****…(+40 bytes)");
        assert_eq!(cut_at("a…(+3 bytes)"), Some(1));
        assert_eq!(cut_at("a…(+ bytes)"), None);
        assert_eq!(cut_at("3 bytes)"), None);
    }

    #[test]
    fn spare_capacity_does_not_escape_the_budget() {
        let mut r = Ring::new();
        let mut roomy = String::with_capacity(1024 * 1024);
        roomy.push('x');
        r.push_lines([OutLine {
            text: roomy,
            styles: Vec::new(),
        }]);
        assert!(r.held_bytes() < 64 * 1024, "{}", r.held_bytes());
    }
}
