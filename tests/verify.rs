//! `cutover verify` end to end, on real sessions of the demo (driven in a pty), then
//! damaged by hand the ways a disk, a crash or a person can: a torn tail, a flipped byte,
//! a missing record, a forged record with a valid checksum, a changed runbook copy,
//! missing or contradicting task files. Also `status` and `resume` on the same damage.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{Home, Output};
use serde_json::Value;

const DATA: i32 = 65;
const NO_INPUT: i32 = 66;

/// The demo with its two manual steps marked done and its first command (`say-hello`)
/// run to its end, then quit: five records (started, done, done, step_started,
/// step_finished) and the task files of `step-say-hello-1`.
fn demo_with_a_command(home: &Home) -> String {
    let mut tui = home.pty(120, 40, &["demo"]);
    tui.wait_for_saved(1);
    tui.send("d");
    tui.wait_for_saved(2);
    tui.send("d");
    tui.wait_for_saved(3);
    tui.send("\r");
    tui.wait_for_saved(4);
    tui.wait_for_saved(5);
    tui.send("q");
    assert_eq!(tui.wait_code(), 0, "demo quit: {}", tui.screen());
    let id = home.only_session();
    let lines = common::journal_lines(&home.journal(&id));
    let types: Vec<&str> = lines
        .iter()
        .map(|l| l["event"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "session_started",
            "step_done",
            "step_done",
            "step_started",
            "step_finished"
        ]
    );
    id
}

fn session_dir(home: &Home, id: &str) -> PathBuf {
    home.state().join("sessions").join(id)
}

fn task(home: &Home, id: &str, file: &str) -> PathBuf {
    session_dir(home, id).join("tasks").join(file)
}

/// `verify --json`, parsed, with its exit code; checks the documented shape each time.
fn verify(home: &Home, id: &str) -> (i32, Value) {
    let out = home.run(&["verify", id, "--json"]);
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("verify --json is not JSON ({e}): {out:?}"));
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&report),
        [
            "last_seq",
            "ok",
            "problems",
            "records",
            "session",
            "torn_tail_bytes"
        ],
        "{report:#}"
    );
    assert_eq!(report["session"], id);
    for p in report["problems"].as_array().unwrap() {
        assert_eq!(
            keys(p),
            ["kind", "line", "message", "offset", "severity"],
            "{p:#}"
        );
        assert!(
            p["severity"] == "error" || p["severity"] == "warning",
            "{p:#}"
        );
    }
    let errors = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["severity"] == "error");
    assert_eq!(
        report["ok"], !errors,
        "ok is false iff an error: {report:#}"
    );
    let want = if errors { DATA } else { 0 };
    assert_eq!(out.code, want, "exit code of verify: {out:?}");
    (out.code, report)
}

/// The problems of `kind` in a report.
fn problems<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == kind)
        .collect()
}

fn only_problem<'a>(report: &'a Value, kind: &str) -> &'a Value {
    let found = problems(report, kind);
    assert_eq!(found.len(), 1, "one `{kind}` problem expected: {report:#}");
    assert_eq!(
        report["problems"].as_array().unwrap().len(),
        1,
        "and nothing else: {report:#}"
    );
    found[0]
}

/// Byte offset where each line starts, plus the file length.
fn line_starts(bytes: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .collect()
}

/// The journal's lines without their newlines.
fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn join(lines: &[Vec<u8>]) -> Vec<u8> {
    lines
        .iter()
        .flat_map(|l| l.iter().copied().chain(std::iter::once(b'\n')))
        .collect()
}

/// A journal line saying `value`, closed with a checksum that holds, as cutover closes
/// its own: what someone who knows the format can forge.
fn seal(value: &Value) -> Vec<u8> {
    let body = serde_json::to_string(value).unwrap();
    let crc = crc32fast::hash(body.as_bytes());
    format!("{},\"crc\":\"{crc:08x}\"}}", &body[..body.len() - 1]).into_bytes()
}

/// A line as JSON without its checksum, ready to change and [`seal`] again.
fn unseal(line: &[u8]) -> Value {
    let mut v: Value = serde_json::from_slice(line).unwrap();
    v.as_object_mut().unwrap().remove("crc");
    v
}

/// Every file under `dir` with its bytes and modification time.
fn tree(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                out.insert(p.clone(), (Vec::new(), meta.modified().unwrap()));
                stack.push(p);
            } else {
                out.insert(
                    p.clone(),
                    (std::fs::read(&p).unwrap(), meta.modified().unwrap()),
                );
            }
        }
    }
    out
}

fn assert_refused_at(out: &Output, offset: usize, line: usize, what: &str) {
    assert_eq!(out.code, DATA, "{what}: {out:?}");
    let want = format!("byte offset {offset} (line {line})");
    assert!(
        out.stderr.contains(&want),
        "{what} must say `{want}`: {out:?}"
    );
}

#[test]
fn a_clean_session_verifies_ok_and_a_torn_tail_is_not_damage() {
    let home = Home::new();
    let id = demo_with_a_command(&home);
    let journal = home.journal(&id);
    let clean = std::fs::read(&journal).unwrap();
    assert!(task(&home, &id, "step-say-hello-1.log").is_file());
    assert!(task(&home, &id, "step-say-hello-1.exit").is_file());

    let before = tree(home.path());
    let (_, report) = verify(&home, &id);
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["records"], 5, "{report:#}");
    assert_eq!(report["last_seq"], 5, "{report:#}");
    assert_eq!(report["torn_tail_bytes"], 0, "{report:#}");
    assert_eq!(report["problems"], serde_json::json!([]), "{report:#}");

    // Text: one line per check, all ok, and `ok` last; the default is the latest session.
    let out = home.run(&["verify"]);
    assert_eq!(out.code, 0, "{out:?}");
    common::assert_no_escapes(&out.stdout, "verify");
    assert!(out.stdout.contains(&id), "{}", out.stdout);
    for check in [
        "records",
        "sequence",
        "first record",
        "torn tail",
        "runbook copy",
        "names",
        "task files",
    ] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with("ok") && l.contains(check)),
            "no `ok` line for {check}:\n{}",
            out.stdout
        );
    }
    assert_eq!(out.stdout.lines().last(), Some("ok"), "{}", out.stdout);
    assert_eq!(
        tree(home.path()),
        before,
        "verify created, changed or touched a file"
    );

    // Half of a line appended, as a kill -9 mid-write leaves it: reported, not damage.
    let second = &lines(&clean)[1];
    let half = &second[..second.len() / 2];
    let torn = [&clean[..], half].concat();
    std::fs::write(&journal, &torn).unwrap();
    let (_, report) = verify(&home, &id);
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["records"], 5, "{report:#}");
    assert_eq!(report["last_seq"], 5, "{report:#}");
    assert_eq!(report["torn_tail_bytes"], half.len(), "{report:#}");
    let p = only_problem(&report, "torn_tail");
    assert_eq!(p["severity"], "warning");
    assert_eq!(p["offset"], clean.len(), "{p:#}");
    assert_eq!(p["line"], 6, "{p:#}");
    let out = home.run(&["verify", &id]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .lines()
            .last()
            .unwrap()
            .starts_with("ok (1 warning)"),
        "{}",
        out.stdout
    );
    assert_eq!(
        std::fs::read(&journal).unwrap(),
        torn,
        "verify cut the tail"
    );

    let out = home.run(&["verify", "no-such-session", "--json"]);
    assert_eq!(out.code, NO_INPUT, "{out:?}");
    assert_eq!(out.stdout, "", "{out:?}");
    assert!(out.stderr.contains("no-such-session"), "{out:?}");
}

#[test]
fn damage_mid_file_is_an_error_at_its_offset_and_status_shows_what_comes_before() {
    let home = Home::new();
    let id = demo_with_a_command(&home);
    let journal = home.journal(&id);
    let clean = std::fs::read(&journal).unwrap();
    let starts = line_starts(&clean);

    // A byte flipped in line 2, then (from a clean copy) in line 4: both before the last
    // line, so neither may pass as a torn tail.
    for line in [2usize, 4] {
        let start = starts[line - 1];
        let middle = start + (starts[line] - 1 - start) / 2;
        let mut damaged = clean.clone();
        damaged[middle] ^= 0x01;
        std::fs::write(&journal, &damaged).unwrap();

        let (code, report) = verify(&home, &id);
        assert_eq!(code, DATA);
        assert_eq!(report["ok"], false);
        let p = only_problem(&report, "checksum_mismatch");
        assert_eq!(p["severity"], "error");
        assert_eq!(p["offset"], start, "{p:#}");
        assert_eq!(p["line"], line, "{p:#}");
        // The records on either side still read, and are counted.
        assert_eq!(report["records"], 4, "{report:#}");
        assert_eq!(report["last_seq"], 5, "{report:#}");

        let text = home.run(&["verify", &id]);
        assert_eq!(text.code, DATA, "{text:?}");
        assert!(
            text.stdout.lines().last().unwrap().starts_with("DAMAGED"),
            "{}",
            text.stdout
        );
        assert!(
            text.stdout
                .contains(&format!("byte offset {start} (line {line})")),
            "{}",
            text.stdout
        );
        assert!(
            text.stdout
                .lines()
                .any(|l| l.starts_with("FAIL") && l.contains("records")),
            "{}",
            text.stdout
        );
        assert_eq!(
            std::fs::read(&journal).unwrap(),
            damaged,
            "verify changed a damaged journal"
        );

        // resume refuses it with the same offset, and leaves it alone too.
        let out = home.run(&["resume", &id]);
        assert_refused_at(&out, start, line, "resume of a damaged journal");
        assert_eq!(std::fs::read(&journal).unwrap(), damaged);

        // status shows the state before the damage, says so on top, and exits 65.
        let out = home.run(&["status", "--json", &id]);
        assert_refused_at(&out, start, line, "status --json of a damaged journal");
        assert!(out.stderr.contains("cutover verify"), "{out:?}");
        let status: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("status --json printed no JSON ({e}): {out:?}"));
        assert_eq!(status["damaged"]["offset"], start, "{status:#}");
        assert_eq!(status["damaged"]["line"], line, "{status:#}");
        assert!(
            status["damaged"]["reason"]
                .as_str()
                .unwrap()
                .contains("checksum"),
            "{status:#}"
        );
        assert_eq!(status["saved"], line - 1, "replayed up to the damage");
        let out = home.run(&["status", &id]);
        assert_eq!(out.code, DATA, "{out:?}");
        let first = out.stdout.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("DAMAGED")
                && first.contains(&format!("byte offset {start} (line {line})")),
            "the first line must say the journal is damaged and where:\n{}",
            out.stdout
        );
        assert!(out.stdout.contains("cutover verify"), "{}", out.stdout);
        assert!(out.stdout.contains("read-intro"), "{}", out.stdout);
    }

    // Damage in the first line leaves nothing to show: status only says where.
    let mut damaged = clean.clone();
    damaged[starts[1] / 2] ^= 0x01;
    std::fs::write(&journal, &damaged).unwrap();
    let out = home.run(&["status", "--json", &id]);
    assert_refused_at(&out, 0, 1, "status of a journal damaged in line 1");
    assert_eq!(out.stdout, "", "{out:?}");

    // A clean journal: `damaged` is there, and null.
    std::fs::write(&journal, &clean).unwrap();
    assert_eq!(home.status_json(&id)["damaged"], Value::Null);

    // A record taken out of the middle: every line reads, the sequence does not.
    let mut all = lines(&clean);
    all.remove(2);
    let gapped = join(&all);
    std::fs::write(&journal, &gapped).unwrap();
    let (code, report) = verify(&home, &id);
    assert_eq!(code, DATA);
    let p = only_problem(&report, "seq_gap");
    assert_eq!(p["offset"], starts[2], "{p:#}");
    assert_eq!(p["line"], 3, "{p:#}");
    assert!(
        p["message"].as_str().unwrap().contains("#3 is missing"),
        "{p:#}"
    );
    assert_refused_at(
        &home.run(&["resume", &id]),
        starts[2],
        3,
        "resume of a journal with a gap",
    );
    assert_eq!(std::fs::read(&journal).unwrap(), gapped);

    // Without its first record: the sequence starts at 2 and nothing says what ran.
    let headless = join(&lines(&clean)[1..]);
    std::fs::write(&journal, &headless).unwrap();
    let (code, report) = verify(&home, &id);
    assert_eq!(code, DATA);
    assert_eq!(problems(&report, "seq_start").len(), 1, "{report:#}");
    let p = problems(&report, "first_record");
    assert_eq!(p.len(), 1, "{report:#}");
    assert_eq!(p[0]["offset"], 0);
}

#[test]
fn a_forged_record_with_a_valid_checksum_is_refused_everywhere() {
    let home = Home::new();
    let id = demo_with_a_command(&home);
    let journal = home.journal(&id);
    let clean = std::fs::read(&journal).unwrap();
    let starts = line_starts(&clean);
    let all = lines(&clean);
    let pwned = home.path().join("pwned");

    // The control: a line taken apart and sealed again unchanged (its keys reordered)
    // verifies, so what follows is refused for its content, not for a checksum this
    // test got wrong.
    let mut resealed = all.clone();
    resealed[1] = seal(&unseal(&all[1]));
    std::fs::write(&journal, join(&resealed)).unwrap();
    assert_eq!(
        verify(&home, &id).1["ok"],
        true,
        "a re-sealed line must read"
    );

    // A `command` on a `step_done`, sealed with a checksum that holds.
    let mut v = unseal(&all[1]);
    assert_eq!(v["event"]["type"], "step_done");
    v["event"]["command"] = format!("touch {}", pwned.display()).into();
    let mut forged = all.clone();
    forged[1] = seal(&v);
    let err = cutover::session::journal::decode(&forged[1])
        .expect_err("journal::decode took a forged field");
    assert!(err.contains("unknown field `command`"), "{err}");
    let forged_bytes = join(&forged);
    std::fs::write(&journal, &forged_bytes).unwrap();

    let (code, report) = verify(&home, &id);
    assert_eq!(code, DATA);
    let p = only_problem(&report, "unknown_field");
    assert_eq!(p["offset"], starts[1], "{p:#}");
    assert_eq!(p["line"], 2, "{p:#}");
    let m = p["message"].as_str().unwrap();
    assert!(m.contains("`step_done`") && m.contains("`command`"), "{m}");

    let out = home.run(&["resume", &id]);
    assert_refused_at(&out, starts[1], 2, "resume of a forged journal");
    assert!(out.stderr.contains("unknown field `command`"), "{out:?}");
    assert!(!pwned.exists(), "the forged command ran");
    assert_eq!(std::fs::read(&journal).unwrap(), forged_bytes);

    // On the envelope, and an event type cutover never writes.
    let mut v = unseal(&all[2]);
    v["sudo"] = true.into();
    let mut forged = all.clone();
    forged[2] = seal(&v);
    let mut v = unseal(&all[3]);
    v["event"]["type"] = "step_exec".into();
    forged[3] = seal(&v);
    std::fs::write(&journal, join(&forged)).unwrap();
    let (_, report) = verify(&home, &id);
    let p = problems(&report, "unknown_field");
    assert_eq!(p.len(), 1, "{report:#}");
    assert_eq!(p[0]["line"], 3);
    assert!(p[0]["message"].as_str().unwrap().contains("`sudo`"));
    let p = problems(&report, "unknown_event_type");
    assert_eq!(p.len(), 1, "{report:#}");
    assert_eq!(p[0]["line"], 4);
    assert!(
        p[0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown event type `step_exec`"),
        "{report:#}"
    );
    let out = home.run(&["resume", &id]);
    assert_refused_at(&out, starts[2], 3, "resume of a forged envelope");

    // Forged as the very last line: a whole line whose checksum holds is no torn write.
    let mut v = unseal(&all[4]);
    v["event"]["command"] = "true".into();
    let mut forged = all.clone();
    forged[4] = seal(&v);
    std::fs::write(&journal, join(&forged)).unwrap();
    let (_, report) = verify(&home, &id);
    let p = only_problem(&report, "unknown_field");
    assert_eq!(p["line"], 5, "{p:#}");
    assert_eq!(report["torn_tail_bytes"], 0, "{report:#}");

    std::fs::write(&journal, &clean).unwrap();
    assert_eq!(verify(&home, &id).1["ok"], true);
}

#[test]
fn a_changed_or_unreadable_runbook_copy_and_unknown_names_are_errors() {
    let home = Home::new();
    let id = demo_with_a_command(&home);
    let journal = home.journal(&id);
    let clean = std::fs::read(&journal).unwrap();
    let all = lines(&clean);
    let copy = session_dir(&home, &id).join("runbook.toml");
    let original = std::fs::read(&copy).unwrap();

    // One comment added: the digest no longer matches.
    std::fs::write(&copy, [&original[..], b"# edited\n"].concat()).unwrap();
    let (code, report) = verify(&home, &id);
    assert_eq!(code, DATA);
    let p = only_problem(&report, "runbook_changed");
    assert_eq!(p["line"], 1, "it points at session_started: {p:#}");
    assert!(
        p["message"].as_str().unwrap().contains("runbook.toml"),
        "{p:#}"
    );

    // Gone altogether.
    std::fs::remove_file(&copy).unwrap();
    let (_, report) = verify(&home, &id);
    only_problem(&report, "runbook_unreadable");

    // Not TOML, with session_started sealed again to its digest: the digest holds, the
    // parse does not.
    let broken = b"[runbook]\ntitle = \"x\"\n[window]\nduration = 30m\n";
    std::fs::write(&copy, broken).unwrap();
    let mut v = unseal(&all[0]);
    v["event"]["runbook_sha256"] = cutover::runbook::sha256_hex(broken).into();
    let mut forged = all.clone();
    forged[0] = seal(&v);
    std::fs::write(&journal, join(&forged)).unwrap();
    let (_, report) = verify(&home, &id);
    let p = only_problem(&report, "runbook_invalid");
    assert!(p["message"].as_str().unwrap().contains("4:12"), "{p:#}");

    // A record naming a step the runbook copy does not have.
    std::fs::write(&copy, &original).unwrap();
    let mut v = unseal(&all[1]);
    v["event"]["step"] = "drop-database".into();
    let mut forged = all.clone();
    forged[1] = seal(&v);
    std::fs::write(&journal, join(&forged)).unwrap();
    let (_, report) = verify(&home, &id);
    let p = only_problem(&report, "unknown_step");
    assert_eq!(p["line"], 2, "{p:#}");
    assert!(
        p["message"].as_str().unwrap().contains("drop-database"),
        "{p:#}"
    );

    std::fs::write(&journal, &clean).unwrap();
    assert_eq!(verify(&home, &id).1["ok"], true);
}

#[test]
fn task_files_are_checked_against_the_journal() {
    let home = Home::new();
    let id = demo_with_a_command(&home);
    let journal = home.journal(&id);
    let clean = std::fs::read(&journal).unwrap();
    let starts = line_starts(&clean);
    let log = task(&home, &id, "step-say-hello-1.log");
    let exit = task(&home, &id, "step-say-hello-1.exit");
    let log_bytes = std::fs::read(&log).unwrap();
    let exit_bytes = std::fs::read(&exit).unwrap();

    // The log of a command that ran (its exit record says so) is gone: its output, the
    // evidence of what was done, is lost. The problem points at its step_started.
    std::fs::remove_file(&log).unwrap();
    let (code, report) = verify(&home, &id);
    assert_eq!(code, DATA);
    let p = only_problem(&report, "missing_task_log");
    assert_eq!(p["offset"], starts[3], "{p:#}");
    assert_eq!(p["line"], 4, "{p:#}");
    assert!(
        p["message"]
            .as_str()
            .unwrap()
            .contains("step-say-hello-1.log"),
        "{p:#}"
    );
    // Its exit record too: the journal still holds the result, so that is no excuse.
    std::fs::remove_file(&exit).unwrap();
    let (code, report) = verify(&home, &id);
    assert_eq!(code, DATA);
    only_problem(&report, "missing_task_log");
    std::fs::write(&log, &log_bytes).unwrap();

    // Log there, exit record gone: the journal already holds its result. A warning.
    let (code, report) = verify(&home, &id);
    assert_eq!(code, 0);
    assert_eq!(
        only_problem(&report, "missing_exit_record")["severity"],
        "warning"
    );

    // The exit record contradicts the journal's result.
    let mut rec: Value = serde_json::from_slice(&exit_bytes).unwrap();
    assert_eq!(rec["exit"], 0, "{rec:#}");
    rec["exit"] = 3.into();
    std::fs::write(&exit, serde_json::to_vec(&rec).unwrap()).unwrap();
    let (code, report) = verify(&home, &id);
    assert_eq!(code, DATA);
    let p = only_problem(&report, "exit_mismatch");
    assert_eq!(p["line"], 5, "it points at step_finished: {p:#}");
    let m = p["message"].as_str().unwrap();
    assert!(m.contains("exit 0") && m.contains("exit 3"), "{m}");
    std::fs::write(&exit, &exit_bytes).unwrap();
    assert_eq!(verify(&home, &id).1["ok"], true);

    // Files of an attempt the journal never started: suspicious, but changes nothing.
    let orphan = task(&home, &id, "step-say-hello-7.log");
    std::fs::write(&orphan, "ran\n").unwrap();
    let (code, report) = verify(&home, &id);
    assert_eq!(code, 0);
    let p = only_problem(&report, "orphan_task_file");
    assert_eq!(p["severity"], "warning");
    assert!(
        p["message"].as_str().unwrap().contains("attempt 7"),
        "{p:#}"
    );
    std::fs::remove_file(&orphan).unwrap();

    // Saved as started, then nothing: cutover died before starting the supervisor.
    // A warning, as resume reports the step interrupted.
    std::fs::write(&journal, &clean[..starts[4]]).unwrap();
    for f in std::fs::read_dir(task(&home, &id, "")).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    let (code, report) = verify(&home, &id);
    assert_eq!(code, 0);
    let p = only_problem(&report, "task_never_started");
    assert_eq!(p["line"], 4, "{p:#}");
    assert_eq!(report["records"], 4);
}
