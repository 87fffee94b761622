//! Commands and backups through the pure `update`: what starting, confirming, finishing,
//! losing and cancelling a task asks the runtime to record and do.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use cutover::app::view::Purpose;
use cutover::app::{App, Effect, Msg, update};
use cutover::runbook::Runbook;
use cutover::runner::watch::Report;
use cutover::runner::{ExitRecord, TaskId};
use cutover::session::{Event, Record, WindowSpec};
use jiff::Timestamp;

const RUNBOOK: &str = r#"
[runbook]
title = "flows"

[window]
duration = "2h"

[[backup]]
id = "disks"
title = "Disk snapshots"
run = "snapshot"
verify = "check"
estimate = "20m"

[[backup]]
id = "values"
title = "Helm values"
run = "helm get values"
estimate = "1m"

[[phase]]
id = "p"
title = "Phase"

[[phase.step]]
id = "prepare"
title = "Prepare"
run = "echo prepare"
estimate = "1m"

[[phase.step]]
id = "backup"
title = "Back up"
backups = ["disks", "values"]
requires = ["prepare"]

[[phase.step]]
id = "upgrade"
title = "Upgrade"
run = "helm upgrade"
confirm = true
requires = ["backup"]
estimate = "10m"
"#;

fn app() -> App {
    let rb = Runbook::parse("flows.toml", RUNBOOK).unwrap();
    let start: Timestamp = "2026-11-28T21:00:00Z".parse().unwrap();
    let first = Record {
        seq: 1,
        at: start,
        by: "op@host".into(),
        event: Event::SessionStarted {
            session: "s".into(),
            runbook_path: "/x/flows.toml".into(),
            runbook_sha256: rb.sha256.clone(),
            vars: rb.resolve_vars(&[]).unwrap(),
            window: WindowSpec {
                start,
                end: "2026-11-28T23:00:00Z".parse().unwrap(),
                timezone: "UTC".into(),
            },
            cutover_version: "test".into(),
            rehearsal: false,
        },
    };
    App::new(rb, &[first], "op@host".into(), false, true)
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
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
                        at: "2026-11-28T21:10:00Z".parse().unwrap(),
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
    app.view.selected = app.run.steps.iter().position(|s| s.id == id).unwrap();
}

fn exit(code: Option<i32>, signal: Option<i32>) -> ExitRecord {
    ExitRecord {
        exit: code,
        signal,
        timed_out: false,
        cancelled: false,
        expect_matched: None,
        started: "2026-11-28T21:01:00Z".parse().unwrap(),
        ended: "2026-11-28T21:03:00Z".parse().unwrap(),
        error: None,
    }
}

fn report(app: &mut App, r: Report) -> Vec<Effect> {
    let effects = update(app, Msg::Task(r));
    save(app, effects)
}

fn ok_exit(app: &mut App, task: TaskId) {
    report(
        app,
        Report::Exited {
            task,
            exit: exit(Some(0), None),
            detached: false,
        },
    );
}

fn status(app: &App, id: &str) -> String {
    cutover::run::plan::status(&app.runbook, &app.run, id)
        .word()
        .to_string()
}

#[test]
fn enter_records_the_start_before_it_spawns() {
    let mut app = app();
    select(&mut app, "prepare");
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![
            Effect::Record(vec![Event::StepStarted {
                step: "prepare".into(),
                attempt: 1
            }]),
            Effect::Spawn(TaskId::step("prepare", 1)),
        ]
    );
    save(&mut app, effects);
    assert_eq!(status(&app, "prepare"), "running");
    // A second Enter on a running step starts nothing.
    assert!(key(&mut app, KeyCode::Enter).is_empty());
}

#[test]
fn an_exit_finishes_the_attempt_with_its_code_and_a_stale_report_is_ignored() {
    let mut app = app();
    select(&mut app, "prepare");
    let e = key(&mut app, KeyCode::Enter);
    save(&mut app, e);
    let rest = report(
        &mut app,
        Report::Exited {
            task: TaskId::step("prepare", 1),
            exit: exit(Some(3), None),
            detached: true,
        },
    );
    assert!(rest.is_empty());
    assert_eq!(status(&app, "prepare"), "failed");
    let a = &app.run.step("prepare").unwrap().history[0];
    assert_eq!(a.exit, Some(3));
    assert!(a.detached);
    assert_eq!(a.outcome(), "exit 3 (finished while detached)");
    // The real end time, not the time it was picked up.
    assert_eq!(a.finished_at, Some("2026-11-28T21:03:00Z".parse().unwrap()));

    // The same report again changes nothing.
    let again = update(
        &mut app,
        Msg::Task(Report::Exited {
            task: TaskId::step("prepare", 1),
            exit: exit(Some(0), None),
            detached: false,
        }),
    );
    assert!(again.is_empty(), "{again:?}");

    // r runs it again as attempt 2; every attempt stays in the history.
    let e = key(&mut app, KeyCode::Char('r'));
    assert!(
        e.contains(&Effect::Spawn(TaskId::step("prepare", 2))),
        "{e:?}"
    );
    save(&mut app, e);
    report(
        &mut app,
        Report::Exited {
            task: TaskId::step("prepare", 2),
            exit: exit(None, Some(libc::SIGKILL)),
            detached: false,
        },
    );
    let h = &app.run.step("prepare").unwrap().history;
    assert_eq!(h.len(), 2);
    assert_eq!(h[1].outcome(), "killed by SIGKILL");
    assert_eq!(status(&app, "prepare"), "failed");
}

#[test]
fn a_vanished_supervisor_makes_the_step_interrupted_and_rerun_needs_the_typed_id() {
    let mut app = app();
    select(&mut app, "prepare");
    let e = key(&mut app, KeyCode::Enter);
    save(&mut app, e);
    report(
        &mut app,
        Report::Lost {
            task: TaskId::step("prepare", 1),
            why: "gone".into(),
        },
    );
    assert_eq!(status(&app, "prepare"), "interrupted");
    // Nothing is re-run by a single key: the outcome is unknown.
    let e = key(&mut app, KeyCode::Char('r'));
    assert!(e.is_empty());
    assert!(matches!(
        app.view.dialog.as_ref().map(|d| &d.purpose),
        Some(Purpose::ConfirmStart { .. })
    ));
    type_text(&mut app, "prep");
    assert!(
        key(&mut app, KeyCode::Enter).is_empty(),
        "a wrong id starts nothing"
    );
    type_text(&mut app, "are");
    let e = key(&mut app, KeyCode::Enter);
    assert!(
        e.contains(&Effect::Spawn(TaskId::step("prepare", 2))),
        "{e:?}"
    );

    // Or the operator marks it failed, with a reason.
    let mut app2 = self::app();
    select(&mut app2, "prepare");
    let e = key(&mut app2, KeyCode::Enter);
    save(&mut app2, e);
    report(
        &mut app2,
        Report::Lost {
            task: TaskId::step("prepare", 1),
            why: "gone".into(),
        },
    );
    key(&mut app2, KeyCode::Char('f'));
    type_text(&mut app2, "saw it crash");
    let e = key(&mut app2, KeyCode::Enter);
    assert_eq!(
        e,
        vec![Effect::Record(vec![Event::StepFailed {
            step: "prepare".into(),
            reason: "saw it crash".into()
        }])]
    );
}

#[test]
fn backups_run_in_parallel_verify_after_success_and_complete_the_step() {
    let mut app = app();
    select(&mut app, "prepare");
    let e = key(&mut app, KeyCode::Enter);
    save(&mut app, e);
    ok_exit(&mut app, TaskId::step("prepare", 1));
    select(&mut app, "backup");
    let e = key(&mut app, KeyCode::Enter);
    let spawns: Vec<&Effect> = e.iter().filter(|x| matches!(x, Effect::Spawn(_))).collect();
    assert_eq!(
        spawns,
        vec![
            &Effect::Spawn(TaskId::backup("disks", 1)),
            &Effect::Spawn(TaskId::backup("values", 1))
        ]
    );
    assert!(
        matches!(e[0], Effect::Record(_)),
        "the start is saved first: {e:?}"
    );
    save(&mut app, e);
    assert_eq!(status(&app, "upgrade"), "blocked");

    // disks finishes: its verify starts; the step is still running.
    let rest = report(
        &mut app,
        Report::Exited {
            task: TaskId::backup("disks", 1),
            exit: exit(Some(0), None),
            detached: false,
        },
    );
    assert_eq!(rest, vec![Effect::Spawn(TaskId::verify("disks", 1))]);
    assert_eq!(app.run.backup("disks").unwrap().status.word(), "verifying");
    // values has no verify: verified on success.
    ok_exit(&mut app, TaskId::backup("values", 1));
    assert_eq!(app.run.backup("values").unwrap().status.word(), "verified");
    assert_eq!(status(&app, "backup"), "running");
    assert_eq!(status(&app, "upgrade"), "blocked");
    ok_exit(&mut app, TaskId::verify("disks", 1));
    assert_eq!(app.run.backup("disks").unwrap().status.word(), "verified");
    assert_eq!(status(&app, "backup"), "done");
    assert_eq!(status(&app, "upgrade"), "pending");
}

#[test]
fn a_failed_backup_fails_the_step_naming_it_and_a_rerun_takes_only_what_is_not_verified() {
    let mut app = app();
    select(&mut app, "backup");
    // Past the gate (prepare not done): a typed reason, journaled with the start.
    key(&mut app, KeyCode::Enter);
    assert!(matches!(
        app.view.dialog.as_ref().map(|d| &d.purpose),
        Some(Purpose::OverrideStart { .. })
    ));
    type_text(&mut app, "prepared by hand");
    let e = key(&mut app, KeyCode::Enter);
    match &e[0] {
        Effect::Record(events) => assert!(
            matches!(&events[0], Event::GateOverridden { reason, .. } if reason == "prepared by hand"),
            "{events:?}"
        ),
        other => panic!("{other:?}"),
    }
    save(&mut app, e);
    ok_exit(&mut app, TaskId::backup("values", 1));
    report(
        &mut app,
        Report::Exited {
            task: TaskId::backup("disks", 1),
            exit: exit(Some(2), None),
            detached: false,
        },
    );
    assert_eq!(status(&app, "backup"), "failed");
    let detail = app.run.step("backup").unwrap().history[0].detail.clone();
    assert_eq!(detail.as_deref(), Some("backup `disks` failed: exit 2"));
    let e = key(&mut app, KeyCode::Char('r'));
    let spawns: Vec<&Effect> = e.iter().filter(|x| matches!(x, Effect::Spawn(_))).collect();
    assert_eq!(spawns, vec![&Effect::Spawn(TaskId::backup("disks", 2))]);
}

#[test]
fn a_confirm_step_starts_only_on_its_typed_id() {
    let mut app = app();
    select(&mut app, "prepare");
    let e = key(&mut app, KeyCode::Enter);
    save(&mut app, e);
    ok_exit(&mut app, TaskId::step("prepare", 1));
    select(&mut app, "backup");
    let e = key(&mut app, KeyCode::Enter);
    save(&mut app, e);
    for t in [TaskId::backup("values", 1), TaskId::verify("disks", 1)] {
        if t.kind == cutover::runner::TaskKind::Verify {
            ok_exit(&mut app, TaskId::backup("disks", 1));
        }
        ok_exit(&mut app, t);
    }
    select(&mut app, "upgrade");
    assert_eq!(status(&app, "upgrade"), "pending");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    // Stray keys, an Enter on an empty box, a terminal reply's bytes: nothing starts.
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    type_text(&mut app, "\x1b[12;5R");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(status(&app, "upgrade"), "pending");
    // Esc closes the box; typing the id into a fresh one starts it.
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Enter);
    type_text(&mut app, "upgrade");
    let e = key(&mut app, KeyCode::Enter);
    assert!(
        e.contains(&Effect::Spawn(TaskId::step("upgrade", 1))),
        "{e:?}"
    );
}

#[test]
fn cancel_asks_first_then_signals_the_running_tasks() {
    let mut app = app();
    select(&mut app, "prepare");
    let e = key(&mut app, KeyCode::Enter);
    save(&mut app, e);
    assert!(key(&mut app, KeyCode::Char('x')).is_empty());
    type_text(&mut app, "n");
    assert!(
        key(&mut app, KeyCode::Enter).is_empty(),
        "anything but y keeps it running"
    );
    key(&mut app, KeyCode::Char('x'));
    type_text(&mut app, "y");
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::Cancel(vec![TaskId::step("prepare", 1)])]
    );
}

#[test]
fn output_reports_fill_the_view_without_touching_the_journal() {
    use cutover::runner::sanitize::OutLine;
    let mut app = app();
    select(&mut app, "prepare");
    let e = key(&mut app, KeyCode::Enter);
    save(&mut app, e);
    let seq = app.run.last_seq;
    let line = |t: &str| OutLine {
        text: t.into(),
        styles: Vec::new(),
    };
    let effects = update(
        &mut app,
        Msg::Task(Report::Output {
            task: TaskId::step("prepare", 1),
            lines: vec![line("one"), line("two")],
            partial: Some(line("50%")),
            progress: None,
        }),
    );
    assert!(effects.is_empty());
    assert_eq!(app.run.last_seq, seq);
    let out = &app.view.outputs[&(cutover::runner::TaskKind::Step, "prepare".to_string())];
    assert_eq!(out.ring.len(), 3);
    assert_eq!(out.ring.get(2).map(|l| l.text.as_str()), Some("50%"));
    assert_eq!(app.shown_task(), Some(TaskId::step("prepare", 1)));
}

/// `prepare` done, the backup step started: both backups running.
fn backups_running() -> App {
    let mut app = app();
    select(&mut app, "prepare");
    let e = key(&mut app, KeyCode::Enter);
    save(&mut app, e);
    ok_exit(&mut app, TaskId::step("prepare", 1));
    select(&mut app, "backup");
    let e = key(&mut app, KeyCode::Enter);
    save(&mut app, e);
    app
}

#[test]
fn one_key_cannot_mark_unverified_backups_done() {
    let mut app = app();
    select(&mut app, "prepare");
    let e = key(&mut app, KeyCode::Enter);
    save(&mut app, e);
    ok_exit(&mut app, TaskId::step("prepare", 1));
    select(&mut app, "backup");
    assert!(key(&mut app, KeyCode::Char('d')).is_empty());
    match app.view.dialog.as_ref().map(|d| &d.purpose) {
        Some(Purpose::DoneAnyway { why, .. }) => {
            assert_eq!(why, "backups not verified: disks, values")
        }
        other => panic!("{other:?}"),
    }
    type_text(&mut app, "snapshots taken in the portal");
    let e = key(&mut app, KeyCode::Enter);
    assert_eq!(
        e,
        vec![Effect::Record(vec![
            Event::NoteAdded {
                step: "backup".into(),
                text: "marked done by hand: snapshots taken in the portal".into()
            },
            Event::StepDone {
                step: "backup".into()
            }
        ])]
    );
}

#[test]
fn an_interrupted_step_reopened_still_needs_its_typed_id_to_run() {
    let mut app = app();
    select(&mut app, "prepare");
    let e = key(&mut app, KeyCode::Enter);
    save(&mut app, e);
    report(
        &mut app,
        Report::Lost {
            task: TaskId::step("prepare", 1),
            why: "gone".into(),
        },
    );
    let e = key(&mut app, KeyCode::Char('u'));
    save(&mut app, e);
    assert_eq!(status(&app, "prepare"), "pending");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(matches!(
        app.view.dialog.as_ref().map(|d| &d.purpose),
        Some(Purpose::ConfirmStart { .. })
    ));
}

#[test]
fn a_lost_verify_fails_the_check_not_the_backup() {
    let mut app = backups_running();
    ok_exit(&mut app, TaskId::backup("values", 1));
    ok_exit(&mut app, TaskId::backup("disks", 1));
    report(
        &mut app,
        Report::Lost {
            task: TaskId::verify("disks", 1),
            why: "it was never started (no task files)".into(),
        },
    );
    let disks = app.run.backup("disks").unwrap();
    assert_eq!(disks.status.word(), "failed");
    assert_eq!(
        disks.history[0].exit,
        Some(0),
        "the backup's own exit is kept"
    );
    assert!(!disks.history[0].interrupted);
    // The step cannot know whether the check still runs: interrupted, not failed.
    assert_eq!(status(&app, "backup"), "interrupted");
    assert_eq!(
        app.run.backup("disks").unwrap().verify.as_deref(),
        Some("verify interrupted: it was never started (no task files)")
    );
}

#[test]
fn reconcile_finishes_a_backup_step_left_running_by_a_crash() {
    use cutover::app::update::reconcile;
    // All backups verified, but the screen died before the step's own finish was saved.
    let mut app = backups_running();
    for e in [
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
        Event::BackupFinished {
            backup: "disks".into(),
            attempt: 1,
            exit: Some(0),
            signal: None,
            timed_out: false,
            cancelled: false,
            detached: false,
            ended: None,
        },
        Event::BackupVerified {
            backup: "disks".into(),
            ok: true,
            detail: None,
            detached: false,
            ended: None,
        },
    ] {
        save(&mut app, vec![Effect::Record(vec![e])]);
    }
    assert_eq!(status(&app, "backup"), "running");
    let events = reconcile(&app);
    assert!(
        matches!(&events[..], [Event::StepFinished { step, exit: Some(0), .. }] if step == "backup"),
        "{events:?}"
    );

    // Only the step's start was saved: its backups never started.
    let mut app = self::app();
    save(
        &mut app,
        vec![Effect::Record(vec![Event::StepStarted {
            step: "backup".into(),
            attempt: 1,
        }])],
    );
    let events = reconcile(&app);
    assert_eq!(
        events,
        vec![Event::StepInterrupted {
            step: "backup".into(),
            attempt: 1
        }]
    );
    // While a backup is in flight there is nothing to reconcile.
    assert!(reconcile(&backups_running()).is_empty());
}

#[test]
fn a_finish_of_an_older_attempt_never_rewinds_a_newer_one() {
    let mut app = app();
    select(&mut app, "prepare");
    let e = key(&mut app, KeyCode::Enter);
    save(&mut app, e);
    report(
        &mut app,
        Report::Exited {
            task: TaskId::step("prepare", 1),
            exit: exit(Some(1), None),
            detached: false,
        },
    );
    let e = key(&mut app, KeyCode::Char('r'));
    save(&mut app, e);
    // A journal line finishing attempt 1 again (hand-edited, or replayed twice).
    save(
        &mut app,
        vec![Effect::Record(vec![Event::StepFinished {
            step: "prepare".into(),
            attempt: 1,
            exit: Some(0),
            signal: None,
            timed_out: false,
            cancelled: false,
            expect_matched: None,
            detached: false,
            detail: None,
            ended: None,
        }])],
    );
    assert_eq!(status(&app, "prepare"), "running");
}

#[test]
fn a_gate_override_does_not_skip_the_unverified_backup_question() {
    let mut app = app();
    // `prepare` not done, backups never taken.
    select(&mut app, "backup");
    key(&mut app, KeyCode::Char('d'));
    match app.view.dialog.as_ref().map(|d| &d.purpose) {
        Some(Purpose::DoneAnyway { why, .. }) => assert_eq!(
            why,
            "backups not verified: disks, values; it also needs prepare done first"
        ),
        other => panic!("{other:?}"),
    }
    type_text(&mut app, "taken by the storage team");
    let e = key(&mut app, KeyCode::Enter);
    let Effect::Record(events) = &e[0] else {
        panic!("{e:?}")
    };
    assert!(
        matches!(&events[0], Event::GateOverridden { .. }),
        "{events:?}"
    );
    assert!(
        matches!(&events[1], Event::NoteAdded { text, .. } if text.starts_with("marked done by hand"))
    );
    assert!(matches!(&events[2], Event::StepDone { .. }));
}

#[test]
fn reopening_a_failed_command_does_not_let_one_key_mark_it_done() {
    let mut app = app();
    select(&mut app, "prepare");
    let e = key(&mut app, KeyCode::Enter);
    save(&mut app, e);
    report(
        &mut app,
        Report::Exited {
            task: TaskId::step("prepare", 1),
            exit: exit(Some(2), None),
            detached: false,
        },
    );
    let e = key(&mut app, KeyCode::Char('u'));
    save(&mut app, e);
    assert_eq!(status(&app, "prepare"), "pending");
    assert!(key(&mut app, KeyCode::Char('d')).is_empty());
    assert!(matches!(
        app.view.dialog.as_ref().map(|d| &d.purpose),
        Some(Purpose::DoneAnyway { why, .. }) if why.contains("last run failed (exit 2)")
    ));
}

#[test]
fn after_a_lost_verify_taking_the_backup_again_needs_the_typed_id() {
    let mut app = backups_running();
    ok_exit(&mut app, TaskId::backup("values", 1));
    ok_exit(&mut app, TaskId::backup("disks", 1));
    report(
        &mut app,
        Report::Lost {
            task: TaskId::verify("disks", 1),
            why: "its supervisor is gone".into(),
        },
    );
    assert_eq!(status(&app, "backup"), "interrupted");
    assert!(key(&mut app, KeyCode::Char('r')).is_empty());
    assert!(matches!(
        app.view.dialog.as_ref().map(|d| &d.purpose),
        Some(Purpose::ConfirmStart { .. })
    ));
}
