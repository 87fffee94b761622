//! `report --suggest-estimates`: what the runbook's `estimate` values would be if the
//! next night went like this one, as a unified diff against the session's runbook copy,
//! so the change can be reviewed and applied with `patch`.
//!
//! The edit works on the text, not on a re-serialised document, so comments, layout and
//! every other line stay exactly as the author wrote them.

use std::ops::Range;

use jiff::Timestamp;

use crate::run::RunState;
use crate::run::state::StepStatus;
use crate::run::timeline;
use crate::runbook::{Duration, Runbook};

/// An estimate within this share of the actual duration is left alone: a night is never
/// exactly like the next, and a diff of noise gets ignored.
const TOLERANCE_PERCENT: i64 = 10;

/// One proposed change to the runbook text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub step: String,
    pub old: Option<Duration>,
    /// What the step took.
    pub actual: Duration,
    pub new: Duration,
    pub edit: LineEdit,
}

/// A change of one line, 0-based line numbers into the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEdit {
    /// The existing `estimate` line at `line` becomes `text`.
    Replace {
        line: usize,
        old: String,
        text: String,
    },
    /// `text` goes in after `line` (the step's `title`, else its table header).
    Insert {
        after: usize,
        anchor: String,
        text: String,
    },
}

/// Whole minutes above a minute, whole seconds below, always rounding up: an estimate
/// that is a little long costs less than one that is a little short.
pub fn round_up(actual: Duration) -> Duration {
    let secs = actual.as_secs().max(1);
    if secs > 60 {
        Duration::from_secs((secs + 59) / 60 * 60)
    } else {
        Duration::from_secs(secs)
    }
}

fn differs(estimate: Option<Duration>, actual: Duration) -> bool {
    match estimate {
        None => true,
        Some(e) => (actual.as_secs() - e.as_secs()).abs() * 100 > e.as_secs() * TOLERANCE_PERCENT,
    }
}

/// The suggestions for every step that is done and whose estimate is off (or missing).
pub fn suggestions(runbook: &Runbook, run: &RunState, now: Timestamp) -> Vec<Suggestion> {
    runbook
        .steps()
        .filter_map(|(_, step)| {
            let id = step.id.get_ref();
            if run.step(id)?.status != StepStatus::Done {
                return None;
            }
            let actual = timeline::actual_duration(run, id, now)?;
            if !differs(step.estimate, actual) {
                return None;
            }
            let new = round_up(actual);
            if step.estimate == Some(new) {
                return None;
            }
            let edit = estimate_edit(&runbook.source, step.id.span(), new)?;
            Some(Suggestion {
                step: id.clone(),
                old: step.estimate,
                actual,
                new,
                edit,
            })
        })
        .collect()
}

/// Where the step whose `id` value sits at `id_span` keeps (or would keep) its
/// `estimate`. `None` when the step is not written as a `[[...]]` table of its own.
pub fn estimate_edit(source: &str, id_span: Range<usize>, new: Duration) -> Option<LineEdit> {
    let lines: Vec<&str> = source.lines().collect();
    let id_line = source.get(..id_span.start)?.matches('\n').count();
    let in_string = multiline_string_lines(&lines);
    let is_header = |i: usize| !in_string[i] && lines[i].trim_start().starts_with('[');
    let header = (0..=id_line).rev().find(|&i| is_header(i))?;
    if !lines[header].trim_start().starts_with("[[") {
        return None;
    }
    let end = (id_line + 1..lines.len())
        .find(|&i| is_header(i))
        .unwrap_or(lines.len());
    let key_line = |key: &str| (header + 1..end).find(|&i| !in_string[i] && is_key(lines[i], key));
    let text = |indent: &str| format!("{indent}estimate = \"{new}\"");
    if let Some(line) = key_line("estimate") {
        let old = lines[line].to_string();
        let indent = &old[..old.len() - old.trim_start().len()];
        return Some(LineEdit::Replace {
            line,
            text: text(indent),
            old,
        });
    }
    let after = key_line("title").unwrap_or(header);
    let anchor = lines[after].to_string();
    let indent = if after == header {
        ""
    } else {
        &anchor[..anchor.len() - anchor.trim_start().len()]
    };
    Some(LineEdit::Insert {
        after,
        text: text(indent),
        anchor,
    })
}

fn is_key(line: &str, key: &str) -> bool {
    line.trim_start()
        .strip_prefix(key)
        .is_some_and(|rest| rest.trim_start().starts_with('='))
}

/// For each line, whether it starts inside a `"""` or `'''` string, where a line that
/// looks like a table header or a key is only text.
fn multiline_string_lines(lines: &[&str]) -> Vec<bool> {
    let mut open: Option<&str> = None;
    lines
        .iter()
        .map(|line| {
            let inside = open.is_some();
            let mut rest = *line;
            loop {
                let next = match open {
                    Some(q) => rest.find(q).map(|i| (i, q)),
                    None => ["\"\"\"", "'''"]
                        .iter()
                        .filter_map(|q| rest.find(q).map(|i| (i, *q)))
                        .min_by_key(|(i, _)| *i),
                };
                let Some((i, q)) = next else {
                    break;
                };
                open = if open.is_some() { None } else { Some(q) };
                rest = &rest[i + q.len()..];
            }
            inside
        })
        .collect()
}

/// The suggestions as a unified diff of `name`, hunks in file order.
pub fn diff(name: &str, mut suggestions: Vec<Suggestion>) -> String {
    let at = |s: &Suggestion| match &s.edit {
        LineEdit::Replace { line, .. } => *line,
        LineEdit::Insert { after, .. } => *after,
    };
    suggestions.sort_by_key(at);
    let mut out = format!("--- a/{name}\n+++ b/{name}\n");
    // Lines added by earlier hunks move the new file's numbering.
    let mut shift = 0usize;
    for s in &suggestions {
        let was = s.old.map_or_else(|| "none".to_string(), |d| d.to_string());
        match &s.edit {
            LineEdit::Replace { line, old, text } => {
                let n = line + 1;
                out.push_str(&format!(
                    "@@ -{n},1 +{},1 @@ step {} (estimate {was}, took {})\n-{old}\n+{text}\n",
                    n + shift,
                    s.step,
                    s.actual
                ));
            }
            LineEdit::Insert {
                after,
                anchor,
                text,
            } => {
                let n = after + 1;
                out.push_str(&format!(
                    "@@ -{n},1 +{},2 @@ step {} (estimate {was}, took {})\n {anchor}\n+{text}\n",
                    n + shift,
                    s.step,
                    s.actual
                ));
                shift += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOK: &str = r#"title = "t"

[[phase]]
id = "prep"
title = "Prep"

[[phase.step]]
id = "migrate"
title = "Migrate"
run = """
echo one
[not a header]
estimate = "1s"
"""
  estimate = "10m"   # first guess

[[phase.step]]
title = "Check"
id = "check"
run = "true"

[[phase.step]]
id = "last"
title = "Last"
estimate = "2m"
"#;

    fn span_of(id: &str) -> Range<usize> {
        let needle = format!("id = \"{id}\"");
        let start = BOOK.find(&needle).map_or(0, |i| i + 5);
        start..start + id.len() + 2
    }

    #[test]
    fn replaces_the_estimate_of_its_own_table() {
        let edit = estimate_edit(BOOK, span_of("migrate"), Duration::from_mins(25));
        assert_eq!(
            edit,
            Some(LineEdit::Replace {
                line: 14,
                old: "  estimate = \"10m\"   # first guess".into(),
                text: "  estimate = \"25m\"".into(),
            })
        );
    }

    #[test]
    fn adds_after_the_title_when_there_is_none() {
        let edit = estimate_edit(BOOK, span_of("check"), Duration::from_secs(42));
        assert_eq!(
            edit,
            Some(LineEdit::Insert {
                after: 17,
                anchor: "title = \"Check\"".into(),
                text: "estimate = \"42s\"".into(),
            })
        );
    }

    #[test]
    fn never_reaches_into_the_next_table() {
        let edit = estimate_edit(BOOK, span_of("check"), Duration::from_secs(42));
        assert!(matches!(edit, Some(LineEdit::Insert { .. })));
        let last = estimate_edit(BOOK, span_of("last"), Duration::from_mins(3));
        assert!(matches!(last, Some(LineEdit::Replace { line: 24, .. })));
    }

    #[test]
    fn rounds_up_to_minutes_above_one_minute_and_seconds_below() {
        assert_eq!(
            round_up(Duration::from_secs(24 * 60 + 10)),
            Duration::from_mins(25)
        );
        assert_eq!(round_up(Duration::from_secs(120)), Duration::from_mins(2));
        assert_eq!(round_up(Duration::from_secs(42)), Duration::from_secs(42));
        assert_eq!(round_up(Duration::ZERO), Duration::from_secs(1));
    }

    #[test]
    fn ten_percent_off_is_close_enough() {
        assert!(!differs(
            Some(Duration::from_mins(10)),
            Duration::from_secs(660)
        ));
        assert!(differs(
            Some(Duration::from_mins(10)),
            Duration::from_secs(661)
        ));
        assert!(differs(None, Duration::from_secs(5)));
    }

    #[test]
    fn diff_numbers_lines_after_earlier_insertions() {
        let insert = Suggestion {
            step: "check".into(),
            old: None,
            actual: Duration::from_secs(42),
            new: Duration::from_secs(42),
            edit: LineEdit::Insert {
                after: 17,
                anchor: "title = \"Check\"".into(),
                text: "estimate = \"42s\"".into(),
            },
        };
        let replace = Suggestion {
            step: "last".into(),
            old: Some(Duration::from_mins(2)),
            actual: Duration::from_secs(170),
            new: Duration::from_mins(3),
            edit: LineEdit::Replace {
                line: 24,
                old: "estimate = \"2m\"".into(),
                text: "estimate = \"3m\"".into(),
            },
        };
        let text = diff("runbook.toml", vec![replace, insert]);
        assert!(text.contains("@@ -18,1 +18,2 @@"), "{text}");
        assert!(text.contains("@@ -25,1 +26,1 @@"), "{text}");
        assert!(
            text.contains("-estimate = \"2m\"\n+estimate = \"3m\"\n"),
            "{text}"
        );
    }
}
