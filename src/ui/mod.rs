//! Drawing: a function of the app and the clock, nothing else. One file per pane.

pub mod backups;
pub mod checklist;
pub mod detail;
pub mod dialog;
pub mod help;
pub mod message;
pub mod output;
pub mod theme;
pub mod timeline;
pub mod window;

use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Padding, Paragraph, Wrap};

use crate::app::{Action, App, Pane};
use theme::{Theme, clean};
use unicode_width::UnicodeWidthStr;

/// Below this the layout cannot say anything useful; a notice replaces it.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 10;
/// From this size on the panes sit side by side.
const WIDE_WIDTH: u16 = 100;
const WIDE_HEIGHT: u16 = 30;

pub fn theme(app: &App) -> Theme {
    Theme::new(app.view.no_color, app.view.ascii).with_truecolor(app.view.truecolor)
}

pub fn render(frame: &mut Frame, app: &App, now: Timestamp) {
    let area = frame.area();
    let th = theme(app);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "Terminal too small: need {MIN_WIDTH}x{MIN_HEIGHT}, have {}x{}. Enlarge it, or press q to quit (the session stays resumable).",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let [header, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(frame, app, th, header);
    render_status(frame, app, th, status);

    if app.view.timeline {
        timeline::render(frame, app, th, now, body);
    } else if area.width >= WIDE_WIDTH && area.height >= WIDE_HEIGHT {
        // The editor takes more of the bottom row while the operator writes in it.
        let out_h = if app.view.editing {
            (body.height / 2).clamp(8, 24)
        } else {
            (body.height / 3).clamp(6, 16)
        };
        let [top, bottom] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(out_h)]).areas(body);
        let columns = [Constraint::Percentage(58), Constraint::Percentage(42)];
        let [left, right] = Layout::horizontal(columns).areas(top);
        let detail_h = (left.height / 3).clamp(8, 14);
        let [list, detail] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(detail_h)]).areas(left);
        let [win, backups] =
            Layout::vertical([Constraint::Length(window::WIDE_HEIGHT), Constraint::Fill(1)])
                .areas(right);
        let [out, msg] = Layout::horizontal(columns).areas(bottom);
        checklist::render(frame, app, th, now, list, app.view.focus == Pane::Checklist);
        detail::render(frame, app, th, now, detail, app.view.focus == Pane::Detail);
        window::render(frame, app, th, now, win, false);
        backups::render(
            frame,
            app,
            th,
            now,
            backups,
            app.view.focus == Pane::Backups,
        );
        output::render(frame, app, th, out, app.view.focus == Pane::Output);
        message::render(frame, app, th, now, msg, app.view.focus == Pane::Message);
    } else {
        // One column: the window and the checklist always; the focused other pane
        // below when there is room, in place of the checklist when there is not.
        let [win, rest] = Layout::vertical([
            Constraint::Length(window::COMPACT_HEIGHT),
            Constraint::Fill(1),
        ])
        .areas(body);
        window::render(frame, app, th, now, win, true);
        // With the checklist focused, a running step shows its output; once it ends,
        // the step pane says how and what next (`tab` reaches the output).
        let second = match app.view.focus {
            _ if app.view.editing => Pane::Message,
            Pane::Backups => Pane::Backups,
            Pane::Output => Pane::Output,
            Pane::Message => Pane::Message,
            Pane::Checklist if app.shown_task().is_some_and(|t| app.is_running(&t)) => Pane::Output,
            _ => Pane::Detail,
        };
        if rest.height >= 16 {
            // Writing a message needs more lines than reading a pane.
            let below_h = if app.view.editing {
                rest.height * 2 / 3
            } else {
                rest.height / 2 - 1
            };
            let [list, below] =
                Layout::vertical([Constraint::Fill(1), Constraint::Length(below_h)]).areas(rest);
            checklist::render(frame, app, th, now, list, app.view.focus == Pane::Checklist);
            render_pane(frame, app, th, now, second, below);
        } else if app.view.focus == Pane::Checklist && !app.view.editing {
            checklist::render(frame, app, th, now, rest, true);
        } else {
            render_pane(frame, app, th, now, second, rest);
        }
    }

    if app.view.help {
        help::render(frame, app, th, area);
    }
    if let Some(d) = &app.view.dialog {
        dialog::render(frame, app, th, now, d, area);
    }
}

fn render_pane(frame: &mut Frame, app: &App, th: Theme, now: Timestamp, pane: Pane, area: Rect) {
    let focused = app.view.focus == pane;
    match pane {
        Pane::Checklist => checklist::render(frame, app, th, now, area, focused),
        Pane::Detail => detail::render(frame, app, th, now, area, focused),
        Pane::Backups => backups::render(frame, app, th, now, area, focused),
        Pane::Output => output::render(frame, app, th, area, focused),
        Pane::Message => message::render(frame, app, th, now, area, focused),
    }
}

/// A bordered pane with its title; focus shows in the border and in a `*` marker, so it
/// is visible without colour.
pub fn pane_block(th: Theme, title: &str, focused: bool) -> Block<'static> {
    let title = if focused {
        format!(" {title} * ")
    } else {
        format!(" {title} ")
    };
    Block::default()
        .borders(Borders::ALL)
        .padding(Padding::horizontal(1))
        .border_style(th.border(focused))
        .title(Span::styled(title, th.border(focused)))
}

fn render_header(frame: &mut Frame, app: &App, th: Theme, area: Rect) {
    let width = area.width as usize;
    // Watching, the name that matters is the driver's: who is acting on the session.
    // The leading space keeps it apart from a title cut short on its left.
    let right = match &app.watching {
        None => format!(" {} ", app.operator),
        Some(w) if w.stopped.is_some() => " not following ".to_string(),
        Some(w) => match &w.driver {
            Some(d) => format!(" driven by {} ", clean(&driver_name(d))),
            None => " nobody drives it now ".to_string(),
        },
    };
    // Pieces in order of importance: each is added only if it still fits, so a narrow
    // terminal loses the session id before it loses the versions.
    let mut pieces: Vec<(u8, Span<'static>)> = vec![
        (0, Span::styled(" cutover", th.heading())),
        (0, Span::raw(th.sep())),
    ];
    if app.watching.is_some() {
        // First, so it is never the piece a narrow terminal loses.
        pieces.push((0, Span::styled("WATCHING (read-only)", th.warn())));
        pieces.push((0, Span::raw(th.sep())));
    }
    pieces.extend([(0, Span::styled(clean(app.runbook.title()), th.heading()))]);
    if app.run.rehearsal {
        // A word, not a colour: it must read the same on a monochrome terminal.
        pieces.push((0, Span::raw(th.sep())));
        pieces.push((0, Span::styled("REHEARSAL", th.heading())));
    }
    if let (Some(from), Some(to)) = (
        app.run.vars.get("FROM_VERSION"),
        app.run.vars.get("TO_VERSION"),
    ) {
        let arrow = if th.ascii { "->" } else { "→" };
        pieces.push((
            1,
            Span::raw(format!(" {} {arrow} {}", clean(from), clean(to))),
        ));
    }
    if let Some(env) = app.run.vars.get("ENVIRONMENT") {
        pieces.push((2, Span::raw(format!("{}{}", th.sep(), clean(env)))));
    }
    pieces.push((
        3,
        Span::styled(
            format!("{}session {}", th.sep(), clean(&app.run.session)),
            th.muted(),
        ),
    ));
    let mut left: Vec<Span> = Vec::new();
    let mut used = right.width() + 1;
    for (rank, span) in pieces {
        let w = span.width();
        if rank > 0 && used + w > width {
            continue;
        }
        used += w;
        left.push(span);
    }
    let [l, r] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(right.width() as u16),
    ])
    .areas(area);
    frame.render_widget(Line::from(left), l);
    frame.render_widget(Line::from(right).right_aligned(), r);
}

/// `alice@jump1 (pid 4242)` from the lock's `alice@jump1, pid 4242, since …`.
fn driver_name(lock: &str) -> String {
    let mut parts = lock.split(',').map(str::trim);
    let who = parts.next().unwrap_or(lock);
    match parts.find(|p| p.starts_with("pid ")) {
        Some(pid) => format!("{who} ({pid})"),
        None => who.to_string(),
    }
}

fn render_status(frame: &mut Frame, app: &App, th: Theme, area: Rect) {
    let stopped = app.watching.as_ref().and_then(|w| w.stopped.as_ref());
    let (saved, saved_style) = match (&app.view.journal_error, &app.watching) {
        // A watcher saves nothing: it says how far it has read.
        (_, Some(_)) if stopped.is_some() => (
            " NOT FOLLOWING ".to_string(),
            th.bad().add_modifier(ratatui::style::Modifier::REVERSED),
        ),
        (_, Some(_)) => (format!(" read #{} ", app.run.last_seq), th.ok()),
        // The last number that is on disk stays in sight: it is what a resume brings back.
        (Some(_), None) => (
            format!(" NOT SAVED after #{} ", app.run.last_seq),
            th.bad().add_modifier(ratatui::style::Modifier::REVERSED),
        ),
        (None, None) => (format!(" saved #{} ", app.run.last_seq), th.ok()),
    };
    let [l, r] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(saved.chars().count() as u16),
    ])
    .areas(area);
    let left = match (&app.view.journal_error, &app.view.flash) {
        (_, None) if let Some(why) = stopped => Line::from(Span::styled(
            format!(" NOT FOLLOWING: {}", clean(why)),
            th.bad(),
        )),
        (Some(err), _) => Line::from(Span::styled(
            format!(
                " STATE NOT SAVED: {} · actions are refused until it can be written (retried every second)",
                clean(err)
            ),
            th.bad(),
        )),
        (None, Some(f)) => Line::from(Span::styled(
            format!(" {}", clean(&f.text)),
            if f.warn { th.warn() } else { th.active() },
        )),
        (None, None) => hints(app, th, l.width as usize),
    };
    frame.render_widget(left, l);
    frame.render_widget(Line::from(Span::styled(saved, saved_style)), r);
}

/// One key hint: the action's first key (or a pair, for scrolling) and a short label.
struct Hint {
    action: Action,
    keys: Option<String>,
    label: &'static str,
}

impl Hint {
    fn of(action: Action) -> Hint {
        Hint {
            action,
            keys: None,
            label: action.hint(),
        }
    }

    fn labelled(action: Action, label: &'static str) -> Hint {
        Hint {
            action,
            keys: None,
            label,
        }
    }
}

/// The hints that fit the moment, most needed first.
fn hint_order(app: &App) -> (Vec<Hint>, Vec<Action>) {
    use crate::run::{StepStatus, plan};
    use crate::runbook::StepKind;
    let key = |a: Action| {
        app.keymap
            .keys_for(a)
            .into_iter()
            .next()
            .map(|k| k.to_string())
    };
    if app.watching.is_some() && !app.view.timeline {
        return (
            vec![
                Hint::labelled(Action::Down, "select"),
                Hint::of(Action::FocusNext),
                Hint::of(Action::OpenLog),
                Hint::of(Action::ScrollUp),
                Hint::of(Action::Timeline),
                Hint::of(Action::Help),
                Hint::of(Action::Quit),
            ],
            vec![
                Action::ScrollUp,
                Action::OpenLog,
                Action::Timeline,
                Action::FocusNext,
                Action::Down,
                Action::Help,
            ],
        );
    }
    if app.view.editing {
        return (
            vec![
                Hint::of(Action::SaveMessage),
                Hint::of(Action::CopyMessage),
                Hint::of(Action::RegenerateMessage),
                Hint::of(Action::LeaveEditor),
                Hint::labelled(Action::Send, "sends after leaving"),
            ],
            vec![Action::RegenerateMessage, Action::Send, Action::CopyMessage],
        );
    }
    if app.view.timeline {
        let scroll = match (key(Action::Down), key(Action::Up)) {
            (Some(d), Some(u)) => Some(format!("{d}/{u}")),
            (d, u) => d.or(u),
        };
        return (
            vec![
                Hint::labelled(Action::Timeline, "close"),
                Hint {
                    action: Action::Down,
                    keys: scroll,
                    label: "scroll",
                },
                Hint::of(Action::Help),
                Hint::of(Action::Quit),
            ],
            vec![Action::Down, Action::Help],
        );
    }
    // The keys that matter for the selected step come first.
    let selected = app.run.steps.get(app.view.selected);
    let status = selected.map(|s| plan::status(&app.runbook, &app.run, &s.id));
    let message_step = selected
        .and_then(|s| app.runbook.step(&s.id))
        .is_some_and(|d| d.kind() == StepKind::Message);
    let mut order: Vec<Hint> = if app.view.focus == Pane::Message {
        vec![
            Hint::labelled(Action::Message, "edit"),
            Hint::of(Action::Send),
        ]
    } else {
        match status {
            Some(StepStatus::Running) => vec![
                Hint::of(Action::Cancel),
                Hint::of(Action::OpenLog),
                Hint::of(Action::ScrollUp),
                Hint::of(Action::Note),
            ],
            Some(StepStatus::Failed) => vec![
                Hint::of(Action::Rerun),
                Hint::of(Action::OpenLog),
                Hint::of(Action::Done),
                Hint::of(Action::Reopen),
                Hint::of(Action::Note),
            ],
            Some(StepStatus::Interrupted) => vec![
                Hint::of(Action::Rerun),
                Hint::of(Action::Done),
                Hint::of(Action::MarkFailed),
                Hint::of(Action::OpenLog),
            ],
            _ if message_step => vec![
                Hint::labelled(Action::Act, "open message"),
                Hint::of(Action::Send),
                Hint::of(Action::Done),
                Hint::of(Action::Skip),
                Hint::of(Action::Note),
            ],
            _ => vec![
                Hint::of(Action::Act),
                Hint::of(Action::Done),
                Hint::of(Action::Skip),
                Hint::of(Action::Note),
                Hint::of(Action::Reopen),
            ],
        }
    };
    if !message_step && app.view.focus != Pane::Message {
        order.push(Hint::of(Action::Message));
    }
    order.push(Hint::of(Action::Timeline));
    if app.run.finished.is_none() {
        order.push(Hint::of(Action::Extend));
        if app.run.rollback_started.is_none() {
            order.push(Hint::of(Action::Rollback));
        }
    }
    order.extend([
        Hint::of(Action::FocusNext),
        Hint::of(Action::Help),
        Hint::of(Action::Quit),
    ]);
    // Dropped first when the line is too narrow; `help` and `quit` go last. On a
    // message step, opening and sending the message outlast the rest.
    let mut drop_first = vec![
        Action::Rollback,
        Action::Extend,
        Action::Timeline,
        Action::Message,
        Action::FocusNext,
        Action::ScrollUp,
        Action::Reopen,
        Action::Act,
        Action::Note,
        Action::OpenLog,
        Action::Skip,
        Action::MarkFailed,
        Action::Done,
        Action::Rerun,
        Action::Cancel,
        Action::Send,
        Action::Help,
    ];
    if message_step {
        drop_first.retain(|a| *a != Action::Act && *a != Action::Send);
        let help = drop_first.len() - 1;
        drop_first.splice(help..help, [Action::Send, Action::Act]);
    }
    (order, drop_first)
}

/// Key hints, as many as fit; the least needed go first so `help` and `quit` stay.
fn hints(app: &App, th: Theme, width: usize) -> Line<'static> {
    let (mut shown, drop_first) = hint_order(app);
    let label = |h: &Hint| -> Option<(String, String)> {
        let key = match &h.keys {
            Some(k) => k.clone(),
            None => app
                .keymap
                .keys_for(h.action)
                .into_iter()
                .next()?
                .to_string(),
        };
        let key = match key.as_str() {
            "enter" if !th.ascii => "⏎".to_string(),
            k => k.to_string(),
        };
        Some((key, format!(" {}  ", h.label)))
    };
    let total = |shown: &[Hint]| -> usize {
        1 + shown
            .iter()
            .filter_map(label)
            .map(|(k, h)| k.width() + h.width())
            .sum::<usize>()
    };
    for a in drop_first {
        if total(&shown) <= width {
            break;
        }
        shown.retain(|x| x.action != a);
    }
    let mut spans = vec![Span::raw(" ")];
    for (key, hint) in shown.iter().filter_map(label) {
        spans.push(Span::styled(key, th.heading()));
        spans.push(Span::styled(hint, Style::default()));
    }
    Line::from(spans)
}

/// `01:47:12` for a span of time (negative spans are shown by their size; the words
/// around them say which way).
pub fn hms(d: jiff::SignedDuration) -> String {
    let secs = d.as_secs().unsigned_abs();
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}
