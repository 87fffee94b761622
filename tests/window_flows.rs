//! The window and messages through the pure `update`: extending, rolling back, the
//! verdict turning on a tick, the message editor, sending and its outcome, and the
//! session finishing once its path is settled.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use cutover::app::view::{Pane, Purpose};
use cutover::app::{App, Effect, Msg, msg::Sent, update};
use cutover::message::send::SendOutcome;
use cutover::run::{StepStatus, Verdict};
use cutover::runbook::{Duration, Runbook};
use cutover::session::{Event, Outcome, Record, WindowSpec};
use jiff::Timestamp;

const RUNBOOK: &str = r#"
[runbook]
title = "flows"

[vars]
SERVICE = "Shop"

[window]
duration = "2h"
expected_downtime = "30m"

[message]
send = "mail -s \"$CUTOVER_SUBJECT\" ops@example.com"
update_every = "30m"

[message.during]
subject = "[In progress] {{ SERVICE }} update #{{ update_no }}"
body = """
Now: {{ current_step }}. Expected end {{ eta }}.
"""

[[phase]]
id = "p"
title = "Upgrade"

[[phase.step]]
id = "prepare"
title = "Prepare"
estimate = "10m"

[[phase.step]]
id = "tell"
title = "Tell stakeholders"
message = "during"

[[phase.step]]
id = "upgrade"
title = "Upgrade"
estimate = "50m"

[[phase]]
id = "rb"
title = "Roll back"
contingency = true

[[phase.step]]
id = "restore"
title = "Restore"
estimate = "40m"
"#;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn app() -> App {
    let rb = Runbook::parse("flows.toml", RUNBOOK).unwrap();
    let start = t("2026-11-28T21:00:00Z");
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
                end: t("2026-11-28T23:00:00Z"),
                timezone: "UTC".into(),
            },
            cutover_version: "test".into(),
            rehearsal: false,
        },
    };
    let mut app = App::new(rb, &[first], "op@host".into(), false, true);
    app.view.now = t("2026-11-28T21:05:00Z");
    app
}

fn press(app: &mut App, code: KeyCode, mods: KeyModifiers) -> Vec<Effect> {
    update(app, Msg::Key(KeyEvent::new(code, mods)))
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    press(app, code, KeyModifiers::NONE)
}

fn ctrl(app: &mut App, c: char) -> Vec<Effect> {
    press(app, KeyCode::Char(c), KeyModifiers::CONTROL)
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
    app.view.selected = app.run.steps.iter().position(|s| s.id == id).unwrap();
}

fn recorded(effects: &[Effect]) -> Vec<Event> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Record(ev) => Some(ev.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn extending_asks_how_long_then_why_and_moves_the_end() {
    let mut a = app();
    key(&mut a, KeyCode::Char('e'));
    assert!(matches!(
        a.view.dialog.as_ref().unwrap().purpose,
        Purpose::ExtendBy
    ));
    // A bare number is refused (minutes or seconds?) and the question stays open.
    type_text(&mut a, "30");
    let effects = key(&mut a, KeyCode::Enter);
    assert!(effects.is_empty());
    assert!(matches!(
        a.view.dialog.as_ref().unwrap().purpose,
        Purpose::ExtendBy
    ));
    assert!(a.view.flash.as_ref().unwrap().text.contains("no unit"));
    type_text(&mut a, "45m");
    key(&mut a, KeyCode::Enter);
    let Purpose::ExtendReason { by } = a.view.dialog.as_ref().unwrap().purpose.clone() else {
        panic!("expected the reason question");
    };
    assert_eq!(by, Duration::from_mins(45));
    type_text(&mut a, "data upgrade slower");
    let effects = key(&mut a, KeyCode::Enter);
    assert_eq!(
        recorded(&effects),
        vec![Event::WindowExtended {
            by: Duration::from_mins(45),
            reason: "data upgrade slower".into()
        }]
    );
    save(&mut a, effects);
    assert_eq!(a.run.window.end, t("2026-11-28T23:45:00Z"));
    assert_eq!(a.run.extensions.len(), 1);
}

#[test]
fn rollback_asks_why_and_leads_to_the_contingency_steps() {
    let mut a = app();
    key(&mut a, KeyCode::Char('R'));
    assert!(matches!(
        a.view.dialog.as_ref().unwrap().purpose,
        Purpose::Rollback
    ));
    type_text(&mut a, "pods crash-loop");
    let effects = key(&mut a, KeyCode::Enter);
    assert_eq!(
        recorded(&effects),
        vec![Event::RollbackStarted {
            reason: "pods crash-loop".into()
        }]
    );
    save(&mut a, effects);
    assert_eq!(a.run.steps[a.view.selected].id, "restore");
    assert_eq!(a.run.rollback_reason.as_deref(), Some("pods crash-loop"));
    // Once started, R says so instead of asking again.
    key(&mut a, KeyCode::Char('R'));
    assert!(a.view.dialog.is_none());
    assert!(a.view.flash.as_ref().unwrap().text.contains("started at"));
    // Finishing the rollback step finishes the session as rolled back.
    let effects = key(&mut a, KeyCode::Char('d'));
    save(&mut a, effects);
    let fin = cutover::app::window::completion(&a).expect("the rollback path is settled");
    assert_eq!(
        fin,
        Event::SessionFinished {
            outcome: Outcome::RolledBack
        }
    );
}

#[test]
fn a_turning_verdict_is_announced_once() {
    let mut a = app();
    update(&mut a, Msg::Tick);
    assert_eq!(a.view.verdict.map(|v| v.0), Some(Verdict::OnTrack));
    assert!(a.view.flash.is_none(), "on track at the start says nothing");
    // 60m of work left, reserve 40m: go/no-go is 22:20, so from 21:21 the finish
    // (now + 60m) passes it.
    a.view.now = t("2026-11-28T21:30:00Z");
    update(&mut a, Msg::Tick);
    assert_eq!(a.view.verdict.map(|v| v.0), Some(Verdict::AtRisk));
    let text = a.view.flash.clone().unwrap();
    assert!(text.warn);
    assert!(text.text.contains("AT RISK"), "{}", text.text);
    assert!(text.text.contains("22:20"), "{}", text.text);
    // The same verdict on the next tick does not repeat itself.
    a.view.flash = None;
    a.view.now = t("2026-11-28T21:30:01Z");
    update(&mut a, Msg::Tick);
    assert!(
        a.view
            .flash
            .as_ref()
            .is_none_or(|f| !f.text.contains("AT RISK"))
    );
    a.view.now = t("2026-11-28T22:21:00Z");
    update(&mut a, Msg::Tick);
    assert!(
        a.view
            .flash
            .as_ref()
            .unwrap()
            .text
            .contains("GO/NO-GO PASSED")
    );
}

#[test]
fn an_overdue_update_is_flagged_once() {
    let mut a = app();
    a.view.now = t("2026-11-28T21:10:00Z");
    update(&mut a, Msg::Tick);
    a.view.flash = None;
    // Due 30m after the window opened.
    a.view.now = t("2026-11-28T21:31:00Z");
    update(&mut a, Msg::Tick);
    let f = a.view.flash.clone().unwrap();
    // The verdict turned at the same moment; the next tick carries the update notice.
    if !f.text.contains("update was due") {
        a.view.flash = None;
        a.view.now = t("2026-11-28T21:31:01Z");
        update(&mut a, Msg::Tick);
    }
    let f = a.view.flash.clone().unwrap();
    assert!(f.text.contains("update was due at 21:30"), "{}", f.text);
    a.view.flash = None;
    a.view.now = t("2026-11-28T21:32:00Z");
    update(&mut a, Msg::Tick);
    assert!(a.view.flash.is_none());
}

#[test]
fn enter_on_a_message_step_opens_its_draft_in_the_editor() {
    let mut a = app();
    select(&mut a, "tell");
    key(&mut a, KeyCode::Enter);
    assert!(a.view.editing);
    assert_eq!(a.view.focus, Pane::Message);
    assert_eq!(a.view.message_phase.as_deref(), Some("during"));
    assert_eq!(a.view.message_step.as_deref(), Some("tell"));
    let d = &a.view.drafts["during"];
    assert!(
        d.text()
            .starts_with("Subject: [In progress] Shop update #1\n\nNow: Prepare."),
        "{:?}",
        d.text()
    );
    assert!(!d.edited());
    // Letters type into the editor (the body, where the cursor starts): `d` here is
    // text, not "mark done".
    type_text(&mut a, "Hi ");
    assert!(a.view.drafts["during"].edited());
    assert_eq!(a.run.step("tell").unwrap().status, StepStatus::Pending);
    // ctrl-s asks the runtime to save exactly the editor's text.
    let effects = ctrl(&mut a, 's');
    assert_eq!(
        effects,
        vec![Effect::SaveMessage {
            phase: "during".into(),
            text: a.view.drafts["during"].text()
        }]
    );
    // ctrl-y copies it.
    let effects = ctrl(&mut a, 'y');
    assert!(
        matches!(&effects[..], [Effect::Copy(t)] if t.starts_with("Subject: [In progress]") && t.contains("\n\nHi Now: Prepare.")),
        "{effects:?}"
    );
}

#[test]
fn redrafting_never_drops_edits_silently() {
    let mut a = app();
    key(&mut a, KeyCode::Char('m'));
    type_text(&mut a, "EDIT");
    ctrl(&mut a, 'r');
    // Typing lands in the body, where the cursor starts.
    let edited = |a: &App, s: &str| {
        a.view.drafts["during"]
            .text()
            .contains(&format!("\n\n{s}Now:"))
    };
    assert!(edited(&a, "EDIT"), "first ctrl-r only warns");
    assert!(a.view.flash.as_ref().unwrap().warn);
    ctrl(&mut a, 'r');
    assert!(edited(&a, ""), "the second one drafts afresh");
    // Any key in between disarms it again.
    type_text(&mut a, "X");
    ctrl(&mut a, 'r');
    assert!(edited(&a, "X"));
}

#[test]
fn leaving_keeps_an_edited_draft_and_drops_an_untouched_one() {
    let mut a = app();
    key(&mut a, KeyCode::Char('m'));
    ctrl(&mut a, 'g');
    assert!(!a.view.editing);
    assert!(
        !a.view.drafts.contains_key("during"),
        "untouched: back to live"
    );
    key(&mut a, KeyCode::Char('m'));
    type_text(&mut a, "kept");
    ctrl(&mut a, 'g');
    assert!(a.view.drafts["during"].text().contains("\n\nkeptNow:"));
}

fn send_flow(a: &mut App) -> (Option<String>, String, String) {
    select(a, "tell");
    key(a, KeyCode::Enter);
    // The cursor starts on the body's first line, past the subject and the blank line.
    type_text(a, "Note: ");
    ctrl(a, 'g');
    key(a, KeyCode::Char('S'));
    let Purpose::Send {
        step,
        subject,
        body,
        ..
    } = a.view.dialog.as_ref().unwrap().purpose.clone()
    else {
        panic!("S asks first");
    };
    type_text(a, "y");
    let effects = key(a, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![Effect::SendMessage {
            phase: "during".into(),
            step: step.clone(),
            subject: subject.clone(),
            body: body.clone()
        }]
    );
    assert_eq!(a.view.sending.as_deref(), Some("during"));
    (step, subject, body)
}

#[test]
fn a_failed_send_is_journaled_as_failed_and_keeps_the_draft() {
    let mut a = app();
    let (step, subject, body) = send_flow(&mut a);
    assert_eq!(step.as_deref(), Some("tell"));
    assert_eq!(subject, "[In progress] Shop update #1");
    assert!(body.starts_with("Note: Now: Prepare."), "{body:?}");
    let draft_before = a.view.drafts["during"].text();
    let effects = update(
        &mut a,
        Msg::Sent(Sent {
            phase: "during".into(),
            step: step.clone(),
            file: "001-during.txt".into(),
            subject: subject.clone(),
            body: body.clone(),
            outcome: SendOutcome {
                ok: false,
                exit: Some(2),
                detail: Some("exit 2: relay down".into()),
            },
        }),
    );
    assert_eq!(
        recorded(&effects),
        vec![Event::MessageSent {
            phase: "during".into(),
            file: "001-during.txt".into(),
            exit: Some(2),
            ok: false,
            step: Some("tell".into()),
            subject: subject.clone(),
            body: body.clone(),
            detail: Some("exit 2: relay down".into()),
            by_hand: false,
        }]
    );
    save(&mut a, effects);
    let f = a.view.flash.clone().unwrap();
    assert!(f.warn && f.text.contains("NOT sent") && f.text.contains("relay down"));
    assert_eq!(
        a.view.drafts["during"].text(),
        draft_before,
        "the draft is kept"
    );
    assert_eq!(a.view.sending, None);
    assert_eq!(a.run.step("tell").unwrap().status, StepStatus::Pending);
    assert_eq!(a.run.messages_sent, 0);
    assert!(!a.run.messages[0].ok);
    assert_eq!(a.run.messages[0].body, body);
}

#[test]
fn a_sent_message_completes_its_step_and_resets_the_cadence() {
    let mut a = app();
    let (step, subject, body) = send_flow(&mut a);
    a.view.now = t("2026-11-28T21:20:00Z");
    let effects = update(
        &mut a,
        Msg::Sent(Sent {
            phase: "during".into(),
            step,
            file: "001-during.txt".into(),
            subject,
            body,
            outcome: SendOutcome {
                ok: true,
                exit: Some(0),
                detail: None,
            },
        }),
    );
    let events = recorded(&effects);
    assert!(
        matches!(&events[..], [Event::MessageSent { ok: true, .. }, Event::StepDone { step }] if step == "tell")
    );
    save(&mut a, effects);
    assert_eq!(a.run.step("tell").unwrap().status, StepStatus::Done);
    assert!(
        !a.view.drafts.contains_key("during"),
        "the next draft is fresh"
    );
    let ws = cutover::run::window::status(&a.runbook, &a.run, a.view.now);
    assert_eq!(ws.next_update.unwrap().due, t("2026-11-28T21:50:00Z"));
    // The next draft is update #2.
    key(&mut a, KeyCode::Char('m'));
    assert!(a.view.drafts["during"].text().contains("update #2"));
}

#[test]
fn send_is_refused_without_a_send_command_and_d_marks_sent_by_hand() {
    let src = RUNBOOK.replace(
        "send = \"mail -s \\\"$CUTOVER_SUBJECT\\\" ops@example.com\"\n",
        "",
    );
    assert!(!src.contains("send = "));
    let rb = Runbook::parse("flows.toml", &src).unwrap();
    let mut a = app();
    a.runbook = rb;
    select(&mut a, "tell");
    key(&mut a, KeyCode::Char('S'));
    assert!(a.view.dialog.is_none());
    assert!(
        a.view
            .flash
            .as_ref()
            .unwrap()
            .text
            .contains("no message.send")
    );
    let effects = key(&mut a, KeyCode::Char('d'));
    let events = recorded(&effects);
    assert!(matches!(
        &events[..],
        [
            Event::MessageSent {
                by_hand: true,
                ok: true,
                ..
            },
            Event::StepDone { .. }
        ]
    ));
}

#[test]
fn the_timeline_takes_only_its_own_keys() {
    let mut a = app();
    key(&mut a, KeyCode::Char('t'));
    assert!(a.view.timeline);
    assert!(
        key(&mut a, KeyCode::Char('d')).is_empty(),
        "no step is marked from the timeline"
    );
    assert_eq!(a.run.step("prepare").unwrap().status, StepStatus::Pending);
    key(&mut a, KeyCode::Char('j'));
    assert_eq!(a.view.timeline_scroll, 1);
    key(&mut a, KeyCode::Char('t'));
    assert!(!a.view.timeline);
}

#[test]
fn the_session_completes_when_the_happy_path_is_settled() {
    let mut a = app();
    select(&mut a, "prepare");
    let e = key(&mut a, KeyCode::Char('d'));
    save(&mut a, e);
    assert!(cutover::app::window::completion(&a).is_none());
    select(&mut a, "tell");
    let e = key(&mut a, KeyCode::Char('d'));
    save(&mut a, e);
    select(&mut a, "upgrade");
    let e = key(&mut a, KeyCode::Char('d'));
    save(&mut a, e);
    assert_eq!(
        cutover::app::window::completion(&a),
        Some(Event::SessionFinished {
            outcome: Outcome::Completed
        })
    );
    // Once finished, the moment calls for the "after" message.
    let e = vec![Effect::Record(vec![
        cutover::app::window::completion(&a).unwrap(),
    ])];
    save(&mut a, e);
    assert_eq!(
        cutover::message::phase_now(&a.runbook, &a.run, a.view.now),
        "after"
    );
    assert!(cutover::app::window::completion(&a).is_none());
}

#[test]
fn a_failed_step_marked_on_failure_rollback_offers_the_rollback() {
    let src = RUNBOOK.replace(
        "[[phase]]\nid = \"rb\"",
        "[[phase.step]]\nid = \"migrate\"\ntitle = \"Migrate\"\nrun = \"migrate\"\non_failure = \"rollback\"\n\n[[phase]]\nid = \"rb\"",
    );
    let rb = Runbook::parse("flows.toml", &src).unwrap();
    let start = Record {
        seq: 1,
        at: t("2026-11-28T21:00:00Z"),
        by: "op@host".into(),
        event: Event::SessionStarted {
            session: "s".into(),
            runbook_path: "/x/flows.toml".into(),
            runbook_sha256: rb.sha256.clone(),
            vars: rb.resolve_vars(&[]).unwrap(),
            window: WindowSpec {
                start: t("2026-11-28T21:00:00Z"),
                end: t("2026-11-28T23:00:00Z"),
                timezone: "UTC".into(),
            },
            cutover_version: "test".into(),
            rehearsal: false,
        },
    };
    let mut a = App::new(rb, &[start], "op@host".into(), false, true);
    a.view.now = t("2026-11-28T21:05:00Z");
    select(&mut a, "migrate");
    let e = key(&mut a, KeyCode::Enter);
    save(&mut a, e);
    let task = cutover::runner::TaskId::step("migrate", 1);
    let exit = cutover::runner::ExitRecord {
        exit: Some(1),
        signal: None,
        timed_out: false,
        cancelled: false,
        expect_matched: None,
        started: t("2026-11-28T21:06:00Z"),
        ended: t("2026-11-28T21:07:00Z"),
        error: None,
    };
    let e = update(
        &mut a,
        Msg::Task(cutover::runner::watch::Report::Exited {
            task,
            exit,
            detached: false,
        }),
    );
    save(&mut a, e);
    let f = a.view.flash.clone().unwrap();
    assert!(
        f.warn && f.text.contains("R starts the rollback"),
        "{}",
        f.text
    );
    assert_eq!(a.run.step("migrate").unwrap().status, StepStatus::Failed);
    // Nothing was started by it: rolling back is the operator's call.
    assert!(a.run.rollback_started.is_none());
}
