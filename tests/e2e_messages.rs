//! Messages through the real screen in a pseudo-terminal: a send whose command fails is
//! reported and journaled as failed with the exact text and the draft kept; a send that
//! works delivers the body on stdin with the subject in the environment and completes
//! the message step; ctrl-y writes an OSC 52 sequence to the terminal; quitting saves
//! edits nobody saved, and resume brings them back.

mod common;

use std::path::{Path, PathBuf};

use common::{Home, TIMEOUT, journal_lines};

fn runbook(dir: &Path, send: &str) -> PathBuf {
    let path = dir.join("msg.toml");
    let text = format!(
        r#"[runbook]
title = "message test"

[window]
duration = "1h"

[message]
send = '''{send}'''

[message.during]
subject = "[In progress] message test"
body = """
Work is under way.
"""

[[phase]]
id = "p"
title = "Phase"

[[phase.step]]
id = "tell"
title = "Tell stakeholders"
message = "during"
"#
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn events(home: &Home, id: &str) -> Vec<serde_json::Value> {
    journal_lines(&home.journal(id))
        .into_iter()
        .map(|l| l["event"].clone())
        .collect()
}

#[test]
fn a_failing_send_is_reported_journaled_and_keeps_the_draft() {
    let home = Home::new();
    let rb = runbook(
        home.path(),
        "cat > /dev/null; echo 'relay refused the message' >&2; exit 2",
    );
    let mut tui = home.pty(120, 40, &[std::ffi::OsStr::new("run"), rb.as_os_str()]);
    tui.wait_for_saved(1);
    // Enter opens the step's draft; type into its body, leave, send, confirm.
    tui.send("\r");
    tui.wait_for("editing the during message", TIMEOUT);
    // The cursor starts on the body's first line.
    tui.send("EDITED ");
    tui.send("\x07");
    tui.send("S");
    tui.wait_for("Type y", TIMEOUT);
    tui.send("y\r");
    tui.wait_for("NOT sent", TIMEOUT);
    tui.wait_for("relay refused the message", TIMEOUT);
    let id = home.only_session();
    // Still there: the draft with the operator's edit.
    tui.wait_for("EDITED Work is under way.", TIMEOUT);
    let sent: Vec<_> = events(&home, &id)
        .into_iter()
        .filter(|e| e["type"] == "message_sent")
        .collect();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["ok"], false);
    assert_eq!(sent[0]["exit"], 2);
    assert_eq!(sent[0]["subject"], "[In progress] message test");
    assert_eq!(sent[0]["body"], "EDITED Work is under way.\n");
    assert!(
        sent[0]["detail"]
            .as_str()
            .unwrap()
            .contains("relay refused the message")
    );
    // The text that was attempted is on disk too.
    let file = sent[0]["file"].as_str().unwrap();
    let path = home
        .state()
        .join("sessions")
        .join(&id)
        .join("messages")
        .join(file);
    let saved = std::fs::read_to_string(path).unwrap();
    assert_eq!(
        saved,
        "Subject: [In progress] message test\n\nEDITED Work is under way.\n"
    );
    let status = home.status_json(&id);
    assert_eq!(status["steps"][0]["status"], "pending");
    tui.send("q");
    assert_eq!(tui.wait_code(), 0);
    tui.assert_restored();
}

#[test]
fn a_working_send_delivers_the_text_and_completes_the_step() {
    let home = Home::new();
    let outbox = home.path().join("outbox");
    let rb = runbook(
        home.path(),
        &format!(
            r#"{{ printf 'Subject=%s\n' "$CUTOVER_SUBJECT"; cat; }} > '{}'"#,
            outbox.display()
        ),
    );
    let mut tui = home.pty(120, 40, &[std::ffi::OsStr::new("run"), rb.as_os_str()]);
    tui.wait_for_saved(1);
    tui.send("S");
    tui.wait_for("Type y", TIMEOUT);
    tui.send("y\r");
    tui.wait_for("sent the during message", TIMEOUT);
    // Finished sessions are not listed by `sessions`; the folder is still there.
    let dirs = home.session_dirs();
    assert_eq!(dirs.len(), 1);
    let id = dirs[0].clone();
    assert_eq!(
        std::fs::read_to_string(&outbox).unwrap(),
        "Subject=[In progress] message test\nWork is under way.\n"
    );
    let evs = events(&home, &id);
    let types: Vec<&str> = evs.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(
        types.ends_with(&["message_sent", "step_done", "session_finished"]),
        "{types:?}"
    );
    let status = home.status_json(&id);
    assert_eq!(status["steps"][0]["status"], "done");
    tui.send("q");
    assert_eq!(tui.wait_code(), 0);
}

#[test]
fn copy_writes_osc52_and_quitting_saves_unsaved_edits() {
    let home = Home::new();
    let rb = runbook(home.path(), "cat > /dev/null");
    let mut tui = home.pty(120, 40, &[std::ffi::OsStr::new("run"), rb.as_os_str()]);
    tui.wait_for_saved(1);
    tui.send("m");
    tui.wait_for("editing the during message", TIMEOUT);
    tui.send("\x19");
    tui.wait_for("copied the during message", TIMEOUT);
    // "Subject: [In progress] message test\n\nWork is under way.\n" in base64.
    use base64::Engine;
    let text = "Subject: [In progress] message test\n\nWork is under way.\n";
    let want = format!(
        "\x1b]52;c;{}\x1b\\",
        base64::engine::general_purpose::STANDARD.encode(text)
    );
    assert!(
        tui.raw_text().contains(&want),
        "no OSC 52 sequence with the draft in the bytes written"
    );
    tui.send("typed but never saved ");
    tui.wait_for("typed but never saved", TIMEOUT);
    let id = home.only_session();
    tui.send("\x03");
    assert_eq!(tui.wait_code(), 0);
    tui.assert_restored();
    let saved: Vec<_> = events(&home, &id)
        .into_iter()
        .filter(|e| e["type"] == "message_saved")
        .collect();
    assert_eq!(saved.len(), 1, "quitting saved the edit: {saved:#?}");
    let mut again = home.pty(120, 40, &["resume", id.as_str()]);
    again.wait_for("typed but never saved", TIMEOUT);
    again.send("q");
    assert_eq!(again.wait_code(), 0);
}

#[test]
fn quitting_while_a_send_runs_waits_for_it_and_records_it() {
    let home = Home::new();
    let outbox = home.path().join("outbox");
    let rb = runbook(
        home.path(),
        &format!(
            "cat > /dev/null; sleep 2; echo delivered > '{}'",
            outbox.display()
        ),
    );
    let mut tui = home.pty(120, 40, &[std::ffi::OsStr::new("run"), rb.as_os_str()]);
    tui.wait_for_saved(1);
    tui.send("S");
    tui.wait_for("Type y", TIMEOUT);
    tui.send("y\r");
    tui.wait_for("sending", TIMEOUT);
    tui.send("q");
    tui.wait_for("waiting for the message being sent", TIMEOUT);
    assert_eq!(tui.wait_code(), 0);
    tui.assert_restored();
    assert_eq!(std::fs::read_to_string(&outbox).unwrap(), "delivered\n");
    let id = home.session_dirs()[0].clone();
    let sent: Vec<_> = events(&home, &id)
        .into_iter()
        .filter(|e| e["type"] == "message_sent")
        .collect();
    assert_eq!(sent.len(), 1, "the send that finished after q is journaled");
    assert_eq!(sent[0]["ok"], true);
}

#[test]
fn a_send_cut_off_by_kill_9_is_recorded_as_unknown_on_resume() {
    let home = Home::new();
    let outbox = home.path().join("outbox");
    let rb = runbook(
        home.path(),
        &format!(
            "cat > /dev/null; sleep 2; echo delivered > '{}'",
            outbox.display()
        ),
    );
    let mut tui = home.pty(120, 40, &[std::ffi::OsStr::new("run"), rb.as_os_str()]);
    tui.wait_for_saved(1);
    tui.send("S");
    tui.wait_for("Type y", TIMEOUT);
    tui.send("y\r");
    // message_sending is saved before the command starts.
    tui.wait_for_saved(2);
    let id = home.only_session();
    tui.kill_9();
    tui.wait_exit(TIMEOUT);
    let types: Vec<String> = events(&home, &id)
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(types, ["session_started", "message_sending"]);
    let mut again = home.pty(120, 40, &["resume", id.as_str()]);
    again.wait_for("outcome is unknown", TIMEOUT);
    again.send("q");
    assert_eq!(again.wait_code(), 0);
    let sent: Vec<_> = events(&home, &id)
        .into_iter()
        .filter(|e| e["type"] == "message_sent")
        .collect();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["ok"], false);
    assert_eq!(sent[0]["subject"], "[In progress] message test");
    assert!(
        sent[0]["detail"]
            .as_str()
            .unwrap()
            .contains("outcome unknown")
    );
    // Nothing was sent twice, and the step was not marked done on a guess.
    assert_eq!(home.status_json(&id)["steps"][0]["status"], "pending");
}
