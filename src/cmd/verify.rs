//! `cutover verify [SESSION] [--json]`: the offline integrity check of a session, for
//! people (one line per check, then the verdict) and scripts (JSON). It never takes a
//! lock, creates or writes anything, so it can run beside a driver or a watcher.

use std::fmt::Write as _;

use super::{Failure, exit};
use crate::session::JournalError;
use crate::session::store::driver;
use crate::session::verify::{self, Check, Report, Severity};

pub fn run(session: Option<&str>, json: bool) -> Result<(), Failure> {
    let (_, paths) = super::existing_session(session)?;
    let report = verify::verify(&paths).map_err(|e| {
        let code = match e {
            JournalError::Io { .. } => exit::IO,
            _ => exit::DATA,
        };
        Failure::new(code, e.to_string())
    })?;
    if json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Failure::new(exit::IO, format!("cannot encode JSON: {e}")))?;
        println!("{text}");
    } else {
        let open_by = driver(&paths);
        print!("{}", render(&report, &paths.journal(), open_by.as_deref()));
    }
    if report.ok {
        Ok(())
    } else {
        let where_ = if json {
            "the `problems` above"
        } else {
            "the lines above"
        };
        Err(Failure::new(
            exit::DATA,
            format!(
                "session {} is damaged: {} error(s), {} warning(s) ({where_} say where)",
                paths.id,
                report.errors(),
                report.warnings()
            ),
        ))
    }
}

/// The text report: who and what, one line per check with its problems under it, and
/// `ok` or `DAMAGED` last.
fn render(report: &Report, journal: &std::path::Path, open_by: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "session       {}", report.session);
    let _ = writeln!(out, "journal       {}", journal.display());
    if let Some(by) = open_by {
        // Not a problem: an open session appends while this reads, and its last line
        // may be mid-write at this very moment.
        let _ = writeln!(
            out,
            "open by       {by} (records are still being added: run it again after a quit \
             for a settled answer)"
        );
    }
    let _ = writeln!(
        out,
        "read          {} record(s), last seq {}, torn tail {} bytes",
        report.records, report.last_seq, report.torn_tail_bytes
    );
    for check in Check::ALL {
        let problems: Vec<_> = report
            .problems
            .iter()
            .filter(|p| p.check == check)
            .collect();
        let word = if problems.iter().any(|p| p.severity == Severity::Error) {
            "FAIL"
        } else if problems.is_empty() {
            "ok"
        } else {
            "warn"
        };
        let summary = report.summaries.get(&check).map_or("", String::as_str);
        let _ = writeln!(out, "{word:<5} {:<13} {summary}", check.title());
        for p in problems {
            let place = match (p.offset, p.line) {
                (Some(o), Some(l)) => format!(" at byte offset {o} (line {l})"),
                _ => String::new(),
            };
            let sev = match p.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let mut lines = p.message.lines();
            let first = lines.next().unwrap_or("");
            let _ = writeln!(out, "      {sev}: {}{place}: {first}", p.kind);
            for more in lines {
                let _ = writeln!(out, "        {more}");
            }
        }
    }
    let (errors, warnings) = (report.errors(), report.warnings());
    let warned = match warnings {
        0 => String::new(),
        1 => " (1 warning)".to_string(),
        n => format!(" ({n} warnings)"),
    };
    if report.ok {
        let _ = writeln!(out, "ok{warned}");
    } else {
        let _ = writeln!(out, "DAMAGED: {errors} error(s), {warnings} warning(s)");
    }
    out
}
