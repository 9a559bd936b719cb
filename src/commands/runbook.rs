//! `flightdeck runbook`: the team's AI incident runbook, as Markdown, from its config.

use std::path::Path;

use crate::cli::RunbookArgs;
use crate::config::file::ConfigFile;

/// `config_path` is the file the config was read from, as the runbook's commands name it.
pub fn run(
    config: &ConfigFile,
    config_path: Option<&Path>,
    args: &RunbookArgs,
) -> anyhow::Result<()> {
    let name = config_path.map_or_else(|| "flightdeck.toml".into(), |p| p.display().to_string());
    // The runbook names the configured servers: their urls go out without credentials.
    let page = crate::redact::credentials(&crate::runbook::render(config, &name));
    match &args.output {
        Some(path) => super::export::write_whole(path, &page),
        None => {
            print!("{page}");
            Ok(())
        }
    }
}
