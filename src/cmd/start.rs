//! `cutover run` and `cutover demo`: start a new session.

use std::path::PathBuf;

use jiff::Timestamp;

use super::{Failure, exit, store_root_in, tmux, tui};
use crate::app::App;
use crate::runbook::{Duration, Runbook};
use crate::session::{Event, Store, WindowSpec, store::operator};

/// The demo runbook travels inside the binary so a newcomer needs nothing else.
pub const DEMO_RUNBOOK: &str = include_str!("../../runbooks/demo.toml");
pub const DEMO_ORIGIN: &str = "demo.toml (built in)";

pub enum Source {
    File(PathBuf),
    Demo,
}

pub fn run(
    source: Source,
    overrides: &[(String, String)],
    window_start: Option<&str>,
    window_duration: Option<&str>,
    ascii: bool,
    in_tmux: bool,
    rehearsal: bool,
) -> Result<(), Failure> {
    let settings = tui::settings()?;
    let runbook = match &source {
        Source::File(path) => Runbook::load(path)?,
        Source::Demo => Runbook::parse(DEMO_ORIGIN, DEMO_RUNBOOK)?,
    };
    let vars = runbook
        .resolve_vars(overrides)
        .map_err(|m| Failure::new(exit::USAGE, m))?;
    super::resume::require_secrets(&runbook, in_tmux)?;
    let now = Timestamp::now();
    let window = resolve_window(&runbook, window_start, window_duration, now)?;
    // Decided before the store is touched, so a missing tmux leaves nothing behind.
    let plan = if in_tmux {
        let stem = match &source {
            Source::File(p) => p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Source::Demo => "demo".to_string(),
        };
        tmux::plan(&stem)?
    } else {
        tmux::Plan::Here
    };

    let store = Store::open(store_root_in(&settings.config)?)?;
    tui::require_terminal()?;
    // Everything that can be refused was checked out here, where the operator reads it;
    // inside tmux an early error would vanish with the session.
    if let tmux::Plan::Reexec { tmux, session } = plan {
        return Err(tmux::reexec(&tmux, &session));
    }
    let (paths, lock, mut journal) = store.create_session(now, &runbook.source)?;
    tui::init_logging(&paths, settings.log);
    let by = operator();
    let origin = match &source {
        Source::File(p) => std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.clone())
            .display()
            .to_string(),
        Source::Demo => DEMO_ORIGIN.to_string(),
    };
    let started = journal
        .append(
            &by,
            now,
            Event::SessionStarted {
                session: paths.id.clone(),
                runbook_path: origin,
                runbook_sha256: runbook.sha256.clone(),
                vars,
                window,
                cutover_version: env!("CARGO_PKG_VERSION").to_string(),
                rehearsal,
            },
        )
        .map_err(|e| {
            store.discard_empty(&paths);
            Failure::new(exit::IO, e.to_string())
        })?;
    let mut app = App::new(runbook, &[started], by, ascii, settings.config.no_color());
    app.keymap = settings.keymap;
    app.view.truecolor = settings.config.truecolor();
    tui::drive(app, journal, &paths, lock, &settings.config)
}

/// The window from the command line, else the runbook, else "starts now".
pub fn resolve_window(
    runbook: &Runbook,
    start_arg: Option<&str>,
    duration_arg: Option<&str>,
    now: Timestamp,
) -> Result<WindowSpec, Failure> {
    let w = &runbook.file.window;
    let parse_time = |text: &str, what: &str| -> Result<Timestamp, Failure> {
        text.parse::<Timestamp>().map_err(|e| {
            Failure::new(
                exit::USAGE,
                format!("{what} `{text}` is not an RFC 3339 time with an offset (e.g. 2026-11-28T22:00:00+01:00): {e}"),
            )
        })
    };
    let start = match (start_arg, &w.start) {
        (Some(s), _) => parse_time(s, "--window-start")?,
        (None, Some(s)) => parse_time(s.get_ref(), "window.start")?,
        (None, None) => now,
    };
    let length = match (duration_arg, &w.duration, &w.end) {
        (Some(d), _, _) => Duration::parse(d)
            .map_err(|e| Failure::new(exit::USAGE, format!("--window-duration: {e}")))?,
        (None, Some(d), _) => *d.get_ref(),
        (None, None, Some(end)) => {
            let end = parse_time(end.get_ref(), "window.end")?;
            Duration::from_secs(end.duration_since(start).as_secs())
        }
        (None, None, None) => {
            return Err(Failure::new(
                exit::USAGE,
                format!(
                    "{}: the runbook's [window] has no duration or end; pass --window-duration (e.g. 4h)",
                    runbook.origin
                ),
            ));
        }
    };
    if length.as_secs() <= 0 {
        return Err(Failure::new(
            exit::USAGE,
            "the window must last longer than zero",
        ));
    }
    let end = start
        .checked_add(length.signed())
        .map_err(|e| Failure::new(exit::USAGE, format!("window end out of range: {e}")))?;
    let timezone = match &w.timezone {
        Some(tz) => tz.get_ref().clone(),
        None => jiff::tz::TimeZone::system()
            .iana_name()
            .unwrap_or("UTC")
            .to_string(),
    };
    Ok(WindowSpec {
        start,
        end,
        timezone,
    })
}
