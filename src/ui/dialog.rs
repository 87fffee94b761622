//! The text dialog for reasons, notes and confirmations.

use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use unicode_width::UnicodeWidthStr;

use super::checklist::fit;
use super::pane_block;
use super::theme::{Theme, clean};
use crate::app::App;
use crate::app::view::{Dialog, Purpose};
use crate::run::context::format_in;
use crate::run::window;

fn hhmm(ts: Timestamp, tz: &str) -> String {
    format_in(ts, tz, "%H:%M")
}

fn wording(app: &App, p: &Purpose, now: Timestamp) -> (String, String) {
    match p {
        Purpose::Skip { step } => (
            format!("Skip {step}"),
            "Why is this step skipped? The reason is saved in the journal.".into(),
        ),
        Purpose::Note { step } => (format!("Note on {step}"), "Type the note.".into()),
        Purpose::NoteToComplete { step } => (
            format!("Complete {step}"),
            "This step needs a note to be marked done: what was checked, what was seen?".into(),
        ),
        Purpose::Override { step, unmet } => (
            format!("Override the gate of {step}"),
            format!(
                "{step} needs {} done first. To mark it done anyway, type why.",
                unmet.join(", ")
            ),
        ),
        Purpose::OverrideStart { step, unmet } => (
            format!("Override the gate of {step}"),
            format!(
                "{step} needs {} done first. To run it anyway, type why.",
                unmet.join(", ")
            ),
        ),
        Purpose::ConfirmStart { step, .. } => (
            format!("Start {step}"),
            if app
                .run
                .step(step)
                .and_then(|s| s.history.last())
                .is_some_and(|a| a.interrupted || a.finished_at.is_none())
            {
                format!(
                    "Its last run was interrupted and may have done part of its work. \
                     To run it again anyway, type its id, {step}, then enter."
                )
            } else {
                format!(
                    "This step asks for confirmation. Type its id, {step}, then enter to start it."
                )
            },
        ),
        Purpose::Cancel { step } => (
            format!("Cancel {step}"),
            format!(
                "Stop what {step} runs: SIGTERM to its process group, then SIGKILL after \
                 the grace period? Type y and enter."
            ),
        ),
        Purpose::DoneAnyway { step, why } => (
            format!("Mark {step} done"),
            format!("{why}. To mark it done anyway, type why (saved as a note)."),
        ),
        Purpose::MarkFailed { step } => (
            format!("Mark {step} failed"),
            "Its outcome is unknown. Why do you decide it failed? The reason is saved.".into(),
        ),
        Purpose::ExtendBy => {
            let ws = window::status(&app.runbook, &app.run, now);
            (
                "Extend the window".into(),
                format!(
                    "It ends {} (go/no-go {}). Extend by how long? e.g. 30m or 1h15m, then enter.",
                    hhmm(ws.end, &ws.timezone),
                    hhmm(ws.go_no_go, &ws.timezone)
                ),
            )
        }
        Purpose::ExtendReason { by } => {
            let ws = window::status(&app.runbook, &app.run, now);
            let end = ws.end.checked_add(by.signed()).unwrap_or(ws.end);
            (
                format!("Extend the window by {by}"),
                format!(
                    "It would end {} instead of {}. Why? The reason is saved in the journal and goes into the report.",
                    hhmm(end, &ws.timezone),
                    hhmm(ws.end, &ws.timezone)
                ),
            )
        }
        Purpose::Rollback => {
            let ws = window::status(&app.runbook, &app.run, now);
            (
                "Start the rollback".into(),
                format!(
                    "The checklist moves to the rollback steps (estimated {}) and the window, ending {}, is measured against them. Type why.",
                    ws.reserve,
                    hhmm(ws.end, &ws.timezone)
                ),
            )
        }
        Purpose::Send { phase, .. } => (
            format!("Send the {phase} message"),
            "Send this through message.send now? Type y and enter.".into(),
        ),
    }
}

/// Lines `text` takes wrapped at word boundaries in `width` columns.
fn wrapped_height(text: &str, width: usize) -> u16 {
    if width == 0 {
        return 1;
    }
    let mut lines = 1u16;
    let mut used = 0usize;
    for word in text.split_whitespace() {
        let w = word.width();
        if used > 0 && used + 1 + w > width {
            lines = lines.saturating_add(1);
            used = 0;
        }
        used += if used > 0 { 1 + w } else { w };
        // A word longer than the line is broken, taking as many lines as it needs.
        while used > width {
            lines = lines.saturating_add(1);
            used -= width;
        }
    }
    lines
}

/// Lines of the message body shown before a send.
const BODY_LINES: usize = 4;

/// What a send would put out, and how: the subject, the start of the body, the command,
/// and the step it completes.
fn send_preview(
    app: &App,
    th: Theme,
    width: usize,
    step: Option<&str>,
    subject: &str,
    body: &str,
) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(vec![
        Span::styled("Subject: ", th.muted()),
        Span::styled(fit(&clean(subject), width.saturating_sub(9)), th.heading()),
    ])];
    // Blank lines say nothing in a preview this short.
    let body: Vec<&str> = body.lines().filter(|l| !l.trim().is_empty()).collect();
    for l in body.iter().take(BODY_LINES) {
        lines.push(Line::from(format!(
            "  {}",
            fit(&clean(l), width.saturating_sub(2))
        )));
    }
    if body.len() > BODY_LINES {
        lines.push(Line::from(Span::styled(
            format!("  … {} more lines", body.len() - BODY_LINES),
            th.muted(),
        )));
    }
    let command = app
        .runbook
        .file
        .message
        .as_ref()
        .and_then(|m| m.send.as_ref());
    lines.push(Line::from(match command {
        Some(c) => {
            // A command over several lines shows its first, marked as continuing.
            let mut text = clean(c.lines().next().unwrap_or_default());
            if c.trim_end().lines().count() > 1 {
                text.push_str(" …");
            }
            vec![
                Span::styled("runs: ", th.muted()),
                Span::styled(fit(&text, width.saturating_sub(6)), th.active()),
            ]
        }
        None => vec![Span::styled(
            "the runbook has no message.send: nothing would run",
            th.warn(),
        )],
    }));
    if let Some(s) = step {
        lines.push(Line::from(Span::styled(
            format!("once sent, the step `{}` is done", clean(s)),
            th.muted(),
        )));
    }
    lines
}

pub fn render(
    frame: &mut Frame,
    app: &App,
    th: Theme,
    now: Timestamp,
    dialog: &Dialog,
    area: Rect,
) {
    let (title, prompt) = wording(app, &dialog.purpose, now);
    let width = 70.min(area.width);
    let preview = match &dialog.purpose {
        Purpose::Send {
            step,
            subject,
            body,
            ..
        } => send_preview(
            app,
            th,
            width.saturating_sub(4) as usize,
            step.as_deref(),
            subject,
            body,
        ),
        _ => Vec::new(),
    };
    // Borders and padding take four columns; the prompt gets the lines it wraps to.
    let prompt_h = wrapped_height(&clean(&prompt), width.saturating_sub(4) as usize).max(2);
    let height = (7 + prompt_h + preview.len() as u16).min(area.height);
    let rect = area.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, rect);
    let block = pane_block(th, &clean(&title), true);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let [prompt_area, preview_area, editor_area, help_area] = Layout::vertical([
        Constraint::Length(prompt_h),
        Constraint::Length(preview.len() as u16),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(
        Paragraph::new(clean(&prompt)).wrap(Wrap { trim: true }),
        prompt_area,
    );
    frame.render_widget(Paragraph::new(preview), preview_area);
    // A copy, so the selection takes the theme's style without touching the dialog.
    let mut editor = dialog.editor.clone();
    editor.set_selection_style(th.text_selection());
    frame.render_widget(&editor, editor_area);
    frame.render_widget(
        Line::from(Span::styled("enter confirm · ctrl-g cancel", th.muted())),
        help_area,
    );
}
