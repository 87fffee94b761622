//! The message editor and sending, as `update` sees them: open a draft, edit it, save,
//! copy, redraft, send, and record how the send went. Pure like the rest of `update`:
//! files, the clipboard and the send command are effects.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::App;
use super::keymap::Action;
use super::msg::{Effect, Flash, Sent};
use super::view::{Dialog, MessageDraft, Pane, Purpose};
use crate::message::{self, draft};
use crate::run::{StepStatus, plan};
use crate::runbook::StepKind;
use crate::session::Event;

/// The phase the message pane is about.
pub fn shown_phase(app: &App) -> String {
    app.view
        .message_phase
        .clone()
        .unwrap_or_else(|| message::phase_now(&app.runbook, &app.run, app.view.now).to_string())
}

/// The text of `phase` as it would go out now: the operator's draft if they opened one,
/// else rendered from the live state.
pub fn current_text(app: &App, phase: &str) -> Result<String, String> {
    if let Some(d) = app.view.drafts.get(phase) {
        return Ok(d.text());
    }
    fresh_text(app, phase)
}

fn fresh_text(app: &App, phase: &str) -> Result<String, String> {
    draft::render(&app.runbook, &app.run, phase, app.view.now, &app.operator)
        .map(|d| d.text())
        .map_err(|e| format!("the {phase} message cannot be drafted: {e}"))
}

/// `m`, or Enter on a message step (`step`): the editor on the phase's draft.
pub fn open(app: &mut App, phase: Option<String>, step: Option<String>) -> Vec<Effect> {
    if phase.is_some() {
        app.view.message_phase = phase;
        app.view.message_step = step;
    }
    let phase = shown_phase(app);
    // Pinned while the editor is open: the window opening or the session finishing
    // must not swap the draft under the operator's fingers.
    app.view.message_phase = Some(phase.clone());
    if !app.view.drafts.contains_key(&phase) {
        match fresh_text(app, &phase) {
            Ok(text) => {
                app.view
                    .drafts
                    .insert(phase.clone(), MessageDraft::new(&text));
            }
            Err(why) => {
                app.view.flash = Some(Flash::warn(why));
                return Vec::new();
            }
        }
    }
    app.view.editing = true;
    app.view.focus = Pane::Message;
    app.view.flash = Some(Flash::info(format!(
        "editing the {phase} message: {} saves, {} copies, {} leaves, then {} sends",
        app.key(Action::SaveMessage),
        app.key(Action::CopyMessage),
        app.key(Action::LeaveEditor),
        app.key(Action::Send)
    )));
    Vec::new()
}

/// A key while the editor has the keyboard: the editor's own actions, else typing.
pub fn on_editor_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let phase = shown_phase(app);
    let action = app.keymap.lookup(&key);
    // A bare Esc also leaves (tmux may delay it, so ctrl-g is the documented key).
    let leave = action == Some(Action::LeaveEditor) || key.code == KeyCode::Esc;
    if leave {
        app.view.editing = false;
        // Back to the list: the next key is most likely about a step.
        app.view.focus = Pane::Checklist;
        if let Some(d) = app.view.drafts.get(&phase)
            && !d.edited()
            && d.saved.is_none()
        {
            // Untouched: back to the live draft, which follows the clock, and (unless a
            // message step chose the phase) to the phase the moment calls for.
            app.view.drafts.remove(&phase);
            if app.view.message_step.is_none() {
                app.view.message_phase = None;
            }
        }
        return Vec::new();
    }
    if !app.view.drafts.contains_key(&phase) {
        // Never type into nothing: a draft that went away (sent meanwhile) comes back
        // fresh rather than the key falling through to a checklist action.
        match fresh_text(app, &phase) {
            Ok(text) => {
                app.view
                    .drafts
                    .insert(phase.clone(), MessageDraft::new(&text));
            }
            Err(why) => {
                app.view.editing = false;
                app.view.flash = Some(Flash::warn(why));
                return Vec::new();
            }
        }
    }
    let Some(d) = app.view.drafts.get_mut(&phase) else {
        return Vec::new();
    };
    match action {
        // ctrl-c still quits (unsaved edits are saved on the way out); a plain `q` types.
        Some(Action::Quit) if key.modifiers.contains(KeyModifiers::CONTROL) => {
            vec![Effect::Quit]
        }
        Some(Action::SaveMessage) => {
            if let Some(err) = &app.view.journal_error {
                app.view.flash = Some(Flash::warn(format!("not saved: {err}")));
                return Vec::new();
            }
            vec![Effect::SaveMessage {
                phase,
                text: d.text(),
            }]
        }
        Some(Action::CopyMessage) => {
            // The runtime says where it went (terminal, tmux, screen) once it has.
            app.view.flash = Some(Flash::info(format!("copying the {phase} message…")));
            vec![Effect::Copy(d.text())]
        }
        Some(Action::RegenerateMessage) => {
            if d.edited() && !d.regenerate_armed {
                d.regenerate_armed = true;
                app.view.flash = Some(Flash::warn(
                    "the draft has your edits: ctrl-r again replaces them with a fresh draft (ctrl-s saves them first)",
                ));
                return Vec::new();
            }
            match fresh_text(app, &phase) {
                Ok(text) => {
                    let saved = app.view.drafts.get(&phase).and_then(|d| d.saved.clone());
                    let mut fresh = MessageDraft::new(&text);
                    fresh.saved = saved;
                    app.view.drafts.insert(phase.clone(), fresh);
                    app.view.flash = Some(Flash::info(format!(
                        "drafted the {phase} message again from the live state"
                    )));
                }
                Err(why) => app.view.flash = Some(Flash::warn(why)),
            }
            Vec::new()
        }
        _ => {
            d.regenerate_armed = false;
            d.editor.input(key);
            Vec::new()
        }
    }
}

/// The message step a send of `phase` completes: the one the pane was opened from, else
/// the first message step of that phase not yet done.
fn step_for(app: &App, phase: &str) -> Option<String> {
    // A step behind an unmet gate is not completed by a send: passing a gate takes a
    // typed reason (`d` asks for it), never a side effect.
    let open = |id: &str| {
        app.run.step(id).is_some_and(|st| {
            !st.status.is_settled()
                && st.status != StepStatus::Running
                && (st.override_reason.is_some()
                    || plan::unmet(&app.runbook, &app.run, id).is_empty())
        })
    };
    if let Some(s) = &app.view.message_step
        && app
            .runbook
            .step(s)
            .and_then(|d| d.message.as_ref())
            .map(|m| m.get_ref().as_str())
            == Some(phase)
    {
        return open(s).then(|| s.clone());
    }
    app.runbook
        .steps()
        .map(|(_, s)| s)
        .filter(|s| s.kind() == StepKind::Message)
        .filter(|s| s.message.as_ref().is_some_and(|m| m.get_ref() == phase))
        .find(|s| open(s.id.get_ref()))
        .map(|s| s.id.get_ref().clone())
}

/// `S`: asks before anything goes out.
pub fn send(app: &mut App) -> Vec<Effect> {
    if let Some(err) = &app.view.journal_error {
        app.view.flash = Some(Flash::warn(format!("not saved, so not sent: {err}")));
        return Vec::new();
    }
    if app.run.rehearsal {
        app.view.flash = Some(Flash::info(
            "rehearsal: nothing is sent. ctrl-y in the editor (m) still copies the draft",
        ));
        return Vec::new();
    }
    let phase = shown_phase(app);
    if app.view.sending.is_some() {
        app.view.flash = Some(Flash::info("a message is being sent; wait for its outcome"));
        return Vec::new();
    }
    if app
        .runbook
        .file
        .message
        .as_ref()
        .and_then(|m| m.send.as_ref())
        .is_none()
    {
        app.view.flash = Some(Flash::info(
            "the runbook has no message.send: copy the draft (m, then ctrl-y), send it yourself, then d on the message step marks it sent",
        ));
        return Vec::new();
    }
    let text = match current_text(app, &phase) {
        Ok(t) => t,
        Err(why) => {
            app.view.flash = Some(Flash::warn(why));
            return Vec::new();
        }
    };
    let (subject, body) = draft::parse(&text);
    if subject.trim().is_empty() {
        app.view.flash = Some(Flash::warn(
            "the draft has no subject: its first line is the subject",
        ));
        return Vec::new();
    }
    let step = step_for(app, &phase);
    app.view.dialog = Some(Dialog::new(Purpose::Send {
        phase,
        step,
        subject,
        body,
    }));
    Vec::new()
}

/// The typed answer to the send question.
pub fn confirm_send(
    app: &mut App,
    answer: &str,
    phase: String,
    step: Option<String>,
    subject: String,
    body: String,
) -> Vec<Effect> {
    if !matches!(answer.to_lowercase().as_str(), "y" | "yes") {
        app.view.flash = Some(Flash::info(format!("the {phase} message was not sent")));
        return Vec::new();
    }
    app.view.sending = Some(phase.clone());
    app.view.flash = Some(Flash::info(format!("sending the {phase} message…")));
    vec![Effect::SendMessage {
        phase,
        step,
        subject,
        body,
    }]
}

/// A send ended: journaled either way, with the exact text; a success completes its
/// message step and retires the draft, a failure keeps the draft for another try.
pub fn on_sent(app: &mut App, sent: Sent) -> Vec<Effect> {
    app.view.sending = None;
    let Sent {
        phase,
        step,
        file,
        subject,
        body,
        outcome,
    } = sent;
    let ok = outcome.ok;
    let mut events = vec![Event::MessageSent {
        phase: phase.clone(),
        file: file.clone(),
        exit: outcome.exit,
        ok,
        step: step.clone(),
        subject: subject.clone(),
        body: body.clone(),
        detail: outcome.detail.clone(),
        by_hand: false,
    }];
    if ok {
        if let Some(s) = &step
            && app.run.step(s).is_some_and(|st| !st.status.is_settled())
        {
            events.push(Event::StepDone { step: s.clone() });
        }
        // The draft retires only if it still is what went out: edits typed while the
        // send was in flight are the operator's next message, not litter.
        // Compared as sent (subject trimmed), so a stray space is not an edit.
        let unchanged = app
            .view
            .drafts
            .get(&phase)
            .is_none_or(|d| draft::parse(&d.text()) == (subject.clone(), body.clone()));
        if unchanged {
            app.view.drafts.remove(&phase);
            if app.view.message_phase.as_deref() == Some(phase.as_str()) {
                if app.view.editing {
                    app.view.editing = false;
                }
                app.view.message_phase = None;
                app.view.message_step = None;
            }
        }
        // The step is done either way: the pane must not offer to complete it again.
        if app.view.message_step.is_some() && app.view.message_step == step {
            app.view.message_step = None;
        }
        app.view.flash = Some(Flash::info(format!(
            "sent the {phase} message (saved as messages/{file}){}",
            step.map_or_else(String::new, |s| format!("; `{s}` is done"))
        )));
    } else {
        app.view.flash = Some(Flash::warn(format!(
            "the {phase} message was NOT sent: {}. The draft is kept: S tries again, ctrl-y in the editor copies it",
            outcome
                .detail
                .as_deref()
                .unwrap_or("the send command failed")
        )));
    }
    vec![Effect::Record(events)]
}

/// `d` on a message step: the operator sent it some other way. Journaled as a send by
/// hand so the update cadence and the report count it.
pub fn marked_sent(app: &App, step: &str) -> Vec<Event> {
    let Some(phase) = app
        .runbook
        .step(step)
        .and_then(|s| s.message.as_ref())
        .map(|m| m.get_ref().clone())
    else {
        return Vec::new();
    };
    vec![Event::MessageSent {
        phase,
        file: String::new(),
        exit: None,
        ok: true,
        step: Some(step.to_string()),
        subject: String::new(),
        body: String::new(),
        detail: None,
        by_hand: true,
    }]
}
