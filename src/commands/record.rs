//! `flightdeck record`: the OTLP receiver without the screen, writing the calls it understood as
//! JSON lines, so an incident's telemetry can be kept and replayed, and a test can see exactly
//! what the receiver made of what it was sent.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::BadInput;
use crate::cli::RecordArgs;
use crate::config::file::ConfigFile;
use crate::sources::otlp::{self, Received};

/// Batches waiting for the writer; past this the receiver's own queue takes the backlog.
const BATCHES_IN_FLIGHT: usize = 64;

/// How long the exit waits for a decode still running on the blocking pool, whose request was
/// dropped at the shutdown deadline.
const DECODE_GRACE: Duration = Duration::from_millis(300);

pub fn run(config: &ConfigFile, args: &RecordArgs) -> anyhow::Result<()> {
    let runtime = super::async_runtime()?;
    let recorded = runtime.block_on(record(config, args));
    runtime.shutdown_timeout(DECODE_GRACE);
    recorded
}

async fn record(config: &ConfigFile, args: &RecordArgs) -> anyhow::Result<()> {
    let mut settings = config.sources.otlp.clone().unwrap_or_default();
    if let Some(listen) = args.otlp {
        settings.listen = listen;
    }
    let receiver = otlp::bind(&settings).await.map_err(super::receiver_error)?;
    let mut calls_out = JsonLines::create(&args.out)?;
    let mut changes_out = args
        .changes_out
        .as_deref()
        .map(JsonLines::create)
        .transpose()?;
    let stats = receiver.stats();
    eprintln!(
        "flightdeck record: listening on http://{}, writing calls to {}",
        receiver.local_addr(),
        args.out.display()
    );
    if let Some(warning) = receiver.exposure_warning() {
        eprintln!("flightdeck record: {warning}");
    }
    let (sender, mut received) = mpsc::channel(BATCHES_IN_FLIGHT);
    let shutdown = stop_signal(args.duration.map(Duration::from_secs_f64))?;
    let server = tokio::spawn(receiver.serve(sender, shutdown));
    let mut unkept_changes = 0;
    // Ends once the receiver has stopped and handed on everything it held.
    while let Some(batch) = received.recv().await {
        match batch {
            Received::Calls(calls) => calls_out.write_batch(&calls)?,
            Received::Changes(changes) => match changes_out.as_mut() {
                Some(out) => out.write_batch(&changes)?,
                None => unkept_changes += changes.len(),
            },
        }
    }
    server.await.context("the receiver failed")?;
    let mut summary = format!(
        "flightdeck record: received {} calls and {} changes, rejected {}, dropped {}, not LLM calls {}",
        stats.calls(),
        stats.changes(),
        stats.rejected(),
        stats.dropped(),
        stats.skipped()
    );
    if unkept_changes > 0 {
        summary.push_str(&format!(
            " ({unkept_changes} changes not kept: no --changes-out)"
        ));
    }
    if let Some(error) = stats.last_error() {
        summary.push_str(&format!("; last error: {error}"));
    }
    eprintln!("{}", crate::visible::escaped(&summary));
    Ok(())
}

/// Resolves after `duration`, or on SIGINT or SIGTERM.
fn stop_signal(
    duration: Option<Duration>,
) -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    Ok(async move {
        let elapsed = async {
            match duration {
                Some(duration) => tokio::time::sleep(duration).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = elapsed => {}
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

/// A JSON Lines file written a batch at a time.
struct JsonLines {
    path: String,
    writer: BufWriter<File>,
}

impl JsonLines {
    fn create(path: &Path) -> anyhow::Result<Self> {
        // Recorded calls hold real inputs and outputs: the user's alone.
        let file = crate::files::create_private(path)
            .map_err(|error| BadInput(format!("cannot create {}: {error}", path.display())))?;
        Ok(Self {
            path: path.display().to_string(),
            writer: BufWriter::new(file),
        })
    }

    /// Writes the records and flushes, so a reader of the file sees whole batches.
    fn write_batch<T: Serialize>(&mut self, records: &[T]) -> anyhow::Result<()> {
        for record in records {
            serde_json::to_writer(&mut self.writer, record)
                .map_err(std::io::Error::from)
                .and_then(|()| self.writer.write_all(b"\n"))
                .with_context(|| format!("cannot write to {}", self.path))?;
        }
        self.writer
            .flush()
            .with_context(|| format!("cannot write to {}", self.path))
    }
}
