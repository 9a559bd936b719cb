//! The operational readiness checklist behind `flightdeck check`: each item is judged from the
//! config and from facts the gather step read from the live systems, as pass, fail or unknown,
//! with the evidence and the fix (docs/readiness.md).

pub mod degradation;
pub mod facts;
pub mod gather;
pub mod kill_switch;
pub mod models;
pub mod prompts;
pub mod quality;
pub mod runbook_file;

use serde::Serialize;

use self::facts::Facts;
use crate::config::file::ConfigFile;

/// The version of `flightdeck check --json`'s layout.
pub const REPORT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// The system that would tell could not be asked; the evidence says why.
    Unknown,
}

impl Status {
    /// The worst of two: a fail outweighs an unknown, which outweighs a pass.
    pub fn and(self, other: Status) -> Status {
        match (self, other) {
            (Status::Fail, _) | (_, Status::Fail) => Status::Fail,
            (Status::Unknown, _) | (_, Status::Unknown) => Status::Unknown,
            _ => Status::Pass,
        }
    }

    pub fn glyph(self) -> &'static str {
        match self {
            Status::Pass => "✔",
            Status::Fail => "✖",
            Status::Unknown => "?",
        }
    }
}

/// One item of the checklist as judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    /// Stable, for scripts: `prompt_registry`, `model_pinned`, ...
    pub id: &'static str,
    /// What the item asks, in a line.
    pub title: &'static str,
    pub status: Status,
    /// What was found, one fact a line.
    pub evidence: Vec<String>,
    /// What to do when it does not pass; None when it passes.
    pub fix: Option<String>,
}

/// What an item's parts found: the worst status, every fact, and the fixes of what is wrong.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    status: Option<Status>,
    evidence: Vec<String>,
    fixes: Vec<String>,
}

impl Findings {
    pub fn pass(&mut self, evidence: impl Into<String>) {
        self.add(Status::Pass, evidence.into(), None);
    }

    pub fn fail(&mut self, evidence: impl Into<String>, fix: impl Into<String>) {
        self.add(Status::Fail, evidence.into(), Some(fix.into()));
    }

    pub fn unknown(&mut self, evidence: impl Into<String>, fix: impl Into<String>) {
        self.add(Status::Unknown, evidence.into(), Some(fix.into()));
    }

    fn add(&mut self, status: Status, evidence: String, fix: Option<String>) {
        self.status = Some(self.status.map_or(status, |s| s.and(status)));
        self.evidence.push(evidence);
        if let Some(fix) = fix.filter(|fix| !self.fixes.contains(fix)) {
            self.fixes.push(fix);
        }
    }

    /// The item; one that found nothing at all is unknown.
    pub fn item(self, id: &'static str, title: &'static str) -> Item {
        let status = self.status.unwrap_or(Status::Unknown);
        Item {
            id,
            title,
            status,
            evidence: self.evidence,
            fix: (status != Status::Pass && !self.fixes.is_empty()).then(|| self.fixes.join(" ")),
        }
    }
}

/// What to do when the recent calls could not be read, for the items that read them: configure
/// the events file, or, when it is configured, how calls get into it.
pub(crate) fn unread_telemetry_fix(config: &ConfigFile) -> String {
    const RECORD: &str = "`flightdeck record --otlp 127.0.0.1:4318 --out";
    match &config.sources.events {
        None => format!(
            "Configure [sources.events] with the file the calls are written to ({RECORD} \
             calls.jsonl` writes one from OTLP)."
        ),
        Some(events) if events.path == std::path::Path::new("-") => format!(
            "Point [sources.events] path at a file: check cannot look back on standard input \
             ({RECORD} calls.jsonl` writes one from OTLP)."
        ),
        Some(events) => {
            let path = config.resolve(&events.path);
            format!(
                "[sources.events] names {path}; if it does not exist yet, calls get there by \
                 {RECORD} {path}` (from OTLP) or by the app writing each call as a JSON line \
                 (docs/events.md).",
                path = path.display()
            )
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub pass: usize,
    pub fail: usize,
    pub unknown: usize,
}

/// The whole checklist, as `--json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub version: u32,
    pub items: Vec<Item>,
    pub summary: Summary,
}

impl Report {
    /// Whether every item passed: an unknown is not a pass, since nobody could confirm it.
    pub fn all_pass(&self) -> bool {
        self.items.iter().all(|item| item.status == Status::Pass)
    }

    /// The list a person reads: a glyph, the item and its evidence, and the fix of each that
    /// does not pass.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for item in &self.items {
            text.push_str(&format!(
                "{} {}  ({})\n",
                item.status.glyph(),
                item.title,
                item.id
            ));
            for line in &item.evidence {
                text.push_str(&format!("    {line}\n"));
            }
            if let Some(fix) = &item.fix {
                text.push_str(&format!("    fix: {fix}\n"));
            }
        }
        let Summary {
            pass,
            fail,
            unknown,
        } = self.summary;
        text.push_str(&format!(
            "\n{pass} passed, {fail} failed, {unknown} unknown\n"
        ));
        text
    }
}

/// Judges every item of the checklist.
pub fn assess(config: &ConfigFile, facts: &Facts) -> Report {
    let items = vec![
        prompts::item(&facts.prompt_rollback),
        models::item(config, &facts.telemetry),
        kill_switch::item(config, &facts.kill_switch),
        quality::item(config, &facts.telemetry),
        runbook_file::item(config, &facts.runbook),
        degradation::item(&facts.exercises, &facts.data_dir),
    ];
    let count = |status| items.iter().filter(|i| i.status == status).count();
    let summary = Summary {
        pass: count(Status::Pass),
        fail: count(Status::Fail),
        unknown: count(Status::Unknown),
    };
    Report {
        version: REPORT_VERSION,
        items,
        summary,
    }
}
