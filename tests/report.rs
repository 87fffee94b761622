//! `cutover report` and `cutover message`: one scripted night (a fixed list of journal
//! records with fixed times, against tests/fixtures/report-runbook.toml) turned into the
//! after-action record, checked as Markdown (a reviewed golden file), as JSON (fact by
//! fact), and end to end through the real binary on a session written to disk with the
//! library's own journal.

mod common;

use std::path::{Path, PathBuf};

use common::{Home, assert_no_escapes};
use cutover::report::{self, markdown};
use cutover::run::RunState;
use cutover::runbook::{Duration, Runbook};
use cutover::session::{Event, Outcome, Record, Store, WindowSpec};
use jiff::Timestamp;
use serde_json::Value;

const SESSION: &str = "20261128-205000-a1b2";
const ALICE: &str = "alice@jump1";
const BOB: &str = "bob@jump2";
/// The next morning, when the change ticket is written.
const NOW: &str = "2026-11-29T08:00:00Z";
/// What the artifact's folder is called in the golden file (the real one is a temp dir).
const BACKUP_DIR: &str = "[BACKUP_DIR]";
const ARTIFACT_BYTES: usize = 20 * 1024;

const SUBJECT: &str = "[In progress] Ledger upgrade to 4.3.0, update #1";
/// What the operator sent: it quotes a fenced block, so the report's fence must be longer.
const BODY: &str = "Hello,

The Ledger upgrade from 4.2.1 to 4.3.0 is in progress.

Current step:     Stop the ledger service (on schedule)
Expected finish:  2026-11-28 23:05 CET

```
# from the change ticket: no schema changes to the reporting views
```

alice@jump1
";
const SEND_FAILURE: &str = "exit 1: mail: cannot connect to smtp.example.com";
const SKIP_REASON: &str = "Rehearsed on staging | same build, see CHG-1234";
const OVERRIDE_REASON: &str = "smoke test covered by the staging rehearsal";
const MIGRATE_NOTE: &str = "lock timeout on ledger_entries; stopped the stuck report job";
const VERIFY_NOTE: &str = "UI loads; balances match the pre-upgrade export";
const EXTEND_REASON: &str = "second migration run; keep the full rollback reserve";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report-runbook.toml")
}

fn runbook() -> Runbook {
    Runbook::load(&fixture()).expect("the report fixture is a valid runbook")
}

fn t(text: &str) -> Timestamp {
    text.parse().expect("a test time")
}

fn now() -> Timestamp {
    t(NOW)
}

fn finished(step: &str, attempt: u32, exit: i32) -> Event {
    Event::StepFinished {
        step: step.into(),
        attempt,
        exit: Some(exit),
        signal: None,
        timed_out: false,
        cancelled: false,
        expect_matched: None,
        detached: false,
        detail: None,
        ended: None,
    }
}

fn backup_finished(backup: &str) -> Event {
    Event::BackupFinished {
        backup: backup.into(),
        attempt: 1,
        exit: Some(0),
        signal: None,
        timed_out: false,
        cancelled: false,
        detached: false,
        ended: None,
    }
}

fn sent(ok: bool, exit: i32, file: &str, detail: Option<&str>) -> Event {
    Event::MessageSent {
        phase: "during".into(),
        file: file.into(),
        exit: Some(exit),
        ok,
        step: Some("announce".into()),
        subject: SUBJECT.into(),
        body: BODY.into(),
        detail: detail.map(String::from),
        by_hand: false,
    }
}

/// The night as the journal tells it (times in UTC; the window opens at 22:00 CET): a
/// backup step, a skipped smoke test, a failed and a successful send, a gate override,
/// a migration that failed once, a second operator taking over, an extension, a note.
fn night(rb: &Runbook, session: &str, backup_dir: &str) -> Vec<(Timestamp, &'static str, Event)> {
    let started = Event::SessionStarted {
        session: session.into(),
        runbook_path: "/srv/runbooks/report-runbook.toml".into(),
        runbook_sha256: rb.sha256.clone(),
        vars: rb
            .resolve_vars(&[("BACKUP_DIR".into(), backup_dir.into())])
            .expect("BACKUP_DIR is a runbook variable"),
        window: WindowSpec {
            start: t("2026-11-28T21:00:00Z"),
            end: t("2026-11-29T00:00:00Z"),
            timezone: "Europe/Amsterdam".into(),
        },
        cutover_version: "test".into(),
        rehearsal: false,
    };
    let step = |s: &str| s.to_string();
    vec![
        (t("2026-11-28T20:50:00Z"), ALICE, started),
        (
            t("2026-11-28T21:02:10Z"),
            ALICE,
            Event::StepDone {
                step: step("freeze"),
            },
        ),
        (
            t("2026-11-28T21:03:00Z"),
            ALICE,
            Event::StepStarted {
                step: step("backup"),
                attempt: 1,
            },
        ),
        (
            t("2026-11-28T21:03:00Z"),
            ALICE,
            Event::BackupStarted {
                backup: "db-dump".into(),
                attempt: 1,
            },
        ),
        (
            t("2026-11-28T21:03:00Z"),
            ALICE,
            Event::BackupStarted {
                backup: "config".into(),
                attempt: 1,
            },
        ),
        (t("2026-11-28T21:03:41Z"), ALICE, backup_finished("config")),
        (t("2026-11-28T21:11:05Z"), ALICE, backup_finished("db-dump")),
        (
            t("2026-11-28T21:11:07Z"),
            ALICE,
            Event::BackupVerified {
                backup: "db-dump".into(),
                ok: true,
                detail: Some("verify exit 0".into()),
                detached: false,
                ended: None,
            },
        ),
        (t("2026-11-28T21:11:07Z"), ALICE, finished("backup", 1, 0)),
        (
            t("2026-11-28T21:12:30Z"),
            ALICE,
            Event::StepSkipped {
                step: step("smoke-before"),
                reason: SKIP_REASON.into(),
            },
        ),
        (
            t("2026-11-28T21:14:00Z"),
            ALICE,
            sent(false, 1, "1-during.txt", Some(SEND_FAILURE)),
        ),
        (
            t("2026-11-28T21:16:20Z"),
            ALICE,
            sent(true, 0, "2-during.txt", None),
        ),
        (
            t("2026-11-28T21:16:20Z"),
            ALICE,
            Event::StepDone {
                step: step("announce"),
            },
        ),
        (
            t("2026-11-28T21:18:00Z"),
            ALICE,
            Event::GateOverridden {
                step: step("stop-service"),
                unmet: vec![step("smoke-before")],
                reason: OVERRIDE_REASON.into(),
            },
        ),
        (
            t("2026-11-28T21:18:00Z"),
            ALICE,
            Event::StepStarted {
                step: step("stop-service"),
                attempt: 1,
            },
        ),
        (
            t("2026-11-28T21:18:40Z"),
            ALICE,
            finished("stop-service", 1, 0),
        ),
        (
            t("2026-11-28T21:19:00Z"),
            ALICE,
            Event::StepStarted {
                step: step("migrate"),
                attempt: 1,
            },
        ),
        (t("2026-11-28T21:24:30Z"), ALICE, finished("migrate", 1, 3)),
        (
            t("2026-11-28T21:25:00Z"),
            BOB,
            Event::SessionResumed { pid: 4242 },
        ),
        (
            t("2026-11-28T21:26:00Z"),
            BOB,
            Event::NoteAdded {
                step: step("migrate"),
                text: MIGRATE_NOTE.into(),
            },
        ),
        (
            t("2026-11-28T21:27:00Z"),
            BOB,
            Event::StepStarted {
                step: step("migrate"),
                attempt: 2,
            },
        ),
        (t("2026-11-28T21:41:15Z"), BOB, finished("migrate", 2, 0)),
        (
            t("2026-11-28T21:42:00Z"),
            BOB,
            Event::WindowExtended {
                by: Duration::from_mins(30),
                reason: EXTEND_REASON.into(),
            },
        ),
        (
            t("2026-11-28T21:42:10Z"),
            BOB,
            Event::StepStarted {
                step: step("start-service"),
                attempt: 1,
            },
        ),
        (
            t("2026-11-28T21:43:02Z"),
            BOB,
            finished("start-service", 1, 0),
        ),
        (
            t("2026-11-28T21:55:00Z"),
            BOB,
            Event::NoteAdded {
                step: step("verify"),
                text: VERIFY_NOTE.into(),
            },
        ),
        (
            t("2026-11-28T21:55:00Z"),
            BOB,
            Event::StepDone {
                step: step("verify"),
            },
        ),
        (
            t("2026-11-28T21:58:00Z"),
            BOB,
            Event::SessionFinished {
                outcome: Outcome::Completed,
            },
        ),
    ]
}

fn records(events: Vec<(Timestamp, &'static str, Event)>) -> Vec<Record> {
    events
        .into_iter()
        .enumerate()
        .map(|(i, (at, by, event))| Record {
            seq: i as u64 + 1,
            at,
            by: by.into(),
            event,
        })
        .collect()
}

/// A folder holding the one artifact the runbook declares, at its known size.
fn backup_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("ledger-4.2.1.sql"),
        vec![b'x'; ARTIFACT_BYTES],
    )
    .expect("write the artifact");
    dir
}

/// The report of the scripted night as of [`NOW`], with the backup folder at `dir`.
fn the_report(dir: &str) -> report::Report {
    let rb = runbook();
    let records = records(night(&rb, SESSION, dir));
    let run = RunState::replay(&rb, &records);
    report::build(&rb, &records, &run, now())
}

/// Every table has as many cells in each row as in its header, counting only `|` that
/// are not escaped; every fence is closed by the same fence.
fn assert_well_formed(md: &str) {
    let cells = |line: &str| {
        let mut n = 0;
        let mut escaped = false;
        for c in line.chars() {
            match c {
                '\\' if !escaped => escaped = true,
                '|' if !escaped => n += 1,
                _ => escaped = false,
            }
            if c != '\\' {
                escaped = false;
            }
        }
        n
    };
    let mut fence: Option<String> = None;
    let mut header: Option<usize> = None;
    for (i, line) in md.lines().enumerate() {
        if let Some(f) = &fence {
            if line == f {
                fence = None;
            } else {
                assert!(
                    !line.starts_with(f.as_str()),
                    "line {}: a fence inside a fenced block: {line}",
                    i + 1
                );
            }
            continue;
        }
        if line.starts_with("```") {
            let ticks: String = line.chars().take_while(|c| *c == '`').collect();
            fence = Some(ticks);
            continue;
        }
        if line.starts_with('|') {
            let n = cells(line);
            match header {
                None => header = Some(n),
                Some(h) => assert_eq!(n, h, "line {}: a row that breaks its table: {line}", i + 1),
            }
        } else {
            header = None;
        }
    }
    assert!(fence.is_none(), "an unclosed fence");
}

/// The lines that are not inside a fenced block.
fn outside_fences(md: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    for line in md.lines() {
        match &fence {
            Some(f) if line == f => fence = None,
            Some(_) => {}
            None if line.starts_with("```") => {
                fence = Some(line.chars().take_while(|c| *c == '`').collect());
            }
            None => out.push(line),
        }
    }
    out
}

#[test]
fn markdown_report_of_the_scripted_night() {
    let dir = backup_dir();
    let shown = dir.path().display().to_string();
    let md = markdown::render(&the_report(&shown));
    assert_no_escapes(&md, "the markdown report");
    assert_well_formed(&md);
    // Made as of a fixed moment, the report is the same every time.
    assert_eq!(md, markdown::render(&the_report(&shown)));
    insta::assert_snapshot!(md.replace(&shown, BACKUP_DIR));
}

#[test]
fn json_report_holds_the_same_facts() {
    let dir = backup_dir();
    let shown = dir.path().display().to_string();
    let text = serde_json::to_string_pretty(&the_report(&shown)).expect("encode");
    let doc: Value = serde_json::from_str(&text).expect("the report is JSON");

    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["session"], SESSION);
    assert_eq!(doc["runbook"]["title"], "Ledger service upgrade");
    assert_eq!(doc["runbook"]["sha256"], runbook().sha256.as_str());
    assert_eq!(doc["started_at"], "2026-11-28T20:50:00Z");
    assert_eq!(doc["started_by"], ALICE);
    assert_eq!(doc["generated_at"], NOW);
    assert_eq!(doc["outcome"], "completed");
    assert_eq!(doc["finished_at"], "2026-11-28T21:58:00Z");
    assert_eq!(doc["finished_by"], BOB);
    assert_eq!(doc["progress"]["settled"], 8);
    assert_eq!(doc["progress"]["total"], 8);
    assert!(doc["rollback"].is_null());

    let w = &doc["window"];
    assert_eq!(w["timezone"], "Europe/Amsterdam");
    assert_eq!(w["start"], "2026-11-28T21:00:00Z");
    assert_eq!(w["planned_end"], "2026-11-29T00:00:00Z");
    assert_eq!(w["end"], "2026-11-29T00:30:00Z");
    assert_eq!(w["extended_by_seconds"], 1800);
    assert_eq!(w["extensions"][0]["by"], BOB);
    assert_eq!(w["extensions"][0]["at"], "2026-11-28T21:42:00Z");
    assert_eq!(w["extensions"][0]["seconds"], 1800);
    assert_eq!(w["extensions"][0]["reason"], EXTEND_REASON);
    // The reserve is the contingency phase's estimates: 25m + 5m.
    assert_eq!(w["rollback_reserve_seconds"], 1800);
    assert_eq!(w["planned_go_no_go"], "2026-11-28T23:30:00Z");
    assert_eq!(w["go_no_go"], "2026-11-29T00:00:00Z");
    assert!(w["projected_finish"].is_null());
    assert_eq!(w["verdict"], "on_track");
    assert_eq!(w["verdict_at"], "2026-11-28T21:58:00Z");

    let d = &doc["downtime"];
    assert_eq!(d["expected_seconds"], 1800);
    assert_eq!(d["started_at"], "2026-11-28T21:18:00Z");
    assert_eq!(d["ended_at"], "2026-11-28T21:43:02Z");
    assert_eq!(d["elapsed_seconds"], 25 * 60 + 2);
    assert_eq!(d["over"], false);
    assert_eq!(d["start_step"], "stop-service");
    assert_eq!(d["end_step"], "start-service");

    let steps = doc["steps"].as_array().expect("steps");
    let ids: Vec<&str> = steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "freeze",
            "backup",
            "smoke-before",
            "announce",
            "stop-service",
            "migrate",
            "start-service",
            "verify",
            "restore",
            "start-old"
        ]
    );
    let step = |id: &str| steps.iter().find(|s| s["id"] == id).unwrap();
    let statuses: Vec<&str> = steps
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "done", "done", "skipped", "done", "done", "done", "done", "done", "pending", "pending"
        ]
    );

    let migrate = step("migrate");
    assert_eq!(migrate["number"], 6);
    assert_eq!(migrate["phase"], "upgrade");
    assert_eq!(migrate["kind"], "command");
    assert_eq!(migrate["attempts"], 2);
    assert_eq!(migrate["exit"], 0);
    assert_eq!(migrate["estimate_seconds"], 900);
    // From the first attempt's start to the second's end.
    assert_eq!(migrate["actual_seconds"], (41 * 60 + 15) - 19 * 60);
    let history = migrate["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["exit"], 3);
    assert_eq!(history[0]["outcome"], "exit 3");
    assert_eq!(history[0]["started_at"], "2026-11-28T21:19:00Z");
    assert_eq!(history[0]["finished_at"], "2026-11-28T21:24:30Z");
    assert_eq!(history[0]["seconds"], 330);
    assert_eq!(history[1]["exit"], 0);
    assert_eq!(history[1]["outcome"], "exit 0");
    assert!(history[1]["signal"].is_null());
    assert_eq!(migrate["notes"][0]["by"], BOB);
    assert_eq!(migrate["notes"][0]["text"], MIGRATE_NOTE);
    assert_eq!(migrate["settled"]["by"], BOB);
    assert_eq!(migrate["settled"]["how"], "finished");
    assert_eq!(migrate["settled"]["at"], "2026-11-28T21:41:15Z");

    let freeze = step("freeze");
    assert_eq!(freeze["kind"], "manual");
    assert_eq!(freeze["settled"]["by"], ALICE);
    assert_eq!(freeze["settled"]["how"], "marked_done");
    assert_eq!(freeze["settled"]["at"], "2026-11-28T21:02:10Z");

    let skipped = step("smoke-before");
    assert_eq!(skipped["skip_reason"], SKIP_REASON);
    assert_eq!(skipped["settled"]["how"], "skipped");
    assert!(skipped["actual_seconds"].is_null());

    assert_eq!(step("stop-service")["override_reason"], OVERRIDE_REASON);
    assert_eq!(step("verify")["settled"]["by"], BOB);
    assert_eq!(step("backup")["estimate_seconds"], 11 * 60);
    assert_eq!(step("restore")["contingency"], true);
    assert!(step("restore")["settled"].is_null());

    let backups = doc["backups"].as_array().expect("backups");
    assert_eq!(backups.len(), 2);
    let dump = &backups[0];
    assert_eq!(dump["id"], "db-dump");
    assert_eq!(dump["step"], "backup");
    assert_eq!(dump["status"], "verified");
    assert_eq!(dump["attempts"], 1);
    assert_eq!(dump["verify"], "verify exit 0");
    let artifact = format!("{shown}/ledger-4.2.1.sql");
    assert_eq!(dump["artifact"]["path"], artifact.as_str());
    assert_eq!(dump["artifact"]["found"], true);
    assert_eq!(dump["artifact"]["size_bytes"], ARTIFACT_BYTES);
    assert_eq!(backups[1]["id"], "config");
    assert_eq!(backups[1]["status"], "verified");
    assert!(backups[1]["artifact"].is_null());

    let o = &doc["overrides"][0];
    assert_eq!(o["step"], "stop-service");
    assert_eq!(o["by"], ALICE);
    assert_eq!(o["unmet"], serde_json::json!(["smoke-before"]));
    assert_eq!(o["reason"], OVERRIDE_REASON);

    let messages = doc["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["result"], "failed");
    assert_eq!(messages[0]["ok"], false);
    assert_eq!(messages[0]["exit"], 1);
    assert_eq!(messages[0]["detail"], SEND_FAILURE);
    assert_eq!(messages[1]["result"], "sent");
    assert_eq!(messages[1]["ok"], true);
    assert_eq!(messages[1]["exit"], 0);
    assert_eq!(messages[1]["by"], ALICE);
    assert_eq!(messages[1]["at"], "2026-11-28T21:16:20Z");
    assert_eq!(messages[1]["phase"], "during");
    assert_eq!(messages[1]["subject"], SUBJECT);
    assert_eq!(messages[1]["body"], BODY);

    let timeline = doc["timeline"].as_array().expect("timeline");
    assert!(
        timeline
            .iter()
            .any(|l| l.as_str().unwrap().starts_with("migrate ")),
        "{timeline:?}"
    );
}

#[test]
fn a_missing_artifact_is_reported_not_fatal() {
    // As on another machine than the one that took the backup.
    let gone = "/nonexistent/cutover-report-test";
    let r = the_report(gone);
    let a = r.backups[0].artifact.as_ref().expect("declared");
    assert_eq!(a.path, format!("{gone}/ledger-4.2.1.sql"));
    assert!(!a.found);
    assert_eq!(a.size_bytes, None);
    let md = markdown::render(&r);
    let row = md
        .lines()
        .find(|l| l.contains("`db-dump`") && l.starts_with('|'))
        .expect("the backup's row");
    assert!(row.ends_with("| not found |"), "{row}");
}

#[test]
fn operator_text_cannot_break_the_structure() {
    let rb = runbook();
    let mut events = night(&rb, SESSION, "/nonexistent");
    let hostile = "first line\n# not a heading\n| a | b |\n```\n<script>x</script> `tick";
    let at = t("2026-11-28T21:56:00Z");
    events.insert(
        events.len() - 1,
        (
            at,
            BOB,
            Event::NoteAdded {
                step: "verify".into(),
                text: hostile.into(),
            },
        ),
    );
    events.insert(
        events.len() - 1,
        (
            at,
            BOB,
            Event::MessageSent {
                phase: "after".into(),
                file: "3-after.txt".into(),
                exit: Some(0),
                ok: true,
                step: None,
                subject: "done | `really`\nsecond line".into(),
                body: format!("{hostile}\n``````\nend\u{1b}[2J\n"),
                detail: None,
                by_hand: false,
            },
        ),
    );
    let records = records(events);
    let run = RunState::replay(&rb, &records);
    let md = markdown::render(&report::build(&rb, &records, &run, now()));
    assert_no_escapes(&md, "the markdown report");
    assert_well_formed(&md);
    let outside = outside_fences(&md);
    assert!(
        !outside.iter().any(|l| l.starts_with("# not a heading")),
        "a note started a heading:\n{md}"
    );
    assert!(
        !outside.iter().any(|l| l.contains("<script>")),
        "raw HTML got through:\n{md}"
    );
    let note = outside
        .iter()
        .find(|l| l.starts_with("- **Note:**") && l.contains("first line"))
        .expect("the note");
    assert!(
        note.ends_with(
            "first line<br># not a heading<br>| a | b |<br>\\`\\`\\`<br>&lt;script>x&lt;/script> \\`tick"
        ),
        "{note}"
    );
    // The body keeps its text, inside a fence longer than its six backticks.
    assert!(
        md.contains("\n```````text\nSubject: done | `really`\nsecond line\n\nfirst line\n"),
        "{md}"
    );
    assert!(md.contains("\n``````\nend\\u{1b}[2J\n```````\n"), "{md}");
}

/// The scripted night written to a real session folder under `home`, through the
/// library's store and journal (so checksums and the runbook copy are right). Returns
/// the session id.
fn session_on_disk(home: &Home, backup_dir: &str) -> String {
    session_of(home, &runbook(), backup_dir)
}

fn session_of(home: &Home, rb: &Runbook, backup_dir: &str) -> String {
    let store = Store::open(home.state()).expect("store");
    let (paths, lock, mut journal) = store
        .create_session(t("2026-11-28T20:50:00Z"), &rb.source)
        .expect("create session");
    for (at, by, event) in night(rb, &paths.id, backup_dir) {
        journal.append(by, at, event).expect("append");
    }
    drop((journal, lock));
    paths.id.clone()
}

fn snapshot_of(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("session dir")
        .map(|e| {
            let p = e.expect("entry").path();
            let bytes = std::fs::read(&p).unwrap_or_default();
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_binary_writes_reports_and_messages_and_changes_nothing() {
    let home = Home::new();
    let dir = backup_dir();
    let id = session_on_disk(&home, &dir.path().display().to_string());
    let session_dir = home.state().join("sessions").join(&id);
    let before = snapshot_of(&session_dir);

    // JSON to a file: only the path on stderr.
    let out_file = home.path().join("change-record.json");
    let shown = out_file.display().to_string();
    let out = home.run(&[
        "report",
        id.as_str(),
        "--format",
        "json",
        "-o",
        shown.as_str(),
    ]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(out.stdout, "", "{out:#?}");
    assert_eq!(out.stderr, format!("{shown}\n"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&out_file).expect("written"))
        .expect("the file is JSON");
    assert_eq!(doc["session"], id.as_str());
    assert_eq!(doc["outcome"], "completed");
    assert_eq!(doc["steps"][5]["attempts"], 2);
    assert_eq!(doc["backups"][0]["artifact"]["size_bytes"], ARTIFACT_BYTES);

    // Markdown to stdout, of the most recent session by default.
    let out = home.run(&["report"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert_no_escapes(&out.stdout, "report stdout");
    assert!(
        out.stdout
            .starts_with("# Change record: Ledger service upgrade\n")
    );
    for title in [
        "Freeze deployments",
        "Back up the database and configuration",
        "Run the pre-upgrade smoke test",
        "Migrate the database",
        "Check the ledger UI",
        "Restore the database dump",
    ] {
        assert!(
            out.stdout.contains(title),
            "no `{title}` in:\n{}",
            out.stdout
        );
    }
    assert!(out.stdout.contains(&format!("`{id}`")));

    // The during message: its update number counts the one update already sent.
    let out = home.run(&["message", "--phase", "during"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert_no_escapes(&out.stdout, "message stdout");
    let mut lines = out.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("Subject: [In progress] Ledger upgrade to 4.3.0, update #2")
    );
    assert_eq!(lines.next(), Some(""));
    assert_eq!(lines.next(), Some("Hello,"));
    assert!(
        out.stdout
            .contains("Current step:     all steps settled (completed)")
    );

    // Without --phase: the session completed, so the "after" message (built in).
    let out = home.run(&["message", id.as_str()]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        out.stdout
            .starts_with("Subject: [Completed] Ledger service upgrade\n\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Actual downtime:    25m2s"),
        "{}",
        out.stdout
    );

    // Nothing in the session changed, and no lock was taken or left behind.
    assert_eq!(snapshot_of(&session_dir), before);
    assert!(home.session_dirs() == vec![id.clone()]);
}

#[test]
fn the_binary_names_what_it_cannot_do() {
    let home = Home::new();
    let id = session_on_disk(&home, "/nonexistent");
    for args in [
        vec!["report", "nope"],
        vec!["report", "nope", "--format", "json"],
        vec!["message", "nope"],
        vec!["message", "nope", "--phase", "during"],
    ] {
        let out = home.run(&args);
        assert_eq!(out.code, 66, "{args:?}: {out:#?}");
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(out.stderr.contains("`nope`"), "{args:?}: {}", out.stderr);
    }

    let out = home.run(&["message", id.as_str(), "--phase", "later"]);
    assert_eq!(out.code, 64, "{out:#?}");
    assert!(out.stderr.contains("`later`"), "{}", out.stderr);
    assert!(
        out.stderr.contains("before, during, after, rollback"),
        "{}",
        out.stderr
    );

    let out = home.run(&["report", id.as_str(), "--format", "pdf"]);
    assert_eq!(out.code, 64, "{out:#?}");
    assert!(out.stderr.contains("`pdf`"), "{}", out.stderr);

    let target = home.path().join("no-such-folder").join("record.md");
    let shown = target.display().to_string();
    let out = home.run(&["report", id.as_str(), "-o", shown.as_str()]);
    assert_eq!(out.code, 73, "{out:#?}");
    assert!(out.stderr.contains(&shown), "{}", out.stderr);
    assert!(out.stderr.contains(&id), "{}", out.stderr);

    // A template that validates (the checker cannot know the value) but does not
    // render with the session's values: the error names the session and the phase.
    let source = runbook()
        .source
        .replace("update #{{ update_no }}", "update #{{ SERVICE | int }}");
    let broken = Runbook::parse("broken.toml", &source).expect("it validates");
    let other = session_of(&home, &broken, "/nonexistent");
    assert_ne!(other, id);
    let out = home.run(&["message", other.as_str(), "--phase", "during"]);
    assert_eq!(out.code, 65, "{out:#?}");
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains(&other), "{}", out.stderr);
    assert!(out.stderr.contains("`during`"), "{}", out.stderr);
    // Other phases of the same session still render.
    let out = home.run(&["message", other.as_str(), "--phase", "before"]);
    assert_eq!(out.code, 0, "{out:#?}");
}

/// The scripted night up to (and including) the record at `index`, then `more`.
fn night_until(
    rb: &Runbook,
    last: impl Fn(&Event) -> bool,
    more: Vec<(Timestamp, &'static str, Event)>,
) -> Vec<Record> {
    let mut events = night(rb, SESSION, "/nonexistent");
    let cut = events
        .iter()
        .position(|(_, _, e)| last(e))
        .expect("the cut point");
    events.truncate(cut + 1);
    events.extend(more);
    records(events)
}

#[test]
fn a_rolled_back_night_says_why_and_counts_downtime_to_the_finish() {
    let rb = runbook();
    let reason = "migration fails with a lock timeout";
    let records = night_until(
        &rb,
        |e| matches!(e, Event::StepFinished { step, exit: Some(3), .. } if step == "migrate"),
        vec![
            (
                t("2026-11-28T21:30:00Z"),
                ALICE,
                Event::RollbackStarted {
                    reason: reason.into(),
                },
            ),
            (
                t("2026-11-28T21:30:10Z"),
                ALICE,
                Event::StepStarted {
                    step: "restore".into(),
                    attempt: 1,
                },
            ),
            (t("2026-11-28T21:52:00Z"), ALICE, finished("restore", 1, 0)),
            (
                t("2026-11-28T21:52:10Z"),
                ALICE,
                Event::StepStarted {
                    step: "start-old".into(),
                    attempt: 1,
                },
            ),
            (
                t("2026-11-28T21:53:00Z"),
                ALICE,
                finished("start-old", 1, 0),
            ),
            (
                t("2026-11-28T21:55:00Z"),
                ALICE,
                Event::SessionFinished {
                    outcome: Outcome::RolledBack,
                },
            ),
        ],
    );
    let run = RunState::replay(&rb, &records);
    let r = report::build(&rb, &records, &run, now());
    let doc = serde_json::to_value(&r).expect("encode");
    assert_eq!(doc["outcome"], "rolled_back");
    assert_eq!(doc["finished_at"], "2026-11-28T21:55:00Z");
    assert_eq!(doc["rollback"]["started_at"], "2026-11-28T21:30:00Z");
    assert_eq!(doc["rollback"]["by"], ALICE);
    assert_eq!(doc["rollback"]["reason"], reason);
    // No step ended the downtime: it lasted until the session finished, not until the
    // report was made the next morning.
    assert!(doc["downtime"]["ended_at"].is_null());
    assert_eq!(doc["downtime"]["elapsed_seconds"], 37 * 60);
    assert_eq!(doc["downtime"]["over"], true);
    assert_eq!(doc["window"]["verdict"], "on_track");
    let step = |id: &str| {
        doc["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(step("migrate")["status"], "failed");
    assert_eq!(step("migrate")["exit"], 3);
    assert_eq!(step("migrate")["settled"]["how"], "finished");
    assert_eq!(step("restore")["status"], "done");
    assert_eq!(step("start-service")["status"], "pending");

    let md = markdown::render(&r);
    assert_well_formed(&md);
    for want in [
        "- **Outcome:** **rolled back** at 2026-11-28 22:55:00 CET by alice@jump1",
        "- **Rollback:** started 2026-11-28 22:30:00 CET by alice@jump1: migration fails with a lock timeout",
        "- **Actual:** 37m, from 2026-11-28 22:18:00 CET (`stop-service`) until the session finished at 2026-11-28 22:55:00 CET; no step marked its end (`start-service` did not succeed)",
        "- **Against the announcement:** **7m over** the expected 30m",
        "| 6 | Migrate the database `migrate` | command | 15m | 5m30s | failed | 1 | 3 |",
        "| 1 | 2026-11-28 22:19:00 CET | 2026-11-28 22:24:30 CET | 5m30s | exit 3 |",
    ] {
        assert!(md.contains(want), "no {want:?} in:\n{md}");
    }
    // The rollback's steps are on the timeline once it started.
    assert!(md.contains("\nrestore "), "{md}");
}

#[test]
fn an_unfinished_night_is_described_as_of_now() {
    let rb = runbook();
    let records = night_until(
        &rb,
        |e| matches!(e, Event::StepStarted { step, attempt: 2 } if step == "migrate"),
        Vec::new(),
    );
    let run = RunState::replay(&rb, &records);
    let at = t("2026-11-28T21:35:00Z");
    let r = report::build(&rb, &records, &run, at);
    let doc = serde_json::to_value(&r).expect("encode");
    assert_eq!(doc["outcome"], "unfinished");
    assert!(doc["finished_at"].is_null());
    assert!(doc["finished_by"].is_null());
    assert_eq!(doc["generated_at"], "2026-11-28T21:35:00Z");
    assert_eq!(doc["window"]["verdict_at"], "2026-11-28T21:35:00Z");
    // What is left: 7 of migrate's 15 minutes, then 2m and 10m.
    assert_eq!(doc["window"]["projected_finish"], "2026-11-28T21:54:00Z");
    assert_eq!(doc["window"]["verdict"], "on_track");
    assert_eq!(doc["downtime"]["elapsed_seconds"], 17 * 60);
    let migrate = &doc["steps"][5];
    assert_eq!(migrate["status"], "running");
    assert_eq!(migrate["history"][1]["outcome"], "running");
    assert!(migrate["settled"].is_null());

    let md = markdown::render(&r);
    assert_well_formed(&md);
    for want in [
        "- **Outcome:** **unfinished**, described as of 2026-11-28 22:35:00 CET",
        "- **Finished:** not yet; the remaining estimates end at 2026-11-28 22:54:00 CET",
        "- **Verdict at 2026-11-28 22:35:00 CET:** on track",
        "- **Actual:** 17m so far, since 2026-11-28 22:18:00 CET (`stop-service`); not over at 2026-11-28 22:35:00 CET (`start-service` has not succeeded yet)",
    ] {
        assert!(md.contains(want), "no {want:?} in:\n{md}");
    }
    assert!(md.contains('^'), "the timeline shows now:\n{md}");
}
