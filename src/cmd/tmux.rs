//! `--tmux`: start the screen inside a tmux session, so a dropped SSH link takes only the
//! link and `tmux attach` brings the view back.
//!
//! The cutover that was asked for `--tmux` stays, as tmux's parent, on the operator's own
//! terminal. The cutover inside tmux leaves its goodbye (which session, how to resume it,
//! what still runs) and its exit code in a file named by [`FAREWELL_VAR`]; when tmux
//! returns, the outer one says it again where the operator can read it, since the pane it
//! was printed in closed with it. When tmux returns without one, the operator detached, and
//! the outer cutover says how to come back.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Failure, exit};

/// The variable naming the file the cutover inside tmux leaves its goodbye in: the exit
/// code on the first line, then the message as [`super::tui::drive`] says it.
pub const FAREWELL_VAR: &str = "CUTOVER_FAREWELL";

/// What `--tmux` asked for, decided before anything is created.
pub enum Plan {
    /// Already inside tmux (or not asked): run here.
    Here,
    /// Run this command again inside `tmux new-session -A -s <session>`, and wait for it.
    Reexec { tmux: PathBuf, session: String },
}

/// Decides what `--tmux` means here: nothing inside tmux already, else a run under the
/// tmux found on `PATH`, or a failure that names what is missing.
pub fn plan(stem: &str) -> Result<Plan, Failure> {
    if std::env::var_os("TMUX").is_some_and(|v| !v.is_empty()) {
        return Ok(Plan::Here);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let Some(tmux) = find_on_path(&path, "tmux") else {
        return Err(Failure::new(
            exit::USAGE,
            "--tmux needs tmux, and no `tmux` executable is on PATH; install tmux (e.g. \
             `apt install tmux`), or run without --tmux (inside tmux or GNU screen, or accept \
             that a dropped link closes the view; `cutover resume` brings it back)",
        ));
    };
    // UTC, like session ids, so the two read alike.
    let now = jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S").to_string();
    Ok(Plan::Reexec {
        tmux,
        session: session_name(stem, &now),
    })
}

/// `cutover-<stem>-<YYYYmmdd-HHMMSS>`, with anything tmux would refuse or rewrite in a
/// session name (`.` and `:` above all) made a `_`, so the name printed is the name tmux uses.
pub fn session_name(stem: &str, stamp: &str) -> String {
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = if stem.is_empty() { "runbook" } else { &stem };
    format!("cutover-{stem}-{stamp}")
}

/// This process's own arguments without `--tmux`, for the run inside tmux.
pub fn args_without_tmux(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    args.into_iter().filter(|a| a != "--tmux").collect()
}

/// Runs this command inside tmux (see [`run_inside`]) and ends the process with what it
/// said: returns only a failure to report, and exits with 0 itself otherwise.
pub fn reexec(tmux: &Path, session: &str) -> Failure {
    match run_inside(tmux, session) {
        Ok(()) => {
            let _ = std::io::stdout().flush();
            std::process::exit(0)
        }
        Err(failure) => failure,
    }
}

/// Runs this command, minus `--tmux`, in `tmux new-session -A -s <session>` (attaching to
/// a session of that name if one exists) and waits for the tmux client. Then it says what
/// the cutover inside said on leaving: its goodbye on stdout and `Ok` after a quit, or its
/// failure (exit code included) for the caller to report. Without a goodbye while the
/// session lives on, the operator detached, and it says how to come back. A tmux that
/// cannot be started at all fails with [`exit::IO`], as the `exec` of old did.
pub fn run_inside(tmux: &Path, session: &str) -> Result<(), Failure> {
    let exe = std::env::current_exe().map_err(|e| {
        Failure::new(
            exit::IO,
            format!("cannot find the cutover binary to run inside tmux: {e}"),
        )
    })?;
    let args = args_without_tmux(std::env::args_os().skip(1));
    // Without the file (an unwritable temp directory) the screen still starts; only
    // its goodbye stays in the pane.
    let farewell = Farewell::create().ok();
    let mut cmd = Command::new(tmux);
    cmd.args(["new-session", "-A", "-s", session, "--"]);
    if let Some(farewell) = &farewell {
        cmd.args(farewell_wrapper(&farewell.path));
    }
    let status = cmd.arg(exe).args(args).status().map_err(|e| {
        Failure::new(
            exit::IO,
            format!("cannot start tmux ({}): {e}", tmux.display()),
        )
    })?;
    let said = farewell.as_ref().and_then(Farewell::read);
    if let Some(said) = said {
        return said.into_result();
    }
    if session_exists(tmux, session) {
        println!(
            "cutover: the screen goes on in tmux session {session}; come back to it with \
             `tmux attach -t {session}`"
        );
        return Ok(());
    }
    // The session is gone and nothing was said yet: a tmux server killed under the
    // screen, which is still saying goodbye.
    if let Some(said) = farewell
        .as_ref()
        .and_then(|f| f.wait(Duration::from_secs(2)))
    {
        return said.into_result();
    }
    let how = match status.code() {
        Some(0) => "tmux ended normally".to_string(),
        Some(n) => format!("tmux exited with {n}"),
        None => "tmux was killed".to_string(),
    };
    Err(Failure::new(
        exit::IO,
        format!(
            "tmux session {session} is gone, and the cutover in it left no goodbye ({how}). \
             Commands it started keep running under their own supervisor; `cutover \
             sessions` lists the session, and `cutover resume <id>` reopens its screen"
        ),
    ))
}

/// The command line's head that sets [`FAREWELL_VAR`] for the cutover inside tmux, and
/// for nothing else in the session (other windows, other tmux sessions). `new-session -e`
/// would need tmux 3.2 and give it to every window; `env NAME=value` would read a binary
/// path with a `=` in it as one more variable. The script is fixed text: the path and the
/// command come as its arguments, never spliced into it.
fn farewell_wrapper(path: &Path) -> [&std::ffi::OsStr; 4] {
    [
        "/bin/sh".as_ref(),
        "-c".as_ref(),
        // The name is FAREWELL_VAR's.
        r#"CUTOVER_FAREWELL="$0"; export CUTOVER_FAREWELL; exec "$@""#.as_ref(),
        path.as_os_str(),
    ]
}

/// Whether tmux still has a session of exactly this name.
fn session_exists(tmux: &Path, session: &str) -> bool {
    Command::new(tmux)
        .args(["has-session", "-t", &format!("={session}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Leaves the goodbye of a screen run inside `--tmux` for the cutover that started tmux,
/// when [`FAREWELL_VAR`] names a file; best effort. The file must exist already: one
/// gone (its tmux client left earlier) is not created again.
pub fn leave_farewell(code: u8, message: &str) {
    let Some(path) = std::env::var_os(FAREWELL_VAR).filter(|p| !p.is_empty()) else {
        return;
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path);
    if let Ok(mut file) = file {
        let _ = file.write_all(format_farewell(code, message).as_bytes());
    }
}

/// What the cutover inside tmux said on leaving.
#[derive(Debug, PartialEq)]
struct Said {
    code: u8,
    message: String,
}

impl Said {
    /// As the cutover inside would have ended: a quit's goodbye on stdout, prefixed like
    /// `drive` prints it; anything else a failure with its code, printed by `main`.
    fn into_result(self) -> Result<(), Failure> {
        if self.code == 0 {
            println!("cutover: {}", self.message);
            Ok(())
        } else {
            Err(Failure::new(self.code, self.message))
        }
    }
}

fn format_farewell(code: u8, message: &str) -> String {
    format!("{code}\n{message}")
}

/// `None` for an empty file (nothing said yet) or one not written by [`format_farewell`].
fn parse_farewell(text: &str) -> Option<Said> {
    let (code, message) = text.split_once('\n')?;
    Some(Said {
        code: code.parse().ok()?,
        message: message.to_string(),
    })
}

/// The outer cutover's private, empty file for the goodbye; removed when dropped.
struct Farewell {
    path: PathBuf,
}

impl Farewell {
    /// A new file (mode 0600, never an existing one) in the temp directory.
    fn create() -> std::io::Result<Farewell> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut attempt = 0u32;
        loop {
            let path = dir.join(format!(
                "cutover-farewell-{}-{nanos:09}-{attempt}",
                std::process::id()
            ));
            let made = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path);
            match made {
                Ok(_) => return Ok(Farewell { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn read(&self) -> Option<Said> {
        let mut text = String::new();
        File::open(&self.path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .ok()?;
        parse_farewell(&text)
    }

    /// Reads until something was said (the same twice in a row, so never half a write),
    /// for at most `limit`.
    fn wait(&self, limit: Duration) -> Option<Said> {
        let deadline = Instant::now() + limit;
        let mut last = None;
        loop {
            let now = self.read();
            if now.is_some() && now == last {
                return now;
            }
            if Instant::now() >= deadline {
                return None;
            }
            last = now;
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Farewell {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn find_on_path(path: &std::ffi::OsStr, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_name_is_tmux_safe() {
        assert_eq!(
            session_name("upgrade.v2:prod", "20261128-210000"),
            "cutover-upgrade_v2_prod-20261128-210000"
        );
        assert_eq!(
            session_name("", "20261128-210000"),
            "cutover-runbook-20261128-210000"
        );
    }

    #[test]
    fn only_the_tmux_flag_is_dropped() {
        let args = ["run", "--tmux", "rb.toml", "--var", "A=--tmux=x"].map(OsString::from);
        assert_eq!(
            args_without_tmux(args),
            ["run", "rb.toml", "--var", "A=--tmux=x"].map(OsString::from)
        );
    }

    #[test]
    fn a_farewell_reads_back_as_written() {
        let message = "left session s1 (signal 15); everything shown as saved is in /x.\n\
                       Still running without the screen: a, b\nResume with: cutover resume s1";
        assert_eq!(
            parse_farewell(&format_farewell(143, message)),
            Some(Said {
                code: 143,
                message: message.to_string()
            })
        );
        assert_eq!(parse_farewell(""), None);
        assert_eq!(parse_farewell("14"), None);
        assert_eq!(parse_farewell("left session\n"), None);
    }

    #[test]
    fn the_farewell_file_is_private_and_goes_away() {
        use std::os::unix::fs::PermissionsExt;
        let farewell = Farewell::create().unwrap();
        let path = farewell.path.clone();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(farewell.read(), None);
        std::fs::write(&path, format_farewell(0, "bye")).unwrap();
        assert_eq!(
            farewell.wait(Duration::from_secs(1)),
            Some(Said {
                code: 0,
                message: "bye".to_string()
            })
        );
        drop(farewell);
        assert!(!path.exists());
    }

    #[test]
    fn the_wrapper_sets_the_variable_and_runs_the_command_as_given() {
        let path = Path::new("/tmp/a b$(false)'=\"c");
        let wrapper = farewell_wrapper(path);
        assert!(wrapper[2].to_string_lossy().contains(FAREWELL_VAR));
        let out = Command::new(wrapper[0])
            .args(&wrapper[1..])
            .args([
                "/bin/sh",
                "-c",
                r#"printf '%s|%s' "$CUTOVER_FAREWELL" "$0""#,
            ])
            .arg("x=y $HOME")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{}|x=y $HOME", path.display())
        );
    }

    #[test]
    fn tmux_is_looked_for_only_on_path() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(find_on_path(dir.path().as_os_str(), "tmux"), None);
    }
}
