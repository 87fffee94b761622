//! Templates against the live context (src/run/context.rs): every live variable is there
//! and renders at every point of a night, the values agree with the window model, and an
//! undefined name makes `cutover validate` fail pointing at it.
//!
//! Positions of undefined names are also checked at the library level, per fixture, by
//! tests/validate_fixtures.rs (`invalid/template-undefined.toml`: a step detail, a
//! multi-line `[message.during]` body, ...). What is new here is the real binary: its exit
//! code and the rendered file:line:col with the caret, including a column counted in
//! characters after non-ASCII text.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use cutover::run::RunState;
use cutover::run::context::{completed_at, context, local_time};
use cutover::run::window;
use cutover::runbook::Runbook;
use cutover::runbook::template::{LIVE_VARIABLES, TemplateError, render};
use cutover::session::{Event, Outcome, Record, WindowSpec};
use jiff::Timestamp;

/// Happy path: announce 5m, stop 20m (downtime starts), migrate 1h, start 10m (downtime
/// ends), tell 5m (the "after" message): 1h40m. Rollback: restore 50m, confirm 10m.
const RUNBOOK: &str = r#"
[runbook]
title = "Shop upgrade"
summary = "Upgrade {{ SERVICE }} to {{ TO_VERSION }}"

[vars]
SERVICE = "Shop"
TO_VERSION = "2026.01.00"

[window]
start = "2026-11-28T22:00:00+01:00"
duration = "4h"
timezone = "Europe/Amsterdam"
expected_downtime = "45m"

[message]
update_every = "30m"

[[phase]]
id = "execute"
title = "Execute"

[[phase.step]]
id = "announce"
title = "Announce the start"
estimate = "5m"

[[phase.step]]
id = "stop"
title = "Stop the shop"
run = "true"
estimate = "20m"
downtime = "start"

[[phase.step]]
id = "migrate"
title = "Migrate the database"
run = "true"
estimate = "1h"
on_failure = "rollback"

[[phase.step]]
id = "start"
title = "Start the shop"
run = "true"
estimate = "10m"
downtime = "end"

[[phase.step]]
id = "tell"
title = "Tell stakeholders it is over"
message = "after"
estimate = "5m"

[[phase]]
id = "rollback"
title = "Roll back"
contingency = true

[[phase.step]]
id = "restore"
title = "Restore the database"
run = "true"
estimate = "50m"

[[phase.step]]
id = "confirm"
title = "Confirm the old version works"
estimate = "10m"
"#;

const TZ: &str = "Europe/Amsterdam";
const OPERATOR: &str = "alice@bastion";

fn runbook() -> Runbook {
    Runbook::parse("shop.toml", RUNBOOK).unwrap_or_else(|e| panic!("{}", e.render()))
}

/// `HH:MM` on the night of the window (CET, 22:00 on 2026-11-28 to 02:00).
fn t(hm: &str) -> Timestamp {
    let hour: u32 = hm[..2].parse().unwrap();
    let day = if hour >= 12 {
        "2026-11-28"
    } else {
        "2026-11-29"
    };
    format!("{day}T{hm}:00+01:00").parse().unwrap()
}

fn started(step: &str) -> Event {
    Event::StepStarted {
        step: step.into(),
        attempt: 1,
    }
}

fn exited(step: &str, code: i32) -> Event {
    Event::StepFinished {
        step: step.into(),
        attempt: 1,
        exit: Some(code),
        signal: None,
        timed_out: false,
        cancelled: false,
        expect_matched: None,
        detached: false,
        detail: None,
        ended: None,
    }
}

fn done(step: &str) -> Event {
    Event::StepDone { step: step.into() }
}

fn sent(phase: &str, ok: bool, by_hand: bool) -> Event {
    Event::MessageSent {
        phase: phase.into(),
        file: String::new(),
        exit: if by_hand { None } else { Some(i32::from(!ok)) },
        ok,
        step: None,
        subject: "s".into(),
        body: "b".into(),
        detail: None,
        by_hand,
    }
}

/// Replays `events` after a `session_started` at 20:00 for the night's window, with
/// `TO_VERSION` overridden on the command line.
fn session(rb: &Runbook, events: &[(&str, Event)]) -> RunState {
    let vars = rb
        .resolve_vars(&[("TO_VERSION".into(), "2026.02.00".into())])
        .unwrap();
    let mut records = vec![Record {
        seq: 1,
        at: t("20:00"),
        by: OPERATOR.into(),
        event: Event::SessionStarted {
            session: "2026-11-28-shop".into(),
            runbook_path: "shop.toml".into(),
            runbook_sha256: rb.sha256.clone(),
            vars,
            window: WindowSpec {
                start: t("22:00"),
                end: t("02:00"),
                timezone: TZ.into(),
            },
            cutover_version: "test".into(),
            rehearsal: false,
        },
    }];
    for (at, event) in events {
        records.push(Record {
            seq: records.len() as u64 + 1,
            at: t(at),
            by: OPERATOR.into(),
            event: event.clone(),
        });
    }
    let run = RunState::replay(rb, &records);
    assert_eq!(run.unknown_refs, 0);
    run
}

fn night_so_far() -> Vec<(&'static str, Event)> {
    vec![
        ("22:05", done("announce")),
        ("22:10", started("stop")),
        ("22:30", exited("stop", 0)),
        ("22:30", started("migrate")),
        ("22:30", sent("during", true, false)),
        ("22:45", sent("during", false, false)),
        ("22:50", sent("during", true, true)),
        ("22:55", sent("before", true, false)),
    ]
}

/// A moment of the night: its name, the events so far (at local times), and `now`.
type Moment = (&'static str, Vec<(&'static str, Event)>, &'static str);

/// Four moments of a night: before the window, during it, after it, and a rollback.
fn moments() -> Vec<Moment> {
    let during = night_so_far();
    let mut after = night_so_far();
    after.extend([
        ("23:30", exited("migrate", 0)),
        ("23:30", started("start")),
        ("23:40", exited("start", 0)),
        ("23:45", done("tell")),
        (
            "23:50",
            Event::SessionFinished {
                outcome: Outcome::Completed,
            },
        ),
    ]);
    let mut rollback = night_so_far();
    rollback.extend([
        ("23:00", exited("migrate", 1)),
        (
            "23:05",
            Event::RollbackStarted {
                reason: "migration failed".into(),
            },
        ),
        ("23:05", started("restore")),
    ]);
    vec![
        ("before", vec![], "21:00"),
        ("during", during, "23:00"),
        ("after", after, "00:30"),
        ("rollback", rollback, "23:20"),
    ]
}

#[test]
fn every_live_variable_is_in_the_context_and_renders_at_every_moment() {
    let rb = runbook();
    for (moment, events, now) in moments() {
        let run = session(&rb, &events);
        let ctx = context(&rb, &run, t(now), OPERATOR);
        for name in LIVE_VARIABLES {
            let value = ctx
                .get(*name)
                .unwrap_or_else(|| panic!("{moment}: `{name}` is not in the context"));
            assert!(!value.trim().is_empty(), "{moment}: `{name}` is empty");
            let shown = render(&format!("{{{{ {name} }}}}"), &ctx)
                .unwrap_or_else(|e| panic!("{moment}: {{{{ {name} }}}} does not render: {e}"));
            assert_eq!(&shown, value, "{moment}: {name}");
        }
        // The runbook's variables ride along, the session's value winning.
        assert_eq!(ctx["SERVICE"], "Shop", "{moment}");
        assert_eq!(ctx["TO_VERSION"], "2026.02.00", "{moment}");
        // Nothing else sneaks in: runbook variables and live ones only.
        let mut extra: Vec<&String> = ctx
            .keys()
            .filter(|k| !LIVE_VARIABLES.contains(&k.as_str()))
            .filter(|k| !rb.file.vars.contains_key(*k))
            .collect();
        extra.sort();
        assert!(extra.is_empty(), "{moment}: unexpected names {extra:?}");
        // Every built-in message renders with this context in strict mode.
        for phase in cutover::runbook::template::MESSAGE_PHASES {
            let (subject, body) = cutover::runbook::template::default_message(phase).unwrap();
            for text in [subject, body] {
                render(&text, &ctx).unwrap_or_else(|e| panic!("{moment}/{phase}: {e}"));
            }
        }
    }
}

/// The context at each moment, field by field. Strings are what stakeholders read.
#[test]
fn context_values_of_a_scripted_night() {
    let rb = runbook();
    let want: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::from([
        (
            "before",
            vec![
                ("eta", "2026-11-28 23:40 CET"),
                ("projected_finish", "2026-11-28 23:40 CET"),
                ("now", "2026-11-28 21:00 CET"),
                ("current_step", "Announce the start"),
                ("current_status", "scheduled"),
                ("steps_done", "0"),
                ("steps_total", "5"),
                ("actual_downtime", "0s"),
                // Not completed: the clock's `now`.
                ("completed_at", "2026-11-28 21:00 CET"),
                ("next_update_at", "2026-11-28 21:30 CET"),
                ("update_no", "1"),
            ],
        ),
        (
            "during",
            vec![
                // migrate 30m into 1h (30m left) + start 10m + tell 5m from 23:00
                ("eta", "2026-11-28 23:45 CET"),
                ("projected_finish", "2026-11-28 23:45 CET"),
                ("now", "2026-11-28 23:00 CET"),
                ("current_step", "Migrate the database"),
                ("current_status", "on schedule"),
                ("steps_done", "2"),
                ("steps_total", "5"),
                ("actual_downtime", "50m"),
                ("completed_at", "2026-11-28 23:00 CET"),
                // The update being written resets the cadence.
                ("next_update_at", "2026-11-28 23:30 CET"),
                // Two `during` updates went out (one by hand); the failed one and the
                // `before` message do not count.
                ("update_no", "3"),
            ],
        ),
        (
            "after",
            vec![
                // Over: when the last step of the work settled (the "after" message step
                // aside), not when the session was closed or the moment of reading.
                ("eta", "2026-11-28 23:40 CET"),
                ("projected_finish", "2026-11-28 23:40 CET"),
                ("now", "2026-11-29 00:30 CET"),
                ("current_step", "all steps settled"),
                ("current_status", "completed"),
                ("steps_done", "5"),
                ("steps_total", "5"),
                ("actual_downtime", "1h30m"),
                ("completed_at", "2026-11-28 23:40 CET"),
                ("next_update_at", "2026-11-29 01:00 CET"),
                ("update_no", "3"),
            ],
        ),
        (
            "rollback",
            vec![
                // restore 15m into 50m + confirm 10m from 23:20
                ("eta", "2026-11-29 00:05 CET"),
                ("projected_finish", "2026-11-29 00:05 CET"),
                ("now", "2026-11-28 23:20 CET"),
                ("current_step", "Restore the database"),
                ("current_status", "rolling back"),
                // Progress along the rollback's own steps: restore runs, confirm waits.
                ("steps_done", "0"),
                ("steps_total", "2"),
                ("actual_downtime", "1h10m"),
                ("completed_at", "2026-11-28 23:20 CET"),
                ("next_update_at", "2026-11-28 23:50 CET"),
                ("update_no", "3"),
            ],
        ),
    ]);
    for (moment, events, now) in moments() {
        let run = session(&rb, &events);
        let now = t(now);
        let ctx = context(&rb, &run, now, OPERATOR);
        let ws = window::status(&rb, &run, now);
        // Fixed for the whole night.
        let fixed = [
            ("title", "Shop upgrade"),
            ("window_start", "2026-11-28 22:00 CET"),
            ("window_end", "2026-11-29 02:00 CET"),
            ("window_start_utc", "2026-11-28 21:00 UTC"),
            ("window_end_utc", "2026-11-29 01:00 UTC"),
            ("timezone", TZ),
            ("expected_downtime", "45m"),
            ("rollback_deadline", "2026-11-29 01:00 CET"),
            ("operator", OPERATOR),
            ("session", "2026-11-28-shop"),
        ];
        for (name, value) in fixed.iter().chain(&want[moment]) {
            assert_eq!(ctx[*name], *value, "{moment}: {name}");
        }
        // The same numbers as the window model.
        assert_eq!(ctx["eta"], local_time(ws.projected_finish, TZ), "{moment}");
        assert_eq!(ctx["projected_finish"], ctx["eta"], "{moment}");
        assert_eq!(
            ctx["rollback_deadline"],
            local_time(ws.go_no_go, TZ),
            "{moment}"
        );
        assert_eq!(
            ctx["actual_downtime"],
            ws.downtime.elapsed.to_string(),
            "{moment}"
        );
        let during_ok = run
            .messages
            .iter()
            .filter(|m| m.ok && m.phase == "during")
            .count();
        assert_eq!(ctx["update_no"], (during_ok + 1).to_string(), "{moment}");
    }
}

#[test]
fn completed_at_is_the_work_not_the_message_about_it() {
    let rb = runbook();
    let mut events = night_so_far();
    events.extend([
        ("23:30", exited("migrate", 0)),
        ("23:30", started("start")),
        ("23:40", exited("start", 0)),
    ]);
    // The "after" message is being written: its own step is not done, yet the work is.
    let run = session(&rb, &events);
    assert_eq!(completed_at(&rb, &run), Some(t("23:40")));
    let ctx = context(&rb, &run, t("23:50"), OPERATOR);
    assert_eq!(ctx["completed_at"], "2026-11-28 23:40 CET");
    assert_eq!(ctx["actual_downtime"], "1h30m");
    // Not before every forward step settled.
    let run = session(&rb, &night_so_far());
    assert_eq!(completed_at(&rb, &run), None);
}

#[test]
fn rendering_a_message_with_the_live_context() {
    let rb = runbook();
    let run = session(&rb, &moments()[1].1);
    let ctx = context(&rb, &run, t("23:00"), OPERATOR);
    let text = "Update #{{ update_no }} on {{ SERVICE }} {{ TO_VERSION }}: \
                {{ current_step }}, {{ steps_done }}/{{ steps_total }}, back by {{ eta }} \
                (go/no-go {{ rollback_deadline }}); next update {{ next_update_at }}.";
    assert_eq!(
        render(text, &ctx).unwrap(),
        "Update #3 on Shop 2026.02.00: Migrate the database, 2/5, back by \
         2026-11-28 23:45 CET (go/no-go 2026-11-29 01:00 CET); next update \
         2026-11-28 23:30 CET."
    );
    // Strict: a misspelt live name is refused at render time too.
    let err = render("back by {{ etaa }}", &ctx).unwrap_err();
    assert!(
        matches!(&err, TemplateError::Undefined { expr, range: Some(r) } if expr == "etaa" && *r == (11..15)),
        "{err:?}"
    );
}

#[test]
fn validate_points_at_undefined_template_variables() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates/undefined-vars.toml");
    let shown = path.display().to_string();
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("validate")
        .arg(&path)
        .env("CUTOVER_HOME", home.path())
        .env_remove("NO_COLOR")
        .output()
        .expect("run cutover validate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // What the caret line under a culprit at `col`, `width` characters wide, looks like.
    let caret =
        |col: usize, width: usize| format!("   | {}{}\n", " ".repeat(col - 1), "^".repeat(width));
    // In `[message.during].body`, a multi-line basic string: its third line, indented.
    let during = format!(
        "error: [message.during] body uses `next_update`, which is not defined\n  \
         --> {shown}:23:49\n   \
         |\n\
         23 |     Expected back: {{{{ eta }}}}, next update by {{{{ next_update }}}}.\n\
         {}   \
         = help: did you mean `next_update_at`?\n",
        caret(49, "next_update".len())
    );
    // In a step `detail`, after non-ASCII text: the column counts characters.
    let detail = format!(
        "error: step `upgrade` detail uses `NAMESPACE`, which is not defined\n  \
         --> {shown}:33:50\n   \
         |\n\
         33 | detail = \"Café « {{{{ SERVICE }}}} » in namespace {{{{ NAMESPACE }}}}, by {{{{ operator }}}}\"\n\
         {}",
        caret(50, "NAMESPACE".len())
    );
    for block in [&during, &detail] {
        assert!(
            stdout.contains(block.as_str()),
            "expected\n{block}\nin the output:\n{stdout}"
        );
    }
    assert!(
        stdout.ends_with(&format!("{shown}: 2 errors\n")),
        "exactly the two errors and no warning:\n{stdout}"
    );
    assert!(stderr.contains("validation failed"), "{stderr}");

    // The same names in the template text, through the library: the line and column
    // are where the caret is drawn (and where the culprit sits in the source).
    let source = std::fs::read_to_string(&path).unwrap();
    let found = cutover::runbook::validate::validate(&source);
    let at: Vec<_> = found
        .iter()
        .map(|d| {
            (
                d.position(&source).unwrap(),
                &source[d.span.clone().unwrap()],
            )
        })
        .collect();
    assert_eq!(at, [((23, 49), "next_update"), ((33, 50), "NAMESPACE")]);
}
