//! The rule that masks personal data and secrets in the failing calls a postmortem quotes: a list
//! of regular expressions, each match replaced by one placeholder.

use regex::Regex;
use serde::Deserialize;

/// What replaces a match unless the config says otherwise.
pub const DEFAULT_REPLACEMENT: &str = "‹redacted›";

/// Masked by default: URLs, email addresses, secret-looking tokens, and runs of four or more
/// digits (order, phone and card numbers). URLs go first so an address inside one goes with it.
const DEFAULT_PATTERNS: [&str; 6] = [
    r#"(?i)\b[a-z][a-z0-9+.-]*://[^\s<>"'`]+"#,
    r"(?i)[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}",
    r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}",
    r"\b(?:sk|pk|rk)[-_][A-Za-z0-9_-]{8,}",
    // A long unbroken run of key-like characters; plain words are rarely this long.
    r"[A-Za-z0-9_+/=-]{24,}",
    r"\d{4,}",
];

/// `[postmortem]` in flightdeck.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactionConfig {
    /// More patterns to mask, on top of the defaults unless `keep_defaults` is false.
    #[serde(default)]
    pub redact: Vec<String>,
    #[serde(default = "default_replacement")]
    pub redact_with: String,
    #[serde(default = "yes")]
    pub keep_defaults: bool,
}

impl Default for RedactionConfig {
    fn default() -> Self {
        Self {
            redact: Vec::new(),
            redact_with: default_replacement(),
            keep_defaults: true,
        }
    }
}

fn default_replacement() -> String {
    DEFAULT_REPLACEMENT.to_string()
}

fn yes() -> bool {
    true
}

#[derive(Debug, thiserror::Error)]
#[error("[postmortem] redact: {pattern:?} is not a valid regular expression: {reason}")]
pub struct PatternError {
    pub pattern: String,
    pub reason: String,
}

/// Compiled patterns and their replacement.
#[derive(Debug, Clone)]
pub struct Redaction {
    patterns: Vec<Regex>,
    replacement: String,
    with_defaults: bool,
}

impl Default for Redaction {
    fn default() -> Self {
        Self::from_config(&RedactionConfig::default()).expect("the default patterns are valid")
    }
}

impl Redaction {
    /// The rule a config section describes; a pattern that does not compile is named.
    pub fn from_config(config: &RedactionConfig) -> Result<Self, PatternError> {
        let defaults = DEFAULT_PATTERNS
            .iter()
            .filter(|_| config.keep_defaults)
            .map(|p| p.to_string());
        let patterns = defaults
            .chain(config.redact.iter().cloned())
            .map(|pattern| {
                Regex::new(&pattern).map_err(|e| PatternError {
                    reason: e.to_string(),
                    pattern,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            patterns,
            replacement: config.redact_with.clone(),
            with_defaults: config.keep_defaults,
        })
    }

    /// `text` with every match of every pattern, in order, replaced.
    pub fn apply(&self, text: &str) -> String {
        self.patterns
            .iter()
            .fold(text.to_string(), |text, pattern| {
                pattern
                    .replace_all(&text, regex::NoExpand(&self.replacement))
                    .into_owned()
            })
    }

    /// The rule in words, for the export to say what it masked.
    pub fn describe(&self) -> String {
        let defaults = if self.with_defaults {
            DEFAULT_PATTERNS.len()
        } else {
            0
        };
        let configured = self.patterns.len() - defaults;
        let what = match (defaults > 0, configured) {
            (true, 0) => {
                "URLs, email addresses, secret-like tokens and runs of 4 or more digits".to_string()
            }
            (true, n) => format!(
                "URLs, email addresses, secret-like tokens, runs of 4 or more digits and {n} configured pattern(s)"
            ),
            (false, n) => format!("{n} configured pattern(s)"),
        };
        format!("{what} replaced by {}", self.replacement)
    }

    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(Regex::as_str)
    }

    pub fn replacement(&self) -> &str {
        &self.replacement
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_defaults_mask_contacts_numbers_links_and_keys() {
        let rule = Redaction::default();
        assert_eq!(
            rule.apply("Email dana.m@example.com about order #88834, call +1 415 5550123"),
            "Email ‹redacted› about order #‹redacted›, call +1 415 ‹redacted›"
        );
        assert_eq!(
            rule.apply("see https://shop.example.com/orders/12?x=1 now"),
            "see ‹redacted› now"
        );
        assert_eq!(
            rule.apply("key sk-live-0123456789abcdef, Bearer abcdefgh.ijk"),
            "key ‹redacted›, ‹redacted›"
        );
        assert_eq!(
            rule.apply("Is the hiking boots machine washable? Size 42."),
            "Is the hiking boots machine washable? Size 42."
        );
    }

    #[test]
    fn configured_patterns_add_to_or_replace_the_defaults() {
        let config = RedactionConfig {
            redact: vec![r"(?i)\bdana\b".into()],
            redact_with: "[x]".into(),
            keep_defaults: true,
        };
        let rule = Redaction::from_config(&config).unwrap();
        assert_eq!(rule.apply("Dana, order 12345"), "[x], order [x]");
        let only = Redaction::from_config(&RedactionConfig {
            keep_defaults: false,
            ..config
        })
        .unwrap();
        assert_eq!(only.apply("Dana, order 12345"), "[x], order 12345");
        assert_eq!(only.patterns().count(), 1);
    }

    #[test]
    fn a_bad_pattern_is_named_with_its_section() {
        let config = RedactionConfig {
            redact: vec!["order (#\\d+".into()],
            ..RedactionConfig::default()
        };
        let error = Redaction::from_config(&config).unwrap_err().to_string();
        assert!(error.contains("[postmortem] redact"), "{error}");
        assert!(error.contains("order (#"), "{error}");
    }

    #[test]
    fn a_replacement_is_taken_literally() {
        let rule = Redaction::from_config(&RedactionConfig {
            redact_with: "$1 <gone>".into(),
            ..RedactionConfig::default()
        })
        .unwrap();
        assert_eq!(rule.apply("order 12345"), "order $1 <gone>");
    }

    proptest! {
        #[test]
        fn no_email_or_long_number_survives(
            before in "[a-zA-Z ,.?!]{0,30}",
            user in "[a-z][a-z0-9._]{0,12}",
            domain in "[a-z][a-z0-9]{0,10}",
            tld in "(com|org|io|de)",
            number in "[0-9]{4,12}",
            after in "[a-zA-Z ,.?!]{0,30}",
        ) {
            let email = format!("{user}@{domain}.{tld}");
            let text = format!("{before} {email} {after} #{number} {before}");
            let out = Redaction::default().apply(&text);
            prop_assert!(!out.contains(&email), "{out}");
            prop_assert!(!out.contains(&number), "{out}");
            prop_assert!(!out.chars().collect::<Vec<_>>().windows(4).any(|w| w.iter().all(char::is_ascii_digit)), "{out}");
        }
    }
}
