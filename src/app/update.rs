//! The single `update`: a message in, effects out. It changes only the view; the run
//! state changes when the runtime has saved the events this returns. No I/O, no clock.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::App;
use super::keymap::Action;
use super::msg::{Effect, Flash, Msg};
use super::view::{Dialog, Pane, Purpose};
use crate::run::{StepStatus, plan};
use crate::runbook::StepKind;
use crate::session::Event;

pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Terminate(_) => vec![Effect::Quit],
        Msg::Tick | Msg::Resize => Vec::new(),
        Msg::Key(key) => on_key(app, key),
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
    let Some(action) = app.keymap.lookup(&key) else {
        return Vec::new();
    };
    on_action(app, action)
}

fn step_count(app: &App) -> usize {
    app.run.steps.len()
}

fn on_action(app: &mut App, action: Action) -> Vec<Effect> {
    let last = step_count(app).saturating_sub(1);
    match action {
        Action::Quit => return vec![Effect::Quit],
        Action::Help => app.view.help = true,
        Action::Up => app.view.selected = app.view.selected.saturating_sub(1),
        Action::Down => app.view.selected = (app.view.selected + 1).min(last),
        Action::First => app.view.selected = 0,
        Action::Last => app.view.selected = last,
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
    if kind == StepKind::Manual {
        return mark_done(app);
    }
    app.view.flash = Some(Flash::info(format!(
        "`{step_id}` is a {} step; cutover does not start it from here: do it by hand, then press d",
        kind.word()
    )));
    Vec::new()
}

fn mark_done(app: &mut App) -> Vec<Effect> {
    let Some(step) = writable_step(app) else {
        return Vec::new();
    };
    let status = plan::status(&app.runbook, &app.run, &step);
    // Any step not yet done goes through its gate, whatever its state: skipping or
    // failing a step must not turn into a way around `requires`.
    let gated = !matches!(status, StepStatus::Done | StepStatus::Running)
        && app
            .run
            .step(&step)
            .is_some_and(|s| s.override_reason.is_none());
    let unmet = plan::unmet(&app.runbook, &app.run, &step);
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
            vec![Effect::Record(vec![Event::StepDone { step }])]
        }
    }
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
    if text.is_empty() {
        app.view.flash = Some(Flash::warn("type something first (ctrl-g cancels)"));
        return Vec::new();
    }
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
            vec![Effect::Record(vec![
                Event::NoteAdded {
                    step: step.clone(),
                    text,
                },
                Event::StepDone { step },
            ])]
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
            events.push(Event::StepDone { step });
            vec![Effect::Record(events)]
        }
    }
}
