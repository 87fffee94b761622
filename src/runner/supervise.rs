//! The detached supervisor of one task.
//!
//! The screen starts it with [`spawn`] and may die at any moment afterwards (kill -9, a
//! dropped SSH link, the tmux server going away). The supervisor lives in a session of
//! its own with no terminal, so none of that reaches it or the command: the command
//! writes straight into the log, and the supervisor writes the exit record when it ends.
//! SIGTERM or SIGINT to the supervisor cancels the command; SIGHUP is ignored.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use jiff::Timestamp;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::oneshot;

use super::task::{
    ExitRecord, PidRecord, TaskDir, TaskError, TaskSpec, boot_id, process_start_ticks,
};

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error(transparent)]
    Files(#[from] TaskError),
    #[error("cannot start the supervisor {} for {}: {source}", exe.display(), spec.display())]
    Start {
        exe: PathBuf,
        spec: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Starts `exe __supervise <spec>` detached from the caller's terminal and session.
///
/// Call it only once the task's start is journaled: from here on the command may run
/// whatever happens to the caller. The caller must reap the returned child.
pub fn spawn(exe: &Path, tasks: &TaskDir, spec: &TaskSpec) -> Result<Child, SpawnError> {
    tasks.ensure()?;
    tasks.write_spec(spec)?;
    let spec_path = tasks.spec(&spec.task);
    let mut cmd = Command::new(exe);
    cmd.arg("__supervise")
        .arg(&spec_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: the closure runs between fork and exec, so it may only make
    // async-signal-safe calls: setsid and the raw close_range syscall both are, and it
    // allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            // A new session has no controlling terminal: a hangup of the operator's
            // terminal or a kill of its process group never reaches the supervisor.
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            // Descriptors the screen (or a library in it) opened without O_CLOEXEC would
            // otherwise stay open for as long as the command runs, e.g. a pty that then
            // never reports EOF. Kernels before 5.11 lack the flag; std's own files are
            // close-on-exec anyway, so failing here is not fatal.
            let first: libc::c_uint = 3;
            let _ = libc::syscall(
                libc::SYS_close_range,
                first,
                libc::c_uint::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            Ok(())
        });
    }
    cmd.spawn().map_err(|source| SpawnError::Start {
        exe: exe.to_path_buf(),
        spec: spec_path,
        source,
    })
}

/// sysexits: the spec could not be read, so there is nowhere to report anything.
const EX_NOINPUT: u8 = 66;
/// sysexits: the command could not be started (the exit record says why).
const EX_UNAVAILABLE: u8 = 69;
/// sysexits: the exit record could not be written.
const EX_IOERR: u8 = 74;

/// The `__supervise` subcommand. Returns 0 once the exit record is written, whatever
/// the command did; the record carries the command's result.
pub fn main(spec_path: &Path) -> u8 {
    let started = Timestamp::now();
    let Some(spec) = read_spec(spec_path) else {
        return EX_NOINPUT;
    };
    let tasks = TaskDir {
        dir: spec_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    let failed_to_start = |log: Option<&mut File>, error: String| {
        if let Some(log) = log {
            note(log, &error);
        }
        match tasks.write_exit(&spec.task, &ExitRecord::not_started(started, error)) {
            Ok(()) => EX_UNAVAILABLE,
            Err(_) => EX_IOERR,
        }
    };

    let log_path = tasks.log(&spec.task);
    let mut log = match OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
    {
        Ok(f) => f,
        Err(e) => {
            let msg = format!("cannot open the log {}: {e}", log_path.display());
            return failed_to_start(None, msg);
        }
    };

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return failed_to_start(Some(&mut log), format!("cannot start: {e}")),
    };
    // Registered before the pid record exists, so whoever reads that record and then
    // signals us finds the handlers in place: SIGTERM becomes a clean cancel instead of
    // killing the supervisor and orphaning the command.
    let signals = match runtime.block_on(async { Signals::register() }) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("cannot handle signals: {e}");
            return failed_to_start(Some(&mut log), msg);
        }
    };

    let own_pid = std::process::id();
    let mut pid_rec = PidRecord {
        pid: own_pid,
        start_ticks: process_start_ticks(own_pid).unwrap_or(0),
        boot_id: boot_id(),
        child_pgid: None,
        started,
    };
    // Without a pid record nobody could tell this task is running, cancel it, or tell
    // it from a dead one; a rerun could then run the command twice. Refuse instead.
    if let Err(e) = tasks.write_pid(&spec.task, &pid_rec) {
        return failed_to_start(Some(&mut log), e.to_string());
    }

    let mut child = match command(&spec, &log).and_then(|mut c| c.spawn()) {
        Ok(c) => c,
        Err(e) => {
            // std reports a failed chdir with the bare errno, like a missing shell.
            let msg = match &spec.workdir {
                Some(dir) if !dir.is_dir() => {
                    format!("cannot use the working directory {}: {e}", dir.display())
                }
                _ => format!("cannot start the shell {}: {e}", spec.shell),
            };
            return failed_to_start(Some(&mut log), msg);
        }
    };
    let child_pid = child.id();
    pid_rec.child_pgid = Some(child_pid);
    if let Err(e) = tasks.write_pid(&spec.task, &pid_rec) {
        note(
            &mut log,
            &format!("cannot record the command's process group: {e}"),
        );
    }

    let exited = watch_exit(child_pid, &mut log);
    let ending = runtime.block_on(supervise(child_pid, exited, &spec, signals));
    let (exit, signal, error) = match child.wait() {
        Ok(status) => {
            let (exit, signal) = exit_and_signal(status);
            (exit, signal, None)
        }
        Err(e) => (
            None,
            None,
            Some(format!("cannot collect the exit status: {e}")),
        ),
    };

    let expect_matched =
        spec.expect
            .as_deref()
            .map(|pattern| match expect_in_log(&log_path, pattern) {
                Ok(found) => found,
                Err(why) => {
                    note(&mut log, &why);
                    false
                }
            });
    // The log is not fsynced here: that would hold back the exit record (and so the
    // screen learning the step ended) by a time that grows with the output, about 60 ms
    // per 23 MB here and seconds for a chatty migration. The exit record is what the
    // night's decisions rest on and it is fsynced; the kernel writes the log back within
    // its dirty-expiry time (30 s by default), so a power cut can cost only its tail.
    let rec = ExitRecord {
        exit,
        signal,
        timed_out: ending == Ending::TimedOut,
        cancelled: ending == Ending::Cancelled,
        expect_matched,
        started,
        ended: Timestamp::now(),
        error,
    };
    match tasks.write_exit(&spec.task, &rec) {
        Ok(()) => 0,
        Err(_) => EX_IOERR,
    }
}

fn read_spec(path: &Path) -> Option<TaskSpec> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `<shell> -c <command>` in its own process group, writing straight into the log.
fn command(spec: &TaskSpec, log: &File) -> io::Result<Command> {
    let mut cmd = Command::new(&spec.shell);
    cmd.arg("-c")
        .arg(&spec.command)
        .envs(&spec.env)
        .stdin(Stdio::null())
        // Two descriptors of one O_APPEND file: interleaved stdout and stderr land in
        // the order written, and nothing of ours sits between the command and the disk.
        .stdout(log.try_clone()?)
        .stderr(log.try_clone()?)
        // Its own group, so one killpg reaches everything it started.
        .process_group(0);
    if let Some(dir) = &spec.workdir {
        cmd.current_dir(dir);
    }
    Ok(cmd)
}

struct Signals {
    term: Signal,
    int: Signal,
    /// Never polled: registering a handler is what stops a hangup from killing the
    /// supervisor (tokio keeps it for the life of the process).
    _hup: Signal,
}

impl Signals {
    fn register() -> io::Result<Signals> {
        Ok(Signals {
            _hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Exited,
    TimedOut,
    Cancelled,
}

/// Resolves once the child has exited, leaving it unreaped.
///
/// While the child is an unreaped zombie its pid, and with it the process group id,
/// cannot be reused: a killpg after it ended reaches its leftovers and nobody else.
/// tokio's own child handling would reap it, so a thread waits with WNOWAIT instead.
fn watch_exit(pid: u32, log: &mut File) -> oneshot::Receiver<()> {
    let (tx, rx) = oneshot::channel();
    let waiter = std::thread::Builder::new()
        .name("exit-watch".into())
        .spawn(move || {
            wait_exited_unreaped(pid);
            let _ = tx.send(());
        });
    if let Err(e) = waiter {
        note(
            log,
            &format!("cannot watch the command ({e}); its timeout and a cancel are ignored"),
        );
        // Better a command that cannot be cancelled than one nobody records.
        wait_exited_unreaped(pid);
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(());
        return rx;
    }
    rx
}

fn wait_exited_unreaped(pid: u32) {
    let id: libc::id_t = pid;
    loop {
        let mut info = std::mem::MaybeUninit::<libc::siginfo_t>::zeroed();
        // SAFETY: waitid writes one siginfo_t into memory we own and touches nothing else.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                id,
                info.as_mut_ptr(),
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        // Any error but EINTR (ECHILD: not our child) means there is nothing to wait
        // for here; the reaping wait that follows reports what happened.
        if rc == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// Waits for the command to end, or ends it on timeout or cancel. Returns with the
/// child exited but not yet reaped.
async fn supervise(
    pid: u32,
    mut exited: oneshot::Receiver<()>,
    spec: &TaskSpec,
    mut signals: Signals,
) -> Ending {
    let timeout = async {
        match spec.timeout_ms {
            Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            None => std::future::pending().await,
        }
    };
    let ending = tokio::select! {
        _ = &mut exited => return Ending::Exited,
        () = timeout => Ending::TimedOut,
        Some(()) = signals.term.recv() => Ending::Cancelled,
        Some(()) = signals.int.recv() => Ending::Cancelled,
    };

    kill_group(pid, libc::SIGTERM);
    let grace = tokio::time::sleep(Duration::from_millis(spec.grace_ms));
    let done = tokio::select! {
        _ = &mut exited => true,
        () = grace => false,
        // A second cancel means "now": no point waiting out the grace period.
        Some(()) = signals.term.recv() => false,
        Some(()) = signals.int.recv() => false,
    };
    if !done {
        kill_group(pid, libc::SIGKILL);
        let _ = exited.await;
    }
    // The group leader is gone, but a grandchild that ignored SIGTERM (or was started
    // in the grace period) may still be running: a timeout or cancel ends everything.
    kill_group(pid, libc::SIGKILL);
    ending
}

fn kill_group(pgid: u32, sig: libc::c_int) {
    let Some(pgid) = command_group(pgid) else {
        return;
    };
    // SAFETY: killpg takes plain integers and touches no memory of ours. ESRCH (the
    // group is already empty) is the expected outcome of the final kill.
    let _ = unsafe { libc::killpg(pgid, sig) };
}

/// The group to signal, never 0 (our own group) or 1 (init's), which no command has.
fn command_group(pgid: u32) -> Option<libc::pid_t> {
    libc::pid_t::try_from(pgid).ok().filter(|&g| g > 1)
}

fn exit_and_signal(status: ExitStatus) -> (Option<i32>, Option<i32>) {
    (status.code(), status.signal())
}

/// Longest piece of one line matched at once: a 1 GB line without newlines must not
/// land in memory whole. A match straddling two pieces of such a line is missed.
const MAX_LINE: u64 = 1 << 20;

/// Whether any line of the log matches `pattern`; `Err` holds a one-line explanation
/// for the log when the pattern is invalid or the log unreadable.
fn expect_in_log(log: &Path, pattern: &str) -> Result<bool, String> {
    let re = regex::bytes::Regex::new(pattern).map_err(|e| {
        // The regex error spans several lines (pattern, caret, message); keep the message.
        let text = e.to_string();
        let why = text
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error:"))
            .map_or_else(
                || text.split_whitespace().collect::<Vec<_>>().join(" "),
                |m| m.trim().to_string(),
            );
        format!("the expect pattern `{pattern}` is not a valid regex: {why}")
    })?;
    let unreadable = |e: io::Error| {
        format!(
            "cannot search the log {} for the expected output: {e}",
            log.display()
        )
    };
    let mut reader = BufReader::new(File::open(log).map_err(unreadable)?);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .map_err(unreadable)?;
        if n == 0 {
            return Ok(false);
        }
        // Without the line end, `$` anchors at the end of the line as one expects.
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        if re.is_match(&line) {
            return Ok(true);
        }
    }
}

/// Appends a line of our own to the log, on a line of its own even when the command's
/// output did not end with a newline.
fn note(log: &mut File, text: &str) {
    let mut line = String::new();
    if !ends_with_newline_or_empty(log) {
        line.push('\n');
    }
    line.push_str("cutover: ");
    line.push_str(text);
    line.push('\n');
    let _ = log.write_all(line.as_bytes());
}

fn ends_with_newline_or_empty(log: &File) -> bool {
    let Ok(meta) = log.metadata() else {
        return true;
    };
    if meta.len() == 0 {
        return true;
    }
    // The log is open for appending only; reading needs a descriptor of its own, and
    // /proc/self/fd names this very file even if it was renamed.
    let fd = std::os::fd::AsRawFd::as_raw_fd(log);
    let Ok(mut reader) = File::open(format!("/proc/self/fd/{fd}")) else {
        return true;
    };
    let mut last = [0u8; 1];
    reader.seek(SeekFrom::Start(meta.len() - 1)).is_err()
        || reader.read_exact(&mut last).is_err()
        || last[0] == b'\n'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(content: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("task.log");
        std::fs::write(&path, content).unwrap();
        (dir, path)
    }

    #[test]
    fn expect_matches_per_line_with_anchors() {
        let (_d, log) = log_with(b"starting\r\nready: 3 nodes\r\ndone");
        assert_eq!(expect_in_log(&log, r"^ready: \d+ nodes$"), Ok(true));
        assert_eq!(expect_in_log(&log, r"^done$"), Ok(true));
        // Per line: a pattern spanning two lines never matches.
        assert_eq!(expect_in_log(&log, r"starting\s+ready"), Ok(false));
        assert_eq!(expect_in_log(&log, r"^nodes"), Ok(false));
    }

    #[test]
    fn expect_sees_binary_output_and_empty_logs() {
        let (_d, log) = log_with(b"\xff\xfe garbage\nOK\n");
        assert_eq!(expect_in_log(&log, "^OK$"), Ok(true));
        let (_d2, empty) = log_with(b"");
        assert_eq!(expect_in_log(&empty, ".*"), Ok(false));
    }

    #[test]
    fn expect_finds_a_match_after_a_huge_line() {
        let mut content = vec![b'x'; (MAX_LINE as usize) * 3 + 17];
        content.extend_from_slice(b"\nthe end\n");
        let (_d, log) = log_with(&content);
        assert_eq!(expect_in_log(&log, "^the end$"), Ok(true));
        assert_eq!(expect_in_log(&log, "y"), Ok(false));
    }

    #[test]
    fn invalid_expect_pattern_is_explained_on_one_line() {
        let (_d, log) = log_with(b"anything\n");
        let why = expect_in_log(&log, "(unclosed").unwrap_err();
        assert!(
            why.contains("(unclosed") && why.contains("not a valid regex"),
            "{why}"
        );
        assert!(!why.contains('\n'), "{why:?}");
    }

    #[test]
    fn missing_log_is_an_explained_failure() {
        let dir = tempfile::tempdir().unwrap();
        let why = expect_in_log(&dir.path().join("nope.log"), "x").unwrap_err();
        assert!(why.contains("nope.log"), "{why}");
    }

    #[test]
    fn wait_status_maps_to_exit_or_signal() {
        // Raw wait statuses: exit code in the second byte, signal in the low bits.
        assert_eq!(
            exit_and_signal(ExitStatus::from_raw(3 << 8)),
            (Some(3), None)
        );
        assert_eq!(exit_and_signal(ExitStatus::from_raw(0)), (Some(0), None));
        assert_eq!(
            exit_and_signal(ExitStatus::from_raw(libc::SIGSEGV)),
            (None, Some(libc::SIGSEGV))
        );
        // Core dumped (0x80) still reports the signal.
        assert_eq!(
            exit_and_signal(ExitStatus::from_raw(libc::SIGABRT | 0x80)),
            (None, Some(libc::SIGABRT))
        );
    }

    #[test]
    fn notes_start_on_a_line_of_their_own() {
        let (_d, path) = log_with(b"no newline at the end");
        let mut log = OpenOptions::new().append(true).open(&path).unwrap();
        note(&mut log, "first");
        note(&mut log, "second");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "no newline at the end\ncutover: first\ncutover: second\n"
        );
        let (_d2, empty) = log_with(b"");
        let mut log = OpenOptions::new().append(true).open(&empty).unwrap();
        note(&mut log, "only");
        assert_eq!(std::fs::read_to_string(&empty).unwrap(), "cutover: only\n");
    }

    #[test]
    fn only_a_real_command_group_is_ever_signalled() {
        assert_eq!(
            command_group(0),
            None,
            "killpg(0) would signal the supervisor's group"
        );
        assert_eq!(command_group(1), None);
        assert_eq!(
            command_group(u32::MAX),
            None,
            "would wrap to a negative pid"
        );
        assert_eq!(command_group(4242), Some(4242));
    }
}
