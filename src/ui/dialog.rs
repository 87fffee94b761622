//! The text dialog for reasons and notes.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::pane_block;
use super::theme::{Theme, clean};
use crate::app::App;
use crate::app::view::{Dialog, Purpose};

fn wording(app: &App, p: &Purpose) -> (String, String) {
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
    }
}

pub fn render(frame: &mut Frame, app: &App, th: Theme, dialog: &Dialog, area: Rect) {
    let (title, prompt) = wording(app, &dialog.purpose);
    let width = 70.min(area.width);
    let height = 9.min(area.height);
    let rect = area.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, rect);
    let block = pane_block(th, &clean(&title), true);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let [prompt_area, editor_area, help_area] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(
        Paragraph::new(clean(&prompt)).wrap(Wrap { trim: true }),
        prompt_area,
    );
    frame.render_widget(&dialog.editor, editor_area);
    frame.render_widget(
        Line::from(Span::styled("enter confirm · ctrl-g cancel", th.muted())),
        help_area,
    );
}
