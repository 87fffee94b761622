//! Replay equals the live state: random operator sessions are driven through the real
//! `update`, each recorded event is appended to a real journal and applied live, and
//! then the journal is reopened from disk and replayed. The two states must be equal,
//! also after a torn write at the end.

use std::io::Write;
use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use cutover::app::{App, Effect, Msg, update};
use cutover::run::RunState;
use cutover::runbook::Runbook;
use cutover::session::{Event, Journal, WindowSpec};
use jiff::Timestamp;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Key(char),
    Enter,
    Type(String),
    Cancel,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::sample::select(vec!['j', 'k', 'g', 'G', 'd', 's', 'u', 'n', '?', '\t'])
            .prop_map(Op::Key),
        2 => Just(Op::Enter),
        2 => "[a-z ]{1,12}".prop_map(Op::Type),
        1 => Just(Op::Cancel),
    ]
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn msgs(op: &Op) -> Vec<Msg> {
    match op {
        Op::Key('\t') => vec![key(KeyCode::Tab)],
        Op::Key(c) => vec![key(KeyCode::Char(*c))],
        Op::Enter => vec![key(KeyCode::Enter)],
        Op::Type(text) => text.chars().map(|c| key(KeyCode::Char(c))).collect(),
        Op::Cancel => vec![Msg::Key(KeyEvent::new(
            KeyCode::Char('g'),
            KeyModifiers::CONTROL,
        ))],
    }
}

fn runbook() -> Runbook {
    Runbook::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ui/upgrade.toml"))
        .unwrap()
}

/// Starts a session in `dir` the way `cutover run` does and returns the live app.
fn start(dir: &Path) -> (App, Journal) {
    let rb = runbook();
    let mut journal = Journal::create(&dir.join("journal.jsonl")).unwrap();
    let start: Timestamp = "2026-11-28T21:00:00Z".parse().unwrap();
    let first = journal
        .append(
            "op@host",
            start,
            Event::SessionStarted {
                session: "s".into(),
                runbook_path: "upgrade.toml".into(),
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
        )
        .unwrap();
    let app = App::new(rb, &[first], "op@host".into(), false, true);
    (app, journal)
}

/// What the runtime does with effects, minus the terminal.
fn drive(app: &mut App, journal: &mut Journal, ops: &[Op]) -> usize {
    let mut recorded = 0;
    let mut second = 0i64;
    for op in ops {
        for msg in msgs(op) {
            for effect in update(app, msg) {
                if let Effect::Record(events) = effect {
                    for event in events {
                        second += 1;
                        let at = Timestamp::from_second(1_800_000_000 + second).unwrap();
                        let record = journal.append("op@host", at, event).unwrap();
                        app.apply(&record);
                        recorded += 1;
                    }
                }
            }
        }
    }
    recorded
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn replay_equals_the_live_state(ops in prop::collection::vec(op(), 1..80), torn in 0usize..40) {
        let dir = tempfile::tempdir().unwrap();
        let (mut app, mut journal) = start(dir.path());
        let recorded = drive(&mut app, &mut journal, &ops);
        let next = journal.next_seq();
        drop(journal);

        // A crash mid-append leaves part of a line: it was never acknowledged, so it must
        // not change what replay shows.
        if torn > 0 {
            let mut f = std::fs::OpenOptions::new().append(true).open(dir.path().join("journal.jsonl")).unwrap();
            f.write_all(&br#"{"seq":999,"at":"2027-01-15T08:00:00Z","by":"o","event":{"type":"step_done","step":"schedule"}"#[..torn]).unwrap();
        }

        let (reopened, records, _) = Journal::open(&dir.path().join("journal.jsonl")).unwrap();
        prop_assert_eq!(records.len(), recorded + 1);
        prop_assert_eq!(reopened.next_seq(), next);
        let replayed = RunState::replay(&app.runbook, &records);
        prop_assert_eq!(&replayed, &app.run);
    }
}

#[test]
fn the_generator_reaches_every_kind_of_record() {
    // Guards the property above against a generator that never records anything.
    let dir = tempfile::tempdir().unwrap();
    let (mut app, mut journal) = start(dir.path());
    let ops = vec![
        Op::Key('d'),
        Op::Key('n'),
        Op::Type("checked".into()),
        Op::Enter,
        Op::Key('s'),
        Op::Type("not needed".into()),
        Op::Enter,
        Op::Key('k'),
        Op::Key('u'),
        Op::Key('G'),
        Op::Key('d'),
    ];
    let n = drive(&mut app, &mut journal, &ops);
    assert!(n >= 4, "only {n} records");
    let (_, records, _) = Journal::open(&dir.path().join("journal.jsonl")).unwrap();
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| match r.event {
            Event::StepDone { .. } => "done",
            Event::NoteAdded { .. } => "note",
            Event::StepSkipped { .. } => "skipped",
            Event::StepReopened { .. } => "reopened",
            _ => "other",
        })
        .collect();
    for want in ["done", "note", "skipped", "reopened"] {
        assert!(kinds.contains(&want), "no {want} in {kinds:?}");
    }
    assert_eq!(RunState::replay(&app.runbook, &records), app.run);
}
