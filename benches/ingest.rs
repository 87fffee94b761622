//! Ingestion throughput: a command that floods its output, run the way the screen runs
//! it (detached supervisor, log file, follower thread, sanitizer, bounded ring), against
//! the same command writing straight into a file.
//!
//! `cargo bench --bench ingest`. Plain std timing (no harness): 3 warm-up and 10 timed
//! iterations, every variant once per iteration, so machine noise hits them alike.
//! Every figure worth quoting is a ratio against the baseline of the same run.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cutover::runner::output::{MAX_BYTES, MAX_LINES};
use cutover::runner::sanitize::{DEFAULT_MAX_LINE_BYTES, OutLine, Sanitizer};
use cutover::runner::supervise;
use cutover::runner::watch::{self, Report, TaskOutput};
use cutover::runner::{ExitRecord, TaskDir, TaskId, TaskSpec};

const LINES: u64 = 3_000_000;
const WARMUP: usize = 3;
const TIMED: usize = 10;
/// The screen's report queue (`REPORT_QUEUE` in src/app/runtime.rs).
const QUEUE: usize = 2;
/// Read size of the follower, used for the sanitizer-alone figure.
const CHUNK: usize = 64 * 1024;
/// A runner iteration that takes longer than this is stuck: abort loudly.
const STUCK: Duration = Duration::from_secs(60);

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let exe = Path::new(env!("CARGO_BIN_EXE_cutover"));
    let work = tempfile::tempdir().expect("tempdir");
    let baseline_file = work.path().join("baseline.out");
    let seq = format!("seq 1 {LINES}");

    let mut base = Samples::default();
    let mut null = Samples::default();
    let mut synced = Samples::default();
    let mut first_out = Samples::default();
    let mut sanit_ring = Samples::default();
    let mut runner = Samples::default();
    let mut sanit = Samples::default();
    let mut follow_only = Samples::default();
    // Breakdown of the runner's wall time, from the exit record's own timestamps.
    let mut to_start = Samples::default();
    let mut lifetime = Samples::default();
    let mut exit_seen = Samples::default();
    let mut ring_len = 0;
    let mut ring_held = 0;
    let mut ring_total = 0;
    let mut log_bytes = 0;

    let rss_start = proc_status_kb("VmRSS");
    eprintln!(
        "ingest: `{seq}`, {WARMUP} warm-up + {TIMED} timed iterations \
         (baseline, references, runner, follower alone, sanitizer alone)"
    );
    for iter in 0..WARMUP + TIMED {
        let timed = iter >= WARMUP;
        if iter == WARMUP {
            // Peak RSS from here on only (Linux ≥ 4.0: "5" resets VmHWM).
            let _ = std::fs::write("/proc/self/clear_refs", "5");
        }

        // 1. Baseline: the command writing straight into a file.
        let _ = std::fs::remove_file(&baseline_file);
        let t = Instant::now();
        sh(&format!("{seq} > '{}'", baseline_file.display()));
        let d = t.elapsed();
        if timed {
            base.push(d);
        }

        // 2. Reference: the command writing into /dev/null.
        let t = Instant::now();
        sh(&format!("{seq} > /dev/null"));
        let d = t.elapsed();
        if timed {
            null.push(d);
        }

        // 2b. Reference: the baseline plus an fsync of the file, as the supervisor
        // does (`sync_data`) before it writes the exit record.
        let synced_file = work.path().join("synced.out");
        let _ = std::fs::remove_file(&synced_file);
        let t = Instant::now();
        sh(&format!(
            "{seq} > '{f}' && sync '{f}'",
            f = synced_file.display()
        ));
        let d = t.elapsed();
        let _ = std::fs::remove_file(&synced_file);
        if timed {
            synced.push(d);
        }

        // 3. The runner path, as the screen drives it.
        let session = work.path().join(format!("session-{iter}"));
        std::fs::create_dir_all(&session).expect("session dir");
        let tasks = TaskDir::new(&session);
        let task = TaskId::step("flood", 1);
        let spec = TaskSpec {
            task: task.clone(),
            session: format!("bench-{iter}"),
            shell: "/bin/sh".into(),
            command: seq.clone(),
            workdir: None,
            env: BTreeMap::new(),
            timeout_ms: None,
            grace_ms: 1000,
            expect: None,
        };
        let t0 = Instant::now();
        let wall0 = jiff::Timestamp::now();
        let mut child = supervise::spawn(exe, &tasks, &spec).expect("spawn the supervisor");
        let (tx, rx) = tokio::sync::mpsc::channel::<Report>(QUEUE);
        watch::follow(tasks.clone(), task.clone(), None, false, tx);
        let (out, exit, first) = consume(rx, &task, t0);
        let d = t0.elapsed();
        let wall_seen = jiff::Timestamp::now();
        let status = child.wait().expect("reap the supervisor");
        assert!(status.success(), "supervisor failed: {status}");
        assert!(exit.success(), "command failed: {}", exit.describe());
        if timed {
            runner.push(d);
            first_out.push(first);
            to_start.push(span(wall0, exit.started));
            lifetime.push(span(exit.started, exit.ended));
            exit_seen.push(span(exit.ended, wall_seen));
        }
        let log = tasks.log(&task);
        let same = files_equal(&log, &baseline_file);
        if !same {
            panic!(
                "BENCH ABORTED: the task log {} differs from the baseline {}",
                log.display(),
                baseline_file.display()
            );
        }
        log_bytes = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        ring_len = out.ring.len();
        ring_held = out.ring.held_bytes();
        ring_total = out.ring.total();
        // A follower far behind may jump ahead (the pane holds a tail anyway), so the
        // ring need not see every line; it must end with the last one, within bounds.
        assert!(ring_len <= MAX_LINES);
        assert_eq!(
            out.ring.get(ring_len - 1).map(|l| l.text.as_str()),
            Some(LINES.to_string().as_str()),
            "the ring ends with the last line"
        );
        drop(out);

        // 3b. The follower alone: the finished task followed again from its start
        // (no process, no waiting for output: read, sanitize, send, absorb).
        let t = Instant::now();
        let (tx, rx) = tokio::sync::mpsc::channel::<Report>(QUEUE);
        watch::follow(tasks.clone(), task.clone(), None, false, tx);
        let (out, _, _) = consume(rx, &task, t);
        let d = t.elapsed();
        assert_eq!(
            out.ring.get(out.ring.len() - 1).map(|l| l.text.as_str()),
            Some(LINES.to_string().as_str())
        );
        drop(out);
        if timed {
            follow_only.push(d);
        }
        let _ = std::fs::remove_dir_all(&session);

        // 4. The sanitizer alone over the baseline's file, in the follower's chunks.
        let mut f = File::open(&baseline_file).expect("open baseline");
        let mut buf = vec![0u8; CHUNK];
        let mut s = Sanitizer::new(DEFAULT_MAX_LINE_BYTES);
        let mut count = 0u64;
        let t = Instant::now();
        loop {
            let n = f.read(&mut buf).expect("read baseline");
            if n == 0 {
                break;
            }
            let mut lines: Vec<OutLine> = Vec::new();
            s.feed(&buf[..n], &mut lines);
            count += lines.len() as u64;
        }
        let mut lines = Vec::new();
        s.finish(&mut lines);
        count += lines.len() as u64;
        let d = t.elapsed();
        assert_eq!(count, LINES);
        if timed {
            sanit.push(d);
        }

        // 4b. The sanitizer and the ring on one thread, without the channel.
        let mut f = File::open(&baseline_file).expect("open baseline");
        let mut s = Sanitizer::new(DEFAULT_MAX_LINE_BYTES);
        let mut out = TaskOutput::new(task.clone());
        let t = Instant::now();
        loop {
            let n = f.read(&mut buf).expect("read baseline");
            if n == 0 {
                break;
            }
            let mut lines: Vec<OutLine> = Vec::new();
            s.feed(&buf[..n], &mut lines);
            out.absorb(lines, s.partial().cloned(), None);
        }
        let mut lines = Vec::new();
        s.finish(&mut lines);
        out.absorb(lines, None, None);
        let d = t.elapsed();
        assert_eq!(out.ring.total(), LINES);
        drop(out);
        if timed {
            sanit_ring.push(d);
        }
        eprint!(
            "{}{}",
            if timed { "." } else { "w" },
            if iter + 1 == WARMUP + TIMED { "\n" } else { "" }
        );
    }

    let hwm = proc_status_kb("VmHWM");
    let ratio_mean = runner.mean() / base.mean();
    let ratio_min = runner.min() / base.min();
    println!();
    println!(
        "`{seq}`: {log_bytes} bytes, {LINES} lines; {TIMED} timed iterations after {WARMUP} warm-up"
    );
    println!();
    println!("| variant | mean ms | min ms | max ms | mean / baseline |");
    println!("|---|---:|---:|---:|---:|");
    let row = |name: &str, s: &Samples| {
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.2}× |",
            s.mean(),
            s.min(),
            s.max(),
            s.mean() / base.mean()
        );
    };
    row("baseline: `seq > file`", &base);
    row("`seq > /dev/null` (reference)", &null);
    row("`seq > file && sync file` (reference)", &synced);
    row("runner: spawn → Exited, all absorbed", &runner);
    row("  of which: spawn → supervisor started", &to_start);
    row(
        "  of which: supervisor lifetime (started → ended)",
        &lifetime,
    );
    row("  of which: exit record → Exited received", &exit_seen);
    row("  (spawn → first Output received)", &first_out);
    row("follower alone over the finished log", &follow_only);
    row("sanitizer alone, 64 KiB chunks", &sanit);
    row("sanitizer + ring, one thread, no channel", &sanit_ring);
    println!();
    let verdict = if ratio_mean <= 2.0 { "meets" } else { "MISSES" };
    println!(
        "runner / baseline: {ratio_mean:.2}× (mean), {ratio_min:.2}× (min); target ≤ 2×: {verdict}"
    );
    println!(
        "sanitizer throughput: {:.0} MB/s; follower alone: {:.0} MB/s of log",
        log_bytes as f64 / 1e6 / (sanit.mean() / 1e3),
        log_bytes as f64 / 1e6 / (follow_only.mean() / 1e3)
    );
    let skipped = if ring_total < LINES {
        " (the follower skipped ahead over the rest)"
    } else {
        ""
    };
    println!(
        "ring after the flood: {ring_len} lines held (bound {MAX_LINES}), held_bytes {ring_held} \
         (bound {MAX_BYTES} + slots); {ring_total} lines passed through it of {LINES}{skipped}"
    );
    println!(
        "bench process RSS: {} KiB at start, peak (VmHWM, timed iterations) {} KiB",
        rss_start.map_or("?".into(), |v| v.to_string()),
        hwm.map_or("?".into(), |v| v.to_string())
    );
}

/// Receives until `Exited`, absorbing every `Output` like the screen does.
fn consume(
    mut rx: tokio::sync::mpsc::Receiver<Report>,
    task: &TaskId,
    start: Instant,
) -> (TaskOutput, ExitRecord, Duration) {
    let mut out = TaskOutput::new(task.clone());
    let mut first = None;
    loop {
        match rx.blocking_recv() {
            Some(Report::Output {
                lines,
                partial,
                progress,
                ..
            }) => {
                first.get_or_insert_with(|| start.elapsed());
                out.absorb(lines, partial, progress)
            }
            Some(Report::Exited { exit, .. }) => {
                let first = first.unwrap_or_else(|| start.elapsed());
                return (out, exit, first);
            }
            Some(Report::Lost { why, .. }) => panic!("BENCH ABORTED: task lost: {why}"),
            None => panic!("BENCH ABORTED: the follower stopped without an exit"),
        }
        if start.elapsed() > STUCK {
            panic!("BENCH ABORTED: no exit after {STUCK:?}");
        }
    }
}

fn sh(script: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .status()
        .expect("run sh");
    assert!(status.success(), "`{script}` failed: {status}");
}

/// Byte-for-byte comparison, streamed (keeps the bench's own RSS out of the figure).
fn files_equal(a: &PathBuf, b: &PathBuf) -> bool {
    let (Ok(mut fa), Ok(mut fb)) = (File::open(a), File::open(b)) else {
        return false;
    };
    let mut ba = vec![0u8; 1 << 20];
    let mut bb = vec![0u8; 1 << 20];
    loop {
        let na = read_full(&mut fa, &mut ba);
        let nb = read_full(&mut fb, &mut bb);
        if na != nb || ba[..na] != bb[..nb] {
            return false;
        }
        if na == 0 {
            return true;
        }
    }
}

fn read_full(f: &mut File, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => panic!("BENCH ABORTED: read failed: {e}"),
        }
    }
    n
}

fn span(a: jiff::Timestamp, b: jiff::Timestamp) -> Duration {
    let ns = b.as_nanosecond() - a.as_nanosecond();
    Duration::from_nanos(ns.max(0) as u64)
}

fn proc_status_kb(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

#[derive(Default)]
struct Samples(Vec<f64>);

impl Samples {
    fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1e3);
    }
    fn mean(&self) -> f64 {
        self.0.iter().sum::<f64>() / self.0.len().max(1) as f64
    }
    fn min(&self) -> f64 {
        self.0.iter().copied().fold(f64::INFINITY, f64::min)
    }
    fn max(&self) -> f64 {
        self.0.iter().copied().fold(0.0, f64::max)
    }
}
