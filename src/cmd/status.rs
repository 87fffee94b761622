//! `cutover status` and `cutover sessions`: read-only views of the store for people and
//! scripts. They never take a lock or change a file.

use std::fmt::Write as _;

use jiff::Timestamp;
use serde::Serialize;

use super::resume::{is_finished, verified_runbook};
use super::{Failure, exit, store_root};
use crate::run::context::local_time;
use crate::run::{RunState, report};
use crate::session::verify::read_prefix;
use crate::session::{Damage, Store, StoreError};

fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::new(exit::IO, format!("cannot encode JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// `status --json`: the status, plus where the journal is damaged (`null` when it is
/// not), so a script reading the state also learns it stops short.
#[derive(Serialize)]
struct StatusJson<'a> {
    #[serde(flatten)]
    status: &'a report::Status,
    damaged: Option<&'a Damage>,
}

/// A journal damaged before its last line still shows the state replayed up to the
/// damage (what the operator needs in the middle of a window), but the command exits 65:
/// a script polling `status` must notice that the state it reads stops short, and an
/// exit code is the one thing every script already checks.
pub fn status(session: Option<&str>, json: bool) -> Result<(), Failure> {
    let (store, paths) = super::existing_session(session)?;
    let id = paths.id.clone();
    let prefix = read_prefix(&paths.journal()).map_err(|e| Failure::from(StoreError::from(e)))?;
    let damaged = |shown: Option<u64>| {
        prefix.damage.as_ref().map(|d| {
            let shown = match shown {
                Some(n) => format!("the state shown stops before it, at saved #{n}"),
                None => "nothing before it tells which runbook the session ran, so no \
                         state can be shown"
                    .to_string(),
            };
            Failure::new(
                exit::DATA,
                format!(
                    "journal {} is damaged at byte offset {} (line {}): {}; {shown}. \
                     `cutover verify {id}` lists every problem; `cutover resume` refuses \
                     this session.",
                    paths.journal().display(),
                    d.offset,
                    d.line,
                    d.reason
                ),
            )
        })
    };
    let records = &prefix.records;
    let runbook = match verified_runbook(&paths, records) {
        Ok(rb) => rb,
        // With nothing to show, the damage is the news (when there is any).
        Err(f) => return Err(damaged(None).unwrap_or(f)),
    };
    let run = RunState::replay(&runbook, records);
    let now = Timestamp::now();
    let status = report::status(&runbook, &run, now, store.holder(&paths));
    let failure = damaged(Some(status.saved));
    if json {
        print_json(&StatusJson {
            status: &status,
            damaged: prefix.damage.as_ref(),
        })?;
        return failure.map_or(Ok(()), Err);
    }
    let tz = &status.window.timezone;
    let mut out = String::new();
    if let Some(d) = &prefix.damage {
        let _ = writeln!(
            out,
            "DAMAGED   the journal is damaged at byte offset {} (line {}): {}\n          \
             shown: the state up to saved #{} only; `cutover verify {id}` tells more\n",
            d.offset, d.line, d.reason, status.saved
        );
    }
    let _ = writeln!(
        out,
        "session   {}{}",
        status.session,
        if status.rehearsal {
            " (REHEARSAL: nothing is executed)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "runbook   {} ({})",
        status.runbook.title, status.runbook.path
    );
    let _ = writeln!(
        out,
        "started   {} by {}",
        status.started_at.map_or("?".into(), |t| local_time(t, tz)),
        status.started_by
    );
    let span = crate::runbook::Duration::from_secs(status.window.seconds).approx();
    let position = match status.window.phase {
        "before" => format!("opens in {span}"),
        "inside" => format!("{span} left"),
        "finished" if status.window.seconds >= 0 => format!("work done {span} before the end"),
        "finished" => format!(
            "work done {} past the end",
            crate::runbook::Duration::from_secs(-status.window.seconds).approx()
        ),
        _ => format!("OVERRUN by {span}"),
    };
    let _ = writeln!(
        out,
        "window    {} – {} ({position})",
        local_time(status.window.start, tz),
        local_time(status.window.end, tz),
    );
    let w = &status.window;
    let _ = writeln!(
        out,
        "verdict   {} (projected finish {}, go/no-go {})",
        w.verdict.word(),
        local_time(w.projected_finish, tz),
        local_time(w.go_no_go, tz),
    );
    if let Some(at) = w.rollback_started {
        let _ = writeln!(out, "rollback  started {}", local_time(at, tz));
    }
    if w.downtime_seconds > 0 {
        let expected = w.expected_downtime_seconds.map_or_else(String::new, |e| {
            format!(" of {} expected", crate::runbook::Duration::from_secs(e))
        });
        let _ = writeln!(
            out,
            "downtime  {}{expected}",
            crate::runbook::Duration::from_secs(w.downtime_seconds)
        );
    }
    if let Some(due) = w.next_update_due {
        let _ = writeln!(
            out,
            "update    next due {}{}",
            local_time(due, tz),
            if w.update_overdue { " (OVERDUE)" } else { "" }
        );
    }
    let _ = writeln!(out, "saved     #{}", status.saved);
    if let Some(by) = &status.open_by {
        let _ = writeln!(out, "open by   {by}");
    }
    if let Some(outcome) = status.finished {
        let _ = writeln!(out, "finished  {outcome:?}");
    }
    if prefix.torn_tail_bytes > 0 {
        let _ = writeln!(
            out,
            "note      the journal ends in a torn line ({} bytes, never shown as saved); resume cuts it off",
            prefix.torn_tail_bytes
        );
    }
    let _ = writeln!(
        out,
        "progress  {}/{} steps settled",
        status.progress.settled, status.progress.total
    );
    let _ = writeln!(out);
    let mut phase = String::new();
    for s in &status.steps {
        if s.phase != phase {
            phase = s.phase.clone();
            let _ = writeln!(
                out,
                "[{phase}]{}",
                if s.contingency { " (contingency)" } else { "" }
            );
        }
        let mut extra = String::new();
        if !s.unmet.is_empty() && s.status == crate::run::StepStatus::Blocked {
            let _ = write!(extra, "  needs {}", s.unmet.join(", "));
        }
        if let Some(r) = &s.skip_reason {
            let _ = write!(extra, "  reason: {r}");
        }
        if !s.notes.is_empty() {
            let _ = write!(extra, "  notes: {}", s.notes.len());
        }
        let _ = writeln!(
            out,
            "  {:<12} {:<28} {}{extra}",
            s.status.word(),
            s.id,
            s.title
        );
    }
    if !status.backups.is_empty() {
        let _ = writeln!(out, "\n[backups]");
        for b in &status.backups {
            let _ = writeln!(out, "  {:<12} {:<28} {}", b.status.word(), b.id, b.title);
        }
    }
    print!("{out}");
    failure.map_or(Ok(()), Err)
}

#[derive(Debug, Serialize)]
pub struct SessionSummary {
    pub id: String,
    pub title: String,
    pub started_at: Option<Timestamp>,
    pub started_by: String,
    pub last_activity: Option<Timestamp>,
    pub saved: u64,
    pub finished: bool,
    pub open_by: Option<String>,
    pub settled: usize,
    pub total: usize,
    /// Set when the session cannot be read (damaged journal, changed runbook copy).
    pub problem: Option<String>,
}

#[derive(Debug, Serialize)]
struct SessionList {
    schema: u32,
    root: String,
    sessions: Vec<SessionSummary>,
}

fn summarize(store: &Store, id: &str) -> SessionSummary {
    let mut summary = SessionSummary {
        id: id.to_string(),
        title: String::new(),
        started_at: None,
        started_by: String::new(),
        last_activity: None,
        saved: 0,
        finished: false,
        open_by: None,
        settled: 0,
        total: 0,
        problem: None,
    };
    let loaded = store
        .existing(id)
        .map_err(|e| e.to_string())
        .and_then(|paths| {
            summary.open_by = store.holder(&paths);
            let (records, _) = paths.read_journal().map_err(|e| e.to_string())?;
            let runbook = verified_runbook(&paths, &records).map_err(|f| f.message)?;
            Ok((records, runbook))
        });
    match loaded {
        Ok((records, runbook)) => {
            let run = RunState::replay(&runbook, &records);
            let (settled, total) = crate::run::plan::progress(&runbook, &run);
            summary.title = runbook.title().to_string();
            summary.started_at = run.started_at;
            summary.started_by = run.started_by.clone();
            summary.last_activity = run.last_event_at;
            summary.saved = run.last_seq;
            summary.finished = is_finished(&records);
            summary.settled = settled;
            summary.total = total;
        }
        Err(problem) => summary.problem = Some(problem),
    }
    summary
}

pub fn sessions(all: bool, json: bool) -> Result<(), Failure> {
    let store = Store::open_existing(store_root()?);
    let sessions: Vec<SessionSummary> = store
        .ids()?
        .iter()
        .rev()
        .map(|id| summarize(&store, id))
        .filter(|s| all || !s.finished)
        .collect();
    if json {
        return print_json(&SessionList {
            schema: report::SCHEMA,
            root: store.root().display().to_string(),
            sessions,
        });
    }
    if sessions.is_empty() {
        println!(
            "no {}sessions in {}",
            if all { "" } else { "unfinished " },
            store.root().display()
        );
        return Ok(());
    }
    println!(
        "{:<22} {:<10} {:<9} {:<17} RUNBOOK",
        "SESSION", "STATE", "PROGRESS", "LAST ACTIVITY"
    );
    for s in &sessions {
        let state = if s.problem.is_some() {
            "damaged"
        } else if s.open_by.is_some() {
            "open"
        } else if s.finished {
            "finished"
        } else {
            "detached"
        };
        let last = s
            .last_activity
            .map_or("?".into(), |t| t.strftime("%Y-%m-%d %H:%M").to_string());
        println!(
            "{:<22} {:<10} {:<9} {:<17} {}",
            s.id,
            state,
            format!("{}/{}", s.settled, s.total),
            last,
            s.problem.as_deref().unwrap_or(&s.title)
        );
        if let Some(by) = &s.open_by {
            println!("{:<22} open by {by}", "");
        }
    }
    Ok(())
}
