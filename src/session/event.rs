//! The journal's vocabulary: everything that happened in a session, one event a line.
//!
//! An event never carries a command: resuming can only run what the verified runbook
//! copy says. Every type here refuses fields it does not declare
//! (`deny_unknown_fields`), so a record forged with a valid checksum but an extra field
//! (a `command` on a `step_done`, say) reads as corruption instead of being half-trusted.
//! The price: a journal written by a newer cutover that added a field is refused by an
//! older one, with a message naming the field, rather than silently losing it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};

use crate::runbook::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    pub start: Timestamp,
    pub end: Timestamp,
    /// IANA name used to show times on screen and in messages.
    pub timezone: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    RolledBack,
    Aborted,
}

/// Internally tagged: `deny_unknown_fields` applies to every variant (the `type` tag
/// itself is accepted), and defaulted fields may still be left out. A unit variant
/// would accept any field whatever the attribute says, which is why every variant here
/// has fields; the tests below hold that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    SessionStarted {
        session: String,
        runbook_path: String,
        runbook_sha256: String,
        vars: BTreeMap<String, String>,
        window: WindowSpec,
        cutover_version: String,
        /// A dry run: nothing is executed, steps are only walked and marked by hand.
        #[serde(default, skip_serializing_if = "is_false")]
        rehearsal: bool,
    },
    SessionResumed {
        pid: u32,
    },
    StepStarted {
        step: String,
        attempt: u32,
    },
    /// A command (or a backup step's backups) ended. The extra fields default so that
    /// journals written before they existed still read.
    StepFinished {
        step: String,
        attempt: u32,
        exit: Option<i32>,
        signal: Option<i32>,
        timed_out: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        cancelled: bool,
        /// `Some(false)`: the output did not match the step's `expect`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect_matched: Option<bool>,
        /// It ended while no screen was attached, and was picked up on resume.
        #[serde(default, skip_serializing_if = "is_false")]
        detached: bool,
        /// Why a backup step failed: which backup, and how.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        /// When the command really ended (later than `at` when picked up on resume).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ended: Option<Timestamp>,
    },
    /// The operator decided an interrupted or running-by-hand step failed.
    StepFailed {
        step: String,
        reason: String,
    },
    /// Marked done by the operator (manual steps, or a command run by hand).
    StepDone {
        step: String,
    },
    StepSkipped {
        step: String,
        reason: String,
    },
    StepReopened {
        step: String,
    },
    StepInterrupted {
        step: String,
        attempt: u32,
    },
    /// The operator went past an unmet `requires` gate, with a typed reason.
    GateOverridden {
        step: String,
        unmet: Vec<String>,
        reason: String,
    },
    NoteAdded {
        step: String,
        text: String,
    },
    BackupStarted {
        backup: String,
        attempt: u32,
    },
    BackupFinished {
        backup: String,
        attempt: u32,
        exit: Option<i32>,
        signal: Option<i32>,
        timed_out: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        cancelled: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        detached: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ended: Option<Timestamp>,
    },
    BackupVerified {
        backup: String,
        ok: bool,
        /// How the verify command ended (`exit 0`, `killed by SIGTERM`, ...).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        #[serde(default, skip_serializing_if = "is_false")]
        detached: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ended: Option<Timestamp>,
    },
    /// Its supervisor vanished without an exit record (a reboot, or killed).
    BackupInterrupted {
        backup: String,
        attempt: u32,
    },
    WindowExtended {
        by: Duration,
        reason: String,
    },
    RollbackStarted {
        reason: String,
    },
    MessageSaved {
        phase: String,
        file: String,
    },
    /// A send through `message.send` is about to start with the text in `file`. Its
    /// `message_sent` follows; a journal that ends without one lost the outcome.
    MessageSending {
        phase: String,
        file: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
    },
    /// A message went out through `message.send` (or failed to), or the operator marked
    /// it sent by other means. It carries the exact text, so the journal alone tells what
    /// stakeholders were told.
    MessageSent {
        phase: String,
        /// The saved copy under `messages/` (empty when marked sent by hand).
        file: String,
        exit: Option<i32>,
        #[serde(default)]
        ok: bool,
        /// The message step this send completes, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        #[serde(default)]
        subject: String,
        #[serde(default)]
        body: String,
        /// How a failed send failed (`exit 1: mail: cannot connect`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        /// Sent outside cutover; the operator says so.
        #[serde(default, skip_serializing_if = "is_false")]
        by_hand: bool,
    },
    SessionFinished {
        outcome: Outcome,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Event {
    /// The `type` this event is written with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::SessionStarted { .. } => "session_started",
            Event::SessionResumed { .. } => "session_resumed",
            Event::StepStarted { .. } => "step_started",
            Event::StepFinished { .. } => "step_finished",
            Event::StepFailed { .. } => "step_failed",
            Event::StepDone { .. } => "step_done",
            Event::StepSkipped { .. } => "step_skipped",
            Event::StepReopened { .. } => "step_reopened",
            Event::StepInterrupted { .. } => "step_interrupted",
            Event::GateOverridden { .. } => "gate_overridden",
            Event::NoteAdded { .. } => "note_added",
            Event::BackupStarted { .. } => "backup_started",
            Event::BackupFinished { .. } => "backup_finished",
            Event::BackupVerified { .. } => "backup_verified",
            Event::BackupInterrupted { .. } => "backup_interrupted",
            Event::WindowExtended { .. } => "window_extended",
            Event::RollbackStarted { .. } => "rollback_started",
            Event::MessageSaved { .. } => "message_saved",
            Event::MessageSending { .. } => "message_sending",
            Event::MessageSent { .. } => "message_sent",
            Event::SessionFinished { .. } => "session_finished",
        }
    }
}

/// One journal line: the event plus who, when and its place in the sequence. The `crc`
/// that closes the line is checked and taken off by `journal::decode` before this is
/// read, so any other field is a forgery or damage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub seq: u64,
    pub at: Timestamp,
    pub by: String,
    #[serde(deserialize_with = "known_event")]
    pub event: Event,
}

/// serde words an unknown tag as "unknown variant `x`, expected one of" all 21 types;
/// the operator reading a refusal needs "unknown event type `x`" and the likely causes.
fn known_event<'de, D: Deserializer<'de>>(d: D) -> Result<Event, D::Error> {
    Event::deserialize(d).map_err(|e| {
        let text = e.to_string();
        match unknown_event_type(&text) {
            Some(name) => serde::de::Error::custom(format!(
                "unknown event type `{name}` (this cutover {} does not write it: a record \
                 forged by hand, or written by a newer cutover)",
                env!("CARGO_PKG_VERSION")
            )),
            None => e,
        }
    })
}

/// The tag in serde's "unknown variant" message, when the variants it lists are the
/// event types (an unknown `outcome` word is an unknown variant too, of another enum).
fn unknown_event_type(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("unknown variant `")?;
    let (name, expected) = rest.split_once("`, expected")?;
    expected.contains("`session_started`").then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::journal::{decode, encode};

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    /// One of every event, each twice: with its optional fields left out and set.
    fn samples() -> Vec<Event> {
        let window = WindowSpec {
            start: t(0),
            end: t(3600),
            timezone: "Europe/Amsterdam".into(),
        };
        let mut out = Vec::new();
        for full in [false, true] {
            let opt = |s: &str| full.then(|| s.to_string());
            let when = full.then(|| t(9));
            out.extend([
                Event::SessionStarted {
                    session: "s".into(),
                    runbook_path: "rb.toml".into(),
                    runbook_sha256: "ab".repeat(32),
                    vars: BTreeMap::from([("K".to_string(), "v".to_string())]),
                    window: window.clone(),
                    cutover_version: "0.1.0".into(),
                    rehearsal: full,
                },
                Event::SessionResumed { pid: 42 },
                Event::StepStarted {
                    step: "a".into(),
                    attempt: 2,
                },
                Event::StepFinished {
                    step: "a".into(),
                    attempt: 2,
                    exit: Some(3),
                    signal: full.then_some(9),
                    timed_out: full,
                    cancelled: full,
                    expect_matched: full.then_some(false),
                    detached: full,
                    detail: opt("why"),
                    ended: when,
                },
                Event::StepFailed {
                    step: "a".into(),
                    reason: "r".into(),
                },
                Event::StepDone { step: "a".into() },
                Event::StepSkipped {
                    step: "a".into(),
                    reason: "r".into(),
                },
                Event::StepReopened { step: "a".into() },
                Event::StepInterrupted {
                    step: "a".into(),
                    attempt: 1,
                },
                Event::GateOverridden {
                    step: "a".into(),
                    unmet: vec!["b".into()],
                    reason: "r".into(),
                },
                Event::NoteAdded {
                    step: "a".into(),
                    text: "checked é \"quoted\"\n".into(),
                },
                Event::BackupStarted {
                    backup: "b".into(),
                    attempt: 1,
                },
                Event::BackupFinished {
                    backup: "b".into(),
                    attempt: 1,
                    exit: Some(0),
                    signal: None,
                    timed_out: full,
                    cancelled: full,
                    detached: full,
                    ended: when,
                },
                Event::BackupVerified {
                    backup: "b".into(),
                    ok: full,
                    detail: opt("verify exit 0"),
                    detached: full,
                    ended: when,
                },
                Event::BackupInterrupted {
                    backup: "b".into(),
                    attempt: 1,
                },
                Event::WindowExtended {
                    by: Duration::from_secs(1800),
                    reason: "r".into(),
                },
                Event::RollbackStarted { reason: "r".into() },
                Event::MessageSaved {
                    phase: "before".into(),
                    file: "1-before.txt".into(),
                },
                Event::MessageSending {
                    phase: "during".into(),
                    file: "2-during.txt".into(),
                    step: opt("m"),
                },
                Event::MessageSent {
                    phase: "after".into(),
                    file: "3-after.txt".into(),
                    exit: Some(0),
                    ok: full,
                    step: opt("m"),
                    subject: "s".into(),
                    body: "b".into(),
                    detail: opt("d"),
                    by_hand: full,
                },
                Event::SessionFinished {
                    outcome: if full {
                        Outcome::RolledBack
                    } else {
                        Outcome::Completed
                    },
                },
            ]);
        }
        out
    }

    fn line(event: Event) -> String {
        let rec = Record {
            seq: 1,
            at: t(0),
            by: "op@host".into(),
            event,
        };
        encode(&rec).unwrap().trim_end().to_string()
    }

    /// A line as `encode` would close it, for any JSON object: a valid checksum over
    /// whatever it says.
    fn sealed(value: &serde_json::Value) -> String {
        seal_text(&serde_json::to_string(value).unwrap())
    }

    fn seal_text(body: &str) -> String {
        let crc = crc32fast::hash(body.as_bytes());
        format!("{},\"crc\":\"{crc:08x}\"}}", &body[..body.len() - 1])
    }

    fn as_json(line: &str) -> serde_json::Value {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        v.as_object_mut().unwrap().remove("crc");
        v
    }

    /// The types serde itself knows, from its own "expected one of" list (read from
    /// `Event` alone: through a `Record` the message is reworded): a variant added to
    /// `Event` shows up here without anyone updating this test.
    fn declared_types() -> Vec<String> {
        let err = serde_json::from_str::<Event>(r#"{"type":"?"}"#)
            .unwrap_err()
            .to_string();
        let (_, list) = err.split_once("expected one of").expect(&err);
        list.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_event_round_trips_through_a_journal_line() {
        let samples = samples();
        let mut names: Vec<String> = samples.iter().map(|e| e.type_name().to_string()).collect();
        names.sort();
        names.dedup();
        let mut declared = declared_types();
        declared.sort();
        assert!(declared.len() > 20, "{declared:?}");
        assert_eq!(names, declared, "a sample of every event type");
        for event in samples {
            let text = line(event.clone());
            let back = decode(text.as_bytes()).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert_eq!(back.event, event, "{text}");
            // The tag written is the one `type_name` says.
            assert_eq!(as_json(&text)["event"]["type"], event.type_name());
        }
    }

    #[test]
    fn a_forged_field_with_a_valid_checksum_is_refused_at_every_level() {
        let done = as_json(&line(Event::StepDone { step: "a".into() }));
        assert!(
            decode(sealed(&done).as_bytes()).is_ok(),
            "the control reads"
        );

        let mut forged = done.clone();
        forged["event"]["command"] = "touch /tmp/pwned".into();
        let err = decode(sealed(&forged).as_bytes()).unwrap_err();
        assert!(err.contains("unknown field `command`"), "{err}");

        let mut forged = done.clone();
        forged["sudo"] = true.into();
        let err = decode(sealed(&forged).as_bytes()).unwrap_err();
        assert!(err.contains("unknown field `sudo`"), "{err}");

        // In a nested struct, and in a variant whose other fields all default.
        let started = as_json(&line(samples().remove(0)));
        let mut forged = started;
        forged["event"]["window"]["shell"] = "/bin/sh".into();
        let err = decode(sealed(&forged).as_bytes()).unwrap_err();
        assert!(err.contains("unknown field `shell`"), "{err}");
        let finished = as_json(&line(Event::MessageSent {
            phase: "after".into(),
            file: String::new(),
            exit: None,
            ok: false,
            step: None,
            subject: String::new(),
            body: String::new(),
            detail: None,
            by_hand: false,
        }));
        let mut forged = finished;
        forged["event"]["run"] = "rm -rf /".into();
        let err = decode(sealed(&forged).as_bytes()).unwrap_err();
        assert!(err.contains("unknown field `run`"), "{err}");

        // Every variant refuses an extra field (none is a unit variant).
        for event in samples() {
            let mut forged = as_json(&line(event.clone()));
            forged["event"]["extra"] = 1.into();
            let err = decode(sealed(&forged).as_bytes())
                .err()
                .unwrap_or_else(|| panic!("{} took an unknown field", event.type_name()));
            assert!(err.contains("unknown field `extra`"), "{err}");
        }
        // A second copy of a declared field is no way around it either.
        let body = serde_json::to_string(&done)
            .unwrap()
            .replace(r#""step":"a""#, r#""step":"a","step":"b""#);
        let err = decode(seal_text(&body).as_bytes()).unwrap_err();
        assert!(err.contains("duplicate field `step`"), "{err}");
    }

    #[test]
    fn an_unknown_event_type_is_named_as_such() {
        let mut forged = as_json(&line(Event::StepDone { step: "a".into() }));
        forged["event"]["type"] = "step_exec".into();
        let err = decode(sealed(&forged).as_bytes()).unwrap_err();
        assert!(err.contains("unknown event type `step_exec`"), "{err}");
        assert!(!err.contains("expected one of"), "{err}");
        // An unknown word of another enum keeps serde's own message.
        let mut forged = as_json(&line(Event::SessionFinished {
            outcome: Outcome::Aborted,
        }));
        forged["event"]["outcome"] = "exploded".into();
        let err = decode(sealed(&forged).as_bytes()).unwrap_err();
        assert!(err.contains("unknown variant `exploded`"), "{err}");
        assert!(!err.contains("event type"), "{err}");
    }
}
