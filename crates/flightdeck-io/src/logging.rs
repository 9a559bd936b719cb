//! Logs go to a file in the data dir, never to the terminal the cockpit owns.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

use crate::files;

/// The log's name: the appender never rotates, so this is the whole file name.
const LOG_FILE: &str = "flightdeck.log";

/// A writer that masks credentials in each event before it reaches the file: a backend's error
/// may quote a url with its password or an echoed Authorization header.
struct MaskedCredentials<W>(W);

impl<W: Write> Write for MaskedCredentials<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let masked = crate::redact::credentials(&String::from_utf8_lossy(buf));
        self.0.write_all(masked.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Starts logging to `<data dir>/logs/flightdeck.log`; keep the guard alive to flush on exit.
pub fn init(data_dir: &Path) -> anyhow::Result<WorkerGuard> {
    let dir = data_dir.join("logs");
    files::create_private_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // The appender creates its file with the umask's mode; made first, the file keeps 0600.
    let path = dir.join(LOG_FILE);
    files::private_options()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|file| files::make_private(&file))
        .with_context(|| format!("cannot open {}", path.display()))?;
    let file = tracing_appender::rolling::Builder::new()
        .filename_prefix(LOG_FILE)
        .build(&dir)
        .with_context(|| format!("cannot open the log file in {}", dir.display()))?;
    let (writer, guard) = tracing_appender::non_blocking(MaskedCredentials(file));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(
            EnvFilter::try_from_env("FLIGHTDECK_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    Ok(guard)
}
