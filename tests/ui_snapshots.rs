//! The screen, drawn with ratatui's TestBackend at fixed times: reviewed snapshots at
//! 120x40, 80x24 and 40x12, the window pane in every verdict, the timeline and the
//! message pane; style checks where colour carries meaning, and no panic at any size.

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use cutover::app::{App, Msg, update};
use cutover::runbook::Runbook;
use cutover::session::{Event, Record, WindowSpec};
use jiff::Timestamp;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn record(seq: u64, at: &str, event: Event) -> Record {
    Record {
        seq,
        at: ts(at),
        by: "alice@jump1".into(),
        event,
    }
}

fn runbook() -> Runbook {
    Runbook::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ui/upgrade.toml"))
        .unwrap()
}

/// A session 47 minutes into its window: two steps done (one with a note), one
/// skipped, the backup pending and so the upgrade blocked.
fn app(ascii: bool, no_color: bool) -> App {
    let rb = runbook();
    let vars = rb.resolve_vars(&[]).unwrap();
    let records = vec![
        record(
            1,
            "2026-11-28T20:55:00Z",
            Event::SessionStarted {
                session: "20261128-205500-ab12".into(),
                runbook_path: "/srv/runbooks/upgrade.toml".into(),
                runbook_sha256: rb.sha256.clone(),
                vars,
                window: WindowSpec {
                    start: ts("2026-11-28T21:00:00Z"),
                    end: ts("2026-11-29T01:00:00Z"),
                    timezone: "Europe/Amsterdam".into(),
                },
                cutover_version: "test".into(),
                rehearsal: false,
            },
        ),
        record(
            2,
            "2026-11-28T21:05:00Z",
            Event::StepDone {
                step: "schedule".into(),
            },
        ),
        record(
            3,
            "2026-11-28T21:30:00Z",
            Event::NoteAdded {
                step: "review-docs".into(),
                text: "no infra changes for this hop".into(),
            },
        ),
        record(
            4,
            "2026-11-28T21:31:00Z",
            Event::StepDone {
                step: "review-docs".into(),
            },
        ),
        record(
            5,
            "2026-11-28T21:35:00Z",
            Event::StepSkipped {
                step: "announce".into(),
                reason: "sent from the change system".into(),
            },
        ),
    ];
    let mut app = App::new(rb, &records, "alice@jump1".into(), ascii, no_color);
    app.view.selected = 3;
    app
}

fn now() -> Timestamp {
    ts("2026-11-28T21:47:12Z")
}

fn draw(app: &App, w: u16, h: u16, at: Timestamp) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| cutover::ui::render(f, app, at)).unwrap();
    t
}

fn key(app: &mut App, c: char) {
    update(
        app,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
    );
}

#[test]
fn wide_120x40() {
    let app = app(false, false);
    insta::assert_snapshot!(draw(&app, 120, 40, now()).backend());
}

#[test]
fn standard_80x24_with_a_blocked_step_selected() {
    let mut app = app(false, false);
    app.view.selected = 4;
    insta::assert_snapshot!(draw(&app, 80, 24, now()).backend());
}

#[test]
fn tiny_40x12() {
    let app = app(false, false);
    insta::assert_snapshot!(draw(&app, 40, 12, now()).backend());
}

#[test]
fn ascii_80x24() {
    let app = app(true, true);
    insta::assert_snapshot!(draw(&app, 80, 24, now()).backend());
}

#[test]
fn help_overlay_lists_the_keymap() {
    let mut app = app(false, false);
    key(&mut app, '?');
    let t = draw(&app, 80, 24, now());
    insta::assert_snapshot!(t.backend());
}

fn watching(app: &mut App) {
    app.watching = Some(cutover::app::Watching {
        driver: Some("alice@jump1, pid 4242, since 2026-11-28 21:00:00 UTC".into()),
        stopped: None,
    });
}

/// `cutover watch`: the header says it is read-only and who drives; the hints offer
/// only keys that move the view.
#[test]
fn watch_mode_80x24_names_the_driver_and_offers_only_navigation() {
    let mut app = app(false, false);
    watching(&mut app);
    insta::assert_snapshot!(draw(&app, 80, 24, now()).backend());
}

#[test]
fn watch_mode_help_lists_only_the_keys_that_work() {
    let mut app = app(false, false);
    watching(&mut app);
    key(&mut app, '?');
    insta::assert_snapshot!(draw(&app, 80, 24, now()).backend());
}

#[test]
fn watch_mode_refuses_a_mutating_key_in_words() {
    let mut app = app(false, false);
    watching(&mut app);
    key(&mut app, 'd');
    let t = draw(&app, 80, 24, now());
    let last: String = (0..80)
        .map(|x| t.backend().buffer()[(x, 23)].symbol().to_string())
        .collect();
    assert!(
        last.contains("read-only view: `done` is refused here; alice@jump1 drives it"),
        "{last}"
    );
}

#[test]
fn skip_dialog_asks_a_reason() {
    let mut app = app(false, false);
    key(&mut app, 's');
    for c in "no change window".chars() {
        key(&mut app, c);
    }
    insta::assert_snapshot!(draw(&app, 80, 24, now()).backend());
}

#[test]
fn below_the_minimum_size_a_notice_replaces_the_layout() {
    let app = app(false, false);
    insta::assert_snapshot!(draw(&app, 30, 8, now()).backend());
}

fn find(t: &Terminal<TestBackend>, text: &str) -> (u16, u16) {
    let buf = t.backend().buffer();
    let area = buf.area;
    for y in 0..area.height {
        let row: String = (0..area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        if let Some(byte) = row.find(text) {
            let col = row[..byte].chars().count() as u16;
            return (col, y);
        }
    }
    panic!("`{text}` not on screen");
}

#[test]
fn overrun_is_red_and_in_words() {
    let app = app(false, false);
    let t = draw(&app, 120, 40, ts("2026-11-29T01:12:00Z"));
    let (x, y) = find(&t, "OVERRUN");
    assert_eq!(t.backend().buffer()[(x, y)].style().fg, Some(Color::Red));
    find(&t, "00:12:00 past the end");
}

#[test]
fn before_the_window_it_counts_down_to_the_start() {
    let app = app(false, false);
    let t = draw(&app, 120, 40, ts("2026-11-28T20:30:00Z"));
    find(&t, "ON TRACK · opens in 00:30:00");
}

#[test]
fn blocked_step_is_yellow_and_named_with_its_requirement() {
    let mut app = app(false, false);
    app.view.selected = 4;
    let t = draw(&app, 120, 40, now());
    let (x, y) = find(&t, "⊘");
    assert_eq!(t.backend().buffer()[(x, y)].style().fg, Some(Color::Yellow));
    find(&t, "needs backup (pending)");
}

/// Panics if any cell carries a foreground or background colour: with both `Reset` (or
/// unset) everywhere, the backend has no colour escape to write.
fn assert_colourless(t: &Terminal<TestBackend>, what: &str) {
    let buf = t.backend().buffer();
    let width = buf.area.width as usize;
    for (i, cell) in buf.content().iter().enumerate() {
        let style = cell.style();
        let plain = |c: Option<Color>| c.is_none_or(|c| c == Color::Reset);
        assert!(
            plain(style.fg) && plain(style.bg),
            "{what}: coloured cell at column {}, row {}: {cell:?}",
            i % width,
            i / width
        );
    }
}

#[test]
fn no_color_means_no_colour_at_all() {
    let app = app(false, true);
    let t = draw(&app, 120, 40, ts("2026-11-29T01:12:00Z"));
    assert_colourless(&t, "120x40 overrun");
    find(&t, "OVERRUN");
}

#[test]
fn no_color_full_screen_tells_state_by_glyph_and_word() {
    let mut app = app(false, true);
    app.view.selected = 4;
    for (w, h) in [(120, 40), (80, 24)] {
        let t = draw(&app, w, h, now());
        assert_colourless(&t, &format!("{w}x{h}"));
        for text in [
            "✓", "↷", "⊘", "done", "skipped", "blocked", "ON TRACK", "saved #5",
        ] {
            find(&t, text);
        }
    }
    // Colour-carrying moments: an overrun, a failure and a command's own SGR output.
    let t = draw(&app, 80, 24, ts("2026-11-29T01:12:00Z"));
    assert_colourless(&t, "80x24 overrun");
    find(&t, "OVERRUN");
    let mut busy = running_backups();
    let coloured_output = draw(&busy, 120, 40, now());
    assert!(
        coloured_output
            .backend()
            .buffer()
            .content()
            .iter()
            .any(|c| c.style().fg.is_some_and(|c| c != Color::Reset)),
        "the running-backups screen should carry colour when colour is on"
    );
    busy.view.no_color = true;
    for (w, h) in [(120, 40), (80, 24)] {
        assert_colourless(
            &draw(&busy, w, h, now()),
            &format!("running backups {w}x{h}"),
        );
    }
}

/// Draws every size from 1x1 to 300x100.
fn every_size(app: &App, at: Timestamp) {
    for w in 1..=300u16 {
        for h in 1..=100u16 {
            let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
            t.draw(|f| cutover::ui::render(f, app, at)).unwrap();
        }
    }
}

#[test]
fn no_panic_at_any_size() {
    // The fullest screens: a dialog over the layout; the timeline of a rollback,
    // scrolled, under the help; the message editor with an edited draft.
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut app = app(false, false);
            key(&mut app, 'n');
            every_size(&app, now());
        });
        s.spawn(|| {
            let mut app = rolling_back();
            app.view.timeline = true;
            app.view.timeline_scroll = 3;
            app.view.help = true;
            every_size(&app, ts("2026-11-28T22:40:00Z"));
        });
        s.spawn(|| {
            let mut app = rolling_back();
            app.view.ascii = true;
            app.view.timeline = true;
            every_size(&app, ts("2026-11-28T22:40:00Z"));
        });
        s.spawn(|| {
            let app = editing();
            every_size(&app, before_window());
        });
    });
}

/// The backup step running: one backup verified, the other reporting real progress, and
/// its output on screen with a colour the command asked for.
fn running_backups() -> App {
    use cutover::runner::TaskId;
    use cutover::runner::sanitize::Sanitizer;
    use cutover::runner::watch::{Progress, Report};
    let mut app = app(false, false);
    let events = [
        (
            6,
            "2026-11-28T21:40:00Z",
            Event::StepStarted {
                step: "backup".into(),
                attempt: 1,
            },
        ),
        (
            7,
            "2026-11-28T21:40:00Z",
            Event::BackupStarted {
                backup: "values".into(),
                attempt: 1,
            },
        ),
        (
            8,
            "2026-11-28T21:40:00Z",
            Event::BackupStarted {
                backup: "disks".into(),
                attempt: 1,
            },
        ),
        (
            9,
            "2026-11-28T21:40:02Z",
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
        ),
    ];
    for (seq, at, e) in events {
        app.apply(&record(seq, at, e));
    }
    app.view.artifacts.insert("values".into(), 14 * 1024);
    let mut s = Sanitizer::new(2048);
    let mut lines = Vec::new();
    s.feed(
        b"snapshot pvc-neo4j-0 ... \x1b[32mSucceeded\x1b[0m\nsnapshot pvc-sql-0 ... \x1b[32mSucceeded\x1b[0m\n\x1b]0;title\x07snapshot pvc-es-0 ... 6/9 disks\rsnapshot pvc-es-0 ... 7/9 disks",
        &mut lines,
    );
    update(
        &mut app,
        Msg::Task(Report::Output {
            task: TaskId::backup("disks", 1),
            lines,
            partial: s.partial().cloned(),
            progress: Some(Progress {
                done: 7,
                total: Some(9),
            }),
        }),
    );
    app
}

#[test]
fn running_backups_with_progress_and_output_120x40() {
    let app = running_backups();
    let t = draw(&app, 120, 40, ts("2026-11-28T21:52:12Z"));
    insta::assert_snapshot!(t.backend());
    // The command's green reached the screen as a style, not as an escape.
    let buf = t.backend().buffer();
    let row = (0..40)
        .find(|y| {
            (0..120)
                .map(|x| buf[(x, *y)].symbol())
                .collect::<String>()
                .contains("pvc-neo4j-0")
        })
        .expect("the output line is on screen");
    let green = (0..120).any(|x| buf[(x, row)].symbol() == "S" && buf[(x, row)].fg == Color::Green);
    assert!(green, "`Succeeded` keeps its colour");
}

#[test]
fn running_backups_folded_80x24_with_the_output_pane_focused() {
    let mut app = running_backups();
    update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)),
    );
    update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)),
    );
    insta::assert_snapshot!(draw(&app, 80, 24, ts("2026-11-28T21:52:12Z")).backend());
}

#[test]
fn failed_command_shows_how_it_ended() {
    let mut app = app(false, true);
    let events = [
        (
            6,
            "2026-11-28T21:40:00Z",
            Event::StepStarted {
                step: "helm-rollback".into(),
                attempt: 1,
            },
        ),
        (
            7,
            "2026-11-28T21:44:10Z",
            Event::StepFinished {
                step: "helm-rollback".into(),
                attempt: 1,
                exit: None,
                signal: Some(9),
                timed_out: true,
                cancelled: false,
                expect_matched: None,
                detached: true,
                detail: None,
                ended: Some(ts("2026-11-28T21:43:00Z")),
            },
        ),
    ];
    for (seq, at, e) in events {
        app.apply(&record(seq, at, e));
    }
    app.view.selected = app
        .run
        .steps
        .iter()
        .position(|s| s.id == "helm-rollback")
        .unwrap();
    insta::assert_snapshot!(draw(&app, 80, 24, now()).backend());
}

#[test]
fn a_short_backups_pane_keeps_the_selected_backup_in_view_and_counts_the_rest() {
    let mut app = running_backups();
    app.view.focus = cutover::app::Pane::Backups;
    let text = |t: &Terminal<TestBackend>| {
        let buf = t.backend().buffer();
        let area = buf.area;
        (0..area.height)
            .map(|y| {
                (0..area.width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    // Four rows of backups (two each while busy) in a pane with room for two (60x10).
    app.view.backup_selected = 0;
    let first = text(&draw(&app, 60, 10, ts("2026-11-28T21:52:12Z")));
    assert!(first.contains("Helm user values"), "{first}");
    assert!(first.contains("more rows"), "{first}");
    app.view.backup_selected = 1;
    let second = text(&draw(&app, 60, 10, ts("2026-11-28T21:52:12Z")));
    assert!(second.contains("Disk snapshots"), "{second}");
}

/// The fixture with a send command and a promised update cadence.
fn runbook_with_updates() -> Runbook {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ui/upgrade.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "[message.before]",
        "[message]\nsend = 'mail -s \"$CUTOVER_SUBJECT\" it-announce@example.com'\nupdate_every = \"30m\"\n\n[message.before]",
    );
    Runbook::parse(&path.display().to_string(), &text).unwrap()
}

/// The session of [`app`] on the runbook with updates, then `extra` events in order.
fn session(extra: Vec<(&str, Event)>) -> App {
    let rb = runbook_with_updates();
    let mut records = app_records(&rb);
    let mut seq = records.len() as u64;
    for (at, event) in extra {
        seq += 1;
        records.push(record(seq, at, event));
    }
    App::new(rb, &records, "alice@jump1".into(), false, false)
}

/// The records behind [`app`], for another copy of the runbook.
fn app_records(rb: &Runbook) -> Vec<Record> {
    let vars = rb.resolve_vars(&[]).unwrap();
    vec![
        record(
            1,
            "2026-11-28T20:55:00Z",
            Event::SessionStarted {
                session: "20261128-205500-ab12".into(),
                runbook_path: "/srv/runbooks/upgrade.toml".into(),
                runbook_sha256: rb.sha256.clone(),
                vars,
                window: WindowSpec {
                    start: ts("2026-11-28T21:00:00Z"),
                    end: ts("2026-11-29T01:00:00Z"),
                    timezone: "Europe/Amsterdam".into(),
                },
                cutover_version: "test".into(),
                rehearsal: false,
            },
        ),
        record(
            2,
            "2026-11-28T21:05:00Z",
            Event::StepDone {
                step: "schedule".into(),
            },
        ),
        record(
            3,
            "2026-11-28T21:30:00Z",
            Event::NoteAdded {
                step: "review-docs".into(),
                text: "no infra changes for this hop".into(),
            },
        ),
        record(
            4,
            "2026-11-28T21:31:00Z",
            Event::StepDone {
                step: "review-docs".into(),
            },
        ),
        record(
            5,
            "2026-11-28T21:35:00Z",
            Event::StepSkipped {
                step: "announce".into(),
                reason: "sent from the change system".into(),
            },
        ),
    ]
}

fn sent(phase: &str) -> Event {
    Event::MessageSent {
        phase: phase.into(),
        file: format!("{phase}-1.txt"),
        exit: Some(0),
        ok: true,
        step: None,
        subject: "update".into(),
        body: "body".into(),
        detail: None,
        by_hand: false,
    }
}

fn started(step: &str) -> Event {
    Event::StepStarted {
        step: step.into(),
        attempt: 1,
    }
}

fn finished(step: &str, exit: i32) -> Event {
    Event::StepFinished {
        step: step.into(),
        attempt: 1,
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

fn done(step: &str) -> Event {
    Event::StepDone { step: step.into() }
}

/// The window pane alone, as wide as in the 120-column layout.
fn window_pane(app: &App, at: Timestamp) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(50, 9)).unwrap();
    t.draw(|f| {
        let area = f.area();
        cutover::ui::window::render(f, app, cutover::ui::theme(app), at, area, false)
    })
    .unwrap();
    t
}

/// Every cell of every occurrence of `text` has the colour `fg`.
fn coloured(t: &Terminal<TestBackend>, text: &str, fg: Color) -> usize {
    let buf = t.backend().buffer();
    let area = buf.area;
    let mut seen = 0;
    for y in 0..area.height {
        let row: Vec<String> = (0..area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        let joined: String = row.concat();
        let mut from = 0;
        while let Some(byte) = joined[from..].find(text) {
            let start = joined[..from + byte].chars().count() as u16;
            for i in 0..text.chars().count() as u16 {
                assert_eq!(
                    buf[(start + i, y)].fg,
                    fg,
                    "`{text}` at row {y} is not {fg:?}"
                );
            }
            seen += 1;
            from += byte + text.len();
        }
    }
    seen
}

/// The verdict word in the title and in the headline, both in the verdict's colour.
fn assert_verdict(t: &Terminal<TestBackend>, word: &str, fg: Color) {
    assert_eq!(
        coloured(t, word, fg),
        2,
        "`{word}` in the title and the headline"
    );
}

#[test]
fn window_on_track_before_the_window() {
    let app = session(vec![]);
    let t = window_pane(&app, ts("2026-11-28T20:30:00Z"));
    insta::assert_snapshot!(t.backend());
    assert_verdict(&t, "ON TRACK", Color::Green);
    find(&t, "opens in 00:30:00");
}

#[test]
fn window_on_track_inside_with_the_next_update_due() {
    let app = session(vec![("2026-11-28T21:40:00Z", sent("during"))]);
    let t = window_pane(&app, now());
    insta::assert_snapshot!(t.backend());
    assert_verdict(&t, "ON TRACK", Color::Green);
    find(&t, "next update due 23:10 (in 23m)");
}

#[test]
fn window_at_risk_says_since_when() {
    let mut app = session(vec![("2026-11-28T23:45:00Z", sent("during"))]);
    app.view.verdict = Some((cutover::run::Verdict::AtRisk, ts("2026-11-28T23:50:00Z")));
    let t = window_pane(&app, ts("2026-11-28T23:55:00Z"));
    insta::assert_snapshot!(t.backend());
    assert_verdict(&t, "AT RISK", Color::Yellow);
    find(&t, "AT RISK since 00:50");
    coloured(&t, "6m past go/no-go", Color::Yellow);
}

#[test]
fn window_go_no_go_passed() {
    let mut app = session(vec![("2026-11-29T00:30:00Z", sent("during"))]);
    app.view.verdict = Some((
        cutover::run::Verdict::GoNoGoPassed,
        ts("2026-11-29T00:40:00Z"),
    ));
    let t = window_pane(&app, ts("2026-11-29T00:45:00Z"));
    insta::assert_snapshot!(t.backend());
    assert_verdict(&t, "GO/NO-GO PASSED", Color::Red);
    assert_eq!(coloured(&t, "go/no-go 01:40 passed", Color::Red), 1);
}

#[test]
fn window_overrun() {
    let app = session(vec![("2026-11-29T00:50:00Z", sent("during"))]);
    let t = window_pane(&app, ts("2026-11-29T01:12:00Z"));
    insta::assert_snapshot!(t.backend());
    assert_verdict(&t, "OVERRUN", Color::Red);
    assert_eq!(coloured(&t, "00:12:00 past the end", Color::Red), 1);
}

/// The upgrade failed and the rollback runs; the window was extended on the way.
fn rolling_back() -> App {
    session(vec![
        ("2026-11-28T22:00:00Z", done("backup")),
        ("2026-11-28T22:05:00Z", started("helm-upgrade")),
        ("2026-11-28T22:20:00Z", finished("helm-upgrade", 1)),
        (
            "2026-11-28T22:25:00Z",
            Event::RollbackStarted {
                reason: "pods crash-loop on the new version".into(),
            },
        ),
        ("2026-11-28T22:26:00Z", started("helm-rollback")),
        ("2026-11-28T22:30:00Z", sent("rollback")),
        (
            "2026-11-28T22:35:00Z",
            Event::WindowExtended {
                by: "30m".parse().unwrap(),
                reason: "the rollback restores the disks".into(),
            },
        ),
    ])
}

#[test]
fn window_rolling_back() {
    let app = rolling_back();
    let t = window_pane(&app, ts("2026-11-28T22:40:00Z"));
    insta::assert_snapshot!(t.backend());
    assert_verdict(&t, "ON TRACK", Color::Green);
    assert_eq!(coloured(&t, "ROLLING BACK since 23:25", Color::Yellow), 1);
    find(&t, "22:00–02:30 CET · +30m");
    // Downtime runs from the upgrade's start: 35 minutes of the 45 announced.
    find(&t, "downtime 00:35:00 of 45m expected");
}

#[test]
fn rolling_back_sets_the_forward_path_aside_120x40() {
    let mut app = rolling_back();
    app.view.selected = 6;
    let t = draw(&app, 120, 40, ts("2026-11-28T22:40:00Z"));
    insta::assert_snapshot!(t.backend());
    assert_eq!(
        coloured(&t, "ROLL BACK (contingency) · in progress", Color::Yellow),
        1
    );
    find(&t, "PERFORM THE UPGRADE · set aside");
}

#[test]
fn window_finished() {
    let app = session(vec![
        ("2026-11-28T22:00:00Z", done("backup")),
        ("2026-11-28T22:05:00Z", started("helm-upgrade")),
        ("2026-11-28T22:20:00Z", finished("helm-upgrade", 0)),
        ("2026-11-28T22:40:00Z", done("verify")),
        (
            "2026-11-28T22:45:00Z",
            Event::SessionFinished {
                outcome: cutover::session::Outcome::Completed,
            },
        ),
    ]);
    let t = window_pane(&app, ts("2026-11-28T22:50:00Z"));
    insta::assert_snapshot!(t.backend());
    assert_eq!(coloured(&t, "COMPLETED", Color::Green), 2);
    find(&t, "COMPLETED at 23:45 · within the window");
}

#[test]
fn an_overdue_update_is_flagged_in_red() {
    // Updates every 30m from the window's start at 22:00, and none sent.
    let app = session(vec![]);
    let t = window_pane(&app, now());
    insta::assert_snapshot!(t.backend());
    assert_eq!(coloured(&t, "UPDATE OVERDUE since 22:30", Color::Red), 1);
    // The folded layout keeps the flag.
    let t = draw(&app, 80, 24, now());
    assert_eq!(coloured(&t, "UPDATE OVERDUE", Color::Red), 1);
}

/// Steps done (the backup well over its estimate), the upgrade running.
fn timeline_session(ascii: bool) -> App {
    let mut app = session(vec![
        ("2026-11-28T21:40:00Z", started("backup")),
        ("2026-11-28T22:10:00Z", done("backup")),
        ("2026-11-28T22:10:30Z", sent("during")),
        ("2026-11-28T22:12:00Z", started("helm-upgrade")),
    ]);
    app.view.ascii = ascii;
    app.view.no_color = ascii;
    app.view.timeline = true;
    app
}

#[test]
fn timeline_120x40() {
    let app = timeline_session(false);
    let t = draw(&app, 120, 40, ts("2026-11-28T22:20:00Z"));
    insta::assert_snapshot!(t.backend());
    // The backup took 30m against 21m: said in amber.
    assert_eq!(coloured(&t, "30m/21m", Color::Yellow), 1);
    find(&t, "┆");
    find(&t, "▏");
    find(&t, "Timeline · t closes");
}

#[test]
fn timeline_ascii_80x24() {
    let app = timeline_session(true);
    let t = draw(&app, 80, 24, ts("2026-11-28T22:20:00Z"));
    insta::assert_snapshot!(t.backend());
    find(&t, "- planned");
}

#[test]
fn timeline_scrolls_and_says_what_is_out_of_view() {
    let mut app = rolling_back();
    app.view.timeline = true;
    app.view.timeline_scroll = 4;
    let t = draw(&app, 80, 16, ts("2026-11-28T22:40:00Z"));
    insta::assert_snapshot!(t.backend());
}

#[test]
fn message_pane_shows_the_live_draft_folded_80x24() {
    let mut app = session(vec![("2026-11-28T21:40:00Z", sent("during"))]);
    app.view.focus = cutover::app::Pane::Message;
    let t = draw(&app, 80, 24, now());
    insta::assert_snapshot!(t.backend());
    find(&t, "Message · during · live draft · sent 22:40");
}

fn ctrl(app: &mut App, c: char) {
    update(
        app,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
    );
}

fn press(app: &mut App, code: KeyCode) {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

/// Half an hour before the window: the announcement step reopened, opened from the
/// checklist with Enter, its subject edited.
fn editing() -> App {
    let mut app = session(vec![(
        "2026-11-28T20:20:00Z",
        Event::StepReopened {
            step: "announce".into(),
        },
    )]);
    app.view.now = before_window();
    app.view.selected = 2;
    press(&mut app, KeyCode::Enter);
    // The cursor starts in the body; the edit goes to the end of the subject line.
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::End);
    for c in " (22:00 to 02:00)".chars() {
        key(&mut app, c);
    }
    app
}

fn before_window() -> Timestamp {
    ts("2026-11-28T20:30:00Z")
}

#[test]
fn a_message_step_offers_to_open_and_send_its_message() {
    let mut app = session(vec![(
        "2026-11-28T20:20:00Z",
        Event::StepReopened {
            step: "announce".into(),
        },
    )]);
    app.view.selected = 2;
    let t = draw(&app, 80, 24, before_window());
    find(&t, " ⏎ open message  S send  d done");
}

#[test]
fn message_editor_with_an_edited_draft_120x40() {
    let app = editing();
    assert!(app.view.editing);
    let t = draw(&app, 120, 40, before_window());
    insta::assert_snapshot!(t.backend());
    find(&t, "Message · before · edited, unsaved *");
    find(&t, "sending it completes the step `announce`");
    assert!(
        app.view.drafts["before"]
            .text()
            .contains("Platform (22:00 to 02:00)")
    );
    find(&t, "00 to 02:00)");
    find(&t, "ctrl-s save");
}

#[test]
fn message_editor_folded_80x24_takes_the_checklist_s_place() {
    let app = editing();
    let t = draw(&app, 80, 24, before_window());
    insta::assert_snapshot!(t.backend());
}

#[test]
fn send_dialog_shows_what_goes_out_and_how() {
    let mut app = editing();
    ctrl(&mut app, 'g');
    key(&mut app, 'S');
    let t = draw(&app, 80, 24, before_window());
    insta::assert_snapshot!(t.backend());
    find(&t, "runs: mail -s");
}
