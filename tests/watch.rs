//! `cutover watch` against a session another process drives, both in pseudo-terminals:
//! it follows the journal live, refuses every key that would change anything, takes no
//! lock and writes nothing.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Home, TIMEOUT};
use cutover::app::{Action, Keymap};

/// The step the demo starts on: a manual step, so `d` on the driver marks it done.
const FIRST_STEP: &str = "Read this introduction";

fn status_word_after(screen: &str, title: &str) -> Option<String> {
    screen.lines().find_map(|row| {
        let (_, after) = row.split_once(title)?;
        after.split_whitespace().next().map(str::to_string)
    })
}

/// Every file under the session folder with its bytes: "nothing changed" is checked on
/// all of them, not just the journal.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

/// Whether a whole line of the journal records `kind`; a line still being written is
/// not looked at.
fn journal_has(path: &Path, kind: &str) -> bool {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let whole = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    whole
        .lines()
        .any(|l| l.contains(&format!("\"type\":\"{kind}\"")))
}

/// Pids holding an flock, from /proc/locks.
fn flock_pids() -> Vec<i32> {
    std::fs::read_to_string("/proc/locks")
        .unwrap()
        .lines()
        .filter(|l| !l.contains("->"))
        .filter_map(|l| l.split_whitespace().nth(4)?.parse().ok())
        .collect()
}

/// Sends the default key of every action that changes anything, checking each is
/// refused in words naming `who`.
fn press_every_mutating_key(watcher: &mut common::Pty, who: &str) {
    let keymap = Keymap::defaults();
    let mutating: Vec<Action> = Action::ALL
        .into_iter()
        .filter(|a| !a.only_looks())
        .collect();
    assert!(mutating.len() >= 10, "{mutating:?}");
    for action in mutating {
        let key = keymap.keys_for(action)[0].to_string();
        watcher.send(&bytes_of(&key));
        let want = format!("`{}` is refused here", action.hint());
        watcher.wait_until(&format!("{action:?} ({key}) refused"), TIMEOUT, |s| {
            s.contains(&want) && s.contains(who)
        });
        // Move off the message so the next refusal is a fresh one on screen.
        watcher.send("j");
        watcher.wait_until("the flash cleared", TIMEOUT, |s| !s.contains(&want));
    }
}

/// The bytes a key sends, for the keymap's spelling of it.
fn bytes_of(key: &str) -> String {
    match key {
        "enter" => "\r".into(),
        "tab" => "\t".into(),
        k if k.starts_with("ctrl-") && k.len() == 6 => {
            let c = k.as_bytes()[5].to_ascii_lowercase();
            char::from(c - b'a' + 1).to_string()
        }
        k if k.chars().count() == 1 => k.into(),
        other => panic!("no bytes known for key `{other}`; add them here"),
    }
}

#[test]
fn watch_follows_the_driver_within_a_second_and_refuses_every_mutating_key() {
    let home = Home::new();
    let mut driver = home.pty(120, 40, &["demo"]);
    driver.wait_for_saved(1);
    let id = home.only_session();
    let journal = home.journal(&id);

    let mut watcher = home.pty(120, 40, &["watch"]);
    watcher.wait_for("WATCHING (read-only)", TIMEOUT);
    // The header names the driver: the pid holding the lock.
    watcher.wait_for(&format!("(pid {})", driver.pid()), TIMEOUT);
    assert_eq!(
        status_word_after(&watcher.screen(), FIRST_STEP).as_deref(),
        Some("pending")
    );

    // The driver marks the first step done; the watcher shows it within a second of
    // the record reaching the journal.
    driver.send("d");
    let deadline = Instant::now() + TIMEOUT;
    while !journal_has(&journal, "step_done") {
        assert!(Instant::now() < deadline, "the driver never journaled `d`");
        std::thread::sleep(Duration::from_millis(5));
    }
    let journaled = Instant::now();
    watcher.wait_until("the step turning done", TIMEOUT, |s| {
        status_word_after(s, FIRST_STEP).as_deref() == Some("done")
    });
    let shown = journaled.elapsed();
    assert!(
        shown < Duration::from_secs(1),
        "the watcher showed the step done {shown:?} after it was journaled"
    );
    watcher.wait_for("read #2", TIMEOUT);

    // Every action that changes anything, by its default key: refused in words that
    // name the driver.
    press_every_mutating_key(&mut watcher, &format!("{} drives it", common::operator()));
    assert!(
        !flock_pids().contains(&watcher.pid()),
        "the watcher holds a lock"
    );

    // It took no lock: the driver quits, another process resumes, and the watcher,
    // still open, follows the new driver.
    driver.send("q");
    assert_eq!(driver.wait_code(), 0);
    watcher.wait_for("nobody drives it now", TIMEOUT);
    let mut second = home.pty(120, 40, &["resume", id.as_str()]);
    second.wait_for_saved(3);
    watcher.wait_for(&format!("(pid {})", second.pid()), TIMEOUT);
    watcher.wait_for("read #3", TIMEOUT);
    second.send("d");
    second.wait_for_saved(4);
    watcher.wait_for("read #4", TIMEOUT);

    watcher.send("q");
    assert_eq!(watcher.wait_code(), 0);
    watcher.assert_restored();
    let text = watcher.raw_text();
    assert!(
        text.contains(&format!("stopped watching session {id}")),
        "{text}"
    );
    second.send("q");
    assert_eq!(second.wait_code(), 0);
}

#[test]
fn a_watcher_writes_nothing_and_locks_nothing_from_start_to_quit() {
    let home = Home::new();
    let mut driver = home.pty(120, 40, &["demo"]);
    driver.wait_for_saved(1);
    driver.send("d");
    driver.wait_for_saved(2);
    driver.send("q");
    assert_eq!(driver.wait_code(), 0);
    let id = home.only_session();
    let session_dir = home.journal(&id).parent().unwrap().to_path_buf();
    // Taken with nobody driving, so any change is the watcher's.
    let before = snapshot(&session_dir);

    // Wide enough for the whole refusal, session id included, on the status bar.
    let mut watcher = home.pty(160, 40, &["watch", id.as_str()]);
    watcher.wait_for("nobody drives it now", TIMEOUT);
    assert!(!flock_pids().contains(&watcher.pid()));
    press_every_mutating_key(
        &mut watcher,
        &format!("nobody drives it now; `cutover resume {id}` takes it over"),
    );
    // The keys that do work, including the ones that open something.
    for keys in ["j", "\t", "\t", "t", "t", "?", "x", "G", "g"] {
        watcher.send(keys);
    }
    watcher.send("q");
    assert_eq!(watcher.wait_code(), 0);
    watcher.assert_restored();
    assert_eq!(
        snapshot(&session_dir),
        before,
        "watching changed the session's files"
    );
}

#[test]
fn output_is_followed_once_even_across_a_crash_and_resume_of_the_driver() {
    let home = Home::new();
    let mut driver = home.pty(120, 40, &["demo"]);
    driver.wait_for_saved(1);
    // Past the two manual steps to `say-hello`, a command.
    driver.send("d");
    driver.wait_for_saved(2);
    driver.send("d");
    driver.wait_for_saved(3);
    let id = home.only_session();

    let mut watcher = home.pty(120, 40, &["watch"]);
    watcher.wait_for("WATCHING (read-only)", TIMEOUT);
    driver.send("\r");
    // The watcher shows the output as it comes, from the task's own log.
    watcher.wait_for("Hello from Demo shop", TIMEOUT);
    // The driver dies with the command running; the command goes on and ends while
    // nobody drives, and a resume records how it ended.
    driver.kill_9();
    driver.wait_exit(TIMEOUT);
    watcher.wait_for("running as session", TIMEOUT);
    let mut second = home.pty(120, 40, &["resume", id.as_str()]);
    second.wait_until("the end recorded", TIMEOUT, |s| {
        status_word_after(s, "Say hello").as_deref() == Some("done")
    });
    watcher.wait_until("the watcher shows it done", TIMEOUT, |s| {
        status_word_after(s, "Say hello").as_deref() == Some("done")
    });
    let screen = watcher.screen();
    assert_eq!(
        screen.matches("Hello from Demo shop").count(),
        1,
        "the output is shown more than once:\n{screen}"
    );
    second.send("q");
    assert_eq!(second.wait_code(), 0);
    watcher.send("q");
    assert_eq!(watcher.wait_code(), 0);
}

#[test]
fn damage_in_the_journal_stops_following_and_says_so() {
    let home = Home::new();
    let mut driver = home.pty(120, 40, &["demo"]);
    driver.wait_for_saved(1);
    driver.send("q");
    assert_eq!(driver.wait_code(), 0);
    let id = home.only_session();
    let mut watcher = home.pty(160, 30, &["watch", id.as_str()]);
    watcher.wait_for("read #1", TIMEOUT);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(home.journal(&id))
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"seq\":3,\"forged\":true}\n").unwrap();
    watcher.wait_for("NOT FOLLOWING", TIMEOUT);
    watcher.wait_for(&format!("cutover status {id}"), TIMEOUT);
    watcher.send("q");
    assert_eq!(watcher.wait_code(), 0);
    watcher.assert_restored();
}

#[test]
fn watch_with_no_session_says_so_and_changes_nothing() {
    let home = Home::new();
    let out = home.run(&["watch"]);
    assert_eq!(out.code, 66, "{out:?}");
    assert!(out.stderr.contains("no sessions to watch"), "{out:?}");
    assert!(home.session_dirs().is_empty());
    let out = home.run(&["watch", "nope"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("nope"), "{out:?}");
}

mod pure {
    //! The same promise through the pure `update`, on every step of a fuller runbook:
    //! in watch mode no key yields anything but quitting or opening a log.

    use std::path::Path;

    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use cutover::app::{Action, App, Effect, Keymap, Msg, Watching, update};
    use cutover::runbook::Runbook;
    use cutover::session::{Event, Record, WindowSpec};
    use jiff::Timestamp;

    fn app() -> App {
        let rb = Runbook::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ui/upgrade.toml"),
        )
        .unwrap();
        let start: Timestamp = "2026-11-28T21:00:00Z".parse().unwrap();
        let first = Record {
            seq: 1,
            at: start,
            by: "op@host".into(),
            event: Event::SessionStarted {
                session: "s".into(),
                runbook_path: "x".into(),
                runbook_sha256: rb.sha256.clone(),
                vars: rb.resolve_vars(&[]).unwrap(),
                window: WindowSpec {
                    start,
                    end: "2026-11-29T01:00:00Z".parse().unwrap(),
                    timezone: "UTC".into(),
                },
                cutover_version: "test".into(),
                rehearsal: false,
            },
        };
        let mut app = App::new(rb, &[first], "watcher@host".into(), false, true);
        app.view.now = "2026-11-28T21:30:00Z".parse().unwrap();
        app.watching = Some(Watching {
            driver: Some("op@host, pid 4242, since 2026-11-28 21:00:00 UTC".into()),
            stopped: None,
        });
        app
    }

    fn event_of(key: &str) -> KeyEvent {
        let (code, mods) = match key {
            "enter" => (KeyCode::Enter, KeyModifiers::NONE),
            "tab" => (KeyCode::Tab, KeyModifiers::NONE),
            "backtab" | "shift-tab" => (KeyCode::BackTab, KeyModifiers::SHIFT),
            "up" => (KeyCode::Up, KeyModifiers::NONE),
            "down" => (KeyCode::Down, KeyModifiers::NONE),
            "home" => (KeyCode::Home, KeyModifiers::NONE),
            "end" => (KeyCode::End, KeyModifiers::NONE),
            "pgup" | "pageup" => (KeyCode::PageUp, KeyModifiers::NONE),
            "pgdn" | "pagedown" => (KeyCode::PageDown, KeyModifiers::NONE),
            k if k.starts_with("ctrl-") => (
                KeyCode::Char(k.chars().nth(5).unwrap()),
                KeyModifiers::CONTROL,
            ),
            k if k.chars().count() == 1 => {
                (KeyCode::Char(k.chars().next().unwrap()), KeyModifiers::NONE)
            }
            other => panic!("no key event known for `{other}`"),
        };
        KeyEvent::new(code, mods)
    }

    #[test]
    fn no_key_in_watch_mode_asks_for_anything_but_quit_or_a_log() {
        let keymap = Keymap::defaults();
        let steps = app().run.steps.len();
        for step in 0..steps {
            for action in Action::ALL {
                for chord in keymap.keys_for(action) {
                    let mut app = app();
                    app.view.selected = step;
                    let seq = app.run.last_seq;
                    let effects = update(&mut app, Msg::Key(event_of(&chord.to_string())));
                    for e in &effects {
                        assert!(
                            matches!(e, Effect::Quit | Effect::OpenLog(_)),
                            "{action:?} ({chord}) on step {step} asked for {e:?}"
                        );
                    }
                    assert!(app.view.dialog.is_none(), "{action:?} opened a dialog");
                    assert!(!app.view.editing, "{action:?} opened the editor");
                    assert_eq!(app.run.last_seq, seq);
                    if !action.only_looks() {
                        let flash = app.view.flash.as_ref().map(|f| f.text.clone());
                        assert!(
                            flash.as_deref().is_some_and(
                                |t| t.contains("refused") && t.contains("op@host drives it")
                            ),
                            "{action:?} on step {step}: {flash:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn without_watch_mode_the_same_keys_do_ask_for_changes() {
        // The negative of the test above: it is watch mode that makes them inert.
        let mut app = app();
        app.watching = None;
        let effects = update(&mut app, Msg::Key(event_of("d")));
        assert!(
            effects.iter().any(|e| matches!(e, Effect::Record(_))) || app.view.dialog.is_some(),
            "{effects:?}"
        );
    }
}
