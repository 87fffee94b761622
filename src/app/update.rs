//! The single `update`: a message in, effects out. It changes only the view; the run
//! state changes when the runtime has saved the events this returns. No I/O, no clock.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::App;
use super::keymap::Action;
use super::msg::{Effect, Flash, Msg};
use super::view::{Dialog, Pane, Purpose};
use crate::run::{BackupStatus, StepStatus, plan};
use crate::runbook::StepKind;
use crate::runner::watch::{Report, TaskOutput};
use crate::runner::{ExitRecord, TaskId, TaskKind};
use crate::session::Event;

/// Lines one scroll key moves the output.
const SCROLL_PAGE: usize = 10;

pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Terminate(_) => vec![Effect::Quit],
        Msg::Tick => {
            super::window::on_tick(app);
            Vec::new()
        }
        Msg::Resize => Vec::new(),
        Msg::Key(key) => on_key(app, key),
        Msg::Task(report) => on_report(app, report),
        Msg::Sent(sent) => super::message::on_sent(app, sent),
    }
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    app.view.flash = None;
    if app.view.dialog.is_some() {
        return on_dialog_key(app, key);
    }
    if app.view.help {
        // Any key closes help; `q` also quits so it never feels stuck.
        app.view.help = false;
        return match app.keymap.lookup(&key) {
            Some(Action::Quit) => vec![Effect::Quit],
            _ => Vec::new(),
        };
    }
    if app.view.editing {
        return super::message::on_editor_key(app, key);
    }
    if app.view.timeline && key.code == KeyCode::Esc {
        app.view.timeline = false;
        return Vec::new();
    }
    let Some(action) = app.keymap.lookup(&key) else {
        return Vec::new();
    };
    if let Some(watching) = &app.watching
        && !action.only_looks()
    {
        let session = (app.run.finished.is_none()).then_some(app.run.session.as_str());
        app.view.flash = Some(Flash::warn(refused_in_watch(watching, action, session)));
        return Vec::new();
    }
    if app.view.timeline {
        return on_timeline_action(app, action);
    }
    on_action(app, action)
}

/// What a watcher is told when a key would change the session: which action, and who
/// can do it instead.
/// `session` is `None` once the session is finished: nobody can take it over then.
fn refused_in_watch(watching: &super::Watching, action: Action, session: Option<&str>) -> String {
    let who = match (&watching.driver, session) {
        // The lock names `user@host, pid N, since …`; the name is enough here.
        (Some(d), _) => format!("{} drives it", d.split(',').next().unwrap_or(d)),
        (None, Some(id)) => format!("nobody drives it now; `cutover resume {id}` takes it over"),
        (None, None) => "the session is finished".to_string(),
    };
    format!("read-only view: `{}` is refused here; {who}", action.hint())
}

/// The timeline replaces the panes, so keys that act on a step would act on something
/// out of sight: only scrolling, closing, help and quit work there.
fn on_timeline_action(app: &mut App, action: Action) -> Vec<Effect> {
    match action {
        Action::Quit => return vec![Effect::Quit],
        Action::Help => app.view.help = true,
        Action::Timeline => app.view.timeline = false,
        Action::Up | Action::ScrollUp => {
            let by = if action == Action::Up { 1 } else { SCROLL_PAGE };
            app.view.timeline_scroll = app.view.timeline_scroll.saturating_sub(by);
        }
        Action::Down | Action::ScrollDown => {
            let by = if action == Action::Down {
                1
            } else {
                SCROLL_PAGE
            };
            // The rows the timeline draws (contingency steps only once they matter).
            let rows = crate::run::timeline::build(&app.runbook, &app.run, app.view.now)
                .rows
                .len();
            let max = rows.saturating_sub(1);
            app.view.timeline_scroll = (app.view.timeline_scroll + by).min(max);
        }
        Action::First => app.view.timeline_scroll = 0,
        _ => {
            app.view.flash = Some(Flash::info("the timeline is open: t closes it"));
        }
    }
    Vec::new()
}

fn step_count(app: &App) -> usize {
    app.run.steps.len()
}

fn on_action(app: &mut App, action: Action) -> Vec<Effect> {
    let last = step_count(app).saturating_sub(1);
    match action {
        Action::Quit => return vec![Effect::Quit],
        Action::Help => app.view.help = true,
        Action::Up | Action::Down if app.view.focus == Pane::Output => {
            scroll(app, if action == Action::Up { 1 } else { -1 });
        }
        Action::Up | Action::Down if app.view.focus == Pane::Backups => {
            let n = app.runbook.file.backups.len().saturating_sub(1);
            app.view.backup_selected = if action == Action::Up {
                app.view.backup_selected.saturating_sub(1)
            } else {
                (app.view.backup_selected + 1).min(n)
            };
        }
        Action::Up => select(app, app.view.selected.saturating_sub(1)),
        Action::Down => select(app, (app.view.selected + 1).min(last)),
        Action::First => select(app, 0),
        Action::Last => select(app, last),
        Action::ScrollUp => scroll(app, SCROLL_PAGE as i64),
        Action::ScrollDown => scroll(app, -(SCROLL_PAGE as i64)),
        Action::Follow => app.view.output_scroll = None,
        Action::OpenLog => match app.shown_task() {
            Some(task) => return vec![Effect::OpenLog(task)],
            None => {
                app.view.flash = Some(Flash::info("nothing has run here yet, so there is no log"))
            }
        },
        Action::Rerun => return start(app, true),
        Action::Cancel => cancel(app),
        Action::MarkFailed => {
            if let Some(step) = writable_step(app) {
                let status = plan::status(&app.runbook, &app.run, &step);
                if status == StepStatus::Interrupted {
                    app.view.dialog = Some(Dialog::new(Purpose::MarkFailed { step }));
                } else {
                    app.view.flash = Some(Flash::info(format!(
                        "`{step}` is {}; only an interrupted step (outcome unknown) is marked failed by hand",
                        status.word()
                    )));
                }
            }
        }
        Action::FocusNext | Action::FocusPrev => {
            let i = Pane::ALL
                .iter()
                .position(|p| *p == app.view.focus)
                .unwrap_or(0);
            let n = Pane::ALL.len();
            let next = if action == Action::FocusNext {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            app.view.focus = Pane::ALL[next];
        }
        Action::Message => return super::message::open(app, None, None),
        Action::Send => return super::message::send(app),
        Action::Extend => super::window::extend(app),
        Action::Rollback => super::window::rollback(app),
        Action::Timeline => {
            app.view.timeline = true;
            app.view.timeline_scroll = 0;
        }
        Action::SaveMessage
        | Action::CopyMessage
        | Action::RegenerateMessage
        | Action::LeaveEditor => {
            app.view.flash = Some(Flash::info(format!(
                "that key works inside the message editor: {} opens it",
                app.key(Action::Message)
            )));
        }
        Action::Act => return act(app),
        Action::Done => return mark_done(app),
        Action::Skip => {
            if let Some(step) = writable_step(app) {
                let status = plan::status(&app.runbook, &app.run, &step);
                if status == StepStatus::Running {
                    app.view.flash = Some(Flash::warn(format!(
                        "`{step}` is running; it cannot be skipped now"
                    )));
                } else if status == StepStatus::Skipped {
                    app.view.flash = Some(Flash::info(format!("`{step}` is already skipped")));
                } else {
                    app.view.dialog = Some(Dialog::new(Purpose::Skip { step }));
                }
            }
        }
        Action::Note => {
            if let Some(step) = writable_step(app) {
                app.view.dialog = Some(Dialog::new(Purpose::Note { step }));
            }
        }
        Action::Reopen => {
            if let Some(step) = writable_step(app) {
                let status = plan::status(&app.runbook, &app.run, &step);
                return match status {
                    StepStatus::Done
                    | StepStatus::Skipped
                    | StepStatus::Failed
                    | StepStatus::Interrupted => {
                        vec![Effect::Record(vec![Event::StepReopened { step }])]
                    }
                    _ => {
                        app.view.flash = Some(Flash::info(format!(
                            "`{step}` is {}; only done, skipped, failed or interrupted steps reopen",
                            status.word()
                        )));
                        Vec::new()
                    }
                };
            }
        }
    }
    Vec::new()
}

/// The selected step's id, unless the journal is broken (then nothing may be recorded
/// and the operator is told why).
fn writable_step(app: &mut App) -> Option<String> {
    if let Some(err) = &app.view.journal_error {
        app.view.flash = Some(Flash::warn(format!("not saved, so not accepted: {err}")));
        return None;
    }
    app.run.steps.get(app.view.selected).map(|s| s.id.clone())
}

fn act(app: &mut App) -> Vec<Effect> {
    let Some(step_id) = app.run.steps.get(app.view.selected).map(|s| s.id.clone()) else {
        return Vec::new();
    };
    let kind = app
        .runbook
        .step(&step_id)
        .map_or(StepKind::Manual, |s| s.kind());
    match kind {
        StepKind::Manual => mark_done(app),
        StepKind::Command | StepKind::Backup => start(app, false),
        StepKind::Message => {
            let phase = app
                .runbook
                .step(&step_id)
                .and_then(|s| s.message.as_ref())
                .map(|m| m.get_ref().clone());
            super::message::open(app, phase, Some(step_id))
        }
    }
}

fn select(app: &mut App, index: usize) {
    if app.view.selected != index {
        app.view.selected = index;
        // A different step has different output: start at its end.
        app.view.output_scroll = None;
    }
}

/// Positive `by` scrolls back (older lines), negative forward; reaching the end
/// follows again.
fn scroll(app: &mut App, by: i64) {
    let held = app
        .shown_task()
        .and_then(|t| app.view.outputs.get(&(t.kind, t.id)))
        .map_or(0, |o| o.ring.len());
    let now = app.view.output_scroll.unwrap_or(0) as i64;
    let max = i64::try_from(held.saturating_sub(1)).unwrap_or(i64::MAX);
    let next = (now + by).clamp(0, max);
    app.view.output_scroll = if next == 0 { None } else { Some(next as usize) };
}

/// Starts the selected command or backup step (`rerun`: again, as a new attempt),
/// through its gate and its typed confirmation when it has them.
fn start(app: &mut App, rerun: bool) -> Vec<Effect> {
    let Some(step) = writable_step(app) else {
        return Vec::new();
    };
    let kind = app
        .runbook
        .step(&step)
        .map_or(StepKind::Manual, |s| s.kind());
    if !matches!(kind, StepKind::Command | StepKind::Backup) {
        app.view.flash = Some(Flash::info(format!(
            "`{step}` is a {} step: it has nothing to run",
            kind.word()
        )));
        return Vec::new();
    }
    if app.run.rehearsal {
        app.view.flash = Some(Flash::info(rehearsal_text(app, &step)));
        return Vec::new();
    }
    let status = plan::status(&app.runbook, &app.run, &step);
    let refuse = |text: String| Some(Flash::info(text));
    let flash = match status {
        StepStatus::Running => refuse(format!(
            "`{step}` is running: {} cancels it, {} shows its full log",
            app.key(Action::Cancel),
            app.key(Action::OpenLog)
        )),
        StepStatus::Done => refuse(format!(
            "`{step}` is done; {} reopens it to run it again",
            app.key(Action::Reopen)
        )),
        StepStatus::Skipped => refuse(format!(
            "`{step}` is skipped; {} reopens it",
            app.key(Action::Reopen)
        )),
        StepStatus::Failed | StepStatus::Interrupted if !rerun => refuse(format!(
            "`{step}` is {}: {} runs it again as attempt {}, {} marks it done{}",
            status.word(),
            app.key(Action::Rerun),
            app.run
                .step(&step)
                .map_or(1, |s| s.attempts.saturating_add(1)),
            app.key(Action::Done),
            if status == StepStatus::Interrupted {
                format!(", {} marks it failed", app.key(Action::MarkFailed))
            } else {
                format!(", {} reopens it", app.key(Action::Reopen))
            }
        )),
        StepStatus::Pending | StepStatus::Blocked if rerun => refuse(format!(
            "`{step}` has not run yet: {} runs it",
            app.key(Action::Act)
        )),
        _ => None,
    };
    if flash.is_some() {
        app.view.flash = flash;
        return Vec::new();
    }
    let unmet = plan::unmet(&app.runbook, &app.run, &step);
    let overridden = app
        .run
        .step(&step)
        .is_some_and(|s| s.override_reason.is_some());
    if !unmet.is_empty() && !overridden {
        app.view.dialog = Some(Dialog::new(Purpose::OverrideStart { step, unmet }));
        return Vec::new();
    }
    confirm_then_start(app, step, None)
}

/// What Enter says in a rehearsal: the command(s) the step would run, as written.
fn rehearsal_text(app: &App, step: &str) -> String {
    let commands: Vec<String> = match app.runbook.step(step) {
        Some(def) if def.kind() == StepKind::Backup => backups_of(app, step)
            .iter()
            .filter_map(|b| {
                app.runbook
                    .file
                    .backups
                    .iter()
                    .find(|d| d.id.get_ref() == b)
            })
            .map(|d| d.run.clone())
            .collect(),
        Some(def) => def.run.iter().map(|r| r.get_ref().clone()).collect(),
        None => Vec::new(),
    };
    let shown = commands
        .iter()
        .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" ; ");
    format!(
        "rehearsal: nothing runs ({shown}). The command is shown in the step pane; d marks it done by hand"
    )
}

fn needs_confirmation(app: &App, step: &str) -> bool {
    app.runbook.step(step).is_some_and(|s| s.confirm)
        // Its last run may still have done something: running it again is a decision,
        // however the step got back to pending (reopened, marked failed).
        || last_run_unknown(app, step)
}

fn last_run_unknown(app: &App, step: &str) -> bool {
    app.run
        .step(step)
        .and_then(|s| s.history.last())
        .is_some_and(|a| a.interrupted || a.finished_at.is_none())
}

fn confirm_then_start(
    app: &mut App,
    step: String,
    override_reason: Option<(Vec<String>, String)>,
) -> Vec<Effect> {
    if needs_confirmation(app, &step) {
        app.view.dialog = Some(Dialog::new(Purpose::ConfirmStart {
            step,
            override_reason,
        }));
        return Vec::new();
    }
    start_effects(app, step, override_reason)
}

/// The start event(s) first, then the spawns: the runtime saves the events and only
/// then starts anything.
fn start_effects(
    app: &mut App,
    step: String,
    override_reason: Option<(Vec<String>, String)>,
) -> Vec<Effect> {
    // Every path to a spawn ends here (dialogs included), so this is where a rehearsal
    // is held to its promise that nothing runs.
    if app.run.rehearsal {
        app.view.flash = Some(Flash::info(rehearsal_text(app, &step)));
        return Vec::new();
    }
    let Some(state) = app.run.step(&step) else {
        return Vec::new();
    };
    // Only a hand-made journal gets here: a new attempt would reuse the last number,
    // and its records would be taken for the old attempt's.
    let Some(attempt) = state.attempts.checked_add(1) else {
        app.view.flash = Some(Flash::warn(format!(
            "`{step}` has used every attempt number; it cannot run again in this session"
        )));
        return Vec::new();
    };
    let mut events = Vec::new();
    if let Some((unmet, reason)) = override_reason {
        events.push(Event::GateOverridden {
            step: step.clone(),
            unmet,
            reason,
        });
    }
    events.push(Event::StepStarted {
        step: step.clone(),
        attempt,
    });
    let mut spawns = Vec::new();
    let Some(def) = app.runbook.step(&step) else {
        return Vec::new();
    };
    match def.kind() {
        StepKind::Command => spawns.push(Effect::Spawn(TaskId::step(&step, attempt))),
        StepKind::Backup => {
            for b in &backups_of(app, &step) {
                let Some(bs) = app.run.backup(b) else {
                    continue;
                };
                // A backup verified earlier in the night is not taken again, and one
                // already in flight is never started twice.
                if matches!(
                    bs.status,
                    BackupStatus::Verified | BackupStatus::Running | BackupStatus::Verifying
                ) {
                    continue;
                }
                // As for a step: a backup that used every attempt number is not run again.
                let Some(n) = bs.attempts.checked_add(1) else {
                    continue;
                };
                events.push(Event::BackupStarted {
                    backup: b.clone(),
                    attempt: n,
                });
                spawns.push(Effect::Spawn(TaskId::backup(b, n)));
            }
            let all_verified = backups_of(app, &step).iter().all(|b| {
                app.run
                    .backup(b)
                    .is_some_and(|s| s.status == BackupStatus::Verified)
            });
            if spawns.is_empty() && !all_verified {
                app.view.flash = Some(Flash::warn(format!(
                    "`{step}`: its backups are already running"
                )));
                return Vec::new();
            }
            if spawns.is_empty() {
                events.push(Event::StepFinished {
                    step: step.clone(),
                    attempt,
                    exit: Some(0),
                    signal: None,
                    timed_out: false,
                    cancelled: false,
                    expect_matched: None,
                    detached: false,
                    detail: Some("every backup was already verified".into()),
                    ended: None,
                });
            }
        }
        StepKind::Manual | StepKind::Message => return Vec::new(),
    }
    app.view.output_scroll = None;
    let mut effects = vec![Effect::Record(events)];
    effects.extend(spawns);
    effects
}

fn cancel(app: &mut App) {
    let Some(step) = writable_step(app) else {
        return;
    };
    let status = plan::status(&app.runbook, &app.run, &step);
    let tasks = running_tasks_of(app, &step);
    if status != StepStatus::Running || tasks.is_empty() {
        app.view.flash = Some(Flash::info(format!(
            "`{step}` is {}: nothing of it is running",
            status.word()
        )));
        return;
    }
    app.view.dialog = Some(Dialog::new(Purpose::Cancel { step }));
}

/// The tasks running for a step: its command, or its backups (or their verifies).
fn running_tasks_of(app: &App, step: &str) -> Vec<TaskId> {
    let Some(def) = app.runbook.step(step) else {
        return Vec::new();
    };
    let Some(state) = app.run.step(step) else {
        return Vec::new();
    };
    match def.kind() {
        StepKind::Command => vec![TaskId::step(step, state.attempts)],
        StepKind::Backup => def
            .backups
            .as_ref()
            .map(|l| {
                l.get_ref()
                    .iter()
                    .map(|b| b.get_ref().clone())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
            .iter()
            .filter_map(|b| {
                let bs = app.run.backup(b)?;
                match bs.status {
                    BackupStatus::Running => Some(TaskId::backup(b, bs.attempts)),
                    BackupStatus::Verifying => Some(TaskId::verify(b, bs.attempts)),
                    _ => None,
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// What a follower saw. Output only changes the view; an exit or a vanished supervisor
/// becomes journal events (and, after a backup, its verify).
fn on_report(app: &mut App, report: Report) -> Vec<Effect> {
    match report {
        Report::Output {
            task,
            lines,
            partial,
            progress,
        } => {
            let added = lines.len();
            let key = (task.kind, task.id.clone());
            let entry = app
                .view
                .outputs
                .entry(key)
                .or_insert_with(|| TaskOutput::new(task.clone()));
            if entry.task.attempt < task.attempt {
                *entry = TaskOutput::new(task.clone());
            } else if entry.task.attempt > task.attempt {
                return Vec::new();
            }
            entry.absorb(lines, partial, progress);
            let held = entry.ring.len();
            // Scrolled back: keep the same lines in view while more arrive below.
            let shown = app.shown_task().as_ref() == Some(&task);
            if let Some(n) = app.view.output_scroll.as_mut()
                && shown
            {
                *n = (*n + added).min(held.saturating_sub(1));
            }
            Vec::new()
        }
        Report::Exited {
            task,
            exit,
            detached,
        } => on_exit(app, task, exit, detached),
        Report::Lost { task, why } => on_lost(app, task, why),
    }
}

fn on_exit(app: &mut App, task: TaskId, exit: ExitRecord, detached: bool) -> Vec<Effect> {
    if !app.is_running(&task) {
        return Vec::new();
    }
    let how = exit.describe();
    let when = if detached { " while detached" } else { "" };
    let ok = exit.success();
    let notice = |text: String| {
        if ok {
            Flash::info(text)
        } else {
            Flash::warn(text)
        }
    };
    match task.kind {
        TaskKind::Step => {
            let offers_rollback = !ok
                && app.run.rollback_started.is_none()
                && app.runbook.step(&task.id).is_some_and(|s| {
                    s.on_failure == Some(crate::runbook::model::OnFailure::Rollback)
                });
            app.view.flash = Some(notice(if offers_rollback {
                format!(
                    "`{}` failed{when}: {how}. Its runbook says roll back: {} starts the rollback (asks why), {} runs it again",
                    task.id,
                    app.key(Action::Rollback),
                    app.key(Action::Rerun)
                )
            } else {
                format!("`{}` finished{when}: {how}", task.id)
            }));
            vec![Effect::Record(vec![Event::StepFinished {
                step: task.id,
                attempt: task.attempt,
                exit: exit.exit,
                signal: exit.signal,
                timed_out: exit.timed_out,
                cancelled: exit.cancelled,
                expect_matched: exit.expect_matched,
                detached,
                detail: exit.error.clone(),
                ended: Some(exit.ended),
            }])]
        }
        TaskKind::Backup => {
            app.view.flash = Some(notice(format!(
                "backup `{}` finished{when}: {how}",
                task.id
            )));
            let mut events = vec![Event::BackupFinished {
                backup: task.id.clone(),
                attempt: task.attempt,
                exit: exit.exit,
                signal: exit.signal,
                timed_out: exit.timed_out,
                cancelled: exit.cancelled,
                detached,
                ended: Some(exit.ended),
            }];
            let has_verify = app
                .runbook
                .backup(&task.id)
                .is_some_and(|b| b.verify.is_some());
            if ok && has_verify {
                return vec![
                    Effect::Record(events),
                    Effect::Spawn(TaskId::verify(&task.id, task.attempt)),
                ];
            }
            let status = if ok {
                BackupStatus::Verified
            } else {
                BackupStatus::Failed
            };
            events.extend(backup_step_completion(app, &task.id, status, &how));
            vec![Effect::Record(events)]
        }
        TaskKind::Verify => {
            let status = if ok {
                BackupStatus::Verified
            } else {
                BackupStatus::Failed
            };
            app.view.flash = Some(notice(if ok {
                format!("backup `{}` verified{when}", task.id)
            } else {
                format!("backup `{}` failed its verify{when}: {how}", task.id)
            }));
            let mut events = vec![Event::BackupVerified {
                backup: task.id.clone(),
                ok,
                detail: Some(format!("verify {how}")),
                detached,
                ended: Some(exit.ended),
            }];
            events.extend(backup_step_completion(
                app,
                &task.id,
                status,
                &format!("verify {how}"),
            ));
            vec![Effect::Record(events)]
        }
    }
}

fn on_lost(app: &mut App, task: TaskId, why: String) -> Vec<Effect> {
    if !app.is_running(&task) {
        return Vec::new();
    }
    match task.kind {
        TaskKind::Step => {
            app.view.flash = Some(Flash::warn(format!(
                "`{}` interrupted: {why}. {} runs it again, {} marks it done, {} marks it failed",
                task.id,
                app.key(Action::Rerun),
                app.key(Action::Done),
                app.key(Action::MarkFailed)
            )));
            vec![Effect::Record(vec![Event::StepInterrupted {
                step: task.id,
                attempt: task.attempt,
            }])]
        }
        // The backup itself ended well (its exit is journaled); only the check of it
        // is unknown. That is a failed verify, not an unknown backup.
        TaskKind::Verify => {
            let how = format!("verify interrupted: {why}");
            app.view.flash = Some(Flash::warn(format!("backup `{}`: {how}", task.id)));
            let mut events = vec![Event::BackupVerified {
                backup: task.id.clone(),
                ok: false,
                detail: Some(how.clone()),
                detached: false,
                ended: None,
            }];
            // The step, though, is interrupted: the lost check may still be running,
            // so taking the backup again needs the typed id.
            events.extend(backup_step_completion(
                app,
                &task.id,
                BackupStatus::Interrupted,
                &how,
            ));
            vec![Effect::Record(events)]
        }
        TaskKind::Backup => {
            app.view.flash = Some(Flash::warn(format!(
                "backup `{}` interrupted: {why}",
                task.id
            )));
            let mut events = vec![Event::BackupInterrupted {
                backup: task.id.clone(),
                attempt: task.attempt,
            }];
            events.extend(backup_step_completion(
                app,
                &task.id,
                BackupStatus::Interrupted,
                &why,
            ));
            vec![Effect::Record(events)]
        }
    }
}

/// When `backup` settles as `now`, the running backup step that takes it finishes if
/// nothing else of it is in flight: done when every backup is verified, failed naming
/// the backup that failed, interrupted when one was lost.
fn backup_step_completion(app: &App, backup: &str, now: BackupStatus, how: &str) -> Vec<Event> {
    app.runbook
        .backup_step(backup)
        .and_then(|s| settle_backup_step(app, s.id.get_ref(), Some((backup, now, how))))
        .into_iter()
        .collect()
}

/// The event that ends a running backup step once nothing of it is in flight, with
/// `change` applied first (a backup that is settling right now, and how).
fn settle_backup_step(
    app: &App,
    step: &str,
    change: Option<(&str, BackupStatus, &str)>,
) -> Option<Event> {
    let state = app.run.step(step)?;
    if state.status != StepStatus::Running {
        return None;
    }
    let list = backups_of(app, step);
    // A backup last started before this attempt of the step was not part of it (the
    // screen died before saving its start): count it as not started.
    let step_started = state.started_at;
    let status_of = |b: &str| match change {
        Some((c, now, _)) if c == b => Some(now),
        _ => app.run.backup(b).map(|s| {
            let stale = s.status != BackupStatus::Verified
                && s.started_at
                    .is_none_or(|t| step_started.is_some_and(|st| t < st));
            if stale {
                BackupStatus::Interrupted
            } else {
                s.status
            }
        }),
    };
    let statuses: Vec<(&str, Option<BackupStatus>)> =
        list.iter().map(|b| (b.as_str(), status_of(b))).collect();
    if statuses
        .iter()
        .any(|(_, s)| matches!(s, Some(BackupStatus::Running | BackupStatus::Verifying)))
    {
        return None;
    }
    let finished = |exit: i32, detail: Option<String>| Event::StepFinished {
        step: step.to_string(),
        attempt: state.attempts,
        exit: Some(exit),
        signal: None,
        timed_out: false,
        cancelled: false,
        expect_matched: None,
        detached: false,
        detail,
        ended: None,
    };
    if let Some((b, _)) = statuses
        .iter()
        .find(|(_, s)| *s == Some(BackupStatus::Failed))
    {
        let why = match change {
            Some((c, _, how)) if c == *b => how.to_string(),
            _ => app
                .run
                .backup(b)
                .and_then(|s| {
                    s.verify
                        .clone()
                        .or_else(|| s.history.last().map(|a| a.outcome()))
                })
                .unwrap_or_else(|| "failed".to_string()),
        };
        return Some(finished(1, Some(format!("backup `{b}` failed: {why}"))));
    }
    if statuses
        .iter()
        .all(|(_, s)| *s == Some(BackupStatus::Verified))
    {
        return Some(finished(0, None));
    }
    // Interrupted, or never started (the screen died part-way through saving the start).
    Some(Event::StepInterrupted {
        step: step.to_string(),
        attempt: state.attempts,
    })
}

/// What a screen opening on a session must record before anything else: backup steps
/// left `running` with nothing of them in flight (the screen died between saving one
/// event of a batch and the next) are finished from what their backups say.
pub fn reconcile(app: &App) -> Vec<Event> {
    app.run
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Running)
        .filter(|s| {
            app.runbook
                .step(&s.id)
                .is_some_and(|d| d.kind() == StepKind::Backup)
        })
        .filter_map(|s| settle_backup_step(app, &s.id, None))
        .collect()
}

fn mark_done(app: &mut App) -> Vec<Effect> {
    let Some(step) = writable_step(app) else {
        return Vec::new();
    };
    let phase = app
        .runbook
        .step(&step)
        .and_then(|s| s.message.as_ref())
        .map(|m| m.get_ref().clone());
    if phase.is_some() && app.view.sending == phase {
        app.view.flash = Some(Flash::info(format!(
            "`{step}`: its message is being sent; its outcome settles the step"
        )));
        return Vec::new();
    }
    let status = plan::status(&app.runbook, &app.run, &step);
    // Any step not yet done goes through its gate, whatever its state: skipping or
    // failing a step must not turn into a way around `requires`.
    let gated = !matches!(status, StepStatus::Done | StepStatus::Running)
        && app
            .run
            .step(&step)
            .is_some_and(|s| s.override_reason.is_none());
    let unmet = plan::unmet(&app.runbook, &app.run, &step);
    // A step whose run failed or is unknown, or whose backups are unverified, asks its
    // own question first; one typed reason then also covers an unmet gate.
    // A rehearsal ran nothing, so there is no run or backup for a reason to explain.
    if !matches!(status, StepStatus::Done | StepStatus::Running)
        && !app.run.rehearsal
        && let Some(mut why) = done_needs_reason(app, &step, status)
    {
        if gated && !unmet.is_empty() {
            why.push_str(&format!("; it also needs {} done first", unmet.join(", ")));
        }
        app.view.dialog = Some(Dialog::new(Purpose::DoneAnyway { step, why }));
        return Vec::new();
    }
    if gated && !unmet.is_empty() {
        app.view.dialog = Some(Dialog::new(Purpose::Override { step, unmet }));
        return Vec::new();
    }
    match status {
        StepStatus::Done => {
            app.view.flash = Some(Flash::info(format!("`{step}` is already done")));
            Vec::new()
        }
        StepStatus::Running => {
            app.view.flash = Some(Flash::warn(format!("`{step}` is still running")));
            Vec::new()
        }
        _ => {
            let needs_note = app.runbook.step(&step).is_some_and(|s| s.notes_required)
                && app.run.step(&step).is_some_and(|s| s.notes.is_empty());
            if needs_note {
                app.view.dialog = Some(Dialog::new(Purpose::NoteToComplete { step }));
                return Vec::new();
            }
            advance_after(app, &step);
            let mut events = super::message::marked_sent(app, &step);
            if !events.is_empty() {
                app.view.flash = Some(Flash::info(format!(
                    "`{step}`: its message is recorded as sent by hand"
                )));
            }
            events.push(Event::StepDone { step });
            vec![Effect::Record(events)]
        }
    }
}

/// Why marking `step` done by hand needs a typed reason, if it does: its run failed or
/// its outcome is unknown, or it is a backup step whose backups are not all verified
/// (the rollback depends on them, so one key must not wave them through).
fn done_needs_reason(app: &App, step: &str, status: StepStatus) -> Option<String> {
    let kind = app.runbook.step(step)?.kind();
    if !matches!(kind, StepKind::Command | StepKind::Backup) {
        return None;
    }
    match status {
        StepStatus::Failed => return Some(format!("`{step}` failed")),
        StepStatus::Interrupted => return Some(format!("the outcome of `{step}` is unknown")),
        _ => {}
    }
    // Reopened after a bad run: the run still happened.
    if let Some(a) = app.run.step(step).and_then(|s| s.history.last()) {
        if a.interrupted || a.finished_at.is_none() {
            return Some(format!("the outcome of `{step}`'s last run is unknown"));
        }
        let ok = a.exit == Some(0)
            && a.signal.is_none()
            && !a.timed_out
            && !a.cancelled
            && a.expect_matched != Some(false);
        if !ok && kind == StepKind::Command {
            return Some(format!("`{step}`'s last run failed ({})", a.outcome()));
        }
    }
    if kind == StepKind::Backup {
        let unverified: Vec<String> = backups_of(app, step)
            .into_iter()
            .filter(|b| {
                app.run
                    .backup(b)
                    .is_none_or(|s| s.status != BackupStatus::Verified)
            })
            .collect();
        if !unverified.is_empty() {
            return Some(format!("backups not verified: {}", unverified.join(", ")));
        }
    }
    None
}

/// The backups a backup step takes, owned, so `app` stays free to change.
fn backups_of(app: &App, step: &str) -> Vec<String> {
    app.runbook.step(step).map_or_else(Vec::new, |s| {
        s.backup_ids().into_iter().map(String::from).collect()
    })
}

/// Moves the selection to the next step after `step` that still needs doing, so that
/// working down the list is one key per step.
fn advance_after(app: &mut App, step: &str) {
    let Some(from) = app.run.steps.iter().position(|s| s.id == step) else {
        return;
    };
    if app.view.selected != from {
        return;
    }
    let next = app
        .run
        .steps
        .iter()
        .enumerate()
        .skip(from + 1)
        .find(|(_, s)| !s.status.is_settled())
        .map(|(i, _)| i);
    if let Some(i) = next {
        let same_phase = app.runbook.phase_of(step).map(|p| p.contingency)
            == app
                .runbook
                .phase_of(&app.run.steps[i].id)
                .map(|p| p.contingency);
        // Never walk the operator into the rollback phase by accident.
        if same_phase {
            app.view.selected = i;
        }
    }
}

fn on_dialog_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Esc => {
            app.view.dialog = None;
            Vec::new()
        }
        KeyCode::Char('g') if ctrl => {
            app.view.dialog = None;
            Vec::new()
        }
        KeyCode::Enter if !key.modifiers.contains(KeyModifiers::ALT) => submit_dialog(app),
        _ => {
            if let Some(d) = app.view.dialog.as_mut() {
                d.editor.input(key);
            }
            Vec::new()
        }
    }
}

fn submit_dialog(app: &mut App) -> Vec<Effect> {
    let Some(dialog) = app.view.dialog.as_ref() else {
        return Vec::new();
    };
    let text = dialog.text();
    if let Purpose::ConfirmStart { step, .. } = &dialog.purpose
        && text != *step
    {
        app.view.flash = Some(Flash::warn(format!(
            "type the step id `{step}` exactly to start it (ctrl-g cancels)"
        )));
        return Vec::new();
    }
    if text.is_empty() {
        app.view.flash = Some(Flash::warn("type something first (ctrl-g cancels)"));
        return Vec::new();
    }
    // A secret typed into a note or a reason is journaled masked: the journal never holds
    // a secret's value.
    let text = crate::runbook::secrets::active().mask(&text).into_owned();
    let purpose = dialog.purpose.clone();
    app.view.dialog = None;
    match purpose {
        Purpose::Skip { step } => {
            advance_after(app, &step);
            vec![Effect::Record(vec![Event::StepSkipped {
                step,
                reason: text,
            }])]
        }
        Purpose::Note { step } => vec![Effect::Record(vec![Event::NoteAdded { step, text }])],
        Purpose::NoteToComplete { step } => {
            advance_after(app, &step);
            let mut events = vec![Event::NoteAdded {
                step: step.clone(),
                text,
            }];
            events.extend(super::message::marked_sent(app, &step));
            events.push(Event::StepDone { step });
            vec![Effect::Record(events)]
        }
        Purpose::Override { step, unmet } => {
            advance_after(app, &step);
            let mut events = vec![Event::GateOverridden {
                step: step.clone(),
                unmet,
                reason: text.clone(),
            }];
            if app.runbook.step(&step).is_some_and(|s| s.notes_required) {
                events.push(Event::NoteAdded {
                    step: step.clone(),
                    text,
                });
            }
            events.extend(super::message::marked_sent(app, &step));
            events.push(Event::StepDone { step });
            vec![Effect::Record(events)]
        }
        Purpose::OverrideStart { step, unmet } => {
            confirm_then_start(app, step, Some((unmet, text)))
        }
        Purpose::ConfirmStart {
            step,
            override_reason,
        } => start_effects(app, step, override_reason),
        Purpose::Cancel { step } => {
            // What runs now, not what ran when the question was asked: a backup may
            // have moved on to its verify meanwhile.
            let tasks = running_tasks_of(app, &step);
            if tasks.is_empty() {
                app.view.flash = Some(Flash::info(format!(
                    "`{step}` has nothing running any more"
                )));
                return Vec::new();
            }
            if matches!(text.to_lowercase().as_str(), "y" | "yes") {
                app.view.flash = Some(Flash::info(format!(
                    "cancelling `{step}`: SIGTERM to its process group, SIGKILL after its grace"
                )));
                vec![Effect::Cancel(tasks)]
            } else {
                app.view.flash = Some(Flash::info(format!("`{step}` keeps running")));
                Vec::new()
            }
        }
        Purpose::DoneAnyway { step, .. } => {
            advance_after(app, &step);
            let mut events = Vec::new();
            let unmet = plan::unmet(&app.runbook, &app.run, &step);
            let overridden = app
                .run
                .step(&step)
                .is_some_and(|s| s.override_reason.is_some());
            if !unmet.is_empty() && !overridden {
                events.push(Event::GateOverridden {
                    step: step.clone(),
                    unmet,
                    reason: text.clone(),
                });
            }
            events.push(Event::NoteAdded {
                step: step.clone(),
                text: format!("marked done by hand: {text}"),
            });
            events.push(Event::StepDone { step });
            vec![Effect::Record(events)]
        }
        Purpose::MarkFailed { step } => {
            vec![Effect::Record(vec![Event::StepFailed {
                step,
                reason: text,
            }])]
        }
        Purpose::ExtendBy => {
            super::window::extend_by(app, &text);
            Vec::new()
        }
        Purpose::ExtendReason { by } => super::window::extended(app, by, text),
        Purpose::Rollback => super::window::rollback_started(app, text),
        Purpose::Send {
            phase,
            step,
            subject,
            body,
        } => super::message::confirm_send(app, &text, phase, step, subject, body),
    }
}
