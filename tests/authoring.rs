//! The authoring commands end to end, through the real binary: `init` writes a starter that
//! passes `validate --strict` and the schema, the schema accepts every bundled runbook and
//! refuses typos, the checked-in schema matches what `cutover schema` prints, and the
//! completion scripts and man page come out of the clap definitions.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

fn cutover(args: &[&str], cwd: Option<&Path>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("NO_COLOR");
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.output().expect("run cutover")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The schema as `cutover schema` prints it.
fn schema() -> Value {
    let out = cutover(&["schema"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the schema is JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&schema()).expect("the schema compiles")
}

/// A runbook as the JSON an editor's TOML extension checks against the schema.
fn as_json(toml_text: &str) -> Value {
    toml::from_str::<Value>(toml_text).expect("valid TOML")
}

/// Every schema error in `toml_text`, one per line, for assertion messages.
fn schema_errors(v: &jsonschema::Validator, toml_text: &str) -> Vec<String> {
    let instance = as_json(toml_text);
    v.iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn init_into(dir: &Path) -> (PathBuf, String) {
    let path = dir.join("runbook.toml");
    let out = cutover(&["init", path.to_str().expect("utf-8 path")], None);
    assert!(
        out.status.success(),
        "init failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let written = std::fs::read_to_string(&path).expect("init wrote the file");
    (path, written)
}

#[test]
fn init_writes_a_runbook_that_passes_validate_strict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = init_into(dir.path());
    let out = cutover(
        &["validate", "--strict", path.to_str().expect("utf-8 path")],
        None,
    );
    assert!(
        out.status.success(),
        "the starter runbook does not pass validate --strict:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).ends_with("runbook.toml: ok\n"));
}

#[test]
fn init_writes_runbook_toml_in_the_current_directory_by_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = cutover(&["init"], Some(dir.path()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("runbook.toml"));
    assert!(dir.path().join("runbook.toml").is_file());
}

#[test]
fn init_teaches_every_part_of_the_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, written) = init_into(dir.path());
    let first = written.lines().next().unwrap_or_default();
    assert!(first.starts_with("#:schema "), "first line: {first}");

    let doc = as_json(&written);
    let runbook = &doc["runbook"];
    assert!(runbook["title"].is_string());
    assert!(doc["vars"].as_object().is_some_and(|v| !v.is_empty()));
    assert!(doc["window"]["duration"].is_string());
    let backup = &doc["backup"][0];
    assert!(backup["verify"].is_string() && backup["artifact"].is_string());
    for moment in ["before", "during", "after"] {
        assert!(doc["message"][moment]["subject"].is_string(), "{moment}");
    }

    let steps: Vec<&Value> = doc["phase"]
        .as_array()
        .expect("phases")
        .iter()
        .flat_map(|p| p["step"].as_array().expect("steps"))
        .collect();
    let has = |f: &dyn Fn(&Value) -> bool| steps.iter().any(|s| f(s));
    let is_manual = |s: &Value| ["run", "backups", "message"].iter().all(|k| s[k].is_null());
    assert!(has(&is_manual), "a manual step");
    assert!(
        has(&|s| [
            "run", "requires", "confirm", "timeout", "expect", "downtime"
        ]
        .iter()
        .all(|k| !s[k].is_null())),
        "a command step with requires, confirm, timeout, expect and downtime"
    );
    assert!(has(&|s| s["backups"].is_array()), "a backup step");
    assert!(has(&|s| s["message"].is_string()), "a message step");
    assert!(
        doc["phase"]
            .as_array()
            .expect("phases")
            .iter()
            .any(|p| p["contingency"] == Value::Bool(true)),
        "a contingency phase"
    );
}

#[test]
fn init_refuses_to_overwrite_and_names_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mine.toml");
    std::fs::write(&path, "# my runbook\n").expect("write");
    let out = cutover(&["init", path.to_str().expect("utf-8 path")], None);
    assert!(!out.status.success());
    assert_eq!(out.status.code(), Some(73));
    let err = text(&out.stderr);
    assert!(
        err.contains("mine.toml") && err.contains("already exists"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "# my runbook\n"
    );
}

#[test]
fn the_starter_runbook_matches_the_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, written) = init_into(dir.path());
    let errors = schema_errors(&validator(), &written);
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn every_bundled_runbook_matches_the_schema() {
    let v = validator();
    let mut checked = 0;
    for entry in std::fs::read_dir(repo().join("runbooks")).expect("runbooks/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let source = std::fs::read_to_string(&path).expect("read");
            let errors = schema_errors(&v, &source);
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} runbooks found");
}

#[test]
fn the_schema_refuses_unknown_keys_bad_durations_and_mixed_kinds() {
    let v = validator();
    let cases = [
        ("unknown key", "[runbook]\ntitle = \"x\"\ntitel = \"y\"\n"),
        (
            "unknown table",
            "[runbook]\ntitle = \"x\"\n[windw]\nduration = \"1h\"\n",
        ),
        ("missing title", "[runbook]\nsummary = \"x\"\n"),
        (
            "bare number",
            "[runbook]\ntitle = \"x\"\n[window]\nduration = \"10\"\n",
        ),
        (
            "words",
            "[runbook]\ntitle = \"x\"\n[window]\nduration = \"ten minutes\"\n",
        ),
        (
            "duration and end",
            "[runbook]\ntitle = \"x\"\n[window]\nduration = \"1h\"\nend = \"2026-11-28T23:00:00Z\"\n",
        ),
        (
            "two kinds",
            "[runbook]\ntitle = \"x\"\n[[phase]]\nid = \"p\"\ntitle = \"P\"\n\
             [[phase.step]]\nid = \"s\"\ntitle = \"S\"\nrun = \"true\"\nmessage = \"before\"\n",
        ),
        (
            "unknown message moment",
            "[runbook]\ntitle = \"x\"\n[[phase]]\nid = \"p\"\ntitle = \"P\"\n\
             [[phase.step]]\nid = \"s\"\ntitle = \"S\"\nmessage = \"durng\"\n",
        ),
        (
            "id with a space",
            "[runbook]\ntitle = \"x\"\n[[phase]]\nid = \"my phase\"\ntitle = \"P\"\n",
        ),
        (
            "unknown on_failure",
            "[runbook]\ntitle = \"x\"\n[[phase]]\nid = \"p\"\ntitle = \"P\"\n\
             [[phase.step]]\nid = \"s\"\ntitle = \"S\"\nrun = \"true\"\non_failure = \"retry\"\n",
        ),
    ];
    for (what, source) in cases {
        assert!(
            !v.is_valid(&as_json(source)),
            "the schema accepts a runbook with {what}:\n{source}"
        );
    }
    // The control: the smallest runbook passes, so the refusals above are the culprits'.
    assert!(v.is_valid(&as_json(
        "[runbook]\ntitle = \"x\"\n[window]\nduration = \"1h30m\"\n"
    )));
}

#[test]
fn the_schema_describes_the_fields_and_closes_every_table() {
    let schema = schema();
    assert_eq!(
        schema["$schema"], "http://json-schema.org/draft-07/schema#",
        "{schema:#}"
    );
    assert_eq!(schema["additionalProperties"], Value::Bool(false));
    let defs = schema["definitions"].as_object().expect("definitions");
    for name in [
        "Header",
        "Window",
        "Backup",
        "Messages",
        "MessageTemplate",
        "Phase",
        "Step",
    ] {
        let def = &defs[name];
        assert_eq!(def["additionalProperties"], Value::Bool(false), "{name}");
        for (field, prop) in def["properties"].as_object().expect("properties") {
            assert!(
                prop["description"].is_string(),
                "{name}.{field} has no description"
            );
        }
    }
    assert!(!schema.to_string().contains("\"null\""), "TOML has no null");
}

#[test]
fn the_checked_in_schema_is_what_cutover_schema_prints() {
    let out = cutover(&["schema"], None);
    assert!(out.status.success());
    let printed = text(&out.stdout);
    let path = repo().join("assets/runbook.schema.json");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == printed,
        "{} is stale: regenerate it with `cargo run -- schema > assets/runbook.schema.json`",
        path.display()
    );
}

#[test]
fn completions_cover_every_subcommand() {
    let out = cutover(&["completions", "bash"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let script = text(&out.stdout);
    assert!(script.contains("cutover"));
    for sub in [
        "run",
        "resume",
        "sessions",
        "status",
        "report",
        "message",
        "validate",
        "demo",
        "init",
        "schema",
        "completions",
        "man",
    ] {
        assert!(script.contains(sub), "bash completion lacks `{sub}`");
    }
    assert!(
        !script.contains("__supervise"),
        "a hidden command is offered"
    );
    for shell in ["zsh", "fish"] {
        let out = cutover(&["completions", shell], None);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("validate"), "{shell}");
    }
    let out = cutover(&["completions", "tcsh"], None);
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn man_prints_a_roff_page() {
    let out = cutover(&["man"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    // clap_mangen opens with the standard two-line definition of the apostrophe string
    // (`.ie`/`.el`); the title header comes right after it, before any section.
    let header = page
        .lines()
        .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
        .unwrap_or_default();
    assert!(
        header.starts_with(".TH cutover 1"),
        "{}",
        &page[..page.len().min(200)]
    );
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "no {section}");
    }
    assert!(page.contains("validate"));
}
