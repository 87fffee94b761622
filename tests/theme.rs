//! The palette on the real screen: cutover's own drawing in the sixteen named colours by
//! default, in 24-bit ones when the terminal takes them, none under `NO_COLOR`; a
//! command's own colours kept as exactly as the terminal allows. First through
//! ratatui's TestBackend, then through the binary in a pty, where `COLORTERM`, `STY` and
//! the config decide.

mod common;

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use cutover::app::{App, Msg, update};
use cutover::runbook::Runbook;
use cutover::runner::TaskId;
use cutover::runner::sanitize::Sanitizer;
use cutover::runner::watch::{Progress, Report};
use cutover::session::{Event, Record, WindowSpec};
use jiff::Timestamp;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Cell;
use ratatui::style::Color;

use common::Home;

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn record(seq: u64, at: &str, event: Event) -> Record {
    Record {
        seq,
        at: ts(at),
        by: "alice@jump1".into(),
        event,
    }
}

const NOW: &str = "2026-11-28T21:52:12Z";

/// The backup step running, a backup verified, another one writing output in the three
/// kinds of colour a command can ask for: ANSI green, 256-colour orange and RGB blue.
fn running_backups() -> App {
    let rb = Runbook::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ui/upgrade.toml"),
    )
    .unwrap();
    let vars = rb.resolve_vars(&[]).unwrap();
    let started = Event::SessionStarted {
        session: "20261128-205500-ab12".into(),
        runbook_path: "/srv/runbooks/upgrade.toml".into(),
        runbook_sha256: rb.sha256.clone(),
        vars,
        window: WindowSpec {
            start: ts("2026-11-28T21:00:00Z"),
            end: ts("2026-11-29T01:00:00Z"),
            timezone: "Europe/Amsterdam".into(),
        },
        cutover_version: "test".into(),
        rehearsal: false,
    };
    let mut app = App::new(
        rb,
        &[record(1, "2026-11-28T20:55:00Z", started)],
        "alice@jump1".into(),
        false,
        false,
    );
    app.view.selected = 3;
    let events = [
        Event::StepDone {
            step: "schedule".into(),
        },
        Event::StepStarted {
            step: "backup".into(),
            attempt: 1,
        },
        Event::BackupStarted {
            backup: "values".into(),
            attempt: 1,
        },
        Event::BackupStarted {
            backup: "disks".into(),
            attempt: 1,
        },
        Event::BackupFinished {
            backup: "values".into(),
            attempt: 1,
            exit: Some(0),
            signal: None,
            timed_out: false,
            cancelled: false,
            detached: false,
            ended: None,
        },
    ];
    for (i, e) in events.into_iter().enumerate() {
        app.apply(&record(i as u64 + 2, "2026-11-28T21:40:00Z", e));
    }
    let mut s = Sanitizer::new(2048);
    let mut lines = Vec::new();
    s.feed(
        b"pvc-a \x1b[32mgreen\x1b[0m\npvc-b \x1b[38;5;208morange\x1b[0m\npvc-c \x1b[38;2;10;20;200mblue\x1b[0m\n",
        &mut lines,
    );
    update(
        &mut app,
        Msg::Task(Report::Output {
            task: TaskId::backup("disks", 1),
            lines,
            partial: None,
            progress: Some(Progress {
                done: 7,
                total: Some(9),
            }),
        }),
    );
    app
}

/// The same session with the note dialog open and the end of its text selected
/// (shift-left twice: the cursor's cell draws as the cursor, the other as selected).
fn selecting_in_a_dialog() -> App {
    let mut app = running_backups();
    let press = |app: &mut App, code, mods| update(app, Msg::Key(KeyEvent::new(code, mods)));
    press(&mut app, KeyCode::Char('n'), KeyModifiers::NONE);
    for c in "rollback ok".chars() {
        press(&mut app, KeyCode::Char(c), KeyModifiers::NONE);
    }
    press(&mut app, KeyCode::Left, KeyModifiers::SHIFT);
    press(&mut app, KeyCode::Left, KeyModifiers::SHIFT);
    assert!(app.view.dialog.is_some(), "`n` should open the note dialog");
    app
}

fn draw(app: &App) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
    t.draw(|f| cutover::ui::render(f, app, ts(NOW))).unwrap();
    t
}

fn cells(t: &Terminal<TestBackend>) -> Vec<Cell> {
    t.backend().buffer().content().to_vec()
}

/// Both colours of every cell that sets one.
fn colours(t: &Terminal<TestBackend>) -> Vec<Color> {
    cells(t)
        .iter()
        .flat_map(|c| [c.fg, c.bg])
        .filter(|c| *c != Color::Reset)
        .collect()
}

fn is_named(c: Color) -> bool {
    !matches!(c, Color::Reset | Color::Rgb(..) | Color::Indexed(_))
}

/// The words the command in [`running_backups`] printed in colour.
const COMMAND_WORDS: [&str; 3] = ["green", "orange", "blue"];

/// Both colours of every cell cutover drew itself: all but the cells of
/// [`COMMAND_WORDS`], wherever they show.
fn own_colours(t: &Terminal<TestBackend>) -> Vec<Color> {
    let buf = t.backend().buffer();
    let (w, h) = (buf.area.width, buf.area.height);
    let mut theirs = vec![false; usize::from(w) * usize::from(h)];
    for y in 0..h {
        let text: String = (0..w).map(|x| buf[(x, y)].symbol()).collect();
        for word in COMMAND_WORDS {
            for (at, _) in text.match_indices(word) {
                // No wide characters on these screens: one char is one column.
                let x = text[..at].chars().count();
                let row = usize::from(y) * usize::from(w);
                theirs[row + x..row + x + word.len()].fill(true);
            }
        }
    }
    cells(t)
        .iter()
        .zip(theirs)
        .filter(|(_, theirs)| !theirs)
        .flat_map(|(c, _)| [c.fg, c.bg])
        .filter(|c| *c != Color::Reset)
        .collect()
}

/// The cell showing the first letter of `word` (unique on the screen).
fn cell_of(t: &Terminal<TestBackend>, word: &str) -> Cell {
    let buf = t.backend().buffer();
    let (w, h) = (buf.area.width, buf.area.height);
    for y in 0..h {
        let row: Vec<&str> = (0..w).map(|x| buf[(x, y)].symbol()).collect();
        let text = row.concat();
        if let Some(at) = text.find(word) {
            // No wide characters on these screens: one char is one column.
            let x = text[..at].chars().count() as u16;
            return buf[(x, y)].clone();
        }
    }
    panic!("`{word}` is not on the screen:\n{}", t.backend());
}

/// The cells with a background: on these screens only the editor's selection has one.
fn with_background(t: &Terminal<TestBackend>) -> Vec<Cell> {
    cells(t)
        .into_iter()
        .filter(|c| c.bg != Color::Reset)
        .collect()
}

#[test]
fn by_default_the_screen_is_drawn_in_the_sixteen_named_colours() {
    for app in [running_backups(), selecting_in_a_dialog()] {
        assert!(!app.view.truecolor, "truecolour must be off by default");
        let t = draw(&app);
        let own = own_colours(&t);
        let other: Vec<_> = own.iter().filter(|c| !is_named(**c)).collect();
        assert!(other.is_empty(), "not one of the sixteen: {other:?}");
        assert!(own.iter().any(|c| is_named(*c)), "no colour at all");
        let rgb: Vec<_> = colours(&t)
            .into_iter()
            .filter(|c| matches!(c, Color::Rgb(..)))
            .collect();
        assert!(rgb.is_empty(), "RGB written: {rgb:?}");
    }
    let t = draw(&running_backups());
    // The command's colours: ANSI green stays the terminal's green, 256-colour orange
    // passes through, RGB blue is the nearest of the 256.
    assert_eq!(cell_of(&t, "green").fg, Color::Green);
    assert_eq!(cell_of(&t, "orange").fg, Color::Indexed(208));
    assert_eq!(cell_of(&t, "blue").fg, Color::Indexed(20));
    let selected = with_background(&draw(&selecting_in_a_dialog()));
    assert!(!selected.is_empty(), "no selection on screen");
    assert!(
        selected.iter().all(|c| c.bg == Color::LightBlue),
        "{selected:?}"
    );
}

#[test]
fn with_truecolor_cutovers_own_colours_are_rgb() {
    for mut app in [running_backups(), selecting_in_a_dialog()] {
        app.view.truecolor = true;
        let t = draw(&app);
        let own = own_colours(&t);
        let other: Vec<_> = own
            .iter()
            .filter(|c| !matches!(c, Color::Rgb(..)))
            .collect();
        assert!(other.is_empty(), "not RGB: {other:?}");
        assert!(own.iter().any(|c| matches!(c, Color::Rgb(..))), "no RGB");
    }
    let mut app = running_backups();
    app.view.truecolor = true;
    let t = draw(&app);
    // The command's ANSI green stays the terminal's own, its 256-colour orange the
    // palette's, its RGB blue exact.
    assert_eq!(cell_of(&t, "green").fg, Color::Green);
    assert_eq!(cell_of(&t, "orange").fg, Color::Indexed(208));
    assert_eq!(cell_of(&t, "blue").fg, Color::Rgb(10, 20, 200));
    let mut app = selecting_in_a_dialog();
    app.view.truecolor = true;
    let selected = with_background(&draw(&app));
    assert!(!selected.is_empty(), "no selection on screen");
    assert!(
        selected.iter().all(|c| matches!(c.bg, Color::Rgb(..))),
        "{selected:?}"
    );
}

#[test]
fn no_color_drops_every_colour_even_with_truecolor() {
    for mut app in [running_backups(), selecting_in_a_dialog()] {
        app.view.no_color = true;
        for truecolor in [false, true] {
            app.view.truecolor = truecolor;
            let t = draw(&app);
            for (i, c) in cells(&t).iter().enumerate() {
                assert!(
                    c.fg == Color::Reset && c.bg == Color::Reset,
                    "truecolor {truecolor}: cell {i} is coloured: {c:?}"
                );
            }
            cell_of(&t, "orange");
        }
    }
}

/// Whether `raw` holds `needle` anywhere.
fn has(raw: &[u8], needle: &str) -> bool {
    raw.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Everything the demo wrote to a pty from its first screen to `q`, run by `script`
/// (a shell line; `$0` is the binary).
fn demo_bytes(home: &Home, script: &str) -> Vec<u8> {
    screen_bytes(home, script, 1)
}

/// Like [`demo_bytes`] for any screen whose first journal write is `saved #first`.
fn screen_bytes(home: &Home, script: &str, first: u64) -> Vec<u8> {
    let mut tui = home.pty_sh(120, 40, script);
    tui.wait_for_saved(first);
    // One more screen: a step done redraws the checklist in its colours.
    tui.send("d");
    tui.wait_for_saved(first + 1);
    tui.send("q");
    assert_eq!(tui.wait_code(), 0, "{}", tui.raw_text());
    tui.assert_restored();
    tui.raw()
}

/// The `n` of every `38;5;n` and `48;5;n` in `raw`.
fn indexed_colours(raw: &[u8]) -> Vec<u32> {
    let mut found = Vec::new();
    for prefix in ["38;5;", "48;5;"] {
        let p = prefix.as_bytes();
        for (i, _) in raw.windows(p.len()).enumerate().filter(|(_, w)| *w == p) {
            let digits: Vec<u8> = raw[i + p.len()..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .copied()
                .collect();
            let n = std::str::from_utf8(&digits).unwrap().parse();
            found.push(n.unwrap_or_else(|_| panic!("`{prefix}` without a number")));
        }
    }
    found
}

/// crossterm writes the sixteen named colours as `38;5;n` / `48;5;n` with n < 16, other
/// 256-colour indices the same way with n >= 16, and RGB as `38;2;r;g;b` / `48;2;r;g;b`.
/// These screens run no command (the demo's print no colour anyway), so every colour is
/// cutover's own.
fn assert_sixteen(raw: &[u8], what: &str) {
    assert!(
        !has(raw, "38;2;") && !has(raw, "48;2;"),
        "{what}: RGB colour written"
    );
    let indexed = indexed_colours(raw);
    assert!(!indexed.is_empty(), "{what}: no named colour written");
    let other: Vec<_> = indexed.iter().filter(|n| **n >= 16).collect();
    assert!(
        other.is_empty(),
        "{what}: not one of the sixteen: {other:?}"
    );
}

/// No named or 256-colour index at all: a command's ANSI colours would be named, but
/// these screens run none.
fn assert_truecolor(raw: &[u8], what: &str) {
    assert!(has(raw, "38;2;"), "{what}: no RGB colour written");
    assert!(
        !has(raw, "38;5;") && !has(raw, "48;5;"),
        "{what}: a named colour written"
    );
}

#[test]
fn the_binary_draws_rgb_only_when_colorterm_says_so() {
    let home = Home::new();
    let raw = demo_bytes(&home, r#"unset COLORTERM; exec "$0" demo"#);
    assert_sixteen(&raw, "COLORTERM unset");

    let home = Home::new();
    let raw = demo_bytes(&home, r#"COLORTERM=256color exec "$0" demo"#);
    assert_sixteen(&raw, "COLORTERM=256color");

    // `unset STY`: the tests may run inside GNU screen themselves.
    let home = Home::new();
    let raw = demo_bytes(&home, r#"unset STY; COLORTERM=truecolor exec "$0" demo"#);
    assert_truecolor(&raw, "COLORTERM=truecolor");
    // `resume` decides afresh, in the terminal it is resumed in.
    let raw = screen_bytes(&home, r#"unset COLORTERM; exec "$0" resume"#, 3);
    assert_sixteen(&raw, "resume with COLORTERM unset");
    let raw = screen_bytes(
        &home,
        r#"unset STY; COLORTERM=TrueColor exec "$0" resume"#,
        5,
    );
    assert_truecolor(&raw, "resume with COLORTERM=TrueColor");

    let home = Home::new();
    let raw = demo_bytes(&home, r#"COLORTERM=24bit NO_COLOR=1 exec "$0" demo"#);
    let colour = ["38;5;", "48;5;", "38;2;", "48;2;"];
    assert!(
        !colour.iter().any(|c| has(&raw, c)),
        "NO_COLOR=1 with COLORTERM=24bit wrote colour"
    );
}

#[test]
fn inside_gnu_screen_auto_keeps_the_sixteen_whatever_colorterm_says() {
    // screen passes on the COLORTERM of the terminal it was started from, but not 24-bit
    // colour itself.
    let home = Home::new();
    let raw = demo_bytes(
        &home,
        r#"STY=123.pts-1.host COLORTERM=truecolor exec "$0" demo"#,
    );
    assert_sixteen(&raw, "STY set with COLORTERM=truecolor");

    // The operator still vouches for the terminal with `theme = "truecolor"`.
    let home = Home::new();
    let cfg = config_with_theme(&home, "truecolor");
    let raw = demo_bytes(
        &home,
        &format!(
            r#"STY=123.pts-1.host CUTOVER_CONFIG_DIR='{}' exec "$0" demo"#,
            cfg.display()
        ),
    );
    assert_truecolor(&raw, "theme truecolor with STY set");
}

/// `config.toml` saying `theme = <theme>` in a config directory of its own.
fn config_with_theme(home: &Home, theme: &str) -> std::path::PathBuf {
    let dir = home.path().join("cfg");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), format!("theme = \"{theme}\"\n")).unwrap();
    dir
}

#[test]
fn the_config_theme_overrides_colorterm_both_ways() {
    let home = Home::new();
    let cfg = config_with_theme(&home, "16");
    let raw = demo_bytes(
        &home,
        &format!(
            r#"CUTOVER_CONFIG_DIR='{}' COLORTERM=truecolor exec "$0" demo"#,
            cfg.display()
        ),
    );
    assert_sixteen(&raw, "theme 16 with COLORTERM=truecolor");

    // Over ssh COLORTERM is usually gone; the operator vouches for the terminal.
    let home = Home::new();
    let cfg = config_with_theme(&home, "truecolor");
    let raw = demo_bytes(
        &home,
        &format!(
            r#"unset COLORTERM; CUTOVER_CONFIG_DIR='{}' exec "$0" demo"#,
            cfg.display()
        ),
    );
    assert_truecolor(&raw, "theme truecolor with COLORTERM unset");
}
