//! The runtime: owns the terminal, the journal writer, the clock and the signals, and is
//! the only place effects are carried out.

use std::io::Write;
use std::sync::mpsc as std_mpsc;
use std::time::Duration as StdDuration;

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use jiff::Timestamp;
use ratatui::DefaultTerminal;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::oneshot;

use super::{App, Effect, Msg, update};
use crate::session::{Event, Journal, Record};
use crate::ui;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("terminal error: {0}")]
    Terminal(#[from] std::io::Error),
}

/// What a batch came to: the records that are on disk, and the error that stopped the
/// rest, if one did. Both matter: the saved ones are shown, the error stops all acking.
pub type Appended = (Vec<Record>, Option<String>);

type Job = (Vec<Event>, Timestamp, oneshot::Sender<Appended>);

/// Appends on a dedicated OS thread with `std::fs`, so an fsync never stalls the event
/// loop's thread and every write error comes back to the caller.
pub struct JournalWriter {
    tx: std_mpsc::Sender<Job>,
}

impl JournalWriter {
    pub fn spawn(mut journal: Journal, by: String) -> JournalWriter {
        let (tx, rx) = std_mpsc::channel::<Job>();
        std::thread::spawn(move || {
            // After one failure nothing more is written: a retried fsync can "succeed"
            // without the data, so the session must be reopened instead.
            let mut broken: Option<String> = None;
            for (events, at, reply) in rx {
                if let Some(err) = &broken {
                    let _ = reply.send((Vec::new(), Some(err.clone())));
                    continue;
                }
                let mut records = Vec::with_capacity(events.len());
                let mut failed = None;
                for event in events {
                    match journal.append(&by, at, event) {
                        Ok(r) => records.push(r),
                        Err(e) => {
                            tracing::error!("journal append failed: {e}");
                            failed = Some(e.to_string());
                            break;
                        }
                    }
                }
                if let Some(err) = &failed {
                    broken = Some(err.clone());
                }
                let _ = reply.send((records, failed));
            }
        });
        JournalWriter { tx }
    }

    pub async fn append(&self, events: Vec<Event>) -> Appended {
        let stopped = || {
            (
                Vec::new(),
                Some("the journal writer has stopped".to_string()),
            )
        };
        let (reply, rx) = oneshot::channel();
        if self.tx.send((events, Timestamp::now(), reply)).is_err() {
            return stopped();
        }
        rx.await.unwrap_or_else(|_| stopped())
    }
}

/// Restores the terminal however the loop ends (`?`, return, unwinding).
struct RestoreGuard;

impl Drop for RestoreGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

fn draw(terminal: &mut DefaultTerminal, app: &App) -> std::io::Result<()> {
    // Synchronized update: the terminal shows the frame whole, never half-drawn, which
    // matters over a slow SSH link.
    let _ = crossterm::queue!(
        terminal.backend_mut(),
        crossterm::terminal::BeginSynchronizedUpdate
    );
    let drawn = terminal
        .draw(|f| ui::render(f, app, Timestamp::now()))
        .map(|_| ());
    let ended = crossterm::execute!(
        terminal.backend_mut(),
        crossterm::terminal::EndSynchronizedUpdate
    );
    drawn.and(ended)
}

/// Why the screen closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Quit,
    /// A signal ended it; the process should exit with 128 + the number.
    Signal(i32),
    TerminalGone,
}

/// Runs the screen until the operator quits or a signal ends it.
pub fn run(app: App, writer: JournalWriter) -> Result<Exit, RuntimeError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(event_loop(app, writer))
}

async fn event_loop(mut app: App, writer: JournalWriter) -> Result<Exit, RuntimeError> {
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigquit = signal(SignalKind::quit())?;

    // The guard comes first: if entering the alternate screen fails after raw mode was
    // switched on, the terminal is still put back.
    let _guard = RestoreGuard;
    let mut terminal = ratatui::try_init()?;
    let mut events = EventStream::new();
    let mut clock = tokio::time::interval(StdDuration::from_secs(1));
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut dirty = true;
    let reason = loop {
        if dirty {
            draw(&mut terminal, &app)?;
            dirty = false;
        }
        let msg = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => Msg::Key(k),
                Some(Ok(TermEvent::Resize(..))) => Msg::Resize,
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    tracing::warn!("terminal input failed: {e}");
                    break Exit::TerminalGone;
                }
                None => break Exit::TerminalGone,
            },
            _ = clock.tick() => Msg::Tick,
            _ = sigterm.recv() => Msg::Terminate(libc::SIGTERM),
            _ = sighup.recv() => Msg::Terminate(libc::SIGHUP),
            _ = sigint.recv() => Msg::Terminate(libc::SIGINT),
            _ = sigquit.recv() => Msg::Terminate(libc::SIGQUIT),
        };
        // A key that means nothing here changes nothing on screen: no redraw for it.
        if let Msg::Key(k) = &msg
            && app.view.dialog.is_none()
            && !app.view.help
            && app.view.flash.is_none()
            && app.keymap.lookup(k).is_none()
        {
            continue;
        }
        let signal = match msg {
            Msg::Terminate(n) => {
                tracing::info!(signal = n, "leaving on a signal");
                Some(n)
            }
            _ => None,
        };
        let effects = update(&mut app, msg);
        dirty = true;
        let mut quit = false;
        for effect in effects {
            match effect {
                Effect::Record(events) => {
                    let (records, error) = writer.append(events).await;
                    for r in &records {
                        app.apply(r);
                    }
                    if let Some(err) = error {
                        app.view.journal_error = Some(err);
                    }
                }
                Effect::Quit => quit = true,
            }
        }
        if quit {
            break signal.map_or(Exit::Quit, Exit::Signal);
        }
    };
    drop(terminal);
    let _ = std::io::stdout().flush();
    Ok(reason)
}
