//! `flightdeck incidents`: the recorded incidents, oldest first.

use std::path::Path;

use crate::incident::store;
use crate::model::Incident;

pub fn run(data_dir: &Path) -> anyhow::Result<()> {
    let ids = store::incident_ids(data_dir)?;
    if ids.is_empty() {
        println!("no incidents in {}", data_dir.join("incidents").display());
        return Ok(());
    }
    println!(
        "{:<22} {:<5} {:<14} {:<21} {:>7}  {:<36} title",
        "id", "sev", "status", "opened (UTC)", "entries", "source"
    );
    for id in ids {
        let loaded = store::load(data_dir, &id)?;
        let Some(incident) = Incident::from_timeline(&loaded.entries) else {
            println!("{id:<22} (timeline does not start with an opening entry)");
            continue;
        };
        let bad = if loaded.bad_lines.is_empty() {
            String::new()
        } else {
            format!("  [{} unreadable lines]", loaded.bad_lines.len())
        };
        let row = format!(
            "{:<22} {:<5} {:<14} {:<21} {:>7}  {:<36} {}{bad}",
            incident.id,
            incident.severity.to_string(),
            incident.status.to_string(),
            incident.opened_at.format("%Y-%m-%d %H:%M:%S"),
            loaded.entries.len(),
            incident.source,
            match (&incident.drill, incident.rehearsal()) {
                (Some(scenario), _) => format!("[drill: {scenario}] {}", incident.title),
                (None, Some(kind)) => format!("[{kind}] {}", incident.title),
                (None, None) => incident.title.clone(),
            }
        );
        println!("{}", crate::visible::escaped(&row));
    }
    Ok(())
}
