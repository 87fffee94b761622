//! Every runbook under tests/fixtures/runbooks: the valid ones must be spotless, and each
//! invalid one must produce exactly the diagnostics its `# expect:` lines announce.
//!
//! An expectation line reads `# expect: <error|warning> <line>:<col> <text in the message>`.

use std::path::{Path, PathBuf};

use cutover::runbook::diagnostic::{Diagnostic, Severity};
use cutover::runbook::validate::validate;

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/runbooks")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Expect {
    severity: &'static str,
    line: usize,
    col: usize,
    text: String,
}

fn expectations(path: &Path, source: &str) -> Vec<Expect> {
    source
        .lines()
        .filter_map(|l| l.strip_prefix("# expect:"))
        .map(|rest| {
            let mut words = rest.trim().splitn(3, ' ');
            let severity = match words.next() {
                Some("error") => "error",
                Some("warning") => "warning",
                other => panic!("{}: bad severity {other:?}", path.display()),
            };
            let pos = words.next().unwrap_or_default();
            let (line, col) = pos
                .split_once(':')
                .and_then(|(l, c)| Some((l.parse().ok()?, c.parse().ok()?)))
                .unwrap_or_else(|| panic!("{}: bad position {pos:?}", path.display()));
            let text = words.next().unwrap_or_default().trim().to_string();
            assert!(
                !text.is_empty(),
                "{}: expectation without text",
                path.display()
            );
            Expect {
                severity,
                line,
                col,
                text,
            }
        })
        .collect()
}

fn word(d: &Diagnostic) -> &'static str {
    match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

#[test]
fn valid_runbooks_have_no_errors_and_no_warnings() {
    let files = fixtures("valid");
    assert!(files.len() >= 3, "expected at least 3 valid fixtures");
    for path in files {
        let source = std::fs::read_to_string(&path).unwrap();
        let found = validate(&source);
        let shown = path.display().to_string();
        assert!(
            found.is_empty(),
            "{shown} should be clean:\n{}",
            found
                .iter()
                .map(|d| d.render(&shown, &source))
                .collect::<String>()
        );
        assert!(
            !source.contains("# expect:"),
            "{shown}: a valid fixture expects nothing"
        );
    }
}

#[test]
fn invalid_runbooks_report_exactly_what_they_expect() {
    let files = fixtures("invalid");
    assert!(files.len() >= 14, "expected at least 14 invalid fixtures");
    let mut failures = Vec::new();
    for path in files {
        let source = std::fs::read_to_string(&path).unwrap();
        let shown = path.file_name().unwrap().to_string_lossy().to_string();
        let mut wanted = expectations(&path, &source);
        assert!(!wanted.is_empty(), "{shown} has no `# expect:` line");
        let found = validate(&source);

        let mut got: Vec<(&'static str, usize, usize)> = found
            .iter()
            .map(|d| {
                let (line, col) = d.position(&source).unwrap_or((0, 0));
                (word(d), line, col)
            })
            .collect();
        got.sort();
        wanted.sort();
        let want_keys: Vec<_> = wanted.iter().map(|e| (e.severity, e.line, e.col)).collect();
        let rendered = || {
            found
                .iter()
                .map(|d| d.render(&shown, &source))
                .collect::<String>()
        };
        if got != want_keys {
            failures.push(format!(
                "{shown}: expected {want_keys:?}, found {got:?}\n{}",
                rendered()
            ));
            continue;
        }
        for e in &wanted {
            let matched = found.iter().any(|d| {
                d.position(&source) == Some((e.line, e.col))
                    && word(d) == e.severity
                    && d.message.contains(&e.text)
            });
            if !matched {
                failures.push(format!(
                    "{shown}: no {} at {}:{} containing {:?}\n{}",
                    e.severity,
                    e.line,
                    e.col,
                    e.text,
                    rendered()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn rendered_diagnostic_puts_the_caret_under_the_culprit() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/runbooks/invalid/requires-unknown-step.toml");
    let source = std::fs::read_to_string(path).unwrap();
    let found = validate(&source);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].render("runbooks/x.toml", &source),
        "error: step `upgrade` requires `ful-backup`, but no step has that id\n  \
         --> runbooks/x.toml:20:13\n   \
         |\n\
         20 | requires = [\"ful-backup\"]\n   \
         |             ^^^^^^^^^^^^\n   \
         = help: did you mean `full-backup`?\n"
    );
}

#[test]
fn template_error_inside_a_multiline_string_points_into_the_string() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/runbooks/invalid/template-syntax-multiline.toml");
    let source = std::fs::read_to_string(path).unwrap();
    let found = validate(&source);
    let d = found
        .iter()
        .find(|d| d.message.contains("[message.during] body"))
        .unwrap();
    // The caret sits on the stray word, on its own line of the body, not on the `"""`.
    assert_eq!(&source[d.span.clone().unwrap()], "steps_total");
}
