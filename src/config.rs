//! The operator's own settings: `config.toml` and `keymap.toml` in the config
//! directory. Every key is optional; a key cutover does not know, or a value it cannot
//! use, is an error naming the file, line and column, so a typo never silently falls
//! back to a default in the middle of a window.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::app::Keymap;
use crate::runbook::Diagnostic;

pub const CONFIG_FILE: &str = "config.toml";
pub const KEYMAP_FILE: &str = "keymap.toml";

/// How the screen uses colour (see [`palette`] for the whole decision). `auto` draws the
/// terminal's own sixteen colours, which every colour terminal has and which follow its
/// colour scheme, and a 24-bit palette only where `COLORTERM` says the terminal takes
/// it and cutover does not run inside GNU screen. `16` keeps the sixteen whatever
/// `COLORTERM` claims; `truecolor` is the operator vouching for the terminal, since
/// `COLORTERM` rarely survives `ssh` or `sudo`. A non-empty `NO_COLOR` beats all of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Theme {
    #[default]
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "16")]
    Sixteen,
    #[serde(rename = "truecolor")]
    Truecolor,
    /// No colour at all, as under `NO_COLOR`.
    #[serde(rename = "none")]
    None,
}

/// What the screen is drawn with, once the config and the environment are weighed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    /// No colour at all: state is told by glyph and word.
    None,
    /// cutover's own colours in the terminal's sixteen named ones (a command's output
    /// may also use the rest of the 256, see `Theme::output_color`).
    Sixteen,
    /// cutover's own colours in 24-bit RGB.
    Truecolor,
}

/// The palette for `theme`, given the values of `NO_COLOR`, `COLORTERM` and `STY` (`None`
/// when unset). A pure function of its arguments, so the whole table can be tested
/// without touching the process environment.
pub fn palette(
    theme: Theme,
    no_color_env: Option<&str>,
    colorterm: Option<&str>,
    sty: Option<&str>,
) -> Palette {
    // https://no-color.org: any non-empty value, whatever it says, turns colour off.
    if no_color_env.is_some_and(|v| !v.is_empty()) {
        return Palette::None;
    }
    // GNU screen sets `STY` in every window it opens, and passes on the `COLORTERM` of
    // the terminal it was started from, but screen 4 does not understand 24-bit colour
    // and passes none of `38;2;…` on as colour. A tmux started inside screen
    // inherits `STY` and draws through screen anyway, so nothing is lost there either;
    // `theme = "truecolor"` is the way out for a terminal that does take 24 bits.
    let in_screen = sty.is_some_and(|v| !v.is_empty());
    match theme {
        Theme::None => Palette::None,
        Theme::Sixteen => Palette::Sixteen,
        Theme::Truecolor => Palette::Truecolor,
        Theme::Auto if in_screen => Palette::Sixteen,
        // The two values terminals are known to set; anything else (`256color`, `yes`)
        // promises less than 24 bits, and a wrong guess would draw garbage.
        Theme::Auto => match colorterm.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            Some("truecolor" | "24bit") => Palette::Truecolor,
            _ => Palette::Sixteen,
        },
    }
}

/// The settings, with paths already resolved against the config directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Where `config.toml` and the default `keymap.toml` are looked for; `None` when
    /// there is no home directory to find it from.
    pub dir: Option<PathBuf>,
    pub theme: Theme,
    /// A keymap file named by `keymap`; without one, `keymap.toml` in `dir` if present.
    pub keymap: Option<PathBuf>,
    pub pager: Option<String>,
    pub shell: Option<String>,
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", diagnostic.render(&path.display().to_string(), text))]
    Invalid {
        path: PathBuf,
        text: String,
        diagnostic: Box<Diagnostic>,
    },
}

impl ConfigError {
    /// 1-based line and column of the offending entry, when there is one.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Invalid {
                text, diagnostic, ..
            } => diagnostic.position(text),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    theme: Option<Theme>,
    keymap: Option<Spanned<String>>,
    pager: Option<Spanned<String>>,
    shell: Option<Spanned<String>>,
    state_dir: Option<Spanned<String>>,
}

/// `$CUTOVER_CONFIG_DIR`, else the platform config directory (`~/.config/cutover`).
pub fn dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CUTOVER_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "cutover").map(|d| d.config_dir().to_path_buf())
}

/// The settings from `config.toml` in [`dir`]; no file means every default.
pub fn load() -> Result<Config, ConfigError> {
    load_from(dir())
}

pub fn load_from(dir: Option<PathBuf>) -> Result<Config, ConfigError> {
    let Some(dir) = dir else {
        return Ok(Config::default());
    };
    let path = dir.join(CONFIG_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&path, &text),
        Err(e) if absent(&e) => Ok(Config {
            dir: Some(dir),
            ..Config::default()
        }),
        Err(source) => Err(ConfigError::Read { path, source }),
    }
}

/// Parses the text of the config file at `path`; relative paths in it are relative to
/// the file's directory, and `~/` is the home directory.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let invalid = |diagnostic| ConfigError::Invalid {
        path: path.to_path_buf(),
        text: text.to_string(),
        diagnostic: Box::new(diagnostic),
    };
    let raw: RawConfig = toml::from_str(text)
        .map_err(|e| invalid(crate::runbook::validate::toml_error(&e, text)))?;
    let non_empty = |key: &str, value: Option<Spanned<String>>| match value {
        Some(v) if v.get_ref().trim().is_empty() => Err(invalid(
            Diagnostic::error(format!("`{key}` is empty"), Some(v.span()))
                .with_help(format!("remove the `{key}` line to use the default")),
        )),
        other => Ok(other.map(Spanned::into_inner)),
    };
    let dir = path.parent().map(Path::to_path_buf);
    let resolve = |p: String| resolve_path(dir.as_deref(), &p);
    Ok(Config {
        theme: raw.theme.unwrap_or_default(),
        keymap: non_empty("keymap", raw.keymap)?.map(resolve),
        pager: non_empty("pager", raw.pager)?,
        shell: non_empty("shell", raw.shell)?,
        state_dir: non_empty("state_dir", raw.state_dir)?.map(resolve),
        dir,
    })
}

/// No file there: the defaults apply. A file that exists but cannot be read is an
/// error, since the operator meant something by it.
fn absent(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

fn resolve_path(base: Option<&Path>, text: &str) -> PathBuf {
    if let Some(rest) = text.strip_prefix("~/")
        && let Some(home) = directories::BaseDirs::new()
    {
        return home.home_dir().join(rest);
    }
    let p = PathBuf::from(text);
    match base {
        Some(base) if p.is_relative() => base.join(p),
        _ => p,
    }
}

impl Config {
    /// The default keys with the user keymap file's rebindings applied. A keymap file
    /// named in the config must exist; the default `keymap.toml` may be absent.
    pub fn keymap(&self) -> Result<Keymap, ConfigError> {
        let (path, required) = match (&self.keymap, &self.dir) {
            (Some(p), _) => (p.clone(), true),
            (None, Some(dir)) => (dir.join(KEYMAP_FILE), false),
            (None, None) => return Ok(Keymap::defaults()),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if !required && absent(&e) => {
                return Ok(Keymap::defaults());
            }
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        Keymap::defaults()
            .with_overrides(&text)
            .map_err(|diagnostic| ConfigError::Invalid {
                path,
                text,
                diagnostic: Box::new(diagnostic),
            })
    }

    /// The session store: `$CUTOVER_HOME`, else `state_dir`, else the platform state
    /// directory.
    pub fn state_root(&self) -> Option<PathBuf> {
        self.state_root_with(std::env::var_os("CUTOVER_HOME"))
    }

    pub fn state_root_with(&self, cutover_home: Option<OsString>) -> Option<PathBuf> {
        match cutover_home.filter(|h| !h.is_empty()) {
            Some(home) => Some(PathBuf::from(home)),
            None => self
                .state_dir
                .clone()
                .or_else(crate::session::Store::default_root),
        }
    }

    /// The pager for `l`: `pager` from the config, else `$PAGER`, else `less`. The
    /// config wins because it is written for cutover alone, while `$PAGER` is a
    /// system-wide default (git ranks `core.pager` over `$PAGER` the same way).
    pub fn pager(&self) -> String {
        self.pager_with(std::env::var("PAGER").ok())
    }

    pub fn pager_with(&self, env_pager: Option<String>) -> String {
        self.pager
            .clone()
            .or_else(|| env_pager.filter(|p| !p.trim().is_empty()))
            .unwrap_or_else(|| "less".to_string())
    }

    /// The palette for this config in this process's environment.
    pub fn palette(&self) -> Palette {
        // Lossy is enough: a non-UTF-8 `NO_COLOR` or `STY` is still non-empty, and a
        // non-UTF-8 `COLORTERM` is not one of the values that turn truecolour on.
        let var = |name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
        palette(
            self.theme,
            var("NO_COLOR").as_deref(),
            var("COLORTERM").as_deref(),
            var("STY").as_deref(),
        )
    }

    /// Colour off under `theme = "none"` or a non-empty `NO_COLOR`.
    pub fn no_color(&self) -> bool {
        self.palette() == Palette::None
    }

    /// Colours as 24-bit RGB rather than the sixteen named ones (see [`palette`]).
    pub fn truecolor(&self) -> bool {
        self.palette() == Palette::Truecolor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_weighs_theme_no_color_colorterm_and_screen() {
        use Palette as P;
        const COLORTERMS: [Option<&str>; 7] = [
            None,
            Some(""),
            Some("truecolor"),
            Some("24bit"),
            Some("TrueColor "),
            Some("256color"),
            Some("yes"),
        ];
        // What `auto` makes of each `COLORTERM` above, in the same order, outside GNU
        // screen; inside it, always the sixteen.
        const AUTO: [Palette; 7] = [
            P::Sixteen,
            P::Sixteen,
            P::Truecolor,
            P::Truecolor,
            P::Truecolor,
            P::Sixteen,
            P::Sixteen,
        ];
        let mut checked = 0;
        for theme in [Theme::Auto, Theme::Sixteen, Theme::Truecolor, Theme::None] {
            for (i, colorterm) in COLORTERMS.into_iter().enumerate() {
                for no_color in [None, Some(""), Some("1")] {
                    for sty in [None, Some(""), Some("12345.pts-3.jump1")] {
                        let want = match (theme, no_color, sty) {
                            (_, Some("1"), _) => P::None,
                            (Theme::Auto, _, Some("12345.pts-3.jump1")) => P::Sixteen,
                            (Theme::Auto, _, _) => AUTO[i],
                            (Theme::Sixteen, _, _) => P::Sixteen,
                            // The operator vouches for the terminal, screen or not.
                            (Theme::Truecolor, _, _) => P::Truecolor,
                            (Theme::None, _, _) => P::None,
                        };
                        assert_eq!(
                            palette(theme, no_color, colorterm, sty),
                            want,
                            "theme {theme:?}, NO_COLOR {no_color:?}, COLORTERM {colorterm:?}, \
                             STY {sty:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 4 * 7 * 3 * 3);
    }
}
