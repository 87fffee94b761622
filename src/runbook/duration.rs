//! Human durations (`90s`, `10m`, `1h30m`) as written in runbooks and on the command line.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative span of time with second precision.
///
/// Runbooks speak in minutes and hours; sub-second precision would only make the
/// screen noisier, so parsing rounds to whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    secs: i64,
}

impl Duration {
    pub const ZERO: Duration = Duration { secs: 0 };

    pub fn from_secs(secs: i64) -> Self {
        Duration { secs: secs.max(0) }
    }

    pub fn from_mins(mins: i64) -> Self {
        Duration::from_secs(mins.saturating_mul(60))
    }

    pub fn as_secs(self) -> i64 {
        self.secs
    }

    pub fn signed(self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_secs(self.secs)
    }

    /// Parses `90s`, `10m`, `1h30m`, `2h 15m`; a bare number is refused because
    /// "10" could mean seconds or minutes and a runbook must not leave that to chance.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err("empty duration".into());
        }
        if trimmed.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "`{trimmed}` has no unit: write e.g. `{trimmed}m` or `{trimmed}s`"
            ));
        }
        let parsed: jiff::SignedDuration = trimmed
            .parse()
            .map_err(|_| format!("`{trimmed}` is not a duration (try `90s`, `10m` or `1h30m`)"))?;
        if parsed.is_negative() {
            return Err(format!("`{trimmed}` is negative"));
        }
        Ok(Duration {
            secs: parsed.as_secs(),
        })
    }
}

impl Duration {
    /// Whole minutes once past a minute: seconds on a countdown of hours are noise.
    pub fn approx(self) -> Duration {
        if self.secs >= 60 {
            Duration::from_secs(self.secs.saturating_add(30) / 60 * 60)
        } else {
            self
        }
    }
}

impl std::ops::Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        Duration {
            secs: self.secs.saturating_add(rhs.secs),
        }
    }
}

impl std::iter::Sum for Duration {
    fn sum<I: Iterator<Item = Duration>>(iter: I) -> Duration {
        iter.fold(Duration::ZERO, |a, b| a + b)
    }
}

/// Compact form used on screen and in runbooks: `1h30m`, `45m`, `90s` → `1m30s`.
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.secs / 3600, (self.secs % 3600) / 60, self.secs % 60);
        let mut out = String::new();
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if m > 0 {
            out.push_str(&format!("{m}m"));
        }
        if s > 0 || out.is_empty() {
            out.push_str(&format!("{s}s"));
        }
        f.write_str(&out)
    }
}

impl std::str::FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Duration::parse(s)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Duration::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The human forms runbooks use: one or more numbers each with a unit, e.g. `90s`, `10m`,
/// `1h30m`, `2h 15m`, `1 hour`. `Duration::parse` accepts a little more (ISO 8601, units
/// below a second), which a runbook has no use for; the test below keeps the two in step
/// on everything a runbook is likely to hold.
pub const DURATION_PATTERN: &str = r"^\s*([0-9]+(\.[0-9]+)?\s*(hours|hour|hrs|hr|h|minutes|minute|mins|min|m|seconds|second|secs|sec|s)\s*,?\s*)+$";

impl schemars::JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        concat!(module_path!(), "::Duration").into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A duration with units, e.g. `90s`, `10m`, `1h30m` (a bare number is refused).",
            "examples": ["90s", "10m", "1h30m"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_runbooks_use() {
        assert_eq!(Duration::parse("90s").unwrap().as_secs(), 90);
        assert_eq!(Duration::parse("10m").unwrap().as_secs(), 600);
        assert_eq!(Duration::parse("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(Duration::parse("2h 15m").unwrap().as_secs(), 8100);
    }

    #[test]
    fn refuses_ambiguous_and_garbage() {
        assert!(Duration::parse("10").unwrap_err().contains("no unit"));
        assert!(Duration::parse("ten minutes").is_err());
        assert!(Duration::parse("").is_err());
        assert!(Duration::parse("-5m").is_err());
    }

    #[test]
    fn displays_compactly_and_round_trips() {
        for text in ["1h30m", "45m", "1m30s", "0s", "4h"] {
            let d = Duration::parse(text).unwrap();
            assert_eq!(d.to_string(), text);
        }
    }

    #[test]
    fn schema_pattern_agrees_with_parse() {
        let pattern = regex::Regex::new(DURATION_PATTERN).unwrap();
        let accepted = [
            "90s",
            "10m",
            "1h30m",
            "2h 15m",
            "4h",
            " 45m ",
            "1h, 30m",
            "1 hour",
            "2 hours",
            "30 minutes",
            "1min",
            "10 secs",
            "1.5h",
            "1h30m15s",
        ];
        let refused = ["10", "", "ten minutes", "-5m", "5 m ago", "h", "1x", "5mm"];
        for text in accepted {
            assert!(Duration::parse(text).is_ok(), "parse refuses {text:?}");
            assert!(pattern.is_match(text), "the schema refuses {text:?}");
        }
        for text in refused {
            assert!(Duration::parse(text).is_err(), "parse accepts {text:?}");
            assert!(!pattern.is_match(text), "the schema accepts {text:?}");
        }
    }
}
