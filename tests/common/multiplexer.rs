//! tmux and GNU screen of the tests' own, for the tests that run the binary inside a
//! multiplexer (tests/terminals.rs and tests/clipboard.rs).
//!
//! Those tests need the programs. `.ci/run` installs them; without them the tests fail
//! (saying so) unless `CUTOVER_SKIP_MULTIPLEXER_TESTS=1` is set.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{Home, USER};

/// Set to `1`, a missing tmux or screen skips the test that needs it instead of failing it.
pub const SKIP_VAR: &str = "CUTOVER_SKIP_MULTIPLEXER_TESTS";

/// How often a multiplexer's screen is looked at while waiting.
pub const POLL: Duration = Duration::from_millis(100);

/// The executable `name` on `PATH`, if any.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The multiplexer `name`, or `None` when it is missing and the skip variable says to
/// skip; a missing one without that variable fails the test.
pub fn multiplexer(name: &str) -> Option<PathBuf> {
    if let Some(path) = find_on_path(name) {
        return Some(path);
    }
    if std::env::var(SKIP_VAR).as_deref() == Ok("1") {
        eprintln!("SKIPPED: `{name}` is not on PATH and {SKIP_VAR}=1");
        return None;
    }
    panic!(
        "`{name}` is not on PATH; these tests need tmux and GNU screen. `.ci/run` installs \
         them (apt-get install tmux screen); set {SKIP_VAR}=1 to skip these tests instead"
    );
}

/// A name no other test (or test run) uses.
pub fn unique(what: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "cutover-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// `s` quoted for `sh`.
pub fn sh_quote(s: &OsStr) -> String {
    format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"))
}

/// The environment of a process run inside a multiplexer, like `common`'s `Home` gives its
/// own (the home's state, no config, a fixed user), plus a `HOME` of its own so no
/// personal `.tmux.conf` or `.screenrc` is read.
pub fn home_env(home: &Home) -> Vec<(&'static str, PathBuf)> {
    let user_home = home.path().join("user-home");
    std::fs::create_dir_all(&user_home).unwrap();
    vec![
        ("CUTOVER_HOME", home.state()),
        ("CUTOVER_CONFIG_DIR", super::no_config_dir()),
        ("HOME", user_home),
        ("USER", USER.into()),
        ("LOGNAME", USER.into()),
        ("SHELL", "/bin/sh".into()),
    ]
}

/// `export K='v'; ` for every variable of `env`, after unsetting whatever multiplexer the
/// tests themselves run in.
pub fn exports(env: &[(&str, PathBuf)]) -> String {
    let mut out = String::from("unset TMUX TMUX_PANE STY; ");
    for (k, v) in env {
        out.push_str(&format!("export {k}={}; ", sh_quote(v.as_os_str())));
    }
    out
}

/// A tmux server of the test's own: its own `TMUX_TMPDIR`, and a socket name of its own
/// when given (else tmux's `default` in that directory). Killed when dropped, so a failed
/// test leaves no server behind.
pub struct Tmux {
    pub tmux: PathBuf,
    pub tmpdir: tempfile::TempDir,
    pub socket: Option<String>,
    /// How long [`Tmux::wait_pane`] waits.
    wait: Duration,
}

impl Tmux {
    pub fn new(tmux: PathBuf, socket: Option<String>, wait: Duration) -> Tmux {
        Tmux {
            tmux,
            tmpdir: tempfile::tempdir().expect("tempdir for TMUX_TMPDIR"),
            socket,
            wait,
        }
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.tmux);
        cmd.env("TMUX_TMPDIR", self.tmpdir.path())
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(s) = &self.socket {
            cmd.args(["-L", s]);
        }
        cmd
    }

    /// Runs `tmux args`; panics unless it succeeds, returns its stdout.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        let out = self.try_run(args);
        assert!(
            out.status.success(),
            "tmux {:?} failed: {}",
            args.iter()
                .map(|a| a.as_ref().to_owned())
                .collect::<Vec<_>>(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `tmux args`, whatever comes of it.
    pub fn try_run<S: AsRef<OsStr>>(&self, args: &[S]) -> std::process::Output {
        self.command().args(args).output().expect("run tmux")
    }

    /// The visible pane, wrapped lines joined.
    pub fn capture(&self, target: &str) -> String {
        self.run(&["capture-pane", "-p", "-J", "-t", target])
    }

    /// Waits until the pane's text satisfies `pred`; returns it, or panics showing it.
    pub fn wait_pane(&self, target: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + self.wait;
        loop {
            let text = self.capture(target);
            if pred(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} in tmux pane {target}; the pane:\n{text}\n--- end of pane"
            );
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").output();
    }
}

/// A GNU screen session of the test's own (`SCREENDIR` private, 0700 as screen demands),
/// quit when dropped.
pub struct Screen {
    pub screen: PathBuf,
    pub dir: tempfile::TempDir,
    pub name: String,
}

impl Screen {
    pub fn new(screen: PathBuf) -> Screen {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir for SCREENDIR");
        // screen refuses a socket directory others could read.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        Screen {
            screen,
            dir,
            name: unique("screen"),
        }
    }

    /// The shell line that runs `inner` (a `sh -c` script whose `$0` is the outer shell's
    /// `$0`, the binary, and whose `$1`... are `args`) in this screen with its default
    /// configuration, under the variables of `env` (see [`exports`]).
    pub fn script(&self, env: &[(&str, PathBuf)], inner: &str, args: &[&OsStr]) -> String {
        let mut line = format!(
            "{}export SCREENDIR={}; exec {} -q -c /dev/null -S {} /bin/sh -c {} \"$0\"",
            exports(env),
            sh_quote(self.dir.path().as_os_str()),
            sh_quote(self.screen.as_os_str()),
            self.name,
            sh_quote(OsStr::new(inner)),
        );
        for arg in args {
            line.push(' ');
            line.push_str(&sh_quote(arg));
        }
        line
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = Command::new(&self.screen)
            .env("SCREENDIR", self.dir.path())
            .args(["-S", &self.name, "-X", "quit"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
