//! `cutover message`: the stakeholder message a session calls for, rendered from its
//! runbook copy with the live values, printed as the editor would show it. Read-only:
//! nothing is saved, sent or journaled.

use std::io::Write as _;

use jiff::Timestamp;

use super::{Failure, exit, read_session};
use crate::message::draft;
use crate::runbook::template::MESSAGE_PHASES;
use crate::session::store::operator;

pub fn run(session: Option<&str>, phase: Option<&str>) -> Result<(), Failure> {
    if let Some(p) = phase
        && !MESSAGE_PHASES.contains(&p)
    {
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "unknown message phase `{p}`: use one of {}",
                MESSAGE_PHASES.join(", ")
            ),
        ));
    }
    let s = read_session(session)?;
    let now = Timestamp::now();
    let phase = phase.unwrap_or_else(|| draft::phase_now(&s.runbook, &s.run, now));
    let rendered = draft::render(&s.runbook, &s.run, phase, now, &operator()).map_err(|e| {
        Failure::new(
            exit::DATA,
            format!(
                "session {}: the `{phase}` message of {} does not render: {e}",
                s.paths.id, s.runbook.origin
            ),
        )
    })?;
    let mut text = rendered.text();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::new(
            exit::IO,
            format!("cannot write the message: {e}"),
        )),
        _ => Ok(()),
    }
}
