//! The runbooks shipped in `runbooks/` load, pass `validate --strict` (no warnings either),
//! and carry the content that makes them worth shipping.

use std::collections::BTreeSet;
use std::path::PathBuf;

use cutover::runbook::model::VersionScheme;
use cutover::runbook::{Runbook, Step, StepKind};

fn load(name: &str) -> Runbook {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("runbooks")
        .join(name);
    let runbook = Runbook::load(&path).unwrap_or_else(|e| panic!("{name}:\n{}", e.render()));
    let warnings: Vec<String> = runbook
        .warnings
        .iter()
        .map(|d| d.render(&runbook.origin, &runbook.source))
        .collect();
    assert!(
        warnings.is_empty(),
        "{name} must pass validate --strict:\n{}",
        warnings.join("\n")
    );
    runbook
}

fn var<'r>(runbook: &'r Runbook, name: &str) -> &'r str {
    runbook
        .file
        .vars
        .get(name)
        .unwrap_or_else(|| panic!("{}: no variable {name}", runbook.origin))
        .get_ref()
}

fn step<'r>(runbook: &'r Runbook, id: &str) -> &'r Step {
    runbook
        .step(id)
        .unwrap_or_else(|| panic!("{}: no step `{id}`", runbook.origin))
}

fn kinds(runbook: &Runbook) -> BTreeSet<&'static str> {
    runbook.steps().map(|(_, s)| s.kind().word()).collect()
}

/// Checks shared by every shipped runbook: every step title fits an 80-column checklist,
/// there is a rollback phase with a message, and all four message templates exist.
fn common_shape(runbook: &Runbook) {
    for (_, s) in runbook.steps() {
        assert!(
            s.title.chars().count() <= 40,
            "{}: step `{}` title is too long for 80 columns: {:?}",
            runbook.origin,
            s.id.get_ref(),
            s.title
        );
    }
    let rollback: Vec<_> = runbook
        .file
        .phases
        .iter()
        .filter(|p| p.contingency)
        .collect();
    assert_eq!(
        rollback.len(),
        1,
        "{}: one contingency phase",
        runbook.origin
    );
    assert!(
        rollback[0].steps.iter().any(|s| s
            .message
            .as_ref()
            .is_some_and(|m| m.get_ref() == "rollback")),
        "{}: the rollback phase ends with the rollback message",
        runbook.origin
    );
    let m = runbook.file.message.as_ref().expect("a [message] table");
    for (phase, t) in [
        ("before", &m.before),
        ("during", &m.during),
        ("after", &m.after),
        ("rollback", &m.rollback),
    ] {
        let t = t
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no [message.{phase}]", runbook.origin));
        assert!(!t.subject.get_ref().trim().is_empty());
        assert!(!t.body.get_ref().trim().is_empty());
    }
    // Downtime is marked on both sides.
    let marks: Vec<_> = runbook.steps().filter_map(|(_, s)| s.downtime).collect();
    assert!(marks.contains(&cutover::runbook::model::DowntimeMark::Start));
    assert!(marks.contains(&cutover::runbook::model::DowntimeMark::End));
}

#[test]
fn cluedin_upgrade_is_valid_and_complete() {
    let rb = load("cluedin-upgrade.toml");
    common_shape(&rb);

    let scheme = rb
        .file
        .runbook
        .version_scheme
        .as_ref()
        .map(|s| *s.get_ref());
    assert_eq!(scheme, Some(VersionScheme::Calver));
    assert_eq!(var(&rb, "FROM_VERSION"), "2025.05.02");
    assert_eq!(var(&rb, "TO_VERSION"), "2025.09.00");
    assert_eq!(var(&rb, "NAMESPACE"), "cluedin");
    assert_eq!(var(&rb, "RELEASE"), "cluedin-platform");
    assert_eq!(var(&rb, "CHART_VERSION"), "2.6.0");
    assert_eq!(var(&rb, "DATA_UPGRADE_VERSION"), "Version460");
    for stakeholder in [
        "CONTACT_NAME",
        "CONTACT_EMAIL",
        "STATUS_PAGE_URL",
        "CHANGE_ID",
    ] {
        assert!(!var(&rb, stakeholder).is_empty());
    }
    assert_eq!(rb.file.runbook.shell.as_deref(), Some("bash"));

    let w = &rb.file.window;
    assert!(w.start.is_some(), "the CluedIn window has a concrete start");
    assert_eq!(
        w.timezone.as_ref().map(|t| t.get_ref().as_str()),
        Some("Europe/Amsterdam")
    );
    assert!(w.expected_downtime.is_some());

    // The plan phase carries CluedIn's planning stage, the full backup included.
    let plan = &rb.file.phases[0];
    assert_eq!(plan.id.get_ref(), "plan");
    assert!(!plan.contingency);
    let plan_ids: Vec<&str> = plan.steps.iter().map(|s| s.id.get_ref().as_str()).collect();
    for id in [
        "learn-versioning",
        "review-docs",
        "schedule-downtime",
        "allocate-time",
        "inform-before",
        "full-backup",
        "custom-packages",
    ] {
        assert!(
            plan_ids.contains(&id),
            "plan phase lacks `{id}`: {plan_ids:?}"
        );
    }
    assert!(step(&rb, "review-docs").important.is_some());
    assert!(!step(&rb, "review-docs").links.is_empty());
    assert_eq!(
        step(&rb, "inform-before")
            .message
            .as_ref()
            .map(|m| m.get_ref().as_str()),
        Some("before")
    );

    // The backup step: both backups, and a callout saying the rollback depends on it.
    let backup = step(&rb, "full-backup");
    assert_eq!(backup.kind(), StepKind::Backup);
    let ids: Vec<&str> = backup
        .backups
        .as_ref()
        .unwrap()
        .get_ref()
        .iter()
        .map(|b| b.get_ref().as_str())
        .collect();
    assert_eq!(ids, ["helm-values", "disk-snapshots"]);
    let important = backup
        .important
        .as_ref()
        .expect("an important callout")
        .get_ref();
    assert!(important.to_lowercase().contains("rollback"), "{important}");
    for b in &rb.file.backups {
        assert!(
            b.verify.is_some(),
            "backup `{}` is verified",
            b.id.get_ref()
        );
        assert!(b.artifact.is_some() && b.estimate.is_some() && b.timeout.is_some());
    }

    // The live messages: start (during), completion (after).
    let messages: Vec<&str> = rb
        .steps()
        .filter_map(|(_, s)| s.message.as_ref().map(|m| m.get_ref().as_str()))
        .collect();
    for phase in ["before", "during", "after", "rollback"] {
        assert!(messages.contains(&phase), "no step sends `{phase}`");
    }

    // Both upgrade paths are gated on the backup; every helm upgrade asks for confirmation
    // and offers the rollback when it fails.
    let requires = |id: &str, on: &str| step(&rb, id).requires.iter().any(|r| r.get_ref() == on);
    assert!(requires("scale-up", "full-backup"));
    assert!(requires("full-backup", "scale-down"));
    for id in ["basic-upgrade", "upgrade-mode-on"] {
        assert!(requires(id, "scale-up"), "{id} is not gated on the backup");
    }
    for (id, on) in [
        ("wait-healthy", "upgrade-mode-on"),
        ("apply-data-upgrade", "wait-healthy"),
        ("data-upgrade-done", "apply-data-upgrade"),
        ("upgrade-mode-off", "data-upgrade-done"),
    ] {
        assert!(requires(id, on), "{id} must require {on}");
    }
    for (_, s) in rb.steps() {
        let run = s.run.as_ref().map_or("", |r| r.get_ref().as_str());
        if run.contains("helm upgrade") && !run.contains("--dry-run") {
            assert!(
                s.confirm,
                "`{}` runs helm upgrade without confirm",
                s.id.get_ref()
            );
            assert_eq!(
                s.on_failure,
                Some(cutover::runbook::model::OnFailure::Rollback),
                "`{}`",
                s.id.get_ref()
            );
            assert!(s.estimate.is_some() && s.timeout.is_some());
        }
    }
    let apply = step(&rb, "apply-data-upgrade")
        .run
        .as_ref()
        .unwrap()
        .get_ref();
    assert!(apply.contains("kubectl apply -f - <<EOF"), "{apply}");
    assert!(step(&rb, "verify-ui").notes_required);
    assert_eq!(step(&rb, "verify-ui").kind(), StepKind::Manual);

    // The corrected commands from the reference notes.
    let source = &rb.source;
    assert!(source.contains("helm repo add cluedin "));
    assert!(source.contains("kubectl config current-context"));
    assert!(!source.contains("helm config current-context"));
    assert!(!source.contains("> ./ "));

    // The rollback: disks from one snapshot set, then helm rollback.
    let rollback = rb.file.phases.iter().find(|p| p.contingency).unwrap();
    let run_text: String = rollback
        .steps
        .iter()
        .filter_map(|s| s.run.as_ref().map(|r| r.get_ref().clone()))
        .collect();
    assert!(run_text.contains("--replicas=0"));
    assert!(run_text.contains("az disk create"));
    assert!(run_text.contains("helm rollback"));
}

#[test]
fn postgres_major_upgrade_is_valid_and_complete() {
    let rb = load("postgres-major-upgrade.toml");
    common_shape(&rb);
    assert_eq!(var(&rb, "FROM_VERSION"), "16");
    assert_eq!(var(&rb, "TO_VERSION"), "17");

    let check = step(&rb, "final-check");
    assert!(check.run.as_ref().unwrap().get_ref().contains("--check"));
    let upgrade = step(&rb, "run-upgrade");
    assert!(upgrade.run.as_ref().unwrap().get_ref().contains("--link"));
    assert!(
        upgrade
            .requires
            .iter()
            .any(|r| r.get_ref() == "final-check")
    );
    assert!(upgrade.confirm);

    let ponr = step(&rb, "point-of-no-return");
    assert_eq!(ponr.kind(), StepKind::Manual);
    assert!(ponr.important.is_some());
    assert!(
        step(&rb, "start-new")
            .requires
            .iter()
            .any(|r| r.get_ref() == "point-of-no-return")
    );
    let backup = step(&rb, "full-backup");
    assert_eq!(backup.kind(), StepKind::Backup);
    assert!(backup.important.is_some());
    assert_eq!(kinds(&rb).len(), 4, "every step kind: {:?}", kinds(&rb));
}

#[test]
fn demo_runs_anywhere_and_shows_everything() {
    let rb = load("demo.toml");
    common_shape(&rb);

    // Every step kind.
    for kind in [
        StepKind::Manual,
        StepKind::Command,
        StepKind::Backup,
        StepKind::Message,
    ] {
        assert!(
            rb.steps().any(|(_, s)| s.kind() == kind),
            "the demo has no {} step",
            kind.word()
        );
    }

    // The window opens when the session starts.
    let w = &rb.file.window;
    assert!(
        w.start.is_none(),
        "the demo window must start with the session"
    );
    assert!(w.end.is_none());
    assert_eq!(
        w.duration.as_ref().map(|d| d.get_ref().as_secs()),
        Some(30 * 60)
    );
    assert!(w.timezone.is_none());

    // The end-to-end tests mark the first two steps done with two key presses.
    let first = &rb.file.phases[0];
    assert!(!first.contingency);
    for s in first.steps.iter().take(2) {
        assert_eq!(s.kind(), StepKind::Manual, "`{}`", s.id.get_ref());
        assert!(s.requires.is_empty(), "`{}` has requires", s.id.get_ref());
        assert!(!s.notes_required, "`{}` asks for a note", s.id.get_ref());
    }

    // The features an operator should meet in the tour.
    assert!(rb.steps().any(|(_, s)| !s.requires.is_empty()), "a gate");
    assert!(rb.steps().any(|(_, s)| s.important.is_some()), "a callout");
    assert!(rb.steps().any(|(_, s)| !s.links.is_empty()), "links");
    assert!(rb.steps().any(|(_, s)| s.notes_required), "a note");
    assert!(
        rb.steps()
            .any(|(_, s)| s.confirm && s.kind() == StepKind::Command),
        "a confirmed command"
    );
    assert_eq!(rb.file.backups.len(), 2);
    for b in &rb.file.backups {
        let verify = b.verify.as_deref().unwrap_or_default();
        assert!(verify.contains("tar tzf"), "{verify}");
        assert!(b.estimate.is_some_and(|e| e.as_secs() <= 30));
    }

    // Harmless: everything it writes stays in its scratch directory.
    let commands = rb
        .steps()
        .filter_map(|(_, s)| s.run.as_ref().map(|r| r.get_ref().as_str()))
        .chain(rb.file.backups.iter().map(|b| b.run.as_str()));
    for run in commands {
        assert!(
            !run.contains("sudo") && !run.contains("rm -rf /") && !run.contains("curl"),
            "{run}"
        );
        if run.contains("rm ") || run.contains("tar ") || run.contains("> ") {
            assert!(
                run.contains("cutover-demo-"),
                "writes outside the scratch dir: {run}"
            );
        }
    }
}

/// The demo exercises every kind in a form the test can name; the other two runbooks use
/// every kind as well (manual checks, commands, backups and messages).
#[test]
fn every_runbook_uses_every_step_kind() {
    for name in [
        "cluedin-upgrade.toml",
        "postgres-major-upgrade.toml",
        "demo.toml",
    ] {
        let rb = load(name);
        assert_eq!(
            kinds(&rb),
            ["backup", "command", "manual", "message"]
                .into_iter()
                .collect(),
            "{name}"
        );
    }
}
