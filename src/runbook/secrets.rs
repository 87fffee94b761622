//! Secrets: values a runbook's commands need (a database password, an API token) that
//! must never be written down by cutover.
//!
//! A runbook names them (`[runbook] secrets = ["DB_PASSWORD"]`); their values come from
//! the environment cutover itself is started in, at `run` and again at `resume`. Commands
//! get them the way every child gets its parent's environment, by inheritance: they are
//! not in the task spec files, the journal, the runbook copy or the template context.
//!
//! What a command prints is another matter: it may echo a secret. So every text that
//! leaves cutover for a person (the output pane, message drafts and files, the report)
//! goes through [`Secrets::mask`], which replaces each value with [`MASK`]. The task logs
//! on disk are the commands' own bytes and are not masked.

use std::borrow::Cow;
use std::ffi::OsString;
use std::ops::Range;
use std::sync::OnceLock;

/// What a secret's value is replaced with wherever cutover shows or writes text.
pub const MASK: &str = "****";

/// The shortest value accepted, in characters. A shorter one would mask unrelated text
/// everywhere (every `abc` in the output), and the masks would point at where the value
/// occurs; that is no protection worth the noise.
pub const MIN_LEN: usize = 4;

/// The secret values of this process, ready to mask text with. `Debug` shows the names
/// only, so a stray `{:?}` in a log line cannot leak a value.
#[derive(Clone, Default)]
pub struct Secrets {
    names: Vec<String>,
    /// What is looked for in text: each value, and each of its pieces between control
    /// characters (a multi-line key is shown line by line). Longest first.
    needles: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("names", &self.names)
            .field("values", &format_args!("<{} masked>", self.needles.len()))
            .finish()
    }
}

/// Why a listed secret cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    NotSet,
    Empty,
    NotUnicode,
    /// Its length in characters.
    TooShort(usize),
    /// Every piece between its control characters is shorter than [`MIN_LEN`], so no line
    /// of output could show it whole, and no mask could hide it.
    Unmaskable,
}

impl Problem {
    fn describe(&self) -> String {
        match self {
            Problem::NotSet => "not set".into(),
            Problem::Empty => "set but empty".into(),
            Problem::NotUnicode => "not valid UTF-8".into(),
            Problem::TooShort(n) => format!(
                "{n} character{}; a secret needs at least {MIN_LEN}, or masking it would hide unrelated text",
                if *n == 1 { "" } else { "s" }
            ),
            Problem::Unmaskable => {
                format!("no {MIN_LEN} printable characters in a row, so output could not be masked")
            }
        }
    }
}

/// The listed secrets the environment does not provide, each with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe_unusable(.0))]
pub struct SecretsError(pub Vec<(String, Problem)>);

impl SecretsError {
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(n, _)| n.as_str()).collect()
    }
}

fn describe_unusable(problems: &[(String, Problem)]) -> String {
    let list = problems
        .iter()
        .map(|(name, p)| format!("{name} ({})", p.describe()))
        .collect::<Vec<_>>()
        .join(", ");
    let example = problems.first().map_or("DB_PASSWORD", |(n, _)| n.as_str());
    format!(
        "the runbook's secrets must be set in the environment cutover starts in, and these \
         are not usable: {list}. Secrets are never read from the runbook or the command \
         line: export each one first (e.g. `read -rs {example} && export {example}`), then \
         run this again"
    )
}

impl Secrets {
    /// The secrets `names` from `lookup` (the process environment, in production); every
    /// name that is missing or unusable is reported at once.
    pub fn resolve(
        names: &[String],
        lookup: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Secrets, SecretsError> {
        let mut values = Vec::new();
        let mut problems = Vec::new();
        for name in names {
            match check(lookup(name)) {
                Ok(v) => values.push((name.clone(), v)),
                Err(p) => problems.push((name.clone(), p)),
            }
        }
        if problems.is_empty() {
            Ok(Secrets::from_values(values))
        } else {
            Err(SecretsError(problems))
        }
    }

    /// Whatever of `names` `lookup` provides in a usable form, silently skipping the rest:
    /// for read-only commands (`report`), which mask what they can and refuse nothing.
    pub fn available(names: &[String], lookup: impl Fn(&str) -> Option<OsString>) -> Secrets {
        let values = names
            .iter()
            .filter_map(|n| check(lookup(n)).ok().map(|v| (n.clone(), v)))
            .collect::<Vec<_>>();
        Secrets::from_values(values)
    }

    /// Secrets from `(name, value)` pairs as given (no length rules: see [`resolve`]).
    pub fn from_values(pairs: impl IntoIterator<Item = (String, String)>) -> Secrets {
        let mut names = Vec::new();
        let mut needles: Vec<String> = Vec::new();
        for (name, value) in pairs {
            names.push(name);
            let pieces = value
                .split(|c: char| c.is_control())
                .filter(|p| p.chars().count() >= MIN_LEN)
                .map(str::to_string);
            if !value.is_empty() {
                needles.push(value.clone());
            }
            needles.extend(pieces);
        }
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        needles.dedup();
        Secrets { names, needles }
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// True when there is nothing to mask: the common case, which costs nothing.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// The byte ranges of `text` that hold a secret, sorted, overlapping and touching
    /// ones merged (two values side by side become one mask, and overlapping matches of
    /// different values are hidden whole rather than one cut short by the other).
    pub fn ranges(&self, text: &str) -> Vec<Range<usize>> {
        let mut found: Vec<Range<usize>> = Vec::new();
        for needle in &self.needles {
            let mut from = 0;
            while let Some(at) = text.get(from..).and_then(|rest| rest.find(needle.as_str())) {
                let start = from + at;
                found.push(start..start + needle.len());
                // Overlapping occurrences too (`aaaa` in `aaaaa`): step one character on.
                from = start + text[start..].chars().next().map_or(1, char::len_utf8);
            }
        }
        merge(found)
    }

    /// Where a suffix of `text[..end]` of at least [`MIN_LEN`] characters starts that is
    /// the beginning of a secret: text that goes on past `end` (a line cut short, a
    /// line still being written) may be half a secret, and half is already too much.
    pub fn trailing_prefix(&self, text: &str, end: usize) -> Option<usize> {
        let head = text.as_bytes().get(..end)?;
        self.needles
            .iter()
            .filter_map(|needle| {
                let n = needle.as_bytes();
                // Longest first: the earliest start hides the most.
                (1..n.len().min(head.len() + 1)).rev().find_map(|k| {
                    let start = head.len() - k;
                    let whole_chars = needle.is_char_boundary(k);
                    (whole_chars
                        && head[start..] == n[..k]
                        && needle[..k].chars().count() >= MIN_LEN)
                        .then_some(start)
                })
            })
            .min()
    }

    /// `text` with every secret replaced by [`MASK`]; borrowed when there is none.
    pub fn mask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if self.is_empty() {
            return Cow::Borrowed(text);
        }
        let ranges = self.ranges(text);
        if ranges.is_empty() {
            return Cow::Borrowed(text);
        }
        Cow::Owned(splice(text, &ranges))
    }

    /// Masks every string in a JSON document (keys are field names, and stay).
    pub fn mask_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        if self.is_empty() {
            return;
        }
        match value {
            Value::String(s) => {
                if let Cow::Owned(masked) = self.mask(s) {
                    *s = masked;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.mask_json(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.mask_json(v)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

fn check(value: Option<OsString>) -> Result<String, Problem> {
    let value = value.ok_or(Problem::NotSet)?;
    if value.is_empty() {
        return Err(Problem::Empty);
    }
    let value = value.into_string().map_err(|_| Problem::NotUnicode)?;
    let len = value.chars().count();
    if len < MIN_LEN {
        return Err(Problem::TooShort(len));
    }
    let printable = value
        .split(|c: char| c.is_control())
        .any(|p| p.chars().count() >= MIN_LEN);
    if !printable {
        return Err(Problem::Unmaskable);
    }
    Ok(value)
}

/// Sorted, with overlapping and touching ranges joined.
pub fn merge(mut ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// `text` with each of the sorted, disjoint `ranges` (on char boundaries) replaced by
/// [`MASK`].
pub fn splice(text: &str, ranges: &[Range<usize>]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in ranges {
        out.push_str(&text[at..r.start]);
        out.push_str(MASK);
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
}

/// The secret names a runbook lists.
pub fn declared(runbook: &super::Runbook) -> Vec<String> {
    runbook
        .file
        .runbook
        .secrets
        .iter()
        .map(|s| s.get_ref().clone())
        .collect()
}

static ACTIVE: OnceLock<Secrets> = OnceLock::new();
static NONE: Secrets = Secrets {
    names: Vec::new(),
    needles: Vec::new(),
};

/// Makes `secrets` the ones this process masks with ([`active`]). Process-wide, because
/// the values are too (they come from the process environment) and the places that mask
/// (the output pane, message files, the report) are far apart. The first call wins: a
/// process drives one session, and its secrets do not change under it.
pub fn install(secrets: Secrets) {
    let _ = ACTIVE.set(secrets);
}

/// The secrets installed for this process, or none.
pub fn active() -> &'static Secrets {
    ACTIVE.get().unwrap_or(&NONE)
}

/// Checks that the environment holds every secret `runbook` lists, and installs them for
/// masking. `run` and `resume` call it before anything else happens, so a missing secret
/// is reported before a session is created or the terminal is touched.
pub fn require(runbook: &super::Runbook) -> Result<&'static Secrets, SecretsError> {
    let names = declared(runbook);
    if names.is_empty() {
        return Ok(active());
    }
    let secrets = Secrets::resolve(&names, |n| std::env::var_os(n))?;
    install(secrets);
    Ok(active())
}

/// The secrets to mask a read-only view of `runbook`'s session with: the installed ones,
/// else whichever of its secrets this process's environment holds. A secret not set here
/// cannot be masked here; the journal never held it in the first place.
pub fn for_reading(runbook: &super::Runbook) -> Secrets {
    let names = declared(runbook);
    if names.is_empty() {
        return Secrets::default();
    }
    if !active().is_empty() {
        return active().clone();
    }
    Secrets::available(&names, |n| std::env::var_os(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(values: &[&str]) -> Secrets {
        Secrets::from_values(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("S{i}"), v.to_string())),
        )
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn every_occurrence_is_masked() {
        let s = secrets(&["hunter22"]);
        assert_eq!(
            s.mask("pw=hunter22; again hunter22!"),
            "pw=****; again ****!"
        );
        assert!(matches!(s.mask("nothing here"), Cow::Borrowed(_)));
        assert!(matches!(
            Secrets::default().mask("hunter22"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn overlapping_and_adjacent_values_are_hidden_whole() {
        let s = secrets(&["abcdef", "defghi"]);
        assert_eq!(s.mask("xabcdefghiy"), "x****y");
        assert_eq!(s.mask("abcdefdefghi"), "****");
        let s = secrets(&["aaaa"]);
        assert_eq!(s.mask("aaaaa b aaaa"), "**** b ****");
    }

    #[test]
    fn multi_line_values_are_masked_line_by_line() {
        let s = secrets(&["line-one\nline-two\nab"]);
        assert_eq!(s.mask("line-one"), "****");
        assert_eq!(s.mask(">line-two<"), ">****<");
        // The whole value too, where it appears whole (a typed note, JSON).
        assert_eq!(s.mask("[line-one\nline-two\nab]"), "[****]");
        // Pieces shorter than the minimum are not looked for.
        assert_eq!(s.mask("ab"), "ab");
    }

    #[test]
    fn non_ascii_values_and_text() {
        let s = secrets(&["pässwörd"]);
        assert_eq!(s.mask("ü pässwörd ü"), "ü **** ü");
        let s = secrets(&["éééé"]);
        assert_eq!(s.mask("ééééé"), "****");
    }

    #[test]
    fn a_trailing_half_secret_is_found() {
        let s = secrets(&["hunter22"]);
        let text = "the password is hunt";
        assert_eq!(s.trailing_prefix(text, text.len()), Some(16));
        // Fewer than MIN_LEN characters of it say too little to hide.
        assert_eq!(s.trailing_prefix("is hun", 6), None);
        // Only at the end given.
        assert_eq!(s.trailing_prefix("hunter x", 8), None);
        assert_eq!(s.trailing_prefix("xx hunter…(+3 bytes)", 9), Some(3));
        let s = secrets(&["ßßßßßß"]);
        let text = "a ßßßß";
        assert_eq!(s.trailing_prefix(text, text.len()), Some(2));
    }

    #[test]
    fn resolve_reports_every_problem_at_once() {
        let names: Vec<String> = ["A", "B", "C", "D", "E"].map(String::from).into();
        let err = Secrets::resolve(
            &names,
            env(&[
                ("A", "long enough"),
                ("C", ""),
                ("D", "abc"),
                ("E", "ab\ncd\nef"),
            ]),
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            vec![
                ("B".to_string(), Problem::NotSet),
                ("C".to_string(), Problem::Empty),
                ("D".to_string(), Problem::TooShort(3)),
                ("E".to_string(), Problem::Unmaskable),
            ]
        );
        let text = err.to_string();
        for want in [
            "B (not set)",
            "C (set but empty)",
            "D (3 characters",
            "export B",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
        assert!(!text.contains("long enough"), "a value leaked: {text}");
        let ok = Secrets::resolve(&names[..1], env(&[("A", "long enough")])).unwrap();
        assert_eq!(ok.names(), ["A"]);
        assert_eq!(ok.mask("x long enough"), "x ****");
        assert!(!format!("{ok:?}").contains("long enough"));
    }

    #[test]
    fn available_takes_what_there_is() {
        let names: Vec<String> = ["A", "B"].map(String::from).into();
        let s = Secrets::available(&names, env(&[("B", "bbbbbb"), ("A", "a")]));
        assert_eq!(s.names(), ["B"]);
        assert_eq!(s.mask("a bbbbbb"), "a ****");
    }

    #[test]
    fn json_strings_are_masked_and_keys_kept() {
        let s = secrets(&["hunter22"]);
        let mut v = serde_json::json!({
            "note": "typed hunter22 by mistake",
            "hunter22": [1, "hunter22", {"x": "hunter22hunter22"}],
        });
        s.mask_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "note": "typed **** by mistake",
                "hunter22": [1, "****", {"x": "****"}],
            })
        );
    }
}
