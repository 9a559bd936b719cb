//! The postmortem export of the fixed-seed prompt regression: golden Markdown, JSON and HTML, the
//! impact's numbers against the samples on disk, and the command line that writes it.

mod support;

use std::io::Write as _;
use std::process::Command;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use flightdeck::incident::postmortem::redaction::RedactionConfig;
use flightdeck::incident::postmortem::{
    Options, Postmortem, Record, Redaction, html, json, load, markdown,
};
use flightdeck::incident::store::{self, TimelineStore};
use flightdeck::model::{
    Category, EntryKind, FailingCall, Incident, MetricMinute, MinuteSample, NamedTime, Outcome,
    Role, Severity, Status, TimelineEntry,
};
use support::Harness;

/// The prompt regression handled in the cockpit: detected, rolled back, verified, resolved.
fn handled() -> (Harness, String) {
    let mut h = Harness::new("prompt-regression");
    h.handle_prompt_incident();
    let id = h.app.incident.as_ref().unwrap().id.clone();
    (h, id)
}

/// The same record after the responders' follow-up: a root cause, an operations lead, a summary, three
/// starred entries (one starred then unstarred) and an edited entry.
fn followed_up() -> (Harness, String) {
    let (h, id) = handled();
    let entries = store::load(h.data_dir(), &id).unwrap().entries;
    let last = entries.last().unwrap();
    let (mut seq, mut ts) = (last.seq, last.ts);
    let first =
        |matches: fn(&EntryKind) -> bool| entries.iter().find(|e| matches(&e.kind)).unwrap();
    let change = first(|k| matches!(k, EntryKind::ChangeSeen { .. })).seq;
    let detection = first(|k| matches!(k, EntryKind::Detection { .. })).seq;
    let applied = first(|k| matches!(k, EntryKind::ActionApplied { .. }));
    let verified = first(|k| matches!(k, EntryKind::Verification { .. })).seq;
    let kinds = [
        (
            EntryKind::RootCauseSet {
                from: None,
                to: Category::Prompt,
            },
            "root cause: prompt",
        ),
        (
            EntryKind::RoleAssigned {
                role: Role::Operations,
                person: "sam".into(),
            },
            "operations: sam",
        ),
        (
            EntryKind::SummaryChanged {
                from: String::new(),
                to: "Prompt v8 of support-answer dropped the instruction to answer only from the \
                     retrieved order and policy data; about one answer in eight invented details \
                     until the rollback to v7."
                    .into(),
            },
            "summary written",
        ),
        (
            EntryKind::Starred {
                seq: change,
                starred: true,
            },
            "starred the change",
        ),
        (
            EntryKind::Starred {
                seq: detection,
                starred: true,
            },
            "starred the detection",
        ),
        (
            EntryKind::Starred {
                seq: detection,
                starred: false,
            },
            "unstarred the detection",
        ),
        (
            EntryKind::Starred {
                seq: applied.seq,
                starred: true,
            },
            "starred the rollback",
        ),
        (
            EntryKind::Starred {
                seq: verified,
                starred: true,
            },
            "starred the verification",
        ),
        (
            EntryKind::EntryEdited {
                seq: applied.seq,
                from: applied.text.clone(),
                to: "prompt rollback applied by simulator: live prompt back on v7".into(),
            },
            "edited the rollback's entry",
        ),
    ];
    let mut timeline = TimelineStore::open(h.data_dir(), &id).unwrap();
    for (kind, text) in kinds {
        seq += 1;
        ts += Duration::minutes(1);
        timeline.append(&entry(seq, ts, kind, text)).unwrap();
    }
    (h, id)
}

fn entry(seq: u64, ts: DateTime<Utc>, kind: EntryKind, text: &str) -> TimelineEntry {
    TimelineEntry {
        seq,
        ts,
        recorded_at: ts,
        actor: "oncall".into(),
        kind,
        text: text.into(),
        metrics: Default::default(),
    }
}

fn postmortem(h: &Harness, id: &str, all_entries: bool) -> Postmortem {
    let record = load::load(h.data_dir(), id).unwrap();
    assert!(record.problems.is_empty(), "{:?}", record.problems);
    Postmortem::build(
        &record,
        &Options {
            all_entries,
            ..Options::default()
        },
    )
}

#[test]
fn the_handled_incident_exports_golden_markdown_json_and_html() {
    let (h, id) = handled();
    let pm = postmortem(&h, &id, false);
    insta::assert_snapshot!("prompt_regression_md", markdown::render(&pm));
    insta::assert_snapshot!("prompt_regression_json", json::render(&pm));
    insta::assert_snapshot!("prompt_regression_html", html::render(&pm));
}

#[test]
fn the_followed_up_incident_exports_its_cause_roles_summary_and_stars() {
    let (h, id) = followed_up();
    let md = markdown::render(&postmortem(&h, &id, false));
    insta::assert_snapshot!("followed_up_starred_md", md);
    assert!(md.contains("| root cause | Prompt |"), "{md}");
    assert!(md.contains("| incident commander | oncall (since "), "{md}");
    assert!(md.contains("| operations | sam (since "), "{md}");
    assert!(md.contains("| sam | corrective | "), "{md}");
    assert!(md.contains("| oncall | preventive | "), "{md}");
    assert!(md.contains("and every starred one;"), "{md}");
    assert_eq!(md.matches("| ★ ").count(), 3, "{md}");
    assert!(
        md.contains("(edited; was: prompt rollback applied by simulator"),
        "{md}"
    );
    assert!(!md.contains("NOT SET"), "{md}");
    assert!(
        md.contains("Whether an evaluation in CI covered the changed prompt (\"prompt support-answer v7 → v8 by dana.m at 14:15:00 UTC\") is unknown: no evaluation results were received."),
        "{md}"
    );

    let all = markdown::render(&postmortem(&h, &id, true));
    insta::assert_snapshot!("followed_up_all_md", all);
    let rows = all.lines().filter(|l| l.starts_with("| ")).count();
    let total = store::load(h.data_dir(), &id).unwrap().entries.len();
    assert!(all.contains(&format!("All {total} entries.")), "{all}");
    assert!(rows > md.lines().filter(|l| l.starts_with("| ")).count());
}

#[test]
fn without_a_root_cause_the_export_says_it_is_not_set_and_what_triage_found() {
    let (h, id) = handled();
    let md = markdown::render(&postmortem(&h, &id, false));
    assert!(
        md.contains("**Root cause category NOT SET — a postmortem must commit to one of model / prompt / data / infrastructure.**"),
        "{md}"
    );
    assert!(md.contains("- Prompt: likely ("), "{md}");
    assert!(md.contains("| root cause | NOT SET |"), "{md}");
}

#[test]
fn the_impact_rate_is_the_failing_calls_over_the_checked_calls_in_the_window() {
    let (h, id) = handled();
    let pm = postmortem(&h, &id, false);
    let impact = pm.impact.as_ref().expect("an impact");
    assert_eq!(impact.metric, "hallucination_rate");
    let path = store::incident_dir(h.data_dir(), &id).join(store::SAMPLES_FILE);
    let (mut bad, mut of) = (0, 0);
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let sample: MinuteSample = serde_json::from_str(line).unwrap();
        let overlaps =
            sample.minute + Duration::minutes(1) > impact.start && sample.minute < impact.end;
        if let (true, Some(m)) = (overlaps, sample.metrics.get("hallucination_rate")) {
            bad += m.bad.unwrap();
            of += m.of.unwrap();
        }
    }
    assert_eq!((impact.bad, impact.of), (bad, of));
    let rate = bad as f64 / of as f64;
    assert!((impact.rate - rate).abs() < 1e-12);
    let expected = format!(
        "{:.1}% of requests ({bad} of {of} checked calls)",
        rate * 100.0
    );
    assert!(
        impact.sentence.starts_with(&expected),
        "{}",
        impact.sentence
    );
    assert!(
        impact.sentence.contains("not every request"),
        "{}",
        impact.sentence
    );
    let record = load::load(h.data_dir(), &id).unwrap();
    assert_eq!(impact.start, record.incident.impact_start.unwrap());
    assert_eq!(impact.end, record.incident.mitigated_at.unwrap());
}

fn flightdeck(args: &[&str], data_dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args(args)
        .env("FLIGHTDECK_DATA_DIR", data_dir)
        .env_remove("FLIGHTDECK_CONFIG")
        .current_dir(data_dir)
        .output()
        .unwrap()
}

#[test]
fn the_command_writes_a_self_contained_html_file() {
    let (h, _) = handled();
    let out = h.data_dir().join("postmortem.html");
    let run = flightdeck(
        &[
            "export",
            "latest",
            "--format",
            "html",
            "-o",
            out.to_str().unwrap(),
        ],
        h.data_dir(),
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let page = std::fs::read_to_string(&out).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<svg"), "a chart per metric");
    for forbidden in ["http://", "https://", "<script"] {
        assert!(!page.contains(forbidden), "the page has {forbidden}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(h.data_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_bad_line_is_warned_about_by_file_and_line_and_noted_in_the_export() {
    let (h, id) = handled();
    let samples = store::incident_dir(h.data_dir(), &id).join(store::SAMPLES_FILE);
    let lines = std::fs::read_to_string(&samples).unwrap().lines().count();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&samples)
        .unwrap();
    file.write_all(b"{\"minute\":\"2026-03\n").unwrap();
    let run = flightdeck(&["export", &id, "--format", "md"], h.data_dir());
    assert!(run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains(&format!("samples.jsonl: line {} skipped", lines + 1)),
        "{stderr}"
    );
    let md = String::from_utf8_lossy(&run.stdout);
    assert!(md.contains("**Record problems:** 1 line(s)"), "{md}");
    assert!(
        md.contains(&format!("- samples.jsonl line {}: ", lines + 1)),
        "{md}"
    );
}

#[test]
fn a_bad_redaction_pattern_in_the_config_exits_2_naming_it() {
    let (h, _) = handled();
    let config = h.data_dir().join("team.toml");
    std::fs::write(&config, "[postmortem]\nredact = [\"order (#\"]\n").unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "export",
            "--format",
            "md",
        ])
        .env("FLIGHTDECK_DATA_DIR", h.data_dir())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("[postmortem] redact") && stderr.contains("order (#"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "the config file {} is not valid",
            config.display()
        )),
        "{stderr}"
    );
}

/// 14:MM:SS on the day of the hand-built records below.
fn at(time: &str) -> DateTime<Utc> {
    format!("2026-03-14T{time}Z").parse().unwrap()
}

fn logged(seq: u64, time: &str, actor: &str, kind: EntryKind, text: &str) -> TimelineEntry {
    TimelineEntry {
        actor: actor.into(),
        ..entry(seq, at(time), kind, text)
    }
}

fn opened(time: &str) -> TimelineEntry {
    let kind = EntryKind::Opened {
        id: "INC-1".into(),
        title: "Hallucination critical".into(),
        severity: Severity::Sev2,
        source: "test".into(),
        drill: None,
    };
    logged(1, time, "flightdeck", kind, "opened")
}

/// One minute per `(minute, bad)`: 20 calls checked for hallucination, `bad` of them failing,
/// against a 5% baseline.
fn hallucination_minutes(minutes: &[(u32, u64)]) -> Vec<MinuteSample> {
    minutes
        .iter()
        .map(|&(minute, bad)| MinuteSample {
            minute: at(&format!("14:{minute:02}:00")),
            calls: 20,
            stride: 1,
            metrics: BTreeMap::from([(
                "hallucination_rate".to_string(),
                MetricMinute {
                    value: Some(bad as f64 / 20.0),
                    bad: Some(bad),
                    of: Some(20),
                    baseline: Some(0.05),
                },
            )]),
        })
        .collect()
}

fn built(
    entries: Vec<TimelineEntry>,
    samples: Vec<MinuteSample>,
    examples: Vec<FailingCall>,
    redaction: Redaction,
) -> Postmortem {
    let record = Record {
        incident: Incident::from_timeline(&entries).unwrap(),
        entries,
        samples,
        examples,
        problems: Vec::new(),
    };
    let options = Options {
        all_entries: true,
        redaction,
    };
    Postmortem::build(&record, &options)
}

#[test]
fn configured_patterns_reach_every_text_and_contacts_leave_request_ids() {
    let rule = Redaction::from_config(&RedactionConfig {
        redact: vec![r"(?i)\bkowalski\b".into()],
        ..RedactionConfig::default()
    })
    .unwrap();
    let triage = EntryKind::Triage {
        step: "data".into(),
        verdict: "likely".into(),
    };
    let entries = vec![
        opened("14:05:00"),
        logged(
            2,
            "14:06:00",
            "flightdeck",
            triage,
            "Data: likely (new terms 31% of input words (base 2%): kowalski, refund, voucher)",
        ),
        logged(
            3,
            "14:07:00",
            "oncall",
            EntryKind::Note,
            "called Mr Kowalski back",
        ),
    ];
    let call = hallucinated(
        "support/anna.kowalski@example.com/77",
        "I am Anna Kowalski, order 123456",
    );
    let pm = built(entries, vec![], vec![call], rule);
    for text in [markdown::render(&pm), json::render(&pm), html::render(&pm)] {
        assert!(!text.to_lowercase().contains("kowalski"), "{text}");
        assert!(!text.contains("example.com"), "{text}");
    }
    let example = &pm.examples.calls[0];
    assert_eq!(example.request_id.as_deref(), Some("support/‹email›/77"));
    assert_eq!(
        example.input.as_deref(),
        Some("I am Anna ‹redacted›, order ‹redacted›")
    );
    assert!(
        pm.triage[0]
            .evidence
            .contains("31% of input words (base 2%)"),
        "numbers outside inputs and outputs are kept: {}",
        pm.triage[0].evidence
    );
}

/// A call kept at 14:06:10 for a hallucination, with its request id and input.
fn hallucinated(request_id: &str, input: &str) -> FailingCall {
    FailingCall {
        ts: at("14:06:10"),
        request_id: Some(request_id.into()),
        feature: "support-answer".into(),
        model: "gpt-4o".into(),
        prompt_version: None,
        failed: vec!["hallucination_rate".into()],
        input: Some(input.into()),
        output: None,
    }
}

fn detection(seq: u64, time: &str) -> TimelineEntry {
    let kind = EntryKind::Detection {
        metric: "hallucination_rate".into(),
        state: "critical".into(),
    };
    logged(seq, time, "flightdeck", kind, "Hallucination critical")
}

#[test]
fn the_worst_minute_and_the_coverage_read_the_impact_window() {
    // Baseline noise from 14:00, above the warn limit from 14:05, detected at 14:08, no impact
    // start: the window opens at 14:05.
    let entries = vec![opened("14:08:00"), detection(2, "14:08:00")];
    let minutes = [
        (0, 1),
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 1),
        (5, 8),
        (6, 18),
        (7, 8),
        (8, 6),
        (9, 6),
    ];
    let pm = built(
        entries,
        hallucination_minutes(&minutes),
        vec![],
        Redaction::default(),
    );
    let impact = pm.impact.as_ref().unwrap();
    assert_eq!(impact.start, at("14:05:00"));
    let metric = &pm.metrics[0];
    let peak = metric.peak.as_ref().unwrap();
    assert_eq!(
        peak.minute,
        at("14:06:00"),
        "90% at 14:06, inside the window"
    );
    assert_eq!(
        metric.evaluated, impact.of,
        "coverage over the same minutes"
    );
    assert!(
        pm.summary
            .generated
            .contains("90.0% in the worst minute, 14:06 UTC"),
        "{}",
        pm.summary.generated
    );
}

#[test]
fn a_dip_or_an_empty_minute_does_not_end_the_run_that_led_to_detection() {
    // Above the warn limit from 14:05, detected at 14:10; 14:07 reads at baseline and 14:09 has
    // no sample, and the minute the detection falls in reads at baseline too.
    let entries = vec![opened("14:10:00"), detection(2, "14:10:00")];
    let minutes = [
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 1),
        (5, 8),
        (6, 9),
        (7, 1),
        (8, 8),
        (10, 1),
    ];
    let pm = built(
        entries,
        hallucination_minutes(&minutes),
        vec![],
        Redaction::default(),
    );
    let impact = pm.impact.as_ref().unwrap();
    assert_eq!(impact.start, at("14:05:00"), "{:?}", impact.start_from);

    // Two quiet minutes in a row do end it.
    let entries = vec![opened("14:10:00"), detection(2, "14:10:00")];
    let minutes = [
        (1, 1),
        (2, 1),
        (3, 8),
        (4, 1),
        (5, 1),
        (6, 8),
        (7, 9),
        (8, 8),
        (9, 8),
        (10, 8),
    ];
    let pm = built(
        entries,
        hallucination_minutes(&minutes),
        vec![],
        Redaction::default(),
    );
    assert_eq!(pm.impact.as_ref().unwrap().start, at("14:06:00"));
}

#[test]
fn the_window_names_the_edges_of_the_whole_minutes_it_sums() {
    let impact_start = EntryKind::TimeSet {
        time: NamedTime::ImpactStart,
        from: None,
        to: at("14:05:20"),
    };
    let mitigated = EntryKind::StatusChanged {
        from: Status::Detected,
        to: Status::Mitigated,
    };
    let entries = vec![
        opened("14:05:00"),
        logged(2, "14:05:30", "oncall", impact_start, ""),
        logged(3, "14:09:50", "oncall", mitigated, ""),
    ];
    let minutes = [(5, 10), (6, 10), (7, 10), (8, 10), (9, 10), (10, 0)];
    let pm = built(
        entries,
        hallucination_minutes(&minutes),
        vec![],
        Redaction::default(),
    );
    let impact = pm.impact.as_ref().unwrap();
    assert_eq!(impact.minutes, 5, "14:05 to 14:09, each whole");
    assert!(
        impact.sentence.contains("between 14:05 and 14:10 UTC"),
        "{}",
        impact.sentence
    );
    let md = markdown::render(&pm);
    assert!(
        md.contains("summed over the 5 whole minutes from 2026-03-14 14:05:00 UTC to 2026-03-14 14:10:00 UTC, the minutes holding the span from the impact start (2026-03-14 14:05:20 UTC) to the mitigation (2026-03-14 14:09:50 UTC)."),
        "{md}"
    );
}

/// A kill switch that failed at 14:06, then a prompt rollback applied at 14:08 and verified.
fn failed_then_recovered() -> Vec<TimelineEntry> {
    let kill = || "kill switch".to_string();
    let rollback = || "prompt rollback".to_string();
    vec![
        opened("14:05:00"),
        logged(
            2,
            "14:06:00",
            "oncall",
            EntryKind::ActionRequested { action: kill() },
            "",
        ),
        logged(
            3,
            "14:06:00",
            "flightdeck",
            EntryKind::ActionApplied {
                action: kill(),
                backend: "unleash".into(),
            },
            "kill switch applied",
        ),
        logged(
            4,
            "14:06:00",
            "flightdeck",
            EntryKind::ActionResult {
                action: kill(),
                outcome: Outcome::Failed,
            },
            "kill switch failed",
        ),
        logged(
            5,
            "14:08:00",
            "oncall",
            EntryKind::ActionRequested { action: rollback() },
            "",
        ),
        logged(
            6,
            "14:08:00",
            "flightdeck",
            EntryKind::ActionApplied {
                action: rollback(),
                backend: "simulator".into(),
            },
            "prompt rollback applied",
        ),
        logged(
            7,
            "14:12:00",
            "flightdeck",
            EntryKind::Verification {
                action: rollback(),
                recovered: true,
            },
            "recovered",
        ),
        logged(
            8,
            "14:12:00",
            "oncall",
            EntryKind::StatusChanged {
                from: Status::Detected,
                to: Status::Mitigated,
            },
            "",
        ),
    ]
}

#[test]
fn the_summary_names_the_mitigation_that_recovered_and_a_failed_one_as_failed() {
    let pm = built(
        failed_then_recovered(),
        vec![],
        vec![],
        Redaction::default(),
    );
    let summary = &pm.summary.generated;
    assert!(
        summary.contains(
            "a kill switch failed at 14:06 UTC, and a prompt rollback was applied at 14:08 UTC"
        ),
        "{summary}"
    );
    assert!(!summary.contains("kill switch was applied"), "{summary}");
    let labels: Vec<&str> = pm.markers.iter().map(|m| m.label.as_str()).collect();
    assert!(labels.contains(&"kill switch (failed)"), "{labels:?}");
    assert!(labels.contains(&"prompt rollback"), "{labels:?}");
}

#[test]
fn named_times_out_of_order_are_said_plainly_and_no_duration_is_negative() {
    let mitigated = EntryKind::StatusChanged {
        from: Status::Detected,
        to: Status::Mitigated,
    };
    let impact_start = EntryKind::TimeSet {
        time: NamedTime::ImpactStart,
        from: None,
        to: at("14:08:00"),
    };
    let entries = vec![
        opened("14:05:00"),
        logged(2, "14:06:00", "oncall", mitigated, ""),
        logged(3, "14:09:00", "oncall", impact_start, ""),
    ];
    let minutes = [(5, 10), (6, 10), (7, 10), (8, 10), (9, 10)];
    let pm = built(
        entries,
        hallucination_minutes(&minutes),
        vec![],
        Redaction::default(),
    );
    let md = markdown::render(&pm);
    assert!(
        md.contains("**The named times are out of order:** the impact start (2026-03-14 14:08:00 UTC) is after detected (2026-03-14 14:05:00 UTC), acknowledged (2026-03-14 14:06:00 UTC) and mitigated (2026-03-14 14:06:00 UTC), so no impact window can be stated."),
        "{md}"
    );
    assert!(!md.contains("No rate metric counted any calls"), "{md}");
    assert!(
        html::render(&pm).contains("no impact window is shaded"),
        "the chart caption names no window"
    );
    assert!(!md.contains("| -"), "a negative duration: {md}");
    assert!(
        pm.response
            .intervals
            .iter()
            .all(|i| i.seconds.is_none_or(|s| s >= 0)),
        "{:?}",
        pm.response.intervals
    );
}

#[test]
fn quoted_markup_renders_as_text_and_a_note_keeps_its_lines() {
    let entries = vec![
        opened("14:05:00"),
        logged(
            2,
            "14:06:00",
            "oncall",
            EntryKind::Note,
            "saw <script>alert(1)</script> & <img src=x>\nsecond line",
        ),
    ];
    let call = hallucinated("req-1", "I am <b>Anna</b>");
    let pm = built(entries, vec![], vec![call], Redaction::default());
    let md = markdown::render(&pm);
    assert!(
        !md.contains("<script>") && !md.contains("<img") && !md.contains("<b>"),
        "{md}"
    );
    assert!(
        md.contains(
            "saw &lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x&gt;<br>second line"
        ),
        "{md}"
    );
    let page = html::render(&pm);
    assert!(
        !page.contains("<script>") && !page.contains("<img"),
        "{page}"
    );
    assert!(page.contains("&lt;img src=x&gt;<br>second line"), "{page}");
}

#[test]
fn terminal_escapes_in_the_record_are_shown_not_obeyed_in_every_format() {
    let hostile = "v8\u{1b}]0;pwned\u{7}\u{1b}[2J done";
    let entries = vec![
        opened("14:05:00"),
        logged(2, "14:06:00", "oncall", EntryKind::Note, hostile),
    ];
    let call = hallucinated("req-1", hostile);
    let pm = built(entries, vec![], vec![call], Redaction::default());
    for (format, text) in [("md", markdown::render(&pm)), ("html", html::render(&pm))] {
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{format} carries the raw escape"
        );
        assert!(
            text.contains("v8\\x1b]0;pwned\\x07\\x1b[2J done"),
            "{format}: {text}"
        );
    }
}

/// An incident opened at `time` from `source`, a drill when `drill` names its scenario.
fn stored(dir: &std::path::Path, id: &str, time: &str, source: &str, drill: Option<&str>) {
    let kind = EntryKind::Opened {
        id: id.into(),
        title: format!("{source} incident"),
        severity: Severity::Sev2,
        source: source.into(),
        drill: drill.map(str::to_string),
    };
    let mut store = TimelineStore::create(dir, id).unwrap();
    store
        .append(&logged(1, time, "flightdeck", kind, "opened"))
        .unwrap();
}

#[test]
fn export_latest_skips_replays_and_drills_and_incidents_marks_them() {
    let dir = tempfile::tempdir().unwrap();
    stored(
        dir.path(),
        "INC-20260314-140000",
        "14:00:00",
        "live · calls.jsonl",
        None,
    );
    stored(
        dir.path(),
        "INC-20260314-150000",
        "15:00:00",
        "replay calls.jsonl",
        None,
    );
    stored(
        dir.path(),
        "INC-20260314-160000",
        "16:00:00",
        "drill",
        Some("red-herring"),
    );
    let run = flightdeck(&["export", "latest", "--format", "md"], dir.path());
    assert!(run.status.success(), "{run:?}");
    let md = String::from_utf8_lossy(&run.stdout);
    assert!(md.starts_with("# INC-20260314-140000"), "{md}");
    let named = flightdeck(
        &["export", "INC-20260314-150000", "--format", "md"],
        dir.path(),
    );
    assert!(String::from_utf8_lossy(&named.stdout).starts_with("# INC-20260314-150000"));
    let listed = flightdeck(&["incidents"], dir.path());
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("[replay] replay calls.jsonl incident"),
        "{listed}"
    );
    assert!(listed.contains("[drill: red-herring]"), "{listed}");

    let only_rehearsals = tempfile::tempdir().unwrap();
    stored(
        only_rehearsals.path(),
        "INC-1",
        "15:00:00",
        "replay calls.jsonl",
        None,
    );
    let run = flightdeck(
        &["export", "latest", "--format", "md"],
        only_rehearsals.path(),
    );
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("are all replays or drills, which `latest` skips"),
        "{stderr}"
    );
}
