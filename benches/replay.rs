//! Resume cost: reading a 100,000-event journal and folding it into the run state (what
//! `cutover resume`, `status` and `watch` do before anything is shown), against reading the
//! same file's bytes and against parsing each of its lines into a `serde_json::Value`.
//!
//! `cargo bench --bench replay`. Plain std timing (no harness): 3 warm-up and 20 timed
//! iterations, every variant once per iteration, so machine noise hits them alike. The
//! file is in the page cache for every variant (it was just written): this measures the
//! CPU work, not the disk.

mod common;

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use common::{Journal, Samples, kind, step_id};
use cutover::run::RunState;
use cutover::runbook::Duration;
use cutover::session::Event;
use cutover::session::journal;

const EVENTS: usize = 100_000;
const WARMUP: usize = 3;
const TIMED: usize = 20;

/// A long session over the 1,000-step runbook: the night is walked again and again
/// (steps reopened and done once more, commands re-run as new attempts, some failing
/// first), with notes, skips, backups, messages, window extensions, resumes and, late,
/// a rollback, until there are `EVENTS` records.
// The step index names the step and picks its kind, not only its attempt counter.
#[allow(clippy::needless_range_loop)]
fn journal(runbook: &cutover::runbook::Runbook) -> Journal {
    let mut j = Journal::new(runbook);
    let mut round = 0u32;
    // Each step's attempts so far: a re-run is the next attempt, as `update` numbers it.
    let mut attempts = vec![0u32; common::STEPS];
    'outer: loop {
        for i in 0..common::STEPS {
            if j.records.len() >= EVENTS - 8 {
                break 'outer;
            }
            if round > 0 {
                j.push(3, Event::StepReopened { step: step_id(i) });
            }
            let command = kind(i) == common::Kind::Command;
            if command && (i + round as usize).is_multiple_of(13) {
                // A failed try first: interrupted, or an exit code; then reopened.
                attempts[i] += 1;
                let step = step_id(i);
                j.push(
                    5,
                    Event::StepStarted {
                        step: step.clone(),
                        attempt: attempts[i],
                    },
                );
                if i % 2 == 0 {
                    j.push(
                        30,
                        Event::StepInterrupted {
                            step: step.clone(),
                            attempt: attempts[i],
                        },
                    );
                } else {
                    j.push(30, common::finished(&step, attempts[i], Some(1), None));
                }
                j.push(10, Event::StepReopened { step });
            }
            attempts[i] += 1;
            j.settle(i, attempts[i]);
            if i % 250 == 0 {
                j.push(1, Event::SessionResumed { pid: 4242 + round });
            }
            if i % 400 == 399 {
                j.push(
                    5,
                    Event::WindowExtended {
                        by: Duration::from_mins(15),
                        reason: "the tenant migration runs slow".into(),
                    },
                );
            }
        }
        round += 1;
    }
    j.push(
        5,
        Event::RollbackStarted {
            reason: "checks failed on tenant group 7".into(),
        },
    );
    while j.records.len() < EVENTS {
        let n = j.records.len();
        j.push(
            5,
            Event::NoteAdded {
                step: step_id(960 + n % 40),
                text: "rolling back: tenant restored from snapshot".into(),
            },
        );
    }
    j
}

fn main() {
    let runbook = common::runbook();
    let j = journal(&runbook);
    assert_eq!(j.records.len(), EVENTS);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("journal.jsonl");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        for r in &j.records {
            f.write_all(journal::encode(r).expect("encode").as_bytes())
                .expect("write");
        }
        f.flush().expect("flush");
    }
    let size = std::fs::metadata(&path).expect("stat").len();
    eprintln!(
        "replay: {EVENTS} events, {:.1} MB ({} B a line on average), {WARMUP} warm-up + {TIMED} timed iterations",
        size as f64 / 1e6,
        size / EVENTS as u64
    );

    // The state the fold must reach: every record applied, none naming an unknown step.
    let expect = RunState::replay(&runbook, &j.records);
    assert_eq!(expect.last_seq, EVENTS as u64);
    assert_eq!(
        expect.unknown_refs, 0,
        "the generated journal names real steps"
    );

    let mut bytes = Samples::default();
    let mut values = Samples::default();
    let mut read = Samples::default();
    let mut fold = Samples::default();
    let mut resume = Samples::default();
    for iter in 0..WARMUP + TIMED {
        let timed = iter >= WARMUP;

        // Baseline 1: the file's bytes.
        let t = Instant::now();
        let b = std::fs::read(&path).expect("read");
        black_box(&b);
        let d = t.elapsed();
        if timed {
            bytes.push_ms(d);
        }
        drop(b);

        // Baseline 2: every line parsed into an untyped JSON value (no CRC, no types).
        let t = Instant::now();
        let text = std::fs::read_to_string(&path).expect("read");
        let mut n = 0usize;
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            black_box(&v);
            n += 1;
        }
        let d = t.elapsed();
        assert_eq!(n, EVENTS);
        if timed {
            values.push_ms(d);
        }
        drop(text);

        // cutover: the resume path, `journal::read` then `RunState::replay`.
        let t = Instant::now();
        let (records, report) = journal::read(&path).expect("journal");
        let r = t.elapsed();
        let state = RunState::replay(&runbook, &records);
        let d = t.elapsed();
        assert_eq!(report.truncated_bytes, 0);
        assert!(
            state == expect,
            "the fold reaches the same state every time"
        );
        if timed {
            read.push_ms(r);
            fold.push_ms(d - r);
            resume.push_ms(d);
        }
    }
    let base = bytes.mean();
    let json = values.mean();
    println!("\n{EVENTS}-event journal ({size} B), ms");
    println!("| variant | mean | min | max | mean / read bytes | mean / JSON values |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, s) in [
        ("baseline: read the file's bytes", &bytes),
        ("baseline: each line into serde_json::Value", &values),
        ("cutover: journal::read + RunState::replay", &resume),
        ("  of which journal::read (CRC, typed records)", &read),
        ("  of which RunState::replay (the fold)", &fold),
    ] {
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.1}× | {:.2}× |",
            s.mean(),
            s.min(),
            s.max(),
            s.mean() / base,
            s.mean() / json
        );
    }
}
