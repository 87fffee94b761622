//! The stakeholder message of the moment: drafted live from the run state until the
//! operator opens it in the editor, then their text. The title says which, and whether
//! it was saved or sent, so nobody wonders what went out.

use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui_textarea::WrapMode;
use unicode_width::UnicodeWidthStr;

use super::pane_block;
use super::theme::{Theme, clean};
use crate::app::App;
use crate::app::view::MessageDraft;
use crate::message::{self, draft};
use crate::run::context::format_in;

/// The phase the pane shows: the one opened, else the one the moment calls for.
pub fn phase(app: &App, now: Timestamp) -> String {
    if let Some(p) = &app.view.message_phase {
        return p.clone();
    }
    let at_now = message::phase_now(&app.runbook, &app.run, now);
    // The editor opened the phase of the clock `update` last saw; until a tick brings
    // that clock here, that is the draft being typed into.
    if app.view.editing && !app.view.drafts.contains_key(at_now) {
        let seen = message::phase_now(&app.runbook, &app.run, app.view.now);
        if app.view.drafts.contains_key(seen) {
            return seen.to_string();
        }
    }
    at_now.to_string()
}

/// "live draft", "edited, unsaved", "saved", "sending…", then when it was last sent;
/// the short forms for a narrow pane.
fn state_words(
    app: &App,
    th: Theme,
    phase: &str,
    draft: Option<&MessageDraft>,
    short: bool,
) -> String {
    let mut words: Vec<String> = Vec::new();
    if app.view.sending.as_deref() == Some(phase) {
        words.push(if th.ascii { "sending..." } else { "sending…" }.to_string());
    }
    words.push(
        match (draft, short) {
            (None, false) => "live draft",
            (None, true) => "live",
            (Some(d), false) if d.unsaved() => "edited, unsaved",
            (Some(d), true) if d.unsaved() => "unsaved",
            (Some(d), _) if d.saved.as_deref() == Some(d.text().as_str()) => "saved",
            (Some(_), _) => "draft",
        }
        .to_string(),
    );
    let sent = app
        .run
        .messages
        .iter()
        .filter(|m| m.ok && m.phase == phase)
        .map(|m| m.at)
        .max();
    if let Some(at) = sent {
        words.push(format!(
            "sent {}",
            format_in(at, &app.run.window.timezone, "%H:%M")
        ));
    }
    words.join(th.sep())
}

pub fn render(frame: &mut Frame, app: &App, th: Theme, now: Timestamp, area: Rect, focused: bool) {
    let phase = phase(app, now);
    let opened = app.view.drafts.get(&phase);
    let focused = focused || app.view.editing;
    let title = |short: bool| {
        format!(
            "Message{}{}{}{}",
            th.sep(),
            clean(&phase),
            th.sep(),
            state_words(app, th, &phase, opened, short)
        )
    };
    // The border's corners, the spaces around the title and the focus mark.
    let room = (area.width as usize).saturating_sub(if focused { 6 } else { 4 });
    let full = title(false);
    let title = if full.width() <= room {
        full
    } else {
        title(true)
    };
    let block = pane_block(th, &title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.width == 0 || inner.height == 0 {
        return;
    }

    // What a send does, above the text: the step it completes, a redraft about to
    // replace edits.
    let mut notes: Vec<Line> = Vec::new();
    if let Some(step) = &app.view.message_step {
        notes.push(Line::from(Span::styled(
            format!("sending it completes the step `{}`", clean(step)),
            th.muted(),
        )));
    }
    if opened.is_some_and(|d| d.regenerate_armed) {
        notes.push(Line::from(Span::styled(
            "ctrl-r again replaces your edits with a fresh draft",
            th.warn(),
        )));
    }
    let notes_h = (notes.len() as u16).min(inner.height.saturating_sub(1));
    let [notes_area, text_area] =
        Layout::vertical([Constraint::Length(notes_h), Constraint::Fill(1)]).areas(inner);
    frame.render_widget(Paragraph::new(notes), notes_area);

    match opened {
        // Typing: the editor itself, with its cursor.
        Some(d) if app.view.editing => {
            // A copy, so the pane can set wrapping and the theme's selection style
            // without touching the operator's draft.
            let mut editor = d.editor.clone();
            editor.set_wrap_mode(WrapMode::WordOrGlyph);
            editor.set_selection_style(th.text_selection());
            frame.render_widget(&editor, text_area);
        }
        // Not typing: the draft's text laid out like the live one, wrapped at spaces
        // only (the editor's wrapping would break `22:00` at its colon).
        Some(d) => {
            let (subject, body) = draft::parse(&d.text());
            render_text(frame, th, &subject, &body, text_area);
        }
        None => live::with_draft(app, &phase, now, |drafted| match drafted {
            Ok(d) => render_text(frame, th, &d.subject, &d.body, text_area),
            Err(e) => frame.render_widget(
                Paragraph::new(Span::styled(
                    format!(
                        "the {} message cannot be drafted: {}",
                        clean(&phase),
                        clean(&e.to_string())
                    ),
                    th.bad(),
                ))
                .wrap(Wrap { trim: false }),
                text_area,
            ),
        }),
    }
}

/// The live draft without rendering its templates on every frame.
///
/// A draft is a function of its phase, its two templates and the values of the names
/// those templates read; the rest of the context (`now` to the minute, the downtime to
/// the second, ...) cannot change a letter of it. So the last draft is kept with exactly
/// those inputs, and a frame renders templates only when one of them differs. Nothing
/// outside this module knows: there is no invalidation to forget, and a miss costs what
/// rendering always cost. The inputs are compared, never assumed: two screens on one
/// thread (tests) only take turns missing.
///
/// The memo lives in a thread-local rather than in `App`, because a frame borrows the
/// app immutably and the memo is an implementation detail of this pane: it holds one
/// draft, a few kilobytes.
mod live {
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    use jiff::Timestamp;

    use crate::app::App;
    use crate::message::draft::{self, Draft};
    use crate::run::context::context;
    use crate::runbook::template::{self, TemplateError};

    struct Memo {
        /// The runbook's text (its templates are part of it) and the phase.
        runbook_sha256: String,
        phase: String,
        /// The names the phase's templates read; `None` when they do not parse, and then
        /// nothing is kept (the error is rendered each time, as before).
        reads: BTreeSet<String>,
        /// Their values when `draft` was rendered, in `reads` order.
        values: Vec<Option<String>>,
        /// `None` until the first render.
        draft: Option<Result<Draft, TemplateError>>,
    }

    thread_local! {
        static MEMO: RefCell<Option<Memo>> = const { RefCell::new(None) };
        /// Templates rendered on this thread, so tests can tell a hit from a miss.
        #[cfg(test)]
        pub static RENDERS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }

    fn render(app: &App, phase: &str, now: Timestamp) -> Result<Draft, TemplateError> {
        #[cfg(test)]
        RENDERS.set(RENDERS.get() + 1);
        draft::render(&app.runbook, &app.run, phase, now, &app.operator)
    }

    /// Calls `f` with the live draft of `phase` at `now`.
    pub fn with_draft<R>(
        app: &App,
        phase: &str,
        now: Timestamp,
        f: impl FnOnce(&Result<Draft, TemplateError>) -> R,
    ) -> R {
        let ctx = context(&app.runbook, &app.run, now, &app.operator);
        MEMO.with_borrow_mut(|memo| {
            let same_templates = memo
                .as_ref()
                .is_some_and(|m| m.runbook_sha256 == app.runbook.sha256 && m.phase == phase);
            if !same_templates {
                *memo = reads(app, phase).map(|reads| Memo {
                    runbook_sha256: app.runbook.sha256.clone(),
                    phase: phase.to_string(),
                    reads,
                    values: Vec::new(),
                    draft: None,
                });
            }
            let Some(m) = memo.as_mut() else {
                return f(&render(app, phase, now));
            };
            let unchanged = m.draft.is_some()
                && m.reads
                    .iter()
                    .zip(&m.values)
                    .all(|(name, v)| ctx.get(name) == v.as_ref());
            let drafted = match &mut m.draft {
                Some(d) if unchanged => d,
                slot => {
                    m.values = m.reads.iter().map(|name| ctx.get(name).cloned()).collect();
                    slot.insert(render(app, phase, now))
                }
            };
            f(drafted)
        })
    }

    /// The names the subject and body of `phase` read, or `None` when either does not
    /// parse (or the phase has no templates).
    fn reads(app: &App, phase: &str) -> Option<BTreeSet<String>> {
        let (subject, body) = draft::templates(&app.runbook, phase)?;
        let mut names = template::undeclared(&subject).ok()?;
        names.extend(template::undeclared(&body).ok()?);
        Some(names)
    }
}

/// The subject line first, then the body, wrapped.
fn render_text(frame: &mut Frame, th: Theme, subject: &str, body: &str, area: Rect) {
    let mut lines = vec![
        Line::from(vec![
            Span::styled("Subject: ", th.muted()),
            Span::styled(clean(subject), th.heading()),
        ]),
        Line::default(),
    ];
    lines.extend(body.lines().map(|l| Line::from(clean(l))));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

#[cfg(test)]
mod tests {
    use jiff::{SignedDuration, Timestamp};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::live::RENDERS;
    use crate::app::App;
    use crate::runbook::Runbook;
    use crate::session::{Event, Record, WindowSpec};

    fn book(body: &str) -> Runbook {
        let source = format!(
            r#"
[runbook]
title = "Memo"

[window]
duration = "4h"

[message.during]
subject = "Update"
body = "{body}"

[[phase]]
id = "p"
title = "P"

[[phase.step]]
id = "a"
title = "A"

[[phase.step]]
id = "b"
title = "B"
"#
        );
        Runbook::parse("memo.toml", &source).unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn record(seq: u64, at: &str, event: Event) -> Record {
        Record {
            seq,
            at: ts(at),
            by: "x@y".into(),
            event,
        }
    }

    fn app(body: &str, session: &str) -> App {
        let rb = book(body);
        let started = record(
            1,
            "2026-01-01T10:00:00Z",
            Event::SessionStarted {
                session: session.into(),
                runbook_path: "memo.toml".into(),
                runbook_sha256: rb.sha256.clone(),
                vars: Default::default(),
                window: WindowSpec {
                    start: ts("2026-01-01T10:00:00Z"),
                    end: ts("2026-01-01T14:00:00Z"),
                    timezone: "UTC".into(),
                },
                cutover_version: "t".into(),
                rehearsal: false,
            },
        );
        App::new(rb, &[started], "x@y".into(), true, true)
    }

    /// The message pane alone, as text.
    fn pane(app: &App, now: Timestamp) -> String {
        let mut t = Terminal::new(TestBackend::new(60, 12)).unwrap();
        t.draw(|f| super::render(f, app, crate::ui::theme(app), now, f.area(), false))
            .unwrap();
        let buf = t.backend().buffer();
        (0..buf.area.height)
            .map(|y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_live_draft_follows_every_change_it_reads_and_only_those() {
        let t0 = ts("2026-01-01T10:30:00Z");
        let mut a = app("{{ steps_done }} done at {{ now }}", "s-a");
        let renders = || RENDERS.get();
        let start = renders();
        assert!(pane(&a, t0).contains("0 done at 2026-01-01 10:30 UTC"));
        // Seconds later nothing it reads has changed: no template is rendered.
        let t1 = t0 + SignedDuration::from_secs(20);
        assert!(pane(&a, t1).contains("0 done at 2026-01-01 10:30 UTC"));
        assert_eq!(
            renders() - start,
            1,
            "a frame without changes renders nothing"
        );
        // A journaled step: the draft says so at once, at the same clock.
        a.apply(&record(
            2,
            "2026-01-01T10:30:10Z",
            Event::StepDone { step: "a".into() },
        ));
        assert!(pane(&a, t1).contains("1 done at 2026-01-01 10:30 UTC"));
        // The minute it shows turns.
        let t2 = t0 + SignedDuration::from_secs(60);
        assert!(pane(&a, t2).contains("1 done at 2026-01-01 10:31 UTC"));
        assert_eq!(renders() - start, 3);

        // Another screen on the same thread, another runbook: each sees its own draft.
        let b = app("{{ operator }} writes", "s-b");
        assert!(pane(&b, t2).contains("x@y writes"));
        assert!(pane(&a, t2).contains("1 done at 2026-01-01 10:31 UTC"));
        assert!(pane(&b, t2).contains("x@y writes"));
    }

    #[test]
    fn a_draft_that_cannot_render_says_so_each_time() {
        let t0 = ts("2026-01-01T10:30:00Z");
        let a = app("{{ steps_done + 1 }}", "s-c");
        for _ in 0..2 {
            assert!(pane(&a, t0).contains("cannot be drafted"));
        }
    }
}
