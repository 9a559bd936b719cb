//! Scenario files (`assets/scenarios/*.toml`): what the simulated feature is and what happens to
//! it when. Errors name the file, the line and the field.

use std::fmt;
use std::ops::Range;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use toml::Spanned;

use crate::engine::triage::Category;

/// The scenarios built into the binary, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "prompt-regression",
        include_str!("../../../../assets/scenarios/prompt-regression.toml"),
    ),
    (
        "silent-model-update",
        include_str!("../../../../assets/scenarios/silent-model-update.toml"),
    ),
    (
        "input-drift",
        include_str!("../../../../assets/scenarios/input-drift.toml"),
    ),
    (
        "provider-degradation",
        include_str!("../../../../assets/scenarios/provider-degradation.toml"),
    ),
    (
        "red-herring",
        include_str!("../../../../assets/scenarios/red-herring.toml"),
    ),
];

pub const DEFAULT_SCENARIO: &str = "prompt-regression";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    pub file: String,
    pub line: Option<usize>,
    pub field: String,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "{}:{}: {}: {}",
                self.file, line, self.field, self.message
            ),
            None => write!(f, "{}: {}: {}", self.file, self.field, self.message),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: String,
    summary: String,
    category: Spanned<String>,
    start: Spanned<String>,
    #[serde(default = "defaults::calls_per_minute")]
    calls_per_minute: Spanned<f64>,
    #[serde(default = "defaults::eval_coverage")]
    eval_coverage: Spanned<f64>,
    #[serde(default = "defaults::feedback_rate")]
    feedback_rate: Spanned<f64>,
    #[serde(default)]
    feature: FeatureSpec,
    prompts: Vec<PromptSpec>,
    models: Vec<ModelSpec>,
    sources: Vec<SourceSpec>,
    initial: InitialSpec,
    #[serde(default)]
    provider: ProviderSpec,
    #[serde(default)]
    events: Vec<EventSpec>,
}

mod defaults {
    use toml::Spanned;
    pub fn calls_per_minute() -> Spanned<f64> {
        Spanned::new(0..0, 30.0)
    }
    pub fn eval_coverage() -> Spanned<f64> {
        Spanned::new(0..0, 0.8)
    }
    pub fn feedback_rate() -> Spanned<f64> {
        Spanned::new(0..0, 0.15)
    }
}

/// The simulated AI feature's fixed facts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeatureSpec {
    pub name: String,
    pub model_alias: String,
    pub provider: String,
    pub output_schema: String,
    pub kill_switch_flag: String,
}

impl Default for FeatureSpec {
    fn default() -> Self {
        Self {
            name: "support-answer".into(),
            model_alias: "gpt-4o".into(),
            provider: "openai".into(),
            output_schema: "support_answer".into(),
            kill_switch_flag: "support-answer-ai".into(),
        }
    }
}

/// A prompt version and how it behaves on in-domain questions.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptSpec {
    pub version: String,
    pub text: String,
    pub hallucination: f64,
    pub refusal: f64,
}

/// A model snapshot and how it behaves.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub snapshot: String,
    pub schema_violation: f64,
    #[serde(default = "one")]
    pub hallucination_factor: f64,
    pub latency_ms: f64,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topic {
    /// Questions about orders, returns, shipping, billing, products and accounts.
    Support,
    /// Questions the assistant was never built for.
    OffTopic,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    pub name: String,
    pub weight: f64,
    pub topic: Topic,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct InitialSpec {
    prompt: Spanned<String>,
    model: Spanned<String>,
}

/// The provider's transport behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderSpec {
    pub error: f64,
    pub timeout: f64,
    pub rate_limited: f64,
    pub latency_factor: f64,
}

impl Default for ProviderSpec {
    fn default() -> Self {
        Self {
            error: 0.004,
            timeout: 0.003,
            rate_limited: 0.0,
            latency_factor: 1.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventSpec {
    at: Spanned<String>,
    kind: Spanned<String>,
    version: Option<Spanned<String>>,
    snapshot: Option<Spanned<String>>,
    source: Option<Spanned<String>>,
    weight: Option<f64>,
    /// The share of traffic a prompt deploy or a new snapshot takes, for a canary.
    canary: Option<Spanned<f64>>,
    author: Option<String>,
    note: Option<String>,
    provider: Option<ProviderSpec>,
}

/// Something that happens to the simulated world at a scheduled time.
#[derive(Debug, Clone, PartialEq)]
pub enum WorldEvent {
    /// A prompt version is deployed, and a change record says so.
    DeployPrompt {
        version: usize,
        author: Option<String>,
        note: Option<String>,
        /// The share of calls on the new version; the rest stay on the previous one.
        canary: Option<f64>,
    },
    /// The provider starts serving another snapshot under the alias; nobody announces it.
    ServeSnapshot { model: usize, canary: Option<f64> },
    /// A traffic source's share changes (a new source starts at weight > 0).
    Traffic { source: usize, weight: f64 },
    /// The provider's transport behaviour changes.
    Provider(ProviderSpec),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledEvent {
    pub at: DateTime<Utc>,
    pub event: WorldEvent,
}

/// A validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub summary: String,
    /// The category the triage should name; `None` for a healthy stream.
    pub category: Option<Category>,
    pub start: DateTime<Utc>,
    pub calls_per_minute: f64,
    pub eval_coverage: f64,
    pub feedback_rate: f64,
    pub feature: FeatureSpec,
    pub prompts: Vec<PromptSpec>,
    pub models: Vec<ModelSpec>,
    pub sources: Vec<SourceSpec>,
    pub initial_prompt: usize,
    pub initial_model: usize,
    pub provider: ProviderSpec,
    pub events: Vec<ScheduledEvent>,
}

impl Scenario {
    /// A built-in scenario by name; `None` when no built-in has that name.
    pub fn builtin(name: &str) -> Option<Result<Self, ScenarioError>> {
        BUILTIN
            .iter()
            .find(|(builtin, _)| *builtin == name)
            .map(|(name, text)| Self::parse(&format!("built-in scenario {name}"), text))
    }

    /// The names of the built-in scenarios.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(name, _)| *name).collect()
    }

    pub fn parse(file: &str, text: &str) -> Result<Self, ScenarioError> {
        let raw: ScenarioFile = toml::from_str(text).map_err(|error| {
            let span = error.span();
            ScenarioError {
                file: file.to_string(),
                line: span.clone().map(|s| line_of(text, s.start)),
                field: span.map_or_else(|| "scenario".into(), |s| key_at(text, s)),
                message: error.message().to_string(),
            }
        })?;
        Validator { file, text }.validate(raw)
    }

    /// The share of traffic each source starts with.
    pub fn initial_weights(&self) -> Vec<f64> {
        self.sources.iter().map(|s| s.weight).collect()
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The key on the line where a span starts, or the table header there.
fn key_at(text: &str, span: Range<usize>) -> String {
    let start = text[..span.start.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("").trim();
    match line.split_once('=') {
        Some((key, _)) => key.trim().to_string(),
        None => line.trim_matches(['[', ']']).to_string(),
    }
}

struct Validator<'a> {
    file: &'a str,
    text: &'a str,
}

impl Validator<'_> {
    fn error(
        &self,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            line: (span.end > 0).then(|| line_of(self.text, span.start)),
            field: field.into(),
            message: message.into(),
        }
    }

    fn probability(&self, value: &Spanned<f64>, field: &str) -> Result<f64, ScenarioError> {
        let v = *value.get_ref();
        if (0.0..=1.0).contains(&v) {
            Ok(v)
        } else {
            Err(self.error(
                value.span(),
                field,
                format!("{v} is not a probability in 0..1"),
            ))
        }
    }

    fn index_of<T>(
        &self,
        items: &[T],
        name: &Spanned<String>,
        field: &str,
        key: impl Fn(&T) -> &str,
    ) -> Result<usize, ScenarioError> {
        items
            .iter()
            .position(|item| key(item) == name.get_ref())
            .ok_or_else(|| {
                let known: Vec<&str> = items.iter().map(&key).collect();
                self.error(
                    name.span(),
                    field,
                    format!(
                        "unknown name \"{}\" (declared: {})",
                        name.get_ref(),
                        known.join(", ")
                    ),
                )
            })
    }

    /// A canary share, when given, must be in (0, 1].
    fn canary(&self, event: &EventSpec) -> Result<Option<f64>, ScenarioError> {
        let Some(canary) = &event.canary else {
            return Ok(None);
        };
        let share = *canary.get_ref();
        if share > 0.0 && share <= 1.0 {
            Ok(Some(share))
        } else {
            Err(self.error(canary.span(), "canary", "must be above 0 and at most 1"))
        }
    }

    fn required<'s>(
        &self,
        value: &'s Option<Spanned<String>>,
        event: &EventSpec,
        field: &str,
    ) -> Result<&'s Spanned<String>, ScenarioError> {
        value.as_ref().ok_or_else(|| {
            self.error(
                event.kind.span(),
                field,
                format!("required for kind \"{}\"", event.kind.get_ref()),
            )
        })
    }

    /// Probabilities in 0..1, positive latencies and factors, non-negative weights.
    fn check_rates(&self, raw: &ScenarioFile) -> Result<(), ScenarioError> {
        let fail = |field: String, message: &str| Err(self.error(0..0, field, message.to_string()));
        let probability = |v: f64| (0.0..=1.0).contains(&v);
        for (i, p) in raw.prompts.iter().enumerate() {
            if !probability(p.hallucination) || !probability(p.refusal) {
                return fail(
                    format!("prompts[{i}]"),
                    "hallucination and refusal must be in 0..1",
                );
            }
        }
        for (i, m) in raw.models.iter().enumerate() {
            if !probability(m.schema_violation)
                || !(0.0..=20.0).contains(&m.hallucination_factor)
                || !(1.0..=600_000.0).contains(&m.latency_ms)
            {
                return fail(
                    format!("models[{i}]"),
                    "schema_violation in 0..1, hallucination_factor in 0..20, latency_ms in 1..600000",
                );
            }
        }
        for (i, source) in raw.sources.iter().enumerate() {
            if !(0.0..=1_000.0).contains(&source.weight) {
                return fail(format!("sources[{i}].weight"), "must be in 0..1000");
            }
        }
        let providers = std::iter::once(("provider".to_string(), raw.provider)).chain(
            raw.events
                .iter()
                .enumerate()
                .filter_map(|(i, e)| e.provider.map(|p| (format!("events[{i}].provider"), p))),
        );
        for (field, p) in providers {
            let total = p.error + p.timeout + p.rate_limited;
            if ![p.error, p.timeout, p.rate_limited]
                .iter()
                .all(|v| probability(*v))
                || total > 1.0
                || !(0.01..=100.0).contains(&p.latency_factor)
            {
                return fail(
                    field,
                    "error, timeout and rate_limited in 0..1 (together at most 1), latency_factor in 0.01..100",
                );
            }
        }
        if raw
            .events
            .iter()
            .any(|e| e.weight.is_some_and(|w| !(0.0..=1_000.0).contains(&w)))
        {
            return fail("events[].weight".into(), "must be in 0..1000");
        }
        Ok(())
    }

    fn validate(&self, raw: ScenarioFile) -> Result<Scenario, ScenarioError> {
        let category = match raw.category.get_ref().as_str() {
            "infrastructure" => Some(Category::Infrastructure),
            "model" => Some(Category::Model),
            "prompt" => Some(Category::Prompt),
            "data" => Some(Category::Data),
            "none" => None,
            other => {
                return Err(self.error(
                    raw.category.span(),
                    "category",
                    format!("\"{other}\" is not one of infrastructure, model, prompt, data, none"),
                ));
            }
        };
        let start = DateTime::parse_from_rfc3339(raw.start.get_ref())
            .map_err(|e| {
                self.error(
                    raw.start.span(),
                    "start",
                    format!("not an RFC 3339 time: {e}"),
                )
            })?
            .with_timezone(&Utc);
        let calls_per_minute = *raw.calls_per_minute.get_ref();
        if !(0.1..=10_000.0).contains(&calls_per_minute) {
            return Err(self.error(
                raw.calls_per_minute.span(),
                "calls_per_minute",
                "must be between 0.1 and 10000",
            ));
        }
        self.check_rates(&raw)?;
        for (list, field) in [
            (raw.prompts.is_empty(), "prompts"),
            (raw.models.is_empty(), "models"),
            (raw.sources.is_empty(), "sources"),
        ] {
            if list {
                return Err(self.error(0..0, field, "at least one is required"));
            }
        }
        let initial_prompt =
            self.index_of(&raw.prompts, &raw.initial.prompt, "initial.prompt", |p| {
                &p.version
            })?;
        let initial_model =
            self.index_of(&raw.models, &raw.initial.model, "initial.model", |m| {
                &m.snapshot
            })?;
        let mut events = Vec::with_capacity(raw.events.len());
        for (i, event) in raw.events.iter().enumerate() {
            let field = |name: &str| format!("events[{i}].{name}");
            let offset = parse_offset(event.at.get_ref()).ok_or_else(|| {
                self.error(
                    event.at.span(),
                    field("at"),
                    format!(
                        "\"{}\" is not an offset like \"35m\" or \"1h50m\" (at most 30 days)",
                        event.at.get_ref()
                    ),
                )
            })?;
            let world = match event.kind.get_ref().as_str() {
                "prompt_deploy" => {
                    let version = self.required(&event.version, event, &field("version"))?;
                    WorldEvent::DeployPrompt {
                        version: self
                            .index_of(&raw.prompts, version, &field("version"), |p| &p.version)?,
                        author: event.author.clone(),
                        note: event.note.clone(),
                        canary: self.canary(event)?,
                    }
                }
                "model_snapshot" => {
                    let snapshot = self.required(&event.snapshot, event, &field("snapshot"))?;
                    WorldEvent::ServeSnapshot {
                        model: self
                            .index_of(&raw.models, snapshot, &field("snapshot"), |m| &m.snapshot)?,
                        canary: self.canary(event)?,
                    }
                }
                "traffic" => {
                    let source = self.required(&event.source, event, &field("source"))?;
                    WorldEvent::Traffic {
                        source: self
                            .index_of(&raw.sources, source, &field("source"), |s| &s.name)?,
                        weight: event.weight.ok_or_else(|| {
                            self.error(
                                event.kind.span(),
                                field("weight"),
                                "required for kind \"traffic\"",
                            )
                        })?,
                    }
                }
                "provider" => WorldEvent::Provider(event.provider.ok_or_else(|| {
                    self.error(
                        event.kind.span(),
                        field("provider"),
                        "required for kind \"provider\"",
                    )
                })?),
                other => {
                    return Err(self.error(
                        event.kind.span(),
                        field("kind"),
                        format!(
                            "\"{other}\" is not one of prompt_deploy, model_snapshot, traffic, provider"
                        ),
                    ));
                }
            };
            events.push(ScheduledEvent {
                at: start + offset,
                event: world,
            });
        }
        events.sort_by_key(|e| e.at);
        Ok(Scenario {
            name: raw.name,
            summary: raw.summary,
            category,
            start,
            eval_coverage: self.probability(&raw.eval_coverage, "eval_coverage")?,
            feedback_rate: self.probability(&raw.feedback_rate, "feedback_rate")?,
            calls_per_minute,
            feature: raw.feature,
            prompts: raw.prompts,
            models: raw.models,
            sources: raw.sources,
            initial_prompt,
            initial_model,
            provider: raw.provider,
            events,
        })
    }
}

/// The latest a scenario event may be scheduled, after the start.
fn max_offset() -> Duration {
    Duration::days(30)
}

/// "35m", "1h50m", "90s", "2h" → a duration of at most 30 days.
pub fn parse_offset(text: &str) -> Option<Duration> {
    let mut total = Duration::zero();
    let mut digits = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().ok()?;
        digits.clear();
        let part = match c {
            'h' => Duration::try_hours(n)?,
            'm' => Duration::try_minutes(n)?,
            's' => Duration::try_seconds(n)?,
            _ => return None,
        };
        total = total.checked_add(&part)?;
        any = true;
    }
    (digits.is_empty() && any && total <= max_offset()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_builtin_scenario_parses() {
        for (name, text) in BUILTIN {
            let scenario = Scenario::parse(name, text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&scenario.name, name);
        }
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("35m"), Some(Duration::minutes(35)));
        assert_eq!(parse_offset("1h50m"), Some(Duration::minutes(110)));
        assert_eq!(parse_offset("90s"), Some(Duration::seconds(90)));
        assert_eq!(parse_offset("35"), None);
        assert_eq!(parse_offset("99999999999999h"), None);
        assert_eq!(parse_offset("31d"), None);
        assert_eq!(parse_offset("m"), None);
        assert_eq!(parse_offset(""), None);
    }

    fn default_text() -> &'static str {
        BUILTIN[0].1
    }

    #[test]
    fn an_unknown_key_names_the_file_line_and_field() {
        let text = default_text().replacen("calls_per_minute", "calls_per_minuet", 1);
        let error = Scenario::parse("bad.toml", &text).unwrap_err();
        let line = text
            .lines()
            .position(|l| l.starts_with("calls_per_minuet"))
            .unwrap()
            + 1;
        assert_eq!(error.file, "bad.toml");
        assert_eq!(error.line, Some(line));
        assert_eq!(error.field, "calls_per_minuet");
        assert!(error.message.contains("unknown field"), "{error}");
    }

    #[test]
    fn a_reference_to_an_undeclared_prompt_names_the_event_field() {
        let text = default_text();
        let at = text.rfind("version = \"v8\"").unwrap();
        let text = format!("{}version = \"v9\"{}", &text[..at], &text[at + 14..]);
        let error = Scenario::parse("bad.toml", &text).unwrap_err();
        assert_eq!(error.field, "events[0].version");
        assert!(error.message.contains("v9"), "{error}");
        let line = text.lines().position(|l| l.contains("\"v9\"")).unwrap() + 1;
        assert_eq!(error.line, Some(line));
    }

    #[test]
    fn out_of_range_numbers_are_errors_not_panics() {
        for (from, to, field) in [
            (
                "calls_per_minute = 30",
                "calls_per_minute = 1e-12",
                "calls_per_minute",
            ),
            ("hallucination = 0.04", "hallucination = 4", "prompts[0]"),
            ("at = \"35m\"", "at = \"99999999999h\"", "events[0].at"),
            ("latency_ms = 1100", "latency_ms = -5", "models[0]"),
        ] {
            let text = default_text().replacen(from, to, 1);
            let error = Scenario::parse("bad.toml", &text).unwrap_err();
            assert_eq!(error.field, field, "{error}");
        }
    }

    #[test]
    fn a_wrong_type_is_an_error_not_a_panic() {
        let text =
            default_text().replacen("calls_per_minute = 30", "calls_per_minute = \"many\"", 1);
        let error = Scenario::parse("bad.toml", &text).unwrap_err();
        assert_eq!(error.field, "calls_per_minute");
    }

    proptest! {
        #[test]
        fn parse_never_panics_on_arbitrary_text(text in "\\PC{0,400}") {
            let _ = Scenario::parse("fuzz.toml", &text);
        }

        #[test]
        fn parse_never_panics_on_a_mangled_scenario(cut in 0usize..3000, insert in "[a-z=\"\\[\\]\n 0-9.]{0,12}") {
            let text = default_text();
            let cut = cut.min(text.len());
            let cut = (0..=cut).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            let mangled = format!("{}{}{}", &text[..cut], insert, &text[cut..]);
            let _ = Scenario::parse("fuzz.toml", &mangled);
        }

        #[test]
        fn offsets_round_trip(h in 0i64..48, m in 0i64..60) {
            prop_assert_eq!(parse_offset(&format!("{h}h{m}m")), Some(Duration::minutes(h * 60 + m)));
        }
    }
}
