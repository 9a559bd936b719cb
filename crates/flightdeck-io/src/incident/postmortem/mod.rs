//! The postmortem of an incident: every section computed from its record (timeline, minute
//! samples, failing calls) into one data structure, which is the JSON export and what the
//! Markdown and HTML render. Pure apart from `load`.

pub mod chart;
pub mod findings;
pub mod html;
pub mod impact;
pub mod json;
pub mod load;
pub mod markdown;
pub mod page;
pub mod quality;
pub mod redaction;
pub mod response;
pub mod sections;
pub mod text;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{Category, EntryKind, Incident, NamedTime, Role, Severity, Status};
pub use findings::{ActionItem, Coverage, DetectionReview, ItemKind, RootCause, Summary};
pub use impact::Impact;
pub use load::{Record, RecordProblem};
pub use quality::{MetricReport, Point, Reading};
pub use redaction::Redaction;
pub use response::{Mitigation, Response, TimeAt, TimelineView, TriageStep};

/// What a reader of the JSON finds in `format`.
pub const FORMAT: &str = "flightdeck-postmortem";
/// The layout's version: 1 was the timeline-only export; 3 states the impact in every failed
/// call (`impact.metric` `failed`) and drops the starred-only timeline. A field removed or
/// changed in meaning bumps it, a field added does not.
pub const VERSION: u32 = 3;

/// How to build a postmortem.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The whole timeline instead of the starred (or key) entries.
    pub all_entries: bool,
    /// Masks the failing calls' inputs and outputs in full, request ids by all but the digit
    /// runs, and every other text by the configured patterns.
    pub redaction: Redaction,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Postmortem {
    pub format: &'static str,
    pub version: u32,
    pub header: Header,
    /// Lines of the record's files that could not be read, and were left out.
    pub record_problems: Vec<RecordProblem>,
    pub summary: Summary,
    /// None when no rate metric has counted calls in the impact window.
    pub impact: Option<Impact>,
    pub root_cause: RootCause,
    pub response: Response,
    pub metrics: Vec<MetricReport>,
    pub triage: Vec<TriageStep>,
    pub timeline: TimelineView,
    pub mitigations: Vec<Mitigation>,
    pub detection: DetectionReview,
    pub action_items: Vec<ActionItem>,
    pub examples: Examples,
    /// Moments the charts mark (the impact window is shaded, not marked).
    pub markers: Vec<Marker>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Header {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    pub root_cause: Option<Category>,
    pub roles: Vec<RoleHolder>,
    pub source: String,
    /// A drill's scenario: the record is a game day, not a production incident.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drill: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub times: Vec<TimeAt>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleHolder {
    pub role: Role,
    pub person: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Examples {
    /// The rule the inputs and outputs were masked with, in words.
    pub redaction: String,
    pub calls: Vec<Example>,
}

/// A failing call, its input and output masked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    pub at: DateTime<Utc>,
    pub request_id: Option<String>,
    pub feature: String,
    pub model: String,
    pub prompt_version: Option<String>,
    /// Metric keys it failed.
    pub failed: Vec<String>,
    pub input: Option<String>,
    pub output: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkerKind {
    Change,
    Detected,
    /// A mitigation applied.
    Mitigation,
    /// The incident marked mitigated.
    Mitigated,
    Resolved,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Marker {
    pub at: DateTime<Utc>,
    pub kind: MarkerKind,
    pub label: String,
}

impl Postmortem {
    pub fn build(record: &Record, options: &Options) -> Self {
        let Record {
            incident,
            entries,
            samples,
            examples,
            problems,
        } = record;
        // The metric the impact is stated in is chosen over the incident's span, since its run
        // above the warn limit is what places the window; every figure then reads the window.
        let over_span = quality::reports(
            incident,
            entries,
            samples,
            quality::incident_span(incident, samples),
        );
        let basis = impact::primary(incident, entries, &over_span);
        let window = impact::window(
            incident,
            samples,
            basis.as_ref().and_then(|b| b.lead(&over_span)),
        );
        let metrics = quality::reports(incident, entries, samples, window.span());
        let impact = basis
            .as_ref()
            .and_then(|basis| impact::impact(samples, basis, &metrics, &window));
        let triage = response::triage(incident, entries);
        let mitigations = response::mitigations(incident, entries);
        let summary = findings::summary(incident, entries, impact.as_ref(), &mitigations);
        let mut postmortem = Self {
            format: FORMAT,
            version: VERSION,
            header: header(incident),
            record_problems: problems.clone(),
            summary,
            root_cause: findings::root_cause(incident, entries, &triage),
            response: response::response(incident),
            timeline: response::timeline(incident, entries, options.all_entries),
            detection: findings::detection_review(incident, entries, &metrics),
            action_items: findings::action_items(
                incident,
                entries,
                &metrics,
                &triage,
                examples.len(),
            ),
            examples: Examples {
                redaction: options.redaction.describe(),
                calls: examples
                    .iter()
                    .map(|call| Example {
                        at: call.ts,
                        request_id: call
                            .request_id
                            .as_deref()
                            .map(|id| options.redaction.apply_to_id(id)),
                        feature: call.feature.clone(),
                        model: call.model.clone(),
                        prompt_version: call.prompt_version.clone(),
                        failed: call.failed.clone(),
                        input: call.input.as_deref().map(|t| options.redaction.apply(t)),
                        output: call.output.as_deref().map(|t| options.redaction.apply(t)),
                    })
                    .collect(),
            },
            markers: markers(incident, entries, &mitigations),
            impact,
            metrics,
            triage,
            mitigations,
        };
        postmortem.mask_texts(&options.redaction);
        postmortem
    }

    /// The configured patterns over every text that quotes the record (a customer's name can
    /// reach a triage's evidence or a note); the inputs and outputs were masked in full already.
    fn mask_texts(&mut self, rule: &Redaction) {
        let mask =
            |text: &mut String| *text = crate::redact::credentials(&rule.apply_configured(text));
        mask(&mut self.header.title);
        self.summary.written.iter_mut().for_each(mask);
        mask(&mut self.summary.generated);
        if let Some(prompt) = &mut self.root_cause.prompt_change {
            mask(&mut prompt.change);
            mask(&mut prompt.diff);
        }
        let triage = self
            .triage
            .iter_mut()
            .chain(self.root_cause.triage_suggests.iter_mut());
        triage.for_each(|step| mask(&mut step.evidence));
        for line in &mut self.timeline.entries {
            mask(&mut line.text);
            line.edited_from.iter_mut().for_each(mask);
        }
        for step in self.mitigations.iter_mut().flat_map(|m| m.steps.iter_mut()) {
            mask(&mut step.text);
        }
        self.detection.findings.iter_mut().for_each(mask);
        for item in &mut self.action_items {
            mask(&mut item.item);
            mask(&mut item.because);
        }
        self.markers.iter_mut().for_each(|m| mask(&mut m.label));
    }
}

fn header(incident: &Incident) -> Header {
    Header {
        id: incident.id.clone(),
        title: incident.title.clone(),
        severity: incident.severity,
        status: incident.status,
        root_cause: incident.root_cause,
        roles: incident
            .roles
            .iter()
            .map(|(role, holder)| RoleHolder {
                role: *role,
                person: holder.person.clone(),
                since: holder.since,
            })
            .collect(),
        source: incident.source.clone(),
        drill: incident.drill.clone(),
        opened_at: incident.opened_at,
        times: response::times(incident),
    }
}

fn markers(
    incident: &Incident,
    entries: &[crate::model::TimelineEntry],
    mitigations: &[Mitigation],
) -> Vec<Marker> {
    let named = |time: NamedTime, kind: MarkerKind| {
        incident.time(time).map(|at| Marker {
            at,
            kind,
            label: time.to_string(),
        })
    };
    let applied: Vec<Marker> = mitigations
        .iter()
        .filter_map(|m| {
            let failed = if m.failed() { " (failed)" } else { "" };
            Some(Marker {
                at: m.applied_at?,
                kind: MarkerKind::Mitigation,
                label: format!("{}{failed}", m.action),
            })
        })
        .collect();
    // A mitigation's own change (the rollback flightdeck made, seen by the change feed within
    // the minute after) says nothing its marker does not, and would crowd the labels.
    let own_change = |change: &str, at: DateTime<Utc>| {
        change.contains(OWN_CHANGE)
            && applied
                .iter()
                .any(|m| at >= m.at && at <= m.at + chrono::Duration::seconds(60))
    };
    let changes = entries.iter().filter_map(|e| match &e.kind {
        EntryKind::ChangeSeen { change, at, .. } => {
            let at = at.unwrap_or(e.ts);
            (!own_change(change, at)).then(|| Marker {
                at,
                kind: MarkerKind::Change,
                label: short_change(change),
            })
        }
        _ => None,
    });
    let mut all: Vec<Marker> = [
        named(NamedTime::Detected, MarkerKind::Detected),
        named(NamedTime::Mitigated, MarkerKind::Mitigated),
        named(NamedTime::Resolved, MarkerKind::Resolved),
    ]
    .into_iter()
    .flatten()
    .chain(changes)
    .collect();
    all.extend(applied.iter().cloned());
    all.sort_by_key(|m| m.at);
    all
}

/// How the change feed names flightdeck as the author of the changes it made itself.
const OWN_CHANGE: &str = "by flightdeck";

/// A change as a chart label: "prompt support-answer v7 → v8 by dana.m at 14:15:00 UTC" reads
/// "prompt v7 → v8", since the line shows when and labels have little room.
fn short_change(change: &str) -> String {
    let what = change.split(" by ").next().unwrap_or(change);
    let words: Vec<&str> = what.split_whitespace().collect();
    match words.as_slice() {
        [kind, _target, rest @ ..] if rest.contains(&"→") => {
            format!("{kind} {}", rest.join(" "))
        }
        _ => what.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_label_keeps_its_kind_and_versions() {
        assert_eq!(
            short_change("prompt support-answer v7 → v8 by dana.m at 14:15:00 UTC"),
            "prompt v7 → v8"
        );
        assert_eq!(short_change("flag support-ai on"), "flag support-ai on");
    }

    #[test]
    fn a_change_marks_its_own_time_and_a_mitigation_stands_for_its_own_change_only() {
        let at = |text: &str| -> DateTime<Utc> { text.parse().unwrap() };
        let entry = |seq, ts: &str, kind| crate::model::TimelineEntry {
            seq,
            ts: at(ts),
            recorded_at: at(ts),
            actor: "flightdeck".into(),
            kind,
            text: String::new(),
            metrics: Default::default(),
        };
        let entries = vec![
            entry(
                1,
                "2026-03-14T14:17:00Z",
                EntryKind::Opened {
                    id: "INC-1".into(),
                    title: "t".into(),
                    severity: crate::model::Severity::Sev2,
                    source: "demo".into(),
                    drill: None,
                },
            ),
            entry(
                2,
                "2026-03-14T14:17:00Z",
                EntryKind::ChangeSeen {
                    change: "prompt support-answer v7 → v8 by dana.m at 14:15:00 UTC".into(),
                    at: Some(at("2026-03-14T14:15:00Z")),
                    diff: None,
                },
            ),
            entry(
                3,
                "2026-03-14T14:22:00Z",
                EntryKind::ChangeSeen {
                    change: "prompt support-answer v8 → v7 by flightdeck at 14:22:00 UTC".into(),
                    at: Some(at("2026-03-14T14:22:00Z")),
                    diff: None,
                },
            ),
            entry(
                4,
                "2026-03-14T14:22:00Z",
                EntryKind::ActionApplied {
                    action: "prompt rollback".into(),
                    backend: "simulator".into(),
                },
            ),
            entry(
                5,
                "2026-03-14T14:22:40Z",
                EntryKind::ChangeSeen {
                    change: "model support-answer gpt-4o → gpt-4o-mini by dana.m at 14:22:30 UTC"
                        .into(),
                    at: Some(at("2026-03-14T14:22:30Z")),
                    diff: None,
                },
            ),
        ];
        let incident = Incident::from_timeline(&entries).unwrap();
        let mitigations = response::mitigations(&incident, &entries);
        let shown: Vec<(MarkerKind, DateTime<Utc>)> = markers(&incident, &entries, &mitigations)
            .into_iter()
            .map(|m| (m.kind, m.at))
            .collect();
        assert_eq!(
            shown,
            [
                (MarkerKind::Change, at("2026-03-14T14:15:00Z")),
                (MarkerKind::Detected, at("2026-03-14T14:17:00Z")),
                (MarkerKind::Mitigation, at("2026-03-14T14:22:00Z")),
                (MarkerKind::Change, at("2026-03-14T14:22:30Z")),
            ]
        );
    }
}
