//! Frame cost: `cutover::ui::render` of a 1,000-step session, drawn the way the screen
//! draws it (`Terminal::draw`: render into the back buffer, diff against the front one),
//! against two baselines drawn in the same loop: an empty frame (ratatui's own buffer
//! reset and diff, the floor of any frame) and a trivial one-Paragraph frame.
//!
//! `cargo bench --bench render`. Plain std timing (no harness): per size, 100 warm-up and
//! 1,000 timed frames, the clock one second later each frame so the countdown changes as
//! it does on a real screen. The variants take turns frame by frame, so machine noise
//! hits them alike; every figure worth quoting is a ratio against a baseline of the same
//! run.

mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::io::{self, Write};
use std::rc::Rc;
use std::time::Instant;

use common::Samples;
use cutover::app::App;
use jiff::{SignedDuration, Timestamp};
use ratatui::backend::{CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Paragraph};
use ratatui::{Terminal, TerminalOptions, Viewport};

const WARMUP: usize = 100;
const TIMED: usize = 1_000;
/// Steps settled before the one running (a few hundred journal events).
const DONE: usize = 306;
/// Lines of output the running step has printed so far.
const OUTPUT_LINES: usize = 400;

/// Counts what a frame would send to the terminal (shared: the backend owns its writer).
#[derive(Default, Clone)]
struct Counter(Rc<Cell<u64>>);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.set(self.0.get() + buf.len() as u64);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn app() -> (App, Timestamp, usize) {
    let runbook = common::runbook();
    let (journal, running) = common::night(&runbook, DONE);
    let now = journal.at + SignedDuration::from_secs(30);
    let mut app = App::new(
        runbook,
        &journal.records,
        common::OPERATOR.into(),
        false,
        false,
    );
    let out = common::output(running, OUTPUT_LINES);
    app.view
        .outputs
        .insert((out.task.kind, out.task.id.clone()), out);
    app.view.now = now;
    assert_eq!(
        app.run.steps[app.view.selected].id,
        common::step_id(running),
        "the screen opens on the running step"
    );
    eprintln!(
        "render: {} steps, {} journal events, step {} running with {} lines of output",
        app.run.steps.len(),
        journal.records.len(),
        common::step_id(running),
        OUTPUT_LINES
    );
    (app, now, running)
}

/// Panics unless `buf` shows the running step (its id or its title).
fn check_frame(name: &str, w: u16, h: u16, buf: &ratatui::buffer::Buffer, running: usize) {
    let text: String = buf.content.iter().map(|c| c.symbol()).collect();
    let id = common::step_id(running);
    let title = format!("tenant {running}");
    assert!(
        text.contains(&id) || text.contains(&title),
        "{name} {w}x{h}: neither {id} nor {title:?} is on the screen"
    );
}

struct Row {
    name: &'static str,
    s: Samples,
}

fn main() {
    let (app, start, running) = app();
    for (w, h) in [(200u16, 50u16), (80, 24)] {
        let mut full = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
        let mut empty = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
        let mut para = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
        let counter = Counter::default();
        // A CrosstermBackend would ask the real terminal for its size: a fixed viewport
        // never does.
        let mut wire = Terminal::with_options(
            CrosstermBackend::new(counter.clone()),
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, w, h)),
            },
        )
        .expect("counter");
        let mut rows = [
            Row {
                name: "baseline: empty draw (buffer reset + diff)",
                s: Samples::default(),
            },
            Row {
                name: "baseline: one Paragraph",
                s: Samples::default(),
            },
            Row {
                name: "cutover::ui::render, TestBackend",
                s: Samples::default(),
            },
            Row {
                name: "cutover::ui::render, CrosstermBackend (bytes counted)",
                s: Samples::default(),
            },
        ];
        let mut first_bytes = 0;
        let mut bytes_after_first = 0u64;
        for frame in 0..WARMUP + TIMED {
            let now = start + SignedDuration::from_secs(frame as i64);
            let timed = frame >= WARMUP;

            let t = Instant::now();
            empty.draw(|_| {}).expect("draw");
            let d = t.elapsed();
            if timed {
                rows[0].s.push_us(d);
            }

            let t = Instant::now();
            para.draw(|f| {
                let text = format!("cutover · {now}\nnothing else on this screen");
                f.render_widget(Paragraph::new(text).block(Block::bordered()), f.area());
            })
            .expect("draw");
            let d = t.elapsed();
            if timed {
                rows[1].s.push_us(d);
            }

            let t = Instant::now();
            full.draw(|f| cutover::ui::render(f, black_box(&app), now))
                .expect("draw");
            let d = t.elapsed();
            if timed {
                rows[2].s.push_us(d);
            }

            let before = counter.0.get();
            let t = Instant::now();
            wire.draw(|f| cutover::ui::render(f, black_box(&app), now))
                .expect("draw");
            let d = t.elapsed();
            let sent = counter.0.get() - before;
            if frame == 0 {
                first_bytes = sent;
            } else if timed {
                bytes_after_first += sent;
            }
            if timed {
                rows[3].s.push_us(d);
            }
        }
        // The frames drew the session, not an empty or an error screen: one more frame
        // on each terminal shows the running step.
        let end = start + SignedDuration::from_secs((WARMUP + TIMED) as i64);
        let done = full
            .draw(|f| cutover::ui::render(f, &app, end))
            .expect("draw");
        check_frame("TestBackend", w, h, done.buffer, running);
        let done = wire
            .draw(|f| cutover::ui::render(f, &app, end))
            .expect("draw");
        check_frame("CrosstermBackend", w, h, done.buffer, running);
        let base = rows[0].s.mean();
        let para_mean = rows[1].s.mean();
        println!("\n{w}x{h}: {WARMUP} warm-up + {TIMED} timed frames, clock +1 s a frame, µs");
        println!("| variant | mean | p50 | p99 | max | mean / empty draw | mean / one Paragraph |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for r in &rows {
            println!(
                "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2}× | {:.2}× |",
                r.name,
                r.s.mean(),
                r.s.pct(50.0),
                r.s.pct(99.0),
                r.s.max(),
                r.s.mean() / base,
                r.s.mean() / para_mean,
            );
        }
        println!(
            "bytes to the terminal: first frame {first_bytes} B, then {:.1} B a frame on \
             average (the countdown and the running step's time change every second)",
            bytes_after_first as f64 / TIMED as f64
        );
    }
}
