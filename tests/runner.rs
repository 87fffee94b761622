//! The detached supervisor with real children, started through the real binary the way
//! the screen starts it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use cutover::runner::supervise;
use cutover::runner::task::{
    ExitRecord, PidRecord, TaskDir, TaskId, TaskSpec, process_start_ticks,
};

const EXE: &str = env!("CARGO_BIN_EXE_cutover");
/// Generous: a loaded 2-core CI machine builds other crates while these run.
const DEADLINE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(20);

fn spec(tmp: &Path, name: &str, command: &str) -> TaskSpec {
    TaskSpec {
        task: TaskId::step(name, 1),
        session: "test-session".into(),
        shell: "/bin/sh".into(),
        command: command.into(),
        // Keeps whatever a command leaves behind (a core file, say) out of the crate.
        workdir: Some(tmp.to_path_buf()),
        env: BTreeMap::new(),
        timeout_ms: None,
        grace_ms: 2000,
        expect: None,
    }
}

/// A supervisor started by the test; killed with its command if the test fails early.
struct Running {
    tasks: TaskDir,
    task: TaskId,
    child: Option<Child>,
}

fn start(tmp: &Path, spec: &TaskSpec) -> Running {
    let tasks = TaskDir::new(tmp);
    let child = supervise::spawn(Path::new(EXE), &tasks, spec).expect("spawn the supervisor");
    Running {
        tasks,
        task: spec.task.clone(),
        child: Some(child),
    }
}

impl Running {
    fn log_path(&self) -> PathBuf {
        self.tasks.log(&self.task)
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.log_path()).unwrap_or_default()).into_owned()
    }

    /// The pid record once it names the command's group, i.e. once the command runs.
    fn running(&self) -> PidRecord {
        let mut rec = None;
        wait_until(&format!("{} to start its command", self.task), || {
            rec = self
                .tasks
                .read_pid(&self.task)
                .expect("readable pid record")
                .filter(|r| r.child_pgid.is_some());
            rec.is_some()
        });
        rec.expect("checked above")
    }

    /// Waits for the exit record, then reaps the supervisor.
    fn finish(mut self) -> (ExitRecord, String, ExitStatus) {
        let mut rec = None;
        wait_until(&format!("the exit record of {}", self.task), || {
            rec = self
                .tasks
                .read_exit(&self.task)
                .expect("readable exit record");
            rec.is_some()
        });
        let status = self
            .child
            .take()
            .expect("not reaped yet")
            .wait()
            .expect("reap the supervisor");
        (rec.expect("checked above"), self.log(), status)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Only on a failed test. A cancel makes the supervisor end its command's whole
        // group, which the test cannot do safely: that group id may be reused by now.
        let _ = send_raw(child.id(), libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(POLL);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A process a command started: killed when the test ends, in case the code under test
/// failed to, and only if it is still that very process.
struct Leftover {
    pid: u32,
    start_ticks: Option<u64>,
}

impl Leftover {
    fn new(pid: u32) -> Leftover {
        Leftover {
            pid,
            start_ticks: process_start_ticks(pid),
        }
    }
    fn gone(&self) -> bool {
        self.start_ticks.is_none() || process_start_ticks(self.pid) != self.start_ticks
    }
}

impl Drop for Leftover {
    fn drop(&mut self) {
        if !self.gone() {
            let _ = send_raw(self.pid, libc::SIGKILL);
        }
    }
}

/// Polls `cond` until it holds; panics naming `what` after the deadline.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(POLL);
    }
}

/// (state, process group, session) from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(char, i64, i64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = text[text.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    let session = fields.next()?.parse().ok()?;
    Some((state, pgrp, session))
}

/// Live (not zombie) processes in the group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            matches!(stat(pid), Some((state, pgrp, _)) if pgrp == i64::from(pgid) && state != 'Z' && state != 'X')
        })
        .collect()
}

fn read_pid_file(path: &Path) -> Leftover {
    let mut text = String::new();
    wait_until(&format!("{}", path.display()), || {
        text = std::fs::read_to_string(path).unwrap_or_default();
        text.ends_with('\n')
    });
    Leftover::new(text.trim().parse().expect("a pid"))
}

fn send_raw(pid: u32, sig: libc::c_int) -> std::io::Result<()> {
    // SAFETY: kill takes plain integers and touches no memory of ours. Callers pass a
    // pid they know is still theirs (an unreaped child, or one whose start time matches).
    match unsafe { libc::kill(pid as libc::pid_t, sig) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Signals a supervisor this test started and has not reaped (so its pid is not reused).
fn send(pid: u32, sig: libc::c_int) {
    if let Err(e) = send_raw(pid, sig) {
        panic!("kill({pid}, {sig}): {e}");
    }
}

fn own_session() -> i64 {
    stat(std::process::id()).expect("own stat").2
}

#[test]
fn exit_codes_and_signals_are_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let three = start(tmp.path(), &spec(tmp.path(), "three", "exit 3"));
    let segv = start(
        tmp.path(),
        &spec(tmp.path(), "segv", "ulimit -c 0; kill -SEGV $$"),
    );
    let ok = start(tmp.path(), &spec(tmp.path(), "ok", "true"));

    let (rec, _, status) = three.finish();
    assert_eq!((rec.exit, rec.signal), (Some(3), None));
    assert!(!rec.success());
    assert_eq!(rec.describe(), "exit 3");
    assert!(status.success(), "the supervisor did its job: {status}");

    let (rec, _, _) = segv.finish();
    assert_eq!((rec.exit, rec.signal), (None, Some(libc::SIGSEGV)));
    assert!(rec.describe().contains("SIGSEGV"), "{}", rec.describe());
    assert!(!rec.success());

    let (rec, _, _) = ok.finish();
    assert!(rec.success(), "{rec:?}");
    assert!(!rec.timed_out && !rec.cancelled && rec.error.is_none());
    assert!(rec.started <= rec.ended);
}

#[test]
fn timeout_kills_a_group_that_ignores_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = spec(
        tmp.path(),
        "stubborn",
        "trap '' TERM; sleep 900 & echo $! > grandchild.pid; wait",
    );
    s.timeout_ms = Some(1000);
    s.grace_ms = 500;
    let run = start(tmp.path(), &s);
    let pgid = run.running().child_pgid.expect("running");
    let grandchild = read_pid_file(&tmp.path().join("grandchild.pid"));

    let (rec, _, status) = run.finish();
    assert!(rec.timed_out && !rec.cancelled, "{rec:?}");
    assert_eq!(
        rec.signal,
        Some(libc::SIGKILL),
        "SIGTERM was ignored: {rec:?}"
    );
    assert_eq!(rec.describe(), "killed by SIGKILL after its timeout");
    assert!(status.success());
    wait_until("the grandchild to die", || grandchild.gone());
    wait_until("the command's group to empty", || {
        group_members(pgid).is_empty()
    });
}

#[test]
fn timeout_kills_a_grandchild_that_outlives_its_parent() {
    let tmp = tempfile::tempdir().unwrap();
    // The shell dies of SIGTERM at once; only its background child ignores it.
    let mut s = spec(
        tmp.path(),
        "orphan",
        "(trap '' TERM; exec sleep 900) & echo $! > grandchild.pid; wait",
    );
    s.timeout_ms = Some(1000);
    // Longer than the deadline: the grandchild may not simply wait out the grace.
    s.grace_ms = 60_000;
    let run = start(tmp.path(), &s);
    let pgid = run.running().child_pgid.expect("running");
    let grandchild = read_pid_file(&tmp.path().join("grandchild.pid"));

    let (rec, _, _) = run.finish();
    assert!(rec.timed_out, "{rec:?}");
    assert_eq!(rec.signal, Some(libc::SIGTERM), "{rec:?}");
    wait_until("the grandchild to die", || grandchild.gone());
    wait_until("the command's group to empty", || {
        group_members(pgid).is_empty()
    });
}

#[test]
fn sigterm_to_the_supervisor_cancels_the_command() {
    let tmp = tempfile::tempdir().unwrap();
    let run = start(
        tmp.path(),
        &spec(tmp.path(), "cancel", "sleep 60 & echo $! > sleep.pid; wait"),
    );
    let pid_rec = run.running();
    let pgid = pid_rec.child_pgid.expect("running");
    let sleep = read_pid_file(&tmp.path().join("sleep.pid"));
    send(pid_rec.pid, libc::SIGTERM);

    let (rec, _, status) = run.finish();
    assert!(rec.cancelled && !rec.timed_out, "{rec:?}");
    assert_eq!(rec.signal, Some(libc::SIGTERM), "{rec:?}");
    assert!(
        rec.describe().ends_with(", cancelled"),
        "{}",
        rec.describe()
    );
    assert!(!rec.success());
    assert!(status.success(), "a cancel is the supervisor doing its job");
    wait_until("the sleep to die", || sleep.gone());
    wait_until("the command's group to empty", || {
        group_members(pgid).is_empty()
    });
}

#[test]
fn command_has_no_stdin_and_no_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let run = start(
        tmp.path(),
        &spec(
            tmp.path(),
            "stdin",
            r#"cat; echo "status $?"
read -r x </dev/tty; echo "tty $?"
echo "ps $(ps -o sid=,pgid= -p $$)"; echo "pid $$""#,
        ),
    );
    let pid_rec = run.running();
    let (rec, log, _) = run.finish();
    assert!(
        log.contains("status 0\n"),
        "cat must see EOF at once:\n{log}"
    );
    let tty = log
        .lines()
        .find_map(|l| l.strip_prefix("tty "))
        .unwrap_or_else(|| panic!("no tty line:\n{log}"));
    assert_ne!(tty, "0", "opening /dev/tty must fail without one:\n{log}");

    let ps: Vec<i64> = log
        .lines()
        .find_map(|l| l.strip_prefix("ps "))
        .unwrap_or_else(|| panic!("no ps line:\n{log}"))
        .split_whitespace()
        .map(|n| n.parse().expect("a number"))
        .collect();
    let shell: i64 = log
        .lines()
        .find_map(|l| l.strip_prefix("pid "))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid line:\n{log}"));
    let [sid, pgid] = ps[..] else {
        panic!("ps printed {ps:?}:\n{log}")
    };
    assert_ne!(
        sid,
        own_session(),
        "the command must not share the test's session"
    );
    assert_eq!(sid, i64::from(pid_rec.pid), "the supervisor's session");
    assert_eq!(pgid, shell, "the command leads its own group");
    assert_eq!(Some(pgid), pid_rec.child_pgid.map(i64::from));
    assert_eq!(rec.exit, Some(0), "{rec:?}");
}

#[test]
fn environment_and_workdir_reach_the_command() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work dir");
    std::fs::create_dir(&work).unwrap();
    let mut s = spec(
        tmp.path(),
        "env",
        r#"printf 'step=%s\ngreeting=%s\npwd=%s\npath=%s\n' "$CUTOVER_STEP" "$GREETING" "$(pwd -P)" "$PATH""#,
    );
    s.workdir = Some(work.clone());
    s.env.insert("CUTOVER_STEP".into(), "migrate-db".into());
    s.env
        .insert("GREETING".into(), "hello, 'world' $HOME".into());
    let (rec, log, _) = start(tmp.path(), &s).finish();
    assert!(rec.success(), "{rec:?}\n{log}");
    let path = std::env::var("PATH").unwrap_or_default();
    let expected = format!(
        "step=migrate-db\ngreeting=hello, 'world' $HOME\npwd={}\npath={path}\n",
        work.canonicalize().unwrap().display()
    );
    assert_eq!(log, expected);
}

#[test]
fn expect_is_searched_in_the_whole_log() {
    let tmp = tempfile::tempdir().unwrap();
    let output = "echo 'starting'; echo 'ready: 3 nodes'; echo 'done'";
    let mut found = spec(tmp.path(), "found", output);
    found.expect = Some(r"^ready: \d+ nodes$".into());
    let mut missing = spec(tmp.path(), "missing", output);
    missing.expect = Some(r"^ready: 4 nodes$".into());
    let mut invalid = spec(tmp.path(), "invalid", output);
    invalid.expect = Some("ready: (".into());
    let found = start(tmp.path(), &found);
    let missing = start(tmp.path(), &missing);
    let invalid = start(tmp.path(), &invalid);

    let (rec, _, _) = found.finish();
    assert_eq!(rec.expect_matched, Some(true));
    assert!(rec.success(), "{rec:?}");

    let (rec, _, _) = missing.finish();
    assert_eq!((rec.exit, rec.expect_matched), (Some(0), Some(false)));
    assert!(!rec.success());
    assert_eq!(rec.describe(), "exit 0, expected output not found");

    let (rec, log, status) = invalid.finish();
    assert_eq!(rec.expect_matched, Some(false));
    assert!(status.success());
    let note = log.lines().last().unwrap_or_default();
    assert!(
        note.starts_with("cutover: ") && note.contains("ready: (") && note.contains("regex"),
        "{log}"
    );
}

#[test]
fn large_output_lands_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let run = start(tmp.path(), &spec(tmp.path(), "seq", "seq 1 3000000"));
    let log_path = run.log_path();
    let (rec, _, _) = run.finish();
    assert!(rec.success(), "{rec:?}");
    let direct = tmp.path().join("direct");
    let st = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg("seq 1 3000000 > \"$1\"")
        .arg("sh")
        .arg(&direct)
        .status()
        .unwrap();
    assert!(st.success());
    let logged = std::fs::read(&log_path).unwrap();
    let expected = std::fs::read(&direct).unwrap();
    assert!(expected.len() > 20_000_000, "seq printed too little");
    assert!(
        logged == expected,
        "the log differs: {} bytes logged, {} expected",
        logged.len(),
        expected.len()
    );
}

#[test]
fn supervisor_is_detached_and_ignores_sighup() {
    let tmp = tempfile::tempdir().unwrap();
    let run = start(
        tmp.path(),
        &spec(
            tmp.path(),
            "hangup",
            "while [ ! -e go ]; do sleep 0.05; done; exit 4",
        ),
    );
    let pid_rec = run.running();
    let (_, pgrp, session) = stat(pid_rec.pid).expect("supervisor alive");
    assert_eq!(
        session,
        i64::from(pid_rec.pid),
        "leads a session of its own"
    );
    assert_eq!(pgrp, i64::from(pid_rec.pid), "leads a group of its own");
    assert_ne!(session, own_session());

    send(pid_rec.pid, libc::SIGHUP);
    // Time for a fatal signal to land, were it fatal; the command cannot end before `go`.
    std::thread::sleep(Duration::from_millis(500));
    assert!(pid_rec.is_alive(), "SIGHUP killed the supervisor");
    std::fs::write(tmp.path().join("go"), "").unwrap();

    let (rec, _, status) = run.finish();
    assert_eq!((rec.exit, rec.signal), (Some(4), None), "{rec:?}");
    assert!(!rec.cancelled && !rec.timed_out);
    assert!(status.success());
}

#[test]
fn command_holds_only_the_log_and_dev_null() {
    use std::os::fd::AsRawFd;
    let tmp = tempfile::tempdir().unwrap();
    // A descriptor without close-on-exec, as a careless library in the screen might
    // leave: the supervisor must not pass it on.
    let canary = std::fs::File::create(tmp.path().join("leak-canary")).unwrap();
    // SAFETY: dup takes an fd we own and returns a new one we close below.
    let leaked = unsafe { libc::dup(canary.as_raw_fd()) };
    assert!(leaked >= 0);
    let s = spec(tmp.path(), "fds", "ls -l /proc/$$/fd; echo done");
    let run = start(tmp.path(), &s);
    // SAFETY: closes only the fd dup returned above.
    unsafe { libc::close(leaked) };
    let log_path = run.log_path();
    let (rec, log, _) = run.finish();
    assert!(rec.success(), "{rec:?}\n{log}");
    assert!(
        !log.contains("spec.json") && !log.contains("leak-canary"),
        "{log}"
    );
    let log_path = log_path.display().to_string();
    let mut fds = Vec::new();
    for line in log.lines().filter(|l| l.contains(" -> ")) {
        let (left, target) = line.split_once(" -> ").expect("checked");
        let fd = left.split_whitespace().last().unwrap_or_default();
        assert!(
            target == "/dev/null" || target == log_path,
            "fd {fd} -> {target}:\n{log}"
        );
        fds.push(fd.to_string());
    }
    assert_eq!(fds, ["0", "1", "2"], "{log}");
}

#[test]
fn failure_to_start_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let mut no_shell = spec(tmp.path(), "no-shell", "true");
    no_shell.shell = "/nonexistent/shell".into();
    let mut no_dir = spec(tmp.path(), "no-dir", "true");
    no_dir.workdir = Some(tmp.path().join("missing"));
    let no_shell = start(tmp.path(), &no_shell);
    let no_dir = start(tmp.path(), &no_dir);

    let (rec, log, status) = no_shell.finish();
    assert_eq!((rec.exit, rec.signal), (None, None));
    let error = rec.error.clone().expect("an error");
    assert!(error.contains("/nonexistent/shell"), "{error}");
    assert!(
        rec.describe().starts_with("did not start: "),
        "{}",
        rec.describe()
    );
    assert_eq!(log, format!("cutover: {error}\n"));
    assert!(!status.success(), "the supervisor could not do its job");

    let (rec, log, _) = no_dir.finish();
    let error = rec.error.clone().expect("an error");
    assert!(
        error.contains("missing") && error.contains("working directory"),
        "{error}"
    );
    assert!(log.contains(&error), "{log}");
    assert!(!rec.success());
}
