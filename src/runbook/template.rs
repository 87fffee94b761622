//! Message and text templates (minijinja, strict about undefined names).
//!
//! Strict mode is the point: a stakeholder message that silently says "upgrade to  " because
//! `TO_VERSION` was misspelled is worse than a refusal to render it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use minijinja::{AutoEscape, Environment, ErrorKind, Output, State, UndefinedBehavior, Value};

/// Instructions one render may execute (minijinja's fuel). A stakeholder message or a
/// step's detail fills in a few values and takes a few hundred; a runbook looping over
/// `range(100000)` twice would take 10^10, and `validate`, the detail pane (rendered every
/// frame) and a message drafted live would never come back.
pub const MAX_FUEL: u64 = 100_000;

/// Bytes one render may produce, and separately bytes its `{{ }}` expressions may emit
/// (which also counts text captured by `{% set %}` or `{% filter %}` blocks, which never
/// reach the output buffer). A message or detail is a few kilobytes; without a cap one
/// `{{ 'x' * 100000000 }}` in a loop is gigabytes.
pub const MAX_OUTPUT: usize = 1 << 20;

/// Names the runtime puts into every template context next to the runbook's `[vars]`.
pub const LIVE_VARIABLES: &[&str] = &[
    "window_start",
    "window_end",
    "window_start_utc",
    "window_end_utc",
    "timezone",
    "expected_downtime",
    "rollback_deadline",
    "eta",
    "projected_finish",
    "now",
    "current_step",
    "current_status",
    "steps_done",
    "steps_total",
    "actual_downtime",
    "completed_at",
    "next_update_at",
    "update_no",
    "operator",
    "session",
    "title",
];

/// The message phases a runbook can define under `[message.<phase>]`, in the order they
/// happen.
pub const MESSAGE_PHASES: &[&str] = &["before", "during", "after", "rollback"];

/// Why a template could not be checked or rendered. Ranges are byte offsets into the
/// template text (not the runbook file); the validator maps them back to the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template syntax error: {detail}")]
    Syntax {
        detail: String,
        line: Option<usize>,
        range: Option<Range<usize>>,
    },
    #[error("`{expr}` is not defined")]
    Undefined {
        /// The failing expression as written, e.g. `TO_VERSON` or `x.y`.
        expr: String,
        range: Option<Range<usize>>,
    },
    #[error("{detail}")]
    Unknown {
        /// What is unknown: "filter", "test" or "function".
        what: &'static str,
        detail: String,
        range: Option<Range<usize>>,
    },
    #[error("cannot render template: {detail}")]
    Render {
        detail: String,
        range: Option<Range<usize>>,
    },
    /// The template went over [`MAX_FUEL`] steps or [`MAX_OUTPUT`] bytes.
    #[error("{detail}")]
    Limit {
        detail: String,
        range: Option<Range<usize>>,
    },
}

impl TemplateError {
    /// Byte range in the template text of the culprit, when minijinja knows it.
    pub fn range(&self) -> Option<Range<usize>> {
        match self {
            TemplateError::Syntax { range, .. }
            | TemplateError::Undefined { range, .. }
            | TemplateError::Unknown { range, .. }
            | TemplateError::Render { range, .. }
            | TemplateError::Limit { range, .. } => range.clone(),
        }
    }

    fn output_limit(range: Option<Range<usize>>) -> Self {
        TemplateError::Limit {
            detail: format!(
                "template stopped: it renders more than {} KiB of text",
                MAX_OUTPUT / 1024
            ),
            range,
        }
    }

    fn from_minijinja(e: &minijinja::Error, template: &str) -> Self {
        let range = e.range().filter(|r| template.get(r.clone()).is_some());
        let detail = e
            .detail()
            .map_or_else(|| e.kind().to_string(), str::to_string);
        match e.kind() {
            ErrorKind::SyntaxError | ErrorKind::BadEscape => TemplateError::Syntax {
                detail,
                line: e.line(),
                range,
            },
            ErrorKind::UndefinedError => TemplateError::Undefined {
                expr: range
                    .as_ref()
                    .and_then(|r| template.get(r.clone()))
                    .unwrap_or("a value")
                    .to_string(),
                range,
            },
            ErrorKind::UnknownFilter => TemplateError::Unknown {
                what: "filter",
                detail,
                range,
            },
            ErrorKind::UnknownTest => TemplateError::Unknown {
                what: "test",
                detail,
                range,
            },
            ErrorKind::UnknownFunction => TemplateError::Unknown {
                what: "function",
                detail,
                range,
            },
            ErrorKind::OutOfFuel => TemplateError::Limit {
                detail: format!(
                    "template stopped after {MAX_FUEL} steps: it loops too long to render"
                ),
                range,
            },
            _ => TemplateError::Render { detail, range },
        }
    }
}

fn environment<'s>() -> Environment<'s> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Spans in errors are what lets `cutover validate` put a caret inside the string.
    env.set_debug(true);
    // A message body written as `"""...\n"""` should come out the way it was written.
    env.set_keep_trailing_newline(true);
    env
}

/// Shared by one render's formatter: how much its `{{ }}` expressions emitted, and whether
/// one was refused for going over [`MAX_OUTPUT`].
#[derive(Default)]
struct Emitted {
    bytes: AtomicUsize,
    over: AtomicBool,
}

/// A `fmt::Write` onto minijinja's output that refuses to go past `left` bytes, so that a
/// value whose text is huge is cut off while being formatted instead of after.
struct Bounded<'o, 'a> {
    out: &'o mut Output<'a>,
    left: usize,
    over: bool,
}

impl std::fmt::Write for Bounded<'_, '_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if s.len() > self.left {
            self.over = true;
            return Err(std::fmt::Error);
        }
        self.left -= s.len();
        self.out.write_str(s)
    }
}

fn bounded_formatter(
    emitted: &Emitted,
    out: &mut Output,
    state: &State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    // Templates here are never named like HTML files, so nothing auto-escapes; were that to
    // change, minijinja's own formatter keeps the escaping right (unbounded, as before).
    if !matches!(state.auto_escape(), AutoEscape::None) {
        return minijinja::escape_formatter(out, state, value);
    }
    let left = MAX_OUTPUT.saturating_sub(emitted.bytes.load(Ordering::Relaxed));
    // Every item of a sequence or map prints as a byte at least, and a lazy one keeps
    // being iterated after the writer refuses (`[1] * 10**18` would print for ever): one
    // with more items than bytes left is refused before it starts.
    if value.as_str().is_none() && value.len().is_some_and(|n| n > left) {
        emitted.over.store(true, Ordering::Relaxed);
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            "template output limit",
        ));
    }
    let mut w = Bounded {
        out,
        left,
        over: false,
    };
    // With no auto-escaping, minijinja's formatter prints a value with `Display` too.
    let written = write!(w, "{value}");
    emitted.bytes.fetch_add(left - w.left, Ordering::Relaxed);
    if w.over {
        emitted.over.store(true, Ordering::Relaxed);
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            "template output limit",
        ));
    }
    written.map_err(|_| minijinja::Error::new(ErrorKind::WriteFailure, "formatting failed"))
}

/// The output buffer of one render: refuses to grow past [`MAX_OUTPUT`].
#[derive(Default)]
struct Capped {
    buf: Vec<u8>,
    over: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + bytes.len() > MAX_OUTPUT {
            self.over = true;
            return Err(std::io::Error::other("template output limit"));
        }
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders `template` with `ctx`; any name not in `ctx` is an error. At most [`MAX_FUEL`]
/// steps and [`MAX_OUTPUT`] bytes: past either, [`TemplateError::Limit`].
/// The longest template line taken, in bytes. minijinja counts columns in 16 bits, and a
/// longer line overflows that count (a panic in a debug build, a wrong position in a
/// release one). No message or detail needs a line near this long.
pub const MAX_LINE: usize = 60_000;

/// Refuses a template with a line longer than [`MAX_LINE`], before minijinja sees it.
fn check_lines(template: &str) -> Result<(), TemplateError> {
    let mut start = 0;
    for (n, line) in template.split('\n').enumerate() {
        if line.len() > MAX_LINE {
            return Err(TemplateError::Syntax {
                detail: format!(
                    "line {} of the template is {} bytes long; at most {MAX_LINE} are taken",
                    n + 1,
                    line.len()
                ),
                line: Some(n + 1),
                range: Some(start..start),
            });
        }
        start += line.len() + 1;
    }
    Ok(())
}

pub fn render(template: &str, ctx: &BTreeMap<String, String>) -> Result<String, TemplateError> {
    check_lines(template)?;
    let emitted = Arc::new(Emitted::default());
    let mut env = environment();
    env.set_fuel(Some(MAX_FUEL));
    let shared = Arc::clone(&emitted);
    env.set_formatter(move |out, state, value| bounded_formatter(&shared, out, state, value));
    let compiled = env
        .template_from_str(template)
        .map_err(|e| TemplateError::from_minijinja(&e, template))?;
    let mut out = Capped::default();
    match compiled.render_captured_to(ctx, &mut out) {
        Ok(_) => String::from_utf8(out.buf).map_err(|_| TemplateError::Render {
            // minijinja only writes `str`s; kept as an error rather than a panic all the same.
            detail: "the output is not UTF-8".into(),
            range: None,
        }),
        Err(e) if out.over || emitted.over.load(Ordering::Relaxed) => Err(
            TemplateError::output_limit(e.range().filter(|r| template.get(r.clone()).is_some())),
        ),
        Err(e) => Err(TemplateError::from_minijinja(&e, template)),
    }
}

/// The top-level names `template` reads (`x` for `{{ x.y }}`), minus minijinja's own
/// globals such as `range`. A syntax error comes back as [`TemplateError::Syntax`].
pub fn undeclared(template: &str) -> Result<BTreeSet<String>, TemplateError> {
    check_lines(template)?;
    let env = environment();
    let compiled = env
        .template_from_str(template)
        .map_err(|e| TemplateError::from_minijinja(&e, template))?;
    let globals: BTreeSet<&str> = env.globals().map(|(name, _)| name).collect();
    Ok(compiled
        .undeclared_variables(false)
        .into_iter()
        .filter(|name| !globals.contains(name.as_str()))
        .collect())
}

/// Problems that only show when the template runs: unknown filters, tests and functions,
/// and a template over the step or size budget (loops, huge values).
/// Every name in `defined` gets a placeholder value; errors caused by the placeholder
/// (arithmetic on a string, attribute access) are not the runbook's fault and are ignored.
pub fn dry_run(template: &str, defined: &BTreeSet<String>) -> Result<(), TemplateError> {
    let ctx: BTreeMap<String, String> = defined
        .iter()
        .map(|name| (name.clone(), String::from("x")))
        .collect();
    match render(template, &ctx) {
        Err(
            e @ (TemplateError::Syntax { .. }
            | TemplateError::Unknown { .. }
            | TemplateError::Limit { .. }),
        ) => Err(e),
        _ => Ok(()),
    }
}

/// Where the name `name` is first read in `template`: inside `{{ }}` or `{% %}`, as a whole
/// identifier, not as an attribute (`.name`) or a filter (`| name`). `undeclared` only gives
/// names, and an operator needs the caret under the misspelling.
pub fn find_variable(template: &str, name: &str) -> Option<Range<usize>> {
    let bytes = template.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut pos = 0;
    while let Some(open) = template[pos..].find('{').map(|i| i + pos) {
        let close = match bytes.get(open + 1) {
            Some(b'{') => "}}",
            Some(b'%') => "%}",
            _ => {
                pos = open + 1;
                continue;
            }
        };
        let body_start = open + 2;
        let body_end = template[body_start..]
            .find(close)
            .map_or(template.len(), |i| i + body_start);
        let body = &template[body_start..body_end];
        let mut from = 0;
        while let Some(hit) = body[from..].find(name).map(|i| i + from) {
            let start = body_start + hit;
            let end = start + name.len();
            let before = template[..start].trim_end().as_bytes().last().copied();
            let boundary_before = start == 0 || !is_ident(bytes[start - 1]);
            let boundary_after = end >= bytes.len() || !is_ident(bytes[end]);
            let accessor = matches!(before, Some(b'.' | b'|'));
            if boundary_before && boundary_after && !accessor && !in_string_literal(body, hit) {
                return Some(start..end);
            }
            from = hit + name.len();
        }
        pos = body_end;
    }
    None
}

/// Whether byte `at` of a tag body sits inside a quoted string literal.
fn in_string_literal(body: &str, at: usize) -> bool {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if i >= at {
            break;
        }
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None => {}
        }
    }
    quote.is_some()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultMessage {
    subject: String,
    body: String,
}

fn default_source(phase: &str) -> Option<&'static str> {
    Some(match phase {
        "before" => include_str!("../../assets/messages/before.toml"),
        "during" => include_str!("../../assets/messages/during.toml"),
        "after" => include_str!("../../assets/messages/after.toml"),
        "rollback" => include_str!("../../assets/messages/rollback.toml"),
        _ => return None,
    })
}

/// The built-in `(subject, body)` for a message phase the runbook does not define.
/// `None` for a phase that does not exist. The assets are compiled in and checked by the
/// tests below, so a parse failure here would be a build defect, not an operator's problem.
pub fn default_message(phase: &str) -> Option<(String, String)> {
    let parsed: DefaultMessage = toml::from_str(default_source(phase)?).ok()?;
    Some((parsed.subject, parsed.body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn rendering_fills_values() {
        let out = render(
            "Upgrade {{ SERVICE }} to {{ TO_VERSION }}",
            &ctx(&[("SERVICE", "CluedIn"), ("TO_VERSION", "2025.09.00")]),
        )
        .unwrap();
        assert_eq!(out, "Upgrade CluedIn to 2025.09.00");
    }

    #[test]
    fn rendering_keeps_the_trailing_newline() {
        assert_eq!(render("a\n", &ctx(&[])).unwrap(), "a\n");
    }

    #[test]
    fn undefined_name_is_an_error_in_strict_mode() {
        let err = render("to {{ TO_VERSON }}", &ctx(&[("TO_VERSION", "1")])).unwrap_err();
        assert_eq!(
            err,
            TemplateError::Undefined {
                expr: "TO_VERSON".into(),
                range: Some(6..15)
            }
        );
        assert_eq!(err.to_string(), "`TO_VERSON` is not defined");
    }

    #[test]
    fn undeclared_lists_top_level_names_without_globals() {
        let names = undeclared(
            "{{ a.b }} {% for i in range(3) %}{{ i }}{{ loop.index }}{% endfor %}{% set q = 1 %}{{ q }}{{ c | upper }}",
        )
        .unwrap();
        assert_eq!(
            names,
            ["a", "c"]
                .into_iter()
                .map(String::from)
                .collect::<BTreeSet<_>>()
        );
    }

    #[test]
    fn syntax_errors_carry_a_range_in_the_template() {
        let text = "line one\nsee {{ foo bar }}";
        let err = undeclared(text).unwrap_err();
        let TemplateError::Syntax { line, range, .. } = &err else {
            panic!("expected a syntax error, got {err:?}");
        };
        assert_eq!(*line, Some(2));
        assert_eq!(&text[range.clone().unwrap()], "bar");
    }

    #[test]
    fn dry_run_finds_unknown_filters_but_forgives_placeholder_values() {
        let defined: BTreeSet<String> = ["x".to_string()].into();
        let err = dry_run("{{ x | uper }}", &defined).unwrap_err();
        assert!(matches!(err, TemplateError::Unknown { what: "filter", .. }));
        assert!(dry_run("{{ x + 1 }} {{ x.y }}", &defined).is_ok());
    }

    #[test]
    fn a_loop_too_long_runs_out_of_fuel() {
        let nested =
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
        let err = render(nested, &ctx(&[])).unwrap_err();
        assert!(matches!(err, TemplateError::Limit { .. }), "{err:?}");
        assert!(err.to_string().contains("100000 steps"), "{err}");
        // The dry run reports it too: it is the runbook's fault, not the placeholder's.
        let err = dry_run(nested, &BTreeSet::new()).unwrap_err();
        assert!(matches!(err, TemplateError::Limit { .. }), "{err:?}");
        // A loop of ordinary size is fine.
        let out = render("{% for i in range(1000) %}.{% endfor %}", &ctx(&[])).unwrap();
        assert_eq!(out.len(), 1000);
    }

    #[test]
    fn output_is_capped_in_the_output_and_in_captures() {
        for text in [
            // Straight to the output.
            "{% for i in range(1000) %}{{ 'x' * 100000000 }}{% endfor %}",
            // Captured by a block, never reaching the output buffer.
            "{% set s %}{% for i in range(1000) %}{{ 'x' * 100000000 }}{% endfor %}{% endset %}",
            "{% filter upper %}{% for i in range(1000) %}{{ 'x' * 100000 }}{% endfor %}{% endfilter %}",
            // Raw text, many times over.
            "{% for i in range(100000) %}0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef{% endfor %}",
            // A lazily repeated sequence that would print for ever.
            "{{ [1] * 1000000000000000000 }}",
        ] {
            let err = render(text, &ctx(&[])).unwrap_err();
            assert!(
                matches!(err, TemplateError::Limit { .. }),
                "{text}: {err:?}"
            );
            assert!(err.to_string().contains("1024 KiB"), "{err}");
        }
        // Just under the cap renders whole.
        let out = render("{{ 'x' * 1048576 }}", &ctx(&[])).unwrap();
        assert_eq!(out.len(), MAX_OUTPUT);
    }

    #[test]
    fn find_variable_skips_attributes_filters_and_strings() {
        let t = "TO {{ x.TO }} {{ 'TO' }} {{ y | TO }} {{ TO }}";
        let r = find_variable(t, "TO").unwrap();
        assert_eq!(r.start, t.rfind("TO").unwrap());
        assert_eq!(find_variable("{{ TOO }}", "TO"), None);
        assert_eq!(find_variable("{% if TO %}", "TO"), Some(6..8));
    }

    #[test]
    fn every_phase_has_a_default_message_using_only_live_variables() {
        let live: BTreeSet<String> = LIVE_VARIABLES.iter().map(|s| s.to_string()).collect();
        for phase in MESSAGE_PHASES {
            let (subject, body) = default_message(phase).unwrap_or_else(|| {
                panic!("assets/messages/{phase}.toml is missing or does not parse")
            });
            for text in [&subject, &body] {
                let names = undeclared(text).unwrap();
                let stray: Vec<_> = names.difference(&live).collect();
                assert!(stray.is_empty(), "{phase}: not live variables: {stray:?}");
                // Rendering with every live value filled must succeed in strict mode.
                let full: BTreeMap<String, String> =
                    live.iter().map(|n| (n.clone(), format!("<{n}>"))).collect();
                render(text, &full).unwrap();
            }
            assert!(!subject.contains('\n'), "{phase}: subject spans lines");
        }
        assert_eq!(default_message("afterwards"), None);
    }

    #[test]
    fn default_messages_say_what_stakeholders_need() {
        let full: BTreeMap<String, String> = LIVE_VARIABLES
            .iter()
            .map(|n| (n.to_string(), format!("<{n}>")))
            .collect();
        let rendered = |phase: &str| {
            let (s, b) = default_message(phase).unwrap();
            format!(
                "{}\n{}",
                render(&s, &full).unwrap(),
                render(&b, &full).unwrap()
            )
        };
        let before = rendered("before");
        for needle in [
            "<window_start>",
            "<expected_downtime>",
            "<rollback_deadline>",
        ] {
            assert!(before.contains(needle), "before lacks {needle}");
        }
        let during = rendered("during");
        for needle in [
            "#<update_no>",
            "<current_step>",
            "<steps_done>",
            "<steps_total>",
            "<eta>",
            "<next_update_at>",
        ] {
            assert!(during.contains(needle), "during lacks {needle}");
        }
        let after = rendered("after");
        for needle in ["<completed_at>", "<actual_downtime>"] {
            assert!(after.contains(needle), "after lacks {needle}");
        }
        assert!(rendered("rollback").contains("previous version"));
    }

    #[test]
    fn the_rollback_message_says_whether_the_restore_is_still_running() {
        let (subject, body) = default_message("rollback").unwrap();
        let at = |status: &str| {
            let mut ctx: BTreeMap<String, String> = LIVE_VARIABLES
                .iter()
                .map(|n| (n.to_string(), format!("<{n}>")))
                .collect();
            ctx.insert("current_status".into(), status.into());
            format!(
                "{}\n{}",
                render(&subject, &ctx).unwrap(),
                render(&body, &ctx).unwrap()
            )
        };
        let running = at("rolling back");
        assert!(running.starts_with("[Rolling back] <title>"), "{running}");
        assert!(running.contains("back by <eta>") && !running.contains("restored at"));
        let over = at("rolled back");
        assert!(over.starts_with("[Rolled back] <title>"), "{over}");
        assert!(over.contains("restored at <completed_at>") && !over.contains("under way"));
    }
}
