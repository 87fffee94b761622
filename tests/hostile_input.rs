//! Hostile and broken input, property-tested: runbooks, journals and command output that
//! are damaged, nonsensical or built to hurt must never panic, hang or grow memory without
//! bound.
//!
//! Every case runs in a thread of its own with a deadline (`within`), so a hang fails the
//! case instead of the whole run; the thread gets a main thread's 8 MiB stack, so a deep
//! recursion is judged as the binary would meet it. Three groups:
//!
//! 1. runbooks: arbitrary bytes and text, the real runbooks damaged byte by byte and
//!    section by section, mutated as TOML trees, and generated from the model with
//!    template garbage and absurd durations in every field; a runbook that passes goes on
//!    to the window, the state and a drawn screen; a few files through `cutover validate`.
//! 2. journals: `decode` on anything, `read`, `Journal::open` and `JournalTail::poll` on
//!    valid journals with random damage, and the fold (`RunState::replay`, and everything
//!    that reads a state) over decodable but nonsensical events.
//! 3. command output: bytes through the sanitizer, `TaskOutput::absorb`, the ring and the
//!    drawn output pane, in random chunks, and a set of escape bombs.
//!
//! Cases are few by default (the file runs in well under a minute on a loaded 2-core
//! machine); `PROPTEST_CASES=N` raises every property to N. `HOSTILE_DEADLINE_MS` changes
//! the per-case deadline (0 makes every case fail: the negative control of `within`).
//!
//! Tests marked `#[ignore = "bug: ..."]` hold the minimized input of a bug found here,
//! and pass once it is fixed.

mod common;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration as StdDuration, Instant};

use cutover::app::{App, Msg, update};
use cutover::run::RunState;
use cutover::runbook::validate::validate;
use cutover::runbook::{Duration, Runbook, RunbookError};
use cutover::runner::TaskId;
use cutover::runner::output::{MAX_BYTES, MAX_LINES};
use cutover::runner::sanitize::{DEFAULT_MAX_LINE_BYTES, OutLine, Sanitizer};
use cutover::runner::watch::{Report, TaskOutput};
use cutover::session::journal::{self, JournalError};
use cutover::session::{Event, Journal, JournalTail, Outcome, Record, TailError, WindowSpec};
use jiff::Timestamp;
use proptest::prelude::*;
use proptest::sample::Index;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

// ---- harness --------------------------------------------------------------------------

/// Cases per property: `PROPTEST_CASES` when set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// No regression files (this file is the only one we own), and bounded shrinking: a
/// hanging case leaves its thread running, so each shrink step costs a core.
/// `HOSTILE_PERSIST=<file>` keeps the seeds of failing cases there and replays them
/// first on the next run (for chasing a failure; off by default).
fn config(default_cases: u32) -> ProptestConfig {
    let persistence: Option<Box<dyn proptest::test_runner::FailurePersistence>> =
        std::env::var("HOSTILE_PERSIST").ok().map(|path| {
            let path: &'static str = Box::leak(path.into_boxed_str());
            Box::new(proptest::test_runner::FileFailurePersistence::Direct(path))
                as Box<dyn proptest::test_runner::FailurePersistence>
        });
    ProptestConfig {
        cases: cases(default_cases),
        failure_persistence: persistence,
        max_shrink_iters: 256,
        max_shrink_time: 60_000,
        ..ProptestConfig::default()
    }
}

/// The per-case deadline: ~2 s, `HOSTILE_DEADLINE_MS` to change it.
fn deadline() -> StdDuration {
    std::env::var("HOSTILE_DEADLINE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(StdDuration::from_secs(2), StdDuration::from_millis)
}

/// Runs `f` on a thread with a main thread's stack and waits at most `limit`: a panic
/// comes back as a panic naming `what`, a case still running at the deadline as a
/// failure (its thread is left behind: Rust cannot stop it, and the test fails anyway).
fn within_for<T: Send + 'static>(
    what: &str,
    limit: StdDuration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(format!("hostile: {what}"))
        .stack_size(8 << 20)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn a case thread");
    match rx.recv_timeout(limit) {
        Ok(v) => {
            let _ = handle.join();
            v
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: still running after {limit:?} (a hang)")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let why = match handle.join() {
                Err(payload) => payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic".into()),
                Ok(()) => "the case thread ended without an answer".into(),
            };
            panic!("{what}: panicked: {why}")
        }
    }
}

fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    within_for(what, deadline(), f)
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// C0 (ESC, BEL, CR, ...), DEL and C1: what a terminal acts on instead of showing.
fn control(c: char) -> bool {
    c < ' ' || ('\u{7F}'..='\u{9F}').contains(&c)
}

/// The bidi controls that make a line read differently from what it holds.
fn bidi(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// What no line of command output may hold once sanitized.
fn forbidden(c: char) -> bool {
    control(c) || bidi(c)
}

/// Every cell of a drawn screen is free of chars `bad` says no to.
fn assert_screen_free_of(t: &Terminal<TestBackend>, what: &str, bad: fn(char) -> bool) {
    let buf = t.backend().buffer();
    for (i, cell) in buf.content().iter().enumerate() {
        let sym = cell.symbol();
        assert!(
            !sym.chars().any(bad),
            "{what}: cell {i} holds {sym:?}\n{}",
            screen_text(t)
        );
    }
}

/// Every cell of a drawn screen holds printable text only, bidi controls included.
fn assert_screen_clean(t: &Terminal<TestBackend>, what: &str) {
    assert_screen_free_of(t, what, forbidden);
}

fn screen_text(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let area = buf.area;
    (0..area.height)
        .map(|y| {
            (0..area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn draw(app: &App, w: u16, h: u16, now: Timestamp) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| cutover::ui::render(f, app, now)).unwrap();
    t
}

/// The binary on `args` with a deadline and at most 2 GiB of address space (so a runaway
/// allocation aborts instead of taking the machine): its exit code (-signal when killed),
/// stdout and stderr, or `None` when it was still running at `limit` (then killed).
fn run_bin(args: &[&std::ffi::OsStr], limit: StdDuration) -> Option<(i32, Vec<u8>, String)> {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let home = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(common::BIN);
    cmd.args(args)
        .env("CUTOVER_HOME", home.path())
        .env("CUTOVER_CONFIG_DIR", common::no_config_dir())
        .env_remove("CUTOVER_LOG")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 2 << 30,
                rlim_max: 2 << 30,
            };
            libc::setrlimit(libc::RLIMIT_AS, &lim);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn cutover");
    // Drained on threads: a child blocked on a full pipe would look like a hang.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let began = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if began.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(StdDuration::from_millis(10));
    };
    let stdout = out_t.join().unwrap();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap()).into_owned();
    let st = status?;
    let code = st.code().unwrap_or_else(|| -st.signal().unwrap_or(0));
    Some((code, stdout, stderr))
}

// ---- 1. runbooks -----------------------------------------------------------------------

/// Every runbook the repository holds, as (name, text): the real ones first.
fn corpus() -> &'static [(String, String)] {
    static CORPUS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut out = Vec::new();
        for dir in [
            "runbooks",
            "tests/fixtures/runbooks/valid",
            "tests/fixtures/runbooks/invalid",
            "tests/fixtures/ui",
        ] {
            let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            files.sort();
            for f in files {
                let text = std::fs::read_to_string(&f).unwrap();
                out.push((format!("{dir}/{}", f.file_name().unwrap().display()), text));
            }
        }
        assert!(out.len() >= 10, "the runbook corpus is missing");
        out
    })
}

fn demo() -> Runbook {
    Runbook::parse("<demo>", include_str!("../runbooks/demo.toml")).unwrap()
}

/// What every runbook text must survive, start to end: validation with every diagnostic
/// rendered, parsing, and for a runbook that passes, what starting a session does with it
/// (variables, window, the replayed state, the screen at two sizes).
fn check_runbook_text(text: &str) {
    let diagnostics = validate(text);
    for d in &diagnostics {
        if let Some(span) = &d.span {
            assert!(
                span.start <= text.len() && span.end <= text.len(),
                "diagnostic span {span:?} outside a {}-byte runbook: {d:?}",
                text.len()
            );
        }
        let shown = d.render("hostile.toml", text);
        assert!(shown.starts_with("error: ") || shown.starts_with("warning: "));
        let _ = d.position(text);
    }
    match Runbook::parse("hostile.toml", text) {
        Err(e @ RunbookError::Invalid { .. }) => {
            assert!(
                diagnostics.iter().any(|d| d.is_error()),
                "parse refused what validate passed"
            );
            assert!(!e.render().is_empty());
            let _ = e.to_string();
        }
        Err(other) => panic!("parse of text failed with {other}"),
        Ok(rb) => {
            assert!(
                !diagnostics.iter().any(|d| d.is_error()),
                "parse accepted what validate refused"
            );
            after_parse(rb);
        }
    }
}

/// A runbook that passed, taken as far as a session would: window, vars, state, screen.
fn after_parse(rb: Runbook) {
    let now = ts("2026-11-28T21:00:00Z");
    let _ = cutover::runbook::estimate::happy_path(&rb.file);
    let _ = cutover::runbook::estimate::rollback_reserve(&rb.file);
    let _ = cutover::runbook::estimate::window_length(&rb.file);
    for value in [
        "99999999999999999999.0.0",
        "2025.13.99",
        "1.2",
        "",
        "v1.2.3-rc.1+build.5",
        "1.2.3\u{202E}",
        "0.0.0.0.0.0.0.0",
    ] {
        for name in ["FROM_VERSION", "TO_VERSION"] {
            let _ = rb.resolve_vars(&[(name.to_string(), value.to_string())]);
        }
    }
    let Ok(vars) = rb.resolve_vars(&[]) else {
        return;
    };
    // The runbook's own window first; one without a length gets the flag's.
    for flag in [Some("99999999999h"), Some("0s"), Some("-5m"), Some("\u{0}")] {
        let _ = cutover::cmd::start::resolve_window(&rb, None, flag, now);
        let _ = cutover::cmd::start::resolve_window(&rb, Some("9999-12-31T23:59:59Z"), flag, now);
    }
    let window = match cutover::cmd::start::resolve_window(&rb, None, None, now) {
        Ok(w) => w,
        Err(_) => match cutover::cmd::start::resolve_window(&rb, None, Some("4h"), now) {
            Ok(w) => w,
            Err(_) => return,
        },
    };
    let started = Record {
        seq: 1,
        at: now,
        by: "op@host".into(),
        event: Event::SessionStarted {
            session: "20261128-210000-hx01".into(),
            runbook_path: rb.origin.clone(),
            runbook_sha256: rb.sha256.clone(),
            vars,
            window,
            cutover_version: "test".into(),
            rehearsal: false,
        },
    };
    // A duration within a factor of four of the largest overflows `Duration::approx` on
    // the window pane today (the ignored `durations_near_the_largest_draw_without_overflow`):
    // such runbooks are validated and parsed above, not drawn.
    if largest_duration(&rb) > i64::MAX / 4 {
        return;
    }
    let mut app = App::new(rb, &[started], "op@host".into(), false, false);
    // Bidi controls from the runbook do reach the screen: see the ignored
    // `runbook_and_journal_text_is_drawn_without_bidi_controls`.
    let steps = app.run.steps.len();
    for (sel, (w, h)) in [
        (0, (80, 24)),
        (steps / 2, (40, 12)),
        (steps.saturating_sub(1), (120, 40)),
    ] {
        app.view.selected = sel;
        assert_screen_free_of(&draw(&app, w, h, now), "the screen", control);
    }
}

/// The largest duration a runbook writes anywhere, in seconds.
fn largest_duration(rb: &Runbook) -> i64 {
    let f = &rb.file;
    let w = &f.window;
    let mut all: Vec<Option<Duration>> = vec![
        w.duration.as_ref().map(|d| *d.get_ref()),
        w.expected_downtime,
        w.rollback_reserve,
        f.message.as_ref().and_then(|m| m.update_every),
    ];
    for b in &f.backups {
        all.extend([b.estimate, b.timeout, b.grace]);
    }
    for (_, s) in rb.steps() {
        all.extend([s.estimate, s.timeout, s.grace]);
    }
    all.into_iter()
        .flatten()
        .map(Duration::as_secs)
        .max()
        .unwrap_or(0)
}

/// Template text meant to break something, each bounded in time: unbalanced tags, unknown
/// filters and functions, arithmetic traps, recursion, includes with no loader, controls.
/// (Loops that multiply are in the ignored bug tests below: they hang today.)
const TEMPLATE_GARBAGE: &[&str] = &[
    "{{",
    "}}",
    "{{ }}",
    "{%",
    "%}",
    "{#",
    "#}",
    "{# never closed",
    "{% if %}",
    "{% endif %}",
    "{% for %}",
    "{% endfor %}",
    "{% for x in y %}",
    "{% for x in range(50) %}{{ x }}{% endfor %}",
    "{{ x | nosuchfilter }}",
    "{{ SERVICE is nosuchtest }}",
    "{{ nosuchfn() }}",
    "{{ SERVICE | upper | lower | title }}",
    "{% raw %}{{",
    "{% raw %}{{ x }}{% endraw %}",
    "{{ 1 / 0 }}",
    "{{ 1 // 0 }}",
    "{{ 1 % 0 }}",
    "{{ 9223372036854775807 + 1 }}",
    "{{ -9223372036854775808 // -1 }}",
    "{{ 2 ** 99999 }}",
    "{{ 99999999999999999999999999999 }}",
    "{{ 'x' * 1000 }}",
    "{{ range(100001) }}",
    "{{ range(0, 10, 0) }}",
    "{{ SERVICE[0:99999999999999999999] }}",
    "{{ SERVICE[9223372036854775807] }}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{% include 'x' %}",
    "{% extends 'x' %}",
    "{% import 'x' as y %}",
    "{% from 'x' import y %}",
    "{% set x = 1 %}{{ x }}",
    "{% set x %}{{ x }}{% endset %}",
    "{{ self }}",
    "{{ loop.index }}",
    "{{ namespace(a=1).a }}",
    "{% filter upper %}x{% endfilter %}",
    "{% call m() %}{% endcall %}",
    "{% with a = 1 %}{{ a }}{% endwith %}",
    "{% autoescape true %}<{% endautoescape %}",
    "{{ window_start | date }}",
    "{{ now | datetimeformat(format='%Y') }}",
    "{%- -%}",
    "{{- SERVICE -}}",
    "{{ {'a': 1} }}",
    "{{ [1, [2, [3, [4]]]] | tojson }}",
    "{{ '\u{202E}evil' }}",
    "{{ '\\x1b]0;t\\x07' }}",
    "{{ a.b.c.d.e }}",
    "{{ TO_VERSON }}",
    "\u{1b}]52;c;aGVsbG8=\u{7}",
    "\u{0}\u{7f}\u{85}\u{9b}",
];

/// A template nested `n` deep: parentheses, lists, `if` blocks.
fn deep_template(kind: u8, n: usize) -> String {
    match kind % 3 {
        0 => format!("{{{{ {}1{} }}}}", "(".repeat(n), ")".repeat(n)),
        1 => format!("{{{{ {}{} }}}}", "[".repeat(n), "]".repeat(n)),
        _ => format!("{}x{}", "{% if 1 %}".repeat(n), "{% endif %}".repeat(n)),
    }
}

const DURATIONS: &[&str] = &[
    "5s",
    "1m",
    "1h30m",
    "0s",
    "0m",
    "99999999999h",
    "9223372036854775807s",
    "9223372036854775808s",
    "2562047788015215h",
    "2562047788015215h30m7s",
    "106751991167300d",
    "99999999999999999999h",
    "-1m",
    "-0s",
    "10",
    "1.5h",
    "1e9h",
    "PT99999999999H",
    "P1Y",
    "1y",
    "5 years",
    "1h 1h",
    "",
    "   ",
    "m",
    "\u{0}5m",
    "5m\u{202E}",
];

/// A TOML basic string holding `s` (every control escaped, so the text stays TOML).
fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c < ' ' || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A string field: plain, template garbage, a variable (known or misspelled), arbitrary
/// Unicode, deep nesting, a duration, or very long.
fn field() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[a-zA-Z0-9 _.-]{0,16}",
        4 => prop::sample::select(TEMPLATE_GARBAGE).prop_map(str::to_string),
        2 => prop::sample::select(&["SERVICE", "TO_VERSION", "FROM_VERSION", "eta", "nope", "window_start", "x.y"][..])
            .prop_map(|n| format!("{{{{ {n} }}}}")),
        2 => any::<String>(),
        1 => prop::sample::select(DURATIONS).prop_map(str::to_string),
        1 => (any::<u8>(), prop_oneof![1usize..20, 140usize..170, 400usize..600]).prop_map(|(k, n)| deep_template(k, n)),
        // Under 65,535: minijinja's lexer overflows a u16 column past that (see the
        // ignored `a_template_line_of_65535_columns_does_not_panic`).
        1 => (1usize..60_000).prop_map(|n| "x".repeat(n)),
    ];
    prop::collection::vec(piece, 0..4).prop_map(|p| p.concat())
}

/// An id: mostly from a small pool (so they collide, and `requires` finds them), or not
/// a plain name at all.
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(&["a", "b", "c", "d", "backup", "stop", "p1", "p2", "config-archive"][..]).prop_map(str::to_string),
        1 => "[a-z0-9._-]{0,70}",
        1 => any::<String>(),
    ]
}

fn opt<S: Strategy>(s: S) -> impl Strategy<Value = Option<S::Value>> {
    prop::option::weighted(0.4, s)
}

fn duration_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(DURATIONS).prop_map(str::to_string),
        1 => field(),
    ]
}

fn time_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            &[
                "2026-11-28T22:00:00+01:00",
                "2026-11-29T02:00:00+01:00",
                "2026-11-28T22:00:00",
                "-009999-01-01T00:00:00Z",
                "9999-12-31T23:59:59Z",
                "2026-02-30T00:00:00Z",
                "2026-11-28T22:00:00+25:00",
                "now",
            ][..]
        )
        .prop_map(str::to_string),
        field(),
    ]
}

#[derive(Debug, Clone)]
struct GenStep {
    id: String,
    title: String,
    detail: Option<String>,
    important: Option<String>,
    kind: u8,
    run: String,
    backups: Vec<String>,
    message: String,
    requires: Vec<String>,
    estimate: Option<String>,
    timeout: Option<String>,
    downtime: Option<String>,
    on_failure: Option<String>,
    expect: Option<String>,
    flags: (bool, bool),
}

fn gen_step() -> impl Strategy<Value = GenStep> {
    (
        (id(), field(), opt(field()), opt(field()), 0u8..5, field()),
        (
            prop::collection::vec(id(), 0..3),
            prop_oneof![
                prop::sample::select(&["before", "during", "after", "rollback"][..])
                    .prop_map(str::to_string),
                field()
            ],
            prop::collection::vec(id(), 0..4),
            opt(duration_text()),
            opt(duration_text()),
        ),
        (
            opt(prop_oneof![
                Just("start".to_string()),
                Just("end".to_string()),
                field()
            ]),
            opt(prop_oneof![Just("rollback".to_string()), field()]),
            opt(prop_oneof![
                Just("(\\d+)/(\\d+)".to_string()),
                Just("(((((".to_string()),
                Just("a{99999}{99999}".to_string()),
                field()
            ]),
            any::<(bool, bool)>(),
        ),
    )
        .prop_map(
            |(
                (id, title, detail, important, kind, run),
                (backups, message, requires, estimate, timeout),
                (downtime, on_failure, expect, flags),
            )| GenStep {
                id,
                title,
                detail,
                important,
                kind,
                run,
                backups,
                message,
                requires,
                estimate,
                timeout,
                downtime,
                on_failure,
                expect,
                flags,
            },
        )
}

#[derive(Debug, Clone)]
struct GenPhase {
    id: String,
    title: String,
    detail: Option<String>,
    contingency: bool,
    steps: Vec<GenStep>,
}

fn gen_phase() -> impl Strategy<Value = GenPhase> {
    (
        id(),
        field(),
        opt(field()),
        any::<bool>(),
        prop::collection::vec(gen_step(), 0..5),
    )
        .prop_map(|(id, title, detail, contingency, steps)| GenPhase {
            id,
            title,
            detail,
            contingency,
            steps,
        })
}

/// A runbook built from the model: valid TOML with every table, and anything in the
/// fields, so the semantic checks (not the TOML parser) meet the garbage.
fn gen_runbook() -> impl Strategy<Value = String> {
    let header = (
        field(),
        opt(field()),
        opt(prop_oneof![
            prop::sample::select(&["semver", "calver", "free"][..]).prop_map(str::to_string),
            field()
        ]),
        prop::collection::btree_map(
            prop_oneof![
                prop::sample::select(
                    &["SERVICE", "FROM_VERSION", "TO_VERSION", "eta", "SCRATCH"][..]
                )
                .prop_map(str::to_string),
                "[A-Za-z_][A-Za-z0-9_]{0,8}",
                any::<String>(),
            ],
            field(),
            0..5,
        ),
    );
    let window = (
        opt(time_text()),
        opt(duration_text()),
        opt(time_text()),
        opt(prop_oneof![
            Just("Europe/Amsterdam".to_string()),
            Just("Mars/Olympus_Mons".to_string()),
            Just("../../../etc/passwd".to_string()),
            field().prop_map(|s| short_for_timezone(&[Seg::Key("timezone".into())], &s)),
        ]),
        opt(duration_text()),
        opt(duration_text()),
    );
    let backups = prop::collection::vec(
        (
            id(),
            field(),
            field(),
            opt(field()),
            opt(field()),
            opt(duration_text()),
            opt(prop_oneof![
                Just("(\\d+)/(\\d+) disks".to_string()),
                Just("(\\d+)%".to_string()),
                Just("(a|)*+".to_string()),
                field()
            ]),
        ),
        0..3,
    );
    let messages = opt((
        opt(field()),
        opt(duration_text()),
        prop::collection::vec(
            (
                prop::sample::select(&["before", "during", "after", "rollback"][..]),
                field(),
                field(),
            ),
            0..4,
        ),
    ));
    let phases = prop::collection::vec(gen_phase(), 0..4);
    (header, window, backups, messages, phases).prop_map(
        |(header, window, backups, messages, phases)| {
            let mut t = String::from("[runbook]\n");
            let (title, summary, scheme, vars) = header;
            t += &format!("title = {}\n", toml_str(&title));
            if let Some(s) = summary {
                t += &format!("summary = {}\n", toml_str(&s));
            }
            if let Some(s) = scheme {
                t += &format!("version_scheme = {}\n", toml_str(&s));
            }
            if !vars.is_empty() {
                t += "[vars]\n";
                for (k, v) in &vars {
                    t += &format!("{} = {}\n", toml_str(k), toml_str(v));
                }
            }
            let (start, duration, end, tz, downtime, reserve) = window;
            t += "[window]\n";
            for (k, v) in [
                ("start", start),
                ("duration", duration),
                ("end", end),
                ("timezone", tz),
                ("expected_downtime", downtime),
                ("rollback_reserve", reserve),
            ] {
                if let Some(v) = v {
                    t += &format!("{k} = {}\n", toml_str(&v));
                }
            }
            for (id, title, run, verify, artifact, estimate, progress) in backups {
                t += &format!(
                    "[[backup]]\nid = {}\ntitle = {}\nrun = {}\n",
                    toml_str(&id),
                    toml_str(&title),
                    toml_str(&run)
                );
                for (k, v) in [
                    ("verify", verify),
                    ("artifact", artifact),
                    ("estimate", estimate),
                    ("progress", progress),
                ] {
                    if let Some(v) = v {
                        t += &format!("{k} = {}\n", toml_str(&v));
                    }
                }
            }
            if let Some((send, every, templates)) = messages {
                t += "[message]\n";
                if let Some(s) = send {
                    t += &format!("send = {}\n", toml_str(&s));
                }
                if let Some(e) = every {
                    t += &format!("update_every = {}\n", toml_str(&e));
                }
                let mut seen = std::collections::BTreeSet::new();
                for (phase, subject, body) in templates {
                    if seen.insert(phase) {
                        t += &format!(
                            "[message.{phase}]\nsubject = {}\nbody = {}\n",
                            toml_str(&subject),
                            toml_str(&body)
                        );
                    }
                }
            }
            for p in phases {
                t += &format!(
                    "[[phase]]\nid = {}\ntitle = {}\ncontingency = {}\n",
                    toml_str(&p.id),
                    toml_str(&p.title),
                    p.contingency
                );
                if let Some(d) = &p.detail {
                    t += &format!("detail = {}\n", toml_str(d));
                }
                for s in &p.steps {
                    t += &format!(
                        "[[phase.step]]\nid = {}\ntitle = {}\nnotes_required = {}\nconfirm = {}\n",
                        toml_str(&s.id),
                        toml_str(&s.title),
                        s.flags.0,
                        s.flags.1
                    );
                    let list = |v: &[String]| {
                        format!(
                            "[{}]",
                            v.iter().map(|x| toml_str(x)).collect::<Vec<_>>().join(", ")
                        )
                    };
                    // Kind 4 sets two of them: a step of two kinds.
                    if s.kind == 1 || s.kind == 4 {
                        t += &format!("run = {}\n", toml_str(&s.run));
                    }
                    if s.kind == 2 || s.kind == 4 {
                        t += &format!("backups = {}\n", list(&s.backups));
                    }
                    if s.kind == 3 {
                        t += &format!("message = {}\n", toml_str(&s.message));
                    }
                    if !s.requires.is_empty() {
                        t += &format!("requires = {}\n", list(&s.requires));
                    }
                    for (k, v) in [
                        ("detail", &s.detail),
                        ("important", &s.important),
                        ("estimate", &s.estimate),
                        ("timeout", &s.timeout),
                        ("downtime", &s.downtime),
                        ("on_failure", &s.on_failure),
                        ("expect", &s.expect),
                    ] {
                        if let Some(v) = v {
                            t += &format!("{k} = {}\n", toml_str(v));
                        }
                    }
                }
            }
            t
        },
    )
}

/// Damage done to a runbook's text or bytes.
#[derive(Debug, Clone)]
enum TextDamage {
    Flip(Index, u8),
    Truncate(Index),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    /// A `[...]` section copied right after itself (duplicate ids, duplicate keys).
    DupSection(Index),
    DropSection(Index),
    SwapSections(Index, Index),
    /// One `"..."` string's content replaced (the text stays TOML).
    ReplaceString(Index, String),
    /// Every `"..."` string's content replaced with template garbage.
    EveryString(Vec<String>),
    /// Every duration-looking string replaced with an absurd one.
    Durations(Index),
    /// `deep = [[[...]]]`, `{a={a=...}}` or a dotted key `n` deep, after a section header.
    Nest(Index, u8, usize),
}

fn text_damage() -> impl Strategy<Value = TextDamage> {
    prop_oneof![
        2 => (any::<Index>(), 1u8..).prop_map(|(i, x)| TextDamage::Flip(i, x)),
        1 => any::<Index>().prop_map(TextDamage::Truncate),
        1 => (any::<Index>(), prop_oneof![
            prop::collection::vec(any::<u8>(), 0..16),
            prop::sample::select(vec![&b"\n[[phase]]\n"[..], b"\n[runbook]\n", b"\"", b"'''", b"\"\"\"", b"\n[[phase.step]]\nid=\"a\"\ntitle=\"t\"\n", b"\xff\xfe", b"\r", b"\x00", b"= =", b"[[", b"]]"]).prop_map(<[u8]>::to_vec),
        ]).prop_map(|(i, b)| TextDamage::Insert(i, b)),
        1 => (any::<Index>(), 0usize..400).prop_map(|(i, n)| TextDamage::Delete(i, n)),
        2 => any::<Index>().prop_map(TextDamage::DupSection),
        1 => any::<Index>().prop_map(TextDamage::DropSection),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| TextDamage::SwapSections(a, b)),
        3 => (any::<Index>(), field()).prop_map(|(i, s)| TextDamage::ReplaceString(i, s)),
        1 => prop::collection::vec(prop::sample::select(TEMPLATE_GARBAGE).prop_map(str::to_string), 1..8).prop_map(TextDamage::EveryString),
        1 => any::<Index>().prop_map(TextDamage::Durations),
        1 => (any::<Index>(), any::<u8>(), prop_oneof![1usize..50, 100usize..300, 5_000usize..20_000]).prop_map(|(i, k, n)| TextDamage::Nest(i, k, n)),
    ]
}

/// Byte offsets where a `[...]` section header line starts, plus the end.
fn sections(text: &[u8]) -> Vec<usize> {
    let mut starts: Vec<usize> = (0..text.len())
        .filter(|&i| (i == 0 || text[i - 1] == b'\n') && text[i] == b'[')
        .collect();
    starts.push(text.len());
    starts
}

/// Byte ranges of the contents of one-line `"..."` strings.
fn string_contents(text: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'"' && !text[i..].starts_with(b"\"\"\"") {
            let start = i + 1;
            let mut j = start;
            while j < text.len() && text[j] != b'"' && text[j] != b'\n' {
                j += if text[j] == b'\\' { 2 } else { 1 };
            }
            if j < text.len() && text[j] == b'"' {
                out.push(start..j);
            }
            i = j + 1;
        } else if text[i..].starts_with(b"\"\"\"") {
            // Skip a multi-line string whole.
            i += 3;
            while i < text.len() && !text[i..].starts_with(b"\"\"\"") {
                i += 1;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    out
}

fn escaped(s: &str) -> Vec<u8> {
    let q = toml_str(s);
    q.as_bytes()[1..q.len() - 1].to_vec()
}

fn apply_text_damage(text: &mut Vec<u8>, d: &TextDamage) {
    let n = text.len();
    match d {
        TextDamage::Flip(i, x) if n > 0 => text[i.index(n)] ^= x,
        TextDamage::Truncate(i) => text.truncate(i.index(n + 1)),
        TextDamage::Insert(i, b) => {
            let at = i.index(n + 1);
            text.splice(at..at, b.iter().copied());
        }
        TextDamage::Delete(i, len) => {
            let at = i.index(n + 1);
            text.drain(at..(at + len).min(n));
        }
        TextDamage::DupSection(i) | TextDamage::DropSection(i) => {
            let s = sections(text);
            if s.len() < 2 {
                return;
            }
            let k = i.index(s.len() - 1);
            let range = s[k]..s[k + 1];
            if matches!(d, TextDamage::DupSection(_)) {
                let copy: Vec<u8> = text[range.clone()].to_vec();
                let mut copy = copy;
                if copy.last() != Some(&b'\n') {
                    copy.push(b'\n');
                }
                text.splice(range.end..range.end, copy);
            } else {
                text.drain(range);
            }
        }
        TextDamage::SwapSections(a, b) => {
            let s = sections(text);
            if s.len() < 3 {
                return;
            }
            let (mut x, mut y) = (a.index(s.len() - 1), b.index(s.len() - 1));
            if x == y {
                return;
            }
            if x > y {
                std::mem::swap(&mut x, &mut y);
            }
            let first = text[s[x]..s[x + 1]].to_vec();
            let second = text[s[y]..s[y + 1]].to_vec();
            text.splice(s[y]..s[y + 1], first);
            text.splice(s[x]..s[x + 1], second);
        }
        TextDamage::ReplaceString(i, with) => {
            let strings = string_contents(text);
            if strings.is_empty() {
                return;
            }
            let r = strings[i.index(strings.len())].clone();
            let line_start = text[..r.start]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            let with = if text[line_start..r.start].starts_with(b"timezone") {
                short_for_timezone(&[Seg::Key("timezone".into())], with)
            } else {
                with.clone()
            };
            text.splice(r, escaped(&with));
        }
        TextDamage::EveryString(garbage) => {
            // From the end, so earlier ranges stay put.
            for (k, r) in string_contents(text).into_iter().enumerate().rev() {
                text.splice(r, escaped(&garbage[k % garbage.len()]));
            }
        }
        TextDamage::Durations(i) => {
            let huge = DURATIONS[i.index(DURATIONS.len())];
            for r in string_contents(text).into_iter().rev() {
                let s = &text[r.clone()];
                let looks = !s.is_empty()
                    && s[0].is_ascii_digit()
                    && s.iter().all(|b| b.is_ascii_digit() || b"smhd ".contains(b))
                    && s.last().is_some_and(|b| b"smhd".contains(b));
                if looks {
                    text.splice(r, escaped(huge));
                }
            }
        }
        TextDamage::Nest(i, kind, depth) => {
            let s = sections(text);
            let at = s[i.index(s.len())];
            // After the header line, or at the very end.
            let at = text[at..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(text.len(), |p| at + p + 1);
            let line = match kind % 4 {
                0 => format!("deep = {}{}\n", "[".repeat(*depth), "]".repeat(*depth)),
                1 => format!("deep = {}1{}\n", "{a=".repeat(*depth), "}".repeat(*depth)),
                2 => format!("{} = 1\n", vec!["a"; *depth].join(".")),
                _ => format!("[{}]\n", vec!["a"; *depth].join(".")),
            };
            text.splice(at..at, line.into_bytes());
        }
        _ => {}
    }
}

/// A path to a node of a TOML tree.
#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    At(usize),
}

fn paths(v: &toml::Value, here: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    out.push(here.clone());
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                here.push(Seg::Key(k.clone()));
                paths(v, here, out);
                here.pop();
            }
        }
        toml::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                here.push(Seg::At(i));
                paths(v, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn node<'v>(v: &'v mut toml::Value, path: &[Seg]) -> Option<&'v mut toml::Value> {
    let mut at = v;
    for seg in path {
        at = match (seg, at) {
            (Seg::Key(k), toml::Value::Table(t)) => t.get_mut(k)?,
            (Seg::At(i), toml::Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(at)
}

/// A change to one node of a runbook's TOML tree; the result is serialized back, so the
/// checks behind the TOML parser see it.
#[derive(Debug, Clone)]
enum TreeOp {
    Replace(Index, String),
    Retype(Index, u8),
    /// The element copied in its array (a second step, phase or backup with the same id).
    Dup(Index),
    Remove(Index),
    AddKey(Index, &'static str, String),
}

fn tree_op() -> impl Strategy<Value = TreeOp> {
    prop_oneof![
        4 => (any::<Index>(), field()).prop_map(|(i, s)| TreeOp::Replace(i, s)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, k)| TreeOp::Retype(i, k)),
        3 => any::<Index>().prop_map(TreeOp::Dup),
        2 => any::<Index>().prop_map(TreeOp::Remove),
        2 => (
            any::<Index>(),
            prop::sample::select(&["requires", "run", "backups", "message", "estimate", "timeout", "downtime", "detail", "expect", "contingency", "zzz"][..]),
            field(),
        ).prop_map(|(i, k, v)| TreeOp::AddKey(i, k, v)),
    ]
}

/// A long unknown time zone takes validate tens of seconds today (see the ignored
/// `long_unknown_names_do_not_blow_up_suggestions`): kept short there so the properties
/// stay green; drop this once fixed.
fn short_for_timezone(path: &[Seg], s: &str) -> String {
    if matches!(path.last(), Some(Seg::Key(k)) if k == "timezone") {
        s.chars().take(200).collect()
    } else {
        s.to_string()
    }
}

fn apply_tree_op(v: &mut toml::Value, op: &TreeOp) {
    let mut all = Vec::new();
    paths(v, &mut Vec::new(), &mut all);
    let pick = |i: &Index| all[i.index(all.len())].clone();
    match op {
        TreeOp::Replace(i, s) => {
            let path = pick(i);
            let s = short_for_timezone(&path, s);
            if let Some(n) = node(v, &path) {
                *n = toml::Value::String(s);
            }
        }
        TreeOp::Retype(i, k) => {
            if let Some(n) = node(v, &pick(i)) {
                *n = match k % 7 {
                    0 => toml::Value::Integer(i64::MAX),
                    1 => toml::Value::Integer(-1),
                    2 => toml::Value::Float(f64::NAN),
                    3 => toml::Value::Boolean(true),
                    4 => toml::Value::Array(vec![toml::Value::Array(Vec::new())]),
                    5 => toml::Value::Table(toml::Table::new()),
                    _ => toml::Value::Datetime("1979-05-27T07:32:00Z".parse().unwrap()),
                };
            }
        }
        TreeOp::Dup(i) | TreeOp::Remove(i) => {
            let path = pick(i);
            let Some((last, parent)) = path.split_last() else {
                return;
            };
            match (node(v, parent), last) {
                (Some(toml::Value::Array(a)), Seg::At(k)) => {
                    if matches!(op, TreeOp::Dup(_)) {
                        let copy = a[*k].clone();
                        a.insert(*k + 1, copy);
                    } else {
                        a.remove(*k);
                    }
                }
                (Some(toml::Value::Table(t)), Seg::Key(key)) => {
                    if matches!(op, TreeOp::Remove(_)) {
                        t.remove(key);
                    }
                }
                _ => {}
            }
        }
        TreeOp::AddKey(i, key, value) => {
            if let Some(toml::Value::Table(t)) = node(v, &pick(i)) {
                let value = if *key == "requires" || *key == "backups" {
                    toml::Value::Array(vec![toml::Value::String(value.clone())])
                } else if *key == "contingency" {
                    toml::Value::Boolean(true)
                } else {
                    toml::Value::String(value.clone())
                };
                t.insert(key.to_string(), value);
            }
        }
    }
}

fn source_pick() -> impl Strategy<Value = Index> {
    any::<Index>()
}

proptest! {
    #![proptest_config(config(64))]

    /// Arbitrary bytes as a file (`Runbook::load`) and, made UTF-8, as text.
    #[test]
    fn runbook_from_arbitrary_bytes(bytes in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2000),
        "[\\PC\\s\\[\\]={}\"',.#]{0,400}".prop_map(String::into_bytes),
    ]) {
        within("runbook from arbitrary bytes", move || {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("r.toml");
            std::fs::write(&path, &bytes).unwrap();
            match Runbook::load(&path) {
                Ok(rb) => after_parse(rb),
                Err(RunbookError::Read { .. }) => {
                    assert!(std::str::from_utf8(&bytes).is_err(), "a UTF-8 file was unreadable");
                }
                Err(e) => {
                    let _ = e.render();
                }
            }
            check_runbook_text(&String::from_utf8_lossy(&bytes));
        });
    }

    /// Arbitrary Unicode (controls, bidi, astral planes included).
    #[test]
    fn runbook_from_arbitrary_text(text in any::<String>()) {
        within("runbook from arbitrary text", move || check_runbook_text(&text));
    }

    /// The repository's runbooks with 1 to 4 kinds of damage: bytes, sections, strings,
    /// durations, nesting.
    #[test]
    fn damaged_real_runbooks(
        pick in source_pick(),
        damage in prop::collection::vec(text_damage(), 1..5),
    ) {
        let (name, text) = corpus()[pick.index(corpus().len())].clone();
        let what = format!("{name} with {damage:?}");
        within(&what.chars().take(2000).collect::<String>(), move || {
            let mut bytes = text.into_bytes();
            for d in &damage {
                apply_text_damage(&mut bytes, d);
            }
            check_runbook_text(&String::from_utf8_lossy(&bytes));
        });
    }

    /// The repository's runbooks changed as TOML trees: nodes replaced by garbage or
    /// another type, array elements duplicated or removed, keys added.
    #[test]
    fn mutated_runbook_trees(
        pick in source_pick(),
        ops in prop::collection::vec(tree_op(), 1..6),
    ) {
        let (name, text) = corpus()[pick.index(corpus().len())].clone();
        let Ok(tree) = toml::from_str::<toml::Table>(&text) else {
            return Ok(());
        };
        let what = format!("{name} with {ops:?}");
        within(&what.chars().take(2000).collect::<String>(), move || {
            let mut tree = toml::Value::Table(tree);
            for op in &ops {
                apply_tree_op(&mut tree, op);
            }
            if let Ok(text) = toml::to_string(&tree) {
                check_runbook_text(&text);
            }
        });
    }

    /// Runbooks generated from the model, every field hostile.
    #[test]
    fn generated_runbooks(text in gen_runbook()) {
        let what: String = format!("generated runbook:\n{text}").chars().take(4000).collect();
        within(&what, move || check_runbook_text(&text));
    }
}

proptest! {
    #![proptest_config(config(6))]

    /// `cutover validate` on damaged and generated files: an exit code (0 clean, 1 or 65
    /// refused), never a panic, a signal or a hang.
    #[test]
    fn validate_binary_on_hostile_files(
        pick in source_pick(),
        damage in prop::collection::vec(text_damage(), 0..4),
        generated in gen_runbook(),
        raw in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let (_, text) = &corpus()[pick.index(corpus().len())];
        let mut damaged = text.clone().into_bytes();
        for d in &damage {
            apply_text_damage(&mut damaged, d);
        }
        let dir = tempfile::tempdir().unwrap();
        let mut args: Vec<std::ffi::OsString> = vec!["validate".into()];
        for (name, bytes) in [("damaged.toml", damaged), ("generated.toml", generated.into_bytes()), ("raw.toml", raw)] {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            args.push(p.into_os_string());
        }
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let (code, _out, err) = run_bin(&args, StdDuration::from_secs(30))
            .unwrap_or_else(|| panic!("cutover validate still running after 30 s on {damage:?}"));
        prop_assert!(matches!(code, 0 | 1 | 65), "exit {code}: {err}");
        prop_assert!(!err.contains("panicked"), "{err}");
    }
}

/// Nesting far past what any parser should recurse on, through the binary (a stack
/// overflow aborts the process, which a thread could not survive).
#[test]
fn deep_nesting_through_the_binary() {
    let n = 200_000;
    let cases = [
        format!(
            "[runbook]\ntitle = \"t\"\n[vars]\nx = {}{}\n",
            "[".repeat(n),
            "]".repeat(n)
        ),
        format!(
            "[runbook]\ntitle = \"t\"\n[vars]\nx = {}1{}\n",
            "{a=".repeat(n),
            "}".repeat(n)
        ),
        format!(
            "[runbook]\ntitle = \"t\"\n[vars]\n{} = \"1\"\n",
            vec!["a"; n].join(".")
        ),
        format!("[runbook]\ntitle = \"t\"\n[{}]\n", vec!["a"; n].join(".")),
        format!(
            "[runbook]\ntitle = \"t\"\nsummary = \"{}\"\n",
            deep_template(0, n)
        ),
        format!(
            "[runbook]\ntitle = \"t\"\nsummary = \"{}\"\n",
            deep_template(1, n)
        ),
        format!(
            "[runbook]\ntitle = \"t\"\nsummary = \"{}\"\n",
            deep_template(2, n / 10)
        ),
        // A `requires` chain as long as a file could hold.
        {
            let mut t =
                String::from("[runbook]\ntitle = \"t\"\n[[phase]]\nid = \"p\"\ntitle = \"p\"\n");
            for i in 0..20_000 {
                t += &format!("[[phase.step]]\nid = \"s{i}\"\ntitle = \"t\"\nestimate = \"1s\"\n");
                if i > 0 {
                    t += &format!("requires = [\"s{}\"]\n", i - 1);
                }
            }
            t
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, text) in cases.iter().enumerate() {
        let p = dir.path().join(format!("deep{i}.toml"));
        std::fs::write(&p, text).unwrap();
        let began = Instant::now();
        let (code, _, err) = run_bin(
            &["validate".as_ref(), p.as_os_str()],
            StdDuration::from_secs(30),
        )
        .unwrap_or_else(|| panic!("case {i}: still running after 30 s"));
        assert!(matches!(code, 0 | 1 | 65), "case {i}: exit {code}: {err}");
        assert!(!err.contains("panicked"), "case {i}: {err}");
        eprintln!("deep case {i}: exit {code} in {:?}", began.elapsed());
    }
}

// ---- 2. journals -----------------------------------------------------------------------

fn timestamp() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        4 => (1_700_000_000i64..1_900_000_000).prop_map(|s| Timestamp::from_second(s).unwrap()),
        1 => (Timestamp::MIN.as_second()..=Timestamp::MAX.as_second())
            .prop_map(|s| Timestamp::from_second(s).unwrap()),
        1 => prop::sample::select(vec![Timestamp::MIN, Timestamp::MAX, Timestamp::UNIX_EPOCH]),
    ]
}

/// Years 1900 to 2300 only: what the timeline and the report can draw in bounded time
/// today (its axis costs a step per day of span: see the ignored
/// `timeline_of_a_session_spanning_millennia_draws_quickly`).
fn sane_timestamp() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        4 => (1_700_000_000i64..1_900_000_000).prop_map(|s| Timestamp::from_second(s).unwrap()),
        1 => (-2_208_988_800i64..10_413_792_000).prop_map(|s| Timestamp::from_second(s).unwrap()),
        1 => Just(Timestamp::UNIX_EPOCH),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z -]{0,12}",
        2 => any::<String>(),
        1 => Just("line\nbreak\u{2028}\r\u{1b}]0;t\u{7}\u{202E}\u{0}".to_string()),
    ]
}

/// Step names: the demo's, the other runbooks', and ones no runbook has.
fn step_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(&[
            "read-intro", "check-terminal", "say-hello", "announce-before", "make-data",
            "backup", "announce-start", "stop-app", "migrate", "start-app", "check-app",
            "announce-after", "restore", "check-restored", "announce-rollback",
            "config-archive", "data-archive", "no-such-step", "",
        ][..]).prop_map(str::to_string),
        1 => text(),
    ]
}

fn attempt() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0u32..4, 1 => Just(u32::MAX), 1 => any::<u32>()]
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        3 => (0i64..100_000).prop_map(Duration::from_secs),
        1 => any::<i64>().prop_map(Duration::from_secs),
        1 => Just(Duration::from_secs(i64::MAX)),
    ]
}

fn opt_i32() -> impl Strategy<Value = Option<i32>> {
    prop::option::of(prop_oneof![0i32..3, any::<i32>()])
}

/// Any event, fields anywhere in their range.
fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (
            text(),
            text(),
            text(),
            prop::collection::btree_map(text(), text(), 0..3),
            timestamp(),
            timestamp(),
            text(),
            any::<bool>()
        )
            .prop_map(
                |(session, runbook_path, runbook_sha256, vars, start, end, timezone, rehearsal)| {
                    Event::SessionStarted {
                        session,
                        runbook_path,
                        runbook_sha256,
                        vars,
                        window: WindowSpec {
                            start,
                            end,
                            timezone,
                        },
                        cutover_version: "test".into(),
                        rehearsal,
                    }
                }
            ),
        any::<u32>().prop_map(|pid| Event::SessionResumed { pid }),
        (step_name(), attempt()).prop_map(|(step, attempt)| Event::StepStarted { step, attempt }),
        (
            (
                step_name(),
                attempt(),
                opt_i32(),
                opt_i32(),
                any::<bool>(),
                any::<bool>()
            ),
            (
                prop::option::of(any::<bool>()),
                any::<bool>(),
                prop::option::of(text()),
                prop::option::of(timestamp())
            ),
        )
            .prop_map(
                |(
                    (step, attempt, exit, signal, timed_out, cancelled),
                    (expect_matched, detached, detail, ended),
                )| {
                    Event::StepFinished {
                        step,
                        attempt,
                        exit,
                        signal,
                        timed_out,
                        cancelled,
                        expect_matched,
                        detached,
                        detail,
                        ended,
                    }
                }
            ),
        (step_name(), text()).prop_map(|(step, reason)| Event::StepFailed { step, reason }),
        step_name().prop_map(|step| Event::StepDone { step }),
        (step_name(), text()).prop_map(|(step, reason)| Event::StepSkipped { step, reason }),
        step_name().prop_map(|step| Event::StepReopened { step }),
        (step_name(), attempt())
            .prop_map(|(step, attempt)| Event::StepInterrupted { step, attempt }),
        (
            step_name(),
            prop::collection::vec(step_name(), 0..3),
            text()
        )
            .prop_map(|(step, unmet, reason)| Event::GateOverridden {
                step,
                unmet,
                reason
            }),
        (step_name(), text()).prop_map(|(step, text)| Event::NoteAdded { step, text }),
        (step_name(), attempt())
            .prop_map(|(backup, attempt)| Event::BackupStarted { backup, attempt }),
        (
            step_name(),
            attempt(),
            opt_i32(),
            opt_i32(),
            any::<(bool, bool, bool)>(),
            prop::option::of(timestamp())
        )
            .prop_map(
                |(backup, attempt, exit, signal, (timed_out, cancelled, detached), ended)| {
                    Event::BackupFinished {
                        backup,
                        attempt,
                        exit,
                        signal,
                        timed_out,
                        cancelled,
                        detached,
                        ended,
                    }
                }
            ),
        (
            step_name(),
            any::<bool>(),
            prop::option::of(text()),
            any::<bool>(),
            prop::option::of(timestamp())
        )
            .prop_map(
                |(backup, ok, detail, detached, ended)| Event::BackupVerified {
                    backup,
                    ok,
                    detail,
                    detached,
                    ended
                }
            ),
        (step_name(), attempt())
            .prop_map(|(backup, attempt)| Event::BackupInterrupted { backup, attempt }),
        (duration(), text()).prop_map(|(by, reason)| Event::WindowExtended { by, reason }),
        text().prop_map(|reason| Event::RollbackStarted { reason }),
        (text(), text()).prop_map(|(phase, file)| Event::MessageSaved { phase, file }),
        (text(), text(), prop::option::of(step_name()))
            .prop_map(|(phase, file, step)| Event::MessageSending { phase, file, step }),
        (
            (
                text(),
                text(),
                opt_i32(),
                any::<bool>(),
                prop::option::of(step_name())
            ),
            (text(), text(), prop::option::of(text()), any::<bool>()),
        )
            .prop_map(
                |((phase, file, exit, ok, step), (subject, body, detail, by_hand))| {
                    Event::MessageSent {
                        phase,
                        file,
                        exit,
                        ok,
                        step,
                        subject,
                        body,
                        detail,
                        by_hand,
                    }
                }
            ),
        prop::sample::select(vec![
            Outcome::Completed,
            Outcome::RolledBack,
            Outcome::Aborted
        ])
        .prop_map(|outcome| Event::SessionFinished { outcome }),
    ]
}

/// Records numbered 1..=n, as a journal holds them.
fn records(max: usize) -> impl Strategy<Value = Vec<Record>> {
    prop::collection::vec((timestamp(), text(), event()), 0..max).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (at, by, event))| Record {
                seq: i as u64 + 1,
                at,
                by,
                event,
            })
            .collect()
    })
}

/// Damage done to a journal file.
#[derive(Debug, Clone)]
enum JournalDamage {
    Flip(Index, u8),
    Truncate(Index),
    Newline(Index),
    DupLine(Index),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    NulTail(usize),
}

fn journal_damage() -> impl Strategy<Value = JournalDamage> {
    prop_oneof![
        3 => (any::<Index>(), 1u8..).prop_map(|(i, x)| JournalDamage::Flip(i, x)),
        2 => any::<Index>().prop_map(JournalDamage::Truncate),
        2 => any::<Index>().prop_map(JournalDamage::Newline),
        2 => any::<Index>().prop_map(JournalDamage::DupLine),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..12)).prop_map(|(i, b)| JournalDamage::Insert(i, b)),
        1 => (any::<Index>(), 1usize..200).prop_map(|(i, n)| JournalDamage::Delete(i, n)),
        1 => (1usize..600).prop_map(JournalDamage::NulTail),
    ]
}

fn apply_journal_damage(bytes: &mut Vec<u8>, d: &JournalDamage) {
    let n = bytes.len();
    match d {
        JournalDamage::Flip(i, x) if n > 0 => bytes[i.index(n)] ^= x,
        JournalDamage::Truncate(i) => bytes.truncate(i.index(n + 1)),
        JournalDamage::Newline(i) => {
            let at = i.index(n + 1);
            bytes.insert(at, b'\n');
        }
        JournalDamage::DupLine(i) => {
            let starts: Vec<usize> = (0..n)
                .filter(|&k| k == 0 || bytes[k - 1] == b'\n')
                .collect();
            if starts.is_empty() {
                return;
            }
            let s = starts[i.index(starts.len())];
            let e = bytes[s..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(n, |p| s + p + 1);
            let line = bytes[s..e].to_vec();
            bytes.splice(e..e, line);
        }
        JournalDamage::Insert(i, b) => {
            let at = i.index(n + 1);
            bytes.splice(at..at, b.iter().copied());
        }
        JournalDamage::Delete(i, len) => {
            let at = i.index(n + 1);
            bytes.drain(at..(at + len).min(n));
        }
        JournalDamage::NulTail(len) => bytes.extend(std::iter::repeat_n(0u8, *len)),
        _ => {}
    }
}

/// The first byte where `a` and `b` differ (the shorter length when one is a prefix).
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

fn encoded(records: &[Record]) -> (Vec<u8>, Vec<usize>) {
    let mut bytes = Vec::new();
    let mut ends = Vec::new();
    for r in records {
        bytes.extend_from_slice(journal::encode(r).unwrap().as_bytes());
        ends.push(bytes.len());
    }
    (bytes, ends)
}

/// What reading a damaged journal may say: the records before the damage, or the damage
/// itself, at a line start no later than the first changed byte.
fn check_read_result(
    result: &Result<(Vec<Record>, journal::OpenReport), JournalError>,
    valid: &[Record],
    ends: &[usize],
    damaged: &[u8],
    diff: usize,
) -> Result<(), TestCaseError> {
    match result {
        Ok((got, report)) => {
            prop_assert!(got.len() <= valid.len(), "more records than were written");
            prop_assert_eq!(
                &got[..],
                &valid[..got.len()],
                "not a prefix of what was written"
            );
            let good = if got.is_empty() {
                0
            } else {
                ends[got.len() - 1]
            };
            prop_assert!(good <= diff, "record {} read from damaged bytes", got.len());
            prop_assert_eq!(report.truncated_bytes, (damaged.len() - good) as u64);
        }
        Err(JournalError::Corrupt { offset, line, .. }) => {
            let offset = *offset as usize;
            prop_assert!(
                offset < damaged.len(),
                "offset {offset} outside {} bytes",
                damaged.len()
            );
            prop_assert!(
                offset <= diff,
                "offset {offset} after the first damaged byte {diff}"
            );
            prop_assert!(
                offset == 0 || damaged[offset - 1] == b'\n',
                "offset {offset} is not a line start"
            );
            prop_assert_eq!(
                *line,
                damaged[..offset].iter().filter(|&&b| b == b'\n').count() + 1
            );
        }
        Err(other) => prop_assert!(false, "unexpected error: {other}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(64))]

    /// `decode` on anything: an answer, never a panic; and every record it is given back
    /// encoded decodes to itself.
    #[test]
    fn decode_never_panics(bytes in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..400),
        (records(2), prop::collection::vec(journal_damage(), 0..3)).prop_map(|(r, d)| {
            let (mut b, _) = encoded(&r);
            for d in &d { apply_journal_damage(&mut b, d); }
            b
        }),
    ]) {
        within("decode", move || {
            let _ = journal::decode(&bytes);
            for line in bytes.split(|&b| b == b'\n') {
                let _ = journal::decode(line);
            }
        });
    }

    /// Every record the app can write reads back as itself.
    #[test]
    fn encode_then_decode_is_the_identity(records in records(6)) {
        for r in &records {
            let line = journal::encode(r).unwrap();
            prop_assert!(line.ends_with('\n') && line.matches('\n').count() == 1, "{line:?}");
            let back = journal::decode(line.trim_end_matches('\n').as_bytes());
            prop_assert_eq!(back.as_ref(), Ok(r), "{}", line);
        }
    }

    /// `read` and `Journal::open` on files of arbitrary bytes.
    #[test]
    fn read_arbitrary_files(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        within("read of arbitrary bytes", move || {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("journal.jsonl");
            std::fs::write(&path, &bytes).unwrap();
            match journal::read(&path) {
                Ok((records, report)) => {
                    assert!(records.iter().enumerate().all(|(i, r)| r.seq == i as u64 + 1));
                    assert!(report.truncated_bytes <= bytes.len() as u64);
                }
                Err(JournalError::Corrupt { offset, .. }) => assert!((offset as usize) < bytes.len()),
                Err(other) => panic!("unexpected error: {other}"),
            }
            let _ = Journal::open(&path);
        });
    }

    /// Valid journals with random damage: `read` gives a prefix of what was written or
    /// the damage's offset; `Journal::open` agrees, cuts only a torn tail, and a record
    /// appended after it reads back.
    #[test]
    fn damaged_journals_read_as_a_prefix_or_an_offset(
        valid in records(8),
        damage in prop::collection::vec(journal_damage(), 1..4),
    ) {
        let (original, ends) = encoded(&valid);
        let mut damaged = original.clone();
        for d in &damage {
            apply_journal_damage(&mut damaged, d);
        }
        let diff = first_difference(&original, &damaged);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        std::fs::write(&path, &damaged).unwrap();
        let read = within("journal::read", {
            let path = path.clone();
            move || journal::read(&path)
        });
        check_read_result(&read, &valid, &ends, &damaged, diff)?;

        let opened = within("Journal::open", {
            let path = path.clone();
            move || Journal::open(&path).map(|(j, r, rep)| (j, (r, rep)))
        });
        match (opened, &read) {
            (Ok((mut j, (records, report))), Ok((read_records, read_report))) => {
                prop_assert_eq!(&records, read_records);
                prop_assert_eq!(&report, read_report);
                let good = damaged.len() - report.truncated_bytes as usize;
                prop_assert_eq!(std::fs::read(&path).unwrap(), damaged[..good].to_vec());
                let next = j.append("op@host", ts("2026-11-28T21:00:00Z"), Event::SessionResumed { pid: 1 }).unwrap();
                drop(j);
                let (again, _) = journal::read(&path).unwrap();
                prop_assert_eq!(again.len(), records.len() + 1);
                prop_assert_eq!(again.last(), Some(&next));
            }
            (Err(JournalError::Corrupt { offset, .. }), Err(JournalError::Corrupt { offset: o, .. })) => {
                prop_assert_eq!(offset, *o);
                prop_assert_eq!(std::fs::read(&path).unwrap(), damaged.clone(), "a refused journal was changed");
            }
            (opened, read) => prop_assert!(false, "open and read disagree: {:?} vs {:?}", opened.map(|o| o.1), read),
        }
    }

    /// `JournalTail::poll`, fed the damaged file in random pieces: the records `read`
    /// takes, each once and in order; an error at the same offset as `read`'s, or (only
    /// `read` calls a bad last line torn) at the last line; an error moves nothing.
    #[test]
    fn journal_tail_fed_in_pieces(
        valid in records(8),
        damage in prop::collection::vec(journal_damage(), 0..3),
        cuts in prop::collection::vec(any::<Index>(), 0..8),
    ) {
        let (original, ends) = encoded(&valid);
        let mut damaged = original.clone();
        for d in &damage {
            apply_journal_damage(&mut damaged, d);
        }
        let diff = first_difference(&original, &damaged);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(damaged.len() + 1)).collect();
        cuts.push(damaged.len());
        cuts.sort_unstable();
        let damaged2 = damaged.clone();
        let (got, error) = within("JournalTail::poll", move || {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("journal.jsonl");
            std::fs::write(&path, b"").unwrap();
            let mut tail = JournalTail::new(&path);
            let mut got = Vec::new();
            let mut from = 0;
            for cut in cuts {
                let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
                std::io::Write::write_all(&mut f, &damaged2[from..cut]).unwrap();
                from = cut;
                let before = tail.offset();
                match tail.poll() {
                    Ok(records) => got.extend(records),
                    Err(e) => {
                        assert_eq!(tail.offset(), before, "an error moved the tail");
                        let again = tail.poll();
                        assert_eq!(again.as_ref().err(), Some(&e), "the same error twice");
                        return (got, Some(e));
                    }
                }
            }
            (got, None)
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        std::fs::write(&path, &damaged).unwrap();
        let read = journal::read(&path);
        check_read_result(&read, &valid, &ends, &damaged, diff)?;
        prop_assert_eq!(&got[..], &valid[..got.len().min(valid.len())], "not a prefix of what was written");
        // A poll that meets damage returns none of the good records it read before it in
        // the same batch (the position stays where it was), so an erroring tail may hold
        // fewer records than lie before the damage.
        match (&read, &error) {
            (Ok((records, _)), None) => prop_assert_eq!(&got, records),
            (Ok((records, _)), Some(TailError::Corrupt { offset, .. })) => {
                prop_assert!(got.len() <= records.len());
                let good = if records.is_empty() { 0 } else { ends[records.len() - 1] };
                prop_assert_eq!(*offset as usize, good, "the tail refused a line before the last");
                prop_assert_eq!(damaged.last(), Some(&b'\n'));
            }
            (Err(JournalError::Corrupt { offset: o, .. }), Some(TailError::Corrupt { offset, .. })) => {
                prop_assert_eq!(offset, o);
                let before = damaged[..*o as usize].iter().filter(|&&b| b == b'\n').count();
                prop_assert!(got.len() <= before);
            }
            (read, error) => prop_assert!(false, "read {:?} but the tail said {:?}", read.as_ref().map(|r| r.0.len()), error),
        }
    }
}

/// A key the operator might press, or the clock ticking.
fn key() -> impl Strategy<Value = Msg> {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let code = prop_oneof![
        4 => prop::sample::select("dsunrRcxlyYmMtTeEbBvVpP?gGjkhi 1a".chars().collect::<Vec<_>>()).prop_map(KeyCode::Char),
        3 => prop::sample::select(vec![
            KeyCode::Enter, KeyCode::Esc, KeyCode::Tab, KeyCode::BackTab, KeyCode::Up,
            KeyCode::Down, KeyCode::PageUp, KeyCode::PageDown, KeyCode::Home, KeyCode::End,
            KeyCode::Backspace, KeyCode::Left, KeyCode::Right,
        ]),
        1 => any::<char>().prop_map(KeyCode::Char),
    ];
    prop_oneof![
        8 => (code, prop::sample::select(vec![KeyModifiers::NONE, KeyModifiers::SHIFT, KeyModifiers::CONTROL]))
            .prop_map(|(c, m)| Msg::Key(KeyEvent::new(c, m))),
        1 => Just(Msg::Tick),
        1 => Just(Msg::Resize),
    ]
}

/// The runbooks a journal can be replayed against.
fn runbooks() -> &'static [Runbook] {
    static RUNBOOKS: OnceLock<Vec<Runbook>> = OnceLock::new();
    RUNBOOKS.get_or_init(|| {
        let mut out = vec![demo()];
        for name in ["cluedin-upgrade.toml", "postgres-major-upgrade.toml"] {
            out.push(Runbook::load(&root().join("runbooks").join(name)).unwrap());
        }
        out
    })
}

proptest! {
    #![proptest_config(config(48))]

    /// Decodable but nonsensical journals: steps that do not exist, finishing before
    /// starting, attempts out of order, time running backwards, windows at the ends of
    /// time. The fold never panics, and neither does what reads its state on every
    /// frame or command: the window, `status --json`, the template context, the estimate
    /// suggestions and the screen.
    #[test]
    fn replay_of_nonsense_never_panics(
        pick in source_pick(),
        mut records in records(24),
        seqs in prop::collection::vec(any::<u64>(), 0..4),
        now in timestamp(),
        keys in prop::collection::vec(key(), 0..12),
    ) {
        // A few sequence numbers out of order too: `replay` is not the place that checks.
        for (r, s) in records.iter_mut().zip(seqs) {
            r.seq = s;
        }
        let rb = runbooks()[pick.index(runbooks().len())].clone();
        let what = format!("replay of {records:#?} at {now}");
        within(&what.chars().take(6000).collect::<String>(), move || {
            let run = RunState::replay(&rb, &records);
            let _ = cutover::run::window::status(&rb, &run, now);
            let status = cutover::run::report::status(&rb, &run, now, Some("op@host".into()));
            let _ = serde_json::to_string(&status).unwrap();
            let _ = cutover::run::context::context(&rb, &run, now, "op@host");
            let _ = cutover::report::suggest::suggestions(&rb, &run, now);
            let mut app = App::new(rb, &records, "op@host".into(), false, false);
            let steps = app.run.steps.len();
            // Only controls: bidi controls in journal text do reach the screen (see the
            // ignored `runbook_and_journal_text_is_drawn_without_bidi_controls`).
            for sel in [0, steps / 2, steps.saturating_sub(1)] {
                app.view.selected = sel;
                assert_screen_free_of(&draw(&app, 80, 24, now), "the screen", control);
            }
            // The operator acts on the nonsense; what `update` asks to record is applied
            // the way the runtime would (other effects are not carried out). Attempts
            // stop one short of the largest: the next one overflows today (the ignored
            // `the_largest_attempt_number_does_not_overflow`).
            let records: Vec<Record> = records
                .into_iter()
                .map(|mut r| {
                    match &mut r.event {
                        Event::StepStarted { attempt, .. }
                        | Event::StepFinished { attempt, .. }
                        | Event::StepInterrupted { attempt, .. }
                        | Event::BackupStarted { attempt, .. }
                        | Event::BackupFinished { attempt, .. }
                        | Event::BackupInterrupted { attempt, .. } => {
                            *attempt = (*attempt).min(u32::MAX - 1)
                        }
                        _ => {}
                    }
                    r
                })
                .collect();
            let mut app = App::new(app.runbook, &records, "op@host".into(), false, false);
            let mut seq = records.len() as u64;
            for msg in keys {
                for effect in update(&mut app, msg) {
                    if let cutover::app::Effect::Record(events) = effect {
                        for event in events {
                            seq += 1;
                            app.apply(&Record { seq, at: now, by: "op@host".into(), event });
                        }
                    }
                }
                // The timeline of a journal reaching year -9999 takes seconds per frame
                // today (the ignored `timeline_of_a_session_spanning_millennia_draws_quickly`);
                // `report_and_timeline_of_nonsense_never_panic` draws it within four centuries.
                app.view.timeline = false;
                assert_screen_free_of(&draw(&app, 80, 24, now), "the screen after a key", control);
            }
        });
    }

    /// The same nonsense, within four centuries, through the timeline (built, and drawn)
    /// and the after-action report.
    #[test]
    fn report_and_timeline_of_nonsense_never_panic(
        pick in source_pick(),
        records in prop::collection::vec((sane_timestamp(), text(), event()), 0..24),
        now in sane_timestamp(),
    ) {
        let records: Vec<Record> = records
            .into_iter()
            .enumerate()
            .map(|(i, (at, by, mut event))| {
                // Windows inside the same four centuries.
                if let Event::SessionStarted { window, .. } = &mut event {
                    window.start = window.start.max(ts("1900-01-01T00:00:00Z")).min(ts("2300-01-01T00:00:00Z"));
                    window.end = window.end.max(ts("1900-01-01T00:00:00Z")).min(ts("2300-01-01T00:00:00Z"));
                }
                if let Event::WindowExtended { by, .. } = &mut event {
                    *by = Duration::from_secs(by.as_secs() % (100 * 366 * 86_400));
                }
                Record { seq: i as u64 + 1, at, by, event }
            })
            .collect();
        let rb = runbooks()[pick.index(runbooks().len())].clone();
        let what = format!("report of {records:#?} at {now}");
        within(&what.chars().take(6000).collect::<String>(), move || {
            let run = RunState::replay(&rb, &records);
            let timeline = cutover::run::timeline::build(&rb, &run, now);
            let _ = timeline.picture(100, 20, "Europe/Amsterdam");
            let report = cutover::report::build(&rb, &records, &run, now);
            let _ = cutover::report::markdown::render(&report);
            let mut app = App::new(rb, &records, "op@host".into(), false, false);
            app.view.timeline = true;
            assert_screen_free_of(&draw(&app, 120, 40, now), "the timeline", control);
        });
    }
}

// ---- 3. command output -----------------------------------------------------------------

/// Pieces that make hostile output likely: every kind of sequence, cut anywhere.
fn hostile_output() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..16),
        3 => "[ -~]{0,24}".prop_map(String::into_bytes),
        4 => prop::sample::select(vec![
            &b"\x1b"[..], b"\x1b[", b"\x1b]", b"\x1bP", b"\x1bX", b"\x1b^", b"\x1b_", b"\x1b\\",
            b"\x1b]0;pwned\x07", b"\x1b]2;pwned\x1b\\", b"\x1b]52;c;aGVsbG8=\x07", b"\x1b]52;c;",
            b"\x1b]8;;https://evil\x07link\x1b]8;;\x07", b"\x1bP$qm\x1b\\", b"\x1bP$q\"p\x1b\\",
            b"\x1bP1$r0m\x1b\\", b"\x1b[6n", b"\x1b[c", b"\x1b[>c", b"\x1b[?1049h", b"\x1b[2J",
            b"\x1b[H", b"\x1b[999;999H", b"\x1b[?25l", b"\x1b[31m", b"\x1b[1;4;7m", b"\x1b[0m",
            b"\x1b[38;5;", b"\x1b[38;2;255;0;0m", b"\x1b[48:2::1:2:3m", b"\x1b[4:3m",
            b"\x1b[1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17;18;19;20;21;22;23;24;25;26;27;28;29;30;31;32;33;34;35m",
            b"\x1b[99999999999999999999m", b"\x1b(0", b"\x1b#8", b"\x1bc", b"\x1b7", b"\x1b8",
            b"\x07", b"\x08", b"\x0b", b"\x0c", b"\x0e", b"\x0f", b"\x18", b"\x1a", b"\x7f",
            b"\x84", b"\x85", b"\x90", b"\x9b", b"\x9c", b"\x9d", b"\x9e", b"\x9f",
            b"\xc2\x84", b"\xc2\x85", b"\xc2\x90", b"\xc2\x9b", b"\xc2\x9d",
            b"\r", b"\n", b"\r\n", b"\t", b"\n\n\n\n",
            "€".as_bytes(), b"\xe2\x82", b"\xf0\x9f", b"\xf0\x9f\x98\x80", b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80", b"\xc0\xaf",
            "\u{202E}".as_bytes(), "\u{2066}".as_bytes(), "\u{200F}".as_bytes(), "\u{61C}".as_bytes(),
            "\u{200B}\u{200D}\u{FEFF}".as_bytes(), "日本語".as_bytes(), "e\u{301}\u{301}\u{301}".as_bytes(),
            "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}".as_bytes(), "\u{FFFD}".as_bytes(),
            "\u{E0001}".as_bytes(),
        ]).prop_map(<[u8]>::to_vec),
        1 => (1usize..6000).prop_map(|n| vec![b'x'; n]),
        1 => (1usize..7000).prop_map(|n| vec![b'\n'; n]),
        1 => (1usize..500).prop_map(|n| "\x1b[31m€\x1b[0m".repeat(n).into_bytes()),
    ];
    prop::collection::vec(piece, 0..32).prop_map(|p| p.concat())
}

/// A line as the screen may hold it: printable text, at most the cap plus the marker
/// saying how much was cut, style runs inside the text on character boundaries.
fn check_out_line(line: &OutLine, cap: usize) -> Result<(), TestCaseError> {
    prop_assert!(!line.text.chars().any(forbidden), "{:?}", line.text);
    // `…(+N bytes)`: 3 + 3 + up to 20 digits + 7.
    prop_assert!(line.text.len() <= cap + 33, "{} bytes", line.text.len());
    if line.text.len() > cap {
        prop_assert!(line.text.ends_with(" bytes)"), "{:?}", line.text);
    }
    for r in &line.styles {
        prop_assert!((r.start as usize) < line.text.len().max(1));
        prop_assert!(line.text.is_char_boundary(r.start as usize));
    }
    Ok(())
}

/// Output fed the way the screen gets it: each chunk through the sanitizer, the lines
/// and the partial line into the task's output, the end flushed.
fn through_pipeline(bytes: &[u8], cuts: &[usize]) -> TaskOutput {
    let mut s = Sanitizer::new(DEFAULT_MAX_LINE_BYTES);
    let mut out = TaskOutput::new(TaskId::step("say-hello", 1));
    let mut from = 0;
    for &cut in cuts.iter().chain([bytes.len()].iter()) {
        let mut lines = Vec::new();
        s.feed(&bytes[from..cut], &mut lines);
        out.absorb(lines, s.partial().cloned(), None);
        from = cut;
    }
    let mut lines = Vec::new();
    s.finish(&mut lines);
    out.absorb(lines, None, None);
    out
}

fn ring_lines(out: &TaskOutput) -> Vec<OutLine> {
    (0..out.ring.len())
        .map(|i| out.ring.get(i).unwrap().clone())
        .collect()
}

fn check_ring(out: &TaskOutput) -> Result<(), TestCaseError> {
    prop_assert!(out.ring.len() <= MAX_LINES);
    prop_assert_eq!(out.ring.len() as u64, out.ring.total() - out.ring.dropped());
    let slack = 2 * MAX_LINES * size_of::<OutLine>();
    prop_assert!(
        out.ring.held_bytes() <= MAX_BYTES + slack,
        "{}",
        out.ring.held_bytes()
    );
    for line in ring_lines(out) {
        check_out_line(&line, DEFAULT_MAX_LINE_BYTES)?;
    }
    Ok(())
}

/// A demo session with `say-hello` running (attempt 1) and selected, so its output is
/// in the output pane.
fn running_app(no_color: bool) -> App {
    let rb = demo();
    let t0 = ts("2026-11-28T21:00:00Z");
    let vars = rb.resolve_vars(&[]).unwrap();
    let records = vec![
        Record {
            seq: 1,
            at: t0,
            by: "op@host".into(),
            event: Event::SessionStarted {
                session: "20261128-210000-hx01".into(),
                runbook_path: "<demo>".into(),
                runbook_sha256: rb.sha256.clone(),
                vars,
                window: WindowSpec {
                    start: t0,
                    end: ts("2026-11-28T21:30:00Z"),
                    timezone: "UTC".into(),
                },
                cutover_version: "test".into(),
                rehearsal: false,
            },
        },
        Record {
            seq: 2,
            at: t0,
            by: "op@host".into(),
            event: Event::StepStarted {
                step: "say-hello".into(),
                attempt: 1,
            },
        },
    ];
    let mut app = App::new(rb, &records, "op@host".into(), false, no_color);
    app.view.selected = app
        .run
        .steps
        .iter()
        .position(|s| s.id == "say-hello")
        .unwrap();
    app
}

/// The same chunks through `update` (as the follower sends them) and onto the screen.
fn screens(bytes: &[u8], cuts: &[usize], no_color: bool) -> Vec<Terminal<TestBackend>> {
    let mut app = running_app(no_color);
    let task = TaskId::step("say-hello", 1);
    let mut s = Sanitizer::new(DEFAULT_MAX_LINE_BYTES);
    let mut from = 0;
    for &cut in cuts.iter().chain([bytes.len()].iter()) {
        let mut lines = Vec::new();
        s.feed(&bytes[from..cut], &mut lines);
        from = cut;
        update(
            &mut app,
            Msg::Task(Report::Output {
                task: task.clone(),
                lines,
                partial: s.partial().cloned(),
                progress: None,
            }),
        );
    }
    let now = ts("2026-11-28T21:05:00Z");
    [(120, 40), (80, 24), (40, 12), (20, 6)]
        .into_iter()
        .map(|(w, h)| draw(&app, w, h, now))
        .collect()
}

fn split_points(bytes: &[u8], cuts: &[Index]) -> Vec<usize> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts
}

proptest! {
    #![proptest_config(config(64))]

    /// Whole pipeline: the ring holds printable, capped lines within its bounds, and how
    /// the bytes were cut into chunks changes nothing it holds.
    #[test]
    fn output_pipeline_is_safe_and_chunking_does_not_matter(
        bytes in prop_oneof![prop::collection::vec(any::<u8>(), 0..3000), hostile_output()],
        cuts in prop::collection::vec(any::<Index>(), 0..12),
    ) {
        let result = within("output pipeline", move || {
            let whole = through_pipeline(&bytes, &[]);
            let split = through_pipeline(&bytes, &split_points(&bytes, &cuts));
            let singles: Vec<usize> = if bytes.len() <= 4096 { (1..bytes.len()).collect() } else { Vec::new() };
            let single = through_pipeline(&bytes, &singles);
            (whole, split, single)
        });
        let (whole, split, single) = result;
        check_ring(&whole)?;
        check_ring(&split)?;
        for (other, how) in [(&split, "split at random points"), (&single, "byte by byte")] {
            prop_assert_eq!(whole.ring.total(), other.ring.total(), "{}", how);
            if whole.ring.dropped() == 0 {
                prop_assert_eq!(ring_lines(&whole), ring_lines(other), "{}", how);
            } else {
                // Once the ring is full, a partial line at a chunk's end evicts a line
                // that its completion does not give back (see the ignored
                // `a_full_ring_keeps_its_lines_whatever_the_chunking`): the newest lines
                // agree, one may be missing at the top. Compare exactly once fixed.
                let (w, o) = (ring_lines(&whole), ring_lines(other));
                prop_assert!(w.len() - o.len() <= 1, "{}: {} vs {} lines", how, w.len(), o.len());
                prop_assert_eq!(&w[w.len() - o.len()..], &o[..], "{}", how);
            }
        }
    }

    /// Through `update` and onto the screen at four sizes, with and without colour: no
    /// cell holds a control, and the screen does not depend on the chunking.
    #[test]
    fn output_pane_draws_only_printable_text(
        bytes in hostile_output(),
        cuts in prop::collection::vec(any::<Index>(), 0..8),
        no_color in any::<bool>(),
    ) {
        within("output pane", move || {
            let whole = screens(&bytes, &[], no_color);
            let split = screens(&bytes, &split_points(&bytes, &cuts), no_color);
            for (a, b) in whole.iter().zip(&split) {
                assert_screen_clean(a, "output pane");
                assert_eq!(a.backend().buffer(), b.backend().buffer(), "the chunking showed on screen");
            }
        });
    }
}

/// Escape bombs: each is neutralised (nothing of it on a line), leaves the text after it
/// intact, keeps the ring in bounds and takes bounded time, whole and in chunks.
#[test]
fn escape_bombs_are_neutralised_in_bounded_time() {
    const MB: usize = 1 << 20;
    let b64: Vec<u8> = b"QUFB".iter().copied().cycle().take(MB).collect();
    let bombs: Vec<(&str, Vec<u8>)> = vec![
        ("1 MB of ESC [ with no final byte", b"\x1b[".repeat(MB / 2)),
        ("CSI with a megabyte of parameters", [b"\x1b[".to_vec(), b"1;".repeat(MB / 2), b"31m".to_vec()].concat()),
        ("100k SGR sequences of 40 parameters", b"\x1b[1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17;18;19;20;21;22;23;24;25;26;27;28;29;30;31;32;33;34;35;36;37;38;39;40m".repeat(100_000 / 10)),
        ("100k nested OSC starts", b"\x1b]0;".repeat(100_000)),
        ("an OSC 52 clipboard write of 1 MB", [b"\x1b]52;c;".to_vec(), b64.clone(), b"\x07".to_vec()].concat()),
        ("an OSC 52 write that never ends", [b"\x1b]52;c;".to_vec(), b64].concat()),
        ("100k window title sets", b"\x1b]0;pwned\x07\x1b]2;pwned\x1b\\".repeat(50_000)),
        ("100k DECRQSS requests", b"\x1bP$qm\x1b\\\x1bP$q\"p\x1b\\".repeat(50_000)),
        ("a DCS that never ends", [b"\x1bPq".to_vec(), b"#0;2;0;0;0#1!14~".repeat(MB / 16)].concat()),
        ("SOS, PM and APC strings of 1 MB", [b"\x1bX".to_vec(), vec![b'a'; MB / 3], b"\x1b^".to_vec(), vec![b'b'; MB / 3], b"\x1b_".to_vec(), vec![b'c'; MB / 3]].concat()),
        // 64 KiB only: a long run of 8-bit bytes is quadratic in `vte` (see the ignored
        // `a_long_run_of_8_bit_bytes_is_sanitized_in_linear_time`).
        ("64 KiB of 8-bit C1 controls", b"\x9b\x9d\x90\x9e\x9f".repeat(MB / 80)),
        ("1 MB of UTF-8 C1 controls", "\u{9b}\u{9d}\u{90}".repeat(MB / 6).into_bytes()),
        ("1 MB of bidi controls", "\u{202E}\u{2066}\u{200F}".repeat(MB / 9).into_bytes()),
        ("device status and attribute queries", b"\x1b[6n\x1b[c\x1b[>c\x1b[5n\x1b[18t\x1b[21t".repeat(20_000)),
        ("1 MB of ESC", vec![0x1b; MB]),
        ("1 MB of CR", vec![b'\r'; MB]),
        ("a 4 MB line", vec![b'y'; 4 * MB]),
        ("a line that changes colour at every character", b"\x1b[31ma\x1b[32mb".repeat(MB / 10)),
        ("64 KiB of broken UTF-8", b"\xe2\x82\xf0\x9f\xc0\xed\xa0".repeat(MB / 112)),
        ("1 MB of broken UTF-8 between ASCII", b"\xe2\x82 \xf0\x9f \xc0 \xed\xa0 ".repeat(MB / 14)),
    ];
    let limit = deadline().max(StdDuration::from_secs(10));
    for (name, bomb) in bombs {
        // CAN ends whatever is open; a BEL and ST end what CAN might not (a DCS
        // passthrough); then one line of text that must come out whole.
        let input = [bomb, b"\x18\x07\x1b\\\x1b[0m\nAFTER\n".to_vec()].concat();
        let outputs = within_for(name, limit, move || {
            [usize::MAX, 64 * 1024, 4093]
                .into_iter()
                .map(|chunk| {
                    let cuts: Vec<usize> = if chunk == usize::MAX {
                        Vec::new()
                    } else {
                        (chunk..input.len()).step_by(chunk).collect()
                    };
                    let began = Instant::now();
                    let out = through_pipeline(&input, &cuts);
                    (out, began.elapsed())
                })
                .collect::<Vec<_>>()
        });
        let took: Vec<StdDuration> = outputs.iter().map(|o| o.1).collect();
        let outputs: Vec<TaskOutput> = outputs.into_iter().map(|o| o.0).collect();
        for out in &outputs {
            check_ring(out).unwrap_or_else(|e| panic!("{name}: {e}"));
            let lines = ring_lines(out);
            assert_eq!(
                lines.last().map(|l| l.text.as_str()),
                Some("AFTER"),
                "{name}: the text after it"
            );
            assert_eq!(lines, ring_lines(&outputs[0]), "{name}: chunking mattered");
        }
        let texts: Vec<&str> = outputs[0].ring_texts();
        assert!(
            !texts
                .iter()
                .any(|t| t.contains("pwned") || t.contains("QUFB")),
            "{name}: a sequence's payload leaked: {texts:?}"
        );
        eprintln!("bomb: {name}: whole, 64 KiB and 4093-byte chunks: {took:?}");
    }
}

trait RingTexts {
    fn ring_texts(&self) -> Vec<&str>;
}

impl RingTexts for TaskOutput {
    fn ring_texts(&self) -> Vec<&str> {
        (0..self.ring.len())
            .map(|i| self.ring.get(i).unwrap().text.as_str())
            .collect()
    }
}

/// The drawn pane after a bomb: printable, and the line after it on screen.
#[test]
fn escape_bomb_on_screen() {
    let bomb = [
        b"\x1b]0;".repeat(10_000),
        b"\x1b]52;c;QUFB\x07".repeat(10_000),
        b"\x1b[".repeat(100_000),
        b"\x18\x1b[2J\x1b[H\x1b[?1049l\r\xc2\x9b31m\x1b[31mred".to_vec(),
        "\u{202E}\u{202E}\n".as_bytes().to_vec(),
        b"AFTER\n".to_vec(),
    ]
    .concat();
    let screens = within("bomb on screen", move || {
        screens(&bomb, &[4096, 65536], false)
    });
    for t in &screens {
        assert_screen_clean(t, "bomb on screen");
    }
    assert!(
        screen_text(&screens[0]).contains("AFTER"),
        "{}",
        screen_text(&screens[0])
    );
}

// ---- negative controls -------------------------------------------------------------------

/// The harness can fail: a case past its deadline, a panic inside a case, a dirty
/// screen, a line with a control in it, a journal result that is not a prefix.
#[test]
fn the_checks_can_fail() {
    let hang = std::panic::catch_unwind(|| {
        within_for("sleeper", StdDuration::from_millis(50), || {
            std::thread::sleep(StdDuration::from_millis(500))
        })
    });
    let msg = hang.unwrap_err();
    assert!(
        msg.downcast_ref::<String>().unwrap().contains("a hang"),
        "{msg:?}"
    );
    let panicked = std::panic::catch_unwind(|| within("panicker", || panic!("boom")));
    assert!(
        panicked
            .unwrap_err()
            .downcast_ref::<String>()
            .unwrap()
            .contains("panicked: boom")
    );

    let mut t = Terminal::new(TestBackend::new(4, 1)).unwrap();
    t.draw(|f| {
        // Not a C0 control: ratatui itself refuses those (a debug assertion).
        f.buffer_mut()[(1, 0)].set_symbol("\u{202E}");
    })
    .unwrap();
    assert!(std::panic::catch_unwind(|| assert_screen_clean(&t, "control")).is_err());

    let bad = OutLine {
        text: "a\u{9b}b".into(),
        styles: Vec::new(),
    };
    assert!(check_out_line(&bad, 100).is_err());
    let long = OutLine {
        text: "x".repeat(2100),
        styles: Vec::new(),
    };
    assert!(check_out_line(&long, DEFAULT_MAX_LINE_BYTES).is_err());

    // A "read" that returned a record the file did not hold.
    let r = Record {
        seq: 1,
        at: ts("2026-11-28T21:00:00Z"),
        by: "o".into(),
        event: Event::StepDone { step: "a".into() },
    };
    let (bytes, ends) = encoded(std::slice::from_ref(&r));
    let mut other = r.clone();
    other.by = "x".into();
    let lie = Ok((vec![other], journal::OpenReport::default()));
    assert!(check_read_result(&lie, std::slice::from_ref(&r), &ends, &bytes, bytes.len()).is_err());
    let early = Err(JournalError::Corrupt {
        path: "j".into(),
        offset: 5,
        line: 1,
        reason: "x".into(),
    });
    assert!(check_read_result(&early, &[r], &ends, &bytes, bytes.len()).is_err());

    // A reader that skips what it cannot decode (what the journal must never do) breaks
    // the journal property on a damaged second line.
    let three: Vec<Record> = (1..=3)
        .map(|seq| Record {
            seq,
            at: ts("2026-11-28T21:00:00Z"),
            by: "o".into(),
            event: Event::StepDone { step: "a".into() },
        })
        .collect();
    let (original, ends) = encoded(&three);
    let mut damaged = original.clone();
    damaged[ends[0] + 3] ^= 0x20;
    let lenient: Vec<Record> = damaged
        .split(|&b| b == b'\n')
        .filter_map(|line| journal::decode(line).ok())
        .collect();
    let diff = first_difference(&original, &damaged);
    let skipped = Ok((lenient, journal::OpenReport::default()));
    assert!(check_read_result(&skipped, &three, &ends, &damaged, diff).is_err());

    // Output that skipped the sanitizer fails the line check.
    let raw = String::from_utf8_lossy(b"\x1b]0;pwned\x07\x1b[31mred\x1b[0m");
    let naive = OutLine {
        text: raw.into_owned(),
        styles: Vec::new(),
    };
    assert!(check_out_line(&naive, DEFAULT_MAX_LINE_BYTES).is_err());
}

// ---- bugs found here (ignored until fixed) ------------------------------------------------

/// Minimal: `summary = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor
/// %}{% endfor %}"`. `validate` dry-runs every template (src/runbook/template.rs
/// `dry_run`), and minijinja runs 10^10 loop iterations: `cutover validate`, `start` and
/// the detail pane (which renders `detail` every frame) never come back.
#[test]
fn template_loops_do_not_hang_validate() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("loop.toml");
    std::fs::write(
        &p,
        "[runbook]\ntitle = \"t\"\nsummary = \"{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\"\n",
    )
    .unwrap();
    let out = run_bin(
        &["validate".as_ref(), p.as_os_str()],
        StdDuration::from_secs(5),
    );
    assert!(out.is_some(), "cutover validate still running after 5 s");
}

/// Minimal: `summary = "{% for i in range(1000) %}{{ 'x' * 100000000 }}{% endfor %}"`:
/// the dry run builds 100 GB of output (5 GB RSS after 10 s); under a 2 GiB limit the
/// process aborts.
#[test]
fn template_output_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.toml");
    std::fs::write(
        &p,
        "[runbook]\ntitle = \"t\"\nsummary = \"{% for i in range(1000) %}{{ 'x' * 100000000 }}{% endfor %}\"\n",
    )
    .unwrap();
    let out = run_bin(
        &["validate".as_ref(), p.as_os_str()],
        StdDuration::from_secs(10),
    );
    let (code, _, err) = out.expect("cutover validate still running after 10 s");
    assert!(matches!(code, 0 | 1 | 65), "exit {code}: {err}");
}

/// Minimal: a step with a 20,000-character id and another that `requires` a different
/// 20,000-character name. The "did you mean" suggestion (src/runbook/validate.rs
/// `closest` → `edit_distance`) allocates a full (n+1)×(m+1) table: 3.1 GB and 10 s here,
/// 80 GB for 100,000 characters. Same through a long undefined template variable, and
/// a long unknown `timezone` (compared with ~600 zone names: 48 s at 109,000 characters,
/// found by `mutated_runbook_trees`).
#[test]
fn long_unknown_names_do_not_blow_up_suggestions() {
    let n = 20_000;
    let texts = [
        format!(
            "[runbook]\ntitle=\"t\"\n[[phase]]\nid=\"p\"\ntitle=\"x\"\n[[phase.step]]\nid=\"{}\"\ntitle=\"y\"\n[[phase.step]]\nid=\"b\"\ntitle=\"z\"\nrequires=[\"{}\"]\n",
            "a".repeat(n),
            "c".repeat(n)
        ),
        format!(
            "[runbook]\ntitle=\"t\"\nsummary=\"{{{{ {} }}}}\"\n[vars]\n{} = \"1\"\n",
            "c".repeat(n),
            "a".repeat(n)
        ),
        // Against every zone name jiff knows (~600): 48 s for 109,000 characters.
        format!(
            "[runbook]\ntitle=\"t\"\n[window]\ntimezone=\"{}\"\n",
            "x".repeat(n)
        ),
    ];
    // Through the binary, under its 2 GiB limit: in a thread of this process the table
    // would take 3 GB of the machine.
    let dir = tempfile::tempdir().unwrap();
    for (i, text) in texts.iter().enumerate() {
        let p = dir.path().join(format!("long{i}.toml"));
        std::fs::write(&p, text).unwrap();
        let (code, _, err) = run_bin(
            &["validate".as_ref(), p.as_os_str()],
            StdDuration::from_secs(5),
        )
        .unwrap_or_else(|| panic!("case {i}: cutover validate still running after 5 s"));
        assert!(matches!(code, 0 | 1 | 65), "case {i}: exit {code}: {err}");
    }
}

/// Minimal: `[runbook]\ntitle = "x" \x1b]0;pwned\x07\n`. The TOML error is rendered with
/// its source line (src/runbook/diagnostic.rs `Diagnostic::render`), raw: `cutover
/// validate` (and `start`) write the runbook's ESC, BEL, C1 and bidi controls to the
/// operator's terminal (here: a window title set). Messages quote ids the same way
/// (`phase id `p\u{202E}` is not a plain name`).
#[test]
fn diagnostics_do_not_echo_terminal_controls() {
    for text in [
        "[runbook]\ntitle = \"x\" \u{1b}]0;pwned\u{7}\n",
        "[runbook]\ntitle = \"t\"\n[[phase]]\nid = \"p\u{202E}\u{9b}\"\ntitle = \"x\"\n",
    ] {
        for d in validate(text) {
            let shown = d.render("r.toml", text);
            assert!(
                !shown.chars().any(|c| c != '\n' && forbidden(c)),
                "{shown:?}"
            );
        }
    }
}

/// Minimal: 5,000 `[[phase]]` tables whose steps all share one id (or each require an
/// unknown step). Each duplicate costs a scan of the whole file (`Checker::line_of` →
/// `line_col`), each unknown name a suggestion over every step id, and each rendered
/// diagnostic two more scans: quadratic, over 20 s in the test profile.
#[test]
fn many_errors_validate_in_bounded_time() {
    let dups: String = (0..5000)
        .map(|i| {
            format!("[[phase]]\nid=\"p{i}\"\ntitle=\"x\"\n[[phase.step]]\nid=\"s\"\ntitle=\"y\"\n")
        })
        .collect();
    let reqs: String = (0..5000)
        .map(|i| format!("[[phase]]\nid=\"p{i}\"\ntitle=\"x\"\n[[phase.step]]\nid=\"s{i}\"\ntitle=\"y\"\nrequires=[\"q{i}\"]\n"))
        .collect();
    for body in [dups, reqs] {
        let text = format!("[runbook]\ntitle=\"t\"\n{body}");
        within_for("many errors", StdDuration::from_secs(5), move || {
            for d in validate(&text) {
                let _ = d.render("r.toml", &text);
            }
        });
    }
}

/// Minimal: `MAX_LINES` newlines, then `x` in one chunk and `\n` in the next. The
/// partial `x` evicts the oldest line to make room for itself (right), but when it comes
/// back completed, `TaskOutput::absorb` (src/runner/watch.rs) pushes it while the old
/// partial still holds its place, so a second line goes: 4,999 lines and 2 dropped,
/// against 5,000 and 1 fed in one piece.
#[test]
fn a_full_ring_keeps_its_lines_whatever_the_chunking() {
    let mut bytes = vec![b'\n'; MAX_LINES];
    bytes.extend_from_slice(b"x\n");
    let whole = through_pipeline(&bytes, &[]);
    let split = through_pipeline(&bytes, &[MAX_LINES + 1]);
    assert_eq!(
        (split.ring.len(), split.ring.dropped()),
        (whole.ring.len(), whole.ring.dropped())
    );
    assert_eq!(ring_lines(&split), ring_lines(&whole));
}

/// Minimal: 4 MiB of `0xFF` fed in one piece (`load_tail` feeds a finished task's last
/// 256 KiB in one, on the screen's thread). The sanitizer hands a run of bytes >= 0x80
/// to `vte` whole, and `vte` 0.15's `advance_ground` rescans the rest of the slice for
/// ESC after each invalid byte: quadratic (256 KiB: ~0.55 s here; 1 MiB: ~9 s).
#[test]
fn a_long_run_of_8_bit_bytes_is_sanitized_in_linear_time() {
    for byte in [0xFFu8, 0x9B] {
        within_for(
            "4 MiB of 8-bit bytes",
            StdDuration::from_secs(2),
            move || {
                let mut s = Sanitizer::new(DEFAULT_MAX_LINE_BYTES);
                let mut out = Vec::new();
                s.feed(&vec![byte; 4 << 20], &mut out);
                s.finish(&mut out);
            },
        );
    }
}

/// Minimal: a session whose window runs from -9999 to 9999 (a hand-edited journal, or a
/// window of `--window-duration 70000000h`). `Timeline::axis` (src/run/timeline.rs) steps
/// a day at most, and formats every step: 7 million steps, ~1.8 s for one axis, ~1.5 s
/// per frame of the timeline view, ~1.3 s in `report::build`.
#[test]
fn timeline_of_a_session_spanning_millennia_draws_quickly() {
    within_for(
        "a timeline of 20,000 years",
        StdDuration::from_millis(500),
        || {
            let rb = demo();
            let records = vec![Record {
                seq: 1,
                at: ts("2026-11-28T21:00:00Z"),
                by: "o".into(),
                event: Event::SessionStarted {
                    session: "s".into(),
                    runbook_path: "p".into(),
                    runbook_sha256: "x".into(),
                    vars: Default::default(),
                    window: WindowSpec {
                        start: ts("-009999-01-02T01:59:59Z"),
                        end: ts("9999-12-30T22:00:00Z"),
                        timezone: "UTC".into(),
                    },
                    cutover_version: "t".into(),
                    rehearsal: false,
                },
            }];
            let now = ts("2027-04-24T22:33:35Z");
            let run = RunState::replay(&rb, &records);
            let _ = cutover::run::timeline::build(&rb, &run, now).axis(80, "UTC");
        },
    );
}

/// Minimal: a runbook step `run = "echo done \u{202E}; rm -rf ~ #"` or a journal note
/// holding U+202E. Command output maps bidi controls to U+FFFD (the sanitizer), but text
/// from the runbook and the journal goes through `ui::theme::clean`, which maps only
/// `char::is_control`: the override reaches the terminal, and the command shown can read
/// differently from the command run.
#[test]
fn runbook_and_journal_text_is_drawn_without_bidi_controls() {
    let text = "[runbook]\ntitle = \"t\\u202E\"\n[window]\nduration = \"1h\"\n[[phase]]\nid = \"p\"\ntitle = \"p\"\n[[phase.step]]\nid = \"s\"\ntitle = \"s\"\nrun = \"echo done \\u202E; rm -rf ~ #\"\nestimate = \"1m\"\n";
    let rb = Runbook::parse("bidi.toml", text).unwrap();
    let now = ts("2026-11-28T21:00:00Z");
    let records = vec![
        Record {
            seq: 1,
            at: now,
            by: "op@host".into(),
            event: Event::SessionStarted {
                session: "20261128-210000-hx01\u{202E}".into(),
                runbook_path: "bidi.toml".into(),
                runbook_sha256: rb.sha256.clone(),
                vars: Default::default(),
                window: WindowSpec {
                    start: now,
                    end: ts("2026-11-28T22:00:00Z"),
                    timezone: "UTC".into(),
                },
                cutover_version: "test".into(),
                rehearsal: false,
            },
        },
        Record {
            seq: 2,
            at: now,
            by: "op@host".into(),
            event: Event::NoteAdded {
                step: "s".into(),
                text: "checked \u{202E}kooltuo".into(),
            },
        },
    ];
    let app = App::new(rb, &records, "op@host".into(), false, false);
    assert_screen_clean(&draw(&app, 120, 40, now), "runbook and journal text");
}

/// Minimal: `summary = "<65,520 x>{# never closed"`. minijinja 2.24's lexer keeps
/// columns in a `u16`, and `syntax_error` (minijinja src/compiler/lexer.rs:423) adds 1 to
/// the end column: past 65,535 columns a syntax error panics with an overflow in builds
/// with overflow checks (the test profile; release wraps silently). Upstream bug; in
/// cutover, `template::environment` callers could refuse a template with a line over
/// 60,000 characters before compiling it.
#[test]
fn a_template_line_of_65535_columns_does_not_panic() {
    let text = format!(
        "[runbook]\ntitle = \"\"\nsummary = \"{}{{# never closed\"\n",
        "x".repeat(65_520)
    );
    within("a 65,535-column template", move || {
        let _ = validate(&text);
    });
}

/// Minimal: a journal where `say-hello` started and failed as attempt 4294967295 (a
/// hand-edited or damaged-then-recomputed journal), then `Enter` or `r` on it.
/// `update` computes the next attempt as `attempts + 1` (src/app/update.rs:331 for the
/// refusal text, :433 in `start_step`, :465 for a backup): an overflow panic in builds
/// with overflow checks; in release it wraps to attempt 0, which `replay` never lets
/// finish (`attempts` stays at the maximum), so the step hangs as running.
#[test]
fn the_largest_attempt_number_does_not_overflow() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    within("attempt u32::MAX", || {
        let mut app = running_app(true);
        let at = ts("2026-11-28T21:00:00Z");
        for (seq, event) in [
            (
                3,
                Event::StepStarted {
                    step: "say-hello".into(),
                    attempt: u32::MAX,
                },
            ),
            (
                4,
                Event::StepFinished {
                    step: "say-hello".into(),
                    attempt: u32::MAX,
                    exit: Some(1),
                    signal: None,
                    timed_out: false,
                    cancelled: false,
                    expect_matched: None,
                    detached: false,
                    detail: None,
                    ended: None,
                },
            ),
        ] {
            app.apply(&Record {
                seq,
                at,
                by: "op@host".into(),
                event,
            });
        }
        for code in [KeyCode::Enter, KeyCode::Char('r')] {
            let _ = update(&mut app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
        }
    });
}

/// Minimal: two steps with `estimate = "2562047788015215h"` (near the largest duration
/// `Duration::parse` takes; `validate` passes them with a "does not fit" warning), drawn
/// at 120x40. Their sum saturates at `i64::MAX` seconds and `Duration::approx`
/// (src/runbook/duration.rs:63) adds 30 to it, from the window pane
/// (`ui::window::progress`); the same `expected_downtime` with the downtime clock
/// running multiplies it by 3 (src/ui/window.rs:340, `e.as_secs() * 3`). Overflow panics
/// in builds with overflow checks; in release the sums wrap and the pane shows nonsense.
/// `saturating_add` / `saturating_mul` would do.
#[test]
fn durations_near_the_largest_draw_without_overflow() {
    within("a huge estimate on screen", || {
        let text = "[runbook]\ntitle = \"t\"\n[window]\nduration = \"1h\"\nexpected_downtime = \"2562047788015215h\"\n[[phase]]\nid = \"p\"\ntitle = \"p\"\n[[phase.step]]\nid = \"a\"\ntitle = \"a\"\ndowntime = \"start\"\nestimate = \"2562047788015215h\"\n[[phase.step]]\nid = \"b\"\ntitle = \"b\"\nestimate = \"2562047788015215h\"\n";
        let rb = Runbook::parse("huge.toml", text).unwrap();
        let now = ts("2026-11-28T21:00:00Z");
        let mut app = App::new(rb.clone(), &[], "op@host".into(), false, false);
        for (seq, event) in [
            (
                1,
                Event::SessionStarted {
                    session: "s".into(),
                    runbook_path: "huge.toml".into(),
                    runbook_sha256: rb.sha256.clone(),
                    vars: Default::default(),
                    window: WindowSpec {
                        start: now,
                        end: ts("2026-11-28T22:00:00Z"),
                        timezone: "UTC".into(),
                    },
                    cutover_version: "test".into(),
                    rehearsal: false,
                },
            ),
            (2, Event::StepDone { step: "a".into() }),
        ] {
            app.apply(&Record {
                seq,
                at: now,
                by: "op@host".into(),
                event,
            });
            for (w, h) in [(120, 40), (80, 24), (40, 12)] {
                let _ = draw(&app, w, h, ts("2026-11-28T21:10:00Z"));
            }
        }
    });
}
