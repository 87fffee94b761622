//! A task is one attempt of a command step, a backup or a backup's verify command, and
//! the files that describe it under the session's `tasks/` directory.
//!
//! The files are the only link between the screen and a supervisor: the screen writes
//! the spec, the supervisor writes the pid record, the log and the exit record. Either
//! side can die and the other (or a later `resume`) still knows what happened.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Step,
    Backup,
    Verify,
}

impl TaskKind {
    pub fn word(self) -> &'static str {
        match self {
            TaskKind::Step => "step",
            TaskKind::Backup => "backup",
            TaskKind::Verify => "verify",
        }
    }
}

/// Which attempt of what. Step and backup ids are validated to `[A-Za-z0-9_.-]`, so the
/// name is a safe file name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskId {
    pub kind: TaskKind,
    /// The step id, or the backup id for `Backup` and `Verify`.
    pub id: String,
    pub attempt: u32,
}

impl TaskId {
    pub fn step(id: &str, attempt: u32) -> TaskId {
        TaskId {
            kind: TaskKind::Step,
            id: id.to_string(),
            attempt,
        }
    }
    pub fn backup(id: &str, attempt: u32) -> TaskId {
        TaskId {
            kind: TaskKind::Backup,
            id: id.to_string(),
            attempt,
        }
    }
    pub fn verify(id: &str, attempt: u32) -> TaskId {
        TaskId {
            kind: TaskKind::Verify,
            id: id.to_string(),
            attempt,
        }
    }

    /// `step-helm-upgrade-2`: the stem of every file of this task.
    pub fn name(&self) -> String {
        format!("{}-{}-{}", self.kind.word(), self.id, self.attempt)
    }
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            TaskKind::Step => write!(f, "{} (attempt {})", self.id, self.attempt),
            TaskKind::Backup => write!(f, "backup {} (attempt {})", self.id, self.attempt),
            TaskKind::Verify => write!(f, "verify of {} (attempt {})", self.id, self.attempt),
        }
    }
}

/// What to run, written by the screen before the supervisor starts. It holds the
/// command, so it lives next to the log (0600), never in the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub task: TaskId,
    pub session: String,
    /// e.g. `/bin/sh`; run as `<shell> -c <command>`.
    pub shell: String,
    pub command: String,
    /// Working directory; `None` keeps the supervisor's.
    pub workdir: Option<PathBuf>,
    /// Added to the inherited environment (the runbook vars and `CUTOVER_*`).
    pub env: BTreeMap<String, String>,
    /// Milliseconds; `None` means no limit.
    pub timeout_ms: Option<u64>,
    /// Milliseconds between SIGTERM and SIGKILL to the process group.
    pub grace_ms: u64,
    /// Regex the output must match for success (checked over the whole log).
    pub expect: Option<String>,
}

/// Written by the supervisor once it runs: enough to tell, later and from another
/// process, whether that very process is still alive (pids are reused; start time and
/// boot id are not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidRecord {
    /// The supervisor's pid (also the session id of everything it started).
    pub pid: u32,
    /// Field 22 of `/proc/<pid>/stat`: clock ticks since boot when it started.
    pub start_ticks: u64,
    pub boot_id: String,
    /// The command's process group (its pid).
    pub child_pgid: Option<u32>,
    pub started: Timestamp,
}

/// How a task ended, written atomically by the supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    pub exit: Option<i32>,
    pub signal: Option<i32>,
    #[serde(default)]
    pub timed_out: bool,
    /// Ended by a cancel (SIGTERM to the supervisor).
    #[serde(default)]
    pub cancelled: bool,
    /// `Some(false)` when `expect` was given and the output did not match.
    #[serde(default)]
    pub expect_matched: Option<bool>,
    pub started: Timestamp,
    pub ended: Timestamp,
    /// The supervisor could not start the command at all (shell missing, bad workdir).
    #[serde(default)]
    pub error: Option<String>,
}

impl ExitRecord {
    /// The record of a command that never started (no shell, bad workdir, no
    /// supervisor): a failure with the reason, never a step stuck in `running`.
    pub fn not_started(started: Timestamp, why: String) -> ExitRecord {
        ExitRecord {
            exit: None,
            signal: None,
            timed_out: false,
            cancelled: false,
            expect_matched: None,
            started,
            ended: Timestamp::now(),
            error: Some(why),
        }
    }

    pub fn success(&self) -> bool {
        self.exit == Some(0)
            && self.signal.is_none()
            && !self.timed_out
            && !self.cancelled
            && self.expect_matched != Some(false)
            && self.error.is_none()
    }

    /// `exit 0`, `exit 3`, `killed by SIGKILL after its timeout`, ...
    pub fn describe(&self) -> String {
        let mut s = describe_end(
            self.exit,
            self.signal,
            self.timed_out,
            self.cancelled,
            self.expect_matched,
        );
        if let Some(e) = &self.error {
            s.push_str(": ");
            s.push_str(e);
        }
        s
    }
}

/// How a process ended, in the words the screen, the report and the flash all use:
/// never "exit 0" for a process a signal ended.
pub fn describe_end(
    exit: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    cancelled: bool,
    expect_matched: Option<bool>,
) -> String {
    let mut s = match (exit, signal) {
        (_, Some(sig)) => format!("killed by {}", signal_name(sig)),
        (Some(code), None) => format!("exit {code}"),
        (None, None) => "did not start".to_string(),
    };
    if timed_out {
        s.push_str(" after its timeout");
    }
    if cancelled {
        s.push_str(", cancelled");
    }
    if expect_matched == Some(false) {
        s.push_str(", expected output not found");
    }
    s
}

pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

/// The `tasks/` directory of one session.
#[derive(Debug, Clone)]
pub struct TaskDir {
    pub dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a valid task file: {source}", path.display())]
    Format {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl TaskDir {
    pub fn new(session_dir: &Path) -> TaskDir {
        TaskDir {
            dir: session_dir.join("tasks"),
        }
    }
    pub fn spec(&self, t: &TaskId) -> PathBuf {
        self.dir.join(format!("{}.spec.json", t.name()))
    }
    pub fn log(&self, t: &TaskId) -> PathBuf {
        self.dir.join(format!("{}.log", t.name()))
    }
    pub fn exit(&self, t: &TaskId) -> PathBuf {
        self.dir.join(format!("{}.exit", t.name()))
    }
    pub fn pid(&self, t: &TaskId) -> PathBuf {
        self.dir.join(format!("{}.pid", t.name()))
    }

    /// Creates the directory (0700) if needed.
    pub fn ensure(&self) -> Result<(), TaskError> {
        crate::session::store::mkdir_private(&self.dir).map_err(|source| TaskError::Io {
            action: "create the task directory",
            path: self.dir.clone(),
            source,
        })
    }

    pub fn write_spec(&self, spec: &TaskSpec) -> Result<(), TaskError> {
        // Not fsynced: it only has to be whole when the supervisor reads it a moment
        // later, and the screen writes it on its event loop, where an fsync would stall.
        write_json(&self.spec(&spec.task), spec, false)
    }
    pub fn read_spec(&self, t: &TaskId) -> Result<Option<TaskSpec>, TaskError> {
        read_json(&self.spec(t))
    }
    pub fn write_pid(&self, t: &TaskId, rec: &PidRecord) -> Result<(), TaskError> {
        write_json(&self.pid(t), rec, true)
    }
    pub fn read_pid(&self, t: &TaskId) -> Result<Option<PidRecord>, TaskError> {
        read_json(&self.pid(t))
    }
    pub fn write_exit(&self, t: &TaskId, rec: &ExitRecord) -> Result<(), TaskError> {
        write_json(&self.exit(t), rec, true)
    }
    pub fn read_exit(&self, t: &TaskId) -> Result<Option<ExitRecord>, TaskError> {
        read_json(&self.exit(t))
    }
}

/// temp + rename, so a reader sees no file or the whole file; `durable` adds the fsyncs
/// (of the file before the rename, of the directory after) that make it survive a crash.
fn write_json<T: Serialize>(path: &Path, value: &T, durable: bool) -> Result<(), TaskError> {
    let io = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| TaskError::Io {
            action,
            path,
            source,
        }
    };
    // `<file>.tmp`, so the pid and exit records of one task never share a temp file.
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let bytes = serde_json::to_vec(value).map_err(|source| TaskError::Format {
        path: path.to_path_buf(),
        source,
    })?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io("create", &tmp))?;
    f.write_all(&bytes).map_err(io("write", &tmp))?;
    if durable {
        f.sync_all().map_err(io("sync", &tmp))?;
    }
    drop(f);
    std::fs::rename(&tmp, path).map_err(io("rename into place", path))?;
    if durable
        && let Some(parent) = path.parent()
        && let Ok(d) = std::fs::File::open(parent)
    {
        // Makes the rename itself durable; a failure here leaves the file in place.
        let _ = d.sync_all();
    }
    Ok(())
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, TaskError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| TaskError::Format {
                path: path.to_path_buf(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(TaskError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// This boot's id, to tell "the supervisor died in a reboot" from "still running".
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Field 22 (starttime) of `/proc/<pid>/stat`, or `None` if there is no such process.
pub fn process_start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces or `)`: count
    // fields from the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    // After `)`: state is field 3, so starttime (22) is the 20th from here.
    let field = rest.split_whitespace().nth(19)?;
    // A zombie still has its stat; it is no longer running anything.
    let state = rest.split_whitespace().next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    field.parse().ok()
}

impl PidRecord {
    /// True when the process this record names is still the one running.
    pub fn is_alive(&self) -> bool {
        self.boot_id == boot_id() && process_start_ticks(self.pid) == Some(self.start_ticks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_per_kind_and_attempt() {
        let a = TaskId::step("x", 1).name();
        let b = TaskId::backup("x", 1).name();
        let c = TaskId::verify("x", 1).name();
        let d = TaskId::step("x", 2).name();
        assert_eq!(a, "step-x-1");
        assert!(a != b && b != c && a != d);
    }

    #[test]
    fn own_process_is_alive_and_a_fake_is_not() {
        let me = std::process::id();
        let ticks = process_start_ticks(me).expect("own stat");
        let rec = PidRecord {
            pid: me,
            start_ticks: ticks,
            boot_id: boot_id(),
            child_pgid: None,
            started: Timestamp::now(),
        };
        assert!(rec.is_alive());
        let reused = PidRecord {
            start_ticks: ticks + 1,
            ..rec.clone()
        };
        assert!(!reused.is_alive(), "a reused pid must not count as alive");
        let rebooted = PidRecord {
            boot_id: "another-boot".into(),
            ..rec
        };
        assert!(!rebooted.is_alive());
    }

    #[test]
    fn signal_exit_is_never_described_as_exit_zero() {
        let rec = ExitRecord {
            exit: None,
            signal: Some(libc::SIGKILL),
            timed_out: true,
            cancelled: false,
            expect_matched: None,
            started: Timestamp::UNIX_EPOCH,
            ended: Timestamp::UNIX_EPOCH,
            error: None,
        };
        assert_eq!(rec.describe(), "killed by SIGKILL after its timeout");
        assert!(!rec.success());
    }

    #[test]
    fn exit_record_round_trips_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let td = TaskDir::new(dir.path());
        td.ensure().unwrap();
        let t = TaskId::step("s", 1);
        assert!(td.read_exit(&t).unwrap().is_none());
        let rec = ExitRecord {
            exit: Some(3),
            signal: None,
            timed_out: false,
            cancelled: false,
            expect_matched: None,
            started: Timestamp::UNIX_EPOCH,
            ended: Timestamp::UNIX_EPOCH,
            error: None,
        };
        td.write_exit(&t, &rec).unwrap();
        assert_eq!(td.read_exit(&t).unwrap(), Some(rec));
        assert!(!td.dir.join("step-s-1.exit.tmp").exists());
    }
}
