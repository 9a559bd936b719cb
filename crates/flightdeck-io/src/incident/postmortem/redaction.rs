//! The rule that masks personal data and secrets in what a postmortem quotes: a list of regular
//! expressions, each match replaced by one placeholder. The failing calls' inputs and outputs get
//! the whole rule, request ids all but the digit runs (ids are mostly digits), and every other
//! text the configured patterns only. The defaults are the presenter's masking
//! ([`crate::redact`]), with its own placeholders (‹url›, ‹host›, ‹email›, ‹secret›), so the
//! export never shows what the screen share hides.

use regex::Regex;
use serde::Deserialize;

/// What replaces a match unless the config says otherwise.
pub const DEFAULT_REPLACEMENT: &str = "‹redacted›";

/// Masked by default too, in inputs and outputs only: runs of four or more digits (order, phone
/// and card numbers), which elsewhere are dates, counts and ids.
const DIGIT_RUN: &str = r"\d{4,}";

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
    /// The shared masking of URLs, hosts, emails and secrets, unless the config drops the defaults.
    defaults: bool,
    digit_run: Option<Regex>,
    configured: Vec<Regex>,
    replacement: String,
}

impl Default for Redaction {
    fn default() -> Self {
        Self::from_config(&RedactionConfig::default()).expect("the default patterns are valid")
    }
}

impl Redaction {
    /// The rule a config section describes; a pattern that does not compile is named.
    pub fn from_config(config: &RedactionConfig) -> Result<Self, PatternError> {
        let compile = |pattern: &str| {
            Regex::new(pattern).map_err(|e| PatternError {
                reason: e.to_string(),
                pattern: pattern.to_string(),
            })
        };
        let keep = config.keep_defaults;
        Ok(Self {
            defaults: keep,
            digit_run: keep.then(|| compile(DIGIT_RUN)).transpose()?,
            configured: config
                .redact
                .iter()
                .map(|p| compile(p))
                .collect::<Result<_, _>>()?,
            replacement: config.redact_with.clone(),
        })
    }

    /// A failing call's input or output: every pattern, in order, replaced.
    pub fn apply(&self, text: &str) -> String {
        let text = self.apply_to_id(text);
        self.mask(self.digit_run.as_slice(), &text)
    }

    /// A request id: the defaults but the digit runs, and the configured patterns.
    pub fn apply_to_id(&self, text: &str) -> String {
        let text = if self.defaults {
            crate::redact::redact(text)
        } else {
            text.to_string()
        };
        self.mask(&self.configured, &text)
    }

    /// Any other text the postmortem quotes: the configured patterns only, so dates, counts and
    /// the responders' words stay readable.
    pub fn apply_configured(&self, text: &str) -> String {
        self.mask(&self.configured, text)
    }

    fn mask(&self, patterns: &[Regex], text: &str) -> String {
        patterns.iter().fold(text.to_string(), |text, pattern| {
            pattern
                .replace_all(&text, regex::NoExpand(&self.replacement))
                .into_owned()
        })
    }

    /// The rule in words, for the export to say what it masked.
    pub fn describe(&self) -> String {
        let configured = self.configured.len();
        let with = &self.replacement;
        let defaults = "URLs, hosts and IP addresses, email addresses and secrets replaced by ‹url›, ‹host›, ‹email› and ‹secret›";
        match (self.defaults, configured) {
            (true, 0) => format!("{defaults}; runs of 4 or more digits replaced by {with}"),
            (true, n) => format!(
                "{defaults}; {n} configured pattern(s) and runs of 4 or more digits replaced by {with}"
            ),
            (false, n) => format!("{n} configured pattern(s) replaced by {with}"),
        }
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
            "Email ‹email› about order #‹redacted›, call +1 415 ‹redacted›"
        );
        assert_eq!(
            rule.apply("see https://shop.example.com/orders/12?x=1 now"),
            "see ‹url› now"
        );
        assert_eq!(
            rule.apply("key sk-live-0123456789abcdef, Bearer abcdefgh.ijk"),
            "key ‹secret›, Bearer ‹secret›"
        );
        assert_eq!(
            rule.apply("Is the hiking boots machine washable? Size 42."),
            "Is the hiking boots machine washable? Size 42."
        );
    }

    #[test]
    fn the_defaults_mask_what_the_presenter_masks() {
        let text = "api_key=ab12cd34ef password: hunter2 from 10.20.30.40:8080 on db.internal";
        assert_eq!(
            Redaction::default().apply(text),
            crate::redact::redact(text)
        );
        assert_eq!(
            Redaction::default().apply(text),
            "api_key=‹secret› password: ‹secret› from ‹host› on ‹host›"
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
    }

    #[test]
    fn request_ids_lose_contacts_and_other_texts_only_the_configured_patterns() {
        let rule = Redaction::from_config(&RedactionConfig {
            redact: vec![r"(?i)\bkowalski\b".into()],
            ..RedactionConfig::default()
        })
        .unwrap();
        assert_eq!(
            rule.apply_to_id("support/anna.kowalski@example.com/77041"),
            "support/‹email›/77041"
        );
        assert_eq!(rule.apply_to_id("req-kowalski-0001"), "req-‹redacted›-0001");
        assert_eq!(
            rule.apply_configured("new terms: Kowalski, refund at 2026-03-14 14:15, 1,424 calls"),
            "new terms: ‹redacted›, refund at 2026-03-14 14:15, 1,424 calls"
        );
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
