//! Following tasks from the screen: one small thread per running task tails its log in
//! chunks, sanitizes it, and reports output, the exit record, or a supervisor that
//! vanished. The same follower re-attaches on resume, so "finished while detached",
//! "still running" and "gone" are all found by one code path.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration as StdDuration, Instant};

use regex::Regex;

use super::output::{Ring, mask_line};
use super::sanitize::{DEFAULT_MAX_LINE_BYTES, OutLine, Sanitizer};
use super::task::{ExitRecord, TaskDir, TaskId, TaskKind, TaskSpec};
use crate::run::RunState;
use crate::runbook::{Runbook, StepKind};

/// How far back a re-attached or finished task's log is read for the screen: the pane
/// shows a tail, and `l` opens the whole file.
pub const TAIL_BYTES: u64 = 256 * 1024;
/// Read size: big enough that a flood costs one message per 64 KiB, not per line.
const CHUNK: usize = 64 * 1024;
/// How soon a follower looks again after finding nothing new; it backs off to
/// `POLL_MAX` while a command is quiet, and is back to the minimum as soon as output
/// comes.
const POLL_MIN: StdDuration = StdDuration::from_millis(5);
const POLL_MAX: StdDuration = StdDuration::from_millis(200);
/// A follower further behind the log's end than this jumps to the last `TAIL_BYTES`:
/// the pane holds only a tail anyway, and a flood must not keep it minutes behind.
const SKIP_AHEAD: u64 = 4 * 1024 * 1024;
/// How often it checks that the supervisor is still there.
const LIVENESS: StdDuration = StdDuration::from_secs(1);
/// A spec with no pid record after this long means the supervisor never started. Long,
/// because calling a slow start "lost" would invite running the command twice.
const START_GRACE: StdDuration = StdDuration::from_secs(30);
/// Default SIGTERM-to-SIGKILL grace when the runbook gives none.
pub const DEFAULT_GRACE_MS: u64 = 10_000;

/// Real progress read from a backup's output with its `progress` regex.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub done: u64,
    /// `None` when the regex has one group (a percentage); then `done` is the percent.
    pub total: Option<u64>,
}

impl Progress {
    pub fn fraction(&self) -> f64 {
        let total = self.total.unwrap_or(100).max(1);
        (self.done as f64 / total as f64).clamp(0.0, 1.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// New output of `task`: completed lines, and the line still being written.
    Output {
        task: TaskId,
        lines: Vec<OutLine>,
        partial: Option<OutLine>,
        progress: Option<Progress>,
    },
    /// The exit record appeared. `detached`: it was already there when the follower
    /// started, so the task ended while no screen watched it.
    Exited {
        task: TaskId,
        exit: ExitRecord,
        detached: bool,
    },
    /// The supervisor is gone and left no exit record (a reboot, a kill -9 of it, or
    /// it never started).
    Lost { task: TaskId, why: String },
}

impl Report {
    pub fn task(&self) -> &TaskId {
        match self {
            Report::Output { task, .. }
            | Report::Exited { task, .. }
            | Report::Lost { task, .. } => task,
        }
    }
}

/// The regex of a backup's `progress`, if it has one that compiles (validate checks it).
pub fn progress_regex(runbook: &Runbook, task: &TaskId) -> Option<Regex> {
    if task.kind != TaskKind::Backup {
        return None;
    }
    let text = runbook.backup(&task.id)?.progress.as_ref()?;
    Regex::new(text.get_ref()).ok()
}

/// The latest progress the lines show, newest first.
pub fn progress_in<'a>(
    re: &Regex,
    lines: impl DoubleEndedIterator<Item = &'a OutLine>,
) -> Option<Progress> {
    for line in lines.rev() {
        if let Some(c) = re.captures(&line.text) {
            let num = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u64>().ok());
            return match (num(1), num(2)) {
                (Some(done), Some(total)) => Some(Progress {
                    done,
                    total: Some(total),
                }),
                (Some(pct), None) => Some(Progress {
                    done: pct,
                    total: None,
                }),
                _ => None,
            };
        }
    }
    None
}

/// Starts a follower thread for `task`. `tail_only`: begin near the end of the log (a
/// re-attach), rather than at its start (a task this screen just started).
pub fn follow(
    tasks: TaskDir,
    task: TaskId,
    progress: Option<Regex>,
    tail_only: bool,
    tx: tokio::sync::mpsc::Sender<Report>,
) {
    let name = format!("follow {}", task.name());
    let spawned = std::thread::Builder::new()
        .name(name)
        .spawn(move || Follower::new(tasks, task, progress, tx).run(tail_only));
    if let Err(e) = spawned {
        tracing::error!("cannot start a follower thread: {e}");
    }
}

struct Follower {
    tasks: TaskDir,
    task: TaskId,
    progress: Option<Regex>,
    tx: tokio::sync::mpsc::Sender<Report>,
    sanitizer: Sanitizer,
}

impl Follower {
    fn new(
        tasks: TaskDir,
        task: TaskId,
        progress: Option<Regex>,
        tx: tokio::sync::mpsc::Sender<Report>,
    ) -> Follower {
        Follower {
            tasks,
            task,
            progress,
            tx,
            sanitizer: Sanitizer::new(DEFAULT_MAX_LINE_BYTES),
        }
    }

    fn send(&self, report: Report) -> bool {
        // The screen has gone: nothing left to follow for.
        self.tx.blocking_send(report).is_ok()
    }

    fn run(mut self, tail_only: bool) {
        let began = Instant::now();
        // Only a re-attach can find a task that ended while nobody watched; a task this
        // screen just started (even one that failed to start) did not.
        let detached = tail_only && matches!(self.tasks.read_exit(&self.task), Ok(Some(_)));
        let mut file: Option<std::fs::File> = None;
        let mut buf = vec![0u8; CHUNK];
        let mut last_liveness = Instant::now();
        let mut poll = POLL_MIN;
        let mut checked_start = false;
        loop {
            if file.is_none() {
                file = open_log(&self.tasks.log(&self.task), tail_only);
            }
            if let Some(f) = file.as_mut()
                && let Some(skipped) = skip_ahead(f)
            {
                // What was jumped over is only in the log; say so where it was.
                self.sanitizer = Sanitizer::new(DEFAULT_MAX_LINE_BYTES);
                let note = OutLine {
                    text: format!(
                        "… {} of output not shown here (l opens the full log)",
                        super::output::human_size(skipped)
                    ),
                    styles: Vec::new(),
                };
                let task = self.task.clone();
                if !self.send(Report::Output {
                    task,
                    lines: vec![note],
                    partial: None,
                    progress: None,
                }) {
                    return;
                }
            }
            let n = match file.as_mut().map(|f| f.read(&mut buf)) {
                Some(Ok(n)) => n,
                Some(Err(e)) => {
                    tracing::warn!(task = %self.task.name(), "reading the log failed: {e}");
                    0
                }
                None => 0,
            };
            if n > 0 {
                if !self.forward(&buf[..n], false) {
                    return;
                }
                poll = POLL_MIN;
                continue;
            }
            match self.tasks.read_exit(&self.task) {
                Ok(Some(exit)) => {
                    // The supervisor writes the exit record after the command and its
                    // group are done, so what is in the log now is all there will be.
                    if file.is_none() {
                        file = open_log(&self.tasks.log(&self.task), tail_only);
                    }
                    if let Some(f) = file.as_mut() {
                        loop {
                            match f.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if !self.forward(&buf[..n], false) {
                                        return;
                                    }
                                }
                            }
                        }
                    }
                    if !self.forward(&[], true) {
                        return;
                    }
                    let task = self.task.clone();
                    self.send(Report::Exited {
                        task,
                        exit,
                        detached,
                    });
                    return;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(task = %self.task.name(), "exit record unreadable: {e}"),
            }
            if last_liveness.elapsed() >= LIVENESS || !checked_start {
                checked_start = true;
                last_liveness = Instant::now();
                if let Some(why) = self.gone(began) {
                    // One more look: the exit record may have landed just now.
                    if matches!(self.tasks.read_exit(&self.task), Ok(Some(_))) {
                        continue;
                    }
                    let task = self.task.clone();
                    self.send(Report::Lost { task, why });
                    return;
                }
            }
            std::thread::sleep(poll);
            poll = (poll * 2).min(POLL_MAX);
        }
    }

    /// Why the supervisor is known to be gone, if it is.
    fn gone(&self, began: Instant) -> Option<String> {
        match self.tasks.read_pid(&self.task) {
            Ok(Some(pid)) if pid.is_alive() => None,
            Ok(Some(pid)) => Some(match pid.child_pgid.filter(|g| group_alive(*g)) {
                Some(g) => format!(
                    "its supervisor (pid {}) is gone, but its command's process group {g} \
                     is still there: it may still be running",
                    pid.pid
                ),
                None => format!(
                    "its supervisor (pid {}) is gone and left no exit record",
                    pid.pid
                ),
            }),
            Ok(None) if !self.tasks.spec(&self.task).exists() => {
                Some("it was never started (no task files)".into())
            }
            Ok(None) if began.elapsed() > START_GRACE => {
                Some("its supervisor never started".into())
            }
            Ok(None) => None,
            Err(e) => Some(format!("its pid record is unreadable: {e}")),
        }
    }

    /// Sanitizes `bytes` and sends what they make; `end` flushes the last partial line.
    fn forward(&mut self, bytes: &[u8], end: bool) -> bool {
        let mut lines = Vec::new();
        self.sanitizer.feed(bytes, &mut lines);
        if end {
            self.sanitizer.finish(&mut lines);
        }
        let partial = self.sanitizer.partial().cloned();
        if lines.is_empty() && partial.is_none() && !end {
            return true;
        }
        let progress = self
            .progress
            .as_ref()
            .and_then(|re| progress_in(re, lines.iter().chain(partial.iter())));
        let task = self.task.clone();
        self.send(Report::Output {
            task,
            lines,
            partial,
            progress,
        })
    }
}

/// Jumps to the last `TAIL_BYTES` of the log (on a line start) when the reader is more
/// than `SKIP_AHEAD` behind its end; returns how many bytes were jumped over.
fn skip_ahead(f: &mut std::fs::File) -> Option<u64> {
    let pos = f.stream_position().ok()?;
    let len = f.metadata().ok()?.len();
    if len.saturating_sub(pos) <= SKIP_AHEAD {
        return None;
    }
    seek_to_line_start(f, len - TAIL_BYTES)?;
    let now = f.stream_position().ok()?;
    Some(now.saturating_sub(pos))
}

/// Positions `f` just after the first line end (`\n` or `\r`) in the 64 KiB from `from`,
/// so display starts on a line rather than mid-line or mid-character; at `from` itself
/// when there is none (one huge line: its tail is shown, cut).
fn seek_to_line_start(f: &mut std::fs::File, from: u64) -> Option<()> {
    f.seek(SeekFrom::Start(from)).ok()?;
    let mut buf = vec![0u8; CHUNK];
    let n = f.read(&mut buf).ok()?;
    let skip = buf[..n]
        .iter()
        .position(|b| matches!(b, b'\n' | b'\r'))
        .map_or(0, |i| i + 1);
    f.seek(SeekFrom::Start(from + skip as u64)).ok()?;
    Some(())
}

/// Whether any process of group `pgid` exists (signal 0 checks without sending).
fn group_alive(pgid: u32) -> bool {
    let Ok(g) = i32::try_from(pgid) else {
        return false;
    };
    if g <= 1 {
        return false;
    }
    // SAFETY: kill(2) with signal 0 only checks for existence and permission.
    unsafe { libc::kill(-g, 0) == 0 }
}

fn open_log(path: &std::path::Path, tail_only: bool) -> Option<std::fs::File> {
    let mut f = std::fs::File::open(path).ok()?;
    if tail_only {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len > TAIL_BYTES {
            seek_to_line_start(&mut f, len - TAIL_BYTES)?;
        }
    }
    Some(f)
}

/// The tail of a finished task's log, for the output pane.
pub fn load_tail(tasks: &TaskDir, task: &TaskId, progress: Option<&Regex>) -> TaskOutput {
    let mut out = TaskOutput::new(task.clone());
    let Some(mut f) = open_log(&tasks.log(task), true) else {
        out.missing = true;
        return out;
    };
    let mut bytes = Vec::new();
    if f.read_to_end(&mut bytes).is_err() {
        out.missing = true;
        return out;
    }
    let mut s = Sanitizer::new(DEFAULT_MAX_LINE_BYTES);
    let mut lines = Vec::new();
    s.feed(&bytes, &mut lines);
    s.finish(&mut lines);
    if let Some(re) = progress {
        out.progress = progress_in(re, lines.iter());
    }
    let secrets = crate::runbook::secrets::active();
    for line in &mut lines {
        mask_line(secrets, line, false);
    }
    out.ring.push_lines(lines);
    out
}

/// What the screen holds of one task's output.
#[derive(Debug, Clone)]
pub struct TaskOutput {
    pub task: TaskId,
    pub ring: Ring,
    pub progress: Option<Progress>,
    /// The log does not exist (the task never started, or its files were removed).
    pub missing: bool,
}

impl TaskOutput {
    pub fn new(task: TaskId) -> TaskOutput {
        TaskOutput {
            task,
            ring: Ring::new(),
            progress: None,
            missing: false,
        }
    }

    /// Takes in what a follower read. Secrets are masked here, where every line enters
    /// the screen's memory, so the ring never holds one (the log on disk is the command's
    /// own output and is not changed).
    pub fn absorb(
        &mut self,
        mut lines: Vec<OutLine>,
        mut partial: Option<OutLine>,
        progress: Option<Progress>,
    ) {
        let secrets = crate::runbook::secrets::active();
        if !secrets.is_empty() {
            for line in &mut lines {
                mask_line(secrets, line, false);
            }
            if let Some(p) = &mut partial {
                mask_line(secrets, p, true);
            }
        }
        self.missing = false;
        if !lines.is_empty() {
            // The first completed line is the old partial line finished: were the partial
            // still holding its slot while they go in, a full ring would evict a second
            // line for it, and how many lines survive would depend on the chunking.
            self.ring.set_partial(None);
        }
        self.ring.push_lines(lines);
        self.ring.set_partial(partial);
        if progress.is_some() {
            self.progress = progress;
        }
    }
}

/// The tasks a replayed state says are running: the ones to re-attach to (or to find
/// finished, or gone) when a screen opens.
pub fn running_tasks(runbook: &Runbook, run: &RunState) -> Vec<TaskId> {
    use crate::run::{BackupStatus, StepStatus};
    let mut out = Vec::new();
    for b in &run.backups {
        match b.status {
            BackupStatus::Running => out.push(TaskId::backup(&b.id, b.attempts)),
            BackupStatus::Verifying => out.push(TaskId::verify(&b.id, b.attempts)),
            _ => {}
        }
    }
    out.extend(
        run.steps
            .iter()
            .filter(|s| s.status == StepStatus::Running && s.attempts > 0)
            // Backup steps run nothing themselves: their backups are the tasks.
            .filter(|s| {
                runbook
                    .step(&s.id)
                    .is_some_and(|r| r.kind() == StepKind::Command)
            })
            .map(|s| TaskId::step(&s.id, s.attempts)),
    );
    out
}

/// The shell when neither the step (or backup), the runbook nor the operator's config
/// names one.
pub const DEFAULT_SHELL: &str = "/bin/sh";

/// What to run for `task`, from the verified runbook and the session's variables. The
/// command comes from the runbook copy, never from the journal. `default_shell` (the
/// config's `shell`) stands in for [`DEFAULT_SHELL`].
pub fn spec_for(
    runbook: &Runbook,
    run: &RunState,
    task: &TaskId,
    default_shell: Option<&str>,
) -> Option<TaskSpec> {
    let header = &runbook.file.runbook;
    let (command, shell, workdir, timeout, grace, expect, step_id) = match task.kind {
        TaskKind::Step => {
            let step = runbook.step(&task.id)?;
            if step.kind() != StepKind::Command {
                return None;
            }
            (
                step.run.as_ref()?.get_ref().clone(),
                step.shell.clone(),
                step.workdir.clone(),
                step.timeout,
                step.grace,
                step.expect.as_ref().map(|e| e.get_ref().clone()),
                task.id.clone(),
            )
        }
        TaskKind::Backup | TaskKind::Verify => {
            let b = runbook.backup(&task.id)?;
            let command = if task.kind == TaskKind::Backup {
                b.run.clone()
            } else {
                b.verify.clone()?
            };
            let owner = runbook
                .backup_step(&task.id)
                .map(|s| s.id.get_ref().clone())
                .unwrap_or_default();
            (
                command,
                b.shell.clone(),
                b.workdir.clone(),
                b.timeout,
                b.grace,
                None,
                owner,
            )
        }
    };
    let shell = shell
        .or_else(|| header.shell.clone())
        .unwrap_or_else(|| default_shell.unwrap_or(DEFAULT_SHELL).to_string());
    let workdir = workdir.or_else(|| header.workdir.clone()).map(|w| {
        let p = PathBuf::from(&w);
        // A relative workdir means relative to the runbook file, wherever cutover was
        // started from (resume may run in another directory).
        match std::path::Path::new(&run.runbook_path).parent() {
            Some(base) if p.is_relative() && base.is_absolute() => base.join(p),
            _ => p,
        }
    });
    // The runbook's secrets are deliberately not here: the spec is a file. Commands get
    // them by inheriting the environment of the screen that starts their supervisor,
    // which `run` and `resume` refuse to open without them (see `runbook::secrets`).
    let mut env: BTreeMap<String, String> = run.vars.clone();
    env.insert("CUTOVER_SESSION".into(), run.session.clone());
    env.insert("CUTOVER_STEP".into(), step_id);
    env.insert("CUTOVER_ATTEMPT".into(), task.attempt.to_string());
    env.insert("CUTOVER_TASK".into(), task.name());
    if task.kind != TaskKind::Step {
        env.insert("CUTOVER_BACKUP".into(), task.id.clone());
    }
    let ms = |d: crate::runbook::Duration| (d.as_secs().max(0) as u64).saturating_mul(1000);
    Some(TaskSpec {
        task: task.clone(),
        session: run.session.clone(),
        shell,
        command,
        workdir,
        env,
        timeout_ms: timeout.map(ms),
        grace_ms: grace.map_or(DEFAULT_GRACE_MS, ms),
        expect,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_reader_far_behind_jumps_to_a_line_start_near_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut f = std::fs::File::create(&path).unwrap();
        for i in 0..1_000_000u32 {
            writeln!(f, "line {i}").unwrap();
        }
        drop(f);
        let len = std::fs::metadata(&path).unwrap().len();
        let mut r = std::fs::File::open(&path).unwrap();
        let skipped = skip_ahead(&mut r).expect("more than SKIP_AHEAD behind");
        let pos = r.stream_position().unwrap();
        assert_eq!(skipped, pos);
        assert!(len - pos <= TAIL_BYTES, "{len} {pos}");
        let mut rest = String::new();
        r.read_to_string(&mut rest).unwrap();
        assert!(
            rest.starts_with("line "),
            "starts on a line: {:?}",
            &rest[..20]
        );
        assert!(rest.ends_with("line 999999\n"));
        // Close to the end there is nothing to skip.
        assert_eq!(skip_ahead(&mut r), None);
    }

    #[test]
    fn progress_reads_the_newest_matching_line() {
        let re = Regex::new(r"(\d+)/(\d+) disks").unwrap();
        let line = |t: &str| OutLine {
            text: t.into(),
            styles: Vec::new(),
        };
        let lines = [
            line("1/9 disks"),
            line("noise"),
            line("6/9 disks"),
            line("done"),
        ];
        assert_eq!(
            progress_in(&re, lines.iter()),
            Some(Progress {
                done: 6,
                total: Some(9)
            })
        );
        let pct = Regex::new(r"\((\d+)%\)").unwrap();
        let p = progress_in(&pct, [line("copy (42%)")].iter()).unwrap();
        assert!((p.fraction() - 0.42).abs() < 1e-9);
    }
}
