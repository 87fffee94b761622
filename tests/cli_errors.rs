//! Bad input end to end: each failure exits with its documented code (`cmd::exit`), says
//! what is wrong in one clear message naming the thing at fault, and never touches the
//! terminal (no escape byte: no raw mode, no alternate screen, no colour).

mod common;

use std::path::{Path, PathBuf};

use common::{Home, Output, assert_no_escapes, assert_one_paragraph};

const USAGE: i32 = 64;
const DATA: i32 = 65;
const NO_INPUT: i32 = 66;
const CANT_CREATE: i32 = 73;

/// A runbook that is not TOML: an unquoted duration on line 5, column 12.
const TOML_ERROR: &str = "[runbook]\ntitle = \"Broken\"\n\n[window]\nduration = 30m\n";

/// Valid TOML whose step requires an id no step has (line 18, column 13).
const UNKNOWN_REQUIRES: &str = r#"[runbook]
title = "Requires a step that does not exist"

[window]
duration = "30m"

[[phase]]
id = "prepare"
title = "Prepare"

[[phase.step]]
id = "full-backup"
title = "Take a full backup"
estimate = "20m"

[[phase.step]]
id = "upgrade"
requires = ["ful-backup"]
title = "Run the upgrade"
estimate = "10m"
"#;

const GOOD: &str = r#"[runbook]
title = "Good"

[window]
duration = "30m"

[[phase]]
id = "p"
title = "Phase"

[[phase.step]]
id = "a"
title = "Only"
estimate = "1m"
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A failure as a script sees it: the code, nothing on stdout unless said, no escapes.
fn assert_failure(out: &Output, code: i32, what: &str) {
    assert_eq!(out.code, code, "{what}: wrong exit code: {out:#?}");
    assert_no_escapes(&out.stdout, &format!("{what}: stdout"));
    assert_no_escapes(&out.stderr, &format!("{what}: stderr"));
}

/// A failure whose whole story is one paragraph on stderr.
fn assert_one_message(out: &Output, code: i32, what: &str) {
    assert_failure(out, code, what);
    assert_eq!(out.stdout, "", "{what}: stdout should be empty: {out:#?}");
    assert_one_paragraph(&out.stderr, what);
}

/// Starts the demo in a pty, marks two steps done and quits: a detached session with three
/// saved records. Returns its id.
fn demo_session(home: &Home) -> String {
    let mut tui = home.pty(120, 40, &["demo"]);
    tui.wait_for_saved(1);
    tui.send("d");
    tui.wait_for_saved(2);
    tui.send("d");
    tui.wait_for_saved(3);
    tui.send("q");
    assert_eq!(tui.wait_code(), 0, "demo quit");
    let id = home.only_session();
    assert_eq!(common::journal_lines(&home.journal(&id)).len(), 3);
    id
}

#[test]
fn broken_runbooks_name_file_line_and_column() {
    let home = Home::new();
    let cases = [
        (
            write(home.path(), "syntax.toml", TOML_ERROR),
            "5:12",
            "string values must be quoted",
        ),
        (
            write(home.path(), "requires.toml", UNKNOWN_REQUIRES),
            "18:13",
            "requires `ful-backup`",
        ),
    ];
    for (path, at, words) in &cases {
        let shown = path.display().to_string();
        let located = format!("{shown}:{at}");

        let out = home.run(&["run", shown.as_str()]);
        assert_failure(&out, DATA, &format!("run {shown}"));
        assert_eq!(out.stdout, "", "run {shown}: {out:#?}");
        assert_one_paragraph(&out.stderr, &format!("run {shown}"));
        assert!(
            out.stderr.contains(&located) && out.stderr.contains(words),
            "run {shown}: the message must say `{words}` at {located}:\n{}",
            out.stderr
        );
        assert!(
            home.session_dirs().is_empty(),
            "a broken runbook started a session: {:?}",
            home.session_dirs()
        );

        let out = home.run(&["validate", shown.as_str()]);
        assert_failure(&out, 1, &format!("validate {shown}"));
        assert!(
            out.stdout.contains(&located) && out.stdout.contains(words),
            "validate {shown}: the report must say `{words}` at {located}:\n{}",
            out.stdout
        );
        assert!(
            out.stdout.contains(&format!("{shown}: 1 error")),
            "validate {shown}: no summary line:\n{}",
            out.stdout
        );
        assert!(out.stderr.contains("validation failed"), "{out:#?}");
    }
}

#[test]
fn unknown_session_is_named() {
    let home = Home::new();
    for args in [
        vec!["resume", "nope"],
        vec!["status", "nope"],
        vec!["status", "--json", "nope"],
    ] {
        let out = home.run(&args);
        assert_one_message(&out, NO_INPUT, &format!("{args:?}"));
        assert!(
            out.stderr.contains("`nope`"),
            "{args:?}: the message must name the session: {}",
            out.stderr
        );
    }
    assert!(home.session_dirs().is_empty(), "{:?}", home.session_dirs());
}

#[test]
fn state_dir_that_cannot_be_created_is_named() {
    let home = Home::new();
    let file = write(home.path(), "file", "a regular file, not a directory\n");
    let state = file.join("state");
    let shown = state.display().to_string();
    let runbook = write(home.path(), "good.toml", GOOD);
    for args in [
        vec!["demo"],
        vec!["run", runbook.to_str().unwrap()],
        vec!["resume"],
    ] {
        let out = common::run_with_home(state.as_os_str(), &args);
        assert_one_message(&out, CANT_CREATE, &format!("{args:?}"));
        assert!(
            out.stderr.contains(&shown) && out.stderr.contains("CUTOVER_HOME"),
            "{args:?}: the message must name {shown} and say how to pick another: {}",
            out.stderr
        );
    }
    assert!(file.is_file(), "the file in the way was replaced");
}

#[test]
fn not_a_terminal_is_refused_before_a_session_exists() {
    let home = Home::new();
    let runbook = write(home.path(), "good.toml", GOOD);

    // Neither end a terminal (a script, a cron job).
    for args in [vec!["demo"], vec!["run", runbook.to_str().unwrap()]] {
        let out = home.run(&args);
        assert_one_message(&out, USAGE, &format!("{args:?} without a terminal"));
        assert!(
            out.stderr
                .contains("standard input and output are not terminals"),
            "{args:?}: {}",
            out.stderr
        );
    }

    // Only stdin redirected: stdout is a terminal, but nothing may be drawn on it.
    let mut pty = home.pty_sh(120, 40, r#"exec "$0" demo </dev/null"#);
    assert_eq!(pty.wait_code(), USAGE as u32, "{}", pty.raw_text());
    let text = pty.raw_text();
    assert_no_escapes(&text, "demo </dev/null");
    assert_one_paragraph(&text, "demo </dev/null");
    assert!(text.contains("standard input is not a terminal"), "{text}");

    // Only stdout redirected: the keyboard is there, the screen is not.
    let mut pty = home.pty_sh(120, 40, r#"exec "$0" demo >/dev/null"#);
    assert_eq!(pty.wait_code(), USAGE as u32, "{}", pty.raw_text());
    let text = pty.raw_text();
    assert_no_escapes(&text, "demo >/dev/null");
    assert!(text.contains("standard output is not a terminal"), "{text}");
    assert!(
        pty.termios_cooked(),
        "the refusal changed the terminal mode"
    );

    assert!(
        home.session_dirs().is_empty(),
        "a refused start left a session behind: {:?}",
        home.session_dirs()
    );
}

#[test]
fn damaged_journal_is_refused_with_its_offset_and_left_alone() {
    let home = Home::new();
    let id = demo_session(&home);
    let journal = home.journal(&id);
    let clean = std::fs::read(&journal).unwrap();
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(
            clean
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .collect();

    // Damage the first line, then (from a clean copy) the second: both are before the
    // last line, so neither may be mistaken for a torn tail.
    for line in [1usize, 2] {
        let start = line_starts[line - 1];
        let end = line_starts[line] - 1;
        let mut damaged = clean.clone();
        let middle = start + (end - start) / 2;
        damaged[middle] = if damaged[middle] == b'x' { b'y' } else { b'x' };
        std::fs::write(&journal, &damaged).unwrap();

        let mut pty = home.pty(120, 40, &["resume", id.as_str()]);
        assert_eq!(pty.wait_code(), DATA as u32, "{}", pty.raw_text());
        let text = pty.raw_text();
        assert_no_escapes(&text, "resume of a damaged journal");
        assert_one_paragraph(&text, "resume of a damaged journal");
        let want = format!("byte offset {start} (line {line})");
        assert!(
            text.contains(&want) && text.contains(&journal.display().to_string()),
            "the message must name {} and say `{want}`:\n{text}",
            journal.display()
        );
        assert_eq!(
            std::fs::read(&journal).unwrap(),
            damaged,
            "resume changed a damaged journal (line {line})"
        );

        // `status` still works on a damaged journal: the state before the damage on
        // stdout, the damage named in it and on stderr, and a non-zero exit so a script
        // cannot take the partial state for the whole.
        let out = home.run(&["status", "--json", id.as_str()]);
        assert_eq!(
            out.code, DATA,
            "status --json of a damaged journal: {out:?}"
        );
        assert!(out.stderr.contains(&want), "{}", out.stderr);
        if line == 1 {
            // Nothing before the damage says which runbook ran: no state to show.
            assert_one_message(&out, DATA, "status --json of a journal damaged at line 1");
            assert!(
                out.stderr.contains("no state can be shown"),
                "{}",
                out.stderr
            );
            continue;
        }
        let json: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("status --json must still print JSON ({e}): {out:?}"));
        assert_eq!(json["damaged"]["offset"], start, "{json:#}");
        assert_eq!(json["damaged"]["line"], line, "{json:#}");
        assert_eq!(
            json["saved"],
            line - 1,
            "the state stops before the damage: {json:#}"
        );
        assert!(out.stderr.contains(&want), "{}", out.stderr);
        assert_eq!(
            std::fs::read(&journal).unwrap(),
            damaged,
            "status changed a damaged journal (line {line})"
        );
    }
}

#[test]
fn torn_tail_is_read_past_and_cut_by_resume() {
    let home = Home::new();
    let id = demo_session(&home);
    let journal = home.journal(&id);
    let clean = std::fs::read(&journal).unwrap();
    let second = clean.split(|b| *b == b'\n').nth(1).unwrap().to_vec();
    let torn = [&clean[..], &second[..second.len() / 2]].concat();
    std::fs::write(&journal, &torn).unwrap();

    let status = home.status_json(&id);
    assert_eq!(status["saved"], 3, "{status:#}");
    assert_eq!(
        std::fs::read(&journal).unwrap(),
        torn,
        "status changed the journal"
    );

    let mut tui = home.pty(120, 40, &["resume", id.as_str()]);
    tui.wait_for_saved(4);
    tui.send("q");
    assert_eq!(tui.wait_code(), 0, "quit after resuming a torn journal");
    tui.assert_restored();

    let after = std::fs::read(&journal).unwrap();
    assert!(
        after.starts_with(&clean),
        "the saved records changed when the torn tail was cut"
    );
    let lines = common::journal_lines(&journal);
    assert_eq!(
        lines.len(),
        4,
        "the torn half-line is still there: {lines:#?}"
    );
    assert_eq!(lines[3]["seq"], 4);
    assert_eq!(lines[3]["event"]["type"], "session_resumed");
    assert_eq!(home.status_json(&id)["saved"], 4);
}

#[test]
fn bad_arguments_exit_64_and_help_exits_0() {
    let home = Home::new();
    let out = home.run(&["bogus"]);
    assert_eq!(out.code, 64, "{out:?}");
    assert!(
        out.stderr.contains("unrecognized subcommand 'bogus'"),
        "{out:?}"
    );
    let out = home.run(&["report", "--format", "pdf"]);
    assert_eq!(out.code, 64, "{out:?}");
    let out = home.run(&["--help"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("report"), "{out:?}");
}

#[test]
fn tmux_flag_without_tmux_names_it_and_creates_nothing() {
    let home = Home::new();
    let runbook = write(home.path(), "good.toml", GOOD);
    // A PATH with no tmux in it (an empty directory), and not inside tmux already.
    let empty = home.path().join("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    for args in [
        vec!["demo", "--tmux"],
        vec!["run", "--tmux", runbook.to_str().unwrap()],
    ] {
        let out = common::run_with_env(
            home.state().as_os_str(),
            &args,
            &[("PATH", empty.as_os_str()), ("TMUX", "".as_ref())],
        );
        assert_one_message(&out, USAGE, &format!("{args:?} without tmux"));
        assert!(out.stderr.contains("tmux"), "{args:?}: {}", out.stderr);
        assert!(
            home.session_dirs().is_empty(),
            "{args:?} created a session: {:?}",
            home.session_dirs()
        );
    }
}

#[test]
fn tmux_flag_inside_tmux_runs_as_without_it() {
    let home = Home::new();
    let runbook = write(home.path(), "good.toml", GOOD);
    let empty = home.path().join("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    for args in [
        vec!["demo", "--tmux"],
        vec!["run", "--tmux", runbook.to_str().unwrap()],
    ] {
        // Inside tmux, tmux need not even be on PATH: nothing is re-executed.
        let out = common::run_with_env(
            home.state().as_os_str(),
            &args,
            &[
                ("PATH", empty.as_os_str()),
                ("TMUX", "/tmp/tmux-1000/default,4242,0".as_ref()),
            ],
        );
        assert_one_message(&out, USAGE, &format!("{args:?} inside tmux"));
        assert!(
            out.stderr
                .contains("standard input and output are not terminals"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(home.session_dirs().is_empty(), "{args:?} created a session");
    }
}
