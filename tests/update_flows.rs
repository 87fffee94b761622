//! Operator flows through the pure `update`: what each key asks to record.

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use cutover::app::view::Purpose;
use cutover::app::{App, Effect, Msg, update};
use cutover::runbook::Runbook;
use cutover::session::{Event, Record, WindowSpec};
use jiff::Timestamp;

fn runbook() -> Runbook {
    Runbook::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ui/upgrade.toml"))
        .unwrap()
}

fn app() -> App {
    let rb = runbook();
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
    App::new(rb, &[first], "op@host".into(), false, true)
}

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

/// Records what `update` asked for, as the runtime would after saving.
fn save(app: &mut App, effects: Vec<Effect>) {
    for e in effects {
        if let Effect::Record(events) = e {
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
    }
}

fn select(app: &mut App, id: &str) {
    app.view.selected = app.run.steps.iter().position(|s| s.id == id).unwrap();
}

#[test]
fn a_blocked_step_asks_for_a_reason_and_records_the_override() {
    let mut app = app();
    select(&mut app, "helm-upgrade");
    assert!(press(&mut app, KeyCode::Char('d')).is_empty());
    match &app.view.dialog.as_ref().unwrap().purpose {
        Purpose::Override { unmet, .. } => assert_eq!(unmet, &["backup", "announce"]),
        other => panic!("wrong dialog {other:?}"),
    }
    type_text(&mut app, "backup taken by the storage team");
    let effects = press(&mut app, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![Effect::Record(vec![
            Event::GateOverridden {
                step: "helm-upgrade".into(),
                unmet: vec!["backup".into(), "announce".into()],
                reason: "backup taken by the storage team".into(),
            },
            Event::StepDone {
                step: "helm-upgrade".into()
            },
        ])]
    );
}

#[test]
fn skipping_a_blocked_step_does_not_open_its_gate() {
    let mut app = app();
    select(&mut app, "helm-upgrade");
    press(&mut app, KeyCode::Char('s'));
    type_text(&mut app, "later");
    let fx = press(&mut app, KeyCode::Enter);
    save(&mut app, fx);
    select(&mut app, "helm-upgrade");
    let fx = press(&mut app, KeyCode::Char('d'));
    assert!(fx.is_empty(), "done past a gate without a reason: {fx:?}");
    assert!(matches!(
        app.view.dialog.as_ref().map(|d| &d.purpose),
        Some(Purpose::Override { .. })
    ));
}

#[test]
fn a_step_that_needs_a_note_asks_for_it_before_done() {
    let mut app = app();
    // Open the verify step's gate first.
    for id in ["backup", "announce", "helm-upgrade"] {
        select(&mut app, id);
        save(
            &mut app,
            vec![Effect::Record(vec![Event::StepDone { step: id.into() }])],
        );
    }
    select(&mut app, "verify");
    assert!(press(&mut app, KeyCode::Char('d')).is_empty());
    type_text(&mut app, "all pods ready");
    let fx = press(&mut app, KeyCode::Enter);
    assert_eq!(
        fx,
        vec![Effect::Record(vec![
            Event::NoteAdded {
                step: "verify".into(),
                text: "all pods ready".into()
            },
            Event::StepDone {
                step: "verify".into()
            },
        ])]
    );
}

#[test]
fn an_empty_reason_is_refused_and_the_dialog_stays() {
    let mut app = app();
    press(&mut app, KeyCode::Char('s'));
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(app.view.dialog.is_some());
    assert!(app.view.flash.as_ref().unwrap().warn);
}

#[test]
fn a_var_override_must_follow_the_version_scheme() {
    let rb = runbook();
    let err = rb
        .resolve_vars(&[("TO_VERSION".into(), "banana".into())])
        .unwrap_err();
    assert!(err.contains("version_scheme"), "{err}");
    assert!(
        rb.resolve_vars(&[("TO_VERSION".into(), "2026.01.00".into())])
            .is_ok()
    );
    assert!(
        rb.resolve_vars(&[("NOPE".into(), "x".into())])
            .unwrap_err()
            .contains("NOPE")
    );
}
