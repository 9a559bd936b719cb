//! Where flightdeck keeps its files, and who the user is.

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

/// Where theme overrides live: `<config dir>/themes`.
pub fn theme_dir() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().join("themes"))
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
