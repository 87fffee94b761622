//! `cutover verify`, the library half: an offline integrity check of one session folder.
//! It reads the journal, the runbook copy and the task files, and changes nothing (no
//! lock, no truncation, no file created), so it is safe on a session someone is driving.
//!
//! What is an error and what is a warning follows one rule: an **error** is something no
//! crash, kill or power loss of cutover can produce, so the session's record can no
//! longer be trusted (damage before the last line, a forged or reordered record, a
//! changed runbook copy, a task's output gone although its supervisor durably recorded
//! it ran). A **warning** is what an interrupted process legitimately leaves behind, or
//! something odd that changes nothing `resume` or `report` would do (a torn last line,
//! a task that never got to start, a stray file in `tasks/`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use jiff::Timestamp;
use serde::Serialize;

use super::event::{Event, Record};
use super::journal::{self, JournalError};
use super::store::SessionPaths;
use crate::runbook::model::StepKind;
use crate::runbook::{Runbook, sha256_hex};
use crate::runner::task::{ExitRecord, TaskDir, TaskId, describe_end};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// The checks, in the order `cutover verify` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    /// Every line decodes: checksum, then JSON with only the fields cutover writes.
    Lines,
    /// Sequence numbers start at 1 and step by 1.
    Sequence,
    /// The first record is `session_started`, and there is only one.
    FirstRecord,
    /// A last line without its newline (or failing its checksum): what a crash
    /// mid-write leaves, and what `resume` cuts off.
    TornTail,
    /// `runbook.toml` is readable, matches the recorded sha256, and parses.
    Runbook,
    /// Every step and backup the journal names is in the runbook copy.
    Names,
    /// The files under `tasks/` agree with the journal.
    Tasks,
}

impl Check {
    pub const ALL: [Check; 7] = [
        Check::Lines,
        Check::Sequence,
        Check::FirstRecord,
        Check::TornTail,
        Check::Runbook,
        Check::Names,
        Check::Tasks,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Check::Lines => "records",
            Check::Sequence => "sequence",
            Check::FirstRecord => "first record",
            Check::TornTail => "torn tail",
            Check::Runbook => "runbook copy",
            Check::Names => "names",
            Check::Tasks => "task files",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub severity: Severity,
    /// snake_case, stable: scripts match on it.
    pub kind: &'static str,
    pub message: String,
    /// Byte offset of the journal line it is about, if it is about one.
    pub offset: Option<u64>,
    /// 1-based line number of that journal line.
    pub line: Option<usize>,
    #[serde(skip)]
    pub check: Check,
}

/// The result, serialized as `cutover verify --json` prints it (fields documented in the
/// README; other tools build on this shape, so it only ever gains fields).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub session: String,
    /// False iff any problem is an error.
    pub ok: bool,
    /// Lines that decode, wherever they are (the torn tail is not counted).
    pub records: usize,
    /// The sequence number of the last line that decodes (0 when none does).
    pub last_seq: u64,
    /// Bytes at the end that `resume` would cut off as a torn write.
    pub torn_tail_bytes: u64,
    pub problems: Vec<Problem>,
    /// One line per check for the text output: what was looked at when it passed, or
    /// why it could not be done.
    #[serde(skip)]
    pub summaries: BTreeMap<Check, String>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }
    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }
    fn count(&self, severity: Severity) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == severity)
            .count()
    }
}

/// Where a record sits in the journal file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct At {
    offset: u64,
    line: usize,
}

struct Found {
    problems: Vec<Problem>,
    summaries: BTreeMap<Check, String>,
}

impl Found {
    fn add(
        &mut self,
        check: Check,
        severity: Severity,
        kind: &'static str,
        message: String,
        at: Option<At>,
    ) {
        self.problems.push(Problem {
            severity,
            kind,
            message,
            offset: at.map(|a| a.offset),
            line: at.map(|a| a.line),
            check,
        });
    }
    fn error(&mut self, check: Check, kind: &'static str, message: String, at: Option<At>) {
        self.add(check, Severity::Error, kind, message, at);
    }
    fn warn(&mut self, check: Check, kind: &'static str, message: String, at: Option<At>) {
        self.add(check, Severity::Warning, kind, message, at);
    }
    fn summary(&mut self, check: Check, text: impl Into<String>) {
        self.summaries.insert(check, text.into());
    }
}

/// Checks the session in `paths`. Fails only when the journal cannot be read at all;
/// everything wrong inside it is a [`Problem`].
pub fn verify(paths: &SessionPaths) -> Result<Report, JournalError> {
    let path = paths.journal();
    let bytes = std::fs::read(&path).map_err(|source| JournalError::Io {
        action: "read",
        path: path.clone(),
        source,
    })?;
    let mut found = Found {
        problems: Vec::new(),
        summaries: BTreeMap::new(),
    };
    let scan = scan(&bytes, &mut found);
    check_first(&scan.records, &mut found);
    let runbook = check_runbook(paths, &scan.records, &mut found);
    match &runbook {
        Some(rb) => {
            check_names(rb, &scan.records, &mut found);
            // An unreadable line may be the start of a task: checking the files against
            // the rest would only add guesses (orphans) to the damage already reported.
            if scan.damaged == 0 {
                check_tasks(&TaskDir::new(&paths.dir), rb, &scan.records, &mut found);
            } else {
                found.summary(
                    Check::Tasks,
                    "not checked: which tasks the journal started is unknown past its damage",
                );
            }
        }
        None => {
            let why = "not checked: there is no runbook copy to check against";
            found.summary(Check::Names, why);
            found.summary(Check::Tasks, why);
        }
    }
    let Found {
        mut problems,
        summaries,
    } = found;
    // Grouped by check (stable, so each check keeps its file order).
    problems.sort_by_key(|p| p.check);
    let ok = !problems.iter().any(|p| p.severity == Severity::Error);
    Ok(Report {
        session: paths.id.clone(),
        ok,
        records: scan.records.len(),
        last_seq: scan.records.last().map_or(0, |(r, _)| r.seq),
        torn_tail_bytes: scan.torn_tail_bytes,
        problems,
        summaries,
    })
}

struct Scanned {
    records: Vec<(Record, At)>,
    torn_tail_bytes: u64,
    /// Lines before the end that cannot be read.
    damaged: usize,
}

/// Reads every line, going on past damage so that one run lists all of it.
fn scan(bytes: &[u8], found: &mut Found) -> Scanned {
    let mut records: Vec<(Record, At)> = Vec::new();
    let mut torn_tail_bytes = 0u64;
    let mut offset = 0usize;
    let mut line_no = 0usize;
    let mut lines = 0usize;
    let mut damaged = 0usize;
    // `None` right after an unreadable line: its seq is unknown, so the next readable
    // one starts a new run instead of being reported as a gap the damage explains.
    let mut expected: Option<u64> = Some(1);
    let mut seq_problems = 0usize;
    while offset < bytes.len() {
        line_no += 1;
        let rest = &bytes[offset..];
        let (line, has_newline) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], true),
            None => (rest, false),
        };
        let next = offset + line.len() + usize::from(has_newline);
        let is_last = next >= bytes.len();
        let at = At {
            offset: offset as u64,
            line: line_no,
        };
        // One write() carries a whole line with its newline, so a last line without it
        // was never acknowledged: not damage, whatever it holds. resume cuts it.
        if !has_newline {
            torn_tail_bytes = line.len() as u64;
            found.warn(
                Check::TornTail,
                "torn_tail",
                format!(
                    "the last line ends without a newline: {} bytes of a record that was \
                     never acknowledged (a crash mid-write); resume cuts them off",
                    line.len()
                ),
                Some(at),
            );
            break;
        }
        lines += 1;
        match journal::decode(line) {
            Err(reason) => {
                let checksum_passed = reason.starts_with("unreadable record");
                // A whole last line that fails its checksum is a torn write too (blocks
                // of one write can reach the disk out of order before a power cut), and
                // resume cuts it like one. A line whose checksum *holds* but that still
                // does not read was written whole by something that is not this
                // cutover: that is never a torn write.
                if is_last && !checksum_passed {
                    torn_tail_bytes = (line.len() + 1) as u64;
                    lines -= 1;
                    found.warn(
                        Check::TornTail,
                        "torn_tail",
                        format!(
                            "the last line ({} bytes) is damaged ({reason}): resume cuts it \
                             off as a torn write; it is lost if it was ever shown as saved",
                            line.len() + 1
                        ),
                        Some(at),
                    );
                    break;
                }
                damaged += 1;
                expected = None;
                let (kind, message) = explain(line, &reason);
                found.error(Check::Lines, kind, message, Some(at));
            }
            Ok(record) => {
                if let Some(want) = expected
                    && record.seq != want
                {
                    seq_problems += 1;
                    let (kind, message) = if want == 1 {
                        (
                            "seq_start",
                            format!("the first record has seq {} instead of 1", record.seq),
                        )
                    } else if record.seq > want {
                        (
                            "seq_gap",
                            format!(
                                "seq {} follows seq {}: record{} {} missing",
                                record.seq,
                                want - 1,
                                if record.seq - want == 1 { "" } else { "s" },
                                if record.seq - want == 1 {
                                    format!("#{want} is")
                                } else {
                                    format!("#{want} to #{} are", record.seq - 1)
                                }
                            ),
                        )
                    } else {
                        (
                            "seq_out_of_order",
                            format!(
                                "seq {} follows seq {}: a record repeated or moved",
                                record.seq,
                                want - 1
                            ),
                        )
                    };
                    found.error(Check::Sequence, kind, message, Some(at));
                }
                expected = Some(record.seq + 1);
                records.push((record, at));
            }
        }
        offset = next;
    }
    if damaged == 0 {
        found.summary(
            Check::Lines,
            format!("{lines} line(s), each with a valid checksum and known fields"),
        );
    } else {
        found.summary(
            Check::Lines,
            format!("{damaged} of {lines} line(s) cannot be read"),
        );
    }
    match (records.first(), records.last()) {
        (Some((first, _)), Some((last, _))) if seq_problems == 0 => found.summary(
            Check::Sequence,
            if damaged == 0 {
                format!("#{} to #{}, no gap", first.seq, last.seq)
            } else {
                format!(
                    "#{} to #{}, no gap between the records that read",
                    first.seq, last.seq
                )
            },
        ),
        (Some(_), Some(_)) => found.summary(Check::Sequence, format!("{seq_problems} break(s)")),
        _ => found.summary(Check::Sequence, "no record to check"),
    }
    if torn_tail_bytes == 0 {
        found.summary(Check::TornTail, "none");
    } else {
        found.summary(
            Check::TornTail,
            format!("{torn_tail_bytes} bytes (not damage: resume cuts them off)"),
        );
    }
    Scanned {
        records,
        torn_tail_bytes,
        damaged,
    }
}

/// The kind and a message for a line `journal::decode` refused.
fn explain(line: &[u8], reason: &str) -> (&'static str, String) {
    let Some(detail) = reason.strip_prefix("unreadable record: ") else {
        let kind = if reason.starts_with("checksum mismatch") {
            "checksum_mismatch"
        } else if reason == "not UTF-8" {
            "not_utf8"
        } else {
            "no_checksum"
        };
        return (kind, format!("{reason}: the line was changed or damaged"));
    };
    // serde_json's position is within this one line; the line itself is given apart.
    let detail = match detail.rsplit_once(" at line 1 column ") {
        Some((text, col)) if col.chars().all(|c| c.is_ascii_digit()) => {
            format!("{text} (column {col})")
        }
        _ => detail.to_string(),
    };
    // The checksum held, so the line is the JSON it was sealed as: name the event it
    // claims to be, for a message about *which* record carries the stray field.
    let claimed = serde_json::from_slice::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v["event"]["type"].as_str().map(str::to_string));
    let kind = if detail.contains("unknown event type") {
        "unknown_event_type"
    } else if detail.contains("unknown field") {
        "unknown_field"
    } else if detail.contains("duplicate field") {
        "duplicate_field"
    } else {
        "unreadable_record"
    };
    let what = match (&claimed, kind) {
        (_, "unknown_event_type") | (None, _) => "a record".to_string(),
        (Some(t), _) => format!("a `{t}` record"),
    };
    (
        kind,
        format!(
            "{what} with a valid checksum that this cutover does not write: {detail}; \
             forged, or written by another version of cutover"
        ),
    )
}

fn check_first(records: &[(Record, At)], found: &mut Found) {
    let mut ok = true;
    match records.first() {
        None => {
            ok = false;
            found.error(
                Check::FirstRecord,
                "no_records",
                "the journal holds no readable record, so not even which runbook the \
                 session ran"
                    .into(),
                None,
            );
        }
        Some((r, at)) if !matches!(r.event, Event::SessionStarted { .. }) => {
            ok = false;
            found.error(
                Check::FirstRecord,
                "first_record",
                format!(
                    "the first readable record is `{}`, not `session_started`",
                    r.event.type_name()
                ),
                Some(*at),
            );
        }
        Some(_) => {}
    }
    for (r, at) in records.iter().skip(1) {
        if matches!(r.event, Event::SessionStarted { .. }) {
            ok = false;
            found.error(
                Check::FirstRecord,
                "session_started_again",
                format!(
                    "a second `session_started` (seq {}): a session starts once",
                    r.seq
                ),
                Some(*at),
            );
        }
    }
    if ok {
        found.summary(Check::FirstRecord, "session_started, once");
    } else {
        found.summary(Check::FirstRecord, "wrong");
    }
}

/// The runbook copy, when it is the one the session started with and it parses.
fn check_runbook(
    paths: &SessionPaths,
    records: &[(Record, At)],
    found: &mut Found,
) -> Option<Runbook> {
    let started = records.iter().find_map(|(r, at)| match &r.event {
        Event::SessionStarted {
            runbook_path,
            runbook_sha256,
            ..
        } => Some((runbook_path, runbook_sha256, *at)),
        _ => None,
    });
    let Some((origin, want, at)) = started else {
        found.summary(
            Check::Runbook,
            "not checked: no session_started records its sha256",
        );
        return None;
    };
    let copy = paths.runbook();
    let source = match std::fs::read(&copy) {
        Ok(bytes) => bytes,
        Err(e) => {
            found.error(
                Check::Runbook,
                "runbook_unreadable",
                format!("cannot read the runbook copy {}: {e}", copy.display()),
                None,
            );
            found.summary(Check::Runbook, "unreadable");
            return None;
        }
    };
    let got = sha256_hex(&source);
    if &got != want {
        found.error(
            Check::Runbook,
            "runbook_changed",
            format!(
                "the runbook copy {} was changed after the session started: sha256 {got}, \
                 session_started records {want}",
                copy.display()
            ),
            Some(at),
        );
        found.summary(Check::Runbook, "changed");
        return None;
    }
    let parsed = std::str::from_utf8(&source)
        .map_err(|e| format!("it is not UTF-8: {e}"))
        .and_then(|text| {
            let label = format!("{} (copy of {origin})", copy.display());
            Runbook::parse(&label, text).map_err(|e| e.render())
        });
    match parsed {
        Ok(rb) => {
            found.summary(
                Check::Runbook,
                format!("sha256 {} as recorded, and it parses", short(&got)),
            );
            Some(rb)
        }
        Err(why) => {
            // The digest matches, so this is the very text the session started with:
            // a cutover that no longer accepts it (or a forged digest) is the cause.
            found.error(
                Check::Runbook,
                "runbook_invalid",
                format!(
                    "the runbook copy {} matches its sha256 but does not parse:\n{}",
                    copy.display(),
                    why.trim_end()
                ),
                None,
            );
            found.summary(Check::Runbook, "does not parse");
            None
        }
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Steps and backups named by a record are in the runbook. The runbook copy is the one
/// the session started with (its digest was just checked), and cutover only ever names
/// what it read there, so a stranger is a forged or foreign record: an error.
fn check_names(rb: &Runbook, records: &[(Record, At)], found: &mut Found) {
    let mut bad = 0usize;
    for (r, at) in records {
        let (steps, backups) = names(&r.event);
        for s in steps.iter().filter(|s| rb.step(s).is_none()) {
            bad += 1;
            found.error(
                Check::Names,
                "unknown_step",
                format!(
                    "`{}` (seq {}) names step `{s}`, which the runbook copy does not have",
                    r.event.type_name(),
                    r.seq
                ),
                Some(*at),
            );
        }
        for b in backups.iter().filter(|b| rb.backup(b).is_none()) {
            bad += 1;
            found.error(
                Check::Names,
                "unknown_backup",
                format!(
                    "`{}` (seq {}) names backup `{b}`, which the runbook copy does not have",
                    r.event.type_name(),
                    r.seq
                ),
                Some(*at),
            );
        }
    }
    if bad == 0 {
        found.summary(
            Check::Names,
            "every step and backup named is in the runbook copy",
        );
    } else {
        found.summary(Check::Names, format!("{bad} unknown"));
    }
}

/// The steps and backups an event is about.
fn names(event: &Event) -> (Vec<&str>, Vec<&str>) {
    match event {
        Event::StepStarted { step, .. }
        | Event::StepFinished { step, .. }
        | Event::StepFailed { step, .. }
        | Event::StepDone { step }
        | Event::StepSkipped { step, .. }
        | Event::StepReopened { step }
        | Event::StepInterrupted { step, .. }
        | Event::NoteAdded { step, .. } => (vec![step.as_str()], Vec::new()),
        Event::GateOverridden { step, unmet, .. } => (
            std::iter::once(step.as_str())
                .chain(unmet.iter().map(String::as_str))
                .collect(),
            Vec::new(),
        ),
        Event::MessageSending { step, .. } | Event::MessageSent { step, .. } => {
            (step.iter().map(String::as_str).collect(), Vec::new())
        }
        Event::BackupStarted { backup, .. }
        | Event::BackupFinished { backup, .. }
        | Event::BackupVerified { backup, .. }
        | Event::BackupInterrupted { backup, .. } => (Vec::new(), vec![backup.as_str()]),
        Event::SessionStarted { .. }
        | Event::SessionResumed { .. }
        | Event::WindowExtended { .. }
        | Event::RollbackStarted { .. }
        | Event::MessageSaved { .. }
        | Event::SessionFinished { .. } => (Vec::new(), Vec::new()),
    }
}

/// How the journal says a task ended, in the terms of its exit record.
#[derive(Debug, Clone, PartialEq)]
enum End {
    /// No end recorded (yet): running, or finished while nobody watched.
    Open,
    /// Its supervisor vanished without an exit record.
    Interrupted(At),
    /// Ended, as read from its exit record when it was recorded.
    Finished(Outcome, At),
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Command {
        exit: Option<i32>,
        signal: Option<i32>,
        timed_out: bool,
        cancelled: bool,
        /// `None` for backups, whose event does not carry it.
        expect_matched: Option<Option<bool>>,
        ended: Option<Timestamp>,
    },
    /// A backup's verify: only whether it passed.
    Verify { ok: bool, ended: Option<Timestamp> },
}

impl Outcome {
    fn describe(&self) -> String {
        match self {
            Outcome::Command {
                exit,
                signal,
                timed_out,
                cancelled,
                expect_matched,
                ..
            } => describe_end(
                *exit,
                *signal,
                *timed_out,
                *cancelled,
                expect_matched.flatten(),
            ),
            Outcome::Verify { ok: true, .. } => "passed".into(),
            Outcome::Verify { ok: false, .. } => "failed".into(),
        }
    }

    /// The differences from `rec`, in words (empty when they agree).
    fn differences(&self, rec: &ExitRecord) -> Vec<String> {
        let mut out = Vec::new();
        let ended = match self {
            Outcome::Command {
                exit,
                signal,
                timed_out,
                cancelled,
                expect_matched,
                ended,
            } => {
                if *exit != rec.exit || *signal != rec.signal {
                    out.push("exit".into());
                }
                if *timed_out != rec.timed_out {
                    out.push("timed out".into());
                }
                if *cancelled != rec.cancelled {
                    out.push("cancelled".into());
                }
                if let Some(m) = expect_matched
                    && *m != rec.expect_matched
                {
                    out.push("expected output".into());
                }
                ended
            }
            Outcome::Verify { ok, ended } => {
                if *ok != rec.success() {
                    out.push("passed".into());
                }
                ended
            }
        };
        if let Some(t) = ended
            && *t != rec.ended
        {
            out.push(format!("end time ({t} against {})", rec.ended));
        }
        out
    }
}

struct Expected {
    start: At,
    end: End,
}

/// The files of one task found under `tasks/`.
#[derive(Debug, Default)]
struct Files {
    log: bool,
    exit: bool,
    pid: bool,
    spec: bool,
}

/// Task files against the journal. The rules, each with why it is an error or not:
///
/// - A journaled start whose task has no log, although its exit or pid record exists or
///   the journal holds its result: **error**. The supervisor opens the log before it
///   durably writes its pid record, and an exit record of a command that never started
///   (`error` set) is the only one written without a log; nothing but deletion loses it.
/// - A journaled start with no file at all and no result: **warning**. cutover died
///   between saving the start and spawning the supervisor (the start is saved first, on
///   purpose), and resume reports the step interrupted.
/// - A result in the journal that its exit record contradicts: **error**. The journal's
///   result was copied from that record, so one of the two was altered.
/// - A journaled result whose exit record is gone while the log is there: **warning**.
///   The journal already holds what the record said; it is odd, not a loss.
/// - An exit record for a task the journal calls interrupted: **warning**. A supervisor
///   that finished after being given up on: its real result is shown, not trusted.
/// - Task files the journal never started: **warning**. Starts are saved before the
///   spawn, so they are suspicious, but they change nothing resume or report does.
/// - An exit record that does not parse: **error**. It is written whole (temp, fsync,
///   rename), and resume relies on it to finish a step that ended while detached.
fn check_tasks(dir: &TaskDir, rb: &Runbook, records: &[(Record, At)], found: &mut Found) {
    let (expected, allowed) = expected_tasks(rb, records);
    let (on_disk, stray) = task_files(&dir.dir);
    let before = found.problems.len();
    for name in &stray {
        found.warn(
            Check::Tasks,
            "unknown_task_file",
            format!(
                "{} is not a file cutover writes",
                dir.dir.join(name).display()
            ),
            None,
        );
    }
    for (task, exp) in &expected {
        let files = on_disk.get(task);
        check_task(dir, task, exp, files, found);
    }
    for (task, files) in &on_disk {
        if expected.contains_key(task) || allowed.contains(task) {
            continue;
        }
        let kinds = [
            (files.log, "log"),
            (files.exit, "exit record"),
            (files.pid, "pid record"),
            (files.spec, "spec"),
        ]
        .iter()
        .filter(|(has, _)| *has)
        .map(|(_, what)| *what)
        .collect::<Vec<_>>()
        .join(", ");
        found.warn(
            Check::Tasks,
            "orphan_task_file",
            format!(
                "files of {task} ({kinds}, {}/{}.*) but the journal never started it",
                dir.dir.display(),
                task.name()
            ),
            None,
        );
    }
    let problems = found.problems.len() - before;
    found.summary(
        Check::Tasks,
        if problems == 0 {
            format!(
                "{} task(s) started by the journal, {} found in {}, consistent",
                expected.len(),
                on_disk.len(),
                dir.dir.display()
            )
        } else {
            format!("{problems} problem(s) in {}", dir.dir.display())
        },
    );
}

fn check_task(
    dir: &TaskDir,
    task: &TaskId,
    exp: &Expected,
    files: Option<&Files>,
    found: &mut Found,
) {
    let none = Files::default();
    let files = files.unwrap_or(&none);
    let exit = if files.exit {
        match dir.read_exit(task) {
            Ok(rec) => rec,
            Err(e) => {
                found.error(
                    Check::Tasks,
                    "bad_exit_record",
                    format!("the exit record of {task} cannot be read: {e}"),
                    Some(exp.start),
                );
                None
            }
        }
    } else {
        None
    };
    let log = dir.log(task);
    let not_started = exit.as_ref().is_some_and(|e| e.error.is_some());
    if !files.log && !not_started {
        let finished_at = match &exp.end {
            End::Finished(_, at) => Some(*at),
            _ => None,
        };
        if files.exit || files.pid || finished_at.is_some() {
            let evidence = if files.exit {
                "its exit record is there".to_string()
            } else if files.pid {
                "its pid record is there".to_string()
            } else {
                format!(
                    "the journal holds its result (line {}) but its exit record is gone too",
                    finished_at.map_or(0, |a| a.line)
                )
            };
            found.error(
                Check::Tasks,
                "missing_task_log",
                format!(
                    "{task} ran under a supervisor but its log {} is missing: {evidence}",
                    log.display()
                ),
                Some(exp.start),
            );
        } else {
            found.warn(
                Check::Tasks,
                "task_never_started",
                format!(
                    "{task} was started in the journal but left no file{}: cutover stopped \
                     between saving the start and starting its supervisor",
                    if files.spec { " but its spec" } else { "" }
                ),
                Some(exp.start),
            );
        }
    }
    match (&exp.end, &exit) {
        (End::Finished(outcome, at), Some(rec)) => {
            let diff = outcome.differences(rec);
            if !diff.is_empty() {
                found.error(
                    Check::Tasks,
                    "exit_mismatch",
                    format!(
                        "the journal says {task} ended: {}, its exit record {} says: {} \
                         (they differ in {})",
                        outcome.describe(),
                        dir.exit(task).display(),
                        rec.describe(),
                        diff.join(", ")
                    ),
                    Some(*at),
                );
            }
        }
        (End::Finished(_, at), None) if files.log && !files.exit => {
            found.warn(
                Check::Tasks,
                "missing_exit_record",
                format!(
                    "the journal holds the result of {task}, but its exit record {} is gone",
                    dir.exit(task).display()
                ),
                Some(*at),
            );
        }
        (End::Interrupted(at), Some(rec)) => {
            found.warn(
                Check::Tasks,
                "exit_after_interrupt",
                format!(
                    "the journal gave {task} up as interrupted, but its supervisor recorded \
                     an end after all: {}",
                    rec.describe()
                ),
                Some(*at),
            );
        }
        _ => {}
    }
}

/// The tasks the journal started (with how it says they ended), and the verify tasks
/// it allows without knowing whether they started (a backup finished well, and the
/// verify is spawned right after that is saved, without a record of its own).
fn expected_tasks(
    rb: &Runbook,
    records: &[(Record, At)],
) -> (BTreeMap<TaskId, Expected>, BTreeSet<TaskId>) {
    let mut expected: BTreeMap<TaskId, Expected> = BTreeMap::new();
    let mut allowed: BTreeSet<TaskId> = BTreeSet::new();
    let mut last_finished: BTreeMap<&str, u32> = BTreeMap::new();
    let end = |expected: &mut BTreeMap<TaskId, Expected>, task: TaskId, end: End| {
        if let Some(e) = expected.get_mut(&task) {
            e.end = end;
        }
    };
    for (r, at) in records {
        match &r.event {
            // Only a command step runs a task of its own; a backup step's tasks are its
            // backups, started by their own records.
            Event::StepStarted { step, attempt }
                if rb.step(step).is_some_and(|s| s.kind() == StepKind::Command) =>
            {
                expected.insert(
                    TaskId::step(step, *attempt),
                    Expected {
                        start: *at,
                        end: End::Open,
                    },
                );
            }
            Event::StepFinished {
                step,
                attempt,
                exit,
                signal,
                timed_out,
                cancelled,
                expect_matched,
                ended,
                ..
            } => end(
                &mut expected,
                TaskId::step(step, *attempt),
                End::Finished(
                    Outcome::Command {
                        exit: *exit,
                        signal: *signal,
                        timed_out: *timed_out,
                        cancelled: *cancelled,
                        expect_matched: Some(*expect_matched),
                        ended: *ended,
                    },
                    *at,
                ),
            ),
            Event::StepInterrupted { step, attempt } => end(
                &mut expected,
                TaskId::step(step, *attempt),
                End::Interrupted(*at),
            ),
            Event::BackupStarted { backup, attempt } => {
                expected.insert(
                    TaskId::backup(backup, *attempt),
                    Expected {
                        start: *at,
                        end: End::Open,
                    },
                );
            }
            Event::BackupFinished {
                backup,
                attempt,
                exit,
                signal,
                timed_out,
                cancelled,
                ended,
                ..
            } => {
                end(
                    &mut expected,
                    TaskId::backup(backup, *attempt),
                    End::Finished(
                        Outcome::Command {
                            exit: *exit,
                            signal: *signal,
                            timed_out: *timed_out,
                            cancelled: *cancelled,
                            expect_matched: None,
                            ended: *ended,
                        },
                        *at,
                    ),
                );
                last_finished.insert(backup, *attempt);
                allowed.insert(TaskId::verify(backup, *attempt));
            }
            Event::BackupVerified {
                backup, ok, ended, ..
            } => {
                let Some(&attempt) = last_finished.get(backup.as_str()) else {
                    continue;
                };
                let task = TaskId::verify(backup, attempt);
                // `ended` is set only when the result came from the verify's exit
                // record; without it the verify was lost (interrupted).
                let end = match ended {
                    Some(_) => End::Finished(
                        Outcome::Verify {
                            ok: *ok,
                            ended: *ended,
                        },
                        *at,
                    ),
                    None => End::Interrupted(*at),
                };
                expected.insert(task, Expected { start: *at, end });
            }
            Event::BackupInterrupted { backup, attempt } => end(
                &mut expected,
                TaskId::backup(backup, *attempt),
                End::Interrupted(*at),
            ),
            _ => {}
        }
    }
    (expected, allowed)
}

/// The tasks that have files under `dir`, and the names of files that are no task's.
/// Temp files of an interrupted write (`*.tmp`) are skipped: a crash between writing and
/// renaming leaves them, and nothing reads them.
fn task_files(dir: &Path) -> (BTreeMap<TaskId, Files>, Vec<String>) {
    let mut tasks: BTreeMap<TaskId, Files> = BTreeMap::new();
    let mut stray = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (tasks, stray);
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        if name.ends_with(".tmp") {
            continue;
        }
        match parse_task_file(&name) {
            Some((task, ext)) => {
                let f = tasks.entry(task).or_default();
                match ext {
                    "log" => f.log = true,
                    "exit" => f.exit = true,
                    "pid" => f.pid = true,
                    _ => f.spec = true,
                }
            }
            None => stray.push(name),
        }
    }
    (tasks, stray)
}

/// `step-helm-upgrade-2.log` → (step `helm-upgrade` attempt 2, `log`), as
/// [`TaskId::name`] and [`TaskDir`] name them.
fn parse_task_file(name: &str) -> Option<(TaskId, &'static str)> {
    let (stem, ext) = [".spec.json", ".log", ".exit", ".pid"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext).map(|s| (s, &ext[1..])))?;
    let (kind, rest) = stem.split_once('-')?;
    let (id, attempt) = rest.rsplit_once('-')?;
    let attempt: u32 = attempt.parse().ok()?;
    if id.is_empty() {
        return None;
    }
    let task = match kind {
        "step" => TaskId::step(id, attempt),
        "backup" => TaskId::backup(id, attempt),
        "verify" => TaskId::verify(id, attempt),
        _ => return None,
    };
    // The exact name back, so `step-x-01.log` is not taken for attempt 1's.
    (task.name() == stem).then_some((task, ext))
}

/// Where a journal is damaged before its last line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Damage {
    pub offset: u64,
    pub line: usize,
    pub reason: String,
}

/// The records of a journal up to the first damage, for views that should show what can
/// be shown (`status`) instead of refusing outright. Resume still refuses such a journal.
#[derive(Debug, Clone)]
pub struct Prefix {
    pub records: Vec<Record>,
    /// Bytes of a torn last line (0 when the journal is damaged: it ends earlier).
    pub torn_tail_bytes: u64,
    pub damage: Option<Damage>,
}

/// Reads `path` like `journal::read`, except that damage before the last line ends the
/// records instead of failing: the records before it read, with where and why it is
/// damaged. The offset is the one `resume` names, as it comes from the same reader.
pub fn read_prefix(path: &Path) -> Result<Prefix, JournalError> {
    match journal::read(path) {
        Ok((records, report)) => Ok(Prefix {
            records,
            torn_tail_bytes: report.truncated_bytes,
            damage: None,
        }),
        Err(JournalError::Corrupt {
            offset,
            line,
            reason,
            ..
        }) => {
            let bytes = std::fs::read(path).map_err(|source| JournalError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            })?;
            let end = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            // Every line before `offset` just decoded; one that no longer does (the
            // file changed between the two reads) ends the prefix there too.
            let records = bytes[..end]
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map_while(|l| journal::decode(l).ok())
                .collect();
            Ok(Prefix {
                records,
                torn_tail_bytes: 0,
                damage: Some(Damage {
                    offset,
                    line,
                    reason,
                }),
            })
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_file_names_parse_back_to_their_task() {
        for (task, ext) in [
            (TaskId::step("helm-upgrade", 2), "log"),
            (TaskId::backup("db", 1), "exit"),
            (TaskId::verify("a.b_c", 10), "pid"),
            (TaskId::step("x", 1), "spec.json"),
        ] {
            let name = format!("{}.{ext}", task.name());
            assert_eq!(parse_task_file(&name), Some((task, ext)), "{name}");
        }
        for bad in [
            "step-x.log",
            "step--1.log",
            "run-x-1.log",
            "step-x-01.log",
            "step-x-1.txt",
            "step-x-one.log",
        ] {
            assert_eq!(parse_task_file(bad), None, "{bad}");
        }
    }
}
