//! `--tmux`: start the screen inside a tmux session, so a dropped SSH link takes only the
//! link and `tmux attach` brings the view back.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use super::{Failure, exit};

/// What `--tmux` asked for, decided before anything is created.
pub enum Plan {
    /// Already inside tmux (or not asked): run here.
    Here,
    /// Re-run this command inside `tmux new-session -A -s <session>`.
    Reexec { tmux: PathBuf, session: String },
}

/// Decides what `--tmux` means here: nothing inside tmux already, else a re-exec under
/// the tmux found on `PATH`, or a failure that names what is missing.
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

/// Replaces this process with tmux running the same command; returns only on failure.
pub fn reexec(tmux: &Path, session: &str) -> Failure {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            return Failure::new(
                exit::IO,
                format!("cannot find the cutover binary to run inside tmux: {e}"),
            );
        }
    };
    let args = args_without_tmux(std::env::args_os().skip(1));
    let err = std::process::Command::new(tmux)
        .args(["new-session", "-A", "-s", session, "--"])
        .arg(exe)
        .args(args)
        .exec();
    Failure::new(
        exit::IO,
        format!("cannot start tmux ({}): {err}", tmux.display()),
    )
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
    fn tmux_is_looked_for_only_on_path() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(find_on_path(dir.path().as_os_str(), "tmux"), None);
    }
}
