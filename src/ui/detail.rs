//! The selected step in full: what it is, why it is blocked, the callout, its notes.

use jiff::Timestamp;

use crate::app::Action;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::theme::{Theme, clean};
use super::{hms, pane_block};
use crate::app::App;
use crate::run::context::{context, local_time};
use crate::run::{StepStatus, plan};
use crate::runbook::template;

/// Order matters on a small pane: state, gate and callout first, then what people
/// wrote (notes) and where to read (links), then the runbook's long text and command.
pub fn render(frame: &mut Frame, app: &App, th: Theme, now: Timestamp, area: Rect, focused: bool) {
    let Some(state) = app.run.steps.get(app.view.selected) else {
        frame.render_widget(pane_block(th, "Step", focused), area);
        return;
    };
    let Some(step) = app.runbook.step(&state.id) else {
        return;
    };
    let title = format!(
        "Step{}{}{}{}",
        th.sep(),
        state.id,
        th.sep(),
        step.kind().word()
    );
    let block = pane_block(th, &title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);

    // The template context is built only when the selected step's text has a template
    // in it: most do not, and this runs on every frame.
    let ctx = std::cell::OnceCell::new();
    // A template that fails to render is shown raw: the screen must never go blank
    // because of a runbook typo the validator let through.
    let render_text = |t: &str| {
        if !t.contains("{{") && !t.contains("{%") {
            return t.to_string();
        }
        let ctx = ctx.get_or_init(|| context(&app.runbook, &app.run, now, &app.operator));
        template::render(t, ctx).unwrap_or_else(|_| t.to_string())
    };
    let status = plan::status(&app.runbook, &app.run, &state.id);
    let tz = app.run.window.timezone.as_str();

    let mut lines: Vec<Line> = Vec::new();
    let mut head = vec![
        Span::styled(th.step_glyph(status).to_string(), th.step_style(status)),
        Span::raw(" "),
        Span::styled(clean(&step.title), th.heading()),
        Span::styled(format!("  {}", status.word()), th.step_style(status)),
    ];
    if state.attempts > 0 {
        head.push(Span::raw(format!(", attempt {}", state.attempts)));
    }
    if let Some(est) = crate::runbook::estimate::step_estimate(&app.runbook.file, step) {
        head.push(Span::styled(format!(", estimate {est}"), th.muted()));
    }
    lines.push(Line::from(head));

    // The latest run first: on a small pane, how the command ended matters most.
    if let Some(a) = state.history.last() {
        let took = match a.finished_at {
            Some(f) => hms(f.duration_since(a.started_at)),
            // An interrupted run has no end to count to.
            None if a.interrupted => "end not seen".to_string(),
            None => format!("{} so far", hms(now.duration_since(a.started_at))),
        };
        let style = match status {
            StepStatus::Failed | StepStatus::Interrupted => th.bad(),
            StepStatus::Running => th.active(),
            _ => th.ok(),
        };
        lines.push(Line::from(Span::styled(
            format!(
                "attempt {}: {} · started {} · {took}",
                a.attempt,
                clean(&a.outcome()),
                local_time(a.started_at, tz)
            ),
            style,
        )));
        if status == StepStatus::Interrupted {
            let what = if app.watching.is_some() {
                "its outcome is unknown: the driver runs it again or marks it done or failed"
                    .to_string()
            } else {
                format!(
                    "its outcome is unknown: {} runs it again, {} marks it done, {} marks it failed",
                    app.key(Action::Rerun),
                    app.key(Action::Done),
                    app.key(Action::MarkFailed)
                )
            };
            lines.push(Line::from(Span::styled(what, th.warn())));
        }
    }
    if let Some(reason) = &state.failed_reason {
        lines.push(Line::from(Span::styled(
            format!("marked failed: {}", clean(reason)),
            th.bad(),
        )));
    }
    if step.confirm && matches!(status, StepStatus::Pending | StepStatus::Blocked) {
        lines.push(Line::from(Span::styled(
            "asks you to type its id before it starts",
            th.muted(),
        )));
    }

    if status == StepStatus::Blocked {
        let unmet = plan::unmet(&app.runbook, &app.run, &state.id);
        let named: Vec<String> = unmet
            .iter()
            .map(|id| {
                let word = app.run.step(id).map_or("unknown", |s| s.status.word());
                format!("{id} ({word})")
            })
            .collect();
        lines.push(Line::from(Span::styled(
            format!(
                "blocked: needs {} first; d asks a reason to override",
                named.join(", ")
            ),
            th.warn(),
        )));
    }
    if let Some(reason) = &state.override_reason {
        lines.push(Line::from(Span::styled(
            format!("gate overridden: {}", clean(reason)),
            th.warn(),
        )));
    }
    if let Some(reason) = &state.skip_reason {
        lines.push(Line::from(Span::styled(
            format!("skipped: {}", clean(reason)),
            th.muted(),
        )));
    }
    if let Some(important) = &step.important {
        let mark = if th.ascii {
            "!! IMPORTANT:"
        } else {
            "⚑ IMPORTANT:"
        };
        lines.push(Line::from(vec![
            Span::styled(mark, th.warn()),
            Span::raw(" "),
            Span::styled(
                clean(&one_line(&render_text(important.get_ref()))),
                th.warn(),
            ),
        ]));
    }
    if step.notes_required && state.notes.is_empty() {
        lines.push(Line::from(Span::styled(
            "a note is required to complete this step",
            th.muted(),
        )));
    }
    for note in &state.notes {
        lines.push(Line::from(vec![
            Span::styled(
                format!("note {} {}: ", local_time(note.at, tz), clean(&note.by)),
                th.muted(),
            ),
            Span::raw(clean(&note.text)),
        ]));
    }
    for link in &step.links {
        lines.push(Line::from(Span::styled(
            format!("link: {}", clean(link)),
            th.active(),
        )));
    }
    if step.backups.is_some() {
        let names: Vec<String> = step
            .backup_ids()
            .into_iter()
            .map(|id| {
                let title = app.runbook.backup(id).map_or(id, |b| b.title.as_str());
                let word = app.run.backup(id).map_or("unknown", |b| b.status.word());
                format!("{} ({word})", clean(title))
            })
            .collect();
        lines.push(Line::from(format!("backups: {}", names.join(", "))));
    }
    if let Some(phase) = &step.message {
        lines.push(Line::from(format!(
            "message: the `{}` stakeholder message",
            clean(phase.get_ref())
        )));
    }
    if let Some(detail) = &step.detail {
        for l in render_text(detail.get_ref()).lines() {
            lines.push(Line::from(clean(l)));
        }
    }
    if let Some(run) = &step.run {
        lines.push(Line::from(Span::styled("command:", th.muted())));
        for l in clean_lines(run.get_ref()) {
            lines.push(Line::from(Span::styled(format!("  {l}"), th.active())));
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// A callout reads as one paragraph however the runbook wrapped it.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn clean_lines(text: &str) -> Vec<String> {
    text.lines().map(clean).collect()
}
