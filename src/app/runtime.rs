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

use super::msg::Sent;
use super::view::MessageDraft;
use super::{App, Effect, Flash, Msg, update};
use crate::message::{files, osc52, send};
use crate::runner::watch::{self, Report};
use crate::runner::{ExitRecord, TaskDir, TaskId, supervise};
use crate::session::{Event, Journal, Record};
use crate::ui;

/// At most this many frames a second while output floods in; keys still draw at once.
const OUTPUT_FRAME: StdDuration = StdDuration::from_millis(33);
/// Reports queued from followers before they wait: bounds memory under a flood.
const REPORT_QUEUE: usize = 2;

/// What the runtime needs to start and follow tasks.
pub struct Tasks {
    pub dir: TaskDir,
    /// This binary, started again as `cutover __supervise`.
    pub exe: std::path::PathBuf,
    /// The session's `messages/` folder.
    pub messages: std::path::PathBuf,
    /// The pager command for `l` (`sh -c` syntax, so it may carry arguments).
    pub pager: String,
    /// The config's `shell`, for commands whose step and runbook name none.
    pub shell: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("terminal error: {0}")]
    Terminal(#[from] std::io::Error),
}

/// What a batch came to: the records that are on disk, and the error that stopped the
/// rest, if one did. Both matter: the saved ones are shown, the error stops all acking.
pub type Appended = (Vec<Record>, Option<String>);

enum Job {
    Append(Vec<Event>, Timestamp, oneshot::Sender<Appended>),
    /// Try to take records again after a failure; the number is the last record the
    /// screen shows as saved.
    Recover(u64, oneshot::Sender<Result<(), String>>),
}

/// Appends on a dedicated OS thread with `std::fs`, so an fsync never stalls the event
/// loop's thread and every write error comes back to the caller.
///
/// After a failed write nothing more is appended on that descriptor: a retried fsync
/// can "succeed" after the kernel dropped the unwritten pages. Appends are refused until
/// [`JournalWriter::recover`] reopens the journal (cutting whatever the failed write left),
/// finds on disk exactly the records the screen shows as saved, and proves with a probe
/// that a record fits again.
pub struct JournalWriter {
    tx: std_mpsc::Sender<Job>,
}

/// The writer thread's side.
struct Writer {
    path: std::path::PathBuf,
    by: String,
    /// `None` once a write failed: the descriptor is not trusted again.
    journal: Option<Journal>,
    /// Why appends are refused (the status bar's text), while they are.
    broken: Option<String>,
}

impl Writer {
    fn append(&mut self, events: Vec<Event>, at: Timestamp) -> Appended {
        let journal = match (&self.broken, self.journal.as_mut()) {
            (None, Some(j)) => j,
            (Some(err), _) => return (Vec::new(), Some(err.clone())),
            (None, None) => return (Vec::new(), Some("the journal is not open".into())),
        };
        let mut records = Vec::with_capacity(events.len());
        for event in events {
            match journal.append(&self.by, at, event) {
                Ok(r) => records.push(r),
                Err(e) => {
                    tracing::error!("journal append failed: {e}");
                    let err = e.brief();
                    self.broken = Some(err.clone());
                    self.journal = None;
                    return (records, Some(err));
                }
            }
        }
        (records, None)
    }

    fn recover(&mut self, acked: u64) -> Result<(), String> {
        if self.broken.is_none() {
            return Ok(());
        }
        let reopened = Journal::reopen(&self.path, acked).and_then(|(mut journal, cut)| {
            if cut > 0 {
                tracing::warn!(
                    cut,
                    acked,
                    "cut records off the journal whose writes were reported as failed"
                );
            }
            journal.probe().map(|()| journal)
        });
        match reopened {
            Ok(journal) => {
                tracing::info!(acked, "the journal takes records again");
                self.journal = Some(journal);
                self.broken = None;
                Ok(())
            }
            Err(e) => {
                tracing::debug!("the journal still cannot be written: {e}");
                let err = e.brief();
                self.broken = Some(err.clone());
                Err(err)
            }
        }
    }
}

impl JournalWriter {
    pub fn spawn(journal: Journal, by: String) -> JournalWriter {
        let (tx, rx) = std_mpsc::channel::<Job>();
        let mut writer = Writer {
            path: journal.path().to_path_buf(),
            by,
            journal: Some(journal),
            broken: None,
        };
        std::thread::spawn(move || {
            for job in rx {
                match job {
                    Job::Append(events, at, reply) => {
                        let _ = reply.send(writer.append(events, at));
                    }
                    Job::Recover(acked, reply) => {
                        let _ = reply.send(writer.recover(acked));
                    }
                }
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
        if self
            .tx
            .send(Job::Append(events, Timestamp::now(), reply))
            .is_err()
        {
            return stopped();
        }
        rx.await.unwrap_or_else(|_| stopped())
    }

    /// After a failed append: `Ok` once the journal takes records again (at once if it
    /// never stopped), else why not. `acked` is the last record the screen shows saved.
    pub async fn recover(&self, acked: u64) -> Result<(), String> {
        let stopped = || Err("the journal writer has stopped".to_string());
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Job::Recover(acked, reply)).is_err() {
            return stopped();
        }
        rx.await.unwrap_or_else(|_| stopped())
    }
}

/// Restores the terminal however the loop ends (`?`, return, unwinding). Errors are
/// ignored, not printed: when the terminal is gone (a dropped SSH link) stderr is too,
/// and a failed print would panic on the way out and lose the goodbye.
pub(super) struct RestoreGuard;

impl Drop for RestoreGuard {
    fn drop(&mut self) {
        restore_once();
    }
}

/// Whether raw mode and the alternate screen are on, so the terminal is put back once.
/// A second "leave the alternate screen" is not harmless: xterm and tmux then restore the
/// cursor saved on entry, and the shell prompt overwrites whatever was printed after the
/// first restore (a panic's message, printed by the hook before unwinding reaches the
/// guard).
static SCREEN_UP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn restore_once() {
    if SCREEN_UP.swap(false, std::sync::atomic::Ordering::SeqCst) {
        let _ = ratatui::try_restore();
        let _ = crossterm::execute!(std::io::stdout(), crossterm::cursor::Show);
    }
}

/// Puts the terminal back before a panic's message is printed (and, in a release build,
/// before `panic = "abort"` ends the process). Instead of ratatui's own hook, which
/// restores a second time and prints to stderr when that fails: once the terminal is
/// gone that print panics inside the hook, which aborts.
fn install_panic_restore() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_once();
            previous(info);
        }));
    });
}

/// The terminal, never dropped: ratatui's `Drop` prints to stderr when it cannot show
/// the cursor, which panics once the terminal is gone. [`RestoreGuard`] puts the
/// terminal back instead; the few bytes held are freed when the process ends.
pub(super) type Screen = std::mem::ManuallyDrop<DefaultTerminal>;

/// Raw mode, the alternate screen and a terminal on stdout: `ratatui::try_init` without
/// its panic hook (see [`install_panic_restore`]).
pub(super) fn screen() -> std::io::Result<Screen> {
    install_panic_restore();
    // Set first: if raw mode goes on and the alternate screen then fails, the guard
    // still turns raw mode off.
    SCREEN_UP.store(true, std::sync::atomic::Ordering::SeqCst);
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)?;
    let backend = ratatui::backend::CrosstermBackend::new(std::io::stdout());
    Ok(std::mem::ManuallyDrop::new(ratatui::Terminal::new(
        backend,
    )?))
}

pub(super) fn draw(terminal: &mut DefaultTerminal, app: &App) -> std::io::Result<()> {
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

/// Wakes the event loop when the terminal hangs up (its master closed: a dropped SSH
/// link, a killed terminal emulator). The kernel also sends SIGHUP, but only to a session
/// the terminal controls; without that signal, crossterm's reader spins on the dead
/// terminal's end of file (crossterm-rs/crossterm#793) and never says so, and only the
/// next frame's failed write would end the screen, a second of burnt CPU later. A thread
/// blocked in poll(2) asking for no events is woken only by a hangup or an error, never
/// by input, so the watch costs nothing while the terminal lives.
pub(super) fn watch_hangup() -> std::sync::Arc<tokio::sync::Notify> {
    let notify = std::sync::Arc::new(tokio::sync::Notify::new());
    let hung_up = std::sync::Arc::clone(&notify);
    let spawned = std::thread::Builder::new()
        .name("hangup".into())
        .spawn(move || {
            loop {
                let mut fd = libc::pollfd {
                    fd: libc::STDIN_FILENO,
                    events: 0,
                    revents: 0,
                };
                // SAFETY: one pollfd that lives on this frame for the whole call.
                let n = unsafe { libc::poll(&mut fd, 1, -1) };
                if n > 0 {
                    // Only POLLHUP, POLLERR or POLLNVAL can be reported: none was asked.
                    tracing::info!(revents = fd.revents, "the terminal hung up");
                    hung_up.notify_one();
                    return;
                }
                let err = std::io::Error::last_os_error();
                if n < 0 && err.kind() != std::io::ErrorKind::Interrupted {
                    tracing::warn!("cannot watch the terminal for a hangup: {err}");
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the hangup watch: {e}");
    }
    notify
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
/// How the screen closed, and what it left running (the commands go on without it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Left {
    pub exit: Exit,
    pub running: Vec<TaskId>,
}

pub fn run(app: App, writer: JournalWriter, tasks: Tasks) -> Result<Left, RuntimeError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(event_loop(app, writer, tasks))
}

/// Starts `task` under a detached supervisor and follows it. A supervisor that cannot
/// be started still ends as a recorded failure (through an exit record written here),
/// never as a step stuck in `running`.
fn spawn_task(app: &App, tasks: &Tasks, task: &TaskId, tx: &tokio::sync::mpsc::Sender<Report>) {
    let started = Timestamp::now();
    let failed = |why: String| {
        tracing::error!(task = %task.name(), "cannot start: {why}");
        let rec = ExitRecord::not_started(started, why);
        if let Err(e) = tasks
            .dir
            .ensure()
            .and_then(|()| tasks.dir.write_exit(task, &rec))
        {
            tracing::error!("cannot record the failed start either: {e}");
        }
    };
    match watch::spec_for(&app.runbook, &app.run, task, tasks.shell.as_deref()) {
        None => failed("the runbook has no command for it".into()),
        Some(spec) => match supervise::spawn(&tasks.exe, &tasks.dir, &spec) {
            Ok(mut child) => {
                // Reaped on a plain thread so it never lingers as a zombie; the
                // supervisor is in its own session and outlives this process anyway.
                let _ = std::thread::Builder::new()
                    .name("reap".into())
                    .spawn(move || child.wait());
            }
            Err(e) => failed(e.to_string()),
        },
    }
    let re = watch::progress_regex(&app.runbook, task);
    watch::follow(tasks.dir.clone(), task.clone(), re, false, tx.clone());
}

fn cancel_task(tasks: &Tasks, task: &TaskId) -> Result<(), String> {
    match tasks.dir.read_pid(task) {
        Ok(Some(pid)) if pid.is_alive() => {
            let Ok(raw) = i32::try_from(pid.pid) else {
                return Err(format!("pid {} out of range", pid.pid));
            };
            // SAFETY: kill(2) with a pid we just checked is our supervisor (pid, start
            // time and boot id match); it has no memory-safety preconditions.
            let rc = unsafe { libc::kill(raw, libc::SIGTERM) };
            if rc == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error().to_string())
            }
        }
        Ok(_) => Err("its supervisor is no longer running".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Sizes of the backups' declared artifacts, looked up again whenever the journal
/// moves on (a backup just finished) rather than on every frame.
pub(super) fn refresh_artifacts(app: &mut App) {
    let mut sizes = std::collections::BTreeMap::new();
    if app
        .runbook
        .file
        .backups
        .iter()
        .all(|b| b.artifact.is_none())
    {
        return;
    }
    let ctx = crate::run::context::context(&app.runbook, &app.run, Timestamp::now(), &app.operator);
    for b in &app.runbook.file.backups {
        let Some(path) = &b.artifact else { continue };
        let Ok(path) = crate::runbook::template::render(path.get_ref(), &ctx) else {
            continue;
        };
        // A relative artifact is where the backup command wrote it: in its workdir.
        let backup = TaskId::backup(b.id.get_ref(), 1);
        let path = match watch::spec_for(&app.runbook, &app.run, &backup, None)
            .and_then(|spec| spec.workdir)
        {
            Some(dir) if std::path::Path::new(&path).is_relative() => dir.join(&path),
            _ => std::path::PathBuf::from(&path),
        };
        if let Ok(meta) = std::fs::metadata(&path) {
            sizes.insert(b.id.get_ref().clone(), meta.len());
        }
    }
    app.view.artifacts = sizes;
}

/// Loads the log tail of the task the output pane is about to show, if nothing of it
/// is held yet (a finished task, or one from before this screen opened).
pub(super) fn load_shown_output(app: &mut App, dir: &TaskDir) {
    let Some(task) = app.shown_task() else {
        return;
    };
    // A running task's output comes from its follower, from the start of the log.
    if app.is_running(&task) {
        return;
    }
    let key = (task.kind, task.id.clone());
    if app
        .view
        .outputs
        .get(&key)
        .is_some_and(|o| o.task.attempt >= task.attempt)
    {
        return;
    }
    let re = watch::progress_regex(&app.runbook, &task);
    let out = watch::load_tail(dir, &task, re.as_ref());
    app.view.outputs.insert(key, out);
}

/// How `l` shows a log.
#[derive(Clone, Copy)]
pub(super) struct Pager<'a> {
    pub command: &'a str,
    /// A watcher's pager must not be able to change the log.
    pub read_only: bool,
}

/// Shows `task`'s log in the pager and takes the screen back; the event stream is
/// handed in and a fresh one handed back, so the pager alone reads the keys meanwhile.
pub(super) async fn page_log(
    terminal: &mut DefaultTerminal,
    events: EventStream,
    (sigint, sigquit): (
        &mut tokio::signal::unix::Signal,
        &mut tokio::signal::unix::Signal,
    ),
    pager: Pager<'_>,
    task: &TaskId,
    dir: &TaskDir,
) -> (EventStream, Result<(), String>) {
    let path = dir.log(task);
    if !path.exists() {
        return (
            events,
            Err(format!("no log for {task}: {}", path.display())),
        );
    }
    drop(events);
    let result = open_pager(terminal, pager.command, &path, pager.read_only);
    // ctrl-c or ctrl-\ typed in the pager reached this process too (the terminal's
    // signal keys were on); they were meant for the pager. A short await lets the
    // runtime take in signals delivered meanwhile, so they are dropped here rather than
    // acted on later.
    use futures::FutureExt;
    tokio::time::sleep(StdDuration::from_millis(50)).await;
    while let Some(Some(())) = sigint.recv().now_or_never() {}
    while let Some(Some(())) = sigquit.recv().now_or_never() {}
    (EventStream::new(), result)
}

/// Shows a log in the operator's pager with the screen suspended, then takes the
/// screen back. Input is not read meanwhile: the caller drops its event stream first
/// so the pager gets every key.
fn open_pager(
    terminal: &mut DefaultTerminal,
    pager: &str,
    path: &std::path::Path,
    read_only: bool,
) -> Result<(), String> {
    // With secrets, the pager gets a masked copy: the log holds what the command printed,
    // and the screen never shows a secret's value.
    let masked = masked_copy(path)?;
    let path = masked.as_ref().map_or(path, |m| m.0.as_path());
    restore_once();
    // `sh -c` so a pager with arguments (`less -S`) works; the path goes in as $1 and is
    // never spliced into the command text.
    let mut command = std::process::Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(format!("{pager} \"$1\""))
        .arg("cutover-pager")
        .arg(path);
    if read_only {
        // A watcher promises to change nothing: `less` in secure mode has no `v` (edit
        // the log), `s` (save) or `!` (shell).
        command.env("LESSSECURE", "1");
    }
    let status = command.status();
    // Raw mode and the alternate screen again, by hand: `ratatui::try_init` would stack
    // another panic hook each time.
    SCREEN_UP.store(true, std::sync::atomic::Ordering::SeqCst);
    crossterm::terminal::enable_raw_mode()
        .and_then(|()| {
            crossterm::execute!(
                std::io::stdout(),
                crossterm::terminal::EnterAlternateScreen,
                crossterm::cursor::Hide
            )
        })
        .map_err(|e| format!("cannot take the terminal back: {e}"))?;
    // The alternate screen came back blank; an empty frame blanks ratatui's idea of it
    // too, so the next frame is drawn whole. Not `Terminal::clear`: it asks the terminal
    // where the cursor is (a query this program never makes) and, when no answer comes,
    // fails before forgetting the old frame, leaving the screen blank until a resize.
    let _ = terminal.draw(|_| {});
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("the pager `{pager}` ended with {s}")),
        Err(e) => Err(format!("cannot start the pager `{pager}`: {e}")),
    }
}

/// A temporary file removed when dropped.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A copy of the log at `path` with every active secret masked, private to this user
/// (0600, created new, in the temp dir: a watcher writes nothing into the session), or
/// `None` when no secret is active.
fn masked_copy(path: &std::path::Path) -> Result<Option<TempFile>, String> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let secrets = crate::runbook::secrets::active();
    if secrets.is_empty() {
        return Ok(None);
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let name = path
        .file_name()
        .map_or_else(|| "task.log".into(), |n| n.to_string_lossy().into_owned());
    let copy = std::env::temp_dir().join(format!(
        "cutover-{}-{}-masked-{name}",
        std::process::id(),
        Timestamp::now().as_nanosecond()
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&copy)
        .map_err(|e| {
            format!(
                "cannot write a masked copy of the log to {}: {e}",
                copy.display()
            )
        })?;
    let copy = TempFile(copy);
    file.write_all(secrets.mask(&text).as_bytes())
        .map_err(|e| {
            format!(
                "cannot write a masked copy of the log to {}: {e}",
                copy.0.display()
            )
        })?;
    Ok(Some(copy))
}

/// The number the next message file starts from: one more than every message event so
/// far, so files sort in the order they were written.
fn next_message_number(app: &App) -> u32 {
    let n = app.run.messages_saved as usize + app.run.messages.len() + 1;
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Writes a message file on the blocking pool: its fsyncs must not stall the event
/// loop, for the same reason the journal has its own thread.
async fn write_message_file(
    dir: &std::path::Path,
    n: u32,
    phase: &str,
    text: &str,
) -> Result<String, String> {
    let (dir, phase, text) = (dir.to_path_buf(), phase.to_string(), text.to_string());
    tokio::task::spawn_blocking(move || files::write(&dir, n, &phase, &text))
        .await
        .map_err(|e| format!("the file writer stopped: {e}"))?
        .map_err(|e| e.to_string())
}

/// Saves a draft to its file and journals it; the editor then shows it as saved.
async fn save_message(
    app: &mut App,
    writer: &JournalWriter,
    tasks: &Tasks,
    phase: String,
    text: String,
) -> bool {
    let n = next_message_number(app);
    let file = match write_message_file(&tasks.messages, n, &phase, &text).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("{e}");
            app.view.flash = Some(Flash::warn(format!("draft NOT saved: {e}")));
            return false;
        }
    };
    let (records, error) = writer
        .append(vec![Event::MessageSaved {
            phase: phase.clone(),
            file: file.clone(),
        }])
        .await;
    for r in &records {
        app.apply(r);
    }
    if let Some(err) = error {
        app.view.journal_error = Some(err);
        return false;
    }
    if let Some(d) = app.view.drafts.get_mut(&phase) {
        d.saved = Some(text);
    }
    app.view.flash = Some(Flash::info(format!(
        "saved the {phase} draft as messages/{file}"
    )));
    true
}

/// Drafts saved earlier and not sent since come back into the editor as they were.
fn load_saved_drafts(app: &mut App, tasks: &Tasks) {
    let saved: Vec<(String, String)> = app
        .run
        .saved_drafts
        .iter()
        .map(|(p, f)| (p.clone(), f.clone()))
        .collect();
    for (phase, file) in saved {
        match files::read(&tasks.messages, &file) {
            Ok(text) => {
                let mut d = MessageDraft::new(&text);
                d.saved = Some(text);
                app.view.drafts.insert(phase, d);
            }
            Err(e) => tracing::warn!("saved draft not loaded: {e}"),
        }
    }
}

/// Starts a send off the event loop; its outcome comes back on `tx`. The exact text is
/// saved to a file first, so what went out can always be shown.
async fn start_send(
    app: &mut App,
    writer: &JournalWriter,
    tasks: &Tasks,
    (phase, step, subject, body): (String, Option<String>, String, String),
    tx: &tokio::sync::mpsc::Sender<Sent>,
) {
    let n = next_message_number(app);
    let text = crate::message::draft::compose(&subject, &body);
    let failed = |file: String, why: String| Sent {
        phase: phase.clone(),
        step: step.clone(),
        file,
        subject: subject.clone(),
        body: body.clone(),
        outcome: send::SendOutcome {
            ok: false,
            exit: None,
            detail: Some(why),
        },
    };
    let file = match write_message_file(&tasks.messages, n, &phase, &text).await {
        Ok(f) => f,
        Err(e) => {
            let _ = tx.try_send(failed(String::new(), format!("not sent: {e}")));
            return;
        }
    };
    let Some(req) = send::request_for(&app.runbook, &app.run, &subject, &body) else {
        let _ = tx.try_send(failed(file, "the runbook has no message.send".into()));
        return;
    };
    // Journaled before it starts: if this process dies before the outcome is in, the
    // next screen knows a message may have gone out.
    let (records, error) = writer
        .append(vec![Event::MessageSending {
            phase: phase.clone(),
            file: file.clone(),
            step: step.clone(),
        }])
        .await;
    for r in &records {
        app.apply(r);
    }
    if let Some(err) = error {
        app.view.journal_error = Some(err.clone());
        app.view.sending = None;
        app.view.flash = Some(Flash::warn(format!(
            "not sent: the journal refused it: {err}"
        )));
        return;
    }
    let fallback_tx = tx.clone();
    let mut fallback = failed(file.clone(), String::new());
    let tx = tx.clone();
    let spawned = std::thread::Builder::new()
        .name("send".into())
        .spawn(move || {
            let outcome = send::send(&req);
            tracing::info!(phase = %phase, ok = outcome.ok, "message send ended");
            let _ = tx.blocking_send(Sent {
                phase,
                step,
                file,
                subject,
                body,
                outcome,
            });
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the send thread: {e}");
        fallback.outcome.detail = Some(format!("not sent: cannot start a thread: {e}"));
        let _ = fallback_tx.try_send(fallback);
    }
}

/// A send the last screen started and never saw end: its outcome is unknown (the
/// command ran in its own session and may have delivered). Recorded as not confirmed,
/// with the text it carried, so nobody sends it again without checking.
fn unsettled_send(app: &App, tasks: &Tasks) -> Option<Event> {
    let s = app.run.sending.as_ref()?;
    let (subject, body) = files::read(&tasks.messages, &s.file)
        .map(|t| crate::message::draft::parse(&t))
        .unwrap_or_default();
    tracing::warn!(file = %s.file, "a send's outcome was lost with the previous screen");
    Some(Event::MessageSent {
        phase: s.phase.clone(),
        file: s.file.clone(),
        exit: None,
        ok: false,
        step: s.step.clone(),
        subject,
        body,
        detail: Some(
            "outcome unknown: cutover stopped while it was being sent; ask the recipients \
             whether it arrived before sending it again (d marks it sent by hand)"
                .into(),
        ),
        by_hand: false,
    })
}

/// Copies `text` (`what`: "the during message") to the operator's clipboard: OSC 52
/// written to the terminal in the form the multiplexer around cutover lets through, and
/// inside tmux `tmux load-buffer -w` as well (awaited for at most
/// [`osc52::TMUX_DEADLINE`]; a hung tmux is killed). Returns the status bar's account
/// of where the text went.
async fn copy_to_clipboard(terminal: &mut DefaultTerminal, text: &str, what: &str) -> Flash {
    let mux = osc52::Multiplexer::from_env();
    let out = terminal.backend_mut();
    if let Err(e) = out
        .write_all(&osc52::for_terminal(text, mux))
        .and_then(|()| out.flush())
    {
        return Flash::warn(format!("cannot copy: {e}"));
    }
    let copied = match mux {
        osc52::Multiplexer::None => osc52::Copied::Terminal,
        osc52::Multiplexer::Screen => osc52::Copied::Screen,
        osc52::Multiplexer::Tmux => {
            osc52::Copied::Tmux(osc52::tmux_load_buffer(text, osc52::TMUX_DEADLINE).await)
        }
    };
    let line = copied.describe(what, text.lines().count());
    if copied.is_warning() {
        Flash::warn(line)
    } else {
        Flash::info(line)
    }
}

/// Journals `session_finished` once the path being followed is settled.
async fn finish_if_complete(app: &mut App, writer: &JournalWriter) {
    let Some(event) = super::window::completion(app) else {
        return;
    };
    let (records, error) = writer.append(vec![event]).await;
    for r in &records {
        app.apply(r);
    }
    if let Some(err) = error {
        app.view.journal_error = Some(err);
    } else if let Some(outcome) = app.run.finished {
        let word = match outcome {
            crate::session::Outcome::RolledBack => "rolled back",
            _ => "completed",
        };
        let phase = crate::message::phase_now(&app.runbook, &app.run, Timestamp::now());
        let done =
            format!("every step is settled: the session is {word}. m drafts the {phase} message");
        // What the last action said (e.g. "sent") stays in front of it.
        app.view.flash = Some(match app.view.flash.take() {
            Some(f) if !f.warn => Flash::info(format!("{} · {done}", f.text)),
            _ => Flash::info(done),
        });
    }
}

/// While the journal refuses records, asks the writer to take them again (on each tick,
/// and before a key is acted on, so the key is not refused for a failure that is over).
/// Returns whether records are taken. Facts refused meanwhile (a task's exit, a send's
/// outcome) go to `replay`: they happened, and are recorded once the journal works.
/// An operator's action that was refused is not among them: it was shown as refused,
/// and only a new key press does it.
async fn recover(
    app: &mut App,
    writer: &JournalWriter,
    refused: &mut Vec<Msg>,
    replay: &mut std::collections::VecDeque<Msg>,
) -> bool {
    if app.view.journal_error.is_none() {
        return true;
    }
    match writer.recover(app.run.last_seq).await {
        Ok(()) => {
            app.view.journal_error = None;
            app.view.flash = Some(Flash::info(format!(
                "saving again: the journal takes records (saved #{} is the last); anything \
                 refused while it could not was not done, so do it again",
                app.run.last_seq
            )));
            replay.extend(refused.drain(..));
            true
        }
        Err(err) => {
            app.view.journal_error = Some(err);
            false
        }
    }
}

async fn event_loop(
    mut app: App,
    writer: JournalWriter,
    tasks: Tasks,
) -> Result<Left, RuntimeError> {
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigquit = signal(SignalKind::quit())?;

    // The guard comes first: if entering the alternate screen fails after raw mode was
    // switched on, the terminal is still put back.
    let _guard = RestoreGuard;
    let mut terminal = screen()?;
    let hangup = watch_hangup();
    let mut events = EventStream::new();
    let mut clock = tokio::time::interval(StdDuration::from_secs(1));
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (report_tx, mut reports) = tokio::sync::mpsc::channel::<Report>(REPORT_QUEUE);
    let (sent_tx, mut sents) = tokio::sync::mpsc::channel::<Sent>(4);
    app.view.now = Timestamp::now();
    load_saved_drafts(&mut app, &tasks);
    // Whatever the journal says is running is followed again: finished while nobody
    // watched, still running, or gone. Nothing is started again.
    for task in watch::running_tasks(&app.runbook, &app.run) {
        tracing::info!(task = %task.name(), "re-attaching");
        let re = watch::progress_regex(&app.runbook, &task);
        watch::follow(tasks.dir.clone(), task, re, true, report_tx.clone());
    }
    let pending = super::update::reconcile(&app);
    if !pending.is_empty() {
        let (records, error) = writer.append(pending).await;
        for r in &records {
            app.apply(r);
        }
        if let Some(err) = error {
            app.view.journal_error = Some(err);
        }
    }
    if let Some(event) = unsettled_send(&app, &tasks) {
        let (records, error) = writer.append(vec![event]).await;
        for r in &records {
            app.apply(r);
        }
        if let Some(err) = error {
            app.view.journal_error = Some(err);
        } else {
            app.view.flash = Some(Flash::warn(
                "a message was being sent when cutover stopped: its outcome is unknown; ask the recipients before sending it again",
            ));
        }
    }
    refresh_artifacts(&mut app);
    finish_if_complete(&mut app, &writer).await;
    let mut dirty = true;
    // Output changed: drawn at the next frame slot, not at once.
    let mut output_dirty = false;
    let mut last_frame = tokio::time::Instant::now();
    // Facts whose record the journal refused, and those to feed in again once it works.
    let mut refused: Vec<Msg> = Vec::new();
    let mut replay: std::collections::VecDeque<Msg> = std::collections::VecDeque::new();
    let reason = loop {
        if dirty {
            load_shown_output(&mut app, &tasks.dir);
            draw(&mut terminal, &app)?;
            dirty = false;
            output_dirty = false;
            last_frame = tokio::time::Instant::now();
        }
        let frame_due = last_frame + OUTPUT_FRAME;
        let msg = if let Some(msg) = replay.pop_front() {
            msg
        } else {
            tokio::select! {
                _ = tokio::time::sleep_until(frame_due), if output_dirty => {
                    dirty = true;
                    continue;
                }
                Some(report) = reports.recv() => {
                    if let Report::Output { task, progress, .. } = &report {
                        // Output of a task nobody is looking at changes nothing on screen
                        // (a backup's progress does: its gauge).
                        let visible = progress.is_some() || app.shown_task().as_ref() == Some(task);
                        app.view.now = Timestamp::now();
                        let _ = update(&mut app, Msg::Task(report));
                        output_dirty |= visible;
                        continue;
                    }
                    Msg::Task(report)
                }
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
                // A hangup is what SIGHUP reports; whichever of the two arrives first,
                // the exit code (128 + SIGHUP) says the same thing to a wrapper.
                () = hangup.notified() => break Exit::Signal(libc::SIGHUP),
                Some(sent) = sents.recv() => Msg::Sent(sent),
                _ = clock.tick() => Msg::Tick,
                _ = sigterm.recv() => Msg::Terminate(libc::SIGTERM),
                _ = sighup.recv() => Msg::Terminate(libc::SIGHUP),
                _ = sigint.recv() => Msg::Terminate(libc::SIGINT),
                _ = sigquit.recv() => Msg::Terminate(libc::SIGQUIT),
            }
        };
        // Debug builds only (see `session::fault`): the panic path under test.
        if let Msg::Key(k) = &msg
            && let Some(c) = crate::session::fault::panic_key()
            && k.code == crossterm::event::KeyCode::Char(c)
        {
            panic!("fault injection: CUTOVER_FI_PANIC_ON={c} was pressed");
        }
        // A key that means nothing here changes nothing on screen: no redraw for it.
        if let Msg::Key(k) = &msg
            && app.view.dialog.is_none()
            && !app.view.help
            && !app.view.editing
            && app.view.flash.is_none()
            && app.keymap.lookup(k).is_none()
        {
            continue;
        }
        if matches!(msg, Msg::Key(_) | Msg::Tick) && app.view.journal_error.is_some() {
            recover(&mut app, &writer, &mut refused, &mut replay).await;
        }
        // A fact is recorded again if the journal refuses it now (see `recover`).
        let fact = matches!(msg, Msg::Task(_) | Msg::Sent(_)).then(|| msg.clone());
        let signal = match msg {
            Msg::Terminate(n) => {
                tracing::info!(signal = n, "leaving on a signal");
                Some(n)
            }
            _ => None,
        };
        app.view.now = Timestamp::now();
        // `update` moves the selection on as it asks for a record; if the journal refuses
        // it, the selection goes back, so the next key acts on the same step again.
        let selection = (app.view.selected, app.view.output_scroll);
        let effects = update(&mut app, msg);
        dirty = true;
        let mut quit = false;
        // After a batch that was not saved whole, nothing further of it happens: a
        // spawn whose start event is not on disk must never run.
        let mut unsaved = false;
        for effect in effects {
            match effect {
                Effect::Record(events) => {
                    if unsaved {
                        continue;
                    }
                    let (records, error) = writer.append(events).await;
                    for r in &records {
                        app.apply(r);
                    }
                    // Artifacts appear when a backup ends; nothing else moves them.
                    if records.iter().any(|r| {
                        matches!(
                            r.event,
                            Event::BackupFinished { .. } | Event::BackupVerified { .. }
                        )
                    }) {
                        refresh_artifacts(&mut app);
                    }
                    if let Some(err) = error {
                        app.view.journal_error = Some(err);
                        unsaved = true;
                        // Only when nothing of it was saved: replayed after a partial
                        // save, it would find its task settled and record nothing more.
                        if records.is_empty() {
                            if let Some(fact) = &fact {
                                refused.push(fact.clone());
                            } else {
                                (app.view.selected, app.view.output_scroll) = selection;
                            }
                        }
                    } else {
                        finish_if_complete(&mut app, &writer).await;
                    }
                }
                Effect::SaveMessage { phase, text } => {
                    if !unsaved {
                        save_message(&mut app, &writer, &tasks, phase, text).await;
                    }
                }
                Effect::Copy(text) => {
                    let what = format!("the {} message", super::message::shown_phase(&app));
                    app.view.flash = Some(copy_to_clipboard(&mut terminal, &text, &what).await);
                }
                Effect::SendMessage {
                    phase,
                    step,
                    subject,
                    body,
                } => {
                    if unsaved {
                        app.view.sending = None;
                        continue;
                    }
                    start_send(
                        &mut app,
                        &writer,
                        &tasks,
                        (phase, step, subject, body),
                        &sent_tx,
                    )
                    .await;
                }
                Effect::Spawn(task) => {
                    if unsaved {
                        tracing::warn!(task = %task.name(), "not started: its start was not saved");
                        continue;
                    }
                    spawn_task(&app, &tasks, &task, &report_tx);
                }
                Effect::Cancel(list) => {
                    for task in list {
                        if let Err(why) = cancel_task(&tasks, &task) {
                            app.view.flash =
                                Some(Flash::warn(format!("cannot cancel {task}: {why}")));
                        }
                    }
                }
                Effect::OpenLog(task) => {
                    let pager = Pager {
                        command: &tasks.pager,
                        read_only: false,
                    };
                    let shown;
                    (events, shown) = page_log(
                        &mut terminal,
                        events,
                        (&mut sigint, &mut sigquit),
                        pager,
                        &task,
                        &tasks.dir,
                    )
                    .await;
                    if let Err(why) = shown {
                        app.view.flash = Some(Flash::warn(why));
                    }
                }
                Effect::Quit => quit = true,
            }
        }
        if quit {
            // One more try, so the drafts below can still be saved.
            recover(&mut app, &writer, &mut refused, &mut replay).await;
            // A send in flight is waited for and journaled: its command runs on in its
            // own session and may well deliver, and an unrecorded send would be sent
            // again after resume.
            if app.view.sending.is_some() {
                app.view.flash = Some(Flash::info(
                    "waiting for the message being sent to finish, to record it…",
                ));
                let _ = draw(&mut terminal, &app);
                let limit = send::TIMEOUT + StdDuration::from_secs(5);
                if let Ok(Some(sent)) = tokio::time::timeout(limit, sents.recv()).await {
                    app.view.now = Timestamp::now();
                    for effect in update(&mut app, Msg::Sent(sent)) {
                        if let Effect::Record(events) = effect {
                            let (records, error) = writer.append(events).await;
                            for r in &records {
                                app.apply(r);
                            }
                            if let Some(err) = error {
                                app.view.journal_error = Some(err);
                            }
                        }
                    }
                }
            }
            // Edits nobody saved are saved now: quitting must not lose a message.
            let unsaved_drafts: Vec<(String, String)> = app
                .view
                .drafts
                .iter()
                .filter(|(_, d)| d.unsaved())
                .map(|(p, d)| (p.clone(), d.text()))
                .collect();
            if app.view.journal_error.is_none() {
                for (phase, text) in unsaved_drafts {
                    save_message(&mut app, &writer, &tasks, phase, text).await;
                }
            }
            break signal.map_or(Exit::Quit, Exit::Signal);
        }
    };
    let _ = std::io::stdout().flush();
    Ok(Left {
        exit: reason,
        running: watch::running_tasks(&app.runbook, &app.run),
    })
}
