//! The window model (src/run/window.rs) against a fixed clock: table tests of the window
//! arithmetic, one journal per case folded by the real `RunState::replay`, and the local
//! display of window times across the daylight-saving changes of the display zone.
//!
//! The runbook is small and its numbers round, so every expected value can be worked out
//! by hand. Times in the table written `HH:MM` are wall-clock times in Europe/Amsterdam on
//! the night of the window (22:00 on 2026-11-28 to 02:00 the next day, CET, +01:00); any
//! other time is a full RFC 3339 timestamp.

use cutover::cmd::start::resolve_window;
use cutover::run::RunState;
use cutover::run::context::{format_in, local_time, utc_time};
use cutover::run::plan::WindowPhase;
use cutover::run::window::{self, Verdict};
use cutover::runbook::{Duration, Runbook};
use cutover::session::{Event, Outcome, Record, WindowSpec};
use jiff::Timestamp;

/// Happy path: announce 5m + stop 20m + migrate 60m + start 10m + smoke (no estimate)
/// + tell 5m = 1h40m. Contingency: restore 50m + confirm 10m = 1h (the summed reserve).
const RUNBOOK: &str = r#"
[runbook]
title = "Window model"

[vars]
SERVICE = "Shop"

[window]
start = "2026-11-28T22:00:00+01:00"
duration = "4h"
timezone = "Europe/Amsterdam"
expected_downtime = "45m"

[message]
update_every = "30m"

[[phase]]
id = "prepare"
title = "Prepare"

[[phase.step]]
id = "announce"
title = "Announce"
estimate = "5m"

[[phase]]
id = "execute"
title = "Execute"

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
id = "smoke"
title = "Smoke test by hand"

[[phase.step]]
id = "tell"
title = "Tell stakeholders"
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Book {
    /// The runbook above: reserve summed from the contingency phase (1h).
    Summed,
    /// `rollback_reserve = "90m"` declared.
    Declared,
    /// No `update_every`.
    NoCadence,
}

fn runbook(book: Book) -> Runbook {
    let source = match book {
        Book::Summed => RUNBOOK.to_string(),
        Book::Declared => RUNBOOK.replace(
            "expected_downtime = \"45m\"\n",
            "expected_downtime = \"45m\"\nrollback_reserve = \"90m\"\n",
        ),
        Book::NoCadence => RUNBOOK.replace("update_every = \"30m\"\n", ""),
    };
    if book != Book::Summed {
        assert_ne!(source, RUNBOOK, "{book:?}: the variant changed nothing");
    }
    let rb = Runbook::parse("window-model.toml", &source)
        .unwrap_or_else(|e| panic!("{book:?} does not parse:\n{}", e.render()));
    // The only warning is the step without an estimate (on purpose).
    let warnings: Vec<_> = rb.warnings.iter().map(|d| d.message.clone()).collect();
    assert_eq!(warnings.len(), 1, "{book:?}: {warnings:?}");
    assert!(warnings[0].contains("smoke"), "{warnings:?}");
    rb
}

/// `HH:MM` on the night of the window (CET), else an RFC 3339 timestamp.
fn t(text: &str) -> Timestamp {
    if text.len() == 5 && text.as_bytes()[2] == b':' {
        let hour: u32 = text[..2].parse().unwrap();
        let day = if hour >= 12 {
            "2026-11-28"
        } else {
            "2026-11-29"
        };
        return format!("{day}T{text}:00+01:00").parse().unwrap();
    }
    text.parse()
        .unwrap_or_else(|e| panic!("bad time {text:?}: {e}"))
}

fn d(text: &str) -> Duration {
    Duration::parse(text).unwrap()
}

fn before(text: &str) -> WindowPhase {
    WindowPhase::Before(d(text).signed())
}

fn inside(text: &str) -> WindowPhase {
    WindowPhase::Inside(d(text).signed())
}

fn overrun(text: &str) -> WindowPhase {
    WindowPhase::Overrun(d(text).signed())
}

/// The window of the night: 22:00 to 02:00 CET.
fn night() -> WindowSpec {
    WindowSpec {
        start: t("22:00"),
        end: t("02:00"),
        timezone: "Europe/Amsterdam".into(),
    }
}

fn window(start: &str, end: &str) -> WindowSpec {
    WindowSpec {
        start: t(start),
        end: t(end),
        timezone: "Europe/Amsterdam".into(),
    }
}

// Events, as the app journals them.

fn done(step: &str) -> Event {
    Event::StepDone { step: step.into() }
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

fn skipped(step: &str) -> Event {
    Event::StepSkipped {
        step: step.into(),
        reason: "not needed tonight".into(),
    }
}

fn extended(by: &str) -> Event {
    Event::WindowExtended {
        by: d(by),
        reason: "the migration is slow".into(),
    }
}

fn rollback() -> Event {
    Event::RollbackStarted {
        reason: "migration failed".into(),
    }
}

fn sent(phase: &str, ok: bool) -> Event {
    Event::MessageSent {
        phase: phase.into(),
        file: format!("messages/{phase}.txt"),
        exit: Some(if ok { 0 } else { 1 }),
        ok,
        step: None,
        subject: "s".into(),
        body: "b".into(),
        detail: None,
        by_hand: false,
    }
}

fn finished(outcome: Outcome) -> Event {
    Event::SessionFinished { outcome }
}

/// The journal of a session: `session_started` two hours before the window, then `events`.
fn journal(window: &WindowSpec, rb: &Runbook, events: &[(&str, Event)]) -> Vec<Record> {
    let opened = window
        .start
        .checked_sub(jiff::SignedDuration::from_hours(2))
        .unwrap();
    let mut records = vec![Record {
        seq: 1,
        at: opened,
        by: "op@host".into(),
        event: Event::SessionStarted {
            session: "night".into(),
            runbook_path: "window-model.toml".into(),
            runbook_sha256: rb.sha256.clone(),
            vars: rb.resolve_vars(&[]).unwrap(),
            window: window.clone(),
            cutover_version: "test".into(),
            rehearsal: false,
        },
    }];
    for (at, event) in events {
        records.push(Record {
            seq: records.len() as u64 + 1,
            at: t(at),
            by: "op@host".into(),
            event: event.clone(),
        });
    }
    records
}

/// The downtime clock: (started, ended, elapsed, over the expected 45m).
type Down = (
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    bool,
);

const NO_DOWNTIME: Down = (None, None, "0s", false);

/// The next update: (last update, due, overdue).
type Next = Option<(Option<&'static str>, &'static str, bool)>;

struct Case {
    name: &'static str,
    book: Book,
    window: WindowSpec,
    events: Vec<(&'static str, Event)>,
    now: &'static str,
    verdict: Verdict,
    /// (end now, planned end, extended by)
    end: (&'static str, &'static str, &'static str),
    reserve: &'static str,
    go_no_go: &'static str,
    remaining: &'static str,
    projected_finish: &'static str,
    phase: WindowPhase,
    rollback_started: Option<&'static str>,
    finished: Option<(Outcome, &'static str)>,
    downtime: Down,
    next_update: Next,
}

/// The first part of every night that gets past the stop: announce, then the downtime
/// starts with `stop` at 22:10 and `stop` ends at 22:30, then `migrate` starts.
fn into_migration() -> Vec<(&'static str, Event)> {
    vec![
        ("22:05", done("announce")),
        ("22:10", started("stop")),
        ("22:30", exited("stop", 0)),
        ("22:30", started("migrate")),
    ]
}

fn with(
    mut base: Vec<(&'static str, Event)>,
    more: Vec<(&'static str, Event)>,
) -> Vec<(&'static str, Event)> {
    base.extend(more);
    base
}

fn cases() -> Vec<Case> {
    let plain = ("02:00", "02:00", "0s");
    vec![
        Case {
            name: "before the window: the whole plan from the window's start",
            book: Book::Summed,
            window: night(),
            events: vec![],
            now: "21:00",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "1h40m",
            projected_finish: "23:40",
            phase: before("1h"),
            rollback_started: None,
            finished: None,
            downtime: NO_DOWNTIME,
            // No promise of updates before the window opens.
            next_update: None,
        },
        Case {
            name: "inside, on track: a running step counts what is left of its estimate",
            book: Book::Summed,
            window: night(),
            events: with(into_migration(), vec![("22:40", sent("during", true))]),
            now: "22:50",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            // migrate 60m - 20m spent + start 10m + smoke 0 + tell 5m
            remaining: "55m",
            projected_finish: "23:45",
            phase: inside("3h10m"),
            rollback_started: None,
            finished: None,
            downtime: (Some("22:10"), None, "40m", false),
            next_update: Some((Some("22:40"), "23:10", false)),
        },
        Case {
            name: "at risk: the projected finish is past go/no-go",
            book: Book::Summed,
            window: night(),
            events: vec![("22:10", done("announce"))],
            now: "23:30",
            verdict: Verdict::AtRisk,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "1h35m",
            projected_finish: "01:05",
            phase: inside("2h30m"),
            rollback_started: None,
            finished: None,
            downtime: NO_DOWNTIME,
            next_update: Some((None, "22:30", true)),
        },
        Case {
            name: "just on track: the projected finish exactly at go/no-go",
            book: Book::Summed,
            window: night(),
            events: vec![("22:10", done("announce"))],
            now: "23:25",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "1h35m",
            projected_finish: "01:00",
            phase: inside("2h35m"),
            rollback_started: None,
            finished: None,
            downtime: NO_DOWNTIME,
            next_update: Some((None, "22:30", true)),
        },
        Case {
            name: "go/no-go passed with the forward path unfinished",
            book: Book::Summed,
            window: night(),
            events: into_migration(),
            now: "01:10",
            verdict: Verdict::GoNoGoPassed,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            // migrate is 2h40m in (past its 1h: 0 left) + start 10m + tell 5m
            remaining: "15m",
            projected_finish: "01:25",
            phase: inside("50m"),
            rollback_started: None,
            finished: None,
            downtime: (Some("22:10"), None, "3h", true),
            next_update: Some((None, "22:30", true)),
        },
        Case {
            name: "go/no-go passed at the very second of go/no-go",
            book: Book::Summed,
            window: night(),
            events: into_migration(),
            now: "01:00",
            verdict: Verdict::GoNoGoPassed,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            // migrate is past its 1h (0 left) + start 10m + tell 5m
            remaining: "15m",
            projected_finish: "01:15",
            phase: inside("1h"),
            rollback_started: None,
            finished: None,
            downtime: (Some("22:10"), None, "2h50m", true),
            next_update: Some((None, "22:30", true)),
        },
        Case {
            name: "overrun: the window ended and the work did not",
            book: Book::Summed,
            window: night(),
            events: with(
                into_migration(),
                vec![("01:30", exited("migrate", 0)), ("01:31", started("start"))],
            ),
            now: "02:05",
            verdict: Verdict::Overrun,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            // start is 34m into its 10m: 0 left; tell 5m
            remaining: "5m",
            projected_finish: "02:10",
            phase: overrun("5m"),
            rollback_started: None,
            finished: None,
            downtime: (Some("22:10"), None, "3h55m", true),
            next_update: Some((None, "22:30", true)),
        },
        Case {
            name: "overrun at the very second the window ends",
            book: Book::Summed,
            window: night(),
            events: into_migration(),
            now: "02:00",
            verdict: Verdict::Overrun,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "15m",
            projected_finish: "02:15",
            phase: overrun("0s"),
            rollback_started: None,
            finished: None,
            downtime: (Some("22:10"), None, "3h50m", true),
            next_update: Some((None, "22:30", true)),
        },
        Case {
            name: "extension: end and go/no-go move, the planned end stays",
            book: Book::Summed,
            window: night(),
            events: with(into_migration(), vec![("00:55", extended("1h"))]),
            now: "01:10",
            verdict: Verdict::OnTrack,
            end: ("03:00", "02:00", "1h"),
            reserve: "1h",
            go_no_go: "02:00",
            remaining: "15m",
            projected_finish: "01:25",
            phase: inside("1h50m"),
            rollback_started: None,
            finished: None,
            downtime: (Some("22:10"), None, "3h", true),
            next_update: Some((None, "22:30", true)),
        },
        Case {
            name: "two extensions add up",
            book: Book::Summed,
            window: night(),
            events: with(
                into_migration(),
                vec![("00:30", extended("30m")), ("01:50", extended("15m"))],
            ),
            now: "02:10",
            verdict: Verdict::GoNoGoPassed,
            end: ("02:45", "02:00", "45m"),
            reserve: "1h",
            go_no_go: "01:45",
            remaining: "15m",
            projected_finish: "02:25",
            phase: inside("35m"),
            rollback_started: None,
            finished: None,
            downtime: (Some("22:10"), None, "4h", true),
            next_update: Some((None, "22:30", true)),
        },
        Case {
            name: "rollback entered: measured against the contingency steps and the end",
            book: Book::Summed,
            window: night(),
            events: with(
                into_migration(),
                vec![
                    ("23:00", exited("migrate", 1)),
                    ("23:05", rollback()),
                    ("23:10", started("restore")),
                    ("23:15", sent("rollback", true)),
                ],
            ),
            now: "23:20",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            // restore 50m - 10m spent + confirm 10m; the happy path no longer counts
            remaining: "50m",
            projected_finish: "00:10",
            phase: inside("2h40m"),
            rollback_started: Some("23:05"),
            finished: None,
            downtime: (Some("22:10"), None, "1h10m", true),
            // A `rollback` update resets the cadence like a `during` one.
            next_update: Some((Some("23:15"), "23:45", false)),
        },
        Case {
            name: "rollback entered after go/no-go: at risk against the end, not 'passed'",
            book: Book::Summed,
            window: night(),
            events: with(
                into_migration(),
                vec![("01:15", exited("migrate", 1)), ("01:20", rollback())],
            ),
            now: "01:20",
            verdict: Verdict::AtRisk,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "1h",
            projected_finish: "02:20",
            phase: inside("40m"),
            rollback_started: Some("01:20"),
            finished: None,
            downtime: (Some("22:10"), None, "3h10m", true),
            next_update: Some((None, "22:30", true)),
        },
        Case {
            name: "a running step past its estimate counts zero, not less",
            book: Book::Summed,
            window: night(),
            events: into_migration(),
            now: "23:45",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            // migrate 75m into 60m: 0 (not -15m) + start 10m + tell 5m
            remaining: "15m",
            projected_finish: "00:00",
            phase: inside("2h15m"),
            rollback_started: None,
            finished: None,
            downtime: (Some("22:10"), None, "1h35m", true),
            next_update: Some((None, "22:30", true)),
        },
        Case {
            name: "a failed step counts its full estimate again",
            book: Book::Summed,
            window: night(),
            events: with(into_migration(), vec![("22:50", exited("migrate", 1))]),
            now: "23:00",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "1h15m",
            projected_finish: "00:15",
            phase: inside("3h"),
            rollback_started: None,
            finished: None,
            downtime: (Some("22:10"), None, "50m", true),
            next_update: Some((None, "22:30", true)),
        },
        Case {
            name: "a step without an estimate counts zero; downtime clocked start to end",
            book: Book::Summed,
            window: night(),
            events: vec![
                ("22:05", done("announce")),
                ("22:10", started("stop")),
                ("22:20", exited("stop", 0)),
                ("22:20", started("migrate")),
                ("22:40", exited("migrate", 0)),
                ("22:40", started("start")),
                ("22:50", exited("start", 0)),
                ("22:55", done("tell")),
            ],
            now: "23:00",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            // only `smoke` (no estimate) is left
            remaining: "0s",
            projected_finish: "23:00",
            phase: inside("3h"),
            rollback_started: None,
            finished: None,
            downtime: (Some("22:10"), Some("22:50"), "40m", false),
            next_update: Some((None, "22:30", true)),
        },
        Case {
            name: "downtime over the expected 45m once it ends",
            book: Book::Summed,
            window: night(),
            events: with(
                into_migration(),
                vec![
                    ("23:00", exited("migrate", 0)),
                    ("23:00", started("start")),
                    ("23:05", exited("start", 0)),
                ],
            ),
            now: "23:30",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "5m",
            projected_finish: "23:35",
            phase: inside("2h30m"),
            rollback_started: None,
            finished: None,
            // frozen at its end, not counted on to `now`
            downtime: (Some("22:10"), Some("23:05"), "55m", true),
            next_update: Some((None, "22:30", true)),
        },
        Case {
            name: "happy path settled past go/no-go: on track, nothing to decide",
            book: Book::Summed,
            window: night(),
            events: with(
                into_migration(),
                vec![
                    ("00:40", exited("migrate", 0)),
                    ("00:40", started("start")),
                    ("00:50", exited("start", 0)),
                    ("00:55", skipped("smoke")),
                    ("01:05", done("tell")),
                ],
            ),
            now: "01:30",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "0s",
            projected_finish: "01:30",
            phase: inside("30m"),
            rollback_started: None,
            finished: None,
            downtime: (Some("22:10"), Some("00:50"), "2h40m", true),
            next_update: Some((None, "22:30", true)),
        },
        Case {
            name: "finished inside the window: on track even when looked at later",
            book: Book::Summed,
            window: night(),
            events: with(
                into_migration(),
                vec![
                    ("23:20", exited("migrate", 0)),
                    ("23:20", started("start")),
                    ("23:30", exited("start", 0)),
                    ("23:35", done("smoke")),
                    ("23:40", done("tell")),
                    ("23:45", finished(Outcome::Completed)),
                ],
            ),
            now: "03:00",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "0s",
            // A finished night ends when its last step settled (the message aside), whenever it is looked at.
            projected_finish: "23:35",
            phase: overrun("1h"),
            rollback_started: None,
            finished: Some((Outcome::Completed, "23:45")),
            downtime: (Some("22:10"), Some("23:30"), "1h20m", true),
            // No more updates are promised once the session is over.
            next_update: None,
        },
        Case {
            name: "finished after the end: overrun",
            book: Book::Summed,
            window: night(),
            events: with(
                into_migration(),
                vec![
                    ("01:50", exited("migrate", 0)),
                    ("01:50", started("start")),
                    ("02:00", exited("start", 0)),
                    ("02:05", done("smoke")),
                    ("02:10", done("tell")),
                    ("02:10", finished(Outcome::Completed)),
                ],
            ),
            now: "02:30",
            verdict: Verdict::Overrun,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "0s",
            // When the work ended, not when the report was drawn.
            projected_finish: "02:05",
            phase: overrun("30m"),
            rollback_started: None,
            finished: Some((Outcome::Completed, "02:10")),
            downtime: (Some("22:10"), Some("02:00"), "3h50m", true),
            next_update: None,
        },
        Case {
            name: "rolled back and finished in time",
            book: Book::Summed,
            window: night(),
            events: with(
                into_migration(),
                vec![
                    ("23:00", exited("migrate", 1)),
                    ("23:05", rollback()),
                    ("23:05", started("restore")),
                    ("23:50", exited("restore", 0)),
                    ("23:55", done("confirm")),
                    ("00:00", finished(Outcome::RolledBack)),
                ],
            ),
            now: "00:30",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "0s",
            // The rollback's last step.
            projected_finish: "23:55",
            phase: inside("1h30m"),
            rollback_started: Some("23:05"),
            finished: Some((Outcome::RolledBack, "00:00")),
            // The forward `start` never ran, so no step ended the downtime: the clock
            // stops when the session finished, not at whatever `now` it is looked at.
            downtime: (Some("22:10"), None, "1h50m", true),
            next_update: None,
        },
        Case {
            name: "rollback reserve declared (90m) instead of summed (1h): at risk",
            book: Book::Declared,
            window: night(),
            events: vec![("22:05", done("announce"))],
            now: "23:00",
            verdict: Verdict::AtRisk,
            end: plain,
            reserve: "1h30m",
            go_no_go: "00:30",
            remaining: "1h35m",
            projected_finish: "00:35",
            phase: inside("3h"),
            rollback_started: None,
            finished: None,
            downtime: NO_DOWNTIME,
            next_update: Some((None, "22:30", true)),
        },
        Case {
            name: "the same night with the summed reserve (1h): on track",
            book: Book::Summed,
            window: night(),
            events: vec![("22:05", done("announce"))],
            now: "23:00",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "1h35m",
            projected_finish: "00:35",
            phase: inside("3h"),
            rollback_started: None,
            finished: None,
            downtime: NO_DOWNTIME,
            next_update: Some((None, "22:30", true)),
        },
        Case {
            name: "a window given by its end (22:00 to 01:30)",
            book: Book::Summed,
            window: window("22:00", "01:30"),
            events: vec![("22:05", done("announce"))],
            now: "23:00",
            verdict: Verdict::AtRisk,
            end: ("01:30", "01:30", "0s"),
            reserve: "1h",
            go_no_go: "00:30",
            remaining: "1h35m",
            projected_finish: "00:35",
            phase: inside("2h30m"),
            rollback_started: None,
            finished: None,
            downtime: NO_DOWNTIME,
            next_update: Some((None, "22:30", true)),
        },
        // Next update: counted from the window's start, reset by a `during` (or
        // `rollback`) update sent inside the window.
        Case {
            name: "next update: due a cadence after the window's start",
            book: Book::Summed,
            window: night(),
            events: vec![],
            now: "22:10",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "1h40m",
            projected_finish: "23:50",
            phase: inside("3h50m"),
            rollback_started: None,
            finished: None,
            downtime: NO_DOWNTIME,
            next_update: Some((None, "22:30", false)),
        },
        Case {
            name: "next update: at the due second it is not overdue yet",
            book: Book::Summed,
            window: night(),
            events: vec![],
            now: "22:30",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "1h40m",
            projected_finish: "00:10",
            phase: inside("3h30m"),
            rollback_started: None,
            finished: None,
            downtime: NO_DOWNTIME,
            next_update: Some((None, "22:30", false)),
        },
        Case {
            name: "next update: a minute later it is overdue",
            book: Book::Summed,
            window: night(),
            events: vec![],
            now: "22:31",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "1h40m",
            projected_finish: "00:11",
            phase: inside("3h29m"),
            rollback_started: None,
            finished: None,
            downtime: NO_DOWNTIME,
            next_update: Some((None, "22:30", true)),
        },
        Case {
            name: "next update: a sent `during` resets the cadence",
            book: Book::Summed,
            window: night(),
            events: vec![("22:25", sent("during", true))],
            now: "22:40",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "1h40m",
            projected_finish: "00:20",
            phase: inside("3h20m"),
            rollback_started: None,
            finished: None,
            downtime: NO_DOWNTIME,
            next_update: Some((Some("22:25"), "22:55", false)),
        },
        Case {
            name: "next update: overdue a cadence after the last sent update",
            book: Book::Summed,
            window: night(),
            events: vec![("22:25", sent("during", true))],
            now: "23:00",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "1h40m",
            projected_finish: "00:40",
            phase: inside("3h"),
            rollback_started: None,
            finished: None,
            downtime: NO_DOWNTIME,
            next_update: Some((Some("22:25"), "22:55", true)),
        },
        Case {
            name: "next update: failed sends, `before` messages and sends before the window do not count",
            book: Book::Summed,
            window: night(),
            events: vec![
                ("21:50", sent("during", true)),
                ("22:05", sent("before", true)),
                ("22:25", sent("during", false)),
            ],
            now: "22:40",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "1h40m",
            projected_finish: "00:20",
            phase: inside("3h20m"),
            rollback_started: None,
            finished: None,
            downtime: NO_DOWNTIME,
            next_update: Some((None, "22:30", true)),
        },
        Case {
            name: "next update: none without update_every",
            book: Book::NoCadence,
            window: night(),
            events: vec![("22:25", sent("during", true))],
            now: "23:15",
            verdict: Verdict::OnTrack,
            end: plain,
            reserve: "1h",
            go_no_go: "01:00",
            remaining: "1h40m",
            projected_finish: "00:55",
            phase: inside("2h45m"),
            rollback_started: None,
            finished: None,
            downtime: NO_DOWNTIME,
            next_update: None,
        },
        // Autumn: the clocks go back at 03:00 CEST = 02:00 CET on 2026-10-25. Four real
        // hours from 23:00 CEST end at 02:00 CET; go/no-go (1h before) is 02:00 CEST.
        Case {
            name: "DST autumn: a window across the change is four real hours",
            book: Book::Summed,
            window: window("2026-10-24T23:00:00+02:00", "2026-10-25T02:00:00+01:00"),
            events: vec![],
            // 02:30 CEST, the first of the two 02:30s: 30 real minutes before the end
            now: "2026-10-25T02:30:00+02:00",
            verdict: Verdict::GoNoGoPassed,
            end: (
                "2026-10-25T02:00:00+01:00",
                "2026-10-25T02:00:00+01:00",
                "0s",
            ),
            reserve: "1h",
            go_no_go: "2026-10-25T02:00:00+02:00",
            remaining: "1h40m",
            projected_finish: "2026-10-25T03:10:00+01:00",
            phase: inside("30m"),
            rollback_started: None,
            finished: None,
            downtime: NO_DOWNTIME,
            // 23:00 CEST + 30m; overdue
            next_update: Some((None, "2026-10-24T23:30:00+02:00", true)),
        },
        Case {
            name: "DST autumn: the second 02:30 (CET) is past the end",
            book: Book::Summed,
            window: window("2026-10-24T23:00:00+02:00", "2026-10-25T02:00:00+01:00"),
            events: vec![("2026-10-25T02:20:00+02:00", sent("during", true))],
            now: "2026-10-25T02:30:00+01:00",
            verdict: Verdict::Overrun,
            end: (
                "2026-10-25T02:00:00+01:00",
                "2026-10-25T02:00:00+01:00",
                "0s",
            ),
            reserve: "1h",
            go_no_go: "2026-10-25T02:00:00+02:00",
            remaining: "1h40m",
            projected_finish: "2026-10-25T04:10:00+01:00",
            phase: overrun("30m"),
            rollback_started: None,
            finished: None,
            downtime: NO_DOWNTIME,
            // 02:20 CEST + 30m = 02:50 CEST (still before the change)
            next_update: Some((
                Some("2026-10-25T02:20:00+02:00"),
                "2026-10-25T02:50:00+02:00",
                true,
            )),
        },
        // Spring: the clocks go forward at 02:00 CET = 03:00 CEST on 2026-03-29. Four
        // real hours from 00:00 CET end at 05:00 CEST.
        Case {
            name: "DST spring: a window across the change is four real hours",
            book: Book::Summed,
            window: window("2026-03-29T00:00:00+01:00", "2026-03-29T05:00:00+02:00"),
            events: vec![],
            now: "2026-03-29T03:30:00+02:00",
            verdict: Verdict::AtRisk,
            end: (
                "2026-03-29T05:00:00+02:00",
                "2026-03-29T05:00:00+02:00",
                "0s",
            ),
            reserve: "1h",
            go_no_go: "2026-03-29T04:00:00+02:00",
            remaining: "1h40m",
            projected_finish: "2026-03-29T05:10:00+02:00",
            // 03:30 CEST is 01:30 UTC: 1h30m real time left (not 2h30m by the wall)
            phase: inside("1h30m"),
            rollback_started: None,
            finished: None,
            downtime: NO_DOWNTIME,
            next_update: Some((None, "2026-03-29T00:30:00+01:00", true)),
        },
    ]
}

#[test]
fn window_arithmetic_with_a_fixed_clock() {
    let mut failures = Vec::new();
    for case in cases() {
        let rb = runbook(case.book);
        let records = journal(&case.window, &rb, &case.events);
        let run = RunState::replay(&rb, &records);
        assert_eq!(run.unknown_refs, 0, "{}: a typo in the case", case.name);
        let now = t(case.now);
        let ws = window::status(&rb, &run, now);
        let tz = "Europe/Amsterdam";
        let show = |ts: Timestamp| local_time(ts, tz);

        let mut check = |what: &str, got: String, want: String| {
            if got != want {
                failures.push(format!("{}: {what}: got {got}, want {want}", case.name));
            }
        };
        check(
            "verdict",
            format!("{:?}", ws.verdict),
            format!("{:?}", case.verdict),
        );
        check("start", show(ws.start), show(case.window.start));
        check("end", show(ws.end), show(t(case.end.0)));
        check("planned end", show(ws.planned_end), show(t(case.end.1)));
        check("extended by", ws.extended_by.to_string(), case.end.2.into());
        check("reserve", ws.reserve.to_string(), case.reserve.into());
        check("go/no-go", show(ws.go_no_go), show(t(case.go_no_go)));
        check("remaining", ws.remaining.to_string(), case.remaining.into());
        check(
            "projected finish",
            show(ws.projected_finish),
            show(t(case.projected_finish)),
        );
        check(
            "phase",
            format!("{:?}", ws.phase),
            format!("{:?}", case.phase),
        );
        check(
            "rollback started",
            format!("{:?}", ws.rollback_started.map(show)),
            format!("{:?}", case.rollback_started.map(|s| show(t(s)))),
        );
        check(
            "finished",
            format!("{:?}", ws.finished.map(|(o, at)| (o, show(at)))),
            format!("{:?}", case.finished.map(|(o, at)| (o, show(t(at))))),
        );
        let (d_start, d_end, d_elapsed, d_over) = case.downtime;
        check(
            "downtime",
            format!(
                "{:?} {:?} {} over={} expected={:?}",
                ws.downtime.started.map(show),
                ws.downtime.ended.map(show),
                ws.downtime.elapsed,
                ws.downtime.over(),
                ws.downtime.expected.map(|e| e.to_string()),
            ),
            format!(
                "{:?} {:?} {} over={} expected={:?}",
                d_start.map(|s| show(t(s))),
                d_end.map(|s| show(t(s))),
                d_elapsed,
                d_over,
                Some("45m"),
            ),
        );
        check(
            "next update",
            format!(
                "{:?}",
                ws.next_update.map(|n| (
                    n.every.to_string(),
                    n.last.map(show),
                    show(n.due),
                    n.overdue
                ))
            ),
            format!(
                "{:?}",
                case.next_update.map(|(last, due, overdue)| (
                    "30m".to_string(),
                    last.map(|s| show(t(s))),
                    show(t(due)),
                    overdue
                ))
            ),
        );
        // The shown strings are minutes; the instants must be exact to the second.
        for (what, got, want) in [
            ("go/no-go", ws.go_no_go, t(case.go_no_go)),
            (
                "projected finish",
                ws.projected_finish,
                t(case.projected_finish),
            ),
            ("end", ws.end, t(case.end.0)),
        ] {
            if got != want {
                failures.push(format!(
                    "{}: {what}: got {got}, want {want} (exactly)",
                    case.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn replay(book: Book, events: &[(&str, Event)]) -> (Runbook, RunState) {
    let rb = runbook(book);
    let run = RunState::replay(&rb, &journal(&night(), &rb, events));
    (rb, run)
}

#[test]
fn step_remaining_is_never_negative() {
    let (rb, run) = replay(Book::Summed, &into_migration());
    // migrate started 22:30 with an estimate of 1h.
    let table = [
        ("22:30", "1h"),
        ("22:45", "45m"),
        ("23:29", "1m"),
        ("23:30", "0s"),
        ("23:31", "0s"),
        ("04:00", "0s"),
        // A clock behind the start (a skewed machine) does not grow the estimate.
        ("22:00", "1h"),
    ];
    for (now, want) in table {
        assert_eq!(
            window::step_remaining(&rb, &run, "migrate", t(now)).to_string(),
            want,
            "migrate at {now}"
        );
    }
    // Settled steps count nothing, pending ones all, unestimated ones zero, and a step
    // the runbook does not have zero.
    assert_eq!(
        window::step_remaining(&rb, &run, "stop", t("23:00")),
        Duration::ZERO
    );
    assert_eq!(
        window::step_remaining(&rb, &run, "start", t("23:00")),
        d("10m")
    );
    assert_eq!(
        window::step_remaining(&rb, &run, "smoke", t("23:00")),
        Duration::ZERO
    );
    assert_eq!(
        window::step_remaining(&rb, &run, "nope", t("23:00")),
        Duration::ZERO
    );
    // The total, far past everything: only the pending steps' estimates.
    assert_eq!(window::remaining(&rb, &run, t("09:00")).to_string(), "15m");
}

#[test]
fn slack_is_measured_against_go_no_go_then_the_end() {
    let (rb, run) = replay(Book::Summed, &[("22:10", done("announce"))]);
    // Projected 01:05 against go/no-go 01:00: 5 minutes short.
    let ws = window::status(&rb, &run, t("23:30"));
    assert_eq!(ws.slack(), jiff::SignedDuration::from_mins(-5));
    let (rb, run) = replay(
        Book::Summed,
        &with(
            into_migration(),
            vec![("23:00", exited("migrate", 1)), ("23:05", rollback())],
        ),
    );
    // Rolling back: projected 00:05 + 1h = 01:05 against the end (02:00).
    let ws = window::status(&rb, &run, t("00:05"));
    assert_eq!(ws.slack(), jiff::SignedDuration::from_mins(55));
}

#[test]
fn rollback_reserve_is_declared_or_summed() {
    let summed = runbook(Book::Summed);
    let declared = runbook(Book::Declared);
    assert_eq!(
        cutover::runbook::estimate::rollback_reserve(&summed.file),
        d("1h")
    );
    assert_eq!(
        cutover::runbook::estimate::rollback_reserve(&declared.file),
        d("90m")
    );
}

#[test]
fn the_window_of_a_new_session_comes_from_duration_or_end() {
    let now = t("20:00");
    let rb = runbook(Book::Summed);
    let w = resolve_window(&rb, None, None, now).unwrap();
    assert_eq!((w.start, w.end), (t("22:00"), t("02:00")));
    assert_eq!(w.timezone, "Europe/Amsterdam");

    let with_end = RUNBOOK.replace("duration = \"4h\"", "end = \"2026-11-29T01:30:00+01:00\"");
    let rb = Runbook::parse("end.toml", &with_end).unwrap();
    let w = resolve_window(&rb, None, None, now).unwrap();
    assert_eq!((w.start, w.end), (t("22:00"), t("01:30")));
    // An end written in another offset is the same instant.
    let utc_end = RUNBOOK.replace("duration = \"4h\"", "end = \"2026-11-29T00:30:00Z\"");
    let rb = Runbook::parse("end.toml", &utc_end).unwrap();
    let w = resolve_window(&rb, None, None, now).unwrap();
    assert_eq!(w.end, t("01:30"));
}

const AMSTERDAM: &str = "Europe/Amsterdam";

#[test]
fn dst_autumn_window_is_absolute_and_shown_in_the_right_offsets() {
    let source = RUNBOOK.replace(
        "start = \"2026-11-28T22:00:00+01:00\"",
        "start = \"2026-10-24T23:00:00+02:00\"",
    );
    let rb = Runbook::parse("autumn.toml", &source).unwrap();
    let w = resolve_window(&rb, None, None, t("20:00")).unwrap();
    assert_eq!(w.start, t("2026-10-24T23:00:00+02:00"));
    assert_eq!(w.end, t("2026-10-25T02:00:00+01:00"));
    assert_eq!(w.end, t("2026-10-25T01:00:00Z"));
    assert_eq!(
        w.start.duration_until(w.end),
        jiff::SignedDuration::from_hours(4)
    );

    let run = RunState::replay(&rb, &journal(&w, &rb, &[]));
    let ws = window::status(&rb, &run, t("2026-10-25T00:30:00Z"));
    assert_eq!(ws.go_no_go, t("2026-10-25T00:00:00Z"));

    assert_eq!(local_time(ws.start, AMSTERDAM), "2026-10-24 23:00 CEST");
    assert_eq!(local_time(ws.end, AMSTERDAM), "2026-10-25 02:00 CET");
    // Go/no-go and the end read 02:00 both: an hour apart, told by the zone.
    assert_eq!(local_time(ws.go_no_go, AMSTERDAM), "2026-10-25 02:00 CEST");
    assert_eq!(
        local_time(ws.projected_finish, AMSTERDAM),
        "2026-10-25 03:10 CET"
    );
    assert_eq!(utc_time(ws.start), "2026-10-24 21:00 UTC");
    assert_eq!(utc_time(ws.end), "2026-10-25 01:00 UTC");
    for (utc, shown) in [
        ("2026-10-25T00:59:59Z", "02:59:59 +02:00 CEST"),
        ("2026-10-25T01:00:00Z", "02:00:00 +01:00 CET"),
        ("2026-10-25T00:30:00Z", "02:30:00 +02:00 CEST"),
        ("2026-10-25T01:30:00Z", "02:30:00 +01:00 CET"),
    ] {
        assert_eq!(
            format_in(t(utc), AMSTERDAM, "%H:%M:%S %:z %Z"),
            shown,
            "{utc}"
        );
    }
}

#[test]
fn dst_spring_window_is_absolute_and_shown_in_the_right_offsets() {
    let source = RUNBOOK.replace(
        "start = \"2026-11-28T22:00:00+01:00\"",
        "start = \"2026-03-29T00:00:00+01:00\"",
    );
    let rb = Runbook::parse("spring.toml", &source).unwrap();
    let w = resolve_window(&rb, None, None, t("20:00")).unwrap();
    assert_eq!(w.start, t("2026-03-28T23:00:00Z"));
    assert_eq!(w.end, t("2026-03-29T05:00:00+02:00"));
    assert_eq!(w.end, t("2026-03-29T03:00:00Z"));

    let run = RunState::replay(&rb, &journal(&w, &rb, &[]));
    let ws = window::status(&rb, &run, t("2026-03-29T01:30:00Z"));
    assert_eq!(local_time(ws.start, AMSTERDAM), "2026-03-29 00:00 CET");
    assert_eq!(local_time(ws.end, AMSTERDAM), "2026-03-29 05:00 CEST");
    assert_eq!(local_time(ws.go_no_go, AMSTERDAM), "2026-03-29 04:00 CEST");
    assert_eq!(ws.phase, inside("1h30m"));
    for (utc, shown) in [
        ("2026-03-29T00:59:59Z", "01:59:59 +01:00 CET"),
        ("2026-03-29T01:00:00Z", "03:00:00 +02:00 CEST"),
    ] {
        assert_eq!(
            format_in(t(utc), AMSTERDAM, "%H:%M:%S %:z %Z"),
            shown,
            "{utc}"
        );
    }
}

#[test]
fn an_unknown_zone_falls_back_to_utc() {
    assert_eq!(
        local_time(t("22:00"), "Mars/Olympus_Mons"),
        "2026-11-28 21:00 UTC"
    );
}
