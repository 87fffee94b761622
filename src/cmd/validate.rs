//! `cutover validate`: check runbooks before the window, the way a compiler checks code.

use std::io::Write;
use std::path::PathBuf;

use crate::runbook::validate::validate;

/// Validates every file in `paths`, writing each diagnostic and a one-line summary per file
/// to `out`. Returns the process exit code: 0 when clean, 1 when any file has an error (or,
/// with `strict`, a warning).
///
/// Write failures on `out` are ignored: the exit code still tells the caller the verdict,
/// and there is nowhere better to report a broken stdout.
pub fn run(paths: &[PathBuf], strict: bool, out: &mut dyn Write) -> i32 {
    if paths.is_empty() {
        let _ = writeln!(out, "error: no runbook given: name one or more .toml files");
        return 1;
    }
    let mut failed = false;
    for path in paths {
        let shown = path.display().to_string();
        let source = match std::fs::read_to_string(path) {
            Ok(source) => source,
            Err(e) => {
                let _ = writeln!(out, "error: cannot read {shown}: {e}\n");
                let _ = writeln!(out, "{shown}: 1 error");
                failed = true;
                continue;
            }
        };
        let diagnostics = validate(&source);
        for d in &diagnostics {
            let _ = writeln!(out, "{}", d.render(&shown, &source));
        }
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        let warnings = diagnostics.len() - errors;
        let _ = writeln!(out, "{shown}: {}", summary(errors, warnings, strict));
        failed |= errors > 0 || (strict && warnings > 0);
    }
    i32::from(failed)
}

fn summary(errors: usize, warnings: usize, strict: bool) -> String {
    let count = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut parts = Vec::new();
    if errors > 0 {
        parts.push(count(errors, "error"));
    }
    if warnings > 0 {
        let mut w = count(warnings, "warning");
        if strict {
            w.push_str(" (errors under --strict)");
        }
        parts.push(w);
    }
    if parts.is_empty() {
        "ok".to_string()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_on(files: &[(&str, &str)], missing: bool, strict: bool) -> (i32, String) {
        let dir = tempfile::tempdir().unwrap();
        let mut paths: Vec<PathBuf> = files
            .iter()
            .map(|(name, text)| {
                let p = dir.path().join(name);
                std::fs::write(&p, text).unwrap();
                p
            })
            .collect();
        if missing {
            paths.push(dir.path().join("absent.toml"));
        }
        let mut out = Vec::new();
        let code = run(&paths, strict, &mut out);
        let text = String::from_utf8(out)
            .unwrap()
            .replace(&format!("{}/", dir.path().display()), "");
        (code, text)
    }

    const CLEAN: &str = "[runbook]\ntitle = \"t\"\n";
    const WARNS: &str = "[runbook]\ntitle = \"t\"\n[[phase]]\nid = \"p\"\ntitle = \"P\"\n[[phase.step]]\nid = \"a\"\ntitle = \"A\"\n";
    const BROKEN: &str = "[runbook]\ntitel = \"t\"\n";

    #[test]
    fn clean_file_is_ok_and_exits_zero() {
        assert_eq!(
            run_on(&[("a.toml", CLEAN)], false, false),
            (0, "a.toml: ok\n".into())
        );
    }

    #[test]
    fn warnings_pass_unless_strict() {
        let (code, text) = run_on(&[("w.toml", WARNS)], false, false);
        assert_eq!(code, 0);
        assert!(text.contains("warning: step `a` has no estimate"), "{text}");
        assert!(text.ends_with("w.toml: 1 warning\n"), "{text}");
        let (code, text) = run_on(&[("w.toml", WARNS)], false, true);
        assert_eq!(code, 1);
        assert!(
            text.ends_with("w.toml: 1 warning (errors under --strict)\n"),
            "{text}"
        );
    }

    #[test]
    fn errors_are_rendered_with_position_and_counted() {
        let (code, text) = run_on(&[("ok.toml", CLEAN), ("bad.toml", BROKEN)], false, false);
        assert_eq!(code, 1);
        assert_eq!(
            text,
            "ok.toml: ok\n\
             error: unknown key `titel`\n --> bad.toml:2:1\n  |\n2 | titel = \"t\"\n  | ^^^^^\n  = help: did you mean `title`?\n\n\
             bad.toml: 1 error\n"
        );
    }

    #[test]
    fn unreadable_file_names_path_and_reason() {
        let (code, text) = run_on(&[("ok.toml", CLEAN)], true, false);
        assert_eq!(code, 1);
        assert!(
            text.contains("error: cannot read ")
                && text.contains("absent.toml: No such file or directory"),
            "{text}"
        );
        assert!(text.ends_with("absent.toml: 1 error\n"), "{text}");
    }

    #[test]
    fn no_paths_is_an_error() {
        let mut out = Vec::new();
        assert_eq!(run(&[], false, &mut out), 1);
    }

    #[test]
    fn summary_pluralises() {
        assert_eq!(summary(2, 1, false), "2 errors, 1 warning");
        assert_eq!(summary(1, 0, false), "1 error");
        assert_eq!(summary(0, 3, false), "3 warnings");
    }
}
