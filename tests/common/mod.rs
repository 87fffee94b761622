//! Shared helpers for the end-to-end tests: the binary in a pseudo-terminal (its output
//! fed through a `vt100` parser, so tests read the screen a person would see) and the
//! binary without one (for the script-facing commands and error paths).
//!
//! Every process gets its own `CUTOVER_HOME`, `TERM=xterm-256color`, no `NO_COLOR`, and a
//! fixed `USER`/`LOGNAME` so the lock holder (`user@host, pid N`) is predictable. Its
//! config directory is one that does not exist, so the defaults apply whatever the
//! developer's own `~/.config/cutover` says.

#![allow(dead_code)]

pub mod multiplexer;

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

pub const BIN: &str = env!("CARGO_BIN_EXE_cutover");

/// Never created: no `config.toml`, no `keymap.toml`.
pub fn no_config_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-cutover-config")
}
/// The user every test process runs as (the `user` of `user@host`).
pub const USER: &str = "e2e-operator";
/// Generous: a loaded 2-core CI machine builds other crates while these run.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Held while a child is being created, so no child inherits another test's pty fds in the
/// window before they are marked close-on-exec (a leaked slave fd would keep a pty from
/// ever reporting EOF).
static SPAWN: Mutex<()> = Mutex::new(());

fn spawn_lock() -> MutexGuard<'static, ()> {
    SPAWN.lock().unwrap_or_else(|e| e.into_inner())
}

/// The host part of `user@host`, as the binary computes it.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into a buffer we own.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!(rc, 0, "gethostname failed");
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// `user@host` of every process the tests start.
pub fn operator() -> String {
    format!("{USER}@{}", hostname())
}

/// A state directory of its own for one test.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The `CUTOVER_HOME` value (the temp dir itself).
    pub fn state(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn journal(&self, id: &str) -> PathBuf {
        self.state().join("sessions").join(id).join("journal.jsonl")
    }

    /// Session folders that exist under `sessions/` (empty when there is no such folder).
    pub fn session_dirs(&self) -> Vec<String> {
        match std::fs::read_dir(self.state().join("sessions")) {
            Ok(entries) => entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The binary without a terminal: stdin is /dev/null, stdout and stderr are pipes.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        run_with_home(self.state().as_os_str(), args)
    }

    /// `sessions --json`, parsed; panics unless it succeeds.
    pub fn sessions_json(&self) -> serde_json::Value {
        let out = self.run(&["sessions", "--json"]);
        assert_eq!(out.code, 0, "sessions --json failed: {out:?}");
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("sessions --json is not JSON ({e}): {out:?}"))
    }

    /// The id of the only session in this home.
    pub fn only_session(&self) -> String {
        // `--all`: a session whose steps are all settled has finished by itself.
        let out = self.run(&["sessions", "--all", "--json"]);
        assert_eq!(out.code, 0, "sessions --all --json failed: {out:?}");
        let doc: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("sessions --json is not JSON ({e}): {out:?}"));
        let sessions = doc["sessions"].as_array().expect("sessions array");
        assert_eq!(sessions.len(), 1, "expected exactly one session: {doc:#}");
        sessions[0]["id"].as_str().expect("session id").to_string()
    }

    /// `status --json <id>`, parsed; panics unless it succeeds.
    pub fn status_json(&self, id: &str) -> serde_json::Value {
        let out = self.run(&["status", "--json", id]);
        assert_eq!(out.code, 0, "status --json {id} failed: {out:?}");
        assert_no_escapes(&out.stdout, "status --json stdout");
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {out:?}"))
    }

    /// The binary in a fresh pseudo-terminal of `cols`x`rows`.
    pub fn pty<S: AsRef<OsStr>>(&self, cols: u16, rows: u16, args: &[S]) -> Pty {
        let mut cmd = CommandBuilder::new(BIN);
        cmd.args(args);
        Pty::spawn(cmd, self, cols, rows)
    }

    /// A shell line in a pseudo-terminal (`$0` is the binary), for redirections such as
    /// `exec "$0" demo </dev/null`.
    pub fn pty_sh(&self, cols: u16, rows: u16, script: &str) -> Pty {
        let mut cmd = CommandBuilder::new("/bin/sh");
        cmd.args(["-c", script, BIN]);
        Pty::spawn(cmd, self, cols, rows)
    }
}

/// What a run without a terminal produced.
#[derive(Debug)]
pub struct Output {
    /// The exit code (-1 when the process was killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary with `CUTOVER_HOME=home`, stdin /dev/null and piped output.
pub fn run_with_home<S: AsRef<OsStr>>(home: &OsStr, args: &[S]) -> Output {
    run_with_env(home, args, &[])
}

/// Like [`run_with_home`], with `env` set on top (e.g. another `CUTOVER_CONFIG_DIR`).
pub fn run_with_env<S: AsRef<OsStr>>(home: &OsStr, args: &[S], env: &[(&str, &OsStr)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("CUTOVER_HOME", home)
        .env("CUTOVER_CONFIG_DIR", no_config_dir())
        .env_remove("CUTOVER_LOG")
        .env("TERM", "xterm-256color")
        .env("USER", USER)
        .env("LOGNAME", USER)
        .env_remove("NO_COLOR")
        .env_remove("COLORTERM")
        .env_remove("TMUX")
        .env_remove("TMUX_PANE")
        .env_remove("STY")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = {
        let _guard = spawn_lock();
        cmd.spawn().expect("spawn cutover")
    };
    let out = child.wait_with_output().expect("wait for cutover");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Panics if `text` holds an escape byte: nothing may have drawn, coloured, entered raw
/// mode or the alternate screen.
pub fn assert_no_escapes(text: &str, what: &str) {
    assert!(
        !text.contains('\x1b'),
        "{what} contains escape bytes (something touched the terminal):\n{text:?}"
    );
}

/// Panics unless `message` is one paragraph: non-empty and without a blank line.
pub fn assert_one_paragraph(message: &str, what: &str) {
    let m = message.trim();
    assert!(!m.is_empty(), "{what}: no message at all");
    assert!(
        !m.contains("\n\n") && !m.contains("\r\n\r\n"),
        "{what}: more than one paragraph:\n{m}"
    );
}

/// Position of the last occurrence of `needle` in `hay`.
pub fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

pub const ALT_ENTER: &[u8] = b"\x1b[?1049h";
pub const ALT_LEAVE: &[u8] = b"\x1b[?1049l";

/// Panics unless the program entered the alternate screen and, after its last entry, left
/// it again (the terminal is back to the shell's screen).
pub fn assert_terminal_restored(raw: &[u8]) {
    let shown = String::from_utf8_lossy(&raw[raw.len().saturating_sub(400)..]).into_owned();
    let enter = rfind(raw, ALT_ENTER)
        .unwrap_or_else(|| panic!("never entered the alternate screen; output tail: {shown:?}"));
    let leave = rfind(raw, ALT_LEAVE)
        .unwrap_or_else(|| panic!("never left the alternate screen; output tail: {shown:?}"));
    assert!(
        leave > enter,
        "the last \\x1b[?1049h (at {enter}) is not followed by \\x1b[?1049l (last at {leave}); \
         output tail: {shown:?}"
    );
}

fn nonzero(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).expect("a terminal of at least one row and column")
}

struct Shared {
    parser: vt100::Parser,
    raw: Vec<u8>,
    eof: bool,
}

/// A child process on a pseudo-terminal, its screen parsed as it draws.
pub struct Pty {
    child: Box<dyn Child + Send + Sync>,
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    shared: Arc<Mutex<Shared>>,
    reader: Option<JoinHandle<()>>,
    pid: i32,
    exited: Option<portable_pty::ExitStatus>,
}

impl Pty {
    fn spawn(mut cmd: CommandBuilder, home: &Home, cols: u16, rows: u16) -> Pty {
        cmd.cwd(home.path());
        cmd.env("CUTOVER_HOME", home.state());
        cmd.env("CUTOVER_CONFIG_DIR", no_config_dir());
        cmd.env_remove("CUTOVER_LOG");
        cmd.env("TERM", "xterm-256color");
        cmd.env("USER", USER);
        cmd.env("LOGNAME", USER);
        cmd.env_remove("NO_COLOR");
        // The 16-colour default, whatever terminal the tests are run from; tests/theme.rs
        // sets it where it matters.
        cmd.env_remove("COLORTERM");
        // Run from inside tmux or screen, the binary would copy into the developer's own
        // clipboard and skip the SSH notice; the tests that want a multiplexer start one.
        for var in ["TMUX", "TMUX_PANE", "STY"] {
            cmd.env_remove(var);
        }
        let size = PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        };
        let (child, master) = {
            let _guard = spawn_lock();
            let pair = native_pty_system().openpty(size).expect("openpty");
            let child = pair.slave.spawn_command(cmd).expect("spawn in pty");
            // Only the child may hold the slave, or the master never sees EOF.
            drop(pair.slave);
            (child, pair.master)
        };
        let pid = child.process_id().expect("child pid") as i32;
        let mut reader = master.try_clone_reader().expect("pty reader");
        let writer = master.take_writer().expect("pty writer");
        let shared = Arc::new(Mutex::new(Shared {
            parser: vt100::Parser::new(nonzero(rows), nonzero(cols), 0),
            raw: Vec::new(),
            eof: false,
        }));
        let feed = Arc::clone(&shared);
        // Drains until EOF (EIO once the child and its slave are gone), so the child
        // never blocks on a full pty buffer.
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut s = feed.lock().unwrap();
                        s.raw.extend_from_slice(&buf[..n]);
                        s.parser.process(&buf[..n]);
                    }
                }
            }
            feed.lock().unwrap().eof = true;
        });
        Pty {
            child,
            master,
            writer,
            shared,
            reader: Some(reader),
            pid,
            exited: None,
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The screen as text, one line per row.
    pub fn screen(&self) -> String {
        self.shared.lock().unwrap().parser.screen().contents()
    }

    /// The screen's rows (each exactly as wide as the terminal, spaces kept).
    pub fn rows(&self) -> Vec<String> {
        let s = self.shared.lock().unwrap();
        let (_, cols) = s.parser.screen().size();
        s.parser.screen().rows(0, cols.get()).collect()
    }

    /// Every byte the program wrote to the terminal so far.
    pub fn raw(&self) -> Vec<u8> {
        self.shared.lock().unwrap().raw.clone()
    }

    pub fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw()).into_owned()
    }

    /// Waits until `pred` holds for the screen text, or panics showing the screen.
    pub fn wait_until(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return;
            }
            let eof = self.shared.lock().unwrap().eof;
            if eof || Instant::now() >= deadline {
                // One last look: the final bytes may have arrived with the EOF.
                let screen = self.screen();
                if pred(&screen) {
                    return;
                }
                panic!(
                    "{} waiting for {what} (pid {}); the screen:\n{screen}\n--- end of screen",
                    if eof {
                        "the program closed the terminal while"
                    } else {
                        "timed out"
                    },
                    self.pid
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits until `text` is on the screen.
    pub fn wait_for(&self, text: &str, timeout: Duration) {
        self.wait_until(&format!("{text:?}"), timeout, |s| s.contains(text));
    }

    /// Waits until the status bar says `saved #n` (and not `saved #n0`...).
    pub fn wait_for_saved(&self, n: u64) {
        let want = format!("saved #{n}");
        self.wait_until(&format!("{want:?}"), TIMEOUT, |s| {
            s.match_indices(&want).any(|(i, m)| {
                !s[i + m.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit())
            })
        });
    }

    /// Types `keys` (raw bytes: "d", "q", "\r", "\x1b"...).
    pub fn send(&mut self, keys: &str) {
        self.writer
            .write_all(keys.as_bytes())
            .expect("write to pty");
        self.writer.flush().expect("flush pty");
    }

    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: plain kill(2) on the pid of a child we spawned and have not reaped.
        let rc = unsafe { libc::kill(self.pid, sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.pid);
    }

    pub fn kill_9(&self) {
        self.signal(libc::SIGKILL);
    }

    /// Whether the terminal is in cooked mode (canonical input and echo), read from the
    /// pty's termios. Meaningful after the program exits: a program that left it raw
    /// leaves the operator's shell unusable.
    pub fn termios_cooked(&self) -> bool {
        let fd = self.master.as_raw_fd().expect("pty master fd");
        // SAFETY: termios is plain data; tcgetattr fills it from an fd we own.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::tcgetattr(fd, &mut t) };
        assert_eq!(rc, 0, "tcgetattr on the pty failed");
        t.c_lflag & libc::ICANON != 0 && t.c_lflag & libc::ECHO != 0
    }

    /// Panics unless the program left the terminal as it found it: out of the alternate
    /// screen (by its bytes) and back in cooked mode (by the pty's termios).
    pub fn assert_restored(&self) {
        assert_terminal_restored(&self.raw());
        assert!(
            self.termios_cooked(),
            "pid {} left the terminal in raw mode (no canonical input or no echo)",
            self.pid
        );
    }

    /// Waits for the child to exit and for every byte it wrote to be read; panics with the
    /// screen on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> portable_pty::ExitStatus {
        if let Some(status) = &self.exited {
            return status.clone();
        }
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                panic!(
                    "pid {} did not exit within {timeout:?}; the screen:\n{}\n--- end of screen",
                    self.pid,
                    self.screen()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        while !self.shared.lock().unwrap().eof {
            assert!(
                Instant::now() < deadline + Duration::from_secs(5),
                "the pty of pid {} never reached EOF after the exit",
                self.pid
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.exited = Some(status.clone());
        status
    }

    /// Waits for the exit and returns its code, panicking if a signal ended it.
    pub fn wait_code(&mut self) -> u32 {
        let status = self.wait_exit(TIMEOUT);
        assert!(
            status.signal().is_none(),
            "pid {} was killed by {:?} instead of exiting; output:\n{}",
            self.pid,
            status.signal(),
            self.raw_text()
        );
        status.exit_code()
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        // A failed test must not leave its TUI running.
        if self.exited.is_none() && matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Every line of a journal file, parsed as JSON (panics on a line that is not).
pub fn journal_lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).expect("read journal");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad journal line ({e}): {l}")))
        .collect()
}
