//! The read-only screen of `cutover watch`: the same panes as the driver's, fed by the
//! journal and task logs another process writes.
//!
//! It holds no journal writer, takes no lock and starts nothing, so it cannot change the
//! session however it is driven: `update` refuses the keys that would (with a word on
//! the status bar), and of the effects it could return only quitting and opening a log
//! in the pager are carried out here.

use std::collections::HashSet;
use std::time::Duration as StdDuration;

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use jiff::Timestamp;
use tokio::signal::unix::{SignalKind, signal};

use super::runtime::{
    Exit, Left, Pager, RestoreGuard, RuntimeError, draw, load_shown_output, page_log,
    refresh_artifacts, screen,
};
use super::{App, Effect, Flash, Msg, update};
use crate::runner::TaskDir;
use crate::runner::TaskId;
use crate::runner::watch::{self, Report};
use crate::session::{Event, JournalTail, SessionPaths, TailError, store};

/// How often the journal is looked at: a step the driver marks done shows here well
/// within a second. A look is one `stat` when nothing changed.
const JOURNAL_POLL: StdDuration = StdDuration::from_millis(200);
/// At most this many frames a second while output floods in (as on the driver's screen).
const OUTPUT_FRAME: StdDuration = StdDuration::from_millis(33);

/// What the watcher reads.
pub struct Source {
    pub paths: SessionPaths,
    /// Positioned after the records the app was built from.
    pub tail: JournalTail,
    pub dir: TaskDir,
    pub pager: String,
}

pub fn run(app: App, source: Source) -> Result<Left, RuntimeError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(watch_loop(app, source))
}

/// Follows the output of every task the journal says is running and nobody here
/// follows yet. `from_start`: the task started while this screen watched, so all of
/// its output is new; otherwise only the log's tail is loaded first.
fn follow_running(
    app: &App,
    dir: &TaskDir,
    followed: &mut HashSet<TaskId>,
    tx: &tokio::sync::mpsc::Sender<Report>,
    from_start: bool,
) {
    for task in watch::running_tasks(&app.runbook, &app.run) {
        if followed.insert(task.clone()) {
            let re = watch::progress_regex(&app.runbook, &task);
            watch::follow(dir.clone(), task, re, !from_start, tx.clone());
        }
    }
}

/// Takes in what the driver journaled since the last look. Returns whether anything
/// changed on screen.
fn take_in(
    app: &mut App,
    src: &mut Source,
    followed: &mut HashSet<TaskId>,
    tx: &tokio::sync::mpsc::Sender<Report>,
) -> bool {
    let Some(watching) = app.watching.as_mut() else {
        return false;
    };
    if watching.stopped.is_some() {
        return false;
    }
    match src.tail.poll() {
        Ok(records) if records.is_empty() => false,
        Ok(records) => {
            for r in &records {
                app.apply(r);
                // Templates render as on the driver's screen: `operator` is the driver.
                if matches!(r.event, Event::SessionResumed { .. }) {
                    app.operator = r.by.clone();
                }
            }
            if records.iter().any(|r| {
                matches!(
                    r.event,
                    Event::BackupFinished { .. } | Event::BackupVerified { .. }
                )
            }) {
                refresh_artifacts(app);
            }
            // A resume means a new driver; the lock names them.
            if records
                .iter()
                .any(|r| matches!(r.event, Event::SessionResumed { .. }))
                && let Some(w) = app.watching.as_mut()
            {
                w.driver = store::driver(&src.paths);
            }
            follow_running(app, &src.dir, followed, tx, true);
            true
        }
        // A passing read error (a full file table, say) is tried again at the next poll.
        Err(TailError::Io { .. }) => false,
        // The driver cut its journal back (a torn tail on resume, a write it could not
        // complete): read it again from the start and show what it now says.
        Err(TailError::Shrank { .. }) => {
            let mut fresh = JournalTail::new(&src.paths.journal());
            match fresh.poll() {
                Ok(records) => {
                    src.tail = fresh;
                    app.run = crate::run::RunState::replay(&app.runbook, &records);
                    follow_running(app, &src.dir, followed, tx, true);
                    true
                }
                Err(e) => stop(app, &e, &src.paths.id),
            }
        }
        Err(e) => stop(app, &e, &src.paths.id),
    }
}

/// Following ends on damage: what is shown stays the last state read, and says so.
fn stop(app: &mut App, e: &TailError, id: &str) -> bool {
    if let Some(w) = app.watching.as_mut() {
        w.stopped = Some(e.to_string());
    }
    // The advice first: the error names a path and may not fit the line.
    app.view.flash = Some(Flash::warn(format!(
        "stopped following; this is the last state read (`cutover status {id}` reads the \
         journal as it is): {e}"
    )));
    true
}

async fn watch_loop(mut app: App, mut src: Source) -> Result<Left, RuntimeError> {
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigquit = signal(SignalKind::quit())?;

    let _guard = RestoreGuard;
    let mut terminal = screen()?;
    let mut events = EventStream::new();
    let mut clock = tokio::time::interval(StdDuration::from_secs(1));
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut poll = tokio::time::interval(JOURNAL_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (report_tx, mut reports) = tokio::sync::mpsc::channel::<Report>(2);
    let mut followed: HashSet<TaskId> = HashSet::new();

    app.view.now = Timestamp::now();
    follow_running(&app, &src.dir, &mut followed, &report_tx, false);
    refresh_artifacts(&mut app);
    let mut dirty = true;
    let mut output_dirty = false;
    let mut last_frame = tokio::time::Instant::now();
    let reason = loop {
        if dirty {
            load_shown_output(&mut app, &src.dir);
            draw(&mut terminal, &app)?;
            dirty = false;
            output_dirty = false;
            last_frame = tokio::time::Instant::now();
        }
        let frame_due = last_frame + OUTPUT_FRAME;
        let msg = tokio::select! {
            _ = tokio::time::sleep_until(frame_due), if output_dirty => {
                dirty = true;
                continue;
            }
            Some(report) = reports.recv() => {
                match report {
                    Report::Output { ref task, ref progress, .. } => {
                        let visible =
                            progress.is_some() || app.shown_task().as_ref() == Some(task);
                        app.view.now = Timestamp::now();
                        let _ = update(&mut app, Msg::Task(report));
                        output_dirty |= visible;
                    }
                    // How a task ended is the driver's to journal; it shows here when
                    // the record arrives. The task stays in `followed`: the journal says
                    // it runs until then, and following it again would show its output
                    // twice. A re-run is a new attempt, so a new id, followed anew.
                    Report::Exited { .. } | Report::Lost { .. } => {}
                }
                continue;
            }
            _ = poll.tick() => {
                app.view.now = Timestamp::now();
                if take_in(&mut app, &mut src, &mut followed, &report_tx) {
                    dirty = true;
                }
                continue;
            }
            ev = events.next() => match ev {
                Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => Msg::Key(k),
                Some(Ok(TermEvent::Resize(..))) => Msg::Resize,
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => break Exit::TerminalGone,
            },
            _ = clock.tick() => {
                let driver = store::driver(&src.paths);
                if let Some(w) = app.watching.as_mut() {
                    w.driver = driver;
                }
                Msg::Tick
            }
            _ = sigterm.recv() => Msg::Terminate(libc::SIGTERM),
            _ = sighup.recv() => Msg::Terminate(libc::SIGHUP),
            _ = sigint.recv() => Msg::Terminate(libc::SIGINT),
            _ = sigquit.recv() => Msg::Terminate(libc::SIGQUIT),
        };
        let signal = match msg {
            Msg::Terminate(n) => Some(n),
            _ => None,
        };
        app.view.now = Timestamp::now();
        let effects = update(&mut app, msg);
        dirty = true;
        let mut quit = false;
        for effect in effects {
            match effect {
                Effect::Quit => quit = true,
                Effect::OpenLog(task) => {
                    let pager = Pager {
                        command: &src.pager,
                        read_only: true,
                    };
                    let shown;
                    (events, shown) = page_log(
                        &mut terminal,
                        events,
                        (&mut sigint, &mut sigquit),
                        pager,
                        &task,
                        &src.dir,
                    )
                    .await;
                    if let Err(why) = shown {
                        app.view.flash = Some(Flash::warn(why));
                    }
                }
                // `update` refuses every key that leads to these while watching; were
                // one to slip through, there is nothing here that could carry it out.
                Effect::Record(_)
                | Effect::Spawn(_)
                | Effect::Cancel(_)
                | Effect::SaveMessage { .. }
                | Effect::SendMessage { .. }
                | Effect::Copy(_) => {
                    app.view.flash = Some(Flash::warn(
                        "read-only view: nothing was changed (only the driver's screen acts)",
                    ));
                }
            }
        }
        if quit {
            break signal.map_or(Exit::Quit, Exit::Signal);
        }
    };
    Ok(Left {
        exit: reason,
        running: watch::running_tasks(&app.runbook, &app.run),
    })
}
