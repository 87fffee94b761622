//! The commands that help write runbooks and install cutover: `init`, `schema`,
//! `completions` and `man`.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use super::{Failure, exit};
use crate::cli::{Cli, CompletionShell};

/// The starter runbook: every kind of step and table, each with a comment on what it is
/// for. `tests/authoring.rs` holds it to `validate --strict` and to the schema.
pub const STARTER: &str = include_str!("../../assets/init.toml");

/// Writes the starter runbook to `path`, never over an existing file: the one a runbook
/// author already has is worth more than a template.
pub fn init(path: &Path) -> Result<(), Failure> {
    let shown = path.display();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path);
    let mut file = match file {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Failure::new(
                exit::CANT_CREATE,
                format!(
                    "{shown} already exists; not overwriting it (name another path: cutover init PATH)"
                ),
            ));
        }
        Err(e) => {
            return Err(Failure::new(
                exit::CANT_CREATE,
                format!("cannot create {shown}: {e}"),
            ));
        }
    };
    file.write_all(STARTER.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Failure::new(exit::IO, format!("cannot write {shown}: {e}")))?;
    println!("wrote {shown}: edit it, then check it with `cutover validate --strict {shown}`");
    Ok(())
}

pub fn schema() -> Result<(), Failure> {
    emit(crate::runbook::schema::render().as_bytes(), "the schema")
}

pub fn completions(shell: CompletionShell) -> Result<(), Failure> {
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    // clap_complete panics when its writer fails, so the script is built in memory and a
    // closed pipe is dealt with here.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut visible_command(), "cutover", &mut script);
    emit(&script, "the completion script")
}

/// The command line without its hidden subcommands: clap_complete's scripts would offer
/// them on tab, and `__supervise` is for cutover's own use.
fn visible_command() -> clap::Command {
    let full = Cli::command();
    let visible: Vec<clap::Command> = full
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .cloned()
        .collect();
    let mut cmd = clap::Command::new("cutover")
        .version(env!("CARGO_PKG_VERSION"))
        .args(full.get_arguments().cloned())
        .subcommands(visible);
    if let Some(about) = full.get_about() {
        cmd = cmd.about(about.clone());
    }
    cmd
}

pub fn man() -> Result<(), Failure> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|e| Failure::new(exit::IO, format!("cannot render the man page: {e}")))?;
    emit(&page, "the man page")
}

/// Writes to stdout; a reader that stopped early (`| head`) is not an error.
fn emit(bytes: &[u8], what: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::new(exit::IO, format!("cannot write {what}: {e}")))
        }
        _ => Ok(()),
    }
}
