//! One module per command. Each returns `Err(Failure)` with the message and the exit
//! code the operator (or a script) sees.

pub mod authoring;
pub mod message;
pub mod report;
pub mod resume;
pub mod start;
pub mod status;
pub mod tmux;
pub mod tui;
pub mod validate;
pub mod verify;
pub mod watch;

use std::fmt;

use crate::cli::{Cli, Command};

/// Exit codes follow sysexits so wrappers can tell failures apart.
pub mod exit {
    /// Bad usage, or not a terminal.
    pub const USAGE: u8 = 64;
    /// A broken runbook or a damaged journal.
    pub const DATA: u8 = 65;
    /// No such session.
    pub const NO_INPUT: u8 = 66;
    /// The state directory cannot be created or written.
    pub const CANT_CREATE: u8 = 73;
    /// An I/O error on the state directory.
    pub const IO: u8 = 74;
    /// The session is held by another cutover.
    pub const LOCKED: u8 = 75;
    /// The operator's config, keymap or `CUTOVER_LOG` is wrong.
    pub const CONFIG: u8 = 78;
}

#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.message.trim_end();
        if m.starts_with("error") || m.starts_with("warning") {
            write!(f, "{m}")
        } else {
            write!(f, "cutover: {m}")
        }
    }
}

impl From<crate::session::StoreError> for Failure {
    fn from(e: crate::session::StoreError) -> Self {
        use crate::session::{JournalError, StoreError};
        let code = match &e {
            StoreError::Unwritable { .. } => exit::CANT_CREATE,
            StoreError::NotFound { .. } | StoreError::NothingToResume { .. } => exit::NO_INPUT,
            StoreError::Locked { .. } => exit::LOCKED,
            StoreError::Journal(JournalError::Corrupt { .. }) => exit::DATA,
            StoreError::Io { .. } | StoreError::Journal(_) => exit::IO,
        };
        Failure::new(code, e.to_string())
    }
}

impl From<crate::runbook::RunbookError> for Failure {
    fn from(e: crate::runbook::RunbookError) -> Self {
        let code = match &e {
            crate::runbook::RunbookError::Read { .. } => exit::NO_INPUT,
            crate::runbook::RunbookError::Invalid { .. } => exit::DATA,
        };
        Failure::new(code, e.render())
    }
}

pub fn dispatch(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Run {
            runbook,
            vars,
            window_start,
            window_duration,
            tmux,
            dry_run,
        } => start::run(
            start::Source::File(runbook),
            &vars,
            window_start.as_deref(),
            window_duration.as_deref(),
            cli.ascii,
            tmux,
            dry_run,
        ),
        Command::Supervise { spec } => {
            // The supervisor has no terminal to talk to: everything it has to say goes
            // into the task's log and exit record.
            match crate::runner::supervise::main(&spec) {
                0 => Ok(()),
                code => Err(Failure::new(code, String::new())),
            }
        }
        Command::Init { path } => authoring::init(&path),
        Command::Schema => authoring::schema(),
        Command::Completions { shell } => authoring::completions(shell),
        Command::Man => authoring::man(),
        Command::Demo { tmux, dry_run } => start::run(
            start::Source::Demo,
            &[],
            None,
            None,
            cli.ascii,
            tmux,
            dry_run,
        ),
        Command::Resume { session } => resume::run(session.as_deref(), cli.ascii),
        Command::Watch { session } => watch::run(session.as_deref(), cli.ascii),
        Command::Status { session, json } => status::status(session.as_deref(), json),
        Command::Sessions { all, json } => status::sessions(all, json),
        Command::Verify { session, json } => verify::run(session.as_deref(), json),
        Command::Report {
            session,
            format,
            output,
            suggest_estimates,
        } => {
            if suggest_estimates {
                report::suggest_estimates(session.as_deref(), output.as_deref())
            } else {
                report::run(session.as_deref(), &format, output.as_deref())
            }
        }
        Command::Message { session, phase } => message::run(session.as_deref(), phase.as_deref()),
        Command::Validate { runbooks, strict } => {
            let mut out = std::io::stdout();
            match validate::run(&runbooks, strict, &mut out) {
                0 => Ok(()),
                code => Err(Failure::new(
                    u8::try_from(code).unwrap_or(1),
                    "validation failed (see above)",
                )),
            }
        }
    }
}

/// The state dir (`$CUTOVER_HOME`, else the config's `state_dir`, else the platform's),
/// or a failure that says how to set one.
pub fn store_root() -> Result<std::path::PathBuf, Failure> {
    store_root_in(&crate::config::load()?)
}

pub fn store_root_in(config: &crate::config::Config) -> Result<std::path::PathBuf, Failure> {
    config.state_root().ok_or_else(|| {
        Failure::new(
            exit::CANT_CREATE,
            "cannot find a home directory for the session store; set CUTOVER_HOME \
             or `state_dir` in the config",
        )
    })
}

/// A session read for looking at: no lock taken, nothing written, a torn last line
/// ignored. `session` defaults to the most recent one.
pub struct ReadOnly {
    pub paths: crate::session::SessionPaths,
    pub records: Vec<crate::session::Record>,
    pub runbook: crate::runbook::Runbook,
    pub run: crate::run::RunState,
}

/// The store and the folder of `session`, or of the most recent session when none is
/// named, for the commands that only read.
pub fn existing_session(
    session: Option<&str>,
) -> Result<(crate::session::Store, crate::session::SessionPaths), Failure> {
    let store = crate::session::Store::open_existing(store_root()?);
    let id = match session {
        Some(id) => id.to_string(),
        None => store.ids()?.pop().ok_or_else(|| {
            Failure::new(
                exit::NO_INPUT,
                format!("no sessions in {}", store.root().display()),
            )
        })?,
    };
    let paths = store.existing(&id)?;
    Ok((store, paths))
}

pub fn read_session(session: Option<&str>) -> Result<ReadOnly, Failure> {
    let (_, paths) = existing_session(session)?;
    let (records, _) = paths.read_journal()?;
    let runbook = resume::verified_runbook(&paths, &records)?;
    let run = crate::run::RunState::replay(&runbook, &records);
    Ok(ReadOnly {
        paths,
        records,
        runbook,
        run,
    })
}
