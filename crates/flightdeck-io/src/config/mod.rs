//! Where flightdeck keeps its files, what the user's config file says, and who the user is.

pub mod actuators;
pub mod file;
pub mod sources;

use std::path::PathBuf;

use directories::ProjectDirs;

fn project_dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("dev", "flightdeck", "flightdeck")
}

/// The data dir: `--data-dir` / `FLIGHTDECK_DATA_DIR`, else the platform's data dir.
pub fn data_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| project_dirs().map(|d| d.data_dir().to_path_buf()))
        .unwrap_or_else(|| PathBuf::from(".flightdeck"))
}

/// The platform's config dir for flightdeck, where `flightdeck.toml` and `themes/` live.
pub fn config_dir() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().to_path_buf())
}

/// The user's theme file `<config dir>/themes/<name>.toml`, as (path, text), if there is one.
pub fn theme_file(name: &str) -> anyhow::Result<Option<(String, String)>> {
    let Some(path) =
        project_dirs().map(|d| d.config_dir().join("themes").join(format!("{name}.toml")))
    else {
        return Ok(None);
    };
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    Ok(Some((path.display().to_string(), text)))
}

/// The name the timeline records for the user's actions: `FLIGHTDECK_ACTOR`, else the OS user.
pub fn actor() -> String {
    std::env::var("FLIGHTDECK_ACTOR")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| whoami::username().ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether the user asked for no colour (https://no-color.org: any non-empty value).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}
