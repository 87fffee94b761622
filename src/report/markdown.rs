//! The report as Markdown for a change ticket: headings, tables where they read well,
//! and details only where there is something to say.
//!
//! Much of the text came from operators and commands (reasons, notes, failure details,
//! message bodies), so none of it is pasted raw: inline text is escaped so it cannot
//! start a heading, a list, a link or HTML, or split a table row, and message bodies go
//! in fenced blocks whose fence is longer than any backtick run inside them.

use std::fmt::Write as _;

use jiff::Timestamp;

use super::{
    ArtifactReport, BackupReport, DowntimeReport, Ending, MessageReport, Report, SettledHow,
    StepReport,
};
use crate::run::context::format_in;
use crate::run::report::AttemptInfo;
use crate::runbook::Duration;
use crate::runbook::secrets::Secrets;

thread_local! {
    /// The secrets of the report being rendered on this thread. Every text put into the
    /// document passes through [`esc`], [`code`] or [`Md::fenced`], which mask it before
    /// escaping it: once escaped (`\_`, `&amp;`, `<br>`), a value would no longer be
    /// found.
    static SECRETS: std::cell::RefCell<Secrets> = std::cell::RefCell::new(Secrets::default());
}

/// Sets [`SECRETS`] for as long as it lives.
struct Masking;

impl Masking {
    fn new(secrets: &Secrets) -> Masking {
        SECRETS.with_borrow_mut(|s| *s = secrets.clone());
        Masking
    }
}

impl Drop for Masking {
    fn drop(&mut self) {
        SECRETS.with_borrow_mut(|s| *s = Secrets::default());
    }
}

fn masked(text: &str) -> String {
    SECRETS.with_borrow(|s| s.mask(text).into_owned())
}

/// The whole report.
pub fn render(report: &Report) -> String {
    let masking = Masking::new(&report.secrets);
    let mut md = Md {
        out: String::new(),
        tz: report.window.timezone.clone(),
    };
    md.header(report);
    md.window(report);
    md.downtime(&report.downtime, report.finished_at, report.generated_at);
    md.steps(report);
    md.step_details(report);
    md.backups(report);
    md.overrides(report);
    md.messages(report);
    md.timeline(report);
    drop(masking);
    // And the document itself, for any text that reached it unescaped.
    report.secrets.mask(&md.out).into_owned()
}

struct Md {
    out: String,
    tz: String,
}

impl Md {
    fn line(&mut self, text: impl AsRef<str>) {
        self.out.push_str(text.as_ref());
        self.out.push('\n');
    }

    fn blank(&mut self) {
        self.out.push('\n');
    }

    fn heading(&mut self, level: usize, text: &str) {
        // A heading's trailing `#`s would be read as its closing marks and dropped.
        let text = match text.strip_suffix('#') {
            Some(rest) => format!("{rest}\\#"),
            None => text.to_string(),
        };
        self.line(format!("{} {text}", "#".repeat(level)));
        self.blank();
    }

    fn item(&mut self, label: &str, text: impl AsRef<str>) {
        self.line(format!("- **{label}:** {}", text.as_ref()));
    }

    /// A table: the header, an alignment row (`r` right-aligns a column), the rows.
    fn table(&mut self, header: &[&str], align: &str, rows: &[Vec<String>]) {
        self.line(format!("| {} |", header.join(" | ")));
        let rule: Vec<&str> = header
            .iter()
            .enumerate()
            .map(|(i, _)| match align.as_bytes().get(i) {
                Some(b'r') => "---:",
                _ => "---",
            })
            .collect();
        self.line(format!("|{}|", rule.join("|")));
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
            self.line(format!("| {} |", cells.join(" | ")));
        }
        self.blank();
    }

    fn time(&self, ts: Timestamp) -> String {
        at(ts, &self.tz)
    }

    fn header(&mut self, r: &Report) {
        self.heading(1, &format!("Change record: {}", esc(&r.runbook.title)));
        if r.rehearsal {
            self.line("**Rehearsal: nothing was executed**");
            self.blank();
        }
        self.item("Session", code(&r.session));
        self.item("Runbook", code(&r.runbook.path));
        self.item("Runbook sha256", code(&r.runbook.sha256));
        let started = match r.started_at {
            Some(t) => format!("{} by {}", self.time(t), esc(&r.started_by)),
            None => "not recorded".to_string(),
        };
        self.item("Started", started);
        let outcome = match (r.outcome, r.finished_at) {
            (Ending::Unfinished, _) => format!(
                "**unfinished**, described as of {}",
                self.time(r.generated_at)
            ),
            (o, Some(t)) => {
                let by = r
                    .finished_by
                    .as_deref()
                    .map_or_else(String::new, |b| format!(" by {}", esc(b)));
                format!("**{}** at {}{by}", o.word(), self.time(t))
            }
            (o, None) => format!("**{}**", o.word()),
        };
        self.item("Outcome", outcome);
        let rollback = match &r.rollback {
            Some(rb) => format!(
                "started {} by {}: {}",
                self.time(rb.started_at),
                esc(&rb.by),
                esc(&rb.reason)
            ),
            None => "not started".to_string(),
        };
        self.item("Rollback", rollback);
        self.item(
            "Progress",
            format!(
                "{} of {} planned steps done or skipped",
                r.progress.settled, r.progress.total
            ),
        );
        self.item(
            "Report made",
            format!(
                "{} (all times in {})",
                self.time(r.generated_at),
                esc(&r.window.timezone)
            ),
        );
        self.blank();
    }

    fn window(&mut self, r: &Report) {
        let w = &r.window;
        self.heading(2, "Window");
        let planned = secs(w.start.duration_until(w.planned_end).as_secs());
        self.item(
            "Planned",
            format!(
                "{} to {} ({planned})",
                self.time(w.start),
                self.time(w.planned_end)
            ),
        );
        if w.extended_by_seconds > 0 {
            let n = w.extensions.len();
            self.item(
                "Extended",
                format!(
                    "by {} in {n} extension{}, to {}",
                    secs(w.extended_by_seconds),
                    if n == 1 { "" } else { "s" },
                    self.time(w.end)
                ),
            );
        } else {
            self.item("Extended", "no");
        }
        let reserve = secs(w.rollback_reserve_seconds);
        let go = if w.go_no_go == w.planned_go_no_go {
            format!("{} (rollback reserve {reserve})", self.time(w.go_no_go))
        } else {
            format!(
                "{} after the extensions, planned {} (rollback reserve {reserve})",
                self.time(w.go_no_go),
                self.time(w.planned_go_no_go)
            )
        };
        self.item("Go/no-go", go);
        match r.finished_at {
            Some(t) => {
                let to_end = t.duration_until(w.end).as_secs();
                let how = if to_end >= 0 {
                    format!("{} before the end", secs(to_end))
                } else {
                    format!("{} after the end", secs(-to_end))
                };
                self.item("Finished", format!("{}, {how}", self.time(t)));
                self.item("Verdict at the finish", w.verdict.word());
            }
            None => {
                let projected = w.projected_finish.map_or_else(String::new, |p| {
                    format!("; the remaining estimates end at {}", self.time(p))
                });
                self.item("Finished", format!("not yet{projected}"));
                self.item(
                    &format!("Verdict at {}", self.time(w.verdict_at)),
                    w.verdict.word(),
                );
            }
        }
        self.blank();
        if !w.extensions.is_empty() {
            let rows: Vec<Vec<String>> = w
                .extensions
                .iter()
                .map(|e| vec![self.time(e.at), esc(&e.by), secs(e.seconds), esc(&e.reason)])
                .collect();
            self.table(&["When", "By", "Extended by", "Reason"], "llrl", &rows);
        }
    }

    fn downtime(&mut self, d: &DowntimeReport, finished: Option<Timestamp>, now: Timestamp) {
        self.heading(2, "Downtime");
        self.item(
            "Expected",
            d.expected_seconds.map_or("not stated".to_string(), secs),
        );
        let step = |s: &Option<String>| {
            s.as_deref()
                .map_or_else(String::new, |id| format!(" ({})", code(id)))
        };
        let actual = match (d.started_at, d.ended_at) {
            (None, _) => "did not start".to_string(),
            (Some(a), Some(b)) => format!(
                "{}, from {}{} to {}{}",
                secs(d.elapsed_seconds),
                self.time(a),
                step(&d.start_step),
                self.time(b),
                step(&d.end_step)
            ),
            (Some(a), None) => {
                let end_step = d.end_step.as_deref().map(code);
                match finished {
                    Some(f) => format!(
                        "{}, from {}{} until the session finished at {}; no step marked its end{}",
                        secs(d.elapsed_seconds),
                        self.time(a),
                        step(&d.start_step),
                        self.time(f),
                        end_step.map_or_else(String::new, |s| format!(" ({s} did not succeed)"))
                    ),
                    None => format!(
                        "{} so far, since {}{}; not over at {}{}",
                        secs(d.elapsed_seconds),
                        self.time(a),
                        step(&d.start_step),
                        self.time(now),
                        end_step
                            .map_or_else(String::new, |s| format!(" ({s} has not succeeded yet)"))
                    ),
                }
            }
        };
        self.item("Actual", actual);
        if let (Some(e), Some(_)) = (d.expected_seconds, d.started_at) {
            let verdict = if d.over {
                format!(
                    "**{} over** the expected {}",
                    secs(d.elapsed_seconds - e),
                    secs(e)
                )
            } else {
                format!("within the expected {}", secs(e))
            };
            self.item("Against the announcement", verdict);
        }
        self.blank();
    }

    fn steps(&mut self, r: &Report) {
        self.heading(2, "Steps");
        let mut phase: Option<&str> = None;
        let mut rows: Vec<Vec<String>> = Vec::new();
        let header = [
            "#", "Step", "Kind", "Estimate", "Actual", "Status", "Attempts", "Exit", "Settled",
        ];
        for s in &r.steps {
            if phase != Some(s.step.phase.as_str()) {
                if phase.is_some() {
                    self.table(&header, "rllrrlrrl", &rows);
                    rows.clear();
                }
                phase = Some(s.step.phase.as_str());
                let title = format!(
                    "{} ({}{})",
                    esc(&s.phase_title),
                    code(&s.step.phase),
                    if s.step.contingency {
                        ", contingency"
                    } else {
                        ""
                    }
                );
                self.heading(3, &title);
            }
            rows.push(vec![
                s.number.to_string(),
                format!("{} {}", esc(&s.step.title), code(&s.step.id)),
                s.step.kind.word().to_string(),
                s.estimate_seconds.map_or_else(dash, secs),
                s.actual_seconds.map_or_else(dash, secs),
                s.step.status.word().to_string(),
                s.step.attempts.to_string(),
                last_end(s),
                s.settled.as_ref().map_or_else(dash, |st| {
                    format!("{} by {}", self.time(st.at), esc(&st.by))
                }),
            ]);
        }
        if phase.is_some() {
            self.table(&header, "rllrrlrrl", &rows);
        }
    }

    fn step_details(&mut self, r: &Report) {
        let worth: Vec<&StepReport> = r.steps.iter().filter(|s| has_details(s)).collect();
        if worth.is_empty() {
            return;
        }
        self.heading(2, "Step details");
        for s in worth {
            self.heading(
                3,
                &format!(
                    "{}. {} ({})",
                    s.number,
                    esc(&s.step.title),
                    code(&s.step.id)
                ),
            );
            if let Some(reason) = &s.step.skip_reason {
                let by = settled_by(s, SettledHow::Skipped, &self.tz);
                self.item("Skipped", format!("{}{by}", esc(reason)));
            }
            if let Some(reason) = &s.step.override_reason {
                let how = r
                    .overrides
                    .iter()
                    .rev()
                    .find(|o| o.step == s.step.id)
                    .map_or_else(String::new, |o| {
                        let unmet: Vec<String> = o.unmet.iter().map(|u| code(u)).collect();
                        format!(
                            " ({} by {}; not done: {})",
                            self.time(o.at),
                            esc(&o.by),
                            unmet.join(", ")
                        )
                    });
                self.item("Gate overridden", format!("{}{how}", esc(reason)));
            }
            if let Some(reason) = &s.step.failed_reason {
                let by = settled_by(s, SettledHow::MarkedFailed, &self.tz);
                self.item("Marked failed", format!("{}{by}", esc(reason)));
            }
            for n in &s.step.notes {
                self.item(
                    "Note",
                    format!("{} by {}: {}", self.time(n.at), esc(&n.by), esc(&n.text)),
                );
            }
            self.blank();
            if attempts_worth_listing(&s.step.history) {
                self.attempts(&s.step.history);
            }
        }
    }

    fn attempts(&mut self, history: &[AttemptInfo]) {
        let rows: Vec<Vec<String>> = history
            .iter()
            .map(|a| {
                vec![
                    a.attempt.attempt.to_string(),
                    self.time(a.attempt.started_at),
                    a.attempt.finished_at.map_or_else(dash, |t| self.time(t)),
                    a.seconds.map_or_else(dash, secs),
                    esc(&a.outcome),
                ]
            })
            .collect();
        self.table(
            &["Attempt", "Started", "Ended", "Took", "Outcome"],
            "rllrl",
            &rows,
        );
    }

    fn backups(&mut self, r: &Report) {
        self.heading(2, "Backups");
        if r.backups.is_empty() {
            self.line("The runbook declares no backups.");
            self.blank();
            return;
        }
        let rows: Vec<Vec<String>> = r
            .backups
            .iter()
            .map(|b| {
                let (path, size) = artifact_cells(b.artifact.as_ref());
                vec![
                    format!("{} {}", esc(&b.title), code(&b.id)),
                    b.step.as_deref().map_or_else(dash, code),
                    b.status.word().to_string(),
                    b.attempts.to_string(),
                    b.verify.as_deref().map_or_else(dash, esc),
                    path,
                    size,
                ]
            })
            .collect();
        self.table(
            &[
                "Backup", "Step", "Status", "Attempts", "Verify", "Artifact", "Size",
            ],
            "lllrllr",
            &rows,
        );
        let worth: Vec<&BackupReport> = r
            .backups
            .iter()
            .filter(|b| attempts_worth_listing(&b.history))
            .collect();
        for b in worth {
            self.heading(3, &format!("Backup {} ({})", esc(&b.title), code(&b.id)));
            self.attempts(&b.history);
        }
    }

    fn overrides(&mut self, r: &Report) {
        self.heading(2, "Gate overrides");
        if r.overrides.is_empty() {
            self.line("None: every step started with its requirements met.");
            self.blank();
            return;
        }
        let rows: Vec<Vec<String>> = r
            .overrides
            .iter()
            .map(|o| {
                vec![
                    self.time(o.at),
                    esc(&o.by),
                    code(&o.step),
                    o.unmet
                        .iter()
                        .map(|u| code(u))
                        .collect::<Vec<_>>()
                        .join(", "),
                    esc(&o.reason),
                ]
            })
            .collect();
        self.table(
            &["When", "By", "Step", "Not done", "Reason"],
            "lllll",
            &rows,
        );
    }

    fn messages(&mut self, r: &Report) {
        self.heading(2, "Messages");
        if r.messages.is_empty() {
            self.line("No message was sent.");
            self.blank();
            return;
        }
        let rows: Vec<Vec<String>> = r
            .messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                vec![
                    (i + 1).to_string(),
                    self.time(m.record.at),
                    esc(&m.record.phase),
                    esc(&m.record.by),
                    result(m),
                    esc(&m.record.subject),
                ]
            })
            .collect();
        self.table(
            &["#", "When", "Phase", "By", "Result", "Subject"],
            "rlllll",
            &rows,
        );
        for (i, m) in r.messages.iter().enumerate() {
            let word = match m.result {
                "sent_by_hand" => "marked sent by hand",
                other => other,
            };
            self.heading(
                3,
                &format!("Message {}: {}, {word}", i + 1, esc(&m.record.phase)),
            );
            if m.record.by_hand {
                self.line("Sent outside cutover; the journal holds no text for it.");
                self.blank();
                continue;
            }
            if !m.record.ok {
                let why = match (&m.record.detail, m.record.exit) {
                    (Some(d), _) => esc(d),
                    (None, Some(code)) => format!("the send command ended with exit {code}"),
                    (None, None) => "the send command failed".to_string(),
                };
                self.item("Not sent", why);
            }
            if let Some(step) = &m.record.step {
                self.item("For step", code(step));
            }
            if !m.record.file.is_empty() {
                self.item("Saved as", code(&format!("messages/{}", m.record.file)));
            }
            if !m.record.ok || m.record.step.is_some() || !m.record.file.is_empty() {
                self.blank();
            }
            let text = crate::message::draft::compose(&m.record.subject, &m.record.body);
            self.fenced("text", &text);
        }
    }

    fn timeline(&mut self, r: &Report) {
        self.heading(2, "Timeline");
        self.fenced("text", &r.timeline.join("\n"));
    }

    fn fenced(&mut self, info: &str, text: &str) {
        let text = visible(
            &masked(text).replace("\r\n", "\n").replace('\r', "\n"),
            true,
        );
        let fence = "`".repeat(longest_run(&text, '`').max(2) + 1);
        self.line(format!("{fence}{info}"));
        self.out.push_str(&text);
        if !text.ends_with('\n') {
            self.blank();
        }
        self.line(&fence);
        self.blank();
    }
}

/// A time in the window's zone to the second: these are records of what happened.
fn at(ts: Timestamp, tz: &str) -> String {
    format_in(ts, tz, "%Y-%m-%d %H:%M:%S %Z")
}

fn secs(s: i64) -> String {
    Duration::from_secs(s).to_string()
}

fn dash() -> String {
    "–".to_string()
}

/// How the latest attempt ended, in the exit column: the code, or the signal.
fn last_end(s: &StepReport) -> String {
    let Some(last) = s.step.history.last() else {
        return dash();
    };
    match (last.attempt.signal, last.attempt.exit) {
        (Some(sig), _) => crate::runner::task::signal_name(sig),
        (None, Some(code)) => code.to_string(),
        (None, None) => dash(),
    }
}

fn has_details(s: &StepReport) -> bool {
    s.step.skip_reason.is_some()
        || s.step.override_reason.is_some()
        || s.step.failed_reason.is_some()
        || !s.step.notes.is_empty()
        || attempts_worth_listing(&s.step.history)
}

/// More than one attempt, or one that did not end well: a single clean run says nothing
/// the steps table does not.
fn attempts_worth_listing(history: &[AttemptInfo]) -> bool {
    history.len() > 1 || history.iter().any(|a| !clean(a))
}

fn clean(a: &AttemptInfo) -> bool {
    let a = &a.attempt;
    a.finished_at.is_some()
        && a.exit == Some(0)
        && a.signal.is_none()
        && !a.timed_out
        && !a.cancelled
        && !a.interrupted
        && a.expect_matched != Some(false)
}

fn settled_by(s: &StepReport, how: SettledHow, tz: &str) -> String {
    match &s.settled {
        Some(st) if st.how == how => format!(" ({} by {})", at(st.at, tz), esc(&st.by)),
        _ => String::new(),
    }
}

fn result(m: &MessageReport) -> String {
    let r = &m.record;
    match m.result {
        "sent_by_hand" => "marked sent by hand".to_string(),
        "sent" => "sent".to_string(),
        _ => match (&r.detail, r.exit) {
            (Some(d), _) => format!("**failed**: {}", esc(d)),
            (None, Some(code)) => format!("**failed** (exit {code})"),
            (None, None) => "**failed**".to_string(),
        },
    }
}

fn artifact_cells(a: Option<&ArtifactReport>) -> (String, String) {
    let Some(a) = a else {
        return (dash(), dash());
    };
    if let Some(problem) = &a.problem {
        return (code(&a.path), format!("cannot render: {}", esc(problem)));
    }
    let size = match a.size_bytes {
        Some(n) => format!("{} ({n} bytes)", crate::runner::output::human_size(n)),
        None if a.location != a.path => format!("not found at {}", code(&a.location)),
        None => "not found".to_string(),
    };
    (code(&a.path), size)
}

/// A table cell: a `|` would end the cell, so every one is escaped (inside code spans
/// too, which GitHub-flavoured tables require).
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// Text from a runbook, an operator or a command, made safe to put inline: a line break
/// becomes `<br>`, so nothing can start a block of its own; `<` and `&` cannot open HTML
/// or an entity; `](` cannot close a link; and emphasis and code marks show as typed.
/// Punctuation that cannot do harm where it stands (`_` inside a word, a lone `[`) is
/// left alone, so the raw text still reads well in a ticket that shows it unrendered.
pub fn esc(text: &str) -> String {
    let text = masked(text).replace("\r\n", "\n").replace('\r', "\n");
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let word = |j: Option<usize>| {
            j.and_then(|j| chars.get(j))
                .is_some_and(|c| c.is_alphanumeric())
        };
        let intraword = word(i.checked_sub(1)) && word(Some(i + 1));
        match c {
            '\\' | '`' | '*' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '_' if !intraword => out.push_str("\\_"),
            ']' if chars.get(i + 1) == Some(&'(') => out.push_str("\\]"),
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
    visible(&out, false)
}

/// An inline code span that holds `text` whatever backticks it contains.
pub fn code(text: &str) -> String {
    if text.is_empty() {
        return dash();
    }
    let text = masked(text);
    let text = visible(&text.replace("\r\n", " ").replace(['\r', '\n'], " "), false);
    let ticks = "`".repeat(longest_run(&text, '`') + 1);
    // A span that starts or ends with a backtick needs a space inside its delimiters.
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

/// Control characters (a stray escape sequence from a command, say) written as
/// `\u{1b}` rather than sent to whoever reads the report in a terminal.
fn visible(text: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\t' && !(keep_newlines && c == '\n') {
            let _ = write!(out, "{}", c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

fn longest_run(text: &str, ch: char) -> usize {
    let mut best = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == ch {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_text_cannot_start_blocks_or_links() {
        assert_eq!(
            esc("# x\n- y [a](b) ![i](j) <b> *c* `d` & e"),
            "# x<br>- y [a\\](b) ![i\\](j) &lt;b> \\*c\\* \\`d\\` &amp; e"
        );
        assert_eq!(esc("snake_case _em_ [x]"), "snake_case \\_em\\_ [x]");
        assert_eq!(esc("a\\b"), "a\\\\b");
        assert_eq!(esc("\u{1b}[31m"), "\\u{1b}[31m");
    }

    #[test]
    fn a_heading_keeps_its_trailing_hash() {
        let mut md = Md {
            out: String::new(),
            tz: "UTC".into(),
        };
        md.heading(2, "Upgrade to C#");
        assert_eq!(md.out, "## Upgrade to C\\#\n\n");
    }

    #[test]
    fn cells_escape_every_pipe() {
        assert_eq!(cell(&esc("a | b")), "a \\| b");
        assert_eq!(cell(&code("x|y")), "`x\\|y`");
    }

    #[test]
    fn code_spans_outgrow_the_backticks_inside() {
        assert_eq!(code("plain"), "`plain`");
        assert_eq!(code("a ` b"), "``a ` b``");
        assert_eq!(code("`x`"), "`` `x` ``");
        assert_eq!(code("two\nlines"), "`two lines`");
    }

    #[test]
    fn fences_outgrow_the_backticks_inside() {
        let mut md = Md {
            out: String::new(),
            tz: "UTC".into(),
        };
        md.fenced("text", "before\n`````\nafter");
        assert_eq!(md.out, "``````text\nbefore\n`````\nafter\n``````\n\n");
        let mut md = Md {
            out: String::new(),
            tz: "UTC".into(),
        };
        md.fenced("", "no ticks\n");
        assert_eq!(md.out, "```\nno ticks\n```\n\n");
    }
}
