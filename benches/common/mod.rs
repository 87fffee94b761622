//! A large, realistic session shared by the render and replay benches: a generated
//! 1,000-step runbook and journals over it. Built only through the library's public API,
//! the way `cutover run` and `cutover resume` build theirs.
//!
//! A bench that uses only part of this module would warn about the rest.
#![allow(dead_code)]

use std::fmt::Write as _;

use cutover::runbook::{Duration, Runbook};
use cutover::runner::TaskId;
use cutover::runner::sanitize::OutLine;
use cutover::runner::watch::TaskOutput;
use cutover::session::{Event, Record, WindowSpec};
use jiff::{SignedDuration, Timestamp};

/// Steps in the generated runbook, contingency phase included.
pub const STEPS: usize = 1_000;
/// Steps per phase: 25 phases, the last of them the rollback.
const PER_PHASE: usize = 40;
pub const SESSION: &str = "20261128-205500-bench";
pub const OPERATOR: &str = "alice@jump1";

pub fn ts(text: &str) -> Timestamp {
    text.parse().expect("a valid timestamp literal")
}

/// When the session started, five minutes before the window.
pub fn session_start() -> Timestamp {
    ts("2026-11-28T20:55:00Z")
}

/// What kind a step is, by its index: mostly manual checks, some commands, now and
/// then a stakeholder update, one backup step near the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Manual,
    Command,
    Message,
    Backup,
}

pub fn kind(index: usize) -> Kind {
    match index {
        3 => Kind::Backup,
        i if i % 25 == 24 => Kind::Message,
        i if i % 10 >= 6 => Kind::Command,
        _ => Kind::Manual,
    }
}

pub fn step_id(index: usize) -> String {
    format!("step-{index:04}")
}

fn is_contingency(index: usize) -> bool {
    index / PER_PHASE == STEPS / PER_PHASE - 1
}

/// The runbook's TOML: 24 phases of 40 steps and a 40-step rollback phase.
pub fn runbook_toml() -> String {
    let mut t = String::new();
    t.push_str(
        r#"[runbook]
title = "Platform migration (1,000 steps)"
summary = "Move {{ SERVICE }} from {{ FROM_VERSION }} to {{ TO_VERSION }}"

[vars]
SERVICE = "Platform"
ENVIRONMENT = "production"
FROM_VERSION = "2025.05.02"
TO_VERSION = "2025.09.00"
CONTACT_NAME = "The platform team"
CONTACT_EMAIL = "platform@example.com"
STATUS_PAGE_URL = "https://status.example.com"

[window]
start = "2026-11-28T22:00:00+01:00"
duration = "10h"
timezone = "Europe/Amsterdam"
expected_downtime = "2h"

[[backup]]
id = "values"
title = "Helm user values"
run = "helm get values platform -o yaml > values.yaml"
verify = "test -s values.yaml"
estimate = "1m"

[[backup]]
id = "disks"
title = "Disk snapshots"
run = "./snapshot-disks.sh"
estimate = "20m"

[message]
update_every = "30m"
"#,
    );
    for p in 0..STEPS / PER_PHASE {
        let last = p == STEPS / PER_PHASE - 1;
        let _ = write!(
            t,
            "\n[[phase]]\nid = \"phase-{p:02}\"\ntitle = \"{}\"\n",
            if last {
                "Roll back".to_string()
            } else {
                format!("Migrate tenant group {p}")
            }
        );
        if last {
            t.push_str("contingency = true\n");
        }
        for i in p * PER_PHASE..(p + 1) * PER_PHASE {
            let _ = write!(
                t,
                "\n[[phase.step]]\nid = \"{}\"\ntitle = \"{}\"\nestimate = \"{}\"\n",
                step_id(i),
                title(i),
                ["30s", "1m", "45s", "2m"][i % 4]
            );
            match kind(i) {
                Kind::Manual => {
                    let _ = writeln!(
                        t,
                        "detail = \"Check tenant {i} in the admin console: the status page \
                         must say healthy, and the queue depth below 100.\""
                    );
                }
                Kind::Command => {
                    let _ = writeln!(
                        t,
                        "run = \"kubectl -n tenant-{i} rollout status deploy/app --timeout=5m\""
                    );
                }
                Kind::Message => {
                    let phase = if is_contingency(i) {
                        "rollback"
                    } else {
                        "during"
                    };
                    let _ = writeln!(t, "message = \"{phase}\"");
                }
                Kind::Backup => t.push_str("backups = [\"values\", \"disks\"]\n"),
            }
            // A gate now and then, on the step before (never across phases).
            if i % 7 == 5 && i % PER_PHASE != 0 {
                let _ = writeln!(t, "requires = [\"{}\"]", step_id(i - 1));
            }
            if i == 8 {
                t.push_str("downtime = \"start\"\n");
            }
            if i == 900 {
                t.push_str("downtime = \"end\"\n");
            }
        }
    }
    t
}

fn title(i: usize) -> String {
    match kind(i) {
        Kind::Manual => format!("Check tenant {i} health in the admin console"),
        Kind::Command => format!("Wait for the rollout of tenant {i}"),
        Kind::Message => format!("Send the stakeholder update ({i})"),
        Kind::Backup => "Back up values and disks".to_string(),
    }
}

pub fn runbook() -> Runbook {
    Runbook::parse("bench-1000.toml", &runbook_toml()).expect("the generated runbook is valid")
}

/// Builds a journal, numbering records and advancing the clock.
pub struct Journal {
    pub records: Vec<Record>,
    pub at: Timestamp,
}

impl Journal {
    pub fn new(runbook: &Runbook) -> Journal {
        let mut j = Journal {
            records: Vec::new(),
            at: session_start(),
        };
        let vars = runbook
            .resolve_vars(&[])
            .expect("the runbook's vars resolve");
        j.push(
            0,
            Event::SessionStarted {
                session: SESSION.into(),
                runbook_path: "/srv/runbooks/bench-1000.toml".into(),
                runbook_sha256: runbook.sha256.clone(),
                vars,
                window: WindowSpec {
                    start: ts("2026-11-28T21:00:00Z"),
                    end: ts("2026-11-29T07:00:00Z"),
                    timezone: "Europe/Amsterdam".into(),
                },
                cutover_version: "bench".into(),
                rehearsal: false,
            },
        );
        j
    }

    /// Appends `event` `secs` seconds after the previous record.
    pub fn push(&mut self, secs: i64, event: Event) {
        self.at = self
            .at
            .checked_add(SignedDuration::from_secs(secs))
            .expect("the bench clock stays in range");
        self.records.push(Record {
            seq: self.records.len() as u64 + 1,
            at: self.at,
            by: OPERATOR.into(),
            event,
        });
    }

    /// The events of doing step `i` once, successfully (or, every 29th step, skipping it).
    pub fn settle(&mut self, i: usize, attempt: u32) {
        let step = step_id(i);
        if i % 29 == 11 {
            self.push(
                40,
                Event::StepSkipped {
                    step,
                    reason: "not deployed in this region".into(),
                },
            );
            return;
        }
        if i % 5 == 2 {
            self.push(
                20,
                Event::NoteAdded {
                    step: step.clone(),
                    text: format!("tenant {i}: queue depth 12, status page green"),
                },
            );
        }
        match kind(i) {
            Kind::Manual => self.push(35, Event::StepDone { step }),
            Kind::Command => {
                self.push(
                    5,
                    Event::StepStarted {
                        step: step.clone(),
                        attempt,
                    },
                );
                let ended = self.at.checked_add(SignedDuration::from_secs(50)).ok();
                self.push(50, finished(&step, attempt, Some(0), ended));
            }
            Kind::Message => {
                let file = format!("messages/during-{i}.txt");
                self.push(
                    30,
                    Event::MessageSending {
                        phase: "during".into(),
                        file: file.clone(),
                        step: Some(step.clone()),
                    },
                );
                self.push(
                    2,
                    Event::MessageSent {
                        phase: "during".into(),
                        file,
                        exit: Some(0),
                        ok: true,
                        step: Some(step.clone()),
                        subject: "[In progress] Platform migration, update".into(),
                        body: "Hello,\n\nThe migration is on schedule.\n".into(),
                        detail: None,
                        by_hand: false,
                    },
                );
                self.push(1, Event::StepDone { step });
            }
            Kind::Backup => {
                for b in ["values", "disks"] {
                    self.push(
                        1,
                        Event::BackupStarted {
                            backup: b.into(),
                            attempt,
                        },
                    );
                }
                for b in ["values", "disks"] {
                    self.push(
                        60,
                        Event::BackupFinished {
                            backup: b.into(),
                            attempt,
                            exit: Some(0),
                            signal: None,
                            timed_out: false,
                            cancelled: false,
                            detached: false,
                            ended: None,
                        },
                    );
                    self.push(
                        5,
                        Event::BackupVerified {
                            backup: b.into(),
                            ok: true,
                            detail: Some("exit 0".into()),
                            detached: false,
                            ended: None,
                        },
                    );
                }
                self.push(1, Event::StepDone { step });
            }
        }
    }
}

pub fn finished(step: &str, attempt: u32, exit: Option<i32>, ended: Option<Timestamp>) -> Event {
    Event::StepFinished {
        step: step.into(),
        attempt,
        exit,
        signal: None,
        timed_out: false,
        cancelled: false,
        expect_matched: None,
        detached: false,
        detail: None,
        ended,
    }
}

/// The night so far: the first `done` steps settled (a few hundred events), one failed
/// and re-run, a window extension, then the next command step started and still running.
/// Returns the journal and the running step's index. The rollback has not started.
pub fn night(runbook: &Runbook, done: usize) -> (Journal, usize) {
    let mut j = Journal::new(runbook);
    for i in 0..done {
        if i == 47 && kind(i) == Kind::Command {
            // A failed first attempt, then a good second one.
            let step = step_id(i);
            j.push(
                5,
                Event::StepStarted {
                    step: step.clone(),
                    attempt: 1,
                },
            );
            j.push(30, finished(&step, 1, Some(1), None));
            j.settle(i, 2);
            continue;
        }
        j.settle(i, 1);
        if i == 120 {
            j.push(
                10,
                Event::WindowExtended {
                    by: Duration::from_mins(30),
                    reason: "tenant group 2 was slow to drain".into(),
                },
            );
        }
    }
    let running = (done..STEPS)
        .find(|i| kind(*i) == Kind::Command)
        .expect("a command step after the done ones");
    // Whatever lies between (manual steps) is still pending.
    j.push(
        5,
        Event::StepStarted {
            step: step_id(running),
            attempt: 1,
        },
    );
    (j, running)
}

/// The running step's output so far, as the follower would have delivered it.
pub fn output(running: usize, lines: usize) -> TaskOutput {
    let mut out = TaskOutput::new(TaskId::step(&step_id(running), 1));
    let lines = (0..lines)
        .map(|n| OutLine {
            text: format!(
                "Waiting for deployment \"app\" rollout to finish: {n} of {lines} updated \
                 replicas are available..."
            ),
            styles: Vec::new(),
        })
        .collect();
    out.absorb(
        lines,
        Some(OutLine {
            text: "Waiting for deployment".into(),
            styles: Vec::new(),
        }),
        None,
    );
    out
}

/// Mean, p50, p99, min, max of a sample set, in µs.
#[derive(Debug, Default, Clone)]
pub struct Samples(pub Vec<f64>);

impl Samples {
    pub fn push_us(&mut self, d: std::time::Duration) {
        self.0.push(d.as_secs_f64() * 1e6);
    }

    pub fn push_ms(&mut self, d: std::time::Duration) {
        self.0.push(d.as_secs_f64() * 1e3);
    }

    pub fn mean(&self) -> f64 {
        self.0.iter().sum::<f64>() / self.0.len().max(1) as f64
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    /// Nearest-rank percentile.
    pub fn pct(&self, p: f64) -> f64 {
        let v = self.sorted();
        if v.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1]
    }

    pub fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(0.0)
    }

    pub fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(0.0)
    }
}
