//! Commands through the real screen in a pseudo-terminal: they outlive a kill -9 of
//! cutover and are picked up on resume, a hostile command's bytes never reach the
//! terminal, and a flood of output keeps cutover's memory bounded.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Home, TIMEOUT};
use serde_json::Value;

/// A one-phase runbook in `dir` whose steps are given as TOML text.
fn runbook(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    let text =
        format!("[runbook]\ntitle = \"runner test\"\n\n[window]\nduration = \"1h\"\n\n{body}");
    std::fs::write(&path, text).unwrap();
    path
}

// Commands print their markers through printf octal escapes (`\146` is `f`) so that the
// text waited for on screen is the command's output, never the command itself, which
// the step pane shows.

fn task_file(home: &Home, id: &str, name: &str) -> PathBuf {
    home.state()
        .join("sessions")
        .join(id)
        .join("tasks")
        .join(name)
}

fn wait_file(path: &Path, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} did not appear within {timeout:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts the only step of runbook `rb` in a fresh screen, waits for `marker` in its
/// output, then kill -9s the screen: the command carries on alone. Returns the session.
fn start_then_kill(home: &Home, rb: &Path, marker: &str) -> String {
    let mut tui = home.pty(120, 40, &[OsArg::from("run"), rb.into()]);
    tui.wait_for_saved(1);
    tui.send("\r");
    tui.wait_for_saved(2);
    tui.wait_for(marker, TIMEOUT);
    let id = home.only_session();
    tui.kill_9();
    tui.wait_exit(TIMEOUT);
    id
}

fn step_json<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no step `{id}` in {status:#}"))
}

#[test]
fn demo_command_finishes_while_detached_and_resume_records_it() {
    let home = Home::new();
    let mut tui = home.pty(120, 40, &["demo"]);
    tui.wait_for_saved(1);
    // The two manual steps, then Enter on the first command step.
    tui.send("d");
    tui.wait_for_saved(2);
    tui.send("d");
    tui.wait_for_saved(3);
    tui.send("\r");
    tui.wait_for_saved(4);
    let id = home.only_session();
    tui.kill_9();
    tui.wait_exit(TIMEOUT);

    // The command goes on without the screen and leaves its exit record.
    wait_file(&task_file(&home, &id, "step-say-hello-1.exit"), TIMEOUT);
    let status = home.status_json(&id);
    assert_eq!(step_json(&status, "say-hello")["status"], "running");

    let mut again = home.pty(120, 40, &["resume", id.as_str()]);
    again.wait_for("finished while detached", TIMEOUT);
    again.wait_for("exit 0", TIMEOUT);
    again.wait_for("Hello from Demo shop", TIMEOUT);
    again.send("q");
    assert_eq!(again.wait_code(), 0);
    again.assert_restored();

    let status = home.status_json(&id);
    let step = step_json(&status, "say-hello");
    assert_eq!(step["status"], "done", "{step:#}");
    assert_eq!(step["history"][0]["exit"], 0, "{step:#}");
    assert_eq!(step["history"][0]["detached"], true, "{step:#}");
}

#[test]
fn failing_command_finished_while_detached_shows_its_exit_code() {
    let home = Home::new();
    let rb = runbook(
        home.path(),
        "fail.toml",
        r#"[[phase]]
id = "p"
title = "Phase"

[[phase.step]]
id = "fails"
title = "Fails after a while"
run = "printf '\\163tarting\\n'; sleep 2; printf '\\147iving up\\n'; exit 3"
estimate = "1m"
"#,
    );
    let id = start_then_kill(&home, &rb, "starting");
    wait_file(&task_file(&home, &id, "step-fails-1.exit"), TIMEOUT);

    let mut again = home.pty(120, 40, &["resume", id.as_str()]);
    again.wait_for("exit 3 (finished while detached)", TIMEOUT);
    again.wait_for("giving up", TIMEOUT);
    again.send("q");
    assert_eq!(again.wait_code(), 0);

    let status = home.status_json(&id);
    let step = step_json(&status, "fails");
    assert_eq!(step["status"], "failed", "{step:#}");
    assert_eq!(step["exit"], 3, "{step:#}");
    assert_eq!(step["history"][0]["detached"], true, "{step:#}");
}

#[test]
fn kill_9_while_a_backup_runs_then_resume_records_its_real_result() {
    let home = Home::new();
    let artifact = home.path().join("snapshot.tar");
    let rb = runbook(
        home.path(),
        "backup.toml",
        &format!(
            r#"[[backup]]
id = "snap"
title = "Snapshot"
run = "echo 1/2 parts; sleep 2; echo 2/2 parts; printf 0123456789 > '{a}'"
verify = "test -s '{a}'"
artifact = "{a}"
progress = '(\d+)/(\d+) parts'
estimate = "10s"

[[phase]]
id = "p"
title = "Phase"

[[phase.step]]
id = "backup"
title = "Take the snapshot"
backups = ["snap"]

[[phase.step]]
id = "after"
title = "Needs the snapshot"
requires = ["backup"]
estimate = "1m"
"#,
            a = artifact.display()
        ),
    );
    let mut tui = home.pty(120, 40, &[OsArg::from("run"), rb.into()]);
    tui.wait_for_saved(1);
    tui.send("\r");
    // step_started and backup_started, saved together.
    tui.wait_for_saved(3);
    let id = home.only_session();
    tui.kill_9();
    tui.wait_exit(TIMEOUT);
    wait_file(&task_file(&home, &id, "backup-snap-1.exit"), TIMEOUT);
    assert!(
        artifact.exists(),
        "the backup did not complete without the screen"
    );

    let mut again = home.pty(120, 40, &["resume", id.as_str()]);
    // Resume records the finished backup, runs its verify, and completes the step.
    again.wait_until("the backup verified", TIMEOUT, |s| s.contains("verified"));
    again.wait_for("10 B", TIMEOUT);
    again.send("q");
    assert_eq!(again.wait_code(), 0);

    let status = home.status_json(&id);
    assert_eq!(status["backups"][0]["status"], "verified", "{status:#}");
    assert_eq!(status["backups"][0]["history"][0]["detached"], true);
    assert_eq!(step_json(&status, "backup")["status"], "done");
    assert_eq!(step_json(&status, "after")["status"], "pending");
}

#[test]
fn a_hostile_command_changes_nothing_on_the_terminal_but_its_own_text() {
    let home = Home::new();
    // The bytes come from a file, so the runbook's own command text (shown in the step
    // pane) holds none of them.
    let hostile = home.path().join("hostile.bin");
    let mut bytes: Vec<u8> = Vec::new();
    bytes.extend_from_slice(b"\x1b]0;PWNED\x07\x1b]2;PWNED\x07\x1b[2J\x1b[6n");
    bytes.extend_from_slice(b"\x1bP$q\"p\x1b\\\x1b]52;c;aGVsbG8=\x07\x1b]50;?\x07");
    bytes.extend_from_slice(
        b"\x1b]8;;x-man-page://ls\x07click\x1b]8;;\x07\xc2\x9b31mC1\r\x1b[31mred\n",
    );
    bytes.extend_from_slice("\u{202e}reversed\ndone-marker\n".as_bytes());
    std::fs::write(&hostile, &bytes).unwrap();
    let rb = runbook(
        home.path(),
        "hostile.toml",
        &format!(
            r#"[[phase]]
id = "p"
title = "Phase"

[[phase.step]]
id = "hostile"
title = "Prints escape sequences"
run = "cat '{}'"
estimate = "1m"
"#,
            hostile.display()
        ),
    );
    let mut tui = home.pty(120, 40, &[OsArg::from("run"), rb.into()]);
    tui.wait_for_saved(1);
    let before = tui.raw().len();
    tui.send("\r");
    tui.wait_for("done-marker", TIMEOUT);
    // step_started, step_finished, and session_finished: its only step is settled.
    tui.wait_for_saved(4);
    let raw = tui.raw();
    let after = &raw[before..];
    for (bad, what) in [
        (
            &b"\x1b]"[..],
            "an OSC sequence (title, clipboard, link, font)",
        ),
        (b"\x1bP", "a DCS sequence"),
        (b"\x1b[6n", "a cursor position request"),
        (b"\x1b[2J", "a screen clear"),
        (b"PWNED", "the title text"),
        (b"aGVsbG8", "the clipboard payload"),
        (b"\xc2\x9b", "a C1 CSI"),
        (b"\xe2\x80\xae", "a bidi override"),
    ] {
        assert!(
            common::rfind(after, bad).is_none(),
            "{what} reached the terminal: {:?}",
            String::from_utf8_lossy(after)
        );
    }
    let screen = tui.screen();
    // `\r` then `red`: the line's last state, alone on its row.
    assert!(
        screen
            .lines()
            // The output pane is the left one of the bottom row (the message pane sits
            // to its right).
            .any(|row| row.split("││").next().is_some_and(|left| left
                .trim_matches(|c: char| c == '│' || c.is_whitespace())
                == "red")),
        "the command's own text is shown:\n{screen}"
    );
    // The header is still where it was: nothing moved or cleared the screen.
    assert!(tui.rows()[0].contains("runner test"), "{}", tui.rows()[0]);
    tui.send("q");
    assert_eq!(tui.wait_code(), 0);
    tui.assert_restored();
    // Nothing the command printed became a key: the journal holds only the start and
    // the finish after session_started, and the session's own finish.
    let id = home.only_session();
    let journal = common::journal_lines(&home.journal(&id));
    let types: Vec<&str> = journal
        .iter()
        .map(|r| r["event"]["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        [
            "session_started",
            "step_started",
            "step_finished",
            "session_finished"
        ]
    );
}

#[test]
fn three_million_lines_keep_cutover_memory_bounded() {
    let home = Home::new();
    let rb = runbook(
        home.path(),
        "flood.toml",
        r#"[[phase]]
id = "p"
title = "Phase"

[[phase.step]]
id = "flood"
title = "Prints three million lines"
run = "seq 1 3000000"
estimate = "1m"
"#,
    );
    let mut tui = home.pty(120, 40, &[OsArg::from("run"), rb.into()]);
    tui.wait_for_saved(1);
    tui.send("\r");
    tui.wait_for_saved(2);
    // Finished (the command text also holds "3000000", so wait for the exit), and the
    // output pane's last line is the last number.
    tui.wait_for("attempt 1: exit 0", Duration::from_secs(60));
    tui.wait_until("3000000 alone on an output row", TIMEOUT, |screen| {
        screen.lines().any(|row| {
            row.split("││").next().is_some_and(|left| {
                left.trim_matches(|c: char| c == '│' || c.is_whitespace()) == "3000000"
            })
        })
    });
    let pid = tui.pid();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let hwm_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmHWM");
    eprintln!("cutover peak RSS while a command printed 3,000,000 lines: {hwm_kb} kB");
    // The ring holds at most 5,000 lines and 4 MiB; the whole process stays far below
    // what 23 MB of output held in memory would need.
    assert!(
        hwm_kb < 32 * 1024,
        "cutover's peak resident memory was {hwm_kb} kB while a command printed 23 MB"
    );
    tui.send("q");
    assert_eq!(tui.wait_code(), 0);
    let id = home.only_session();
    let log = std::fs::read(task_file(&home, &id, "step-flood-1.log")).unwrap();
    let expected: Vec<u8> = (1..=3_000_000u32)
        .flat_map(|i| format!("{i}\n").into_bytes())
        .collect();
    assert!(
        log == expected,
        "the log is not byte-identical to the output"
    );
}

type OsArg = std::ffi::OsString;

#[test]
fn resume_while_a_command_still_runs_re_attaches_and_keeps_streaming() {
    let home = Home::new();
    let rb = runbook(
        home.path(),
        "slow.toml",
        r#"[[phase]]
id = "p"
title = "Phase"

[[phase.step]]
id = "slow"
title = "Takes a few seconds"
run = "printf '\\146irst-part\\n'; sleep 4; printf '\\163econd-part\\n'; exit 4"
estimate = "1m"
"#,
    );
    let id = start_then_kill(&home, &rb, "first-part");
    assert!(
        !task_file(&home, &id, "step-slow-1.exit").exists(),
        "the command should still be running"
    );

    let mut again = home.pty(120, 40, &["resume", id.as_str()]);
    again.wait_for("first-part", TIMEOUT);
    // Still running: shown as such, and its later output arrives on this screen.
    again.wait_for("running", TIMEOUT);
    again.wait_for("second-part", TIMEOUT);
    again.wait_for("attempt 1: exit 4", TIMEOUT);
    let screen = again.screen();
    assert!(
        !screen.contains("finished while detached"),
        "it finished while this screen watched:\n{screen}"
    );
    again.send("q");
    assert_eq!(again.wait_code(), 0);
    let status = home.status_json(&id);
    let step = step_json(&status, "slow");
    assert_eq!(step["exit"], 4, "{step:#}");
    assert_eq!(step["history"][0]["detached"], false, "{step:#}");
    assert_eq!(step["attempts"], 1, "nothing was started twice: {step:#}");
}

#[test]
fn a_supervisor_gone_without_an_exit_record_leaves_the_step_interrupted() {
    let home = Home::new();
    let rb = runbook(
        home.path(),
        "gone.toml",
        r#"[[phase]]
id = "p"
title = "Phase"

[[phase.step]]
id = "long"
title = "Runs for a minute"
run = "printf '\\163tarted\\n'; sleep 60"
estimate = "1m"
"#,
    );
    let id = start_then_kill(&home, &rb, "started");
    // As after a reboot: the supervisor and its command are gone, no exit record.
    // The supervisor writes its pid file once before the spawn and again with the
    // child's group after it, so the command's output can be on screen before the
    // group is in the file: wait for it.
    let deadline = Instant::now() + TIMEOUT;
    let pid: Value = loop {
        let text = std::fs::read(task_file(&home, &id, "step-long-1.pid")).unwrap_or_default();
        if let Ok(v) = serde_json::from_slice::<Value>(&text)
            && v["child_pgid"].is_i64()
        {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "the pid file never named the command's group"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let sup = pid["pid"].as_i64().unwrap() as i32;
    let group = pid["child_pgid"].as_i64().unwrap() as i32;
    // SAFETY: plain kill(2) on processes this test started.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
        libc::kill(sup, libc::SIGKILL);
    }
    let deadline = Instant::now() + TIMEOUT;
    while Path::new(&format!("/proc/{sup}")).exists() {
        let stat = std::fs::read_to_string(format!("/proc/{sup}/stat")).unwrap_or_default();
        if stat.contains(") Z") {
            break;
        }
        assert!(Instant::now() < deadline, "the supervisor did not die");
        std::thread::sleep(Duration::from_millis(20));
    }

    let mut again = home.pty(120, 40, &["resume", id.as_str()]);
    again.wait_for("interrupted", TIMEOUT);
    again.wait_for("r runs it again", TIMEOUT);
    // Nothing runs again by itself.
    std::thread::sleep(Duration::from_millis(500));
    again.send("q");
    assert_eq!(again.wait_code(), 0);
    let status = home.status_json(&id);
    let step = step_json(&status, "long");
    assert_eq!(step["status"], "interrupted", "{step:#}");
    assert_eq!(step["attempts"], 1, "{step:#}");
    assert!(!task_file(&home, &id, "step-long-2.spec.json").exists());
}

#[test]
fn a_hangup_of_the_screen_leaves_the_command_running_to_its_end() {
    let home = Home::new();
    let rb = runbook(
        home.path(),
        "hangup.toml",
        r#"[[phase]]
id = "p"
title = "Phase"

[[phase.step]]
id = "upgrade"
title = "Outlives the SSH link"
run = "printf '\\150alf way\\n'; sleep 3; printf '\\141ll done\\n'; exit 5"
estimate = "1m"
"#,
    );
    let mut tui = home.pty(120, 40, &[OsArg::from("run"), rb.into()]);
    tui.wait_for_saved(1);
    tui.send("\r");
    tui.wait_for_saved(2);
    tui.wait_for("half way", TIMEOUT);
    let id = home.only_session();
    // What a dropped SSH link does to the screen's session.
    tui.signal(libc::SIGHUP);
    tui.wait_exit(TIMEOUT);
    tui.assert_restored();
    let said = tui.raw_text();
    assert!(
        said.contains("Still running without the screen") && said.contains("upgrade (attempt 1)"),
        "leaving says what still runs: {said:?}"
    );
    wait_file(&task_file(&home, &id, "step-upgrade-1.exit"), TIMEOUT);

    let mut again = home.pty(120, 40, &["resume", id.as_str()]);
    again.wait_for("exit 5 (finished while detached)", TIMEOUT);
    again.wait_for("all done", TIMEOUT);
    again.send("q");
    assert_eq!(again.wait_code(), 0);
    let status = home.status_json(&id);
    assert_eq!(step_json(&status, "upgrade")["exit"], 5);
}
