//! The screen, drawn with ratatui's TestBackend at fixed times: reviewed snapshots at
//! 120x40, 80x24 and 40x12, style checks where colour carries meaning, and no panic at
//! any size.

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
    find(&t, "BEFORE WINDOW");
    find(&t, "opens in 00:30:00");
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

#[test]
fn no_color_means_no_colour_at_all() {
    let app = app(false, true);
    let t = draw(&app, 120, 40, ts("2026-11-29T01:12:00Z"));
    let buf = t.backend().buffer();
    for cell in buf.content() {
        assert!(
            cell.style().fg.is_none_or(|c| c == Color::Reset),
            "coloured cell {:?}",
            cell
        );
    }
    find(&t, "OVERRUN");
}

#[test]
fn no_panic_at_any_size() {
    let mut app = app(false, false);
    // Draw the fullest screen: a dialog over the layout.
    key(&mut app, 'n');
    for w in 1..=300u16 {
        for h in 1..=100u16 {
            let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
            t.draw(|f| cutover::ui::render(f, &app, now())).unwrap();
        }
    }
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
