//! Exports of an incident's timeline: Markdown for people, JSON for tools.

use serde::Serialize;

use crate::model::{Incident, TimelineEntry};

/// The version of the JSON export's layout.
pub const EXPORT_VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonExport<'a> {
    version: u32,
    incident: &'a Incident,
    timeline: &'a [TimelineEntry],
}

pub fn to_json(incident: &Incident, timeline: &[TimelineEntry]) -> String {
    serde_json::to_string_pretty(&JsonExport {
        version: EXPORT_VERSION,
        incident,
        timeline,
    })
    .expect("incidents always serialize")
}

fn utc(ts: chrono::DateTime<chrono::Utc>) -> String {
    ts.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Markdown: a summary table and the whole timeline, oldest first, with full UTC dates.
pub fn to_markdown(incident: &Incident, timeline: &[TimelineEntry]) -> String {
    let mut out = format!("# {}: {}\n\n", incident.id, incident.title);
    out.push_str("| field | value |\n|---|---|\n");
    for (field, value) in [
        ("severity", incident.severity.to_string()),
        ("status", incident.status.to_string()),
        ("source", incident.source.clone()),
        ("opened", utc(incident.opened_at)),
        (
            "mitigated",
            incident.mitigated_at.map(utc).unwrap_or("—".into()),
        ),
        (
            "resolved",
            incident.resolved_at.map(utc).unwrap_or("—".into()),
        ),
    ] {
        out.push_str(&format!("| {field} | {value} |\n"));
    }
    out.push_str("\n## Timeline\n\nAll times UTC.\n\n| # | time | actor | kind | what |\n|---|---|---|---|---|\n");
    for e in timeline {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            e.seq,
            utc(e.ts),
            e.actor,
            e.kind.label(),
            e.text.replace('|', "\\|").replace('\n', "<br>")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EntryKind, Severity};

    fn timeline() -> Vec<TimelineEntry> {
        let entry = |seq, kind, text: &str| TimelineEntry {
            seq,
            ts: "2026-03-14T14:17:00Z".parse().unwrap(),
            recorded_at: "2026-11-28T12:00:00Z".parse().unwrap(),
            actor: "flightdeck".into(),
            kind,
            text: text.into(),
            metrics: Default::default(),
        };
        vec![
            entry(
                1,
                EntryKind::Opened {
                    id: "INC-1".into(),
                    title: "Hallucination critical".into(),
                    severity: Severity::Sev2,
                    source: "demo".into(),
                },
                "SEV2 opened",
            ),
            entry(2, EntryKind::Note, "a | pipe\nand a line"),
        ]
    }

    #[test]
    fn markdown_has_every_entry_with_full_utc_dates() {
        let entries = timeline();
        let incident = Incident::from_timeline(&entries).unwrap();
        let md = to_markdown(&incident, &entries);
        assert!(md.starts_with("# INC-1: Hallucination critical"));
        assert!(md.contains(
            "| 2 | 2026-03-14 14:17:00 UTC | flightdeck | note | a \\| pipe<br>and a line |"
        ));
    }

    #[test]
    fn json_carries_a_version_and_the_timeline() {
        let entries = timeline();
        let incident = Incident::from_timeline(&entries).unwrap();
        let json: serde_json::Value = serde_json::from_str(&to_json(&incident, &entries)).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["timeline"].as_array().unwrap().len(), 2);
        assert_eq!(json["incident"]["id"], "INC-1");
    }
}
