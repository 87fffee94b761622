//! The help overlay, generated from the keymap that dispatches keys.
//!
//! Opposite actions share a line (`k/j ↑/↓  select the previous / next step`) and, when
//! the terminal is short, the editor's own keys share one too, so the whole table fits
//! 80x24 without scrolling: help is read under pressure, one glance must do.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use unicode_width::UnicodeWidthStr;

use super::theme::Theme;
use crate::app::keymap::KeyChord;
use crate::app::{Action, App};

/// Columns for the keys, between a leading and a trailing space.
const KEYS_W: usize = 13;

/// Pairs of opposite actions shown on one line.
const PAIRS: [(Action, Action); 4] = [
    (Action::Up, Action::Down),
    (Action::First, Action::Last),
    (Action::ScrollUp, Action::ScrollDown),
    (Action::FocusNext, Action::FocusPrev),
];

/// The keys that only work inside the message editor.
const EDITOR: [Action; 4] = [
    Action::SaveMessage,
    Action::CopyMessage,
    Action::RegenerateMessage,
    Action::LeaveEditor,
];

/// "select the previous step" and "select the next step" make "select the previous /
/// next step": the words both share at either end are said once.
fn merge(a: &str, b: &str) -> String {
    if a == b {
        return a.to_string();
    }
    let wa: Vec<&str> = a.split(' ').collect();
    let wb: Vec<&str> = b.split(' ').collect();
    let pre = wa.iter().zip(&wb).take_while(|(x, y)| x == y).count();
    let room = wa.len().min(wb.len()) - pre;
    let suf = wa
        .iter()
        .rev()
        .zip(wb.iter().rev())
        .take(room)
        .take_while(|(x, y)| x == y)
        .count();
    let mid = |w: &[&str]| w[pre..w.len() - suf].join(" ");
    let mut out: Vec<String> = Vec::new();
    if pre > 0 {
        out.push(wa[..pre].join(" "));
    }
    out.push(format!("{} / {}", mid(&wa), mid(&wb)));
    if suf > 0 {
        out.push(wa[wa.len() - suf..].join(" "));
    }
    out.join(" ")
}

/// `k/j ↑/↓`: the two actions' keys side by side, in the keymap's order.
fn zip_keys(a: &[KeyChord], b: &[KeyChord]) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..a.len().max(b.len()) {
        match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) => out.push(format!("{x}/{y}")),
            (Some(x), None) | (None, Some(x)) => out.push(x.to_string()),
            (None, None) => {}
        }
    }
    out
}

/// One row: as many keys as fit the column, the others said after the description.
fn row(th: Theme, keys: &[String], describe: &str) -> Line<'static> {
    let mut shown = String::new();
    let mut rest: Vec<&str> = Vec::new();
    for k in keys {
        let extra = if shown.is_empty() { 0 } else { 1 };
        if rest.is_empty() && (shown.is_empty() || shown.width() + extra + k.width() <= KEYS_W) {
            if !shown.is_empty() {
                shown.push(' ');
            }
            shown.push_str(k);
        } else {
            rest.push(k);
        }
    }
    let mut text = describe.to_string();
    if !rest.is_empty() {
        text.push_str(&format!(" (also {})", rest.join(" ")));
    }
    Line::from(vec![
        Span::styled(format!(" {shown:<KEYS_W$} "), th.heading()),
        Span::raw(text),
    ])
}

/// The table, with the editor keys on one line when `compact`.
fn lines(app: &App, th: Theme, compact: bool) -> Vec<Line<'static>> {
    let mut bindings = app.keymap.bindings();
    // A watcher is shown only the keys that work for it.
    if app.watching.is_some() {
        bindings.retain(|(a, _)| a.only_looks());
    }
    let keys_of = |a: Action| {
        bindings
            .iter()
            .find(|(b, _)| *b == a)
            .map(|(_, k)| k.clone())
    };
    let mut out = Vec::new();
    let mut editor_done = false;
    for (action, keys) in &bindings {
        if PAIRS
            .iter()
            .any(|(first, second)| second == action && keys_of(*first).is_some())
        {
            continue;
        }
        if let Some((_, second)) = PAIRS.iter().find(|(first, _)| first == action)
            && let Some(other) = keys_of(*second)
        {
            out.push(row(
                th,
                &zip_keys(keys, &other),
                &merge(action.describe(), second.describe()),
            ));
            continue;
        }
        if compact && EDITOR.contains(action) {
            if !editor_done {
                editor_done = true;
                let parts: Vec<String> = EDITOR
                    .iter()
                    .filter_map(|a| {
                        let k = keys_of(*a)?.first()?.to_string();
                        Some(format!("{k} {}", a.hint()))
                    })
                    .collect();
                out.push(Line::from(vec![
                    Span::styled(format!(" {:<KEYS_W$} ", "in the editor"), th.heading()),
                    Span::raw(parts.join(th.sep())),
                ]));
            }
            continue;
        }
        let keys: Vec<String> = keys.iter().map(ToString::to_string).collect();
        let describe = match action {
            Action::Quit if app.watching.is_some() => "stop watching (the session goes on)",
            _ => action.describe(),
        };
        out.push(row(th, &keys, describe));
    }
    out
}

pub fn render(frame: &mut Frame, app: &App, th: Theme, area: Rect) {
    let room = area.height.saturating_sub(2) as usize;
    let mut table = lines(app, th, false);
    if table.len() > room {
        table = lines(app, th, true);
    }
    if table.len() > room && room > 0 {
        // Still too short: say what is missing rather than cut it silently.
        let hidden = table.len() - room + 1;
        table.truncate(room - 1);
        table.push(Line::from(Span::styled(
            format!(" … {hidden} more: a taller terminal shows every key"),
            th.warn(),
        )));
    }
    // The footer rides in the bottom border so every key fits in 80x24.
    let footer = if app.watching.is_some() {
        " any key closes · read-only view: the driver's screen acts "
    } else {
        " any key closes · text box: enter confirms, ctrl-g cancels "
    };
    let footer = Span::styled(footer, th.muted());
    let widest = table.iter().map(Line::width).max().unwrap_or(0);
    let width = ((widest.max(footer.width()) + 3) as u16).min(area.width);
    let height = (table.len() as u16 + 2).min(area.height);
    let rect = area.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, rect);
    // No side padding: the rows carry their own, and 80 columns need every one.
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(th.border(true))
        .title(Span::styled(" Keys * ", th.border(true)))
        .title_bottom(footer);
    frame.render_widget(Paragraph::new(table).block(block), rect);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opposite_descriptions_merge_on_shared_words() {
        assert_eq!(
            merge("select the previous step", "select the next step"),
            "select the previous / next step"
        );
        assert_eq!(
            merge("scroll the output back", "scroll the output forward"),
            "scroll the output back / forward"
        );
        assert_eq!(merge("up", "down"), "up / down");
        assert_eq!(merge("same", "same"), "same");
    }
}
