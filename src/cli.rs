//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const DURABILITY: &str = "\
Once the status bar shows `saved #N`, action N and every action before it are on disk \
(appended and fsynced to the session's journal) and survive kill -9, a dropped SSH link, \
a panic or a reboot. `cutover resume` brings them back exactly.";

#[derive(Debug, Parser)]
#[command(
    name = "cutover",
    version,
    about = "A full-screen runbook executor for maintenance windows",
    after_help = DURABILITY
)]
pub struct Cli {
    /// Plain ASCII glyphs instead of symbols (for fonts or terminals without them).
    #[arg(long, global = true)]
    pub ascii: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a new session from a runbook and open the checklist.
    #[command(after_help = DURABILITY)]
    Run {
        /// The runbook (TOML).
        runbook: PathBuf,
        /// Override a runbook variable: --var TO_VERSION=2025.09.00 (repeatable).
        #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_var)]
        vars: Vec<(String, String)>,
        /// When the window opens, RFC 3339 with an offset (default: the runbook's, else now).
        #[arg(long, value_name = "TIME")]
        window_start: Option<String>,
        /// How long the window lasts, e.g. 4h or 2h30m (default: the runbook's).
        #[arg(long, value_name = "DURATION")]
        window_duration: Option<String>,
        /// Run inside a new tmux session `cutover-<runbook stem>-<YYYYmmdd-HHMMSS>` (UTC), so a
        /// dropped SSH link leaves the view running (`tmux attach -t <name>` brings it
        /// back). Needs tmux on PATH; a no-op when already inside tmux.
        #[arg(long)]
        tmux: bool,
        /// Rehearse: walk the runbook without executing anything. Enter shows a step's
        /// command, d marks it done by hand; no backup is taken and no message is sent.
        /// The session, its status and its report are marked as a rehearsal.
        #[arg(long)]
        dry_run: bool,
    },
    /// Reopen a session after a quit, a crash or a dropped connection.
    #[command(after_help = DURABILITY)]
    Resume {
        /// Session id (default: the most recent unfinished session).
        session: Option<String>,
    },
    /// Follow a session someone else drives, read-only: the same screen, live from its
    /// journal and logs. Only the keys that move the view work; nothing is locked or
    /// changed, so the driver can quit and resume meanwhile.
    Watch {
        /// Session id (default: the most recent unfinished session, else the most recent).
        session: Option<String>,
    },
    /// List sessions (unfinished ones unless --all).
    Sessions {
        /// Include finished sessions.
        #[arg(long)]
        all: bool,
        /// Machine-readable output (documented in the README).
        #[arg(long)]
        json: bool,
    },
    /// Print a session's replayed state: every step and backup, the window.
    Status {
        /// Session id (default: the most recent session).
        session: Option<String>,
        /// Machine-readable output (documented in the README).
        #[arg(long)]
        json: bool,
    },
    /// Check a session offline: every journal line's checksum and fields, the sequence,
    /// the runbook copy against its recorded sha256, and the task files against the
    /// journal. Reads only; safe while the session is open.
    ///
    /// Exits 0 when nothing is damaged (warnings allowed: a torn last line is what a
    /// crash mid-write leaves), 65 when something is, 66 when there is no such session.
    Verify {
        /// Session id (default: the most recent session).
        session: Option<String>,
        /// Machine-readable output (documented in the README).
        #[arg(long)]
        json: bool,
    },
    /// Print the after-action record of a session, for the change ticket.
    Report {
        /// Session id (default: the most recent session).
        session: Option<String>,
        /// `markdown` or `json` (documented in the README).
        #[arg(long, value_name = "FORMAT", default_value = "markdown")]
        format: String,
        /// Write the report to FILE instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// Instead of the report, print proposed `estimate` values from the steps' actual
        /// durations, as a diff against the session's runbook copy.
        #[arg(long)]
        suggest_estimates: bool,
    },
    /// Print the stakeholder message a session calls for now, rendered from its runbook.
    Message {
        /// Session id (default: the most recent session).
        session: Option<String>,
        /// `before`, `during`, `after` or `rollback` (default: the one the moment calls for).
        #[arg(long, value_name = "PHASE")]
        phase: Option<String>,
    },
    /// Check runbooks: syntax, references, cycles, templates, versions, plan fit.
    Validate {
        /// One or more runbook files.
        #[arg(required = true)]
        runbooks: Vec<PathBuf>,
        /// Treat warnings as errors.
        #[arg(long)]
        strict: bool,
    },
    /// Run the bundled demo runbook in a fresh session (harmless commands only).
    Demo {
        /// Run inside a new tmux session `cutover-<runbook stem>-<YYYYmmdd-HHMMSS>` (UTC), so a
        /// dropped SSH link leaves the view running (`tmux attach -t <name>` brings it
        /// back). Needs tmux on PATH; a no-op when already inside tmux.
        #[arg(long)]
        tmux: bool,
        /// Rehearse: walk the runbook without executing anything. Enter shows a step's
        /// command, d marks it done by hand; no backup is taken and no message is sent.
        /// The session, its status and its report are marked as a rehearsal.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write a commented starter runbook that teaches the format.
    ///
    /// Its commands only print and write into `./backups`, so it can be tried with
    /// `cutover run` as it is; it passes `cutover validate --strict`.
    Init {
        /// Where to write it; an existing file is never overwritten.
        #[arg(default_value = "runbook.toml")]
        path: PathBuf,
    },
    /// Print the JSON Schema of the runbook format, for editors.
    ///
    /// Save it beside a runbook (`cutover schema > runbook.schema.json`) and start the
    /// runbook with `#:schema ./runbook.schema.json`: TOML extensions built on taplo then
    /// complete keys and flag typos as you type.
    Schema,
    /// Print a shell completion script for bash, zsh or fish.
    ///
    /// For example: `cutover completions bash > ~/.local/share/bash-completion/completions/cutover`.
    Completions {
        /// The shell to complete in.
        shell: CompletionShell,
    },
    /// Print the man page (roff).
    ///
    /// Read it with `cutover man | man -l -`, or install it with
    /// `cutover man > ~/.local/share/man/man1/cutover.1`.
    Man,
    /// Internal: the detached supervisor of one command (started by the checklist).
    #[command(name = "__supervise", hide = true)]
    Supervise {
        /// The task's spec file (`tasks/<task>.spec.json`).
        spec: PathBuf,
    },
}

/// The shells `cutover completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}
