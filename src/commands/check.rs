//! `flightdeck check`: the operational readiness checklist against the live setup (docs/readiness.md).
//! Exit 0 when every item passes, 1 when any fails or cannot be confirmed.

use std::path::Path;

use super::setup::EngineSetup;
use crate::cli::CheckArgs;
use crate::config::file::ConfigFile;
use crate::engine::signals::Checks;
use crate::readiness::{self, gather};

/// Prints the checklist; an error (exit 1) when any item did not pass.
pub fn run(config: &ConfigFile, args: &CheckArgs, data_dir: &Path) -> anyhow::Result<()> {
    // An [alerts] threshold out of range is one of the findings here, not a reason to stop.
    let signals_only = ConfigFile {
        alerts: Default::default(),
        ..config.clone()
    };
    let setup = EngineSetup::new(&signals_only, &[], None)?;
    let checks = Checks {
        schemas: setup.schemas,
        refusals: setup.refusals,
        feature_schemas: setup.feature_schemas,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let facts = runtime.block_on(gather::facts(config, &checks, data_dir));
    let report = readiness::assess(config, &facts);
    // Evidence quotes what servers answered, which may echo a credential.
    let printed = if args.json {
        format!("{}\n", serde_json::to_string_pretty(&report)?)
    } else {
        report.to_text()
    };
    print!("{}", crate::redact::credentials(&printed));
    if report.all_pass() {
        Ok(())
    } else {
        let summary = report.summary;
        anyhow::bail!(
            "not ready: {} of {} readiness items failed, {} could not be confirmed",
            summary.fail,
            report.items.len(),
            summary.unknown
        )
    }
}
