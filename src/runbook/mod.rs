//! Runbooks: the TOML model, loading, semantic validation and templates.
//! Knows nothing of sessions or terminals.

pub mod diagnostic;
pub mod duration;
pub mod estimate;
pub mod model;
pub mod schema;
pub mod secrets;
pub mod template;
pub mod validate;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use diagnostic::{Diagnostic, Severity};
pub use duration::Duration;
pub use model::{Backup, Phase, RunbookFile, Step, StepKind};

/// A runbook that parsed and passed every semantic check that is an error.
#[derive(Debug, Clone)]
pub struct Runbook {
    /// Where it was read from, as the operator named it (or `<demo>` for the bundled one).
    pub origin: String,
    pub source: String,
    pub sha256: String,
    pub file: RunbookFile,
    /// Warnings found while validating (plan does not fit, missing estimates, ...).
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunbookError {
    #[error("cannot read runbook {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("runbook {origin} is invalid ({} error(s))", errors(.diagnostics))]
    Invalid {
        origin: String,
        source_text: String,
        diagnostics: Vec<Diagnostic>,
    },
}

fn errors(d: &[Diagnostic]) -> usize {
    d.iter().filter(|d| d.is_error()).count()
}

impl RunbookError {
    /// Every diagnostic rendered with file:line:col and a caret, ready for stderr.
    pub fn render(&self) -> String {
        match self {
            RunbookError::Read { .. } => format!("error: {self}\n"),
            RunbookError::Invalid {
                origin,
                source_text,
                diagnostics,
            } => diagnostics
                .iter()
                .map(|d| d.render(origin, source_text))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Runbook {
    pub fn load(path: &Path) -> Result<Runbook, RunbookError> {
        let source = std::fs::read_to_string(path).map_err(|source| RunbookError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Runbook::parse(&path.display().to_string(), &source)
    }

    /// Parses and validates. Errors come back all at once (as far as TOML syntax allows),
    /// warnings ride along on the runbook.
    pub fn parse(origin: &str, source: &str) -> Result<Runbook, RunbookError> {
        let diagnostics = validate::validate(source);
        let invalid = |diagnostics| RunbookError::Invalid {
            origin: origin.to_string(),
            source_text: source.to_string(),
            diagnostics,
        };
        if diagnostics.iter().any(Diagnostic::is_error) {
            return Err(invalid(diagnostics));
        }
        let file: RunbookFile = match toml::from_str(source) {
            Ok(file) => file,
            // validate() parsed the same text successfully; this cannot differ, but if it
            // ever did the operator still gets a positioned message rather than a panic.
            Err(e) => return Err(invalid(vec![validate::toml_error(&e, source)])),
        };
        Ok(Runbook {
            origin: origin.to_string(),
            source: source.to_string(),
            sha256: sha256_hex(source.as_bytes()),
            file,
            warnings: diagnostics,
        })
    }

    pub fn title(&self) -> &str {
        &self.file.runbook.title
    }

    /// Every step in file order with the index of its phase.
    pub fn steps(&self) -> impl Iterator<Item = (usize, &Step)> {
        self.file
            .phases
            .iter()
            .enumerate()
            .flat_map(|(pi, p)| p.steps.iter().map(move |s| (pi, s)))
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps().map(|(_, s)| s).find(|s| s.id.get_ref() == id)
    }

    pub fn phase_of(&self, step_id: &str) -> Option<&Phase> {
        self.file
            .phases
            .iter()
            .find(|p| p.steps.iter().any(|s| s.id.get_ref() == step_id))
    }

    /// The one step that takes backup `id`.
    pub fn backup_step(&self, id: &str) -> Option<&Step> {
        self.steps()
            .map(|(_, s)| s)
            .find(|s| s.backup_ids().contains(&id))
    }

    pub fn backup(&self, id: &str) -> Option<&Backup> {
        self.file.backups.iter().find(|b| b.id.get_ref() == id)
    }

    /// Runbook variables with `--var` overrides applied; overrides of unknown names are
    /// refused so a typo (`--var TO_VERISON=...`) cannot silently do nothing.
    pub fn resolve_vars(
        &self,
        overrides: &[(String, String)],
    ) -> Result<std::collections::BTreeMap<String, String>, String> {
        let mut vars: std::collections::BTreeMap<String, String> = self
            .file
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), v.get_ref().clone()))
            .collect();
        for (k, v) in overrides {
            if !vars.contains_key(k) {
                let known: Vec<&str> = vars.keys().map(String::as_str).collect();
                return Err(format!(
                    "--var {k}: the runbook defines no variable `{k}` (it defines: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ));
            }
            if matches!(k.as_str(), "FROM_VERSION" | "TO_VERSION")
                && let Some(scheme) = &self.file.runbook.version_scheme
                && let Err(why) = validate::check_version(*scheme.get_ref(), v)
            {
                return Err(format!(
                    "--var {k}={v}: does not follow the runbook's version_scheme ({why})"
                ));
            }
            vars.insert(k.clone(), v.clone());
        }
        Ok(vars)
    }
}
