//! Keys to actions. The default table lives in `assets/keymap.toml`; the help overlay is
//! built from the same table that dispatches keys, so it cannot drift from them.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::runbook::Diagnostic;
use crate::runbook::diagnostic::line_col;
use crate::runbook::validate::closest;

/// What a key can mean. The snake_case names are the keymap file's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Up,
    Down,
    First,
    Last,
    Act,
    Done,
    Skip,
    Reopen,
    Note,
    Rerun,
    Cancel,
    MarkFailed,
    OpenLog,
    ScrollUp,
    ScrollDown,
    Follow,
    FocusNext,
    FocusPrev,
    Message,
    Send,
    Extend,
    Rollback,
    Timeline,
    SaveMessage,
    CopyMessage,
    RegenerateMessage,
    LeaveEditor,
    Help,
    Quit,
}

impl Action {
    /// Every action, in the order of the help table.
    pub const ALL: [Action; 29] = [
        Action::Up,
        Action::Down,
        Action::First,
        Action::Last,
        Action::Act,
        Action::Done,
        Action::Skip,
        Action::Reopen,
        Action::Note,
        Action::Rerun,
        Action::Cancel,
        Action::MarkFailed,
        Action::OpenLog,
        Action::ScrollUp,
        Action::ScrollDown,
        Action::Follow,
        Action::FocusNext,
        Action::FocusPrev,
        Action::Message,
        Action::Send,
        Action::Extend,
        Action::Rollback,
        Action::Timeline,
        Action::SaveMessage,
        Action::CopyMessage,
        Action::RegenerateMessage,
        Action::LeaveEditor,
        Action::Help,
        Action::Quit,
    ];

    /// The name a keymap file uses (a test holds it equal to the serde name).
    pub fn name(self) -> &'static str {
        match self {
            Action::Up => "up",
            Action::Down => "down",
            Action::First => "first",
            Action::Last => "last",
            Action::Act => "act",
            Action::Done => "done",
            Action::Skip => "skip",
            Action::Reopen => "reopen",
            Action::Note => "note",
            Action::Rerun => "rerun",
            Action::Cancel => "cancel",
            Action::MarkFailed => "mark_failed",
            Action::OpenLog => "open_log",
            Action::ScrollUp => "scroll_up",
            Action::ScrollDown => "scroll_down",
            Action::Follow => "follow",
            Action::FocusNext => "focus_next",
            Action::FocusPrev => "focus_prev",
            Action::Message => "message",
            Action::Send => "send",
            Action::Extend => "extend",
            Action::Rollback => "rollback",
            Action::Timeline => "timeline",
            Action::SaveMessage => "save_message",
            Action::CopyMessage => "copy_message",
            Action::RegenerateMessage => "regenerate_message",
            Action::LeaveEditor => "leave_editor",
            Action::Help => "help",
            Action::Quit => "quit",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// One line for the help overlay.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Up => "select the previous step",
            Action::Down => "select the next step",
            Action::First => "select the first step",
            Action::Last => "select the last step",
            Action::Act => "run the command, start the backups, or mark done",
            Action::Done => "mark the step done (past an unmet gate: asks why)",
            Action::Skip => "skip the step (asks a reason)",
            Action::Reopen => "reopen a done, skipped or failed step",
            Action::Note => "add a note to the step",
            Action::Rerun => "run a failed or interrupted step again",
            Action::Cancel => "cancel what the step is running (asks first)",
            Action::MarkFailed => "mark an interrupted step failed (asks why)",
            Action::OpenLog => "open the full output log in the pager",
            Action::ScrollUp => "scroll the output back",
            Action::ScrollDown => "scroll the output forward",
            Action::Follow => "follow the output as it arrives",
            Action::FocusNext => "focus the next pane",
            Action::FocusPrev => "focus the previous pane",
            Action::Message => "edit the message draft (Enter on a message step opens its own)",
            Action::Send => "send the message through message.send (asks first)",
            Action::Extend => "extend the window (asks how long and why)",
            Action::Rollback => "start the rollback (asks why)",
            Action::Timeline => "show or hide the timeline: planned against actual",
            Action::SaveMessage => "in the editor: save the draft to a file",
            Action::CopyMessage => "in the editor: copy the draft to your clipboard (OSC 52)",
            Action::RegenerateMessage => "in the editor: draft again from the live state",
            Action::LeaveEditor => "in the editor: leave it (the draft is kept)",
            Action::Help => "show or hide this help",
            Action::Quit => "quit (the session stays resumable)",
        }
    }

    /// Whether the action only moves the view. `cutover watch` allows these and refuses
    /// the rest; the match has no wildcard so a new action must be classified here.
    pub fn only_looks(self) -> bool {
        match self {
            Action::Up
            | Action::Down
            | Action::First
            | Action::Last
            | Action::OpenLog
            | Action::ScrollUp
            | Action::ScrollDown
            | Action::Follow
            | Action::FocusNext
            | Action::FocusPrev
            | Action::Timeline
            | Action::Help
            | Action::Quit => true,
            Action::Act
            | Action::Done
            | Action::Skip
            | Action::Reopen
            | Action::Note
            | Action::Rerun
            | Action::Cancel
            | Action::MarkFailed
            | Action::Message
            | Action::Send
            | Action::Extend
            | Action::Rollback
            | Action::SaveMessage
            | Action::CopyMessage
            | Action::RegenerateMessage
            | Action::LeaveEditor => false,
        }
    }

    /// Short label for the status bar hints.
    pub fn hint(self) -> &'static str {
        match self {
            Action::Up | Action::Down => "move",
            Action::First => "first",
            Action::Last => "last",
            Action::Act => "act",
            Action::Done => "done",
            Action::Skip => "skip",
            Action::Reopen => "reopen",
            Action::Note => "note",
            Action::Rerun => "run again",
            Action::Cancel => "cancel",
            Action::MarkFailed => "failed",
            Action::OpenLog => "log",
            Action::ScrollUp | Action::ScrollDown => "scroll",
            Action::Follow => "follow",
            Action::FocusNext | Action::FocusPrev => "pane",
            Action::Message => "message",
            Action::Send => "send",
            Action::Extend => "extend",
            Action::Rollback => "rollback",
            Action::Timeline => "timeline",
            Action::SaveMessage => "save",
            Action::CopyMessage => "copy",
            Action::RegenerateMessage => "redraft",
            Action::LeaveEditor => "leave",
            Action::Help => "help",
            Action::Quit => "quit",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyChord {
    code: ChordCode,
    ctrl: bool,
}

/// A crossterm-independent key code so the table can be ordered and printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum ChordCode {
    Char(char),
    Enter,
    Tab,
    BackTab,
    Up,
    Down,
    Home,
    End,
    PageUp,
    PageDown,
    Esc,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeymapError {
    #[error("unknown key name `{0}`")]
    UnknownKey(String),
    #[error("key `{key}` is bound to both `{first}` and `{second}`")]
    Conflict {
        key: String,
        first: String,
        second: String,
    },
    #[error("keymap is not valid TOML: {0}")]
    Parse(String),
}

impl FromStr for KeyChord {
    type Err = KeymapError;
    fn from_str(s: &str) -> Result<Self, KeymapError> {
        let (ctrl, name) = match s.strip_prefix("ctrl-") {
            Some(rest) if !rest.is_empty() => (true, rest),
            _ => (false, s),
        };
        let code = match name {
            "enter" => ChordCode::Enter,
            "tab" => ChordCode::Tab,
            // The help overlay prints `shift-tab`, so that name is accepted too.
            "backtab" | "shift-tab" => ChordCode::BackTab,
            "up" => ChordCode::Up,
            "down" => ChordCode::Down,
            "home" => ChordCode::Home,
            "end" => ChordCode::End,
            "pageup" => ChordCode::PageUp,
            "pagedown" => ChordCode::PageDown,
            "esc" => ChordCode::Esc,
            "space" => ChordCode::Char(' '),
            _ => {
                let mut chars = name.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => ChordCode::Char(c),
                    _ => return Err(KeymapError::UnknownKey(s.to_string())),
                }
            }
        };
        Ok(KeyChord { code, ctrl })
    }
}

impl fmt::Display for KeyChord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        match self.code {
            ChordCode::Char(' ') => f.write_str("space"),
            ChordCode::Char(c) => write!(f, "{c}"),
            ChordCode::Enter => f.write_str("enter"),
            ChordCode::Tab => f.write_str("tab"),
            ChordCode::BackTab => f.write_str("shift-tab"),
            ChordCode::Up => f.write_str("↑"),
            ChordCode::Down => f.write_str("↓"),
            ChordCode::Home => f.write_str("home"),
            ChordCode::End => f.write_str("end"),
            ChordCode::PageUp => f.write_str("pgup"),
            ChordCode::PageDown => f.write_str("pgdn"),
            ChordCode::Esc => f.write_str("esc"),
        }
    }
}

impl KeyChord {
    fn from_event(ev: &KeyEvent) -> Option<KeyChord> {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let code = match ev.code {
            // Shift is already folded into the character (`G`), so it is not a modifier here.
            KeyCode::Char(c) => ChordCode::Char(c),
            KeyCode::Enter => ChordCode::Enter,
            KeyCode::Tab => ChordCode::Tab,
            KeyCode::BackTab => ChordCode::BackTab,
            KeyCode::Up => ChordCode::Up,
            KeyCode::Down => ChordCode::Down,
            KeyCode::Home => ChordCode::Home,
            KeyCode::End => ChordCode::End,
            KeyCode::PageUp => ChordCode::PageUp,
            KeyCode::PageDown => ChordCode::PageDown,
            KeyCode::Esc => ChordCode::Esc,
            _ => return None,
        };
        Some(KeyChord { code, ctrl })
    }
}

#[derive(Debug, Clone)]
pub struct Keymap {
    map: BTreeMap<KeyChord, Action>,
    /// Per action, its keys in the order the keymap file lists them (the first one is
    /// the one the status bar shows).
    table: BTreeMap<Action, Vec<KeyChord>>,
}

const DEFAULTS: &str = include_str!("../../assets/keymap.toml");

/// One action of a user keymap file, with where each of its keys stands.
struct UserEntry {
    action: Action,
    chords: Vec<(KeyChord, Range<usize>)>,
}

const KEY_NAMES: &str = "key names: a single character (`D`, `?`), space, enter, tab, \
                         shift-tab, up, down, home, end, pageup, pagedown, esc, or ctrl-<char>";

impl Keymap {
    pub fn from_toml(text: &str) -> Result<Keymap, KeymapError> {
        let table: BTreeMap<Action, Vec<String>> =
            toml::from_str(text).map_err(|e| KeymapError::Parse(e.message().to_string()))?;
        let mut map = BTreeMap::new();
        let mut ordered: BTreeMap<Action, Vec<KeyChord>> = BTreeMap::new();
        for (action, keys) in table {
            for key in keys {
                let chord: KeyChord = key.parse()?;
                ordered.entry(action).or_default().push(chord);
                if let Some(prev) = map.insert(chord, action)
                    && prev != action
                {
                    return Err(KeymapError::Conflict {
                        key,
                        first: format!("{prev:?}"),
                        second: format!("{action:?}"),
                    });
                }
            }
        }
        Ok(Keymap {
            map,
            table: ordered,
        })
    }

    pub fn defaults() -> Keymap {
        // The defaults are part of the binary and covered by a test, so this cannot
        // fail at run time; an empty map would still leave `q` handled by the runtime.
        Keymap::from_toml(DEFAULTS).unwrap_or(Keymap {
            map: BTreeMap::new(),
            table: BTreeMap::new(),
        })
    }

    /// This keymap with the actions a user keymap file lists rebound to the keys it
    /// gives them; actions it does not list keep their keys. Every problem points at
    /// the entry that causes it: a syntax error, an unknown action or key name, a key
    /// that would then mean two things (reported at the later binding), or `quit` left
    /// without a key.
    pub fn with_overrides(&self, text: &str) -> Result<Keymap, Diagnostic> {
        let doc = DeTable::parse(text).map_err(|e| {
            Diagnostic::error(
                format!("TOML syntax error: {}", e.message().trim_end()),
                e.span(),
            )
        })?;
        // The parsed table is sorted by name; file order decides which of two clashing
        // bindings is "the later one".
        let mut entries: Vec<_> = doc.get_ref().iter().collect();
        entries.sort_by_key(|(name, _)| name.span().start);

        let mut table = self.table.clone();
        let mut user: Vec<UserEntry> = Vec::new();
        for (name, value) in entries {
            let Some(action) = Action::from_name(name.get_ref()) else {
                let names = Action::ALL.map(Action::name);
                let mut d = Diagnostic::error(
                    format!("unknown action `{}`", name.get_ref()),
                    Some(name.span()),
                );
                d = match closest(name.get_ref(), names) {
                    Some(best) => d.with_help(format!("did you mean `{best}`?")),
                    None => d.with_help(format!("actions: {}", names.join(", "))),
                };
                return Err(d);
            };
            let items: Vec<&Spanned<DeValue>> = match value.get_ref() {
                DeValue::Array(list) => list.iter().collect(),
                DeValue::String(_) => vec![value],
                _ => {
                    return Err(Diagnostic::error(
                        format!("`{}` takes a list of key names", action.name()),
                        Some(value.span()),
                    )
                    .with_help(format!("for example: {} = [\"D\"]", action.name())));
                }
            };
            let mut chords: Vec<(KeyChord, Range<usize>)> = Vec::new();
            for item in items {
                let DeValue::String(key) = item.get_ref() else {
                    return Err(Diagnostic::error(
                        "a key name is a quoted string",
                        Some(item.span()),
                    )
                    .with_help(KEY_NAMES));
                };
                let chord: KeyChord = key.parse().map_err(|_| {
                    Diagnostic::error(format!("unknown key name `{key}`"), Some(item.span()))
                        .with_help(KEY_NAMES)
                })?;
                if !chords.iter().any(|(c, _)| *c == chord) {
                    chords.push((chord, item.span()));
                }
            }
            // Without a key for `quit` the only way out would be killing the terminal;
            // without one for `leave_editor`, a bare Esc, which tmux delays or eats.
            if matches!(action, Action::Quit | Action::LeaveEditor) && chords.is_empty() {
                let example = match action {
                    Action::Quit => "quit = [\"q\"]",
                    _ => "leave_editor = [\"ctrl-g\"]",
                };
                return Err(Diagnostic::error(
                    format!("`{}` needs at least one key", action.name()),
                    Some(value.span()),
                )
                .with_help(format!("for example: {example}")));
            }
            let keys: Vec<KeyChord> = chords.iter().map(|(c, _)| *c).collect();
            if keys.is_empty() {
                table.remove(&action);
            } else {
                table.insert(action, keys);
            }
            user.push(UserEntry { action, chords });
        }

        // The actions kept from `self` cannot clash among themselves; every clash
        // involves a user entry and is reported there.
        let mut map: BTreeMap<KeyChord, (Action, Option<Range<usize>>)> = BTreeMap::new();
        for (action, keys) in &self.table {
            if user.iter().any(|u| u.action == *action) {
                continue;
            }
            for key in keys {
                map.insert(*key, (*action, None));
            }
        }
        for UserEntry { action, chords } in &user {
            for (chord, span) in chords {
                match map.get(chord) {
                    Some((prev, _)) if prev == action => {}
                    Some((prev, earlier)) => {
                        let help = match earlier {
                            None => format!(
                                "`{}` has it by default; give `{}` other keys in this file, \
                                 or pick another key for `{}`",
                                prev.name(),
                                prev.name(),
                                action.name()
                            ),
                            Some(at) => format!(
                                "`{}` is given it on line {}",
                                prev.name(),
                                line_col(text, at.start).0
                            ),
                        };
                        return Err(Diagnostic::error(
                            format!(
                                "key `{chord}` is bound to both `{}` and `{}`",
                                prev.name(),
                                action.name()
                            ),
                            Some(span.clone()),
                        )
                        .with_help(help));
                    }
                    None => {
                        map.insert(*chord, (*action, Some(span.clone())));
                    }
                }
            }
        }
        Ok(Keymap {
            map: map.into_iter().map(|(k, (a, _))| (k, a)).collect(),
            table,
        })
    }

    pub fn lookup(&self, ev: &KeyEvent) -> Option<Action> {
        KeyChord::from_event(ev).and_then(|c| self.map.get(&c).copied())
    }

    /// The keys bound to an action, in the keymap file's order.
    pub fn keys_for(&self, action: Action) -> Vec<KeyChord> {
        self.table.get(&action).cloned().unwrap_or_default()
    }

    /// Every action with its keys, in the order of the `Action` enum: the help table.
    pub fn bindings(&self) -> Vec<(Action, Vec<KeyChord>)> {
        self.table.iter().map(|(a, k)| (*a, k.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_cover_every_action() {
        let km = Keymap::from_toml(DEFAULTS).unwrap();
        let bound: Vec<Action> = km.bindings().into_iter().map(|(a, _)| a).collect();
        for a in [
            Action::Up,
            Action::Down,
            Action::First,
            Action::Last,
            Action::Act,
            Action::Done,
            Action::Skip,
            Action::Reopen,
            Action::Note,
            Action::Rerun,
            Action::Cancel,
            Action::MarkFailed,
            Action::OpenLog,
            Action::ScrollUp,
            Action::ScrollDown,
            Action::Follow,
            Action::FocusNext,
            Action::FocusPrev,
            Action::Message,
            Action::Send,
            Action::Extend,
            Action::Rollback,
            Action::Timeline,
            Action::SaveMessage,
            Action::CopyMessage,
            Action::RegenerateMessage,
            Action::LeaveEditor,
            Action::Help,
            Action::Quit,
        ] {
            assert!(bound.contains(&a), "{a:?} has no key");
        }
    }

    #[test]
    fn lookup_maps_events() {
        let km = Keymap::defaults();
        let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(km.lookup(&key('j')), Some(Action::Down));
        assert_eq!(
            km.lookup(&KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Last)
        );
        assert_eq!(km.lookup(&key('z')), None);
        assert_eq!(km.keys_for(Action::Quit)[0].to_string(), "q");
    }

    #[test]
    fn action_names_are_the_serde_names() {
        for a in Action::ALL {
            let parsed: Action = toml::Value::String(a.name().into()).try_into().unwrap();
            assert_eq!(parsed, a);
            assert_eq!(Action::from_name(a.name()), Some(a));
        }
    }

    #[test]
    fn an_empty_list_unbinds_an_action_but_not_quit() {
        let km = Keymap::defaults().with_overrides("rollback = []").unwrap();
        assert!(km.keys_for(Action::Rollback).is_empty());
        assert!(km.bindings().iter().all(|(a, _)| *a != Action::Rollback));
        let err = Keymap::defaults().with_overrides("quit = []").unwrap_err();
        assert!(err.message.contains("quit"), "{}", err.message);
    }

    #[test]
    fn a_single_string_and_shift_tab_are_accepted() {
        let km = Keymap::defaults()
            .with_overrides("done = \"D\"\nfocus_prev = [\"shift-tab\"]")
            .unwrap();
        assert_eq!(km.keys_for(Action::Done)[0].to_string(), "D");
        assert_eq!(km.keys_for(Action::FocusPrev)[0].to_string(), "shift-tab");
    }

    #[test]
    fn swapping_two_actions_keys_is_no_conflict() {
        let km = Keymap::defaults()
            .with_overrides("done = [\"s\"]\nskip = [\"d\"]")
            .unwrap();
        let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(km.lookup(&key('s')), Some(Action::Done));
        assert_eq!(km.lookup(&key('d')), Some(Action::Skip));
    }

    #[test]
    fn conflicts_and_unknown_names_are_refused() {
        assert_eq!(
            Keymap::from_toml("up = [\"nope-key\"]").unwrap_err(),
            KeymapError::UnknownKey("nope-key".into())
        );
        assert!(matches!(
            Keymap::from_toml("up = [\"k\"]\ndown = [\"k\"]").unwrap_err(),
            KeymapError::Conflict { .. }
        ));
    }
}
