//! `flightdeck export`: an incident's timeline as Markdown or JSON.

use std::path::Path;

use anyhow::Context as _;

use super::BadInput;
use crate::cli::{ExportArgs, ExportFormat};
use crate::incident::{export, store};
use crate::model::Incident;

pub fn run(data_dir: &Path, args: &ExportArgs) -> anyhow::Result<()> {
    let id = if args.incident == "latest" {
        store::incident_ids(data_dir)?.pop().ok_or_else(|| {
            BadInput(format!(
                "no incidents in {}",
                data_dir.join("incidents").display()
            ))
        })?
    } else {
        args.incident.clone()
    };
    let loaded = store::load(data_dir, &id).map_err(|e| BadInput(e.to_string()))?;
    for bad in &loaded.bad_lines {
        eprintln!(
            "warning: {}: line {} skipped: {}",
            store::incident_dir(data_dir, &id)
                .join(store::TIMELINE_FILE)
                .display(),
            bad.line,
            bad.reason
        );
    }
    let incident = Incident::from_timeline(&loaded.entries).ok_or_else(|| {
        BadInput(format!(
            "incident {id}: the timeline does not start with an opening entry"
        ))
    })?;
    let text = match args.format {
        ExportFormat::Md => export::to_markdown(&incident, &loaded.entries),
        ExportFormat::Json => export::to_json(&incident, &loaded.entries),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}
