//! End to end, through a real pseudo-terminal: what an operator sees and what survives
//! kill -9, a second cutover on the same session, and SIGTERM/SIGHUP.

mod common;

use common::{Home, TIMEOUT, assert_no_escapes, assert_one_paragraph};
use serde_json::Value;

/// (id, title, status) of every step in `status --json`, in runbook order.
fn steps(status: &Value) -> Vec<(String, String, String)> {
    status["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("status --json has no steps array: {status:#}"))
        .iter()
        .map(|s| {
            let field = |k: &str| {
                s[k].as_str()
                    .unwrap_or_else(|| panic!("step without `{k}`: {s}"))
                    .to_string()
            };
            (field("id"), field("title"), field("status"))
        })
        .collect()
}

/// The rows inside the checklist pane (between its top border and its bottom border).
fn checklist_rows(rows: &[String]) -> Vec<String> {
    let top = rows
        .iter()
        .position(|r| r.contains("Checklist"))
        .unwrap_or_else(|| panic!("no checklist pane on the screen:\n{}", rows.join("\n")));
    rows[top + 1..]
        .iter()
        .take_while(|r| !r.trim_start().starts_with('└'))
        .cloned()
        .collect()
}

/// The word right after `title` on its checklist row (the step's status word).
fn status_word_after(rows: &[String], title: &str) -> Option<String> {
    rows.iter().find_map(|row| {
        let (_, after) = row.split_once(title)?;
        if !after.starts_with(char::is_whitespace) {
            return None;
        }
        after.split_whitespace().next().map(str::to_string)
    })
}

#[test]
fn kill_9_after_saved_then_resume_brings_every_saved_action_back() {
    let home = Home::new();
    let mut tui = home.pty(120, 40, &["demo"]);
    tui.wait_for_saved(1);
    assert!(
        !tui.termios_cooked(),
        "the checklist is up but the terminal is not in raw mode"
    );
    tui.send("d");
    tui.wait_for_saved(2);
    tui.send("d");
    tui.wait_for_saved(3);

    let id = home.only_session();
    tui.kill_9();
    let killed = tui.wait_exit(TIMEOUT);
    assert!(
        killed.signal().is_some(),
        "kill -9 did not kill the TUI: {killed:?}"
    );
    // The restore checks used below can tell: a killed TUI restores nothing.
    let raw = tui.raw();
    assert!(
        common::rfind(&raw, common::ALT_LEAVE) < common::rfind(&raw, common::ALT_ENTER),
        "a kill -9'd TUI cannot have left the alternate screen"
    );
    assert!(
        !tui.termios_cooked(),
        "a kill -9'd TUI cannot have restored the terminal"
    );

    // Everything shown as saved is on disk, in runbook order.
    let status = home.status_json(&id);
    assert_eq!(status["saved"], 3, "saved #3 was shown: {status:#}");
    assert_eq!(
        status["open_by"],
        Value::Null,
        "the dead process still holds the lock: {status:#}"
    );
    let steps = steps(&status);
    assert!(steps.len() >= 2, "the demo needs two steps: {steps:?}");
    for (i, (sid, _, st)) in steps.iter().enumerate() {
        if i < 2 {
            assert_eq!(st, "done", "step {i} `{sid}` after two d's: {steps:?}");
        } else {
            assert_ne!(st, "done", "step {i} `{sid}` was never marked: {steps:?}");
        }
    }

    // Resume shows both steps done and appends session_resumed as #4.
    let mut again = home.pty(120, 40, &["resume", id.as_str()]);
    again.wait_for_saved(4);
    let rows = checklist_rows(&again.rows());
    for (sid, title, _) in &steps[..2] {
        assert_eq!(
            status_word_after(&rows, title).as_deref(),
            Some("done"),
            "checklist row of `{sid}` ({title:?}) after resume; checklist:\n{}",
            rows.join("\n")
        );
    }
    for (sid, title, _) in &steps[2..] {
        assert_ne!(
            status_word_after(&rows, title).as_deref(),
            Some("done"),
            "`{sid}` shows as done after resume:\n{}",
            rows.join("\n")
        );
    }
    again.send("q");
    assert_eq!(again.wait_code(), 0, "quit after resume");
    again.assert_restored();

    let journal = common::journal_lines(&home.journal(&id));
    assert_eq!(journal.len(), 4, "{journal:#?}");
    assert_eq!(journal[3]["seq"], 4);
    assert_eq!(journal[3]["event"]["type"], "session_resumed");
    assert_eq!(journal[3]["event"]["pid"], again.pid());
}

#[test]
fn second_cutover_on_an_open_session_is_refused_naming_the_holder() {
    let home = Home::new();
    let mut tui = home.pty(120, 40, &["demo"]);
    tui.wait_for_saved(1);
    let id = home.only_session();
    let holder = format!("{}, pid {}", common::operator(), tui.pid());

    // The lock is taken before the terminal check, so no terminal is needed to hit it;
    // and without an id, resume picks the same (latest unfinished) session.
    for args in [vec!["resume", id.as_str()], vec!["resume"]] {
        let out = home.run(&args);
        assert_eq!(out.code, 75, "{args:?} on an open session: {out:?}");
        assert_eq!(out.stdout, "", "{args:?}: {out:?}");
        assert_no_escapes(&out.stderr, "stderr");
        assert_one_paragraph(&out.stderr, "the lock message");
        assert!(
            out.stderr.contains(&holder) && out.stderr.contains(&id),
            "the message must name the session {id} and its holder `{holder}`: {}",
            out.stderr
        );
    }

    // From a terminal, too: refused before anything is drawn.
    let mut second = home.pty(120, 40, &["resume", id.as_str()]);
    assert_eq!(second.wait_code(), 75, "{}", second.raw_text());
    let text = second.raw_text();
    assert_no_escapes(&text, "the second cutover's terminal output");
    assert!(text.contains(&holder), "{text}");

    // The holder is undisturbed: it still saves, and it still holds the session.
    tui.send("d");
    tui.wait_for_saved(2);
    let status = home.status_json(&id);
    assert!(
        status["open_by"]
            .as_str()
            .is_some_and(|by| by.contains(&holder)),
        "status --json open_by: {status:#}"
    );
    tui.send("q");
    assert_eq!(tui.wait_code(), 0);
    tui.assert_restored();
}

fn signal_ends_the_screen_cleanly(sig: libc::c_int) {
    let home = Home::new();
    let mut tui = home.pty(120, 40, &["demo"]);
    tui.wait_for_saved(1);
    tui.send("d");
    tui.wait_for_saved(2);
    let id = home.only_session();

    tui.signal(sig);
    let status = tui.wait_exit(TIMEOUT);
    assert!(
        status.signal().is_none(),
        "signal {sig} killed the TUI instead of ending it cleanly: {status:?}"
    );
    tui.assert_restored();
    let text = tui.raw_text();
    assert!(
        text.contains(&format!("cutover resume {id}")),
        "no resume hint after signal {sig}: {text:?}"
    );

    let report = home.status_json(&id);
    assert_eq!(report["saved"], 2, "{report:#}");
    assert_eq!(report["open_by"], Value::Null, "{report:#}");
    assert_eq!(steps(&report)[0].2, "done", "{report:#}");
}

#[test]
fn sigterm_restores_the_terminal_and_keeps_the_journal() {
    signal_ends_the_screen_cleanly(libc::SIGTERM);
}

#[test]
fn sighup_restores_the_terminal_and_keeps_the_journal() {
    signal_ends_the_screen_cleanly(libc::SIGHUP);
}

/// Every SGR sequence (`ESC [ params m`) in `raw` that sets a foreground or background
/// colour: 30–38, 40–48, 90–97, 100–107. 39 and 49 (back to the default) are not colours.
fn colour_sgrs(raw: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(start) = raw[i..].windows(2).position(|w| w == b"\x1b[") {
        let params_at = i + start + 2;
        let Some(len) = raw[params_at..]
            .iter()
            .position(|b| (0x40..=0x7e).contains(b))
        else {
            break;
        };
        let end = params_at + len;
        if raw[end] == b'm' {
            let params = String::from_utf8_lossy(&raw[params_at..end]).into_owned();
            let colour = params
                .split([';', ':'])
                .filter_map(|p| p.parse::<u32>().ok())
                .any(|n| matches!(n, 30..=38 | 40..=48 | 90..=97 | 100..=107));
            if colour {
                found.push(format!("ESC[{params}m"));
            }
        }
        i = end + 1;
    }
    found
}

#[test]
fn no_color_demo_writes_no_colour_sequences() {
    let home = Home::new();
    let mut tui = home.pty_sh(120, 40, r#"NO_COLOR=1 exec "$0" demo"#);
    tui.wait_for_saved(1);
    tui.send("d");
    tui.wait_for_saved(2);
    tui.send("q");
    assert_eq!(tui.wait_code(), 0, "{}", tui.raw_text());
    tui.assert_restored();
    let found = colour_sgrs(&tui.raw());
    assert!(found.is_empty(), "NO_COLOR=1 demo wrote colour: {found:?}");
    // The check itself can see colour: the same screen without NO_COLOR has some.
    let home = Home::new();
    let mut coloured = home.pty(120, 40, &["demo"]);
    coloured.wait_for_saved(1);
    coloured.send("q");
    assert_eq!(coloured.wait_code(), 0);
    assert!(
        !colour_sgrs(&coloured.raw()).is_empty(),
        "the demo without NO_COLOR should draw in colour"
    );
}

#[test]
fn over_ssh_outside_tmux_the_status_bar_says_what_a_disconnect_costs() {
    let home = Home::new();
    let mut tui = home.pty_sh(
        160,
        40,
        r#"unset TMUX STY; SSH_TTY=/dev/pts/9 SSH_CONNECTION='10.0.0.1 50000 10.0.0.2 22' exec "$0" demo"#,
    );
    tui.wait_for(
        "over SSH outside tmux/screen: commands survive a disconnect, this view does not \
         (cutover resume brings it back; cutover run --tmux keeps it)",
        TIMEOUT,
    );
    tui.send("q");
    assert_eq!(tui.wait_code(), 0, "{}", tui.raw_text());

    // Inside tmux (as far as cutover can tell) the same link says nothing.
    let home = Home::new();
    let mut tui = home.pty_sh(
        160,
        40,
        r#"SSH_TTY=/dev/pts/9 TMUX=/tmp/tmux-0/default,1,0 exec "$0" demo"#,
    );
    tui.wait_for_saved(1);
    assert!(!tui.screen().contains("over SSH"), "{}", tui.screen());
    tui.send("q");
    assert_eq!(tui.wait_code(), 0, "{}", tui.raw_text());
}
