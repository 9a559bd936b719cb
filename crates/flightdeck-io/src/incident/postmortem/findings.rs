//! What the record lets a postmortem conclude: a factual summary, the root cause or what triage
//! pointed at, why the failure was not caught sooner, and the action items that follow.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;

use super::impact::Impact;
use super::quality::MetricReport;
use super::response::{Mitigation, TriageStep};
use super::text;
use crate::engine::metrics::MetricId;
use crate::model::{Category, EntryKind, Incident, Role, TimelineEntry};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The responders' summary; None until someone writes one.
    pub written: Option<String>,
    /// One factual sentence built from the record, always present.
    pub generated: String,
}

/// The first change seen by the time of detection: the one the incident followed.
pub fn first_change(incident: &Incident, entries: &[TimelineEntry]) -> Option<String> {
    let detected = incident.detected_at.unwrap_or(incident.opened_at);
    entries.iter().find_map(|e| match &e.kind {
        EntryKind::ChangeSeen { change, .. } if e.ts <= detected => Some(change.clone()),
        _ => None,
    })
}

pub fn summary(
    incident: &Incident,
    entries: &[TimelineEntry],
    impact: Option<&Impact>,
    mitigations: &[Mitigation],
) -> Summary {
    let change = first_change(incident, entries)
        .map(|c| format!("After the change \"{c}\", "))
        .unwrap_or_default();
    let what = match impact {
        Some(impact) => format!(
            "the share of {} that {} rose from a {} baseline to {} over the impact window{}",
            impact.noun,
            impact.what,
            impact.baseline_rate.map_or("unknown".into(), text::percent),
            text::percent(impact.rate),
            impact
                .worst
                .map(|worst| format!(
                    " ({} in the worst minute, {} UTC)",
                    text::percent(worst.rate),
                    text::hm(worst.minute)
                ))
                .unwrap_or_default(),
        ),
        _ => format!(
            "{} was opened at {} from {}",
            incident.id,
            text::utc(incident.opened_at),
            incident.source
        ),
    };
    let applied: Vec<(&Mitigation, DateTime<Utc>)> = mitigations
        .iter()
        .filter_map(|m| Some((m, m.applied_at?)))
        .collect();
    let mut after: Vec<String> = applied
        .iter()
        .filter(|(m, _)| m.failed())
        .map(|(m, at)| format!("a {} failed at {} UTC", m.action, text::hm(*at)))
        .collect();
    // The one that recovered the metrics is the one that mitigated; else any that did not fail.
    let mitigated_by = applied
        .iter()
        .find(|(m, _)| m.recovered == Some(true))
        .or_else(|| applied.iter().find(|(m, _)| !m.failed()));
    if let Some((m, at)) = mitigated_by {
        after.push(format!(
            "a {} was applied at {} UTC",
            m.action,
            text::hm(*at)
        ));
    }
    after.push(match (incident.mitigated_at, incident.resolved_at) {
        (Some(m), Some(r)) => format!(
            "the incident was mitigated at {} and resolved at {} UTC on {}",
            text::hm(m),
            text::hm(r),
            r.format("%Y-%m-%d")
        ),
        (Some(m), None) => format!(
            "the incident was mitigated at {} and is not resolved",
            text::utc(m)
        ),
        (None, Some(r)) => format!("the incident was resolved at {}", text::utc(r)),
        (None, None) => format!("the incident is {} and not yet mitigated", incident.status),
    });
    let mut sentence = format!("{change}{what}; {}.", after.join(", and "));
    if let Some(first) = sentence.get(..1) {
        sentence.replace_range(..1, &first.to_uppercase());
    }
    Summary {
        written: Some(incident.summary.trim().to_string()).filter(|s| !s.is_empty()),
        generated: sentence,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RootCause {
    pub category: Option<Category>,
    /// Who owns a fix in this category, and what the fix usually is.
    pub owner: Option<String>,
    /// When the category is unset: the triage steps that ended likely or suspect, likely first.
    pub triage_suggests: Vec<TriageStep>,
    /// When the cause is (or the triage suggests) the prompt: the change that led to the
    /// incident, with its word diff.
    pub prompt_change: Option<PromptChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptChange {
    pub change: String,
    /// `[-removed-] {+added+}`, as `git diff --word-diff` writes it.
    pub diff: String,
}

pub fn owner_hint(category: Category) -> &'static str {
    match category {
        Category::Prompt => {
            "owned by the prompt's authors; the fix is a corrected prompt version, evaluated before it ships"
        }
        Category::Model => {
            "owned by whoever chooses the model and its version; the fix is an evaluated, pinned model snapshot"
        }
        Category::Data => {
            "owned by the feature's team and the data's producers; the fix handles the new inputs or restores the retrieved data"
        }
        Category::Infrastructure => {
            "owned by the platform team or the provider; the fix restores capacity, quota or the failing dependency"
        }
    }
}

pub fn root_cause(
    incident: &Incident,
    entries: &[TimelineEntry],
    triage: &[TriageStep],
) -> RootCause {
    let mut last_per_step: Vec<TriageStep> = Vec::new();
    for step in triage {
        last_per_step.retain(|s| s.category != step.category);
        last_per_step.push(step.clone());
    }
    let rank = |verdict: &str| match verdict {
        "likely" => Some(0),
        "suspect" => Some(1),
        _ => None,
    };
    last_per_step.retain(|s| rank(&s.verdict).is_some());
    last_per_step.sort_by_key(|s| rank(&s.verdict));
    let about_prompt = match incident.root_cause {
        Some(category) => category == Category::Prompt,
        None => last_per_step
            .iter()
            .any(|s| s.category == Category::Prompt.key()),
    };
    // The last prompt change before detection is the one the incident followed.
    let detected = incident.detected_at.unwrap_or(incident.opened_at);
    let prompt_change = entries
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::ChangeSeen {
                change,
                at,
                diff: Some(diff),
            } if at.unwrap_or(e.ts) <= detected => Some(PromptChange {
                change: change.clone(),
                diff: diff.clone(),
            }),
            _ => None,
        })
        .next_back()
        .filter(|_| about_prompt);
    RootCause {
        prompt_change,
        category: incident.root_cause,
        owner: incident.root_cause.map(|c| owner_hint(c).to_string()),
        triage_suggests: if incident.root_cause.is_some() {
            Vec::new()
        } else {
            last_per_step
        },
    }
}

/// Per quality metric: could anything have judged it, and did it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    pub metric: String,
    pub label: String,
    pub baseline_since: Option<DateTime<Utc>>,
    pub evaluated: u64,
    pub calls: u64,
    pub coverage: Option<f64>,
    pub alarmed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectionReview {
    pub metrics: Vec<Coverage>,
    /// Sentences derived from the record.
    pub findings: Vec<String>,
}

pub fn detection_review(
    incident: &Incident,
    entries: &[TimelineEntry],
    reports: &[MetricReport],
) -> DetectionReview {
    let metrics: Vec<Coverage> = reports
        .iter()
        .filter(|r| r.quality)
        .map(|r| Coverage {
            metric: r.key.clone(),
            label: r.label.clone(),
            baseline_since: r.baseline_since,
            evaluated: r.evaluated,
            calls: r.calls,
            coverage: r.coverage,
            alarmed: r.alarmed,
        })
        .collect();
    let mut findings = Vec::new();
    let first = entries
        .iter()
        .find(|e| matches!(&e.kind, EntryKind::Detection { state, .. } if state != "ok"));
    match (first, incident.impact_start) {
        (Some(entry), Some(start)) => findings.push(format!(
            "Detection came from flightdeck's detector ({}) at {}, {} after the impact start ({}).",
            incident.text_of(entry),
            text::utc(entry.ts),
            crate::model::elapsed::spoken(entry.ts - start),
            text::utc(start)
        )),
        (Some(entry), None) => findings.push(format!(
            "Detection came from flightdeck's detector ({}) at {}; no impact start was recorded, so the delay is unknown.",
            incident.text_of(entry),
            text::utc(entry.ts)
        )),
        (None, _) => findings.push(
            "No detector alarm is in the record: the incident was opened by hand.".to_string(),
        ),
    }
    findings.push(
        "No alert from outside flightdeck is in the record. flightdeck cannot see other alerting, so whether one existed and fired belongs here if it did."
            .to_string(),
    );
    for m in &metrics {
        if m.baseline_since.is_none() {
            findings.push(format!(
                "{} had no baseline: no recorded minute carried one, so no detector could judge a rise.",
                m.label
            ));
        }
        if let Some(share) = m.coverage.filter(|c| *c < 0.5) {
            let (who, unseen) = if m.metric == MetricId::Feedback.key() {
                (
                    "Users rated".to_string(),
                    "most answers had no user's verdict",
                )
            } else {
                (
                    format!("The {} evaluator judged", m.label.to_lowercase()),
                    "most failures of this kind could not be seen",
                )
            };
            findings.push(format!(
                "{who} only {} of calls ({} of {}): {unseen}.",
                text::percent(share),
                text::count(m.evaluated),
                text::count(m.calls)
            ));
        }
    }
    if incident.root_cause == Some(Category::Prompt) {
        let change = first_change(incident, entries)
            .map(|c| format!(" (\"{c}\")"))
            .unwrap_or_default();
        findings.push(format!(
            "Whether an evaluation in CI covered the changed prompt{change} is unknown: no evaluation results were received. Its failures were first measured on live traffic."
        ));
    }
    DetectionReview { metrics, findings }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// Finds the next one sooner.
    Detective,
    /// Stops it happening again.
    Preventive,
    /// Repairs what this one left behind.
    Corrective,
}

impl ItemKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Detective => "detective",
            Self::Preventive => "preventive",
            Self::Corrective => "corrective",
        }
    }

    fn days(self) -> u64 {
        match self {
            Self::Detective | Self::Corrective => 7,
            Self::Preventive => 30,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionItem {
    pub owner: String,
    pub kind: ItemKind,
    pub due: NaiveDate,
    pub item: String,
    /// What in the record suggested it.
    pub because: String,
}

pub fn action_items(
    incident: &Incident,
    entries: &[TimelineEntry],
    reports: &[MetricReport],
    triage: &[TriageStep],
    examples: usize,
) -> Vec<ActionItem> {
    let holder = |role: Role| incident.roles.get(&role).map(|h| h.person.clone());
    let commander = holder(Role::Commander).unwrap_or_else(|| "unassigned".into());
    let operations = holder(Role::Operations).unwrap_or_else(|| commander.clone());
    let ended = incident
        .resolved_at
        .or(entries.last().map(|e| e.ts))
        .unwrap_or(incident.opened_at)
        .date_naive();
    let item = |kind: ItemKind, item: String, because: String| ActionItem {
        owner: match kind {
            ItemKind::Corrective => operations.clone(),
            _ => commander.clone(),
        },
        kind,
        due: ended + Days::new(kind.days()),
        item,
        because,
    };
    let cause = incident.root_cause;
    let mut items = Vec::new();
    for r in reports.iter().filter(|r| r.quality && r.alarmed) {
        let direction = if r.good_share {
            "drop below"
        } else {
            "rise over"
        };
        let baseline = r
            .baseline
            .map(|b| format!(" {} baseline", text::percent(b)))
            .unwrap_or(" baseline".into());
        items.push(item(
            ItemKind::Detective,
            format!(
                "Alert on {} at a 5-point {direction} its{baseline}",
                r.label
            ),
            format!("{} alarmed in flightdeck during the incident", r.label),
        ));
    }
    // Failed calls are one alert, whichever way they failed.
    let failures: Vec<&MetricReport> = reports
        .iter()
        .filter(|r| r.alarmed && FAILURE_KEYS.contains(&r.key.as_str()))
        .collect();
    if !failures.is_empty() {
        let baseline: f64 = failures.iter().filter_map(|r| r.baseline).sum();
        let labels: Vec<&str> = failures.iter().map(|r| r.label.as_str()).collect();
        items.push(item(
            ItemKind::Detective,
            format!(
                "Alert on failed calls (errors, timeouts and rate limits together) at a 5-point rise over their {} baseline",
                text::percent(baseline)
            ),
            format!(
                "{} alarmed in flightdeck during the incident",
                labels.join(", ")
            ),
        ));
    }
    let infrastructure_likely = triage
        .iter()
        .any(|t| t.category == Category::Infrastructure.key() && t.verdict == "likely");
    if cause == Some(Category::Infrastructure) || (cause.is_none() && infrastructure_likely) {
        items.push(item(
            ItemKind::Preventive,
            "Quota and capacity headroom with the provider, and retries with backoff or a second provider for the feature".into(),
            if cause.is_some() {
                "root cause: infrastructure".into()
            } else {
                "the triage found infrastructure likely".into()
            },
        ));
    }
    let changes: Vec<&str> = entries
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::ChangeSeen { change, .. } => Some(change.as_str()),
            _ => None,
        })
        .collect();
    let seen = |kind: &str| changes.iter().find(|c| c.starts_with(kind)).copied();
    if cause == Some(Category::Prompt) || seen("prompt ").is_some() {
        items.push(item(
            ItemKind::Preventive,
            "Semantic-similarity and hallucination check in CI for prompt changes".into(),
            because(cause, Category::Prompt, seen("prompt ")),
        ));
    }
    if cause == Some(Category::Model) || seen("model ").is_some() {
        items.push(item(
            ItemKind::Preventive,
            "Pin the model alias to a dated snapshot".into(),
            because(cause, Category::Model, seen("model ")),
        ));
    }
    let drift = reports.iter().any(|r| r.key == "input_drift" && r.alarmed);
    let data_likely = triage
        .iter()
        .any(|t| t.category == Category::Data.key() && t.verdict == "likely");
    if cause == Some(Category::Data) || drift || data_likely {
        items.push(item(
            ItemKind::Preventive,
            "Add input-drift monitoring and handle the new kinds of input".into(),
            if cause == Some(Category::Data) {
                "root cause: data".into()
            } else {
                "the inputs drifted during the incident".into()
            },
        ));
    }
    if examples > 0 {
        items.push(item(
            ItemKind::Corrective,
            format!("Add the {examples} failing calls below to the evaluation set"),
            "failing calls kept in the record".into(),
        ));
    }
    items
}

/// The metrics that count failed calls: a call fails one of these ways at most.
const FAILURE_KEYS: [&str; 3] = ["error_rate", "timeout_rate", "rate_limited_rate"];

fn because(cause: Option<Category>, category: Category, change: Option<&str>) -> String {
    match change {
        Some(change) if cause == Some(category) => {
            format!("root cause: {}; change seen: {change}", category.key())
        }
        Some(change) => format!("change seen: {change}"),
        None => format!("root cause: {}", category.key()),
    }
}
