//! Plan arithmetic shared by `cutover validate` (does the plan fit its window?) and the
//! live window pane (projected finish, go/no-go), so both always agree on the numbers.

use super::duration::Duration;
use super::model::{RunbookFile, Step};

/// A step's own estimate, else the sum of the estimates of the backups it starts.
///
/// `None` when neither says anything: an unknown is not zero, and callers that sum treat it
/// as zero only after the validator has warned about it.
pub fn step_estimate(file: &RunbookFile, step: &Step) -> Option<Duration> {
    if let Some(own) = step.estimate {
        return Some(own);
    }
    let ids = step.backups.as_ref()?;
    let known: Vec<Duration> = ids
        .get_ref()
        .iter()
        .filter_map(|id| {
            file.backups
                .iter()
                .find(|b| b.id.get_ref() == id.get_ref())
                .and_then(|b| b.estimate)
        })
        .collect();
    if known.is_empty() {
        None
    } else {
        Some(known.into_iter().sum())
    }
}

/// The estimated time of every step outside contingency phases (steps without an estimate
/// count as zero).
pub fn happy_path(file: &RunbookFile) -> Duration {
    phase_total(file, false)
}

/// Time to keep free for rolling back: `window.rollback_reserve`, else the estimated time
/// of the contingency phases.
pub fn rollback_reserve(file: &RunbookFile) -> Duration {
    file.window
        .rollback_reserve
        .unwrap_or_else(|| phase_total(file, true))
}

/// The steps of the happy path (`contingency == false`) or of the contingency phases.
pub fn steps_in(file: &RunbookFile, contingency: bool) -> impl Iterator<Item = &Step> {
    file.phases
        .iter()
        .filter(move |p| p.contingency == contingency)
        .flat_map(|p| &p.steps)
}

fn phase_total(file: &RunbookFile, contingency: bool) -> Duration {
    steps_in(file, contingency)
        .filter_map(|s| step_estimate(file, s))
        .sum()
}

/// The window's length: `duration`, else `end − start` when both are valid times and end
/// comes after start. `None` when the window is open-ended or cannot be computed.
pub fn window_length(file: &RunbookFile) -> Option<Duration> {
    if let Some(d) = &file.window.duration {
        return Some(*d.get_ref());
    }
    let start: jiff::Timestamp = file.window.start.as_ref()?.get_ref().parse().ok()?;
    let end: jiff::Timestamp = file.window.end.as_ref()?.get_ref().parse().ok()?;
    let secs = start.duration_until(end).as_secs();
    (secs > 0).then(|| Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> RunbookFile {
        toml::from_str(src).unwrap()
    }

    const PLAN: &str = r#"
[runbook]
title = "t"

[[backup]]
id = "db"
title = "Database"
run = "true"
estimate = "20m"

[[backup]]
id = "disks"
title = "Disks"
run = "true"
estimate = "15m"

[[backup]]
id = "values"
title = "Values"
run = "true"

[[phase]]
id = "p"
title = "P"

[[phase.step]]
id = "own"
title = "Own estimate"
estimate = "10m"

[[phase.step]]
id = "backed"
title = "Backups"
backups = ["db", "disks", "values"]

[[phase.step]]
id = "override"
title = "Own estimate wins over backups"
backups = ["db"]
estimate = "5m"

[[phase.step]]
id = "unknown"
title = "No estimate"

[[phase.step]]
id = "values-only"
title = "Backup without estimate"
backups = ["values"]

[[phase]]
id = "rollback"
title = "Roll back"
contingency = true

[[phase.step]]
id = "restore"
title = "Restore"
estimate = "1h"
"#;

    fn step<'a>(file: &'a RunbookFile, id: &str) -> &'a Step {
        file.phases
            .iter()
            .flat_map(|p| &p.steps)
            .find(|s| s.id.get_ref() == id)
            .unwrap()
    }

    #[test]
    fn step_estimate_prefers_own_then_sums_backups() {
        let f = parse(PLAN);
        assert_eq!(
            step_estimate(&f, step(&f, "own")),
            Some(Duration::from_mins(10))
        );
        assert_eq!(
            step_estimate(&f, step(&f, "backed")),
            Some(Duration::from_mins(35))
        );
        assert_eq!(
            step_estimate(&f, step(&f, "override")),
            Some(Duration::from_mins(5))
        );
        assert_eq!(step_estimate(&f, step(&f, "unknown")), None);
        assert_eq!(step_estimate(&f, step(&f, "values-only")), None);
    }

    #[test]
    fn happy_path_leaves_out_contingency_phases() {
        let f = parse(PLAN);
        assert_eq!(happy_path(&f), Duration::from_mins(10 + 35 + 5));
    }

    #[test]
    fn rollback_reserve_defaults_to_contingency_estimates() {
        let f = parse(PLAN);
        assert_eq!(rollback_reserve(&f), Duration::from_mins(60));
        let with_reserve = PLAN.replace(
            "[runbook]\ntitle = \"t\"\n",
            "[runbook]\ntitle = \"t\"\n[window]\nrollback_reserve = \"90m\"\n",
        );
        assert_eq!(
            rollback_reserve(&parse(&with_reserve)),
            Duration::from_mins(90)
        );
    }

    #[test]
    fn window_length_from_duration_or_end_minus_start() {
        let base = "[runbook]\ntitle = \"t\"\n[window]\n";
        let f = parse(&format!("{base}duration = \"4h\"\n"));
        assert_eq!(window_length(&f), Some(Duration::from_mins(240)));
        let f = parse(&format!(
            "{base}start = \"2026-11-28T22:00:00+01:00\"\nend = \"2026-11-29T02:30:00+01:00\"\n"
        ));
        assert_eq!(window_length(&f), Some(Duration::from_mins(270)));
        // Different offsets for the same instant line up.
        let f = parse(&format!(
            "{base}start = \"2026-11-28T22:00:00+01:00\"\nend = \"2026-11-28T22:00:00Z\"\n"
        ));
        assert_eq!(window_length(&f), Some(Duration::from_mins(60)));
    }

    #[test]
    fn window_length_is_none_when_open_or_broken() {
        let base = "[runbook]\ntitle = \"t\"\n[window]\n";
        assert_eq!(window_length(&parse(base)), None);
        let end_only = parse(&format!("{base}end = \"2026-11-29T02:00:00+01:00\"\n"));
        assert_eq!(window_length(&end_only), None);
        let backwards = parse(&format!(
            "{base}start = \"2026-11-29T02:00:00+01:00\"\nend = \"2026-11-28T22:00:00+01:00\"\n"
        ));
        assert_eq!(window_length(&backwards), None);
        let garbage = parse(&format!(
            "{base}start = \"tonight\"\nend = \"2026-11-28T22:00:00+01:00\"\n"
        ));
        assert_eq!(window_length(&garbage), None);
    }
}
