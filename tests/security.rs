//! Security through the real binary: the session store is private whatever the umask,
//! a state directory someone else could change is refused before the terminal is touched,
//! and a runbook's secrets reach its commands but never the screen, the journal, the
//! session log, messages, `status --json` or the report.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Home, TIMEOUT, assert_no_escapes, journal_lines};

/// sysexits, as `src/cmd/mod.rs` has them.
const USAGE: u32 = 64;
const CANT_CREATE: u32 = 73;
const CONFIG: u32 = 78;

/// Long for a loaded machine: the demo's backups alone take several seconds.
const SLOW: Duration = Duration::from_secs(90);

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Polls `status --json` until `pred` holds; panics with the last document otherwise.
fn wait_status(home: &Home, id: &str, what: &str, pred: impl Fn(&serde_json::Value) -> bool) {
    let deadline = Instant::now() + SLOW;
    loop {
        let status = home.status_json(id);
        if pred(&status) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {status:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn step_status(status: &serde_json::Value, id: &str) -> String {
    status["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == id))
        .map(|s| s["status"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

/// Every path under `root` (itself included) whose mode is not 0700 (directories) or
/// 0600 (files), with its mode; and how many entries were looked at.
fn not_private(root: &Path) -> (Vec<String>, usize) {
    let mut bad = Vec::new();
    let mut seen = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        seen += 1;
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let m = meta.permissions().mode() & 0o7777;
        let want = if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
            0o700
        } else if meta.file_type().is_symlink() {
            bad.push(format!("{} is a symlink", path.display()));
            continue;
        } else {
            0o600
        };
        if m != want {
            bad.push(format!("{} is {m:04o}, not {want:04o}", path.display()));
        }
    }
    (bad, seen)
}

// ---- 1. private files whatever the umask ------------------------------------------------

#[test]
fn umask_000_still_leaves_every_file_0600_and_every_directory_0700() {
    let home = Home::new();
    // Created by cutover, not by the test: the store root too.
    let state = home.path().join("state");
    let script = format!(
        r#"umask 000; CUTOVER_HOME='{}' exec "$0" demo"#,
        state.display()
    );
    let mut tui = home.pty_sh(120, 40, &script);
    tui.wait_for_saved(1);
    let list = || {
        let out = common::run_with_home(state.as_os_str(), &["sessions", "--all", "--json"]);
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        doc["sessions"][0]["id"].as_str().unwrap().to_string()
    };
    let id = list();
    let status = |what: &str, pred: &dyn Fn(&serde_json::Value) -> bool| {
        let deadline = Instant::now() + SLOW;
        loop {
            let out = common::run_with_home(state.as_os_str(), &["status", "--json", &id]);
            let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
            if pred(&doc) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out on {what}: {doc:#}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // Two manual steps, then the first command.
    tui.send("d");
    tui.wait_for_saved(2);
    tui.send("d");
    tui.wait_for_saved(3);
    tui.send("\r");
    status("say-hello done", &|s| step_status(s, "say-hello") == "done");
    // The message step: open its draft, save it (ctrl-s), leave the editor.
    tui.send("j");
    tui.send("\r");
    tui.wait_for("editing the before message", TIMEOUT);
    tui.send("\x13");
    tui.wait_for("saved the before draft", TIMEOUT);
    tui.send("\x07");
    // The command that makes the data, then the backup step with its two backups and
    // their verify commands.
    tui.send("j");
    tui.send("\r");
    status("make-data done", &|s| step_status(s, "make-data") == "done");
    tui.send("j");
    tui.send("\r");
    status("both backups verified", &|s| {
        s["backups"]
            .as_array()
            .is_some_and(|b| b.len() == 2 && b.iter().all(|b| b["status"] == "verified"))
    });
    tui.send("q");
    assert_eq!(tui.wait_code(), 0, "{}", tui.screen());
    // The control: the umask really was 000 for cutover and what it ran, since the
    // directories the demo's commands made with a plain `mkdir -p` are 0777.
    let scratch = PathBuf::from(format!("/tmp/cutover-demo-{id}"));
    let scratch_mode = mode(&scratch.join("backup"));
    let _ = std::fs::remove_dir_all(&scratch);
    assert_eq!(scratch_mode, 0o777, "the umask did not reach the commands");

    let session = state.join("sessions").join(&id);
    // The test looks where it means to: every kind of file cutover writes is there.
    let tasks = session.join("tasks");
    for name in [
        "journal.jsonl",
        "runbook.toml",
        "lock",
        "cutover.log",
        "tasks/step-say-hello-1.log",
        "tasks/step-say-hello-1.exit",
        "tasks/step-say-hello-1.pid",
        "tasks/step-say-hello-1.spec.json",
        "tasks/backup-data-archive-1.log",
        "tasks/verify-data-archive-1.exit",
    ] {
        assert!(
            session.join(name).is_file(),
            "no {name} in {}",
            session.display()
        );
    }
    assert!(tasks.is_dir());
    let messages: Vec<_> = std::fs::read_dir(session.join("messages"))
        .unwrap()
        .collect();
    assert_eq!(messages.len(), 1, "the saved draft: {messages:?}");

    let (bad, seen) = not_private(&state);
    assert!(seen > 20, "only {seen} entries under {}", state.display());
    assert!(
        bad.is_empty(),
        "under umask 000, not private:\n{}",
        bad.join("\n")
    );
}

// ---- 2. a state directory someone else could change is refused --------------------------

/// Runs `demo` (or `args`) in a pty with `CUTOVER_HOME=state` and checks the refusal:
/// exit 73, nothing drawn, the path named with what is wrong and the fix.
fn refused(home: &Home, state: &Path, args: &str, named: &Path, wants: &[&str]) {
    let script = format!(r#"CUTOVER_HOME='{}' exec "$0" {args}"#, state.display());
    let mut pty = home.pty_sh(120, 40, &script);
    let code = pty.wait_code();
    let text = pty.raw_text();
    assert_eq!(code, CANT_CREATE, "{args} with {}: {text}", state.display());
    assert_no_escapes(&text, args);
    let flat = text.replace("\r\n", " ").replace('\n', " ");
    let named = named.display().to_string();
    assert!(
        flat.contains(&named),
        "the message must name {named}: {text}"
    );
    for want in wants {
        assert!(flat.contains(want), "the message must say {want:?}: {text}");
    }
    assert!(
        pty.termios_cooked(),
        "the refusal changed the terminal mode"
    );
}

#[test]
fn a_symlinked_store_root_or_sessions_folder_is_refused() {
    let home = Home::new();
    let real = home.path().join("real");
    std::fs::create_dir(&real).unwrap();
    chmod(&real, 0o700);
    let link = home.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    refused(
        &home,
        &link,
        "demo",
        &link,
        &["symbolic link", "real directory"],
    );
    // Nothing was created through the link.
    assert_eq!(std::fs::read_dir(&real).unwrap().count(), 0);

    // sessions/ itself a link, into a directory anyone could write.
    let state = home.path().join("state");
    std::fs::create_dir(&state).unwrap();
    chmod(&state, 0o700);
    let elsewhere = home.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, state.join("sessions")).unwrap();
    refused(
        &home,
        &state,
        "demo",
        &state.join("sessions"),
        &["symbolic link"],
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn a_store_writable_by_others_is_refused_with_the_chmod_that_fixes_it() {
    let home = Home::new();
    let state = home.path().join("state");
    std::fs::create_dir_all(state.join("sessions")).unwrap();
    chmod(&state.join("sessions"), 0o700);
    for (m, who) in [
        (0o770, "its group"),
        (0o707, "everyone else"),
        (0o777, "its group and everyone else"),
    ] {
        chmod(&state, m);
        let fix = format!("chmod 700 {}", state.display());
        refused(
            &home,
            &state,
            "demo",
            &state,
            &[who, &format!("{m:04o}"), &fix],
        );
    }
    // The sticky bit does not make a world-writable root private.
    chmod(&state, 0o1777);
    refused(&home, &state, "demo", &state, &["writable by"]);
    chmod(&state, 0o700);
    chmod(&state.join("sessions"), 0o775);
    let fix = format!("chmod 700 {}", state.join("sessions").display());
    refused(
        &home,
        &state,
        "demo",
        &state.join("sessions"),
        &["its group", &fix],
    );
    assert_eq!(
        std::fs::read_dir(state.join("sessions")).unwrap().count(),
        0,
        "a refused start left a session"
    );
}

#[test]
fn a_store_owned_by_someone_else_is_refused() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: only root can give a directory to another user");
        return;
    }
    let home = Home::new();
    let state = home.path().join("state");
    std::fs::create_dir(&state).unwrap();
    chmod(&state, 0o700);
    std::os::unix::fs::chown(&state, Some(54321), Some(54321)).unwrap();
    refused(
        &home,
        &state,
        "demo",
        &state,
        &["belongs to user id 54321", "CUTOVER_HOME"],
    );
}

#[test]
fn resume_refuses_a_session_folder_others_can_write() {
    let home = Home::new();
    let mut tui = home.pty(120, 40, &["demo"]);
    tui.wait_for_saved(1);
    tui.send("q");
    assert_eq!(tui.wait_code(), 0);
    let id = home.only_session();
    let dir = home.state().join("sessions").join(&id);
    chmod(&dir, 0o777);
    let fix = format!("chmod 700 {}", dir.display());
    refused(
        &home,
        &home.state(),
        &format!("resume {id}"),
        &dir,
        &["everyone else", &fix],
    );
    // Fixed as told, it resumes.
    chmod(&dir, 0o700);
    let mut again = home.pty(120, 40, &["resume", id.as_str()]);
    again.wait_for_saved(2);
    again.send("q");
    assert_eq!(again.wait_code(), 0);
}

#[test]
fn a_private_root_inside_a_shared_sticky_directory_is_fine() {
    let home = Home::new();
    // Like /tmp: anyone may create entries, nobody may touch another's.
    let shared = home.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    chmod(&shared, 0o1777);
    let state = shared.join("cutover");
    let script = format!(r#"CUTOVER_HOME='{}' exec "$0" demo"#, state.display());
    let mut tui = home.pty_sh(120, 40, &script);
    tui.wait_for_saved(1);
    tui.send("q");
    assert_eq!(tui.wait_code(), 0, "{}", tui.raw_text());
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join("sessions")), 0o700);
    assert_eq!(
        std::fs::metadata(&state).unwrap().uid(),
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() }
    );
}

// ---- 3. secrets ---------------------------------------------------------------------------

const SECRET: &str = "Tr0ub4dor-s3cret-&-3";

fn secret_runbook(dir: &Path) -> PathBuf {
    write(
        dir,
        "secret.toml",
        r#"[runbook]
title = "secret test"
secrets = ["DB_PASSWORD"]

[vars]
SERVICE = "db"

[window]
duration = "1h"

[message]
# Fails, and says the secret on its way out: the detail is journaled and shown.
send = 'cat > /dev/null; echo "relay rejected login $DB_PASSWORD" >&2; exit 1'

[message.during]
subject = "[In progress] {{ SERVICE }}"
body = """
Under way.
"""

[[phase]]
id = "p"
title = "Phase"

[[phase.step]]
id = "leak"
title = "Use the secret"
run = '''
case "$DB_PASSWORD" in Tr0ub4dor-*) echo "the command has it, ${#DB_PASSWORD} characters";; esac
echo "connecting with password=$DB_PASSWORD now"
printf 'still typing %s' "$DB_PASSWORD"
sleep 3
echo
echo "done"
'''
estimate = "10s"

[[phase.step]]
id = "tell"
title = "Tell them"
message = "during"
estimate = "1m"
"#,
    )
}

fn session_files(home: &Home, id: &str) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![home.state().join("sessions").join(id)];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&p).unwrap();
            out.push((p, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    out
}

#[test]
fn a_secret_reaches_the_command_and_nothing_else() {
    let home = Home::new();
    let rb = secret_runbook(home.path());
    let script = format!(r#"DB_PASSWORD='{SECRET}' exec "$0" run '{}'"#, rb.display());
    let mut tui = home.pty_sh(120, 40, &script);
    tui.wait_for_saved(1);
    let id = home.only_session();
    tui.send("\r");
    // The line still being written is masked too.
    tui.wait_for("still typing ****", TIMEOUT);
    tui.wait_for("connecting with password=**** now", TIMEOUT);
    tui.wait_for("the command has it, 20 characters", TIMEOUT);
    wait_status(&home, &id, "the step done", |s| {
        step_status(s, "leak") == "done"
    });
    assert!(
        !tui.raw_text().contains(SECRET),
        "the screen showed the secret:\n{}",
        tui.screen()
    );

    // Typed into the message draft by mistake: saved and sent masked. (The editor shows
    // what was typed, as any text box does; from here on the screen is not checked.)
    tui.send("j");
    tui.send("\r");
    tui.wait_for("editing the during message", TIMEOUT);
    tui.send(&format!("pw {SECRET} "));
    tui.send("\x13");
    tui.wait_for("saved the during draft", TIMEOUT);
    tui.send("\x07");
    tui.send("S");
    tui.wait_for("Type y", TIMEOUT);
    tui.send("y\r");
    tui.wait_for("NOT sent", TIMEOUT);
    tui.wait_for("relay rejected login ****", TIMEOUT);
    tui.send("q");
    assert_eq!(tui.wait_code(), 0);

    // The raw task log is the command's own output: it holds the value. That is the
    // positive control showing the command did print it.
    let files = session_files(&home, &id);
    let (logs, rest): (Vec<_>, Vec<_>) = files.iter().partition(|(p, _)| {
        p.extension().is_some_and(|e| e == "log") && p.parent().unwrap().ends_with("tasks")
    });
    assert!(
        logs.iter().any(|(_, t)| t.contains(SECRET)),
        "the command's own log should hold what it printed: {logs:?}"
    );
    // Everything else cutover wrote: the journal, cutover.log, the runbook copy, the
    // task spec, pid and exit records, the message files.
    let names: Vec<String> = rest
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "journal.jsonl",
        "cutover.log",
        "runbook.toml",
        "step-leak-1.spec.json",
    ] {
        assert!(names.iter().any(|n| n == want), "no {want} among {names:?}");
    }
    assert!(
        names.iter().filter(|n| n.ends_with("-during.txt")).count() >= 2,
        "the saved draft and the sent text: {names:?}"
    );
    for (path, text) in &rest {
        assert!(
            !text.contains(SECRET),
            "{} holds the secret:\n{text}",
            path.display()
        );
    }
    let journal = journal_lines(&home.journal(&id));
    let started = &journal[0]["event"];
    assert_eq!(started["type"], "session_started");
    assert_eq!(started["vars"], serde_json::json!({"SERVICE": "db"}));
    let sent = journal
        .iter()
        .map(|l| &l["event"])
        .find(|e| e["type"] == "message_sent")
        .expect("a message_sent record");
    assert!(
        sent["body"].as_str().unwrap().contains("pw ****"),
        "{sent:#}"
    );
    assert!(
        sent["detail"]
            .as_str()
            .unwrap()
            .contains("relay rejected login ****"),
        "{sent:#}"
    );

    // The read-only commands, with the secret in their environment and without it.
    let env = [("DB_PASSWORD", std::ffi::OsStr::new(SECRET))];
    for with in [&env[..], &[]] {
        for args in [
            vec!["status", "--json", id.as_str()],
            vec!["report", id.as_str()],
            vec!["report", "--format", "json", id.as_str()],
            vec!["message", id.as_str()],
        ] {
            let out = common::run_with_env(home.state().as_os_str(), &args, with);
            assert_eq!(out.code, 0, "{args:?}: {out:?}");
            assert!(
                !out.stdout.contains(SECRET) && !out.stderr.contains(SECRET),
                "{args:?} (secret in env: {}) printed the secret:\n{}",
                !with.is_empty(),
                out.stdout
            );
        }
    }
    let report = common::run_with_env(home.state().as_os_str(), &["report", id.as_str()], &env);
    assert!(
        report.stdout.contains("relay rejected login"),
        "{}",
        report.stdout
    );
}

#[test]
fn a_missing_or_short_secret_refuses_to_start_naming_it() {
    let home = Home::new();
    let rb = secret_runbook(home.path());
    for (set, wants) in [
        (
            "unset DB_PASSWORD;",
            &["DB_PASSWORD (not set)", "export DB_PASSWORD"][..],
        ),
        ("DB_PASSWORD= ", &["DB_PASSWORD (set but empty)"][..]),
        (
            "DB_PASSWORD=abc ",
            &["DB_PASSWORD (3 characters", "at least 4"][..],
        ),
    ] {
        let script = format!(r#"{set} exec "$0" run '{}'"#, rb.display());
        let mut pty = home.pty_sh(120, 40, &script);
        let code = pty.wait_code();
        let text = pty.raw_text();
        assert_eq!(code, CONFIG, "{set}: {text}");
        assert_no_escapes(&text, set);
        let flat = text.replace("\r\n", " ");
        for want in wants {
            assert!(flat.contains(want), "{set}: wants {want:?}: {text}");
        }
    }
    assert!(
        home.session_dirs().is_empty(),
        "a refused start left a session: {:?}",
        home.session_dirs()
    );
}

#[test]
fn resume_needs_the_secret_again() {
    let home = Home::new();
    let rb = secret_runbook(home.path());
    let script = format!(r#"DB_PASSWORD='{SECRET}' exec "$0" run '{}'"#, rb.display());
    let mut tui = home.pty_sh(120, 40, &script);
    tui.wait_for_saved(1);
    tui.send("q");
    assert_eq!(tui.wait_code(), 0);
    let id = home.only_session();

    let mut pty = home.pty_sh(
        120,
        40,
        &format!(r#"unset DB_PASSWORD; exec "$0" resume {id}"#),
    );
    let code = pty.wait_code();
    let text = pty.raw_text();
    assert_eq!(code, CONFIG, "{text}");
    assert_no_escapes(&text, "resume without the secret");
    assert!(text.contains("DB_PASSWORD (not set)"), "{text}");

    let mut again = home.pty_sh(
        120,
        40,
        &format!(r#"DB_PASSWORD='{SECRET}' exec "$0" resume {id}"#),
    );
    again.wait_for_saved(2);
    again.send("\r");
    again.wait_for("connecting with password=**** now", TIMEOUT);
    again.send("q");
    assert_eq!(again.wait_code(), 0);
    assert!(!again.raw_text().contains(SECRET));
}

#[test]
fn tmux_is_refused_for_a_runbook_with_secrets() {
    let home = Home::new();
    let rb = secret_runbook(home.path());
    let env = [("DB_PASSWORD", std::ffi::OsStr::new(SECRET))];
    let out = common::run_with_env(
        home.state().as_os_str(),
        &["run", rb.to_str().unwrap(), "--tmux"],
        &env,
    );
    assert_eq!(out.code as u32, USAGE, "{out:?}");
    assert!(out.stderr.contains("--tmux cannot hand them"), "{out:?}");
    assert!(!out.stderr.contains(SECRET));
    assert!(home.session_dirs().is_empty());
}

#[test]
fn validate_refuses_secrets_that_could_leak_or_cannot_be_exported() {
    let home = Home::new();
    let rb = write(
        home.path(),
        "bad.toml",
        r#"[runbook]
title = "bad secrets"
summary = "for {{ API_TOKEN }}"
secrets = ["API_TOKEN", "DB-PASSWORD", "SERVICE", "API_TOKEN", "CUTOVER_X"]

[vars]
SERVICE = "db"

[[phase]]
id = "p"
title = "Phase"

[[phase.step]]
id = "s"
title = "Step"
detail = "token {{ API_TOKEN }}"
"#,
    );
    let out = home.run(&["validate", rb.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    let text = format!("{}{}", out.stdout, out.stderr);
    for want in [
        "secret `API_TOKEN` is only available to commands, as $API_TOKEN, not in templates",
        "secret `DB-PASSWORD` is not an environment variable name",
        "`SERVICE` is both a secret and a variable in [vars]",
        "secret `API_TOKEN` is listed twice",
        "secret `CUTOVER_X` uses cutover's own prefix",
    ] {
        assert!(text.contains(want), "wants {want:?}:\n{text}");
    }
    assert_eq!(
        text.matches("only available to commands").count(),
        2,
        "the summary and the detail:\n{text}"
    );
    // The secret test's runbook itself is fine.
    let good = secret_runbook(home.path());
    let out = home.run(&["validate", "--strict", good.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
}

/// The three ways a secret could still reach the screen or the journal once the
/// command's output is masked: typed into a note, read in the log pager, or shown by a
/// watcher.
#[test]
fn a_typed_note_the_log_pager_and_a_watcher_never_show_the_secret() {
    let home = Home::new();
    let rb = secret_runbook(home.path());
    let paged = home.path().join("paged.txt");
    let pager = write(
        home.path(),
        "pager.sh",
        &format!("#!/bin/sh\ncat \"$1\" > '{}'\n", paged.display()),
    );
    chmod(&pager, 0o755);
    let script = format!(
        r#"DB_PASSWORD='{SECRET}' PAGER='{}' exec "$0" run '{}'"#,
        pager.display(),
        rb.display()
    );
    let mut tui = home.pty_sh(120, 40, &script);
    tui.wait_for_saved(1);
    let id = home.only_session();
    tui.send("\r");
    wait_status(&home, &id, "the step done", |s| {
        step_status(s, "leak") == "done"
    });

    // A note with the secret pasted in: journaled masked.
    tui.send("k");
    tui.send("n");
    tui.wait_for("Note on leak", TIMEOUT);
    tui.send(&format!("rotated {SECRET} after"));
    tui.send("\r");
    wait_status(&home, &id, "the note saved", |s| {
        s["steps"][0]["notes"]
            .as_array()
            .is_some_and(|n| !n.is_empty())
    });
    let journal = std::fs::read_to_string(home.journal(&id)).unwrap();
    assert!(
        !journal.contains(SECRET),
        "the journal holds the note's secret:\n{journal}"
    );
    assert!(journal.contains("rotated **** after"), "{journal}");

    // The log in the pager: a masked copy, removed once the pager ends.
    tui.send("l");
    let deadline = Instant::now() + TIMEOUT;
    while !std::fs::read_to_string(&paged).is_ok_and(|t| t.contains("done")) {
        assert!(
            Instant::now() < deadline,
            "the pager was not run:\n{}",
            tui.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let shown = std::fs::read_to_string(&paged).unwrap();
    assert!(
        !shown.contains(SECRET),
        "the pager showed the secret:\n{shown}"
    );
    assert!(
        shown.contains("connecting with password=**** now"),
        "{shown}"
    );
    tui.wait_for("saved #", TIMEOUT);

    // A watcher without the secret is refused before the terminal, naming it; with it,
    // the output it shows is masked.
    let out = common::run_with_env(home.state().as_os_str(), &["watch", id.as_str()], &[]);
    assert_eq!(out.code, CONFIG as i32, "{out:?}");
    assert!(out.stderr.contains("DB_PASSWORD"), "{out:?}");
    let mut watcher = home.pty_sh(
        120,
        40,
        &format!(r#"DB_PASSWORD='{SECRET}' exec "$0" watch {id}"#),
    );
    watcher.wait_for("WATCHING", TIMEOUT);
    // It opens on the first step still open, `tell`; the output is `leak`'s.
    watcher.send("k");
    watcher.wait_for("connecting with password=**** now", TIMEOUT);
    assert!(
        !watcher.raw_text().contains(SECRET),
        "the watcher showed the secret:\n{}",
        watcher.screen()
    );
    watcher.send("q");
    assert_eq!(watcher.wait_code(), 0);
    tui.send("q");
    assert_eq!(tui.wait_code(), 0);
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("cutover-{}-", tui.pid()))
        })
        .collect();
    assert!(
        leftovers.is_empty(),
        "masked copies left behind: {leftovers:?}"
    );
}
