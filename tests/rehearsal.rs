//! Rehearsals (`run --dry-run`): through the pure `update`, nothing is spawned, no
//! backup starts and nothing is sent, while `d` walks the steps by hand; through the
//! binary, `status --json`, the report and `report --suggest-estimates` on a scripted
//! rehearsal written to disk with the library's own journal.

mod common;

use common::Home;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use cutover::app::{App, Effect, Msg, update};
use cutover::run::StepStatus;
use cutover::runbook::Runbook;
use cutover::session::{Event, Record, Store, WindowSpec};
use jiff::Timestamp;
use serde_json::Value;

const RUNBOOK: &str = r#"
[runbook]
title = "rehearsed"

[window]
duration = "2h"

[message]
send = "mail -s \"$CUTOVER_SUBJECT\" ops@example.com"

[message.during]
subject = "[In progress] update"
body = "Now: {{ current_step }}."

[[backup]]
id = "db"
title = "Database dump"
run = "pg_dump shop > db.sql"

[[phase]]
id = "p"
title = "Upgrade"

[[phase.step]]
id = "migrate"
title = "Migrate the database"
run = "migrate --all"
estimate = "10m"

[[phase.step]]
id = "dump"
title = "Back up"
backups = ["db"]

[[phase.step]]
id = "tell"
title = "Tell stakeholders"
message = "during"
"#;

fn t(s: &str) -> Timestamp {
    s.parse().expect("a test time")
}

fn started(rb: &Runbook, rehearsal: bool) -> Event {
    Event::SessionStarted {
        session: "s".into(),
        runbook_path: "/x/rehearsed.toml".into(),
        runbook_sha256: rb.sha256.clone(),
        vars: rb.resolve_vars(&[]).expect("vars"),
        window: WindowSpec {
            start: t("2026-11-28T21:00:00Z"),
            end: t("2026-11-28T23:00:00Z"),
            timezone: "UTC".into(),
        },
        cutover_version: "test".into(),
        rehearsal,
    }
}

fn app(rehearsal: bool) -> App {
    let rb = Runbook::parse("rehearsed.toml", RUNBOOK).expect("a valid runbook");
    let first = Record {
        seq: 1,
        at: t("2026-11-28T21:00:00Z"),
        by: "op@host".into(),
        event: started(&rb, rehearsal),
    };
    let mut app = App::new(rb, &[first], "op@host".into(), false, true);
    app.view.now = t("2026-11-28T21:05:00Z");
    app
}

fn key(app: &mut App, c: char) -> Vec<Effect> {
    let code = if c == '\n' {
        KeyCode::Enter
    } else {
        KeyCode::Char(c)
    };
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// Saves every `Record` as the runtime would and returns the other effects.
fn save(app: &mut App, effects: Vec<Effect>) -> Vec<Effect> {
    let mut rest = Vec::new();
    for e in effects {
        match e {
            Effect::Record(events) => {
                for event in events {
                    let record = Record {
                        seq: app.run.last_seq + 1,
                        at: app.view.now,
                        by: "op@host".into(),
                        event,
                    };
                    app.apply(&record);
                }
            }
            other => rest.push(other),
        }
    }
    rest
}

fn select(app: &mut App, id: &str) {
    app.view.selected = app
        .run
        .steps
        .iter()
        .position(|s| s.id == id)
        .expect("a step of the runbook");
}

fn starts_anything(effects: &[Effect]) -> bool {
    effects.iter().any(|e| match e {
        Effect::Spawn(_) | Effect::SendMessage { .. } => true,
        Effect::Record(events) => events
            .iter()
            .any(|ev| matches!(ev, Event::StepStarted { .. } | Event::BackupStarted { .. })),
        _ => false,
    })
}

#[test]
fn enter_in_a_rehearsal_shows_the_command_and_runs_nothing() {
    let mut a = app(true);
    assert!(a.run.rehearsal);
    select(&mut a, "migrate");
    let effects = key(&mut a, '\n');
    assert!(!starts_anything(&effects), "{effects:?}");
    assert!(effects.is_empty(), "{effects:?}");
    let flash = a.view.flash.as_ref().expect("a flash").text.clone();
    assert!(flash.starts_with("rehearsal: nothing runs"), "{flash}");
    assert!(flash.contains("migrate --all"), "{flash}");
    assert!(flash.contains("d marks it done by hand"), "{flash}");
    // `r` is no way around it either.
    let effects = key(&mut a, 'r');
    assert!(!starts_anything(&effects), "{effects:?}");
}

#[test]
fn a_backup_step_in_a_rehearsal_takes_no_backup_and_d_marks_it_done() {
    let mut a = app(true);
    select(&mut a, "dump");
    let effects = key(&mut a, '\n');
    assert!(!starts_anything(&effects), "{effects:?}");
    let flash = a.view.flash.as_ref().expect("a flash").text.clone();
    assert!(flash.contains("pg_dump shop > db.sql"), "{flash}");
    // No reason asked: nothing ran, so there is no unverified backup to explain.
    let effects = key(&mut a, 'd');
    assert!(a.view.dialog.is_none());
    assert_eq!(
        effects,
        vec![Effect::Record(vec![Event::StepDone {
            step: "dump".into()
        }])]
    );
}

#[test]
fn d_marks_a_command_step_done_by_hand_in_a_rehearsal() {
    let mut a = app(true);
    select(&mut a, "migrate");
    key(&mut a, '\n');
    let effects = key(&mut a, 'd');
    assert_eq!(
        effects,
        vec![Effect::Record(vec![Event::StepDone {
            step: "migrate".into()
        }])]
    );
    let rest = save(&mut a, effects);
    assert!(rest.is_empty());
    assert_eq!(
        a.run.step("migrate").map(|s| s.status),
        Some(StepStatus::Done)
    );
}

#[test]
fn a_rehearsal_sends_nothing() {
    let mut a = app(true);
    select(&mut a, "tell");
    let effects = key(&mut a, 'S');
    assert!(effects.is_empty(), "{effects:?}");
    assert!(a.view.dialog.is_none());
    let flash = a.view.flash.as_ref().expect("a flash").text.clone();
    assert!(flash.contains("nothing is sent"), "{flash}");
}

#[test]
fn a_real_session_still_runs_its_commands() {
    let mut a = app(false);
    assert!(!a.run.rehearsal);
    select(&mut a, "migrate");
    let effects = key(&mut a, '\n');
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Spawn(_))),
        "{effects:?}"
    );
}

/// A rehearsal on disk: `migrate` (estimate 10m) marked done 24m10s after the start.
fn rehearsal_on_disk(home: &Home) -> String {
    let rb = Runbook::parse("rehearsed.toml", RUNBOOK).expect("a valid runbook");
    let store = Store::open(home.state()).expect("store");
    let start = t("2026-11-28T21:00:00Z");
    let (paths, lock, mut journal) = store
        .create_session(start, &rb.source)
        .expect("create session");
    let mut first = started(&rb, true);
    if let Event::SessionStarted { session, .. } = &mut first {
        *session = paths.id.clone();
    }
    journal.append("op@host", start, first).expect("append");
    journal
        .append(
            "op@host",
            t("2026-11-28T21:24:10Z"),
            Event::StepDone {
                step: "migrate".into(),
            },
        )
        .expect("append");
    drop((journal, lock));
    paths.id.clone()
}

#[test]
fn status_and_report_say_it_was_a_rehearsal() {
    let home = Home::new();
    let id = rehearsal_on_disk(&home);
    let out = home.run(&["status", id.as_str(), "--json"]);
    assert_eq!(out.code, 0, "{out:#?}");
    let doc: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(doc["rehearsal"], true);

    let out = home.run(&["status", id.as_str()]);
    assert!(out.stdout.contains("REHEARSAL"), "{out:#?}");

    let out = home.run(&["report", id.as_str()]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        out.stdout.contains("Rehearsal: nothing was executed"),
        "{}",
        out.stdout
    );
    let out = home.run(&["report", id.as_str(), "--format", "json"]);
    let doc: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(doc["rehearsal"], true);
}

#[test]
fn suggest_estimates_prints_a_diff_from_what_the_steps_took() {
    let home = Home::new();
    let id = rehearsal_on_disk(&home);
    let out = home.run(&["report", "--suggest-estimates", id.as_str()]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        out.stdout
            .starts_with("--- a/rehearsed.toml\n+++ b/rehearsed.toml\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("-estimate = \"10m\"\n+estimate = \"25m\"\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("@@ step migrate (estimate 10m, took 24m10s)\n"),
        "{}",
        out.stdout
    );
    // Only done steps: the others have no duration to learn from.
    assert!(!out.stdout.contains("step dump"), "{}", out.stdout);
}

#[test]
fn the_header_says_rehearsal_in_words() {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let header = |a: &App| {
        let mut term = Terminal::new(TestBackend::new(100, 30)).expect("a test terminal");
        term.draw(|f| cutover::ui::render(f, a, a.view.now))
            .expect("drawn");
        let buf = term.backend().buffer().clone();
        (0..100u16)
            .map(|x| buf[(x, 0)].symbol().to_string())
            .collect::<String>()
    };
    assert!(
        header(&app(true)).contains("REHEARSAL"),
        "{}",
        header(&app(true))
    );
    assert!(!header(&app(false)).contains("REHEARSAL"));
}
