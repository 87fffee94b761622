//! `cutover resume`: reopen a session exactly as it was saved.

use jiff::Timestamp;

use super::{Failure, exit, store_root_in, tui};
use crate::app::App;
use crate::runbook::{Runbook, sha256_hex};
use crate::session::{Event, Record, SessionPaths, Store, StoreError, store::operator};

/// The most recent session whose journal has no `session_finished`.
pub fn latest_unfinished(store: &Store) -> Result<String, StoreError> {
    for id in store.ids()?.into_iter().rev() {
        let Ok(paths) = store.existing(&id) else {
            continue;
        };
        match paths.read_journal() {
            // A journal with no records never started (its first write failed).
            Ok((records, _)) if records.is_empty() => {}
            Ok((records, _)) if !is_finished(&records) => return Ok(id),
            Ok(_) => {}
            // A damaged journal is still the latest candidate: resuming it reports the
            // damage with its offset instead of silently picking an older session.
            Err(_) => return Ok(id),
        }
    }
    Err(StoreError::NothingToResume {
        root: store.root().to_path_buf(),
    })
}

pub fn is_finished(records: &[Record]) -> bool {
    records
        .iter()
        .any(|r| matches!(r.event, Event::SessionFinished { .. }))
}

/// Reads the session's runbook copy and checks it against the digest recorded at start:
/// resume only ever runs the runbook the session began with.
pub fn verified_runbook(paths: &SessionPaths, records: &[Record]) -> Result<Runbook, Failure> {
    let source = paths.read_runbook()?;
    let Some((origin, want)) = records.iter().find_map(|r| match &r.event {
        Event::SessionStarted {
            runbook_path,
            runbook_sha256,
            ..
        } => Some((runbook_path.clone(), runbook_sha256.clone())),
        _ => None,
    }) else {
        return Err(Failure::new(
            exit::DATA,
            format!(
                "session {}: its journal {} has no session_started record, so its runbook is unknown",
                paths.id,
                paths.journal().display()
            ),
        ));
    };
    let got = sha256_hex(source.as_bytes());
    if got != want {
        return Err(Failure::new(
            exit::DATA,
            format!(
                "session {}: the runbook copy {} was changed after the session started \
                 (sha256 {got}, recorded {want}); refusing to go on with a runbook the \
                 journal does not describe",
                paths.id,
                paths.runbook().display()
            ),
        ));
    }
    let label = format!("{} (copy of {origin})", paths.runbook().display());
    Ok(Runbook::parse(&label, &source)?)
}

/// The runbook's secrets, from this process's environment, installed for masking; or the
/// failure that names every missing one. Exit 78 (`EX_CONFIG`), like a bad `CUTOVER_LOG`:
/// the runbook is fine (65 would blame it) and so is the command line (64); what is
/// missing is configuration of the environment cutover was started in.
///
/// `to_tmux`: the screen is about to be started again inside tmux, whose server hands
/// the new session its own environment, not ours: the secrets could arrive stale or not
/// at all, and passing them on its command line would show them to every user's `ps`.
pub fn require_secrets(runbook: &Runbook, to_tmux: bool) -> Result<(), Failure> {
    let names = crate::runbook::secrets::declared(runbook);
    if names.is_empty() {
        return Ok(());
    }
    crate::runbook::secrets::require(runbook)
        .map_err(|e| Failure::new(exit::CONFIG, format!("{}: {e}", runbook.origin)))?;
    if to_tmux && std::env::var_os("TMUX").is_none_or(|v| v.is_empty()) {
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "{}: this runbook has secrets ({}), and --tmux cannot hand them to the screen \
                 it starts inside tmux without writing them down or showing them on a command \
                 line. Start tmux yourself (`tmux new -s cutover`), export the secrets in it, \
                 and run cutover there without --tmux",
                runbook.origin,
                names.join(", ")
            ),
        ));
    }
    Ok(())
}

pub fn run(session: Option<&str>, ascii: bool) -> Result<(), Failure> {
    let settings = tui::settings()?;
    let store = Store::open(store_root_in(&settings.config)?)?;
    let id = match session {
        Some(id) => id.to_string(),
        None => latest_unfinished(&store)?,
    };
    let (paths, lock, mut journal, records, report) = store.open_session(&id)?;
    let runbook = verified_runbook(&paths, &records)?;
    // Commands started from this screen inherit its environment: without the secrets
    // they would run with none, or with whatever stale value this shell has.
    require_secrets(&runbook, false)?;
    tui::require_terminal()?;
    tui::init_logging(&paths, settings.log);
    if report.truncated_bytes > 0 {
        tracing::warn!(
            bytes = report.truncated_bytes,
            "cut a torn last line off the journal (an action that was never shown as saved)"
        );
    }
    let by = operator();
    let resumed = journal
        .append(
            &by,
            Timestamp::now(),
            Event::SessionResumed {
                pid: std::process::id(),
            },
        )
        .map_err(|e| Failure::new(exit::IO, e.to_string()))?;
    let mut all = records;
    all.push(resumed);
    let mut app = App::new(runbook, &all, by, ascii, settings.config.no_color());
    app.keymap = settings.keymap;
    app.view.truecolor = settings.config.truecolor();
    tui::drive(app, journal, &paths, lock, &settings.config)
}
