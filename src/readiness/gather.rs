//! The edge of `flightdeck check`: asks the configured backends for their state, reads the
//! recent calls, the runbook file and the recorded incidents, and hands the pure items facts.

use std::io::{Read as _, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::degradation;
use super::facts::{Backend, CallFacts, Exercise, Facts, RunbookFile, Telemetry};
use crate::actuators::Actuator;
use crate::actuators::configured::{self, Configured};
use crate::config::file::ConfigFile;
use crate::engine::observation::{Interner, Observation};
use crate::engine::signals::Checks;
use crate::engine::signals::groundedness::PassageTerms;
use crate::incident::store;
use crate::model::{Call, MitigationKind};

/// How many of the newest calls the telemetry items read.
pub const RECENT_CALLS: usize = 1000;
/// How far back from the end of the events file the newest calls are looked for.
const TAIL_BYTES: u64 = 8 << 20;

/// Everything the checklist needs besides the config; `checks` are the engine's schema and
/// refusal checks built from the same config.
pub async fn facts(config: &ConfigFile, checks: &Checks, data_dir: &Path) -> Facts {
    let (prompt_rollback, kill_switch) = tokio::join!(
        ask(config, MitigationKind::PromptRollback),
        ask(config, MitigationKind::KillSwitch)
    );
    Facts {
        prompt_rollback,
        kill_switch,
        telemetry: telemetry(config, checks),
        exercises: exercises(data_dir),
        data_dir: data_dir.to_path_buf(),
        runbook: runbook(config),
    }
}

/// The backend's current state as the mitigation would see it when pressed.
async fn ask(config: &ConfigFile, kind: MitigationKind) -> Backend {
    match configured::build(config, kind, &crate::config::actor()) {
        None => Backend::NotConfigured,
        Some(Err(reason)) => Backend::Misconfigured(reason.to_string()),
        Some(Ok(Configured::Webhook(_))) => Backend::Unaskable(format!(
            "[mitigations.{}] is a webhook, which takes orders and cannot be asked what exists",
            kind.key()
        )),
        Some(Ok(backend)) => Backend::Read(
            backend
                .read()
                .await
                .map(Box::new)
                .map_err(|error| error.to_string()),
        ),
    }
}

/// The newest calls of [sources.events], as the engine's checks read them.
fn telemetry(config: &ConfigFile, checks: &Checks) -> Result<Telemetry, String> {
    let Some(events) = &config.sources.events else {
        return Err(
            "no [sources.events] file to read recent calls from (check reads a file; \
             `flightdeck record` writes one from OTLP)"
                .into(),
        );
    };
    if events.path == Path::new("-") {
        return Err(
            "[sources.events] reads standard input, which check cannot look back on".into(),
        );
    }
    let path = config.resolve(&events.path);
    let text = tail(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let recent = &lines[lines.len().saturating_sub(RECENT_CALLS)..];
    let mut interner = Interner::default();
    let mut passages = PassageTerms::default();
    let calls = recent
        .iter()
        .filter_map(|line| serde_json::from_str::<Call>(line).ok())
        .map(|call| {
            let observed = Observation::from_call(&call, checks, &mut interner, &mut passages);
            CallFacts {
                model_requested: call.model_requested,
                model_served: call.model_served,
                hallucinated: observed.hallucinated,
                refused: observed.refused,
                schema_compliant: observed.schema_compliant,
            }
        })
        .collect::<Vec<_>>();
    let unreadable = recent.len() - calls.len();
    let unreadable = if unreadable == 0 {
        String::new()
    } else {
        format!(", {unreadable} unreadable lines skipped")
    };
    Ok(Telemetry {
        source: format!(
            "the last {} calls in {}{unreadable}",
            calls.len(),
            path.display()
        ),
        calls,
    })
}

/// The file's last few megabytes, from the first whole line.
fn tail(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let length = file.metadata()?.len();
    let start = length.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok(match (start, text.find('\n')) {
        (0, _) => text,
        (_, Some(newline)) => text[newline + 1..].to_string(),
        (_, None) => String::new(),
    })
}

/// What each recorded incident and drill did with the kill switch, oldest first.
fn exercises(data_dir: &Path) -> Result<Vec<Exercise>, String> {
    let ids = store::incident_ids(data_dir).map_err(|e| e.to_string())?;
    ids.iter()
        .map(|id| {
            store::load(data_dir, id)
                .map(|loaded| degradation::exercise(id, &loaded.entries))
                .map_err(|e| e.to_string())
        })
        .collect()
}

fn runbook(config: &ConfigFile) -> RunbookFile {
    let Some(path) = &config.readiness.runbook else {
        return RunbookFile::NotConfigured;
    };
    let resolved: PathBuf = config.resolve(path);
    match std::fs::read_to_string(&resolved) {
        Ok(text) => RunbookFile::Read {
            path: resolved,
            text,
        },
        Err(e) => RunbookFile::Unreadable {
            path: resolved,
            reason: e.to_string(),
        },
    }
}
