//! The terminals an operator really has. The screen never asks the terminal a question
//! (a cursor position, device attributes, colours...) whose answer it would wait for or
//! misread as keys; nothing needs a bare Esc, which tmux holds back for its
//! `escape-time`; and the checklist works inside tmux with its default configuration,
//! through `--tmux`, and inside GNU screen.
//!
//! The tmux and screen tests need those programs. `.ci/run` installs them; without them
//! the tests fail (saying so) unless `CUTOVER_SKIP_MULTIPLEXER_TESTS=1` is set.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::multiplexer::{POLL, Screen, Tmux, exports, home_env, multiplexer, sh_quote, unique};
use common::{BIN, Home};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use cutover::app::view::{Dialog, Purpose};
use cutover::app::{Action, App, Effect, Keymap, Msg, update};
use cutover::runbook::Runbook;
use cutover::session::{Event, Record, WindowSpec};

/// How long text may take to appear on a loaded 2-core machine.
const WAIT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------
// 1. No terminal queries
// ---------------------------------------------------------------------------------------

/// What a scan of a terminal byte stream found.
#[derive(Debug, Default)]
struct Scan {
    /// Every request the terminal would answer (by writing into the program's input),
    /// spelled with `ESC` for the escape byte.
    queries: Vec<String>,
    /// How many control sequences (CSI, OSC, DCS) the stream held in all: proof that the
    /// scan read a real screen and not an empty or unparsed one.
    sequences: usize,
}

/// `bytes` printable: `ESC` for 0x1b, `BEL` for 0x07, other control bytes as `\xNN`.
fn spell(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            0x1b => out.push_str("ESC"),
            0x07 => out.push_str("BEL"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// The index just past the string terminator (`BEL` when `bel` allows it, or `ESC \`)
/// of an OSC or DCS whose payload starts at `from`, and the payload's end. Inside a
/// tmux passthrough every ESC is doubled, so `ESC ESC` is payload, not a terminator.
fn string_end(raw: &[u8], from: usize, bel: bool) -> Option<(usize, usize)> {
    let mut k = from;
    while k < raw.len() {
        match raw[k] {
            0x07 if bel => return Some((k, k + 1)),
            0x1b => match raw.get(k + 1) {
                Some(0x1b) => k += 2,
                Some(b'\\') => return Some((k, k + 2)),
                Some(_) => k += 1,
                None => return None,
            },
            _ => k += 1,
        }
    }
    None
}

/// Is this CSI (`ESC [ params intermediates final`) a request the terminal answers?
fn csi_is_query(params: &[u8], inter: &[u8], fin: u8) -> bool {
    let first_number = || -> Option<u32> {
        std::str::from_utf8(params)
            .ok()?
            .split(';')
            .next()?
            .parse()
            .ok()
    };
    match fin {
        // DSR: `ESC[5n` status, `ESC[6n` / `ESC[?6n` cursor position, `ESC[?15n`...
        b'n' => inter.is_empty(),
        // DA1 `ESC[c` / `ESC[0c`, DA2 `ESC[>c` / `ESC[>0c`, DA3 `ESC[=c`.
        b'c' => inter.is_empty(),
        // The kitty keyboard protocol's flag query `ESC[?u` (not `ESC[u`, restore cursor).
        b'u' => params.first() == Some(&b'?'),
        // XTVERSION `ESC[>q` / `ESC[>0q` (not `ESC[2 q`, the cursor shape).
        b'q' => params.first() == Some(&b'>') && inter.is_empty(),
        // DECRQM `ESC[?2026$p`, `ESC[4$p`.
        b'p' => inter == b"$",
        // XTWINOPS reports: window state, position, size in pixels or cells, title.
        b't' => inter.is_empty() && matches!(first_number(), Some(11 | 13..=21)),
        // XTSMGRAPHICS `ESC[?1;1S` and XTQMODKEYS `ESC[?4m`.
        b'S' | b'm' => params.first() == Some(&b'?'),
        _ => false,
    }
}

/// Is this OSC payload (`ESC ] payload ST`) a request? `ESC]10;?` and `ESC]11;?`
/// (foreground, background), `ESC]4;1;?` (a palette entry), `ESC]52;c;?` (the clipboard).
fn osc_is_query(payload: &[u8]) -> bool {
    let mut fields = payload.split(|&b| b == b';');
    let number = fields
        .next()
        .and_then(|n| std::str::from_utf8(n).ok())
        .and_then(|n| n.parse::<u32>().ok());
    matches!(number, Some(4 | 5 | 10..=19 | 52)) && fields.any(|f| f == b"?")
}

/// Every terminal query in `raw`: CSI, OSC and DCS requests, including those wrapped in
/// a tmux passthrough (`ESC P tmux; ... ESC \`).
fn scan(raw: &[u8]) -> Scan {
    let mut found = Scan::default();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != 0x1b {
            i += 1;
            continue;
        }
        match raw.get(i + 1) {
            Some(b'[') => {
                let mut j = i + 2;
                let params_at = j;
                while j < raw.len() && (0x30..=0x3f).contains(&raw[j]) {
                    j += 1;
                }
                let inter_at = j;
                while j < raw.len() && (0x20..=0x2f).contains(&raw[j]) {
                    j += 1;
                }
                let Some(&fin) = raw.get(j) else { break };
                if !(0x40..=0x7e).contains(&fin) {
                    // Not a complete CSI: look again from the next byte.
                    i += 1;
                    continue;
                }
                found.sequences += 1;
                if csi_is_query(&raw[params_at..inter_at], &raw[inter_at..j], fin) {
                    found.queries.push(spell(&raw[i..=j]));
                }
                i = j + 1;
            }
            Some(b']') => {
                let Some((end, next)) = string_end(raw, i + 2, true) else {
                    break;
                };
                found.sequences += 1;
                if osc_is_query(&raw[i + 2..end]) {
                    found.queries.push(spell(&raw[i..next]));
                }
                i = next;
            }
            Some(b'P') => {
                let Some((end, next)) = string_end(raw, i + 2, false) else {
                    break;
                };
                found.sequences += 1;
                let payload = &raw[i + 2..end];
                if let Some(inner) = payload.strip_prefix(b"tmux;") {
                    // tmux passes the inner sequence on with its ESCs undoubled.
                    let mut undoubled = Vec::with_capacity(inner.len());
                    let mut k = 0;
                    while k < inner.len() {
                        undoubled.push(inner[k]);
                        k += if inner[k] == 0x1b && inner.get(k + 1) == Some(&0x1b) {
                            2
                        } else {
                            1
                        };
                    }
                    let nested = scan(&undoubled);
                    found.sequences += nested.sequences;
                    found.queries.extend(nested.queries);
                } else if payload.starts_with(b"$q") || payload.starts_with(b"+q") {
                    // DECRQSS and XTGETTCAP.
                    found.queries.push(spell(&raw[i..next]));
                }
                i = next;
            }
            _ => i += 1,
        }
    }
    found
}

/// The negative control: the scan fires on every query the issue names (and a few more),
/// alone or among ordinary drawing, and on nothing a screen normally writes.
#[test]
fn the_query_scan_finds_every_kind_of_terminal_query() {
    let queries: &[&[u8]] = &[
        b"\x1b[6n",
        b"\x1b[?6n",
        b"\x1b[5n",
        b"\x1b[c",
        b"\x1b[0c",
        b"\x1b[>c",
        b"\x1b[>0c",
        b"\x1b[=c",
        b"\x1b[?u",
        b"\x1b]10;?\x07",
        b"\x1b]11;?\x1b\\",
        b"\x1b]4;1;?\x07",
        b"\x1b]52;c;?\x07",
        b"\x1b[>q",
        b"\x1b[>0q",
        b"\x1b[?2026$p",
        b"\x1b[?1049$p",
        b"\x1b[4$p",
        b"\x1b[14t",
        b"\x1b[18t",
        b"\x1b[?1;1S",
        b"\x1bP$qm\x1b\\",
        b"\x1bP+q544e\x1b\\",
    ];
    // What drawing a screen writes: none of these asks anything.
    let ordinary: &[u8] = b"\x1b[?1049h\x1b[?25l\x1b[2J\x1b[1;1H\x1b[38;5;196mred\x1b[0m\
        \x1b[48;2;1;2;3m \x1b[39;49m\x1b[2 q\x1b[s\x1b[u\x1b[?2026h\x1b[?2026l\
        \x1b]0;title\x07\x1b]52;c;aGkK\x1b\\\x1bPtmux;\x1b\x1b]52;c;aGkK\x1b\x1b\\\x1b\\\
        \x1b7\x1b8\x1b=\x1b>6n c ?u 0c\x1b[10;20r\x1b[?7h\x1b[8;30;100t\x1b[?1049l";
    let clean = scan(ordinary);
    assert!(
        clean.queries.is_empty(),
        "false alarm on ordinary drawing: {:?}",
        clean.queries
    );
    assert!(clean.sequences >= 20, "{clean:?}");
    // Through tmux's passthrough, as a program inside tmux would send it: the scan
    // reports the sequence tmux passes on.
    let wrapped = scan(b"\x1b[0m\x1bPtmux;\x1b\x1b]11;?\x07\x1b\\\x1b[0m");
    assert_eq!(wrapped.queries, ["ESC]11;?BEL"]);
    for q in queries {
        let alone = scan(q);
        assert_eq!(
            alone.queries,
            vec![spell(q)],
            "the scan missed {:?} on its own",
            spell(q)
        );
        // Amid ordinary output, split nowhere special.
        let mut mixed = ordinary.to_vec();
        mixed.extend_from_slice(q);
        mixed.extend_from_slice(ordinary);
        let amid = scan(&mixed);
        assert_eq!(
            amid.queries,
            vec![spell(q)],
            "the scan missed {:?} amid ordinary drawing",
            spell(q)
        );
    }
}

/// The id of the selected step, read off any screen (ours, tmux's, screen's).
fn selected_step(screen: &str) -> Option<&str> {
    // The step pane's title names the selected step: `Step · <id> · <kind>` (in ASCII
    // mode `Step - <id> - <kind>`), so this reads the same through any multiplexer.
    screen.lines().find_map(|l| {
        let (_, after) = l.split_once("Step ")?;
        after
            .trim_start_matches(['·', '-', '_', ' '])
            .split_whitespace()
            .next()
    })
}

#[test]
fn the_screen_never_asks_the_terminal_anything() {
    let home = Home::new();
    let mut tui = home.pty(100, 30, &["demo"]);
    tui.wait_for("Read this introduction", WAIT);
    tui.wait_for("saved #1", WAIT);
    assert_eq!(selected_step(&tui.screen()), Some("read-intro"));

    tui.send("j");
    tui.wait_until("the selection on check-terminal", WAIT, |s| {
        selected_step(s) == Some("check-terminal")
    });
    tui.send("t");
    tui.wait_for("t closes", WAIT);
    tui.send("t");
    tui.wait_until("the timeline closed", WAIT, |s| {
        !s.contains("t closes") && s.contains("Checklist")
    });
    tui.send("?");
    tui.wait_for("any key closes", WAIT);
    tui.send("z");
    tui.wait_until("the help closed", WAIT, |s| {
        !s.contains("any key closes") && s.contains("Checklist")
    });
    tui.send("q");
    assert_eq!(tui.wait_code(), 0, "{}", tui.raw_text());
    tui.assert_restored();

    let found = scan(&tui.raw());
    assert!(
        found.queries.is_empty(),
        "the screen asked the terminal something (tmux and screen may not answer, and an \
         answer arrives as input): {:?}",
        found.queries
    );
    assert!(
        found.sequences > 100,
        "the scan saw only {} control sequences: it did not read the screen",
        found.sequences
    );
}

/// The same check over a real terminal stream that does hold a query (written by the shell
/// before the screen starts): the capture and the scan would both catch one.
#[test]
fn a_query_in_the_terminal_stream_is_caught() {
    let home = Home::new();
    let mut tui = home.pty_sh(100, 30, r#"printf '\033[6n\033[>0q'; exec "$0" demo"#);
    tui.wait_for("Read this introduction", WAIT);
    tui.send("q");
    assert_eq!(tui.wait_code(), 0, "{}", tui.raw_text());
    assert_eq!(scan(&tui.raw()).queries, ["ESC[6n", "ESC[>0q"]);
}

// ---------------------------------------------------------------------------------------
// 2. Nothing needs a bare Esc
// ---------------------------------------------------------------------------------------

fn demo_app() -> App {
    let rb = Runbook::parse("demo.toml", cutover::cmd::start::DEMO_RUNBOOK).unwrap();
    let start: jiff::Timestamp = "2026-11-28T21:00:00Z".parse().unwrap();
    let first = Record {
        seq: 1,
        at: start,
        by: "op@host".into(),
        event: Event::SessionStarted {
            session: "s".into(),
            runbook_path: "demo.toml".into(),
            runbook_sha256: rb.sha256.clone(),
            vars: rb.resolve_vars(&[]).unwrap(),
            window: WindowSpec {
                start,
                end: "2026-11-28T21:30:00Z".parse().unwrap(),
                timezone: "UTC".into(),
            },
            cutover_version: "test".into(),
            rehearsal: false,
        },
    };
    let mut app = App::new(rb, &[first], "op@host".into(), false, true);
    app.view.now = "2026-11-28T21:02:00Z".parse().unwrap();
    app
}

fn press(app: &mut App, ev: KeyEvent) -> Vec<Effect> {
    update(app, Msg::Key(ev))
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ctrl_g() -> KeyEvent {
    KeyEvent::new(KeyCode::Char('g'), KeyModifiers::CONTROL)
}

fn select(app: &mut App, id: &str) {
    app.view.selected = app
        .run
        .steps
        .iter()
        .position(|s| s.id == id)
        .unwrap_or_else(|| panic!("no step `{id}` in the demo"));
}

/// No overlay, no dialog, no editor: the next key is a checklist key again.
fn assert_plain(app: &App, what: &str) {
    assert!(app.view.dialog.is_none(), "{what}: a dialog is still open");
    assert!(!app.view.help, "{what}: the help is still open");
    assert!(!app.view.timeline, "{what}: the timeline is still open");
    assert!(
        !app.view.editing,
        "{what}: the editor still has the keyboard"
    );
}

/// Presses `keys` (which must open a dialog `expect` accepts), types a little, then
/// ctrl-g: the dialog is gone, nothing was asked of the runtime, and the checklist keys
/// work again.
fn leaves_with_ctrl_g(
    app: &mut App,
    what: &str,
    keys: &[KeyEvent],
    expect: impl Fn(&Purpose) -> bool,
) {
    let saved = app.run.last_seq;
    for k in keys {
        let effects = press(app, *k);
        assert!(effects.is_empty(), "{what}: {k:?} asked for {effects:?}");
    }
    let purpose = app
        .view
        .dialog
        .as_ref()
        .map(|d| d.purpose.clone())
        .unwrap_or_else(|| panic!("{what}: no dialog opened (flash {:?})", app.view.flash));
    assert!(expect(&purpose), "{what}: the wrong dialog: {purpose:?}");
    for c in "half a reason".chars() {
        assert!(
            press(app, key(c)).is_empty(),
            "{what}: typing asked for something"
        );
    }
    let effects = press(app, ctrl_g());
    assert!(effects.is_empty(), "{what}: ctrl-g asked for {effects:?}");
    assert_plain(app, what);
    assert_eq!(app.run.last_seq, saved, "{what}: something was recorded");
    let before = app.view.selected;
    press(app, key('j'));
    assert_eq!(
        app.view.selected,
        before + 1,
        "{what}: after ctrl-g, j should move down"
    );
    press(app, key('k'));
    assert_eq!(app.view.selected, before, "{what}: and k back up");
}

#[test]
fn every_dialog_the_keys_open_is_left_with_ctrl_g() {
    let mut app = demo_app();
    select(&mut app, "check-terminal");
    leaves_with_ctrl_g(
        &mut app,
        "s (skip)",
        &[key('s')],
        |p| matches!(p, Purpose::Skip { step } if step == "check-terminal"),
    );
    leaves_with_ctrl_g(&mut app, "n (note)", &[key('n')], |p| {
        matches!(p, Purpose::Note { .. })
    });
    select(&mut app, "check-app");
    leaves_with_ctrl_g(
        &mut app,
        "d past a gate",
        &[key('d')],
        |p| matches!(p, Purpose::Override { step, .. } if step == "check-app"),
    );
    select(&mut app, "backup");
    leaves_with_ctrl_g(
        &mut app,
        "d on unverified backups",
        &[key('d')],
        |p| matches!(p, Purpose::DoneAnyway { step, .. } if step == "backup"),
    );
    leaves_with_ctrl_g(
        &mut app,
        "enter past a gate",
        &[code(KeyCode::Enter)],
        |p| matches!(p, Purpose::OverrideStart { .. }),
    );
    // The second question of a risky start: past the gate, then type the step id.
    select(&mut app, "stop-app");
    let mut to_confirm = vec![code(KeyCode::Enter)];
    to_confirm.extend("why not".chars().map(key));
    to_confirm.push(code(KeyCode::Enter));
    leaves_with_ctrl_g(
        &mut app,
        "typed confirmation",
        &to_confirm,
        |p| matches!(p, Purpose::ConfirmStart { step, .. } if step == "stop-app"),
    );
    select(&mut app, "read-intro");
    leaves_with_ctrl_g(&mut app, "e (extend)", &[key('e')], |p| {
        matches!(p, Purpose::ExtendBy)
    });
    let mut to_reason = vec![key('e')];
    to_reason.extend("30m".chars().map(key));
    to_reason.push(code(KeyCode::Enter));
    leaves_with_ctrl_g(&mut app, "e, then why", &to_reason, |p| {
        matches!(p, Purpose::ExtendReason { .. })
    });
    leaves_with_ctrl_g(&mut app, "R (rollback)", &[key('R')], |p| {
        matches!(p, Purpose::Rollback)
    });
    leaves_with_ctrl_g(&mut app, "S (send)", &[key('S')], |p| {
        matches!(p, Purpose::Send { .. })
    });
}

/// Every kind of dialog, including those only a running or interrupted step opens: the
/// match below stops compiling when a kind is added, so it cannot be left out.
#[test]
fn every_kind_of_dialog_is_left_with_ctrl_g() {
    fn all_purposes() -> Vec<Purpose> {
        let step = || "say-hello".to_string();
        let all = vec![
            Purpose::Skip { step: step() },
            Purpose::Note { step: step() },
            Purpose::NoteToComplete { step: step() },
            Purpose::Override {
                step: step(),
                unmet: vec!["x".into()],
            },
            Purpose::OverrideStart {
                step: step(),
                unmet: vec!["x".into()],
            },
            Purpose::ConfirmStart {
                step: step(),
                override_reason: None,
            },
            Purpose::Cancel { step: step() },
            Purpose::DoneAnyway {
                step: step(),
                why: "it failed".into(),
            },
            Purpose::MarkFailed { step: step() },
            Purpose::ExtendBy,
            Purpose::ExtendReason {
                by: cutover::runbook::Duration::from_secs(600),
            },
            Purpose::Rollback,
            Purpose::Send {
                phase: "before".into(),
                step: None,
                subject: "s".into(),
                body: "b".into(),
            },
        ];
        for p in &all {
            match p {
                Purpose::Skip { .. }
                | Purpose::Note { .. }
                | Purpose::NoteToComplete { .. }
                | Purpose::Override { .. }
                | Purpose::OverrideStart { .. }
                | Purpose::ConfirmStart { .. }
                | Purpose::Cancel { .. }
                | Purpose::DoneAnyway { .. }
                | Purpose::MarkFailed { .. }
                | Purpose::ExtendBy
                | Purpose::ExtendReason { .. }
                | Purpose::Rollback
                | Purpose::Send { .. } => {}
            }
        }
        all
    }
    for purpose in all_purposes() {
        let mut app = demo_app();
        let what = format!("{purpose:?}");
        app.view.dialog = Some(Dialog::new(purpose));
        // Something typed first: ctrl-g drops it with the dialog.
        press(&mut app, key('y'));
        let effects = press(&mut app, ctrl_g());
        assert!(effects.is_empty(), "{what}: ctrl-g asked for {effects:?}");
        assert_plain(&app, &what);
    }
}

#[test]
fn help_closes_on_any_key_and_the_timeline_on_t() {
    let mut app = demo_app();
    select(&mut app, "check-terminal");
    let at = app.view.selected;

    for any in [key('z'), key('j'), key('?'), code(KeyCode::Enter), key(' ')] {
        press(&mut app, key('?'));
        assert!(app.view.help, "? opens the help");
        let effects = press(&mut app, any);
        assert!(
            effects.is_empty(),
            "{any:?} closing the help asked for {effects:?}"
        );
        assert_plain(&app, &format!("help, then {any:?}"));
        assert_eq!(app.view.selected, at, "{any:?} only closes the help");
    }

    press(&mut app, key('t'));
    assert!(app.view.timeline, "t opens the timeline");
    // Keys about a step are held back while the timeline hides the steps...
    assert!(press(&mut app, key('d')).is_empty());
    assert!(app.view.timeline && app.view.dialog.is_none());
    // ...and help opens over it, closes on any key, and leaves it open.
    press(&mut app, key('?'));
    assert!(app.view.help && app.view.timeline);
    press(&mut app, key('x'));
    assert!(!app.view.help && app.view.timeline);
    assert!(press(&mut app, key('t')).is_empty());
    assert_plain(&app, "t on the timeline");
    assert_eq!(app.view.selected, at);
}

#[test]
fn the_message_editor_is_left_with_ctrl_g() {
    let mut app = demo_app();
    assert!(press(&mut app, key('m')).is_empty());
    assert!(app.view.editing, "m opens the editor");
    // In the editor a plain q is text, not quit.
    for c in "quick note".chars() {
        assert!(
            press(&mut app, key(c)).is_empty(),
            "{c:?} typed in the editor"
        );
    }
    assert!(app.view.editing);
    assert!(press(&mut app, ctrl_g()).is_empty());
    assert_plain(&app, "ctrl-g in the editor");
    let phase = app.view.message_phase.clone().unwrap_or_default();
    assert!(
        app.view
            .drafts
            .values()
            .any(|d| d.text().contains("quick note")),
        "the edited {phase:?} draft is kept after leaving"
    );

    // Enter on a message step opens its own draft; ctrl-g leaves that too.
    select(&mut app, "announce-before");
    assert!(press(&mut app, code(KeyCode::Enter)).is_empty());
    assert!(app.view.editing, "enter on a message step opens the editor");
    assert!(press(&mut app, ctrl_g()).is_empty());
    assert_plain(&app, "ctrl-g in a message step's editor");
}

/// `KeyChord`'s printed name back to the key event a terminal produces for it.
fn event_of(chord: &str) -> KeyEvent {
    let (mods, name) = match chord.strip_prefix("ctrl-") {
        Some(rest) if !rest.is_empty() => (KeyModifiers::CONTROL, rest),
        _ => (KeyModifiers::NONE, chord),
    };
    let code = match name {
        "enter" => KeyCode::Enter,
        "tab" => KeyCode::Tab,
        "shift-tab" => KeyCode::BackTab,
        "↑" => KeyCode::Up,
        "↓" => KeyCode::Down,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "pgup" => KeyCode::PageUp,
        "pgdn" => KeyCode::PageDown,
        "esc" => KeyCode::Esc,
        "space" => KeyCode::Char(' '),
        other => {
            let mut chars = other.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => KeyCode::Char(c),
                _ => panic!("a key name this test does not know: {chord:?}"),
            }
        }
    };
    // A terminal reports a capital with SHIFT; the keymap folds it into the character.
    let mods = match code {
        KeyCode::Char(c) if c.is_ascii_uppercase() => mods | KeyModifiers::SHIFT,
        _ => mods,
    };
    KeyEvent::new(code, mods)
}

/// The actions that only `esc` reaches in `km` (or nothing at all).
fn esc_only(km: &Keymap) -> Vec<(Action, Vec<String>)> {
    Action::ALL
        .into_iter()
        .map(|a| {
            let keys: Vec<String> = km.keys_for(a).iter().map(ToString::to_string).collect();
            (a, keys)
        })
        .filter(|(_, keys)| keys.iter().all(|k| k == "esc"))
        .collect()
}

#[test]
fn no_default_action_needs_a_bare_esc() {
    let km = Keymap::defaults();
    assert_eq!(
        esc_only(&km),
        [],
        "actions reachable only with a bare Esc (or not at all)"
    );
    // Every non-Esc key of every action really reaches it.
    for a in Action::ALL {
        for k in km.keys_for(a) {
            let name = k.to_string();
            if name == "esc" {
                continue;
            }
            assert_eq!(
                km.lookup(&event_of(&name)),
                Some(a),
                "{name} should trigger {a:?}"
            );
        }
    }
    // The check can fail: an action moved to Esc alone, or left without a key.
    let esc_help = Keymap::defaults()
        .with_overrides("help = [\"esc\"]")
        .unwrap();
    assert_eq!(
        esc_only(&esc_help),
        [(Action::Help, vec!["esc".to_string()])]
    );
    let unbound = Keymap::defaults().with_overrides("timeline = []").unwrap();
    assert_eq!(esc_only(&unbound), [(Action::Timeline, vec![])]);
}

// ---------------------------------------------------------------------------------------
// 3. tmux and GNU screen
// ---------------------------------------------------------------------------------------

/// The environment every process of these tests gets: [`home_env`]'s (the home's state, no
/// config, a fixed user, a `HOME` of its own so no personal `.tmux.conf` or `.screenrc` is
/// read), looking like an SSH login, so the screen's "over SSH outside tmux/screen"
/// warning would show if cutover failed to see the multiplexer around it.
fn login_env(home: &Home) -> Vec<(&'static str, PathBuf)> {
    let mut env = home_env(home);
    env.extend([
        ("SSH_TTY", "/dev/pts/9".into()),
        ("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22".into()),
    ]);
    env
}

/// Panics if the screen warns of SSH without a multiplexer: under [`login_env`] it would,
/// had cutover not noticed the tmux or screen it runs in.
fn assert_sees_multiplexer(screen: &str) {
    assert!(
        !screen.contains("over SSH"),
        "cutover did not notice the multiplexer around it:\n{screen}"
    );
}

#[test]
fn inside_tmux_with_its_default_config() {
    let Some(bin) = multiplexer("tmux") else {
        return;
    };
    let home = Home::new();
    let tmux = Tmux::new(bin, Some(unique("tmux")), WAIT);
    let session = "checklist";
    // The wrapper shell stays after cutover, so its exit code and goodbye stay readable.
    let mut new = tmux.command();
    new.args(["-f", "/dev/null", "new-session", "-d", "-s", session])
        .args(["-x", "100", "-y", "30", "--", "/bin/sh", "-c"])
        .arg(r#""$0" demo; echo "cutover-exit=$?"; exec sleep 3600"#)
        .arg(BIN)
        .envs(login_env(&home))
        .env("TERM", "xterm-256color")
        .env_remove("CUTOVER_LOG")
        .env_remove("NO_COLOR");
    let out = new.output().expect("start tmux");
    assert!(
        out.status.success(),
        "tmux new-session failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // tmux's own default (500 ms before 3.5, 10 ms since): a bare Esc reaches the
    // program only that late, which is why nothing may depend on one.
    let escape_time = tmux.run(&["show-options", "-s", "-v", "escape-time"]);
    assert!(
        escape_time.trim().parse::<u64>().is_ok_and(|ms| ms > 0),
        "tmux's default escape-time should hold a bare Esc back: {escape_time:?}"
    );

    let screen = tmux.wait_pane(session, "the checklist", |t| {
        t.contains("Read this introduction") && t.contains("saved #1")
    });
    for text in [
        "Checklist",
        "Check the terminal",
        "Window",
        "ON TRACK",
        "Backups",
    ] {
        assert!(
            screen.contains(text),
            "{text:?} is not on the screen:\n{screen}"
        );
    }
    assert_sees_multiplexer(&screen);
    assert_eq!(selected_step(&screen), Some("read-intro"), "{screen}");

    tmux.run(&["send-keys", "-t", session, "j"]);
    tmux.wait_pane(session, "the selection on check-terminal", |t| {
        selected_step(t) == Some("check-terminal")
    });
    // The editor and a dialog, each left with ctrl-g: no Esc, so no escape-time wait.
    tmux.run(&["send-keys", "-t", session, "m"]);
    tmux.wait_pane(session, "the message editor", |t| {
        t.contains("ctrl-g leave")
    });
    tmux.run(&["send-keys", "-t", session, "C-g"]);
    tmux.wait_pane(session, "the editor left", |t| {
        !t.contains("ctrl-g leave") && t.contains("live draft")
    });
    tmux.run(&["send-keys", "-t", session, "s"]);
    tmux.wait_pane(session, "the skip dialog", |t| t.contains("ctrl-g cancel"));
    tmux.run(&["send-keys", "-t", session, "C-g"]);
    let back = tmux.wait_pane(session, "the dialog closed", |t| {
        !t.contains("ctrl-g cancel")
    });
    assert_eq!(selected_step(&back), Some("check-terminal"), "{back}");

    tmux.run(&["send-keys", "-t", session, "q"]);
    let after = tmux.wait_pane(session, "cutover to exit", |t| t.contains("cutover-exit="));
    let id = home.only_session();
    assert!(after.contains("cutover-exit=0"), "{after}");
    assert!(
        after.contains(&format!("Resume with: cutover resume {id}")),
        "no resume line after quitting:\n{after}"
    );
    let status = home.status_json(&id);
    assert_eq!(status["open_by"], serde_json::Value::Null, "{status:#}");
}

/// `cutover demo --tmux` running on a pty of its own (see [`demo_in_its_own_tmux`]), and
/// what it runs with. The tests bind its fields in the order home, tmux, tmpdir, tui,
/// name, so they drop in reverse: the outer cutover first, the home last.
struct TmuxDemo {
    /// The operator's terminal, where the outer cutover runs.
    tui: common::Pty,
    /// The one tmux session's name.
    name: String,
    /// The outer cutover's `TMPDIR`.
    tmpdir: tempfile::TempDir,
    tmux: Tmux,
    home: Home,
}

/// `cutover demo --tmux` started on a pty of its own, as an operator would from a login
/// shell: not inside tmux, with the test's tmux server (`TMUX_TMPDIR`, tmux's default
/// socket) and a `TMPDIR` of its own, where the outer cutover keeps the file the inner one
/// leaves its goodbye in. Returns once the checklist shows; `None` when tmux is missing
/// and the tests are to be skipped (see [`multiplexer`]).
fn demo_in_its_own_tmux() -> Option<TmuxDemo> {
    let bin = multiplexer("tmux")?;
    let home = Home::new();
    let tmux = Tmux::new(bin, None, WAIT);
    let tmpdir = tempfile::tempdir().unwrap();
    let mut exports = exports(&login_env(&home));
    exports.push_str(&format!(
        "export TMUX_TMPDIR={} TMPDIR={}; ",
        sh_quote(tmux.tmpdir.path().as_os_str()),
        sh_quote(tmpdir.path().as_os_str())
    ));
    let tui = home.pty_sh(100, 30, &format!(r#"{exports}exec "$0" demo --tmux"#));
    tui.wait_for("Read this introduction", WAIT);
    tui.wait_for("saved #1", WAIT);

    let sessions = tmux.run(&["list-sessions", "-F", "#{session_name}"]);
    let names: Vec<&str> = sessions.lines().collect();
    let pattern = regex::Regex::new(r"^cutover-demo-\d{8}-\d{6}$").unwrap();
    assert!(
        names.len() == 1 && pattern.is_match(names[0]),
        "expected one tmux session cutover-demo-YYYYmmdd-HHMMSS: {names:?}"
    );
    let name = names[0].to_string();
    Some(TmuxDemo {
        tui,
        name,
        tmpdir,
        tmux,
        home,
    })
}

/// Panics unless the outer cutover removed the file it kept for the goodbye.
fn assert_nothing_left_in(tmpdir: &Path) {
    let left: Vec<_> = std::fs::read_dir(tmpdir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind in TMPDIR: {left:?}");
}

#[test]
fn demo_with_tmux_flag_starts_its_own_tmux_session() {
    let Some(TmuxDemo {
        home,
        tmux,
        tmpdir,
        mut tui,
        name,
    }) = demo_in_its_own_tmux()
    else {
        return;
    };
    let panes = tmux.run(&["list-panes", "-a", "-F", "#{pane_current_command}"]);
    assert_eq!(panes.trim(), "cutover", "what runs in the tmux session");
    let pane = tmux.capture(&name);
    for text in ["Checklist", "Check the terminal", "ON TRACK"] {
        assert!(
            pane.contains(text),
            "{text:?} is not in the tmux pane:\n{pane}"
        );
    }
    assert_sees_multiplexer(&pane);

    tui.send("j");
    tui.wait_until("the selection on check-terminal", WAIT, |s| {
        selected_step(s) == Some("check-terminal")
    });
    tui.send("q");
    // The goodbye printed inside tmux closes with its pane; the cutover that started
    // tmux says it again on the operator's own terminal.
    tui.wait_for("Resume with: cutover resume", WAIT);
    let status = tui.wait_exit(WAIT);
    assert!(
        status.success(),
        "the cutover that started tmux did not end cleanly: {status:?}; output:\n{}",
        tui.raw_text()
    );
    let id = home.only_session();
    let shown = tui.screen();
    for text in [
        format!("cutover: left session {id} (quit)"),
        format!("Resume with: cutover resume {id}"),
    ] {
        assert!(
            shown.contains(&text),
            "{text:?} is not on the operator's terminal after tmux:\n{shown}"
        );
    }
    assert!(tui.termios_cooked(), "the terminal was left raw");
    let report = home.status_json(&id);
    assert_eq!(report["open_by"], serde_json::Value::Null, "{report:#}");
    let left = tmux.try_run(&["list-sessions", "-F", "#{session_name}"]);
    let left = String::from_utf8_lossy(&left.stdout);
    assert!(
        !left.contains(&name),
        "the tmux session outlived cutover: {left}"
    );
    assert_nothing_left_in(tmpdir.path());
}

#[test]
fn demo_with_tmux_flag_says_how_to_come_back_after_a_detach() {
    let Some(TmuxDemo {
        home,
        tmux,
        tmpdir,
        mut tui,
        name,
    }) = demo_in_its_own_tmux()
    else {
        return;
    };
    let id = home.only_session();

    // What a dropped link or `C-b d` does: the client goes, the session stays.
    tmux.run(&["detach-client", "-s", &name]);
    let hint = format!("tmux attach -t {name}");
    tui.wait_for(&hint, WAIT);
    let status = tui.wait_exit(WAIT);
    assert!(
        status.success(),
        "the cutover that started tmux did not end cleanly after a detach: {status:?}; \
         output:\n{}",
        tui.raw_text()
    );
    let shown = tui.screen();
    assert!(
        shown.contains(&format!("tmux session {name}")) && !shown.contains("Resume with"),
        "the operator's terminal after the detach:\n{shown}"
    );
    assert!(tui.termios_cooked(), "the terminal was left raw");
    assert_nothing_left_in(tmpdir.path());

    // The screen goes on, still driving the session, until tmux goes.
    let sessions = tmux.run(&["list-sessions", "-F", "#{session_name}"]);
    assert_eq!(sessions.trim(), name, "the tmux sessions after the detach");
    let pane = tmux.capture(&name);
    assert!(
        pane.contains("Checklist"),
        "the pane after the detach:\n{pane}"
    );
    assert_ne!(
        home.status_json(&id)["open_by"],
        serde_json::Value::Null,
        "nobody drives the session after a mere detach"
    );
    tmux.run(&["kill-server"]);
    let deadline = Instant::now() + WAIT;
    loop {
        let report = home.status_json(&id);
        if report["open_by"].is_null() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cutover inside tmux still holds the session after kill-server: {report:#}"
        );
        std::thread::sleep(POLL);
    }
    // Its goodbye has nobody to go to: the file is not made again.
    assert_nothing_left_in(tmpdir.path());
}

#[test]
fn inside_gnu_screen_with_its_default_config() {
    let Some(bin) = multiplexer("screen") else {
        return;
    };
    let home = Home::new();
    let guard = Screen::new(bin);
    let script = guard.script(
        &login_env(&home),
        r#""$0" demo; echo "cutover-exit=$?"; read reply"#,
        &[],
    );
    let mut tui = home.pty_sh(100, 30, &script);
    tui.wait_until("the checklist inside screen", WAIT, |s| {
        s.contains("Read this introduction") && s.contains("saved #1")
    });
    let shown = tui.screen();
    for text in [
        "Checklist",
        "Check the terminal",
        "Say hello",
        "Announce the maintenance",
        "ON TRACK",
        "Backups",
    ] {
        assert!(
            shown.contains(text),
            "{text:?} is not on the screen:\n{shown}"
        );
    }
    assert_sees_multiplexer(&shown);
    assert_eq!(selected_step(&shown), Some("read-intro"), "{shown}");

    tui.send("j");
    tui.wait_until("the selection on check-terminal", WAIT, |s| {
        selected_step(s) == Some("check-terminal")
    });
    tui.send("s");
    tui.wait_for("ctrl-g cancel", WAIT);
    tui.send("\x07");
    tui.wait_until("the dialog closed", WAIT, |s| !s.contains("ctrl-g cancel"));

    tui.send("q");
    tui.wait_for("cutover-exit=", WAIT);
    let id = home.only_session();
    let after = tui.screen();
    assert!(after.contains("cutover-exit=0"), "{after}");
    assert!(
        after.contains(&format!("Resume with: cutover resume {id}")),
        "no resume line after quitting:\n{after}"
    );
    // The shell's `read` ends, its window closes, and screen with it.
    tui.send("\r");
    let status = tui.wait_exit(WAIT);
    assert!(status.success(), "screen did not end cleanly: {status:?}");
    let report = home.status_json(&id);
    assert_eq!(report["open_by"], serde_json::Value::Null, "{report:#}");
    let sessions = home.sessions_json();
    assert!(
        sessions["sessions"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["id"] == id.as_str())),
        "the session is not listed as resumable: {sessions:#}"
    );
    drop(guard);
}

/// tmux killed under the screen: its terminal vanishes (SIGHUP, then EIO on every write).
/// The screen must still end cleanly (no panic on the dead terminal) and its goodbye
/// reach the operator's terminal through the cutover that started tmux.
#[test]
fn a_killed_tmux_still_gets_the_goodbye_out() {
    let Some(TmuxDemo {
        home,
        tmux,
        tmpdir,
        mut tui,
        name: _name,
    }) = demo_in_its_own_tmux()
    else {
        return;
    };
    let id = home.only_session();
    tmux.run(&["kill-server"]);
    tui.wait_for(&format!("Resume with: cutover resume {id}"), WAIT);
    let status = tui.wait_exit(WAIT);
    assert_eq!(
        status.exit_code(),
        128 + libc::SIGHUP as u32,
        "the exit code says the screen ended on SIGHUP; output:\n{}",
        tui.raw_text()
    );
    let log = std::fs::read_to_string(home.journal(&id).with_file_name("cutover.log")).unwrap();
    assert!(
        !log.contains("panic"),
        "the screen panicked on its way out:\n{log}"
    );
    assert!(home.status_json(&id)["open_by"].is_null());
    assert_nothing_left_in(tmpdir.path());
}
