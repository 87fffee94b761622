//! Drafts: the runbook's template for a phase (or the built-in one), rendered in strict
//! mode with the live context. The editor holds a draft as one text, `Subject: ...`, a
//! blank line, then the body.

use jiff::Timestamp;

use crate::run::RunState;
use crate::run::context::context;
use crate::runbook::Runbook;
use crate::runbook::template::{self, TemplateError};
use crate::session::Outcome;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub phase: String,
    pub subject: String,
    pub body: String,
}

impl Draft {
    /// The editor's text for this draft.
    pub fn text(&self) -> String {
        compose(&self.subject, &self.body)
    }
}

/// Which message the moment calls for: `before` until the window opens, `during` inside
/// it, `rollback` once the rollback started (also when it ended that way), `after` once
/// the work is done (only a message step may be left) or the session finished.
pub fn phase_now(runbook: &Runbook, run: &RunState, now: Timestamp) -> &'static str {
    match run.finished {
        Some(Outcome::RolledBack) => "rollback",
        Some(_) => "after",
        None if run.rollback_started.is_some() => "rollback",
        None if crate::run::context::completed_at(runbook, run).is_some() => "after",
        None if now < run.window.start => "before",
        None => "during",
    }
}

/// The `(subject, body)` templates of a phase: the runbook's, else the built-in ones.
pub fn templates(runbook: &Runbook, phase: &str) -> Option<(String, String)> {
    let own = runbook.file.message.as_ref().and_then(|m| match phase {
        "before" => m.before.as_ref(),
        "during" => m.during.as_ref(),
        "after" => m.after.as_ref(),
        "rollback" => m.rollback.as_ref(),
        _ => None,
    });
    match own {
        Some(t) => Some((t.subject.get_ref().clone(), t.body.get_ref().clone())),
        None => template::default_message(phase),
    }
}

/// Renders the draft of `phase` at `now`.
pub fn render(
    runbook: &Runbook,
    run: &RunState,
    phase: &str,
    now: Timestamp,
    operator: &str,
) -> Result<Draft, TemplateError> {
    let Some((subject, body)) = templates(runbook, phase) else {
        return Err(TemplateError::Render {
            detail: format!("there is no message phase `{phase}`"),
            range: None,
        });
    };
    let ctx = context(runbook, run, now, operator);
    // Templates cannot name a secret (validate refuses it) and the context holds none;
    // masking the result as well covers a value that reached a variable or a title.
    let secrets = crate::runbook::secrets::active();
    let subject = secrets
        .mask(&template::render(&subject, &ctx)?)
        .into_owned();
    let body = secrets.mask(&template::render(&body, &ctx)?).into_owned();
    Ok(Draft {
        phase: phase.to_string(),
        // A subject is one line whatever the template did.
        subject: subject.lines().map(str::trim).collect::<Vec<_>>().join(" "),
        body: body.trim_start_matches('\n').to_string(),
    })
}

const SUBJECT: &str = "Subject: ";

/// The editor text of a subject and body.
pub fn compose(subject: &str, body: &str) -> String {
    format!("{SUBJECT}{subject}\n\n{body}")
}

/// The subject and body back from the editor's text: the first line is the subject
/// (with or without its `Subject:` label), the body follows the blank line after it.
/// A secret typed or pasted into the text comes back masked: what is parsed is what is
/// sent and journaled.
pub fn parse(text: &str) -> (String, String) {
    let text = crate::runbook::secrets::active().mask(text);
    let text = text.as_ref();
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let subject = first
        .strip_prefix(SUBJECT)
        .or_else(|| first.strip_prefix("Subject:"))
        .unwrap_or(first)
        .trim()
        .to_string();
    let body = rest.strip_prefix('\n').unwrap_or(rest);
    (subject, body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_and_parse_round_trip() {
        let text = compose("[In progress] x", "Hello\n\nbye\n");
        assert_eq!(text, "Subject: [In progress] x\n\nHello\n\nbye\n");
        assert_eq!(
            parse(&text),
            ("[In progress] x".into(), "Hello\n\nbye\n".into())
        );
        // An operator who deleted the label or the blank line still gets what they see.
        assert_eq!(parse("hi there\nbody"), ("hi there".into(), "body".into()));
        assert_eq!(parse("Subject:x"), ("x".into(), String::new()));
    }
}
