//! The operator's settings: a user keymap rebinding actions (and the help showing it),
//! every mistake in the keymap or config reported at its file and line, and the real
//! binary refusing a broken keymap before it touches the terminal.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use common::{Home, TIMEOUT};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use cutover::app::{Action, App, Keymap, Msg, update};
use cutover::config::{self, Config, ConfigError, Theme};
use cutover::runbook::Runbook;
use cutover::session::{Event, Record, WindowSpec};
use jiff::Timestamp;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

/// A config directory holding `files`, and the config loaded from it.
fn config_dir(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Config, ConfigError>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let loaded = config::load_from(Some(dir.path().to_path_buf()));
    (dir, loaded)
}

fn keymap_from(text: &str) -> Result<Keymap, ConfigError> {
    let (_dir, config) = config_dir(&[("keymap.toml", text)]);
    config.unwrap().keymap()
}

fn demo_app(keymap: Keymap) -> App {
    let rb = Runbook::parse("demo.toml", cutover::cmd::start::DEMO_RUNBOOK).unwrap();
    let vars = rb.resolve_vars(&[]).unwrap();
    let at: Timestamp = "2026-11-28T21:00:00Z".parse().unwrap();
    let started = Record {
        seq: 1,
        at,
        by: "alice@jump1".into(),
        event: Event::SessionStarted {
            session: "20261128-210000-ab12".into(),
            runbook_path: "demo.toml".into(),
            runbook_sha256: rb.sha256.clone(),
            vars,
            window: WindowSpec {
                start: at,
                end: "2026-11-29T01:00:00Z".parse().unwrap(),
                timezone: "UTC".into(),
            },
            cutover_version: "test".into(),
            rehearsal: false,
        },
    };
    let mut app = App::new(rb, &[started], "alice@jump1".into(), false, true);
    app.keymap = keymap;
    app
}

fn screen_text(app: &App) -> String {
    let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
    t.draw(|f| cutover::ui::render(f, app, "2026-11-28T21:05:00Z".parse().unwrap()))
        .unwrap();
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn invalid(err: &ConfigError) -> (PathBuf, usize, String) {
    let (line, _) = err.position().expect("a position");
    match err {
        ConfigError::Invalid { path, .. } => (path.clone(), line, err.to_string()),
        other => panic!("not an invalid-file error: {other}"),
    }
}

#[test]
fn a_rebinding_replaces_that_actions_keys_and_keeps_the_others() {
    let km = keymap_from("# mine\ndone = [\"D\"]\n").unwrap();
    assert_eq!(km.lookup(&key('D')), Some(Action::Done));
    assert_eq!(km.lookup(&key('d')), None);
    assert_eq!(km.lookup(&key('s')), Some(Action::Skip));
    assert_eq!(km.keys_for(Action::Done)[0].to_string(), "D");

    // What the App dispatches and what its help shows both follow the loaded keymap.
    let mut app = demo_app(km);
    update(&mut app, Msg::Key(key('?')));
    assert!(app.view.help);
    let text = screen_text(&app);
    let row = text
        .lines()
        .find(|l| l.contains("mark the step done"))
        .unwrap_or_else(|| panic!("no `done` row in the help:\n{text}"));
    assert!(row.contains(" D "), "help row: {row}");
    assert!(!row.contains(" d "), "help row: {row}");
}

#[test]
fn hints_use_the_rebound_key() {
    let km = keymap_from("quit = [\"Q\"]\n").unwrap();
    let app = demo_app(km);
    let text = screen_text(&app);
    let bar = text.lines().last().unwrap();
    assert!(bar.contains("Q quit"), "status bar: {bar}");
}

#[test]
fn a_conflict_is_reported_at_the_second_binding() {
    let err = keymap_from("up = [\"z\"]\n\ndown = [\"j\", \"z\"]\n").unwrap_err();
    let (path, line, text) = invalid(&err);
    assert!(path.ends_with("keymap.toml"));
    assert_eq!(line, 3, "{text}");
    assert!(text.contains("keymap.toml:3:"), "{text}");
    assert!(text.contains("`up`") && text.contains("`down`"), "{text}");
    assert!(text.contains("line 1"), "{text}");
}

#[test]
fn a_conflict_with_a_default_names_the_default() {
    // `s` stays with `skip`, which this file does not rebind.
    let err = keymap_from("\ndone = [\"s\"]\n").unwrap_err();
    let (_, line, text) = invalid(&err);
    assert_eq!(line, 2, "{text}");
    assert!(text.contains("`skip` has it by default"), "{text}");
}

#[test]
fn an_unknown_action_is_reported_with_its_line() {
    let err = keymap_from("done = [\"D\"]\nrolback = [\"B\"]\n").unwrap_err();
    let (_, line, text) = invalid(&err);
    assert_eq!(line, 2, "{text}");
    assert!(text.contains("unknown action `rolback`"), "{text}");
    assert!(text.contains("did you mean `rollback`?"), "{text}");
    assert!(text.contains("keymap.toml:2:1"), "{text}");
}

#[test]
fn quit_and_leave_editor_cannot_be_left_without_a_key() {
    // Without one, only killing the terminal (quit) or a bare Esc (the editor) is left.
    for (name, line) in [("quit", 2), ("leave_editor", 2)] {
        let err = keymap_from(&format!("done = [\"D\"]\n{name} = []\n")).unwrap_err();
        let (_, at, text) = invalid(&err);
        assert_eq!(at, line, "{text}");
        assert!(
            text.contains(&format!("`{name}` needs at least one key")),
            "{text}"
        );
    }
    // Other actions may be unbound on purpose.
    assert!(keymap_from("skip = []\n").is_ok());
}

#[test]
fn an_unknown_key_name_is_reported_with_its_line_and_column() {
    let err = keymap_from("done = [\"D\"]\nskip = [\"S\", \"ctrl-\", \"f1\"]\n").unwrap_err();
    let (_, line, text) = invalid(&err);
    assert_eq!(line, 2, "{text}");
    assert!(text.contains("unknown key name `ctrl-`"), "{text}");
    assert!(text.contains("keymap.toml:2:14"), "{text}");
}

#[test]
fn a_keymap_syntax_error_has_a_position() {
    let err = keymap_from("done = [\"D\"\n").unwrap_err();
    assert!(err.position().is_some(), "{err}");
    assert!(err.to_string().contains("keymap.toml:"), "{err}");
}

#[test]
fn the_config_can_name_another_keymap_file() {
    let (dir, _) = config_dir(&[]);
    std::fs::write(dir.path().join("ops-keys.toml"), "note = [\"N\"]\n").unwrap();
    // A `keymap.toml` also present is not read when the config names another file.
    std::fs::write(dir.path().join("keymap.toml"), "nonsense = 1\n").unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "keymap = \"ops-keys.toml\"\n",
    )
    .unwrap();
    let cfg = config::load_from(Some(dir.path().to_path_buf())).unwrap();
    assert_eq!(
        cfg.keymap.as_deref(),
        Some(dir.path().join("ops-keys.toml").as_path())
    );
    let km = cfg.keymap().unwrap();
    assert_eq!(km.lookup(&key('N')), Some(Action::Note));

    // A named file that is missing is an error, not a silent fallback.
    std::fs::write(dir.path().join("config.toml"), "keymap = \"gone.toml\"\n").unwrap();
    let cfg = config::load_from(Some(dir.path().to_path_buf())).unwrap();
    assert!(matches!(cfg.keymap(), Err(ConfigError::Read { .. })));
}

#[test]
fn no_config_files_means_defaults() {
    let (_dir, cfg) = config_dir(&[]);
    let cfg = cfg.unwrap();
    assert_eq!(cfg.theme, Theme::Auto);
    assert_eq!(cfg.pager, None);
    assert_eq!(cfg.shell, None);
    assert_eq!(cfg.state_dir, None);
    let km = cfg.keymap().unwrap();
    assert_eq!(km.lookup(&key('d')), Some(Action::Done));
}

#[test]
fn an_unknown_config_key_is_reported_with_its_line() {
    let (_dir, cfg) = config_dir(&[("config.toml", "theme = \"16\"\n\npagr = \"most\"\n")]);
    let err = cfg.unwrap_err();
    let (path, line, text) = invalid(&err);
    assert!(path.ends_with("config.toml"));
    assert_eq!(line, 3, "{text}");
    assert!(text.contains("config.toml:3:1"), "{text}");
    assert!(text.contains("unknown key `pagr`"), "{text}");
    assert!(text.contains("did you mean `pager`?"), "{text}");
}

#[test]
fn a_bad_theme_or_empty_value_is_reported_with_its_line() {
    let (_dir, cfg) = config_dir(&[("config.toml", "\ntheme = \"dark\"\n")]);
    let (_, line, text) = invalid(&cfg.unwrap_err());
    assert_eq!(line, 2, "{text}");
    assert!(
        text.contains("none"),
        "the accepted values are listed: {text}"
    );

    let (_dir, cfg) = config_dir(&[("config.toml", "shell = \"\"\n")]);
    let (_, line, text) = invalid(&cfg.unwrap_err());
    assert_eq!(line, 1, "{text}");
}

#[test]
fn every_config_key_is_read() {
    let (dir, cfg) = config_dir(&[(
        "config.toml",
        "theme = \"none\"\npager = \"most -s\"\nshell = \"/bin/bash\"\nstate_dir = \"state\"\n",
    )]);
    let cfg = cfg.unwrap();
    assert_eq!(cfg.theme, Theme::None);
    assert!(cfg.no_color());
    assert_eq!(cfg.shell.as_deref(), Some("/bin/bash"));
    // A relative state_dir is relative to the config file.
    assert_eq!(
        cfg.state_dir.as_deref(),
        Some(dir.path().join("state").as_path())
    );
}

#[test]
fn the_config_pager_wins_over_pager_and_less_is_the_last_resort() {
    let (_dir, cfg) = config_dir(&[("config.toml", "pager = \"most -s\"\n")]);
    let cfg = cfg.unwrap();
    assert_eq!(cfg.pager_with(Some("more".into())), "most -s");
    let plain = Config::default();
    assert_eq!(plain.pager_with(Some("more".into())), "more");
    assert_eq!(plain.pager_with(Some("  ".into())), "less");
    assert_eq!(plain.pager_with(None), "less");
}

#[test]
fn state_dir_is_used_unless_cutover_home_is_set() {
    let (_dir, cfg) = config_dir(&[("config.toml", "state_dir = \"/srv/cutover\"\n")]);
    let cfg = cfg.unwrap();
    assert_eq!(
        cfg.state_root_with(None),
        Some(PathBuf::from("/srv/cutover"))
    );
    assert_eq!(
        cfg.state_root_with(Some("/tmp/elsewhere".into())),
        Some(PathBuf::from("/tmp/elsewhere"))
    );
}

#[test]
fn the_config_shell_stands_in_when_the_runbook_names_none() {
    let app = demo_app(Keymap::defaults());
    let step = app
        .runbook
        .file
        .phases
        .iter()
        .flat_map(|p| &p.steps)
        .find(|s| s.run.is_some() && s.shell.is_none())
        .expect("the demo has a command step");
    assert!(app.runbook.file.runbook.shell.is_none());
    let task = cutover::runner::TaskId::step(step.id.get_ref(), 1);
    let spec =
        cutover::runner::watch::spec_for(&app.runbook, &app.run, &task, Some("/bin/bash")).unwrap();
    assert_eq!(spec.shell, "/bin/bash");
    let spec = cutover::runner::watch::spec_for(&app.runbook, &app.run, &task, None).unwrap();
    assert_eq!(spec.shell, cutover::runner::watch::DEFAULT_SHELL);
}

/// The binary with its config in `config` and its sessions in `home`, no terminal.
fn cutover(config: &Path, home: &Path, args: &[&str], env: &[(&str, &str)]) -> common::Output {
    let mut all: Vec<(&str, &OsStr)> = vec![("CUTOVER_CONFIG_DIR", config.as_os_str())];
    all.extend(env.iter().map(|(k, v)| (*k, OsStr::new(v))));
    common::run_with_env(home.as_os_str(), args, &all)
}

#[test]
fn the_binary_refuses_a_broken_keymap_before_the_terminal_check() {
    let config = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("keymap.toml"),
        "# rebinding\ndone = [\"D\"]\nskip = [\"D\"]\n",
    )
    .unwrap();
    for args in [&["demo"][..], &["resume"][..]] {
        let out = cutover(config.path(), home.path(), args, &[]);
        assert_eq!(out.code, 78, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("keymap.toml:3:"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            !out.stderr.contains("full-screen"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let sessions = std::fs::read_dir(home.path().join("sessions")).map_or(0, Iterator::count);
    assert_eq!(sessions, 0, "a session was created");

    // Fixed, it gets as far as the terminal check.
    std::fs::write(config.path().join("keymap.toml"), "done = [\"D\"]\n").unwrap();
    let out = cutover(config.path(), home.path(), &["demo"], &[]);
    assert_eq!(out.code, 64, "{}", out.stderr);
    assert!(out.stderr.contains("full-screen"), "{}", out.stderr);
}

#[test]
fn the_binary_refuses_a_broken_config_and_a_bad_cutover_log() {
    let config = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(config.path().join("config.toml"), "colour = \"none\"\n").unwrap();
    let out = cutover(config.path(), home.path(), &["demo"], &[]);
    assert_eq!(out.code, 78, "{}", out.stderr);
    assert!(out.stderr.contains("config.toml:1:1"), "{}", out.stderr);

    std::fs::remove_file(config.path().join("config.toml")).unwrap();
    let out = cutover(
        config.path(),
        home.path(),
        &["demo"],
        &[("CUTOVER_LOG", "cutover=loud")],
    );
    assert_eq!(out.code, 78, "{}", out.stderr);
    assert!(out.stderr.contains("CUTOVER_LOG"), "{}", out.stderr);
}

#[test]
fn the_binary_keeps_sessions_in_the_configs_state_dir() {
    let config = tempfile::tempdir().unwrap();
    let state = config.path().join("my-state");
    std::fs::write(
        config.path().join("config.toml"),
        "state_dir = \"my-state\"\n",
    )
    .unwrap();
    // An empty CUTOVER_HOME counts as unset.
    let unused = config.path().join("not-this-one");
    let out = cutover(config.path(), &unused, &["status"], &[("CUTOVER_HOME", "")]);
    assert_eq!(out.code, 66, "{}", out.stderr);
    assert!(
        out.stderr.contains(&state.display().to_string()),
        "{}",
        out.stderr
    );
}

#[test]
fn a_rebound_quit_and_cutover_log_work_in_a_real_terminal() {
    let home = Home::new();
    let cfg = home.path().join("cfg");
    std::fs::create_dir(&cfg).unwrap();
    std::fs::write(cfg.join("keymap.toml"), "quit = [\"Q\"]\n").unwrap();
    let line = |extra: &str, cmd: &str| {
        format!(
            "CUTOVER_CONFIG_DIR='{}' {extra} exec \"$0\" {cmd}",
            cfg.display()
        )
    };

    let mut tui = home.pty_sh(120, 40, &line("CUTOVER_LOG=warn", "demo"));
    tui.wait_for_saved(1);
    tui.wait_for("Q quit", TIMEOUT);
    // `q` means nothing now: the screen is still there to take `d`.
    tui.send("q");
    tui.send("d");
    tui.wait_for_saved(2);
    tui.send("Q");
    assert_eq!(tui.wait_code(), 0, "{}", tui.raw_text());
    let id = home.only_session();
    let log = home.state().join("sessions").join(&id).join("cutover.log");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !text.contains("screen opened"),
        "CUTOVER_LOG=warn still logged info:\n{text}"
    );

    // Unset, the level is `info`.
    let mut again = home.pty_sh(120, 40, &line("", "resume"));
    again.wait_for_saved(3);
    again.send("Q");
    assert_eq!(again.wait_code(), 0, "{}", again.raw_text());
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("screen opened").count(), 1, "{text}");
}
