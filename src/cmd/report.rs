//! `cutover report`: the after-action record of a session, as Markdown for a change
//! ticket or as JSON for scripts. Read-only: no lock, nothing in the session changes.

use std::io::Write as _;
use std::path::Path;

use jiff::Timestamp;

use super::{Failure, exit, read_session};

pub fn run(session: Option<&str>, format: &str, output: Option<&Path>) -> Result<(), Failure> {
    let json = match format {
        "markdown" => false,
        "json" => true,
        other => {
            return Err(Failure::new(
                exit::USAGE,
                format!("unknown report format `{other}`: use `markdown` or `json`"),
            ));
        }
    };
    let s = read_session(session)?;
    let report = crate::report::build(&s.runbook, &s.records, &s.run, Timestamp::now());
    let mut text = if json {
        serde_json::to_string_pretty(&report)
            .map_err(|e| Failure::new(exit::IO, format!("cannot encode the report: {e}")))?
    } else {
        crate::report::markdown::render(&report)
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    write_out(&text, output, &s.paths.id)
}

fn write_out(text: &str, output: Option<&Path>, id: &str) -> Result<(), Failure> {
    match output {
        Some(path) => {
            std::fs::write(path, text.as_bytes()).map_err(|e| {
                Failure::new(
                    exit::CANT_CREATE,
                    format!(
                        "cannot write the report of session {} to {}: {e}",
                        id,
                        path.display()
                    ),
                )
            })?;
            eprintln!("{}", path.display());
            Ok(())
        }
        None => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is the reader's choice, not a failure worth a code.
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::new(
                    exit::IO,
                    format!("cannot write the report: {e}"),
                )),
                _ => Ok(()),
            }
        }
    }
}

/// `report --suggest-estimates`: the runbook copy's estimates set from what the steps
/// really took, as a diff. Nothing is written but the diff itself.
pub fn suggest_estimates(session: Option<&str>, output: Option<&Path>) -> Result<(), Failure> {
    use crate::report::suggest;
    let s = read_session(session)?;
    let found = suggest::suggestions(&s.runbook, &s.run, Timestamp::now());
    if found.is_empty() {
        eprintln!(
            "session {}: every done step's estimate is within 10% of what it took",
            s.paths.id
        );
        return Ok(());
    }
    let name = Path::new(&s.run.runbook_path).file_name().map_or_else(
        || "runbook.toml".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let text = suggest::diff(&name, found);
    write_out(&text, output, &s.paths.id)
}
