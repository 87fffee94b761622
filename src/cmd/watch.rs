//! `cutover watch`: follow a session someone else drives, on the same screen, without
//! being able to change it.

use std::io::Write;

use super::{Failure, exit, resume, store_root_in, tui};
use crate::app::runtime::Exit;
use crate::app::watcher::{self, Source};
use crate::app::{App, Watching};
use crate::runner::TaskDir;
use crate::session::{Event, JournalTail, Store, StoreError, store};

pub fn run(session: Option<&str>, ascii: bool) -> Result<(), Failure> {
    let settings = tui::settings()?;
    // `open_existing`: watching creates nothing, not even the store's folders.
    let store = Store::open_existing(store_root_in(&settings.config)?);
    let id = match session {
        Some(id) => id.to_string(),
        // The session being driven is the unfinished one; failing that, the last one.
        None => match resume::latest_unfinished(&store) {
            Ok(id) => id,
            Err(StoreError::NothingToResume { .. }) => latest_started(&store)?,
            Err(e) => return Err(e.into()),
        },
    };
    let paths = store.existing(&id)?;
    let mut tail = JournalTail::new(&paths.journal());
    let records = tail
        .poll()
        .map_err(|e| Failure::new(exit::DATA, format!("session {id}: {e}")))?;
    let runbook = resume::verified_runbook(&paths, &records)?;
    // The watcher shows the same output as the driver, so it needs the same secrets to
    // mask it with; without them it would show their values.
    resume::require_secrets(&runbook, false)?;
    tui::require_terminal()?;
    // Templates (the `operator` variable) render as on the driver's screen.
    let driver_name = records
        .iter()
        .rev()
        .find(|r| {
            matches!(
                r.event,
                Event::SessionStarted { .. } | Event::SessionResumed { .. }
            )
        })
        .map_or_else(store::operator, |r| r.by.clone());
    // No session log: a watcher writes nothing into the session it watches.
    let mut app = App::new(
        runbook,
        &records,
        driver_name,
        ascii,
        settings.config.no_color(),
    );
    app.keymap = settings.keymap;
    app.view.truecolor = settings.config.truecolor();
    app.watching = Some(Watching {
        driver: store::driver(&paths),
        stopped: None,
    });
    let source = Source {
        dir: TaskDir::new(&paths.dir),
        pager: settings.config.pager(),
        tail,
        paths,
    };
    let left = watcher::run(app, source)
        .map_err(|e| Failure::new(exit::IO, format!("{e}; session {id} was not changed")))?;
    let message = format!("stopped watching session {id}; nothing in it was changed");
    match left.exit {
        Exit::Quit => {
            let _ = writeln!(std::io::stdout(), "cutover: {message}");
            Ok(())
        }
        Exit::Signal(n) => Err(Failure::new(u8::try_from(128 + n).unwrap_or(1), message)),
        Exit::TerminalGone => Err(Failure::new(exit::IO, message)),
    }
}

/// The most recent session that got as far as its first record: one whose journal is
/// empty never started, and has nothing to show.
fn latest_started(store: &Store) -> Result<String, Failure> {
    for id in store.ids()?.into_iter().rev() {
        let started = store
            .existing(&id)
            .ok()
            .and_then(|p| std::fs::metadata(p.journal()).ok())
            .is_some_and(|m| m.len() > 0);
        if started {
            return Ok(id);
        }
    }
    Err(Failure::new(
        exit::NO_INPUT,
        format!("no sessions to watch in {}", store.root().display()),
    ))
}
