//! The postmortem as a document: each section in order as headings, paragraphs, lists and
//! tables, every number with what it was computed from and every time with its date and zone.
//! The Markdown and HTML renderers draw these blocks, so both say the same.

use super::quality::{MetricReport, Reading, Unit, badness, metric};
use super::response::{self, NamedTimeOrOpened, Selection};
use super::{Postmortem, findings, text};

/// A run of text and how it is emphasised.
#[derive(Debug, Clone, PartialEq)]
pub enum Span {
    Text(String),
    Strong(String),
    Emphasis(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Title(String),
    Heading(String),
    Subheading(String),
    Paragraph(Vec<Span>),
    List(Vec<String>),
    /// Quoted verbatim, e.g. a word diff.
    Code(String),
    Table {
        headers: Vec<&'static str>,
        rows: Vec<Vec<String>>,
    },
    /// Where the HTML draws one chart per metric; Markdown has none.
    Charts,
}

fn para(text: impl Into<String>) -> Block {
    Block::Paragraph(vec![Span::Text(text.into())])
}

fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "—".into())
}

/// A metric's value in its unit.
pub fn value(unit: Unit, value: f64) -> String {
    match unit {
        Unit::Fraction => text::percent(value),
        Unit::Milliseconds => text::millis(value),
    }
}

/// The worst minute, or that there was none worse than the baseline.
fn worst(m: &MetricReport) -> String {
    let no_worse = m
        .id()
        .zip(m.peak.as_ref())
        .zip(m.baseline)
        .is_some_and(|((id, peak), baseline)| badness(id, peak.value) <= badness(id, baseline));
    if no_worse {
        "never worse than baseline".into()
    } else {
        reading(m.unit, m.peak.as_ref())
    }
}

fn reading(unit: Unit, reading: Option<&Reading>) -> String {
    or_dash(reading.map(|r| {
        let calls =
            r.of.map(|n| format!(", {n} call{}", if n == 1 { "" } else { "s" }))
                .unwrap_or_default();
        format!(
            "{} ({} UTC{calls})",
            value(unit, r.value),
            text::hm(r.minute)
        )
    }))
}

/// A metric key as its label, e.g. `hallucination_rate` → `Hallucination`.
pub fn label(key: &str) -> String {
    metric(key).map_or(key.to_string(), |m| m.label().to_string())
}

pub fn blocks(pm: &Postmortem) -> Vec<Block> {
    let mut out = Vec::new();
    for section in [
        header,
        summary,
        impact,
        root_cause,
        response,
        metrics,
        triage,
        timeline,
        mitigations,
        detection,
        action_items,
        examples,
    ] {
        section(&mut out, pm);
    }
    out
}

fn header(out: &mut Vec<Block>, pm: &Postmortem) {
    let h = &pm.header;
    out.push(Block::Title(format!("{}: {}", h.id, h.title)));
    let mut rows = vec![
        vec!["severity".into(), h.severity.to_string()],
        vec!["status".into(), h.status.to_string()],
        vec![
            "root cause".into(),
            h.root_cause.map_or("NOT SET".into(), |c| c.to_string()),
        ],
    ];
    if h.roles.is_empty() {
        rows.push(vec!["roles".into(), "none assigned".into()]);
    }
    for role in &h.roles {
        rows.push(vec![
            role.role.to_string(),
            format!("{} (since {})", role.person, text::utc(role.since)),
        ]);
    }
    rows.push(vec!["source".into(), h.source.clone()]);
    if let Some(scenario) = &h.drill {
        rows.push(vec![
            "drill".into(),
            format!("a game day on the scenario {scenario}, not a production incident"),
        ]);
    }
    rows.push(vec!["opened".into(), text::utc(h.opened_at)]);
    for time in &h.times {
        rows.push(vec![time.time.to_string(), or_dash(time.at.map(text::utc))]);
    }
    out.push(Block::Table {
        headers: vec!["field", "value"],
        rows,
    });
    if !pm.record_problems.is_empty() {
        out.push(Block::Paragraph(vec![
            Span::Strong("Record problems:".into()),
            Span::Text(format!(
                " {} line(s) of the record could not be read and are left out of every section below.",
                pm.record_problems.len()
            )),
        ]));
        out.push(Block::List(
            pm.record_problems
                .iter()
                .map(|p| format!("{} line {}: {}", p.file, p.line, p.reason))
                .collect(),
        ));
    }
}

fn summary(out: &mut Vec<Block>, pm: &Postmortem) {
    out.push(Block::Heading("Summary".into()));
    match &pm.summary.written {
        Some(written) => out.push(para(written.clone())),
        None => {
            out.push(Block::Paragraph(vec![Span::Emphasis(
                "No summary written. Set it in the cockpit (e → Summary).".into(),
            )]));
            out.push(para(format!(
                "What the record shows: {}",
                pm.summary.generated
            )));
        }
    }
}

fn impact(out: &mut Vec<Block>, pm: &Postmortem) {
    out.push(Block::Heading("Impact".into()));
    let Some(i) = &pm.impact else {
        out.push(match out_of_order(pm) {
            Some(wrong) => Block::Paragraph(vec![
                Span::Strong("The named times are out of order:".into()),
                Span::Text(format!(
                    " {wrong}, so no impact window can be stated. Correct the times and export again."
                )),
            ]),
            None => para(
                "No rate metric counted any calls in the impact window, so the impact cannot be stated as a share of requests.",
            ),
        });
        return;
    };
    out.push(para(i.sentence.clone()));
    if let Some(excess) = &i.excess_sentence {
        out.push(para(excess.clone()));
    }
    let mut how = format!(
        "Computed from the per-minute samples of {}, {}: the failing calls over the calls it checked, summed over the {} whole minutes from {} to {}, the minutes holding the span from {} ({}) to {} ({}).",
        i.label,
        i.chosen_because,
        i.minutes,
        text::utc(i.summed_from),
        text::utc(i.summed_until),
        i.start_from.describe(),
        text::utc(i.start),
        i.end_from.describe(),
        text::utc(i.end),
    );
    if let Some(note) = &i.sampling_note {
        how.push(' ');
        how.push_str(note);
    }
    out.push(para(how));
}

fn root_cause(out: &mut Vec<Block>, pm: &Postmortem) {
    out.push(Block::Heading("Root cause".into()));
    let rc = &pm.root_cause;
    if let (Some(category), Some(owner)) = (rc.category, &rc.owner) {
        out.push(Block::Paragraph(vec![
            Span::Strong(category.to_string()),
            Span::Text(format!(": {owner}.")),
        ]));
    } else {
        out.push(Block::Paragraph(vec![Span::Strong(
            "Root cause category NOT SET — a postmortem must commit to one of model / prompt / data / infrastructure."
                .into(),
        )]));
        if rc.triage_suggests.is_empty() {
            out.push(para(
                "Triage did not point at any category (no step ended likely or suspect).",
            ));
        } else {
            out.push(para("What the triage concluded, as a suggestion:"));
            out.push(Block::List(
                rc.triage_suggests
                    .iter()
                    .map(|step| {
                        let owner = step
                            .category
                            .parse()
                            .map(|c| format!(" If confirmed, {}.", findings::owner_hint(c)))
                            .unwrap_or_default();
                        format!(
                            "{} (triage at {}).{owner}",
                            step.evidence,
                            text::utc(step.at)
                        )
                    })
                    .collect(),
            ));
        }
    }
    if let Some(prompt) = &rc.prompt_change {
        out.push(para(format!(
            "The prompt change ({}), as a word diff ([-removed-] {{+added+}}):",
            prompt.change
        )));
        out.push(Block::Code(prompt.diff.clone()));
    }
}

fn response(out: &mut Vec<Block>, pm: &Postmortem) {
    out.push(Block::Heading("Detection and response".into()));
    let r = &pm.response;
    out.push(Block::Table {
        headers: vec!["moment", "time"],
        rows: pm
            .header
            .times
            .iter()
            .map(|t| vec![t.time.to_string(), or_dash(t.at.map(text::utc))])
            .collect(),
    });
    out.push(para(match r.measured_from {
        NamedTimeOrOpened::ImpactStart => "Each interval is measured from the impact start.",
        NamedTimeOrOpened::Opened => {
            "Each interval is measured from the opening: no impact start was recorded."
        }
    }));
    out.push(Block::Table {
        headers: vec!["interval", "duration"],
        rows: r
            .intervals
            .iter()
            .map(|i| vec![i.name.clone(), or_dash(i.text.clone())])
            .collect(),
    });
    if let Some(wrong) = out_of_order(pm) {
        out.push(Block::Paragraph(vec![
            Span::Strong("The named times are out of order:".into()),
            Span::Text(format!(
                " {wrong}. An interval that would be negative is left blank."
            )),
        ]));
    }
}

/// The named times set out of order, as one clause; None when they are in order.
fn out_of_order(pm: &Postmortem) -> Option<String> {
    let wrong = &pm.response.out_of_order;
    (!wrong.is_empty()).then(|| response::out_of_order_clause(wrong))
}

fn metrics(out: &mut Vec<Block>, pm: &Postmortem) {
    out.push(Block::Heading("Quality metrics during the incident".into()));
    if pm.metrics.is_empty() {
        out.push(para("No minute samples were recorded for this incident."));
        return;
    }
    out.push(para(
        "Per-minute values from the samples. Rates are the share of checked calls that failed; Grounded, Schema valid and Similarity are the share of good calls, so their worst minute is the lowest. Baseline: the engine's baseline at the start of the impact window. Worst minute: within the impact window (see Impact). At mitigation and at resolution: the last minute that began before that time. Each minute names the calls it was measured on: a minute of few calls swings far. † marks a metric a detector alarmed on.",
    ));
    out.push(Block::Table {
        headers: vec![
            "metric",
            "baseline",
            "worst minute",
            "at mitigation",
            "at resolution",
        ],
        rows: pm
            .metrics
            .iter()
            .map(|m| {
                vec![
                    format!("{}{}", m.label, if m.alarmed { " †" } else { "" }),
                    or_dash(m.baseline.map(|b| value(m.unit, b))),
                    worst(m),
                    reading(m.unit, m.at_mitigation.as_ref()),
                    reading(m.unit, m.at_resolution.as_ref()),
                ]
            })
            .collect(),
    });
    out.push(Block::Charts);
}

fn triage(out: &mut Vec<Block>, pm: &Postmortem) {
    out.push(Block::Heading("Triage as decided".into()));
    if pm.triage.is_empty() {
        out.push(para("No triage was recorded."));
        return;
    }
    out.push(Block::Table {
        headers: vec!["time", "category", "verdict", "evidence"],
        rows: pm
            .triage
            .iter()
            .map(|t| {
                vec![
                    text::utc(t.at),
                    t.category.clone(),
                    t.verdict.clone(),
                    t.evidence.clone(),
                ]
            })
            .collect(),
    });
}

fn timeline(out: &mut Vec<Block>, pm: &Postmortem) {
    out.push(Block::Heading("Timeline".into()));
    let t = &pm.timeline;
    out.push(para(match t.selection {
        Selection::All => format!("All {} entries.", t.total),
        Selection::Key => format!(
            "The key entries (opening, detections, triage verdicts, changes, mitigations applied with their results and effects, verifications, status and severity, root cause, named times, notes) and every starred one; {} of {} omitted (export with --all for every entry).",
            t.omitted, t.total
        ),
    }));
    out.push(Block::Table {
        headers: vec!["#", "time", "actor", "kind", "what"],
        rows: t
            .entries
            .iter()
            .map(|e| {
                let edited = e
                    .edited_from
                    .as_ref()
                    .map(|was| format!(" (edited; was: {was})"))
                    .unwrap_or_default();
                let star = if e.starred { "★ " } else { "" };
                vec![
                    format!("{star}{}", e.seq),
                    text::utc(e.at),
                    e.actor.clone(),
                    e.kind.clone(),
                    format!("{}{edited}", e.text),
                ]
            })
            .collect(),
    });
}

fn mitigations(out: &mut Vec<Block>, pm: &Postmortem) {
    out.push(Block::Heading("Mitigations and verification".into()));
    if pm.mitigations.is_empty() {
        out.push(para("No mitigation was requested."));
        return;
    }
    for (n, m) in pm.mitigations.iter().enumerate() {
        out.push(Block::Subheading(format!(
            "{}. {} — {}",
            n + 1,
            m.action,
            m.outcome
        )));
        out.push(Block::Table {
            headers: vec!["time", "step", "actor", "what"],
            rows: m
                .steps
                .iter()
                .map(|s| {
                    vec![
                        text::utc(s.at),
                        s.stage.clone(),
                        s.actor.clone(),
                        s.text.clone(),
                    ]
                })
                .collect(),
        });
    }
}

fn detection(out: &mut Vec<Block>, pm: &Postmortem) {
    out.push(Block::Heading("Why wasn't this caught".into()));
    out.push(Block::List(pm.detection.findings.clone()));
    if pm.detection.metrics.is_empty() {
        return;
    }
    out.push(para(
        "Evaluator coverage: the calls each quality metric judged over the calls counted, in the impact window's minutes.",
    ));
    out.push(Block::Table {
        headers: vec![
            "quality metric",
            "baseline",
            "evaluator coverage",
            "alarmed",
        ],
        rows: pm
            .detection
            .metrics
            .iter()
            .map(|m| {
                vec![
                    m.label.clone(),
                    m.baseline_since
                        .map_or("none".into(), |at| format!("since {}", text::utc(at))),
                    m.coverage.map_or("—".into(), |c| {
                        format!(
                            "{} ({} of {} calls)",
                            text::percent(c),
                            text::count(m.evaluated),
                            text::count(m.calls)
                        )
                    }),
                    if m.alarmed { "yes" } else { "no" }.into(),
                ]
            })
            .collect(),
    });
}

fn action_items(out: &mut Vec<Block>, pm: &Postmortem) {
    out.push(Block::Heading("Action items".into()));
    if pm.action_items.is_empty() {
        out.push(para("The record suggests none; add the team's own."));
        return;
    }
    out.push(para(
        "Suggested from the record. Owner: the operations role holder for corrective items, the incident commander otherwise. Due: 7 days after resolution for detective and corrective items, 30 for preventive ones.",
    ));
    out.push(Block::Table {
        headers: vec!["owner", "type", "due", "item", "because"],
        rows: pm
            .action_items
            .iter()
            .map(|a| {
                vec![
                    a.owner.clone(),
                    a.kind.name().into(),
                    a.due.to_string(),
                    a.item.clone(),
                    a.because.clone(),
                ]
            })
            .collect(),
    });
}

fn examples(out: &mut Vec<Block>, pm: &Postmortem) {
    out.push(Block::Heading(
        "Failing examples for the evaluation set".into(),
    ));
    let e = &pm.examples;
    if e.calls.is_empty() {
        out.push(para("No failing calls were kept for this incident."));
        return;
    }
    out.push(para(format!(
        "{} calls kept as they failed, inputs and outputs redacted: {}.",
        e.calls.len(),
        e.redaction
    )));
    out.push(Block::Table {
        headers: vec![
            "time", "request", "feature", "model", "prompt", "failed", "input", "output",
        ],
        rows: e
            .calls
            .iter()
            .map(|c| {
                vec![
                    text::utc(c.at),
                    or_dash(c.request_id.clone()),
                    c.feature.clone(),
                    c.model.clone(),
                    or_dash(c.prompt_version.clone()),
                    c.failed
                        .iter()
                        .map(|k| label(k))
                        .collect::<Vec<_>>()
                        .join(", "),
                    or_dash(c.input.clone()),
                    or_dash(c.output.clone()),
                ]
            })
            .collect(),
    });
}
