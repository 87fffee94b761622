//! Semantic checks over a runbook's text, each pointing at the culprit's span.
//!
//! The reader is an operator about to start a maintenance window, possibly at 2 a.m.: every
//! message names the thing that is wrong and, where there is one, the likely fix.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::Diagnostic;
use super::estimate;
use super::model::{OnFailure, RunbookFile, Step, StepKind, VersionScheme};
use super::template::{self, LIVE_VARIABLES, MESSAGE_PHASES, TemplateError};

/// Every problem found in `source`, errors and warnings alike, in file order.
///
/// A file that does not deserialize yields exactly that one error: the checks below need the
/// model, and guessing past a broken table would produce noise rather than help.
pub fn validate(source: &str) -> Vec<Diagnostic> {
    let file = match toml::from_str::<RunbookFile>(source) {
        Ok(file) => file,
        Err(e) => return vec![toml_error(&e, source)],
    };
    // The raw table only serves to find key spans the model does not keep; the text has
    // just deserialized, so this parse succeeds, and if it did not we fall back to coarser
    // spans rather than fail.
    let doc = DeTable::parse(source).ok().map(Spanned::into_inner);
    let mut checker = Checker {
        source,
        file: &file,
        doc,
        out: Vec::new(),
        newlines: source
            .bytes()
            .enumerate()
            .filter_map(|(i, b)| (b == b'\n').then_some(i))
            .collect(),
        suggestion_budget: SUGGESTION_BUDGET,
    };
    checker.duplicate_ids();
    checker.id_shapes();
    checker.regexes();
    checker.backup_uses();
    checker.references();
    checker.cycles();
    checker.window();
    checker.kinds();
    checker.secrets();
    checker.templates();
    checker.versions();
    checker.estimates();
    let mut out = checker.out;
    out.sort_by_key(|d| d.span.as_ref().map_or(usize::MAX, |s| s.start));
    out
}

/// A TOML or schema error from the `toml` crate, as a positioned diagnostic.
pub fn toml_error(e: &toml::de::Error, source: &str) -> Diagnostic {
    let span = e.span();
    let message = e.message().trim_end();
    let culprit = span
        .clone()
        .and_then(|s| source.get(s))
        .unwrap_or_default()
        .trim();

    if let Some((name, expected)) = unknown_name(message, "unknown field `") {
        let d = Diagnostic::error(format!("unknown key `{name}`"), span);
        return with_suggestion(d, &name, &expected, "keys");
    }
    if let Some((name, expected)) = unknown_name(message, "unknown variant `") {
        let d = Diagnostic::error(format!("`{name}` is not an accepted value here"), span);
        return with_suggestion(d, &name, &expected, "values");
    }
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        return Diagnostic::error(format!("this table needs a `{field}` key"), span)
            .with_help(format!("add `{field} = ...` to it"));
    }
    if DeTable::parse(source).is_err() {
        if message == "duplicate key" && !culprit.is_empty() {
            return Diagnostic::error(
                format!("TOML syntax error: duplicate key `{culprit}`"),
                span,
            )
            .with_help("a key may appear only once per table");
        }
        return Diagnostic::error(format!("TOML syntax error: {message}"), span);
    }
    // TOML has its own datetime type; a runbook keeps times as strings so that the offset
    // is always explicit and checked here, and serde's "map" would only confuse.
    if message.ends_with("expected a string")
        && (culprit.parse::<jiff::Timestamp>().is_ok()
            || culprit.parse::<jiff::civil::DateTime>().is_ok())
    {
        return Diagnostic::error("times are written as quoted strings", span)
            .with_help(format!("write \"{culprit}\""));
    }
    Diagnostic::error(message.to_string(), span)
}

/// Splits serde's "unknown field `x`, expected one of `a`, `b`" into `x` and `[a, b]`.
fn unknown_name(message: &str, prefix: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix(prefix)?;
    let (name, tail) = rest.split_once('`')?;
    // Backtick-quoted words sit at the odd positions once split on backticks.
    let expected = tail
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((name.to_string(), expected))
}

fn with_suggestion(d: Diagnostic, name: &str, expected: &[String], noun: &str) -> Diagnostic {
    if let Some(best) = closest(name, expected.iter().map(String::as_str)) {
        return d.with_help(format!("did you mean `{best}`?"));
    }
    if expected.is_empty() {
        return d.with_help(format!("no {noun} are accepted here"));
    }
    d.with_help(format!("accepted {noun}: {}", backticked(expected)))
}

fn backticked<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Like [`backticked`], but the first `max` only and a count of the rest: a help line
/// repeated under each of thousands of errors must not list thousands of names each time.
fn backticked_some<S: AsRef<str>>(items: &[S], max: usize) -> String {
    if items.len() <= max {
        return backticked(items);
    }
    format!(
        "{} and {} more",
        backticked(&items[..max]),
        items.len() - max
    )
}

/// Names longer than this get no "did you mean": ids are at most 64 characters and keys
/// and zone names shorter, a long name is no typo, and it bounds the cost of comparing one
/// pair (a 20,000-character name made a 3 GB table).
const MAX_SUGGESTED_LEN: usize = 64;

/// Work (table cells, and one per candidate looked at) one `validate` may spend on
/// suggestions: a few tens of milliseconds. Thousands of unknown names against thousands
/// of step ids would otherwise make validate quadratic; past the budget, errors still
/// come, without a "did you mean".
const SUGGESTION_BUDGET: usize = 20_000_000;

/// Edit distance counting insertions, deletions, substitutions and swaps of two neighbours
/// (`titel` → `title` is one edit: transpositions are the commonest typo).
#[cfg(test)]
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    distance(&a, &b)
}

/// [`edit_distance`] on chars, keeping only the three rows a swap looks back over.
fn distance(a: &[char], b: &[char]) -> usize {
    let mut before = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            cur[j] = best;
        }
        // Rotate: row i-1 becomes i-2, row i becomes i-1, and the old i-2 is reused.
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `name`, if it is close enough to be a plausible typo.
pub(crate) fn closest<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let mut unlimited = usize::MAX;
    closest_within(name, candidates, &mut unlimited)
}

/// [`closest`], spending at most `budget` (see [`SUGGESTION_BUDGET`]) and taking what it
/// spent off it. Out of budget, the best match so far (or none).
fn closest_within<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str>,
    budget: &mut usize,
) -> Option<&'c str> {
    let lower: Vec<char> = name.to_lowercase().chars().collect();
    if lower.len() > MAX_SUGGESTED_LEN || *budget == 0 {
        return None;
    }
    let limit = (name.chars().count() / 3).max(1);
    let mut other: Vec<char> = Vec::with_capacity(lower.len() + limit + 1);
    let mut best: Option<(usize, &'c str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        // Lengths further apart than the limit are further apart in edits too; reading
        // one char past the longest useful length is enough to tell.
        other.clear();
        other.extend(
            c.chars()
                .flat_map(char::to_lowercase)
                .take(lower.len() + limit + 1),
        );
        let cost = if other.len().abs_diff(lower.len()) > limit {
            1
        } else {
            1 + lower.len() * other.len()
        };
        if cost > *budget {
            *budget = 0;
            break;
        }
        *budget -= cost;
        if cost == 1 {
            continue;
        }
        let d = distance(&lower, &other);
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

struct Checker<'a> {
    source: &'a str,
    file: &'a RunbookFile,
    doc: Option<DeTable<'a>>,
    out: Vec<Diagnostic>,
    /// Byte offset of every `\n` in the source: a line number is a binary search, not a
    /// scan of the file (once per duplicate id made validate quadratic).
    newlines: Vec<usize>,
    /// What is left of [`SUGGESTION_BUDGET`].
    suggestion_budget: usize,
}

impl<'a> Checker<'a> {
    fn push(&mut self, d: Diagnostic) {
        self.out.push(d);
    }

    fn line_of(&self, span: &Range<usize>) -> usize {
        self.line_at(span.start)
    }

    /// 1-based line of a byte offset, as [`super::diagnostic::line_col`] counts it.
    fn line_at(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&n| n < offset) + 1
    }

    /// [`closest`] within this run's suggestion budget.
    fn closest<'c>(
        &mut self,
        name: &str,
        candidates: impl IntoIterator<Item = &'c str>,
    ) -> Option<&'c str> {
        closest_within(name, candidates, &mut self.suggestion_budget)
    }

    /// Key and value spans of `key` in the table at `path` of the raw document.
    fn entry(&self, path: &[Seg], key: &str) -> Option<(Range<usize>, Range<usize>)> {
        let mut table = self.doc.as_ref()?;
        let mut at: Option<&DeValue> = None;
        for seg in path {
            let next = match (seg, at) {
                (Seg::Key(k), None) => table.get(*k)?.get_ref(),
                (Seg::Key(k), Some(DeValue::Table(t))) => t.get(*k)?.get_ref(),
                (Seg::Index(i), Some(DeValue::Array(a))) => a.get(*i)?.get_ref(),
                _ => return None,
            };
            at = Some(next);
        }
        if let Some(value) = at {
            match value {
                DeValue::Table(t) => table = t,
                _ => return None,
            }
        }
        let (k, v) = table.get_key_value(key)?;
        Some((k.span(), v.span()))
    }

    fn step_entry(
        &self,
        phase: usize,
        step: usize,
        key: &str,
    ) -> Option<(Range<usize>, Range<usize>)> {
        self.entry(
            &[
                Seg::Key("phase"),
                Seg::Index(phase),
                Seg::Key("step"),
                Seg::Index(step),
            ],
            key,
        )
    }

    /// Every step with its phase and step index, in file order.
    fn steps(&self) -> impl Iterator<Item = (usize, usize, &'a Step)> + use<'a> {
        self.file
            .phases
            .iter()
            .enumerate()
            .flat_map(|(pi, p)| p.steps.iter().enumerate().map(move |(si, s)| (pi, si, s)))
    }

    fn step_ids(&self) -> BTreeSet<&'a str> {
        self.steps()
            .map(|(_, _, s)| s.id.get_ref().as_str())
            .collect()
    }

    // ---- duplicate ids -------------------------------------------------------------

    fn duplicate_ids(&mut self) {
        let steps: Vec<&Spanned<String>> = self.steps().map(|(_, _, s)| &s.id).collect();
        self.duplicates("step", "step ids must be unique across all phases", &steps);
        let phases: Vec<&Spanned<String>> = self.file.phases.iter().map(|p| &p.id).collect();
        self.duplicates("phase", "phase ids must be unique", &phases);
        let backups: Vec<&Spanned<String>> = self.file.backups.iter().map(|b| &b.id).collect();
        self.duplicates("backup", "backup ids must be unique", &backups);
    }

    /// Ids name task files (`tasks/step-<id>-<n>.log`) and appear in commands' environment:
    /// letters, digits, `-`, `_` and `.`, starting with a letter or digit.
    fn id_shapes(&mut self) {
        let mut ids: Vec<(&str, &Spanned<String>)> =
            self.file.phases.iter().map(|p| ("phase", &p.id)).collect();
        ids.extend(self.steps().map(|(_, _, s)| ("step", &s.id)));
        ids.extend(self.file.backups.iter().map(|b| ("backup", &b.id)));
        for (what, id) in ids {
            let text = id.get_ref();
            let first_ok = text
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric());
            let rest_ok = text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !first_ok || !rest_ok || text.len() > 64 {
                self.push(
                    Diagnostic::error(
                        format!("{what} id `{text}` is not a plain name"),
                        Some(id.span()),
                    )
                    .with_help(
                        "use up to 64 letters, digits, `-`, `_` or `.`, starting with a letter or digit",
                    ),
                );
            }
        }
    }

    /// A backup is taken by one step, once: two steps (or one listing it twice) would
    /// start the same backup twice, into the same files.
    fn backup_uses(&mut self) {
        let mut owner: BTreeMap<&str, (&str, usize)> = BTreeMap::new();
        let mut found = Vec::new();
        for (_, _, step) in self.steps() {
            let Some(list) = &step.backups else { continue };
            for b in list.get_ref() {
                let name = b.get_ref().as_str();
                match owner.get(name) {
                    Some((first, line)) => {
                        let msg = if *first == step.id.get_ref().as_str() {
                            format!("step `{first}` lists backup `{name}` twice")
                        } else {
                            format!(
                                "backup `{name}` is already taken by step `{first}` (line {line})"
                            )
                        };
                        found.push(
                            Diagnostic::error(msg, Some(b.span()))
                                .with_help("list each backup in exactly one backup step"),
                        );
                    }
                    None => {
                        let line = self.line_of(&step.id.span());
                        owner.insert(name, (step.id.get_ref().as_str(), line));
                    }
                }
            }
        }
        for d in found {
            self.push(d);
        }
    }

    /// `expect` and `progress` are regular expressions: a broken one is found now, not
    /// when the command has already run.
    fn regexes(&mut self) {
        let mut list: Vec<(String, &Spanned<String>, Option<usize>)> = Vec::new();
        for (_, _, s) in self.steps() {
            if let Some(e) = &s.expect {
                list.push((format!("step `{}` expect", s.id.get_ref()), e, None));
            }
        }
        for b in &self.file.backups {
            if let Some(p) = &b.progress {
                list.push((format!("backup `{}` progress", b.id.get_ref()), p, Some(2)));
            }
        }
        for (label, text, max_groups) in list {
            match regex::Regex::new(text.get_ref()) {
                Err(e) => {
                    let detail = e.to_string();
                    let last = detail.lines().last().unwrap_or("").trim();
                    let last = last.strip_prefix("error: ").unwrap_or(last).to_string();
                    self.push(
                        Diagnostic::error(
                            format!("{label} is not a valid regular expression: {last}"),
                            Some(text.span()),
                        )
                        .with_help("the syntax is Rust's `regex` crate (like RE2: no look-around or back-references)"),
                    );
                }
                Ok(re) => {
                    let groups = re.captures_len() - 1;
                    if let Some(max) = max_groups
                        && (groups == 0 || groups > max)
                    {
                        self.push(
                            Diagnostic::error(
                                format!("{label} has {groups} capture groups; it needs 1 (a percentage) or 2 (done and total)"),
                                Some(text.span()),
                            )
                            .with_help(r"for example '(\d+)/(\d+) disks' or '(\d+)%'"),
                        );
                    }
                }
            }
        }
    }

    fn duplicates(&mut self, what: &str, help: &str, ids: &[&Spanned<String>]) {
        let mut first: BTreeMap<&str, Range<usize>> = BTreeMap::new();
        for id in ids {
            match first.get(id.get_ref().as_str()) {
                Some(earlier) => {
                    let line = self.line_of(earlier);
                    self.push(
                        Diagnostic::error(
                            format!(
                                "duplicate {what} id `{}`: line {line} already uses it",
                                id.get_ref()
                            ),
                            Some(id.span()),
                        )
                        .with_help(help),
                    );
                }
                None => {
                    first.insert(id.get_ref(), id.span());
                }
            }
        }
    }

    // ---- references ------------------------------------------------------------------

    fn references(&mut self) {
        let step_ids = self.step_ids();
        let backup_ids: Vec<&str> = self
            .file
            .backups
            .iter()
            .map(|b| b.id.get_ref().as_str())
            .collect();
        let backup_set: BTreeSet<&str> = backup_ids.iter().copied().collect();
        let has_rollback = self.file.phases.iter().any(|p| p.contingency);

        for (pi, si, step) in self.steps().collect::<Vec<_>>() {
            let id = step.id.get_ref();
            for req in &step.requires {
                let name = req.get_ref();
                if !step_ids.contains(name.as_str()) {
                    let d = Diagnostic::error(
                        format!("step `{id}` requires `{name}`, but no step has that id"),
                        Some(req.span()),
                    );
                    // A step requiring itself is its own error; never suggest it.
                    let others = step_ids.iter().copied().filter(|s| *s != id.as_str());
                    let d = match self.closest(name, others) {
                        Some(best) => d.with_help(format!("did you mean `{best}`?")),
                        None => d,
                    };
                    self.push(d);
                }
            }
            if let Some(list) = &step.backups {
                for b in list.get_ref() {
                    let name = b.get_ref();
                    if backup_set.contains(name.as_str()) {
                        continue;
                    }
                    let d = Diagnostic::error(
                        format!("step `{id}` lists backup `{name}`, but no [[backup]] has that id"),
                        Some(b.span()),
                    );
                    let d = if backup_ids.is_empty() {
                        d.with_help("this runbook defines no [[backup]] tables")
                    } else if let Some(best) = self.closest(name, backup_ids.iter().copied()) {
                        d.with_help(format!("did you mean `{best}`?"))
                    } else {
                        d.with_help(format!(
                            "defined backups: {}",
                            backticked_some(&backup_ids, 20)
                        ))
                    };
                    self.push(d);
                }
            }
            if let Some(m) = &step.message {
                let name = m.get_ref();
                if !MESSAGE_PHASES.contains(&name.as_str()) {
                    let d = Diagnostic::error(
                        format!("step `{id}` sends message `{name}`, which is not a message phase"),
                        Some(m.span()),
                    );
                    let d = match self.closest(name, MESSAGE_PHASES.iter().copied()) {
                        Some(best) => d.with_help(format!("did you mean `{best}`?")),
                        None => {
                            d.with_help(format!("message phases: {}", backticked(MESSAGE_PHASES)))
                        }
                    };
                    self.push(d);
                }
            }
            if step.on_failure == Some(OnFailure::Rollback) && !has_rollback {
                let span = self
                    .step_entry(pi, si, "on_failure")
                    .map_or_else(|| step.id.span(), |(_, v)| v);
                self.push(
                    Diagnostic::error(
                        format!(
                            "step `{id}` has on_failure = \"rollback\", but the runbook has no rollback phase"
                        ),
                        Some(span),
                    )
                    .with_help(
                        "add a [[phase]] with `contingency = true`, or use on_failure = \"stop\"",
                    ),
                );
            }
        }
    }

    // ---- cycles ------------------------------------------------------------------------

    fn cycles(&mut self) {
        let steps: Vec<&Step> = self.steps().map(|(_, _, s)| s).collect();
        // The first step with an id wins; a duplicate is already reported on its own.
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, s) in steps.iter().enumerate() {
            index.entry(s.id.get_ref().as_str()).or_insert(i);
        }
        let edges: Vec<Vec<(usize, Range<usize>)>> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.requires
                    .iter()
                    .filter_map(|r| index.get(r.get_ref().as_str()).map(|&j| (j, r.span())))
                    .filter(|(j, _)| *j != i)
                    .collect()
            })
            .collect();

        for s in &steps {
            if let Some(req) = s.requires.iter().find(|r| r.get_ref() == s.id.get_ref()) {
                self.push(
                    Diagnostic::error(
                        format!(
                            "step `{}` requires itself, so it could never start",
                            s.id.get_ref()
                        ),
                        Some(req.span()),
                    )
                    .with_help("remove it from its own `requires`"),
                );
            }
        }

        // Depth-first search without recursion (a long chain of steps must not overflow the
        // stack); a requirement that points back into the current path closes a cycle.
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnPath,
            Done,
        }
        let mut mark = vec![Mark::New; steps.len()];
        for root in 0..steps.len() {
            if mark[root] != Mark::New {
                continue;
            }
            let mut path: Vec<(usize, usize)> = vec![(root, 0)];
            mark[root] = Mark::OnPath;
            while let Some(&mut (node, ref mut next)) = path.last_mut() {
                let Some((to, span)) = edges[node].get(*next).cloned() else {
                    mark[node] = Mark::Done;
                    path.pop();
                    continue;
                };
                *next += 1;
                match mark[to] {
                    Mark::New => {
                        mark[to] = Mark::OnPath;
                        path.push((to, 0));
                    }
                    Mark::OnPath => {
                        let from = path.iter().position(|(n, _)| *n == to).unwrap_or(0);
                        let mut names: Vec<&str> = path[from..]
                            .iter()
                            .map(|(n, _)| steps[*n].id.get_ref().as_str())
                            .collect();
                        names.push(steps[to].id.get_ref());
                        self.push(
                            Diagnostic::error(
                                format!(
                                    "`requires` forms a cycle: {}; none of these steps could ever start",
                                    names.join(" → ")
                                ),
                                Some(span),
                            )
                            .with_help("remove one of these requirements"),
                        );
                    }
                    Mark::Done => {}
                }
            }
        }
    }

    // ---- window ------------------------------------------------------------------------

    fn window(&mut self) {
        let w = &self.file.window;
        let start = w.start.as_ref().and_then(|s| self.time("start", s));
        let end = w.end.as_ref().and_then(|e| self.time("end", e));

        if let Some(tz) = &w.timezone {
            let name = tz.get_ref();
            if jiff::tz::TimeZone::get(name).is_err() {
                let d = Diagnostic::error(format!("unknown time zone `{name}`"), Some(tz.span()));
                let available: Vec<String> =
                    jiff::tz::db().available().map(|n| n.to_string()).collect();
                let d = match self.closest(name, available.iter().map(String::as_str)) {
                    Some(best) => d.with_help(format!("did you mean `{best}`?")),
                    None => d.with_help(
                        "use an IANA time zone name such as `Europe/Amsterdam`, `America/New_York` or `UTC`",
                    ),
                };
                self.push(d);
            }
        }

        if let (Some(_), Some(end_value)) = (&w.duration, &w.end) {
            let duration_key = self.entry(&[Seg::Key("window")], "duration");
            let end_key = self.entry(&[Seg::Key("window")], "end");
            // Point at whichever of the two the operator wrote second.
            let (second, span) = match (duration_key, end_key) {
                (Some((d, _)), Some((e, _))) if d.start > e.start => ("duration", d),
                (_, Some((e, _))) => ("end", e),
                _ => ("end", end_value.span()),
            };
            self.push(
                Diagnostic::error(
                    format!("the window sets both `duration` and `end`; `{second}` must go"),
                    Some(span),
                )
                .with_help(
                    "`duration` counts from the start, `end` is a fixed time: keep one of them",
                ),
            );
        }

        if let (Some(start), Some(end), Some(end_value)) = (start, end, &w.end)
            && end <= start
        {
            let start_text = w.start.as_ref().map_or("", |s| s.get_ref().as_str());
            self.push(
                Diagnostic::error(
                    format!(
                        "the window ends at {} but starts at {start_text}: the end must come after the start",
                        end_value.get_ref()
                    ),
                    Some(end_value.span()),
                ),
            );
        }
    }

    /// Parses a window time, reporting it when it is not RFC 3339 with an offset.
    fn time(&mut self, key: &str, value: &Spanned<String>) -> Option<jiff::Timestamp> {
        let text = value.get_ref().trim();
        match text.parse::<jiff::Timestamp>() {
            Ok(t) => Some(t),
            Err(_) => {
                let example = "2026-11-28T22:00:00+01:00";
                let d = if text.parse::<jiff::civil::DateTime>().is_ok() {
                    Diagnostic::error(
                        format!("window {key} `{text}` has no UTC offset, so the moment it names is ambiguous"),
                        Some(value.span()),
                    )
                    .with_help(format!("add the offset, e.g. `{text}+01:00` or `{text}Z`"))
                } else {
                    Diagnostic::error(
                        format!("window {key} `{text}` is not an RFC 3339 time"),
                        Some(value.span()),
                    )
                    .with_help(format!(
                        "write it with date, time and offset, e.g. `{example}`"
                    ))
                };
                self.push(d);
                None
            }
        }
    }

    // ---- step kinds --------------------------------------------------------------------

    fn kinds(&mut self) {
        for (pi, si, step) in self.steps().collect::<Vec<_>>() {
            let mut kinds = step.kinds();
            if kinds.len() < 2 {
                continue;
            }
            kinds.sort_by_key(|(_, span)| span.start);
            let keys: Vec<&str> = kinds.iter().map(|(k, _)| kind_key(*k)).collect();
            let (second_kind, second_value) = &kinds[1];
            let span = self
                .step_entry(pi, si, kind_key(*second_kind))
                .map_or_else(|| second_value.clone(), |(k, _)| k);
            self.push(
                Diagnostic::error(
                    format!(
                        "step `{}` sets {}; a step does one thing: run a command (`run`), take backups (`backups`) or send a message (`message`)",
                        step.id.get_ref(),
                        join_and(&keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>()),
                    ),
                    Some(span),
                )
                .with_help("split it into separate steps"),
            );
        }
    }

    // ---- secrets -----------------------------------------------------------------------

    /// Secrets are environment variables: a name the shell can export, listed once, and
    /// neither a runbook variable (whose value would be journaled and templated) nor one
    /// cutover sets itself.
    fn secrets(&mut self) {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for name in &self.file.runbook.secrets {
            let text = name.get_ref().as_str();
            let span = Some(name.span());
            let shaped = text
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !shaped {
                self.push(
                    Diagnostic::error(
                        format!("secret `{text}` is not an environment variable name"),
                        span,
                    )
                    .with_help(
                        "use letters, digits and `_`, starting with a letter or `_` (e.g. `DB_PASSWORD`)",
                    ),
                );
                continue;
            }
            if let Some(first) = seen.insert(text, name.span().start) {
                self.push(
                    Diagnostic::error(format!("secret `{text}` is listed twice"), span).with_help(
                        format!(
                            "it is first listed on line {}; remove this one",
                            self.line_at(first)
                        ),
                    ),
                );
                continue;
            }
            if self.file.vars.contains_key(text) {
                self.push(
                    Diagnostic::error(
                        format!("`{text}` is both a secret and a variable in [vars]"),
                        span,
                    )
                    .with_help(
                        "a variable's value is journaled and shown; remove it from [vars] and \
                         export it before starting cutover instead",
                    ),
                );
            } else if text.starts_with("CUTOVER_") {
                self.push(
                    Diagnostic::error(
                        format!("secret `{text}` uses cutover's own prefix `CUTOVER_`"),
                        span,
                    )
                    .with_help(
                        "cutover sets and reads `CUTOVER_*` variables itself; pick another name",
                    ),
                );
            } else if LIVE_VARIABLES.contains(&text) {
                self.push(
                    Diagnostic::error(
                        format!("secret `{text}` has the name of a live template value"),
                        span,
                    )
                    .with_help("pick another name (secret names are usually upper case)"),
                );
            }
        }
    }

    // ---- templates ---------------------------------------------------------------------

    fn templates(&mut self) {
        let f = self.file;
        let mut texts: Vec<(String, &Spanned<String>)> = Vec::new();
        if let Some(s) = &f.runbook.summary {
            texts.push(("the runbook summary".into(), s));
        }
        for b in &f.backups {
            if let Some(a) = &b.artifact {
                texts.push((format!("backup `{}` artifact", b.id.get_ref()), a));
            }
        }
        for p in &f.phases {
            if let Some(d) = &p.detail {
                texts.push((format!("phase `{}` detail", p.id.get_ref()), d));
            }
            for s in &p.steps {
                if let Some(d) = &s.detail {
                    texts.push((format!("step `{}` detail", s.id.get_ref()), d));
                }
                if let Some(i) = &s.important {
                    texts.push((format!("step `{}` important", s.id.get_ref()), i));
                }
            }
        }
        if let Some(m) = &f.message {
            let phases = [
                ("before", &m.before),
                ("during", &m.during),
                ("after", &m.after),
                ("rollback", &m.rollback),
            ];
            for (name, t) in phases {
                if let Some(t) = t {
                    texts.push((format!("[message.{name}] subject"), &t.subject));
                    texts.push((format!("[message.{name}] body"), &t.body));
                }
            }
        }

        let defined: BTreeSet<String> = f
            .vars
            .keys()
            .cloned()
            .chain(LIVE_VARIABLES.iter().map(|s| s.to_string()))
            .collect();
        for (label, text) in texts {
            self.template(&label, text, &defined);
        }
    }

    fn template(&mut self, label: &str, text: &Spanned<String>, defined: &BTreeSet<String>) {
        let value = text.get_ref();
        let offsets = string_offsets(self.source, text.span(), value);
        // A span inside the string when the literal can be mapped; the whole string if not.
        let locate = |range: Option<Range<usize>>| match (&offsets, range) {
            (Some(map), Some(r)) => map_range(map, &r).unwrap_or_else(|| text.span()),
            _ => text.span(),
        };
        match template::undeclared(value) {
            Err(e) => {
                let detail = match &e {
                    TemplateError::Syntax { detail, .. } => detail.clone(),
                    other => other.to_string(),
                };
                self.push(
                    Diagnostic::error(
                        format!("template syntax error in {label}: {detail}"),
                        Some(locate(e.range())),
                    )
                    .with_help("placeholders are written `{{ NAME }}`"),
                );
            }
            Ok(names) => {
                let mut missing = false;
                for name in names.iter().filter(|n| !defined.contains(*n)) {
                    missing = true;
                    let at = Some(locate(template::find_variable(value, name)));
                    if self
                        .file
                        .runbook
                        .secrets
                        .iter()
                        .any(|s| s.get_ref() == name)
                    {
                        // Templates end up on screen, in messages and in the report.
                        self.push(
                            Diagnostic::error(
                                format!(
                                    "{label} uses `{name}`, a secret: secret `{name}` is only \
                                     available to commands, as ${name}, not in templates"
                                ),
                                at,
                            )
                            .with_help(
                                "templates are shown on screen, sent to stakeholders and kept \
                                 in the report; remove the secret from this text",
                            ),
                        );
                        continue;
                    }
                    let d = Diagnostic::error(
                        format!("{label} uses `{name}`, which is not defined"),
                        at,
                    );
                    let d = match self.closest(name, defined.iter().map(String::as_str)) {
                        Some(best) => d.with_help(format!("did you mean `{best}`?")),
                        None => d.with_help(
                            "define it under [vars], or use a live value such as `window_start` or `eta`",
                        ),
                    };
                    self.push(d);
                }
                // Unknown filters only surface when the template runs; with undefined names
                // it would stop at the first of those, which is already reported.
                if !missing && let Err(e) = template::dry_run(value, defined) {
                    let d = Diagnostic::error(format!("{label}: {e}"), Some(locate(e.range())));
                    let d = if matches!(e, TemplateError::Limit { .. }) {
                        d.with_help(
                            "a template fills in values for a few lines of text; \
                             keep its loops short and its values small",
                        )
                    } else {
                        d
                    };
                    self.push(d);
                }
            }
        }
    }

    // ---- versions ----------------------------------------------------------------------

    fn versions(&mut self) {
        let Some(scheme) = &self.file.runbook.version_scheme else {
            return;
        };
        let (parse, scheme_name, form): (VersionParser, _, _) = match scheme.get_ref() {
            VersionScheme::Calver => (
                parse_calver,
                "calver",
                "{year}.{month}.{patch}, e.g. `2025.05.02`",
            ),
            VersionScheme::Semver => (parse_semver, "semver", "MAJOR.MINOR.PATCH, e.g. `4.12.0`"),
            VersionScheme::Free => return,
        };
        let mut parsed = BTreeMap::new();
        for var in ["FROM_VERSION", "TO_VERSION"] {
            let Some(value) = self.file.vars.get(var) else {
                continue;
            };
            match parse(value.get_ref()) {
                Ok(v) => {
                    parsed.insert(var, v);
                }
                Err(why) => self.push(
                    Diagnostic::error(
                        format!(
                            "{var} `{}` does not follow version_scheme = \"{scheme_name}\": {why}",
                            value.get_ref()
                        ),
                        Some(value.span()),
                    )
                    .with_help(format!("write it as {form}")),
                ),
            }
        }
        if let (Some(from), Some(to), Some(to_value)) = (
            parsed.get("FROM_VERSION"),
            parsed.get("TO_VERSION"),
            self.file.vars.get("TO_VERSION"),
        ) && to <= from
        {
            let from_text = self
                .file
                .vars
                .get("FROM_VERSION")
                .map_or("", |v| v.get_ref().as_str());
            let what = if to == from {
                "the same as"
            } else {
                "older than"
            };
            self.push(
                Diagnostic::warning(
                    format!(
                        "TO_VERSION `{}` is {what} FROM_VERSION `{from_text}`",
                        to_value.get_ref()
                    ),
                    Some(to_value.span()),
                )
                .with_help(
                    "check the two versions; if this is a planned downgrade, ignore this warning",
                ),
            );
        }
    }

    // ---- warnings: estimates and fit ---------------------------------------------------

    fn estimates(&mut self) {
        let f = self.file;
        for phase in f.phases.iter().filter(|p| !p.contingency) {
            for step in &phase.steps {
                if estimate::step_estimate(f, step).is_some() {
                    continue;
                }
                let id = step.id.get_ref();
                let d = if step.kind() == StepKind::Backup {
                    Diagnostic::warning(
                        format!("neither step `{id}` nor its backups have an estimate, so the projected finish leaves it out"),
                        Some(step.id.span()),
                    )
                    .with_help("add `estimate = \"...\"` to the step or to its [[backup]] tables")
                } else {
                    Diagnostic::warning(
                        format!(
                            "step `{id}` has no estimate, so the projected finish leaves it out"
                        ),
                        Some(step.id.span()),
                    )
                    .with_help("add e.g. `estimate = \"10m\"` to the step")
                };
                self.push(d);
            }
        }

        let Some(length) = estimate::window_length(f) else {
            return;
        };
        let happy = estimate::happy_path(f);
        let reserve = estimate::rollback_reserve(f);
        let needed = happy + reserve;
        if needed <= length {
            return;
        }
        let span = f
            .window
            .duration
            .as_ref()
            .map(Spanned::span)
            .or_else(|| f.window.end.as_ref().map(Spanned::span));
        self.push(
            Diagnostic::warning(
                format!(
                    "the plan does not fit its window: {happy} of steps + {reserve} rollback reserve = {needed}, but the window is {length}"
                ),
                span,
            )
            .with_help("extend the window, revisit the estimates, or set window.rollback_reserve if rolling back is quicker"),
        );
    }
}

fn kind_key(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Command => "run",
        StepKind::Backup => "backups",
        StepKind::Message => "message",
        StepKind::Manual => "",
    }
}

fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Parses a version into comparable parts, or says in words what is wrong with it.
type VersionParser = fn(&str) -> Result<[u64; 3], String>;

/// `{year}.{month}.{patch}`: four-digit year, two-digit month 01–12, two-digit patch.
fn parse_calver(text: &str) -> Result<[u64; 3], String> {
    let parts: Vec<&str> = text.split('.').collect();
    let [year, month, patch] = parts[..] else {
        return Err("expected three parts separated by dots".into());
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(year, 4) {
        return Err(format!("the year `{year}` must be four digits"));
    }
    if !digits(month, 2) {
        return Err(format!("the month `{month}` must be two digits"));
    }
    if !digits(patch, 2) {
        return Err(format!("the patch `{patch}` must be two digits"));
    }
    let number = |s: &str| s.parse::<u64>().map_err(|e| format!("`{s}`: {e}"));
    let m = number(month)?;
    if !(1..=12).contains(&m) {
        return Err(format!("the month `{month}` is not between 01 and 12"));
    }
    Ok([number(year)?, m, number(patch)?])
}

/// `MAJOR.MINOR.PATCH`, digits only.
fn parse_semver(text: &str) -> Result<[u64; 3], String> {
    let parts: Vec<&str> = text.split('.').collect();
    let [major, minor, patch] = parts[..] else {
        return Err("expected three numbers separated by dots".into());
    };
    let mut out = [0u64; 3];
    for (slot, (name, part)) in
        out.iter_mut()
            .zip([("major", major), ("minor", minor), ("patch", patch)])
    {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("the {name} part `{part}` is not a number"));
        }
        *slot = part
            .parse()
            .map_err(|e| format!("the {name} part `{part}`: {e}"))?;
    }
    Ok(out)
}

/// For the TOML string literal at `span` whose decoded value is `value`: the source offset
/// of every byte of `value`, plus one for its end. `None` when the literal cannot be mapped
/// exactly (the caller then points at the whole string rather than at a wrong spot).
fn string_offsets(source: &str, span: Range<usize>, value: &str) -> Option<Vec<usize>> {
    let raw = source.get(span.clone())?;
    let delim = ["\"\"\"", "'''", "\"", "'"]
        .into_iter()
        .find(|d| raw.starts_with(d) && raw.len() >= 2 * d.len())?;
    let literal = delim.starts_with('\'');
    let multiline = delim.len() == 3;
    let content = &raw[delim.len()..raw.len() - delim.len()];
    let base = span.start + delim.len();

    let mut map = Vec::with_capacity(value.len() + 1);
    let mut decoded = String::with_capacity(value.len());
    let mut i = 0;
    // A newline right after an opening `"""` or `'''` is not part of the value.
    if multiline {
        if content.starts_with("\r\n") {
            i = 2;
        } else if content.starts_with('\n') {
            i = 1;
        }
    }
    while let Some(c) = content[i..].chars().next() {
        if literal || c != '\\' {
            map.extend((0..c.len_utf8()).map(|k| base + i + k));
            decoded.push(c);
            i += c.len_utf8();
            continue;
        }
        let after = &content[i + 1..];
        let next = after.chars().next()?;
        let hex = |n: usize| -> Option<char> {
            let digits = after.get(1..1 + n)?;
            char::from_u32(u32::from_str_radix(digits, 16).ok()?)
        };
        let (ch, len) = match next {
            'b' => (Some('\u{8}'), 2),
            't' => (Some('\t'), 2),
            'n' => (Some('\n'), 2),
            'f' => (Some('\u{c}'), 2),
            'r' => (Some('\r'), 2),
            'e' => (Some('\u{1b}'), 2),
            '"' => (Some('"'), 2),
            '\\' => (Some('\\'), 2),
            'x' => (Some(hex(2)?), 4),
            'u' => (Some(hex(4)?), 6),
            'U' => (Some(hex(8)?), 10),
            // A backslash ending a line swallows the newline and the next line's indent.
            ' ' | '\t' | '\r' | '\n' if multiline => {
                let skipped = after
                    .find(|c: char| !matches!(c, ' ' | '\t' | '\r' | '\n'))
                    .unwrap_or(after.len());
                (None, 1 + skipped)
            }
            _ => return None,
        };
        if let Some(ch) = ch {
            map.extend((0..ch.len_utf8()).map(|_| base + i));
            decoded.push(ch);
        }
        i += len;
    }
    map.push(base + i);
    (decoded == value).then_some(map)
}

fn map_range(map: &[usize], r: &Range<usize>) -> Option<Range<usize>> {
    let start = *map.get(r.start)?;
    let end = if r.end > r.start {
        map.get(r.end - 1)? + 1
    } else {
        start + 1
    };
    Some(start..end.max(start + 1))
}

/// Checks one version against a scheme, for values that arrive after validation
/// (`--var TO_VERSION=...`): the same rule as the runbook's own `[vars]`.
pub fn check_version(scheme: VersionScheme, value: &str) -> Result<(), String> {
    match scheme {
        VersionScheme::Calver => parse_calver(value).map(|_| ()),
        VersionScheme::Semver => parse_semver(value).map(|_| ()),
        VersionScheme::Free => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[runbook]\ntitle = \"t\"\n";

    fn errors(src: &str) -> Vec<Diagnostic> {
        validate(src)
    }

    fn at<'s>(src: &'s str, d: &Diagnostic) -> &'s str {
        &src[d.span.clone().unwrap()]
    }

    #[test]
    fn edit_distance_counts_swaps_as_one() {
        assert_eq!(edit_distance("titel", "title"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(closest("estimat", ["estimate", "title"]), Some("estimate"));
        assert_eq!(
            closest("from_version", ["FROM_VERSION"]),
            Some("FROM_VERSION")
        );
        assert_eq!(closest("xyz", ["estimate", "title"]), None);
    }

    #[test]
    fn unknown_key_suggests_the_closest_and_points_at_the_key() {
        let src = "[runbook]\ntitel = \"t\"\n";
        let d = &errors(src)[0];
        assert_eq!(d.message, "unknown key `titel`");
        assert_eq!(d.help.as_deref(), Some("did you mean `title`?"));
        assert_eq!(at(src, d), "titel");
    }

    #[test]
    fn unknown_key_without_a_close_match_lists_the_accepted_ones() {
        let src = "[runbook]\ntitle = \"t\"\n[window]\nzzzzzzzz = 1\n";
        let d = &errors(src)[0];
        assert!(
            d.help
                .as_deref()
                .unwrap()
                .starts_with("accepted keys: `start`"),
            "{d:?}"
        );
    }

    #[test]
    fn unquoted_times_get_a_hint() {
        let src = format!("{BASE}[window]\nstart = 2026-11-28T22:00:00+01:00\n");
        let d = &errors(&src)[0];
        assert_eq!(d.message, "times are written as quoted strings");
        assert_eq!(
            d.help.as_deref(),
            Some("write \"2026-11-28T22:00:00+01:00\"")
        );
    }

    #[test]
    fn string_offsets_follow_escapes_and_multiline_strings() {
        let src = "a = \"x\\ty {{ z }}\"\nb = \"\"\"\n  one\\\n    two {{ q }}\"\"\"\nc = '''\nlit {{ w }}'''\n";
        let v: toml::Table = toml::from_str(src).unwrap();
        for (key, name) in [("a", "z"), ("b", "q"), ("c", "w")] {
            let value = v[key].as_str().unwrap();
            let start = src.find(&format!("{key} = ")).unwrap() + 4;
            let end = src[start..].find('\n').map(|e| start + e).unwrap();
            // Multi-line literals run over several lines: find the closing delimiter.
            let end = if src[start..].starts_with("\"\"\"") || src[start..].starts_with("'''") {
                let delim = &src[start..start + 3];
                start + 3 + src[start + 3..].find(delim).unwrap() + 3
            } else {
                end
            };
            let map = string_offsets(src, start..end, value).unwrap();
            let r = template::find_variable(value, name).unwrap();
            assert_eq!(&src[map_range(&map, &r).unwrap()], name, "{key}");
        }
    }

    #[test]
    fn calver_and_semver_parsing() {
        assert_eq!(parse_calver("2025.05.02"), Ok([2025, 5, 2]));
        assert!(
            parse_calver("2025.5.02")
                .unwrap_err()
                .contains("two digits")
        );
        assert!(
            parse_calver("2025.13.02")
                .unwrap_err()
                .contains("01 and 12")
        );
        assert!(
            parse_calver("25.05.02")
                .unwrap_err()
                .contains("four digits")
        );
        assert!(parse_calver("2025.05").is_err());
        assert_eq!(parse_semver("4.12.0"), Ok([4, 12, 0]));
        assert!(parse_semver("4.12").is_err());
        assert!(parse_semver("4.x.0").unwrap_err().contains("minor"));
        assert!(parse_semver("v4.1.0").is_err());
    }

    #[test]
    fn every_problem_is_reported_in_one_run() {
        let src = format!(
            "{BASE}[[phase]]\nid = \"p\"\ntitle = \"P\"\n\
             [[phase.step]]\nid = \"a\"\ntitle = \"A\"\nestimate = \"1m\"\nrequires = [\"nope\"]\n\
             [[phase.step]]\nid = \"a\"\ntitle = \"B\"\nestimate = \"1m\"\nmessage = \"durng\"\n"
        );
        let messages: Vec<String> = errors(&src).into_iter().map(|d| d.message).collect();
        assert_eq!(messages.len(), 3, "{messages:#?}");
    }

    #[test]
    fn long_requires_chain_does_not_overflow() {
        let mut src = format!("{BASE}[[phase]]\nid = \"p\"\ntitle = \"P\"\n");
        for i in 0..5000 {
            let requires = if i == 0 {
                String::from("[\"s4999\"]")
            } else {
                format!("[\"s{}\"]", i - 1)
            };
            src.push_str(&format!(
                "[[phase.step]]\nid = \"s{i}\"\ntitle = \"S\"\nestimate = \"1s\"\nrequires = {requires}\n"
            ));
        }
        let found = errors(&src);
        assert_eq!(found.len(), 1, "{:?}", found.first());
        assert!(found[0].message.contains("s0 → s4999 → s4998"));
    }
}
