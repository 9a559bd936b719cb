//! `flightdeck export`: an incident's postmortem as Markdown, JSON or HTML (docs/postmortem.md).

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

use super::BadInput;
use crate::cli::{ExportArgs, ExportFormat};
use crate::config::file::ConfigFile;
use crate::incident::postmortem::load::{self, LoadError};
use crate::incident::postmortem::{Options, Postmortem, Redaction, html, json, markdown};
use crate::incident::store::{self, StoreError};
use crate::model::Incident;

/// The newest incident that was not a replay or a drill: those are exported only by name.
fn latest(data_dir: &Path) -> anyhow::Result<String> {
    let ids = store::incident_ids(data_dir)?;
    for id in ids.iter().rev() {
        let loaded = store::load(data_dir, id)?;
        let rehearsed = Incident::from_timeline(&loaded.entries).and_then(|i| i.rehearsal());
        if rehearsed.is_none() {
            return Ok(id.clone());
        }
    }
    let dir = data_dir.join("incidents");
    Err(BadInput(if ids.is_empty() {
        format!("no incidents in {}", dir.display())
    } else {
        format!(
            "the {} incident(s) in {} are all replays or drills, which `latest` skips: name one (flightdeck incidents lists them)",
            ids.len(),
            dir.display()
        )
    })
    .into())
}

pub fn run(data_dir: &Path, config: &ConfigFile, args: &ExportArgs) -> anyhow::Result<()> {
    let redaction = Redaction::from_config(&config.postmortem).map_err(|e| {
        let file = config.path.as_ref().map_or("the config file".into(), |p| {
            format!("the config file {}", p.display())
        });
        BadInput(format!("{file} is not valid: {e}"))
    })?;
    let id = if args.incident == "latest" {
        latest(data_dir)?
    } else {
        super::incident_id(&args.incident)?.to_string()
    };
    let record = load::load(data_dir, &id).map_err(|error| match error {
        LoadError::Store(StoreError::NotFound { .. }) | LoadError::NotOpened { .. } => {
            anyhow::Error::from(BadInput(error.to_string()))
        }
        other => other.into(),
    })?;
    for problem in &record.problems {
        let said = format!(
            "warning: {}: line {} skipped: {}",
            store::incident_dir(data_dir, &id)
                .join(&problem.file)
                .display(),
            problem.line,
            problem.reason
        );
        eprintln!("{}", crate::visible::escaped(&said));
    }
    let postmortem = Postmortem::build(
        &record,
        &Options {
            all_entries: args.all,
            redaction,
        },
    );
    let text = match args.format {
        ExportFormat::Md => markdown::render(&postmortem),
        ExportFormat::Json => json::render(&postmortem),
        ExportFormat::Html => html::render(&postmortem),
    };
    match &args.output {
        Some(path) => write_whole(path, &text),
        None => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                // A reader that stopped early (`| head`) wanted no more.
                Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other.context("cannot write the export to standard output"),
            }
        }
    }
}

/// Writes beside the target and renames over it, so a reader never sees half a file; 0600, since
/// an export quotes real inputs and outputs.
pub(super) fn write_whole(path: &Path, text: &str) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let written = crate::files::create_private(&temp)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temp, path));
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(error).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}
