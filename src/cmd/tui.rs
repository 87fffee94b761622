//! What `run`, `demo` and `resume` share: the operator's settings, the terminal check,
//! logging, and driving the screen over a locked session.

use std::io::{IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;

use tracing_subscriber::EnvFilter;

use super::{Failure, exit};
use crate::app::runtime::{self, JournalWriter};
use crate::app::{App, Flash, Keymap};
use crate::config::{Config, ConfigError};
use crate::session::{Journal, SessionLock, SessionPaths};

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::new(exit::CONFIG, e.to_string())
    }
}

/// Everything the screen takes from the operator's environment rather than the runbook.
pub struct Settings {
    pub config: Config,
    pub keymap: Keymap,
    pub log: EnvFilter,
}

/// Reads `config.toml`, the keymap and `CUTOVER_LOG`. Called first, so a mistake in any
/// of them is reported before a session is created or the terminal is touched.
pub fn settings() -> Result<Settings, Failure> {
    let config = crate::config::load()?;
    let keymap = config.keymap()?;
    let log = log_filter(std::env::var("CUTOVER_LOG").ok().as_deref())?;
    Ok(Settings {
        config,
        keymap,
        log,
    })
}

/// The session log's filter from `CUTOVER_LOG` (EnvFilter syntax: `debug`,
/// `cutover=trace`, ...), `info` when unset or empty. A value that does not parse is
/// refused rather than replaced: whoever set it wanted a log the default would not give.
pub fn log_filter(value: Option<&str>) -> Result<EnvFilter, Failure> {
    let value = value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or("info");
    EnvFilter::try_new(value).map_err(|e| {
        Failure::new(
            exit::CONFIG,
            format!(
                "CUTOVER_LOG=`{value}` is not a log filter: {e}; use a level (error, warn, \
                 info, debug, trace) or target=level pairs such as `cutover=debug`, or unset it"
            ),
        )
    })
}

/// The full screen needs a terminal on both ends; checked before anything touches the
/// terminal or creates a session.
pub fn require_terminal() -> Result<(), Failure> {
    let stdin = std::io::stdin().is_terminal();
    let stdout = std::io::stdout().is_terminal();
    if stdin && stdout {
        return Ok(());
    }
    let which = match (stdin, stdout) {
        (false, false) => "standard input and output are not terminals",
        (false, true) => "standard input is not a terminal",
        _ => "standard output is not a terminal",
    };
    Err(Failure::new(
        exit::USAGE,
        format!(
            "{which}, and the checklist is a full-screen program. Run it from an interactive \
             shell (over SSH, use `ssh -t`). To read a session from a script, use \
             `cutover status --json` or `cutover sessions --json`."
        ),
    ))
}

/// Diagnostics go to the session's `cutover.log`, never to the terminal.
pub fn init_logging(paths: &SessionPaths, filter: EnvFilter) {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(paths.log());
    if let Ok(file) = file {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .with_target(false)
            // A log write that fails (a full disk, a file-size limit) must not be
            // reported on stderr: that is the screen, or gone with the terminal.
            .log_internal_errors(false)
            .try_init();
    }
    install_panic_log();
}

/// Panics are logged to `cutover.log` as well; the screen's hook (installed later,
/// chained in front of this one: `app::runtime::screen`) restores the terminal first.
fn install_panic_log() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!("panic: {info}");
        previous(info);
    }));
}

/// Said once, in the status bar, when a dropped link would take the screen with it.
pub const SSH_NOTICE: &str = "over SSH outside tmux/screen: commands survive a disconnect, this \
     view does not (cutover resume brings it back; cutover run --tmux keeps it)";

/// Whether the screen runs over SSH with nothing (tmux, GNU screen) to keep it alive when
/// the link drops; `env` reads one variable, so the decision is testable without touching
/// the process environment. A variable set to the empty string counts as unset.
pub fn ssh_notice(env: impl Fn(&str) -> Option<String>) -> Option<&'static str> {
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    let over_ssh = set("SSH_CONNECTION") || set("SSH_TTY");
    let multiplexed = set("TMUX") || set("STY");
    (over_ssh && !multiplexed).then_some(SSH_NOTICE)
}

/// Drives the screen until quit, then says how to come back.
pub fn drive(
    mut app: App,
    journal: Journal,
    paths: &SessionPaths,
    lock: SessionLock,
    config: &Config,
) -> Result<(), Failure> {
    if let Some(notice) = ssh_notice(|name| std::env::var(name).ok()) {
        app.view.flash = Some(Flash::warn(notice));
    }
    let writer = JournalWriter::spawn(journal, app.operator.clone());
    let saved = app.run.last_seq;
    tracing::info!(session = %paths.id, saved, "screen opened");
    let exe = std::env::current_exe().map_err(|e| {
        Failure::new(
            exit::IO,
            format!("cannot find the cutover binary to run commands under: {e}"),
        )
    })?;
    let tasks = runtime::Tasks {
        dir: crate::runner::TaskDir::new(&paths.dir),
        exe,
        messages: paths.messages(),
        pager: config.pager(),
        shell: config.shell.clone(),
    };
    let result = runtime::run(app, writer, tasks);
    drop(lock);
    let left = result.map_err(|e| {
        let failure = Failure::new(
            exit::IO,
            format!(
                "{e}; session {id} is saved, resume with `cutover resume {id}`",
                id = paths.id
            ),
        );
        super::tmux::leave_farewell(failure.code, &failure.message);
        failure
    })?;
    let exit = left.exit;
    tracing::info!(?exit, running = left.running.len(), "screen closed");
    let why = match exit {
        runtime::Exit::Quit => "quit".to_string(),
        runtime::Exit::Signal(n) => format!("signal {n}"),
        runtime::Exit::TerminalGone => "the terminal went away".to_string(),
    };
    // Said plainly, because "quit" must never sound like "stopped the upgrade".
    let still = if left.running.is_empty() {
        String::new()
    } else {
        format!(
            "\nStill running without the screen (they finish on their own; resume to follow them): {}",
            left.running
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let message = format!(
        "left session {id} ({why}); everything shown as saved is in {dir}.{still}\n\
         Resume with: cutover resume {id}",
        id = paths.id,
        dir = paths.dir.display()
    );
    let code = match exit {
        runtime::Exit::Quit => 0,
        // Wrappers tell a signal from a quit by the conventional 128 + n.
        runtime::Exit::Signal(n) => u8::try_from(128 + n).unwrap_or(1),
        runtime::Exit::TerminalGone => exit::IO,
    };
    // Under `--tmux` this terminal closes with the pane; the cutover that started tmux
    // says it again on the operator's own.
    super::tmux::leave_farewell(code, &message);
    if code == 0 {
        // Ignored if stdout is gone with the terminal: the exit code still tells.
        let _ = writeln!(std::io::stdout(), "cutover: {message}");
        Ok(())
    } else {
        Err(Failure::new(code, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn ssh_outside_a_multiplexer_gets_the_notice() {
        let env = env_of(&[("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22")]);
        assert_eq!(ssh_notice(env), Some(SSH_NOTICE));
        let env = env_of(&[("SSH_TTY", "/dev/pts/3")]);
        assert_eq!(ssh_notice(env), Some(SSH_NOTICE));
    }

    #[test]
    fn ssh_inside_tmux_or_screen_is_quiet() {
        let env = env_of(&[
            ("SSH_TTY", "/dev/pts/3"),
            ("TMUX", "/tmp/tmux-1000/default,1,0"),
        ]);
        assert_eq!(ssh_notice(env), None);
        let env = env_of(&[("SSH_CONNECTION", "a b c d"), ("STY", "1234.pts-3.jump1")]);
        assert_eq!(ssh_notice(env), None);
    }

    #[test]
    fn local_terminal_is_quiet_with_or_without_tmux() {
        assert_eq!(ssh_notice(env_of(&[])), None);
        assert_eq!(
            ssh_notice(env_of(&[("TMUX", "/tmp/tmux-1000/default,1,0")])),
            None
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let env = env_of(&[("SSH_TTY", ""), ("SSH_CONNECTION", "")]);
        assert_eq!(ssh_notice(env), None);
        let env = env_of(&[("SSH_TTY", "/dev/pts/3"), ("TMUX", "")]);
        assert_eq!(ssh_notice(env), Some(SSH_NOTICE));
    }

    #[test]
    fn the_notice_is_one_line() {
        assert!(!SSH_NOTICE.contains('\n'));
        assert_eq!(
            SSH_NOTICE,
            "over SSH outside tmux/screen: commands survive a disconnect, this view does not \
             (cutover resume brings it back; cutover run --tmux keeps it)"
        );
    }
}
